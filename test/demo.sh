#!/usr/bin/env bash
# `make demo`: loads the demo portfolio (test/data/portfolio.sql) into the
# throwaway cluster that pg_virtualenv started (PGHOST, PGPORT, PGUSER and
# PGPASSWORD are set), prints what a CS leader would look at first, then
# keeps the cluster running until Enter is pressed. Without a terminal on
# stdin (CI, pipes) it exits at once and pg_virtualenv drops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

DB=csm_demo
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

# One psql call per section: a heading, then the query from stdin.
section() {
    printf '\n== %s\n' "$1"
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -P footer=off
}

started=$(date +%s)
createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c 'CREATE EXTENSION csm'
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f test/data/portfolio.sql
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load()'

section "Portfolio by segment" <<'SQL'
SELECT coalesce(a.segment, 'total') AS segment,
       count(*) AS accounts,
       count(*) FILTER (WHERE a.status = 'churned') AS churned,
       to_char(sum(a.arr) FILTER (WHERE a.status = 'active'), 'FM$999,999,999') AS active_arr,
       to_char(sum(a.seats) FILTER (WHERE a.status = 'active'), 'FM999,999') AS seats,
       count(*) FILTER (WHERE a.status = 'active'
                          AND a.renewal_date < (now() AT TIME ZONE 'UTC')::date + 90) AS renew_90d
FROM csm.account a
GROUP BY ROLLUP (a.segment)
ORDER BY a.segment IS NULL, array_position(ARRAY['strategic', 'enterprise', 'mid_market', 'smb'], a.segment);
SQL

section "Usage, last 30 days: top 10 accounts by events" <<'SQL'
SELECT u.external_id, a.name, a.segment,
       sum(u.events) AS events,
       round(sum(u.active_users) / 30.0, 1) AS avg_dau,
       a.seats
FROM csm.usage_daily u
JOIN csm.account a ON a.account_id = u.account_id
WHERE u.day > (now() AT TIME ZONE 'UTC')::date - 30
GROUP BY u.external_id, a.name, a.segment, a.seats
ORDER BY events DESC, u.external_id
LIMIT 10;
SQL

section "Gone quiet: no activity in 14+ days (csm.account_metrics)" <<'SQL'
SELECT count(*) FILTER (WHERE m.status = 'active') AS active_accounts,
       count(*) FILTER (WHERE m.status = 'churned') AS churned_accounts,
       to_char(sum(a.arr) FILTER (WHERE m.status = 'active'), 'FM$999,999,999') AS active_arr_at_risk
FROM csm.account_metrics m
JOIN csm.account a ON a.account_id = m.account_id
WHERE coalesce(m.days_since_last_activity, 9999) >= 14;

SELECT m.external_id, a.name, a.segment, a.status, to_char(a.arr, 'FM$999,999,999') AS arr,
       coalesce(m.days_since_last_activity::text, 'never') AS idle_days
FROM csm.account_metrics m
JOIN csm.account a ON a.account_id = m.account_id
WHERE coalesce(m.days_since_last_activity, 9999) >= 14
ORDER BY a.status, a.arr DESC, m.external_id
LIMIT 6;
SQL

section "Declining: active accounts with usage_trend < 0.7 (csm.account_metrics), next renewals first" <<'SQL'
SELECT count(*) AS accounts,
       to_char(sum(a.arr), 'FM$999,999,999') AS arr,
       count(*) FILTER (WHERE m.days_to_renewal < 90) AS renewing_in_90d
FROM csm.account_metrics m
JOIN csm.account a ON a.account_id = m.account_id
WHERE m.status = 'active' AND m.usage_trend < 0.7;

SELECT m.external_id, a.name, a.segment,
       to_char(a.arr, 'FM$999,999,999') AS arr,
       round(m.dau_ratio::numeric, 3) AS dau_ratio,
       m.features_adopted AS features,
       round(m.usage_trend::numeric, 2) AS usage_trend,
       m.nps,
       m.days_to_renewal AS renewal_in
FROM csm.account_metrics m
JOIN csm.account a ON a.account_id = m.account_id
WHERE m.status = 'active' AND m.usage_trend < 0.7
ORDER BY m.days_to_renewal, m.external_id
LIMIT 8;
SQL

# Health: score today, and rebuild ten weeks of weekly history from the
# metrics as they stood on each of those days, so trends have something to show.
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
SELECT csm.refresh_health('csm_demo.account_metrics');
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT m.account_id, d.day, r.model, r.model_version, r.score, r.band, r.coverage, d.day + time '12:00'
FROM (SELECT ((now() AT TIME ZONE 'UTC')::date - 7 * w) AS day FROM generate_series(1, 10) AS w) d
CROSS JOIN LATERAL csm_demo.account_metrics_at(d.day) m
JOIN csm.account a ON a.account_id = m.account_id AND a.status = 'active'
CROSS JOIN LATERAL csm.csm_health_evaluate_row(m, csm.health_model_for(a.segment, a.plan)) r
ON CONFLICT (account_id, day) DO NOTHING;
SQL

section "Health: band distribution (csm.account_health)" <<'SQL'
SELECT h.band, i.label, i.cadence,
       count(*) AS accounts,
       to_char(sum(h.arr), 'FM$999,999,999') AS arr,
       round(avg(h.score)::numeric, 1) AS avg_score,
       count(*) FILTER (WHERE h.trend = 'down') AS trending_down
FROM csm.account_health h
JOIN csm.account a ON a.account_id = h.account_id AND a.status = 'active'
JOIN csm.health_band_info i ON i.band = h.band
GROUP BY h.band, i.label, i.cadence
ORDER BY h.band;
SQL

section "The ten least healthy accounts, and what dragged each down" <<'SQL'
SELECT h.external_id, h.segment, to_char(h.arr, 'FM$999,999,999') AS arr,
       round(h.score::numeric, 1) AS score, h.band,
       (SELECT string_agg(format('%s %s (-%s)', c.metric, c.zone, round(c.points_lost::numeric, 1)), ', '
                          ORDER BY c.points_lost DESC)
        FROM (SELECT c.metric, c.zone, c.points_lost FROM csm.health_score_component c
              WHERE c.account_id = h.account_id AND c.zone IS NOT NULL
              ORDER BY c.points_lost DESC LIMIT 2) c) AS worst_components
FROM csm.account_health h
JOIN csm.account a ON a.account_id = h.account_id AND a.status = 'active'
ORDER BY h.score, h.external_id
LIMIT 10;
SQL

section "Why the least healthy account scores what it does" <<'SQL'
SELECT c.metric, round(c.value::numeric, 3) AS value, c.zone, round(c.score::numeric, 1) AS score, round(c.weight::numeric, 3) AS weight,
       round(c.contribution::numeric, 1) AS contribution, round(c.points_lost::numeric, 1) AS points_lost
FROM (SELECT h.account_id FROM csm.account_health h
      JOIN csm.account a ON a.account_id = h.account_id AND a.status = 'active'
      ORDER BY h.score, h.external_id LIMIT 1) w
JOIN csm.health_score_component c ON c.account_id = w.account_id
ORDER BY c.points_lost DESC, c.metric;
SQL

section "Health trend: the steepest declines over ten weeks" <<'SQL'
SELECT a.external_id, a.segment,
       csm.sparkline(array_agg(hh.score ORDER BY hh.day)) AS weekly_health,
       round((array_agg(hh.score ORDER BY hh.day DESC))[1]::numeric, 1) AS now,
       round(((array_agg(hh.score ORDER BY hh.day DESC))[1] - (array_agg(hh.score ORDER BY hh.day))[1])::numeric, 1) AS change
FROM csm.health_history hh
JOIN csm.account a ON a.account_id = hh.account_id AND a.status = 'active'
GROUP BY a.external_id, a.segment
HAVING count(*) >= 8
ORDER BY change, a.external_id
LIMIT 8;
SQL

# Churn: detect the signals, train a model on the portfolio's own history
# (a snapshot 90 days ago, labelled by who churned in the 90 days after,
# a fifth of the accounts held out), then score every active account.
section "Churn signals open now, by strength (csm.refresh_churn_signals, csm.churn_signal_current)" <<'SQL'
SELECT r.raised, r.ongoing, r.cleared FROM csm.refresh_churn_signals() r;
SELECT c.strength, c.signal, count(*) AS accounts, to_char(sum(a.arr), 'FM$999,999,999') AS arr
FROM csm.churn_signal_current c
JOIN csm.account a ON a.account_id = c.account_id
GROUP BY c.strength, c.signal
ORDER BY array_position(ARRAY['strong', 'moderate', 'early'], c.strength), accounts DESC, c.signal;
SQL
section "Churn model trained on this portfolio's history, measured on held-out accounts (csm.train_churn_model)" <<'SQL'
SELECT t->>'rows' AS snapshot_accounts, t->>'churned' AS churned_within_90d, t->>'train_rows' AS train, t->>'holdout_rows' AS held_out,
       round((t->'holdout'->>'accuracy')::numeric, 3) AS accuracy,
       round((t->>'majority_accuracy')::numeric, 3) AS majority_class,
       round((t->'holdout'->>'auc')::numeric, 3) AS auc,
       round((t->'holdout'->>'precision')::numeric, 3) AS precision,
       round((t->'holdout'->>'recall')::numeric, 3) AS recall,
       round((t->'holdout'->>'brier')::numeric, 4) AS brier
FROM csm.train_churn_model('demo') t;
SELECT f.name AS feature, round(c.coef::numeric, 3) AS weight
FROM csm.churn_model m,
     jsonb_array_elements_text(m.model->'feature_names') WITH ORDINALITY f(name, i)
     JOIN jsonb_array_elements_text(m.model->'coefficients') WITH ORDINALITY c(coef, j) ON j = i
WHERE m.active
ORDER BY abs(c.coef::float8) DESC
LIMIT 8;
SQL
section "Churn risk by band (csm.refresh_churn, csm.churn_risk)" <<'SQL'
SELECT csm.refresh_churn() AS accounts_scored;
SELECT r.band, count(*) AS accounts, to_char(sum(r.arr), 'FM$999,999,999') AS arr,
       round(avg(r.probability)::numeric, 3) AS avg_probability
FROM csm.churn_risk r
GROUP BY r.band ORDER BY r.band DESC;
SQL
section "The riskiest accounts, and why (csm.churn_risk)" <<'SQL'
SELECT r.external_id, r.segment, to_char(r.arr, 'FM$999,999,999') AS arr, r.band,
       round(r.risk_score::numeric, 1) AS risk, r.renewal_date, r.open_signals, array_to_string(r.drivers, ', ') AS drivers
FROM csm.churn_risk r
ORDER BY r.probability DESC, r.arr DESC, r.external_id
LIMIT 10;
SQL
section "analyze_churn_risk() for the riskiest account above 20,000 ARR (the seed's contract, as an agent sees it)" <<'SQL'
SELECT jsonb_pretty(csm.analyze_churn_risk(r.external_id) - 'computed_at') AS analyze_churn_risk
FROM csm.churn_risk r WHERE r.arr >= 20000
ORDER BY r.probability DESC, r.arr DESC, r.external_id
LIMIT 1;
SQL

# Segments: placed by csm.segment_rule (the seed's ranges, then ARR when ARR
# and seats disagree), strategic by hand; each with its CSM ratio.
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_segments()'
section "Segments: the CSM ratios and how accounts were placed (csm.segment, csm.segment_rule, csm.account.segment_manual)" <<'SQL'
SELECT s.name AS segment, '1:' || s.csm_ratio AS csm_ratio, s.touch_model,
       m.months || CASE WHEN m.months = 1 THEN ' month' ELSE ' months' END AS review_every,
       count(a.account_id) FILTER (WHERE a.status = 'active') AS active,
       count(a.account_id) FILTER (WHERE a.status = 'active' AND a.segment_manual) AS by_hand,
       to_char(coalesce(sum(a.arr) FILTER (WHERE a.status = 'active'), 0), 'FM$999,999,999') AS arr,
       round(count(a.account_id) FILTER (WHERE a.status = 'active') / s.csm_ratio, 1) AS csms_needed
FROM csm.segment s
CROSS JOIN LATERAL (SELECT (extract(year FROM s.review_cadence) * 12 + extract(month FROM s.review_cadence))::integer AS months) m
LEFT JOIN csm.account a ON a.segment = s.name
GROUP BY s.name, s.csm_ratio, s.touch_model, m.months ORDER BY s.csm_ratio;
SELECT coalesce(r.priority::text, 'by hand') AS rule, coalesce(r.condition::text, '(set with csm.set_segment)') AS condition,
       a.segment, count(*) AS accounts
FROM csm.account a LEFT JOIN csm.segment_rule r ON r.rule_id = a.segment_rule_id
WHERE a.status = 'active'
GROUP BY r.priority, r.condition::text, a.segment ORDER BY r.priority NULLS FIRST, a.segment;
SQL

# Ownership: routing rules by segment, and a retention specialist beside
# the primary for large accounts in the red band; every active account is
# routed once (csm.assign_queued() routes the accounts without a primary).
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" <<'SQL' >/dev/null
INSERT INTO csm.routing_rule (name, priority, condition, target_kind, target, strategy, is_primary, min_tenure) VALUES
    ('at risk: retention', 5, 'health_band = ''red'' AND arr >= 20000', 'team', 'retention', 'least_loaded', false, '0'),
    ('churn risk: retention', 6, 'churn_risk_score >= 70 AND arr >= 20000', 'team', 'retention', 'least_loaded', false, '0'),
    ('strategic', 10, 'segment = ''strategic''', 'team', 'strategic', 'least_loaded', true, '90 days'),
    ('enterprise', 20, 'segment = ''enterprise''', 'team', 'enterprise', 'least_loaded', true, '90 days'),
    ('mid-market', 30, 'segment = ''mid_market''', 'team', 'mid_market', 'least_loaded', true, '30 days'),
    ('smb', 40, 'segment = ''smb''', 'team', 'smb', 'round_robin', true, '0');
SELECT csm.assign_queued();
SQL

section "Ownership: book per CSM (csm.assignment_workload; load in units, a full seed-sized book is 100; no capacity = one book by the ratios)" <<'SQL'
SELECT w.handle, array_to_string(w.teams, ',') AS teams, w.primaries, w.secondaries,
       to_char(w.primary_arr, 'FM$999,999,999') AS primary_arr, round(w.load::numeric, 1) AS load,
       w.effective_capacity || CASE WHEN w.capacity_from_ratio THEN ' (ratio)' ELSE '' END AS capacity,
       to_char(100 * w.utilisation, 'FM990') || '%' AS utilisation
FROM csm.assignment_workload w
WHERE w.accounts > 0
ORDER BY array_position(ARRAY['strategic', 'enterprise', 'mid_market', 'smb', 'retention'], w.teams[1]), w.handle;
SQL

section "Ownership: waiting for an owner (csm.unassigned_queue) and the latest audit rows (csm.assignment_log)" <<'SQL'
SELECT coalesce(kind, 'never routed') AS why, segment, count(*) AS accounts, min(waiting_since)::date AS oldest,
       min(message) AS reason
FROM csm.unassigned_queue GROUP BY 1, 2 ORDER BY 3 DESC;
SELECT c.segment, '1:' || c.csm_ratio AS csm_ratio, c.accounts, c.with_primary, c.without_primary, c.csms_needed
FROM csm.segment_coverage c ORDER BY c.csm_ratio;
SELECT a.external_id, l.action, CASE WHEN l.is_primary THEN 'primary' ELSE 'secondary' END AS relationship,
       n.handle AS new_owner, l.reason
FROM csm.assignment_log l
JOIN csm.account a USING (account_id)
LEFT JOIN csm.team_member n ON n.member_id = l.new_member_id
ORDER BY l.log_id DESC LIMIT 6;
SQL

# Lifecycle: milestones for the onboarding cohort, then every stage.
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_lifecycle()'

section "Lifecycle: accounts and ARR by stage (csm.refresh_lifecycle, csm.account.lifecycle_stage)" <<'SQL'
SELECT coalesce(a.lifecycle_stage::text, 'total') AS stage,
       count(*) AS accounts,
       to_char(sum(a.arr), 'FM$999,999,999') AS arr,
       to_char(100.0 * count(*) / sum(count(*)) OVER () * 2, 'FM990.0') || '%' AS share,
       count(*) FILTER (WHERE l.manual) AS set_by_hand,
       coalesce(string_agg(DISTINCT l.rule, ', ') FILTER (WHERE l.rule IS NOT NULL), '') AS by_rules
FROM csm.account a JOIN csm.account_lifecycle l USING (account_id)
GROUP BY ROLLUP (a.lifecycle_stage)
ORDER BY a.lifecycle_stage NULLS LAST;
SQL

section "Onboarding cohort against the seed's success criteria (csm.onboarding_status; the demo generates at most 6 users per account, so activation counts those against all seats)" <<'SQL'
SELECT coalesce(o.phase::text, 'all') AS phase,
       count(*) AS accounts,
       round(avg(o.days_since_start)) AS avg_day,
       round(avg(cardinality(o.milestones_done)), 1) AS milestones_done,
       round(avg(cardinality(o.milestones_overdue)), 1) AS overdue,
       coalesce(to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY o.ttv_days), 'FM990.0') || ' d', '-') AS median_ttv,
       to_char(100.0 * avg(o.ttv_met::integer), 'FM990') || '%' AS "ttfv<30d",
       to_char(100.0 * avg(o.activation_met::integer), 'FM990') || '%' AS "activation>=80%",
       to_char(100.0 * avg(o.adoption_met::integer), 'FM990') || '%' AS "adoption>60%",
       to_char(100.0 * avg(o.nps_met::integer), 'FM990') || '%' AS "nps>40",
       to_char(100.0 * avg(o.win_met::integer), 'FM990') || '%' AS win,
       round(avg(o.criteria_met), 1) AS "criteria (of 5)"
FROM csm.onboarding_status o
GROUP BY ROLLUP (o.phase)
ORDER BY o.phase NULLS LAST;
SELECT o.external_id, o.phase, o.days_since_start AS day, o.ttv_days AS ttv_days,
       to_char(100 * o.activation_rate, 'FM990') || '%' AS activation,
       to_char(100 * o.feature_adoption, 'FM990') || '%' AS adoption, o.nps, o.criteria_met AS criteria,
       array_to_string(o.milestones_due, ', ') AS due_now
FROM csm.onboarding_status o
ORDER BY o.criteria_met DESC, o.days_since_start DESC, o.external_id
LIMIT 8;
SQL

section "Lifecycle: the latest moves (csm.lifecycle_history)" <<'SQL'
SELECT h.stage || coalesce('/' || h.phase, '') AS entered, count(*) AS accounts,
       left(min(h.reason), 70) AS reason
FROM csm.lifecycle_history h
WHERE h.left_at IS NULL
GROUP BY 1 ORDER BY 2 DESC;
SQL

# Revenue: 24 months of ARR history from the demo's billing, loaded through
# csm.load_arr_history (test/data/portfolio.sql, csm_demo.load_revenue).
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_revenue()'

section "Revenue: ARR month by month, last 12 months (csm.revenue_monthly, all segments; trailing-12-month GRR and NRR)" <<'SQL'
SELECT to_char(m.month, 'YYYY-MM') AS month,
       to_char(m.ending_arr, 'FM$999,999,999') AS ending_arr,
       to_char(m.new_arr, 'FM$99,999,999') AS new,
       to_char(m.expansion_arr, 'FM$99,999,999') AS expansion,
       CASE WHEN m.contraction_arr > 0 THEN '-' ELSE '' END || to_char(m.contraction_arr, 'FM$99,999,999') AS contraction,
       CASE WHEN m.churned_arr > 0 THEN '-' ELSE '' END || to_char(m.churned_arr, 'FM$99,999,999') AS churned,
       to_char(m.reactivation_arr, 'FM$99,999,999') AS reactivated,
       m.customers,
       to_char(100 * m.grr_12m, 'FM990.0"%"') AS grr_12m,
       to_char(100 * m.nrr_12m, 'FM990.0"%"') AS nrr_12m
FROM csm.revenue_monthly m
WHERE m.segment IS NULL
  AND m.month > date_trunc('month', (now() AT TIME ZONE 'UTC')::date) - interval '12 months'
ORDER BY m.month;
SQL

section "Revenue: ending ARR over 24 months, per segment (csm.revenue_monthly)" <<'SQL'
WITH m AS (
    SELECT coalesce(r.segment, 'total') AS segment, r.month, r.ending_arr
    FROM csm.revenue_monthly r
    WHERE r.month > date_trunc('month', (now() AT TIME ZONE 'UTC')::date) - interval '24 months'
)
SELECT m.segment,
       to_char((array_agg(m.ending_arr ORDER BY m.month))[1], 'FM$999,999,999') AS "24 months ago",
       string_agg(substr('▁▂▃▄▅▆▇█', 1 + coalesce(floor(7.99 * (m.ending_arr - b.lo) / nullif(b.hi - b.lo, 0))::integer, 0), 1),
                  '' ORDER BY m.month) AS trend,
       to_char((array_agg(m.ending_arr ORDER BY m.month DESC))[1], 'FM$999,999,999') AS now
FROM m JOIN (SELECT segment, min(ending_arr) AS lo, max(ending_arr) AS hi FROM m GROUP BY segment) b USING (segment)
GROUP BY m.segment
ORDER BY m.segment = 'total', array_position(ARRAY['strategic', 'enterprise', 'mid_market', 'smb'], m.segment);
SQL

section "Revenue: GRR and NRR over the last 12 full months per segment, against the seed's targets (GRR > 95%, NRR > 110%; csm.revenue_retention)" <<'SQL'
WITH p AS (
    SELECT (date_trunc('month', (now() AT TIME ZONE 'UTC')::date) - interval '12 months')::date AS first_day,
           (date_trunc('month', (now() AT TIME ZONE 'UTC')::date) - interval '1 day')::date AS last_day
), s AS (
    SELECT DISTINCT a.segment FROM csm.account a WHERE a.segment IS NOT NULL
    UNION ALL SELECT NULL
)
SELECT coalesce(s.segment, 'total') AS segment,
       to_char(r.starting_arr, 'FM$999,999,999') AS starting_arr,
       to_char(r.expansion_arr, 'FM$99,999,999') AS expansion,
       CASE WHEN r.contraction_arr > 0 THEN '-' ELSE '' END || to_char(r.contraction_arr, 'FM$99,999,999') AS contraction,
       CASE WHEN r.churned_arr > 0 THEN '-' ELSE '' END || to_char(r.churned_arr, 'FM$99,999,999') AS churned,
       to_char(100 * r.grr, 'FM990.0"%"') || CASE WHEN r.grr > 0.95 THEN ' ok' ELSE ' below' END AS "GRR vs 95%",
       to_char(100 * r.nrr, 'FM990.0"%"') || CASE WHEN r.nrr > 1.10 THEN ' ok' ELSE ' below' END AS "NRR vs 110%",
       to_char(100 * r.logo_churn_rate, 'FM990.0"%"') AS logo_churn,
       to_char(r.new_arr, 'FM$99,999,999') AS "new ARR (apart)",
       to_char(r.reactivation_arr, 'FM$99,999,999') AS reactivated,
       coalesce(to_char(m.ltv, 'FM$999,999,999'), 'n/a (no churn)') AS ltv
FROM s CROSS JOIN p
CROSS JOIN LATERAL csm.revenue_retention(p.first_day, p.last_day, s.segment) r
LEFT JOIN csm.revenue_monthly m ON m.month = date_trunc('month', p.last_day)::date AND m.segment IS NOT DISTINCT FROM s.segment
ORDER BY s.segment IS NULL, array_position(ARRAY['strategic', 'enterprise', 'mid_market', 'smb'], s.segment);
SQL

# Renewals: the last 12 months' renewals, closed, and today's opened 90 days
# out (test/data/portfolio.sql, csm_demo.load_renewals; csm.refresh_renewals).
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_renewals()'

section "Renewals: the pipeline, next 90 and 180 days (csm.renewal_pipeline; expected ARR = ARR x (1 - churn probability))" <<'SQL'
SELECT CASE WHEN p.days_out < 0 THEN 'overdue' WHEN p.horizon_days = 90 THEN 'next 90 days' ELSE '91-180 days' END AS due,
       p.stage, count(*) AS renewals,
       to_char(sum(p.arr), 'FM$999,999,999') AS arr,
       to_char(sum(p.forecast_arr), 'FM$999,999,999') AS expected_arr,
       to_char(100 * sum(p.forecast_arr) / nullif(sum(p.arr) FILTER (WHERE p.forecast_arr IS NOT NULL), 0), 'FM990.0"%"') AS expected,
       count(*) FILTER (WHERE p.churn_band IN ('high', 'critical')) AS high_risk,
       count(*) FILTER (WHERE p.health_band = 'red') AS red_health,
       min(p.churn_model) AS churn_model
FROM csm.renewal_pipeline p
GROUP BY 1, 2
ORDER BY min(p.days_out), p.stage;
SQL

section "Renewals most at risk in the next 90 days: the largest expected losses (ARR - expected ARR)" <<'SQL'
SELECT p.external_id, p.segment, p.days_out || ' d' AS due_in, p.stage, p.health_band AS health, p.churn_band AS churn,
       to_char(100 * p.churn_probability, 'FM990"%"') AS p_churn,
       to_char(p.arr, 'FM$999,999') AS arr, to_char(p.forecast_arr, 'FM$999,999') AS expected,
       to_char(p.arr - p.forecast_arr, 'FM$999,999') AS at_risk
FROM csm.renewal_pipeline p
WHERE p.horizon_days = 90 AND p.forecast_arr IS NOT NULL
ORDER BY p.arr - p.forecast_arr DESC, p.external_id
LIMIT 8;
SQL

section "Renewals: reminders raised today (csm.renewal_reminder; NOTIFY csm_renewal_reminder announced each)" <<'SQL'
SELECT rr.days_out || ' days' AS reminder, count(*) AS renewals, to_char(sum(a.arr), 'FM$999,999,999') AS arr
FROM csm.renewal_reminder rr JOIN csm.account a USING (account_id)
GROUP BY rr.days_out ORDER BY rr.days_out DESC;
SQL

section "Renewals closed in the last 12 months, against the seed's targets (csm.renewal_metrics: cycle time < 45 days, expansion > 25% of renewals)" <<'SQL'
SELECT coalesce(s.segment, 'all') AS segment, m.renewals, m.renewed, m.upsell, m.downsell, m.churned,
       to_char(m.target_arr, 'FM$999,999,999') AS up_for_renewal, to_char(m.final_arr, 'FM$999,999,999') AS renewed_at,
       m.renewal_cycle_time || ' d' || CASE WHEN m.renewal_cycle_time < 45 THEN ' ok' ELSE ' over' END AS cycle_time,
       to_char(100 * m.expansion_share, 'FM990.0"%"') || CASE WHEN m.expansion_share > 0.25 THEN ' ok' ELSE ' under' END AS expansion_by_count,
       to_char(100 * m.expansion_share_arr, 'FM990.0"%"') || CASE WHEN m.expansion_share_arr > 0.25 THEN ' ok' ELSE ' under' END AS expansion_by_arr
FROM (VALUES (NULL::text, 0), ('strategic', 1), ('enterprise', 2), ('mid_market', 3), ('smb', 4)) AS s(segment, o)
CROSS JOIN LATERAL csm.renewal_metrics((now() AT TIME ZONE 'UTC')::date - 364, (now() AT TIME ZONE 'UTC')::date, s.segment) m
ORDER BY s.o;
SQL

# The NPS program: transactional and milestone answers beside the
# relationship surveys, and every follow-up worked as a team would.
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_nps()' >/dev/null

section "NPS: the last 90 days against the 90 before (csm.nps_summary; NPS = % promoters - % detractors)" <<'SQL'
SELECT coalesce(g.segment, 'all') AS segment, s.responses AS answers,
       s.promoter_pct || '%' AS promoters, s.passive_pct || '%' AS passives, s.detractor_pct || '%' AS detractors,
       s.nps, s.previous_nps AS nps_before,
       CASE WHEN s.nps_change > 0 THEN '+' ELSE '' END || s.nps_change AS change,
       s.response_rate || '%' AS response_rate
FROM (VALUES (0, NULL), (1, 'strategic'), (2, 'enterprise'), (3, 'mid_market'), (4, 'smb')) AS g(o, segment)
CROSS JOIN LATERAL csm.nps_summary((now() AT TIME ZONE 'UTC')::date - 89, (now() AT TIME ZONE 'UTC')::date, g.segment) s
WHERE g.segment IS NULL OR EXISTS (SELECT FROM csm.account a WHERE a.segment = g.segment)
ORDER BY g.o;
SELECT k.kind AS survey_kind, s.responses AS answers, s.nps
FROM unnest(ARRAY['relationship', 'transactional', 'milestone']) AS k(kind)
CROSS JOIN LATERAL csm.nps_summary((now() AT TIME ZONE 'UTC')::date - 89, (now() AT TIME ZONE 'UTC')::date, survey_kind => k.kind) s;
SQL

section "NPS trend by month (csm.nps_monthly; the sparkline is the 3-month NPS, -100 to 100)" <<'SQL'
SELECT coalesce(m.segment, 'all') AS segment,
       to_char(min(m.month), 'Mon YYYY') || ' - ' || to_char(max(m.month), 'Mon YYYY') AS months,
       csm.sparkline(array_agg(m.nps_3m::float8 ORDER BY m.month), -100, 100) AS nps_3m_trend,
       string_agg(coalesce(round(m.nps)::text, '-'), ' ' ORDER BY m.month) AS monthly_nps,
       (array_agg(m.nps_3m ORDER BY m.month DESC))[1] AS nps_3m_now,
       sum(m.responses) AS answers
FROM csm.nps_monthly m
WHERE m.month > (now() AT TIME ZONE 'UTC')::date - 183
GROUP BY m.all_segments, m.segment
ORDER BY m.all_segments DESC, array_position(ARRAY['strategic', 'enterprise', 'mid_market', 'smb'], m.segment);
SQL

section "NPS closed loop, last 30 days: notify within 24 h, follow up within 48 h (csm.nps_followup)" <<'SQL'
SELECT f.category, count(*) AS answers,
       count(*) FILTER (WHERE f.state = 'resolved') AS resolved,
       count(*) FILTER (WHERE f.state = 'escalated') AS escalated,
       count(*) FILTER (WHERE f.state IN ('open', 'notified', 'followed_up')) AS in_progress,
       round(100.0 * count(*) FILTER (WHERE NOT f.notify_breached) / count(*), 1) || '%' AS told_in_24h,
       round(100.0 * count(*) FILTER (WHERE NOT f.followup_breached) / count(*), 1) || '%' AS called_in_48h,
       round(avg(extract(epoch FROM f.followed_up_at - f.opened_at) / 3600)::numeric, 1) || ' h' AS avg_time_to_call
FROM csm.nps_followup f
WHERE f.opened_at > now() - interval '30 days'
GROUP BY f.category
ORDER BY array_position(ARRAY['detractor', 'passive', 'promoter'], f.category);
SELECT f.external_id, f.account_name, f.score, f.state,
       CASE WHEN f.next_due_at < now() THEN 'late by ' ELSE 'due in ' END
           || round(abs(extract(epoch FROM f.next_due_at - now())) / 3600)::text || ' h' AS deadline,
       f.action, left(f.comment, 40) AS comment
FROM csm.nps_followup f
WHERE f.state IN ('open', 'notified') AND f.category = 'detractor'
ORDER BY f.next_due_at, f.external_id
LIMIT 8;
SQL

# Expansion: what billing knows (seats in use, usage caps), then the
# signals, the candidates by expected ARR, and the seed's contract.
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_expansion()'
section "Expansion signals open now, by kind (csm.refresh_expansion, csm.expansion_signal_current)" <<'SQL'
SELECT c.label AS signal, count(*) AS accounts, to_char(sum(a.arr), 'FM$999,999,999') AS arr,
       to_char(100 * k.likelihood, 'FM90') || '%' AS likelihood, left(k.play, 60) || '...' AS play
FROM csm.expansion_signal_current c
JOIN csm.account a ON a.account_id = c.account_id
JOIN csm.expansion_signal_config k ON k.signal = c.signal
GROUP BY c.label, k.likelihood, k.play
ORDER BY k.likelihood DESC, accounts DESC;
SQL
section "Expansion candidates: the ten with the most expected ARR (csm.expansion_candidate; expected = 20% upsell x likelihood)" <<'SQL'
SELECT c.external_id, c.name, c.segment, to_char(c.arr, 'FM$999,999,999') AS arr,
       array_to_string(c.signals, ', ') AS signals, to_char(100 * c.likelihood, 'FM990') || '%' AS likelihood,
       to_char(c.upside_arr, 'FM$999,999,999') AS upside, to_char(c.expected_arr, 'FM$999,999,999') AS expected,
       c.renewal_date - current_date AS renewal_in_days
FROM csm.expansion_candidate c
ORDER BY c.expected_arr DESC, c.external_id
LIMIT 10;
SQL
section "Expansion pipeline by segment (csm.expansion_candidate)" <<'SQL'
SELECT coalesce(c.segment, 'total') AS segment, count(*) AS candidates, to_char(sum(c.upside_arr), 'FM$999,999,999') AS upside,
       to_char(sum(c.expected_arr), 'FM$999,999,999') AS expected,
       to_char(100 * sum(c.expected_arr) / nullif(sum(c.arr), 0), 'FM990.0') || '%' AS expected_of_their_arr
FROM csm.expansion_candidate c
GROUP BY ROLLUP (c.segment)
ORDER BY c.segment NULLS LAST;
SQL
section "identify_expansion() for the top candidate, with the customer's growth plans (the seed's contract, as an agent sees it)" <<'SQL'
SELECT jsonb_pretty(csm.identify_expansion(c.external_id, growth_plans => '{"headcount_growth": 0.25}') - 'computed_at') AS identify_expansion
FROM csm.expansion_candidate c
ORDER BY c.expected_arr DESC, c.external_id
LIMIT 1;
SQL

# Playbooks: fired by the refreshes above and csm.run_playbooks()
# (test/data/portfolio.sql, csm_demo.load_playbooks).
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_playbooks()'
section "Playbooks: open CTAs by playbook, and the ARR they cover (csm.cta)" <<'SQL'
SELECT c.playbook, p.trigger_kind || coalesce(' ' || array_to_string(p.trigger_values, '/'), '') AS fires_on,
       count(*) AS open_ctas, count(*) FILTER (WHERE c.status = 'in_progress') AS in_progress,
       count(*) FILTER (WHERE c.owner IS NULL) AS no_owner,
       to_char(sum(a.arr), 'FM$99,999,999') AS arr
FROM csm.cta c JOIN csm.playbook p ON p.name = c.playbook JOIN csm.account a USING (account_id)
WHERE c.status IN ('open', 'in_progress')
GROUP BY c.playbook, p.playbook_id, p.trigger_kind, p.trigger_values ORDER BY p.playbook_id;
SQL

section "The most urgent open CTAs, with the facts that fired them (csm.cta.evidence)" <<'SQL'
SELECT a.external_id, to_char(a.arr, 'FM$99,999,999') AS arr, c.playbook, c.priority, coalesce(c.owner, '(queue)') AS owner,
       c.evidence ->> 'value' AS fired_by,
       left(coalesce(c.evidence -> 'event' ->> 'health_score', c.evidence -> 'event' ->> 'churn_risk_score',
                     c.evidence -> 'event' ->> 'evidence', ((c.evidence -> 'event') - 'computed_at'::text)::text), 60) AS evidence
FROM csm.cta c JOIN csm.account a USING (account_id)
WHERE c.status IN ('open', 'in_progress')
ORDER BY array_position(ARRAY['urgent', 'high', 'medium', 'low'], c.priority), a.arr DESC NULLS LAST, a.external_id
LIMIT 12;
SQL

section "Tasks due this week per CSM (csm.task; overdue = open past due)" <<'SQL'
SELECT coalesce(k.assignee, 'queue: ' || k.team) AS csm,
       count(*) FILTER (WHERE k.due_at < now()) AS overdue,
       count(*) FILTER (WHERE k.due_at >= now() AND k.due_at < now() + interval '7 days') AS due_this_week,
       count(*) FILTER (WHERE k.kind = 'call' AND k.due_at < now() + interval '7 days') AS calls,
       count(DISTINCT c.playbook) AS playbooks
FROM csm.task k JOIN csm.cta c USING (account_id, cta_id)
WHERE k.status = 'open' AND k.due_at < now() + interval '7 days'
GROUP BY 1 ORDER BY 3 DESC, 2 DESC, 1 LIMIT 15;
SQL

section "Playbook adherence and response time (csm.playbook_adherence, csm.cta_response_time)" <<'SQL'
SELECT r.playbook, r.ctas, r.acted_on, r.waiting, r.median_response_hours || ' h' AS median_response,
       coalesce(d.adherence_pct || ' %', 'n/a') AS adherence
FROM csm.cta_response_time r LEFT JOIN csm.playbook_adherence d USING (playbook)
ORDER BY r.ctas DESC, r.playbook;
SQL

# Seed 002's health report: assess_health() for the least healthy account
# above 20,000 ARR, over the last 70 days (the rebuilt weekly history).
section "assess_health() for the least healthy account above 20,000 ARR, last 70 days (the seed's health_report)" <<'SQL'
WITH a AS (
    SELECT csm.assess_health(h.external_id, daterange(current_date - 70, current_date, '[]')) AS r
    FROM csm.account_health h JOIN csm.account ac USING (account_id)
    WHERE ac.status = 'active' AND h.arr > 20000 AND h.score IS NOT NULL
    ORDER BY h.score, h.external_id LIMIT 1)
SELECT r->>'customer_id' AS account, r->>'segment' AS segment, r->>'health_score' AS health, r->>'band' AS band,
       r #>> '{trends,summary,sparkline}' AS trend_70d,
       to_char((r #>> '{trends,summary,change}')::numeric, 'FMSG990.0') || ' pts' AS change,
       r #>> '{benchmark,average_score}' AS segment_avg,
       to_char(100 * (r #>> '{benchmark,share_below}')::numeric, 'FM990') || '%' AS segment_below_it
FROM a;
SQL
section "assess_health(): its risk factors (points lost of 100) and recommendations (the band's action, the playbooks that would fire)" <<'SQL'
WITH a AS (
    SELECT csm.assess_health(h.external_id, daterange(current_date - 70, current_date, '[]')) AS r
    FROM csm.account_health h JOIN csm.account ac USING (account_id)
    WHERE ac.status = 'active' AND h.arr > 20000 AND h.score IS NOT NULL
    ORDER BY h.score, h.external_id LIMIT 1)
SELECT 'risk' AS kind, coalesce(f->>'label', f->>'signal') AS what,
       coalesce(f->>'points_lost' || ' pts lost (value ' || round((f->>'value')::numeric, 2) || ', ' || (f->>'zone') || ')',
                (f->>'strength') || ' churn signal') AS detail
FROM a, jsonb_array_elements(r->'risk_factors') f
UNION ALL
SELECT 'do', coalesce(x->>'playbook', x->>'action'),
       coalesce('playbook, ' || (x->>'priority') || ' priority, first step: ' || (x #>> '{steps,0,title}')
                || CASE WHEN (x->>'open_cta')::boolean THEN ' (CTA open)' ELSE '' END,
                x->>'cadence')
FROM a, jsonb_array_elements(r->'recommendations') x;
SQL

psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_success_plan()' >/dev/null
section "Success plan for the largest strategic/enterprise account (csm.create_success_plan; current values read live, progress = (current - baseline) / (target - baseline))" <<'SQL'
SELECT p ->> 'customer_id' AS customer, p #>> '{timeline,start}' AS starts, p #>> '{timeline,end}' AS ends,
       round(100 * (p #>> '{timeline,elapsed}')::numeric) || '%' AS elapsed,
       (p #>> '{progress,objectives_achieved}') || '/' || (p #>> '{progress,objectives}') AS objectives_achieved,
       (p #>> '{progress,milestones_achieved}') || '/' || (p #>> '{progress,milestones}') AS milestones_achieved
FROM csm.success_plan_report(csm_demo.plan_account()) AS p;
SELECT o.position AS "#", o.objective, o.metric, round(o.baseline, 2) AS baseline, o.target,
       round(o.current_value, 2) AS current,
       CASE WHEN o.progress IS NOT NULL
            THEN rpad(repeat('█', round(o.progress * 10)::integer), 10, '░') || lpad(round(100 * o.progress) || '%', 5) END AS progress,
       o.due_date AS due, o.status
FROM csm.success_plan_report(csm_demo.plan_account()) AS p,
     jsonb_to_recordset(p -> 'objectives') AS o(position integer, objective text, metric text, baseline numeric, target numeric,
                                               current_value numeric, progress numeric, due_date date, status text)
ORDER BY o.position;
SELECT m.name AS milestone, m.due_date AS due, m.status, m.overdue, m.milestone AS lifecycle_milestone
FROM csm.success_plan_report(csm_demo.plan_account()) AS p,
     jsonb_to_recordset(p -> 'milestones') AS m(name text, due_date date, status text, overdue boolean, milestone text);
SELECT s.name AS stakeholder, s.role, s.side, s.executive_sponsor AS sponsor
FROM csm.success_plan_report(csm_demo.plan_account()) AS p,
     jsonb_to_recordset(p -> 'stakeholders') AS s(name text, role text, side text, executive_sponsor boolean);
SQL

section "Business reviews due (csm.business_review_due: monthly while at risk, the segment's cadence when healthy, quarterly EBRs for strategic and enterprise)" <<'SQL'
SELECT d.kind, d.status, count(*) AS accounts, to_char(sum(a.arr), 'FM$999,999,999') AS arr,
       count(*) FILTER (WHERE d.last_held_at IS NULL) AS never_reviewed
FROM csm.business_review_due d JOIN csm.account a USING (account_id)
GROUP BY d.kind, d.status ORDER BY d.kind DESC, d.status DESC;
SELECT d.external_id, d.name, d.segment, d.band, d.kind, d.cadence, d.last_held_at::date AS last_held, d.due_on,
       -d.days_until_due AS days_overdue, to_char(a.arr, 'FM$999,999,999') AS arr
FROM csm.business_review_due d JOIN csm.account a USING (account_id)
WHERE d.status = 'overdue' AND d.kind = 'ebr'
ORDER BY a.arr DESC, d.external_id LIMIT 10;
SQL

section "Business review for the same account, the last 90 days (csm.business_review: the deck as data; the demo simulates at most 6 users per account, so usage and value are understated)" <<'SQL'
WITH r AS (
    SELECT csm.business_review(csm_demo.plan_account(), (now() AT TIME ZONE 'UTC')::date - 90,
                               (now() AT TIME ZONE 'UTC')::date - 1) AS d)
SELECT v.part, v.item, v.value FROM r, LATERAL (VALUES
    (1, 'period', 'days', (d #>> '{period,start}') || ' to ' || (d #>> '{period,end}') || ' (' || (d #>> '{period,days}') || ' days)'),
    (2, 'usage_stats', 'events', to_char((d #>> '{usage_stats,events}')::numeric, 'FM999,999,999') || ' (' ||
        coalesce(to_char((d #>> '{usage_stats,change_pct}')::numeric, 'FMSG990.0') || '% on the 90 days before', 'no usage before') || ')'),
    (3, 'usage_stats', 'weekly events', d #>> '{usage_stats,weekly_sparkline}'),
    (4, 'usage_stats', 'daily active users', (d #>> '{usage_stats,avg_daily_active_users}') || ' average, ' ||
        (d #>> '{usage_stats,peak_daily_active_users}') || ' peak'),
    (5, 'adoption', 'features used', (d #>> '{adoption,features_used}') || ' (top: ' ||
        (SELECT string_agg(f ->> 'feature', ', ') FROM (SELECT f FROM jsonb_array_elements(d #> '{adoption,features}') f LIMIT 3) x) || ')'),
    (6, 'adoption', 'seat utilization', round(100 * (d #>> '{adoption,seat_utilization}')::numeric, 1) || '% of ' || (d #>> '{adoption,seats}') || ' seats'),
    (7, 'health', 'score and trend', (d #>> '{health,score}')::numeric(5,1) || ' ' || (d #>> '{health,band}') || ', ' ||
        coalesce(d #>> '{health,trend}', '-') || ' (' || coalesce(to_char((d #>> '{health,change}')::numeric, 'FMSG990.0'), '-') || ' over the period)'),
    (8, 'health', 'daily scores', d #>> '{health,sparkline}'),
    (9, 'outcomes', 'milestones reached', coalesce((SELECT string_agg(m ->> 'label', ', ') FROM jsonb_array_elements(d #> '{outcomes,milestones_achieved}') m), 'none')),
    (10, 'outcomes', 'success plan', coalesce((d #>> '{outcomes,success_plan,progress,objectives_achieved}') || '/' ||
        (d #>> '{outcomes,success_plan,progress,objectives}') || ' objectives achieved', 'none')),
    (11, 'roi', 'value against cost', CASE WHEN (d #>> '{roi,configured}')::boolean
        THEN to_char((d #>> '{roi,value}')::numeric, 'FM$999,999,990') || ' of value for ' || to_char((d #>> '{roi,cost}')::numeric, 'FM$999,999,990') ||
             ' of subscription: ROI ' || round(100 * (d #>> '{roi,roi}')::numeric) || '%'
        ELSE d #>> '{roi,note}' END),
    (12, 'roadmap', 'next', coalesce((SELECT string_agg(coalesce(u ->> 'milestone', u ->> 'objective') || ' (' || (u ->> 'due_date') || ')', '; ')
                                      FROM (SELECT u FROM jsonb_array_elements(d #> '{roadmap,upcoming}') u LIMIT 3) x), '-')
        || '; renewal ' || coalesce(d #>> '{roadmap,renewal_date}', '-')),
    (13, 'action_items', 'open tasks', jsonb_array_length(d -> 'action_items') || coalesce(': ' ||
        (SELECT string_agg(t ->> 'title', '; ') FROM (SELECT t FROM jsonb_array_elements(d -> 'action_items') t LIMIT 3) x), ''))
) AS v(n, part, item, value)
ORDER BY v.n;
SQL

# Alerts: a LISTEN session (a psql of its own) receives what the last step
# of the load raises; every refresh above raised its own alerts already.
listen_out=$(mktemp)
coproc DEMO_LISTENER { psql -X -q -d "$DB" >"$listen_out" 2>&1; }
# (bash unsets these when the coprocess exits)
listener_in=${DEMO_LISTENER[1]}
listener_pid=$DEMO_LISTENER_PID
echo "LISTEN csm_alert; SELECT 'listening';" >&"$listener_in"
for _ in $(seq 1 200); do grep -q listening "$listen_out" && break; sleep 0.05; done
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_alerts()'
psql -X -q -At -d "$DB" -c "SELECT pg_notify('csm_alert', '{\"demo\" : \"done\"}')" >/dev/null
for _ in $(seq 1 200); do grep -q '"demo" : "done"' "$listen_out" && break; echo "SELECT 1;" >&"$listener_in"; sleep 0.05; done
eval "exec $listener_in>&-"
wait "$listener_pid" 2>/dev/null || true

section "Alerts raised during the demo load, by kind (csm.alert_summary; outreach kinds are severity info)" <<'SQL'
SELECT s.kind, s.severity, s.alerts, s.open_unacknowledged AS open_unacked,
       coalesce(to_char(s.oldest_open_unacknowledged_at, 'Dy HH24:MI'), '-') AS oldest_open
FROM csm.alert_summary s
ORDER BY array_position(ARRAY['critical', 'warning', 'info'], s.severity), s.alerts DESC, s.kind;
SQL

section "The newest critical alerts, with the facts that raised them (csm.alert_open)" <<'SQL'
SELECT o.external_id, o.kind, o.subject, coalesce(o.owner, '(none)') AS owner,
       left(o.evidence::text, 90) AS evidence
FROM csm.alert_open o
WHERE o.severity = 'critical'
ORDER BY o.created_at DESC, o.alert_id DESC
LIMIT 8;
SQL

printf '\n== A LISTEN session on csm_alert during csm_demo.load_alerts(): %s notifications, one per alert (a step that raised more than 1000 sends one {"alerts", "created_at"} instead)\n' \
    "$(grep -c 'Asynchronous notification "csm_alert" with payload "{"ale' "$listen_out" || true)"
grep -o 'payload "{"ale.*' "$listen_out" | cut -c 1-150 | awk '/"alerts" :/ || n++ < 3' | sed 's/^/  /'
rm -f "$listen_out"

# Dashboards (issue 15): the five csm.dashboard_* views, long format; the
# reference dashboard (make dashboards) charts them.
section "Dashboards: seed 002's success criteria against their targets (csm.dashboard_executive)" <<'SQL'
SELECT e.description AS criterion,
       CASE e.unit WHEN '%' THEN to_char(e.value, 'FM990.0') || '%' WHEN 'days' THEN e.value || ' days'
                   ELSE e.value::text END AS value,
       e.comparator || ' ' || e.target || CASE e.unit WHEN '%' THEN '%' WHEN 'days' THEN ' days' ELSE '' END AS target,
       CASE WHEN e.met THEN 'met' ELSE 'NOT MET' END AS met
FROM csm.dashboard_executive e
ORDER BY e.position;
SQL
section "Dashboards: the portfolio per CSM, the five largest books (csm.dashboard_portfolio; at risk = health red or churn high/critical)" <<'SQL'
SELECT coalesce(p.csm_handle, '(no CSM)') AS csm,
       max(p.value) FILTER (WHERE p.metric = 'accounts') AS accounts,
       to_char(max(p.value) FILTER (WHERE p.metric = 'arr_managed'), 'FM$999,999,999') AS arr,
       max(p.value) FILTER (WHERE p.metric = 'avg_health_score') AS avg_health,
       max(p.value) FILTER (WHERE p.metric = 'at_risk_accounts') AS at_risk,
       to_char(max(p.value) FILTER (WHERE p.metric = 'renewal_arr_90d'), 'FM$999,999,999') AS renewing_90d,
       max(p.value) FILTER (WHERE p.metric = 'book_load') || ' / ' || max(p.value) FILTER (WHERE p.metric = 'book_capacity') AS load_of_capacity
FROM csm.dashboard_portfolio p
WHERE NOT p.all_csms AND p.all_segments
GROUP BY p.member_id, p.csm_handle
ORDER BY max(p.value) FILTER (WHERE p.metric = 'arr_managed') DESC NULLS LAST
LIMIT 6;
SQL
section "Dashboards: activity, the last six weeks (csm.dashboard_activity)" <<'SQL'
SELECT a.week,
       max(a.value) FILTER (WHERE a.metric = 'touchpoints') AS touchpoints,
       max(a.value) FILTER (WHERE a.metric = 'business_reviews_completed') AS business_reviews,
       max(a.value) FILTER (WHERE a.metric = 'expansion_opportunities_identified') AS expansion_found
FROM csm.dashboard_activity a
WHERE a.grain = 'week' AND a.week > (now() AT TIME ZONE 'UTC')::date - 42
GROUP BY a.week ORDER BY a.week;
SQL

# Support conversations: skills routing, a manual-only team, a silent
# agent's conversations handed over with their notes, each agent credited
# with their own part (test/data/portfolio.sql, csm_demo.load_support).
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load_support()' >/dev/null
section "Support queues by team (csm.conversation; support routes by skills, solutions is manual only)" <<'SQL'
SELECT c.team, s.strategy, CASE WHEN s.auto_assign THEN 'auto' ELSE 'manual' END AS assignment,
       count(*) FILTER (WHERE c.status <> 'resolved') AS open,
       count(*) FILTER (WHERE c.waiting_since IS NOT NULL) AS waiting,
       string_agg(DISTINCT c.assignment_reason, '; ') FILTER (WHERE c.waiting_since IS NOT NULL) AS why_waiting,
       count(*) FILTER (WHERE c.status = 'resolved') AS resolved
FROM csm.conversation c
JOIN csm.support_team s ON s.team = c.team
GROUP BY c.team, s.strategy, s.auto_assign
ORDER BY c.team;
SQL
section "Handoffs: conversations taken from a silent or away-from-team agent, with the context the next agent gets (csm.assignment_log.context)" <<'SQL'
SELECT l.conversation_id AS conv, l.action, o.handle AS from_agent, coalesce(n.handle, '(queue)') AS to_agent,
       left(l.reason, 50) AS reason,
       round(extract(epoch FROM l.at - (l.context->>'held_since')::timestamptz) / 60) || ' min' AS held,
       l.context->>'notes' AS notes, left(l.context->>'last_note', 34) AS last_note
FROM csm.assignment_log l
LEFT JOIN csm.team_member o ON o.member_id = l.old_member_id
LEFT JOIN csm.team_member n ON n.member_id = l.new_member_id
WHERE l.action IN ('reassign', 'requeue') AND l.conversation_id IS NOT NULL
ORDER BY l.log_id
LIMIT 10;
SQL
section "Support agents: each credited with their own part (csm.agent_performance)" <<'SQL'
SELECT p.handle, t.team_status AS status, array_to_string(m.skills, ',') AS skills, p.handled, p.open_now, p.resolved,
       p.first_responses, coalesce(to_char(p.avg_csat, 'FM9.00'), '-') AS avg_csat
FROM csm.agent_performance p
JOIN csm.team_member m ON m.member_id = p.member_id
CROSS JOIN LATERAL (SELECT m.status AS team_status) t
WHERE m.teams && ARRAY['support', 'solutions'] AND p.handled > 0
ORDER BY p.handled DESC, p.handle;
SQL
section "History to chart: the least healthy account, day by day (csm.health_daily, csm.churn_daily; time = midnight UTC of the day)" <<'SQL'
WITH worst AS (
    SELECT h.external_id FROM csm.health_daily h
    WHERE h.day = (SELECT max(hh.day) FROM csm.health_history hh)
    ORDER BY h.score, h.external_id LIMIT 1)
SELECT h.external_id, h.account_name,
       to_char(h."time" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' AS "time",
       round(h.score::numeric, 1) AS health, h.health_band,
       to_char(100 * c.probability, 'FM990.0') || '%' AS churn_probability, c.churn_band
FROM csm.health_daily h
JOIN worst w ON w.external_id = h.external_id
LEFT JOIN csm.churn_daily c ON c.external_id = h.external_id AND c.day = h.day
ORDER BY h."time" DESC
LIMIT 10;
SQL

section "Team" <<'SQL'
SELECT t.team,
       count(*) AS members,
       count(*) FILTER (WHERE m.status = 'online') AS online,
       sum(coalesce(m.capacity, 100)) AS capacity,
       string_agg(m.handle, ', ' ORDER BY m.handle) AS handles
FROM csm.team_member m, unnest(m.teams) AS t(team)
WHERE m.active
GROUP BY t.team
ORDER BY array_position(ARRAY['strategic', 'enterprise', 'mid_market', 'smb', 'retention', 'solutions', 'support'], t.team), t.team;
SQL

cat <<EOF

Loaded and summarised in $(( $(date +%s) - started )) s. The cluster runs while this script waits; connect with:
  ${PGPASSWORD:+PGPASSWORD=$PGPASSWORD }psql -h ${PGHOST:-localhost} -p ${PGPORT:-5432} -U ${PGUSER:-postgres} -d $DB
EOF
if [ -t 0 ]; then
    read -r -p "Press Enter to stop and clean up. " _
else
    echo "stdin is not a terminal: stopping now."
fi
