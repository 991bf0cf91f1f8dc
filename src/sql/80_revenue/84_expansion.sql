
INSERT INTO @extschema@.expansion_signal_kind (signal, label, description, params, likelihood, play) VALUES
    ('plan_limit', 'Approaching plan limits',
     'Seats used are at least min_ratio of the licensed seats, or the events of the last window_days are at least min_ratio of a usage cap in properties. Seats used: properties.seats_used when it is a number, else the distinct users active in the last window_days. properties.usage_cap is a number (a cap on all events per window_days) or an object of caps per feature. Seed: expansion_signal, "Usage approaching plan limits".',
     '{"min_ratio": 0.9, "window_days": 30}', 0.5,
     'Proactive upgrade discussion: document the value delivered, build the business case with sales and present the next plan or seat block before the limit bites (seed: expansion_signal, playbook expansion_nurture).'),
    ('user_growth', 'Active users growing',
     'Distinct active users of the last window_days are at least min_growth (a fraction) above those of the window_days before, which had at least min_prior_users. Seed: user_expansion.',
     '{"min_growth": 0.2, "window_days": 30, "min_prior_users": 5}', 0.3,
     'Seat expansion: department-level rollout and champion development; size the next seat block with the customer (seed: user_expansion).'),
    ('new_feature_area', 'New feature areas adopted',
     'At least min_new features used in the last window_days were not used in the lookback_days before, by an account that used at least one feature then. Seed: use_case_expansion.',
     '{"min_new": 1, "window_days": 30, "lookback_days": 90}', 0.2,
     'Use-case expansion: identify the adjacent use case, offer a proof of concept or the advanced capability (seed: use_case_expansion).'),
    ('usage_milestone', 'Usage milestone reached',
     'In the last window_days the account''s events since it started passed one of event_milestones, or its distinct active users (over window_days) reached one of user_milestones. Seed: usage_milestones, "1000th API call, 100th user".',
     '{"window_days": 30, "event_milestones": [1000, 10000, 100000, 1000000], "user_milestones": [100, 1000]}', 0.1,
     'Congratulatory message and success story request (seed: usage_milestones).'),
    ('advocacy', 'Healthy promoter',
     'The latest computed health score (csm.health_history, at most health_max_age_days old) is at least min_health, and the latest NPS answer (at most nps_max_age_days old) is at least min_nps. Seed: advocacy_development, "NPS 9-10 + success outcomes".',
     '{"min_health": 90, "min_nps": 9, "health_max_age_days": 7, "nps_max_age_days": 180}', 0.2,
     'Advocacy: request a case study or reference, invite to the advocacy program, and raise expansion in the same conversation (seed: advocacy_development).')
ON CONFLICT DO NOTHING;

-- The kinds are csm's: a change would be lost by pg_dump, which leaves them
-- out (CREATE EXTENSION installs them).
CREATE OR REPLACE FUNCTION csm_internal._expansion_signal_kind_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'expansion signal kinds are installed by csm and cannot be changed'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Change a signal''s thresholds, likelihood or enabled flag in csm.expansion_signal_setting.';
END $$;
COMMENT ON FUNCTION csm_internal._expansion_signal_kind_guard() IS
    'Trigger: csm.expansion_signal_kind is read-only (42501); settings go in csm.expansion_signal_setting.';
CREATE OR REPLACE TRIGGER expansion_signal_kind_guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.expansion_signal_kind
    FOR EACH ROW EXECUTE FUNCTION csm_internal._expansion_signal_kind_guard();

-- A setting may only change thresholds the signal has, to sensible values.
CREATE OR REPLACE FUNCTION csm_internal._expansion_signal_setting_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    defaults jsonb;
    k text;
    v jsonb;
BEGIN
    SELECT c.params INTO defaults FROM @extschema@.expansion_signal_kind c WHERE c.signal = NEW.signal;
    IF defaults IS NULL OR jsonb_typeof(NEW.params) IS DISTINCT FROM 'object' THEN
        RETURN NEW;  -- a foreign key or CHECK violation about to be raised
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM jsonb_each(NEW.params) AS e LOOP
        IF NOT defaults ? k THEN
            RAISE EXCEPTION 'expansion signal "%" has no parameter "%"', NEW.signal, k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Its parameters are %s.',
                                    (SELECT string_agg(d.key, ', ' ORDER BY d.key) FROM jsonb_object_keys(defaults) AS d(key)));
        END IF;
        IF k LIKE '%\_milestones' THEN
            IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) AS m(x)
                          WHERE jsonb_typeof(m.x) <> 'number' OR (m.x #>> '{}')::numeric < 1
                             OR (m.x #>> '{}')::numeric <> trunc((m.x #>> '{}')::numeric)) THEN
                RAISE EXCEPTION 'parameter "%" of expansion signal "%" must be a non-empty array of whole numbers >= 1', k, NEW.signal
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', v);
            END IF;
        ELSIF jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric < 0 THEN
            RAISE EXCEPTION 'parameter "%" of expansion signal "%" must be a number >= 0', k, NEW.signal
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', v);
        ELSIF k LIKE '%\_days' AND ((v #>> '{}')::numeric < 1 OR (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric)
                                    OR (v #>> '{}')::numeric > 3650) THEN
            RAISE EXCEPTION 'parameter "%" of expansion signal "%" must be a whole number of days from 1 to 3650', k, NEW.signal
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', v);
        END IF;
    END LOOP;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._expansion_signal_setting_check() IS
    'Trigger: a setting changes only parameters the signal has: numbers >= 0, whole numbers of days from 1 to 3650 for _days, non-empty arrays of whole numbers >= 1 for _milestones. Raises 22023.';
CREATE OR REPLACE TRIGGER expansion_signal_setting_check BEFORE INSERT OR UPDATE ON @extschema@.expansion_signal_setting
    FOR EACH ROW EXECUTE FUNCTION csm_internal._expansion_signal_setting_check();

CREATE OR REPLACE VIEW @extschema@.expansion_signal_config WITH (security_invoker = true) AS
SELECT k.signal,
       k.label,
       k.description,
       coalesce(s.enabled, true) AS enabled,
       k.params || coalesce(s.params, '{}') AS params,
       coalesce(s.likelihood, k.likelihood) AS likelihood,
       k.play,
       s.signal IS NOT NULL AS customized
FROM @extschema@.expansion_signal_kind k
LEFT JOIN @extschema@.expansion_signal_setting s ON s.signal = k.signal;
COMMENT ON VIEW @extschema@.expansion_signal_config IS
    'Every expansion signal as refresh_expansion() and identify_expansion() use it: the kind with your settings applied (thresholds merged key by key, likelihood, enabled).';

-- csm_internal._forget_accounts deletes a deleted account's signals.
CREATE OR REPLACE TRIGGER account_forget_expansion AFTER DELETE ON @extschema@.account
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION csm_internal._forget_accounts('@extschema@.expansion_signal');

-- Detection ------------------------------------------------------------------------

-- Distinct keys per time window, in one pass over an account's rows (C,
-- src/expansion.c): the users active in each window, the features used in
-- a window and not in the one before.  bounds: the windows as pairs of
-- days, (after, through], at most 8.  The two aggregates share their
-- transition (and so their state, when called on the same arguments).
CREATE OR REPLACE FUNCTION csm_internal._expansion_window_trans(internal, text, date, bigint, date[]) RETURNS internal
AS 'MODULE_PATHNAME', 'csm_expansion_window_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._expansion_window_trans(internal, text, date, bigint, date[]) IS
    'Internal: transition function of csm_internal._expansion_window_counts and csm_internal._expansion_window_new: sums each key''s events per window. Raises 22023 for bounds that are not 1 to 8 pairs of non-NULL dates.';
CREATE OR REPLACE FUNCTION csm_internal._expansion_window_counts_final(internal) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'csm_expansion_window_counts_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._expansion_window_counts_final(internal) IS 'Internal: final function of csm_internal._expansion_window_counts.';
CREATE OR REPLACE FUNCTION csm_internal._expansion_window_new_final(internal) RETURNS text[]
AS 'MODULE_PATHNAME', 'csm_expansion_window_new_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._expansion_window_new_final(internal) IS 'Internal: final function of csm_internal._expansion_window_new.';
CREATE OR REPLACE AGGREGATE csm_internal._expansion_window_counts(key text, day date, events bigint, bounds date[]) (
    SFUNC = csm_internal._expansion_window_trans,
    STYPE = internal,
    FINALFUNC = csm_internal._expansion_window_counts_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE csm_internal._expansion_window_counts(text, date, bigint, date[]) IS
    'Internal: per window of bounds (pairs of days, (after, through]), how many distinct keys (bytewise) have a sum of events > 0 on its days. Over rows with events > 0: count(DISTINCT key COLLATE "C") FILTER (WHERE day in the window), every window in one pass.';
CREATE OR REPLACE AGGREGATE csm_internal._expansion_window_new(key text, day date, events bigint, bounds date[]) (
    SFUNC = csm_internal._expansion_window_trans,
    STYPE = internal,
    FINALFUNC = csm_internal._expansion_window_new_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE csm_internal._expansion_window_new(text, date, bigint, date[]) IS
    'Internal: the keys whose events sum to > 0 in the first window of bounds and not in the second (unordered); 22023 with fewer than two windows.';

-- Windows end at as_of, as in csm.churn_signals_at: "the last 30 days" of
-- usage are the 30 UTC days up to and including as_of's; of timestamps,
-- (as_of - 30 days, as_of].  Usage is read from the folded counters plus
-- the pending deltas.
CREATE OR REPLACE FUNCTION @extschema@.expansion_signals_at(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET work_mem = '128MB'
SET jit = off
-- Each rollup grouped in account order (from its primary key, or sorted)
-- and the groups merged: a hash table of a state per account costs twice
-- as much, and the planner, blind to the number of accounts behind a
-- UNION ALL, would take it.  Nor nested loops (but where a LATERAL needs
-- one): with hash joins off, a planner that thinks an account CTE holds a
-- row or two (tables just written, no statistics yet) loops over it and
-- scans a rollup's aggregate again for each account.  A pgTAP run of this
-- function over a few hundred generated accounts once spun for minutes so.
SET enable_hashagg = off
SET enable_hashjoin = off
SET enable_nestloop = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p jsonb;
    on_signals text[];
    today date;
    pl_ratio numeric;  pl_days integer;
    ug_growth numeric; ug_days integer;  ug_min numeric;
    nf_min numeric;    nf_days integer;  nf_back integer;
    um_days integer;   um_event_marks numeric[]; um_user_marks numeric[];
    ad_health numeric; ad_nps numeric;   ad_health_days integer; ad_nps_days integer;
    users_from date;   user_windows date[]; feature_windows date[];
    um_event_least numeric; um_user_least numeric;
    pl_on boolean; ug_on boolean; nf_on boolean; um_on boolean; ad_on boolean;
BEGIN
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION 'as_of must be a finite time'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a timestamptz such as now().';
    END IF;
    today := (as_of AT TIME ZONE 'UTC')::date;

    SELECT jsonb_object_agg(c.signal, c.params), array_agg(c.signal) FILTER (WHERE c.enabled)
    INTO p, on_signals
    FROM @extschema@.expansion_signal_config c;

    pl_ratio := p #>> '{plan_limit,min_ratio}';
    pl_days := p #>> '{plan_limit,window_days}';
    ug_growth := p #>> '{user_growth,min_growth}';
    ug_days := p #>> '{user_growth,window_days}';
    ug_min := p #>> '{user_growth,min_prior_users}';
    nf_min := p #>> '{new_feature_area,min_new}';
    nf_days := p #>> '{new_feature_area,window_days}';
    nf_back := p #>> '{new_feature_area,lookback_days}';
    um_days := p #>> '{usage_milestone,window_days}';
    um_event_marks := ARRAY(SELECT (m.x #>> '{}')::numeric FROM jsonb_array_elements(p #> '{usage_milestone,event_milestones}') AS m(x));
    um_user_marks := ARRAY(SELECT (m.x #>> '{}')::numeric FROM jsonb_array_elements(p #> '{usage_milestone,user_milestones}') AS m(x));
    ad_health := p #>> '{advocacy,min_health}';
    ad_nps := p #>> '{advocacy,min_nps}';
    ad_health_days := p #>> '{advocacy,health_max_age_days}';
    ad_nps_days := p #>> '{advocacy,nps_max_age_days}';
    -- the users of every window are counted in one pass over the oldest:
    -- windows (after, through] of plan_limit, user_growth now and before,
    -- usage_milestone now and before (csm_internal._expansion_window_counts, src/expansion.c)
    users_from := today - greatest(pl_days, 2 * ug_days, 2 * um_days);
    user_windows := ARRAY[today - pl_days, today,
                          today - ug_days, today, today - 2 * ug_days, today - ug_days,
                          today - um_days, today, today - 2 * um_days, today - um_days];
    -- features: the recent window, then the lookback before it
    feature_windows := ARRAY[today - nf_days, today, today - nf_days - nf_back, today - nf_days];
    um_event_least := (SELECT min(x) FROM unnest(um_event_marks) AS x);
    um_user_least := (SELECT min(x) FROM unnest(um_user_marks) AS x);
    pl_on := coalesce('plan_limit' = ANY (on_signals), false);
    ug_on := coalesce('user_growth' = ANY (on_signals), false);
    nf_on := coalesce('new_feature_area' = ANY (on_signals), false);
    um_on := coalesce('usage_milestone' = ANY (on_signals), false);
    ad_on := coalesce('advocacy' = ANY (on_signals), false);

    RETURN QUERY
    -- The accounts and each rollup are read in account order where the
    -- planner finds that cheaper than a sort: the rollups' conditions stand
    -- outside their UNION ALL, so that its branches are the tables
    -- themselves (a merge of their primary keys' order), and acc is not
    -- materialized (a CTE scan has no order).
    WITH acc AS NOT MATERIALIZED (
        -- accounts that are customers at as_of
        SELECT a.account_id, a.seats, a.properties
        FROM @extschema@.account a
        WHERE (a.status = 'active' OR a.churned_at > as_of)
          AND (a.started_at IS NULL OR a.started_at <= as_of)
          AND (accounts IS NULL OR a.account_id = ANY (accounts))
    ),
    -- Users: the distinct users active in each window, from the folded
    -- user-days and the pending deltas with events.  A deletion not yet
    -- folded by compact_usage() does not take a user away until then.
    users AS (
        SELECT x.account_id, csm_internal._expansion_window_counts(x.user_key, x.day, x.events, user_windows) AS n
        FROM (SELECT u.account_id, u.day, u.user_key, u.events FROM csm_internal.usage_user_day u
              UNION ALL
              SELECT d.account_id, d.day, d.user_key, d.events FROM csm_internal.usage_delta d) x
        WHERE x.user_key IS NOT NULL AND x.events > 0 AND x.day > users_from AND x.day <= today
          AND (accounts IS NULL OR x.account_id = ANY (accounts))
        GROUP BY x.account_id
    ),
    -- Events: since the start (for milestones), and in the windows.
    events AS (
        SELECT x.account_id,
               sum(x.events::float8)::bigint AS total,
               coalesce(sum(x.events::float8) FILTER (WHERE x.day > today - pl_days), 0)::bigint AS pl_events,
               coalesce(sum(x.events::float8) FILTER (WHERE x.day > today - um_days), 0)::bigint AS um_events
        FROM (SELECT c.account_id, c.day, c.events FROM csm_internal.usage_counter c
              UNION ALL
              SELECT d.account_id, d.day, d.events FROM csm_internal.usage_delta d) x
        WHERE x.day <= today AND (accounts IS NULL OR x.account_id = ANY (accounts))
        GROUP BY x.account_id
    ),
    -- Features: those used in the recent window and in the lookback before it.
    feature_use AS (
        SELECT x.account_id,
               csm_internal._expansion_window_counts(x.feature, x.day, x.events, feature_windows) AS n,
               csm_internal._expansion_window_new(x.feature, x.day, x.events, feature_windows) AS new_features
        FROM (SELECT f.account_id, f.day, f.feature, f.events FROM csm_internal.usage_feature_counter f
              UNION ALL
              SELECT d.account_id, d.day, d.feature, d.events FROM csm_internal.usage_delta d) x
        WHERE x.feature IS NOT NULL AND x.day > today - nf_days - nf_back AND x.day <= today
          AND (accounts IS NULL OR x.account_id = ANY (accounts))
        GROUP BY x.account_id
    ),
    -- Caps per feature (properties.usage_cap an object): the limits reached,
    -- from the events of the accounts that have such caps
    feature_caps AS (
        SELECT a.account_id,
               jsonb_agg(jsonb_build_object('limit', 'feature', 'feature', c.key, 'used', coalesce(f.pl_events, 0),
                                            'cap', (c.value #>> '{}')::numeric,
                                            'ratio', round(coalesce(f.pl_events, 0) / (c.value #>> '{}')::numeric, 4),
                                            'window_days', pl_days)
                         ORDER BY c.key) AS items
        FROM (SELECT * FROM acc WHERE jsonb_typeof(acc.properties -> 'usage_cap') = 'object') a
        CROSS JOIN LATERAL jsonb_each(a.properties -> 'usage_cap') AS c(key, value)
        LEFT JOIN (SELECT x.account_id, x.feature, coalesce(sum(x.events::float8), 0)::bigint AS pl_events
                   FROM (SELECT f.account_id, f.day, f.feature, f.events FROM csm_internal.usage_feature_counter f
                         WHERE f.day > today - pl_days AND f.day <= today
                         UNION ALL
                         SELECT d.account_id, d.day, d.feature, d.events FROM csm_internal.usage_delta d
                         WHERE d.feature IS NOT NULL AND d.day > today - pl_days AND d.day <= today) x
                   WHERE x.account_id IN (SELECT o.account_id FROM acc o WHERE jsonb_typeof(o.properties -> 'usage_cap') = 'object')
                   GROUP BY x.account_id, x.feature) f ON f.account_id = a.account_id AND f.feature = c.key
        WHERE jsonb_typeof(c.value) = 'number' AND (c.value #>> '{}')::numeric > 0
          AND coalesce(f.pl_events, 0) >= pl_ratio * (c.value #>> '{}')::numeric
        GROUP BY a.account_id
    ),
    health_now AS (
        SELECT DISTINCT ON (h.account_id) h.account_id, h.day, h.score
        FROM @extschema@.health_history h
        WHERE h.day > today - ad_health_days AND h.day <= today
          AND (accounts IS NULL OR h.account_id = ANY (accounts))
        ORDER BY h.account_id, h.day DESC
    ),
    nps_now AS (
        SELECT DISTINCT ON (n.account_id) n.account_id, n.score, n.responded_at
        FROM @extschema@.nps_response n
        WHERE n.responded_at <= as_of AND n.responded_at > as_of - make_interval(days => ad_nps_days)
          AND (accounts IS NULL OR n.account_id = ANY (accounts))
        ORDER BY n.account_id, n.responded_at DESC, n.response_id DESC
    ),
    -- One row per account with what every signal needs ---------------------------
    facts AS (
        SELECT a.account_id, a.seats,
               CASE WHEN jsonb_typeof(a.properties -> 'seats_used') = 'number'
                    THEN (a.properties ->> 'seats_used')::numeric ELSE coalesce(u.n[1], 0) END AS seats_used,
               CASE WHEN jsonb_typeof(a.properties -> 'seats_used') = 'number'
                    THEN 'properties' ELSE 'usage' END AS seats_source,
               u.account_id IS NOT NULL AS has_users,
               CASE WHEN jsonb_typeof(a.properties -> 'usage_cap') = 'number'
                    THEN (a.properties ->> 'usage_cap')::numeric END AS usage_cap,
               coalesce(e.pl_events, 0) AS pl_events,
               e.total, e.um_events,
               u.n[2] AS ug_recent, u.n[3] AS ug_prior, u.n[4] AS um_recent, u.n[5] AS um_prior,
               fu.new_features, cardinality(fu.new_features) AS n_new, fu.n[1] AS n_recent, fu.n[2] AS n_prior,
               fc.items AS cap_items,
               h.day AS health_day, h.score AS health_score, n.score AS nps, n.responded_at
        FROM acc a
        LEFT JOIN users u ON u.account_id = a.account_id
        LEFT JOIN events e ON e.account_id = a.account_id
        LEFT JOIN feature_use fu ON fu.account_id = a.account_id
        LEFT JOIN feature_caps fc ON fc.account_id = a.account_id
        LEFT JOIN health_now h ON h.account_id = a.account_id
        LEFT JOIN nps_now n ON n.account_id = a.account_id
    ),
    -- The conditions that more than one kind reads, per account (computed
    -- once: inlined, each reference would compute them again), and
    -- csm.refresh_expansion's progress, one per account (nothing otherwise:
    -- csm_internal._progress_begin)
    found AS MATERIALIZED (
        SELECT f.*,
               csm_internal._progress('refresh_expansion', f.account_id) AS counted,
               pl_on AND f.seats > 0 AND f.seats_used >= pl_ratio * f.seats
                   AND (f.seats_source = 'properties' OR f.has_users) AS seats_hit,
               pl_on AND f.usage_cap > 0 AND f.pl_events >= pl_ratio * f.usage_cap AS events_hit,
               -- the highest milestone passed in the window (none is passed without events in it)
               CASE WHEN um_on AND f.um_events > 0 AND f.total >= um_event_least
                    THEN (SELECT max(x) FROM unnest(um_event_marks) AS x WHERE f.total >= x AND f.total - f.um_events < x) END AS event_mark,
               CASE WHEN um_on AND f.um_recent > f.um_prior AND f.um_recent >= um_user_least
                    THEN (SELECT max(x) FROM unnest(um_user_marks) AS x WHERE f.um_recent >= x AND f.um_prior < x) END AS user_mark
        FROM facts f
    )
    -- Each kind's evidence where its condition holds, NULL elsewhere, in
    -- one scan of the facts (unnest rather than VALUES, which would set up
    -- its expressions again for every account).
    SELECT f.account_id, k.signal, k.evidence
    FROM found f
    CROSS JOIN LATERAL unnest(
        ARRAY['plan_limit', 'user_growth', 'new_feature_area', 'usage_milestone', 'advocacy'],
        ARRAY[
            -- Plan limits: seats, a cap on all events, caps per feature
            CASE WHEN f.seats_hit OR f.events_hit OR (pl_on AND f.cap_items IS NOT NULL) THEN
                    jsonb_build_object('limits',
                        CASE WHEN f.seats_hit
                             THEN jsonb_build_array(jsonb_build_object('limit', 'seats', 'used', f.seats_used, 'cap', f.seats,
                                                                       'ratio', round(f.seats_used / f.seats, 4), 'source', f.seats_source))
                             ELSE '[]' END
                        || CASE WHEN f.events_hit
                                THEN jsonb_build_array(jsonb_build_object('limit', 'events', 'used', f.pl_events, 'cap', f.usage_cap,
                                                                          'ratio', round(f.pl_events / f.usage_cap, 4), 'window_days', pl_days))
                                ELSE '[]' END
                        || coalesce(f.cap_items, '[]'),
                        'min_ratio', pl_ratio) END,
            -- User growth
            CASE WHEN ug_on AND f.ug_prior >= greatest(ug_min, 1) AND f.ug_recent >= f.ug_prior * (1 + ug_growth) THEN
                    jsonb_build_object('active_users', f.ug_recent, 'prior_active_users', f.ug_prior,
                                       'growth', round((f.ug_recent - f.ug_prior)::numeric / f.ug_prior, 4),
                                       'window_days', ug_days) END,
            -- New feature areas
            CASE WHEN nf_on AND f.n_prior > 0 AND f.n_new >= greatest(nf_min, 1) THEN
                    jsonb_build_object('new_features', to_jsonb(ARRAY(SELECT k FROM unnest(f.new_features) AS k ORDER BY k)),
                                       'features_used', f.n_recent, 'prior_features', f.n_prior,
                                       'window_days', nf_days, 'lookback_days', nf_back) END,
            -- Usage milestones
            CASE WHEN f.event_mark IS NOT NULL OR f.user_mark IS NOT NULL THEN
                    jsonb_build_object('milestones',
                        CASE WHEN f.event_mark IS NOT NULL
                             THEN jsonb_build_array(jsonb_build_object('milestone', 'events', 'reached', f.event_mark, 'value', f.total))
                             ELSE '[]' END
                        || CASE WHEN f.user_mark IS NOT NULL
                                THEN jsonb_build_array(jsonb_build_object('milestone', 'active_users', 'reached', f.user_mark, 'value', f.um_recent))
                                ELSE '[]' END,
                        'window_days', um_days) END,
            -- Advocacy: a healthy promoter
            CASE WHEN ad_on AND f.health_score >= ad_health AND f.nps >= ad_nps THEN
                    jsonb_build_object('health_score', round(f.health_score::numeric, 2), 'health_day', f.health_day,
                                       'nps', f.nps, 'responded_at', f.responded_at) END]
    ) AS k(signal, evidence)
    WHERE k.evidence IS NOT NULL;
END $$;
COMMENT ON FUNCTION @extschema@.expansion_signals_at(timestamptz, bigint[]) IS
    'The expansion signals that hold at as_of, with their evidence, for every account that is a customer then (or just the accounts given); reads, writes nothing. Thresholds come from csm.expansion_signal_config. Raises 22023 for a NULL or infinite as_of.';

CREATE OR REPLACE FUNCTION @extschema@.refresh_expansion(as_of timestamptz DEFAULT now(), accounts bigint[] DEFAULT NULL)
RETURNS TABLE (raised integer, ongoing integer, cleared integer)
LANGUAGE plpgsql VOLATILE
SET work_mem = '128MB'
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    started constant timestamptz := clock_timestamp();
    counts record;
    changed bigint[];
BEGIN
    PERFORM csm_internal._require('operate');
    -- A NOTICE at every 10% of the portfolio's accounts examined, when the
    -- client wants notices (csm.expansion_signals_at counts them).
    PERFORM csm_internal._progress_begin('refresh_expansion', CASE WHEN accounts IS NOT NULL THEN 0 END);
    -- as csm.refresh_churn_signals, for every kind of expansion signal
    SELECT * INTO counts
    FROM csm_internal._refresh_signals('csm.refresh_expansion()', 'expansion', '@extschema@.expansion_signal',
                                      '@extschema@.expansion_signals_at(timestamptz, bigint[])', 'expansion signals', as_of, accounts);
    raised := counts.raised;
    ongoing := counts.ongoing;
    cleared := counts.cleared;
    RETURN NEXT;
    -- The accounts with a signal this refresh raised or cleared: the alerts
    -- and playbooks act on those, not on every account (csm.run_alerts()
    -- and csm.run_playbooks() go over all), so that a run that changes
    -- nothing costs no more than the detection and the writes.
    IF counts.raised + counts.cleared > 0 THEN
        changed := ARRAY(SELECT DISTINCT s.account_id FROM @extschema@.expansion_signal s
                         WHERE ((s.first_seen_at = as_of AND s.cleared_at IS NULL) OR s.cleared_at = as_of)
                           AND (accounts IS NULL OR s.account_id = ANY (accounts)));
        -- outreach alerts (86_alert.sql)
        PERFORM csm_internal._raise_alerts(ARRAY['usage_milestone', 'plan_limit'], changed);
        -- Playbooks fired by an expansion signal (85_playbook.sql), in this transaction.
        PERFORM csm_internal._fire_playbooks(ARRAY['expansion_signal'], changed, 'refresh_expansion');
    END IF;
    IF accounts IS NULL THEN
        PERFORM csm_internal._run_finished('expansion', started, raised + ongoing + cleared);
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@.refresh_expansion(timestamptz, bigint[]) IS
    'Detects the expansion signals at as_of (csm.expansion_signals_at) for every customer account, or the accounts given: raises new ones, updates the evidence and last_seen_at of open ones still seen, clears the rest; for the accounts with a signal it raised or cleared, raises and clears the usage_milestone and plan_limit alerts and fires the expansion_signal playbooks (csm.run_alerts() and csm.run_playbooks() look at every account). Returns how many were raised, still open and cleared; a second run at the same as_of changes nothing. One refresh runs at a time (it locks the row (''expansion'', ''signals'') of csm_internal.lock_row). An account whose data makes the refresh fail (a data exception) is skipped and named in a WARNING. Needs the operate level (42501). Raises 22023 for a NULL, infinite or future as_of, or one before the last refresh; on Citus, 55000 on a worker.';

-- The lock row of refreshes (csm_internal._lock_row makes it again if missing).
INSERT INTO csm_internal.lock_row (scope, key) VALUES ('expansion', 'signals')
ON CONFLICT DO NOTHING;

-- Expansion potential --------------------------------------------------------------

-- expected_arr = upside_arr x likelihood, where
--   likelihood = 1 - prod(1 - likelihood_k) over the open signals (at least
--                one converts, the signals taken as independent), and
--   upside_arr = arr x uplift (20% unless growth plans say otherwise), or,
--                with additional seats planned, arr / seats x those seats;
--                at most the budget when one is given.
CREATE OR REPLACE FUNCTION csm_internal._expansion_potential(arr numeric, seats integer, likelihoods float8[],
                                                 additional_seats numeric DEFAULT NULL, uplift numeric DEFAULT NULL,
                                                 budget numeric DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    chance float8 := 1;
    l float8;
    upside numeric;
    basis text;
BEGIN
    FOREACH l IN ARRAY coalesce(likelihoods, '{}') LOOP
        chance := chance * (1 - l);
    END LOOP;
    chance := 1 - chance;
    IF arr IS NULL THEN
        RETURN jsonb_build_object('expected_arr', NULL, 'upside_arr', NULL, 'likelihood', round(chance::numeric, 4),
                                  'assumption', 'The account has no ARR, so no amount can be estimated.');
    END IF;
    IF additional_seats IS NOT NULL AND seats > 0 THEN
        upside := arr / seats * additional_seats;
        basis := format('%s additional seats at the current price per seat (ARR %s / %s seats)', additional_seats, arr, seats);
    ELSE
        upside := arr * coalesce(uplift, 0.2);
        basis := format('an upsell of %s%% of the current ARR %s', round(coalesce(uplift, 0.2) * 100, 2), arr);
    END IF;
    IF budget IS NOT NULL AND upside > budget THEN
        upside := budget;
        basis := basis || format(', capped at the budget of %s', budget);
    END IF;
    upside := round(upside, 2);
    RETURN jsonb_build_object(
        'expected_arr', round(upside * chance::numeric, 2),
        'upside_arr', upside,
        'likelihood', round(chance::numeric, 4),
        'assumption', format('expected_arr = upside_arr x likelihood. upside_arr: %s. likelihood: %s', basis,
                             CASE WHEN cardinality(likelihoods) > 0
                                  THEN format('1 - the product of (1 - likelihood) over the %s open signals (%s), the chance that at least one converts, the signals taken as independent.',
                                              cardinality(likelihoods), array_to_string(likelihoods, ', '))
                                  ELSE '0, as no expansion signal is open.' END));
END $$;
COMMENT ON FUNCTION csm_internal._expansion_potential(numeric, integer, float8[], numeric, numeric, numeric) IS
    'Internal: expansion_potential as a JSON object: expected_arr = upside_arr x likelihood, likelihood = 1 - prod(1 - likelihood_k) over the open signals, upside_arr = arr x uplift (default 0.2) or arr / seats x additional_seats, at most budget; assumption spells it out.';

-- Who works the account: its primary owner now.
CREATE OR REPLACE FUNCTION csm_internal._expansion_owner(account bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('handle', m.handle, 'name', m.name, 'member_id', m.member_id, 'since', x.started_at)
            FROM @extschema@.account_assignment x
            JOIN @extschema@.team_member m ON m.member_id = x.member_id
            WHERE x.account_id = _expansion_owner.account AND x.is_primary AND x.ended_at IS NULL);
END $$;
COMMENT ON FUNCTION csm_internal._expansion_owner(bigint) IS
    'Internal: the account''s primary owner as a JSON object (handle, name, member_id, since), NULL when it has none.';

-- The inputs of identify_expansion: a JSON object (or NULL) whose keys are
-- among those known, each a number >= 0.
CREATE OR REPLACE FUNCTION csm_internal._expansion_input(what text, input jsonb, known text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
    v jsonb;
BEGIN
    IF input IS NULL OR input = 'null'::jsonb THEN
        RETURN;
    END IF;
    IF jsonb_typeof(input) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object', what
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', input),
                  HINT = format('Its keys are %s.', array_to_string(known, ', '));
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM jsonb_each(input) AS e LOOP
        IF NOT k = ANY (known) THEN
            RAISE EXCEPTION '% has no key "%"', what, k
                USING ERRCODE = 'invalid_parameter_value', HINT = format('Its keys are %s.', array_to_string(known, ', '));
        END IF;
        IF jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric < 0 THEN
            RAISE EXCEPTION '%.% must be a number >= 0', what, k
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('It was given %s.', v);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION csm_internal._expansion_input(text, jsonb, text[]) IS
    'Internal: raises 22023 unless input is NULL or a JSON object whose keys are among known, each a number >= 0.';

-- The seed's identify_expansion contract, for agents and people alike.
CREATE OR REPLACE FUNCTION @extschema@.identify_expansion(customer_id text, current_usage jsonb DEFAULT NULL,
                                               budget_info jsonb DEFAULT NULL, growth_plans jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    acct record;
    cfg jsonb;
    found jsonb;
    limits jsonb;
    owner jsonb;
    health jsonb;
    signals jsonb;
    likelihoods float8[];
    seats_used numeric;
    active_users numeric;
    prior_users numeric;
    extra numeric;
    ratio numeric;
    growth numeric;
    usage jsonb;
    now_at timestamptz := now();
BEGIN
    -- seed 002's input contract: customer_id is required (22023, as in
    -- every contract of 88_contract.sql); current_usage, the other required
    -- field, is what csm measures itself when the caller leaves it NULL.
    PERFORM csm_internal._contract_require('identify_expansion', 'customer_id', customer_id IS NULL);
    id := csm_internal._account_id(customer_id);
    PERFORM csm_internal._expansion_input('current_usage', current_usage, ARRAY['seats_used', 'active_users', 'prior_active_users']);
    PERFORM csm_internal._expansion_input('budget_info', budget_info, ARRAY['budget']);
    PERFORM csm_internal._expansion_input('growth_plans', growth_plans, ARRAY['additional_seats', 'headcount_growth', 'expected_uplift']);
    SELECT a.* INTO acct FROM @extschema@.account a WHERE a.account_id = id;
    SELECT jsonb_object_agg(c.signal, jsonb_build_object('label', c.label, 'params', c.params, 'likelihood', c.likelihood,
                                                         'play', c.play, 'enabled', c.enabled))
    INTO cfg FROM @extschema@.expansion_signal_config c;

    -- The signals that hold now, by kind.
    SELECT coalesce(jsonb_object_agg(d.signal, d.evidence), '{}') INTO found
    FROM @extschema@.expansion_signals_at(now_at, ARRAY[id]) d;

    -- What the caller knows beyond csm's data: the seats in use, and the
    -- active users now and a window before, decide the signals they show.
    IF acct.status = 'active' THEN
        seats_used := (current_usage ->> 'seats_used')::numeric;
        ratio := (cfg #>> '{plan_limit,params,min_ratio}')::numeric;
        IF seats_used IS NOT NULL AND acct.seats > 0 AND (cfg #>> '{plan_limit,enabled}')::boolean THEN
            -- the caller's count replaces the one from usage or properties
            limits := coalesce((SELECT jsonb_agg(l.item) FROM jsonb_array_elements(found #> '{plan_limit,limits}') AS l(item)
                                WHERE l.item ->> 'limit' <> 'seats'), '[]');
            IF seats_used >= ratio * acct.seats THEN
                limits := jsonb_build_array(jsonb_build_object('limit', 'seats', 'used', seats_used, 'cap', acct.seats,
                                                               'ratio', round(seats_used / acct.seats, 4),
                                                               'source', 'current_usage')) || limits;
            END IF;
            found := found - 'plan_limit';
            IF jsonb_array_length(limits) > 0 THEN
                found := found || jsonb_build_object('plan_limit', jsonb_build_object('limits', limits, 'min_ratio', ratio));
            END IF;
        END IF;
        active_users := (current_usage ->> 'active_users')::numeric;
        prior_users := (current_usage ->> 'prior_active_users')::numeric;
        growth := (cfg #>> '{user_growth,params,min_growth}')::numeric;
        IF active_users IS NOT NULL AND prior_users IS NOT NULL AND (cfg #>> '{user_growth,enabled}')::boolean THEN
            found := found - 'user_growth';
            IF prior_users >= greatest((cfg #>> '{user_growth,params,min_prior_users}')::numeric, 1)
               AND active_users >= prior_users * (1 + growth) THEN
                found := found || jsonb_build_object('user_growth',
                    jsonb_build_object('active_users', active_users, 'prior_active_users', prior_users,
                                       'growth', round((active_users - prior_users) / prior_users, 4),
                                       'source', 'current_usage'));
            END IF;
        END IF;
    END IF;

    SELECT coalesce(jsonb_agg(jsonb_build_object('signal', n.key, 'label', cfg #>> ARRAY[n.key, 'label'],
                                                 'evidence', n.value, 'first_seen_at', s.first_seen_at,
                                                 'likelihood', (cfg #>> ARRAY[n.key, 'likelihood'])::float8,
                                                 'play', cfg #>> ARRAY[n.key, 'play'])
                              ORDER BY (cfg #>> ARRAY[n.key, 'likelihood'])::float8 DESC, n.key), '[]'),
           coalesce(array_agg((cfg #>> ARRAY[n.key, 'likelihood'])::float8
                              ORDER BY (cfg #>> ARRAY[n.key, 'likelihood'])::float8 DESC, n.key), '{}')
    INTO signals, likelihoods
    FROM jsonb_each(found) AS n(key, value)
    LEFT JOIN @extschema@.expansion_signal s ON s.account_id = id AND s.signal = n.key AND s.cleared_at IS NULL;

    -- Each a statement of its own: on Citus each reads one distributed
    -- table by the account's id, and the result below reads none.
    owner := csm_internal._expansion_owner(id);
    SELECT jsonb_build_object('score', h.score, 'band', h.band) INTO health
    FROM @extschema@.health_score h WHERE h.account_id = id;
    -- The usage the answer stands on: the caller's, else csm's own metrics.
    IF current_usage IS NOT NULL AND current_usage <> 'null'::jsonb THEN
        usage := current_usage || jsonb_build_object('source', 'current_usage');
    ELSE
        SELECT jsonb_build_object('dau_ratio', m.dau_ratio, 'features_adopted', m.features_adopted,
                                  'days_since_last_activity', m.days_since_last_activity, 'usage_trend', m.usage_trend,
                                  'seats', acct.seats, 'source', 'csm')
        INTO usage
        FROM @extschema@.account_metrics_at((now_at AT TIME ZONE 'UTC')::date, id) m;
    END IF;
    extra := coalesce((growth_plans ->> 'additional_seats')::numeric,
                      ceil(acct.seats * (growth_plans ->> 'headcount_growth')::numeric));
    RETURN jsonb_build_object(
        'customer_id', customer_id,
        'status', acct.status,
        'segment', acct.segment,
        'plan', acct.plan,
        'arr', acct.arr,
        'seats', acct.seats,
        'current_usage', usage,
        'owner', owner,
        'signals', signals,
        'expansion_potential', CASE WHEN acct.status = 'active'
            THEN csm_internal._expansion_potential(acct.arr, acct.seats, likelihoods, extra,
                                                  (growth_plans ->> 'expected_uplift')::numeric, (budget_info ->> 'budget')::numeric)
            ELSE jsonb_build_object('expected_arr', 0, 'upside_arr', 0, 'likelihood', 0,
                                    'assumption', 'The account has churned: no expansion is expected.') END,
        'recommended_plays', (SELECT coalesce(jsonb_agg(e -> 'play'), '[]') FROM jsonb_array_elements(signals) AS e),
        'health', health,
        'computed_at', now_at);
END $$;
COMMENT ON FUNCTION @extschema@.identify_expansion(text, jsonb, jsonb, jsonb) IS
    'The seed''s identify_expansion: a JSON object with customer_id, status, segment, plan, arr, seats, current_usage (the caller''s with source current_usage, else csm''s own usage metrics with source csm), owner (the primary CSM), the expansion signals that hold now with their evidence, likelihood and play (most likely first; first_seen_at from the last csm.refresh_expansion), expansion_potential (expected_arr = upside_arr x likelihood, with the assumption spelled out), recommended_plays, health and computed_at. current_usage {seats_used, active_users, prior_active_users}, budget_info {budget} and growth_plans {additional_seats, headcount_growth, expected_uplift} add what csm''s data lacks (see the README). Errors: P0002 unknown customer, 22023 NULL customer_id (seed 002: a required field), an input that is not a JSON object, has an unknown key or a value that is not a number >= 0.';

-- Views ----------------------------------------------------------------------------

CREATE OR REPLACE VIEW @extschema@.expansion_signal_current WITH (security_invoker = true) AS
SELECT s.account_id,
       a.external_id,
       a.name AS account_name,
       s.signal,
       k.label,
       s.evidence,
       s.first_seen_at,
       s.last_seen_at,
       k.play
FROM @extschema@.expansion_signal s
JOIN @extschema@.account a ON a.account_id = s.account_id
JOIN @extschema@.expansion_signal_kind k ON k.signal = s.signal
WHERE s.cleared_at IS NULL AND a.status = 'active';
COMMENT ON VIEW @extschema@.expansion_signal_current IS
    'Open expansion signals of active accounts (as of the last csm.refresh_expansion), with the account''s external_id, the signal''s label, its evidence and the play.';

-- One row per active account with an open signal: the signals grouped on
-- the distributed side first (keyed by account_id, so Citus runs the group
-- on the workers), then joined to the reference tables.
CREATE OR REPLACE VIEW @extschema@.expansion_candidate WITH (security_invoker = true) AS
SELECT v.account_id, v.external_id, v.name, v.segment, v.arr, v.renewal_date, v.signals,
       (v.potential ->> 'likelihood')::float8 AS likelihood,
       (v.potential ->> 'upside_arr')::numeric AS upside_arr,
       (v.potential ->> 'expected_arr')::numeric AS expected_arr,
       v.name AS account_name  -- the vocabulary's name; name is deprecated
FROM (SELECT a.account_id, a.external_id, a.name, a.segment, a.arr, a.renewal_date, s.signals,
             csm_internal._expansion_potential(a.arr, a.seats, s.likelihoods) AS potential
      FROM (SELECT x.account_id,
                   array_agg(x.signal ORDER BY coalesce(c.likelihood, k.likelihood) DESC, x.signal) AS signals,
                   array_agg(coalesce(c.likelihood, k.likelihood) ORDER BY coalesce(c.likelihood, k.likelihood) DESC, x.signal) AS likelihoods
            FROM @extschema@.expansion_signal x
            JOIN @extschema@.expansion_signal_kind k ON k.signal = x.signal
            LEFT JOIN @extschema@.expansion_signal_setting c ON c.signal = x.signal
            WHERE x.cleared_at IS NULL
            GROUP BY x.account_id) s
      JOIN @extschema@.account a ON a.account_id = s.account_id
      WHERE a.status = 'active') v;
COMMENT ON VIEW @extschema@.expansion_candidate IS
    'Expansion candidates: active accounts with open expansion signals (as of the last csm.refresh_expansion), the signals most likely first, and the expansion potential with the default assumption (likelihood = 1 - prod(1 - likelihood_k); upside_arr = 20% of ARR; expected_arr = upside_arr x likelihood). Order by expected_arr DESC for the pipeline.';
