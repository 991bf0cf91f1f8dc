#!/usr/bin/env bash
# Where should csm.account live on Citus? (make bench-citus)
#
#   reference    account is a reference table: a copy on every node,
#                external_id UNIQUE on it (csm's design).
#   distributed  account is distributed by account_id, colocated with the
#                per-account tables, plus a reference table mapping
#                external_id to account_id (a distributed table cannot keep
#                external_id unique on its own).
#
# On a throwaway 3-node cluster (test/citus/cluster.sh), ACCOUNTS accounts
# (default 1,000,000) with csm.account's columns, and a per-account table
# distributed by account_id (a health score per account), then:
#   load        INSERT ... SELECT of every account (and the map)
#   lookup      by external_id, pgbench, CLIENTS clients (how an application
#               and csm's own functions find an account)
#   report      accounts joined with their health scores, grouped by segment
#               (a dashboard over the portfolio)
#   update      of one account by account_id, pgbench, CLIENTS clients
#   size        of the tables on all nodes
# Prints each time or rate and the ratio distributed / reference (above 1:
# the distributed layout takes longer). Benchmarks are not tests: nothing is
# asserted.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PG_MAJOR=${PG_MAJOR:-15}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
export PATH="$("$PG_CONFIG" --bindir):$PATH"
ACCOUNTS=${ACCOUNTS:-1000000}
CLIENTS=${CLIENTS:-4}
TX=${TX:-2000}
if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
    echo "bench citus: Citus is not installed for $PG_CONFIG; ../shared/citus/install.sh installs it" >&2
    exit 1
fi

cluster=test/citus/cluster.sh
port=${CITUS_PORT:-$($cluster freeport 55532)}
dir=$(mktemp -d "${TMPDIR:-/tmp}/csm_bench_citus.XXXXXX")
work=$(mktemp -d)
trap '$cluster stop "$dir" || true; rm -rf "$dir" "$work"' EXIT
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=csm_bench_account
$cluster start "$dir" "$port" "$PGDATABASE"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# ms SQL: the milliseconds the statements of SQL take in psql (through the commit)
ms() { printf '%s\n' '\timing on' "$1" | sql | awk '/^Time: / { t += $2 } END { printf "%.0f\n", t }'; }
# best3 SQL: the fastest of three runs, in milliseconds
best3() { for _ in 1 2 3; do ms "$1"; done | sort -n | head -n 1; }
# tps FILE: pgbench's transactions per second for the script FILE
tps() {
    pgbench -n -c "$CLIENTS" -j "$CLIENTS" -t "$TX" -f "$1" >"$work/pgbench.log" 2>&1 || { cat "$work/pgbench.log"; exit 1; }
    awk '/^tps = / { printf "%.0f\n", $3 }' "$work/pgbench.log"
}

echo "== csm.account on Citus: reference table or distributed by account_id ($ACCOUNTS accounts, 3 nodes on 127.0.0.1)"
sql >/dev/null <<'SQL'
SET client_min_messages = warning;
-- csm.account's columns
CREATE TABLE ref_account (
    account_id bigint PRIMARY KEY, external_id text NOT NULL UNIQUE, name text, segment text, plan text,
    arr numeric(14, 2), seats integer, status text NOT NULL DEFAULT 'active', renewal_date date,
    started_at timestamptz, churned_at timestamptz, attributes jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE dist_account (LIKE ref_account INCLUDING DEFAULTS, PRIMARY KEY (account_id));
CREATE TABLE account_key (external_id text PRIMARY KEY, account_id bigint NOT NULL);
CREATE TABLE ref_health (account_id bigint PRIMARY KEY, score double precision NOT NULL, band text NOT NULL);
CREATE TABLE dist_health (LIKE ref_health INCLUDING ALL);
SELECT create_reference_table('ref_account');
SELECT create_reference_table('account_key');
SELECT create_distributed_table('ref_health', 'account_id');
SELECT create_distributed_table('dist_account', 'account_id', colocate_with => 'ref_health');
SELECT create_distributed_table('dist_health', 'account_id', colocate_with => 'ref_health');
SQL

rows="SELECT i, 'org_' || i, 'Org ' || i, (ARRAY['smb', 'mid_market', 'enterprise'])[1 + i % 3], 'pro',
       1000 + i % 50000, 5 + i % 200, 'active', DATE '2027-01-01' + i % 365, TIMESTAMPTZ '2024-01-01' + (i % 700) * interval '1 day',
       NULL::timestamptz, '{}'::jsonb, now(), now()
FROM generate_series(1, $ACCOUNTS) AS i"
load_ref=$(ms "INSERT INTO ref_account $rows")
load_dist=$(ms "BEGIN; INSERT INTO dist_account $rows; INSERT INTO account_key SELECT external_id, account_id FROM dist_account; COMMIT")
health="SELECT account_id, 100.0 * ((account_id * 7919) % 1000) / 1000, 'green' FROM"
sql -c "INSERT INTO ref_health $health ref_account" -c "INSERT INTO dist_health $health dist_account" \
    -c 'VACUUM ANALYZE' >/dev/null
printf '%-44s %12s %12s %8s\n' '' reference distributed ratio
printf '%-44s %10s ms %10s ms %8s\n' "load $ACCOUNTS accounts (INSERT ... SELECT)" "$load_ref" "$load_dist" "$(ratio "$load_dist" "$load_ref")"

cat >"$work/lookup_ref.sql" <<PGB
\set i random(1, $ACCOUNTS)
SELECT account_id, segment, arr FROM ref_account WHERE external_id = 'org_' || :i;
PGB
# The map first, then the account's shard: the two statements an
# application (or a csm function) runs.
cat >"$work/lookup_dist.sql" <<PGB
\set i random(1, $ACCOUNTS)
SELECT account_id AS aid FROM account_key WHERE external_id = 'org_' || :i \gset
SELECT account_id, segment, arr FROM dist_account WHERE account_id = :aid;
PGB
look_ref=$(tps "$work/lookup_ref.sql")
look_dist=$(tps "$work/lookup_dist.sql")
printf '%-44s %8s tps %8s tps %8s\n' "lookup by external_id ($CLIENTS clients)" "$look_ref" "$look_dist" "$(ratio "$look_ref" "$look_dist")"

report() { echo "SELECT a.segment, count(*), round(avg(h.score)::numeric, 2) FROM $1 h JOIN $2 a USING (account_id) GROUP BY a.segment"; }
rep_ref=$(best3 "$(report ref_health ref_account)")
rep_dist=$(best3 "$(report dist_health dist_account)")
printf '%-44s %10s ms %10s ms %8s\n' "health by segment (join, best of 3)" "$rep_ref" "$rep_dist" "$(ratio "$rep_dist" "$rep_ref")"
[ "$(sql -c "$(report ref_health ref_account) ORDER BY 1")" = "$(sql -c "$(report dist_health dist_account) ORDER BY 1")" ] ||
    { echo "bench citus: the two layouts disagree" >&2; exit 1; }

# Why the two differ: the plan of the join on one shard.
if [ "${BENCH_EXPLAIN:-0}" = 1 ]; then
    for layout in "ref_health ref_account" "dist_health dist_account"; do
        set -- $layout
        sql -c "SET citus.explain_all_tasks = off" -c "EXPLAIN (COSTS OFF) $(report "$1" "$2")"
    done
fi

for t in ref_account dist_account; do
    cat >"$work/update_$t.sql" <<PGB
\set i random(1, $ACCOUNTS)
UPDATE $t SET arr = arr + 1, updated_at = now() WHERE account_id = :i;
PGB
done
upd_ref=$(tps "$work/update_ref_account.sql")
upd_dist=$(tps "$work/update_dist_account.sql")
printf '%-44s %8s tps %8s tps %8s\n' "update one account ($CLIENTS clients)" "$upd_ref" "$upd_dist" "$(ratio "$upd_ref" "$upd_dist")"

size_ref=$(sql -c "SELECT citus_total_relation_size('ref_account') / 1048576")
size_dist=$(sql -c "SELECT (citus_total_relation_size('dist_account') + citus_total_relation_size('account_key')) / 1048576")
printf '%-44s %10s MB %10s MB %8s\n' "size on all nodes (tables and indexes)" "$size_ref" "$size_dist" "$(ratio "$size_dist" "$size_ref")"
echo "(ratio: distributed / reference for times and sizes, reference / distributed for rates; above 1 the reference table wins)"
