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
