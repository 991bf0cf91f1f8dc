#!/usr/bin/env bash
# Lifecycle benchmark (issue 13: refresh_lifecycle() over 1M accounts at
# most 2x a bare INSERT ... SELECT of the same row count).
#
# Accounts started over the last three years (about one in twelve in its
# first 90 days, so the success criteria are measured for those), renewal
# dates over the next year, some churned, a health score each, NPS answers
# and milestones for the onboarding ones.  The accounts are loaded as
# history (created_at in the past), so the triggers leave them to the
# refresh.  Then, each after VACUUM, CHECKPOINT and sync:
#
#   empty     csm.refresh_lifecycle() with no lifecycle state yet: every
#             account gets its stage (csm.account_lifecycle, one
#             csm.lifecycle_history row, csm.account.lifecycle_stage);
#   floor     INSERT ... SELECT * of the rows it wrote, into tables of the
#             same shape (the bare insert of the same row count), and the
#             bare UPDATE of csm.account's column for the same accounts, on a
#             copy of the column (and, for comparison, on a full copy of
#             csm.account with its indexes and checks, no triggers);
#             with BENCH_REPEATS=N, empty and floor run N times in turn (the
#             state emptied, csm.account rewritten as loaded, in between)
#             and the ratios are of the medians;
#   in_place  csm.refresh_lifecycle() again: nothing moves (the daily run on
#             a day nobody changes stage), against a bare scan-and-compare
#             floor, a SELECT of the same facts;
#   day       a day later for 10% of the accounts (their started_at and
#             renewal_date moved back a day with the triggers off): the
#             refresh moves those whose phase or stage changes.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER.  Ratios are reported,
# never asserted.  Knobs: BENCH_ACCOUNTS (1000000), BENCH_REPEATS (1),
# BENCH_LIFECYCLE_DB (csm_bench_lifecycle), BENCH_KEEP=1 keeps the database.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
REPEATS=${BENCH_REPEATS:-1}
DB=${BENCH_LIFECYCLE_DB:-csm_bench_lifecycle}
PARTS=all
WORK=$(mktemp -d -t csm_bench_lifecycle.XXXXXX)
started=$(date +%s)
declare -A result cpu

export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
cleanup() { bench_cleanup; }
trap cleanup EXIT

echo "== csm lifecycle benchmark: $ROWS accounts"
bench_setup
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus; every session max_parallel_workers_per_gather=0"

t0=$(date +%s)
sql -c 'CREATE EXTENSION csm' >/dev/null
sql <<SQL
INSERT INTO csm.account (external_id, arr, seats, started_at, renewal_date, status, created_at)
SELECT 'acct_' || i, 1000 + (i::bigint * 7919) % 200000, 5 + i % 300,
       now() - make_interval(days => (i * 37) % 1095), current_date + (i * 53) % 365,
       CASE WHEN i % 17 = 0 THEN 'churned' ELSE 'active' END, now() - interval '3 years'
FROM generate_series(1, $ROWS) i;
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
SELECT a.account_id, 'default', 1, s, csm.health_band(s), 1, '{}', '{}', '{}', '{}', now()
FROM csm.account a, LATERAL (SELECT (a.account_id * 31 % 100)::float8 AS s) x;
INSERT INTO csm.nps_response (account_id, score, responded_at)
SELECT a.account_id, a.account_id % 11, now() - interval '1 day'
FROM csm.account a WHERE a.started_at > now() - interval '90 days';
INSERT INTO csm.account_milestone (account_id, milestone, achieved_at, source, recorded_by)
SELECT a.account_id, m, a.started_at + interval '5 days', 'manual', current_user
FROM csm.account a, unnest(ARRAY['kickoff_call_held', 'key_features_activated']) m
WHERE a.started_at > now() - interval '90 days' AND a.started_at < now() - interval '5 days';
CREATE SCHEMA bench;
CREATE TABLE bench.floor_lifecycle (LIKE csm.account_lifecycle INCLUDING ALL);
CREATE TABLE bench.floor_history (LIKE csm.lifecycle_history INCLUDING ALL);
CREATE TABLE bench.floor_account AS SELECT account_id, lifecycle_stage FROM csm.account;
ALTER TABLE bench.floor_account ADD PRIMARY KEY (account_id);
CREATE TABLE bench.floor_account_wide (LIKE csm.account INCLUDING ALL);
INSERT INTO bench.floor_account_wide SELECT * FROM csm.account;
VACUUM (FREEZE, ANALYZE) csm.account, csm.health_score, csm.nps_response, csm.account_milestone, bench.floor_account_wide;
SQL
echo "data: made in $(( $(date +%s) - t0 )) s; $(sql -c "SELECT format('%s accounts, %s in their first 90 days, %s churned',
    count(*), count(*) FILTER (WHERE started_at > now() - interval '91 days'), count(*) FILTER (WHERE status = 'churned'))
    FROM csm.account")"

# round N of the first refresh and its floors (values kept in result[key_N], cpu[key_N])
first_round() {
    local n=$1
    if [ "$n" -gt 1 ]; then
        # back to no state, csm.account as loaded (its rows packed, the stage empty)
        sql -c 'TRUNCATE csm.account_lifecycle, csm.lifecycle_history, bench.floor_lifecycle, bench.floor_history RESTART IDENTITY' \
            -c 'ALTER TABLE csm.account DISABLE TRIGGER USER' -c 'UPDATE csm.account SET lifecycle_stage = NULL' \
            -c 'ALTER TABLE csm.account ENABLE TRIGGER USER' -c 'UPDATE bench.floor_account SET lifecycle_stage = NULL' \
            -c 'UPDATE bench.floor_account_wide SET lifecycle_stage = NULL' \
            -c 'VACUUM FULL csm.account' -c 'VACUUM FULL bench.floor_account' -c 'VACUUM FULL bench.floor_account_wide' \
            -c 'VACUUM (FREEZE, ANALYZE) csm.account, bench.floor_account, bench.floor_account_wide, csm.account_lifecycle, csm.lifecycle_history'
    fi
    settle
    cpu_timed "empty_$n" 'SELECT csm.refresh_lifecycle();'
    echo "run refresh_lifecycle state=empty round=$n seconds=${result[empty_$n]} backend_cpu=${cpu[empty_$n]:-n/a}"
    echo "check: $(sql -c "SELECT string_agg(format('%s %s', stage, n), ', ' ORDER BY stage) FROM
        (SELECT stage, count(*) n FROM csm.account_lifecycle GROUP BY stage) x"); history $(sql -c 'SELECT count(*) FROM csm.lifecycle_history') rows"

    sql -c 'VACUUM ANALYZE csm.account_lifecycle, csm.lifecycle_history, csm.account'
    settle
    cpu_timed "floor_insert_$n" 'INSERT INTO bench.floor_lifecycle SELECT * FROM csm.account_lifecycle;' \
                                'INSERT INTO bench.floor_history SELECT * FROM csm.lifecycle_history;'
    echo "run floor_insert round=$n tables=account_lifecycle,lifecycle_history seconds=${result[floor_insert_$n]} backend_cpu=${cpu[floor_insert_$n]:-n/a}"
    settle
    cpu_timed "floor_update_$n" 'UPDATE bench.floor_account f SET lifecycle_stage = a.lifecycle_stage FROM csm.account a WHERE a.account_id = f.account_id;'
    echo "run floor_update round=$n table=account(copy) seconds=${result[floor_update_$n]} backend_cpu=${cpu[floor_update_$n]:-n/a}"
    settle
    cpu_timed "floor_update_wide_$n" 'UPDATE bench.floor_account_wide f SET lifecycle_stage = a.lifecycle_stage, updated_at = now() FROM csm.account a WHERE a.account_id = f.account_id;'
    echo "run floor_update round=$n table=account(full copy) seconds=${result[floor_update_wide_$n]} backend_cpu=${cpu[floor_update_wide_$n]:-n/a}"
}
# the median of result[key_1..N] (or cpu[...]) into result[key] (cpu[key]); empty when one is
median_of() {
    local key=$1 n w
    w=$(for n in $(seq "$REPEATS"); do echo "${result[${key}_$n]}"; done)
    result[$key]=$(median <<<"$w")
    w=$(for n in $(seq "$REPEATS"); do echo "${cpu[${key}_$n]:-}"; done)
    if grep -qx '' <<<"$w"; then cpu[$key]=; else cpu[$key]=$(median <<<"$w"); fi
}
for round in $(seq "$REPEATS"); do first_round "$round"; done
for key in empty floor_insert floor_update floor_update_wide; do median_of "$key"; done
# the insert floor plus the UPDATE floor, in both measures
result[floor_both]=$(add "${result[floor_insert]}" "${result[floor_update]}")
[ -n "${cpu[floor_insert]}" ] && [ -n "${cpu[floor_update]}" ] && cpu[floor_both]=$(add "${cpu[floor_insert]}" "${cpu[floor_update]}")
result[floor_both_wide]=$(add "${result[floor_insert]}" "${result[floor_update_wide]}")
[ -n "${cpu[floor_insert]}" ] && [ -n "${cpu[floor_update_wide]}" ] && cpu[floor_both_wide]=$(add "${cpu[floor_insert]}" "${cpu[floor_update_wide]}")

sql -c 'VACUUM ANALYZE csm.account_lifecycle, csm.lifecycle_history, csm.account'
settle
cpu_timed in_place 'SELECT csm.refresh_lifecycle();'
echo "run refresh_lifecycle state=in_place seconds=${result[in_place]} backend_cpu=${cpu[in_place]:-n/a}"
settle
cpu_timed floor_compare "SELECT count(*) FROM csm.account a JOIN csm.account_lifecycle l USING (account_id)
             LEFT JOIN csm.health_score h USING (account_id)
             WHERE l.stage IS DISTINCT FROM CASE WHEN a.status = 'churned' THEN 'churned'
                   WHEN h.band = 'green' THEN 'growth' ELSE 'adoption' END::csm.lifecycle_stage;"
echo "run floor_compare seconds=${result[floor_compare]} backend_cpu=${cpu[floor_compare]:-n/a}"

# A day passes for one account in ten.
sql -c 'ALTER TABLE csm.account DISABLE TRIGGER USER' \
    -c "UPDATE csm.account SET started_at = started_at - interval '1 day', renewal_date = renewal_date - 1 WHERE account_id % 10 = 0" \
    -c 'ALTER TABLE csm.account ENABLE TRIGGER USER' -c 'VACUUM ANALYZE csm.account'
settle
cpu_timed day 'SELECT csm.refresh_lifecycle();'
moved=$(sql -c "SELECT count(*) FROM csm.lifecycle_history WHERE entered_at > now() - interval '10 minutes' AND history_id > $ROWS")
echo "run refresh_lifecycle state=day_later seconds=${result[day]} backend_cpu=${cpu[day]:-n/a} moved=$moved"

echo "== results (lower is better; wall seconds, then the backends' CPU seconds measured in the same run)"
echo "refresh_lifecycle $ROWS accounts (no state yet and its floors: median of $REPEATS; the others 1 run each):"
echo "  floor, INSERT..SELECT * of the rows it wrote (account_lifecycle + lifecycle_history): $(secs "${result[floor_insert]}") s${cpu[floor_insert]:+ (CPU ${cpu[floor_insert]} s)}"
echo "  refresh_lifecycle with no state yet: $(secs "${result[empty]}") s ($(ratio "${result[empty]}" "${result[floor_insert]}")x that floor$(cpu_ratio empty floor_insert); target <= 2x)"
echo "  the floor with the UPDATE of the stage column too ($(secs "${result[floor_update]}") s${cpu[floor_update]:+, CPU ${cpu[floor_update]} s} on a copy of the column):" \
     "$(ratio "${result[empty]}" "${result[floor_both]}")x$(cpu_ratio empty floor_both)"
echo "  the same with the UPDATE on a full copy of csm.account ($(secs "${result[floor_update_wide]}") s${cpu[floor_update_wide]:+, CPU ${cpu[floor_update_wide]} s}):" \
     "$(ratio "${result[empty]}" "${result[floor_both_wide]}")x$(cpu_ratio empty floor_both_wide)"
echo "  refresh_lifecycle again, nothing moves: $(secs "${result[in_place]}") s ($(ratio "${result[in_place]}" "${result[floor_insert]}")x the insert floor$(cpu_ratio in_place floor_insert);" \
     "$(ratio "${result[in_place]}" "${result[floor_compare]}")x a bare scan-and-compare of the same accounts, $(secs "${result[floor_compare]}") s$(cpu_ratio in_place floor_compare))"
echo "  refresh_lifecycle a day later for 10%: $(secs "${result[day]}") s ($(ratio "${result[day]}" "${result[floor_insert]}")x the insert floor$(cpu_ratio day floor_insert))"
echo "elapsed: $(( $(date +%s) - started )) s"
