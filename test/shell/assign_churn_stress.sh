#!/usr/bin/env bash
# pgbench stress of auto-assignment while members leave and come back.
#
# Team rr: 4 members who stay (rr_1..rr_4) and 4 who churn (ch_1..ch_4),
# no capacity, a round-robin rule.  12 clients x 100 transactions: ten in
# eleven auto-assign the next of 2,000 accounts; one in eleven deactivates
# a churning member (the trigger hands their book over) and, in a second
# transaction, reactivates them.  Before csm took its locks in one order
# (src/assign.c), this deadlocked (40P01) in both kinds of transaction.
#
# Afterwards: pgbench reported no failed transaction and the server no new
# deadlock; every account that was assigned has exactly one current
# primary, and nobody else waits in the queue; nobody inactive owns
# anything; csm_internal.member_load equals a recount from csm.account_assignment;
# and books were handed over (a relationship that another session started
# after the handoff's transaction began ends when it started, at the
# earliest: account_assignment_ends_after_start failed it before).
set -euo pipefail
. "$(dirname "$0")/lib/stress.sh"
db=csm_stress_assign_churn
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
started=$(date +%s)

fresh_db "$db"
q <<'SQL'
CREATE EXTENSION csm;
-- (capacity: room for every account, these races are not about capacity;
-- a NULL capacity would be a full book of 100 SMB accounts)
INSERT INTO csm.team_member (handle, teams, capacity) SELECT 'rr_' || i, ARRAY['rr'], 100000 FROM generate_series(1, 4) i;
INSERT INTO csm.team_member (handle, teams, capacity) SELECT 'ch_' || i, ARRAY['rr'], 100000 FROM generate_series(1, 4) i;
-- Before the rule: the insert trigger routes none of them.
INSERT INTO csm.account (external_id, segment) SELECT 'acct_' || i, 'smb' FROM generate_series(1, 2000) i;
INSERT INTO csm.routing_rule (name, target_kind, target, strategy) VALUES ('rr', 'team', 'rr', 'round_robin');
CREATE SEQUENCE next_account;
ANALYZE;
SQL

cat >"$work/assign.pgbench" <<'SQL'
SELECT csm.csm_auto_assign('acct_' || nextval('next_account'));
SQL
cat >"$work/churn.pgbench" <<'SQL'
\set m random(1, 4)
UPDATE csm.team_member SET active = false WHERE handle = 'ch_' || :m;
UPDATE csm.team_member SET active = true WHERE handle = 'ch_' || :m;
SQL

before=$(deadlocks "$db")
if pgbench -n --verbose-errors -c 12 -j 4 -t 100 -f "$work/assign.pgbench@10" -f "$work/churn.pgbench@1" "$db" >"$work/log" 2>&1; then
    echo "ok - pgbench ran 12 clients x 100 transactions, assigning and churning"
else
    grep -m 5 ERROR "$work/log" || true
    echo "not ok - pgbench failed"
    failed=1
fi
echo "# $(grep -E '^tps' "$work/log" | head -n 1 | sed 's/ (.*//')"
failed_txns=$(awk -F': *' '/^number of failed transactions/ { split($2, a, " "); print a[1]; exit }' "$work/log")
expect "no failed transactions" 0 "SELECT ${failed_txns:-0}"
[ "${failed_txns:-0}" = 0 ] || show_failures "$work/log" "$db"
if no_new_deadlocks "$db" "$before"; then echo "ok - no deadlocks"; else failed=1; fi

expect "every account auto-assigned has exactly one current primary, and no other account has one" 0 "
    SELECT count(*) FROM csm.account a
    WHERE (SELECT count(*) FROM csm.account_assignment x
           WHERE x.account_id = a.account_id AND x.is_primary AND x.ended_at IS NULL)
          <> CASE WHEN substr(a.external_id, 6)::integer <= (SELECT last_value FROM next_account) THEN 1 ELSE 0 END"
expect "nothing waits in the queue with a routing rule and active members" 0 "
    SELECT count(*) FROM csm.assignment_alert WHERE resolved_at IS NULL"
expect "nobody inactive owns an account" 0 "
    SELECT count(*) FROM csm.account_assignment x JOIN csm.team_member m ON m.member_id = x.member_id
    WHERE x.ended_at IS NULL AND NOT m.active"
expect_member_load "csm_internal.member_load equals a recount from csm.account_assignment"
expect "some books were handed over, and every handoff found a member" "t|0" "
    SELECT count(*) > 0, count(*) FILTER (WHERE new_member_id IS NULL)
    FROM csm.assignment_log WHERE action = 'handoff'"

echo "# assign churn stress: $(( $(date +%s) - started )) s in all"
if [ "$failed" != 0 ]; then
    echo "not ok - assign churn stress: see above (database $db kept)"
    exit 1
fi
echo "ok - auto-assign while members leave and return: no deadlocks, one primary each, nobody inactive owns anything"
dropdb "$db"
