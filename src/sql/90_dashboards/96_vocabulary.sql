-- One vocabulary over the public views (README "Dashboards and BI"):
-- _at timestamptz, _date date, _ratio 0-1, _pct 0-100, _arr money,
-- health_band and churn_band, account_name, external_id beside account_id.
-- The views append the columns named so (CREATE OR REPLACE VIEW then works
-- over a 0.1.0 install); the names they replace stay for 0.2.0, deprecated,
-- and go in 0.3.0.  test/pgtap/vocabulary.sql reads the catalog and fails on
-- a public column that breaks the vocabulary and is not listed there.
-- Here: the comments of the new columns (with their unit) and of the
-- deprecated ones; those with a comment next to their view are there.

COMMENT ON COLUMN @extschema@.account_health.account_name IS 'The account''s name (csm.account.name).';
COMMENT ON COLUMN @extschema@.account_health.health_band IS 'The effective health band (green, yellow, red): of the override while one is in effect, else the computed one.';
COMMENT ON COLUMN @extschema@.account_health.computed_health_band IS 'The band of the computed score (csm.health_score.band), overrides aside.';
COMMENT ON COLUMN @extschema@.account_health.coverage_ratio IS 'Share of the model''s weight whose metrics had a value, a ratio (0-1).';
COMMENT ON COLUMN @extschema@.account_health.name IS 'Deprecated: use account_name; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.account_health.band IS 'Deprecated: use health_band; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.account_health.computed_band IS 'Deprecated: use computed_health_band; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.account_health.coverage IS 'Deprecated: use coverage_ratio; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.churn_risk.account_name IS 'The account''s name (csm.account.name).';
COMMENT ON COLUMN @extschema@.churn_risk.churn_band IS 'csm.churn_band(probability): low, moderate, high or critical.';
COMMENT ON COLUMN @extschema@.churn_risk.name IS 'Deprecated: use account_name; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.churn_risk.band IS 'Deprecated: use churn_band; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.agent_performance.member_name IS 'The agent''s name (csm.team_member.name).';
COMMENT ON COLUMN @extschema@.agent_performance.resolution_ratio IS 'resolved / handled, a ratio (0-1, three decimals); NULL before the first conversation.';
COMMENT ON COLUMN @extschema@.agent_performance.name IS 'Deprecated: use member_name; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.agent_performance.resolution_rate IS 'Deprecated: use resolution_ratio; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.assignment.started_at IS 'When the relationship started (timestamptz).';
COMMENT ON COLUMN @extschema@.assignment.since IS 'Deprecated: use started_at; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.assignment_workload.member_name IS 'The member''s name (csm.team_member.name).';
COMMENT ON COLUMN @extschema@.assignment_workload.utilisation_ratio IS 'load / effective_capacity, a ratio (0-1 within capacity, above 1 over it; three decimals).';
COMMENT ON COLUMN @extschema@.assignment_workload.capacity_defaulted IS 'True when the member has no capacity and effective_capacity is a full book of 100 load units.';
COMMENT ON COLUMN @extschema@.assignment_workload.name IS 'Deprecated: use member_name; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.assignment_workload.utilisation IS 'Deprecated: use utilisation_ratio; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.assignment_workload.capacity_from_ratio IS 'Deprecated: use capacity_defaulted; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.health_trend.since_date IS 'The first UTC day (date) of scores.';
COMMENT ON COLUMN @extschema@.health_trend.since IS 'Deprecated: use since_date; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.health_score_component.external_id IS 'The account''s key in your systems (csm.account.external_id).';

COMMENT ON COLUMN @extschema@.unassigned_queue.queued_at IS 'Since when the account waits (timestamptz): the open alert''s creation, else the account''s.';
COMMENT ON COLUMN @extschema@.unassigned_queue.waiting_since IS 'Deprecated: use queued_at; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.usage_daily.source IS 'The tracked table''s name (text; schema-qualified outside public: csm.usage_source.source_name); it stays after a DROP TABLE with keep_history.';
COMMENT ON COLUMN @extschema@.usage_daily.source_relation IS 'Deprecated: use source; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.usage_feature_daily.source IS 'The tracked table''s name (text; schema-qualified outside public: csm.usage_source.source_name); it stays after a DROP TABLE with keep_history.';
COMMENT ON COLUMN @extschema@.usage_feature_daily.source_relation IS 'Deprecated: use source; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.usage_unknown_key.source IS 'The tracked table''s name (text; schema-qualified outside public: csm.usage_source.source_name).';
COMMENT ON COLUMN @extschema@.usage_unknown_key.first_seen_date IS 'The first UTC day (date) with events for the key.';
COMMENT ON COLUMN @extschema@.usage_unknown_key.last_seen_date IS 'The last UTC day (date) with events for the key.';
COMMENT ON COLUMN @extschema@.usage_unknown_key.first_seen IS 'Deprecated: use first_seen_date; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.usage_unknown_key.last_seen IS 'Deprecated: use last_seen_date; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.alert_open.account_name IS 'The account''s name (csm.account.name).';
COMMENT ON COLUMN @extschema@.alert_open.name IS 'Deprecated: use account_name; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.business_review_due.account_name IS 'The account''s name (csm.account.name).';
COMMENT ON COLUMN @extschema@.business_review_due.health_band IS 'The computed health band (green, yellow, red) that sets the operational cadence.';
COMMENT ON COLUMN @extschema@.business_review_due.due_date IS 'The UTC day (date) the review is due: the last one held, else the account''s start, plus the cadence.';
COMMENT ON COLUMN @extschema@.business_review_due.name IS 'Deprecated: use account_name; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.business_review_due.band IS 'Deprecated: use health_band; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.business_review_due.due_on IS 'Deprecated: use due_date; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.expansion_candidate.account_name IS 'The account''s name (csm.account.name).';
COMMENT ON COLUMN @extschema@.expansion_candidate.name IS 'Deprecated: use account_name; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.onboarding_status.account_name IS 'The account''s name (csm.account.name).';
COMMENT ON COLUMN @extschema@.onboarding_status.name IS 'Deprecated: use account_name; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.renewal_pipeline.account_name IS 'The account''s name (csm.account.name).';
COMMENT ON COLUMN @extschema@.renewal_pipeline.churn_model_trained_at IS 'When the churn model that scored the account was trained (timestamptz, its version); NULL for the prior.';
COMMENT ON COLUMN @extschema@.renewal_pipeline.name IS 'Deprecated: use account_name; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.renewal_pipeline.churn_model_version IS 'Deprecated: use churn_model_trained_at; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.revenue_monthly.grr_ratio IS 'Gross revenue retention of the month, a ratio (0-1): sum(least(start, end)) / starting_arr; NULL without starting ARR.';
COMMENT ON COLUMN @extschema@.revenue_monthly.nrr_ratio IS 'Net revenue retention of the month, a ratio (1 is flat, above 1 with expansion): ending ARR of the starting customers / starting_arr; NULL without starting ARR.';
COMMENT ON COLUMN @extschema@.revenue_monthly.grr_12m_ratio IS 'Gross revenue retention over the trailing twelve months, a ratio (0-1).';
COMMENT ON COLUMN @extschema@.revenue_monthly.nrr_12m_ratio IS 'Net revenue retention over the trailing twelve months, a ratio (1 is flat).';
COMMENT ON COLUMN @extschema@.revenue_monthly.logo_churn_12m_ratio IS 'Customers of twelve months before at 0 ARR now / those customers, a ratio (0-1).';
COMMENT ON COLUMN @extschema@.revenue_monthly.arpa_arr IS 'Average ARR per paying customer: ending_arr / customers (money, the unit of csm.account.arr).';
COMMENT ON COLUMN @extschema@.revenue_monthly.ltv_arr IS 'Customer lifetime value: arpa_arr / logo_churn_12m_ratio (money, the unit of csm.account.arr); NULL, never infinite, without churn.';
COMMENT ON COLUMN @extschema@.revenue_monthly.grr IS 'Deprecated: use grr_ratio; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.revenue_monthly.nrr IS 'Deprecated: use nrr_ratio; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.revenue_monthly.grr_12m IS 'Deprecated: use grr_12m_ratio; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.revenue_monthly.nrr_12m IS 'Deprecated: use nrr_12m_ratio; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.revenue_monthly.logo_churn_rate_12m IS 'Deprecated: use logo_churn_12m_ratio; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.revenue_monthly.arpa IS 'Deprecated: use arpa_arr; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.revenue_monthly.ltv IS 'Deprecated: use ltv_arr; removed in 0.3.0.';

COMMENT ON COLUMN @extschema@.success_plan_progress.progress_ratio IS 'Progress from baseline to target, a ratio clamped to 0-1 (csm.success_progress); NULL without a current value or target.';
COMMENT ON COLUMN @extschema@.success_plan_progress.progress IS 'Deprecated: use progress_ratio; removed in 0.3.0.';
