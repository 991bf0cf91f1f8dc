-- Revenue: an account's ARR history (csm.arr_change), from the triggers on
-- csm.account and from billing data, and the retention read from it.
\set VERBOSITY terse

INSERT INTO csm.account (external_id, segment, arr, started_at) VALUES
    ('northwind', 'enterprise', 120000, '2024-01-01'),
    ('globex', 'smb', 18000, '2024-03-01'),
    ('initech', 'smb', 9000, '2024-02-01');

-- Billing history: each line is the ARR from that day on (0: the customer left).
SELECT csm.load_arr_history(ARRAY[
    ('northwind', '2024-01-01', 100000), ('northwind', '2025-01-01', 120000),
    ('globex', '2024-03-01', 24000), ('globex', '2025-03-01', 18000),
    ('initech', '2024-02-01', 9000), ('initech', '2024-11-01', 0), ('initech', '2025-04-01', 9000)
]::csm.arr_snapshot[], 'billing export') AS loaded;

-- A renewal changes the ARR and says why, in its transaction.
BEGIN;
SELECT set_config('csm.arr_change_reason', 'renewal 2026: 20 more seats', true) IS NOT NULL AS reason_set,
       set_config('csm.arr_change_source', 'renewal', true) IS NOT NULL AS source_set,
       set_config('csm.arr_change_date', '2026-01-01', true) IS NOT NULL AS date_set;
UPDATE csm.account SET arr = 150000 WHERE external_id = 'northwind';
COMMIT;

SELECT a.external_id, c.effective_date, c.kind, c.arr_before, c.arr_after, c.reason, c.source
FROM csm.arr_change c JOIN csm.account a USING (account_id)
ORDER BY a.external_id, c.effective_date, c.change_id;

-- 2025: northwind +20,000 (expansion), globex -6,000 (contraction); initech
-- was gone at the start and came back (reactivation, outside GRR and NRR).
-- GRR = (100,000 + 18,000) / 124,000; NRR = (120,000 + 18,000) / 124,000.
SELECT starting_arr, expansion_arr, contraction_arr, churned_arr, reactivation_arr, new_arr,
       ending_arr_of_starting_customers, round(grr, 4) AS grr, round(nrr, 4) AS nrr,
       logo_churn_rate, round(expansion_rate, 4) AS expansion_rate
FROM csm.revenue_retention('2025-01-01', '2025-12-31');
SELECT starting_arr, contraction_arr, reactivation_arr, round(grr, 4) AS grr, round(nrr, 4) AS nrr
FROM csm.revenue_retention('2025-01-01', '2025-12-31', 'smb');

SELECT month, segment, starting_arr, new_arr, expansion_arr, contraction_arr, churned_arr, reactivation_arr,
       ending_arr, customers, round(grr_12m, 4) AS grr_12m, round(nrr_12m, 4) AS nrr_12m, logo_churn_rate_12m, ltv
FROM csm.revenue_monthly
WHERE month IN ('2024-11-01', '2025-01-01', '2025-12-01') AND segment IS NULL
ORDER BY month;

-- Errors.
SELECT * FROM csm.revenue_retention('2025-12-31', '2025-01-01');
SELECT csm.load_arr_history(ARRAY[('nobody', '2025-01-01', 1)]::csm.arr_snapshot[]);
SELECT csm.load_arr_history(ARRAY[('globex', '2024-01-01', 1)]::csm.arr_snapshot[]);
UPDATE csm.arr_change SET reason = 'edited';

-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
