-- The five dashboard views (issue 15, section 1): each on a small portfolio
-- whose answers are worked out by hand below; long format (one row per
-- key); every column commented with its unit.  The portfolio is the only
-- one: the transaction deletes every other account first (and rolls back).
BEGIN;
SELECT plan(56);

CREATE FUNCTION pg_temp.today() RETURNS date LANGUAGE sql STABLE RETURN (now() AT TIME ZONE 'UTC')::date;
DELETE FROM csm.account;

-- dsh_1 smb 1000, alice, health 95 (green), churn 0.1 (low), renews in 10 days
-- dsh_2 enterprise 3000, alice, health 40 (red), churn 0.8 (critical), renews in 100 days
-- dsh_3 smb 2000, no owner, no health score, churn 0.6 (high), renews in 89 days
-- dsh_4 smb 5000, churned
INSERT INTO csm.account (account_id, external_id, arr, renewal_date, segment, status, started_at) VALUES
    (9101, 'dsh_1', 1000, pg_temp.today() + 10, 'smb', 'active', now() - interval '20 days'),
    (9102, 'dsh_2', 3000, pg_temp.today() + 100, 'enterprise', 'active', now() - interval '400 days'),
    (9103, 'dsh_3', 2000, pg_temp.today() + 89, 'smb', 'active', now() - interval '400 days'),
    (9104, 'dsh_4', 5000, pg_temp.today() + 5, 'smb', 'churned', now() - interval '400 days');
INSERT INTO csm.team_member (handle, name, roles) VALUES ('dsh_alice', 'Alice', '{csm}');
DO $$ BEGIN PERFORM csm.csm_assign('dsh_1', 'dsh_alice'); PERFORM csm.csm_assign('dsh_2', 'dsh_alice'); END $$;
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
VALUES (9101, 'default', 1, 95, 'green', 1, '{}', '{}', '{}', '{}', now()),
       (9102, 'default', 1, 40, 'red', 1, '{}', '{}', '{}', '{}', now());
INSERT INTO csm.churn_score (account_id, probability, band, risk_score, model, computed_at) VALUES
    (9101, 0.1, 'low', 10, 'prior', now()),
    (9102, 0.8, 'critical', 80, 'prior', now()),
    (9103, 0.6, 'high', 60, 'prior', now());

CREATE FUNCTION pg_temp.portfolio(who text, seg text, m text) RETURNS numeric LANGUAGE plpgsql STABLE AS $f$ BEGIN
RETURN (SELECT p.value FROM csm.dashboard_portfolio p
        WHERE p.metric = m
          AND CASE who WHEN 'team' THEN p.all_csms WHEN 'none' THEN NOT p.all_csms AND p.member_id IS NULL
                       ELSE p.csm_handle = who END
          AND CASE WHEN seg IS NULL THEN p.all_segments ELSE p.segment = seg AND NOT p.all_segments END);
END $f$;

-- 1. Portfolio ----------------------------------------------------------------------
SELECT is(pg_temp.portfolio('team', NULL, 'accounts'), 3::numeric, 'portfolio: the team has the 3 active accounts');
SELECT is(pg_temp.portfolio('team', NULL, 'arr_managed'), 6000::numeric, 'portfolio: team ARR leaves the churned account out');
SELECT is(pg_temp.portfolio('team', NULL, 'avg_health_score'), 67.5, 'portfolio: average health over the scored accounts');
SELECT is(pg_temp.portfolio('team', NULL, 'at_risk_accounts'), 2::numeric, 'portfolio: at risk = health red or churn high/critical');
SELECT is(pg_temp.portfolio('team', NULL, 'at_risk_arr'), 5000::numeric, 'portfolio: ARR at risk');
SELECT is(pg_temp.portfolio('team', NULL, 'renewals_90d'), 2::numeric, 'portfolio: renewals from today to today + 89');
SELECT is(pg_temp.portfolio('team', NULL, 'renewal_arr_90d'), 3000::numeric, 'portfolio: ARR renewing in 90 days');
SELECT is(pg_temp.portfolio('team', NULL, 'renewal_expected_arr_90d'), 1700.00, 'portfolio: expected = ARR x (1 - churn probability)');
SELECT is(pg_temp.portfolio('team', NULL, 'health_unknown_accounts'), 1::numeric, 'portfolio: an unscored account is health unknown');
SELECT is(pg_temp.portfolio('team', NULL, 'churn_critical_accounts'), 1::numeric, 'portfolio: accounts per churn band');
SELECT is(pg_temp.portfolio('team', 'smb', 'accounts'), 2::numeric, 'portfolio: accounts by segment');
SELECT is(pg_temp.portfolio('team', 'smb', 'arr_managed'), 3000::numeric, 'portfolio: ARR by segment');
SELECT is(pg_temp.portfolio('dsh_alice', NULL, 'arr_managed'), 4000::numeric, 'portfolio: a CSM''s primary book');
SELECT is(pg_temp.portfolio('dsh_alice', NULL, 'at_risk_accounts'), 1::numeric, 'portfolio: a CSM''s accounts at risk');
SELECT is(pg_temp.portfolio('dsh_alice', 'enterprise', 'renewals_90d'), 0::numeric, 'portfolio: per CSM and segment');
SELECT is(pg_temp.portfolio('none', NULL, 'accounts'), 1::numeric, 'portfolio: the accounts without a primary CSM have a row');
SELECT ok(pg_temp.portfolio('dsh_alice', NULL, 'book_load') > 0, 'portfolio: the CSM''s load against capacity');
SELECT is((SELECT count(*) FROM (SELECT 1 FROM csm.dashboard_portfolio
                                 GROUP BY member_id, all_csms, segment, all_segments, metric HAVING count(*) > 1) d),
          0::bigint, 'portfolio: long format, one row per CSM, segment and metric');

-- 2. Activity -----------------------------------------------------------------------
INSERT INTO csm.engagement (account_id, occurred_at, kind, attended) VALUES
    (9101, now() - interval '1 minute', 'call', NULL),
    (9101, now() - interval '1 minute', 'qbr', true),
    (9102, now() - interval '1 minute', 'qbr', false),
    (9102, now() - interval '400 days', 'call', NULL),
    (9102, now() + interval '1 day', 'meeting', NULL);
INSERT INTO csm.account_note (account_id, noted_at, kind, body) VALUES (9103, now() - interval '1 minute', 'note', 'x');
INSERT INTO csm.expansion_signal (account_id, signal, first_seen_at, last_seen_at) VALUES
    (9101, 'plan_limit', now() - interval '1 minute', now() - interval '1 minute');

CREATE FUNCTION pg_temp.activity(g text, m text) RETURNS numeric LANGUAGE plpgsql STABLE AS $f$ BEGIN
RETURN (SELECT a.value FROM csm.dashboard_activity a
        WHERE a.grain = g AND a.metric = m
          AND a.period_start = date_trunc(g, pg_temp.today())::date);
END $f$;
SELECT is(pg_temp.activity('week', 'touchpoints'), 4::numeric, 'activity: this week''s touchpoints are engagements and notes, the past only');
SELECT is(pg_temp.activity('month', 'touchpoints'), 4::numeric, 'activity: this month''s touchpoints');
SELECT is(pg_temp.activity('week', 'business_reviews_completed'), 1::numeric, 'activity: a business review not attended does not count');
SELECT is(pg_temp.activity('month', 'expansion_opportunities_identified'), 1::numeric, 'activity: expansion signals first seen');
SELECT is((SELECT sum(value) FROM csm.dashboard_activity WHERE grain = 'month' AND metric = 'touchpoints'), 4::numeric,
          'activity: nothing older than the window counts');
-- A review recorded, a success plan, a risk CTA opened 10 days ago and
-- still open (its second task overdue, its first done on time), an
-- expansion CTA (not a risk).
DO $$ BEGIN
    PERFORM csm.record_business_review('dsh_1', 'ebr', now() - interval '1 minute');
    PERFORM csm.create_success_plan('dsh_2', '["dsh objective"]', '{"duration": "3 months"}');
    PERFORM csm.open_cta('dsh_2', 'at_risk_intervention', '{}');
    PERFORM csm.open_cta('dsh_1', 'expansion_nurture', '{}');
END $$;
UPDATE csm.cta SET opened_at = now() - interval '10 days', first_action_at = now() - interval '10 days' + interval '3 hours'
WHERE account_id = 9102;
UPDATE csm.task SET due_at = now() - interval '1 hour', status = 'done', completed_at = now() - interval '2 hours'
WHERE account_id = 9102 AND position = 1;
UPDATE csm.task SET due_at = now() - interval '1 hour' WHERE account_id = 9102 AND position = 2;
SELECT is(pg_temp.activity('week', 'business_reviews_completed'), 2::numeric, 'activity: a review recorded with record_business_review counts too');
SELECT is(pg_temp.activity('month', 'success_plans_updated'), 1::numeric, 'activity: success plans updated');
SELECT is(pg_temp.activity('week', 'risk_mitigations_in_progress'), 1::numeric, 'activity: risk CTAs open now; an expansion CTA is not one');
SELECT is((SELECT value FROM csm.dashboard_activity WHERE grain = 'week' AND metric = 'risk_mitigations_in_progress'
           AND week = date_trunc('week', pg_temp.today())::date - 21), 0::numeric, 'activity: the CTA, opened 10 days ago, was not open three weeks ago');

SELECT is((SELECT count(*) FROM csm.dashboard_activity WHERE metric = 'touchpoints' AND grain = 'week' AND week IS NOT NULL AND month IS NULL),
          26::bigint, 'activity: 26 weeks, with the week column');
SELECT is((SELECT count(*) FROM csm.dashboard_activity WHERE metric = 'touchpoints' AND grain = 'month' AND month IS NOT NULL AND week IS NULL),
          12::bigint, 'activity: 12 months, with the month column');
SELECT is((SELECT count(*) FROM csm.dashboard_activity WHERE value <> 0 AND period_start < date_trunc('month', pg_temp.today())::date - 31),
          0::bigint, 'activity: zero-filled');

-- 3. Outcomes -----------------------------------------------------------------------
INSERT INTO csm.nps_response (account_id, responded_at, score) VALUES
    (9101, now() - interval '1 minute', 10), (9102, now() - interval '1 minute', 10), (9103, now() - interval '1 minute', 3);
INSERT INTO csm.account_milestone (account_id, milestone, achieved_at, source, recorded_by)
VALUES (9101, 'key_features_activated', now() - interval '5 days', 'manual', current_user);

CREATE FUNCTION pg_temp.outcome(m text) RETURNS numeric LANGUAGE plpgsql STABLE AS $f$ BEGIN
RETURN (SELECT o.value FROM csm.dashboard_outcomes o
        WHERE o.metric = m AND o.month = date_trunc('month', (now() - interval '5 days') AT TIME ZONE 'UTC')::date);
END $f$;
SELECT is((SELECT value FROM csm.dashboard_outcomes WHERE metric = 'nps' AND month = date_trunc('month', pg_temp.today())::date),
          33.3, 'outcomes: this month''s NPS (csm.nps_monthly rounds to 0.1)');
SELECT is(pg_temp.outcome('avg_time_to_value_days'), 15.0, 'outcomes: time to value, by the month value was reached');
SELECT is(pg_temp.outcome('time_to_value_accounts'), 1::numeric, 'outcomes: accounts that reached value that month');
SELECT is((SELECT count(*) FROM csm.dashboard_outcomes o JOIN csm.revenue_monthly r ON r.month = o.month AND r.segment IS NULL
           WHERE o.metric = 'nrr_12m_pct' AND o.value IS DISTINCT FROM round(r.nrr_12m * 100, 2)), 0::bigint,
          'outcomes: NRR is csm.revenue_monthly''s, in %');
SELECT is((SELECT count(DISTINCT month) FROM csm.dashboard_outcomes), 24::bigint, 'outcomes: 24 months');
SELECT is((SELECT count(*) FROM (SELECT 1 FROM csm.dashboard_outcomes GROUP BY month, metric HAVING count(*) > 1) d),
          0::bigint, 'outcomes: long format, one row per month and metric');

-- 4. Operations ---------------------------------------------------------------------
INSERT INTO csm.conversation (account_id, team, status, created_at, first_response_at, csat) VALUES
    (9101, 'support', 'resolved', now() - interval '3 hours', now() - interval '2 hours', 4),
    (9102, 'support', 'resolved', now() - interval '5 hours', now() - interval '2 hours', 2),
    (9102, 'support', 'resolved', now() - interval '40 days', now() - interval '40 days', 5);
CREATE FUNCTION pg_temp.operation(m text) RETURNS numeric LANGUAGE plpgsql STABLE AS $f$ BEGIN
RETURN (SELECT o.value FROM csm.dashboard_operations o WHERE o.metric = m);
END $f$;
SELECT is(pg_temp.operation('csat_avg'), 3.00, 'operations: CSAT over the last 30 days');
SELECT is(pg_temp.operation('first_response_median_hours'), 2.00, 'operations: median first response');
SELECT is(pg_temp.operation('advocacy_invitations'), 2::numeric, 'operations: promoter answers invited to advocacy');
SELECT is(pg_temp.operation('nps_followups_open'), 3::numeric, 'operations: open NPS loops');
SELECT is(pg_temp.operation('assignment_queue_accounts'), 1::numeric, 'operations: accounts waiting for an owner');
INSERT INTO csm.alert (account_id, kind, severity, created_at, acknowledged_at, acknowledged_by) VALUES
    (9101, 'health_band', 'warning', now() - interval '5 hours', now() - interval '2 hours', current_user),
    (9102, 'at_risk', 'critical', now() - interval '1 hour', NULL, NULL),
    (9103, 'plan_limit', 'info', now() - interval '1 hour', NULL, NULL);
SELECT is(pg_temp.operation('at_risk_alerts_raised'), 2::numeric, 'operations: at-risk alerts raised (not outreach ones)');
SELECT is(pg_temp.operation('at_risk_alert_ack_median_hours'), 3.00, 'operations: time to acknowledge an at-risk alert');
SELECT is(pg_temp.operation('at_risk_alerts_unacknowledged'), 1::numeric, 'operations: at-risk alerts waiting');
SELECT is(pg_temp.operation('risk_cta_response_median_hours'), 3.00, 'operations: a risk CTA''s time to first action');
SELECT is(pg_temp.operation('playbook_tasks_due'), 2::numeric, 'operations: tasks due in the last 30 days');
SELECT is(pg_temp.operation('playbook_adherence_pct'), 50.00, 'operations: playbook adherence, done by the due date');
SELECT ok(pg_temp.operation('playbook_tasks_overdue') >= 1, 'operations: overdue tasks');

-- 5. Executive ----------------------------------------------------------------------
SELECT is((SELECT count(*) FROM csm.dashboard_executive WHERE met IS NOT NULL), 7::bigint,
          'executive: the seven criteria, each met or not met');
SELECT is((SELECT row(value, met)::text FROM csm.dashboard_executive WHERE metric = 'health_coverage_pct'), '(66.67,f)',
          'executive: health coverage, 2 of 3 active accounts');
SELECT is((SELECT row(value, met)::text FROM csm.dashboard_executive WHERE metric = 'avg_time_to_value_days'), '(15.0,t)',
          'executive: time to value under 30 days is met');
SELECT is((SELECT row(value, met)::text FROM csm.dashboard_executive WHERE metric = 'churn_prediction_accuracy_pct'), '(,f)',
          'executive: no active churn model: no value, not met');
INSERT INTO csm.churn_model (name, kind, model, evaluation, active) VALUES ('dsh', 'trained', '{}', '{"accuracy": 0.5, "holdout": {"accuracy": 0.85}}', true);
SELECT is((SELECT row(value, met)::text FROM csm.dashboard_executive WHERE metric = 'churn_prediction_accuracy_pct'), '(85.00,t)',
          'executive: the active model''s held-out accuracy');
SELECT is((SELECT row(value, met)::text FROM csm.dashboard_executive WHERE metric = 'nps'), '(33.3,f)',
          'executive: NPS of the last 90 days against > 50');

-- 6. Every column of every dashboard view says what it holds, with its unit.
SELECT is((SELECT array_agg(c.relname || '.' || a.attname ORDER BY c.relname, a.attnum)
           FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
           WHERE c.relnamespace = 'csm'::regnamespace AND c.relname LIKE 'dashboard\_%'
             AND col_description(c.oid, a.attnum) IS NULL), NULL, 'every dashboard column has a comment');
SELECT is((SELECT count(*) FROM pg_class c
           WHERE c.relnamespace = 'csm'::regnamespace AND c.relname LIKE 'dashboard\_%' AND c.relkind = 'v'
             AND 'security_invoker=true' = ANY (c.reloptions)), 5::bigint, 'five dashboard views, all security_invoker');

SELECT * FROM finish();
ROLLBACK;
