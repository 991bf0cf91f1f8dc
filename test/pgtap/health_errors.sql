-- Every error path of health scoring, models and overrides, asserted by
-- SQLSTATE; and the NULL inputs that are not errors.
-- citus-differs: check-constraint violations on distributed and reference tables name the shard (e.g. health_override_102858), and SET CONSTRAINTS ... IMMEDIATE in tap_now() does not make the commit-time model check fire early on Citus (it still fires at commit).
BEGIN;
SELECT plan(142);

-- Rows whose columns are named after metrics, for the row path.
CREATE TEMP TABLE tap_f8 (dau_ratio float8, features_adopted float8, tickets_per_month float8, nps float8,
                          days_to_renewal float8, csat float8, qbr_attendance_rate float8);
CREATE TEMP TABLE tap_f4 (dau_ratio float4, nps float4);
CREATE TEMP TABLE tap_num (dau_ratio numeric, nps numeric);
CREATE TEMP TABLE tap_int (features_adopted integer, tickets_per_month bigint, nps smallint);
CREATE TEMP TABLE tap_text (dau_ratio float8, nps text);
CREATE TEMP TABLE tap_bool (nps boolean);
CREATE TEMP TABLE tap_date (days_to_renewal date);
CREATE TEMP TABLE tap_json (nps jsonb);

-- Metric values: NaN and infinities (only a row can carry them; JSON cannot). -----
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW('NaN', NULL, NULL, NULL, NULL, NULL, NULL)::tap_f8)$$,
                 '22003', NULL, 'a NaN float8 metric');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW('Infinity', NULL, NULL, NULL, NULL, NULL, NULL)::tap_f8)$$,
                 '22003', NULL, 'an infinite float8 metric');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(NULL, NULL, NULL, NULL, '-Infinity', NULL, NULL)::tap_f8)$$,
                 '22003', NULL, 'a -infinite float8 metric on an unbounded component (days_to_renewal)');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(NULL, NULL, NULL, NULL, 'Infinity', NULL, NULL)::tap_f8)$$,
                 '22003', NULL, 'an infinite float8 metric on an unbounded component (days_to_renewal)');
SELECT throws_ok($$SELECT csm.csm_health_evaluate_row(ROW('NaN', NULL, NULL, NULL, NULL, NULL, NULL)::tap_f8)$$,
                 '22003', NULL, 'a NaN metric through csm_health_evaluate_row');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(NULL, NULL, NULL, NULL, NULL, 'NaN', NULL)::tap_f8, 'five_pillar')$$,
                 '22003', NULL, 'a NaN metric under five_pillar');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW('Infinity', NULL)::tap_f4)$$, '22003', NULL, 'an infinite float4 metric');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW('NaN', NULL)::tap_num)$$, '22003', NULL, 'a NaN numeric metric');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(NULL, '-Infinity')::tap_num)$$, '22003', NULL, 'a -infinite numeric metric');
SELECT throws_ok($$SELECT csm.csm_health_score(jsonb_build_object('nps', 'NaN'::float8))$$,
                 '22023', NULL, 'NaN made into JSON is the string "NaN", not a number');
SELECT throws_ok($$SELECT csm.csm_health_score('{"days_to_renewal": 1e400}'::jsonb)$$,
                 '22003', NULL, 'a JSON number beyond float8');

-- Values outside a component's domain. -------------------------------------------
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": 11}'::jsonb)$$, '22003', NULL, 'nps 11 (jsonb)');
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": 10.5}'::jsonb, 'five_pillar')$$, '22003', NULL, 'nps 10.5 under five_pillar');
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": -1}'::jsonb)$$, '22003', NULL, 'nps -1');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(NULL, NULL, 11)::tap_int)$$, '22003', NULL, 'nps 11 (smallint column)');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(NULL, NULL, NULL, 11, NULL, NULL, NULL)::tap_f8)$$, '22003', NULL, 'nps 11 (float8 column)');
SELECT throws_ok($$SELECT csm.csm_health_score('{"tickets_per_month": -1}'::jsonb)$$, '22003', NULL, 'a negative ticket count');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(-1, NULL, NULL)::tap_int)$$, '22003', NULL, 'a negative feature count (integer column)');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(NULL, -3, NULL)::tap_int)$$, '22003', NULL, 'a negative ticket count (bigint column)');
SELECT throws_ok($$SELECT csm.csm_health_score('{"dau_ratio": -0.01}'::jsonb)$$, '22003', NULL, 'a ratio below 0');
SELECT throws_ok($$SELECT csm.csm_health_score('{"qbr_attendance_rate": 1.01}'::jsonb, 'five_pillar')$$, '22003', NULL, 'a rate above 1');
SELECT throws_ok($$SELECT csm.csm_health_score('{"csat": 0.5}'::jsonb, 'five_pillar')$$, '22003', NULL, 'CSAT below 1');
SELECT throws_ok($$SELECT csm.csm_health_score('{"days_since_last_activity": -1}'::jsonb, 'five_pillar')$$, '22003', NULL, 'negative days since last activity');
SELECT throws_ok($$SELECT csm.csm_health_evaluate('{"dau_ratio": 0.9, "nps": 11}'::jsonb)$$, '22003', NULL, 'one bad metric among good ones (evaluate)');
SELECT lives_ok($$SELECT csm.csm_health_score('{"nps": 10, "dau_ratio": 0, "tickets_per_month": 0, "days_to_renewal": -400}'::jsonb)$$,
                'values on the domain''s edges, and a negative days_to_renewal (unbounded), are accepted');
SELECT throws_ok($$SELECT csm.csm_health_score('{"dau_ratio": 0.9, "csat": 99, "nps_raw": -5}'::jsonb)$$,
                 '22023', NULL, 'keys the model does not know are an error');
SELECT lives_ok($$SELECT csm.csm_health_score('{"dau_ratio": 0.9, "csat": 99, "nps_raw": -5}'::jsonb, lenient => true)$$,
                'with lenient => true they are ignored, whatever their value');

-- Metric values that are not numbers, and metrics that are not an object. ----------
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": "9"}'::jsonb)$$, '22023', NULL, 'a string metric');
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": true}'::jsonb)$$, '22023', NULL, 'a boolean metric');
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": {"value": 9}}'::jsonb)$$, '22023', NULL, 'an object metric');
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": [9]}'::jsonb)$$, '22023', NULL, 'an array metric');
SELECT throws_ok($$SELECT csm.csm_health_evaluate('{"csat": "4.5"}'::jsonb, 'five_pillar')$$, '22023', NULL, 'a string metric (evaluate, five_pillar)');
SELECT throws_ok($$SELECT csm.csm_health_score('[{"nps": 9}]'::jsonb)$$, '22023', NULL, 'metrics as an array');
SELECT throws_ok($$SELECT csm.csm_health_score('9'::jsonb)$$, '22023', NULL, 'metrics as a number');
SELECT throws_ok($$SELECT csm.csm_health_score('"nps"'::jsonb)$$, '22023', NULL, 'metrics as a string');
SELECT throws_ok($$SELECT csm.csm_health_score('null'::jsonb)$$, '22023', NULL, 'metrics as JSON null');
SELECT throws_ok($$SELECT csm.csm_health_evaluate('true'::jsonb)$$, '22023', NULL, 'metrics as a boolean (evaluate)');
SELECT throws_ok($$SELECT csm.csm_health_score(' {"nps": "x"}'::text)$$, '22023', NULL, 'JSON passed as text is checked the same way');
SELECT throws_ok($$SELECT csm.csm_health_score('[1]'::text)$$, '22023', NULL, 'a JSON array passed as text');
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": 9'::text)$$, '22P02', NULL, 'malformed JSON passed as text');

-- A non-numeric metric column in the row path. -------------------------------------
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(0.5, '9')::tap_text)$$, '42804', NULL, 'a text metric column');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(0.5, NULL)::tap_text)$$, '42804', NULL, 'a text metric column, even when NULL');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(true)::tap_bool)$$, '42804', NULL, 'a boolean metric column');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW('2027-01-01')::tap_date)$$, '42804', NULL, 'a date metric column');
SELECT throws_ok($$SELECT csm.csm_health_evaluate_row(ROW('9')::tap_json)$$, '42804', NULL, 'a jsonb metric column (evaluate)');
SELECT lives_ok($$SELECT csm.csm_health_score_row(ROW(4, 1, 9)::tap_int)$$, 'integer, bigint and smallint metric columns are fine');

-- The same errors when a table's rows are scored: the planner passes their
-- metric columns to csm_internal._health_score_values instead of building each row. ---------
CREATE TEMP TABLE tap_scored (id int, dau_ratio float8, nps numeric, features_adopted integer);
INSERT INTO tap_scored VALUES (1, 0.5, 9, 4), (2, 'NaN', NULL, NULL);
SELECT throws_ok($$SELECT csm.csm_health_score_row(t) FROM tap_scored t$$, '22003', 'metric "dau_ratio" is NaN',
                 'a NaN float8 column of a scored table');
UPDATE tap_scored SET dau_ratio = NULL, nps = 11 WHERE id = 2;
SELECT throws_ok($$SELECT csm.csm_health_score_row(t) FROM tap_scored t$$, '22003', NULL, 'nps 11 in a numeric column of a scored table');
UPDATE tap_scored SET nps = NULL, features_adopted = -1 WHERE id = 2;
SELECT throws_ok($$SELECT csm.csm_health_score_row(t) FROM tap_scored t$$, '22003', NULL, 'a negative integer column of a scored table');
INSERT INTO tap_text VALUES (0.5, NULL);
SELECT throws_ok($$SELECT csm.csm_health_score_row(t) FROM tap_text t$$, '42804', NULL, 'a text metric column of a scored table');
SELECT throws_ok($$SELECT csm.csm_health_score_row(t, 'no_such_model') FROM tap_scored t$$, '42704', NULL, 'unknown model (table)');

-- Models: unknown, and a draft with no components. ---------------------------------
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": 9}'::jsonb, 'no_such_model')$$, '42704', NULL, 'unknown model (score)');
SELECT throws_ok($$SELECT csm.csm_health_evaluate('{"nps": 9}'::jsonb, 'no_such_model')$$, '42704', NULL, 'unknown model (evaluate)');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(4, 1, 9)::tap_int, 'no_such_model')$$, '42704', NULL, 'unknown model (row)');
SELECT throws_ok($$SELECT csm.csm_health_evaluate_row(ROW(4, 1, 9)::tap_int, 'Default')$$, '42704', NULL, 'model names are case-sensitive');
SELECT throws_ok($$SELECT csm.copy_health_model('no_such_model', 'tap_copy')$$, '42704', NULL, 'copying an unknown model');
INSERT INTO csm.health_model (name, description) VALUES ('tap_draft', 'a draft, no components yet');
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": 9}'::jsonb, 'tap_draft')$$, '23514', NULL, 'a draft model with no components (score)');
SELECT throws_ok($$SELECT csm.csm_health_evaluate('{}'::jsonb, 'tap_draft')$$, '23514', NULL, 'a draft model with no components (evaluate)');
SELECT throws_ok($$SELECT csm.csm_health_score_row(ROW(4, 1, 9)::tap_int, 'tap_draft')$$, '23514', NULL, 'a draft model with no components (row)');

-- health_band. ----------------------------------------------------------------------
SELECT throws_ok($$SELECT csm.health_band(100.0001::float8)$$, '22003', NULL, 'health_band above 100');
SELECT throws_ok($$SELECT csm.health_band(-0.0001::float8)$$, '22003', NULL, 'health_band below 0');
SELECT throws_ok($$SELECT csm.health_band('NaN'::float8)$$, '22003', NULL, 'health_band of NaN');
SELECT throws_ok($$SELECT csm.health_band('Infinity'::float8)$$, '22003', NULL, 'health_band of Infinity');
SELECT throws_ok($$SELECT csm.health_band('-Infinity'::float8)$$, '22003', NULL, 'health_band of -Infinity');
SELECT is(ARRAY[csm.health_band(0), csm.health_band(69.99), csm.health_band(70), csm.health_band(89.99), csm.health_band(90), csm.health_band(100)],
          ARRAY['red', 'red', 'yellow', 'yellow', 'green', 'green']::csm.health_band[], 'health_band on and around its edges');
-- The message shows the refused score exactly.
SELECT throws_ok($$SELECT csm.health_band(100.0001::float8)$$, '22003', 'health score 100.0001 is outside [0, 100]',
                 'the message shows the score that was refused');

-- NULL inputs to the STRICT functions give NULL, not an error. ------------------------
SELECT is_strict('csm', f, args, 'csm.' || f || ' is STRICT')
FROM (VALUES ('health_band', ARRAY['double precision']), ('csm_health_score', ARRAY['jsonb', 'text', 'boolean']),
             ('csm_health_score_row', ARRAY['record', 'text'])) AS t(f, args);
SELECT lives_ok($$SELECT csm.health_band(NULL)$$, 'health_band(NULL) lives');
SELECT is(csm.health_band(NULL), NULL, 'health_band(NULL) is NULL');
SELECT lives_ok($$SELECT csm.csm_health_score(NULL::jsonb)$$, 'csm_health_score(NULL::jsonb) lives');
SELECT is(csm.csm_health_score(NULL::jsonb), NULL, 'csm_health_score(NULL::jsonb) is NULL');
SELECT is(csm.csm_health_score('{"nps": 9}'::jsonb, NULL), NULL, 'csm_health_score with a NULL model is NULL');
SELECT is(csm.csm_health_evaluate(NULL::jsonb), NULL, 'csm_health_evaluate(NULL::jsonb) is NULL');
SELECT is(csm.csm_health_score_row(NULL::tap_int), NULL, 'csm_health_score_row(NULL) is NULL');
-- An untyped NULL resolves to csm_health_score(text), which is STRICT.
SELECT lives_ok($$SELECT csm.csm_health_score(NULL)$$, 'csm_health_score(NULL) lives');

-- Accounts and overrides. -------------------------------------------------------------
INSERT INTO csm.account (external_id, name) VALUES ('tap_acme', 'Acme');
SELECT throws_ok($$SELECT csm.csm_health_score('tap_nobody'::text)$$, 'P0002', NULL, 'csm_health_score(text) of an unknown account');
SELECT throws_ok($$SELECT * FROM csm.explain_health('tap_nobody')$$, 'P0002', NULL, 'explain_health of an unknown account');
SELECT throws_ok($$SELECT csm.override_health('tap_nobody', 50, 'call went badly', NULL)$$, 'P0002', NULL, 'override_health of an unknown account');
SELECT throws_ok($$SELECT csm.clear_health_override('tap_nobody')$$, 'P0002', NULL, 'clear_health_override of an unknown account');
SELECT throws_ok($$SELECT csm.override_health('tap_acme', 50, 'call went badly', now() - interval '1 day')$$,
                 '22023', NULL, 'an override expiring in the past');
SELECT throws_ok($$SELECT csm.override_health('tap_acme', 50, 'call went badly', now())$$,
                 '22023', NULL, 'an override expiring now');
-- 23514 covers several constraints, so the expected message names the one.
SELECT throws_ok(format('SELECT csm.override_health(''tap_acme'', %L, %L, NULL)', score, reason), '23514',
                 format('new row for relation "health_override" violates check constraint "health_override_%s"', con), descr)
FROM (VALUES ('100.5', 'call went badly', 'score_range', 'an override score above 100'),
             ('-1', 'call went badly', 'score_range', 'an override score below 0'),
             ('NaN', 'call went badly', 'score_range', 'a NaN override score'),
             ('50', '', 'reason_given', 'an empty reason'),
             ('50', E' \t\n', 'reason_given', 'a blank reason')) AS t(score, reason, con, descr);
SELECT throws_ok($$SELECT csm.override_health('tap_acme', 50, NULL, NULL)$$, '23502', NULL, 'a NULL reason');
SELECT lives_ok($$SELECT csm.override_health('tap_acme', 0, 'call went badly', now() + interval '1 day')$$,
                'a valid override is accepted');

-- Model constraints. ------------------------------------------------------------------
INSERT INTO csm.health_model (name) VALUES ('tap_model');
INSERT INTO csm.health_component (model, metric, weight, green, red) VALUES ('tap_model', 'nps', 1, 8, 7);
CREATE FUNCTION pg_temp.tap_component(weight float8 DEFAULT 1, direction text DEFAULT 'higher_is_better',
                                      green float8 DEFAULT 8, red float8 DEFAULT 7, best float8 DEFAULT NULL,
                                      worst float8 DEFAULT NULL, min_value float8 DEFAULT NULL,
                                      max_value float8 DEFAULT NULL, metric text DEFAULT 'tap_bad') RETURNS void
LANGUAGE sql AS $$
    INSERT INTO csm.health_component (model, metric, weight, direction, green, red, best, worst, min_value, max_value)
    VALUES ('tap_model', metric, weight, direction, green, red, best, worst, min_value, max_value)
$$;
SELECT lives_ok($$SELECT pg_temp.tap_component(metric => 'tap_metric')$$, 'a valid component is accepted');
SELECT throws_ok(format('SELECT pg_temp.tap_component(%s)', args), '23514',
                 format('new row for relation "health_component" violates check constraint "health_component_%s"', con), descr)
FROM (VALUES
    ('weight => 0', 'weight_positive', 'weight 0'),
    ('weight => -1', 'weight_positive', 'negative weight'),
    ('weight => ''NaN''', 'weight_positive', 'NaN weight'),
    ('weight => ''Infinity''', 'weight_positive', 'infinite weight'),
    ('green => 7, red => 8', 'thresholds_ordered', 'higher_is_better with green below red'),
    ('direction => ''lower_is_better'', green => 8, red => 7', 'thresholds_ordered', 'lower_is_better with green above red'),
    ('green => 7, red => 7', 'thresholds_ordered', 'green equal to red'),
    ('direction => ''sideways''', 'direction_known', 'unknown direction'),
    ('green => ''Infinity''', 'thresholds_finite', 'infinite green threshold'),
    ('red => ''-Infinity''', 'thresholds_finite', 'infinite red threshold'),
    ('green => ''NaN''', 'thresholds_finite', 'NaN threshold'),
    ('best => ''Infinity''', 'thresholds_finite', 'infinite best'),
    ('worst => ''-Infinity''', 'thresholds_finite', 'infinite worst'),
    ('best => 8', 'best_beyond_green', 'best not beyond green'),
    ('direction => ''lower_is_better'', green => 2, red => 5, best => 3', 'best_beyond_green', 'best not beyond green (lower_is_better)'),
    ('worst => 7.5', 'worst_beyond_red', 'worst not beyond red'),
    ('min_value => 5, max_value => 5', 'domain_ordered', 'an empty domain'),
    ('metric => ''Bad Metric''', 'metric_valid', 'a metric name that is not an identifier')
) AS t(args, con, descr);
SELECT throws_ok($$INSERT INTO csm.health_model (name) VALUES ('Bad Model')$$, '23514',
                 'new row for relation "health_model" violates check constraint "health_model_name_valid"',
                 'a model name that is not an identifier');
SELECT throws_ok(format('INSERT INTO csm.health_group (model, name, weight) VALUES (''tap_model'', ''g'', %L)', w), '23514',
                 'new row for relation "health_group" violates check constraint "health_group_weight_positive"', 'group weight ' || w)
FROM unnest(ARRAY['0', '-1', 'NaN', 'Infinity']) AS w;

-- Built-in models are read-only. -------------------------------------------------------
SELECT throws_ok($$INSERT INTO csm.health_model (name, builtin) VALUES ('tap_fake', true)$$, '42501', NULL, 'inserting a built-in model');
SELECT throws_ok($$UPDATE csm.health_model SET description = 'mine now' WHERE name = 'default'$$, '42501', NULL, 'editing a built-in model');
SELECT throws_ok($$UPDATE csm.health_model SET builtin = false WHERE name = 'five_pillar'$$, '42501', NULL, 'un-built-in-ing a model');
SELECT throws_ok($$UPDATE csm.health_model SET name = 'tap_renamed' WHERE name = 'five_pillar'$$, '42501', NULL, 'renaming a built-in model');
SELECT throws_ok($$DELETE FROM csm.health_model WHERE name = 'default'$$, '42501', NULL, 'deleting a built-in model');
SELECT throws_ok($$UPDATE csm.health_component SET weight = 99 WHERE model = 'default' AND metric = 'nps'$$, '42501', NULL, 'editing a built-in component');
SELECT throws_ok($$DELETE FROM csm.health_component WHERE model = 'default' AND metric = 'nps'$$, '42501', NULL, 'deleting a built-in component');
SELECT throws_ok($$INSERT INTO csm.health_component (model, metric, weight, green, red) VALUES ('default', 'tap_extra', 1, 8, 7)$$,
                 '42501', NULL, 'adding a component to a built-in model');
SELECT throws_ok($$UPDATE csm.health_component SET model = 'default' WHERE model = 'tap_model' AND metric = 'tap_metric'$$,
                 '42501', NULL, 'moving a component into a built-in model');
SELECT throws_ok($$UPDATE csm.health_group SET weight = 1 WHERE model = 'five_pillar'$$, '42501', NULL, 'editing a built-in group');
SELECT throws_ok($$DELETE FROM csm.health_group WHERE model = 'five_pillar' AND name = 'commercial_health'$$, '42501', NULL, 'deleting a built-in group');
SELECT throws_ok($$INSERT INTO csm.health_group (model, name, weight) VALUES ('five_pillar', 'tap_pillar', 1)$$, '42501', NULL, 'adding a group to a built-in model');
SELECT lives_ok($$SELECT csm.copy_health_model('five_pillar', 'tap_five')$$, 'a built-in model can be copied');
SELECT lives_ok($$UPDATE csm.health_group SET weight = 50 WHERE model = 'tap_five' AND name = 'commercial_health'$$, 'and the copy edited');

-- A model keeps its components, all grouped or all ungrouped. That is
-- checked at commit; tap_now() runs a statement with the check made
-- IMMEDIATE, so it fires at the statement's end inside throws_ok, then puts
-- the check back to deferred (a failing statement's rollback does that too).
CREATE FUNCTION pg_temp.tap_now(statement text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    SET CONSTRAINTS csm.health_component_model_valid IMMEDIATE;
    EXECUTE statement;
    SET CONSTRAINTS csm.health_component_model_valid DEFERRED;
END $$;
SELECT throws_ok($$SELECT pg_temp.tap_now('DELETE FROM csm.health_component WHERE model = ''tap_model''')$$,
                 '23514', 'health model "tap_model" has no components', 'deleting every component of a model');
SELECT throws_ok($$SELECT pg_temp.tap_now('DELETE FROM csm.health_component WHERE model = ''tap_five''')$$,
                 '23514', 'health model "tap_five" has no components', 'deleting every component of a grouped model');
INSERT INTO csm.health_group (model, name, weight) VALUES ('tap_model', 'g', 1);
SELECT throws_ok($$SELECT pg_temp.tap_now('UPDATE csm.health_component SET group_name = ''g'' WHERE model = ''tap_model'' AND metric = ''nps''')$$,
                 '23514', 'health model "tap_model" mixes grouped and ungrouped components', 'mixing grouped and ungrouped components');
SELECT throws_ok($$DELETE FROM csm.health_group WHERE model = 'tap_five' AND name = 'commercial_health'$$,
                 '23503', NULL, 'deleting a group that still has components');
SELECT lives_ok($$SELECT pg_temp.tap_now('DELETE FROM csm.health_component WHERE model = ''tap_model'' AND metric = ''nps''')$$,
                'deleting some components is fine');
SELECT lives_ok($$SELECT pg_temp.tap_now('DELETE FROM csm.health_model WHERE name = ''tap_model''')$$,
                'deleting a model with its components is fine');
-- Moving a model's last component to another model would leave it empty.
INSERT INTO csm.health_model (name) VALUES ('tap_one');
INSERT INTO csm.health_component (model, metric, weight, green, red) VALUES ('tap_one', 'nps', 1, 8, 7);
SELECT throws_ok($$SELECT pg_temp.tap_now('UPDATE csm.health_component SET model = ''tap_draft'' WHERE model = ''tap_one''')$$,
                 '23514', 'health model "tap_one" has no components', 'moving a model''s last component to another model');
SELECT lives_ok($$DELETE FROM csm.health_component WHERE model = 'tap_five'$$,
                'outside tap_now() the same deletion waits for commit (and this file rolls back)');

-- A model csm cannot score: more components than the kernel's limit (64).
INSERT INTO csm.health_model (name) VALUES ('tap_wide');
INSERT INTO csm.health_component (model, metric, weight, green, red)
SELECT 'tap_wide', 'm' || i, 1, 8, 7 FROM generate_series(1, 64) AS i;
SELECT lives_ok($$SELECT csm.csm_health_score('{"m1": 9}'::jsonb, 'tap_wide')$$, 'a model with 64 components is scored');
INSERT INTO csm.health_component (model, metric, weight, green, red) VALUES ('tap_wide', 'm65', 1, 8, 7);
SELECT throws_ok($$SELECT csm.csm_health_score('{"m1": 9}'::jsonb, 'tap_wide')$$, '54000', NULL, 'a model with 65 components is refused');

-- The model map. ---------------------------------------------------------------------
SELECT throws_ok($$INSERT INTO csm.health_model_map (attribute, value, model) VALUES ('plan', 'gold', 'no_such_model')$$,
                 '23503', NULL, 'mapping a plan to an unknown model');
SELECT throws_ok($$INSERT INTO csm.health_model_map (attribute, value, model) VALUES ('region', 'eu', 'default')$$,
                 '23514', NULL, 'mapping an unknown attribute');

-- refresh_health from a table of the caller's. ------------------------------------------
CREATE TEMP TABLE tap_metrics_bad (account_id bigint, nps text);
INSERT INTO tap_metrics_bad SELECT account_id, '9' FROM csm.account WHERE external_id = 'tap_acme';
CREATE TEMP TABLE tap_metrics_noid (nps integer);
SELECT throws_ok($$SELECT csm.refresh_health('tap_metrics_bad')$$, '42804', NULL, 'refresh_health from a table with a text metric column');
SELECT throws_ok($$SELECT csm.refresh_health('tap_metrics_noid')$$, '42703', NULL, 'refresh_health from a table without account_id');

SELECT * FROM finish();
ROLLBACK;
