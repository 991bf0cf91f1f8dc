-- Lifecycle: stages by rules kept as data, onboarding phases, a stage set
-- by hand that sticks, the history, milestones (by hand and from usage),
-- the onboarding cohort against the seed's success criteria, and the
-- seed's handoff after onboarding through routing rules.
-- citus-differs: tracks a local table for the usage milestones, which csm.track_usage() refuses on a distributed csm (0A000, by design); test/citus/lifecycle.sql checks the same paths on the cluster.
\set VERBOSITY terse
-- csm counts whole UTC days.  pg_regress runs in PST8PDT, where now() -
-- interval '60 days' across a change of daylight saving time is 60 days and
-- an hour: 61 UTC days from 00:00 to 01:00 UTC.
SET timezone = 'UTC';
CREATE FUNCTION stage_of(org text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN
    RETURN (SELECT a.lifecycle_stage || coalesce('/' || l.onboarding_phase, '') || CASE WHEN l.manual THEN ' (manual)' ELSE '' END
            FROM csm.account a JOIN csm.account_lifecycle l USING (account_id) WHERE a.external_id = org); END $$;
CREATE FUNCTION history_of(org text) RETURNS TABLE (stage text, phase text, reason text, open boolean)
LANGUAGE plpgsql AS $$ BEGIN
    RETURN QUERY SELECT h.stage::text, h.phase::text, h.reason, h.left_at IS NULL
    FROM csm.lifecycle_history h JOIN csm.account a USING (account_id) WHERE a.external_id = org ORDER BY h.history_id; END $$;

-- the seed's defaults, as data
SELECT name, priority, stage, condition, builtin FROM csm.lifecycle_rule ORDER BY priority;
SELECT milestone, phase, first_value, business_outcome, detect_users FROM csm.milestone ORDER BY phase, milestone;
SELECT d, csm.onboarding_phase_at(d) FROM (VALUES (-2), (0), (7), (8), (30), (31), (90), (91)) v (d);

-- new accounts get their stage at once, by the rules
INSERT INTO csm.account (external_id, arr, seats, started_at, renewal_date) VALUES
    ('day3', 10000, 2, now() - interval '3 days', current_date + 365),
    ('day20', 10000, 10, now() - interval '20 days', current_date + 345),
    ('day60', 10000, 10, now() - interval '60 days', current_date + 305),
    ('day200', 10000, 10, now() - interval '200 days', current_date + 165),
    ('renewing', 10000, 10, now() - interval '300 days', current_date + 60),
    ('nostart', 10000, 10, NULL, NULL);
SELECT external_id, stage_of(external_id) FROM csm.account ORDER BY account_id;
SELECT * FROM history_of('day20');
-- idempotent: nothing moves twice
SELECT csm.refresh_lifecycle() AS moved;
SELECT count(*) FROM csm.lifecycle_history;

-- facts of the account move it: a renewal date comes near, the account churns, comes back
UPDATE csm.account SET renewal_date = current_date + 80 WHERE external_id = 'day200';
SELECT stage_of('day200');
UPDATE csm.account SET status = 'churned' WHERE external_id = 'renewing';
SELECT stage_of('renewing');
UPDATE csm.account SET status = 'active' WHERE external_id = 'renewing';
SELECT * FROM history_of('renewing');

-- a stage set by hand sticks: through refreshes and changes of the facts
SELECT stage, manual, set_reason FROM csm.set_lifecycle_stage('day200', 'growth', 'expansion deal in flight');
SELECT csm.refresh_lifecycle() AS moved;
UPDATE csm.account SET renewal_date = current_date + 10 WHERE external_id = 'day200';
SELECT stage_of('day200');
-- ... until cleared
SELECT stage, manual, rule FROM csm.clear_lifecycle_stage('day200');
SELECT * FROM history_of('day200');
-- the column itself: set it by hand, empty it to let the rules decide
UPDATE csm.account SET lifecycle_stage = 'renewal' WHERE external_id = 'nostart';
SELECT stage_of('nostart');
SELECT csm.refresh_lifecycle() AS moved, stage_of('nostart');
UPDATE csm.account SET lifecycle_stage = NULL WHERE external_id = 'nostart';
SELECT * FROM history_of('nostart');
-- churn always wins, and unpins
SELECT stage FROM csm.set_lifecycle_stage('day60', 'adoption', 'kickoff done early');
UPDATE csm.account SET status = 'churned' WHERE external_id = 'day60';
SELECT stage_of('day60');
UPDATE csm.account SET status = 'active' WHERE external_id = 'day60';
SELECT stage_of('day60');
-- refusals
SELECT csm.set_lifecycle_stage('day60', 'churned');
UPDATE csm.account SET status = 'churned' WHERE external_id = 'day60';
SELECT csm.set_lifecycle_stage('day60', 'growth');
UPDATE csm.account SET lifecycle_stage = 'growth' WHERE external_id = 'day60';
UPDATE csm.account SET status = 'active' WHERE external_id = 'day60';
SELECT csm.set_lifecycle_stage('nobody', 'growth');
SELECT csm.set_lifecycle_stage('day60', NULL);
SELECT csm.clear_lifecycle_stage(NULL);

-- rules are data: a rule of your own, a built-in changed, disabled; bad ones refused
INSERT INTO csm.lifecycle_rule (name, priority, stage, condition) VALUES
    ('big_accounts_grow', 25, 'growth', 'arr >= 50000');
UPDATE csm.account SET arr = 60000 WHERE external_id = 'day200';
SELECT stage_of('day200');
UPDATE csm.lifecycle_rule SET condition = 'days_to_renewal <= 60' WHERE name = 'renewal';
SELECT name, customized FROM csm.lifecycle_rule WHERE builtin AND customized;
DELETE FROM csm.lifecycle_rule WHERE name = 'renewal';
UPDATE csm.lifecycle_rule SET name = 'renewal_60' WHERE name = 'renewal';
INSERT INTO csm.lifecycle_rule (name, stage, condition, builtin) VALUES ('mine', 'growth', 'TRUE', true);
INSERT INTO csm.lifecycle_rule (name, stage, condition) VALUES ('bad', 'growth', 'lifecycle_stage = ''onboarded''');
INSERT INTO csm.lifecycle_rule (name, stage, condition) VALUES ('bad', 'growth', 'onboarding_phase = ''setup''');
INSERT INTO csm.lifecycle_rule (name, stage, condition) VALUES ('bad', 'grown', 'TRUE');
DELETE FROM csm.lifecycle_rule WHERE name = 'big_accounts_grow';
UPDATE csm.lifecycle_rule SET condition = 'days_to_renewal <= 90' WHERE name = 'renewal';

-- milestones: by hand, and detected from usage
CREATE TABLE app_event (org text, at timestamptz, feature text, user_id text);
SELECT csm.track_usage('app_event', 'org', 'at', 'feature', 'user_id') > 0 AS tracked;
INSERT INTO csm.milestone (milestone, label, phase, detect_feature, detect_events) VALUES
    ('ten_reports', 'Ten reports run', 'activation', 'reports', 10);
INSERT INTO csm.core_feature (feature) VALUES ('reports'), ('dashboards');
INSERT INTO app_event
SELECT 'day3', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '2 days' + make_interval(mins => i), 'reports', 'u1' FROM generate_series(1, 6) i
UNION ALL
SELECT 'day3', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day' + make_interval(mins => i), 'reports', 'u2' FROM generate_series(1, 6) i
UNION ALL
SELECT 'day3', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day', 'dashboards', 'u2';
SELECT csm.refresh_lifecycle() >= 0 AS refreshed;
SELECT milestone, source, achieved_at = date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '2 days' AS on_day_one,
       achieved_at = date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day' AS on_day_two
FROM csm.account_milestone JOIN csm.account USING (account_id) WHERE external_id = 'day3' ORDER BY milestone;
SELECT (csm.record_milestone('day3', 'kickoff_call_held', now() - interval '2 days', 'went well')).source;
SELECT csm.record_milestone('day3', 'no_such_milestone');
SELECT csm.record_milestone('day3', 'kickoff_call_held', now() + interval '1 day');
SELECT csm.record_milestone('nobody', 'kickoff_call_held');
SELECT csm.record_milestone('day3', NULL);
SELECT csm.clear_milestone('day3', 'kickoff_call_held') AS cleared, csm.clear_milestone('day3', 'kickoff_call_held') AS again;
DELETE FROM csm.milestone WHERE milestone = 'kickoff_call_held';

-- the onboarding cohort against the success criteria: day3 meets them one by one
SELECT external_id, days_since_start, phase, milestones_due, milestones_done, milestones_overdue
FROM csm.onboarding_status ORDER BY account_id;
SELECT active_users, seats, activation_rate, core_features_adopted, core_features, feature_adoption,
       ttv_met, activation_met, adoption_met, nps_met, win_met, criteria_met
FROM csm.onboarding_status WHERE external_id = 'day3';
SELECT (csm.record_milestone('day3', 'key_features_activated', now() - interval '1 day')).milestone AS recorded;
SELECT ttv_days, ttv_met, criteria_met FROM csm.onboarding_status WHERE external_id = 'day3';
SELECT csm.time_to_value('day3') BETWEEN interval '2 days' AND interval '2 days 1 minute' AS two_days,
       csm.time_to_value('day20') AS not_yet, csm.time_to_value(NULL) AS no_account;
SELECT csm.time_to_value('nobody');
INSERT INTO csm.nps_response (account_id, score, responded_at)
SELECT account_id, 10, now() - interval '1 hour' FROM csm.account WHERE external_id = 'day3';
SELECT csm.refresh_lifecycle() AS moved;
SELECT nps, nps_answers, nps_met, criteria_met, stage_of('day3') FROM csm.onboarding_status WHERE external_id = 'day3';
-- the fifth, a measurable win: onboarding is done, the account moves on at once
SELECT (csm.record_milestone('day3', 'first_business_outcome', now() - interval '1 hour')).milestone AS recorded;
SELECT stage_of('day3'), success_criteria_met FROM csm.account_lifecycle JOIN csm.account USING (account_id)
WHERE external_id = 'day3';
SELECT * FROM history_of('day3');
SELECT count(*) AS day3_onboarding FROM csm.onboarding_status WHERE external_id = 'day3';

-- the routing facts carry the stage and the phase
SELECT f ->> 'lifecycle_stage' AS stage, f ->> 'onboarding_phase' AS phase, f ->> 'days_since_start' AS days,
       f ->> 'success_criteria_met' AS criteria
FROM csm.account a, csm.routing_facts(a.account_id) f WHERE a.external_id IN ('day20', 'day3') ORDER BY a.account_id;

-- the seed's handoff after onboarding: onboarding specialists own accounts
-- in onboarding, CSMs take them over when onboarding is done
INSERT INTO csm.team_member (handle, roles, teams) VALUES
    ('olive', '{onboarding_specialist}', '{onboarding}'), ('carl', '{csm}', '{success}');
INSERT INTO csm.routing_rule (name, priority, condition, target_kind, target) VALUES
    ('onboarding_team', 10, 'lifecycle_stage = ''onboarding''', 'team', 'onboarding'),
    ('csm_after_onboarding', 20, 'lifecycle_stage IN (''adoption'', ''growth'', ''renewal'')', 'team', 'success');
INSERT INTO csm.account (external_id, arr, seats, started_at, renewal_date)
VALUES ('handoff', 20000, 1, now() - interval '10 days', current_date + 355);
SELECT stage_of('handoff'), handle, rule FROM csm.assignment WHERE external_id = 'handoff';
-- onboarding completes: first value, an active user, the core features, a promoter, a win
INSERT INTO app_event VALUES ('handoff', now() - interval '1 day', 'reports', 'h1'), ('handoff', now() - interval '1 day', 'dashboards', 'h1');
INSERT INTO csm.nps_response (account_id, score) SELECT account_id, 9 FROM csm.account WHERE external_id = 'handoff';
SELECT (csm.record_milestone('handoff', 'key_features_activated')).milestone AS recorded;
SELECT (csm.record_milestone('handoff', 'first_business_outcome')).milestone AS recorded;
SELECT stage_of('handoff'), handle, rule FROM csm.assignment WHERE external_id = 'handoff';
SELECT action, reason FROM csm.assignment_log l JOIN csm.account a USING (account_id)
WHERE a.external_id = 'handoff' ORDER BY l.log_id;
-- ... and a 90-day onboarding that simply runs out hands off on the day it ends
INSERT INTO csm.account (external_id, arr, started_at, renewal_date)
VALUES ('timeout', 20000, now() - interval '90 days', current_date + 275);
SELECT stage_of('timeout'), handle FROM csm.assignment WHERE external_id = 'timeout';
UPDATE csm.account SET started_at = started_at - interval '1 day' WHERE external_id = 'timeout';
SELECT stage_of('timeout'), handle FROM csm.assignment WHERE external_id = 'timeout';

-- deleting an account deletes its lifecycle
DELETE FROM csm.account WHERE external_id = 'handoff';
SELECT count(*) FROM csm.lifecycle_history h WHERE NOT EXISTS (SELECT 1 FROM csm.account a WHERE a.account_id = h.account_id);
-- leave a fresh extension for the next file
SELECT csm.untrack_usage('app_event');
DROP TABLE app_event;
DROP FUNCTION stage_of(text);
DROP FUNCTION history_of(text);
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
