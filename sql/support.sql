-- agent_performance credits each agent with their own part of a
-- conversation (issue 14, section 6): a conversation answered by ana,
-- handed to ben by hand, who resolves it; and one ben takes over from the
-- queue after ana went offline.  Each statement is its own transaction, so
-- the moves are ordered in time.
INSERT INTO csm.account (account_id, external_id) VALUES (1, 'perf');
INSERT INTO csm.team_member (handle, teams, status) VALUES ('ana', '{help}', 'online'), ('ben', '{help}', 'offline');
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (1, 1, 'help');
UPDATE csm.conversation SET first_response_at = now() WHERE conversation_id = 1;
UPDATE csm.team_member SET status = 'online' WHERE handle = 'ben';
INSERT INTO csm.conversation_note (account_id, conversation_id, body) VALUES (1, 1, 'wants the export fixed');
UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'ben') WHERE conversation_id = 1;
UPDATE csm.conversation SET status = 'resolved', csat = 5 WHERE conversation_id = 1;
-- the second: ana gets it, goes offline, it is requeued by hand, ben takes it
UPDATE csm.team_member SET status = 'offline' WHERE handle = 'ben';
INSERT INTO csm.conversation (account_id, conversation_id, team) VALUES (1, 2, 'help');
UPDATE csm.team_member SET status = 'offline' WHERE handle = 'ana';
UPDATE csm.conversation SET assignee = NULL WHERE conversation_id = 2;
UPDATE csm.team_member SET status = 'online' WHERE handle = 'ben';
UPDATE csm.conversation SET first_response_at = now() WHERE conversation_id = 2;

SELECT l.action, o.handle AS old, n.handle AS new, l.reason,
       l.context->>'notes' AS notes, l.context->>'last_note' AS last_note,
       (l.context->>'first_response_at') IS NOT NULL AS they_answered
FROM csm.assignment_log l
LEFT JOIN csm.team_member o ON o.member_id = l.old_member_id
LEFT JOIN csm.team_member n ON n.member_id = l.new_member_id
WHERE l.conversation_id IS NOT NULL ORDER BY l.log_id;

SELECT handle, handled, open_now, resolved, resolution_rate, first_responses, avg_csat,
       median_first_response > interval '0' AS timed, time_held > interval '0' AS held
FROM csm.agent_performance ORDER BY handle;

-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
