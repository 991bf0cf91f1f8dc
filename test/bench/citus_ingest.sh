#!/usr/bin/env bash
# Ingest on Citus: what csm.track_usage() costs a distributed event table.
# Starts a throwaway 3-node cluster (test/citus/cluster.sh: a coordinator and
# two workers on 127.0.0.1), creates csm, runs csm.distribute(), and loads the
# same events into two tables distributed by their own text key
# (create_distributed_table('...', 'org_user_id')), one tracked and one not:
#
#   bulk        INSERT ... SELECT of BENCH_ROWS events from a colocated
#               source table (pushed down to the workers), BENCH_REPEATS
#               rounds, tables alternating, median per table
#   concurrent  pgbench, one single-row INSERT per transaction, BENCH_CLIENTS
#               clients, 10 hot accounts, BENCH_SECONDS each
#
# then checks that every account-day of the tracked table's rollup equals its
# rows, and prints tracked / untracked ratios measured in this run (target
# <= 1.5x the time, >= 0.67x the throughput), of the clock and of the CPU
# the three servers spent (cluster_cpu, test/bench/lib.sh: steadier on a
# shared machine).  Ratios are reported, never
# asserted: it exits non-zero only when a rollup disagrees with its rows or
# a load fails.
#
# Knobs (environment): BENCH_CITUS_DIR (a new temporary directory),
# BENCH_CITUS_PORT (5650: coordinator; workers on the next two ports),
# BENCH_ROWS (1000000), BENCH_REPEATS (3), BENCH_CLIENTS (8), BENCH_THREADS
# (2), BENCH_SECONDS (15), BENCH_DB (csm_bench), BENCH_KEEP=1 leaves the
# cluster running.  PG_CONFIG names the PostgreSQL (with Citus) to use.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ROWS:-1000000}
REPEATS=${BENCH_REPEATS:-3}
CLIENTS=${BENCH_CLIENTS:-8}
THREADS=${BENCH_THREADS:-2}
SECONDS_PER_RUN=${BENCH_SECONDS:-15}
PORT=${BENCH_CITUS_PORT:-5650}
DB=${BENCH_DB:-csm_bench}
DIR=${BENCH_CITUS_DIR:-$(mktemp -d -t csm_bench_citus.XXXXXX)}
COLS="org_user_id, user_id, event, occurred_at"
PARTS=${BENCH_PARTS:-bulk concurrent}
WORK=$(mktemp -d -t csm_bench_citus_work.XXXXXX)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR:-15}/bin/pg_config}
export PG_CONFIG PATH="$("$PG_CONFIG" --bindir):$PATH"
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
failed=0
declare -A result

. test/bench/lib.sh

cleanup() {
    if [ "${BENCH_KEEP:-0}" != 1 ]; then
        test/citus/cluster.sh stop "$DIR" || true
        [ -n "${BENCH_CITUS_DIR:-}" ] || rm -rf "$DIR"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== csm ingest benchmark on Citus"
test/citus/cluster.sh start "$DIR" "$PORT" "$DB"
echo "cluster: coordinator 127.0.0.1:$PORT, workers :$((PORT + 1)) :$((PORT + 2)), data in $DIR"
echo "server: $(sql -c 'SELECT version()'); citus $(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'");" \
     "$(nproc) cpus; load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
PGOPTIONS='-c client_min_messages=warning' sql -c 'CREATE EXTENSION csm' -c 'SELECT count(*) FROM csm.distribute()' >/dev/null

# The tables: the untracked floor, the tracked copy (tracked after it is
# distributed, as a user would add csm to a running cluster), and the
# source, colocated with both so INSERT ... SELECT runs on the workers.
PGOPTIONS='-c client_min_messages=warning' sql <<'SQL' >/dev/null
CREATE SCHEMA bench;
CREATE TABLE bench.src (org_user_id text NOT NULL, user_id text, event text NOT NULL, occurred_at timestamptz NOT NULL);
CREATE TABLE bench.ev_floor (LIKE bench.src);
CREATE INDEX ON bench.ev_floor (org_user_id, occurred_at);
CREATE TABLE bench.ev_csm (LIKE bench.src);
CREATE INDEX ON bench.ev_csm (org_user_id, occurred_at);
SELECT create_distributed_table('bench.src', 'org_user_id');
SELECT create_distributed_table('bench.ev_floor', 'org_user_id', colocate_with => 'bench.src');
SELECT create_distributed_table('bench.ev_csm', 'org_user_id', colocate_with => 'bench.src');
SQL
tables=(floor csm)
if ! sql -c "SELECT csm.track_usage('bench.ev_csm', 'org_user_id', 'occurred_at', 'event', 'user_id')" \
    >/dev/null 2>"$WORK/err"; then
    echo "setup: csm.track_usage() of the distributed table failed, so only the untracked table is loaded:"
    head -n 3 "$WORK/err" | sed 's/^/  /'
    tables=(floor)
    failed=1
fi

# The same synthetic events as test/bench/ingest.sql's fallback: 2000
# accounts (skewed), 20 users each, 12 features (skewed), over one UTC day.
t0=$(date +%s)
sql -c "INSERT INTO bench.src
    SELECT 'org-' || a, 'org-' || a || '-user-' || u,
           (ARRAY['login', 'dashboard_view', 'report_export', 'search', 'invite_user', 'api_call',
                  'settings_change', 'integration_sync', 'comment', 'file_upload', 'billing_view',
                  'alert_ack'])[1 + f],
           timestamptz '2024-06-30 00:00 UTC' + i * (interval '1 day' / $ROWS)
    FROM (SELECT i,
                 floor(2000 * power(((i * 2654435761) % 4294967296) / 4294967296.0, 2))::int AS a,
                 ((i * 40503) % 65521) % 20 AS u,
                 floor(12 * power(((i * 97) % 1009) / 1009.0, 1.5))::int AS f
          FROM generate_series(0::bigint, $ROWS - 1) AS i) s" >/dev/null
sql -c 'VACUUM ANALYZE bench.src'
echo "source: $ROWS synthetic rows (2000 accounts x 20 users, 12 features, one UTC day), made in $(( $(date +%s) - t0 )) s"

reset() {
    if [ "$1" = csm ]; then
        # TRUNCATE of a tracked table clears its rollups
        sql -c 'TRUNCATE bench.ev_csm' >/dev/null
    else
        sql -c 'TRUNCATE bench.ev_floor' >/dev/null
    fi
}

# Every account-day of the tracked table's rollup against its rows.
check() {
    local bad fold
    # On Citus the shard triggers stage deltas, and the fold (what pg_cron
    # runs) creates the new keys' accounts: time it, then compare.
    fold=$(elapsed 'SELECT csm.compact_usage();' 2>"$WORK/err") || fold=failed
    echo "run fold_after_$1 seconds=$fold"
    bad=$(sql -c "SELECT count(*) FROM
        (SELECT org_user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, count(*) AS events,
                count(DISTINCT user_id) AS active_users FROM bench.ev_csm GROUP BY 1, 2) e
        FULL JOIN (SELECT external_id AS org_user_id, day, events, active_users FROM csm.usage_daily
                   WHERE source = 'bench.ev_csm') r USING (org_user_id, day)
        WHERE e.events IS DISTINCT FROM r.events OR e.active_users IS DISTINCT FROM r.active_users") || bad=error
    if [ "$bad" = 0 ]; then
        echo "check $1 every account-day and active-user count ok"
    else
        echo "check $1 $bad account-days differ from the rows MISMATCH"
        failed=1
    fi
}

if want bulk; then
    echo "== bulk: INSERT ... SELECT of $ROWS rows from a colocated table, $REPEATS rounds, tables alternating"
    for round in $(seq "$REPEATS"); do
        for t in "${tables[@]}"; do
            reset "$t"
            c0=$(cluster_cpu "$DIR")
            if ! s=$(elapsed "INSERT INTO bench.ev_$t ($COLS) SELECT $COLS FROM bench.src;" 2>"$WORK/err") || [ -z "$s" ]; then
                echo "run bulk table=$t round=$round FAILED: $(head -c 300 "$WORK/err")"
                failed=1
                continue
            fi
            c=$(sub "$(cluster_cpu "$DIR")" "$c0")
            echo "run bulk table=$t rows=$ROWS round=$round seconds=$s cluster_cpu=$c"
            echo "$s" >>"$WORK/bulk.$t"
            echo "$c" >>"$WORK/bulk_cpu.$t"
            [ "$t" = floor ] || check bulk
        done
    done
    for t in floor csm; do
        [ ! -e "$WORK/bulk.$t" ] || result[bulk.$t]=$(median <"$WORK/bulk.$t")
        [ ! -e "$WORK/bulk_cpu.$t" ] || result[bulk_cpu.$t]=$(median <"$WORK/bulk_cpu.$t")
    done
fi

if want concurrent; then
    echo "== concurrent: pgbench, one single-row INSERT per transaction, $CLIENTS clients, $THREADS threads," \
         "10 hot accounts, ${SECONDS_PER_RUN} s each"
    for t in "${tables[@]}"; do
        sed "s/INSERT INTO TABLE/INSERT INTO bench.ev_$t/" test/bench/insert_one.pgbench >"$WORK/insert_$t.pgbench"
        reset "$t"
        c0=$(cluster_cpu "$DIR")
        if ! pgbench -n -M prepared -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_PER_RUN" -f "$WORK/insert_$t.pgbench" \
            "$DB" >"$WORK/pgbench.$t" 2>&1; then
            echo "run pgbench table=$t FAILED:"; tail -n 5 "$WORK/pgbench.$t"
            failed=1
            continue
        fi
        c=$(sub "$(cluster_cpu "$DIR")" "$c0")
        tps=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$WORK/pgbench.$t")
        n=$(awk '/^number of transactions actually processed: / { print $6; exit }' "$WORK/pgbench.$t" | cut -d/ -f1)
        # cluster CPU per insert, in microseconds
        per=$(awk -v c="$c" -v n="$n" 'BEGIN { if (n > 0) printf "%.0f", c * 1e6 / n }')
        echo "run pgbench_single_row table=$t clients=$CLIENTS seconds=$SECONDS_PER_RUN tps=$tps cluster_cpu=$c us_per_insert=$per"
        result[pgbench.$t]=$tps
        result[pgbench_cpu.$t]=$per
        [ "$t" = floor ] || check pgbench
    done
fi

echo "== results: the tracked distributed table against the untracked one (target: <= 1.5x the time, >= 0.67x the throughput)"
if [ -n "${result[bulk.floor]:-}" ] && [ -n "${result[bulk.csm]:-}" ]; then
    echo "bulk INSERT..SELECT $ROWS rows (pushed down): untracked $(secs "${result[bulk.floor]}") s," \
         "tracked $(secs "${result[bulk.csm]}") s ($(ratio "${result[bulk.csm]}" "${result[bulk.floor]}")x);" \
         "CPU of the three servers $(secs "${result[bulk_cpu.floor]}") s and $(secs "${result[bulk_cpu.csm]}") s" \
         "($(ratio "${result[bulk_cpu.csm]}" "${result[bulk_cpu.floor]}")x)"
fi
if [ -n "${result[pgbench.floor]:-}" ] && [ -n "${result[pgbench.csm]:-}" ]; then
    echo "pgbench $CLIENTS clients single-row INSERT, 10 hot accounts: untracked ${result[pgbench.floor]} tps," \
         "tracked ${result[pgbench.csm]} tps ($(ratio "${result[pgbench.csm]}" "${result[pgbench.floor]}")x);" \
         "CPU of the three servers per insert ${result[pgbench_cpu.floor]} us and ${result[pgbench_cpu.csm]} us" \
         "($(ratio "${result[pgbench_cpu.csm]}" "${result[pgbench_cpu.floor]}")x)"
fi
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews every figure)"
if [ "$failed" != 0 ]; then
    echo "csm bench-citus: a load failed or a rollup disagreed with its rows (see above)" >&2
    exit 1
fi
