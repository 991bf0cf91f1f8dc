-- After the install script (csm--0.1.0--0.2.0.sql ends here).

-- The guards 60_builtin.sql turned off.
ALTER TABLE @extschema@.health_model ENABLE TRIGGER health_model_guard;
ALTER TABLE @extschema@.health_group ENABLE TRIGGER health_group_guard;
ALTER TABLE @extschema@.health_component ENABLE TRIGGER health_component_guard;
ALTER TABLE @extschema@.churn_signal_kind ENABLE TRIGGER churn_signal_kind_guard;

-- Who did it: the role that caused the change (csm_internal._caller(), which sees
-- through csm's SECURITY DEFINER functions), not CURRENT_USER.
ALTER TABLE @extschema@.account_assignment ALTER COLUMN assigned_by SET DEFAULT csm_internal._caller();
ALTER TABLE @extschema@.assignment_log ALTER COLUMN actor SET DEFAULT csm_internal._caller();
ALTER TABLE @extschema@.health_override ALTER COLUMN created_by SET DEFAULT csm_internal._caller();
