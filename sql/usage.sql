-- citus-differs: csm.track_usage refuses the file's local event table on Citus (0A000, README "Growing past one machine": the event table must be distributed); test/citus/usage.sql covers usage on a distributed event table.
-- Usage tracking on a user's own event table: every kind of write is rolled
-- up in the same transaction, exactly.
-- On Citus this file's output differs, and the Citus schedule leaves it to
-- test/citus/usage.sql: once csm.distribute() has run, track_usage() refuses
-- a local table (0A000; csm.usage_source is a reference table, which cannot
-- name a table the workers lack), and a distributed table's new keys get
-- their accounts from compact_usage(), not from the trigger.
\set VERBOSITY terse
CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org         text,
    member      text,
    feature     text,
    occurred_at timestamptz
);

-- wrong arguments
SELECT csm.track_usage('events', 'nope', 'occurred_at');
SELECT csm.track_usage('events', 'org', 'nope');
SELECT csm.track_usage('events', 'org', 'feature');
SELECT csm.track_usage('events', 'occurred_at', 'occurred_at');
SELECT csm.track_usage('events', 'org', 'occurred_at', 'id');
CREATE VIEW events_view AS SELECT * FROM events;
SELECT csm.track_usage('events_view', 'org', 'occurred_at');
SELECT csm.track_usage('no_such_table', 'org', 'occurred_at');
SELECT csm.untrack_usage('events');
SELECT csm.backfill_usage('events');

-- rows that exist before tracking are counted by backfill, not twice
INSERT INTO events (org, member, feature, occurred_at)
VALUES ('org_a', 'u1', 'login', '2026-03-01 09:00+00'),
       ('org_a', 'u2', 'login', '2026-03-01 10:00+00');
SELECT csm.track_usage('events', 'org', 'occurred_at', 'feature', 'member') AS source_id;
SELECT csm.track_usage('events', 'org', 'occurred_at');
SELECT count(*) AS rollup_rows_before_backfill FROM csm.usage_daily;

-- single row, multi-row, INSERT ... SELECT; days are UTC days
INSERT INTO events (org, member, feature, occurred_at) VALUES ('org_a', 'u1', 'report', '2026-03-01 23:30-05');
INSERT INTO events (org, member, feature, occurred_at)
VALUES ('org_a', 'u3', 'login', '2026-03-02 08:00+00'),
       ('org_b', 'u1', 'login', '2026-03-02 08:00+00'),
       ('org_b', NULL, 'export', '2026-03-02 09:00+00');
INSERT INTO events (org, member, feature, occurred_at)
SELECT 'org_c', 'u' || (i % 3)::text, 'f' || (i % 4)::text, '2026-03-03 00:00+00'::timestamptz + i::float8 * interval '1 minute'
FROM generate_series(1, 100) AS i;
-- rows without an account or a finite time are not usage
INSERT INTO events (org, member, feature, occurred_at)
VALUES (NULL, 'u1', 'login', '2026-03-02 08:00+00'),
       ('org_a', 'u1', 'login', NULL),
       ('org_a', 'u1', 'login', 'infinity');
SELECT external_id, day, events, active_users FROM csm.usage_daily ORDER BY 1, 2;

SELECT csm.backfill_usage('events');
SELECT csm.backfill_usage('events');
SELECT external_id, day, events, active_users FROM csm.usage_daily ORDER BY 1, 2;
SELECT external_id, day, feature, events FROM csm.usage_feature_daily WHERE external_id <> 'org_c' ORDER BY 1, 2, 3;

-- accounts seen for the first time were created
SELECT external_id, status FROM csm.account ORDER BY 1;

-- a rolled-back insert leaves no trace
BEGIN;
INSERT INTO events (org, member, feature, occurred_at) VALUES ('org_d', 'u9', 'login', '2026-03-04 08:00+00');
SELECT events FROM csm.usage_daily WHERE external_id = 'org_d';
ROLLBACK;
SELECT count(*) AS org_d_rows FROM csm.usage_daily WHERE external_id = 'org_d';

-- a rolled-back first sighting creates no account, and the next one does
BEGIN;
INSERT INTO events (org, member, feature, occurred_at) VALUES ('org_f', 'u1', 'login', '2026-03-04 08:00+00');
ROLLBACK;
INSERT INTO events (org, member, feature, occurred_at) VALUES ('org_f', 'u1', 'login', '2026-03-04 09:00+00');
SELECT a.external_id, u.day, u.events FROM csm.usage_daily u JOIN csm.account a USING (account_id) WHERE a.external_id = 'org_f';
-- a deleted account is created afresh by its next event, not written to its old id
DELETE FROM events WHERE org = 'org_f';
DELETE FROM csm.account WHERE external_id = 'org_f';
INSERT INTO events (org, member, feature, occurred_at) VALUES ('org_f', 'u2', 'login', '2026-03-04 10:00+00');
SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE external_id = 'org_f';
DELETE FROM events WHERE org = 'org_f';

-- DELETE and UPDATE: counts and distinct users follow exactly
DELETE FROM events WHERE org = 'org_a' AND member = 'u2';
UPDATE events SET member = 'u7' WHERE org = 'org_b' AND member = 'u1';
UPDATE events SET occurred_at = occurred_at + interval '1 day' WHERE org = 'org_a' AND feature = 'report';
SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE external_id <> 'org_c' ORDER BY 1, 2;

-- the rollup always equals a GROUP BY over the source
CREATE FUNCTION usage_mismatches() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        (SELECT org, (occurred_at AT TIME ZONE 'UTC')::date AS day, count(*) AS events,
                count(DISTINCT member) AS users
         FROM events WHERE org IS NOT NULL AND isfinite(occurred_at) GROUP BY 1, 2
         EXCEPT
         SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE events <> 0)
        UNION ALL
        (SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE events <> 0
         EXCEPT
         SELECT org, (occurred_at AT TIME ZONE 'UTC')::date, count(*), count(DISTINCT member)
         FROM events WHERE org IS NOT NULL AND isfinite(occurred_at) GROUP BY 1, 2)) d
$$;
SELECT usage_mismatches();

-- COPY goes through the same trigger
COPY events (org, member, feature, occurred_at) FROM stdin;
org_e	u1	login	2026-03-05 10:00:00+00
org_e	u2	login	2026-03-05 11:00:00+00
org_e	u2	report	2026-03-05 12:00:00+00
\.
SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE external_id = 'org_e';
SELECT usage_mismatches();

-- a key that is not text is rolled up by its text form
CREATE TABLE api_calls (account_no bigint, called_on date);
SELECT csm.track_usage('api_calls', 'account_no', 'called_on');
INSERT INTO api_calls VALUES (42, '2026-03-01'), (42, '2026-03-01'), (7, 'infinity');
SELECT external_id, source, day, events, active_users FROM csm.usage_daily WHERE source = 'api_calls';

-- partitioned tables are tracked through their parent
CREATE TABLE clicks (org text, at timestamp) PARTITION BY RANGE (at);
CREATE TABLE clicks_2026 PARTITION OF clicks FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT csm.track_usage('clicks', 'org', 'at') IS NOT NULL AS tracked;
INSERT INTO clicks VALUES ('org_a', '2026-03-01 12:00'), ('org_a', '2026-03-01 13:00');
SELECT external_id, day, events FROM csm.usage_daily WHERE source = 'clicks';

-- TRUNCATE empties the rollup of that source only
TRUNCATE events;
SELECT source, sum(events) AS events FROM csm.usage_daily GROUP BY 1 ORDER BY 1;

-- a dropped tracked column gives a clear error instead of wrong counts
ALTER TABLE api_calls RENAME COLUMN called_on TO called_at;
INSERT INTO api_calls VALUES (42, '2026-03-02');
ALTER TABLE api_calls RENAME COLUMN called_at TO called_on;

-- the trigger function cannot be misused
SELECT csm_internal._usage_rollup();
CREATE TABLE other (org text, at date);
CREATE TRIGGER bad AFTER INSERT ON other FOR EACH ROW EXECUTE FUNCTION csm_internal._usage_rollup('1', 'org', 'at', '', '');
INSERT INTO other VALUES ('x', '2026-01-01');
DROP TRIGGER bad ON other;
CREATE TRIGGER bad AFTER INSERT ON other FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._usage_rollup('x', 'org', 'at', '', '');
INSERT INTO other VALUES ('x', '2026-01-01');

-- untracking removes the triggers and the rollups of that source
SELECT csm.untrack_usage('api_calls');
INSERT INTO api_calls VALUES (42, '2026-03-02');
SELECT relation::text FROM csm.usage_source ORDER BY 1;
SELECT (SELECT count(*) FROM csm_internal.usage_delta d
        WHERE NOT EXISTS (SELECT 1 FROM csm.usage_source s WHERE s.source_id = d.source_id))
     + (SELECT count(*) FROM csm_internal.usage_counter c
        WHERE NOT EXISTS (SELECT 1 FROM csm.usage_source s WHERE s.source_id = c.source_id)) AS orphaned_rollups;

-- leave a fresh extension for the next test
DROP TABLE events, api_calls, clicks, other CASCADE;
DROP FUNCTION usage_mismatches();
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
