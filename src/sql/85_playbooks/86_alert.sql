
-- csm_internal._forget_accounts deletes a deleted account's alerts.
CREATE OR REPLACE TRIGGER account_forget_alerts AFTER DELETE ON @extschema@.account
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION csm_internal._forget_accounts('@extschema@.alert');

-- The kinds: whether a kind is a state (cleared when its condition goes).
CREATE OR REPLACE FUNCTION csm_internal._alert_is_state(kind text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN kind IN ('health_band', 'churn_band', 'at_risk', 'unassigned', 'usage_milestone', 'usage_decline',
                'plan_limit', 'competitor_mention');
COMMENT ON FUNCTION csm_internal._alert_is_state(text) IS
    'Internal: true for the alert kinds that are states (cleared when the condition goes), false for events (raised once per subject, never cleared).';

-- What holds now, per kind: (account_id, subject, severity, evidence) of
-- every active account the kind applies to.  stamp is the raising
-- transaction's instant and today its UTC day, as constants (on Citus each
-- worker's now() is its own).
CREATE OR REPLACE FUNCTION csm_internal._alert_candidates(kind text, stamp timestamptz)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    today constant date := (stamp AT TIME ZONE 'UTC')::date;
BEGIN
    RETURN CASE kind
    -- (Searched CASEs only: Citus deparses a simple CASE over an enum
    -- wrongly when it pushes the query to the shards.)
    -- The account's computed band is yellow (below 90) or red (below 70).
    WHEN 'health_band' THEN $q$
        SELECT h.account_id, h.band::text AS subject,
               CASE WHEN h.band = 'red' THEN 'critical' ELSE 'warning' END AS severity,
               pg_catalog.jsonb_build_object('band', h.band, 'score', round(h.score::numeric, 1), 'model', h.model,
                                             'computed_at', h.computed_at) AS evidence
        FROM @extschema@.health_score h
        JOIN @extschema@.account a ON a.account_id = h.account_id
        WHERE a.status = 'active' AND h.band IN ('yellow', 'red')$q$
    -- The churn band is high or critical.
    WHEN 'churn_band' THEN $q$
        SELECT c.account_id, c.band::text AS subject,
               CASE WHEN c.band = 'critical' THEN 'critical' ELSE 'warning' END AS severity,
               pg_catalog.jsonb_build_object('band', c.band, 'probability', round(c.probability::numeric, 3),
                                             'risk_score', round(c.risk_score::numeric, 1), 'model', c.model,
                                             'drivers', c.drivers) AS evidence
        FROM @extschema@.churn_score c
        JOIN @extschema@.account a ON a.account_id = c.account_id
        WHERE a.status = 'active' AND c.band IN ('high', 'critical')$q$
    -- Seed 003's at-risk triggers, as the churn signals that detect them.
    WHEN 'at_risk' THEN $q$
        SELECT s.account_id, s.signal AS subject,
               CASE WHEN k.strength = 'strong' THEN 'critical' ELSE 'warning' END AS severity,
               s.evidence || pg_catalog.jsonb_build_object('signal', s.signal, 'label', k.label,
                                                           'first_seen_at', s.first_seen_at) AS evidence
        FROM @extschema@.churn_signal s
        JOIN @extschema@.churn_signal_kind k ON k.signal = s.signal
        JOIN @extschema@.account a ON a.account_id = s.account_id
        WHERE a.status = 'active' AND s.cleared_at IS NULL
          AND s.signal IN ('health_drop', 'no_login_14d', 'ticket_increase', 'key_stakeholder_departed',
                           'sponsor_departed', 'renewal_ghosting')$q$
    WHEN 'competitor_mention' THEN $q$
        SELECT s.account_id, '' AS subject, 'info' AS severity,
               s.evidence || pg_catalog.jsonb_build_object('first_seen_at', s.first_seen_at) AS evidence
        FROM @extschema@.churn_signal s
        JOIN @extschema@.account a ON a.account_id = s.account_id
        WHERE a.status = 'active' AND s.cleared_at IS NULL AND s.signal = 'competitor_mentioned'$q$
    WHEN 'plan_limit' THEN $q$
        SELECT s.account_id, '' AS subject, 'info' AS severity,
               s.evidence || pg_catalog.jsonb_build_object('first_seen_at', s.first_seen_at) AS evidence
        FROM @extschema@.expansion_signal s
        JOIN @extschema@.account a ON a.account_id = s.account_id
        WHERE a.status = 'active' AND s.cleared_at IS NULL AND s.signal = 'plan_limit'$q$
    WHEN 'usage_milestone' THEN $q$
        SELECT s.account_id, '' AS subject, 'info' AS severity,
               s.evidence || pg_catalog.jsonb_build_object('first_seen_at', s.first_seen_at) AS evidence
        FROM @extschema@.expansion_signal s
        JOIN @extschema@.account a ON a.account_id = s.account_id
        WHERE a.status = 'active' AND s.cleared_at IS NULL AND s.signal = 'usage_milestone'$q$
    -- Detractor answers of the last 30 days whose follow-up was opened
    -- (past answers loaded with open_followup false raise nothing).
    WHEN 'nps_detractor' THEN format($q$
        SELECT r.account_id, r.response_id::text AS subject, 'warning' AS severity,
               pg_catalog.jsonb_build_object('response_id', r.response_id, 'score', r.score,
                                             'responded_at', r.responded_at, 'survey_kind', r.survey_kind,
                                             'respondent', r.respondent, 'comment', r.comment) AS evidence
        FROM @extschema@.nps_response r
        JOIN @extschema@.nps_loop l ON l.account_id = r.account_id AND l.response_id = r.response_id
        JOIN @extschema@.account a ON a.account_id = r.account_id
        WHERE a.status = 'active' AND r.category = 'detractor' AND r.responded_at > %L::timestamptz - interval '30 days'$q$,
        stamp)
    -- The 90/60/30-day reminders raised in the last 7 days.
    WHEN 'renewal_reminder' THEN format($q$
        SELECT rr.account_id, rr.renewal_id || ':' || rr.days_out AS subject,
               CASE WHEN rr.days_out = 30 THEN 'warning' ELSE 'info' END AS severity,
               pg_catalog.jsonb_build_object('renewal_id', rr.renewal_id, 'days_out', rr.days_out,
                                             'renewal_date', rr.renewal_date, 'owner', rr.owner,
                                             'raised_at', rr.raised_at) AS evidence
        FROM @extschema@.renewal_reminder rr
        JOIN @extschema@.account a ON a.account_id = rr.account_id
        WHERE a.status = 'active' AND rr.raised_at > %L::timestamptz - interval '7 days'$q$, stamp)
    -- Active accounts without a primary owner, with the reason routing gave.
    WHEN 'unassigned' THEN $q$
        SELECT a.account_id, '' AS subject, 'warning' AS severity,
               pg_catalog.jsonb_build_object('account_created_at', a.created_at, 'reason', q.kind,
                                             'message', q.message) AS evidence
        FROM @extschema@.account a
        LEFT JOIN @extschema@.account_assignment p
          ON p.account_id = a.account_id AND p.is_primary AND p.ended_at IS NULL
        LEFT JOIN @extschema@.assignment_alert q ON q.account_id = a.account_id AND q.resolved_at IS NULL
        WHERE a.status = 'active' AND p.account_id IS NULL$q$
    -- Events of the last 14 UTC days (today's included) at least 20% below
    -- the 14 before, which had at least 100.
    WHEN 'usage_decline' THEN format($q$
        SELECT u.account_id, '' AS subject, 'info' AS severity,
               pg_catalog.jsonb_build_object('events_last_14d', u.recent, 'events_prior_14d', u.prior,
                                             'change', round(u.recent::numeric / u.prior - 1, 3)) AS evidence
        FROM (SELECT d.account_id,
                     coalesce(sum(d.events) FILTER (WHERE d.day > %1$L::date - 14), 0) AS recent,
                     coalesce(sum(d.events) FILTER (WHERE d.day <= %1$L::date - 14), 0) AS prior
              FROM csm_internal._usage_day d
              WHERE d.day > %1$L::date - 28 AND d.day <= %1$L::date
              GROUP BY d.account_id) u
        JOIN @extschema@.account a ON a.account_id = u.account_id
        WHERE a.status = 'active' AND u.prior >= 100 AND u.recent <= 0.8 * u.prior$q$, today)
    -- Business-outcome milestones reached in the last 30 days.
    WHEN 'success_achievement' THEN format($q$
        SELECT m.account_id, m.milestone AS subject, 'info' AS severity,
               pg_catalog.jsonb_build_object('milestone', m.milestone, 'label', d.label,
                                             'achieved_at', m.achieved_at, 'source', m.source) AS evidence
        FROM @extschema@.account_milestone m
        JOIN @extschema@.milestone d ON d.milestone = m.milestone
        JOIN @extschema@.account a ON a.account_id = m.account_id
        WHERE a.status = 'active' AND d.business_outcome AND m.achieved_at > %L::timestamptz - interval '30 days'$q$,
        stamp)
    -- Launches of the last 30 days, to the accounts that used one of their
    -- features in the 90 days before the launch.
    WHEN 'feature_launch' THEN format($q$
        SELECT f.account_id, l.launch_id::text AS subject, 'info' AS severity,
               pg_catalog.jsonb_build_object('launch_id', l.launch_id, 'launch', l.name,
                                             'launched_at', l.launched_at,
                                             'features_used', pg_catalog.jsonb_agg(DISTINCT f.feature),
                                             'events_90d', sum(f.events)) AS evidence
        FROM @extschema@.feature_launch l
        JOIN csm_internal._usage_feature_day f
          ON f.feature = ANY (l.features)
         AND f.day > (l.launched_at AT TIME ZONE 'UTC')::date - 90 AND f.day <= (l.launched_at AT TIME ZONE 'UTC')::date
        JOIN @extschema@.account a ON a.account_id = f.account_id
        WHERE a.status = 'active' AND l.launched_at <= %1$L::timestamptz
          AND l.launched_at > %1$L::timestamptz - interval '30 days'
        GROUP BY f.account_id, l.launch_id, l.name, l.launched_at$q$, stamp)
    END;
END $$;
COMMENT ON FUNCTION csm_internal._alert_candidates(text, timestamptz) IS
    'Internal: the query of what holds for an alert kind at stamp: (account_id, subject, severity, evidence) per active account; NULL for an unknown kind.';

CREATE OR REPLACE FUNCTION csm_internal._alert_kinds() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['health_band', 'churn_band', 'at_risk', 'nps_detractor', 'renewal_reminder', 'unassigned',
             'usage_milestone', 'usage_decline', 'plan_limit', 'competitor_mention', 'success_achievement',
             'feature_launch'];
COMMENT ON FUNCTION csm_internal._alert_kinds() IS 'Internal: every alert kind, in the order csm.run_alerts() raises them.';

-- Raises the alerts of the kinds given (for the accounts given, or all;
-- with accounts_from, only the accounts of that query, see
-- csm_internal._accounts_in): new episodes are inserted, state alerts
-- whose condition is gone are cleared, and each new alert is announced.
-- Returns how many it raised.  Called by the refreshes that change the
-- facts (as csm's owner) and by csm.run_alerts().
CREATE OR REPLACE FUNCTION csm_internal._raise_alerts(kinds text[], accounts bigint[] DEFAULT NULL, accounts_from text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET jit = off  -- (with nested loops off, a plan that still needs one costs enough to be compiled, for seconds)
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stamp constant timestamptz := now();
    k text;
    candidates text;
    only_candidates constant text := csm_internal._accounts_in('c', accounts, accounts_from);
    only_alerts constant text := csm_internal._accounts_in('x', accounts, accounts_from);
    n integer;
    raised integer := 0;
    payloads text[];
    -- A raise over the portfolio joins every candidate with the open
    -- alerts, and the statement that clears joins the other way.  Planned
    -- from missing or stale statistics (accounts loaded, alerts emptied,
    -- neither analyzed yet) these became nested loops that scanned the
    -- alert table once per candidate, a table the insert itself was
    -- growing: 2.7 s for 20,000 new alerts.  See csm_internal._whole_sets.
    nestloop constant text := current_setting('enable_nestloop');
BEGIN
    IF csm_internal._whole_sets(accounts, accounts_from) THEN
        PERFORM set_config('enable_nestloop', 'off', true);
    END IF;
    FOREACH k IN ARRAY kinds LOOP
        candidates := csm_internal._alert_candidates(k, stamp);
        IF candidates IS NULL THEN
            RAISE EXCEPTION 'unknown alert kind "%"', k USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- New episodes: no open alert of the kind and subject.  ON CONFLICT
        -- on alert_one_open: a session racing this one raises it once.
        EXECUTE format($q$
            INSERT INTO @extschema@.alert (account_id, kind, subject, severity, evidence, created_at)
            SELECT c.account_id, %1$L, c.subject, c.severity, c.evidence, %2$L::timestamptz
            FROM (%3$s) c
            LEFT JOIN @extschema@.alert x
              ON x.account_id = c.account_id AND x.kind = %1$L AND x.subject = c.subject AND x.cleared_at IS NULL
            WHERE x.account_id IS NULL%4$s
            ON CONFLICT (account_id, kind, subject) WHERE cleared_at IS NULL DO NOTHING$q$,
            k, stamp, candidates, only_candidates);
        GET DIAGNOSTICS n = ROW_COUNT;
        raised := raised + n;
        -- States whose condition is gone.
        IF csm_internal._alert_is_state(k) THEN
            EXECUTE format($q$
                UPDATE @extschema@.alert x SET cleared_at = greatest(%2$L::timestamptz, x.created_at)
                WHERE x.kind = %1$L AND x.cleared_at IS NULL%4$s
                  AND NOT EXISTS (SELECT 1 FROM (%3$s) c WHERE c.account_id = x.account_id AND c.subject = x.subject)$q$,
                k, stamp, candidates, only_alerts);
        END IF;
        PERFORM csm_internal._progress_add('run_alerts', 1);  -- csm.run_alerts's progress
    END LOOP;
    PERFORM set_config('enable_nestloop', nestloop, true);
    -- Announced from this backend; NOTIFY delivers them when the transaction
    -- commits, nothing if it rolls back, and a transaction's identical
    -- notifications once (a second call in it reads the first's again).  Up
    -- to 1000 one per alert; more in one that says where to read them.
    IF raised > 1000 THEN
        PERFORM pg_catalog.pg_notify('csm_alert',
                                     pg_catalog.json_build_object('alerts', raised, 'created_at', stamp)::text);
    ELSIF raised > 0 THEN
        EXECUTE format($q$
            SELECT array_agg(CASE WHEN octet_length(p.full) < 7900 THEN p.full ELSE p.short END ORDER BY p.alert_id)
            FROM (SELECT x.alert_id,
                         pg_catalog.json_build_object('alert_id', x.alert_id, 'account_id', x.account_id,
                             'external_id', a.external_id, 'kind', x.kind, 'subject', x.subject,
                             'severity', x.severity, 'created_at', x.created_at, 'evidence', x.evidence)::text AS full,
                         pg_catalog.json_build_object('alert_id', x.alert_id, 'account_id', x.account_id,
                             'external_id', a.external_id, 'kind', x.kind, 'subject', x.subject,
                             'severity', x.severity, 'created_at', x.created_at, 'evidence', NULL)::text AS short
                  FROM @extschema@.alert x
                  JOIN @extschema@.account a ON a.account_id = x.account_id
                  WHERE x.created_at = %1$L::timestamptz AND x.kind = ANY (%2$L::text[])%3$s) p$q$,
            stamp, kinds, only_alerts) INTO payloads;
        PERFORM pg_catalog.pg_notify('csm_alert', u.p) FROM unnest(payloads) AS u(p);
    END IF;
    -- Playbooks fired by an alert (trigger_kind alert, 85_playbook.sql), in
    -- this transaction: for the new alerts now, for the others by
    -- csm.run_playbooks().
    IF raised > 0 THEN
        PERFORM csm_internal._fire_playbooks(ARRAY['alert'], accounts, 'alerts', accounts_from => accounts_from);
    END IF;
    RETURN raised;
END $$;
REVOKE ALL ON FUNCTION csm_internal._raise_alerts(text[], bigint[], text) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._raise_alerts(text[], bigint[], text) IS
    'Internal: raises the alerts of the kinds given for the accounts given (NULL: all; with accounts_from, a query of account_id, only those it returns): inserts an alert for each episode that holds and has none open, clears the open state alerts whose condition is gone, announces each new alert by NOTIFY csm_alert (one notification for all when more than 1000), and when it raised any fires the playbooks of trigger kind alert (csm_internal._fire_playbooks). Returns how many it raised. 22023 for an unknown kind.';

CREATE OR REPLACE FUNCTION @extschema@.run_alerts() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    started constant timestamptz := clock_timestamp();
    raised integer;
BEGIN
    PERFORM csm_internal._require('operate');
    -- A NOTICE at every 10% of the kinds done (csm_internal._raise_alerts counts them).
    PERFORM csm_internal._progress_begin('run_alerts', cardinality(csm_internal._alert_kinds()));
    raised := csm_internal._raise_alerts(csm_internal._alert_kinds());
    PERFORM csm_internal._run_finished('alerts', started, raised);
    RETURN raised;
END $$;
COMMENT ON FUNCTION @extschema@.run_alerts() IS
    'Raises every kind of alert from the facts as they are (csm.alert): health_band, churn_band, at_risk, nps_detractor, renewal_reminder, unassigned, usage_milestone, usage_decline, plan_limit, competitor_mention, success_achievement, feature_launch; clears the state alerts whose condition is gone; announces each new alert by NOTIFY csm_alert with a JSON payload {"alert_id", "account_id", "external_id", "kind", "subject", "severity", "created_at", "evidence"} when the transaction commits (evidence null when the payload would pass 7900 bytes; one {"alerts", "created_at"} for all when it raised more than 1000: read them from csm.alert by created_at). Idempotent: an episode is alerted once. Returns how many it raised. Schedule it with pg_cron after the refreshes. Errors: 42501 without the operate level.';

CREATE OR REPLACE FUNCTION @extschema@.acknowledge_alert(alert_id bigint) RETURNS @extschema@.alert
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    result @extschema@.alert;
BEGIN
    PERFORM csm_internal._require('operate');
    IF acknowledge_alert.alert_id IS NULL THEN
        RAISE EXCEPTION 'alert_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE @extschema@.alert x
    SET acknowledged_at = greatest(now(), x.created_at), acknowledged_by = csm_internal._caller()
    WHERE x.alert_id = acknowledge_alert.alert_id AND x.acknowledged_at IS NULL
    RETURNING x.* INTO result;
    IF result.alert_id IS NULL THEN
        SELECT x.* INTO result FROM @extschema@.alert x WHERE x.alert_id = acknowledge_alert.alert_id;
        IF result.alert_id IS NULL THEN
            RAISE EXCEPTION 'alert % does not exist', acknowledge_alert.alert_id
                USING ERRCODE = 'no_data_found', HINT = 'See csm.alert for the alerts.';
        END IF;
    END IF;
    RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@.acknowledge_alert(bigint) IS
    'Acknowledges an alert: sets acknowledged_at (now) and acknowledged_by (the calling role) and returns the row; an alert acknowledged before keeps its first acknowledgement. Errors: P0002 unknown alert, 22004 NULL, 42501 without the operate level.';

CREATE OR REPLACE VIEW @extschema@.alert_summary WITH (security_invoker = true) AS
SELECT x.kind,
       x.severity,
       count(*) AS alerts,
       count(*) FILTER (WHERE x.cleared_at IS NULL AND x.acknowledged_at IS NULL) AS open_unacknowledged,
       count(*) FILTER (WHERE x.acknowledged_at IS NOT NULL) AS acknowledged,
       avg(x.acknowledged_at - x.created_at) AS mean_time_to_acknowledge,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY x.acknowledged_at - x.created_at) AS median_time_to_acknowledge,
       min(x.created_at) FILTER (WHERE x.cleared_at IS NULL AND x.acknowledged_at IS NULL) AS oldest_open_unacknowledged_at
FROM @extschema@.alert x
GROUP BY x.kind, x.severity;
COMMENT ON VIEW @extschema@.alert_summary IS
    'Alerts per kind and severity: how many, how many are open (not cleared) and not acknowledged, how many were acknowledged, and the time to acknowledge (acknowledged_at - created_at) of those, mean and median.';
COMMENT ON COLUMN @extschema@.alert_summary.alerts IS 'Alerts raised (count).';
COMMENT ON COLUMN @extschema@.alert_summary.open_unacknowledged IS 'Alerts not cleared and not acknowledged (count).';
COMMENT ON COLUMN @extschema@.alert_summary.acknowledged IS 'Alerts acknowledged (count).';
COMMENT ON COLUMN @extschema@.alert_summary.mean_time_to_acknowledge IS 'Mean of acknowledged_at - created_at over the acknowledged alerts (interval); NULL when none.';
COMMENT ON COLUMN @extschema@.alert_summary.median_time_to_acknowledge IS 'Median of acknowledged_at - created_at over the acknowledged alerts (interval); NULL when none.';
COMMENT ON COLUMN @extschema@.alert_summary.oldest_open_unacknowledged_at IS 'When the oldest open, unacknowledged alert was raised; NULL when none.';

CREATE OR REPLACE VIEW @extschema@.alert_open WITH (security_invoker = true) AS
SELECT x.alert_id, x.account_id, a.external_id, a.name, x.kind, x.subject, x.severity, x.evidence, x.created_at,
       p.handle AS owner,
       a.name AS account_name  -- the vocabulary's name; name is deprecated
FROM @extschema@.alert x
JOIN @extschema@.account a ON a.account_id = x.account_id
LEFT JOIN @extschema@.account_assignment pa ON pa.account_id = x.account_id AND pa.is_primary AND pa.ended_at IS NULL
LEFT JOIN @extschema@.team_member p ON p.member_id = pa.member_id
WHERE x.cleared_at IS NULL AND x.acknowledged_at IS NULL;
COMMENT ON VIEW @extschema@.alert_open IS
    'The open (not cleared), unacknowledged alerts with their account and its primary CSM (owner, NULL when none): a CSM''s alert inbox.';
COMMENT ON COLUMN @extschema@.alert_open.owner IS 'Handle of the account''s primary CSM; NULL when it has none.';

-- Proactive outreach as playbooks (issue 14, section 5) ------------------------------

-- The trigger kind: an alert (its kind in trigger_values).  Its candidates
-- are in csm_internal._playbook_candidates_sql (85_playbooks/85_playbook.sql), with the others.
INSERT INTO @extschema@.playbook_trigger (trigger_kind, description, value_hint) VALUES
    ('alert', 'An open alert (csm.alert) of one of the kinds in trigger_values: a state alert while it holds, an event alert (nps_detractor, renewal_reminder, success_achievement, feature_launch) within the playbook''s cooldown after it was raised. Fired by the function that raised the alert and by csm.run_playbooks().',
     'alert kinds (csm.alert.kind): health_band, churn_band, at_risk, nps_detractor, renewal_reminder, unassigned, usage_milestone, usage_decline, plan_limit, competitor_mention, success_achievement, feature_launch')
ON CONFLICT DO NOTHING;

-- Seed 002's trigger_based_engagement, each action a built-in playbook.
-- (Its expansion_signal action, a proactive upgrade discussion when usage
-- approaches plan limits, is the built-in expansion_nurture.)  Made as
-- 85_playbooks/85_playbook.sql makes its own, before its guard was in place.
ALTER TABLE @extschema@.playbook DISABLE TRIGGER playbook_builtin;
INSERT INTO @extschema@.playbook (name, description, trigger_kind, trigger_values, cooldown, priority, builtin) VALUES
    ('outreach_usage_milestone', 'Seed 002''s proactive outreach: a usage milestone (the 1000th API call, the 100th user). Congratulatory message and success story request.',
     'alert', '{usage_milestone}', '90 days', 'low', true),
    ('outreach_feature_launch', 'Seed 002''s proactive outreach: a feature launch relevant to the customer (csm.feature_launch, to the accounts that use its features). Personalized demo offer and training.',
     'alert', '{feature_launch}', '30 days', 'low', true),
    ('outreach_usage_decline', 'Seed 002''s proactive outreach: usage down 20% or more over two weeks. Check-in call and support offer.',
     'alert', '{usage_decline}', '30 days', 'medium', true),
    ('outreach_success_achievement', 'Seed 002''s proactive outreach: a documented business outcome (a business_outcome milestone). Case study request and executive share.',
     'alert', '{success_achievement}', '180 days', 'low', true),
    ('outreach_competitive', 'Seed 002''s proactive outreach: a competitor mentioned or evaluated. Strategic engagement and differentiation.',
     'alert', '{competitor_mention}', '90 days', 'high', true)
ON CONFLICT DO NOTHING;
INSERT INTO @extschema@.playbook_step (playbook, position, title, due_after, assignee_role, kind) VALUES
    ('outreach_usage_milestone', 1, 'Send a congratulatory message', '2 days', 'primary_csm', 'email'),
    ('outreach_usage_milestone', 2, 'Request a success story', '14 days', 'primary_csm', 'task'),
    ('outreach_feature_launch', 1, 'Offer a personalized demo of the new feature', '3 days', 'primary_csm', 'email'),
    ('outreach_feature_launch', 2, 'Run the training', '14 days', 'primary_csm', 'meeting'),
    ('outreach_usage_decline', 1, 'Check-in call', '2 days', 'primary_csm', 'call'),
    ('outreach_usage_decline', 2, 'Offer support for what changed', '7 days', 'primary_csm', 'task'),
    ('outreach_success_achievement', 1, 'Request a case study', '7 days', 'primary_csm', 'email'),
    ('outreach_success_achievement', 2, 'Share the outcome with the executive sponsor', '14 days', 'primary_csm', 'meeting'),
    ('outreach_competitive', 1, 'Strategic engagement: learn what they are evaluating and why', '3 days', 'primary_csm', 'call'),
    ('outreach_competitive', 2, 'Present the differentiation', '10 days', 'account_exec', 'meeting')
ON CONFLICT DO NOTHING;
ALTER TABLE @extschema@.playbook ENABLE TRIGGER playbook_builtin;
