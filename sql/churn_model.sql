-- The churn model in C: fit a model, predict, explain a prediction, evaluate.
-- Numbers are rounded for reading; test/pgtap/churn_model.sql checks them
-- against independent computations.
\set VERBOSITY terse

-- Twelve accounts: logins per week and open tickets, and whether they churned.
CREATE TEMP TABLE history (account text, features float8[], churned boolean);
INSERT INTO history VALUES
    ('a', '{12, 0}', false), ('b', '{9, 1}', false), ('c', '{15, 2}', false), ('d', '{7, 0}', false),
    ('e', '{2, 4}', true), ('f', '{1, 1}', true), ('g', '{4, 5}', true), ('h', '{10, 6}', true),
    ('i', '{3, 0}', false), ('j', '{8, 3}', false), ('k', '{0, 2}', true), ('l', '{6, 4}', false);

CREATE TEMP TABLE model AS
SELECT csm.churn_fit(features, churned, '{"lambda": 0.1, "feature_names": ["logins_per_week", "open_tickets"]}') AS m
FROM history;

-- what the model holds
SELECT m->'kind' AS kind, m->'features' AS features, m->'feature_names' AS names, m->'rows' AS rows, m->'positives' AS positives,
       m->'lambda' AS lambda, m->'converged' AS converged, round((m->>'log_loss')::numeric, 4) AS log_loss
FROM model;
SELECT n.name, round(c.coef::numeric, 4) AS coefficient, round(mu.mean::numeric, 4) AS mean, round(s.scale::numeric, 4) AS scale
FROM model,
     LATERAL jsonb_array_elements_text(m->'feature_names') WITH ORDINALITY n(name, j)
     JOIN LATERAL jsonb_array_elements_text(m->'coefficients') WITH ORDINALITY c(coef, j) USING (j)
     JOIN LATERAL jsonb_array_elements_text(m->'mean') WITH ORDINALITY mu(mean, j) USING (j)
     JOIN LATERAL jsonb_array_elements_text(m->'scale') WITH ORDINALITY s(scale, j) USING (j)
ORDER BY j;
-- fewer logins and more tickets: more likely to churn
SELECT round((m->>'intercept')::numeric, 4) AS intercept,
       (m->'coefficients'->>0)::float8 < 0::float8 AS logins_lower_risk, (m->'coefficients'->>1)::float8 > 0::float8 AS tickets_raise_risk
FROM model;

-- probability and the contribution of each feature (coefficient x standardised value)
SELECT h.account, h.features, h.churned,
       round(csm.churn_predict(m, h.features)::numeric, 3) AS probability,
       (SELECT pg_catalog.array_agg(round(c::numeric, 3)) FROM pg_catalog.unnest(csm.churn_contributions(m, h.features)) c) AS contributions
FROM history h, model ORDER BY h.account;

-- how good it is on its own history (AUC, and the confusion matrix at 0.5 and at 0.6)
SELECT round(csm.auc(csm.churn_predict(m, features), churned)::numeric, 4) AS auc FROM history, model;
SELECT e->'rows' AS rows, e->'true_positive' AS tp, e->'false_positive' AS fp, e->'true_negative' AS tn, e->'false_negative' AS fn,
       round((e->>'accuracy')::numeric, 4) AS accuracy, round((e->>'precision')::numeric, 4) AS precision,
       round((e->>'recall')::numeric, 4) AS recall, round((e->>'brier')::numeric, 4) AS brier
FROM (SELECT csm.churn_evaluate(csm.churn_predict(m, features), churned) AS e FROM history, model) x;
SELECT e->'true_positive' AS tp, e->'false_positive' AS fp, e->'true_negative' AS tn, e->'false_negative' AS fn, e->'threshold' AS threshold
FROM (SELECT csm.churn_evaluate(csm.churn_predict(m, features), churned, 0.6) AS e FROM history, model) x;
-- ties count half: two of the four (positive, negative) pairs are ties
SELECT csm.auc(s, l) FROM (VALUES (1, true), (1, false), (2, true), (2, false)) v(s, l);

-- each error once
SELECT csm.churn_fit(features, true) FROM history;
SELECT csm.churn_fit(features, churned) FROM history WHERE account IN ('a', 'e');
SELECT csm.churn_fit(CASE WHEN account = 'c' THEN '{15}' ELSE features END, churned) FROM history;
SELECT csm.churn_fit(features || 'NaN'::float8, churned) FROM history;
SELECT csm.churn_fit(features || NULL::float8, churned) FROM history;
SELECT csm.churn_fit(features, churned, '{"lamda": 1}') FROM history;
SELECT csm.churn_predict(m - 'scale', '{5, 1}') FROM model;
SELECT csm.churn_predict(m, '{5, 1, 0}') FROM model;
SELECT csm.churn_predict(m, '{5, Infinity}') FROM model;
SELECT csm.churn_evaluate(1.2, true);
SELECT csm.churn_evaluate(0.2, true, 2);
SELECT csm.auc('NaN', true);
