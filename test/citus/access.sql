-- Access levels on Citus (issue 12): a query as a role runs on the workers
-- as that role, so csm.grant_access and csm.revoke_access take effect on
-- every node, and csm.distribute() brings the workers in line again.  A
-- LOGIN role at each level reads every view of schema csm (the dashboards
-- among them), one without a level is refused, and a revoke is seen on the
-- workers.  Not in one transaction: Citus connects to the workers as each
-- role over new connections, which see only committed grants.  The roles
-- are cluster-wide, and dropped at the end.
--
--   pg_prove -h 127.0.0.1 -p COORDINATOR -d csm_citus test/citus/access.sql
SET client_min_messages = warning;
-- its pg_temp functions stay on the coordinator, as they should
SET citus.enable_unsupported_feature_messages = off;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['csm_acc_none', 'csm_acc_read', 'csm_acc_operate', 'csm_acc_admin'] LOOP
        IF to_regrole(r) IS NOT NULL THEN
            PERFORM csm.revoke_access(r::regrole);
            EXECUTE format('DROP ROLE %I', r);
        END IF;
        EXECUTE format('CREATE ROLE %I LOGIN', r);
    END LOOP;
END $$;
SELECT csm.grant_access('csm_acc_read', 'read');
SELECT csm.grant_access('csm_acc_operate', 'operate');
SELECT csm.grant_access('csm_acc_admin', 'admin');

-- Runs a query as the role; 'ok', or its SQLSTATE and message.
CREATE FUNCTION pg_temp.acc_try(who text, query text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', who);
    EXECUTE query;
    RESET ROLE;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- The role's privileges csm gives on the workers itself: USAGE on
-- csm_internal and its level's marker, on every worker.
CREATE FUNCTION pg_temp.acc_on_workers(who text) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(r.result, ' ' ORDER BY r.nodeport)
    FROM run_command_on_workers(format($q$SELECT has_schema_privilege(%L, 'csm_internal', 'USAGE')
                                              AND has_function_privilege(%L, 'csm_internal._access_read()', 'EXECUTE')$q$,
                                       who, who)) r
$$;
CREATE TEMP TABLE acc_role (who text, level text);
INSERT INTO acc_role VALUES ('csm_acc_none', NULL), ('csm_acc_read', 'read'), ('csm_acc_operate', 'operate'),
                            ('csm_acc_admin', 'admin');

SELECT plan((SELECT count(*)::integer FROM pg_views v WHERE v.schemaname = 'csm') * 4 + 9);

-- Every view, as every role: with a level it reads, without one 42501.
SELECT is(left(pg_temp.acc_try(r.who, format('SELECT count(*) FROM csm.%I', v.viewname)), 5),
          CASE WHEN r.level IS NULL THEN '42501' ELSE 'ok' END,
          format('%s reads csm.%s', r.who, v.viewname))
FROM acc_role r CROSS JOIN pg_views v
WHERE v.schemaname = 'csm'
ORDER BY r.level NULLS FIRST, v.viewname;

SELECT is(pg_temp.acc_on_workers('csm_acc_read'), 't t', 'the read level is on both workers');
SELECT is(pg_temp.acc_on_workers('csm_acc_none'), 'f f', 'no level, nothing on the workers');

-- A revoke is seen on the workers.
SELECT csm.revoke_access('csm_acc_read');
SELECT is(pg_temp.acc_on_workers('csm_acc_read'), 'f f', 'revoke_access takes the level away on the workers');
SELECT is(left(pg_temp.acc_try('csm_acc_read', 'SELECT count(*) FROM csm.account_metrics'), 5), '42501',
          '... and the role can no longer read');
SELECT is(left(pg_temp.acc_try('csm_acc_read', 'SELECT count(*) FROM csm_internal.usage_counter'), 5), '42501',
          '... not even a table of csm_internal');
SELECT csm.grant_access('csm_acc_read', 'read');
SELECT is(pg_temp.acc_try('csm_acc_read', 'SELECT count(*) FROM csm.dashboard_executive'), 'ok',
          'granted again, it reads');

-- A worker that lost them (as one added after csm.distribute()): the next
-- csm.distribute() gives them back.
SELECT run_command_on_workers($$SET citus.enable_ddl_propagation = off; REVOKE USAGE ON SCHEMA csm_internal FROM csm_acc_operate$$);
SELECT is(left(pg_temp.acc_try('csm_acc_operate', 'SELECT count(*) FROM csm.account_metrics'), 5), '42501',
          'a worker without the grant refuses the role');
SELECT is((SELECT count(*) FROM csm.distribute() d WHERE d.changed), 0::bigint, 'csm.distribute() again moves no table');
SELECT is(pg_temp.acc_try('csm_acc_operate', 'SELECT count(*) FROM csm.account_metrics'), 'ok',
          '... and gives the worker the grant back');

SELECT * FROM finish();

SELECT csm.revoke_access(r.who::regrole) FROM acc_role r;
DROP ROLE csm_acc_none, csm_acc_read, csm_acc_operate, csm_acc_admin;
