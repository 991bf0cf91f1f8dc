-- Renewals: opened 90 days out, staged 90/60/30 and execution, reminded
-- once per window, closed with the outcome from final against target.
\set VERBOSITY terse
INSERT INTO csm.team_member (handle, roles) VALUES ('rene', '{csm}');
INSERT INTO csm.account (account_id, external_id, arr, segment, renewal_date)
SELECT i, e, arr, 'smb', (now() AT TIME ZONE 'UTC')::date + d
FROM (VALUES (1, 'acme', 12000, 85), (2, 'globex', 30000, 50), (3, 'initech', 8000, 12),
             (4, 'umbrella', 5000, -2), (5, 'hooli', 50000, 150)) AS t(i, e, arr, d);
SELECT csm.csm_assign('acme', 'rene') IS NOT NULL AS assigned;

-- The first refresh opens the four renewals within 90 days and reminds three.
SELECT opened, closed, reminded FROM csm.refresh_renewals();
SELECT a.external_id, r.stage, r.target_arr, r.owner
FROM csm.renewal r JOIN csm.account a USING (account_id) ORDER BY r.renewal_date;
SELECT a.external_id, rr.days_out, rr.owner
FROM csm.renewal_reminder rr JOIN csm.account a USING (account_id) ORDER BY rr.days_out DESC;
-- Idempotent.
SELECT * FROM csm.refresh_renewals();

-- The forecast: ARR x (1 - churn probability); the prior model gives 10%.
SELECT csm.refresh_churn() AS scored;
SELECT updated FROM csm.refresh_renewals();

-- The pipeline, 180 days out: hooli is not open yet.
SELECT external_id, days_out, horizon_days, stage, owner, churn_band, arr, target_arr, forecast_arr, churn_model
FROM csm.renewal_pipeline ORDER BY days_out;

-- Closing: upsell, downsell, churned.
SELECT outcome, target_arr, final_arr, stage FROM csm.close_renewal('globex', 36000);
SELECT outcome, target_arr, final_arr, stage FROM csm.close_renewal('initech', 6000);
SELECT outcome, target_arr, final_arr, stage FROM csm.close_renewal('umbrella', 0);
SELECT external_id, arr, status, renewal_date - (now() AT TIME ZONE 'UTC')::date > 365 AS rolled_forward
FROM csm.account ORDER BY account_id;
-- Each close wrote its ARR movement to csm.arr_change, source renewal.
SELECT a.external_id, c.arr_before, c.arr_after, c.kind, c.source, c.reason LIKE 'renewal ' || r.outcome || ':%' AS reason_ok
FROM csm.arr_change c JOIN csm.account a USING (account_id) JOIN csm.renewal r USING (account_id)
WHERE c.source = 'renewal' ORDER BY a.account_id;
SELECT renewals, renewed, upsell, downsell, churned, expansion_arr, expansion_share, expansion_share_arr
FROM csm.renewal_metrics((now() AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date);

-- Errors.
SELECT csm.close_renewal('nobody', 1);
SELECT csm.close_renewal('acme', -1);
SELECT csm.close_renewal('umbrella', 1);

-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
