-- Functions whose signature or result type changed: CREATE OR REPLACE cannot
-- change a result type, and a new signature would leave the old one beside
-- it (an ambiguous call for the public ones).  Only csm's own objects depend
-- on these; a user view or function that calls a dropped public one stops
-- the upgrade with its name (recreate it after the upgrade).

-- account_forget_health calls csm._forget_accounts(...) in 0.2.0, which
-- src/sql creates with the trigger.
DROP TRIGGER account_forget_health ON @extschema@.account;
DROP FUNCTION @extschema@._forget_health();
-- conversations: the helpers take new arguments
DROP FUNCTION @extschema@._log_move(@extschema@.conversation, text, bigint);
DROP FUNCTION @extschema@._pick_agent(text, bigint, boolean);
DROP FUNCTION @extschema@._take_agent(bigint, text, boolean);
-- usage: the day expression moved into C; track_usage gained create_accounts
-- and keep_history (defaults: 0.1.0's behaviour)
DROP FUNCTION @extschema@._usage_day_expr(name, regtype);
DROP FUNCTION @extschema@.track_usage(regclass, name, name, name, name);
-- health: csm_health_score and csm_health_evaluate gained lenient (default
-- false: 0.1.0's behaviour), so every 0.1.0 call still resolves
DROP FUNCTION @extschema@.csm_health_score(jsonb, text);
DROP FUNCTION @extschema@.csm_health_evaluate(jsonb, text);
-- churn: the predictions say why an account has none (problem)
DROP FUNCTION @extschema@._churn_predictions(bigint);
