-- Every documented error path, asserted by SQLSTATE.
-- citus-differs: it tracks a local (undistributed) table, which csm.track_usage() refuses on Citus with 0A000, checks distribute_usage()'s refusal without Citus, and its later writes to reference tables hit Citus's refusal after a parallel multi-shard query in the same transaction.
BEGIN;
SELECT plan(29);

CREATE TABLE tap_events (id bigint, org text, member text, feature text, at timestamptz, payload jsonb);
CREATE VIEW tap_view AS SELECT * FROM tap_events;

SELECT throws_ok($$SELECT csm.track_usage('tap_events', 'nope', 'at')$$, '42703', NULL, 'unknown account column');
SELECT throws_ok($$SELECT csm.track_usage('tap_events', 'org', 'nope')$$, '42703', NULL, 'unknown time column');
SELECT throws_ok($$SELECT csm.track_usage('tap_events', 'org', 'at', 'nope')$$, '42703', NULL, 'unknown event column');
SELECT throws_ok($$SELECT csm.track_usage('tap_events', 'org', 'at', NULL, 'nope')$$, '42703', NULL, 'unknown user column');
SELECT throws_ok($$SELECT csm.track_usage('tap_events', 'payload', 'at')$$, '42804', NULL, 'jsonb account column is unsupported');
SELECT throws_ok($$SELECT csm.track_usage('tap_events', 'org', 'org')$$, '42804', NULL, 'text time column is unsupported');
SELECT throws_ok($$SELECT csm.track_usage('tap_events', 'org', 'at', 'id')$$, '42804', NULL, 'bigint event column is unsupported');
SELECT throws_ok($$SELECT csm.track_usage('tap_view', 'org', 'at')$$, '42809', NULL, 'a view cannot be tracked');
SELECT throws_ok($$SELECT csm.untrack_usage('tap_events')$$, '42704', NULL, 'untracking an untracked table');
SELECT throws_ok($$SELECT csm.distribute_usage('tap_events')$$, '0A000', 'csm.distribute_usage() needs Citus', 'distribute_usage() without Citus');
SELECT throws_ok($$SELECT csm.backfill_usage('tap_events')$$, '42704', NULL, 'backfilling an untracked table');
SELECT lives_ok($$SELECT csm.track_usage('tap_events', 'org', 'at', 'feature', 'member')$$, 'tracking works');
SELECT throws_ok($$SELECT csm.track_usage('tap_events', 'org', 'at')$$, '42710', NULL, 'tracking twice');

-- Bad rows are refused with the user's insert, and nothing is half-counted.
SELECT throws_ok($$INSERT INTO tap_events (org, at) VALUES ('', now())$$, '23514', NULL, 'blank account key');
SELECT throws_ok($$INSERT INTO tap_events (org, at) SELECT string_agg(md5(i::text), ''), now() FROM generate_series(1, 300) AS i$$, '54000', NULL, 'an account key too long to index');
SELECT throws_ok($$INSERT INTO tap_events (org, member, at) VALUES ('org_1', repeat('u', 1025), now())$$, '54000', NULL, 'a user key over 1024 bytes');
SELECT throws_ok($$INSERT INTO tap_events (org, feature, at) VALUES ('org_1', repeat('f', 5000), now())$$, '54000', NULL, 'a feature over 1024 bytes');
SELECT lives_ok($$INSERT INTO tap_events (org, member, feature, at) VALUES ('org_1', repeat('u', 1024), '', now())$$, 'a 1024-byte user and an empty feature are fine');
SELECT is((SELECT csm.compact_usage() > 0), true, 'and they fold');
SELECT is((SELECT sum(events) FROM csm.usage_daily), 1::numeric, 'refused inserts left no rollup rows');

-- The trigger function refuses to run outside csm.track_usage()'s shape.
SELECT throws_ok($$SELECT csm_internal._usage_rollup()$$, '39P01', NULL, 'called directly');
CREATE TABLE tap_other (org text, at date);
CREATE TRIGGER bad AFTER INSERT ON tap_other FOR EACH ROW EXECUTE FUNCTION csm_internal._usage_rollup('1', 'org', 'at', '', '');
SELECT throws_ok($$INSERT INTO tap_other VALUES ('x', '2026-01-01')$$, '39P01', NULL, 'as a row trigger');
DROP TRIGGER bad ON tap_other;
CREATE TRIGGER bad AFTER INSERT ON tap_other FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._usage_rollup('1', 'org', 'at', '', '');
SELECT throws_ok($$INSERT INTO tap_other VALUES ('x', '2026-01-01')$$, '39P01', NULL, 'without a transition table');
DROP TRIGGER bad ON tap_other;
CREATE TRIGGER bad AFTER INSERT ON tap_other REFERENCING NEW TABLE AS n FOR EACH STATEMENT
    EXECUTE FUNCTION csm_internal._usage_rollup('-3', 'org', 'at', '', '');
SELECT throws_ok($$INSERT INTO tap_other VALUES ('x', '2026-01-01')$$, '39P01', NULL, 'with a malformed source id');
DROP TRIGGER bad ON tap_other;

-- A tracked column changed under csm is a clear error, not a wrong count.
ALTER TABLE tap_events RENAME COLUMN member TO person;
SELECT throws_ok($$INSERT INTO tap_events (org, at) VALUES ('org_1', now())$$, '42703', NULL, 'renamed user column');
ALTER TABLE tap_events RENAME COLUMN person TO member;
DROP VIEW tap_view;
ALTER TABLE tap_events ALTER COLUMN feature TYPE int USING NULL;
SELECT throws_ok($$INSERT INTO tap_events (org, at) VALUES ('org_1', now())$$, '42804', NULL, 'retyped event column');

-- Core table constraints.
SELECT throws_ok($$INSERT INTO csm.account (external_id, arr) VALUES ('neg', -1)$$, '23514', NULL, 'negative ARR');
SELECT throws_ok($$INSERT INTO csm.team_member (handle, status) VALUES ('x', 'lunch')$$, '23514', NULL, 'unknown member status');
SELECT throws_ok($$INSERT INTO csm.nps_response (account_id, score) VALUES (-1, 5)$$, '23503', NULL, 'NPS for an unknown account');

SELECT * FROM finish();
ROLLBACK;
