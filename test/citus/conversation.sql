-- Support conversations on a Citus cluster (csm.distribute() has run): every
-- path with plain statements, as a user writes them, and the answers a
-- single node gives, worked out by hand here (not by csm's functions):
-- routing on INSERT (one row and several), the queue when nobody is free,
-- resolve serving the oldest waiting one, reopen to the previous agent,
-- moves by hand and their errors, an agent coming online and a higher team
-- limit serving the queue, DELETE, reassign_stale, route_waiting,
-- agent_performance; after every step csm_internal.agent_load equals a recount, the
-- audit log has one row per move and nothing is left in
-- csm_internal.conversation_change.
--
--   pg_prove -h 127.0.0.1 -p <coordinator> -d csm_citus test/citus/conversation.sql
BEGIN;
SELECT plan(42);

INSERT INTO csm.account (account_id, external_id) SELECT i, 'tapconv_' || i FROM generate_series(9101, 9108) AS i;
INSERT INTO csm.support_team (team, strategy, conversation_limit, reassign_action) VALUES
    ('tapconv_rr', 'round_robin', 2, 'reassign');
INSERT INTO csm.team_member (handle, teams, status) VALUES
    ('tapconv_1', '{tapconv_rr}', 'online'), ('tapconv_2', '{tapconv_rr}', 'online'), ('tapconv_3', '{tapconv_rr}', 'offline');
INSERT INTO csm.team_member (handle, teams, status, active) VALUES ('tapconv_gone', '{tapconv_rr}', 'online', false);

-- Who holds what, by handle.  (Citus warns that temporary views stay local.)
SET client_min_messages = error;
CREATE TEMP VIEW conv AS
SELECT c.account_id AS a, m.handle, c.status, c.assignment_reason AS why, c.waiting_since IS NOT NULL AS waits,
       p.handle AS previous
FROM csm.conversation c
LEFT JOIN csm.team_member m ON m.member_id = c.assignee
LEFT JOIN csm.team_member p ON p.member_id = c.previous_assignee
WHERE c.account_id BETWEEN 9101 AND 9108;
-- agent_load against a recount of the conversations (the recount is an
-- intermediate result: Citus joins it with the reference table).
CREATE TEMP VIEW load_drift AS
WITH held AS MATERIALIZED (
    SELECT c.assignee, count(*) AS n FROM csm.conversation c
    WHERE c.status <> 'resolved' AND c.assignee IS NOT NULL GROUP BY c.assignee)
SELECT m.handle, l.open_count, coalesce(h.n, 0) AS recount
FROM csm.team_member m
JOIN csm_internal.agent_load l ON l.member_id = m.member_id
LEFT JOIN held h ON h.assignee = m.member_id
WHERE m.handle LIKE 'tapconv%' AND l.open_count <> coalesce(h.n, 0);
CREATE TEMP VIEW moves AS
SELECT l.account_id AS a, l.action, o.handle AS old, n.handle AS new, l.reason
FROM csm.assignment_log l
LEFT JOIN csm.team_member o ON o.member_id = l.old_member_id
LEFT JOIN csm.team_member n ON n.member_id = l.new_member_id
WHERE l.account_id BETWEEN 9101 AND 9108 AND l.conversation_id IS NOT NULL;
RESET client_min_messages;

-- A plain INSERT routes (round robin: the agent picked longest ago, then
-- the lowest member_id).
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (9101, 1, 'tapconv_rr');
SELECT results_eq($$SELECT handle, why, waits FROM conv WHERE a = 9101$$,
                  $$VALUES ('tapconv_1'::text, 'round_robin'::text, false)$$,
                  'a plain INSERT routes the conversation to an available agent of its team');
SELECT results_eq($$SELECT action, old, new, reason FROM moves WHERE a = 9101$$,
                  $$VALUES ('route'::text, NULL::text, 'tapconv_1'::text, 'round_robin'::text)$$,
                  'the route is logged once');
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load counts it');
SELECT is((SELECT count(*) FROM csm_internal.conversation_change), 0::bigint, 'nothing is left for the coordinator');

-- Several rows in one statement, on several shards: in the order given.
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES
    (9102, 1, 'tapconv_rr'), (9103, 1, 'tapconv_rr'), (9104, 1, 'tapconv_rr');
SELECT results_eq($$SELECT a, handle FROM conv WHERE a IN (9102, 9103, 9104) ORDER BY a$$,
                  $$VALUES (9102::bigint, 'tapconv_2'::text), (9103, 'tapconv_1'), (9104, 'tapconv_2')$$,
                  'a multi-row INSERT routes each row in turn, round robin');
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load counts them');

-- Both agents at the team limit of 2: the next ones wait, oldest first.
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (9105, 1, 'tapconv_rr');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (9106, 1, 'tapconv_rr');
SELECT results_eq($$SELECT a, handle, why, waits FROM conv WHERE a IN (9105, 9106) ORDER BY a$$,
                  $$VALUES (9105::bigint, NULL::text, 'nobody available'::text, true), (9106, NULL, 'nobody available', true)$$,
                  'nobody under the limit: the conversations wait in the queue');
SELECT is_empty($$SELECT * FROM moves WHERE a IN (9105, 9106)$$, 'waiting is not a move');
SELECT is((SELECT max(open_count) FROM csm_internal.agent_load l JOIN csm.team_member m USING (member_id)
           WHERE m.handle LIKE 'tapconv%'), 2, 'nobody is above the limit');

-- Resolving frees the agent, who takes the oldest waiting conversation.
UPDATE csm.conversation SET status = 'resolved', csat = 5 WHERE account_id = 9101;
SELECT results_eq($$SELECT a, handle, why, waits FROM conv WHERE a IN (9101, 9105, 9106) ORDER BY a$$,
                  $$VALUES (9101::bigint, 'tapconv_1'::text, 'round_robin'::text, false),
                           (9105, 'tapconv_1', 'from the queue', false),
                           (9106, NULL, 'nobody available', true)$$,
                  'a plain resolve serves the queue oldest first; the resolved one keeps its agent');
SELECT results_eq($$SELECT action, old, new, reason FROM moves WHERE a = 9105$$,
                  $$VALUES ('route'::text, NULL::text, 'tapconv_1'::text, 'from the queue'::text)$$,
                  'the route from the queue is logged once');
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load follows the resolve and the route');
-- (Queries on one shard are given to results_eq as text: Citus would run
-- a whole SELECT is(...) on the worker, where pgTAP's plan is unknown.)
SELECT results_eq($$SELECT resolved_at IS NOT NULL FROM csm.conversation WHERE account_id = 9101$$, $$VALUES (true)$$,
                  'resolved_at is set');

-- Moves by hand: checked like on a single node.
SELECT throws_ok($$UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'tapconv_2')
                   WHERE account_id = 9106$$, '23514', NULL, 'moved by hand to an agent at the limit');
SELECT throws_ok($$UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'tapconv_gone')
                   WHERE account_id = 9106$$, '55000', NULL, 'moved by hand to an inactive member');
SELECT throws_ok($$UPDATE csm.conversation SET assignee = -1 WHERE account_id = 9106$$, '23503', NULL,
                 'moved by hand to an unknown member');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, assignee, assigned_at) VALUES (9106, 'tapconv_rr', -1, now())$$,
                 '23503', NULL, 'imported with an unknown member (no foreign key on the cluster: the trigger checks it)');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team, assignee)
                   SELECT 9107, 'tapconv_rr', member_id FROM csm.team_member WHERE handle = 'tapconv_1'$$, '23514', NULL,
                 'assigned on insert to an agent at the limit');
SELECT throws_ok($$INSERT INTO csm.conversation (account_id, team) VALUES (9999, 'tapconv_rr')$$, '23503', NULL,
                 'an unknown account');
SELECT results_eq($$SELECT a, handle, waits FROM conv WHERE a = 9106$$, $$VALUES (9106::bigint, NULL::text, true)$$,
                  'a refused move leaves the conversation where it was');
-- Offline but active, under the limit: allowed by hand.
UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'tapconv_3') WHERE account_id = 9106;
SELECT results_eq($$SELECT a, handle, why, waits FROM conv WHERE a = 9106$$,
                  $$VALUES (9106::bigint, 'tapconv_3'::text, 'by hand'::text, false)$$, 'a move by hand');
SELECT results_eq($$SELECT action, old, new, reason FROM moves WHERE a = 9106$$,
                  $$VALUES ('route'::text, NULL::text, 'tapconv_3'::text, 'by hand'::text)$$, 'logged as a route by hand');

-- Reopen: back to the previous agent if they are available, else anyone,
-- else the queue.  tapconv_1 holds 9103 and 9105 (the limit).
UPDATE csm.conversation SET status = 'open' WHERE account_id = 9101;
SELECT results_eq($$SELECT a, handle, why, waits, previous FROM conv WHERE a = 9101$$,
                  $$VALUES (9101::bigint, NULL::text, 'reopened, nobody available'::text, true, 'tapconv_1'::text)$$,
                  'reopened while everyone is at the limit: it waits');
SELECT results_eq($$SELECT action, old, new, reason FROM moves WHERE a = 9101 AND action = 'reopen'$$,
                  $$VALUES ('reopen'::text, 'tapconv_1'::text, NULL::text, 'reopened, nobody available'::text)$$,
                  'the reopen is logged once, from the previous agent');
UPDATE csm.conversation SET status = 'resolved' WHERE account_id = 9103;
SELECT results_eq($$SELECT a, handle, why, waits FROM conv WHERE a = 9101$$,
                  $$VALUES (9101::bigint, 'tapconv_1'::text, 'from the queue'::text, false)$$,
                  'freed capacity serves the reopened conversation');
UPDATE csm.conversation SET status = 'resolved' WHERE account_id = 9102;
UPDATE csm.conversation SET status = 'open' WHERE account_id = 9102;
SELECT results_eq($$SELECT a, handle, why, previous FROM conv WHERE a = 9102$$,
                  $$VALUES (9102::bigint, 'tapconv_2'::text, 'reopened, previous agent'::text, NULL::text)$$,
                  'reopened with its agent available: back to them');
SELECT results_eq($$SELECT action, old, new, reason FROM moves WHERE a = 9102 AND action = 'reopen'$$,
                  $$VALUES ('reopen'::text, 'tapconv_2'::text, 'tapconv_2'::text, 'reopened, previous agent'::text)$$,
                  'logged once');
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load follows reopens');

-- Agents and teams: a higher limit, an agent coming online.
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (9107, 1, 'tapconv_rr'), (9108, 1, 'tapconv_rr');
SELECT results_eq($$SELECT a, waits FROM conv WHERE a IN (9107, 9108) ORDER BY a$$,
                  $$VALUES (9107::bigint, true), (9108, true)$$, 'the team is full again');
UPDATE csm.support_team SET conversation_limit = 3 WHERE team = 'tapconv_rr';
SELECT results_eq($$SELECT a, handle, why FROM conv WHERE a IN (9107, 9108) ORDER BY a$$,
                  $$VALUES (9107::bigint, 'tapconv_1'::text, 'from the queue'::text), (9108, 'tapconv_2', 'from the queue')$$,
                  'a higher team limit serves the queue, once per conversation');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (9104, 2, 'tapconv_rr');
SELECT results_eq($$SELECT handle, waits FROM conv WHERE a = 9104 AND handle IS NULL$$,
                  $$VALUES (NULL::text, true)$$, 'full again');
UPDATE csm.team_member SET status = 'online' WHERE handle = 'tapconv_3';
SELECT results_eq($$SELECT c.assignee = m.member_id FROM csm.conversation c, csm.team_member m
                    WHERE c.account_id = 9104 AND c.conversation_id = 2 AND m.handle = 'tapconv_3'$$,
                  $$VALUES (true)$$, 'an agent coming online takes the waiting conversation');
SELECT results_eq($$SELECT count(*) FROM moves WHERE a = 9104 AND action = 'route' AND new = 'tapconv_3'$$,
                  $$VALUES (1::bigint)$$, 'once, though team_member has a copy on every node');
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load follows the queue');

-- DELETE takes the conversation off its agent.
DELETE FROM csm.conversation WHERE account_id = 9108;
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load follows a delete');

-- reassign_stale: tapconv_2 never answered 9104/1 within 10 minutes.
UPDATE csm.conversation SET assigned_at = now() - interval '1 hour' WHERE account_id = 9104 AND conversation_id = 1;
SELECT results_eq($$SELECT account_id, conversation_id, old_assignee, new_assignee, action FROM csm.reassign_stale()
                    WHERE account_id BETWEEN 9101 AND 9108$$,
                  $$VALUES (9104::bigint, 1::bigint, 'tapconv_2'::text, 'tapconv_3'::text, 'reassign'::text)$$,
                  'reassign_stale moves a silent agent''s conversation to the available agent');
SELECT results_eq($$SELECT action, old, new FROM moves WHERE a = 9104 AND action = 'reassign'$$,
                  $$VALUES ('reassign'::text, 'tapconv_2'::text, 'tapconv_3'::text)$$, 'logged once');
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load follows reassign_stale');
SELECT is(csm.route_waiting('tapconv_rr'), 0, 'route_waiting: nothing waits while someone is free');
SELECT is(csm.rebuild_agent_load(), 0::bigint, 'rebuild_agent_load finds nothing to correct');

-- agent_performance over the shards.
SELECT results_eq($$SELECT handle, handled, open_now, resolved, avg_csat FROM csm.agent_performance
                    WHERE handle LIKE 'tapconv%' ORDER BY handle$$,
                  -- tapconv_1: 9101 (rated 5, reopened), 9103 (resolved), 9105, 9107;
                  -- tapconv_2: 9102, and 9104/1, which it held before it went to
                  -- tapconv_3 (each agent is credited with their part; 9108 was deleted);
                  -- tapconv_3: 9104/1, 9104/2, 9106.
                  $$VALUES ('tapconv_1'::text, 4::bigint, 3::bigint, 1::bigint, 5.00::numeric),
                           ('tapconv_2', 2, 1, 0, NULL),
                           ('tapconv_3', 3, 3, 0, NULL),
                           ('tapconv_gone', 0, 0, 0, NULL)$$,
                  'agent_performance counts each agent''s conversations');
SELECT is((SELECT count(*) FROM csm_internal.conversation_change), 0::bigint, 'nothing is left for the coordinator at the end');

SELECT * FROM finish();
ROLLBACK;
