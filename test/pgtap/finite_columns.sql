-- Every float and numeric column of every csm table refuses NaN, Infinity
-- and -Infinity with a CHECK (23514).  The columns are listed from the
-- catalog, so a column added later without such a check fails here.
--
-- Each table's CHECK constraints are copied onto a scratch table (CREATE
-- TABLE ... LIKE ... INCLUDING CONSTRAINTS) whose columns may all be NULL;
-- inserting one bad value and NULL elsewhere then runs the table's own
-- checks on that value alone.
BEGIN;

CREATE TEMP TABLE tap_column AS
SELECT c.oid::regclass AS tab, c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS typ
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('csm', 'csm_internal') AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND a.atttypid IN ('numeric'::regtype, 'float4'::regtype, 'float8'::regtype);

SELECT plan(2 + 3 * (SELECT count(*)::integer FROM tap_column));

SELECT cmp_ok((SELECT count(*)::integer FROM tap_column), '>=', 24, 'the catalog lists csm''s float and numeric columns');
SELECT ok(EXISTS (SELECT FROM tap_column WHERE tab = 'csm.account'::regclass AND attname = 'arr'),
          'csm.account.arr is among them');

-- The SQLSTATE and constraint that refuse value in column col of a copy of
-- table tab (with its CHECKs and no NOT NULLs), or 'accepted'.
CREATE FUNCTION pg_temp.try_value(tab regclass, relname name, col name, value text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    scratch text := 'tap_' || relname;
    state text;
    constraint_name text;
    other name;
BEGIN
    IF to_regclass('pg_temp.' || quote_ident(scratch)) IS NULL THEN
        EXECUTE format('CREATE TEMP TABLE %I (LIKE %s INCLUDING CONSTRAINTS)', scratch, tab);
        FOR other IN SELECT a.attname FROM pg_attribute a
                     WHERE a.attrelid = ('pg_temp.' || quote_ident(scratch))::regclass AND a.attnum > 0
                       AND a.attnotnull LOOP
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I DROP NOT NULL', scratch, other);
        END LOOP;
    END IF;
    BEGIN
        EXECUTE format('INSERT INTO %I (%I) VALUES (%L)', scratch, col, value);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, constraint_name = CONSTRAINT_NAME;
        RETURN state || ' ' || constraint_name;
    END;
    RETURN 'accepted';
END $$;

SELECT ok(r LIKE '23514 %', format('%s.%s refuses %s (%s)', t.tab, t.attname, v.value, r))
FROM tap_column t
CROSS JOIN (VALUES ('NaN'), ('Infinity'), ('-Infinity')) AS v(value)
CROSS JOIN LATERAL pg_temp.try_value(t.tab, t.relname, t.attname, v.value) AS r
ORDER BY t.tab::text, t.attname, v.value;

SELECT * FROM finish();
ROLLBACK;
