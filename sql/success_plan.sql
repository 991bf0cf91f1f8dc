-- citus-differs: csm.track_usage refuses the file's local event table on Citus (0A000), so the review's usage is empty there; test/citus/success_plan.sql covers plans and reviews on a cluster.
-- Success plans (seed 002's create_success_plan) and business reviews:
-- a plan with objectives read live from csm's metrics, milestones and
-- stakeholders; the lifecycle milestone it records; its refresh at
-- renewal; the review cadence; the review deck; a review recorded.
-- Every date is relative to today (UTC).
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE TABLE sp_events (org text, at timestamptz, feature text, who text);
SELECT csm.track_usage('sp_events', 'org', 'at', 'feature', 'who') > 0 AS tracked;
INSERT INTO csm.team_member (handle, roles) VALUES ('casey', '{csm}');
INSERT INTO csm.account (external_id, name, arr, seats, segment, started_at, renewal_date) VALUES
    ('sp_acme', 'Acme', 36500, 10, 'enterprise', current_date - 200, current_date + 40),
    ('sp_small', 'Small', 5000, 5, 'smb', current_date - 400, current_date + 300),
    ('sp_risky', 'Risky', 20000, 20, 'mid_market', current_date - 40, current_date + 300);
SELECT csm.csm_assign('sp_acme', 'casey') IS NOT NULL AS assigned;
INSERT INTO csm.core_feature (feature) VALUES ('reports'), ('api'), ('alerts');
-- acme: 4 users a day on reports for 60 days, api in the last 30 days
INSERT INTO sp_events
SELECT 'sp_acme', current_date - k + time '10:00', 'reports', 'u' || u::text
FROM generate_series(1, 60) AS k, generate_series(1, 4) AS u;
INSERT INTO sp_events
SELECT 'sp_acme', current_date - k + time '11:00', 'api', 'u1'
FROM generate_series(1, 30) AS k;
SELECT csm.refresh_health() > 0 AS scored;
-- a health history for the review's trend: 60 up to 78 over 30 days
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT a.account_id, current_date - 30 + k, 'default', 1, 60.0 + k::numeric * 0.6, csm.health_band(60.0 + k::numeric * 0.6), 1, now()
FROM csm.account a, generate_series(0, 29) AS k WHERE a.external_id = 'sp_acme';

-- The plan: objectives (one a bare string, one on a metric csm measures,
-- one on the customer's own KPI), milestones (one tied to a lifecycle
-- milestone), stakeholders, metrics.
SELECT jsonb_pretty(p - 'created_at' - 'updated_at' - 'plan_id' - 'timeline' - 'created_by' - 'objectives' - 'milestones'
                    || jsonb_build_object('objectives', (SELECT jsonb_agg(e - 'due_date') FROM jsonb_array_elements(p -> 'objectives') e),
                                          'milestones', (SELECT jsonb_agg(e - 'due_date') FROM jsonb_array_elements(p -> 'milestones') e)))
FROM csm.create_success_plan('sp_acme',
    '["Roll out to the support team",
      {"objective": "Daily use by most seats", "metric": "dau_ratio", "target": 0.6, "owner": "Dana (VP Ops)"},
      {"objective": "Cut ticket backlog", "metric": "backlog", "baseline": 400, "target": 100}]',
    jsonb_build_object('start', current_date - 10, 'duration', '6 months'),
    '[{"name": "Dana", "role": "VP Operations", "email": "dana@acme.test", "executive_sponsor": true},
      {"name": "Casey", "role": "CSM", "side": "vendor"}]',
    jsonb_build_array(jsonb_build_object('name', 'Kickoff held', 'due_date', current_date - 5, 'milestone', 'kickoff_call_held'),
                      jsonb_build_object('name', 'Support team live', 'due_date', current_date + 60)),
    '["health_score", {"metric": "nps", "target": 50}]') AS p;
-- the timeline: 6 months from 10 days ago
SELECT (p #>> '{timeline,start}')::date = current_date - 10 AS starts, (p #>> '{timeline,end}')::date = (current_date - 10 + interval '6 months')::date AS ends
FROM csm.success_plan_report('sp_acme') AS p;
-- Creating it recorded the lifecycle milestone success_plan_created.
SELECT m.milestone, m.source, m.note ~ '^success plan \d+$' AS note_ok
FROM csm.account_milestone m JOIN csm.account a USING (account_id) WHERE a.external_id = 'sp_acme';

-- Progress: the lifecycle milestone reached achieves the plan's milestone;
-- an objective marked achieved; live values in the view.
SELECT (csm.record_milestone('sp_acme', 'kickoff_call_held', now() - interval '6 days')).milestone;
SELECT e ->> 'name' AS milestone, e ->> 'status' AS status, e ->> 'overdue' AS overdue
FROM csm.success_plan_report('sp_acme') AS p, jsonb_array_elements(p -> 'milestones') AS e;
SELECT jsonb_pretty(p -> 'progress') FROM csm.set_success_plan_status('sp_acme', 'objective', 1, 'achieved') AS p;
SELECT position, objective, metric, baseline, target, round(current_value, 3) AS current_value, progress, status, overdue
FROM csm.success_plan_progress WHERE external_id = 'sp_acme' ORDER BY position;
SELECT csm.success_progress(0.5, 0.4, 0.6) AS halfway, csm.success_progress(150, 400, 100) AS lower_is_better,
       csm.success_progress(80, NULL, 50) AS capped, csm.success_progress(NULL, 1, 2) AS unknown;

-- A second plan supersedes the first; the milestone keeps its first date.
SELECT p ->> 'supersedes' IS NOT NULL AS supersedes, p ->> 'status' AS status
FROM csm.create_success_plan('sp_small', '["Adopt alerts"]', '{"duration": "3 months"}') AS p;
SELECT (p ->> 'supersedes')::bigint = (SELECT min(plan_id) FROM csm.success_plan s JOIN csm.account a USING (account_id)
                                        WHERE a.external_id = 'sp_small') AS supersedes_first
FROM csm.create_success_plan('sp_small', '["Adopt alerts and api"]', '{"duration": "3 months"}') AS p;
SELECT s.status, count(*) FROM csm.success_plan s JOIN csm.account a USING (account_id)
WHERE a.external_id = 'sp_small' GROUP BY s.status ORDER BY s.status;

-- Input errors: 22023 naming the JSON path of the bad element.
SELECT csm.create_success_plan('sp_small', NULL, '{"duration": "3 months"}');
SELECT csm.create_success_plan('sp_small', '[]', '{"duration": "3 months"}');
SELECT csm.create_success_plan('sp_small', '["a", {"objective": "b", "target": "high", "metric": "nps"}]', '{"duration": "3 months"}');
SELECT csm.create_success_plan('sp_small', '["a", {"objective": "b", "target": 5}]', '{"duration": "3 months"}');
SELECT csm.create_success_plan('sp_small', '[{"goal": "b"}]', '{"duration": "3 months"}');
SELECT csm.create_success_plan('sp_small', '["a"]', NULL);
SELECT csm.create_success_plan('sp_small', '["a"]', '{"start": "2026-02-30", "duration": "3 months"}');
SELECT csm.create_success_plan('sp_small', '["a"]', '{"start": "2026-03-01", "end": "2026-02-01"}');
SELECT csm.create_success_plan('sp_small', '["a"]', '{"duration": "soon"}');
SELECT csm.create_success_plan('sp_small', '["a"]', '{"duration": "3 months"}', '[{"name": "x", "email": "nope"}]');
SELECT csm.create_success_plan('sp_small', '["a"]', '{"duration": "3 months"}', NULL, '[{"name": "m"}]');
SELECT csm.create_success_plan('sp_small', '["a"]', '{"start": "2026-01-01", "duration": "3 months"}', NULL,
                               '[{"name": "m", "due_date": "2020-01-01"}]');
SELECT csm.create_success_plan('sp_small', '["a"]', '{"duration": "3 months"}', NULL,
                               jsonb_build_array(jsonb_build_object('name', 'm', 'due_date', current_date, 'milestone', 'nope')));
SELECT csm.create_success_plan('sp_small', '["a"]', '{"duration": "3 months"}', NULL, NULL, '{"nps": 50}');
SELECT csm.create_success_plan('nobody', '["a"]', '{"duration": "3 months"}');
SELECT csm.set_success_plan_status('sp_acme', 'objective', 9, 'achieved');
SELECT csm.set_success_plan_status('sp_risky', 'objective', 1, 'achieved');
SELECT csm.set_success_plan_status('sp_acme', 'objective', 1, 'done');
-- nothing was written by the failed calls
SELECT count(*) AS plans FROM csm.success_plan;

-- Business review cadence, 40 to 400 days in with no review: acme
-- (enterprise, high touch) is due an EBR every quarter, and (red) an
-- operational review monthly; risky (yellow, mid_market) monthly; small
-- (smb, red: no usage) monthly.  A healthy smb account: yearly.
INSERT INTO csm.account (external_id, segment, started_at) VALUES ('sp_green', 'smb', current_date - 300);
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
SELECT a.account_id, 'default', 1, 95, 'green', 1, '{}', '{}', '{}', '{}', now() FROM csm.account a WHERE a.external_id = 'sp_green';
UPDATE csm.health_score h SET band = 'yellow', score = 75 FROM csm.account a
WHERE a.account_id = h.account_id AND a.external_id = 'sp_risky';
SELECT external_id, band, kind, cadence, status, days_until_due < 0 AS overdue
FROM csm.business_review_due ORDER BY external_id, kind;
UPDATE csm.account SET started_at = current_date - 360 WHERE external_id = 'sp_green';
SELECT external_id, band, kind, cadence, status, days_until_due BETWEEN 1 AND 14 AS due_soon FROM csm.business_review_due WHERE external_id = 'sp_green';

-- The deck: usage, adoption, health and trend, outcomes, ROI, roadmap,
-- action items.
SELECT jsonb_pretty((r -> 'usage_stats') - 'last_active_day' - 'weekly_sparkline') AS usage_stats,
       r #>> '{usage_stats,weekly_sparkline}' AS weekly
FROM csm.business_review('sp_acme', current_date - 30, current_date - 1) AS r;
SELECT jsonb_pretty(r -> 'adoption') FROM csm.business_review('sp_acme', current_date - 30, current_date - 1) AS r;
SELECT r #>> '{health,start_score}' AS start_score, r #>> '{health,end_score}' AS end_score, r #>> '{health,change}' AS change,
       r #>> '{health,trend}' AS trend, r #>> '{health,sparkline}' AS sparkline, r #>> '{health,daily_scores}' AS days
FROM csm.business_review('sp_acme', current_date - 30, current_date - 1) AS r;
-- action items: the account's open tasks (csm.task): the 5 steps of the
-- at_risk_intervention CTA refresh_health opened (acme is red) and the 5 of
-- a CTA opened by hand
SELECT csm.open_cta('sp_acme', 'executive_sponsor_change', '{"note": "the CFO left"}') > 0 AS opened;
SELECT jsonb_array_length(r #> '{outcomes,milestones_achieved}') AS milestones_achieved,
       r #> '{outcomes,success_plan,progress}' AS plan_progress,
       jsonb_array_length(r -> 'action_items') AS action_items,
       r -> 'action_items' @> '[{"title": "Identify new sponsor"}]' AS has_sponsor_step,
       jsonb_array_length(r #> '{roadmap,upcoming}') AS upcoming
FROM csm.business_review('sp_acme', current_date - 30, current_date - 1) AS r;
-- ROI: a placeholder until a value metric is configured; then value
-- against the period's share of the ARR (36500 x 30 / 365 = 3000).
SELECT r -> 'roi' FROM csm.business_review('sp_acme', current_date - 30, current_date - 1) AS r;
INSERT INTO csm.value_metric (name, feature, unit_value, description) VALUES ('reports automated', 'reports', 30, '30 minutes at $60/h');
SELECT r #> '{roi,value}' AS value, r #> '{roi,cost}' AS cost, r #> '{roi,roi}' AS roi
FROM csm.business_review('sp_acme', current_date - 30, current_date - 1) AS r;
SELECT csm.business_review('sp_acme', '2026-02-01', '2026-01-31');
SELECT csm.business_review('sp_acme', NULL, current_date);
SELECT csm.business_review('nobody', current_date - 1, current_date);

-- A review held: recorded with its deck, and acme's EBR and operational
-- review are no longer due.
SELECT kind, period_end = current_date - 1 AS period_ok, deck ? 'usage_stats' AS has_deck, notes
FROM csm.record_business_review('sp_acme', 'ebr', notes => 'Renewal next: pricing.');
SELECT external_id, kind FROM csm.business_review_due ORDER BY external_id, kind;
SELECT csm.record_business_review('sp_acme', 'qbr');
SELECT csm.record_business_review('sp_acme', 'ebr', now() + interval '1 day');

-- At renewal: the plan is refreshed.  Acme renews (upsell): its plan is
-- kept as renewed and the new term's plan carries what was not achieved
-- (objectives 2 and 3, the open milestone, the stakeholders).
SELECT outcome FROM csm.close_renewal('sp_acme', 40000);
SELECT s.status, s.renewed_from IS NOT NULL AS from_renewal, s.starts_on = current_date + 40 AS starts_at_renewal,
       s.ends_on = a.renewal_date AS ends_at_next_renewal,
       (SELECT count(*) FROM csm.success_plan_objective o WHERE o.account_id = s.account_id AND o.plan_id = s.plan_id) AS objectives,
       (SELECT count(*) FROM csm.success_plan_milestone o WHERE o.account_id = s.account_id AND o.plan_id = s.plan_id) AS milestones,
       (SELECT count(*) FROM csm.success_plan_stakeholder o WHERE o.account_id = s.account_id AND o.plan_id = s.plan_id) AS stakeholders
FROM csm.success_plan s JOIN csm.account a USING (account_id) WHERE a.external_id = 'sp_acme' ORDER BY s.plan_id;
SELECT e ->> 'objective' AS objective, (e ->> 'due_date')::date = (p #>> '{timeline,end}')::date AS due_at_end
FROM csm.success_plan_report('sp_acme') AS p, jsonb_array_elements(p -> 'objectives') AS e;
-- Idempotent; a churned renewal closes the plan.
SELECT * FROM csm.refresh_success_plans();
UPDATE csm.account SET renewal_date = current_date + 10 WHERE external_id = 'sp_small';
SELECT outcome FROM csm.close_renewal('sp_small', 0);
SELECT s.status, count(*) FROM csm.success_plan s JOIN csm.account a USING (account_id)
WHERE a.external_id = 'sp_small' GROUP BY s.status ORDER BY s.status;

SELECT csm.untrack_usage('sp_events');
-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
