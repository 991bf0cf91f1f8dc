-- csm.refresh_health() acts on the accounts whose band it changed
-- (health_score.band_since): their health_band alerts and playbooks, while
-- csm.run_playbooks() and csm.run_alerts() go over every account.
BEGIN;
SELECT plan(8);

INSERT INTO csm.account (external_id) VALUES ('bc_a'), ('bc_b'), ('bc_c');
CREATE TEMP TABLE bc_metrics AS
SELECT account_id, CASE external_id WHEN 'bc_b' THEN 0.95 ELSE 0.05 END AS dau_ratio,
       CASE external_id WHEN 'bc_b' THEN 10 ELSE 1 END AS nps,
       CASE external_id WHEN 'bc_b' THEN 9 ELSE 0 END AS features_adopted,
       CASE external_id WHEN 'bc_b' THEN 0 ELSE 9 END AS tickets_per_month, 200 AS days_to_renewal
FROM csm.account WHERE external_id LIKE 'bc\_%';
CREATE TEMP TABLE bc_ids AS SELECT account_id, external_id FROM csm.account WHERE external_id LIKE 'bc\_%';

SELECT csm.refresh_health('bc_metrics');
SELECT is((SELECT array_agg(a.external_id || ':' || h.band ORDER BY a.external_id) FROM csm.health_score h JOIN bc_ids a USING (account_id)
           WHERE h.band_since = h.computed_at),
          ARRAY['bc_a:red', 'bc_b:green', 'bc_c:red'], 'a first score starts its band at the refresh');
SELECT is((SELECT array_agg(a.external_id ORDER BY a.external_id) FROM csm.cta c JOIN bc_ids a USING (account_id)
           WHERE c.playbook = 'at_risk_intervention'),
          ARRAY['bc_a', 'bc_c'], 'the red accounts get their CTA from the refresh');

-- as if that refresh ran yesterday; bc_a's CTA was resolved long enough ago
-- for its cooldown to have passed; bc_b turns red
CREATE TEMP TABLE bc_yesterday AS SELECT now() - interval '1 day' AS at;
UPDATE csm.health_score SET band_since = (SELECT at FROM bc_yesterday) WHERE account_id IN (SELECT account_id FROM bc_ids);
-- (the id first: on Citus a call per row of csm.cta would run on a shard)
SELECT c.cta_id AS bc_cta FROM csm.cta c JOIN bc_ids a USING (account_id) WHERE a.external_id = 'bc_a' \gset
SELECT (csm.resolve_cta(:bc_cta, 'saved')).status;
UPDATE csm.cta c SET opened_at = now() - interval '40 days', closed_at = now() - interval '39 days',
                     first_action_at = now() - interval '39 days'
FROM bc_ids a WHERE a.account_id = c.account_id AND a.external_id = 'bc_a';
UPDATE bc_metrics SET dau_ratio = 0.05, nps = 1, features_adopted = 0, tickets_per_month = 9 WHERE account_id = (SELECT account_id FROM bc_ids WHERE external_id = 'bc_b');

SELECT csm.refresh_health('bc_metrics');
SELECT is((SELECT array_agg(a.external_id ORDER BY a.external_id) FROM csm.health_score h JOIN bc_ids a USING (account_id)
           WHERE h.band_since = h.computed_at),
          ARRAY['bc_b'], 'a band that changed starts at the refresh');
SELECT is((SELECT h.band_since FROM csm.health_score h JOIN bc_ids a USING (account_id) WHERE a.external_id = 'bc_a'),
          (SELECT at FROM bc_yesterday), 'a band that holds keeps its start');
SELECT is((SELECT array_agg(a.external_id ORDER BY a.external_id) FROM csm.cta c JOIN bc_ids a USING (account_id)
           WHERE c.playbook = 'at_risk_intervention' AND c.status = 'open'),
          ARRAY['bc_b', 'bc_c'], 'the refresh fires for the account that entered red, not for one that stayed red');
SELECT is((SELECT array_agg(a.external_id ORDER BY a.external_id) FROM csm.alert x JOIN bc_ids a USING (account_id)
           WHERE x.kind = 'health_band' AND x.cleared_at IS NULL),
          ARRAY['bc_a', 'bc_b', 'bc_c'], 'the account that entered red is alerted by the refresh');
SELECT is(csm.run_playbooks(), 1, 'run_playbooks opens the CTA of the account that stayed red after its cooldown');
SELECT is((SELECT array_agg(a.external_id ORDER BY a.external_id) FROM csm.cta c JOIN bc_ids a USING (account_id)
           WHERE c.playbook = 'at_risk_intervention' AND c.status = 'open'),
          ARRAY['bc_a', 'bc_b', 'bc_c'], 'every red account has its CTA open');

SELECT * FROM finish();
ROLLBACK;
