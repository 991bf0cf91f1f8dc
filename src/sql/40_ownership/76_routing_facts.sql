-- What routing conditions read about an account.  Defined after every
-- feature it reads (health, churn), so that it can read their tables; the
-- routing functions before it are PL/pgSQL and find it at run time.
--
-- PL/pgSQL rather than SQL (it was never inlined): Citus cannot plan a SQL
-- function's parameters, and plans this query, which reads the account's
-- rows of distributed tables, with the account's id, on its shard (each
-- table filtered by the id itself, so that Citus prunes every one).
-- The object itself, from the account's columns and what the other
-- features hold about it: csm.routing_facts builds it for one account,
-- csm_internal._routing_facts_of for many at once.  (Columns rather than
-- the account's row: on Citus the query runs on a worker, where the row is
-- of the shard's type.)
CREATE OR REPLACE FUNCTION csm_internal._routing_facts_object(
    external_id text, segment text, plan text, tier text, status text, arr numeric, seats integer,
    renewal_date date, health_score double precision, health_band @extschema@.health_band,
    churn_risk_score double precision, churn_band @extschema@.churn_band, nps smallint,
    lifecycle_stage @extschema@.lifecycle_stage, onboarding_phase @extschema@.onboarding_phase,
    started_at timestamptz, success_criteria_met smallint, properties jsonb) RETURNS jsonb
-- (SQL: inlined where it is called)
LANGUAGE sql STABLE PARALLEL SAFE
RETURN pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'external_id', external_id, 'segment', segment, 'plan', plan, 'tier', tier,
    'status', status, 'arr', arr, 'seats', seats,
    'days_to_renewal', renewal_date OPERATOR(pg_catalog.-) (pg_catalog.now() AT TIME ZONE 'UTC')::pg_catalog.date,
    'health_score', health_score, 'health_band', health_band,
    'churn_risk_score', churn_risk_score, 'churn_band', churn_band,
    'nps', nps,
    'lifecycle_stage', lifecycle_stage, 'onboarding_phase', onboarding_phase,
    'days_since_start', csm_internal._days_since(started_at), 'success_criteria_met', success_criteria_met,
    'properties', properties));
COMMENT ON FUNCTION csm_internal._routing_facts_object(text, text, text, text, text, numeric, integer, date, double precision,
    @extschema@.health_band, double precision, @extschema@.churn_band, smallint, @extschema@.lifecycle_stage,
    @extschema@.onboarding_phase, timestamptz, smallint, jsonb) IS
    'Internal: the JSON object of csm.routing_facts from its parts (NULL parts left out).';

CREATE OR REPLACE FUNCTION @extschema@.routing_facts(account bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT csm_internal._routing_facts_object(
               a.external_id, a.segment, a.plan, a.tier, a.status, a.arr, a.seats, a.renewal_date,
               h.score, h.band, c.risk_score, c.band,
               (SELECT n.score FROM @extschema@.nps_response n
                WHERE n.account_id = routing_facts.account AND n.survey_kind = 'relationship' ORDER BY n.responded_at DESC, n.response_id DESC LIMIT 1),
               a.lifecycle_stage, lc.onboarding_phase, a.started_at, lc.success_criteria_met, a.properties)
    FROM @extschema@.account a
    LEFT JOIN LATERAL (
        SELECT coalesce(o.score, s.score) AS score,
               CASE WHEN o.score IS NOT NULL THEN @extschema@.health_band(o.score) ELSE s.band END AS band
        FROM (SELECT 1) one
        LEFT JOIN @extschema@.health_score s ON s.account_id = routing_facts.account
        LEFT JOIN LATERAL (
            SELECT ov.score FROM @extschema@.health_override ov
            WHERE ov.account_id = routing_facts.account AND ov.cleared_at IS NULL
              AND (ov.expires_at IS NULL OR ov.expires_at > now())
            ORDER BY ov.override_id DESC LIMIT 1) o ON true) h ON true
    LEFT JOIN @extschema@.churn_score c ON c.account_id = routing_facts.account
    LEFT JOIN @extschema@.account_lifecycle lc ON lc.account_id = routing_facts.account
    WHERE a.account_id = routing_facts.account);
END $$;
COMMENT ON FUNCTION @extschema@.routing_facts(bigint) IS
    'The facts routing conditions read about an account, as a JSON object: external_id, segment, plan, tier, status, arr, seats, days_to_renewal, health_score and health_band (effective, override included), churn_risk_score and churn_band (csm.churn_score, from the last csm.refresh_churn), nps (the latest relationship survey answer, as health models read it), lifecycle_stage, onboarding_phase, days_since_start and success_criteria_met (csm.account_lifecycle), properties. Missing facts are absent.';

-- The same facts for many accounts in one query (joins of the sets rather
-- than csm.routing_facts once per account): for a playbook's condition
-- over every account a refresh fires it for.  Accounts that do not exist
-- have no row.
CREATE OR REPLACE FUNCTION csm_internal._routing_facts_of(accounts bigint[])
RETURNS TABLE (account_id bigint, facts jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT a.account_id, csm_internal._routing_facts_object(
               a.external_id, a.segment, a.plan, a.tier, a.status, a.arr, a.seats, a.renewal_date,
               coalesce(o.score, s.score), CASE WHEN o.score IS NOT NULL THEN @extschema@.health_band(o.score) ELSE s.band END,
               c.risk_score, c.band, n.score, a.lifecycle_stage, lc.onboarding_phase, a.started_at,
               lc.success_criteria_met, a.properties)
    FROM @extschema@.account a
    LEFT JOIN @extschema@.health_score s ON s.account_id = a.account_id
    LEFT JOIN (SELECT DISTINCT ON (ov.account_id) ov.account_id, ov.score
               FROM @extschema@.health_override ov
               WHERE ov.cleared_at IS NULL AND (ov.expires_at IS NULL OR ov.expires_at > now())
                 AND ov.account_id IN (SELECT unnest(accounts))
               ORDER BY ov.account_id, ov.override_id DESC) o ON o.account_id = a.account_id
    LEFT JOIN @extschema@.churn_score c ON c.account_id = a.account_id
    LEFT JOIN @extschema@.account_lifecycle lc ON lc.account_id = a.account_id
    LEFT JOIN (SELECT DISTINCT ON (r.account_id) r.account_id, r.score
               FROM @extschema@.nps_response r
               WHERE r.survey_kind = 'relationship' AND r.account_id IN (SELECT unnest(accounts))
               ORDER BY r.account_id, r.responded_at DESC, r.response_id DESC) n ON n.account_id = a.account_id
    WHERE a.account_id IN (SELECT unnest(accounts));
END $$;
COMMENT ON FUNCTION csm_internal._routing_facts_of(bigint[]) IS
    'Internal: csm.routing_facts of each of these accounts (those that exist), in one query.';
