-- The support desk of the conversation stress tests (test/shell and
-- test/citus conversation_stress.sh): 20 accounts from :abase + 1, two teams
-- and 14 agents from member_id :mbase + 1 (one agent in both teams, some
-- offline, some with their own limit).  :mbase is a multiple of 3.
INSERT INTO csm.account (account_id, external_id)
SELECT :abase + i, 'stress_org_' || (:abase + i) FROM generate_series(1, 20) AS i
ON CONFLICT (account_id) DO NOTHING;
INSERT INTO csm.support_team (team, strategy, conversation_limit, reassign_action) VALUES
    ('support', 'balanced', 8, 'reassign'), ('billing', 'round_robin', NULL, 'queue');
INSERT INTO csm.team_member (member_id, handle, teams, status, conversation_limit)
SELECT :mbase + i, 'stress_agent_' || i,
       CASE WHEN i <= 8 THEN '{support}' WHEN i <= 12 THEN '{billing}' ELSE '{support,billing}' END::text[],
       CASE WHEN i % 3 = 0 THEN 'offline' ELSE 'online' END,
       CASE WHEN i > 12 THEN 4 WHEN i > 8 THEN 6 END
FROM generate_series(1, 14) AS i;
