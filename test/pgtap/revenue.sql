-- csm.revenue_retention against a portfolio computed by hand, csm.revenue_monthly
-- against csm.revenue_retention, LTV, and csm.load_arr_history (replacement,
-- idempotence, kinds from the history before, errors).
--
-- The portfolio (history loaded with csm.load_arr_history), period 2025:
--   A enterprise 10,000 since 2023; 14,000 from 2025-03-01       expansion +4,000
--   B enterprise 20,000 since 2023; 15,000 from 2025-05-01       contraction 5,000
--   C enterprise  5,000 since 2023; 0 from 2025-06-15            churn 5,000
--   D smb         8,000 since 2023; 2,000 from 2025-02-01, 12,000 from 2025-09-01
--                 ends up 4,000, but GRR counts least(8,000, 12,000) = 8,000: the cap per customer
--   E smb         joins 2025-04-01 at 6,000                       new_arr 6,000
--   F smb         joins 2025-02-01 at 3,000, 0 from 2025-08-01    joined and churned: in no rate
--   G smb         4,000 since 2023, 0 from 2024-06-01, 7,000 from 2025-07-01   reactivation 7,000
--   H smb         9,000 since 2023, 0 from 2025-03-01, 9,000 from 2025-10-01   left and came back: kept
-- Starting customers A B C D H: starting_arr 52,000; ending 14+15+0+12+9 = 50,000.
-- kept = 10+15+0+8+9 = 42,000: grr 42/52 (the total would give 50/52); nrr 50/52;
-- logo churn 1/5 (C; F joined in the period); expansion 8,000 (A, D), rate 8/52.
BEGIN;
SELECT plan(46);

-- csm_internal._arr_at, the aggregate retention reads with: the latest row on or
-- before the cutoff, the later change_id on a tie, whatever the input order.
SELECT is(csm_internal._arr_at(d, i, a, '2025-01-31' ORDER BY i), 300::numeric, 'the latest row on or before the cutoff; a tie goes to the later change')
FROM (VALUES ('2025-01-01'::date, 1::bigint, 100::numeric), ('2025-01-31', 2, 200), ('2025-01-31', 3, 300), ('2025-02-01', 4, 400)) AS v(d, i, a);
SELECT is(csm_internal._arr_at(d, i, a, '2025-01-31' ORDER BY i DESC), 300::numeric, 'in any order')
FROM (VALUES ('2025-01-01'::date, 1::bigint, 100::numeric), ('2025-01-31', 2, 200), ('2025-01-31', 3, 300), ('2025-02-01', 4, 400)) AS v(d, i, a);
SELECT is(csm_internal._arr_at(d, i, a, '2024-12-31'), NULL, 'NULL before the first row')
FROM (VALUES ('2025-01-01'::date, 1::bigint, 100::numeric)) AS v(d, i, a);

-- Loading history needs the admin level (reading needs only SELECT, which
-- every level has: test/pgtap/access.sql).
CREATE ROLE rv_reader;
SELECT csm.grant_access('rv_reader', 'read');
SET LOCAL ROLE rv_reader;
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-a', '2025-12-01', 1)]::csm.arr_snapshot[])$$, '42501', NULL,
                 'loading history needs the admin level (42501)');
RESET ROLE;

INSERT INTO csm.account (external_id, segment, arr, started_at) VALUES
    ('rv-a', 'enterprise', 14000, '2023-01-01'), ('rv-b', 'enterprise', 15000, '2023-01-01'),
    ('rv-c', 'enterprise', 5000, '2023-01-01'), ('rv-d', 'smb', 12000, '2023-01-01'),
    ('rv-e', 'smb', 6000, '2025-04-01'), ('rv-f', 'smb', 3000, '2025-02-01'),
    ('rv-g', 'smb', 7000, '2023-01-01'), ('rv-h', 'smb', 9000, '2023-01-01');
-- on Citus new accounts' ARR is recorded at commit (a deferred trigger): now
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
UPDATE csm.account SET status = 'churned', churned_at = '2025-06-15' WHERE external_id = 'rv-c';
UPDATE csm.account SET status = 'churned', churned_at = '2025-08-01' WHERE external_id = 'rv-f';

SELECT is(csm.load_arr_history(ARRAY[
    ('rv-a', '2023-01-01', 10000), ('rv-a', '2025-03-01', 14000),
    ('rv-b', '2023-01-01', 20000), ('rv-b', '2025-05-01', 15000),
    ('rv-c', '2023-01-01', 5000), ('rv-c', '2025-06-15', 0),
    ('rv-d', '2023-01-01', 8000), ('rv-d', '2025-02-01', 2000), ('rv-d', '2025-09-01', 12000),
    ('rv-e', '2025-04-01', 6000),
    ('rv-f', '2025-02-01', 3000), ('rv-f', '2025-08-01', 0),
    ('rv-g', '2023-01-01', 4000), ('rv-g', '2024-06-01', 0), ('rv-g', '2025-07-01', 7000),
    ('rv-h', '2023-01-01', 9000), ('rv-h', '2025-03-01', 0), ('rv-h', '2025-10-01', 9000)
]::csm.arr_snapshot[], 'fixture'), 18::bigint, 'the history loads: one movement per snapshot');

SELECT results_eq(
    $$SELECT a.external_id, c.kind, c.source, c.reason FROM csm.arr_change c JOIN csm.account a USING (account_id)
      WHERE a.external_id IN ('rv-d', 'rv-g') ORDER BY a.external_id, c.effective_date$$,
    $$VALUES ('rv-d', 'new', 'billing', 'fixture'), ('rv-d', 'contraction', 'billing', 'fixture'), ('rv-d', 'expansion', 'billing', 'fixture'),
             ('rv-g', 'new', 'billing', 'fixture'), ('rv-g', 'churn', 'billing', 'fixture'), ('rv-g', 'reactivation', 'billing', 'fixture')$$,
    'loaded movements are classified, source billing, with the reason');
SELECT is((SELECT count(*) FROM csm.arr_change c JOIN csm.account a USING (account_id)
           WHERE a.external_id LIKE 'rv-%' AND c.source = 'account'), 0::bigint,
          'the rows the triggers wrote on insert and churn were replaced by the loaded history');

-- The year, all segments ---------------------------------------------------------------
SELECT results_eq(
    $$SELECT starting_arr, expansion_arr, contraction_arr, churned_arr, reactivation_arr, ending_arr_of_starting_customers,
             new_arr, starting_customers, churned_customers, new_customers, reactivated_customers
      FROM csm.revenue_retention('2025-01-01', '2025-12-31')$$,
    $$VALUES (52000::numeric, 8000::numeric, 5000::numeric, 5000::numeric, 7000::numeric, 50000::numeric,
              6000::numeric, 5::bigint, 1::bigint, 1::bigint, 1::bigint)$$,
    'the movements of 2025 are those computed by hand');
SELECT is(grr, 42000 / 52000::numeric, 'grr is capped per customer: 42,000 / 52,000') FROM csm.revenue_retention('2025-01-01', '2025-12-31');
SELECT isnt(grr, least(50000, 52000) / 52000::numeric, 'not on the total (50,000 / 52,000)') FROM csm.revenue_retention('2025-01-01', '2025-12-31');
SELECT is(nrr, 50000 / 52000::numeric, 'nrr: 50,000 / 52,000; new and reactivated ARR stay out') FROM csm.revenue_retention('2025-01-01', '2025-12-31');
SELECT is(logo_churn_rate, 0.2, 'logo churn: 1 of 5 starting customers; F joined and churned in the period and is not counted')
FROM csm.revenue_retention('2025-01-01', '2025-12-31');
SELECT is(expansion_rate, 8000 / 52000::numeric, 'expansion rate: 8,000 / 52,000') FROM csm.revenue_retention('2025-01-01', '2025-12-31');

-- Per segment ------------------------------------------------------------------------------
SELECT results_eq(
    $$SELECT starting_arr, expansion_arr, contraction_arr, churned_arr, reactivation_arr, new_arr, grr, nrr, logo_churn_rate
      FROM csm.revenue_retention('2025-01-01', '2025-12-31', 'enterprise')$$,
    $$VALUES (35000::numeric, 4000::numeric, 5000::numeric, 5000::numeric, 0::numeric, 0::numeric,
              25000 / 35000::numeric, 29000 / 35000::numeric, 1 / 3::numeric)$$,
    'enterprise: A, B, C');
SELECT results_eq(
    $$SELECT starting_arr, expansion_arr, contraction_arr, churned_arr, reactivation_arr, new_arr, grr, nrr, logo_churn_rate
      FROM csm.revenue_retention('2025-01-01', '2025-12-31', 'smb')$$,
    $$VALUES (17000::numeric, 4000::numeric, 0::numeric, 0::numeric, 7000::numeric, 6000::numeric,
              1::numeric, 21000 / 17000::numeric, 0::numeric)$$,
    'smb: D and H start; E new, G back, F in and out');
SELECT results_eq($$SELECT starting_arr, grr, nrr, logo_churn_rate, expansion_rate, new_arr
                    FROM csm.revenue_retention('2025-01-01', '2025-12-31', 'no such segment')$$,
    $$VALUES (0::numeric, NULL::numeric, NULL::numeric, NULL::numeric, NULL::numeric, 0::numeric)$$,
    'no starting customers: zero ARR and NULL rates, never a division by zero');

-- The edges of a period: both days included -------------------------------------------------
-- 2025-03-01 alone: A expands and H leaves that day; D is at 2,000, F has started.
SELECT results_eq(
    $$SELECT starting_arr, expansion_arr, churned_arr, grr, starting_customers FROM csm.revenue_retention('2025-03-01', '2025-03-01')$$,
    $$VALUES (49000::numeric, 4000::numeric, 9000::numeric, 40000 / 49000::numeric, 6::bigint)$$,
    'a change dated period_start is in the period, as is one dated period_end');
-- February 2025: D falls to 2,000 and F joins on the 1st; A's rise on March 1st is not in it.
SELECT results_eq($$SELECT starting_arr, expansion_arr, contraction_arr, new_arr FROM csm.revenue_retention('2025-02-01', '2025-02-28')$$,
    $$VALUES (52000::numeric, 0::numeric, 6000::numeric, 3000::numeric)$$, 'one dated the day after period_end is not');

-- Errors -----------------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM csm.revenue_retention(NULL, '2025-12-31')$$, '22004', NULL, 'a NULL period_start: 22004');
SELECT throws_ok($$SELECT * FROM csm.revenue_retention('2025-01-01', NULL)$$, '22004', NULL, 'a NULL period_end: 22004');
SELECT throws_ok($$SELECT * FROM csm.revenue_retention('2025-12-31', '2025-01-01')$$, '22023', NULL, 'period_end before period_start: 22023');

-- revenue_monthly -------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM csm.revenue_monthly WHERE month BETWEEN '2023-01-01' AND '2025-12-01'),
          36 * 3::bigint, 'one row per month and segment, and a total, from the first movement: zero-filled');
SELECT results_eq(
    $$SELECT starting_arr, new_arr, expansion_arr, contraction_arr, churned_arr, reactivation_arr, ending_arr, customers
      FROM csm.revenue_monthly WHERE month = '2024-02-01' AND segment = 'smb'$$,
    $$VALUES (21000::numeric, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 21000::numeric, 3::bigint)$$,
    'a month without movements carries the ARR: smb in February 2024 is D, G and H');
-- Every month, segment and total agrees with revenue_retention over that month and over the twelve months to its end.
SELECT is_empty($$
    SELECT m.month, m.segment
    FROM csm.revenue_monthly m
    CROSS JOIN LATERAL csm.revenue_retention(m.month, (m.month + interval '1 month - 1 day')::date, m.segment) r
    CROSS JOIN LATERAL csm.revenue_retention((m.month - interval '11 months')::date, (m.month + interval '1 month - 1 day')::date, m.segment) y
    WHERE m.month <= '2025-12-01'
      AND (m.starting_arr, m.new_arr, m.expansion_arr, m.contraction_arr, m.churned_arr, m.reactivation_arr,
           m.ending_arr, m.churned_customers, m.new_customers)
          IS DISTINCT FROM (r.starting_arr, r.new_arr, r.expansion_arr, r.contraction_arr, r.churned_arr, r.reactivation_arr,
                            r.ending_arr_of_starting_customers + r.new_arr + r.reactivation_arr, r.churned_customers, r.new_customers)
       OR (m.grr, m.nrr, m.grr_12m, m.nrr_12m, m.logo_churn_rate_12m) IS DISTINCT FROM (r.grr, r.nrr, y.grr, y.nrr, y.logo_churn_rate)$$,
    'every row of revenue_monthly is revenue_retention''s answer for that month and the trailing twelve');
SELECT results_eq($$SELECT grr_12m, nrr_12m FROM csm.revenue_monthly WHERE month = '2025-12-01' AND segment IS NULL$$,
    $$VALUES (42000 / 52000::numeric, 50000 / 52000::numeric)$$, 'December 2025''s trailing twelve months are the year computed by hand');
-- LTV: ARPA / trailing logo churn. Total, December 2025: ending ARR 14+15+12+6+7+9 = 63,000 over 6 customers;
-- churn 1/5: LTV 10,500 * 5 = 52,500.
SELECT results_eq($$SELECT arpa, ltv FROM csm.revenue_monthly WHERE month = '2025-12-01' AND segment IS NULL$$,
    $$VALUES (63000 / 6::numeric, (63000 / 6::numeric) / 0.2)$$, 'ltv = arpa / trailing logo churn rate');
SELECT results_eq($$SELECT logo_churn_rate_12m, ltv FROM csm.revenue_monthly WHERE month = '2025-12-01' AND segment = 'smb'$$,
    $$VALUES (0::numeric, NULL::numeric)$$, 'without churn, ltv is NULL, not infinite');

-- load_arr_history: replacement and idempotence ----------------------------------------------
CREATE TEMP TABLE before_reload AS
    SELECT c.account_id, c.effective_date, c.arr_before, c.arr_after, c.kind FROM csm.arr_change c
    JOIN csm.account a USING (account_id) WHERE a.external_id LIKE 'rv-%';
SELECT is(csm.load_arr_history(ARRAY[('rv-d', '2025-02-01', 2000), ('rv-d', '2025-09-01', 12000)]::csm.arr_snapshot[]), 2::bigint,
          'reloading part of an account''s history writes it again');
SELECT set_eq($$SELECT c.account_id, c.effective_date, c.arr_before, c.arr_after, c.kind FROM csm.arr_change c
               JOIN csm.account a USING (account_id) WHERE a.external_id LIKE 'rv-%'$$,
              'SELECT * FROM before_reload', 'and the history is the same: the earlier movement gives the ARR it starts from');
SELECT is(csm.load_arr_history(ARRAY[('rv-d', '2025-06-01', 9000)]::csm.arr_snapshot[]), 1::bigint, 'a later start replaces from there');
SELECT results_eq($$SELECT c.effective_date, c.arr_before, c.arr_after, c.kind FROM csm.arr_change c JOIN csm.account a USING (account_id)
                    WHERE a.external_id = 'rv-d' ORDER BY c.effective_date$$,
    $$VALUES ('2023-01-01'::date, 0::numeric, 8000::numeric, 'new'), ('2025-02-01', 8000, 2000, 'contraction'),
             ('2025-06-01', 2000, 9000, 'expansion')$$,
    'the movements on and after the first snapshot are replaced, those before kept');
SELECT is(csm.load_arr_history(ARRAY[('rv-g', '2025-11-01', 0), ('rv-g', '2025-12-01', 500)]::csm.arr_snapshot[]), 2::bigint, 'churn and return');
SELECT results_eq($$SELECT c.kind FROM csm.arr_change c JOIN csm.account a USING (account_id)
                    WHERE a.external_id = 'rv-g' AND c.effective_date >= '2025-11-01' ORDER BY c.effective_date$$,
    $$VALUES ('churn'), ('reactivation')$$, 'a return is a reactivation when the kept history shows the account paid');
SELECT is(csm.load_arr_history(ARRAY[('rv-a', '2025-12-01', 14000)]::csm.arr_snapshot[]), 0::bigint,
          'a snapshot that changes nothing records nothing');
SELECT is(csm.load_arr_history('{}'), 0::bigint, 'an empty history loads nothing');
SELECT is((SELECT count(*) FROM csm.account a WHERE a.external_id = 'rv-d' AND a.arr = 12000), 1::bigint,
          'the loader does not change csm.account');

-- load_arr_history: errors ------------------------------------------------------------------
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-nobody', '2025-01-01', 1)]::csm.arr_snapshot[])$$,
                 'P0002', 'account "rv-nobody" does not exist', 'an unknown account: P0002');
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-a', NULL, 1)]::csm.arr_snapshot[])$$, '22004', NULL, 'a NULL date: 22004');
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-a', '2025-01-01', NULL)]::csm.arr_snapshot[])$$, '22004', NULL, 'a NULL arr: 22004');
SELECT throws_ok($$SELECT csm.load_arr_history(NULL)$$, '22004', NULL, 'a NULL history: 22004');
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-a', '2025-01-01', -1)]::csm.arr_snapshot[])$$, '22023', NULL, 'a negative arr: 22023');
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-a', '2025-01-01', 'NaN')]::csm.arr_snapshot[])$$, '22023', NULL, 'a NaN arr: 22023');
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-a', '2025-01-01', 'Infinity')]::csm.arr_snapshot[])$$, '22023', NULL, 'an infinite arr: 22023');
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-a', '2025-01-01', 1), ('rv-a', '2025-01-01', 2)]::csm.arr_snapshot[])$$,
                 '22023', NULL, 'two snapshots of one account on one day: 22023');
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-a', '2025-01-01', 1)]::csm.arr_snapshot[], ' ')$$, '22023', NULL, 'a blank reason: 22023');
SELECT throws_ok($$SELECT csm.load_arr_history(ARRAY[('rv-e', '2025-03-31', 6000)]::csm.arr_snapshot[])$$,
                 '23514', NULL, 'a snapshot before the account started (2025-04-01): 23514');

SELECT * FROM finish();
ROLLBACK;
