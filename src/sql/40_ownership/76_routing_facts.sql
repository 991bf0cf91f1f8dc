-- What routing conditions read about an account.  Defined after every
-- feature it reads (health, churn), so that it can read their tables; the
-- routing functions before it are PL/pgSQL and find it at run time.
--
-- PL/pgSQL rather than SQL (it was never inlined): Citus cannot plan a SQL
-- function's parameters, and plans this query, which reads the account's
-- rows of distributed tables, with the account's id, on its shard (each
-- table filtered by the id itself, so that Citus prunes every one).
CREATE OR REPLACE FUNCTION @extschema@.routing_facts(account bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT jsonb_strip_nulls(jsonb_build_object(
               'external_id', a.external_id, 'segment', a.segment, 'plan', a.plan, 'tier', a.tier,
               'status', a.status, 'arr', a.arr, 'seats', a.seats,
               'days_to_renewal', a.renewal_date - (now() AT TIME ZONE 'UTC')::date,
               'health_score', h.score, 'health_band', h.band,
               'churn_risk_score', c.risk_score, 'churn_band', c.band,
               'nps', (SELECT n.score FROM @extschema@.nps_response n
                       WHERE n.account_id = routing_facts.account AND n.survey_kind = 'relationship' ORDER BY n.responded_at DESC, n.response_id DESC LIMIT 1),
               'lifecycle_stage', a.lifecycle_stage, 'onboarding_phase', lc.onboarding_phase,
               'days_since_start', csm_internal._days_since(a.started_at), 'success_criteria_met', lc.success_criteria_met,
               'properties', a.properties))
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
