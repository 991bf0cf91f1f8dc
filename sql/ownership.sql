-- citus-differs: constraint errors name the shard (account_assignment_one_primary_NNNNNN), and SET ROLE to the file's NOLOGIN role cannot reach the workers (Citus connects to them as that role).
-- Ownership: the Assign CSM tool by hand, routing rules, triggers, members
-- leaving, the unassigned queue, workload and the audit trail.
-- On a Citus cluster (csm.distribute()) the answers are the same; the output
-- differs where Citus names a shard in an error (account_assignment_one_primary_102253,
-- routing_rule_102020), where Citus connects to the workers as the role SET ROLE
-- chose (csm_auditor cannot log in there), and in the NOTICE of the last DROP
-- EXTENSION; test/citus/ownership.sql checks every path on the cluster.
\set VERBOSITY terse
INSERT INTO csm.team_member (handle, roles, teams, skills, capacity) VALUES
    ('ava', '{csm}', '{enterprise}', '{}', 40),
    ('ben', '{csm}', '{enterprise}', '{}', 15),
    ('cy', '{csm}', '{growth}', '{}', NULL),
    ('dee', '{csm}', '{growth}', '{}', NULL),
    ('rex', '{retention_specialist}', '{}', '{negotiation}', NULL),
    ('pia', '{product_specialist}', '{}', '{analytics}', NULL);
INSERT INTO csm.account (external_id, segment, plan, arr) VALUES
    ('org_a', 'enterprise', 'pro', 120000),
    ('org_b', 'strategic', 'pro', 400000),
    ('org_c', 'smb', 'growth', 3000);
-- (PL/pgSQL: on Citus a SQL function cannot pass its parameter to a distributed query)
CREATE FUNCTION handles(org text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN
    RETURN (SELECT string_agg(handle || CASE WHEN is_primary THEN '*' ELSE '' END, ', ' ORDER BY NOT is_primary, handle)
            FROM csm.assignment WHERE external_id = org); END $$;

-- by hand: the seed's outputs, a no-op, a secondary, a promotion
SELECT * FROM csm.csm_assign('org_a', 'ava');
SELECT * FROM csm.csm_assign('org_a', 'ava');
SELECT * FROM csm.csm_assign('org_a', 'pia', false, 'analytics rollout');
SELECT * FROM csm.csm_assign('org_a', 'ben', true, 'ava moves to strategic');
SELECT handles('org_a');
SELECT * FROM csm.csm_assign('org_a', 'pia');
SELECT handles('org_a');
-- refusals: at capacity (a strategic account weighs 20 load units; ben takes 15), inactive
SELECT * FROM csm.csm_assign('org_b', 'ben');
UPDATE csm.team_member SET active = false WHERE handle = 'dee';
SELECT * FROM csm.csm_assign('org_c', 'dee');
UPDATE csm.team_member SET active = true WHERE handle = 'dee';
-- unknown ids and NULLs are errors
SELECT * FROM csm.csm_assign('org_zz', 'ava');
SELECT * FROM csm.csm_assign('org_a', 'zed');
SELECT * FROM csm.csm_assign(NULL, 'ava');
-- one current primary, by constraint
INSERT INTO csm.account_assignment (account_id, member_id, is_primary, load)
SELECT account_id, 1, true, 1 FROM csm.account WHERE external_id = 'org_a';
-- unassigning ends the relationship and keeps it
SELECT csm.csm_unassign('org_a', 'pia') AS ended, csm.csm_unassign('org_a', 'pia') AS again;
SELECT m.handle, a.is_primary, a.ended_at IS NOT NULL AS ended, a.reason, a.end_reason
FROM csm.account_assignment a JOIN csm.team_member m USING (member_id)
WHERE a.account_id = (SELECT account_id FROM csm.account WHERE external_id = 'org_a') ORDER BY a.assignment_id;

-- routing rules: conditions are checked when written
INSERT INTO csm.routing_rule (name, condition, target_kind, target) VALUES ('bad', 'plan == ''growth''', 'team', 'growth');
INSERT INTO csm.routing_rule (name, condition, target_kind, target) VALUES ('bad', 'churn_risk > 80', 'team', 'growth');
INSERT INTO csm.routing_rule (name, target_kind, target, strategy) VALUES ('bad', 'role', 'csm', 'skills');
INSERT INTO csm.routing_rule (name, priority, condition, target_kind, target, strategy, is_primary, required_skills, min_tenure) VALUES
    ('retention', 10, 'health_band = ''red''', 'role', 'retention_specialist', 'least_loaded', false, '{}', '0'),
    ('growth', 20, 'plan = ''growth''', 'team', 'growth', 'round_robin', true, '{}', '0'),
    ('enterprise', 30, 'segment IN (''enterprise'', ''strategic'')', 'team', 'enterprise', 'least_loaded', true, '{}', '0');
SELECT name, condition, csm.condition_attributes(condition) FROM csm.routing_rule ORDER BY priority;
SELECT * FROM csm.csm_auto_assign('org_c');
SELECT * FROM csm.csm_auto_assign('org_c');
SELECT * FROM csm.csm_auto_assign('org_b');
-- new accounts are routed by the trigger; round robin evens out counts
INSERT INTO csm.account (external_id, segment, plan) VALUES ('org_d', 'smb', 'growth'), ('org_e', 'smb', 'growth'),
    ('org_f', 'smb', 'growth');
SELECT external_id, handles(external_id) FROM csm.account WHERE external_id IN ('org_c', 'org_d', 'org_e', 'org_f') ORDER BY 1;
-- a plan change re-routes: org_d moves from growth to enterprise (least loaded: ben)
UPDATE csm.account SET plan = 'pro', segment = 'enterprise' WHERE external_id = 'org_d';
SELECT handles('org_d');
-- continuity: once the enterprise rule keeps primaries 90 days, neither a rule nor a hand moves them
UPDATE csm.routing_rule SET min_tenure = '90 days' WHERE name = 'enterprise';
SELECT * FROM csm.csm_assign('org_d', 'ava');
SELECT assignment_success, assigned_csm, message FROM csm.csm_auto_assign('org_d', 'growth');
-- a red health band brings in the retention specialist as a secondary, primary kept
SELECT csm.override_health('org_d', 40, 'exec sponsor left', NULL) > 0 AS overridden;
SELECT handles('org_d');
-- a health change applies only the rules that read health: org_f's primary,
-- chosen by hand against the growth rule, stays
SELECT assignment_success FROM csm.csm_assign('org_f', 'pia', true, 'exec asked for pia');
SELECT csm.override_health('org_f', 95, 'renewed early', NULL) > 0 AS overridden, handles('org_f');
-- the same when a refresh turns a band red, and applying the rules again changes nothing
CREATE TABLE red_metrics AS
SELECT account_id, 0.1::float8 AS dau_ratio, 2 AS nps, 0 AS features_adopted FROM csm.account WHERE external_id = 'org_e';
SELECT csm.refresh_health('red_metrics') AS scored;
SELECT handles('org_e');
SELECT rule, assignment_success, assigned_csm, is_primary, message
FROM csm.apply_routing(ARRAY(SELECT account_id FROM csm.account WHERE external_id IN ('org_d', 'org_e')))
ORDER BY account_id, rule;
-- no rule for a pool: least loaded among its members
SELECT * FROM csm.csm_auto_assign('org_a', 'growth');

-- capacity: the second strategic account finds nobody with room and waits
INSERT INTO csm.account (external_id, segment, plan) VALUES ('org_g', 'strategic', 'pro'), ('org_h', 'strategic', 'pro');
SELECT external_id, handles(external_id) FROM csm.account WHERE external_id IN ('org_g', 'org_h') ORDER BY 1;
SELECT external_id, kind, message FROM csm.unassigned_queue ORDER BY external_id;
UPDATE csm.team_member SET capacity = 40 WHERE handle = 'ben';
SELECT csm.assign_queued() AS assigned;
SELECT handles('org_h'), (SELECT count(*) FROM csm.assignment_alert WHERE resolved_at IS NULL) AS open_alerts;

-- a member leaves: their book goes least loaded to their teams, or waits
UPDATE csm.team_member SET active = false WHERE handle = 'cy';
SELECT external_id, handles(external_id) FROM csm.account WHERE plan = 'growth' ORDER BY 1;
UPDATE csm.team_member SET capacity = 0 WHERE handle = 'ben';
SELECT csm.release_member('ava') AS moved;
SELECT external_id, kind, message FROM csm.unassigned_queue ORDER BY external_id;

-- workload, and the counters agree with a recount
SELECT handle, active, accounts, primaries, secondaries, primary_arr, round(load::numeric, 2) AS load, capacity, utilisation
FROM csm.assignment_workload ORDER BY handle;
SELECT count(*) AS drifted FROM csm_internal.member_load l
LEFT JOIN (SELECT member_id, count(*) AS n, count(*) FILTER (WHERE is_primary) AS p, sum(load) AS w
           FROM csm.account_assignment WHERE ended_at IS NULL GROUP BY member_id) r USING (member_id)
WHERE l.accounts <> coalesce(r.n, 0) OR l.primaries <> coalesce(r.p, 0) OR abs(l.load - coalesce(r.w, 0)) > 1e-9::float8;

-- the audit trail: every change, append-only for everyone
SELECT a.external_id, l.action, l.is_primary, o.handle AS old, n.handle AS new, l.reason
FROM csm.assignment_log l JOIN csm.account a USING (account_id)
LEFT JOIN csm.team_member o ON o.member_id = l.old_member_id
LEFT JOIN csm.team_member n ON n.member_id = l.new_member_id
WHERE l.conversation_id IS NULL
ORDER BY l.log_id;
CREATE ROLE csm_auditor;
GRANT USAGE ON SCHEMA csm TO csm_auditor;
GRANT SELECT, UPDATE, DELETE, TRUNCATE ON csm.assignment_log TO csm_auditor;
SET ROLE csm_auditor;
UPDATE csm.assignment_log SET reason = 'tampered';
DELETE FROM csm.assignment_log;
TRUNCATE csm.assignment_log;
RESET ROLE;
REVOKE ALL ON csm.assignment_log FROM csm_auditor;
REVOKE USAGE ON SCHEMA csm FROM csm_auditor;
DROP ROLE csm_auditor;

-- leave a fresh extension for the next test
DROP FUNCTION handles(text);
DROP TABLE red_metrics;
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
