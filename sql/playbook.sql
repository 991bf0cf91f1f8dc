-- Playbooks and tasks (issue 14, section 1): the built-ins, firing from the
-- refreshes with the facts as evidence, one open CTA per account and
-- playbook, cooldown, conditions, segment filters, assignees resolved at
-- creation and moved with the account, completing tasks, resolving CTAs,
-- closing by the system, adherence and response time.
\set VERBOSITY terse

-- the built-ins: seed 002's five, seed 003's intervention, the renewal playbook
SELECT p.name, p.trigger_kind, p.trigger_values, p.condition, p.cooldown, p.priority, p.close_when_cleared,
       count(s.position) AS steps
FROM csm.playbook p LEFT JOIN csm.playbook_step s ON s.playbook = p.name
GROUP BY p.playbook_id ORDER BY p.playbook_id;
SELECT position, title, due_after, assignee_role, kind FROM csm.playbook_step
WHERE playbook = 'at_risk_intervention' ORDER BY position;
-- deactivated, not deleted or renamed
DELETE FROM csm.playbook WHERE name = 'renewal';
UPDATE csm.playbook SET name = 'renewal2' WHERE name = 'renewal';
UPDATE csm.playbook SET active = false WHERE name = 'renewal' RETURNING name, active, customized;
UPDATE csm.playbook SET active = true WHERE name = 'renewal';
-- a bad definition is refused
INSERT INTO csm.playbook (name, trigger_kind) VALUES ('Bad Name', 'manual');
INSERT INTO csm.playbook (name, trigger_kind) VALUES ('unknown_kind', 'moon_phase');
INSERT INTO csm.playbook (name, trigger_kind, trigger_values) VALUES ('idle', 'no_activity', '{soon}');
INSERT INTO csm.playbook (name, trigger_kind, condition) VALUES ('bad_condition', 'manual', 'health_score >');
INSERT INTO csm.playbook (name, trigger_kind, cooldown) VALUES ('negative', 'manual', '-1 day');

-- accounts, owners: pb_a has a primary CSM and an account executive, pb_b none
INSERT INTO csm.account (external_id, name, segment, arr, seats, renewal_date) VALUES
    ('pb_a', 'Acme', 'smb', 50000, 10, current_date + 200),
    ('pb_b', 'Bolt', 'smb', 20000, 5, current_date + 200),
    ('pb_c', 'Cora', 'enterprise', 90000, 50, current_date + 200);
INSERT INTO csm.team_member (handle, name, roles) VALUES
    ('pb_ava', 'Ava', '{csm}'), ('pb_ben', 'Ben', '{csm}'), ('pb_axe', 'Axe', '{account_exec}');
SELECT count(*) AS assigned FROM (SELECT csm.csm_assign('pb_a', 'pb_ava'), csm.csm_assign('pb_a', 'pb_axe', false)) x;
CREATE TEMP TABLE pb_metrics AS
SELECT a.account_id,
       CASE a.external_id WHEN 'pb_c' THEN 0.9 ELSE 0.2 END AS dau_ratio,
       CASE a.external_id WHEN 'pb_c' THEN 8 ELSE 1 END AS features_adopted,
       CASE a.external_id WHEN 'pb_c' THEN 0 ELSE 8 END AS tickets_per_month,
       CASE a.external_id WHEN 'pb_c' THEN 10 ELSE 3 END AS nps,
       200 AS days_to_renewal
FROM csm.account a;

-- refresh_health fires at_risk_intervention (red) in its own transaction, with the facts as evidence
SELECT csm.refresh_health('pb_metrics') AS scored;
SELECT a.external_id, c.playbook, c.status, c.priority, c.owner, c.playbook_version,
       c.evidence - 'event' AS evidence, c.evidence -> 'event' -> 'health_band' AS band,
       c.evidence -> 'event' -> 'health_score' AS score
FROM csm.cta c JOIN csm.account a USING (account_id) ORDER BY a.external_id;
-- one task per step, assigned when made: the role on the account, else the playbook's queue
SELECT a.external_id, k.position, k.kind, k.assignee_role, k.assignee, k.team,
       k.due_at - c.opened_at AS due_after, k.status
FROM csm.task k JOIN csm.cta c USING (account_id, cta_id) JOIN csm.account a USING (account_id)
ORDER BY a.external_id, k.position;

-- idempotent: again, and run_playbooks, open nothing new
SELECT csm.refresh_health('pb_metrics') AS scored_again;
SELECT csm.run_playbooks() AS opened;
SELECT count(*) AS ctas, count(*) FILTER (WHERE status = 'open') AS open FROM csm.cta;

-- reassigning pb_b moves its open tasks from the queue to the new CSM, and the log shows it
SELECT count(*) AS assigned FROM (SELECT csm.csm_assign('pb_b', 'pb_ben')) x;
SELECT k.position, k.assignee, k.team FROM csm.task k JOIN csm.account a USING (account_id)
WHERE a.external_id = 'pb_b' ORDER BY k.position;
SELECT l.action, o.handle AS old_member, n.handle AS new_member, regexp_replace(l.reason, 'task_id [0-9, ]+', 'task_id ...') AS reason
FROM csm.assignment_log l JOIN csm.account a USING (account_id)
LEFT JOIN csm.team_member o ON o.member_id = l.old_member_id LEFT JOIN csm.team_member n ON n.member_id = l.new_member_id
WHERE a.external_id = 'pb_b' ORDER BY l.log_id;
-- and handing pb_a to Ben moves Ava's tasks to him; the account executive keeps his
SELECT count(*) AS handed FROM (SELECT csm.csm_unassign('pb_a', 'pb_ava'), csm.csm_assign('pb_a', 'pb_ben')) x;
SELECT k.position, k.assignee_role, k.assignee, k.team FROM csm.task k JOIN csm.account a USING (account_id)
WHERE a.external_id = 'pb_a' ORDER BY k.position;
SELECT l.action, o.handle AS old_member, n.handle AS new_member, regexp_replace(l.reason, 'task_id [0-9, ]+', 'task_id ...') AS reason
FROM csm.assignment_log l JOIN csm.account a USING (account_id)
LEFT JOIN csm.team_member o ON o.member_id = l.old_member_id LEFT JOIN csm.team_member n ON n.member_id = l.new_member_id
WHERE a.external_id = 'pb_a' AND l.action = 'move_tasks' ORDER BY l.log_id;

-- completing a task: the CTA's first action, in_progress
SELECT (t).status, (t).outcome, (t).completed_at IS NOT NULL AS completed
FROM (SELECT csm.complete_task(k.task_id, 'root cause: usage') AS t
      FROM csm.task k JOIN csm.account a USING (account_id) WHERE a.external_id = 'pb_a' AND k.position = 1) x;
SELECT c.status, c.first_action_at IS NOT NULL AS acted FROM csm.cta c JOIN csm.account a USING (account_id)
WHERE a.external_id = 'pb_a';
-- errors
SELECT csm.complete_task(k.task_id, 'again') FROM csm.task k JOIN csm.account a USING (account_id)
WHERE a.external_id = 'pb_a' AND k.position = 1;
SELECT csm.complete_task(-1, 'nothing');
SELECT csm.complete_task(NULL, 'nothing');
SELECT csm.complete_task(k.task_id, '  ') FROM csm.task k JOIN csm.account a USING (account_id)
WHERE a.external_id = 'pb_a' AND k.position = 2;
-- completing every task resolves the CTA (outcome completed)
SELECT count(csm.complete_task(k.task_id, NULL)) AS completed FROM csm.task k JOIN csm.account a USING (account_id)
WHERE a.external_id = 'pb_a' AND k.status = 'open';
SELECT c.status, c.outcome, c.closed_at IS NOT NULL AS closed FROM csm.cta c JOIN csm.account a USING (account_id)
WHERE a.external_id = 'pb_a';

-- the cooldown: still red, but pb_a's CTA opened less than 30 days ago
SELECT csm.run_playbooks() AS opened_within_cooldown;
UPDATE csm.playbook SET cooldown = '0' WHERE name = 'at_risk_intervention';
SELECT csm.run_playbooks() AS opened_after_cooldown;
SELECT a.external_id, count(*) AS ctas FROM csm.cta c JOIN csm.account a USING (account_id) GROUP BY 1 ORDER BY 1;

-- resolving by hand: an outcome, its open tasks skipped
SELECT (r).status, (r).outcome FROM (SELECT csm.resolve_cta(c.cta_id, 'saved') AS r
      FROM csm.cta c JOIN csm.account a USING (account_id) WHERE a.external_id = 'pb_b') x;
SELECT k.status, count(*) FROM csm.task k JOIN csm.account a USING (account_id) WHERE a.external_id = 'pb_b' GROUP BY 1;
SELECT csm.resolve_cta(c.cta_id, 'saved') FROM csm.cta c JOIN csm.account a USING (account_id) WHERE a.external_id = 'pb_b';
SELECT csm.resolve_cta(1, 'maybe');
SELECT csm.resolve_cta(-1, 'lost');

-- closed by the system once the band clears (close_when_cleared)
UPDATE pb_metrics SET dau_ratio = 0.95, features_adopted = 8, tickets_per_month = 0, nps = 10;
SELECT csm.refresh_health('pb_metrics') AS scored;
SELECT a.external_id, c.status, c.outcome FROM csm.cta c JOIN csm.account a USING (account_id)
ORDER BY a.external_id, c.cta_id;
SELECT k.status, k.outcome, count(*) FROM csm.task k GROUP BY 1, 2 ORDER BY 1, 2;

-- a playbook of your own: a condition on the facts (which go into the evidence) and a segment filter
INSERT INTO csm.playbook (name, description, trigger_kind, trigger_values, condition, segment_filter, priority)
VALUES ('big_yellow', 'Large accounts slipping', 'health_band', '{green,yellow}', 'arr >= 30000 AND seats > 5', '{smb}', 'urgent');
INSERT INTO csm.playbook_step (playbook, position, title, due_after, assignee_role, kind) VALUES
    ('big_yellow', 1, 'Call the sponsor', '1 day', 'account_exec', 'call'),
    ('big_yellow', 2, 'Review with the support team', '3 days', 'support', 'review');
SELECT csm.run_playbooks() AS opened;
SELECT a.external_id, c.priority, c.evidence -> 'facts' AS facts, c.evidence ->> 'value' AS value
FROM csm.cta c JOIN csm.account a USING (account_id) WHERE c.playbook = 'big_yellow';
SELECT k.position, k.assignee, k.team FROM csm.task k JOIN csm.cta c USING (account_id, cta_id)
WHERE c.playbook = 'big_yellow' ORDER BY k.position;
-- changing what it fires on raises its version
UPDATE csm.playbook SET condition = 'arr >= 40000' WHERE name = 'big_yellow' RETURNING version;

-- record_nps fires an NPS playbook for that account, in its transaction
INSERT INTO csm.playbook (name, trigger_kind, trigger_values, cooldown) VALUES ('detractor_call', 'nps_category', '{detractor}', '90 days');
INSERT INTO csm.playbook_step (playbook, position, title, due_after) VALUES ('detractor_call', 1, 'Call back within 48h', '2 days');
SELECT category FROM csm.record_nps('pb_c', 3, comment => 'too slow');
SELECT a.external_id, c.evidence -> 'event' ->> 'category' AS category, c.evidence -> 'event' ->> 'comment' AS comment,
       c.evidence ->> 'by' AS fired_by
FROM csm.cta c JOIN csm.account a USING (account_id) WHERE c.playbook = 'detractor_call';

-- a churn signal opens executive_sponsor_change with the signal's evidence
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
SELECT account_id, 'sponsor_departed', now(), now(), '{"stakeholder": "CFO"}' FROM csm.account WHERE external_id = 'pb_a';
SELECT csm.run_playbooks() AS opened;
SELECT a.external_id, c.evidence -> 'event' ->> 'signal' AS signal, c.evidence -> 'event' -> 'evidence' AS signal_evidence
FROM csm.cta c JOIN csm.account a USING (account_id) WHERE c.playbook = 'executive_sponsor_change';

-- the renewal playbook: the 90-day reminder opens it, with the 90/60/30 steps dated by the window
UPDATE csm.account SET renewal_date = current_date + 85 WHERE external_id = 'pb_c';
SELECT reminded FROM csm.refresh_renewals();
SELECT a.external_id, c.evidence -> 'event' ->> 'days_out' AS days_out, count(k.task_id) AS tasks,
       min(k.due_at - c.opened_at) AS first_due, max(k.due_at - c.opened_at) AS last_due
FROM csm.cta c JOIN csm.account a USING (account_id) JOIN csm.task k USING (account_id, cta_id)
WHERE c.playbook = 'renewal' GROUP BY 1, 2;

-- by hand: open_cta, the same one when already open
SELECT csm.open_cta('pb_b', 'expansion_nurture', '{"note": "asked about the next plan"}') = csm.open_cta('pb_b', 'expansion_nurture') AS same_cta;
SELECT c.evidence -> 'event' AS event, c.evidence ->> 'trigger' AS trigger FROM csm.cta c JOIN csm.account a USING (account_id)
WHERE a.external_id = 'pb_b' AND c.playbook = 'expansion_nurture';
SELECT csm.open_cta('pb_nobody', 'renewal');
SELECT csm.open_cta('pb_b', 'no_such_playbook');
SELECT csm.open_cta('pb_b', 'renewal', '[1]');
UPDATE csm.playbook SET active = false WHERE name = 'low_engagement_revival';
SELECT csm.open_cta('pb_b', 'low_engagement_revival');

-- exactly one open CTA per account and playbook, whatever inserts it
INSERT INTO csm.cta (account_id, playbook) SELECT account_id, 'renewal' FROM csm.account WHERE external_id = 'pb_c';

-- adherence and response time: one of Ben's tasks is overdue, one of Axe's was done late
UPDATE csm.task k SET due_at = c.opened_at FROM csm.cta c
WHERE c.account_id = k.account_id AND c.cta_id = k.cta_id AND c.playbook = 'executive_sponsor_change' AND k.position = 1;
UPDATE csm.task k SET due_at = c.opened_at FROM csm.cta c
WHERE c.account_id = k.account_id AND c.cta_id = k.cta_id AND c.playbook = 'big_yellow' AND k.position = 1;
SELECT (csm.complete_task(k.task_id, 'called')).status FROM csm.task k JOIN csm.cta c USING (account_id, cta_id)
WHERE c.playbook = 'big_yellow' AND k.position = 1;
SELECT playbook, tasks_due, done_on_time, done_late, overdue, adherence_pct FROM csm.playbook_adherence ORDER BY playbook;
SELECT csm, tasks_due, done_on_time, adherence_pct FROM csm.csm_adherence ORDER BY csm;
SELECT playbook, ctas, acted_on, waiting, avg_response_hours IS NOT NULL AS timed FROM csm.cta_response_time ORDER BY playbook;

-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
