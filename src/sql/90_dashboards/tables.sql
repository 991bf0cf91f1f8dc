-- Install-only: CREATE EXTENSION runs this file once.  An upgrade changes
-- these objects with explicit steps in src/updates/A--B/ (README, "Source
-- layout"); the functions and views are in the other files here.

-- History to chart (issue 15, section 3): the daily churn risk of every
-- account, and the daily health and churn histories long by UTC day with
-- external_id beside account_id and a timestamptz "time" column, the form
-- Grafana's time series panels and Metabase's line charts read.

-- One churn probability per account per UTC day, written by
-- csm.refresh_churn as csm.health_history is by csm.refresh_health: the
-- day's last refresh wins.  No foreign key (as health_history): on Citus it
-- is distributed by account_id, colocated with csm.churn_score, and
-- csm_internal._forget_accounts removes a deleted account's rows; a churned account
-- keeps its history.
CREATE TABLE IF NOT EXISTS @extschema@.churn_history (
    account_id  bigint NOT NULL,
    day         date NOT NULL,
    probability float8 NOT NULL,
    churn_band  @extschema@.churn_band NOT NULL,
    risk_score  float8 NOT NULL,
    model       text NOT NULL,
    computed_at timestamptz NOT NULL,
    CONSTRAINT churn_history_pkey PRIMARY KEY (account_id, day),
    CONSTRAINT churn_history_probability_range CHECK (probability >= 0 AND probability <= 1),
    CONSTRAINT churn_history_risk_score_range CHECK (risk_score >= 0 AND risk_score <= 100)
);
COMMENT ON TABLE @extschema@.churn_history IS
    'One churn probability per account per UTC day (csm.refresh_churn; the day''s last refresh wins): probability (0-1), churn_band, risk_score (probability x 100), the model that gave it and when. Read csm.churn_daily to chart it.';
COMMENT ON COLUMN @extschema@.churn_history.account_id IS 'The account (csm.account.account_id).';
COMMENT ON COLUMN @extschema@.churn_history.day IS 'The UTC day of the refresh.';
COMMENT ON COLUMN @extschema@.churn_history.probability IS 'Probability (0-1) that the account churns within the model''s horizon.';
COMMENT ON COLUMN @extschema@.churn_history.churn_band IS 'csm.churn_band(probability): low, moderate, high or critical.';
COMMENT ON COLUMN @extschema@.churn_history.risk_score IS 'probability x 100 (0-100), what routing conditions call churn_risk_score.';
COMMENT ON COLUMN @extschema@.churn_history.model IS 'The churn model that gave the probability (csm.churn_model.name, or prior).';
COMMENT ON COLUMN @extschema@.churn_history.computed_at IS 'When the day''s last refresh computed it.';
