-- Success plans and business reviews on Citus: create_success_plan,
-- success_plan_report, set_success_plan_status, success_plan_progress,
-- business_review_due, business_review, record_business_review and the
-- refresh at renewal (close_renewal, refresh_success_plans) on a cluster
-- where csm.distribute() has run, with the answers of a single node.  The
-- same file passes on a single node (pg_prove against a database with csm
-- and pgtap), which is how the expected values below were made.  Every
-- value is read through pg_temp.q(), which runs its query on its own.
BEGIN;
SELECT plan(14);
SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.q(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE format('SELECT (%s)::text', query) INTO result;
    RETURN result;
END $$;

-- Four accounts on both workers: a strategic one with usage and a plan,
-- an smb one at risk, a healthy mid_market one, an enterprise one renewing.
INSERT INTO csm.account (account_id, external_id, name, segment, arr, seats, started_at, renewal_date) VALUES
    (9701, 'spz1', 'Spz One', 'strategic', 73000, 10, now() - interval '200 days', current_date + 40),
    (9702, 'spz2', 'Spz Two', 'smb', 5000, 5, now() - interval '50 days', current_date + 300),
    (9703, 'spz3', 'Spz Three', 'mid_market', 30000, 50, now() - interval '100 days', current_date + 300),
    (9704, 'spz4', 'Spz Four', 'enterprise', 200000, 600, now() - interval '120 days', current_date + 20);
INSERT INTO csm.usage_source (source_id, relation, account_column, time_column, event_column, user_column)
VALUES (9970, 'csm.account', 'external_id', 'created_at', 'name', 'name');
INSERT INTO csm_internal.usage_user_day (account_id, source_id, day, user_key, events)
SELECT 9701, 9970, current_date - k, 'u' || u, 1 FROM generate_series(1, 60) AS k, generate_series(1, 4) AS u;
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT 9701, 9970, current_date - k, 4 + (k % 3), 4 FROM generate_series(1, 100) AS k;
INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
SELECT 9701, 9970, current_date - k, f, 2 FROM generate_series(1, 60) AS k, unnest(ARRAY['reports', 'api']) AS f;
INSERT INTO csm.core_feature (feature) VALUES ('reports'), ('api'), ('alerts');
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT 9701, current_date - 30 + k, 'default', 1, 50 + k, csm.health_band(50 + k), 1, now() FROM generate_series(0, 29) AS k;
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
VALUES (9701, 'default', 1, 79, 'yellow', 1, '{}', '{}', '{}', '{}', now()),
       (9702, 'default', 1, 40, 'red', 1, '{}', '{}', '{}', '{}', now()),
       (9703, 'default', 1, 95, 'green', 1, '{}', '{}', '{}', '{}', now());
INSERT INTO csm.value_metric (name, feature, unit_value) VALUES ('spz reports', 'reports', 50);

SELECT is(pg_temp.q($$csm.create_success_plan('spz1',
              '["Roll out", {"objective": "Healthy", "metric": "health_score", "target": 90}, {"objective": "Seats", "metric": "seats", "baseline": 5, "target": 20}]',
              jsonb_build_object('start', current_date - 10, 'end', current_date + 170),
              '[{"name": "Dana", "executive_sponsor": true}]',
              jsonb_build_array(jsonb_build_object('name', 'Kickoff', 'due_date', current_date, 'milestone', 'kickoff_call_held')),
              '[{"metric": "nps", "target": 50}]') #> '{progress}'$$),
          '{"milestones": 1, "objectives": 3, "milestones_achieved": 0, "objectives_achieved": 0}',
          'create_success_plan stores the plan and returns it');
SELECT is(pg_temp.q($$(SELECT m.milestone FROM csm.account_milestone m WHERE m.account_id = 9701)$$), 'success_plan_created',
          'it recorded the lifecycle milestone');
SELECT is(pg_temp.q($$(SELECT jsonb_agg(jsonb_build_array(e -> 'baseline', e -> 'current_value', e -> 'progress')) FROM jsonb_array_elements(csm.success_plan_report('spz1') -> 'objectives') e)$$),
          '[[null, null, null], [79, 79, 0.0000], [5, 10, 0.3333]]', 'success_plan_report reads the current values live');
SELECT is(pg_temp.q($$csm.set_success_plan_status('spz1', 'objective', 1, 'achieved') #>> '{progress,objectives_achieved}'$$), '1',
          'set_success_plan_status marks an objective achieved');
SELECT is(pg_temp.q($$(SELECT string_agg(concat_ws(':', position, metric, current_value, progress, status), ' ' ORDER BY position)
                        FROM csm.success_plan_progress WHERE account_id = 9701)$$),
          '1:achieved 2:health_score:79:0.0000:open 3:seats:10:0.3333:open', 'success_plan_progress on the cluster');

SELECT is(pg_temp.q($$(SELECT string_agg(concat_ws(':', external_id, kind, cadence, status), ' ' ORDER BY external_id, kind)
                        FROM csm.business_review_due WHERE account_id BETWEEN 9701 AND 9704)$$),
          'spz1:ebr:3 mons:overdue spz1:operational:1 mon:overdue spz2:operational:1 mon:overdue spz4:ebr:3 mons:overdue spz4:operational:3 mons:overdue',
          'business_review_due: strategic and enterprise EBRs, the at-risk smb monthly, the healthy mid_market not yet');
SELECT is(pg_temp.q($$(SELECT csm.business_review('spz1', current_date - 30, current_date - 1) -> 'usage_stats') - 'last_active_day'$$),
          '{"events": 150, "change_pct": 0.0, "active_days": 30, "weekly_events": [34, 36, 35, 34, 11], "events_per_day": 5.00, "weekly_sparkline": "████▃", "prior_period_events": 150, "avg_daily_active_users": 4.00, "peak_daily_active_users": 4}',
          'business_review: usage_stats from the rollups');
SELECT is(pg_temp.q($$csm.business_review('spz1', current_date - 30, current_date - 1) -> 'adoption'$$),
          '{"seats": 10, "features": [{"core": true, "events": 60, "feature": "api"}, {"core": true, "events": 60, "feature": "reports"}], "core_adoption": 0.6667, "core_features": 3, "features_used": 2, "seat_utilization": 0.4000, "core_features_used": 2}',
          'business_review: adoption');
SELECT is(pg_temp.q($$(csm.business_review('spz1', current_date - 30, current_date - 1) -> 'health') - 'sparkline'$$),
          '{"band": "yellow", "score": 79, "trend": "up", "change": 29.0, "end_score": 79, "start_score": 50, "daily_scores": 30}',
          'business_review: health and its trend');
SELECT is(pg_temp.q($$(SELECT jsonb_build_object('roi', r -> 'roi', 'milestones', jsonb_array_length(r #> '{outcomes,milestones_achieved}'),
                                                  'plan', r #> '{outcomes,success_plan,progress}', 'upcoming', jsonb_array_length(r #> '{roadmap,upcoming}'))
                        FROM csm.business_review('spz1', current_date - 30, current_date - 1) AS r)$$),
          '{"roi": {"roi": -0.5000, "cost": 6000.00, "value": 3000, "formula": "roi = (value - cost) / cost; value = sum(unit_value x events), cost = arr x days / 365", "configured": true, "value_metrics": [{"name": "spz reports", "value": 3000, "events": 60, "feature": "reports", "unit_value": 50, "description": null}]}, "plan": {"milestones": 1, "objectives": 3, "milestones_achieved": 0, "objectives_achieved": 1}, "upcoming": 3, "milestones": 0}',
          'business_review: ROI from the value metric, outcomes (the plan was made today, after the period) and roadmap');

SELECT is(pg_temp.q($$(SELECT concat_ws(':', kind, period_start = current_date - 90, period_end = current_date - 1, deck #>> '{usage_stats,events}')
                        FROM csm.record_business_review('spz1', 'ebr'))$$),
          'ebr:t:t:450', 'record_business_review keeps the deck of the 90 days before');
SELECT is(pg_temp.q($$(SELECT string_agg(kind, ' ' ORDER BY kind) FROM csm.business_review_due WHERE account_id = 9701)$$), NULL,
          'and the account is no longer due');

-- At renewal: close_renewal refreshes the plan.
SELECT is(pg_temp.q($$(SELECT outcome FROM csm.close_renewal('spz1', 80000))$$), 'upsell', 'the renewal closes');
SELECT is(pg_temp.q($$(SELECT string_agg(concat_ws(':', s.status, s.renewed_from IS NOT NULL,
                                                   (SELECT count(*) FROM csm.success_plan_objective o WHERE o.account_id = s.account_id AND o.plan_id = s.plan_id)),
                                         ' ' ORDER BY s.plan_id)
                        FROM csm.success_plan s WHERE s.account_id = 9701)$$),
          'renewed:f:3 active:t:2', 'the plan was refreshed into the new term with the open objectives');

SELECT * FROM finish();
ROLLBACK;
