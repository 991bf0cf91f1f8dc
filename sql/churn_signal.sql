-- citus-differs: csm.track_usage refuses the file's local event table on Citus (0A000, README "Growing past one machine": the event table must be distributed), so the usage-based signals are not raised, and the file's helper churn_acct(), which reads csm.account, cannot run inside a query Citus sends to a shard.
-- Churn bands and churn signals: one account per signal and a clean
-- control account, a refresh, a signal clearing and coming back.
\set VERBOSITY terse
SET timezone = 'UTC';

-- Bands: the seed's 90-day bands, boundaries included. ------------------------
SELECT p, csm.churn_band(p) AS band, csm.churn_risk_score(p) AS risk_score
FROM pg_catalog.unnest(ARRAY[0, 0.1, 0.29999999999999993, 0.3, 0.49999999999999994, 0.5, 0.7, 0.7000000000000001, 0.95, 1]::float8[]) AS p;
SELECT csm.churn_band(NULL) IS NULL AS null_is_null;
SELECT csm.churn_band('NaN'::float8);
SELECT csm.churn_band('Infinity'::float8);
SELECT csm.churn_band(1.01);
SELECT csm.churn_risk_score(-0.2);

-- A portfolio: every account has steady use (5 events a day over 5
-- features), a renewal far away and an expansion discussion, except where
-- its one signal needs otherwise.  As of 2026-06-30 12:00 UTC.
CREATE TABLE churn_events (org text, at timestamptz, feature text);
SELECT csm.track_usage('churn_events', 'org', 'at', 'feature') > 0 AS tracked;

INSERT INTO csm.account (external_id, started_at, renewal_date)
SELECT 'churn_' || s, '2025-01-01', '2027-03-01'
FROM pg_catalog.unnest(ARRAY['control', 'usage_drop', 'sponsor', 'payment', 'escalations', 'competitor', 'ghosting',
                  'health', 'adoption', 'response', 'tickets', 'nps', 'budget', 'no_login', 'key_person',
                  'inconsistent', 'attendance', 'orgchange', 'no_expansion', 'delay']) AS s;

CREATE FUNCTION churn_acct(s text) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT account_id FROM csm.account WHERE external_id = 'churn_' || s $$;

-- steady use: 60 days to 2026-06-30, a day's 5 events on 5 features
INSERT INTO churn_events
SELECT 'churn_' || s, d + time '10:00', 'f' || f::text
FROM pg_catalog.unnest(ARRAY['control', 'sponsor', 'payment', 'escalations', 'competitor', 'ghosting', 'health', 'response',
                  'tickets', 'nps', 'budget', 'key_person', 'attendance', 'orgchange', 'no_expansion', 'delay']) AS s,
     generate_series(date '2026-05-02', '2026-06-30', '1 day') AS d, generate_series(1, 5) AS f;
-- usage_drop: 5 a day until 2026-05-31, then 2 a day (60 < half of 150),
-- still on all 5 features in turn
INSERT INTO churn_events
SELECT 'churn_usage_drop', d + time '10:00', 'f' || (CASE WHEN d > '2026-05-31' THEN 1 + (extract(doy FROM d)::integer + f) % 5 ELSE f END)::text
FROM generate_series(date '2026-05-02', '2026-06-30', '1 day') AS d, generate_series(1, 5) AS f
WHERE d <= '2026-05-31' OR f <= 2;
-- adoption: the same 5 a day, but on 3 features only in the last 30 days
INSERT INTO churn_events
SELECT 'churn_adoption', d + time '10:00', 'f' || (CASE WHEN d > '2026-05-31' THEN least(f, 3) ELSE f END)::text
FROM generate_series(date '2026-05-02', '2026-06-30', '1 day') AS d, generate_series(1, 5) AS f;
-- no_login: steady use, the last of it on 2026-06-16 (14 days before)
INSERT INTO churn_events
SELECT 'churn_no_login', d + time '10:00', 'f' || f::text
FROM generate_series(date '2026-05-02', '2026-06-16', '1 day') AS d, generate_series(1, 5) AS f;
-- inconsistent: one day of use a week, 60 and 10 events in turn
INSERT INTO churn_events
SELECT 'churn_inconsistent', (date '2026-06-28' - 7 * w) + time '10:00', 'f' || (1 + i % 5)::text
FROM generate_series(0, 7) AS w, generate_series(1, 60) AS i
WHERE i <= CASE WHEN w % 2 = 0 THEN 60 ELSE 10 END;

-- sponsor: the executive sponsor left a month ago, nobody replaced them
INSERT INTO csm.stakeholder (account_id, name, role, is_key, started_at, departed_at)
VALUES (churn_acct('sponsor'), 'Dana Chief', 'executive_sponsor', true, '2024-01-01', '2026-06-01'),
       (churn_acct('sponsor'), 'Sam User', 'user', false, '2024-01-01', NULL);
-- key_person: a key champion left; the sponsor stays
INSERT INTO csm.stakeholder (account_id, name, role, is_key, started_at, departed_at)
VALUES (churn_acct('key_person'), 'Kim Champion', 'champion', true, '2024-01-01', '2026-06-15'),
       (churn_acct('key_person'), 'Lee Sponsor', 'executive_sponsor', true, '2024-01-01', NULL);
-- payment: a charge failed; the control account paid on time
INSERT INTO csm.payment (account_id, invoice_ref, amount, due_on, paid_on, status)
VALUES (churn_acct('payment'), 'INV-1', 1200, '2026-06-10', NULL, 'failed'),
       (churn_acct('control'), 'INV-2', 900, '2026-06-10', '2026-06-09', 'paid');
-- notes: every account but no_expansion talked expansion this year
INSERT INTO csm.account_note (account_id, noted_at, kind, body)
SELECT a.account_id, '2026-05-15 09:00', 'expansion_discussion', 'Interested in more seats.'
FROM csm.account a WHERE a.external_id <> 'churn_no_expansion';
INSERT INTO csm.account_note (account_id, noted_at, kind, body) VALUES
    (churn_acct('escalations'), '2026-05-20 09:00', 'escalation', 'Outage escalated to their VP.'),
    (churn_acct('escalations'), '2026-06-20 09:00', 'escalation', 'Second escalation.'),
    (churn_acct('competitor'), '2026-06-05 09:00', 'competitor_mention', 'Evaluating a competitor.'),
    (churn_acct('budget'), '2026-06-12 09:00', 'budget_concern', 'Budget review next quarter.'),
    (churn_acct('orgchange'), '2026-06-02 09:00', 'org_change', 'Merged with another company.'),
    (churn_acct('delay'), '2026-06-22 09:00', 'implementation_delay', 'Integration slipped a quarter.'),
    (churn_acct('no_expansion'), '2026-04-01 09:00', 'note', 'Routine check-in.'),
    (churn_acct('control'), '2026-06-25 09:00', 'note', 'All good.');
-- engagements: response, attendance and ghosting
INSERT INTO csm.engagement (account_id, occurred_at, kind, direction, responded, attended)
SELECT churn_acct('response'), t, 'email', 'outbound', r, NULL
FROM (VALUES ('2026-03-10 09:00'::timestamptz, true), ('2026-03-20 09:00', true), ('2026-04-10 09:00', true),
             ('2026-04-20 09:00', true), ('2026-05-10 09:00', true), ('2026-05-20 09:00', false),
             ('2026-06-10 09:00', false), ('2026-06-20 09:00', false)) AS v(t, r);
INSERT INTO csm.engagement (account_id, occurred_at, kind, direction, responded, attended)
SELECT churn_acct('attendance'), t, 'meeting', 'outbound', NULL, a
FROM (VALUES ('2026-01-15 09:00'::timestamptz, true), ('2026-02-15 09:00', true), ('2026-03-15 09:00', true),
             ('2026-04-15 09:00', true), ('2026-05-15 09:00', false), ('2026-06-15 09:00', false)) AS v(t, a);
UPDATE csm.account SET renewal_date = '2026-08-14' WHERE external_id = 'churn_ghosting';
INSERT INTO csm.engagement (account_id, occurred_at, kind, direction, responded)
VALUES (churn_acct('ghosting'), '2026-05-01 09:00', 'call', 'inbound', NULL),
       (churn_acct('ghosting'), '2026-06-20 09:00', 'email', 'outbound', false);
-- tickets: one in the 30 days before, three in the last 30
INSERT INTO csm.conversation (account_id, team, status, created_at, resolved_at)
SELECT churn_acct('tickets'), 'support', 'resolved', t, t
FROM unnest(ARRAY['2026-05-20 09:00', '2026-06-05 09:00', '2026-06-15 09:00', '2026-06-25 09:00']::timestamptz[]) AS t;
-- nps: 9 in March, 7 in June
INSERT INTO csm.nps_response (account_id, responded_at, score)
VALUES (churn_acct('nps'), '2026-03-15', 9), (churn_acct('nps'), '2026-06-15', 7),
       (churn_acct('control'), '2026-06-15', 9);
-- health: 75 three weeks ago, 55 yesterday
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
VALUES (churn_acct('health'), '2026-06-09', 'default', 1, 75, 'yellow', 1, '2026-06-09'),
       (churn_acct('health'), '2026-06-29', 'default', 1, 55, 'red', 1, '2026-06-29'),
       (churn_acct('control'), '2026-06-29', 'default', 1, 92, 'green', 1, '2026-06-29');

-- The refresh: every signal account has exactly its signal, control none.
SELECT * FROM csm.refresh_churn_signals('2026-06-30 12:00+00');
SELECT a.external_id, coalesce(string_agg(c.signal || ' (' || c.strength || ')', ', ' ORDER BY c.signal), '-') AS signals
FROM csm.account a LEFT JOIN csm.churn_signal_current c ON c.account_id = a.account_id
WHERE a.external_id LIKE 'churn\_%'
GROUP BY a.external_id ORDER BY a.external_id;
-- every signal of the catalogue is covered by exactly one account
SELECT k.signal, k.strength, count(c.*) AS accounts
FROM csm.churn_signal_kind k LEFT JOIN csm.churn_signal_current c ON c.signal = k.signal AND c.external_id LIKE 'churn\_%'
GROUP BY k.signal, k.strength ORDER BY k.strength, k.signal;
-- the numbers behind them (stakeholder ids left out: they depend on the run)
SELECT external_id, signal, evidence #- '{departed,0,stakeholder_id}' AS evidence
FROM csm.churn_signal_current WHERE external_id LIKE 'churn\_%' ORDER BY signal;

-- The same as_of again changes nothing.
CREATE TEMP TABLE before_rerun AS SELECT * FROM csm.churn_signal;
SELECT * FROM csm.refresh_churn_signals('2026-06-30 12:00+00');
SELECT count(*) AS rows_changed
FROM ((TABLE csm.churn_signal EXCEPT TABLE before_rerun) UNION ALL (TABLE before_rerun EXCEPT TABLE csm.churn_signal)) d;

-- The failed charge turns out paid within the grace days (due 06-10, paid
-- 06-15): an hour later payment_issue clears, the others are seen again.
UPDATE csm.payment SET status = 'paid', paid_on = '2026-06-15' WHERE invoice_ref = 'INV-1';
SELECT * FROM csm.refresh_churn_signals('2026-06-30 13:00+00');
SELECT a.external_id, s.signal, s.first_seen_at, s.last_seen_at, s.cleared_at
FROM csm.churn_signal s JOIN csm.account a USING (account_id)
WHERE a.external_id IN ('churn_payment', 'churn_budget') ORDER BY 1, s.first_seen_at;

-- It fails again: a new row, the old one stays as history.
INSERT INTO csm.payment (account_id, invoice_ref, amount, due_on, status) VALUES (churn_acct('payment'), 'INV-3', 1200, '2026-06-12', 'disputed');
SELECT * FROM csm.refresh_churn_signals('2026-06-30 14:00+00');
SELECT s.signal, s.evidence, s.first_seen_at, s.cleared_at
FROM csm.churn_signal s WHERE s.account_id = churn_acct('payment') ORDER BY s.first_seen_at;

-- Settings: turn a signal off (it clears), change a threshold (it rises).
INSERT INTO csm.churn_signal_setting (signal, enabled) VALUES ('limited_expansion', false);
INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('ticket_increase', '{"min_tickets": 5}');
SELECT * FROM csm.refresh_churn_signals('2026-06-30 15:00+00');
SELECT signal, enabled, params, prior_weight, customized FROM csm.churn_signal_config
WHERE signal IN ('limited_expansion', 'ticket_increase', 'usage_drop') ORDER BY signal;
SELECT a.external_id, s.signal, s.cleared_at FROM csm.churn_signal s JOIN csm.account a USING (account_id)
WHERE s.signal IN ('limited_expansion', 'ticket_increase') ORDER BY 1;
-- bad settings and edits of built-in kinds are refused
INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('usage_drop', '{"ratio": 0.4}');
INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('usage_drop', '{"max_ratio": "low"}');
INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('usage_drop', '{"window_days": 7.5}');
UPDATE csm.churn_signal_kind SET prior_weight = 2 WHERE signal = 'usage_drop';
SELECT * FROM csm.refresh_churn_signals('2026-06-30 10:00+00');

-- A signal of your own: recorded and cleared by hand; refresh leaves it be.
INSERT INTO csm.churn_signal_kind (signal, strength, label, description, prior_weight)
VALUES ('layoffs_announced', 'strong', 'Layoffs announced', 'The customer announced layoffs.', 1.0);
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at, evidence)
VALUES (churn_acct('control'), 'layoffs_announced', '2026-06-30 15:30+00', '2026-06-30 15:30+00', '{"source": "news"}');
SELECT * FROM csm.refresh_churn_signals('2026-06-30 16:00+00');
SELECT external_id, signal, strength, evidence FROM csm.churn_signal_current WHERE external_id = 'churn_control';

-- Deleting an account deletes its signals.
SELECT churn_acct('sponsor') AS sponsor_id \gset
SELECT count(*) AS sponsor_signals FROM csm.churn_signal WHERE account_id = :sponsor_id;
DELETE FROM csm.account WHERE external_id = 'churn_sponsor';
SELECT count(*) AS sponsor_signals FROM csm.churn_signal WHERE account_id = :sponsor_id;

DROP FUNCTION churn_acct(text);
SELECT csm.untrack_usage('churn_events');
DROP TABLE churn_events;
DELETE FROM csm.account WHERE external_id LIKE 'churn\_%';
DELETE FROM csm.churn_signal_setting;
DELETE FROM csm.churn_signal_kind WHERE NOT builtin;
