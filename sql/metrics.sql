-- citus-differs: csm.track_usage refuses the file's local event table on Citus (0A000, README "Growing past one machine": the event table must be distributed), so the usage metrics stay NULL.
-- csm.account_metrics: the raw inputs of health models, each with a
-- documented definition, NULL where its source does not exist.
\set VERBOSITY terse
INSERT INTO csm.account (external_id, seats, renewal_date, created_at)
VALUES ('org_busy', 4, '2026-06-30', '2026-01-01'), ('org_quiet', 10, '2026-04-15', '2026-01-01'),
       ('org_none', NULL, NULL, '2026-01-01');

-- no usage source yet: usage metrics are NULL, not zero
SELECT external_id, dau_ratio, features_adopted, days_since_last_activity, usage_trend,
       tickets_per_month, nps, days_to_renewal
FROM csm.account_metrics_at('2026-03-31') ORDER BY 1;

CREATE TABLE events (org text, member text, feature text, at timestamptz);
SELECT csm.track_usage('events', 'org', 'at', 'feature', 'member') IS NOT NULL AS tracked;

-- org_busy: 2 users every day of March (so 2/4 seats), 3 features in the last
-- 30 days; the last 14 days twice as busy as the 14 before.
INSERT INTO events
SELECT 'org_busy', 'u' || u::text, 'f' || (d % 3)::text, '2026-03-01 12:00+00'::timestamptz + d::float8 * interval '1 day'
FROM generate_series(0, 30) AS d, generate_series(1, 2) AS u;
INSERT INTO events
SELECT 'org_busy', 'u1', 'f0', '2026-03-18 12:00+00'::timestamptz + d::float8 * interval '1 day'
FROM generate_series(0, 13) AS d, generate_series(1, 2) AS x;
-- org_quiet: one user, last seen on March 10, one old feature
INSERT INTO events VALUES ('org_quiet', 'u1', 'old', '2026-02-20 08:00+00'), ('org_quiet', 'u1', 'old', '2026-03-10 08:00+00');
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT account_id, t, s FROM csm.account,
    (VALUES ('2026-01-01'::timestamptz, 9), ('2026-03-20', 4), ('2026-04-20', 10)) AS v(t, s)
WHERE external_id = 'org_busy';

SELECT external_id, round(dau_ratio::numeric, 4) AS dau_ratio, features_adopted, days_since_last_activity,
       round(usage_trend::numeric, 4) AS usage_trend, tickets_per_month, nps, days_to_renewal
FROM csm.account_metrics_at('2026-03-31') ORDER BY 1;

-- the view is the function as of today
SELECT count(*) = 3 AS one_row_per_account FROM csm.account_metrics;

-- An account has metrics only from the day it existed: created (created_at),
-- a customer (started_at), or seen in its usage, conversations or NPS,
-- whichever is first.  org_new was created on December 1 with no earlier
-- history; org_imported was created then too, from events of March 5.
INSERT INTO csm.account (external_id, seats, created_at)
VALUES ('org_new', 5, '2026-12-01 09:00+00'), ('org_imported', 5, '2026-12-01 09:00+00'),
       ('org_signed', 5, '2026-12-01 09:00+00');
UPDATE csm.account SET started_at = '2026-06-30 23:59+00' WHERE external_id = 'org_signed';
INSERT INTO events VALUES ('org_imported', 'u1', 'f0', '2026-03-05 10:00+00');
SELECT to_char(d, 'YYYY-MM-DD') AS day, pg_catalog.array_agg(external_id ORDER BY external_id) FILTER (WHERE external_id LIKE 'org_%') AS existing
FROM unnest('{2026-03-04,2026-03-05,2026-06-30,2026-11-30,2026-12-01}'::date[]) AS d,
     LATERAL csm.account_metrics_at(d)
GROUP BY d ORDER BY d;
SELECT count(*) AS org_new_rows_on_june_30
FROM csm.account_metrics_at('2026-06-30', (SELECT account_id FROM csm.account WHERE external_id = 'org_new'));

-- leave a fresh extension for the next test
DROP TABLE events;
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
