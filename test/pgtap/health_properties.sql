-- Property checks of health scoring over thousands of generated metric
-- vectors for both built-in models: monotone in every metric, bounded,
-- a component moves the score by at most its weight x 100, the
-- missing-metric rule, zone/band consistency, and the jsonb and row paths
-- agreeing exactly. Components, weights and thresholds are read from
-- csm.health_component and csm.health_group, never hard-coded. Every
-- assertion returns the counterexamples, so a failure shows how many.
BEGIN;
SELECT plan(36);
SELECT setseed(0.4242);

-- The models' components, with best and worst defaulted as the kernel does
-- (one yellow width beyond the thresholds).
CREATE TEMP TABLE tap_comp AS
SELECT c.model, c.metric, coalesce(c.group_name, '') AS grp, c.weight, coalesce(g.weight, 1) AS group_weight,
       c.direction = 'higher_is_better' AS up, c.green, c.red,
       coalesce(c.best, c.green + (c.green - c.red)) AS best,
       coalesce(c.worst, c.red - (c.green - c.red)) AS worst,
       c.min_value, c.max_value
FROM csm.health_component c
LEFT JOIN csm.health_group g ON g.model = c.model AND g.name = c.group_name
WHERE c.model IN ('default', 'five_pillar');

SELECT ok((SELECT count(DISTINCT model) = 2 AND count(DISTINCT grp) FILTER (WHERE model = 'five_pillar') > 1
           FROM tap_comp),
          'both built-in models are read from the tables, and five_pillar has groups');

-- A value for a component: realistic (around worst..best), exactly at a
-- threshold, at best or worst, within a hair of a threshold (down to about
-- one ulp), at a domain edge or extreme, or a whole number; always inside
-- the component's domain.
CREATE FUNCTION pg_temp.tap_pick(c tap_comp, kind int, r float8) RETURNS float8
LANGUAGE sql AS $$
    SELECT greatest(coalesce(c.min_value, '-Infinity'), least(coalesce(c.max_value, 'Infinity'),
        CASE
            WHEN kind <= 3 THEN least(c.best, c.worst) - 0.5 * abs(c.best - c.worst) + r * 2 * abs(c.best - c.worst)
            WHEN kind = 4 THEN c.green
            WHEN kind = 5 THEN c.red
            WHEN kind = 6 THEN c.best
            WHEN kind = 7 THEN c.worst
            WHEN kind = 8 THEN c.green + (ARRAY[-1e-6, -1e-9, -1e-13, -2.3e-16, 2.3e-16, 1e-13, 1e-9, 1e-6])[1 + floor(r * 8)::int] * greatest(1, abs(c.green))
            WHEN kind = 9 THEN c.red + (ARRAY[-1e-6, -1e-9, -1e-13, -2.3e-16, 2.3e-16, 1e-13, 1e-9, 1e-6])[1 + floor(r * 8)::int] * greatest(1, abs(c.red))
            WHEN kind = 10 THEN CASE WHEN r < 0.5 THEN coalesce(c.min_value, -1e15) ELSE coalesce(c.max_value, 1e15) END
            WHEN kind = 11 THEN round(least(c.best, c.worst) - 0.5 * abs(c.best - c.worst) + r * 2 * abs(c.best - c.worst))
            ELSE c.green + CASE WHEN c.up THEN 2.3e-16 ELSE -2.3e-16 END * greatest(1, abs(c.green))  -- just green
        END))
$$;

-- 2 x 2500 vectors. Each has its own share of present metrics (a few have
-- none); a missing metric is an absent key or a JSON null; some vectors
-- carry keys the model does not know, which are an error unless the call
-- is lenient, and then are ignored. In 30% of
-- them every present metric is at the same kind of edge (all at red, all
-- at green, all just beyond green, all at best...), where rounding could
-- tip a band.
CREATE TEMP TABLE tap_vec AS
SELECT id, model,
       CASE WHEN random() < 0.04 THEN 0 ELSE (ARRAY[0.2, 0.5, 0.75, 0.9, 1])[1 + floor(random() * 5)::int] END AS p,
       random() < 0.1 AS extra,
       CASE WHEN random() < 0.3 THEN (ARRAY[4, 5, 6, 7, 8, 9, 12])[1 + floor(random() * 7)::int] END AS kind_all
FROM generate_series(1, 2500) AS id CROSS JOIN (VALUES ('default'), ('five_pillar')) AS m(model);

-- (random() sits in the select list of a join of vector and component, so
-- it is drawn per metric, not once per vector.)
CREATE TEMP TABLE tap_val AS
SELECT id, model, (c).metric, present, as_null, kind,
       CASE WHEN present THEN pg_temp.tap_pick(c, kind, r) END AS value
FROM (SELECT v.id, v.model, c, random() < v.p AS present, random() < 0.5 AS as_null,
             coalesce(v.kind_all, floor(random() * 13)::int) AS kind, random() AS r
      FROM tap_vec v JOIN tap_comp c USING (model)
      OFFSET 0) s;

ALTER TABLE tap_vec ADD COLUMN metrics jsonb NOT NULL DEFAULT '{}';
UPDATE tap_vec v SET metrics = x.metrics
FROM (SELECT id, model, jsonb_object_agg(metric, to_jsonb(value)) AS metrics FROM tap_val
      WHERE present OR as_null GROUP BY id, model) x
WHERE x.id = v.id AND x.model = v.model;
-- The keys a model does not know include the other model's metrics, with
-- values outside their domain there.
UPDATE tap_vec v
SET metrics = metrics || '{"note": "not a metric", "dau": -1}'
              || coalesce((SELECT jsonb_object_agg(o.metric, -1e6) FROM tap_comp o
                           WHERE o.model <> v.model
                             AND NOT EXISTS (SELECT FROM tap_comp s WHERE s.model = v.model AND s.metric = o.metric)), '{}')
WHERE extra;

-- A row type with a float8 column per metric, and one with numeric columns,
-- built from the components: the row path reads columns by name.
DO $$
BEGIN
    EXECUTE (SELECT format('CREATE TEMP TABLE tap_row (%s)', string_agg(DISTINCT quote_ident(metric) || ' float8', ', '))
             FROM tap_comp);
    EXECUTE (SELECT format('CREATE TEMP TABLE tap_row_num (%s)', string_agg(DISTINCT quote_ident(metric) || ' numeric', ', '))
             FROM tap_comp);
END $$;

CREATE TEMP TABLE tap_res AS
SELECT v.id, v.model, v.metrics, e.score, e.band, e.coverage, e.metrics AS component_metrics,
       csm.csm_health_score(v.metrics, v.model, lenient => v.extra) AS score_jsonb,
       csm.csm_health_score_row(jsonb_populate_record(NULL::tap_row, v.metrics), v.model) AS score_row,
       csm.csm_health_score_row(jsonb_populate_record(NULL::tap_row_num, v.metrics), v.model) AS score_row_num,
       csm.csm_health_evaluate_row(jsonb_populate_record(NULL::tap_row, v.metrics), v.model) AS eval_row,
       e AS eval_jsonb
FROM tap_vec v
CROSS JOIN LATERAL csm.csm_health_evaluate(v.metrics, v.model, lenient => v.extra) e;

-- The per-component detail, next to what was put in.
CREATE TEMP TABLE tap_detail AS
WITH d AS (
    SELECT r.id, r.model, d.*
    FROM tap_res r CROSS JOIN LATERAL csm.health_components(r.eval_jsonb) d)
SELECT x.id, x.model, x.metric, x.present, x.value AS input, c.up, c.grp, c.weight AS comp_weight,
       c.group_weight, c.green, c.red, c.best, c.worst,
       CASE WHEN NOT x.present THEN NULL
            WHEN c.up AND x.value > c.green OR NOT c.up AND x.value < c.green THEN 'green'
            WHEN c.up AND x.value < c.red OR NOT c.up AND x.value > c.red THEN 'red'
            ELSE 'yellow' END AS expected_zone,
       d.metric IS NOT NULL AS reported, d.value, d.zone::text AS zone, d.score, d.weight
FROM tap_val x
JOIN tap_comp c USING (model, metric)
LEFT JOIN d USING (id, model, metric);

-- Pairs for monotonicity and the weight bound: each present metric of
-- each vector gets a second value, half the time from the generator and
-- half the time a small step away (which crosses a zone boundary when the
-- first value sits on a threshold); the other metrics stay put.
CREATE TEMP TABLE tap_pair AS
SELECT id, model, metric, up, a, b, weight, score_a,
       csm.csm_health_score(metrics || jsonb_build_object(metric, b), model, lenient => true) AS score_b
FROM (SELECT x.id, x.model, x.metric, c.up, x.value AS a, d.weight, r.score AS score_a, r.metrics,
             CASE WHEN random() < 0.5
                  THEN pg_temp.tap_pick(c, floor(random() * 13)::int, random())
                  ELSE greatest(coalesce(c.min_value, '-Infinity'), least(coalesce(c.max_value, 'Infinity'),
                       x.value + (CASE WHEN random() < 0.5 THEN -1 ELSE 1 END)
                                 * (ARRAY[1e-13, 1e-9, 1e-6, 1e-3, 0.05])[1 + floor(random() * 5)::int]
                                 * greatest(1, abs(x.value))))
             END AS b
      FROM tap_val x
      JOIN tap_comp c USING (model, metric)
      JOIN tap_res r USING (id, model)
      JOIN tap_detail d USING (id, model, metric)
      WHERE x.present
      OFFSET 0) s;

CREATE TEMP TABLE tap_mono AS
SELECT p.*,
       CASE WHEN p.up = (p.a <= p.b) THEN p.a ELSE p.b END AS worse,
       CASE WHEN p.up = (p.a <= p.b) THEN p.b ELSE p.a END AS better,
       CASE WHEN p.up = (p.a <= p.b) THEN p.score_a ELSE p.score_b END AS score_worse,
       CASE WHEN p.up = (p.a <= p.b) THEN p.score_b ELSE p.score_a END AS score_better
FROM tap_pair p;

-- The generator reaches what it has to. ---------------------------------------
SELECT is((SELECT count(*) FROM tap_res), 5000::bigint, '5000 generated metric vectors were scored');
SELECT is_empty($$
    SELECT model, metric FROM tap_val GROUP BY model, metric
    HAVING count(*) FILTER (WHERE present AND kind = 4) = 0 OR count(*) FILTER (WHERE present AND kind = 5) = 0
        OR count(*) FILTER (WHERE present AND kind = 10) = 0
        OR count(*) FILTER (WHERE NOT present AND as_null) = 0 OR count(*) FILTER (WHERE NOT present AND NOT as_null) = 0
$$, 'every component was generated exactly at both thresholds, at a domain extreme, as a JSON null and as an absent key');
SELECT is_empty($$
    SELECT 'some but not all present' WHERE NOT EXISTS (
        SELECT FROM tap_val GROUP BY id, model HAVING bool_or(present) AND NOT bool_and(present) AND count(*) = 5)
    UNION ALL
    SELECT 'a group partly present' WHERE NOT EXISTS (
        SELECT FROM tap_detail WHERE model = 'five_pillar' GROUP BY id, grp HAVING bool_or(present) AND NOT bool_and(present))
    UNION ALL
    SELECT 'a whole group missing, another present' WHERE NOT EXISTS (
        SELECT FROM (SELECT id, grp, bool_or(present) AS has FROM tap_detail WHERE model = 'five_pillar' GROUP BY id, grp) g
        GROUP BY id HAVING bool_or(has) AND NOT bool_and(has))
$$, 'vectors have metrics missing within a vector, within a group, and whole groups missing');
SELECT is_empty($$
    SELECT model, metric FROM tap_mono m
    JOIN tap_comp c USING (model, metric)
    GROUP BY model, metric
    HAVING count(*) FILTER (WHERE CASE WHEN c.up THEN worse = c.green AND better > c.green
                                       ELSE worse = c.green AND better < c.green END) = 0
        OR count(*) FILTER (WHERE CASE WHEN c.up THEN worse < c.red AND better = c.red
                                       ELSE worse > c.red AND better = c.red END) = 0
$$, 'every component has pairs that step across its green and its red threshold');

-- Bounded. ---------------------------------------------------------------------
SELECT is_empty($$
    SELECT id, model, score FROM tap_res WHERE NOT (score >= 0 AND score <= 100)
    UNION ALL
    SELECT id, model, score_b FROM tap_pair WHERE NOT (score_b >= 0 AND score_b <= 100)
$$, 'every score is in [0, 100]');
SELECT is_empty($$
    SELECT id, model, metric, score FROM tap_detail WHERE present AND NOT (score >= 0 AND score <= 100)
$$, 'every component score is in [0, 100]');
SELECT is_empty($$
    SELECT r.id, r.model, r.score, r.band, r.coverage
    FROM tap_res r JOIN (SELECT id, model, bool_or(present) AS any_present FROM tap_val GROUP BY id, model) x USING (id, model)
    WHERE NOT x.any_present AND (r.score IS NOT NULL OR r.band IS NOT NULL OR r.coverage <> 0
                                 OR r.score_jsonb IS NOT NULL OR r.score_row IS NOT NULL)
       OR x.any_present AND (r.score IS NULL OR r.band IS NULL OR NOT (r.coverage > 0 AND r.coverage <= 1 + 1e-12))
$$, 'a vector scores NULL (band NULL, coverage 0) exactly when every metric is missing');
SELECT cmp_ok((SELECT count(*) FROM tap_res WHERE score IS NULL), '>=', 100::bigint,
              'and there were at least 100 all-missing vectors');
SELECT is(csm.csm_health_score('{}'::jsonb, m), NULL, 'an empty object scores NULL under ' || m)
FROM unnest(ARRAY['default', 'five_pillar']) AS m;
SELECT is(csm.csm_health_score_row(NULL::tap_row, m), NULL, 'a row of NULLs scores NULL under ' || m)
FROM unnest(ARRAY['default', 'five_pillar']) AS m;

-- Monotone. --------------------------------------------------------------------
SELECT is_empty($$
    SELECT id, model, metric, worse, better, score_worse, score_better FROM tap_mono WHERE score_better < score_worse
$$, 'improving one metric (raising it, or lowering a lower_is_better one) never lowers the score');
SELECT is_empty($$
    SELECT id, model, metric, worse, better, score_worse, score_better
    FROM tap_mono m JOIN tap_comp c USING (model, metric)
    WHERE (CASE WHEN c.up THEN worse <= c.green AND better > c.green ELSE worse >= c.green AND better < c.green END
           OR CASE WHEN c.up THEN worse < c.red AND better >= c.red ELSE worse > c.red AND better <= c.red END)
      AND NOT score_better > score_worse
$$, 'stepping a metric across a threshold into a better zone strictly raises the score');

-- A component moves the score by at most its weight x 100. ----------------------
SELECT is_empty($$
    SELECT id, model, metric, a, b, weight, score_a, score_b FROM tap_pair
    WHERE abs(score_b - score_a) > weight * 100 + 1e-9
$$, 'changing one present metric moves the score by at most that component''s effective weight x 100');
SELECT is_empty($$
    SELECT model FROM tap_comp GROUP BY model
    EXCEPT
    SELECT model FROM tap_pair WHERE abs(score_b - score_a) >= weight * 100 - 1e-9
$$, 'and in each model some pair (worst to best) reaches that bound');
SELECT is_empty($$
    SELECT id, model, metric, weight FROM tap_detail WHERE NOT present AND weight IS DISTINCT FROM 0
$$, 'a missing component has effective weight 0');
SELECT is_empty($$
    SELECT id, model, sum(weight) FROM tap_detail WHERE present GROUP BY id, model
    HAVING abs(sum(weight) - 1) > 1e-12
$$, 'the effective weights of the present components sum to 1');

-- The missing-metric rule, computed independently from the model tables. --------
CREATE TEMP TABLE tap_expect AS
WITH g AS (
    SELECT id, model, grp, max(group_weight) AS gw,
           sum(comp_weight) FILTER (WHERE present) AS g_present, sum(comp_weight) AS g_total
    FROM tap_detail GROUP BY id, model, grp),
t AS (
    SELECT id, model, sum(gw) FILTER (WHERE g_present > 0) AS gw_present, sum(gw) AS gw_total
    FROM g GROUP BY id, model)
SELECT d.id, d.model, d.metric, d.present, d.score, d.weight,
       CASE WHEN d.present THEN g.gw / t.gw_present * d.comp_weight / g.g_present ELSE 0 END AS expected_weight,
       CASE WHEN d.present THEN g.gw / t.gw_total * d.comp_weight / g.g_total ELSE 0 END AS expected_coverage
FROM tap_detail d JOIN g USING (id, model, grp) JOIN t USING (id, model);

SELECT is_empty($$
    SELECT id, model, metric, weight, expected_weight FROM tap_expect WHERE abs(weight - expected_weight) > 1e-12
$$, 'each effective weight is the component''s weight renormalised within its group, then across the groups present');
SELECT is_empty($$
    SELECT r.id, r.model, r.score, e.expected
    FROM tap_res r
    JOIN (SELECT id, model, sum(expected_weight * score) FILTER (WHERE present) AS expected FROM tap_expect GROUP BY id, model) e
        USING (id, model)
    WHERE (r.score IS NULL) <> (e.expected IS NULL) OR abs(r.score - e.expected) > 1e-9
$$, 'the score is the renormalised weighted mean of the present components'' scores');
SELECT is_empty($$
    SELECT r.id, r.model, r.coverage, e.expected
    FROM tap_res r
    JOIN (SELECT id, model, sum(expected_coverage) AS expected FROM tap_expect GROUP BY id, model) e USING (id, model)
    WHERE abs(r.coverage - e.expected) > 1e-12
$$, 'coverage is the present share of the model''s total weight');
SELECT is_empty($$
    SELECT id, model, metric, present, input, value FROM tap_detail
    WHERE NOT reported OR present <> (value IS NOT NULL) OR present <> (zone IS NOT NULL)
       OR abs(value - input) > 1e-14 * greatest(1, abs(input))
    UNION ALL
    SELECT id, model, NULL, NULL, NULL, cardinality(component_metrics) FROM tap_res r
    WHERE cardinality(component_metrics) <> (SELECT count(*) FROM tap_comp c WHERE c.model = r.model)
$$, 'components lists every component once, with the value given and NULL for a missing one');

-- Zones and bands. -------------------------------------------------------------
SELECT is_empty($$
    SELECT id, model, metric, input, zone, expected_zone FROM tap_detail WHERE zone IS DISTINCT FROM expected_zone
$$, 'a component''s zone, the band of its score, follows its thresholds (beyond green is green, beyond red is red, exactly at one is yellow)');
SELECT is_empty($$
    SELECT id, model, metric, input, score FROM tap_detail
    WHERE present AND (CASE WHEN up THEN input >= best ELSE input <= best END) AND score <> 100
       OR present AND (CASE WHEN up THEN input <= worst ELSE input >= worst END) AND score <> 0
$$, 'a component saturates at 100 from best on and at 0 from worst on');
-- A weighted mean stays within its parts, so rounding cannot tip it into
-- another band (say 69.99999999999999 when every component scores 70).
SELECT is_empty($$
    SELECT r.id, r.model, r.score, r.band, z.zone
    FROM tap_res r
    JOIN (SELECT id, model, min(zone) AS zone FROM tap_detail WHERE present GROUP BY id, model
          HAVING count(DISTINCT zone) = 1) z USING (id, model)
    WHERE r.band::text <> CASE WHEN r.coverage + 1e-9 < 0.5 THEN 'unknown' ELSE z.zone END
       OR csm.health_band(r.score)::text <> z.zone
$$, 'when every present component is in one zone, the score''s band is that zone (unless coverage is below 0.5)');
SELECT is_empty($$
    SELECT z FROM unnest(ARRAY['green', 'yellow', 'red']) AS z
    EXCEPT
    SELECT min(zone) FROM tap_detail WHERE present GROUP BY id, model HAVING count(DISTINCT zone) = 1 AND count(*) > 1
$$, 'and there were vectors with several components all green, all yellow and all red');
SELECT is_empty($$
    SELECT r.id, r.model, r.score, r.band, r.coverage FROM tap_res r JOIN csm.health_model m ON m.name = r.model
    WHERE r.score IS NOT NULL
      AND r.band IS DISTINCT FROM CASE WHEN r.coverage + 1e-9 < m.min_coverage THEN 'unknown' ELSE csm.health_band(r.score) END
$$, 'the band reported is csm.health_band of the score, or unknown exactly when coverage is below the model''s min_coverage');
SELECT cmp_ok((SELECT count(*) FROM tap_res WHERE band = 'unknown'), '>=', 100::bigint,
              'and there were at least 100 vectors with a score and an unknown band');
-- Unknown keys: every vector that carries some is refused without lenient.
CREATE FUNCTION pg_temp.tap_strict_state(metrics jsonb, model text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM csm.csm_health_score(metrics, model);
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SELECT is_empty($$
    SELECT id, model, s FROM tap_vec v CROSS JOIN LATERAL pg_temp.tap_strict_state(v.metrics, v.model) s
    WHERE v.extra AND s <> '22023'
$$, 'every vector with keys the model does not know is refused (22023) without lenient');
SELECT cmp_ok((SELECT count(*) FROM tap_vec WHERE extra), '>=', 100::bigint,
              'and there were at least 100 of them');

-- The jsonb and row paths agree exactly. ----------------------------------------
SELECT is_empty($$
    SELECT id, model, score, score_jsonb FROM tap_res WHERE score IS DISTINCT FROM score_jsonb
$$, 'csm_health_score and csm_health_evaluate agree exactly');
SELECT is_empty($$
    SELECT id, model, score_jsonb, score_row FROM tap_res WHERE score_jsonb IS DISTINCT FROM score_row
$$, 'csm_health_score(jsonb) and csm_health_score_row on float8 columns agree exactly');
SELECT is_empty($$
    SELECT id, model, score_jsonb, score_row_num FROM tap_res WHERE score_jsonb IS DISTINCT FROM score_row_num
$$, 'csm_health_score(jsonb) and csm_health_score_row on numeric columns agree exactly');
SELECT is_empty($$
    SELECT id, model FROM tap_res WHERE eval_row IS DISTINCT FROM eval_jsonb
$$, 'csm_health_evaluate(jsonb) and csm_health_evaluate_row agree exactly, components included');

-- So do a table's rows, which the planner passes to csm_internal._health_score_values
-- as columns (for a constant model) instead of building a row value each.
CREATE TEMP TABLE tap_tab AS
SELECT v.id, v.model, r.* FROM tap_vec v CROSS JOIN LATERAL jsonb_populate_record(NULL::tap_row, v.metrics) r;
SELECT is_empty($$
    SELECT id, model, r.score_row FROM tap_tab t JOIN tap_res r USING (id, model)
    WHERE r.score_row IS DISTINCT FROM CASE t.model WHEN 'default' THEN csm.csm_health_score_row(t, 'default')
                                                    WHEN 'five_pillar' THEN csm.csm_health_score_row(t, 'five_pillar') END
$$, 'csm_health_score_row over a table''s rows, planned as its columns, agrees exactly');

SELECT * FROM finish();
ROLLBACK;
