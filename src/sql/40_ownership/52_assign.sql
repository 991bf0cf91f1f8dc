
CREATE OR REPLACE FUNCTION csm_internal._member(handle text) RETURNS @extschema@.team_member
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m @extschema@.team_member;
BEGIN
    SELECT * INTO m FROM @extschema@.team_member t WHERE t.handle = _member.handle;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'team member "%" does not exist', handle
            USING ERRCODE = 'no_data_found', HINT = 'See csm.team_member for the handles.';
    END IF;
    RETURN m;
END $$;
COMMENT ON FUNCTION csm_internal._member(text) IS 'The team member with this handle; raises P0002 when there is none.';

-- How pickers (src/assign.c) rank members, as expressions their queries
-- inline: the key (round robin: fewest accounts; least loaded: load per
-- capacity, no capacity counting as a full book of 100) and whether an
-- account of this weight fits (no capacity: a full book of 100 load units,
-- the CSM ratios of csm.segment: 100 SMB or 5 strategic accounts).
CREATE OR REPLACE FUNCTION csm_internal._pick_key(strategy text, accounts integer, load float8, capacity integer) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN strategy OPERATOR(pg_catalog.=) 'round_robin' THEN accounts::float8
            ELSE load OPERATOR(pg_catalog./) coalesce(nullif(capacity, 0), 100) END;
COMMENT ON FUNCTION csm_internal._pick_key(text, integer, float8, integer) IS
    'Internal: a member''s rank for the next account, lowest first (round_robin: accounts; otherwise load / capacity, 100 when none).';
CREATE OR REPLACE FUNCTION csm_internal._has_room(load float8, weight float8, capacity integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (load OPERATOR(pg_catalog.+) weight)
    OPERATOR(pg_catalog.<=) (coalesce(capacity, 100) OPERATOR(pg_catalog.+) 1e-9::float8);
COMMENT ON FUNCTION csm_internal._has_room(float8, float8, integer) IS
    'Internal: whether a member carrying load has room for weight more (NULL capacity: a full book, 100 load units).';

-- Every change of an account's owners goes through these two, so that
-- csm_internal.member_load and the audit log never drift from the relationships.
CREATE OR REPLACE FUNCTION csm_internal._start_assignment(account bigint, member bigint, primary_owner boolean, weight float8,
                                              reason text, rule bigint, action text, old_member bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'csm_start_assignment'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION csm_internal._start_assignment(bigint, bigint, boolean, float8, text, bigint, text, bigint) IS
    'Internal: starts a relationship, adds its load to the member (whose lock the caller holds) and logs it.';

CREATE OR REPLACE FUNCTION csm_internal._end_assignment(account bigint, assignment bigint, why text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ended @extschema@.account_assignment;
BEGIN
    -- Not before it started: a relationship another session started after
    -- this transaction began ends when it started, at the earliest.
    UPDATE @extschema@.account_assignment a SET ended_at = GREATEST(pg_catalog.now(), a.started_at), end_reason = why
    WHERE a.account_id OPERATOR(pg_catalog.=) account AND a.assignment_id OPERATOR(pg_catalog.=) assignment
      AND a.ended_at IS NULL
    RETURNING * INTO ended;
    IF FOUND THEN
        PERFORM csm_internal._lock_member(ended.member_id);
        UPDATE csm_internal.member_load l
        SET accounts = l.accounts OPERATOR(pg_catalog.-) 1,
            primaries = l.primaries OPERATOR(pg_catalog.-) ended.is_primary::integer,
            load = l.load OPERATOR(pg_catalog.-) ended.load
        WHERE l.member_id OPERATOR(pg_catalog.=) ended.member_id;
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._end_assignment(bigint, bigint, text) IS
    'Internal: ends a relationship (kept, with ended_at) and takes its load off the member.';

-- One change of an account's owners at a time: two sessions assigning the
-- same account queue here, so the second sees what the first did.
-- PL/pgSQL: Citus cannot plan a SQL function's parameters.  On Citus the
-- lock of csm_internal._lock_ownership() stands for the account's (defined below).
CREATE OR REPLACE FUNCTION csm_internal._lock_account(account bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT csm_internal._lock_ownership() THEN
        PERFORM 1 FROM @extschema@.account a WHERE a.account_id = account FOR NO KEY UPDATE;
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._lock_account(bigint) IS 'Internal: serialises changes of one account''s owners.';
INSERT INTO csm_internal.lock_row (scope, key) VALUES ('assign', 'batch'), ('assign', 'cluster')
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION csm_internal._lock_row(scope text, key text, exclusive boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    LOOP
        IF exclusive THEN
            PERFORM 1 FROM csm_internal.lock_row r WHERE r.scope = _lock_row.scope AND r.key = _lock_row.key FOR UPDATE;
        ELSE
            PERFORM 1 FROM csm_internal.lock_row r WHERE r.scope = _lock_row.scope AND r.key = _lock_row.key FOR SHARE;
        END IF;
        EXIT WHEN FOUND;
        INSERT INTO csm_internal.lock_row (scope, key) VALUES (_lock_row.scope, _lock_row.key) ON CONFLICT DO NOTHING;
    END LOOP;
END $$;
COMMENT ON FUNCTION csm_internal._lock_row(text, text, boolean) IS
    'Internal: locks a csm_internal.lock_row row until commit (exclusive: FOR UPDATE, else FOR SHARE), making it first if need be.';

-- On Citus every change of owners takes one lock first: the row
-- ('assign', 'cluster') of csm_internal.lock_row, FOR UPDATE, until commit.  Citus
-- locks a row of a reference table (csm.account, csm.team_member,
-- csm_internal.member_lock) by locking the whole table on every node until commit,
-- and an insert of accounts holds a lock on csm.account that such a lock
-- waits for; with the row locks of one node, taken in the order of
-- src/assign.c's header, two transactions would wait for each other.  So
-- there the account and member rows are not locked (members' locks are
-- still taken, after this one), and changes of owners run one at a time, as
-- Citus's table locks would make them anyway.  On one node it does nothing
-- and returns false: the row locks serialise what must be.
CREATE OR REPLACE FUNCTION csm_internal._lock_ownership() RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    distributed boolean := false;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1)'
            INTO distributed USING '@extschema@.account'::regclass;
    END IF;
    IF distributed THEN
        -- The rest of the transaction reaches each worker over one
        -- connection: Citus refuses to change csm_internal.member_load (a reference
        -- table) after a query that read the shards of a table referring to
        -- csm.team_member over several connections at once.
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
        PERFORM csm_internal._lock_row('assign', 'cluster', true);
    END IF;
    RETURN distributed;
END $$;
COMMENT ON FUNCTION csm_internal._lock_ownership() IS
    'Internal: on Citus, takes the lock every change of owners takes first (csm_internal.lock_row (''assign'', ''cluster''), FOR UPDATE) and returns true; on one node does nothing and returns false.';

-- Every change to a member's book holds the member's lock (their
-- csm_internal.member_lock row) until commit, so that no two sessions fill the same
-- member past capacity, and pickers (src/assign.c) pass over members
-- someone is assigning to right now.  The order locks are taken in is in
-- src/assign.c's header: a member's team_member row, accounts, the batch
-- lock, members' locks.
CREATE OR REPLACE FUNCTION csm_internal._lock_member(member bigint) RETURNS void
AS 'MODULE_PATHNAME', 'csm_lock_member'
LANGUAGE C STRICT
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION csm_internal._lock_member(bigint) IS
    'Internal: takes the member''s assignment lock (their csm_internal.member_lock row FOR NO KEY UPDATE, made if missing) until commit, waiting for it.';

-- A transaction that assigns several accounts locks them first (in
-- account_id order), then calls this: its picks then lock every candidate
-- in member_id order and choose exactly as one session would.
CREATE OR REPLACE FUNCTION csm_internal._begin_batch() RETURNS void
AS 'MODULE_PATHNAME', 'csm_begin_batch'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION csm_internal._begin_batch() IS
    'Internal: takes the batch lock (csm_internal.lock_row (''assign'', ''batch'')) until commit; the rest of the transaction assigns as a batch.';

-- Deleting accounts deletes their relationships (the foreign key's
-- cascade), which must come off their owners' counters too.  After the
-- statement the relationships are gone, so the owners are found in the
-- audit log (every relationship was started with a row naming its member)
-- and their counters recounted, under their locks.  On Citus the cascade
-- runs on the workers' copies of csm.account, which Citus changes before
-- the coordinator's; this runs once, on the coordinator's (csm_internal._origin()).
CREATE OR REPLACE FUNCTION csm_internal._forget_owners() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    accounts bigint[];
    members bigint[];
    member bigint;
    recount_accounts integer[];
    recount_primaries integer[];
    recount_loads float8[];
BEGIN
    IF NOT csm_internal._origin() THEN
        RETURN NULL;
    END IF;
    PERFORM csm_internal._lock_ownership();
    accounts := ARRAY(SELECT g.account_id FROM gone g);
    members := ARRAY(SELECT DISTINCT l.new_member_id FROM @extschema@.assignment_log l
                     WHERE l.account_id = ANY (accounts) AND l.conversation_id IS NULL AND l.new_member_id IS NOT NULL
                     ORDER BY 1);
    FOREACH member IN ARRAY members LOOP
        PERFORM csm_internal._lock_member(member);
    END LOOP;
    -- (recounted first, then written: on Citus, member_load is a reference
    -- table, which one statement cannot update from a distributed one)
    SELECT array_agg(c.accounts), array_agg(c.primaries), array_agg(c.load) INTO recount_accounts, recount_primaries, recount_loads
    FROM (SELECT m, coalesce(r.accounts, 0) AS accounts, coalesce(r.primaries, 0) AS primaries, coalesce(r.load, 0) AS load
          FROM unnest(members) m
          LEFT JOIN (SELECT x.member_id, count(*)::integer AS accounts, count(*) FILTER (WHERE x.is_primary)::integer AS primaries,
                            sum(x.load) AS load
                     FROM @extschema@.account_assignment x
                     WHERE x.member_id = ANY (members) AND x.ended_at IS NULL GROUP BY x.member_id) r ON r.member_id = m
          ORDER BY m) c;
    UPDATE csm_internal.member_load l SET accounts = r.accounts, primaries = r.primaries, load = r.load
    FROM unnest(members, recount_accounts, recount_primaries, recount_loads) AS r(member_id, accounts, primaries, load)
    WHERE l.member_id = r.member_id;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._forget_owners() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._forget_owners() IS
    'Trigger: after accounts are deleted (their relationships with them), recounts their owners'' csm_internal.member_load rows.';
CREATE OR REPLACE TRIGGER account_forget_owners AFTER DELETE ON @extschema@.account
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._forget_owners();

CREATE OR REPLACE FUNCTION csm_internal._pick_member(candidates bigint[], strategy text, weight float8) RETURNS bigint
AS 'MODULE_PATHNAME', 'csm_pick_member'
LANGUAGE C STRICT
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION csm_internal._pick_member(bigint[], text, float8) IS
    'Internal: picks and locks the member who gets the next account among the candidates: round_robin (picked longest ago) or least_loaded (lowest load / capacity, no capacity counting as 100), among active members with room for weight more; members another session is assigning to are passed over, not waited for (in a batch, every candidate is locked). NULL when nobody has room.';

-- In C (src/csm_assign.c), beside csm_auto_assign: applications call it
-- once per account.
CREATE OR REPLACE FUNCTION @extschema@.csm_assign(org_user_id text, assign_to text, is_primary boolean DEFAULT true,
                                       reason text DEFAULT NULL)
RETURNS @extschema@.assignment_result
AS 'MODULE_PATHNAME', 'csm_assign'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.csm_assign(text, text, boolean, text) IS
    'Assigns a team member (handle) as primary or secondary CSM of an account (external_id); the seed''s Assign CSM tool. A new primary ends the previous one (kept in history). Returns assignment_success false with a message for an inactive member, a member at capacity or a continuity rule. Errors: P0002 unknown account or member, 22004 NULL argument, 42501 without the operate level (csm.grant_access).';

CREATE OR REPLACE FUNCTION @extschema@.csm_unassign(org_user_id text, handle text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    account bigint;
    member @extschema@.team_member;
    ended @extschema@.account_assignment;
BEGIN
    PERFORM csm_internal._require('operate');
    account := csm_internal._account_id(org_user_id);
    member := csm_internal._member(handle);
    PERFORM csm_internal._lock_account(account);
    SELECT * INTO ended FROM @extschema@.account_assignment a
    WHERE a.account_id = account AND a.member_id = member.member_id AND a.ended_at IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM csm_internal._end_assignment(account, ended.assignment_id, coalesce(reason, 'unassigned'));
    INSERT INTO @extschema@.assignment_log (account_id, action, is_primary, old_member_id, reason)
    VALUES (account, 'unassign', ended.is_primary, member.member_id, reason);
    RETURN true;
END $$;
COMMENT ON FUNCTION @extschema@.csm_unassign(text, text, text) IS
    'Ends a member''s relationship with an account (kept in history, logged); false when there was none. An account left without a primary shows in csm.unassigned_queue. Errors: P0002 unknown account or member, 42501 without the operate level (csm.grant_access).';

CREATE OR REPLACE VIEW @extschema@.assignment WITH (security_invoker = true) AS
SELECT a.account_id, ac.external_id, a.member_id, m.handle, a.is_primary, a.started_at AS since, a.reason,
       a.rule_id, r.name AS rule, a.assigned_by, a.load,
       a.started_at  -- the vocabulary's name; since is deprecated
FROM @extschema@.account_assignment a
JOIN @extschema@.account ac ON ac.account_id = a.account_id
JOIN @extschema@.team_member m ON m.member_id = a.member_id
LEFT JOIN @extschema@.routing_rule r ON r.rule_id = a.rule_id
WHERE a.ended_at IS NULL;
COMMENT ON VIEW @extschema@.assignment IS
    'Current CSM relationships: account, member, primary or secondary, since when, why, and the routing rule that made it (NULL when assigned by hand).';

CREATE OR REPLACE VIEW @extschema@.assignment_workload WITH (security_invoker = true) AS
SELECT m.member_id, m.handle, m.name, m.roles, m.teams, m.active,
       count(a.account_id) AS accounts,
       count(a.account_id) FILTER (WHERE a.is_primary) AS primaries,
       count(a.account_id) FILTER (WHERE NOT a.is_primary) AS secondaries,
       coalesce(sum(ac.arr) FILTER (WHERE a.is_primary), 0) AS primary_arr,
       coalesce(sum(a.load), 0) AS load,
       m.capacity,
       round((coalesce(sum(a.load), 0) / nullif(coalesce(m.capacity, 100), 0))::numeric, 3) AS utilisation,
       coalesce(m.capacity, 100) AS effective_capacity,
       m.capacity IS NULL AS capacity_from_ratio,
       round((coalesce(m.capacity, 100) - coalesce(sum(a.load), 0))::numeric, 2) AS room,
       -- the vocabulary's names; name, utilisation and capacity_from_ratio
       -- above are deprecated
       m.name AS member_name,
       round((coalesce(sum(a.load), 0) / nullif(coalesce(m.capacity, 100), 0))::numeric, 3) AS utilisation_ratio,
       m.capacity IS NULL AS capacity_defaulted
FROM @extschema@.team_member m
LEFT JOIN @extschema@.account_assignment a ON a.member_id = m.member_id AND a.ended_at IS NULL
LEFT JOIN @extschema@.account ac ON ac.account_id = a.account_id
GROUP BY m.member_id;
COMMENT ON VIEW @extschema@.assignment_workload IS
    'Per member: current accounts, primaries, secondaries, ARR of the primary book, weighted load (100 / the segment''s csm.segment.csm_ratio per account: strategic 20, enterprise 10, mid_market 3.33, smb 1), capacity, utilisation against the ratios (load / effective_capacity), effective_capacity (capacity, or a full book of 100 load units when it is NULL: capacity_from_ratio), and the room left in load units.';

-- Without a primary: an anti join written as an outer join, which Citus
-- plans with csm.account a reference table (it refuses a correlated
-- subquery there); a single node plans both the same.
CREATE OR REPLACE VIEW @extschema@.unassigned_queue WITH (security_invoker = true) AS
SELECT a.account_id, a.external_id, a.segment, a.plan, a.tier, a.arr,
       coalesce(al.created_at, a.created_at) AS waiting_since, al.kind, al.message,
       coalesce(al.created_at, a.created_at) AS queued_at  -- the vocabulary's name; waiting_since is deprecated
FROM @extschema@.account a
LEFT JOIN @extschema@.assignment_alert al ON al.account_id = a.account_id AND al.resolved_at IS NULL
LEFT JOIN @extschema@.account_assignment p ON p.account_id = a.account_id AND p.is_primary AND p.ended_at IS NULL
WHERE a.status = 'active' AND p.account_id IS NULL;
COMMENT ON VIEW @extschema@.unassigned_queue IS
    'Active accounts without a primary CSM, oldest first by queued_at, with the open alert saying why (NULL kind: never routed).';
