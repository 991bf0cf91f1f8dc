#!/usr/bin/env bash
# NOTIFY csm_alert across sessions: a second session that LISTENs receives
# exactly one notification per alert a committed transaction raised, with
# the documented payload; none from a transaction that rolled back, and
# none from a run that raised nothing.
#
# No timed assertion: after each step the writer sends a marker
# notification on another channel in a later transaction.  Notifications
# reach a listener in commit order, so once the listener has the marker it
# has every csm_alert notification committed before it; the test then counts
# them.  (The listener polls for the marker: a bounded wait, not a check.)
set -euo pipefail
cd "$(dirname "$0")/../.."
db=csm_alert_notify
dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
out=$(mktemp)
cleanup() {
    if [ -n "${LISTENER_PID:-}" ]; then kill "$LISTENER_PID" 2>/dev/null || true; wait "$LISTENER_PID" 2>/dev/null || true; fi
    rm -f "$out"
    dropdb --if-exists "$db" >/dev/null 2>&1
}
trap cleanup EXIT
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION csm' -c "
    INSERT INTO csm.team_member (handle) VALUES ('nina');
    INSERT INTO csm.account (account_id, external_id, arr) SELECT i, 'notify_' || i, 1000 FROM generate_series(1, 3) i;" >/dev/null

fail() { echo "not ok - $1"; cat "$out"; exit 1; }

# The listener: a psql of its own, fed through a pipe; it prints the
# notifications it received after each command it runs.
coproc LISTENER { psql -X -q -d "$db" >"$out" 2>&1; }
LISTENER_IN=${LISTENER[1]}
echo "LISTEN csm_alert; LISTEN csm_alert_marker; SELECT 'listening';" >&"$LISTENER_IN"
wait_for() {  # wait_for <pattern>: polls the listener until its output has it
    local i
    for i in $(seq 1 600); do
        grep -q "$1" "$out" && return 0
        echo "SELECT 'poll';" >&"$LISTENER_IN"
        sleep 0.05
    done
    fail "the listener never saw $1"
}
wait_for listening
marker() {  # marker <name>: sent by the writer, awaited by the listener
    psql -qX -v ON_ERROR_STOP=1 -d "$db" -c "SELECT pg_notify('csm_alert_marker', '$1')" >/dev/null
    wait_for "payload \"$1\""
}
alerts_seen() { grep -c 'Asynchronous notification "csm_alert" with payload' "$out" || true; }

# 1. Raised in a transaction that rolls back: nothing.
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'BEGIN' -c 'SELECT csm.run_alerts()' -c 'ROLLBACK' >/dev/null
marker m1
[ "$(alerts_seen)" = 0 ] || fail "a rolled-back run sent notifications"
echo "ok - alerts raised in a transaction that rolled back announce nothing"

# 2. Committed: one notification per alert (three unassigned accounts).
raised=$(psql -qAtX -v ON_ERROR_STOP=1 -d "$db" -c 'SELECT csm.run_alerts()')
[ "$raised" = 3 ] || fail "run_alerts raised $raised, not 3"
marker m2
[ "$(alerts_seen)" = 3 ] || fail "expected 3 notifications, saw $(alerts_seen)"
ids=$(sed -n 's/.*payload "{"alert_id" : \([0-9]*\), .*/\1/p' "$out" | sort -n | paste -sd,)
[ "$ids" = "$(psql -qAtX -d "$db" -c 'SELECT string_agg(alert_id::text, $$,$$ ORDER BY alert_id) FROM csm.alert')" ] \
    || fail "the notifications name the alerts: $ids"
grep -q 'payload "{"alert_id" : [0-9]*, "account_id" : 2, "external_id" : "notify_2", "kind" : "unassigned", "subject" : "", "severity" : "warning", "created_at" : "[0-9T:.+-]*", "evidence" : {"reason": null, "message": null, "account_created_at": "[0-9T:.+-]*"}}"' "$out" \
    || fail "the payload"
echo "ok - a committed run announces each alert once, to another session, with its payload"

# 3. Nothing new: nothing announced.
raised=$(psql -qAtX -v ON_ERROR_STOP=1 -d "$db" -c 'SELECT csm.run_alerts()')
[ "$raised" = 0 ] || fail "a second run raised $raised"
marker m3
[ "$(alerts_seen)" = 3 ] || fail "a run that raised nothing sent notifications"
echo "ok - a run that raised nothing announces nothing"

# 4. Raised where the facts change: a detractor answer, in record_nps's
# transaction; and one that rolls back.
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'BEGIN' -c "SELECT count(*) FROM csm.record_nps('notify_1', 2)" -c 'ROLLBACK' >/dev/null
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c "SELECT count(*) FROM csm.record_nps('notify_3', 1)" >/dev/null
marker m4
[ "$(alerts_seen)" = 4 ] || fail "expected 4 notifications, saw $(alerts_seen)"
grep -q '"account_id" : 3, "external_id" : "notify_3", "kind" : "nps_detractor"' "$out" || fail "the detractor's payload"
! grep -q '"account_id" : 1, "external_id" : "notify_1", "kind" : "nps_detractor"' "$out" || fail "the rolled-back detractor was announced"
echo "ok - record_nps announces its detractor alert on commit, and nothing when it rolls back"
