-- New accounts on Citus: their ARR, lifecycle stage and owner, at commit,
-- once per transaction.
--
-- On one node the statement triggers on csm.account do this at once
-- (account_arr_new, account_lifecycle_new, account_route_new).  On Citus,
-- csm.account is a reference table, and Citus loads its copies for an
-- INSERT ... SELECT or a COPY at the same time: a trigger on the
-- coordinator's copy cannot query the workers then.  So there the
-- statement trigger below only notes the new accounts, with what they were
-- inserted with, in a transaction-local setting, and a deferred trigger
-- does the work before Citus commits on the workers, from the coordinator
-- (csm_internal._origin()), for every account the transaction created.
-- Each account used to fire three deferred triggers of its own, and each
-- firing planned its queries through the coordinator: about 0.25 s an
-- account, so that a compact_usage() creating 2,000 accounts took minutes.
--
-- The deferred trigger is queued for the first new account row only (its
-- WHEN sets csm_new.queued, as account_fold_pending_deferred does with
-- csm_fold.queued), and its firing clears both settings, so an account
-- written after a SET CONSTRAINTS ... IMMEDIATE queues a firing again.  A
-- rolled-back subtransaction takes its notes, its mark and its firing with
-- it (settings are transactional).  Notes are per statement: a transaction
-- of many single-row INSERTs rewrites a longer note each time, which is
-- why the note holds three values per account and nothing else.

CREATE OR REPLACE FUNCTION csm_internal._note_new_accounts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    noted jsonb;
BEGIN
    IF NOT csm_internal._origin() THEN
        RETURN NULL;
    END IF;
    -- Accounts inserted with a created_at from before this transaction are
    -- history (a restore, an import): left as they are, as on one node.
    -- Each: [account_id, revenue ARR as inserted, the day it started].
    SELECT jsonb_agg(jsonb_build_array(n.account_id, csm_internal._revenue_arr(n.arr, n.status),
                                       (coalesce(n.started_at, n.created_at) AT TIME ZONE 'UTC')::date))
    INTO noted
    FROM new_accounts n WHERE n.created_at >= now();
    IF noted IS NOT NULL THEN
        PERFORM set_config('csm_new.accounts',
                           (coalesce(nullif(current_setting('csm_new.accounts', true), '')::jsonb, '[]') || noted)::text,
                           true);
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._note_new_accounts() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._note_new_accounts() IS
    'Trigger, on Citus (csm.distribute() adds it): notes the accounts an INSERT created (not history: a created_at before the transaction), with their ARR and start day as inserted, for csm_internal._new_accounts_at_commit.';

CREATE OR REPLACE FUNCTION csm_internal._new_accounts_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    noted jsonb := nullif(current_setting('csm_new.accounts', true), '')::jsonb;
    ids bigint[];
    arrs numeric[];
    starts date[];
    commutative text;
BEGIN
    PERFORM set_config('csm_new.queued', 'off', true);
    PERFORM set_config('csm_new.accounts', '', true);
    IF noted IS NULL OR NOT csm_internal._origin() THEN
        RETURN NULL;
    END IF;
    -- those still there (an account deleted since is gone with its rows)
    SELECT array_agg(a.account_id ORDER BY a.account_id),
           array_agg((e ->> 1)::numeric ORDER BY a.account_id),
           array_agg((e ->> 2)::date ORDER BY a.account_id)
    INTO ids, arrs, starts
    FROM jsonb_array_elements(noted) e
    JOIN @extschema@.account a ON a.account_id = (e ->> 0)::bigint;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    -- ARR: a new customer from the day it started (csm_internal._account_arr_new)
    PERFORM csm_internal._record_arr_changes(array_agg(n.id), array_agg(0::numeric), array_agg(n.arr),
                                             array_agg(n.day), array_agg(n.day), '{}')
    FROM unnest(ids, arrs, starts) AS n (id, arr, day)
    WHERE n.arr > 0
    HAVING count(*) > 0;
    -- Lifecycle.  Citus serialises an UPDATE of a reference table with every
    -- other write of it (an ExclusiveLock on its shard): transactions
    -- inserting accounts at the same time (which hold the shard's
    -- RowExclusiveLock until they commit) would each wait here for the
    -- others, a distributed deadlock.  The rows written are this
    -- transaction's new accounts, which no other transaction sees yet, so
    -- the writes commute: Citus is told so for them only.
    commutative := current_setting('citus.all_modifications_commutative', true);
    PERFORM set_config('citus.all_modifications_commutative', 'on', true);
    PERFORM csm_internal._lifecycle_begin(ids);
    PERFORM set_config('citus.all_modifications_commutative', coalesce(commutative, 'off'), true);
    -- Owners, after the stage (a routing rule may read it).
    PERFORM csm_internal._route(ids);
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._new_accounts_at_commit() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._new_accounts_at_commit() IS
    'Trigger, on Citus (csm.distribute() adds it): at the commit of a transaction that created accounts, once, records their ARR (kind new), evaluates their lifecycle stage and applies the routing rules to them, from the coordinator''s copy of csm.account.';

-- Whether new accounts of this copy of csm.account are left to
-- csm_internal._new_accounts_at_commit (on Citus, after csm.distribute()).
-- The statement triggers of one node ask it first.
CREATE OR REPLACE FUNCTION csm_internal._new_accounts_deferred(account_copy oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                   WHERE t.tgrelid = account_copy
                     -- on a shard of csm.account, its name ends with the shard id
                     AND t.tgname LIKE 'account\_new\_deferred%');
END;
COMMENT ON FUNCTION csm_internal._new_accounts_deferred(oid) IS
    'Internal: whether this copy of csm.account (a trigger''s TG_RELID) leaves new accounts to the deferred trigger account_new_deferred (on Citus).';

-- Called by csm.distribute(); idempotent.
CREATE OR REPLACE FUNCTION csm_internal._distribute_new_accounts() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = '@extschema@.account'::regclass
                                               AND t.tgname = 'account_new_deferred') THEN
        CREATE TRIGGER account_new_noted AFTER INSERT ON @extschema@.account
            REFERENCING NEW TABLE AS new_accounts FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._note_new_accounts();
        CREATE CONSTRAINT TRIGGER account_new_deferred AFTER INSERT ON @extschema@.account
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            -- history queues nothing; the rest once per transaction (see above)
            WHEN (NEW.created_at >= pg_catalog.now()
                  AND pg_catalog.current_setting('csm_new.queued', true) IS DISTINCT FROM 'on'
                  AND pg_catalog.set_config('csm_new.queued', 'on', true) = 'on')
            EXECUTE FUNCTION csm_internal._new_accounts_at_commit();
    END IF;
END $$;
REVOKE ALL ON FUNCTION csm_internal._distribute_new_accounts() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._distribute_new_accounts() IS
    'Internal, for csm.distribute(): adds the triggers that, on Citus, note new accounts (account_new_noted) and record their ARR, lifecycle stage and owner at commit, once per transaction (account_new_deferred).';
