-- What assess_health says would fire is what csm.run_playbooks() then opens
-- (issue 14, section 4): for every trigger kind, on accounts where it holds
-- and where it does not, with conditions, segment filters, an open CTA, a
-- cooldown and an inactive account in the way.
BEGIN;
SELECT plan(9);

-- the facts are made with every playbook off, so that nothing fires early
UPDATE csm.playbook SET active = false;
-- one playbook of every kind the built-ins leave out, and a filtered one
INSERT INTO csm.playbook (name, trigger_kind, trigger_values, condition, segment_filter) VALUES
    ('pv_churn_band', 'churn_band', '{high,critical}', NULL, NULL),
    ('pv_stage', 'lifecycle_stage', '{adoption}', NULL, NULL),
    ('pv_missed', 'milestone_missed', '{kickoff_call_held}', NULL, NULL),
    ('pv_detractor', 'nps_category', '{detractor}', NULL, NULL),
    ('pv_growth', 'expansion_signal', '{user_growth}', NULL, NULL),
    ('pv_health_alert', 'alert', '{health_band}', NULL, NULL),
    ('pv_red_enterprise', 'health_band', '{red}', NULL, '{enterprise}'),
    ('pv_red_big', 'health_band', '{red}', 'arr >= 40000', NULL);

-- pv_1 .. pv_12: half red, half green; every kind holds for some
INSERT INTO csm.account (external_id, segment, arr, seats, started_at)
SELECT 'pv_' || i, CASE WHEN i % 3 = 0 THEN 'enterprise' ELSE 'smb' END, 10000 * i, 10,
       now() - interval '1 day' * (5 + 10 * i)
FROM generate_series(1, 12) i;
CREATE TEMP TABLE pv_metrics AS
SELECT a.account_id, CASE WHEN i % 2 = 0 THEN 0.1 ELSE 0.9 END AS dau_ratio,
       CASE WHEN i % 2 = 0 THEN 0 ELSE 9 END AS features_adopted,
       CASE WHEN i % 2 = 0 THEN 9 ELSE 0 END AS tickets_per_month,
       CASE WHEN i % 2 = 0 THEN 2 ELSE 10 END AS nps, 200 AS days_to_renewal
FROM csm.account a CROSS JOIN LATERAL (SELECT substr(a.external_id, 4)::integer AS i) n
WHERE a.external_id LIKE 'pv\_%';
SELECT csm.refresh_health('pv_metrics');
CREATE TEMP VIEW pv AS
SELECT a.account_id, a.external_id, substr(a.external_id, 4)::integer AS i FROM csm.account a
WHERE a.external_id LIKE 'pv\_%';
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
SELECT account_id, 'sponsor_departed', now(), now(), '{}' FROM pv WHERE i IN (1, 2, 3);
INSERT INTO csm.churn_score (account_id, probability, band, risk_score, model, computed_at)
SELECT account_id, 0.8, 'high', 80, 'default', now() FROM pv WHERE i IN (4, 5);
INSERT INTO csm.nps_response (account_id, score) SELECT account_id, CASE WHEN i = 6 THEN 2 ELSE 10 END FROM pv WHERE i IN (6, 7);
INSERT INTO csm.expansion_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
SELECT account_id, CASE WHEN i = 8 THEN 'user_growth' ELSE 'plan_limit' END, now(), now(), '{}' FROM pv WHERE i IN (8, 9);
INSERT INTO csm.renewal (account_id, renewal_date, target_arr, stage, opened_at)
SELECT account_id, current_date + 85, 10000, '90_days_out', now() FROM pv WHERE i = 10;
INSERT INTO csm.renewal_reminder (account_id, renewal_id, days_out, renewal_date, raised_at)
SELECT r.account_id, r.renewal_id, 90, r.renewal_date, now() FROM csm.renewal r JOIN pv USING (account_id);
UPDATE csm.account a SET lifecycle_stage = 'adoption' FROM pv WHERE pv.account_id = a.account_id AND pv.i = 11;
INSERT INTO csm.alert (account_id, kind, subject, severity, created_at)
SELECT account_id, kind, '', 'warning', now()
FROM pv CROSS JOIN (VALUES ('usage_decline'), ('health_band'), ('competitor_mention')) k(kind) WHERE i = 12;
-- usage is tracked (a source, as csm.track_usage() records it), and nobody
-- used the product: the accounts 30 days old or more are idle
CREATE TABLE pv_events (account text, at timestamptz);
DO $$ BEGIN  -- on Citus a source is on every node (csm.usage_source is a reference table)
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM create_reference_table('pv_events');
    END IF;
END $$;
INSERT INTO csm.usage_source (relation, account_column, time_column) VALUES ('pv_events', 'account', 'at');
-- in the way: pv_2 already has the sponsor CTA open, pv_3 had it within
-- the cooldown, pv_9 is churned (inactive)
UPDATE csm.playbook SET active = true;
INSERT INTO csm.cta (account_id, playbook, playbook_version, priority, evidence, opened_at, status, outcome, closed_at)
SELECT account_id, 'executive_sponsor_change', 1, 'high', '{}', now() - interval '1 day',
       CASE WHEN i = 2 THEN 'open' ELSE 'resolved' END, CASE WHEN i = 3 THEN 'saved' END,
       CASE WHEN i = 3 THEN now() END
FROM pv WHERE i IN (2, 3);
UPDATE csm.account a SET status = 'churned' FROM pv WHERE pv.account_id = a.account_id AND pv.i = 9;

CREATE TEMP TABLE pv_said AS
SELECT pv.account_id, pv.external_id, r ->> 'playbook' AS playbook, r ->> 'trigger_kind' AS trigger_kind,
       (r ->> 'open_cta')::boolean AS open_cta, (r ->> 'cooling_down')::boolean AS cooling_down,
       (r ->> 'would_open')::boolean AS would_open
FROM pv CROSS JOIN LATERAL jsonb_array_elements(csm.assess_health(pv.external_id, '(,)') -> 'recommendations') AS r
WHERE r ->> 'source' = 'playbook';
SELECT coalesce(max(cta_id), 0) AS pv_last FROM csm.cta \gset

SELECT cmp_ok(csm.run_playbooks(), '>', 0, 'run_playbooks opens CTAs');
SELECT set_eq($$SELECT account_id, playbook FROM pv_said WHERE would_open$$,
              format($$SELECT c.account_id, c.playbook FROM csm.cta c WHERE c.cta_id > %s$$, :pv_last),
              'the playbooks assess_health says would open are exactly the CTAs run_playbooks opens');
-- (on Citus csm.onboarding_status does not see accounts made earlier in the
-- same transaction, so no milestone is overdue there)
SELECT set_eq($$SELECT DISTINCT trigger_kind FROM pv_said WHERE would_open$$,
              $$SELECT trigger_kind FROM csm.playbook_trigger WHERE trigger_kind <> 'manual'
                AND NOT (trigger_kind = 'milestone_missed' AND EXISTS (SELECT FROM pg_extension WHERE extname = 'citus'))$$,
              'every trigger kind but manual took part');
SELECT set_eq($$SELECT external_id, open_cta, cooling_down, would_open FROM pv_said WHERE playbook = 'executive_sponsor_change'$$,
              $$VALUES ('pv_1', false, false, true), ('pv_2', true, false, false), ('pv_3', false, true, false)$$,
              'an open CTA and a cooldown are shown, and keep the playbook from opening');
SELECT is_empty($$SELECT 1 FROM pv_said WHERE external_id = 'pv_9'$$, 'an inactive account fires nothing');
SELECT set_eq($$SELECT external_id FROM pv_said WHERE playbook = 'pv_red_enterprise'$$, $$VALUES ('pv_6'), ('pv_12')$$,
              'a segment filter admits only its segment''s red accounts');
SELECT set_eq($$SELECT external_id FROM pv_said WHERE playbook = 'pv_red_big'$$,
              $$VALUES ('pv_4'), ('pv_6'), ('pv_8'), ('pv_10'), ('pv_12')$$, 'a condition admits only the accounts it matches');
SELECT is((csm.assess_health('pv_12', '(,)') #> '{recommendations}') @> '[{"playbook": "outreach_usage_decline", "trigger_value": "usage_decline", "open_cta": true, "would_open": false}]',
          true, 'after the run, the alert-fired playbook shows its CTA open');
SELECT is_empty($$SELECT 1 FROM pv
                  CROSS JOIN LATERAL jsonb_array_elements(csm.assess_health(pv.external_id, '(,)') -> 'recommendations') AS r
                  WHERE (r ->> 'would_open')::boolean$$,
                'after the run, nothing more would open');

SELECT * FROM finish();
ROLLBACK;
