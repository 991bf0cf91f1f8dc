-- citus-differs: tracks a local (non-distributed) table, which csm refuses on a distributed csm with 0A000 by design, and its identity primary key cannot be distributed by the account column.
-- Property check: after any random sequence of inserts, deletes and updates
-- (including ones that move rows between accounts, days, users and
-- features), the rollup equals a GROUP BY over the source.
BEGIN;
SELECT plan(7);

CREATE TABLE prop_events (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                          org text, member int, feature varchar, at timestamp);
SELECT ok(csm.track_usage('prop_events', 'org', 'at', 'feature', 'member') > 0, 'tracking the table');
SELECT setseed(0.25);
-- fold often, so pending and folded counts mix all along the walk
SET LOCAL csm.compact_threshold = 7;

DO $$
DECLARE
    op int;
BEGIN
    FOR step IN 1..300 LOOP
        op := floor(random() * 9);
        IF op < 5 THEN
            INSERT INTO prop_events (org, member, feature, at)
            SELECT CASE WHEN random() < 0.05 THEN NULL ELSE 'org_' || floor(random() * 6) END,
                   CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 8) END,
                   CASE WHEN random() < 0.1 THEN NULL ELSE 'f' || floor(random() * 4) END,
                   '2026-03-01'::timestamp + floor(random() * 5) * interval '1 day' + random() * interval '23 hours'
            FROM generate_series(1, 1 + floor(random() * 20)::int);
        ELSIF op < 7 THEN
            DELETE FROM prop_events WHERE id % 7 = floor(random() * 7) AND random() < 0.3;
        ELSIF op < 9 THEN
            UPDATE prop_events
            SET member = CASE WHEN random() < 0.5 THEN member ELSE floor(random() * 8) END,
                org = CASE WHEN random() < 0.7 THEN org ELSE 'org_' || floor(random() * 6) END,
                at = CASE WHEN random() < 0.7 THEN at ELSE at + interval '1 day' END,
                feature = CASE WHEN random() < 0.7 THEN feature ELSE 'f' || floor(random() * 4) END
            WHERE id % 5 = floor(random() * 5) AND random() < 0.4;
        END IF;
        IF step % 50 = 0 THEN
            PERFORM csm.compact_usage();
        END IF;
        IF step = 100 THEN
            TRUNCATE prop_events;  -- once, to start over mid-walk
        END IF;
    END LOOP;
END $$;

SELECT cmp_ok((SELECT count(*) FROM prop_events), '>', 100::bigint, 'the random walk left rows to check');
SELECT set_eq(
    $$SELECT org, at::date, count(*) AS events, count(DISTINCT member) AS users FROM prop_events WHERE org IS NOT NULL GROUP BY 1, 2$$,
    $$SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE events <> 0$$,
    'events and distinct active users per account-day match the source');
SELECT set_eq(
    $$SELECT org, at::date, feature::text, count(*) AS events FROM prop_events
      WHERE org IS NOT NULL AND feature IS NOT NULL GROUP BY 1, 2, 3$$,
    $$SELECT external_id, day, feature, events FROM csm.usage_feature_daily WHERE events <> 0$$,
    'per-feature counts match the source');

SET LOCAL csm.compact_threshold = 0;  -- leave this one pending
INSERT INTO prop_events (org, member, feature, at) VALUES ('org_1', 1, 'f1', '2026-03-02 10:00');
SELECT cmp_ok(csm.compact_usage(), '>', 0::bigint, 'a final fold takes the pending deltas');
SELECT is_empty('SELECT * FROM csm_internal.usage_delta', 'nothing is left pending');
SELECT set_eq(
    $$SELECT org, at::date, count(*) AS events, count(DISTINCT member) AS users FROM prop_events WHERE org IS NOT NULL GROUP BY 1, 2$$,
    $$SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE events <> 0$$,
    'after a final fold the counters alone still match');
SELECT * FROM finish();
ROLLBACK;
