-- csm.distribute() on a single node: it refuses without Citus, and
-- csm_internal._distribution() places every csm table, so that a new table cannot be
-- forgotten (test/citus/distribute.sql and distribute.sh check the cluster).
BEGIN;
SELECT plan(7);

SELECT throws_ok('SELECT * FROM csm.distribute()', '0A000', 'csm.distribute() needs Citus',
                 'distribute() refuses on a server without Citus');
SELECT is((SELECT count(*) FROM csm.account), 0::bigint, 'and changes nothing');

SELECT set_eq(
    $$SELECT c.oid::regclass FROM pg_class c
      WHERE c.relnamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace) AND c.relkind IN ('r', 'p') AND NOT c.relispartition$$,
    'SELECT relation FROM csm_internal._distribution()',
    'every csm table is placed by csm_internal._distribution()');
SELECT is((SELECT count(*) FROM csm_internal._distribution()), (SELECT count(DISTINCT relation) FROM csm_internal._distribution()),
          'each table once');
SELECT is((SELECT array_agg(DISTINCT kind ORDER BY kind) FROM csm_internal._distribution()), '{account,reference}',
          'placed as reference tables or by account');
SELECT is_empty(
    $$SELECT d.relation FROM csm_internal._distribution() d
      WHERE d.kind = 'account'
        AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = d.relation AND a.attname = 'account_id'
                                                     AND a.atttypid = 'bigint'::regtype AND a.attnotnull)$$,
    'every table distributed by account has account_id bigint NOT NULL');
-- A distributed table may refer to a reference table or to a table of its
-- colocation group, never a reference table to a distributed one.
SELECT is_empty(
    $$SELECT c.conrelid::regclass, c.confrelid::regclass
      FROM pg_constraint c
      JOIN csm_internal._distribution() f ON f.relation = c.conrelid
      JOIN csm_internal._distribution() t ON t.relation = c.confrelid
      WHERE c.contype = 'f' AND f.kind = 'reference' AND t.kind = 'account'$$,
    'no foreign key from a reference table to a distributed one');

SELECT * FROM finish();
ROLLBACK;
