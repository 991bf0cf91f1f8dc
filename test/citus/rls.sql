-- Per-CSM visibility on a Citus cluster (csm.distribute() done): Citus
-- 13.2 refuses subqueries in the policies of distributed tables (a CSM's
-- book is read from csm.account_assignment, distributed by account), and
-- under a policy its planner crashes the coordinator on the dashboard
-- views' chained outer joins from a reference table to distributed tables (README "Per-CSM
-- visibility", On Citus).  So csm.enable_row_security() refuses with 0A000,
-- says why, and changes nothing; team_member.login_role (a reference
-- table's column) and csm's writers, which check the caller's book, keep
-- working there.
--
--   pg_prove -h 127.0.0.1 -p COORDINATOR -d csm_citus test/citus/rls.sql
BEGIN;
SELECT plan(7);

SELECT throws_ok('SELECT csm.enable_row_security()', '0A000', 'per-CSM visibility is not available on a distributed csm',
                 'enable_row_security on a distributed csm: 0A000');
CREATE FUNCTION pg_temp.refusal_detail() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    PERFORM csm.enable_row_security();
    RETURN NULL;
EXCEPTION WHEN feature_not_supported THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN detail;
END $$;
SELECT alike(pg_temp.refusal_detail(), '%subqueries%planner crashes%chain outer joins from a reference table to distributed tables%',
             '... and its detail names both reasons');
SELECT is((SELECT count(*) FROM pg_class c WHERE c.relrowsecurity AND c.relnamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace)), 0::bigint,
          '... and no table has row-level security');
SELECT is((SELECT count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace)), 0::bigint,
          '... nor a policy');

INSERT INTO csm.team_member (handle, roles, teams, login_role) VALUES ('rls_ann', ARRAY['csm'], ARRAY['rls'], current_user::regrole);
INSERT INTO csm.account (external_id, segment, arr) VALUES ('rls_a1', 'smb', 1000);
SELECT is((SELECT login_role FROM csm.team_member WHERE handle = 'rls_ann'), current_user::regrole, 'login_role on the reference table');
SELECT ok((csm.csm_assign('rls_a1', 'rls_ann')).assignment_success, 'csm_assign checks the book and assigns');
SELECT throws_ok($$SELECT csm.csm_unassign('rls_nowhere', 'rls_ann')$$, 'P0002', 'account "rls_nowhere" does not exist',
                 'an unknown account is still P0002');

SELECT * FROM finish();
ROLLBACK;
