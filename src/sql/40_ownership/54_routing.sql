-- Applying routing rules: csm_auto_assign (one account, the first rule that
-- matches), csm.apply_routing (the hook triggers and other features fire),
-- and handing off the book of a member who leaves.

-- What conditions read about an account (csm.routing_facts) is defined in
-- 40_ownership/76_routing_facts.sql, after the features it reads.

-- Records that an account could not get a primary, once per wait.
CREATE OR REPLACE FUNCTION csm_internal._queue_account(account bigint, kind text, message text, rule bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO @extschema@.assignment_alert (account_id, kind, message, rule_id)
    VALUES (account, kind, message, rule)
    ON CONFLICT (account_id) WHERE resolved_at IS NULL DO NOTHING;
    IF FOUND THEN
        INSERT INTO @extschema@.assignment_log (account_id, action, is_primary, reason, rule_id)
        VALUES (account, 'queue', true, message, rule);
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._queue_account(bigint, text, text, bigint) IS
    'Internal: puts an account in the unassigned queue with an alert and a log row (once while it waits).';

-- Applies one rule to one account: continuity first, then a member picked
-- by the rule's strategy, or the queue.  In C (src/assign.c): it is the
-- hot path of csm_auto_assign.
CREATE OR REPLACE FUNCTION csm_internal._apply_rule(account bigint, rule @extschema@.routing_rule)
RETURNS @extschema@.assignment_result
AS 'MODULE_PATHNAME', 'csm_apply_rule'
LANGUAGE C STRICT
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION csm_internal._apply_rule(bigint, @extschema@.routing_rule) IS
    'Internal: applies one routing rule to one account (continuity, pick, or the queue).';

-- In C (src/assign.c): applications call it once per account.
CREATE OR REPLACE FUNCTION @extschema@.csm_auto_assign(org_user_id text, pool text DEFAULT NULL)
RETURNS @extschema@.assignment_result
AS 'MODULE_PATHNAME', 'csm_auto_assign'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.csm_auto_assign(text, text) IS
    'Assigns an account by the first enabled routing rule (priority order) whose condition matches, among the rules targeting team pool when given (a pool without rules: least loaded primary among its members). Returns the csm_assign row; assignment_success false with a message when nobody is eligible (the account is queued with an alert) or continuity holds the owner. Errors: P0002 unknown account, 22004 NULL org_user_id.';

-- The hook: applies to each account the first matching primary rule and
-- every matching secondary rule.  Triggers on csm.account fire it; health
-- and churn refreshes fire it for accounts whose facts changed.
-- The work is csm_internal._route's: the triggers on csm.account call it as csm's
-- owner, so that any role allowed to insert an account (or an event) has it
-- routed; csm.apply_routing, the API, first checks the caller's level.
CREATE OR REPLACE FUNCTION csm_internal._route(accounts bigint[], reading text[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, rule text, assignment_success boolean, assigned_csm text, is_primary boolean,
               message text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    account bigint;
    facts jsonb;
    r @extschema@.routing_rule;
    primary_done boolean;
    res @extschema@.assignment_result;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.routing_rule x WHERE x.enabled) THEN
        RETURN;
    END IF;
    -- Several accounts: all of them locked first, in order, then the batch
    -- lock, so that the picks are as fair as one at a time and no two
    -- transactions wait for each other (the order is in src/assign.c).
    -- (On Citus, the lock of csm_internal._lock_ownership() first, standing for the accounts'.)
    IF (SELECT count(DISTINCT a) FROM unnest(accounts) a) > 1 THEN
        IF NOT csm_internal._lock_ownership() THEN
            PERFORM 1 FROM @extschema@.account x WHERE x.account_id = ANY (accounts) ORDER BY x.account_id FOR NO KEY UPDATE;
        END IF;
        PERFORM csm_internal._begin_batch();
    END IF;
    FOR account IN SELECT DISTINCT a FROM unnest(accounts) a WHERE a IS NOT NULL ORDER BY a LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM @extschema@.account x WHERE x.account_id = account AND x.status = 'active');
        facts := @extschema@.routing_facts(account);
        primary_done := false;
        FOR r IN SELECT * FROM @extschema@.routing_rule x WHERE x.enabled ORDER BY x.priority, x.rule_id LOOP
            CONTINUE WHEN r.is_primary AND primary_done;
            CONTINUE WHEN r.condition IS NOT NULL AND @extschema@.condition_matches(r.condition, facts) IS NOT TRUE;
            primary_done := primary_done OR r.is_primary;
            -- After a change of some facts, only a rule that reads them applies;
            -- a primary rule still has to be the first that matches.
            CONTINUE WHEN reading IS NOT NULL
                AND (r.condition IS NULL OR NOT @extschema@.condition_attributes(r.condition) && reading);
            res := csm_internal._apply_rule(account, r);
            account_id := account;
            rule := r.name;
            assignment_success := res.assignment_success;
            assigned_csm := res.assigned_csm;
            is_primary := res.is_primary;
            message := res.message;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END $$;
COMMENT ON FUNCTION csm_internal._route(bigint[], text[]) IS
    'Internal: csm.apply_routing without the level check, for csm''s triggers.';

CREATE OR REPLACE FUNCTION @extschema@.apply_routing(accounts bigint[], reading text[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, rule text, assignment_success boolean, assigned_csm text, is_primary boolean,
               message text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM csm_internal._require('operate');
    RETURN QUERY SELECT r.* FROM csm_internal._route(accounts, reading) r;
END $$;
COMMENT ON FUNCTION @extschema@.apply_routing(bigint[], text[]) IS
    'Applies the routing rules to these accounts: the first matching primary rule and every matching secondary rule. With reading (the facts that changed, such as {health_band,health_score}), only those of them whose condition reads one of these facts: a health change never moves a primary that a rule about segments made. Fired by triggers when an account is created or its plan, segment or tier changes (all rules), and by health refreshes and overrides (rules reading health). Returns one row per rule applied. Errors: 42501 without the operate level (csm.grant_access).';

-- On Citus, csm.account is a reference table and this fires on each node's
-- copy; it routes once, from the copy of the node the statement was run
-- from (csm_internal._origin(): the coordinator's copy, changed in the session's own
-- backend, where distributed queries may run), and reads the transition
-- tables into an array before any query on Citus's tables.
CREATE OR REPLACE FUNCTION csm_internal._route_new_accounts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- (csm_lifecycle.writing: csm's own write of lifecycle_stage alone, which routing facts
    -- plan, segment, tier and status do not see; the lifecycle refresh routes the accounts that moved)
    IF current_setting('csm_lifecycle.writing', true) = 'on' OR NOT csm_internal._origin() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- On Citus new accounts are routed at commit instead
        -- (csm_internal._new_accounts_at_commit, 95_platform/96_new_accounts.sql).
        IF csm_internal._new_accounts_deferred(TG_RELID) THEN
            RETURN NULL;
        END IF;
        -- An account that arrives with a created_at from before this
        -- transaction is history: a restore, which loads accounts before
        -- their assignments (whatever its settings), or an import.  It is
        -- kept as it is; csm.apply_routing routes it on request.
        PERFORM csm_internal._route(ARRAY(SELECT n.account_id FROM new_accounts n
                                         WHERE n.created_at >= pg_catalog.now()));
    ELSE
        PERFORM csm_internal._route(ARRAY(
            SELECT n.account_id FROM new_accounts n JOIN old_accounts o ON o.account_id = n.account_id
            WHERE (n.plan, n.segment, n.tier, n.status) IS DISTINCT FROM (o.plan, o.segment, o.tier, o.status)));
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._route_new_accounts() IS
    'Trigger: applies the routing rules to accounts created (those inserted with a created_at before the transaction, a restore or an import of history, are left as they are), or whose plan, segment, tier or status changed.';
CREATE OR REPLACE TRIGGER account_route_new AFTER INSERT ON @extschema@.account
    REFERENCING NEW TABLE AS new_accounts FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._route_new_accounts();
CREATE OR REPLACE TRIGGER account_route_changed AFTER UPDATE ON @extschema@.account
    REFERENCING OLD TABLE AS old_accounts NEW TABLE AS new_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._route_new_accounts();

-- On Citus, the lock rows of new members are made when their transaction
-- commits.  Citus changes the coordinator's copy of a reference table after
-- the workers' for an UPDATE, a DELETE or an INSERT ... VALUES, so the
-- statement triggers above find Citus's connections free; but it loads the
-- copies of an INSERT ... SELECT or a COPY at the same time, and a trigger
-- on the coordinator's copy cannot query the workers then.  A deferred
-- trigger fires at commit, before Citus commits on the workers: the
-- coordinator's does the work (csm_internal._origin()), the workers' do
-- nothing.  (New accounts are routed the same way, with their other
-- first steps: 95_platform/96_new_accounts.sql.)
CREATE OR REPLACE FUNCTION csm_internal._member_lock_row_deferred() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF csm_internal._origin() THEN
        INSERT INTO csm_internal.member_lock (member_id) VALUES (NEW.member_id) ON CONFLICT (member_id) DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._member_lock_row_deferred() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._member_lock_row_deferred() IS
    'Trigger, on Citus (csm.distribute() adds it): makes the assignment lock row of a member created in this transaction, at commit, once.';

-- Called by csm.distribute(); idempotent (see csm_internal._member_lock_row
-- in 50_ownership.sql for the form of one node).
CREATE OR REPLACE FUNCTION csm_internal._distribute_ownership() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = '@extschema@.team_member'::regclass
                                               AND t.tgname = 'team_member_lock_row_deferred') THEN
        CREATE CONSTRAINT TRIGGER team_member_lock_row_deferred AFTER INSERT ON @extschema@.team_member
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION csm_internal._member_lock_row_deferred();
    END IF;
END $$;
REVOKE ALL ON FUNCTION csm_internal._distribute_ownership() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._distribute_ownership() IS
    'Internal, for csm.distribute(): adds the deferred trigger that, on Citus, makes new members'' lock rows at commit (team_member_lock_row_deferred).';

-- A member who leaves hands each account over, least loaded, to an active
-- member of one of their teams (or of one of their roles, when they have no
-- team), or the account waits in the queue.
CREATE OR REPLACE FUNCTION @extschema@.release_member(handle text, reason text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    leaver @extschema@.team_member;
    why text := coalesce(reason, format('%s left', handle));
    rel @extschema@.account_assignment;
    pool bigint[];
    picked bigint;
    book bigint[];
    candidates bigint[];
    moved integer := 0;
BEGIN
    PERFORM csm_internal._require('admin');
    leaver := csm_internal._member(handle);
    -- The leaver's row first (the deactivating UPDATE holds it already):
    -- nobody adds to their book while it is held, and additions in flight
    -- are waited for.  Then every account of the book, in order, then the
    -- batch lock, then members (the order is in src/assign.c).
    -- (On Citus, the lock of csm_internal._lock_ownership() instead of all of these.)
    IF NOT csm_internal._lock_ownership() THEN
        PERFORM 1 FROM @extschema@.team_member m WHERE m.member_id = leaver.member_id FOR NO KEY UPDATE;
        book := ARRAY(SELECT x.account_id FROM @extschema@.account_assignment x
                      WHERE x.member_id = leaver.member_id AND x.ended_at IS NULL);
        PERFORM 1 FROM @extschema@.account a WHERE a.account_id = ANY (book)
        ORDER BY a.account_id FOR NO KEY UPDATE;
    END IF;
    PERFORM csm_internal._begin_batch();
    pool := ARRAY(SELECT m.member_id FROM @extschema@.team_member m
                  WHERE m.active AND m.member_id <> leaver.member_id
                    AND CASE WHEN cardinality(leaver.teams) > 0 THEN m.teams && leaver.teams ELSE m.roles && leaver.roles END);
    LOOP
        FOR rel IN SELECT * FROM @extschema@.account_assignment x
                   WHERE x.member_id = leaver.member_id AND x.ended_at IS NULL ORDER BY x.account_id LOOP
            PERFORM csm_internal._lock_account(rel.account_id);
            CONTINUE WHEN NOT EXISTS (SELECT 1 FROM @extschema@.account_assignment x
                                      WHERE x.account_id = rel.account_id AND x.assignment_id = rel.assignment_id
                                        AND x.ended_at IS NULL);
            PERFORM csm_internal._end_assignment(rel.account_id, rel.assignment_id, why);
            -- (the candidates first: on Citus a pick in the same statement
            -- as the read of the account's shard would run on its worker)
            candidates := ARRAY(SELECT c FROM unnest(pool) c
                                WHERE NOT EXISTS (SELECT 1 FROM @extschema@.account_assignment x
                                                  WHERE x.account_id = rel.account_id AND x.member_id = c AND x.ended_at IS NULL));
            picked := csm_internal._pick_member(candidates, 'least_loaded', rel.load);
            IF picked IS NOT NULL THEN
                PERFORM csm_internal._start_assignment(rel.account_id, picked, rel.is_primary, rel.load, why, NULL,
                                                      'handoff', leaver.member_id);
            ELSE
                INSERT INTO @extschema@.assignment_log (account_id, action, is_primary, old_member_id, reason)
                VALUES (rel.account_id, 'handoff', rel.is_primary, leaver.member_id, why || '; nobody has room');
                IF rel.is_primary THEN
                    PERFORM csm_internal._queue_account(rel.account_id,
                                                       CASE WHEN cardinality(pool) = 0 THEN 'no_member' ELSE 'no_capacity' END,
                                                       format('%s; nobody in their teams has room', why), NULL);
                END IF;
            END IF;
            moved := moved + 1;
        END LOOP;
        -- Wait out assignments to the leaver still in flight, then look again.
        PERFORM csm_internal._lock_member(leaver.member_id);
        EXIT WHEN NOT EXISTS (SELECT 1 FROM @extschema@.account_assignment x
                              WHERE x.member_id = leaver.member_id AND x.ended_at IS NULL);
    END LOOP;
    RETURN moved;
END $$;
COMMENT ON FUNCTION @extschema@.release_member(text, text) IS
    'Hands every account of a member over (handoff, logged per account): least loaded among active members sharing a team (or a role, when they have none), else the unassigned queue with an alert. Called by the trigger when a member becomes inactive; callable directly (for example by Citus users, or before a leave). Returns the relationships moved. Errors: P0002 unknown member, 42501 without the admin level (csm.grant_access).';

CREATE OR REPLACE FUNCTION csm_internal._member_left() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    leavers text[];
    books bigint[];
BEGIN
    -- On Citus, once, from the node the statement was run from (see
    -- csm_internal._route_new_accounts), with the transition tables read first.
    IF NOT csm_internal._origin() THEN
        RETURN NULL;
    END IF;
    leavers := ARRAY(SELECT n.handle FROM new_members n JOIN old_members o ON o.member_id = n.member_id
                     WHERE o.active AND NOT n.active ORDER BY n.member_id);
    IF cardinality(leavers) = 0 THEN
        RETURN NULL;
    END IF;
    -- The books of every leaver, locked in one order before any handoff.
    -- (On Citus, the lock of csm_internal._lock_ownership() instead.)
    IF NOT csm_internal._lock_ownership() THEN
        books := ARRAY(SELECT x.account_id FROM @extschema@.account_assignment x JOIN @extschema@.team_member m ON m.member_id = x.member_id
                       WHERE m.handle = ANY (leavers) AND x.ended_at IS NULL);
        PERFORM 1 FROM @extschema@.account a WHERE a.account_id = ANY (books)
        ORDER BY a.account_id FOR NO KEY UPDATE;
    END IF;
    PERFORM @extschema@.release_member(l) FROM unnest(leavers) l;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._member_left() IS 'Trigger: members who become inactive hand their book over (csm.release_member).';
CREATE OR REPLACE TRIGGER team_member_left AFTER UPDATE ON @extschema@.team_member
    REFERENCING OLD TABLE AS old_members NEW TABLE AS new_members
    FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._member_left();

-- Accounts waiting for a primary get one when members gain room.
CREATE OR REPLACE FUNCTION @extschema@.assign_queued() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    account bigint;
    waiting bigint[];
    assigned integer := 0;
BEGIN
    PERFORM csm_internal._require('operate');
    -- The waiting accounts first, in order, then the batch lock (the order
    -- is in src/assign.c).
    IF NOT csm_internal._lock_ownership() THEN
        waiting := ARRAY(SELECT q.account_id FROM @extschema@.unassigned_queue q);
        PERFORM 1 FROM @extschema@.account a WHERE a.account_id = ANY (waiting)
        ORDER BY a.account_id FOR NO KEY UPDATE;
    END IF;
    IF FOUND THEN
        PERFORM csm_internal._begin_batch();
    END IF;
    FOR account IN SELECT q.account_id FROM @extschema@.unassigned_queue q ORDER BY q.queued_at, q.account_id LOOP
        SELECT assigned + count(*) FILTER (WHERE r.assignment_success AND r.is_primary) INTO assigned
        FROM csm_internal._route(ARRAY[account]) r;
    END LOOP;
    RETURN assigned;
END $$;
COMMENT ON FUNCTION @extschema@.assign_queued() IS
    'Routes the accounts of csm.unassigned_queue, oldest first; returns how many got a primary. Schedule it with pg_cron, or call it after adding members or capacity. Errors: 42501 without the operate level (csm.grant_access).';
