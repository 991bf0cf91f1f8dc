-- Lifecycle: every documented SQLSTATE, the built-in rows' guard and their
-- round trip through pg_dump's filter (a restore puts a customized built-in
-- rule in place of the default), the phases over every day of onboarding,
-- and csm.refresh_lifecycle() being idempotent over a generated portfolio.
BEGIN;
SELECT plan(35);

INSERT INTO csm.account (external_id, arr, seats, started_at, renewal_date, status)
SELECT 'tap_lc_' || i, 1000 * i, 10, now() - make_interval(days => i * 7), current_date + (i * 37) % 400,
       CASE WHEN i % 11 = 0 THEN 'churned' ELSE 'active' END
FROM generate_series(1, 60) i;

-- SQLSTATEs
SELECT throws_ok($$SELECT csm.set_lifecycle_stage('tap_nobody', 'growth')$$, 'P0002', NULL, 'set_lifecycle_stage: unknown account');
SELECT throws_ok($$SELECT csm.set_lifecycle_stage(NULL, 'growth')$$, '22004', NULL, 'set_lifecycle_stage: NULL account');
SELECT throws_ok($$SELECT csm.set_lifecycle_stage('tap_lc_1', NULL)$$, '22004', NULL, 'set_lifecycle_stage: NULL stage');
SELECT throws_ok($$SELECT csm.set_lifecycle_stage('tap_lc_1', 'churned')$$, '22023', NULL, 'churned is not set by hand');
SELECT throws_ok($$SELECT csm.set_lifecycle_stage('tap_lc_11', 'growth')$$, '22023', NULL, 'nor another stage on a churned account');
SELECT throws_ok($$UPDATE csm.account SET lifecycle_stage = 'adoption' WHERE external_id = 'tap_lc_11'$$, '22023', NULL,
                 'nor through UPDATE');
SELECT throws_ok($$SELECT csm.set_lifecycle_stage('tap_lc_1', 'grown')$$, '22P02', NULL, 'an unknown stage');
SELECT throws_ok($$SELECT csm.clear_lifecycle_stage('tap_nobody')$$, 'P0002', NULL, 'clear_lifecycle_stage: unknown account');
SELECT throws_ok($$SELECT csm.clear_lifecycle_stage(NULL)$$, '22004', NULL, 'clear_lifecycle_stage: NULL account');
SELECT throws_ok($$SELECT csm.record_milestone('tap_nobody', 'kickoff_call_held')$$, 'P0002', NULL, 'record_milestone: unknown account');
SELECT throws_ok($$SELECT csm.record_milestone('tap_lc_1', 'tap_nothing')$$, '22023', NULL, 'record_milestone: unknown milestone');
SELECT throws_ok($$SELECT csm.record_milestone('tap_lc_1', 'kickoff_call_held', now() + interval '1 hour')$$, '22023', NULL,
                 'record_milestone: in the future');
SELECT throws_ok($$SELECT csm.record_milestone('tap_lc_1', 'kickoff_call_held', 'infinity')$$, '22023', NULL,
                 'record_milestone: infinity');
SELECT throws_ok($$SELECT csm.record_milestone('tap_lc_1', NULL)$$, '22004', NULL, 'record_milestone: NULL milestone');
SELECT throws_ok($$SELECT csm.clear_milestone('tap_nobody', 'kickoff_call_held')$$, 'P0002', NULL, 'clear_milestone: unknown account');
SELECT throws_ok($$SELECT csm.clear_milestone('tap_lc_1', NULL)$$, '22004', NULL, 'clear_milestone: NULL milestone');
SELECT throws_ok($$SELECT csm.time_to_value('tap_nobody')$$, 'P0002', NULL, 'time_to_value: unknown account');
SELECT throws_ok($$INSERT INTO csm.lifecycle_rule (name, stage, condition) VALUES ('tap', 'growth', 'lifecycle_stage = ''live''')$$,
                 '22023', NULL, 'a lifecycle_stage outside the enum in a condition');
SELECT throws_ok($$INSERT INTO csm.lifecycle_rule (name, stage, condition) VALUES ('tap', 'growth', 'onboarding_phase = ''setup''')$$,
                 '22023', NULL, 'an onboarding_phase outside the enum in a condition');
SELECT throws_ok($$INSERT INTO csm.milestone (milestone, label) VALUES ('Tap Bad', 'x')$$, '23514', NULL, 'a milestone key must be a slug');
SELECT throws_ok($$INSERT INTO csm.milestone (milestone, label, detect_users) VALUES ('tap_m', 'x', 0)$$, '23514', NULL,
                 'detect_users at least 1');

-- built-in rows: changed, never deleted, renamed or made
SELECT throws_ok($$DELETE FROM csm.lifecycle_rule WHERE name = 'onboarding'$$, '42501', NULL, 'a built-in rule cannot be deleted');
SELECT throws_ok($$DELETE FROM csm.milestone WHERE milestone = 'kickoff_call_held'$$, '42501', NULL, 'nor a built-in milestone');
SELECT throws_ok($$UPDATE csm.milestone SET milestone = 'tap_kickoff' WHERE milestone = 'kickoff_call_held'$$, '42501', NULL,
                 'nor renamed');
SELECT throws_ok($$UPDATE csm.lifecycle_rule SET builtin = false WHERE name = 'renewal'$$, '42501', NULL, 'nor unmarked');
SELECT throws_ok($$INSERT INTO csm.lifecycle_rule (name, stage, condition, builtin) VALUES ('tap', 'growth', 'TRUE', true)$$,
                 '42501', NULL, 'nor made');
-- pg_dump keeps exactly the user's rows and the changed built-in ones ...
UPDATE csm.lifecycle_rule SET condition = 'days_to_renewal <= 120' WHERE name = 'renewal';
INSERT INTO csm.lifecycle_rule (name, priority, stage, condition) VALUES ('tap_big', 25, 'growth', 'arr >= 50000');
SELECT is(ARRAY(SELECT r.name FROM csm.lifecycle_rule r WHERE NOT builtin OR customized ORDER BY r.name),
          ARRAY['renewal', 'tap_big'], 'the dump filter keeps the changed built-in rule and the user''s');
SELECT is((SELECT c.extcondition[array_position(c.extconfig, 'csm.lifecycle_rule'::regclass)]
           FROM pg_extension c WHERE c.extname = 'csm'), 'WHERE NOT builtin OR customized', 'which is pg_dump''s filter');
-- ... and a restore (CREATE EXTENSION's defaults, then the dumped rows) puts it in place
CREATE TEMP TABLE tap_dumped AS SELECT * FROM csm.lifecycle_rule WHERE NOT builtin OR customized;
DELETE FROM csm.lifecycle_rule WHERE NOT builtin;
UPDATE csm.lifecycle_rule SET condition = 'days_to_renewal <= 90', customized = false WHERE name = 'renewal';
SELECT is((SELECT customized FROM csm.lifecycle_rule WHERE name = 'renewal'), true,
          'a built-in rule changed back by hand is still customized');
-- (the state CREATE EXTENSION leaves: a default that was never customized;
-- on Citus a reference table's triggers are changed only with this setting)
SET LOCAL citus.enable_unsafe_triggers = on;
ALTER TABLE csm.lifecycle_rule DISABLE TRIGGER lifecycle_rule_builtin;
UPDATE csm.lifecycle_rule SET customized = false WHERE name = 'renewal';
ALTER TABLE csm.lifecycle_rule ENABLE TRIGGER lifecycle_rule_builtin;
SELECT lives_ok($$INSERT INTO csm.lifecycle_rule SELECT * FROM tap_dumped$$, 'the dumped rows load over the defaults');
SELECT is((SELECT condition::text || ' ' || customized FROM csm.lifecycle_rule WHERE name = 'renewal'),
          'days_to_renewal <= 120 true', 'the changed built-in rule replaced the default');
DELETE FROM csm.lifecycle_rule WHERE name = 'tap_big';
UPDATE csm.lifecycle_rule SET condition = 'days_to_renewal <= 90' WHERE name = 'renewal';

-- the phase of every day of onboarding, against the seed's windows
SELECT is((SELECT count(*) FROM generate_series(-5, 120) d
           WHERE csm.onboarding_phase_at(d)::text IS DISTINCT FROM
                 CASE WHEN d <= 7 THEN 'kickoff' WHEN d <= 30 THEN 'activation' ELSE 'early_value' END),
          0::bigint, 'kickoff to day 7, activation 8-30, early value from 31');

-- over a generated portfolio: every account has a stage, the one the first
-- matching rule gives, its history has one open row that agrees, and a
-- second refresh moves nothing
SELECT csm.refresh_lifecycle();
SELECT is((SELECT count(*) FROM csm.account a WHERE a.external_id LIKE 'tap_lc_%' AND a.lifecycle_stage IS DISTINCT FROM
             CASE WHEN a.status = 'churned' THEN 'churned'
                  WHEN csm_internal._days_since(a.started_at) <= 90 THEN 'onboarding'
                  WHEN a.renewal_date - current_date <= 90 THEN 'renewal'
                  ELSE 'adoption' END::csm.lifecycle_stage),
          0::bigint, 'each account has the stage of the first rule that matches');
SELECT is((SELECT count(*) FROM csm.account a JOIN csm.account_lifecycle l USING (account_id)
           JOIN csm.lifecycle_history h ON h.account_id = l.account_id AND h.left_at IS NULL
           WHERE a.external_id LIKE 'tap_lc_%' AND a.lifecycle_stage = l.stage AND h.stage = l.stage
             AND h.phase IS NOT DISTINCT FROM l.onboarding_phase),
          60::bigint, 'the account, its state and its open history row agree');
SELECT is(csm.refresh_lifecycle(), 0, 'a second refresh moves nothing');

SELECT * FROM finish();
ROLLBACK;
