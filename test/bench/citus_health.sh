#!/usr/bin/env bash
# csm.refresh_health() on a 3-node Citus cluster against the same on a
# single node (make bench-citus).
#
# On a throwaway cluster (test/citus/cluster.sh: a coordinator and two
# workers on 127.0.0.1), two databases with the same rows: csm_cluster, where
# csm.distribute() ran, and csm_single on the coordinator's server, where it
# did not (plain PostgreSQL, the same server and settings). ACCOUNTS accounts
# (default 100,000), DAYS days of usage counters each (default 14), features
# and an NPS answer for every other account. Then, in each database:
#   first      refresh_health() into empty score tables
#   relation   refresh_health('bench_metrics'): metrics from a table of the
#              caller's (on the cluster distributed by account_id), scoring
#              and writing only
#   again      refresh_health() over the scores it wrote (the daily run)
# the best of RUNS runs of each, the ratio cluster / single (above 1: the
# cluster takes longer), the load average of the machine before each step
# and the CPU seconds each server's processes used in it (from /proc: the
# servers share this machine), and how the work was split: the scoring calls
# (csm_health_evaluate_row, pg_stat_user_functions with track_functions =
# all), the statements each node ran (pg_stat_statements: calls, rows and
# time per node) and the health_score rows on each node. Last, at that size,
# the shape of each of refresh_health's statements under EXPLAIN on the
# cluster (tasks, and whether any rows go through the coordinator).
#
# Knobs (environment): BENCH_ACCOUNTS (100000), BENCH_DAYS of usage (14),
# BENCH_RUNS (2), CITUS_PORT (the first free port from 55632), BENCH_KEEP=1
# leaves the cluster running afterwards (its directory and port are printed).
# Benchmarks are not tests: nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PG_MAJOR=${PG_MAJOR:-15}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
export PATH="$("$PG_CONFIG" --bindir):$PATH"
ACCOUNTS=${BENCH_ACCOUNTS:-${ACCOUNTS:-100000}}
DAYS=${BENCH_DAYS:-${DAYS:-14}}
RUNS=${BENCH_RUNS:-${RUNS:-2}}
if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
    echo "bench citus_health: Citus is not installed for $PG_CONFIG; ../shared/citus/install.sh installs it" >&2
    exit 1
fi

cluster=test/citus/cluster.sh
port=${CITUS_PORT:-$($cluster freeport 55632 2>/dev/null || echo 55632)}
dir=$(mktemp -d "${TMPDIR:-/tmp}/csm_bench_citus_health.XXXXXX")
if [ "${BENCH_KEEP:-0}" = 1 ]; then
    trap 'echo "cluster kept: $dir, ports $port-$((port + 2)) (test/citus/cluster.sh stop $dir)"' EXIT
else
    trap '$cluster stop "$dir" || true; rm -rf "$dir"' EXIT
fi
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
ports="$port $((port + 1)) $((port + 2))"
# pg_stat_statements on every node (loaded at start: a restart), nested
# statements included, so the coordinator's distributed statements show
$cluster start "$dir" "$port" >/dev/null
for p in $ports; do
    sql -d postgres -p "$p" -c "ALTER SYSTEM SET shared_preload_libraries = citus, pg_stat_statements" \
        -c "ALTER SYSTEM SET track_functions = 'all'"
done
$cluster stop "$dir"
$cluster start "$dir" "$port" csm_cluster >/dev/null
for p in $ports; do
    sql -d postgres -p "$p" -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c 'SELECT pg_reload_conf()' >/dev/null
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# ms DB SQL: the milliseconds SQL takes in psql (through the commit)
ms() { printf '%s\n' 'SET client_min_messages = error;' '\timing on' "$2" | sql -d "$1" | awk '/^Time: / { t = $2 } END { printf "%.0f\n", t }'; }
best() { local db=$1 q=$2; for _ in $(seq "$RUNS"); do ms "$db" "$q"; done | sort -n | head -n 1; }

sql -d postgres -c 'SET client_min_messages = warning' -c 'CREATE DATABASE csm_single'
sql -d csm_cluster -c 'CREATE EXTENSION pg_stat_statements'  # (Citus creates it on the workers)
sql -d csm_single -c 'CREATE EXTENSION pg_stat_statements'

# server_cpu PORT: CPU seconds used so far by that server's processes: the
# postmaster's living children and those it has reaped (from /proc)
server_cpu() {
    local pm
    pm=$(head -n 1 "$(sql -d postgres -p "$1" -c 'SHOW data_directory')/postmaster.pid")
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v hz="$(getconf CLK_TCK)" -v pm="$pm" '
        { pid = $1; sub(/^.*\) /, "") }         # then $2 is the parent, $12 to $15 the times
        pid == pm { t += $12 + $13 + $14 + $15; next }
        $2 == pm { t += $12 + $13 }
        END { printf "%.1f\n", t / hz }'
}
cpu_all() { for p in $ports; do server_cpu "$p"; done | paste -sd ' '; }
cpu_diff() { paste -d ' ' <(tr ' ' '\n' <<<"$1") <(tr ' ' '\n' <<<"$2") | awk '{ printf "%s%.1f", (NR > 1 ? "/" : ""), $2 - $1 }'; }
loadavg() { cut -d ' ' -f 1 /proc/loadavg; }

echo "== refresh_health on Citus (3 nodes on 127.0.0.1) against a single node: $ACCOUNTS accounts, $DAYS days of usage"
load() {
    local db=$1 distribute=$2
    sql -d "$db" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION csm;
$( [ "$distribute" = 1 ] && echo 'SELECT count(*) FROM csm.distribute();' )
CREATE TABLE bench_events (account_id bigint, at timestamptz);
$( [ "$distribute" = 1 ] && echo "SELECT create_distributed_table('bench_events', 'account_id', colocate_with => 'csm.health_score');" )
INSERT INTO csm.usage_source (relation, account_column, time_column, event_column, user_column)
VALUES ('bench_events', 'account_id', 'at', 'feature', 'member');
INSERT INTO csm.account (external_id, seats, renewal_date, segment, plan, created_at)
SELECT 'org_' || i, 5 + i % 50, current_date + i % 365, (ARRAY['smb', 'mid_market', 'enterprise'])[1 + i % 3],
       'pro', '2026-01-01'
FROM generate_series(1, $ACCOUNTS) i;
INSERT INTO csm.health_model_map VALUES ('segment', 'enterprise', 'five_pillar');
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT a.account_id, 1, current_date - d, 1 + (a.account_id + d) % 40, 1 + (a.account_id * d) % 5
FROM csm.account a, generate_series(0, $DAYS - 1) d;
INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
SELECT a.account_id, 1, current_date - d, 'f' || ((a.account_id + d) % 9), 1
FROM csm.account a, generate_series(0, $DAYS - 1, 2) d;
INSERT INTO csm.nps_response (account_id, score) SELECT a.account_id, a.account_id % 11 FROM csm.account a WHERE a.account_id % 2 = 0;
CREATE TABLE bench_metrics (account_id bigint, dau_ratio float8, features_adopted integer, nps integer, days_to_renewal integer);
$( [ "$distribute" = 1 ] && echo "SELECT create_distributed_table('bench_metrics', 'account_id', colocate_with => 'csm.health_score');" )
INSERT INTO bench_metrics SELECT m.account_id, m.dau_ratio, m.features_adopted, m.nps, m.days_to_renewal FROM csm.account_metrics m;
VACUUM ANALYZE;
SQL
}
t0=$(date +%s); load csm_single 0; t1=$(date +%s); load csm_cluster 1; t2=$(date +%s)
echo "load: single node $((t1 - t0)) s, cluster $((t2 - t1)) s"

reset_counts() { for p in "$port" $((port + 1)) $((port + 2)); do sql -d "$1" -p "$p" -c 'SELECT pg_stat_reset()' >/dev/null; done; }
calls() {  # DB PORT: calls of csm_health_evaluate_row on that node, in DB
    sql -d "$1" -p "$2" -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE schemaname = 'csm' AND funcname = 'csm_health_evaluate_row'"
}

echo "load average before: $(cut -d ' ' -f 1-3 /proc/loadavg) ($(nproc) CPUs)"
echo "cpu_s: CPU seconds of the server's processes in the best run (cluster: coordinator/worker/worker)"
printf '%-10s %10s %10s %8s %6s %8s %16s\n' step single_ms cluster_ms ratio load single_cpu_s cluster_cpu_s
for step in first relation again; do
    case $step in
    first) q='SELECT csm.refresh_health()' prep='TRUNCATE csm.health_score, csm.health_history' ;;
    again) q='SELECT csm.refresh_health()' prep='' ;;
    relation) q="SELECT csm.refresh_health('bench_metrics')" prep='' ;;
    esac
    s=999999999 c=999999999 load=
    for _ in $(seq "$RUNS"); do
        [ -n "$prep" ] && sql -d csm_single -c "$prep" && sql -d csm_cluster -c "$prep"
        load="$load${load:+/}$(loadavg)"
        c0=$(server_cpu "$port"); v=$(ms csm_single "$q"); c1=$(server_cpu "$port")
        (( v < s )) && s=$v scpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", b - a }')
        if [ "$step" = again ]; then
            reset_counts csm_cluster
            for p in $ports; do sql -d csm_cluster -p "$p" -c 'SELECT pg_stat_statements_reset()' >/dev/null; done
        fi
        c0=$(cpu_all); v=$(ms csm_cluster "$q"); c1=$(cpu_all)
        (( v < c )) && c=$v ccpu=$(cpu_diff "$c0" "$c1")
    done
    printf '%-10s %10s %10s %8s %6s %8s %16s\n' "$step" "$s" "$c" "$(ratio "$c" "$s")" "$load" "$scpu" "$ccpu"
done
echo "load average after: $(cut -d ' ' -f 1-3 /proc/loadavg)"

sleep 2  # backends report their function counts when idle
echo "statements per node in that refresh (pg_stat_statements; the coordinator's include the nested ones, so its time overlaps):"
for p in $ports; do
    node=$([ "$p" = "$port" ] && echo coordinator || echo "worker :$p")
    sql -d csm_cluster -p "$p" -F ' ' -c "
        SELECT count(*), coalesce(sum(calls), 0), coalesce(sum(rows), 0), round(coalesce(sum(total_exec_time), 0))
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query !~* 'pg_stat_statements|pg_stat_user_functions|pg_stat_reset'" |
        { read -r n c r t; printf '  %-14s %4s statements %7s calls %9s rows %9s ms\n' "$node" "$n" "$c" "$r" "$t"; }
    sql -d csm_cluster -p "$p" -F ' | ' -c "
        SELECT round(total_exec_time)::text || ' ms', calls || ' calls', rows || ' rows',
               left(regexp_replace(query, '\s+', ' ', 'g'), 90)
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query !~* 'pg_stat_statements|pg_stat_user_functions|pg_stat_reset'
        ORDER BY total_exec_time DESC LIMIT ${BENCH_TOP:-4}" | sed 's/^/      /'
done
echo "work split (the last refresh_health() over existing scores, csm_cluster):"
for p in $ports; do
    node=$([ "$p" = "$port" ] && echo coordinator || echo "worker :$p")
    printf '  %-14s scoring calls %8s   health_score rows %8s\n' "$node" "$(calls csm_cluster "$p")" \
        "$(sql -d csm_cluster -c "SELECT coalesce(sum(result::bigint), 0) FROM run_command_on_placements('csm.health_score', 'SELECT count(*) FROM %s') WHERE nodeport = $p")"
done
echo "EXPLAIN on the cluster at this size: each statement's tasks, and any rows through the coordinator"
sql -d csm_cluster -c 'SET client_min_messages = error' -c "
    CREATE FUNCTION pg_temp.plan(q text) RETURNS text LANGUAGE plpgsql AS \$\$
    DECLARE p text := ''; line text;
    BEGIN
        FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q
            USING (now() AT TIME ZONE 'UTC')::date, NULL::bigint, true, true, false LOOP
            p := p || line || E'\\n';
        END LOOP;
        RETURN p;
    END \$\$;
    SELECT format('  %-26s %s', coalesce(m, 'account_metrics') || ' ' || s.step,
                  concat_ws(', ', substring(p FROM 'Task Count: [0-9]+'), substring(p FROM 'INSERT/SELECT method: [a-z ]+'),
                            CASE WHEN p ~* 'subplan|intermediate|pull to coordinator' THEN 'ROWS THROUGH THE COORDINATOR'
                                 ELSE 'nothing through the coordinator' END))
    FROM (VALUES (NULL), ('bench_metrics')) v(m),
         csm_internal._health_refresh_statements(v.m::regclass, now(), true) s,
         pg_temp.plan(s.statement) p
    WHERE s.step <> 'accounts'"
echo "check: scores equal on both: $(sql -d csm_single -c "SELECT md5(string_agg(round(score::numeric, 9)::text, ',' ORDER BY account_id)) FROM csm.health_score" | head -c 12)" \
     "$(sql -d csm_cluster -c "SELECT md5(string_agg(round(score::numeric, 9)::text, ',' ORDER BY account_id)) FROM csm.health_score" | head -c 12)"
