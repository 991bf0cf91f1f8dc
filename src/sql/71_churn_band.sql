-- Churn bands: the seed's 90-day churn probability bands, and the 0-100
-- risk score that assignment rules read (src/churn_band.c).

DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace AND t.typname OPERATOR(pg_catalog.=) 'churn_band' AND t.typisdefined) THEN
        CREATE TYPE @extschema@.churn_band AS ENUM ('low', 'moderate', 'high', 'critical');
    END IF;
END $rerunnable$;
COMMENT ON TYPE @extschema@.churn_band IS
    'Churn probability band (90 days): low below 0.30, moderate 0.30 up to 0.50, high 0.50 to 0.70 inclusive, critical above 0.70.';

CREATE OR REPLACE FUNCTION @extschema@.churn_band(probability float8) RETURNS @extschema@.churn_band
AS 'MODULE_PATHNAME', 'csm_churn_band'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.churn_band(float8) IS
    'The band of a churn probability: critical p > 0.70, high 0.50 <= p <= 0.70, moderate 0.30 <= p < 0.50, low p < 0.30. NULL gives NULL; NaN, infinities and values outside [0, 1] raise 22003.';

CREATE OR REPLACE FUNCTION @extschema@.churn_risk_score(probability float8) RETURNS float8
AS 'MODULE_PATHNAME', 'csm_churn_risk_score'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.churn_risk_score(float8) IS
    'A churn probability as a 0-100 risk score (p x 100), so that rules such as churn_risk_score > 80 read naturally. NULL gives NULL; NaN, infinities and values outside [0, 1] raise 22003.';
