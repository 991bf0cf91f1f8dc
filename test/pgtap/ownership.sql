-- Ownership: every error path by SQLSTATE, and a random walk of assignments,
-- rules, departures and capacity changes after which the invariants hold.
BEGIN;
SELECT plan(37);

INSERT INTO csm.team_member (handle, roles, teams, capacity)
SELECT 'm' || i, ARRAY['csm'], ARRAY[CASE WHEN i <= 4 THEN 'east' ELSE 'west' END], 10 + 10 * (i % 3)
FROM generate_series(1, 8) i;
INSERT INTO csm.account (external_id, segment, plan)
SELECT 'org_' || i, (ARRAY['smb', 'mid_market', 'enterprise', 'strategic'])[1 + i % 4], (ARRAY['growth', 'pro'])[1 + i % 2]
FROM generate_series(1, 60) i;

-- Errors ---------------------------------------------------------------------
SELECT throws_ok($$SELECT csm.csm_assign('nope', 'm1')$$, 'P0002', NULL, 'csm_assign: unknown account is P0002');
SELECT throws_ok($$SELECT csm.csm_assign('org_1', 'nobody')$$, 'P0002', NULL, 'csm_assign: unknown member is P0002');
SELECT throws_ok($$SELECT csm.csm_assign(NULL, 'm1')$$, '22004', NULL, 'csm_assign: NULL account is 22004');
SELECT throws_ok($$SELECT csm.csm_assign('org_1', NULL)$$, '22004', NULL, 'csm_assign: NULL member is 22004');
SELECT throws_ok($$SELECT csm.csm_assign('org_1', 'm1', NULL)$$, '22004', NULL, 'csm_assign: NULL is_primary is 22004');
SELECT throws_ok($$SELECT csm.csm_unassign('nope', 'm1')$$, 'P0002', NULL, 'csm_unassign: unknown account is P0002');
SELECT throws_ok($$SELECT csm.csm_unassign('org_1', 'nobody')$$, 'P0002', NULL, 'csm_unassign: unknown member is P0002');
SELECT throws_ok($$SELECT csm.csm_auto_assign('nope')$$, 'P0002', NULL, 'csm_auto_assign: unknown account is P0002');
SELECT throws_ok($$SELECT csm.csm_auto_assign(NULL)$$, '22004', NULL, 'csm_auto_assign: NULL account is 22004');
SELECT throws_ok($$SELECT csm.csm_auto_assign('')$$, 'P0002', NULL, 'csm_auto_assign: an empty account id is P0002');
SELECT throws_ok(format('SELECT csm.csm_auto_assign(%L)', repeat('x', 1000000)), 'P0002', NULL,
                 'csm_auto_assign: a 1 MB account id is P0002');
SELECT throws_ok($$SELECT csm.release_member('nobody')$$, 'P0002', NULL, 'release_member: unknown member is P0002');
SELECT throws_ok($$INSERT INTO csm.routing_rule (name, condition, target_kind, target) VALUES ('x', 'plan ==', 'team', 'east')$$,
                 '42601', NULL, 'a rule with a malformed condition is refused (42601)');
SELECT throws_ok($$INSERT INTO csm.routing_rule (name, condition, target_kind, target) VALUES ('x', 'planet = ''x''', 'team', 'east')$$,
                 '42703', NULL, 'a rule reading an unknown attribute is refused (42703)');
SELECT throws_ok($$INSERT INTO csm.routing_rule (name, target_kind, target) VALUES ('x', 'squad', 'east')$$,
                 '23514', NULL, 'an unknown target kind is refused (23514)');
SELECT throws_ok($$INSERT INTO csm.routing_rule (name, target_kind, target, strategy) VALUES ('x', 'team', 'east', 'random')$$,
                 '23514', NULL, 'an unknown strategy is refused (23514)');
SELECT throws_ok($$INSERT INTO csm.routing_rule (name, target_kind, target, min_tenure) VALUES ('x', 'team', 'east', '-1 day')$$,
                 '23514', NULL, 'a negative minimum tenure is refused (23514)');
SELECT throws_ok($$INSERT INTO csm.segment_weight VALUES ('smb', 0)$$, '23514', NULL, 'a segment ratio of 0 is refused (23514)');
SELECT throws_ok($$SELECT csm_internal._start_assignment(NULL, 1, true, 1, NULL, NULL, 'assign', NULL)$$, '22004', NULL,
                 '_start_assignment refuses NULL keys (22004)');
SELECT lives_ok($$SELECT csm.csm_assign('org_1', 'm1')$$, 'a first primary');
SELECT is((SELECT message FROM csm.csm_auto_assign('org_2')), 'no routing rule matches',
          'csm_auto_assign with no rules: refused with a message');
SELECT is((SELECT message FROM csm.csm_auto_assign('org_4', 'nowhere')),
          'rule pool nowhere: no active member matches team nowhere', 'csm_auto_assign into a pool nobody is in');
SELECT is((SELECT assigned_csm FROM csm.csm_auto_assign('org_4', 'east')), 'm2',
          'csm_auto_assign into a pool without rules: least loaded (m1 carries org_1), then lowest id');
-- The internal C functions on NULL, empty, huge and malformed input.
SELECT is(csm_internal._pick_member('{}', 'round_robin', 1), NULL, '_pick_member of no candidates is NULL');
SELECT ok(csm_internal._pick_member(ARRAY(SELECT generate_series(1, 100000)::bigint), 'least_loaded', 1) IS NOT NULL,
          '_pick_member over 100000 ids, nearly all unknown, picks a member');
SELECT throws_ok($$SELECT csm_internal._pick_member(ARRAY[1::bigint], 'round_robin', 'NaN')$$, '22003', NULL,
                 '_pick_member refuses a NaN load (22003)');
SELECT throws_ok($$SELECT csm_internal._pick_member(ARRAY[1::bigint], 'round_robin', -1)$$, '22003', NULL,
                 '_pick_member refuses a negative load (22003)');
SELECT throws_ok($$SELECT csm_internal._start_assignment(1, 1, false, 'Infinity', NULL, NULL, 'assign', NULL)$$, '22003', NULL,
                 '_start_assignment refuses an infinite load (22003)');
SELECT is(csm_internal._apply_rule(1, NULL), NULL, '_apply_rule of a NULL rule is NULL (strict)');
SELECT throws_ok($$SELECT csm_internal._apply_rule(1, ROW(1, 'x', 1, true, NULL, NULL, 'rr', 'round_robin', '{}', true, '0', NULL)::csm.routing_rule)$$,
                 '22004', NULL, '_apply_rule refuses a rule without a target kind (22004)');
SELECT throws_ok($$SELECT csm_internal._apply_rule(-1, ROW(1, 'x', 1, true, NULL, 'team', 'east', 'round_robin', '{}', true, '0', NULL)::csm.routing_rule)$$,
                 'P0002', NULL, '_apply_rule of an unknown account is P0002');
-- VALUES, not INSERT ... SELECT: Citus reports a unique violation of an
-- INSERT ... SELECT into a distributed table as XX000, naming the shard.
SELECT throws_ok(format('INSERT INTO csm.account_assignment (account_id, member_id, is_primary, load) VALUES (%s, %s, true, 1)',
                        (SELECT account_id FROM csm.account WHERE external_id = 'org_1'),
                        (SELECT member_id FROM csm.team_member WHERE handle = 'm2')),
                 '23505', NULL, 'a second current primary is refused by the partial unique index (23505)');

-- A random walk ----------------------------------------------------------------
INSERT INTO csm.routing_rule (name, priority, condition, target_kind, target, strategy, is_primary) VALUES
    ('east growth', 10, 'plan = ''growth''', 'team', 'east', 'round_robin', true),
    ('west', 20, NULL, 'team', 'west', 'least_loaded', true),
    ('big deals', 5, 'segment IN (''enterprise'', ''strategic'')', 'role', 'csm', 'least_loaded', false);
SELECT setseed(0.42);
DO $$
DECLARE
    org text;
    member text;
    cap integer;
BEGIN
    FOR step IN 1..400 LOOP
        org := 'org_' || (1 + floor(random() * 60))::integer;
        member := 'm' || (1 + floor(random() * 8))::integer;
        CASE floor(random() * 8)::integer
            WHEN 0 THEN PERFORM csm.csm_assign(org, member, random() < 0.7, 'walk');
            WHEN 1 THEN PERFORM csm.csm_unassign(org, member);
            WHEN 2 THEN PERFORM csm.csm_auto_assign(org);
            WHEN 3 THEN PERFORM csm.csm_auto_assign(org, CASE WHEN random() < 0.5 THEN 'east' ELSE 'west' END);
            WHEN 4 THEN UPDATE csm.team_member SET active = NOT active WHERE handle = member;
            -- the value is drawn first: Citus refuses a VOLATILE function
            -- in an UPDATE of a reference table
            WHEN 5 THEN cap := (ARRAY[NULL, 0, 10, 20, 40])[1 + floor(random() * 5)::integer];
                        UPDATE csm.team_member SET capacity = cap WHERE handle = member;
            WHEN 6 THEN UPDATE csm.account SET plan = CASE WHEN plan = 'growth' THEN 'pro' ELSE 'growth' END
                        WHERE external_id = org;
            ELSE PERFORM csm.assign_queued();
        END CASE;
    END LOOP;
END $$;

SELECT is_empty($$
    SELECT account_id FROM csm.account_assignment WHERE is_primary AND ended_at IS NULL GROUP BY account_id HAVING count(*) > 1
$$, 'no account has two current primaries');
SELECT is_empty($$
    SELECT l.member_id, l.accounts, r.n, l.primaries, r.p, l.load, r.w FROM csm_internal.member_load l
    LEFT JOIN (SELECT member_id, count(*) AS n, count(*) FILTER (WHERE is_primary) AS p, sum(load) AS w
               FROM csm.account_assignment WHERE ended_at IS NULL GROUP BY member_id) r USING (member_id)
    WHERE l.accounts <> coalesce(r.n, 0) OR l.primaries <> coalesce(r.p, 0) OR abs(l.load - coalesce(r.w, 0)) > 1e-9
$$, 'member_load equals a recount of the current relationships');
SELECT is_empty($$
    SELECT a.account_id, m.handle FROM csm.account_assignment a JOIN csm.team_member m USING (member_id)
    WHERE a.ended_at IS NULL AND NOT m.active
$$, 'no inactive member owns an account');
SELECT is_empty($$
    SELECT a.account_id FROM csm.account_assignment a
    WHERE a.is_primary AND a.ended_at IS NULL
      AND NOT EXISTS (SELECT FROM csm.assignment_log l
                      WHERE l.account_id = a.account_id AND l.new_member_id = a.member_id AND l.is_primary
                        AND l.action IN ('assign', 'promote', 'handoff') AND l.at >= a.started_at)
$$, 'every current primary has the log row that made it');
SELECT is_empty($$
    SELECT al.account_id FROM csm.assignment_alert al
    WHERE al.resolved_at IS NULL
      AND EXISTS (SELECT FROM csm.account_assignment x WHERE x.account_id = al.account_id AND x.is_primary AND x.ended_at IS NULL)
$$, 'no open alert for an account that has a primary');

SELECT * FROM finish();
ROLLBACK;
