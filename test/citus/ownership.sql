-- Ownership on a Citus cluster (csm.distribute() done): csm_assign,
-- csm_unassign, csm_auto_assign, routing rules and the routing triggers on
-- csm.account (a reference table: a copy on every node, each with the
-- triggers), the team_member triggers, release_member and deactivation,
-- account deletion, the assignment views and the audit log.  Each answer
-- is checked against a recount of its own, each side effect is counted (once,
-- not once per copy), and every copy of the reference tables touched is
-- compared row for row (run_command_on_placements).
--
-- Not in one transaction: run_command_on_placements reads each copy through
-- a connection of its own, which sees only committed rows.  The objects are
-- named ot_*, and the file removes them at the end, audit rows included.
--
--   pg_prove -h 127.0.0.1 -p COORDINATOR -d csm_citus test/citus/ownership.sql
-- (error: Citus warns that it keeps the pg_temp helpers below on the coordinator)
SET client_min_messages = error;
-- What an earlier run that stopped half way left (the same as the end).
DELETE FROM csm.routing_rule WHERE name LIKE 'ot\_%';
DELETE FROM csm.account WHERE external_id LIKE 'ot\_%';
DELETE FROM csm.team_member WHERE handle LIKE 'ot\_%';
DELETE FROM csm.segment WHERE name LIKE 'ot\_%';
BEGIN;
SET LOCAL citus.enable_unsafe_triggers = on;
ALTER TABLE csm.assignment_log DISABLE TRIGGER assignment_log_append_only;
DELETE FROM csm.assignment_log WHERE external_id LIKE 'ot\_%';
ALTER TABLE csm.assignment_log ENABLE TRIGGER assignment_log_append_only;
COMMIT;

SELECT plan(48);

-- Whether every copy of a reference table holds the same rows (those whose
-- key column starts with ot_, or all), and there are copies on at least two nodes.
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
-- (PL/pgSQL: Citus cannot plan the parameters of a SQL function)
CREATE FUNCTION pg_temp.res(org text, handle text, is_primary boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT row(r.*)::text FROM csm.csm_assign(org, handle, is_primary) r); END $$;
-- The current relationships of an account, 'handle*' for the primary, read
-- from csm.account_assignment (not from the view).
CREATE FUNCTION pg_temp.owners(org text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN
    RETURN (SELECT coalesce(string_agg(m.handle || CASE WHEN x.is_primary THEN '*' ELSE '' END, ' '
                               ORDER BY NOT x.is_primary, m.handle), '')
    FROM csm.account_assignment x JOIN csm.team_member m ON m.member_id = x.member_id
    WHERE x.ended_at IS NULL AND x.account_id = (SELECT a.account_id FROM csm.account a WHERE a.external_id = org) ); END $$;
-- Current primaries per member of a team, recounted.
CREATE FUNCTION pg_temp.books(team text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN
    RETURN (SELECT string_agg(b.handle || '=' || b.n, ' ' ORDER BY b.handle) FROM (
        SELECT m.handle, count(x.account_id) AS n
        FROM csm.team_member m
        LEFT JOIN csm.account_assignment x ON x.member_id = m.member_id AND x.is_primary AND x.ended_at IS NULL
        WHERE team = ANY (m.teams) GROUP BY m.handle) b); END $$;
-- Members ot_* whose csm_internal.member_load differs from a recount of their relationships.
CREATE FUNCTION pg_temp.load_drift() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN
    RETURN (SELECT count(*) FROM csm_internal.member_load l JOIN csm.team_member m USING (member_id)
            LEFT JOIN (SELECT x.member_id, count(*) AS accounts, count(*) FILTER (WHERE x.is_primary) AS primaries, sum(x.load) AS load
                       FROM csm.account_assignment x WHERE x.ended_at IS NULL GROUP BY x.member_id) r USING (member_id)
            WHERE m.handle LIKE 'ot\_%'
              AND (l.accounts <> coalesce(r.accounts, 0) OR l.primaries <> coalesce(r.primaries, 0)
                   OR abs(l.load - coalesce(r.load, 0)) > 1e-9)); END $$;
-- Log actions of an account, in order.
CREATE FUNCTION pg_temp.log(org text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN
    RETURN (SELECT string_agg(l.action, ' ' ORDER BY l.log_id) FROM csm.assignment_log l WHERE l.external_id = org ); END $$;

-- The file's own segments (an account's segment must be in csm.segment).
INSERT INTO csm.segment (name, csm_ratio, touch_model, review_cadence) VALUES
    ('ot_smb', 100, 'low_touch', '1 year'), ('ot_ent', 10, 'high_touch', '3 months');

-- Members: the insert trigger makes each one lock row, once ------------------
INSERT INTO csm.team_member (handle, teams, roles, capacity) VALUES
    ('ot_ann', '{ot_a}', '{csm}', NULL), ('ot_bob', '{ot_a}', '{csm}', NULL), ('ot_cat', '{ot_a}', '{csm}', NULL),
    ('ot_dan', '{ot_b}', '{csm}', 25), ('ot_eve', '{ot_b}', '{csm}', NULL);
SELECT is((SELECT count(*) FROM csm_internal.member_lock k JOIN csm.team_member m USING (member_id) WHERE m.handle LIKE 'ot\_%'),
          5::bigint, 'team_member insert: one lock row per member (the trigger acted once, on the coordinator)');
SELECT is(pg_temp.copies_agree('csm.team_member', 'member_id', $$handle LIKE 'ot\_%'$$), 'same on 3 nodes',
          'team_member: every copy holds the same rows');
SELECT is(pg_temp.copies_agree('csm_internal.member_lock', 'member_id'), 'same on 3 nodes', 'member_lock: every copy the same');

INSERT INTO csm.account (external_id, segment)
SELECT 'ot_' || i, CASE WHEN i IN (2, 3) THEN 'strategic' ELSE 'smb' END FROM generate_series(1, 12) i;
SELECT is(pg_temp.copies_agree('csm.account', 'account_id', $$external_id LIKE 'ot\_%'$$), 'same on 3 nodes',
          'account insert: every copy holds the same rows (created_at, updated_at included)');

-- csm_assign and csm_unassign ----------------------------------------------
SELECT is(pg_temp.res('ot_1', 'ot_ann'), '(t,ot_ann,t,ot_1,"assigned as the primary CSM")', 'csm_assign: a first primary');
SELECT is(pg_temp.res('ot_1', 'ot_bob'), '(t,ot_bob,t,ot_1,"assigned as the primary CSM, replacing ot_ann")',
          'csm_assign: a new primary replaces the old');
SELECT is(pg_temp.res('ot_1', 'ot_cat', false), '(t,ot_cat,f,ot_1,"assigned as a secondary CSM")', 'csm_assign: a secondary');
SELECT is(pg_temp.res('ot_1', 'ot_cat', false), '(t,ot_cat,f,ot_1,"already a secondary CSM")', 'csm_assign: again, a no-op');
SELECT is(pg_temp.res('ot_1', 'ot_cat'), '(t,ot_cat,t,ot_1,"assigned as the primary CSM, replacing ot_bob")',
          'csm_assign: a secondary promoted to primary');
SELECT is(pg_temp.owners('ot_1'), 'ot_cat*', 'ot_1: one current relationship, the promoted primary');
SELECT is(pg_temp.log('ot_1'), 'assign assign assign promote', 'ot_1: one audit row per change');
SELECT is(pg_temp.res('ot_2', 'ot_dan'), '(t,ot_dan,t,ot_2,"assigned as the primary CSM")', 'csm_assign: a strategic account (20 of 25)');
SELECT is(pg_temp.res('ot_3', 'ot_dan'), '(f,ot_dan,t,ot_3,"ot_dan is at capacity (20.00 of 25 load units in use)")',
          'csm_assign: refused at capacity');
SELECT is(csm.csm_unassign('ot_1', 'ot_cat'), true, 'csm_unassign: ends the relationship');
SELECT is(csm.csm_unassign('ot_1', 'ot_cat'), false, 'csm_unassign: again, there is none');
SELECT throws_ok($$SELECT csm.csm_assign('ot_nope', 'ot_ann')$$, 'P0002', NULL, 'csm_assign: unknown account is P0002');
SELECT throws_ok($$SELECT csm.csm_unassign('ot_1', 'ot_nobody')$$, 'P0002', NULL, 'csm_unassign: unknown member is P0002');

-- csm_auto_assign, the queue ----------------------------------------------------
SELECT is((SELECT message FROM csm.csm_auto_assign('ot_4')), 'no routing rule matches', 'csm_auto_assign without rules: queued');
SELECT is((SELECT row(assigned_csm, message)::text FROM csm.csm_auto_assign('ot_5', 'ot_b')),
          '(ot_eve,"primary by rule pool ot_b (least_loaded)")',
          'csm_auto_assign into a pool: least loaded (ot_dan carries 20 of 25)');
SELECT is((SELECT string_agg(q.external_id || ':' || coalesce(q.kind, '-'), ' ' ORDER BY q.account_id)
           FROM csm.unassigned_queue q WHERE q.external_id LIKE 'ot\_%'),
          (SELECT string_agg(a.external_id || ':' || CASE a.external_id WHEN 'ot_4' THEN 'no_rule' ELSE '-' END, ' ' ORDER BY a.account_id)
           FROM csm.account a
           WHERE a.external_id LIKE 'ot\_%'
             AND a.account_id <> ALL (ARRAY(SELECT x.account_id FROM csm.account_assignment x WHERE x.is_primary AND x.ended_at IS NULL))),
          'unassigned_queue: the accounts without a primary, ot_4 with its alert');

-- Routing rules and the triggers on csm.account --------------------------------
INSERT INTO csm.routing_rule (name, condition, target_kind, target, strategy) VALUES
    ('ot_rr', 'segment = ''ot_smb''', 'team', 'ot_a', 'round_robin'),
    ('ot_ent', 'segment = ''ot_ent''', 'member', 'ot_eve', 'least_loaded');
INSERT INTO csm.account (external_id, segment) SELECT 'ot_r' || i, 'ot_smb' FROM generate_series(1, 9) i;
SELECT is(pg_temp.books('ot_a'), 'ot_ann=3 ot_bob=3 ot_cat=3',
          'a multi-row insert of 9 accounts: routed round robin, 3 each');
SELECT is((SELECT count(*) FROM csm.assignment_log l WHERE l.external_id LIKE 'ot\_r%' AND l.action = 'assign'), 9::bigint,
          'the insert trigger routed each account once (9 audit rows, not one per copy of csm.account)');
SELECT is((SELECT count(*) FROM csm.account_assignment x JOIN csm.account a USING (account_id)
           WHERE a.external_id LIKE 'ot\_r%' AND x.is_primary AND x.ended_at IS NULL), 9::bigint,
          'each of the 9 has exactly one current primary');
SELECT is((SELECT message FROM csm.csm_auto_assign('ot_r1')), 'already owned under rule ot_rr', 'csm_auto_assign: continuity');

UPDATE csm.account SET segment = 'ot_ent' WHERE external_id = 'ot_r1';
SELECT is(pg_temp.owners('ot_r1'), 'ot_eve*', 'UPDATE of segment on csm.account: the trigger reassigned by rule ot_ent');
SELECT is(pg_temp.log('ot_r1'), 'assign assign', 'the update trigger acted once');
SELECT is(pg_temp.copies_agree('csm.account', 'account_id', $$external_id LIKE 'ot\_%'$$), 'same on 3 nodes',
          'after an UPDATE: every copy of csm.account the same (updated_at is the same on every node)');
SELECT ok((SELECT updated_at > created_at FROM csm.account WHERE external_id = 'ot_r1'), 'updated_at moved on');
UPDATE csm.account SET status = 'churned' WHERE external_id = 'ot_12';
SELECT ok((SELECT churned_at IS NOT NULL FROM csm.account WHERE external_id = 'ot_12'), 'churned: churned_at set');
SELECT is(pg_temp.copies_agree('csm.account', 'account_id', $$external_id LIKE 'ot\_%'$$), 'same on 3 nodes',
          'after churn: every copy the same (churned_at too)');
UPDATE csm.team_member SET status = 'away' WHERE handle = 'ot_dan';
SELECT is(pg_temp.copies_agree('csm.team_member', 'member_id', $$handle LIKE 'ot\_%'$$), 'same on 3 nodes',
          'after a status change: every copy of team_member the same (status_changed_at too)');
SELECT is(pg_temp.copies_agree('csm_internal.member_load', 'member_id'), 'same on 3 nodes', 'member_load: every copy the same');

-- Departures: release_member, and deactivation through the trigger ----------------
SELECT is(csm.release_member('ot_bob'), 3, 'release_member: hands over 3 accounts');
SELECT is(pg_temp.books('ot_a'), 'ot_ann=4 ot_bob=0 ot_cat=4',
          'their book went to the least loaded of the team (ot_ann had 2, ot_cat 3)');
UPDATE csm.team_member SET active = false WHERE handle = 'ot_cat';
SELECT is(pg_temp.books('ot_a'), 'ot_ann=4 ot_bob=4 ot_cat=0',
          'deactivating a member: the trigger handed their book over (to ot_bob, released but active, and least loaded)');
SELECT is((SELECT count(*) FROM csm.assignment_log l WHERE l.external_id LIKE 'ot\_%' AND l.action = 'handoff'), 7::bigint,
          'one handoff audit row per account moved (3 + 4)');

-- Load and views, against recounts --------------------------------------------------
SELECT is(pg_temp.load_drift(), 0::bigint, 'member_load equals a recount from account_assignment');
SELECT is((SELECT string_agg(w.handle || ':' || w.accounts || '/' || w.primaries || '/' || round(w.load::numeric, 2), ' ' ORDER BY w.handle)
           FROM csm.assignment_workload w WHERE w.handle LIKE 'ot\_%'),
          (SELECT string_agg(r.handle || ':' || r.accounts || '/' || r.primaries || '/' || round(r.load::numeric, 2), ' ' ORDER BY r.handle)
           FROM (SELECT m.handle, count(x.account_id) AS accounts, count(x.account_id) FILTER (WHERE x.is_primary) AS primaries,
                        coalesce(sum(x.load), 0) AS load
                 FROM csm.team_member m LEFT JOIN csm.account_assignment x ON x.member_id = m.member_id AND x.ended_at IS NULL
                 WHERE m.handle LIKE 'ot\_%' GROUP BY m.handle) r),
          'assignment_workload: accounts, primaries and load per member, as recounted');
SELECT is((SELECT count(*) FROM csm.assignment v WHERE v.external_id LIKE 'ot\_%'),
          (SELECT count(*) FROM csm.account_assignment x JOIN csm.account a USING (account_id)
           WHERE a.external_id LIKE 'ot\_%' AND x.ended_at IS NULL),
          'assignment: one row per current relationship');

-- The audit log is append-only on its shards too -----------------------------------
SELECT throws_ok($$UPDATE csm.assignment_log SET reason = 'x' WHERE external_id = 'ot_1'$$, '42501', NULL,
                 'assignment_log: UPDATE refused (42501)');
SELECT throws_ok($$DELETE FROM csm.assignment_log WHERE external_id = 'ot_1'$$, '42501', NULL,
                 'assignment_log: DELETE refused (42501)');

-- Deleting accounts, and what depends on them --------------------------------------
SELECT lives_ok($$DELETE FROM csm.account WHERE external_id IN ('ot_r2', 'ot_r3', 'ot_4')$$, 'DELETE of accounts works');
SELECT is((SELECT count(*) FROM csm.account_assignment x WHERE x.account_id NOT IN (SELECT a.account_id FROM csm.account a)),
          0::bigint, 'their relationships went with them');
SELECT is((SELECT count(*) FROM csm.assignment_alert x WHERE x.account_id NOT IN (SELECT a.account_id FROM csm.account a)),
          0::bigint, 'and their alerts');
SELECT is((SELECT string_agg(DISTINCT l.external_id, ' ') FROM csm.assignment_log l
           WHERE l.external_id IN ('ot_r2', 'ot_r3', 'ot_4')), 'ot_4 ot_r2 ot_r3', 'their audit rows stay, with their external_id');
SELECT is(pg_temp.books('ot_a'), 'ot_ann=3 ot_bob=3 ot_cat=0', 'their owners'' books lost them');
SELECT is(pg_temp.load_drift(), 0::bigint, 'and their counters (member_load equals a recount)');
SELECT is(pg_temp.copies_agree('csm.account', 'account_id', $$external_id LIKE 'ot\_%'$$), 'same on 3 nodes',
          'after the DELETE: every copy of csm.account the same');

SELECT * FROM finish();

-- Clean up: rules, accounts (their relationships and alerts go with them),
-- members, and the audit rows of this file.
DELETE FROM csm.routing_rule WHERE name LIKE 'ot\_%';
DELETE FROM csm.account WHERE external_id LIKE 'ot\_%';
DELETE FROM csm.team_member WHERE handle LIKE 'ot\_%';
DELETE FROM csm.segment WHERE name LIKE 'ot\_%';
BEGIN;
SET LOCAL citus.enable_unsafe_triggers = on;
ALTER TABLE csm.assignment_log DISABLE TRIGGER assignment_log_append_only;
DELETE FROM csm.assignment_log WHERE external_id LIKE 'ot\_%';
ALTER TABLE csm.assignment_log ENABLE TRIGGER assignment_log_append_only;
COMMIT;
