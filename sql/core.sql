-- The extension installs, drops and reinstalls cleanly, and the core tables
-- reject impossible values with clear errors.
\set VERBOSITY terse
SELECT extname, extversion, extrelocatable, n.nspname
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname = 'csm';
DROP EXTENSION csm;
-- PostgreSQL keeps the schema it created for the control file; a second CREATE reuses it.
SELECT count(*) AS csm_schema_kept FROM pg_namespace WHERE nspname = 'csm';
CREATE EXTENSION csm;
SELECT extname FROM pg_extension WHERE extname = 'csm';

-- every csm object carries a comment for BI tools
SELECT c.relname AS uncommented
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('csm', 'csm_internal') AND c.relkind IN ('r', 'v', 'p') AND obj_description(c.oid, 'pg_class') IS NULL;
SELECT p.proname AS uncommented
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('csm', 'csm_internal') AND obj_description(p.oid, 'pg_proc') IS NULL;

-- accounts
INSERT INTO csm.account (external_id, name, segment, arr, seats, renewal_date)
VALUES ('org_1', 'Acme', 'enterprise', 250000, 800, '2027-03-01');
INSERT INTO csm.account (external_id) VALUES ('org_1');
INSERT INTO csm.account (external_id) VALUES ('');
INSERT INTO csm.account (external_id) VALUES ('   ');
INSERT INTO csm.account (external_id) VALUES (NULL);
INSERT INTO csm.account (external_id, arr) VALUES ('org_2', -1);
INSERT INTO csm.account (external_id, seats) VALUES ('org_2', -5);
INSERT INTO csm.account (external_id, status) VALUES ('org_2', 'paused');
INSERT INTO csm.account (external_id, properties) VALUES ('org_2', '[1, 2]');
SELECT external_id, name, segment, arr, seats, status, properties FROM csm.account;
-- updated_at follows changes
UPDATE csm.account SET updated_at = '2000-01-01' WHERE external_id = 'org_1';
SELECT updated_at > '2001-01-01' AS touched FROM csm.account WHERE external_id = 'org_1';

-- team members
INSERT INTO csm.team_member (handle, name, roles, capacity, status)
VALUES ('alex.kim', 'Alex Kim', '{csm}', 40, 'online');
INSERT INTO csm.team_member (handle) VALUES ('alex.kim');
INSERT INTO csm.team_member (handle) VALUES ('');
INSERT INTO csm.team_member (handle, status) VALUES ('sam', 'busy');
INSERT INTO csm.team_member (handle, capacity) VALUES ('sam', -1);
UPDATE csm.team_member SET status_changed_at = '2000-01-01';
UPDATE csm.team_member SET status = 'away';
SELECT handle, roles, capacity, status, status_changed_at > '2001-01-01' AS status_changed, active
FROM csm.team_member;

-- NPS answers stay within 0-10
INSERT INTO csm.nps_response (account_id, score) SELECT account_id, 11 FROM csm.account;
INSERT INTO csm.nps_response (account_id, score) VALUES (999, 9);

-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;

-- churned_at goes with status: set when an account churns, kept when given,
-- cleared when it comes back; a churn date on an active account is refused.
INSERT INTO csm.account (external_id, status, churned_at) VALUES
    ('churn_a', 'churned', NULL), ('churn_b', 'churned', '2026-01-15 00:00+00');
SELECT external_id, churned_at IS NOT NULL AS has_date, churned_at = '2026-01-15 00:00+00' AS kept
FROM csm.account WHERE external_id LIKE 'churn_%' ORDER BY 1;
UPDATE csm.account SET status = 'active' WHERE external_id = 'churn_a';
SELECT external_id, status, churned_at FROM csm.account WHERE external_id = 'churn_a';
UPDATE csm.account SET status = 'churned' WHERE external_id = 'churn_a';
SELECT churned_at BETWEEN now() - interval '1 minute' AND now() AS set_now FROM csm.account WHERE external_id = 'churn_a';
INSERT INTO csm.account (external_id, churned_at) VALUES ('churn_c', now());
UPDATE csm.account SET status = 'active', churned_at = now() WHERE external_id = 'churn_b';
DELETE FROM csm.account WHERE external_id LIKE 'churn_%';
