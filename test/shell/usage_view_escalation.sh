#!/usr/bin/env bash
# Issue 11, section 2.1: the owner of a tracked table turns it into a view
# (PostgreSQL 15 still converts an empty table without triggers into one
# with CREATE RULE "_RETURN") whose rows run the owner's code. A superuser
# then calls csm.backfill_usage(): csm must refuse the view (42809) and the
# owner must not become superuser. Needs VACUUM, so not a pgTAP test.
set -euo pipefail
cd "$(dirname "$0")"
. lib/stress.sh
db=csm_view_escalation
failed=0
fresh_db "$db"
q >/dev/null <<'SQL'
CREATE EXTENSION csm;
DROP ROLE IF EXISTS csm_view_owner;
CREATE ROLE csm_view_owner;
GRANT CREATE ON SCHEMA public TO csm_view_owner;
SET ROLE csm_view_owner;
CREATE TABLE public.app_events (org text, at timestamptz);
CREATE FUNCTION public.escalate() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        EXECUTE 'ALTER ROLE csm_view_owner SUPERUSER';
    END IF;
    RETURN 'org_1';
END $$;
RESET ROLE;
SELECT csm.track_usage('public.app_events', 'org', 'at');
SET ROLE csm_view_owner;
DROP TRIGGER csm_usage_insert ON public.app_events;
DROP TRIGGER csm_usage_update ON public.app_events;
DROP TRIGGER csm_usage_delete ON public.app_events;
DROP TRIGGER csm_usage_truncate ON public.app_events;
SQL
# VACUUM clears relhastriggers, which the conversion checks.
q -c "SET ROLE csm_view_owner" -c "VACUUM public.app_events"
q -c "SET ROLE csm_view_owner" \
  -c "CREATE RULE \"_RETURN\" AS ON SELECT TO public.app_events DO INSTEAD SELECT public.escalate() AS org, now() AS at"
expect "the tracked table is a view now" v "SELECT relkind FROM pg_class WHERE oid = 'public.app_events'::regclass"
got=$(psql -qAtX -d "$db" -v VERBOSITY=verbose -c "SELECT csm.backfill_usage('public.app_events')" 2>&1 || true)
case "$got" in
    *"42809"*) echo "ok - backfill_usage() refuses the view with 42809" ;;
    *) echo "not ok - backfill_usage() of a view: $got"; failed=1 ;;
esac
expect "the owner did not become superuser" f "SELECT rolsuper FROM pg_roles WHERE rolname = 'csm_view_owner'"
q -c "DROP OWNED BY csm_view_owner CASCADE" >/dev/null 2>&1 || true
dropdb "$db"
q() { psql -qAtX -v ON_ERROR_STOP=1 -d postgres "$@"; }
q -c "DROP ROLE csm_view_owner"
[ "$failed" = 0 ]
