-- citus-differs: creates roles in the test's transaction (the workers do not have them) and drops and recreates the extension.
-- csm's internals live in schema csm_internal (issue 15, section 3), so that
-- \df csm.* and \dv csm.* show only the documented API; csm_internal is
-- csm's own, and PUBLIC gets nothing on it.
BEGIN;
SELECT plan(27);

-- The public surface. ---------------------------------------------------------------
SELECT has_schema('csm_internal');
SELECT is((SELECT count(*) FROM pg_depend d
           WHERE d.classid = 'pg_namespace'::regclass AND d.objid = 'csm_internal'::regnamespace
             AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
             AND d.refobjid = (SELECT e.oid FROM pg_extension e WHERE e.extname = 'csm')), 1::bigint,
          'csm_internal is a member of extension csm (DROP EXTENSION drops it, pg_dump leaves it to CREATE EXTENSION)');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                  WHERE p.pronamespace = 'csm'::regnamespace AND p.proname LIKE '\_%'$$,
                'no function, aggregate or procedure in csm has a name that starts with _');
SELECT is_empty($$SELECT c.relname FROM pg_class c
                  WHERE c.relnamespace = 'csm'::regnamespace AND c.relname LIKE '\_%'$$,
                'no relation in csm has a name that starts with _');
SELECT is_empty($$SELECT c.relname FROM pg_class c
                  WHERE c.relnamespace = 'csm'::regnamespace AND c.relkind = 'S'
                    AND NOT EXISTS (SELECT FROM pg_depend d
                                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))$$,
                'every sequence in csm belongs to a column of a csm table (the round-robin sequences are internal)');
SELECT tables_are('csm_internal', ARRAY['usage_delta', 'usage_fold_lock', 'usage_pending', 'usage_counter',
                                        'usage_user_day', 'usage_feature_counter', 'member_load', 'member_lock',
                                        'lock_row', 'agent_load', 'conversation_change'],
                  'csm_internal holds the rollup storage, the lock rows, the counters and the Citus work queue');
SELECT views_are('csm_internal', ARRAY['_usage_day', '_usage_feature_day', '_usage_staged', '_task_adherence']);
SELECT sequences_are('csm_internal', ARRAY['member_pick_seq', 'agent_pick_seq']);
SELECT functions_are('csm_internal', ARRAY['rule_condition_in', 'rule_condition_out', 'rule_condition_recv', 'rule_condition_send']
                     || ARRAY(SELECT DISTINCT p.proname::text FROM pg_proc p
                              WHERE p.pronamespace = 'csm_internal'::regnamespace AND p.proname LIKE '\_%'),
                     'csm_internal holds the _ helpers and the I/O functions of csm.rule_condition, nothing else');
SELECT cmp_ok((SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'csm_internal'::regnamespace), '>', 200::bigint,
              'and the helpers are there (over 200 of them)');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                  WHERE p.pronamespace = 'csm_internal'::regnamespace
                    AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                              AND d.deptype = 'e')
                  UNION ALL
                  SELECT c.oid::regclass::text FROM pg_class c
                  WHERE c.relnamespace = 'csm_internal'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'S')
                    AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                              AND d.deptype = 'e')$$,
                'everything in csm_internal belongs to csm');
SELECT is((SELECT t.typinput::regproc::text || ' ' || t.typoutput::regproc::text FROM pg_type t
           WHERE t.oid = 'csm.rule_condition'::regtype),
          'csm_internal.rule_condition_in csm_internal.rule_condition_out',
          'csm.rule_condition (API) reads and prints through csm_internal');

-- PUBLIC gets nothing; the read level gets USAGE. --------------------------------------
SELECT schema_privs_are('csm_internal', 'public', ARRAY[]::text[], 'PUBLIC has no privilege on csm_internal');
SELECT is_empty($$SELECT a.grantee::regrole::text, a.privilege_type
                  FROM pg_namespace n, aclexplode(n.nspacl) a
                  WHERE n.nspname = 'csm_internal' AND a.grantee <> n.nspowner$$,
                'after CREATE EXTENSION nobody but its owner holds a privilege on csm_internal');
SELECT function_privs_are('csm_internal', '_access_read', ARRAY[]::text[], 'public', ARRAY[]::text[],
                          'the level markers are still revoked from PUBLIC');
SELECT function_privs_are('csm_internal', '_lifecycle_account_changed', ARRAY[]::text[], 'public', ARRAY[]::text[],
                          'and so are the trigger functions that write as csm''s owner');

CREATE ROLE tap_int_none;
CREATE ROLE tap_int_read;
SELECT csm.grant_access('tap_int_read', 'read');
SELECT ok(has_schema_privilege('tap_int_read', 'csm_internal', 'USAGE')
          AND NOT has_schema_privilege('tap_int_read', 'csm_internal', 'CREATE'),
          'the read level has USAGE on csm_internal, not CREATE');
SELECT ok(EXISTS (SELECT FROM csm.access_privileges() a
                  WHERE a.level = 'read' AND a.privilege = 'USAGE' AND a.object_type = 'SCHEMA' AND a.object = 'csm_internal'),
          'csm.access_privileges lists it');

SET LOCAL ROLE tap_int_none;
SELECT throws_ok('SELECT csm_internal._caller()', '42501', NULL,
                 'a role without a level cannot call csm''s helpers');
SELECT throws_ok('SELECT * FROM csm_internal.member_load', '42501', NULL, 'nor read its counters');
RESET ROLE;

SET LOCAL ROLE tap_int_read;
SELECT lives_ok('SELECT * FROM csm.usage_daily', 'the read level reads the views over csm_internal''s tables');
SELECT lives_ok('SELECT * FROM csm.account_metrics', 'and account_metrics, which calls csm_internal''s helpers');
SELECT throws_ok($$INSERT INTO csm_internal.usage_delta (account_id, source_id, day, events) VALUES (1, 1, DATE '2026-03-01', 1)$$,
                 '42501', NULL, 'but cannot write the rollup queue');
SELECT throws_ok($$SELECT * FROM csm_internal.lock_row FOR UPDATE$$, '42501', NULL,
                 'nor lock csm''s lock rows');
RESET ROLE;

SELECT csm.revoke_access('tap_int_read');
SELECT ok(NOT has_schema_privilege('tap_int_read', 'csm_internal', 'USAGE'),
          'revoke_access takes USAGE on csm_internal away');

-- A schema csm_internal that csm did not make is refused. ----------------------------
SET LOCAL client_min_messages = warning;
DROP EXTENSION csm CASCADE;
RESET client_min_messages;
SELECT hasnt_schema('csm_internal', 'DROP EXTENSION csm drops csm_internal');
CREATE SCHEMA csm_internal AUTHORIZATION tap_int_none;
SELECT throws_ok('CREATE EXTENSION csm', '42P06', 'schema "csm_internal" already exists and does not belong to csm',
                 'CREATE EXTENSION refuses a schema csm_internal that it did not make');

SELECT * FROM finish();
ROLLBACK;
