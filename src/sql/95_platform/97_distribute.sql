-- Scale-out on Citus. CREATE EXTENSION only creates objects; an admin runs
-- csm.distribute() once on the coordinator to make every csm table a
-- reference table (configuration, and what every node must read locally)
-- or a distributed table colocated by account_id (per-account data).
--
-- One row per table. Reference tables come first: distributed tables have
-- foreign keys to them.
CREATE OR REPLACE FUNCTION csm_internal._distribution()
RETURNS TABLE (relation regclass, kind text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT t.relation::regclass, t.kind FROM (VALUES
        -- reference tables
        (1, '@extschema@.account', 'reference'),
        (2, '@extschema@.team_member', 'reference'),
        (3, '@extschema@.usage_source', 'reference'),
        (4, 'csm_internal.usage_fold_lock', 'reference'),
        (5, '@extschema@.health_band_info', 'reference'),
        (6, '@extschema@.health_model', 'reference'),
        (7, '@extschema@.health_group', 'reference'),
        (8, '@extschema@.health_component', 'reference'),
        (9, '@extschema@.health_model_map', 'reference'),
        (10, '@extschema@.segment_weight', 'reference'),
        (11, 'csm_internal.member_load', 'reference'),
        (12, 'csm_internal.member_lock', 'reference'),
        (13, '@extschema@.routing_rule', 'reference'),
        (14, 'csm_internal.lock_row', 'reference'),
        (15, '@extschema@.support_team', 'reference'),
        (16, 'csm_internal.agent_load', 'reference'),
        (17, '@extschema@.churn_signal_kind', 'reference'),
        (18, '@extschema@.churn_signal_setting', 'reference'),
        (19, '@extschema@.churn_model', 'reference'),
        -- playbooks (85_playbook.sql)
        (20, '@extschema@.playbook_trigger', 'reference'),
        (21, '@extschema@.playbook', 'reference'),
        (22, '@extschema@.playbook_step', 'reference'),
        (40, '@extschema@.lifecycle_rule', 'reference'),
        (41, '@extschema@.milestone', 'reference'),
        (42, '@extschema@.core_feature', 'reference'),
        (60, '@extschema@.segment', 'reference'),
        (61, '@extschema@.segment_rule', 'reference'),
        (65, '@extschema@.refresh_run', 'reference'),
        -- segment benchmarks (46_benchmark.sql; kept on a single node only)
        (66, '@extschema@.health_benchmark', 'reference'),
        (67, '@extschema@.churn_benchmark', 'reference'),
        (70, '@extschema@.nps_category', 'reference'),
        (80, '@extschema@.expansion_signal_kind', 'reference'),
        (81, '@extschema@.expansion_signal_setting', 'reference'),
        -- success plans and business reviews (87_success_plan.sql)
        (30, '@extschema@.value_metric', 'reference'),
        -- alerts (86_alert.sql)
        (85, '@extschema@.feature_launch', 'reference'),
        -- distributed by account_id, all in one colocation group
        (101, 'csm_internal.usage_counter', 'account'),
        (102, 'csm_internal.usage_user_day', 'account'),
        (103, 'csm_internal.usage_feature_counter', 'account'),
        (104, 'csm_internal.usage_delta', 'account'),
        (105, 'csm_internal.usage_pending', 'reference'),
        (110, '@extschema@.health_score', 'account'),
        (111, '@extschema@.health_history', 'account'),
        (112, '@extschema@.health_override', 'account'),
        (120, '@extschema@.account_assignment', 'account'),
        (121, '@extschema@.assignment_log', 'account'),
        (122, '@extschema@.assignment_alert', 'account'),
        (130, '@extschema@.conversation', 'account'),
        -- what conversation triggers on a shard leave to the coordinator,
        -- written by them on their own node (60_conversation.sql)
        (131, 'csm_internal.conversation_change', 'account'),
        (140, '@extschema@.nps_response', 'account'),
        (141, '@extschema@.stakeholder', 'account'),
        (142, '@extschema@.payment', 'account'),
        (143, '@extschema@.account_note', 'account'),
        (144, '@extschema@.engagement', 'account'),
        (145, '@extschema@.churn_signal', 'account'),
        (146, '@extschema@.churn_score', 'account'),
        (200, '@extschema@.account_lifecycle', 'account'),
        (201, '@extschema@.lifecycle_history', 'account'),
        (202, '@extschema@.account_milestone', 'account'),
        -- revenue (81_revenue.sql)
        (220, '@extschema@.arr_change', 'account'),
        -- renewals (82_renewal.sql)
        (230, '@extschema@.renewal', 'account'),
        (231, '@extschema@.renewal_reminder', 'account'),
        (260, '@extschema@.nps_loop', 'account'),
        (280, '@extschema@.expansion_signal', 'account'),
        -- CTAs and tasks (85_playbook.sql)
        (300, '@extschema@.cta', 'account'),
        (301, '@extschema@.task', 'account'),
        -- success plans and business reviews (87_success_plan.sql)
        (320, '@extschema@.success_plan', 'account'),
        (321, '@extschema@.success_plan_objective', 'account'),
        (322, '@extschema@.success_plan_milestone', 'account'),
        (323, '@extschema@.success_plan_stakeholder', 'account'),
        (324, '@extschema@.business_review_held', 'account'),
        -- alerts (86_alert.sql)
        (350, '@extschema@.alert', 'account'),
        -- support conversations' internal notes (62_support.sql)
        (340, '@extschema@.conversation_note', 'account'),
        -- history to chart (91_history.sql)
        (370, '@extschema@.churn_history', 'account')
    ) AS t(position, relation, kind)
    ORDER BY t.position;
END;
COMMENT ON FUNCTION csm_internal._distribution() IS
    'Internal: how csm.distribute() places each csm table on Citus: reference (a copy on every node) or account (distributed by account_id, colocated).';

-- Identity columns on a Citus cluster. A row inserted on a worker takes
-- its id from that worker's copy of the table's sequence: a client may
-- connect to any node (Citus lets it query the distributed tables there),
-- and a trigger on a shard inserts on the shard's node. CREATE EXTENSION
-- made those copies on every node alike, starting at 1, so they handed out
-- the ids the coordinator's had (duplicate keys). As Citus does for the
-- sequences it places itself, each worker gets a range of its own: node
-- group g (0 is the coordinator, which keeps its sequences as they are)
-- from g * 2^48 + 1 to (g + 1) * 2^48 for bigint, g * 2^24 + 1 to
-- (g + 1) * 2^24 for integer. Run on each worker by csm.distribute();
-- returns how many sequences it moved (0 when they have their range).
CREATE OR REPLACE FUNCTION csm_internal._node_sequences() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    node integer;
    s record;
    step numeric;
    lo numeric;
    hi numeric;
    moved integer := 0;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group g' INTO node;
    IF coalesce(node, 0) <= 0 THEN
        RETURN 0;
    END IF;
    -- this node's copies only: the coordinator must not get this range
    PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    FOR s IN
        SELECT q.seqrelid::regclass AS seq, q.seqtypid, q.seqmin, q.seqmax
        FROM pg_sequence q
        JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = q.seqrelid
                        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        JOIN pg_class t ON t.oid = d.refobjid
        WHERE t.relnamespace IN ('@extschema@'::regnamespace, 'csm_internal'::regnamespace)
          AND q.seqtypid IN ('bigint'::regtype, 'integer'::regtype)
        ORDER BY q.seqrelid
    LOOP
        step := CASE WHEN s.seqtypid = 'bigint'::regtype THEN 281474976710656 ELSE 16777216 END;
        lo := node * step + 1;
        hi := (node + 1) * step;
        CONTINUE WHEN s.seqmin = lo AND s.seqmax = hi;
        EXECUTE format('ALTER SEQUENCE %s MINVALUE %s MAXVALUE %s START %s RESTART %s', s.seq, lo, hi, lo, lo);
        moved := moved + 1;
    END LOOP;
    RETURN moved;
END;
$$;
REVOKE ALL ON FUNCTION csm_internal._node_sequences() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._node_sequences() IS
    'Internal, run on each Citus worker by csm.distribute(): gives this node''s copies of csm''s identity sequences a range of their own (node group g: g * 2^48 + 1 to (g + 1) * 2^48; integer: 2^24), so that rows inserted on a worker get ids no other node hands out.';

CREATE OR REPLACE FUNCTION @extschema@.distribute()
RETURNS TABLE (relation regclass, kind text, changed boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    anchor regclass;
    t record;
    fk record;
    fks text[] := '{}';
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension e WHERE e.extname = 'citus') THEN
        RAISE EXCEPTION 'csm.distribute() needs Citus'
            USING ERRCODE = '0A000',
                  HINT = 'Add citus to shared_preload_libraries, run CREATE EXTENSION citus, add the workers, then call csm.distribute() on the coordinator.';
    END IF;
    IF NOT citus_is_coordinator() THEN
        RAISE EXCEPTION 'csm.distribute() must run on the Citus coordinator'
            USING ERRCODE = '55000',
                  HINT = 'Connect to the coordinator and call it there; the workers get their shards from it.';
    END IF;
    -- Citus places a table as its owner and runs commands on the workers
    -- (run_command_on_workers) only for a superuser; csm is not a trusted
    -- extension, so its owner is one.
    IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'csm.distribute() must be run by a superuser'
            USING ERRCODE = '42501',
                  HINT = 'Connect to the coordinator as the superuser that created the extension.';
    END IF;
    -- Per-CSM visibility's policies (93_visibility.sql) read a CSM's book
    -- in a subquery, which Citus refuses on a distributed table.
    IF (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = '@extschema@.account'::regclass) THEN
        RAISE EXCEPTION 'csm.distribute() cannot place tables with per-CSM visibility on'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Citus refuses policies with subqueries on distributed tables, and csm''s policies read each CSM''s book in one.',
                  HINT = 'Run SELECT csm.disable_row_security() first.';
    END IF;
    -- csm's tables have triggers; Citus runs them on the shards, and csm's
    -- triggers are written to be correct there (see each trigger).
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    -- Citus explains each copy in a NOTICE; an admin needs the result rows.
    PERFORM set_config('client_min_messages', 'warning', true);
    -- Foreign keys to reference tables need one connection per node.
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    -- Citus turns a local table that references a new reference table into a
    -- "Citus local table", which recreates its identity sequence, and csm's
    -- extension owns that sequence. So the foreign keys between csm's tables
    -- are dropped while the tables are placed, and made again after (from a
    -- distributed table to a reference table, or within the colocation group).
    FOR fk IN
        SELECT c.conrelid::regclass AS rel, c.conname, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE c.contype = 'f'
          AND c.conrelid IN (SELECT d.relation FROM csm_internal._distribution() d)
          AND NOT EXISTS (SELECT FROM pg_dist_partition p WHERE p.logicalrelid = c.conrelid)
        ORDER BY c.conrelid, c.conname
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.rel, fk.conname);
        -- CREATE EXTENSION made the same local tables on every worker
        PERFORM run_command_on_workers(format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', fk.rel, fk.conname));
        fks := fks || format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.rel, fk.conname, fk.def);
    END LOOP;
    FOR t IN SELECT d.relation, d.kind FROM csm_internal._distribution() d LOOP
        relation := t.relation;
        kind := t.kind;
        changed := NOT EXISTS (SELECT FROM pg_dist_partition p WHERE p.logicalrelid = t.relation);
        -- The guard triggers refuse built-in rows, and Citus copies the rows
        -- into the new shards with the triggers in place: off while it does.
        IF changed THEN
            EXECUTE format('ALTER TABLE %s DISABLE TRIGGER USER', t.relation);
            IF t.kind = 'reference' THEN
                PERFORM create_reference_table(t.relation);
            ELSE
                PERFORM create_distributed_table(t.relation, 'account_id',
                                                 colocate_with => coalesce(anchor::text, 'default'));
            END IF;
            EXECUTE format('ALTER TABLE %s ENABLE TRIGGER USER', t.relation);
        END IF;
        IF t.kind = 'account' THEN
            anchor := coalesce(anchor, t.relation);
        END IF;
        RETURN NEXT;
    END LOOP;
    FOR i IN 1 .. cardinality(fks) LOOP
        EXECUTE fks[i];
    END LOOP;
    -- New members' lock rows are made at commit on Citus (54_routing.sql).
    PERFORM csm_internal._distribute_ownership();
    -- New accounts' ARR, lifecycle stage and owner are set at commit on
    -- Citus, once per transaction (96_new_accounts.sql).
    PERFORM csm_internal._distribute_new_accounts();
    -- Views whose single-node form Citus cannot push down (health: see
    -- csm_internal._health_views_for_citus).
    PERFORM csm_internal._health_views_for_citus();
    -- csm.account_metrics: the set-based form (csm_internal._account_metrics_view).
    PERFORM csm_internal._account_metrics_view(per_account => false);
    PERFORM csm_internal._usage_daily_views(per_account => false);
    -- The rows now live in the shards; drop the coordinator's stale copies.
    FOR t IN SELECT d.relation FROM csm_internal._distribution() d LOOP
        PERFORM truncate_local_data_after_distributing_table(t.relation);
    END LOOP;
    -- Usage tables the user distributed and tracked before: their staging
    -- tables (csm_internal._usage_stage, src/sql/20_usage/20_usage.sql).
    PERFORM csm_internal._usage_stage(u.source_id) FROM @extschema@.usage_source u WHERE u.dropped_at IS NULL ORDER BY u.source_id;
    -- Pending events move into the distributed deltas when their account is
    -- created, so that the usage views run on the workers
    -- (csm_internal._usage_views_for_citus, src/sql/20_usage/20_usage.sql).
    PERFORM csm_internal._usage_views_for_citus();
    -- Conversation routing finishes on the coordinator after each statement.
    PERFORM csm_internal._distribute_conversations();
    -- Each worker's identity sequences get a range of their own (again for
    -- a worker added since).
    FOR t IN SELECT r.nodename, r.nodeport, r.success, r.result
             FROM run_command_on_workers('SELECT csm_internal._node_sequences()') r LOOP
        IF NOT t.success THEN
            RAISE EXCEPTION 'csm.distribute() could not give the identity sequences of %:% their range: %',
                t.nodename, t.nodeport, t.result
                USING ERRCODE = '55000', HINT = 'Check that csm is installed on that worker, then call csm.distribute() again.';
        END IF;
    END LOOP;
    -- Access levels granted before (or on a worker added since): on the
    -- coordinator again, which Citus passes on to the tables' copies on the
    -- workers, then what Citus does not pass on (95_access.sql).
    FOR t IN SELECT g.role, @extschema@.access_level(g.role) AS level FROM csm_internal._access_grantees() g LOOP
        PERFORM csm_internal._set_access(t.role, t.level);
        PERFORM csm_internal._set_access_on_workers(t.role, t.level);
    END LOOP;
END;
$$;
REVOKE ALL ON FUNCTION @extschema@.distribute() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.distribute() IS
    'Run once on the Citus coordinator after CREATE EXTENSION csm: makes configuration tables reference tables and per-account tables distributed by account_id, colocated. Idempotent; returns each table, how it is placed, and whether this call changed it. 0A000 without Citus, 55000 on a worker, 42501 for a role that is not a superuser.';

-- DROP EXTENSION csm on a cluster: the shards of csm's tables go first
-- (src/distribute.c says why Citus would leave them).
CREATE OR REPLACE FUNCTION csm_internal._drop_shards()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t record;
BEGIN
    -- Without Citus there is nothing to do, and on a worker the
    -- coordinator drops the shards.
    IF NOT EXISTS (SELECT FROM pg_extension e WHERE e.extname = 'citus') THEN
        RETURN;
    END IF;
    IF NOT citus_is_coordinator() THEN
        RETURN;
    END IF;
    -- The extension is going, its usage sources with it: csm's sql_drop
    -- trigger must not look them up as their shards go (it is dropped with
    -- the extension; a failed DROP EXTENSION rolls this back).
    ALTER EVENT TRIGGER csm_usage_dropped DISABLE;
    -- A table's shards go before those of the tables it references (a
    -- reference table's placement would otherwise cascade its foreign keys
    -- away, one NOTICE each): a table's rank is the longest chain of
    -- foreign keys that leads to it.
    FOR t IN
        WITH RECURSIVE rank (rel, depth) AS (
            SELECT p.logicalrelid, 0 FROM pg_dist_partition p
            UNION ALL
            SELECT f.confrelid, r.depth + 1
            FROM rank r
            JOIN pg_constraint f ON f.conrelid = r.rel AND f.contype = 'f' AND f.confrelid <> f.conrelid
            WHERE r.depth < 32
        )
        SELECT p.logicalrelid AS rel, n.nspname, c.relname
        FROM pg_dist_partition p
        JOIN pg_class c ON c.oid = p.logicalrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
        JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
        WHERE e.extname = 'csm'
        ORDER BY (SELECT max(r.depth) FROM rank r WHERE r.rel = p.logicalrelid), c.oid DESC
    LOOP
        PERFORM citus_drop_all_shards(t.rel, t.nspname, t.relname, false);
    END LOOP;
END;
$$;
REVOKE ALL ON FUNCTION csm_internal._drop_shards() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._drop_shards() IS
    'Internal: on the Citus coordinator, drops the shards of csm''s distributed tables; called by the event trigger csm_drop_extension before DROP EXTENSION csm.';

CREATE OR REPLACE FUNCTION csm_internal._drop_extension_start() RETURNS event_trigger
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'csm_drop_extension_start';
REVOKE ALL ON FUNCTION csm_internal._drop_extension_start() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._drop_extension_start() IS
    'ddl_command_start event trigger: before DROP EXTENSION csm, has csm_internal._drop_shards() drop the shards of csm''s tables on a Citus cluster.';
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger e WHERE e.evtname OPERATOR(pg_catalog.=) 'csm_drop_extension') THEN
        CREATE EVENT TRIGGER csm_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION csm_internal._drop_extension_start();
    END IF;
END $rerunnable$;
COMMENT ON EVENT TRIGGER csm_drop_extension IS
    'Before DROP EXTENSION csm on a Citus cluster, drops the shards of csm''s tables, which Citus would leave behind.';
