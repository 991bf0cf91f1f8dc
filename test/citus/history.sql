-- History to chart and per-account reads on Citus (csm.distribute() done):
-- csm.refresh_churn writes csm.churn_history (distributed by account_id,
-- colocated with csm.churn_score), csm.churn_daily and csm.health_daily
-- read it with the account's columns, and csm.account_metrics,
-- csm.usage_daily and csm.usage_feature_daily have the set-based form
-- Citus runs (csm_internal._account_metrics_view, csm_internal._usage_daily_views), with the
-- single-node answers.  The same file passes on a single node.  Run with
-- pg_prove against the coordinator; everything is rolled back.
BEGIN;
SELECT plan(9);
SET LOCAL timezone = 'UTC';
SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.citus() RETURNS boolean LANGUAGE sql
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') $$;

INSERT INTO csm.account (account_id, external_id, name, segment, arr, seats, started_at, renewal_date)
SELECT 9700 + i, 'hy' || i, 'History ' || i, 'smb', 1000 * i, 10, date_trunc('day', now()) - interval '400 days',
       current_date + 20 * i
FROM generate_series(1, 12) AS i;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT 9700 + i, date_trunc('day', now()) - interval '5 days', i % 11 FROM generate_series(1, 12) AS i;

SELECT ok(csm.refresh_churn() >= 12, 'refresh_churn scores the accounts');
SELECT count(*)::integer AS got FROM csm.churn_history WHERE account_id BETWEEN 9701 AND 9712 \gset
SELECT is(:got, 12,
          'refresh_churn writes one churn_history row per account');
SELECT ok(csm.refresh_churn() >= 12, 'a second refresh the same day');
SELECT set_eq($$SELECT account_id, day, probability, churn_band::text, risk_score, model FROM csm.churn_history
                WHERE account_id BETWEEN 9701 AND 9712$$,
              $$SELECT account_id, (computed_at AT TIME ZONE 'UTC')::date, probability, band::text, risk_score, model
                FROM csm.churn_score WHERE account_id BETWEEN 9701 AND 9712$$,
              'still one row per account, the day''s last scores');
-- (read first: a query over distributed tables that calls pgTAP would run it on a worker)
SELECT concat_ws(' ', d."time", d.account_id, d.account_name, d.churn_band) AS got FROM csm.churn_daily d WHERE d.external_id = 'hy3' \gset
SELECT concat_ws(' ', date_trunc('day', now()), 9703, 'History 3', c.band) AS want FROM csm.churn_score c WHERE c.account_id = 9703 \gset
SELECT is(:'got'::text, :'want'::text,
          'churn_daily by external_id: time, account and band');
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
VALUES (9704, current_date - 1, 'default', 1, 55, csm.health_band(55), 1, date_trunc('day', now()) - interval '12 hours');
SELECT concat_ws(' ', d."time", d.external_id, d.score) AS got FROM csm.health_daily d WHERE d.account_id = 9704 \gset
SELECT is(:'got'::text, concat_ws(' ', date_trunc('day', now()) - interval '1 day', 'hy4', 55::float8),
          'health_daily: time, external_id and score');
SELECT set_eq($$SELECT * FROM csm.account_metrics WHERE account_id BETWEEN 9701 AND 9712$$,
              $$SELECT m.* FROM csm.account_metrics_at((now() AT TIME ZONE 'UTC')::date) m WHERE m.account_id BETWEEN 9701 AND 9712$$,
              'account_metrics: the answers of account_metrics_at');
SELECT m.nps AS got FROM csm.account_metrics m WHERE m.external_id = 'hy7' \gset
SELECT is(:'got'::text, '7'::text, 'account_metrics by external_id');
SELECT is((SELECT pg_get_viewdef('csm.account_metrics'::regclass) ~* 'LATERAL'
                  OR pg_get_viewdef('csm.usage_daily'::regclass) ~* 'LATERAL'), NOT pg_temp.citus(),
          'the views have the per-account form on one node, the set-based form on Citus');
SELECT * FROM finish();
ROLLBACK;
