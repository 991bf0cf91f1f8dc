-- Churn on Citus: every churn path on a cluster where csm.distribute() has
-- run, with the answers of a single node.  The same file passes on a single
-- node (pg_prove against a database with csm and pgtap), which is how the
-- expected values below were made; checks of where the work runs are
-- skipped there.
--
-- A portfolio of 80 accounts (ids 9001-9040 now, 9101-9140 with a history
-- for training), every date relative to the start of today (UTC),
-- date_trunc('day', now()), so the answers do not depend on the time of
-- day; every refresh is at or just after it, never in the future.  Run with pg_prove against the
-- coordinator (PGHOST/PGPORT); everything is rolled back.
BEGIN;
SELECT plan(27);
SET LOCAL timezone = 'UTC';
SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.citus() RETURNS boolean LANGUAGE sql
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') $$;

-- Fixture -----------------------------------------------------------------------
INSERT INTO csm.account (account_id, external_id, segment, arr, seats, started_at, renewal_date)
SELECT 9000 + i, 'cz' || lpad(i::text, 2, '0'), 'smb', 1000 * i, 10, date_trunc('day', now()) - interval '400 days',
       current_date + CASE WHEN i = 12 THEN 30 ELSE 200 END
FROM generate_series(1, 40) AS i;
INSERT INTO csm.account_note (account_id, noted_at, kind)
SELECT 9000 + a, date_trunc('day', now()) - d * interval '1 day', k
FROM (VALUES (1, 3, 'competitor_mention'), (2, 3, 'competitor_mention'), (2, 4, 'escalation'), (2, 5, 'escalation'),
             (3, 4, 'escalation'), (3, 5, 'escalation'), (4, 6, 'budget_concern'), (5, 6, 'budget_concern'),
             (6, 7, 'org_change'), (7, 8, 'implementation_delay'), (7, 9, 'expansion_discussion'),
             (20, 9, 'expansion_discussion')) AS n(a, d, k);
INSERT INTO csm.payment (account_id, payment_id, invoice_ref, amount, due_on, paid_on, status)
VALUES (9008, 1, 'cz-i8', 1200, current_date - 10, NULL, 'failed'),
       (9009, 2, 'cz-i9', 900, current_date - 20, NULL, 'pending'),
       (9010, 3, 'cz-i10', 500, current_date - 40, current_date - 35, 'paid');
INSERT INTO csm.stakeholder (account_id, stakeholder_id, name, role, is_key, started_at, departed_at)
VALUES (9010, 1, 'Vera', 'executive_sponsor', true, date_trunc('day', now()) - interval '300 days', date_trunc('day', now()) - interval '10 days'),
       (9011, 2, 'Kim', 'champion', true, date_trunc('day', now()) - interval '300 days', date_trunc('day', now()) - interval '12 days'),
       (9021, 3, 'Sam', 'executive_sponsor', false, date_trunc('day', now()) - interval '300 days', NULL);
INSERT INTO csm.engagement (account_id, engagement_id, occurred_at, kind, direction, responded, attended)
SELECT 9013, d, date_trunc('day', now()) - d * interval '1 day', 'email', 'outbound', d > 60, NULL FROM generate_series(5, 115, 10) AS d
UNION ALL
SELECT 9014, 1000 + d, date_trunc('day', now()) - d * interval '1 day', 'meeting', 'outbound', NULL, d > 90 FROM generate_series(10, 170, 20) AS d
UNION ALL
SELECT 9022, 2000, date_trunc('day', now()) - interval '2 days', 'call', 'inbound', NULL, NULL;
INSERT INTO csm.nps_response (account_id, response_id, responded_at, score)
VALUES (9015, 1, date_trunc('day', now()) - interval '3 days', 3), (9016, 2, date_trunc('day', now()) - interval '100 days', 10),
       (9016, 3, date_trunc('day', now()) - interval '3 days', 7), (9023, 4, date_trunc('day', now()) - interval '3 days', 9);
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
VALUES (9018, current_date - 20, 'default', 1, 80, 'green', 1, date_trunc('day', now())),
       (9018, current_date - 2, 'default', 1, 50, 'red', 1, date_trunc('day', now())),
       (9024, current_date - 2, 'default', 1, 75, 'green', 1, date_trunc('day', now()));
-- usage (the rollup tables written directly: tracking is tested elsewhere):
-- steady for 9025-9030 over 59 days, except a drop (9025), a stop 20 days
-- ago (9026), two features of three given up (9027), and busy and quiet
-- weeks in turn (9028)
CREATE TABLE cz_events (org text, at timestamptz, feature text);
DO $$ BEGIN
    IF pg_temp.citus() THEN
        EXECUTE $q$SELECT create_distributed_table('cz_events', 'org')$q$;
    END IF;
END $$;
INSERT INTO csm.usage_source (source_id, relation, account_column, time_column, event_column, user_column)
VALUES (9900, 'cz_events', 'org', 'at', 'feature', NULL);
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events)
SELECT 9000 + a, 9900, d::date, CASE WHEN a = 25 AND d > current_date - 30 THEN 1
                                    WHEN a = 28 THEN CASE WHEN (current_date - d::date) / 7 % 2 = 0 THEN 30 ELSE 1 END
                                    ELSE 6 END
FROM generate_series(25, 30) AS a, generate_series(current_date - 59, current_date - 1, interval '1 day') AS d
WHERE NOT (a = 26 AND d > current_date - 20);
INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
SELECT 9000 + a, 9900, d::date, 'f' || f, 2
FROM generate_series(25, 30) AS a, generate_series(current_date - 59, current_date - 1, interval '1 day') AS d,
     generate_series(1, 3) AS f
WHERE NOT (a = 27 AND d > current_date - 30 AND f > 1) AND NOT (a = 26 AND d > current_date - 20);
-- a history to train on: 40 accounts, 15 of which churned within 90 days of
-- the snapshot 90 days ago, most of them after budget concerns
INSERT INTO csm.account (account_id, external_id, segment, arr, seats, started_at, status, churned_at)
SELECT 9100 + i, 'ch' || lpad(i::text, 2, '0'), 'smb', 500 * i, 5, date_trunc('day', now()) - interval '400 days',
       CASE WHEN i <= 15 THEN 'churned' ELSE 'active' END,
       CASE WHEN i <= 15 THEN date_trunc('day', now()) - interval '80 days' + i * interval '1 day' END
FROM generate_series(1, 40) AS i;
INSERT INTO csm.account_note (account_id, noted_at, kind)
SELECT 9100 + i, date_trunc('day', now()) - interval '100 days', 'budget_concern'
FROM generate_series(1, 40) AS i WHERE i <= 12 OR i IN (20, 30, 35);

-- Signals ---------------------------------------------------------------------------
CREATE TEMP TABLE cz_expected_signals (account_id bigint, signal text);
INSERT INTO cz_expected_signals VALUES
    (9001, 'competitor_mentioned'), (9001, 'limited_expansion'), (9001, 'no_login_14d'),
    (9002, 'competitor_mentioned'), (9002, 'limited_expansion'), (9002, 'multiple_escalations'),
    (9002, 'no_login_14d'), (9003, 'limited_expansion'), (9003, 'multiple_escalations'), (9003, 'no_login_14d'),
    (9004, 'budget_concern'), (9004, 'limited_expansion'), (9004, 'no_login_14d'), (9005, 'budget_concern'),
    (9005, 'limited_expansion'), (9005, 'no_login_14d'), (9006, 'limited_expansion'), (9006, 'no_login_14d'),
    (9006, 'org_change'), (9007, 'implementation_delay'), (9007, 'no_login_14d'), (9008, 'no_login_14d'),
    (9008, 'payment_issue'), (9009, 'no_login_14d'), (9009, 'payment_issue'), (9010, 'no_login_14d'),
    (9010, 'sponsor_departed'), (9011, 'key_stakeholder_departed'), (9011, 'no_login_14d'), (9012, 'no_login_14d'),
    (9012, 'renewal_ghosting'), (9013, 'no_login_14d'), (9013, 'response_decline'),
    (9014, 'meeting_attendance_decline'), (9014, 'no_login_14d'), (9015, 'no_login_14d'), (9015, 'nps_decline'),
    (9016, 'no_login_14d'), (9016, 'nps_decline'), (9017, 'no_login_14d'), (9018, 'health_drop'),
    (9018, 'no_login_14d'), (9019, 'no_login_14d'), (9020, 'no_login_14d'), (9021, 'no_login_14d'),
    (9022, 'no_login_14d'), (9023, 'no_login_14d'), (9024, 'no_login_14d'), (9025, 'usage_drop'),
    (9026, 'no_login_14d'), (9026, 'usage_drop'), (9027, 'adoption_decline'), (9028, 'inconsistent_usage'),
    (9031, 'no_login_14d'), (9032, 'no_login_14d'), (9033, 'no_login_14d'), (9034, 'no_login_14d'),
    (9035, 'no_login_14d'), (9036, 'no_login_14d'), (9037, 'no_login_14d'), (9038, 'no_login_14d'),
    (9039, 'no_login_14d'), (9040, 'no_login_14d'), (9116, 'no_login_14d'), (9117, 'no_login_14d'),
    (9118, 'no_login_14d'), (9119, 'no_login_14d'), (9120, 'limited_expansion'), (9120, 'no_login_14d'),
    (9121, 'no_login_14d'), (9122, 'no_login_14d'), (9123, 'no_login_14d'), (9124, 'no_login_14d'),
    (9125, 'no_login_14d'), (9126, 'no_login_14d'), (9127, 'no_login_14d'), (9128, 'no_login_14d'),
    (9129, 'no_login_14d'), (9130, 'limited_expansion'), (9130, 'no_login_14d'), (9131, 'no_login_14d'),
    (9132, 'no_login_14d'), (9133, 'no_login_14d'), (9134, 'no_login_14d'), (9135, 'limited_expansion'),
    (9135, 'no_login_14d'), (9136, 'no_login_14d'), (9137, 'no_login_14d'), (9138, 'no_login_14d'),
    (9139, 'no_login_14d'), (9140, 'no_login_14d');
SELECT set_eq($$SELECT s.account_id, s.signal FROM csm.churn_signals_at(date_trunc('day', now())) s WHERE s.account_id > 9000$$,
              $$SELECT account_id, signal FROM cz_expected_signals$$,
              'churn_signals_at: the signals of a single node, from every source');
-- some of them recomputed from the raw rows
SELECT set_eq($$SELECT s.account_id FROM csm.churn_signals_at(date_trunc('day', now())) s WHERE s.signal = 'competitor_mentioned' AND s.account_id > 9000$$,
              $$SELECT DISTINCT n.account_id FROM csm.account_note n
                WHERE n.kind = 'competitor_mention' AND n.noted_at > date_trunc('day', now()) - interval '90 days' AND n.account_id > 9000$$,
              'competitor_mentioned: the accounts with a competitor mention in the last 90 days');
SELECT set_eq($$SELECT s.account_id, s.evidence FROM csm.churn_signals_at(date_trunc('day', now())) s WHERE s.signal = 'payment_issue' AND s.account_id > 9000$$,
              $$VALUES (9008::bigint, '{"failed": 1, "overdue": 0, "disputed": 0, "paid_late": 0, "written_off": 0, "amount_at_issue": 1200}'::jsonb),
                       (9009, jsonb_build_object('failed', 0, 'overdue', 1, 'disputed', 0, 'paid_late', 0, 'written_off', 0,
                                                 'max_days_overdue', 20, 'amount_at_issue', 900))$$,
              'payment_issue: a failed charge, and an invoice 20 days overdue, with their amounts');
SELECT is((SELECT s.evidence FROM csm.churn_signals_at(date_trunc('day', now())) s WHERE s.signal = 'no_login_14d' AND s.account_id = 9026),
          jsonb_build_object('last_active_day', current_date - 20, 'days_inactive', 20),
          'no_login_14d: the last active day of an account that stopped 20 days ago');
SELECT is((SELECT s.evidence FROM csm.churn_signals_at(date_trunc('day', now())) s WHERE s.signal = 'health_drop' AND s.account_id = 9018),
          jsonb_build_object('score', 50, 'day', current_date - 2, 'earlier_score', 80, 'earlier_day', current_date - 20),
          'health_drop: the latest score and the latest one at 70 or more before it');
SELECT is((SELECT s.evidence->'departed'->0->>'name' FROM csm.churn_signals_at(date_trunc('day', now())) s
           WHERE s.signal = 'sponsor_departed' AND s.account_id = 9010), 'Vera', 'sponsor_departed: who left');

CREATE TEMP TABLE cz_detected AS SELECT count(*)::integer AS n FROM csm.churn_signals_at(date_trunc('day', now()));
SELECT results_eq($$SELECT * FROM csm.refresh_churn_signals(date_trunc('day', now()))$$,
                  $$SELECT n, 0, 0 FROM cz_detected$$,
                  'refresh_churn_signals raises every signal once');
SELECT set_eq($$SELECT s.account_id, s.signal, s.evidence FROM csm.churn_signal s WHERE s.cleared_at IS NULL AND s.account_id > 9000$$,
              $$SELECT s.account_id, s.signal, s.evidence FROM csm.churn_signals_at(date_trunc('day', now())) s WHERE s.account_id > 9000$$,
              'the open signals are those detected, with their evidence');
SELECT results_eq($$SELECT ongoing, raised, cleared FROM csm.refresh_churn_signals(date_trunc('day', now()))$$,
                  $$SELECT (SELECT count(*) FROM csm.churn_signal WHERE cleared_at IS NULL)::integer, 0, 0$$,
                  'a second refresh at the same time sees them all again');
UPDATE csm.payment SET status = 'paid', paid_on = current_date - 9 WHERE invoice_ref = 'cz-i8';
SELECT results_eq($$SELECT raised, cleared FROM csm.refresh_churn_signals(date_trunc('day', now()) + interval '1 second')$$,
                  $$VALUES (0, 1)$$, 'the charge paid within the grace days: payment_issue clears');
SELECT results_eq($$SELECT s.cleared_at FROM csm.churn_signal s WHERE s.account_id = 9008 AND s.signal = 'payment_issue'$$,
                  $$SELECT date_trunc('day', now()) + interval '1 second'$$, 'cleared as of the refresh');
SELECT is((SELECT count(*) FROM csm.churn_signal_current WHERE account_id > 9000),
          (SELECT count(*) FROM csm.churn_signal s JOIN csm.account a USING (account_id)
           WHERE s.cleared_at IS NULL AND a.status = 'active' AND s.account_id > 9000),
          'churn_signal_current: the open signals of active accounts');

-- Scores by the prior model --------------------------------------------------------
SELECT results_eq($$SELECT csm.refresh_churn()$$, $$SELECT count(*) FROM csm.account WHERE status = 'active'$$,
                  'refresh_churn scores every active account');
-- the prior model, from the raw rows: 1 / (1 + exp(-(ln(1/9) + the prior
-- weights of the open signals))); the rows are copied to temporary tables
-- first, and the test's own queries read one table each, so that none of
-- them is sent to a worker whole
CREATE TEMP TABLE cz_active AS SELECT a.account_id, a.external_id FROM csm.account a WHERE a.status = 'active' AND a.account_id > 9000;
CREATE TEMP TABLE cz_open AS SELECT s.account_id, s.signal FROM csm.churn_signal s WHERE s.cleared_at IS NULL AND s.account_id > 9000;
CREATE TEMP TABLE cz_weight AS SELECT c.signal, c.prior_weight FROM csm.churn_signal_config c WHERE c.enabled;
CREATE TEMP TABLE cz_prior AS
SELECT a.account_id, 1 / (1 + exp(-(ln(0.1 / 0.9) + coalesce(sum(w.prior_weight), 0)))) AS p,
       count(o.signal) AS open_signals
FROM cz_active a
LEFT JOIN cz_open o ON o.account_id = a.account_id
LEFT JOIN cz_weight w ON w.signal = o.signal
GROUP BY a.account_id;
CREATE TEMP TABLE cz_score AS SELECT c.account_id, c.probability, c.band, c.model FROM csm.churn_score c WHERE c.account_id > 9000;
SELECT is((SELECT count(*) FROM cz_prior p JOIN cz_score c USING (account_id)
           WHERE abs(c.probability - p.p) < 1e-12 AND c.band = csm.churn_band(p.p) AND c.model = 'prior'),
          (SELECT count(*) FROM cz_prior), 'churn_score: every probability and band is the prior model''s');
SELECT is(round(csm.churn_probability('cz02')::numeric, 12), (SELECT round(p::numeric, 12) FROM cz_prior WHERE account_id = 9002),
          'churn_probability: the prior model''s');
SELECT is((SELECT r->>'churn_band' FROM csm.analyze_churn_risk('cz02') r), 'critical', 'analyze_churn_risk: the band');
SELECT is((SELECT jsonb_path_query_array(r, '$.signals[*].signal') FROM csm.analyze_churn_risk('cz02') r),
          '["competitor_mentioned", "multiple_escalations", "no_login_14d", "limited_expansion"]',
          'analyze_churn_risk: the open signals, strongest first');
SELECT is((SELECT round((r->>'probability')::numeric, 12) FROM csm.analyze_churn_risk('cz02') r),
          (SELECT round(p::numeric, 12) FROM cz_prior WHERE account_id = 9002), 'analyze_churn_risk: the probability');
SELECT set_eq($$SELECT account_id, round(probability::numeric, 12), open_signals FROM csm.churn_risk WHERE account_id > 9000$$,
              $$SELECT p.account_id, round(p.p::numeric, 12), p.open_signals FROM cz_prior p$$,
              'churn_risk: every scored account, with its probability and open signals');

-- Training ------------------------------------------------------------------------------
SELECT is((SELECT r - 'name' - 'as_of' FROM csm.train_churn_model('cz_model', options => '{"lambda": 0.1}') r),
          '{"rows": 80, "active": true, "churned": 15, "holdout": {"f1": 0.8888888888888888, "auc": 0.9818181818181818, "rows": 16, "brier": 0.061501191953088355, "recall": 0.8, "accuracy": 0.9375, "log_loss": 0.2347037545966916, "precision": 1, "threshold": 0.5, "true_negative": 11, "true_positive": 4, "false_negative": 1, "false_positive": 0}, "converged": true, "iterations": 7, "train_rows": 64, "holdout_rows": 16, "horizon_days": 90, "majority_accuracy": 0.68750000000000000000}'::jsonb, 'train_churn_model: the held-out metrics of a single node');
SELECT results_eq($$SELECT csm.refresh_churn()$$, $$SELECT count(*) FROM csm.account WHERE status = 'active'$$,
                  'refresh_churn with the trained model');
ALTER TABLE cz_active ADD COLUMN p float8;
UPDATE cz_active SET p = csm.churn_probability(external_id);
SELECT set_eq($$SELECT account_id, round(probability::numeric, 12) FROM csm.churn_score WHERE account_id > 9000 AND model = 'cz_model'$$,
              $$SELECT account_id, round(p::numeric, 12) FROM cz_active$$,
              'the stored scores are churn_probability''s, by the trained model');

-- The guard triggers of the config tables (reference tables on Citus) -------------------
SELECT throws_ok($$UPDATE csm.churn_signal_kind SET label = 'x' WHERE signal = 'usage_drop'$$, '42501', NULL,
                 'a built-in signal kind cannot be changed');
SELECT throws_ok($$INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('usage_drop', '{"ratio": 1}')$$, '22023', NULL,
                 'a setting may only change parameters the signal has');
SELECT lives_ok($$INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('usage_drop', '{"max_ratio": 0.4}')$$,
                'a valid setting is stored');

-- Where the work runs -----------------------------------------------------------------
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END $f$;
SELECT CASE WHEN pg_temp.citus() THEN
    ok(pg_temp.plan_of('SELECT * FROM csm.churn_risk') ~ 'Task Count: [0-9]+'
       AND pg_temp.plan_of('SELECT * FROM csm.churn_risk') !~ 'Subplan|intermediate',
       'churn_risk runs on the workers, one task per shard, with no intermediate result')
    ELSE skip('not on Citus') END;
SELECT CASE WHEN pg_temp.citus() THEN
    ok(pg_temp.plan_of('SELECT * FROM csm.churn_signal_current') ~ 'Task Count: [0-9]+'
       AND pg_temp.plan_of('SELECT * FROM csm.churn_signal_current') !~ 'Subplan|intermediate',
       'churn_signal_current runs on the workers, one task per shard, with no intermediate result')
    ELSE skip('not on Citus') END;
SELECT * FROM finish();
ROLLBACK;
