-- Access levels (csm.grant_access): for a role at each level (and one with
-- none), every call its level permits works, and every other call fails with
-- 42501; a function call's error carries a hint naming the level it needs.
-- Direct writes to tables outside a level (UPDATE csm.account SET arr for
-- operate) fail with PostgreSQL's own 42501, which checks privileges before
-- any csm code runs, so it has no hint.
-- citus-differs: creates its roles inside the test's transaction and SET ROLEs to them (NOLOGIN), and Citus must connect to the workers as those roles, which do not exist there.
BEGIN;

CREATE ROLE tap_none;
CREATE ROLE tap_read;
CREATE ROLE tap_operate;
CREATE ROLE tap_admin;

-- A small portfolio: members, accounts with an owner, a conversation team.
INSERT INTO csm.team_member (handle, roles, teams, capacity)
VALUES ('tap_ann', ARRAY['csm'], ARRAY['tap'], NULL), ('tap_bob', ARRAY['csm'], ARRAY['tap'], NULL),
       ('tap_cy', ARRAY['csm'], ARRAY['tap'], NULL);
INSERT INTO csm.routing_rule (name, target_kind, target, strategy) VALUES ('tap_rule', 'team', 'tap', 'round_robin');
INSERT INTO csm.account (external_id, segment, plan, arr, seats, started_at, renewal_date)
SELECT 'tap_' || i, 'smb', 'pro', 1000 * i, 10, now() - interval '400 days', current_date + 200
FROM generate_series(1, 4) i;
-- Enough history for a churn model: customers a year ago, half churned since.
INSERT INTO csm.account (external_id, segment, started_at, status, churned_at)
SELECT 'tap_past_' || i, 'smb', now() - interval '400 days', CASE WHEN i % 2 = 0 THEN 'churned' ELSE 'active' END,
       CASE WHEN i % 2 = 0 THEN now() - interval '30 days' END
FROM generate_series(1, 40) i;

-- An NPS answer with its follow-up, open.
INSERT INTO csm.nps_response (account_id, score) SELECT account_id, 4 FROM csm.account WHERE external_id = 'tap_2';
-- A success plan (87_success_plan.sql).
SELECT csm.create_success_plan('tap_1', '["tap objective"]', '{"duration": "3 months"}') IS NOT NULL;
-- An alert to acknowledge.
INSERT INTO csm.alert (account_id, kind, severity, created_at)
SELECT account_id, 'unassigned', 'warning', now() FROM csm.account WHERE external_id = 'tap_3';

-- The calls: what each does, the SQL, the level it needs ('never': no level
-- grants it), and whether it is a csm function (whose refusal has a hint).
CREATE TEMP TABLE tap_call (name text, sql text, level text, hinted boolean);
INSERT INTO tap_call VALUES
    -- read: views, tables and reading functions
    ('read csm.account_health', 'SELECT count(*) FROM csm.account_health', 'read', false),
    ('read csm.account_metrics', 'SELECT count(*) FROM csm.account_metrics', 'read', false),
    ('read csm.health_trend', 'SELECT count(*) FROM csm.health_trend', 'read', false),
    ('read csm.churn_risk', 'SELECT count(*) FROM csm.churn_risk', 'read', false),
    ('read csm.assignment', 'SELECT count(*) FROM csm.assignment', 'read', false),
    ('read csm.assignment_workload', 'SELECT count(*) FROM csm.assignment_workload', 'read', false),
    ('read csm.unassigned_queue', 'SELECT count(*) FROM csm.unassigned_queue', 'read', false),
    ('read csm.agent_performance', 'SELECT count(*) FROM csm.agent_performance', 'read', false),
    ('read csm.usage_daily', 'SELECT count(*) FROM csm.usage_daily', 'read', false),
    ('read csm.churn_signal_current', 'SELECT count(*) FROM csm.churn_signal_current', 'read', false),
    ('read csm.assignment_log', 'SELECT count(*) FROM csm.assignment_log', 'read', false),
    ('read csm.onboarding_status', 'SELECT count(*) FROM csm.onboarding_status', 'read', false),
    ('read csm.alert_summary', 'SELECT count(*) FROM csm.alert_summary', 'read', false),
    ('read csm.lifecycle_history', 'SELECT count(*) FROM csm.lifecycle_history', 'read', false),
    ('time_to_value', $$SELECT csm.time_to_value('tap_1')$$, 'read', false),
    ('read csm.nps_followup', 'SELECT count(*) FROM csm.nps_followup', 'read', false),
    ('read csm.nps_monthly', 'SELECT count(*) FROM csm.nps_monthly', 'read', false),
    ('nps_summary', $$SELECT count(*) FROM csm.nps_summary(current_date - 90, current_date)$$, 'read', false),
    ('csm_health_score(external_id)', $$SELECT csm.csm_health_score('tap_1')$$, 'read', false),
    ('explain_health', $$SELECT csm.explain_health('tap_1')$$, 'read', false),
    ('churn_probability', $$SELECT csm.churn_probability('tap_1')$$, 'read', false),
    ('analyze_churn_risk', $$SELECT csm.analyze_churn_risk('tap_1')$$, 'read', false),
    ('account_metrics_at', $$SELECT count(*) FROM csm.account_metrics_at(current_date)$$, 'read', false),
    ('churn_signals_at', $$SELECT count(*) FROM csm.churn_signals_at(now())$$, 'read', false),
    ('read csm.expansion_candidate', 'SELECT count(*) FROM csm.expansion_candidate', 'read', false),
    ('read csm.success_plan_progress', 'SELECT count(*) FROM csm.success_plan_progress', 'read', false),
    ('read csm.business_review_due', 'SELECT count(*) FROM csm.business_review_due', 'read', false),
    ('success_plan_report', $$SELECT csm.success_plan_report('tap_1')$$, 'read', false),
    ('business_review', $$SELECT csm.business_review('tap_1', current_date - 90, current_date - 1)$$, 'read', false),
    ('identify_expansion', $$SELECT csm.identify_expansion('tap_1', '{"seats_used": 10}')$$, 'read', false),
    ('assess_health', $$SELECT csm.assess_health('tap_1', daterange(current_date - 30, current_date))$$, 'read', false),
    ('analyze_churn_risk(contract)', $$SELECT csm.analyze_churn_risk('tap_1', '{"nps": 6}', '{"health_scores": [80]}',
                                                                     '{"churn_probability": 0.1}')$$, 'read', false),
    ('expansion_signals_at', $$SELECT count(*) FROM csm.expansion_signals_at(now())$$, 'read', false),
    -- operate
    ('csm_assign', $$SELECT csm.csm_assign('tap_1', 'tap_cy', false)$$, 'operate', true),
    ('csm_unassign', $$SELECT csm.csm_unassign('tap_2', (SELECT handle FROM csm.assignment WHERE external_id = 'tap_2'))$$,
     'operate', true),
    ('csm_auto_assign', $$SELECT csm.csm_auto_assign('tap_3')$$, 'operate', true),
    ('apply_routing', $$SELECT count(*) FROM csm.apply_routing(ARRAY(SELECT account_id FROM csm.account))$$, 'operate', true),
    ('assign_queued', 'SELECT csm.assign_queued()', 'operate', true),
    ('refresh_health', 'SELECT csm.refresh_health()', 'operate', true),
    ('override_health', $$SELECT csm.override_health('tap_1', 85, 'sponsor back', NULL)$$, 'operate', true),
    ('clear_health_override', $$SELECT csm.clear_health_override('tap_1')$$, 'operate', true),
    ('refresh_churn', 'SELECT csm.refresh_churn()', 'operate', true),
    ('refresh_churn_signals', 'SELECT count(*) FROM csm.refresh_churn_signals()', 'operate', true),
    ('refresh_expansion', 'SELECT count(*) FROM csm.refresh_expansion()', 'operate', true),
    ('create_success_plan', $$SELECT csm.create_success_plan('tap_2', '["grow"]', '{"duration": "1 year"}')$$, 'operate', true),
    ('set_success_plan_status', $$SELECT csm.set_success_plan_status('tap_1', 'objective', 1, 'achieved')$$, 'operate', true),
    ('refresh_success_plans', 'SELECT count(*) FROM csm.refresh_success_plans()', 'operate', true),
    ('record_business_review', $$SELECT csm.record_business_review('tap_1', 'ebr')$$, 'operate', true),
    ('route_waiting', 'SELECT csm.route_waiting()', 'operate', true),
    ('reassign_stale', 'SELECT count(*) FROM csm.reassign_stale()', 'operate', true),
    ('refresh_lifecycle', 'SELECT csm.refresh_lifecycle()', 'operate', true),
    ('set_lifecycle_stage', $$SELECT csm.set_lifecycle_stage('tap_1', 'growth', 'tap')$$, 'operate', true),
    ('clear_lifecycle_stage', $$SELECT csm.clear_lifecycle_stage('tap_1')$$, 'operate', true),
    ('record_milestone', $$SELECT csm.record_milestone('tap_1', 'kickoff_call_held')$$, 'operate', true),
    ('clear_milestone', $$SELECT csm.clear_milestone('tap_1', 'kickoff_call_held')$$, 'operate', true),
    ('log a note', $$INSERT INTO csm.account_note (account_id, kind, body)
                     SELECT account_id, 'escalation', 'called' FROM csm.account WHERE external_id = 'tap_1'$$, 'operate', false),
    ('log an NPS answer', $$INSERT INTO csm.nps_response (account_id, score)
                            SELECT account_id, 9 FROM csm.account WHERE external_id = 'tap_1'$$, 'operate', false),
    ('record_nps', $$SELECT count(*) FROM csm.record_nps('tap_1', 3, comment => 'slow')$$, 'operate', true),
    ('update_nps_followup', $$SELECT count(*) FROM csm.update_nps_followup(
                                (SELECT min(response_id) FROM csm.nps_followup WHERE state = 'open'), 'notified')$$,
     'operate', true),
    ('run_alerts', 'SELECT csm.run_alerts()', 'operate', true),
    ('acknowledge_alert', $$SELECT csm.acknowledge_alert((SELECT min(alert_id) FROM csm.alert))$$, 'operate', true),
    -- admin
    ('release_member', $$SELECT csm.release_member('tap_ann')$$, 'admin', true),
    ('copy_health_model', $$SELECT csm.copy_health_model('default', 'tap_model')$$, 'admin', true),
    ('train_churn_model', $$SELECT csm.train_churn_model('tap_model')$$, 'admin', true),
    ('rebuild_agent_load', 'SELECT csm.rebuild_agent_load()', 'admin', true),
    ('add a member', $$INSERT INTO csm.team_member (handle) VALUES ('tap_new')$$, 'admin', false),
    ('deactivate a member', $$UPDATE csm.team_member SET active = false WHERE handle = 'tap_bob'$$, 'admin', false),
    ('change a rule', $$UPDATE csm.routing_rule SET strategy = 'least_loaded' WHERE name = 'tap_rule'$$, 'admin', false),
    ('add a segment weight', $$INSERT INTO csm.segment_weight VALUES ('tap_segment', 7)$$, 'admin', false),
    ('map a health model', $$INSERT INTO csm.health_model_map VALUES ('segment', 'tap_segment', 'default')$$, 'admin', false),
    ('set an NPS action', $$INSERT INTO csm.nps_category (category, min_score, max_score, action, engagement)
                            VALUES ('detractor', 0, 6, 'Call them', 'Recovery plan')$$, 'admin', false),
    ('write csm.nps_loop', $$UPDATE csm.nps_loop SET state = 'notified'$$, 'never', false),
    ('add a support team', $$INSERT INTO csm.support_team (team) VALUES ('tap_support')$$, 'admin', false),
    ('add a lifecycle rule', $$INSERT INTO csm.lifecycle_rule (name, stage, condition) VALUES ('tap', 'growth', 'arr > 1')$$,
     'admin', false),
    ('change a built-in milestone', $$UPDATE csm.milestone SET due_day = 5 WHERE milestone = 'kickoff_call_held'$$, 'admin', false),
    ('add a core feature', $$INSERT INTO csm.core_feature (feature) VALUES ('tap_reports')$$, 'admin', false),
    ('tune an expansion signal', $$INSERT INTO csm.expansion_signal_setting (signal, likelihood) VALUES ('advocacy', 0.4)$$,
     'admin', false),
    ('add a value metric', $$INSERT INTO csm.value_metric (name, unit_value) VALUES ('tap_hours', 5)$$, 'admin', false),
    ('write csm.success_plan', 'DELETE FROM csm.success_plan', 'never', false),
    ('write csm.business_review_held', 'DELETE FROM csm.business_review_held', 'never', false),
    ('record a feature launch', $$INSERT INTO csm.feature_launch (name, features) VALUES ('tap launch', '{reports}')$$,
     'admin', false),
    -- no level: account data and csm's internal tables
    ('UPDATE csm.account SET arr', 'UPDATE csm.account SET arr = 0', 'never', false),
    ('INSERT INTO csm.account', $$INSERT INTO csm.account (external_id) VALUES ('tap_new')$$, 'never', false),
    ('write csm.account_assignment', 'UPDATE csm.account_assignment SET load = 0', 'never', false),
    ('write csm_internal.member_load', 'UPDATE csm_internal.member_load SET load = 0', 'never', false),
    ('write csm.health_score', 'DELETE FROM csm.health_score', 'never', false),
    ('write csm.account_lifecycle', 'UPDATE csm.account_lifecycle SET manual = false', 'never', false),
    ('write csm.lifecycle_history', 'DELETE FROM csm.lifecycle_history', 'never', false),
    ('write csm.account_milestone', 'DELETE FROM csm.account_milestone', 'never', false),
    ('pin a stage with UPDATE csm.account', $$UPDATE csm.account SET lifecycle_stage = 'growth'$$, 'never', false),
    ('write csm.expansion_signal', 'DELETE FROM csm.expansion_signal', 'never', false),
    ('write csm.alert', 'DELETE FROM csm.alert', 'never', false),
    ('INSERT INTO csm.assignment_log', $$INSERT INTO csm.assignment_log (account_id, action) VALUES (1, 'assign')$$,
     'never', false),
    ('grant_access', $$SELECT csm.grant_access('tap_none', 'admin')$$, 'never', false);

-- Runs a call as the role, undoing what it did; returns 'ok', or the
-- SQLSTATE and hint of its error.
CREATE FUNCTION pg_temp.tap_try(who text, call text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    state text;
    hint text;
BEGIN
    BEGIN
        EXECUTE format('SET LOCAL ROLE %I', who);
        EXECUTE call;
        RAISE EXCEPTION 'tap: undo' USING ERRCODE = 'P0999';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
    END;
    RETURN CASE WHEN state = 'P0999' THEN 'ok' ELSE state || ': ' || coalesce(hint, '') END;
END $$;

CREATE TEMP TABLE tap_role (who text, level text, rank integer);
INSERT INTO tap_role VALUES ('tap_none', NULL, 0), ('tap_read', 'read', 1), ('tap_operate', 'operate', 2),
                            ('tap_admin', 'admin', 3);
CREATE FUNCTION pg_temp.tap_rank(level text) RETURNS integer LANGUAGE sql AS $$
    SELECT CASE level WHEN 'read' THEN 1 WHEN 'operate' THEN 2 WHEN 'admin' THEN 3 ELSE 4 END
$$;

SELECT plan(18 + (SELECT count(*)::integer FROM tap_call) * 4);

SELECT csm.grant_access(r.who::regrole, r.level) FROM tap_role r WHERE r.level IS NOT NULL;
SELECT is(array_agg(csm.access_level(r.who::regrole) ORDER BY r.rank), ARRAY[NULL, 'read', 'operate', 'admin'],
          'access_level reports the level each role was given') FROM tap_role r;

-- Every call, as every role.
SELECT is(pg_temp.tap_try(r.who, c.sql),
          CASE WHEN r.rank >= pg_temp.tap_rank(c.level) THEN 'ok'
               WHEN c.hinted AND r.level IS NOT NULL
                   THEN format('42501: Grant it with SELECT csm.grant_access(''%s'', ''%s'').', r.who, c.level)
               ELSE '42501: ' END,
          format('%s: %s', r.who, c.name))
FROM tap_role r CROSS JOIN tap_call c
ORDER BY r.rank, c.name;

-- The list is the grants: a level never includes an internal table's write.
SELECT is((SELECT count(*) FROM csm.access_privileges() p
           WHERE p.privilege <> 'SELECT' AND p.object_type = 'TABLE'
             AND p.object::regclass IN ('csm.account'::regclass, 'csm.account_assignment', 'csm_internal.member_load',
                                        'csm.assignment_log', 'csm.health_score', 'csm.churn_score', 'csm_internal.usage_counter')),
          0::bigint, 'no level writes account data or an internal table directly');
SELECT ok(NOT has_table_privilege('tap_operate', 'csm.account', 'UPDATE'), 'operate has no UPDATE on csm.account');
SELECT ok(NOT has_column_privilege('tap_admin', 'csm.account', 'arr', 'UPDATE'), 'admin cannot rewrite arr either');

-- A lower level replaces a higher one; revoke_access takes everything.
SELECT csm.grant_access('tap_admin', 'read');
SELECT is(csm.access_level('tap_admin'), 'read', 'granting read to an admin leaves it read');
SELECT is(pg_temp.tap_try('tap_admin', $$INSERT INTO csm.team_member (handle) VALUES ('tap_x')$$), '42501: ',
          'and it can no longer add members');
SELECT csm.revoke_access('tap_read');
SELECT is(csm.access_level('tap_read'), NULL, 'revoke_access leaves no level');
SELECT is((SELECT count(*) FROM csm.access_privileges() p
           WHERE CASE p.object_type
                     WHEN 'TABLE' THEN has_table_privilege('tap_read', p.object, 'SELECT')
                     WHEN 'FUNCTION' THEN has_function_privilege('tap_read', p.object, 'EXECUTE')
                     ELSE has_schema_privilege('tap_read', p.object, 'USAGE') END), 0::bigint,
          'and no privilege of the list');

-- A loader with no level, only INSERT on csm.account and csm.conversation:
-- csm's triggers route what it inserts with csm's rights, and log it.
CREATE ROLE tap_loader;
GRANT USAGE ON SCHEMA csm TO tap_loader;
GRANT INSERT ON csm.account, csm.conversation TO tap_loader;
UPDATE csm.team_member SET status = 'online' WHERE handle = 'tap_cy';
SET ROLE tap_loader;
SELECT lives_ok($$INSERT INTO csm.account (external_id) VALUES ('tap_loaded')$$,
                'a role with only INSERT on csm.account creates an account');
RESET ROLE;
SELECT is((SELECT count(*) FROM csm.assignment WHERE external_id = 'tap_loaded' AND is_primary), 1::bigint,
          'which the routing trigger gives an owner');
SELECT is((SELECT string_agg(l.actor::text, ',') FROM csm.assignment_log l WHERE l.external_id = 'tap_loaded'),
          'tap_loader', 'and logs with the loader as actor');
SELECT account_id AS tap_1_id FROM csm.account WHERE external_id = 'tap_1' \gset
SET ROLE tap_loader;
SELECT lives_ok('INSERT INTO csm.conversation (account_id, team) VALUES (' || :tap_1_id || ', ''tap'')',
                'and opens a conversation');
RESET ROLE;
SELECT is((SELECT l.action || ':' || l.actor FROM csm.assignment_log l WHERE l.conversation_id IS NOT NULL),
          'route:tap_loader', 'which is routed and logged with the loader as actor');

-- refresh_health reads a metrics view of a trusted owner the caller may read.
CREATE VIEW tap_metrics AS SELECT account_id, 9::float8 AS nps FROM csm.account;
GRANT SELECT ON tap_metrics TO tap_operate;
SET ROLE tap_operate;
SELECT ok(csm.refresh_health('tap_metrics') > 0, 'refresh_health reads a view the caller may read');
RESET ROLE;
ALTER VIEW tap_metrics OWNER TO tap_operate;
SET ROLE tap_operate;
SELECT throws_ok($$SELECT csm.refresh_health('tap_metrics')$$, '42501', NULL,
                 'but not one the caller owns, whose code would run with csm''s rights');
RESET ROLE;

-- Misuse.
SELECT throws_ok($$SELECT csm.grant_access('tap_read', 'superuser')$$, '22023', NULL, 'an unknown level is 22023');
SELECT throws_ok($$SELECT csm_internal._require('owner')$$, '22023', NULL, '_require refuses an unknown level');
SET ROLE tap_operate;
SELECT throws_ok($$SELECT csm.refresh_health('pg_authid')$$, '42501', NULL,
                 'refresh_health will not read a relation the caller cannot read');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
