-- csm_internal: csm's helpers, storage behind the views, lock rows and
-- counters.  Not API: no user, BI tool or dashboard is pointed at it, and
-- its names may change in any release, so that \df csm.* and \dv csm.* show
-- only what the README documents (TimescaleDB keeps _timescaledb_internal
-- the same way).  Like csm itself (00_pre/01_schema_owner.sql) it must be csm's
-- own: a schema of that name made by anyone else is refused, since its
-- owner could replace csm's internals.  PUBLIC gets nothing on it;
-- csm.grant_access gives USAGE with the read level (95_platform/95_access.sql).
-- Re-runnable: the upgrade from 0.1.0 creates it first
-- (src/updates/0.1.0--0.2.0/90_internal_schema.sql).
DO $$
BEGIN
    IF pg_catalog.to_regnamespace('csm_internal') IS NULL THEN
        CREATE SCHEMA csm_internal;
    ELSIF NOT EXISTS (
        SELECT FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
          AND d.objid OPERATOR(pg_catalog.=) 'csm_internal'::pg_catalog.regnamespace
          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.deptype OPERATOR(pg_catalog.=) 'e' AND e.extname OPERATOR(pg_catalog.=) 'csm') THEN
        RAISE EXCEPTION 'schema "csm_internal" already exists and does not belong to csm'
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = 'csm keeps its internal objects in schema csm_internal, which it creates itself: the owner of a schema made before could replace them.',
                  HINT = 'Drop or rename that schema, then run CREATE EXTENSION csm (or the update) again.';
    END IF;
END $$;
COMMENT ON SCHEMA csm_internal IS
    'Internal to csm: helper functions, storage behind the csm views, lock rows and counters. Not API: read the documented objects in schema csm instead; names here change without notice.';
