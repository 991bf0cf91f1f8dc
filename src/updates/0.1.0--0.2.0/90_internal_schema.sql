-- 0.1.0 to 0.2.0: csm's internals move to schema csm_internal (issue 15,
-- section 3), so that \df csm.* and \dv csm.* show only the documented API.
--
-- The objects are moved, not dropped and made again: their oids stay, so
-- what depends on them keeps working (the rollup triggers csm put on users'
-- tracked tables, csm's own triggers, views, defaults and aggregates), and
-- their privileges and rows go with them.  The install script, run after the
-- hand-written steps, then replaces each moved function's body with the one
-- that names csm_internal.  A name a step before this one dropped or renamed
-- is skipped.  The list is every internal object of 0.1.0 (git show
-- 002a1e2:src/sql/...): the functions whose names start with "_", the I/O
-- functions of csm.rule_condition, and the tables, views and sequences that
-- /work/hx/internal_move.py calls internal.  The owned sequences of a table
-- move with it.
-- A schema of that name that csm did not make fails here (42P06), before
-- anything moves into it: its owner could replace csm's internals.
CREATE SCHEMA csm_internal;

DO $$
DECLARE
    f text;
    r record;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        '@extschema@._account_changed()',
        '@extschema@._account_churn_date()',
        '@extschema@._account_id(text)',
        '@extschema@._agent_changed()',
        '@extschema@._append_only()',
        '@extschema@._apply_rule(bigint,@extschema@.routing_rule)',
        '@extschema@._apply_usage(bigint[],integer[],date[],text[],text[],bigint[])',
        '@extschema@._auc_combinefn(internal,internal)',
        '@extschema@._auc_deserialfn(bytea,internal)',
        '@extschema@._auc_finalfn(internal)',
        '@extschema@._auc_serialfn(internal)',
        '@extschema@._auc_transfn(internal,double precision,boolean)',
        '@extschema@._churn_drivers(jsonb,double precision[],integer)',
        '@extschema@._churn_evaluate_combinefn(internal,internal)',
        '@extschema@._churn_evaluate_deserialfn(bytea,internal)',
        '@extschema@._churn_evaluate_finalfn(internal)',
        '@extschema@._churn_evaluate_serialfn(internal)',
        '@extschema@._churn_evaluate_transfn(internal,double precision,boolean)',
        '@extschema@._churn_evaluate_transfn(internal,double precision,boolean,double precision)',
        '@extschema@._churn_fit_finalfn(internal)',
        '@extschema@._churn_fit_transfn(internal,double precision[],boolean)',
        '@extschema@._churn_fit_transfn(internal,double precision[],boolean,jsonb)',
        '@extschema@._churn_impute(jsonb,double precision[])',
        '@extschema@._churn_model_in_use()',
        '@extschema@._churn_predictions(bigint)',
        '@extschema@._churn_signal_kind_guard()',
        '@extschema@._churn_signal_setting_check()',
        '@extschema@._churn_vector(text[],double precision[],text[])',
        '@extschema@._clear_usage(integer,date)',
        '@extschema@._conversation_freed()',
        '@extschema@._conversation_move()',
        '@extschema@._conversation_route()',
        '@extschema@._default_accounts_per_csm(text)',
        '@extschema@._end_assignment(bigint,bigint,text)',
        '@extschema@._forget_health()',
        '@extschema@._has_room(double precision,double precision,integer)',
        '@extschema@._health_model_check()',
        '@extschema@._health_model_guard()',
        '@extschema@._health_part_guard()',
        '@extschema@._health_score_row_support(internal)',
        '@extschema@._health_score_values(text,text[],"any")',
        '@extschema@._lock_account(bigint)',
        '@extschema@._lock_member(bigint)',
        '@extschema@._lock_queue(text,boolean)',
        '@extschema@._log_move(@extschema@.conversation,text,bigint)',
        '@extschema@._member(text)',
        '@extschema@._member_left()',
        '@extschema@._models_of(text,text)',
        '@extschema@._pick_agent(text,bigint,boolean)',
        '@extschema@._pick_key(text,integer,double precision,integer)',
        '@extschema@._pick_member(bigint[],text,double precision)',
        '@extschema@._queue_account(bigint,text,text,bigint)',
        '@extschema@._route_new_accounts()',
        '@extschema@._serve_queue(text[],text)',
        '@extschema@._start_assignment(bigint,bigint,boolean,double precision,text,bigint,text,bigint)',
        '@extschema@._support_team(text)',
        '@extschema@._support_team_changed()',
        '@extschema@._take_agent(bigint,text,boolean)',
        '@extschema@._touch_account()',
        '@extschema@._touch_member_status()',
        '@extschema@._usage_column_type(regclass,name,text,regtype[])',
        '@extschema@._usage_day_expr(name,regtype)',
        '@extschema@._usage_rollup()',
        '@extschema@.rule_condition_in(cstring)',
        '@extschema@.rule_condition_out(@extschema@.rule_condition)',
        '@extschema@.rule_condition_recv(internal)',
        '@extschema@.rule_condition_send(@extschema@.rule_condition)'
    ] LOOP
        IF pg_catalog.to_regprocedure(f) IS NOT NULL THEN
            EXECUTE pg_catalog.format('ALTER ROUTINE %s SET SCHEMA csm_internal', pg_catalog.to_regprocedure(f));
        END IF;
    END LOOP;
    FOR r IN SELECT * FROM (VALUES
        ('TABLE', 'usage_delta'), ('TABLE', 'usage_fold_lock'), ('TABLE', 'usage_pending'),
        ('TABLE', 'usage_counter'), ('TABLE', 'usage_user_day'), ('TABLE', 'usage_feature_counter'),
        ('TABLE', 'member_load'), ('TABLE', 'member_lock'), ('TABLE', 'lock_row'),
        ('TABLE', 'agent_load'), ('TABLE', 'conversation_change'),
        ('VIEW', '_usage_day'), ('VIEW', '_usage_feature_day'), ('VIEW', '_usage_staged'),
        ('SEQUENCE', 'member_pick_seq'), ('SEQUENCE', 'agent_pick_seq')) AS v (kind, name)
    LOOP
        IF pg_catalog.to_regclass(pg_catalog.format('@extschema@.%I', r.name)) IS NOT NULL THEN
            EXECUTE pg_catalog.format('ALTER %s @extschema@.%I SET SCHEMA csm_internal', r.kind, r.name);
        END IF;
    END LOOP;
END $$;
