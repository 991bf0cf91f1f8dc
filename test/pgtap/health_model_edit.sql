-- Editing health models with multi-row statements: a model built in one
-- transaction keeps version 1, a later multi-row INSERT ... SELECT, UPDATE
-- or DELETE of its components or groups bumps it once per transaction.
-- On Citus the health tables are reference tables, and Citus writes a
-- multi-row INSERT ... SELECT into one with a COPY to every node at once;
-- the version bump used to be a distributed UPDATE run from the trigger on
-- the coordinator's copy during that COPY, and failed ("another command is
-- already in progress"). make test-citus runs this file on the cluster too.
BEGIN;
SELECT plan(12);

-- a model made with multi-row statements, in one transaction
INSERT INTO csm.health_model (name) SELECT 'edit_' || i FROM generate_series(1, 2) i;
SELECT lives_ok($$INSERT INTO csm.health_component (model, metric, weight, green, red)
                  SELECT 'edit_1', 'metric_' || i, i, 10, 5 FROM generate_series(1, 3) i$$,
                'INSERT ... SELECT of several components of a new model');
SELECT lives_ok($$INSERT INTO csm.health_group (model, name, weight)
                  SELECT 'edit_2', 'group_' || i, i FROM generate_series(1, 2) i$$,
                'INSERT ... SELECT of several groups of a new model');
SELECT lives_ok($$INSERT INTO csm.health_component (model, metric, group_name, weight, green, red)
                  SELECT 'edit_2', 'metric_' || i, 'group_' || (1 + i % 2), 1, 10, 5 FROM generate_series(1, 4) i$$,
                'INSERT ... SELECT of grouped components');
SELECT is((SELECT string_agg(name || '=' || version, ' ' ORDER BY name) FROM csm.health_model WHERE name LIKE 'edit\_%'),
          'edit_1=1 edit_2=1', 'a model built in its transaction keeps version 1');

-- as if they had been made by an earlier transaction
UPDATE csm.health_model SET bumped_by = '1' WHERE name LIKE 'edit\_%';
SELECT lives_ok($$INSERT INTO csm.health_component (model, metric, weight, green, red)
                  SELECT 'edit_1', 'more_' || i, 1, 10, 5 FROM generate_series(1, 3) i$$,
                'INSERT ... SELECT of more components');
SELECT lives_ok($$INSERT INTO csm.health_component (model, metric, weight, green, red)
                  SELECT 'edit_1', 'last_' || i, 1, 10, 5 FROM generate_series(1, 2) i$$,
                'and again in the same transaction');
SELECT is((SELECT version FROM csm.health_model WHERE name = 'edit_1'), 2,
          'edits of an existing model bump its version once per transaction');
SELECT lives_ok($$UPDATE csm.health_component SET weight = weight + 1 WHERE model = 'edit_2'$$,
                'UPDATE of several components');
SELECT lives_ok($$DELETE FROM csm.health_component WHERE model = 'edit_1' AND metric LIKE 'more\_%'$$,
                'DELETE of several components');
SELECT is((SELECT string_agg(name || '=' || version, ' ' ORDER BY name) FROM csm.health_model WHERE name LIKE 'edit\_%'),
          'edit_1=2 edit_2=2', 'each edited model bumped once');
SELECT is((SELECT count(*) FROM csm.health_component WHERE model LIKE 'edit\_%'), 9::bigint,
          'every component written');
SELECT ok(csm.csm_health_score('{"metric_1": 12, "metric_2": 3, "metric_3": 7}', 'edit_1') IS NOT NULL,
          'the edited model scores');

SELECT * FROM finish();
ROLLBACK;
