-- Health models are validated when written: weights lie in (0, 1e6] and
-- thresholds, saturation points and domain bounds in [-1e12, 1e12]
-- (23514).  1e308 used to be accepted and overflowed the kernel's zone
-- widths to infinity, giving wrong scores.  At the bounds, scores stay exact.
BEGIN;
SELECT plan(22);

INSERT INTO csm.health_model (name) VALUES ('bounds');
INSERT INTO csm.health_component (model, metric, weight, green, red) VALUES
    ('bounds', 'big', 1e6, 1e12, -1e12),
    ('bounds', 'small', 1e-6, 0.5, 0.25);
INSERT INTO csm.health_group (model, name, weight) VALUES ('bounds', 'g', 1e6);

-- Refused when written. ---------------------------------------------------------
SELECT throws_ok($$UPDATE csm.health_component SET weight = 1e308 WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'a component weight of 1e308');
SELECT throws_ok($$UPDATE csm.health_component SET weight = 1000000.001 WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'a component weight just above 1e6');
SELECT throws_ok($$UPDATE csm.health_group SET weight = 1e308 WHERE model = 'bounds'$$,
                 '23514', NULL, 'a group weight of 1e308');
SELECT throws_ok($$UPDATE csm.health_component SET green = 1e308 WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'a green threshold of 1e308');
SELECT throws_ok($$UPDATE csm.health_component SET red = -1e308 WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'a red threshold of -1e308');
SELECT throws_ok($$UPDATE csm.health_component SET green = 1.000001e12 WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'a threshold just beyond 1e12');
SELECT throws_ok($$UPDATE csm.health_component SET best = 1e308 WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'best at 1e308');
SELECT throws_ok($$UPDATE csm.health_component SET worst = -1e308 WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'worst at -1e308');
SELECT throws_ok($$UPDATE csm.health_component SET max_value = 1e308 WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'a domain bound of 1e308');
SELECT throws_ok($$UPDATE csm.health_component SET min_value = 'NaN' WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'a NaN domain bound');
SELECT throws_ok($$UPDATE csm.health_component SET max_value = 'Infinity' WHERE metric = 'big' AND model = 'bounds'$$,
                 '23514', NULL, 'an infinite domain bound (NULL is unbounded)');
SELECT throws_ok($$INSERT INTO csm.health_component (model, metric, weight, green, red)
                   VALUES ('bounds', 'huge', 1, 1e308, 1e307)$$,
                 '23514', NULL, 'a new component with thresholds of 1e308 and 1e307');

-- Accepted at the bounds, and scored exactly. ------------------------------------
SELECT lives_ok($$UPDATE csm.health_component SET best = 1e12, worst = -1e12, green = 5e11, red = -5e11,
                                                   min_value = -1e12, max_value = 1e12
                  WHERE metric = 'big' AND model = 'bounds'$$,
                'best, worst and the domain at +-1e12 are accepted');
SELECT lives_ok($$UPDATE csm.health_component SET green = 1e12, red = -1e12, best = NULL, worst = NULL,
                                                   min_value = NULL, max_value = NULL
                  WHERE metric = 'big' AND model = 'bounds'$$,
                'thresholds at +-1e12 are accepted');

-- big: yellow runs from -1e12 (70) to 1e12 (89.99), green from 1e12 to best,
-- one yellow width beyond (3e12, 100).
SELECT is(csm.csm_health_score('{"big": 0}', 'bounds'), 79.995::float8, 'the middle of a +-1e12 yellow zone scores 79.995');
SELECT is(csm.csm_health_score('{"big": 1e12}', 'bounds'), 89.99::float8, 'exactly at green 1e12: the top of yellow');
SELECT is(csm.csm_health_score('{"big": 2e12}', 'bounds'), 95::float8, 'halfway to best (3e12): 95');
SELECT is(csm.csm_health_score('{"big": 3e12}', 'bounds'), 100::float8, 'at best (3e12): 100');
SELECT is(csm.csm_health_score('{"big": -3e12}', 'bounds'), 0::float8, 'at worst (-3e12): 0');
SELECT is(csm.csm_health_score('{"small": 0.625}', 'bounds'), 95::float8, 'a weight of 1e-6 alone scores as any weight');
-- Weights 1e6 and 1e-6 in one group: the small one moves the mean by its
-- share, 1e-12 of the difference, and no more.
SELECT ok(abs(csm.csm_health_score('{"big": 0, "small": 0.625}', 'bounds')
              - (1e6 * 79.995 + 1e-6 * 95) / (1e6 + 1e-6)) < 1e-12,
          'weights 1e6 and 1e-6 mix in proportion');
SELECT is((csm.csm_health_evaluate('{"big": 0, "small": 0.625}', 'bounds')).coverage, 1::float8,
          'coverage of a complete model with weights 1e6 and 1e-6 is 1');

SELECT * FROM finish();
ROLLBACK;
