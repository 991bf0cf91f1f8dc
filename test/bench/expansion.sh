#!/usr/bin/env bash
# Expansion benchmark: csm.refresh_expansion() over BENCH_ACCOUNTS accounts
# (1M by default) against PostgreSQL's floor, a bare INSERT ... SELECT of
# every row it writes into tables of the same shape, in one run:
#
#   data     every account has 60 days of rollups in two windows (a day of
#            events per window, users on those days, features on those
#            days), a health score and, for a third, an NPS answer; the
#            numbers are drawn so that seven accounts in ten show
#            an expansion signal (every kind represented).
#   refresh  csm.refresh_expansion() into an empty csm.expansion_signal,
#            then again in place (every signal seen again), then
#            csm.expansion_signals_at() alone (detection, no writes).
#   floor    a bare INSERT ... SELECT of every row the first refresh wrote
#            (signals, the usage_milestone and plan_limit alerts, the CTAs
#            and tasks of the playbooks they fire), read back from csm's
#            tables into tables of the same shape, indexes included (CREATE
#            TABLE ... LIKE: no foreign keys, no triggers, no ON CONFLICT),
#            as test/bench/renewal.sh does; the target: the refresh at most
#            2x it.  The signals' part alone is printed too.
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
CREATE TABLE bench.expansion_signal (LIKE csm.expansion_signal INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.alert (LIKE csm.alert INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.cta (LIKE csm.cta INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.task (LIKE csm.task INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
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

# The floor writes the very rows the first refresh wrote, read back from its tables.
others=$(sql -c "SELECT format('%s alerts, %s CTAs, %s tasks', (SELECT count(*) FROM csm.alert),
    (SELECT count(*) FROM csm.cta), (SELECT count(*) FROM csm.task))")
echo "check refresh: besides the signals, $others"
sql -c 'VACUUM (ANALYZE) csm.expansion_signal, csm.alert, csm.cta, csm.task'
settle
cpu_timed floor_signal 'INSERT INTO bench.expansion_signal SELECT * FROM csm.expansion_signal;'
echo "run floor_insert tables=expansion_signal rows=$written seconds=${result[floor_signal]} backend_cpu=${cpu[floor_signal]:-n/a}"
settle
cpu_timed floor_rest 'INSERT INTO bench.alert SELECT * FROM csm.alert;' \
                     'INSERT INTO bench.cta SELECT * FROM csm.cta;' 'INSERT INTO bench.task SELECT * FROM csm.task;'
echo "run floor_insert tables=alert,cta,task seconds=${result[floor_rest]} backend_cpu=${cpu[floor_rest]:-n/a}"
result[floor]=$(add "${result[floor_signal]}" "${result[floor_rest]}")
[ -n "${cpu[floor_signal]}" ] && [ -n "${cpu[floor_rest]}" ] && cpu[floor]=$(add "${cpu[floor_signal]}" "${cpu[floor_rest]}")

echo "== results (lower is better; one run each, on a machine shared with other work; wall seconds, then the backends' CPU seconds measured in the same run)"
echo "refresh_expansion over $ROWS accounts, $written signals:"
echo "  floor, INSERT ... SELECT of every row the first refresh wrote: $(secs "${result[floor]}") s${cpu[floor]:+ (CPU ${cpu[floor]} s)}: the $written signals $(secs "${result[floor_signal]}") s${cpu[floor_signal]:+ (CPU ${cpu[floor_signal]} s)}, $others $(secs "${result[floor_rest]}") s${cpu[floor_rest]:+ (CPU ${cpu[floor_rest]} s)}"
echo "  first refresh (signals, alerts, playbooks): $(secs "${result[refresh.empty]}") s ($(ratio "${result[refresh.empty]}" "${result[floor]}")x the floor$(cpu_ratio refresh.empty floor); target <= 2x)"
echo "  in place (every signal seen again, nothing raised or cleared): $(secs "${result[refresh.in_place]}") s ($(ratio "${result[refresh.in_place]}" "${result[floor]}")x the floor$(cpu_ratio refresh.in_place floor))"
echo "  detection alone (expansion_signals_at): $(secs "${result[detect]}") s ($(ratio "${result[detect]}" "${result[floor]}")x the floor$(cpu_ratio detect floor))"
only() { echo "$(ratio "${result[$1]}" "${result[floor_signal]}")x${cpu[$1]:+ (CPU $(ratio "${cpu[$1]}" "${cpu[floor_signal]:-}")x)}"; }
echo "  against the signals' floor alone: first refresh $(only refresh.empty), in place $(only refresh.in_place), detection $(only detect)"
echo "elapsed: $(( $(date +%s) - started )) s"
exit "$failed"
