-- citus-differs: tracks a local (non-distributed) partitioned table, which csm refuses on a distributed csm with 0A000 by design.
-- Issue 11, section 5: on a tracked partitioned table, DML aimed straight
-- at a partition is counted, for partitions created or attached later too;
-- an attached partition's rows are counted and a detached one's are taken
-- out; TRUNCATE of one partition while others hold rows is refused.
BEGIN;
SELECT plan(22);

CREATE TABLE tap_part (org text, at date) PARTITION BY RANGE (at);
CREATE TABLE tap_part_03 PARTITION OF tap_part FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
SELECT csm.track_usage('tap_part', 'org', 'at');
CREATE FUNCTION pg_temp.rolled() RETURNS bigint LANGUAGE sql AS
    $$SELECT coalesce(sum(events), 0)::bigint FROM csm.usage_daily$$;

INSERT INTO tap_part_03 VALUES ('org_p', '2026-03-05'), ('org_p', '2026-03-06');
SELECT is(pg_temp.rolled(), 2::bigint, 'INSERT into a partition is counted');
DELETE FROM tap_part_03 WHERE at = '2026-03-06';
SELECT is(pg_temp.rolled(), 1::bigint, 'DELETE from a partition is counted');
UPDATE tap_part_03 SET org = 'org_q';
SELECT is((SELECT sum(events) FROM csm.usage_daily WHERE external_id = 'org_q'), 1::numeric, 'UPDATE of a partition is counted');
INSERT INTO tap_part VALUES ('org_p', '2026-03-10');
SELECT is(pg_temp.rolled(), 2::bigint, 'an INSERT through the parent is counted once');

CREATE TABLE tap_part_04 PARTITION OF tap_part FOR VALUES FROM ('2026-04-01') TO ('2026-05-01');
INSERT INTO tap_part_04 VALUES ('org_p', '2026-04-02');
SELECT is(pg_temp.rolled(), 3::bigint, 'a partition created later is counted');

CREATE TABLE tap_part_05 (org text, at date);
INSERT INTO tap_part_05 VALUES ('org_p', '2026-05-02'), ('org_r', '2026-05-03');
ALTER TABLE tap_part ATTACH PARTITION tap_part_05 FOR VALUES FROM ('2026-05-01') TO ('2026-06-01');
SELECT is(pg_temp.rolled(), 5::bigint, 'attaching a partition counts the rows it brings');
INSERT INTO tap_part_05 VALUES ('org_p', '2026-05-04');
SELECT is(pg_temp.rolled(), 6::bigint, 'and DML on it from then on');

-- A sub-partitioned partition, attached with its rows.
CREATE TABLE tap_part_06 (org text, at date) PARTITION BY RANGE (at);
CREATE TABLE tap_part_06a PARTITION OF tap_part_06 FOR VALUES FROM ('2026-06-01') TO ('2026-06-16');
INSERT INTO tap_part_06 VALUES ('org_p', '2026-06-02');
ALTER TABLE tap_part ATTACH PARTITION tap_part_06 FOR VALUES FROM ('2026-06-01') TO ('2026-07-01');
INSERT INTO tap_part_06a VALUES ('org_p', '2026-06-03');
SELECT is(pg_temp.rolled(), 8::bigint, 'a sub-partitioned partition: its rows and DML on its leaves');
CREATE TABLE tap_part_06b PARTITION OF tap_part_06 FOR VALUES FROM ('2026-06-16') TO ('2026-07-01');
INSERT INTO tap_part_06b VALUES ('org_p', '2026-06-20');
SELECT is(pg_temp.rolled(), (SELECT count(*) FROM tap_part), 'a leaf created later under it; rollups match the table');

SELECT throws_ok($$TRUNCATE tap_part_04$$, '0A000', NULL,
                 'TRUNCATE of one partition while others hold rows is refused');
ALTER TABLE tap_part DETACH PARTITION tap_part_05;
SELECT is(pg_temp.rolled(), (SELECT count(*) FROM tap_part), 'detaching a partition takes its rows out');
INSERT INTO tap_part_05 VALUES ('org_p', '2026-05-05');
SELECT is(pg_temp.rolled(), (SELECT count(*) FROM tap_part), 'and DML on the detached table is no longer counted');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'tap_part_05'::regclass), 0::bigint,
          'the detached table has no csm trigger left');

SELECT is(csm.backfill_usage('tap_part'), (SELECT count(*) FROM tap_part), 'backfill_usage() reads every partition');
SELECT is(pg_temp.rolled(), (SELECT count(*) FROM tap_part), 'and agrees with the triggers');

TRUNCATE tap_part;
SELECT is(pg_temp.rolled(), 0::bigint, 'TRUNCATE of the parent clears the rollups');
INSERT INTO tap_part VALUES ('org_p', '2026-03-05');
SELECT lives_ok($$TRUNCATE tap_part_03$$, 'TRUNCATE of the only partition holding rows is fine');
SELECT is(pg_temp.rolled(), 0::bigint, 'and clears the rollups');

-- The table's owner, with no rights on csm, creates and attaches partitions.
CREATE ROLE csm_tap_part_owner;
GRANT CREATE ON SCHEMA public TO csm_tap_part_owner;
SET ROLE csm_tap_part_owner;
CREATE TABLE public.tap_own (org text, at date) PARTITION BY LIST (org);
RESET ROLE;
SELECT csm.track_usage('public.tap_own', 'org', 'at');
SET ROLE csm_tap_part_owner;
CREATE TABLE public.tap_own_a PARTITION OF public.tap_own FOR VALUES IN ('org_a');
CREATE TABLE public.tap_own_b (org text, at date);
INSERT INTO public.tap_own_b VALUES ('org_b', '2026-03-01');
ALTER TABLE public.tap_own ATTACH PARTITION public.tap_own_b FOR VALUES IN ('org_b');
INSERT INTO public.tap_own_a VALUES ('org_a', '2026-03-01');
RESET ROLE;
SELECT is((SELECT sum(events) FROM csm.usage_daily WHERE source = 'tap_own'), 2::numeric,
          'a table owner without rights on csm creates and attaches partitions, and they are counted');

SELECT lives_ok($$SELECT csm.untrack_usage('tap_part')$$, 'untrack_usage()');
SELECT lives_ok($$SELECT csm.untrack_usage('public.tap_own')$$, 'untrack_usage() of the second table');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgfoid = 'csm_internal._usage_rollup'::regproc), 0::bigint,
          'removes the triggers from every partition');

SELECT * FROM finish();
ROLLBACK;
