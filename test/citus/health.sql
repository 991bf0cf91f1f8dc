-- Health on a Citus cluster (run against the coordinator, csm distributed):
-- every health path works and gives the answers computed here
-- independently from the same rows; the per-account work runs on the
-- workers (EXPLAIN shows tasks on the shards, no rows pulled to the
-- coordinator); the model guards act once however many copies the
-- reference tables have.
--   pg_prove -d csm_citus test/citus/health.sql   (csm_citus: CREATE EXTENSION pgtap, csm; SELECT csm.distribute())
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(42);

-- The per-account rows: 40 accounts (3 churned), usage counters and
-- feature counters over 40 days of one tracked source, NPS answers.
-- (a source row of a relation every node has; the counters below are its
-- rollups, written directly so that the usage path is not under test here)
INSERT INTO csm.usage_source (relation, account_column, time_column, event_column, user_column)
VALUES ('csm_internal.usage_delta', 'account_id', 'day', 'feature', 'user_key');
INSERT INTO csm.account (external_id, seats, renewal_date, created_at, segment, plan, status)
SELECT 'h2t_' || i, 1 + i % 7, (now() AT TIME ZONE 'UTC')::date + (i * 13) % 300, '2026-01-01',
       CASE WHEN i % 3 = 0 THEN 'enterprise' ELSE 'smb' END, 'p' || (i % 4),
       CASE WHEN i % 13 = 0 THEN 'churned' ELSE 'active' END
FROM generate_series(1, 40) i;
CREATE TEMP TABLE h2t_acct ON COMMIT DROP AS
SELECT a.account_id, a.external_id, a.seats, a.renewal_date, a.status, row_number() OVER (ORDER BY a.account_id) AS i
FROM csm.account a WHERE a.external_id LIKE 'h2t\_%';
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT t.account_id, s.source_id, (now() AT TIME ZONE 'UTC')::date - d, (t.i * 7 + d) % 13, (t.i + d) % 4
FROM h2t_acct t, csm.usage_source s, generate_series(0, 40) d
WHERE t.i % 5 <> 0 AND s.relation = 'csm_internal.usage_delta'::regclass AND d % (1 + t.i % 3) = 0;
INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
SELECT t.account_id, s.source_id, (now() AT TIME ZONE 'UTC')::date - d, 'f' || (d % 7), (t.i + d) % 3
FROM h2t_acct t, csm.usage_source s, generate_series(0, 40, 3) d
WHERE t.i % 5 <> 0 AND s.relation = 'csm_internal.usage_delta'::regclass;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT t.account_id, now() - (d || ' days')::interval, (t.i + d) % 11
FROM h2t_acct t, generate_series(1, 3) d WHERE t.i % 2 = 0;

-- The metrics, computed here from those rows (one source, no deltas), on
-- local copies.
CREATE TEMP TABLE h2t_counter ON COMMIT DROP AS SELECT * FROM csm_internal.usage_counter;
CREATE TEMP TABLE h2t_feature ON COMMIT DROP AS SELECT * FROM csm_internal.usage_feature_counter;
CREATE TEMP TABLE h2t_nps ON COMMIT DROP AS SELECT * FROM csm.nps_response;
CREATE TEMP TABLE h2t_expected ON COMMIT DROP AS
WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS d)
SELECT t.account_id,
       coalesce((SELECT sum(c.active_users) FROM h2t_counter c, today
                 WHERE c.account_id = t.account_id AND c.day > today.d - 30 AND c.day <= today.d), 0)
           / 30.0 / t.seats AS dau_ratio,
       (SELECT count(DISTINCT f.feature) FROM h2t_feature f, today
        WHERE f.account_id = t.account_id AND f.day > today.d - 30 AND f.day <= today.d AND f.events > 0)::integer
           AS features_adopted,
       (SELECT min(today.d - c.day) FROM h2t_counter c, today WHERE c.account_id = t.account_id AND c.events > 0)
           AS days_since_last_activity,
       (SELECT coalesce(sum(c.events) FILTER (WHERE c.day > d.d - 14), 0)::float8
               / NULLIF(sum(c.events) FILTER (WHERE c.day > d.d - 28 AND c.day <= d.d - 14), 0)
        FROM h2t_counter c, (SELECT (now() AT TIME ZONE 'UTC')::date AS d) d WHERE c.account_id = t.account_id) AS usage_trend,
       (SELECT n.score FROM h2t_nps n WHERE n.account_id = t.account_id
        ORDER BY n.responded_at DESC LIMIT 1)::integer AS nps,
       (SELECT t.renewal_date - today.d FROM today) AS days_to_renewal
FROM h2t_acct t;

-- account_metrics: every path, the same rows
SELECT is((SELECT count(*) FROM csm.account_metrics m JOIN h2t_acct t USING (account_id)), 40::bigint,
          'account_metrics has a row per account');
SELECT is((SELECT count(*) FROM (SELECT m.account_id, round(m.dau_ratio::numeric, 9), m.features_adopted,
                                        m.days_since_last_activity, round(m.usage_trend::numeric, 9), m.nps, m.days_to_renewal
                                 FROM csm.account_metrics m JOIN h2t_acct t USING (account_id)
                                 EXCEPT
                                 SELECT e.account_id, round(e.dau_ratio::numeric, 9), e.features_adopted,
                                        e.days_since_last_activity, round(e.usage_trend::numeric, 9), e.nps, e.days_to_renewal
                                 FROM h2t_expected e) d), 0::bigint,
          'account_metrics gives the metrics computed from the rows');
-- the bug: in a subquery, Citus saw no distributed table, the SQL function
-- was inlined after that, and the plan read the coordinator's empty tables
SELECT is((SELECT count(*) FROM (SELECT * FROM csm.account_metrics OFFSET 0) m JOIN h2t_acct t USING (account_id)),
          40::bigint, 'account_metrics in a subquery has every row (not 0)');
SELECT is((SELECT count(*) FROM h2t_acct t WHERE t.account_id IN (SELECT m.account_id FROM csm.account_metrics m)),
          40::bigint, 'account_metrics in IN (subquery) has every row');
SELECT is((SELECT count(*) FROM h2t_acct t, LATERAL csm.account_metrics_at((now() AT TIME ZONE 'UTC')::date, t.account_id) m
           JOIN h2t_expected e USING (account_id)
           WHERE m.features_adopted IS NOT DISTINCT FROM e.features_adopted AND m.nps IS NOT DISTINCT FROM e.nps
             AND abs(m.dau_ratio - e.dau_ratio) < 1e-9), 40::bigint,
          'account_metrics_at(day, account) per account (LATERAL) gives the same metrics');

-- refresh_health: scores stored are the scores of the metrics, computed on the coordinator here
INSERT INTO csm.health_model_map VALUES ('segment', 'enterprise', 'five_pillar');
SELECT is(csm.refresh_health(), 37::bigint, 'refresh_health scores the 37 active accounts');
SELECT is(csm.refresh_health(), 37::bigint, 'and again (idempotent within the day)');
CREATE TEMP TABLE h2t_json ON COMMIT DROP AS
SELECT e.account_id, CASE WHEN a.segment = 'enterprise' THEN 'five_pillar' ELSE 'default' END AS model,
       jsonb_strip_nulls(jsonb_build_object('dau_ratio', e.dau_ratio, 'features_adopted', e.features_adopted,
           'days_since_last_activity', e.days_since_last_activity, 'usage_trend', e.usage_trend, 'nps', e.nps,
           'days_to_renewal', e.days_to_renewal)) AS metrics
FROM h2t_expected e JOIN csm.account a USING (account_id) WHERE a.status = 'active';
-- metrics the model has no component of are left out (lenient)
SELECT is((SELECT count(*) FROM h2t_json j JOIN csm.health_score h USING (account_id)
           WHERE h.model = j.model
             AND abs(h.score - csm.csm_health_score(j.metrics, j.model, lenient => true)) < 1e-9), 37::bigint,
          'every stored score is the score of its metrics under its mapped model');
SELECT is((SELECT count(*) FROM csm.health_score h JOIN h2t_acct t USING (account_id) WHERE t.status <> 'active'),
          0::bigint, 'churned accounts are not scored (no leftover rows)');
SELECT is((SELECT count(*) FROM csm.health_history h JOIN h2t_acct t USING (account_id)
           WHERE h.day = (now() AT TIME ZONE 'UTC')::date), 37::bigint, 'one history row per account for today');
SELECT is((SELECT count(*) FROM csm.health_history h JOIN csm.health_score s USING (account_id)
           WHERE h.score IS NOT DISTINCT FROM s.score AND h.band = s.band AND h.computed_at = s.computed_at),
          37::bigint, 'the history holds the scores just written');
SELECT is((SELECT count(DISTINCT h.computed_at) FROM csm.health_score h JOIN h2t_acct t USING (account_id)), 1::bigint,
          'every score has the same computed_at (the refresh''s instant, not each worker''s now())');

-- live scores, explanations and batch agree
CREATE TEMP TABLE h2t_live ON COMMIT DROP AS
SELECT t.account_id, csm.csm_health_score(t.external_id) AS score FROM h2t_acct t WHERE t.status = 'active';
CREATE TEMP TABLE h2t_stored ON COMMIT DROP AS SELECT h.account_id, h.score FROM csm.health_score h;
SELECT is((SELECT count(*) FROM h2t_live l JOIN h2t_stored h USING (account_id) WHERE abs(l.score - h.score) < 1e-9),
          37::bigint, 'csm_health_score(external_id), live, equals the refreshed score');
SELECT is((SELECT count(*) FROM csm.account a WHERE a.external_id LIKE 'h2t\_%' AND a.status = 'active'
           AND csm.csm_health_score(a.external_id) IS NOT NULL), 37::bigint,
          'csm_health_score(external_id) per row over csm.account (a reference table)');
SELECT throws_ok($$SELECT count(csm.csm_health_score(a.external_id)) FROM csm.health_score h JOIN csm.account a USING (account_id)$$,
                 '55000', NULL, 'per row inside a query Citus runs on the workers: 55000, not a nested-query failure');
SELECT is((SELECT count(*) FROM (SELECT metric, value, zone, score, weight FROM csm.explain_health('h2t_4')
                                 EXCEPT
                                 SELECT c.metric, c.value, c.zone, c.score, c.weight
                                 FROM csm.health_score_component c JOIN h2t_acct t USING (account_id)
                                 WHERE t.external_id = 'h2t_4') d), 0::bigint,
          'explain_health is the stored component detail');
SELECT is((SELECT count(*) FROM csm.explain_health('h2t_3')), 14::bigint, 'explain_health of a five_pillar account: 14 components');

-- overrides and the views
SELECT ok(csm.override_health('h2t_5', 95, 'renewal signed early', now() + interval '7 days') > 0, 'override_health');
SELECT is((SELECT ah.score FROM csm.account_health ah WHERE ah.external_id = 'h2t_5'), 95::float8,
          'account_health shows the override');
SELECT is((SELECT ah.computed_score FROM csm.account_health ah WHERE ah.external_id = 'h2t_5'),
          (SELECT h.score FROM csm.health_score h JOIN h2t_acct t USING (account_id) WHERE t.i = 5),
          'with the computed score beside it');
SELECT ok(csm.override_health('h2t_26', 20, 'exec sponsor left', NULL) > 0, 'override of a churned, never scored account');
SELECT is((SELECT format('%s %s %s', ah.score, ah.band, ah.computed_score) FROM csm.account_health ah WHERE ah.external_id = 'h2t_26'),
          '20 red ', 'account_health shows it too');
SELECT ok(csm.clear_health_override('h2t_26'), 'clear_health_override');
SELECT is((SELECT count(*) FROM csm.account_health ah JOIN h2t_acct t USING (account_id)), 40::bigint,
          'account_health: one row per account');
CREATE TEMP TABLE h2t_view ON COMMIT DROP AS SELECT * FROM csm.account_health;
CREATE TEMP TABLE h2t_override ON COMMIT DROP AS SELECT * FROM csm.health_override;
SELECT is((SELECT count(*) FROM h2t_view ah JOIN h2t_acct t USING (account_id)
           WHERE ah.score IS NOT DISTINCT FROM coalesce((SELECT o.score FROM h2t_override o
                                                         WHERE o.account_id = t.account_id AND o.cleared_at IS NULL),
                                                        (SELECT h.score FROM h2t_stored h WHERE h.account_id = t.account_id))),
          40::bigint, 'account_health: the effective score of every account');
UPDATE csm.health_history SET day = day - 7, score = score - 10 WHERE account_id = (SELECT account_id FROM h2t_acct WHERE i = 14);
SELECT is(csm.refresh_health(), 37::bigint, 'refresh_health after the history moved back');
SELECT is((SELECT round(ah.change_7d::numeric, 6) FROM csm.account_health ah WHERE ah.external_id = 'h2t_14'), 10.000000::numeric,
          'change_7d from the history of 7 days before');
SELECT is((SELECT count(*) FROM csm.health_trend ht JOIN h2t_acct t USING (account_id)), 37::bigint,
          'health_trend: the accounts with history');
SELECT is((SELECT cardinality(ht.scores) FROM csm.health_trend ht JOIN h2t_acct t USING (account_id) WHERE t.i = 14), 2,
          'health_trend: both days of the moved account');

-- models on reference tables: the guards raise on every copy, a bump happens once
SELECT throws_ok($$UPDATE csm.health_component SET weight = 50 WHERE model = 'default' AND metric = 'nps'$$, '42501',
                 NULL, 'a built-in model is read-only on the cluster');
SELECT is(csm.copy_health_model('default', 'h2t_model'), 'h2t_model', 'copy_health_model on the cluster');
-- as if it had been made by an earlier transaction (this one made it: no bump)
UPDATE csm.health_model SET bumped_by = '1' WHERE name = 'h2t_model';
UPDATE csm.health_component SET weight = 40 WHERE model = 'h2t_model' AND metric = 'dau_ratio';
UPDATE csm.health_component SET green = 0.7 WHERE model = 'h2t_model' AND metric = 'dau_ratio';
UPDATE csm.health_model SET description = 'edited' WHERE name = 'h2t_model';
SELECT is((SELECT version FROM csm.health_model WHERE name = 'h2t_model'), 2,
          'edits in one transaction bump the version once');
SELECT is((SELECT count(DISTINCT r.result) FROM run_command_on_placements('csm.health_model',
               $$SELECT string_agg(name || ' ' || version || ' ' || updated_at || ' ' || bumped_by, ',' ORDER BY name) FROM %s$$) r),
          1::bigint, 'every copy of health_model is the same (version, updated_at, bumped_by)');
SELECT is((SELECT count(DISTINCT r.result) FROM run_command_on_placements('csm.health_component',
               $$SELECT md5(string_agg(c::text, ',' ORDER BY model, metric)) FROM %s c$$) r),
          1::bigint, 'every copy of health_component is the same');

-- a metrics relation of the caller's, distributed by account_id, one bad row
-- skipped (last: a reference table cannot be written after a distributed
-- table is created in the same transaction)
CREATE TABLE h2t_metrics (account_id bigint, nps integer, dau_ratio float8);
SELECT create_distributed_table('h2t_metrics', 'account_id', colocate_with => 'csm.health_score');
INSERT INTO h2t_metrics SELECT t.account_id, t.i % 11, 0.5 FROM h2t_acct t WHERE t.i <= 10;
UPDATE h2t_metrics SET nps = 11 WHERE account_id = (SELECT account_id FROM h2t_acct WHERE i = 2);
SET LOCAL client_min_messages = error;
SELECT is(csm.refresh_health('h2t_metrics'), 9::bigint,
          'refresh_health(relation): the accounts of it but the bad one (10 active, 1 bad)');
SET LOCAL client_min_messages = warning;
SELECT is((SELECT count(*) FROM csm.health_score h JOIN h2t_metrics m USING (account_id)
           WHERE m.nps <= 10 AND abs(h.score - csm.csm_health_score(jsonb_build_object('nps', m.nps, 'dau_ratio', m.dau_ratio),
                                                                     h.model)) < 1e-9), 9::bigint,
          'their scores are the scores of those metrics');
SELECT ok((SELECT abs(h.score - csm.csm_health_score(j.metrics, j.model, lenient => true)) < 1e-9
           FROM csm.health_score h JOIN h2t_json j USING (account_id) JOIN h2t_acct t USING (account_id) WHERE t.i = 2),
          'the bad account keeps its earlier score');

-- the work runs on the workers: EXPLAIN of refresh_health's statements
CREATE FUNCTION pg_temp.h2t_plan(metrics regclass, step text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    q text;
    p text := '';
    line text;
BEGIN
    SELECT s.statement INTO q FROM csm_internal._health_refresh_statements(metrics, now(), true) s WHERE s.step = h2t_plan.step;
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q USING (now() AT TIME ZONE 'UTC')::date, NULL::bigint, true, true, false LOOP
        p := p || line || E'\n';
    END LOOP;
    RETURN p;
END $$;
CREATE FUNCTION pg_temp.h2t_pushed(p text, tasks integer) RETURNS boolean
LANGUAGE sql AS $$
    SELECT p ~ '^Custom Scan \(Citus Adaptive\)' AND p ~ ('Task Count: ' || tasks)
           AND p !~ 'Subplan|intermediate|repartition|pull to coordinator'
$$;
SELECT ok(pg_temp.h2t_pushed(pg_temp.h2t_plan('h2t_metrics', 'score'), 32)
          AND pg_temp.h2t_plan('h2t_metrics', 'score') ~ 'Update on health_score_\d+'
          AND pg_temp.h2t_plan('h2t_metrics', 'score') ~ 'Function Scan on csm_health_evaluate_row',
          'refresh_health(relation): the scoring UPDATE runs on the shards, scoring there');
SELECT ok(pg_temp.h2t_pushed(pg_temp.h2t_plan(NULL, 'history'), 32)
          AND pg_temp.h2t_plan(NULL, 'history') ~ 'Insert on health_history_\d+',
          'refresh_health: the history upsert runs on the shards');
SELECT ok(pg_temp.h2t_pushed(pg_temp.h2t_plan(NULL, 'unscored'), 32), 'refresh_health: the cleanup runs on the shards');
SELECT ok(pg_temp.h2t_plan(NULL, 'placeholders') ~ 'INSERT/SELECT method: repartition'
          AND pg_temp.h2t_plan(NULL, 'placeholders') ~ 'Task Count: 32'
          AND pg_temp.h2t_plan(NULL, 'placeholders') !~ 'usage|nps|pull to coordinator',
          'refresh_health: new accounts'' rows are made on the workers, from ids only (moved worker to worker)');
SELECT ok(pg_temp.h2t_pushed(pg_temp.h2t_plan(NULL, 'score'), 32),
          'refresh_health: the scoring UPDATE from account_metrics runs on the shards, metrics and all');

SELECT * FROM finish();
ROLLBACK;
