#!/usr/bin/env bash
# Per-account reads benchmark (issue 15, section 3: per-account reads are
# O(1) in portfolio size).  Builds a portfolio of the demo's size
# (BENCH_DEMO_ACCOUNTS, 2,000) and one of BENCH_ACCOUNTS (1M), each with
# BENCH_DAYS (30) days of usage per account (csm_internal.usage_counter), an NPS
# answer for one account in ten, and refreshed health and churn scores;
# then times reads of one account by external_id: the views
# account_metrics, account_health, churn_risk, usage_daily, health_daily,
# churn_daily, and the per-account functions csm_health_score,
# explain_health, churn_probability, analyze_churn_risk (its segment
# comparison read from csm.churn_benchmark), assess_health (its segment
# benchmark from csm.health_benchmark) and identify_expansion.  Each read
# is run for BENCH_SAMPLES (50) different accounts in one session, after 10
# warm-up reads, planned each time (EXECUTE, as a BI tool sends it); it
# prints the median milliseconds per read at both sizes and their ratio
# (1.00 is O(1)), the shared buffers one read touches (EXPLAIN (ANALYZE,
# BUFFERS), which other work on a shared machine does not change) and
# their ratio, the backend's CPU milliseconds per read (utime and stime of
# /proc/self/stat over the timed reads: steadier than the clock when the
# machine is shared; n/a where the file cannot be read) and their ratio,
# and, at the demo's
# size, the set-based form of account_metrics and usage_daily (what
# csm.distribute() keeps for Citus, and what 0.1.0 ran on one node).
# Targets: <= 5 ms at 2,000 accounts, <= 10 ms at 1M.  Times are reported,
# never asserted.  Runs against PGHOST/PGPORT/PGUSER; BENCH_READS_DB
# (csm_bench_reads), BENCH_KEEP=1 keeps the database.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIG=${BENCH_ACCOUNTS:-1000000}
SMALL=${BENCH_DEMO_ACCOUNTS:-2000}
DAYS=${BENCH_DAYS:-30}
SAMPLES=${BENCH_SAMPLES:-50}
DB=${BENCH_READS_DB:-csm_bench_reads}
WORK=$(mktemp -d -t csm_bench_reads.XXXXXX)
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
trap bench_cleanup EXIT

READS=(
  "account_metrics|SELECT * FROM csm.account_metrics WHERE external_id = %L"
  "account_health|SELECT * FROM csm.account_health WHERE external_id = %L"
  "churn_risk|SELECT * FROM csm.churn_risk WHERE external_id = %L"
  "usage_daily|SELECT * FROM csm.usage_daily WHERE external_id = %L"
  "health_daily|SELECT * FROM csm.health_daily WHERE external_id = %L"
  "churn_daily|SELECT * FROM csm.churn_daily WHERE external_id = %L"
  "csm_health_score()|SELECT csm.csm_health_score(%L)"
  "explain_health()|SELECT * FROM csm.explain_health(%L)"
  "churn_probability()|SELECT csm.churn_probability(%L)"
  "analyze_churn_risk()|SELECT csm.analyze_churn_risk(%L)"
  "assess_health()|SELECT csm.assess_health(%L, daterange(current_date - 30, current_date + 1))"
  "identify_expansion()|SELECT csm.identify_expansion(%L)"
)

# build N: a fresh portfolio of N accounts
build() {
    local n=$1
    bench_setup
    sql <<SQL
CREATE EXTENSION csm CASCADE;
CREATE TABLE public.bench_events (org text, at timestamptz, who text);
SELECT csm.track_usage('public.bench_events', 'org', 'at', user_column => 'who');
INSERT INTO csm.account (external_id, name, segment, arr, seats, started_at, renewal_date)
SELECT 'acct_' || g, 'Account ' || g, (ARRAY['smb', 'mid_market', 'enterprise'])[1 + g % 3], 1000 + g % 50000,
       5 + g % 100, current_date - 400 - g % 300, current_date + g % 365
FROM generate_series(1, $n) g;
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT a.account_id, (SELECT source_id FROM csm.usage_source), current_date - d,
       1 + (a.account_id * 7 + d * 13) % 200, 1 + (a.account_id + d) % 5
FROM csm.account a CROSS JOIN generate_series(0, $DAYS - 1) d;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT a.account_id, now() - (a.account_id % 60) * interval '1 day', a.account_id % 11
FROM csm.account a WHERE a.account_id % 10 = 0;
VACUUM ANALYZE;
SELECT csm.refresh_health();
SELECT csm.refresh_churn();
VACUUM ANALYZE;
SQL
}

# time NAME QUERY: median ms per read over SAMPLES accounts spread over the portfolio
time_read() {
    sql <<SQL
-- the backend's CPU clock ticks so far (user and system), NULL where
-- /proc/self/stat cannot be read (not Linux, or not a superuser)
CREATE FUNCTION pg_temp.cpu_ticks() RETURNS bigint LANGUAGE plpgsql AS \$f\$
DECLARE
    f text[];
BEGIN
    f := string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ');
    RETURN f[12]::bigint + f[13]::bigint;  -- fields 14 and 15, counted after the name
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END \$f\$;
DO \$\$
DECLARE
    ids text[] := ARRAY(SELECT a.external_id FROM csm.account a
                        ORDER BY (a.account_id * 2654435761) % 4294967291 LIMIT $SAMPLES);
    id text;
    t0 timestamptz;
    r record;
    ms float8[] := '{}';
    plan json;
    ticks bigint;
BEGIN
    -- warm: a session's first calls of a function plan its statements
    -- (PL/pgSQL caches a generic plan from about the sixth), as a BI
    -- tool's or a pooler's long-lived server session has done long before
    FOREACH id IN ARRAY ids[1:10] LOOP EXECUTE format(\$q\$$2\$q\$, id); END LOOP;
    ticks := pg_temp.cpu_ticks();
    FOREACH id IN ARRAY ids LOOP
        t0 := clock_timestamp();
        FOR r IN EXECUTE format(\$q\$$2\$q\$, id) LOOP END LOOP;
        ms := ms || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
    END LOOP;
    ticks := pg_temp.cpu_ticks() - ticks;
    -- the median read: steadier than the mean when other work shares the machine
    RAISE WARNING 'ms %', (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 3) FROM unnest(ms) x);
    RAISE WARNING 'cpu %', coalesce(round(ticks * 1000.0 / $CLK_TCK / $SAMPLES, 3)::text, 'n/a');
    -- and the shared buffers one read touches (functions' statements
    -- included), which no other work on the machine changes
    EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ' || format(\$q\$$2\$q\$, ids[1]) INTO plan;
    RAISE WARNING 'buffers %', (plan -> 0 -> 'Plan' ->> 'Shared Hit Blocks')::bigint
                               + (plan -> 0 -> 'Plan' ->> 'Shared Read Blocks')::bigint;
END \$\$;
SQL
}
# ms NAME QUERY: "MS CPU_MS BUFFERS"
ms() { time_read "$@" 2>&1 | sed -n 's/.*WARNING:  \(ms\|cpu\|buffers\) //p' | paste -sd ' '; }

CLK_TCK=$(getconf CLK_TCK)
declare -A small big small_buf big_buf small_cpu big_cpu
echo "== csm per-account reads benchmark: $SMALL and $BIG accounts, $DAYS days of usage each, $SAMPLES accounts per read"
echo "(the machine may be shared: compare the ratios of one run, not times across runs)"
for size in "$SMALL" "$BIG"; do
    started=$(date +%s)
    build "$size" >/dev/null
    echo "built $size accounts in $(( $(date +%s) - started )) s"
    for r in "${READS[@]}"; do
        name=${r%%|*}; q=${r#*|}
        read -r v c b <<<"$(ms "$name" "$q")"
        if [ "$size" = "$SMALL" ]; then small[$name]=$v small_cpu[$name]=$c small_buf[$name]=$b
        else big[$name]=$v big_cpu[$name]=$c big_buf[$name]=$b; fi
        echo "run  $size accounts  $name  $v ms  $c ms CPU  $b buffers"
    done
    if [ "$size" = "$SMALL" ]; then
        sql -c 'SELECT csm_internal._account_metrics_view(false), csm_internal._usage_daily_views(false)' >/dev/null
        setm=$(ms set_metrics "SELECT * FROM csm.account_metrics WHERE external_id = %L" | cut -d' ' -f1)
        setu=$(ms set_usage "SELECT * FROM csm.usage_daily WHERE external_id = %L" | cut -d' ' -f1)
        sql -c 'SELECT csm_internal._account_metrics_view(true), csm_internal._usage_daily_views(true)' >/dev/null
        echo "run  $size accounts  account_metrics (set-based form)  $setm ms"
        echo "run  $size accounts  usage_daily (set-based form)  $setu ms"
    fi
done

echo
row='%-22s %10s %10s %6s %10s %10s %6s %10s %10s %6s\n'
printf "$row" read "ms@$SMALL" "ms@$BIG" ratio "cpu@$SMALL" "cpu@$BIG" ratio "buf@$SMALL" "buf@$BIG" ratio
for r in "${READS[@]}"; do
    name=${r%%|*}
    printf "$row" "$name" "${small[$name]}" "${big[$name]}" "$(ratio "${big[$name]}" "${small[$name]}")" \
        "${small_cpu[$name]}" "${big_cpu[$name]}" "$(ratio "${big_cpu[$name]}" "${small_cpu[$name]}")" \
        "${small_buf[$name]}" "${big_buf[$name]}" "$(ratio "${big_buf[$name]}" "${small_buf[$name]}")"
done
printf 'set-based form @ %s: account_metrics %s ms (%sx the per-account form), usage_daily %s ms (%sx)\n' "$SMALL" \
    "$setm" "$(ratio "$setm" "${small[account_metrics]}")" "$setu" "$(ratio "$setu" "${small[usage_daily]}")"
