-- No session state decides what a view shows, on Citus: account_health and
-- churn_risk compute score_age and stale from the stale_after each score
-- was written with (the model's, else the csm.stale_after setting the
-- refresh read), so a session's SET changes nothing, as on a single node.
-- The same file passes on a single node (pg_prove against a database with
-- csm and pgtap). Everything is rolled back.
BEGIN;
SELECT plan(7);
SET LOCAL client_min_messages = warning;

INSERT INTO csm.account (account_id, external_id, name, plan, arr, seats, renewal_date) VALUES
    (9801, 'st01', 'Stale one', 'pro', 12000, 10, current_date + 200),
    (9802, 'st02', 'Fresh one', 'pro', 24000, 20, current_date + 300);
SELECT csm.refresh_health();
SELECT csm.refresh_churn();
UPDATE csm.health_score SET computed_at = now() - interval '27 hours' WHERE account_id = 9801;
UPDATE csm.churn_score SET computed_at = now() - interval '27 hours' WHERE account_id = 9801;

SELECT is((SELECT array_agg(stale ORDER BY account_id) FROM csm.account_health WHERE account_id IN (9801, 9802)),
          ARRAY[true, false], 'account_health: stale past the default 26h');
SELECT ok((SELECT score_age >= interval '27 hours' FROM csm.account_health WHERE external_id = 'st01'),
          'account_health: score_age is now() - computed_at');
SELECT is((SELECT array_agg(stale ORDER BY account_id) FROM csm.churn_risk WHERE account_id IN (9801, 9802)),
          ARRAY[true, false], 'churn_risk: stale past the default 26h');
SET LOCAL csm.stale_after = '30h';
SELECT is((SELECT array_agg(stale ORDER BY account_id) FROM csm.account_health WHERE account_id IN (9801, 9802)),
          ARRAY[true, false], 'a session''s csm.stale_after does not change account_health');
SELECT is((SELECT array_agg(stale ORDER BY account_id) FROM csm.churn_risk WHERE account_id IN (9801, 9802)),
          ARRAY[true, false], 'nor churn_risk');
RESET csm.stale_after;
UPDATE csm.health_model SET stale_after = '2 days' WHERE name = 'default';
SELECT csm.refresh_health();
UPDATE csm.health_score SET computed_at = now() - interval '27 hours' WHERE account_id = 9801;
SELECT is((SELECT stale FROM csm.account_health WHERE external_id = 'st01'), false,
          'the model''s stale_after, written with the score at refresh');
SELECT is((SELECT h.stale_after FROM csm.health_score h JOIN csm.account a USING (account_id) WHERE a.external_id = 'st01'), interval '2 days',
          'health_score keeps it');

SELECT * FROM finish();
ROLLBACK;
