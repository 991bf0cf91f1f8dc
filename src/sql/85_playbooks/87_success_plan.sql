
-- Metrics -------------------------------------------------------------------------

-- The metrics csm measures, by name, for one account now.
CREATE OR REPLACE FUNCTION csm_internal._success_metric_values(account bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record;
    result jsonb;
BEGIN
    -- Each a statement of its own: on Citus each reads one account's rows.
    SELECT * INTO m FROM @extschema@.account_metrics_at((now() AT TIME ZONE 'UTC')::date, account);
    result := jsonb_build_object('dau_ratio', m.dau_ratio, 'features_adopted', m.features_adopted,
                                 'days_since_last_activity', m.days_since_last_activity,
                                 'usage_trend', m.usage_trend, 'tickets_per_month', m.tickets_per_month,
                                 'nps', m.nps, 'days_to_renewal', m.days_to_renewal);
    result := result || coalesce((SELECT jsonb_build_object('health_score', h.score)
                                  FROM @extschema@.health_score h WHERE h.account_id = account), '{}');
    result := result || coalesce((SELECT jsonb_build_object('health_score', o.score)
                                  FROM @extschema@.health_override o
                                  WHERE o.account_id = account AND o.cleared_at IS NULL
                                    AND (o.expires_at IS NULL OR o.expires_at > now())
                                  ORDER BY o.created_at DESC, o.override_id DESC LIMIT 1), '{}');
    result := result || (SELECT jsonb_build_object('arr', a.arr, 'seats', a.seats)
                         FROM @extschema@.account a WHERE a.account_id = account);
    RETURN jsonb_strip_nulls(result);
END $$;
COMMENT ON FUNCTION csm_internal._success_metric_values(bigint) IS
    'Internal: the metrics csm measures for the account now, by name: health_score (the effective score), dau_ratio, features_adopted, days_since_last_activity, usage_trend, tickets_per_month, nps, days_to_renewal (csm.account_metrics), arr and seats; a metric without a value is absent.';

CREATE OR REPLACE FUNCTION @extschema@.success_metric_names() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['health_score', 'dau_ratio', 'features_adopted', 'days_since_last_activity', 'usage_trend',
             'tickets_per_month', 'nps', 'days_to_renewal', 'arr', 'seats'];
COMMENT ON FUNCTION @extschema@.success_metric_names() IS
    'The metrics csm measures and a success plan reads live: health_score, dau_ratio, features_adopted, days_since_last_activity, usage_trend, tickets_per_month, nps, days_to_renewal, arr, seats. Any other metric name is the customer''s own.';

-- Progress from baseline to target, 0 to 1: (current - baseline) /
-- (target - baseline), or current / target without a baseline.
CREATE OR REPLACE FUNCTION @extschema@.success_progress(current_value numeric, baseline numeric, target numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN current_value IS NOT NULL AND target IS NOT NULL THEN round(greatest(0, least(1,
    CASE WHEN baseline IS NOT NULL AND target <> baseline THEN (current_value - baseline) / (target - baseline)
         WHEN baseline IS NULL AND target > 0 THEN current_value / target
         WHEN target = baseline THEN CASE WHEN current_value >= target THEN 1 ELSE 0 END END)), 4) END;
COMMENT ON FUNCTION @extschema@.success_progress(numeric, numeric, numeric) IS
    'Progress of a metric from its baseline to its target, clamped to 0-1: (current - baseline) / (target - baseline) (a target below the baseline: lower is better); without a baseline, current / target for a positive target; NULL when current or target is NULL.';

-- Input validation ------------------------------------------------------------------

CREATE OR REPLACE FUNCTION csm_internal._plan_error(path text, problem text, given jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '%: %', path, problem
        USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', coalesce(given::text, 'nothing')),
              HINT = 'See the README, "Success plans", for the input''s shape.';
END $$;
COMMENT ON FUNCTION csm_internal._plan_error(text, text, jsonb) IS
    'Internal: raises 22023 naming the JSON path of the bad element of a success plan''s input.';

CREATE OR REPLACE FUNCTION csm_internal._plan_keys(path text, item jsonb, known text[], required text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
BEGIN
    IF jsonb_typeof(item) IS DISTINCT FROM 'object' THEN
        PERFORM csm_internal._plan_error(path, 'must be a JSON object', item);
    END IF;
    FOR k IN SELECT jsonb_object_keys(item) LOOP
        IF NOT k = ANY (known) THEN
            PERFORM csm_internal._plan_error(path || '.' || k, format('unknown key (the keys are %s)', array_to_string(known, ', ')), item -> k);
        END IF;
    END LOOP;
    FOREACH k IN ARRAY required LOOP
        IF item -> k IS NULL OR item -> k = 'null' THEN
            PERFORM csm_internal._plan_error(path || '.' || k, 'is required', NULL);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION csm_internal._plan_keys(text, jsonb, text[], text[]) IS
    'Internal: raises 22023 with the path unless item is a JSON object whose keys are among known and which has every required key.';

-- A typed value of an input element, or 22023 with its path.
CREATE OR REPLACE FUNCTION csm_internal._plan_text(path text, v jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF v IS NULL OR v = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) <> 'string' OR v #>> '{}' !~ '\S' THEN
        PERFORM csm_internal._plan_error(path, 'must be a non-blank string', v);
    END IF;
    RETURN v #>> '{}';
END $$;
COMMENT ON FUNCTION csm_internal._plan_text(text, jsonb) IS 'Internal: a JSON string input element as text (NULL for none); 22023 with the path otherwise.';

CREATE OR REPLACE FUNCTION csm_internal._plan_number(path text, v jsonb) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF v IS NULL OR v = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) <> 'number' THEN
        PERFORM csm_internal._plan_error(path, 'must be a number', v);
    END IF;
    RETURN (v #>> '{}')::numeric;
END $$;
COMMENT ON FUNCTION csm_internal._plan_number(text, jsonb) IS 'Internal: a JSON number input element as numeric (NULL for none); 22023 with the path otherwise.';

CREATE OR REPLACE FUNCTION csm_internal._plan_date(path text, v jsonb) RETURNS date
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d date;
BEGIN
    IF v IS NULL OR v = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) = 'string' AND v #>> '{}' ~ '^\d{4}-\d{2}-\d{2}$' THEN
        BEGIN
            d := (v #>> '{}')::date;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            d := NULL;
        END;
    END IF;
    IF d IS NULL THEN
        PERFORM csm_internal._plan_error(path, 'must be a date, YYYY-MM-DD', v);
    END IF;
    RETURN d;
END $$;
COMMENT ON FUNCTION csm_internal._plan_date(text, jsonb) IS 'Internal: a JSON date string (YYYY-MM-DD) input element as a date (NULL for none); 22023 with the path otherwise.';

CREATE OR REPLACE FUNCTION csm_internal._plan_array(path text, v jsonb, required boolean) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF v IS NULL OR v = 'null' THEN
        IF required THEN
            PERFORM csm_internal._plan_error(path, 'is required', NULL);
        END IF;
        RETURN '[]';
    END IF;
    IF jsonb_typeof(v) <> 'array' THEN
        PERFORM csm_internal._plan_error(path, 'must be a JSON array', v);
    END IF;
    IF required AND jsonb_array_length(v) = 0 THEN
        PERFORM csm_internal._plan_error(path, 'must not be empty', v);
    END IF;
    RETURN v;
END $$;
COMMENT ON FUNCTION csm_internal._plan_array(text, jsonb, boolean) IS 'Internal: a JSON array input (empty for none unless required); 22023 with the path otherwise.';

-- The plan as JSON ------------------------------------------------------------------

CREATE OR REPLACE FUNCTION csm_internal._success_plan_json(account bigint, plan bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p @extschema@.success_plan;
    live jsonb := csm_internal._success_metric_values(account);
    reached jsonb;
    objectives jsonb;
    milestones jsonb;
    stakeholders jsonb;
    metrics jsonb;
    today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
    SELECT * INTO p FROM @extschema@.success_plan s WHERE s.account_id = account AND s.plan_id = plan;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(jsonb_object_agg(m.milestone, m.achieved_at), '{}') INTO reached
    FROM @extschema@.account_milestone m WHERE m.account_id = account;
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'position', o.position, 'objective', o.objective, 'metric', o.metric, 'baseline', o.baseline,
               'target', o.target, 'current_value', live -> o.metric, 'live', live ? o.metric,
               'progress', @extschema@.success_progress((live ->> o.metric)::numeric, o.baseline, o.target),
               'due_date', coalesce(o.due_date, p.ends_on), 'owner', o.owner, 'status', o.status,
               'achieved_at', o.achieved_at,
               'overdue', o.status NOT IN ('achieved', 'missed') AND coalesce(o.due_date, p.ends_on) < today)
           ORDER BY o.position), '[]') INTO objectives
    FROM @extschema@.success_plan_objective o WHERE o.account_id = account AND o.plan_id = plan;
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'position', x.position, 'name', x.name, 'due_date', x.due_date, 'milestone', x.milestone,
               'status', CASE WHEN x.status = 'open' AND reached ? x.milestone THEN 'achieved' ELSE x.status END,
               'achieved_at', coalesce(x.achieved_at, (reached ->> x.milestone)::timestamptz),
               'overdue', x.status = 'open' AND NOT coalesce(reached ? x.milestone, false) AND x.due_date < today)
           ORDER BY x.position), '[]') INTO milestones
    FROM @extschema@.success_plan_milestone x WHERE x.account_id = account AND x.plan_id = plan;
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'name', s.name, 'role', s.role, 'email', s.email, 'side', s.side,
               'executive_sponsor', s.executive_sponsor) ORDER BY s.position), '[]') INTO stakeholders
    FROM @extschema@.success_plan_stakeholder s WHERE s.account_id = account AND s.plan_id = plan;
    SELECT coalesce(jsonb_agg(k.item || jsonb_build_object(
               'current_value', live -> (k.item ->> 'metric'), 'live', live ? (k.item ->> 'metric'),
               'progress', @extschema@.success_progress((live ->> (k.item ->> 'metric'))::numeric,
                                                        (k.item ->> 'baseline')::numeric, (k.item ->> 'target')::numeric))
           ORDER BY k.n), '[]') INTO metrics
    FROM jsonb_array_elements(p.metrics) WITH ORDINALITY AS k(item, n);
    RETURN jsonb_build_object(
        'plan_id', p.plan_id,
        'customer_id', (SELECT a.external_id FROM @extschema@.account a WHERE a.account_id = account),
        'status', p.status,
        'timeline', jsonb_build_object('start', p.starts_on, 'end', p.ends_on, 'days', p.ends_on - p.starts_on,
                                       'elapsed', round(greatest(0, least(1, (today - p.starts_on)::numeric
                                                                             / (p.ends_on - p.starts_on))), 4)),
        'objectives', objectives,
        'milestones', milestones,
        'metrics', metrics,
        'stakeholders', stakeholders,
        'progress', jsonb_build_object(
            'objectives', jsonb_array_length(objectives),
            'objectives_achieved', (SELECT count(*) FROM jsonb_array_elements(objectives) e WHERE e ->> 'status' = 'achieved'),
            'milestones', jsonb_array_length(milestones),
            'milestones_achieved', (SELECT count(*) FROM jsonb_array_elements(milestones) e WHERE e ->> 'status' = 'achieved')),
        'renewed_from', p.renewed_from,
        'created_by', p.created_by,
        'created_at', p.created_at,
        'updated_at', p.updated_at,
        'closed_at', p.closed_at);
END $$;
COMMENT ON FUNCTION csm_internal._success_plan_json(bigint, bigint) IS
    'Internal: a success plan as the seed''s structured document: plan_id, customer_id, status, timeline, objectives and metrics with current values and progress, milestones, stakeholders, progress counts, renewed_from, created_by, created_at, updated_at, closed_at.';

-- Creating a plan -------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.create_success_plan(customer_id text, objectives jsonb, timeline jsonb,
                                                stakeholders jsonb DEFAULT NULL, milestones jsonb DEFAULT NULL,
                                                metrics jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    id bigint;
    acct @extschema@.account;
    live jsonb;
    today date := (now() AT TIME ZONE 'UTC')::date;
    starts date;
    ends date;
    e jsonb;
    n integer;
    path text;
    objs jsonb := '[]';
    mets jsonb := '[]';
    obj_text text;
    metric text;
    base numeric;
    target numeric;
    due date;
    ms text;
    plan bigint;
    previous bigint;
    stamp timestamptz := now();
BEGIN
    PERFORM csm_internal._require('operate');
    IF customer_id IS NULL THEN
        PERFORM csm_internal._plan_error('customer_id', 'is required', NULL);
    END IF;
    id := csm_internal._account_id(customer_id);

    -- timeline: {"start": date (today by default), "end": date} or
    -- {"start", "duration": "6 months"}
    IF timeline IS NULL OR timeline = 'null' THEN
        PERFORM csm_internal._plan_error('timeline', 'is required', NULL);
    END IF;
    PERFORM csm_internal._plan_keys('timeline', timeline, ARRAY['start', 'end', 'duration'], '{}');
    starts := coalesce(csm_internal._plan_date('timeline.start', timeline -> 'start'), today);
    ends := csm_internal._plan_date('timeline.end', timeline -> 'end');
    IF timeline ? 'duration' THEN
        IF ends IS NOT NULL THEN
            PERFORM csm_internal._plan_error('timeline.duration', 'give end or duration, not both', timeline -> 'duration');
        END IF;
        BEGIN
            ends := (starts + csm_internal._plan_text('timeline.duration', timeline -> 'duration')::interval)::date;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
            PERFORM csm_internal._plan_error('timeline.duration', 'must be an interval such as "6 months"', timeline -> 'duration');
        END;
    END IF;
    IF ends IS NULL THEN
        PERFORM csm_internal._plan_error('timeline.end', 'is required (or timeline.duration)', NULL);
    END IF;
    IF ends <= starts THEN
        PERFORM csm_internal._plan_error('timeline.end', format('must be after the start, %s', to_char(starts, 'YYYY-MM-DD')), to_jsonb(ends));
    END IF;

    -- Validate every element before writing anything.
    PERFORM csm_internal._plan_array('objectives', objectives, true);
    PERFORM csm_internal._plan_array('stakeholders', stakeholders, false);
    PERFORM csm_internal._plan_array('milestones', milestones, false);
    PERFORM csm_internal._plan_array('metrics', metrics, false);
    live := csm_internal._success_metric_values(id);

    FOR e, n IN SELECT x.item, x.n - 1 FROM jsonb_array_elements(objectives) WITH ORDINALITY AS x(item, n) LOOP
        path := format('objectives[%s]', n);
        IF jsonb_typeof(e) = 'string' THEN
            e := jsonb_build_object('objective', e);
        END IF;
        PERFORM csm_internal._plan_keys(path, e, ARRAY['objective', 'metric', 'baseline', 'target', 'due_date', 'owner', 'status'],
                                      ARRAY['objective']);
        obj_text := csm_internal._plan_text(path || '.objective', e -> 'objective');
        metric := csm_internal._plan_text(path || '.metric', e -> 'metric');
        base := csm_internal._plan_number(path || '.baseline', e -> 'baseline');
        target := csm_internal._plan_number(path || '.target', e -> 'target');
        due := csm_internal._plan_date(path || '.due_date', e -> 'due_date');
        PERFORM csm_internal._plan_text(path || '.owner', e -> 'owner');
        IF target IS NOT NULL AND metric IS NULL THEN
            PERFORM csm_internal._plan_error(path || '.metric', 'is required with a target', NULL);
        END IF;
        IF due IS NOT NULL AND (due < starts OR due > ends) THEN
            PERFORM csm_internal._plan_error(path || '.due_date', format('must fall within the timeline, %s to %s', to_char(starts, 'YYYY-MM-DD'), to_char(ends, 'YYYY-MM-DD')), e -> 'due_date');
        END IF;
        IF e ? 'status' AND csm_internal._plan_text(path || '.status', e -> 'status') NOT IN ('open', 'on_track', 'at_risk', 'achieved', 'missed') THEN
            PERFORM csm_internal._plan_error(path || '.status', 'must be open, on_track, at_risk, achieved or missed', e -> 'status');
        END IF;
        -- The baseline defaults to csm's value now, where csm measures it.
        IF base IS NULL AND metric IS NOT NULL AND live ? metric THEN
            e := e || jsonb_build_object('baseline', live -> metric);
        END IF;
        objs := objs || jsonb_build_array(e);
    END LOOP;

    FOR e, n IN SELECT x.item, x.n - 1 FROM jsonb_array_elements(metrics) WITH ORDINALITY AS x(item, n) LOOP
        path := format('metrics[%s]', n);
        IF jsonb_typeof(e) = 'string' THEN
            e := jsonb_build_object('metric', e);
        END IF;
        PERFORM csm_internal._plan_keys(path, e, ARRAY['metric', 'baseline', 'target'], ARRAY['metric']);
        metric := csm_internal._plan_text(path || '.metric', e -> 'metric');
        base := csm_internal._plan_number(path || '.baseline', e -> 'baseline');
        target := csm_internal._plan_number(path || '.target', e -> 'target');
        mets := mets || jsonb_build_array(jsonb_build_object('metric', metric, 'target', target,
                                                             'baseline', coalesce(to_jsonb(base), live -> metric)));
    END LOOP;

    FOR e, n IN SELECT x.item, x.n - 1 FROM jsonb_array_elements(stakeholders) WITH ORDINALITY AS x(item, n) LOOP
        path := format('stakeholders[%s]', n);
        PERFORM csm_internal._plan_keys(path, e, ARRAY['name', 'role', 'email', 'side', 'executive_sponsor'], ARRAY['name']);
        PERFORM csm_internal._plan_text(path || '.name', e -> 'name');
        PERFORM csm_internal._plan_text(path || '.role', e -> 'role');
        IF csm_internal._plan_text(path || '.email', e -> 'email') !~ '^[^@\s]+@[^@\s]+$' THEN
            PERFORM csm_internal._plan_error(path || '.email', 'must be an e-mail address', e -> 'email');
        END IF;
        IF csm_internal._plan_text(path || '.side', e -> 'side') NOT IN ('customer', 'vendor') THEN
            PERFORM csm_internal._plan_error(path || '.side', 'must be customer or vendor', e -> 'side');
        END IF;
        IF e ? 'executive_sponsor' AND jsonb_typeof(e -> 'executive_sponsor') <> 'boolean' THEN
            PERFORM csm_internal._plan_error(path || '.executive_sponsor', 'must be true or false', e -> 'executive_sponsor');
        END IF;
    END LOOP;

    FOR e, n IN SELECT x.item, x.n - 1 FROM jsonb_array_elements(milestones) WITH ORDINALITY AS x(item, n) LOOP
        path := format('milestones[%s]', n);
        PERFORM csm_internal._plan_keys(path, e, ARRAY['name', 'due_date', 'milestone'], ARRAY['name', 'due_date']);
        PERFORM csm_internal._plan_text(path || '.name', e -> 'name');
        due := csm_internal._plan_date(path || '.due_date', e -> 'due_date');
        IF due < starts OR due > ends THEN
            PERFORM csm_internal._plan_error(path || '.due_date', format('must fall within the timeline, %s to %s', to_char(starts, 'YYYY-MM-DD'), to_char(ends, 'YYYY-MM-DD')), e -> 'due_date');
        END IF;
        ms := csm_internal._plan_text(path || '.milestone', e -> 'milestone');
        IF ms IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.milestone d WHERE d.milestone = ms) THEN
            PERFORM csm_internal._plan_error(path || '.milestone', 'is not a milestone of csm.milestone', e -> 'milestone');
        END IF;
    END LOOP;

    -- The account's row, locked: plans of one account are made one at a time.
    SELECT * INTO acct FROM @extschema@.account a WHERE a.account_id = id FOR NO KEY UPDATE;
    UPDATE @extschema@.success_plan s SET status = 'superseded', closed_at = stamp, updated_at = stamp
    WHERE s.account_id = id AND s.status = 'active'
    RETURNING s.plan_id INTO previous;
    INSERT INTO @extschema@.success_plan (account_id, objectives, timeline, metrics, starts_on, ends_on,
                                          created_by, created_at, updated_at)
    VALUES (id, objs, jsonb_build_object('start', starts, 'end', ends), mets, starts, ends,
            csm_internal._caller(), stamp, stamp)
    RETURNING success_plan.plan_id INTO plan;
    INSERT INTO @extschema@.success_plan_objective (account_id, plan_id, position, objective, metric, baseline, target,
                                                    due_date, owner, status, achieved_at)
    SELECT id, plan, x.n, x.item ->> 'objective', x.item ->> 'metric', (x.item ->> 'baseline')::numeric,
           (x.item ->> 'target')::numeric, (x.item ->> 'due_date')::date, x.item ->> 'owner',
           coalesce(x.item ->> 'status', 'open'), CASE WHEN x.item ->> 'status' = 'achieved' THEN stamp END
    FROM jsonb_array_elements(objs) WITH ORDINALITY AS x(item, n);
    INSERT INTO @extschema@.success_plan_milestone (account_id, plan_id, position, name, due_date, milestone)
    SELECT id, plan, x.n, x.item ->> 'name', (x.item ->> 'due_date')::date, x.item ->> 'milestone'
    FROM jsonb_array_elements(csm_internal._plan_array('milestones', milestones, false)) WITH ORDINALITY AS x(item, n);
    INSERT INTO @extschema@.success_plan_stakeholder (account_id, plan_id, position, name, role, email, side, executive_sponsor)
    SELECT id, plan, x.n, x.item ->> 'name', x.item ->> 'role', x.item ->> 'email', coalesce(x.item ->> 'side', 'customer'),
           coalesce((x.item ->> 'executive_sponsor')::boolean, false)
    FROM jsonb_array_elements(csm_internal._plan_array('stakeholders', stakeholders, false)) WITH ORDINALITY AS x(item, n);

    -- Creating a plan is the lifecycle milestone success_plan_created (the
    -- first plan's date stays), and may move the account's stage.
    INSERT INTO @extschema@.account_milestone AS m (account_id, milestone, achieved_at, source, recorded_by, note)
    VALUES (id, 'success_plan_created', stamp, 'manual', csm_internal._caller(), format('success plan %s', plan))
    ON CONFLICT (account_id, milestone) DO NOTHING;
    IF FOUND THEN
        PERFORM csm_internal._lifecycle_apply(ARRAY[id]);
    END IF;
    RETURN csm_internal._success_plan_json(id, plan) || jsonb_build_object('supersedes', previous);
END $$;
COMMENT ON FUNCTION @extschema@.create_success_plan(text, jsonb, jsonb, jsonb, jsonb, jsonb) IS
    'The seed''s create_success_plan: stores a success plan for the account (superseding its active one) and returns it as the seed''s structured document (objectives, milestones, metrics, stakeholders, timeline; see csm.success_plan_report) with supersedes, the plan it replaced. objectives: a non-empty array of strings or {objective, metric, baseline, target, due_date, owner, status}; timeline: {start (default today), end} or {start, duration}; stakeholders: [{name, role, email, side, executive_sponsor}]; milestones: [{name, due_date, milestone}]; metrics: [{metric, baseline, target}] or names. A baseline not given is csm''s value now for a metric csm measures. Records the lifecycle milestone success_plan_created (the first time). Errors: 22023 a missing or bad input, naming its JSON path (such as objectives[1].target); P0002 unknown customer; 42501 without the operate level.';

CREATE OR REPLACE FUNCTION @extschema@.success_plan_report(customer_id text, plan_id bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    plan bigint := success_plan_report.plan_id;
BEGIN
    IF customer_id IS NULL THEN
        PERFORM csm_internal._plan_error('customer_id', 'is required', NULL);
    END IF;
    id := csm_internal._account_id(customer_id);
    IF plan IS NULL THEN
        SELECT s.plan_id INTO plan FROM @extschema@.success_plan s WHERE s.account_id = id AND s.status = 'active';
    END IF;
    RETURN csm_internal._success_plan_json(id, plan);
END $$;
COMMENT ON FUNCTION @extschema@.success_plan_report(text, bigint) IS
    'A success plan (the account''s active one by default) as the seed''s structured document, with each metric''s current value read live and its progress (csm.success_progress); NULL when there is none. Errors: P0002 unknown customer, 22023 NULL customer_id.';

CREATE OR REPLACE FUNCTION @extschema@.set_success_plan_status(customer_id text, item text, item_position integer, status text)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    plan bigint;
    stamp timestamptz := now();
BEGIN
    PERFORM csm_internal._require('operate');
    IF customer_id IS NULL OR item IS NULL OR item_position IS NULL OR status IS NULL THEN
        RAISE EXCEPTION 'customer_id, item, item_position and status must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    id := csm_internal._account_id(customer_id);
    SELECT s.plan_id INTO plan FROM @extschema@.success_plan s WHERE s.account_id = id AND s.status = 'active' FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" has no active success plan', customer_id
            USING ERRCODE = 'no_data_found', HINT = 'Create one with csm.create_success_plan.';
    END IF;
    IF item = 'objective' THEN
        IF status NOT IN ('open', 'on_track', 'at_risk', 'achieved', 'missed') THEN
            RAISE EXCEPTION 'an objective''s status is open, on_track, at_risk, achieved or missed, not "%"', status
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        UPDATE @extschema@.success_plan_objective o
        SET status = set_success_plan_status.status,
            achieved_at = CASE WHEN set_success_plan_status.status = 'achieved' THEN coalesce(o.achieved_at, stamp) END
        WHERE o.account_id = id AND o.plan_id = plan AND o.position = item_position;
    ELSIF item = 'milestone' THEN
        IF status NOT IN ('open', 'achieved', 'missed') THEN
            RAISE EXCEPTION 'a milestone''s status is open, achieved or missed, not "%"', status
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        UPDATE @extschema@.success_plan_milestone x
        SET status = set_success_plan_status.status,
            achieved_at = CASE WHEN set_success_plan_status.status = 'achieved' THEN coalesce(x.achieved_at, stamp) END
        WHERE x.account_id = id AND x.plan_id = plan AND x.position = item_position;
    ELSE
        RAISE EXCEPTION 'item is objective or milestone, not "%"', item USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the active success plan of account "%" has no % at position %', customer_id, item, item_position
            USING ERRCODE = 'no_data_found';
    END IF;
    UPDATE @extschema@.success_plan s SET updated_at = stamp WHERE s.account_id = id AND s.plan_id = plan;
    RETURN csm_internal._success_plan_json(id, plan);
END $$;
COMMENT ON FUNCTION @extschema@.set_success_plan_status(text, text, integer, text) IS
    'Sets the status of an objective (open, on_track, at_risk, achieved, missed) or a milestone (open, achieved, missed) of the account''s active success plan, by position; achieved records when. Returns the plan (csm.success_plan_report). Errors: P0002 unknown customer, no active plan or no such item; 22004 a NULL argument; 22023 an unknown item or status; 42501 without the operate level.';

-- At renewal ----------------------------------------------------------------------
--
-- What a Gainsight admin sets up as the renewal's "success plan refresh":
-- once a renewal closes renewed (renewed, upsell or downsell) after the
-- active plan was made, for a term the plan started in, that plan is kept
-- as it stood (status renewed) and the new term gets a plan of its own,
-- from the renewal's date to the account's new renewal_date (a year when it
-- is not later), carrying the objectives and milestones not achieved (an
-- objective's due date before the new term is dropped: it falls due at the
-- term's end; a milestone's is moved to the term's end; one whose lifecycle
-- milestone was reached stays behind), its metrics and every stakeholder.
-- What was achieved stays in the old plan, the record of the term.  A
-- churned renewal closes the plan (status closed).  Set-based, over every
-- account or the ones given: one statement per table, each joined on
-- account_id (on Citus, run on the workers).
CREATE OR REPLACE FUNCTION @extschema@.refresh_success_plans(accounts bigint[] DEFAULT NULL, OUT renewed bigint, OUT closed bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stamp timestamptz := now();
    caller name := csm_internal._caller();
    counting boolean;
BEGIN
    PERFORM csm_internal._require('operate');
    -- A NOTICE at every 10% of the active plans, when the client wants
    -- notices, on a single node, over every account: the first statement,
    -- which reads every active plan, counts them then (its last condition
    -- on the plan, always true: one count per active plan).  Left out
    -- otherwise: Citus refuses a volatile function in the WHERE clause of
    -- an UPDATE of a distributed table.
    counting := csm_internal._progress_begin('refresh_success_plans',
        CASE WHEN accounts IS NOT NULL THEN 0
             WHEN csm_internal._progress_wanted()
             THEN (SELECT count(*) FROM @extschema@.success_plan p WHERE p.status = 'active') END);
    -- A churned renewal after the plan was made: the plan closes.
    EXECUTE format($q$
    UPDATE @extschema@.success_plan s SET status = 'closed', closed_at = $1, updated_at = $1
    FROM @extschema@.renewal w
    WHERE w.account_id = s.account_id AND s.status = 'active' AND ($2 IS NULL OR s.account_id = ANY ($2))%s
      AND w.outcome = 'churned' AND w.closed_at >= s.created_at AND w.renewal_date > s.starts_on$q$,
        CASE WHEN counting THEN $c$ AND csm_internal._progress('refresh_success_plans', s.account_id)$c$ ELSE '' END)
    USING stamp, accounts;
    GET DIAGNOSTICS closed = ROW_COUNT;
    -- The active plans the account's latest closed renewal renewed: closed
    -- after the plan was made, for a term the plan started in (the new
    -- term's plan starts on the renewal's date: done once).
    UPDATE @extschema@.success_plan s SET status = 'renewed', closed_at = stamp, updated_at = stamp
    FROM @extschema@.renewal w
    WHERE w.account_id = s.account_id AND s.status = 'active' AND (accounts IS NULL OR s.account_id = ANY (accounts))
      AND w.outcome IN ('renewed', 'upsell', 'downsell') AND w.closed_at >= s.created_at
      AND w.renewal_date > s.starts_on
      AND NOT EXISTS (SELECT 1 FROM @extschema@.renewal w2
                      WHERE w2.account_id = s.account_id AND w2.closed_at IS NOT NULL AND w2.renewal_date > w.renewal_date);
    GET DIAGNOSTICS renewed = ROW_COUNT;
    IF renewed = 0 THEN
        RETURN;
    END IF;
    -- The new term's plans.
    INSERT INTO @extschema@.success_plan (account_id, objectives, timeline, metrics, starts_on, ends_on, renewed_from,
                                          created_by, created_at, updated_at)
    SELECT s.account_id, coalesce(o.objectives, '[]'), jsonb_build_object('start', t.starts, 'end', t.ends), s.metrics,
           t.starts, t.ends, s.plan_id, caller, stamp, stamp
    FROM @extschema@.success_plan s
    JOIN @extschema@.renewal w ON w.account_id = s.account_id
    JOIN @extschema@.account a ON a.account_id = s.account_id
    CROSS JOIN LATERAL (SELECT w.renewal_date AS starts,
                               CASE WHEN a.renewal_date > w.renewal_date THEN a.renewal_date
                                    ELSE (w.renewal_date + interval '1 year')::date END AS ends) t
    LEFT JOIN (SELECT x.account_id, x.plan_id,
                      jsonb_agg(jsonb_strip_nulls(jsonb_build_object('objective', x.objective, 'metric', x.metric,
                                                                     'baseline', x.baseline, 'target', x.target,
                                                                     'owner', x.owner)) ORDER BY x.position) AS objectives
               FROM @extschema@.success_plan_objective x
               WHERE x.status <> 'achieved' AND (accounts IS NULL OR x.account_id = ANY (accounts))
               GROUP BY x.account_id, x.plan_id) o ON o.account_id = s.account_id AND o.plan_id = s.plan_id
    WHERE s.status = 'renewed' AND s.closed_at = stamp AND (accounts IS NULL OR s.account_id = ANY (accounts))
      AND w.closed_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM @extschema@.renewal w2
                      WHERE w2.account_id = s.account_id AND w2.closed_at IS NOT NULL AND w2.renewal_date > w.renewal_date);
    -- Their rows: what was not achieved, renumbered; every stakeholder.
    INSERT INTO @extschema@.success_plan_objective (account_id, plan_id, position, objective, metric, baseline, target,
                                                    due_date, owner)
    SELECT o.account_id, p.plan_id, row_number() OVER (PARTITION BY o.account_id, o.plan_id ORDER BY o.position),
           o.objective, o.metric, o.baseline, o.target, CASE WHEN o.due_date >= p.starts_on THEN o.due_date END, o.owner
    FROM @extschema@.success_plan_objective o
    JOIN @extschema@.success_plan p ON p.account_id = o.account_id AND p.renewed_from = o.plan_id
    WHERE p.created_at = stamp AND p.status = 'active' AND o.status <> 'achieved'
      AND (accounts IS NULL OR o.account_id = ANY (accounts));
    INSERT INTO @extschema@.success_plan_milestone (account_id, plan_id, position, name, due_date, milestone)
    SELECT x.account_id, p.plan_id, row_number() OVER (PARTITION BY x.account_id, x.plan_id ORDER BY x.position), x.name,
           CASE WHEN x.due_date >= p.starts_on AND x.due_date <= p.ends_on THEN x.due_date ELSE p.ends_on END, x.milestone
    FROM @extschema@.success_plan_milestone x
    JOIN @extschema@.success_plan p ON p.account_id = x.account_id AND p.renewed_from = x.plan_id
    LEFT JOIN @extschema@.account_milestone m ON m.account_id = x.account_id AND m.milestone = x.milestone
    WHERE p.created_at = stamp AND p.status = 'active' AND x.status <> 'achieved' AND m.account_id IS NULL
      AND (accounts IS NULL OR x.account_id = ANY (accounts));
    INSERT INTO @extschema@.success_plan_stakeholder (account_id, plan_id, position, name, role, email, side, executive_sponsor)
    SELECT s.account_id, p.plan_id, s.position, s.name, s.role, s.email, s.side, s.executive_sponsor
    FROM @extschema@.success_plan_stakeholder s
    JOIN @extschema@.success_plan p ON p.account_id = s.account_id AND p.renewed_from = s.plan_id
    WHERE p.created_at = stamp AND p.status = 'active' AND (accounts IS NULL OR s.account_id = ANY (accounts));
END $$;
COMMENT ON FUNCTION @extschema@.refresh_success_plans(bigint[]) IS
    'The success plan refresh at renewal, for every account (or those given); idempotent, csm.close_renewal runs it for its account, and schedule it daily with pg_cron for renewals closed by csm.refresh_renewals. An active plan made before its account''s latest renewal closed renewed (renewed, upsell, downsell) becomes renewed, and a new active plan covers the new term (from the renewal''s date to the account''s renewal_date, or a year), with the objectives (baselines and targets as they were) and milestones not achieved (due dates before the new term dropped for objectives, moved to its end for milestones; a milestone whose lifecycle milestone was reached stays behind), the metrics and stakeholders; set-based, one statement per table; a churned renewal closes the plan. Returns the plans renewed and closed. Errors: 42501 without the operate level.';

-- Objectives with their live values -------------------------------------------------

-- PL/pgSQL, reading the live values one account at a time first: on Citus
-- a view joining the objectives to csm.account_metrics would send csm's
-- metric functions to the workers, which cannot read the cluster.
CREATE OR REPLACE FUNCTION csm_internal._success_plan_progress()
RETURNS TABLE (account_id bigint, external_id text, plan_id bigint, "position" integer, objective text, metric text,
               baseline numeric, target numeric, current_value numeric, progress numeric, due_date date, status text,
               overdue boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    live jsonb := '{}';
    acc bigint;
    today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
    FOR acc IN SELECT DISTINCT o.account_id
               FROM @extschema@.success_plan_objective o
               JOIN @extschema@.success_plan p ON p.account_id = o.account_id AND p.plan_id = o.plan_id
               WHERE p.status = 'active' AND o.metric = ANY (@extschema@.success_metric_names())
               ORDER BY o.account_id LOOP
        live := live || jsonb_build_object(acc::text, csm_internal._success_metric_values(acc));
    END LOOP;
    RETURN QUERY
    SELECT o.account_id, a.external_id, o.plan_id, o.position, o.objective, o.metric, o.baseline, o.target,
           (live -> o.account_id::text ->> o.metric)::numeric,
           @extschema@.success_progress((live -> o.account_id::text ->> o.metric)::numeric, o.baseline, o.target),
           coalesce(o.due_date, p.ends_on), o.status,
           o.status NOT IN ('achieved', 'missed') AND coalesce(o.due_date, p.ends_on) < today
    FROM @extschema@.success_plan_objective o
    JOIN @extschema@.success_plan p ON p.account_id = o.account_id AND p.plan_id = o.plan_id
    JOIN @extschema@.account a ON a.account_id = o.account_id
    WHERE p.status = 'active';
END $$;
COMMENT ON FUNCTION csm_internal._success_plan_progress() IS
    'Internal: the rows of csm.success_plan_progress.';

CREATE OR REPLACE VIEW @extschema@.success_plan_progress WITH (security_invoker = true) AS
SELECT s.*,
       s.progress AS progress_ratio  -- the vocabulary's name (0-1); progress is deprecated
FROM csm_internal._success_plan_progress() s;
COMMENT ON VIEW @extschema@.success_plan_progress IS
    'The objectives of every active success plan with their metric''s current value (csm_internal._success_metric_values: the effective health score, csm.account_metrics, the account''s arr and seats; NULL for the customer''s own metrics), progress from baseline to target (csm.success_progress), due date (the plan''s end when it has none) and whether it is overdue. Reads the metrics one account at a time: for one account, csm.success_plan_report is quicker.';

-- Business review cadence ---------------------------------------------------------
--
-- Per active account:
--   operational: every month while at risk (health band yellow or red),
--     else the segment's review_cadence (3 months without a segment);
--   ebr (executive business review): every 3 months for an account whose
--     segment is white_glove or high_touch (strategic, enterprise).
-- Due on: the last review of the kind held (an ebr counts as operational
-- too), else the account's start (or creation), plus the cadence.  Listed
-- from 14 days before (due) and after it (overdue).
CREATE OR REPLACE VIEW @extschema@.business_review_due WITH (security_invoker = true) AS
SELECT d.account_id, d.external_id, d.name, d.segment, d.band, d.kind, d.cadence, d.last_held_at, d.due_on,
       d.due_on - (now() AT TIME ZONE 'UTC')::date AS days_until_due,
       CASE WHEN d.due_on < (now() AT TIME ZONE 'UTC')::date THEN 'overdue' ELSE 'due' END AS status,
       -- the vocabulary's names; name, band and due_on are deprecated
       d.name AS account_name, d.band AS health_band, d.due_on AS due_date
FROM (
    SELECT c.*, (coalesce((c.last_held_at AT TIME ZONE 'UTC')::date, c.since) + c.cadence)::date AS due_on
    FROM (
        SELECT a.account_id, a.external_id, a.name, a.segment, h.band, k.kind,
               CASE WHEN k.kind = 'ebr' THEN interval '3 months'
                    WHEN h.band IN ('yellow', 'red') THEN least(interval '1 month', coalesce(s.review_cadence, interval '3 months'))
                    ELSE coalesce(s.review_cadence, interval '3 months') END AS cadence,
               CASE WHEN k.kind = 'ebr' THEN r.last_ebr ELSE r.last_any END AS last_held_at,
               (coalesce(a.started_at, a.created_at) AT TIME ZONE 'UTC')::date AS since
        FROM @extschema@.account a
        LEFT JOIN @extschema@.segment s ON s.name = a.segment
        LEFT JOIN @extschema@.health_score h ON h.account_id = a.account_id
        LEFT JOIN (SELECT b.account_id, max(b.held_at) AS last_any, max(b.held_at) FILTER (WHERE b.kind = 'ebr') AS last_ebr
                   FROM @extschema@.business_review_held b GROUP BY b.account_id) r ON r.account_id = a.account_id
        CROSS JOIN (VALUES ('operational'), ('ebr')) AS k(kind)
        WHERE a.status = 'active'
          AND (k.kind = 'operational' OR s.touch_model IN ('white_glove', 'high_touch'))
    ) c
) d
WHERE d.due_on <= (now() AT TIME ZONE 'UTC')::date + 14;
COMMENT ON VIEW @extschema@.business_review_due IS
    'Active accounts due (within 14 days) or overdue for a business review, one row per kind: operational (monthly while the health band is yellow or red, else the segment''s review_cadence, 3 months without a segment) and ebr (quarterly, for segments with the white_glove or high_touch touch model: strategic, enterprise). due_on is the last review of the kind held (csm.business_review_held; an ebr counts as operational too), else the account''s start, plus the cadence; days_until_due is negative when overdue.';

-- The review's contents -----------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.business_review(customer_id text, period_start date, period_end date) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    acct @extschema@.account;
    days integer;
    prior_start date;
    usage jsonb;
    prior jsonb;
    features jsonb;
    weekly float8[];
    adoption jsonb;
    health jsonb;
    scores float8[];
    outcomes jsonb;
    plan bigint;
    roi jsonb;
    value numeric;
    cost numeric;
    actions jsonb := '[]';
    roadmap jsonb;
    cores bigint := (SELECT count(*) FROM @extschema@.core_feature);
    owner jsonb;
    override_score float8;
    reached jsonb;
    plan_json jsonb;
BEGIN
    IF customer_id IS NULL THEN
        PERFORM csm_internal._plan_error('customer_id', 'is required', NULL);
    END IF;
    IF period_start IS NULL THEN
        PERFORM csm_internal._plan_error('period_start', 'is required', NULL);
    END IF;
    IF period_end IS NULL THEN
        PERFORM csm_internal._plan_error('period_end', 'is required', NULL);
    END IF;
    IF period_end < period_start OR NOT isfinite(period_start) OR NOT isfinite(period_end) THEN
        RAISE EXCEPTION 'period_end % is before period_start %', to_char(period_end, 'YYYY-MM-DD'), to_char(period_start, 'YYYY-MM-DD')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Both days are included: a quarter is 2026-01-01 to 2026-03-31.';
    END IF;
    id := csm_internal._account_id(customer_id);
    SELECT * INTO acct FROM @extschema@.account a WHERE a.account_id = id;
    days := period_end - period_start + 1;
    prior_start := period_start - days;

    -- Usage from the rollups: per day, the sum of events and the largest
    -- source's active users (as csm.account_metrics counts them).
    WITH per_day AS (
        SELECT u.day, sum(u.events) AS events, max(u.active_users) AS active_users
        FROM csm_internal._usage_day u
        WHERE u.account_id = id AND u.day BETWEEN prior_start AND period_end
        GROUP BY u.day)
    SELECT jsonb_build_object(
               'events', coalesce(sum(d.events) FILTER (WHERE d.day >= period_start), 0),
               'events_per_day', round(coalesce(sum(d.events) FILTER (WHERE d.day >= period_start), 0)::numeric / days, 2),
               'active_days', count(*) FILTER (WHERE d.day >= period_start AND d.events > 0),
               'avg_daily_active_users', round(coalesce(sum(d.active_users) FILTER (WHERE d.day >= period_start), 0)::numeric / days, 2),
               'peak_daily_active_users', max(d.active_users) FILTER (WHERE d.day >= period_start),
               'last_active_day', max(d.day) FILTER (WHERE d.day >= period_start AND d.events > 0)),
           jsonb_build_object('events', coalesce(sum(d.events) FILTER (WHERE d.day < period_start), 0))
    INTO usage, prior
    FROM per_day d;
    SELECT array_agg(coalesce(w.events, 0)::float8 ORDER BY g.n) INTO weekly
    FROM generate_series(0, (days - 1) / 7) AS g(n)
    LEFT JOIN (SELECT (u.day - period_start) / 7 AS n, sum(u.events) AS events
               FROM csm_internal._usage_day u
               WHERE u.account_id = id AND u.day BETWEEN period_start AND period_end
               GROUP BY 1) w ON w.n = g.n;
    usage := usage || jsonb_build_object(
        'prior_period_events', prior -> 'events',
        'change_pct', CASE WHEN (prior ->> 'events')::numeric > 0
                           THEN round(100 * ((usage ->> 'events')::numeric - (prior ->> 'events')::numeric) / (prior ->> 'events')::numeric, 1) END,
        'weekly_events', to_jsonb(weekly),
        'weekly_sparkline', @extschema@.sparkline(weekly, 0, greatest((SELECT max(x) FROM unnest(weekly) x), 1)));

    -- Adoption: the features used in the period, most used first.
    SELECT coalesce(jsonb_agg(jsonb_build_object('feature', f.feature, 'events', f.events,
                                                 'core', EXISTS (SELECT 1 FROM @extschema@.core_feature c WHERE c.feature = f.feature))
                              ORDER BY f.events DESC, f.feature), '[]')
    INTO features
    FROM (SELECT x.feature, sum(x.events) AS events
          FROM csm_internal._usage_feature_day x
          WHERE x.account_id = id AND x.day BETWEEN period_start AND period_end
          GROUP BY x.feature HAVING sum(x.events) > 0) f;
    adoption := jsonb_build_object(
        'features_used', jsonb_array_length(features),
        'core_features', cores,
        'core_features_used', (SELECT count(*) FROM jsonb_array_elements(features) e WHERE (e ->> 'core')::boolean),
        'core_adoption', CASE WHEN cores > 0 THEN round((SELECT count(*) FROM jsonb_array_elements(features) e
                                                         WHERE (e ->> 'core')::boolean)::numeric / cores, 4) END,
        'seats', acct.seats,
        'seat_utilization', CASE WHEN acct.seats > 0 THEN round((usage ->> 'avg_daily_active_users')::numeric / acct.seats, 4) END,
        'features', features);

    -- Health: now, at the period's ends, and the daily scores between.
    SELECT array_agg(x.score ORDER BY x.day) INTO scores
    FROM @extschema@.health_history x WHERE x.account_id = id AND x.day BETWEEN period_start AND period_end;
    SELECT jsonb_build_object(
               'score', h.score, 'band', h.band,
               'start_score', (SELECT x.score FROM @extschema@.health_history x
                               WHERE x.account_id = id AND x.day BETWEEN period_start AND period_end ORDER BY x.day LIMIT 1),
               'end_score', (SELECT x.score FROM @extschema@.health_history x
                             WHERE x.account_id = id AND x.day BETWEEN period_start AND period_end ORDER BY x.day DESC LIMIT 1))
    INTO health
    FROM (SELECT NULL) AS one LEFT JOIN @extschema@.health_score h ON h.account_id = id;
    health := health || jsonb_build_object(
        'change', round(((health ->> 'end_score')::numeric - (health ->> 'start_score')::numeric), 1),
        'trend', CASE WHEN (health ->> 'end_score')::numeric - (health ->> 'start_score')::numeric > 2 THEN 'up'
                      WHEN (health ->> 'end_score')::numeric - (health ->> 'start_score')::numeric < -2 THEN 'down'
                      WHEN health ? 'end_score' AND health ->> 'end_score' IS NOT NULL THEN 'flat' END,
        'daily_scores', coalesce(array_length(scores, 1), 0),
        'sparkline', @extschema@.sparkline(scores));
    -- The effective score: an override in force wins (csm.account_health).
    SELECT ov.score INTO override_score FROM @extschema@.health_override ov
    WHERE ov.account_id = id AND ov.cleared_at IS NULL AND (ov.expires_at IS NULL OR ov.expires_at > now())
    ORDER BY ov.created_at DESC, ov.override_id DESC LIMIT 1;
    IF override_score IS NOT NULL THEN
        health := health || jsonb_build_object('score', override_score, 'band', @extschema@.health_band(override_score),
                                               'override', true);
    END IF;

    -- Outcomes: the milestones reached in the period, and the success plan.
    -- (Each a statement of its own: on Citus one reading the account's
    -- rows goes to its worker, where csm's functions cannot read the
    -- cluster.)
    SELECT s.plan_id INTO plan FROM @extschema@.success_plan s WHERE s.account_id = id AND s.status = 'active';
    SELECT coalesce(jsonb_agg(jsonb_build_object('milestone', m.milestone, 'label', d.label, 'achieved_at', m.achieved_at,
                                                 'business_outcome', d.business_outcome)
                              ORDER BY m.achieved_at, m.milestone), '[]')
    INTO reached
    FROM @extschema@.account_milestone m
    JOIN @extschema@.milestone d ON d.milestone = m.milestone
    WHERE m.account_id = id
      AND m.achieved_at >= period_start::timestamp AT TIME ZONE 'UTC'
      AND m.achieved_at < (period_end + 1)::timestamp AT TIME ZONE 'UTC';
    plan_json := csm_internal._success_plan_json(id, plan);
    outcomes := jsonb_build_object(
        'milestones_achieved', reached,
        'success_plan', CASE WHEN plan IS NOT NULL THEN
            jsonb_build_object('plan_id', plan_json -> 'plan_id', 'timeline', plan_json -> 'timeline',
                               'progress', plan_json -> 'progress', 'objectives', plan_json -> 'objectives',
                               'metrics', plan_json -> 'metrics') END);

    -- ROI: the value metrics' events in the period against the period's
    -- share of the ARR.
    IF EXISTS (SELECT 1 FROM @extschema@.value_metric) THEN
        SELECT coalesce(sum(v.unit_value * coalesce(e.events, 0)), 0),
               jsonb_agg(jsonb_build_object('name', v.name, 'feature', v.feature, 'unit_value', v.unit_value,
                                            'events', coalesce(e.events, 0), 'value', v.unit_value * coalesce(e.events, 0),
                                            'description', v.description) ORDER BY v.name)
        INTO value, roi
        FROM @extschema@.value_metric v
        LEFT JOIN LATERAL (
            SELECT CASE WHEN v.feature IS NULL
                        THEN (SELECT sum(u.events) FROM csm_internal._usage_day u
                              WHERE u.account_id = id AND u.day BETWEEN period_start AND period_end)
                        ELSE (SELECT sum(x.events) FROM csm_internal._usage_feature_day x
                              WHERE x.account_id = id AND x.feature = v.feature AND x.day BETWEEN period_start AND period_end)
                   END AS events) e ON true;
        cost := round(coalesce(acct.arr, 0) * days / 365.0, 2);
        roi := jsonb_build_object('configured', true, 'value', value, 'cost', cost,
                                  'roi', CASE WHEN cost > 0 THEN round((value - cost) / cost, 4) END,
                                  'value_metrics', roi,
                                  'formula', 'roi = (value - cost) / cost; value = sum(unit_value x events), cost = arr x days / 365');
    ELSE
        roi := jsonb_build_object('configured', false, 'value', NULL, 'cost', round(coalesce(acct.arr, 0) * days / 365.0, 2),
                                  'roi', NULL, 'note', 'Configure your value metric in csm.value_metric to compute the ROI.');
    END IF;

    -- Roadmap: what comes next: the plan's open milestones and objectives
    -- after the period, and the renewal.
    roadmap := jsonb_build_object(
        'renewal_date', acct.renewal_date,
        'upcoming', coalesce((SELECT jsonb_agg(u.item ORDER BY u.due, u.ord) FROM (
            SELECT jsonb_build_object('milestone', x.name, 'due_date', x.due_date) AS item, x.due_date AS due, 1 AS ord
            FROM @extschema@.success_plan_milestone x
            WHERE x.account_id = id AND x.plan_id = plan AND x.status = 'open' AND x.due_date > period_end
              AND NOT EXISTS (SELECT 1 FROM @extschema@.account_milestone m
                              WHERE m.account_id = id AND m.milestone = x.milestone)
            UNION ALL
            SELECT jsonb_build_object('objective', o.objective, 'due_date', coalesce(o.due_date, p.ends_on)), coalesce(o.due_date, p.ends_on), 2
            FROM @extschema@.success_plan_objective o
            JOIN @extschema@.success_plan p ON p.account_id = o.account_id AND p.plan_id = o.plan_id
            WHERE o.account_id = id AND o.plan_id = plan AND o.status NOT IN ('achieved', 'missed')
              AND coalesce(o.due_date, p.ends_on) > period_end) u), '[]'));

    -- Action items: the account's open tasks (csm.task, 85_playbook.sql).
    SELECT coalesce(jsonb_agg(jsonb_build_object('task_id', t.task_id, 'title', t.title, 'assignee', t.assignee,
                                                 'team', t.team, 'due_at', t.due_at, 'overdue', t.due_at < now(),
                                                 'cta_id', t.cta_id)
                              ORDER BY t.due_at NULLS LAST, t.task_id), '[]')
    INTO actions
    FROM @extschema@.task t WHERE t.account_id = id AND t.status = 'open';

    owner := (SELECT jsonb_build_object('handle', m.handle, 'name', m.name)
              FROM @extschema@.account_assignment x
              JOIN @extschema@.team_member m ON m.member_id = x.member_id
              WHERE x.account_id = id AND x.is_primary AND x.ended_at IS NULL);
    RETURN jsonb_build_object(
        'customer_id', customer_id,
        'account', jsonb_build_object('name', acct.name, 'segment', acct.segment, 'plan', acct.plan, 'arr', acct.arr,
                                      'seats', acct.seats, 'status', acct.status, 'owner', owner,
                                      'lifecycle_stage', acct.lifecycle_stage),
        'period', jsonb_build_object('start', period_start, 'end', period_end, 'days', days),
        'usage_stats', usage,
        'adoption', adoption,
        'health', health,
        'outcomes', outcomes,
        'roi', roi,
        'roadmap', roadmap,
        'action_items', actions,
        'generated_at', now());
END $$;
COMMENT ON FUNCTION @extschema@.business_review(text, date, date) IS
    'The seed''s business review deck as data, for the period (both days included): account, period, usage_stats (events, per day, active days, daily active users, the change against the period before of the same length, weekly events with a sparkline, from the rollups), adoption (features used, core feature adoption, seat utilization), health (score and band now, at the period''s first and last scored day, change, trend up/down/flat beyond 2 points, sparkline), outcomes (milestones reached in the period, the active success plan''s progress), roi (from csm.value_metric; a placeholder with configured false without one), roadmap (the plan''s next milestones and objectives, the renewal date), action_items (the account''s open csm.task rows) and generated_at. Errors: P0002 unknown customer, 22023 a NULL argument or period_end before period_start.';

CREATE OR REPLACE FUNCTION @extschema@.record_business_review(customer_id text, kind text DEFAULT 'operational',
                                                   held_at timestamptz DEFAULT now(), period_start date DEFAULT NULL,
                                                   period_end date DEFAULT NULL, notes text DEFAULT NULL)
RETURNS @extschema@.business_review_held
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    last_held timestamptz;
    since date;
    ends date;
    deck jsonb;
    result @extschema@.business_review_held;
BEGIN
    PERFORM csm_internal._require('operate');
    IF customer_id IS NULL OR kind IS NULL OR held_at IS NULL THEN
        RAISE EXCEPTION 'customer_id, kind and held_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF kind NOT IN ('operational', 'ebr') THEN
        RAISE EXCEPTION 'kind is operational or ebr, not "%"', kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF held_at > now() OR NOT isfinite(held_at) THEN
        RAISE EXCEPTION 'held_at is in the future'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('held_at is %s.', held_at),
                  HINT = 'Record a review once it is held.';
    END IF;
    id := csm_internal._account_id(customer_id);
    PERFORM 1 FROM @extschema@.account a WHERE a.account_id = id FOR NO KEY UPDATE;
    -- The period by default: from the day of the last review (else 90
    -- days back) to the day before this one.
    ends := coalesce(period_end, (held_at AT TIME ZONE 'UTC')::date - 1);
    SELECT max(b.held_at) INTO last_held FROM @extschema@.business_review_held b WHERE b.account_id = id AND b.held_at < record_business_review.held_at;
    since := coalesce(period_start,
                      CASE WHEN last_held IS NOT NULL THEN least((last_held AT TIME ZONE 'UTC')::date, ends) END,
                      ends - 89);
    -- the deck first, on its own (on Citus, not inside the INSERT)
    deck := @extschema@.business_review(customer_id, since, ends);
    INSERT INTO @extschema@.business_review_held AS b (account_id, kind, held_at, period_start, period_end, notes, deck,
                                                      recorded_by, recorded_at)
    VALUES (id, kind, held_at, since, ends, notes, deck, csm_internal._caller(), now())
    RETURNING * INTO result;
    RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@.record_business_review(text, text, timestamptz, date, date, text) IS
    'Records that a business review (operational or ebr) was held, with its deck: csm.business_review for the period, by default from the last review (else 90 days back) to the day before held_at. It resets the account''s csm.business_review_due clock. Returns the csm.business_review_held row. Errors: P0002 unknown customer; 22004 a NULL argument; 22023 an unknown kind, held_at in the future, or period_end before period_start; 42501 without the operate level.';
