-- CREATE EXTENSION csm refuses a schema csm that an ordinary role owns or
-- may create objects in (issue 11, 2.5: a pre-existing schema is adopted).
BEGIN;
SELECT plan(7);

SET LOCAL client_min_messages = warning;
DROP EXTENSION csm CASCADE;
DROP SCHEMA csm;
RESET client_min_messages;

-- A database owner (here: a role with CREATE on the database) makes the
-- schema before a superuser installs csm.
CREATE ROLE tap_dbo NOLOGIN;
SELECT format('GRANT CREATE ON DATABASE %I TO tap_dbo', current_database()) \gexec
SET ROLE tap_dbo;
CREATE SCHEMA csm;
RESET ROLE;
SELECT throws_ok('CREATE EXTENSION csm', '42P06',
                 'schema "csm" already exists and is owned by role "tap_dbo", who is not a superuser',
                 'CREATE EXTENSION refuses a schema csm that an ordinary role owns');
SELECT hasnt_extension('csm', 'and installs nothing into it');
SELECT is((SELECT count(*) FROM pg_class WHERE relnamespace = 'csm'::regnamespace), 0::bigint,
          'the schema stays empty');

-- Given to a superuser, it is accepted, unless an ordinary role may still
-- create objects in it.
ALTER SCHEMA csm OWNER TO CURRENT_USER;
GRANT CREATE ON SCHEMA csm TO tap_dbo;
SELECT throws_ok('CREATE EXTENSION csm', '42P06', 'role "tap_dbo" may create objects in schema "csm"',
                 'CREATE EXTENSION refuses a schema csm where an ordinary role may create objects');
REVOKE CREATE ON SCHEMA csm FROM tap_dbo;
GRANT USAGE ON SCHEMA csm TO tap_dbo;
SELECT lives_ok('CREATE EXTENSION csm', 'a superuser''s schema, with USAGE granted, is accepted');

-- The usual case: no schema csm yet; CREATE EXTENSION makes it.
SET LOCAL client_min_messages = warning;
DROP EXTENSION csm CASCADE;
DROP SCHEMA csm;
RESET client_min_messages;
SELECT lives_ok('CREATE EXTENSION csm', 'CREATE EXTENSION makes schema csm when there is none');
SELECT is((SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'csm'), current_user::text,
          'owned by the superuser who ran it');

SELECT * FROM finish();
ROLLBACK;
