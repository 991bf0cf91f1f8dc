-- Churn signals, one function per source: csm.churn_signals_at(), now the
-- union of csm_internal._churn_signals_usage, _tickets_nps, _payments,
-- _health, _stakeholders, _notes and _engagement, gives on a generated
-- portfolio exactly the rows (evidence compared as text) of the single
-- query it replaced, kept below word for word as
-- pg_temp.churn_signals_reference; and each source's function gives exactly
-- the reference's rows of its signals.  Compared at several times (windows
-- whose edges fall on the data's timestamps and days), for a subset of
-- accounts and none, with no table tracked, with every threshold changed and
-- with a signal turned off.  The portfolio has every source, with counts
-- that land exactly on the default thresholds, accounts that churned before
-- or after as_of, start after it or have no start, NULL seats, renewals on
-- either side of the window, usage only before the windows, negative and
-- old pending deltas, and NULL amounts, scores and answers; every built-in
-- signal occurs, so the comparison is not vacuous.
BEGIN;
SELECT plan(21);
SET LOCAL timezone = 'UTC';
-- On Citus: the coordinator holds placements of the reference tables, and the
-- ANALYZE below runs over every shard, which it cannot once a placement was
-- read locally in the transaction (without Citus, a setting that does nothing).
SET LOCAL citus.enable_local_execution = off;

-- The reference: churn_signals_at as it was (72_churn_signal.sql before the
-- split), word for word but for its name and schema.
CREATE FUNCTION pg_temp.churn_signals_reference(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
-- a portfolio's weeks and features are hundreds of thousands of groups:
-- give the hash aggregates room rather than spill them to disk; JIT
-- compiling this query costs more than running it (5 s of 10 at 20,000
-- accounts)
SET work_mem = '128MB'
SET jit = off
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p jsonb;
    on_signals text[];
    today date;
    usage_tracked boolean;
    engagement_tracked boolean;
    -- thresholds (see csm.churn_signal_kind.params)
    ud_days integer;  ud_ratio numeric;  ud_min numeric;
    nl_days integer;
    iu_weeks integer; iu_cv numeric;     iu_min numeric;
    ad_days integer;  ad_drop numeric;
    ti_days integer;  ti_ratio numeric;  ti_min numeric;
    np_drop numeric;  np_detractor numeric; np_age integer;
    pi_grace integer; pi_back integer;
    hd_below numeric; hd_from numeric;   hd_days integer;
    sd_days integer;  kd_days integer;
    me_days integer;  me_min numeric;    cm_days integer; bc_days integer;
    oc_days integer;  le_days integer;   id_days integer;
    rd_days integer;  rd_min numeric;    rd_drop numeric;
    ma_days integer;  ma_min numeric;    ma_drop numeric;
    rg_renewal integer; rg_quiet integer;
    -- window edges, computed once: a window (from, as_of] holds what is
    -- later than from, up to and including as_of
    usage_from date;  ud_mid date;  ud_from date;  iu_from date;  nl_last date;  ad_mid date;  ad_from date;
    pi_due date;      pi_from date; hd_first date;
    nl_since timestamptz; iu_since timestamptz; le_since timestamptz;
    ti_mid timestamptz; ti_from timestamptz; np_from timestamptz; sd_from timestamptz; kd_from timestamptz;
    me_from timestamptz; cm_from timestamptz; bc_from timestamptz; oc_from timestamptz; le_from timestamptz;
    id_from timestamptz; notes_from timestamptz;
    rd_mid timestamptz; rd_from timestamptz; ma_mid timestamptz; ma_from timestamptz; rg_from timestamptz;
    engagement_from timestamptz;
BEGIN
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION 'as_of must be a finite time'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a timestamptz such as now().';
    END IF;
    today := (as_of AT TIME ZONE 'UTC')::date;

    SELECT jsonb_object_agg(c.signal, c.params), array_agg(c.signal) FILTER (WHERE c.enabled)
    INTO p, on_signals
    FROM csm.churn_signal_config c WHERE c.builtin;

    ud_days := p #>> '{usage_drop,window_days}';
    ud_ratio := p #>> '{usage_drop,max_ratio}';
    ud_min := p #>> '{usage_drop,min_prior_events}';
    nl_days := p #>> '{no_login_14d,inactive_days}';
    iu_weeks := p #>> '{inconsistent_usage,weeks}';
    iu_cv := p #>> '{inconsistent_usage,min_cv}';
    iu_min := p #>> '{inconsistent_usage,min_weekly_events}';
    ad_days := p #>> '{adoption_decline,window_days}';
    ad_drop := p #>> '{adoption_decline,min_drop}';
    ti_days := p #>> '{ticket_increase,window_days}';
    ti_ratio := p #>> '{ticket_increase,min_ratio}';
    ti_min := p #>> '{ticket_increase,min_tickets}';
    np_drop := p #>> '{nps_decline,min_drop}';
    np_detractor := p #>> '{nps_decline,detractor_max}';
    np_age := p #>> '{nps_decline,max_age_days}';
    pi_grace := p #>> '{payment_issue,grace_days}';
    pi_back := p #>> '{payment_issue,lookback_days}';
    hd_below := p #>> '{health_drop,below}';
    hd_from := p #>> '{health_drop,from_at_least}';
    hd_days := p #>> '{health_drop,window_days}';
    sd_days := p #>> '{sponsor_departed,window_days}';
    kd_days := p #>> '{key_stakeholder_departed,window_days}';
    me_days := p #>> '{multiple_escalations,window_days}';
    me_min := p #>> '{multiple_escalations,min_count}';
    cm_days := p #>> '{competitor_mentioned,window_days}';
    bc_days := p #>> '{budget_concern,window_days}';
    oc_days := p #>> '{org_change,window_days}';
    le_days := p #>> '{limited_expansion,window_days}';
    id_days := p #>> '{implementation_delay,window_days}';
    rd_days := p #>> '{response_decline,window_days}';
    rd_min := p #>> '{response_decline,min_outbound}';
    rd_drop := p #>> '{response_decline,min_drop}';
    ma_days := p #>> '{meeting_attendance_decline,window_days}';
    ma_min := p #>> '{meeting_attendance_decline,min_meetings}';
    ma_drop := p #>> '{meeting_attendance_decline,min_drop}';
    rg_renewal := p #>> '{renewal_ghosting,renewal_days}';
    rg_quiet := p #>> '{renewal_ghosting,quiet_days}';

    -- Usage is by UTC day, as in csm.account_metrics_at: the last 30 days
    -- are the 30 days up to and including as_of's.
    ud_mid := today - ud_days;
    ud_from := today - 2 * ud_days;
    iu_from := today - 7 * iu_weeks;
    nl_last := today - nl_days;
    usage_from := least(ud_from, iu_from, nl_last);
    ad_mid := today - ad_days;
    ad_from := today - 2 * ad_days;
    pi_due := today - pi_grace;
    pi_from := today - pi_back;
    hd_first := today - hd_days;
    -- Everything else is by the clock: the last 90 days are (as_of - 90 days, as_of].
    nl_since := as_of - make_interval(days => nl_days);
    iu_since := as_of - make_interval(days => 7 * iu_weeks);
    ti_mid := as_of - make_interval(days => ti_days);
    ti_from := as_of - make_interval(days => 2 * ti_days);
    np_from := as_of - make_interval(days => np_age);
    sd_from := as_of - make_interval(days => sd_days);
    kd_from := as_of - make_interval(days => kd_days);
    me_from := as_of - make_interval(days => me_days);
    cm_from := as_of - make_interval(days => cm_days);
    bc_from := as_of - make_interval(days => bc_days);
    oc_from := as_of - make_interval(days => oc_days);
    le_from := as_of - make_interval(days => le_days);
    le_since := le_from;
    id_from := as_of - make_interval(days => id_days);
    notes_from := least(me_from, cm_from, bc_from, oc_from, le_from, id_from);
    rd_mid := as_of - make_interval(days => rd_days);
    rd_from := as_of - make_interval(days => 2 * rd_days);
    ma_mid := as_of - make_interval(days => ma_days);
    ma_from := as_of - make_interval(days => 2 * ma_days);
    rg_from := as_of - make_interval(days => rg_quiet);
    engagement_from := least(rd_from, ma_from, rg_from);
    -- A source nobody feeds says nothing: no "no login" without tracked usage,
    -- no ghosting without engagements.
    usage_tracked := EXISTS (SELECT 1 FROM csm.usage_source);
    -- (LIMIT 1: on Citus each shard then sends one row at most)
    engagement_tracked := EXISTS (SELECT 1 FROM csm.engagement LIMIT 1);

    RETURN QUERY
    WITH acc AS (
        -- accounts that are customers at as_of
        SELECT a.account_id, coalesce(a.started_at, a.created_at) AS since, a.renewal_date
        FROM csm.account a
        WHERE (a.status = 'active' OR a.churned_at > as_of)
          AND (a.started_at IS NULL OR a.started_at <= as_of)
          AND (accounts IS NULL OR a.account_id = ANY (accounts))
    ),
    -- Usage ------------------------------------------------------------------
    -- Events per account, from the folded counters and the pending deltas
    -- (all of them: they are few, and an old one may be the last activity),
    -- in one pass: the two windows of usage_drop, the last active day, and
    -- the events of each of the last weeks (week 0 ends at as_of's day; at
    -- most 13, so that they are columns of one row per account rather than
    -- rows of their own, which cost four times as much).  Sums are exact; a
    -- day counts as active if any of its rows has events, so a day whose
    -- events were all deleted stays active until compact_usage() folds the
    -- deletion.
    usage_acc AS (
        SELECT u.account_id,
               coalesce(sum(u.events) FILTER (WHERE u.day > ud_mid), 0) AS recent,
               coalesce(sum(u.events) FILTER (WHERE u.day <= ud_mid AND u.day > ud_from), 0) AS prior,
               max(u.day) FILTER (WHERE u.events > 0) AS last_day,
               ARRAY[sum(u.events) FILTER (WHERE u.week = 0), sum(u.events) FILTER (WHERE u.week = 1),
                     sum(u.events) FILTER (WHERE u.week = 2), sum(u.events) FILTER (WHERE u.week = 3),
                     sum(u.events) FILTER (WHERE u.week = 4), sum(u.events) FILTER (WHERE u.week = 5),
                     sum(u.events) FILTER (WHERE u.week = 6), sum(u.events) FILTER (WHERE u.week = 7),
                     sum(u.events) FILTER (WHERE u.week = 8), sum(u.events) FILTER (WHERE u.week = 9),
                     sum(u.events) FILTER (WHERE u.week = 10), sum(u.events) FILTER (WHERE u.week = 11),
                     sum(u.events) FILTER (WHERE u.week = 12)] AS weeks
        FROM (SELECT c.account_id, c.day, c.events, CASE WHEN c.day > iu_from THEN (today - c.day) / 7 END AS week
              FROM csm_internal.usage_counter c
              WHERE c.day > usage_from AND c.day <= today
              UNION ALL
              SELECT d.account_id, d.day, d.events, CASE WHEN d.day > iu_from THEN (today - d.day) / 7 END
              FROM csm_internal.usage_delta d
              WHERE d.day <= today) u
        WHERE accounts IS NULL OR u.account_id = ANY (accounts)
        GROUP BY u.account_id
    ),
    usage_flags AS (
        SELECT a.account_id, a.since, u.recent, u.prior, w.s1, w.s2, u.last_day,
               coalesce(u.prior >= ud_min AND u.recent < ud_ratio * u.prior, false) AS dropped,
               usage_tracked AND a.since <= nl_since AND (u.last_day IS NULL OR u.last_day <= nl_last) AS inactive
        FROM acc a
        LEFT JOIN usage_acc u ON u.account_id = a.account_id
        -- the sum and the sum of squares of the weekly events
        LEFT JOIN LATERAL (SELECT sum(coalesce(x.e, 0)) AS s1, sum(coalesce(x.e, 0) ^ 2) AS s2
                           FROM unnest(u.weeks) AS x(e)) w ON true
    ),
    -- beyond the usage window, the last active day of the accounts that
    -- need it, looked up by key
    usage_old AS (
        SELECT c.account_id, max(c.day) AS last_day
        FROM csm_internal.usage_counter c
        WHERE c.account_id IN (SELECT f.account_id FROM usage_flags f
                               WHERE f.inactive AND NOT coalesce(f.last_day > usage_from, false))
          AND c.day <= today AND c.events > 0
        GROUP BY c.account_id
    ),
    usage_signals AS (
        SELECT f.account_id, 'usage_drop'::text AS signal,
               jsonb_build_object('recent_events', f.recent, 'prior_events', f.prior,
                                  'ratio', round(f.recent / f.prior, 4), 'window_days', ud_days) AS evidence
        FROM usage_flags f WHERE f.dropped
        UNION ALL
        SELECT f.account_id, 'no_login_14d',
               jsonb_build_object('last_active_day', l.last_day, 'days_inactive', today - l.last_day)
        FROM usage_flags f
        LEFT JOIN usage_old o ON o.account_id = f.account_id
        CROSS JOIN LATERAL (SELECT CASE WHEN f.last_day > usage_from THEN f.last_day
                                        ELSE greatest(f.last_day, o.last_day) END AS last_day) l
        WHERE f.inactive
        UNION ALL
        SELECT f.account_id, 'inconsistent_usage',
               jsonb_build_object('weeks', iu_weeks, 'mean_weekly_events', round(f.s1 / iu_weeks, 2),
                                  'cv', round(sqrt(greatest(f.s2 / iu_weeks - (f.s1 / iu_weeks) ^ 2, 0)) / (f.s1 / iu_weeks), 4))
        FROM usage_flags f
        WHERE f.s1 > 0 AND NOT f.dropped AND NOT f.inactive
          AND f.since <= iu_since
          AND f.s1 / iu_weeks >= iu_min
          AND sqrt(greatest(f.s2 / iu_weeks - (f.s1 / iu_weeks) ^ 2, 0)) > iu_cv * (f.s1 / iu_weeks)
    ),
    -- Features -----------------------------------------------------------------
    feature AS (
        SELECT x.account_id, x.feature,
               coalesce(sum(x.events) FILTER (WHERE x.day > ad_mid), 0) > 0 AS recent,
               coalesce(sum(x.events) FILTER (WHERE x.day <= ad_mid), 0) > 0 AS prior
        FROM (SELECT f.account_id, f.day, f.feature, f.events FROM csm_internal.usage_feature_counter f
              WHERE f.day > ad_from AND f.day <= today
              UNION ALL
              SELECT d.account_id, d.day, d.feature, d.events FROM csm_internal.usage_delta d
              WHERE d.feature IS NOT NULL AND d.day > ad_from AND d.day <= today) x
        WHERE accounts IS NULL OR x.account_id = ANY (accounts)
        GROUP BY x.account_id, x.feature
    ),
    feature_signals AS (
        SELECT f.account_id, 'adoption_decline'::text AS signal,
               jsonb_build_object('recent_features', count(*) FILTER (WHERE f.recent),
                                  'prior_features', count(*) FILTER (WHERE f.prior),
                                  'dropped', to_jsonb(array_agg(f.feature ORDER BY f.feature) FILTER (WHERE f.prior AND NOT f.recent)),
                                  'window_days', ad_days) AS evidence
        FROM feature f JOIN acc a ON a.account_id = f.account_id
        GROUP BY f.account_id
        HAVING count(*) FILTER (WHERE f.recent) <= count(*) FILTER (WHERE f.prior) - ad_drop
    ),
    -- Tickets ------------------------------------------------------------------
    tickets AS (
        SELECT c.account_id,
               count(*) FILTER (WHERE c.created_at > ti_mid) AS recent,
               count(*) FILTER (WHERE c.created_at <= ti_mid) AS prior
        FROM csm.conversation c
        WHERE c.created_at > ti_from AND c.created_at <= as_of
          AND (accounts IS NULL OR c.account_id = ANY (accounts))
        GROUP BY c.account_id
    ),
    ticket_signals AS (
        SELECT t.account_id, 'ticket_increase'::text AS signal,
               jsonb_build_object('recent_tickets', t.recent, 'prior_tickets', t.prior, 'window_days', ti_days) AS evidence
        FROM tickets t JOIN acc a ON a.account_id = t.account_id
        WHERE t.recent >= ti_min AND t.recent >= ti_ratio * t.prior
    ),
    -- NPS ------------------------------------------------------------------------
    nps_ranked AS (
        SELECT n.account_id, n.score, n.responded_at,
               row_number() OVER (PARTITION BY n.account_id ORDER BY n.responded_at DESC, n.response_id DESC) AS rn
        FROM csm.nps_response n
        WHERE n.responded_at <= as_of AND (accounts IS NULL OR n.account_id = ANY (accounts))
    ),
    nps AS (
        SELECT r.account_id,
               max(r.score) FILTER (WHERE r.rn = 1) AS latest,
               max(r.responded_at) FILTER (WHERE r.rn = 1) AS latest_at,
               max(r.score) FILTER (WHERE r.rn = 2) AS previous
        FROM nps_ranked r WHERE r.rn <= 2
        GROUP BY r.account_id
    ),
    nps_signals AS (
        SELECT n.account_id, 'nps_decline'::text AS signal,
               jsonb_build_object('latest', n.latest, 'previous', n.previous, 'responded_at', n.latest_at,
                                  'detractor', n.latest <= np_detractor) AS evidence
        FROM nps n JOIN acc a ON a.account_id = n.account_id
        WHERE n.latest_at > np_from
          AND (n.latest <= np_detractor OR n.previous - n.latest >= np_drop)
    ),
    -- Payments, as they stood at as_of: an invoice paid after it was still
    -- open then; one due after it did not exist yet. --------------------------
    payments AS (
        SELECT y.account_id,
               count(*) FILTER (WHERE y.status = 'failed') AS failed,
               count(*) FILTER (WHERE y.status = 'disputed') AS disputed,
               count(*) FILTER (WHERE y.open_then) AS overdue,
               count(*) FILTER (WHERE y.status = 'paid' AND NOT y.open_then) AS paid_late,
               count(*) FILTER (WHERE y.status = 'written_off') AS written_off,
               max(today - y.due_on) FILTER (WHERE y.open_then) AS max_days_overdue,
               sum(y.amount) FILTER (WHERE y.status <> 'paid' OR y.open_then) AS amount_at_issue
        FROM (SELECT x.*, x.status = 'pending' OR (x.status = 'paid' AND x.paid_on > today) AS open_then
              FROM csm.payment x
              WHERE x.due_on <= today AND (accounts IS NULL OR x.account_id = ANY (accounts))) y
        WHERE (y.status IN ('failed', 'disputed')
               OR (y.open_then AND y.due_on < pi_due)
               OR (y.status = 'paid' AND y.paid_on > y.due_on + pi_grace AND y.paid_on > pi_from AND y.paid_on <= today)
               OR (y.status = 'written_off' AND y.due_on > pi_from))
        GROUP BY y.account_id
    ),
    payment_signals AS (
        SELECT y.account_id, 'payment_issue'::text AS signal,
               jsonb_strip_nulls(jsonb_build_object('failed', y.failed, 'disputed', y.disputed, 'overdue', y.overdue,
                                                    'paid_late', y.paid_late, 'written_off', y.written_off,
                                                    'max_days_overdue', y.max_days_overdue,
                                                    'amount_at_issue', y.amount_at_issue)) AS evidence
        FROM payments y JOIN acc a ON a.account_id = y.account_id
    ),
    -- Health -------------------------------------------------------------------
    -- The latest score of each account in the window (a later one is the
    -- latest overall), and for those now below the bar the latest day at or
    -- above from_at_least in the window before it.  Both read only the days
    -- they need, so a long history costs nothing; no LIMIT in a lateral
    -- subquery, so that Citus runs them where the account's shard is.
    health_now AS (
        SELECT l.account_id, l.day, l.score
        FROM (SELECT DISTINCT ON (h.account_id) h.account_id, h.day, h.score
              FROM csm.health_history h
              WHERE h.day > hd_first AND h.day <= today
                AND (accounts IS NULL OR h.account_id = ANY (accounts))
              ORDER BY h.account_id, h.day DESC) l
        JOIN acc a ON a.account_id = l.account_id
        WHERE l.score < hd_below
    ),
    health_signals AS (
        SELECT DISTINCT ON (n.account_id) n.account_id, 'health_drop'::text AS signal,
               jsonb_build_object('score', round(n.score::numeric, 2), 'day', n.day,
                                  'earlier_score', round(e.score::numeric, 2), 'earlier_day', e.day) AS evidence
        FROM health_now n
        JOIN csm.health_history e
          ON e.account_id = n.account_id AND e.day >= n.day - hd_days AND e.day < n.day AND e.score >= hd_from
        ORDER BY n.account_id, e.day DESC
    ),
    -- Stakeholders -------------------------------------------------------------
    stakeholders AS (
        SELECT s.account_id,
               bool_or(s.role = 'executive_sponsor' AND (s.started_at IS NULL OR s.started_at <= as_of)
                       AND (s.departed_at IS NULL OR s.departed_at > as_of)) AS has_sponsor,
               jsonb_agg(jsonb_build_object('stakeholder_id', s.stakeholder_id, 'name', s.name, 'departed_at', s.departed_at)
                         ORDER BY s.departed_at, s.stakeholder_id)
                   FILTER (WHERE s.role = 'executive_sponsor' AND s.departed_at > sd_from AND s.departed_at <= as_of) AS sponsors_gone,
               jsonb_agg(jsonb_build_object('stakeholder_id', s.stakeholder_id, 'name', s.name, 'role', s.role,
                                            'departed_at', s.departed_at)
                         ORDER BY s.departed_at, s.stakeholder_id)
                   FILTER (WHERE s.is_key AND s.role <> 'executive_sponsor'
                           AND s.departed_at > kd_from AND s.departed_at <= as_of) AS key_gone,
               jsonb_agg(jsonb_build_object('stakeholder_id', s.stakeholder_id, 'name', s.name, 'role', s.role,
                                            'departed_at', s.departed_at)
                         ORDER BY s.departed_at, s.stakeholder_id)
                   FILTER (WHERE s.is_key AND s.role = 'executive_sponsor'
                           AND s.departed_at > kd_from AND s.departed_at <= as_of) AS key_sponsors_gone
        FROM csm.stakeholder s
        WHERE accounts IS NULL OR s.account_id = ANY (accounts)
        GROUP BY s.account_id
    ),
    stakeholder_flags AS (
        SELECT s.account_id, s.sponsors_gone,
               s.sponsors_gone IS NOT NULL AND NOT coalesce(s.has_sponsor, false) AS sponsor_lost,
               -- a sponsor whose departure raises sponsor_departed is not counted again
               coalesce(s.key_gone, '[]') || CASE WHEN s.sponsors_gone IS NOT NULL AND NOT coalesce(s.has_sponsor, false)
                                                  THEN '[]' ELSE coalesce(s.key_sponsors_gone, '[]') END AS keys_gone
        FROM stakeholders s JOIN acc a ON a.account_id = s.account_id
    ),
    stakeholder_signals AS (
        SELECT s.account_id, 'sponsor_departed'::text AS signal, jsonb_build_object('departed', s.sponsors_gone) AS evidence
        FROM stakeholder_flags s WHERE s.sponsor_lost
        UNION ALL
        SELECT s.account_id, 'key_stakeholder_departed', jsonb_build_object('departed', s.keys_gone)
        FROM stakeholder_flags s WHERE jsonb_array_length(s.keys_gone) > 0
    ),
    -- Notes ----------------------------------------------------------------------
    notes AS (
        SELECT n.account_id,
               count(*) FILTER (WHERE n.kind = 'escalation' AND n.noted_at > me_from) AS escalations,
               max(n.noted_at) FILTER (WHERE n.kind = 'escalation' AND n.noted_at > me_from) AS escalation_at,
               count(*) FILTER (WHERE n.kind = 'competitor_mention' AND n.noted_at > cm_from) AS competitor,
               max(n.noted_at) FILTER (WHERE n.kind = 'competitor_mention' AND n.noted_at > cm_from) AS competitor_at,
               count(*) FILTER (WHERE n.kind = 'budget_concern' AND n.noted_at > bc_from) AS budget,
               max(n.noted_at) FILTER (WHERE n.kind = 'budget_concern' AND n.noted_at > bc_from) AS budget_at,
               count(*) FILTER (WHERE n.kind = 'org_change' AND n.noted_at > oc_from) AS org,
               max(n.noted_at) FILTER (WHERE n.kind = 'org_change' AND n.noted_at > oc_from) AS org_at,
               count(*) FILTER (WHERE n.kind = 'implementation_delay' AND n.noted_at > id_from) AS delay,
               max(n.noted_at) FILTER (WHERE n.kind = 'implementation_delay' AND n.noted_at > id_from) AS delay_at,
               count(*) FILTER (WHERE n.noted_at > le_from) AS le_notes,
               count(*) FILTER (WHERE n.kind = 'expansion_discussion' AND n.noted_at > le_from) AS expansion
        FROM csm.account_note n
        WHERE n.noted_at > notes_from AND n.noted_at <= as_of
          AND (accounts IS NULL OR n.account_id = ANY (accounts))
        GROUP BY n.account_id
    ),
    note_signals AS (
        SELECT n.account_id, v.signal, jsonb_build_object('notes', v.notes, 'last_noted_at', v.last_at) AS evidence
        FROM notes n
        JOIN acc a ON a.account_id = n.account_id
        CROSS JOIN LATERAL (VALUES ('multiple_escalations', n.escalations, n.escalation_at, me_min),
                                   ('competitor_mentioned', n.competitor, n.competitor_at, 1),
                                   ('budget_concern', n.budget, n.budget_at, 1),
                                   ('org_change', n.org, n.org_at, 1),
                                   ('implementation_delay', n.delay, n.delay_at, 1)) AS v(signal, notes, last_at, at_least)
        WHERE v.notes >= greatest(v.at_least, 1)
        UNION ALL
        SELECT n.account_id, 'limited_expansion', jsonb_build_object('notes', n.le_notes, 'window_days', le_days)
        FROM notes n JOIN acc a ON a.account_id = n.account_id
        WHERE n.le_notes > 0 AND n.expansion = 0 AND a.since <= le_since
    ),
    -- Engagements --------------------------------------------------------------
    engagements AS (
        SELECT e.account_id,
               count(*) FILTER (WHERE e.responded IS NOT NULL AND e.occurred_at > rd_mid) AS out_recent,
               count(*) FILTER (WHERE e.responded AND e.occurred_at > rd_mid) AS answered_recent,
               count(*) FILTER (WHERE e.responded IS NOT NULL AND e.occurred_at <= rd_mid AND e.occurred_at > rd_from) AS out_prior,
               count(*) FILTER (WHERE e.responded AND e.occurred_at <= rd_mid AND e.occurred_at > rd_from) AS answered_prior,
               count(*) FILTER (WHERE e.attended IS NOT NULL AND e.occurred_at > ma_mid) AS meetings_recent,
               count(*) FILTER (WHERE e.attended AND e.occurred_at > ma_mid) AS attended_recent,
               count(*) FILTER (WHERE e.attended IS NOT NULL AND e.occurred_at <= ma_mid AND e.occurred_at > ma_from) AS meetings_prior,
               count(*) FILTER (WHERE e.attended AND e.occurred_at <= ma_mid AND e.occurred_at > ma_from) AS attended_prior,
               max(e.occurred_at) FILTER (WHERE e.direction = 'inbound' OR e.attended OR e.responded) AS engaged_at,
               count(*) FILTER (WHERE e.direction = 'outbound' AND e.occurred_at > rg_from) AS outreach_quiet
        FROM csm.engagement e
        WHERE e.occurred_at > engagement_from AND e.occurred_at <= as_of
          AND (accounts IS NULL OR e.account_id = ANY (accounts))
        GROUP BY e.account_id
    ),
    engagement_signals AS (
        SELECT e.account_id, 'response_decline'::text AS signal,
               jsonb_build_object('recent_rate', round(e.answered_recent::numeric / e.out_recent, 4),
                                  'prior_rate', round(e.answered_prior::numeric / e.out_prior, 4),
                                  'recent_outbound', e.out_recent, 'prior_outbound', e.out_prior,
                                  'window_days', rd_days) AS evidence
        FROM engagements e JOIN acc a ON a.account_id = e.account_id
        WHERE e.out_recent >= greatest(rd_min, 1) AND e.out_prior >= greatest(rd_min, 1)
          AND e.answered_prior::numeric / e.out_prior - e.answered_recent::numeric / e.out_recent >= rd_drop
        UNION ALL
        SELECT e.account_id, 'meeting_attendance_decline',
               jsonb_build_object('recent_rate', round(e.attended_recent::numeric / e.meetings_recent, 4),
                                  'prior_rate', round(e.attended_prior::numeric / e.meetings_prior, 4),
                                  'recent_meetings', e.meetings_recent, 'prior_meetings', e.meetings_prior,
                                  'window_days', ma_days)
        FROM engagements e JOIN acc a ON a.account_id = e.account_id
        WHERE e.meetings_recent >= greatest(ma_min, 1) AND e.meetings_prior >= greatest(ma_min, 1)
          AND e.attended_prior::numeric / e.meetings_prior - e.attended_recent::numeric / e.meetings_recent >= ma_drop
        UNION ALL
        SELECT a.account_id, 'renewal_ghosting',
               jsonb_build_object('renewal_date', a.renewal_date, 'days_to_renewal', a.renewal_date - today,
                                  'last_engaged_at', e.engaged_at, 'unanswered_outreach', coalesce(e.outreach_quiet, 0))
        FROM acc a LEFT JOIN engagements e ON e.account_id = a.account_id
        WHERE engagement_tracked
          -- the seed's "renewal in <60 days": today up to, not including, renewal_days away
          AND a.renewal_date - today >= 0 AND a.renewal_date - today < rg_renewal
          AND (e.engaged_at IS NULL OR e.engaged_at <= rg_from)
    )
    SELECT s.account_id, s.signal, s.evidence
    FROM (SELECT * FROM usage_signals
          UNION ALL SELECT * FROM feature_signals
          UNION ALL SELECT * FROM ticket_signals
          UNION ALL SELECT * FROM nps_signals
          UNION ALL SELECT * FROM payment_signals
          UNION ALL SELECT * FROM health_signals
          UNION ALL SELECT * FROM stakeholder_signals
          UNION ALL SELECT * FROM note_signals
          UNION ALL SELECT * FROM engagement_signals) s
    WHERE s.signal = ANY (on_signals);
END $$;

-- The portfolio ----------------------------------------------------------------
-- Times are at noon of a day d days before 2026-06-30, and as_of is noon, so
-- the edge of a window of k days falls on the rows of day k.
SELECT setseed(0.1616);
INSERT INTO csm.account (external_id, arr, seats, started_at, status, churned_at, renewal_date)
SELECT 'split_' || i, 1000 + i,
       CASE WHEN i % 7 = 0 THEN NULL ELSE 5 + i % 30 END,
       CASE WHEN i % 37 = 0 THEN NULL
            WHEN i % 41 = 0 THEN timestamptz '2026-07-02 00:00+00'
            WHEN i % 11 = 0 THEN timestamptz '2026-06-10 12:00+00'   -- younger than some windows
            WHEN i % 43 = 0 THEN timestamptz '2026-05-31 12:00+00'   -- exactly 30 days old at as_of
            ELSE timestamptz '2025-09-01 00:00+00' END,
       CASE WHEN i % 23 = 0 OR i % 29 = 0 THEN 'churned' ELSE 'active' END,
       CASE WHEN i % 23 = 0 THEN timestamptz '2026-06-20 00:00+00' WHEN i % 29 = 0 THEN timestamptz '2026-07-05 00:00+00' END,
       CASE WHEN i % 13 = 0 THEN NULL ELSE date '2026-06-30' + (i % 90 - 15) END
FROM generate_series(1, 400) AS i;
CREATE TEMP TABLE split_acc AS
SELECT a.account_id, substr(a.external_id, 7)::integer AS i
FROM csm.account a WHERE a.external_id LIKE 'split\_%';
CREATE FUNCTION pg_temp.at(d integer) RETURNS timestamptz LANGUAGE sql IMMUTABLE
    AS $$ SELECT timestamptz '2026-06-30 12:00+00' - d * interval '1 day' $$;

-- Usage: folded counters over 150 days (and 3 after as_of), busier or
-- quieter by account; some accounts used only long ago, some stop 14 days
-- before as_of; events in round numbers, so that ratios land on 0.5.
INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users)
SELECT c.account_id, 1, date '2026-06-30' - d,
       CASE WHEN c.i % 5 = 0 AND d < 30 THEN 5 WHEN c.i % 5 = 0 THEN 10
            WHEN c.i % 5 = 1 THEN (random() * 40)::bigint * 5
            ELSE (random() * 30)::bigint END, NULL
FROM split_acc c CROSS JOIN generate_series(-3, 150) AS d
WHERE CASE WHEN c.i % 19 = 0 THEN d > 100
           WHEN c.i % 17 = 0 THEN d >= 14
           WHEN c.i % 5 = 0 THEN d BETWEEN 0 AND 59
           WHEN c.i % 31 = 0 THEN false
           ELSE random() < 0.2 + (c.i % 4) * 0.2 END;
-- pending deltas: some negative, some older than every window, some after as_of
INSERT INTO csm_internal.usage_delta (account_id, source_id, day, user_key, feature, events)
SELECT c.account_id, 1, date '2026-06-30' - (random() * 200)::integer + 3, NULL,
       CASE WHEN random() < 0.5 THEN 'f' || (1 + (random() * 6)::integer) END,
       CASE WHEN random() < 0.15 THEN -(random() * 20)::bigint ELSE (random() * 50)::bigint END
FROM split_acc c CROSS JOIN generate_series(1, 3)
WHERE random() < 0.4;
-- features: f1 and f2 always, the others fading out of the last 30 days
INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events)
SELECT c.account_id, 1, date '2026-06-30' - d, 'f' || f, (random() * 5)::integer
FROM split_acc c CROSS JOIN generate_series(-2, 65) AS d CROSS JOIN generate_series(1, 6) AS f
WHERE random() < CASE WHEN f <= 2 THEN 0.3 WHEN d < 30 THEN 0.02 * (c.i % 4) ELSE 0.15 END;

-- Tickets: 0 to 6 in each 30-day window, some on the windows' edges
INSERT INTO csm.conversation (account_id, team, status, created_at, resolved_at)
SELECT c.account_id, 'support', 'resolved', pg_temp.at(d), pg_temp.at(d)
FROM split_acc c
CROSS JOIN LATERAL (SELECT CASE WHEN k <= c.i % 3 THEN 30 + (random() * 30)::integer
                                ELSE (random() * 30)::integer END AS d
                    FROM generate_series(1, (c.i * 7) % 9) AS k) t;

-- NPS: answers of every age (some exactly 180 days old), ties on the time
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT c.account_id, pg_temp.at(CASE WHEN n = 0 AND c.i % 9 = 0 THEN 180 ELSE (n * 53 + c.i) % 220 - 2 END),
       (c.i * (n + 3)) % 11
FROM split_acc c CROSS JOIN generate_series(0, 3) AS n
WHERE random() < 0.6;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT c.account_id, pg_temp.at(5), 10 - c.i % 4 FROM split_acc c WHERE c.i % 8 = 0;
INSERT INTO csm.nps_response (account_id, responded_at, score)
SELECT c.account_id, pg_temp.at(5), 7 + c.i % 3 FROM split_acc c WHERE c.i % 8 = 0;

-- Payments: due on every day around the grace and lookback edges, each status
INSERT INTO csm.payment (account_id, amount, due_on, paid_on, status)
SELECT c.account_id, CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 1000)::integer END,
       date '2026-06-30' - d,
       CASE WHEN s = 'paid' THEN date '2026-06-30' - d + (random() * 14)::integer END, s
FROM split_acc c
CROSS JOIN LATERAL (SELECT (random() * 100)::integer - 5 AS d,
                           (ARRAY['pending', 'paid', 'paid', 'paid', 'failed', 'disputed', 'written_off'])[1 + (random() * 6)::integer] AS s
                    FROM generate_series(1, 1 + c.i % 4)) p
WHERE c.i % 3 <> 0;

-- Health: scores on the bars (60, 70), NULL scores, days after as_of
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT c.account_id, date '2026-06-30' - d, 'default', 1,
       (ARRAY[55, 59.99, 60, 65, 69.99, 70, 80, NULL]::float8[])[1 + (random() * 7)::integer], NULL, 1, '2026-06-30 00:00+00'
FROM split_acc c CROSS JOIN generate_series(-2, 45) AS d
WHERE random() < 0.15;

-- Stakeholders: sponsors and key people leaving on and around the edges,
-- sponsors replaced or not, starting after as_of
INSERT INTO csm.stakeholder (account_id, name, role, is_key, started_at, departed_at)
SELECT c.account_id, 'person ' || k,
       (ARRAY['executive_sponsor', 'champion', 'decision_maker', 'admin', 'user'])[1 + (c.i + k) % 5],
       (c.i * k) % 3 = 0,
       CASE WHEN k = 4 THEN pg_temp.at(-1) WHEN k % 2 = 0 THEN NULL ELSE pg_temp.at(400) END,
       CASE WHEN k = 4 OR random() < 0.5 THEN NULL
            WHEN c.i % 10 = 0 THEN pg_temp.at(90)
            ELSE pg_temp.at((random() * 120)::integer - 3) END
FROM split_acc c CROSS JOIN generate_series(1, 4) AS k
WHERE random() < 0.6 AND c.i % 6 <> 0;

-- Notes: every kind, from 200 days ago to after as_of
INSERT INTO csm.account_note (account_id, noted_at, kind)
SELECT c.account_id, pg_temp.at(CASE WHEN k % 5 = 0 THEN 90 WHEN k % 7 = 0 THEN 180 ELSE (random() * 200)::integer - 3 END),
       (ARRAY['note', 'competitor_mention', 'budget_concern', 'escalation', 'org_change', 'expansion_discussion',
              'implementation_delay'])[1 + (random() * 6)::integer]
FROM split_acc c CROSS JOIN generate_series(1, 1 + c.i % 6) AS k
WHERE c.i % 4 <> 0;

-- Engagements: outreach answered or not (or not yet known), meetings
-- attended or not, inbound touches; some accounts quiet for 30 days
INSERT INTO csm.engagement (account_id, occurred_at, kind, direction, responded, attended)
SELECT c.account_id, pg_temp.at(d), e.kind, e.direction,
       CASE WHEN e.direction = 'outbound' THEN (ARRAY[true, false, NULL])[1 + (random() * 2)::integer] END,
       CASE WHEN e.kind IN ('meeting', 'qbr') THEN (ARRAY[true, false, NULL])[1 + (random() * 2)::integer] END
FROM split_acc c
CROSS JOIN LATERAL (SELECT CASE WHEN c.i % 5 = 0 THEN 30 + (random() * 150)::integer ELSE (random() * 180)::integer - 2 END AS d,
                           (ARRAY['meeting', 'call', 'email', 'qbr'])[1 + (random() * 3)::integer] AS kind,
                           CASE WHEN random() < 0.8 THEN 'outbound' ELSE 'inbound' END AS direction
                    FROM generate_series(1, 4 + c.i % 12)) e
WHERE c.i % 7 <> 0;

-- Statistics of the portfolio: the reference's one big statement, planned
-- without them, can take minutes.
ANALYZE csm.account, csm_internal.usage_counter, csm_internal.usage_delta, csm_internal.usage_feature_counter,
        csm.conversation, csm.nps_response, csm.payment, csm.health_history, csm.stakeholder, csm.account_note,
        csm.engagement;

-- The answers, as text (so that a number printed differently is a difference)
CREATE FUNCTION pg_temp.answers(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence text) LANGUAGE sql STABLE AS $$
    SELECT d.account_id, d.signal, d.evidence::text FROM csm.churn_signals_at(as_of, accounts) d
    ORDER BY 1, 2, 3
$$;
CREATE FUNCTION pg_temp.reference(as_of timestamptz, accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, signal text, evidence text) LANGUAGE sql STABLE AS $$
    SELECT d.account_id, d.signal, d.evidence::text FROM pg_temp.churn_signals_reference(as_of, accounts) d
    ORDER BY 1, 2, 3
$$;

-- No table tracked: no no_login_14d, the rest as before
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-06-30 12:00+00')$$,
                  $$SELECT * FROM pg_temp.reference('2026-06-30 12:00+00')$$,
                  'with no table tracked, churn_signals_at gives the reference''s rows');
-- A tracked table (csm.account stands in: it is on every node of a cluster)
INSERT INTO csm.usage_source (relation, account_column, time_column) VALUES ('csm.account', 'external_id', 'created_at');

CREATE TEMP TABLE split_seen AS
SELECT d.signal, count(*) AS n FROM pg_temp.reference('2026-06-30 12:00+00') d
WHERE d.account_id IN (SELECT account_id FROM split_acc) GROUP BY d.signal;
CREATE TEMP TABLE split_kind AS SELECT k.signal FROM csm.churn_signal_kind k WHERE k.builtin;
SELECT is((SELECT array_agg(k.signal ORDER BY k.signal) FROM split_kind k
           WHERE k.signal NOT IN (SELECT s.signal FROM split_seen s)),
          NULL, 'not vacuous: every built-in signal occurs in the portfolio');

-- The answers --------------------------------------------------------------------
SELECT results_eq(format('SELECT * FROM pg_temp.answers(%L)', t), format('SELECT * FROM pg_temp.reference(%L)', t),
                  format('churn_signals_at(%s) gives the reference''s rows', t))
FROM unnest(ARRAY['2026-06-30 12:00+00', '2026-06-30 11:59:59.999999+00', '2026-05-31 12:00+00', '2026-07-03 00:00+00',
                  '2026-03-01 00:00+00']::timestamptz[]) AS t;
SELECT results_eq($$SELECT * FROM pg_temp.answers('2026-06-30 12:00+00', ARRAY(SELECT account_id FROM split_acc WHERE i % 5 = 2))$$,
                  $$SELECT * FROM pg_temp.reference('2026-06-30 12:00+00', ARRAY(SELECT account_id FROM split_acc WHERE i % 5 = 2))$$,
                  'churn_signals_at gives the reference''s rows for a subset of accounts');
SELECT is_empty($$SELECT * FROM pg_temp.answers('2026-06-30 12:00+00', '{}')$$, 'and none for no accounts');

-- Each source's function: exactly the reference's rows of its signals
SELECT results_eq(format($$SELECT d.account_id, d.signal, d.evidence::text FROM csm_internal.%I('2026-06-30 12:00+00', NULL) d
                           ORDER BY 1, 2, 3$$, f),
                  format($$SELECT * FROM pg_temp.reference('2026-06-30 12:00+00') WHERE signal = ANY (%L)$$, signals),
                  format('%s gives the reference''s rows of %s', f, array_to_string(signals, ', ')))
FROM (VALUES ('_churn_signals_usage', '{usage_drop,no_login_14d,inconsistent_usage,adoption_decline}'::text[]),
             ('_churn_signals_tickets_nps', '{ticket_increase,nps_decline}'),
             ('_churn_signals_payments', '{payment_issue}'),
             ('_churn_signals_health', '{health_drop}'),
             ('_churn_signals_stakeholders', '{sponsor_departed,key_stakeholder_departed}'),
             ('_churn_signals_notes', '{multiple_escalations,competitor_mentioned,budget_concern,org_change,implementation_delay,limited_expansion}'),
             ('_churn_signals_engagement', '{response_decline,meeting_attendance_decline,renewal_ghosting}')) AS v(f, signals);

-- Every threshold changed (onto values the data hits), one signal turned off
INSERT INTO csm.churn_signal_setting (signal, enabled, params) VALUES
    ('usage_drop', true, '{"window_days": 14, "max_ratio": 0.8, "min_prior_events": 50}'),
    ('no_login_14d', true, '{"inactive_days": 7}'),
    ('inconsistent_usage', true, '{"weeks": 13, "min_cv": 0.3, "min_weekly_events": 5}'),
    ('adoption_decline', true, '{"window_days": 20, "min_drop": 1}'),
    ('ticket_increase', true, '{"window_days": 15, "min_ratio": 2, "min_tickets": 2}'),
    ('nps_decline', true, '{"min_drop": 1, "detractor_max": 5, "max_age_days": 60}'),
    ('payment_issue', true, '{"grace_days": 3, "lookback_days": 30}'),
    ('health_drop', true, '{"below": 65, "from_at_least": 69.99, "window_days": 10}'),
    ('sponsor_departed', true, '{"window_days": 30}'),
    ('key_stakeholder_departed', true, '{"window_days": 60}'),
    ('multiple_escalations', true, '{"window_days": 45, "min_count": 1}'),
    ('competitor_mentioned', true, '{"window_days": 30}'),
    ('budget_concern', false, '{"window_days": 30}'),
    ('org_change', true, '{"window_days": 120}'),
    ('limited_expansion', true, '{"window_days": 90}'),
    ('implementation_delay', true, '{"window_days": 10}'),
    ('response_decline', true, '{"window_days": 30, "min_outbound": 1, "min_drop": 0.5}'),
    ('meeting_attendance_decline', true, '{"window_days": 45, "min_meetings": 1, "min_drop": 0.5}'),
    ('renewal_ghosting', true, '{"renewal_days": 30, "quiet_days": 14}');
SELECT is((SELECT count(DISTINCT d.signal) FROM pg_temp.reference('2026-06-30 12:00+00') d), 18::bigint,
          'with the thresholds changed, every signal but the one turned off still occurs');
SELECT results_eq(format('SELECT * FROM pg_temp.answers(%L)', t), format('SELECT * FROM pg_temp.reference(%L)', t),
                  format('with every threshold changed, churn_signals_at(%s) gives the reference''s rows', t))
FROM unnest(ARRAY['2026-06-30 12:00+00', '2026-05-31 12:00+00']::timestamptz[]) AS t;

-- Bad input: what churn_signals_at checks before any source is read
SELECT throws_ok($$SELECT * FROM csm.churn_signals_at(NULL)$$, '22023', 'as_of must be a finite time', 'churn_signals_at(NULL) raises 22023');
SELECT throws_ok($$SELECT * FROM csm.churn_signals_at('infinity')$$, '22023', 'as_of must be a finite time', 'churn_signals_at(infinity) raises 22023');

SELECT * FROM finish(); ROLLBACK;
