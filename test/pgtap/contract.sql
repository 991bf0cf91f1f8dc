-- Seed 002's Integration Contracts (issue 14, section 4): assess_health and
-- the contract form of analyze_churn_risk; identify_expansion's required
-- customer_id and its current_usage.  Required inputs missing are 22023
-- naming them; every optional input changes the answer.  Everything is
-- rolled back.
BEGIN;
SELECT plan(75);
SET LOCAL timezone = 'UTC';

-- Fixture ------------------------------------------------------------------------
INSERT INTO csm.account (account_id, external_id, segment, arr, seats, started_at, renewal_date) VALUES
    (9801, 'ct_a', 'smb', 10000, 10, now() - interval '2 years', current_date + 45),
    (9802, 'ct_b', 'smb', 20000, 10, now() - interval '2 years', current_date + 200),
    (9803, 'ct_c', 'enterprise', 90000, 100, now() - interval '2 years', current_date + 300),
    (9804, 'ct_o', 'smb', 5000, 5, now() - interval '2 years', current_date + 300),
    (9805, 'ct_live', 'smb', 5000, 5, now() - interval '2 years', current_date + 300),
    (9806, 'ct_gone', 'smb', 5000, 5, now() - interval '2 years', current_date + 300);
UPDATE csm.account SET status = 'churned', churned_at = now() - interval '3 days' WHERE account_id = 9806;
-- ct_a: 67, red; usage costs 30 points, NPS 3.  ct_b 90 green; ct_c 50 red;
-- ct_o 90 green, overridden to 50.
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
VALUES (9801, 'default', 1, 67, 'red', 1, '{dau_ratio,nps,tickets_per_month}', '{0.4,8.5,1}', '{40,90,100}', '{0.5,0.3,0.2}', now()),
       (9802, 'default', 1, 90, 'green', 1, '{dau_ratio}', '{0.9}', '{90}', '{1}', now()),
       (9803, 'default', 1, 50, 'red', 1, '{dau_ratio}', '{0.2}', '{50}', '{1}', now()),
       (9804, 'default', 1, 90, 'green', 1, '{dau_ratio}', '{0.9}', '{90}', '{1}', now());
SELECT csm.override_health('ct_o', 50, 'sponsor left', NULL) IS NOT NULL AS overridden;
-- ct_a's history: 80 ten days ago down to 71 yesterday
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT 9801, current_date - k, 'default', 1, 70 + k, csm.health_band(70 + k), 1, now() FROM generate_series(1, 10) k;
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
VALUES (9801, 'competitor_mentioned', now() - interval '2 days', now(), '{"notes": 1}');

CREATE FUNCTION pg_temp.sigmoid(x float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT 1 / (1 + exp(-x)) $$;
CREATE TEMP TABLE ah ON COMMIT DROP AS
SELECT csm.assess_health('ct_a', daterange(current_date - 5, current_date, '[]')) AS r;

-- assess_health: required inputs and bad ones ------------------------------------------
SELECT throws_ok($$SELECT csm.assess_health(NULL, daterange(current_date - 5, current_date))$$, '22023',
                 'assess_health: customer_id is required', 'assess_health: NULL customer_id is 22023 naming it');
SELECT throws_ok($$SELECT csm.assess_health('ct_a', NULL)$$, '22023',
                 'assess_health: time_period is required', 'assess_health: NULL time_period is 22023 naming it');
SELECT throws_ok($$SELECT csm.assess_health('ct_a', 'empty')$$, '22023', 'assess_health: time_period is empty',
                 'assess_health: an empty time_period is 22023');
SELECT throws_ok($$SELECT csm.assess_health('ct_a', '(,)', metrics_focus => '{}')$$, '22023', NULL,
                 'assess_health: an empty metrics_focus is 22023');
SELECT throws_ok($$SELECT csm.assess_health('ct_a', '(,)', metrics_focus => '{nps,NULL}')$$, '22023', NULL,
                 'assess_health: a NULL in metrics_focus is 22023');
SELECT throws_ok($$SELECT csm.assess_health('ct_a', '(,)', metrics_focus => '{csat}')$$, '22023',
                 'assess_health: metrics_focus names "csat", which health model "default" does not score',
                 'assess_health: a metric the model does not score is 22023 naming it');
SELECT throws_ok($$SELECT csm.assess_health('ct_a', '(,)', 'no_such_segment')$$, '22023',
                 'assess_health: segment "no_such_segment" does not exist', 'assess_health: an unknown segment is 22023');
SELECT throws_ok($$SELECT csm.assess_health('ct_nobody', '(,)')$$, 'P0002', NULL, 'assess_health: unknown customer is P0002');

-- assess_health: the report ---------------------------------------------------------
SELECT is((SELECT (r->>'health_score')::numeric FROM ah), 67.0, 'assess_health: health_score');
SELECT is((SELECT r->>'band' FROM ah), 'red', 'assess_health: band');
SELECT is((SELECT jsonb_path_query_array(r, '$.risk_factors[*] ? (@.kind == "component").metric') FROM ah),
          '["dau_ratio", "nps"]'::jsonb, 'assess_health: the components that cost points, worst first (tickets cost none)');
SELECT is((SELECT jsonb_path_query_array(r, '$.risk_factors[*] ? (@.kind == "component").points_lost') FROM ah),
          '[30.00, 3.00]'::jsonb, 'assess_health: points lost = weight x (100 - component score)');
SELECT is((SELECT jsonb_path_query_array(r, '$.risk_factors[*] ? (@.kind == "churn_signal").signal') FROM ah),
          '["competitor_mentioned"]'::jsonb, 'assess_health: the open churn signals are risk factors');
SELECT is((SELECT r->'recommendations'->0 FROM ah),
          '{"source": "health_band", "band": "red", "action": "Immediate intervention", "cadence": "Weekly touch points"}'::jsonb,
          'assess_health: the red band''s action and cadence are recommended');
-- the playbooks that would fire: red health fires at_risk_intervention (csm.playbook)
SELECT is((SELECT jsonb_path_query_array(r, '$.recommendations[*] ? (@.source == "playbook").playbook') FROM ah),
          '["at_risk_intervention"]'::jsonb, 'assess_health: the playbooks that would fire are recommended');
SELECT is((SELECT (r #> '{recommendations,1}') - 'steps' - 'description' - 'evidence' FROM ah),
          '{"source": "playbook", "playbook": "at_risk_intervention", "priority": "high", "trigger_kind": "health_band",
            "trigger_value": "red", "condition": null, "open_cta": false, "cooling_down": false, "would_open": true}'::jsonb,
          'assess_health: with the trigger that holds, and no CTA open yet');
SELECT is((SELECT jsonb_array_length(r #> '{recommendations,1,steps}') FROM ah),
          (SELECT count(*)::integer FROM csm.playbook_step WHERE playbook = 'at_risk_intervention'),
          'assess_health: with the playbook''s steps');
INSERT INTO csm.cta (account_id, playbook, priority) VALUES (9801, 'at_risk_intervention', 'high');
SELECT is(csm.assess_health('ct_a', '(,)') #> '{recommendations,1,open_cta}', 'true'::jsonb,
          'assess_health: an open CTA of the playbook is shown');
UPDATE csm.playbook SET active = false WHERE name = 'at_risk_intervention';
SELECT is(jsonb_path_query_array(csm.assess_health('ct_a', '(,)'), '$.recommendations[*].source'), '["health_band"]'::jsonb,
          'assess_health: an inactive playbook is not recommended');
UPDATE csm.playbook SET active = true WHERE name = 'at_risk_intervention';
DELETE FROM csm.cta WHERE account_id = 9801;
SELECT is((SELECT jsonb_path_query_array(r, '$.trends.daily[*].score') FROM ah), '[75.0, 74.0, 73.0, 72.0, 71.0]'::jsonb,
          'assess_health: trends.daily holds the history days within time_period, oldest first');
SELECT is((SELECT (r->'trends'->'summary') - 'sparkline' FROM ah),
          jsonb_build_object('from', current_date - 5, 'to', current_date, 'days_scored', 5, 'first_score', 75.0,
                             'last_score', 71.0, 'change', -4.0, 'min', 71.0, 'max', 75.0, 'average', 73.0,
                             'direction', 'down'),
          'assess_health: trends.summary: first, last, change, direction (down beyond 2 points), min, max, average');
SELECT is(jsonb_array_length(csm.assess_health('ct_a', '(,)')->'trends'->'daily'), 10,
          'assess_health: an unbounded time_period reads the whole history');
SELECT is(jsonb_array_length(csm.assess_health('ct_a', daterange(current_date - 30, current_date - 20))->'trends'->'daily'), 0,
          'assess_health: a time_period with no history has no daily rows');
SELECT is((SELECT r->'computed'->>'source' FROM ah), 'refresh', 'assess_health: components from the last refresh');
SELECT is(csm.assess_health('ct_live', '(,)')->'computed'->>'source', 'live',
          'assess_health: an account never refreshed is scored live');
SELECT is(csm.assess_health('ct_live', '(,)')->>'health_score', csm.csm_health_score('ct_live')::numeric(6,1)::text,
          'assess_health: the live score is csm_health_score''s');

-- an override in effect wins, the computed score beside it
SELECT is(csm.assess_health('ct_o', '(,)')->>'health_score', '50.0', 'assess_health: the override in effect is the health_score');
SELECT is(csm.assess_health('ct_o', '(,)')->'computed'->>'score', '90.0', 'assess_health: the computed score is kept beside it');
SELECT is(csm.assess_health('ct_o', '(,)')->'override'->>'reason', 'sponsor left', 'assess_health: the override''s reason');

-- metrics_focus changes the answer: only those metrics' risk factors, and their detail
SELECT is(jsonb_path_query_array(csm.assess_health('ct_a', '(,)', metrics_focus => '{nps}'),
                                 '$.risk_factors[*] ? (@.kind == "component").metric'),
          '["nps"]'::jsonb, 'assess_health: metrics_focus limits the component risk factors');
SELECT is(jsonb_path_query_array(csm.assess_health('ct_a', '(,)', metrics_focus => '{tickets_per_month,nps}'),
                                 '$.metrics_focus[*].metric'),
          '["tickets_per_month", "nps"]'::jsonb, 'assess_health: metrics_focus details the metrics named, in that order');
SELECT ok(NOT (SELECT r ? 'metrics_focus' FROM ah), 'assess_health: no metrics_focus section without one');

-- segment changes the answer: the benchmark's peers
SELECT is((SELECT r->'benchmark' FROM ah),
          (SELECT jsonb_build_object('segment', 'smb', 'accounts', count(*), 'average_score', round(avg(h.score)::numeric, 1),
                                     'share_red', round(avg((h.band = 'red')::integer)::numeric, 4),
                                     'share_below', round(avg((h.score < 67)::integer)::numeric, 4),
                                     'difference', round((67 - avg(h.score))::numeric, 1))
           FROM csm.health_score h JOIN csm.account a USING (account_id) WHERE a.segment = 'smb' AND a.status = 'active'),
          'assess_health: benchmark against the account''s own segment by default');
SELECT is(csm.assess_health('ct_a', '(,)', 'enterprise')->'benchmark'->>'segment', 'enterprise',
          'assess_health: segment picks the benchmark''s peers');
SELECT is(csm.assess_health('ct_a', '(,)', 'enterprise')->'benchmark'->>'difference',
          (SELECT round((67 - avg(h.score))::numeric, 1)::text FROM csm.health_score h JOIN csm.account a USING (account_id)
           WHERE a.segment = 'enterprise' AND a.status = 'active'),
          'assess_health: and the difference from them');
SELECT ok((SELECT r ?& ARRAY['health_score', 'risk_factors', 'recommendations', 'trends'] FROM ah),
          'assess_health: the seed''s health_report fields are all there');

-- analyze_churn_risk: required inputs and bad ones -----------------------------------
SELECT throws_ok($$SELECT csm.analyze_churn_risk(NULL, '{}')$$, '22023', 'analyze_churn_risk: customer_id is required',
                 'analyze_churn_risk: NULL customer_id is 22023 naming it');
SELECT throws_ok($$SELECT csm.analyze_churn_risk('ct_a', NULL)$$, '22023', 'analyze_churn_risk: health_signals is required',
                 'analyze_churn_risk: NULL health_signals is 22023 naming it');
SELECT throws_ok($$SELECT csm.analyze_churn_risk('ct_a', '[]')$$, '22023', 'health_signals must be a JSON object',
                 'analyze_churn_risk: health_signals not an object is 22023');
SELECT throws_ok($$SELECT csm.analyze_churn_risk('ct_a', '{"logins": 3}')$$, '22023', 'health_signals has no key "logins"',
                 'analyze_churn_risk: an unknown health signal is 22023 naming it');
SELECT throws_ok($$SELECT csm.analyze_churn_risk('ct_a', '{"nps": 11}')$$, '22023', 'health_signals.nps must be a number from 0 to 10',
                 'analyze_churn_risk: a value out of range is 22023 naming its path');
SELECT throws_ok($$SELECT csm.analyze_churn_risk('ct_a', '{"signals": ["competitor_mentioned", "gossip"]}')$$, '22023',
                 'health_signals.signals[1] is not a churn signal kind', 'analyze_churn_risk: an unknown signal kind is 22023 naming its path');
SELECT throws_ok($$SELECT csm.analyze_churn_risk('ct_a', '{}', '{"health_scores": []}')$$, '22023', NULL,
                 'analyze_churn_risk: empty historical_data.health_scores is 22023');
SELECT throws_ok($$SELECT csm.analyze_churn_risk('ct_a', '{}', '{"health_scores": [80, 101]}')$$, '22023',
                 'historical_data.health_scores[1] must be a number from 0 to 100', 'analyze_churn_risk: a historical score out of range is 22023');
SELECT throws_ok($$SELECT csm.analyze_churn_risk('ct_a', '{}', segment_benchmarks => '{"churn_rate": 0.1}')$$, '22023',
                 'segment_benchmarks has no key "churn_rate"', 'analyze_churn_risk: an unknown benchmark is 22023');
SELECT throws_ok($$SELECT csm.analyze_churn_risk('ct_nobody', '{}')$$, 'P0002', NULL, 'analyze_churn_risk: unknown customer is P0002');

-- analyze_churn_risk: the short form is the contract form with {} -------------------------
SELECT is(csm.analyze_churn_risk('ct_a') - 'computed_at', csm.analyze_churn_risk('ct_a', '{}') - 'computed_at',
          'analyze_churn_risk(external_id) is analyze_churn_risk(external_id, ''{}'')');
SELECT ok(csm.analyze_churn_risk('ct_a', '{}') ?& ARRAY['renewal_likelihood', 'risk_factors', 'expansion_potential', 'retention_forecast'],
          'analyze_churn_risk: the seed''s retention_forecast fields are in the answer');
SELECT ok(csm.analyze_churn_risk('ct_a', '{}')->'retention_forecast' ?& ARRAY['renewal_likelihood', 'risk_factors', 'expansion_potential'],
          'analyze_churn_risk: retention_forecast has renewal_likelihood, risk_factors and expansion_potential');
SELECT is((csm.analyze_churn_risk('ct_a', '{}')->>'probability')::float8,
          pg_temp.sigmoid(ln(0.1 / 0.9) + (SELECT prior_weight FROM csm.churn_signal_kind WHERE signal = 'competitor_mentioned')),
          'analyze_churn_risk: the prior over the open signal');
SELECT is((csm.analyze_churn_risk('ct_a', '{}')->>'renewal_likelihood')::numeric,
          round(1 - (csm.analyze_churn_risk('ct_a', '{}')->>'probability')::numeric, 4),
          'analyze_churn_risk: renewal_likelihood = 1 - probability');
SELECT is(csm.analyze_churn_risk('ct_a', '{}')->'renewal',
          jsonb_build_object('renewal_date', current_date + 45, 'days_to_renewal', 45, 'stage', '60_days_out', 'target_arr', 10000,
                             'forecast_arr', round(10000 * (1 - (csm.analyze_churn_risk('ct_a', '{}')->>'probability')::numeric), 2)),
          'analyze_churn_risk: the renewal, forecast as refresh_renewals does (ARR x (1 - probability))');
SELECT is((csm.analyze_churn_risk('ct_a', '{}')->'expansion_potential') - 'signals', csm.identify_expansion('ct_a')->'expansion_potential',
          'analyze_churn_risk: expansion_potential is identify_expansion''s');
SELECT is(jsonb_path_query_array(csm.analyze_churn_risk('ct_a', '{}'), '$.risk_factors[*].kind'),
          '["churn_signal", "health"]'::jsonb, 'analyze_churn_risk: risk factors: the open signal and the red health band');
SELECT is(csm.analyze_churn_risk('ct_gone', '{}')->'renewal_likelihood', 'null'::jsonb,
          'analyze_churn_risk: no renewal likelihood for a churned account');

-- health_signals change the answer
SELECT is(round((csm.analyze_churn_risk('ct_b', '{"signals": ["competitor_mentioned"]}')->>'probability')::numeric, 12),
          round(pg_temp.sigmoid(ln(0.1 / 0.9) + 1.2)::numeric, 12), 'analyze_churn_risk: a signal the caller sees raises the prior''s probability');
SELECT is(csm.analyze_churn_risk('ct_b', '{"signals": ["competitor_mentioned"]}')->'health_signals_applied',
          '{"signals": ["competitor_mentioned"]}'::jsonb, 'analyze_churn_risk: the answer names what it applied');
SELECT is(round((csm.analyze_churn_risk('ct_b', '{"signals": ["competitor_mentioned"]}')->>'csm_probability')::numeric, 12), 0.1,
          'analyze_churn_risk: and csm''s own probability beside it');
SELECT is(jsonb_path_query_array(csm.analyze_churn_risk('ct_b', '{"signals": ["competitor_mentioned"]}'),
                                 '$.risk_factors[*] ? (@.kind == "churn_signal").source'),
          '["health_signals"]'::jsonb, 'analyze_churn_risk: the caller''s signal is a risk factor, marked as theirs');
SELECT is(csm.analyze_churn_risk('ct_b', '{"health_score": 40}')->'health',
          '{"score": 40, "band": "red", "source": "health_signals"}'::jsonb, 'analyze_churn_risk: health_score replaces csm''s');
SELECT is(split_part(csm.analyze_churn_risk('ct_b', '{"health_score": 40}')->>'recommended_action', ':', 1), 'Immediate intervention',
          'analyze_churn_risk: and changes the recommended action');
SELECT is(split_part(csm.analyze_churn_risk('ct_b', '{}')->>'recommended_action', ':', 1), 'Nurture for expansion',
          'analyze_churn_risk: which is nurture from csm''s green 90');
SELECT is(round((csm.analyze_churn_risk('ct_b', '{"nps": 1}')->>'probability')::numeric, 12), 0.1,
          'analyze_churn_risk: the prior reads no metric, so an NPS does not move it');
-- a trained model over NPS: logit = -(nps - 5)
INSERT INTO csm.churn_model (name, kind, model, as_of, horizon_days, active)
VALUES ('ct_nps', 'trained', '{"kind": "logistic_regression", "features": 1, "feature_names": ["nps"], "intercept": 0,
                               "coefficients": [-1], "mean": [5], "scale": [1], "lambda": 0, "iterations": 1,
                               "converged": true, "rows": 10, "positives": 5}', current_date - 120, 60, true);
SELECT is((csm.analyze_churn_risk('ct_b', '{}')->>'probability')::float8, 0.5::float8,
          'analyze_churn_risk: a trained model reads an unknown NPS as its mean');
SELECT is(round((csm.analyze_churn_risk('ct_b', '{"nps": 9}')->>'probability')::numeric, 12), round(pg_temp.sigmoid(-4)::numeric, 12),
          'analyze_churn_risk: a trained model reads the caller''s NPS');
SELECT is((csm.analyze_churn_risk('ct_b', '{"nps": 9}')->'retention_forecast'->>'horizon_days')::integer, 60,
          'analyze_churn_risk: the forecast''s horizon is the model''s');
UPDATE csm.churn_model SET active = false WHERE name = 'ct_nps';

-- historical_data changes the comparison
SELECT is(csm.analyze_churn_risk('ct_a', '{}')->'comparison'->'history'->>'direction', NULL,
          'analyze_churn_risk: no history 30 days back, no direction');
SELECT is(csm.analyze_churn_risk('ct_a', '{}', '{"health_scores": [90, 85], "churn_probability": 0.05}')->'comparison'->'history',
          jsonb_build_object('source', 'historical_data', 'baseline_health_score', 87.5, 'health_change', -20.5,
                             'baseline_probability', 0.05,
                             'probability_change', round((csm.analyze_churn_risk('ct_a', '{}')->>'probability')::numeric - 0.05, 4),
                             'direction', 'worsening'),
          'analyze_churn_risk: historical_data is the baseline: mean of the scores, the probability given');
SELECT ok(jsonb_path_exists(csm.analyze_churn_risk('ct_a', '{}', '{"health_scores": [90, 85]}'),
                            '$.risk_factors[*] ? (@.kind == "worsening_since_baseline")'),
          'analyze_churn_risk: worsening since the baseline is a risk factor');

-- segment_benchmarks change the comparison
SELECT is(csm.analyze_churn_risk('ct_b', '{}')->'comparison'->'segment'->>'position', NULL,
          'analyze_churn_risk: no churn scores in the segment, no position');
SELECT is(csm.analyze_churn_risk('ct_b', '{}', segment_benchmarks => '{"churn_probability": 0.05, "health_score": 95}')->'comparison'->'segment',
          '{"segment": "smb", "source": "segment_benchmarks", "accounts": null, "benchmark_probability": 0.0500,
            "benchmark_health_score": 95.0, "relative_risk": 2.00, "health_vs_benchmark": -5.0, "position": "above"}'::jsonb,
          'analyze_churn_risk: segment_benchmarks are the benchmark');
SELECT ok(jsonb_path_exists(csm.analyze_churn_risk('ct_b', '{}', segment_benchmarks => '{"churn_probability": 0.05}'),
                            '$.risk_factors[*] ? (@.kind == "above_segment_benchmark")'),
          'analyze_churn_risk: above the benchmark is a risk factor');

-- identify_expansion: seed 002's required customer_id, and current_usage in the answer
SELECT throws_ok($$SELECT csm.identify_expansion(NULL, '{"seats_used": 3}')$$, '22023', 'identify_expansion: customer_id is required',
                 'identify_expansion: NULL customer_id is 22023 naming it');
SELECT is(csm.identify_expansion('ct_a')->'current_usage'->>'source', 'csm', 'identify_expansion: csm''s usage without current_usage');
SELECT is(csm.identify_expansion('ct_a', '{"seats_used": 3}')->'current_usage', '{"seats_used": 3, "source": "current_usage"}'::jsonb,
          'identify_expansion: the caller''s current_usage, echoed');

SELECT * FROM finish();
ROLLBACK;
