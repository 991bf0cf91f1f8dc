-- Segmentation on a Citus cluster (csm.distribute() done): csm.segment and
-- csm.segment_rule are reference tables, and the trigger that derives
-- csm.account.segment fires on every node's copy of csm.account, which must
-- all end with the same segment; set_segment, refresh_segments, the
-- capacity from the ratios in csm_assign and csm_auto_assign, and the views
-- give the single-node answers (the same as sql/segment.sql and
-- test/pgtap/segment.sql).
--
-- Not in one transaction: run_command_on_placements reads each copy through
-- a connection of its own, which sees only committed rows.  The objects are
-- named sg_*, and the file removes them at the end.
--
--   pg_prove -h 127.0.0.1 -p COORDINATOR -d csm_citus test/citus/segment.sql
SET client_min_messages = error;
DELETE FROM csm.routing_rule WHERE name LIKE 'sg\_%';
DELETE FROM csm.account WHERE external_id LIKE 'sg\_%';
DELETE FROM csm.team_member WHERE handle LIKE 'sg\_%';
DELETE FROM csm.segment_rule WHERE description = 'sg';
DELETE FROM csm.segment WHERE name LIKE 'sg\_%';

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

SELECT is((SELECT string_agg(relation::text || '=' || kind, ' ' ORDER BY relation::text) FROM csm_internal._distribution()
           WHERE relation::text IN ('csm.segment', 'csm.segment_rule')),
          'csm.segment=reference csm.segment_rule=reference', 'segments and their rules are reference tables');

-- Derived on insert, on every copy alike (INSERT ... VALUES and INSERT ... SELECT).
INSERT INTO csm.account (external_id, arr, seats) VALUES
    ('sg_ent', 500000, 1000), ('sg_mid', 50000, 120), ('sg_small', 9000, 12), ('sg_rich_few_seats', 500000, 10),
    ('sg_poor_many_seats', 10000, 300), ('sg_seats_only', NULL, 800), ('sg_nothing', NULL, NULL);
INSERT INTO csm.account (external_id, arr, seats)
SELECT 'sg_gen_' || i, (i * 7919) % 200000, (i * 104729) % 1000 FROM generate_series(1, 300) i;
SELECT is((SELECT string_agg(external_id || '=' || segment, ' ' ORDER BY account_id) FROM csm.account
           WHERE external_id LIKE 'sg\_%' AND external_id NOT LIKE 'sg\_gen\_%'),
          'sg_ent=enterprise sg_mid=mid_market sg_small=smb sg_rich_few_seats=enterprise sg_poor_many_seats=smb sg_seats_only=enterprise sg_nothing=smb',
          'derived as on one node, accounts matching no seed range included');
SELECT is((SELECT count(*)::integer FROM csm.account WHERE external_id LIKE 'sg\_gen\_%'
           AND segment IS DISTINCT FROM csm.segment_for(jsonb_build_object('arr', arr, 'seats', seats))), 0,
          'INSERT ... SELECT: every generated account has the segment segment_for gives');
SELECT is(pg_temp.copies_agree('csm.account', 'account_id', $$external_id LIKE 'sg\_%'$$), 'same on 3 nodes',
          'every copy of csm.account has the same segments');

-- Manual, set_segment, unknown names.
INSERT INTO csm.account (external_id, arr, seats, segment) VALUES ('sg_key', 1000, 3, 'strategic');
UPDATE csm.account SET arr = 900000, seats = 900 WHERE external_id IN ('sg_key', 'sg_small');
SELECT is((SELECT string_agg(external_id || '=' || segment || '/' || segment_manual, ' ' ORDER BY external_id) FROM csm.account
           WHERE external_id IN ('sg_key', 'sg_small')),
          'sg_key=strategic/true sg_small=enterprise/false', 'a manual segment sticks, a derived one follows ARR and seats');
SELECT is(csm.set_segment('sg_key', NULL), 'enterprise', 'set_segment(NULL) derives it again');
SELECT is(csm.set_segment('sg_mid', 'strategic'), 'strategic', 'set_segment by hand');
SELECT throws_ok($$INSERT INTO csm.account (external_id, segment) VALUES ('sg_typo', 'mid-market')$$, '23503', NULL,
                 'an unknown segment is refused (23503)');
SELECT is(pg_temp.copies_agree('csm.account', 'account_id', $$external_id LIKE 'sg\_%'$$), 'same on 3 nodes',
          'after manual changes, every copy agrees');

-- A rule on a property, then refresh_segments.
INSERT INTO csm.segment_rule (priority, segment, condition, description) VALUES (5, 'strategic', 'property.sg_key = ''yes''', 'sg');
SELECT is(csm.refresh_segments(), 0::bigint, 'a new rule nobody matches changes nothing');
UPDATE csm.account SET properties = '{"sg_key": "yes"}' WHERE external_id = 'sg_poor_many_seats';
SELECT is((SELECT segment FROM csm.account WHERE external_id = 'sg_poor_many_seats'), 'strategic', 'a property change re-derives');
UPDATE csm.segment_rule SET enabled = false WHERE description = 'sg';
SELECT is(csm.refresh_segments(), 1::bigint, 'refresh_segments after the rule is disabled moves that account back');
SELECT is(pg_temp.copies_agree('csm.account', 'account_id', $$external_id LIKE 'sg\_%'$$), 'same on 3 nodes',
          'after refresh_segments, every copy agrees');

-- Capacity from the ratios: a member without a capacity holds 5 strategic
-- accounts by hand, 10 enterprise accounts by a rule; the rest are queued.
INSERT INTO csm.team_member (handle, teams, capacity) VALUES ('sg_kam', '{sg_k}', NULL), ('sg_ent', '{sg_e}', NULL);
INSERT INTO csm.account (external_id, segment) SELECT 'sg_key_' || i, 'strategic' FROM generate_series(1, 6) i;
SELECT is((SELECT string_agg(r.assignment_success::text, ',' ORDER BY a.account_id)
           FROM csm.account a, LATERAL csm.csm_assign(a.external_id, 'sg_kam') r WHERE a.external_id LIKE 'sg\_key\_%'),
          'true,true,true,true,true,false', 'csm_assign: 5 strategic accounts fit a NULL capacity, a sixth does not');
INSERT INTO csm.routing_rule (name, priority, condition, target_kind, target)
VALUES ('sg_ent', 1, 'external_id IN (''sg_e_1'', ''sg_e_2'', ''sg_e_3'', ''sg_e_4'', ''sg_e_5'', ''sg_e_6'', ''sg_e_7'', ''sg_e_8'', ''sg_e_9'', ''sg_e_10'', ''sg_e_11'')', 'team', 'sg_e');
INSERT INTO csm.account (external_id, segment) SELECT 'sg_e_' || i, 'enterprise' FROM generate_series(1, 11) i;
SELECT is((SELECT accounts || '/' || effective_capacity || '/' || capacity_from_ratio || '/' || utilisation
           FROM csm.assignment_workload WHERE handle = 'sg_ent'), '10/100/true/1.000',
          'csm_auto_assign: 10 enterprise accounts fill a NULL capacity');
SELECT is((SELECT kind FROM csm.unassigned_queue WHERE external_id = 'sg_e_11'), 'no_capacity',
          'the eleventh waits in the unassigned queue, its reason no_capacity');

-- Multi-row inserts into the reference tables: Citus COPYs them to every
-- node at once, and the trigger of each copy must not run a distributed
-- query meanwhile ("another command is already in progress").
SELECT lives_ok($$INSERT INTO csm.segment (name, csm_ratio, touch_model, review_cadence)
                  SELECT 'sg_m' || i, 10 * i, 'low_touch', '1 year' FROM generate_series(1, 3) i$$,
                'a multi-row INSERT ... SELECT into csm.segment');
SELECT lives_ok($$INSERT INTO csm.segment_rule (priority, segment, condition, description)
                  VALUES (1001, 'sg_m1', 'arr < -1', 'sg'), (1002, 'sg_m2', 'arr < -2', 'sg')$$,
                'a multi-row INSERT ... VALUES into csm.segment_rule');
-- A restore: changed built-in rows inserted over the seeded ones, several
-- at once, update them on every node alike.
CREATE TEMP TABLE sg_restore_segment AS
    SELECT name, csm_ratio * 2 AS csm_ratio, touch_model, review_cadence, description, false AS builtin
    FROM csm.segment WHERE name IN ('smb', 'mid_market');
CREATE TEMP TABLE sg_restore_rule AS
    SELECT rule_id, priority + 1 AS priority, segment, condition, enabled, description, false AS builtin
    FROM csm.segment_rule WHERE rule_id IN (8, 9);
SELECT lives_ok($$INSERT INTO csm.segment SELECT * FROM sg_restore_segment$$,
                'a restore''s multi-row insert of changed built-in segments');
SELECT lives_ok($$INSERT INTO csm.segment_rule SELECT * FROM sg_restore_rule$$,
                'a restore''s multi-row insert of changed built-in segment rules');
SELECT is((SELECT string_agg(name || '=' || csm_ratio || '/' || builtin, ' ' ORDER BY name) FROM csm.segment
           WHERE name IN ('smb', 'mid_market'))
          || ' ' || (SELECT string_agg(rule_id || '=' || priority || '/' || builtin, ' ' ORDER BY rule_id) FROM csm.segment_rule
                     WHERE rule_id IN (8, 9)),
          'mid_market=60/false smb=200/false 8=81/false 9=91/false', 'the restore updated the seeded rows');
SELECT is(pg_temp.copies_agree('csm.segment', 'name') || ', ' || pg_temp.copies_agree('csm.segment_rule', 'rule_id'),
          'same on 3 nodes, same on 3 nodes', 'every copy of csm.segment and csm.segment_rule agrees');
UPDATE csm.segment SET csm_ratio = CASE name WHEN 'smb' THEN 100 ELSE 30 END, builtin = true WHERE name IN ('smb', 'mid_market');
UPDATE csm.segment_rule SET priority = rule_id * 10, builtin = true WHERE rule_id IN (8, 9);

SELECT * FROM finish();

DELETE FROM csm.routing_rule WHERE name LIKE 'sg\_%';
DELETE FROM csm.account WHERE external_id LIKE 'sg\_%';
DELETE FROM csm.team_member WHERE handle LIKE 'sg\_%';
DELETE FROM csm.segment_rule WHERE description = 'sg';
