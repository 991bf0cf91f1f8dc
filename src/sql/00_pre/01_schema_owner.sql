-- csm installs only into a schema that no ordinary role controls.  The
-- control file names schema csm, and CREATE EXTENSION adopts a schema of
-- that name that already exists (PostgreSQL's CVE-2023-39417 class): its
-- owner, say a database owner who ran CREATE SCHEMA csm first, could then
-- drop or replace any object of csm, and one who may create objects in it
-- could plant overloads of csm's functions.  The schema CREATE EXTENSION
-- makes is owned by the superuser running it, with no grants; a restore
-- (pg_dump writes CREATE SCHEMA csm before CREATE EXTENSION) gives it the
-- owner it had.  Anything else is refused.
DO $$
DECLARE
    owner name;
    grantee name;
BEGIN
    SELECT r.rolname INTO owner
    FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
    WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::regnamespace AND NOT r.rolsuper;
    IF FOUND THEN
        RAISE EXCEPTION 'schema "@extschema@" already exists and is owned by role "%", who is not a superuser', owner
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = 'csm installs only into a schema that a superuser owns: the owner of its schema could drop or replace any object of csm.',
                  HINT = 'Drop or rename that schema (or, if you trust its contents, ALTER SCHEMA "@extschema@" OWNER TO a superuser), then run CREATE EXTENSION csm again.';
    END IF;
    SELECT r.rolname INTO grantee
    FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
    JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
    WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
      AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE' AND NOT r.rolsuper
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'role "%" may create objects in schema "@extschema@"', grantee
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = 'csm installs only into a schema where no ordinary role may create objects: they could plant overloads of csm''s functions.',
                  HINT = 'REVOKE CREATE ON SCHEMA "@extschema@" FROM that role (or drop the schema), then run CREATE EXTENSION csm again.';
    END IF;
END $$;
