-- Expansion on Citus: expansion_signals_at, refresh_expansion,
-- identify_expansion and expansion_candidate on a cluster where
-- csm.distribute() has run, with the answers of a single node.  The same
-- file passes on a single node (pg_prove against a database with csm and
-- pgtap), which is how the expected values below were checked.
--
-- Ten accounts (ids 9501-9510), one per signal (and per way a plan limit is
-- reached), a control and a churned one; usage written to the rollup
-- tables directly (tracking is tested elsewhere); every date relative to
-- today (UTC); refreshes as of the start of today, never in the future.
-- Everything is rolled back.
BEGIN;
SELECT plan(18);
SET LOCAL timezone = 'UTC';
SET LOCAL client_min_messages = warning;

-- Fixture -----------------------------------------------------------------------
INSERT INTO csm.account (account_id, external_id, arr, seats, started_at, renewal_date, properties) VALUES
    (9501, 'cx01', 50000, 100, now() - interval '400 days', current_date + 200, '{}'),
    (9502, 'cx02', 10000, 10, now() - interval '400 days', current_date + 200, '{}'),
    (9503, 'cx03', 90000, 100, now() - interval '400 days', current_date + 200, '{"seats_used": 95}'),
    (9504, 'cx04', 20000, NULL, now() - interval '400 days', current_date + 200, '{"usage_cap": 500}'),
    (9505, 'cx05', 30000, 100, now() - interval '400 days', current_date + 200, '{}'),
    (9506, 'cx06', 40000, 100, now() - interval '400 days', current_date + 200, '{}'),
    (9507, 'cx07', 15000, NULL, now() - interval '400 days', current_date + 200, '{}'),
    (9508, 'cx08', 80000, 100, now() - interval '400 days', current_date + 200, '{}'),
    (9509, 'cx09', 20000, NULL, now() - interval '400 days', current_date + 200, '{"usage_cap": {"api_call": 100}}'),
    (9510, 'cx10', 10000, 10, now() - interval '400 days', current_date + 200, '{"seats_used": 10}');
UPDATE csm.account SET status = 'churned', churned_at = now() - interval '10 days' WHERE account_id = 9510;

INSERT INTO csm.usage_source (source_id, relation, account_column, time_column, event_column, user_column)
VALUES (9950, 'csm.account', 'external_id', 'created_at', 'name', 'name');
-- users per day: (account, users, first day back, last day back)
INSERT INTO csm_internal.usage_user_day (account_id, source_id, day, user_key, events)
SELECT v.a, 9950, current_date - k, 'u' || u, 1
FROM (VALUES (9501, 5, 0, 119), (9502, 10, 0, 59), (9505, 5, 0, 59), (9505, 6, 0, 29), (9510, 10, 0, 59)) AS v(a, users, k0, k1),
     generate_series(v.k0, v.k1) AS k, generate_series(1, v.users) AS u
WHERE NOT (v.a = 9505 AND v.users = 6 AND u <= 5)
UNION ALL
-- the last user of 9505 came in the last 30 days only (above)
SELECT 9506, 9950, current_date - k, 'u1', 1 FROM generate_series(0, 119) AS k;
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT a, 9950, current_date - k, e, NULL
FROM (VALUES (9501, 5, 0, 119), (9502, 10, 0, 59), (9504, 15, 0, 29), (9505, 5, 0, 59), (9507, 10, 30, 119),
             (9507, 5, 0, 29), (9509, 5, 0, 29), (9510, 10, 0, 59)) AS v(a, e, k0, k1),
     generate_series(v.k0, v.k1) AS k;
INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
SELECT 9501, 9950, current_date - k, 'f' || f, 1 FROM generate_series(0, 119) AS k, generate_series(1, 5) AS f
UNION ALL
SELECT 9506, 9950, current_date - k, 'f' || f, 1 FROM generate_series(0, 119) AS k, generate_series(1, 3) AS f
WHERE f <= 2 OR k < 10
UNION ALL
SELECT 9509, 9950, current_date - k, v.f, v.e FROM generate_series(0, 29) AS k, (VALUES ('api_call', 4), ('export', 1)) AS v(f, e);
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
VALUES (9508, current_date - 1, 'default', 1, 95, 'green', 1, now()), (9501, current_date - 1, 'default', 1, 80, 'yellow', 1, now());
INSERT INTO csm.nps_response (account_id, response_id, responded_at, score)
VALUES (9508, 95081, now() - interval '20 days', 10), (9501, 95011, now() - interval '20 days', 10);

-- Detection -------------------------------------------------------------------------
SELECT set_eq($$SELECT s.account_id, s.signal FROM csm.expansion_signals_at(date_trunc('day', now())) s WHERE s.account_id > 9500$$,
              $$VALUES (9502::bigint, 'plan_limit'), (9503, 'plan_limit'), (9504, 'plan_limit'), (9505, 'user_growth'),
                       (9506, 'new_feature_area'), (9507, 'usage_milestone'), (9508, 'advocacy'), (9509, 'plan_limit')$$,
              'expansion_signals_at: one signal per account, none for the control and the churned account');
SELECT set_eq($$SELECT s.account_id, s.evidence FROM csm.expansion_signals_at(date_trunc('day', now())) s
                WHERE s.account_id IN (9502, 9504, 9509) $$,
              $$VALUES (9502::bigint, '{"limits": [{"cap": 10, "used": 10, "limit": "seats", "ratio": 1.0000, "source": "usage"}], "min_ratio": 0.9}'::jsonb),
                       (9504, '{"limits": [{"cap": 500, "used": 450, "limit": "events", "ratio": 0.9000, "window_days": 30}], "min_ratio": 0.9}'),
                       (9509, '{"limits": [{"cap": 100, "used": 120, "limit": "feature", "ratio": 1.2000, "feature": "api_call", "window_days": 30}], "min_ratio": 0.9}')$$,
              'plan_limit: seats used from the users, a cap on all events, a cap per feature');
SELECT is((SELECT s.evidence FROM csm.expansion_signals_at(date_trunc('day', now())) s WHERE s.account_id = 9505),
          '{"growth": 0.2000, "window_days": 30, "active_users": 6, "prior_active_users": 5}', 'user_growth: 5 users, then 6');
SELECT is((SELECT s.evidence FROM csm.expansion_signals_at(date_trunc('day', now())) s WHERE s.account_id = 9506),
          '{"window_days": 30, "new_features": ["f3"], "features_used": 3, "lookback_days": 90, "prior_features": 2}',
          'new_feature_area: f3 is new');
SELECT is((SELECT s.evidence FROM csm.expansion_signals_at(date_trunc('day', now())) s WHERE s.account_id = 9507),
          '{"milestones": [{"value": 1050, "reached": 1000, "milestone": "events"}], "window_days": 30}',
          'usage_milestone: the 1000th event in the last 30 days');
SELECT is((SELECT s.evidence - 'responded_at' FROM csm.expansion_signals_at(date_trunc('day', now())) s WHERE s.account_id = 9508),
          jsonb_build_object('nps', 10, 'health_day', current_date - 1, 'health_score', 95.00),
          'advocacy: green health and a 10');

-- Refresh ---------------------------------------------------------------------------
SELECT results_eq($$SELECT * FROM csm.refresh_expansion(date_trunc('day', now()), ARRAY(SELECT generate_series(9501::bigint, 9510)))$$,
                  $$VALUES (8, 0, 0)$$, 'refresh_expansion raises every signal once');
SELECT set_eq($$SELECT s.account_id, s.signal, s.evidence FROM csm.expansion_signal s WHERE s.cleared_at IS NULL AND s.account_id > 9500$$,
              $$SELECT s.account_id, s.signal, s.evidence FROM csm.expansion_signals_at(date_trunc('day', now())) s WHERE s.account_id > 9500$$,
              'the open signals are those detected, with their evidence');
SELECT results_eq($$SELECT * FROM csm.refresh_expansion(date_trunc('day', now()), ARRAY(SELECT generate_series(9501::bigint, 9510)))$$,
                  $$VALUES (0, 8, 0)$$, 'a second refresh at the same time sees them all again');
UPDATE csm.account SET properties = '{"seats_used": 50}' WHERE account_id = 9503;
SELECT results_eq($$SELECT * FROM csm.refresh_expansion(date_trunc('day', now()) + interval '1 second', ARRAY(SELECT generate_series(9501::bigint, 9510)))$$,
                  $$VALUES (0, 7, 1)$$, 'half the seats used: the plan limit of 9503 clears');

-- identify_expansion and the candidates ------------------------------------------------
SELECT is((SELECT e - 'computed_at' #- '{signals,0,first_seen_at}' FROM csm.identify_expansion('cx02') e),
          jsonb_build_object('customer_id', 'cx02', 'status', 'active', 'segment', 'smb', 'plan', NULL, 'arr', 10000, 'seats', 10,
                             'owner', NULL, 'health', NULL,
                             'current_usage', (SELECT jsonb_build_object('dau_ratio', m.dau_ratio, 'features_adopted', m.features_adopted,
                                                                         'days_since_last_activity', m.days_since_last_activity,
                                                                         'usage_trend', m.usage_trend, 'seats', 10, 'source', 'csm')
                                               FROM csm.account_metrics_at(current_date, 9502) m),
                             'signals', jsonb_build_array(jsonb_build_object(
                                 'signal', 'plan_limit', 'label', 'Approaching plan limits', 'likelihood', 0.5,
                                 'evidence', '{"limits": [{"cap": 10, "used": 10, "limit": "seats", "ratio": 1.0000, "source": "usage"}], "min_ratio": 0.9}'::jsonb,
                                 'play', (SELECT play FROM csm.expansion_signal_kind WHERE signal = 'plan_limit'))),
                             'recommended_plays', jsonb_build_array((SELECT play FROM csm.expansion_signal_kind WHERE signal = 'plan_limit')),
                             'expansion_potential', csm_internal._expansion_potential(10000, 10, '{0.5}')),
          'identify_expansion: the signal with its evidence and play, the potential');
SELECT is((SELECT e #>> '{expansion_potential,expected_arr}' FROM csm.identify_expansion('cx02') e), '1000.00',
          'identify_expansion: 20% of 10000 ARR at a likelihood of 0.5');
SELECT is((SELECT jsonb_path_query_array(e, '$.signals[*].signal') FROM csm.identify_expansion('cx05', '{"seats_used": 95}') e),
          '["plan_limit", "user_growth"]', 'identify_expansion: seats in use from the caller add the plan limit');
SELECT set_eq($$SELECT account_id, signals, expected_arr FROM csm.expansion_candidate WHERE account_id > 9500$$,
              $$VALUES (9502::bigint, '{plan_limit}'::text[], 1000.00), (9504, '{plan_limit}', 2000.00), (9505, '{user_growth}', 1800.00),
                       (9506, '{new_feature_area}', 1600.00), (9507, '{usage_milestone}', 300.00), (9508, '{advocacy}', 3200.00),
                       (9509, '{plan_limit}', 2000.00)$$,
              'expansion_candidate: the open signals and the expected ARR of each account');

-- Deleting an account deletes its signals (a statement trigger on the
-- reference table csm.account, once, from the node it ran on).
-- (counted into a temporary table first: Citus would send the test's own
-- query to the shard)
CREATE TEMP TABLE cx_before AS SELECT count(*) AS n FROM csm.expansion_signal WHERE account_id = 9504;
DELETE FROM csm.account WHERE account_id = 9504;
CREATE TEMP TABLE cx_after AS SELECT count(*) AS n FROM csm.expansion_signal WHERE account_id = 9504;
SELECT is((SELECT n FROM cx_before) || ' -> ' || (SELECT n FROM cx_after), '1 -> 0',
          'a deleted account''s signals go with it');

-- Errors ------------------------------------------------------------------------------
SELECT throws_ok($$SELECT csm.identify_expansion('cx99')$$, 'P0002', NULL, 'identify_expansion: unknown customer, P0002');
SELECT throws_ok($$UPDATE csm.expansion_signal_kind SET likelihood = 0.9 WHERE signal = 'advocacy'$$, '42501', NULL,
                 'the kinds (a reference table) are read-only');

-- Multi-row inserts into csm.expansion_signal_setting: Citus COPYs them to every node at once, and
-- the trigger of each copy must not run a distributed query meanwhile.
SELECT lives_ok($$INSERT INTO csm.expansion_signal_setting (signal, params)
                  SELECT signal, '{}' FROM csm.expansion_signal_kind ON CONFLICT (signal) DO NOTHING$$,
                'a multi-row INSERT ... SELECT into csm.expansion_signal_setting');

SELECT * FROM finish();
ROLLBACK;
