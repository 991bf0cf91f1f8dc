-- csm.refresh_lifecycle()'s bulk path (issue 13 performance) gives the same
-- answers with less work: each account's rules evaluated once, csm's own
-- write of csm.account.lifecycle_stage stamps updated_at itself (the touch
-- trigger, the ARR and routing triggers stand aside for it), and a deleted
-- account's lifecycle rows go with it (csm_internal._forget_accounts, no foreign key).
BEGIN;
SELECT plan(9);

SET LOCAL track_functions = 'all';
INSERT INTO csm.account (external_id, arr, seats, started_at, renewal_date, status, created_at)
SELECT 'tap_lb_' || i, 1000 * i, 10, now() - make_interval(days => i * 7), current_date + (i * 37) % 400,
       CASE WHEN i % 11 = 0 THEN 'churned' ELSE 'active' END, now() - interval '1 year'
FROM generate_series(1, 40) i;
-- (history: inserted with a past created_at, the triggers leave them to the refresh)
-- A routing rule that does not read the stage: the moved accounts are not
-- routed (routing would read each one's facts only to apply nothing).
INSERT INTO csm.routing_rule (name, condition, target_kind, target)
VALUES ('tap_lb_big', 'arr > 1000000000', 'role', 'csm');
CREATE TEMP TABLE lb_calls AS
SELECT f.funcname::text AS fn, f.calls FROM pg_stat_xact_user_functions f WHERE f.schemaname IN ('csm_internal', 'csm');
CREATE TEMP TABLE lb_before AS SELECT a.account_id, a.updated_at FROM csm.account a;
CREATE TEMP TABLE lb_arr AS SELECT count(*) AS n FROM csm.arr_change;

SELECT is(csm.refresh_lifecycle() >= 40, true, 'the refresh moves the new accounts');
SELECT is((SELECT f.calls - coalesce((SELECT c.calls FROM lb_calls c WHERE c.fn = '_first_match'), 0)
           FROM pg_stat_xact_user_functions f WHERE f.schemaname = 'csm_internal' AND f.funcname = '_first_match'),
          (SELECT count(*) FROM csm.account), 'the rules are evaluated once per account');
SELECT is((SELECT coalesce(max(f.calls), 0) - coalesce((SELECT c.calls FROM lb_calls c WHERE c.fn = 'routing_facts'), 0)
           FROM pg_stat_xact_user_functions f WHERE f.schemaname = 'csm' AND f.funcname = 'routing_facts'),
          0::bigint, 'no routing rule reads lifecycle_stage or onboarding_phase: the moved accounts are not routed');
SELECT is((SELECT coalesce(max(f.calls), 0) - coalesce((SELECT c.calls FROM lb_calls c WHERE c.fn = '_touch_account'), 0)
           FROM pg_stat_xact_user_functions f WHERE f.schemaname = 'csm_internal' AND f.funcname = '_touch_account'),
          0::bigint, 'csm''s own write of lifecycle_stage does not go through the touch trigger');
SELECT is((SELECT count(*) FROM csm.account a JOIN lb_before b USING (account_id)
           WHERE a.external_id LIKE 'tap_lb_%' AND a.updated_at IS DISTINCT FROM now()),
          0::bigint, 'the accounts it moved have updated_at stamped as the touch trigger stamps it');
SELECT is((SELECT n FROM lb_arr), (SELECT count(*) FROM csm.arr_change), 'and no ARR change is recorded');
SELECT is((SELECT count(*) FROM csm.account a
           JOIN csm.account_lifecycle l USING (account_id)
           JOIN csm.lifecycle_history h ON h.account_id = a.account_id AND h.left_at IS NULL
           WHERE a.external_id LIKE 'tap_lb_%' AND a.lifecycle_stage = l.stage AND h.stage = l.stage),
          40::bigint, 'each account, its state and its open history row agree');

-- a deleted account's lifecycle goes with it
DELETE FROM csm.account WHERE external_id IN ('tap_lb_1', 'tap_lb_2');
SELECT is((SELECT count(*) FROM csm.account_lifecycle l WHERE NOT EXISTS
               (SELECT 1 FROM csm.account a WHERE a.account_id = l.account_id)),
          0::bigint, 'no csm.account_lifecycle row outlives its account');
SELECT is((SELECT count(*) FROM csm.lifecycle_history h WHERE NOT EXISTS
               (SELECT 1 FROM csm.account a WHERE a.account_id = h.account_id)),
          0::bigint, 'no csm.lifecycle_history row outlives its account');

SELECT * FROM finish();
ROLLBACK;
