
-- The handoff context of a conversation an agent lets go.
CREATE OR REPLACE FUNCTION csm_internal._handoff_context(account bigint, conversation bigint, held_since timestamptz,
                                             first_response timestamptz) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    notes bigint;
    last_note text;
BEGIN
    SELECT count(*) INTO notes FROM @extschema@.conversation_note n
    WHERE n.account_id = account AND n.conversation_id = conversation;
    IF notes > 0 THEN
        SELECT n.body INTO last_note FROM @extschema@.conversation_note n
        WHERE n.account_id = account AND n.conversation_id = conversation
        ORDER BY n.created_at DESC, n.note_id DESC LIMIT 1;
    END IF;
    RETURN jsonb_build_object('held_since', held_since,
                              'first_response_at', CASE WHEN first_response >= held_since THEN first_response END,
                              'notes', notes, 'last_note', last_note);
END $$;
COMMENT ON FUNCTION csm_internal._handoff_context(bigint, bigint, timestamptz, timestamptz) IS
    'Internal: the context logged when an agent lets a conversation go: when they got it, their first response, and the conversation''s internal notes (count and the last one).';

-- An agent's conversations in one team that count towards its per-agent
-- limit.  (A loop over plain queries, which Citus runs on the coordinator.)
CREATE OR REPLACE FUNCTION csm_internal._team_count(member bigint, team text, count_pending boolean) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    SELECT count(*) INTO n FROM @extschema@.conversation c
    WHERE c.assignee = member AND c.team = _team_count.team
      AND (c.status = 'open' OR (count_pending AND c.status = 'pending'));
    RETURN n;
END $$;
COMMENT ON FUNCTION csm_internal._team_count(bigint, text, boolean) IS
    'Internal: how many of a team''s conversations an agent holds that count towards the team''s per_agent_limit (open, and pending when count_pending).';

CREATE OR REPLACE FUNCTION csm_internal._team_full_agents(team text, lim integer, count_pending boolean) RETURNS bigint[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    full_agents bigint[] := '{}';
    member bigint;
BEGIN
    FOR member IN SELECT c.assignee FROM @extschema@.conversation c
                  WHERE c.team = _team_full_agents.team AND c.assignee IS NOT NULL
                    AND (c.status = 'open' OR (count_pending AND c.status = 'pending'))
                  GROUP BY c.assignee HAVING count(*) >= lim LOOP
        full_agents := full_agents || member;
    END LOOP;
    RETURN full_agents;
END $$;
COMMENT ON FUNCTION csm_internal._team_full_agents(text, integer, boolean) IS
    'Internal: the agents who hold as many of a team''s conversations as its per_agent_limit (counted as csm_internal._team_count does).';

-- What the log says of a manual assignment over the limit.
CREATE OR REPLACE FUNCTION csm_internal._override_context(member bigint, team text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN jsonb_build_object('override', true,
        'limit', (SELECT coalesce(m.conversation_limit, (csm_internal._support_team(team)).conversation_limit)
                  FROM @extschema@.team_member m WHERE m.member_id = member));
END $$;
COMMENT ON FUNCTION csm_internal._override_context(bigint, text) IS
    'Internal: the log context of a manual assignment whose reason starts with "override": {"override": true, "limit": the agent''s limit in that team}.';
