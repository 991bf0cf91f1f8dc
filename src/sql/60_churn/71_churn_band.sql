
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
