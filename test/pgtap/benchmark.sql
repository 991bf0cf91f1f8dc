-- citus-differs: the benchmark tables are kept on a single node only (on Citus the segment is aggregated at the call, as checked by test/citus's contract tests), and the roles made in the test's transaction do not exist on the workers.
-- Segment benchmarks kept by the refreshes (src/sql/30_health/46_benchmark.sql):
-- assess_health's and analyze_churn_risk's comparison with the segment
-- read csm.health_benchmark and csm.churn_benchmark, and answer what the
-- segment's aggregate answers, for every account (ties included); they are
-- as of the last refresh; a CSM under row security still gets the
-- aggregate of their own book.  Everything is rolled back.
BEGIN;
SELECT plan(12);
SET LOCAL timezone = 'UTC';

-- 300 accounts in three segments, with usage that varies, so that their
-- scores do.
CREATE TABLE public.tap_bm_events (org text, at timestamptz, who text);
SELECT csm.track_usage('public.tap_bm_events', 'org', 'at', user_column => 'who') IS NOT NULL AS tracked;
INSERT INTO csm.account (external_id, segment, arr, seats, started_at, renewal_date)
SELECT 'bm_' || g, (ARRAY['smb', 'mid_market', 'enterprise'])[1 + g % 3],
       1000 + g * 37 % 5000, 5 + g % 20, now() - interval '400 days', current_date + g % 365
FROM generate_series(1, 300) g;
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT a.account_id, (SELECT source_id FROM csm.usage_source), current_date - d,
       1 + (a.account_id * 7 + d * 13) % 200, 1 + (a.account_id * 3 + d) % 7
FROM csm.account a CROSS JOIN generate_series(0, 29) d
WHERE a.account_id % 11 <> 0;
SELECT is(csm.refresh_health(), 300::bigint, 'refresh_health scores the 300 accounts');
SELECT is(csm.refresh_churn(), 300::bigint, 'refresh_churn scores them');

SELECT is((SELECT array_agg(DISTINCT segment ORDER BY segment) FROM csm.health_benchmark), '{enterprise,mid_market,smb}',
          'refresh_health keeps the health benchmark of each segment');
SELECT is((SELECT sum(cardinality(scores)) FROM csm.health_benchmark), 300::bigint,
          '... with every scored account of a segment in one bucket');
SELECT is((SELECT count(*) FROM csm.churn_benchmark), 3::bigint, 'refresh_churn keeps the churn benchmark of each segment');

-- The answers from the kept tables, then from the segment's aggregate (the
-- kept rows deleted: the functions aggregate the segment then).
CREATE FUNCTION pg_temp.answers() RETURNS TABLE (external_id text, health jsonb, churn jsonb)
LANGUAGE sql AS $$
    SELECT a.external_id,
           csm.assess_health(a.external_id, daterange(current_date - 30, current_date, '[]')) -> 'benchmark',
           csm.analyze_churn_risk(a.external_id) #> '{comparison,segment}'
    FROM csm.account a WHERE a.segment IS NOT NULL
$$;
CREATE FUNCTION pg_temp.same_as_aggregate() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    differ text;
BEGIN
    CREATE TEMP TABLE kept ON COMMIT DROP AS SELECT * FROM pg_temp.answers();
    DELETE FROM csm.health_benchmark;
    DELETE FROM csm.churn_benchmark;
    SELECT string_agg(k.external_id, ' ' ORDER BY k.external_id) INTO differ
    FROM kept k JOIN pg_temp.answers() l USING (external_id)
    WHERE k.health IS DISTINCT FROM l.health OR k.churn IS DISTINCT FROM l.churn;
    DROP TABLE kept;
    PERFORM csm_internal._keep_health_benchmark(), csm_internal._keep_churn_benchmark();
    RETURN coalesce(differ, 'none');
END $$;
SELECT is(pg_temp.same_as_aggregate(), 'none',
          'every account''s segment benchmarks (assess_health, analyze_churn_risk) are the aggregate''s');

-- Ties in each segment: a third of the scores equal to others' (share_below counts only
-- the scores strictly below), and one exactly on a bucket's lower bound.
UPDATE csm.health_score h SET score = (SELECT o.score FROM csm.health_score o WHERE o.account_id = h.account_id + 3)
WHERE h.account_id % 3 = 0 AND h.account_id < 300;
UPDATE csm.health_score SET score = 50 WHERE account_id IN (10, 13, 16, 11);
SELECT csm.override_health('bm_20', 50, 'tap', NULL) IS NOT NULL AS overridden;
SELECT lives_ok('SELECT csm_internal._keep_health_benchmark()', 'the health benchmark is kept again over the new scores');
SELECT is(pg_temp.same_as_aggregate(), 'none', '... and still answers as the aggregate, with ties and an override');
SELECT is(csm.assess_health('bm_20', daterange(current_date - 30, current_date, '[]')) #>> '{benchmark,share_below}',
          (SELECT round(avg((h.score < 50)::integer), 4)::text FROM csm.health_score h
           JOIN csm.account a USING (account_id) WHERE a.segment = 'enterprise'),
          'share_below of an overridden account counts the scores below its effective score');

-- As of the last refresh: an account that leaves its segment counts in it
-- until the next one.
UPDATE csm.account SET segment = 'smb' WHERE external_id = 'bm_1';
SELECT is(csm.assess_health('bm_4', daterange(current_date - 30, current_date, '[]')) #>> '{benchmark,accounts}', '100',
          'the benchmark is as of the last refresh_health');

-- Row security: a CSM reads the aggregate of their book, not the kept one.
CREATE ROLE tap_bm_csm;
SELECT csm.grant_access('tap_bm_csm', 'read');
INSERT INTO csm.team_member (handle, roles, teams, login_role) VALUES ('tap_bm', ARRAY['csm'], ARRAY['east'], 'tap_bm_csm');
SELECT csm.csm_assign('bm_4', 'tap_bm'), csm.csm_assign('bm_7', 'tap_bm');
SELECT count(*) > 0 AS guarded FROM csm.enable_row_security();
SET LOCAL ROLE tap_bm_csm;
SELECT is(csm.assess_health('bm_4', daterange(current_date - 30, current_date, '[]')) #>> '{benchmark,accounts}', '2',
          'a CSM under row security: the benchmark of the two accounts of their book');
SELECT is(csm.analyze_churn_risk('bm_4') #>> '{comparison,segment,accounts}', '2', '... and the churn comparison too');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
