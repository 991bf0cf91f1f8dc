-- citus-differs: tracks a local (non-distributed) table, which csm refuses on a distributed csm with 0A000 by design.
-- Issue 11, section 4: track_usage(..., create_accounts => false) counts
-- events for keys with no account in csm.usage_unknown_key instead of
-- creating accounts, and rolls them up once the account is created.
BEGIN;
SELECT plan(19);

INSERT INTO csm.account (external_id) VALUES ('org_known');
CREATE TABLE tap_unk (org text, who text, what text, at timestamptz);
INSERT INTO tap_unk VALUES ('org_old_typo', 'u1', 'login', '2026-02-01 10:00+00');
SELECT lives_ok($$SELECT csm.track_usage('tap_unk', 'org', 'at', 'what', 'who', create_accounts => false)$$,
                'track_usage() takes create_accounts => false');
SELECT is((SELECT create_accounts FROM csm.usage_source), false, 'the setting is kept per source');
INSERT INTO tap_unk VALUES ('org_known', 'u1', 'login', '2026-03-01 10:00+00'),
                           ('org_typo', 'u1', 'login', '2026-03-01 11:00+00'),
                           ('org_typo', 'u2', 'export', '2026-03-03 11:00+00');
SELECT is((SELECT count(*) FROM csm.account WHERE external_id = 'org_typo'), 0::bigint, 'no account is created for an unknown key');
SELECT is((SELECT sum(events) FROM csm.usage_daily), 1::numeric, 'only the known account''s event is rolled up');
SELECT results_eq($$SELECT source, key, events, first_seen_date, last_seen_date FROM csm.usage_unknown_key ORDER BY key$$,
                  $$VALUES ('tap_unk', 'org_typo', 2::bigint, '2026-03-01'::date, '2026-03-03'::date)$$,
                  'usage_unknown_key lists the unknown key, its events and the days it was first and last seen');

-- backfill_usage() follows the setting too.
SELECT is(csm.backfill_usage('tap_unk'), 4::bigint, 'backfill reads every row');
SELECT is((SELECT count(*) FROM csm.account WHERE external_id LIKE '%typo'), 0::bigint, 'and creates no account');
SELECT results_eq($$SELECT key, events FROM csm.usage_unknown_key ORDER BY key$$,
                  $$VALUES ('org_old_typo', 1::bigint), ('org_typo', 2::bigint)$$,
                  'backfill counts the unknown keys once, with the rows already there');

-- A bulk statement (added to the counters at once) keeps unknown keys aside as well.
SET LOCAL csm.compact_threshold = 5;
INSERT INTO tap_unk SELECT 'org_bulk_' || i, NULL, NULL, '2026-03-05' FROM generate_series(1, 10) AS i;
RESET csm.compact_threshold;
SELECT is((SELECT count(*) FROM csm.usage_unknown_key WHERE key LIKE 'org_bulk_%'), 10::bigint, 'a bulk insert''s unknown keys are listed');
DELETE FROM tap_unk WHERE org LIKE 'org_bulk_%';
SELECT is((SELECT count(*) FROM csm.usage_unknown_key WHERE key LIKE 'org_bulk_%'), 0::bigint, 'and leave when their rows are deleted');

-- The account appears: its pending events count at once, and fold later.
INSERT INTO csm.account (external_id) VALUES ('org_typo');
SELECT is((SELECT sum(events) FROM csm.usage_daily WHERE external_id = 'org_typo'), 2::numeric,
          'once the account exists its events are rolled up');
SELECT is((SELECT active_users FROM csm.usage_daily WHERE external_id = 'org_typo' AND day = '2026-03-01'), 1::bigint,
          'with its active users');
SELECT is((SELECT sum(events) FROM csm.usage_feature_daily WHERE external_id = 'org_typo'), 2::numeric,
          'and its features');
SELECT is((SELECT count(*) FROM csm.usage_unknown_key WHERE key = 'org_typo'), 0::bigint, 'and it is no longer unknown');
SELECT ok(csm.compact_usage() > 0, 'compact_usage() folds them');
SELECT is((SELECT sum(events) FROM csm.usage_daily WHERE external_id = 'org_typo'), 2::numeric, 'the totals stay the same');
SELECT is((SELECT count(*) FROM csm_internal.usage_pending WHERE account_key = 'org_typo'), 0::bigint, 'and nothing is pending for it');

TRUNCATE tap_unk;
SELECT is((SELECT count(*) FROM csm.usage_unknown_key), 0::bigint, 'TRUNCATE clears the unknown keys');

-- The default still creates accounts.
CREATE TABLE tap_unk2 (org text, at date);
SELECT csm.track_usage('tap_unk2', 'org', 'at');
INSERT INTO tap_unk2 VALUES ('org_new', '2026-03-01');
SELECT is((SELECT count(*) FROM csm.account WHERE external_id = 'org_new'), 1::bigint, 'create_accounts defaults to true');

SELECT * FROM finish();
ROLLBACK;
