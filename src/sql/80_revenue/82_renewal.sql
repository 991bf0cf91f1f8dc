
-- Not STRICT, and each branch an enum constant: so that it is inlined into
-- the refresh's statements (a STRICT function whose body is not strict, or
-- an IMMUTABLE one that casts text to an enum at run time, is called per
-- row instead, at four times the cost).  NULL matches no branch.
CREATE OR REPLACE FUNCTION @extschema@.renewal_stage(days_out integer) RETURNS @extschema@.renewal_stage
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN days_out <= 0 THEN 'execution'::@extschema@.renewal_stage
            WHEN days_out <= 30 THEN '30_days_out'::@extschema@.renewal_stage
            WHEN days_out <= 60 THEN '60_days_out'::@extschema@.renewal_stage
            WHEN days_out > 60 THEN '90_days_out'::@extschema@.renewal_stage END;
COMMENT ON FUNCTION @extschema@.renewal_stage(integer) IS
    'The stage of an open renewal whose date is days_out days away: 61 or more 90_days_out, 31-60 60_days_out, 1-30 30_days_out, 0 or less (due or overdue) execution. NULL gives NULL.';

CREATE OR REPLACE FUNCTION @extschema@.renewal_outcome(target_arr numeric, final_arr numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN final_arr = 0 AND target_arr > 0 THEN 'churned'
            WHEN final_arr > target_arr THEN 'upsell'
            WHEN final_arr < target_arr THEN 'downsell'
            WHEN final_arr = target_arr THEN 'renewed' END;
COMMENT ON FUNCTION @extschema@.renewal_outcome(numeric, numeric) IS
    'The outcome of a renewal from its final ARR against its target: churned when the final ARR is 0 (and the target was not), upsell above the target, downsell below it, renewed at exactly the target. NULL gives NULL.';

-- csm_internal._forget_accounts deletes a deleted account's reminders, then its renewals.
CREATE OR REPLACE TRIGGER account_forget_renewals AFTER DELETE ON @extschema@.account
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION csm_internal._forget_accounts('@extschema@.renewal_reminder', '@extschema@.renewal');

-- The statements csm.refresh_renewals runs, by step, with the refresh's
-- instant and UTC day as constants (on Citus each worker's now() is its
-- own).  A function of its own so that a test can EXPLAIN exactly them.
CREATE OR REPLACE FUNCTION csm_internal._renewal_refresh_statements(stamp timestamptz, today date, caller name,
                                                         distributed boolean DEFAULT false, opened_after bigint DEFAULT NULL)
RETURNS TABLE (step text, statement text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    due text;
BEGIN
    -- Open renewals of churned accounts are lost: closed as churned.
    step := 'close_churned';
    statement := format($q$
        UPDATE @extschema@.renewal r
        SET final_arr = 0, outcome = 'churned', stage = 'closed', closed_via = 'account',
            closed_at = greatest(coalesce(a.churned_at, %1$L::timestamptz), r.opened_at), closed_by = %2$L::name
        FROM @extschema@.account a
        WHERE a.account_id = r.account_id AND r.closed_at IS NULL AND a.status = 'churned'$q$, stamp, caller);
    RETURN NEXT;
    -- An account whose renewal date moved more than 90 days out renewed
    -- outside csm: its open renewal closes at the account's ARR now.
    step := 'close_moved';
    statement := format($q$
        UPDATE @extschema@.renewal r
        SET final_arr = coalesce(a.arr, 0), outcome = @extschema@.renewal_outcome(r.target_arr, coalesce(a.arr, 0)),
            stage = 'closed', closed_via = 'account', closed_at = greatest(%1$L::timestamptz, r.opened_at),
            closed_by = %3$L::name
        FROM @extschema@.account a
        WHERE a.account_id = r.account_id AND r.closed_at IS NULL AND a.status = 'active'
          AND a.renewal_date > r.renewal_date AND a.renewal_date > %2$L::date + 90$q$, stamp, today, caller);
    RETURN NEXT;
    -- Accounts 90 days or less from their renewal date (or past it) with no
    -- open renewal and none for that date.  (An outer join rather than NOT
    -- EXISTS: Citus plans it with csm.account a reference table.)  On one
    -- node the new renewals get their owner and forecast at once (the
    -- update below then finds nothing to change in them), read for those
    -- accounts only (a subquery of its own: on a day with nothing to open,
    -- no churn score or owner is read); on Citus, which reads the new
    -- renewals' accounts through the coordinator, only their keys move, and
    -- the update below fills them in on the workers.
    -- On one node this step, which reads every active account, counts
    -- csm.refresh_renewals's progress (OFFSET 0: each account, not only
    -- those due; nothing when csm_internal._progress_begin did not start it).
    step := 'open';
    due := format($q$%2$s a
        LEFT JOIN @extschema@.renewal r
          ON r.account_id = a.account_id AND (r.closed_at IS NULL OR r.renewal_date = a.renewal_date)
        WHERE a.status = 'active' AND a.renewal_date <= %1$L::date + 90 AND r.account_id IS NULL$q$, today,
        CASE WHEN distributed THEN '@extschema@.account'
             ELSE $j$(SELECT x.*, csm_internal._progress('refresh_renewals', x.account_id) AS counted
          FROM @extschema@.account x WHERE x.status = 'active' OFFSET 0)$j$ END);
    statement := format($q$
        INSERT INTO @extschema@.renewal (account_id, renewal_date, target_arr, stage, opened_at%3$s)
        SELECT a.account_id, a.renewal_date, coalesce(a.arr, 0),
               @extschema@.renewal_stage(a.renewal_date - %2$L::date), %1$L::timestamptz%4$s
        FROM %5$s$q$, stamp, today,
        CASE WHEN NOT distributed THEN ', owner, churn_probability, forecast_model, forecast_arr' ELSE '' END,
        CASE WHEN NOT distributed THEN ', m.handle, c.probability, c.model, round(coalesce(a.arr, 0) * (1 - c.probability::numeric), 2)' ELSE '' END,
        CASE WHEN distributed THEN due ELSE format($j$(SELECT a.account_id, a.renewal_date, a.arr FROM %s OFFSET 0) a
        LEFT JOIN @extschema@.churn_score c ON c.account_id = a.account_id
        LEFT JOIN @extschema@.account_assignment p ON p.account_id = a.account_id AND p.is_primary AND p.ended_at IS NULL
        LEFT JOIN @extschema@.team_member m ON m.member_id = p.member_id$j$, due) END);
    RETURN NEXT;
    -- Open renewals: follow the account's date, move the stage forward,
    -- and keep the owner and the forecast current.  Driven by the renewals'
    -- own rows, joined on account_id, so that Citus runs it on the workers.
    -- (There the owner's handle is read through csm.assignment: on Citus a
    -- statement that names the members' table makes csm settle
    -- conversations after it, src/settle.c.)
    step := 'advance';
    statement := format($q$
        UPDATE @extschema@.renewal r
        SET renewal_date = s.renewal_date, stage = s.stage, owner = s.owner,
            churn_probability = s.probability, forecast_model = s.model, forecast_arr = s.forecast
        FROM (SELECT x.account_id, x.renewal_id, coalesce(a.renewal_date, x.renewal_date) AS renewal_date,
                     greatest(x.stage, @extschema@.renewal_stage(coalesce(a.renewal_date, x.renewal_date) - %1$L::date)) AS stage,
                     p.handle AS owner, c.probability, c.model,
                     round(coalesce(a.arr, 0) * (1 - c.probability::numeric), 2) AS forecast
              FROM @extschema@.renewal x
              JOIN @extschema@.account a ON a.account_id = x.account_id
              LEFT JOIN @extschema@.churn_score c ON c.account_id = x.account_id
              LEFT JOIN %2$s p ON p.account_id = x.account_id AND p.is_primary
              WHERE x.closed_at IS NULL%3$s) s
        WHERE r.account_id = s.account_id AND r.renewal_id = s.renewal_id AND r.closed_at IS NULL
          AND (r.renewal_date, r.stage, r.owner, r.churn_probability, r.forecast_model, r.forecast_arr)
              IS DISTINCT FROM (s.renewal_date, s.stage, s.owner, s.probability, s.model, s.forecast)$q$, today,
        CASE WHEN distributed THEN '@extschema@.assignment'
             ELSE $j$(SELECT pa.account_id, pa.is_primary, pm.handle FROM @extschema@.account_assignment pa
               JOIN @extschema@.team_member pm ON pm.member_id = pa.member_id WHERE pa.ended_at IS NULL)$j$ END,
        -- (on one node the renewals the open step just made, numbered after
        -- opened_after, are current already)
        CASE WHEN NOT distributed AND opened_after IS NOT NULL
             THEN format(' AND x.renewal_id <= %s', opened_after) ELSE '' END);
    RETURN NEXT;
    -- The reminder of the window each open renewal is in, unless raised.
    step := 'remind';
    statement := format($q$
        INSERT INTO @extschema@.renewal_reminder (account_id, renewal_id, days_out, renewal_date, owner, raised_at)
        SELECT r.account_id, r.renewal_id,
               CASE r.stage WHEN '90_days_out' THEN 90 WHEN '60_days_out' THEN 60 ELSE 30 END,
               r.renewal_date, r.owner, %1$L::timestamptz
        FROM @extschema@.renewal r
        LEFT JOIN @extschema@.renewal_reminder rr
          ON rr.account_id = r.account_id AND rr.renewal_id = r.renewal_id
         AND rr.days_out = CASE r.stage WHEN '90_days_out' THEN 90 WHEN '60_days_out' THEN 60 ELSE 30 END
        WHERE r.closed_at IS NULL AND r.stage < 'execution' AND rr.account_id IS NULL$q$, stamp);
    RETURN NEXT;
    -- What NOTIFY announces: the reminders this refresh raised.
    step := 'raised';
    statement := format($q$
        SELECT pg_catalog.json_build_object('account_id', rr.account_id, 'external_id', a.external_id,
                                            'renewal_id', rr.renewal_id, 'days_out', rr.days_out,
                                            'renewal_date', rr.renewal_date, 'owner', rr.owner)::text
        FROM @extschema@.renewal_reminder rr
        JOIN @extschema@.account a ON a.account_id = rr.account_id
        WHERE rr.raised_at = %1$L::timestamptz
        ORDER BY rr.account_id, rr.renewal_id, rr.days_out$q$, stamp);
    RETURN NEXT;
END $$;
COMMENT ON FUNCTION csm_internal._renewal_refresh_statements(timestamptz, date, name, boolean, bigint) IS
    'Internal: the statements csm.refresh_renewals runs (close_churned, close_moved, open, advance, remind, raised) for a refresh at stamp on UTC day today by the role caller, in their Citus form when distributed; on one node the advance step leaves out renewals numbered after opened_after (just opened, current already).';

-- (work_mem as for refresh_lifecycle: the hash joins over every open
-- renewal and its account, churn score and owner are kept in memory rather
-- than written out in batches, which at 1M accounts cost as much as the
-- joins)
CREATE OR REPLACE FUNCTION @extschema@.refresh_renewals(OUT opened bigint, OUT updated bigint, OUT closed bigint, OUT reminded bigint)
LANGUAGE plpgsql
SET work_mem = '64MB'
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    today constant date := (now() AT TIME ZONE 'UTC')::date;
    statements jsonb;
    n bigint;
    payloads text[];
    distributed boolean;
    opened_after bigint;
    old_nestloop text;
    started constant timestamptz := clock_timestamp();
BEGIN
    PERFORM csm_internal._require('operate');
    -- One refresh at a time, and none while csm.close_renewal() runs (it
    -- takes the same lock shared): a row of csm_internal.lock_row (a reference table
    -- on Citus: one lock for the cluster).  A refresh that waited then sees
    -- what the other wrote (each statement below takes a new snapshot), so
    -- its inserts need no ON CONFLICT, which would cost a first refresh
    -- twice the writes.  The unique keys (one open renewal per account, one
    -- renewal per account and date, one reminder per renewal and window)
    -- hold besides: a refresh run in REPEATABLE READ that waited fails on
    -- them (23505) rather than write anything twice.
    PERFORM csm_internal._lock_row('renewal', 'refresh', true);
    -- The transaction's instant stamps what it opens, closes and raises:
    -- the reminders it announces are those raised at it (a second refresh
    -- in the transaction announces the first's again, and NOTIFY sends a
    -- transaction's identical notifications once).
    distributed := csm_internal._is_distributed('@extschema@.renewal');
    -- The renewals the open step makes are numbered after the identity's
    -- last value (closes, which also open renewals, wait for this lock):
    -- on one node they get their owner and forecast as they are made, and
    -- the advance step leaves them out.
    IF NOT distributed THEN
        opened_after := coalesce(pg_catalog.pg_sequence_last_value(
                                     pg_catalog.pg_get_serial_sequence('@extschema@.renewal', 'renewal_id')::regclass), 0);
    END IF;
    -- A NOTICE at every 10% of the active accounts read by the open step,
    -- when the client wants notices (single node).
    PERFORM csm_internal._progress_begin('refresh_renewals');
    statements := (SELECT jsonb_object_agg(t.step, t.statement)
                   FROM csm_internal._renewal_refresh_statements(now(), today, csm_internal._caller(),
                                                                 distributed, opened_after) t);

    EXECUTE statements ->> 'close_churned';
    GET DIAGNOSTICS closed = ROW_COUNT;
    EXECUTE statements ->> 'close_moved';
    GET DIAGNOSTICS n = ROW_COUNT;
    closed := closed + n;
    EXECUTE statements ->> 'open';
    GET DIAGNOSTICS opened = ROW_COUNT;
    -- Every open renewal against its account, churn score and owner: hash
    -- joins (the planner's nested loops of index probes took 2.5 times as
    -- long over the 277k open renewals of 1M accounts).
    old_nestloop := current_setting('enable_nestloop');
    IF NOT distributed THEN
        PERFORM set_config('enable_nestloop', 'off', true);
    END IF;
    EXECUTE statements ->> 'advance';
    GET DIAGNOSTICS updated = ROW_COUNT;
    PERFORM set_config('enable_nestloop', old_nestloop, true);
    EXECUTE statements ->> 'remind';
    GET DIAGNOSTICS reminded = ROW_COUNT;
    -- Announced from this backend (on Citus, the coordinator's); NOTIFY
    -- delivers them when the transaction commits, and nothing if it rolls
    -- back.  One notification per reminder, from the rows read back, up to
    -- 1000; a refresh that raised more (a first refresh raises a quarter of
    -- the accounts' at once, and a notification costs about as much as
    -- writing its row) announces them in one, which says where to read them.
    IF reminded > 1000 THEN
        PERFORM pg_catalog.pg_notify('csm_renewal_reminder',
                                     pg_catalog.json_build_object('reminders', reminded, 'raised_at', now())::text);
    ELSIF reminded > 0 THEN
        EXECUTE format('SELECT array_agg(q.p) FROM (%s) q(p)', statements ->> 'raised') INTO payloads;
        PERFORM pg_catalog.pg_notify('csm_renewal_reminder', u.p) FROM unnest(payloads) AS u(p);
    END IF;
    -- renewal_reminder alerts (86_alert.sql)
    IF reminded > 0 THEN
        PERFORM csm_internal._raise_alerts(ARRAY['renewal_reminder']);
    END IF;
    -- Playbooks fired by a reminder (85_playbook.sql), in this transaction.
    PERFORM csm_internal._fire_playbooks(ARRAY['renewal_reminder'], NULL, 'refresh_renewals');
    PERFORM csm_internal._run_finished('renewals', started, opened + updated + closed + reminded);
END $$;
COMMENT ON FUNCTION @extschema@.refresh_renewals() IS
    'Opens, advances and closes renewals and raises their reminders; idempotent, schedule it daily with pg_cron. In order: closes the open renewals of churned accounts (outcome churned, final ARR 0) and of accounts whose renewal_date moved more than 90 days out (renewed outside csm: final ARR the account''s ARR); opens a renewal for every active account whose renewal_date is 90 days away or less (or past) and that has none open and none for that date (target: its ARR); moves each open renewal to the account''s renewal_date, its stage forward (csm.renewal_stage), its owner to the primary CSM and its forecast to ARR x (1 - churn probability) (csm.churn_score); raises the reminder of the window (90, 60 or 30) each open renewal is in unless it was raised, into csm.renewal_reminder, with NOTIFY csm_renewal_reminder and a JSON payload {"account_id", "external_id", "renewal_id", "days_out", "renewal_date", "owner"} per reminder (one {"reminders", "raised_at"} for all when it raised more than 1000: read them from csm.renewal_reminder by raised_at). Returns the renewals opened, updated and closed and the reminders raised. One refresh runs at a time. Errors: 42501 without the operate level.';

CREATE OR REPLACE FUNCTION @extschema@.close_renewal(external_id text, final_arr numeric, term interval DEFAULT '1 year',
                                          closed_at timestamptz DEFAULT now())
RETURNS @extschema@.renewal
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    account bigint;
    acc @extschema@.account;
    r @extschema@.renewal;
    today constant date := (now() AT TIME ZONE 'UTC')::date;
    next_date date;
    new_outcome text;
    old_reason text;
    old_source text;
    old_date text;
    recorded boolean;
BEGIN
    PERFORM csm_internal._require('operate');
    IF final_arr IS NULL OR term IS NULL OR closed_at IS NULL THEN
        RAISE EXCEPTION 'final_arr, term and closed_at must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'A churned renewal closes at final_arr 0.';
    END IF;
    IF NOT (final_arr >= 0 AND final_arr < 'Infinity') THEN
        RAISE EXCEPTION 'final_arr must be a finite number of at least 0, not %', final_arr
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF closed_at > now() THEN
        RAISE EXCEPTION 'closed_at % is in the future', closed_at
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Close a renewal when it is signed (or lost).';
    END IF;
    account := csm_internal._account_id(external_id);
    -- Not while csm.refresh_renewals() runs (it takes this lock exclusive);
    -- closes run side by side.  Then the account, then its renewal: the
    -- account's row is locked until commit (on Citus, a reference table,
    -- the table is), so two closes of one account run one after the other.
    PERFORM csm_internal._lock_row('renewal', 'refresh', false);
    SELECT * INTO acc FROM @extschema@.account a WHERE a.account_id = account FOR UPDATE;
    IF acc.status = 'churned' THEN
        RAISE EXCEPTION 'account "%" has churned', external_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'csm.refresh_renewals() closes the open renewal of a churned account as churned.';
    END IF;
    SELECT * INTO r FROM @extschema@.renewal x WHERE x.account_id = account AND x.closed_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        -- Signed before the refresh opened it: opened now, at closed_at.
        IF acc.renewal_date IS NULL THEN
            RAISE EXCEPTION 'account "%" has no renewal_date and no open renewal', external_id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Set the account''s renewal_date.';
        END IF;
        IF EXISTS (SELECT 1 FROM @extschema@.renewal x WHERE x.account_id = account AND x.renewal_date = acc.renewal_date) THEN
            RAISE EXCEPTION 'the renewal of account "%" on % is already closed', external_id, acc.renewal_date
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'See csm.renewal; the next renewal opens 90 days before the account''s next renewal_date.';
        END IF;
        INSERT INTO @extschema@.renewal (account_id, renewal_date, target_arr, stage, opened_at)
        VALUES (account, acc.renewal_date, coalesce(acc.arr, 0),
                @extschema@.renewal_stage(acc.renewal_date - today), close_renewal.closed_at)
        RETURNING * INTO r;
    END IF;
    IF close_renewal.closed_at < r.opened_at THEN
        RAISE EXCEPTION 'closed_at % is before the renewal was opened (%)', close_renewal.closed_at, r.opened_at
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    next_date := (r.renewal_date + term)::date;
    IF next_date <= r.renewal_date THEN
        RAISE EXCEPTION 'term % does not move the renewal date forward', term
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give the new contract''s length, such as ''1 year''.';
    END IF;
    new_outcome := @extschema@.renewal_outcome(r.target_arr, final_arr);
    UPDATE @extschema@.renewal x
    SET final_arr = close_renewal.final_arr, outcome = new_outcome, stage = 'closed',
        closed_at = close_renewal.closed_at, closed_via = 'close_renewal', closed_by = csm_internal._caller()
    WHERE x.account_id = account AND x.renewal_id = r.renewal_id
    RETURNING * INTO r;

    -- The account's ARR movement, for csm.arr_change's trigger: its reason,
    -- source renewal, and its date: the renewal's date, when the new term's
    -- ARR (or the loss) takes effect, or the day it closed when that is
    -- earlier (signed early: the account's ARR changes now, and the history
    -- never runs ahead of it), never before the account started.  Transaction-local settings, restored after;
    -- skipped on a csm without them (they are csm's own GUCs).
    recorded := current_setting('csm.arr_change_reason', true) IS NOT NULL;
    IF recorded THEN
        old_reason := current_setting('csm.arr_change_reason', true);
        old_source := current_setting('csm.arr_change_source', true);
        old_date := current_setting('csm.arr_change_date', true);
        PERFORM set_config('csm.arr_change_reason',
                           format('renewal %s: %s -> %s (renewal %s of %s)', new_outcome, r.target_arr, final_arr,
                                  r.renewal_id, r.renewal_date), true);
        PERFORM set_config('csm.arr_change_source', 'renewal', true);
        PERFORM set_config('csm.arr_change_date',
                           greatest(least(r.renewal_date, (close_renewal.closed_at AT TIME ZONE 'UTC')::date),
                                    (coalesce(acc.started_at, acc.created_at) AT TIME ZONE 'UTC')::date)::text, true);
    END IF;
    IF new_outcome = 'churned' THEN
        UPDATE @extschema@.account a SET status = 'churned', churned_at = close_renewal.closed_at
        WHERE a.account_id = account;
    ELSE
        UPDATE @extschema@.account a SET arr = close_renewal.final_arr, renewal_date = next_date
        WHERE a.account_id = account;
    END IF;
    IF recorded THEN
        PERFORM set_config('csm.arr_change_reason', old_reason, true);
        PERFORM set_config('csm.arr_change_source', old_source, true);
        PERFORM set_config('csm.arr_change_date', old_date, true);
    END IF;
    -- The success plan refresh at renewal (87_success_plan.sql).
    PERFORM @extschema@.refresh_success_plans(ARRAY[account]);
    RETURN r;
END $$;
COMMENT ON FUNCTION @extschema@.close_renewal(text, numeric, interval, timestamptz) IS
    'Closes the account''s open renewal at final_arr (opening it first when csm.refresh_renewals has not yet): outcome from final_arr against target_arr (csm.renewal_outcome). A churned renewal (final_arr 0) marks the account churned; any other rolls its renewal_date forward by term from the renewal''s date and sets its ARR to final_arr. The account change is recorded in csm.arr_change with source renewal, a reason naming the outcome, dated the renewal''s date or the day it closed, whichever is earlier, but not before the account started. Returns the closed renewal. Errors: P0002 unknown account; 22004 a NULL argument; 22023 final_arr negative, NaN or infinite, closed_at in the future or before the renewal opened, a term that does not move the date forward; 55000 a churned account, no renewal_date, or that date''s renewal already closed; 42501 without the operate level.';

-- Renewals in the next 90 and 180 days: every active account whose
-- renewal_date is 180 days away or less (overdue ones too), with its open
-- renewal, owner, health and churn bands, and the expected ARR.  Written
-- with the per-account tables outer-joined on account_id and no LATERAL,
-- the form Citus runs on the workers with csm.account a reference table.
CREATE OR REPLACE VIEW @extschema@.renewal_pipeline WITH (security_invoker = true) AS
SELECT a.account_id,
       a.external_id,
       a.name,
       a.segment,
       coalesce(r.renewal_date, a.renewal_date) AS renewal_date,
       coalesce(r.renewal_date, a.renewal_date) - (now() AT TIME ZONE 'UTC')::date AS days_out,
       CASE WHEN coalesce(r.renewal_date, a.renewal_date) - (now() AT TIME ZONE 'UTC')::date <= 90 THEN 90 ELSE 180 END
           AS horizon_days,
       r.renewal_id,
       coalesce(r.stage::text, 'not_open') AS stage,
       m.handle AS owner,
       coalesce(o.score, h.score) AS health_score,
       CASE WHEN o.score IS NOT NULL THEN @extschema@.health_band(o.score) ELSE h.band END AS health_band,
       c.probability AS churn_probability,
       c.band AS churn_band,
       a.arr,
       coalesce(r.target_arr, a.arr) AS target_arr,
       round(a.arr * (1 - c.probability::numeric), 2) AS forecast_arr,
       c.model AS churn_model,
       cm.trained_at AS churn_model_version,
       c.computed_at AS churn_scored_at,
       -- the vocabulary's names; name and churn_model_version are deprecated
       a.name AS account_name,
       cm.trained_at AS churn_model_trained_at
FROM @extschema@.account a
LEFT JOIN @extschema@.renewal r ON r.account_id = a.account_id AND r.closed_at IS NULL
LEFT JOIN @extschema@.health_score h ON h.account_id = a.account_id
LEFT JOIN (
    SELECT DISTINCT ON (ov.account_id) ov.account_id, ov.score
    FROM @extschema@.health_override ov
    WHERE ov.cleared_at IS NULL AND (ov.expires_at IS NULL OR ov.expires_at > now())
    ORDER BY ov.account_id, ov.override_id DESC) o ON o.account_id = a.account_id
LEFT JOIN @extschema@.churn_score c ON c.account_id = a.account_id
LEFT JOIN @extschema@.churn_model cm ON cm.name = c.model AND c.model <> 'prior'
LEFT JOIN @extschema@.account_assignment p ON p.account_id = a.account_id AND p.is_primary AND p.ended_at IS NULL
LEFT JOIN @extschema@.team_member m ON m.member_id = p.member_id
WHERE a.status = 'active'
  AND coalesce(r.renewal_date, a.renewal_date) <= (now() AT TIME ZONE 'UTC')::date + 180;
COMMENT ON VIEW @extschema@.renewal_pipeline IS
    'Renewals due in the next 180 days (horizon_days 90 for the next 90 days, 180 beyond), overdue ones included (days_out < 0): account, open renewal and stage (not_open until csm.refresh_renewals opens it 90 days out), owner (primary CSM), effective health score and band, churn probability and band, ARR, target ARR, and forecast_arr = ARR x (1 - churn probability), an expected value, with the churn model (csm.churn_score.model) and its version (the trained model''s trained_at; NULL for the prior) and when the account was scored. forecast_arr is NULL until csm.refresh_churn scores the account.';

-- The seed's renewal metrics over the renewals closed in a period.
-- PL/pgSQL: on Citus each query is planned on its own, with the values.
CREATE OR REPLACE FUNCTION @extschema@.renewal_metrics(period_start date, period_end date, segment text DEFAULT NULL)
RETURNS TABLE (renewals bigint, renewed bigint, upsell bigint, downsell bigint, churned bigint,
               target_arr numeric, final_arr numeric, expansion_arr numeric,
               renewal_cycle_time numeric, expansion_share numeric, expansion_share_arr numeric,
               -- the vocabulary's names (0-1); expansion_share and expansion_share_arr are deprecated
               expansion_share_ratio numeric, expansion_arr_share_ratio numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF period_start IS NULL OR period_end IS NULL THEN
        RAISE EXCEPTION 'period_start and period_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF period_end < period_start THEN
        RAISE EXCEPTION 'period_end % is before period_start %', period_end, period_start
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT count(*),
           count(*) FILTER (WHERE r.outcome = 'renewed'),
           count(*) FILTER (WHERE r.outcome = 'upsell'),
           count(*) FILTER (WHERE r.outcome = 'downsell'),
           count(*) FILTER (WHERE r.outcome = 'churned'),
           coalesce(sum(r.target_arr), 0),
           coalesce(sum(r.final_arr), 0),
           coalesce(sum(r.final_arr - r.target_arr) FILTER (WHERE r.outcome = 'upsell'), 0),
           round(avg(extract(epoch FROM r.closed_at - r.opened_at) / 86400)
                     FILTER (WHERE r.closed_via = 'close_renewal'), 1),
           round(count(*) FILTER (WHERE r.outcome = 'upsell')::numeric / nullif(count(*), 0), 4),
           round(coalesce(sum(r.target_arr) FILTER (WHERE r.outcome = 'upsell'), 0) / nullif(sum(r.target_arr), 0), 4),
           round(count(*) FILTER (WHERE r.outcome = 'upsell')::numeric / nullif(count(*), 0), 4),
           round(coalesce(sum(r.target_arr) FILTER (WHERE r.outcome = 'upsell'), 0) / nullif(sum(r.target_arr), 0), 4)
    FROM @extschema@.renewal r
    JOIN @extschema@.account a ON a.account_id = r.account_id
    WHERE r.closed_at >= (period_start::timestamp AT TIME ZONE 'UTC')
      AND r.closed_at < ((period_end + 1)::timestamp AT TIME ZONE 'UTC')
      AND (renewal_metrics.segment IS NULL OR a.segment = renewal_metrics.segment);
END $$;
COMMENT ON FUNCTION @extschema@.renewal_metrics(date, date, text) IS
    'The seed''s renewal metrics over the renewals closed from period_start to period_end (inclusive, UTC days), of every account or of one segment: counts by outcome, target and final ARR, expansion_arr (final - target over upsells), renewal_cycle_time (mean days from opened_at to closed_at over the renewals closed by csm.close_renewal; the seed''s target is under 45), expansion_share (upsells / renewals, by number) and expansion_share_arr (target ARR of the upsells / target ARR of all, by dollars; the seed''s target for both is over 0.25). Shares are NULL with no renewals (or, by dollars, no target ARR); expansion_share_ratio and expansion_arr_share_ratio repeat them under the vocabulary''s names (expansion_share and expansion_share_arr are deprecated, removed in 0.3.0). Errors: 22004 a NULL bound, 22023 period_end before period_start.';
