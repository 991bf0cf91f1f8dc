-- Routing does not depend on session settings (issue 11, 2.6).  With
-- check_function_bodies off (pg_restore sets it, and so may anyone), a new
-- account is still routed, or queued with an alert.  An account that
-- arrives with a created_at from before the transaction (a restore, which
-- loads accounts before their assignments, or an import of history) is
-- left as it is, whatever the settings.
\set VERBOSITY terse
INSERT INTO csm.team_member (handle, roles, teams) VALUES ('rio', '{csm}', '{smb}');
INSERT INTO csm.routing_rule (name, condition, target_kind, target) VALUES
    ('smb', 'segment = ''smb''', 'team', 'smb'),
    ('enterprise', 'segment = ''enterprise''', 'team', 'enterprise');

SET check_function_bodies = off;
INSERT INTO csm.account (external_id, segment) VALUES ('new_smb', 'smb'), ('new_ent', 'enterprise');
INSERT INTO csm.account (external_id, segment, created_at) VALUES ('old_smb', 'smb', '2025-01-01');
RESET check_function_bodies;
INSERT INTO csm.account (external_id, segment) VALUES ('on_smb', 'smb');
INSERT INTO csm.account (external_id, segment, created_at) VALUES ('on_old_smb', 'smb', '2025-01-01');

SELECT a.external_id, s.handle, s.rule, al.kind AS alert
FROM csm.account a
LEFT JOIN csm.assignment s ON s.account_id = a.account_id
LEFT JOIN csm.assignment_alert al ON al.account_id = a.account_id AND al.resolved_at IS NULL
ORDER BY a.account_id;
-- history is routed when asked
SELECT rule, assignment_success, assigned_csm
FROM csm.apply_routing(ARRAY(SELECT account_id FROM csm.account WHERE external_id = 'old_smb'));

-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
