#!/usr/bin/env bash
# pgbench stress on a Citus cluster: the workload and the checks of
# test/shell/conversation_stress.sh (test/shell/lib/conversation_*), with
# plain statements through the coordinator: 8 clients open, resolve, reopen
# and requeue conversations while agents go on and off line and
# reassign_stale runs. Afterwards csm_internal.agent_load equals a recount, nobody is
# over their limit, nothing waits while an agent of its team is free, the
# audit log has one row per move, nothing is left unsettled, and no client
# saw an error (a distributed deadlock would be one).
#
# Runs against the coordinator in PGHOST/PGPORT/PGUSER/PGDATABASE where csm
# is created and csm.distribute() has run; makes its own accounts (ids from
# 7100001), teams (support, billing) and agents (member_id from 7100001), and
# drops them at the end (their audit rows stay: the log is append-only).
set -euo pipefail
lib="$(dirname "$0")/../shell/lib"
abase=7100000 mbase=7100000
clients=${CONVERSATION_STRESS_CLIENTS:-8} txns=${CONVERSATION_STRESS_TXNS:-60}
log=$(mktemp) checks=$(mktemp)
trap 'rm -f "$log" "$checks"' EXIT

cleanup() {
    psql -qX -v ON_ERROR_STOP=1 <<SQL
DELETE FROM csm.conversation WHERE account_id BETWEEN $abase + 1 AND $abase + 20;
DELETE FROM csm_internal.agent_load WHERE member_id BETWEEN $mbase + 1 AND $mbase + 14;
DELETE FROM csm.team_member WHERE member_id BETWEEN $mbase + 1 AND $mbase + 14;
DELETE FROM csm.support_team WHERE team IN ('support', 'billing');
SQL
    psql -qX -c "DELETE FROM csm.account WHERE account_id BETWEEN $abase + 1 AND $abase + 20" ||
        echo "# (the accounts stay; the setup reuses them)"
}
cleanup >/dev/null
psql -qX -v ON_ERROR_STOP=1 -v abase=$abase -v mbase=$mbase -f "$lib/conversation_setup.sql"

pgbench -n -c "$clients" -j 2 -t "$txns" -D abase=$abase -D mbase=$mbase -f "$lib/conversation_workload.pgb" \
    > "$log" 2>&1 || { cat "$log"; echo "not ok - pgbench reported errors"; exit 1; }
grep -E "number of (transactions actually processed|failed)|tps" "$log" || true
# pgbench counts a transaction that Citus cancelled as a distributed deadlock as "failed", and goes on.
if grep -qE "number of failed transactions: [1-9]" "$log"; then
    grep -m 5 -E "ERROR|error" "$log" || true
    echo "not ok - transactions failed (deadlocks)"; exit 1
fi

psql -qAtX -v ON_ERROR_STOP=1 -v abase=$abase -v mbase=$mbase -f "$lib/conversation_checks.sql" | tee "$checks"
! grep -q '^not ok' "$checks" || exit 1
cleanup
echo "ok - conversation routing on Citus consistent under $clients concurrent clients, one log row per move"
