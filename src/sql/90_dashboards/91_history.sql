
CREATE OR REPLACE TRIGGER account_forget_churn_history AFTER DELETE ON @extschema@.account
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION csm_internal._forget_accounts('@extschema@.churn_history');

-- The histories to chart, long by UTC day.  Each row's account part is the
-- account row met by its history rows' account_id (an index lookup), so a
-- filter on external_id reads that account's rows only.
CREATE OR REPLACE VIEW @extschema@.health_daily WITH (security_invoker = true) AS
SELECT (h.day::timestamp AT TIME ZONE 'UTC') AS "time",
       h.day,
       h.account_id,
       a.external_id,
       a.name AS account_name,
       h.score,
       h.band AS health_band,
       h.coverage,
       h.model,
       h.model_version,
       h.computed_at,
       h.coverage AS coverage_ratio  -- the vocabulary's name; coverage is deprecated
FROM @extschema@.health_history h
JOIN @extschema@.account a ON a.account_id = h.account_id;
COMMENT ON VIEW @extschema@.health_daily IS
    'csm.health_history to chart: one computed health score per account per UTC day, with external_id and account_name beside account_id and a timestamptz time column (midnight UTC of day) for Grafana.';
COMMENT ON COLUMN @extschema@.health_daily."time" IS 'Midnight UTC at the start of day (timestamptz), the time column of a Grafana time series.';
COMMENT ON COLUMN @extschema@.health_daily.day IS 'The UTC day.';
COMMENT ON COLUMN @extschema@.health_daily.account_id IS 'The account (csm.account.account_id).';
COMMENT ON COLUMN @extschema@.health_daily.external_id IS 'The account''s id in the source system (csm.account.external_id).';
COMMENT ON COLUMN @extschema@.health_daily.account_name IS 'The account''s name (csm.account.name).';
COMMENT ON COLUMN @extschema@.health_daily.score IS 'The computed health score (0-100) of the day''s last refresh; overrides are not history.';
COMMENT ON COLUMN @extschema@.health_daily.health_band IS 'The band of score: green, yellow or red.';
COMMENT ON COLUMN @extschema@.health_daily.coverage_ratio IS 'Share of the model''s weight whose metrics had a value, a ratio (0-1).';
COMMENT ON COLUMN @extschema@.health_daily.coverage IS 'Deprecated: use coverage_ratio; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.health_daily.model IS 'The health model that scored it.';
COMMENT ON COLUMN @extschema@.health_daily.model_version IS 'The model''s version then.';
COMMENT ON COLUMN @extschema@.health_daily.computed_at IS 'When the day''s last refresh computed it.';

CREATE OR REPLACE VIEW @extschema@.churn_daily WITH (security_invoker = true) AS
SELECT (c.day::timestamp AT TIME ZONE 'UTC') AS "time",
       c.day,
       c.account_id,
       a.external_id,
       a.name AS account_name,
       c.probability,
       c.churn_band,
       c.risk_score,
       c.model,
       c.computed_at
FROM @extschema@.churn_history c
JOIN @extschema@.account a ON a.account_id = c.account_id;
COMMENT ON VIEW @extschema@.churn_daily IS
    'csm.churn_history to chart: one churn probability per account per UTC day, with external_id and account_name beside account_id and a timestamptz time column (midnight UTC of day) for Grafana.';
COMMENT ON COLUMN @extschema@.churn_daily."time" IS 'Midnight UTC at the start of day (timestamptz), the time column of a Grafana time series.';
COMMENT ON COLUMN @extschema@.churn_daily.day IS 'The UTC day.';
COMMENT ON COLUMN @extschema@.churn_daily.account_id IS 'The account (csm.account.account_id).';
COMMENT ON COLUMN @extschema@.churn_daily.external_id IS 'The account''s id in the source system (csm.account.external_id).';
COMMENT ON COLUMN @extschema@.churn_daily.account_name IS 'The account''s name (csm.account.name).';
COMMENT ON COLUMN @extschema@.churn_daily.probability IS 'Probability (0-1) that the account churns within the model''s horizon.';
COMMENT ON COLUMN @extschema@.churn_daily.churn_band IS 'csm.churn_band(probability): low, moderate, high or critical.';
COMMENT ON COLUMN @extschema@.churn_daily.risk_score IS 'probability x 100 (0-100).';
COMMENT ON COLUMN @extschema@.churn_daily.model IS 'The churn model that gave the probability.';
COMMENT ON COLUMN @extschema@.churn_daily.computed_at IS 'When the day''s last refresh computed it.';
