-- New accounts on a Citus cluster: their ARR (an arr_change of kind new),
-- lifecycle stage and owner are set when their transaction commits, by one
-- firing however many accounts it created (account_new_deferred,
-- src/sql/95_platform/96_new_accounts.sql), with what each was inserted
-- with.  SET CONSTRAINTS ALL IMMEDIATE fires here what a commit would; the
-- trigger function's calls are this transaction's counts.
--
-- Run against the coordinator of a cluster where CREATE EXTENSION pgtap,
-- CREATE EXTENSION csm and SELECT csm.distribute() have run:
--   pg_prove -h 127.0.0.1 -p <coordinator port> -d csm_citus test/citus/new_accounts.sql
-- It works in one transaction and rolls it back.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SELECT plan(19);
SET LOCAL timezone = 'UTC';
SET LOCAL client_min_messages = error;
SET LOCAL track_functions = 'all';

-- A number a query gives, read here (pgTAP lives on the coordinator only).
CREATE FUNCTION pg_temp.num(q text) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    n numeric;
BEGIN
    EXECUTE q INTO n;
    RETURN n;
END $$;
CREATE FUNCTION pg_temp.firings() RETURNS numeric
LANGUAGE sql AS $$
    SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions
    WHERE schemaname = 'csm_internal' AND funcname = '_new_accounts_at_commit'
$$;
-- The stage the built-in rules give (no health scores here, so never growth).
\set expected '(CASE WHEN a.status = ''churned'' THEN ''churned'' WHEN (now() AT TIME ZONE ''UTC'')::date - (a.started_at AT TIME ZONE ''UTC'')::date <= 90 THEN ''onboarding'' WHEN a.renewal_date - (now() AT TIME ZONE ''UTC'')::date <= 90 THEN ''renewal'' ELSE ''adoption'' END)::csm.lifecycle_stage'

SELECT is(current_setting('citus.allow_nested_distributed_execution'), 'off', 'no user setting changed');

INSERT INTO csm.team_member (handle, teams, roles) VALUES ('na_ann', '{na_team}', '{csm}');
INSERT INTO csm.routing_rule (name, priority, condition, target_kind, target)
VALUES ('na_rule', 10, 'plan = ''na_plan''', 'team', 'na_team');
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;

-- 1. One INSERT ... SELECT of 60 accounts (Citus loads every copy at once) --
INSERT INTO csm.account (external_id, plan, arr, seats, started_at, renewal_date, status, lifecycle_stage)
SELECT 'na_' || i, 'na_plan', CASE WHEN i % 5 = 0 THEN NULL ELSE 100 * i END, 5, now() - make_interval(days => i * 7),
       current_date + (i * 37) % 365, CASE WHEN i % 11 = 0 THEN 'churned' ELSE 'active' END,
       CASE WHEN i = 3 THEN 'growth'::csm.lifecycle_stage END
FROM generate_series(1, 60) i;
-- an ARR changed before the commit: the new movement keeps the inserted ARR,
-- and the change follows it
UPDATE csm.account SET arr = 5000 WHERE external_id = 'na_1';
SELECT is(pg_temp.firings(), 0::numeric, 'nothing fires before the commit');
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
SELECT is(pg_temp.firings(), 1::numeric, '60 accounts from one INSERT ... SELECT: one firing at commit');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.arr_change c JOIN csm.account a USING (account_id)
                        WHERE a.external_id LIKE 'na\_%' AND c.kind = 'new'$$),
          (SELECT count(*)::numeric FROM generate_series(1, 60) i WHERE i % 5 <> 0 AND i % 11 <> 0),
          'a new movement for each account inserted with ARR (not churned)');
SELECT is(pg_temp.num($$SELECT sum(c.arr_after) FROM csm.arr_change c JOIN csm.account a USING (account_id)
                        WHERE a.external_id LIKE 'na\_%' AND c.kind = 'new'$$),
          (SELECT sum(100 * i)::numeric FROM generate_series(1, 60) i WHERE i % 5 <> 0 AND i % 11 <> 0),
          'with the ARR each was inserted with');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.arr_change c JOIN csm.account a USING (account_id)
                        WHERE a.external_id = 'na_1' AND c.kind = 'new' AND c.arr_after = 100
                          AND c.effective_date = (a.started_at AT TIME ZONE 'UTC')::date$$), 1::numeric,
          'na_1: new at 100, the day it started, although its ARR is 5,000 at commit');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.arr_change c JOIN csm.account a USING (account_id)
                        WHERE a.external_id = 'na_1' AND c.kind = 'expansion' AND (c.arr_before, c.arr_after) = (100, 5000)$$),
          1::numeric, 'and the expansion the UPDATE recorded');
SELECT is((SELECT count(*) FROM csm.account a WHERE a.external_id LIKE 'na\_%' AND a.external_id <> 'na_3'
           AND a.lifecycle_stage IS DISTINCT FROM :expected), 0::bigint, 'every account has the stage the rules give');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.lifecycle_history h JOIN csm.account a USING (account_id)
                        WHERE a.external_id LIKE 'na\_%'$$), 60::numeric, 'one history row each');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.account_lifecycle l JOIN csm.account a USING (account_id)
                        WHERE a.external_id = 'na_3' AND l.manual AND l.stage = 'growth'$$), 1::numeric,
          'a stage given with the account is pinned');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.assignment WHERE external_id LIKE 'na\_%' AND handle = 'na_ann' AND is_primary$$),
          55::numeric, 'every active account routed by the rule (churned ones are not routed)');

-- 2. Single-row INSERTs, one rolled back in a subtransaction, one deleted ---
INSERT INTO csm.account (external_id, plan, arr, started_at) VALUES ('na_s1', 'na_plan', 700, now());
SAVEPOINT s;
INSERT INTO csm.account (external_id, plan, arr, started_at) VALUES ('na_gone', 'na_plan', 80001, now());
ROLLBACK TO SAVEPOINT s;
INSERT INTO csm.account (external_id, plan, arr, started_at) VALUES ('na_s2', 'na_plan', 900, now());
INSERT INTO csm.account (external_id, plan, arr, started_at) VALUES ('na_deleted', 'na_plan', 100001, now());
DELETE FROM csm.account WHERE external_id = 'na_deleted';
-- history (created before this transaction): left as it is, as on one node
INSERT INTO csm.account (external_id, plan, arr, started_at, created_at) VALUES ('na_old', 'na_plan', 1100, now() - interval '2 years',
                                                                         now() - interval '2 years');
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
SELECT is(pg_temp.firings(), 2::numeric, 'accounts created after a firing queue one more firing, one');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.arr_change c JOIN csm.account a USING (account_id)
                        WHERE a.external_id IN ('na_s1', 'na_s2') AND c.kind = 'new'$$), 2::numeric,
          'both single-row accounts recorded');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.arr_change WHERE arr_after IN (80001, 100001)$$), 0::numeric,
          'nothing for the account rolled back or the one deleted');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.account_lifecycle l JOIN csm.account a USING (account_id)
                        WHERE a.external_id IN ('na_s1', 'na_s2')$$), 2::numeric, 'both placed in their stage');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.assignment WHERE external_id IN ('na_s1', 'na_s2') AND is_primary$$),
          2::numeric, 'both routed');
SELECT is(pg_temp.num($$SELECT (SELECT count(*) FROM csm.arr_change c JOIN csm.account a USING (account_id) WHERE a.external_id = 'na_old')
                             + (SELECT count(*) FROM csm.account_lifecycle l JOIN csm.account a USING (account_id) WHERE a.external_id = 'na_old')
                             + (SELECT count(*) FROM csm.assignment WHERE external_id = 'na_old')$$), 0::numeric,
          'history is left as it is');

-- 3. A rolled-back subtransaction that queued the firing takes it along ----
SAVEPOINT t;
INSERT INTO csm.account (external_id, started_at) VALUES ('na_t1', now());
ROLLBACK TO SAVEPOINT t;
INSERT INTO csm.account (external_id, started_at) VALUES ('na_t2', now());
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
SELECT is(pg_temp.firings(), 3::numeric, 'the account after a rolled-back first one still queues a firing');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.account_lifecycle l JOIN csm.account a USING (account_id)
                        WHERE a.external_id = 'na_t2'$$), 1::numeric, 'and is placed');

SELECT * FROM finish();
ROLLBACK;
