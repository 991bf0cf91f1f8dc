
CREATE OR REPLACE FUNCTION @extschema@.condition_matches(condition @extschema@.rule_condition, facts jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'csm_condition_matches'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.condition_matches(@extschema@.rule_condition, jsonb) IS
    'Whether an account''s facts, a JSON object such as {"plan": "growth", "arr": 120000, "properties": {"region": "emea"}}, satisfy a condition. '
    'A comparison with a fact that is missing, null or NaN is false, never unknown, so NOT (plan = ''x'') is true when plan is missing while plan != ''x'' is false; '
    'IS NULL is true for a missing or null fact. Text compares exactly (case-sensitive). '
    'A number attribute''s fact must be a JSON number or a string holding one, and a text attribute''s a JSON string, or it is an error; '
    'a property of another type than the literal (booleans compare as ''true'' and ''false'') simply does not match.';
