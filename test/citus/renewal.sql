-- Renewals on Citus: refresh_renewals, close_renewal, renewal_pipeline and
-- renewal_metrics on a cluster where csm.distribute() has run, with the
-- answers of a single node.  The same file passes on a single node
-- (pg_prove against a database with csm and pgtap), which is how the
-- expected values below were made; checks of where the work runs are
-- skipped there.  Every value is read through pg_temp.q(), which runs its
-- query on its own: Citus would otherwise send a query that reads one
-- account's rows, pgTAP's call included, to that account's worker.
BEGIN;
SELECT plan(19);
SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.citus() RETURNS boolean LANGUAGE sql
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') $$;
CREATE FUNCTION pg_temp.q(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE format('SELECT (%s)::text', query) INTO result;
    RETURN result;
END $$;
CREATE FUNCTION pg_temp.explain(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        RETURN NEXT l;
    END LOOP;
END $$;

-- 40 accounts renewing from 5 days ago to 190 days out; every fourth has a CSM.
INSERT INTO csm.account (account_id, external_id, segment, arr, renewal_date)
SELECT 9300 + i, 'rz' || lpad(i::text, 2, '0'), CASE WHEN i % 2 = 0 THEN 'enterprise' ELSE 'smb' END,
       1000 * i, (now() AT TIME ZONE 'UTC')::date - 5 + 5 * (i - 1)
FROM generate_series(1, 40) AS i;
INSERT INTO csm.team_member (handle, roles) VALUES ('rz_csm', '{csm}');
DO $$
BEGIN
    PERFORM csm.csm_assign('rz' || lpad(i::text, 2, '0'), 'rz_csm') FROM generate_series(4, 40, 4) AS i;
END $$;

SELECT is(pg_temp.q($$SELECT (opened, closed, reminded) FROM csm.refresh_renewals()$$), '(20,0,18)',
          'the first refresh opens the 20 renewals 90 days out or less and raises 18 reminders');
SELECT is(pg_temp.q($$SELECT (opened, updated, closed, reminded) FROM csm.refresh_renewals()$$), '(0,0,0,0)',
          'a second refresh changes nothing');
SELECT is(pg_temp.q($$SELECT string_agg(r.stage::text || ':' || n, ',' ORDER BY r.stage)
                      FROM (SELECT stage, count(*) AS n FROM csm.renewal WHERE account_id > 9300 GROUP BY stage) r$$),
          '90_days_out:6,60_days_out:6,30_days_out:6,execution:2', 'stages by days out');
SELECT is(pg_temp.q($$SELECT string_agg(days_out || ':' || n, ',' ORDER BY days_out)
                      FROM (SELECT days_out, count(*) AS n FROM csm.renewal_reminder WHERE account_id > 9300 GROUP BY 1) r$$),
          '30:6,60:6,90:6', 'one reminder per renewal, of its window');
SELECT is(pg_temp.q($$SELECT string_agg(owner, ',' ORDER BY account_id) FROM csm.renewal WHERE account_id > 9300$$),
          'rz_csm,rz_csm,rz_csm,rz_csm,rz_csm', 'owners: the primary CSMs');

-- The forecast, after churn scores.
SELECT ok(csm.refresh_churn() >= 40, 'churn scored');
SELECT is(pg_temp.q($$SELECT updated FROM csm.refresh_renewals()$$), '20', 'the forecasts of the 20 open renewals');
SELECT is(pg_temp.q($$SELECT sum(forecast_arr) FROM csm.renewal WHERE account_id > 9300$$),
          pg_temp.q($$SELECT sum(round(a.arr * (1 - c.probability::numeric), 2)) FROM csm.renewal r
                      JOIN csm.account a USING (account_id) JOIN csm.churn_score c USING (account_id)
                      WHERE r.account_id > 9300$$),
          'forecast_arr = ARR x (1 - churn probability)');

-- The pipeline: everything within 180 days, overdue included.
SELECT is(pg_temp.q($$SELECT concat_ws(',', count(*), count(*) FILTER (WHERE horizon_days = 90), count(*) FILTER (WHERE stage = 'not_open'),
                                            sum(target_arr), sum(forecast_arr), count(owner), count(churn_band))
                      FROM csm.renewal_pipeline WHERE account_id > 9300$$),
          '38,20,18,741000,666900.00,9,38', 'renewal_pipeline: rows, horizons, targets, forecasts, owners and bands');
SELECT is(pg_temp.q($$SELECT concat_ws(',', stage, owner, target_arr) FROM csm.renewal_pipeline WHERE external_id = 'rz08'$$),
          '30_days_out,rz_csm,8000', 'one account''s pipeline row');

-- Closing, on the account's shard.
SELECT is(pg_temp.q($$SELECT (outcome, final_arr) FROM csm.close_renewal('rz08', 9000)$$), '(upsell,9000)', 'close: upsell');
SELECT is(pg_temp.q($$SELECT (outcome, final_arr) FROM csm.close_renewal('rz09', 0)$$), '(churned,0)', 'close: churned');
SELECT is(pg_temp.q($$SELECT concat_ws(',', arr, CASE WHEN renewal_date > (now() AT TIME ZONE 'UTC')::date + 365 THEN 'rolled' END, status)
                      FROM csm.account WHERE external_id = 'rz08'$$), '9000,rolled,active', 'the account rolled forward');
SELECT is(pg_temp.q($$SELECT status FROM csm.account WHERE external_id = 'rz09'$$), 'churned', 'the churned account');
UPDATE csm.account SET status = 'churned' WHERE account_id = 9303;
SELECT is(pg_temp.q($$SELECT (opened, closed) FROM csm.refresh_renewals()$$), '(0,1)', 'a churned account''s renewal closes');
SELECT is(pg_temp.q($$SELECT (renewals, upsell, churned, expansion_share, expansion_share_arr)
                      FROM csm.renewal_metrics((now() AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date)$$),
          '(3,1,2,0.3333,0.4000)', 'renewal_metrics');

-- Deleting an account takes its renewals and reminders with it.
DELETE FROM csm.account WHERE account_id = 9305;
SELECT is(pg_temp.q($$SELECT (SELECT count(*) FROM csm.renewal WHERE account_id = 9305)
                             + (SELECT count(*) FROM csm.renewal_reminder WHERE account_id = 9305)$$), '0',
          'a deleted account''s renewals and reminders go');

-- Where the work runs: on the workers, joined on account_id, but for the
-- new renewals read from the reference table csm.account.
SELECT CASE WHEN pg_temp.citus() THEN
    is((SELECT string_agg(s.step, ',' ORDER BY s.step)
        FROM csm_internal._renewal_refresh_statements(now(), (now() AT TIME ZONE 'UTC')::date, 'postgres', true) s
        WHERE s.step IN ('close_churned', 'close_moved', 'advance', 'remind')
          AND pg_temp.q(format($q$SELECT string_agg(l, E'\n') FROM (SELECT * FROM pg_temp.explain(%L)) e(l)$q$, s.statement))
              ~ 'Task Count: [0-9]+' AND NOT pg_temp.q(format($q$SELECT string_agg(l, E'\n') FROM (SELECT * FROM pg_temp.explain(%L)) e(l)$q$, s.statement))
              ~ 'pull to coordinator'),
       'advance,close_churned,close_moved,remind', 'the refresh''s updates run on the workers')
ELSE skip('single node: nothing to distribute') END;
SELECT CASE WHEN pg_temp.citus() THEN
    ok(pg_temp.q($$SELECT string_agg(l, E'\n') FROM (SELECT * FROM pg_temp.explain('SELECT * FROM csm.renewal_pipeline')) e(l)$$)
       ~ 'Task Count: [0-9]+', 'renewal_pipeline runs on the workers')
ELSE skip('single node: nothing to distribute') END;


SELECT * FROM finish();
ROLLBACK;
