-- refresh_health's alerts and playbooks on Citus act on the accounts whose
-- band the refresh changed and on those whose override expired, as on one
-- node; on Citus that set is a query over csm.health_score (the accounts
-- stay on the shards), not an array copied into every shard's statement.
-- The same file passes on a single node (pg_prove against a database with
-- csm and pgtap).  Four accounts, metrics from a table of the test's (all
-- 0 scores red, high ones green).  Everything is rolled back.
--   pg_prove -d csm_citus test/citus/health_firing.sql
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(9);

INSERT INTO csm.account (account_id, external_id, segment, seats, renewal_date)
SELECT 9700 + i, 'hf' || i, 'smb', 5, current_date + 200 FROM generate_series(1, 4) i;
-- 9703 is red, but its override says green until it expires
SELECT ok(csm.override_health('hf3', 95, 'renewal signed', now() + interval '7 days') > 0, 'an override of hf3');
CREATE TABLE hf_metrics (account_id bigint, dau_ratio float8, features_adopted integer, nps integer, days_to_renewal integer);
DO $$
BEGIN
    IF csm_internal._is_distributed('csm.health_score') THEN
        EXECUTE $q$SELECT create_distributed_table('hf_metrics', 'account_id', colocate_with => 'csm.health_score')$q$;
    END IF;
END $$;
INSERT INTO hf_metrics SELECT a, 0, 0, 0, 200 FROM unnest(ARRAY[9701, 9703, 9704]) a;
INSERT INTO hf_metrics VALUES (9702, 0.9, 15, 10, 300);

SELECT is(csm.refresh_health('hf_metrics'), 4::bigint, 'the first refresh scores the four');
SELECT set_eq($$SELECT account_id FROM csm.cta WHERE account_id > 9700 AND playbook = 'at_risk_intervention'$$,
              $$VALUES (9701::bigint), (9704)$$, 'CTAs for the red accounts (hf3 is green by its override)');
SELECT set_eq($$SELECT account_id, subject FROM csm.alert WHERE account_id > 9700 AND kind = 'health_band'$$,
              $$VALUES (9701::bigint, 'red'), (9703, 'red'), (9704, 'red')$$, 'health_band alerts from the computed bands');

-- as if that refresh had run the day before (this transaction's refreshes
-- share one instant); hf1's CTA and alert are gone (as if never raised);
-- hf2 turns red; hf3's override has expired
UPDATE csm.health_score SET band_since = now() - interval '1 day' WHERE account_id > 9700;
DELETE FROM csm.task WHERE account_id = 9701;
DELETE FROM csm.cta WHERE account_id = 9701;
DELETE FROM csm.alert WHERE account_id = 9701;
UPDATE hf_metrics SET dau_ratio = 0, features_adopted = 0, nps = 0, days_to_renewal = 200 WHERE account_id = 9702;
UPDATE csm.health_override SET expires_at = now() - interval '1 minute' WHERE account_id = 9703;
SELECT is(csm.refresh_health('hf_metrics'), 4::bigint, 'the second refresh');
SELECT set_eq($$SELECT account_id FROM csm.cta WHERE account_id > 9700 AND playbook = 'at_risk_intervention'$$,
              $$VALUES (9702::bigint), (9703), (9704)$$,
              'a CTA for the account whose band changed and for the one whose override expired; none for unchanged hf1');
SELECT set_eq($$SELECT account_id, subject FROM csm.alert WHERE account_id > 9700 AND kind = 'health_band'$$,
              $$VALUES (9702::bigint, 'red'), (9703, 'red'), (9704, 'red')$$,
              'an alert for the account whose band changed; none again for unchanged hf1');

-- the set of accounts as a query (what refresh_health passes on Citus)
SELECT is(csm_internal._fire_playbooks(ARRAY['health_band'], NULL, 'test',
                                       accounts_from => 'SELECT s.account_id FROM csm.health_score s WHERE s.account_id = 9701'),
          1, '_fire_playbooks with accounts_from opens hf1''s CTA and nobody else''s');
SELECT is(csm_internal._raise_alerts(ARRAY['health_band'], NULL,
                                     'SELECT s.account_id FROM csm.health_score s WHERE s.account_id = 9701'),
          1, '_raise_alerts with accounts_from raises hf1''s alert');

SELECT * FROM finish();
ROLLBACK;
