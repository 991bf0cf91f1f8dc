-- Support conversations: every error path by SQLSTATE, and properties over
-- a random walk of inserts, resolves, reopens, moves by hand, agents coming
-- and going, limit changes and stale reassignment: csm_internal.agent_load equals a
-- recount, nobody is over their limit, nothing waits while someone could
-- take it, and the audit log's last move names the current assignee.
-- citus-differs: Citus refuses a NULL account_id with 22004 before PostgreSQL's 23502, reports a check violation of an INSERT ... SELECT as XX000 naming the shard, counts a deleted account's conversations off at the next settle (README "Support conversations on Citus"), and the random walk uses random() in UPDATEs of distributed tables, which Citus refuses.
BEGIN;
SELECT plan(48);

INSERT INTO csm.account (account_id, external_id) VALUES (1, 'tap_a'), (2, 'tap_b'), (3, 'tap_c');
INSERT INTO csm.team_member (handle, teams, status, active, conversation_limit) VALUES
    ('tap_on', '{t1}', 'online', true, 1), ('tap_off', '{t1}', 'offline', true, NULL),
    ('tap_gone', '{t1}', 'online', false, NULL);
CREATE TEMP VIEW tap_ids AS
SELECT (SELECT member_id FROM csm.team_member WHERE handle = 'tap_on') AS tap_on,
       (SELECT member_id FROM csm.team_member WHERE handle = 'tap_off') AS tap_off,
       (SELECT member_id FROM csm.team_member WHERE handle = 'tap_gone') AS tap_gone;
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (1, 1, 't1'), (1, 2, 't1');
INSERT INTO csm.conversation (account_id, conversation_id, team, status) VALUES (1, 3, 't1', 'resolved');

-- Conversations. -----------------------------------------------------------
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, status) VALUES (1, 't1', 'closed')$$,
                 '23514', NULL, 'an unknown status');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, csat) VALUES (1, 't1', 0)$$,
                 '23514', NULL, 'CSAT below 1');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, csat) VALUES (1, 't1', 6)$$,
                 '23514', NULL, 'CSAT above 5');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team) VALUES (1, '')$$,
                 '23514', NULL, 'an empty team');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team) VALUES (1, NULL)$$,
                 '23502', NULL, 'no team');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team) VALUES (NULL, 't1')$$,
                 '23502', NULL, 'no account');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team) VALUES (99, 't1')$$,
                 '23503', NULL, 'an unknown account, routed');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team) VALUES (99, 'nobody_here')$$,
                 '23503', NULL, 'an unknown account, queued');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, assignee) VALUES (1, 't1', -1)$$,
                 '23503', NULL, 'assigned on insert to an unknown member');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, assignee) SELECT 1, 't1', tap_gone FROM tap_ids$$,
                 '55000', NULL, 'assigned on insert to an inactive member');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, assignee) SELECT 1, 't1', tap_on FROM tap_ids$$,
                 '23514', NULL, 'assigned on insert to a member at their limit');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, assignee, assigned_at) VALUES (1, 't1', -1, now())$$,
                 '23503', NULL, 'imported with an unknown member');
SELECT throws_ok($$UPDATE csm.conversation SET assignee = -1 WHERE conversation_id = 2$$,
                 '23503', NULL, 'moved by hand to an unknown member');
SELECT throws_ok($$UPDATE csm.conversation SET assignee = (SELECT tap_gone FROM tap_ids) WHERE conversation_id = 2$$,
                 '55000', NULL, 'moved by hand to an inactive member');
SELECT throws_ok($$UPDATE csm.conversation SET assignee = (SELECT tap_on FROM tap_ids) WHERE conversation_id = 2$$,
                 '23514', NULL, 'moved by hand to a member at their limit');
SELECT throws_ok($$UPDATE csm.conversation SET status = 'open', assignee = (SELECT tap_on FROM tap_ids) WHERE conversation_id = 3$$,
                 '23514', NULL, 'reopened by hand to a member at their limit');
SELECT throws_ok($$UPDATE csm.conversation SET status = 'open', assignee = (SELECT tap_gone FROM tap_ids) WHERE conversation_id = 3$$,
                 '55000', NULL, 'reopened by hand to an inactive member');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, assignee, assigned_at, waiting_since)
                   SELECT 1, 't1', tap_off, now(), now() FROM tap_ids$$,
                 '23514', NULL, 'assigned and waiting at once');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, status, waiting_since) VALUES (1, 't1', 'resolved', now())$$,
                 '23514', NULL, 'resolved and waiting at once');
SELECT throws_ok($$UPDATE csm.conversation SET waiting_since = NULL WHERE conversation_id = 2$$,
                 '23514', NULL, 'unassigned and open but not waiting');
SELECT throws_ok($$UPDATE csm.conversation SET assigned_at = NULL WHERE conversation_id = 1$$,
                 '23514', NULL, 'an assignee without assigned_at');
SELECT throws_ok($$UPDATE csm.conversation SET resolved_at = now() WHERE conversation_id = 1$$,
                 '23514', NULL, 'resolved_at on an open conversation');
SELECT throws_ok($$UPDATE csm.conversation SET resolved_at = NULL WHERE conversation_id = 3$$,
                 '23514', NULL, 'a resolved conversation without resolved_at');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (1, 1, 'other')$$,
                 '23505', NULL, 'a duplicate conversation id within an account');
SELECT throws_ok($$DELETE FROM csm.team_member WHERE handle = 'tap_on'$$,
                 '23503', NULL, 'a member who holds conversations cannot be deleted');

-- Teams, load and functions. ------------------------------------------------
SELECT throws_ok($$INSERT INTO csm.support_team (team, strategy) VALUES ('x', 'random')$$, '23514', NULL, 'an unknown strategy');
SELECT throws_ok($$INSERT INTO csm.support_team (team, reassign_action) VALUES ('x', 'drop')$$, '23514', NULL, 'an unknown reassign action');
SELECT throws_ok($$INSERT INTO csm.support_team (team, reassign_after) VALUES ('x', '0')$$, '23514', NULL, 'reassign_after of zero');
SELECT throws_ok($$INSERT INTO csm.support_team (team, reassign_after) VALUES ('x', '-5 minutes')$$, '23514', NULL, 'a negative reassign_after');
SELECT throws_ok($$INSERT INTO csm.support_team (team, conversation_limit) VALUES ('x', -1)$$, '23514', NULL, 'a negative team limit');
SELECT throws_ok($$INSERT INTO csm.support_team (team) VALUES ('  ')$$, '23514', NULL, 'a blank team name');
SELECT throws_ok($$INSERT INTO csm.support_team (team) VALUES ('t1'), ('t1')$$, '23505', NULL, 'a team twice');
SELECT throws_ok($$UPDATE csm_internal.agent_load SET open_count = -1$$, '23514', NULL, 'a negative open count');
SELECT throws_ok($$SELECT csm.route_waiting('')$$, '22023', NULL, 'route_waiting of an empty team');
SELECT throws_ok($$SELECT csm.route_waiting(' ')$$, '22023', NULL, 'route_waiting of a blank team');
SELECT is(csm.route_waiting('no_such_team'), 0, 'route_waiting of a team nobody uses is 0, not an error');
SELECT is(csm.route_waiting(), 0, 'route_waiting of every team: nobody available');
SELECT is((SELECT count(*) FROM csm.reassign_stale()), 0::bigint, 'reassign_stale with nothing stale');
SELECT is(csm.rebuild_agent_load(), 0::bigint, 'rebuild_agent_load finds nothing to correct');
UPDATE csm_internal.agent_load SET open_count = 5 WHERE member_id = (SELECT tap_off FROM tap_ids);
SELECT is(csm.rebuild_agent_load(), 1::bigint, 'rebuild_agent_load corrects a drifted count');
DELETE FROM csm.account WHERE account_id = 1;
SELECT is((SELECT sum(open_count) FROM csm_internal.agent_load l JOIN tap_ids i ON l.member_id IN (i.tap_on, i.tap_off, i.tap_gone)),
          0::bigint, 'deleting an account frees its conversations'' agents');

-- Properties over a random walk. ---------------------------------------------
INSERT INTO csm.support_team (team, strategy, conversation_limit) VALUES ('t1', 'round_robin', 3), ('t2', 'balanced', NULL);
INSERT INTO csm.team_member (handle, teams, status, conversation_limit)
SELECT 'walk_' || i,
       CASE WHEN i = 1 THEN '{t1,t2}' WHEN i <= 4 THEN '{t1}' ELSE '{t2}' END::text[],
       CASE WHEN i % 2 = 0 THEN 'online' ELSE 'offline' END,
       CASE WHEN i = 1 THEN 2 WHEN i >= 5 THEN 2 + i % 3 END
FROM generate_series(1, 7) AS i;
SELECT setseed(0.42);

DO $$
DECLARE
    op float8;
    walkers bigint[] := ARRAY(SELECT member_id FROM csm.team_member WHERE handle LIKE 'walk_%' ORDER BY member_id);
    target record;
    who bigint;
BEGIN
    FOR step IN 1..1500 LOOP
        op := random();
        IF op < 0.28 THEN
            INSERT INTO csm.conversation (account_id, team)
            VALUES (2 + floor(random() * 2)::int, CASE WHEN random() < 0.6 THEN 't1' ELSE 't2' END);
        ELSIF op < 0.50 THEN
            UPDATE csm.conversation SET status = 'resolved', csat = 1 + floor(random() * 5)::int
            WHERE (account_id, conversation_id) IN (
                SELECT account_id, conversation_id FROM csm.conversation WHERE status <> 'resolved'
                ORDER BY random() LIMIT 1);
        ELSIF op < 0.56 THEN
            UPDATE csm.conversation SET status = CASE WHEN random() < 0.5 THEN 'open' ELSE 'pending' END
            WHERE (account_id, conversation_id) IN (
                SELECT account_id, conversation_id FROM csm.conversation WHERE status = 'resolved'
                ORDER BY random() LIMIT 1);
        ELSIF op < 0.68 THEN
            UPDATE csm.team_member
            SET status = (ARRAY['online', 'offline', 'away'])[1 + floor(random() * 3)::int]
            WHERE member_id = walkers[1 + floor(random() * 7)::int];
        ELSIF op < 0.70 THEN
            UPDATE csm.team_member SET active = NOT active WHERE member_id = walkers[1 + floor(random() * 7)::int];
        ELSIF op < 0.72 THEN
            -- limits only go up: a lowered limit may leave an agent over it
            IF random() < 0.5 THEN
                UPDATE csm.support_team SET conversation_limit = conversation_limit + 1 WHERE team = 't1';
            ELSE
                UPDATE csm.team_member SET conversation_limit = conversation_limit + 1
                WHERE member_id = walkers[1 + floor(random() * 7)::int];
            END IF;
        ELSIF op < 0.80 THEN
            -- by hand, to a member of the conversation's team; refusals are fine
            SELECT c.account_id, c.conversation_id, c.team INTO target FROM csm.conversation c
            WHERE c.status <> 'resolved' ORDER BY random() LIMIT 1;
            SELECT m.member_id INTO who FROM csm.team_member m
            WHERE target.team = ANY (m.teams) AND m.handle LIKE 'walk_%' ORDER BY random() LIMIT 1;
            BEGIN
                UPDATE csm.conversation c SET assignee = CASE WHEN random() < 0.2 THEN NULL ELSE who END
                WHERE c.account_id = target.account_id AND c.conversation_id = target.conversation_id;
            EXCEPTION WHEN check_violation OR object_not_in_prerequisite_state THEN
                NULL;
            END;
        ELSIF op < 0.86 THEN
            UPDATE csm.conversation SET first_response_at = now()
            WHERE (account_id, conversation_id) IN (
                SELECT account_id, conversation_id FROM csm.conversation
                WHERE assignee IS NOT NULL AND first_response_at IS NULL ORDER BY random() LIMIT 2);
        ELSIF op < 0.92 THEN
            UPDATE csm.team_member SET status_changed_at = now() - interval '1 hour'
            WHERE member_id = walkers[1 + floor(random() * 7)::int];
            UPDATE csm.conversation SET assigned_at = now() - interval '1 hour'
            WHERE (account_id, conversation_id) IN (
                SELECT account_id, conversation_id FROM csm.conversation
                WHERE assignee IS NOT NULL ORDER BY random() LIMIT 2);
            UPDATE csm.support_team SET reassign_action = (ARRAY['reassign', 'queue', 'keep'])[1 + floor(random() * 3)::int]
            WHERE team = CASE WHEN random() < 0.5 THEN 't1' ELSE 't2' END;
            PERFORM count(*) FROM csm.reassign_stale();
        ELSIF op < 0.95 THEN
            UPDATE csm.conversation SET team = CASE team WHEN 't1' THEN 't2' ELSE 't1' END
            WHERE (account_id, conversation_id) IN (
                SELECT account_id, conversation_id FROM csm.conversation WHERE waiting_since IS NOT NULL
                ORDER BY random() LIMIT 1);
        ELSIF op < 0.97 THEN
            DELETE FROM csm.conversation
            WHERE (account_id, conversation_id) IN (
                SELECT account_id, conversation_id FROM csm.conversation ORDER BY random() LIMIT 1);
        ELSE
            PERFORM csm.route_waiting(CASE WHEN random() < 0.5 THEN 't1' END);
        END IF;
    END LOOP;
END $$;

SELECT cmp_ok((SELECT count(*) FROM csm.conversation WHERE account_id IN (2, 3)), '>', 300::bigint,
              'the walk left plenty of conversations');
SELECT cmp_ok((SELECT count(DISTINCT action) FROM csm.assignment_log WHERE account_id IN (2, 3)), '=', 4::bigint,
              'the walk made every kind of move (route, reassign, requeue, reopen)');
SELECT is_empty($$
    SELECT l.member_id, l.open_count, n.n
    FROM csm_internal.agent_load l
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM csm.conversation c
                        WHERE c.assignee = l.member_id AND c.status <> 'resolved') n
    WHERE l.open_count <> n.n
$$, 'agent_load equals a recount from csm.conversation');
SELECT is_empty($$
    SELECT m.handle, l.open_count
    FROM csm_internal.agent_load l
    JOIN csm.team_member m ON m.member_id = l.member_id
    WHERE m.handle LIKE 'walk_%'
      AND l.open_count > coalesce(m.conversation_limit,
                                  (SELECT s.conversation_limit FROM csm.support_team s WHERE s.team = m.teams[1]),
                                  2147483647)
$$, 'no agent over their limit');
SELECT is_empty($$
    SELECT c.conversation_id, c.team
    FROM csm.conversation c
    WHERE c.waiting_since IS NOT NULL
      AND EXISTS (SELECT FROM csm.team_member m JOIN csm_internal.agent_load l ON l.member_id = m.member_id
                  WHERE c.team = ANY (m.teams) AND m.active AND m.status = 'online'
                    -- (the agent a stale conversation was taken from is kept out of it for the window)
                    AND NOT (m.member_id = c.excluded_member AND c.excluded_until > now())
                    AND l.open_count < coalesce(m.conversation_limit,
                                                (SELECT s.conversation_limit FROM csm.support_team s WHERE s.team = c.team),
                                                2147483647))
$$, 'nothing waits while an agent of its team could take it');
SELECT is_empty($$
    SELECT c.conversation_id, c.assignee, last.new_member_id
    FROM csm.conversation c
    LEFT JOIN LATERAL (SELECT l.new_member_id FROM csm.assignment_log l
                       WHERE l.account_id = c.account_id AND l.conversation_id = c.conversation_id
                       ORDER BY l.log_id DESC LIMIT 1) last ON true
    WHERE c.account_id IN (2, 3) AND last.new_member_id IS DISTINCT FROM c.assignee
$$, 'the last logged move of every conversation names its current assignee');
SELECT is_empty($$
    SELECT c.conversation_id, c.team, m.handle
    FROM csm.conversation c
    JOIN csm.team_member m ON m.member_id = c.assignee
    WHERE c.account_id IN (2, 3) AND NOT c.team = ANY (m.teams)
$$, 'every conversation is held by a member of its team');

SELECT * FROM finish();
ROLLBACK;
