-- Alerts on Citus: every kind raised by the refreshes and by run_alerts on
-- a cluster where csm.distribute() has run, with the answers of a single
-- node (the same file passes there: pg_prove against a database with csm
-- and pgtap, which is how the expected values below were made); a second
-- run raises nothing, acknowledge_alert and the views.  Every value is read
-- through pg_temp.q(), which runs its query on its own: Citus would
-- otherwise send a query that reads one account's rows, pgTAP's call
-- included, to that account's worker.
BEGIN;
SELECT plan(17);
SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.q(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE format('SELECT (%s)::text', query) INTO result;
    RETURN result;
END $$;

-- 20 accounts; usage of one source (rollups written directly: the usage
-- path is not under test here): the odd ones fell by 30% over two weeks,
-- every third used feature f1.
INSERT INTO csm.usage_source (relation, account_column, time_column, event_column, user_column)
VALUES ('csm_internal.usage_delta', 'account_id', 'day', 'feature', 'user_key');
INSERT INTO csm.account (account_id, external_id, arr, seats, renewal_date, segment)
SELECT 9400 + i, 'az' || lpad(i::text, 2, '0'), 1000 * i, 10,
       (now() AT TIME ZONE 'UTC')::date + 40 + 20 * i, 'smb'
FROM generate_series(1, 20) AS i;
INSERT INTO csm.team_member (handle, roles) VALUES ('az_csm', '{csm}');
DO $$
BEGIN
    PERFORM csm.csm_assign('az' || lpad(i::text, 2, '0'), 'az_csm') FROM generate_series(4, 20, 4) AS i;
END $$;
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT 9400 + i, s.source_id, (now() AT TIME ZONE 'UTC')::date - d,
       CASE WHEN i % 2 = 1 AND d < 14 THEN 7 ELSE 10 END, 2
FROM csm.usage_source s, generate_series(1, 20) i, generate_series(0, 27) d
WHERE s.relation = 'csm_internal.usage_delta'::regclass;
INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
SELECT 9400 + i, s.source_id, (now() AT TIME ZONE 'UTC')::date - 5, 'f1', 3
FROM csm.usage_source s, generate_series(3, 20, 3) i
WHERE s.relation = 'csm_internal.usage_delta'::regclass;
INSERT INTO csm.feature_launch (name, features, launched_at) VALUES ('F1 v2', '{f1}', now() - interval '1 day');
-- Churn scores and signals as a refresh would leave them.
INSERT INTO csm.churn_score (account_id, probability, band, risk_score, model, computed_at)
SELECT 9400 + i, i / 25.0, csm.churn_band(i / 25.0), i * 4, 'prior', now() FROM generate_series(1, 20) i;
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at)
SELECT 9400 + i, CASE WHEN i % 2 = 0 THEN 'no_login_14d' ELSE 'competitor_mentioned' END, now(), now()
FROM generate_series(1, 20, 5) i;
INSERT INTO csm.expansion_signal (account_id, signal, first_seen_at, last_seen_at)
SELECT 9400 + i, 'plan_limit', now(), now() FROM generate_series(2, 20, 6) i;

-- The refreshes raise theirs.
SELECT ok(pg_temp.q('SELECT csm.refresh_health()')::bigint = 20, 'refresh_health scores the 20 accounts');
SELECT is(pg_temp.q($$SELECT count(*) FROM csm.alert WHERE kind = 'health_band'$$),
          pg_temp.q($$SELECT count(*) FROM csm.health_score WHERE band IN ('yellow', 'red')$$),
          'refresh_health raises a health_band alert per yellow or red account');
SELECT is(pg_temp.q('SELECT reminded FROM csm.refresh_renewals()'), '2', 'refresh_renewals raises two reminders');
SELECT is(pg_temp.q($$SELECT string_agg(account_id || ':' || subject, ',' ORDER BY account_id) FROM csm.alert
                      WHERE kind = 'renewal_reminder'$$),
          pg_temp.q($$SELECT string_agg(account_id || ':' || renewal_id || ':' || days_out, ',' ORDER BY account_id)
                      FROM csm.renewal_reminder$$),
          'and an alert for each');
SELECT lives_ok($$SELECT count(*) FROM csm.record_nps('az05', 2)$$, 'a detractor answers (record_nps)');
SELECT is(pg_temp.q($$SELECT string_agg(account_id::text, ',') FROM csm.alert WHERE kind = 'nps_detractor'$$), '9405',
          'record_nps raises its alert');

-- run_alerts raises the rest.
SELECT ok(pg_temp.q('SELECT csm.run_alerts()')::integer > 0, 'run_alerts');
SELECT is(pg_temp.q($$SELECT string_agg(kind || '=' || n, ',' ORDER BY kind) FROM
                      (SELECT kind, count(*) AS n FROM csm.alert GROUP BY kind) k WHERE kind <> 'health_band'$$),
          'at_risk=2,churn_band=8,competitor_mention=2,feature_launch=6,nps_detractor=1,plan_limit=4,renewal_reminder=2,unassigned=15,usage_decline=10',
          'every kind, as on one node');
SELECT is(pg_temp.q($$SELECT string_agg(account_id || ':' || subject || ':' || severity, ',' ORDER BY account_id, subject)
                      FROM csm.alert WHERE kind IN ('churn_band', 'at_risk') AND account_id IN (9406, 9416, 9418)$$),
          '9406:no_login_14d:warning,9416:high:warning,9416:no_login_14d:warning,9418:critical:critical',
          'their subjects and severities');
SELECT is(pg_temp.q($$SELECT evidence::text FROM csm.alert WHERE kind = 'usage_decline' AND account_id = 9401$$),
          '{"change": -0.300, "events_last_14d": 98, "events_prior_14d": 140}', 'usage_decline''s evidence');
SELECT is(pg_temp.q($$SELECT string_agg(playbook || '=' || n, ',' ORDER BY playbook) FROM
                      (SELECT playbook, count(*) AS n FROM csm.cta WHERE playbook LIKE 'outreach%' GROUP BY playbook) k$$),
          'outreach_competitive=2,outreach_feature_launch=6,outreach_usage_decline=10',
          'the outreach alerts opened their playbooks'' CTAs');
SELECT is(pg_temp.q('SELECT csm.run_alerts()'), '0', 'a second run raises nothing');

-- Cleared when the facts go, on the shards.
UPDATE csm.churn_signal SET cleared_at = now() WHERE signal = 'no_login_14d';
SELECT is(pg_temp.q('SELECT csm.run_alerts()'), '0', 'a run after two signals cleared raises nothing');
SELECT is(pg_temp.q($$SELECT count(*) FROM csm.alert WHERE kind = 'at_risk' AND cleared_at IS NOT NULL$$), '2',
          'and clears their alerts');

-- acknowledge_alert and the views.
SELECT is(pg_temp.q($$SELECT (csm.acknowledge_alert((SELECT alert_id FROM csm.alert WHERE kind = 'nps_detractor'))).acknowledged_by$$),
          current_user::text, 'acknowledge_alert');
SELECT is(pg_temp.q($$SELECT open_unacknowledged || '/' || acknowledged FROM csm.alert_summary WHERE kind = 'nps_detractor'$$),
          '0/1', 'alert_summary counts it');
SELECT is(pg_temp.q($$SELECT count(*) FROM csm.alert_open WHERE owner = 'az_csm'$$),
          pg_temp.q($$SELECT count(*) FROM csm.alert x JOIN csm.assignment s ON s.account_id = x.account_id AND s.is_primary
                      WHERE x.cleared_at IS NULL AND x.acknowledged_at IS NULL$$),
          'alert_open shows the owner''s open alerts');

SELECT * FROM finish();
ROLLBACK;
