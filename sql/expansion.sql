-- citus-differs: csm.track_usage refuses the file's local event table on Citus (0A000, README "Growing past one machine"), so the usage-based signals are not raised there, the file's helper exp_accounts(), which reads csm.account, cannot run inside a query Citus sends to a shard, and a CHECK violation names the shard; test/citus/expansion.sql covers expansion on a cluster.
-- Expansion signals: one account per signal (and per way a plan limit is
-- reached), a control account and a churned one, a refresh, its repeat,
-- a signal clearing and coming back; then identify_expansion, the seed's
-- contract.  Every date is relative to today (UTC): identify_expansion
-- detects as of now().
\set VERBOSITY terse
SET timezone = 'UTC';

CREATE TABLE exp_events (org text, at timestamptz, feature text, who text);
SELECT csm.track_usage('exp_events', 'org', 'at', 'feature', 'who') > 0 AS tracked;

INSERT INTO csm.account (external_id, arr, seats, started_at, renewal_date, properties) VALUES
    ('exp_control', 50000, 100, '2025-01-01', current_date + 200, '{}'),
    ('exp_seats', 10000, 10, '2025-01-01', current_date + 200, '{}'),
    ('exp_seat_prop', 90000, 100, '2025-01-01', current_date + 200, '{"seats_used": 95}'),
    ('exp_cap', 20000, NULL, '2025-01-01', current_date + 200, '{"usage_cap": 500}'),
    ('exp_feature_cap', 20000, NULL, '2025-01-01', current_date + 200, '{"usage_cap": {"api_call": 100, "export": 1000}}'),
    ('exp_growth', 30000, 100, '2025-01-01', current_date + 200, '{}'),
    ('exp_new_area', 40000, 100, '2025-01-01', current_date + 200, '{}'),
    ('exp_events_1000', 15000, NULL, '2025-01-01', current_date + 200, '{}'),
    ('exp_users_100', 60000, NULL, '2025-01-01', current_date + 200, '{}'),
    ('exp_advocate', 80000, 100, '2025-01-01', current_date + 200, '{}'),
    ('exp_churned', 10000, 100, '2025-01-01', current_date + 200, '{"seats_used": 100}');
UPDATE csm.account SET status = 'churned', churned_at = now() - interval '10 days' WHERE external_id = 'exp_churned';

-- Usage; "day k" is k days before today, 10:00 UTC.  control: 5 users a
-- day on 5 features for 120 days (600 events; neither growth nor a new
-- feature nor a milestone).
INSERT INTO exp_events
SELECT 'exp_control', current_date - k + time '10:00', 'f' || u::text, 'u' || u::text
FROM generate_series(0, 119) AS k, generate_series(1, 5) AS u;
-- seats: 10 users a day for 60 days on one feature: 10 of 10 seats used
INSERT INTO exp_events
SELECT 'exp_seats', current_date - k + time '10:00', 'f1', 'u' || u::text
FROM generate_series(0, 59) AS k, generate_series(1, 10) AS u;
-- cap: 15 events a day for 30 days, 450 of a cap of 500 (90%)
INSERT INTO exp_events
SELECT 'exp_cap', current_date - k + time '10:00', 'f1', 'u1'
FROM generate_series(0, 29) AS k, generate_series(1, 15) AS i;
-- feature cap: 4 api calls and 1 export a day for 30 days: api_call 120 of
-- 100, export 30 of 1000
INSERT INTO exp_events
SELECT 'exp_feature_cap', current_date - k + time '10:00', CASE WHEN i <= 4 THEN 'api_call' ELSE 'export' END, 'u1'
FROM generate_series(0, 29) AS k, generate_series(1, 5) AS i;
-- growth: 5 users a day on days 30-59, 6 on days 0-29 (+20%)
INSERT INTO exp_events
SELECT 'exp_growth', current_date - k + time '10:00', 'f1', 'u' || u::text
FROM generate_series(0, 59) AS k, generate_series(1, 6) AS u
WHERE u <= 5 OR k < 30;
-- new area: f1 and f2 for 120 days, f3 as well in the last 10
INSERT INTO exp_events
SELECT 'exp_new_area', current_date - k + time '10:00', 'f' || f::text, 'u1'
FROM generate_series(0, 119) AS k, generate_series(1, 3) AS f
WHERE f <= 2 OR k < 10;
-- events_1000: 10 a day on days 30-119 (900), then 5 a day (150): the
-- 1000th event came in the last 30 days
INSERT INTO exp_events
SELECT 'exp_events_1000', current_date - k + time '10:00', 'f1', 'u1'
FROM generate_series(0, 119) AS k, generate_series(1, 10) AS i
WHERE i <= 5 OR k >= 30;
-- users_100: 90 users in days 30-59, 100 in the last 30 (one event each)
INSERT INTO exp_events
SELECT 'exp_users_100', current_date - (CASE WHEN u <= 90 THEN 40 ELSE 0 END) + time '10:00', 'f1', 'u' || u::text
FROM generate_series(1, 100) AS u
UNION ALL
SELECT 'exp_users_100', current_date - 5 + time '10:00', 'f1', 'u' || u::text
FROM generate_series(1, 100) AS u;
-- the churned account used every seat
INSERT INTO exp_events
SELECT 'exp_churned', current_date - k + time '10:00', 'f1', 'u' || u::text
FROM generate_series(0, 59) AS k, generate_series(1, 10) AS u;

-- Health and NPS: the advocate is green (95) with a 10; control is a
-- promoter too, but at 80; seats is green but a passive.
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT a.account_id, current_date - 1, 'default', 1, v.score, csm.health_band(v.score), 1, now() - interval '1 day'
FROM csm.account a JOIN (VALUES ('exp_advocate', 95), ('exp_control', 80), ('exp_seats', 96)) AS v(ext, score)
  ON v.ext = a.external_id;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT a.account_id, now() - interval '20 days', v.score
FROM csm.account a JOIN (VALUES ('exp_advocate', 10), ('exp_control', 10), ('exp_seats', 8)) AS v(ext, score)
  ON v.ext = a.external_id;

-- The accounts of this file, which every refresh below is limited to (the
-- suite's other files share the database), and errors by their SQLSTATE.
CREATE FUNCTION exp_accounts() RETURNS bigint[] LANGUAGE sql STABLE
    AS $$ SELECT ARRAY(SELECT account_id FROM csm.account WHERE external_id LIKE 'exp\_%' ORDER BY account_id) $$;
CREATE FUNCTION exp_sqlstate(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

-- The catalogue: five kinds, each with a play.
SELECT signal, label, likelihood, params FROM csm.expansion_signal_config ORDER BY likelihood DESC, signal;

-- The refresh: every account has exactly its signal; control and the
-- churned account none.
SELECT * FROM csm.refresh_expansion(now(), exp_accounts());
SELECT a.external_id, coalesce(string_agg(s.signal, ', ' ORDER BY s.signal), '-') AS signals
FROM csm.account a LEFT JOIN csm.expansion_signal s ON s.account_id = a.account_id AND s.cleared_at IS NULL
WHERE a.external_id LIKE 'exp\_%'
GROUP BY a.external_id ORDER BY a.external_id;
-- the evidence
SELECT external_id, signal, evidence - 'health_day' - 'responded_at' AS evidence
FROM csm.expansion_signal_current WHERE external_id LIKE 'exp\_%' ORDER BY external_id, signal;
-- (the advocate's dates: yesterday's health score, an answer 20 days ago)
SELECT (evidence ->> 'health_day')::date = current_date - 1 AS health_yesterday,
       (evidence ->> 'responded_at')::timestamptz < now() - interval '19 days' AS answered_20_days_ago
FROM csm.expansion_signal_current WHERE external_id = 'exp_advocate';

-- Idempotent: the same refresh again raises and clears nothing.
SELECT * FROM csm.refresh_expansion(now(), exp_accounts());
SELECT count(*) AS rows, count(*) FILTER (WHERE cleared_at IS NULL) AS open FROM csm.expansion_signal
WHERE account_id = ANY (exp_accounts());

-- A signal that goes clears; one that comes back gets a new row.
UPDATE csm.account SET properties = '{"seats_used": 50}' WHERE external_id = 'exp_seat_prop';
SELECT * FROM csm.refresh_expansion(now(), exp_accounts());
UPDATE csm.account SET properties = '{"seats_used": 90}' WHERE external_id = 'exp_seat_prop';
SELECT * FROM csm.refresh_expansion(now(), exp_accounts());
SELECT s.cleared_at IS NULL AS open, s.evidence #> '{limits,0,used}' AS seats_used
FROM csm.expansion_signal s JOIN csm.account a USING (account_id)
WHERE a.external_id = 'exp_seat_prop' ORDER BY s.first_seen_at;

-- Settings: a stricter ratio clears the cap at 90%; a signal turned off
-- clears everywhere; bad settings are refused.
INSERT INTO csm.expansion_signal_setting (signal, params) VALUES ('plan_limit', '{"min_ratio": 0.95}');
INSERT INTO csm.expansion_signal_setting (signal, enabled) VALUES ('advocacy', false);
SELECT * FROM csm.refresh_expansion(now(), exp_accounts());
SELECT external_id, signal FROM csm.expansion_signal_current
WHERE signal IN ('plan_limit', 'advocacy') AND external_id LIKE 'exp\_%' ORDER BY 1, 2;
DELETE FROM csm.expansion_signal_setting;
INSERT INTO csm.expansion_signal_setting (signal, params) VALUES ('plan_limit', '{"max_ratio": 1}');
INSERT INTO csm.expansion_signal_setting (signal, params) VALUES ('plan_limit', '{"window_days": 0}');
INSERT INTO csm.expansion_signal_setting (signal, params) VALUES ('usage_milestone', '{"event_milestones": []}');
INSERT INTO csm.expansion_signal_setting (signal, params) VALUES ('user_growth', '{"min_growth": "a lot"}');
INSERT INTO csm.expansion_signal_setting (signal, likelihood) VALUES ('user_growth', 1);
INSERT INTO csm.expansion_signal_setting (signal, likelihood) VALUES ('user_growth', 'NaN');
UPDATE csm.expansion_signal_kind SET likelihood = 0.9 WHERE signal = 'advocacy';
SELECT * FROM csm.refresh_expansion(now(), exp_accounts());

-- Refresh errors (22023): a NULL, infinite or future as_of, or one before the last.
SELECT q, exp_sqlstate(q) FROM pg_catalog.unnest(ARRAY[
    'SELECT csm.refresh_expansion(NULL)',
    'SELECT csm.refresh_expansion(''infinity'')',
    'SELECT csm.refresh_expansion(now() + interval ''1 day'')',
    'SELECT csm.refresh_expansion(now() - interval ''1 day'', exp_accounts())']) AS q;

-- Candidates, most expected ARR first.
SELECT external_id, signals, likelihood, upside_arr, expected_arr
FROM csm.expansion_candidate WHERE external_id LIKE 'exp\_%' ORDER BY expected_arr DESC, external_id;

-- identify_expansion ---------------------------------------------------------------
INSERT INTO csm.team_member (handle, name) VALUES ('eve', 'Eve Expansion');
SELECT assignment_success FROM csm.csm_assign('exp_seats', 'eve');
-- The contract: signals with evidence, potential with its assumption,
-- plays, owner.
SELECT jsonb_pretty(csm.identify_expansion('exp_seats') - 'computed_at' #- '{owner,since}' #- '{owner,member_id}'
                    #- '{signals,0,first_seen_at}');
-- first_seen_at is the refresh's, computed_at now()
SELECT (e #>> '{signals,0,first_seen_at}')::timestamptz = (SELECT s.first_seen_at FROM csm.expansion_signal_current s
                                                           WHERE s.external_id = 'exp_seats') AS first_seen_matches,
       (e ->> 'computed_at')::timestamptz = now() AS computed_now
FROM csm.identify_expansion('exp_seats') AS e;
-- What the caller knows: 95 seats in use (of 100) raises plan_limit for
-- the growth account; its active users, flat, clear user_growth; planned
-- seats price the upside, a budget caps it.
SELECT e -> 'signals' AS signals, e -> 'expansion_potential' AS potential
FROM csm.identify_expansion('exp_growth', '{"seats_used": 95, "active_users": 40, "prior_active_users": 40}') AS e;
SELECT e #> '{expansion_potential}' AS potential
FROM csm.identify_expansion('exp_growth', growth_plans => '{"additional_seats": 50}') AS e;
SELECT e #> '{expansion_potential}' AS potential
FROM csm.identify_expansion('exp_growth', budget_info => '{"budget": 1000}', growth_plans => '{"headcount_growth": 0.5}') AS e;
-- seats in use below the limit take it away: the caller's count wins
SELECT e -> 'signals' AS signals
FROM csm.identify_expansion('exp_seats', '{"seats_used": 2}') AS e;
-- control: no signal, nothing expected; the churned account: nothing
SELECT e -> 'signals' AS signals, e -> 'expansion_potential' AS potential, e -> 'owner' AS owner
FROM csm.identify_expansion('exp_control') AS e;
SELECT e -> 'status' AS status, e -> 'signals' AS signals, e -> 'expansion_potential' AS potential
FROM csm.identify_expansion('exp_churned', '{"seats_used": 100}') AS e;
-- Errors: unknown customer (P0002), NULL customer (22004), bad inputs (22023).
SELECT q, exp_sqlstate(q) FROM pg_catalog.unnest(ARRAY[
    'SELECT csm.identify_expansion(''exp_nobody'')',
    'SELECT csm.identify_expansion(NULL)',
    'SELECT csm.identify_expansion(''exp_seats'', ''[1, 2]'')',
    'SELECT csm.identify_expansion(''exp_seats'', ''{"seat_used": 3}'')',
    'SELECT csm.identify_expansion(''exp_seats'', ''{"seats_used": -3}'')',
    'SELECT csm.identify_expansion(''exp_seats'', budget_info => ''{"budget": "big"}'')',
    'SELECT csm.identify_expansion(''exp_seats'', growth_plans => ''{"expected_uplift": null}'')',
    'SELECT csm.identify_expansion(''exp_seats'', growth_plans => ''{"expected_uplift": 0.3}'')']) AS q;
SELECT csm.identify_expansion('exp_nobody');
SELECT csm.identify_expansion('exp_seats', '{"seat_used": 3}');

-- Deleting an account deletes its signals.
SELECT account_id AS advocate_id FROM csm.account WHERE external_id = 'exp_advocate' \gset
SELECT count(*) AS advocate_rows FROM csm.expansion_signal WHERE account_id = :advocate_id;
DELETE FROM csm.account WHERE external_id = 'exp_advocate';
SELECT count(*) AS advocate_rows FROM csm.expansion_signal WHERE account_id = :advocate_id;

SELECT csm.untrack_usage('exp_events');
DROP TABLE exp_events;
DELETE FROM csm.account WHERE external_id LIKE 'exp\_%';
DELETE FROM csm.team_member WHERE handle = 'eve';
DROP FUNCTION exp_accounts(), exp_sqlstate(text);
