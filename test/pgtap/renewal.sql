-- citus-differs: its assertions read one account's rows, and Citus sends such a query, pgTAP's call included, to that account's worker, where pgTAP has no plan; and it creates roles in its transaction and SET ROLEs to them, which the workers cannot see. test/citus/renewal.sql runs the renewal paths on the cluster.
-- Renewals (issue 13, section 3): opened 90 days out, staged 90/60/30 and
-- execution, reminders once per window, closed with the outcome from final
-- against target, renewal_date rolled forward; the pipeline's expected
-- value; the seed's renewal metrics; every documented SQLSTATE.
BEGIN;
SELECT plan(96);

-- Today as the functions see it (UTC).
CREATE FUNCTION pg_temp.today() RETURNS date LANGUAGE sql STABLE RETURN (now() AT TIME ZONE 'UTC')::date;

INSERT INTO csm.account (account_id, external_id, arr, renewal_date, segment, status) VALUES
    (9001, 'ren_91', 1000, pg_temp.today() + 91, 'smb', 'active'),
    (9002, 'ren_90', 2000, pg_temp.today() + 90, 'smb', 'active'),
    (9003, 'ren_61', 3000, pg_temp.today() + 61, 'smb', 'active'),
    (9004, 'ren_60', 4000, pg_temp.today() + 60, 'enterprise', 'active'),
    (9005, 'ren_30', 5000, pg_temp.today() + 30, 'enterprise', 'active'),
    (9006, 'ren_1', 6000, pg_temp.today() + 1, 'smb', 'active'),
    (9007, 'ren_0', 7000, pg_temp.today(), 'smb', 'active'),
    (9008, 'ren_late', 8000, pg_temp.today() - 5, 'smb', 'active'),  -- started a year ago (below)
    (9009, 'ren_none', 9000, NULL, 'smb', 'active'),
    (9010, 'ren_gone', 10000, pg_temp.today() + 10, 'smb', 'churned'),
    (9011, 'ren_150', 11000, pg_temp.today() + 150, 'mid_market', 'active'),
    (9012, 'ren_200', 12000, pg_temp.today() + 200, 'smb', 'active');
UPDATE csm.account SET started_at = now() - interval '1 year' WHERE account_id = 9008;
INSERT INTO csm.team_member (handle, roles) VALUES ('ren_alice', '{csm}'), ('ren_bob', '{csm}');
DO $$ BEGIN PERFORM csm.csm_assign('ren_60', 'ren_alice'); END $$;

-- 1. Opening at 90 days out, with the stage of the days left.
SELECT is((SELECT (opened, closed, reminded) FROM csm.refresh_renewals()), (7::bigint, 0::bigint, 5::bigint),
          'the first refresh opens 7 renewals (90 days out or less, or overdue) and raises 5 reminders');
SELECT is((SELECT array_agg(a.external_id || ':' || r.stage ORDER BY a.account_id)
           FROM csm.renewal r JOIN csm.account a USING (account_id)),
          ARRAY['ren_90:90_days_out', 'ren_61:90_days_out', 'ren_60:60_days_out', 'ren_30:30_days_out',
                'ren_1:30_days_out', 'ren_0:execution', 'ren_late:execution'],
          'stages: 90-61 days 90_days_out, 60-31 60_days_out, 30-1 30_days_out, due or overdue execution');
SELECT is_empty($$SELECT 1 FROM csm.renewal WHERE account_id IN (9001, 9009, 9010, 9011, 9012)$$,
                'none at 91 days or more, without a renewal_date, or for a churned account');
SELECT is((SELECT target_arr FROM csm.renewal WHERE account_id = 9004), 4000::numeric, 'the target is the ARR at opening');
SELECT is((SELECT owner FROM csm.renewal WHERE account_id = 9004), 'ren_alice', 'the owner is the primary CSM');
SELECT ok((SELECT opened_at = now() AND closed_at IS NULL AND outcome IS NULL AND final_arr IS NULL
           FROM csm.renewal WHERE account_id = 9002), 'an open renewal: opened now, no close, no outcome');
SELECT is((SELECT array_agg(a.external_id || ':' || rr.days_out ORDER BY a.account_id)
           FROM csm.renewal_reminder rr JOIN csm.account a USING (account_id)),
          ARRAY['ren_90:90', 'ren_61:90', 'ren_60:60', 'ren_30:30', 'ren_1:30'],
          'one reminder per renewal, of the window it is in; none in execution');
SELECT is((SELECT owner FROM csm.renewal_reminder WHERE account_id = 9004), 'ren_alice', 'the reminder names the owner');

-- 2. Idempotent.
SELECT is((SELECT (opened, updated, closed, reminded) FROM csm.refresh_renewals()),
          (0::bigint, 0::bigint, 0::bigint, 0::bigint), 'a second refresh changes nothing');
SELECT is((SELECT count(*) FROM csm.renewal), 7::bigint, 'still 7 renewals');
SELECT is(current_setting('enable_nestloop'), 'on', 'the refresh restores enable_nestloop, which it turns off for one statement');
SELECT is((SELECT count(*) FROM csm.renewal_reminder), 5::bigint, 'still 5 reminders');

-- 3. Advancing: the date comes closer, the stage moves and the next
-- window's reminder is raised; the date going back never moves it back.
UPDATE csm.account SET renewal_date = pg_temp.today() + 45 WHERE account_id = 9002;
SELECT is((SELECT (opened, updated, reminded) FROM csm.refresh_renewals()), (0::bigint, 1::bigint, 1::bigint),
          'the renewal follows its account''s date');
SELECT is((SELECT (renewal_date, stage) FROM csm.renewal WHERE account_id = 9002),
          (pg_temp.today() + 45, '60_days_out'::csm.renewal_stage), 'renewal_date and stage moved');
SELECT is((SELECT array_agg(days_out ORDER BY days_out DESC) FROM csm.renewal_reminder WHERE account_id = 9002),
          ARRAY[90, 60], 'the 60-day reminder is raised');
UPDATE csm.account SET renewal_date = pg_temp.today() + 85 WHERE account_id = 9002;
SELECT is((SELECT reminded FROM csm.refresh_renewals()), 0::bigint, 'no reminder when the date moves back');
SELECT is((SELECT stage FROM csm.renewal WHERE account_id = 9002), '60_days_out'::csm.renewal_stage,
          'and the stage never moves back');
-- A renewal that jumps from 90 to 30 days out gets the 30-day reminder only.
UPDATE csm.account SET renewal_date = pg_temp.today() + 20 WHERE account_id = 9003;
SELECT is((SELECT reminded FROM csm.refresh_renewals()), 1::bigint, 'a skipped window is not reminded afterwards');
SELECT is((SELECT array_agg(days_out ORDER BY days_out DESC) FROM csm.renewal_reminder WHERE account_id = 9003),
          ARRAY[90, 30], 'the 90 and the 30-day reminders');
-- Owner changes follow while open.
DO $$ BEGIN PERFORM csm.csm_assign('ren_60', 'ren_bob'); END $$;
SELECT is((SELECT updated FROM csm.refresh_renewals()), 1::bigint, 'a new primary CSM updates the renewal');
SELECT is((SELECT owner FROM csm.renewal WHERE account_id = 9004), 'ren_bob', 'owner follows the primary CSM');

-- 4. The forecast: ARR x (1 - churn probability), with the model.
SELECT ok(csm.refresh_churn() > 0, 'churn scored');
SELECT ok((SELECT updated FROM csm.refresh_renewals()) >= 7, 'the refresh takes the churn scores');
SELECT is((SELECT forecast_arr FROM csm.renewal WHERE account_id = 9005),
          (SELECT round(5000 * (1 - c.probability::numeric), 2) FROM csm.churn_score c WHERE c.account_id = 9005),
          'forecast_arr = ARR x (1 - churn probability)');
SELECT is((SELECT (churn_probability, forecast_model) FROM csm.renewal WHERE account_id = 9005),
          (SELECT (c.probability, c.model) FROM csm.churn_score c WHERE c.account_id = 9005),
          'with the probability and the model it used');

-- 5. The pipeline.
SELECT is((SELECT array_agg(external_id || ':' || horizon_days || ':' || stage ORDER BY renewal_date, external_id)
           FROM csm.renewal_pipeline WHERE external_id LIKE 'ren\_%'),
          ARRAY['ren_late:90:execution', 'ren_0:90:execution', 'ren_1:90:30_days_out', 'ren_61:90:30_days_out',
                'ren_30:90:30_days_out', 'ren_60:90:60_days_out', 'ren_90:90:60_days_out', 'ren_91:180:not_open',
                'ren_150:180:not_open'],
          'pipeline: due within 180 days (overdue too), horizon 90 or 180, not_open until opened; no churned, none beyond 180');
SELECT is((SELECT (owner, target_arr, forecast_arr, churn_model) FROM csm.renewal_pipeline WHERE external_id = 'ren_60'),
          (SELECT ('ren_bob'::text, 4000::numeric, round(4000 * (1 - c.probability::numeric), 2), c.model)
           FROM csm.churn_score c WHERE c.account_id = 9004),
          'pipeline: owner, target, forecast ARR x (1 - p) and the model');
SELECT is((SELECT churn_band FROM csm.renewal_pipeline WHERE external_id = 'ren_60'),
          (SELECT band FROM csm.churn_score WHERE account_id = 9004), 'pipeline: churn band');
SELECT ok((SELECT churn_model_version IS NULL FROM csm.renewal_pipeline WHERE external_id = 'ren_60'
           AND churn_model = 'prior'), 'the prior model has no version');
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
VALUES (9004, 'default', 1, 35, 'red', 1, '{}', '{}', '{}', '{}', now());
SELECT is((SELECT (health_score, health_band::text) FROM csm.renewal_pipeline WHERE external_id = 'ren_60'),
          (35::float8, 'red'::text), 'pipeline: health score and band');
DO $$ BEGIN PERFORM csm.override_health('ren_60', 90, 'exec sponsor call', NULL); END $$;
SELECT is((SELECT (health_score, health_band::text) FROM csm.renewal_pipeline WHERE external_id = 'ren_60'),
          (90::float8, 'green'::text), 'pipeline: an override in effect wins');
-- a trained model gives its version
INSERT INTO csm.churn_model (name, kind, model, active, trained_at)
VALUES ('ren_model', 'trained', csm.churn_prior_model(), false, '2026-01-02 03:04:05+00');
UPDATE csm.churn_score SET model = 'ren_model' WHERE account_id = 9004;
SELECT is((SELECT churn_model_version FROM csm.renewal_pipeline WHERE external_id = 'ren_60'),
          '2026-01-02 03:04:05+00'::timestamptz, 'a trained model''s version is its trained_at');

-- 6. Closing.
SELECT is((SELECT (outcome, final_arr, stage::text, closed_via) FROM csm.close_renewal('ren_60', 4500)),
          ('upsell'::text, 4500::numeric, 'closed'::text, 'close_renewal'::text), 'above target: upsell');
SELECT is((SELECT (arr, renewal_date) FROM csm.account WHERE account_id = 9004),
          (4500::numeric, (pg_temp.today() + 60 + interval '1 year')::date), 'the account''s ARR is the final ARR, its renewal date a year on');
SELECT is((SELECT closed_by FROM csm.renewal WHERE account_id = 9004), current_user, 'closed_by names the role');
SELECT is((SELECT outcome FROM csm.close_renewal('ren_30', 4000, '2 years')), 'downsell', 'below target: downsell');
SELECT is((SELECT renewal_date FROM csm.account WHERE account_id = 9005), (pg_temp.today() + 30 + interval '2 years')::date,
          'term rolls the date forward by the contract''s length');
SELECT is((SELECT outcome FROM csm.close_renewal('ren_1', 6000)), 'renewed', 'at target: renewed');
SELECT is((SELECT outcome FROM csm.close_renewal('ren_0', 0)), 'churned', 'final 0: churned');
SELECT is((SELECT (status, arr) FROM csm.account WHERE account_id = 9007), ('churned'::text, 7000::numeric),
          'a churned renewal marks the account churned');
SELECT is((SELECT renewal_date FROM csm.account WHERE account_id = 9007), pg_temp.today(),
          'and does not roll its date');
-- Closed before the refresh opened it: opened and closed at once.
SELECT is((SELECT (outcome, opened_at = closed_at) FROM csm.close_renewal('ren_150', 11000)),
          ('renewed'::text, true), 'a renewal signed early is opened and closed');
SELECT is((SELECT (opened, closed) FROM csm.refresh_renewals()), (0::bigint, 0::bigint),
          'closed renewals are not reopened: the dates moved a term on');
SELECT is((SELECT count(*) FROM csm.renewal WHERE closed_at IS NULL), 3::bigint, 'three still open');
SELECT is((SELECT count(*) FROM csm.renewal_pipeline WHERE external_id IN ('ren_60', 'ren_30', 'ren_1', 'ren_0', 'ren_150')),
          0::bigint, 'closed renewals leave the pipeline');
SELECT is((SELECT renewal_cycle_time FROM csm.renewal_metrics(pg_temp.today(), pg_temp.today())), 0.0,
          'cycle time over renewals opened and closed today: 0 days');

-- csm.arr_change records each closed renewal's ARR movement (its trigger
-- reads the reason, source and date close_renewal sets).
SELECT is((SELECT array_agg((account_id, effective_date, arr_before, arr_after, kind)::text ORDER BY account_id)
           FROM csm.arr_change WHERE source = 'renewal'),
          ARRAY[(9004, pg_temp.today(), 4000, 4500, 'expansion')::text, (9005, pg_temp.today(), 5000, 4000, 'contraction')::text,
                (9007, pg_temp.today(), 7000, 0, 'churn')::text],
          'arr_change: the upsell, the downsell and the churn, dated the day they closed (before their renewal dates); none for a flat renewal');
SELECT is((SELECT reason FROM csm.arr_change WHERE account_id = 9004 AND source = 'renewal'),
          format('renewal upsell: 4000 -> 4500 (renewal %s of %s)',
                 (SELECT renewal_id FROM csm.renewal WHERE account_id = 9004), pg_temp.today() + 60),
          'arr_change: the reason names the outcome and the renewal');
UPDATE csm.account SET arr = 4600 WHERE account_id = 9004;
SELECT is((SELECT (reason, source) FROM csm.arr_change WHERE account_id = 9004 AND arr_after = 4600),
          ('manual'::text, 'account'::text), 'the settings are restored: a later change in the transaction is manual');

-- 7. Closed by the refresh: a churned account, a renewal date moved on.
UPDATE csm.account SET status = 'churned' WHERE account_id = 9006;
SELECT is((SELECT (closed) FROM csm.refresh_renewals()), 0::bigint, 'ren_1 was already closed');
UPDATE csm.account SET status = 'churned' WHERE account_id = 9003;
UPDATE csm.account SET renewal_date = pg_temp.today() + 400, arr = 2200 WHERE account_id = 9002;
SELECT is((SELECT closed FROM csm.refresh_renewals()), 2::bigint, 'the refresh closes two renewals');
SELECT is((SELECT (outcome, final_arr, closed_via) FROM csm.renewal WHERE account_id = 9003),
          ('churned'::text, 0::numeric, 'account'::text), 'a churned account''s renewal: churned at 0');
SELECT is((SELECT (outcome, final_arr, closed_via) FROM csm.renewal WHERE account_id = 9002),
          ('upsell'::text, 2200::numeric, 'account'::text),
          'renewed outside csm (date moved on): closed at the account''s ARR');
SELECT is((SELECT count(*) FROM csm.renewal WHERE account_id = 9002 AND closed_at IS NULL), 0::bigint,
          'and not reopened');

-- 8. The seed's renewal metrics, by hand: closed today are ren_60 upsell
-- 4000 -> 4500, ren_30 downsell 5000 -> 4000, ren_1 renewed 6000, ren_0
-- churned 7000 -> 0, ren_150 renewed 11000, ren_61 churned 3000 -> 0
-- (account), ren_90 upsell 2000 -> 2200 (account).
SELECT is((SELECT (renewals, renewed, upsell, downsell, churned) FROM csm.renewal_metrics(pg_temp.today(), pg_temp.today())),
          (7::bigint, 2::bigint, 2::bigint, 1::bigint, 2::bigint), 'counts by outcome');
SELECT is((SELECT (target_arr, final_arr, expansion_arr) FROM csm.renewal_metrics(pg_temp.today(), pg_temp.today())),
          (38000::numeric, 27700::numeric, 700::numeric), 'target, final and expansion ARR');
SELECT is((SELECT (expansion_share, expansion_share_arr) FROM csm.renewal_metrics(pg_temp.today(), pg_temp.today())),
          (round(2 / 7.0, 4), round(6000 / 38000.0, 4)),
          'expansion share: 2 of 7 renewals by number, 6000 of 38000 target ARR by dollars');
SELECT is((SELECT (renewals, upsell, expansion_share) FROM csm.renewal_metrics(pg_temp.today(), pg_temp.today(), 'enterprise')),
          (2::bigint, 1::bigint, 0.5000), 'by segment');
SELECT is((SELECT (expansion_share, expansion_share_arr) FROM csm.renewal_metrics(pg_temp.today(), pg_temp.today(), 'mid_market')),
          (0.0000, 0.0000), 'renewals without an upsell: shares 0, not NULL');
SELECT is((SELECT (renewals, renewal_cycle_time, expansion_share) FROM csm.renewal_metrics(pg_temp.today() - 30, pg_temp.today() - 1)),
          (0::bigint, NULL::numeric, NULL::numeric), 'no renewals: NULL rates');
-- cycle time: opened 40 days ago, closed 10 days ago: 30 days
UPDATE csm.renewal SET opened_at = now() - interval '40 days', closed_at = now() - interval '10 days'
WHERE account_id = 9004;
UPDATE csm.renewal SET opened_at = now() - interval '70 days', closed_at = now() - interval '10 days'
WHERE account_id = 9005;
SELECT is((SELECT renewal_cycle_time FROM csm.renewal_metrics(pg_temp.today() - 10, pg_temp.today() - 10)), 45.0,
          'renewal_cycle_time: the mean of 30 and 60 days');

-- The classifiers: NULL in, NULL out; inlined into the refresh's statements.
SELECT is(csm.renewal_stage(NULL), NULL, 'renewal_stage(NULL) is NULL');
SELECT is(csm.renewal_outcome(NULL, 1), NULL, 'renewal_outcome with a NULL is NULL');
SELECT is(csm.renewal_outcome(0, 0), 'renewed', 'a zero target renewed at zero is renewed, not churned');
SELECT ok(NOT p.proisstrict AND p.provolatile = 'i', format('%s is IMMUTABLE and not STRICT (so it can be inlined)', p.oid::regprocedure))
FROM pg_proc p WHERE p.oid IN ('csm.renewal_stage(integer)'::regprocedure, 'csm.renewal_outcome(numeric, numeric)'::regprocedure);
CREATE TEMP TABLE ren_plan (line text);
DO $$
DECLARE
    l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || (SELECT statement FROM csm_internal._renewal_refresh_statements(now(), pg_temp.today(), 'postgres') WHERE step = 'advance') LOOP
        INSERT INTO ren_plan VALUES (l);
    END LOOP;
END $$;
SELECT is_empty($$SELECT line FROM ren_plan WHERE line ~ 'renewal_stage\('$$, 'renewal_stage is inlined into the refresh');

-- 9. Errors.
SELECT throws_ok($$SELECT csm.close_renewal('ren_nobody', 1)$$, 'P0002', NULL, 'unknown account: P0002');
SELECT throws_ok($$SELECT csm.close_renewal('ren_91', NULL)$$, '22004', NULL, 'NULL final_arr: 22004');
SELECT throws_ok($$SELECT csm.close_renewal('ren_91', 1, NULL)$$, '22004', NULL, 'NULL term: 22004');
SELECT throws_ok($$SELECT csm.close_renewal('ren_91', -1)$$, '22023', NULL, 'negative final_arr: 22023');
SELECT throws_ok($$SELECT csm.close_renewal('ren_91', 'NaN')$$, '22023', NULL, 'NaN final_arr: 22023');
SELECT throws_ok($$SELECT csm.close_renewal('ren_91', 'Infinity')$$, '22023', NULL, 'infinite final_arr: 22023');
SELECT throws_ok($$SELECT csm.close_renewal('ren_91', 1, '0 days')$$, '22023', NULL, 'a term that does not move the date: 22023');
SELECT throws_ok($$SELECT csm.close_renewal('ren_91', 1, '1 year', now() + interval '1 day')$$, '22023', NULL,
                 'closed_at in the future: 22023');
SELECT throws_ok($$SELECT csm.close_renewal('ren_late', 1, '1 year', now() - interval '1 day')$$, '22023', NULL,
                 'closed_at before the renewal opened: 22023');
SELECT throws_ok($$SELECT csm.close_renewal('ren_0', 1)$$, '55000', NULL, 'a churned account: 55000');
SELECT throws_ok($$SELECT csm.close_renewal('ren_none', 1)$$, '55000', NULL, 'no renewal_date: 55000');
UPDATE csm.account SET renewal_date = pg_temp.today() + 60 WHERE account_id = 9004;
SELECT throws_ok($$SELECT csm.close_renewal('ren_60', 1)$$, '55000', NULL, 'that date''s renewal already closed: 55000');
SELECT throws_ok($$SELECT * FROM csm.renewal_metrics(NULL, '2026-01-01')$$, '22004', NULL, 'renewal_metrics: NULL bound 22004');
SELECT throws_ok($$SELECT * FROM csm.renewal_metrics('2026-02-01', '2026-01-01')$$, '22023', NULL,
                 'renewal_metrics: end before start 22023');
SELECT throws_ok($$INSERT INTO csm.renewal (account_id, renewal_date, target_arr, stage, opened_at)
                   VALUES (9008, '2030-01-01', 1000, '90_days_out', now())$$, '23505', NULL,
                 'a second open renewal per account is refused (renewal_one_open)');
SELECT throws_ok($$UPDATE csm.renewal SET closed_at = now() WHERE account_id = 9008$$, '23514', NULL,
                 'a closed renewal has its final ARR, outcome and stage (renewal_closed_whole)');

-- 10. Access: refresh and close need operate; both run as csm's owner.
CREATE ROLE ren_reader;
CREATE ROLE ren_operator;
DO $$ BEGIN PERFORM csm.grant_access('ren_reader', 'read'); PERFORM csm.grant_access('ren_operator', 'operate'); END $$;
SET ROLE ren_reader;
SELECT throws_ok($$SELECT csm.refresh_renewals()$$, '42501', NULL, 'read cannot refresh renewals');
SELECT throws_ok($$SELECT csm.close_renewal('ren_91', 1)$$, '42501', NULL, 'read cannot close a renewal');
SELECT lives_ok($$SELECT * FROM csm.renewal_pipeline$$, 'read reads the pipeline');
RESET ROLE;
SET ROLE ren_operator;
SELECT lives_ok($$SELECT csm.refresh_renewals()$$, 'operate refreshes renewals');
SELECT is((SELECT closed_by FROM csm.close_renewal('ren_late', 8800)), 'ren_operator'::name,
          'operate closes a renewal, recorded as the caller');
RESET ROLE;
SELECT is((SELECT (effective_date, arr_before, arr_after, kind, source, recorded_by) FROM csm.arr_change
           WHERE account_id = 9008 AND source = 'renewal'),
          (pg_temp.today() - 5, 8000::numeric, 8800::numeric, 'expansion'::text, 'renewal'::text, 'ren_operator'::name),
          'an overdue renewal''s ARR change is dated its renewal date, by the caller');
SELECT ok(bool_and(p.prosecdef), 'refresh_renewals and close_renewal are SECURITY DEFINER')
FROM pg_proc p WHERE p.oid IN ('csm.refresh_renewals()'::regprocedure,
                               'csm.close_renewal(text, numeric, interval, timestamptz)'::regprocedure);

-- An overdue renewal of an account that started after its renewal date:
-- the ARR change is dated the day the account started, never before.
INSERT INTO csm.account (account_id, external_id, arr, renewal_date) VALUES (9013, 'ren_new', 100, pg_temp.today() - 3);
SELECT is((SELECT outcome FROM csm.close_renewal('ren_new', 150)), 'upsell', 'an overdue renewal closed');
SELECT is((SELECT effective_date FROM csm.arr_change WHERE account_id = 9013 AND source = 'renewal'), pg_temp.today(),
          'its ARR change is dated the account''s start, not before');

-- Deleting an account takes its renewals and reminders with it (no
-- foreign key: csm_internal._forget_accounts).
SELECT ok((SELECT count(*) FROM csm.renewal_reminder WHERE account_id = 9002) > 0, 'ren_90 has reminders');
DELETE FROM csm.account WHERE account_id IN (9002, 9008);
SELECT is((SELECT count(*) FROM csm.renewal WHERE account_id IN (9002, 9008))
          + (SELECT count(*) FROM csm.renewal_reminder WHERE account_id IN (9002, 9008)), 0::bigint,
          'a deleted account''s renewals and reminders go');
SELECT is((SELECT count(*) FROM csm.renewal WHERE account_id = 9004), 1::bigint, 'the others stay');

-- 11. Every object of this part is commented.
SELECT is_empty($$
    SELECT o FROM unnest(ARRAY[
        obj_description('csm.renewal'::regclass, 'pg_class'), obj_description('csm.renewal_reminder'::regclass, 'pg_class'),
        obj_description('csm.renewal_pipeline'::regclass, 'pg_class'),
        obj_description('csm.renewal_stage'::regtype, 'pg_type'),
        obj_description('csm.renewal_stage(integer)'::regprocedure, 'pg_proc'),
        obj_description('csm.renewal_outcome(numeric, numeric)'::regprocedure, 'pg_proc'),
        obj_description('csm.refresh_renewals()'::regprocedure, 'pg_proc'),
        obj_description('csm.close_renewal(text, numeric, interval, timestamptz)'::regprocedure, 'pg_proc'),
        obj_description('csm.renewal_metrics(date, date, text)'::regprocedure, 'pg_proc'),
        obj_description('csm_internal._renewal_refresh_statements(timestamptz, date, name, boolean, bigint)'::regprocedure, 'pg_proc'),
        obj_description('csm_internal._forget_accounts()'::regprocedure, 'pg_proc')]) AS o
    WHERE o IS NULL$$, 'every renewal object has a COMMENT');

SELECT * FROM finish();
ROLLBACK;
