-- citus-differs: tracks a local (non-distributed) table, which csm refuses on a distributed csm with 0A000 by design, and its identity primary key cannot be distributed by the account column.
-- Bulk statements (at least csm.compact_threshold groups) are added to the
-- counters at once, summed per account-day, user-day and feature in C:
-- new account-days with plain inserts, counted ones with upserts.  Every
-- mix of those stays exact, including users who become active again on a
-- day where their count had returned to zero, and sources without a user
-- or feature column.
BEGIN;
SELECT plan(12);

CREATE TABLE bulk_events (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                          org text, member text, feature text, at timestamptz);
SELECT ok(csm.track_usage('bulk_events', 'org', 'at', 'feature', 'member') > 0, 'tracking the table');
SET LOCAL csm.compact_threshold = 10;

CREATE FUNCTION pg_temp.daily_ok(what text) RETURNS text LANGUAGE sql AS $$
    SELECT set_eq(
        $q$SELECT org, (at AT TIME ZONE 'UTC')::date, count(*) AS events, count(DISTINCT member) AS users FROM bulk_events GROUP BY 1, 2$q$,
        $q$SELECT external_id, day, events, active_users FROM csm.usage_daily
           WHERE source = 'bulk_events' AND events <> 0$q$,
        what || ': events and active users per account-day match the rows')
$$;
CREATE FUNCTION pg_temp.features_ok(what text) RETURNS text LANGUAGE sql AS $$
    SELECT set_eq(
        $q$SELECT org, (at AT TIME ZONE 'UTC')::date, feature, count(*) AS events FROM bulk_events
           WHERE feature IS NOT NULL GROUP BY 1, 2, 3$q$,
        $q$SELECT external_id, day, feature, events FROM csm.usage_feature_daily
           WHERE source = 'bulk_events' AND events <> 0$q$,
        what || ': events per feature match the rows')
$$;

-- 400 rows over new account-days: far more groups than the threshold
INSERT INTO bulk_events (org, member, feature, at)
SELECT 'org_' || i % 4, 'u' || i % 9, CASE WHEN i % 5 <> 0 THEN 'f' || i % 3 END,
       '2026-03-01 UTC'::timestamptz + (i % 3) * interval '1 day' + i * interval '1 minute'
FROM generate_series(1, 400) AS i;
SELECT is_empty('SELECT * FROM csm_internal.usage_delta', 'a bulk insert goes straight to the counters');
SELECT pg_temp.daily_ok('new account-days');
SELECT pg_temp.features_ok('new account-days');

-- every event of user u1 on one day goes, so its count there returns to zero ...
DELETE FROM bulk_events WHERE member = 'u1' AND (at AT TIME ZONE 'UTC')::date = '2026-03-02';
SELECT ok(csm.compact_usage() >= 0, 'a fold runs');
-- ... and a bulk insert over counted and new account-days brings it back
INSERT INTO bulk_events (org, member, feature, at)
SELECT 'org_' || i % 6, 'u' || i % 4, 'f' || i % 4,
       '2026-03-02 UTC'::timestamptz + (i % 3) * interval '1 day' + i * interval '1 second'
FROM generate_series(1, 300) AS i;
SELECT is_empty('SELECT * FROM csm_internal.usage_delta', 'the second bulk insert goes straight to the counters too');
SELECT pg_temp.daily_ok('counted and new account-days');
SELECT pg_temp.features_ok('counted and new account-days');

-- a bulk UPDATE moves events between users and days (groups that cancel out add nothing)
UPDATE bulk_events SET member = 'u' || (id % 5), at = at + (id % 2) * interval '1 day' WHERE id % 3 = 0;
SELECT ok(csm.compact_usage() >= 0, 'a fold runs');
SELECT pg_temp.daily_ok('after a bulk update');

-- a source with neither a user nor a feature column counts no active users
CREATE TABLE bulk_plain (org bigint, at date);
SELECT ok(csm.track_usage('bulk_plain', 'org', 'at') > 0, 'tracking a table without user and feature');
INSERT INTO bulk_plain SELECT i % 7, date '2026-03-01' + i % 4 FROM generate_series(1, 200) AS i;
INSERT INTO bulk_plain SELECT i % 9, date '2026-03-01' + i % 5 FROM generate_series(1, 200) AS i;
SELECT set_eq(
    $$SELECT org::text, at, count(*) AS events, NULL::bigint AS users FROM bulk_plain GROUP BY 1, 2$$,
    $$SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE source = 'bulk_plain'$$,
    'a source without a user column: events per account-day, active users NULL');

SELECT * FROM finish();
ROLLBACK;
