#!/usr/bin/env bash
# pgbench stress: 16 clients open, resolve, reopen and requeue support
# conversations of two teams (one agent in both) while agents go on and off
# line and reassign_stale runs. Afterwards csm_internal.agent_load must equal a
# recount, nobody may be over their limit, nothing may wait while an agent
# of its team could take it, and the audit log must hold exactly one row per
# move (each move starts from where the previous one left the conversation);
# no deadlock and no error. test/citus/conversation_stress.sh runs the same
# workload and checks (test/shell/lib/conversation_*) on a Citus cluster.
set -euo pipefail
lib="$(dirname "$0")/lib"
. "$lib/stress.sh"
db=csm_stress_conversation
fresh_db "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION csm'
psql -qX -v ON_ERROR_STOP=1 -v abase=0 -v mbase=0 -d "$db" -f "$lib/conversation_setup.sql"

before=$(deadlocks "$db")
pgbench -n -c 16 -j 2 -t 300 -D abase=0 -D mbase=0 -f "$lib/conversation_workload.pgb" "$db" \
    > /tmp/csm_stress_conversation.log 2>&1 || {
    cat /tmp/csm_stress_conversation.log; echo "not ok - pgbench reported errors"; exit 1; }
grep -E "number of (transactions actually processed|failed)|tps" /tmp/csm_stress_conversation.log || true

psql -qAtX -v ON_ERROR_STOP=1 -v abase=0 -v mbase=0 -d "$db" -f "$lib/conversation_checks.sql" | tee /tmp/csm_stress_conversation.checks
! grep -q '^ *not ok' /tmp/csm_stress_conversation.checks || exit 1
no_new_deadlocks "$db" "$before" || exit 1
echo "ok - conversation routing consistent under 16 concurrent clients, one log row per move, no deadlocks"
dropdb "$db"
