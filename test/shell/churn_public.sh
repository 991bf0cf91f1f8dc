#!/usr/bin/env bash
# csm's churn model held to a public churn data set: IBM's Telco customer
# churn sample, 7,043 customers (test/data/public_churn/README.md says where
# it comes from and under which licence). A deterministic 70/30 split by a
# hash of the customer number; csm.churn_fit on the training rows,
# csm.churn_predict on the test rows, and:
#   - quality floors just under what logistic regression is known to reach
#     on this data (about 0.80 accuracy and 0.84 AUC in published work, 0.79
#     and 0.84 here): AUC >= 0.82, accuracy >= 0.78 and above the majority
#     class, Brier below a constant prediction's;
#   - an independent reference fit in the same run: the same penalised
#     objective minimised by Newton's method in plain SQL and PL/pgSQL, with
#     its own standardisation, must give the same coefficients and
#     probabilities;
#   - csm.auc and csm.churn_evaluate agree with the same numbers computed in
#     plain SQL (Mann-Whitney ranks, confusion counts).
# No timing is asserted; the fit time is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/shell/lib/stress.sh

db=csm_churn_public
csv=test/data/public_churn/telco_churn.csv
want=7eae098161ec0369b1ff1728c7a2f43f3cda5d1eb9004dffd95b5027a1e38465
got=$(sha256sum "$csv" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "not ok - $csv has sha256 $got, not $want"; exit 1; }

fresh_db "$db"
psql -qAtX -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION csm;

-- The file as it is; every row must parse into typed, constrained columns.
CREATE TABLE telco (
    customer_no       integer PRIMARY KEY,
    churn             text NOT NULL CHECK (churn IN ('Yes', 'No')),
    female            smallint NOT NULL CHECK (female IN (0, 1)),
    senior_citizen    smallint NOT NULL CHECK (senior_citizen IN (0, 1)),
    partner           smallint NOT NULL CHECK (partner IN (0, 1)),
    dependents        smallint NOT NULL CHECK (dependents IN (0, 1)),
    tenure            integer NOT NULL CHECK (tenure >= 0),
    phone_service     smallint NOT NULL CHECK (phone_service IN (0, 1)),
    multiple_lines    text NOT NULL CHECK (multiple_lines IN ('No', 'Yes', 'No phone service')),
    internet_service  text NOT NULL CHECK (internet_service IN ('DSL', 'Fiber optic', 'No')),
    online_security   text NOT NULL CHECK (online_security IN ('No', 'Yes', 'No internet service')),
    online_backup     text NOT NULL CHECK (online_backup IN ('No', 'Yes', 'No internet service')),
    device_protection text NOT NULL CHECK (device_protection IN ('No', 'Yes', 'No internet service')),
    tech_support      text NOT NULL CHECK (tech_support IN ('No', 'Yes', 'No internet service')),
    streaming_tv      text NOT NULL CHECK (streaming_tv IN ('No', 'Yes', 'No internet service')),
    streaming_movies  text NOT NULL CHECK (streaming_movies IN ('No', 'Yes', 'No internet service')),
    contract          text NOT NULL CHECK (contract IN ('Month-to-month', 'One year', 'Two year')),
    paperless_billing smallint NOT NULL CHECK (paperless_billing IN (0, 1)),
    payment_method    text NOT NULL CHECK (payment_method IN ('Electronic check', 'Mailed check',
                                                              'Bank transfer (automatic)', 'Credit card (automatic)')),
    monthly_charges   float8 NOT NULL CHECK (monthly_charges > 0),
    total_charges     float8 CHECK (total_charges > 0)
);
\copy telco FROM 'test/data/public_churn/telco_churn.csv' WITH (FORMAT csv, HEADER true)
DO $$
BEGIN
    IF (SELECT count(*) FROM telco) <> 7043 OR (SELECT count(*) FROM telco WHERE churn = 'Yes') <> 1869
       OR (SELECT count(*) FROM telco WHERE total_charges IS NULL AND tenure = 0) <> 11
       OR (SELECT count(*) FROM telco WHERE total_charges IS NULL) <> 11 THEN
        RAISE EXCEPTION 'not ok - the data set is not the one described in test/data/public_churn/README.md';
    END IF;
END $$;

-- Features, in this order. Numeric as they are: tenure, monthly_charges,
-- total_charges (0 for the 11 customers not billed yet). 0/1 as they are:
-- female, senior_citizen, partner, dependents, phone_service,
-- paperless_billing. One-hot, the first level named being the reference left
-- out: multiple_lines (No or no phone service | Yes), each add-on service
-- (No or no internet service | Yes), internet_service (No | DSL, Fiber
-- optic), contract (Month-to-month | One year, Two year), payment_method
-- (Bank transfer | Electronic check, Mailed check, Credit card). "No phone
-- service" and "No internet service" are already phone_service = 0 and
-- internet_service = No, so they get no column of their own.
CREATE TABLE feature (j integer PRIMARY KEY, name text NOT NULL);
INSERT INTO feature
SELECT j, name FROM unnest(ARRAY[
    'tenure', 'monthly_charges', 'total_charges',
    'female', 'senior_citizen', 'partner', 'dependents', 'phone_service', 'paperless_billing',
    'multiple_lines', 'online_security', 'online_backup', 'device_protection', 'tech_support',
    'streaming_tv', 'streaming_movies',
    'internet_dsl', 'internet_fiber', 'contract_one_year', 'contract_two_year',
    'pay_electronic_check', 'pay_mailed_check', 'pay_credit_card']) WITH ORDINALITY AS f(name, j);

-- 70% train, 30% test, by a hash of the customer number (md5: the same on
-- every platform and server version).
CREATE TABLE churn_row AS
SELECT customer_no,
       ('x' || lpad(left(md5('telco ' || customer_no), 8), 16, '0'))::bit(64)::bigint % 10 < 7 AS train,
       churn = 'Yes' AS churned,
       ARRAY[tenure, monthly_charges, coalesce(total_charges, 0),
             female, senior_citizen, partner, dependents, phone_service, paperless_billing,
             (multiple_lines = 'Yes')::int,
             (online_security = 'Yes')::int, (online_backup = 'Yes')::int, (device_protection = 'Yes')::int,
             (tech_support = 'Yes')::int, (streaming_tv = 'Yes')::int, (streaming_movies = 'Yes')::int,
             (internet_service = 'DSL')::int, (internet_service = 'Fiber optic')::int,
             (contract = 'One year')::int, (contract = 'Two year')::int,
             (payment_method = 'Electronic check')::int, (payment_method = 'Mailed check')::int,
             (payment_method = 'Credit card (automatic)')::int]::float8[] AS features
FROM telco;
DO $$
BEGIN
    IF (SELECT count(*) FROM churn_row WHERE array_length(features, 1) <> (SELECT count(*) FROM feature)) > 0 THEN
        RAISE EXCEPTION 'not ok - feature vectors and feature names differ in length';
    END IF;
END $$;

SELECT format('rows %s: train %s, test %s; churn rate %s%% (train %s%%, test %s%%)',
              count(*), count(*) FILTER (WHERE train), count(*) FILTER (WHERE NOT train),
              round(100 * avg(churned::int), 1), round(100 * avg(churned::int) FILTER (WHERE train), 1),
              round(100 * avg(churned::int) FILTER (WHERE NOT train), 1))
FROM churn_row;
SELECT format('features %s: %s', count(*), string_agg(name, ', ' ORDER BY j)) FROM feature;

-- csm's fit, timed.
CREATE TABLE fit (model jsonb, took interval);
DO $$
DECLARE
    t0 timestamptz := clock_timestamp();
    m jsonb;
BEGIN
    SELECT csm.churn_fit(features, churned,
                         jsonb_build_object('lambda', 1, 'feature_names', (SELECT jsonb_agg(name ORDER BY j) FROM feature)))
    INTO m
    FROM churn_row WHERE train;
    INSERT INTO fit VALUES (m, clock_timestamp() - t0);
END $$;
SELECT format('fit: %s rows x %s features, lambda %s, %s iterations, converged %s, train log-loss %s, %s ms',
              model ->> 'rows', model ->> 'features', model ->> 'lambda', model ->> 'iterations',
              model ->> 'converged', round((model ->> 'log_loss')::numeric, 4),
              round(extract(epoch FROM took) * 1000, 1))
FROM fit;

SELECT 'largest standardised coefficients: '
       || string_agg(format('%s %s', f.name, round(x.coef::numeric, 3)), ', ' ORDER BY abs(x.coef) DESC)
FROM fit, jsonb_array_elements_text(fit.model -> 'coefficients') WITH ORDINALITY AS c(v, j),
     LATERAL (SELECT c.v::float8 AS coef) x, feature f
WHERE f.j = c.j AND abs(x.coef) >= 0.15;

CREATE TABLE pred AS
SELECT c.customer_no, c.churned, csm.churn_predict(f.model, c.features) AS p
FROM churn_row c, fit f WHERE NOT c.train;

-- The independent reference: minimise the same objective,
--   sum of log-losses + lambda / 2 * sum of squared standardised coefficients
--   (the intercept not penalised, features standardised by their mean and
--   population standard deviation over the training rows),
-- by Newton's method from zero: gradient and Hessian summed in SQL, the
-- linear system solved by Gaussian elimination in PL/pgSQL.
CREATE FUNCTION pg_temp.ref_fit(lambda float8, OUT beta float8[], OUT mean float8[], OUT scale float8[],
                                OUT iterations int, OUT max_step float8)
LANGUAGE plpgsql AS $$
DECLARE
    p int;
    n int;
    g float8[];
    a float8[];
    step float8[];
    piv int;
    t float8;
    f float8;
BEGIN
    SELECT array_agg(m ORDER BY j), array_agg(CASE WHEN s > 0 THEN s ELSE 1 END ORDER BY j)
    INTO mean, scale
    FROM (SELECT j, avg(x) AS m, stddev_pop(x) AS s
          FROM churn_row, unnest(features) WITH ORDINALITY AS u(x, j)
          WHERE train GROUP BY j) s;
    p := array_length(mean, 1);
    n := p + 1;
    CREATE TEMP TABLE ref_z AS
    SELECT churned::int::float8 AS y,
           ARRAY[1::float8] || ARRAY(SELECT (features[j] - mean[j]) / scale[j] FROM generate_series(1, p) AS j ORDER BY j) AS z
    FROM churn_row WHERE train;
    CREATE TEMP TABLE ref_pair AS
    SELECT i, k FROM generate_series(1, n) AS i, generate_series(1, n) AS k WHERE i <= k;
    beta := array_fill(0::float8, ARRAY[n]);
    iterations := 0;
    LOOP
        iterations := iterations + 1;
        DROP TABLE IF EXISTS ref_e;
        CREATE TEMP TABLE ref_e AS
        SELECT y, z, 1 / (1 + exp(-eta)) AS pr
        FROM ref_z, LATERAL (SELECT sum(beta[j] * z[j]) AS eta FROM generate_series(1, n) AS j) l;
        SELECT array_agg(gj + CASE WHEN j > 1 THEN lambda * beta[j] ELSE 0 END ORDER BY j) INTO g
        FROM (SELECT j, sum((pr - y) * z[j]) AS gj FROM ref_e, generate_series(1, n) AS j GROUP BY j) s;
        a := array_fill(0::float8, ARRAY[n, n]);
        FOR piv, f, t IN SELECT i, k, sum(pr * (1 - pr) * z[i] * z[k]) FROM ref_e, ref_pair GROUP BY i, k LOOP
            a[piv][f::int] := t + CASE WHEN piv = f::int AND piv > 1 THEN lambda ELSE 0 END;
            a[f::int][piv] := a[piv][f::int];
        END LOOP;
        -- solve a * step = -g, partial pivoting
        step := ARRAY(SELECT -g[j] FROM generate_series(1, n) AS j ORDER BY j);
        FOR c IN 1 .. n LOOP
            piv := c;
            FOR r IN c + 1 .. n LOOP
                IF abs(a[r][c]) > abs(a[piv][c]) THEN piv := r; END IF;
            END LOOP;
            IF piv <> c THEN
                FOR k IN 1 .. n LOOP t := a[c][k]; a[c][k] := a[piv][k]; a[piv][k] := t; END LOOP;
                t := step[c]; step[c] := step[piv]; step[piv] := t;
            END IF;
            FOR r IN c + 1 .. n LOOP
                f := a[r][c] / a[c][c];
                FOR k IN c .. n LOOP a[r][k] := a[r][k] - f * a[c][k]; END LOOP;
                step[r] := step[r] - f * step[c];
            END LOOP;
        END LOOP;
        FOR r IN REVERSE n .. 1 LOOP
            t := step[r];
            FOR k IN r + 1 .. n LOOP t := t - a[r][k] * step[k]; END LOOP;
            step[r] := t / a[r][r];
        END LOOP;
        max_step := 0;
        FOR j IN 1 .. n LOOP
            beta[j] := beta[j] + step[j];
            max_step := greatest(max_step, abs(step[j]));
        END LOOP;
        EXIT WHEN max_step < 1e-10 OR iterations >= 30;
    END LOOP;
END $$;

CREATE TABLE ref AS SELECT * FROM pg_temp.ref_fit(1);
CREATE TABLE ref_pred AS
SELECT c.customer_no,
       1 / (1 + exp(-(r.beta[1] + (SELECT sum(r.beta[j + 1] * (c.features[j] - r.mean[j]) / r.scale[j])
                                   FROM generate_series(1, array_length(r.mean, 1)) AS j)))) AS p
FROM churn_row c, ref r WHERE NOT c.train;

-- Every number the test reports or asserts, each computed once.
CREATE TABLE result AS
WITH m AS (SELECT model FROM fit),
     csm_coef AS (SELECT ARRAY[(model ->> 'intercept')::float8]
                         || ARRAY(SELECT jsonb_array_elements_text(model -> 'coefficients')::float8) AS beta,
                         ARRAY(SELECT jsonb_array_elements_text(model -> 'mean')::float8) AS mean,
                         ARRAY(SELECT jsonb_array_elements_text(model -> 'scale')::float8) AS scale
                  FROM m),
     ev AS (SELECT csm.churn_evaluate(p, churned, 0.5) AS e, csm.auc(p, churned) AS auc FROM pred),
     sq AS (SELECT count(*) AS rows,
                   count(*) FILTER (WHERE p >= 0.5 AND churned) AS tp,
                   count(*) FILTER (WHERE p >= 0.5 AND NOT churned) AS fp,
                   count(*) FILTER (WHERE p < 0.5 AND NOT churned) AS tn,
                   count(*) FILTER (WHERE p < 0.5 AND churned) AS fn,
                   avg((p - churned::int) ^ 2) AS brier,
                   avg(churned::int)::float8 AS rate
            FROM pred),
     ranked AS (SELECT churned, rank() OVER (ORDER BY p) AS lo, count(*) OVER (PARTITION BY p) AS ties FROM pred),
     mw AS (SELECT ((sum(lo + (ties - 1) / 2.0) FILTER (WHERE churned)
                     - count(*) FILTER (WHERE churned) * (count(*) FILTER (WHERE churned) + 1) / 2.0)
                    / (count(*) FILTER (WHERE churned) * count(*) FILTER (WHERE NOT churned)))::float8 AS auc
            FROM ranked),
     train AS (SELECT avg(churned::int)::float8 AS rate FROM churn_row WHERE train),
     ref_auc AS (SELECT (csm.auc(r.p, c.churned)) AS auc,
                        avg(((r.p >= 0.5) = c.churned)::int)::float8 AS accuracy,
                        max(abs(r.p - c.p)) AS max_p_diff
                 FROM ref_pred r JOIN pred c USING (customer_no))
SELECT (ev.e ->> 'accuracy')::float8 AS accuracy,
       (ev.e ->> 'precision')::float8 AS precision,
       (ev.e ->> 'recall')::float8 AS recall,
       (ev.e ->> 'f1')::float8 AS f1,
       (ev.e ->> 'brier')::float8 AS brier,
       (ev.e ->> 'log_loss')::float8 AS log_loss,
       ev.auc,
       ev.e,
       sq.rows, sq.tp, sq.fp, sq.tn, sq.fn, sq.brier AS sql_brier, mw.auc AS sql_auc,
       -- the majority class and the constant prediction come from the training rows
       CASE WHEN train.rate >= 0.5 THEN sq.rate ELSE 1 - sq.rate END AS train_majority_accuracy,
       avg_const.brier AS constant_brier,
       (m.model ->> 'converged')::boolean AS converged,
       (m.model ->> 'rows')::int AS fit_rows,
       ref.iterations AS ref_iterations,
       (SELECT max(abs(cc.beta[j] - ref.beta[j])) FROM generate_series(1, array_length(ref.beta, 1)) AS j) AS max_coef_diff,
       (SELECT max(abs(cc.mean[j] - ref.mean[j]) / greatest(abs(ref.mean[j]), 1)) FROM generate_series(1, array_length(ref.mean, 1)) AS j) AS max_mean_diff,
       (SELECT max(abs(cc.scale[j] - ref.scale[j]) / ref.scale[j]) FROM generate_series(1, array_length(ref.scale, 1)) AS j) AS max_scale_diff,
       array_length(cc.beta, 1) = array_length(ref.beta, 1) AS same_length,
       ref_auc.max_p_diff,
       ref_auc.auc AS ref_auc,
       ref_auc.accuracy AS ref_accuracy
FROM ev, sq, mw, train, ref, ref_auc, m, csm_coef cc,
     LATERAL (SELECT avg((train.rate - churned::int) ^ 2) AS brier FROM pred) avg_const;

SELECT format('test at threshold 0.5: accuracy %s (majority class %s), precision %s, recall %s, F1 %s',
              round(accuracy::numeric, 4), round(train_majority_accuracy::numeric, 4),
              round(precision::numeric, 4), round(recall::numeric, 4), round(f1::numeric, 4))
FROM result;
SELECT format('test: AUC %s, Brier %s (constant train churn rate %s), log-loss %s; confusion tp %s fp %s tn %s fn %s',
              round(auc::numeric, 4), round(brier::numeric, 4), round(constant_brier::numeric, 4),
              round(log_loss::numeric, 4), tp, fp, tn, fn)
FROM result;
SELECT format('reference Newton fit (SQL and PL/pgSQL, %s iterations): accuracy %s, AUC %s; '
              'max |coefficient difference| %s, max |probability difference| %s, mean/scale relative differences %s / %s',
              ref_iterations, round(ref_accuracy::numeric, 4), round(ref_auc::numeric, 4),
              trim(to_char(max_coef_diff, '9.9EEEE')), trim(to_char(max_p_diff, '9.9EEEE')),
              trim(to_char(max_mean_diff, '9.9EEEE')), trim(to_char(max_scale_diff, '9.9EEEE')))
FROM result;

DO $$
DECLARE
    r result;
BEGIN
    SELECT * INTO r FROM result;
    -- the fit itself
    IF NOT r.converged OR r.fit_rows <> (SELECT count(*) FROM churn_row WHERE train) THEN
        RAISE EXCEPTION 'not ok - churn_fit converged %, on % rows', r.converged, r.fit_rows;
    END IF;
    -- the same solution as the independent Newton fit
    IF NOT r.same_length OR r.max_mean_diff > 1e-9 OR r.max_scale_diff > 1e-9 THEN
        RAISE EXCEPTION 'not ok - standardisation differs from the reference (mean %, scale %)', r.max_mean_diff, r.max_scale_diff;
    END IF;
    IF r.max_coef_diff > 1e-6 THEN
        RAISE EXCEPTION 'not ok - coefficients differ from the reference Newton fit by up to %', r.max_coef_diff;
    END IF;
    IF r.max_p_diff > 1e-7 THEN
        RAISE EXCEPTION 'not ok - probabilities differ from the reference Newton fit by up to %', r.max_p_diff;
    END IF;
    -- csm's evaluation against the same numbers in plain SQL
    IF (r.e ->> 'rows')::bigint <> r.rows OR (r.e ->> 'true_positive')::bigint <> r.tp
       OR (r.e ->> 'false_positive')::bigint <> r.fp OR (r.e ->> 'true_negative')::bigint <> r.tn
       OR (r.e ->> 'false_negative')::bigint <> r.fn
       OR abs(r.accuracy - (r.tp + r.tn)::float8 / r.rows) > 1e-12
       OR abs(r.precision - r.tp::float8 / (r.tp + r.fp)) > 1e-12
       OR abs(r.recall - r.tp::float8 / (r.tp + r.fn)) > 1e-12
       OR abs(r.brier - r.sql_brier) > 1e-12 THEN
        RAISE EXCEPTION 'not ok - churn_evaluate % differs from plain SQL (tp % fp % tn % fn %, Brier %)',
            r.e, r.tp, r.fp, r.tn, r.fn, r.sql_brier;
    END IF;
    IF abs(r.auc - r.sql_auc) > 1e-12 THEN
        RAISE EXCEPTION 'not ok - csm.auc % differs from the Mann-Whitney AUC % in plain SQL', r.auc, r.sql_auc;
    END IF;
    -- quality floors
    IF r.auc < 0.82 THEN
        RAISE EXCEPTION 'not ok - AUC % is below the floor 0.82', r.auc;
    END IF;
    IF r.accuracy < 0.78 THEN
        RAISE EXCEPTION 'not ok - accuracy % is below the floor 0.78', r.accuracy;
    END IF;
    IF r.accuracy < r.train_majority_accuracy THEN
        RAISE EXCEPTION 'not ok - accuracy % is below the majority class''s %', r.accuracy, r.train_majority_accuracy;
    END IF;
    IF r.brier >= r.constant_brier THEN
        RAISE EXCEPTION 'not ok - Brier % is no better than a constant prediction''s %', r.brier, r.constant_brier;
    END IF;
END $$;
SQL
echo "ok - churn model on IBM Telco churn: agrees with an independent Newton fit, AUC >= 0.82, accuracy >= 0.78 and above the majority class"
[ -n "${KEEP:-}" ] || dropdb "$db"
