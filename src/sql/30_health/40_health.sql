INSERT INTO @extschema@.health_band_info VALUES
    ('green', 'Healthy', 'Nurture for expansion', 'Quarterly business reviews', 90, 100),
    ('yellow', 'At Risk', 'Engagement plan required', 'Monthly check-ins', 70, 90),
    ('red', 'Critical', 'Immediate intervention', 'Weekly touch points', 0, 70),
    ('unknown', 'Unknown', 'Collect the missing metrics before judging', 'Until the metrics are in', NULL, NULL)
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION @extschema@.health_model_for(segment text, plan text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(
        (SELECT m.model FROM @extschema@.health_model_map m WHERE m.attribute = 'plan' AND m.value = plan),
        (SELECT m.model FROM @extschema@.health_model_map m WHERE m.attribute = 'segment' AND m.value = segment),
        'default')
$$;
COMMENT ON FUNCTION @extschema@.health_model_for(text, text) IS
    'The health model for an account''s segment and plan: plan mapping, else segment mapping, else "default".';

-- Built-in models -----------------------------------------------------------

INSERT INTO @extschema@.health_model (name, description, builtin) VALUES
    ('default', 'The customer-success-manager scorecard: usage 30%, adoption 25%, tickets 15%, NPS 15%, contract 15%.', true),
    ('five_pillar', 'The customer-success-agent framework: product engagement 35%, support health 20%, relationship strength 20%, business outcomes 15%, commercial health 10%.', true)
ON CONFLICT DO NOTHING;

-- Thresholds from the seed: a value beyond green is green, beyond red is
-- red, and a value exactly at a threshold is yellow.
INSERT INTO @extschema@.health_component
    (model, metric, label, weight, direction, green, red, best, worst, min_value, max_value) VALUES
    ('default', 'dau_ratio',         'Product usage',    30, 'higher_is_better', 0.80, 0.50, 1.0, 0, 0, NULL),
    ('default', 'features_adopted',  'Feature adoption', 25, 'higher_is_better', 5,    3,    10,  0, 0, NULL),
    ('default', 'tickets_per_month', 'Support tickets',  15, 'lower_is_better',  2,    5,    0,   10, 0, NULL),
    ('default', 'nps',               'NPS',              15, 'higher_is_better', 8,    7,    10,  0, 0, 10),
    ('default', 'days_to_renewal',   'Contract status',  15, 'higher_is_better', 90,   30,   180, 0, NULL, NULL)
ON CONFLICT DO NOTHING;

INSERT INTO @extschema@.health_group (model, name, weight) VALUES
    ('five_pillar', 'product_engagement', 35),
    ('five_pillar', 'support_health', 20),
    ('five_pillar', 'relationship_strength', 20),
    ('five_pillar', 'business_outcomes', 15),
    ('five_pillar', 'commercial_health', 10)
ON CONFLICT DO NOTHING;

INSERT INTO @extschema@.health_component
    (model, metric, group_name, label, weight, direction, green, red, best, worst, min_value, max_value) VALUES
    ('five_pillar', 'dau_ratio',                  'product_engagement',    'Daily active users / seats',   40, 'higher_is_better', 0.60, 0.30, 0.90, 0.05, 0, NULL),
    ('five_pillar', 'features_adopted',           'product_engagement',    'Features used in 30 days',     30, 'higher_is_better', 5,    3,    10,   0,    0, NULL),
    ('five_pillar', 'days_since_last_activity',   'product_engagement',    'Days since last activity',     15, 'lower_is_better',  3,    14,   0,    30,   0, NULL),
    ('five_pillar', 'usage_trend',                'product_engagement',    'Usage, last 14 days vs prior', 15, 'higher_is_better', 1.0,  0.7,  1.3,  0.3,  0, NULL),
    ('five_pillar', 'tickets_per_month',          'support_health',        'Tickets per month',            50, 'lower_is_better',  2,    5,    0,    10,   0, NULL),
    ('five_pillar', 'csat',                       'support_health',        'CSAT (1-5)',                   30, 'higher_is_better', 4.5,  3.5,  5,    1,    1, 5),
    ('five_pillar', 'median_resolution_hours',    'support_health',        'Median hours to resolution',   20, 'lower_is_better',  24,   72,   4,    168,  0, NULL),
    ('five_pillar', 'nps',                        'relationship_strength', 'NPS',                          40, 'higher_is_better', 8,    7,    10,   0,    0, 10),
    ('five_pillar', 'qbr_attendance_rate',        'relationship_strength', 'Business reviews attended',    30, 'higher_is_better', 0.75, 0.50, 1,    0,    0, 1),
    ('five_pillar', 'outreach_response_rate',     'relationship_strength', 'Response rate to outreach',    30, 'higher_is_better', 0.60, 0.30, 0.9,  0,    0, 1),
    ('five_pillar', 'milestones_completed_ratio', 'business_outcomes',     'Success milestones completed', 50, 'higher_is_better', 0.80, 0.50, 1,    0,    0, 1),
    ('five_pillar', 'days_to_first_value',        'business_outcomes',     'Days to first value',          50, 'lower_is_better',  30,   60,   7,    120,  0, NULL),
    ('five_pillar', 'days_to_renewal',            'commercial_health',     'Days to renewal',              50, 'higher_is_better', 90,   30,   180,  0,    NULL, NULL),
    ('five_pillar', 'payment_days_late',          'commercial_health',     'Days payments run late',       50, 'lower_is_better',  1,    15,   0,    45,   0, NULL)
ON CONFLICT DO NOTHING;

-- Model integrity: built-ins are read-only, edits bump the version, and a
-- model always has components (checked at commit, so it can be built up).

-- On Citus the health tables are reference tables: a copy on every node,
-- each with these triggers, fed the same rows in the same order. So each
-- copy's trigger decides alike and bumps the version in its own node's copy
-- of csm.health_model (csm_internal._local_copy()), with the same time and
-- transaction mark on every node (csm_internal._stamp(), csm_internal._xact_mark()). It never
-- runs a distributed query: Citus writes a multi-row INSERT ... SELECT into
-- a reference table with a COPY to every node at once, the coordinator's
-- copy from the session's own backend, whose connections to the workers are
-- busy with that COPY ("another command is already in progress"). On a
-- single node the copy is the table.
CREATE OR REPLACE FUNCTION csm_internal._local_copy(relation regclass) RETURNS regclass
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    copy regclass;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_shard') IS NULL THEN
        RETURN relation;
    END IF;
    EXECUTE 'SELECT pg_catalog.to_regclass(pg_catalog.shard_name(s.logicalrelid, s.shardid)) '
            'FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_placement p ON p.shardid = s.shardid '
            'WHERE s.logicalrelid = $1 AND p.groupid = (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g) '
            'ORDER BY s.shardid LIMIT 1'
        INTO copy USING relation;
    RETURN coalesce(copy, relation);
END $$;
COMMENT ON FUNCTION csm_internal._local_copy(regclass) IS
    'Internal: this node''s copy of a table: its placement here when it is a Citus reference table, else the table itself.';

-- The mark of the transaction that bumped a model (health_model.bumped_by):
-- the transaction id, or on Citus one made of the distributed transaction's
-- timestamp and number, which every node of the transaction sees alike (the
-- number alone starts again when the server restarts; the time does not).
CREATE OR REPLACE FUNCTION csm_internal._xact_mark() RETURNS xid8
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    mark numeric;
BEGIN
    IF to_regproc('pg_catalog.get_current_transaction_id') IS NOT NULL THEN
        -- microseconds since 2000 (< 2^52 until 2140) x 4096 + the number's
        -- low 12 bits: far above any transaction id, below 2^64
        EXECUTE 'SELECT floor(extract(epoch FROM t.transaction_stamp - timestamptz ''2000-01-01 00:00:00+00'') * 1000000) * 4096 '
                '       + t.transaction_number % 4096 '
                'FROM pg_catalog.get_current_transaction_id() t WHERE t.transaction_number > 0'
            INTO mark;
    END IF;
    RETURN coalesce(mark::text::xid8, pg_current_xact_id());
END $$;
COMMENT ON FUNCTION csm_internal._xact_mark() IS
    'Internal: marks the transaction that last bumped a health model: pg_current_xact_id(), or on Citus a mark of the distributed transaction that every node computes alike.';
CREATE OR REPLACE FUNCTION csm_internal._health_model_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.builtin THEN
        RAISE EXCEPTION 'only csm installs built-in health models'
            USING ERRCODE = 'insufficient_privilege', HINT = 'Insert your model with builtin = false.';
    END IF;
    -- (stale_after is not scoring but when a score is stale: settable)
    IF TG_OP = 'UPDATE' AND OLD.builtin AND to_jsonb(NEW) - 'stale_after' = to_jsonb(OLD) - 'stale_after' THEN
        RETURN NEW;
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.builtin THEN
        RAISE EXCEPTION 'health model "%" is built in and cannot be changed', OLD.name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Copy it with csm.copy_health_model(%L, ''my_model'') and edit the copy.', OLD.name);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
COMMENT ON FUNCTION csm_internal._health_model_guard() IS
    'Trigger: built-in models are read-only, but for their stale_after.';
CREATE OR REPLACE TRIGGER health_model_guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.health_model
    FOR EACH ROW EXECUTE FUNCTION csm_internal._health_model_guard();

CREATE OR REPLACE FUNCTION csm_internal._health_model_bump() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (NEW.name, NEW.description, NEW.min_coverage) IS DISTINCT FROM (OLD.name, OLD.description, OLD.min_coverage) THEN
        EXECUTE format('UPDATE %s m SET version = m.version + 1, updated_at = $2, bumped_by = $3 '
                       'WHERE m.name = $1 AND m.bumped_by IS DISTINCT FROM $3',
                       csm_internal._local_copy('@extschema@.health_model'))
            USING NEW.name, csm_internal._stamp(), csm_internal._xact_mark();
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._health_model_bump() IS
    'Trigger: renaming or redescribing a model, or changing its min_coverage, bumps its version once per transaction (on Citus: each node in its own copy, alike).';
CREATE OR REPLACE TRIGGER health_model_bump AFTER UPDATE ON @extschema@.health_model
    FOR EACH ROW EXECUTE FUNCTION csm_internal._health_model_bump();

-- The models a row change touches: its new model, its old one, or both
-- (NEW is NULL in a DELETE trigger, OLD in an INSERT one).
CREATE OR REPLACE FUNCTION csm_internal._models_of(new_model text, old_model text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT m FROM unnest(ARRAY[new_model, old_model]) AS m WHERE m IS NOT NULL
$$;
COMMENT ON FUNCTION csm_internal._models_of(text, text) IS
    'The distinct non-NULL models among a changed row''s new and old model.';

-- Runs BEFORE each row, so it sees the rows of the same statement that came
-- before: a model that has no components yet is being built (or restored
-- by pg_restore, which loads a model's rows before its components) and is
-- not bumped; any other change bumps the version once per transaction.
CREATE OR REPLACE FUNCTION csm_internal._health_part_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    touched text;
    models regclass := csm_internal._local_copy('@extschema@.health_model');
    mark xid8 := csm_internal._xact_mark();
    builtin boolean;
    building boolean;
BEGIN
    FOR touched IN SELECT csm_internal._models_of(NEW.model, OLD.model) LOOP
        -- this node's copies only: no distributed query (see above)
        EXECUTE format('SELECT m.builtin FROM %s m WHERE m.name = $1', models) INTO builtin USING touched;
        IF builtin THEN
            RAISE EXCEPTION 'health model "%" is built in and cannot be changed', touched
                USING ERRCODE = 'insufficient_privilege',
                      HINT = format('Copy it with csm.copy_health_model(%L, ''my_model'') and edit the copy.', touched);
        END IF;
        building := false;
        IF TG_OP = 'INSERT' THEN
            EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s c WHERE c.model = $1)',
                           csm_internal._local_copy('@extschema@.health_component'))
                INTO building USING touched;
        END IF;
        IF building THEN
            EXECUTE format('UPDATE %s m SET bumped_by = $2 WHERE m.name = $1 AND m.bumped_by IS DISTINCT FROM $2', models)
                USING touched, mark;
        ELSE
            EXECUTE format('UPDATE %s m SET version = m.version + 1, updated_at = $3, bumped_by = $2 '
                           'WHERE m.name = $1 AND m.bumped_by IS DISTINCT FROM $2', models)
                USING touched, mark, csm_internal._stamp();
        END IF;
    END LOOP;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
COMMENT ON FUNCTION csm_internal._health_part_guard() IS
    'Trigger: built-in models are read-only; a change to a model''s components or groups bumps its version once per transaction, except while the model is being built.';
CREATE OR REPLACE TRIGGER health_component_guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.health_component
    FOR EACH ROW EXECUTE FUNCTION csm_internal._health_part_guard();
CREATE OR REPLACE TRIGGER health_group_guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.health_group
    FOR EACH ROW EXECUTE FUNCTION csm_internal._health_part_guard();

CREATE OR REPLACE FUNCTION csm_internal._health_model_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    model_name text;
BEGIN
    -- an UPDATE may move a component from one model to another: check both
    FOR model_name IN SELECT csm_internal._models_of(NEW.model, OLD.model) LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM @extschema@.health_model m WHERE m.name = model_name);  -- deleted
        IF NOT EXISTS (SELECT 1 FROM @extschema@.health_component c WHERE c.model = model_name) THEN
            RAISE EXCEPTION 'health model "%" has no components', model_name
                USING ERRCODE = 'check_violation',
                      HINT = 'Insert its components into csm.health_component in the same transaction.';
        END IF;
        IF EXISTS (SELECT 1 FROM @extschema@.health_component c WHERE c.model = model_name AND c.group_name IS NULL)
           AND EXISTS (SELECT 1 FROM @extschema@.health_component c WHERE c.model = model_name AND c.group_name IS NOT NULL) THEN
            RAISE EXCEPTION 'health model "%" mixes grouped and ungrouped components', model_name
                USING ERRCODE = 'check_violation',
                      HINT = 'Give every component a group, or none.';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._health_model_check() IS
    'Constraint trigger, checked at commit: a model keeps at least one component, all grouped or all ungrouped. (A model row inserted alone is a draft that scoring refuses until it has components.)';
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) '@extschema@.health_component'::pg_catalog.regclass AND t.tgname OPERATOR(pg_catalog.=) 'health_component_model_valid') THEN
        CREATE CONSTRAINT TRIGGER health_component_model_valid AFTER INSERT OR UPDATE OR DELETE ON @extschema@.health_component
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION csm_internal._health_model_check();
    END IF;
END $rerunnable$;

CREATE OR REPLACE FUNCTION @extschema@.copy_health_model(source text, new_name text, description text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM csm_internal._require('admin');
    IF NOT EXISTS (SELECT 1 FROM @extschema@.health_model m WHERE m.name = source) THEN
        RAISE EXCEPTION 'health model "%" does not exist', source
            USING ERRCODE = 'undefined_object', HINT = 'See csm.health_model for the models.';
    END IF;
    INSERT INTO @extschema@.health_model (name, description, min_coverage)
    SELECT new_name, coalesce(copy_health_model.description, 'Copy of ' || m.name || ': ' || coalesce(m.description, '')),
           m.min_coverage
    FROM @extschema@.health_model m WHERE m.name = source;
    INSERT INTO @extschema@.health_group (model, name, weight)
    SELECT new_name, g.name, g.weight FROM @extschema@.health_group g WHERE g.model = source;
    INSERT INTO @extschema@.health_component
        (model, metric, group_name, label, weight, direction, green, red, best, worst, min_value, max_value)
    SELECT new_name, c.metric, c.group_name, c.label, c.weight, c.direction, c.green, c.red, c.best, c.worst,
           c.min_value, c.max_value
    FROM @extschema@.health_component c WHERE c.model = source;
    RETURN new_name;
END $$;
COMMENT ON FUNCTION @extschema@.copy_health_model(text, text, text) IS
    'Copies a model (built-in or not) under a new name, to edit it.';

CREATE OR REPLACE FUNCTION @extschema@.csm_health_score(metrics jsonb, model text DEFAULT 'default', lenient boolean DEFAULT false)
RETURNS float8
AS 'MODULE_PATHNAME', 'csm_health_score_jsonb'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.csm_health_score(jsonb, text, boolean) IS
    'Health score (0-100) of a JSON object of metrics under a model. Missing metrics are left out; NULL when all are. A key the model has no metric of is an error (22023, the hint lists the model''s metrics) unless lenient => true.';

CREATE OR REPLACE FUNCTION @extschema@.csm_health_evaluate(metrics jsonb, model text DEFAULT 'default', lenient boolean DEFAULT false)
RETURNS @extschema@.health_result
AS 'MODULE_PATHNAME', 'csm_health_evaluate_jsonb'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.csm_health_evaluate(jsonb, text, boolean) IS
    'Like csm_health_score(jsonb), with band, coverage, model version and per-component detail. The band is unknown when coverage is below the model''s min_coverage.';

-- csm_health_score_row(t, 'model') over a table t is planned as
-- _health_score_values('model', '{metric, ...}', t.metric, ...): the same
-- score, without building and taking apart a row value per row.
CREATE OR REPLACE FUNCTION csm_internal._health_score_values(model text, metrics text[], VARIADIC "any") RETURNS float8
AS 'MODULE_PATHNAME', 'csm_health_score_values'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._health_score_values(text, text[], "any") IS
    'Internal: what csm_health_score_row(t, model) over a table becomes when planned. Scores the values passed, each named by the element of metrics in its position; NULL values are missing.';

CREATE OR REPLACE FUNCTION csm_internal._health_score_row_support(internal) RETURNS internal
AS 'MODULE_PATHNAME', 'csm_health_score_row_support'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._health_score_row_support(internal) IS
    'Internal: planner support for csm_health_score_row, rewriting a call on a table''s whole row into _health_score_values over its metric columns.';

CREATE OR REPLACE FUNCTION @extschema@.csm_health_score_row(metrics record, model text DEFAULT 'default') RETURNS float8
AS 'MODULE_PATHNAME', 'csm_health_score_row'
LANGUAGE C STABLE STRICT PARALLEL SAFE
SUPPORT csm_internal._health_score_row_support;
COMMENT ON FUNCTION @extschema@.csm_health_score_row(record, text) IS
    'Health score of a row whose columns are named after the metrics (such as a csm.account_metrics row), without building JSON.';

CREATE OR REPLACE FUNCTION @extschema@.csm_health_evaluate_row(metrics record, model text DEFAULT 'default')
RETURNS @extschema@.health_result
AS 'MODULE_PATHNAME', 'csm_health_evaluate_row'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.csm_health_evaluate_row(record, text) IS
    'Like csm_health_score_row, with band, coverage, model version and per-component detail.';

CREATE OR REPLACE FUNCTION csm_internal._health_metrics_problem(metrics record, model text) RETURNS text
AS 'MODULE_PATHNAME', 'csm_health_metrics_problem'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._health_metrics_problem(record, text) IS
    'Internal: why csm_health_evaluate_row(metrics, model) would refuse the row''s metric values (NaN, infinite, outside a metric''s domain), or NULL when it would score it. refresh_health uses it to skip bad accounts.';

CREATE OR REPLACE FUNCTION @extschema@.health_band(score float8) RETURNS @extschema@.health_band
AS 'MODULE_PATHNAME', 'csm_health_band'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.health_band(float8) IS
    'green for 90-100, yellow for 70 up to 90, red below 70. Scores outside 0-100 or NaN raise 22003.';

-- The per-component detail of a score, as rows.  A component's zone is the
-- band of its score (green [90, 100], yellow [70, 90), red below 70); a
-- missing metric has NULL value, zone and score, and weight, contribution
-- and points lost 0.
CREATE OR REPLACE FUNCTION @extschema@.health_components(metrics text[], metric_values float8[], component_scores float8[],
                                              component_weights float8[])
RETURNS TABLE (metric text, value float8, zone @extschema@.health_band, score float8, weight float8,
               contribution float8, points_lost float8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT u.metric, u.value, @extschema@.health_band(u.score), u.score, u.weight,
           coalesce(u.weight * u.score, 0), coalesce(u.weight * (100 - u.score), 0)
    FROM unnest(metrics, metric_values, component_scores, component_weights) AS u(metric, value, score, weight)
$$;
COMMENT ON FUNCTION @extschema@.health_components(text[], float8[], float8[], float8[]) IS
    'The per-component detail of a health score as rows: metric, value, zone, score, effective weight, contribution to the score and points lost against a perfect 100.';

CREATE OR REPLACE FUNCTION @extschema@.health_components(result @extschema@.health_result)
RETURNS TABLE (metric text, value float8, zone @extschema@.health_band, score float8, weight float8,
               contribution float8, points_lost float8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM @extschema@.health_components(result.metrics, result.metric_values, result.component_scores,
                                                result.component_weights)
$$;
COMMENT ON FUNCTION @extschema@.health_components(@extschema@.health_result) IS
    'The per-component detail of a csm_health_evaluate result as rows, as csm.health_components(text[], float8[], float8[], float8[]).';

-- csm_internal._forget_accounts deletes a deleted account's scores and history.
CREATE OR REPLACE TRIGGER account_forget_health AFTER DELETE ON @extschema@.account
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION csm_internal._forget_accounts('@extschema@.health_score', '@extschema@.health_history');

CREATE OR REPLACE FUNCTION csm_internal._account_id(external_id text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    SELECT a.account_id INTO id FROM @extschema@.account a WHERE a.external_id = _account_id.external_id;
    -- Read as csm's owner in csm's SECURITY DEFINER functions: an account
    -- outside the caller's book (93_visibility.sql) is unknown to them, with
    -- the same error, so that nothing tells it from one that does not exist.
    IF NOT FOUND OR NOT csm_internal._sees_account(id) THEN
        RAISE EXCEPTION 'account "%" does not exist', external_id
            USING ERRCODE = 'no_data_found', HINT = 'See csm.account for the accounts.';
    END IF;
    RETURN id;
END $$;
COMMENT ON FUNCTION csm_internal._account_id(text) IS 'account_id of an external_id; raises P0002 when there is none, or when it is outside the calling role''s book (csm.enable_row_security()).';

-- The statements csm.refresh_health runs, by step, with parameters $1 the
-- UTC day, $2 NULL (every account), $3 to $5 the metric sources (see
-- csm_internal._account_metrics_sql); stamp, the refresh's instant, is a constant in
-- them. A function of its own so that a test can EXPLAIN exactly them.
CREATE OR REPLACE FUNCTION csm_internal._health_refresh_statements(metrics regclass, stamp timestamptz, distributed boolean)
RETURNS TABLE (step text, statement text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    accounts constant text := format($q$
        SELECT m.account_id, a.external_id, m AS metrics_row, coalesce(mp.model, ms.model, 'default') AS model
        FROM %s m
        JOIN @extschema@.account a ON a.account_id = m.account_id
        LEFT JOIN @extschema@.health_model_map mp ON mp.attribute = 'plan' AND mp.value = a.plan
        LEFT JOIN @extschema@.health_model_map ms ON ms.attribute = 'segment' AND ms.value = a.segment
        WHERE a.status = 'active'$q$,
        -- (a subquery, so that its rows are records: on Citus a worker has
        -- no row type of a coordinator-only relation)
        '(' || CASE WHEN metrics IS NULL THEN csm_internal._account_metrics_sql(scored_only => distributed)
                    ELSE 'SELECT * FROM ' || metrics::text END || ')');
    -- writes the scores of a source with columns account_id and the
    -- fields of csm.health_result
    merge_scores constant text := $q$
        MERGE INTO @extschema@.health_score h
        USING (%1$s) s
        ON h.account_id = s.account_id
        WHEN MATCHED THEN
            UPDATE SET model = s.model, model_version = s.model_version, score = s.score, band = s.band,
                       coverage = s.coverage, metrics = s.metrics, metric_values = s.metric_values,
                       component_scores = s.component_scores, component_weights = s.component_weights,
                       computed_at = %2$L, stale_after = %3$s,
                       band_since = CASE WHEN h.band IS DISTINCT FROM s.band THEN %2$L ELSE h.band_since END
        WHEN NOT MATCHED THEN
            INSERT (account_id, model, model_version, score, band, coverage,
                    metrics, metric_values, component_scores, component_weights, computed_at, stale_after, band_since)
            VALUES (s.account_id, s.model, s.model_version, s.score, s.band, s.coverage,
                    s.metrics, s.metric_values, s.component_scores, s.component_weights, %2$L, %3$s, %2$L)$q$;
    -- On Citus: Citus refuses MERGE with non-immutable functions (scoring
    -- reads the models), and an INSERT ... SELECT whose account_id comes
    -- from the reference table csm.account is not pushed down. So every
    -- active account first gets a row (new accounts only: just their ids
    -- move), and one UPDATE, joined on account_id, scores them all on the
    -- workers; rows left unscored are removed after.
    placeholders constant text := format($q$
        INSERT INTO @extschema@.health_score (account_id, model, model_version, coverage, metrics, metric_values,
                                              component_scores, component_weights, computed_at)
        SELECT a.account_id, '', 0, 0, '{}', '{}', '{}', '{}', '-infinity'
        FROM @extschema@.account a
        LEFT JOIN @extschema@.health_score h ON h.account_id = a.account_id
        WHERE a.status = 'active' AND h.account_id IS NULL$q$);
    update_scores constant text := $q$
        UPDATE @extschema@.health_score h
        SET model = r.model, model_version = r.model_version, score = r.score, band = r.band,
            coverage = r.coverage, metrics = r.metrics, metric_values = r.metric_values,
            component_scores = r.component_scores, component_weights = r.component_weights,
            computed_at = %1$L, stale_after = %2$s,
            band_since = CASE WHEN h.band IS DISTINCT FROM r.band THEN %1$L ELSE h.band_since END
        FROM (%3$s) y
        CROSS JOIN LATERAL @extschema@.csm_health_evaluate_row(y.metrics_row, y.model) r
        WHERE h.account_id = y.account_id$q$;
    -- (in the subquery: Citus refuses a STABLE function of columns in the
    -- WHERE clause of an UPDATE)
    checked constant text := format(
        'SELECT y0.* FROM (%s) y0 WHERE csm_internal._health_metrics_problem(y0.metrics_row, y0.model) IS NULL', accounts);
    -- each score's stale_after: its model's, else the csm.stale_after
    -- setting as this refresh reads it; constants in the statement
    stale_default constant interval := csm_internal._stale_after_default();
    stale_case text;
BEGIN
    -- (this node's copy of the models: on Citus, reading the reference
    -- table again inside a refresh's transaction would switch execution)
    -- (%1$s: the model column, filled in below)
    EXECUTE format($q$SELECT 'CASE ' || string_agg('WHEN %%1$s = ' || quote_literal(m.name) || ' THEN '
                                                   || quote_literal(m.stale_after) || '::interval', ' ' ORDER BY m.name)
                          || ' ELSE ' || quote_literal($1) || '::interval END'
                   FROM %s m WHERE m.stale_after IS NOT NULL$q$,
                   csm_internal._local_copy('@extschema@.health_model'))
        INTO stale_case USING stale_default;
    stale_case := coalesce(stale_case, format('%L::interval', stale_default));
    step := 'accounts';
    statement := accounts;
    RETURN NEXT;
    IF distributed THEN
        step := 'placeholders';
        statement := placeholders;
        RETURN NEXT;
        step := 'score';
        statement := format(update_scores, stamp, format(stale_case, 'r.model'), accounts);
        RETURN NEXT;
        step := 'score_checked';
        statement := format(update_scores, stamp, format(stale_case, 'r.model'), checked);
        RETURN NEXT;
        step := 'unscored';
        statement := $q$DELETE FROM @extschema@.health_score c WHERE c.computed_at = '-infinity'$q$;
        RETURN NEXT;
    ELSE
        step := 'score';
        statement := format(merge_scores, format(
            'SELECT x.account_id, (x.r).* FROM (SELECT y.account_id, @extschema@.csm_health_evaluate_row(y.metrics_row, y.model) AS r FROM (%s) y OFFSET 0) x',
            accounts), stamp, format(stale_case, 's.model'), stamp, format(stale_case, 's.model'));
        RETURN NEXT;
        step := 'score_checked';
        statement := format(merge_scores, format(
            'SELECT x.account_id, (x.r).* FROM (SELECT y.account_id, @extschema@.csm_health_evaluate_row(y.metrics_row, y.model) AS r FROM (%s) y WHERE csm_internal._health_metrics_problem(y.metrics_row, y.model) IS NULL OFFSET 0) x',
            accounts), stamp, format(stale_case, 's.model'), stamp, format(stale_case, 's.model'));
        RETURN NEXT;
    END IF;
    -- The day's history, from the scores just written: those computed at
    -- stamp, the transaction's start (an earlier refresh in the same
    -- transaction wrote the same values again). The instant is a constant
    -- in the statement, which Citus then runs on the workers. An upsert,
    -- not a MERGE: a MERGE joins the scores to the history, and when the
    -- history's statistics say it is empty (a VACUUM or ANALYZE before the
    -- first refresh) the planner joins by a nested loop over a sequential
    -- scan of it, which reads again every row the statement has inserted so
    -- far: quadratic (112 s for a first refresh of 100,000 accounts).
    step := 'history';
    statement := format($q$
        INSERT INTO @extschema@.health_history AS h
            (account_id, day, model, model_version, score, band, coverage, computed_at)
        SELECT c.account_id, (c.computed_at AT TIME ZONE 'UTC')::date, c.model, c.model_version,
               c.score, c.band, c.coverage, c.computed_at
        FROM @extschema@.health_score c
        WHERE c.computed_at = %L::timestamptz
        ON CONFLICT ON CONSTRAINT health_history_pkey DO UPDATE
        SET model = excluded.model, model_version = excluded.model_version, score = excluded.score,
            band = excluded.band, coverage = excluded.coverage, computed_at = excluded.computed_at$q$,
        stamp);
    RETURN NEXT;
END $$;
COMMENT ON FUNCTION csm_internal._health_refresh_statements(regclass, timestamptz, boolean) IS
    'Internal: the statements csm.refresh_health runs (accounts, placeholders, score, score_checked, unscored, history), with parameters $1 day, $2 NULL, $3-$5 metric sources.';

CREATE OR REPLACE FUNCTION @extschema@.refresh_health(metrics regclass DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    source regclass := coalesce(metrics, '@extschema@.account_metrics'::regclass);
    -- One instant for the whole refresh, written as a constant: on Citus
    -- each worker's now() is its own transaction's start.
    stamp constant timestamptz := now();
    today constant date := (now() AT TIME ZONE 'UTC')::date;
    distributed constant boolean := csm_internal._is_distributed('@extschema@.health_score');
    sources record;
    expected text[];
    scored bigint;
    changed bigint[];  -- (single node)
    changed_from text;  -- (Citus)
    changed_count bigint;
    routed bigint[];
    expired bigint[];
    -- what it runs, by step (see csm_internal._health_refresh_statements)
    statements jsonb := (SELECT jsonb_object_agg(t.step, t.statement) FROM csm_internal._health_refresh_statements(metrics, stamp, distributed) t);
    accounts constant text := statements ->> 'accounts';
    account record;
    skipped bigint := 0;
    started constant timestamptz := clock_timestamp();
BEGIN
    PERFORM csm_internal._require('operate');
    -- On Citus, routing at the end locks csm.team_member rows (a reference
    -- table), which Citus refuses after a query that read shards over several
    -- connections at once: with rules that read health, one connection per
    -- worker from the start (as csm_internal._lock_ownership()).
    IF distributed
       AND EXISTS (SELECT FROM @extschema@.routing_rule r
                   WHERE r.enabled AND r.condition IS NOT NULL
                     AND @extschema@.condition_attributes(r.condition) && ARRAY['health_band', 'health_score']) THEN
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    ELSIF distributed THEN
        -- Otherwise one connection per worker, the workers in parallel: the
        -- alerts and playbooks at the end write shards colocated with the
        -- scores, and a statement's hook may read them all (csm.cta,
        -- csm_internal._settle_conversations()); once a slow scoring UPDATE has had
        -- Citus open a second connection to a worker, Citus refuses that
        -- ("cannot perform query with placements that were modified over
        -- multiple connections", seen at 250,000 accounts).
        PERFORM set_config('citus.max_adaptive_executor_pool_size', '1', true);
    END IF;
    -- (after the setting above: it reads csm.conversation)
    sources := csm_internal._account_metric_sources();
    IF metrics IS NOT NULL THEN
        PERFORM csm_internal._check_metrics_relation(metrics);
    END IF;
    -- A relation without a single metric column of the models in use would
    -- overwrite every score with NULL.
    SELECT array_agg(DISTINCT c.metric ORDER BY c.metric) INTO expected
    FROM @extschema@.health_component c
    WHERE c.model = 'default' OR c.model IN (SELECT mm.model FROM @extschema@.health_model_map mm);
    IF NOT EXISTS (SELECT FROM pg_attribute t
                   WHERE t.attrelid = source AND t.attname = 'account_id' AND t.attnum > 0 AND NOT t.attisdropped) THEN
        RAISE EXCEPTION 'relation % has no column account_id', source
            USING ERRCODE = 'undefined_column',
                  HINT = 'Pass a table or view with an account_id column and columns named after metrics, such as csm.account_metrics.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute t
                   WHERE t.attrelid = source AND t.attname = ANY (expected) AND t.attnum > 0 AND NOT t.attisdropped) THEN
        RAISE EXCEPTION 'relation % has none of the metric columns of the health models in use', source
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Give it columns named after metrics: %s.', array_to_string(expected, ', '));
    END IF;

    -- One refresh at a time (readers are not blocked): the scores' MERGE,
    -- unlike INSERT ... ON CONFLICT, raises a unique violation when a concurrent
    -- transaction inserts the same key.  MERGE because the conflict check
    -- of ON CONFLICT probes the primary key once more per row and takes a
    -- lock per row, which cost a refresh of 1M accounts about a third of
    -- its time.
    LOCK TABLE @extschema@.health_score, @extschema@.health_history IN SHARE ROW EXCLUSIVE MODE;

    -- A NOTICE at every 10% of the accounts, when the client wants notices
    -- and there are 10,000 or more (single node; csm_internal._progress_begin,
    -- src/sql/95_platform/92_settings.sql): a counter per row in the scoring
    -- statement, left out otherwise.
    IF csm_internal._progress_begin('refresh_health') THEN
        -- (in the select list: in a WHERE clause its guessed selectivity
        -- would change the plan)
        statements := jsonb_set(statements, '{score}', to_jsonb(replace(statements ->> 'score', ' AS r FROM (',
            ' AS r, csm_internal._progress(''refresh_health'', y.account_id) AS progress FROM (')));
    END IF;

    -- Metrics come from csm.account_metrics, or from a table or view of the
    -- caller's with an account_id column and columns named after metrics.
    -- All accounts in one statement; when one account's metrics are bad
    -- (NaN, infinite, outside a metric's domain), again without the bad
    -- ones, which are reported.
    BEGIN
        IF distributed THEN
            EXECUTE statements ->> 'placeholders';
            EXECUTE statements ->> 'score'
                USING today, NULL::bigint, sources.has_users, sources.has_features, sources.has_tickets;
        ELSE
            EXECUTE statements ->> 'score'
                USING today, NULL::bigint, sources.has_users, sources.has_features, sources.has_tickets;
        END IF;
        GET DIAGNOSTICS scored = ROW_COUNT;
    EXCEPTION WHEN data_exception THEN
        IF distributed THEN
            -- again: they drive the metrics query there
            EXECUTE statements ->> 'placeholders';
        END IF;
        -- Find the bad accounts in one pass (no subtransaction per account),
        -- report them, and score the others.
        FOR account IN EXECUTE format(
            'SELECT y.external_id, y.model, p.problem FROM (%s) y CROSS JOIN LATERAL csm_internal._health_metrics_problem(y.metrics_row, y.model) AS p(problem) WHERE p.problem IS NOT NULL ORDER BY y.account_id',
            accounts)
            USING today, NULL::bigint, sources.has_users, sources.has_features, sources.has_tickets LOOP
            skipped := skipped + 1;
            IF skipped <= 10 THEN
                RAISE WARNING 'refresh_health skipped account "%": %', account.external_id, account.problem
                    USING DETAIL = format('Model "%s". The account keeps its last score.', account.model),
                          HINT = 'Correct its metrics and refresh again.';
            END IF;
        END LOOP;
        IF skipped > 10 THEN
            RAISE WARNING 'refresh_health skipped % accounts in all, % more than reported above', skipped, skipped - 10;
        END IF;
        IF distributed THEN
            EXECUTE statements ->> 'score_checked'
                USING today, NULL::bigint, sources.has_users, sources.has_features, sources.has_tickets;
        ELSE
            EXECUTE statements ->> 'score_checked'
                USING today, NULL::bigint, sources.has_users, sources.has_features, sources.has_tickets;
        END IF;
        GET DIAGNOSTICS scored = ROW_COUNT;
    END;
    IF distributed THEN
        -- active accounts that were not scored (not in the source, or skipped)
        EXECUTE statements ->> 'unscored';
    END IF;

    -- The accounts whose band this refresh changed (band_since, set by the
    -- scoring statement; accounts scored for the first time count): the
    -- routing rules that read health, the health_band alerts and the
    -- health_band playbooks act on those, not on every account
    -- (csm.run_alerts() and csm.run_playbooks() go over all).  The
    -- playbooks also look at the accounts whose override has expired (their
    -- effective band may have changed with no refresh).
    -- On Citus the changed accounts stay on the shards: a query over the
    -- scores, not an array (an array of every account, at a first refresh,
    -- would be copied into each statement's task on every shard; see
    -- csm_internal._accounts_in).
    IF distributed THEN
        changed_from := format('SELECT b.account_id FROM @extschema@.health_score b WHERE b.band_since = %L::timestamptz', stamp);
        EXECUTE format('SELECT count(*) FROM (%s) b', changed_from) INTO changed_count;
    ELSE
        changed := ARRAY(SELECT c.account_id FROM @extschema@.health_score c
                         WHERE c.band_since OPERATOR(pg_catalog.=) stamp);
        changed_count := cardinality(changed);
    END IF;
    expired := ARRAY(SELECT DISTINCT o.account_id FROM @extschema@.health_override o
                     WHERE o.cleared_at IS NULL AND o.expires_at OPERATOR(pg_catalog.<=) stamp);

    EXECUTE statements ->> 'history';
    IF changed_count > 0 THEN
        IF EXISTS (SELECT FROM @extschema@.routing_rule r
                   WHERE r.enabled AND r.condition IS NOT NULL
                     AND @extschema@.condition_attributes(r.condition) && ARRAY['health_band', 'health_score']) THEN
            IF distributed THEN
                EXECUTE format('SELECT pg_catalog.array_agg(b.account_id) FROM (%s) b', changed_from) INTO routed;
            END IF;
            PERFORM @extschema@.apply_routing(coalesce(changed, routed), ARRAY['health_band', 'health_score']);
        END IF;
        -- health_band alerts (86_alert.sql, defined later: called by name)
        PERFORM csm_internal._raise_alerts(ARRAY['health_band'], changed, changed_from);
    END IF;
    -- Playbooks fired by a health band (85_playbook.sql), in this transaction.
    IF distributed THEN
        -- (two firings: Citus runs no union of two distributed queries as a
        -- join on the shards; an account in both is blocked the second time
        -- by its CTA of the first, or kept open)
        IF changed_count > 0 THEN
            PERFORM csm_internal._fire_playbooks(ARRAY['health_band'], NULL, 'refresh_health', accounts_from => changed_from);
        END IF;
        IF cardinality(expired) > 0 THEN
            PERFORM csm_internal._fire_playbooks(ARRAY['health_band'], expired, 'refresh_health');
        END IF;
    ELSIF changed_count + cardinality(expired) > 0 THEN
        PERFORM csm_internal._fire_playbooks(ARRAY['health_band'], changed || expired, 'refresh_health');
    END IF;
    -- the segment benchmarks csm.assess_health reads (46_benchmark.sql)
    PERFORM csm_internal._keep_health_benchmark();
    PERFORM csm_internal._run_finished('health', started, scored, skipped);
    RETURN scored;
END $$;
COMMENT ON FUNCTION @extschema@.refresh_health(regclass) IS
    'Scores every active account with its mapped model, from csm.account_metrics or from the given table or view (account_id plus columns named after metrics); writes csm.health_score and one csm.health_history row per account per UTC day (idempotent within a day); for the accounts whose band it changed (csm.health_score.band_since), applies the routing rules that read health_band or health_score (csm.apply_routing), raises the health_band alerts and fires the health_band playbooks (with the accounts whose health override expired); csm.run_alerts() and csm.run_playbooks() look at every account. Returns the accounts scored. An account whose metrics are bad (NaN, infinite, outside a metric''s domain) is skipped with a WARNING naming it and keeps its last score; the others are scored. Errors: 42703 no account_id column, 22023 none of the metric columns of the models in use (default and mapped), 42804 a metric column that is not numeric. Schedule it with pg_cron.';

-- A live score reads an account's rows on every shard: on Citus it cannot
-- run inside a query Citus pushed to a worker (a per-row call over a
-- distributed table), where it would be a distributed query from a shard.
CREATE OR REPLACE FUNCTION csm_internal._health_live_check(fn text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('application_name') LIKE 'citus\_internal%' THEN
        RAISE EXCEPTION '% cannot run inside a query that Citus runs on a worker', fn
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call it on its own or over csm.account (a reference table); over many accounts read csm.account_health or score csm.account_metrics with csm_health_score_row.';
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._health_live_check(text) IS
    'Internal: raises 55000 when a live health function is called inside a query Citus runs on a worker.';

CREATE OR REPLACE FUNCTION @extschema@.csm_health_score(external_id text) RETURNS float8
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    result float8;
BEGIN
    -- An agent passing a JSON object of metrics as plain text means the jsonb form.
    IF ltrim(external_id) LIKE '{%' OR ltrim(external_id) LIKE '[%' THEN
        RETURN @extschema@.csm_health_score(external_id::jsonb, 'default');
    END IF;
    PERFORM csm_internal._health_live_check('csm_health_score(external_id)');
    id := csm_internal._account_id(external_id);
    SELECT @extschema@.csm_health_score_row(m, @extschema@.health_model_for(a.segment, a.plan)) INTO result
    FROM @extschema@.account_metrics_at((now() AT TIME ZONE 'UTC')::date, id) m
    JOIN @extschema@.account a ON a.account_id = m.account_id
    WHERE a.account_id = id;  -- an index lookup, not a hash of every account
    RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@.csm_health_score(text) IS
    'Live health score of one account from its current metrics and mapped model, no refresh needed. Unknown account: P0002. JSON passed as text is scored as metrics with the default model.';

CREATE OR REPLACE FUNCTION @extschema@.explain_health(external_id text)
RETURNS TABLE (metric text, label text, value float8, zone @extschema@.health_band, score float8, weight float8,
               contribution float8, points_lost float8)
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint := csm_internal._account_id(external_id);
    result @extschema@.health_result;
BEGIN
    PERFORM csm_internal._health_live_check('explain_health');
    SELECT (@extschema@.csm_health_evaluate_row(m, @extschema@.health_model_for(a.segment, a.plan))).* INTO result
    FROM @extschema@.account_metrics_at((now() AT TIME ZONE 'UTC')::date, id) m
    JOIN @extschema@.account a ON a.account_id = m.account_id
    WHERE a.account_id = id;  -- an index lookup, not a hash of every account
    RETURN QUERY
    SELECT c.metric, hc.label, c.value, c.zone, c.score, c.weight, c.contribution, c.points_lost
    FROM @extschema@.health_components(result) c
    LEFT JOIN @extschema@.health_component hc ON hc.model = result.model AND hc.metric = c.metric
    ORDER BY c.points_lost DESC, c.value IS NULL, c.metric;
END $$;
COMMENT ON FUNCTION @extschema@.explain_health(text) IS
    'Why an account scores what it does, live: one row per component with its value, zone, score, effective weight, contribution and the points lost against a perfect 100, worst first. Missing metrics show a NULL value and weight 0.';

CREATE OR REPLACE FUNCTION @extschema@.override_health(external_id text, score float8, reason text, expires_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    new_id bigint;
BEGIN
    PERFORM csm_internal._require('operate');
    id := csm_internal._account_id(external_id);
    IF expires_at IS NOT NULL AND expires_at <= now() THEN
        RAISE EXCEPTION 'override would expire at %, which is not in the future', expires_at
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give an expiry in the future, or NULL for none.';
    END IF;
    UPDATE @extschema@.health_override o SET cleared_at = now(), cleared_by = csm_internal._caller()
    WHERE o.account_id = id AND o.cleared_at IS NULL;
    INSERT INTO @extschema@.health_override (account_id, score, reason, expires_at)
    VALUES (id, score, reason, expires_at)
    RETURNING override_id INTO new_id;
    PERFORM @extschema@.apply_routing(ARRAY[id], ARRAY['health_band', 'health_score']);
    RETURN new_id;
END $$;
COMMENT ON FUNCTION @extschema@.override_health(text, float8, text, timestamptz) IS
    'Overrides an account''s effective health score until expires_at (NULL: until cleared), replacing any earlier override. The computed score is kept and shown beside it. Errors: P0002 unknown account, 23514 score outside 0-100 or blank reason, 22023 expiry not in the future.';

CREATE OR REPLACE FUNCTION @extschema@.clear_health_override(external_id text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    PERFORM csm_internal._require('operate');
    id := csm_internal._account_id(external_id);
    UPDATE @extschema@.health_override o SET cleared_at = now(), cleared_by = csm_internal._caller()
    WHERE o.account_id = id AND o.cleared_at IS NULL;
    IF FOUND THEN
        PERFORM @extschema@.apply_routing(ARRAY[id], ARRAY['health_band', 'health_score']);
        RETURN true;
    END IF;
    RETURN false;
END $$;
COMMENT ON FUNCTION @extschema@.clear_health_override(text) IS
    'Ends an account''s override; returns false when it had none.';

CREATE OR REPLACE FUNCTION @extschema@.sparkline(points float8[], low float8 DEFAULT 0, high float8 DEFAULT 100) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(
               CASE WHEN p IS NULL OR p = 'NaN' THEN ' '
                    ELSE substr('▁▂▃▄▅▆▇█',
                                1 + least(7, greatest(0, floor((p - low) / nullif(high - low, 0) * 8)))::integer, 1)
               END, '' ORDER BY i)
    FROM unnest(points) WITH ORDINALITY AS t(p, i)
$$;
COMMENT ON FUNCTION @extschema@.sparkline(float8[], float8, float8) IS
    'Draws numbers as ▁▂▃▄▅▆▇█ between low and high (0-100 by default, for health scores); NULL or NaN points are blank.';

CREATE OR REPLACE VIEW @extschema@.account_health WITH (security_invoker = true) AS
SELECT a.account_id,
       a.external_id,
       a.name,
       a.segment,
       a.plan,
       a.arr,
       coalesce(o.score, h.score) AS score,
       CASE WHEN o.score IS NOT NULL THEN @extschema@.health_band(o.score) ELSE h.band END AS band,
       h.score AS computed_score,
       h.band AS computed_band,
       o.score AS override_score,
       o.reason AS override_reason,
       o.expires_at AS override_expires_at,
       o.created_by AS override_by,
       h.coverage,
       h.model,
       h.model_version,
       h.computed_at,
       -- no session setting decides it: the model's stale_after, written
       -- with the score by csm.refresh_health (see the columns above)
       now() - h.computed_at > h.stale_after AS stale,
       h.score - w.score AS change_7d,
       h.score - mth.score AS change_30d,
       CASE WHEN h.score - w.score > 2 THEN 'up'
            WHEN h.score - w.score < -2 THEN 'down'
            WHEN w.score IS NOT NULL THEN 'flat' END AS trend,
       -- columns new in 0.2.0 come after 0.1.0's, so that CREATE OR REPLACE
       -- VIEW works over a 0.1.0 install; then the vocabulary's names
       -- (README "Dashboards and BI"): name, band, computed_band and
       -- coverage above are deprecated
       now() - h.computed_at AS score_age,
       a.name AS account_name,
       CASE WHEN o.score IS NOT NULL THEN @extschema@.health_band(o.score) ELSE h.band END AS health_band,
       h.band AS computed_health_band,
       h.coverage AS coverage_ratio
FROM @extschema@.account a
LEFT JOIN @extschema@.health_score h ON h.account_id = a.account_id
LEFT JOIN LATERAL (
    SELECT ov.score, ov.reason, ov.expires_at, ov.created_by
    FROM @extschema@.health_override ov
    WHERE ov.account_id = a.account_id AND ov.cleared_at IS NULL AND (ov.expires_at IS NULL OR ov.expires_at > now())
    ORDER BY ov.override_id DESC LIMIT 1) o ON true
LEFT JOIN LATERAL (
    SELECT hh.score FROM @extschema@.health_history hh
    WHERE hh.account_id = a.account_id AND hh.day <= (h.computed_at AT TIME ZONE 'UTC')::date - 7
    ORDER BY hh.day DESC LIMIT 1) w ON true
LEFT JOIN LATERAL (
    SELECT hh.score FROM @extschema@.health_history hh
    WHERE hh.account_id = a.account_id AND hh.day <= (h.computed_at AT TIME ZONE 'UTC')::date - 30
    ORDER BY hh.day DESC LIMIT 1) mth ON true;
COMMENT ON VIEW @extschema@.account_health IS
    'Effective health per account: the override while one is in effect, else the computed score, always shown side by side. score_age is now() - computed_at; stale is true when score_age exceeds the model''s stale_after (csm.health_model.stale_after, else the csm.stale_after setting read at refresh time, 26h): no session setting changes what it shows. change_7d/30d compare with the history from 7/30 days before; trend is up or down beyond 2 points over 7 days, else flat.';

-- On Citus the view above cannot run: csm.account is a reference table,
-- and Citus pushes a reference table outer-joined to distributed ones down
-- only when the distributed side is joined on account_id, with no LATERAL
-- subquery. csm.distribute() replaces it with this form, whose per-account
-- parts (latest override, the score 7 and 30 days before) are computed on
-- the workers, keyed by account_id. On a single node the LATERAL form
-- stays: reading one account there is an index lookup, where this one
-- would sort every account's history.
CREATE OR REPLACE FUNCTION csm_internal._health_views_for_citus() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    CREATE OR REPLACE VIEW @extschema@.account_health WITH (security_invoker = true) AS
    SELECT a.account_id,
           a.external_id,
           a.name,
           a.segment,
           a.plan,
           a.arr,
           coalesce(o.score, h.score) AS score,
           CASE WHEN o.score IS NOT NULL THEN @extschema@.health_band(o.score) ELSE h.band END AS band,
           h.score AS computed_score,
           h.band AS computed_band,
           o.score AS override_score,
           o.reason AS override_reason,
           o.expires_at AS override_expires_at,
           o.created_by AS override_by,
           h.coverage,
           h.model,
           h.model_version,
           h.computed_at,
           now() - h.computed_at > h.stale_after AS stale,
           h.score - w.score AS change_7d,
           h.score - mth.score AS change_30d,
           CASE WHEN h.score - w.score > 2 THEN 'up'
                WHEN h.score - w.score < -2 THEN 'down'
                WHEN w.score IS NOT NULL THEN 'flat' END AS trend,
           now() - h.computed_at AS score_age,
           a.name AS account_name,
           CASE WHEN o.score IS NOT NULL THEN @extschema@.health_band(o.score) ELSE h.band END AS health_band,
           h.band AS computed_health_band,
           h.coverage AS coverage_ratio
    FROM @extschema@.account a
    LEFT JOIN @extschema@.health_score h ON h.account_id = a.account_id
    LEFT JOIN (
        SELECT DISTINCT ON (ov.account_id) ov.account_id, ov.score, ov.reason, ov.expires_at, ov.created_by
        FROM @extschema@.health_override ov
        WHERE ov.cleared_at IS NULL AND (ov.expires_at IS NULL OR ov.expires_at > now())
        ORDER BY ov.account_id, ov.override_id DESC) o ON o.account_id = a.account_id
    LEFT JOIN (
        SELECT DISTINCT ON (hh.account_id) hh.account_id, hh.score
        FROM @extschema@.health_history hh
        JOIN @extschema@.health_score hs ON hs.account_id = hh.account_id
        WHERE hh.day <= (hs.computed_at AT TIME ZONE 'UTC')::date - 7
        ORDER BY hh.account_id, hh.day DESC) w ON w.account_id = a.account_id
    LEFT JOIN (
        SELECT DISTINCT ON (hh.account_id) hh.account_id, hh.score
        FROM @extschema@.health_history hh
        JOIN @extschema@.health_score hs ON hs.account_id = hh.account_id
        WHERE hh.day <= (hs.computed_at AT TIME ZONE 'UTC')::date - 30
        ORDER BY hh.account_id, hh.day DESC) mth ON mth.account_id = a.account_id;
END $fn$;
REVOKE ALL ON FUNCTION csm_internal._health_views_for_citus() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._health_views_for_citus() IS
    'Internal: csm.distribute() calls it to give csm.account_health the form Citus runs on the workers (same columns and answers).';

-- Grouped by the history's account_id: on Citus each worker then builds
-- the trends of its own accounts.
CREATE OR REPLACE VIEW @extschema@.health_trend WITH (security_invoker = true) AS
SELECT hh.account_id,
       a.external_id,
       array_agg(hh.score ORDER BY hh.day) AS scores,
       @extschema@.sparkline(array_agg(hh.score ORDER BY hh.day)) AS sparkline,
       min(hh.day) AS since,
       min(hh.day) AS since_date
FROM @extschema@.account a
JOIN @extschema@.health_history hh ON hh.account_id = a.account_id
WHERE hh.day > (now() AT TIME ZONE 'UTC')::date - 30
GROUP BY hh.account_id, a.external_id;
COMMENT ON VIEW @extschema@.health_trend IS 'The last 30 days of daily health scores per account, with a sparkline.';

CREATE OR REPLACE VIEW @extschema@.health_score_component WITH (security_invoker = true) AS
SELECT h.account_id, h.model, h.model_version, c.metric, c.value, c.zone, c.score, c.weight, c.contribution,
       c.points_lost, h.computed_at, a.external_id
FROM @extschema@.health_score h
JOIN @extschema@.account a ON a.account_id = h.account_id
CROSS JOIN LATERAL @extschema@.health_components(h.metrics, h.metric_values, h.component_scores,
                                                 h.component_weights) c;
COMMENT ON VIEW @extschema@.health_score_component IS
    'The per-component detail of every current computed score (csm.health_score), one row per account and component.';
