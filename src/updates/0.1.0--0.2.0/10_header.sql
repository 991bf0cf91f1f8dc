-- csm upgrade script from 0.1.0 to 0.2.0, built by the Makefile: the steps
-- in src/updates/0.1.0--0.2.0/ (in file-name order), which bring 0.1.0's
-- objects to 0.2.0's shape where CREATE OR REPLACE and IF NOT EXISTS cannot,
-- then the whole install script (src/sql: 00_pre/, the tables*.sql files,
-- which 0.1.0 predates, and the re-runnable files), every statement of which
-- is re-runnable.  Every row is kept: tables are altered in place, never dropped.
\echo Use "ALTER EXTENSION csm UPDATE TO '0.2.0'" to load this file. \quit

-- Every name below is schema-qualified; nothing depends on the caller's path.
SET LOCAL search_path = pg_catalog, pg_temp;

-- Writers of the tracked tables wait for the upgrade, from here on: their
-- usage trigger writes csm's tables, which the steps below lock one by one,
-- so a write begun halfway would deadlock with them.  Readers go on.  (A
-- write already running is waited for first.)
DO $$
DECLARE
    rel regclass;
BEGIN
    FOR rel IN SELECT s.relation FROM @extschema@.usage_source s ORDER BY s.source_id LOOP
        EXECUTE pg_catalog.format('LOCK TABLE %s IN EXCLUSIVE MODE', rel);
    END LOOP;
END $$;
