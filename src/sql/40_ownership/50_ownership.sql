
-- The defaults, as an expression a query can inline: the hot path of
-- csm_auto_assign joins csm.segment_weight itself rather than call
-- segment_load once per account.
CREATE OR REPLACE FUNCTION csm_internal._default_accounts_per_csm(segment text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE segment WHEN 'strategic' THEN 5 WHEN 'enterprise' THEN 10 WHEN 'mid_market' THEN 30 ELSE 100 END::numeric;
COMMENT ON FUNCTION csm_internal._default_accounts_per_csm(text) IS
    'Internal: the seed''s CSM ratio of a segment (strategic 5, enterprise 10, mid_market 30, others 100), for a segment neither csm.segment nor csm.segment_weight has: an account without a segment counts as 1:100.';

-- PL/pgSQL rather than SQL: a SQL function that cannot be inlined is
-- parsed again for every query that calls it.
CREATE OR REPLACE FUNCTION @extschema@.segment_load(segment text) RETURNS float8
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- (csm.segment is made in 78_segment.sql; a PL/pgSQL body finds it at run time)
    RETURN 100.0 OPERATOR(pg_catalog./) coalesce(
        (SELECT w.accounts_per_csm FROM @extschema@.segment_weight w WHERE w.segment OPERATOR(pg_catalog.=) segment_load.segment),
        (SELECT s.csm_ratio FROM @extschema@.segment s WHERE s.name OPERATOR(pg_catalog.=) segment_load.segment),
        csm_internal._default_accounts_per_csm(segment))::float8;
END $$;
COMMENT ON FUNCTION @extschema@.segment_load(text) IS
    'Load units one account of the segment puts on its owner: 100 / its CSM ratio (csm.segment.csm_ratio, or csm.segment_weight when it has a row; by default strategic 20, enterprise 10, mid_market 3.33, smb and no segment 1).';

-- On Citus, once (from the node the members were inserted on: see
-- csm_internal._origin()), and with the ids read from the transition table first:
-- Citus cannot plan a query that mixes it with its tables.  There
-- csm.distribute() adds team_member_lock_row_deferred, which makes the rows
-- at commit instead (see csm_internal._route_new_account() for why).
CREATE OR REPLACE FUNCTION csm_internal._member_lock_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    members bigint[];
BEGIN
    IF NOT csm_internal._origin()
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                  WHERE t.tgrelid OPERATOR(pg_catalog.=) TG_RELID
                    AND t.tgname OPERATOR(pg_catalog.~~) 'team\_member\_lock\_row\_deferred%') THEN
        RETURN NULL;
    END IF;
    members := ARRAY(SELECT n.member_id FROM new_members n);
    INSERT INTO csm_internal.member_lock (member_id) SELECT m FROM unnest(members) m
    ON CONFLICT (member_id) DO NOTHING;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._member_lock_row() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._member_lock_row() IS 'Trigger: makes the assignment lock row (csm_internal.member_lock) of new members.';
CREATE OR REPLACE TRIGGER team_member_lock_row AFTER INSERT ON @extschema@.team_member
    REFERENCING NEW TABLE AS new_members FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._member_lock_row();

-- Whoever inserts (csm's functions, or a role someone granted INSERT), the
-- row names the role that caused it, now, and the account as it was.  Only
-- the table's owner and superusers, who could drop this trigger anyway, keep
-- the values they give: that is how pg_restore loads the log unchanged.
CREATE OR REPLACE FUNCTION csm_internal._log_stamp() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_has_role(csm_internal._caller(), (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID), 'USAGE') THEN
        NEW.external_id := coalesce(NEW.external_id,
            (SELECT a.external_id FROM @extschema@.account a WHERE a.account_id = NEW.account_id));
        RETURN NEW;
    END IF;
    NEW.actor := csm_internal._caller();
    NEW.at := csm_internal._stamp();
    NEW.external_id := (SELECT a.external_id FROM @extschema@.account a WHERE a.account_id = NEW.account_id);
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._log_stamp() IS
    'Trigger: sets assignment_log.actor (the role that caused the change), at (now) and external_id (the account''s), whatever the inserter gave; the table owner and superusers (pg_restore) keep the values they give.';
CREATE OR REPLACE TRIGGER assignment_log_stamp BEFORE INSERT ON @extschema@.assignment_log
    FOR EACH ROW EXECUTE FUNCTION csm_internal._log_stamp();

-- Append-only for everyone, the table owner included: audit rows are never
-- changed or removed one by one.  A superuser may still TRUNCATE the log
-- (as DROP EXTENSION removes it), deliberately and all at once.
CREATE OR REPLACE FUNCTION csm_internal._append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = CASE TG_OP WHEN 'TRUNCATE' THEN 'Only a superuser may truncate the audit log.'
                                ELSE 'Audit rows are never changed or deleted, not even by the table owner.' END;
END $$;
COMMENT ON FUNCTION csm_internal._append_only() IS
    'Trigger: refuses UPDATE and DELETE by anyone, and TRUNCATE by anyone but a superuser (42501).';
CREATE OR REPLACE TRIGGER assignment_log_append_only BEFORE UPDATE OR DELETE ON @extschema@.assignment_log
    FOR EACH ROW EXECUTE FUNCTION csm_internal._append_only();
CREATE OR REPLACE TRIGGER assignment_log_no_truncate BEFORE TRUNCATE ON @extschema@.assignment_log
    FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._append_only();
