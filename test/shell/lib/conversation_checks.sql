-- The invariants of the conversation stress tests, over accounts :abase + 1
-- to :abase + 20 and members :mbase + 1 to :mbase + 14: one line each, "ok"
-- or "not ok".  Written so that Citus runs them too (recounts as
-- materialized CTEs, joined with the reference tables on the coordinator).
\set lo :abase + 1
\set hi :abase + 20
\set mlo :mbase + 1
\set mhi :mbase + 14
SELECT count(*) AS conversations, count(*) FILTER (WHERE waiting_since IS NOT NULL) AS waiting
FROM csm.conversation WHERE account_id BETWEEN :lo AND :hi;
SELECT action, count(*) FROM csm.assignment_log
WHERE account_id BETWEEN :lo AND :hi AND conversation_id IS NOT NULL GROUP BY 1 ORDER BY 1;

-- csm_internal.agent_load equals a recount.
WITH held AS MATERIALIZED (
    SELECT c.assignee, count(*) AS n FROM csm.conversation c
    WHERE c.assignee BETWEEN :mlo AND :mhi AND c.status <> 'resolved' GROUP BY c.assignee)
SELECT CASE count(*) WHEN 0 THEN 'ok' ELSE 'not ok' END
       || format(' - agent_load equals a recount (%s agents differ)', count(*))
FROM csm_internal.agent_load l LEFT JOIN held h ON h.assignee = l.member_id
WHERE l.member_id BETWEEN :mlo AND :mhi AND l.open_count <> coalesce(h.n, 0);

-- Nobody is over their limit.
SELECT CASE count(*) WHEN 0 THEN 'ok' ELSE 'not ok' END || format(' - nobody over their limit (%s are)', count(*))
FROM csm_internal.agent_load l JOIN csm.team_member m ON m.member_id = l.member_id
WHERE l.member_id BETWEEN :mlo AND :mhi
  AND l.open_count > coalesce(m.conversation_limit,
                              (SELECT s.conversation_limit FROM csm.support_team s WHERE s.team = m.teams[1]), 2147483647);

-- Nothing waits while an agent of its team could take it (not counting
-- the agent a stale conversation was taken from, kept out of it for the
-- reassignment window).
WITH free AS MATERIALIZED (
    SELECT DISTINCT t.team, m.member_id
    FROM csm.team_member m JOIN csm_internal.agent_load l ON l.member_id = m.member_id
    CROSS JOIN LATERAL unnest(m.teams) AS t(team)
    LEFT JOIN csm.support_team s ON s.team = t.team
    WHERE m.member_id BETWEEN :mlo AND :mhi AND m.active AND m.status = 'online'
      AND l.open_count < coalesce(m.conversation_limit, s.conversation_limit, 2147483647))
SELECT CASE count(*) WHEN 0 THEN 'ok' ELSE 'not ok' END
       || format(' - nothing waits while an agent of its team is free (%s do)', count(*))
FROM csm.conversation c
JOIN free f ON f.team = c.team AND NOT (f.member_id = c.excluded_member AND c.excluded_until > now())
WHERE c.account_id BETWEEN :lo AND :hi AND c.waiting_since IS NOT NULL;

-- One row per move: each starts where the previous left the conversation
-- (a reopen starts from the agent who had it before it was resolved).
SELECT CASE count(*) WHEN 0 THEN 'ok' ELSE 'not ok' END
       || format(' - every logged move starts where the previous one ended (%s do not)', count(*))
FROM (SELECT l.action, l.old_member_id,
             lag(l.new_member_id) OVER (PARTITION BY l.account_id, l.conversation_id ORDER BY l.log_id) AS before
      FROM csm.assignment_log l
      WHERE l.account_id BETWEEN :lo AND :hi AND l.conversation_id IS NOT NULL) x
WHERE x.action <> 'reopen' AND x.old_member_id IS DISTINCT FROM x.before;

-- The last logged move names the current assignee.
WITH last AS MATERIALIZED (
    SELECT DISTINCT ON (l.account_id, l.conversation_id) l.account_id, l.conversation_id, l.new_member_id
    FROM csm.assignment_log l
    WHERE l.account_id BETWEEN :lo AND :hi AND l.conversation_id IS NOT NULL
    ORDER BY l.account_id, l.conversation_id, l.log_id DESC)
SELECT CASE count(*) WHEN 0 THEN 'ok' ELSE 'not ok' END
       || format(' - the last logged move of every conversation names its assignee (%s do not)', count(*))
FROM csm.conversation c LEFT JOIN last ON last.account_id = c.account_id AND last.conversation_id = c.conversation_id
WHERE c.account_id BETWEEN :lo AND :hi AND c.assignee IS DISTINCT FROM last.new_member_id;

-- Nothing is left for a Citus coordinator to finish.
SELECT CASE count(*) WHEN 0 THEN 'ok' ELSE 'not ok' END || format(' - no change left unsettled (%s are)', count(*))
FROM csm_internal.conversation_change WHERE account_id BETWEEN :lo AND :hi;
