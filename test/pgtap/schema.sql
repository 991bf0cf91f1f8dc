-- citus-differs: tracks a local table (refused on a distributed csm with 0A000 by design) that a role created in the test's transaction writes, and that role does not exist on the workers.
-- Schema, privileges and the Citus-ready shape of csm's tables.
BEGIN;
SELECT plan(72);

SELECT has_schema('csm');
SELECT tables_are('csm', ARRAY['account', 'team_member', 'nps_response', 'usage_source',
                               'health_band_info', 'health_model', 'health_group', 'health_component',
                               'health_model_map', 'health_score', 'health_history', 'health_override',
                               'segment_weight', 'account_assignment', 'assignment_log', 'assignment_alert',
                               'routing_rule', 'conversation', 'support_team',
                               'stakeholder', 'payment', 'account_note', 'engagement', 'churn_signal_kind',
                               'churn_signal_setting', 'churn_signal', 'churn_model', 'churn_score',
                               'lifecycle_rule', 'milestone', 'core_feature', 'account_lifecycle', 'lifecycle_history',
                               'account_milestone',
                               'arr_change', 'renewal', 'renewal_reminder',
                               'segment', 'segment_rule',
                               'nps_category', 'nps_loop',
                               'expansion_signal_kind', 'expansion_signal_setting', 'expansion_signal',
                               'playbook_trigger', 'playbook', 'playbook_step', 'cta', 'task',
                               'refresh_run',
                               'success_plan', 'success_plan_objective', 'success_plan_milestone', 'success_plan_stakeholder',
                               'business_review_held', 'value_metric',
                               'alert', 'feature_launch',
                               'conversation_note',
                               'churn_history', 'health_benchmark', 'churn_benchmark']);
SELECT views_are('csm', ARRAY['usage_daily', 'usage_feature_daily', 'usage_unknown_key', 'account_metrics',
                              'account_health', 'health_trend', 'health_score_component',
                              'assignment', 'assignment_workload', 'unassigned_queue', 'agent_performance',
                              'churn_signal_config', 'churn_signal_current', 'churn_risk',
                              'onboarding_status',
                              'revenue_monthly', 'renewal_pipeline',
                              'segment_coverage',
                              'nps_followup', 'nps_monthly',
                              'expansion_signal_config', 'expansion_signal_current', 'expansion_candidate',
                              'job_schedule', 'refresh_status',
                              'playbook_adherence', 'csm_adherence', 'cta_response_time',
                              'success_plan_progress', 'business_review_due',
                              'dashboard_portfolio', 'dashboard_activity', 'dashboard_outcomes', 'dashboard_operations', 'dashboard_executive',
                              'alert_summary', 'alert_open',
                              'health_daily', 'churn_daily']);
SELECT col_is_pk('csm', 'account', ARRAY['account_id'], 'account is keyed by account_id');
SELECT col_is_unique('csm', 'account', ARRAY['external_id'], 'external_id is globally unique');
SELECT col_is_unique('csm', 'team_member', ARRAY['handle'], 'handle is unique');

-- Per-account tables: account_id bigint NOT NULL, in the primary key and in
-- every unique constraint, so Citus can distribute them by it. (usage_delta
-- is an append-only queue with no unique constraint at all.)
SELECT col_type_is(CASE WHEN t LIKE 'usage\_%' THEN 'csm_internal' ELSE 'csm' END, t, 'account_id', 'bigint',
                   t || '.account_id is bigint')
FROM unnest(ARRAY['nps_response', 'usage_delta', 'usage_counter', 'usage_user_day', 'usage_feature_counter',
                   'health_score', 'health_history', 'health_override',
                   'account_assignment', 'assignment_log', 'assignment_alert', 'conversation',
                   'stakeholder', 'payment', 'account_note', 'engagement', 'churn_signal', 'churn_score',
                   'account_lifecycle', 'lifecycle_history', 'account_milestone', 'nps_loop', 'cta', 'task']) AS t;
SELECT col_not_null(CASE WHEN t LIKE 'usage\_%' THEN 'csm_internal' ELSE 'csm' END, t, 'account_id',
                    t || '.account_id is NOT NULL')
FROM unnest(ARRAY['nps_response', 'usage_delta', 'usage_counter', 'usage_user_day', 'usage_feature_counter',
                   'health_score', 'health_history', 'health_override',
                   'account_assignment', 'assignment_log', 'assignment_alert', 'conversation',
                   'stakeholder', 'payment', 'account_note', 'engagement', 'churn_signal', 'churn_score',
                   'account_lifecycle', 'lifecycle_history', 'account_milestone', 'nps_loop', 'cta', 'task']) AS t;
SELECT is_empty($$
    SELECT c.conrelid::regclass::text, c.conname
    FROM pg_constraint c
    WHERE c.connamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace)
      AND c.conrelid::regclass::text IN ('csm.nps_response', 'csm_internal.usage_counter', 'csm_internal.usage_user_day', 'csm_internal.usage_feature_counter',
                                         'csm.health_score', 'csm.health_history', 'csm.health_override',
                                         'csm.account_assignment', 'csm.assignment_log', 'csm.assignment_alert',
                                         'csm.conversation', 'csm.stakeholder', 'csm.payment', 'csm.account_note',
                                         'csm.engagement', 'csm.churn_signal', 'csm.churn_score',
                                         'csm.account_lifecycle', 'csm.lifecycle_history', 'csm.account_milestone',
                                         'csm.nps_loop', 'csm.cta', 'csm.task')
      AND c.contype IN ('p', 'u')
      AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = c.conrelid AND attname = 'account_id') = ANY (c.conkey)
$$, 'every primary key and unique constraint of a per-account table includes account_id');
SELECT is_empty($$
    SELECT i.indexrelid::regclass::text
    FROM pg_index i
    WHERE i.indisunique
      AND i.indrelid::regclass::text IN ('csm.account_assignment', 'csm.assignment_log', 'csm.assignment_alert',
                                         'csm.conversation', 'csm.churn_signal', 'csm.churn_score',
                                         'csm.lifecycle_history', 'csm.cta', 'csm.task')
      AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = i.indrelid AND attname = 'account_id') = ANY (i.indkey)
$$, 'every unique index of the ownership and churn tables, partial ones included, includes account_id');
SELECT is_empty($$
    SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
    FROM pg_constraint c
    WHERE c.contype = 'f'
      -- csm's tables (on a Citus coordinator, schema csm also holds the
      -- local placements of reference tables, with foreign keys of their own)
      AND c.conrelid IN (SELECT relation FROM csm_internal._distribution())
      AND c.confrelid::regclass::text NOT IN ('csm.account', 'csm.team_member', 'csm.usage_source',
                                              'csm.health_model', 'csm.health_group', 'csm.churn_signal_kind',
                                              'csm.milestone',
                                              'csm.segment', 'csm.segment_rule', 'csm.expansion_signal_kind',
                                              'csm.playbook_trigger', 'csm.playbook')
      -- within the colocation group, by a key that starts with account_id
      AND NOT (c.conrelid, c.confrelid) IN (('csm.nps_loop'::regclass, 'csm.nps_response'::regclass),
                                            ('csm.task'::regclass, 'csm.cta'::regclass),
                                            ('csm.success_plan_objective'::regclass, 'csm.success_plan'::regclass),
                                            ('csm.success_plan_milestone'::regclass, 'csm.success_plan'::regclass),
                                            ('csm.success_plan_stakeholder'::regclass, 'csm.success_plan'::regclass),
                                            ('csm.conversation_note'::regclass, 'csm.conversation'::regclass))
$$, 'foreign keys point only at account or config tables (or at an answer, from its colocated follow-up; or at a success plan, from its rows; or at a conversation, from its colocated note)');

-- pg_dump keeps every table and sequence that holds user data (registered in
-- src/sql/95_platform/tables_dump.sql, the one list: test/shell/layout.sh).
SELECT set_eq($$
    SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'csm'
$$, $$
    SELECT c.oid::regclass::text FROM pg_class c
    WHERE c.relnamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace) AND c.relkind IN ('r', 'S')
      AND c.relname <> 'health_band_info'  -- a fixed lookup that CREATE EXTENSION installs
      AND c.relname <> 'expansion_signal_kind'  -- read-only, installed by CREATE EXTENSION (settings are dumped)
      AND c.relname <> 'playbook_trigger'  -- csm's own trigger kinds, installed by CREATE EXTENSION
      AND c.relname NOT IN ('usage_fold_lock', 'member_lock', 'lock_row')  -- lock rows: CREATE EXTENSION installs one, a restore's inserts or use make the others
      AND c.relname <> 'conversation_change'  -- Citus only: work a statement leaves to the coordinator, done before it returns
$$, 'every csm table and sequence that holds user data is registered with pg_extension_config_dump');

-- Privileges: only admins attach the trigger or track tables.
SELECT function_privs_are('csm_internal', '_usage_rollup', ARRAY[]::text[], 'public', ARRAY[]::text[],
                          'PUBLIC cannot attach the rollup trigger');
SELECT function_privs_are('csm', 'track_usage', ARRAY['regclass', 'name', 'name', 'name', 'name', 'boolean', 'boolean'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot track tables');
SELECT function_privs_are('csm', 'backfill_usage', ARRAY['regclass', 'timestamp with time zone'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot backfill');
SELECT function_privs_are('csm', 'compact_usage', ARRAY[]::text[], 'public', ARRAY[]::text[],
                          'PUBLIC cannot fold');
SELECT function_privs_are('csm_internal', '_apply_usage', ARRAY['bigint[]', 'integer[]', 'date[]', 'text[]', 'text[]', 'bigint[]'],
                          'public', ARRAY[]::text[], 'PUBLIC cannot write counters directly');
SELECT function_privs_are('csm_internal', '_clear_usage', ARRAY['integer', 'date'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot clear rollups');
-- An application role with no rights on csm writes events; the trigger
-- rolls them up with its owner's rights, and the role still cannot touch csm.
CREATE ROLE tap_app_writer;
CREATE TABLE tap_app_events (org text, at timestamptz);
SELECT ok(csm.track_usage('tap_app_events', 'org', 'at') > 0, 'tracking the application''s table');
GRANT INSERT ON tap_app_events TO tap_app_writer;
SET ROLE tap_app_writer;
SELECT lives_ok($$INSERT INTO tap_app_events VALUES ('org_app', '2026-03-01 10:00+00')$$,
                'a role without rights on csm inserts into a tracked table');
SELECT throws_ok($$SELECT * FROM csm_internal.usage_delta$$, '42501', NULL, 'and still cannot read csm''s internal tables');
RESET ROLE;
SELECT is((SELECT sum(events) FROM csm.usage_daily WHERE external_id = 'org_app'), 1::numeric,
          'its event was rolled up');

-- The trigger's statements run with the owner's rights, so a caller's
-- search_path must not be able to slip its own functions into them.
CREATE SCHEMA tap_evil;
CREATE FUNCTION tap_evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS
    $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE FUNCTION tap_evil.texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE OPERATOR tap_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_evil.texteq);
SET search_path = tap_evil, pg_catalog, public;
-- (pgTAP itself would call the hostile operator, so assert after the reset;
-- a hijack raises here and fails the whole file.)
INSERT INTO public.tap_app_events VALUES ('org_new_evil', '2026-03-01 10:00+00');
RESET search_path;
SELECT is((SELECT sum(events) FROM csm.usage_daily WHERE external_id = 'org_new_evil'), 1::numeric,
          'a hostile search_path cannot hijack the rollup');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace) AND p.prosecdef
      AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']
$$, 'every SECURITY DEFINER function pins search_path');
SELECT is_empty($$
    SELECT c.relname FROM pg_class c
    WHERE c.relnamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace) AND c.relkind = 'v'
      AND NOT coalesce(c.reloptions, '{}') @> ARRAY['security_invoker=true']
$$, 'every view is security_invoker, so row-level security applies to the reader');
LOAD 'csm';  -- GUCs exist once the library is loaded
SELECT is(current_setting('csm.compact_threshold'), '10000', 'csm.compact_threshold defaults to 10000');

SELECT * FROM finish();
ROLLBACK;
