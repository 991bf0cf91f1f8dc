-- Expansion: the SQLSTATEs of refresh_expansion, identify_expansion and the
-- settings; properties of expansion_potential over many generated inputs;
-- a whole-portfolio refresh that is idempotent.
BEGIN;
SELECT plan(25);
SET LOCAL timezone = 'UTC';

INSERT INTO csm.account (external_id, arr, seats, started_at, properties)
VALUES ('tap_exp_1', 12000, 10, now() - interval '400 days', '{"seats_used": 10}'),
       ('tap_exp_2', 8000, 100, now() - interval '400 days', '{"usage_cap": 0}');

-- Errors ---------------------------------------------------------------------------
SELECT throws_ok($$SELECT csm.identify_expansion('tap_exp_nobody')$$, 'P0002', NULL, 'unknown customer: P0002');
SELECT throws_ok($$SELECT csm.identify_expansion(NULL)$$, '22023', 'identify_expansion: customer_id is required',
                 'NULL customer_id (seed 002: required): 22023 naming it');
SELECT throws_ok($$SELECT csm.identify_expansion('tap_exp_1', '"ten seats"')$$, '22023', NULL,
                 'current_usage not an object: 22023');
SELECT throws_ok($$SELECT csm.identify_expansion('tap_exp_1', budget_info => '{"amount": 5}')$$, '22023', NULL,
                 'budget_info with an unknown key: 22023');
SELECT throws_ok($$SELECT csm.identify_expansion('tap_exp_1', growth_plans => '{"additional_seats": -1}')$$, '22023', NULL,
                 'growth_plans with a negative number: 22023');
SELECT throws_ok($$SELECT csm.refresh_expansion('-infinity')$$, '22023', NULL, 'infinite as_of: 22023');
SELECT throws_ok($$SELECT csm.refresh_expansion(now() + interval '1 hour')$$, '22023', NULL, 'future as_of: 22023');
SELECT throws_ok($$SELECT csm.expansion_signals_at(NULL)$$, '22023', NULL, 'expansion_signals_at(NULL): 22023');
SELECT throws_ok($$INSERT INTO csm.expansion_signal_setting (signal, params) VALUES ('advocacy', '{"min_nps": -1}')$$,
                 '22023', NULL, 'a negative threshold: 22023');
SELECT throws_ok($$INSERT INTO csm.expansion_signal_setting (signal, params) VALUES ('advocacy', '{"nps_max_age_days": 1.5}')$$,
                 '22023', NULL, 'a fractional number of days: 22023');
SELECT throws_ok($$INSERT INTO csm.expansion_signal_setting (signal) VALUES ('no_such_signal')$$,
                 '23503', NULL, 'a setting of an unknown signal: 23503');
SELECT throws_ok($$DELETE FROM csm.expansion_signal_kind WHERE signal = 'advocacy'$$,
                 '42501', NULL, 'the built-in kinds are read-only: 42501');
SELECT ok(pg_catalog.has_function_privilege('csm.refresh_expansion(timestamptz, bigint[])', 'EXECUTE')
          AND (SELECT p.prosecdef FROM pg_proc p WHERE p.oid = 'csm.refresh_expansion(timestamptz, bigint[])'::regprocedure),
          'refresh_expansion is SECURITY DEFINER (it checks the operate level itself)');

-- Properties of expansion_potential over generated inputs -------------------------
SELECT setseed(0.42);
CREATE TEMP TABLE tap_potential AS
SELECT g.i, g.arr, g.seats, g.likelihoods, g.budget, g.extra,
       csm_internal._expansion_potential(g.arr, g.seats, g.likelihoods) AS p,
       csm_internal._expansion_potential(g.arr, g.seats, g.likelihoods || 0.25::float8) AS p_more,
       csm_internal._expansion_potential(g.arr, g.seats, g.likelihoods, NULL, NULL, g.budget) AS p_budget,
       csm_internal._expansion_potential(g.arr, g.seats, g.likelihoods, g.extra) AS p_seats
FROM (SELECT i, round((random() * 500000)::numeric, 2) AS arr, (random() * 1000)::integer AS seats,
             ARRAY(SELECT (random() * 0.99)::float8 FROM generate_series(1, (i % 6)) WHERE i > 0) AS likelihoods,
             round((random() * 100000)::numeric, 2) AS budget, (random() * 200)::integer AS extra
      FROM generate_series(1, 2000) AS i) g;
SELECT is((SELECT count(*) FROM tap_potential
           WHERE NOT ((p ->> 'likelihood')::numeric >= 0 AND (p ->> 'likelihood')::numeric <= 1)), 0::bigint,
          'likelihood is within [0, 1]');
SELECT is((SELECT count(*) FROM tap_potential
           WHERE NOT ((p ->> 'expected_arr')::numeric >= 0
                      AND (p ->> 'expected_arr')::numeric <= (p ->> 'upside_arr')::numeric)), 0::bigint,
          'expected_arr is between 0 and upside_arr');
SELECT is((SELECT count(*) FROM tap_potential WHERE (p_more ->> 'likelihood')::numeric < (p ->> 'likelihood')::numeric),
          0::bigint, 'one more open signal never lowers the likelihood');
SELECT is((SELECT count(*) FROM tap_potential WHERE (p_budget ->> 'upside_arr')::numeric > budget), 0::bigint,
          'a budget caps upside_arr');
SELECT is((SELECT count(*) FROM tap_potential
           WHERE cardinality(likelihoods) = 0 AND (p ->> 'expected_arr')::numeric <> 0), 0::bigint,
          'no open signal, nothing expected');
SELECT is((SELECT count(*) FROM tap_potential
           WHERE seats > 0 AND (p_seats ->> 'upside_arr')::numeric <> round(arr / seats * extra, 2)), 0::bigint,
          'planned seats are priced at ARR per seat');

-- A refresh of the whole portfolio, twice at the same time: the second
-- raises and clears nothing.
CREATE TEMP TABLE tap_first AS SELECT * FROM csm.refresh_expansion(now());
SELECT ok((SELECT raised FROM tap_first) >= 1, 'the first refresh raises the seat limit of tap_exp_1');
SELECT results_eq($$SELECT raised, cleared FROM csm.refresh_expansion(now())$$, $$VALUES (0, 0)$$,
                  'a second refresh at the same as_of raises and clears nothing');
SELECT is((SELECT count(*) FROM csm.expansion_signal s JOIN csm.account a USING (account_id)
           WHERE a.external_id LIKE 'tap\_exp\_%' AND s.cleared_at IS NULL), 1::bigint,
          'one open signal: tap_exp_1 uses every seat; a usage cap of 0 is no cap');

-- Alerts follow the signals a refresh raised or cleared, not every open one:
-- an alert gone by other means comes back with run_alerts(), not with a
-- refresh that changed nothing.
SELECT is((SELECT count(*) FROM csm.alert x JOIN csm.account a USING (account_id)
           WHERE a.external_id = 'tap_exp_1' AND x.kind = 'plan_limit' AND x.cleared_at IS NULL), 1::bigint,
          'the refresh that raised the seat limit raised its plan_limit alert');
DELETE FROM csm.alert x USING csm.account a
WHERE a.account_id = x.account_id AND a.external_id = 'tap_exp_1' AND x.kind = 'plan_limit';
SELECT csm.refresh_expansion(now());
SELECT is((SELECT count(*) FROM csm.alert x JOIN csm.account a USING (account_id)
           WHERE a.external_id = 'tap_exp_1' AND x.kind = 'plan_limit'), 0::bigint,
          'a refresh that raises and clears nothing raises no alert');
SELECT csm.run_alerts();
SELECT is((SELECT count(*) FROM csm.alert x JOIN csm.account a USING (account_id)
           WHERE a.external_id = 'tap_exp_1' AND x.kind = 'plan_limit' AND x.cleared_at IS NULL), 1::bigint,
          'run_alerts() raises it again');

SELECT * FROM finish();
ROLLBACK;
