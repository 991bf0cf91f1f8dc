-- csm.rule_condition: every error path by SQLSTATE; the limits; inputs that
-- must never crash (huge, deeply nested, random bytes, token soup); and
-- property checks over thousands of generated conditions: the parser and
-- printer agree with a reference printer written here, the canonical text
-- reads back as itself, and evaluation agrees with a reference evaluator
-- written here in PL/pgSQL. Every assertion returns its counterexamples.
BEGIN;
SELECT plan(154);
SELECT setseed(0.2718);
SET LOCAL extra_float_digits = 1;	-- float8 text is the shortest exact form, as the type prints

-- The objects. ------------------------------------------------------------------------
SELECT has_type('csm', 'rule_condition', 'type csm.rule_condition exists');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
    WHERE p.pronamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace)
      AND p.proname IN ('rule_condition_in', 'rule_condition_out', 'rule_condition_recv', 'rule_condition_send',
                        'condition_matches', 'condition_attributes')
      AND NOT (p.provolatile = 'i' AND p.proisstrict AND p.proparallel = 's' AND obj_description(p.oid, 'pg_proc') IS NOT NULL)
$$, 'the type''s functions, condition_matches and condition_attributes are IMMUTABLE STRICT PARALLEL SAFE and commented');
SELECT is((SELECT count(*) FROM pg_proc p WHERE p.pronamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace)
           AND p.proname IN ('rule_condition_in', 'rule_condition_out', 'rule_condition_recv', 'rule_condition_send',
                             'condition_matches', 'condition_attributes')), 6::bigint, 'all six functions exist');
SELECT ok(obj_description('csm.rule_condition'::regtype, 'pg_type') IS NOT NULL, 'the type is commented');
SELECT is((SELECT typalign::text || typstorage::text FROM pg_type WHERE oid = 'csm.rule_condition'::regtype), 'dx',
          'the type is aligned as double and stored extended');
SELECT function_returns('csm', 'condition_matches', ARRAY['csm.rule_condition', 'jsonb'], 'boolean',
                        'condition_matches(rule_condition, jsonb) returns boolean');
SELECT function_returns('csm', 'condition_attributes', ARRAY['csm.rule_condition'], 'text[]',
                        'condition_attributes(rule_condition) returns text[]');

-- Errors of the input function, by SQLSTATE. ----------------------------------------------
SELECT throws_ok(format('SELECT %L::csm.rule_condition', c), code, NULL, why)
FROM (VALUES
    ('', '42601', 'empty input'),
    (E' \t\n ', '42601', 'blank input'),
    ($$plan = 'growth$$, '42601', 'an unterminated string'),
    ($$plan = 'it''s$$, '42601', 'an unterminated string ending in an escaped quote'),
    ('plan =', '42601', 'input that ends where a literal is due'),
    ('plan', '42601', 'an attribute alone'),
    ('(plan = ''a''', '42601', 'an unclosed parenthesis'),
    ('plan = ''a'')', '42601', 'a stray closing parenthesis'),
    ('plan = ''a'' plan = ''b''', '42601', 'two predicates without AND or OR'),
    ('plan = growth', '42601', 'an unquoted string'),
    ('plan == ''a''', '42601', 'a doubled ='),
    ('plan ! ''a''', '42601', '! without ='),
    ('plan => 5', '42601', '=> is no operator'),
    ('plan NOT = ''a''', '42601', 'NOT before an operator other than IN'),
    ('plan IN ()', '42601', 'an empty IN list'),
    ('plan IN ''a''', '42601', 'an IN list without parentheses'),
    ('plan IN (''a'',)', '42601', 'a trailing comma in an IN list'),
    ('plan IN (''a'' ''b'')', '42601', 'a missing comma in an IN list'),
    ('plan IS 5', '42601', 'IS followed by a value'),
    ('plan IS NOT', '42601', 'IS NOT at the end'),
    ('plan = ''a'' AND', '42601', 'AND at the end'),
    ('OR plan = ''a''', '42601', 'OR at the start'),
    ('NOT', '42601', 'NOT alone'),
    ('()', '42601', 'empty parentheses'),
    ('arr > .5', '42601', 'a number without a leading digit'),
    ('arr > 5.', '42601', 'a number with an empty fraction'),
    ('arr > 1e', '42601', 'a number with an empty exponent'),
    ('arr > 0x10', '42601', 'a hexadecimal number'),
    ('arr > - 5', '42601', 'a sign apart from its number'),
    ('arr > 5 ;', '42601', 'a semicolon'),
    ('plan = ''a''; DROP TABLE x', '42601', 'SQL after a condition'),
    ('plan = $$a$$', '42601', 'dollar quoting'),
    ('plan = "a"', '42601', 'double quotes'),
    ('plan = ''a'' -- comment', '42601', 'an SQL comment'),
    ('property . region = ''x''', '42703', 'a property with spaces around the dot is property alone'),
    ('property.Region = ''x''', '42601', 'a property key with upper case'),
    ('property.1x = ''x''', '42601', 'a property key starting with a digit'),
    ('property.a.b = ''x''', '42601', 'a property key with a dot'),
    ('property. = ''x''', '42601', 'an empty property key'),
    ('null = 1', '42601', 'a keyword as an attribute'),
    ('-arr > 5', '42601', 'a signed attribute'),
    ('région = ''x''', '42703', 'a non-ASCII attribute, reported whole'),
    ('plan = ''a'' é', '42601', 'a non-ASCII word after a condition'),
    ('region = ''emea''', '42703', 'an unknown attribute'),
    ('property = ''x''', '42703', 'property without a key'),
    ('plan.x = ''x''', '42703', 'a dotted name other than property'),
    ('customer.plan = ''x''', '42703', 'a qualified attribute'),
    ('plan = 5', '42804', 'a text attribute compared with a number'),
    ('segment IN (''smb'', 5)', '42804', 'a text attribute with a number in its IN list'),
    ('arr = ''5''', '42804', 'a number attribute compared with a string'),
    ('nps NOT IN (''9'')', '42804', 'a number attribute with a string in its IN list'),
    ('plan < ''m''', '42804', 'ordering a text attribute'),
    ('status >= ''active''', '42804', 'ordering a text attribute with >='),
    ('property.region > ''m''', '42804', 'ordering a property by a string'),
    ('property.x IN (''a'', 1)', '42804', 'an IN list mixing strings and numbers'),
    ('arr > 1e400', '22003', 'a number beyond double precision'),
    ('arr > -1e400', '22003', 'a negative number beyond double precision'),
    ('arr > 1e-400', '22003', 'a number that rounds to zero'),
    ('arr > NaN', '22003', 'NaN'),
    ('arr > ''NaN''', '42804', 'NaN as a string is a string'),
    ('arr < Infinity', '22003', 'Infinity'),
    ('arr < -infinity', '22003', '-infinity'),
    ('arr IN (1, inf)', '22003', 'inf in an IN list'),
    ('property.x = 1' || repeat('0', 400), '22003', 'a 401-digit integer'),
    ('health_band = ''purple''', '22023', 'an unknown health band'),
    ('health_band = ''Red''', '22023', 'a health band in the wrong case'),
    ('churn_band IN (''low'', ''severe'')', '22023', 'an unknown churn band in an IN list'),
    ('churn_band != ''''', '22023', 'an empty churn band')
) AS t(c, code, why);

-- Limits. -----------------------------------------------------------------------------------
SELECT lives_ok(format('SELECT %L::csm.rule_condition', repeat('(', 32) || 'TRUE' || repeat(')', 32)), '32 nested parentheses');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', repeat('(', 33) || 'TRUE' || repeat(')', 33)), '54000', NULL, '33 nested parentheses');
SELECT lives_ok(format('SELECT %L::csm.rule_condition', repeat('NOT ', 32) || 'TRUE'), '32 NOTs');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', repeat('NOT ', 33) || 'TRUE'), '54000', NULL, '33 NOTs');
SELECT is((repeat('NOT (', 32) || 'plan = ''x''' || repeat(')', 32))::csm.rule_condition::text::csm.rule_condition::text,
          repeat('NOT ', 32) || '(plan = ''x'')',
          'NOT ( counts once: 32 of them read, print as NOT (plan = ''x''), and read back');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', repeat('NOT (', 33) || 'TRUE' || repeat(')', 33)), '54000', NULL, '33 NOT (');
SELECT lives_ok(format('SELECT %L::csm.rule_condition', 'plan IN (' || (SELECT string_agg('''p''', ', ') FROM generate_series(1, 255)) || ')'),
                '256 nodes: an IN list of 255');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', 'plan IN (' || (SELECT string_agg('''p''', ', ') FROM generate_series(1, 256)) || ')'),
                 '54000', NULL, '257 nodes: an IN list of 256');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', (SELECT string_agg('nps = ' || i, ' OR ') FROM generate_series(1, 257) i)),
                 '54000', NULL, '258 nodes: 257 predicates under OR');
SELECT lives_ok(format('SELECT %L::csm.rule_condition', 'plan = ''' || repeat('x', 4096 - 9) || ''''), '4096 bytes');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', 'plan = ''' || repeat('x', 4096 - 8) || ''''), '54000', NULL, '4097 bytes');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', 'arr IN (' || (SELECT string_agg('1e14', ',') FROM generate_series(1, 250)) || ')'),
                 '54000', NULL, '1300 bytes whose canonical text (100000000000000, ...) passes 4096 bytes');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', repeat('(', 100000) || 'TRUE' || repeat(')', 100000)), '54000', NULL,
                 '100k nested parentheses');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', repeat('NOT ', 100000) || 'TRUE'), '54000', NULL, '100k NOTs');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', 'plan = ''' || repeat('x', 1024 * 1024) || ''''), '54000', NULL, 'a 1 MB string');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', repeat('(', 4000)), '54000', NULL, '4000 opening parentheses only');
SELECT throws_ok(format('SELECT %L::csm.rule_condition', repeat('NOT ', 1000) || 'TRUE'), '54000', NULL, '1000 NOTs within 4096 bytes');

-- NULLs. --------------------------------------------------------------------------------------
SELECT is(NULL::text::csm.rule_condition::text, NULL, 'a NULL condition is NULL');
SELECT is(csm.condition_matches(NULL, '{}'), NULL, 'condition_matches of a NULL condition is NULL');
SELECT is(csm.condition_matches('TRUE', NULL), NULL, 'condition_matches of NULL facts is NULL');
SELECT is(csm.condition_attributes(NULL), NULL, 'condition_attributes of NULL is NULL');

-- Errors of evaluation: facts that are not what csm's own functions produce. ---------------
SELECT throws_ok(format('SELECT csm.condition_matches(%L, %L)', c, f), '22023', NULL, why)
FROM (VALUES
    ('TRUE', '[]', 'facts as an array'),
    ('TRUE', '5', 'facts as a number'),
    ('TRUE', '"plan"', 'facts as a string'),
    ('TRUE', 'null', 'facts as JSON null'),
    ('arr > 5', '{"arr": "many"}', 'a number attribute holding a non-numeric string'),
    ('arr > 5', '{"arr": "5 "}', 'a number attribute holding a padded numeric string'),
    ('arr > 5', '{"arr": true}', 'a number attribute holding a boolean'),
    ('nps IN (9, 10)', '{"nps": [9]}', 'a number attribute holding an array (IN)'),
    ('plan = ''x''', '{"plan": 5}', 'a text attribute holding a number'),
    ('plan != ''x''', '{"plan": {"name": "x"}}', 'a text attribute holding an object'),
    ('property.x = 1', '{"properties": [1]}', 'properties as an array'),
    ('property.x IS NULL', '{"properties": "x"}', 'properties as a string, even for IS NULL'),
    ('TRUE OR arr > 5', '{"arr": "many"}', 'a bad fact is an error even where TRUE OR decides'),
    ('FALSE AND plan = ''x''', '{"plan": 5}', 'a bad fact is an error even where FALSE AND decides')
) AS t(c, f, why);
SELECT lives_ok($$SELECT csm.condition_matches('plan IS NULL AND arr IS NOT NULL', '{"plan": 5, "arr": "many"}')$$,
                'IS NULL only asks whether a fact is there, whatever its type');
SELECT is(csm.condition_matches('property.x = 1 OR property.x = ''1''', '{"properties": {"x": [1]}}'), false,
          'a property of another type than the literal does not match, and is no error');

-- Evaluation of corner cases. -----------------------------------------------------------------
SELECT is(csm.condition_matches(c::csm.rule_condition, f::jsonb), want, why)
FROM (VALUES
    ('arr = 0.1', '{"arr": 0.1}', true, 'a decimal fact equals the same decimal literal'),
    ('arr = 0.1', '{"arr": "0.1"}', true, 'a numeric string fact equals the literal'),
    ('arr = 100', '{"arr": 1e2}', true, 'a JSON number in exponent form'),
    ('arr > 1e300', '{"arr": 1e400}', true, 'a JSON number beyond double precision is infinite, not an error'),
    ('arr < -1e300', '{"arr": "-Infinity"}', true, '-Infinity as a string'),
    ('arr = 0', '{"arr": -0}', true, '-0 equals 0'),
    ('arr = 5 OR arr != 5 OR arr < 5 OR arr > 5', '{"arr": "NaN"}', false, 'NaN matches nothing, not even !='),
    ('arr NOT IN (1, 2)', '{"arr": "nan"}', false, 'NaN matches no NOT IN'),
    ('NOT (arr = 5)', '{"arr": "NaN"}', true, 'NOT of a comparison with NaN'),
    ('arr IS NOT NULL', '{"arr": "NaN"}', true, 'NaN is a value: IS NOT NULL'),
    ('plan NOT IN (''a'')', '{}', false, 'NOT IN with a missing fact is false'),
    ('NOT plan IN (''a'')', '{}', true, 'NOT (IN) with a missing fact is true'),
    ('plan = ''''', '{"plan": ""}', true, 'the empty string'),
    ('external_id = ''o''''brien''', '{"external_id": "o''brien"}', true, 'a quote in a string'),
    ('plan = ''growth''', '{"plan": "growth "}', false, 'text compares exactly: trailing space'),
    ('plan = ''Growth''', '{"plan": "growth"}', false, 'text compares exactly: case'),
    ('segment = ''Zürich''', '{"segment": "Zürich"}', true, 'non-ASCII text'),
    ('property.beta = ''true''', '{"properties": {"beta": true}}', true, 'a boolean property compares as ''true'''),
    ('property.beta = 1', '{"properties": {"beta": true}}', false, 'a boolean property is not a number'),
    ('property.n >= 10', '{"properties": {"n": "12"}}', true, 'a numeric string property compares as a number'),
    ('property.n = ''12''', '{"properties": {"n": 12}}', false, 'a number property is not a string'),
    ('property.n IS NULL', '{"properties": null}', true, 'null properties: every property is missing'),
    ('property.n IS NULL', '{"properties": {"n": null}}', true, 'a null property is missing'),
    ('property.n != 1', '{"properties": {}}', false, '!= with a missing property is false'),
    ('plan = ''x''', '{"PLAN": "x"}', false, 'fact keys are case-sensitive'),
    ('PLAN = ''x''', '{"plan": "x"}', true, 'attribute names are not')
) AS t(c, f, want, why);
SELECT is(csm.condition_attributes($$nps > 1 OR plan = 'a' AND NOT (plan IN ('b') OR property.z IS NULL OR property.a_b = 1 OR arr < 2)$$),
          '{arr,nps,plan,property.a_b,property.z}', 'condition_attributes: distinct and sorted');
SELECT is(csm.condition_attributes('TRUE OR NOT FALSE'), '{}', 'condition_attributes of a condition without attributes');

-- Binary I/O: send writes the canonical text, COPY BINARY reads it back. --------------------
CREATE TEMP TABLE tap_bin (id int, c csm.rule_condition);
INSERT INTO tap_bin VALUES (1, $$plan = 'growth' AND (arr > 1.5e5 OR property.region IN ('emea', 'o''brien'))$$),
                           (2, 'NOT (churn_risk_score >= 80)'), (3, 'FALSE');
SELECT is_empty($$SELECT id FROM tap_bin WHERE csm_internal.rule_condition_send(c) <> convert_to(c::text, 'UTF8')$$,
                'send writes the canonical text');
\copy tap_bin TO '/tmp/csm_condition_tap.bin' WITH (FORMAT binary)
CREATE TEMP TABLE tap_bin2 (LIKE tap_bin);
\copy tap_bin2 FROM '/tmp/csm_condition_tap.bin' WITH (FORMAT binary)
\! rm -f /tmp/csm_condition_tap.bin
SELECT is((SELECT string_agg(c::text, ' | ' ORDER BY id) FROM tap_bin2), (SELECT string_agg(c::text, ' | ' ORDER BY id) FROM tap_bin),
          'COPY BINARY out and in gives the same conditions');

-- Property checks over generated conditions. --------------------------------------------------
-- A condition is generated as a JSON tree; it is written out with random
-- spelling (keyword case, <> for !=, 5.0 for 5, spaces, needless
-- parentheses), and printed canonically by a reference printer.
CREATE TEMP TABLE tap_attr (name text PRIMARY KEY, kind text, strings text[], numbers float8[]);
INSERT INTO tap_attr VALUES
    ('plan', 'text', '{growth,enterprise,starter,Growth}', NULL),
    ('segment', 'text', '{smb,enterprise,mid''market,""}', NULL),
    ('health_band', 'text', '{green,yellow,red}', NULL),
    ('churn_band', 'text', '{low,moderate,high,critical}', NULL),
    ('external_id', 'text', '{a-1,o''brien,Zürich}', NULL),
    ('arr', 'number', NULL, '{0,50000,120000,120000.5,950000,-1}'),
    ('churn_risk_score', 'number', NULL, '{12.5,80,85,100,0.1}'),
    ('nps', 'number', NULL, '{-5,0,9,10}'),
    ('days_to_renewal', 'number', NULL, '{-30,0,30,1e15,2.5e-7}'),
    ('property.region', 'property', '{emea,amer,apac}', '{1,2}'),
    ('property.employees', 'property', '{5000,many}', '{500,5000,10000}'),
    ('property.beta', 'property', '{true,false}', '{0,1}'),
    ('property.gone', 'property', '{x}', '{1}');

CREATE FUNCTION pg_temp.tap_pick(a anyarray) RETURNS anyelement LANGUAGE sql AS
$$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;

CREATE FUNCTION pg_temp.tap_gen(depth int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r float8 := random();
    a tap_attr;
    args jsonb := '[]';
    lits jsonb := '[]';
    numeric_lit boolean;
BEGIN
    IF depth > 0 AND r < 0.35 THEN
        FOR i IN 1 .. 2 + floor(random() * 3)::int LOOP
            args := args || jsonb_build_array(pg_temp.tap_gen(depth - 1));
        END LOOP;
        RETURN jsonb_build_object('op', pg_temp.tap_pick(ARRAY['and', 'or']), 'args', args);
    ELSIF depth > 0 AND r < 0.45 THEN
        RETURN jsonb_build_object('op', 'not', 'arg', pg_temp.tap_gen(depth - 1));
    ELSIF r < 0.49 THEN
        RETURN jsonb_build_object('op', pg_temp.tap_pick(ARRAY['true', 'false']));
    END IF;
    SELECT * INTO a FROM tap_attr ORDER BY random() LIMIT 1;
    numeric_lit := a.kind = 'number' OR (a.kind = 'property' AND random() < 0.5);
    r := random();
    IF r < 0.12 THEN
        RETURN jsonb_build_object('op', 'isnull', 'attr', a.name, 'neg', random() < 0.5);
    ELSIF r < 0.35 THEN
        FOR i IN 1 .. 1 + floor(random() * 4)::int LOOP
            lits := lits || CASE WHEN numeric_lit THEN to_jsonb(pg_temp.tap_pick(a.numbers))
                                 ELSE to_jsonb(pg_temp.tap_pick(a.strings)) END;
        END LOOP;
        RETURN jsonb_build_object('op', 'in', 'attr', a.name, 'neg', random() < 0.5, 'lits', lits);
    END IF;
    RETURN jsonb_build_object('op', 'cmp', 'attr', a.name,
                              'cmp', CASE WHEN numeric_lit THEN pg_temp.tap_pick(ARRAY['=', '!=', '<>', '<', '<=', '>', '>='])
                                          ELSE pg_temp.tap_pick(ARRAY['=', '!=', '<>']) END,
                              'lit', CASE WHEN numeric_lit THEN to_jsonb(pg_temp.tap_pick(a.numbers))
                                          ELSE to_jsonb(pg_temp.tap_pick(a.strings)) END);
END $$;

-- A literal: strings quoted, numbers as float8 prints them, or (when random) respelt.
CREATE FUNCTION pg_temp.tap_lit(lit jsonb, respell boolean) RETURNS text LANGUAGE sql AS $$
    SELECT CASE
        WHEN jsonb_typeof(lit) = 'string' THEN '''' || replace(lit #>> '{}', '''', '''''') || ''''
        WHEN NOT respell THEN (lit::text)::float8::text
        WHEN (lit::text)::float8::text ~ '^[0-9]+$' THEN
            pg_temp.tap_pick(ARRAY['', '+']) || (lit::text)::float8::text || pg_temp.tap_pick(ARRAY['', '.0', 'e0', 'E+00', '.000e-0'])
        ELSE (lit::text)::float8::text
    END
$$;

-- An AND or OR inside AND, an OR inside OR, and an AND, OR or predicate after NOT are parenthesized.
CREATE FUNCTION pg_temp.tap_needs_parens(outer_op text, inner_op text) RETURNS boolean LANGUAGE sql AS $$
    SELECT (inner_op IN ('and', 'or') AND (outer_op <> 'or' OR inner_op = 'or'))
        OR (outer_op = 'not' AND inner_op IN ('cmp', 'in', 'isnull'))
$$;

-- The condition as text: canonical, or with random spelling.
CREATE FUNCTION pg_temp.tap_text(ast jsonb, random_spelling boolean) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    op text := ast->>'op';
    rs boolean := random_spelling;
    sp text := CASE WHEN rs THEN pg_temp.tap_pick(ARRAY[' ', '  ', E'\n', E'\t ']) ELSE ' ' END;
    attr text := ast->>'attr';
    parts text[];
    child jsonb;
    t text;
BEGIN
    IF rs THEN
        attr := CASE WHEN attr LIKE 'property.%' THEN pg_temp.tap_pick(ARRAY['property', 'PROPERTY', 'Property']) || substr(attr, 9)
                     ELSE pg_temp.tap_pick(ARRAY[attr, upper(attr), initcap(attr)]) END;
    END IF;
    IF op IN ('and', 'or', 'not') THEN
        FOR child IN SELECT a FROM jsonb_array_elements(coalesce(ast->'args', jsonb_build_array(ast->'arg'))) a LOOP
            t := pg_temp.tap_text(child, rs);
            IF pg_temp.tap_needs_parens(op, child->>'op') OR (rs AND random() < 0.1) THEN
                t := '(' || t || ')';
            END IF;
            parts := parts || t;
        END LOOP;
    END IF;
    RETURN CASE op
        WHEN 'and' THEN array_to_string(parts, sp || pg_temp.tap_kw('AND', rs) || sp)
        WHEN 'or' THEN array_to_string(parts, sp || pg_temp.tap_kw('OR', rs) || sp)
        WHEN 'not' THEN pg_temp.tap_kw('NOT', rs) || sp || parts[1]
        WHEN 'true' THEN pg_temp.tap_kw('TRUE', rs)
        WHEN 'false' THEN pg_temp.tap_kw('FALSE', rs)
        WHEN 'isnull' THEN attr || sp || pg_temp.tap_kw('IS', rs) || sp
                           || CASE WHEN (ast->>'neg')::boolean THEN pg_temp.tap_kw('NOT', rs) || sp ELSE '' END || pg_temp.tap_kw('NULL', rs)
        WHEN 'in' THEN attr || sp || CASE WHEN (ast->>'neg')::boolean THEN pg_temp.tap_kw('NOT', rs) || sp ELSE '' END
                       || pg_temp.tap_kw('IN', rs) || CASE WHEN rs THEN pg_temp.tap_pick(ARRAY['', ' ']) ELSE ' ' END || '('
                       || (SELECT string_agg(pg_temp.tap_lit(l, rs), CASE WHEN rs THEN pg_temp.tap_pick(ARRAY[',', ', ', ' ,']) ELSE ', ' END)
                           FROM jsonb_array_elements(ast->'lits') l) || ')'
        ELSE attr || CASE WHEN rs THEN pg_temp.tap_pick(ARRAY['', ' ']) ELSE ' ' END
             || CASE WHEN ast->>'cmp' IN ('!=', '<>') AND NOT rs THEN '!=' ELSE ast->>'cmp' END
             || CASE WHEN rs THEN pg_temp.tap_pick(ARRAY['', ' ']) ELSE ' ' END || pg_temp.tap_lit(ast->'lit', rs)
    END;
END $$;

CREATE FUNCTION pg_temp.tap_kw(kw text, random_spelling boolean) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN random_spelling THEN pg_temp.tap_pick(ARRAY[kw, lower(kw), initcap(kw)]) ELSE kw END
$$;

-- The reference evaluator. A fact is missing when absent or null. A number
-- is a JSON number or a string holding one (NaN matches nothing); text is
-- a JSON string, or for a property a boolean as 'true' or 'false'; a
-- property of another type does not match.
CREATE FUNCTION pg_temp.tap_fact(facts jsonb, attr text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT nullif(CASE WHEN attr LIKE 'property.%' THEN facts->'properties'->substr(attr, 10) ELSE facts->attr END, 'null')
$$;
CREATE FUNCTION pg_temp.tap_num(v jsonb) RETURNS float8 LANGUAGE sql AS $$
    SELECT nullif(CASE
        WHEN jsonb_typeof(v) = 'number' THEN (v::text)::float8
        WHEN jsonb_typeof(v) = 'string' AND (v #>> '{}' ~ '^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$'
                                            OR v #>> '{}' ~* '^(nan|[+-]?inf|[+-]?infinity)$') THEN (v #>> '{}')::float8
    END, 'NaN')
$$;
CREATE FUNCTION pg_temp.tap_str(v jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}' WHEN 'boolean' THEN v::text END
$$;
CREATE FUNCTION pg_temp.tap_eval(ast jsonb, facts jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    op text := ast->>'op';
    v jsonb := pg_temp.tap_fact(facts, ast->>'attr');
    lit jsonb := coalesce(ast->'lit', ast->'lits'->0);
    x float8;
    y float8;
    s text;
    found boolean;
BEGIN
    CASE op
        WHEN 'and' THEN RETURN (SELECT bool_and(pg_temp.tap_eval(a, facts)) FROM jsonb_array_elements(ast->'args') a);
        WHEN 'or' THEN RETURN (SELECT bool_or(pg_temp.tap_eval(a, facts)) FROM jsonb_array_elements(ast->'args') a);
        WHEN 'not' THEN RETURN NOT pg_temp.tap_eval(ast->'arg', facts);
        WHEN 'true' THEN RETURN true;
        WHEN 'false' THEN RETURN false;
        WHEN 'isnull' THEN RETURN (v IS NOT NULL) = (ast->>'neg')::boolean;
        ELSE NULL;
    END CASE;
    IF jsonb_typeof(lit) = 'number' THEN
        x := pg_temp.tap_num(v);
        IF x IS NULL THEN RETURN false; END IF;
        IF op = 'in' THEN
            found := EXISTS (SELECT FROM jsonb_array_elements(ast->'lits') l WHERE (l::text)::float8 = x);
            RETURN found <> (ast->>'neg')::boolean;
        END IF;
        y := (lit::text)::float8;
        RETURN CASE ast->>'cmp' WHEN '=' THEN x = y WHEN '<' THEN x < y WHEN '<=' THEN x <= y
                                WHEN '>' THEN x > y WHEN '>=' THEN x >= y ELSE x <> y END;
    END IF;
    s := pg_temp.tap_str(v);
    IF s IS NULL THEN RETURN false; END IF;
    IF op = 'in' THEN
        found := EXISTS (SELECT FROM jsonb_array_elements(ast->'lits') l WHERE l #>> '{}' = s COLLATE "C");
        RETURN found <> (ast->>'neg')::boolean;
    END IF;
    RETURN CASE ast->>'cmp' WHEN '=' THEN s = lit #>> '{}' COLLATE "C" ELSE s <> lit #>> '{}' COLLATE "C" END;
END $$;

CREATE FUNCTION pg_temp.tap_attrs(ast jsonb) RETURNS text[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(a ORDER BY a COLLATE "C"), '{}')
    FROM (SELECT DISTINCT j #>> '{}' FROM jsonb_path_query(ast, 'strict $.**.attr') j) x(a)
$$;

-- Facts: each attribute absent, null, or a value from its pool; numbers
-- as JSON numbers, numeric strings, or NaN and infinities as strings;
-- properties absent, null, or an object whose values are of any type.
CREATE FUNCTION pg_temp.tap_facts() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    facts jsonb := '{}';
    props jsonb := '{}';
    a tap_attr;
    r float8;
BEGIN
    FOR a IN SELECT * FROM tap_attr LOOP
        r := random();
        CONTINUE WHEN r < 0.25;
        IF a.kind = 'property' THEN
            props := props || jsonb_build_object(substr(a.name, 10), CASE
                WHEN r < 0.33 THEN 'null'::jsonb
                WHEN r < 0.6 THEN to_jsonb(pg_temp.tap_pick(a.strings))
                WHEN r < 0.8 THEN to_jsonb(pg_temp.tap_pick(a.numbers))
                WHEN r < 0.9 THEN to_jsonb(pg_temp.tap_pick(a.numbers)::text)
                ELSE pg_temp.tap_pick(ARRAY['true', 'false', '[1]', '{"a": 1}', '"NaN"'])::jsonb END);
        ELSE
            facts := facts || jsonb_build_object(a.name, CASE
                WHEN r < 0.33 THEN 'null'::jsonb
                WHEN a.kind = 'text' THEN to_jsonb(pg_temp.tap_pick(a.strings))
                WHEN r < 0.8 THEN to_jsonb(pg_temp.tap_pick(a.numbers))
                WHEN r < 0.93 THEN to_jsonb(pg_temp.tap_pick(a.numbers)::text)
                ELSE to_jsonb(pg_temp.tap_pick(ARRAY['NaN', 'Infinity', '-Infinity'])) END);
        END IF;
    END LOOP;
    r := random();
    RETURN facts || CASE WHEN r < 0.15 THEN '{}' WHEN r < 0.25 THEN '{"properties": null}'
                         ELSE jsonb_build_object('properties', props) END;
END $$;

CREATE TEMP TABLE tap_cond AS
SELECT id, ast, pg_temp.tap_text(ast, true) AS written, pg_temp.tap_text(ast, false) AS canonical
FROM (SELECT id, pg_temp.tap_gen(1 + id % 4) AS ast FROM generate_series(1, 3000) id) s;
ALTER TABLE tap_cond ADD COLUMN c csm.rule_condition;
UPDATE tap_cond SET c = written::csm.rule_condition;
CREATE TEMP TABLE tap_eval AS
SELECT id, facts_id, written, facts,
       csm.condition_matches(c, facts) AS matches,
       csm.condition_matches(c::text::csm.rule_condition, facts) AS matches_canonical,
       pg_temp.tap_eval(ast, facts) AS expected
FROM (SELECT k.*, f.id AS facts_id, pg_temp.tap_facts() AS facts
      FROM tap_cond k CROSS JOIN generate_series(1, 4) AS f(id) OFFSET 0) s;

SELECT is((SELECT count(*) FROM tap_cond WHERE c IS NOT NULL), 3000::bigint, '3000 generated conditions, randomly spelt, all parse');
SELECT is_empty($$SELECT written, c::text, canonical FROM tap_cond WHERE c::text <> canonical LIMIT 5$$,
                'each prints as the reference printer prints its tree: the parser built the tree that was written');
SELECT is_empty($$SELECT written, c::text FROM tap_cond WHERE c::text::csm.rule_condition::text <> c::text LIMIT 5$$,
                'the canonical text reads back as itself');
SELECT is_empty($$SELECT written, c::text, pg_temp.tap_attrs(ast) FROM tap_cond
                  WHERE csm.condition_attributes(c) <> pg_temp.tap_attrs(ast) LIMIT 5$$,
                'condition_attributes is the sorted set of attributes in the tree');
SELECT is((SELECT count(*) FROM tap_eval), 12000::bigint, '12000 evaluations: each condition against 4 fact sets of its own');
SELECT is_empty($$SELECT written, facts, matches, expected FROM tap_eval WHERE matches IS DISTINCT FROM expected LIMIT 5$$,
                'condition_matches agrees with the reference evaluator');
SELECT is_empty($$SELECT written, facts FROM tap_eval WHERE matches IS DISTINCT FROM matches_canonical LIMIT 5$$,
                'the canonical text evaluates as the written text');
SELECT ok((SELECT count(*) FILTER (WHERE matches) BETWEEN 2400 AND 9600 FROM tap_eval),
          'between 20% and 80% of the evaluations match: the check is not vacuous');
SELECT is((SELECT count(DISTINCT op #>> '{}') FROM tap_cond, jsonb_path_query(ast, 'strict $.**.op') op), 8::bigint,
          'the generated trees use all eight kinds of node');

-- Inputs that must never crash. --------------------------------------------------------------
-- Random bytes (as UTF-8, which mostly fails in convert_from with 22021),
-- random printable ASCII, soups of the language's own tokens, and the
-- generated conditions mutated (cut short, a byte dropped, a token put in):
-- each either parses, and then reads back as itself and evaluates, or
-- fails with one of the condition's SQLSTATEs.
CREATE FUNCTION pg_temp.tap_try(input bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    c csm.rule_condition;
BEGIN
    c := convert_from(input, 'UTF8')::csm.rule_condition;
    IF c::text::csm.rule_condition::text <> c::text THEN
        RETURN 'no round trip: ' || c::text;
    END IF;
    PERFORM csm.condition_matches(c, '{"plan": "growth", "arr": 5, "health_band": "red", "properties": {"region": "emea"}}');
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
CREATE TEMP TABLE tap_fuzz AS
SELECT 'bytes' AS kind, pg_temp.tap_try(b) AS outcome, b AS input
FROM (SELECT (SELECT decode(string_agg(lpad(to_hex(floor(random() * 256)::int), 2, '0'), ''), 'hex')
              FROM generate_series(1, 1 + (i % 60))) AS b
      FROM generate_series(1, 1000) i) s
UNION ALL
SELECT 'ascii', pg_temp.tap_try(b), b
FROM (SELECT (SELECT convert_to(string_agg(chr(32 + floor(random() * 95)::int), ''), 'UTF8')
              FROM generate_series(1, 1 + (i % 40))) AS b
      FROM generate_series(1, 1000) i) s
UNION ALL
SELECT 'tokens', pg_temp.tap_try(b), b
FROM (SELECT (SELECT convert_to(string_agg(
                  (ARRAY['(', ')', '((', ',', 'AND', 'or', 'Not', 'IN', 'is', 'NULL', 'true', 'FALSE', 'plan', 'ARR', 'nps',
                         'health_band', 'property.region', 'property.X', 'regionx', '=', '<>', '!=', '<', '>=', '!', '==',
                         '''growth''', '''o''''b''', '''''', '''red''', '''purple''', '5', '-1.5e3', '+0.25', '1e400', '1e-400',
                         'NaN', '-inf', '.5', '''open', '@', 'é', E'\t', ';'])[1 + floor(random() * 44)::int],
                  (ARRAY[' ', '', '  ', E'\n'])[1 + floor(random() * 4)::int]), 'UTF8')
              FROM generate_series(1, 1 + (i % 14))) AS b
      FROM generate_series(1, 2000) i) s
UNION ALL
SELECT 'mutant', pg_temp.tap_try(b), b
FROM (SELECT convert_to(CASE floor(random() * 3)::int
                 WHEN 0 THEN left(written, floor(random() * length(written))::int)
                 WHEN 1 THEN overlay(written PLACING '' FROM 1 + floor(random() * length(written))::int FOR 1)
                 ELSE overlay(written PLACING pg_temp.tap_pick(ARRAY[' AND ', ' OR ', ' NOT ', '(', ')', ',', '''', '=', ' IN ', ' 5 ', 'NULL'])
                              FROM 1 + floor(random() * length(written))::int FOR 0)
             END, 'UTF8') AS b
      FROM tap_cond) s;
SELECT is_empty($$
    SELECT kind, outcome, input FROM tap_fuzz
    WHERE outcome NOT IN ('ok', '42601', '42703', '42804', '22003', '22023', '22021', '54000') LIMIT 5
$$, '7000 random inputs: each parses, reads back and evaluates, or fails with a condition SQLSTATE');
SELECT cmp_ok((SELECT count(*) FROM tap_fuzz WHERE kind = 'mutant' AND outcome = 'ok'), '>=', 300::bigint,
              'some mutants are still valid conditions');
SELECT cmp_ok((SELECT count(DISTINCT outcome) FROM tap_fuzz), '>=', 6::bigint,
              'the random inputs reach at least six outcomes');

SELECT * FROM finish();
ROLLBACK;
