-- Usage rollups on a Citus cluster: a user's event table distributed by its
-- own account column, tracked before or after it is distributed, rolls up
-- exactly for every kind of write, with no user setting changed.
--
-- Run against the coordinator of a cluster where CREATE EXTENSION pgtap,
-- CREATE EXTENSION csm and SELECT csm.distribute() have run:
--   pg_prove -h 127.0.0.1 -p <coordinator port> -d csm_citus test/citus/usage.sql
-- It works in one transaction and rolls it back.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SELECT plan(59);

-- Nothing here relies on a setting a user would have to know about.
SELECT is(current_setting('citus.allow_nested_distributed_execution'), 'off', 'nested distributed execution stays off');
SELECT is(current_setting('citus.enable_unsafe_triggers'), 'off', 'unsafe triggers stay off for the user');

-- (the helpers are temporary: Citus says it creates them only here)
SET LOCAL client_min_messages = error;
-- What the views say of a source, against a count over its table: events
-- and active users per key and UTC day, once every key has its account.
-- (plpgsql with values: Citus cannot plan an SQL function's parameters)
CREATE FUNCTION pg_temp.rollup(src regclass) RETURNS TABLE (k text, d date, e bigint, u bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format('SELECT external_id, day, events, active_users FROM csm.usage_daily
                                 WHERE source = (SELECT s.source_name FROM csm.usage_source s WHERE s.relation = %L::regclass)
                                   AND events <> 0', src);
END $$;
-- A number a query gives, read here (pgTAP lives on the coordinator only,
-- and Citus would send a call of is() over a single-shard query to a worker).
CREATE FUNCTION pg_temp.num(q text) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    n numeric;
BEGIN
    EXECUTE q INTO n;
    RETURN n;
END $$;
-- Every event is counted somewhere: under its account, or as an unknown key.
CREATE FUNCTION pg_temp.counted(src regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT coalesce((SELECT sum(events) FROM csm.usage_daily WHERE source = (SELECT s.source_name FROM csm.usage_source s WHERE s.relation = %1$L::regclass)), 0)
                         + coalesce((SELECT sum(events) FROM csm.usage_unknown_key WHERE source = (SELECT s.source_name FROM csm.usage_source s WHERE s.relation = %1$L::regclass)), 0)', src)
    INTO n;
    RETURN n;
END $$;

-- 1. A TEXT key, tracked after the table is distributed ----------------------
CREATE TABLE public.usage_t_text (org_user_id text, at timestamptz, feature text, uid text);
SELECT create_distributed_table('public.usage_t_text', 'org_user_id');
SELECT lives_ok($$SELECT csm.track_usage('public.usage_t_text', 'org_user_id', 'at', 'feature', 'uid')$$,
                'track_usage() takes a table distributed by its account column');
SELECT is((SELECT p.colocationid FROM pg_dist_partition p
           WHERE p.logicalrelid = ('csm.usage_stage_' || (SELECT source_id FROM csm.usage_source
                                                          WHERE relation = 'public.usage_t_text'::regclass))::regclass),
          (SELECT p.colocationid FROM pg_dist_partition p WHERE p.logicalrelid = 'public.usage_t_text'::regclass),
          'its staging table is colocated with it');

INSERT INTO public.usage_t_text VALUES ('org-1', '2026-01-01 10:00+00', 'login', 'u1');
SELECT is(pg_temp.counted('public.usage_t_text'), 1::bigint, 'a single-row insert is counted on the shard');
SELECT is(pg_temp.num($$SELECT events FROM csm.usage_unknown_key WHERE key = 'org-1'$$), 1::numeric,
          'a new key waits as an unknown key until compact_usage() creates its account');
INSERT INTO public.usage_t_text VALUES
    ('org-1', '2026-01-01 11:00+00', 'login', 'u2'), ('org-2', '2026-01-01 12:00+00', 'export', 'u1'),
    ('org-3', '2026-01-02 00:00+00', NULL, NULL), ('org-4', '2026-01-01 23:59+00', 'login', 'u9'),
    ('org-5', '2026-01-03 00:00+00', 'login', NULL), ('org-6', '2026-01-03 00:00+00', 'login', 'u1');
SELECT is(pg_temp.counted('public.usage_t_text'), 7::bigint, 'a multi-row insert over several shards is counted');
SELECT cmp_ok(csm.compact_usage(), '>', 0::bigint, 'compact_usage() folds the staged deltas on the coordinator');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.account WHERE external_id LIKE 'org-%'$$), 6::numeric,
          'compact_usage() created the accounts of the new keys');
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_text')$$,
              $$SELECT org_user_id, (at AT TIME ZONE 'UTC')::date AS d, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_text GROUP BY 1, 2$$,
              'after single and multi-row inserts, the rollups equal a count over the table');

-- rows of known accounts are visible at once, before any fold
INSERT INTO public.usage_t_text
SELECT 'org-' || (i % 6 + 1), timestamptz '2026-01-01 00:00+00' + (i % 5) * interval '1 day', 'f' || (i % 3), 'u' || (i % 7)
FROM generate_series(1, 2000) i;
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_text')$$,
              $$SELECT org_user_id, (at AT TIME ZONE 'UTC')::date AS d, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_text GROUP BY 1, 2$$,
              'INSERT ... SELECT: exact before the deltas are folded');
SELECT bag_eq($$SELECT external_id, day, feature, events FROM csm.usage_feature_daily WHERE source = 'usage_t_text' AND events <> 0$$,
              $$SELECT org_user_id, (at AT TIME ZONE 'UTC')::date AS d, feature, count(*) AS e FROM public.usage_t_text WHERE feature IS NOT NULL GROUP BY 1, 2, 3$$,
              'feature counts are exact too');
-- a pushed-down INSERT ... SELECT between colocated shards
INSERT INTO public.usage_t_text SELECT org_user_id, at + interval '1 day', feature, uid FROM public.usage_t_text WHERE feature = 'f1';
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_text')$$,
              $$SELECT org_user_id, (at AT TIME ZONE 'UTC')::date AS d, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_text GROUP BY 1, 2$$,
              'INSERT ... SELECT from the table itself (pushed down to the shards): exact');
COPY public.usage_t_text FROM PROGRAM 'for i in $(seq 1 300); do printf "org-%s\t2026-01-0%s 08:00+00\tcopy\tc%s\n" $((i % 9 + 1)) $((i % 4 + 1)) $((i % 11)); done';
SELECT is(pg_temp.counted('public.usage_t_text'), pg_temp.num('SELECT count(*) FROM public.usage_t_text')::bigint, 'COPY: every row is counted');
SELECT ok(pg_temp.num($$SELECT count(*) FROM csm.usage_unknown_key WHERE key IN ('org-7', 'org-8', 'org-9')$$) = 3,
          'COPY: the keys new to csm wait as unknown keys');
SELECT lives_ok('SELECT csm.compact_usage()', 'compact_usage() again');
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_text')$$,
              $$SELECT org_user_id, (at AT TIME ZONE 'UTC')::date AS d, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_text GROUP BY 1, 2$$,
              'COPY: exact once the accounts exist');

UPDATE public.usage_t_text SET at = '2026-01-20 05:00+00', uid = 'moved' WHERE org_user_id IN ('org-1', 'org-2') AND feature = 'f2';
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_text')$$,
              $$SELECT org_user_id, (at AT TIME ZONE 'UTC')::date AS d, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_text GROUP BY 1, 2$$,
              'UPDATE moving rows to other days and users: exact');
DELETE FROM public.usage_t_text WHERE feature = 'f0' OR org_user_id = 'org-3';
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_text')$$,
              $$SELECT org_user_id, (at AT TIME ZONE 'UTC')::date AS d, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_text GROUP BY 1, 2$$,
              'DELETE: exact, active users included');
SELECT lives_ok('SELECT csm.compact_usage()', 'compact_usage() after UPDATE and DELETE');
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_text')$$,
              $$SELECT org_user_id, (at AT TIME ZONE 'UTC')::date AS d, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_text GROUP BY 1, 2$$,
              'exact after the fold');
SELECT is(csm.backfill_usage('public.usage_t_text'), pg_temp.num('SELECT count(*) FROM public.usage_t_text')::bigint,
          'backfill_usage() reads the distributed table');
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_text')$$,
              $$SELECT org_user_id, (at AT TIME ZONE 'UTC')::date AS d, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_text GROUP BY 1, 2$$,
              'backfill_usage() rebuilds the same rollups');
TRUNCATE public.usage_t_text;
SELECT is(pg_temp.counted('public.usage_t_text'), 0::bigint, 'TRUNCATE clears the rollups and the staged deltas');

-- 2. A BIGINT key, tracked before the table is distributed --------------------
CREATE TABLE public.usage_t_big (account bigint, at date, uid bigint);
-- (csm is on the cluster already, so a local table is refused, with the fix)
SELECT throws_ok($$SELECT csm.track_usage('public.usage_t_big', 'account', 'at', user_column => 'uid')$$, '0A000',
                 'table public.usage_t_big is a local table on a Citus cluster',
                 'track_usage() of a local table on the cluster says to distribute it first');
-- (tracking before distribution is test/citus/usage_before.sh: it needs csm not yet distributed)
SELECT create_distributed_table('public.usage_t_big', 'account');
SELECT lives_ok($$SELECT csm.track_usage('public.usage_t_big', 'account', 'at', user_column => 'uid')$$,
                'a BIGINT key distributed by the user is tracked');
INSERT INTO public.usage_t_big SELECT i % 17, date '2026-03-01' + i % 6, i % 5 FROM generate_series(1, 1000) i;
SELECT is(pg_temp.counted('public.usage_t_big'), 1000::bigint, 'BIGINT key: every row is counted');
SELECT lives_ok('SELECT csm.compact_usage()', 'compact_usage() with a BIGINT source');
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_big')$$,
              $$SELECT account::text, at, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_big GROUP BY 1, 2$$,
              'BIGINT key: exact');
-- One statement with more groups on one shard than csm.compact_threshold
-- (10000): on one node the trigger rolls such a batch up mid-statement; on a
-- shard it must stage every group.
INSERT INTO public.usage_t_big SELECT 99, date '2026-03-10', i FROM generate_series(1, 12000) i;
SELECT lives_ok('SELECT csm.compact_usage()', 'compact_usage() after a batch above the threshold');
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_big')$$,
              $$SELECT account::text, at, count(*) AS e, count(DISTINCT uid) AS u FROM public.usage_t_big GROUP BY 1, 2$$,
              'BIGINT key: exact after a batch above csm.compact_threshold on one shard');

-- 3. Unknown keys of a source that does not create accounts ------------------
CREATE TABLE public.usage_t_known (org text, at date);
SELECT create_distributed_table('public.usage_t_known', 'org');
SELECT csm.track_usage('public.usage_t_known', 'org', 'at', create_accounts => false);
INSERT INTO public.usage_t_known VALUES ('org-1', '2026-04-01'), ('stranger', '2026-04-01'), ('stranger', '2026-04-02');
SELECT lives_ok('SELECT csm.compact_usage()', 'compact_usage() with unknown keys');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.account WHERE external_id = 'stranger'$$), 0::numeric,
          'a source with create_accounts => false creates no account');
SELECT results_eq($$SELECT key, events FROM csm.usage_unknown_key WHERE source = 'usage_t_known'$$,
                  $$VALUES ('stranger', 2::bigint)$$, 'its unknown key is listed by usage_unknown_key');
INSERT INTO csm.account (external_id) VALUES ('stranger');
SELECT is(pg_temp.num($$SELECT sum(events) FROM csm.usage_daily WHERE source = 'usage_t_known' AND external_id = 'stranger'$$),
          2::numeric, 'creating the account rolls its waiting events up');

-- 4. Distribution mistakes get clear errors -----------------------------------
CREATE TABLE public.usage_t_other (id bigint, org text, at date);
SELECT create_distributed_table('public.usage_t_other', 'id');
SELECT throws_ok($$SELECT csm.track_usage('public.usage_t_other', 'org', 'at')$$, '0A000',
                 'table public.usage_t_other is distributed by column "id", not by its account column "org"',
                 'a table distributed by another column is refused');
CREATE TABLE public.usage_t_ref (org text, at date);
SELECT create_reference_table('public.usage_t_ref');
SELECT throws_ok($$SELECT csm.track_usage('public.usage_t_ref', 'org', 'at')$$, '0A000', NULL,
                 'a reference table is refused');

SELECT throws_ok($$SELECT csm.distribute_usage('public.usage_t_ref')$$, '42704', NULL,
                 'distribute_usage() of an untracked table');
SELECT is(csm.distribute_usage('public.usage_t_known')::text,
          'csm.usage_stage_' || (SELECT source_id FROM csm.usage_source WHERE relation = 'public.usage_t_known'::regclass),
          'distribute_usage() of a table distributed already returns its staging table');

-- 5. A distributed partitioned table: a partition created later is tracked -----
CREATE TABLE public.usage_t_part (org text, at date, member text) PARTITION BY RANGE (at);
CREATE TABLE public.usage_t_part_1 PARTITION OF public.usage_t_part FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
SELECT create_distributed_table('public.usage_t_part', 'org');
SELECT csm.track_usage('public.usage_t_part', 'org', 'at', user_column => 'member');
INSERT INTO public.usage_t_part VALUES ('org-1', '2026-01-05', 'a'), ('org-2', '2026-01-06', 'b');
SELECT lives_ok($$CREATE TABLE public.usage_t_part_2 PARTITION OF public.usage_t_part FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')$$,
                'a new partition of a tracked distributed table is distributed with its rollup triggers');
INSERT INTO public.usage_t_part VALUES ('org-1', '2026-02-05', 'a'), ('org-3', '2026-02-06', 'b');
INSERT INTO public.usage_t_part_2 VALUES ('org-1', '2026-02-07', 'c');
DELETE FROM public.usage_t_part_1 WHERE org = 'org-2';
SELECT is(pg_temp.counted('public.usage_t_part'), 4::bigint, 'writes through the parent and straight to partitions are counted');
SELECT bag_eq($$SELECT * FROM pg_temp.rollup('public.usage_t_part')$$,
              $$SELECT org, at, count(*) AS e, count(DISTINCT member) AS u FROM public.usage_t_part GROUP BY 1, 2$$,
              'partitioned: exact');

-- 6. untrack, and DROP of a tracked distributed table -------------------------
SELECT lives_ok($$SELECT csm.untrack_usage('public.usage_t_big')$$, 'untrack_usage() of a distributed table');
SELECT ok(to_regclass('csm.usage_stage_' || (SELECT max(source_id) + 1 FROM csm.usage_source)) IS NULL
          AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.relname LIKE 'usage_stage_%' AND c.relnamespace = 'csm'::regnamespace
                          AND NOT EXISTS (SELECT 1 FROM csm.usage_source s WHERE 'usage_stage_' || s.source_id = c.relname)),
          'its staging table is gone');
INSERT INTO public.usage_t_big VALUES (1, '2026-03-01', 1);
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.usage_daily WHERE source::text = 'usage_t_big'$$), 0::numeric,
          'an untracked table writes on without rollups');
DROP TABLE public.usage_t_text;
SELECT is(pg_temp.num($$SELECT count(*) FROM csm.usage_source WHERE relation::text LIKE '%usage_t_text%'$$), 0::numeric,
          'DROP TABLE of a tracked distributed table removes its source');
SELECT is((SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'csm'::regnamespace AND c.relname LIKE 'usage_stage_%')::numeric,
          pg_temp.num('SELECT count(*) FROM csm.usage_source'), 'and its staging table');

-- 7. A key's waiting events count as soon as its account is created -------
-- On Citus the usage views read no csm_internal.usage_pending (a reference table,
-- which would pull every account's usage to the coordinator): creating the
-- account moves its key's pending events into the distributed deltas.
CREATE TABLE public.usage_t_late (org text, at date, member text, feature text);
SELECT create_distributed_table('public.usage_t_late', 'org');
SELECT csm.track_usage('public.usage_t_late', 'org', 'at', 'feature', 'member', create_accounts => false);
INSERT INTO public.usage_t_late VALUES ('late-1', '2026-05-01', 'a', 'x'), ('late-1', '2026-05-01', 'b', 'y'),
                                       ('late-1', '2026-05-02', 'a', 'x'), ('late-2', '2026-05-01', 'c', 'x');
SELECT csm.compact_usage();  -- the staged events of keys with no account wait in csm_internal.usage_pending
SELECT is(pg_temp.num($$SELECT events FROM csm.usage_unknown_key WHERE key = 'late-1'$$), 3::numeric,
          'events of an unknown key wait');
INSERT INTO csm.account (external_id) VALUES ('late-1');
SELECT bag_eq($$SELECT day, events, active_users FROM csm.usage_daily WHERE source = 'usage_t_late'$$,
              $$SELECT at, count(*) AS e, count(DISTINCT member) AS u FROM public.usage_t_late WHERE org = 'late-1' GROUP BY at$$,
              'creating the account on the cluster: usage_daily counts its waiting events at once, exactly');
SELECT bag_eq($$SELECT day, feature, events FROM csm.usage_feature_daily WHERE source = 'usage_t_late'$$,
              $$SELECT at, feature, count(*) FROM public.usage_t_late WHERE org = 'late-1' GROUP BY at, feature$$,
              'and usage_feature_daily');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm_internal.usage_pending WHERE account_key = 'late-1'$$), 0::numeric,
          'they moved into the distributed deltas (the views read no pending events on Citus)');
SELECT results_eq($$SELECT key, events FROM csm.usage_unknown_key WHERE source = 'usage_t_late'$$,
                  $$VALUES ('late-2', 1::bigint)$$, 'the other key still waits');
INSERT INTO public.usage_t_late VALUES ('late-1', '2026-05-02', 'c', 'y');
SELECT lives_ok('SELECT csm.compact_usage()', 'compact_usage() after');
SELECT bag_eq($$SELECT day, events, active_users FROM csm.usage_daily WHERE source = 'usage_t_late'$$,
              $$SELECT at, count(*) AS e, count(DISTINCT member) AS u FROM public.usage_t_late WHERE org = 'late-1' GROUP BY at$$,
              'folded: still exact');

-- 8. Accounts loaded in bulk fold once, at commit, not once per account -----
-- SET CONSTRAINTS ... IMMEDIATE fires what a commit would, inside this
-- transaction; the trigger functions' calls are this transaction's counts.
SET LOCAL track_functions = 'all';
INSERT INTO public.usage_t_late VALUES ('late-3', '2026-05-03', 'a', 'x'), ('late-3', '2026-05-03', 'b', 'x'),
                                       ('late-9', '2026-05-04', 'a', 'z');
SELECT csm.compact_usage();
INSERT INTO csm.account (external_id) SELECT 'late-' || i FROM generate_series(3, 40) i;  -- INSERT ... SELECT: at commit
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is(pg_temp.num($$SELECT calls FROM pg_stat_xact_user_functions
                        WHERE schemaname = 'csm_internal' AND funcname = '_fold_pending_key'$$), 1::numeric,
          '38 accounts created by one INSERT ... SELECT: one fold at commit');
SELECT is(pg_temp.num($$SELECT count(*) FROM csm_internal.usage_pending WHERE account_key IN ('late-3', 'late-9')$$), 0::numeric,
          'it moved the waiting events of their keys');
SELECT bag_eq($$SELECT external_id, day, events FROM csm.usage_daily WHERE source = 'usage_t_late' AND external_id IN ('late-3', 'late-9')$$,
              $$SELECT org, at, count(*) FROM public.usage_t_late WHERE org IN ('late-3', 'late-9') GROUP BY org, at$$,
              'exactly, once');
-- after a firing, the next account written queues one again
INSERT INTO public.usage_t_late VALUES ('late-2', '2026-05-05', 'd', 'x');
SELECT csm.compact_usage();
INSERT INTO csm.account (external_id) VALUES ('late-2');
SELECT is(pg_temp.num($$SELECT calls FROM pg_stat_xact_user_functions
                        WHERE schemaname = 'csm_internal' AND funcname = '_fold_pending_key'$$), 2::numeric,
          'an account created after that firing fires once more');
SELECT bag_eq($$SELECT day, events FROM csm.usage_daily WHERE source = 'usage_t_late' AND external_id = 'late-2'$$,
              $$SELECT at, count(*) FROM public.usage_t_late WHERE org = 'late-2' GROUP BY at$$,
              'and folds its key''s waiting events');

SELECT * FROM finish();
ROLLBACK;
