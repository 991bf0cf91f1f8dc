-- One vocabulary (issue 15, README "Dashboards and BI"): csm.usage_daily
-- and csm.usage_feature_daily's source changes type, regclass to text (the
-- tracked table's name, which outlives it), and CREATE OR REPLACE VIEW
-- cannot change a column's type: the install script's body recreates both
-- (src/sql/20_usage/20_usage.sql), with the regclass kept as source_relation,
-- deprecated.  No CASCADE: a view of yours over them stops the upgrade
-- (2BP01, "cannot drop view ... because other objects depend on it") rather
-- than disappear; drop it, update, and create it again.
-- Every other renamed column is appended to its view, and no function of
-- 0.1.0 changes its result type.
DROP VIEW IF EXISTS @extschema@.usage_daily;
DROP VIEW IF EXISTS @extschema@.usage_feature_daily;
