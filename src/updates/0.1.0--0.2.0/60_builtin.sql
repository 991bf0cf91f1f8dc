-- src/sql inserts the built-in rows (ON CONFLICT DO NOTHING: 0.1.0's rows,
-- as they are, win) before it creates the triggers that refuse anyone
-- else's built-in rows; over 0.1.0 those triggers already exist.  They are
-- off until after/ turns them on again.
ALTER TABLE @extschema@.health_model DISABLE TRIGGER health_model_guard;
ALTER TABLE @extschema@.health_group DISABLE TRIGGER health_group_guard;
ALTER TABLE @extschema@.health_component DISABLE TRIGGER health_component_guard;
ALTER TABLE @extschema@.churn_signal_kind DISABLE TRIGGER churn_signal_kind_guard;
