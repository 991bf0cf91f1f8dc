#!/usr/bin/env bash
# Two csm.refresh_churn() calls on a Citus cluster run one after the other:
# they serialise on the row ('churn', 'signals') of csm_internal.lock_row, a
# reference table, not on an advisory lock (which is per node).  And a
# refresh called on a worker says it runs on the coordinator (55000).
#
# Session A refreshes in an open transaction and then sleeps; session B
# refreshes meanwhile.  B must be seen waiting for A (citus_lock_waits on
# the coordinator, or pg_blocking_pids without Citus), holding or wanting no
# advisory lock; A's sleep is then cancelled (its transaction ends), and B
# must finish.  Every wait is bounded; nothing is timed.
#
# Run against a coordinator where csm is created and distributed:
#   PGHOST=127.0.0.1 PGPORT=5650 PGUSER=postgres PGDATABASE=csm_citus \
#   CITUS_WORKER_PORTS="5651 5652" test/citus/churn_lock.sh
# It makes no objects of its own: it refreshes whatever accounts there are.
set -euo pipefail
work=$(mktemp -d -t csm_churn_lock.XXXXXX)
a_pid=
b_pid=
failed=0
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name IN ('csm_churn_lock_a', 'csm_churn_lock_b')" >/dev/null 2>&1 || true
    [ -n "$a_pid" ] && kill "$a_pid" 2>/dev/null || true
    [ -n "$b_pid" ] && kill "$b_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; failed=1; }
citus=$(q -c "SELECT count(*) FROM pg_extension WHERE extname = 'citus'")

# A: refresh, then hold the transaction open (its sleep is cancelled below)
PGAPPNAME=csm_churn_lock_a psql -qAtX -c 'BEGIN' -c 'SELECT csm.refresh_churn()' -c 'SELECT pg_sleep(300)' \
    -c 'COMMIT' >"$work/a.out" 2>&1 &
a_pid=$!
# ... until A sleeps, holding the lock row
for _ in $(seq 1 600); do
    [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'csm_churn_lock_a'
                 AND query = 'SELECT pg_sleep(300)' AND state = 'active'")" = 1 ] && break
    kill -0 "$a_pid" 2>/dev/null || break
    sleep 0.2
done
if [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'csm_churn_lock_a'
              AND query = 'SELECT pg_sleep(300)'")" = 1 ]; then
    ok "session A refreshed and holds its transaction open"
else
    not_ok "session A refreshed and holds its transaction open"; cat "$work/a.out"; exit 1
fi

# B: the same refresh
PGAPPNAME=csm_churn_lock_b psql -qAtX -c 'SELECT csm.refresh_churn()' >"$work/b.out" 2>&1 &
b_pid=$!
if [ "$citus" = 1 ]; then
    waiting="SELECT count(*) FROM citus_lock_waits w
             JOIN pg_stat_activity b ON b.application_name = 'csm_churn_lock_b'
             JOIN pg_stat_activity a ON a.application_name = 'csm_churn_lock_a'
             WHERE w.waiting_gpid % 10000000000 = b.pid AND w.blocking_gpid % 10000000000 = a.pid"
else
    waiting="SELECT count(*) FROM pg_stat_activity b, pg_stat_activity a
             WHERE b.application_name = 'csm_churn_lock_b' AND a.application_name = 'csm_churn_lock_a'
               AND a.pid = ANY (pg_blocking_pids(b.pid))"
fi
seen=0
for _ in $(seq 1 600); do
    if [ "$(q -c "$waiting")" = 1 ]; then seen=1; break; fi
    kill -0 "$b_pid" 2>/dev/null || break
    sleep 0.2
done
if [ "$seen" = 1 ]; then ok "session B waits for session A"; else not_ok "session B waits for session A"; fi
# not for an advisory lock of csm's (the old per-node lock)
advisory=$(q -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity b ON b.pid = l.pid
                 WHERE b.application_name = 'csm_churn_lock_b' AND l.locktype = 'advisory'")
if [ "$advisory" = 0 ]; then ok "session B holds and waits for no advisory lock"; else not_ok "session B holds and waits for no advisory lock"; fi
if kill -0 "$b_pid" 2>/dev/null; then ok "session B has not finished while A holds the lock"; else not_ok "session B has not finished while A holds the lock"; cat "$work/b.out"; fi

# A ends; B goes on (bounded: two minutes)
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'csm_churn_lock_a'" >/dev/null
for _ in $(seq 1 600); do kill -0 "$b_pid" 2>/dev/null || break; sleep 0.2; done
if ! kill -0 "$b_pid" 2>/dev/null && wait "$b_pid" && grep -Eq '^[0-9]+$' "$work/b.out"; then
    ok "session B finishes once A's transaction ends: $(cat "$work/b.out") accounts scored"
else
    not_ok "session B finishes once A's transaction ends"; cat "$work/b.out"
fi
b_pid=
wait "$a_pid" 2>/dev/null || true
a_pid=

# On a worker, the refresh says where it runs.
for port in ${CITUS_WORKER_PORTS:-}; do
    state=$(psql -qAtX -p "$port" -v VERBOSITY=verbose -c 'SELECT csm.refresh_churn()' 2>&1 | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' | head -n 1 || true)
    if [ "$state" = 55000 ]; then ok "refresh_churn on the worker at port $port: 55000"; else not_ok "refresh_churn on the worker at port $port: 55000 (got '$state')"; fi
done

if [ "$failed" != 0 ]; then echo "churn_lock: FAILED"; exit 1; fi
echo "churn_lock: ok"
