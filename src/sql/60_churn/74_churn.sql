-- Churn risk per account: the features a model reads, training a model on
-- the account history, the prior model used until one is trained, scores
-- stored for dashboards and routing, and the seed's analyze_churn_risk.
-- The model itself is in C (src/churn_*.c, 60_churn/70_churn_model.sql); signals and
-- bands in 60_churn/72_churn_signal.sql.

-- What churn models read: numbers about the account (its metrics) and
-- which churn signals are open.  A model keeps the feature names it was
-- fitted on and reads features by name, so signal kinds added later are
-- simply not read until the model is trained again.
CREATE OR REPLACE FUNCTION @extschema@.churn_metric_names() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT ARRAY['dau_ratio', 'features_adopted', 'days_since_last_activity', 'usage_trend',
                 'tickets_per_month', 'nps', 'days_to_renewal', 'log_arr', 'tenure_days'];
END;
COMMENT ON FUNCTION @extschema@.churn_metric_names() IS
    'The numeric churn features, in the order of csm.churn_metrics_at arrays.';

CREATE OR REPLACE FUNCTION @extschema@.churn_feature_names() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT @extschema@.churn_metric_names()
           || ARRAY(SELECT c.signal FROM @extschema@.churn_signal_config c WHERE c.enabled ORDER BY c.signal);
END;
COMMENT ON FUNCTION @extschema@.churn_feature_names() IS
    'The features csm.train_churn_model fits on: the metrics (csm.churn_metric_names()), then one 0/1 feature per enabled churn signal kind.';

-- On Citus, a query that reads csm's tables together with a function's rows
-- is sent to a node as one task, and the function's own queries then read
-- that node's local tables instead of the cluster's.  So the churn queries
-- that call functions read csm's tables only through functions too: these
-- two, and csm.account_metrics_at.  Each one's query is then planned on its
-- own, where the shards are.
CREATE OR REPLACE FUNCTION csm_internal._churn_accounts(account bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, external_id text, status text, arr numeric,
               started_at timestamptz, churned_at timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT a.account_id, a.external_id, a.status, a.arr, a.started_at, a.churned_at
    FROM @extschema@.account a
    WHERE account IS NULL OR a.account_id = account;
END $$;
COMMENT ON FUNCTION csm_internal._churn_accounts(bigint) IS
    'Internal: the columns of csm.account that churn features and labels read, of every account or one.';

-- The signals open per account, as a sorted array: open now (t NULL), or
-- at time t; of every kind or only your own; all accounts or one.
CREATE OR REPLACE FUNCTION csm_internal._churn_open_signals(t timestamptz, own_only boolean, account bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, signals text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF t IS NULL THEN
        RETURN QUERY
        SELECT s.account_id, array_agg(s.signal ORDER BY s.signal)
        FROM @extschema@.churn_signal s
        JOIN @extschema@.churn_signal_kind k ON k.signal = s.signal
        WHERE s.cleared_at IS NULL AND NOT (own_only AND k.builtin)
          AND (account IS NULL OR s.account_id = account)
        GROUP BY s.account_id;
    ELSE
        RETURN QUERY
        SELECT s.account_id, array_agg(s.signal ORDER BY s.signal)
        FROM @extschema@.churn_signal s
        JOIN @extschema@.churn_signal_kind k ON k.signal = s.signal
        WHERE s.first_seen_at < t AND (s.cleared_at IS NULL OR s.cleared_at >= t)
          AND NOT (own_only AND k.builtin)
          AND (account IS NULL OR s.account_id = account)
        GROUP BY s.account_id;
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._churn_open_signals(timestamptz, boolean, bigint) IS
    'Internal: per account, the churn signals csm.churn_signal has open now (t NULL) or at t (first seen before t, not cleared by then), sorted; own_only: only signals of your own kinds (builtin false).';

-- One row per account that was a customer at the end of as_of (UTC): started
-- by then and not churned by then.  Only what was known at that point is
-- read, so the same function builds training snapshots of the past and
-- today's scoring input.  NULL: unknown (no source, or no data yet).
CREATE OR REPLACE FUNCTION @extschema@.churn_metrics_at(as_of date, account bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, metrics float8[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    usage_tracked boolean := EXISTS (SELECT 1 FROM @extschema@.usage_source);
BEGIN
-- PL/pgSQL, not an inlined SQL function: on Citus each query is planned on
-- its own, with the values of as_of and account.
RETURN QUERY
SELECT a.account_id,
       ARRAY[m.dau_ratio,
             m.features_adopted,
             CASE WHEN usage_tracked
                  THEN least(coalesce(m.days_since_last_activity, 90), 90) END,
             -- The caps are CASEs, not least/greatest, which ignore NULL:
             -- an unknown metric stays NULL and takes the training mean.
             CASE WHEN m.usage_trend > 3.0 THEN 3.0 ELSE m.usage_trend END,
             m.tickets_per_month,
             m.nps,
             -- Renewal dates are not kept as history: in the past, a date
             -- more than a year ahead stood a whole number of years earlier.
             CASE WHEN m.days_to_renewal > 365
                  THEN least(m.days_to_renewal - 365 * ceil((m.days_to_renewal - 365) / 365.0), 400)
                  WHEN m.days_to_renewal < -30 THEN -30
                  ELSE m.days_to_renewal END,
             ln(1 + a.arr),
             CASE WHEN as_of - (a.started_at AT TIME ZONE 'UTC')::date > 1825 THEN 1825
                  ELSE as_of - (a.started_at AT TIME ZONE 'UTC')::date END]::float8[]
FROM @extschema@.account_metrics_at(as_of, account) m
JOIN csm_internal._churn_accounts(account) a ON a.account_id = m.account_id
WHERE (a.started_at IS NULL OR a.started_at < (as_of + 1)::timestamp AT TIME ZONE 'UTC')
  AND (a.churned_at IS NULL OR a.churned_at >= (as_of + 1)::timestamp AT TIME ZONE 'UTC');
END $$;
COMMENT ON FUNCTION @extschema@.churn_metrics_at(date, bigint) IS
    'The numeric churn features (csm.churn_metric_names() order) of every account that was a customer at the end of as_of (UTC), or of one: dau_ratio, features_adopted, days since last activity (at most 90), usage trend (at most 3), tickets per month, latest NPS, days to renewal (-30 to 400; a renewal date more than a year after as_of counts as that many whole years earlier, since csm keeps no history of renewal dates and terms are taken to be yearly), ln(1 + ARR), tenure in days (at most 1825). Reads only data from before the end of as_of. NULL elements are unknown (no usage before, no renewal date, no started_at, ...): the caps leave them NULL, and models read them as their training mean.';

CREATE OR REPLACE FUNCTION @extschema@.churn_features(as_of date, account bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, metrics float8[], signals text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    day_end timestamptz := (as_of + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
RETURN QUERY
WITH open_signals AS (
    -- built-in signals as detected at that time
    SELECT s.account_id, s.signal
    FROM @extschema@.churn_signals_at(day_end - interval '1 microsecond',
                                      CASE WHEN account IS NOT NULL THEN ARRAY[account] END) s
    UNION
    -- signals of your own kinds, as recorded
    SELECT o.account_id, u.signal
    FROM csm_internal._churn_open_signals(day_end, true, account) o, pg_catalog.unnest(o.signals) AS u(signal)
),
per_account AS (
    SELECT o.account_id, array_agg(o.signal ORDER BY o.signal) AS signals FROM open_signals o GROUP BY o.account_id
)
SELECT m.account_id, m.metrics, coalesce(p.signals, '{}')
FROM @extschema@.churn_metrics_at(as_of, account) m
LEFT JOIN per_account p ON p.account_id = m.account_id;
END $$;
COMMENT ON FUNCTION @extschema@.churn_features(date, bigint) IS
    'Training input at the end of as_of (UTC): csm.churn_metrics_at, and the churn signals open then (built-in ones detected by csm.churn_signals_at, your own as recorded in csm.churn_signal).';

-- A model's input: its features by name, metrics from their position in
-- csm.churn_metric_names(), signals 1 when open, unknown metrics NULL.
CREATE OR REPLACE FUNCTION csm_internal._churn_vector(names text[], metrics float8[], signals text[]) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT coalesce(array_agg(CASE WHEN mn.i IS NOT NULL THEN metrics[mn.i] ELSE (n.name = ANY (signals))::integer END
                              ORDER BY n.i), '{}')
    FROM unnest(names) WITH ORDINALITY AS n(name, i)
    LEFT JOIN unnest(@extschema@.churn_metric_names()) WITH ORDINALITY AS mn(name, i) ON mn.name = n.name;
END;
COMMENT ON FUNCTION csm_internal._churn_vector(text[], float8[], text[]) IS
    'Internal: the feature array a model with these feature names reads, from metrics (csm.churn_metric_names() order) and open signals.';

-- The prior: a logistic model over the open signals, each adding its
-- csm.churn_signal_kind.prior_weight to the log-odds of a 10% base rate.
CREATE OR REPLACE FUNCTION @extschema@.churn_prior_model() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT jsonb_build_object(
               'kind', 'logistic_regression', 'features', count(*),
               'feature_names', coalesce(jsonb_agg(c.signal ORDER BY c.signal), '[]'),
               'intercept', ln(0.1 / 0.9),
               'coefficients', coalesce(jsonb_agg(c.prior_weight ORDER BY c.signal), '[]'),
               'mean', coalesce(jsonb_agg(0 ORDER BY c.signal), '[]'),
               'scale', coalesce(jsonb_agg(1 ORDER BY c.signal), '[]'),
               'lambda', 0, 'iterations', 0, 'converged', true, 'rows', 0, 'positives', 0)
    FROM @extschema@.churn_signal_config c WHERE c.enabled;
END;
COMMENT ON FUNCTION @extschema@.churn_prior_model() IS
    'The prior churn model, used until a trained model is active: probability = 1 / (1 + exp(-(ln(0.1/0.9) + the sum of the prior weights (csm.churn_signal_config) of the account''s open signals))). No signal gives 10%.';

-- A trained model's features with the unknown ones filled with its
-- training mean (they then contribute nothing).
CREATE OR REPLACE FUNCTION csm_internal._churn_impute(model jsonb, features float8[]) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT coalesce(array_agg(coalesce(u.f, (model->'mean'->>(u.i::integer - 1))::float8) ORDER BY u.i), '{}')
    FROM unnest(features) WITH ORDINALITY AS u(f, i);
END;
COMMENT ON FUNCTION csm_internal._churn_impute(jsonb, float8[]) IS
    'Internal: fills unknown (NULL) features with the model''s training mean.';

-- The features that raise the risk most, biggest first: (name, value,
-- contribution) for the positive contributions of coefficient times
-- standardised value.
CREATE OR REPLACE FUNCTION csm_internal._churn_drivers(model jsonb, features float8[], top integer)
RETURNS TABLE (feature text, value float8, contribution float8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT model->'feature_names'->>(u.i::integer - 1), features[u.i], u.c
    FROM unnest(@extschema@.churn_contributions(model, features)) WITH ORDINALITY AS u(c, i)
    WHERE u.c > 0
    ORDER BY u.c DESC, u.i
    LIMIT top;
END;
COMMENT ON FUNCTION csm_internal._churn_drivers(jsonb, float8[], integer) IS
    'Internal: the features that raise a prediction most (coefficient x standardised value > 0), biggest first.';

-- The model that scores now: the active trained one, else the prior.
CREATE OR REPLACE FUNCTION csm_internal._churn_model_in_use(OUT name text, OUT kind text, OUT model jsonb, OUT trained_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    SELECT m.name, m.kind, m.model, m.trained_at INTO name, kind, model, trained_at
    FROM @extschema@.churn_model m WHERE m.active;
    IF NOT FOUND THEN
        name := 'prior';
        kind := 'prior';
        model := @extschema@.churn_prior_model();
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._churn_model_in_use() IS 'Internal: the active churn model, or the prior when none is active.';

-- Today's probability of every customer account (or of one) by the model in
-- use: today's metrics, and the signals open since the last refresh.  An
-- account with a feature that is not a finite number (arr = 'NaN', say) is
-- not scored: its probability is NULL and problem says which feature, so one
-- account's bad data does not fail a query over the portfolio.
CREATE OR REPLACE FUNCTION csm_internal._churn_predictions(account bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, probability float8, model text, features float8[], feature_model jsonb, problem text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record := csm_internal._churn_model_in_use();
    names text[] := ARRAY(SELECT jsonb_array_elements_text(m.model->'feature_names'));
BEGIN
    RETURN QUERY
    SELECT x.account_id, CASE WHEN x.problem IS NULL THEN @extschema@.churn_predict(m.model, x.v) END,
           m.name, x.v, m.model, x.problem
    FROM (SELECT y.account_id, y.v,
                 (SELECT format('feature %s is %s', names[u.i], coalesce(u.f::text, 'unknown'))
                  FROM unnest(y.v) WITH ORDINALITY AS u(f, i)
                  WHERE u.f IS NULL OR u.f IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)
                  ORDER BY u.i LIMIT 1) AS problem
          FROM (SELECT c.account_id,
                       csm_internal._churn_impute(m.model, csm_internal._churn_vector(
                           names, c.metrics, coalesce(o.signals, '{}'))) AS v,
                       -- csm.refresh_churn's progress (a no-op otherwise)
                       csm_internal._progress('refresh_churn', c.account_id) AS counted
                FROM @extschema@.churn_metrics_at((now() AT TIME ZONE 'UTC')::date, account) c
                JOIN csm_internal._churn_accounts(account) a ON a.account_id = c.account_id AND a.status = 'active'
                LEFT JOIN csm_internal._churn_open_signals(NULL, false, account) o ON o.account_id = c.account_id
                -- computed once, not once per use of v
                OFFSET 0) y) x;
END $$;
COMMENT ON FUNCTION csm_internal._churn_predictions(bigint) IS
    'Internal: churn probability now of every active account (or one) by the model in use, with the features it read (metrics today, signals open since the last refresh). An account with a NaN or infinite feature gets a NULL probability, and problem names the feature.';

-- One account's prediction, or why there is none: a NaN or infinite
-- feature, or any data exception (class 22) while computing its features.
CREATE OR REPLACE FUNCTION csm_internal._churn_prediction(account bigint)
RETURNS TABLE (account_id bigint, probability float8, model text, features float8[], feature_model jsonb, problem text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM csm_internal._churn_predictions(account);
EXCEPTION WHEN data_exception THEN
    -- nothing was returned: the error came before the one row was
    account_id := account;
    problem := SQLERRM;
    RETURN NEXT;
END $$;
COMMENT ON FUNCTION csm_internal._churn_prediction(bigint) IS
    'Internal: csm_internal._churn_predictions of one account, and for one whose data raises a data exception (class 22) a row with a NULL probability and the error message as problem.';

-- What csm.refresh_churn stores for the accounts it locked: every one at
-- once, or (account) only that one.
CREATE OR REPLACE FUNCTION csm_internal._churn_refresh_rows(accounts bigint[], account bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, probability float8, band @extschema@.churn_band, risk_score float8,
               model text, drivers text[], problem text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p.account_id, p.probability, @extschema@.churn_band(p.probability), p.probability * 100, p.model,
           CASE WHEN p.problem IS NULL
                THEN ARRAY(SELECT d.feature FROM csm_internal._churn_drivers(p.feature_model, p.features, 3) d) END,
           p.problem
    FROM csm_internal._churn_predictions(account) p
    JOIN pg_catalog.unnest(accounts) AS l(account_id) ON l.account_id = p.account_id;
END;
COMMENT ON FUNCTION csm_internal._churn_refresh_rows(bigint[], bigint) IS
    'Internal: the rows csm.refresh_churn stores for the given accounts (or, with account, that one): probability, band, risk score, model and the three top drivers, or the problem that left an account unscored.';

CREATE OR REPLACE FUNCTION @extschema@.refresh_churn() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scored bigint;
    changed bigint[];
    locked bigint[];
    id bigint;
    unscored bigint;
    unscored_list text;
    problem_ids bigint[];
    problems text[];
    err_state text;
    err_message text;
    -- the active model's stale_after, else the csm.stale_after setting now
    churn_stale constant interval := coalesce((SELECT m.stale_after FROM @extschema@.churn_model m WHERE m.active),
                                        csm_internal._stale_after_default());
    started constant timestamptz := clock_timestamp();
BEGIN
    PERFORM csm_internal._require('operate');
    PERFORM csm_internal._churn_require_coordinator('csm.refresh_churn()');
    -- On Citus, routing at the end locks csm.team_member rows (a reference
    -- table), which Citus refuses after a query that read shards over several
    -- connections at once: with rules that read churn, one connection per
    -- worker from the start (as csm_internal._lock_ownership()).
    IF csm_internal._is_distributed('@extschema@.health_score')
       AND EXISTS (SELECT 1 FROM @extschema@.routing_rule r
                   WHERE r.enabled AND r.condition IS NOT NULL
                     AND @extschema@.condition_attributes(r.condition) && ARRAY['churn_band', 'churn_risk_score']) THEN
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    END IF;
    -- Signals are refreshed in time order: take their lock first, then the
    -- time, so a refresh that waited for another is not "before" it.  The
    -- lock is a row of csm_internal.lock_row (a reference table on Citus: one lock
    -- for the cluster).
    PERFORM csm_internal._lock_row('churn', 'signals', true);
    PERFORM @extschema@.refresh_churn_signals(pg_catalog.clock_timestamp());
    -- One refresh at a time; readers are not blocked.
    LOCK TABLE @extschema@.churn_score IN SHARE ROW EXCLUSIVE MODE;
    -- The accounts to score, kept from being deleted meanwhile.  One being
    -- deleted now is skipped, not waited for: its delete waits for the
    -- lock above to cascade to churn_score, so waiting would deadlock.
    locked := ARRAY(SELECT a.account_id FROM @extschema@.account a WHERE a.status = 'active'
                    ORDER BY a.account_id FOR KEY SHARE SKIP LOCKED);
    -- A NOTICE at every 10% of them scored, when the client wants notices
    -- (csm_internal._progress_begin; csm_internal._churn_predictions counts them).
    PERFORM csm_internal._progress_begin('refresh_churn', cardinality(locked));
    IF to_regclass('pg_temp.csm_churn_refresh') IS NOT NULL THEN
        DROP TABLE pg_temp.csm_churn_refresh;
    END IF;
    CREATE TEMP TABLE csm_churn_refresh (account_id bigint, probability float8, band @extschema@.churn_band,
                                         risk_score float8, model text, drivers text[], problem text) ON COMMIT DROP;
    -- One account that cannot be scored must not fail the portfolio.  An
    -- account with a NaN or infinite feature is set aside (problem) by
    -- _churn_predictions; should the batch still fail on one account's data
    -- (a data exception, class 22), the accounts are scored one at a time and
    -- the ones that fail are set aside with their error.
    BEGIN
        INSERT INTO pg_temp.csm_churn_refresh SELECT * FROM csm_internal._churn_refresh_rows(locked);
    EXCEPTION WHEN data_exception THEN
        GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT;
        FOREACH id IN ARRAY locked LOOP
            BEGIN
                INSERT INTO pg_temp.csm_churn_refresh SELECT * FROM csm_internal._churn_refresh_rows(ARRAY[id], id);
            EXCEPTION WHEN data_exception THEN
                INSERT INTO pg_temp.csm_churn_refresh (account_id, problem) VALUES (id, SQLERRM);
            END;
        END LOOP;
    END;
    -- (the accounts' external ids are looked up on their own: on Citus a
    -- temporary table and csm.account are not read in one query)
    SELECT count(*) FILTER (WHERE r.problem IS NULL), count(*) FILTER (WHERE r.problem IS NOT NULL)
    INTO scored, unscored
    FROM pg_temp.csm_churn_refresh r;
    IF unscored > 0 THEN
        SELECT array_agg(r.account_id ORDER BY r.account_id), array_agg(r.problem ORDER BY r.account_id)
        INTO problem_ids, problems
        FROM (SELECT r.account_id, r.problem FROM pg_temp.csm_churn_refresh r
              WHERE r.problem IS NOT NULL ORDER BY r.account_id LIMIT 20) r;
        SELECT string_agg(format('%s: %s', a.external_id, p.problem), '; ' ORDER BY a.account_id) INTO unscored_list
        FROM @extschema@.account a
        JOIN ROWS FROM (pg_catalog.unnest(problem_ids), pg_catalog.unnest(problems)) AS p(account_id, problem)
          ON p.account_id = a.account_id;
    END IF;
    IF err_state IS NOT NULL AND scored = 0 THEN
        -- not one account's data, but every account's: the error itself
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_message;
    END IF;
    IF unscored > 20 THEN
        unscored_list := unscored_list || format('; and %s more', unscored - 20);
    END IF;
    IF unscored > 0 THEN
        RAISE WARNING 'csm: % of % accounts could not be scored for churn and keep their previous score',
                      unscored, scored + unscored
            USING DETAIL = unscored_list,
                  HINT = 'Correct the account data named above (csm.churn_probability() reports one account); the other accounts were scored.';
    END IF;
    DELETE FROM pg_temp.csm_churn_refresh n WHERE n.problem IS NOT NULL;

    -- Routing rules that read churn apply to the accounts whose band or
    -- whole risk score changed; first scores count as changed.
    IF EXISTS (SELECT 1 FROM @extschema@.routing_rule r
               WHERE r.enabled AND r.condition IS NOT NULL
                 AND @extschema@.condition_attributes(r.condition) && ARRAY['churn_band', 'churn_risk_score']) THEN
        changed := ARRAY(
            SELECT n.account_id FROM pg_temp.csm_churn_refresh n
            LEFT JOIN @extschema@.churn_score c ON c.account_id = n.account_id
            WHERE c.band IS DISTINCT FROM n.band OR floor(c.risk_score) IS DISTINCT FROM floor(n.risk_score));
    END IF;

    -- An upsert rather than a MERGE, which Citus does not run with now().
    INSERT INTO @extschema@.churn_score AS c (account_id, probability, band, risk_score, model, drivers, computed_at, stale_after)
    SELECT n.account_id, n.probability, n.band, n.risk_score, n.model, n.drivers, pg_catalog.now(), churn_stale
    FROM pg_temp.csm_churn_refresh n
    ON CONFLICT ON CONSTRAINT churn_score_pkey DO UPDATE
    SET probability = excluded.probability, band = excluded.band, risk_score = excluded.risk_score,
        model = excluded.model, drivers = excluded.drivers, computed_at = excluded.computed_at,
        stale_after = excluded.stale_after;
    -- The day's history (csm.churn_history, 91_history.sql): the day's last refresh wins.
    INSERT INTO @extschema@.churn_history AS h (account_id, day, probability, churn_band, risk_score, model, computed_at)
    SELECT n.account_id, (pg_catalog.now() AT TIME ZONE 'UTC')::date, n.probability, n.band, n.risk_score, n.model,
           pg_catalog.now()
    FROM pg_temp.csm_churn_refresh n
    ON CONFLICT ON CONSTRAINT churn_history_pkey DO UPDATE
    SET probability = excluded.probability, churn_band = excluded.churn_band, risk_score = excluded.risk_score,
        model = excluded.model, computed_at = excluded.computed_at;
    -- Accounts that are no longer customers keep no score.
    DELETE FROM @extschema@.churn_score c
    WHERE NOT EXISTS (SELECT 1 FROM @extschema@.account a WHERE a.account_id = c.account_id AND a.status = 'active');
    DROP TABLE pg_temp.csm_churn_refresh;

    IF cardinality(changed) > 0 THEN
        PERFORM @extschema@.apply_routing(changed, ARRAY['churn_band', 'churn_risk_score']);
    END IF;
    -- churn_band alerts (86_alert.sql; the signals' were raised with them)
    PERFORM csm_internal._raise_alerts(ARRAY['churn_band']);
    -- Playbooks fired by a churn signal or band (85_playbook.sql), in this transaction.
    PERFORM csm_internal._fire_playbooks(ARRAY['churn_signal', 'churn_band'], NULL, 'refresh_churn');
    -- the segment benchmarks csm.analyze_churn_risk reads (46_benchmark.sql)
    PERFORM csm_internal._keep_churn_benchmark();
    PERFORM csm_internal._run_finished('churn', started, scored);
    RETURN scored;
END $$;
COMMENT ON FUNCTION @extschema@.refresh_churn() IS
    'Detects churn signals (csm.refresh_churn_signals), then scores every active account with the model in use (the active trained model, else the prior) into csm.churn_score and the day''s csm.churn_history row (the day''s last refresh wins); when routing rules read churn_band or churn_risk_score, applies them (csm.apply_routing) to the accounts whose band or whole risk score changed. Returns the accounts scored. One refresh runs at a time (the lock row of churn signals); on Citus it runs on the coordinator (55000 on a worker). An account that cannot be scored (a NaN or infinite feature, or a data exception while computing its features) keeps its previous score and is named in a WARNING; the others are scored. Schedule it with pg_cron.';

-- Training: a snapshot of every customer at the end of as_of, labelled by
-- whether it churned within horizon_days after; a held-out share of the
-- accounts (by a hash of account_id, so the split is the same each time)
-- measures the model on accounts it never saw.
CREATE OR REPLACE FUNCTION @extschema@.train_churn_model(name text, as_of date DEFAULT NULL, horizon_days integer DEFAULT 90,
                                              options jsonb DEFAULT '{}', activate boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    snapshot date := coalesce(as_of, today - horizon_days);
    holdout float8;
    fit_options jsonb;
    means float8[];
    fitted jsonb;
    evaluation jsonb;
    gone_ids bigint[];
    left_out text[];
BEGIN
    PERFORM csm_internal._require('admin');
    PERFORM csm_internal._churn_require_coordinator('csm.train_churn_model()');
    IF name IS NULL OR name !~ '\S' OR name = 'prior' THEN
        RAISE EXCEPTION 'a churn model needs a name other than blank or "prior"' USING ERRCODE = 'invalid_parameter_value',
            HINT = '"prior" is the name of the model used while none is trained.';
    END IF;
    IF horizon_days IS NULL OR horizon_days NOT BETWEEN 1 AND 3650 THEN
        RAISE EXCEPTION 'horizon_days must be between 1 and 3650, not %', coalesce(horizon_days::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF snapshot + horizon_days > today THEN
        RAISE EXCEPTION 'the outcome window of the snapshot ends after today'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Labels need the %s days after the snapshot (%s), up to %s.',
                                  horizon_days, snapshot, snapshot + horizon_days),
                  HINT = 'Pick an as_of at least horizon_days before today, or leave it NULL.';
    END IF;
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    holdout := CASE WHEN jsonb_typeof(options->'holdout') = 'number' THEN (options->>'holdout')::float8 END;
    IF options ? 'holdout' AND (holdout IS NULL OR holdout < 0 OR holdout >= 1) THEN
        RAISE EXCEPTION 'option holdout must be a number from 0 up to, not including, 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    holdout := coalesce(holdout, 0.2);
    fit_options := (options - 'holdout') || jsonb_build_object('feature_names', @extschema@.churn_feature_names());

    IF to_regclass('pg_temp.csm_churn_training') IS NOT NULL THEN
        DROP TABLE pg_temp.csm_churn_training;
    END IF;
    -- In account order, so that the fit and the means add the rows up in
    -- the same order wherever the accounts' data lives (one node or Citus).
    CREATE TEMP TABLE csm_churn_training ON COMMIT DROP AS
    SELECT f.account_id, csm_internal._churn_vector(@extschema@.churn_feature_names(), f.metrics, f.signals) AS features,
           coalesce(a.churned_at < (snapshot + 1 + horizon_days)::timestamp AT TIME ZONE 'UTC', false) AS churned,
           abs(hashint8(f.account_id) % 10000) < holdout * 10000 AS held_out
    FROM @extschema@.churn_features(snapshot) f
    JOIN csm_internal._churn_accounts() a ON a.account_id = f.account_id
    ORDER BY f.account_id;

    -- An account with a NaN or infinite feature (arr = 'NaN', say) would
    -- fail the fit: it is left out, and named.
    WITH gone AS (
        DELETE FROM pg_temp.csm_churn_training t
        WHERE EXISTS (SELECT 1 FROM unnest(t.features) AS u(f) WHERE u.f IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8))
        RETURNING t.account_id)
    SELECT array_agg(g.account_id) INTO gone_ids FROM gone g;
    IF cardinality(gone_ids) > 0 THEN
        left_out := ARRAY(SELECT a.external_id FROM @extschema@.account a
                          WHERE a.account_id = ANY (gone_ids) ORDER BY a.account_id);
    END IF;
    IF cardinality(left_out) > 0 THEN
        RAISE WARNING 'csm: % accounts with a NaN or infinite feature were left out of training', cardinality(left_out)
            USING DETAIL = 'Accounts: ' || array_to_string(left_out[1:20], ', ')
                           || CASE WHEN cardinality(left_out) > 20 THEN format(' and %s more', cardinality(left_out) - 20) ELSE '' END || '.',
                  HINT = 'Correct their data (for example csm.account.arr) and train again.';
    END IF;

    -- Unknown features take their training mean, which the model keeps.
    means := ARRAY(SELECT coalesce(avg(u.f), 0)
                   FROM pg_temp.csm_churn_training t, unnest(t.features) WITH ORDINALITY AS u(f, i)
                   WHERE NOT t.held_out GROUP BY u.i ORDER BY u.i);
    SELECT @extschema@.churn_fit(ARRAY(SELECT coalesce(u.f, means[u.i])
                                       FROM unnest(t.features) WITH ORDINALITY AS u(f, i) ORDER BY u.i),
                                 t.churned, fit_options)
    INTO fitted
    FROM pg_temp.csm_churn_training t WHERE NOT t.held_out;
    IF fitted IS NULL THEN
        RAISE EXCEPTION 'no account was a customer at the end of %', snapshot USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Train on a snapshot date when accounts existed (csm.account.started_at).';
    END IF;

    SELECT jsonb_build_object(
               'as_of', snapshot, 'horizon_days', horizon_days,
               'rows', (SELECT count(*) FROM pg_temp.csm_churn_training),
               'churned', (SELECT count(*) FILTER (WHERE t.churned) FROM pg_temp.csm_churn_training t),
               'train_rows', fitted->'rows', 'holdout_rows', count(*),
               'holdout', @extschema@.churn_evaluate(p.probability, p.churned)
                          || jsonb_build_object('auc', @extschema@.auc(p.probability, p.churned)),
               'majority_accuracy', greatest(avg(p.churned::integer), 1 - avg(p.churned::integer)))
    INTO evaluation
    FROM (SELECT @extschema@.churn_predict(fitted, csm_internal._churn_impute(fitted, t.features)) AS probability, t.churned
          FROM pg_temp.csm_churn_training t WHERE t.held_out) p;
    DROP TABLE pg_temp.csm_churn_training;

    IF activate THEN
        UPDATE @extschema@.churn_model m SET active = false WHERE m.active AND m.name <> train_churn_model.name;
    END IF;
    -- trained_at and trained_by as values: Citus runs no function in DO UPDATE
    INSERT INTO @extschema@.churn_model AS m (name, kind, model, as_of, horizon_days, evaluation, active, trained_at, trained_by)
    VALUES (train_churn_model.name, 'trained', fitted, snapshot, horizon_days, evaluation, activate, now(), CURRENT_USER)
    ON CONFLICT ON CONSTRAINT churn_model_pkey DO UPDATE
    SET kind = excluded.kind, model = excluded.model, as_of = excluded.as_of, horizon_days = excluded.horizon_days,
        evaluation = excluded.evaluation, active = excluded.active, trained_at = excluded.trained_at,
        trained_by = excluded.trained_by;
    RETURN jsonb_build_object('name', train_churn_model.name, 'active', activate,
                              'converged', fitted->'converged', 'iterations', fitted->'iterations')
           || evaluation;
END $$;
COMMENT ON FUNCTION @extschema@.train_churn_model(text, date, integer, jsonb, boolean) IS
    'Trains a churn model and stores it in csm.churn_model: features (csm.churn_features) of every customer at the end of as_of (default: horizon_days before today, UTC), labelled churned when csm.account.churned_at falls within horizon_days after; fitted by csm.churn_fit on all but a held-out share of accounts (options.holdout, default 0.2, split by a hash of account_id), and measured on that share (accuracy, precision, recall, Brier, log-loss, AUC, majority-class accuracy). Accounts with a NaN or infinite feature are left out and named in a WARNING. Other options go to csm.churn_fit (lambda, max_iterations, tolerance). activate makes it the model that scores. Returns the evaluation. Errors: 22023 bad name, horizon, as_of, options, or no customers at as_of; csm.churn_fit''s errors (for example a single class); on Citus, 55000 on a worker.';

-- NULL, with a WARNING, for an account that cannot be scored, so that a
-- query over the portfolio still answers for the others.
CREATE OR REPLACE FUNCTION @extschema@.churn_probability(external_id text) RETURNS float8
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
BEGIN
    SELECT * INTO p FROM csm_internal._churn_prediction(csm_internal._account_id(external_id));
    IF p.problem IS NOT NULL THEN
        RAISE WARNING 'csm: account "%" cannot be scored for churn: %', external_id, p.problem
            USING HINT = 'Correct the account''s data; its churn probability is NULL until then.';
    END IF;
    RETURN p.probability;
END $$;
COMMENT ON FUNCTION @extschema@.churn_probability(text) IS
    'The probability that the account churns within the model''s horizon (90 days for the prior), computed now by the model in use; NULL for an account that has churned, and NULL with a WARNING for one that cannot be scored (a NaN or infinite feature, or a data exception while computing its features). Errors: P0002 unknown account.';

-- The recommended action, from the health band and the churn band together:
-- the more urgent of what each calls for.  Seed 002: red health means
-- immediate intervention, yellow an engagement plan, green nurture for
-- expansion; the churn bands ask for the same from critical down to low,
-- with "monitor closely" for moderate.  A band that is unknown (no score,
-- or too little data for one) leaves the action to the other.
--
--                 churn low      moderate       high           critical
--   health green  nurture        monitor        engagement     intervention
--          yellow engagement     engagement     engagement     intervention
--          red    intervention   intervention   intervention   intervention
--          none   nurture        monitor        engagement     intervention
CREATE OR REPLACE FUNCTION csm_internal._recommended_action(health @extschema@.health_band, churn @extschema@.churn_band)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE greatest(CASE health WHEN 'red' THEN 3 WHEN 'yellow' THEN 2 WHEN 'green' THEN 0 END,
                     CASE churn WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'moderate' THEN 1
                                WHEN 'low' THEN 0 END)
           WHEN 3 THEN 'Immediate intervention: executive outreach, weekly touch points'
           WHEN 2 THEN 'Engagement plan required: recovery call, weekly check-ins'
           WHEN 1 THEN 'Monitor closely: monthly check-ins, address open signals'
           WHEN 0 THEN 'Nurture for expansion: quarterly business reviews' END;
COMMENT ON FUNCTION csm_internal._recommended_action(@extschema@.health_band, @extschema@.churn_band) IS
    'Internal: the recommended action of csm.analyze_churn_risk, the more urgent of what the health band (red: immediate intervention, yellow: engagement plan, green: nurture for expansion) and the churn band (critical: intervention, high: engagement plan, moderate: monitor closely, low: nurture) call for; a NULL or unknown band leaves it to the other; NULL when both are.';

-- The seed's analyze_churn_risk contract, for agents and people alike: the
-- short form, from csm's data alone.  The contract form, with the caller's
-- health signals, history and benchmarks, is in 95_platform/88_contract.sql.
CREATE OR REPLACE FUNCTION @extschema@.analyze_churn_risk(external_id text) RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN @extschema@.analyze_churn_risk(external_id, '{}'::jsonb);
END $$;
COMMENT ON FUNCTION @extschema@.analyze_churn_risk(text) IS
    'The seed''s analyze_churn_risk from csm''s data alone: csm.analyze_churn_risk(external_id, health_signals => ''{}''). A JSON object with customer_id, status, probability, churn_band, churn_risk_score (0-100), the model used, the open signals with their evidence, the top contributing features (coefficient x standardised value, biggest first), health (effective: an override in effect wins), a recommended action (the more urgent of what the health band and the churn band call for; see the README), renewal_likelihood, renewal, expansion_potential, risk_factors, comparison, retention_forecast, and computed_at. For an account that cannot be scored (a NaN or infinite feature, or a data exception while computing its features), probability and band are null and not_scored says why. Probability and band are null for a churned account. Errors: P0002 unknown account.';

-- For BI: today's churn risk per account, riskiest first.
CREATE OR REPLACE VIEW @extschema@.churn_risk WITH (security_invoker = true) AS
SELECT a.account_id, a.external_id, a.name, a.segment, a.arr, a.renewal_date,
       c.probability, c.band, c.risk_score, c.drivers, c.model, c.computed_at,
       -- correlated on churn_score's account_id, so that on Citus it runs with it on the workers
       (SELECT count(*) FROM @extschema@.churn_signal s WHERE s.account_id = c.account_id AND s.cleared_at IS NULL) AS open_signals,
       -- columns new in 0.2.0 come after 0.1.0's (CREATE OR REPLACE VIEW
       -- works over a 0.1.0 install); name and band above are deprecated
       now() - c.computed_at > c.stale_after AS stale,
       now() - c.computed_at AS score_age,
       a.name AS account_name, c.band AS churn_band
FROM @extschema@.churn_score c
JOIN @extschema@.account a ON a.account_id = c.account_id;
COMMENT ON VIEW @extschema@.churn_risk IS
    'Churn risk per active account as of the last csm.refresh_churn: probability, band, risk score (0-100), the features that raised it most, the model, score_age (now() - computed_at), stale (score_age beyond the model''s stale_after, else the csm.stale_after setting read at refresh time: no session setting changes it), and the count of open signals.';
