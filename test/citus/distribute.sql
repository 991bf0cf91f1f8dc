-- csm.distribute() on the cluster where make test-citus ran it: every csm
-- table placed as csm_internal._distribution() says, the per-account tables in one
-- colocation group, a second call changes nothing, a worker refuses.
-- test/citus/distribute.sh loads data before distributing and checks that
-- nothing is lost; test/pgtap/distribute.sql checks the refusal without Citus.
BEGIN;
SELECT plan(7);

SELECT set_eq(
    $$SELECT c.oid::regclass FROM pg_class c
      WHERE c.relnamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace) AND c.relkind IN ('r', 'p') AND NOT c.relispartition$$,
    'SELECT relation FROM csm_internal._distribution()',
    'every csm table is placed by csm_internal._distribution()');
SELECT is_empty(
    $$SELECT d.relation FROM csm_internal._distribution() d
      LEFT JOIN pg_dist_partition p ON p.logicalrelid = d.relation
      WHERE p.logicalrelid IS NULL
         OR (d.kind = 'reference') <> (p.partmethod = 'n' AND p.repmodel = 't')
         OR (d.kind = 'account' AND column_to_column_name(p.logicalrelid, p.partkey) IS DISTINCT FROM 'account_id')$$,
    'every csm table is a reference table or distributed by account_id, as listed');
SELECT is((SELECT count(DISTINCT p.colocationid) FROM csm_internal._distribution() d
           JOIN pg_dist_partition p ON p.logicalrelid = d.relation WHERE d.kind = 'account'),
          1::bigint, 'the tables distributed by account_id are colocated');
SELECT is((SELECT count(*) FROM pg_dist_shard s JOIN csm_internal._distribution() d ON d.relation = s.logicalrelid
           WHERE d.kind = 'reference'),
          (SELECT count(*) FROM csm_internal._distribution() WHERE kind = 'reference'), 'one shard per reference table');

CREATE TEMP TABLE shards_before AS SELECT logicalrelid, shardid FROM pg_dist_shard;
SELECT is((SELECT count(*) FILTER (WHERE changed) FROM csm.distribute()), 0::bigint,
          'a second call changes nothing');
SELECT set_eq('SELECT logicalrelid, shardid FROM pg_dist_shard', 'SELECT logicalrelid, shardid FROM shards_before',
              'and keeps every shard');

SELECT is((SELECT array_agg(DISTINCT r.success::text || ': ' || r.result)
           FROM run_command_on_workers('SELECT csm.distribute()') r),
          '{"false: ERROR:  csm.distribute() must run on the Citus coordinator"}',
          'a worker refuses');

SELECT * FROM finish();
ROLLBACK;
