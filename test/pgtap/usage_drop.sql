-- citus-differs: creates a role in its transaction that owns the tracked tables (the workers cannot see the uncommitted role) and tracks local tables, which csm refuses on a distributed csm with 0A000 by design.
-- Issue 11, section 5: DROP TABLE of a tracked table takes its source and
-- rollups with it, unless the source keeps its history; untrack_usage()
-- works on a table that is gone.
BEGIN;
SELECT plan(16);

CREATE ROLE csm_tap_dropper;
GRANT CREATE ON SCHEMA public TO csm_tap_dropper;
SET ROLE csm_tap_dropper;
CREATE TABLE public.tap_drop_a (org text, at date);
CREATE TABLE public.tap_drop_b (org text, at date);
RESET ROLE;
SELECT csm.track_usage('public.tap_drop_a', 'org', 'at');
INSERT INTO public.tap_drop_a VALUES ('org_dr', '2026-03-01'), ('org_dr', '2026-03-02');
SELECT is((SELECT sum(events) FROM csm.usage_daily WHERE external_id = 'org_dr'), 2::numeric, 'two events counted');

-- A non-superuser owner drops the table.
SET ROLE csm_tap_dropper;
SELECT lives_ok($$DROP TABLE public.tap_drop_a$$, 'the owner, not a superuser, drops a tracked table');
RESET ROLE;
SELECT is((SELECT count(*) FROM csm.usage_source), 0::bigint, 'its usage_source row is gone');
SELECT is((SELECT count(*) FROM csm_internal.usage_counter) + (SELECT count(*) FROM csm_internal.usage_delta), 0::bigint,
          'and its rollups');
SELECT is((SELECT days_since_last_activity FROM csm.account_metrics WHERE external_id = 'org_dr'), NULL::integer,
          'account_metrics no longer counts them');

-- keep_history: the rollups stay after the drop, and untrack_usage(<oid>) removes them.
SELECT csm.track_usage('public.tap_drop_b', 'org', 'at', keep_history => true);
INSERT INTO public.tap_drop_b VALUES ('org_dr', '2026-03-03');
CREATE TEMP TABLE tap_gone AS SELECT 'public.tap_drop_b'::regclass::oid AS relid;
SET ROLE csm_tap_dropper;
-- renamed by its owner (no rights on csm): usage_daily.source follows
ALTER TABLE public.tap_drop_b RENAME TO "tap drop c";
RESET ROLE;
SELECT is((SELECT DISTINCT source FROM csm.usage_daily WHERE external_id = 'org_dr'), '"tap drop c"',
          'usage_daily.source follows a rename of the table (quoted as needed)');
SET ROLE csm_tap_dropper;
DROP TABLE public."tap drop c";
RESET ROLE;
SELECT is((SELECT dropped_at IS NOT NULL FROM csm.usage_source), true, 'a source that keeps its history is marked dropped');
SELECT is((SELECT sum(events) FROM csm.usage_daily WHERE external_id = 'org_dr'), 1::numeric, 'its rollups stay');
-- usage_daily.source is the table's name as text, which outlives the table
-- (the deprecated source_relation is now a bare oid)
SELECT is((SELECT DISTINCT source FROM csm.usage_daily WHERE external_id = 'org_dr'), '"tap drop c"',
          'usage_daily.source still names the dropped table');
SELECT is((SELECT DISTINCT source_relation::oid FROM csm.usage_daily WHERE external_id = 'org_dr'),
          (SELECT relid FROM tap_gone), 'its deprecated source_relation is the dropped table''s oid');
SELECT throws_ok(format('SELECT csm.backfill_usage(%s)', (SELECT relid FROM tap_gone)), '42P01', NULL,
                 'backfill_usage() of a dropped table says so');
SELECT lives_ok(format('SELECT csm.untrack_usage(%s)', (SELECT relid FROM tap_gone)),
                'untrack_usage() of a dropped table works');
SELECT is((SELECT count(*) FROM csm.usage_source), 0::bigint, 'and removes the source');
SELECT is((SELECT count(*) FROM csm.usage_daily), 0::bigint, 'and its rollups');
SELECT throws_ok(format('SELECT csm.untrack_usage(%s)', (SELECT relid FROM tap_gone)), '42704', NULL,
                 'untracking it again is "not tracked"');

-- Dropping a column or an unrelated table touches no source.
CREATE TABLE public.tap_drop_c (org text, at date, extra int);
SELECT csm.track_usage('public.tap_drop_c', 'org', 'at');
ALTER TABLE public.tap_drop_c DROP COLUMN extra;
CREATE TABLE public.tap_drop_d ();
DROP TABLE public.tap_drop_d;
SELECT is((SELECT count(*) FROM csm.usage_source), 1::bigint, 'other drops leave sources alone');

SELECT * FROM finish();
ROLLBACK;
