-- Refresh runs on Citus (csm.distribute() done): csm.refresh_run is a
-- reference table written by the coordinator; every periodic refresh runs
-- through csm.run_refresh and leaves exactly one run, as on one node. The
-- same file passes on a single node. Run with pg_prove against the coordinator; rolled back.
BEGIN;
SELECT plan(4);
SET LOCAL client_min_messages = warning;

INSERT INTO csm.account (account_id, external_id, name, segment, arr, seats)
SELECT 9800 + i, 'jr' || i, 'Jobs ' || i, 'smb', 1000 * i, 10 FROM generate_series(1, 8) AS i;
DELETE FROM csm.refresh_run;

SELECT is((SELECT count(*) FROM csm.job_schedule j, LATERAL csm.run_refresh(j.kind) r
           WHERE r.kind = j.kind AND r.error IS NULL),
          (SELECT count(*) FROM csm.job_schedule), 'every job runs through run_refresh and succeeds');
SELECT is((SELECT count(*) FROM csm.refresh_run), (SELECT count(*) FROM csm.job_schedule),
          'each leaves exactly one run');
SELECT is((SELECT rows FROM csm.refresh_run WHERE kind = 'health'), 8::bigint, 'the health run counts the accounts scored');
SELECT is((SELECT count(*) FROM csm.refresh_status WHERE state = 'ok'), (SELECT count(*) FROM csm.job_schedule),
          'refresh_status shows every job ok');
SELECT * FROM finish();
ROLLBACK;
