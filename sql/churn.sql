-- Churn risk: the prior model over signals, scores and routing on them,
-- training on account history, and analyze_churn_risk.
\set VERBOSITY terse

INSERT INTO csm.account (external_id, segment, arr, started_at) VALUES
    ('calm', 'smb', 5000, now() - interval '2 years'),
    ('loud', 'smb', 5000, now() - interval '2 years');

-- No signal, no trained model: the prior's 10% base rate, band low.
SELECT round(csm.churn_probability('calm')::numeric, 4) AS p, csm.churn_band(csm.churn_probability('calm')) AS band;

-- A competitor mention is a strong signal (prior weight 1.2), two
-- escalations another, and notes without any talk of expansion an early one
-- (0.3): 1 / (1 + exp(-(ln(0.1/0.9) + 2.7))) = 62%, band high.
INSERT INTO csm.account_note (account_id, noted_at, kind, body)
SELECT account_id, now() - interval '3 days', k, 'from the QBR'
FROM csm.account, pg_catalog.unnest(ARRAY['competitor_mention', 'escalation', 'escalation']) k
WHERE external_id = 'loud';

-- A retention specialist joins accounts whose risk passes 50.
INSERT INTO csm.team_member (handle, roles) VALUES ('rita', '{retention_specialist}');
INSERT INTO csm.routing_rule (name, priority, condition, target_kind, target, strategy, is_primary)
VALUES ('retention', 1, 'churn_risk_score > 50', 'role', 'retention_specialist', 'least_loaded', false);

SELECT csm.refresh_churn() AS scored;
SELECT external_id, round(probability::numeric, 4) AS p, band, round(risk_score) AS risk, drivers, model, open_signals
FROM csm.churn_risk ORDER BY external_id;
SELECT external_id, handle, is_primary, rule FROM csm.assignment ORDER BY external_id;

-- analyze_churn_risk: the seed's contract.
SELECT r->>'customer_id' AS customer, round((r->>'probability')::numeric, 4) AS p, r->>'churn_band' AS band,
       round((r->>'churn_risk_score')::numeric, 1) AS risk, r->'model'->>'name' AS model,
       jsonb_path_query_array(r, '$.signals[*].signal') AS signals,
       jsonb_path_query_array(r, '$.top_features[*].feature') AS top_features, r->>'recommended_action' AS action
FROM csm.analyze_churn_risk('loud') r;

-- A second refresh changes no score; the specialist is there once.
SELECT csm.refresh_churn() AS scored;
SELECT count(*) AS assign_rows FROM csm.assignment_log WHERE action = 'assign';

-- Training on history: 200 accounts a year old; at the snapshot 90 days
-- ago, the 50 that churned in the 90 days after had budget concerns noted
-- (as did 10 that stayed).  The held-out fifth measures the model.
INSERT INTO csm.account (external_id, segment, arr, started_at, status, churned_at)
SELECT 'h' || i::text, 'smb', 1000 + i * 10, now() - interval '400 days',
       CASE WHEN i <= 50 THEN 'churned' ELSE 'active' END,
       -- noon UTC, so the UTC day of churn does not depend on the time the test runs
       CASE WHEN i <= 50 THEN ((now() AT TIME ZONE 'UTC')::date - 90 + i + time '12:00') AT TIME ZONE 'UTC' END
FROM generate_series(1, 200) i;
INSERT INTO csm.account_note (account_id, noted_at, kind)
SELECT account_id, now() - interval '100 days', 'budget_concern'
FROM csm.account WHERE external_id ~ '^h\d+$' AND substr(external_id, 2)::integer <= 60;

SELECT r->>'name' AS name, r->>'rows' AS rows, r->>'churned' AS churned, r->>'converged' AS converged,
       (r->>'train_rows')::integer + (r->>'holdout_rows')::integer = (r->>'rows')::integer AS split_adds_up,
       (r->'holdout'->>'auc')::float8 > 0.9::float8 AS holdout_auc_above_090,
       (r->'holdout'->>'accuracy')::float8 >= (r->>'majority_accuracy')::float8 AS beats_majority
FROM csm.train_churn_model('budget', options => '{"lambda": 0.1}') r;
SELECT name, kind, active, as_of = (now() AT TIME ZONE 'UTC')::date - 90 AS as_of_90_days_ago
FROM csm.churn_model;
-- The model learnt that budget concerns go with churn.
SELECT n AS feature, c::float8 > 0::float8 AS raises_risk
FROM csm.churn_model m,
     jsonb_array_elements_text(m.model->'feature_names') WITH ORDINALITY f(n, i)
     JOIN jsonb_array_elements_text(m.model->'coefficients') WITH ORDINALITY k(c, j) ON j = i
WHERE n = 'budget_concern';
-- The active model now scores; a churned account has no probability.
SELECT csm.analyze_churn_risk('loud')->'model'->>'name' AS model, csm.churn_probability('h1') AS churned_p;

-- Errors (SQLSTATE: message): 22023 for a bad name, horizon, window or
-- option, P0002 for an unknown account, and the fit's own for one class.
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT q AS call, pg_temp.error_of('SELECT ' || q) AS error
FROM pg_catalog.unnest(ARRAY[
    $$csm.train_churn_model('prior')$$,
    $$csm.train_churn_model('x', horizon_days => 0)$$,
    $$csm.train_churn_model('x', as_of => (now() AT TIME ZONE 'UTC')::date - 10)$$,
    $$csm.train_churn_model('x', options => '{"holdout": 1}')$$,
    $$csm.train_churn_model('x', options => '[]')$$,
    $$csm.train_churn_model('x', as_of => (now() AT TIME ZONE 'UTC')::date - 380, horizon_days => 5)$$,
    $$csm.churn_probability('nobody')$$,
    $$csm.analyze_churn_risk('nobody')$$]) q;
SELECT count(*) AS models FROM csm.churn_model;

-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
