-- Schema, privileges and the Citus-ready shape of csm's tables.
BEGIN;
SELECT plan(25);

SELECT has_schema('csm');
SELECT tables_are('csm', ARRAY['account', 'team_member', 'nps_response', 'usage_source',
                               'usage_counter', 'usage_user_day', 'usage_feature_counter']);
SELECT views_are('csm', ARRAY['usage_daily', 'usage_feature_daily', 'account_metrics']);
SELECT col_is_pk('csm', 'account', ARRAY['account_id'], 'account is keyed by account_id');
SELECT col_is_unique('csm', 'account', ARRAY['external_id'], 'external_id is globally unique');
SELECT col_is_unique('csm', 'team_member', ARRAY['handle'], 'handle is unique');

-- Per-account tables: account_id bigint NOT NULL, first in the primary key
-- and in every unique constraint, so Citus can distribute them by it.
SELECT col_type_is('csm', t, 'account_id', 'bigint', t || '.account_id is bigint')
FROM unnest(ARRAY['nps_response', 'usage_counter', 'usage_user_day', 'usage_feature_counter']) AS t;
SELECT col_not_null('csm', t, 'account_id', t || '.account_id is NOT NULL')
FROM unnest(ARRAY['nps_response', 'usage_counter', 'usage_user_day', 'usage_feature_counter']) AS t;
SELECT is_empty($$
    SELECT c.conrelid::regclass::text, c.conname
    FROM pg_constraint c
    WHERE c.connamespace = 'csm'::regnamespace
      AND c.conrelid::regclass::text IN ('csm.nps_response', 'csm.usage_counter', 'csm.usage_user_day', 'csm.usage_feature_counter')
      AND c.contype IN ('p', 'u')
      AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = c.conrelid AND attname = 'account_id') = ANY (c.conkey)
$$, 'every primary key and unique constraint of a per-account table includes account_id');
SELECT is_empty($$
    SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
    FROM pg_constraint c
    WHERE c.connamespace = 'csm'::regnamespace AND c.contype = 'f'
      AND c.confrelid::regclass::text NOT IN ('csm.account', 'csm.team_member', 'csm.usage_source')
$$, 'foreign keys point only at account or config tables');

-- pg_dump keeps every table and sequence that holds user data.
SELECT set_eq($$
    SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'csm'
$$, $$
    SELECT c.oid::regclass::text FROM pg_class c
    WHERE c.relnamespace = 'csm'::regnamespace AND c.relkind IN ('r', 'S')
$$, 'every csm table and sequence is registered with pg_extension_config_dump');

-- Privileges: only admins attach the trigger or track tables.
SELECT function_privs_are('csm', '_usage_rollup', ARRAY[]::text[], 'public', ARRAY[]::text[],
                          'PUBLIC cannot attach the rollup trigger');
SELECT function_privs_are('csm', 'track_usage', ARRAY['regclass', 'name', 'name', 'name', 'name'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot track tables');
SELECT function_privs_are('csm', 'backfill_usage', ARRAY['regclass', 'timestamp with time zone'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot backfill');
SELECT is_definer('csm', '_usage_rollup', ARRAY[]::text[], 'the rollup trigger runs with the owner''s rights');
SELECT is(
    (SELECT proconfig FROM pg_proc WHERE oid = 'csm._usage_rollup'::regproc),
    ARRAY['search_path=pg_catalog, pg_temp'],
    'the SECURITY DEFINER trigger pins search_path');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'csm'::regnamespace AND p.prosecdef
      AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']
$$, 'every SECURITY DEFINER function pins search_path');
SELECT is_empty($$
    SELECT c.relname FROM pg_class c
    WHERE c.relnamespace = 'csm'::regnamespace AND c.relkind = 'v'
      AND NOT coalesce(c.reloptions, '{}') @> ARRAY['security_invoker=true']
$$, 'every view is security_invoker, so row-level security applies to the reader');
LOAD 'csm';  -- GUCs exist once the library is loaded
SELECT is(current_setting('csm.rollup_stripes'), '16', 'csm.rollup_stripes defaults to 16');

SELECT * FROM finish();
ROLLBACK;
