-- Playbooks: every documented SQLSTATE of the playbook functions and
-- tables, and the access levels they check.
BEGIN;
SELECT plan(26);

INSERT INTO csm.account (external_id, name) VALUES ('tap_pb_a', 'A');
INSERT INTO csm.playbook (name, trigger_kind) VALUES ('tap_manual', 'manual');
-- steps inserted out of order: tasks are numbered in step order all the same
INSERT INTO csm.playbook_step (playbook, position, title) VALUES ('tap_manual', 3, 'Three'), ('tap_manual', 1, 'One'), ('tap_manual', 2, 'Two');

-- built-ins
SELECT throws_ok($$DELETE FROM csm.playbook WHERE name = 'at_risk_intervention'$$, '42501', NULL, 'a built-in playbook cannot be deleted');
SELECT throws_ok($$UPDATE csm.playbook SET name = 'x' WHERE name = 'renewal'$$, '42501', NULL, 'nor renamed');
SELECT throws_ok($$INSERT INTO csm.playbook (name, trigger_kind, builtin) VALUES ('tap_fake', 'manual', true)$$, '42501', NULL,
                 'nor made by a user');
-- definitions
SELECT throws_ok($$INSERT INTO csm.playbook (name, trigger_kind) VALUES ('Tap Bad', 'manual')$$, '23514', NULL, 'a name is [a-z][a-z0-9_]*');
SELECT throws_ok($$INSERT INTO csm.playbook (name, trigger_kind) VALUES ('tap_kind', 'moon')$$, '23503', NULL, 'an unknown trigger kind');
SELECT throws_ok($$INSERT INTO csm.playbook (name, trigger_kind, trigger_values) VALUES ('tap_idle', 'no_activity', '{30,60}')$$,
                 '23514', NULL, 'no_activity takes one number of days');
SELECT throws_ok($$INSERT INTO csm.playbook (name, trigger_kind, trigger_values) VALUES ('tap_ren', 'renewal_reminder', '{45}')$$,
                 '23514', NULL, 'renewal_reminder takes 90, 60 or 30');
SELECT throws_ok($$INSERT INTO csm.playbook (name, trigger_kind, condition) VALUES ('tap_cond', 'manual', 'arr >')$$,
                 '42601', NULL, 'a condition that does not parse');
SELECT throws_ok($$INSERT INTO csm.playbook_step (playbook, position, title, kind) VALUES ('tap_manual', 3, 'x', 'dance')$$,
                 '23514', NULL, 'an unknown step kind');

-- open_cta
SELECT throws_ok($$SELECT csm.open_cta('tap_nobody', 'tap_manual')$$, 'P0002', NULL, 'open_cta: unknown account');
SELECT throws_ok($$SELECT csm.open_cta('tap_pb_a', 'tap_none')$$, '22023', NULL, 'open_cta: unknown playbook');
SELECT throws_ok($$SELECT csm.open_cta('tap_pb_a', NULL)$$, '22004', NULL, 'open_cta: NULL playbook');
UPDATE csm.playbook SET active = false WHERE name = 'renewal';
SELECT throws_ok($$SELECT csm.open_cta('tap_pb_a', 'renewal')$$, '55000', NULL, 'open_cta: inactive playbook');
SELECT ok(csm.open_cta('tap_pb_a', 'tap_manual') > 0, 'open_cta opens one');
SELECT is(ARRAY(SELECT k.title FROM csm.task k JOIN csm.account a USING (account_id) WHERE a.external_id = 'tap_pb_a' ORDER BY k.task_id),
          ARRAY['One', 'Two', 'Three'], 'its tasks, one per step, numbered in step order');

-- complete_task and resolve_cta
SELECT throws_ok($$SELECT csm.complete_task(-1, 'x')$$, 'P0002', NULL, 'complete_task: unknown task');
SELECT lives_ok($$SELECT csm.complete_task((SELECT min(task_id) FROM csm.task k JOIN csm.account a USING (account_id) WHERE a.external_id = 'tap_pb_a'), 'ok')$$,
                'complete_task');
SELECT throws_ok($$SELECT csm.complete_task((SELECT min(task_id) FROM csm.task k JOIN csm.account a USING (account_id) WHERE a.external_id = 'tap_pb_a'), 'again')$$,
                 '55000', NULL, 'complete_task: already done');
SELECT throws_ok($$SELECT csm.resolve_cta((SELECT cta_id FROM csm.cta c JOIN csm.account a USING (account_id) WHERE a.external_id = 'tap_pb_a'), 'perhaps')$$,
                 '22023', NULL, 'resolve_cta: unknown outcome');

-- access: a role below operate
CREATE ROLE tap_pb_reader;
SELECT csm.grant_access('tap_pb_reader', 'read');
SET ROLE tap_pb_reader;
SELECT throws_ok($$SELECT csm.run_playbooks()$$, '42501', NULL, 'run_playbooks needs operate');
SELECT throws_ok($$SELECT csm.complete_task(1, 'x')$$, '42501', NULL, 'complete_task needs operate');
RESET ROLE;

-- Firings over many accounts run without nested loops (csm_internal._whole_sets),
-- and give the caller its setting back.
SELECT is(ARRAY[csm_internal._whole_sets(NULL, NULL), csm_internal._whole_sets(ARRAY[1, 2, 3], NULL),
                csm_internal._whole_sets(ARRAY(SELECT generate_series(1, 1001)::bigint), NULL),
                csm_internal._whole_sets(ARRAY[1], 'SELECT 1')],
          ARRAY[true, false, true, true], 'whole sets: every account, more than 1,000, or a query of them');
SELECT is((SELECT csm_internal._fire_playbooks(ARRAY['health_band'], ARRAY(SELECT generate_series(1, 1001)::bigint)) >= 0
                  AND current_setting('enable_nestloop') = 'on'), true,
          'a firing for 1,001 accounts leaves enable_nestloop as it was');

-- Deleting an account deletes its CTAs (foreign key) and their tasks
-- (csm.task has no foreign key to csm.cta: account_forget_tasks).
INSERT INTO csm.account (external_id, name) VALUES ('tap_pb_gone', 'Gone');
SELECT ok(csm.open_cta('tap_pb_gone', 'tap_manual') > 0, 'a CTA with tasks for an account to delete');
SELECT lives_ok($$DELETE FROM csm.account WHERE external_id = 'tap_pb_gone'$$, 'the account is deleted');
SELECT is((SELECT count(*) FROM csm.task k WHERE NOT EXISTS (SELECT 1 FROM csm.cta c WHERE c.account_id = k.account_id AND c.cta_id = k.cta_id)),
          0::bigint, 'deleting the account left no task without its CTA');

SELECT * FROM finish();
ROLLBACK;
