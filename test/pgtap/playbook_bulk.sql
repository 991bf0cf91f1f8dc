-- A playbook's condition over many accounts (issue 13 performance): the
-- firing reads the candidates' facts in one query
-- (csm_internal._routing_facts_of) instead of csm.routing_facts once per
-- account, and those facts are csm.routing_facts' own, whatever the
-- account holds (a health override, a churn score, relationship NPS
-- answers, a lifecycle state, properties), so the same CTAs open with the
-- same evidence.
BEGIN;
SELECT plan(6);

SET LOCAL track_functions = 'all';
UPDATE csm.playbook SET active = false WHERE active;
INSERT INTO csm.account (external_id, plan, tier, arr, seats, started_at, renewal_date, properties, created_at)
SELECT 'tap_pbb_' || i, CASE WHEN i % 2 = 0 THEN 'pro' END, CASE WHEN i % 3 = 0 THEN 'gold' END,
       1000 * i, 5 * i, now() - make_interval(days => i * 9), current_date + i * 11,
       CASE WHEN i % 4 = 0 THEN jsonb_build_object('region', 'emea', 'users', i) ELSE '{}' END,
       now() - interval '1 year'
FROM generate_series(1, 30) i;
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
SELECT a.account_id, 'default', 1, s, csm.health_band(s), 1, '{}', '{}', '{}', '{}', now()
FROM csm.account a, LATERAL (SELECT (a.arr / 1000 * 7 % 100)::float8 AS s) x
WHERE a.external_id LIKE 'tap\_pbb\_%' AND a.arr / 1000 % 5 <> 0;
INSERT INTO csm.health_override (account_id, score, reason)
SELECT a.account_id, 15, 'tap' FROM csm.account a WHERE a.external_id IN ('tap_pbb_3', 'tap_pbb_11', 'tap_pbb_21');
INSERT INTO csm.churn_score (account_id, probability, band, risk_score, model, computed_at)
SELECT a.account_id, 0.5, 'moderate', 50, 'default', now()
FROM csm.account a WHERE a.external_id LIKE 'tap\_pbb\_%' AND a.arr / 1000 % 3 = 1;
CREATE TEMP TABLE pbb_answers AS
SELECT (csm.record_nps(a.external_id, (a.arr / 1000 % 11)::integer, k, NULL, NULL, now() - make_interval(hours => n))).response_id
FROM csm.account a, (VALUES ('relationship', 2), ('relationship', 1), ('transactional', 0)) v (k, n)
WHERE a.external_id LIKE 'tap\_pbb\_%' AND a.arr / 1000 % 2 = 1;
CREATE TEMP TABLE pbb_moved AS SELECT csm.refresh_lifecycle();

SELECT is((SELECT count(*) FROM csm.account a
           JOIN csm_internal._routing_facts_of(ARRAY(SELECT x.account_id FROM csm.account x
                                                     WHERE x.external_id LIKE 'tap\_pbb\_%')) f USING (account_id)
           WHERE f.facts = csm.routing_facts(a.account_id)),
          30::bigint, 'the facts of many accounts in one query are csm.routing_facts'' own, account by account');
SELECT is((SELECT count(*) FROM csm_internal._routing_facts_of(ARRAY[-1, NULL]::bigint[])), 0::bigint,
          'an account that does not exist has no row');

-- A playbook on the red band whose condition reads the facts.
INSERT INTO csm.playbook (name, trigger_kind, trigger_values, condition)
VALUES ('tap_pbb_red_big', 'health_band', '{red}', 'arr >= 10000 AND (nps >= 5 OR churn_band = ''moderate'')');
INSERT INTO csm.playbook_step (playbook, position, title) VALUES ('tap_pbb_red_big', 1, 'Call');
CREATE TEMP TABLE pbb_calls AS
SELECT coalesce(max(f.calls), 0) AS calls FROM pg_stat_xact_user_functions f
WHERE f.schemaname = 'csm' AND f.funcname = 'routing_facts';
CREATE TEMP TABLE pbb_expected AS
SELECT a.account_id, jsonb_strip_nulls(csm_internal._condition_facts(p.condition, csm.routing_facts(a.account_id))) AS facts
FROM csm.account a
JOIN csm.playbook p ON p.name = 'tap_pbb_red_big'
WHERE a.external_id LIKE 'tap\_pbb\_%'
  AND csm.routing_facts(a.account_id) ->> 'health_band' = 'red'
  AND csm.condition_matches(p.condition, csm.routing_facts(a.account_id));
UPDATE pbb_calls SET calls = (SELECT coalesce(max(f.calls), 0) FROM pg_stat_xact_user_functions f
                              WHERE f.schemaname = 'csm' AND f.funcname = 'routing_facts');

SELECT cmp_ok((SELECT count(*) FROM pbb_expected), '>=', 3::bigint, 'several red accounts pass the condition');
SELECT is(csm_internal._fire_playbooks(ARRAY['health_band'], NULL, 'tap'), (SELECT count(*)::integer FROM pbb_expected),
          'the firing opens a CTA for each of them');
SELECT set_eq($$SELECT c.account_id, c.evidence -> 'facts' FROM csm.cta c WHERE c.playbook = 'tap_pbb_red_big'$$,
              $$SELECT account_id, facts FROM pbb_expected$$,
              'for those accounts, with the facts the condition read as evidence (nulls left out)');
SELECT is((SELECT coalesce(max(f.calls), 0) FROM pg_stat_xact_user_functions f
           WHERE f.schemaname = 'csm' AND f.funcname = 'routing_facts'),
          (SELECT calls FROM pbb_calls), 'without reading csm.routing_facts once per account');

SELECT * FROM finish();
ROLLBACK;
