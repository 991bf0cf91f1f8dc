
INSERT INTO @extschema@.churn_signal_kind (signal, strength, label, description, params, prior_weight, builtin) VALUES
    -- strong (the seed's strong signals, and the health drop trigger)
    ('usage_drop', 'strong', 'Usage down more than 50%',
     'Events in the last window_days are below max_ratio times the window_days before, which had at least min_prior_events. Seed: ">50% decrease in usage".',
     '{"window_days": 30, "max_ratio": 0.5, "min_prior_events": 100}', 1.2, true),
    ('sponsor_departed', 'strong', 'Executive sponsor departed',
     'An executive_sponsor stakeholder departed in the last window_days and nobody holds the role now. Seed: "Executive sponsor departure".',
     '{"window_days": 90}', 1.2, true),
    ('payment_issue', 'strong', 'Payment issues or delays',
     'A payment is failed or disputed, or pending more than grace_days past due, or was paid more than grace_days late or written off in the last lookback_days. Seed: "Payment issues or delays".',
     '{"grace_days": 7, "lookback_days": 90}', 1.2, true),
    ('multiple_escalations', 'strong', 'Multiple escalations',
     'At least min_count escalation notes in the last window_days. Seed: "Multiple escalations".',
     '{"window_days": 90, "min_count": 2}', 1.2, true),
    ('competitor_mentioned', 'strong', 'Competitor mentioned',
     'A competitor_mention note in the last window_days. Seed: "Competitor mentions"; also the seed''s competitive_activity trigger.',
     '{"window_days": 90}', 1.2, true),
    ('renewal_ghosting', 'strong', 'Renewal near, no engagement',
     'Renewal is fewer than renewal_days days away (today counts; the renewal_days-th day does not), and in the last quiet_days the customer neither reached out, attended a meeting nor answered outreach (only while csm.engagement is in use). Seed: "Contract renewal ghosting", and the CSM trigger "Renewal in <60 days with no engagement".',
     '{"renewal_days": 60, "quiet_days": 30}', 1.2, true),
    ('health_drop', 'strong', 'Health dropped below 60 from 70+',
     'The latest computed health score (csm.health_history, at most window_days old) is below "below", and it was at least from_at_least on some day in the window_days before it. CSM trigger: "Health score drops below 60 (from 70+)".',
     '{"below": 60, "from_at_least": 70, "window_days": 30}', 1.2, true),
    -- moderate (the seed's moderate signals, and two CSM triggers)
    ('adoption_decline', 'moderate', 'Declining feature adoption',
     'Distinct features used in the last window_days are at least min_drop fewer than in the window_days before. Seed: "Declining feature adoption".',
     '{"window_days": 30, "min_drop": 2}', 0.6, true),
    ('response_decline', 'moderate', 'Fewer responses to outreach',
     'The share of outbound touchpoints answered in the last window_days is at least min_drop (a fraction) below the window_days before, with at least min_outbound answered-or-not touchpoints in each. Seed: "Reduced response rates".',
     '{"window_days": 60, "min_outbound": 3, "min_drop": 0.3}', 0.6, true),
    ('ticket_increase', 'moderate', 'Support tickets up 3x',
     'At least min_tickets support conversations opened in the last window_days, and at least min_ratio times as many as in the window_days before. Seed: "Support ticket increase", and the CSM trigger "Support tickets increased 3x".',
     '{"window_days": 30, "min_ratio": 3, "min_tickets": 3}', 0.6, true),
    ('nps_decline', 'moderate', 'Lower NPS',
     'The latest NPS answer (at most max_age_days old) is a detractor (at most detractor_max), or at least min_drop below the answer before it. Seed: "Lower NPS scores".',
     '{"min_drop": 2, "detractor_max": 6, "max_age_days": 180}', 0.6, true),
    ('budget_concern', 'moderate', 'Budget concerns mentioned',
     'A budget_concern note in the last window_days. Seed: "Budget concerns mentioned".',
     '{"window_days": 90}', 0.6, true),
    ('no_login_14d', 'moderate', 'No login for 14+ days',
     'No usage events for the last inactive_days days (the account being at least that old, and some table tracked). CSM trigger: "No login in 14+ days".',
     '{"inactive_days": 14}', 0.6, true),
    ('key_stakeholder_departed', 'moderate', 'Key stakeholder departed',
     'A key stakeholder (is_key) departed in the last window_days; an executive sponsor whose departure raises sponsor_departed is not counted again. CSM trigger: "Key stakeholder departed".',
     '{"window_days": 90}', 0.6, true),
    -- early (the seed's watch list)
    ('inconsistent_usage', 'early', 'Inconsistent usage',
     'Over the last weeks weeks (at most 13), weekly events vary with a coefficient of variation above min_cv, averaging at least min_weekly_events; not raised while usage_drop or no_login_14d is, which cover a fall or a stop. Seed: "Inconsistent usage patterns".',
     '{"weeks": 8, "min_cv": 0.5, "min_weekly_events": 10}', 0.3, true),
    ('meeting_attendance_decline', 'early', 'Reduced meeting attendance',
     'The share of meetings and business reviews attended in the last window_days is at least min_drop below the window_days before, with at least min_meetings in each. Seed: "Reduced meeting attendance".',
     '{"window_days": 90, "min_meetings": 2, "min_drop": 0.25}', 0.3, true),
    ('org_change', 'early', 'Organisational change',
     'An org_change note in the last window_days. Departures of stakeholders are sponsor_departed and key_stakeholder_departed, not this. Seed: "Organizational changes".',
     '{"window_days": 90}', 0.3, true),
    ('limited_expansion', 'early', 'No expansion discussions',
     'The account is at least window_days old and has notes from the last window_days, none of them an expansion_discussion. Seed: "Limited expansion discussions".',
     '{"window_days": 180}', 0.3, true),
    ('implementation_delay', 'early', 'Delayed implementation',
     'An implementation_delay note in the last window_days. Seed: "Delayed project implementations".',
     '{"window_days": 90}', 0.3, true)
ON CONFLICT DO NOTHING;

-- Built-in kinds are read-only: a change would be lost by pg_dump, which
-- leaves them out (CREATE EXTENSION installs them).
CREATE OR REPLACE FUNCTION csm_internal._churn_signal_kind_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.builtin THEN
        RAISE EXCEPTION 'churn signal "%" is built in and cannot be changed', OLD.signal
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Change its thresholds, prior weight or enabled flag in csm.churn_signal_setting.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.builtin THEN
        RAISE EXCEPTION 'churn signal "%" cannot be marked built in', NEW.signal
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Signals of your own have builtin = false; csm installs the built-in ones.';
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._churn_signal_kind_guard() IS
    'Trigger: built-in churn signal kinds are read-only, and no row may claim to be built in.';
CREATE OR REPLACE TRIGGER churn_signal_kind_guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.churn_signal_kind
    FOR EACH ROW EXECUTE FUNCTION csm_internal._churn_signal_kind_guard();

-- A setting may only change thresholds the signal has, to sensible numbers.
CREATE OR REPLACE FUNCTION csm_internal._churn_signal_setting_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    defaults jsonb;
    k text;
    v jsonb;
BEGIN
    SELECT c.params INTO defaults FROM @extschema@.churn_signal_kind c WHERE c.signal = NEW.signal AND c.builtin;
    IF defaults IS NULL OR jsonb_typeof(NEW.params) IS DISTINCT FROM 'object' THEN
        RETURN NEW;  -- a kind of your own, or a foreign key or CHECK violation about to be raised
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM jsonb_each(NEW.params) AS e LOOP
        IF NOT defaults ? k THEN
            RAISE EXCEPTION 'churn signal "%" has no parameter "%"', NEW.signal, k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Its parameters are %s.',
                                    (SELECT string_agg(d.key, ', ' ORDER BY d.key) FROM jsonb_object_keys(defaults) AS d(key)));
        END IF;
        IF jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric < 0 THEN
            RAISE EXCEPTION 'parameter "%" of churn signal "%" must be a number >= 0', k, NEW.signal
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('It was given %s.', v);
        END IF;
        IF k = 'weeks' AND (v #>> '{}')::numeric > 13 THEN
            RAISE EXCEPTION 'parameter "weeks" of churn signal "%" must be at most 13', NEW.signal
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('It was given %s.', v);
        END IF;
        IF (k LIKE '%\_days' OR k = 'weeks')
           AND ((v #>> '{}')::numeric < 1 OR (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric)) THEN
            RAISE EXCEPTION 'parameter "%" of churn signal "%" must be a whole number >= 1', k, NEW.signal
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('It was given %s.', v);
        END IF;
    END LOOP;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._churn_signal_setting_check() IS
    'Trigger: a setting of a built-in signal changes only parameters it has, to numbers >= 0 (whole numbers >= 1 for _days and weeks, weeks at most 13). Raises 22023.';
CREATE OR REPLACE TRIGGER churn_signal_setting_check BEFORE INSERT OR UPDATE ON @extschema@.churn_signal_setting
    FOR EACH ROW EXECUTE FUNCTION csm_internal._churn_signal_setting_check();

CREATE OR REPLACE VIEW @extschema@.churn_signal_config WITH (security_invoker = true) AS
SELECT k.signal,
       k.strength,
       k.label,
       k.description,
       k.builtin,
       coalesce(s.enabled, true) AS enabled,
       k.params || coalesce(s.params, '{}') AS params,
       coalesce(s.prior_weight, k.prior_weight) AS prior_weight,
       s.signal IS NOT NULL AS customized
FROM @extschema@.churn_signal_kind k
LEFT JOIN @extschema@.churn_signal_setting s ON s.signal = k.signal;
COMMENT ON VIEW @extschema@.churn_signal_config IS
    'Every churn signal as refresh_churn_signals() and the prior model use it: the kind with your settings applied (thresholds merged key by key, prior weight, enabled).';

-- Detection ------------------------------------------------------------------------

-- Detection is one function per data source, each returning the signals of
-- that source as (account_id, signal, evidence); csm.churn_signals_at is
-- their union.  Each is one statement of per-account aggregates, which
-- Citus runs on the shards where the accounts are.

-- The thresholds of every built-in signal, {signal: params}, with the
-- settings applied (csm.churn_signal_config).
CREATE OR REPLACE FUNCTION csm_internal._churn_signal_params() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT jsonb_object_agg(c.signal, c.params) FROM @extschema@.churn_signal_config c WHERE c.builtin;
END;
COMMENT ON FUNCTION csm_internal._churn_signal_params() IS
    'Internal: the thresholds of every built-in churn signal as {signal: params}, settings applied (csm.churn_signal_config).';

-- Whether an account is a customer at as_of: active, or churned after it,
-- and started by then (or with no start recorded).  A bare expression, which
-- the planner inlines where it is called (on Citus, on the shards).
CREATE OR REPLACE FUNCTION csm_internal._churn_is_customer(status text, churned_at timestamptz, started_at timestamptz,
                                                           as_of timestamptz)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (status = 'active' OR churned_at > as_of) AND (started_at IS NULL OR started_at <= as_of);
COMMENT ON FUNCTION csm_internal._churn_is_customer(text, timestamptz, timestamptz, timestamptz) IS
    'Internal: whether an account (its status, churned_at and started_at) is a customer at as_of: active or churned after it, and started by then or with no start recorded.';

-- Usage and features: usage_drop, no_login_14d, inconsistent_usage and
-- adoption_decline.  Usage is by UTC day, as in csm.account_metrics_at: the
-- last 30 days are the 30 days up to and including as_of's, so a window
-- "after" a day holds the days later than it, up to as_of's.
CREATE OR REPLACE FUNCTION csm_internal._churn_signals_usage(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
-- a portfolio's weeks and features are hundreds of thousands of groups:
-- give the hash aggregates room rather than spill them to disk; JIT
-- compiling this query costs more than running it
SET work_mem = '128MB'
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    params constant jsonb := csm_internal._churn_signal_params();
    today constant date := (as_of AT TIME ZONE 'UTC')::date;
    drop_window_days constant integer := params #>> '{usage_drop,window_days}';
    drop_max_ratio constant numeric := params #>> '{usage_drop,max_ratio}';
    drop_min_prior_events constant numeric := params #>> '{usage_drop,min_prior_events}';
    inactive_days constant integer := params #>> '{no_login_14d,inactive_days}';
    weeks constant integer := params #>> '{inconsistent_usage,weeks}';
    weeks_min_cv constant numeric := params #>> '{inconsistent_usage,min_cv}';
    weeks_min_mean_events constant numeric := params #>> '{inconsistent_usage,min_weekly_events}';
    adoption_window_days constant integer := params #>> '{adoption_decline,window_days}';
    adoption_min_drop constant numeric := params #>> '{adoption_decline,min_drop}';
    -- usage_drop compares the window after drop_recent_after with the one
    -- after drop_prior_after, up to drop_recent_after
    drop_recent_after constant date := today - drop_window_days;
    drop_prior_after constant date := today - 2 * drop_window_days;
    weeks_after constant date := today - 7 * weeks;
    -- inactive: no events after this day
    inactive_through constant date := today - inactive_days;
    -- the days read for the three usage signals
    usage_after constant date := least(drop_prior_after, weeks_after, inactive_through);
    adoption_recent_after constant date := today - adoption_window_days;
    adoption_prior_after constant date := today - 2 * adoption_window_days;
    -- an account younger than a window cannot have gone quiet, or be
    -- irregular, over it
    inactive_if_since constant timestamptz := as_of - make_interval(days => inactive_days);
    weeks_if_since constant timestamptz := as_of - make_interval(days => 7 * weeks);
    -- no "no login" while no table is tracked: a source nobody feeds says nothing
    usage_tracked constant boolean := EXISTS (SELECT 1 FROM @extschema@.usage_source);
BEGIN
    RETURN QUERY
    -- Events per account, from the folded counters and the pending deltas
    -- (all of them: they are few, and an old one may be the last activity),
    -- in one pass: the two windows of usage_drop, the last active day, and
    -- the events of each of the last weeks (week 0 ends at as_of's day; at
    -- most 13, so that they are columns of one row per account rather than
    -- rows of their own, which cost four times as much).  Sums are exact; a
    -- day counts as active if any of its rows has events, so a day whose
    -- events were all deleted stays active until compact_usage() folds the
    -- deletion.
    WITH usage_per_account AS (
        SELECT u.account_id,
               coalesce(sum(u.events) FILTER (WHERE u.day > drop_recent_after), 0) AS recent_events,
               coalesce(sum(u.events) FILTER (WHERE u.day <= drop_recent_after AND u.day > drop_prior_after), 0) AS prior_events,
               max(u.day) FILTER (WHERE u.events > 0) AS last_active_day,
               ARRAY[sum(u.events) FILTER (WHERE u.week = 0), sum(u.events) FILTER (WHERE u.week = 1),
                     sum(u.events) FILTER (WHERE u.week = 2), sum(u.events) FILTER (WHERE u.week = 3),
                     sum(u.events) FILTER (WHERE u.week = 4), sum(u.events) FILTER (WHERE u.week = 5),
                     sum(u.events) FILTER (WHERE u.week = 6), sum(u.events) FILTER (WHERE u.week = 7),
                     sum(u.events) FILTER (WHERE u.week = 8), sum(u.events) FILTER (WHERE u.week = 9),
                     sum(u.events) FILTER (WHERE u.week = 10), sum(u.events) FILTER (WHERE u.week = 11),
                     sum(u.events) FILTER (WHERE u.week = 12)] AS weekly_events
        FROM (SELECT c.account_id, c.day, c.events, CASE WHEN c.day > weeks_after THEN (today - c.day) / 7 END AS week
              FROM csm_internal.usage_counter c
              WHERE c.day > usage_after AND c.day <= today
              UNION ALL
              SELECT d.account_id, d.day, d.events, CASE WHEN d.day > weeks_after THEN (today - d.day) / 7 END
              FROM csm_internal.usage_delta d
              WHERE d.day <= today) u
        WHERE accounts IS NULL OR u.account_id = ANY (accounts)
        GROUP BY u.account_id
    ),
    usage_flags AS (
        SELECT c.account_id, coalesce(c.started_at, c.created_at) AS since, u.recent_events, u.prior_events, w.mean_events, w.mean_square_events, u.last_active_day,
               coalesce(u.prior_events >= drop_min_prior_events AND u.recent_events < drop_max_ratio * u.prior_events,
                        false) AS dropped,
               usage_tracked AND coalesce(c.started_at, c.created_at) <= inactive_if_since
                   AND (u.last_active_day IS NULL OR u.last_active_day <= inactive_through) AS inactive
        FROM @extschema@.account c
        LEFT JOIN usage_per_account u ON u.account_id = c.account_id
        -- the mean of the weekly events and of their squares
        LEFT JOIN LATERAL (SELECT sum(coalesce(x.events, 0)) / weeks AS mean_events,
                                  sum(coalesce(x.events, 0) ^ 2) / weeks AS mean_square_events
                           FROM unnest(u.weekly_events) AS x(events)) w ON true
        WHERE csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
          AND (accounts IS NULL OR c.account_id = ANY (accounts))
    ),
    -- beyond the usage window, the last active day of the accounts that
    -- need it, looked up by key
    usage_before_window AS (
        SELECT c.account_id, max(c.day) AS last_active_day
        FROM csm_internal.usage_counter c
        WHERE c.account_id IN (SELECT f.account_id FROM usage_flags f
                               WHERE f.inactive AND NOT coalesce(f.last_active_day > usage_after, false))
          AND c.day <= today AND c.events > 0
        GROUP BY c.account_id
    ),
    usage_signals AS (
        SELECT f.account_id, 'usage_drop'::text AS signal,
               jsonb_build_object('recent_events', f.recent_events, 'prior_events', f.prior_events,
                                  'ratio', round(f.recent_events / f.prior_events, 4), 'window_days', drop_window_days) AS evidence
        FROM usage_flags f WHERE f.dropped
        UNION ALL
        SELECT f.account_id, 'no_login_14d',
               jsonb_build_object('last_active_day', l.last_active_day, 'days_inactive', today - l.last_active_day)
        FROM usage_flags f
        LEFT JOIN usage_before_window b ON b.account_id = f.account_id
        CROSS JOIN LATERAL (SELECT CASE WHEN f.last_active_day > usage_after THEN f.last_active_day
                                        ELSE greatest(f.last_active_day, b.last_active_day) END AS last_active_day) l
        WHERE f.inactive
        UNION ALL
        SELECT f.account_id, 'inconsistent_usage',
               jsonb_build_object('weeks', weeks, 'mean_weekly_events', round(f.mean_events, 2),
                                  'cv', round(s.stddev_events / f.mean_events, 4))
        FROM usage_flags f
        CROSS JOIN LATERAL (SELECT sqrt(greatest(f.mean_square_events - f.mean_events ^ 2, 0)) AS stddev_events) s
        WHERE f.mean_events > 0 AND NOT f.dropped AND NOT f.inactive
          AND f.since <= weeks_if_since
          AND f.mean_events >= weeks_min_mean_events
          AND s.stddev_events > weeks_min_cv * f.mean_events
    ),
    -- whether each feature was used in the recent and in the prior window
    feature_use AS (
        SELECT x.account_id, x.feature,
               coalesce(sum(x.events) FILTER (WHERE x.day > adoption_recent_after), 0) > 0 AS recent,
               coalesce(sum(x.events) FILTER (WHERE x.day <= adoption_recent_after), 0) > 0 AS prior
        FROM (SELECT f.account_id, f.day, f.feature, f.events FROM csm_internal.usage_feature_counter f
              WHERE f.day > adoption_prior_after AND f.day <= today
              UNION ALL
              SELECT d.account_id, d.day, d.feature, d.events FROM csm_internal.usage_delta d
              WHERE d.feature IS NOT NULL AND d.day > adoption_prior_after AND d.day <= today) x
        WHERE accounts IS NULL OR x.account_id = ANY (accounts)
        GROUP BY x.account_id, x.feature
    ),
    feature_signals AS (
        SELECT f.account_id, 'adoption_decline'::text AS signal,
               jsonb_build_object('recent_features', count(*) FILTER (WHERE f.recent),
                                  'prior_features', count(*) FILTER (WHERE f.prior),
                                  'dropped', to_jsonb(array_agg(f.feature ORDER BY f.feature) FILTER (WHERE f.prior AND NOT f.recent)),
                                  'window_days', adoption_window_days) AS evidence
        FROM feature_use f JOIN @extschema@.account c ON c.account_id = f.account_id
                                AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
        GROUP BY f.account_id
        HAVING count(*) FILTER (WHERE f.recent) <= count(*) FILTER (WHERE f.prior) - adoption_min_drop
    )
    SELECT * FROM usage_signals
    UNION ALL SELECT * FROM feature_signals;
END $$;
COMMENT ON FUNCTION csm_internal._churn_signals_usage(timestamptz, bigint[]) IS
    'Internal: the churn signals read from usage rollups and pending deltas at as_of (usage_drop, no_login_14d, inconsistent_usage, adoption_decline), enabled or not, for the customer accounts (or those given); part of csm.churn_signals_at.';

-- Support tickets (csm.conversation) and NPS answers: ticket_increase and
-- nps_decline.  Windows of timestamps end at as_of: the last 30 days are
-- (as_of - 30 days, as_of].
CREATE OR REPLACE FUNCTION csm_internal._churn_signals_tickets_nps(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    params constant jsonb := csm_internal._churn_signal_params();
    ticket_window_days constant integer := params #>> '{ticket_increase,window_days}';
    ticket_min_ratio constant numeric := params #>> '{ticket_increase,min_ratio}';
    ticket_min_count constant numeric := params #>> '{ticket_increase,min_tickets}';
    nps_min_drop constant numeric := params #>> '{nps_decline,min_drop}';
    nps_detractor_max constant numeric := params #>> '{nps_decline,detractor_max}';
    nps_max_age_days constant integer := params #>> '{nps_decline,max_age_days}';
    tickets_recent_after constant timestamptz := as_of - make_interval(days => ticket_window_days);
    tickets_prior_after constant timestamptz := as_of - make_interval(days => 2 * ticket_window_days);
    -- an older latest answer says nothing about now
    nps_answered_after constant timestamptz := as_of - make_interval(days => nps_max_age_days);
BEGIN
    RETURN QUERY
    WITH tickets AS (
        SELECT t.account_id,
               count(*) FILTER (WHERE t.created_at > tickets_recent_after) AS recent_tickets,
               count(*) FILTER (WHERE t.created_at <= tickets_recent_after) AS prior_tickets
        FROM @extschema@.conversation t
        WHERE t.created_at > tickets_prior_after AND t.created_at <= as_of
          AND (accounts IS NULL OR t.account_id = ANY (accounts))
        GROUP BY t.account_id
    ),
    ticket_signals AS (
        SELECT t.account_id, 'ticket_increase'::text AS signal,
               jsonb_build_object('recent_tickets', t.recent_tickets, 'prior_tickets', t.prior_tickets,
                                  'window_days', ticket_window_days) AS evidence
        FROM tickets t JOIN @extschema@.account c ON c.account_id = t.account_id
                            AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
        WHERE t.recent_tickets >= ticket_min_count AND t.recent_tickets >= ticket_min_ratio * t.prior_tickets
    ),
    -- answers newest first (the later response_id first on a tie)
    nps_ranked AS (
        SELECT n.account_id, n.score, n.responded_at,
               row_number() OVER (PARTITION BY n.account_id ORDER BY n.responded_at DESC, n.response_id DESC) AS newest_first
        FROM @extschema@.nps_response n
        WHERE n.responded_at <= as_of AND (accounts IS NULL OR n.account_id = ANY (accounts))
    ),
    nps AS (
        SELECT r.account_id,
               max(r.score) FILTER (WHERE r.newest_first = 1) AS latest,
               max(r.responded_at) FILTER (WHERE r.newest_first = 1) AS latest_at,
               max(r.score) FILTER (WHERE r.newest_first = 2) AS previous
        FROM nps_ranked r WHERE r.newest_first <= 2
        GROUP BY r.account_id
    ),
    nps_signals AS (
        SELECT n.account_id, 'nps_decline'::text AS signal,
               jsonb_build_object('latest', n.latest, 'previous', n.previous, 'responded_at', n.latest_at,
                                  'detractor', n.latest <= nps_detractor_max) AS evidence
        FROM nps n JOIN @extschema@.account c ON c.account_id = n.account_id
                        AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
        WHERE n.latest_at > nps_answered_after
          AND (n.latest <= nps_detractor_max OR n.previous - n.latest >= nps_min_drop)
    )
    SELECT * FROM ticket_signals
    UNION ALL SELECT * FROM nps_signals;
END $$;
COMMENT ON FUNCTION csm_internal._churn_signals_tickets_nps(timestamptz, bigint[]) IS
    'Internal: the churn signals read from support conversations and NPS answers at as_of (ticket_increase, nps_decline), enabled or not, for the customer accounts (or those given); part of csm.churn_signals_at.';

-- Payments, as they stood at as_of: payment_issue.  An invoice paid after
-- as_of was still open then; one due after it did not exist yet.
CREATE OR REPLACE FUNCTION csm_internal._churn_signals_payments(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    params constant jsonb := csm_internal._churn_signal_params();
    today constant date := (as_of AT TIME ZONE 'UTC')::date;
    grace_days constant integer := params #>> '{payment_issue,grace_days}';
    lookback_days constant integer := params #>> '{payment_issue,lookback_days}';
    -- open and due before this day: overdue beyond the grace days
    overdue_if_due_before constant date := today - grace_days;
    -- late payments and write-offs count after this day
    lookback_after constant date := today - lookback_days;
BEGIN
    RETURN QUERY
    WITH payment_issues AS (
        SELECT p.account_id,
               count(*) FILTER (WHERE p.status = 'failed') AS failed,
               count(*) FILTER (WHERE p.status = 'disputed') AS disputed,
               count(*) FILTER (WHERE p.open_then) AS overdue,
               count(*) FILTER (WHERE p.status = 'paid' AND NOT p.open_then) AS paid_late,
               count(*) FILTER (WHERE p.status = 'written_off') AS written_off,
               max(today - p.due_on) FILTER (WHERE p.open_then) AS max_days_overdue,
               sum(p.amount) FILTER (WHERE p.status <> 'paid' OR p.open_then) AS amount_at_issue
        FROM (SELECT x.*, x.status = 'pending' OR (x.status = 'paid' AND x.paid_on > today) AS open_then
              FROM @extschema@.payment x
              WHERE x.due_on <= today AND (accounts IS NULL OR x.account_id = ANY (accounts))) p
        WHERE (p.status IN ('failed', 'disputed')
               OR (p.open_then AND p.due_on < overdue_if_due_before)
               OR (p.status = 'paid' AND p.paid_on > p.due_on + grace_days AND p.paid_on > lookback_after AND p.paid_on <= today)
               OR (p.status = 'written_off' AND p.due_on > lookback_after))
        GROUP BY p.account_id
    )
    SELECT p.account_id, 'payment_issue'::text AS signal,
           jsonb_strip_nulls(jsonb_build_object('failed', p.failed, 'disputed', p.disputed, 'overdue', p.overdue,
                                                'paid_late', p.paid_late, 'written_off', p.written_off,
                                                'max_days_overdue', p.max_days_overdue,
                                                'amount_at_issue', p.amount_at_issue)) AS evidence
    FROM payment_issues p JOIN @extschema@.account c ON c.account_id = p.account_id
                               AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of);
END $$;
COMMENT ON FUNCTION csm_internal._churn_signals_payments(timestamptz, bigint[]) IS
    'Internal: the churn signal read from csm.payment at as_of (payment_issue), enabled or not, for the customer accounts (or those given); part of csm.churn_signals_at.';

-- Health history: health_drop.  The latest score of each account in the
-- window (a later one is the latest overall), and for those now below the
-- bar the latest day at or above from_at_least in the window before it.
-- Both read only the days they need, so a long history costs nothing; no
-- LIMIT in a lateral subquery, so that Citus runs them where the account's
-- shard is.
CREATE OR REPLACE FUNCTION csm_internal._churn_signals_health(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    params constant jsonb := csm_internal._churn_signal_params();
    today constant date := (as_of AT TIME ZONE 'UTC')::date;
    below constant numeric := params #>> '{health_drop,below}';
    from_at_least constant numeric := params #>> '{health_drop,from_at_least}';
    window_days constant integer := params #>> '{health_drop,window_days}';
    -- an older latest score says nothing about now
    latest_after constant date := today - window_days;
BEGIN
    RETURN QUERY
    WITH latest_below AS (
        SELECT l.account_id, l.day, l.score
        FROM (SELECT DISTINCT ON (h.account_id) h.account_id, h.day, h.score
              FROM @extschema@.health_history h
              WHERE h.day > latest_after AND h.day <= today
                AND (accounts IS NULL OR h.account_id = ANY (accounts))
              ORDER BY h.account_id, h.day DESC) l
        JOIN @extschema@.account c ON c.account_id = l.account_id
             AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
        WHERE l.score < below
    )
    SELECT DISTINCT ON (l.account_id) l.account_id, 'health_drop'::text AS signal,
           jsonb_build_object('score', round(l.score::numeric, 2), 'day', l.day,
                              'earlier_score', round(e.score::numeric, 2), 'earlier_day', e.day) AS evidence
    FROM latest_below l
    JOIN @extschema@.health_history e
      ON e.account_id = l.account_id AND e.day >= l.day - window_days AND e.day < l.day AND e.score >= from_at_least
    ORDER BY l.account_id, e.day DESC;
END $$;
COMMENT ON FUNCTION csm_internal._churn_signals_health(timestamptz, bigint[]) IS
    'Internal: the churn signal read from csm.health_history at as_of (health_drop), enabled or not, for the customer accounts (or those given); part of csm.churn_signals_at.';

-- Stakeholders: sponsor_departed and key_stakeholder_departed.
CREATE OR REPLACE FUNCTION csm_internal._churn_signals_stakeholders(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    params constant jsonb := csm_internal._churn_signal_params();
    sponsor_window_days constant integer := params #>> '{sponsor_departed,window_days}';
    key_window_days constant integer := params #>> '{key_stakeholder_departed,window_days}';
    sponsor_departed_after constant timestamptz := as_of - make_interval(days => sponsor_window_days);
    key_departed_after constant timestamptz := as_of - make_interval(days => key_window_days);
BEGIN
    RETURN QUERY
    WITH departures AS (
        SELECT s.account_id,
               bool_or(s.role = 'executive_sponsor' AND (s.started_at IS NULL OR s.started_at <= as_of)
                       AND (s.departed_at IS NULL OR s.departed_at > as_of)) AS has_sponsor,
               jsonb_agg(jsonb_build_object('stakeholder_id', s.stakeholder_id, 'name', s.name, 'departed_at', s.departed_at)
                         ORDER BY s.departed_at, s.stakeholder_id)
                   FILTER (WHERE s.role = 'executive_sponsor'
                           AND s.departed_at > sponsor_departed_after AND s.departed_at <= as_of) AS sponsors_gone,
               jsonb_agg(jsonb_build_object('stakeholder_id', s.stakeholder_id, 'name', s.name, 'role', s.role,
                                            'departed_at', s.departed_at)
                         ORDER BY s.departed_at, s.stakeholder_id)
                   FILTER (WHERE s.is_key AND s.role <> 'executive_sponsor'
                           AND s.departed_at > key_departed_after AND s.departed_at <= as_of) AS keys_gone,
               jsonb_agg(jsonb_build_object('stakeholder_id', s.stakeholder_id, 'name', s.name, 'role', s.role,
                                            'departed_at', s.departed_at)
                         ORDER BY s.departed_at, s.stakeholder_id)
                   FILTER (WHERE s.is_key AND s.role = 'executive_sponsor'
                           AND s.departed_at > key_departed_after AND s.departed_at <= as_of) AS key_sponsors_gone
        FROM @extschema@.stakeholder s
        WHERE accounts IS NULL OR s.account_id = ANY (accounts)
        GROUP BY s.account_id
    ),
    departure_flags AS (
        SELECT d.account_id, d.sponsors_gone,
               d.sponsors_gone IS NOT NULL AND NOT coalesce(d.has_sponsor, false) AS sponsor_lost,
               -- a sponsor whose departure raises sponsor_departed is not counted again
               coalesce(d.keys_gone, '[]') || CASE WHEN d.sponsors_gone IS NOT NULL AND NOT coalesce(d.has_sponsor, false)
                                                   THEN '[]' ELSE coalesce(d.key_sponsors_gone, '[]') END AS keys_gone
        FROM departures d JOIN @extschema@.account c ON c.account_id = d.account_id
                               AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
    )
    SELECT d.account_id, 'sponsor_departed'::text AS signal, jsonb_build_object('departed', d.sponsors_gone) AS evidence
    FROM departure_flags d WHERE d.sponsor_lost
    UNION ALL
    SELECT d.account_id, 'key_stakeholder_departed', jsonb_build_object('departed', d.keys_gone)
    FROM departure_flags d WHERE jsonb_array_length(d.keys_gone) > 0;
END $$;
COMMENT ON FUNCTION csm_internal._churn_signals_stakeholders(timestamptz, bigint[]) IS
    'Internal: the churn signals read from csm.stakeholder at as_of (sponsor_departed, key_stakeholder_departed), enabled or not, for the customer accounts (or those given); part of csm.churn_signals_at.';

-- CRM notes: multiple_escalations, competitor_mentioned, budget_concern,
-- org_change, implementation_delay and limited_expansion, each counting
-- the notes of its kind in its own window.
CREATE OR REPLACE FUNCTION csm_internal._churn_signals_notes(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    params constant jsonb := csm_internal._churn_signal_params();
    escalations_min_count constant numeric := params #>> '{multiple_escalations,min_count}';
    expansion_window_days constant integer := params #>> '{limited_expansion,window_days}';
    escalations_after constant timestamptz := as_of - make_interval(days => (params #>> '{multiple_escalations,window_days}')::integer);
    competitor_after constant timestamptz := as_of - make_interval(days => (params #>> '{competitor_mentioned,window_days}')::integer);
    budget_after constant timestamptz := as_of - make_interval(days => (params #>> '{budget_concern,window_days}')::integer);
    org_change_after constant timestamptz := as_of - make_interval(days => (params #>> '{org_change,window_days}')::integer);
    delay_after constant timestamptz := as_of - make_interval(days => (params #>> '{implementation_delay,window_days}')::integer);
    -- limited_expansion: notes in this window, none about expansion, from an
    -- account at least as old as the window
    expansion_after constant timestamptz := as_of - make_interval(days => expansion_window_days);
    notes_after constant timestamptz := least(escalations_after, competitor_after, budget_after, org_change_after,
                                              delay_after, expansion_after);
BEGIN
    RETURN QUERY
    WITH notes AS (
        SELECT n.account_id,
               count(*) FILTER (WHERE n.kind = 'escalation' AND n.noted_at > escalations_after) AS escalations,
               max(n.noted_at) FILTER (WHERE n.kind = 'escalation' AND n.noted_at > escalations_after) AS escalation_at,
               count(*) FILTER (WHERE n.kind = 'competitor_mention' AND n.noted_at > competitor_after) AS competitor,
               max(n.noted_at) FILTER (WHERE n.kind = 'competitor_mention' AND n.noted_at > competitor_after) AS competitor_at,
               count(*) FILTER (WHERE n.kind = 'budget_concern' AND n.noted_at > budget_after) AS budget,
               max(n.noted_at) FILTER (WHERE n.kind = 'budget_concern' AND n.noted_at > budget_after) AS budget_at,
               count(*) FILTER (WHERE n.kind = 'org_change' AND n.noted_at > org_change_after) AS org_change,
               max(n.noted_at) FILTER (WHERE n.kind = 'org_change' AND n.noted_at > org_change_after) AS org_change_at,
               count(*) FILTER (WHERE n.kind = 'implementation_delay' AND n.noted_at > delay_after) AS delay,
               max(n.noted_at) FILTER (WHERE n.kind = 'implementation_delay' AND n.noted_at > delay_after) AS delay_at,
               count(*) FILTER (WHERE n.noted_at > expansion_after) AS expansion_window_notes,
               count(*) FILTER (WHERE n.kind = 'expansion_discussion' AND n.noted_at > expansion_after) AS expansion
        FROM @extschema@.account_note n
        WHERE n.noted_at > notes_after AND n.noted_at <= as_of
          AND (accounts IS NULL OR n.account_id = ANY (accounts))
        GROUP BY n.account_id
    )
    SELECT n.account_id, v.signal, jsonb_build_object('notes', v.notes, 'last_noted_at', v.last_noted_at) AS evidence
    FROM notes n
    JOIN @extschema@.account c ON c.account_id = n.account_id
         AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
    CROSS JOIN LATERAL (VALUES ('multiple_escalations', n.escalations, n.escalation_at, escalations_min_count),
                               ('competitor_mentioned', n.competitor, n.competitor_at, 1),
                               ('budget_concern', n.budget, n.budget_at, 1),
                               ('org_change', n.org_change, n.org_change_at, 1),
                               ('implementation_delay', n.delay, n.delay_at, 1)) AS v(signal, notes, last_noted_at, at_least)
    WHERE v.notes >= greatest(v.at_least, 1)
    UNION ALL
    SELECT n.account_id, 'limited_expansion', jsonb_build_object('notes', n.expansion_window_notes, 'window_days', expansion_window_days)
    FROM notes n JOIN @extschema@.account c ON c.account_id = n.account_id
                      AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
    WHERE n.expansion_window_notes > 0 AND n.expansion = 0 AND coalesce(c.started_at, c.created_at) <= expansion_after;
END $$;
COMMENT ON FUNCTION csm_internal._churn_signals_notes(timestamptz, bigint[]) IS
    'Internal: the churn signals read from csm.account_note at as_of (multiple_escalations, competitor_mentioned, budget_concern, org_change, implementation_delay, limited_expansion), enabled or not, for the customer accounts (or those given); part of csm.churn_signals_at.';

-- Engagements: response_decline, meeting_attendance_decline and
-- renewal_ghosting.  The two declines compare the window after *_recent_after
-- with the one before it, after *_prior_after.
CREATE OR REPLACE FUNCTION csm_internal._churn_signals_engagement(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    params constant jsonb := csm_internal._churn_signal_params();
    today constant date := (as_of AT TIME ZONE 'UTC')::date;
    response_window_days constant integer := params #>> '{response_decline,window_days}';
    response_min_outbound constant numeric := params #>> '{response_decline,min_outbound}';
    response_min_drop constant numeric := params #>> '{response_decline,min_drop}';
    attendance_window_days constant integer := params #>> '{meeting_attendance_decline,window_days}';
    attendance_min_meetings constant numeric := params #>> '{meeting_attendance_decline,min_meetings}';
    attendance_min_drop constant numeric := params #>> '{meeting_attendance_decline,min_drop}';
    renewal_days constant integer := params #>> '{renewal_ghosting,renewal_days}';
    quiet_days constant integer := params #>> '{renewal_ghosting,quiet_days}';
    responses_recent_after constant timestamptz := as_of - make_interval(days => response_window_days);
    responses_prior_after constant timestamptz := as_of - make_interval(days => 2 * response_window_days);
    meetings_recent_after constant timestamptz := as_of - make_interval(days => attendance_window_days);
    meetings_prior_after constant timestamptz := as_of - make_interval(days => 2 * attendance_window_days);
    -- ghosting: no sign of the customer after this
    quiet_after constant timestamptz := as_of - make_interval(days => quiet_days);
    engagements_after constant timestamptz := least(responses_prior_after, meetings_prior_after, quiet_after);
BEGIN
    -- No ghosting while nobody records engagements: a source nobody feeds
    -- says nothing (and no decline is found in no engagements).  LIMIT 1:
    -- on Citus each shard then sends one row at most.
    IF NOT EXISTS (SELECT 1 FROM @extschema@.engagement LIMIT 1) THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH engagements AS (
        SELECT e.account_id,
               count(*) FILTER (WHERE e.responded IS NOT NULL AND e.occurred_at > responses_recent_after) AS outbound_recent,
               count(*) FILTER (WHERE e.responded AND e.occurred_at > responses_recent_after) AS answered_recent,
               count(*) FILTER (WHERE e.responded IS NOT NULL AND e.occurred_at <= responses_recent_after
                                AND e.occurred_at > responses_prior_after) AS outbound_prior,
               count(*) FILTER (WHERE e.responded AND e.occurred_at <= responses_recent_after
                                AND e.occurred_at > responses_prior_after) AS answered_prior,
               count(*) FILTER (WHERE e.attended IS NOT NULL AND e.occurred_at > meetings_recent_after) AS meetings_recent,
               count(*) FILTER (WHERE e.attended AND e.occurred_at > meetings_recent_after) AS attended_recent,
               count(*) FILTER (WHERE e.attended IS NOT NULL AND e.occurred_at <= meetings_recent_after
                                AND e.occurred_at > meetings_prior_after) AS meetings_prior,
               count(*) FILTER (WHERE e.attended AND e.occurred_at <= meetings_recent_after
                                AND e.occurred_at > meetings_prior_after) AS attended_prior,
               max(e.occurred_at) FILTER (WHERE e.direction = 'inbound' OR e.attended OR e.responded) AS engaged_at,
               count(*) FILTER (WHERE e.direction = 'outbound' AND e.occurred_at > quiet_after) AS outreach_while_quiet
        FROM @extschema@.engagement e
        WHERE e.occurred_at > engagements_after AND e.occurred_at <= as_of
          AND (accounts IS NULL OR e.account_id = ANY (accounts))
        GROUP BY e.account_id
    )
    SELECT e.account_id, 'response_decline'::text AS signal,
           jsonb_build_object('recent_rate', round(e.answered_recent::numeric / e.outbound_recent, 4),
                              'prior_rate', round(e.answered_prior::numeric / e.outbound_prior, 4),
                              'recent_outbound', e.outbound_recent, 'prior_outbound', e.outbound_prior,
                              'window_days', response_window_days) AS evidence
    FROM engagements e JOIN @extschema@.account c ON c.account_id = e.account_id
                            AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
    WHERE e.outbound_recent >= greatest(response_min_outbound, 1) AND e.outbound_prior >= greatest(response_min_outbound, 1)
      AND e.answered_prior::numeric / e.outbound_prior - e.answered_recent::numeric / e.outbound_recent >= response_min_drop
    UNION ALL
    SELECT e.account_id, 'meeting_attendance_decline',
           jsonb_build_object('recent_rate', round(e.attended_recent::numeric / e.meetings_recent, 4),
                              'prior_rate', round(e.attended_prior::numeric / e.meetings_prior, 4),
                              'recent_meetings', e.meetings_recent, 'prior_meetings', e.meetings_prior,
                              'window_days', attendance_window_days)
    FROM engagements e JOIN @extschema@.account c ON c.account_id = e.account_id
                            AND csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
    WHERE e.meetings_recent >= greatest(attendance_min_meetings, 1) AND e.meetings_prior >= greatest(attendance_min_meetings, 1)
      AND e.attended_prior::numeric / e.meetings_prior - e.attended_recent::numeric / e.meetings_recent >= attendance_min_drop
    UNION ALL
    SELECT c.account_id, 'renewal_ghosting',
           jsonb_build_object('renewal_date', c.renewal_date, 'days_to_renewal', c.renewal_date - today,
                              'last_engaged_at', e.engaged_at, 'unanswered_outreach', coalesce(e.outreach_while_quiet, 0))
    FROM @extschema@.account c LEFT JOIN engagements e ON e.account_id = c.account_id
    WHERE csm_internal._churn_is_customer(c.status, c.churned_at, c.started_at, as_of)
      AND (accounts IS NULL OR c.account_id = ANY (accounts))
      -- the seed's "renewal in <60 days": today up to, not including, renewal_days away
      AND c.renewal_date - today >= 0 AND c.renewal_date - today < renewal_days
      AND (e.engaged_at IS NULL OR e.engaged_at <= quiet_after);
END $$;
COMMENT ON FUNCTION csm_internal._churn_signals_engagement(timestamptz, bigint[]) IS
    'Internal: the churn signals read from csm.engagement and renewal dates at as_of (response_decline, meeting_attendance_decline, renewal_ghosting), enabled or not, for the customer accounts (or those given); part of csm.churn_signals_at.';

-- Every window ends at as_of: "the last 30 days" of timestamps is
-- (as_of - 30 days, as_of]; of usage days, the 30 UTC days up to and
-- including as_of's, as in csm.account_metrics_at.
CREATE OR REPLACE FUNCTION @extschema@.churn_signals_at(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
-- the sources' aggregates are hundreds of thousands of groups: give them
-- room rather than spill them to disk; JIT compiling them costs more than
-- running them (5 s of 10 at 20,000 accounts)
SET work_mem = '128MB'
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    enabled_signals text[];
BEGIN
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION 'as_of must be a finite time'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a timestamptz such as now().';
    END IF;
    SELECT array_agg(c.signal) FILTER (WHERE c.enabled) INTO enabled_signals
    FROM @extschema@.churn_signal_config c WHERE c.builtin;

    RETURN QUERY
    SELECT s.account_id, s.signal, s.evidence
    FROM (SELECT * FROM csm_internal._churn_signals_usage(as_of, accounts)
          UNION ALL SELECT * FROM csm_internal._churn_signals_tickets_nps(as_of, accounts)
          UNION ALL SELECT * FROM csm_internal._churn_signals_payments(as_of, accounts)
          UNION ALL SELECT * FROM csm_internal._churn_signals_health(as_of, accounts)
          UNION ALL SELECT * FROM csm_internal._churn_signals_stakeholders(as_of, accounts)
          UNION ALL SELECT * FROM csm_internal._churn_signals_notes(as_of, accounts)
          UNION ALL SELECT * FROM csm_internal._churn_signals_engagement(as_of, accounts)) s
    WHERE s.signal = ANY (enabled_signals);
END $$;
COMMENT ON FUNCTION @extschema@.churn_signals_at(timestamptz, bigint[]) IS
    'The built-in churn signals that hold at as_of, with their evidence, for every account that is a customer then (or just the accounts given); reads, writes nothing. Thresholds come from csm.churn_signal_config. Raises 22023 for a NULL or infinite as_of.';

-- On Citus the refreshes and training run on the coordinator, which holds
-- the lock rows and plans the statements over the workers' shards.
CREATE OR REPLACE FUNCTION csm_internal._churn_require_coordinator(what text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    coordinator boolean;
BEGIN
    IF pg_catalog.to_regproc('pg_catalog.citus_is_coordinator') IS NOT NULL THEN
        EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO coordinator;
        IF NOT coordinator THEN
            RAISE EXCEPTION '% must run on the Citus coordinator', what
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Connect to the coordinator and call it there; it runs the per-account work on the workers.';
        END IF;
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._churn_require_coordinator(text) IS
    'Internal: raises 55000 when called on a Citus worker (what names the function); does nothing without Citus.';

-- The refresh of csm.refresh_churn_signals and csm.refresh_expansion,
-- whose callers check the caller's level first.  caller names the public
-- function in errors, lock_scope its row of csm_internal.lock_row.
--
-- A refresh records what was seen: one dated in the future would also
-- refuse every later refresh until then (see "before the last refresh").
-- One refresh at a time; readers and account writes do not wait for it.
-- The lock is a row of csm_internal.lock_row, which on Citus is a reference table
-- (one lock for the cluster; an advisory lock would be per node).
--
-- Then what holds now (the rows of detect(as_of, accounts)) against what
-- is open in signal_table: new, still seen, gone.  Open signals of
-- accounts that are not customers at as_of stay as they were, and so do
-- open signals of a kind not in kinds (NULL: every kind).  Rows are written
-- only for accounts locked FOR KEY SHARE here, and an account another
-- session is deleting is skipped rather than waited for: a delete that
-- comes later waits for this refresh at the account row, before its
-- cascade touches a signal, so nothing can deadlock.
--
-- Each step is a statement of its own, so that on Citus each runs where it
-- can: detection where the accounts' shards are (a function called inside
-- a statement that writes would be sent to the workers with it), the row
-- locks on the coordinator, the writes on the shards.  The statements are
-- run by EXECUTE ... USING, whose parameters the planner (and Citus) sees
-- as constants.
--
-- Should one account's data make a statement fail (a data exception,
-- class 22), the accounts are refreshed one at a time instead, and the
-- ones that fail are skipped and named in a WARNING (what names the
-- signals in it and in errors).
CREATE OR REPLACE FUNCTION csm_internal._refresh_signals(caller text, lock_scope text, signal_table regclass, detect regprocedure,
                                             what text, as_of timestamptz, accounts bigint[], kinds text[] DEFAULT NULL)
RETURNS TABLE (raised integer, ongoing integer, cleared integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stem constant text := 'csm_' || (SELECT c.relname FROM pg_class c WHERE c.oid = signal_table);
    t_detected constant text := stem || '_detected';
    t_open constant text := stem || '_open';
    t_classified constant text := stem || '_classified';
    wanted bigint;
    id bigint;
    one record;
    locked bigint[];
    tried integer := 0;
    failed text[] := '{}';
    err_state text;
    err_message text;
    later timestamptz;
BEGIN
    PERFORM csm_internal._churn_require_coordinator(caller);
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION 'as_of must be a finite time'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a timestamptz such as now().';
    END IF;
    IF as_of > pg_catalog.clock_timestamp() THEN
        RAISE EXCEPTION 'as_of % is in the future', as_of
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Refresh as of now() or a time before it; %s() computes signals at any time without writing.',
                                detect::oid::regproc);
    END IF;
    PERFORM csm_internal._lock_row(lock_scope, 'signals', true);

    -- Signals are a history: a refresh may not go back before the last one.
    EXECUTE format($q$
        SELECT max(s.last_seen_at) FROM %s s
        WHERE s.cleared_at IS NULL AND s.last_seen_at > $1 AND ($2 IS NULL OR s.account_id = ANY ($2))%s$q$,
                   signal_table, CASE WHEN kinds IS NOT NULL THEN ' AND s.signal = ANY ($3)' ELSE '' END)
        INTO later USING as_of, accounts, kinds;
    IF later IS NOT NULL THEN
        RAISE EXCEPTION 'as_of % is before the last refresh of % (%)', as_of, what, later
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Refresh in time order; to rebuild a history, delete the rows of %s first.', signal_table);
    END IF;

    BEGIN
    IF to_regclass(format('pg_temp.%I', t_detected)) IS NOT NULL THEN
        EXECUTE format('DROP TABLE IF EXISTS pg_temp.%I, pg_temp.%I, pg_temp.%I', t_detected, t_open, t_classified);
    END IF;
    EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS SELECT d.account_id, d.signal, d.evidence FROM %s($1, $2) d',
                   t_detected, detect::oid::regproc)
        USING as_of, accounts;
    EXECUTE format($q$
        CREATE TEMP TABLE %I ON COMMIT DROP AS
        SELECT s.account_id, s.signal
        FROM %s s
        JOIN @extschema@.account a ON a.account_id = s.account_id
        WHERE s.cleared_at IS NULL
          AND (a.status = 'active' OR a.churned_at > $1)
          AND (a.started_at IS NULL OR a.started_at <= $1)
          AND ($2 IS NULL OR s.account_id = ANY ($2))%s$q$,
                   t_open, signal_table, CASE WHEN kinds IS NOT NULL THEN ' AND s.signal = ANY ($3)' ELSE '' END)
        USING as_of, accounts, kinds;
    EXECUTE format($q$
        CREATE TEMP TABLE %I ON COMMIT DROP AS
        SELECT coalesce(d.account_id, o.account_id) AS account_id, coalesce(d.signal, o.signal) AS signal, d.evidence,
               CASE WHEN o.account_id IS NULL THEN 'new' WHEN d.account_id IS NULL THEN 'gone' ELSE 'seen' END AS state
        FROM pg_temp.%I d FULL JOIN pg_temp.%I o ON o.account_id = d.account_id AND o.signal = d.signal$q$,
                   t_classified, t_detected, t_open);
    EXECUTE format('ANALYZE pg_temp.%I', t_classified);
    -- the accounts written for, kept from being deleted meanwhile
    EXECUTE format($q$
        SELECT ARRAY(SELECT a.account_id
                     FROM @extschema@.account a
                     WHERE a.account_id IN (SELECT c.account_id FROM pg_temp.%1$I c)
                     ORDER BY a.account_id
                     FOR KEY SHARE OF a SKIP LOCKED),
               (SELECT count(DISTINCT c.account_id) FROM pg_temp.%1$I c)$q$, t_classified)
        INTO locked, wanted;
    IF cardinality(locked) < wanted THEN
        EXECUTE format($q$
            DELETE FROM pg_temp.%I c
            WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.unnest($1) AS l(account_id) WHERE l.account_id = c.account_id)$q$,
                       t_classified)
            USING locked;
    END IF;
    EXECUTE format($q$
        INSERT INTO %s (account_id, signal, evidence, first_seen_at, last_seen_at)
        SELECT c.account_id, c.signal, c.evidence, $1, $1
        FROM pg_temp.%I c
        WHERE c.state = 'new'
        ON CONFLICT (account_id, signal) WHERE cleared_at IS NULL DO NOTHING$q$, signal_table, t_classified)
        USING as_of;
    GET DIAGNOSTICS raised = ROW_COUNT;
    EXECUTE format($q$
        UPDATE %s s SET evidence = c.evidence, last_seen_at = $1
        FROM pg_temp.%I c
        WHERE c.state = 'seen' AND s.account_id = c.account_id AND s.signal = c.signal AND s.cleared_at IS NULL$q$,
                   signal_table, t_classified)
        USING as_of;
    GET DIAGNOSTICS ongoing = ROW_COUNT;
    EXECUTE format($q$
        UPDATE %s s SET cleared_at = $1
        FROM pg_temp.%I c
        WHERE c.state = 'gone' AND s.account_id = c.account_id AND s.signal = c.signal AND s.cleared_at IS NULL$q$,
                   signal_table, t_classified)
        USING as_of;
    GET DIAGNOSTICS cleared = ROW_COUNT;
    EXECUTE format('DROP TABLE pg_temp.%I, pg_temp.%I, pg_temp.%I', t_detected, t_open, t_classified);
    EXCEPTION WHEN data_exception THEN
        IF cardinality(accounts) = 1 THEN
            RAISE;  -- the account's own error
        END IF;
        GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT;
        raised := 0;
        ongoing := 0;
        cleared := 0;
        FOR id IN SELECT a.account_id FROM @extschema@.account a
                  WHERE (a.status = 'active' OR a.churned_at > as_of)
                    AND (a.started_at IS NULL OR a.started_at <= as_of)
                    AND (accounts IS NULL OR a.account_id = ANY (accounts))
                  ORDER BY a.account_id LOOP
            tried := tried + 1;
            BEGIN
                SELECT * INTO one FROM csm_internal._refresh_signals(caller, lock_scope, signal_table, detect, what, as_of, ARRAY[id], kinds);
                raised := raised + one.raised;
                ongoing := ongoing + one.ongoing;
                cleared := cleared + one.cleared;
            EXCEPTION WHEN data_exception THEN
                failed := failed || format('%s: %s', (SELECT a.external_id FROM @extschema@.account a WHERE a.account_id = id),
                                           SQLERRM);
            END;
        END LOOP;
        IF cardinality(failed) = tried THEN
            -- not one account's data, but every account's: the error itself
            RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_message;
        ELSIF cardinality(failed) > 0 THEN
            RAISE WARNING 'csm: the % of % of % accounts could not be refreshed and stay as they were',
                          what, cardinality(failed), tried
                USING DETAIL = array_to_string(failed[1:20], '; ')
                               || CASE WHEN cardinality(failed) > 20 THEN format('; and %s more', cardinality(failed) - 20) ELSE '' END,
                      HINT = 'Correct the account data named above; the other accounts were refreshed.';
        END IF;
    END;

    RETURN NEXT;
END $$;
REVOKE ALL ON FUNCTION csm_internal._refresh_signals(text, text, regclass, regprocedure, text, timestamptz, bigint[], text[]) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._refresh_signals(text, text, regclass, regprocedure, text, timestamptz, bigint[], text[]) IS
    'Internal: the refresh of csm.refresh_churn_signals and csm.refresh_expansion (caller names it in errors): refuses a NULL, infinite or future as_of or one before the last refresh (22023), or a Citus worker (55000); locks the row (lock_scope, ''signals'') of csm_internal.lock_row; raises the signals detect(as_of, accounts) finds that are not open in signal_table, updates the evidence and last_seen_at of open ones still seen, clears the rest (of the kinds given, NULL for every kind), for customer accounts it could lock FOR KEY SHARE. An account whose data makes it fail (a data exception) is skipped and named in a WARNING (what names the signals). Returns how many were raised, still open and cleared.';

CREATE OR REPLACE FUNCTION @extschema@.refresh_churn_signals(as_of timestamptz DEFAULT now(), accounts bigint[] DEFAULT NULL)
RETURNS TABLE (raised integer, ongoing integer, cleared integer)
LANGUAGE plpgsql VOLATILE
SET work_mem = '128MB'
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM csm_internal._require('operate');
    -- the built-in kinds only: a kind of your own is raised by hand
    RETURN QUERY
    SELECT * FROM csm_internal._refresh_signals('csm.refresh_churn_signals()', 'churn', '@extschema@.churn_signal',
                                               '@extschema@.churn_signals_at(timestamptz, bigint[])', 'churn signals', as_of, accounts,
                                               ARRAY(SELECT k.signal FROM @extschema@.churn_signal_kind k WHERE k.builtin ORDER BY k.signal));
    -- at-risk and competitor alerts (86_alert.sql)
    PERFORM csm_internal._raise_alerts(ARRAY['at_risk', 'competitor_mention'], accounts);
END $$;
COMMENT ON FUNCTION @extschema@.refresh_churn_signals(timestamptz, bigint[]) IS
    'Detects the built-in churn signals at as_of (csm.churn_signals_at) for every customer account, or the accounts given: raises new ones, updates the evidence and last_seen_at of open ones still seen, clears the rest. Returns how many were raised, still open and cleared. One refresh runs at a time (it locks the row (''churn'', ''signals'') of csm_internal.lock_row); a second run at the same as_of changes nothing. An account whose data makes the refresh fail (a data exception) is skipped and named in a WARNING, and the others are refreshed (one at a time, then). Raises 22023 for a NULL, infinite or future as_of, or one before the last refresh; on Citus, 55000 on a worker.';

-- The lock row of refreshes (csm_internal._lock_row makes it again if missing).
INSERT INTO csm_internal.lock_row (scope, key) VALUES ('churn', 'signals')
ON CONFLICT DO NOTHING;

CREATE OR REPLACE VIEW @extschema@.churn_signal_current WITH (security_invoker = true) AS
SELECT s.account_id,
       a.external_id,
       a.name AS account_name,
       s.signal,
       k.strength,
       k.label,
       s.evidence,
       s.first_seen_at,
       s.last_seen_at
FROM @extschema@.churn_signal s
JOIN @extschema@.account a ON a.account_id = s.account_id
JOIN @extschema@.churn_signal_kind k ON k.signal = s.signal
WHERE s.cleared_at IS NULL AND a.status = 'active';
COMMENT ON VIEW @extschema@.churn_signal_current IS
    'Open churn signals of active accounts, with the account''s external_id, the signal''s strength and label, and its evidence.';
