
-- On Citus, csm.account and csm.team_member are reference tables: a copy on
-- every node, each with the triggers, which fire once per copy.  So a
-- trigger there sets only what is the same on every copy (csm_internal._stamp()
-- rather than now(), which is each node's own), and whatever it does to
-- other tables it does once, in the copy of the node the change was made
-- from (csm_internal._origin()), where it can run distributed queries: on the
-- coordinator's copy, in the session's own backend.  Without Citus both
-- are what a single node has always had: now(), and true.

-- The time a change is stamped with: now(), or on Citus the distributed
-- transaction's timestamp, which the coordinator sends to every node with
-- the transaction, so that every copy of a reference table gets the same.
CREATE OR REPLACE FUNCTION csm_internal._stamp() RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stamp timestamptz;
BEGIN
    IF to_regproc('pg_catalog.get_current_transaction_id') IS NOT NULL THEN
        EXECUTE 'SELECT (pg_catalog.get_current_transaction_id()).transaction_stamp' INTO stamp;
    END IF;
    RETURN coalesce(stamp, now());
END $$;
COMMENT ON FUNCTION csm_internal._stamp() IS
    'Internal: the timestamp triggers on reference tables set: now(), or on Citus the distributed transaction''s timestamp, the same on every node.';

-- Whether this copy's trigger is the one that acts for the statement: on
-- Citus, the node that started the distributed transaction (the one the
-- session is connected to); the copies on the other nodes are changed by
-- Citus's own backends, which cannot run distributed queries.
CREATE OR REPLACE FUNCTION csm_internal._origin() RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    here boolean;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
        RETURN true;
    END IF;
    -- A static query, planned once per session (it names Citus's objects,
    -- which PL/pgSQL looks up only when it runs): every trigger on a
    -- reference table calls this once per row, on every node.
    SELECT t.transaction_number OPERATOR(pg_catalog.=) 0 OR t.initiator_node_identifier OPERATOR(pg_catalog.=) g.groupid
    INTO here
    FROM pg_catalog.get_current_transaction_id() t, pg_catalog.pg_dist_local_group g;
    RETURN coalesce(here, true);
END $$;
COMMENT ON FUNCTION csm_internal._origin() IS
    'Internal: whether a trigger on a reference table fires on the node its statement was run from (always true without Citus); side effects run only there, once.';

-- Whether csm.distribute() has placed a table on a Citus cluster: then the
-- refreshes write with statements Citus pushes down to the workers, and
-- the single-node forms (MERGE, faster there) are not used.
CREATE OR REPLACE FUNCTION csm_internal._is_distributed(relation regclass) RETURNS boolean
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    placed boolean := false;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1)'
            INTO placed USING relation;
    END IF;
    RETURN placed;
END $$;
COMMENT ON FUNCTION csm_internal._is_distributed(regclass) IS
    'Internal: whether the relation is a Citus table (csm.distribute() ran); false without Citus.';

-- Deleting accounts deletes their rows of the tables named as the trigger's
-- arguments, in that order: tables with no foreign key to csm.account (a
-- first refresh of a million accounts would spend more on the checks than
-- on the writes).  On Citus, once, from the node the accounts were deleted
-- on (see csm_internal._origin()), with the ids read from the transition table
-- first: Citus cannot plan a query that joins it with its tables.
CREATE OR REPLACE FUNCTION csm_internal._forget_accounts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    accounts bigint[];
    t text;
BEGIN
    IF NOT csm_internal._origin() THEN
        RETURN NULL;
    END IF;
    accounts := ARRAY(SELECT g.account_id FROM gone g);
    FOREACH t IN ARRAY TG_ARGV LOOP
        EXECUTE format('DELETE FROM %s t WHERE t.account_id = ANY ($1)', t::regclass) USING accounts;
    END LOOP;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._forget_accounts() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._forget_accounts() IS
    'Trigger (AFTER DELETE ON csm.account, FOR EACH STATEMENT, old table gone): deletes the deleted accounts'' rows of the tables given as its arguments, in order.';

-- Keep the audit timestamps honest without asking callers to set them.
CREATE OR REPLACE FUNCTION csm_internal._touch_account() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    NEW.updated_at := csm_internal._stamp();
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._touch_account() IS 'Trigger: sets account.updated_at.';
-- (csm's own bulk write of lifecycle_stage sets updated_at itself: csm_lifecycle.writing)
CREATE OR REPLACE TRIGGER account_touch BEFORE UPDATE ON @extschema@.account
    FOR EACH ROW WHEN (pg_catalog.current_setting('csm_lifecycle.writing', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION csm_internal._touch_account();

-- A churn date goes with the churned status, so that churn models know
-- when each account left even when callers only change status.
CREATE OR REPLACE FUNCTION csm_internal._account_churn_date() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.status = 'churned' THEN
        NEW.churned_at := coalesce(NEW.churned_at, csm_internal._stamp());
    ELSIF TG_OP = 'UPDATE' AND OLD.status = 'churned' AND NEW.churned_at IS NOT DISTINCT FROM OLD.churned_at THEN
        -- Back to active: the old date goes; a date given with active is refused by the CHECK.
        NEW.churned_at := NULL;
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._account_churn_date() IS
    'Trigger: sets account.churned_at when status becomes churned without one, clears it when status becomes active.';
CREATE OR REPLACE TRIGGER account_churn_date BEFORE INSERT OR UPDATE OF status, churned_at ON @extschema@.account
    FOR EACH ROW EXECUTE FUNCTION csm_internal._account_churn_date();

CREATE OR REPLACE FUNCTION csm_internal._touch_member_status() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        NEW.status_changed_at := csm_internal._stamp();
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._touch_member_status() IS 'Trigger: sets team_member.status_changed_at when status changes.';
CREATE OR REPLACE TRIGGER team_member_status BEFORE UPDATE OF status ON @extschema@.team_member
    FOR EACH ROW EXECUTE FUNCTION csm_internal._touch_member_status();

-- The usage trigger caches external_id -> account_id per backend; deleting
-- an account or changing its keys tells every backend to forget.
CREATE OR REPLACE FUNCTION csm_internal._account_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'csm_account_changed'
LANGUAGE C;
COMMENT ON FUNCTION csm_internal._account_changed() IS
    'Trigger: invalidates every backend''s cache of account ids after a DELETE or key change on csm.account.';
CREATE OR REPLACE TRIGGER account_deleted AFTER DELETE ON @extschema@.account
    FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._account_changed();
CREATE OR REPLACE TRIGGER account_rekeyed AFTER UPDATE OF external_id, account_id ON @extschema@.account
    FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._account_changed();

-- Days since the account started, in whole UTC days (days_to_renewal is
-- counted the same way); NULL without a start date.  The routing and the
-- lifecycle facts read it.
CREATE OR REPLACE FUNCTION csm_internal._days_since(started_at timestamptz) RETURNS integer
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN (pg_catalog.now() AT TIME ZONE 'UTC')::date OPERATOR(pg_catalog.-) (started_at AT TIME ZONE 'UTC')::date;
COMMENT ON FUNCTION csm_internal._days_since(timestamptz) IS
    'Internal: whole UTC days from started_at to today (negative for a start ahead); NULL without one.';
