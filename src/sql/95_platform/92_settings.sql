-- Settings that decide what a view shows live in tables, not in sessions
-- (issue 15): behind pgbouncer in transaction mode a session's SET leaks to
-- whichever client gets the server connection next. csm.health_model and
-- csm.churn_model have a stale_after column (src/sql/30_health/40_health.sql,
-- src/sql/60_churn/74_churn.sql); the csm.stale_after GUC is only the default a
-- refresh reads when the model has none, and each score keeps the value
-- it was written with.

CREATE OR REPLACE FUNCTION csm_internal._stale_after_default() RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT coalesce(nullif(current_setting('csm.stale_after', true), ''), '26h')::interval;
END;
COMMENT ON FUNCTION csm_internal._stale_after_default() IS
    'Internal: the csm.stale_after setting as an interval (26h when unset), the default stale_after a refresh writes with scores whose model has none.';

-- SHOW csm.stale_after in a session that has not called into csm yet (the
-- library loads on first use, and defines the setting then) would fail with
-- 42704, unrecognized configuration parameter. A database-level value makes
-- it a placeholder there from the session's start: set it to the default,
-- unless the setting is already given somewhere (postgresql.conf, ALTER
-- DATABASE / ROLE ... SET). It needs the database's owner or a superuser,
-- as CREATE EXTENSION csm does; DROP EXTENSION leaves it (a harmless
-- placeholder then).
DO $$
BEGIN
    IF (SELECT s.source FROM pg_catalog.pg_settings s WHERE s.name = 'csm.stale_after') IS DISTINCT FROM 'default'
       OR EXISTS (SELECT FROM pg_catalog.pg_db_role_setting d, unnest(d.setconfig) AS c
                  WHERE d.setdatabase IN (0, (SELECT o.oid FROM pg_catalog.pg_database o
                                              WHERE o.datname = pg_catalog.current_database()))
                    AND c LIKE 'csm.stale\_after=%') THEN
        RETURN;
    END IF;
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET csm.stale_after = %L',
                              pg_catalog.current_database(), '26h');
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'csm: SHOW csm.stale_after fails with 42704 in sessions that have not used csm yet'
        USING HINT = pg_catalog.format('As a superuser: ALTER DATABASE %I SET csm.stale_after = ''26h''.',
                                       pg_catalog.current_database());
END $$;

-- Progress of long refreshes (src/progress.c): a NOTICE at every 10% of a
-- refresh's units of work (its accounts, or its steps) when the client
-- wants notices.  A refresh calls csm_internal._progress_begin(label, total) once;
-- when that is false its statements' calls of csm_internal._progress count nothing
-- (csm.refresh_health leaves them out of its statement altogether).
CREATE OR REPLACE FUNCTION csm_internal._progress_wanted() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT current_setting('client_min_messages') IN ('debug5', 'debug4', 'debug3', 'debug2', 'debug1', 'log', 'notice');
END;
COMMENT ON FUNCTION csm_internal._progress_wanted() IS
    'Internal: whether the client wants NOTICEs (client_min_messages notice or lower), so a refresh reports its progress.';
CREATE OR REPLACE FUNCTION csm_internal._progress_start(label text, total bigint) RETURNS boolean
AS 'MODULE_PATHNAME', 'csm_progress_start'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION csm_internal._progress_start(text, bigint) IS
    'Internal: starts counting the units of work of the refresh named label towards total (csm_internal._progress, csm_internal._progress_add), and returns true; with a NULL or non-positive total, counts nothing and returns false. The count ends with the transaction.';
CREATE OR REPLACE FUNCTION csm_internal._progress(label text, id bigint) RETURNS boolean
AS 'MODULE_PATHNAME', 'csm_progress'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION csm_internal._progress(text, bigint) IS
    'Internal: counts one row (id: its account) of the refresh named label, when it is the one under way, and raises a NOTICE "label: N% (done of total)" each time the count passes another tenth of csm_internal._progress_start''s total; always true.';
CREATE OR REPLACE FUNCTION csm_internal._progress_add(label text, n bigint) RETURNS void
AS 'MODULE_PATHNAME', 'csm_progress_add'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION csm_internal._progress_add(text, bigint) IS
    'Internal: as csm_internal._progress, n units of work at once (a step of the refresh named label: an alert kind, a playbook, a statement).';
-- A refresh is long from 10,000 active accounts (below that no refresh
-- takes long enough to report on); on Citus the work runs on the workers,
-- which do not share this count.
CREATE OR REPLACE FUNCTION csm_internal._progress_begin(label text, total bigint DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    active bigint;
BEGIN
    IF NOT csm_internal._progress_wanted() OR csm_internal._is_distributed('@extschema@.account') THEN
        RETURN csm_internal._progress_start(label, NULL);
    END IF;
    active := (SELECT count(*) FROM @extschema@.account a WHERE a.status = 'active');
    RETURN csm_internal._progress_start(label, CASE WHEN active >= 10000 THEN coalesce(total, active) END);
END $$;
COMMENT ON FUNCTION csm_internal._progress_begin(text, bigint) IS
    'Internal: called once by a long refresh named label: when the client wants notices (csm_internal._progress_wanted()), on a single node, with 10,000 active accounts or more, starts counting its progress towards total units of work (NULL: the active accounts) and returns true; else counts nothing and returns false.';
