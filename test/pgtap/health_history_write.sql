-- citus-differs: it empties csm.health_history with TRUNCATE inside the test's transaction, after which Citus refuses the next refresh ("cannot switch local execution status"); test/citus/health.sql checks the history statement on the shards.
-- csm.refresh_health() writes the day's csm.health_history rows without a
-- join to the history. A join planned while the history's statistics say it
-- is empty (an ANALYZE or VACUUM before the first refresh) ran as a nested
-- loop over a sequential scan of csm.health_history, which read again every
-- row the statement had inserted so far: quadratic in the accounts (112 s of
-- a first refresh of 100,000 accounts).
BEGIN;
SELECT plan(5);

CREATE TEMP TABLE tap_metrics (account_id bigint, dau_ratio float8, nps float8);
INSERT INTO csm.account (external_id) SELECT 'org_hist_' || g FROM generate_series(1, 300) g;
INSERT INTO tap_metrics SELECT account_id, 0.9, 9 FROM csm.account;
SELECT is(csm.refresh_health('tap_metrics'), 300::bigint, 'a first refresh scores every account');

-- The plan of the history statement of this refresh (stamp now(), this
-- transaction's start) once the history is empty again and its statistics
-- say so, while the scores are there.
TRUNCATE csm.health_history;
ANALYZE csm.health_history;
CREATE FUNCTION pg_temp.history_plan() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    plan text := '';
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || (SELECT s.statement
                                                    FROM csm_internal._health_refresh_statements(NULL, now(), false) s
                                                    WHERE s.step = 'history') LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END $$;
SELECT ok(pg_temp.history_plan() !~ 'Scan on health_history',
          'the history is written without a scan of it (conflicts are found by its primary key)');

-- The day's last refresh wins: one row per account and day, with the last scores.
SELECT is(csm.refresh_health('tap_metrics'), 300::bigint, 'a second refresh');
UPDATE tap_metrics SET nps = 2;
SELECT is(csm.refresh_health('tap_metrics'), 300::bigint, 'a third refresh, with other metrics');
SELECT results_eq($$SELECT h.account_id, h.day, h.score, h.band, h.computed_at FROM csm.health_history h ORDER BY 1$$,
                  $$SELECT s.account_id, (now() AT TIME ZONE 'UTC')::date, s.score, s.band, s.computed_at
                    FROM csm.health_score s ORDER BY 1$$,
                  'the history holds one row per account for the day, the last refresh''s');
SELECT * FROM finish();
ROLLBACK;
