-- The append-only audit (csm.assignment_log): rows outlive their account,
-- csm (never the inserter) sets actor and at, the actor is the role that
-- caused the change (not csm's owner, whose rights csm's functions and
-- usage rollups run with), and nobody changes or deletes a row.
-- citus-differs: on Citus a new account is routed when its transaction commits (account_route_new_deferred, README "Growing past one machine"), so this rolled-back file sees no routing log, and it SET ROLEs to NOLOGIN roles created in its transaction, which Citus cannot use on the workers.
BEGIN;
SELECT plan(18);

CREATE ROLE tap_audit_app;
CREATE ROLE tap_audit_forger;
CREATE ROLE tap_audit_owner;
CREATE ROLE tap_audit_login;
GRANT tap_audit_app TO tap_audit_login;

INSERT INTO csm.team_member (handle, teams) VALUES ('tap_ann', ARRAY['tap']), ('tap_bob', ARRAY['tap']), ('tap_cy', '{}');
INSERT INTO csm.routing_rule (name, target_kind, target, strategy) VALUES ('tap_all', 'team', 'tap', 'round_robin');

-- 1. Rows outlive their account, and keep its external_id.
INSERT INTO csm.account (external_id) VALUES ('tap_gone');
SELECT is((SELECT count(*) FROM csm.assignment_log l JOIN csm.account a USING (account_id) WHERE a.external_id = 'tap_gone'),
          1::bigint, 'a new account is routed and logged');
CREATE TEMP TABLE gone AS SELECT account_id FROM csm.account WHERE external_id = 'tap_gone';
DELETE FROM csm.account WHERE external_id = 'tap_gone';
SELECT is((SELECT count(*) FROM csm.assignment_log l JOIN gone USING (account_id)), 1::bigint,
          'deleting the account keeps its audit rows');
SELECT is((SELECT l.external_id FROM csm.assignment_log l JOIN gone USING (account_id)), 'tap_gone',
          'and they still say which account it was');
SELECT hasnt_fk('csm', 'assignment_log', 'assignment_log has no foreign key that could cascade');

-- 2. A role given INSERT on the log cannot choose actor or at.
INSERT INTO csm.account (external_id) VALUES ('tap_forged');
GRANT USAGE ON SCHEMA csm TO tap_audit_forger;
GRANT INSERT ON csm.assignment_log TO tap_audit_forger;
SET ROLE tap_audit_forger;
INSERT INTO csm.assignment_log (account_id, action, actor, at, external_id, reason)
VALUES (987654321, 'assign', 'postgres', '2000-01-01', 'someone_else', 'forged');
RESET ROLE;
SELECT is((SELECT l.actor::text FROM csm.assignment_log l WHERE l.reason = 'forged'), 'tap_audit_forger',
          'the actor is the inserting role, whatever it wrote');
SELECT is((SELECT l.at FROM csm.assignment_log l WHERE l.reason = 'forged'), now(),
          'the time is the transaction''s, whatever it wrote');
SELECT is((SELECT l.external_id FROM csm.assignment_log l WHERE l.reason = 'forged'), NULL,
          'and external_id comes from csm.account, not from the inserter');
REVOKE ALL ON csm.assignment_log FROM tap_audit_forger;
REVOKE USAGE ON SCHEMA csm FROM tap_audit_forger;

-- 3. An account created by an event insert names the inserting role, not
-- csm's owner (the rollup writes with its rights).
CREATE TABLE tap_audit_events (org text, at timestamptz);
SELECT ok(csm.track_usage('tap_audit_events', 'org', 'at') > 0, 'tracking an application''s event table');
GRANT INSERT ON tap_audit_events TO tap_audit_app;
SET ROLE tap_audit_app;
INSERT INTO tap_audit_events VALUES ('tap_from_event', '2026-03-01 10:00+00');
RESET ROLE;
SELECT is((SELECT string_agg(l.actor::text || ':' || l.action, ',') FROM csm.assignment_log l
           WHERE l.external_id = 'tap_from_event'), 'tap_audit_app:assign',
          'the event''s account is routed and logged with the inserting role as actor');
SELECT is((SELECT a.assigned_by::text FROM csm.assignment a WHERE a.external_id = 'tap_from_event'), 'tap_audit_app',
          'and assigned_by names it too');

-- 4. SET ROLE: the role the session acts as is the actor, not the login
-- role and not csm's owner (csm_assign is SECURITY DEFINER).
SELECT csm.grant_access('tap_audit_app', 'operate');
SET SESSION AUTHORIZATION tap_audit_login;
SET ROLE tap_audit_app;
SELECT is((SELECT r.assignment_success FROM csm.csm_assign('tap_forged', 'tap_cy', false) r), true,
          'an operate role assigns by hand');
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(l.actor::text, ',') FROM csm.assignment_log l
           WHERE l.external_id = 'tap_forged' AND l.reason IS NULL AND NOT l.is_primary), 'tap_audit_app',
          'the log names the role SET ROLE chose');
SET ROLE tap_audit_app;
SELECT lives_ok($$SELECT csm.override_health('tap_forged', 80, 'sponsor back', NULL)$$, 'an operate role overrides a score');
RESET ROLE;
SELECT is((SELECT o.created_by::text FROM csm.health_override o JOIN csm.account a USING (account_id)
           WHERE a.external_id = 'tap_forged'), 'tap_audit_app', 'the override names the role that made it');

-- 5. Append-only, even for the table owner.
ALTER TABLE csm.assignment_log OWNER TO tap_audit_owner;
SET ROLE tap_audit_owner;
SELECT throws_ok($$UPDATE csm.assignment_log SET reason = 'tampered'$$, '42501', NULL,
                 'the table owner cannot UPDATE audit rows');
SELECT throws_ok($$DELETE FROM csm.assignment_log$$, '42501', NULL, 'the table owner cannot DELETE audit rows');
SELECT throws_ok($$TRUNCATE csm.assignment_log$$, '42501', NULL, 'the table owner cannot TRUNCATE the log');
RESET ROLE;
ALTER TABLE csm.assignment_log OWNER TO CURRENT_USER;
SELECT throws_ok($$DELETE FROM csm.assignment_log$$, '42501', NULL, 'a superuser cannot DELETE audit rows either');

SELECT * FROM finish();
ROLLBACK;
