-- Raw per-account metrics that health models read. Each is NULL when its
-- source does not exist, never a made-up value.

-- The metrics query (the columns of csm.account_metrics), with parameters $1 as_of (date), $2 account (bigint,
-- NULL for all), $3 whether a tracked source has a user column, $4 whether
-- one has an event column, $5 whether csm.conversation has any row.  It is
-- text, run with EXECUTE ... USING, so that it is planned with the values:
-- on Citus each account's part runs on the worker that holds its shards
-- (account is a reference table, outer-joined per shard), and refresh_health
-- embeds it in its own statement, driven by csm.health_score (scored_only):
-- Citus pushes an outer join down from the reference table csm.account to
-- one distributed relation only, not to the four here.  A SQL function over distributed tables
-- would be inlined only after Citus has looked at the query, which then
-- fails, or, in a subquery, reads the coordinator's empty local tables.
CREATE OR REPLACE FUNCTION csm_internal._account_metrics_sql(scored_only boolean DEFAULT false) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN format($metrics$
WITH per_source_day AS (
    SELECT u.account_id, u.source_id, u.day, u.events, u.active_users
    FROM csm_internal._usage_day u
    WHERE u.day <= $1 AND ($2::bigint IS NULL OR u.account_id = $2)
),
-- Across sources, the same person usually appears in each, so a day's
-- active users is the largest source's count.
per_day AS (
    SELECT d.account_id, d.day, sum(d.events) AS events, max(d.active_users) AS active_users
    FROM per_source_day d
    GROUP BY d.account_id, d.day
),
usage AS (
    SELECT d.account_id,
           sum(d.active_users) FILTER (WHERE d.day > $1 - 30) AS active_user_days_30,
           sum(d.events) FILTER (WHERE d.day > $1 - 14) AS events_14,
           sum(d.events) FILTER (WHERE d.day > $1 - 28 AND d.day <= $1 - 14) AS events_prior_14,
           max(d.day) FILTER (WHERE d.events > 0) AS last_active_day
    FROM per_day d
    GROUP BY d.account_id
),
features AS (
    SELECT f.account_id, count(*)::integer AS adopted
    FROM (SELECT fc.account_id, fc.feature
          FROM csm_internal._usage_feature_day fc
          WHERE fc.day > $1 - 30 AND fc.day <= $1 AND ($2::bigint IS NULL OR fc.account_id = $2)
          GROUP BY fc.account_id, fc.feature
          HAVING sum(fc.events) > 0) f
    GROUP BY f.account_id
),
-- Conversations created in the 30 days up to the end of $1 (UTC), the
-- window of dau_ratio; an account with a row here had a conversation by
-- then (a join, not a correlated EXISTS, which Citus cannot run against the
-- reference table csm.account).
tickets AS (
    SELECT c.account_id,
           count(*) FILTER (WHERE c.created_at >= ($1 - 29)::timestamp AT TIME ZONE 'UTC') AS created_30
    FROM @extschema@.conversation c
    WHERE c.created_at < ($1 + 1)::timestamp AT TIME ZONE 'UTC'
      AND ($2::bigint IS NULL OR c.account_id = $2)
    GROUP BY c.account_id
),
-- The latest answer to a relationship survey: transactional and milestone
-- answers rate one interaction, not the relationship (README, NPS program).
latest_nps AS (
    SELECT DISTINCT ON (n.account_id) n.account_id, n.score
    FROM @extschema@.nps_response n
    WHERE n.responded_at < $1 + 1 AND ($2::bigint IS NULL OR n.account_id = $2)
      AND n.survey_kind = 'relationship'
    ORDER BY n.account_id, n.responded_at DESC, n.response_id DESC
)
SELECT %2$s.account_id,
       a.external_id,
       a.status,
       CASE WHEN $3 AND a.seats > 0
            THEN coalesce(u.active_user_days_30, 0) / 30.0 / a.seats END::float8 AS dau_ratio,
       CASE WHEN $4 THEN coalesce(f.adopted, 0) END AS features_adopted,
       ($1 - u.last_active_day) AS days_since_last_activity,
       (coalesce(u.events_14, 0) / NULLIF(u.events_prior_14, 0))::float8 AS usage_trend,
       CASE WHEN $5 THEN coalesce(t.created_30, 0) END::float8 AS tickets_per_month,
       n.score::integer AS nps,
       (a.renewal_date - $1) AS days_to_renewal
FROM %1$s
LEFT JOIN usage u ON u.account_id = %2$s.account_id
LEFT JOIN features f ON f.account_id = %2$s.account_id
LEFT JOIN tickets t ON t.account_id = %2$s.account_id
LEFT JOIN latest_nps n ON n.account_id = %2$s.account_id
WHERE ($2::bigint IS NULL OR %2$s.account_id = $2)
  -- An account that did not exist yet at the end of $1 has no metrics:
  -- it exists from its first sign, created_at, started_at, or its first
  -- usage, NPS answer or conversation (accounts created today from older
  -- events existed on the days of those events).
  AND (a.created_at < ($1 + 1)::timestamp AT TIME ZONE 'UTC'
       OR a.started_at < ($1 + 1)::timestamp AT TIME ZONE 'UTC'
       OR u.account_id IS NOT NULL
       OR n.account_id IS NOT NULL
       OR t.account_id IS NOT NULL)
$metrics$,
    CASE WHEN scored_only
         THEN '@extschema@.health_score k JOIN @extschema@.account a ON a.account_id = k.account_id'
         ELSE '@extschema@.account a' END,
    CASE WHEN scored_only THEN 'k' ELSE 'a' END);
COMMENT ON FUNCTION csm_internal._account_metrics_sql(boolean) IS
    'Internal: the text of the per-account metrics query of csm.account_metrics_at, with parameters $1 as_of, $2 account (NULL for all), $3 has_users, $4 has_features, $5 has_tickets (see csm_internal._account_metric_sources); with scored_only, only of the accounts that have a csm.health_score row, which drive the query (on Citus, a distributed table: the query then runs on the workers).';

-- Which metric sources exist at all: a metric whose source does not exist
-- is NULL for every account, never 0.
CREATE OR REPLACE FUNCTION csm_internal._account_metric_sources(OUT has_users boolean, OUT has_features boolean,
                                                    OUT has_tickets boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- PL/pgSQL, never inlined: on Citus csm.conversation is distributed
    SELECT coalesce(bool_or(s.user_column IS NOT NULL), false), coalesce(bool_or(s.event_column IS NOT NULL), false)
    INTO has_users, has_features
    FROM @extschema@.usage_source s;
    has_tickets := EXISTS (SELECT 1 FROM @extschema@.conversation c LIMIT 1);
END $$;
COMMENT ON FUNCTION csm_internal._account_metric_sources() IS
    'Internal: whether any tracked source has a user column, an event column, and whether csm.conversation has rows: the metrics that exist at all.';

CREATE OR REPLACE FUNCTION @extschema@.account_metrics_at(as_of date, account bigint DEFAULT NULL)
RETURNS TABLE (
    account_id               bigint,
    external_id              text,
    status                   text,
    dau_ratio                float8,
    features_adopted         integer,
    days_since_last_activity integer,
    usage_trend              float8,
    tickets_per_month        float8,
    nps                      integer,
    days_to_renewal          integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src record;
BEGIN
    -- One account today on a single node (csm_health_score, explain_health,
    -- churn_probability, ...): the view, whose per-account form reads only
    -- that account's rows, in a statement planned once per session rather
    -- than a query text planned at every call (the planning was most of a
    -- call's time).  On Citus the view is the set-based form: EXECUTE below.
    IF account IS NOT NULL AND as_of = (now() AT TIME ZONE 'UTC')::date
       AND NOT csm_internal._is_distributed('@extschema@.account') THEN
        RETURN QUERY SELECT m.* FROM @extschema@.account_metrics m WHERE m.account_id = account;
        RETURN;
    END IF;
    src := csm_internal._account_metric_sources();
    RETURN QUERY EXECUTE csm_internal._account_metrics_sql()
        USING as_of, account, src.has_users, src.has_features, src.has_tickets;
END $$;
COMMENT ON FUNCTION @extschema@.account_metrics_at(date, bigint) IS
    'Per-account metrics as of the end of a UTC day, for every account or just one, among the accounts that existed by then (created_at, started_at, or a first event, NPS answer or conversation before the end of as_of); see csm.account_metrics for the definitions.';

-- The same query, per account: each account's usage, features, tickets and
-- NPS are LATERAL subqueries keyed by the account row's account_id, so a
-- read filtered by external_id (or any other account column) plans and
-- reads that account's rows only, O(1) in portfolio size, where the
-- set-based form aggregates every account first (issue 15: 1.45 s for one
-- account on the 2,000-account demo).  Same parameters and columns as
-- csm_internal._account_metrics_sql; the answers are the same row for row (each
-- subquery is the set-based CTE restricted to one account).  Citus does not
-- run subqueries correlated with the reference table csm.account:
-- csm.distribute() gives the view the set-based form there
-- (csm_internal._account_metrics_view).
CREATE OR REPLACE FUNCTION csm_internal._account_metrics_lateral_sql() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN $metrics$
SELECT a.account_id,
       a.external_id,
       a.status,
       CASE WHEN $3 AND a.seats > 0
            THEN coalesce(u.active_user_days_30, 0) / 30.0 / a.seats END::float8 AS dau_ratio,
       CASE WHEN $4 THEN coalesce(f.adopted, 0) END AS features_adopted,
       ($1 - u.last_active_day) AS days_since_last_activity,
       (coalesce(u.events_14, 0) / NULLIF(u.events_prior_14, 0))::float8 AS usage_trend,
       CASE WHEN $5 THEN coalesce(t.created_30, 0) END::float8 AS tickets_per_month,
       n.score::integer AS nps,
       (a.renewal_date - $1) AS days_to_renewal
FROM @extschema@.account a
LEFT JOIN LATERAL (
    SELECT d.account_id,
           sum(d.active_users) FILTER (WHERE d.day > $1 - 30) AS active_user_days_30,
           sum(d.events) FILTER (WHERE d.day > $1 - 14) AS events_14,
           sum(d.events) FILTER (WHERE d.day > $1 - 28 AND d.day <= $1 - 14) AS events_prior_14,
           max(d.day) FILTER (WHERE d.events > 0) AS last_active_day
    -- Across sources, the same person usually appears in each, so a day's
    -- active users is the largest source's count.
    FROM (SELECT ud.account_id, ud.day, sum(ud.events) AS events, max(ud.active_users) AS active_users
          FROM csm_internal._usage_day ud
          WHERE ud.day <= $1 AND ud.account_id = a.account_id
          GROUP BY ud.account_id, ud.day) d
    GROUP BY d.account_id
) u ON true
LEFT JOIN LATERAL (
    SELECT ff.account_id, count(*)::integer AS adopted
    FROM (SELECT fc.account_id, fc.feature
          FROM csm_internal._usage_feature_day fc
          WHERE fc.day > $1 - 30 AND fc.day <= $1 AND fc.account_id = a.account_id
          GROUP BY fc.account_id, fc.feature
          HAVING sum(fc.events) > 0) ff
    GROUP BY ff.account_id
) f ON true
LEFT JOIN LATERAL (
    SELECT c.account_id,
           count(*) FILTER (WHERE c.created_at >= ($1 - 29)::timestamp AT TIME ZONE 'UTC') AS created_30
    FROM @extschema@.conversation c
    WHERE c.created_at < ($1 + 1)::timestamp AT TIME ZONE 'UTC' AND c.account_id = a.account_id
    GROUP BY c.account_id
) t ON true
LEFT JOIN LATERAL (
    SELECT r.account_id, r.score
    FROM @extschema@.nps_response r
    WHERE r.responded_at < $1 + 1 AND r.account_id = a.account_id AND r.survey_kind = 'relationship'
    ORDER BY r.responded_at DESC, r.response_id DESC
    LIMIT 1
) n ON true
WHERE ($2::bigint IS NULL OR a.account_id = $2)
  AND (a.created_at < ($1 + 1)::timestamp AT TIME ZONE 'UTC'
       OR a.started_at < ($1 + 1)::timestamp AT TIME ZONE 'UTC'
       OR u.account_id IS NOT NULL
       OR n.account_id IS NOT NULL
       OR t.account_id IS NOT NULL)
$metrics$;
COMMENT ON FUNCTION csm_internal._account_metrics_lateral_sql() IS
    'Internal: csm_internal._account_metrics_sql() (same parameters, columns and answers) with each account''s part a LATERAL subquery keyed by the account row, so that a read of one account reads only its rows: the single-node form of csm.account_metrics.';

-- (Re)creates csm.account_metrics: the query itself, as of today, so that a
-- read of some accounts plans only their rows (a function would compute
-- every account first), and Citus sees its tables.  per_account: the
-- LATERAL form (single node); else the set-based form, which Citus runs
-- (csm.distribute() calls it with false).
CREATE OR REPLACE FUNCTION csm_internal._account_metrics_view(per_account boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    EXECUTE pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.account_metrics WITH (security_invoker = true) AS %s',
        pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.regexp_replace(
            pg_catalog.regexp_replace(CASE WHEN per_account THEN csm_internal._account_metrics_lateral_sql()
                                           ELSE csm_internal._account_metrics_sql() END,
            '\$1(?![0-9])', '(pg_catalog.now() AT TIME ZONE ''UTC'')::date', 'g'),
            '\$2(?![0-9])', 'NULL', 'g'),
            '\$3(?![0-9])', '(SELECT x.has_users FROM csm_internal._account_metric_sources() x)', 'g'),
            '\$4(?![0-9])', '(SELECT x.has_features FROM csm_internal._account_metric_sources() x)', 'g'),
            '\$5(?![0-9])', '(SELECT x.has_tickets FROM csm_internal._account_metric_sources() x)', 'g'));
END $fn$;
REVOKE ALL ON FUNCTION csm_internal._account_metrics_view(boolean) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._account_metrics_view(boolean) IS
    'Internal: (re)creates csm.account_metrics as of today, per_account (LATERAL, single node: one account''s read is O(1) in portfolio size) or set-based (what Citus runs; csm.distribute() calls it with false). Same columns and answers.';
SELECT csm_internal._account_metrics_view(per_account => true);
COMMENT ON VIEW @extschema@.account_metrics IS
    'Raw metrics per account as of today (UTC), the inputs of health models. NULL where no source exists.';
COMMENT ON COLUMN @extschema@.account_metrics.dau_ratio IS
    'Average daily active users over the last 30 days (days without use count as 0) divided by seats. NULL without a user column or seats.';
COMMENT ON COLUMN @extschema@.account_metrics.features_adopted IS
    'Distinct features (event column values) used in the last 30 days. NULL when no tracked source has an event column.';
COMMENT ON COLUMN @extschema@.account_metrics.days_since_last_activity IS
    'Days since the last day with events. NULL when the account has never been active.';
COMMENT ON COLUMN @extschema@.account_metrics.usage_trend IS
    'Events in the last 14 days divided by events in the 14 days before. NULL when the earlier window has none.';
COMMENT ON COLUMN @extschema@.account_metrics.tickets_per_month IS
    'Support conversations (csm.conversation) created in the 30 days up to as_of. NULL for every account while csm.conversation has no rows at all.';
COMMENT ON COLUMN @extschema@.account_metrics.nps IS 'The latest answer (0-10) to a relationship NPS survey (csm.nps_response.survey_kind); transactional and milestone answers do not count. NULL when there is none.';
COMMENT ON COLUMN @extschema@.account_metrics.days_to_renewal IS 'Days until renewal_date; negative once it has passed.';
