
-- The role that caused a change, for audit columns: the session's role or
-- the one SET ROLE chose, never the owner a SECURITY DEFINER function (csm's
-- own API, or csm's usage rollup) runs as.  In C: SQL has no name for it.
CREATE OR REPLACE FUNCTION csm_internal._caller() RETURNS name
AS 'MODULE_PATHNAME', 'csm_caller'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._caller() IS
    'Internal: the role that caused the current statement (the session''s role or the one SET ROLE chose), which SECURITY DEFINER functions do not change; audit rows name it.';
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

CREATE OR REPLACE FUNCTION @extschema@.condition_attributes(condition @extschema@.rule_condition) RETURNS text[]
AS 'MODULE_PATHNAME', 'csm_condition_attributes'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.condition_attributes(@extschema@.rule_condition) IS
    'The distinct attributes a condition reads, such as {arr,plan,property.region}, sorted bytewise: the facts whose change can change its result.';

-- What a segment rule may read: the account's own columns, never facts
-- that other features compute (health, churn), which change all the time.
CREATE OR REPLACE FUNCTION csm_internal._segment_condition_ok(condition @extschema@.rule_condition) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT NOT EXISTS (SELECT 1 FROM unnest(@extschema@.condition_attributes(condition)) a
                       WHERE a NOT IN ('arr', 'seats', 'plan', 'tier', 'external_id') AND a NOT LIKE 'property.%');
END;
COMMENT ON FUNCTION csm_internal._segment_condition_ok(@extschema@.rule_condition) IS
    'Internal: whether a segment rule''s condition reads only what an account row holds: arr, seats, plan, tier, external_id and property.<key>.';
