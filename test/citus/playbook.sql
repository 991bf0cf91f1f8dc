-- Playbooks on Citus: run_playbooks, record_nps, the evidence, tasks and
-- their assignees, the move of open tasks when owners change,
-- complete_task, closing by the system and the views, on a cluster where
-- csm.distribute() has run, with the answers of a single node.  The same
-- file passes on a single node (pg_prove against a database with csm and
-- pgtap), which is how the expected values below were checked.
--
-- Five accounts (ids 9601-9605); health scores, a churn signal and NPS
-- answers written to their tables directly (their refreshes are tested
-- elsewhere).  Everything is rolled back.
BEGIN;
SELECT plan(14);
SET LOCAL timezone = 'UTC';
SET LOCAL client_min_messages = warning;

-- Fixture -----------------------------------------------------------------------
INSERT INTO csm.account (account_id, external_id, segment, arr, seats, renewal_date) VALUES
    (9601, 'pz01', 'smb', 50000, 10, current_date + 200),
    (9602, 'pz02', 'smb', 20000, 5, current_date + 200),
    (9603, 'pz03', 'smb', 90000, 50, current_date + 200),
    (9604, 'pz04', 'enterprise', 70000, 20, current_date + 200),
    (9605, 'pz05', 'smb', 10000, 5, current_date + 200);
INSERT INTO csm.team_member (handle, roles) VALUES ('pz_ava', '{csm}'), ('pz_ben', '{csm}'), ('pz_axe', '{account_exec}');
SELECT csm.csm_assign('pz01', 'pz_ava'), csm.csm_assign('pz01', 'pz_axe', false), csm.csm_assign('pz03', 'pz_ava');
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values, component_scores, component_weights, computed_at)
VALUES (9601, 'default', 1, 40, 'red', 1, '{}', '{}', '{}', '{}', now()), (9602, 'default', 1, 55, 'red', 1, '{}', '{}', '{}', '{}', now()),
       (9603, 'default', 1, 80, 'yellow', 1, '{}', '{}', '{}', '{}', now()), (9604, 'default', 1, 95, 'green', 1, '{}', '{}', '{}', '{}', now()),
       (9605, 'default', 1, 92, 'green', 1, '{}', '{}', '{}', '{}', now());
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
VALUES (9603, 'key_stakeholder_departed', now(), now(), '{"stakeholder": "VP Ops"}');
INSERT INTO csm.playbook (name, trigger_kind, trigger_values, condition, segment_filter)
VALUES ('pz_big_yellow', 'health_band', '{yellow,green}', 'arr >= 60000', '{smb}');
INSERT INTO csm.playbook_step (playbook, position, title, due_after, assignee_role)
VALUES ('pz_big_yellow', 1, 'Call', '1 day', 'primary_csm'), ('pz_big_yellow', 2, 'Escalate', '2 days', 'support');

-- Firing ----------------------------------------------------------------------------
SELECT is(csm.run_playbooks(), 4, 'run_playbooks opens four CTAs');
SELECT set_eq($$SELECT account_id, playbook, owner, priority FROM csm.cta WHERE account_id > 9600$$,
              $$VALUES (9601::bigint, 'at_risk_intervention', 'pz_ava', 'high'), (9602, 'at_risk_intervention', NULL, 'high'),
                       (9603, 'executive_sponsor_change', 'pz_ava', 'high'), (9603, 'pz_big_yellow', 'pz_ava', 'medium')$$,
              'the accounts and playbooks of one node, with their owners');
SELECT set_eq($$SELECT account_id, evidence #- '{event,computed_at}' #- '{event,first_seen_at}' FROM csm.cta WHERE account_id > 9600 AND playbook <> 'at_risk_intervention'$$,
              $$VALUES (9603::bigint, '{"by": "run_playbooks", "value": "key_stakeholder_departed", "trigger": "churn_signal",
                                        "event": {"signal": "key_stakeholder_departed", "evidence": {"stakeholder": "VP Ops"}}}'::jsonb),
                       (9603, '{"by": "run_playbooks", "value": "yellow", "trigger": "health_band", "facts": {"arr": 90000},
                                "event": {"model": "default", "override": false, "health_band": "yellow", "health_score": 80.0}}'::jsonb)$$,
              'evidence: the trigger, the source''s numbers and the facts the condition read');
SELECT set_eq($$SELECT c.account_id, k.position, k.assignee, k.team FROM csm.task k JOIN csm.cta c USING (account_id, cta_id)
                WHERE c.account_id > 9600 AND c.playbook IN ('at_risk_intervention', 'pz_big_yellow')$$,
              $$VALUES (9601::bigint, 1, 'pz_ava', NULL), (9601, 2, 'pz_ava', NULL), (9601, 3, 'pz_ava', NULL), (9601, 4, 'pz_axe', NULL),
                       (9601, 5, 'pz_ava', NULL), (9602, 1, NULL, 'csm'), (9602, 2, NULL, 'csm'), (9602, 3, NULL, 'csm'),
                       (9602, 4, NULL, 'csm'), (9602, 5, NULL, 'csm'), (9603, 1, 'pz_ava', NULL), (9603, 2, NULL, 'support')$$,
              'tasks assigned at creation: the role on the account, else the queue');
SELECT is(csm.run_playbooks(), 0, 'a second run opens nothing');
SELECT is((SELECT count(*) FROM csm.cta WHERE account_id > 9600), 4::bigint, 'and there are still four CTAs');

-- NPS -------------------------------------------------------------------------------
INSERT INTO csm.playbook (name, trigger_kind, trigger_values) VALUES ('pz_detractor', 'nps_category', '{detractor}');
INSERT INTO csm.playbook_step (playbook, position, title) VALUES ('pz_detractor', 1, 'Call back');
SELECT is((SELECT category FROM csm.record_nps('pz05', 2, comment => 'slow')), 'detractor', 'an NPS answer recorded');
SELECT results_eq($$SELECT evidence -> 'event' ->> 'comment' FROM csm.cta WHERE account_id = 9605 AND playbook = 'pz_detractor'$$,
                  $$VALUES ('slow')$$, 'record_nps fired the detractor playbook for that account');

-- Owners change ---------------------------------------------------------------------
SELECT csm.csm_assign('pz02', 'pz_ben');
SELECT set_eq($$SELECT position, assignee, team FROM csm.task WHERE account_id = 9602$$,
              $$VALUES (1, 'pz_ben', NULL), (2, 'pz_ben', NULL), (3, 'pz_ben', NULL), (4, NULL, 'csm'), (5, 'pz_ben', NULL)$$,
              'a new primary takes the open tasks of the queue');
SELECT results_eq($$SELECT count(*) FROM csm.assignment_log l JOIN csm.team_member m ON m.member_id = l.new_member_id
                    WHERE l.account_id = 9602 AND l.action = 'move_tasks' AND m.handle = 'pz_ben'$$,
                  $$VALUES (1::bigint)$$, 'and the log shows it');

-- Completing, clearing, views ------------------------------------------------------
SELECT task_id AS pz_task FROM csm.task WHERE account_id = 9601 AND position = 1 \gset
SELECT is((csm.complete_task(:pz_task, 'done')).status, 'done', 'complete_task');
SELECT results_eq($$SELECT status FROM csm.cta WHERE account_id = 9601 AND playbook = 'at_risk_intervention'$$,
                  $$VALUES ('in_progress')$$, 'its CTA is in progress');
UPDATE csm.health_score SET score = 85, band = 'yellow' WHERE account_id = 9602;
SELECT csm.run_playbooks();
SELECT results_eq($$SELECT status || '/' || outcome FROM csm.cta WHERE account_id = 9602 AND playbook = 'at_risk_intervention'$$,
                  $$VALUES ('closed_by_system/cleared')$$, 'a CTA whose band cleared is closed by the system');
SELECT set_eq($$SELECT playbook, ctas, acted_on FROM csm.cta_response_time WHERE playbook IN ('at_risk_intervention', 'pz_big_yellow')$$,
              $$VALUES ('at_risk_intervention', 2::bigint, 1::bigint), ('pz_big_yellow', 1, 0)$$,
              'response time counts the CTAs and those acted on');

SELECT * FROM finish();
ROLLBACK;
