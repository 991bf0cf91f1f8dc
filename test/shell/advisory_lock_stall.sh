#!/usr/bin/env bash
# A role with no rights on csm cannot stall assignments or conversation
# routing by taking the advisory locks csm used to serialise on (issue 11,
# 2.3): the member key (1668508977, member_id) and the team queue key
# (1668508017, hashtext(team)).  csm serialises on rows of its own tables
# now, which such a role cannot lock.
#
# One session, as role csm_nobody (no grant on csm), holds both advisory
# locks; then csm_auto_assign and csm_assign to that member, a conversation
# left waiting in that team's queue and route_waiting of that team must all
# finish.  They run with lock_timeout, so a stall is an error (55P03), not a
# hang; nothing here is timed.
set -euo pipefail
. "$(dirname "$0")/lib/stress.sh"
db=csm_advisory_stall
failed=0
holder=

fresh_db "$db"
cleanup() {
    [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
    psql -qAtX -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                               WHERE datname = '$db' AND application_name = 'csm_nobody'" >/dev/null 2>&1 || true
}
trap cleanup EXIT
q <<'SQL'
CREATE EXTENSION csm;
DROP ROLE IF EXISTS csm_nobody;
CREATE ROLE csm_nobody;
INSERT INTO csm.team_member (handle, teams) VALUES ('dana', ARRAY['enterprise']);
INSERT INTO csm.account (external_id, segment) VALUES ('org_1', 'enterprise'), ('org_2', 'enterprise');
SQL
member=$(q -c "SELECT member_id FROM csm.team_member WHERE handle = 'dana'")

# The holder: takes both locks as csm_nobody and keeps its session open.
PGAPPNAME=csm_nobody psql -qAtX -d "$db" \
    -c "SET ROLE csm_nobody" \
    -c "SELECT pg_advisory_lock(1668508977, $member), pg_advisory_lock(1668508017, hashtext('support'))" \
    -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 1 600); do
    held=$(q -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'csm_nobody'")
    [ "$held" = 2 ] && break
    sleep 0.1
done
expect "csm_nobody holds both advisory locks" 2 "
    SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'csm_nobody'"

# attempt WHAT WANT SQL: as expect, but an error (a lock timeout) is a "not ok"
# like any other wrong answer, and the checks after it still run.
attempt() {
    local got
    got=$(q -c "$3" 2>&1) || true
    if [ "$got" = "$2" ]; then
        echo "ok - $1"
    else
        echo "not ok - $1: got '$got', want '$2'"
        failed=1
    fi
}

export PGOPTIONS='-c lock_timeout=5s'
attempt "csm_auto_assign to the member is not stalled" "t|dana" "
    SELECT assignment_success, assigned_csm FROM csm.csm_auto_assign('org_1', 'enterprise')"
attempt "csm_assign to the member is not stalled" "t|dana" "
    SELECT assignment_success, assigned_csm FROM csm.csm_assign('org_2', 'dana')"
attempt "a conversation left waiting in the team's queue is not stalled" "t" "
    INSERT INTO csm.conversation (account_id, team)
    SELECT account_id, 'support' FROM csm.account WHERE external_id = 'org_1'
    RETURNING waiting_since IS NOT NULL"
attempt "route_waiting of the team is not stalled" 0 "SELECT csm.route_waiting('support')"
unset PGOPTIONS

if [ "$failed" != 0 ]; then
    echo "not ok - advisory lock stall: see above"
    exit 1
fi
cleanup
holder=
dropdb --force "$db"
q() { psql -qAtX -v ON_ERROR_STOP=1 -d postgres "$@"; }
q -c "DROP ROLE csm_nobody"
echo "ok - an unprivileged role holding csm's old advisory lock keys stalls neither assignments nor conversation routing"
