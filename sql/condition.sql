-- Routing-rule conditions: the canonical text, evaluation against an
-- account's facts, and every error a condition can raise.
\set VERBOSITY terse

-- the canonical text: keywords upper case, != for <>, numbers in their
-- shortest exact form, parentheses only where the tree needs them (and
-- around a predicate after NOT)
SELECT c AS written, c::csm.rule_condition AS canonical
FROM (VALUES ($$plan = 'growth'$$),
             ($$ PLAN='growth'and churn_risk_score>80 $$),
             ($$segment in ('enterprise','mid''market') or (arr >= 1e5 and seats<>10)$$),
             ($$(plan = 'a' OR plan = 'b') AND NOT (tier = 'x' OR tier = 'y')$$),
             ($$plan = 'a' OR (plan = 'b' OR plan = 'c')$$),
             ($$((health_band = 'red')) and not not churn_band not in ('low', 'moderate')$$),
             ($$Property.region = 'emea' AND property.employees > +5.0e3 AND property._x2 IS NOT NULL$$),
             ($$nps IS NULL OR days_to_renewal <= -30.25 OR health_score < 0.1$$),
             ('TRUE'), ('not false')) v(c);

-- the canonical text reads back as itself; condition_attributes lists the
-- attributes a condition reads
SELECT c::text::csm.rule_condition::text = c::text AS round_trips, csm.condition_attributes(c) AS reads
FROM (VALUES ($$NOT (plan = 'x' AND arr >= 100000) OR NOT NOT TRUE AND property.region != 'emea' AND arr NOT IN (1, 2.5, -3e-10)$$::csm.rule_condition),
             ('segment IS NULL AND segment IS NOT NULL'), ('FALSE')) v(c);

-- evaluation: a comparison with a missing, null or NaN fact is false, so
-- NOT (plan = 'x') holds where plan != 'x' does not; IS NULL holds for
-- missing and null facts; numbers may come as JSON strings
\set growth '{"plan": "growth", "segment": "smb", "arr": 120000, "churn_risk_score": 85, "health_band": "red", "properties": {"region": "emea", "beta": true}}'
\set enterprise '{"plan": "enterprise", "segment": "enterprise", "arr": "950000", "churn_risk_score": 12.5, "health_band": "green", "properties": {"region": "amer", "employees": "5000"}}'
\set nulls '{"plan": null, "arr": null, "properties": null}'
\set nan '{"arr": "NaN", "churn_risk_score": "Infinity", "properties": {"employees": "many"}}'
SELECT c AS condition,
       csm.condition_matches(c, :'growth') AS growth,
       csm.condition_matches(c, :'enterprise') AS enterprise,
       csm.condition_matches(c, '{}') AS empty,
       csm.condition_matches(c, :'nulls') AS nulls,
       csm.condition_matches(c, :'nan') AS nan
FROM (VALUES ($$plan = 'growth'$$::csm.rule_condition),
             ($$plan != 'growth'$$), ($$NOT (plan = 'growth')$$), ($$plan = 'Growth'$$),
             ($$plan IN ('growth', 'enterprise')$$), ($$plan NOT IN ('growth')$$),
             ($$plan IS NULL$$), ($$plan IS NOT NULL$$),
             ($$arr >= 120000$$), ($$arr > 500000$$), ($$arr != 1$$), ($$NOT (arr = 1)$$),
             ($$churn_risk_score > 80$$), ($$churn_risk_score IN (12.5, 85)$$),
             ($$health_band = 'red' AND churn_risk_score > 80 OR segment = 'enterprise'$$),
             ($$property.region = 'emea'$$), ($$property.beta = 'true'$$),
             ($$property.employees >= 1000$$), ($$property.employees = '5000'$$), ($$property.employees IS NULL$$),
             ('TRUE'), ('FALSE')) v(c);
SELECT csm.condition_matches('plan = ''x''', NULL) AS null_facts;

-- conditions are checked when written
CREATE TABLE routing_rule (id int PRIMARY KEY, condition csm.rule_condition NOT NULL);
INSERT INTO routing_rule VALUES (1, $$segment = 'enterprise'$$), (2, $$churn_risk_score > 80 AND plan = 'growth'$$);
INSERT INTO routing_rule VALUES (3, $$segment = enterprise$$);
SELECT r.id, r.condition FROM routing_rule r WHERE csm.condition_matches(r.condition, :'growth') ORDER BY r.id;

-- every error, with its SQLSTATE; one in full, as a user sees it
CREATE FUNCTION pg_temp.input_error(c text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM c::csm.rule_condition;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT left(c, 40) AS input, pg_temp.input_error(c) AS error
FROM (VALUES (''), ('   '), ($$plan = 'growth$$), ('plan ='), ('plan = growth'), ($$plan = 'a' )$$),
             ($$(plan = 'a'$$), ($$plan == 'a'$$), ('plan ! 1'), ('plan NOT = 1'), ('arr IS 5'), ('arr IN ()'),
             ($$plan = 'a' and or$$), ('AND TRUE'), ($$plan = 'é'  é$$),
             ('region = 1'), ('région = 1'), ('property = 1'), ('property.Region = 1'), ('property.a.b = 1'), ($$property. = 'x'$$),
             ('plan = 5'), ($$arr = '5'$$), ($$plan < 'm'$$), ($$property.region >= 'm'$$), ($$property.x IN ('a', 1)$$),
             ('arr > 1e400'), ('arr > 1e-400'), ('arr > NaN'), ('arr < -Infinity'),
             ($$health_band = 'purple'$$), ($$churn_band IN ('low', 'Critical')$$),
             (repeat('(', 33) || 'TRUE' || repeat(')', 33)), (repeat('NOT ', 33) || 'TRUE'),
             ('plan IN (' || (SELECT string_agg('''a''', ',') FROM generate_series(1, 300)) || ')'),
             ('plan = ''' || repeat('x', 4089) || ''''),
             ('arr IN (' || (SELECT string_agg('1e14', ',') FROM generate_series(1, 250)) || ')')) v(c);
SELECT csm.condition_matches('arr > 5', '{"arr": "many"}');
SELECT csm.condition_matches('plan = ''x''', '{"plan": 5}');
SELECT csm.condition_matches('property.x = 1', '{"properties": [1]}');
SELECT csm.condition_matches('TRUE', '[1]');
\set VERBOSITY default
SELECT $$plan = 'growth' AND churn = 'high'$$::csm.rule_condition;

DROP TABLE routing_rule;
-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
