-- Lifecycle on a Citus cluster (csm.distribute() done): the stage set by the
-- triggers on csm.account (a reference table: a copy on every node, each
-- with the triggers) for INSERT ... VALUES, INSERT ... SELECT and UPDATE,
-- csm.refresh_lifecycle() over the distributed lifecycle tables, a stage
-- set by hand and cleared, milestones by hand, csm.onboarding_status, and
-- the handoff after onboarding through the routing rules.  Each answer is
-- the single-node one (the rules' stage recomputed here from the account's
-- columns), each side effect is counted once (not once per copy), and every
-- copy of csm.account agrees on the stage.
--
-- Not in one transaction: run_command_on_placements reads each copy through
-- a connection of its own, which sees only committed rows.  The objects are
-- named lc_*, and the file removes them at the end.
--
--   pg_prove -h 127.0.0.1 -p COORDINATOR -d csm_citus test/citus/lifecycle.sql
SET client_min_messages = error;
DELETE FROM csm.routing_rule WHERE name LIKE 'lc\_%';
DELETE FROM csm.account WHERE external_id LIKE 'lc\_%';
DELETE FROM csm.team_member WHERE handle LIKE 'lc\_%';
DELETE FROM csm.lifecycle_rule WHERE name LIKE 'lc\_%';
DELETE FROM csm.milestone WHERE milestone LIKE 'lc\_%';

SELECT plan(22);

CREATE FUNCTION pg_temp.copies_agree(rel regclass, orderby text, filter text DEFAULT 'true') RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN count(*) < 2 THEN 'only ' || count(*) || ' copies'
                WHEN NOT bool_and(success) THEN 'failed: ' || string_agg(result, '; ')
                WHEN count(DISTINCT result) = 1 THEN 'same on ' || count(*) || ' nodes'
                ELSE 'differ: ' || string_agg(nodeport || '=' || left(result, 8), ' ' ORDER BY nodeport) END
    FROM run_command_on_placements(rel, format(
        $q$SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY %s), '')) FROM %%s t WHERE %s$q$,
        orderby, replace(filter, '%', '%%')))
$$;
-- The stage the built-in rules give (no health scores here, so never growth),
-- written out in each query: a pg_temp function would not exist on the
-- node Citus sends the query to.
\set expected '(CASE WHEN a.status = ''churned'' THEN ''churned'' WHEN (now() AT TIME ZONE ''UTC'')::date - (a.started_at AT TIME ZONE ''UTC'')::date <= 90 THEN ''onboarding'' WHEN a.renewal_date - (now() AT TIME ZONE ''UTC'')::date <= 90 THEN ''renewal'' ELSE ''adoption'' END)::csm.lifecycle_stage'

-- INSERT ... VALUES, then INSERT ... SELECT: the stage at once
INSERT INTO csm.account (external_id, arr, seats, started_at, renewal_date)
VALUES ('lc_one', 1000, 5, now() - interval '3 days', current_date + 300);
INSERT INTO csm.account (external_id, arr, seats, started_at, renewal_date, status)
SELECT 'lc_' || i, 100 * i, 5, now() - make_interval(days => i * 9), current_date + (i * 41) % 365,
       CASE WHEN i % 7 = 0 THEN 'churned' ELSE 'active' END
FROM generate_series(1, 40) i;
SELECT is((SELECT count(*) FROM csm.account a WHERE a.external_id LIKE 'lc\_%'
           AND a.lifecycle_stage IS DISTINCT FROM :expected), 0::bigint,
          'every inserted account has the stage the rules give');
SELECT is((SELECT count(*) FROM csm.lifecycle_history h JOIN csm.account a USING (account_id) WHERE a.external_id LIKE 'lc\_%'),
          41::bigint, 'one history row each, not one per copy of csm.account');
SELECT is((SELECT count(*) FROM csm.account_lifecycle l JOIN csm.account a USING (account_id) WHERE a.external_id LIKE 'lc\_%'),
          41::bigint, 'one lifecycle state each');
SELECT is(pg_temp.copies_agree('csm.account', 'account_id', $$external_id LIKE 'lc\_%'$$), 'same on 3 nodes',
          'every copy of csm.account has the same stages');

-- the refresh: idempotent, the same answer
SELECT is(csm.refresh_lifecycle(), 0, 'refresh_lifecycle moves nothing that the triggers placed');
UPDATE csm.account SET renewal_date = current_date + 30 WHERE external_id = 'lc_30';
SELECT is((SELECT lifecycle_stage::text FROM csm.account WHERE external_id = 'lc_30'), 'renewal', 'UPDATE moves the stage');
SELECT is((SELECT count(*) FROM csm.account a WHERE a.external_id LIKE 'lc\_%'
           AND a.lifecycle_stage IS DISTINCT FROM :expected), 0::bigint, 'still the rules'' stage everywhere');

-- by hand: sticks through the refresh, then cleared
SELECT is((csm.set_lifecycle_stage('lc_30', 'growth', 'lc test')).manual, true, 'set_lifecycle_stage pins');
SELECT is(csm.refresh_lifecycle(), 0, 'the refresh leaves it alone');
SELECT is((SELECT lifecycle_stage::text FROM csm.account WHERE external_id = 'lc_30'), 'growth', 'pinned');
SELECT is((csm.clear_lifecycle_stage('lc_30')).stage::text, 'renewal', 'cleared: the rules decide at once');
SELECT is(ARRAY(SELECT h.stage::text || ':' || (h.left_at IS NULL) FROM csm.lifecycle_history h JOIN csm.account a USING (account_id)
                WHERE a.external_id = 'lc_30' ORDER BY h.history_id),
          ARRAY['adoption:false', 'renewal:false', 'growth:false', 'renewal:true'], 'its history, once each');

-- milestones and the onboarding view
SELECT is((csm.record_milestone('lc_one', 'key_features_activated', now() - interval '1 day')).source, 'manual',
          'record_milestone');
SELECT is((SELECT ttv_met FROM csm.onboarding_status WHERE external_id = 'lc_one'), true, 'onboarding_status reads it');

-- the handoff after onboarding
INSERT INTO csm.team_member (handle, roles, teams) VALUES ('lc_olive', '{onboarding}', '{lc_onboarding}'),
                                                          ('lc_carl', '{csm}', '{lc_success}');
INSERT INTO csm.routing_rule (name, priority, condition, target_kind, target) VALUES
    ('lc_onboarding', 10, 'lifecycle_stage = ''onboarding''', 'team', 'lc_onboarding'),
    ('lc_after', 20, 'lifecycle_stage IN (''adoption'', ''growth'', ''renewal'')', 'team', 'lc_success');
INSERT INTO csm.account (external_id, started_at, renewal_date) VALUES ('lc_handoff', now() - interval '90 days', current_date + 270);
SELECT is((SELECT handle FROM csm.assignment WHERE external_id = 'lc_handoff'), 'lc_olive', 'onboarding: the onboarding team');
UPDATE csm.account SET started_at = now() - interval '91 days' WHERE external_id = 'lc_handoff';
SELECT is((SELECT handle FROM csm.assignment WHERE external_id = 'lc_handoff'), 'lc_carl', 'day 91: handed to the CSM');

-- Multi-row inserts into the reference tables: Citus COPYs them to every node at once, and
-- the trigger of each copy must not run a distributed query meanwhile.
SELECT lives_ok($$INSERT INTO csm.lifecycle_rule (name, priority, stage, condition, enabled)
                  SELECT 'lc_rule_' || i, 1000 + i, 'adoption', 'arr < -1', false FROM generate_series(1, 3) i$$,
                'a multi-row INSERT ... SELECT into csm.lifecycle_rule');
SELECT lives_ok($$INSERT INTO csm.milestone (milestone, label, enabled) VALUES ('lc_m1', 'one', false), ('lc_m2', 'two', false)$$,
                'a multi-row INSERT ... VALUES into csm.milestone');

-- The bulk refresh of accounts loaded as history (created_at in the past:
-- the triggers leave them to it): the stage, csm's own write of the column
-- stamping updated_at the same on every copy, and a deleted account's
-- lifecycle rows going with it (csm_internal._forget_accounts, no foreign key).
INSERT INTO csm.account (external_id, started_at, renewal_date, created_at)
SELECT 'lc_bulk_' || i, now() - make_interval(days => i * 9), current_date + (i * 41) % 400, now() - interval '1 year'
FROM generate_series(1, 30) i;
SELECT is(csm.refresh_lifecycle() >= 30, true, 'the refresh moves the accounts loaded as history');
SELECT is((SELECT count(*) FROM csm.account a WHERE a.external_id LIKE 'lc\_bulk\_%'
           AND a.lifecycle_stage IS NOT DISTINCT FROM :expected), 30::bigint, 'the bulk refresh gives the rules'' stage');
SELECT is(pg_temp.copies_agree('csm.account', 'account_id',
                               $$external_id LIKE 'lc\_bulk\_%' AND (lifecycle_stage, updated_at) IS NOT NULL$$)
          LIKE 'same on %', true, 'every copy of csm.account has the same stage and updated_at');
SELECT array_agg(account_id) AS lc_gone FROM csm.account WHERE external_id LIKE 'lc\_bulk\_%' \gset
DELETE FROM csm.account WHERE external_id LIKE 'lc\_bulk\_%';
SELECT is((SELECT count(*) FROM csm.account_lifecycle l WHERE l.account_id = ANY (:'lc_gone'::bigint[]))
          + (SELECT count(*) FROM csm.lifecycle_history h WHERE h.account_id = ANY (:'lc_gone'::bigint[])),
          0::bigint, 'a deleted account''s lifecycle rows go with it');

SELECT * FROM finish();

DELETE FROM csm.routing_rule WHERE name LIKE 'lc\_%';
DELETE FROM csm.account WHERE external_id LIKE 'lc\_%';
DELETE FROM csm.team_member WHERE handle LIKE 'lc\_%';
DELETE FROM csm.lifecycle_rule WHERE name LIKE 'lc\_%';
DELETE FROM csm.milestone WHERE milestone LIKE 'lc\_%';
