-- csm_internal._facts_object (src/lifecycle.c), the C form of
-- jsonb_build_object that refresh_lifecycle builds every account's facts
-- with: the same jsonb for every kind of value it handles itself, NULL,
-- NaN, the infinities and the extremes included; other types, an odd
-- number of arguments and a NULL key are jsonb_build_object's, with its
-- errors and SQLSTATEs.
BEGIN;
SELECT plan(12);

CREATE TYPE pg_temp.tap_mood AS ENUM ('calm', 'stormy');

SELECT is(csm_internal._facts_object('s', 'text'::text, 'v', 'varchar'::varchar, 'e', ''::text, 'n', NULL::text),
          jsonb_build_object('s', 'text'::text, 'v', 'varchar'::varchar, 'e', ''::text, 'n', NULL::text),
          'strings, the empty one and NULL');
SELECT is(csm_internal._facts_object('a', (-32768)::int2, 'b', 2147483647::int4, 'c', (-9223372036854775808)::int8, 'd', 0::int8),
          jsonb_build_object('a', (-32768)::int2, 'b', 2147483647::int4, 'c', (-9223372036854775808)::int8, 'd', 0::int8),
          'integers of every width at their extremes');
SELECT is(csm_internal._facts_object('x', 0.1::numeric, 'y', 1e300::numeric, 'z', (-12345678901234567890.123456789)::numeric),
          jsonb_build_object('x', 0.1::numeric, 'y', 1e300::numeric, 'z', (-12345678901234567890.123456789)::numeric),
          'numerics, huge and precise');
SELECT is(csm_internal._facts_object('nan', 'NaN'::numeric, 'inf', 'Infinity'::numeric, 'ninf', '-Infinity'::numeric),
          jsonb_build_object('nan', 'NaN'::numeric, 'inf', 'Infinity'::numeric, 'ninf', '-Infinity'::numeric),
          'NaN and the infinities are strings, as jsonb_build_object makes them');
SELECT is(csm_internal._facts_object('t', true, 'f', false, 'n', NULL::boolean),
          jsonb_build_object('t', true, 'f', false, 'n', NULL::boolean),
          'booleans and NULL');
SELECT is(csm_internal._facts_object('mood', 'stormy'::pg_temp.tap_mood, 'stage', 'renewal'::csm.lifecycle_stage),
          jsonb_build_object('mood', 'stormy'::pg_temp.tap_mood, 'stage', 'renewal'::csm.lifecycle_stage),
          'enum values are their labels');
SELECT is(csm_internal._facts_object('d', date '2026-12-07', 'f', 'NaN'::float8, 'j', '{"k": [1]}'::jsonb, 'arr', ARRAY[1, 2]),
          jsonb_build_object('d', date '2026-12-07', 'f', 'NaN'::float8, 'j', '{"k": [1]}'::jsonb, 'arr', ARRAY[1, 2]),
          'other types are left to jsonb_build_object');
SELECT is(csm_internal._facts_object('k', 1, 'k', 2),
          jsonb_build_object('k', 1, 'k', 2),
          'a repeated key keeps the last value');
SELECT is(csm_internal._facts_object(VARIADIC ARRAY['a', 'b', 'c', NULL]),
          jsonb_build_object(VARIADIC ARRAY['a', 'b', 'c', NULL]),
          'VARIADIC with an array');
SELECT is(csm_internal._facts_object(VARIADIC NULL::text[]), NULL, 'VARIADIC NULL is NULL');
SELECT throws_ok($$SELECT csm_internal._facts_object('a', 1, 'b')$$, '22023', NULL,
                 'an odd number of arguments: 22023, as jsonb_build_object');
SELECT throws_ok($$SELECT csm_internal._facts_object(NULL::text, 1)$$, '22023', NULL,
                 'a NULL key: 22023, as jsonb_build_object');

SELECT * FROM finish();
ROLLBACK;
