-- Seed 002's contracts on Citus: assess_health, analyze_churn_risk (both
-- forms) and identify_expansion's current_usage on a cluster where
-- csm.distribute() has run, with the answers of a single node.  The same
-- file passes on a single node (pg_prove against a database with csm and
-- pgtap), which is how the expected values below were checked.
-- Accounts 9821-9824; every date relative to today (UTC).  Rolled back.
BEGIN;
SELECT plan(22);
SET LOCAL timezone = 'UTC';
SET LOCAL client_min_messages = warning;

INSERT INTO csm.account (account_id, external_id, segment, arr, seats, started_at, renewal_date) VALUES
    (9821, 'cc_a', 'smb', 10000, 10, now() - interval '2 years', current_date + 45),
    (9822, 'cc_b', 'smb', 20000, 10, now() - interval '2 years', current_date + 200),
    (9823, 'cc_c', 'enterprise', 90000, 100, now() - interval '2 years', current_date + 300),
    (9824, 'cc_o', 'smb', 5000, 5, now() - interval '2 years', current_date + 300);
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
VALUES (9821, 'default', 1, 67, 'red', 1, '{dau_ratio,nps,tickets_per_month}', '{0.4,8.5,1}', '{40,90,100}', '{0.5,0.3,0.2}', now()),
       (9822, 'default', 1, 90, 'green', 1, '{dau_ratio}', '{0.9}', '{90}', '{1}', now()),
       (9823, 'default', 1, 50, 'red', 1, '{dau_ratio}', '{0.2}', '{50}', '{1}', now()),
       (9824, 'default', 1, 90, 'green', 1, '{dau_ratio}', '{0.9}', '{90}', '{1}', now());
INSERT INTO csm.health_override (account_id, score, reason) VALUES (9824, 50, 'sponsor left');
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT 9821, current_date - k, 'default', 1, least(70 + k, 100), csm.health_band(least(70 + k, 100)), 1, now() FROM generate_series(1, 40) k;
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
VALUES (9821, 'competitor_mentioned', now() - interval '2 days', now(), '{"notes": 1}');
INSERT INTO csm.churn_score (account_id, probability, band, risk_score, model, computed_at)
VALUES (9821, 0.3, 'moderate', 30, 'prior', now()), (9822, 0.1, 'low', 10, 'prior', now());
INSERT INTO csm.cta (account_id, playbook, priority) VALUES (9821, 'at_risk_intervention', 'high');

-- assess_health
CREATE TEMP TABLE ah ON COMMIT DROP AS
SELECT csm.assess_health('cc_a', daterange(current_date - 5, current_date, '[]')) AS r;
SELECT is((SELECT (r->>'health_score')::numeric FROM ah), 67.0, 'assess_health: health_score');
SELECT is((SELECT jsonb_path_query_array(r, '$.risk_factors[*].metric') FROM ah), '["dau_ratio", "nps"]'::jsonb,
          'assess_health: the components that cost points');
SELECT is((SELECT jsonb_path_query_array(r, '$.risk_factors[*].signal') FROM ah), '["competitor_mentioned"]'::jsonb,
          'assess_health: the open churn signals');
SELECT is((SELECT jsonb_path_query_array(r, '$.recommendations[*] ? (@.source == "playbook")') FROM ah) #>> '{0,playbook}',
          'at_risk_intervention', 'assess_health: the playbook that would fire');
SELECT is((SELECT jsonb_path_query_array(r, '$.recommendations[*] ? (@.source == "playbook")') FROM ah) #> '{0,open_cta}',
          'true'::jsonb, 'assess_health: its open CTA');
SELECT is((SELECT jsonb_path_query_array(r, '$.trends.daily[*].score') FROM ah), '[75.0, 74.0, 73.0, 72.0, 71.0]'::jsonb,
          'assess_health: the daily trend over time_period');
SELECT is((SELECT r->'benchmark' FROM ah),
          '{"segment": "smb", "accounts": 3, "average_score": 82.3, "share_red": 0.3333, "share_below": 0.0000, "difference": -15.3}'::jsonb,
          'assess_health: the benchmark over the segment''s accounts');
SELECT is(csm.assess_health('cc_a', '(,)', 'enterprise')->'benchmark'->>'difference', '17.0',
          'assess_health: segment picks the peers');
SELECT is(jsonb_path_query_array(csm.assess_health('cc_a', '(,)', metrics_focus => '{nps}'), '$.risk_factors[*].metric'),
          '["nps"]'::jsonb, 'assess_health: metrics_focus');
SELECT is(csm.assess_health('cc_o', '(,)')->>'health_score', '50.0', 'assess_health: the override wins');
SELECT throws_ok($$SELECT csm.assess_health('cc_a', NULL)$$, '22023', 'assess_health: time_period is required',
                 'assess_health: 22023 for a missing time_period');

-- analyze_churn_risk
SELECT is(csm.analyze_churn_risk('cc_a') - 'computed_at', csm.analyze_churn_risk('cc_a', '{}') - 'computed_at',
          'analyze_churn_risk: the short form is the contract form with {}');
SELECT is(round((csm.analyze_churn_risk('cc_a', '{}')->>'probability')::numeric, 12),
          round((1 / (1 + exp(-(ln(0.1 / 0.9) + 1.2))))::numeric, 12), 'analyze_churn_risk: the prior over the open signal');
SELECT is((csm.analyze_churn_risk('cc_a', '{}')->'renewal') - 'forecast_arr',
          jsonb_build_object('renewal_date', current_date + 45, 'days_to_renewal', 45, 'stage', '60_days_out', 'target_arr', 10000),
          'analyze_churn_risk: the renewal');
SELECT is((csm.analyze_churn_risk('cc_a', '{}')->>'renewal_likelihood')::numeric, 0.7305, 'analyze_churn_risk: renewal_likelihood');
SELECT is((csm.analyze_churn_risk('cc_a', '{}')->'expansion_potential') - 'signals', csm.identify_expansion('cc_a')->'expansion_potential',
          'analyze_churn_risk: expansion_potential');
SELECT is(jsonb_path_query_array(csm.analyze_churn_risk('cc_a', '{}'), '$.risk_factors[*].kind'),
          '["churn_signal", "health", "above_segment_benchmark", "worsening_since_baseline"]'::jsonb,
          'analyze_churn_risk: risk factors');
SELECT is(csm.analyze_churn_risk('cc_a', '{}')->'comparison',
          '{"history": {"source": "csm", "baseline_health_score": 100.0, "health_change": -33.0, "baseline_probability": null,
                        "probability_change": null, "direction": "worsening"},
            "segment": {"segment": "smb", "source": "csm", "accounts": 2, "benchmark_probability": 0.2000,
                        "benchmark_health_score": 82.3, "relative_risk": 1.35, "health_vs_benchmark": -15.3, "position": "above"}}'::jsonb,
          'analyze_churn_risk: the comparisons from csm''s data');
SELECT is(csm.analyze_churn_risk('cc_b', '{"signals": ["competitor_mentioned"], "health_score": 40}')->'health_signals_applied',
          '{"signals": ["competitor_mentioned"], "health_score": 40}'::jsonb, 'analyze_churn_risk: health_signals applied');
SELECT is(csm.analyze_churn_risk('cc_b', '{}', '{"health_scores": [95]}', '{"churn_probability": 0.05}')->'comparison'->'segment'->>'relative_risk',
          '2.00', 'analyze_churn_risk: segment_benchmarks');
SELECT is(csm.analyze_churn_risk('cc_o', '{}')->'health', '{"score": 50, "band": "red", "source": "csm"}'::jsonb,
          'analyze_churn_risk: the effective health');

-- identify_expansion
SELECT is(csm.identify_expansion('cc_a')->'current_usage'->>'source', 'csm', 'identify_expansion: csm''s usage');

SELECT * FROM finish();
ROLLBACK;
