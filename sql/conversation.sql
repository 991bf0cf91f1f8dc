-- citus-differs: the file's own statements use forms Citus refuses on the distributed csm.conversation: a helper SQL function whose INSERT RETURNs a subquery on a reference table ("could not create distributed plan"), UPDATEs with timestamptz arithmetic on columns (STABLE functions), and a correlated subquery beside a reference table; test/citus/conversation.sql covers conversations on the cluster.
-- Support conversations: routing (round robin, balanced), the team queue,
-- limits, reopen, stale reassignment, the audit log and agent performance.
\set VERBOSITY terse
INSERT INTO csm.account (external_id) VALUES ('org_a'), ('org_b');
INSERT INTO csm.team_member (handle, teams, status) VALUES
    ('ana', '{support}', 'online'), ('ben', '{support}', 'online'),
    ('cy', '{support,billing}', 'offline'), ('dee', '{billing}', 'offline');
CREATE VIEW conv AS
SELECT c.conversation_id AS id, c.team, c.status, m.handle AS assignee, p.handle AS previous,
       c.waiting_since IS NOT NULL AS waiting, c.assignment_reason AS reason
FROM csm.conversation c
LEFT JOIN csm.team_member m ON m.member_id = c.assignee
LEFT JOIN csm.team_member p ON p.member_id = c.previous_assignee;
CREATE VIEW load AS
SELECT m.handle, coalesce(l.open_count, 0) AS open_count
FROM csm.team_member m LEFT JOIN csm_internal.agent_load l USING (member_id) ORDER BY 1;
CREATE FUNCTION open_conversation(team text, org text DEFAULT 'org_a') RETURNS text
LANGUAGE sql AS $$
    INSERT INTO csm.conversation (account_id, team)
    SELECT a.account_id, open_conversation.team FROM csm.account a WHERE a.external_id = org
    RETURNING conversation_id || ' ' || coalesce((SELECT m.handle FROM csm.team_member m WHERE m.member_id = assignee), 'waits')
$$;

-- round robin (the default): whoever was assigned longest ago; cy is offline
SELECT open_conversation('support') AS routed FROM generate_series(1, 4);
-- balanced: fewest open conversations first, then longest ago
INSERT INTO csm.support_team (team, strategy) VALUES ('support', 'balanced');
UPDATE csm.conversation SET status = 'resolved' WHERE conversation_id = 1;
SELECT open_conversation('support') AS routed FROM generate_series(1, 3);
SELECT * FROM load;

-- limits: the team's (3), or the agent's own; at the limit, conversations wait
UPDATE csm.support_team SET conversation_limit = 3 WHERE team = 'support';
SELECT open_conversation('support') AS routed FROM generate_series(1, 2);
-- a higher limit takes the oldest waiting conversation at once
UPDATE csm.team_member SET conversation_limit = 4 WHERE handle = 'ben';
SELECT * FROM conv WHERE id >= 8 ORDER BY id;

-- the billing queue: nobody online, so conversations wait, and are served
-- oldest first (across the agent's teams) as agents come online or free
-- capacity
SELECT open_conversation('billing', 'org_b') AS routed FROM generate_series(1, 3);
UPDATE csm.team_member SET status = 'online', conversation_limit = 1 WHERE handle = 'dee';
UPDATE csm.team_member SET status = 'online', conversation_limit = 1 WHERE handle = 'cy';
SELECT id, team, assignee, waiting FROM conv WHERE id >= 9 ORDER BY id;
UPDATE csm.conversation SET status = 'resolved' WHERE conversation_id = 10;
SELECT id, team, status, assignee, waiting FROM conv WHERE id >= 10 ORDER BY id;
UPDATE csm.team_member SET conversation_limit = NULL WHERE handle = 'dee';
-- route_waiting does the same as a plain function: a conversation inserted
-- already waiting (as a restore does) waits until it is called
INSERT INTO csm.conversation (account_id, team, waiting_since)
SELECT account_id, 'billing', now() FROM csm.account WHERE external_id = 'org_b';
SELECT csm.route_waiting('billing') AS routed, csm.route_waiting() AS routed_again;
SELECT id, team, status, assignee, waiting FROM conv WHERE id >= 10 ORDER BY id;

-- reopen: back to the previous agent when available, else routed again
UPDATE csm.conversation SET status = 'resolved' WHERE conversation_id IN (2, 4, 5);
UPDATE csm.conversation SET status = 'open' WHERE conversation_id = 2;
UPDATE csm.team_member SET status = 'away' WHERE handle = 'ben';
UPDATE csm.conversation SET status = 'pending' WHERE conversation_id = 4;
SELECT * FROM conv WHERE id IN (2, 4) ORDER BY id;
SELECT * FROM load;

-- reassign_stale: ben, away, keeps what he holds until he goes offline; he
-- has been offline for an hour (support reassigns, to cy
-- while she has room, then to the queue); dee has been offline for an hour
-- (billing queues, and cy takes them from the queue); eve's team keeps
INSERT INTO csm.support_team (team, reassign_action) VALUES ('billing', 'queue'), ('vip', 'keep');
INSERT INTO csm.team_member (handle, teams, status) VALUES ('eve', '{vip}', 'online');
SELECT open_conversation('vip') AS routed;
UPDATE csm.team_member SET conversation_limit = NULL WHERE handle = 'cy';
UPDATE csm.team_member SET status_changed_at = now() - interval '1 hour' WHERE handle = 'ben';
SELECT count(*) AS moved_from_away FROM csm.reassign_stale() WHERE old_assignee = 'ben';
UPDATE csm.team_member SET status = 'offline' WHERE handle IN ('ben', 'dee', 'eve');
UPDATE csm.team_member SET status_changed_at = now() - interval '1 hour' WHERE handle IN ('ben', 'dee', 'eve');
SELECT conversation_id AS id, team, old_assignee, new_assignee, action FROM csm.reassign_stale() ORDER BY id;
-- a new agent takes the one left waiting
INSERT INTO csm.team_member (handle, teams, status) VALUES ('fay', '{support}', 'online');
SELECT id, assignee, previous, reason FROM conv WHERE id = 8;
-- silent: assigned an hour ago and not answered, though online
UPDATE csm.conversation SET first_response_at = now() WHERE assignee IS NOT NULL;
UPDATE csm.conversation SET assigned_at = now() - interval '1 hour', first_response_at = NULL WHERE conversation_id = 3;
SELECT conversation_id AS id, team, old_assignee, new_assignee, action FROM csm.reassign_stale() ORDER BY id;
-- idempotent: nothing left to move
SELECT count(*) AS moved FROM csm.reassign_stale();
SELECT * FROM load;

-- the audit log: every move, with its reason; a conversation keeps its history
SELECT l.action, count(*) FROM csm.assignment_log l WHERE l.conversation_id IS NOT NULL GROUP BY 1 ORDER BY 1;
SELECT l.action, o.handle AS old, n.handle AS new, l.reason
FROM csm.assignment_log l
LEFT JOIN csm.team_member o ON o.member_id = l.old_member_id
LEFT JOIN csm.team_member n ON n.member_id = l.new_member_id
WHERE l.conversation_id IN (4, 8) ORDER BY l.conversation_id, l.log_id;
-- counts agree with the conversations
SELECT count(*) AS drifted FROM csm_internal.agent_load l
WHERE l.open_count <> (SELECT count(*) FROM csm.conversation c WHERE c.assignee = l.member_id AND c.status <> 'resolved');
SELECT csm.rebuild_agent_load() AS corrected;

-- agent performance: first response measured from assignment
UPDATE csm.conversation SET first_response_at = assigned_at + (conversation_id % 4::bigint + 1) * interval '2 minutes',
                            csat = 3 + conversation_id % 3::bigint
WHERE assignee IS NOT NULL;
UPDATE csm.conversation SET status = 'resolved' WHERE conversation_id IN (3, 5, 6);
SELECT handle, handled, open_now, resolved, resolution_rate, median_first_response, avg_csat, csat_responses
FROM csm.agent_performance ORDER BY handle;

-- tickets_per_month counts conversations of the last 30 days
UPDATE csm.conversation SET created_at = created_at - interval '40 days' WHERE conversation_id <= 3;
SELECT external_id, tickets_per_month FROM csm.account_metrics ORDER BY 1;
-- in 2000 the accounts did not exist yet: no metrics at all
SELECT external_id, tickets_per_month FROM csm.account_metrics_at('2000-01-01') ORDER BY 1;

-- bad input: a clear error with a specific SQLSTATE
CREATE FUNCTION try(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
UPDATE csm.team_member SET active = false WHERE handle = 'eve';
UPDATE csm.team_member SET conversation_limit = 1 WHERE handle = 'fay';
SELECT n, try(s) AS result FROM (VALUES
    (1, $$INSERT INTO csm.conversation (account_id, team, status) VALUES (1, 'support', 'closed')$$),
    (2, $$INSERT INTO csm.conversation (account_id, team, csat) VALUES (1, 'support', 6)$$),
    (3, $$INSERT INTO csm.conversation (account_id, team) VALUES (1, ' ')$$),
    (4, $$INSERT INTO csm.conversation (account_id, team) VALUES (99, 'support')$$),
    (5, $$INSERT INTO csm.conversation (account_id, team, assignee) VALUES (1, 'support', 999)$$),
    (6, $$UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'eve') WHERE conversation_id = 7$$),
    (7, $$UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'fay') WHERE conversation_id = 7$$),
    (8, $$INSERT INTO csm.conversation (account_id, team, assignee, assigned_at, waiting_since) VALUES (1, 'support', 1, now(), now())$$),
    (9, $$UPDATE csm.conversation SET resolved_at = now() WHERE conversation_id = 7$$),
    (10, $$INSERT INTO csm.support_team (team, strategy) VALUES ('x', 'random')$$),
    (11, $$INSERT INTO csm.support_team (team, reassign_action) VALUES ('x', 'drop')$$),
    (12, $$INSERT INTO csm.support_team (team, reassign_after) VALUES ('x', '0')$$),
    (13, $$INSERT INTO csm.support_team (team, conversation_limit) VALUES ('x', -1)$$),
    (14, $$INSERT INTO csm.support_team (team) VALUES ('')$$),
    (15, $$SELECT csm.route_waiting(' ')$$)) AS v(n, s)
ORDER BY n;

-- leave a fresh extension for the next test
DROP VIEW conv, load;
DROP FUNCTION open_conversation(text, text), try(text);
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
