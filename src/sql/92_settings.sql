-- Settings that decide what a view shows live in tables, not in sessions
-- (issue 15): behind pgbouncer in transaction mode a session's SET leaks to
-- whichever client gets the server connection next. csm.health_model and
-- csm.churn_model have a stale_after column (src/sql/40_health.sql,
-- src/sql/74_churn.sql); the csm.stale_after GUC is only the default a
-- refresh reads when the model has none, and each score keeps the value
-- it was written with.

CREATE FUNCTION @extschema@._stale_after_default() RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT coalesce(nullif(current_setting('csm.stale_after', true), ''), '26h')::interval;
END;
COMMENT ON FUNCTION @extschema@._stale_after_default() IS
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
