-- Routing-rule conditions: a small expression language, parsed and checked
-- in C when a value is written, and evaluated in C against a jsonb object of
-- facts about an account. No SQL text a user wrote is ever run.

DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace AND t.typname OPERATOR(pg_catalog.=) 'rule_condition') THEN
        CREATE TYPE @extschema@.rule_condition;
    END IF;
END $rerunnable$;

CREATE OR REPLACE FUNCTION csm_internal.rule_condition_in(cstring) RETURNS @extschema@.rule_condition
AS 'MODULE_PATHNAME', 'csm_rule_condition_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal.rule_condition_in(cstring) IS
    'Input function of csm.rule_condition: parses and checks a condition such as plan = ''growth'' AND churn_risk_score > 80.';

CREATE OR REPLACE FUNCTION csm_internal.rule_condition_out(@extschema@.rule_condition) RETURNS cstring
AS 'MODULE_PATHNAME', 'csm_rule_condition_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal.rule_condition_out(@extschema@.rule_condition) IS
    'Output function of csm.rule_condition: the canonical text, which reads back as the same condition.';

CREATE OR REPLACE FUNCTION csm_internal.rule_condition_recv(internal) RETURNS @extschema@.rule_condition
AS 'MODULE_PATHNAME', 'csm_rule_condition_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal.rule_condition_recv(internal) IS
    'Binary input function of csm.rule_condition: the canonical text, parsed and checked like text input.';

CREATE OR REPLACE FUNCTION csm_internal.rule_condition_send(@extschema@.rule_condition) RETURNS bytea
AS 'MODULE_PATHNAME', 'csm_rule_condition_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal.rule_condition_send(@extschema@.rule_condition) IS
    'Binary output function of csm.rule_condition: the canonical text.';

DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace AND t.typname OPERATOR(pg_catalog.=) 'rule_condition' AND t.typisdefined) THEN
        CREATE TYPE @extschema@.rule_condition (
    INPUT = csm_internal.rule_condition_in,
    OUTPUT = csm_internal.rule_condition_out,
    RECEIVE = csm_internal.rule_condition_recv,
    SEND = csm_internal.rule_condition_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = extended
);
    END IF;
END $rerunnable$;
COMMENT ON TYPE @extschema@.rule_condition IS
    'The condition of a routing rule, such as plan = ''growth'' AND (churn_risk_score > 80 OR segment IN (''enterprise'', ''mid_market'')). '
    'Predicates: attribute op literal (=, !=, <>, <, <=, >, >=), attribute [NOT] IN (literal, ...), attribute IS [NOT] NULL; '
    'combined with AND, OR, NOT and parentheses; TRUE and FALSE. '
    'Text attributes: segment, plan, tier, status, health_band, churn_band, lifecycle_stage, onboarding_phase, external_id (compared with strings by =, != and IN). '
    'Number attributes: arr, seats, health_score, churn_risk_score, days_to_renewal, nps, days_since_start, success_criteria_met. '
    'property.<key> reads facts->''properties''->key, as text with a string and as a number with a number. '
    'Checked when written; at most 4096 bytes, 256 nodes and 32 levels of nesting.';

CREATE OR REPLACE FUNCTION @extschema@.condition_matches(condition @extschema@.rule_condition, facts jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'csm_condition_matches'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.condition_matches(@extschema@.rule_condition, jsonb) IS
    'Whether an account''s facts, a JSON object such as {"plan": "growth", "arr": 120000, "properties": {"region": "emea"}}, satisfy a condition. '
    'A comparison with a fact that is missing, null or NaN is false, never unknown, so NOT (plan = ''x'') is true when plan is missing while plan != ''x'' is false; '
    'IS NULL is true for a missing or null fact. Text compares exactly (case-sensitive). '
    'A number attribute''s fact must be a JSON number or a string holding one, and a text attribute''s a JSON string, or it is an error; '
    'a property of another type than the literal (booleans compare as ''true'' and ''false'') simply does not match.';

CREATE OR REPLACE FUNCTION @extschema@.condition_attributes(condition @extschema@.rule_condition) RETURNS text[]
AS 'MODULE_PATHNAME', 'csm_condition_attributes'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.condition_attributes(@extschema@.rule_condition) IS
    'The distinct attributes a condition reads, such as {arr,plan,property.region}, sorted bytewise: the facts whose change can change its result.';
