#!/usr/bin/env bash
# Per-CSM visibility benchmark (csm.enable_row_security): the portfolio
# dashboard for a CSM whose book is 100 accounts out of BENCH_ACCOUNTS
# (1M), against the same query as a role with the admin level (through the
# policy, which lets it read everything) and as csm's owner (no policy at
# all).  The dashboard is csm.dashboard_portfolio when it exists, else the
# same figures over the base tables: ARR, accounts by segment, average
# health, at-risk count and the renewal pipeline of the next 90 days.
#
# Prints one "run" line per timed run and the ratios of the medians
# (issue 15's target: the CSM at most 2x the admin).  Ratios are reported,
# never asserted.  Knobs: BENCH_ACCOUNTS (1000000), BENCH_REPEATS (5),
# BENCH_RLS_DB (csm_bench_rls), BENCH_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
REPEATS=${BENCH_REPEATS:-5}
DB=${BENCH_RLS_DB:-csm_bench_rls}
PARTS=dashboard
WORK=$(mktemp -d -t csm_bench_rls.XXXXXX)
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
cleanup() {
    bench_cleanup
    psql -X -q -d postgres -c 'DROP ROLE IF EXISTS bench_rls_csm' -c 'DROP ROLE IF EXISTS bench_rls_admin' >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== csm per-CSM visibility benchmark: $ROWS accounts, a CSM with 100 of them"
bench_setup
psql -X -q -d postgres -c 'DROP ROLE IF EXISTS bench_rls_csm' -c 'DROP ROLE IF EXISTS bench_rls_admin' \
    -c 'CREATE ROLE bench_rls_csm' -c 'CREATE ROLE bench_rls_admin' >/dev/null
sql >/dev/null <<SQL
CREATE EXTENSION csm;
SELECT csm.grant_access('bench_rls_csm', 'read'), csm.grant_access('bench_rls_admin', 'admin');
-- Members of 100 accounts each; member 1 is the CSM who logs in.
INSERT INTO csm.team_member (handle, roles, teams, login_role)
SELECT 'm' || i, ARRAY['csm'], ARRAY['t' || (i % 20)], CASE WHEN i = 1 THEN 'bench_rls_csm'::regrole END
FROM generate_series(1, ($ROWS + 99) / 100) i;
ALTER TABLE csm.account DISABLE TRIGGER USER;
INSERT INTO csm.account (external_id, segment, plan, arr, seats, started_at, renewal_date)
SELECT 'acct-' || i, (ARRAY['smb', 'mid_market', 'enterprise', 'strategic'])[1 + i % 4], 'pro', 1000 + i % 50000, 10,
       now() - interval '400 days', current_date + (i % 365)
FROM generate_series(1, $ROWS) i;
ALTER TABLE csm.account ENABLE TRIGGER USER;
INSERT INTO csm.account_assignment (account_id, member_id, is_primary, load)
SELECT a.account_id, m.member_id, true, 1
FROM csm.account a JOIN csm.team_member m ON m.handle = 'm' || ((a.account_id - 1) / 100 + 1);
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
SELECT account_id, 'default', 1, s, CASE WHEN s < 40 THEN 'red' WHEN s < 70 THEN 'yellow' ELSE 'green' END::csm.health_band,
       1, '{}', '{}', '{}', '{}', now()
FROM (SELECT account_id, (account_id * 37 % 100)::float8 AS s FROM csm.account) x;
SELECT count(*) FROM csm.enable_row_security();
VACUUM ANALYZE;
SQL

if [ "$(sql -c "SELECT to_regclass('csm.dashboard_portfolio') IS NOT NULL")" = t ]; then
    QUERY='SELECT count(*) FROM (SELECT * FROM csm.dashboard_portfolio) d'
    echo "query: csm.dashboard_portfolio"
else
    QUERY="SELECT a.segment, count(*), sum(a.arr), avg(h.score), count(*) FILTER (WHERE h.band = 'red'),
               sum(a.arr) FILTER (WHERE a.renewal_date < current_date + 90)
           FROM csm.account a LEFT JOIN csm.health_score h USING (account_id)
           WHERE a.status = 'active' GROUP BY a.segment"
    echo "query: the portfolio figures over csm.account and csm.health_score (csm.dashboard_portfolio is not installed)"
fi
echo "check: the CSM sees $(sql -c "SET ROLE bench_rls_csm; SELECT count(*) FROM csm.account" | tail -1) accounts," \
     "the admin level $(sql -c "SET ROLE bench_rls_admin; SELECT count(*) FROM csm.account" | tail -1)"

declare -A med
for who in owner admin csm; do
    case $who in owner) set_role='RESET ROLE;' ;; admin) set_role='SET ROLE bench_rls_admin;' ;; csm) set_role='SET ROLE bench_rls_csm;' ;; esac
    times=()
    for _ in $(seq "$REPEATS"); do
        t=$(elapsed "$set_role" "$QUERY;" | tail -1)
        echo "run $who $t s"
        times+=("$t")
    done
    med[$who]=$(printf '%s\n' "${times[@]}" | median)
done
echo "median: owner ${med[owner]} s, admin level ${med[admin]} s, CSM ${med[csm]} s"
echo "ratio CSM / admin level: $(ratio "${med[csm]}" "${med[admin]}") (target <= 2)"
echo "ratio CSM / owner: $(ratio "${med[csm]}" "${med[owner]}")"
echo "ratio admin level / owner (the policy's cost when it lets everything through): $(ratio "${med[admin]}" "${med[owner]}")"
