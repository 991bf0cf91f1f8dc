#!/usr/bin/env bash
# Issue 11, section 2.3: a role with no rights on csm holds the advisory key
# that csm 0.1.0 serialised its usage folds on, (oid of csm_internal.usage_delta, 0).
# Every usage operation must still complete: bulk inserts, compact_usage(),
# TRUNCATE, backfill_usage() and untrack_usage(). Each runs with a
# lock_timeout, so a stall becomes an error instead of a hang; nothing is
# timed otherwise.
set -euo pipefail
cd "$(dirname "$0")"
. lib/stress.sh
db=csm_usage_lock
failed=0
fresh_db "$db"
q >/dev/null <<'SQL'
CREATE EXTENSION csm;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'csm_lock_nobody') THEN
        CREATE ROLE csm_lock_nobody LOGIN;
    END IF;
END $$;
CREATE TABLE events (org text, at timestamptz);
SELECT csm.track_usage('events', 'org', 'at');
SQL

dir=$(mktemp -d)
mkfifo "$dir/in"
# The holder logs in as the suite's user and becomes the unprivileged role
# (pg_virtualenv's clusters ask other roles for a password).
psql -qAtX -d "$db" <"$dir/in" >"$dir/out" 2>&1 &
holder=$!
exec 3>"$dir/in"
cleanup() { exec 3>&-; wait "$holder" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
# pg_class is readable by everyone, even without USAGE on schema csm.
echo "SET ROLE csm_lock_nobody;
      SELECT pg_advisory_lock(c.oid::integer, 0), 'held' FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'csm_internal' AND c.relname = 'usage_delta';" >&3
# Wait for it, a minute at most, and not at all once the holder is gone.
for _ in $(seq 600); do
    grep -q held "$dir/out" && break
    if grep -qE 'ERROR|FATAL|error' "$dir/out" || ! kill -0 "$holder" 2>/dev/null; then
        cat "$dir/out"; echo "not ok - the holder could not take the key"; exit 1
    fi
    sleep 0.1
done
grep -q held "$dir/out" || { echo "not ok - the holder did not take the key within a minute"; exit 1; }
echo "ok - an unprivileged role holds the old fold key"

# attempt WHAT SQL: one ok/not ok line for SQL finishing without error.
attempt() {
    if out=$(psql -qAtX -v ON_ERROR_STOP=1 -d "$db" -c "SET lock_timeout = '5s'" -c "$2" 2>&1); then
        echo "ok - $1"
    else
        echo "not ok - $1: $out"
        failed=1
    fi
}
attempt "a bulk insert, added to the counters at once" \
    "SET csm.compact_threshold = 10; INSERT INTO events SELECT 'org_' || i, '2026-03-01' FROM generate_series(1, 50) AS i"
q -c "INSERT INTO events SELECT 'org_1', '2026-03-02' FROM generate_series(1, 3)"
expect "compact_usage() folds the pending deltas" 1 "SET lock_timeout = '5s'; SELECT csm.compact_usage()"
expect "the rollup is exact" 53 "SELECT sum(events) FROM csm.usage_daily"
attempt "backfill_usage()" "SELECT csm.backfill_usage('events')"
attempt "TRUNCATE of a tracked table" "TRUNCATE events"
expect "TRUNCATE cleared the rollup" 0 "SELECT count(*) FROM csm.usage_daily"
attempt "untrack_usage()" "SELECT csm.untrack_usage('events')"
expect "csm_lock_nobody has no right to lock the fold row" f \
    "SELECT has_table_privilege('csm_lock_nobody', 'csm_internal.usage_fold_lock', 'UPDATE, SELECT')"
exec 3>&-
wait "$holder" || true
dropdb "$db"
psql -qX -d postgres -c "DROP ROLE csm_lock_nobody"
[ "$failed" = 0 ]
