-- citus-differs: its assertions read one account's rows, and Citus sends such a query, pgTAP's call included, to that account's worker, where pgTAP has no plan. test/citus/history.sql checks csm.churn_history, csm.health_daily and csm.churn_daily on the cluster.
-- History to chart (issue 15, section 3): csm.refresh_churn writes one
-- csm.churn_history row per account per UTC day (the day's last refresh
-- wins), and csm.health_daily / csm.churn_daily give each history row its
-- account's external_id, name and a timestamptz time column.
BEGIN;
SELECT plan(15);

INSERT INTO csm.account (account_id, external_id, name, arr, started_at, renewal_date) VALUES
    (91001, 'hist_a', 'Hist A', 1000, '2024-01-01', (now() AT TIME ZONE 'UTC')::date + 200),
    (91002, 'hist_b', 'Hist B', 2000, '2024-01-01', (now() AT TIME ZONE 'UTC')::date + 20);
SELECT ok(csm.refresh_churn() >= 2, 'refresh_churn scores the accounts');
SELECT is((SELECT count(*)::integer FROM csm.churn_history WHERE account_id IN (91001, 91002)), 2,
          'refresh_churn writes one churn_history row per account');
SELECT is((SELECT (h.probability, h.churn_band, h.risk_score, h.model, h.computed_at)::text
           FROM csm.churn_history h WHERE h.account_id = 91002 AND h.day = (now() AT TIME ZONE 'UTC')::date),
          (SELECT (c.probability, c.band, c.risk_score, c.model, c.computed_at)::text
           FROM csm.churn_score c WHERE c.account_id = 91002),
          'the history row is the day''s churn score');
-- a second refresh the same day replaces the day's row
UPDATE csm.churn_history SET probability = 0.5, risk_score = 50 WHERE account_id = 91001;
SELECT ok(csm.refresh_churn() >= 2, 'a second refresh the same day');
SELECT is((SELECT count(*)::integer FROM csm.churn_history WHERE account_id IN (91001, 91002)), 2,
          'still one row per account per day');
SELECT is((SELECT h.probability FROM csm.churn_history h WHERE h.account_id = 91001),
          (SELECT c.probability FROM csm.churn_score c WHERE c.account_id = 91001),
          'the day''s last refresh wins');
-- an earlier day stays
INSERT INTO csm.churn_history (account_id, day, probability, churn_band, risk_score, model, computed_at)
VALUES (91001, (now() AT TIME ZONE 'UTC')::date - 1, 0.25, csm.churn_band(0.25), 25, 'prior', now() - interval '1 day');
SELECT is((SELECT array_agg(d.probability ORDER BY d."time") FROM csm.churn_daily d WHERE d.external_id = 'hist_a'),
          ARRAY[0.25, (SELECT c.probability FROM csm.churn_score c WHERE c.account_id = 91001)],
          'churn_daily: the account''s days, oldest first, by external_id');
SELECT is((SELECT (d."time", d.account_id, d.account_name) FROM csm.churn_daily d
           WHERE d.external_id = 'hist_a' AND d.day = (now() AT TIME ZONE 'UTC')::date - 1),
          (((now() AT TIME ZONE 'UTC')::date - 1)::timestamp AT TIME ZONE 'UTC', 91001::bigint, 'Hist A'::text),
          'churn_daily: time is midnight UTC of day, beside account_id and account_name');
SELECT col_type_is('csm', 'churn_daily', 'time', 'timestamp with time zone', 'churn_daily.time is a timestamptz');
SELECT col_type_is('csm', 'health_daily', 'time', 'timestamp with time zone', 'health_daily.time is a timestamptz');
-- health_daily
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
VALUES (91002, '2026-03-01', 'default', 1, 42, csm.health_band(42), 1, '2026-03-01 10:00+00');
SELECT is((SELECT (d."time", d.external_id, d.account_name, d.score, d.health_band::text) FROM csm.health_daily d WHERE d.account_id = 91002),
          ('2026-03-01 00:00+00'::timestamptz, 'hist_b'::text, 'Hist B'::text, 42::float8, csm.health_band(42)::text),
          'health_daily: external_id, account_name, time and health_band beside the history');
-- bad values are refused
SELECT throws_ok($$INSERT INTO csm.churn_history VALUES (91002, '2020-01-01', 'NaN', 'low', 0, 'prior', now())$$,
                 '23514', NULL, 'churn_history refuses a NaN probability');
-- a churned account keeps its history; a deleted one loses it
UPDATE csm.account SET status = 'churned', churned_at = now() WHERE account_id = 91002;
SELECT ok(csm.refresh_churn() >= 1, 'refresh after a churn');
SELECT is((SELECT count(*)::integer FROM csm.churn_history WHERE account_id = 91002), 1,
          'a churned account keeps its churn history');
DELETE FROM csm.account WHERE account_id = 91002;
SELECT is((SELECT count(*)::integer FROM csm.churn_history WHERE account_id = 91002), 0,
          'a deleted account''s churn history goes with it');
SELECT * FROM finish();
ROLLBACK;
