-- Support conversations, the seed 001 gaps (issue 14, section 6): skills
-- routing, a manual-only team, away is not offline, each assignee timed from
-- their own assignment, the agent a stale conversation was taken from kept
-- out for the window, a team change re-routed or queued, internal notes and
-- the handoff context (agent_performance: sql/support.sql).
BEGIN;
SELECT plan(40);

INSERT INTO csm.account (account_id, external_id) VALUES (901, 'sup_a');
-- Who holds which conversation of the account, by handle.  (A view, not a
-- temporary function, which Citus would send to the workers; Citus warns
-- that temporary views stay local.  "account_id + 0": a query Citus can
-- send to one shard it sends whole, pgTAP call included, to the worker.)
SET LOCAL client_min_messages = error;
CREATE TEMP VIEW sup AS
SELECT c.conversation_id AS id, m.handle FROM csm.conversation c LEFT JOIN csm.team_member m ON m.member_id = c.assignee
WHERE c.account_id + 0 = 901;
RESET client_min_messages;

-- Skills: the least loaded agent whose skills cover the conversation's. ----
INSERT INTO csm.support_team (team, strategy) VALUES ('sk', 'skills');
SELECT lives_ok($$UPDATE csm.support_team SET strategy = 'skills' WHERE team = 'sk'$$, 'skills is a strategy');
INSERT INTO csm.team_member (handle, teams, status, skills) VALUES
    ('sup_fr', '{sk}', 'online', '{french}'), ('sup_frde', '{sk}', 'online', '{french,german}'),
    ('sup_none', '{sk}', 'online', '{}');
INSERT INTO csm.conversation (account_id, conversation_id, team, required_skills) VALUES (901, 1, 'sk', '{german}');
SELECT is((SELECT handle FROM sup WHERE id = 1), 'sup_frde', 'skills: the only agent who speaks German gets it');
INSERT INTO csm.conversation (account_id, conversation_id, team, required_skills) VALUES (901, 2, 'sk', '{french}');
SELECT is((SELECT handle FROM sup WHERE id = 2), 'sup_fr', 'skills: of the two French speakers, the less loaded gets it');
INSERT INTO csm.conversation (account_id, conversation_id, team, required_skills) VALUES (901, 3, 'sk', '{japanese}');
SELECT ok((SELECT handle FROM sup WHERE id = 3) IS NULL AND (SELECT waiting_since IS NOT NULL FROM csm.conversation WHERE conversation_id = 3 AND account_id + 0 = 901),
          'skills: nobody speaks Japanese, so it waits');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (901, 4, 'sk');
SELECT is((SELECT handle FROM sup WHERE id = 4), 'sup_none', 'skills: the one waiting for a skill does not hold up the queue, and no skill needed means anyone');
INSERT INTO csm.team_member (handle, teams, status, skills) VALUES ('sup_ja', '{sk}', 'online', '{japanese}');
SELECT is((SELECT handle FROM sup WHERE id = 3), 'sup_ja', 'skills: a Japanese speaker coming online takes it from the queue');

-- A manual-only team. ------------------------------------------------------
INSERT INTO csm.support_team (team, auto_assign) VALUES ('man', false);
INSERT INTO csm.team_member (handle, teams, status) VALUES ('sup_man', '{man}', 'online');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (901, 10, 'man');
SELECT is((SELECT assignment_reason FROM csm.conversation WHERE account_id + 0 = 901 AND conversation_id = 10), 'manual assignment only',
          'auto_assign false: a new conversation waits though an agent is free');
SELECT is(csm.route_waiting('man'), 0, 'auto_assign false: route_waiting leaves the queue alone');
UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'sup_man') WHERE account_id = 901 AND conversation_id = 10;
SELECT is((SELECT handle FROM sup WHERE id = 10), 'sup_man', 'auto_assign false: an agent takes it by hand');
UPDATE csm.conversation SET status = 'resolved' WHERE account_id = 901 AND conversation_id = 10;
UPDATE csm.conversation SET status = 'open' WHERE account_id = 901 AND conversation_id = 10;
SELECT ok((SELECT handle FROM sup WHERE id = 10) IS NULL, 'auto_assign false: a reopened conversation goes to the queue');
SELECT throws_ok($$INSERT INTO csm.support_team (team, auto_assign) VALUES ('man2', NULL)$$, '23502', NULL, 'auto_assign is not null');

-- Away is not offline; each assignee timed from their own assignment. -----
INSERT INTO csm.support_team (team, reassign_action) VALUES ('st', 'reassign');
INSERT INTO csm.team_member (handle, teams, status) VALUES ('sup_a1', '{st}', 'online'), ('sup_a2', '{st}', 'online');
INSERT INTO csm.conversation (account_id, conversation_id, team, assignee)
SELECT 901, 20, 'st', member_id FROM csm.team_member WHERE handle = 'sup_a1';
UPDATE csm.conversation SET first_response_at = now() WHERE account_id = 901 AND conversation_id = 20;
UPDATE csm.team_member SET status = 'away' WHERE handle = 'sup_a1';
UPDATE csm.team_member SET status_changed_at = now() - interval '1 hour' WHERE handle = 'sup_a1';
SELECT is((SELECT count(*) FROM csm.reassign_stale() WHERE conversation_id = 20), 0::bigint,
          'away an hour: the agent keeps the conversation');
SELECT is((SELECT handle FROM sup WHERE id = 20), 'sup_a1', 'away an hour: still theirs');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (901, 21, 'st');
SELECT is((SELECT handle FROM sup WHERE id = 21), 'sup_a2', 'away: no new conversations');
UPDATE csm.team_member SET status = 'offline' WHERE handle = 'sup_a1';
UPDATE csm.team_member SET status_changed_at = now() - interval '1 hour' WHERE handle = 'sup_a1';
SELECT is((SELECT new_assignee FROM csm.reassign_stale() WHERE conversation_id = 20), 'sup_a2', 'offline an hour: reassigned');
-- sup_a1 answered two hours ago; sup_a2 got it an hour ago and stays silent
UPDATE csm.conversation SET first_response_at = now() - interval '2 hours', assigned_at = now() - interval '1 hour'
WHERE account_id = 901 AND conversation_id = 20;
UPDATE csm.team_member SET status = 'online' WHERE handle = 'sup_a1';
SELECT is((SELECT old_assignee || '>' || coalesce(new_assignee, 'queue') FROM csm.reassign_stale() WHERE conversation_id = 20),
          'sup_a2>sup_a1', 'a second assignee silent since their own assignment is timed and moved');

-- The agent it was taken from is kept out for the window. ------------------
INSERT INTO csm.support_team (team, reassign_action) VALUES ('q', 'queue');
INSERT INTO csm.team_member (handle, teams, status) VALUES ('sup_q1', '{q}', 'online');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (901, 30, 'q');
UPDATE csm.conversation SET assigned_at = now() - interval '1 hour' WHERE account_id = 901 AND conversation_id = 30;
SELECT is((SELECT action FROM csm.reassign_stale() WHERE conversation_id = 30 ORDER BY action LIMIT 1), 'requeue',
          'a silent agent''s conversation is requeued');
SELECT ok((SELECT handle FROM sup WHERE id = 30) IS NULL, 'requeued, not straight back to the same agent');
SELECT is((SELECT excluded_member FROM csm.conversation WHERE account_id + 0 = 901 AND conversation_id = 30), (SELECT member_id FROM csm.team_member WHERE handle = 'sup_q1'),
          'the agent it was taken from is recorded');
INSERT INTO csm.team_member (handle, teams, status) VALUES ('sup_q2', '{q}', 'online');
SELECT is((SELECT handle FROM sup WHERE id = 30), 'sup_q2', 'another agent of the team takes it');
-- back to the queue with only the first agent free: it waits for the window
UPDATE csm.team_member SET status = 'offline' WHERE handle = 'sup_q2';
UPDATE csm.conversation SET assignee = NULL WHERE account_id = 901 AND conversation_id = 30;
SELECT ok((SELECT handle FROM sup WHERE id = 30) IS NULL, 'within the window the first agent does not get it back');
UPDATE csm.conversation SET excluded_until = now() - interval '1 second' WHERE account_id = 901 AND conversation_id = 30;
SELECT is(csm.route_waiting('q'), 1, 'after the window it is served again');
SELECT is((SELECT handle FROM sup WHERE id = 30), 'sup_q1', 'to the first agent');

-- A team change re-routes or queues. --------------------------------------
INSERT INTO csm.team_member (handle, teams, status) VALUES ('sup_t1', '{tx}', 'online'), ('sup_t2', '{ty}', 'online');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (901, 40, 'tx');
UPDATE csm.conversation SET team = 'ty' WHERE account_id = 901 AND conversation_id = 40;
SELECT is((SELECT handle FROM sup WHERE id = 40), 'sup_t2', 'moved to another team: routed to an agent of that team');
UPDATE csm.conversation SET team = 'tz' WHERE account_id = 901 AND conversation_id = 40;
SELECT ok((SELECT handle FROM sup WHERE id = 40) IS NULL AND (SELECT team = 'tz' AND waiting_since IS NOT NULL FROM csm.conversation
                                        WHERE account_id + 0 = 901 AND conversation_id = 40),
          'moved to a team nobody is free in: it waits in that team''s queue');
SELECT is((SELECT open_count FROM csm_internal.agent_load WHERE member_id = (SELECT member_id FROM csm.team_member WHERE handle = 'sup_t2')), 0, 'and its former agent''s count drops');

-- Notes travel with the conversation; the log keeps the handoff context. ---
INSERT INTO csm.team_member (handle, teams, status) VALUES ('sup_n1', '{nt}', 'online'), ('sup_n2', '{nt}', 'offline');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (901, 50, 'nt');
INSERT INTO csm.conversation_note (account_id, conversation_id, member_id, body)
SELECT 901, 50, member_id, b FROM csm.team_member, unnest(ARRAY['customer on v2.3', 'asked for a refund']) AS b WHERE handle = 'sup_n1';
UPDATE csm.team_member SET status = 'online' WHERE handle = 'sup_n2';
UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'sup_n2') WHERE account_id = 901 AND conversation_id = 50;
SELECT is((SELECT count(*) FROM csm.conversation_note WHERE account_id + 0 = 901 AND conversation_id = 50), 2::bigint,
          'the notes stay with the reassigned conversation');
SELECT is((SELECT context->>'notes' || ' / ' || (context->>'last_note') FROM csm.assignment_log
           WHERE account_id + 0 = 901 AND conversation_id = 50 AND action = 'reassign'),
          '2 / asked for a refund', 'the reassignment is logged with the notes'' count and the last one');
SELECT throws_ok($$INSERT INTO csm.conversation_note (account_id, conversation_id, body) VALUES (901, 50, ' ')$$,
                 '23514', NULL, 'a blank note');

-- A manual assignment over the limit: refused, unless the reason says override (logged).
INSERT INTO csm.team_member (handle, teams, status, conversation_limit) VALUES ('sup_o1', '{ot}', 'online', 1);
INSERT INTO csm.team_member (handle, teams, status) VALUES ('sup_o2', '{ot}', 'offline');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (901, 70, 'ot'), (901, 71, 'ot');
SELECT is((SELECT handle FROM sup WHERE id = 71), NULL, 'the second waits: sup_o1 is at their limit');
SELECT throws_ok($$UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'sup_o1')
                   WHERE account_id = 901 AND conversation_id = 71$$, '23514', NULL, 'by hand over the limit: refused');
SELECT lives_ok($$UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'sup_o1'),
                                              assignment_reason = 'override: the customer asked for them'
                  WHERE account_id = 901 AND conversation_id = 71$$, 'by hand over the limit with an override reason');
SELECT is((SELECT open_count FROM csm_internal.agent_load WHERE member_id = (SELECT member_id FROM csm.team_member WHERE handle = 'sup_o1')), 2,
          'the override counts: 2 open against a limit of 1');
SELECT is((SELECT context FROM csm.assignment_log WHERE account_id + 0 = 901 AND conversation_id = 71 AND action = 'route'),
          '{"override": true, "limit": 1}'::jsonb, 'the log says it was an override over a limit of 1');

-- Capacity per team: one of team ca per agent, beside the overall limit.
INSERT INTO csm.support_team (team, per_agent_limit, count_pending) VALUES ('ca', 1, true);
INSERT INTO csm.team_member (handle, teams, status, conversation_limit) VALUES ('sup_c1', '{ca,cb}', 'online', 5);
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (901, 80, 'ca'), (901, 81, 'ca'), (901, 82, 'cb');
SELECT results_eq($$SELECT id, handle FROM sup WHERE id BETWEEN 80 AND 82 ORDER BY id$$,
                  $$VALUES (80::bigint, 'sup_c1'::text), (81, NULL), (82, 'sup_c1')$$,
                  'per-team limit: the second of team ca waits though the agent has room overall; team cb still routes to them');
SELECT throws_ok($$UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'sup_c1')
                   WHERE account_id = 901 AND conversation_id = 81$$, '23514', NULL, 'per-team limit: a move by hand over it is refused');
SELECT throws_ok($$INSERT INTO csm.support_team (team, per_agent_limit) VALUES ('cx', -1)$$, '23514', NULL, 'a negative per-team limit');
UPDATE csm.conversation SET status = 'pending' WHERE account_id = 901 AND conversation_id = 80;
SELECT is(csm.route_waiting('ca'), 0, 'a pending conversation counts while the team says so');
UPDATE csm.support_team SET count_pending = false WHERE team = 'ca';
SELECT is((SELECT handle FROM sup WHERE id = 81), 'sup_c1', 'count_pending false: the pending one no longer counts, and the queue is served');
UPDATE csm.conversation SET status = 'open' WHERE account_id = 901 AND conversation_id = 80;
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (901, 83, 'ca');
SELECT lives_ok($$UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'sup_c1'),
                                              assignment_reason = 'override: same customer'
                  WHERE account_id = 901 AND conversation_id = 83$$, 'per-team limit: an override by hand goes over it');

SELECT * FROM finish();
ROLLBACK;
