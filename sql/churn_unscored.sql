-- citus-differs: the file puts its own trigger on csm.churn_signal to simulate bad data, and Citus refuses user triggers on a distributed table, so no account fails.
-- One account that cannot be scored does not fail a churn refresh or a query
-- over the portfolio: it is skipped and named in a WARNING.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- A model that reads ln(1 + arr).
INSERT INTO csm.churn_model (name, kind, model, active)
SELECT 'reads_arr', 'trained',
       jsonb_build_object('kind', 'logistic_regression', 'features', 9,
                          'feature_names', to_jsonb(csm.churn_metric_names()), 'intercept', 0,
                          'coefficients', '[0, 0, 0, 0, 0, 0, 0, 1, 0]'::jsonb,
                          'mean', '[0, 0, 0, 0, 0, 0, 0, 7.5, 0]'::jsonb, 'scale', to_jsonb(array_fill(1::float8, ARRAY[9])),
                          'lambda', 0, 'iterations', 0, 'converged', true, 'rows', 0, 'positives', 0),
       true;
-- Bad ARRs, which CHECKs refuse: dropped here to have such rows.
DO $$
DECLARE c name;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'csm.account'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) ~ '\marr\M' LOOP
        EXECUTE pg_catalog.format('ALTER TABLE csm.account DROP CONSTRAINT %I', c);
    END LOOP;
END $$;
INSERT INTO csm.account (external_id, arr, started_at) VALUES
    ('good_1', 1000, '2024-01-01'), ('good_2', 2000, '2024-01-01'),
    ('bad_nan', 'NaN', '2024-01-01'), ('bad_negative', -5, '2024-01-01');

-- The refresh scores the good accounts and names the bad ones.
SELECT csm.refresh_churn() AS scored;
SELECT a.external_id, c.band FROM csm.churn_score c JOIN csm.account a USING (account_id) ORDER BY 1;

-- churn_probability: NULL and a WARNING for a bad account; a query over the
-- portfolio answers for the others.
SELECT external_id, round(csm.churn_probability(external_id)::numeric, 4) AS p FROM csm.account ORDER BY 1;
SELECT csm.analyze_churn_risk('bad_nan')->>'not_scored' AS not_scored;

-- Signals: an account whose refresh fails (a trigger raises for it) is
-- skipped and named; the others are refreshed.
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.account_id = (SELECT account_id FROM csm.account WHERE external_id = 'good_2') THEN
        RAISE EXCEPTION 'bad data' USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse BEFORE INSERT ON csm.churn_signal FOR EACH ROW EXECUTE FUNCTION refuse();
INSERT INTO csm.account_note (account_id, noted_at, kind)
SELECT account_id, now() - interval '1 day', 'competitor_mention' FROM csm.account WHERE external_id IN ('good_1', 'good_2');
SELECT * FROM csm.refresh_churn_signals();
SELECT a.external_id, s.signal FROM csm.churn_signal s JOIN csm.account a USING (account_id) ORDER BY 1, 2;

-- Training leaves out an account with a NaN feature and names it: 200
-- accounts a year old, the 50 that churned in the last 90 days with budget
-- concerns noted before.
DROP TRIGGER refuse ON csm.churn_signal;
DELETE FROM csm.account WHERE external_id = 'bad_negative';  -- a data exception still fails training
INSERT INTO csm.account (external_id, arr, started_at, status, churned_at)
SELECT 'h' || i::text, CASE WHEN i = 7 THEN 'NaN'::numeric ELSE 1000 + i * 10 END, now() - interval '400 days',
       CASE WHEN i <= 50 THEN 'churned' ELSE 'active' END,
       -- noon UTC, so the UTC day of churn does not depend on the time the test runs
       CASE WHEN i <= 50 THEN ((now() AT TIME ZONE 'UTC')::date - 90 + i + time '12:00') AT TIME ZONE 'UTC' END
FROM generate_series(1, 200) i;
INSERT INTO csm.account_note (account_id, noted_at, kind)
SELECT account_id, now() - interval '100 days', 'budget_concern'
FROM csm.account WHERE external_id ~ '^h\d+$' AND substr(external_id, 2)::integer <= 60;
SELECT r->>'rows' AS rows, r->>'churned' AS churned FROM csm.train_churn_model('budget', options => '{"lambda": 0.1}') r;

-- leave a fresh extension for the next test
DROP FUNCTION refuse();
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
