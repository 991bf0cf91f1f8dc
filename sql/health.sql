-- citus-differs: constraint errors name the shard (health_component_NNNNNN), and the file's UPDATE of its local metrics table with a subquery on the reference table csm.account is sent to a worker where that table does not exist.
-- Health scores: the seed's scorecard, bands, missing metrics, models as
-- data, refresh, history, overrides and explanations.
\set VERBOSITY terse
-- the issue's example: all green
SELECT round(csm.csm_health_score('{"dau_ratio":0.85,"features_adopted":6,"tickets_per_month":1,"nps":9,"days_to_renewal":120}')::numeric, 2) AS all_green;
-- exactly at the green thresholds is yellow, as in the seed's table; at the red thresholds too
SELECT round(csm.csm_health_score('{"dau_ratio":0.80,"features_adopted":5,"tickets_per_month":2,"nps":8,"days_to_renewal":90}')::numeric, 2) AS at_green_thresholds,
       round(csm.csm_health_score('{"dau_ratio":0.50,"features_adopted":3,"tickets_per_month":5,"nps":7,"days_to_renewal":30}')::numeric, 2) AS at_red_thresholds,
       round(csm.csm_health_score('{"dau_ratio":0.65,"features_adopted":4,"tickets_per_month":3.5,"nps":7.5,"days_to_renewal":60}')::numeric, 2) AS mid_yellow;
-- all red, and the floors and ceilings where components saturate
SELECT round(csm.csm_health_score('{"dau_ratio":0.2,"features_adopted":1,"tickets_per_month":8,"nps":3,"days_to_renewal":10}')::numeric, 2) AS all_red,
       csm.csm_health_score('{"dau_ratio":0,"features_adopted":0,"tickets_per_month":50,"nps":0,"days_to_renewal":-20}') AS floor,
       csm.csm_health_score('{"dau_ratio":1.5,"features_adopted":40,"tickets_per_month":0,"nps":10,"days_to_renewal":900}') AS ceiling;
-- bands and their meaning
SELECT s, csm.health_band(s) AS band, i.label, i.cadence
FROM pg_catalog.unnest(ARRAY[100, 90, 89.99, 70, 69.99, 0]::float8[]) AS s
JOIN csm.health_band_info i ON i.band = csm.health_band(s);
SELECT (r).band, round((r).score::numeric, 2) AS score FROM (SELECT csm.csm_health_evaluate(
    '{"dau_ratio":0.80,"features_adopted":5,"tickets_per_month":2,"nps":8,"days_to_renewal":90}') AS r) x;

-- missing metrics share their weight; coverage says how much was present
SELECT (r).score, (r).coverage FROM (SELECT csm.csm_health_evaluate('{"nps":10,"dau_ratio":null}') AS r) x;
SELECT round((r).score::numeric, 2) AS score, round((r).coverage::numeric, 4) AS coverage
FROM (SELECT csm.csm_health_evaluate('{"dau_ratio":0.9,"nps":9,"csat":4.8}', 'five_pillar') AS r) x;
SELECT csm.csm_health_score('{}') AS nothing_known,
       csm.csm_health_score('{"unrelated":1}', lenient => true) AS still_nothing;
-- a key the model has no metric of is an error, as it is most often a typo
SELECT csm.csm_health_score('{"dau":0.9,"nps":9}');
SELECT csm.csm_health_evaluate('{"dau_ratio":0.9,"nps":9,"csat":4.8}');
-- lenient input ignores it; the 15% of the weight that is left is too
-- little to judge (min_coverage 0.5): the score is kept, the band is unknown
SELECT score, band, coverage FROM csm.csm_health_evaluate('{"dau":0.9,"nps":9}', lenient => true);
SELECT round(score::numeric, 2) AS score, band, round(coverage::numeric, 2) AS coverage
FROM csm.csm_health_evaluate('{"dau_ratio":0.9,"nps":9,"features_adopted":6}');
-- per-component detail
SELECT c.metric, c.value, c.zone, round(c.score::numeric, 2) AS score, round(c.weight::numeric, 4) AS weight,
       round(c.points_lost::numeric, 2) AS points_lost
FROM csm.health_components(csm.csm_health_evaluate('{"dau_ratio":0.3,"features_adopted":6,"nps":9}')) c
ORDER BY c.metric;

-- bad input is an error, never a number
SELECT csm.csm_health_score('{"nps": 11}');
SELECT csm.csm_health_score('{"dau_ratio": -0.1}');
SELECT csm.csm_health_score('{"nps": "nine"}');
SELECT csm.csm_health_score('{"nps": true}');
SELECT csm.csm_health_score('[1, 2]');
SELECT csm.csm_health_score('42'::jsonb);
SELECT csm.csm_health_score('{"nps": 9}', 'nope');
SELECT csm.csm_health_score_row(x, 'default') FROM (SELECT 'Infinity'::float8 AS dau_ratio) x;
SELECT csm.csm_health_score_row(x, 'default') FROM (SELECT 'NaN'::float8 AS nps) x;
SELECT csm.csm_health_score_row(x, 'default') FROM (SELECT 'nine'::text AS nps) x;
SELECT csm.health_band('NaN'::float8);
SELECT csm.health_band(-1);
SELECT csm.health_band(100.5);
SELECT csm.health_band(NULL);

-- a row with columns named after metrics scores without JSON
SELECT round(csm.csm_health_score_row(x, 'default')::numeric, 2) AS from_row
FROM (SELECT 0.85 AS dau_ratio, 6 AS features_adopted, 1 AS tickets_per_month, 9 AS nps, 120 AS days_to_renewal) x;

-- models are data: built-ins are read-only, copies are editable and versioned
UPDATE csm.health_component SET weight = 50 WHERE model = 'default' AND metric = 'nps';
DELETE FROM csm.health_model WHERE name = 'default';
INSERT INTO csm.health_model (name, builtin) VALUES ('sneaky', true);
SELECT csm.copy_health_model('default', 'enterprise_model', 'Enterprise scorecard');
SELECT name, version, builtin FROM csm.health_model ORDER BY name;
BEGIN;
UPDATE csm.health_component SET weight = 40 WHERE model = 'enterprise_model' AND metric = 'dau_ratio';
UPDATE csm.health_component SET green = 0.7 WHERE model = 'enterprise_model' AND metric = 'dau_ratio';
COMMIT;
SELECT name, version FROM csm.health_model WHERE name = 'enterprise_model';
-- invalid edits are refused with the rule they break
UPDATE csm.health_component SET weight = 0 WHERE model = 'enterprise_model' AND metric = 'nps';
UPDATE csm.health_component SET weight = 'NaN' WHERE model = 'enterprise_model' AND metric = 'nps';
UPDATE csm.health_component SET red = 0.9 WHERE model = 'enterprise_model' AND metric = 'dau_ratio';
UPDATE csm.health_component SET direction = 'sideways' WHERE model = 'enterprise_model' AND metric = 'dau_ratio';
UPDATE csm.health_component SET green = 'Infinity' WHERE model = 'enterprise_model' AND metric = 'dau_ratio';
DELETE FROM csm.health_component WHERE model = 'enterprise_model';
INSERT INTO csm.health_component (model, metric, group_name, weight, green, red)
VALUES ('enterprise_model', 'csat', 'support', 1, 4.5, 3.5);
SELECT name, version FROM csm.health_model WHERE name = 'enterprise_model';
-- a model row alone is a draft that scoring refuses
INSERT INTO csm.health_model (name) VALUES ('draft');
SELECT csm.csm_health_score('{"nps": 9}', 'draft');

-- accounts: live score, refresh, history, mapped models
INSERT INTO csm.account (external_id, segment, seats, renewal_date) VALUES
    ('org_ent', 'enterprise', 100, (now() AT TIME ZONE 'UTC')::date + 200),
    ('org_smb', 'smb', 5, (now() AT TIME ZONE 'UTC')::date + 20),
    ('org_gone', 'smb', 5, NULL);
UPDATE csm.account SET status = 'churned' WHERE external_id = 'org_gone';
INSERT INTO csm.health_model_map VALUES ('segment', 'enterprise', 'enterprise_model');
INSERT INTO csm.nps_response (account_id, score) SELECT account_id, 9 FROM csm.account WHERE external_id = 'org_ent';
SELECT csm.csm_health_score('org_ent') AS live_ent, round(csm.csm_health_score('org_smb')::numeric, 2) AS live_smb;
SELECT csm.csm_health_score('no_such_org');
SELECT csm.refresh_health() AS scored;
SELECT csm.refresh_health() AS scored_again;
SELECT a.external_id, h.model, h.model_version, round(h.score::numeric, 2) AS score, h.band, round(h.coverage::numeric, 2) AS coverage
FROM csm.health_score h JOIN csm.account a USING (account_id) ORDER BY 1;
SELECT count(*) AS history_rows, count(DISTINCT account_id) AS accounts FROM csm.health_history;

-- metrics computed elsewhere (dbt, a warehouse sync) can be scored too
CREATE TABLE my_metrics AS
SELECT account_id, 0.9::float8 AS dau_ratio, 10 AS nps FROM csm.account WHERE external_id IN ('org_ent', 'org_smb');
SELECT csm.refresh_health('my_metrics') AS scored;
SELECT a.external_id, h.model, round(h.score::numeric, 2) AS score, round(h.coverage::numeric, 2) AS coverage
FROM csm.health_score h JOIN csm.account a USING (account_id) ORDER BY 1;
-- an account with bad metrics is skipped with a warning and keeps its score;
-- the others are scored
UPDATE my_metrics SET nps = 11 WHERE account_id = (SELECT account_id FROM csm.account WHERE external_id = 'org_smb');
SELECT csm.refresh_health('my_metrics') AS scored_despite_one_bad;
-- a relation without any metric column is refused before anything is written
SELECT csm.refresh_health('csm.account');
SELECT csm.refresh_health() AS scored_from_account_metrics;

-- explanation, worst first
SELECT metric, label, value, zone, round(score::numeric, 2) AS score, round(weight::numeric, 3) AS weight,
       round(points_lost::numeric, 2) AS points_lost
FROM csm.explain_health('org_smb');
-- the detail refresh stored is the live explanation's, and its contributions add up to the score
SELECT c.metric, c.value, c.zone, round(c.score::numeric, 2) AS score, round(c.weight::numeric, 3) AS weight,
       round(c.contribution::numeric, 2) AS contribution, round(c.points_lost::numeric, 2) AS points_lost
FROM csm.health_score_component c JOIN csm.account a USING (account_id)
WHERE a.external_id = 'org_smb'
ORDER BY c.points_lost DESC, c.value IS NULL, c.metric;
SELECT (SELECT count(*) FROM (SELECT metric, value, zone, score, weight, contribution, points_lost
                              FROM csm.health_score_component
                              WHERE external_id = 'org_smb'
                              EXCEPT
                              SELECT metric, value, zone, score, weight, contribution, points_lost
                              FROM csm.explain_health('org_smb')) d) AS differing,
       (SELECT abs(sum(c.contribution) - h.score) < 1e-9::float8
        FROM csm.health_score_component c JOIN csm.health_score h USING (account_id)
        GROUP BY h.account_id, h.score HAVING h.account_id = (SELECT account_id FROM csm.account WHERE external_id = 'org_smb'))
        AS contributions_add_up;

-- overrides win visibly, keep the computed score beside them, and expire
SELECT csm.override_health('org_smb', 95, 'renewal signed early', now() + interval '7 days') > 0 AS overridden;
SELECT csm.override_health('org_smb', 95, '   ', now() + interval '7 days');
SELECT csm.override_health('org_smb', 120, 'too good', now() + interval '7 days');
SELECT csm.override_health('org_smb', 50, 'stale', '2020-01-01 00:00+00');
SELECT external_id, round(score::numeric, 2) AS score, band, round(computed_score::numeric, 2) AS computed_score,
       computed_band, override_score, override_reason, stale
FROM csm.account_health WHERE external_id = 'org_smb';
UPDATE csm.health_override SET expires_at = now() - interval '1 second';
SELECT external_id, round(score::numeric, 2) AS score, override_score FROM csm.account_health WHERE external_id = 'org_smb';
SELECT count(*) AS overrides_kept FROM csm.health_override;
SELECT csm.clear_health_override('org_smb') AS had_one;

-- trend and freshness
UPDATE csm.health_history SET day = day - 7, score = score - 10::float8 WHERE account_id = (SELECT account_id FROM csm.account WHERE external_id = 'org_smb');
SELECT csm.refresh_health() AS scored;
SELECT external_id, round(change_7d::numeric, 2) AS change_7d, trend, stale FROM csm.account_health ORDER BY 1;
UPDATE csm.health_score SET computed_at = now() - interval '27 hours';
SELECT external_id, stale FROM csm.account_health ORDER BY 1;
-- a session's csm.stale_after does not change what the view shows
SET csm.stale_after = '30h';
SELECT external_id, stale, score_age >= interval '27 hours' AS aged FROM csm.account_health WHERE external_id = 'org_smb';
-- the setting is the default a refresh reads, kept with each score
SELECT csm.refresh_health() AS scored;
RESET csm.stale_after;
SELECT DISTINCT stale_after FROM csm.health_score;
-- a model's own stale_after wins over the setting
UPDATE csm.health_model SET stale_after = '2 days' WHERE name = 'default';
SELECT csm.refresh_health() AS scored;
UPDATE csm.health_score SET computed_at = now() - interval '27 hours';
SELECT external_id, h.stale_after, stale FROM csm.account_health JOIN csm.health_score h USING (account_id) ORDER BY 1;
UPDATE csm.health_model SET stale_after = '0 days' WHERE name = 'default';
UPDATE csm.health_model SET stale_after = NULL WHERE name = 'default';
SELECT csm.sparkline(ARRAY[10, 35, 55, 72, 88, 100, NULL]) AS spark, csm.sparkline('{}') AS empty,
       csm.sparkline(ARRAY[1, 2, 3], 1, 3) AS scaled, csm.sparkline(ARRAY['NaN', 50]::float8[]) AS nan;

-- a deleted account takes its scores and history with it
DELETE FROM csm.account WHERE external_id = 'org_smb';
SELECT (SELECT count(*) FROM csm.health_history) AS history_rows, (SELECT count(*) FROM csm.health_score) AS scores;

-- over a table, csm_health_score_row(t, model) is planned as the table's metric
-- columns (no row value is built), with the same scores: NULLs and absent
-- columns are missing; (SELECT p) keeps the row path for comparison
CREATE TABLE plan_metrics (id int, dau_ratio float8, features_adopted int, nps smallint,
                           days_to_renewal numeric, csat real, note text);
INSERT INTO plan_metrics VALUES (1, 0.85, 6, 9, 120, 4.8, 'all but tickets'), (2, NULL, NULL, NULL, NULL, NULL, 'nothing'),
    (3, 0.3, 2, 5, 10, NULL, 'red'), (4, NULL, 40, NULL, NULL, 2, 'two');
EXPLAIN (VERBOSE, COSTS OFF) SELECT csm.csm_health_score_row(p, 'default') FROM plan_metrics p;
SELECT id, round(csm.csm_health_score_row(p)::numeric, 2) AS score,
       csm.csm_health_score_row(p) IS NOT DISTINCT FROM csm.csm_health_score_row((SELECT p)) AS same,
       round(csm.csm_health_score_row(p, 'five_pillar')::numeric, 2) AS five_pillar,
       csm.csm_health_score_row(p, 'five_pillar') IS NOT DISTINCT FROM csm.csm_health_score_row((SELECT p), 'five_pillar') AS same
FROM plan_metrics p ORDER BY id;
SELECT csm.csm_health_score_row(p) AS unmatched FROM (VALUES (99)) v(id) LEFT JOIN plan_metrics p USING (id);
-- a plan outlives edits to its model, which is read again each time it runs
SELECT csm.copy_health_model('default', 'plan_model');
PREPARE planned AS SELECT id, round(score::numeric, 2) AS score, score IS NOT DISTINCT FROM row_path AS same
FROM (SELECT id, csm.csm_health_score_row(p, 'plan_model') AS score,
             csm.csm_health_score_row((SELECT p), 'plan_model') AS row_path FROM plan_metrics p) x ORDER BY id;
EXECUTE planned;
BEGIN;
UPDATE csm.health_component SET weight = 60, green = 0.9 WHERE model = 'plan_model' AND metric = 'dau_ratio';
DELETE FROM csm.health_component WHERE model = 'plan_model' AND metric = 'nps';
INSERT INTO csm.health_component (model, metric, weight, green, red) VALUES ('plan_model', 'seats_used', 10, 0.9, 0.5);
COMMIT;
EXECUTE planned;
-- bad values are still errors; a text metric column keeps the row path and its error
INSERT INTO plan_metrics (id, dau_ratio) VALUES (5, 'NaN');
SELECT csm.csm_health_score_row(p, 'default') FROM plan_metrics p;
CREATE TABLE plan_text (nps text);
INSERT INTO plan_text VALUES ('9');
EXPLAIN (VERBOSE, COSTS OFF) SELECT csm.csm_health_score_row(t, 'default') FROM plan_text t;
SELECT csm.csm_health_score_row(t, 'default') FROM plan_text t;
DEALLOCATE planned;
DROP TABLE plan_metrics, plan_text;
-- A model named by a PL/pgSQL variable changes between calls at the same
-- call site: each call scores with the model it names.
DO $$
DECLARE
    name text;
    scores text := '';
BEGIN
    FOREACH name IN ARRAY ARRAY['default', 'five_pillar', 'default'] LOOP
        scores := scores || ' ' || round(csm.csm_health_score('{"dau_ratio":0.9,"nps":9,"csat":4.8}'::jsonb, name, lenient => true)::numeric, 2)::text;
    END LOOP;
    RAISE NOTICE 'scores:%', scores;
END $$;
-- min_coverage is part of a model: changing it bumps the version
SELECT csm.copy_health_model('default', 'thin_ok');
UPDATE csm.health_model SET min_coverage = 0.1 WHERE name = 'thin_ok';
SELECT name, version, min_coverage FROM csm.health_model WHERE name = 'thin_ok';
SELECT score, band, coverage FROM csm.csm_health_evaluate('{"nps": 9}', 'thin_ok');
UPDATE csm.health_model SET min_coverage = 1.5 WHERE name = 'thin_ok';
DELETE FROM csm.health_model WHERE name = 'thin_ok';
-- leave a fresh extension for the next test
DROP TABLE my_metrics;
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
