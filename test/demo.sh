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
