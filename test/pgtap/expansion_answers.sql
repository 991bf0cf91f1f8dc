-- Expansion answers: csm.expansion_signals_at() gives, on a generated
-- portfolio, exactly the answers of the query it had when this test was
-- written (kept below as pg_temp.expansion_reference, the detection of
-- 0.2.0's first cut, counting distinct users per window with
-- count(DISTINCT)), at two times, with every threshold changed, and for a
-- subset of accounts.  The portfolio mixes what detection reads: folded
-- rollups of two sources and pending deltas (with users, features, negative
-- events), days after as_of, accounts that churned before or after as_of or
-- start after it, seat counts from properties or usage, caps on all events
-- and per feature, event and user milestones, health and NPS answers of
-- every age; each signal kind is shown to occur, so the comparison is not
-- vacuous.
BEGIN;
SELECT plan(20);
SET LOCAL timezone = 'UTC';
-- A fixed portfolio: drawn anew each run, one in a few dozen lacked a kind
-- of usage milestone and failed the test that says it is not vacuous.
DO $$ BEGIN PERFORM setseed(0.25); END $$;

-- The reference: expansion_signals_at as it was (84_expansion.sql before the
-- single-pass detection), word for word but for its name and schema.
CREATE FUNCTION pg_temp.expansion_reference(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE
SET work_mem = '128MB'
SET jit = off
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
    users_from date;   features_from date;
BEGIN
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION 'as_of must be a finite time'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a timestamptz such as now().';
    END IF;
    today := (as_of AT TIME ZONE 'UTC')::date;

    SELECT jsonb_object_agg(c.signal, c.params), array_agg(c.signal) FILTER (WHERE c.enabled)
    INTO p, on_signals
    FROM csm.expansion_signal_config c;

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
    -- the users of every window are counted in one pass over the oldest
    users_from := today - greatest(pl_days, 2 * ug_days, 2 * um_days);
    features_from := today - greatest(nf_days + nf_back, pl_days);

    RETURN QUERY
    WITH acc AS (
        -- accounts that are customers at as_of
        SELECT a.account_id, a.seats, a.properties
        FROM csm.account a
        WHERE (a.status = 'active' OR a.churned_at > as_of)
          AND (a.started_at IS NULL OR a.started_at <= as_of)
          AND (accounts IS NULL OR a.account_id = ANY (accounts))
    ),
    -- Users: the distinct users active in each window, from the folded
    -- user-days and the pending deltas with events.  A deletion not yet
    -- folded by compact_usage() does not take a user away until then.
    users AS (
        SELECT x.account_id,
               -- (COLLATE "C": the same distinct keys, bytewise, compared without strcoll)
               count(DISTINCT x.user_key COLLATE "C") FILTER (WHERE x.day > today - pl_days) AS pl_users,
               count(DISTINCT x.user_key COLLATE "C") FILTER (WHERE x.day > today - ug_days) AS ug_recent,
               count(DISTINCT x.user_key COLLATE "C") FILTER (WHERE x.day <= today - ug_days AND x.day > today - 2 * ug_days) AS ug_prior,
               count(DISTINCT x.user_key COLLATE "C") FILTER (WHERE x.day > today - um_days) AS um_recent,
               count(DISTINCT x.user_key COLLATE "C") FILTER (WHERE x.day <= today - um_days AND x.day > today - 2 * um_days) AS um_prior
        FROM (SELECT u.account_id, u.day, u.user_key FROM csm_internal.usage_user_day u
              WHERE u.day > users_from AND u.day <= today AND u.events > 0
              UNION ALL
              SELECT d.account_id, d.day, d.user_key FROM csm_internal.usage_delta d
              WHERE d.user_key IS NOT NULL AND d.events > 0 AND d.day > users_from AND d.day <= today) x
        WHERE accounts IS NULL OR x.account_id = ANY (accounts)
        GROUP BY x.account_id
    ),
    -- Events: since the start (for milestones), and in the windows.
    events AS (
        SELECT x.account_id,
               sum(x.events::float8)::bigint AS total,
               coalesce(sum(x.events::float8) FILTER (WHERE x.day > today - pl_days), 0)::bigint AS pl_events,
               coalesce(sum(x.events::float8) FILTER (WHERE x.day > today - um_days), 0)::bigint AS um_events
        FROM (SELECT c.account_id, c.day, c.events FROM csm_internal.usage_counter c WHERE c.day <= today
              UNION ALL
              SELECT d.account_id, d.day, d.events FROM csm_internal.usage_delta d WHERE d.day <= today) x
        WHERE accounts IS NULL OR x.account_id = ANY (accounts)
        GROUP BY x.account_id
    ),
    features AS (
        SELECT x.account_id, x.feature,
               coalesce(sum(x.events::float8) FILTER (WHERE x.day > today - pl_days), 0)::bigint AS pl_events,
               coalesce(sum(x.events::float8) FILTER (WHERE x.day > today - nf_days), 0) > 0 AS recent,
               coalesce(sum(x.events::float8) FILTER (WHERE x.day <= today - nf_days AND x.day > today - nf_days - nf_back), 0) > 0 AS prior
        FROM (SELECT f.account_id, f.day, f.feature, f.events FROM csm_internal.usage_feature_counter f
              WHERE f.day > features_from AND f.day <= today
              UNION ALL
              SELECT d.account_id, d.day, d.feature, d.events FROM csm_internal.usage_delta d
              WHERE d.feature IS NOT NULL AND d.day > features_from AND d.day <= today) x
        WHERE accounts IS NULL OR x.account_id = ANY (accounts)
        GROUP BY x.account_id, x.feature
    ),
    -- Plan limits ------------------------------------------------------------------
    limits AS (
        -- seats
        SELECT a.account_id, 1 AS ord,
               jsonb_build_object('limit', 'seats', 'used', s.used, 'cap', a.seats,
                                  'ratio', round(s.used / a.seats, 4), 'source', s.source) AS item
        FROM acc a
        LEFT JOIN users u ON u.account_id = a.account_id
        CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(a.properties -> 'seats_used') = 'number'
                                        THEN (a.properties ->> 'seats_used')::numeric
                                        ELSE coalesce(u.pl_users, 0) END AS used,
                                   CASE WHEN jsonb_typeof(a.properties -> 'seats_used') = 'number'
                                        THEN 'properties' ELSE 'usage' END AS source) s
        WHERE a.seats > 0 AND s.used >= pl_ratio * a.seats
          -- a seat count from usage needs usage with users
          AND (s.source = 'properties' OR u.account_id IS NOT NULL)
        UNION ALL
        -- a cap on all events
        SELECT a.account_id, 2,
               jsonb_build_object('limit', 'events', 'used', coalesce(e.pl_events, 0), 'cap', (a.properties ->> 'usage_cap')::numeric,
                                  'ratio', round(coalesce(e.pl_events, 0) / (a.properties ->> 'usage_cap')::numeric, 4),
                                  'window_days', pl_days)
        FROM acc a LEFT JOIN events e ON e.account_id = a.account_id
        WHERE jsonb_typeof(a.properties -> 'usage_cap') = 'number' AND (a.properties ->> 'usage_cap')::numeric > 0
          AND coalesce(e.pl_events, 0) >= pl_ratio * (a.properties ->> 'usage_cap')::numeric
        UNION ALL
        -- caps per feature
        SELECT a.account_id, 3,
               jsonb_build_object('limit', 'feature', 'feature', c.key, 'used', coalesce(f.pl_events, 0),
                                  'cap', (c.value #>> '{}')::numeric,
                                  'ratio', round(coalesce(f.pl_events, 0) / (c.value #>> '{}')::numeric, 4),
                                  'window_days', pl_days)
        FROM (SELECT * FROM acc WHERE jsonb_typeof(acc.properties -> 'usage_cap') = 'object') a
        CROSS JOIN LATERAL jsonb_each(a.properties -> 'usage_cap') AS c(key, value)
        LEFT JOIN features f ON f.account_id = a.account_id AND f.feature = c.key
        WHERE jsonb_typeof(c.value) = 'number' AND (c.value #>> '{}')::numeric > 0
          AND coalesce(f.pl_events, 0) >= pl_ratio * (c.value #>> '{}')::numeric
    ),
    limit_signals AS (
        SELECT l.account_id, 'plan_limit'::text AS signal,
               jsonb_build_object('limits', jsonb_agg(l.item ORDER BY l.ord, l.item ->> 'feature'), 'min_ratio', pl_ratio) AS evidence
        FROM limits l
        GROUP BY l.account_id
    ),
    -- User growth --------------------------------------------------------------------
    growth_signals AS (
        SELECT u.account_id, 'user_growth'::text AS signal,
               jsonb_build_object('active_users', u.ug_recent, 'prior_active_users', u.ug_prior,
                                  'growth', round((u.ug_recent - u.ug_prior)::numeric / u.ug_prior, 4),
                                  'window_days', ug_days) AS evidence
        FROM users u JOIN acc a ON a.account_id = u.account_id
        WHERE u.ug_prior >= greatest(ug_min, 1) AND u.ug_recent >= u.ug_prior * (1 + ug_growth)
    ),
    -- New feature areas ------------------------------------------------------------
    feature_signals AS (
        SELECT f.account_id, 'new_feature_area'::text AS signal,
               jsonb_build_object('new_features', to_jsonb(array_agg(f.feature ORDER BY f.feature) FILTER (WHERE f.recent AND NOT f.prior)),
                                  'features_used', count(*) FILTER (WHERE f.recent),
                                  'prior_features', count(*) FILTER (WHERE f.prior),
                                  'window_days', nf_days, 'lookback_days', nf_back) AS evidence
        FROM features f JOIN acc a ON a.account_id = f.account_id
        GROUP BY f.account_id
        HAVING count(*) FILTER (WHERE f.prior) > 0
           AND count(*) FILTER (WHERE f.recent AND NOT f.prior) >= greatest(nf_min, 1)
    ),
    -- Usage milestones: the highest milestone passed in the window --------------
    milestones AS (
        SELECT e.account_id, 1 AS ord,
               jsonb_build_object('milestone', 'events', 'reached', m.reached, 'value', e.total) AS item
        FROM events e JOIN acc a ON a.account_id = e.account_id
        CROSS JOIN LATERAL (SELECT max(x) AS reached FROM unnest(um_event_marks) AS x
                            WHERE e.total >= x AND e.total - e.um_events < x) m
        -- (no mark is passed without events in the window: not looked for)
        WHERE m.reached IS NOT NULL AND e.um_events > 0
        UNION ALL
        SELECT u.account_id, 2,
               jsonb_build_object('milestone', 'active_users', 'reached', m.reached, 'value', u.um_recent)
        FROM users u JOIN acc a ON a.account_id = u.account_id
        CROSS JOIN LATERAL (SELECT max(x) AS reached FROM unnest(um_user_marks) AS x
                            WHERE u.um_recent >= x AND u.um_prior < x) m
        WHERE m.reached IS NOT NULL AND u.um_recent > u.um_prior
    ),
    milestone_signals AS (
        SELECT m.account_id, 'usage_milestone'::text AS signal,
               jsonb_build_object('milestones', jsonb_agg(m.item ORDER BY m.ord), 'window_days', um_days) AS evidence
        FROM milestones m
        GROUP BY m.account_id
    ),
    -- Advocacy: a healthy promoter ---------------------------------------------------
    health_now AS (
        SELECT DISTINCT ON (h.account_id) h.account_id, h.day, h.score
        FROM csm.health_history h
        WHERE h.day > today - ad_health_days AND h.day <= today
          AND (accounts IS NULL OR h.account_id = ANY (accounts))
        ORDER BY h.account_id, h.day DESC
    ),
    nps_now AS (
        SELECT DISTINCT ON (n.account_id) n.account_id, n.score, n.responded_at
        FROM csm.nps_response n
        WHERE n.responded_at <= as_of AND n.responded_at > as_of - make_interval(days => ad_nps_days)
          AND (accounts IS NULL OR n.account_id = ANY (accounts))
        ORDER BY n.account_id, n.responded_at DESC, n.response_id DESC
    ),
    advocacy_signals AS (
        SELECT h.account_id, 'advocacy'::text AS signal,
               jsonb_build_object('health_score', round(h.score::numeric, 2), 'health_day', h.day,
                                  'nps', n.score, 'responded_at', n.responded_at) AS evidence
        FROM health_now h
        JOIN nps_now n ON n.account_id = h.account_id
        JOIN acc a ON a.account_id = h.account_id
        WHERE h.score >= ad_health AND n.score >= ad_nps
    )
    SELECT s.account_id, s.signal, s.evidence
    FROM (SELECT * FROM limit_signals
          UNION ALL SELECT * FROM growth_signals
          UNION ALL SELECT * FROM feature_signals
          UNION ALL SELECT * FROM milestone_signals
          UNION ALL SELECT * FROM advocacy_signals) s
    WHERE s.signal = ANY (on_signals);
END $$;

-- The portfolio ----------------------------------------------------------------
SELECT setseed(0.1313);
INSERT INTO csm.account (external_id, arr, seats, started_at, status, churned_at, properties)
SELECT 'ans_' || i, 1000 + i * 10,
       CASE WHEN i % 17 = 0 THEN 0 ELSE 4 + (i % 40) END,
       CASE WHEN i % 37 = 0 THEN NULL WHEN i % 41 = 0 THEN timestamptz '2026-07-02 00:00+00' ELSE '2025-09-01 00:00+00' END,
       CASE WHEN i % 23 = 0 OR i % 29 = 0 THEN 'churned' ELSE 'active' END,
       CASE WHEN i % 23 = 0 THEN '2026-06-20 00:00+00'::timestamptz WHEN i % 29 = 0 THEN '2026-07-05 00:00+00' END,
       CASE i % 9
           WHEN 0 THEN jsonb_build_object('seats_used', 3 + i % 30)
           WHEN 1 THEN '{"seats_used": "seven"}'
           WHEN 2 THEN jsonb_build_object('usage_cap', 50 + (i * 7) % 400)
           WHEN 3 THEN jsonb_build_object('usage_cap', jsonb_build_object('f1', 20 + i % 60, 'f3', 5 + i % 20, 'f9', 10, 'bad', 'x', 'zero', 0))
           WHEN 4 THEN '{"usage_cap": 0}'
           ELSE '{}' END
FROM generate_series(1, 360) AS i;
CREATE TEMP TABLE ans_acc AS
SELECT a.account_id, substr(a.external_id, 5)::integer AS i,
       -- users in the pool before and after 30 days ago; a few accounts near 100 users
       CASE WHEN substr(a.external_id, 5)::integer % 31 = 0 THEN 95 ELSE 2 + substr(a.external_id, 5)::integer % 9 END AS pool_prior,
       CASE WHEN substr(a.external_id, 5)::integer % 31 = 0 THEN 104 ELSE 2 + (substr(a.external_id, 5)::integer * 5) % 13 END AS pool_recent,
       0.15 + random() * 0.3 AS density
FROM csm.account a WHERE a.external_id LIKE 'ans\_%';
-- days relative to as_of's day 2026-06-30: -3 (after it) to 130 before it
CREATE TEMP TABLE ans_day AS
SELECT c.account_id, c.i, s.source_id, date '2026-06-30' - d AS day, d, c.pool_prior, c.pool_recent
FROM ans_acc c
CROSS JOIN generate_series(-3, 130) AS d
CROSS JOIN (VALUES (1), (2)) AS s(source_id)
WHERE (s.source_id = 1 OR c.i % 4 = 0) AND random() < c.density;
INSERT INTO csm_internal.usage_user_day (account_id, source_id, day, user_key, events)
SELECT y.account_id, y.source_id, y.day, 'user ' || u, (random() * 4)::integer
FROM ans_day y
CROSS JOIN LATERAL generate_series(1, CASE WHEN y.d < 30 THEN y.pool_recent ELSE y.pool_prior END) AS u
WHERE random() < CASE WHEN y.i % 31 = 0 THEN 0.9 ELSE 0.5 END;
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT y.account_id, y.source_id, y.day,
       CASE WHEN y.i % 13 = 0 THEN (random() * 900)::bigint ELSE (random() * 60)::bigint END, NULL
FROM ans_day y;
INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
SELECT y.account_id, y.source_id, y.day, 'f' || f, (random() * 12)::integer
FROM ans_day y CROSS JOIN generate_series(1, 6) AS f
WHERE random() < CASE WHEN f <= 2 THEN 0.6 WHEN y.d < 40 THEN 0.25 ELSE 0.05 END;
-- pending deltas: users (some taken back), features, plain events
INSERT INTO csm_internal.usage_delta (account_id, source_id, day, user_key, feature, events)
SELECT c.account_id, 1, date '2026-06-30' - (random() * 70)::integer + 2,
       CASE WHEN random() < 0.5 THEN 'user ' || (1 + (random() * 12)::integer) END,
       CASE WHEN random() < 0.4 THEN 'f' || (1 + (random() * 7)::integer) END,
       CASE WHEN random() < 0.15 THEN -1 ELSE (random() * 300)::bigint END
FROM ans_acc c CROSS JOIN generate_series(1, 4)
WHERE random() < 0.6;
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT c.account_id, date '2026-06-30' - d, 'default', 1,
       CASE WHEN random() < 0.05 THEN NULL ELSE 60 + random() * 40 END, NULL, 1, '2026-06-30 00:00+00'
FROM ans_acc c CROSS JOIN generate_series(-2, 12) AS d
WHERE random() < 0.3;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT c.account_id, timestamptz '2026-06-30 12:00+00' - (n * 37 % 200) * interval '1 day' + (n % 3) * interval '1 hour',
       CASE WHEN c.i % 3 = 0 THEN 9 + n % 2 ELSE (n * c.i) % 11 END
FROM ans_acc c CROSS JOIN generate_series(0, 3) AS n
WHERE random() < 0.5;

-- The answers, as text (so that a number printed differently is a difference)
CREATE FUNCTION pg_temp.answers(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence text) LANGUAGE sql STABLE AS $$
    SELECT d.account_id, d.signal, d.evidence::text FROM csm.expansion_signals_at(as_of, accounts) d
$$;
CREATE FUNCTION pg_temp.reference(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence text) LANGUAGE sql STABLE AS $$
    SELECT d.account_id, d.signal, d.evidence::text FROM pg_temp.expansion_reference(as_of, accounts) d
$$;
CREATE TEMP TABLE ans_seen AS
SELECT d.signal, d.evidence::jsonb AS evidence FROM pg_temp.reference('2026-06-30 12:00+00') d
WHERE d.account_id IN (SELECT account_id FROM ans_acc);

-- Not vacuous: every kind, and each way of reaching a plan limit, occurs
SELECT ok((SELECT count(DISTINCT s.signal) FROM ans_seen s) = 5
          AND (SELECT min(n) FROM (SELECT count(*) AS n FROM ans_seen GROUP BY signal) k) >= 3,
          'the portfolio shows every kind of signal, each at least 3 times');
SELECT ok((SELECT count(DISTINCT l.item ->> 'limit') || '/' || count(DISTINCT l.item ->> 'source')
           FROM ans_seen s CROSS JOIN LATERAL jsonb_array_elements(s.evidence -> 'limits') AS l(item)
           WHERE s.signal = 'plan_limit') = '3/2',
          'plan limits are reached by seats (from properties and from usage), by all events and per feature');
SELECT ok((SELECT count(DISTINCT m.item ->> 'milestone')
           FROM ans_seen s CROSS JOIN LATERAL jsonb_array_elements(s.evidence -> 'milestones') AS m(item)
           WHERE s.signal = 'usage_milestone') = 2,
          'usage milestones are reached by events and by active users');

-- The answers --------------------------------------------------------------------
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-06-30 12:00+00') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.reference('2026-06-30 12:00+00') ORDER BY 1, 2$$,
                  'as_of 2026-06-30: the same signals with the same evidence');
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-06-13 03:00+00') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.reference('2026-06-13 03:00+00') ORDER BY 1, 2$$,
                  'as_of 2026-06-13: the same');
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-07-03 00:00+00') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.reference('2026-07-03 00:00+00') ORDER BY 1, 2$$,
                  'as_of 2026-07-03 (accounts that started or churned since count or not): the same');
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-06-30 12:00+00', ARRAY(SELECT account_id FROM ans_acc WHERE i % 5 = 0)) ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.reference('2026-06-30 12:00+00', ARRAY(SELECT account_id FROM ans_acc WHERE i % 5 = 0)) ORDER BY 1, 2$$,
                  'for a fifth of the accounts: the same');
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-06-30 12:00+00', '{}') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.reference('2026-06-30 12:00+00', '{}') ORDER BY 1, 2$$,
                  'for no account: the same (nothing)');

-- Every threshold changed, one signal turned off
INSERT INTO csm.expansion_signal_setting (signal, enabled, params) VALUES
    ('plan_limit', true, '{"min_ratio": 0.5, "window_days": 7}'),
    ('user_growth', true, '{"min_growth": 0.1, "window_days": 14, "min_prior_users": 2}'),
    ('new_feature_area', true, '{"min_new": 1, "window_days": 10, "lookback_days": 15}'),
    ('usage_milestone', true, '{"window_days": 45, "event_milestones": [50, 500, 5000], "user_milestones": [3, 8, 100]}'),
    ('advocacy', false, '{}');
SELECT ok((SELECT count(*) FROM pg_temp.reference('2026-06-30 12:00+00') WHERE signal = 'user_growth') > 0
          AND (SELECT count(*) FROM pg_temp.reference('2026-06-30 12:00+00') WHERE signal = 'new_feature_area') > 0,
          'with the thresholds changed, user growth and new feature areas still occur');
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-06-30 12:00+00') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.reference('2026-06-30 12:00+00') ORDER BY 1, 2$$,
                  'every threshold changed, advocacy off: the same');
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-05-20 00:00+00') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.reference('2026-05-20 00:00+00') ORDER BY 1, 2$$,
                  'every threshold changed, as_of 2026-05-20: the same');
UPDATE csm.expansion_signal_setting SET params = '{"window_days": 90, "min_prior_users": 1, "min_growth": 0}' WHERE signal = 'user_growth';
UPDATE csm.expansion_signal_setting SET params = '{"window_days": 3, "lookback_days": 120, "min_new": 0}' WHERE signal = 'new_feature_area';
UPDATE csm.expansion_signal_setting SET params = '{"window_days": 60, "min_ratio": 0}' WHERE signal = 'plan_limit';
UPDATE csm.expansion_signal_setting SET enabled = true, params = '{"health_max_age_days": 1, "nps_max_age_days": 1, "min_health": 0, "min_nps": 0}'
WHERE signal = 'advocacy';
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-06-30 12:00+00') ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.reference('2026-06-30 12:00+00') ORDER BY 1, 2$$,
                  'long and short windows, zero thresholds: the same');

-- The C aggregates against their SQL forms, on generated rows (keys empty,
-- multibyte, NULL, events negative, days in and out of the windows)
CREATE TEMP TABLE ans_rows AS
SELECT g % 7 AS grp,
       CASE WHEN random() < 0.05 THEN NULL WHEN random() < 0.05 THEN '' ELSE 'k' || (random() * 12)::integer || CASE WHEN g % 3 = 0 THEN 'é' ELSE '' END END AS key,
       date '2026-06-30' - (random() * 50)::integer + 3 AS day,
       (random() * 6)::bigint - 2 AS events
FROM generate_series(1, 3000) AS g;
SELECT results_eq(
    $$SELECT grp, csm_internal._expansion_window_counts(key, day, events, '{2026-06-20,2026-06-30,2026-06-10,2026-06-20,2026-05-01,2026-07-02}')
      FROM ans_rows WHERE events > 0 GROUP BY grp ORDER BY grp$$,
    $$SELECT grp, ARRAY[count(DISTINCT key COLLATE "C") FILTER (WHERE day > '2026-06-20' AND day <= '2026-06-30'),
                        count(DISTINCT key COLLATE "C") FILTER (WHERE day > '2026-06-10' AND day <= '2026-06-20'),
                        count(DISTINCT key COLLATE "C") FILTER (WHERE day > '2026-05-01' AND day <= '2026-07-02')]
      FROM ans_rows WHERE events > 0 GROUP BY grp ORDER BY grp$$,
    '_expansion_window_counts: count(DISTINCT key COLLATE "C") per window, every window in one pass');
SELECT results_eq(
    $$SELECT grp, ARRAY(SELECT k FROM unnest(csm_internal._expansion_window_new(key, day, events, '{2026-06-20,2026-06-30,2026-06-05,2026-06-20}')) AS k ORDER BY k COLLATE "C")
      FROM ans_rows GROUP BY grp ORDER BY grp$$,
    $$SELECT grp, ARRAY(SELECT key FROM ans_rows r WHERE r.grp = g.grp AND key IS NOT NULL GROUP BY key
                        HAVING coalesce(sum(events) FILTER (WHERE day > '2026-06-20' AND day <= '2026-06-30'), 0) > 0
                           AND NOT coalesce(sum(events) FILTER (WHERE day > '2026-06-05' AND day <= '2026-06-20'), 0) > 0
                        ORDER BY key COLLATE "C")
      FROM (SELECT DISTINCT grp FROM ans_rows) g ORDER BY grp$$,
    '_expansion_window_new: the keys with events summing above 0 in the first window and not in the second');
-- a window asked for more than once (summed once) is counted in every place asked
SELECT results_eq(
    $$SELECT grp, csm_internal._expansion_window_counts(key, day, events, '{2026-06-20,2026-06-30,2026-06-10,2026-06-20,2026-06-20,2026-06-30,2026-06-10,2026-06-20}')
      FROM ans_rows WHERE events > 0 GROUP BY grp ORDER BY grp$$,
    $$SELECT grp, ARRAY[n[1], n[2], n[1], n[2]]
      FROM (SELECT grp, ARRAY[count(DISTINCT key COLLATE "C") FILTER (WHERE day > '2026-06-20' AND day <= '2026-06-30'),
                              count(DISTINCT key COLLATE "C") FILTER (WHERE day > '2026-06-10' AND day <= '2026-06-20')] AS n
            FROM ans_rows WHERE events > 0 GROUP BY grp) c ORDER BY grp$$,
    '_expansion_window_counts: a window given twice is counted in both places');
SELECT is((SELECT csm_internal._expansion_window_new(k, d, 1, '{2026-06-20,2026-06-30,2026-06-20,2026-06-30}')
           FROM (VALUES ('a', date '2026-06-25')) AS v(k, d)), '{}'::text[],
          '_expansion_window_new of a window against itself: no key');
SELECT throws_ok($$SELECT csm_internal._expansion_window_counts('k', current_date, 1, '{2026-01-01,2026-02-01,2026-03-01}')$$, '22023', NULL,
                 '_expansion_window_counts: bounds that are not pairs: 22023');
SELECT throws_ok($$SELECT csm_internal._expansion_window_new('k', current_date, 1, '{2026-01-01,2026-02-01}')$$, '22023', NULL,
                 '_expansion_window_new with one window: 22023');

-- refresh_expansion writes what detection finds
SELECT lives_ok($$SELECT csm.refresh_expansion('2026-06-30 12:00+00')$$, 'refresh_expansion runs');
SELECT results_eq($$SELECT account_id, signal, evidence::text FROM csm.expansion_signal
                    WHERE cleared_at IS NULL AND account_id IN (SELECT account_id FROM ans_acc) ORDER BY 1, 2$$,
                  $$SELECT * FROM pg_temp.reference('2026-06-30 12:00+00') WHERE account_id IN (SELECT account_id FROM ans_acc) ORDER BY 1, 2$$,
                  'the open signals refresh_expansion leaves are the reference''s answers');

SELECT * FROM finish();
ROLLBACK;
