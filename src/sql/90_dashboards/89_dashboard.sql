-- Dashboards: seed 002's "Success Metrics Dashboard" as five views a BI tool
-- charts as they are (issue 15, section 1).
--
-- Every view is long (tidy): one row per metric (and per CSM, segment or
-- period where the view has one), with the number in value and its unit in
-- unit, so a BI tool pivots or filters by metric instead of reading a wide
-- row whose columns change with each release.  Time series have a date
-- column per grain (week, month); snapshots carry as_of_date, today in UTC.
-- Units: 'USD' (ARR as csm.account.arr stores it), '%' (0-100), 'accounts',
-- 'count', 'points' (a 0-100 health score or the -100..100 NPS), 'days',
-- 'hours', 'load' (csm.account_assignment.load units) and '1-5' (CSAT).
--
-- Citus: each view reads the per-account tables once, in a MATERIALIZED
-- CTE joined on account_id (co-located), and aggregates that result on the
-- coordinator, so the views give the single-node answers on a cluster
-- (test/citus/dashboard.sql).

-- Portfolio overview ---------------------------------------------------------------

CREATE OR REPLACE VIEW @extschema@.dashboard_portfolio WITH (security_invoker = true) AS
WITH acc AS MATERIALIZED (
    SELECT a.account_id, a.segment, a.arr, a.renewal_date, p.member_id,
           h.score AS health_score, h.band AS health_band, r.band AS churn_band, r.probability
    FROM @extschema@.account a
    LEFT JOIN @extschema@.account_assignment p
           ON p.account_id = a.account_id AND p.is_primary AND p.ended_at IS NULL
    LEFT JOIN @extschema@.health_score h ON h.account_id = a.account_id
    LEFT JOIN @extschema@.churn_score r ON r.account_id = a.account_id
    WHERE a.status = 'active'
), o AS MATERIALIZED (
    -- Health overrides win over the computed score, as in csm.account_health.
    SELECT v.account_id, v.score, v.health_band AS band
    FROM @extschema@.account_health v
    WHERE v.override_score IS NOT NULL
), base AS (
    SELECT acc.account_id, acc.segment, acc.arr, acc.member_id, acc.probability, acc.churn_band,
           coalesce(o.score, acc.health_score) AS health_score,
           coalesce(o.band, acc.health_band, 'unknown') AS health_band,
           acc.renewal_date >= d.today AND acc.renewal_date < d.today + 90 AS renews_90d
    FROM acc
    LEFT JOIN o ON o.account_id = acc.account_id
    CROSS JOIN (SELECT (now() AT TIME ZONE 'UTC')::date AS today) d
), sets AS (
    SELECT s.member_id, s.all_csms, s.segment, s.all_segments,
           count(*) AS accounts, sum(s.arr) AS arr,
           avg(s.health_score) AS avg_health,
           count(*) FILTER (WHERE s.health_band = 'red' OR s.churn_band IN ('high', 'critical')) AS at_risk,
           sum(s.arr) FILTER (WHERE s.health_band = 'red' OR s.churn_band IN ('high', 'critical')) AS at_risk_arr,
           count(*) FILTER (WHERE s.renews_90d) AS renewals,
           sum(s.arr) FILTER (WHERE s.renews_90d) AS renewal_arr,
           sum(s.arr * (1 - coalesce(s.probability, 0))) FILTER (WHERE s.renews_90d) AS renewal_expected_arr,
           count(*) FILTER (WHERE s.health_band = 'green') AS green,
           count(*) FILTER (WHERE s.health_band = 'yellow') AS yellow,
           count(*) FILTER (WHERE s.health_band = 'red') AS red,
           count(*) FILTER (WHERE s.health_band = 'unknown') AS unknown,
           count(*) FILTER (WHERE s.churn_band = 'low') AS churn_low,
           count(*) FILTER (WHERE s.churn_band = 'moderate') AS churn_moderate,
           count(*) FILTER (WHERE s.churn_band = 'high') AS churn_high,
           count(*) FILTER (WHERE s.churn_band = 'critical') AS churn_critical
    FROM (SELECT b.member_id, false AS all_csms, b.segment, false AS all_segments,
                 b.arr, b.probability, b.churn_band, b.health_score, b.health_band, b.renews_90d
          FROM base b
          UNION ALL
          SELECT b.member_id, false, NULL, true, b.arr, b.probability, b.churn_band, b.health_score, b.health_band, b.renews_90d
          FROM base b
          UNION ALL
          SELECT NULL, true, b.segment, false, b.arr, b.probability, b.churn_band, b.health_score, b.health_band, b.renews_90d
          FROM base b
          UNION ALL
          SELECT NULL, true, NULL, true, b.arr, b.probability, b.churn_band, b.health_score, b.health_band, b.renews_90d
          FROM base b) s
    GROUP BY s.member_id, s.all_csms, s.segment, s.all_segments
), workload AS (
    SELECT w.member_id, w.load, w.effective_capacity
    FROM @extschema@.assignment_workload w
    WHERE w.active
)
SELECT (now() AT TIME ZONE 'UTC')::date AS as_of_date,
       s.member_id, m.handle AS csm_handle, m.name AS csm_name, s.all_csms,
       s.segment, s.all_segments, v.metric, v.value, v.unit
FROM sets s
LEFT JOIN @extschema@.team_member m ON m.member_id = s.member_id
CROSS JOIN LATERAL (VALUES
    ('accounts', s.accounts::numeric, 'accounts'),
    ('arr_managed', s.arr, 'USD'),
    ('avg_health_score', round(s.avg_health::numeric, 1), 'points'),
    ('at_risk_accounts', s.at_risk::numeric, 'accounts'),
    ('at_risk_arr', coalesce(s.at_risk_arr, 0), 'USD'),
    ('renewals_90d', s.renewals::numeric, 'accounts'),
    ('renewal_arr_90d', coalesce(s.renewal_arr, 0), 'USD'),
    ('renewal_expected_arr_90d', round(coalesce(s.renewal_expected_arr, 0)::numeric, 2), 'USD'),
    ('health_green_accounts', s.green::numeric, 'accounts'),
    ('health_yellow_accounts', s.yellow::numeric, 'accounts'),
    ('health_red_accounts', s.red::numeric, 'accounts'),
    ('health_unknown_accounts', s.unknown::numeric, 'accounts'),
    ('churn_low_accounts', s.churn_low::numeric, 'accounts'),
    ('churn_moderate_accounts', s.churn_moderate::numeric, 'accounts'),
    ('churn_high_accounts', s.churn_high::numeric, 'accounts'),
    ('churn_critical_accounts', s.churn_critical::numeric, 'accounts')) AS v(metric, value, unit)
UNION ALL
SELECT (now() AT TIME ZONE 'UTC')::date, w.member_id, m.handle, m.name, false, NULL, true, v.metric, v.value, v.unit
FROM workload w
JOIN @extschema@.team_member m ON m.member_id = w.member_id
CROSS JOIN LATERAL (VALUES
    ('book_load', round(w.load::numeric, 2), 'load'),
    ('book_capacity', w.effective_capacity::numeric, 'load')) AS v(metric, value, unit);

-- Activity ---------------------------------------------------------------------------

-- Which playbooks mitigate a risk: those fired by a health band, a churn
-- band, a churn signal or inactivity, and the outreach playbooks of the
-- alerts that signal decline (usage_decline, competitor_mention).  The
-- dashboards count their CTAs as risk mitigations and their response time
-- as the response to at-risk alerts.
CREATE OR REPLACE FUNCTION csm_internal._risk_playbook(trigger_kind text, trigger_values text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN trigger_kind IN ('health_band', 'churn_band', 'churn_signal', 'no_activity')
    OR (trigger_kind = 'alert' AND trigger_values && ARRAY['usage_decline', 'competitor_mention']);
COMMENT ON FUNCTION csm_internal._risk_playbook(text, text[]) IS
    'Internal: whether a playbook''s CTAs are risk mitigations on the dashboards: trigger_kind health_band, churn_band, churn_signal or no_activity, or alert for usage_decline or competitor_mention. A function of the playbook''s columns only (no table read), so Citus may run it on a shard.';

-- Counts per UTC day first (one pass over each table, bounded to the
-- window), then summed into the 26 weeks and 12 months that end today.
CREATE OR REPLACE VIEW @extschema@.dashboard_activity WITH (security_invoker = true) AS
WITH bounds AS (
    SELECT least(date_trunc('week', d.today) - interval '25 weeks',
                 date_trunc('month', d.today) - interval '11 months')::date AS first_day,
           d.today
    FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS today) d
), daily AS MATERIALIZED (
    SELECT (e.occurred_at AT TIME ZONE 'UTC')::date AS day, 'touchpoints' AS metric, count(*) AS n
    FROM @extschema@.engagement e, bounds b
    WHERE e.occurred_at >= b.first_day::timestamp AT TIME ZONE 'UTC' AND e.occurred_at <= now()
    GROUP BY 1
    UNION ALL
    SELECT (n.noted_at AT TIME ZONE 'UTC')::date, 'touchpoints', count(*)
    FROM @extschema@.account_note n, bounds b
    WHERE n.noted_at >= b.first_day::timestamp AT TIME ZONE 'UTC' AND n.noted_at <= now()
    GROUP BY 1
    UNION ALL
    SELECT (e.occurred_at AT TIME ZONE 'UTC')::date, 'business_reviews_completed', count(*)
    FROM @extschema@.engagement e, bounds b
    WHERE e.kind = 'qbr' AND e.attended IS NOT FALSE
      AND e.occurred_at >= b.first_day::timestamp AT TIME ZONE 'UTC' AND e.occurred_at <= now()
    GROUP BY 1
    UNION ALL
    SELECT (x.first_seen_at AT TIME ZONE 'UTC')::date, 'expansion_opportunities_identified', count(*)
    FROM @extschema@.expansion_signal x, bounds b
    WHERE x.first_seen_at >= b.first_day::timestamp AT TIME ZONE 'UTC' AND x.first_seen_at <= now()
    GROUP BY 1
    UNION ALL
    SELECT (r.held_at AT TIME ZONE 'UTC')::date, 'business_reviews_completed', count(*)
    FROM @extschema@.business_review_held r, bounds b
    WHERE r.held_at >= b.first_day::timestamp AT TIME ZONE 'UTC' AND r.held_at <= now()
    GROUP BY 1
    UNION ALL
    SELECT (p.updated_at AT TIME ZONE 'UTC')::date, 'success_plans_updated', count(*)
    FROM @extschema@.success_plan p, bounds b
    WHERE p.updated_at >= b.first_day::timestamp AT TIME ZONE 'UTC' AND p.updated_at <= now()
    GROUP BY 1
), risk_cta AS MATERIALIZED (
    -- The CTAs of the risk playbooks (csm_internal._risk_playbook), open at some
    -- time in the window.
    SELECT c.opened_at, c.closed_at
    FROM @extschema@.cta c
    JOIN @extschema@.playbook p ON p.name = c.playbook
    CROSS JOIN bounds b
    WHERE csm_internal._risk_playbook(p.trigger_kind, p.trigger_values)
      AND (c.closed_at IS NULL OR c.closed_at >= b.first_day::timestamp AT TIME ZONE 'UTC')
), metrics (metric, unit) AS (
    VALUES ('touchpoints', 'count'), ('business_reviews_completed', 'count'), ('success_plans_updated', 'count'),
           ('expansion_opportunities_identified', 'count'), ('risk_mitigations_in_progress', 'count')
), periods AS (
    -- Integer series, which the planner counts (a timestamp one is guessed
    -- at 1000 rows).
    SELECT 'week' AS grain, (date_trunc('week', b.today) - make_interval(weeks => i))::date AS period_start,
           (date_trunc('week', b.today) - make_interval(weeks => i - 1))::date AS period_end
    FROM bounds b, generate_series(0, 25) i
    UNION ALL
    SELECT 'month', (date_trunc('month', b.today) - make_interval(months => i))::date,
           (date_trunc('month', b.today) - make_interval(months => i - 1))::date
    FROM bounds b, generate_series(0, 11) i
)
SELECT p.grain,
       CASE WHEN p.grain = 'week' THEN p.period_start END AS week,
       CASE WHEN p.grain = 'month' THEN p.period_start END AS month,
       p.period_start, p.period_end, m.metric,
       CASE WHEN m.metric = 'risk_mitigations_in_progress'
            -- open at the end of the period, or now for the current one
            THEN (SELECT count(*) FROM risk_cta r
                  WHERE r.opened_at < least(now(), p.period_end::timestamp AT TIME ZONE 'UTC')
                    AND (r.closed_at IS NULL OR r.closed_at >= least(now(), p.period_end::timestamp AT TIME ZONE 'UTC')))
            ELSE coalesce((SELECT sum(d.n) FROM daily d
                           WHERE d.metric = m.metric AND d.day >= p.period_start AND d.day < p.period_end), 0)
       END::numeric AS value,
       m.unit,
       -- the vocabulary's names; period_start and period_end are deprecated
       p.period_start AS period_start_date, p.period_end AS period_end_date
FROM periods p CROSS JOIN metrics m;

-- Outcomes ---------------------------------------------------------------------------

CREATE OR REPLACE VIEW @extschema@.dashboard_outcomes WITH (security_invoker = true) AS
WITH months AS (
    -- An integer series, which the planner counts (24 rows): a timestamp
    -- one is guessed at 1000, and the plan's cost then crosses jit_above_cost.
    SELECT (date_trunc('month', (now() AT TIME ZONE 'UTC')::date) - make_interval(months => i))::date AS month
    FROM generate_series(0, 23) i
), revenue AS MATERIALIZED (
    SELECT r.month, r.grr_ratio AS grr, r.nrr_ratio AS nrr, r.grr_12m_ratio AS grr_12m, r.nrr_12m_ratio AS nrr_12m,
           r.ltv_arr AS ltv
    FROM @extschema@.revenue_monthly r
    WHERE r.segment IS NULL
), nps AS MATERIALIZED (
    SELECT n.month, n.nps, n.nps_3m, n.responses
    FROM @extschema@.nps_monthly n
    WHERE n.all_segments
), first_value AS MATERIALIZED (
    -- csm.time_to_value for every account that has reached value: the first
    -- first_value milestone minus started_at, never negative.
    SELECT date_trunc('month', min(am.achieved_at) AT TIME ZONE 'UTC')::date AS month,
           greatest(extract(epoch FROM min(am.achieved_at) - a.started_at) / 86400, 0) AS ttv_days
    FROM @extschema@.account a
    JOIN @extschema@.account_milestone am ON am.account_id = a.account_id
    JOIN @extschema@.milestone d ON d.milestone = am.milestone AND d.first_value
    WHERE a.started_at IS NOT NULL
    GROUP BY a.account_id, a.started_at
), ttv AS (
    SELECT f.month, avg(f.ttv_days) AS ttv_days, count(*) AS accounts
    FROM first_value f
    GROUP BY f.month
)
SELECT m.month, v.metric, v.value, v.unit
FROM months m
LEFT JOIN revenue r ON r.month = m.month
LEFT JOIN nps n ON n.month = m.month
LEFT JOIN ttv t ON t.month = m.month
CROSS JOIN LATERAL (VALUES
    ('nps', n.nps, 'points'),
    ('nps_3m', n.nps_3m, 'points'),
    ('nps_responses', coalesce(n.responses, 0)::numeric, 'count'),
    ('grr_pct', round(r.grr * 100, 2), '%'),
    ('nrr_pct', round(r.nrr * 100, 2), '%'),
    ('grr_12m_pct', round(r.grr_12m * 100, 2), '%'),
    ('nrr_12m_pct', round(r.nrr_12m * 100, 2), '%'),
    ('avg_time_to_value_days', round(t.ttv_days::numeric, 1), 'days'),
    ('time_to_value_accounts', coalesce(t.accounts, 0)::numeric, 'accounts'),
    ('customer_lifetime_value', round(r.ltv, 2), 'USD')) AS v(metric, value, unit);

-- Operations -------------------------------------------------------------------------

CREATE OR REPLACE VIEW @extschema@.dashboard_operations WITH (security_invoker = true) AS
WITH conv AS MATERIALIZED (
    SELECT avg(c.csat) AS csat, count(c.csat) AS csat_responses,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.first_response_at - c.created_at) / 3600)
               FILTER (WHERE c.first_response_at IS NOT NULL) AS first_response_hours
    FROM @extschema@.conversation c
    WHERE c.created_at >= now() - interval '30 days'
), advocacy AS MATERIALIZED (
    -- Seed 002: promoters (9-10) get the advocacy programme invitation;
    -- each promoter answer opens one loop (csm.nps_loop).
    SELECT count(*) AS invitations
    FROM @extschema@.nps_loop l
    JOIN @extschema@.nps_response r ON r.account_id = l.account_id AND r.response_id = l.response_id
    WHERE r.category = 'promoter' AND l.opened_at >= now() - interval '30 days'
), advocates AS MATERIALIZED (
    -- Seed 002's advocacy_development trigger (NPS 9-10 and healthy): the
    -- advocacy expansion signal (csm.refresh_expansion).
    SELECT count(*) AS raised
    FROM @extschema@.expansion_signal x
    WHERE x.signal = 'advocacy' AND x.first_seen_at >= now() - interval '30 days'
), nps_sla AS MATERIALIZED (
    SELECT count(*) FILTER (WHERE f.sla_breached) AS breaches, count(*) AS open_loops
    FROM @extschema@.nps_followup f
    WHERE f.state NOT IN ('resolved', 'escalated')
), queue AS MATERIALIZED (
    SELECT count(*) AS accounts, max(extract(epoch FROM now() - q.queued_at) / 3600) AS oldest_hours
    FROM @extschema@.unassigned_queue q
), alerts AS MATERIALIZED (
    -- At-risk alerts (csm.alert): health and churn bands entered, seed
    -- 003's at-risk triggers.
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM x.acknowledged_at - x.created_at) / 3600)
               FILTER (WHERE x.acknowledged_at IS NOT NULL AND x.created_at >= now() - interval '30 days') AS ack_hours,
           count(*) FILTER (WHERE x.created_at >= now() - interval '30 days') AS raised,
           count(*) FILTER (WHERE x.cleared_at IS NULL AND x.acknowledged_at IS NULL) AS unacknowledged
    FROM @extschema@.alert x
    WHERE x.kind IN ('health_band', 'churn_band', 'at_risk')
), ctas AS MATERIALIZED (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.first_action_at - c.opened_at) / 3600)
               FILTER (WHERE c.first_action_at IS NOT NULL) AS response_hours
    FROM @extschema@.cta c
    JOIN @extschema@.playbook p ON p.name = c.playbook
    WHERE csm_internal._risk_playbook(p.trigger_kind, p.trigger_values) AND c.opened_at >= now() - interval '30 days'
), tasks AS MATERIALIZED (
    -- csm.playbook_adherence's rule over the tasks due in the last 30 days:
    -- done by due_at, of those done or still open (skipped ones left out).
    SELECT count(*) FILTER (WHERE k.due_at >= now() - interval '30 days' AND k.due_at < now()
                              AND k.status IN ('done', 'open')) AS due,
           count(*) FILTER (WHERE k.due_at >= now() - interval '30 days' AND k.due_at < now()
                              AND k.status = 'done' AND k.completed_at <= k.due_at) AS on_time,
           count(*) FILTER (WHERE k.status = 'open' AND k.due_at < now()) AS overdue
    FROM @extschema@.task k
)
SELECT (now() AT TIME ZONE 'UTC')::date AS as_of_date, v.window_days, v.metric, v.value, v.unit
FROM conv, advocacy, advocates, nps_sla, queue, alerts, ctas, tasks
CROSS JOIN LATERAL (VALUES
    (30, 'at_risk_alerts_raised', alerts.raised::numeric, 'count'),
    (30, 'at_risk_alert_ack_median_hours', round(alerts.ack_hours::numeric, 2), 'hours'),
    (NULL, 'at_risk_alerts_unacknowledged', alerts.unacknowledged::numeric, 'count'),
    (30, 'risk_cta_response_median_hours', round(ctas.response_hours::numeric, 2), 'hours'),
    (30, 'playbook_adherence_pct', round(100.0 * tasks.on_time / nullif(tasks.due, 0), 2), '%'),
    (30, 'playbook_tasks_due', tasks.due::numeric, 'count'),
    (NULL, 'playbook_tasks_overdue', tasks.overdue::numeric, 'count'),
    (30, 'csat_avg', round(conv.csat, 2), '1-5'),
    (30, 'csat_responses', conv.csat_responses::numeric, 'count'),
    (30, 'first_response_median_hours', round(conv.first_response_hours::numeric, 2), 'hours'),
    (30, 'advocacy_invitations', advocacy.invitations::numeric, 'count'),
    (30, 'advocacy_opportunities', advocates.raised::numeric, 'count'),
    (NULL, 'nps_followups_open', nps_sla.open_loops::numeric, 'count'),
    (NULL, 'nps_followup_sla_breaches', nps_sla.breaches::numeric, 'count'),
    (NULL, 'assignment_queue_accounts', queue.accounts::numeric, 'accounts'),
    (NULL, 'assignment_queue_oldest_hours', round(queue.oldest_hours::numeric, 1), 'hours')) AS v(window_days, metric, value, unit);

-- Executive summary ------------------------------------------------------------------

CREATE OR REPLACE VIEW @extschema@.dashboard_executive WITH (security_invoker = true) AS
WITH d AS (
    SELECT (now() AT TIME ZONE 'UTC')::date AS today
), figures AS MATERIALIZED (
    -- Scalar subqueries: the planner counts one row each (a set-returning
    -- function is guessed at 1000, and their product crosses jit_above_cost).
    SELECT (SELECT ARRAY[r.grr_ratio, r.nrr_ratio] FROM @extschema@.revenue_retention(d.today - 365, d.today) r) AS retention,
           (SELECT s.nps FROM @extschema@.nps_summary(d.today - 89, d.today) s) AS nps,
           (SELECT r.expansion_share_ratio FROM @extschema@.renewal_metrics(d.today - 365, d.today) r) AS expansion_share
    FROM d
), ttv AS MATERIALIZED (
    SELECT avg(f.ttv_days) AS ttv_days
    FROM (SELECT greatest(extract(epoch FROM min(am.achieved_at) - a.started_at) / 86400, 0) AS ttv_days,
                 min(am.achieved_at) AS reached_at
          FROM @extschema@.account a
          JOIN @extschema@.account_milestone am ON am.account_id = a.account_id
          JOIN @extschema@.milestone m ON m.milestone = am.milestone AND m.first_value
          WHERE a.started_at IS NOT NULL
          GROUP BY a.account_id, a.started_at) f
    WHERE f.reached_at >= now() - interval '365 days'
), model AS MATERIALIZED (
    SELECT (max(m.evaluation -> 'holdout' ->> 'accuracy') FILTER (WHERE m.active))::numeric AS accuracy
    FROM @extschema@.churn_model m
), coverage AS MATERIALIZED (
    SELECT count(*) AS accounts,
           count(*) FILTER (WHERE h.score IS NOT NULL AND h.band <> 'unknown') AS scored
    FROM @extschema@.account a
    LEFT JOIN @extschema@.health_score h ON h.account_id = a.account_id
    WHERE a.status = 'active'
), criteria AS (
    SELECT v.*
    FROM figures f, ttv, model, coverage
    CROSS JOIN LATERAL (VALUES
        (1, 'grr_pct', 'Gross revenue retention, last 365 days', round(f.retention[1] * 100, 2), '%', '>', 95::numeric),
        (2, 'nrr_pct', 'Net revenue retention, last 365 days', round(f.retention[2] * 100, 2), '%', '>', 110),
        (3, 'nps', 'NPS, last 90 days', round(f.nps, 1), 'points', '>', 50),
        (4, 'avg_time_to_value_days', 'Average time to value, accounts reaching value in the last 365 days',
            round(ttv.ttv_days::numeric, 1), 'days', '<', 30),
        (5, 'expansion_renewals_pct', 'Renewals closed as upsell, last 365 days', round(f.expansion_share * 100, 2), '%', '>', 25),
        (6, 'churn_prediction_accuracy_pct', 'Active churn model''s held-out accuracy', round(model.accuracy * 100, 2), '%', '>', 80),
        (7, 'health_coverage_pct', 'Active accounts with a current health score',
            round(100.0 * coverage.scored / nullif(coverage.accounts, 0), 2), '%', '>=', 100))
        AS v(position, metric, description, value, unit, comparator, target)
)
SELECT (SELECT d.today FROM d) AS as_of_date, c.position, c.metric, c.description, c.value, c.unit,
       c.comparator, c.target,
       coalesce(CASE c.comparator WHEN '>' THEN c.value > c.target
                                  WHEN '<' THEN c.value < c.target
                                  WHEN '>=' THEN c.value >= c.target END, false) AS met
FROM criteria c;

COMMENT ON VIEW @extschema@.dashboard_portfolio IS
    'Seed 002''s portfolio overview, long format, as of today (UTC), over active accounts: per CSM (the primary owner; member_id NULL and all_csms false: the accounts without one) and for the team (all_csms), each per segment and over all segments (all_segments). Metrics: accounts, arr_managed, avg_health_score (csm.account_health''s score, overrides included; accounts without a score left out), at_risk_accounts and at_risk_arr (health band red, or churn band high or critical), renewals_90d, renewal_arr_90d and renewal_expected_arr_90d (renewal_date from today to today + 89; expected = ARR x (1 - churn probability), a missing probability counted as 0), health_<band>_accounts and churn_<band>_accounts (accounts per band; unscored accounts are health unknown and in no churn band); per CSM over all segments also book_load and book_capacity (csm.assignment_workload''s load and effective_capacity).';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.as_of_date IS 'The day the snapshot describes: today in UTC (date).';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.member_id IS 'The CSM (csm.team_member.member_id) whose primary book the row counts; NULL on team rows (all_csms) and on the row of accounts without a primary CSM.';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.csm_handle IS 'The CSM''s handle (text); NULL where member_id is.';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.csm_name IS 'The CSM''s name (text); NULL where member_id is or the member has none.';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.all_csms IS 'True on the team rows, which count every active account whoever owns it (boolean).';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.segment IS 'The account segment the row counts (csm.account.segment); NULL on all_segments rows, and for accounts without a segment.';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.all_segments IS 'True on the rows that count every segment (boolean).';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.metric IS 'What value measures: accounts, arr_managed, avg_health_score, at_risk_accounts, at_risk_arr, renewals_90d, renewal_arr_90d, renewal_expected_arr_90d, health_{green,yellow,red,unknown}_accounts, churn_{low,moderate,high,critical}_accounts, book_load, book_capacity (text).';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.value IS 'The metric''s value, in the row''s unit (numeric); avg_health_score is NULL when no account of the group has a score.';
COMMENT ON COLUMN @extschema@.dashboard_portfolio.unit IS 'The unit of value: USD (ARR), accounts, points (a 0-100 health score) or load (csm.account_assignment.load units; a full seed-sized book is 100).';

COMMENT ON VIEW @extschema@.dashboard_activity IS
    'Seed 002''s activity metrics, long format, per ISO week (Monday to Sunday, UTC; the 26 weeks up to the current one) and per month (UTC; the 12 months up to the current one), zero-filled: touchpoints (csm.engagement rows plus csm.account_note rows in the period), business_reviews_completed (engagements of kind qbr not marked unattended), business reviews recorded with csm.record_business_review (csm.business_review_held.held_at) also count; success_plans_updated (csm.success_plan rows whose updated_at, the last change to the plan, its objectives or milestones, falls in the period: a plan changed in two periods counts in the later one); expansion_opportunities_identified (csm.expansion_signal rows first seen in the period); risk_mitigations_in_progress (CTAs of the risk playbooks, csm_internal._risk_playbook, open at the end of the period, or now for the current one). Only what has happened counts (timestamps up to now()).';
COMMENT ON COLUMN @extschema@.dashboard_activity.grain IS 'week or month: which period the row counts (text).';
COMMENT ON COLUMN @extschema@.dashboard_activity.week IS 'The Monday the week starts (date, UTC) on week rows; NULL on month rows. The time column for a weekly chart.';
COMMENT ON COLUMN @extschema@.dashboard_activity.month IS 'The first day of the month (date, UTC) on month rows; NULL on week rows. The time column for a monthly chart.';
COMMENT ON COLUMN @extschema@.dashboard_activity.period_start_date IS 'The first day of the period, included (date, UTC).';
COMMENT ON COLUMN @extschema@.dashboard_activity.period_end_date IS 'The day after the period, excluded (date, UTC).';
COMMENT ON COLUMN @extschema@.dashboard_activity.period_start IS 'Deprecated: use period_start_date; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.dashboard_activity.period_end IS 'Deprecated: use period_end_date; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.dashboard_activity.metric IS 'What value counts: touchpoints, business_reviews_completed, success_plans_updated, expansion_opportunities_identified, risk_mitigations_in_progress (text).';
COMMENT ON COLUMN @extschema@.dashboard_activity.value IS 'How many in the period, in the row''s unit (numeric; 0 when none).';
COMMENT ON COLUMN @extschema@.dashboard_activity.unit IS 'The unit of value: count (text).';

COMMENT ON VIEW @extschema@.dashboard_outcomes IS
    'Seed 002''s outcome metrics by month (UTC), long format, for the 24 months up to the current one, all segments: nps and nps_3m (csm.nps_monthly), nps_responses, grr_pct and nrr_pct (that month''s, csm.revenue_monthly x 100), grr_12m_pct and nrr_12m_pct (trailing twelve months), avg_time_to_value_days and time_to_value_accounts (csm.time_to_value of the accounts whose first first_value milestone fell in the month, in days), customer_lifetime_value (csm.revenue_monthly.ltv). A value is NULL in a month without the data it needs.';
COMMENT ON COLUMN @extschema@.dashboard_outcomes.month IS 'The first day of the month (date, UTC); the time column.';
COMMENT ON COLUMN @extschema@.dashboard_outcomes.metric IS 'What value measures: nps, nps_3m, nps_responses, grr_pct, nrr_pct, grr_12m_pct, nrr_12m_pct, avg_time_to_value_days, time_to_value_accounts, customer_lifetime_value (text).';
COMMENT ON COLUMN @extschema@.dashboard_outcomes.value IS 'The metric''s value for the month, in the row''s unit (numeric); NULL without the data it needs.';
COMMENT ON COLUMN @extschema@.dashboard_outcomes.unit IS 'The unit of value: points (NPS, -100 to 100), % (0-100), days, count, accounts or USD (text).';

COMMENT ON VIEW @extschema@.dashboard_operations IS
    'Seed 002''s operational metrics, long format, as of today (UTC): at_risk_alerts_raised and at_risk_alert_ack_median_hours (csm.alert of kind health_band, churn_band or at_risk raised in the last 30 days, and the median of acknowledged_at - created_at over those acknowledged), at_risk_alerts_unacknowledged (now: not cleared, not acknowledged), risk_cta_response_median_hours (CTAs of the risk playbooks opened in the last 30 days: median of first_action_at - opened_at over those acted on), playbook_adherence_pct and playbook_tasks_due (tasks due in the last 30 days, done or open: the share done by due_at, x 100, as csm.playbook_adherence counts), playbook_tasks_overdue (now: open past due_at); over conversations created in the last 30 days, csat_avg (mean CSAT, 1-5), csat_responses and first_response_median_hours (median time from creation to first response); advocacy_invitations (promoter answers whose NPS loop opened in the last 30 days: seed 002 invites promoters to the advocacy programme), advocacy_opportunities (advocacy expansion signals first seen in the last 30 days: seed 002''s advocacy_development trigger, a healthy promoter); and now (window_days NULL): nps_followups_open and nps_followup_sla_breaches (open csm.nps_followup loops, and those past a deadline), assignment_queue_accounts and assignment_queue_oldest_hours (csm.unassigned_queue).';
COMMENT ON COLUMN @extschema@.dashboard_operations.as_of_date IS 'The day the snapshot describes: today in UTC (date).';
COMMENT ON COLUMN @extschema@.dashboard_operations.window_days IS 'The trailing window the metric covers, in days (integer); NULL for a state now (queues, open loops).';
COMMENT ON COLUMN @extschema@.dashboard_operations.metric IS 'What value measures: at_risk_alerts_raised, at_risk_alert_ack_median_hours, at_risk_alerts_unacknowledged, risk_cta_response_median_hours, playbook_adherence_pct, playbook_tasks_due, playbook_tasks_overdue, csat_avg, csat_responses, first_response_median_hours, advocacy_invitations, advocacy_opportunities, nps_followups_open, nps_followup_sla_breaches, assignment_queue_accounts, assignment_queue_oldest_hours (text).';
COMMENT ON COLUMN @extschema@.dashboard_operations.value IS 'The metric''s value, in the row''s unit (numeric); NULL without data (no CSAT answer, an empty queue''s oldest wait).';
COMMENT ON COLUMN @extschema@.dashboard_operations.unit IS 'The unit of value: % (0-100), 1-5 (CSAT), count, hours or accounts (text).';

COMMENT ON VIEW @extschema@.dashboard_executive IS
    'Seed 002''s success criteria beside their targets, one row each, as of today (UTC): grr_pct and nrr_pct (csm.revenue_retention over the last 365 days, x 100; targets > 95 and > 110), nps (csm.nps_summary over the last 90 days; > 50), avg_time_to_value_days (accounts that reached value in the last 365 days; < 30), expansion_renewals_pct (csm.renewal_metrics over the last 365 days: upsells / renewals closed, x 100; > 25), churn_prediction_accuracy_pct (the active churn model''s held-out accuracy, evaluation -> holdout -> accuracy as csm.train_churn_model stores it, x 100; > 80), health_coverage_pct (active accounts with a health score not in band unknown / active accounts, x 100; >= 100). met compares value with target by comparator; a NULL value (no data) is not met.';
COMMENT ON COLUMN @extschema@.dashboard_executive.as_of_date IS 'The day the summary describes: today in UTC (date).';
COMMENT ON COLUMN @extschema@.dashboard_executive.position IS 'The criterion''s place in seed 002''s list, 1 to 7 (integer).';
COMMENT ON COLUMN @extschema@.dashboard_executive.metric IS 'The criterion: grr_pct, nrr_pct, nps, avg_time_to_value_days, expansion_renewals_pct, churn_prediction_accuracy_pct, health_coverage_pct (text).';
COMMENT ON COLUMN @extschema@.dashboard_executive.description IS 'What is measured and over which period, for people (text).';
COMMENT ON COLUMN @extschema@.dashboard_executive.value IS 'The measured value, in unit (numeric); NULL without data.';
COMMENT ON COLUMN @extschema@.dashboard_executive.unit IS 'The unit of value and target: % (0-100), points (NPS, -100 to 100) or days (text).';
COMMENT ON COLUMN @extschema@.dashboard_executive.comparator IS 'How value must compare with target to meet it: >, < or >= (text).';
COMMENT ON COLUMN @extschema@.dashboard_executive.target IS 'Seed 002''s target, in unit (numeric).';
COMMENT ON COLUMN @extschema@.dashboard_executive.met IS 'True when value compares with target as comparator says; false when it does not or value is NULL (boolean, never NULL).';
