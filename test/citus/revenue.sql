-- Revenue on Citus: csm.arr_change distributed by account, its triggers on
-- the reference table csm.account (an UPDATE of many accounts, an INSERT ...
-- SELECT of new ones, recorded at commit by the deferred row trigger), the
-- loader, and csm.revenue_retention and csm.revenue_monthly giving the
-- answers of a single node.  The same file passes on a single node (pg_prove
-- against a database with csm and pgtap), which is how the expected values
-- below were made; the placement check is skipped there.  Everything is
-- rolled back.
BEGIN;
SELECT plan(12);
SET LOCAL timezone = 'UTC';
SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.citus() RETURNS boolean LANGUAGE sql
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') $$;

CREATE FUNCTION pg_temp.placement(rel regclass) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    how text;
BEGIN
    EXECUTE 'SELECT p.partmethod::text || '' '' || a.attname FROM pg_dist_partition p
             JOIN pg_attribute a ON a.attrelid = p.logicalrelid AND a.attname = column_to_column_name(p.logicalrelid, p.partkey)
             WHERE p.logicalrelid = $1' INTO how USING rel;
    RETURN how;
END $f$;
SELECT CASE WHEN pg_temp.citus()
            THEN is(pg_temp.placement('csm.arr_change'), 'h account_id', 'csm.arr_change is distributed by hash of account_id')
            ELSE skip('not on Citus') END;

-- 90 accounts with 36 months of history each, some months skipped, some at 0.
INSERT INTO csm.account (account_id, external_id, segment, arr, started_at, created_at)
SELECT 9500 + i, 'rvc' || lpad(i::text, 3, '0'), (ARRAY['smb', 'mid_market', 'enterprise'])[1 + i % 3], 1000 * i,
       '2023-01-01', '2023-01-01'
FROM generate_series(1, 90) AS i;
SELECT is(csm.load_arr_history(array_agg((s.ext, s.d, s.a)::csm.arr_snapshot ORDER BY s.ext, s.d), 'citus fixture'), 2453::bigint,
          'the loader writes the history')
FROM (SELECT 'rvc' || lpad(i::text, 3, '0') AS ext, ('2023-01-01'::date + m * interval '1 month')::date AS d,
             CASE WHEN m > 0 AND (i * 7 + m * 5) % 23 = 0 THEN 0
                  ELSE 100 * (10 + (i * 13 + m * 29) % 41) END::numeric AS a
      FROM generate_series(1, 90) AS i, generate_series(0, 35) AS m
      WHERE (i + m) % 4 <> 1 OR m = 0) s;
SELECT results_eq($$SELECT count(*), sum(arr_after), string_agg(DISTINCT kind, ',') FROM csm.arr_change$$,
    $$VALUES (2453::bigint, 7049900::numeric, 'churn,contraction,expansion,new,reactivation')$$, 'every kind, as on one node');

SELECT results_eq($$SELECT s.seg, r.starting_arr, r.expansion_arr, r.contraction_arr, r.churned_arr, r.reactivation_arr,
                           r.ending_arr_of_starting_customers, r.new_arr, r.starting_customers, r.churned_customers,
                           round(r.grr, 12), round(r.nrr, 12), round(r.logo_churn_rate, 12), round(r.expansion_rate, 12)
                    FROM (VALUES (1, 'smb'), (2, 'mid_market'), (3, 'enterprise'), (4, NULL)) AS s(n, seg)
                    CROSS JOIN LATERAL csm.revenue_retention('2024-01-01', '2024-12-31', s.seg) r ORDER BY s.n$$,
    $$VALUES ('smb', 85800::numeric, 26000::numeric, 29400::numeric, 3700::numeric, 5900::numeric, 78700::numeric, 0::numeric, 28::bigint, 1::bigint,
              0.614219114219::numeric, 0.917249417249::numeric, 0.035714285714::numeric, 0.303030303030::numeric),
             ('mid_market', 82500, 32000, 27300, 0, 1800, 87200, 0, 29, 0, 0.669090909091, 1.056969696970, 0, 0.387878787879),
             ('enterprise', 83400, 30000, 25200, 6100, 4200, 82100, 0, 29, 2, 0.624700239808, 0.984412470024, 0.068965517241, 0.359712230216),
             (NULL, 251700, 88000, 81900, 9800, 11900, 248000, 0, 86, 3, 0.635677393723, 0.985299960270, 0.034883720930, 0.349622566547)$$,
    'revenue_retention per segment and in total: the single-node answers');
SELECT results_eq($$SELECT count(*), sum(ending_arr), sum(starting_arr), sum(new_arr), sum(reactivation_arr), sum(churned_arr),
                           round(sum(grr_12m), 10), round(sum(nrr_12m), 10), round(sum(ltv), 4)
                    FROM csm.revenue_monthly WHERE month <= '2025-12-01'$$,
    $$VALUES (144::bigint, 18602600::numeric, 18083000::numeric, 544200::numeric, 604400::numeric, 622600::numeric,
              60.4378013223::numeric, 92.0409552438::numeric, 5387062.9827::numeric)$$,
    'revenue_monthly: the single-node answers');

-- The triggers: one UPDATE of many accounts (the coordinator's copy is
-- changed after the workers', so the statement trigger writes then).
UPDATE csm.account SET arr = arr + 500 WHERE account_id BETWEEN 9501 AND 9530;
SELECT results_eq($$SELECT count(*) FROM csm.arr_change WHERE reason = 'manual' AND source = 'account' AND kind = 'expansion'
                    AND arr_after = arr_before + 500 AND account_id BETWEEN 9501 AND 9530$$,
                  $$VALUES (30::bigint)$$, 'an UPDATE of 30 accounts writes 30 movements');
SELECT set_config('csm.arr_change_reason', 'renewal: downsell', true), set_config('csm.arr_change_source', 'renewal', true);
UPDATE csm.account SET arr = 100 WHERE account_id = 9531;
SELECT results_eq($$SELECT kind, reason, source FROM csm.arr_change WHERE account_id = 9531 ORDER BY change_id DESC LIMIT 1$$,
    $$VALUES ('contraction', 'renewal: downsell', 'renewal')$$, 'with the reason and source the transaction set');
SELECT set_config('csm.arr_change_reason', '', true), set_config('csm.arr_change_source', '', true);
UPDATE csm.account SET status = 'churned', churned_at = '2026-03-31' WHERE account_id = 9532;
SELECT results_eq($$SELECT effective_date, kind, arr_after FROM csm.arr_change WHERE account_id = 9532 ORDER BY change_id DESC LIMIT 1$$,
    $$VALUES ('2026-03-31'::date, 'churn', 0::numeric)$$, 'a churn, dated by churned_at');
UPDATE csm.account SET status = 'active' WHERE account_id = 9532;
SELECT results_eq($$SELECT kind FROM csm.arr_change WHERE account_id = 9532 ORDER BY change_id DESC LIMIT 1$$,
                  $$VALUES ('reactivation')$$, 'and back');

-- New accounts from an INSERT ... SELECT (Citus loads every copy at once):
-- recorded by the deferred row trigger, at commit or here when it fires.
INSERT INTO csm.account (account_id, external_id, segment, arr, started_at)
SELECT 9700 + i, 'rvn' || i, 'smb', 700 * i, now() FROM generate_series(1, 12) AS i;
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
SELECT results_eq($$SELECT count(*), sum(arr_after) FROM csm.arr_change WHERE account_id BETWEEN 9701 AND 9712 AND kind = 'new'$$,
    $$VALUES (12::bigint, 54600::numeric)$$, 'twelve new accounts, twelve new movements');
SELECT throws_ok($$UPDATE csm.arr_change SET reason = 'x' WHERE account_id = 9701$$, '0A000', 'csm.arr_change is append-only',
                 'append-only on the shards too');
DELETE FROM csm.account WHERE account_id BETWEEN 9701 AND 9712;
SELECT is_empty($$SELECT * FROM csm.arr_change WHERE account_id BETWEEN 9701 AND 9712$$,
                'deleting accounts deletes their movements on the shards');

SELECT * FROM finish();
ROLLBACK;
