#!/usr/bin/env bash
# pgbench stress: 16 clients open, resolve, reopen and requeue support
# conversations of two teams (one agent in both) while agents go on and off
# line and reassign_stale runs. Afterwards csm.agent_load must equal a
# recount, nobody may be over their limit, nothing may wait while an agent
# of its team could take it, and the audit log must hold exactly one row per
# move (each move starts from where the previous one left the conversation);
# no deadlock and no error.
set -euo pipefail
. "$(dirname "$0")/lib/stress.sh"
db=csm_stress_conversation
fresh_db "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION csm;
INSERT INTO csm.account (account_id, external_id) SELECT i, 'org_' || i FROM generate_series(1, 20) AS i;
INSERT INTO csm.support_team (team, strategy, conversation_limit, reassign_action) VALUES
    ('support', 'balanced', 8, 'reassign'), ('billing', 'round_robin', NULL, 'queue');
INSERT INTO csm.team_member (member_id, handle, teams, status, conversation_limit)
SELECT i, 'agent_' || i,
       CASE WHEN i <= 8 THEN '{support}' WHEN i <= 12 THEN '{billing}' ELSE '{support,billing}' END::text[],
       CASE WHEN i % 3 = 0 THEN 'offline' ELSE 'online' END,
       CASE WHEN i > 12 THEN 4 WHEN i > 8 THEN 6 END
FROM generate_series(1, 14) AS i;
SQL

script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat > "$script" <<'PGB'
\set a random(1, 20)
\set m random(1, 14)
\set op random(1, 100)
\if :op <= 32
INSERT INTO csm.conversation (account_id, team) VALUES (:a, CASE WHEN :m % 3 = 0 THEN 'billing' ELSE 'support' END);
\elif :op <= 68
UPDATE csm.conversation SET status = 'resolved', csat = 1 + :m % 5
WHERE (account_id, conversation_id) = (SELECT account_id, conversation_id FROM csm.conversation
                                       WHERE account_id = :a AND status <> 'resolved' ORDER BY conversation_id LIMIT 1);
\elif :op <= 74
UPDATE csm.conversation SET status = 'open'
WHERE (account_id, conversation_id) = (SELECT account_id, conversation_id FROM csm.conversation
                                       WHERE account_id = :a AND status = 'resolved' ORDER BY random() LIMIT 1);
\elif :op <= 86
UPDATE csm.team_member SET status = CASE WHEN status = 'online' THEN 'offline' ELSE 'online' END WHERE member_id = :m;
\elif :op <= 90
UPDATE csm.team_member SET status_changed_at = now() - interval '1 hour' WHERE member_id = :m AND status <> 'online';
UPDATE csm.conversation SET assigned_at = now() - interval '1 hour'
WHERE assignee IS NOT NULL AND (account_id, conversation_id) = (SELECT account_id, conversation_id FROM csm.conversation
                                       WHERE account_id = :a AND assignee IS NOT NULL AND first_response_at IS NULL
                                       ORDER BY conversation_id LIMIT 1);
SELECT count(*) FROM csm.reassign_stale();
\elif :op <= 95
UPDATE csm.conversation SET first_response_at = now()
WHERE assignee IS NOT NULL AND (account_id, conversation_id) = (SELECT account_id, conversation_id FROM csm.conversation
                                       WHERE account_id = :a AND assignee IS NOT NULL AND first_response_at IS NULL
                                       ORDER BY conversation_id DESC LIMIT 1);
\elif :op <= 98
UPDATE csm.conversation SET assignee = NULL
WHERE (account_id, conversation_id) = (SELECT account_id, conversation_id FROM csm.conversation
                                       WHERE account_id = :a AND status <> 'resolved' AND assignee IS NOT NULL
                                       ORDER BY conversation_id DESC LIMIT 1);
\else
SELECT csm.route_waiting();
\endif
PGB

before=$(deadlocks "$db")
pgbench -n -c 16 -j 2 -t 300 -f "$script" "$db" > /tmp/csm_stress_conversation.log 2>&1 || {
    cat /tmp/csm_stress_conversation.log; echo "not ok - pgbench reported errors"; exit 1; }
grep -E "number of (transactions actually processed|failed)|tps" /tmp/csm_stress_conversation.log || true

psql -qX -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
SELECT count(*) AS conversations, count(*) FILTER (WHERE waiting_since IS NOT NULL) AS waiting,
       (SELECT count(*) FROM csm.assignment_log) AS moves FROM csm.conversation;
SELECT action, count(*) FROM csm.assignment_log GROUP BY 1 ORDER BY 1;
DO $$
DECLARE
    bad bigint;
BEGIN
    SELECT count(*) INTO bad FROM csm.agent_load l
    WHERE l.open_count <> (SELECT count(*) FROM csm.conversation c WHERE c.assignee = l.member_id AND c.status <> 'resolved');
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % agents'' open_count differs from a recount', bad;
    END IF;
    SELECT count(*) INTO bad FROM csm.agent_load l JOIN csm.team_member m ON m.member_id = l.member_id
    WHERE l.open_count > coalesce(m.conversation_limit,
                                  (SELECT s.conversation_limit FROM csm.support_team s WHERE s.team = m.teams[1]), 2147483647);
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % agents over their limit', bad;
    END IF;
    SELECT count(*) INTO bad FROM csm.conversation c
    WHERE c.waiting_since IS NOT NULL
      AND EXISTS (SELECT FROM csm.team_member m JOIN csm.agent_load l ON l.member_id = m.member_id
                  WHERE c.team = ANY (m.teams) AND m.active AND m.status = 'online'
                    AND l.open_count < coalesce(m.conversation_limit,
                                                (SELECT s.conversation_limit FROM csm.support_team s WHERE s.team = c.team),
                                                2147483647));
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % conversations wait while an agent of their team is free', bad;
    END IF;
    -- One row per move: each starts where the previous left the conversation
    -- (a reopen starts from the agent who had it before it was resolved).
    SELECT count(*) INTO bad FROM (
        SELECT l.action, l.old_member_id,
               lag(l.new_member_id) OVER (PARTITION BY l.account_id, l.conversation_id ORDER BY l.log_id) AS before
        FROM csm.assignment_log l) x
    WHERE x.action <> 'reopen' AND x.old_member_id IS DISTINCT FROM x.before;
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % logged moves do not start where the previous one ended', bad;
    END IF;
    SELECT count(*) INTO bad FROM csm.conversation c
    WHERE c.assignee IS DISTINCT FROM (SELECT l.new_member_id FROM csm.assignment_log l
                                       WHERE l.account_id = c.account_id AND l.conversation_id = c.conversation_id
                                       ORDER BY l.log_id DESC LIMIT 1);
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % conversations whose last logged move is not their assignee', bad;
    END IF;
END $$;
SQL
no_new_deadlocks "$db" "$before" || exit 1
echo "ok - conversation routing consistent under 16 concurrent clients, one log row per move, no deadlocks"
dropdb "$db"
