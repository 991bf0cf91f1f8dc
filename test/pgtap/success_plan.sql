-- Success plans and business reviews (87_success_plan.sql): the seed's
-- contracts (every field the output contract lists; 22023 naming the JSON
-- path of a bad input; P0002 for an unknown customer), one active plan per
-- account, the lifecycle milestone, the refresh at renewal done once, the
-- review cadence by segment and health.
BEGIN;
SELECT plan(32);

INSERT INTO csm.account (external_id, segment, arr, seats, started_at, renewal_date) VALUES
    ('tsp_1', 'strategic', 120000, 600, now() - interval '100 days', current_date + 20),
    ('tsp_2', 'smb', 1000, 5, now() - interval '20 days', current_date + 300),
    ('tsp_3', NULL, 1000, 5, now() - interval '100 days', current_date + 300);

-- The output contract: objectives, milestones, metrics, stakeholders, timeline.
SELECT ok(csm.create_success_plan('tsp_1', '["Go live"]', '{"duration": "6 months"}')
              ?& ARRAY['objectives', 'milestones', 'metrics', 'stakeholders', 'timeline', 'plan_id', 'status'],
          'create_success_plan returns objectives, milestones, metrics, stakeholders and timeline');
SELECT ok(csm.business_review('tsp_1', current_date - 30, current_date)
              ?& ARRAY['usage_stats', 'roi', 'outcomes', 'roadmap', 'action_items', 'adoption', 'health'],
          'business_review returns usage_stats, roi, outcomes, roadmap, action_items, adoption and health');

-- Input errors.
SELECT throws_ok($$SELECT csm.create_success_plan(NULL, '["a"]', '{"duration": "1 month"}')$$, '22023',
                 'customer_id: is required', 'a missing customer_id is 22023 naming it');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', NULL, '{"duration": "1 month"}')$$, '22023',
                 'objectives: is required', 'missing objectives are 22023 naming them');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '["a"]', NULL)$$, '22023',
                 'timeline: is required', 'a missing timeline is 22023 naming it');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '{"a": 1}', '{"duration": "1 month"}')$$, '22023',
                 'objectives: must be a JSON array', 'objectives that are not an array');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '["a", "b", 3]', '{"duration": "1 month"}')$$, '22023',
                 'objectives[2]: must be a JSON object', 'the third objective, a number, is named by its path');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '["a", {"objective": " "}]', '{"duration": "1 month"}')$$, '22023',
                 'objectives[1].objective: must be a non-blank string', 'a blank objective');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '[{"objective": "a", "metric": "nps", "target": 40, "due_date": "2020-01-01"}]', '{"start": "2026-01-01", "duration": "1 month"}')$$, '22023',
                 'objectives[0].due_date: must fall within the timeline, 2026-01-01 to 2026-02-01', 'an objective due outside the timeline');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '["a"]', '{"start": "2026-01-01", "end": "2026-06-01", "duration": "1 month"}')$$, '22023',
                 'timeline.duration: give end or duration, not both', 'both an end and a duration');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '["a"]', '{"start": "2026-01-01"}')$$, '22023',
                 'timeline.end: is required (or timeline.duration)', 'a timeline without an end');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '["a"]', '{"until": "2026-01-01"}')$$, '22023',
                 'timeline.until: unknown key (the keys are start, end, duration)', 'an unknown timeline key');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '["a"]', '{"duration": "1 month"}', '[{"name": "a"}, {"name": "b", "side": "partner"}]')$$, '22023',
                 'stakeholders[1].side: must be customer or vendor', 'a stakeholder on neither side');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '["a"]', '{"duration": "1 month"}', '[{"name": "a", "executive_sponsor": "yes"}]')$$, '22023',
                 'stakeholders[0].executive_sponsor: must be true or false', 'executive_sponsor not a boolean');
SELECT throws_ok($$SELECT csm.create_success_plan('tsp_1', '["a"]', '{"duration": "1 month"}', NULL, NULL, '[{"metric": "nps", "target": "50"}]')$$, '22023',
                 'metrics[0].target: must be a number', 'a metric target that is a string');
SELECT throws_ok($$SELECT csm.create_success_plan('nobody', '["a"]', '{"duration": "1 month"}')$$, 'P0002',
                 'account "nobody" does not exist', 'an unknown customer is P0002');
SELECT throws_ok($$SELECT csm.success_plan_report('nobody')$$, 'P0002', NULL, 'success_plan_report: unknown customer P0002');
SELECT throws_ok($$SELECT csm.business_review('nobody', current_date - 1, current_date)$$, 'P0002', NULL,
                 'business_review: unknown customer P0002');
SELECT throws_ok($$SELECT csm.business_review('tsp_1', current_date, NULL)$$, '22023', 'period_end: is required',
                 'business_review: a missing period_end is 22023 naming it');
SELECT throws_ok($$SELECT csm.set_success_plan_status('tsp_1', NULL, 1, 'achieved')$$, '22004', NULL,
                 'set_success_plan_status: NULL is 22004');
SELECT throws_ok($$SELECT csm.set_success_plan_status('tsp_1', 'task', 1, 'achieved')$$, '22023', NULL,
                 'set_success_plan_status: an unknown item is 22023');
SELECT throws_ok($$SELECT csm.record_business_review('tsp_1', 'ebr', now(), current_date, current_date - 1)$$, '22023', NULL,
                 'record_business_review: a period ending before it starts is 22023');
SELECT is((SELECT count(*) FROM csm.success_plan s JOIN csm.account a USING (account_id) WHERE a.external_id = 'tsp_1'),
          1::bigint, 'a failed call writes nothing');

-- One active plan per account, however many are made; the lifecycle
-- milestone is recorded once, at the first plan.
SELECT csm.create_success_plan('tsp_1', '["Go live, again"]', '{"duration": "6 months"}') IS NOT NULL;
SELECT csm.create_success_plan('tsp_1', '["Go live, third"]', '{"duration": "6 months"}') IS NOT NULL;
SELECT results_eq($$SELECT s.status, count(*) FROM csm.success_plan s JOIN csm.account a USING (account_id)
                    WHERE a.external_id = 'tsp_1' GROUP BY s.status ORDER BY s.status$$,
                  $$VALUES ('active', 1::bigint), ('superseded', 2::bigint)$$, 'one active plan, the others superseded');
SELECT is((SELECT count(*) FROM csm.account_milestone m JOIN csm.account a USING (account_id)
           WHERE a.external_id = 'tsp_1' AND m.milestone = 'success_plan_created'), 1::bigint,
          'creating a plan recorded the lifecycle milestone success_plan_created');
SELECT throws_like($$INSERT INTO csm.success_plan (account_id, objectives, timeline, starts_on, ends_on, created_by, created_at, updated_at)
                   SELECT account_id, '[]', '{}', current_date, current_date + 1, 'x', now(), now() FROM csm.account WHERE external_id = 'tsp_1'$$,
                 -- (on Citus the shard's error comes back as XX000, naming the shard's index)
                 '%duplicate key value violates unique constraint "success_plan_one_active%',
                 'a second active plan is refused by the index');

-- The refresh at renewal, when the renewal closed outside csm.close_renewal
-- (csm.refresh_renewals: the renewal date moved on): refresh_success_plans
-- rolls the plan once.
SELECT csm.refresh_renewals() IS NOT NULL;
UPDATE csm.account SET renewal_date = current_date + 385 WHERE external_id = 'tsp_1';
SELECT csm.refresh_renewals() IS NOT NULL;
SELECT results_eq($$SELECT outcome FROM csm.renewal r JOIN csm.account a USING (account_id) WHERE a.external_id = 'tsp_1'$$,
                  $$VALUES ('renewed'::text)$$, 'the renewal closed renewed by the refresh');
SELECT results_eq('SELECT renewed, closed FROM csm.refresh_success_plans()', $$VALUES (1::bigint, 0::bigint)$$,
                  'refresh_success_plans renews the plan');
SELECT results_eq('SELECT renewed, closed FROM csm.refresh_success_plans()', $$VALUES (0::bigint, 0::bigint)$$,
                  'and does it once');
SELECT results_eq($$SELECT o.objective, s.starts_on = current_date + 20, s.ends_on = current_date + 385
                    FROM csm.success_plan s JOIN csm.account a USING (account_id)
                    JOIN csm.success_plan_objective o ON o.account_id = s.account_id AND o.plan_id = s.plan_id
                    WHERE a.external_id = 'tsp_1' AND s.status = 'active'$$,
                  $$VALUES ('Go live, third'::text, true, true)$$, 'the new term''s plan runs from renewal to renewal with the open objective');

-- Cadence: strategic (white glove) gets an EBR; an smb account at risk
-- (red) is reviewed monthly, not yearly; a 20-day-old smb is not due.
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
SELECT a.account_id, 'default', 1, 40, 'red', 1, '{}', '{}', '{}', '{}', now() FROM csm.account a WHERE a.external_id = 'tsp_3';
SELECT results_eq($$SELECT external_id, kind, cadence FROM csm.business_review_due WHERE external_id LIKE 'tsp_%' ORDER BY 1, 2$$,
                  $$VALUES ('tsp_1'::text, 'ebr'::text, interval '3 months'), ('tsp_1', 'operational', interval '1 month'),
                           ('tsp_3', 'operational', interval '1 month')$$,
                  'strategic: quarterly EBR and the segment''s monthly review; smb at risk: monthly; a new smb account: not yet');

-- Deleting an account deletes its plans and reviews.
SELECT csm.record_business_review('tsp_3') IS NOT NULL;
DELETE FROM csm.account WHERE external_id IN ('tsp_1', 'tsp_3');
SELECT is((SELECT count(*) FROM csm.success_plan) + (SELECT count(*) FROM csm.success_plan_objective)
          + (SELECT count(*) FROM csm.business_review_held), 0::bigint, 'deleting an account deletes its plans and reviews');

SELECT * FROM finish();
ROLLBACK;
