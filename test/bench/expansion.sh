#!/usr/bin/env bash
# Expansion benchmark: csm.refresh_expansion() over BENCH_ACCOUNTS accounts
# (1M by default) against PostgreSQL's floor, a bare INSERT ... SELECT of
# the same rows into a table of the same shape, in one run:
#
#   data     every account has 60 days of rollups in two windows (a day of
#            events per window, users on those days, features on those
#            days), a health score and, for a third, an NPS answer; the
#            numbers are drawn so that seven accounts in ten show
#            an expansion signal (every kind represented).
#   refresh  csm.refresh_expansion() into an empty csm.expansion_signal,
#            then again in place (every signal seen again), then
#            csm.expansion_signals_at() alone (detection, no writes).
#   floors   (a) INSERT ... SELECT of the rows refresh wrote (read back
#            from csm.expansion_signal) into bench.floor_signal, a table
#            with the same columns, primary key and partial unique index;
#            (b) the same for one row per account (as many rows as the
#            refresh examined), built from csm.account.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (make bench starts one
# with pg_virtualenv).  Prints one "run" line per timed run, "check" lines,
# and a summary of ratios; ratios are reported, never asserted.  Exits
# non-zero only when the refresh and the detection disagree.
#
# Knobs (environment): BENCH_ACCOUNTS (1000000), BENCH_EXPANSION_DB
# (csm_bench_expansion), BENCH_KEEP=1 keeps the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
DB=${BENCH_EXPANSION_DB:-csm_bench_expansion}
PARTS=refresh
WORK=$(mktemp -d -t csm_bench_expansion.XXXXXX)
failed=0
started=$(date +%s)
declare -A result cpu

# One backend per query, no parallel workers: the ratios compare work.
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh

cleanup() { bench_cleanup; }
trap cleanup EXIT

echo "== csm expansion benchmark"
bench_setup
echo "settings: ALTER SYSTEM max_wal_size=4GB, autovacuum=off (reset at exit); every session max_parallel_workers_per_gather=0"
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus"

t0=$(date +%s)
sql -c 'CREATE EXTENSION csm' >/dev/null
sql <<SQL
CREATE SCHEMA bench;
CREATE TABLE bench.floor_signal (LIKE csm.expansion_signal INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bench.floor_signal ADD PRIMARY KEY (account_id, signal, first_seen_at);
CREATE UNIQUE INDEX ON bench.floor_signal (account_id, signal) WHERE cleared_at IS NULL;
INSERT INTO csm.usage_source (source_id, relation, account_column, time_column, event_column, user_column)
VALUES (1, 'csm.account', 'external_id', 'created_at', 'name', 'name');
-- accounts: i % 10 picks the shape; seats 10, some properties
INSERT INTO csm.account (account_id, external_id, arr, seats, started_at, renewal_date, properties)
SELECT i, 'b' || i, 1000 + (i % 97) * 500, 10, now() - interval '400 days', current_date + (i % 365),
       CASE i % 10 WHEN 3 THEN '{"usage_cap": 100}'::jsonb WHEN 4 THEN '{"seats_used": 9}' ELSE '{}' END
FROM generate_series(1, $ROWS) AS i;
-- a day of events in each window: 40 events 45 days ago, 40 (or 120 for
-- shape 3, over its cap of 100; or 1000 for shape 5, its 1000th event) 5 days ago
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT i, 1, current_date - d, CASE WHEN d = 5 AND i % 10 = 3 THEN 120 WHEN d = 5 AND i % 10 = 5 THEN 1000 ELSE 40 END, NULL
FROM generate_series(1, $ROWS) AS i, (VALUES (45), (5)) AS v(d);
-- users: 5 on each day; shape 1 has 9 of its 10 seats in use (8 + 1 new:
-- also +80% growth); shape 2 grew from 5 to 6
INSERT INTO csm_internal.usage_user_day (account_id, source_id, day, user_key, events)
SELECT i, 1, current_date - d, 'u' || u, 8
FROM generate_series(1, $ROWS) AS i, (VALUES (45), (5)) AS v(d), generate_series(1, 9) AS u
WHERE u <= CASE WHEN d = 45 THEN 5 WHEN i % 10 = 1 THEN 9 WHEN i % 10 = 2 THEN 6 ELSE 5 END;
-- features: f1, f2 on both days; shape 6 adds f3 5 days ago
INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
SELECT i, 1, current_date - d, 'f' || f, 20
FROM generate_series(1, $ROWS) AS i, (VALUES (45), (5)) AS v(d), generate_series(1, 3) AS f
WHERE f <= 2 OR (d = 5 AND i % 10 = 6);
-- health yesterday for every account (95 for shape 7, else 75), a 10 from shapes 7-9
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT i, current_date - 1, 'default', 1, CASE WHEN i % 10 = 7 THEN 95 ELSE 75 END,
       CASE WHEN i % 10 = 7 THEN 'green' ELSE 'yellow' END::csm.health_band, 1, now()
FROM generate_series(1, $ROWS) AS i;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT i, now() - interval '20 days', 10 FROM generate_series(1, $ROWS) AS i WHERE i % 10 >= 7;
SQL
sql -c 'VACUUM (FREEZE, ANALYZE)' >/dev/null
echo "data: $ROWS accounts, $(sql -c "SELECT format('usage_counter %s, usage_user_day %s, usage_feature_counter %s, health_history %s, nps_response %s rows',
    (SELECT count(*) FROM csm_internal.usage_counter), (SELECT count(*) FROM csm_internal.usage_user_day),
    (SELECT count(*) FROM csm_internal.usage_feature_counter), (SELECT count(*) FROM csm.health_history),
    (SELECT count(*) FROM csm.nps_response))"), made in $(( $(date +%s) - t0 )) s"

echo "== refresh: csm.refresh_expansion() into an empty table, then in place; detection alone; the floors once each"
settle
cpu_timed refresh.empty "SELECT * FROM csm.refresh_expansion();"
echo "run refresh_expansion state=empty seconds=${result[refresh.empty]} backend_cpu=${cpu[refresh.empty]:-n/a}"
written=$(sql -c 'SELECT count(*) FROM csm.expansion_signal')
echo "check refresh: $written signals written for $ROWS accounts: $(sql -c "SELECT string_agg(signal || ' ' || n, ', ' ORDER BY signal)
    FROM (SELECT signal, count(*) AS n FROM csm.expansion_signal GROUP BY signal) s")"
settle
cpu_timed refresh.in_place "SELECT * FROM csm.refresh_expansion();"
echo "run refresh_expansion state=in_place seconds=${result[refresh.in_place]} backend_cpu=${cpu[refresh.in_place]:-n/a}"
cpu_timed detect "SELECT count(*) FROM csm.expansion_signals_at(now());"
echo "run expansion_signals_at seconds=${result[detect]} backend_cpu=${cpu[detect]:-n/a}"
bad=$(sql -c "SELECT count(*) FROM (SELECT account_id, signal FROM csm.expansion_signal WHERE cleared_at IS NULL
                                    EXCEPT SELECT account_id, signal FROM csm.expansion_signals_at(now())) x")
if [ "$bad" != 0 ]; then echo "check: $bad open signals DISAGREE with detection"; failed=1; else echo "check: the open signals are those detected"; fi

sql -c 'VACUUM (ANALYZE) csm.expansion_signal' -c 'TRUNCATE bench.floor_signal'
settle
cpu_timed floor.written 'INSERT INTO bench.floor_signal SELECT * FROM csm.expansion_signal;'
echo "run floor_insert rows=$written seconds=${result[floor.written]} backend_cpu=${cpu[floor.written]:-n/a}"
sql -c 'TRUNCATE bench.floor_signal'
settle
cpu_timed floor.accounts "INSERT INTO bench.floor_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
             SELECT a.account_id, 'plan_limit', now(), now(), jsonb_build_object('limits', jsonb_build_array(jsonb_build_object('limit', 'seats', 'used', a.seats, 'cap', a.seats)))
             FROM csm.account a;"
echo "run floor_insert rows=$ROWS seconds=${result[floor.accounts]} backend_cpu=${cpu[floor.accounts]:-n/a}"

echo "== results (lower is better)"
echo "refresh_expansion over $ROWS accounts, $written signals (1 run each):"
echo "  floor (a), INSERT..SELECT of the $written rows refresh wrote: $(secs "${result[floor.written]}") s${cpu[floor.written]:+ (CPU ${cpu[floor.written]} s)}"
echo "  floor (b), INSERT..SELECT of $ROWS rows, one per account: $(secs "${result[floor.accounts]}") s${cpu[floor.accounts]:+ (CPU ${cpu[floor.accounts]} s)}"
echo "  refresh_expansion into an empty table: $(secs "${result[refresh.empty]}") s" \
     "($(ratio "${result[refresh.empty]}" "${result[floor.written]}")x floor a, $(ratio "${result[refresh.empty]}" "${result[floor.accounts]}")x floor b$(cpu_ratio refresh.empty floor.written) floor a; target <= 2x)"
echo "  refresh_expansion in place: $(secs "${result[refresh.in_place]}") s" \
     "($(ratio "${result[refresh.in_place]}" "${result[floor.written]}")x floor a, $(ratio "${result[refresh.in_place]}" "${result[floor.accounts]}")x floor b$(cpu_ratio refresh.in_place floor.written) floor a)"
echo "  of which detection (expansion_signals_at alone): $(secs "${result[detect]}") s$(cpu_ratio detect floor.written) floor a"
echo "elapsed: $(( $(date +%s) - started )) s"
exit "$failed"
