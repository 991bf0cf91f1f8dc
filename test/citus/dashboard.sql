-- The dashboard views on Citus: forty accounts spread over the shards, with
-- owners, health and churn scores, engagements, notes, expansion signals,
-- NPS answers and conversations, and every view's totals compared with the
-- values the fixture's formulas give (computed below from VALUES, not from
-- csm's tables), which is the single-node answer: the same file passes with
-- pg_prove on one node.  test/pgtap/dashboard.sql, hand-worked, also runs
-- on the cluster (test/citus/run.sh).  Everything is rolled back.
BEGIN;
SELECT plan(12);
SET LOCAL timezone = 'UTC';
SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.citus() RETURNS boolean LANGUAGE sql
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') $$;
CREATE FUNCTION pg_temp.placement(rel regclass) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    how text;
BEGIN
    EXECUTE 'SELECT p.partmethod::text FROM pg_dist_partition p WHERE p.logicalrelid = $1' INTO how USING rel;
    RETURN how;
END $f$;
SELECT CASE WHEN pg_temp.citus()
            THEN is(pg_temp.placement('csm.engagement') || pg_temp.placement('csm.health_score'), 'hh',
                    'engagements and health scores are distributed')
            ELSE skip('not on Citus') END;

DELETE FROM csm.account;
-- Account i (1..40): ARR 100 i, segment smb (odd) or enterprise (even),
-- health score 2.5 i (red below 70: i < 28), churn probability i / 41
-- (high or critical from 0.5: i >= 21), renewal in 3 i days (in 90 days:
-- i < 30), owned by dz_ann when i <= 20, else by nobody.
INSERT INTO csm.account (account_id, external_id, arr, segment, renewal_date, status, started_at)
SELECT 9800 + i, 'dz_' || i, 100 * i, CASE WHEN i % 2 = 1 THEN 'smb' ELSE 'enterprise' END,
       (now() AT TIME ZONE 'UTC')::date + 3 * i, 'active', now() - interval '400 days'
FROM generate_series(1, 40) i;
INSERT INTO csm.team_member (handle, roles, capacity) VALUES ('dz_ann', '{csm}', 100000);
DO $$ BEGIN PERFORM csm.csm_assign('dz_' || i, 'dz_ann') FROM generate_series(1, 20) i; END $$;
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
SELECT 9800 + i, 'default', 1, 2.5 * i, csm.health_band(2.5 * i), 1, '{}', '{}', '{}', '{}', now()
FROM generate_series(1, 40) i;
INSERT INTO csm.churn_score (account_id, probability, band, risk_score, model, computed_at)
SELECT 9800 + i, i / 41.0, csm.churn_band(i / 41.0), 100 * i / 41.0, 'prior', now()
FROM generate_series(1, 40) i;
-- i % 5 engagements each, one of them a business review when i % 5 = 4;
-- a note each for even i; an expansion signal each for i % 3 = 0.
INSERT INTO csm.engagement (account_id, occurred_at, kind, attended)
SELECT 9800 + i, now() - interval '1 minute', CASE WHEN i % 5 = 4 AND k = 1 THEN 'qbr' ELSE 'call' END,
       CASE WHEN i % 5 = 4 AND k = 1 THEN true END
FROM generate_series(1, 40) i, generate_series(1, 4) k WHERE k <= i % 5;
INSERT INTO csm.account_note (account_id, noted_at, kind, body)
SELECT 9800 + i, now() - interval '1 minute', 'note', 'x' FROM generate_series(2, 40, 2) i;
INSERT INTO csm.expansion_signal (account_id, signal, first_seen_at, last_seen_at)
SELECT 9800 + i, 'plan_limit', now() - interval '1 minute', now() - interval '1 minute' FROM generate_series(3, 39, 3) i;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT 9800 + i, now() - interval '1 minute', i % 11 FROM generate_series(1, 40) i;
INSERT INTO csm.conversation (account_id, team, status, created_at, first_response_at, csat)
SELECT 9800 + i, 'support', 'resolved', now() - interval '2 hours', now() - interval '1 hour', 1 + i % 5
FROM generate_series(1, 40) i;

CREATE TEMP TABLE expected AS
SELECT (sum(100 * i))::numeric AS arr,
       (sum(100 * i) FILTER (WHERE i <= 20))::numeric AS ann_arr,
       (sum(100 * i) FILTER (WHERE i % 2 = 1))::numeric AS smb_arr,
       (round(avg(2.5 * i), 1))::numeric AS avg_health,
       (count(*) FILTER (WHERE 2.5 * i < 70 OR i / 41.0 >= 0.5))::numeric AS at_risk,
       (count(*) FILTER (WHERE 3 * i < 90))::numeric AS renewals,
       (round(sum(100 * i * (1 - i / 41.0)) FILTER (WHERE 3 * i < 90), 2))::numeric AS expected_arr,
       (sum(i % 5) + count(*) FILTER (WHERE i % 2 = 0))::numeric AS touchpoints,
       (count(*) FILTER (WHERE i % 5 = 4))::numeric AS reviews,
       (count(*) FILTER (WHERE i % 3 = 0))::numeric AS expansion,
       (round(avg(1 + i % 5), 2))::numeric AS csat,
       (round(100.0 * count(*) FILTER (WHERE i % 11 >= 9) / count(*) - 100.0 * count(*) FILTER (WHERE i % 11 <= 6) / count(*), 1))::numeric AS nps
FROM generate_series(1, 40) i;

SELECT is((SELECT value FROM csm.dashboard_portfolio WHERE all_csms AND all_segments AND metric = 'arr_managed'),
          (SELECT arr FROM expected), 'portfolio: team ARR');
SELECT is((SELECT value FROM csm.dashboard_portfolio WHERE csm_handle = 'dz_ann' AND all_segments AND metric = 'arr_managed'),
          (SELECT ann_arr FROM expected), 'portfolio: a CSM''s ARR');
SELECT is((SELECT value FROM csm.dashboard_portfolio WHERE all_csms AND segment = 'smb' AND NOT all_segments AND metric = 'arr_managed'),
          (SELECT smb_arr FROM expected), 'portfolio: ARR of a segment');
SELECT is((SELECT array_agg(value ORDER BY metric) FROM csm.dashboard_portfolio
           WHERE all_csms AND all_segments AND metric IN ('avg_health_score', 'at_risk_accounts', 'renewals_90d', 'renewal_expected_arr_90d')),
          (SELECT ARRAY[at_risk, avg_health, expected_arr, renewals]::numeric[] FROM expected),
          'portfolio: health, risk and the renewal pipeline');
SELECT is((SELECT value FROM csm.dashboard_activity WHERE grain = 'week' AND week = date_trunc('week', (now() AT TIME ZONE 'UTC')::date)::date
           AND metric = 'touchpoints'), (SELECT touchpoints FROM expected), 'activity: touchpoints this week');
SELECT is((SELECT value FROM csm.dashboard_activity WHERE grain = 'month' AND month = date_trunc('month', (now() AT TIME ZONE 'UTC')::date)::date
           AND metric = 'business_reviews_completed'), (SELECT reviews FROM expected), 'activity: business reviews this month');
SELECT is((SELECT value FROM csm.dashboard_activity WHERE grain = 'month' AND month = date_trunc('month', (now() AT TIME ZONE 'UTC')::date)::date
           AND metric = 'expansion_opportunities_identified'), (SELECT expansion FROM expected), 'activity: expansion opportunities this month');
SELECT is((SELECT value FROM csm.dashboard_outcomes WHERE month = date_trunc('month', (now() AT TIME ZONE 'UTC')::date)::date AND metric = 'nps'),
          (SELECT nps FROM expected), 'outcomes: this month''s NPS');
SELECT is((SELECT value FROM csm.dashboard_operations WHERE metric = 'csat_avg'), (SELECT csat FROM expected), 'operations: CSAT');
SELECT is((SELECT value FROM csm.dashboard_operations WHERE metric = 'assignment_queue_accounts'), 20::numeric,
          'operations: the accounts without an owner');
SELECT is((SELECT string_agg(metric || '=' || coalesce(value::text, '-') || ':' || met, ' ' ORDER BY position) FROM csm.dashboard_executive
           WHERE metric IN ('nps', 'health_coverage_pct')),
          (SELECT 'nps=' || nps || ':false health_coverage_pct=100.00:true' FROM expected), 'executive: NPS and health coverage');

SELECT * FROM finish();
ROLLBACK;
