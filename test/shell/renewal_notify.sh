#!/usr/bin/env bash
# csm.refresh_renewals() announces each reminder it raises with NOTIFY
# csm_renewal_reminder and a JSON payload, when its transaction commits:
# a listener gets one notification per reminder, none from a refresh that
# rolled back, none from a refresh that raised nothing, and one for all
# from a refresh that raised more than 1000.
set -euo pipefail
cd "$(dirname "$0")/../.."
db=csm_renewal_notify
dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1' EXIT
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION csm' -c "
    INSERT INTO csm.team_member (handle) VALUES ('nina');
    INSERT INTO csm.account (account_id, external_id, arr, renewal_date)
    SELECT i, 'notify_' || i, 1000, (now() AT TIME ZONE 'UTC')::date + d
    FROM unnest(ARRAY[1, 2, 3], ARRAY[75, 40, 200]) AS t(i, d);
    SELECT csm.csm_assign('notify_1', 'nina');" >/dev/null

fail() { echo "not ok - $1"; echo "$out"; exit 1; }

# A refresh that rolls back announces nothing.
out=$(psql -X -v ON_ERROR_STOP=1 -d "$db" 2>&1 <<'SQL'
LISTEN csm_renewal_reminder;
BEGIN;
SELECT reminded FROM csm.refresh_renewals();
ROLLBACK;
SELECT 'after';
SQL
)
if grep -q 'Asynchronous notification' <<<"$out"; then fail "a rolled-back refresh sent a notification"; fi
echo "ok - a rolled-back refresh announces nothing"

# One that commits announces its two reminders, with their payloads.
out=$(psql -X -v ON_ERROR_STOP=1 -d "$db" 2>&1 <<'SQL'
LISTEN csm_renewal_reminder;
SELECT reminded FROM csm.refresh_renewals();
SELECT 'after';
SQL
)
[ "$(grep -c 'Asynchronous notification "csm_renewal_reminder"' <<<"$out")" = 2 ] || fail "expected 2 notifications"
grep -q "with payload \"{\"account_id\" : 1, \"external_id\" : \"notify_1\", \"renewal_id\" : [0-9]*, \"days_out\" : 90, \"renewal_date\" : \"[0-9-]*\", \"owner\" : \"nina\"}\"" <<<"$out" \
    || fail "the 90-day reminder's payload"
grep -q "with payload \"{\"account_id\" : 2, \"external_id\" : \"notify_2\", \"renewal_id\" : [0-9]*, \"days_out\" : 60, \"renewal_date\" : \"[0-9-]*\", \"owner\" : null}\"" <<<"$out" \
    || fail "the 60-day reminder's payload"
echo "ok - a refresh announces each reminder it raised, with its payload"

# The next refresh raises nothing and announces nothing.
out=$(psql -X -v ON_ERROR_STOP=1 -d "$db" 2>&1 <<'SQL'
LISTEN csm_renewal_reminder;
SELECT reminded FROM csm.refresh_renewals();
SELECT 'after';
SQL
)
if grep -q 'Asynchronous notification' <<<"$out"; then fail "a refresh that raised nothing sent a notification"; fi
echo "ok - a refresh that raised nothing announces nothing"

# More than 1000 reminders: one notification that says how many, and when.
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c "
    INSERT INTO csm.account (account_id, external_id, arr, renewal_date)
    SELECT 1000 + i, 'bulk_' || i, 100, (now() AT TIME ZONE 'UTC')::date + 50 FROM generate_series(1, 1001) AS i;" >/dev/null
out=$(psql -X -v ON_ERROR_STOP=1 -d "$db" 2>&1 <<'SQL'
LISTEN csm_renewal_reminder;
SELECT reminded FROM csm.refresh_renewals();
SELECT 'after';
SQL
)
[ "$(grep -c 'Asynchronous notification "csm_renewal_reminder"' <<<"$out")" = 1 ] || fail "expected 1 notification for 1001 reminders"
grep -q 'with payload "{"reminders" : 1001, "raised_at" : "[0-9T:.+-]*"}"' <<<"$out" || fail "the bulk payload"
raised_at=$(sed -n 's/.*"raised_at" : "\([^"]*\)".*/\1/p' <<<"$out")
[ "$(psql -qAtX -d "$db" -c "SELECT count(*) FROM csm.renewal_reminder WHERE raised_at = '$raised_at'")" = 1001 ] \
    || fail "the bulk payload's raised_at finds the 1001 reminders"
echo "ok - more than 1000 reminders are announced in one notification, which finds them"
