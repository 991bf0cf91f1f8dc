-- Access levels: what an application, a BI tool and an administrator need,
-- nothing more.  csm.grant_access(role, level) grants a role one of three
-- levels; csm.revoke_access(role) takes it away.
--
--   read     the tables and views (SELECT), and every function that reads;
--   operate  read, and assign, unassign, route, override and refresh, and
--            INSERT into csm.account_note and csm.nps_response;
--   admin    operate, and writes to models, rules, members and settings.
--
-- Why GRANTs, not group roles: roles are cluster-wide, and CREATE EXTENSION
-- in one database should not create (or depend on) roles every database
-- shares.  Each level is a list of ordinary privileges (csm.access_privileges,
-- the one place it is written down), which pg_dump keeps with the objects,
-- DROP OWNED removes and \dp shows.  A role's level is its EXECUTE on a
-- marker function, csm_internal._access_<level>(), granted with the rest.
--
-- The functions that write are SECURITY DEFINER: they write csm's internal
-- tables themselves, so no level needs a grant on one.  Every level may call
-- them (EXECUTE), and each first checks the calling role's level
-- (csm_internal._require), so a call above a role's level fails with 42501 and a hint
-- naming the level it needs.  The calling role is the outer user (the
-- session's role, or the one SET ROLE chose), not current_user, which is
-- csm's owner inside these functions.

-- The markers.  Their ACL is the level: nobody but csm's owner (and
-- superusers) may execute them until csm.grant_access says so.
CREATE OR REPLACE FUNCTION csm_internal._access_read() RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN true;
CREATE OR REPLACE FUNCTION csm_internal._access_operate() RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN true;
CREATE OR REPLACE FUNCTION csm_internal._access_admin() RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN true;
COMMENT ON FUNCTION csm_internal._access_read() IS 'Internal: EXECUTE on it is csm''s read level (csm.grant_access).';
COMMENT ON FUNCTION csm_internal._access_operate() IS 'Internal: EXECUTE on it is csm''s operate level (csm.grant_access).';
COMMENT ON FUNCTION csm_internal._access_admin() IS 'Internal: EXECUTE on it is csm''s admin level (csm.grant_access).';
REVOKE ALL ON FUNCTION csm_internal._access_read(), csm_internal._access_operate(), csm_internal._access_admin() FROM PUBLIC;

CREATE OR REPLACE FUNCTION csm_internal._require(level text) RETURNS void
AS 'MODULE_PATHNAME', 'csm_require'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._require(text) IS
    'Internal: raises 42501, with a hint naming the level and the csm.grant_access call that gives it, unless the calling role (the outer user, not a SECURITY DEFINER function''s owner) holds the level; 22023 for an unknown level.';

-- Which function needs which level.  Each is SECURITY DEFINER (below).
CREATE OR REPLACE FUNCTION csm_internal._gated_functions() RETURNS TABLE (function_name name, level text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT v.f::name, v.l FROM (VALUES
        ('csm_assign', 'operate'), ('csm_unassign', 'operate'), ('csm_auto_assign', 'operate'),
        ('apply_routing', 'operate'), ('assign_queued', 'operate'),
        ('refresh_health', 'operate'), ('override_health', 'operate'), ('clear_health_override', 'operate'),
        ('refresh_churn', 'operate'), ('refresh_churn_signals', 'operate'),
        ('refresh_expansion', 'operate'),
        ('route_waiting', 'operate'), ('reassign_stale', 'operate'),
        ('record_nps', 'operate'), ('update_nps_followup', 'operate'),
        ('release_member', 'admin'), ('copy_health_model', 'admin'), ('train_churn_model', 'admin'),
        ('rebuild_agent_load', 'admin'),
        ('refresh_lifecycle', 'operate'), ('set_lifecycle_stage', 'operate'), ('clear_lifecycle_stage', 'operate'),
        ('record_milestone', 'operate'), ('clear_milestone', 'operate'),
        ('load_arr_history', 'admin'),
        ('refresh_renewals', 'operate'), ('close_renewal', 'operate'),
        ('set_segment', 'operate'), ('refresh_segments', 'operate'),
        ('run_refresh', 'operate'), ('purge_refresh_runs', 'operate'),
        ('run_playbooks', 'operate'), ('open_cta', 'operate'), ('complete_task', 'operate'), ('resolve_cta', 'operate'),
        ('create_success_plan', 'operate'), ('set_success_plan_status', 'operate'),
        ('refresh_success_plans', 'operate'), ('record_business_review', 'operate'),
        ('run_alerts', 'operate'), ('acknowledge_alert', 'operate')) AS v (f, l);
END;
COMMENT ON FUNCTION csm_internal._gated_functions() IS
    'Internal: the functions that write csm''s tables as csm''s owner, and the level each checks for.';

-- The list: every privilege each level grants.  read: USAGE on the schema
-- and on csm_internal, SELECT on every table and view of both (the views are
-- security_invoker, so they read the tables, csm_internal's too, as the reader), EXECUTE on the gated functions (which
-- check the level themselves) and on the marker.  operate and admin: their
-- marker and the tables their level writes directly.
CREATE OR REPLACE FUNCTION @extschema@.access_privileges()
RETURNS TABLE (level text, privilege text, object_type text, object text)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT 'read', 'USAGE', 'SCHEMA', pg_catalog.quote_ident(n.nspname)
    FROM pg_catalog.pg_namespace n WHERE n.oid IN ('@extschema@'::regnamespace, 'csm_internal'::regnamespace)
    UNION ALL
    SELECT 'read', 'SELECT', 'TABLE', c.oid::regclass::text
    FROM pg_catalog.pg_class c
    WHERE c.relnamespace IN ('@extschema@'::regnamespace, 'csm_internal'::regnamespace) AND c.relkind IN ('r', 'p', 'v', 'm')
    UNION ALL
    SELECT 'read', 'EXECUTE', 'FUNCTION', p.oid::regprocedure::text
    FROM pg_catalog.pg_proc p JOIN csm_internal._gated_functions() g ON g.function_name OPERATOR(pg_catalog.=) p.proname
    WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace
    UNION ALL
    SELECT v.level, v.privilege, v.object_type, v.object FROM (VALUES
        ('read', 'EXECUTE', 'FUNCTION', 'csm_internal._access_read()'),
        ('operate', 'EXECUTE', 'FUNCTION', 'csm_internal._access_operate()'),
        ('operate', 'INSERT', 'TABLE', '@extschema@.account_note'),
        ('operate', 'INSERT', 'TABLE', '@extschema@.nps_response'),
        ('operate', 'INSERT', 'TABLE', '@extschema@.conversation_note'),
        ('admin', 'EXECUTE', 'FUNCTION', 'csm_internal._access_admin()'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.team_member'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.support_team'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.routing_rule'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.segment_weight'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.segment'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.segment_rule'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.health_model'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.health_group'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.health_component'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.health_model_map'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.churn_model'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.churn_signal_kind'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.churn_signal_setting'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.lifecycle_rule'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.milestone'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.core_feature'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.nps_category'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.expansion_signal_setting'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.feature_launch'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.playbook'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.playbook_step'),
        ('admin', 'INSERT, UPDATE, DELETE', 'TABLE', '@extschema@.value_metric')
    ) AS v (level, privilege, object_type, object);
END;
COMMENT ON FUNCTION @extschema@.access_privileges() IS
    'Every privilege csm.grant_access grants, by level (read, operate, admin); a level also gets those of the levels below it. read: USAGE on schemas csm and csm_internal, SELECT on every table and view of both, EXECUTE on the functions that write (each checks the caller''s level). operate: INSERT on account_note, nps_response and conversation_note. admin: INSERT, UPDATE and DELETE on members, teams, rules, segments, segment rules, segment weights, health and churn models, churn signal settings, lifecycle rules, milestones, core features, the NPS actions (csm.nps_category), playbooks and their steps, value metrics (csm.value_metric) and feature launches (csm.feature_launch).';

-- The levels a level includes, lowest first.
CREATE OR REPLACE FUNCTION csm_internal._access_levels(level text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN CASE level WHEN 'read' THEN ARRAY['read'] WHEN 'operate' THEN ARRAY['read', 'operate']
                      WHEN 'admin' THEN ARRAY['read', 'operate', 'admin'] END;
END $$;
COMMENT ON FUNCTION csm_internal._access_levels(text) IS 'Internal: the levels a level includes (admin: read, operate, admin); NULL for an unknown level.';

-- Only csm's owner (or a superuser) may hand out csm's privileges: GRANT by
-- anyone else would only warn and grant nothing.
CREATE OR REPLACE FUNCTION csm_internal._check_grantor() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT n.nspowner FROM pg_namespace n WHERE n.oid = '@extschema@'::regnamespace),
                       'USAGE') THEN
        RAISE EXCEPTION 'permission denied: only the owner of csm may grant or revoke access to it'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run it as the role that created the extension, or as a superuser.';
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._check_grantor() IS 'Internal: raises 42501 unless the current user may grant csm''s privileges (owns csm, or is a superuser).';

-- On a Citus worker, the privileges Citus gives from the coordinator itself
-- (in the caller's transaction): those on the schemas it tracks (csm) and on
-- the tables, every one of which csm.distribute() makes a distributed or
-- reference table (csm_internal._distribution), and their shards.  The rest
-- (schema csm_internal, the views, the functions: csm's extension owns them
-- and Citus does not track them) csm gives there itself.  Kept apart so that
-- the two never update the same catalog row: the worker's own command would
-- wait for the caller's uncommitted one, which waits for it.  By kind, not by
-- Citus's metadata, which the worker does not see yet inside the
-- csm.distribute() that places the tables.
CREATE OR REPLACE FUNCTION csm_internal._citus_propagates(object_type text, object text) RETURNS boolean
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN CASE object_type
        WHEN 'SCHEMA' THEN EXISTS (SELECT FROM pg_dist_object o
                                   WHERE o.classid = 'pg_namespace'::regclass AND o.objid = object::regnamespace)
        WHEN 'TABLE' THEN (SELECT c.relkind IN ('r', 'p') FROM pg_class c WHERE c.oid = object::regclass)
        ELSE false END;
END $$;
REVOKE ALL ON FUNCTION csm_internal._citus_propagates(text, text) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._citus_propagates(text, text) IS
    'Internal, on a Citus worker: true when Citus passes a GRANT or REVOKE on this object (one of csm.access_privileges) on from the coordinator itself: schemas it tracks, and tables (csm.distribute() places them all) with their shards.';

-- The role's privileges on this node: every level's revoked, then those of
-- the level (NULL: none) granted.  On a Citus worker, only what Citus does
-- not propagate (csm_internal._citus_propagates), and for this node alone.
CREATE OR REPLACE FUNCTION csm_internal._set_access(role regrole, level text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    on_worker boolean := false;
    p record;
BEGIN
    -- without Citus, citus_is_coordinator() does not exist
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        on_worker := NOT citus_is_coordinator();
    END IF;
    IF on_worker THEN
        PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    END IF;
    FOR p IN SELECT * FROM @extschema@.access_privileges() a
             WHERE NOT (on_worker AND csm_internal._citus_propagates(a.object_type, a.object))
             ORDER BY a.level DESC, a.object_type, a.object LOOP
        EXECUTE format('REVOKE %s ON %s %s FROM %s', p.privilege, p.object_type, p.object, role);
    END LOOP;
    FOR p IN SELECT * FROM @extschema@.access_privileges() a
             WHERE a.level = ANY (csm_internal._access_levels(_set_access.level))
               AND NOT (on_worker AND csm_internal._citus_propagates(a.object_type, a.object))
             ORDER BY a.object_type, a.object LOOP
        EXECUTE format('GRANT %s ON %s %s TO %s', p.privilege, p.object_type, p.object, role);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION csm_internal._set_access(regrole, text) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._set_access(regrole, text) IS
    'Internal: gives the role exactly the privileges of the level (NULL: none) on this node; on a Citus worker only those Citus does not propagate from the coordinator (csm_internal._citus_propagates). Run by csm.grant_access, csm.revoke_access and csm.distribute().';

-- The same on every worker once csm.distribute() has run: a query as the
-- role runs on the workers, as the role.  run_command_on_workers commits
-- there at once, whatever the caller's transaction does after; calling
-- grant_access, revoke_access or csm.distribute() again brings them in line.
CREATE OR REPLACE FUNCTION csm_internal._set_access_on_workers(role regrole, level text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    w record;
BEGIN
    IF NOT csm_internal._is_distributed('@extschema@.account') THEN
        RETURN;
    END IF;
    -- (apart: without Citus, citus_is_coordinator() does not exist)
    IF NOT citus_is_coordinator() THEN
        RETURN;
    END IF;
    -- A role created in the caller's transaction is not on the workers yet
    -- (they see it at commit), nor can anything be granted to it there.
    FOR w IN SELECT r.nodename, r.nodeport, r.success, r.result
             FROM run_command_on_workers(format($c$SELECT CASE WHEN r IS NULL THEN 'no role'
                                                              ELSE csm_internal._set_access(r, %L)::text END
                                                  FROM pg_catalog.to_regrole(%L) r$c$, level, role)) r LOOP
        IF w.success AND w.result = 'no role' THEN
            RAISE WARNING 'role % is not on the worker %:% yet: its csm access is set on the coordinator only', role, w.nodename, w.nodeport
                USING HINT = 'A role created in this transaction reaches the workers at commit; call csm.grant_access again then, or csm.distribute().';
        ELSIF NOT w.success THEN
            RAISE EXCEPTION 'could not set the csm access of % on the worker %:%: %', role, w.nodename, w.nodeport, w.result
                USING ERRCODE = '55000',
                      HINT = 'Check that the role and csm exist on that worker (csm.distribute() after adding it), then call again.';
        END IF;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION csm_internal._set_access_on_workers(regrole, text) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._set_access_on_workers(regrole, text) IS
    'Internal, on the Citus coordinator of a distributed csm: runs csm_internal._set_access on every worker (55000 when a worker fails); nothing elsewhere.';

CREATE OR REPLACE FUNCTION @extschema@.revoke_access(role regrole) RETURNS void
LANGUAGE plpgsql STRICT VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM csm_internal._check_grantor();
    PERFORM csm_internal._set_access(role, NULL);
    PERFORM csm_internal._set_access_on_workers(role, NULL);
END $$;
COMMENT ON FUNCTION @extschema@.revoke_access(regrole) IS
    'Revokes from the role every privilege csm.grant_access grants at any level (csm.access_privileges), including those granted by hand; on a distributed csm, on every Citus node. Only csm''s owner or a superuser may call it (42501).';

CREATE OR REPLACE FUNCTION @extschema@.grant_access(role regrole, level text) RETURNS void
LANGUAGE plpgsql STRICT VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF csm_internal._access_levels(level) IS NULL THEN
        RAISE EXCEPTION 'unknown access level "%"', level
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The levels are read, operate and admin.';
    END IF;
    PERFORM csm_internal._check_grantor();
    PERFORM csm_internal._set_access(role, level);
    PERFORM csm_internal._set_access_on_workers(role, level);
END $$;
COMMENT ON FUNCTION @extschema@.grant_access(regrole, text) IS
    'Gives the role exactly one csm access level: read (tables, views and reading functions), operate (also assign, unassign, route, override and refresh, log notes and NPS) or admin (also models, rules, members and settings); a lower level replaces a higher one; on a distributed csm, on every Citus node. The privileges are listed by csm.access_privileges. Only csm''s owner or a superuser may call it (42501). Errors: 22023 unknown level.';

CREATE OR REPLACE FUNCTION @extschema@.access_level(role regrole) RETURNS text
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN CASE WHEN has_function_privilege(role, 'csm_internal._access_admin()', 'EXECUTE') THEN 'admin'
                WHEN has_function_privilege(role, 'csm_internal._access_operate()', 'EXECUTE') THEN 'operate'
                WHEN has_function_privilege(role, 'csm_internal._access_read()', 'EXECUTE') THEN 'read' END;
END $$;
COMMENT ON FUNCTION @extschema@.access_level(regrole) IS
    'The highest csm access level the role holds (admin, operate, read), NULL for none; csm''s owner and superusers hold admin.';

REVOKE ALL ON FUNCTION @extschema@.grant_access(regrole, text), @extschema@.revoke_access(regrole) FROM PUBLIC;

-- The roles given a level (csm's owner holds admin without a grant).
CREATE OR REPLACE FUNCTION csm_internal._access_grantees() RETURNS TABLE (role regrole)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT DISTINCT a.grantee::regrole
    FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
    WHERE p.oid IN ('csm_internal._access_read()'::regprocedure, 'csm_internal._access_operate()'::regprocedure,
                    'csm_internal._access_admin()'::regprocedure)
      AND a.grantee OPERATOR(pg_catalog.<>) p.proowner AND a.grantee OPERATOR(pg_catalog.<>) 0;
END;
COMMENT ON FUNCTION csm_internal._access_grantees() IS 'Internal: the roles csm.grant_access gave a level (csm''s owner holds admin without one).';

-- A metrics relation given to refresh_health is read as csm's owner: only
-- one the caller may read, and whose code a trusted role wrote, will do.
CREATE OR REPLACE FUNCTION csm_internal._check_metrics_relation(metrics regclass) RETURNS void
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    owner oid := (SELECT c.relowner FROM pg_class c WHERE c.oid = metrics);
BEGIN
    IF NOT has_table_privilege(csm_internal._caller(), metrics, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for %', metrics
            USING ERRCODE = 'insufficient_privilege', HINT = 'The caller needs SELECT on the metrics relation.';
    END IF;
    -- pg_has_role is true for a superuser and for csm's owner itself.
    IF NOT pg_has_role(owner, (SELECT n.nspowner FROM pg_namespace n WHERE n.oid = '@extschema@'::regnamespace), 'USAGE') THEN
        RAISE EXCEPTION 'metrics relation % is owned by %, which is neither a superuser nor the owner of csm', metrics, owner::regrole
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'refresh_health reads it with csm''s rights; let the owner of csm create the view.';
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._check_metrics_relation(regclass) IS
    'Internal: raises 42501 unless the calling role may SELECT the relation and it is owned by a superuser or csm''s owner (refresh_health reads it with csm''s rights).';

-- The gated functions run as csm's owner, pinned to pg_catalog; nobody but
-- a holder of a level may call them.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
             JOIN csm_internal._gated_functions() g ON g.function_name OPERATOR(pg_catalog.=) p.proname
             WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::regnamespace LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = pg_catalog, pg_temp', f);
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;

-- Trigger functions that write csm's internal tables after a write to a
-- table a role was granted (an account, a conversation, a member, a team):
-- they run as csm's owner, and nobody may attach them to another table.
ALTER FUNCTION csm_internal._conversation_route() SECURITY DEFINER;
ALTER FUNCTION csm_internal._conversation_move() SECURITY DEFINER;
ALTER FUNCTION csm_internal._conversation_freed() SECURITY DEFINER;
ALTER FUNCTION csm_internal._agent_changed() SECURITY DEFINER;
ALTER FUNCTION csm_internal._support_team_changed() SECURITY DEFINER;
-- On Citus csm's executor hook calls it for whoever wrote a conversation, a
-- member or a team; it only finishes what their statement started.
ALTER FUNCTION csm_internal._settle_conversations(boolean) SECURITY DEFINER;
-- Lifecycle: an account's facts changed (70_lifecycle/80_lifecycle.sql).
REVOKE ALL ON FUNCTION csm_internal._lifecycle_account_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION csm_internal._conversation_route(), csm_internal._conversation_move(),
    csm_internal._conversation_freed(), csm_internal._agent_changed(), csm_internal._support_team_changed(),
    csm_internal._route_new_accounts(), csm_internal._member_left(), csm_internal._log_stamp() FROM PUBLIC;
