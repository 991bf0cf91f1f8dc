-- Install-only, like every tables.sql: CREATE EXTENSION runs it once; an
-- upgrade that adds a table registers it in its own steps.

-- pg_dump keeps every table and sequence that holds user data.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account_account_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.team_member', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.team_member_member_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.nps_response', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.nps_response_response_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.usage_source', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.usage_source_source_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('csm_internal.usage_delta', '');
SELECT pg_catalog.pg_extension_config_dump('csm_internal.usage_pending', '');
SELECT pg_catalog.pg_extension_config_dump('csm_internal.usage_counter', '');
SELECT pg_catalog.pg_extension_config_dump('csm_internal.usage_user_day', '');
SELECT pg_catalog.pg_extension_config_dump('csm_internal.usage_feature_counter', '');
-- Health: user models and mappings, scores, history and overrides; the
-- built-in models are installed by CREATE EXTENSION and left out.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.health_model', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.health_group',
    'WHERE model NOT IN (SELECT name FROM csm.health_model WHERE builtin)');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.health_component',
    'WHERE model NOT IN (SELECT name FROM csm.health_model WHERE builtin)');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.health_model_map', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.health_score', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.health_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.health_override', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.health_override_override_id_seq', '');
-- The segment benchmarks kept with the scores (30_health/46_benchmark.sql), restored with them.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.health_benchmark', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.churn_benchmark', '');
-- Ownership: weights, relationships, load, audit and alerts.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segment_weight', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account_assignment', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account_assignment_assignment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('csm_internal.member_load', '');
SELECT pg_catalog.pg_extension_config_dump('csm_internal.member_pick_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.assignment_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.assignment_log_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.assignment_alert', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.assignment_alert_alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.routing_rule', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.routing_rule_rule_id_seq', '');
-- Revenue: the ARR history (80_revenue/81_revenue.sql).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.arr_change', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.arr_change_change_id_seq', '');
-- Renewals (80_revenue/82_renewal.sql).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.renewal', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.renewal_renewal_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.renewal_reminder', '');
-- Segments: the seed's rows are made by CREATE EXTENSION; changed ones are
-- no longer builtin, and a restore updates the seeded row with them.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segment', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segment_rule', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segment_rule_rule_id_seq', '');
-- The NPS program: your actions per category (the built-in ones are
-- installed by CREATE EXTENSION) and the closed loops.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.nps_category', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.nps_loop', '');
-- Refresh runs (95_platform/79_jobs.sql).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refresh_run', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refresh_run_run_id_seq', '');
-- Success plans and business reviews (85_playbooks/87_success_plan.sql).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.success_plan', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.success_plan_plan_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.success_plan_objective', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.success_plan_milestone', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.success_plan_stakeholder', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.business_review_held', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.business_review_held_review_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.value_metric', '');
-- Alerts and feature launches (85_playbooks/86_alert.sql).
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alert', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alert_alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.feature_launch', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.feature_launch_launch_id_seq', '');

-- pg_dump keeps conversations, their ids, team settings and agents' load
-- and round-robin order.  Restored conversations are taken as they are.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.conversation', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.conversation_conversation_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.support_team', '');
SELECT pg_catalog.pg_extension_config_dump('csm_internal.agent_load', '');
SELECT pg_catalog.pg_extension_config_dump('csm_internal.agent_pick_seq', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.conversation_note', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.conversation_note_note_id_seq', '');

-- pg_dump keeps the input tables, your signal kinds and settings, and the
-- signal history; the built-in kinds are installed by CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stakeholder', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.stakeholder_stakeholder_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_payment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account_note', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account_note_note_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.engagement', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.engagement_engagement_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.churn_signal_kind', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.churn_signal_setting', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.churn_signal', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.churn_model', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.churn_score', '');

-- pg_dump keeps the user's definitions and every account's lifecycle.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.lifecycle_rule', 'WHERE NOT builtin OR customized');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.milestone', 'WHERE NOT builtin OR customized');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.core_feature', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account_lifecycle', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.lifecycle_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.lifecycle_history_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.account_milestone', '');

-- pg_dump keeps the settings and the signal history; the kinds are
-- installed by CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.expansion_signal_setting', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.expansion_signal', '');

-- The trigger writes csm's table after a delete of accounts by whoever may
-- delete them; nobody may attach it elsewhere.

-- pg_dump keeps your playbooks, the built-in ones you changed, every step of
-- those, and every CTA and task.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.playbook', 'WHERE NOT builtin OR customized');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.playbook_playbook_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.playbook_step',
    'WHERE playbook NOT IN (SELECT name FROM csm.playbook WHERE builtin AND NOT customized)');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cta', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cta_cta_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.task', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.task_task_id_seq', '');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.churn_history', '');
