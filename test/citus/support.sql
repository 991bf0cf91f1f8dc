-- Support conversations' seed 001 additions on a Citus cluster (csm.distribute()
-- has run), with multi-row statements over several accounts, so several
-- shards: skills routing on INSERT, a team change of several conversations
-- at once (routed where someone is free, else waiting in the new team),
-- the agent reassign_stale took a conversation from kept out, notes and the
-- handoff context on the shards, agent_performance over them.  After each
-- step csm_internal.agent_load equals a recount and nothing is left in
-- csm_internal.conversation_change.  The single-node answers are worked out by hand.
--
--   pg_prove -h 127.0.0.1 -p <coordinator> -d csm_citus test/citus/support.sql
BEGIN;
SELECT plan(12);

INSERT INTO csm.account (account_id, external_id) SELECT i, 'tapsup_' || i FROM generate_series(9201, 9206) AS i;
INSERT INTO csm.support_team (team, strategy) VALUES ('tapsup_sk', 'skills');
INSERT INTO csm.support_team (team, conversation_limit) VALUES ('tapsup_new', 1);
INSERT INTO csm.support_team (team, reassign_action) VALUES ('tapsup_q', 'queue');
INSERT INTO csm.team_member (handle, teams, status, skills) VALUES
    ('tapsup_fr', '{tapsup_sk}', 'online', '{french}'), ('tapsup_de', '{tapsup_sk}', 'online', '{german}'),
    ('tapsup_n1', '{tapsup_new}', 'online', '{}'), ('tapsup_q1', '{tapsup_q}', 'online', '{}');

SET client_min_messages = error;
CREATE TEMP VIEW sup AS
SELECT c.account_id AS a, m.handle, c.team, c.waiting_since IS NOT NULL AS waits
FROM csm.conversation c LEFT JOIN csm.team_member m ON m.member_id = c.assignee
WHERE c.account_id BETWEEN 9201 AND 9206;
CREATE TEMP VIEW load_drift AS
WITH held AS MATERIALIZED (
    SELECT c.assignee, count(*) AS n FROM csm.conversation c
    WHERE c.status <> 'resolved' AND c.assignee IS NOT NULL GROUP BY c.assignee)
SELECT m.handle, l.open_count, coalesce(h.n, 0) AS recount
FROM csm.team_member m
JOIN csm_internal.agent_load l ON l.member_id = m.member_id
LEFT JOIN held h ON h.assignee = m.member_id
WHERE m.handle LIKE 'tapsup%' AND l.open_count <> coalesce(h.n, 0);
RESET client_min_messages;

-- Skills, one INSERT over four accounts.
INSERT INTO csm.conversation (account_id, team, required_skills) VALUES
    (9201, 'tapsup_sk', '{german}'), (9202, 'tapsup_sk', '{french}'), (9203, 'tapsup_sk', '{japanese}'),
    (9204, 'tapsup_sk', '{german}');
SELECT results_eq($$SELECT a, handle, waits FROM sup ORDER BY a$$,
                  $$VALUES (9201::bigint, 'tapsup_de'::text, false), (9202, 'tapsup_fr', false),
                           (9203, NULL, true), (9204, 'tapsup_de', false)$$,
                  'skills: each to an agent who has the skill; nobody speaks Japanese, so 9203 waits');
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load equals a recount after the skills INSERT');
SELECT is((SELECT count(*) FROM csm_internal.conversation_change), 0::bigint, 'nothing left for the coordinator');

-- A team change of three conversations in one UPDATE: tapsup_n1 (limit 1)
-- takes one, the others wait in the new team.
UPDATE csm.conversation SET team = 'tapsup_new' WHERE account_id IN (9201, 9202, 9204);
SELECT results_eq($$SELECT count(*) FILTER (WHERE handle = 'tapsup_n1'), count(*) FILTER (WHERE waits)
                    FROM sup WHERE team = 'tapsup_new'$$,
                  $$VALUES (1::bigint, 2::bigint)$$,
                  'team change: one routed to the new team''s free agent, the others wait there');
SELECT is_empty($$SELECT * FROM sup WHERE team = 'tapsup_new' AND handle IN ('tapsup_fr', 'tapsup_de')$$,
                'team change: no conversation keeps an agent who is not in its new team');
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load equals a recount after the team change');
SELECT is((SELECT count(*) FROM csm_internal.conversation_change), 0::bigint, 'nothing left for the coordinator after the team change');

-- The kept-out agent: 9205 is requeued from its silent agent, who is the
-- only one online, so it waits.
INSERT INTO csm.conversation (account_id, team) VALUES (9205, 'tapsup_q');
UPDATE csm.conversation SET assigned_at = now() - interval '1 hour' WHERE account_id = 9205;
SELECT results_eq($$SELECT old_assignee, new_assignee, action FROM csm.reassign_stale() WHERE account_id = 9205$$,
                  $$VALUES ('tapsup_q1'::text, NULL::text, 'requeue'::text)$$,
                  'reassign_stale requeues the silent agent''s conversation and does not give it back to them');
SELECT results_eq($$SELECT handle, waits FROM sup WHERE a = 9205$$, $$VALUES (NULL::text, true)$$,
                  'it waits while only the agent it was taken from is free');

-- Notes and the handoff context on the shards: the conversation tapsup_n1
-- took in the team change is put back in the queue by hand.
INSERT INTO csm.conversation_note (account_id, conversation_id, body)
SELECT c.account_id, c.conversation_id, b FROM csm.conversation c, unnest(ARRAY['first note', 'last note']) AS b
WHERE c.account_id IN (9201, 9202, 9204) AND c.assignee IS NOT NULL;
UPDATE csm.conversation SET assignee = NULL WHERE account_id IN (9201, 9202, 9204) AND assignee IS NOT NULL;
SELECT results_eq($$SELECT old.handle, (l.context->>'notes')::int, l.context->>'last_note' FROM csm.assignment_log l
                    JOIN csm.team_member old ON old.member_id = l.old_member_id
                    WHERE l.account_id IN (9201, 9202, 9204) AND l.action = 'requeue' AND l.reason = 'by hand'$$,
                  $$VALUES ('tapsup_n1'::text, 2, 'last note'::text)$$,
                  'the requeue by hand logs the handoff: the note count and the last note');

-- agent_performance: tapsup_de handled 9201 and 9204 before the team change.
SELECT results_eq($$SELECT handle, handled FROM csm.agent_performance WHERE handle IN ('tapsup_de', 'tapsup_fr') ORDER BY handle$$,
                  $$VALUES ('tapsup_de'::text, 2::bigint), ('tapsup_fr', 1)$$,
                  'agent_performance credits the agents who held conversations before the team change');
SELECT is_empty($$SELECT * FROM load_drift$$, 'agent_load equals a recount at the end');

SELECT * FROM finish();
ROLLBACK;
