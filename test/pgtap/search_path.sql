-- citus-differs: tracks a local table, which csm refuses on a distributed csm with 0A000 by design, and plants functions and operators as a role created in its transaction, which the workers cannot see.
-- search_path: nothing csm runs (functions, views, triggers, SPI) can be
-- hijacked by objects planted on the caller's search_path (issue 11, 2.2).
BEGIN;
SELECT plan(9);

-- C functions that run no SQL at all: they look up no operator, function
-- or relation by name, so the caller's path cannot reach them, and pinning
-- them would put every per-row call through fmgr's GUC save and restore.
-- Each one's C symbol was read (src/*.c) for SPI calls and name lookups;
-- test/shell/search_path_c.sh checks that no function of src/*.c that one
-- of them reaches calls SPI without pinning the path.  The health-score
-- functions do run SPI, on a model-cache miss only: src/health_model.c and
-- src/health_support.c pin search_path around it (csm_pin_search_path),
-- and their statements are schema-qualified with OPERATOR(pg_catalog.x)
-- besides.
CREATE TEMP TABLE c_runs_no_sql (symbol text PRIMARY KEY, why text);
INSERT INTO c_runs_no_sql VALUES
    ('csm_account_changed', 'trigger: a relcache invalidation'),
    ('csm_account_segment', 'trigger, per row; SPI once per statement as csm''s owner, pinned in C'),
    ('csm_segment_rule_of', 'per row; SPI once per query as csm''s owner, pinned in C'),
    ('csm_health_band', 'arithmetic'),
    ('csm_progress_start', 'sets a counter'),
    ('csm_progress', 'counts; a NOTICE'),
    ('csm_progress_add', 'counts; a NOTICE'),
    ('csm_caller', 'the outer role''s name'),
    ('csm_usage_ddl', 'event trigger: reads the DDL commands (qualified), resolves a partition''s name as its ALTER TABLE did, then pins the path in C'),
    ('csm_require', 'an ACL check on a marker looked up by qualified name'),
    ('csm_health_metrics_problem', 'per row; SPI on a model-cache miss, pinned in C'),
    ('csm_health_score_jsonb', 'per row; SPI on a model-cache miss, pinned in C'),
    ('csm_health_evaluate_jsonb', 'per row; SPI on a model-cache miss, pinned in C'),
    ('csm_health_score_row', 'per row; SPI on a model-cache miss, pinned in C'),
    ('csm_health_evaluate_row', 'per row; SPI on a model-cache miss, pinned in C'),
    ('csm_health_score_values', 'per row; SPI on a model-cache miss, pinned in C'),
    ('csm_health_score_row_support', 'planner support; SPI pinned in C'),
    ('csm_rule_condition_in', 'type input'), ('csm_rule_condition_out', 'type output'),
    ('csm_rule_condition_recv', 'type receive'), ('csm_rule_condition_send', 'type send'),
    ('csm_condition_matches', 'per row: evaluates a parsed condition over jsonb'),
    ('csm_condition_attributes', 'reads a parsed condition'),
    ('csm_first_match', 'per row: evaluates parsed conditions over jsonb (condition.c); its element type by oid'),
    ('csm_churn_band', 'per row: arithmetic, its own enum type by oid'),
    ('csm_churn_risk_score', 'arithmetic'),
    ('csm_churn_predict', 'per row: arithmetic over jsonb'),
    ('csm_churn_contributions', 'arithmetic over jsonb'),
    ('csm_churn_fit_transfn', 'aggregate'), ('csm_churn_fit_finalfn', 'aggregate'),
    ('csm_auc_transfn', 'aggregate'), ('csm_auc_combinefn', 'aggregate'), ('csm_auc_serialfn', 'aggregate'),
    ('csm_auc_deserialfn', 'aggregate'), ('csm_auc_finalfn', 'aggregate'),
    ('csm_churn_evaluate_transfn', 'aggregate'), ('csm_churn_evaluate_combinefn', 'aggregate'),
    ('csm_churn_evaluate_serialfn', 'aggregate'), ('csm_churn_evaluate_deserialfn', 'aggregate'),
    ('csm_churn_evaluate_finalfn', 'aggregate'),
    ('csm_arr_at_trans', 'aggregate'), ('csm_arr_at_final', 'aggregate'),
    ('csm_expansion_window_trans', 'aggregate: hashes keys bytewise'),
    ('csm_expansion_window_counts_final', 'aggregate'), ('csm_expansion_window_new_final', 'aggregate');

SELECT is_empty($$
    SELECT p.oid::regprocedure::text
    FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
    WHERE p.pronamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace)
      AND p.prokind <> 'a'              -- an aggregate runs its support functions, checked here
      AND p.prosqlbody IS NULL          -- an SQL-standard body is parsed at CREATE
      AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
      AND NOT (l.lanname = 'c' AND p.prosrc IN (SELECT symbol FROM c_runs_no_sql))
$$, 'every csm function has an SQL-standard body, SET search_path = pg_catalog, pg_temp, or is C that runs no SQL');

SELECT is_empty($$
    SELECT symbol FROM c_runs_no_sql
    EXCEPT
    SELECT p.prosrc FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
    WHERE p.pronamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace) AND l.lanname = 'c'
$$, 'the allow-list names only C functions csm has');

-- Pinning an SQL function would stop it being inlined: the hot ones keep
-- being inlined (EXPLAIN shows no call of them).
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END $f$;
SELECT unalike(pg_temp.plan_of('SELECT * FROM csm.account_metrics'), '%account_metrics_at%',
               'account_metrics inlines csm.account_metrics_at');
-- churn_metrics_at is PL/pgSQL on purpose (on Citus its query is planned
-- on its own, with values); its search_path is pinned like the others.
SELECT is((SELECT p.proconfig FROM pg_proc p WHERE p.oid = 'csm.churn_metrics_at(date, bigint)'::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp'], 'churn_metrics_at is PL/pgSQL with its search_path pinned');
-- account_metrics_at is PL/pgSQL on purpose (its query is planned with its
-- values, which Citus needs; refresh_health embeds the query itself); its
-- search_path is pinned like the others.
SELECT is((SELECT p.proconfig FROM pg_proc p WHERE p.oid = 'csm.account_metrics_at(date, bigint)'::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp'], 'account_metrics_at is PL/pgSQL with its search_path pinned');
SELECT unalike(pg_temp.plan_of($$SELECT csm_internal._pick_key(s, 1, 2.0, 3), csm_internal._has_room(1.0, 2.0, 3),
                                        csm_internal._default_accounts_per_csm(s)
                                 FROM (VALUES ('smb'), ('round_robin')) v(s)$$),
               '%csm_internal.\_%', 'the pickers'' helpers are inlined');

-- The exploit: a role that may create objects in public plants operators
-- for type pairs pg_catalog has no exact operator for; they make the role
-- superuser when a superuser runs them.  A superuser then reads csm.
CREATE ROLE tap_mallory NOLOGIN;
GRANT CREATE ON SCHEMA public TO tap_mallory;
CREATE TABLE tap_events (org text, member text, feature text, at timestamptz);
SELECT csm.track_usage('tap_events', 'org', 'at', 'feature', 'member');
INSERT INTO tap_events SELECT 'org_' || (i % 3), 'u' || (i % 4), 'f' || (i % 2), now() - i * interval '7 hours'
FROM generate_series(1, 200) AS i;
UPDATE csm.account SET seats = 10, arr = 12000, renewal_date = current_date + 500,
                       started_at = now() - interval '2 years';
INSERT INTO csm.nps_response (account_id, score) SELECT account_id, 9 FROM csm.account;

SET ROLE tap_mallory;
CREATE FUNCTION public.tap_escalate() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
        ALTER ROLE tap_mallory SUPERUSER;
    END IF;
END $f$;
DO $d$
DECLARE
    o record;
    n integer := 0;
BEGIN
    FOR o IN SELECT * FROM (VALUES
            ('/', 'numeric', 'integer', 'numeric'), ('*', 'numeric', 'integer', 'numeric'),
            ('+', 'numeric', 'integer', 'numeric'), ('-', 'numeric', 'integer', 'numeric'),
            ('/', 'integer', 'numeric', 'numeric'), ('*', 'integer', 'numeric', 'numeric'),
            ('+', 'integer', 'numeric', 'numeric'), ('-', 'integer', 'numeric', 'numeric'),
            ('/', 'bigint', 'numeric', 'numeric'), ('/', 'numeric', 'bigint', 'numeric'),
            ('/', 'double precision', 'numeric', 'double precision'),
            ('>', 'numeric', 'integer', 'boolean'), ('<', 'numeric', 'integer', 'boolean'))
        AS v(op, l, r, ret) LOOP
        n := n + 1;
        EXECUTE format($$CREATE FUNCTION public.tap_op_%s(l %s, r %s) RETURNS %s LANGUAGE plpgsql AS
                         'BEGIN PERFORM public.tap_escalate(); RETURN l::%s OPERATOR(pg_catalog.%s) r::%s; END'$$,
                       n, o.l, o.r, o.ret,
                       CASE WHEN o.ret = 'boolean' THEN 'numeric' ELSE o.ret END, o.op,
                       CASE WHEN o.ret = 'boolean' THEN 'numeric' ELSE o.ret END);
        EXECUTE format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.tap_op_%s)',
                       o.op, o.l, o.r, n);
    END LOOP;
END $d$;
RESET ROLE;

-- The superuser's session, with public on its path (pg_catalog first, as
-- always when it is not listed).
SET search_path = public;
CREATE TEMP TABLE tap_read AS
SELECT (SELECT count(*) FROM csm.account_metrics WHERE dau_ratio > 0) AS metrics,
       (SELECT count(*) FROM csm.churn_metrics_at(current_date)) AS churn_metrics,
       (SELECT count(*) FROM csm.churn_risk) AS risk,
       csm.refresh_health() AS health,
       csm.refresh_churn() AS churn,
       csm.churn_probability('org_1') AS probability,
       (SELECT count(*) FROM csm.account_health) AS account_health;
RESET search_path;
SET LOCAL client_min_messages = warning;
SET ROLE tap_mallory;
DROP FUNCTION public.tap_escalate() CASCADE;
DO $d$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p WHERE p.proname LIKE 'tap\_op\_%' LOOP
        EXECUTE format('DROP FUNCTION %s CASCADE', f);
    END LOOP;
END $d$;
RESET ROLE;
RESET client_min_messages;

SELECT is((SELECT metrics FROM tap_read), 3::bigint, 'a superuser read csm.account_metrics with public on the path');
SELECT ok((SELECT probability IS NOT NULL AND health > 0 FROM tap_read), 'and refreshed and read health and churn');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'tap_mallory'), false,
          'the role that planted operators in public did not become superuser');

SELECT * FROM finish();
ROLLBACK;
