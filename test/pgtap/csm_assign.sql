-- csm_assign, the seed's Assign CSM tool, pinned: its attributes, every
-- result and message, the audit rows and load it writes, continuity, and
-- its errors on NULL, empty, huge and malformed input, by SQLSTATE,
-- message and hint.
-- citus-differs: on Citus an audit row's time is the distributed transaction's timestamp (csm_internal._stamp(), set on the worker holding csm.assignment_log), not the coordinator session's now().
BEGIN;
SELECT plan(58);

INSERT INTO csm.team_member (handle, roles, teams, capacity) VALUES
    ('m1', '{csm}', '{east}', NULL), ('m2', '{csm}', '{east}', NULL), ('m3', '{csm}', '{east}', NULL),
    ('cap10', '{csm}', '{}', 10), ('cap0', '{csm}', '{}', NULL), ('gone', '{csm}', '{}', NULL),
    ('solo', '{csm}', '{}', NULL);
UPDATE csm.team_member SET active = false WHERE handle = 'gone';
INSERT INTO csm.account (external_id, segment) VALUES
    ('org_1', 'enterprise'), ('org_2', 'smb'), ('org_3', 'enterprise'), ('org_4', 'smb'),
    ('mm_1', 'mid_market'), ('mm_2', 'mid_market'), ('mm_3', 'mid_market'), ('mm_4', 'mid_market'),
    ('rule_1', 'smb'), ('rule_2', 'smb'), ('q_1', 'smb'), ('o''rg "x"', 'smb');

-- What an error says: SQLSTATE, message and hint.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s text;
    m text;
    h text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
    RETURN s || ': ' || m || coalesce(' (' || nullif(h, '') || ')', '');
END $$;
-- The result of a call, as one row to compare.
CREATE FUNCTION pg_temp.res(org text, handle text, is_primary boolean DEFAULT true, reason text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT row(r.*)::text FROM csm.csm_assign(org, handle, is_primary, reason) r); END $$;
-- The current relationships of an account ('handle*' for the primary) and the log of it.
CREATE FUNCTION pg_temp.owners(org text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN (
    SELECT string_agg(handle || CASE WHEN is_primary THEN '*' ELSE '' END || '=' || round(load::numeric, 3), ' '
                      ORDER BY NOT is_primary, handle)
    FROM csm.assignment WHERE external_id = org);
END $$;
CREATE FUNCTION pg_temp.log(org text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN (
    SELECT string_agg(concat_ws('/', l.action, l.is_primary, o.handle, n.handle, l.reason, l.rule_id IS NOT NULL), ' '
                      ORDER BY l.log_id)
    FROM csm.assignment_log l JOIN csm.account a USING (account_id)
    LEFT JOIN csm.team_member o ON o.member_id = l.old_member_id
    LEFT JOIN csm.team_member n ON n.member_id = l.new_member_id
    WHERE a.external_id = org);
END $$;
CREATE FUNCTION pg_temp.ended(org text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN (
    SELECT string_agg(m.handle || ':' || x.end_reason, ' ' ORDER BY x.assignment_id)
    FROM csm.account_assignment x JOIN csm.account a USING (account_id) JOIN csm.team_member m USING (member_id)
    WHERE a.external_id = org AND x.ended_at IS NOT NULL);
END $$;

-- Attributes ---------------------------------------------------------------
SELECT function_lang_is('csm', 'csm_assign', ARRAY['text', 'text', 'boolean', 'text'], 'c',
                        'csm_assign is a C function, beside csm_auto_assign');
SELECT volatility_is('csm', 'csm_assign', ARRAY['text', 'text', 'boolean', 'text'], 'volatile', 'csm_assign is volatile');
SELECT isnt_strict('csm', 'csm_assign', ARRAY['text', 'text', 'boolean', 'text'],
                   'csm_assign is not strict (a NULL argument is an error, not a NULL row)');
SELECT function_returns('csm', 'csm_assign', ARRAY['text', 'text', 'boolean', 'text'], 'csm.assignment_result',
                        'csm_assign returns csm.assignment_result');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'csm.csm_assign(text, text, boolean, text)'::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp'], 'csm_assign pins its search_path');
SELECT is((SELECT pg_get_function_arguments('csm.csm_assign(text, text, boolean, text)'::regprocedure)),
          'org_user_id text, assign_to text, is_primary boolean DEFAULT true, reason text DEFAULT NULL::text',
          'csm_assign keeps its argument names and defaults');

-- Errors: NULL, empty, huge and malformed input ------------------------------
SELECT is(pg_temp.err($$SELECT csm.csm_assign(NULL, 'm1')$$),
          '22004: org_user_id, assign_to and is_primary must not be NULL', 'a NULL account is 22004');
SELECT is(pg_temp.err($$SELECT csm.csm_assign('org_1', NULL)$$),
          '22004: org_user_id, assign_to and is_primary must not be NULL', 'a NULL member is 22004');
SELECT is(pg_temp.err($$SELECT csm.csm_assign('org_1', 'm1', NULL)$$),
          '22004: org_user_id, assign_to and is_primary must not be NULL', 'a NULL is_primary is 22004');
SELECT is(pg_temp.err($$SELECT csm.csm_assign(NULL, NULL, NULL, NULL)$$),
          '22004: org_user_id, assign_to and is_primary must not be NULL', 'all NULL is 22004');
SELECT is(pg_temp.err($$SELECT csm.csm_assign('nope', 'm1')$$),
          'P0002: account "nope" does not exist (See csm.account for the accounts.)', 'an unknown account is P0002');
SELECT throws_ok($$SELECT csm.csm_assign('nope', 'm1')$$, 'P0002', 'account "nope" does not exist',
                 'an unknown account is P0002, by SQLSTATE');
SELECT is(pg_temp.err($$SELECT csm.csm_assign('org_1', 'nobody')$$),
          'P0002: team member "nobody" does not exist (See csm.team_member for the handles.)',
          'an unknown member is P0002, with a hint');
SELECT throws_ok($$SELECT csm.csm_assign('nope', 'nobody')$$, 'P0002', 'account "nope" does not exist',
                 'an unknown account and member: the account is named');
SELECT throws_ok($$SELECT csm.csm_assign('', 'm1')$$, 'P0002', 'account "" does not exist', 'an empty account id is P0002');
SELECT throws_ok($$SELECT csm.csm_assign('org_1', '')$$, 'P0002', 'team member "" does not exist', 'an empty handle is P0002');
SELECT throws_ok(format('SELECT csm.csm_assign(%L, %L)', repeat('x', 1000000), 'm1'), 'P0002', NULL,
                 'a 1 MB account id is P0002');
SELECT throws_ok(format('SELECT csm.csm_assign(%L, %L)', 'org_1', repeat('x', 1000000)), 'P0002', NULL,
                 'a 1 MB handle is P0002');
SELECT throws_ok($$SELECT csm.csm_assign('org_1', 'm1''; DROP TABLE csm.account; --')$$, 'P0002',
                 'team member "m1''; DROP TABLE csm.account; --" does not exist', 'a handle with quotes is data, not SQL');
SELECT throws_ok($$SELECT csm.csm_assign(E'org_1\u00e9', 'm1')$$, 'P0002', E'account "org_1\u00e9" does not exist',
                 'a near miss of an account id is P0002');
SELECT is(pg_temp.res('o''rg "x"', 'm1'), '(t,m1,t,"o''rg ""x""","assigned as the primary CSM")',
          'an account id with quotes is looked up as data');
SELECT is(pg_temp.err($$SELECT csm.csm_assign('nope', 'gone')$$),
          'P0002: account "nope" does not exist (See csm.account for the accounts.)',
          'an unknown account with an inactive member is still P0002');
SELECT is(pg_temp.res('org_1', 'gone'), '(f,gone,t,org_1,"gone is inactive")', 'an inactive member: refused with a message');
SELECT is(pg_temp.res('org_1', 'gone', false), '(f,gone,f,org_1,"gone is inactive")',
          'an inactive member as a secondary: refused, is_primary as asked');
SELECT is((SELECT count(*) FROM csm.assignment_log l JOIN csm.account a USING (account_id) WHERE a.external_id = 'org_1'),
          0::bigint, 'a refusal writes no audit row');

-- Results, audit rows and load ------------------------------------------------
SELECT is(pg_temp.res('org_1', 'm1'), '(t,m1,t,org_1,"assigned as the primary CSM")', 'a first primary');
SELECT is(pg_temp.res('org_1', 'm1'), '(t,m1,t,org_1,"already the primary CSM")', 'the primary again: a no-op success');
SELECT is(pg_temp.res('org_1', 'm1', false), '(t,m1,t,org_1,"already the primary CSM")',
          'the primary asked for as a secondary: a no-op success that says primary');
SELECT is(pg_temp.res('org_1', 'm2', false, 'analytics'), '(t,m2,f,org_1,"assigned as a secondary CSM")', 'a secondary');
SELECT is(pg_temp.res('org_1', 'm2', false), '(t,m2,f,org_1,"already a secondary CSM")', 'the secondary again: a no-op');
SELECT is(pg_temp.res('org_1', 'm3'), '(t,m3,t,org_1,"assigned as the primary CSM, replacing m1")',
          'a new primary replaces the old one and names them');
SELECT is(pg_temp.res('org_1', 'm2', true, 'promoted by hand'),
          '(t,m2,t,org_1,"assigned as the primary CSM, replacing m3")', 'a secondary asked for as primary is promoted');
SELECT is(pg_temp.owners('org_1'), 'm2*=10.000', 'one relationship left: the promoted primary, with the account''s load');
SELECT is(pg_temp.ended('org_1'), 'm1:replaced by m3 m2:promoted to primary m3:promoted by hand',
          'ended relationships are kept, each with why it ended (the reason given, or who replaced it)');
SELECT is(pg_temp.log('org_1'),
          'assign/t/m1/f assign/f/m2/analytics/f assign/t/m1/m3/f promote/t/m3/m2/promoted by hand/f',
          'the audit rows: action, primary, old and new member, reason; no rule');
SELECT is((SELECT count(*) FROM csm.assignment_log l JOIN csm.account a USING (account_id)
           WHERE a.external_id = 'org_1' AND (l.actor <> current_user OR l.at <> now())), 0::bigint,
          'audit rows name the session''s role and time');

-- A secondary promoted where there is no primary: nobody replaced.
SELECT is(pg_temp.res('org_2', 'm1', false), '(t,m1,f,org_2,"assigned as a secondary CSM")', 'a secondary, no primary');
UPDATE csm.team_member SET capacity = 0 WHERE handle = 'cap0';
SELECT is(pg_temp.res('org_2', 'cap0', false), '(f,cap0,f,org_2,"cap0 is at capacity (0.00 of 0 load units in use)")',
          'capacity 0: nothing fits');
INSERT INTO csm.segment_weight VALUES ('smb', 50);
SELECT is(pg_temp.res('org_2', 'm1'), '(t,m1,t,org_2,"assigned as the primary CSM")', 'a promotion with no primary to replace');
SELECT is(pg_temp.owners('org_2'), 'm1*=1.000', 'a promotion keeps the load the relationship had, not today''s segment weight');
SELECT is(pg_temp.log('org_2'), 'assign/f/m1/f promote/t/m1/f', 'logged as a promotion, replacing nobody');

-- Capacity: the load in use, with room for rounding.
SELECT is(pg_temp.res('mm_1', 'cap10'), '(t,cap10,t,mm_1,"assigned as the primary CSM")', 'a mid-market account (3.33 units)');
SELECT is(pg_temp.res('mm_2', 'cap10', false), '(t,cap10,f,mm_2,"assigned as a secondary CSM")', 'a second (6.67)');
SELECT is(pg_temp.res('mm_3', 'cap10'), '(t,cap10,t,mm_3,"assigned as the primary CSM")',
          'a third fills capacity 10 exactly, within rounding');
SELECT is(pg_temp.res('mm_4', 'cap10'), '(f,cap10,t,mm_4,"cap10 is at capacity (10.00 of 10 load units in use)")',
          'a fourth: at capacity, with the load in use');
UPDATE csm.team_member SET capacity = 4 WHERE handle = 'cap10';
SELECT is(pg_temp.res('mm_2', 'cap10'), '(t,cap10,t,mm_2,"assigned as the primary CSM")',
          'a member over capacity may still be promoted: the account''s load is theirs already');
SELECT is((SELECT row(accounts, primaries, round(load::numeric, 6))::text FROM csm_internal.member_load l
           JOIN csm.team_member m USING (member_id) WHERE m.handle = 'cap10'), '(3,3,10.000000)',
          'member_load counts accounts, primaries and load');

-- Continuity: a primary a rule made stays for the rule's minimum tenure.
INSERT INTO csm.routing_rule (name, target_kind, target, strategy, min_tenure) VALUES ('keep', 'team', 'east', 'round_robin', '90 days');
SELECT is((SELECT assigned_csm FROM csm.csm_auto_assign('rule_1', 'east')) IS NOT NULL, true, 'a rule assigns a primary');
SELECT is(pg_temp.res('rule_1', 'solo'), '(f,solo,t,rule_1,"continuity: rule keep keeps the primary it assigned for 90 days")',
          'continuity: a primary by hand is refused within the rule''s tenure');
SELECT is(pg_temp.res('rule_1', 'solo', false), '(t,solo,f,rule_1,"assigned as a secondary CSM")', 'a secondary is not held by continuity');
SELECT is(pg_temp.res('rule_1', 'solo'), '(f,solo,t,rule_1,"continuity: rule keep keeps the primary it assigned for 90 days")',
          'nor is a secondary promoted over it');
UPDATE csm.routing_rule SET min_tenure = '0' WHERE name = 'keep';
SELECT alike(pg_temp.res('rule_1', 'solo'), '(t,solo,t,rule_1,"assigned as the primary CSM, replacing m_")',
            'a tenure of 0: replaced at once');
UPDATE csm.routing_rule SET min_tenure = '90 days' WHERE name = 'keep';
SELECT is((SELECT assigned_csm FROM csm.csm_auto_assign('rule_2', 'east')) IS NOT NULL, true, 'a rule assigns another');
DELETE FROM csm.routing_rule WHERE name = 'keep';
SELECT alike(pg_temp.res('rule_2', 'solo'), '(t,solo,t,rule_2,"assigned as the primary CSM, replacing m_")',
            'the rule deleted: no tenure holds the primary');

-- The unassigned queue: a primary ends the account's wait, a secondary does not.
SELECT is((SELECT message FROM csm.csm_auto_assign('q_1')), 'no routing rule matches', 'an account is queued');
SELECT is(pg_temp.res('q_1', 'm1', false), '(t,m1,f,q_1,"assigned as a secondary CSM")', 'a secondary for it');
SELECT is(pg_temp.res('q_1', 'm2', true, repeat('r', 1000000)), '(t,m2,t,q_1,"assigned as the primary CSM")',
          'a primary, with a 1 MB reason');
SELECT is((SELECT array_agg(resolved_at IS NOT NULL) FROM csm.assignment_alert al JOIN csm.account a USING (account_id)
           WHERE a.external_id = 'q_1'), ARRAY[true], 'the primary resolved the alert');

SELECT * FROM finish();
ROLLBACK;
