-- Views whose columns changed other than at the end (CREATE OR REPLACE VIEW
-- can only add columns after the existing ones): src/sql creates them again.
-- account_health and churn_risk gained score_age and stale before their
-- trend and signal columns.
DROP VIEW @extschema@.account_health;
DROP VIEW @extschema@.churn_risk;
-- health_score_component's zone is a csm.health_band, which 50_health_band.sql
-- makes again.
DROP VIEW @extschema@.health_score_component;
