-- Seed 002's Integration Contracts (issue 14, section 4): assess_health,
-- the contract form of analyze_churn_risk, and the checks they share.  The
-- short form analyze_churn_risk(external_id) lives in 60_churn/74_churn.sql and calls
-- the one here; identify_expansion is in 80_revenue/84_expansion.sql and
-- create_success_plan in 85_playbooks/87_success_plan.sql.
--
-- The rules every contract follows: a required input that is NULL is a
-- 22023 naming it; an optional input that is given changes the answer (and
-- the answer says how); an unknown key or a value out of its range is a
-- 22023 naming it; an unknown customer is P0002.

-- 22023 for a required input that is missing.
CREATE OR REPLACE FUNCTION csm_internal._contract_require(contract text, field text, missing boolean) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF missing THEN
        RAISE EXCEPTION '%: % is required', contract, field
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Seed 002''s input contract lists %s among the required fields of %s.', field, contract);
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._contract_require(text, text, boolean) IS
    'Internal: raises 22023 "<contract>: <field> is required" when missing is true.';

-- A number in a contract's JSON input, checked against its range: 22023
-- naming the JSON path of the element when it is not a number in range.
CREATE OR REPLACE FUNCTION csm_internal._contract_number(path text, v jsonb, low numeric, high numeric) RETURNS float8
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) <> 'number' OR (low IS NOT NULL AND (v #>> '{}')::numeric < low)
       OR (high IS NOT NULL AND (v #>> '{}')::numeric > high) THEN
        RAISE EXCEPTION '% must be a number%', path,
                        CASE WHEN low IS NOT NULL AND high IS NOT NULL THEN format(' from %s to %s', low, high)
                             WHEN low IS NOT NULL THEN format(' >= %s', low) ELSE '' END
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', v);
    END IF;
    RETURN (v #>> '{}')::float8;
END $$;
COMMENT ON FUNCTION csm_internal._contract_number(text, jsonb, numeric, numeric) IS
    'Internal: a JSON number of a contract input as float8 (NULL for a JSON null or a missing key); 22023 naming path when it is not a number between low and high (NULL: unbounded).';

-- 22023 when a contract's JSON input is not an object or has a key it does
-- not know.
CREATE OR REPLACE FUNCTION csm_internal._contract_object(what text, input jsonb, known text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
BEGIN
    IF input IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(input) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object', what
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', input),
                  HINT = format('Its keys are %s.', array_to_string(known, ', '));
    END IF;
    SELECT e.key INTO k FROM jsonb_object_keys(input) AS e(key) WHERE NOT e.key = ANY (known) ORDER BY e.key LIMIT 1;
    IF k IS NOT NULL THEN
        RAISE EXCEPTION '% has no key "%"', what, k
            USING ERRCODE = 'invalid_parameter_value', HINT = format('Its keys are %s.', array_to_string(known, ', '));
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._contract_object(text, jsonb, text[]) IS
    'Internal: raises 22023 unless input is NULL or a JSON object whose keys are all among known.';

-- The playbooks that would fire for an account now, read as
-- csm_internal._fire_playbooks fires them (the same trigger queries,
-- csm_internal._playbook_candidates_sql, for this one account): active, not manual,
-- their trigger holding, the account active (any status for
-- lifecycle_stage), its segment in their segment_filter (NULL: every
-- segment) and their condition (NULL: none) satisfied by its facts
-- (csm.routing_facts).  open_cta and cooling_down say what would keep the
-- next firing from opening a CTA; would_open is neither.
CREATE OR REPLACE FUNCTION csm_internal._playbooks_that_fire(account bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stamp constant timestamptz := now();
    acct record;
    facts jsonb;
    p @extschema@.playbook;
    hit record;
    n bigint;
    open_cta boolean;
    cooling boolean;
    result jsonb := '[]';
BEGIN
    SELECT a.status, a.segment INTO acct FROM @extschema@.account a WHERE a.account_id = account;
    FOR p IN SELECT b.* FROM @extschema@.playbook b
             WHERE b.active AND b.trigger_kind <> 'manual'
               AND (acct.status = 'active' OR b.trigger_kind = 'lifecycle_stage')
               AND (b.segment_filter IS NULL OR acct.segment = ANY (b.segment_filter))
             ORDER BY array_position(ARRAY['urgent', 'high', 'medium', 'low'], b.priority), b.name LOOP
        CONTINUE WHEN csm_internal._playbook_candidates_sql(p.trigger_kind) IS NULL;
        -- the value that fires it: the first, as a firing keeps the first row
        EXECUTE format('SELECT c.value, c.event FROM (%s) c ORDER BY c.value LIMIT 1',
                       csm_internal._playbook_candidates_sql(p.trigger_kind))
            INTO hit USING p.trigger_values, ARRAY[account], stamp, p.cooldown;
        GET DIAGNOSTICS n = ROW_COUNT;
        CONTINUE WHEN n = 0;
        IF p.condition IS NOT NULL THEN
            facts := coalesce(facts, @extschema@.routing_facts(account));
            CONTINUE WHEN NOT coalesce(@extschema@.condition_matches(p.condition, facts), false);
        END IF;
        SELECT coalesce(bool_or(c.status IN ('open', 'in_progress')), false),
               coalesce(bool_or(c.opened_at > stamp - p.cooldown), false)
        INTO open_cta, cooling
        FROM @extschema@.cta c WHERE c.account_id = account AND c.playbook = p.name;
        result := result || jsonb_build_array(jsonb_build_object(
            'source', 'playbook', 'playbook', p.name, 'description', p.description, 'priority', p.priority,
            'trigger_kind', p.trigger_kind, 'trigger_value', hit.value, 'evidence', hit.event,
            'condition', p.condition::text, 'open_cta', open_cta, 'cooling_down', cooling AND NOT open_cta,
            'would_open', NOT (open_cta OR cooling),
            'steps', (SELECT coalesce(jsonb_agg(jsonb_build_object('position', s.position, 'title', s.title,
                                                                   'due_after', s.due_after, 'assignee_role', s.assignee_role)
                                                ORDER BY s.position), '[]')
                      FROM @extschema@.playbook_step s WHERE s.playbook = p.name)));
    END LOOP;
    RETURN result;
END $$;
COMMENT ON FUNCTION csm_internal._playbooks_that_fire(bigint) IS
    'Internal: the active playbooks (not manual) whose trigger holds for the account now, read by the queries csm.run_playbooks fires with (csm_internal._playbook_candidates_sql, every trigger kind including alert), whose segment_filter admits the account''s segment and whose condition its facts (csm.routing_facts) satisfy, the account being active (any status for lifecycle_stage), as a JSON array of {source, playbook, description, priority, trigger_kind, trigger_value, evidence, condition, open_cta, cooling_down, would_open, steps}, most urgent first. would_open: the next firing opens a CTA of it (none open, none opened within its cooldown).';

-- assess_health ---------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.assess_health(customer_id text, time_period daterange, segment text DEFAULT NULL,
                                          metrics_focus text[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    acct record;
    today date := (now() AT TIME ZONE 'UTC')::date;
    res @extschema@.health_result;
    computed_at timestamptz;
    source text := 'refresh';
    ov record;
    eff_score float8;
    eff_band @extschema@.health_band;
    bad text;
    peers text;
    first_day date;
    last_day date;
    components jsonb;
    focus jsonb;
    signals jsonb;
    recommendations jsonb;
    days jsonb;
    summary jsonb;
    benchmark jsonb;
BEGIN
    PERFORM csm_internal._contract_require('assess_health', 'customer_id', customer_id IS NULL);
    PERFORM csm_internal._contract_require('assess_health', 'time_period', time_period IS NULL);
    IF isempty(time_period) THEN
        RAISE EXCEPTION 'assess_health: time_period is empty'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a range of days such as daterange(current_date - 30, current_date, ''[]'').';
    END IF;
    IF metrics_focus IS NOT NULL AND (cardinality(metrics_focus) = 0 OR array_position(metrics_focus, NULL) IS NOT NULL) THEN
        RAISE EXCEPTION 'assess_health: metrics_focus must name at least one metric, and no NULL'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Leave it NULL to see every metric.';
    END IF;
    IF segment IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.segment s WHERE s.name = assess_health.segment) THEN
        RAISE EXCEPTION 'assess_health: segment "%" does not exist', segment
            USING ERRCODE = 'invalid_parameter_value', HINT = 'See csm.segment for the segments.';
    END IF;
    id := csm_internal._account_id(customer_id);
    SELECT a.status, a.segment, a.plan INTO acct FROM @extschema@.account a WHERE a.account_id = id;

    -- The components: those of the last refresh, else scored live now.
    SELECT h.model, h.model_version, h.score, h.band, h.coverage, h.metrics, h.metric_values, h.component_scores,
           h.component_weights, h.computed_at
    INTO res.model, res.model_version, res.score, res.band, res.coverage, res.metrics, res.metric_values,
         res.component_scores, res.component_weights, computed_at
    FROM @extschema@.health_score h WHERE h.account_id = id;
    IF NOT FOUND THEN
        PERFORM csm_internal._health_live_check('assess_health');
        SELECT (@extschema@.csm_health_evaluate_row(m, @extschema@.health_model_for(a.segment, a.plan))).* INTO res
        FROM @extschema@.account_metrics_at(today, id) m
        JOIN @extschema@.account a ON a.account_id = m.account_id;
        computed_at := now();
        source := 'live';
    END IF;
    IF metrics_focus IS NOT NULL THEN
        SELECT f.m INTO bad FROM unnest(metrics_focus) AS f(m) WHERE NOT f.m = ANY (res.metrics) LIMIT 1;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'assess_health: metrics_focus names "%", which health model "%" does not score', bad, res.model
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Its metrics are %s.', array_to_string(res.metrics, ', '));
        END IF;
    END IF;

    -- The effective score: an override in effect wins, as in csm.account_health.
    SELECT o.score, o.reason, o.expires_at INTO ov
    FROM @extschema@.health_override o
    WHERE o.account_id = id AND o.cleared_at IS NULL AND (o.expires_at IS NULL OR o.expires_at > now())
    ORDER BY o.override_id DESC LIMIT 1;
    IF ov.score IS NOT NULL THEN
        eff_score := ov.score;
        eff_band := @extschema@.health_band(ov.score);
    ELSE
        eff_score := res.score;
        eff_band := res.band;
    END IF;

    -- Risk factors: the components that cost points (worst first), then the
    -- open churn signals.
    SELECT coalesce(jsonb_agg(jsonb_build_object('kind', 'component', 'metric', c.metric, 'label', hc.label,
                                                 'value', c.value, 'zone', c.zone, 'score', round(c.score::numeric, 1),
                                                 'points_lost', round(c.points_lost::numeric, 2))
                              ORDER BY c.points_lost DESC, c.metric) FILTER (WHERE c.points_lost > 0), '[]'),
           CASE WHEN metrics_focus IS NOT NULL THEN
               coalesce(jsonb_agg(jsonb_build_object('metric', c.metric, 'label', hc.label, 'value', c.value,
                                                     'zone', c.zone, 'score', round(c.score::numeric, 1),
                                                     'weight', round(c.weight::numeric, 4),
                                                     'points_lost', round(c.points_lost::numeric, 2))
                                  ORDER BY array_position(metrics_focus, c.metric)), '[]') END
    INTO components, focus
    FROM @extschema@.health_components(res.metrics, res.metric_values, res.component_scores, res.component_weights) c
    LEFT JOIN @extschema@.health_component hc ON hc.model = res.model AND hc.metric = c.metric
    WHERE metrics_focus IS NULL OR c.metric = ANY (metrics_focus);
    SELECT coalesce(jsonb_agg(jsonb_build_object('kind', 'churn_signal', 'signal', s.signal, 'strength', k.strength,
                                                 'description', k.description, 'evidence', s.evidence,
                                                 'first_seen_at', s.first_seen_at)
                              ORDER BY array_position(ARRAY['strong', 'moderate', 'early'], k.strength), s.signal), '[]')
    INTO signals
    FROM @extschema@.churn_signal s JOIN @extschema@.churn_signal_kind k ON k.signal = s.signal
    WHERE s.account_id = id AND s.cleared_at IS NULL;

    -- Recommendations: the band's action, then the playbooks that would fire.
    SELECT jsonb_build_array(jsonb_build_object('source', 'health_band', 'band', i.band, 'action', i.action,
                                                'cadence', i.cadence))
    INTO recommendations
    FROM @extschema@.health_band_info i WHERE i.band = coalesce(eff_band, 'unknown');
    recommendations := coalesce(recommendations, '[]') || csm_internal._playbooks_that_fire(id);

    -- Trends: the daily history over time_period (up to today).
    first_day := lower(time_period);
    last_day := least(CASE WHEN upper_inf(time_period) THEN today ELSE upper(time_period) - 1 END, today);
    SELECT coalesce(jsonb_agg(jsonb_build_object('day', hh.day, 'score', round(hh.score::numeric, 1), 'band', hh.band)
                              ORDER BY hh.day), '[]'),
           jsonb_build_object(
               'from', coalesce(first_day, min(hh.day)), 'to', last_day, 'days_scored', count(hh.score),
               'first_score', round((array_agg(hh.score ORDER BY hh.day) FILTER (WHERE hh.score IS NOT NULL))[1]::numeric, 1),
               'last_score', round((array_agg(hh.score ORDER BY hh.day DESC) FILTER (WHERE hh.score IS NOT NULL))[1]::numeric, 1),
               'change', round(((array_agg(hh.score ORDER BY hh.day DESC) FILTER (WHERE hh.score IS NOT NULL))[1]
                                - (array_agg(hh.score ORDER BY hh.day) FILTER (WHERE hh.score IS NOT NULL))[1])::numeric, 1),
               'min', round(min(hh.score)::numeric, 1), 'max', round(max(hh.score)::numeric, 1),
               'average', round(avg(hh.score)::numeric, 1),
               'sparkline', @extschema@.sparkline(array_agg(hh.score ORDER BY hh.day)))
    INTO days, summary
    FROM @extschema@.health_history hh
    WHERE hh.account_id = id AND (first_day IS NULL OR hh.day >= first_day) AND hh.day <= last_day;
    summary := summary || jsonb_build_object('direction',
        CASE WHEN (summary ->> 'change')::numeric > 2 THEN 'up'
             WHEN (summary ->> 'change')::numeric < -2 THEN 'down'
             WHEN summary ->> 'change' IS NOT NULL THEN 'flat' END);

    -- The benchmark: the computed scores of the active accounts of the
    -- segment asked for, else of the account's own.
    peers := coalesce(segment, acct.segment);
    -- (csm_internal._health_benchmark: kept by csm.refresh_health, 46_benchmark.sql)
    SELECT jsonb_build_object('segment', peers, 'accounts', b.accounts,
                              'average_score', round(b.average_score::numeric, 1),
                              'share_red', round(b.share_red, 4),
                              'share_below', round(b.share_below, 4),
                              'difference', round((eff_score - b.average_score)::numeric, 1))
    INTO benchmark
    FROM csm_internal._health_benchmark(peers, eff_score) b;

    RETURN jsonb_build_object(
        'customer_id', customer_id,
        'status', acct.status,
        'segment', acct.segment,
        'time_period', jsonb_build_object('from', first_day, 'to', last_day),
        'health_score', round(eff_score::numeric, 1),
        'band', eff_band,
        'computed', jsonb_build_object('score', round(res.score::numeric, 1), 'band', res.band,
                                       'coverage', round(res.coverage::numeric, 4), 'model', res.model,
                                       'model_version', res.model_version, 'source', source,
                                       'missing_metrics', to_jsonb(ARRAY(SELECT u.m FROM unnest(res.metrics, res.metric_values) AS u(m, v)
                                                                         WHERE u.v IS NULL ORDER BY u.m)),
                                       'computed_at', computed_at),
        'override', CASE WHEN ov.score IS NOT NULL
                         THEN jsonb_build_object('score', ov.score, 'reason', ov.reason, 'expires_at', ov.expires_at) END,
        'risk_factors', components || signals,
        'recommendations', recommendations,
        'trends', jsonb_build_object('summary', summary, 'daily', days),
        'benchmark', benchmark,
        'computed_at', now())
        || CASE WHEN focus IS NOT NULL THEN jsonb_build_object('metrics_focus', focus) ELSE '{}' END;
END $$;
COMMENT ON FUNCTION @extschema@.assess_health(text, daterange, text, text[]) IS
    'Seed 002''s assess_health contract (its health_report): a JSON object with customer_id, status, segment, time_period, health_score and band (effective: an override in effect wins), computed (the computed score, band, coverage, model, the metrics with no value, and source: refresh when csm.refresh_health has scored the account, else live), override, risk_factors (the components that cost points, worst first, then the open churn signals), recommendations (the band''s action and cadence, then the playbooks that would fire now with their steps and whether a CTA is open), trends (summary: first, last, change, direction up/down beyond 2 points, min, max, average, sparkline; daily: the csm.health_history days within time_period up to today), benchmark (the computed scores of the active accounts of segment, else of the account''s own: accounts, average, share red, share scoring below this account, difference) and computed_at. metrics_focus limits the component risk factors to the metrics named and adds metrics_focus, their detail in that order. Errors: 22023 customer_id or time_period NULL, time_period empty, metrics_focus empty or naming a NULL or a metric the account''s health model does not score, segment unknown; P0002 unknown customer.';

-- analyze_churn_risk, the contract form ------------------------------------------------

-- The health signals a caller may pass: the churn metrics that describe
-- health (not ARR or tenure), a health score, and churn signals it sees.
CREATE OR REPLACE FUNCTION csm_internal._churn_health_signal_names() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT ARRAY['dau_ratio', 'features_adopted', 'days_since_last_activity', 'usage_trend', 'tickets_per_month',
                 'nps', 'days_to_renewal', 'health_score', 'signals'];
END;
COMMENT ON FUNCTION csm_internal._churn_health_signal_names() IS
    'Internal: the keys of analyze_churn_risk''s health_signals: seven churn metrics (csm.churn_metric_names() without log_arr and tenure_days), health_score and signals.';

CREATE OR REPLACE FUNCTION @extschema@.analyze_churn_risk(customer_id text, health_signals jsonb, historical_data jsonb DEFAULT NULL,
                                               segment_benchmarks jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    acct record;
    today date := (now() AT TIME ZONE 'UTC')::date;
    m record := csm_internal._churn_model_in_use();
    names text[];
    metric_names text[] := @extschema@.churn_metric_names();
    p record;
    probability float8;
    baseline_probability float8;
    features float8[];
    metrics float8[];
    open_signals text[];
    given_signals text[] := '{}';
    k text;
    v float8;
    applied jsonb := '{}';
    churn @extschema@.churn_band;
    health jsonb;
    health_score float8;
    health_band @extschema@.health_band;
    hist jsonb;
    seg jsonb;
    renewal jsonb;
    expansion jsonb;
    signals jsonb;
    drivers jsonb;
    risk_factors jsonb;
    horizon integer;
    likelihood float8;
    baseline_health float8;
    hist_scores float8[];
    seg_probability float8;
    seg_health float8;
    seg_accounts bigint;
    bad_value jsonb;
    open_renewal record;
BEGIN
    PERFORM csm_internal._contract_require('analyze_churn_risk', 'customer_id', customer_id IS NULL);
    PERFORM csm_internal._contract_require('analyze_churn_risk', 'health_signals', health_signals IS NULL);

    -- Inputs ------------------------------------------------------------------------
    PERFORM csm_internal._contract_object('health_signals', health_signals, csm_internal._churn_health_signal_names());
    FOREACH k IN ARRAY metric_names[1:7] LOOP
        PERFORM csm_internal._contract_number('health_signals.' || k, health_signals -> k,
                                             CASE WHEN k <> 'days_to_renewal' THEN 0 END, CASE WHEN k = 'nps' THEN 10 END);
    END LOOP;
    PERFORM csm_internal._contract_number('health_signals.health_score', health_signals -> 'health_score', 0, 100);
    IF health_signals ? 'signals' THEN
        IF jsonb_typeof(health_signals -> 'signals') <> 'array' THEN
            RAISE EXCEPTION 'health_signals.signals must be a JSON array of churn signal kinds'
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', health_signals -> 'signals');
        END IF;
        SELECT format('health_signals.signals[%s]', e.i - 1), e.s INTO k, bad_value
        FROM jsonb_array_elements(health_signals -> 'signals') WITH ORDINALITY AS e(s, i)
        WHERE jsonb_typeof(e.s) <> 'string'
           OR NOT EXISTS (SELECT 1 FROM @extschema@.churn_signal_kind ck WHERE ck.signal = e.s #>> '{}')
        ORDER BY e.i LIMIT 1;
        IF k IS NOT NULL THEN
            RAISE EXCEPTION '% is not a churn signal kind', k
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', bad_value),
                      HINT = 'See csm.churn_signal_kind for the kinds.';
        END IF;
        given_signals := ARRAY(SELECT DISTINCT e.s FROM jsonb_array_elements_text(health_signals -> 'signals') AS e(s) ORDER BY 1);
    END IF;
    PERFORM csm_internal._contract_object('historical_data', historical_data, ARRAY['health_scores', 'churn_probability']);
    IF historical_data ? 'health_scores' THEN
        IF jsonb_typeof(historical_data -> 'health_scores') <> 'array' OR jsonb_array_length(historical_data -> 'health_scores') = 0 THEN
            RAISE EXCEPTION 'historical_data.health_scores must be a non-empty JSON array of scores, oldest first'
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', historical_data -> 'health_scores');
        END IF;
        hist_scores := ARRAY(SELECT csm_internal._contract_number(format('historical_data.health_scores[%s]', e.i - 1), e.s, 0, 100)
                             FROM jsonb_array_elements(historical_data -> 'health_scores') WITH ORDINALITY AS e(s, i)
                             ORDER BY e.i);
    END IF;
    baseline_probability := csm_internal._contract_number('historical_data.churn_probability',
                                                         historical_data -> 'churn_probability', 0, 1);
    PERFORM csm_internal._contract_object('segment_benchmarks', segment_benchmarks, ARRAY['churn_probability', 'health_score']);
    seg_probability := csm_internal._contract_number('segment_benchmarks.churn_probability',
                                                    segment_benchmarks -> 'churn_probability', 0, 1);
    seg_health := csm_internal._contract_number('segment_benchmarks.health_score', segment_benchmarks -> 'health_score', 0, 100);

    id := csm_internal._account_id(customer_id);
    SELECT a.status, a.segment, a.arr, a.renewal_date INTO acct FROM @extschema@.account a WHERE a.account_id = id;
    horizon := coalesce((SELECT cm.horizon_days FROM @extschema@.churn_model cm WHERE cm.active), 90);

    -- The prediction from csm's data, then with what the caller knows --------------
    SELECT * INTO p FROM csm_internal._churn_prediction(id);
    probability := p.probability;
    features := p.features;
    IF p.account_id IS NOT NULL AND p.problem IS NULL
       AND (health_signals - 'health_score') <> '{}'::jsonb THEN
        names := ARRAY(SELECT jsonb_array_elements_text(m.model -> 'feature_names'));
        SELECT c.metrics INTO metrics FROM @extschema@.churn_metrics_at(today, id) c;
        FOR i IN 1 .. 7 LOOP
            k := metric_names[i];
            IF health_signals ? k THEN
                v := csm_internal._contract_number('health_signals.' || k, health_signals -> k, NULL, NULL);
                -- the caps of csm.churn_metrics_at
                metrics[i] := CASE k WHEN 'days_since_last_activity' THEN least(v, 90)
                                     WHEN 'usage_trend' THEN least(v, 3)
                                     WHEN 'days_to_renewal' THEN
                                         CASE WHEN v > 365 THEN least(v - 365 * ceil((v - 365) / 365.0), 400)
                                              WHEN v < -30 THEN -30 ELSE v END
                                     ELSE v END;
                applied := applied || jsonb_build_object(k, health_signals -> k);
            END IF;
        END LOOP;
        open_signals := ARRAY(SELECT u.s FROM csm_internal._churn_open_signals(NULL, false, id) o, unnest(o.signals) AS u(s)
                              UNION SELECT unnest(given_signals) ORDER BY 1);
        IF cardinality(given_signals) > 0 THEN
            applied := applied || jsonb_build_object('signals', to_jsonb(given_signals));
        END IF;
        features := csm_internal._churn_impute(m.model, csm_internal._churn_vector(names, metrics, open_signals));
        IF NOT EXISTS (SELECT 1 FROM unnest(features) AS u(f) WHERE u.f IS NULL OR u.f IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)) THEN
            probability := @extschema@.churn_predict(m.model, features);
        END IF;
    END IF;
    churn := @extschema@.churn_band(probability);
    likelihood := 1 - probability;

    -- Health: the effective score, or the caller's.
    -- each a statement of its own, reading one distributed table by the id
    SELECT h.score, h.band INTO health_score, health_band FROM @extschema@.health_score h WHERE h.account_id = id;
    SELECT ov.score INTO v FROM @extschema@.health_override ov
    WHERE ov.account_id = id AND ov.cleared_at IS NULL AND (ov.expires_at IS NULL OR ov.expires_at > now())
    ORDER BY ov.override_id DESC LIMIT 1;
    IF v IS NOT NULL THEN
        health_score := v;
        health_band := @extschema@.health_band(v);
    END IF;
    health := CASE WHEN health_score IS NOT NULL OR health_band IS NOT NULL
                   THEN jsonb_build_object('score', health_score, 'band', health_band, 'source', 'csm') END;
    IF health_signals ? 'health_score' AND jsonb_typeof(health_signals -> 'health_score') = 'number' THEN
        health_score := (health_signals ->> 'health_score')::float8;
        health_band := @extschema@.health_band(health_score);
        health := jsonb_build_object('score', health_score, 'band', health_band, 'source', 'health_signals');
        applied := applied || jsonb_build_object('health_score', health_signals -> 'health_score');
    END IF;

    -- Comparisons -------------------------------------------------------------------
    -- history: csm's health history 30 days back, or the caller's scores
    IF hist_scores IS NOT NULL THEN
        SELECT avg(u.s) INTO baseline_health FROM unnest(hist_scores) AS u(s);
    ELSE
        SELECT hh.score INTO baseline_health FROM @extschema@.health_history hh
        WHERE hh.account_id = id AND hh.day <= today - 30 ORDER BY hh.day DESC LIMIT 1;
    END IF;
    hist := jsonb_build_object(
        'source', CASE WHEN historical_data IS NOT NULL THEN 'historical_data' ELSE 'csm' END,
        'baseline_health_score', round(baseline_health::numeric, 1),
        'health_change', round((health_score - baseline_health)::numeric, 1),
        'baseline_probability', baseline_probability,
        'probability_change', round((probability - baseline_probability)::numeric, 4),
        'direction', CASE WHEN probability - baseline_probability > 0.05 OR health_score - baseline_health < -5 THEN 'worsening'
                          WHEN probability - baseline_probability < -0.05 OR health_score - baseline_health > 5 THEN 'improving'
                          WHEN baseline_probability IS NOT NULL OR baseline_health IS NOT NULL THEN 'stable' END);
    -- segment: the active accounts of its segment, or the caller's benchmarks
    IF seg_probability IS NULL OR seg_health IS NULL THEN
        -- (csm_internal._churn_benchmark: kept by the refreshes, 46_benchmark.sql)
        SELECT b.accounts, coalesce(seg_probability, b.average_probability), coalesce(seg_health, b.average_score)
        INTO seg_accounts, seg_probability, seg_health
        FROM csm_internal._churn_benchmark(acct.segment) b;
    END IF;
    seg := jsonb_build_object(
        'segment', acct.segment,
        'source', CASE WHEN segment_benchmarks IS NOT NULL THEN 'segment_benchmarks' ELSE 'csm' END,
        'accounts', seg_accounts,
        'benchmark_probability', round(seg_probability::numeric, 4),
        'benchmark_health_score', round(seg_health::numeric, 1),
        'relative_risk', round((probability / nullif(seg_probability, 0))::numeric, 2),
        'health_vs_benchmark', round((health_score - seg_health)::numeric, 1),
        'position', CASE WHEN probability > seg_probability * 1.1 THEN 'above'
                         WHEN probability < seg_probability * 0.9 THEN 'below'
                         WHEN probability IS NOT NULL AND seg_probability IS NOT NULL THEN 'in_line' END);

    -- Renewal: the open renewal (or the account's date), forecast as
    -- csm.refresh_renewals does: ARR x (1 - churn probability).
    SELECT rn.renewal_date, rn.stage, rn.target_arr INTO open_renewal
    FROM @extschema@.renewal rn WHERE rn.account_id = id AND rn.closed_at IS NULL;
    IF open_renewal.renewal_date IS NOT NULL OR acct.renewal_date IS NOT NULL THEN
        renewal := jsonb_build_object(
            'renewal_date', coalesce(open_renewal.renewal_date, acct.renewal_date),
            'days_to_renewal', coalesce(open_renewal.renewal_date, acct.renewal_date) - today,
            'stage', coalesce(open_renewal.stage, CASE WHEN acct.renewal_date - today <= 90
                                                       THEN @extschema@.renewal_stage(acct.renewal_date - today) END),
            'target_arr', coalesce(open_renewal.target_arr, acct.arr),
            'forecast_arr', round(coalesce(open_renewal.target_arr, acct.arr) * likelihood::numeric, 2));
    END IF;

    -- Expansion: identify_expansion's answer, from csm's own data.
    BEGIN
        SELECT e -> 'expansion_potential'
               || jsonb_build_object('signals', coalesce(jsonb_path_query_array(e, '$.signals[*].signal'), '[]'))
        INTO expansion
        FROM @extschema@.identify_expansion(customer_id) AS e;
    EXCEPTION WHEN data_exception THEN
        expansion := jsonb_build_object('not_computed', SQLERRM);
    END;

    -- Risk factors: open signals, the model features that raise the risk,
    -- the health band, and what the comparisons show.
    SELECT coalesce(jsonb_agg(jsonb_build_object('kind', 'churn_signal', 'signal', x.signal, 'strength', k2.strength,
                                                 'description', k2.description, 'evidence', x.evidence,
                                                 'first_seen_at', x.first_seen_at, 'source', x.source)
                              ORDER BY array_position(ARRAY['strong', 'moderate', 'early'], k2.strength), x.signal), '[]')
    INTO signals
    FROM (SELECT s.signal, s.evidence, s.first_seen_at, 'csm' AS source
          FROM @extschema@.churn_signal s WHERE s.account_id = id AND s.cleared_at IS NULL
          UNION ALL
          SELECT g.s, NULL, NULL, 'health_signals' FROM unnest(given_signals) AS g(s)
          WHERE NOT EXISTS (SELECT 1 FROM @extschema@.churn_signal s
                            WHERE s.account_id = id AND s.cleared_at IS NULL AND s.signal = g.s)) x
    JOIN @extschema@.churn_signal_kind k2 ON k2.signal = x.signal;
    SELECT coalesce(jsonb_agg(jsonb_build_object('feature', d.feature, 'value', d.value, 'contribution', d.contribution)), '[]')
    INTO drivers
    FROM csm_internal._churn_drivers(m.model, features, 5) d
    WHERE p.problem IS NULL AND p.account_id IS NOT NULL;
    risk_factors := signals
        || coalesce((SELECT jsonb_agg(jsonb_build_object('kind', 'model_feature') || d.value)
                     FROM jsonb_array_elements(drivers) AS d(value)
                     WHERE NOT EXISTS (SELECT 1 FROM @extschema@.churn_signal_kind ck WHERE ck.signal = d.value ->> 'feature')), '[]')
        || CASE WHEN health_band IN ('red', 'yellow')
                THEN jsonb_build_array(jsonb_build_object('kind', 'health', 'score', round(health_score::numeric, 1),
                                                          'band', health_band, 'source', health ->> 'source'))
                ELSE '[]' END
        || CASE WHEN seg ->> 'position' = 'above'
                THEN jsonb_build_array(jsonb_build_object('kind', 'above_segment_benchmark',
                                                          'relative_risk', seg -> 'relative_risk', 'source', seg ->> 'source'))
                ELSE '[]' END
        || CASE WHEN hist ->> 'direction' = 'worsening'
                THEN jsonb_build_array(jsonb_build_object('kind', 'worsening_since_baseline',
                                                          'health_change', hist -> 'health_change',
                                                          'probability_change', hist -> 'probability_change',
                                                          'source', hist ->> 'source'))
                ELSE '[]' END;

    RETURN jsonb_build_object(
        'customer_id', customer_id,
        'status', acct.status,
        'probability', probability,
        'churn_band', churn,
        'churn_risk_score', probability * 100,
        'model', jsonb_build_object('name', m.name, 'kind', m.kind, 'trained_at', m.trained_at, 'horizon_days', horizon),
        'signals', (SELECT coalesce(jsonb_agg(e - 'kind' - 'source'), '[]') FROM jsonb_array_elements(signals) AS e
                    WHERE e ->> 'source' = 'csm'),
        'top_features', drivers,
        'health', health,
        'recommended_action', CASE WHEN p.account_id IS NOT NULL
                                   THEN csm_internal._recommended_action(health_band, churn) END,
        'renewal_likelihood', round(likelihood::numeric, 4),
        'renewal', renewal,
        'expansion_potential', expansion,
        'risk_factors', risk_factors,
        'comparison', jsonb_build_object('history', hist, 'segment', seg),
        'retention_forecast', jsonb_build_object('renewal_likelihood', round(likelihood::numeric, 4),
                                                 'churn_probability', probability, 'horizon_days', horizon,
                                                 'risk_factors', risk_factors, 'expansion_potential', expansion),
        'computed_at', now())
        || CASE WHEN applied <> '{}'::jsonb
                THEN jsonb_build_object('health_signals_applied', applied, 'csm_probability', p.probability) ELSE '{}' END
        -- an account that cannot be scored says why
        || CASE WHEN p.problem IS NOT NULL THEN jsonb_build_object('not_scored', p.problem) ELSE '{}' END;
END $$;
COMMENT ON FUNCTION @extschema@.analyze_churn_risk(text, jsonb, jsonb, jsonb) IS
    'Seed 002''s analyze_churn_risk contract (its retention_forecast): everything csm.analyze_churn_risk(external_id) returns, and renewal_likelihood (1 - probability, as csm.refresh_renewals forecasts: forecast_arr = ARR x (1 - probability)), renewal (date, days, stage, target and forecast ARR), expansion_potential (csm.identify_expansion''s, with the signal names), risk_factors (open churn signals, the model features that raise the risk, a red or yellow health band, being above the segment benchmark, worsening since the baseline), comparison (history and segment), and retention_forecast {renewal_likelihood, churn_probability, horizon_days, risk_factors, expansion_potential}. health_signals (required; {} adds nothing) is what the caller knows beyond csm''s data: dau_ratio, features_adopted, days_since_last_activity, usage_trend, tickets_per_month, nps, days_to_renewal (read by a trained model, capped as csm.churn_metrics_at caps them), signals (churn signal kinds seen open, read by every model), health_score (replaces the effective health score); the answer names what it applied and csm''s own probability. historical_data {health_scores: [oldest first], churn_probability} replaces the history baseline (default: csm.health_history 30 days back); segment_benchmarks {churn_probability, health_score} replaces the segment''s averages (default: the active accounts of the account''s segment). Errors: 22023 customer_id or health_signals NULL, an input that is not a JSON object, an unknown key, a value out of range (named by its JSON path), an unknown signal kind; P0002 unknown customer.';
