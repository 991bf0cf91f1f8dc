-- citus-differs: it tracks a local (undistributed) event table, which csm.track_usage() refuses on Citus with 0A000 by design, and it checks the plans of the per-account view form, which csm.distribute() replaces with the set-based form Citus runs. test/citus/history.sql checks those views' answers on the cluster.
-- Per-account reads are O(1) in portfolio size (issue 15, section 3): a read
-- of csm.account_metrics, csm.usage_daily or csm.usage_feature_daily
-- filtered by external_id scans only that account's rows of each per-account
-- table (every scan of them is keyed by the account row), where the
-- set-based form aggregated every account first; and the answers are those
-- of the set-based form.
BEGIN;
SELECT plan(10);

CREATE SCHEMA reads_t;
CREATE TABLE reads_t.events (org text, at timestamptz, who text, what text);
SELECT csm.track_usage('reads_t.events', 'org', 'at', event_column => 'what', user_column => 'who') IS NOT NULL AS tracked \gset
INSERT INTO reads_t.events
SELECT 'reads_' || (g % 5), now() - (g % 20) * interval '1 day', 'u' || (g % 7), 'f' || (g % 3)
FROM generate_series(1, 400) g;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT a.account_id, now() - interval '3 days', 8 FROM csm.account a WHERE a.external_id LIKE 'reads\_%';
ANALYZE csm_internal.usage_counter;

-- Every scan of rel in the plan of query is keyed by the account row:
-- its next line is an index condition or filter on "= a.account_id".
CREATE FUNCTION pg_temp.plan_lines(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || query;
END $$;
CREATE FUNCTION pg_temp.unkeyed_scans(query text, rel text) RETURNS integer LANGUAGE sql AS $$
    WITH p AS (SELECT row_number() OVER () AS n, l FROM pg_temp.plan_lines(query) l),
         scans AS (SELECT p.n FROM p WHERE p.l ~ ('Scan.* on ' || rel || '\M'))
    SELECT count(*)::integer FROM scans s
    WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.n = s.n + 1 AND p.l ~ '(Cond|Filter): .*= a\.account_id');
$$;
CREATE FUNCTION pg_temp.scans(query text, rel text) RETURNS integer LANGUAGE sql AS $$
    SELECT count(*)::integer FROM pg_temp.plan_lines(query) l WHERE l ~ ('Scan.* on ' || rel || '\M');
$$;

SELECT ok(pg_temp.scans($$SELECT * FROM csm.account_metrics WHERE external_id = 'reads_1'$$, 'usage_counter') > 0
          AND pg_temp.unkeyed_scans($$SELECT * FROM csm.account_metrics WHERE external_id = 'reads_1'$$, 'usage_counter') = 0,
          'account_metrics by external_id: every usage_counter scan is keyed by the account');
SELECT is(pg_temp.unkeyed_scans($$SELECT * FROM csm.account_metrics WHERE external_id = 'reads_1'$$, t), 0,
          'account_metrics by external_id: every ' || t || ' scan is keyed by the account')
FROM unnest(ARRAY['usage_feature_counter', 'nps_response', 'conversation']) t;
SELECT ok(pg_temp.scans($$SELECT * FROM csm.usage_daily WHERE external_id = 'reads_1'$$, 'usage_counter') > 0
          AND pg_temp.unkeyed_scans($$SELECT * FROM csm.usage_daily WHERE external_id = 'reads_1'$$, 'usage_counter') = 0,
          'usage_daily by external_id: every usage_counter scan is keyed by the account');
SELECT ok(pg_temp.scans($$SELECT * FROM csm.usage_feature_daily WHERE external_id = 'reads_1'$$, 'usage_feature_counter') > 0
          AND pg_temp.unkeyed_scans($$SELECT * FROM csm.usage_feature_daily WHERE external_id = 'reads_1'$$, 'usage_feature_counter') = 0,
          'usage_feature_daily by external_id: every usage_feature_counter scan is keyed by the account');

-- The same answers as the set-based form.
SELECT set_eq($$SELECT * FROM csm.account_metrics$$,
              $$SELECT * FROM csm.account_metrics_at((now() AT TIME ZONE 'UTC')::date)$$,
              'account_metrics: the answers of account_metrics_at, every account');
SELECT set_eq($$SELECT * FROM csm.account_metrics WHERE external_id = 'reads_1'$$,
              $$SELECT * FROM csm.account_metrics_at((now() AT TIME ZONE 'UTC')::date) WHERE external_id = 'reads_1'$$,
              'account_metrics by external_id: the answer of account_metrics_at');
-- account_metrics_at of one account today reads the per-account view (what
-- csm_health_score(external_id) and the other per-account functions call)
SELECT set_eq($$SELECT m.* FROM csm.account a, csm.account_metrics_at((now() AT TIME ZONE 'UTC')::date, a.account_id) m$$,
              $$SELECT * FROM csm.account_metrics_at((now() AT TIME ZONE 'UTC')::date)$$,
              'account_metrics_at of each account today: the set-based answers, every account');
SELECT set_eq($$SELECT external_id, account_id, source, day, events, active_users FROM csm.usage_daily$$,
              $$SELECT a.external_id, u.account_id, coalesce(s.source_name, s.relation::text), u.day, u.events,
                       CASE WHEN s.user_column IS NOT NULL THEN u.active_users END
                FROM csm_internal._usage_day u JOIN csm.account a USING (account_id) JOIN csm.usage_source s USING (source_id)$$,
              'usage_daily: the rows of the set-based form');

SELECT * FROM finish();
ROLLBACK;
