#!/usr/bin/env bash
# pgbench stress of assignment on a Citus cluster, where csm.account,
# team_member, member_load, member_lock and lock_row are reference tables
# (a copy on every node; locks are their rows, FOR UPDATE, on every copy)
# and account_assignment and assignment_log are distributed by account_id.
# The same questions as test/shell/assign_stress.sh asks of one node
# (test/shell/lib/assign.sh), at a size two shared CPUs run in a minute:
#
#   round robin   8 members of team ast_rr, no capacity; 8 clients x 25
#                 transactions, each csm_auto_assign of one of 200 accounts:
#                 25 each, spread 0.
#   least loaded  4 members of team ast_ll with capacities 50, 100, 150 and
#                 200 load units; 8 clients x 25 transactions over 200 SMB
#                 accounts (1 load unit each): each within 1 of its share
#                 of capacity (20, 40, 60, 80).
#   multi-row     4 members of team ast_mr, no capacity; 4 clients x 5
#                 transactions, each inserting 10 accounts in one INSERT ...
#                 SELECT, which csm routes round robin at commit (on Citus:
#                 see src/sql/40_ownership/54_routing.sql): 50 each, spread 0.
#   by hand       4 members of team ast_h; 8 clients x 25 transactions,
#                 each csm_assign of one of 20 accounts to one of the 4, at
#                 random: still exactly one current primary per account,
#                 and exact loads.
#
# Afterwards, as on one node: one current primary per account, one
# relationship and one 'assign' audit row per assignment, member_load equal
# to a recount, nobody over capacity, no failed transaction (Citus cancels
# a distributed deadlock, which would show here), no deadlock on any node;
# and every copy of the reference tables the same.
#
# Runs against a coordinator where csm is created and distributed:
#   PGHOST=127.0.0.1 PGPORT=5630 PGUSER=postgres PGDATABASE=csm_citus \
#   CITUS_WORKER_PORTS="5631 5632" test/citus/assign_stress.sh
# It makes its own members, accounts and rules (named ast_*), and removes
# them at the end, audit rows included.
set -euo pipefail
here=$(dirname "$0")
. "$here/../shell/lib/stress.sh"
. "$here/../shell/lib/assign.sh"
db=${PGDATABASE:?set PGDATABASE (and PGHOST, PGPORT) to a distributed csm database}
book_view=ast_book
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

# Deadlocks on every node: the coordinator's and each worker's.
deadlocks() {
    local total p
    total=$(psql -AtX -d "$1" -c "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    for p in ${CITUS_WORKER_PORTS:-}; do
        total=$((total + $(psql -AtX -p "$p" -d "$1" -c "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")))
    done
    echo "$total"
}

cleanup() {
    q <<'SQL'
DELETE FROM csm.routing_rule WHERE name LIKE 'ast\_%';
DELETE FROM csm.account WHERE external_id LIKE 'ast\_%';
DELETE FROM csm.team_member WHERE handle LIKE 'ast\_%';
DELETE FROM csm.segment WHERE name LIKE 'ast\_%';
DROP VIEW IF EXISTS ast_book;
DROP SEQUENCE IF EXISTS ast_rr_next, ast_ll_next, ast_mr_next;
BEGIN;
SET LOCAL citus.enable_unsafe_triggers = on;
ALTER TABLE csm.assignment_log DISABLE TRIGGER assignment_log_append_only;
DELETE FROM csm.assignment_log WHERE external_id LIKE 'ast\_%';
ALTER TABLE csm.assignment_log ENABLE TRIGGER assignment_log_append_only;
COMMIT;
SQL
}

# copies_agree TABLE ORDER: every copy of a reference table holds the same rows.
copies_agree() {
    expect "every copy of $1 holds the same rows" "t" "
        SELECT count(*) >= 2 AND bool_and(success) AND count(DISTINCT result) = 1
        FROM run_command_on_placements('$1',
            'SELECT md5(coalesce(string_agg(t::text, '','' ORDER BY $2), '''')) FROM %s t')"
}

# ---------------------------------------------------------------- setup
started=$(date +%s)
cleanup
q <<'SQL'
-- The test's own segments (an account's segment must be in csm.segment),
-- and room for every account where these races are not about capacity (a
-- NULL capacity would be a full book of 100 such accounts).
INSERT INTO csm.segment (name, csm_ratio, touch_model, review_cadence) VALUES
    ('ast_smb', 100, 'low_touch', '1 year'), ('ast_mr', 100, 'low_touch', '1 year');
INSERT INTO csm.team_member (handle, teams, capacity) SELECT 'ast_rr_' || i, ARRAY['ast_rr'], 100000 FROM generate_series(1, 8) i;
INSERT INTO csm.team_member (handle, teams, capacity) SELECT 'ast_ll_' || i, ARRAY['ast_ll'], 50 * i FROM generate_series(1, 4) i;
INSERT INTO csm.team_member (handle, teams, capacity) SELECT 'ast_mr_' || i, ARRAY['ast_mr'], 100000 FROM generate_series(1, 4) i;
INSERT INTO csm.team_member (handle, teams, capacity) SELECT 'ast_h_' || i, ARRAY['ast_h'], 100000 FROM generate_series(1, 4) i;
-- Before any rule of these teams: csm routes none of them.
INSERT INTO csm.account (external_id, segment) SELECT 'ast_rr_acct_' || i, 'ast_smb' FROM generate_series(1, 200) i;
INSERT INTO csm.account (external_id, segment) SELECT 'ast_ll_acct_' || i, 'ast_smb' FROM generate_series(1, 200) i;
INSERT INTO csm.account (external_id, segment) SELECT 'ast_h_acct_' || i, 'ast_smb' FROM generate_series(1, 20) i;
CREATE SEQUENCE ast_rr_next;
CREATE SEQUENCE ast_ll_next;
CREATE SEQUENCE ast_mr_next;
CREATE VIEW ast_book AS
SELECT m.member_id, m.handle, m.teams, m.capacity, count(x.account_id) AS accounts
FROM csm.team_member m
LEFT JOIN csm.account_assignment x ON x.member_id = m.member_id AND x.is_primary AND x.ended_at IS NULL
WHERE m.handle LIKE 'ast\_%'
GROUP BY m.member_id;
SQL
expect "setup: no account was routed on insert" 0 "
    SELECT count(*) FROM csm.account_assignment x JOIN csm.account a USING (account_id) WHERE a.external_id LIKE 'ast\_%'"

# ---------------------------------------------------------------- round robin
q -c "INSERT INTO csm.routing_rule (name, condition, target_kind, target, strategy)
      VALUES ('ast_rr', 'segment = ''ast_smb''', 'team', 'ast_rr', 'round_robin')"
echo "SELECT csm.csm_auto_assign('ast_rr_acct_' || nextval('ast_rr_next'));" >"$work/rr.pgbench"
run_pgbench "round robin" 8 25 "$work/rr.pgbench"
check_pool "round robin" ast_rr_acct_ 200
echo "# round robin: accounts per member: $(book_spread ast_rr)"
expect "round robin: every member got 25 accounts, spread 0" "8|0|0" "
    SELECT count(*), count(*) FILTER (WHERE accounts <> 25), max(accounts) - min(accounts) FROM ast_book WHERE 'ast_rr' = ANY (teams)"

# ---------------------------------------------------------------- least loaded
q -c "INSERT INTO csm.routing_rule (name, condition, target_kind, target, strategy)
      VALUES ('ast_ll', 'segment = ''ast_smb''', 'team', 'ast_ll', 'least_loaded')"
echo "SELECT csm.csm_auto_assign('ast_ll_acct_' || nextval('ast_ll_next'), 'ast_ll');" >"$work/ll.pgbench"
run_pgbench "least loaded" 8 25 "$work/ll.pgbench"
check_pool "least loaded" ast_ll_acct_ 200
echo "# least loaded: accounts per member (capacity-proportional share): $(q -c "
    SELECT string_agg(format('%s=%s (%s)', s.handle, s.accounts, round(s.share, 1)), ' ' ORDER BY s.member_id)
    FROM (SELECT member_id, handle, accounts, 200.0 * capacity / sum(capacity) OVER () AS share
          FROM ast_book WHERE 'ast_ll' = ANY (teams)) s")"
expect "least loaded: every member's account count is within 1 of its capacity-proportional share" "4|0" "
    SELECT count(*), count(*) FILTER (WHERE abs(s.accounts - s.share) > 1) FROM (
        SELECT accounts, 200.0 * capacity / sum(capacity) OVER () AS share
        FROM ast_book WHERE 'ast_ll' = ANY (teams)) s"

# ---------------------------------------------------------------- multi-row
# Only the rule of team ast_mr routes: the accounts come in through
# csm.account's insert trigger, 10 a statement.
q -c "UPDATE csm.routing_rule SET enabled = false WHERE name IN ('ast_rr', 'ast_ll')"
q -c "INSERT INTO csm.routing_rule (name, condition, target_kind, target, strategy)
      VALUES ('ast_mr', 'segment = ''ast_mr''', 'team', 'ast_mr', 'round_robin')"
echo "INSERT INTO csm.account (external_id, segment) SELECT 'ast_mr_acct_' || nextval('ast_mr_next'), 'ast_mr' FROM generate_series(1, 10);" \
    >"$work/mr.pgbench"
run_pgbench "multi-row" 4 5 "$work/mr.pgbench"
check_pool "multi-row" ast_mr_acct_ 200
echo "# multi-row: accounts per member: $(book_spread ast_mr)"
expect "multi-row: every member got 50 accounts, spread 0" "4|0|0" "
    SELECT count(*), count(*) FILTER (WHERE accounts <> 50), max(accounts) - min(accounts) FROM ast_book WHERE 'ast_mr' = ANY (teams)"

# ---------------------------------------------------------------- by hand
cat >"$work/h.pgbench" <<'PGB'
\set a random(1, 20)
\set m random(1, 4)
SELECT csm.csm_assign('ast_h_acct_' || :a, 'ast_h_' || :m);
PGB
run_pgbench "by hand" 8 25 "$work/h.pgbench"
expect "by hand: each of the 20 accounts has exactly one current primary" "20|0" "
    SELECT count(*), count(*) FILTER (WHERE c.primaries <> 1) FROM (
        SELECT a.account_id, count(x.account_id) AS primaries
        FROM csm.account a
        LEFT JOIN csm.account_assignment x ON x.account_id = a.account_id AND x.is_primary AND x.ended_at IS NULL
        WHERE a.external_id LIKE 'ast\_h\_acct\_%' GROUP BY a.account_id) c"
expect "by hand: one audit row per relationship started" "t" "
    SELECT (SELECT count(*) FROM csm.account_assignment x JOIN csm.account a USING (account_id)
            WHERE a.external_id LIKE 'ast\_h\_acct\_%')
         = (SELECT count(*) FROM csm.assignment_log l WHERE l.external_id LIKE 'ast\_h\_acct\_%' AND l.action = 'assign')"
expect_member_load "by hand: csm_internal.member_load equals a recount from csm.account_assignment"

# ---------------------------------------------------------------- copies
copies_agree csm_internal.member_load member_id
copies_agree csm_internal.member_lock member_id
copies_agree csm.team_member member_id
copies_agree csm.account account_id
copies_agree csm_internal.lock_row scope,key

echo "# assign stress on Citus: $(( $(date +%s) - started )) s in all"
if [ "$failed" != 0 ]; then
    echo "not ok - assign stress on Citus: see above (objects ast_* kept)"
    exit 1
fi
cleanup
echo "ok - on a Citus cluster, auto-assign under 8 concurrent clients, 4 inserting 10 accounts a statement, and 8 assigning by hand: one primary each, fair shares, exact loads, no deadlocks, identical copies"
