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
# the best of RUNS runs (default 2) of each, the ratio cluster / single
# (above 1: the cluster takes longer), and how the work was split: the
# scoring calls (csm_health_evaluate_row, pg_stat_user_functions with
# track_functions = all) and the health_score rows on each node.
# Benchmarks are not tests: nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PG_MAJOR=${PG_MAJOR:-15}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
export PATH="$("$PG_CONFIG" --bindir):$PATH"
ACCOUNTS=${ACCOUNTS:-100000}
DAYS=${DAYS:-14}
RUNS=${RUNS:-2}
if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
    echo "bench citus_health: Citus is not installed for $PG_CONFIG; ../shared/citus/install.sh installs it" >&2
    exit 1
fi

cluster=test/citus/cluster.sh
port=${CITUS_PORT:-$($cluster freeport 55632 2>/dev/null || echo 55632)}
dir=$(mktemp -d "${TMPDIR:-/tmp}/csm_bench_citus_health.XXXXXX")
trap '$cluster stop "$dir" || true; rm -rf "$dir"' EXIT
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
$cluster start "$dir" "$port" csm_cluster >/dev/null
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# ms DB SQL: the milliseconds SQL takes in psql (through the commit)
ms() { printf '%s\n' 'SET client_min_messages = error;' '\timing on' "$2" | sql -d "$1" | awk '/^Time: / { t = $2 } END { printf "%.0f\n", t }'; }
best() { local db=$1 q=$2; for _ in $(seq "$RUNS"); do ms "$db" "$q"; done | sort -n | head -n 1; }

# scoring calls are counted per node
for p in "$port" $((port + 1)) $((port + 2)); do
    sql -d postgres -p "$p" -c "ALTER SYSTEM SET track_functions = 'all'" -c 'SELECT pg_reload_conf()' >/dev/null
done
sql -d postgres -c 'CREATE DATABASE csm_single'

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
INSERT INTO csm.usage_counter (account_id, source_id, day, events, active_users)
SELECT a.account_id, 1, current_date - d, 1 + (a.account_id + d) % 40, 1 + (a.account_id * d) % 5
FROM csm.account a, generate_series(0, $DAYS - 1) d;
INSERT INTO csm.usage_feature_counter (account_id, source_id, day, feature, events)
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

printf '%-10s %12s %12s %16s\n' step single_ms cluster_ms cluster/single
for step in first relation again; do
    case $step in
    first) q='SELECT csm.refresh_health()' prep='TRUNCATE csm.health_score, csm.health_history' ;;
    again) q='SELECT csm.refresh_health()' prep='' ;;
    relation) q="SELECT csm.refresh_health('bench_metrics')" prep='' ;;
    esac
    s=999999999 c=999999999
    for _ in $(seq "$RUNS"); do
        [ -n "$prep" ] && sql -d csm_single -c "$prep" && sql -d csm_cluster -c "$prep"
        v=$(ms csm_single "$q"); (( v < s )) && s=$v
        [ "$step" = again ] && reset_counts csm_cluster
        v=$(ms csm_cluster "$q"); (( v < c )) && c=$v
    done
    printf '%-10s %12s %12s %16s\n' "$step" "$s" "$c" "$(ratio "$c" "$s")"
done

sleep 2  # backends report their function counts when idle
echo "work split (the last refresh_health() over existing scores, csm_cluster):"
for p in "$port" $((port + 1)) $((port + 2)); do
    node=$([ "$p" = "$port" ] && echo coordinator || echo "worker :$p")
    printf '  %-14s scoring calls %8s   health_score rows %8s\n' "$node" "$(calls csm_cluster "$p")" \
        "$(sql -d csm_cluster -c "SELECT coalesce(sum(result::bigint), 0) FROM run_command_on_placements('csm.health_score', 'SELECT count(*) FROM %s') WHERE nodeport = $p")"
done
echo "check: scores equal on both: $(sql -d csm_single -c "SELECT md5(string_agg(round(score::numeric, 9)::text, ',' ORDER BY account_id)) FROM csm.health_score" | head -c 12)" \
     "$(sql -d csm_cluster -c "SELECT md5(string_agg(round(score::numeric, 9)::text, ',' ORDER BY account_id)) FROM csm.health_score" | head -c 12)"
