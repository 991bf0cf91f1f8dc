-- Alerts (issue 14, sections 2 and 5): every kind raised from the facts,
-- by the refreshes that change them and by csm.run_alerts(); one alert per
-- episode (a second run raises nothing, a state that goes is cleared and a
-- new episode is a new alert); acknowledge_alert and the summary view;
-- every documented SQLSTATE.  (NOTIFY across sessions: test/shell/alert_notify.sh.)
-- citus-differs: its assertions read csm.alert through pg_temp helper functions inside pgTAP's calls, which Citus cannot plan (could not create distributed plan), and it tracks a local (undistributed) event table, which csm.track_usage() refuses on Citus with 0A000; test/citus/alert.sql runs the alert paths on the cluster.
BEGIN;
SELECT plan(53);

CREATE FUNCTION pg_temp.id(ext text) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT a.account_id FROM csm.account a WHERE a.external_id = ext $$;
-- The open alerts of a kind, as external_id:subject:severity, sorted.
CREATE FUNCTION pg_temp.open_alerts(k text) RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(a.external_id || ':' || x.subject || ':' || x.severity ORDER BY a.external_id, x.subject), '{}')
    FROM csm.alert x JOIN csm.account a USING (account_id) WHERE x.kind = k AND x.cleared_at IS NULL $$;
CREATE FUNCTION pg_temp.count_alerts(k text) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM csm.alert x WHERE x.kind = k $$;

INSERT INTO csm.team_member (handle, roles) VALUES ('al_nina', '{csm}');
INSERT INTO csm.account (external_id, arr, started_at, renewal_date) VALUES
    ('al_green', 1000, now() - interval '400 days', (now() AT TIME ZONE 'UTC')::date + 300),
    ('al_yellow', 1000, now() - interval '400 days', (now() AT TIME ZONE 'UTC')::date + 300),
    ('al_red', 1000, now() - interval '400 days', (now() AT TIME ZONE 'UTC')::date + 300),
    ('al_renew', 1000, now() - interval '400 days', (now() AT TIME ZONE 'UTC')::date + 50);

-- 1. Health bands, raised by refresh_health -----------------------------------
CREATE TEMP TABLE al_metrics (account_id bigint, dau_ratio float8, features_adopted float8, nps float8);
INSERT INTO al_metrics SELECT pg_temp.id('al_green'), 1, 10, 10
    UNION ALL SELECT pg_temp.id('al_yellow'), 0.75, 5, 8
    UNION ALL SELECT pg_temp.id('al_red'), 0.1, 1, 2
    UNION ALL SELECT pg_temp.id('al_renew'), 1, 10, 10;
SELECT is(csm.refresh_health('al_metrics'), 4::bigint, 'refresh_health scores the four accounts');
SELECT is(pg_temp.open_alerts('health_band'), ARRAY['al_red:red:critical', 'al_yellow:yellow:warning'],
          'refresh_health raises a health_band alert for the yellow (warning) and the red (critical) account');
SELECT is((SELECT x.evidence - 'computed_at' FROM csm.alert x WHERE x.kind = 'health_band' AND x.account_id = pg_temp.id('al_red')),
          '{"band": "red", "score": 18.6, "model": "default"}'::jsonb, 'its evidence: the band, the score and the model');
SELECT lives_ok($$SELECT csm.refresh_health('al_metrics')$$, 'a second refresh');
SELECT is(pg_temp.count_alerts('health_band'), 2, 'raises nothing again: one alert per episode');
UPDATE al_metrics SET dau_ratio = 1, features_adopted = 10, nps = 10 WHERE account_id = pg_temp.id('al_yellow');
SELECT lives_ok($$SELECT csm.refresh_health('al_metrics')$$, 'the yellow account recovers');
SELECT is(pg_temp.open_alerts('health_band'), ARRAY['al_red:red:critical'], 'its alert is cleared');
SELECT isnt((SELECT x.cleared_at FROM csm.alert x WHERE x.kind = 'health_band' AND x.account_id = pg_temp.id('al_yellow')),
            NULL, 'cleared_at is set');
UPDATE al_metrics SET dau_ratio = 0.75, features_adopted = 5, nps = 8 WHERE account_id = pg_temp.id('al_yellow');
SELECT lives_ok($$SELECT csm.refresh_health('al_metrics')$$, 'it drops again');
SELECT is((pg_temp.open_alerts('health_band'), pg_temp.count_alerts('health_band')),
          (ARRAY['al_red:red:critical', 'al_yellow:yellow:warning'], 3), 'a new episode is a new alert');

-- 2. Churn bands and seed 003's at-risk triggers, from the facts as they are ----
INSERT INTO csm.churn_score (account_id, probability, band, risk_score, model, drivers, computed_at) VALUES
    (pg_temp.id('al_green'), 0.1, 'low', 10, 'prior', '{}', now()),
    (pg_temp.id('al_yellow'), 0.6, 'high', 60, 'prior', '{usage_drop}', now()),
    (pg_temp.id('al_red'), 0.8, 'critical', 80, 'prior', '{usage_drop}', now());
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
SELECT pg_temp.id(e), s, now(), now(), '{"n": 1}'
FROM (VALUES ('al_red', 'health_drop'), ('al_red', 'no_login_14d'), ('al_yellow', 'ticket_increase'),
             ('al_yellow', 'key_stakeholder_departed'), ('al_green', 'renewal_ghosting'),
             ('al_green', 'budget_concern')) v(e, s);
SELECT ok(csm.run_alerts() > 0, 'run_alerts raises what holds');
SELECT is(pg_temp.open_alerts('churn_band'), ARRAY['al_red:critical:critical', 'al_yellow:high:warning'],
          'churn_band: high (warning) and critical (critical)');
SELECT is(pg_temp.open_alerts('at_risk'),
          ARRAY['al_green:renewal_ghosting:critical', 'al_red:health_drop:critical', 'al_red:no_login_14d:warning',
                'al_yellow:key_stakeholder_departed:warning', 'al_yellow:ticket_increase:warning'],
          'at_risk: the five triggers, strong signals critical; a signal that is no trigger raises none');
SELECT is((SELECT x.evidence ->> 'label' FROM csm.alert x WHERE x.kind = 'at_risk' AND x.subject = 'health_drop'),
          'Health dropped below 60 from 70+', 'the at-risk evidence names the trigger and keeps the signal''s numbers');
SELECT is(pg_temp.open_alerts('unassigned'),
          ARRAY['al_green::warning', 'al_red::warning', 'al_renew::warning', 'al_yellow::warning'],
          'unassigned: every active account without a primary CSM');
SELECT is(csm.run_alerts(), 0, 'a second run raises nothing');

-- The refresh of signals clears the triggers its data no longer shows, and
-- raises those it does: a key stakeholder left, a competitor was named.
INSERT INTO csm.stakeholder (account_id, name, role, is_key, departed_at)
VALUES (pg_temp.id('al_green'), 'Kim', 'champion', true, now() - interval '2 days');
INSERT INTO csm.account_note (account_id, kind, body) VALUES (pg_temp.id('al_green'), 'competitor_mention', 'looking at Acme');
SELECT lives_ok($$SELECT count(*) FROM csm.refresh_churn_signals()$$, 'refresh_churn_signals');
SELECT is(pg_temp.open_alerts('at_risk'), ARRAY['al_green:key_stakeholder_departed:warning'],
          'it raises the key stakeholder departure and clears the triggers no longer seen');
SELECT is(pg_temp.open_alerts('competitor_mention'), ARRAY['al_green::info'], 'and the competitor mention (outreach, info)');

-- 3. Detractor NPS, raised by record_nps ----------------------------------------
SELECT lives_ok($$SELECT count(*) FROM csm.record_nps('al_red', 3, comment => 'too slow')$$, 'a detractor answers');
SELECT lives_ok($$SELECT count(*) FROM csm.record_nps('al_green', 10)$$, 'a promoter answers');
SELECT lives_ok($$SELECT count(*) FROM csm.record_nps('al_yellow', 2, responded_at => now() - interval '100 days',
                                                      open_followup => false)$$, 'a past detractor answer is loaded');
SELECT is((SELECT array_agg(a.external_id || ':' || (x.evidence ->> 'score') || ':' || (x.evidence ->> 'comment'))
           FROM csm.alert x JOIN csm.account a USING (account_id) WHERE x.kind = 'nps_detractor'),
          ARRAY['al_red:3:too slow'], 'one nps_detractor alert: none for a promoter or a loaded past answer');
SELECT is((SELECT x.subject FROM csm.alert x WHERE x.kind = 'nps_detractor'),
          (SELECT max(r.response_id)::text FROM csm.nps_response r WHERE r.account_id = pg_temp.id('al_red')),
          'its subject is the response');

-- 4. Renewal reminders, raised by refresh_renewals -------------------------------
SELECT is((SELECT reminded FROM csm.refresh_renewals()), 1::bigint, 'refresh_renewals raises one reminder');
SELECT is((SELECT (x.evidence ->> 'days_out', x.severity) FROM csm.alert x WHERE x.kind = 'renewal_reminder'),
          ('60'::text, 'info'::text), 'and a renewal_reminder alert for it');
SELECT is(csm.run_alerts(), 0, 'which run_alerts does not raise again');

-- 5. Unassigned: cleared once the account has an owner --------------------------
SELECT lives_ok($$SELECT csm.csm_assign('al_red', 'al_nina')$$, 'al_red gets a CSM');
SELECT lives_ok($$SELECT csm.run_alerts()$$, 'run_alerts');
SELECT is(pg_temp.open_alerts('unassigned'), ARRAY['al_green::warning', 'al_renew::warning', 'al_yellow::warning'],
          'its unassigned alert is cleared');

-- 6. Proactive outreach -----------------------------------------------------------
-- Expansion signals: usage milestones and plan limits.
INSERT INTO csm.expansion_signal (account_id, signal, first_seen_at, last_seen_at, evidence) VALUES
    (pg_temp.id('al_green'), 'usage_milestone', now(), now(), '{"milestones": [{"events": 1000}]}'),
    (pg_temp.id('al_green'), 'plan_limit', now(), now(), '{"seats_used": 95, "seats": 100}');
-- Success achievements: a business-outcome milestone, and one that is not.
SELECT lives_ok($$SELECT csm.record_milestone('al_green', 'first_business_outcome')$$, 'a business outcome is recorded');
SELECT lives_ok($$SELECT csm.record_milestone('al_green', 'kickoff_call_held')$$, 'and a kickoff call');
SELECT is(pg_temp.open_alerts('success_achievement'), ARRAY['al_green:first_business_outcome:info'],
          'record_milestone raises success_achievement for the business outcome only');
-- Usage: al_green uses reports and its usage fell 25% over two weeks;
-- al_red uses exports, and did not fall.
CREATE TABLE pg_temp.al_events (org text, at timestamptz, feature text);
SELECT ok(csm.track_usage('pg_temp.al_events', 'org', 'at', 'feature') IS NOT NULL, 'usage is tracked');
INSERT INTO pg_temp.al_events
SELECT 'al_green', now() - interval '20 days', 'reports' FROM generate_series(1, 200)
UNION ALL SELECT 'al_green', now() - interval '3 days', 'reports' FROM generate_series(1, 150)
UNION ALL SELECT 'al_red', now() - interval '20 days', 'exports' FROM generate_series(1, 200)
UNION ALL SELECT 'al_red', now() - interval '3 days', 'exports' FROM generate_series(1, 170);
INSERT INTO csm.feature_launch (name, features, launched_at) VALUES
    ('Scheduled reports', '{reports,dashboards}', now() - interval '1 day'),
    ('Old launch', '{reports}', now() - interval '40 days'),
    ('Next launch', '{reports}', now() + interval '5 days');
SELECT ok(csm.run_alerts() > 0, 'run_alerts');
SELECT is(pg_temp.open_alerts('usage_milestone'), ARRAY['al_green::info'], 'usage_milestone from the expansion signal');
SELECT is(pg_temp.open_alerts('plan_limit'), ARRAY['al_green::info'], 'plan_limit from the expansion signal');
SELECT is((SELECT array_agg(a.external_id || ':' || (x.evidence ->> 'events_last_14d') || '/' || (x.evidence ->> 'events_prior_14d'))
           FROM csm.alert x JOIN csm.account a USING (account_id) WHERE x.kind = 'usage_decline'),
          ARRAY['al_green:150/200'], 'usage_decline: 25% down over two weeks raises it, 15% does not');
SELECT is((SELECT array_agg(a.external_id || ':' || (x.evidence ->> 'launch') || ':' || (x.evidence ->> 'features_used'))
           FROM csm.alert x JOIN csm.account a USING (account_id) WHERE x.kind = 'feature_launch'),
          ARRAY['al_green:Scheduled reports:["reports"]'],
          'feature_launch: the account using a launched feature, for a launch of the last 30 days that has happened');

-- Seed 002's proactive outreach as playbooks (trigger kind alert): each
-- outreach alert opened its built-in playbook's CTA, with the alert as
-- evidence and a task per step, in the transaction that raised it.
SELECT is((SELECT array_agg(c.playbook ORDER BY c.playbook) FROM csm.cta c
           WHERE c.account_id = pg_temp.id('al_green') AND c.playbook LIKE 'outreach\_%'),
          ARRAY['outreach_competitive', 'outreach_feature_launch', 'outreach_success_achievement', 'outreach_usage_decline',
                'outreach_usage_milestone'], 'each outreach alert opens its playbook''s CTA');
SELECT is((SELECT (c.evidence ->> 'trigger', c.evidence -> 'event' ->> 'kind', c.evidence -> 'event' -> 'evidence' ->> 'launch')
           FROM csm.cta c WHERE c.account_id = pg_temp.id('al_green') AND c.playbook = 'outreach_feature_launch'),
          ('alert'::text, 'feature_launch'::text, 'Scheduled reports'::text), 'its evidence is the alert, with the alert''s own facts');
SELECT is((SELECT count(*)::integer FROM csm.task t JOIN csm.cta c ON c.account_id = t.account_id AND c.cta_id = t.cta_id
           WHERE c.account_id = pg_temp.id('al_green') AND c.playbook LIKE 'outreach\_%'), 10, 'with a task per step');
SELECT lives_ok($$SELECT csm.run_playbooks()$$, 'run_playbooks');
SELECT is((SELECT count(*)::integer FROM csm.cta c WHERE c.playbook LIKE 'outreach\_%'), 5, 'opens none of them again');

-- 7. acknowledge_alert and the summary --------------------------------------------
SELECT is((SELECT (r.acknowledged_by, r.acknowledged_at IS NOT NULL)
           FROM csm.acknowledge_alert((SELECT x.alert_id FROM csm.alert x WHERE x.kind = 'nps_detractor')) r),
          (current_user::name, true), 'acknowledge_alert sets who and when');
SELECT is((SELECT (s.alerts, s.open_unacknowledged, s.acknowledged, s.mean_time_to_acknowledge)
           FROM csm.alert_summary s WHERE s.kind = 'nps_detractor'),
          (1::bigint, 0::bigint, 1::bigint, interval '0'), 'alert_summary counts it acknowledged, with its time to acknowledge');
SELECT is((SELECT s.open_unacknowledged FROM csm.alert_summary s WHERE s.kind = 'unassigned'), 3::bigint,
          'and the open, unacknowledged ones (a cleared alert is not open)');
SELECT throws_ok($$SELECT csm.acknowledge_alert(-1)$$, 'P0002', 'alert -1 does not exist', 'an unknown alert: P0002');
SELECT throws_ok($$SELECT csm.acknowledge_alert(NULL)$$, '22004', NULL, 'NULL: 22004');
SELECT throws_ok($$SELECT csm_internal._raise_alerts(ARRAY['nonsense'])$$, '22023', 'unknown alert kind "nonsense"',
                 'an unknown kind: 22023');

-- A raise over the portfolio is planned without nested loops (they went
-- quadratic from missing statistics), and gives the caller its setting back.
SELECT is((SELECT csm.run_alerts() >= 0 AND current_setting('enable_nestloop') = 'on'), true,
          'run_alerts leaves enable_nestloop on as it was');
SET LOCAL enable_nestloop = off;
SELECT is((SELECT csm.run_alerts() >= 0 AND current_setting('enable_nestloop') = 'off'), true,
          'and off as it was');
RESET enable_nestloop;
SELECT is((SELECT csm_internal._raise_alerts(ARRAY['unassigned'], ARRAY[1::bigint]) >= 0
                  AND current_setting('enable_nestloop') = 'on'), true,
          'a raise for a few accounts leaves it alone');

SELECT * FROM finish();
ROLLBACK;
