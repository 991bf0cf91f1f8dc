#!/usr/bin/env bash
# pgbench stress of member deactivation on a Citus cluster: while clients
# auto-assign accounts and insert new ones (routed at commit), others
# deactivate and reactivate members with a plain UPDATE of csm.team_member,
# whose trigger hands a leaver's book over. csm.team_member is a reference
# table, which Citus locks as a whole on every node; before csm took its
# ownership lock ahead of that UPDATE (src/ownership_lock.c), the UPDATE and
# the assignments took the two locks in opposite orders and about a third of
# the transactions failed with deadlocks.
#
#   6 members of team dx; 40 accounts; 8 clients x 12 transactions mixing
#   csm_auto_assign of an account (weight 3), UPDATE team_member SET active
#   = NOT active (weight 2) and an INSERT of 2 accounts (weight 2).
#
# Then: no failed transaction and no deadlock on any node; every account of
# the team has exactly one current primary, held by an active member, or
# waits in the queue when nobody of the team was active; member_load equals
# a recount; every copy of the reference tables is the same.
#
# Runs against a coordinator where csm is created and distributed:
#   PGHOST=127.0.0.1 PGPORT=5630 PGUSER=postgres PGDATABASE=csm_citus \
#   CITUS_WORKER_PORTS="5631 5632" test/citus/deactivate_stress.sh
# Its members, accounts and rule are named dx_* and removed at the end.
set -euo pipefail
here=$(dirname "$0")
. "$here/../shell/lib/stress.sh"
. "$here/../shell/lib/assign.sh"
db=${PGDATABASE:?set PGDATABASE (and PGHOST, PGPORT) to a distributed csm database}
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
SET client_min_messages = warning;
DELETE FROM csm.routing_rule WHERE name LIKE 'dx\_%';
DELETE FROM csm.account WHERE external_id LIKE 'dx\_%';
DELETE FROM csm.team_member WHERE handle LIKE 'dx\_%';
DELETE FROM csm.segment WHERE name LIKE 'dx\_%';
DROP SEQUENCE IF EXISTS dx_next;
BEGIN;
SET LOCAL citus.enable_unsafe_triggers = on;
ALTER TABLE csm.assignment_log DISABLE TRIGGER assignment_log_append_only;
DELETE FROM csm.assignment_log WHERE external_id LIKE 'dx\_%';
ALTER TABLE csm.assignment_log ENABLE TRIGGER assignment_log_append_only;
COMMIT;
SQL
}

copies_agree() {
    expect "every copy of $1 holds the same rows" "t" "
        SELECT count(*) >= 2 AND bool_and(success) AND count(DISTINCT result) = 1
        FROM run_command_on_placements('$1',
            'SELECT md5(coalesce(string_agg(t::text, '','' ORDER BY $2), '''')) FROM %s t')"
}

started=$(date +%s)
cleanup
q <<'SQL'
CREATE SEQUENCE dx_next;
-- The test's own segment (an account's segment must be in csm.segment), and
-- room for every account: this race is not about capacity (a NULL capacity
-- would be a full book of 100 such accounts).
INSERT INTO csm.segment (name, csm_ratio, touch_model, review_cadence) VALUES ('dx_smb', 100, 'low_touch', '1 year');
INSERT INTO csm.team_member (handle, teams, capacity) SELECT 'dx_' || i, ARRAY['dx'], 100000 FROM generate_series(1, 6) i;
INSERT INTO csm.routing_rule (name, condition, target_kind, target, strategy)
VALUES ('dx_rr', 'segment = ''dx_smb''', 'team', 'dx', 'round_robin');
INSERT INTO csm.account (external_id, segment) SELECT 'dx_acct_' || i, 'dx_smb' FROM generate_series(1, 40) i;
SQL
cat >"$work/assign.pgbench" <<'PGB'
\set a random(1, 40)
SELECT csm.csm_auto_assign('dx_acct_' || :a);
PGB
cat >"$work/toggle.pgbench" <<'PGB'
\set m random(1, 6)
UPDATE csm.team_member SET active = NOT active WHERE handle = 'dx_' || :m;
PGB
cat >"$work/insert.pgbench" <<'PGB'
INSERT INTO csm.account (external_id, segment) SELECT 'dx_new_' || nextval('dx_next'), 'dx_smb' FROM generate_series(1, 2);
PGB
before=$(deadlocks "$db")
if pgbench -n -c 8 -j 2 -t 12 --failures-detailed -f "$work/assign.pgbench@3" -f "$work/toggle.pgbench@2" \
    -f "$work/insert.pgbench@2" "$db" >"$work/pgbench.log" 2>&1; then
    echo "ok - pgbench ran 8 clients x 12 transactions"
else
    cat "$work/pgbench.log"
    echo "not ok - pgbench failed"
    failed=1
fi
grep -E '^(number of (failed|deadlock)|tps)' "$work/pgbench.log" | sed 's/^/# /'
failed_txns=$(awk -F': *' '/^number of failed transactions/ { split($2, a, " "); print a[1] }' "$work/pgbench.log")
expect "no failed transactions (deadlocks included)" 0 "SELECT ${failed_txns:-0}"
if no_new_deadlocks "$db" "$before"; then echo "ok - no deadlocks on any node"; else failed=1; fi

# A last round: everybody active again, then the queue served.
q -c "UPDATE csm.team_member SET active = true WHERE handle LIKE 'dx\_%'" -c "SELECT csm.assign_queued()" >/dev/null
expect "every account of the team has exactly one current primary, an active member of the team" "0" "
    SELECT count(*) FROM (
        SELECT a.account_id, count(x.account_id) FILTER (WHERE m.active AND 'dx' = ANY (m.teams)) AS good,
               count(x.account_id) AS primaries
        FROM csm.account a
        LEFT JOIN csm.account_assignment x ON x.account_id = a.account_id AND x.is_primary AND x.ended_at IS NULL
        LEFT JOIN csm.team_member m ON m.member_id = x.member_id
        WHERE a.external_id LIKE 'dx\_%' GROUP BY a.account_id) c
    WHERE c.primaries <> 1 OR c.good <> 1"
expect_member_load "csm_internal.member_load equals a recount from csm.account_assignment"
copies_agree csm.team_member member_id
copies_agree csm_internal.member_load member_id
copies_agree csm.account account_id

echo "# deactivation stress on Citus: $(( $(date +%s) - started )) s"
if [ "$failed" != 0 ]; then
    echo "not ok - deactivation stress on Citus: see above (objects dx_* kept)"
    exit 1
fi
cleanup
echo "ok - on a Citus cluster, members deactivated and reactivated while 8 clients assign and insert accounts: no deadlock, one active primary each, exact loads, identical copies"
