-- Per-CSM visibility (csm.enable_row_security): as three real roles, two
-- CSMs and a team lead, each reads exactly its book through the tables, the
-- views and the functions, and cannot read, change or infer (aggregates,
-- errors, counts) another CSM's accounts; admins and csm's owner read all.
-- citus-differs: csm.enable_row_security() refuses a distributed csm with 0A000 (Citus 13.2 refuses subqueries in policies, and its planner crashes the server on the dashboard views' chained outer joins under any policy; test/citus/rls.sql checks the refusal); this file also creates NOLOGIN roles in its transaction, which Citus cannot connect to the workers as.
BEGIN;
SELECT plan(38);

CREATE ROLE tap_vis_ann;
CREATE ROLE tap_vis_bob;
CREATE ROLE tap_vis_lena;
CREATE ROLE tap_vis_admin;
CREATE ROLE tap_vis_bi;
SELECT csm.grant_access('tap_vis_ann', 'operate'), csm.grant_access('tap_vis_bob', 'operate'),
       csm.grant_access('tap_vis_lena', 'read'), csm.grant_access('tap_vis_admin', 'admin'),
       csm.grant_access('tap_vis_bi', 'read');

-- Team east: ann (CSM), carl (CSM without a login), lena (lead); team west: bob.
INSERT INTO csm.team_member (handle, roles, teams, login_role) VALUES
    ('tap_ann', ARRAY['csm'], ARRAY['east'], 'tap_vis_ann'),
    ('tap_carl', ARRAY['csm'], ARRAY['east'], NULL),
    ('tap_lena', ARRAY['csm', 'team_lead'], ARRAY['east'], 'tap_vis_lena'),
    ('tap_bob', ARRAY['csm'], ARRAY['west'], 'tap_vis_bob');
INSERT INTO csm.account (external_id, segment, plan, arr, seats, started_at, renewal_date)
SELECT x, 'smb', 'pro', 1000 * i, 10, now() - interval '400 days', current_date + 200
FROM unnest(ARRAY['v_a1', 'v_a2', 'v_ab', 'v_b1', 'v_c1', 'v_q_east', 'v_q_west', 'v_none']) WITH ORDINALITY u (x, i);
SELECT csm.csm_assign('v_a1', 'tap_ann'), csm.csm_assign('v_a2', 'tap_ann'), csm.csm_assign('v_ab', 'tap_bob'),
       csm.csm_assign('v_ab', 'tap_ann', false), csm.csm_assign('v_b1', 'tap_bob'), csm.csm_assign('v_c1', 'tap_carl');
-- The queues: accounts without a primary that a rule for a team left waiting.
INSERT INTO csm.routing_rule (name, target_kind, target, enabled) VALUES
    ('tap_east', 'team', 'east', false), ('tap_west', 'team', 'west', false);
INSERT INTO csm.assignment_alert (account_id, kind, message, rule_id)
SELECT a.account_id, 'no_capacity', 'tap', r.rule_id
FROM csm.account a JOIN csm.routing_rule r ON r.name = CASE a.external_id WHEN 'v_q_east' THEN 'tap_east' ELSE 'tap_west' END
WHERE a.external_id IN ('v_q_east', 'v_q_west');
INSERT INTO csm.account_note (account_id, body) SELECT account_id, 'tap' FROM csm.account WHERE external_id LIKE 'v\_%';

-- One query as a role: its one value as text, or its error as SQLSTATE: message.
CREATE FUNCTION pg_temp.tap_as(who text, query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    BEGIN
        EXECUTE format('SET LOCAL ROLE %I', who);
        EXECUTE query INTO result;
        RESET ROLE;
    EXCEPTION WHEN OTHERS THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
    END;
    RETURN result;
END $$;
CREATE FUNCTION pg_temp.tap_book(who text, relation text) RETURNS text
LANGUAGE sql AS $$
    SELECT pg_temp.tap_as(who, format('SELECT string_agg(a.external_id, '' '' ORDER BY a.external_id) FROM %s v JOIN csm.account a USING (account_id)', relation))
$$;

SELECT is(pg_temp.tap_book('tap_vis_ann', 'csm.account'), 'v_a1 v_a2 v_ab v_b1 v_c1 v_none v_q_east v_q_west', 'RLS off: nothing changes until enable_row_security');
SELECT is((SELECT count(*) FROM csm.enable_row_security() t WHERE t IN ('csm.account'::regclass, 'csm.account_note', 'csm.health_score', 'csm.account_assignment')), 4::bigint,
          'enable_row_security guards csm.account and the per-account tables');
SELECT is((SELECT count(*) FROM csm.enable_row_security()), (SELECT count(*) FROM csm.enable_row_security()), 'enable_row_security is idempotent');
SELECT ok(NOT (SELECT c.relforcerowsecurity FROM pg_class c WHERE c.oid = 'csm.account'::regclass), 'not forced: csm''s owner is not subject to it');

-- Each sees exactly its book, through the base tables.
SELECT is(pg_temp.tap_as('tap_vis_ann', $$SELECT string_agg(external_id, ' ' ORDER BY external_id) FROM csm.account WHERE external_id LIKE 'v\_%'$$),
          'v_a1 v_a2 v_ab v_q_east', 'ann: her primaries, her secondary and her team''s queue');
SELECT is(pg_temp.tap_as('tap_vis_bob', $$SELECT string_agg(external_id, ' ' ORDER BY external_id) FROM csm.account WHERE external_id LIKE 'v\_%'$$),
          'v_ab v_b1 v_q_west', 'bob: his primaries and his team''s queue');
SELECT is(pg_temp.tap_as('tap_vis_lena', $$SELECT string_agg(external_id, ' ' ORDER BY external_id) FROM csm.account WHERE external_id LIKE 'v\_%'$$),
          'v_a1 v_a2 v_ab v_c1 v_q_east', 'lena, a team lead: her team''s accounts and queue');
SELECT is(pg_temp.tap_as('tap_vis_admin', $$SELECT string_agg(external_id, ' ' ORDER BY external_id) FROM csm.account WHERE external_id LIKE 'v\_%'$$),
          'v_a1 v_a2 v_ab v_b1 v_c1 v_none v_q_east v_q_west', 'the admin level: every account');
SELECT is((SELECT count(*) FROM csm.account WHERE external_id LIKE 'v\_%'), 8::bigint, 'csm''s owner: every account');
SELECT is(pg_temp.tap_as('tap_vis_bi', $$SELECT count(*) FROM csm.account$$), '0', 'a role that is no member''s login: nothing');

-- Per-account tables and views follow.
SELECT is(pg_temp.tap_book('tap_vis_ann', 'csm.account_note'), 'v_a1 v_a2 v_ab v_q_east', 'ann: account_note');
SELECT is(pg_temp.tap_book('tap_vis_bob', 'csm.account_assignment'), 'v_ab v_ab v_b1', 'bob: account_assignment (every relationship of his accounts)');
SELECT is(pg_temp.tap_book('tap_vis_ann', 'csm.assignment'), 'v_a1 v_a2 v_ab v_ab', 'ann: the csm.assignment view');
SELECT is(pg_temp.tap_book('tap_vis_ann', 'csm.unassigned_queue'), 'v_q_east', 'ann: the unassigned queue is her team''s');
SELECT is(pg_temp.tap_book('tap_vis_bob', 'csm.unassigned_queue'), 'v_q_west', 'bob: the unassigned queue is his team''s');
SELECT is(pg_temp.tap_book('tap_vis_lena', 'csm.account_health'), 'v_a1 v_a2 v_ab v_c1 v_q_east', 'lena: csm.account_health');
SELECT is(pg_temp.tap_book('tap_vis_bob', 'csm.account_metrics'), 'v_ab v_b1 v_q_west', 'bob: csm.account_metrics');

-- No inference through aggregates.
SELECT is(pg_temp.tap_as('tap_vis_ann', $$SELECT sum(arr)::text || ' ' || count(*) FROM csm.account$$), '12000 4', 'ann: sum and count are her book''s');
SELECT is(pg_temp.tap_as('tap_vis_bob', $$SELECT count(*) FROM csm.account_note$$), '3', 'bob: counts are his book''s');
SELECT is(pg_temp.tap_as('tap_vis_ann', $$SELECT count(*) FROM csm.account WHERE external_id = 'v_b1'$$), '0', 'ann: another CSM''s account by name is not there');

-- Functions: another CSM's account is unknown, with the same error as one that does not exist.
SELECT is(pg_temp.tap_as('tap_vis_ann', $$SELECT csm.analyze_churn_risk('v_b1')->>'customer_id'$$),
          replace(pg_temp.tap_as('tap_vis_ann', $$SELECT csm.analyze_churn_risk('v_nowhere')->>'customer_id'$$), 'v_nowhere', 'v_b1'),
          'ann: analyze_churn_risk of bob''s account fails as for no account');
SELECT alike(pg_temp.tap_as('tap_vis_ann', $$SELECT csm.analyze_churn_risk('v_b1')->>'customer_id'$$), 'P0002: %', '... with P0002');
SELECT is(pg_temp.tap_as('tap_vis_ann', $$SELECT csm.analyze_churn_risk('v_a1')->>'customer_id'$$), 'v_a1', 'ann: analyze_churn_risk of her own');
SELECT is(pg_temp.tap_as('tap_vis_ann', $$SELECT csm.assess_health('v_b1', daterange(current_date - 30, current_date, '[]'))->>'customer_id'$$),
          replace(pg_temp.tap_as('tap_vis_ann', $$SELECT csm.assess_health('v_nowhere', daterange(current_date - 30, current_date, '[]'))->>'customer_id'$$), 'v_nowhere', 'v_b1'),
          'ann: assess_health of bob''s account fails as for no account');
SELECT is(pg_temp.tap_as('tap_vis_lena', $$SELECT csm.assess_health('v_c1', daterange(current_date - 30, current_date, '[]'))->>'customer_id'$$), 'v_c1',
          'lena: assess_health of her team''s account');
SELECT alike(pg_temp.tap_as('tap_vis_lena', $$SELECT csm.csm_health_score('v_b1')::text$$), 'P0002: %', 'lena: csm_health_score of another team''s account: P0002');

-- Writes: csm's SECURITY DEFINER writers refuse another CSM's account as unknown.
SELECT is(pg_temp.tap_as('tap_vis_ann', $$SELECT csm.override_health('v_b1', 10, 'tap', NULL)::text$$),
          replace(pg_temp.tap_as('tap_vis_ann', $$SELECT csm.override_health('v_nowhere', 10, 'tap', NULL)::text$$), 'v_nowhere', 'v_b1'),
          'ann: override_health of bob''s account fails as for no account');
SELECT unalike(pg_temp.tap_as('tap_vis_ann', $$SELECT csm.override_health('v_a1', 10, 'tap', NULL)::text$$), '%: %', 'ann: override_health of her own works');
SELECT alike(pg_temp.tap_as('tap_vis_ann', $$SELECT (csm.csm_assign('v_b1', 'tap_ann')).assignment_success::text$$), 'P0002: %', 'ann: cannot take bob''s account with csm_assign');
SELECT alike(pg_temp.tap_as('tap_vis_bob', $$SELECT csm.set_segment('v_a1', 'enterprise')$$), 'P0002: %', 'bob: cannot set the segment of ann''s account');
SELECT is(pg_temp.tap_as('tap_vis_ann', $$INSERT INTO csm.account_note (account_id, body) SELECT account_id, 'x' FROM csm.account WHERE external_id = 'v_a1' RETURNING 'ok'$$), 'ok',
          'ann: a note on her own account');
SELECT alike(pg_temp.tap_as('tap_vis_ann', format('INSERT INTO csm.account_note (account_id, body) VALUES (%s, %L) RETURNING %L',
                                                (SELECT account_id FROM csm.account WHERE external_id = 'v_b1'), 'x', 'ok')),
            '42501: %', 'ann: no note on bob''s account (42501)');
SELECT is(regexp_replace(pg_temp.tap_as('tap_vis_ann', format('INSERT INTO csm.account_note (account_id, body) VALUES (%s, %L)',
                                                (SELECT account_id FROM csm.account WHERE external_id = 'v_b1'), 'x') || ' RETURNING 1'), '\d+', 'N', 'g'),
          regexp_replace(pg_temp.tap_as('tap_vis_ann', format('INSERT INTO csm.account_note (account_id, body) VALUES (%s, %L)', -1, 'x') || ' RETURNING 1'), '\d+', 'N', 'g'),
          'ann: the refusal is the same for an account that does not exist');
SELECT is((SELECT count(*) FROM csm.health_override o JOIN csm.account a USING (account_id) WHERE a.external_id = 'v_b1'), 0::bigint,
          'bob''s account was not changed');

-- A member who leaves loses the book; disable_row_security gives it back.
UPDATE csm.team_member SET active = false WHERE handle = 'tap_bob';
SELECT is(pg_temp.tap_as('tap_vis_bob', $$SELECT count(*) FROM csm.account$$), '0', 'an inactive member sees nothing');
SELECT is((SELECT count(*) FROM csm.disable_row_security()), (SELECT count(*) FROM csm_internal._book_tables()), 'disable_row_security');
SELECT is(pg_temp.tap_as('tap_vis_bi', $$SELECT count(*) FROM csm.account WHERE external_id LIKE 'v\_%'$$), '8', 'RLS off: every account again');
SELECT alike(pg_temp.tap_as('tap_vis_admin', $$SELECT count(*) FROM csm.enable_row_security()$$), '42501: %', 'only csm''s owner turns it on (42501)');

SELECT * FROM finish();
ROLLBACK;
