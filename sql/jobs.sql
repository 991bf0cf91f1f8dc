-- Refresh runs: every refresh leaves a row in csm.refresh_run, a failed one
-- too when csm.run_refresh ran it; csm.refresh_status shows the state of
-- each periodic job. (pg_cron itself: test/shell/cron_jobs.sh.)
\set VERBOSITY terse
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The jobs and their cadence.
SELECT kind, jobname, schedule, expected_every, command FROM csm.job_schedule;
-- Nothing ran yet.
SELECT kind, state FROM csm.refresh_status WHERE state <> 'never_run';

INSERT INTO csm.account (account_id, external_id, arr) VALUES (1, 'acme', 12000), (2, 'globex', 30000);

-- A direct call records its run, with what it reports.
SELECT csm.refresh_health() AS scored;
SELECT kind, rows, skipped, error IS NULL AS succeeded, finished_at >= started_at AS ordered
FROM csm.refresh_run ORDER BY run_id;

-- Through csm.run_refresh: one row per run, which it returns.
SELECT kind, rows, error FROM csm.run_refresh('churn');
SELECT kind, rows, error FROM csm.run_refresh('usage');
SELECT kind, count(*) FROM csm.refresh_run GROUP BY kind ORDER BY kind;

-- A failure is recorded and its work rolled back: here a trigger of the
-- user's refuses every history row.
CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is read-only today' USING ERRCODE = 'P0001';
END $$;
DELETE FROM csm.health_history;
DELETE FROM csm.health_score;
CREATE TRIGGER refuse BEFORE INSERT ON csm.health_history FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse();
SELECT kind, rows, error FROM csm.run_refresh('health');
SELECT count(*) AS scores_kept FROM csm.health_score;
SELECT kind, state, last_rows, last_error FROM csm.refresh_status WHERE kind IN ('health', 'churn', 'usage', 'renewals');
DROP TRIGGER refuse ON csm.health_history;
-- the next successful run clears the failed state
SELECT kind, rows, error FROM csm.run_refresh('health');
SELECT kind, state FROM csm.refresh_status WHERE kind = 'health';

-- A run older than twice its cadence is stale.
UPDATE csm.refresh_run SET started_at = started_at - interval '3 hours', finished_at = finished_at - interval '3 hours'
WHERE kind = 'churn';
SELECT kind, state FROM csm.refresh_status WHERE kind = 'churn';

-- Purging keeps the recent runs.
SELECT csm.purge_refresh_runs('1 hour') AS purged;
SELECT kind, count(*) FROM csm.refresh_run GROUP BY kind ORDER BY kind;

-- Every job runs through run_refresh and leaves exactly one run.
DELETE FROM csm.refresh_run;
SELECT j.kind, r.kind = j.kind AS recorded, r.error IS NULL AS succeeded
FROM csm.job_schedule j, LATERAL csm.run_refresh(j.kind) r;
SELECT kind, count(*) AS runs FROM csm.refresh_run GROUP BY kind ORDER BY kind;

-- Bad input.
SELECT pg_temp.sqlstate_of($$SELECT csm.run_refresh('nightly')$$);
SELECT pg_temp.sqlstate_of($$SELECT csm.run_refresh(NULL)$$);
SELECT pg_temp.sqlstate_of($$SELECT csm.purge_refresh_runs(NULL)$$);
SELECT pg_temp.sqlstate_of($$SELECT csm.purge_refresh_runs('-1 day')$$);
-- longer than any timestamp: keeps everything
SELECT csm.purge_refresh_runs('200000 years') AS purged_none;
-- pg_cron is not in this database (named in the message)
SELECT regexp_replace(pg_temp.sqlstate_of($$SELECT csm.schedule_jobs()$$), current_database(), '<db>') AS schedule;
SELECT regexp_replace(pg_temp.sqlstate_of($$SELECT csm.unschedule_jobs()$$), current_database(), '<db>') AS unschedule;

-- A role below the operate level can read the runs but run nothing.
CREATE ROLE csm_jobs_reader;
SELECT csm.grant_access('csm_jobs_reader', 'read');
SET ROLE csm_jobs_reader;
SELECT count(*) > 0 AS can_read FROM csm.refresh_run;
SELECT pg_temp.sqlstate_of($$SELECT csm.run_refresh('health')$$);
SELECT pg_temp.sqlstate_of($$SELECT csm.purge_refresh_runs()$$);
SELECT pg_temp.sqlstate_of($$INSERT INTO csm.refresh_run (kind, started_at, finished_at) VALUES ('x', now(), now())$$);
RESET ROLE;
SELECT csm.revoke_access('csm_jobs_reader');
DROP ROLE csm_jobs_reader;

DELETE FROM csm.refresh_run;
DELETE FROM csm.health_history;
DELETE FROM csm.health_score;
DELETE FROM csm.churn_score;
DELETE FROM csm.account;
