-- The plain text name csm.usage_daily shows as source: it outlives the
-- table (a dropped source's relation is a bare oid), and no session's
-- search_path changes it.  The UPDATE names the sources of an install
-- upgraded from 0.1.0.
CREATE OR REPLACE FUNCTION csm_internal._usage_source_name(rel oid) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN n.nspname = 'public' THEN pg_catalog.quote_ident(c.relname)
                ELSE pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'
                     OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) END
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
    WHERE c.oid OPERATOR(pg_catalog.=) rel;
END;
COMMENT ON FUNCTION csm_internal._usage_source_name(oid) IS
    'Internal: a table''s name as csm.usage_source.source_name keeps it: quoted as needed, schema-qualified outside public; NULL for a table that is gone. Called on its own (on Citus csm.usage_source is a reference table, which a statement does not mix with the catalogs).';
DO $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT u.source_id, u.relation::oid AS relid FROM @extschema@.usage_source u
             WHERE u.source_name IS NULL LOOP
        UPDATE @extschema@.usage_source SET source_name = csm_internal._usage_source_name(s.relid)
        WHERE source_id = s.source_id;
    END LOOP;
END $$;

-- On Citus, the deltas of a tracked table distributed by its account key
-- that compact_usage() has not folded yet: the rows of every staging table
-- csm.usage_stage_<source_id> (see csm_internal._usage_stage()), keyed by the account
-- key's text. Rewritten by csm_internal._usage_staged_view() as staging tables come
-- and go; on a single node there are none and it is empty.
CREATE OR REPLACE VIEW csm_internal._usage_staged WITH (security_invoker = true) AS
SELECT NULL::text AS account_key, NULL::integer AS source_id, NULL::date AS day,
       NULL::text AS user_key, NULL::text AS feature, NULL::bigint AS events
WHERE false;
COMMENT ON VIEW csm_internal._usage_staged IS
    'Usage deltas staged by the shards of distributed tracked tables on Citus, not folded yet, by account key; empty on a single node.';

-- Counters plus pending deltas: the exact totals per account, source and
-- day (csm_internal._usage_day), and per feature (csm_internal._usage_feature_day). One
-- definition for both forms: at install, with the branch of events waiting
-- in csm_internal.usage_pending and the staged one; on Citus (csm_internal._usage_views_for_citus)
-- without the pending branch, and with the staged one only while there are
-- staging tables (on its own it is planned on the coordinator).
CREATE OR REPLACE FUNCTION csm_internal._usage_day_views(pending boolean, staged boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    EXECUTE format($v$
    CREATE OR REPLACE VIEW csm_internal._usage_day WITH (security_invoker = true) AS
    WITH delta AS NOT MATERIALIZED (
        SELECT d.account_id, d.source_id, d.day, d.user_key, d.events FROM csm_internal.usage_delta d
        %s
        %s
    ), pending_users AS (
        SELECT p.account_id, p.source_id, p.day,
               sum((coalesce(u.events, 0) + p.n > 0)::integer - (coalesce(u.events, 0) > 0)::integer) AS active_delta
        FROM (SELECT d.account_id, d.source_id, d.day, d.user_key, sum(d.events) AS n
              FROM delta d WHERE d.user_key IS NOT NULL
              GROUP BY d.account_id, d.source_id, d.day, d.user_key) p
        LEFT JOIN csm_internal.usage_user_day u
               ON u.account_id = p.account_id AND u.source_id = p.source_id AND u.day = p.day AND u.user_key = p.user_key
        GROUP BY p.account_id, p.source_id, p.day
    )
    SELECT t.account_id, t.source_id, t.day, sum(t.events)::bigint AS events, sum(t.active_users)::bigint AS active_users
    FROM (SELECT c.account_id, c.source_id, c.day, c.events, c.active_users FROM csm_internal.usage_counter c
          UNION ALL
          SELECT d.account_id, d.source_id, d.day, d.events, 0 FROM delta d
          UNION ALL
          SELECT p.account_id, p.source_id, p.day, 0, p.active_delta FROM pending_users p) t
    GROUP BY t.account_id, t.source_id, t.day$v$,
        -- events of keys that waited for their account, which exists now
        CASE WHEN pending THEN $v$UNION ALL
        SELECT a.account_id, p.source_id, p.day, p.user_key, p.events
        FROM csm_internal.usage_pending p JOIN @extschema@.account a ON a.external_id = p.account_key$v$ ELSE '' END,
        -- Citus: deltas staged by the shards of a distributed tracked table
        CASE WHEN staged THEN $v$UNION ALL
        SELECT a.account_id, g.source_id, g.day, g.user_key, g.events
        FROM csm_internal._usage_staged g JOIN @extschema@.account a ON a.external_id = g.account_key$v$ ELSE '' END);

    EXECUTE format($v$
    CREATE OR REPLACE VIEW csm_internal._usage_feature_day WITH (security_invoker = true) AS
    SELECT t.account_id, t.source_id, t.day, t.feature, sum(t.events)::bigint AS events
    FROM (SELECT f.account_id, f.source_id, f.day, f.feature, f.events FROM csm_internal.usage_feature_counter f
          UNION ALL
          SELECT d.account_id, d.source_id, d.day, d.feature, d.events FROM csm_internal.usage_delta d
          WHERE d.feature IS NOT NULL
          %s
          %s) t
    GROUP BY t.account_id, t.source_id, t.day, t.feature$v$,
        CASE WHEN pending THEN $v$UNION ALL
          SELECT a.account_id, p.source_id, p.day, p.feature, p.events
          FROM csm_internal.usage_pending p JOIN @extschema@.account a ON a.external_id = p.account_key
          WHERE p.feature IS NOT NULL$v$ ELSE '' END,
        CASE WHEN staged THEN $v$UNION ALL
          SELECT a.account_id, g.source_id, g.day, g.feature, g.events
          FROM csm_internal._usage_staged g JOIN @extschema@.account a ON a.external_id = g.account_key
          WHERE g.feature IS NOT NULL$v$ ELSE '' END);
END $fn$;
REVOKE ALL ON FUNCTION csm_internal._usage_day_views(boolean, boolean) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._usage_day_views(boolean, boolean) IS
    'Internal: (re)defines csm_internal._usage_day and csm_internal._usage_feature_day, with or without the branches of events pending in csm_internal.usage_pending and staged on Citus.';

SELECT csm_internal._usage_day_views(pending => true, staged => true);
COMMENT ON VIEW csm_internal._usage_day IS
    'Exact events and active users per account, source and day: folded counters plus pending deltas.';
COMMENT ON VIEW csm_internal._usage_feature_day IS
    'Exact events per account, source, day and feature: folded counters plus pending deltas.';

-- csm.usage_daily and csm.usage_feature_daily.  per_account (single node):
-- each account's days are a LATERAL subquery keyed by the account row
-- (OFFSET 0 keeps the planner from flattening it into a join), so a read
-- filtered by external_id aggregates that account's rows only, O(1) in
-- portfolio size, where the set-based form groups every account's rows
-- first; a read of every account costs the same in both.  Citus does not
-- run subqueries correlated with the reference table csm.account:
-- csm.distribute() gives them the set-based form (per_account false).
-- Same columns and rows either way.
CREATE OR REPLACE FUNCTION csm_internal._usage_daily_views(per_account boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF per_account THEN
        CREATE OR REPLACE VIEW @extschema@.usage_daily WITH (security_invoker = true) AS
        SELECT a.external_id,
               u.account_id,
               coalesce(s.source_name, s.relation::text) AS source,
               u.day,
               u.events,
               CASE WHEN s.user_column IS NOT NULL THEN u.active_users END AS active_users,
               s.relation AS source_relation  -- deprecated: source was this regclass in 0.1.0
        FROM @extschema@.account a
        CROSS JOIN LATERAL (SELECT d.account_id, d.source_id, d.day, d.events, d.active_users
                            FROM csm_internal._usage_day d WHERE d.account_id = a.account_id OFFSET 0) u
        JOIN @extschema@.usage_source s ON s.source_id = u.source_id;
        CREATE OR REPLACE VIEW @extschema@.usage_feature_daily WITH (security_invoker = true) AS
        SELECT a.external_id,
               f.account_id,
               coalesce(s.source_name, s.relation::text) AS source,
               f.day,
               f.feature,
               f.events,
               s.relation AS source_relation  -- deprecated: source was this regclass in 0.1.0
        FROM @extschema@.account a
        CROSS JOIN LATERAL (SELECT d.account_id, d.source_id, d.day, d.feature, d.events
                            FROM csm_internal._usage_feature_day d WHERE d.account_id = a.account_id OFFSET 0) f
        JOIN @extschema@.usage_source s ON s.source_id = f.source_id;
    ELSE
        CREATE OR REPLACE VIEW @extschema@.usage_daily WITH (security_invoker = true) AS
        SELECT a.external_id,
               u.account_id,
               coalesce(s.source_name, s.relation::text) AS source,
               u.day,
               u.events,
               CASE WHEN s.user_column IS NOT NULL THEN u.active_users END AS active_users,
               s.relation AS source_relation  -- deprecated: source was this regclass in 0.1.0
        FROM csm_internal._usage_day u
        JOIN @extschema@.account a ON a.account_id = u.account_id
        JOIN @extschema@.usage_source s ON s.source_id = u.source_id;
        CREATE OR REPLACE VIEW @extschema@.usage_feature_daily WITH (security_invoker = true) AS
        SELECT a.external_id,
               f.account_id,
               coalesce(s.source_name, s.relation::text) AS source,
               f.day,
               f.feature,
               f.events,
               s.relation AS source_relation  -- deprecated: source was this regclass in 0.1.0
        FROM csm_internal._usage_feature_day f
        JOIN @extschema@.account a ON a.account_id = f.account_id
        JOIN @extschema@.usage_source s ON s.source_id = f.source_id;
    END IF;
END $fn$;
REVOKE ALL ON FUNCTION csm_internal._usage_daily_views(boolean) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._usage_daily_views(boolean) IS
    'Internal: (re)creates csm.usage_daily and csm.usage_feature_daily, per_account (LATERAL by account, single node: one account''s read is O(1) in portfolio size) or set-based (what Citus runs; csm.distribute() calls it with false). Same columns and rows.';
SELECT csm_internal._usage_daily_views(per_account => true);
COMMENT ON VIEW @extschema@.usage_daily IS
    'Events and distinct active users per account, tracked source and UTC day. active_users is NULL for a source without a user column.';

COMMENT ON VIEW @extschema@.usage_feature_daily IS
    'Events per account, tracked source, UTC day and feature (the event column given to track_usage).';

CREATE OR REPLACE VIEW @extschema@.usage_unknown_key WITH (security_invoker = true) AS
SELECT coalesce(s.source_name, s.relation::text) AS source,
       p.account_key AS key,
       sum(p.events)::bigint AS events,
       min(p.day) AS first_seen,
       max(p.day) AS last_seen,
       -- the vocabulary's names; first_seen and last_seen are deprecated
       min(p.day) AS first_seen_date,
       max(p.day) AS last_seen_date
FROM (SELECT p.source_id, p.account_key, p.day, p.events FROM csm_internal.usage_pending p
      UNION ALL
      -- Citus: keys staged by a distributed table's shards whose account compact_usage() has not created yet
      SELECT g.source_id, g.account_key, g.day, g.events FROM csm_internal._usage_staged g) p
JOIN @extschema@.usage_source s ON s.source_id = p.source_id
WHERE NOT EXISTS (SELECT 1 FROM @extschema@.account a WHERE a.external_id = p.account_key)
GROUP BY s.source_id, p.account_key
HAVING sum(p.events) <> 0;
COMMENT ON VIEW @extschema@.usage_unknown_key IS
    'Account keys seen in a source tracked with create_accounts => false that have no csm.account row: events, and the first and last UTC day seen. Creating the account rolls them up. On Citus, also the new keys of a distributed source until csm.compact_usage() creates their accounts.';

-- On Citus, csm_internal.usage_pending is a reference table, and a view that unions
-- it (joined to csm.account on the key's text) with the distributed
-- counters is planned on the coordinator, which then pulls every account's
-- usage from the shards. There the pending events of a key are moved into
-- csm_internal.usage_delta when its account is created (or takes that key), in the
-- same transaction, at commit, once (from the copy of csm.account of the
-- node the statement ran on, csm_internal._origin(), as csm_internal._route_new_account
-- does): the views then need no pending branch and run on the workers. A
-- key's events written by a transaction that overlaps the account's
-- creation (it could not see the account yet), and those of accounts
-- loaded by a COPY outside a transaction block (see csm_internal._fold_pending_key)
-- stay pending; the next csm.compact_usage() folds them. On a single node nothing of this is
-- installed: the views read csm_internal.usage_pending directly.
-- Moves the pending events of these keys whose account exists into
-- csm_internal.usage_delta, exactly: what is deleted is what is inserted.
CREATE OR REPLACE FUNCTION csm_internal._fold_pending(keys text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
BEGIN
    FOR k IN SELECT a.account_id, a.external_id FROM @extschema@.account a
             WHERE a.external_id = ANY (keys)
               AND EXISTS (SELECT 1 FROM csm_internal.usage_pending p WHERE p.account_key = a.external_id)
             ORDER BY a.external_id LOOP  -- one order of the rows locked, for folds at once
        WITH taken AS (
            DELETE FROM csm_internal.usage_pending p WHERE p.account_key = k.external_id
            RETURNING p.source_id, p.day, p.user_key, p.feature, p.events
        ), moved AS (
            SELECT array_agg(t.source_id) AS s, array_agg(t.day) AS d, array_agg(t.user_key) AS u,
                   array_agg(t.feature) AS f, array_agg(t.events) AS e
            FROM taken t
        )
        INSERT INTO csm_internal.usage_delta (account_id, source_id, day, user_key, feature, events)
        SELECT k.account_id, x.source_id, x.day, x.user_key, x.feature, x.events
        FROM moved m, unnest(m.s, m.d, m.u, m.f, m.e) AS x (source_id, day, user_key, feature, events);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION csm_internal._fold_pending(text[]) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._fold_pending(text[]) IS
    'Internal, on Citus: moves the pending events (csm_internal.usage_pending) of these keys whose account exists into csm_internal.usage_delta.';

-- After the statement that created the accounts when Citus lets a trigger
-- query the workers then (an INSERT ... VALUES, an UPDATE), so that the
-- views count the events at once; at commit otherwise (an INSERT ... SELECT
-- or a COPY, which Citus loads into every copy at the same time).
CREATE OR REPLACE FUNCTION csm_internal._fold_pending_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    keys text[];
BEGIN
    IF NOT csm_internal._origin()
       OR pg_catalog.current_setting('application_name') LIKE 'citus\_internal gpid=%' THEN
        RETURN NULL;  -- as in csm_internal._fold_pending_key
    END IF;
    keys := ARRAY(SELECT n.external_id FROM new_accounts n);
    IF NOT EXISTS (SELECT 1 FROM csm_internal.usage_pending p WHERE p.account_key = ANY (keys)) THEN
        RETURN NULL;
    END IF;
    -- Citus loads an INSERT ... SELECT or a COPY into this copy with a COPY
    -- of its own while its connections to the workers are busy: then
    -- csm_internal._fold_pending_key does it at commit (the progress view is read
    -- afresh, not from the transaction's snapshot of it).
    PERFORM pg_catalog.pg_stat_clear_snapshot();
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_copy c WHERE c.pid = pg_catalog.pg_backend_pid()) THEN
        RETURN NULL;
    END IF;
    PERFORM csm_internal._fold_pending(keys);
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._fold_pending_keys() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._fold_pending_keys() IS
    'Trigger, on Citus (csm.distribute() adds it): moves the pending events of the keys of accounts created or rekeyed into csm_internal.usage_delta after the statement, once, where Citus allows it then (else csm_internal._fold_pending_key does at commit).';

-- At commit, once per transaction however many accounts it created: the
-- deferred row trigger below is queued for the first account row only (its
-- WHEN sets csm_fold.queued, transaction-local, and skips the rows after),
-- and the firing clears the mark, so an account written after a SET
-- CONSTRAINTS ... IMMEDIATE queues a firing again (a rolled-back
-- subtransaction takes its mark and its firing with it). The firing folds
-- every key that has pending events and an account now: those of this
-- transaction's accounts, and any whose events came in between (folding
-- them sooner than compact_usage() is as exact). It used to fold its own
-- key once per account, a query of the reference tables each: 1M accounts
-- took more than 20 minutes to commit.
CREATE OR REPLACE FUNCTION csm_internal._fold_pending_key() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_catalog.set_config('csm_fold.queued', 'off', true);
    -- A COPY outside a transaction block changes the coordinator's copy
    -- through a connection of Citus's own (application_name citus_internal),
    -- which cannot run distributed queries: compact_usage() folds these.
    IF csm_internal._origin()
       AND pg_catalog.current_setting('application_name') NOT LIKE 'citus\_internal gpid=%' THEN
        PERFORM csm_internal._fold_pending(ARRAY(
            SELECT DISTINCT p.account_key FROM csm_internal.usage_pending p
            WHERE EXISTS (SELECT 1 FROM @extschema@.account a WHERE a.external_id = p.account_key)));
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._fold_pending_key() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._fold_pending_key() IS
    'Trigger, on Citus (csm.distribute() adds it): at the commit of a transaction that created accounts or changed their keys, once, moves the pending events (csm_internal.usage_pending) of every key whose account exists into csm_internal.usage_delta (from the copy of csm.account of the node the statement ran on).';

-- Called by csm.distribute(), after the tables are distributed, and by
-- csm_internal._usage_staged_view() there; idempotent. Adds the triggers above,
-- folds the pending events whose account exists already, and gives
-- csm_internal._usage_day and csm_internal._usage_feature_day the same columns and answers
-- without the pending branch, and without the staged one while no
-- distributed source has a staging table (except except_source's).
CREATE OR REPLACE FUNCTION csm_internal._usage_views_for_citus(except_source integer DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    staged boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = '@extschema@.account'::regclass
                                               AND t.tgname = 'account_fold_pending_deferred') THEN
        CREATE CONSTRAINT TRIGGER account_fold_pending_deferred AFTER INSERT OR UPDATE OF external_id
            ON @extschema@.account DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            -- queued once per transaction (see csm_internal._fold_pending_key)
            WHEN (pg_catalog.current_setting('csm_fold.queued', true) IS DISTINCT FROM 'on'
                  AND pg_catalog.set_config('csm_fold.queued', 'on', true) = 'on')
            EXECUTE FUNCTION csm_internal._fold_pending_key();
        CREATE TRIGGER account_fold_pending AFTER INSERT ON @extschema@.account
            REFERENCING NEW TABLE AS new_accounts FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._fold_pending_keys();
        CREATE TRIGGER account_fold_pending_rekeyed AFTER UPDATE ON @extschema@.account
            REFERENCING NEW TABLE AS new_accounts FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._fold_pending_keys();
    END IF;
    PERFORM csm_internal._fold_pending(ARRAY(SELECT DISTINCT p.account_key FROM csm_internal.usage_pending p));
    SELECT EXISTS (SELECT 1 FROM @extschema@.usage_source u
                   JOIN pg_catalog.pg_class c ON c.relnamespace = '@extschema@'::regnamespace
                                             AND c.relname = 'usage_stage_' || u.source_id
                   WHERE u.source_id IS DISTINCT FROM except_source)
    INTO staged;

    PERFORM csm_internal._usage_day_views(pending => false, staged => staged);
END $fn$;
REVOKE ALL ON FUNCTION csm_internal._usage_views_for_citus(integer) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._usage_views_for_citus(integer) IS
    'Internal: csm.distribute() calls it to fold pending events of existing accounts, add the triggers that fold a key''s pending events when its account is created (csm_internal._fold_pending_keys, csm_internal._fold_pending_key), and give csm_internal._usage_day and csm_internal._usage_feature_day the form Citus runs on the workers (same columns and answers; a staged branch only while a source other than except_source has a staging table).';
INSERT INTO csm_internal.usage_fold_lock DEFAULT VALUES
ON CONFLICT DO NOTHING;
REVOKE ALL ON csm_internal.usage_fold_lock FROM PUBLIC;

-- Adds deltas to the counters. One folder at a time: callers hold the row
-- lock on csm_internal.usage_fold_lock, which this takes too (taking it again is a
-- no-op), so rows are locked in one order and nobody deadlocks.
CREATE OR REPLACE FUNCTION csm_internal._apply_usage(
    accounts bigint[], sources integer[], days date[], users text[], features text[], counts bigint[])
RETURNS void
LANGUAGE plpgsql
-- a fold can be a million groups; give its hash aggregates room
SET work_mem = '64MB'
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM FROM csm_internal.usage_fold_lock FOR UPDATE;
    WITH taken AS (
        SELECT * FROM unnest(accounts, sources, days, users, features, counts)
                      AS t(account_id, source_id, day, user_key, feature, events)
    ), user_in AS (
        SELECT t.account_id, t.source_id, t.day, t.user_key, sum(t.events) AS n
        FROM taken t WHERE t.user_key IS NOT NULL
        GROUP BY t.account_id, t.source_id, t.day, t.user_key
        HAVING sum(t.events) <> 0
    ), user_up AS (
        INSERT INTO csm_internal.usage_user_day AS u (account_id, source_id, day, user_key, events)
        SELECT i.account_id, i.source_id, i.day, i.user_key, i.n FROM user_in i
        ORDER BY i.account_id, i.source_id, i.day, i.user_key
        ON CONFLICT (account_id, source_id, day, user_key)
        DO UPDATE SET events = u.events + excluded.events
        RETURNING u.account_id, u.source_id, u.day, u.user_key, u.events
    ), active_delta AS (
        -- a user becomes active when its count rises from zero, inactive when it returns to zero
        SELECT i.account_id, i.source_id, i.day,
               count(*) FILTER (WHERE i.n > 0 AND u.events = i.n)
             - count(*) FILTER (WHERE i.n < 0 AND u.events = 0) AS delta
        FROM user_up u
        JOIN user_in i ON i.account_id = u.account_id AND i.source_id = u.source_id
                      AND i.day = u.day AND i.user_key = u.user_key
        GROUP BY i.account_id, i.source_id, i.day
    ), day_in AS (
        SELECT t.account_id, t.source_id, t.day, sum(t.events) AS n
        FROM taken t
        GROUP BY t.account_id, t.source_id, t.day
    ), counter_up AS (
        INSERT INTO csm_internal.usage_counter AS c (account_id, source_id, day, events, active_users)
        SELECT d.account_id, d.source_id, d.day, d.n,
               CASE WHEN s.user_column IS NOT NULL THEN coalesce(a.delta, 0) END
        FROM day_in d
        JOIN @extschema@.usage_source s ON s.source_id = d.source_id
        LEFT JOIN active_delta a ON a.account_id = d.account_id AND a.source_id = d.source_id AND a.day = d.day
        ORDER BY d.account_id, d.source_id, d.day
        ON CONFLICT (account_id, source_id, day)
        DO UPDATE SET events = c.events + excluded.events, active_users = c.active_users + excluded.active_users
    )
    INSERT INTO csm_internal.usage_feature_counter AS f (account_id, source_id, day, feature, events)
    SELECT t.account_id, t.source_id, t.day, t.feature, sum(t.events)
    FROM taken t WHERE t.feature IS NOT NULL
    GROUP BY t.account_id, t.source_id, t.day, t.feature
    ORDER BY t.account_id, t.source_id, t.day, t.feature
    ON CONFLICT (account_id, source_id, day, feature)
    DO UPDATE SET events = f.events + excluded.events;
END $$;
COMMENT ON FUNCTION csm_internal._apply_usage(bigint[], integer[], date[], text[], text[], bigint[]) IS
    'Adds usage deltas (in csm_internal.usage_delta''s columns, as arrays) to the counters, under the fold lock. Used by compact_usage() and by the trigger for large statements.';
REVOKE ALL ON FUNCTION csm_internal._apply_usage(bigint[], integer[], date[], text[], text[], bigint[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.compact_usage() RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    folded bigint;
BEGIN
    -- Citus: csm.account (a reference table that distributed tables refer
    -- to) is written here, and at commit by csm's deferred triggers on it
    -- (lifecycle); Citus refuses that after a parallel multi-shard statement
    -- anywhere in the transaction, so the mode is set for the rest of the
    -- transaction, not only for this function (a SET clause would end with it).
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    PERFORM FROM csm_internal.usage_fold_lock FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN 0;  -- another session is folding right now
    END IF;
    -- Citus: the deltas staged by distributed tables' shards join the others first
    PERFORM csm_internal._usage_unstage();
    -- A NOTICE at every 10% of the deltas taken, when the client wants
    -- notices and there are 10,000 or more (counted as they are taken,
    -- below; counted first only then).
    PERFORM csm_internal._progress_begin('compact_usage',
        CASE WHEN csm_internal._progress_wanted()
             THEN (SELECT CASE WHEN count(*) >= 10000 THEN count(*) ELSE 0 END FROM csm_internal.usage_delta) END);
    WITH taken AS (
        DELETE FROM csm_internal.usage_delta RETURNING *
    ), adopted AS (
        -- pending events whose account exists now
        DELETE FROM csm_internal.usage_pending p USING @extschema@.account a
        WHERE a.external_id = p.account_key
        RETURNING a.account_id, p.source_id, p.day, p.user_key, p.feature, p.events
    ), everything AS (
        SELECT t.account_id, t.source_id, t.day, t.user_key, t.feature, t.events FROM taken t
        WHERE csm_internal._progress('compact_usage', t.account_id)
        UNION ALL
        SELECT * FROM adopted
    )
    SELECT count(*), csm_internal._apply_usage(array_agg(account_id), array_agg(source_id), array_agg(day),
                                             array_agg(user_key), array_agg(feature), array_agg(events))
    INTO folded
    FROM everything;
    RETURN folded;
END $$;
COMMENT ON FUNCTION @extschema@.compact_usage() IS
    'Folds pending usage deltas into the counters; returns the deltas folded (0 when another session is folding). Safe to run any time, e.g. from pg_cron every minute.';
REVOKE ALL ON FUNCTION @extschema@.compact_usage() FROM PUBLIC;

-- The C rollup trigger. It writes with its owner's rights (switching user in
-- C, as foreign-key triggers do), so application roles that insert events
-- need no rights on csm's tables; only admins may attach it.
CREATE OR REPLACE FUNCTION csm_internal._usage_rollup() RETURNS trigger
AS 'MODULE_PATHNAME', 'csm_usage_rollup'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION csm_internal._usage_rollup() IS
    'Statement trigger attached by csm.track_usage(); rolls transition tables up into csm.usage_*.';
REVOKE ALL ON FUNCTION csm_internal._usage_rollup() FROM PUBLIC;

-- Checks one column of a table to be tracked and returns its type.
CREATE OR REPLACE FUNCTION csm_internal._usage_column_type(source regclass, col name, role text, allowed regtype[])
RETURNS regtype
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    typ regtype;
    base regtype;
BEGIN
    SELECT a.atttypid INTO typ
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, source
            USING ERRCODE = 'undefined_column',
                  HINT = format('Name an existing column as the %s column.', role);
    END IF;
    -- A domain is read as its base type, as the trigger reads it.
    base := typ;
    WHILE (SELECT t.typtype FROM pg_catalog.pg_type t WHERE t.oid = base) = 'd' LOOP
        SELECT t.typbasetype INTO base FROM pg_catalog.pg_type t WHERE t.oid = base;
    END LOOP;
    IF NOT base = ANY (allowed) THEN
        RAISE EXCEPTION 'the % column "%" has unsupported type %', role, col, typ
            USING ERRCODE = 'datatype_mismatch',
                  HINT = format('Supported types: %s.', array_to_string(allowed::text[], ', '));
    END IF;
    RETURN typ;
END $$;
COMMENT ON FUNCTION csm_internal._usage_column_type(regclass, name, text, regtype[]) IS
    'Validates a column named to track_usage(): it exists and has a supported built-in type, or a domain over one. The trigger and backfill_usage() check again at every use.';

-- Forgets a source's rollups from a day on, with no fold running meanwhile.
CREATE OR REPLACE FUNCTION csm_internal._clear_usage(source integer, from_day date DEFAULT '-infinity')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM FROM csm_internal.usage_fold_lock FOR UPDATE;
    DELETE FROM csm_internal.usage_delta WHERE source_id = source AND day >= from_day;
    DELETE FROM csm_internal.usage_pending WHERE source_id = source AND day >= from_day;
    DELETE FROM csm_internal.usage_counter WHERE source_id = source AND day >= from_day;
    DELETE FROM csm_internal.usage_user_day WHERE source_id = source AND day >= from_day;
    DELETE FROM csm_internal.usage_feature_counter WHERE source_id = source AND day >= from_day;
    IF pg_catalog.to_regclass(format('@extschema@.usage_stage_%s', source)) IS NOT NULL THEN
        EXECUTE format('DELETE FROM @extschema@.usage_stage_%s WHERE day >= $1', source) USING from_day;
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._clear_usage(integer, date) IS
    'Deletes the rollups and pending deltas of a source from a UTC day on; used by TRUNCATE, untrack_usage() and backfill_usage().';
REVOKE ALL ON FUNCTION csm_internal._clear_usage(integer, date) FROM PUBLIC;

-- Attaches the four rollup triggers of a source to a table: the tracked
-- table itself, or one of its partitions (statement triggers of a
-- partitioned table do not fire for DML aimed straight at a partition).
CREATE OR REPLACE FUNCTION csm_internal._usage_add_triggers(s @extschema@.usage_source, rel regclass)
RETURNS void
LANGUAGE plpgsql
-- Citus: triggers on a distributed table go to its shards, where the
-- rollup trigger is written to run (src/usage_citus.c)
SET citus.enable_unsafe_triggers = on
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    args text;
BEGIN
    -- Trigger arguments carry the column names, so a dump and restore
    -- (which may renumber columns) keeps them valid.
    args := format('%L, %L, %L, %L, %L, %L', s.source_id, s.account_column, s.time_column,
                   coalesce(s.event_column, ''), coalesce(s.user_column, ''),
                   CASE WHEN s.create_accounts THEN 'create_accounts' ELSE 'no_accounts' END);
    EXECUTE format('CREATE TRIGGER csm_usage_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS csm_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._usage_rollup(%s)', rel, args);
    EXECUTE format('CREATE TRIGGER csm_usage_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS csm_old NEW TABLE AS csm_new '
                   'FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._usage_rollup(%s)', rel, args);
    EXECUTE format('CREATE TRIGGER csm_usage_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS csm_old '
                   'FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._usage_rollup(%s)', rel, args);
    EXECUTE format('CREATE TRIGGER csm_usage_truncate AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._usage_rollup(%s)', rel, args);
END $$;
COMMENT ON FUNCTION csm_internal._usage_add_triggers(@extschema@.usage_source, regclass) IS
    'Creates the rollup triggers of a source on a table or one of its partitions.';
REVOKE ALL ON FUNCTION csm_internal._usage_add_triggers(@extschema@.usage_source, regclass) FROM PUBLIC;

-- Removes a source's rollup triggers from a table, if they are there.
CREATE OR REPLACE FUNCTION csm_internal._usage_drop_triggers(source integer, rel regclass)
RETURNS void
LANGUAGE plpgsql
SET citus.enable_unsafe_triggers = on
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t name;
BEGIN
    FOR t IN
        SELECT g.tgname FROM pg_catalog.pg_trigger g
        WHERE g.tgrelid = rel AND g.tgfoid = 'csm_internal._usage_rollup()'::regprocedure
          AND pg_catalog.split_part(pg_catalog.encode(g.tgargs, 'escape'), '\000', 1) = source::text
        ORDER BY g.tgname
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t, rel);
    END LOOP;
END $$;
COMMENT ON FUNCTION csm_internal._usage_drop_triggers(integer, regclass) IS
    'Drops the rollup triggers of a source from a table or one of its partitions.';
REVOKE ALL ON FUNCTION csm_internal._usage_drop_triggers(integer, regclass) FROM PUBLIC;

-- Citus. A tracked table that is distributed (by its account column, hash)
-- has the rollup triggers on every shard; they fire on the workers, where
-- no query may reach another node. So they write their deltas, keyed by the
-- account key, into the shard of a staging table colocated with the tracked
-- table (src/usage_citus.c), and compact_usage() on the coordinator creates
-- the accounts and folds them. A local table on the coordinator is tracked
-- as on a single node.

-- Whether csm runs on a Citus worker: DDL that Citus replays there (drops,
-- partitions of distributed tables) is followed on the coordinator.
CREATE OR REPLACE FUNCTION csm_internal._usage_on_worker() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    coordinator boolean;
BEGIN
    IF pg_catalog.to_regproc('pg_catalog.citus_is_coordinator') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO coordinator;
    RETURN NOT coordinator;
END $$;
COMMENT ON FUNCTION csm_internal._usage_on_worker() IS
    'True on a Citus worker, where csm''s usage DDL triggers leave the work to the coordinator; false on a single node.';

-- Whether csm.distribute() has placed csm's tables on a Citus cluster.
CREATE OR REPLACE FUNCTION csm_internal._usage_on_cluster() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    placed boolean;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1)'
    INTO placed USING '@extschema@.usage_source'::regclass;
    RETURN placed;
END $$;
COMMENT ON FUNCTION csm_internal._usage_on_cluster() IS
    'True once csm.distribute() has made csm.usage_source a Citus reference table.';

-- The distribution column of a tracked table on Citus: NULL for a table
-- Citus does not know (tracked as on a single node), an error for a Citus
-- table that is not hash-distributed.
CREATE OR REPLACE FUNCTION csm_internal._usage_distribution_column(source regclass) RETURNS name
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    method text;
    col name;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT p.partmethod::text, CASE WHEN p.partmethod = ''h'' THEN pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) END
             FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1'
    INTO method, col USING source;
    IF method IS NULL THEN
        RETURN NULL;
    END IF;
    IF method <> 'h' THEN
        RAISE EXCEPTION 'table % is a Citus table that is not distributed by a column', source
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Track a local table, or a table distributed by its account column: SELECT create_distributed_table(table, account_column).';
    END IF;
    RETURN col;
END $$;
COMMENT ON FUNCTION csm_internal._usage_distribution_column(regclass) IS
    'The distribution column of a hash-distributed Citus table; NULL for a table Citus does not know; 0A000 for reference, local and single-shard Citus tables.';

-- Rewrites csm_internal._usage_staged over the staging tables there are, leaving
-- out one that is about to be dropped.
CREATE OR REPLACE FUNCTION csm_internal._usage_staged_view(except_source integer DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    legs text;
BEGIN
    SELECT string_agg(format('SELECT g.account_key::text, %s, g.day, g.user_key, g.feature, g.events FROM %s g',
                             u.source_id, c.oid::regclass), ' UNION ALL ' ORDER BY u.source_id)
    INTO legs
    FROM @extschema@.usage_source u
    JOIN pg_catalog.pg_class c ON c.relnamespace = '@extschema@'::regnamespace AND c.relname = 'usage_stage_' || u.source_id
    WHERE u.source_id IS DISTINCT FROM except_source;
    EXECUTE format('CREATE OR REPLACE VIEW csm_internal._usage_staged WITH (security_invoker = true) AS '
                   'SELECT g.account_key, g.source_id, g.day, g.user_key, g.feature, g.events '
                   'FROM (%s) AS g (account_key, source_id, day, user_key, feature, events)',
                   coalesce(legs, 'SELECT NULL::text, NULL::integer, NULL::date, NULL::text, NULL::text, NULL::bigint WHERE false'));
    -- after csm.distribute(): the usage views read the staging tables only while there are some
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) '@extschema@.account'::regclass
                                                      AND t.tgname OPERATOR(pg_catalog.=) 'account_fold_pending_deferred') THEN
        PERFORM csm_internal._usage_views_for_citus(except_source);
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._usage_staged_view(integer) IS
    'Rewrites csm_internal._usage_staged as the union of the staging tables csm.usage_stage_<source_id>, without except_source''s.';
REVOKE ALL ON FUNCTION csm_internal._usage_staged_view(integer) FROM PUBLIC;

-- The staging table of a source whose table is distributed, made if it is
-- missing: distributed by the account key, colocated with the table, owned
-- by csm's owner (the trigger writes it with those rights) and readable by
-- whoever may read csm_internal.usage_delta. NULL for a table that is not distributed.
CREATE OR REPLACE FUNCTION csm_internal._usage_stage(source integer) RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s @extschema@.usage_source;
    dist name;
    stage text := format('@extschema@.usage_stage_%s', source);
    key_type text;
    reader text;
BEGIN
    SELECT * INTO STRICT s FROM @extschema@.usage_source u WHERE u.source_id = source;
    dist := csm_internal._usage_distribution_column(s.relation);
    IF dist IS NULL THEN
        RETURN NULL;
    END IF;
    IF dist <> s.account_column THEN
        RAISE EXCEPTION 'table % is distributed by column "%", not by its account column "%"', s.relation, dist, s.account_column
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'On Citus csm rolls usage up on the shards, which needs every row of an account on one shard.',
                  HINT = format('Distribute the table by %I: SELECT undistribute_table(%L), then SELECT create_distributed_table(%L, %L).',
                                s.account_column, s.relation, s.relation, s.account_column);
    END IF;
    IF pg_catalog.to_regclass(stage) IS NOT NULL THEN
        RETURN stage::regclass;
    END IF;
    SELECT CASE WHEN t.typtype <> 'd' THEN pg_catalog.format_type(a.atttypid, a.atttypmod) END INTO key_type
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = s.relation AND a.attname = dist;
    IF key_type IS NULL THEN
        RAISE EXCEPTION 'the account column "%" of distributed table % has a domain type', dist, s.relation
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'On Citus, distribute a tracked table by a column of a built-in type (text, varchar, integer, bigint, uuid).';
    END IF;
    EXECUTE format('CREATE TABLE %s (account_key %s NOT NULL, day date NOT NULL, user_key text, feature text, events bigint NOT NULL)',
                   stage, key_type);
    EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', stage);
    EXECUTE format('ALTER TABLE %s OWNER TO %s', stage,
                   (SELECT p.proowner::regrole FROM pg_catalog.pg_proc p WHERE p.oid = 'csm_internal._usage_rollup()'::regprocedure));
    EXECUTE format('COMMENT ON TABLE %s IS %L', stage,
                   format('Usage deltas of %s (csm source %s) staged by its shards, by account key, until csm.compact_usage() folds them. Colocated with it.',
                          s.relation, s.source_id));
    FOR reader IN
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END
        FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
        WHERE c.oid = 'csm_internal.usage_delta'::regclass AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('GRANT SELECT ON %s TO %s', stage, reader);
    END LOOP;
    PERFORM pg_catalog.create_distributed_table(stage, 'account_key', colocate_with => s.relation::text);
    PERFORM csm_internal._usage_staged_view();
    RETURN stage::regclass;
END $$;
COMMENT ON FUNCTION csm_internal._usage_stage(integer) IS
    'Citus: the staging table csm.usage_stage_<source_id> of a source whose table is distributed, created (colocated with the table) if missing; NULL for a table that is not distributed; 0A000 when it is not distributed by its account column.';
REVOKE ALL ON FUNCTION csm_internal._usage_stage(integer) FROM PUBLIC;

-- Drops a source's staging table, after rewriting the view that reads it.
CREATE OR REPLACE FUNCTION csm_internal._usage_drop_stage(source integer) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_catalog.to_regclass(format('@extschema@.usage_stage_%s', source)) IS NOT NULL THEN
        PERFORM csm_internal._usage_staged_view(source);
        EXECUTE format('DROP TABLE @extschema@.usage_stage_%s', source);
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._usage_drop_stage(integer) IS
    'Citus: drops the staging table of a source, if it has one.';
REVOKE ALL ON FUNCTION csm_internal._usage_drop_stage(integer) FROM PUBLIC;

-- Moves the staged deltas into csm_internal.usage_delta (creating the accounts of
-- sources that create them) or, for keys with no account, csm_internal.usage_pending,
-- where compact_usage() goes on with them. On the coordinator, under the fold
-- lock.
CREATE OR REPLACE FUNCTION csm_internal._usage_unstage() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    keys text[];
    days date[];
    users text[];
    features text[];
    counts bigint[];
BEGIN
    -- Citus: csm.account (a reference table that distributed tables refer
    -- to) is written here, and at commit by csm's deferred triggers on it
    -- (lifecycle); Citus refuses that after a parallel multi-shard statement
    -- anywhere in the transaction, so the mode is set for the rest of the
    -- transaction, not only for this function (a SET clause would end with it).
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    FOR s IN
        SELECT u.source_id, u.create_accounts, c.oid::regclass AS stage
        FROM @extschema@.usage_source u
        JOIN pg_catalog.pg_class c ON c.relnamespace = '@extschema@'::regnamespace AND c.relname = 'usage_stage_' || u.source_id
        ORDER BY u.source_id
    LOOP
        EXECUTE format('WITH taken AS (DELETE FROM %s RETURNING account_key::text AS k, day, user_key, feature, events) '
                       'SELECT array_agg(k), array_agg(day), array_agg(user_key), array_agg(feature), array_agg(events) FROM taken',
                       s.stage)
        INTO keys, days, users, features, counts;
        CONTINUE WHEN keys IS NULL;
        IF s.create_accounts THEN
            EXECUTE 'INSERT INTO @extschema@.account (external_id)
                     SELECT DISTINCT k FROM pg_catalog.unnest($1) AS k ORDER BY 1
                     ON CONFLICT (external_id) DO NOTHING' USING keys;
        END IF;
        -- values, not parameters, reach Citus: each statement is planned with them
        EXECUTE 'INSERT INTO csm_internal.usage_delta (account_id, source_id, day, user_key, feature, events)
                 SELECT a.account_id, $1, t.day, t.user_key, t.feature, sum(t.events)
                 FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),
                                pg_catalog.unnest($5), pg_catalog.unnest($6)) AS t (k, day, user_key, feature, events)
                 JOIN @extschema@.account a ON a.external_id = t.k
                 GROUP BY a.account_id, t.day, t.user_key, t.feature
                 HAVING sum(t.events) <> 0'
        USING s.source_id, keys, days, users, features, counts;
        EXECUTE 'INSERT INTO csm_internal.usage_pending (source_id, account_key, day, user_key, feature, events)
                 SELECT $1, t.k, t.day, t.user_key, t.feature, sum(t.events)
                 FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),
                                pg_catalog.unnest($5), pg_catalog.unnest($6)) AS t (k, day, user_key, feature, events)
                 WHERE NOT EXISTS (SELECT 1 FROM @extschema@.account a WHERE a.external_id = t.k)
                 GROUP BY t.k, t.day, t.user_key, t.feature
                 HAVING sum(t.events) <> 0'
        USING s.source_id, keys, days, users, features, counts;
    END LOOP;
END $$;
COMMENT ON FUNCTION csm_internal._usage_unstage() IS
    'Citus: moves the deltas staged by distributed tables'' shards into csm_internal.usage_delta, creating the accounts of sources that create them, or into csm_internal.usage_pending for keys with no account. Called by compact_usage().';
REVOKE ALL ON FUNCTION csm_internal._usage_unstage() FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.distribute_usage(source regclass, colocate_with text DEFAULT 'default')
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s @extschema@.usage_source;
BEGIN
    IF pg_catalog.to_regproc('pg_catalog.citus_is_coordinator') IS NULL THEN
        RAISE EXCEPTION 'csm.distribute_usage() needs Citus'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'On a single node a tracked table needs nothing more.';
    END IF;
    IF csm_internal._usage_on_worker() THEN
        RAISE EXCEPTION 'csm.distribute_usage() must run on the Citus coordinator'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Connect to the coordinator and call it there.';
    END IF;
    SELECT * INTO s FROM @extschema@.usage_source u WHERE u.relation = source AND u.dropped_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', source
            USING ERRCODE = 'undefined_object',
                  HINT = 'Distribute it with create_distributed_table(), then call csm.track_usage().';
    END IF;
    IF csm_internal._usage_distribution_column(source) IS NULL THEN
        -- Citus refuses a table with triggers: they go while it copies the
        -- rows (counted already) into the shards and the coordinator's copy
        -- is emptied, and come back on the table and every shard after.
        PERFORM csm_internal._usage_drop_triggers(s.source_id, g.tgrelid)
        FROM (SELECT DISTINCT t.tgrelid FROM pg_catalog.pg_trigger t
              WHERE t.tgfoid = 'csm_internal._usage_rollup()'::regprocedure
                AND pg_catalog.split_part(pg_catalog.encode(t.tgargs, 'escape'), '\000', 1) = s.source_id::text) g;
        PERFORM pg_catalog.create_distributed_table(source, s.account_column, colocate_with => colocate_with);
        PERFORM pg_catalog.truncate_local_data_after_distributing_table(source);
        PERFORM csm_internal._usage_add_triggers(s, source);
        PERFORM csm_internal._usage_add_triggers(s, t.relid)
        FROM pg_catalog.pg_partition_tree(source) t WHERE t.relid <> source;
    END IF;
    RETURN csm_internal._usage_stage(s.source_id);
END $$;
COMMENT ON FUNCTION @extschema@.distribute_usage(regclass, text) IS
    'Citus: distributes a tracked table by its account column (create_distributed_table, which refuses a table with triggers), keeping its rollups, and makes its staging table. For a table distributed already, makes the staging table if it is missing. Returns the staging table.';

CREATE OR REPLACE FUNCTION @extschema@.track_usage(
    source regclass,
    account_column name,
    time_column name,
    event_column name DEFAULT NULL,
    user_column name DEFAULT NULL,
    create_accounts boolean DEFAULT true,
    keep_history boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_types  regtype[] := ARRAY['text', 'character varying', 'character', 'smallint', 'integer', 'bigint', 'uuid']::regtype[];
    time_types regtype[] := ARRAY['timestamp with time zone', 'timestamp without time zone', 'date']::regtype[];
    text_types regtype[] := ARRAY['text', 'character varying']::regtype[];
    new_id integer;
    tracked_name text;
    added @extschema@.usage_source;
BEGIN
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = source) NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', source
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Track a plain or partitioned table.';
    END IF;
    IF EXISTS (SELECT 1 FROM @extschema@.usage_source s WHERE s.relation = source) THEN
        RAISE EXCEPTION 'table % is already tracked', source
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Call csm.untrack_usage() first to change its columns.';
    END IF;
    PERFORM csm_internal._usage_column_type(source, account_column, 'account', key_types);
    PERFORM csm_internal._usage_column_type(source, time_column, 'time', time_types);
    IF event_column IS NOT NULL THEN
        PERFORM csm_internal._usage_column_type(source, event_column, 'event', text_types);
    END IF;
    IF user_column IS NOT NULL THEN
        PERFORM csm_internal._usage_column_type(source, user_column, 'user', key_types);
    END IF;
    -- Citus: a distributed table is rolled up on its shards, by account key;
    -- a table the workers do not have cannot be named in csm.usage_source,
    -- which is a reference table there
    IF csm_internal._usage_distribution_column(source) IS NULL
       AND pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL
       AND csm_internal._usage_on_cluster() THEN
        RAISE EXCEPTION 'table % is a local table on a Citus cluster', source
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'csm.usage_source is a reference table, and the workers do not have this table.',
                  HINT = format('Distribute it by its account column first: SELECT create_distributed_table(%L, %L); then track it.',
                                source, account_column);
    END IF;
    IF csm_internal._usage_distribution_column(source) <> account_column THEN
        RAISE EXCEPTION 'table % is distributed by column "%", not by its account column "%"',
                        source, csm_internal._usage_distribution_column(source), account_column
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'On Citus csm rolls usage up on the shards, which needs every row of an account on one shard.',
                  HINT = 'Track a table distributed by its account column.';
    END IF;

    tracked_name := csm_internal._usage_source_name(source);
    INSERT INTO @extschema@.usage_source (relation, account_column, time_column, event_column, user_column,
                                          create_accounts, keep_history, source_name)
    VALUES (source, account_column, time_column, event_column, user_column,
            coalesce(create_accounts, true), coalesce(keep_history, false), tracked_name)
    RETURNING source_id INTO new_id;

    -- The table and every partition it has (ddl_command_end adds later ones).
    SELECT * INTO added FROM @extschema@.usage_source u WHERE u.source_id = new_id;
    PERFORM csm_internal._usage_add_triggers(added, source);
    PERFORM csm_internal._usage_add_triggers(added, t.relid)
    FROM pg_catalog.pg_partition_tree(source) t WHERE t.relid <> source;
    PERFORM csm_internal._usage_stage(new_id);
    RETURN new_id;
END $$;
COMMENT ON FUNCTION @extschema@.track_usage(regclass, name, name, name, name, boolean, boolean) IS
    'Rolls up every INSERT, UPDATE, DELETE and TRUNCATE of a usage table into csm.usage_daily. Returns the source id. Rows already there need csm.backfill_usage(). keep_history keeps the rollups when the table is dropped.';

CREATE OR REPLACE FUNCTION @extschema@.untrack_usage(source regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id integer;
BEGIN
    SELECT s.source_id INTO id FROM @extschema@.usage_source s WHERE s.relation = source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', source
            USING ERRCODE = 'undefined_object',
                  HINT = 'See csm.usage_source for the tracked tables.';
    END IF;
    -- From the table and its partitions; a dropped table (kept for its
    -- history) has none left.
    PERFORM csm_internal._usage_drop_triggers(id, g.tgrelid)
    FROM (SELECT DISTINCT t.tgrelid FROM pg_catalog.pg_trigger t
          WHERE t.tgfoid = 'csm_internal._usage_rollup()'::regprocedure
            AND pg_catalog.split_part(pg_catalog.encode(t.tgargs, 'escape'), '\000', 1) = id::text) g;
    -- Rollups that can no longer be kept exact go with the source.
    PERFORM csm_internal._clear_usage(id);
    DELETE FROM @extschema@.usage_source WHERE source_id = id;
    PERFORM csm_internal._usage_drop_stage(id);
END $$;
COMMENT ON FUNCTION @extschema@.untrack_usage(regclass) IS
    'Removes the rollup triggers from a tracked table and deletes its rollups; also takes the oid of a dropped table whose source kept its history.';

-- Reads a tracked table for backfill_usage(): as the table's owner, in a
-- security-restricted operation, with the column types checked again.
CREATE OR REPLACE FUNCTION csm_internal._usage_rows(
    source regclass, account_column name, time_column name, event_column name, user_column name, from_day date)
RETURNS TABLE (account_key text, day date, feature text, user_key text)
AS 'MODULE_PATHNAME', 'csm_usage_rows'
LANGUAGE C STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION csm_internal._usage_rows(regclass, name, name, name, name, date) IS
    'The rows of a tracked table as the rollup trigger counts them (account key text, UTC day, feature, user) from from_day on; read as the table''s owner in a security-restricted operation. Used by backfill_usage().';
REVOKE ALL ON FUNCTION csm_internal._usage_rows(regclass, name, name, name, name, date) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.backfill_usage(source regclass, since timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s @extschema@.usage_source;
    from_day date;
    rows_counted bigint;
BEGIN
    -- Citus: csm.account (a reference table that distributed tables refer
    -- to) is written here, and at commit by csm's deferred triggers on it
    -- (lifecycle); Citus refuses that after a parallel multi-shard statement
    -- anywhere in the transaction, so the mode is set for the rest of the
    -- transaction, not only for this function (a SET clause would end with it).
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    SELECT * INTO s FROM @extschema@.usage_source u WHERE u.relation = source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not tracked', source
            USING ERRCODE = 'undefined_object',
                  HINT = 'Call csm.track_usage() first.';
    END IF;
    IF s.dropped_at IS NOT NULL OR NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = source) THEN
        RAISE EXCEPTION 'tracked table % was dropped', source
            USING ERRCODE = 'undefined_table',
                  HINT = 'Its rollups are kept as history; csm.untrack_usage() removes them.';
    END IF;
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = source) NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'tracked relation % is not a table', source
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Call csm.untrack_usage() for it.';
    END IF;
    -- SHARE mode blocks writers for the rebuild, so no row is counted twice or missed.
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', source);

    from_day := coalesce((since AT TIME ZONE 'UTC')::date, '-infinity'::date);

    PERFORM csm_internal._clear_usage(s.source_id, from_day);

    -- The rows to roll up, with the same key text and day the trigger uses,
    -- read as the table's owner (never with this caller's rights).
    CREATE TEMP TABLE csm_backfill ON COMMIT DROP AS
    SELECT * FROM csm_internal._usage_rows(source, s.account_column, s.time_column,
                                           s.event_column, s.user_column, from_day);
    GET DIAGNOSTICS rows_counted = ROW_COUNT;

    IF s.create_accounts THEN
        INSERT INTO @extschema@.account (external_id)
        SELECT DISTINCT b.account_key FROM csm_backfill b ORDER BY 1
        ON CONFLICT (external_id) DO NOTHING;
    END IF;
    -- Each key's account, read once: a key is either counted or pending,
    -- even if its account is created meanwhile.
    CREATE TEMP TABLE csm_backfill_key ON COMMIT DROP AS
    SELECT k.account_key, a.account_id
    FROM (SELECT DISTINCT b.account_key FROM csm_backfill b) k
    LEFT JOIN @extschema@.account a ON a.external_id = k.account_key;
    -- keys with no account wait, one row per group, as the trigger leaves them
    INSERT INTO csm_internal.usage_pending (source_id, account_key, day, user_key, feature, events)
    SELECT s.source_id, b.account_key, b.day, b.user_key, b.feature, count(*)
    FROM csm_backfill b JOIN csm_backfill_key a ON a.account_key = b.account_key AND a.account_id IS NULL
    GROUP BY b.account_key, b.day, b.user_key, b.feature;

    INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
    SELECT a.account_id, s.source_id, b.day, count(*),
           CASE WHEN s.user_column IS NOT NULL THEN count(DISTINCT b.user_key) END
    FROM csm_backfill b JOIN csm_backfill_key a ON a.account_key = b.account_key AND a.account_id IS NOT NULL
    GROUP BY a.account_id, b.day
;

    INSERT INTO csm_internal.usage_user_day (account_id, source_id, day, user_key, events)
    SELECT a.account_id, s.source_id, b.day, b.user_key, count(*)
    FROM csm_backfill b JOIN csm_backfill_key a ON a.account_key = b.account_key AND a.account_id IS NOT NULL
    WHERE b.user_key IS NOT NULL
    GROUP BY a.account_id, b.day, b.user_key;

    INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
    SELECT a.account_id, s.source_id, b.day, b.feature, count(*)
    FROM csm_backfill b JOIN csm_backfill_key a ON a.account_key = b.account_key AND a.account_id IS NOT NULL
    WHERE b.feature IS NOT NULL
    GROUP BY a.account_id, b.day, b.feature;

    DROP TABLE csm_backfill, csm_backfill_key;
    RETURN rows_counted;
END $$;
COMMENT ON FUNCTION @extschema@.backfill_usage(regclass, timestamptz) IS
    'Rebuilds the rollups of a tracked table from its rows, for UTC days from since on (all days when NULL). Idempotent: nothing is counted twice. Returns the rows counted.';

-- DROP TABLE of a tracked table: its rollups can no longer be kept exact,
-- so they go with it, unless the source keeps its history. SECURITY DEFINER
-- because the role dropping its own table needs no rights on csm.
CREATE OR REPLACE FUNCTION csm_internal._usage_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
BEGIN
    -- Citus replays a drop on the workers; the coordinator follows it
    IF csm_internal._usage_on_worker() THEN
        RETURN;
    END IF;
    FOR s IN
        SELECT u.source_id, u.keep_history
        FROM @extschema@.usage_source u
        WHERE u.dropped_at IS NULL
          AND u.relation::oid IN (SELECT d.objid FROM pg_catalog.pg_event_trigger_dropped_objects() d
                                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0)
        ORDER BY u.source_id
    LOOP
        IF s.keep_history THEN
            UPDATE @extschema@.usage_source SET dropped_at = now() WHERE source_id = s.source_id;
        ELSE
            PERFORM csm_internal._clear_usage(s.source_id);
            DELETE FROM @extschema@.usage_source WHERE source_id = s.source_id;
            PERFORM csm_internal._usage_drop_stage(s.source_id);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION csm_internal._usage_dropped() IS
    'sql_drop event trigger: a dropped tracked table takes its usage_source row and rollups with it, unless keep_history is set (then dropped_at is).';
REVOKE ALL ON FUNCTION csm_internal._usage_dropped() FROM PUBLIC;
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger e WHERE e.evtname OPERATOR(pg_catalog.=) 'csm_usage_dropped') THEN
        CREATE EVENT TRIGGER csm_usage_dropped ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP EXTENSION')
    EXECUTE FUNCTION csm_internal._usage_dropped();
    END IF;
END $rerunnable$;
COMMENT ON EVENT TRIGGER csm_usage_dropped IS
    'Cleans up csm.usage_source and the rollups of tracked tables that are dropped.';

-- Adds (sign 1) or takes out (sign -1) the rows of a table, as deltas:
-- a partition attached to or detached from a tracked table.
CREATE OR REPLACE FUNCTION csm_internal._usage_count_rows(s @extschema@.usage_source, rel regclass, sign integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF s.create_accounts AND sign > 0 THEN
        INSERT INTO @extschema@.account (external_id)
        SELECT DISTINCT r.account_key
        FROM csm_internal._usage_rows(rel, s.account_column, s.time_column, s.event_column, s.user_column, NULL) r
        ORDER BY 1
        ON CONFLICT (external_id) DO NOTHING;
    END IF;
    WITH grouped AS (
        SELECT r.account_key, r.day, r.user_key, r.feature, sign * count(*) AS events
        FROM csm_internal._usage_rows(rel, s.account_column, s.time_column, s.event_column, s.user_column, NULL) r
        GROUP BY r.account_key, r.day, r.user_key, r.feature
    ), keyed AS (
        SELECT g.*, a.account_id
        FROM grouped g LEFT JOIN @extschema@.account a ON a.external_id = g.account_key
    ), pending AS (
        INSERT INTO csm_internal.usage_pending (source_id, account_key, day, user_key, feature, events)
        SELECT s.source_id, k.account_key, k.day, k.user_key, k.feature, k.events
        FROM keyed k WHERE k.account_id IS NULL
    )
    INSERT INTO csm_internal.usage_delta (account_id, source_id, day, user_key, feature, events)
    SELECT k.account_id, s.source_id, k.day, k.user_key, k.feature, k.events
    FROM keyed k WHERE k.account_id IS NOT NULL;
END $$;
COMMENT ON FUNCTION csm_internal._usage_count_rows(@extschema@.usage_source, regclass, integer) IS
    'Adds a table''s rows to a source''s rollups (sign 1) or takes them out (sign -1), as pending deltas; for partitions attached or detached.';
REVOKE ALL ON FUNCTION csm_internal._usage_count_rows(@extschema@.usage_source, regclass, integer) FROM PUBLIC;

-- Keeps every partition of a tracked table counted: a partition created
-- later gets the rollup triggers; one attached later gets them and its rows
-- are counted; a detached one loses them and its rows are taken out. During
-- a restore csm.usage_source is still empty when tables are created and
-- attached, so this does nothing then (the dump has the triggers).
CREATE OR REPLACE FUNCTION csm_internal._usage_partition_changed(rel oid, change text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s @extschema@.usage_source;
BEGIN
    -- Citus replays DDL on the workers; the coordinator follows it
    IF csm_internal._usage_on_worker() THEN
        RETURN;
    END IF;
    IF change IN ('created', 'attached') THEN
        FOR s IN
            SELECT u.* FROM @extschema@.usage_source u
            WHERE u.dropped_at IS NULL
              AND u.relation::oid IN (SELECT a.relid FROM pg_catalog.pg_partition_ancestors(rel) a WHERE a.relid <> rel)
            ORDER BY u.source_id
        LOOP
            -- the partition and, if it is partitioned itself, its partitions
            PERFORM csm_internal._usage_add_triggers(s, t.relid) FROM pg_catalog.pg_partition_tree(rel) t;
            PERFORM csm_internal._usage_add_triggers(s, rel) WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_partition_tree(rel));
            IF change = 'attached' THEN
                PERFORM csm_internal._usage_count_rows(s, rel, 1);
            END IF;
        END LOOP;
    ELSIF change = 'detached' THEN
        FOR s IN
            SELECT u.* FROM @extschema@.usage_source u
            WHERE u.dropped_at IS NULL AND u.relation::oid <> rel
              AND u.source_id::text IN (
                  SELECT pg_catalog.split_part(pg_catalog.encode(g.tgargs, 'escape'), '\000', 1)
                  FROM pg_catalog.pg_trigger g
                  WHERE g.tgrelid = rel AND g.tgfoid = 'csm_internal._usage_rollup()'::regprocedure)
            ORDER BY u.source_id
        LOOP
            PERFORM csm_internal._usage_drop_triggers(s.source_id, t.relid) FROM pg_catalog.pg_partition_tree(rel) t;
            PERFORM csm_internal._usage_drop_triggers(s.source_id, rel) WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_partition_tree(rel));
            PERFORM csm_internal._usage_count_rows(s, rel, -1);
        END LOOP;
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._usage_partition_changed(oid, text) IS
    'Follows a table created (as a partition), attached or detached: a partition of a tracked table gets its rollup triggers and rows, a detached one loses them.';
REVOKE ALL ON FUNCTION csm_internal._usage_partition_changed(oid, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION csm_internal._usage_ddl() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'csm_usage_ddl'
LANGUAGE C;
COMMENT ON FUNCTION csm_internal._usage_ddl() IS
    'ddl_command_end event trigger: hands tables created and partitions attached or detached to csm_internal._usage_partition_changed().';
REVOKE ALL ON FUNCTION csm_internal._usage_ddl() FROM PUBLIC;
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger e WHERE e.evtname OPERATOR(pg_catalog.=) 'csm_usage_partitions') THEN
        CREATE EVENT TRIGGER csm_usage_partitions ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION csm_internal._usage_ddl();
    END IF;
END $rerunnable$;
COMMENT ON EVENT TRIGGER csm_usage_partitions IS
    'Keeps the partitions of tracked partitioned tables counted as they are created, attached and detached.';

-- ALTER TABLE ... RENAME or SET SCHEMA, ALTER SCHEMA ... RENAME: a tracked
-- table's source_name (csm.usage_daily.source) follows its new name.
-- csm.usage_source is small: one UPDATE of the names that changed.
-- SECURITY DEFINER because the role renaming its own table needs no rights
-- on csm.
CREATE OR REPLACE FUNCTION csm_internal._usage_renamed() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s record;
    current_name text;
BEGIN
    -- Citus replays the command on the workers; the coordinator's row is the one
    IF csm_internal._usage_on_worker() THEN
        RETURN;
    END IF;
    -- a write only for a name that changed
    FOR s IN SELECT u.source_id, u.relation::oid AS relid, u.source_name
             FROM @extschema@.usage_source u WHERE u.dropped_at IS NULL LOOP
        current_name := csm_internal._usage_source_name(s.relid);
        IF current_name IS NOT NULL AND current_name IS DISTINCT FROM s.source_name THEN
            UPDATE @extschema@.usage_source SET source_name = current_name WHERE source_id = s.source_id;
        END IF;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION csm_internal._usage_renamed() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._usage_renamed() IS
    'ddl_command_end event trigger: a tracked table renamed or moved to another schema (or its schema renamed) keeps csm.usage_source.source_name, and so csm.usage_daily.source, up to date.';
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'csm_usage_renamed') THEN
        CREATE EVENT TRIGGER csm_usage_renamed ON ddl_command_end
            WHEN TAG IN ('ALTER TABLE', 'ALTER SCHEMA')
            EXECUTE FUNCTION csm_internal._usage_renamed();
    END IF;
END $$;
COMMENT ON EVENT TRIGGER csm_usage_renamed IS
    'Keeps the names of tracked tables (csm.usage_daily.source) current when a table or its schema is renamed.';

REVOKE ALL ON FUNCTION @extschema@.track_usage(regclass, name, name, name, name, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.untrack_usage(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.backfill_usage(regclass, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.distribute_usage(regclass, text) FROM PUBLIC;
