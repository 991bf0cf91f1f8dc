#!/usr/bin/env bash
# pgbench stress of csm_auto_assign: many sessions filling one pool at once.
#
#   round robin   8 members of team rr, no capacity; 16 clients x 100
#                 transactions, each auto-assigning one of 1,600 accounts
#                 (a sequence hands each account out once).
#   least loaded  4 members of team ll with capacities 200, 400, 600 and
#                 800 load units; 20 clients x 50 transactions over 1,000
#                 SMB accounts (1 load unit each), so the pool ends half
#                 full and the split is the picker's doing, not capacity's.
#   multi-row     8 members of team mr, no capacity; 8 clients x 10
#                 transactions, each inserting 25 accounts in one statement,
#                 which the insert trigger routes round robin (a batch).
#
# The accounts exist before the rules, so the insert trigger routes none of
# them.  Afterwards: every account has exactly one current primary; each
# member got its share (round robin: 200 +- 1; least loaded: within 1 of
# 1000 * capacity / total capacity; multi-row: 250 +- 1, the spread at
# most 1); nobody is over capacity; pgbench
# reported no failed transaction and the server no new deadlock; the audit
# log has exactly one 'assign' row per assignment and nothing else; and
# csm_internal.member_load equals a recount from csm.account_assignment.
set -euo pipefail
. "$(dirname "$0")/lib/stress.sh"
. "$(dirname "$0")/lib/assign.sh"
db=csm_stress_assign
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

# ---------------------------------------------------------------- setup
started=$(date +%s)
fresh_db "$db"
q <<'SQL'
CREATE EXTENSION csm;
-- (capacity: room for every account, these races are not about capacity;
-- a NULL capacity would be a full book of 100 SMB accounts)
INSERT INTO csm.team_member (handle, teams, capacity)
SELECT 'rr_' || i, ARRAY['rr'], 100000 FROM generate_series(1, 8) i;
INSERT INTO csm.team_member (handle, teams, capacity)
SELECT 'll_' || i, ARRAY['ll'], 200 * i FROM generate_series(1, 4) i;
INSERT INTO csm.team_member (handle, teams, capacity)
SELECT 'mr_' || i, ARRAY['mr'], 100000 FROM generate_series(1, 8) i;
-- Before any rule: the insert trigger routes nothing.
INSERT INTO csm.account (external_id, segment)
SELECT 'acct_' || i, 'smb' FROM generate_series(1, 1600) i;
INSERT INTO csm.account (external_id, segment)
SELECT 'll_acct_' || i, 'smb' FROM generate_series(1, 1000) i;
CREATE SEQUENCE rr_next;
-- Every member's current primary accounts, recounted from the relationships.
CREATE VIEW book AS
SELECT m.member_id, m.handle, m.teams, m.capacity, count(x.account_id) AS accounts
FROM csm.team_member m
LEFT JOIN csm.account_assignment x ON x.member_id = m.member_id AND x.is_primary AND x.ended_at IS NULL
GROUP BY m.member_id;
CREATE SEQUENCE ll_next;
CREATE SEQUENCE mr_next;
ANALYZE;
SQL
expect "setup: no account was routed on insert" 0 "SELECT count(*) FROM csm.account_assignment"

# ---------------------------------------------------------------- round robin
q -c "INSERT INTO csm.routing_rule (name, target_kind, target, strategy) VALUES ('rr', 'team', 'rr', 'round_robin')"
echo "SELECT csm.csm_auto_assign('acct_' || nextval('rr_next'));" >"$work/rr.pgbench"
run_pgbench "round robin" 16 100 "$work/rr.pgbench"
check_pool "round robin" acct_ 1600
echo "# round robin: accounts per member: $(book_spread rr)"
expect "round robin: every member got 200 +- 1 accounts" "8|0" "
    SELECT count(*), count(*) FILTER (WHERE abs(accounts - 200) > 1) FROM book WHERE 'rr' = ANY (teams)"

# ---------------------------------------------------------------- least loaded
q -c "INSERT INTO csm.routing_rule (name, target_kind, target, strategy) VALUES ('ll', 'team', 'll', 'least_loaded')"
echo "SELECT csm.csm_auto_assign('ll_acct_' || nextval('ll_next'), 'll');" >"$work/ll.pgbench"
run_pgbench "least loaded" 20 50 "$work/ll.pgbench"
check_pool "least loaded" ll_acct_ 1000
echo "# least loaded: accounts per member (capacity-proportional share): $(q -c "
    SELECT string_agg(format('%s=%s (%s)', s.handle, s.accounts, round(s.share, 1)), ' ' ORDER BY s.member_id)
    FROM (SELECT member_id, handle, accounts, 1000.0 * capacity / sum(capacity) OVER () AS share
          FROM book WHERE 'll' = ANY (teams)) s")"
expect "least loaded: every member's account count is within 1 of its capacity-proportional share" "4|0" "
    SELECT count(*), count(*) FILTER (WHERE abs(s.accounts - s.share) > 1) FROM (
        SELECT accounts, 1000.0 * capacity / sum(capacity) OVER () AS share
        FROM book WHERE 'll' = ANY (teams)) s"

# ---------------------------------------------------------------- multi-row
# Only the rule of team mr routes: the accounts come in through the insert
# trigger, 25 a statement.
q <<'SQL'
UPDATE csm.routing_rule SET enabled = false;
INSERT INTO csm.routing_rule (name, target_kind, target, strategy) VALUES ('mr', 'team', 'mr', 'round_robin');
SQL
echo "INSERT INTO csm.account (external_id, segment) SELECT 'mr_acct_' || nextval('mr_next'), 'smb' FROM generate_series(1, 25);" \
    >"$work/mr.pgbench"
run_pgbench "multi-row" 8 10 "$work/mr.pgbench"
check_pool "multi-row" mr_acct_ 2000
echo "# multi-row: accounts per member: $(book_spread mr)"
expect "multi-row: every member got 250 +- 1 accounts, within one of each other" "8|0|t" "
    SELECT count(*), count(*) FILTER (WHERE abs(accounts - 250) > 1), max(accounts) - min(accounts) <= 1
    FROM book WHERE 'mr' = ANY (teams)"

echo "# assign stress: $(( $(date +%s) - started )) s in all"
if [ "$failed" != 0 ]; then
    echo "not ok - assign stress: see above (database $db kept)"
    exit 1
fi
echo "ok - auto-assign under 16 and 20 concurrent clients, and 8 inserting 25 accounts a statement: one primary each, fair shares, exact loads, no deadlocks"
dropdb "$db"
