-- csm.arr_change: the kind of each movement, the triggers on csm.account
-- (arr and status, the reason, source and date settings, new accounts,
-- restores), the refusals (a date before the account started, UPDATEs),
-- and the table's shape (key, cascade, dump).
BEGIN;
SELECT plan(33);

-- The classifier ---------------------------------------------------------------
SELECT is(csm.arr_change_kind(b, a, w), k, format('arr_change_kind(%s, %s, %s) is %s', b, a, w, coalesce(k, 'NULL')))
FROM (VALUES (0::numeric, 100::numeric, false, 'new'), (0, 100, true, 'reactivation'), (0, 100, NULL, 'new'),
             (100, 150, false, 'expansion'), (100, 150, true, 'expansion'), (150, 100, false, 'contraction'),
             (100, 0, false, 'churn'), (100, 100, false, NULL), (0, 0, true, NULL)) AS v(b, a, w, k);

-- The shape ---------------------------------------------------------------------
SELECT col_is_pk('csm', 'arr_change', ARRAY['account_id', 'change_id'], 'account_id leads the primary key');
SELECT ok((SELECT confdeltype = 'c' FROM pg_constraint WHERE conname = 'arr_change_account_fkey'),
          'rows go with their account (ON DELETE CASCADE)');
SELECT ok(EXISTS (SELECT FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'csm' AND c = 'csm.arr_change'::regclass),
          'pg_dump keeps csm.arr_change');
SELECT is((SELECT kind FROM csm_internal._distribution() WHERE relation = 'csm.arr_change'::regclass), 'account',
          'on Citus it is distributed by account');

-- New accounts ------------------------------------------------------------------
INSERT INTO csm.account (external_id, arr, started_at) VALUES
    ('rev-new', 1000, now()), ('rev-trial', NULL, now()), ('rev-old', 500, '2024-03-15 10:00+00'),
    ('rev-gone', 300, now()), ('rev-future', 200, now() + interval '10 days');
-- a restore brings accounts with their history: created before this transaction
INSERT INTO csm.account (external_id, arr, started_at, created_at) VALUES ('rev-restored', 700, '2024-01-01', '2025-01-01');
-- on Citus new accounts' ARR is recorded at commit (a deferred trigger): now
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
CREATE TEMP TABLE ids AS SELECT external_id, account_id FROM csm.account WHERE external_id LIKE 'rev-%';
CREATE FUNCTION pg_temp.changes(ext text) RETURNS TABLE (effective_date date, arr_before numeric, arr_after numeric, kind text, reason text, source text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT c.effective_date, c.arr_before, c.arr_after, c.kind, c.reason, c.source
    FROM csm.arr_change c WHERE c.account_id = (SELECT i.account_id FROM ids i WHERE i.external_id = ext) ORDER BY c.change_id;
END $$;
SELECT results_eq($$SELECT * FROM pg_temp.changes('rev-new')$$,
    $$VALUES ((now() AT TIME ZONE 'UTC')::date, 0::numeric, 1000::numeric, 'new', 'manual', 'account')$$,
    'a new account with ARR is a new customer, today, with the default reason and source');
SELECT results_eq($$SELECT * FROM pg_temp.changes('rev-old')$$,
    $$VALUES ('2024-03-15'::date, 0::numeric, 500::numeric, 'new', 'manual', 'account')$$,
    'an account that started earlier is new from the day it started');
SELECT results_eq($$SELECT effective_date FROM pg_temp.changes('rev-future')$$,
    $$VALUES ((now() AT TIME ZONE 'UTC')::date + 10)$$, 'one that starts later is new from then');
SELECT is_empty($$SELECT * FROM pg_temp.changes('rev-trial')$$, 'an account without ARR has no movement');
SELECT is_empty($$SELECT * FROM pg_temp.changes('rev-restored')$$, 'a restored account (created before the transaction) is left alone');

-- Changes of arr and status -------------------------------------------------------
UPDATE csm.account SET arr = 1500 WHERE external_id = 'rev-new';
SELECT set_config('csm.arr_change_reason', 'renewal upsell', true), set_config('csm.arr_change_source', 'renewal', true);
UPDATE csm.account SET arr = 1200, name = 'renamed' WHERE external_id = 'rev-new';
SELECT set_config('csm.arr_change_reason', '', true), set_config('csm.arr_change_source', '', true);
UPDATE csm.account SET name = 'again', seats = 3 WHERE external_id = 'rev-new';
UPDATE csm.account SET arr = 1200 WHERE external_id = 'rev-new';
SELECT results_eq($$SELECT * FROM pg_temp.changes('rev-new')$$,
    $$VALUES ((now() AT TIME ZONE 'UTC')::date, 0::numeric, 1000::numeric, 'new', 'manual', 'account'),
             ((now() AT TIME ZONE 'UTC')::date, 1000, 1500, 'expansion', 'manual', 'account'),
             ((now() AT TIME ZONE 'UTC')::date, 1500, 1200, 'contraction', 'renewal upsell', 'renewal')$$,
    'expansion and contraction, with the reason and source the transaction set; other changes record nothing');

UPDATE csm.account SET status = 'churned', churned_at = '2026-01-31 23:30-05' WHERE external_id = 'rev-old';
SELECT results_eq($$SELECT * FROM pg_temp.changes('rev-old') OFFSET 1$$,
    $$VALUES ('2026-02-01'::date, 500::numeric, 0::numeric, 'churn', 'manual', 'account')$$,
    'a churn is dated by churned_at (in UTC), its ARR falls to 0');
UPDATE csm.account SET arr = 800 WHERE external_id = 'rev-old';
SELECT is((SELECT count(*) FROM pg_temp.changes('rev-old')), 2::bigint, 'a churned account''s arr is not revenue');
UPDATE csm.account SET status = 'active' WHERE external_id = 'rev-old';
SELECT results_eq($$SELECT * FROM pg_temp.changes('rev-old') OFFSET 2$$,
    $$VALUES ((now() AT TIME ZONE 'UTC')::date, 0::numeric, 800::numeric, 'reactivation', 'manual', 'account')$$,
    'back to active is a reactivation, at its current arr');

UPDATE csm.account SET arr = 0 WHERE external_id = 'rev-gone';
UPDATE csm.account SET arr = 250 WHERE external_id = 'rev-gone';
SELECT results_eq($$SELECT kind FROM pg_temp.changes('rev-gone')$$, $$VALUES ('new'), ('churn'), ('reactivation')$$,
    'arr to 0 while active is a churn, back up a reactivation: it paid before');
UPDATE csm.account SET arr = 90 WHERE external_id = 'rev-trial';
SELECT results_eq($$SELECT kind, arr_before, arr_after FROM pg_temp.changes('rev-trial')$$, $$VALUES ('new', 0::numeric, 90::numeric)$$,
    'a trial that starts paying is new');

-- The date setting; nothing before the account started ------------------------------
SELECT throws_ok($$SELECT set_config('csm.arr_change_date', '2025-06-30', true);
                   UPDATE csm.account SET arr = 2000 WHERE external_id = 'rev-new'$$,
    '23514', NULL, 'a change dated before the account started is refused (23514)');
SELECT set_config('csm.arr_change_date', '2026-06-30', true);
UPDATE csm.account SET arr = 900 WHERE external_id = 'rev-old';
SELECT set_config('csm.arr_change_date', '', true);
SELECT results_eq($$SELECT effective_date, kind FROM pg_temp.changes('rev-old') OFFSET 3$$,
    $$VALUES ('2026-06-30'::date, 'expansion')$$, 'csm.arr_change_date dates the change');
SELECT throws_ok($$SELECT set_config('csm.arr_change_date', 'soon', true);
                   UPDATE csm.account SET arr = 901 WHERE external_id = 'rev-old'$$,
    '22007', NULL, 'a csm.arr_change_date that is not a date is refused (22007)');
SELECT set_config('csm.arr_change_date', '', true);

-- Several accounts in one statement ------------------------------------------------------
UPDATE csm.account SET arr = arr * 2 WHERE external_id IN ('rev-new', 'rev-gone', 'rev-future');
SELECT is((SELECT count(*) FROM csm.arr_change c JOIN ids USING (account_id)
           WHERE ids.external_id IN ('rev-new', 'rev-gone', 'rev-future') AND c.kind = 'expansion' AND c.arr_after = 2 * c.arr_before),
          3::bigint, 'one statement over several accounts records each');

-- Append-only ---------------------------------------------------------------------
SELECT throws_ok($$UPDATE csm.arr_change SET arr_after = 1 WHERE kind = 'new'$$, '0A000', 'csm.arr_change is append-only',
                 'an UPDATE is refused (0A000)');
SELECT throws_ok(format($$INSERT INTO csm.arr_change (account_id, effective_date, arr_before, arr_after, kind)
                          VALUES (%s, '2026-01-01', 100, 200, 'contraction')$$, (SELECT account_id FROM ids WHERE external_id = 'rev-new')),
                 '23514', NULL, 'a kind that does not match before and after is refused (23514)');
SELECT throws_ok(format($$INSERT INTO csm.arr_change (account_id, effective_date, arr_before, arr_after, kind)
                          VALUES (%s, '2026-01-01', 100, 100, 'expansion')$$, (SELECT account_id FROM ids WHERE external_id = 'rev-new')),
                 '23514', NULL, 'a row that changes nothing is refused (23514)');
DELETE FROM csm.account WHERE external_id = 'rev-gone';
SELECT is_empty($$SELECT * FROM csm.arr_change c JOIN ids USING (account_id) WHERE ids.external_id = 'rev-gone'$$,
                'deleting an account deletes its history');

-- Settings are real GUCs (csm's prefix is reserved once the module is loaded)
SELECT is((SELECT count(*) FROM pg_settings WHERE name IN ('csm.arr_change_reason', 'csm.arr_change_source', 'csm.arr_change_date')),
          3::bigint, 'the three settings are defined');

SELECT * FROM finish();
ROLLBACK;
