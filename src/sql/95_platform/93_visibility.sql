
-- Whether the caller reads every account: NULL array from
-- csm_internal._visible_accounts().  SECURITY DEFINER: it reads the assignments,
-- which the policies guard, as their owner (reading them as the caller
-- would recurse into the policy).
CREATE OR REPLACE FUNCTION csm_internal._visible_accounts() RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    caller oid := (SELECT r.oid FROM pg_roles r WHERE r.rolname = csm_internal._caller());
    members bigint[];
    teams text[];
    lead_teams text[];
BEGIN
    IF caller IS NULL THEN
        RETURN '{}';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = caller AND (r.rolsuper OR r.rolbypassrls))
       OR pg_has_role(caller, (SELECT n.nspowner FROM pg_namespace n WHERE n.oid = '@extschema@'::regnamespace), 'USAGE')
       OR has_function_privilege(caller, 'csm_internal._access_admin()', 'EXECUTE') THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(m.member_id),
           array_agg(DISTINCT t.team) FILTER (WHERE t.team IS NOT NULL),
           array_agg(DISTINCT t.team) FILTER (WHERE t.team IS NOT NULL AND 'team_lead' = ANY (m.roles))
    INTO members, teams, lead_teams
    FROM @extschema@.team_member m LEFT JOIN LATERAL unnest(m.teams) t (team) ON true
    WHERE m.login_role = caller AND m.active;
    IF members IS NULL THEN
        RETURN '{}';
    END IF;
    RETURN ARRAY(
        SELECT a.account_id FROM @extschema@.account_assignment a
        WHERE a.member_id = ANY (members) AND a.ended_at IS NULL
        UNION
        SELECT a.account_id FROM @extschema@.account_assignment a
        JOIN @extschema@.team_member m ON m.member_id = a.member_id
        WHERE cardinality(lead_teams) > 0 AND m.teams && lead_teams AND a.ended_at IS NULL
        UNION
        SELECT al.account_id FROM @extschema@.assignment_alert al
        JOIN @extschema@.routing_rule r ON r.rule_id = al.rule_id
        WHERE al.resolved_at IS NULL AND r.target_kind = 'team' AND r.target = ANY (teams)
          AND NOT EXISTS (SELECT 1 FROM @extschema@.account_assignment p
                          WHERE p.account_id = al.account_id AND p.is_primary AND p.ended_at IS NULL));
END $$;
COMMENT ON FUNCTION csm_internal._visible_accounts() IS
    'Internal: the account_ids the calling role (csm_internal._caller()) may read under csm.enable_row_security(): NULL for every account (csm''s owner, a superuser, BYPASSRLS, the admin level); a member''s current primary and secondary accounts, their teams'' unassigned queue and, for a team_lead, their teams'' accounts; none for a role that is no active member''s login_role.';
-- Every role may call it: the policies do, as the reader, and it tells a
-- role only its own book.

-- For csm's SECURITY DEFINER functions, which read as csm's owner: whether
-- the caller may see the account (always, while the policies are off).
CREATE OR REPLACE FUNCTION csm_internal._sees_account(account bigint) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    book bigint[];
BEGIN
    IF NOT (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = '@extschema@.account'::regclass) THEN
        RETURN true;
    END IF;
    book := csm_internal._visible_accounts();
    RETURN book IS NULL OR account = ANY (book);
END $$;
COMMENT ON FUNCTION csm_internal._sees_account(bigint) IS
    'Internal: whether the calling role may read the account (csm_internal._visible_accounts()); true for everyone while csm.enable_row_security() is not in effect.';

-- For csm's writers in C (src/visibility.c), by external_id: an account
-- outside the caller's book fails as one that does not exist.
CREATE OR REPLACE FUNCTION csm_internal._require_visible(external_id text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    IF NOT (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = '@extschema@.account'::regclass) THEN
        RETURN;
    END IF;
    SELECT a.account_id INTO id FROM @extschema@.account a WHERE a.external_id = _require_visible.external_id;
    IF FOUND AND NOT csm_internal._sees_account(id) THEN
        RAISE EXCEPTION 'account "%" does not exist', external_id
            USING ERRCODE = 'no_data_found', HINT = 'See csm.account for the accounts.';
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._require_visible(text) IS
    'Internal: raises P0002 (account does not exist, as for an unknown one) when the account exists but is outside the calling role''s book (csm.enable_row_security()).';

-- The tables the policies guard: csm.account and every per-account table.
-- (PL/pgSQL: csm_internal._distribution() is made later, in 95_platform/97_distribute.sql.)
CREATE OR REPLACE FUNCTION csm_internal._book_tables() RETURNS SETOF regclass
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT '@extschema@.account'::regclass
    UNION
    SELECT d.relation FROM csm_internal._distribution() d
    WHERE d.kind = 'account'
      AND EXISTS (SELECT 1 FROM pg_attribute at
                  WHERE at.attrelid = d.relation AND at.attname = 'account_id' AND NOT at.attisdropped);
END $$;
COMMENT ON FUNCTION csm_internal._book_tables() IS
    'Internal: the tables csm.enable_row_security() guards: csm.account and every per-account table (csm_internal._distribution() kind account).';

CREATE OR REPLACE FUNCTION @extschema@.enable_row_security() RETURNS SETOF regclass
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t regclass;
BEGIN
    PERFORM csm_internal._check_grantor();
    -- Two things in Citus 13.2 stand in the way (README "Per-CSM
    -- visibility", On Citus, has the source lines).  It refuses subqueries
    -- in the policies of its tables, and a CSM's book is read from
    -- csm.account_assignment, distributed there.  A policy without one (a
    -- function call reading the book from each node's copy of a reference
    -- table) passes, and plain reads work, but a query that chains outer
    -- joins from a reference table to distributed tables under a policy
    -- (csm.dashboard_portfolio, csm.unassigned_queue) crashes the
    -- coordinator's backend (SIGSEGV in Citus's recursive planning, which
    -- wraps such relations in subqueries), for any role the policies apply
    -- to, with any policy: no csm is needed to crash it.
    IF csm_internal._is_distributed('@extschema@.account_assignment') THEN
        RAISE EXCEPTION 'per-CSM visibility is not available on a distributed csm'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Citus refuses policies with subqueries on distributed tables (a CSM''s book is read from csm.account_assignment, distributed by account), and with a policy without one its planner crashes the server on queries that chain outer joins from a reference table to distributed tables under a policy, as the dashboard views do.',
                  HINT = 'Keep CSMs to csm on a single node, or give them the read level through views of their own.';
    END IF;
    FOR t IN SELECT b FROM csm_internal._book_tables() b ORDER BY b::text LOOP
        IF EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = t AND p.polname = 'csm_book') THEN
            EXECUTE format('DROP POLICY csm_book ON %s', t);
        END IF;
        EXECUTE format('CREATE POLICY csm_book ON %s USING ((SELECT csm_internal._visible_accounts()) IS NULL OR account_id = ANY ((SELECT csm_internal._visible_accounts())::bigint[]))', t);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        RETURN NEXT t;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.enable_row_security() IS
    'Turns per-CSM visibility on: row-level security with one policy (csm_book) on csm.account and every per-account table, so that a role reads and writes only the accounts csm_internal._visible_accounts() gives it: its member''s (csm.team_member.login_role) primary and secondary accounts and its teams'' unassigned queue, a team_lead''s teams'' accounts, everything for csm''s owner, superusers, BYPASSRLS roles and the admin level, nothing for other roles. Not forced: csm''s owner (triggers, refreshes, csm''s writers) is not subject to it. Returns the tables. Idempotent. Errors: 42501 unless csm''s owner or a superuser calls it; 0A000 on a distributed csm (Citus 13.2 refuses policies with subqueries on distributed tables, and its planner crashes the server on the dashboard views'' chained outer joins under any policy).';
REVOKE ALL ON FUNCTION @extschema@.enable_row_security() FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.disable_row_security() RETURNS SETOF regclass
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t regclass;
BEGIN
    PERFORM csm_internal._check_grantor();
    FOR t IN SELECT b FROM csm_internal._book_tables() b ORDER BY b::text LOOP
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', t);
        IF EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = t AND p.polname = 'csm_book') THEN
            EXECUTE format('DROP POLICY csm_book ON %s', t);
        END IF;
        RETURN NEXT t;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.disable_row_security() IS
    'Turns per-CSM visibility off: drops the csm_book policies and disables row-level security on the tables csm.enable_row_security() guards; every role with the read level reads every account again. Returns the tables. Only csm''s owner or a superuser may call it (42501).';
REVOKE ALL ON FUNCTION @extschema@.disable_row_security() FROM PUBLIC;
