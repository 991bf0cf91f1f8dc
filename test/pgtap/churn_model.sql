-- The churn model in C against independent truth: coefficients recovered
-- from data drawn from a known logistic model, within 4 standard errors;
-- a small fit equal to a Newton solution computed here in PL/pgSQL;
-- separable data; AUC against a brute-force pair count; churn_evaluate
-- against plain SQL; every error by SQLSTATE; and fuzzed input that must
-- error cleanly or give a probability, never crash.
BEGIN;
SELECT plan(166);
-- churn_fit warns when it does not converge (separable data below): expected here
SET LOCAL client_min_messages = error;

-- ------------------------------------------------------------------ helpers
-- Gaussian elimination with partial pivoting: solves a x = b (a is n x n).
-- Deliberately not a Cholesky: an independent way to the same numbers.
CREATE FUNCTION pg_temp.solve(a float8[], b float8[]) RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
    n int := array_length(b, 1);
    piv int; t float8; f float8;
BEGIN
    FOR k IN 1..n LOOP
        piv := k;
        FOR i IN k + 1..n LOOP
            IF abs(a[i][k]) > abs(a[piv][k]) THEN piv := i; END IF;
        END LOOP;
        IF piv <> k THEN
            FOR j IN 1..n LOOP t := a[k][j]; a[k][j] := a[piv][j]; a[piv][j] := t; END LOOP;
            t := b[k]; b[k] := b[piv]; b[piv] := t;
        END IF;
        FOR i IN k + 1..n LOOP
            f := a[i][k] / a[k][k];
            FOR j IN k..n LOOP a[i][j] := a[i][j] - f * a[k][j]; END LOOP;
            b[i] := b[i] - f * b[k];
        END LOOP;
    END LOOP;
    FOR i IN REVERSE n..1 LOOP
        t := b[i];
        FOR j IN i + 1..n LOOP t := t - a[i][j] * b[j]; END LOOP;
        b[i] := t / a[i][i];
    END LOOP;
    RETURN b;
END $$;

-- Plain Newton for the same objective csm.churn_fit documents: features
-- standardised by mean and population standard deviation, summed log-loss
-- + lambda/2 * sum of squared coefficients (not the intercept).  Starts
-- from zero (churn_fit starts from the log-odds), full steps, no damping.
-- xs is n x p; returns [intercept, coefficients...] on the standardised scale.
CREATE FUNCTION pg_temp.newton(xs float8[], ys boolean[], lambda float8,
                               OUT beta float8[], OUT mean float8[], OUT scale float8[], OUT log_loss float8)
LANGUAGE plpgsql AS $$
DECLARE
    n int := array_length(xs, 1);
    p int := array_length(xs, 2);
    q int := p + 1;
    s float8[] := array_fill(0::float8, ARRAY[n, q]);
    g float8[]; h float8[]; d float8[];
    z float8; mu float8; w float8; r float8; acc float8; step float8;
BEGIN
    mean := array_fill(0::float8, ARRAY[p]);
    scale := array_fill(0::float8, ARRAY[p]);
    FOR j IN 1..p LOOP
        acc := 0;
        FOR i IN 1..n LOOP acc := acc + xs[i][j]; END LOOP;
        mean[j] := acc / n;
        acc := 0;
        FOR i IN 1..n LOOP acc := acc + (xs[i][j] - mean[j]) ^ 2; END LOOP;
        scale[j] := sqrt(acc / n);
    END LOOP;
    FOR i IN 1..n LOOP
        s[i][1] := 1;
        FOR j IN 1..p LOOP s[i][j + 1] := (xs[i][j] - mean[j]) / scale[j]; END LOOP;
    END LOOP;
    beta := array_fill(0::float8, ARRAY[q]);
    FOR it IN 1..100 LOOP
        g := array_fill(0::float8, ARRAY[q]);
        h := array_fill(0::float8, ARRAY[q, q]);
        FOR i IN 1..n LOOP
            z := 0;
            FOR j IN 1..q LOOP z := z + beta[j] * s[i][j]; END LOOP;
            mu := 1 / (1 + exp(-z));
            r := mu - CASE WHEN ys[i] THEN 1 ELSE 0 END;
            w := mu * (1 - mu);
            FOR j IN 1..q LOOP
                g[j] := g[j] + r * s[i][j];
                FOR k IN 1..q LOOP h[j][k] := h[j][k] + w * s[i][j] * s[i][k]; END LOOP;
            END LOOP;
        END LOOP;
        FOR j IN 2..q LOOP
            g[j] := g[j] + lambda * beta[j];
            h[j][j] := h[j][j] + lambda;
        END LOOP;
        FOR j IN 1..q LOOP g[j] := -g[j]; END LOOP;
        d := pg_temp.solve(h, g);
        step := 0;
        FOR j IN 1..q LOOP
            beta[j] := beta[j] + d[j];
            step := greatest(step, abs(d[j]));
        END LOOP;
        EXIT WHEN step < 1e-14;
    END LOOP;
    log_loss := 0;
    FOR i IN 1..n LOOP
        z := 0;
        FOR j IN 1..q LOOP z := z + beta[j] * s[i][j]; END LOOP;
        log_loss := log_loss + CASE WHEN ys[i] THEN ln(1 + exp(-z)) ELSE ln(1 + exp(z)) END;
    END LOOP;
    log_loss := log_loss / n;
END $$;

CREATE FUNCTION pg_temp.num_array(j jsonb) RETURNS float8[] LANGUAGE sql IMMUTABLE AS
$$ SELECT array_agg(v::float8 ORDER BY o) FROM jsonb_array_elements_text(j) WITH ORDINALITY AS e(v, o) $$;

CREATE FUNCTION pg_temp.max_abs_diff(a float8[], b float8[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN cardinality(a) = cardinality(b) THEN (SELECT max(abs(x - y)) FROM unnest(a, b) AS u(x, y))
               ELSE 'Infinity' END $$;

-- ------------------------------------------------------------------ (1) recovery
-- 50,000 rows, 10 features with different means and spreads, labels drawn
-- from a known logistic model on the raw features.  setseed makes the
-- draws the same on every run (random() with a seed is deterministic and
-- the INSERT runs serially).
SELECT setseed(0.3141);
CREATE TEMP TABLE truth (j int PRIMARY KEY, mu float8, sd float8, coef float8);
-- raw coefficients: effect per standard deviation / sd (feature 6 has none)
INSERT INTO truth VALUES
    (1, 0, 1, 1.0), (2, 5, 2, -0.8 / 2), (3, -3, 0.5, 0.6 / 0.5), (4, 100, 10, -0.4 / 10),
    (5, 0, 0.1, 0.2 / 0.1), (6, 1, 1, 0), (7, 50, 25, 0.5 / 25), (8, -1, 3, -1.2 / 3),
    (9, 0, 4, 0.3 / 4), (10, 2, 0.25, 0.9 / 0.25);
CREATE TEMP TABLE gen AS
SELECT i, x, random() < 1 / (1 + exp(-(-0.7 + (SELECT sum(t.coef * x[t.j]) FROM truth t)))) AS churned
FROM (SELECT i, ARRAY(SELECT t.mu + t.sd * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) + 0 * i
                      FROM truth t ORDER BY t.j) AS x
      FROM generate_series(1, 50000) AS i) s;
CREATE TEMP TABLE recovered AS
SELECT csm.churn_fit(x, churned, '{"lambda": 1e-9, "max_iterations": 100}') AS m FROM gen;

-- Standard errors from the Fisher information at the true coefficients, on
-- the raw scale: I = sum over rows of w v v', v = (1, x), w = p (1 - p);
-- Var = I^-1, its columns solved one at a time.
CREATE TEMP TABLE fisher AS
SELECT i, x, pr * (1 - pr) AS w
FROM (SELECT i, x, 1 / (1 + exp(-(-0.7 + (SELECT sum(t.coef * x[t.j]) FROM truth t)))) AS pr FROM gen) s;
CREATE FUNCTION pg_temp.standard_errors() RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
    q int := 11;
    sums float8[];
    info float8[] := array_fill(0::float8, ARRAY[q, q]);
    e float8[]; col float8[]; se float8[] := '{}';
    k int := 0;
BEGIN
    -- one pass, one sum per entry of the lower triangle (indices only in the text)
    EXECUTE 'SELECT ARRAY[' || (SELECT string_agg(format('sum(w * (ARRAY[1::float8] || x)[%s] * (ARRAY[1::float8] || x)[%s])', a, b), ', ' ORDER BY a, b)
                                FROM generate_series(1, 11) a, generate_series(1, 11) b WHERE b <= a)
            || '] FROM fisher' INTO sums;
    FOR a IN 1..q LOOP
        FOR b IN 1..a LOOP
            k := k + 1;
            info[a][b] := sums[k];
            info[b][a] := sums[k];
        END LOOP;
    END LOOP;
    FOR a IN 1..q LOOP
        e := array_fill(0::float8, ARRAY[q]);
        e[a] := 1;
        col := pg_temp.solve(info, e);
        se := se || sqrt(col[a]);
    END LOOP;
    RETURN se;
END $$;
CREATE TEMP TABLE se AS SELECT pg_temp.standard_errors() AS se;

SELECT is((SELECT (m->>'converged')::boolean FROM recovered), true, 'recovery: the 50k x 10 fit converged');
SELECT is((SELECT (m->>'rows')::int FROM recovered), 50000, 'recovery: rows counted');
SELECT is((SELECT (m->>'positives')::int FROM recovered), (SELECT count(*)::int FROM gen WHERE churned), 'recovery: positives counted');
-- each raw coefficient coef_j / scale_j within 4 standard errors of the truth
SELECT cmp_ok(abs((m->'coefficients'->>(t.j - 1))::float8 / (m->'scale'->>(t.j - 1))::float8 - t.coef), '<=', 4 * se.se[t.j + 1],
              format('recovery: raw coefficient %s (truth %s) within 4 SE (%s)', t.j, round(t.coef::numeric, 4), round(4 * se.se[t.j + 1]::numeric, 5)))
FROM recovered, truth t, se ORDER BY t.j;
SELECT cmp_ok(abs((m->>'intercept')::float8
                  - (SELECT sum((m->'coefficients'->>(t.j - 1))::float8 * (m->'mean'->>(t.j - 1))::float8 / (m->'scale'->>(t.j - 1))::float8) FROM truth t)
                  - (-0.7)), '<=', 4 * se.se[1], 'recovery: raw intercept within 4 SE of -0.7')
FROM recovered, se;
-- the standardisation is the data's own mean and population standard deviation
SELECT cmp_ok(pg_temp.max_abs_diff(pg_temp.num_array(m->'mean'),
                                   (SELECT array_agg(avg ORDER BY j) FROM (SELECT j, avg(x[j]) FROM gen, generate_series(1, 10) j GROUP BY j) a)),
              '<', 1e-9::float8, 'recovery: mean is each feature''s mean') FROM recovered;
SELECT cmp_ok(pg_temp.max_abs_diff(pg_temp.num_array(m->'scale'),
                                   (SELECT array_agg(sd ORDER BY j) FROM (SELECT j, stddev_pop(x[j]) AS sd FROM gen, generate_series(1, 10) j GROUP BY j) a)),
              '<', 1e-9::float8, 'recovery: scale is each feature''s population standard deviation') FROM recovered;
-- log_loss is the mean unpenalised log-loss of the model's own predictions
SELECT cmp_ok(abs((m->>'log_loss')::float8
                  - (SELECT avg(CASE WHEN churned THEN -ln(csm.churn_predict(m, x)) ELSE -ln(1 - csm.churn_predict(m, x)) END) FROM gen)),
              '<', 1e-9::float8, 'recovery: log_loss matches the predictions') FROM recovered;

-- Rows beyond work_mem go to a temporary file; the model is the same, bit for bit.
SET LOCAL work_mem = '64kB';
SELECT is((SELECT csm.churn_fit(x, churned, '{"lambda": 1e-9, "max_iterations": 100}') FROM gen), (SELECT m FROM recovered),
          'a fit spilled to a temporary file (work_mem 64kB) gives the same model');
SET LOCAL work_mem = '3MB';
SELECT is((SELECT csm.churn_fit(x, churned, '{"lambda": 1e-9, "max_iterations": 100}') FROM gen), (SELECT m FROM recovered),
          'so does one with some rows in memory and the rest in the file (work_mem 3MB)');
-- A window aggregate cannot spill (no shutdown callback): it keeps every row in memory.
SELECT is((SELECT csm.churn_fit(x, churned, '{"lambda": 1e-9, "max_iterations": 100}') OVER () FROM gen LIMIT 1), (SELECT m FROM recovered),
          'churn_fit as a window aggregate gives the same model');
RESET work_mem;
-- One fit per group.
SELECT is((SELECT count(*)::int FROM (SELECT i % 3 AS g, csm.churn_fit(x, churned) AS m FROM gen GROUP BY 1) f
           WHERE (m->>'rows')::int BETWEEN 16666 AND 16667 AND (m->>'converged')::boolean), 3, 'one fit per GROUP BY group');

-- ------------------------------------------------------------------ (2) Newton in PL/pgSQL
-- 40 rows, 3 features on different scales; labels mixed so no plane separates them.
CREATE TEMP TABLE small AS
SELECT i, ARRAY[sin(i * 1.7), 10 + 5 * cos(i * 0.9), (i * 7 % 11)::float8] AS x,
       (sin(i * 1.7) + 0.2 * cos(i * 0.9) + ((i * 13) % 5 - 2) * 0.4 > 0) AS churned
FROM generate_series(1, 40) i;
CREATE TEMP TABLE small_fit AS
SELECT lambda, m, (nt).beta AS nbeta, (nt).mean AS nmean, (nt).scale AS nscale, (nt).log_loss AS nloss
FROM (SELECT l.lambda, (SELECT csm.churn_fit(x, churned, jsonb_build_object('lambda', l.lambda)) FROM small) AS m,
             pg_temp.newton((SELECT array_agg(x ORDER BY i) FROM small), (SELECT array_agg(churned ORDER BY i) FROM small), l.lambda) AS nt
      FROM unnest(ARRAY[0, 0.5, 5]::float8[]) AS l(lambda)) s;
SELECT ok((m->>'converged')::boolean AND (m->>'iterations')::int < 50, format('small, lambda %s: converged', lambda)) FROM small_fit ORDER BY lambda;
SELECT cmp_ok(pg_temp.max_abs_diff(ARRAY[(m->>'intercept')::float8] || pg_temp.num_array(m->'coefficients'), nbeta), '<', 1e-6::float8,
              format('small, lambda %s: intercept and coefficients match PL/pgSQL Newton within 1e-6', lambda))
FROM small_fit ORDER BY lambda;
SELECT cmp_ok(pg_temp.max_abs_diff(pg_temp.num_array(m->'mean') || pg_temp.num_array(m->'scale'), nmean || nscale), '<', 1e-12::float8,
              format('small, lambda %s: mean and scale match', lambda))
FROM small_fit ORDER BY lambda;
SELECT cmp_ok(abs((m->>'log_loss')::float8 - nloss), '<', 1e-9::float8, format('small, lambda %s: log_loss matches', lambda))
FROM small_fit ORDER BY lambda;
-- the penalty shrinks: the larger lambda, the smaller the coefficients
SELECT ok((SELECT bool_and(n2 < n1) FROM (SELECT lambda, sqrt((SELECT sum(c ^ 2) FROM unnest(pg_temp.num_array(m->'coefficients')) c)) AS n1,
                                                 lead(sqrt((SELECT sum(c ^ 2) FROM unnest(pg_temp.num_array(m->'coefficients')) c))) OVER (ORDER BY lambda) AS n2
                                          FROM small_fit) s WHERE n2 IS NOT NULL), 'a larger lambda gives smaller coefficients');
-- prediction and contributions, from the independent solution
SELECT cmp_ok((SELECT max(abs(csm.churn_predict(f.m, s.x)
                              - 1 / (1 + exp(-(f.nbeta[1] + (SELECT sum(f.nbeta[j + 1] * (s.x[j] - f.nmean[j]) / f.nscale[j]) FROM generate_series(1, 3) j))))))
               FROM small s), '<', 1e-9::float8, 'churn_predict matches the PL/pgSQL model''s probabilities')
FROM small_fit f WHERE lambda = 0.5;
SELECT cmp_ok((SELECT max(pg_temp.max_abs_diff(csm.churn_contributions(f.m, s.x),
                                               ARRAY(SELECT f.nbeta[j + 1] * (s.x[j] - f.nmean[j]) / f.nscale[j] FROM generate_series(1, 3) j ORDER BY j)))
               FROM small s), '<', 1e-9::float8, 'churn_contributions are coefficient x standardised value')
FROM small_fit f WHERE lambda = 0.5;
SELECT cmp_ok((SELECT max(abs(csm.churn_predict(f.m, s.x)
                              - 1 / (1 + exp(-((f.m->>'intercept')::float8 + (SELECT sum(c) FROM unnest(csm.churn_contributions(f.m, s.x)) c))))))
               FROM small s), '<', 1e-12::float8, 'intercept + the sum of the contributions is the log-odds of the prediction')
FROM small_fit f WHERE lambda = 0.5;

-- A constant feature gets scale 1 and coefficient 0; the others are as without it.
SELECT is((SELECT csm.churn_fit(x || 42::float8, churned, '{"lambda": 0.5}') FROM small)->'scale'->3, '1'::jsonb, 'a constant feature gets scale 1');
SELECT is((SELECT csm.churn_fit(x || 42::float8, churned, '{"lambda": 0.5}') FROM small)->'coefficients'->3, '0'::jsonb, 'and coefficient 0');
SELECT cmp_ok(pg_temp.max_abs_diff((pg_temp.num_array((SELECT csm.churn_fit(x || 42::float8, churned, '{"lambda": 0}') FROM small)->'coefficients'))[1:3],
                                   (SELECT nbeta[2:4] FROM small_fit WHERE lambda = 0)), '<', 1e-6::float8,
              'the other coefficients are unchanged by it, even with lambda 0');
-- Zero features: the intercept-only model, the log-odds of churn.
SELECT cmp_ok(abs(((SELECT csm.churn_fit('{}'::float8[], churned) FROM small)->>'intercept')::float8
                  - ln((SELECT count(*) FILTER (WHERE churned)::float8 / count(*) FILTER (WHERE NOT churned) FROM small))), '<', 1e-9::float8,
              'zero features: the intercept is the log-odds of churn');
-- Feature names are kept; rows with a NULL features array or label are skipped.
SELECT is((SELECT csm.churn_fit(x, churned, '{"feature_names": ["a", "b", "c"]}') FROM small)->'feature_names', '["a", "b", "c"]'::jsonb,
          'feature_names are kept in the model');
SELECT is((SELECT csm.churn_fit(x, churned, '{"lambda": 0.5}') FROM (SELECT x, churned FROM small UNION ALL VALUES (NULL::float8[], true), ('{1,2,3}'::float8[], NULL::boolean)) s),
          (SELECT m FROM small_fit WHERE lambda = 0.5), 'rows with NULL features or a NULL label are skipped');
SELECT is((SELECT csm.churn_fit(x, churned) FROM small WHERE false), NULL, 'no rows: NULL');
SELECT is((SELECT csm.churn_fit(NULL::float8[], churned) FROM small), NULL, 'only skipped rows: NULL');

-- ------------------------------------------------------------------ (3) separable data
CREATE TEMP TABLE sep AS SELECT i, ARRAY[i / 10.0, (i % 7)::float8] AS x, i > 50 AS churned FROM generate_series(1, 100) i;
CREATE TEMP TABLE sep_fit AS
SELECT (SELECT csm.churn_fit(x, churned) FROM sep) AS penalised,
       (SELECT csm.churn_fit(x, churned, '{"lambda": 0}') FROM sep) AS unpenalised;
SELECT ok((penalised->>'converged')::boolean AND (penalised->>'iterations')::int < 50, 'separable, lambda 1: converged in fewer than 50 iterations') FROM sep_fit;
SELECT cmp_ok((SELECT max(abs(c)) FROM unnest(pg_temp.num_array(penalised->'coefficients')) c), '<', 10::float8,
              'separable, lambda 1: coefficients finite and moderate') FROM sep_fit;
SELECT is((unpenalised->>'converged')::boolean, false, 'separable, lambda 0: does not claim convergence') FROM sep_fit;
SELECT is((unpenalised->>'iterations')::int, 50, 'separable, lambda 0: stops at max_iterations') FROM sep_fit;
SELECT ok((SELECT bool_and(c = c AND abs(c) < 1e12) FROM unnest(pg_temp.num_array(unpenalised->'coefficients') || (unpenalised->>'intercept')::float8) c),
          'separable, lambda 0: every coefficient finite, none NaN') FROM sep_fit;
SELECT is((SELECT count(*)::int FROM sep WHERE (csm.churn_predict(unpenalised, x) > 0.5) = churned), 100,
          'separable, lambda 0: the model separates the classes') FROM sep_fit;
SELECT is((SELECT (csm.churn_fit(x, churned, '{"lambda": 0, "max_iterations": 1000}')->>'converged')::boolean FROM sep), false,
          'separable, lambda 0, 1000 iterations (weights underflow): still not converged');

-- ------------------------------------------------------------------ (4) AUC
-- 3,000 rows, scores rounded to give many ties, some infinite, some NULL.
CREATE TEMP TABLE scored AS
SELECT i, CASE WHEN i % 250 = 0 THEN 'Infinity'::float8 WHEN i % 333 = 0 THEN '-Infinity'::float8 WHEN i % 97 = 0 THEN NULL
               ELSE round((random() + CASE WHEN i % 3 = 0 THEN 0.3 ELSE 0 END)::numeric, 2)::float8 END AS score,
       CASE WHEN i % 101 = 0 THEN NULL ELSE i % 3 = 0 OR random() < 0.2 END AS label
FROM generate_series(1, 3000) i;
CREATE FUNCTION pg_temp.brute_auc() RETURNS float8 LANGUAGE sql AS $$
    SELECT avg(CASE WHEN p.score > n.score THEN 1 WHEN p.score = n.score THEN 0.5 ELSE 0 END)
    FROM scored p, scored n
    WHERE p.label AND NOT n.label AND p.score IS NOT NULL AND n.score IS NOT NULL
$$;
SELECT cmp_ok(abs((SELECT csm.auc(score, label) FROM scored) - pg_temp.brute_auc()), '<', 1e-12::float8, 'auc equals the pairwise count, ties half');
SELECT ok((SELECT count(*) FROM scored s1 JOIN scored s2 ON s1.score = s2.score AND s1.label AND NOT s2.label) > 1000, 'and the data has many tied pairs');
SELECT cmp_ok(abs((SELECT csm.auc(-score, label) FROM scored) - (1 - pg_temp.brute_auc())), '<', 1e-12::float8, 'reversed scores give 1 - auc');
SELECT is((SELECT csm.auc(1, label) FROM scored), 0.5::float8, 'all scores tied: 0.5');
SELECT is((SELECT csm.auc(i, i > 1500) FROM scored), 1::float8, 'perfect ranking: 1');
SELECT is((SELECT csm.auc(score, true) FROM scored), NULL, 'one class only: NULL');
SELECT is((SELECT csm.auc(score, label) FROM scored WHERE false), NULL, 'no rows: NULL');

-- ------------------------------------------------------------------ (5) churn_evaluate
CREATE TEMP TABLE probs AS
SELECT i, CASE WHEN i % 89 = 0 THEN NULL ELSE random() END AS p, CASE WHEN i % 97 = 0 THEN NULL ELSE random() < 0.35 END AS y
FROM generate_series(1, 5000) i;
-- the edges: certain and wrong (log-loss clipped), exactly at the thresholds (predicted to churn)
INSERT INTO probs VALUES (5001, 0, true), (5002, 1, false), (5003, 0.5, true), (5004, 0.5, false), (5005, 0.3, false), (5006, 1, true), (5007, 0, false);
CREATE FUNCTION pg_temp.evaluate_sql(t float8) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('rows', count(*), 'tp', count(*) FILTER (WHERE p >= t AND y), 'fp', count(*) FILTER (WHERE p >= t AND NOT y),
                              'tn', count(*) FILTER (WHERE p < t AND NOT y), 'fn', count(*) FILTER (WHERE p < t AND y),
                              'brier', avg((p - y::int) ^ 2),
                              'log_loss', avg(CASE WHEN y THEN -ln(greatest(least(p, 1 - 1e-15), 1e-15))
                                                 ELSE -ln(1 - greatest(least(p, 1 - 1e-15), 1e-15)) END))
    FROM probs WHERE p IS NOT NULL AND y IS NOT NULL
$$;
CREATE TEMP TABLE evaluated AS
SELECT t, CASE WHEN t = 0.5 THEN (SELECT csm.churn_evaluate(p, y) FROM probs) ELSE (SELECT csm.churn_evaluate(p, y, t) FROM probs) END AS e,
       pg_temp.evaluate_sql(t) AS s
FROM unnest(ARRAY[0.5, 0.3, 0, 1]::float8[]) AS t;
SELECT is(ARRAY[(e->>'rows')::int, (e->>'true_positive')::int, (e->>'false_positive')::int, (e->>'true_negative')::int, (e->>'false_negative')::int],
          ARRAY[(s->>'rows')::int, (s->>'tp')::int, (s->>'fp')::int, (s->>'tn')::int, (s->>'fn')::int],
          format('churn_evaluate at %s: rows and confusion matrix as counted in SQL', t))
FROM evaluated ORDER BY t;
SELECT cmp_ok(pg_temp.max_abs_diff(
                  ARRAY[(e->>'accuracy')::float8, (e->>'precision')::float8, (e->>'recall')::float8, (e->>'f1')::float8, (e->>'brier')::float8, (e->>'log_loss')::float8],
                  ARRAY[((s->>'tp')::float8 + (s->>'tn')::float8) / (s->>'rows')::float8,
                        (s->>'tp')::float8 / ((s->>'tp')::float8 + (s->>'fp')::float8),
                        (s->>'tp')::float8 / ((s->>'tp')::float8 + (s->>'fn')::float8),
                        2 * (s->>'tp')::float8 / (2 * (s->>'tp')::float8 + (s->>'fp')::float8 + (s->>'fn')::float8),
                        (s->>'brier')::float8, (s->>'log_loss')::float8]), '<', 1e-12::float8,
              format('churn_evaluate at %s: accuracy, precision, recall, f1, brier and log_loss as computed in SQL', t))
FROM evaluated WHERE t IN (0.3, 0.5) ORDER BY t;
SELECT is((e->>'threshold')::float8, t, format('churn_evaluate reports threshold %s', t)) FROM evaluated WHERE t IN (0.3, 0.5) ORDER BY t;
SELECT is((SELECT csm.churn_evaluate(p * 0.5, y, 0.9) FROM probs) - ARRAY['rows', 'threshold', 'accuracy', 'recall', 'brier', 'log_loss',
                                                                          'true_positive', 'false_positive', 'true_negative', 'false_negative'],
          '{"f1": null, "precision": null}'::jsonb, 'nothing predicted to churn: precision and f1 are null');
SELECT is((SELECT csm.churn_evaluate(p, y) FROM probs WHERE NOT y)->'recall', 'null'::jsonb, 'nothing churned: recall is null');
SELECT is((SELECT csm.churn_evaluate(p, y) FROM probs WHERE false), NULL, 'churn_evaluate over no rows: NULL');

-- Parallel: partial states serialised in workers and combined in the leader.
CREATE TABLE churn_tap_parallel AS SELECT s.i, s.score, s.label, p.p, p.y FROM scored s JOIN probs p USING (i);  -- workers cannot read temporary tables
ANALYZE churn_tap_parallel;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text := ''; l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN ' || q LOOP r := r || l || E'\n'; END LOOP;
    RETURN r;
END $$;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;
SELECT matches(pg_temp.plan_of('SELECT csm.auc(score, label), csm.churn_evaluate(p, y) FROM churn_tap_parallel'), 'Partial Aggregate',
               'auc and churn_evaluate run as parallel partial aggregates');
CREATE TEMP TABLE par AS SELECT csm.auc(score, label) AS auc, csm.churn_evaluate(p, y) AS e FROM churn_tap_parallel;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
SELECT is((SELECT auc FROM par), (SELECT csm.auc(score, label) FROM scored WHERE i IN (SELECT i FROM probs)), 'parallel auc equals the serial one');
SELECT is((SELECT e - 'brier' - 'log_loss' FROM par), (SELECT csm.churn_evaluate(p, y) - 'brier' - 'log_loss' FROM probs WHERE i IN (SELECT i FROM scored)),
          'parallel churn_evaluate equals the serial one');
SELECT cmp_ok(abs((SELECT (e->>'brier')::float8 FROM par) - (SELECT (csm.churn_evaluate(p, y)->>'brier')::float8 FROM probs WHERE i IN (SELECT i FROM scored))),
              '<', 1e-12::float8, 'parallel brier equals the serial one (up to summation order)');

-- ------------------------------------------------------------------ (6) errors
CREATE TEMP TABLE ok_model AS
SELECT '{"kind": "logistic_regression", "features": 2, "intercept": 0.5, "coefficients": [1, -1], "mean": [0, 0], "scale": [1, 2]}'::jsonb AS m;
-- fitting
SELECT throws_ok($$SELECT csm.churn_fit(x, true) FROM small$$, '22000', 'cannot fit: every row is churned', 'fit: every row churned');
SELECT throws_ok($$SELECT csm.churn_fit(x, false) FROM small$$, '22000', 'cannot fit: none of the rows is churned', 'fit: none churned');
SELECT throws_ok($$SELECT csm.churn_fit(x, churned) FROM small WHERE i <= 3$$, '22000', 'cannot fit 3 features on 3 rows', 'fit: no more rows than features');
SELECT throws_ok($$SELECT csm.churn_fit(CASE WHEN i = 7 THEN x[1:2] ELSE x END, churned) FROM small$$, '2202E', 'features arrays differ in length', 'fit: arrays of different lengths');
SELECT throws_ok($$SELECT csm.churn_fit(ARRAY[x, x], churned) FROM small$$, '2202E', NULL, 'fit: a two-dimensional array');
SELECT throws_ok($$SELECT csm.churn_fit(x || NULL::float8, churned) FROM small$$, '22004', 'feature 4 is NULL', 'fit: a NULL element');
SELECT throws_ok($$SELECT csm.churn_fit(x || 'NaN'::float8, churned) FROM small$$, '22003', 'feature 4 is NaN', 'fit: NaN');
SELECT throws_ok($$SELECT csm.churn_fit(x || 'Infinity'::float8, churned) FROM small$$, '22003', 'feature 4 is Infinity', 'fit: Infinity');
SELECT throws_ok($$SELECT csm.churn_fit(x || '-Infinity'::float8, churned) FROM small$$, '22003', 'feature 4 is -Infinity', 'fit: -Infinity');
SELECT throws_ok($$SELECT csm.churn_fit(x || (CASE WHEN churned THEN 1e300 ELSE -1e300 END)::float8, churned) FROM small$$, '22003',
                 'feature 4 cannot be standardised', 'fit: values too large to standardise');
SELECT throws_ok($$SELECT csm.churn_fit(array_fill(i::float8, ARRAY[1001]), churned) FROM small$$, '54000', NULL, 'fit: more than 1000 features');
SELECT throws_ok(format($$SELECT csm.churn_fit(x, churned, %L) FROM small$$, o), '22023', NULL, 'fit: bad options ' || o)
FROM unnest(ARRAY['[]', '1', '"lambda"', '{"lambdas": 1}', '{"lambda": -1}', '{"lambda": "1"}', '{"lambda": null}', '{"lambda": 1e400}',
                  '{"max_iterations": 0}', '{"max_iterations": 1.5}', '{"max_iterations": 10001}', '{"tolerance": 0}', '{"tolerance": -1e-8}',
                  '{"feature_names": "a"}', '{"feature_names": ["a", 2, "c"]}', '{"feature_names": ["a", null, "c"]}']) AS o;
SELECT throws_ok($$SELECT csm.churn_fit(x, churned, '{"feature_names": ["a"]}') FROM small$$, '2202E', NULL, 'fit: feature_names of the wrong length');
SELECT throws_ok($$SELECT csm.churn_fit(x, churned, jsonb_build_object('lambda', i % 2)) FROM small$$, '22023',
                 'churn_fit options must be the same for every row', 'fit: options that change between rows');
-- predicting
SELECT throws_ok(format($$SELECT csm.churn_predict(%L, '{1, 2}')$$, bad), '22023', 'malformed churn model', 'predict: malformed model, ' || why)
FROM ok_model, LATERAL (VALUES
    ('[]'::jsonb, 'an array'), ('1', 'a number'), ('"m"', 'a string'), ('null', 'JSON null'),
    (m - 'kind', 'no kind'), (m || '{"kind": "linear"}', 'another kind'), (m || '{"kind": 1}', 'kind not a string'),
    (m - 'features', 'no features'), (m || '{"features": "2"}', 'features a string'), (m || '{"features": 2.5}', 'features fractional'),
    (m || '{"features": -1}', 'features negative'), (m || '{"features": 1001}', 'features over 1000'), (m || '{"features": 3}', 'features not the arrays'' length'),
    (m - 'intercept', 'no intercept'), (m || '{"intercept": null}', 'intercept null'), (m || '{"intercept": 1e400}', 'intercept beyond float8'),
    (m - 'coefficients', 'no coefficients'), (m || '{"coefficients": {"a": 1}}', 'coefficients an object'), (m || '{"coefficients": [1]}', 'coefficients too short'),
    (m || '{"coefficients": [1, "x"]}', 'a coefficient a string'), (m || '{"coefficients": [1, [2]]}', 'a coefficient an array'),
    (m || '{"coefficients": [1, 1e309]}', 'a coefficient beyond float8'), (m - 'mean', 'no mean'), (m || '{"mean": [0, 0, 0]}', 'mean too long'),
    (m || '{"mean": [0, null]}', 'a mean null'), (m - 'scale', 'no scale'), (m || '{"scale": [1, 0]}', 'a scale 0'), (m || '{"scale": [-1, 1]}', 'a scale negative'),
    (m || '{"scale": [1e-320, 1], "coefficients": [1e10, 1]}', 'coefficient / scale beyond float8'),
    (m || '{"feature_names": ["a"]}', 'feature_names too short'), (m || '{"feature_names": ["a", 1]}', 'a feature name a number'),
    (m || '{"feature_names": "ab"}', 'feature_names a string')) AS b(bad, why);
SELECT throws_ok($$SELECT csm.churn_predict(m, '{1, 2, 3}') FROM ok_model$$, '2202E', 'the churn model has 2 features, but the array has 3', 'predict: too many features');
SELECT throws_ok($$SELECT csm.churn_predict(m, '{}') FROM ok_model$$, '2202E', NULL, 'predict: an empty array for a 2-feature model');
SELECT throws_ok($$SELECT csm.churn_predict(m, '{{1, 2}}') FROM ok_model$$, '2202E', NULL, 'predict: a two-dimensional array');
SELECT throws_ok($$SELECT csm.churn_predict(m, '{1, NULL}') FROM ok_model$$, '22004', 'feature 2 is NULL', 'predict: a NULL element');
SELECT throws_ok($$SELECT csm.churn_predict(m, '{NaN, 1}') FROM ok_model$$, '22003', 'feature 1 is NaN', 'predict: NaN');
SELECT throws_ok($$SELECT csm.churn_predict(m, '{1, -Infinity}') FROM ok_model$$, '22003', NULL, 'predict: -Infinity');
SELECT throws_ok($$SELECT csm.churn_predict(m || '{"mean": [-1e308, -1e308]}', '{1e308, 1e308}') FROM ok_model$$, '22003', NULL,
                 'predict: contributions of +Infinity and -Infinity (no NaN)');
SELECT throws_ok($$SELECT csm.churn_contributions(m, '{1}') FROM ok_model$$, '2202E', NULL, 'contributions: wrong length');
SELECT throws_ok($$SELECT csm.churn_contributions(m - 'scale', '{1, 2}') FROM ok_model$$, '22023', NULL, 'contributions: malformed model');
SELECT throws_ok($$SELECT csm.churn_contributions(m, '{Infinity, 2}') FROM ok_model$$, '22003', NULL, 'contributions: Infinity');
-- evaluating
SELECT throws_ok($$SELECT csm.auc(s, true) FROM unnest('{1, NaN}'::float8[]) s$$, '22003', 'csm.auc score is NaN', 'auc: NaN score');
SELECT throws_ok($$SELECT csm.churn_evaluate(1.5, true)$$, '22003', 'probability 1.5 is outside [0, 1]', 'evaluate: probability above 1');
SELECT throws_ok($$SELECT csm.churn_evaluate(-0.1, true)$$, '22003', NULL, 'evaluate: probability below 0');
SELECT throws_ok($$SELECT csm.churn_evaluate('NaN', true)$$, '22003', NULL, 'evaluate: NaN probability');
SELECT throws_ok($$SELECT csm.churn_evaluate(0.5, true, 1.5)$$, '22023', NULL, 'evaluate: threshold above 1');
SELECT throws_ok($$SELECT csm.churn_evaluate(0.5, true, 'NaN')$$, '22023', NULL, 'evaluate: NaN threshold');
SELECT throws_ok($$SELECT csm.churn_evaluate(0.5, true, NULL)$$, '22004', NULL, 'evaluate: NULL threshold');
SELECT throws_ok($$SELECT csm.churn_evaluate(p, y, (i % 2) / 2.0) FROM probs$$, '22023', 'csm.churn_evaluate threshold must be the same for every row',
                 'evaluate: a threshold that changes between rows');

-- ------------------------------------------------------------------ the model cache
-- Two models alternating row by row (each call re-parses), a constant one,
-- and a 1000-feature model read from a table (TOASTed: cached by its
-- pointer) all give what a fresh parse gives.
CREATE TEMP TABLE two AS SELECT (SELECT m FROM small_fit WHERE lambda = 0) AS m0, (SELECT m FROM small_fit WHERE lambda = 5) AS m5;
SELECT is((SELECT count(*)::int FROM small, two
           WHERE csm.churn_predict(CASE WHEN i % 2 = 0 THEN m0 ELSE m5 END, x)
                 = CASE WHEN i % 2 = 0 THEN csm.churn_predict((SELECT m0 FROM two), x) ELSE csm.churn_predict((SELECT m5 FROM two), x) END),
          40, 'alternating models: every prediction is its own model''s');
-- In PL/pgSQL one expression is evaluated again and again with new values
-- for its variables, and keeps its cache: a new model must be seen.
CREATE FUNCTION pg_temp.predict_each(models jsonb[], x float8[]) RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE m jsonb; out float8[] := '{}';
BEGIN
    FOREACH m IN ARRAY models LOOP
        out := out || csm.churn_predict(m, x);
    END LOOP;
    RETURN out;
END $$;
SELECT is(pg_temp.predict_each(ARRAY[m, m || '{"intercept": 5}', m], '{0, 0}'),
          ARRAY[1 / (1 + exp(-0.5::float8)), 1 / (1 + exp(-5::float8)), 1 / (1 + exp(-0.5::float8))],
          'a PL/pgSQL variable holding one model, then another: each prediction is its model''s') FROM ok_model;
CREATE TEMP TABLE wide AS
SELECT jsonb_build_object('kind', 'logistic_regression', 'features', 1000, 'intercept', -0.25,
                          'coefficients', (SELECT jsonb_agg(sin(j) ORDER BY j) FROM generate_series(1, 1000) j),
                          'mean', (SELECT jsonb_agg(j / 1000.0 ORDER BY j) FROM generate_series(1, 1000) j),
                          'scale', (SELECT jsonb_agg(1 + j % 3 ORDER BY j) FROM generate_series(1, 1000) j)) AS m;
SELECT ok((SELECT pg_column_size(m) FROM wide) > 2000, 'the wide model is big enough to be TOASTed');
CREATE TEMP TABLE wide_rows AS SELECT i, ARRAY(SELECT cos(i * j) FROM generate_series(1, 1000) j) AS x FROM generate_series(1, 20) i;
SELECT is((SELECT count(*)::int FROM wide, wide_rows r
           WHERE abs(csm.churn_predict(wide.m, r.x)
                     - 1 / (1 + exp(-(-0.25 + (SELECT sum(sin(j) * (r.x[j] - j / 1000.0) / (1 + j % 3)) FROM generate_series(1, 1000) j))))) < 1e-12),
          20, 'a TOASTed 1000-feature model from a table predicts as computed in SQL');

-- ------------------------------------------------------------------ (7) fuzz: an error or a probability, never a crash
CREATE FUNCTION pg_temp.fuzz() RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    base jsonb := (SELECT m FROM ok_model);
    models jsonb[] := ARRAY[base, base - 'kind', base || '{"features": 0}', base || '{"features": 0, "coefficients": [], "mean": [], "scale": []}',
                            base || '{"intercept": 1e308}', base || '{"intercept": -1e308}', base || '{"coefficients": [1e308, -1e308]}',
                            base || '{"scale": [1e-300, 1e300]}', base || '{"mean": [1e308, -1e308]}', base || '{"coefficients": [0, 0]}',
                            base || '{"features": 1e30}', base || '{"features": -0}', base || '{"features": 2.0}', '{}', '[]', '"x"', 'null', 'true',
                            base || '{"coefficients": [1, 2, 3]}', base || '{"feature_names": null}', base || '{"mean": {"0": 1}}',
                            base || '{"coefficients": [1e-320, 1]}', base || '{"extra": [1, {"deep": [null]}]}'];
    arrays float8[][] := NULL;
    xs text[] := ARRAY['{}', '{1, 2}', '{0, 0}', '{1e308, 1e308}', '{-1e308, 1e308}', '{1e-320, -1e-320}', '{NaN, 1}', '{Infinity, 0}',
                       '{-Infinity, -Infinity}', '{1, NULL}', '{NULL, NULL}', '{{1, 2}, {3, 4}}', '{1}', '{1, 2, 3}', '[0:1]={5, 6}',
                       '{{{1}}}', '{1.7976931348623157e308, -1.7976931348623157e308}'];
    m jsonb; x text; r float8; c float8[];
    seen text[] := '{}';
    state text;
BEGIN
    FOREACH m IN ARRAY models LOOP
        FOREACH x IN ARRAY xs LOOP
            BEGIN
                r := csm.churn_predict(m, x::float8[]);
                IF r IS NULL OR r <> r OR r < 0 OR r > 1 THEN
                    seen := seen || format('predict %s %s gave %s', m, x, r);
                END IF;
                c := csm.churn_contributions(m, x::float8[]);
                IF cardinality(c) <> (m->>'features')::numeric OR EXISTS (SELECT FROM unnest(c) v WHERE v <> v) THEN
                    seen := seen || format('contributions %s %s gave %s', m, x, c);
                END IF;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
                IF state NOT IN ('22023', '2202E', '22004', '22003', '54000') THEN
                    seen := seen || format('%s %s raised %s', m, x, state);
                END IF;
            END;
        END LOOP;
    END LOOP;
    -- the fit on junk rows, many shapes
    FOREACH x IN ARRAY xs LOOP
        BEGIN
            PERFORM csm.churn_fit(v, i % 2 = 0) FROM (SELECT x::float8[] AS v, i FROM generate_series(1, 5) i) s;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
            IF state NOT IN ('22023', '2202E', '22004', '22003', '22000', '54000') THEN
                seen := seen || format('fit %s raised %s', x, state);
            END IF;
        END;
    END LOOP;
    RETURN seen;
END $$;
SELECT is(pg_temp.fuzz(), '{}'::text[], 'fuzz: every model x features pair gives a probability or a documented error');
SELECT is(csm.churn_predict(NULL, '{1, 2}'), NULL, 'predict is strict: NULL model');
SELECT is(csm.churn_predict(m, NULL), NULL, 'predict is strict: NULL features') FROM ok_model;
SELECT is(csm.churn_predict(m, '{1e308, -1e308}'), 1::float8, 'predict: huge features saturate to 1, not NaN') FROM ok_model;
SELECT is(csm.churn_predict(m, '{-1e308, 1e308}'), 0::float8, 'predict: and to 0') FROM ok_model;
SELECT is(csm.churn_predict(m || '{"intercept": 800}', '{0, 0}'), 1::float8, 'predict: a linear predictor of 800 gives 1') FROM ok_model;
SELECT cmp_ok(csm.churn_predict(m || '{"intercept": -800}', '{0, 0}'), '>=', 0::float8, 'predict: and -800 gives 0, no overflow') FROM ok_model;
SELECT is(csm.churn_predict(m || '{"features": 0, "coefficients": [], "mean": [], "scale": []}', '{}'), 1 / (1 + exp(-0.5::float8)),
          'predict: a zero-feature model is its intercept') FROM ok_model;
SELECT is(csm.churn_contributions(m, '{2, 3}'), ARRAY[2, -1.5]::float8[], 'contributions: coefficient x (x - mean) / scale') FROM ok_model;

SELECT * FROM finish();
ROLLBACK;
