
CREATE OR REPLACE FUNCTION csm_internal._run_finished(kind text, started_at timestamptz, rows bigint, skipped bigint DEFAULT 0)
RETURNS void
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    INSERT INTO @extschema@.refresh_run (kind, started_at, finished_at, rows, skipped)
    VALUES (kind, started_at, pg_catalog.clock_timestamp(), rows, coalesce(skipped, 0));
END;
COMMENT ON FUNCTION csm_internal._run_finished(text, timestamptz, bigint, bigint) IS
    'Internal: records a refresh that finished in csm.refresh_run; the refreshes call it last.';
REVOKE ALL ON FUNCTION csm_internal._run_finished(text, timestamptz, bigint, bigint) FROM PUBLIC;

-- The jobs, with the cadence a CS team works at: usage folding and stale
-- conversations every minute, scores hourly, the calendar-driven
-- refreshes once a night (UTC), in the order their inputs are made.
CREATE OR REPLACE FUNCTION csm_internal._jobs()
RETURNS TABLE (kind text, jobname text, schedule text, expected_every interval, command text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT v.kind, 'csm-' || v.kind, v.schedule, v.every::interval,
           format('SELECT %I.run_refresh(%L)', '@extschema@', v.kind)
    FROM (VALUES
        (1, 'usage', '* * * * *', '1 minute'),
        (2, 'stale_conversations', '* * * * *', '1 minute'),
        (3, 'health', '0 * * * *', '1 hour'),
        (4, 'churn', '15 * * * *', '1 hour'),
        (5, 'alerts', '30 * * * *', '1 hour'),
        (6, 'playbooks', '45 * * * *', '1 hour'),
        (7, 'segments', '0 1 * * *', '1 day'),
        (8, 'lifecycle', '10 1 * * *', '1 day'),
        (9, 'renewals', '20 1 * * *', '1 day'),
        (10, 'success_plans', '30 1 * * *', '1 day'),
        (11, 'expansion', '40 1 * * *', '1 day'),
        (12, 'purge_runs', '0 3 * * *', '1 day')) AS v (position, kind, schedule, every)
    ORDER BY v.position;
END;
COMMENT ON FUNCTION csm_internal._jobs() IS 'Internal: the periodic jobs, in the order csm.job_schedule lists them.';

CREATE OR REPLACE VIEW @extschema@.job_schedule WITH (security_invoker = true) AS
SELECT j.kind, j.jobname, j.schedule, j.expected_every, j.command FROM csm_internal._jobs() j;
COMMENT ON VIEW @extschema@.job_schedule IS
    'The periodic jobs csm.schedule_jobs() registers with pg_cron, with their default cadence (cron syntax, UTC) and command. Schedule them by hand from this view when pg_cron lives in another database.';
COMMENT ON COLUMN @extschema@.job_schedule.kind IS 'The refresh, as csm.run_refresh takes it.';
COMMENT ON COLUMN @extschema@.job_schedule.jobname IS 'The pg_cron job name (csm-<kind>).';
COMMENT ON COLUMN @extschema@.job_schedule.schedule IS 'Default cadence, in cron syntax (pg_cron runs it in UTC).';
COMMENT ON COLUMN @extschema@.job_schedule.expected_every IS 'How often it runs by default: a run older than twice this is stale in csm.refresh_status.';
COMMENT ON COLUMN @extschema@.job_schedule.command IS 'The SQL pg_cron runs.';

CREATE OR REPLACE FUNCTION @extschema@.purge_refresh_runs(keep interval DEFAULT '30 days') RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    purged bigint;
    cutoff timestamptz;
BEGIN
    PERFORM csm_internal._require('operate');
    IF keep IS NULL OR keep < interval '0' THEN
        RAISE EXCEPTION 'keep must be an interval of zero or more, not %', coalesce(keep::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example csm.purge_refresh_runs(''30 days'').';
    END IF;
    BEGIN
        cutoff := now() - keep;
    EXCEPTION WHEN datetime_field_overflow THEN
        cutoff := '-infinity';  -- longer than time itself: keep everything
    END;
    DELETE FROM @extschema@.refresh_run r WHERE r.started_at < cutoff;
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END $$;
COMMENT ON FUNCTION @extschema@.purge_refresh_runs(interval) IS
    'Deletes the csm.refresh_run rows that started more than keep ago (default 30 days); returns how many. Errors: 22023 NULL or negative keep.';

-- One entry point for schedulers.  SECURITY INVOKER on purpose: a job runs
-- with the rights of the role that scheduled it, and each refresh checks
-- that role's level itself.
CREATE OR REPLACE FUNCTION @extschema@.run_refresh(kind text) RETURNS @extschema@.refresh_run
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    started constant timestamptz := clock_timestamp();
    done bigint;
    run @extschema@.refresh_run;
    failure text;
BEGIN
    PERFORM csm_internal._require('operate');
    IF kind IS NULL OR NOT EXISTS (SELECT FROM csm_internal._jobs() j WHERE j.kind = run_refresh.kind) THEN
        RAISE EXCEPTION 'unknown refresh "%"', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('One of: %s.', (SELECT string_agg(j.kind, ', ') FROM csm_internal._jobs() j));
    END IF;
    BEGIN
        CASE kind
            WHEN 'usage' THEN
                done := @extschema@.compact_usage();
                PERFORM csm_internal._run_finished(kind, started, done);
            WHEN 'stale_conversations' THEN
                SELECT count(*) INTO done FROM @extschema@.reassign_stale();
                PERFORM csm_internal._run_finished(kind, started, done);
            WHEN 'health' THEN PERFORM @extschema@.refresh_health();
            WHEN 'churn' THEN PERFORM @extschema@.refresh_churn();
            WHEN 'segments' THEN PERFORM @extschema@.refresh_segments();
            WHEN 'lifecycle' THEN PERFORM @extschema@.refresh_lifecycle();
            WHEN 'renewals' THEN PERFORM @extschema@.refresh_renewals();
            WHEN 'expansion' THEN PERFORM @extschema@.refresh_expansion();
            WHEN 'alerts' THEN PERFORM @extschema@.run_alerts();
            WHEN 'playbooks' THEN PERFORM @extschema@.run_playbooks();
            WHEN 'success_plans' THEN
                SELECT s.renewed + s.closed INTO done FROM @extschema@.refresh_success_plans() s;
                PERFORM csm_internal._run_finished(kind, started, done);
            WHEN 'purge_runs' THEN
                done := @extschema@.purge_refresh_runs();
                PERFORM csm_internal._run_finished(kind, started, done);
        END CASE;
    EXCEPTION WHEN OTHERS THEN
        -- the refresh's work is rolled back; the failure is kept
        failure := SQLSTATE || ': ' || SQLERRM;
        INSERT INTO @extschema@.refresh_run (kind, started_at, finished_at, error)
        VALUES (kind, started, clock_timestamp(), failure);
        RAISE WARNING 'csm refresh "%" failed: %', kind, failure
            USING HINT = 'The run is recorded in csm.refresh_run; its work was rolled back.';
    END;
    SELECT * INTO run FROM @extschema@.refresh_run r
    WHERE r.kind = run_refresh.kind AND r.started_at >= started
    ORDER BY r.run_id DESC LIMIT 1;
    RETURN run;
END $$;
COMMENT ON FUNCTION @extschema@.run_refresh(text) IS
    'Runs one periodic refresh by kind (see csm.job_schedule) and returns its csm.refresh_run row. A failure does not raise: it is recorded with its SQLSTATE and message (and a WARNING), and the refresh''s work is rolled back, so a scheduler''s failed run stays visible. Runs with the caller''s rights. Errors: 22023 unknown kind, 42501 below the operate level.';

CREATE OR REPLACE VIEW @extschema@.refresh_status WITH (security_invoker = true) AS
SELECT j.kind, j.expected_every,
       last.started_at AS last_run_at,
       ok.finished_at AS last_success_at,
       ok.rows AS last_rows,
       ok.finished_at - ok.started_at AS last_duration,
       bad.finished_at AS last_failure_at,
       bad.error AS last_error,
       CASE WHEN last.run_id IS NULL THEN 'never_run'
            WHEN last.error IS NOT NULL THEN 'failed'
            WHEN ok.finished_at < now() - 2 * j.expected_every THEN 'stale'
            ELSE 'ok' END AS state
FROM csm_internal._jobs() j
LEFT JOIN LATERAL (SELECT r.* FROM @extschema@.refresh_run r WHERE r.kind = j.kind
                   ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) last ON true
LEFT JOIN LATERAL (SELECT r.* FROM @extschema@.refresh_run r WHERE r.kind = j.kind AND r.error IS NULL
                   ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) ok ON true
LEFT JOIN LATERAL (SELECT r.* FROM @extschema@.refresh_run r WHERE r.kind = j.kind AND r.error IS NOT NULL
                   ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) bad ON true;
COMMENT ON VIEW @extschema@.refresh_status IS
    'Each periodic refresh''s last run, last success and last failure, and its state: ok, failed (the last run failed), stale (no success for twice its expected cadence) or never_run.';
COMMENT ON COLUMN @extschema@.refresh_status.kind IS 'The refresh (csm.job_schedule).';
COMMENT ON COLUMN @extschema@.refresh_status.expected_every IS 'Its default cadence.';
COMMENT ON COLUMN @extschema@.refresh_status.last_run_at IS 'When its last run started.';
COMMENT ON COLUMN @extschema@.refresh_status.last_success_at IS 'When its last successful run finished.';
COMMENT ON COLUMN @extschema@.refresh_status.last_rows IS 'Rows the last successful run reported.';
COMMENT ON COLUMN @extschema@.refresh_status.last_duration IS 'How long the last successful run took.';
COMMENT ON COLUMN @extschema@.refresh_status.last_failure_at IS 'When its last failed run (under csm.run_refresh) ended.';
COMMENT ON COLUMN @extschema@.refresh_status.last_error IS 'SQLSTATE and message of that failure.';
COMMENT ON COLUMN @extschema@.refresh_status.state IS 'ok, failed, stale or never_run.';

-- pg_cron.  The jobs are registered in the current database with
-- cron.schedule_in_database, so pg_cron (whose own database is
-- cron.database_name) runs them here without hand edits of cron.job.
-- Scheduling again replaces a job of the same name.
CREATE OR REPLACE FUNCTION @extschema@.schedule_jobs()
RETURNS TABLE (jobname text, schedule text, command text, jobid bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    job record;
BEGIN
    PERFORM csm_internal._require('admin');
    IF to_regclass('cron.job') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'CREATE EXTENSION pg_cron here (cron.database_name must name this database), or schedule the commands of csm.job_schedule from pg_cron''s database with cron.schedule_in_database.';
    END IF;
    FOR job IN SELECT * FROM csm_internal._jobs() LOOP
        jobname := job.jobname;
        schedule := job.schedule;
        command := job.command;
        EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)'
            INTO jobid USING job.jobname, job.schedule, job.command, current_database();
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.schedule_jobs() IS
    'Registers every periodic refresh of csm.job_schedule with pg_cron in this database (cron.schedule_in_database), replacing jobs of the same name; returns the jobs. The jobs run as the calling role. Errors: 55000 pg_cron not installed in this database, 42501 below the admin level.';

CREATE OR REPLACE FUNCTION @extschema@.unschedule_jobs() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed bigint := 0;
    name text;
BEGIN
    PERFORM csm_internal._require('admin');
    IF to_regclass('cron.job') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    FOR name IN EXECUTE 'SELECT j.jobname FROM cron.job j WHERE j.jobname = ANY ($1) AND j.database = current_database()'
        USING ARRAY(SELECT j.jobname FROM csm_internal._jobs() j) LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING name;
        removed := removed + 1;
    END LOOP;
    RETURN removed;
END $$;
COMMENT ON FUNCTION @extschema@.unschedule_jobs() IS
    'Removes the pg_cron jobs csm.schedule_jobs() registered for this database; returns how many. Errors: 55000 pg_cron not installed here, 42501 below the admin level.';
