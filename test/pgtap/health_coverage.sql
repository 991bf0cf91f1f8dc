-- Scoring a JSON object of metrics: a key the model does not know is an
-- error (22023, the hint lists the model's metrics) unless lenient => true;
-- below the model's min_coverage the score is kept and the band is
-- 'unknown'.  The jsonb entry points on NULL, empty, huge and malformed
-- input.
BEGIN;
SELECT plan(50);

-- Unknown keys. ------------------------------------------------------------------
SELECT throws_ok($$SELECT csm.csm_health_score('{"dau": 0.9, "nps": 9}'::jsonb)$$, '22023',
                 'health model "default" has no metric "dau"', 'the typo "dau" is an error');
SELECT throws_like($$SELECT csm.csm_health_score('{"dau": 0.9, "nps": 9}'::jsonb)$$, '%no metric%',
                   'csm_health_score(text) with JSON text forwards the error');
CREATE FUNCTION pg_temp.hint_of(call text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    hint text;
BEGIN
    EXECUTE call;
    RETURN NULL;
EXCEPTION WHEN invalid_parameter_value THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RETURN hint;
END $$;
SELECT is(pg_temp.hint_of($$SELECT csm.csm_health_score('{"dau": 0.9}'::jsonb)$$),
          'The metrics of model "default" are dau_ratio, days_to_renewal, features_adopted, nps, tickets_per_month. Pass lenient => true to ignore other keys.',
          'the hint lists the model''s metrics');
SELECT alike(pg_temp.hint_of($$SELECT csm.csm_health_evaluate('{"csat_score": 4}'::jsonb, 'five_pillar')$$),
            '%csat, %', 'the hint lists five_pillar''s metrics for five_pillar');
SELECT throws_ok($$SELECT csm.csm_health_evaluate('{"dau_ratio": 0.9, "NPS": 9}'::jsonb)$$, '22023', NULL,
                 'keys are case sensitive: "NPS" is unknown (evaluate)');
SELECT throws_ok($$SELECT csm.csm_health_score('{"dau_rati": 0.9}'::jsonb)$$, '22023', NULL, 'a prefix of a metric is unknown');
SELECT throws_ok($$SELECT csm.csm_health_score('{"dau_ratio_x": 0.9}'::jsonb)$$, '22023', NULL, 'a metric plus a suffix is unknown');
SELECT throws_ok($$SELECT csm.csm_health_score('{"": 1}'::jsonb)$$, '22023', NULL, 'an empty key is unknown');
SELECT throws_ok($$SELECT csm.csm_health_score('{"dau": null}'::jsonb)$$, '22023', NULL, 'an unknown key with a null value is still an error');
SELECT throws_ok($$SELECT csm.csm_health_score('{"dau": "NaN"}'::jsonb)$$, '22023', NULL, 'an unknown key with a string value');
SELECT throws_ok($$SELECT csm.csm_health_score(jsonb_build_object(repeat('x', 100000), 1))$$, '22023', NULL, 'a 100,000-character key');
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": 9, "dau": 0.9}'::jsonb, 'default', false)$$, '22023', NULL,
                 'lenient => false is the default');
SELECT is(csm.csm_health_score('{"dau": 0.9, "nps": 9}'::jsonb, lenient => true), 95::float8,
          'lenient => true ignores unknown keys');
SELECT is(csm.csm_health_score('{"dau": "x", "y": [1], "z": {"a": 1}, "nps": 9}'::jsonb, 'default', true), 95::float8,
          'lenient ignores unknown keys whatever their values');
SELECT is(csm.csm_health_score((SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 5000) i) || '{"nps": 9}',
                               lenient => true),
          95::float8, 'lenient with 5,000 unknown keys');
SELECT throws_ok($$SELECT csm.csm_health_score((SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 5000) i) || '{"nps": 9}')$$,
                 '22023', NULL, 'and without lenient they are an error');
SELECT is(csm.csm_health_score('{"dau": 0.9}'::jsonb, 'default', NULL), NULL, 'a NULL lenient is NULL (STRICT)');
SELECT is(csm.csm_health_evaluate('{"dau": 0.9}'::jsonb, 'default', NULL), NULL, 'a NULL lenient is NULL (evaluate)');
SELECT is(csm.csm_health_score('{"dau_ratio": 0.9, "nps": 9}'::jsonb, 'default'), 95::float8,
          'the two-argument call works as before');
SELECT is(csm.csm_health_score('{"dau_ratio": 0.9, "nps": 9}'::jsonb), 95::float8, 'and the one-argument call');

-- Empty, huge and malformed input. --------------------------------------------------
SELECT is(csm.csm_health_score('{}'::jsonb), NULL, 'an empty object scores NULL');
SELECT is(csm.csm_health_score('{}'::jsonb, lenient => true), NULL, 'an empty object scores NULL when lenient');
SELECT is((SELECT row(score, band, coverage)::text FROM csm.csm_health_evaluate('{}'::jsonb)), '(,,0)',
          'an empty object: NULL score, NULL band, coverage 0');
SELECT throws_ok($$SELECT csm.csm_health_score('[1, 2]'::jsonb, lenient => true)$$, '22023', NULL, 'an array is refused, lenient or not');
SELECT throws_ok($$SELECT csm.csm_health_score('9'::jsonb, lenient => true)$$, '22023', NULL, 'a scalar is refused');
SELECT throws_ok($$SELECT csm.csm_health_score('"{}"'::jsonb)$$, '22023', NULL, 'a JSON string is refused');
SELECT throws_ok($$SELECT csm.csm_health_score('{"nps": 9'::jsonb)$$, '22P02', NULL, 'malformed JSON');
SELECT throws_ok($$SELECT csm.csm_health_evaluate('{"days_to_renewal": 1e400}'::jsonb, lenient => true)$$, '22003', NULL,
                 'a number beyond float8, lenient or not');
SELECT is((SELECT row(score, band)::text FROM csm.csm_health_evaluate('{"days_to_renewal": 1e308}'::jsonb)),
          '(100,unknown)', 'a huge finite value on an unbounded metric saturates at 100, its band unknown (coverage 0.15)');
SELECT is(csm.csm_health_score('{"nps": 9, "dau": 1e400}'::jsonb, lenient => true), 95::float8,
          'a value beyond float8 under an unknown key is ignored when lenient');

-- Minimum coverage. ------------------------------------------------------------------
SELECT is((SELECT row(score, band, coverage)::text FROM csm.csm_health_evaluate('{"nps": 9}'::jsonb)),
          '(95,unknown,0.15)', 'nps alone: 15% of the weight, below 0.5: score kept, band unknown');
SELECT is((SELECT band::text FROM csm.csm_health_evaluate('{"dau_ratio": 0.9, "features_adopted": 6}'::jsonb)),
          'green', '55% of the weight is enough');
SELECT is((SELECT band::text FROM csm.csm_health_evaluate('{"nps": 9, "tickets_per_month": 1, "days_to_renewal": 200}'::jsonb)),
          'unknown', '45% is not');
SELECT is((SELECT min_coverage FROM csm.health_model WHERE name = 'default'), 0.5::float8, 'min_coverage defaults to 0.5');

INSERT INTO csm.health_model (name) VALUES ('halves');
INSERT INTO csm.health_component (model, metric, weight, green, red) VALUES
    ('halves', 'a', 1, 0.8, 0.5), ('halves', 'b', 1, 0.8, 0.5);
SELECT is((SELECT band::text FROM csm.csm_health_evaluate('{"a": 0.2}'::jsonb, 'halves')), 'red',
          'exactly min_coverage (0.5) is enough');
SELECT throws_ok($$UPDATE csm.health_model SET min_coverage = 1.5 WHERE name = 'halves'$$, '23514', NULL, 'min_coverage 1.5 is refused');
SELECT throws_ok($$UPDATE csm.health_model SET min_coverage = -0.1 WHERE name = 'halves'$$, '23514', NULL, 'min_coverage -0.1 is refused');
SELECT throws_ok($$UPDATE csm.health_model SET min_coverage = 'NaN' WHERE name = 'halves'$$, '23514', NULL, 'min_coverage NaN is refused');
SELECT throws_ok($$UPDATE csm.health_model SET min_coverage = 0.1 WHERE name = 'default'$$, '42501', NULL,
                 'a built-in model''s min_coverage is read-only');
UPDATE csm.health_model SET min_coverage = 1 WHERE name = 'halves';
SELECT is((SELECT band::text FROM csm.csm_health_evaluate('{"a": 0.2}'::jsonb, 'halves')),
          'unknown', 'min_coverage 1: half the weight is unknown');
SELECT is((SELECT band::text FROM csm.csm_health_evaluate('{"a": 0.2, "b": 0.95}'::jsonb, 'halves')), 'red',
          'min_coverage 1: the whole weight is enough');
UPDATE csm.health_model SET min_coverage = 0 WHERE name = 'halves';
SELECT is((SELECT band::text FROM csm.csm_health_evaluate('{"b": 0.95}'::jsonb, 'halves')), 'green',
          'min_coverage 0: any metric gives a band');
SELECT is(csm.copy_health_model('halves', 'halves_copy'), 'halves_copy', 'a copy');
SELECT is((SELECT min_coverage FROM csm.health_model WHERE name = 'halves_copy'), 0::float8, 'keeps min_coverage');

-- What reads the band: the account view, routing facts and conditions. ------------
INSERT INTO csm.account (external_id) VALUES ('org_thin');
CREATE TEMP TABLE tap_thin AS SELECT account_id, 2 AS nps FROM csm.account WHERE external_id = 'org_thin';
SELECT is(csm.refresh_health('tap_thin'), 1::bigint, 'refresh scores the thin account');
SELECT is((SELECT row(round(score::numeric, 2), band, computed_band)::text FROM csm.account_health WHERE external_id = 'org_thin'),
          '(20.00,unknown,unknown)', 'account_health shows the score with band unknown');
SELECT is(csm.routing_facts((SELECT account_id FROM csm.account WHERE external_id = 'org_thin')) ->> 'health_band',
          'unknown', 'routing facts carry the unknown band');
SELECT lives_ok($$INSERT INTO csm.routing_rule (name, condition, target_kind, target)
                  VALUES ('thin', 'health_band = ''unknown''', 'team', 'growth')$$,
                'a routing condition may read health_band = ''unknown''');
SELECT ok(csm.override_health('org_thin', 95, 'we know better', NULL) > 0, 'an override of the thin account');
SELECT is((SELECT band::text FROM csm.account_health WHERE external_id = 'org_thin'), 'green',
          'an override''s score gives the band');

SELECT * FROM finish();
ROLLBACK;
