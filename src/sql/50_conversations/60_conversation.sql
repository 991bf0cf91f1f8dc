
CREATE OR REPLACE FUNCTION csm_internal._support_team(team text) RETURNS @extschema@.support_team
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cfg @extschema@.support_team;
BEGIN
    SELECT * INTO cfg FROM @extschema@.support_team s WHERE s.team = _support_team.team;
    IF NOT FOUND THEN
        -- The column defaults of csm.support_team.
        cfg := ROW(team, 'round_robin', NULL, 'reassign', interval '10 minutes', true, NULL, true);
    END IF;
    RETURN cfg;
END $$;
COMMENT ON FUNCTION csm_internal._support_team(text) IS 'Internal: a team''s routing settings, the defaults when it has no csm.support_team row.';

-- The queue lock of a team: its csm_internal.lock_row ('queue', team), a row of
-- csm's own table (an advisory lock, which any role may take, would let a
-- role without rights on csm stall a team's routing).
CREATE OR REPLACE FUNCTION csm_internal._lock_queue(team text, exclusive boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF csm_internal._is_distributed('@extschema@.conversation') THEN
        -- Citus: one lock for all routing (see the top of this file).
        PERFORM csm_internal._lock_row('conversation', 'settle', true);
    ELSE
        PERFORM csm_internal._lock_row('queue', team, exclusive);
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._lock_queue(text, boolean) IS
    'Internal: takes a team''s queue lock (its csm_internal.lock_row row) until commit, exclusive to leave a conversation waiting, shared to serve the queue; on a Citus cluster, the one lock of all conversation routing.';

-- The pick itself, on one node: in C beside the accounts' (src/assign.c),
-- one mechanism for both.  Candidates in order (round robin: pick_seq;
-- balanced: open conversations, then pick_seq); the first whose
-- csm_internal.agent_load row it locks without waiting and who, read again under
-- the lock, still qualifies and ranks no worse than the best (agents other
-- sessions are assigning to count one more) is taken, and stays locked
-- until commit.  When others hold every agent with room, a patient pick by
-- a transaction that holds no row lock yet waits for one of them (a lock
-- wait: their commit wakes it) and reads again; any other pick takes
-- whoever has room and is free now, or nobody.
CREATE OR REPLACE FUNCTION csm_internal._pick_agent_locked(team text, except_member bigint, skills text[], balanced boolean,
                                               conversation_limit integer, team_full bigint[],
                                               per_agent_limit integer, count_pending boolean, patient boolean)
RETURNS bigint
AS 'MODULE_PATHNAME', 'csm_pick_agent_locked'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION csm_internal._pick_agent_locked(text, bigint, text[], boolean, integer, bigint[], integer, boolean, boolean) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._pick_agent_locked(text, bigint, text[], boolean, integer, bigint[], integer, boolean, boolean) IS
    'Internal, one node: picks and locks (its csm_internal.agent_load row, until commit) the online, active agent of the team, not except_member, with the skills, not in team_full, under their limit (theirs, else conversation_limit) and the team''s per_agent_limit, who is next (balanced: fewest open, then pick_seq; else pick_seq); a patient pick holding no row lock waits for a busy agent rather than pass them over. NULL when nobody is available, or an argument but except_member, conversation_limit or per_agent_limit is NULL.';

-- Which available agent of the team gets the next conversation: online,
-- active, in the team and under their limit; round robin by pick_seq, or
-- balanced by open conversations and then pick_seq.  Agents another session
-- is assigning to right now are waited for by a patient pick that may wait
-- (see csm_internal._pick_agent_locked), else skipped.  The agent returned is
-- locked until commit.  NULL when nobody is available.  With the skills
-- strategy only agents whose skills contain the conversation's required
-- skills count, least loaded first; a manual-only team (auto_assign false)
-- never picks.
CREATE OR REPLACE FUNCTION csm_internal._pick_agent(team text, except_member bigint, patient boolean,
                                        skills text[] DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cfg @extschema@.support_team := csm_internal._support_team(team);
    by_skills boolean := cfg.strategy = 'skills';
    balanced boolean := cfg.strategy IN ('balanced', 'skills');
    wanted text[] := CASE WHEN by_skills THEN coalesce(skills, '{}') ELSE '{}' END;
    team_full bigint[] := '{}';
    picked bigint;
    missing bigint[];
BEGIN
    IF NOT cfg.auto_assign THEN
        RETURN NULL;
    END IF;
    -- The team's own per-agent limit: agents who hold that many of its
    -- conversations are left out.
    IF cfg.per_agent_limit IS NOT NULL THEN
        team_full := csm_internal._team_full_agents(team, cfg.per_agent_limit, cfg.count_pending);
    END IF;
    -- Agents inserted already online get their row (a probe once all have
    -- one; until the session making a row commits, others wait for it).
    -- (The ids first: on Citus an INSERT ... SELECT from team_member would
    -- lock all of team_member, which a session changing an agent holds.)
    missing := ARRAY(SELECT m.member_id FROM @extschema@.team_member m
                     WHERE _pick_agent.team = ANY (m.teams) AND m.active AND m.status = 'online'
                       AND NOT EXISTS (SELECT 1 FROM csm_internal.agent_load l WHERE l.member_id = m.member_id));
    IF cardinality(missing) > 0 THEN
        INSERT INTO csm_internal.agent_load (member_id) SELECT unnest(missing) ON CONFLICT (member_id) DO NOTHING;
    END IF;
    IF csm_internal._is_distributed('@extschema@.conversation') THEN
        -- Citus: every count changes under the settle lock, which the caller
        -- holds, so no row lock; and Citus would lock all of team_member for
        -- a FOR UPDATE joined with it (see csm_internal._distribute_conversations()).
        SELECT l.member_id INTO picked
        FROM csm_internal.agent_load l
        JOIN @extschema@.team_member m ON m.member_id = l.member_id
        WHERE _pick_agent.team = ANY (m.teams) AND m.active AND m.status = 'online'
          AND l.member_id IS DISTINCT FROM except_member AND m.skills @> wanted AND NOT l.member_id = ANY (team_full)
          AND l.open_count < coalesce(m.conversation_limit, cfg.conversation_limit, 2147483647)
        ORDER BY CASE WHEN balanced THEN l.open_count END, l.pick_seq, l.member_id
        LIMIT 1;
        RETURN picked;
    END IF;
    -- One node: as accounts are picked (src/assign.c), each agent's
    -- csm_internal.agent_load row their lock.
    RETURN csm_internal._pick_agent_locked(team, except_member, wanted, balanced, cfg.conversation_limit, team_full,
                                          cfg.per_agent_limit, cfg.count_pending, patient);
END $$;
COMMENT ON FUNCTION csm_internal._pick_agent(text, bigint, boolean, text[]) IS
    'Internal: picks and locks the available agent of a team who gets the next conversation (round_robin, balanced, or skills: whose skills contain the given ones, least loaded), never except_member; NULL when nobody is available or the team is manual only (auto_assign false).';

-- One more open conversation for an agent.  enforce checks that the agent
-- is active and under their limit (every move by hand does; a pick already
-- has); over_limit, an explicit override by hand, skips the limit only.
CREATE OR REPLACE FUNCTION csm_internal._take_agent(member bigint, team text, enforce boolean,
                                        over_limit boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m @extschema@.team_member;
    lim integer;
    team_lim integer;
    distributed boolean;
    held integer;
    seq bigint;
BEGIN
    SELECT * INTO m FROM @extschema@.team_member t WHERE t.member_id = member;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'team member % does not exist', member
            USING ERRCODE = 'foreign_key_violation', HINT = 'See csm.team_member for the members.';
    END IF;
    IF enforce THEN
        IF NOT m.active THEN
            RAISE EXCEPTION 'team member "%" is inactive', m.handle
                USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Assign the conversation to an active member.';
        END IF;
        IF NOT over_limit THEN
            lim := coalesce(m.conversation_limit, (csm_internal._support_team(team)).conversation_limit);
            team_lim := (csm_internal._support_team(team)).per_agent_limit;
        END IF;
    END IF;
    -- The team's per-agent limit.  On a single node the conversation is
    -- not written yet, and the agent is locked first so that the count is
    -- final; on Citus the coordinator counts under the routing lock after
    -- the shards wrote it, so it counts itself.
    IF team_lim IS NOT NULL THEN
        distributed := csm_internal._is_distributed('@extschema@.conversation');
        IF NOT distributed THEN
            PERFORM FROM csm_internal.agent_load l WHERE l.member_id = member FOR UPDATE;
        END IF;
        held := csm_internal._team_count(member, team, (csm_internal._support_team(team)).count_pending)
                - CASE WHEN distributed THEN 1 ELSE 0 END;
        IF held >= team_lim THEN
            RAISE EXCEPTION 'team member "%" is at team %''s limit (% of % open)', m.handle, team, held, team_lim
                USING ERRCODE = 'check_violation',
                      HINT = 'Raise the team''s per_agent_limit, resolve one of their conversations in it, or give a reason starting with "override".';
        END IF;
    END IF;
    -- Drawn here, not in the UPDATE: Citus refuses volatile functions in an
    -- UPDATE of a reference table.
    seq := nextval('csm_internal.agent_pick_seq');
    LOOP
        UPDATE csm_internal.agent_load l
        SET open_count = l.open_count + 1, pick_seq = seq, last_assigned_at = now()
        WHERE l.member_id = member AND (lim IS NULL OR l.open_count < lim);
        EXIT WHEN FOUND;
        SELECT l.open_count INTO held FROM csm_internal.agent_load l WHERE l.member_id = member;
        IF FOUND THEN
            RAISE EXCEPTION 'team member "%" is at the conversation limit (% of % open)', m.handle, held, lim
                USING ERRCODE = 'check_violation',
                      HINT = 'Raise the member''s or the team''s conversation_limit, or resolve one of their conversations.';
        END IF;
        -- A member new to conversations has no row yet.
        INSERT INTO csm_internal.agent_load (member_id) VALUES (member) ON CONFLICT (member_id) DO NOTHING;
    END LOOP;
END $$;
COMMENT ON FUNCTION csm_internal._take_agent(bigint, text, boolean, boolean) IS
    'Internal: counts one more open conversation for an agent and moves them to the back of the round robin. Errors: 23503 unknown member; with enforce, 55000 inactive member, 23514 at the limit (unless over_limit, an explicit override).';

-- Columns, not the row: on a Citus shard the row has the shard's row type.
-- PL/pgSQL, not SQL: Citus cannot route a SQL function's parameterised insert.
CREATE OR REPLACE FUNCTION csm_internal._log_move(account bigint, conversation bigint, action text, old_member bigint,
                                      new_member bigint, reason text, context jsonb DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO @extschema@.assignment_log (account_id, conversation_id, action, old_member_id, new_member_id, reason, context)
    VALUES (account, conversation, action, old_member, new_member, reason, context);
END $$;
COMMENT ON FUNCTION csm_internal._log_move(bigint, bigint, text, bigint, bigint, text, jsonb) IS
    'Internal: logs a move of a conversation (route, reassign, requeue or reopen) in csm.assignment_log, with its handoff context.';

-- Citus: what the foreign key conversation_assignee_fkey checks on a single
-- node (see csm_internal._distribute_conversations() for why it is dropped there).
CREATE OR REPLACE FUNCTION csm_internal._member_exists(member bigint) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM 1 FROM @extschema@.team_member t WHERE t.member_id = member;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'team member % does not exist', member
            USING ERRCODE = 'foreign_key_violation', HINT = 'See csm.team_member for the members.';
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._member_exists(bigint) IS
    'Internal, Citus only: raises 23503 unless the team member exists (the foreign key of a single node).';

-- The teams with conversations waiting, in name order.  A loop, not
-- ARRAY(SELECT ...): Citus plans a subquery of a cached PL/pgSQL plan as an
-- empty relation once the plan is generic, and finds nothing.
CREATE OR REPLACE FUNCTION csm_internal._waiting_teams() RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    teams text[] := '{}';
    t text;
BEGIN
    FOR t IN SELECT DISTINCT c.team FROM @extschema@.conversation c WHERE c.waiting_since IS NOT NULL ORDER BY 1 LOOP
        teams := teams || t;
    END LOOP;
    RETURN teams;
END $$;
COMMENT ON FUNCTION csm_internal._waiting_teams() IS 'Internal: the teams with conversations waiting in their queue, in name order.';

-- Serves the queues of some teams, oldest conversation first, while their
-- agents have room.  Conversations another session is serving are skipped.
-- The queue locks are taken in name order, all at once: exclusive for the
-- team a conversation was just left waiting in (queued), shared for others.
-- A conversation only some agents may take (required skills, or the agent
-- it was taken from kept out) is passed over when none of them is free, and
-- the ones behind it are served.
CREATE OR REPLACE FUNCTION csm_internal._serve_queue(teams text[], queued text)
RETURNS TABLE (account_id bigint, conversation_id bigint, team text, member_id bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    open_teams text[] := ARRAY(SELECT DISTINCT t FROM unnest(teams || queued) AS t WHERE t IS NOT NULL ORDER BY 1);
    distributed boolean := csm_internal._is_distributed('@extschema@.conversation');
    queue_team text;
    waiting record;
    picked bigint;
    excluded bigint;
    passed_over text[] := '{}';
BEGIN
    FOREACH queue_team IN ARRAY open_teams LOOP
        PERFORM csm_internal._lock_queue(queue_team, queue_team IS NOT DISTINCT FROM queued);
    END LOOP;
    WHILE cardinality(open_teams) > 0 LOOP
        IF distributed THEN
            -- Citus cannot lock rows of several shards; the settle lock
            -- (taken by _lock_queue) keeps every other router out.
            SELECT c.account_id, c.conversation_id, c.team, c.required_skills, c.excluded_member, c.excluded_until INTO waiting
            FROM @extschema@.conversation c
            WHERE c.team = ANY (open_teams) AND c.waiting_since IS NOT NULL
              AND NOT (c.account_id::text || ':' || c.conversation_id::text) = ANY (passed_over)
            ORDER BY c.waiting_since, c.account_id, c.conversation_id
            LIMIT 1;
        ELSE
            SELECT c.account_id, c.conversation_id, c.team, c.required_skills, c.excluded_member, c.excluded_until INTO waiting
            FROM @extschema@.conversation c
            WHERE c.team = ANY (open_teams) AND c.waiting_since IS NOT NULL
              AND NOT (c.account_id::text || ':' || c.conversation_id::text) = ANY (passed_over)
            ORDER BY c.waiting_since, c.account_id, c.conversation_id
            LIMIT 1
            FOR UPDATE SKIP LOCKED;
        END IF;
        EXIT WHEN NOT FOUND;
        excluded := CASE WHEN waiting.excluded_until > now() THEN waiting.excluded_member END;
        picked := csm_internal._pick_agent(waiting.team, excluded, false, waiting.required_skills);
        IF picked IS NULL THEN
            IF excluded IS NOT NULL OR (cardinality(waiting.required_skills) > 0
                                        AND (csm_internal._support_team(waiting.team)).strategy = 'skills') THEN
                passed_over := passed_over || (waiting.account_id::text || ':' || waiting.conversation_id::text);
            ELSE
                open_teams := array_remove(open_teams, waiting.team);
            END IF;
            CONTINUE;
        END IF;
        UPDATE @extschema@.conversation c SET assignee = picked, assignment_reason = 'from the queue'
        WHERE c.account_id = waiting.account_id AND c.conversation_id = waiting.conversation_id;
        IF distributed THEN
            PERFORM csm_internal._apply_conversation_changes(waiting.account_id);
        END IF;
        account_id := waiting.account_id;
        conversation_id := waiting.conversation_id;
        team := waiting.team;
        member_id := picked;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION csm_internal._serve_queue(text[], text) IS
    'Internal: assigns waiting conversations of the teams, oldest first, while agents are available; returns what it assigned.';

-- A new conversation: routed to an available agent, else it waits in the
-- team queue.  A row that arrives assigned with assigned_at, waiting with
-- waiting_since, or resolved is history (a restore, an import) and is kept
-- as it is, agent_load included: pg_restore loads that table too, and after
-- importing open conversations by other means csm.rebuild_agent_load()
-- counts them.  A row that arrives with only an assignee was assigned by
-- hand.
CREATE OR REPLACE FUNCTION csm_internal._conversation_route() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    picked bigint;
    over boolean := false;
    -- On a Citus shard (named conversation_<shard id>) the coordinator
    -- counts and routes at the end of the statement: see the top of this file.
    shard boolean := TG_TABLE_NAME <> 'conversation';
BEGIN
    IF NEW.status = 'resolved' THEN
        NEW.resolved_at := coalesce(NEW.resolved_at, now());
    END IF;
    IF NEW.assignee IS NOT NULL THEN
        -- (history too: on Citus no foreign key checks the assignee)
        IF shard THEN
            PERFORM csm_internal._member_exists(NEW.assignee);
        END IF;
        IF NEW.assigned_at IS NOT NULL THEN
            RETURN NEW;
        END IF;
        NEW.assigned_at := now();
        NEW.assignment_reason := coalesce(NEW.assignment_reason, 'by hand');
        over := NEW.assignment_reason ~* '^override\M';
        IF NEW.status <> 'resolved' THEN
            IF shard THEN
                INSERT INTO csm_internal.conversation_change (account_id, conversation_id, kind, member_id, team, reason)
                VALUES (NEW.account_id, NEW.conversation_id, 'take', NEW.assignee, NEW.team, CASE WHEN over THEN 'override' END);
            ELSE
                PERFORM csm_internal._take_agent(NEW.assignee, NEW.team, true, over);
            END IF;
        END IF;
    ELSIF NEW.status = 'resolved' OR NEW.waiting_since IS NOT NULL THEN
        RETURN NEW;
    ELSIF shard THEN
        -- Waits until the coordinator routes it, at the end of the statement.
        INSERT INTO csm_internal.conversation_change (account_id, conversation_id, kind, team, reason)
        VALUES (NEW.account_id, NEW.conversation_id, 'route', NEW.team, NEW.assignment_reason);
        NEW.waiting_since := NEW.created_at;
        NEW.assignment_reason := coalesce(NEW.assignment_reason,
            CASE WHEN (csm_internal._support_team(NEW.team)).auto_assign THEN 'nobody available' ELSE 'manual assignment only' END);
    ELSE
        picked := csm_internal._pick_agent(NEW.team, NULL, true, NEW.required_skills);
        IF picked IS NULL THEN
            PERFORM csm_internal._lock_queue(NEW.team, true);
            picked := csm_internal._pick_agent(NEW.team, NULL, false, NEW.required_skills);
        END IF;
        IF picked IS NULL THEN
            NEW.waiting_since := NEW.created_at;
            NEW.assignment_reason := coalesce(NEW.assignment_reason,
                CASE WHEN (csm_internal._support_team(NEW.team)).auto_assign THEN 'nobody available' ELSE 'manual assignment only' END);
            RETURN NEW;
        END IF;
        NEW.assignee := picked;
        NEW.assigned_at := now();
        NEW.assignment_reason := coalesce(NEW.assignment_reason, (csm_internal._support_team(NEW.team)).strategy);
        PERFORM csm_internal._take_agent(picked, NEW.team, false);
    END IF;
    -- The log refers to the account: say so plainly when there is none.
    PERFORM FROM @extschema@.account a WHERE a.account_id = NEW.account_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account % does not exist', NEW.account_id
            USING ERRCODE = 'foreign_key_violation', HINT = 'See csm.account for the accounts.';
    END IF;
    IF NEW.assignee IS NOT NULL THEN
        PERFORM csm_internal._log_move(NEW.account_id, NEW.conversation_id, 'route', NULL, NEW.assignee, NEW.assignment_reason,
                                      CASE WHEN over THEN csm_internal._override_context(NEW.assignee, NEW.team) END);
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._conversation_route() IS
    'Trigger: routes a new conversation to an available agent of its team (logged as route), or leaves it waiting in the queue; a row that arrives with assigned_at or waiting_since (a restore) is kept as it is. Errors: 23503 unknown account or member, 55000 inactive member, 23514 member at the limit.';
CREATE OR REPLACE TRIGGER conversation_route BEFORE INSERT ON @extschema@.conversation
    FOR EACH ROW EXECUTE FUNCTION csm_internal._conversation_route();

-- A change of assignee or status: reopen, resolve, and moves by hand or by
-- csm's functions.  Counts are kept here, before the row is written, so that
-- the next row of the same statement already sees them.
CREATE OR REPLACE FUNCTION csm_internal._conversation_move() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    was_counted boolean := OLD.assignee IS NOT NULL AND OLD.status <> 'resolved';
    now_counted boolean;
    reason_given boolean := NEW.assignment_reason IS DISTINCT FROM OLD.assignment_reason;
    action text;
    old_member bigint := OLD.assignee;
    reason text := 'by hand';
    -- On a Citus shard (see the top of this file) a reopened conversation
    -- waits, its last agent kept in previous_assignee, until the coordinator
    -- routes it with an UPDATE that sets waiting_since = -infinity: that
    -- UPDATE is the reopen, logged here from its last agent.
    shard boolean := TG_TABLE_NAME <> 'conversation';
    reopen_later boolean := false;
    settled boolean := shard AND NEW.waiting_since = '-infinity';
    context jsonb;
    -- A move by hand whose reason starts with "override" may go over the
    -- agent's limit; the log says so.
    over boolean := reason_given AND NEW.assignment_reason ~* '^override\M';
BEGIN
    IF settled THEN
        action := 'reopen';
        old_member := OLD.previous_assignee;
        reason := NEW.assignment_reason;
        NEW.waiting_since := OLD.waiting_since;
    END IF;
    IF NEW.status = 'resolved' AND OLD.status <> 'resolved' THEN
        NEW.resolved_at := coalesce(NEW.resolved_at, now());
    ELSIF NEW.status <> 'resolved' AND OLD.status = 'resolved' THEN
        NEW.resolved_at := NULL;
        action := 'reopen';
        old_member := coalesce(OLD.assignee, OLD.previous_assignee);
        IF NEW.assignee IS NOT DISTINCT FROM OLD.assignee AND shard THEN
            NEW.assignee := NULL;
            INSERT INTO csm_internal.conversation_change (account_id, conversation_id, kind, member_id, old_assignee, team, reason)
            VALUES (NEW.account_id, NEW.conversation_id, 'reopen', old_member, OLD.previous_assignee, NEW.team,
                    CASE WHEN reason_given THEN NEW.assignment_reason END);
            NEW.previous_assignee := old_member;
            reopen_later := true;
            reason := 'reopened, nobody available';
        ELSIF NEW.assignee IS NOT DISTINCT FROM OLD.assignee THEN
            -- Back to the agent who had it, if they are available.
            NEW.assignee := NULL;
            IF old_member IS NOT NULL AND (csm_internal._support_team(NEW.team)).auto_assign THEN
                SELECT l.member_id INTO NEW.assignee
                FROM csm_internal.agent_load l
                JOIN @extschema@.team_member m ON m.member_id = l.member_id
                WHERE l.member_id = old_member AND NEW.team = ANY (m.teams) AND m.active AND m.status = 'online'
                  AND l.open_count < coalesce(m.conversation_limit, (csm_internal._support_team(NEW.team)).conversation_limit, 2147483647)
                FOR UPDATE OF l;
            END IF;
            IF NEW.assignee IS NOT NULL THEN
                reason := 'reopened, previous agent';
            ELSE
                NEW.assignee := csm_internal._pick_agent(NEW.team, NULL, true, NEW.required_skills);
                IF NEW.assignee IS NULL THEN
                    PERFORM csm_internal._lock_queue(NEW.team, true);
                    NEW.assignee := csm_internal._pick_agent(NEW.team, NULL, false, NEW.required_skills);
                END IF;
                reason := CASE WHEN NEW.assignee IS NULL THEN 'reopened, nobody available'
                               ELSE 'reopened, previous agent unavailable' END;
            END IF;
        END IF;
    ELSIF NEW.team IS DISTINCT FROM OLD.team AND NEW.assignee IS NOT DISTINCT FROM OLD.assignee
          AND NEW.assignee IS NOT NULL AND NEW.status <> 'resolved'
          AND NOT EXISTS (SELECT FROM @extschema@.team_member m WHERE m.member_id = NEW.assignee AND NEW.team = ANY (m.teams)) THEN
        -- Moved to a team its agent is not in: routed again in the new team,
        -- else it waits in the new team's queue (on a Citus shard it waits,
        -- and the coordinator serves that queue at the end of the statement).
        NEW.assignee := NULL;
        IF NOT shard THEN
            NEW.assignee := csm_internal._pick_agent(NEW.team, NULL, true, NEW.required_skills);
            IF NEW.assignee IS NULL THEN
                PERFORM csm_internal._lock_queue(NEW.team, true);
                NEW.assignee := csm_internal._pick_agent(NEW.team, NULL, false, NEW.required_skills);
            END IF;
        END IF;
        reason := format(CASE WHEN NEW.assignee IS NULL THEN 'moved to team %s, nobody available' ELSE 'moved to team %s' END,
                         NEW.team);
    END IF;

    IF action IS NULL AND NEW.assignee IS DISTINCT FROM OLD.assignee THEN
        action := CASE WHEN NEW.assignee IS NULL THEN 'requeue' WHEN OLD.assignee IS NULL THEN 'route' ELSE 'reassign' END;
    END IF;
    IF action IS NOT NULL THEN
        IF NEW.assignee IS DISTINCT FROM OLD.assignee AND OLD.assignee IS NOT NULL AND NOT reopen_later THEN
            NEW.previous_assignee := OLD.assignee;
        END IF;
        IF NEW.assignee IS DISTINCT FROM OLD.assignee OR action = 'reopen' THEN
            NEW.assigned_at := CASE WHEN NEW.assignee IS NOT NULL THEN now() END;
        END IF;
        IF NOT reason_given THEN
            NEW.assignment_reason := reason;
        END IF;
    END IF;
    NEW.waiting_since := CASE WHEN NEW.assignee IS NULL AND NEW.status <> 'resolved'
                              THEN coalesce(NEW.waiting_since, now()) END;

    -- (Never below zero: an open conversation imported as history was not
    -- counted until csm.rebuild_agent_load() runs.)
    now_counted := NEW.assignee IS NOT NULL AND NEW.status <> 'resolved';
    IF was_counted AND NOT (now_counted AND NEW.assignee = OLD.assignee) THEN
        IF shard THEN
            INSERT INTO csm_internal.conversation_change (account_id, conversation_id, kind, member_id, team)
            VALUES (NEW.account_id, NEW.conversation_id, 'release', OLD.assignee, NEW.team);
        ELSE
            UPDATE csm_internal.agent_load l SET open_count = greatest(l.open_count - 1, 0) WHERE l.member_id = OLD.assignee;
        END IF;
    END IF;
    IF shard AND NEW.assignee IS DISTINCT FROM OLD.assignee AND NEW.assignee IS NOT NULL THEN
        PERFORM csm_internal._member_exists(NEW.assignee);
    END IF;
    IF now_counted AND NOT (was_counted AND NEW.assignee = OLD.assignee) THEN
        IF shard THEN
            INSERT INTO csm_internal.conversation_change (account_id, conversation_id, kind, member_id, team, reason)
            VALUES (NEW.account_id, NEW.conversation_id, 'take', NEW.assignee, NEW.team, CASE WHEN over THEN 'override' END);
        ELSE
            PERFORM csm_internal._take_agent(NEW.assignee, NEW.team, true, over);
        END IF;
    END IF;
    IF action IN ('reassign', 'requeue') THEN
        -- What the agent letting it go leaves to the next one.
        context := csm_internal._handoff_context(NEW.account_id, NEW.conversation_id, OLD.assigned_at, OLD.first_response_at);
    END IF;
    IF over AND NEW.assignee IS NOT NULL AND now_counted THEN
        context := coalesce(context, '{}') || csm_internal._override_context(NEW.assignee, NEW.team);
    END IF;
    IF action IS NOT NULL AND NOT reopen_later THEN
        PERFORM csm_internal._log_move(NEW.account_id, NEW.conversation_id, action, old_member, NEW.assignee, NEW.assignment_reason,
                                      context);
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._conversation_move() IS
    'Trigger: keeps csm_internal.agent_load, assigned_at, waiting_since and resolved_at in step with a change of assignee, status or team, routes a reopened conversation (to its previous agent if available) and one moved to a team its agent is not in, and logs every move with its handoff context. Errors: 23503 unknown member, 55000 inactive member, 23514 member at the limit.';
CREATE OR REPLACE TRIGGER conversation_move BEFORE UPDATE OF assignee, status, waiting_since, team ON @extschema@.conversation
    FOR EACH ROW WHEN (OLD.assignee IS DISTINCT FROM NEW.assignee OR OLD.status IS DISTINCT FROM NEW.status
                       OR NEW.waiting_since = '-infinity' OR OLD.team IS DISTINCT FROM NEW.team)
    EXECUTE FUNCTION csm_internal._conversation_move();

-- After a row is written: a conversation that now waits is served from its
-- queue at once if anyone can take it, and an agent who freed capacity
-- (resolved, moved away, deleted) takes the oldest waiting conversations of
-- their teams.
CREATE OR REPLACE FUNCTION csm_internal._conversation_freed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    freed bigint;
    freed_teams text[];
    queued text;
BEGIN
    IF TG_TABLE_NAME <> 'conversation' THEN
        -- A Citus shard: the coordinator serves the queues at the end of the
        -- statement (see the top of this file).
        IF TG_OP = 'DELETE' AND OLD.assignee IS NOT NULL AND OLD.status <> 'resolved' THEN
            INSERT INTO csm_internal.conversation_change (account_id, conversation_id, kind, member_id, team)
            VALUES (OLD.account_id, OLD.conversation_id, 'release', OLD.assignee, OLD.team);
        END IF;
        RETURN NULL;
    END IF;
    IF OLD.assignee IS NOT NULL AND OLD.status <> 'resolved' THEN
        IF TG_OP = 'DELETE' THEN
            UPDATE csm_internal.agent_load l SET open_count = greatest(l.open_count - 1, 0) WHERE l.member_id = OLD.assignee;
            freed := OLD.assignee;
        ELSIF NOT (NEW.assignee IS NOT DISTINCT FROM OLD.assignee AND NEW.status <> 'resolved') THEN
            freed := OLD.assignee;
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.waiting_since IS NOT NULL AND (OLD.waiting_since IS NULL OR OLD.team <> NEW.team) THEN
        queued := NEW.team;
    END IF;
    IF freed IS NOT NULL THEN
        SELECT m.teams INTO freed_teams FROM @extschema@.team_member m
        WHERE m.member_id = freed AND m.active AND m.status = 'online';
    END IF;
    IF queued IS NOT NULL OR cardinality(freed_teams) > 0 THEN
        PERFORM count(*) FROM csm_internal._serve_queue(coalesce(freed_teams, '{}'), queued);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._conversation_freed() IS
    'Trigger: serves the queue when a conversation starts waiting or an online agent frees capacity; takes a deleted conversation off its agent.';
CREATE OR REPLACE TRIGGER conversation_freed AFTER UPDATE ON @extschema@.conversation
    FOR EACH ROW WHEN (OLD.assignee IS DISTINCT FROM NEW.assignee OR OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.team IS DISTINCT FROM NEW.team)
    EXECUTE FUNCTION csm_internal._conversation_freed();
CREATE OR REPLACE TRIGGER conversation_deleted AFTER DELETE ON @extschema@.conversation
    FOR EACH ROW EXECUTE FUNCTION csm_internal._conversation_freed();

-- Agents: one who joins or becomes available (online, active again, a new
-- team, another limit) takes the oldest waiting conversations of their
-- teams.  An agent becoming available gets their agent_load row here, so
-- that routing need not make it (a session making it holds it until
-- commit); one inserted already online gets it from their first routing
-- (an insert trigger making it would collide with the rows pg_restore
-- loads).
CREATE OR REPLACE FUNCTION csm_internal._agent_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME <> 'team_member' THEN
        -- A placement of the reference table on a Citus node: it runs on
        -- every node, so it does nothing; the coordinator serves the queues
        -- at the end of the statement (see the top of this file).
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO csm_internal.agent_load (member_id) VALUES (NEW.member_id) ON CONFLICT (member_id) DO NOTHING;
    END IF;
    PERFORM count(*) FROM csm_internal._serve_queue(NEW.teams, NULL);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._agent_changed() IS
    'Trigger: serves the queues of an agent who joins or becomes available, after making their csm_internal.agent_load row.';
CREATE OR REPLACE TRIGGER team_member_agent_added AFTER INSERT ON @extschema@.team_member
    FOR EACH ROW WHEN (NEW.active AND NEW.status = 'online' AND cardinality(NEW.teams) > 0)
    EXECUTE FUNCTION csm_internal._agent_changed();
CREATE OR REPLACE TRIGGER team_member_agent_available AFTER UPDATE OF status, active, teams, conversation_limit ON @extschema@.team_member
    FOR EACH ROW WHEN (NEW.active AND NEW.status = 'online'
                       AND (OLD.status <> 'online' OR NOT OLD.active OR NOT (NEW.teams <@ OLD.teams)
                            OR OLD.conversation_limit IS DISTINCT FROM NEW.conversation_limit))
    EXECUTE FUNCTION csm_internal._agent_changed();

CREATE OR REPLACE FUNCTION csm_internal._support_team_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME <> 'support_team' THEN
        -- A placement on a Citus node: as in _agent_changed.
        RETURN NULL;
    END IF;
    PERFORM count(*) FROM csm_internal._serve_queue(CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.team] WHEN 'DELETE' THEN ARRAY[OLD.team]
                                                              ELSE ARRAY[OLD.team, NEW.team] END, NULL);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._support_team_changed() IS
    'Trigger: serves a team''s queue after its settings change (a higher limit, or back to the defaults); the same as csm.route_waiting(team).';

CREATE OR REPLACE FUNCTION @extschema@.route_waiting(team text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    teams text[];
BEGIN
    PERFORM csm_internal._require('operate');
    IF csm_internal._is_distributed('@extschema@.conversation') THEN
        -- Citus: the routing lock, and the counts earlier statements left.
        PERFORM csm_internal._lock_row('conversation', 'settle', true);
        PERFORM csm_internal._apply_conversation_changes(NULL);
    END IF;
    IF route_waiting.team IS NULL THEN
        teams := csm_internal._waiting_teams();
    ELSIF route_waiting.team !~ '\S' THEN
        RAISE EXCEPTION 'team must not be blank'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give a team name, or NULL for every team.';
    ELSE
        teams := ARRAY[route_waiting.team];
    END IF;
    RETURN (SELECT count(*) FROM csm_internal._serve_queue(teams, NULL));
END $$;
COMMENT ON FUNCTION @extschema@.route_waiting(text) IS
    'Assigns the waiting conversations of a team (NULL: of every team), oldest first, while its agents are available; returns how many it assigned. csm''s triggers call it when an agent comes online or frees capacity. Errors: 22023 blank team.';
-- The trigger is created here, after the function it calls.
CREATE OR REPLACE TRIGGER support_team_changed AFTER INSERT OR UPDATE OR DELETE ON @extschema@.support_team
    FOR EACH ROW EXECUTE FUNCTION csm_internal._support_team_changed();

CREATE OR REPLACE FUNCTION @extschema@.reassign_stale()
RETURNS TABLE (account_id bigint, conversation_id bigint, team text, old_assignee text, new_assignee text, action text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    distributed boolean := csm_internal._is_distributed('@extschema@.conversation');
    accounts bigint[] := '{}';
    conversations bigint[] := '{}';
    reasons text[] := '{}';
    old_members bigint[] := '{}';
    stale_teams text[] := '{}';
    queues text[];
    queue_team text;
    stale record;
    what text;
    why text;
    until timestamptz;
    picked bigint;
BEGIN
    PERFORM csm_internal._require('operate');
    IF distributed THEN
        -- Citus: the one routing lock first, and what earlier statements
        -- left (see the top of this file).
        PERFORM csm_internal._lock_row('conversation', 'settle', true);
        PERFORM csm_internal._settle_conversations();
    END IF;
    -- Claim the stale conversations; those another run holds are skipped
    -- (on Citus, which cannot lock rows of several shards, the routing lock
    -- keeps other runs out).  The team settings are joined, not looked up
    -- per row: Citus runs this query on the workers.
    FOR stale IN EXECUTE format($q$
        SELECT c.account_id, c.conversation_id, c.assignee, c.team,
               -- In minutes, whatever the session's IntervalStyle.
               format(CASE WHEN (m.status = 'offline' OR NOT m.active)
                                AND m.status_changed_at < now() - coalesce(s.reassign_after, interval '10 minutes')
                           THEN '%%s offline longer than %%s min' ELSE 'no first response from %%s within %%s min' END,
                      m.handle, trim_scale(extract(epoch FROM coalesce(s.reassign_after, interval '10 minutes')) / 60)) AS why
        FROM @extschema@.conversation c
        JOIN @extschema@.team_member m ON m.member_id = c.assignee
        LEFT JOIN @extschema@.support_team s ON s.team = c.team
        WHERE c.status <> 'resolved' AND coalesce(s.reassign_action, 'reassign') <> 'keep'
          -- Away is not offline: an away agent keeps what they hold.  And
          -- each assignee is timed from their own assignment: a response
          -- before it was someone else's.
          AND (((m.status = 'offline' OR NOT m.active)
                AND m.status_changed_at < now() - coalesce(s.reassign_after, interval '10 minutes'))
               OR ((c.first_response_at IS NULL OR c.first_response_at < c.assigned_at)
                   AND c.assigned_at < now() - coalesce(s.reassign_after, interval '10 minutes')))
        ORDER BY c.assignee, c.account_id, c.conversation_id
        %s$q$, CASE WHEN distributed THEN '' ELSE 'FOR UPDATE OF c SKIP LOCKED' END)
    LOOP
        accounts := accounts || stale.account_id;
        conversations := conversations || stale.conversation_id;
        reasons := reasons || stale.why;
        IF NOT stale.assignee = ANY (old_members) THEN
            old_members := old_members || stale.assignee;
        END IF;
        IF NOT stale.team = ANY (stale_teams) THEN
            stale_teams := stale_teams || stale.team;
        END IF;
    END LOOP;
    IF cardinality(accounts) > 0 THEN
        -- Lock the agents losing conversations in one order, before any
        -- queue lock and before choosing any new agent.
        PERFORM FROM csm_internal.agent_load l WHERE l.member_id = ANY (old_members) ORDER BY l.member_id FOR UPDATE;
        stale_teams := ARRAY(SELECT unnest(stale_teams)
                             UNION
                             SELECT unnest(m.teams) FROM @extschema@.team_member m WHERE m.member_id = ANY (old_members));
    END IF;
    -- Then, in name order, every queue this run may leave a conversation in
    -- or serve (exclusive) and every other queue with conversations waiting
    -- (shared, served at the end): nothing below waits for another lock, so
    -- runs, routing and agents coming online never wait in a circle, and
    -- nothing below waits for a busy agent while holding the queues.
    queues := ARRAY(SELECT DISTINCT q FROM unnest(stale_teams || csm_internal._waiting_teams()) AS q ORDER BY 1);
    FOREACH queue_team IN ARRAY queues LOOP
        PERFORM csm_internal._lock_queue(queue_team, queue_team = ANY (stale_teams));
    END LOOP;

    FOR i IN 1 .. cardinality(accounts) LOOP
        SELECT c.account_id, c.conversation_id, c.team, c.assignee, c.created_at, c.required_skills, o.handle INTO stale
        FROM @extschema@.conversation c
        JOIN @extschema@.team_member o ON o.member_id = c.assignee
        WHERE c.account_id = accounts[i] AND c.conversation_id = conversations[i];
        CONTINUE WHEN NOT FOUND;
        what := (csm_internal._support_team(stale.team)).reassign_action;
        -- The agent it is taken from is kept out of it for the window.
        until := now() + (csm_internal._support_team(stale.team)).reassign_after;
        -- (Scalars, not array elements, in the UPDATEs: Citus 13.2 crashes
        -- deparsing a subscripted parameter in an UPDATE's SET list.)
        why := reasons[i];
        picked := NULL;
        IF what = 'reassign' THEN
            picked := csm_internal._pick_agent(stale.team, stale.assignee, false, stale.required_skills);
        END IF;
        IF picked IS NOT NULL THEN
            UPDATE @extschema@.conversation c SET assignee = picked, assignment_reason = why,
                                                  excluded_member = stale.assignee, excluded_until = until
            WHERE c.account_id = stale.account_id AND c.conversation_id = stale.conversation_id;
            action := 'reassign';
        ELSE
            -- Back to the queue: by age when it could not be reassigned, at
            -- the back when the team queues.
            UPDATE @extschema@.conversation c
            SET assignee = NULL, assignment_reason = why,
                waiting_since = CASE WHEN what = 'reassign' THEN stale.created_at END,
                excluded_member = stale.assignee, excluded_until = until
            WHERE c.account_id = stale.account_id AND c.conversation_id = stale.conversation_id;
            action := 'requeue';
        END IF;
        IF distributed THEN
            -- What the triggers do on a single node.
            PERFORM csm_internal._apply_conversation_changes(stale.account_id);
            PERFORM csm_internal._serve_after_move(stale.assignee, CASE WHEN picked IS NULL THEN stale.team END);
        END IF;
        account_id := stale.account_id;
        conversation_id := stale.conversation_id;
        team := stale.team;
        old_assignee := stale.handle;
        new_assignee := (SELECT m.handle FROM @extschema@.conversation c
                         JOIN @extschema@.team_member m ON m.member_id = c.assignee
                         WHERE c.account_id = stale.account_id AND c.conversation_id = stale.conversation_id);
        RETURN NEXT;
    END LOOP;

    -- Serve what still waits while someone is free: wake-ups that
    -- concurrency made miss (an agent busy at that moment) are caught here.
    FOR stale IN
        SELECT q.account_id, q.conversation_id, q.team, m.handle
        FROM csm_internal._serve_queue(queues, NULL) AS q
        JOIN @extschema@.team_member m ON m.member_id = q.member_id
    LOOP
        account_id := stale.account_id;
        conversation_id := stale.conversation_id;
        team := stale.team;
        old_assignee := NULL;
        new_assignee := stale.handle;
        action := 'route';
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.reassign_stale() IS
    'Applies each team''s reassign_action to open and pending conversations whose agent has been offline (or inactive) for longer than reassign_after (away is not offline: an away agent keeps their conversations and only gets no new ones), or has not answered within reassign_after of their own assignment (a first response before it was another agent''s): reassign to another available agent (else back to the queue by age), or queue (to the back of the queue, which is then served); the agent it was taken from gets it back from no routing for reassign_after (csm.conversation.excluded_member); then serves every queue while agents are free. Returns one row per move: reassign or requeue (new_assignee: who holds it now, NULL while it waits) and route (from a queue). Idempotent and safe to run concurrently; meant for pg_cron every minute.';

-- Citus: the coordinator's half of the triggers (see the top of this file).
-- Counts the agents of the changes noted for an account (NULL: for every
-- account): one fewer for release, one more for take, checked like a move
-- by hand (55000 inactive, 23514 at the limit).  Releases first, so that a
-- statement that frees and fills one agent passes whatever its rows' order.
CREATE OR REPLACE FUNCTION csm_internal._apply_conversation_changes(account bigint) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ch record;
    released bigint[] := '{}';
    taken bigint[] := '{}';
    taken_teams text[] := '{}';
    taken_over boolean[] := '{}';
    member bigint;
BEGIN
    -- Read and deleted in one statement: nothing committed meanwhile is lost.
    IF account IS NULL THEN
        FOR ch IN DELETE FROM csm_internal.conversation_change h WHERE h.kind IN ('release', 'take')
                  RETURNING h.kind, h.member_id, h.team, h.reason LOOP
            IF ch.kind = 'release' THEN
                released := released || ch.member_id;
            ELSE
                taken := taken || ch.member_id;
                taken_teams := taken_teams || ch.team;
                taken_over := taken_over || (ch.reason IS NOT DISTINCT FROM 'override');
            END IF;
        END LOOP;
    ELSE
        FOR ch IN DELETE FROM csm_internal.conversation_change h WHERE h.account_id = account AND h.kind IN ('release', 'take')
                  RETURNING h.kind, h.member_id, h.team, h.reason LOOP
            IF ch.kind = 'release' THEN
                released := released || ch.member_id;
            ELSE
                taken := taken || ch.member_id;
                taken_teams := taken_teams || ch.team;
                taken_over := taken_over || (ch.reason IS NOT DISTINCT FROM 'override');
            END IF;
        END LOOP;
    END IF;
    FOREACH member IN ARRAY released LOOP
        UPDATE csm_internal.agent_load l SET open_count = greatest(l.open_count - 1, 0) WHERE l.member_id = member;
    END LOOP;
    FOR i IN 1 .. cardinality(taken) LOOP
        PERFORM csm_internal._take_agent(taken[i], taken_teams[i], true, taken_over[i]);
    END LOOP;
    RETURN cardinality(released);
END $$;
COMMENT ON FUNCTION csm_internal._apply_conversation_changes(bigint) IS
    'Internal, Citus only: applies the take and release changes the shards noted for an account (NULL: every account) to csm_internal.agent_load and deletes them; returns how many releases. Errors as a move by hand: 55000 inactive member, 23514 at the limit.';

-- Citus: what the AFTER trigger does on a single node after a move made on
-- the coordinator: the agent who let it go (if available) and the queue it
-- went back to are served.
CREATE OR REPLACE FUNCTION csm_internal._serve_after_move(old_member bigint, queued text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    freed_teams text[];
BEGIN
    IF old_member IS NOT NULL THEN
        SELECT m.teams INTO freed_teams FROM @extschema@.team_member m
        WHERE m.member_id = old_member AND m.active AND m.status = 'online';
    END IF;
    IF queued IS NOT NULL OR cardinality(freed_teams) > 0 THEN
        PERFORM count(*) FROM csm_internal._serve_queue(coalesce(freed_teams, '{}'), queued);
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._serve_after_move(bigint, text) IS
    'Internal, Citus only: serves the queues an agent''s freed capacity or a requeued conversation concern, as the trigger csm_internal._conversation_freed does on a single node.';

-- Citus: finishes, on the coordinator at the end of a statement, what the
-- statement's triggers on the shards noted (see the top of this file):
-- counts, reopened and new conversations routed in the order they came,
-- then every queue served while agents are free (agents who came online,
-- freed capacity, a higher limit).  Holds the settle lock until commit.
-- Does nothing on a single node, where the triggers did it all.
CREATE OR REPLACE FUNCTION csm_internal._settle_conversations(serve_all boolean DEFAULT false) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ch record;
    -- the reopened and new conversations, in order (read before any is moved)
    kinds text[] := '{}';
    accounts bigint[] := '{}';
    conversations bigint[] := '{}';
    ch_members bigint[] := '{}';
    old_members bigint[] := '{}';
    ch_teams text[] := '{}';
    reasons text[] := '{}';
    lim integer;
    acc bigint;
    conv bigint;
    was bigint;
    prev bigint;
    team_name text;
    picked bigint;
    why text;
    waiting_teams text[];
    ord integer[];
    i integer;
    moved integer := 0;
    wanted text[];
BEGIN
    IF NOT csm_internal._is_distributed('@extschema@.conversation') THEN
        RETURN 0;
    END IF;
    -- (No EXISTS subquery: see csm_internal._waiting_teams().)
    PERFORM 1 FROM csm_internal.conversation_change LIMIT 1;
    IF NOT serve_all AND NOT FOUND THEN
        RETURN 0;
    END IF;
    PERFORM csm_internal._lock_row('conversation', 'settle', true);
    IF serve_all THEN
        -- What the foreign keys to team_member do on a single node (see
        -- csm_internal._distribute_conversations()): no member deleted under a conversation.
        FOR ch IN SELECT c.assignee, c.previous_assignee FROM @extschema@.conversation c
                  LEFT JOIN @extschema@.team_member m ON m.member_id = c.assignee
                  LEFT JOIN @extschema@.team_member p ON p.member_id = c.previous_assignee
                  WHERE (c.assignee IS NOT NULL AND m.member_id IS NULL)
                     OR (c.previous_assignee IS NOT NULL AND p.member_id IS NULL)
                  LIMIT 1 LOOP
            RAISE EXCEPTION 'team member % is still referenced by csm.conversation',
                            coalesce(ch.assignee, ch.previous_assignee)
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Move their conversations first, or deactivate the member instead.';
        END LOOP;
    END IF;
    -- Capacity freed (or a conversation back in the queue): queues to serve.
    IF csm_internal._apply_conversation_changes(NULL) > 0 THEN
        serve_all := true;
    END IF;

    -- Read and deleted in one statement, then put in order.
    FOR ch IN DELETE FROM csm_internal.conversation_change h WHERE h.kind IN ('reopen', 'route')
              RETURNING h.kind, h.account_id, h.conversation_id, h.member_id, h.old_assignee, h.team, h.reason LOOP
        kinds := kinds || ch.kind;
        accounts := accounts || ch.account_id;
        conversations := conversations || ch.conversation_id;
        ch_members := ch_members || ch.member_id;
        old_members := old_members || ch.old_assignee;
        ch_teams := ch_teams || ch.team;
        reasons := reasons || ch.reason;
    END LOOP;
    ord := ARRAY(SELECT o FROM generate_subscripts(kinds, 1) AS o
                 ORDER BY kinds[o] DESC, conversations[o], accounts[o]);

    FOREACH i IN ARRAY ord LOOP
        -- (Scalars, not array elements, in the statements: Citus 13.2
        -- crashes deparsing a subscripted parameter in an UPDATE.)
        acc := accounts[i];
        conv := conversations[i];
        was := old_members[i];
        SELECT c.required_skills INTO wanted FROM @extschema@.conversation c
        WHERE c.account_id = acc AND c.conversation_id = conv;
        IF kinds[i] = 'reopen' THEN
            -- Back to the agent who had it if they are available, else to
            -- whoever is, else it waits; the shard logs the reopen.
            picked := NULL;
            prev := ch_members[i];
            team_name := ch_teams[i];
            IF prev IS NOT NULL AND (csm_internal._support_team(team_name)).auto_assign THEN
                lim := (csm_internal._support_team(team_name)).conversation_limit;
                SELECT l.member_id INTO picked
                FROM csm_internal.agent_load l
                JOIN @extschema@.team_member m ON m.member_id = l.member_id
                WHERE l.member_id = prev AND team_name = ANY (m.teams) AND m.active AND m.status = 'online'
                  AND l.open_count < coalesce(m.conversation_limit, lim, 2147483647);
            END IF;
            IF picked IS NOT NULL THEN
                why := 'reopened, previous agent';
            ELSE
                picked := csm_internal._pick_agent(team_name, NULL, false, wanted);
                why := CASE WHEN picked IS NULL THEN 'reopened, nobody available' ELSE 'reopened, previous agent unavailable' END;
            END IF;
            why := coalesce(reasons[i], why);
            -- As on a single node: the last agent, unless it went back to them.
            IF picked IS NOT DISTINCT FROM prev THEN
                prev := was;
            END IF;
            UPDATE @extschema@.conversation c
            SET assignee = picked, assignment_reason = why, waiting_since = '-infinity', previous_assignee = prev
            WHERE c.account_id = acc AND c.conversation_id = conv;
            IF picked IS NOT NULL THEN
                PERFORM csm_internal._apply_conversation_changes(acc);
                moved := moved + 1;
            END IF;
        ELSE
            -- New: to an available agent, in the order they came, else it waits.
            team_name := ch_teams[i];
            picked := csm_internal._pick_agent(team_name, NULL, false, wanted);
            CONTINUE WHEN picked IS NULL;
            -- (Computed here: Citus evaluates no function inside the UPDATE's coalesce.)
            why := coalesce(reasons[i], (csm_internal._support_team(team_name)).strategy);
            UPDATE @extschema@.conversation c
            SET assignee = picked, assignment_reason = why
            WHERE c.account_id = acc AND c.conversation_id = conv AND c.waiting_since IS NOT NULL;
            PERFORM csm_internal._apply_conversation_changes(acc);
            moved := moved + 1;
        END IF;
    END LOOP;

    -- Then, when anything may have made room or joined a queue, every queue,
    -- oldest first, while someone is free.  (Not after a statement that only
    -- assigned, as a queue's own routing does.)
    IF NOT serve_all AND cardinality(kinds) = 0 THEN
        RETURN moved;
    END IF;
    waiting_teams := csm_internal._waiting_teams();
    IF cardinality(waiting_teams) > 0 THEN
        moved := moved + (SELECT count(*) FROM csm_internal._serve_queue(waiting_teams, NULL));
    END IF;
    RETURN moved;
END $$;
COMMENT ON FUNCTION csm_internal._settle_conversations(boolean) IS
    'Internal, Citus only: on the coordinator, at the end of each statement that wrote conversations, team members or support teams (csm''s executor hook calls it), applies what the triggers on the shards noted in csm_internal.conversation_change: agents'' counts, reopened and new conversations routed, then the queues served (all of them with serve_all); returns how many conversations it assigned. Does nothing on a single node.';

-- Citus: csm.distribute() calls this last.  Every new session of the
-- database loads csm's library, whose executor hook calls
-- csm_internal._settle_conversations() at the end of each statement (src/settle.c);
-- this session loads it now.  A superuser's setting: without one, a warning
-- says what to run.  And csm_internal.agent_load and csm.conversation lose their
-- foreign keys to team_member: Citus locks a referenced reference table as a
-- whole for every write of the referencing one, so each count and each
-- routed conversation would lock all of team_member while holding the
-- settle lock, and a session changing an agent (which holds team_member,
-- then wants the settle lock) would deadlock with it.  The triggers check an
-- assignee exists (23503), and the settle after a statement on team_member
-- refuses to leave a conversation with a deleted member (23503); a deleted
-- member's agent_load row stays, and routing, which joins team_member, never
-- sees it.
CREATE OR REPLACE FUNCTION csm_internal._distribute_conversations() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    libs text := current_setting('session_preload_libraries');
    wanted text := concat_ws(', ', nullif(libs, ''), 'csm');
BEGIN
    ALTER TABLE csm_internal.agent_load DROP CONSTRAINT IF EXISTS agent_load_member_fkey;
    ALTER TABLE @extschema@.conversation DROP CONSTRAINT IF EXISTS conversation_assignee_fkey;
    ALTER TABLE @extschema@.conversation DROP CONSTRAINT IF EXISTS conversation_previous_assignee_fkey;
    EXECUTE 'LOAD ' || quote_literal('$libdir/csm');
    IF string_to_array(replace(libs, ' ', ''), ',') && ARRAY['csm', '$libdir/csm'] THEN
        RETURN;
    END IF;
    BEGIN
        EXECUTE format('ALTER DATABASE %I SET session_preload_libraries = %L', current_database(), wanted);
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'conversations on Citus need csm loaded in every session'
            USING HINT = format('As a superuser, run ALTER DATABASE %I SET session_preload_libraries = %L.',
                                current_database(), wanted);
    END;
END $$;
REVOKE ALL ON FUNCTION csm_internal._distribute_conversations() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._distribute_conversations() IS
    'Internal: run by csm.distribute(): makes new sessions of this database load csm (session_preload_libraries), so that its executor hook finishes conversation routing on the coordinator after each statement, loads it in this session, and drops the foreign key from csm_internal.agent_load to csm.team_member (Citus would lock all of team_member for every count).';

CREATE OR REPLACE FUNCTION @extschema@.rebuild_agent_load() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fixed bigint;
    held_by bigint[];
    held integer[];
    ch record;
BEGIN
    PERFORM csm_internal._require('admin');
    IF csm_internal._is_distributed('@extschema@.conversation') THEN
        -- Citus: counts change only under the routing lock (see the top of
        -- this file); what other sessions have not settled yet they add to
        -- this count when they do.
        PERFORM csm_internal._lock_row('conversation', 'settle', true);
        PERFORM csm_internal._apply_conversation_changes(NULL);
        held_by := ARRAY(SELECT m.member_id FROM @extschema@.team_member m);
        INSERT INTO csm_internal.agent_load (member_id) SELECT unnest(held_by) ON CONFLICT (member_id) DO NOTHING;
        held_by := '{}';
        held := '{}';
        FOR ch IN SELECT c.assignee, count(*)::integer AS n FROM @extschema@.conversation c
                  WHERE c.assignee IS NOT NULL AND c.status <> 'resolved' GROUP BY c.assignee LOOP
            held_by := held_by || ch.assignee;
            held := held || ch.n;
        END LOOP;
        UPDATE csm_internal.agent_load l SET open_count = coalesce(held[array_position(held_by, l.member_id)], 0)
        WHERE l.open_count <> coalesce(held[array_position(held_by, l.member_id)], 0);
        GET DIAGNOSTICS fixed = ROW_COUNT;
        RETURN fixed;
    END IF;
    -- Writers wait; a consistent count needs a still table.
    LOCK TABLE @extschema@.conversation IN SHARE MODE;
    INSERT INTO csm_internal.agent_load (member_id)
    SELECT m.member_id FROM @extschema@.team_member m ON CONFLICT (member_id) DO NOTHING;
    WITH held AS (
        SELECT l.member_id,
               (SELECT count(*) FROM @extschema@.conversation c
                WHERE c.assignee = l.member_id AND c.status <> 'resolved')::integer AS n
        FROM csm_internal.agent_load l)
    UPDATE csm_internal.agent_load l SET open_count = h.n
    FROM held h WHERE h.member_id = l.member_id AND l.open_count <> h.n;
    GET DIAGNOSTICS fixed = ROW_COUNT;
    RETURN fixed;
END $$;
COMMENT ON FUNCTION @extschema@.rebuild_agent_load() IS
    'Recounts csm_internal.agent_load from csm.conversation (after importing open, assigned conversations, which are taken as history, or a restore with triggers disabled); returns how many agents'' counts it corrected. Blocks writes to conversations while it runs.';

-- Per agent, each credited with their own part of every conversation they
-- held: a stint runs from a logged move that gave it to them (route,
-- reassign, reopen) to the conversation's next move, or to its resolution
-- (or now) for the last.  A conversation with no logged move (history
-- imported as it was) is one stint of its assignee from assigned_at.
CREATE OR REPLACE VIEW @extschema@.agent_performance WITH (security_invoker = true) AS
WITH moved AS (
    SELECT l.account_id, l.conversation_id, l.new_member_id AS member_id, l.at AS held_from,
           lead(l.at) OVER (PARTITION BY l.account_id, l.conversation_id ORDER BY l.log_id) AS next_move
    FROM @extschema@.assignment_log l
    WHERE l.conversation_id IS NOT NULL
), stint AS (
    SELECT mv.member_id, c.account_id, c.conversation_id, mv.held_from,
           coalesce(mv.next_move, greatest(c.resolved_at, mv.held_from), now()) AS held_to,
           c.first_response_at >= mv.held_from AND (mv.next_move IS NULL OR c.first_response_at < mv.next_move) AS answered,
           c.first_response_at
    FROM moved mv
    JOIN @extschema@.conversation c ON c.account_id = mv.account_id AND c.conversation_id = mv.conversation_id
    WHERE mv.member_id IS NOT NULL
    UNION ALL
    SELECT c.assignee, c.account_id, c.conversation_id, c.assigned_at,
           greatest(coalesce(c.resolved_at, now()), c.assigned_at),
           c.first_response_at >= c.assigned_at, c.first_response_at
    FROM @extschema@.conversation c
    WHERE c.assignee IS NOT NULL
      AND NOT EXISTS (SELECT FROM @extschema@.assignment_log l
                      WHERE l.account_id = c.account_id AND l.conversation_id = c.conversation_id)
), per_agent AS (
    SELECT s.member_id,
           count(DISTINCT (s.account_id, s.conversation_id)) AS handled,
           count(*) FILTER (WHERE s.answered) AS first_responses,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY s.first_response_at - s.held_from)
               FILTER (WHERE s.answered) AS median_first_response,
           sum(s.held_to - s.held_from) AS time_held
    FROM stint s
    GROUP BY s.member_id
), finals AS (
    SELECT c.assignee AS member_id,
           count(*) FILTER (WHERE c.status <> 'resolved') AS open_now,
           count(*) FILTER (WHERE c.status = 'resolved') AS resolved,
           round(avg(c.csat), 2) AS avg_csat,
           count(c.csat) AS csat_responses
    FROM @extschema@.conversation c
    WHERE c.assignee IS NOT NULL
    GROUP BY c.assignee
)
SELECT m.member_id, m.handle, m.name, m.teams, m.status,
       coalesce(p.handled, 0) AS handled,
       coalesce(f.open_now, 0) AS open_now,
       coalesce(f.resolved, 0) AS resolved,
       round(coalesce(f.resolved, 0)::numeric / nullif(p.handled, 0), 3) AS resolution_rate,
       p.median_first_response,
       f.avg_csat,
       coalesce(f.csat_responses, 0) AS csat_responses,
       coalesce(p.first_responses, 0) AS first_responses,
       p.time_held,
       -- the vocabulary's names; name and resolution_rate above are deprecated
       m.name AS member_name,
       round(coalesce(f.resolved, 0)::numeric / nullif(p.handled, 0), 3) AS resolution_ratio
FROM @extschema@.team_member m
LEFT JOIN per_agent p ON p.member_id = m.member_id
LEFT JOIN finals f ON f.member_id = m.member_id
WHERE p.handled > 0 OR cardinality(m.teams) > 0;
COMMENT ON VIEW @extschema@.agent_performance IS
    'Per support agent (a member with a team or a conversation), each credited with their own part of every conversation, from csm.assignment_log: handled (conversations they held at any time, so an agent who handed one over still counts it), open now (they hold it, open or pending), resolved (they held it when it was resolved), resolution rate (resolved / handled), median first response time (first_response_at minus the time they got it, over the conversations first answered while they held it), average CSAT and how many rated (of the conversations they hold or resolved), first_responses (how many first responses were theirs) and time_held (the total time they held conversations: from getting one to its next move, or its resolution, or now).';
COMMENT ON COLUMN @extschema@.agent_performance.handled IS 'Conversations the agent held at any time (count).';
COMMENT ON COLUMN @extschema@.agent_performance.resolved IS 'Conversations resolved while the agent held them (count).';
COMMENT ON COLUMN @extschema@.agent_performance.median_first_response IS 'Median of first_response_at minus when the agent got the conversation, over the first responses given while they held it (interval).';
COMMENT ON COLUMN @extschema@.agent_performance.first_responses IS 'Conversations first answered while the agent held them (count).';
COMMENT ON COLUMN @extschema@.agent_performance.time_held IS 'Total time the agent held conversations: each stint from getting it to its next move, its resolution, or now (interval).';
