-- csm.refresh_health(): one account with bad metrics is skipped (and keeps
-- its last score) while every other account is scored; a relation without
-- any metric column of the models in use is refused before anything is
-- overwritten.
BEGIN;
SELECT plan(18);

INSERT INTO csm.account (external_id) VALUES ('org_good1'), ('org_bad'), ('org_good2'), ('org_nan');
CREATE TEMP TABLE tap_metrics (account_id bigint, dau_ratio float8, nps float8);
INSERT INTO tap_metrics
SELECT account_id, 0.9, 9 FROM csm.account;

SELECT is(csm.refresh_health('tap_metrics'), 4::bigint, 'four good accounts are scored');

-- org_bad gets an NPS of 11 (outside 0-10), org_nan a NaN DAU ratio.
-- (through a temporary copy of the ids: Citus runs an UPDATE of a temporary
-- table with a subquery over a reference table on a worker, which has no
-- such table)
CREATE TEMP TABLE tap_ids AS SELECT account_id, external_id FROM csm.account;
UPDATE tap_metrics SET nps = 8, dau_ratio = 0.6 WHERE account_id <> (SELECT account_id FROM tap_ids WHERE external_id = 'org_bad');
UPDATE tap_metrics SET nps = 11 WHERE account_id = (SELECT account_id FROM tap_ids WHERE external_id = 'org_bad');
UPDATE tap_metrics SET dau_ratio = 'NaN' WHERE account_id = (SELECT account_id FROM tap_ids WHERE external_id = 'org_nan');

SELECT lives_ok($$SELECT csm.refresh_health('tap_metrics')$$, 'a refresh with two bad accounts does not fail');
SELECT is(csm.refresh_health('tap_metrics'), 2::bigint, 'it scores the two good accounts and skips the bad ones');
SELECT is((SELECT array_agg(a.external_id ORDER BY a.external_id) FROM csm.health_score h
           JOIN csm.account a USING (account_id) WHERE h.metric_values[array_position(h.metrics, 'nps')] = 8),
          ARRAY['org_good1', 'org_good2'], 'the good accounts have their new scores');
SELECT is((SELECT h.metric_values[array_position(h.metrics, 'nps')] FROM csm.health_score h
           JOIN csm.account a USING (account_id) WHERE a.external_id = 'org_bad'),
          9::float8, 'a skipped account keeps its last score');
SELECT is((SELECT count(*)::integer FROM csm.health_history), 4, 'history has one row per account');

-- Numeric metric columns: NaN, infinities and values beyond float8 are
-- skipped too, the others scored.
CREATE TEMP TABLE tap_no_metric_row (account_id bigint, note text);
CREATE TEMP TABLE tap_renewal_row (account_id bigint, days_to_renewal float8);
CREATE TEMP TABLE tap_text_row (account_id bigint, nps text);
CREATE TEMP TABLE tap_metrics_num (account_id bigint, dau_ratio numeric, nps numeric);
INSERT INTO tap_metrics_num
SELECT account_id, CASE external_id WHEN 'org_bad' THEN 'NaN' WHEN 'org_nan' THEN 1e400 ELSE 0.5 END,
       CASE external_id WHEN 'org_good2' THEN '-Infinity'::numeric ELSE 7 END
FROM csm.account;
SELECT is(csm.refresh_health('tap_metrics_num'), 1::bigint, 'numeric NaN, -Infinity and 1e400 are skipped, the rest scored');
SELECT is((SELECT array_agg(p ORDER BY a.external_id) FROM tap_metrics_num m JOIN csm.account a USING (account_id),
                  csm_internal._health_metrics_problem(m, 'default') AS p),
          ARRAY['metric "dau_ratio" is NaN', NULL, 'metric "nps" is infinite', 'metric "dau_ratio" is infinite'],
          '_health_metrics_problem names each problem, and NULL for a good row');
SELECT is(csm_internal._health_metrics_problem(NULL::tap_metrics, 'default'), NULL, '_health_metrics_problem(NULL) is NULL');
SELECT is(csm_internal._health_metrics_problem(ROW(1, 'x')::tap_no_metric_row, 'default'), NULL,
          '_health_metrics_problem of a row without metric columns is NULL');
SELECT is(csm_internal._health_metrics_problem(ROW(1, 1e300)::tap_renewal_row, 'default'), NULL,
          'a huge finite value on an unbounded metric is no problem');
SELECT is(csm_internal._health_metrics_problem(ROW(1, -1e300)::tap_renewal_row, 'default'), NULL,
          'nor a hugely negative one');
SELECT throws_ok($$SELECT csm_internal._health_metrics_problem(ROW(1, 'nine')::tap_text_row, 'default')$$, '42804', NULL,
                 'a text metric column is an error, not a problem of one row');
SELECT throws_ok($$SELECT csm_internal._health_metrics_problem(ROW(1, 9)::tap_renewal_row, 'no_such_model')$$, '42704', NULL,
                 'an unknown model is an error');

-- The WARNING that names each skipped account is in sql/health.sql.

-- A relation without the models' metrics is refused, and nothing is overwritten.
SELECT throws_ok($$SELECT csm.refresh_health('csm.account')$$, '22023', NULL,
                 'csm.account has no metric columns: refused');
SELECT throws_like($$SELECT csm.refresh_health('csm.account')$$, '%metric%',
                   'the error says what is missing');
SELECT is((SELECT count(*)::integer FROM csm.health_score WHERE score IS NULL), 0, 'no score was overwritten with NULL');
CREATE TEMP TABLE tap_no_metrics (account_id bigint, dau bigint, npss float8);
INSERT INTO tap_no_metrics SELECT account_id, 1, 2 FROM csm.account;
SELECT throws_ok($$SELECT csm.refresh_health('tap_no_metrics')$$, '22023', NULL,
                 'a table whose columns are only near misses of metric names is refused');
SELECT * FROM finish();
ROLLBACK;
