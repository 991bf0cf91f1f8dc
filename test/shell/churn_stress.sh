#!/usr/bin/env bash
# pgbench stress of csm.refresh_churn: refreshes running while notes arrive.
#
# 200 accounts; a rule adds the retention specialist as secondary when the
# churn risk passes 50.  8 clients x 60 transactions: one in six refreshes
# churn (signals, scores, routing), the others write a competitor mention or
# an escalation for a random account.  Afterwards, and after a last refresh:
# pgbench reported no failed transaction and the server no new deadlock; an
# account has at most one open row per signal; every account with a
# competitor mention has that signal open; churn_score has one row per
# account and agrees with the prior model over the open signals; every
# account above 50 has the specialist exactly once, and the audit log has
# one 'assign' row per relationship.
set -euo pipefail
. "$(dirname "$0")/lib/stress.sh"
db=csm_stress_churn
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

fresh_db "$db"
q <<'SQL'
CREATE EXTENSION csm;
INSERT INTO csm.account (account_id, external_id, started_at)
SELECT i, 'acct_' || i, now() - interval '1 year' FROM generate_series(1, 200) i;
INSERT INTO csm.team_member (handle, roles) VALUES ('rita', '{retention_specialist}');
INSERT INTO csm.routing_rule (name, condition, target_kind, target, strategy, is_primary)
VALUES ('retention', 'churn_risk_score > 50', 'role', 'retention_specialist', 'least_loaded', false);
SQL

echo "SELECT csm.refresh_churn();" >"$work/refresh.pgbench"
cat >"$work/note.pgbench" <<'PGB'
\set a random(1, 200)
INSERT INTO csm.account_note (account_id, noted_at, kind)
VALUES (:a, now() - interval '1 day', CASE WHEN random() < 0.5 THEN 'competitor_mention' ELSE 'escalation' END);
PGB

before=$(deadlocks "$db")
if pgbench -n -c 8 -j 2 -t 60 -f "$work/refresh.pgbench@1" -f "$work/note.pgbench@5" "$db" >"$work/pgbench.log" 2>&1; then
    echo "ok - pgbench ran 8 clients x 60 transactions"
else
    cat "$work/pgbench.log"
    echo "not ok - pgbench failed"
    failed=1
fi
failed_txns=$(awk -F': *' '/^number of failed transactions/ { split($2, a, " "); print a[1] }' "$work/pgbench.log")
expect "no failed transactions" 0 "SELECT ${failed_txns:-0}"
if no_new_deadlocks "$db" "$before"; then echo "ok - no deadlocks"; else failed=1; fi

q -c "SELECT csm.refresh_churn()" >/dev/null
expect "at most one open row per account and signal" 0 "
    SELECT count(*) FROM (SELECT account_id, signal FROM csm.churn_signal WHERE cleared_at IS NULL
                          GROUP BY 1, 2 HAVING count(*) > 1) d"
expect "every account with a competitor mention has the signal open" 0 "
    SELECT count(*) FROM (SELECT DISTINCT account_id FROM csm.account_note WHERE kind = 'competitor_mention') n
    WHERE NOT EXISTS (SELECT FROM csm.churn_signal s WHERE s.account_id = n.account_id
                      AND s.signal = 'competitor_mentioned' AND s.cleared_at IS NULL)"
expect "one score per account, equal to the prior over the open signals" "200|0" "
    SELECT count(*), count(*) FILTER (WHERE abs(c.probability - 1 / (1 + exp(-(ln(0.1 / 0.9) + coalesce(
               (SELECT sum(k.prior_weight) FROM csm.churn_signal s JOIN csm.churn_signal_config k ON k.signal = s.signal
                WHERE s.account_id = c.account_id AND s.cleared_at IS NULL), 0))))) > 1e-9)
    FROM csm.churn_score c"
expect "every account above 50 has the specialist, once; nobody else does" 0 "
    SELECT count(*) FROM csm.churn_score c
    WHERE (c.risk_score > 50) <> ((SELECT count(*) FROM csm.account_assignment x
                                   WHERE x.account_id = c.account_id AND x.ended_at IS NULL) = 1)
       OR (SELECT count(*) FROM csm.account_assignment x WHERE x.account_id = c.account_id) > 1"
expect "the audit log has one 'assign' row per relationship" 0 "
    SELECT (SELECT count(*) FROM csm.assignment_log WHERE action = 'assign')
         - (SELECT count(*) FROM csm.account_assignment)"
echo "# $(q -c "SELECT count(*) FILTER (WHERE risk_score > 50) || ' of 200 accounts above 50, '
                || (SELECT count(*) FROM csm.account_note) || ' notes' FROM csm.churn_score")"

dropdb "$db"
exit "$failed"
