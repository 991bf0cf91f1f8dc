
INSERT INTO @extschema@.playbook_trigger (trigger_kind, description, value_hint) VALUES
    ('health_band', 'The account''s effective health band (csm.health_score, overrides included) is one of trigger_values: fired by csm.refresh_health() for the accounts whose band it changed, and by csm.run_playbooks() for every account in the band.',
     'health bands: green, yellow, red, unknown'),
    ('churn_signal', 'A churn signal of one of the kinds in trigger_values is open (csm.churn_signal): fired by csm.refresh_churn() and csm.run_playbooks().',
     'churn signal kinds (csm.churn_signal_kind.signal)'),
    ('churn_band', 'The account''s churn band (csm.churn_score) is one of trigger_values: fired by csm.refresh_churn() and csm.run_playbooks().',
     'churn bands: low, moderate, high, critical'),
    ('nps_category', 'The account''s latest relationship NPS answer is in one of the categories in trigger_values: fired by csm.record_nps() and csm.run_playbooks().',
     'NPS categories: promoter, passive, detractor'),
    ('no_activity', 'The account has had no usage event for at least trigger_values[1] days (one number; the account being at least that old): fired by csm.run_playbooks().',
     'one number of days, such as 30'),
    ('renewal_reminder', 'A 90/60/30-day renewal reminder (csm.renewal_reminder) whose days_out is in trigger_values was raised: fired by csm.refresh_renewals() and csm.run_playbooks() for the renewal''s current window.',
     'days out: 90, 60, 30'),
    ('expansion_signal', 'An expansion signal of one of the kinds in trigger_values is open (csm.expansion_signal): fired by csm.refresh_expansion() and csm.run_playbooks().',
     'expansion signal kinds (csm.expansion_signal_kind.signal)'),
    ('lifecycle_stage', 'The account''s lifecycle stage is one of trigger_values: fired by csm.refresh_lifecycle() and csm.run_playbooks().',
     'lifecycle stages: onboarding, adoption, growth, renewal, churned'),
    ('milestone_missed', 'A milestone in trigger_values is overdue and not reached (csm.onboarding_status): fired by csm.refresh_lifecycle() and csm.run_playbooks().',
     'milestone keys (csm.milestone.milestone)'),
    ('manual', 'Only csm.open_cta(), by hand.', NULL)
ON CONFLICT DO NOTHING;

-- csm_internal._forget_accounts deletes a deleted account's tasks (its CTAs
-- go by their foreign key to csm.account; csm.task has none to csm.cta).
CREATE OR REPLACE TRIGGER account_forget_tasks AFTER DELETE ON @extschema@.account
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION csm_internal._forget_accounts('@extschema@.task');

-- A change of what a playbook fires on raises its version.
CREATE OR REPLACE FUNCTION csm_internal._playbook_version() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (NEW.trigger_kind, NEW.trigger_values, NEW.condition::text, NEW.segment_filter, NEW.priority)
       IS DISTINCT FROM (OLD.trigger_kind, OLD.trigger_values, OLD.condition::text, OLD.segment_filter, OLD.priority)
       AND NEW.version = OLD.version THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._playbook_version() IS
    'Trigger on csm.playbook: raises version by one when trigger_kind, trigger_values, condition, segment_filter or priority change.';
CREATE OR REPLACE TRIGGER playbook_version BEFORE UPDATE ON @extschema@.playbook
    FOR EACH ROW EXECUTE FUNCTION csm_internal._playbook_version();

-- The built-in playbooks -------------------------------------------------------

INSERT INTO @extschema@.playbook (name, description, trigger_kind, trigger_values, condition, cooldown, priority,
                                  close_when_cleared, builtin) VALUES
    ('at_risk_intervention', 'Seed 002: health score below 70 (the red band). Find the root cause and call within 48 hours.',
     'health_band', '{red}', NULL, '30 days', 'high', true, true),
    ('expansion_nurture', 'Seed 002: high engagement (health 70 or more) and approaching plan limits (the plan_limit expansion signal).',
     'expansion_signal', '{plan_limit}', 'health_score >= 70', '90 days', 'medium', false, true),
    ('executive_sponsor_change', 'Seed 002: key stakeholder departure or change (the sponsor_departed and key_stakeholder_departed churn signals).',
     'churn_signal', '{sponsor_departed,key_stakeholder_departed}', NULL, '90 days', 'high', false, true),
    ('low_engagement_revival', 'Seed 002: 30 or more days with no activity.',
     'no_activity', '{30}', NULL, '30 days', 'medium', true, true),
    ('advocacy_development', 'Seed 002: NPS 9-10 (a promoter) and success outcomes (at least one of the seed''s success criteria met).',
     'nps_category', '{promoter}', 'success_criteria_met >= 1', '180 days', 'low', false, true),
    ('at_risk_customer', 'Seed 003''s at-risk customer playbook: health dropped below 60 from 70 or more (the health_drop churn signal). Immediate actions in days 1-3, outreach, a recovery call, risk resolved within 30 days.',
     'churn_signal', '{health_drop}', NULL, '30 days', 'urgent', false, true),
    ('renewal', 'Seed 002''s renewal strategy: opened by the 90-day renewal reminder, with the 90, 60 and 30 days out steps and the renewal''s execution, each due when its window comes.',
     'renewal_reminder', '{90}', NULL, '180 days', 'high', false, true)
ON CONFLICT DO NOTHING;

INSERT INTO @extschema@.playbook_step (playbook, position, title, due_after, assignee_role, kind) VALUES
    ('at_risk_intervention', 1, 'Identify root cause (usage, support, relationship)', '1 day', 'primary_csm', 'review'),
    ('at_risk_intervention', 2, 'Schedule intervention call within 48h', '2 days', 'primary_csm', 'call'),
    ('at_risk_intervention', 3, 'Create recovery plan', '5 days', 'primary_csm', 'task'),
    ('at_risk_intervention', 4, 'Executive escalation if needed', '7 days', 'account_exec', 'escalation'),
    ('at_risk_intervention', 5, 'Weekly monitoring', '7 days', 'primary_csm', 'review'),
    ('expansion_nurture', 1, 'Document current value delivered', '7 days', 'primary_csm', 'task'),
    ('expansion_nurture', 2, 'Identify expansion use cases', '14 days', 'primary_csm', 'task'),
    ('expansion_nurture', 3, 'Create business case', '21 days', 'primary_csm', 'task'),
    ('expansion_nurture', 4, 'Collaborate with sales', '28 days', 'account_exec', 'meeting'),
    ('expansion_nurture', 5, 'Present proposal', '35 days', 'account_exec', 'meeting'),
    ('executive_sponsor_change', 1, 'Identify new sponsor', '3 days', 'primary_csm', 'task'),
    ('executive_sponsor_change', 2, 'Schedule introduction call', '7 days', 'primary_csm', 'call'),
    ('executive_sponsor_change', 3, 'Provide context on relationship', '14 days', 'primary_csm', 'email'),
    ('executive_sponsor_change', 4, 'Re-establish value alignment', '21 days', 'primary_csm', 'meeting'),
    ('executive_sponsor_change', 5, 'Update success plan', '30 days', 'primary_csm', 'task'),
    ('low_engagement_revival', 1, 'Send re-engagement campaign', '2 days', 'primary_csm', 'email'),
    ('low_engagement_revival', 2, 'Offer value-add training', '7 days', 'primary_csm', 'email'),
    ('low_engagement_revival', 3, 'Schedule check-in', '10 days', 'primary_csm', 'call'),
    ('low_engagement_revival', 4, 'Assess continued fit', '14 days', 'primary_csm', 'review'),
    ('low_engagement_revival', 5, 'Document outcome', '21 days', 'primary_csm', 'task'),
    ('advocacy_development', 1, 'Request case study participation', '7 days', 'primary_csm', 'email'),
    ('advocacy_development', 2, 'Invite to reference program', '14 days', 'primary_csm', 'email'),
    ('advocacy_development', 3, 'Encourage reviews/testimonials', '21 days', 'primary_csm', 'email'),
    ('advocacy_development', 4, 'Speaking opportunity offers', '30 days', 'primary_csm', 'task'),
    ('advocacy_development', 5, 'Community leadership roles', '45 days', 'primary_csm', 'task'),
    ('at_risk_customer', 1, 'Review account history and recent interactions', '1 day', 'primary_csm', 'review'),
    ('at_risk_customer', 2, 'Check product usage data for specific drop-offs', '1 day', 'primary_csm', 'review'),
    ('at_risk_customer', 3, 'Research company news (layoffs, leadership changes)', '2 days', 'primary_csm', 'review'),
    ('at_risk_customer', 4, 'Send personalized outreach with value reminder', '3 days', 'primary_csm', 'email'),
    ('at_risk_customer', 5, 'Hold recovery call: understand, validate, demonstrate, commit', '7 days', 'primary_csm', 'call'),
    ('at_risk_customer', 6, 'Agree on success metrics and next check-in', '7 days', 'primary_csm', 'task'),
    ('at_risk_customer', 7, 'Confirm risk resolved (within 30 days)', '30 days', 'primary_csm', 'review'),
    ('renewal', 1, '90 days out: health score assessment', '7 days', 'primary_csm', 'review'),
    ('renewal', 2, '90 days out: risk mitigation planning', '14 days', 'primary_csm', 'task'),
    ('renewal', 3, '90 days out: value realization review', '21 days', 'primary_csm', 'review'),
    ('renewal', 4, '90 days out: usage trend analysis', '21 days', 'primary_csm', 'review'),
    ('renewal', 5, '90 days out: stakeholder engagement', '28 days', 'primary_csm', 'meeting'),
    ('renewal', 6, '60 days out: business review completion', '37 days', 'primary_csm', 'meeting'),
    ('renewal', 7, '60 days out: ROI documentation', '40 days', 'primary_csm', 'task'),
    ('renewal', 8, '60 days out: renewal proposal creation', '45 days', 'account_exec', 'task'),
    ('renewal', 9, '60 days out: pricing discussions initiation', '50 days', 'account_exec', 'meeting'),
    ('renewal', 10, '60 days out: expansion opportunities presented', '55 days', 'account_exec', 'meeting'),
    ('renewal', 11, '30 days out: contract negotiation', '65 days', 'account_exec', 'meeting'),
    ('renewal', 12, '30 days out: legal review coordination', '70 days', 'account_exec', 'task'),
    ('renewal', 13, '30 days out: approval process management', '75 days', 'account_exec', 'task'),
    ('renewal', 14, '30 days out: expansion finalization', '80 days', 'account_exec', 'task'),
    ('renewal', 15, '30 days out: implementation planning', '85 days', 'primary_csm', 'task'),
    ('renewal', 16, 'Execution: contract signature', '90 days', 'account_exec', 'task'),
    ('renewal', 17, 'Execution: payment processing', '90 days', 'account_exec', 'task'),
    ('renewal', 18, 'Execution: system updates', '90 days', 'primary_csm', 'task'),
    ('renewal', 19, 'Execution: success plan refresh', '90 days', 'primary_csm', 'task'),
    ('renewal', 20, 'Execution: kickoff for new period', '95 days', 'primary_csm', 'meeting')
ON CONFLICT DO NOTHING;

-- Built-in rows (made above, before it): the guard of csm.milestone and csm.lifecycle_rule.
CREATE OR REPLACE TRIGGER playbook_builtin BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.playbook
    FOR EACH ROW EXECUTE FUNCTION csm_internal._builtin_guard('name', 'active');

-- Firing ---------------------------------------------------------------------------

-- The accounts for which a trigger kind holds now, with the value that
-- fired (the band, signal, category...) and the source's own evidence: a
-- query with parameters $1 trigger_values (NULL: any), $2 accounts (NULL:
-- all), $3 the firing's instant and $4 the playbook's cooldown.  Each reads
-- the account's own rows, joined on account_id, so that Citus runs it on the
-- shards.  NULL for manual (and for a kind csm does not know).
CREATE OR REPLACE FUNCTION csm_internal._playbook_candidates_sql(trigger_kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE trigger_kind
    WHEN 'health_band' THEN $q$
        SELECT s.account_id, b.band::text AS value,
               pg_catalog.jsonb_build_object('health_score', pg_catalog.round(coalesce(o.score, s.score)::numeric, 1),
                                             'health_band', b.band, 'model', s.model, 'computed_at', s.computed_at,
                                             'override', o.score IS NOT NULL) AS event
        FROM @extschema@.health_score s
        LEFT JOIN (SELECT DISTINCT ON (ov.account_id) ov.account_id, ov.score
                   FROM @extschema@.health_override ov
                   WHERE ov.cleared_at IS NULL AND (ov.expires_at IS NULL OR ov.expires_at > $3)
                     AND ($2 IS NULL OR ov.account_id = ANY ($2))
                   ORDER BY ov.account_id, ov.override_id DESC) o ON o.account_id = s.account_id
        CROSS JOIN LATERAL (SELECT CASE WHEN o.score IS NOT NULL THEN @extschema@.health_band(o.score) ELSE s.band END AS band) b
        WHERE ($1 IS NULL OR b.band::text = ANY ($1)) AND ($2 IS NULL OR s.account_id = ANY ($2))$q$
    WHEN 'churn_signal' THEN $q$
        SELECT g.account_id, g.signal AS value,
               pg_catalog.jsonb_build_object('signal', g.signal, 'first_seen_at', g.first_seen_at, 'evidence', g.evidence) AS event
        FROM @extschema@.churn_signal g
        WHERE g.cleared_at IS NULL AND ($1 IS NULL OR g.signal = ANY ($1)) AND ($2 IS NULL OR g.account_id = ANY ($2))$q$
    WHEN 'churn_band' THEN $q$
        SELECT k.account_id, k.band::text AS value,
               pg_catalog.jsonb_build_object('churn_band', k.band, 'churn_risk_score', pg_catalog.round(k.risk_score::numeric, 1),
                                             'probability', pg_catalog.round(k.probability::numeric, 3), 'drivers', k.drivers,
                                             'computed_at', k.computed_at) AS event
        FROM @extschema@.churn_score k
        WHERE ($1 IS NULL OR k.band::text = ANY ($1)) AND ($2 IS NULL OR k.account_id = ANY ($2))$q$
    WHEN 'nps_category' THEN $q$
        SELECT n.account_id, n.category AS value,
               pg_catalog.jsonb_build_object('response_id', n.response_id, 'score', n.score, 'category', n.category,
                                             'responded_at', n.responded_at, 'comment', n.comment) AS event
        FROM (SELECT DISTINCT ON (r.account_id) r.account_id, r.response_id, r.score, r.category, r.responded_at, r.comment
              FROM @extschema@.nps_response r
              WHERE r.survey_kind = 'relationship' AND ($2 IS NULL OR r.account_id = ANY ($2))
              ORDER BY r.account_id, r.responded_at DESC, r.response_id DESC) n
        WHERE ($1 IS NULL OR n.category = ANY ($1)) AND n.responded_at > $3 - $4$q$
    WHEN 'no_activity' THEN $q$
        SELECT a.account_id, $1[1] AS value,
               pg_catalog.jsonb_build_object('last_active_day', u.last_day,
                   'days_inactive', ($3 AT TIME ZONE 'UTC')::date - coalesce(u.last_day, (coalesce(a.started_at, a.created_at) AT TIME ZONE 'UTC')::date)) AS event
        FROM @extschema@.account a
        LEFT JOIN (SELECT d.account_id, max(d.day) AS last_day
                   FROM csm_internal._usage_day d
                   WHERE d.events > 0 AND ($2 IS NULL OR d.account_id = ANY ($2))
                   GROUP BY d.account_id) u ON u.account_id = a.account_id
        WHERE ($2 IS NULL OR a.account_id = ANY ($2))
          AND EXISTS (SELECT 1 FROM @extschema@.usage_source)
          AND ($3 AT TIME ZONE 'UTC')::date - coalesce(u.last_day, (coalesce(a.started_at, a.created_at) AT TIME ZONE 'UTC')::date)
              >= $1[1]::integer$q$
    WHEN 'renewal_reminder' THEN $q$
        SELECT r.account_id, r.days_out::text AS value,
               pg_catalog.jsonb_build_object('renewal_id', r.renewal_id, 'renewal_date', r.renewal_date, 'days_out', r.days_out,
                                             'raised_at', r.raised_at, 'target_arr', w.target_arr) AS event
        FROM @extschema@.renewal_reminder r
        JOIN @extschema@.renewal w ON w.account_id = r.account_id AND w.renewal_id = r.renewal_id
        WHERE w.closed_at IS NULL AND r.raised_at > $3 - $4
          AND ($1 IS NULL OR r.days_out::text = ANY ($1)) AND ($2 IS NULL OR r.account_id = ANY ($2))$q$
    WHEN 'expansion_signal' THEN $q$
        SELECT e.account_id, e.signal AS value,
               pg_catalog.jsonb_build_object('signal', e.signal, 'first_seen_at', e.first_seen_at, 'evidence', e.evidence) AS event
        FROM @extschema@.expansion_signal e
        WHERE e.cleared_at IS NULL AND ($1 IS NULL OR e.signal = ANY ($1)) AND ($2 IS NULL OR e.account_id = ANY ($2))$q$
    WHEN 'lifecycle_stage' THEN $q$
        SELECT a.account_id, a.lifecycle_stage::text AS value,
               pg_catalog.jsonb_build_object('lifecycle_stage', a.lifecycle_stage) AS event
        FROM @extschema@.account a
        WHERE a.lifecycle_stage IS NOT NULL AND ($1 IS NULL OR a.lifecycle_stage::text = ANY ($1))
          AND ($2 IS NULL OR a.account_id = ANY ($2))$q$
    WHEN 'milestone_missed' THEN $q$
        SELECT o.account_id, m.milestone AS value,
               pg_catalog.jsonb_build_object('milestone', m.milestone, 'phase', o.phase, 'days_since_start', o.days_since_start,
                                             'milestones_overdue', o.milestones_overdue) AS event
        FROM @extschema@.onboarding_status o
        CROSS JOIN LATERAL pg_catalog.unnest(o.milestones_overdue) AS m(milestone)
        WHERE ($1 IS NULL OR m.milestone = ANY ($1)) AND ($2 IS NULL OR o.account_id = ANY ($2))$q$
    -- An open alert of one of the kinds in trigger_values (86_alert.sql): a
    -- state alert while it holds, an event alert within the cooldown.
    WHEN 'alert' THEN $q$
        SELECT x.account_id, x.kind AS value,
               pg_catalog.jsonb_build_object('alert_id', x.alert_id, 'kind', x.kind, 'subject', x.subject,
                                             'severity', x.severity, 'created_at', x.created_at,
                                             'evidence', x.evidence) AS event
        FROM @extschema@.alert x
        WHERE x.cleared_at IS NULL AND (csm_internal._alert_is_state(x.kind) OR x.created_at > $3 - $4)
          AND ($1 IS NULL OR x.kind = ANY ($1)) AND ($2 IS NULL OR x.account_id = ANY ($2))$q$
END;
COMMENT ON FUNCTION csm_internal._playbook_candidates_sql(text) IS
    'Internal: the query of the accounts for which a trigger kind holds now (account_id, value, event), with parameters $1 trigger_values, $2 accounts (NULL: all), $3 the instant and $4 the cooldown; NULL for manual.';

-- The facts a condition read, for the evidence: its attributes' values.
CREATE OR REPLACE FUNCTION csm_internal._condition_facts(condition @extschema@.rule_condition, facts jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT coalesce(pg_catalog.jsonb_object_agg(k.attr,
               CASE WHEN k.attr LIKE 'property.%' THEN facts -> 'properties' -> pg_catalog.substr(k.attr, 10)
                    ELSE facts -> k.attr END), '{}'::jsonb)
    FROM pg_catalog.unnest(@extschema@.condition_attributes(condition)) AS k(attr);
END;
COMMENT ON FUNCTION csm_internal._condition_facts(@extschema@.rule_condition, jsonb) IS
    'Internal: the values of the facts a condition reads (csm.condition_attributes), as a JSON object; a missing fact is null.';

-- The account's current owners, by role, for CTAs and tasks: a query that
-- Citus runs on the shards (grouped by account_id).
CREATE OR REPLACE FUNCTION csm_internal._owners_sql() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN $q$(SELECT aa.account_id,
                  max(m.handle) FILTER (WHERE aa.is_primary) AS primary_csm,
                  (pg_catalog.array_agg(m.handle ORDER BY aa.started_at, aa.assignment_id) FILTER (WHERE NOT aa.is_primary))[1] AS secondary,
                  (pg_catalog.array_agg(m.handle ORDER BY aa.is_primary DESC, aa.started_at, aa.assignment_id)
                       FILTER (WHERE 'account_exec' = ANY (m.roles)))[1] AS account_exec
           FROM @extschema@.account_assignment aa
           JOIN @extschema@.team_member m ON m.member_id = aa.member_id
           WHERE aa.ended_at IS NULL AND aa.account_id IN (SELECT x.account_id FROM %s)
           GROUP BY aa.account_id)$q$;
COMMENT ON FUNCTION csm_internal._owners_sql() IS
    'Internal: the query of accounts'' current owners by role (primary_csm; secondary: the longest-standing other owner; account_exec: an owner whose roles include account_exec), for the accounts of the relation given to format().';

-- The accounts a playbook ($5) may not fire for now ($3): an open CTA, or
-- one opened within the cooldown ($4).  Joined (anti) rather than NOT
-- EXISTS: Citus cannot run a correlated subquery under a reference table.
CREATE OR REPLACE FUNCTION csm_internal._blocked_sql() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN $q$SELECT x.account_id FROM @extschema@.cta x
           WHERE x.playbook = $5 AND (x.status IN ('open', 'in_progress') OR x.opened_at > $3 - $4)
           GROUP BY x.account_id$q$;
COMMENT ON FUNCTION csm_internal._blocked_sql() IS
    'Internal: the query of the accounts a playbook ($5) may not fire for at $3: an open CTA of it, or one opened within its cooldown ($4).';

-- A task's assignee and team from its step's role and the account's owners.
CREATE OR REPLACE FUNCTION csm_internal._task_assignee_sql() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN $q$CASE s.assignee_role WHEN 'primary_csm' THEN o.primary_csm
                               WHEN 'secondary' THEN coalesce(o.secondary, o.primary_csm)
                               WHEN 'account_exec' THEN o.account_exec END$q$;
COMMENT ON FUNCTION csm_internal._task_assignee_sql() IS
    'Internal: the expression of a task''s assignee from its step s and the owners o (csm_internal._owners_sql()).';

-- The condition that keeps the rows of alias whose account_id is in
-- accounts (NULL: any) and in what the query accounts_from returns (NULL:
-- any); '' for no condition.  Over a table distributed by account, a large
-- set (the accounts whose band a refresh changed, say) is best a query:
-- Citus joins it on the shards, where an array is copied into every
-- shard's task and Citus prunes shards by each of its elements (the first
-- refresh_health() of 250,000 accounts spent most of its time there).
CREATE OR REPLACE FUNCTION csm_internal._accounts_in(alias text, accounts bigint[], accounts_from text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN accounts IS NULL THEN '' ELSE pg_catalog.format(' AND %I.account_id = ANY (%L::bigint[])', alias, accounts) END
    || CASE WHEN accounts_from IS NULL THEN '' ELSE pg_catalog.format(' AND %I.account_id IN (%s)', alias, accounts_from) END;
COMMENT ON FUNCTION csm_internal._accounts_in(text, bigint[], text) IS
    'Internal: the condition that keeps the rows of alias whose account_id is in accounts (NULL: any) and in what the query accounts_from returns (NULL: any), as " AND ..." (empty for neither).';

-- Whether a firing or an alert raise for these accounts is a join of
-- whole sets (every account, a query of them, or more than 1,000), which
-- then runs without nested loops: planned from missing statistics (rows
-- just loaded or written, not analyzed yet) a nested loop scanned a table
-- once per candidate, even the table the statement was growing (400,000
-- alerts took 175 s).  A few accounts keep their index lookups.
CREATE OR REPLACE FUNCTION csm_internal._whole_sets(accounts bigint[], accounts_from text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN accounts IS NULL OR accounts_from IS NOT NULL OR pg_catalog.cardinality(accounts) > 1000;
COMMENT ON FUNCTION csm_internal._whole_sets(bigint[], text) IS
    'Internal: whether work for these accounts (NULL: all; or the query accounts_from) joins whole sets, and so is planned without nested loops.';

-- Fires the active playbooks of the given trigger kinds, in playbook_id
-- order, for the given accounts (NULL: all) and, when accounts_from is
-- given, only those of that query (see csm_internal._accounts_in): opens a
-- CTA with its tasks where the trigger holds, the segment filter and the
-- condition pass, and neither an open CTA nor the cooldown blocks it; then,
-- with close_cleared, closes the open CTAs of close_when_cleared playbooks
-- whose trigger or condition no longer holds.  Returns the CTAs opened.
-- The unique index cta_one_open makes a racing firing's insert wait and
-- then do nothing.
CREATE OR REPLACE FUNCTION csm_internal._fire_playbooks(kinds text[], accounts bigint[] DEFAULT NULL, fired_by text DEFAULT NULL,
                                            close_cleared boolean DEFAULT true, accounts_from text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET jit = off  -- (with nested loops off every plan costs enough to be compiled, for seconds)
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p @extschema@.playbook;
    cand text;
    stamp timestamptz := pg_catalog.now();
    passing bigint[];
    facts jsonb;
    n bigint;
    opened integer := 0;
    closing bigint[];
    may_fire text;
    firing text;
    old_nestloop constant text := current_setting('enable_nestloop');
    distributed constant boolean := csm_internal._is_distributed('@extschema@.cta');
BEGIN
    -- Over many accounts these are joins of whole sets: hash joins.  (Just
    -- made, the CTAs have no statistics: the planner would take them for a
    -- few rows and loop over the candidates once per CTA.)
    IF csm_internal._whole_sets(accounts, accounts_from) THEN
        PERFORM set_config('enable_nestloop', 'off', true);
    END IF;
    FOR p IN SELECT * FROM @extschema@.playbook b
             WHERE b.active AND b.trigger_kind = ANY (kinds) ORDER BY b.playbook_id LOOP
        PERFORM csm_internal._progress_add('run_playbooks', 1);  -- csm.run_playbooks's progress
        cand := csm_internal._playbook_candidates_sql(p.trigger_kind);
        CONTINUE WHEN cand IS NULL;
        -- Cleared first (what still holds is never closed), then what opens.
        IF close_cleared AND p.close_when_cleared THEN
            -- Open CTAs whose trigger no longer holds, then those whose condition does not.
            EXECUTE format($q$
                SELECT pg_catalog.array_agg(t.account_id)
                FROM @extschema@.cta t
                LEFT JOIN (SELECT DISTINCT c0.account_id FROM (%s) c0) c ON c.account_id = t.account_id
                WHERE t.playbook = $5 AND t.status IN ('open', 'in_progress')
                  AND ($2 IS NULL OR t.account_id = ANY ($2))%s
                  AND c.account_id IS NULL$q$, cand, csm_internal._accounts_in('t', NULL, accounts_from))
                INTO closing
                USING p.trigger_values, accounts, stamp, p.cooldown, p.name;
            IF p.condition IS NOT NULL THEN
                EXECUTE format($q$
                    SELECT pg_catalog.array_agg(t.account_id)
                    FROM @extschema@.cta t
                    WHERE t.playbook = $1 AND t.status IN ('open', 'in_progress')
                      AND ($2 IS NULL OR t.account_id = ANY ($2))%s$q$, csm_internal._accounts_in('t', NULL, accounts_from))
                    INTO passing USING p.name, accounts;
                closing := closing || ARRAY(
                    SELECT u.id FROM pg_catalog.unnest(passing) AS u(id)
                    LEFT JOIN csm_internal._routing_facts_of(passing) x ON x.account_id = u.id
                    WHERE NOT coalesce(@extschema@.condition_matches(p.condition, x.facts), false));
            END IF;
            IF closing <> '{}' THEN
                PERFORM csm_internal._close_ctas(p.name, closing, stamp);
            END IF;
        END IF;
        facts := NULL;
        -- The candidates it may fire for: active (but for lifecycle_stage),
        -- in the segment filter, not blocked.
        may_fire := format($q$
            FROM (%s) c
            JOIN @extschema@.account a ON a.account_id = c.account_id
            LEFT JOIN (%s) blocked ON blocked.account_id = c.account_id
            WHERE (a.status = 'active' OR $6 = 'lifecycle_stage') AND ($7 IS NULL OR a.segment = ANY ($7))
              AND blocked.account_id IS NULL%s$q$, cand, csm_internal._blocked_sql(), csm_internal._accounts_in('c', NULL, accounts_from));
        -- First the accounts it may fire for (no evidence built yet): most
        -- firings stop here, every candidate blocked by its open CTA.
        EXECUTE 'SELECT pg_catalog.array_agg(DISTINCT c.account_id) ' || may_fire
            INTO passing
            USING p.trigger_values, accounts, stamp, p.cooldown, p.name, p.trigger_kind, p.segment_filter;
        CONTINUE WHEN passing IS NULL;
        IF p.condition IS NOT NULL THEN
            -- The condition reads the accounts' facts (csm.routing_facts,
            -- all in one query): only for the accounts nothing else stops.
            SELECT pg_catalog.array_agg(x.account_id ORDER BY x.account_id),
                   pg_catalog.jsonb_object_agg(x.account_id::text, csm_internal._condition_facts(p.condition, x.facts))
            INTO passing, facts
            FROM csm_internal._routing_facts_of(passing) x
            WHERE @extschema@.condition_matches(p.condition, x.facts);
            CONTINUE WHEN passing IS NULL;
        END IF;
        -- The CTAs' rows: the accounts that passed.  On Citus, without a
        -- condition, the same joins again rather than the array: an array
        -- in a distributed query is copied into every shard's task.
        IF distributed AND p.condition IS NULL THEN
            firing := 'SELECT c.* ' || may_fire;
        ELSE
            firing := format('SELECT c.* FROM (%s) c JOIN pg_catalog.unnest($10::bigint[]) AS go(account_id) ON go.account_id = c.account_id', cand);
        END IF;
        -- Then the CTAs, with their evidence; a racing firing's CTA wins
        -- (ON CONFLICT), as does the first of an account's rows (a second
        -- signal of the same playbook).
        EXECUTE format($q$
            INSERT INTO @extschema@.cta AS t (account_id, playbook, playbook_version, priority, owner, evidence, opened_at)
            SELECT c.account_id, $5, $8, $9, m.handle,
                   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                       'trigger', $6, 'value', c.value, 'event', c.event,
                       'facts', $11 -> c.account_id::text, 'by', $12)),
                   $3
            FROM (%s) c
            LEFT JOIN @extschema@.account_assignment aa
                   ON aa.account_id = c.account_id AND aa.is_primary AND aa.ended_at IS NULL
            LEFT JOIN @extschema@.team_member m ON m.member_id = aa.member_id
            ORDER BY c.account_id, c.value
            ON CONFLICT (account_id, playbook) WHERE status IN ('open', 'in_progress') DO NOTHING$q$, firing)
            USING p.trigger_values, accounts, stamp, p.cooldown, p.name, p.trigger_kind, p.segment_filter,
                  p.version, p.priority, passing, facts, fired_by;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            opened := opened + n::integer;
            PERFORM csm_internal._make_tasks(p.name, stamp, p.queue_team);
        END IF;
    END LOOP;
    PERFORM set_config('enable_nestloop', old_nestloop, true);
    RETURN opened;
END $$;
COMMENT ON FUNCTION csm_internal._fire_playbooks(text[], bigint[], text, boolean, text) IS
    'Internal: fires the active playbooks of the given trigger kinds for the given accounts (NULL: all; with accounts_from, a query of account_id, only those it returns), in playbook_id order, and closes the cleared CTAs of close_when_cleared playbooks; returns the CTAs opened. Called by the refreshes and csm.run_playbooks().';
REVOKE ALL ON FUNCTION csm_internal._fire_playbooks(text[], bigint[], text, boolean, text) FROM PUBLIC;

-- The tasks of the CTAs a firing opened (the playbook's, at that instant,
-- that have none yet), one per step, assigned now, numbered in step order
-- within each CTA.  The steps are unnested from an array in the select list,
-- where each CTA's come out in order after the CTAs are sorted: sorting the
-- tasks themselves (20 per CTA of the renewal playbook) cost a first
-- refresh_renewals() of a million accounts an external sort of 180 MB.
CREATE OR REPLACE FUNCTION csm_internal._make_tasks(playbook text, stamp timestamptz, queue_team text) RETURNS bigint
LANGUAGE plpgsql SET jit = off SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
    steps @extschema@.playbook_step[] := ARRAY(SELECT s FROM @extschema@.playbook_step s
                                               WHERE s.playbook = _make_tasks.playbook ORDER BY s.position);
    opened text := format('(SELECT c1.account_id FROM @extschema@.cta c1 WHERE c1.playbook = %L AND c1.opened_at = %L)',
                          playbook, stamp);
BEGIN
    EXECUTE format($q$
        INSERT INTO @extschema@.task (account_id, cta_id, position, title, kind, assignee_role, assignee, team, due_at)
        SELECT t.account_id, t.cta_id, s.position, s.title, s.kind, s.assignee_role, %2$s,
               CASE WHEN s.assignee_role NOT IN ('primary_csm', 'secondary', 'account_exec') THEN s.assignee_role
                    WHEN %2$s IS NULL THEN $3 END,
               t.opened_at + s.due_after
        FROM (SELECT c.account_id, c.cta_id, c.opened_at, o.primary_csm, o.secondary, o.account_exec,
                     pg_catalog.unnest($4) AS step
              FROM @extschema@.cta c
              LEFT JOIN %1$s o ON o.account_id = c.account_id
              WHERE c.playbook = $1 AND c.opened_at = $2 AND c.status = 'open'
                AND NOT EXISTS (SELECT 1 FROM @extschema@.task k WHERE k.account_id = c.account_id AND k.cta_id = c.cta_id)
              ORDER BY c.account_id, c.cta_id) t
        -- the step and the owners under the names csm_internal._task_assignee_sql() reads
        CROSS JOIN LATERAL (SELECT (t.step).*) s
        CROSS JOIN LATERAL (SELECT t.primary_csm, t.secondary, t.account_exec) o$q$,
        format(csm_internal._owners_sql(), opened || ' x'), csm_internal._task_assignee_sql())
        USING playbook, stamp, queue_team, steps;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION csm_internal._make_tasks(text, timestamptz, text) IS
    'Internal: makes the tasks of the CTAs of a playbook opened at an instant that have none yet, one per step, due due_after after opening, assigned to the step''s role on the account or else queued for queue_team.';
REVOKE ALL ON FUNCTION csm_internal._make_tasks(text, timestamptz, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION csm_internal._close_ctas(playbook text, accounts bigint[], stamp timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE @extschema@.task k SET status = 'skipped', completed_at = stamp, outcome = 'CTA closed by csm: its trigger cleared'
    FROM @extschema@.cta c
    WHERE k.account_id = ANY (accounts) AND c.account_id = k.account_id AND c.cta_id = k.cta_id
      AND c.playbook = _close_ctas.playbook AND c.status IN ('open', 'in_progress') AND k.status = 'open';
    UPDATE @extschema@.cta c SET status = 'closed_by_system', outcome = 'cleared', closed_at = GREATEST(stamp, c.opened_at)
    WHERE c.account_id = ANY (accounts) AND c.playbook = _close_ctas.playbook AND c.status IN ('open', 'in_progress');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION csm_internal._close_ctas(text, bigint[], timestamptz) IS
    'Internal: closes the open CTAs of a playbook for the given accounts (status closed_by_system, outcome cleared), skipping their open tasks.';
REVOKE ALL ON FUNCTION csm_internal._close_ctas(text, bigint[], timestamptz) FROM PUBLIC;

-- The API ----------------------------------------------------------------------------

-- For pg_cron: every trigger kind, every account, one run at a time.
CREATE OR REPLACE FUNCTION @extschema@.run_playbooks() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    started constant timestamptz := clock_timestamp();
    opened integer;
BEGIN
    PERFORM csm_internal._require('operate');
    -- Two runs at once would only wait for each other's CTAs: queue them.
    PERFORM csm_internal._lock_row('playbook', 'run', true);
    -- A NOTICE at every 10% of the playbooks begun (csm_internal._fire_playbooks counts them).
    PERFORM csm_internal._progress_begin('run_playbooks',
        (SELECT count(*) FROM @extschema@.playbook b WHERE b.active AND b.trigger_kind <> 'manual'));
    opened := csm_internal._fire_playbooks(ARRAY(SELECT k.trigger_kind FROM @extschema@.playbook_trigger k
                                                 WHERE k.trigger_kind <> 'manual' ORDER BY k.trigger_kind),
                                           NULL, 'run_playbooks');
    PERFORM csm_internal._run_finished('playbooks', started, opened);
    RETURN opened;
END $$;
COMMENT ON FUNCTION @extschema@.run_playbooks() IS
    'Fires every active playbook (but manual ones) for every account, in playbook_id order, and closes the cleared CTAs of close_when_cleared playbooks: for pg_cron. Idempotent: an open CTA, or one opened within the cooldown, keeps a playbook from firing again for the account. Returns the CTAs opened. Runs one at a time. 42501 without the operate level.';

CREATE OR REPLACE FUNCTION @extschema@.open_cta(customer_id text, playbook text, evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    id bigint;
    p @extschema@.playbook;
    stamp timestamptz := pg_catalog.now();
    cta bigint;
    owner text;
    fired jsonb;
BEGIN
    PERFORM csm_internal._require('operate');
    IF customer_id IS NULL OR playbook IS NULL OR evidence IS NULL THEN
        RAISE EXCEPTION 'customer_id, playbook and evidence must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(evidence) <> 'object' THEN
        RAISE EXCEPTION 'evidence must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    id := csm_internal._account_id(customer_id);
    SELECT * INTO p FROM @extschema@.playbook b WHERE b.name = open_cta.playbook;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'playbook "%" does not exist', playbook
            USING ERRCODE = 'invalid_parameter_value', HINT = 'See csm.playbook.';
    END IF;
    IF NOT p.active THEN
        RAISE EXCEPTION 'playbook "%" is not active', playbook
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Set its active to true first.';
    END IF;
    SELECT m.handle INTO owner FROM @extschema@.account_assignment aa JOIN @extschema@.team_member m ON m.member_id = aa.member_id
    WHERE aa.account_id = id AND aa.is_primary AND aa.ended_at IS NULL;
    fired := jsonb_build_object('trigger', 'manual', 'event', open_cta.evidence, 'by', csm_internal._caller());
    INSERT INTO @extschema@.cta AS t (account_id, playbook, playbook_version, priority, owner, evidence, opened_at)
    VALUES (id, p.name, p.version, p.priority, owner, fired, stamp)
    ON CONFLICT (account_id, playbook) WHERE status IN ('open', 'in_progress') DO NOTHING
    RETURNING t.cta_id INTO cta;
    IF cta IS NULL THEN
        -- Already open: that one.
        SELECT t.cta_id INTO cta FROM @extschema@.cta t
        WHERE t.account_id = id AND t.playbook = p.name AND t.status IN ('open', 'in_progress');
    ELSE
        PERFORM csm_internal._make_tasks(p.name, stamp, p.queue_team);
    END IF;
    RETURN cta;
END $$;
COMMENT ON FUNCTION @extschema@.open_cta(text, text, jsonb) IS
    'Opens a CTA of a playbook for an account by hand (whatever its trigger kind, cooldown and condition), with its tasks, and returns its cta_id; when one is already open, returns that one. evidence (a JSON object) is kept under the CTA''s evidence.event. Errors: P0002 unknown account, 22004 NULL argument, 22023 unknown playbook or evidence not an object, 55000 inactive playbook, 42501 without the operate level.';

-- A task or CTA (kind) to close, locked until commit: its account's id.
-- P0002 when there is none, 55000 when it is closed already.
CREATE OR REPLACE FUNCTION csm_internal._lock_open_item(kind text, id bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    acct_id bigint;
    status text;
    closed timestamptz;
    what constant text := CASE kind WHEN 'cta' THEN 'CTA' ELSE kind END;
BEGIN
    -- The account first: on Citus a row is locked by its distribution key.
    EXECUTE format('SELECT x.account_id FROM @extschema@.%I x WHERE x.%I = $1', kind, kind || '_id')
        INTO acct_id USING id;
    EXECUTE format('SELECT x.status, x.%I FROM @extschema@.%I x WHERE x.account_id = $1 AND x.%I = $2 FOR UPDATE',
                   CASE kind WHEN 'task' THEN 'completed_at' ELSE 'closed_at' END, kind, kind || '_id')
        INTO status, closed USING acct_id, id;
    IF status IS NULL THEN
        RAISE EXCEPTION '% % does not exist', what, id USING ERRCODE = 'no_data_found';
    END IF;
    IF status NOT IN ('open', 'in_progress') THEN
        RAISE EXCEPTION '% % is already %', what, id, status
            USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = format('It was closed at %s.', closed);
    END IF;
    RETURN acct_id;
END $$;
COMMENT ON FUNCTION csm_internal._lock_open_item(text, bigint) IS
    'Internal: locks an open task or CTA (kind task or cta) by its id until commit and returns its account_id. Errors: P0002 none with that id, 55000 done, skipped, resolved or closed already.';
REVOKE ALL ON FUNCTION csm_internal._lock_open_item(text, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.complete_task(task_id bigint, outcome text) RETURNS @extschema@.task
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    t @extschema@.task;
    stamp timestamptz := pg_catalog.now();
    who name := csm_internal._caller();
    acct_id bigint;
    left_open boolean;
BEGIN
    PERFORM csm_internal._require('operate');
    IF task_id IS NULL THEN
        RAISE EXCEPTION 'task_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF outcome IS NOT NULL AND outcome !~ '\S' THEN
        RAISE EXCEPTION 'outcome must not be blank' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Say what came of it, or pass NULL.';
    END IF;
    acct_id := csm_internal._lock_open_item('task', task_id);
    UPDATE @extschema@.task k SET status = 'done', completed_at = stamp, completed_by = who,
                                  outcome = complete_task.outcome
    WHERE k.account_id = acct_id AND k.task_id = complete_task.task_id
    RETURNING * INTO t;
    -- The CTA: its first action, and resolved once nothing is left open.
    left_open := EXISTS (SELECT 1 FROM @extschema@.task k
                         WHERE k.account_id = t.account_id AND k.cta_id = t.cta_id AND k.status = 'open');
    UPDATE @extschema@.cta c
    SET first_action_at = coalesce(c.first_action_at, GREATEST(stamp, c.opened_at)),
        status = CASE WHEN left_open THEN 'in_progress' ELSE 'resolved' END,
        outcome = CASE WHEN left_open THEN NULL ELSE 'completed' END,
        closed_at = CASE WHEN left_open THEN NULL ELSE GREATEST(stamp, c.opened_at) END,
        closed_by = CASE WHEN left_open THEN NULL ELSE who END
    WHERE c.account_id = t.account_id AND c.cta_id = t.cta_id AND c.status IN ('open', 'in_progress');
    RETURN t;
END $$;
COMMENT ON FUNCTION @extschema@.complete_task(bigint, text) IS
    'Marks an open task done, with its outcome (free text, or NULL), by the calling role, now. Its CTA records its first action (first_action_at) and becomes in_progress, or resolved with outcome completed when no task of it is left open. Returns the task. Errors: P0002 unknown task, 22004 NULL task_id, 22023 blank outcome, 55000 task already done or skipped, 42501 without the operate level.';

CREATE OR REPLACE FUNCTION @extschema@.resolve_cta(cta_id bigint, outcome text) RETURNS @extschema@.cta
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    c @extschema@.cta;
    stamp timestamptz := pg_catalog.now();
    who name := csm_internal._caller();
    acct_id bigint;
BEGIN
    PERFORM csm_internal._require('operate');
    IF cta_id IS NULL OR outcome IS NULL THEN
        RAISE EXCEPTION 'cta_id and outcome must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF outcome NOT IN ('saved', 'lost', 'not_needed', 'completed') THEN
        RAISE EXCEPTION 'unknown outcome "%"', outcome USING ERRCODE = 'invalid_parameter_value',
            HINT = 'An outcome is saved, lost, not_needed or completed.';
    END IF;
    acct_id := csm_internal._lock_open_item('cta', cta_id);
    UPDATE @extschema@.task k SET status = 'skipped', completed_at = stamp, completed_by = who,
                                  outcome = 'CTA resolved: ' || resolve_cta.outcome
    WHERE k.account_id = acct_id AND k.cta_id = resolve_cta.cta_id AND k.status = 'open';
    UPDATE @extschema@.cta t
    SET status = 'resolved', outcome = resolve_cta.outcome, closed_at = GREATEST(stamp, t.opened_at),
        closed_by = who, first_action_at = coalesce(t.first_action_at, GREATEST(stamp, t.opened_at))
    WHERE t.account_id = acct_id AND t.cta_id = resolve_cta.cta_id
    RETURNING * INTO c;
    RETURN c;
END $$;
COMMENT ON FUNCTION @extschema@.resolve_cta(bigint, text) IS
    'Resolves an open CTA with an outcome (saved, lost, not_needed or completed), skipping its open tasks; resolving counts as its first action when it had none. Returns the CTA. Errors: P0002 unknown CTA, 22004 NULL argument, 22023 unknown outcome, 55000 CTA already closed, 42501 without the operate level.';

-- On Citus a trigger on a shard works on the account's rows of the other
-- tables where they are: the colocated shard on the same node.
CREATE OR REPLACE FUNCTION csm_internal._colocated_shard(shard regclass, target regclass) RETURNS regclass
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint := (regexp_match(shard::text, '_([0-9]+)"?$'))[1]::bigint;
    found regclass;
BEGIN
    IF id IS NULL OR to_regclass('pg_catalog.pg_dist_shard') IS NULL THEN
        RETURN target;
    END IF;
    EXECUTE 'SELECT pg_catalog.to_regclass(pg_catalog.shard_name(t.logicalrelid, t.shardid)) '
            'FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_shard t '
            '  ON t.logicalrelid = $2 AND t.shardminvalue = s.shardminvalue '
            'WHERE s.shardid = $1'
        INTO found USING id, target;
    RETURN coalesce(found, target);
END $$;
COMMENT ON FUNCTION csm_internal._colocated_shard(regclass, regclass) IS
    'Internal: for a trigger on a Citus shard, the shard of target colocated with it (the same hash range, on the same node); target itself when shard is not a shard.';

-- Who an account's open tasks go to after its owners changed: each task's
-- role resolved again; a moved task is logged as move_tasks, one row per
-- old and new assignee, naming the tasks.  (On a Citus shard the log's id
-- is not defaulted: it is taken from this node's sequence, as a default would.)
CREATE OR REPLACE FUNCTION csm_internal._move_tasks() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    task_rel regclass := csm_internal._colocated_shard(TG_RELID, '@extschema@.task');
    cta_rel regclass;
    assignment_rel regclass;
    member_rel regclass;
    playbook_rel regclass;
    open_tasks boolean;
BEGIN
    -- Most changes of owners meet no open task: a cached plan says so.
    IF task_rel = '@extschema@.task'::regclass THEN
        open_tasks := EXISTS (SELECT 1 FROM @extschema@.task k WHERE k.account_id = NEW.account_id AND k.status = 'open');
    ELSE
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s k WHERE k.account_id = $1 AND k.status = ''open'')', task_rel)
            INTO open_tasks USING NEW.account_id;
    END IF;
    IF NOT open_tasks THEN
        RETURN NULL;
    END IF;
    cta_rel := csm_internal._colocated_shard(TG_RELID, '@extschema@.cta');
    assignment_rel := csm_internal._colocated_shard(TG_RELID, '@extschema@.account_assignment');
    member_rel := csm_internal._local_copy('@extschema@.team_member');
    playbook_rel := csm_internal._local_copy('@extschema@.playbook');
    EXECUTE format($q$
        WITH o AS (
            SELECT max(m.handle) FILTER (WHERE aa.is_primary) AS primary_csm,
                   (pg_catalog.array_agg(m.handle ORDER BY aa.started_at, aa.assignment_id) FILTER (WHERE NOT aa.is_primary))[1] AS secondary,
                   (pg_catalog.array_agg(m.handle ORDER BY aa.is_primary DESC, aa.started_at, aa.assignment_id)
                        FILTER (WHERE 'account_exec' = ANY (m.roles)))[1] AS account_exec
            FROM %1$s aa JOIN %2$s m ON m.member_id = aa.member_id
            WHERE aa.account_id = $1 AND aa.ended_at IS NULL),
        target AS (
            SELECT k.task_id, k.assignee AS old_assignee, x.assignee AS new_assignee,
                   CASE WHEN x.assignee IS NULL THEN p.queue_team END AS new_team
            FROM %3$s k
            JOIN %4$s c ON c.account_id = k.account_id AND c.cta_id = k.cta_id
            JOIN %5$s p ON p.name = c.playbook
            CROSS JOIN o
            CROSS JOIN LATERAL (SELECT CASE k.assignee_role WHEN 'primary_csm' THEN o.primary_csm
                                                            WHEN 'secondary' THEN coalesce(o.secondary, o.primary_csm)
                                                            WHEN 'account_exec' THEN o.account_exec END AS assignee) x
            WHERE k.account_id = $1 AND k.status = 'open'
              AND k.assignee_role IN ('primary_csm', 'secondary', 'account_exec')
              AND k.assignee IS DISTINCT FROM x.assignee),
        moved AS (
            UPDATE %3$s k SET assignee = t.new_assignee, team = t.new_team
            FROM target t WHERE k.account_id = $1 AND k.task_id = t.task_id
            RETURNING k.task_id, t.old_assignee, t.new_assignee),
        owned AS (
            UPDATE %4$s c SET owner = o.primary_csm
            FROM o WHERE c.account_id = $1 AND c.status IN ('open', 'in_progress') AND c.owner IS DISTINCT FROM o.primary_csm
            RETURNING c.cta_id)
        INSERT INTO %6$s (account_id, log_id, action, is_primary, old_member_id, new_member_id, reason)
        SELECT $1, pg_catalog.nextval('@extschema@.assignment_log_log_id_seq'), 'move_tasks', $2, mo.member_id, mn.member_id,
               format('%%s open task%%s moved from %%s to %%s (task_id %%s)', count(*), CASE WHEN count(*) > 1 THEN 's' ELSE '' END,
                      coalesce(mv.old_assignee, 'the queue'), coalesce(mv.new_assignee, 'the queue'),
                      pg_catalog.array_to_string(pg_catalog.array_agg(mv.task_id ORDER BY mv.task_id), ', '))
        FROM moved mv
        LEFT JOIN %2$s mo ON mo.handle = mv.old_assignee
        LEFT JOIN %2$s mn ON mn.handle = mv.new_assignee
        GROUP BY mv.old_assignee, mv.new_assignee, mo.member_id, mn.member_id$q$,
        assignment_rel, member_rel, task_rel, cta_rel, playbook_rel, TG_RELID::regclass)
        USING NEW.account_id, NEW.is_primary;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._move_tasks() IS
    'Trigger on csm.assignment_log (SECURITY DEFINER: whoever may write the log moves the tasks): after an account''s owners change, resolves the assignee of each of its open tasks again from the task''s role (a role nobody holds now sends the task to its playbook''s queue_team), and logs the moves (action move_tasks, one row per old and new assignee, naming the tasks); its open CTAs take the new primary as owner. On Citus it runs on the shard, on the colocated shards of the same node.';
CREATE OR REPLACE TRIGGER assignment_log_move_tasks AFTER INSERT ON @extschema@.assignment_log
    FOR EACH ROW WHEN (NEW.conversation_id IS NULL AND NEW.action IN ('assign', 'promote', 'unassign', 'handoff'))
    EXECUTE FUNCTION csm_internal._move_tasks();

-- Adherence and response time ---------------------------------------------------------

-- Seed 002's "playbook adherence": of the tasks that have come due (or were
-- done before), the share done by their due date.  Skipped tasks (their CTA
-- closed or was resolved before they came up) count neither way.  Counted
-- once, per playbook and per assignee (queued tasks have none), for the two
-- views below.
CREATE OR REPLACE VIEW csm_internal._task_adherence WITH (security_invoker = true) AS
SELECT g.per, g.key,
       count(*) AS tasks_due,
       count(*) FILTER (WHERE k.status = 'done' AND k.completed_at <= k.due_at) AS done_on_time,
       count(*) FILTER (WHERE k.status = 'done' AND k.completed_at > k.due_at) AS done_late,
       count(*) FILTER (WHERE k.status = 'open') AS overdue,
       round(100.0 * count(*) FILTER (WHERE k.status = 'done' AND k.completed_at <= k.due_at) / count(*), 1) AS adherence_pct
FROM @extschema@.task k
JOIN @extschema@.cta c ON c.account_id = k.account_id AND c.cta_id = k.cta_id
CROSS JOIN LATERAL (VALUES ('playbook', c.playbook), ('csm', k.assignee)) AS g(per, key)
WHERE (k.status = 'done' OR (k.status = 'open' AND k.due_at < now())) AND g.key IS NOT NULL
GROUP BY g.per, g.key;
COMMENT ON VIEW csm_internal._task_adherence IS
    'Internal: playbook adherence (csm.playbook_adherence, csm.csm_adherence) per playbook (per = playbook, key: its name) and per assignee (per = csm, key: the handle).';

CREATE OR REPLACE VIEW @extschema@.playbook_adherence WITH (security_invoker = true) AS
SELECT a.key AS playbook, a.tasks_due, a.done_on_time, a.done_late, a.overdue, a.adherence_pct
FROM csm_internal._task_adherence a WHERE a.per = 'playbook';
COMMENT ON VIEW @extschema@.playbook_adherence IS
    'Playbook adherence per playbook (seed 002): of the tasks done or overdue (skipped ones left out), the share done by their due date.';
COMMENT ON COLUMN @extschema@.playbook_adherence.playbook IS 'The playbook (csm.playbook.name).';
COMMENT ON COLUMN @extschema@.playbook_adherence.tasks_due IS 'Tasks done, or open past their due date (count).';
COMMENT ON COLUMN @extschema@.playbook_adherence.done_on_time IS 'Tasks done by their due_at (count).';
COMMENT ON COLUMN @extschema@.playbook_adherence.done_late IS 'Tasks done after their due_at (count).';
COMMENT ON COLUMN @extschema@.playbook_adherence.overdue IS 'Tasks open past their due_at (count).';
COMMENT ON COLUMN @extschema@.playbook_adherence.adherence_pct IS 'done_on_time / tasks_due, in percent (0-100).';

CREATE OR REPLACE VIEW @extschema@.csm_adherence WITH (security_invoker = true) AS
SELECT a.key AS csm, a.tasks_due, a.done_on_time, a.done_late, a.overdue, a.adherence_pct
FROM csm_internal._task_adherence a WHERE a.per = 'csm';
COMMENT ON VIEW @extschema@.csm_adherence IS
    'Playbook adherence per CSM (seed 002): of the tasks assigned to a member that are done or overdue (skipped ones and queued ones left out), the share done by their due date. A task counts for its assignee.';
COMMENT ON COLUMN @extschema@.csm_adherence.csm IS 'The assignee''s handle (csm.team_member.handle).';
COMMENT ON COLUMN @extschema@.csm_adherence.tasks_due IS 'Tasks done, or open past their due date (count).';
COMMENT ON COLUMN @extschema@.csm_adherence.done_on_time IS 'Tasks done by their due_at (count).';
COMMENT ON COLUMN @extschema@.csm_adherence.done_late IS 'Tasks done after their due_at (count).';
COMMENT ON COLUMN @extschema@.csm_adherence.overdue IS 'Tasks open past their due_at (count).';
COMMENT ON COLUMN @extschema@.csm_adherence.adherence_pct IS 'done_on_time / tasks_due, in percent (0-100).';

-- Seed 002's "response time to at-risk alerts": CTA opened to its first
-- action (a task done or skipped, or the CTA resolved).
CREATE OR REPLACE VIEW @extschema@.cta_response_time WITH (security_invoker = true) AS
SELECT c.playbook,
       count(*) AS ctas,
       count(c.first_action_at) AS acted_on,
       count(*) FILTER (WHERE c.first_action_at IS NULL AND c.status IN ('open', 'in_progress')) AS waiting,
       round((avg(extract(epoch FROM c.first_action_at - c.opened_at)) / 3600)::numeric, 1) AS avg_response_hours,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.first_action_at - c.opened_at)) / 3600)::numeric, 1)
           AS median_response_hours,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.first_action_at - c.opened_at)) / 3600)::numeric, 1)
           AS p90_response_hours
FROM @extschema@.cta c
GROUP BY c.playbook;
COMMENT ON VIEW @extschema@.cta_response_time IS
    'Response time per playbook (seed 002''s "response time to at-risk alerts"): from a CTA opening to its first action (first_action_at: its first task done or skipped by a person, or the CTA resolved).';
COMMENT ON COLUMN @extschema@.cta_response_time.playbook IS 'The playbook (csm.playbook.name).';
COMMENT ON COLUMN @extschema@.cta_response_time.ctas IS 'CTAs opened, all time (count).';
COMMENT ON COLUMN @extschema@.cta_response_time.acted_on IS 'CTAs with a first action (count).';
COMMENT ON COLUMN @extschema@.cta_response_time.waiting IS 'Open CTAs with no action yet (count).';
COMMENT ON COLUMN @extschema@.cta_response_time.avg_response_hours IS 'Mean of first_action_at - opened_at over the CTAs acted on, in hours.';
COMMENT ON COLUMN @extschema@.cta_response_time.median_response_hours IS 'Median of first_action_at - opened_at, in hours.';
COMMENT ON COLUMN @extschema@.cta_response_time.p90_response_hours IS '90th percentile of first_action_at - opened_at, in hours.';
