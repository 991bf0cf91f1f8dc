#!/usr/bin/env bash
# Playbook benchmark (issue 14, "Performance"), on BENCH_ACCOUNTS accounts
# (default 1M) with scored health and every built-in playbook active:
#
#   run      csm.run_playbooks() opening the CTAs and tasks of
#            at_risk_intervention (every red account) and
#            executive_sponsor_change (2% of accounts with a churn signal),
#            against a bare INSERT ... SELECT of the same CTAs (with the same
#            evidence) and tasks into tables of the same shape (LIKE ...
#            INCLUDING ALL): target at most 2x.  Then an idle run (nothing
#            new to open), for information.
#   refresh  csm.refresh_health() that fires no playbook (every red account
#            already has its open CTA, no band changes) against its floor,
#            the scoring and history statements it runs (from
#            csm_internal._health_refresh_statements) alone, which is what a refresh
#            cost before alerts and playbooks existed: target at most +10%.
#            Also against the same refresh with every playbook inactive.
#            Alternated, medians.
#
# Prints "run" lines and a summary of ratios; ratios are reported, never
# asserted: it exits non-zero only when the bare insert and run_playbooks
# disagree on what they open.  The machine may be shared: the ratios come
# from one run, so both sides saw the same load.
#
# Knobs (environment): BENCH_ACCOUNTS (1000000), BENCH_REPEATS (3),
# BENCH_PLAYBOOK_DB (csm_bench_playbook), BENCH_KEEP=1 keeps the database.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
REPEATS=${BENCH_REPEATS:-3}
DB=${BENCH_PLAYBOOK_DB:-csm_bench_playbook}
PARTS="run refresh"
WORK=$(mktemp -d -t csm_bench_playbook.XXXXXX)
failed=0
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
trap bench_cleanup EXIT

echo "== csm playbook benchmark ($ROWS accounts)"
bench_setup
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus (the machine may be shared: compare the ratios, measured in one run)"

t0=$(date +%s)
sql <<SQL >/dev/null
CREATE EXTENSION csm;
CREATE SCHEMA bench;
INSERT INTO csm.team_member (handle, roles) SELECT 'csm_' || i, '{csm}' FROM generate_series(1, 100) i;
INSERT INTO csm.account (account_id, external_id, segment, arr, seats, started_at)
SELECT i, 'acct_' || i, 'smb', 10000 + i % 90000, 5 + i % 50, now() - interval '400 days'
FROM generate_series(1, $ROWS) i;
-- a primary CSM for 90% of the accounts, written directly (assignment is benchmarked elsewhere)
ALTER TABLE csm.assignment_log DISABLE TRIGGER USER;
INSERT INTO csm.account_assignment (account_id, member_id, is_primary, load)
SELECT i, 1 + i % 100, true, 1 FROM generate_series(1, $ROWS) i WHERE i % 10 <> 0;
ALTER TABLE csm.assignment_log ENABLE TRIGGER USER;
CREATE TABLE bench.metrics AS
SELECT i AS account_id, (hashint4(i) & 1023) / 1023.0 AS dau_ratio, (hashint4(i + 1) & 15) % 11 AS features_adopted,
       ((hashint4(i + 2) & 15) % 9)::float8 AS tickets_per_month, (hashint4(i + 3) & 15) % 11 AS nps, 200 AS days_to_renewal
FROM generate_series(1, $ROWS) i;
-- scores first, with every playbook off
UPDATE csm.playbook SET active = false;
SELECT csm.refresh_health('bench.metrics');
UPDATE csm.playbook SET active = true;
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
SELECT i, 'sponsor_departed', now(), now(), jsonb_build_object('stakeholder', 'sponsor ' || i)
FROM generate_series(1, $ROWS) i WHERE i % 50 = 7;
CREATE TABLE bench.cta (LIKE csm.cta INCLUDING ALL);
CREATE TABLE bench.task (LIKE csm.task INCLUDING ALL);
VACUUM ANALYZE;
SQL
echo "data: $(sql -c "SELECT format('%s accounts, %s red, %s churn signals', count(*), count(*) FILTER (WHERE band = 'red'),
    (SELECT count(*) FROM csm.churn_signal)) FROM csm.health_score"), made in $(( $(date +%s) - t0 )) s"

# ---------------------------------------------------------------- run
sql -c 'CHECKPOINT'
t_run=$(elapsed 'SELECT csm.run_playbooks();')
opened=$(sql -c "SELECT count(*) || ' CTAs, ' || (SELECT count(*) FROM csm.task) || ' tasks' FROM csm.cta")
echo "run run_playbooks (first): $(secs "$t_run") s, $opened"
sql -c 'CHECKPOINT'
t_bare=$(elapsed "
BEGIN;
INSERT INTO bench.cta (account_id, playbook, playbook_version, priority, owner, evidence, opened_at)
SELECT s.account_id, 'at_risk_intervention', 1, 'high', m.handle,
       jsonb_strip_nulls(jsonb_build_object('trigger', 'health_band', 'value', 'red',
           'event', jsonb_build_object('health_score', round(s.score::numeric, 1), 'health_band', s.band, 'model', s.model,
                                       'computed_at', s.computed_at, 'override', false), 'by', 'run_playbooks')), now()
FROM csm.health_score s
LEFT JOIN csm.account_assignment aa ON aa.account_id = s.account_id AND aa.is_primary AND aa.ended_at IS NULL
LEFT JOIN csm.team_member m ON m.member_id = aa.member_id
WHERE s.band = 'red' ORDER BY s.account_id;
INSERT INTO bench.cta (account_id, playbook, playbook_version, priority, owner, evidence, opened_at)
SELECT g.account_id, 'executive_sponsor_change', 1, 'high', m.handle,
       jsonb_build_object('trigger', 'churn_signal', 'value', g.signal,
           'event', jsonb_build_object('signal', g.signal, 'first_seen_at', g.first_seen_at, 'evidence', g.evidence), 'by', 'run_playbooks'), now()
FROM csm.churn_signal g
LEFT JOIN csm.account_assignment aa ON aa.account_id = g.account_id AND aa.is_primary AND aa.ended_at IS NULL
LEFT JOIN csm.team_member m ON m.member_id = aa.member_id
WHERE g.signal IN ('sponsor_departed', 'key_stakeholder_departed') AND g.cleared_at IS NULL ORDER BY g.account_id;
INSERT INTO bench.task (account_id, cta_id, position, title, kind, assignee_role, assignee, team, due_at)
SELECT c.account_id, c.cta_id, s.position, s.title, s.kind, s.assignee_role,
       CASE s.assignee_role WHEN 'primary_csm' THEN c.owner END,
       CASE WHEN s.assignee_role <> 'primary_csm' OR c.owner IS NULL THEN 'csm' END, c.opened_at + s.due_after
FROM bench.cta c JOIN csm.playbook_step s ON s.playbook = c.playbook
ORDER BY c.account_id, c.cta_id, s.position;
COMMIT;" | awk '{ s += $1 } END { printf "%.3f", s }')
bare=$(sql -c "SELECT count(*) || ' CTAs, ' || (SELECT count(*) FROM bench.task) || ' tasks' FROM bench.cta")
echo "run bare INSERT ... SELECT (BEGIN, three INSERTs, COMMIT): $(secs "$t_bare") s, $bare"
if [ "$bare" != "$opened" ]; then echo "check FAILED: run_playbooks opened $opened, the bare insert $bare"; failed=1; fi
sql -c "SELECT CASE WHEN EXISTS (
          (SELECT account_id, playbook, owner, evidence - 'by' FROM csm.cta) EXCEPT
          (SELECT account_id, playbook, owner, evidence - 'by' FROM bench.cta)) THEN 'check FAILED: the CTAs differ'
        ELSE 'check ok: the same CTAs, owners and evidence' END" | tee "$WORK/check"
grep -q FAILED "$WORK/check" && failed=1
t_idle=$(elapsed 'SELECT csm.run_playbooks();')
echo "run run_playbooks (idle, nothing new): $(secs "$t_idle") s"

# ---------------------------------------------------------------- refresh
# the floor: what refresh_health runs to score and keep the history, alone
floor_sql="DO \$\$
DECLARE
    s jsonb := (SELECT jsonb_object_agg(t.step, t.statement)
                FROM csm_internal._health_refresh_statements('bench.metrics', now(), false) t);
BEGIN
    LOCK TABLE csm.health_score, csm.health_history IN SHARE ROW EXCLUSIVE MODE;
    EXECUTE s ->> 'score' USING (now() AT TIME ZONE 'UTC')::date, NULL::bigint, false, false, false;
    EXECUTE s ->> 'history';
END \$\$;"
before=(); after=(); floor=()
for r in $(seq "$REPEATS"); do
    sql -c 'UPDATE csm.playbook SET active = false' -c 'CHECKPOINT'
    before+=("$(elapsed "SELECT csm.refresh_health('bench.metrics');")")
    sql -c 'UPDATE csm.playbook SET active = true' -c 'CHECKPOINT'
    after+=("$(elapsed "SELECT csm.refresh_health('bench.metrics');")")
    sql -c 'CHECKPOINT'
    floor+=("$(elapsed "$floor_sql")")
    echo "run refresh_health $r: playbooks off $(secs "${before[-1]}") s, on (fires none) $(secs "${after[-1]}") s, floor (scoring and history alone) $(secs "${floor[-1]}") s"
done
new=$(sql -c "SELECT count(*) FROM csm.cta WHERE opened_at > now() - interval '1 hour' AND evidence ->> 'by' = 'refresh_health'")
echo "check: CTAs opened by the refreshes: $new (0 expected)"
[ "$new" = 0 ] || failed=1
m_before=$(printf '%s\n' "${before[@]}" | median)
m_after=$(printf '%s\n' "${after[@]}" | median)
m_floor=$(printf '%s\n' "${floor[@]}" | median)

echo "== summary ($ROWS accounts; one run, same load on both sides)"
echo "run_playbooks vs bare INSERT ... SELECT: $(secs "$t_run") s / $(secs "$t_bare") s = $(ratio "$t_run" "$t_bare")x (target <= 2x)"
echo "run_playbooks idle: $(secs "$t_idle") s"
echo "refresh_health firing nothing vs its floor (scoring and history alone): $(secs "$m_after") s / $(secs "$m_floor") s = $(ratio "$m_after" "$m_floor")x (target <= 1.10x)"
echo "refresh_health firing nothing vs playbooks off: $(secs "$m_after") s / $(secs "$m_before") s = $(ratio "$m_after" "$m_before")x"
exit $failed
