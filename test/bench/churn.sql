-- Churn-model benchmark fixtures: feature rows drawn from a known logistic
-- model, and the prediction written as plain SQL for comparison.
-- Loaded by test/bench/churn.sh after CREATE EXTENSION csm.
CREATE SCHEMA IF NOT EXISTS bench;

-- n rows of p features (uniform on [-1, 1]; feature j has true coefficient
-- ((j % 5) - 2) / 2 and the intercept is -1), labelled by a draw from the
-- model.  Deterministic: setseed, and the INSERT runs in one process.
CREATE FUNCTION bench.make_churn_rows(tab text, n int, p int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE churned bigint;
BEGIN
    PERFORM setseed(0.1234);
    EXECUTE format('DROP TABLE IF EXISTS bench.%I', tab);
    EXECUTE format('CREATE TABLE bench.%I (id int PRIMARY KEY, features float8[] NOT NULL, churned boolean NOT NULL)', tab);
    EXECUTE format($q$
        INSERT INTO bench.%I
        SELECT id, x, random() < 1 / (1 + exp(-(-1 + (SELECT sum(v * ((j %% 5) - 2) / 2.0) FROM unnest(x) WITH ORDINALITY AS u(v, j)))))
        FROM (SELECT id, ARRAY(SELECT random() * 2 - 1 + 0 * id FROM generate_series(1, $2)) AS x
              FROM generate_series(1, $1) AS id) s $q$, tab) USING n, p;
    EXECUTE format('SELECT count(*) FILTER (WHERE churned) FROM bench.%I', tab) INTO churned;
    RETURN format('bench.%s: %s rows x %s features, %s churned', tab, n, p, churned);
END $$;

-- The model's prediction as plain SQL: the weights coefficient / scale and
-- the intercept folded with the means, then one unnest per row.
CREATE FUNCTION bench.inline_weights(model jsonb, OUT b float8, OUT w float8[]) LANGUAGE sql IMMUTABLE AS $$
    SELECT (model->>'intercept')::float8 - sum(c::float8 / s::float8 * m::float8), array_agg(c::float8 / s::float8 ORDER BY j)
    FROM jsonb_array_elements_text(model->'coefficients') WITH ORDINALITY AS c(c, j)
    JOIN jsonb_array_elements_text(model->'mean') WITH ORDINALITY AS m(m, j) USING (j)
    JOIN jsonb_array_elements_text(model->'scale') WITH ORDINALITY AS s(s, j) USING (j)
$$;

-- ROC AUC in plain SQL: the rank-sum (Mann-Whitney) form, ties at their
-- average rank.
CREATE FUNCTION bench.sql_auc(tab regclass, model jsonb) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE r float8;
BEGIN
    EXECUTE format($q$
        WITH s AS (SELECT csm.churn_predict($1, features) AS score, churned FROM %s),
             r AS (SELECT churned, rank() OVER (ORDER BY score) + (count(*) OVER (PARTITION BY score) - 1) / 2.0 AS rk FROM s)
        SELECT (sum(rk) FILTER (WHERE churned) - count(*) FILTER (WHERE churned) * (count(*) FILTER (WHERE churned) + 1) / 2.0)
               / (count(*) FILTER (WHERE churned) * count(*) FILTER (WHERE NOT churned))::float8
        FROM r $q$, tab) INTO r USING model;
    RETURN r;
END $$;
