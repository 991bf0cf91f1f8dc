
INSERT INTO @extschema@.nps_category (category, min_score, max_score, action, engagement, builtin) VALUES
    ('promoter', 9, 10, 'Request referrals and case studies', 'Advocacy program invitation', true),
    ('passive', 7, 8, 'Identify improvement areas', 'Feature adoption campaigns', true),
    ('detractor', 0, 6, 'Immediate follow-up call', 'Recovery plan creation', true)
ON CONFLICT DO NOTHING;

-- Checks only, the same on every copy of a Citus reference table.
CREATE OR REPLACE FUNCTION csm_internal._nps_category_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (TG_OP = 'INSERT' AND NEW.builtin) OR (TG_OP = 'UPDATE' AND NEW.builtin AND NOT OLD.builtin) THEN
        RAISE EXCEPTION 'only csm installs the built-in NPS actions'
            USING ERRCODE = 'insufficient_privilege', HINT = 'Insert your row with builtin = false.';
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.builtin THEN
        RAISE EXCEPTION 'the seed''s actions for % are built in and cannot be changed', OLD.category
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Insert a row of your own, which takes their place: INSERT INTO csm.nps_category (category, min_score, max_score, action, engagement) VALUES (%L, %s, %s, ...).',
                                OLD.category, OLD.min_score, OLD.max_score);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
COMMENT ON FUNCTION csm_internal._nps_category_guard() IS 'Trigger: the built-in NPS actions are read-only (42501).';
CREATE OR REPLACE TRIGGER nps_category_guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.nps_category
    FOR EACH ROW EXECUTE FUNCTION csm_internal._nps_category_guard();

-- A restore loads the answers, whose trigger (below) opens their loops,
-- and then the dumped loops: an INSERT of a loop that exists replaces it
-- with the row given, so the restore ends with the loops as they were.
-- Nobody but csm's owner inserts loops otherwise (no level grants it).  On
-- a Citus shard it updates that shard, where the row was going.
CREATE OR REPLACE FUNCTION csm_internal._nps_loop_upsert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    done integer;
BEGIN
    EXECUTE format('UPDATE %I.%I l SET (owner_id, state, outcome, opened_at, notify_due_at, followup_due_at, notified_at, '
                   'followed_up_at, escalated_at, resolved_at, updated_by) = (SELECT ($1).owner_id, ($1).state, ($1).outcome, '
                   '($1).opened_at, ($1).notify_due_at, ($1).followup_due_at, ($1).notified_at, ($1).followed_up_at, '
                   '($1).escalated_at, ($1).resolved_at, ($1).updated_by) '
                   'WHERE l.account_id = ($1).account_id AND l.response_id = ($1).response_id', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        USING NEW;
    GET DIAGNOSTICS done = ROW_COUNT;
    IF done > 0 THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._nps_loop_upsert() IS
    'Trigger: an INSERT of an existing csm.nps_loop row (a restore, after the answer''s trigger opened it) replaces it with the row given.';
-- Only for rows inserted by a statement, not by the answers' trigger (whose
-- loops are new): that one pays nothing for it.
CREATE OR REPLACE TRIGGER nps_loop_upsert BEFORE INSERT ON @extschema@.nps_loop
    FOR EACH ROW WHEN (pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.=) 0)
    EXECUTE FUNCTION csm_internal._nps_loop_upsert();

-- Every answer opens its loop, however it was written (csm.record_nps or a
-- plain INSERT), owned by the account's primary owner.  One statement for
-- all of a statement's answers (a bulk load pays once), from the transition
-- table; on a Citus shard (named nps_response_<shard id>), where SQL over a
-- transition table cannot reach the distributed csm.nps_loop, row by row
-- instead, each answer's loop written beside it into the colocated shard.
CREATE OR REPLACE FUNCTION csm_internal._nps_open_loops() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'nps_response' THEN
        INSERT INTO @extschema@.nps_loop (account_id, response_id, owner_id, opened_at, notify_due_at, followup_due_at)
        SELECT n.account_id, n.response_id, s.member_id,
               n.responded_at, n.responded_at + interval '24 hours', n.responded_at + interval '48 hours'
        FROM new_answers n
        LEFT JOIN @extschema@.account_assignment s
               ON s.account_id = n.account_id AND s.is_primary AND s.ended_at IS NULL;
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._nps_open_loops() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._nps_open_loops() IS
    'Trigger: opens the closed loops (csm.nps_loop) of a statement''s new NPS answers at once, owned by each account''s primary owner, due 24 and 48 hours after the answer (not on a Citus shard: see csm_internal._nps_open_loop).';
CREATE OR REPLACE TRIGGER nps_response_open_loops AFTER INSERT ON @extschema@.nps_response
    REFERENCING NEW TABLE AS new_answers FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._nps_open_loops();

CREATE OR REPLACE FUNCTION csm_internal._nps_open_loop() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'nps_response' THEN
        RETURN NULL;  -- csm_internal._nps_open_loops does it for the statement
    END IF;
    -- The colocated shards of this node, in a plain statement: a
    -- distributed query from here, once per answer, grew its cached plan by
    -- about 2 kB each time (Citus 13.2), and a bulk load of 500,000 answers
    -- took a worker's backend past 1 GB.
    EXECUTE format($q$
        INSERT INTO %s (account_id, response_id, owner_id, opened_at, notify_due_at, followup_due_at)
        SELECT $1, $2, (SELECT s.member_id FROM %s s WHERE s.account_id = $1 AND s.is_primary AND s.ended_at IS NULL),
               $3, $3 + interval '24 hours', $3 + interval '48 hours'$q$,
        csm_internal._colocated_shard(TG_RELID, '@extschema@.nps_loop'),
        csm_internal._colocated_shard(TG_RELID, '@extschema@.account_assignment'))
        USING NEW.account_id, NEW.response_id, NEW.responded_at;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION csm_internal._nps_open_loop() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._nps_open_loop() IS
    'Trigger: on a Citus shard, opens the closed loop (csm.nps_loop) of a new NPS answer, owned by the account''s primary owner, due 24 and 48 hours after the answer; elsewhere csm_internal._nps_open_loops does it per statement.';
CREATE OR REPLACE TRIGGER nps_response_open_loop AFTER INSERT ON @extschema@.nps_response
    FOR EACH ROW EXECUTE FUNCTION csm_internal._nps_open_loop();

CREATE OR REPLACE VIEW @extschema@.nps_followup WITH (security_invoker = true) AS
SELECT l.account_id,
       a.external_id,
       a.name AS account_name,
       l.response_id,
       r.score,
       r.category,
       r.survey_kind,
       r.respondent,
       r.comment,
       c.action,
       l.owner_id,
       m.handle AS owner,
       l.state,
       l.outcome,
       l.opened_at,
       l.notify_due_at,
       l.followup_due_at,
       l.notified_at,
       l.followed_up_at,
       l.escalated_at,
       l.resolved_at,
       coalesce(l.notified_at, now()) > l.notify_due_at AS notify_breached,
       coalesce(l.followed_up_at, now()) > l.followup_due_at AS followup_breached,
       (coalesce(l.notified_at, now()) > l.notify_due_at OR coalesce(l.followed_up_at, now()) > l.followup_due_at) AS sla_breached,
       CASE l.state WHEN 'open' THEN l.notify_due_at WHEN 'notified' THEN l.followup_due_at END AS next_due_at
FROM @extschema@.nps_loop l
JOIN @extschema@.nps_response r ON r.account_id = l.account_id AND r.response_id = l.response_id
JOIN @extschema@.account a ON a.account_id = l.account_id
-- the row in effect per category: yours, else the built-in one
LEFT JOIN (SELECT DISTINCT ON (k.category) k.category, k.action, k.engagement
           FROM @extschema@.nps_category k ORDER BY k.category, k.builtin) c ON c.category = r.category
LEFT JOIN @extschema@.team_member m ON m.member_id = l.owner_id;
COMMENT ON VIEW @extschema@.nps_followup IS
    'The closed loop of every NPS answer with its SLA: the owner must be notified within 24 hours of the answer and follow up within 48. A breach is a deadline passed before the step was done (or, while it is not done, by now). Filter WHERE sla_breached AND state NOT IN (''resolved'', ''escalated'') for the work that is late.';
COMMENT ON COLUMN @extschema@.nps_followup.action IS 'The action csm.nps_category gives for the answer''s category (your row, else the built-in one).';
COMMENT ON COLUMN @extschema@.nps_followup.owner IS 'The handle of the owner (csm.team_member); NULL when the account had no primary owner.';
COMMENT ON COLUMN @extschema@.nps_followup.notify_breached IS 'The owner was notified after notify_due_at, or has not been and it has passed.';
COMMENT ON COLUMN @extschema@.nps_followup.followup_breached IS 'The follow-up happened after followup_due_at, or has not and it has passed.';
COMMENT ON COLUMN @extschema@.nps_followup.sla_breached IS 'Either deadline breached.';
COMMENT ON COLUMN @extschema@.nps_followup.next_due_at IS 'The deadline of the next step: notify_due_at while open, followup_due_at while notified; NULL after.';

-- The payload of the csm_nps notification (README).
CREATE OR REPLACE FUNCTION csm_internal._nps_notify(account bigint, response bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    payload text;
BEGIN
    -- The payload is read first and announced from this backend: on Citus a
    -- pg_notify() in a query routed to a shard would run on the worker, whose
    -- transaction cannot then be prepared (two-phase commit).
    SELECT jsonb_build_object(
                'account_id', f.account_id, 'external_id', f.external_id, 'response_id', f.response_id,
                'score', f.score, 'category', f.category, 'survey_kind', f.survey_kind, 'owner', f.owner,
                'action', f.action, 'notify_due_at', f.notify_due_at, 'followup_due_at', f.followup_due_at)::text
    INTO payload
    FROM @extschema@.nps_followup f
    WHERE f.account_id = _nps_notify.account AND f.response_id = _nps_notify.response;
    IF payload IS NOT NULL THEN
        PERFORM pg_notify('csm_nps', payload);
    END IF;
END $$;
REVOKE ALL ON FUNCTION csm_internal._nps_notify(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._nps_notify(bigint, bigint) IS
    'Internal: NOTIFY csm_nps with the JSON of a newly opened follow-up (account_id, external_id, response_id, score, category, survey_kind, owner, action, notify_due_at, followup_due_at).';

CREATE OR REPLACE FUNCTION @extschema@.record_nps(customer_id text, score integer, survey_kind text DEFAULT 'relationship',
                                       respondent text DEFAULT NULL, comment text DEFAULT NULL,
                                       responded_at timestamptz DEFAULT now(), open_followup boolean DEFAULT true)
RETURNS TABLE (response_id bigint, category text, action text, engagement text, owner text,
               notify_due_at timestamptz, followup_due_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    account bigint;
    id bigint;
BEGIN
    PERFORM csm_internal._require('operate');
    IF customer_id IS NULL OR score IS NULL OR survey_kind IS NULL OR responded_at IS NULL OR open_followup IS NULL THEN
        RAISE EXCEPTION 'customer_id, score, survey_kind, responded_at and open_followup must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF score NOT BETWEEN 0 AND 10 THEN
        RAISE EXCEPTION 'NPS score % is out of range', score
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A score is 0 to 10.';
    END IF;
    IF survey_kind NOT IN ('transactional', 'relationship', 'milestone') THEN
        RAISE EXCEPTION 'unknown survey kind "%"', survey_kind
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The kinds are transactional, relationship and milestone.';
    END IF;
    IF respondent !~ '\S' THEN
        RAISE EXCEPTION 'respondent must not be blank'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass NULL when the respondent is unknown.';
    END IF;
    IF NOT isfinite(responded_at) OR responded_at > now() + interval '5 minutes' THEN
        RAISE EXCEPTION 'responded_at % is not a time an answer could have been given', responded_at
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass when the answer was given: not in the future, not infinite.';
    END IF;
    account := csm_internal._account_id(customer_id);
    INSERT INTO @extschema@.nps_response AS n (account_id, responded_at, score, comment, respondent, survey_kind)
    VALUES (account, record_nps.responded_at, record_nps.score, record_nps.comment, record_nps.respondent,
            record_nps.survey_kind)
    RETURNING n.response_id INTO id;
    IF open_followup THEN
        PERFORM csm_internal._nps_notify(account, id);
        -- a detractor's alert (86_alert.sql)
        PERFORM csm_internal._raise_alerts(ARRAY['nps_detractor'], ARRAY[account]);
    ELSE
        DELETE FROM @extschema@.nps_loop l WHERE l.account_id = account AND l.response_id = id;
    END IF;
    -- Playbooks fired by an NPS category (85_playbook.sql), in this transaction.
    PERFORM csm_internal._fire_playbooks(ARRAY['nps_category'], ARRAY[account], 'record_nps');
    RETURN QUERY
    SELECT r.response_id, r.category, c.action, c.engagement, m.handle, l.notify_due_at, l.followup_due_at
    FROM @extschema@.nps_response r
    JOIN (SELECT DISTINCT ON (k.category) k.category, k.action, k.engagement
          FROM @extschema@.nps_category k ORDER BY k.category, k.builtin) c ON c.category = r.category
    LEFT JOIN @extschema@.nps_loop l ON l.account_id = r.account_id AND l.response_id = r.response_id
    LEFT JOIN @extschema@.team_member m ON m.member_id = l.owner_id
    WHERE r.account_id = account AND r.response_id = id;
END $$;
COMMENT ON FUNCTION @extschema@.record_nps(text, integer, text, text, text, timestamptz, boolean) IS
    'Records an NPS answer of an account (external_id) and opens its follow-up (unless open_followup is false, for loading past answers), announced by NOTIFY csm_nps; returns the category with its action and engagement, the owner and the two deadlines. Errors: P0002 unknown account, 22004 a NULL argument (other than respondent and comment), 22023 a score outside 0-10, an unknown survey kind, a blank respondent or a responded_at in the future or infinite, 42501 without the operate level.';

CREATE OR REPLACE FUNCTION @extschema@.update_nps_followup(response_id bigint, state text, outcome text DEFAULT NULL)
RETURNS SETOF @extschema@.nps_followup
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    account bigint;
    n bigint;
    loop_row @extschema@.nps_loop;
    rank_old integer;
    rank_new integer;
    stamp timestamptz := now();
BEGIN
    PERFORM csm_internal._require('operate');
    IF response_id IS NULL OR state IS NULL THEN
        RAISE EXCEPTION 'response_id and state must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    rank_new := CASE state WHEN 'notified' THEN 1 WHEN 'followed_up' THEN 2 WHEN 'escalated' THEN 3 WHEN 'resolved' THEN 4 END;
    IF rank_new IS NULL THEN
        RAISE EXCEPTION 'unknown follow-up state "%"', state
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A follow-up moves to notified, followed_up, escalated or resolved (it starts open).';
    END IF;
    IF state IN ('resolved', 'escalated') AND coalesce(outcome, '') !~ '\S' THEN
        RAISE EXCEPTION 'an outcome is required to mark a follow-up %', state
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Say what came of it: the outcome is documented.';
    END IF;
    -- The account first (on Citus a lookup of every shard), then the row,
    -- locked, on its account's shard: Citus locks rows of one shard only.
    SELECT min(k.account_id), count(*) INTO account, n FROM @extschema@.nps_loop k
    WHERE k.response_id = update_nps_followup.response_id;
    IF n > 1 THEN
        RAISE EXCEPTION 'NPS response id % belongs to % accounts', response_id, n
            USING ERRCODE = 'cardinality_violation',
                  HINT = 'Response ids are unique when answers are inserted through the coordinator; see csm.nps_followup.';
    END IF;
    SELECT l.* INTO loop_row FROM @extschema@.nps_loop l
    WHERE l.account_id = account AND l.response_id = update_nps_followup.response_id
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'NPS response % has no follow-up', response_id
            USING ERRCODE = 'no_data_found', HINT = 'See csm.nps_followup for the follow-ups.';
    END IF;
    rank_old := CASE loop_row.state WHEN 'open' THEN 0 WHEN 'notified' THEN 1 WHEN 'followed_up' THEN 2
                                    WHEN 'escalated' THEN 3 WHEN 'resolved' THEN 4 END;
    IF rank_new <= rank_old THEN
        RAISE EXCEPTION 'follow-up of NPS response % is already %', response_id, loop_row.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A follow-up moves forward only: open, notified, followed_up, then escalated or resolved (an escalated one may still be resolved).';
    END IF;
    UPDATE @extschema@.nps_loop l
    SET state = update_nps_followup.state,
        outcome = coalesce(update_nps_followup.outcome, l.outcome),
        notified_at = coalesce(l.notified_at, stamp),
        followed_up_at = CASE WHEN rank_new >= 2 THEN coalesce(l.followed_up_at, stamp) END,
        escalated_at = CASE WHEN update_nps_followup.state = 'escalated' THEN stamp ELSE l.escalated_at END,
        resolved_at = CASE WHEN update_nps_followup.state = 'resolved' THEN stamp END,
        updated_by = csm_internal._caller()
    WHERE l.account_id = loop_row.account_id AND l.response_id = loop_row.response_id;
    RETURN QUERY SELECT f.* FROM @extschema@.nps_followup f
                 WHERE f.account_id = loop_row.account_id AND f.response_id = loop_row.response_id;
END $$;
COMMENT ON FUNCTION @extschema@.update_nps_followup(bigint, text, text) IS
    'Moves the follow-up of an NPS answer forward: open, notified (the owner was told), followed_up (the respondent was contacted), then escalated or resolved (an escalated one may still be resolved), stamping each step (a skipped step is stamped with the later one); returns the csm.nps_followup row. Errors: P0002 no such follow-up, 21000 a response id that answers of several accounts have (on Citus, answers inserted on the workers), 22004 NULL response_id or state, 22023 an unknown state or no outcome for resolved or escalated, 55000 a step back or repeated, 42501 without the operate level.';

-- The period's answers and, for the trend, those of the period as long just
-- before it.  UTC days; "from" and "to" both included.
CREATE OR REPLACE FUNCTION @extschema@.nps_summary("from" date, "to" date, segment text DEFAULT NULL, survey_kind text DEFAULT NULL)
RETURNS TABLE (responses bigint, promoters bigint, passives bigint, detractors bigint,
               promoter_pct numeric, passive_pct numeric, detractor_pct numeric, nps numeric,
               accounts bigint, accounts_responding bigint, response_rate numeric,
               previous_responses bigint, previous_nps numeric, nps_change numeric,
               response_pct numeric)  -- the vocabulary's name (0-100); response_rate is deprecated
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    days integer;
    known boolean;
BEGIN
    IF "from" IS NULL OR "to" IS NULL THEN
        RAISE EXCEPTION 'from and to must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite("from") OR NOT isfinite("to") OR "from" > "to" THEN
        RAISE EXCEPTION 'the period % to % is empty or unbounded', "from", "to"
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass two finite dates, from on or before to.';
    END IF;
    IF survey_kind NOT IN ('transactional', 'relationship', 'milestone') THEN
        RAISE EXCEPTION 'unknown survey kind "%"', survey_kind
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The kinds are transactional, relationship and milestone; NULL for all.';
    END IF;
    -- A segment must be one csm knows: one defined in csm.segment when that
    -- table exists, else one some account has; never a silent empty answer.
    IF segment IS NOT NULL THEN
        IF to_regclass('@extschema@.segment') IS NOT NULL THEN
            EXECUTE 'SELECT EXISTS (SELECT FROM @extschema@.segment s WHERE s.name = $1)' INTO known USING segment;
        ELSE
            known := EXISTS (SELECT FROM @extschema@.account a WHERE a.segment = nps_summary.segment);
        END IF;
        IF NOT known THEN
            RAISE EXCEPTION 'unknown segment "%"', segment
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a segment accounts are in, or NULL for every account.';
        END IF;
    END IF;
    days := "to" - "from" + 1;
    RETURN QUERY
    WITH answers AS (
        SELECT r.account_id, r.category,
               r.responded_at >= "from"::timestamp AT TIME ZONE 'UTC' AS current_period
        FROM @extschema@.nps_response r
        JOIN @extschema@.account a ON a.account_id = r.account_id
        WHERE r.responded_at >= ("from" - days)::timestamp AT TIME ZONE 'UTC'
          AND r.responded_at < ("to" + 1)::timestamp AT TIME ZONE 'UTC'
          AND (nps_summary.segment IS NULL OR a.segment = nps_summary.segment)
          AND (nps_summary.survey_kind IS NULL OR r.survey_kind = nps_summary.survey_kind)
    ),
    counts AS (
        SELECT count(*) FILTER (WHERE w.current_period) AS n,
               count(*) FILTER (WHERE w.current_period AND w.category = 'promoter') AS pro,
               count(*) FILTER (WHERE w.current_period AND w.category = 'passive') AS pas,
               count(*) FILTER (WHERE w.current_period AND w.category = 'detractor') AS det,
               count(DISTINCT w.account_id) FILTER (WHERE w.current_period) AS responding,
               count(*) FILTER (WHERE NOT w.current_period) AS pn,
               count(*) FILTER (WHERE NOT w.current_period AND w.category = 'promoter') AS ppro,
               count(*) FILTER (WHERE NOT w.current_period AND w.category = 'detractor') AS pdet
        FROM answers w
    ),
    -- The accounts that could have answered: customers at some time in the
    -- period (started, or created, by its end; not churned before it).
    population AS (
        SELECT count(*) AS accounts
        FROM @extschema@.account a
        WHERE (nps_summary.segment IS NULL OR a.segment = nps_summary.segment)
          AND coalesce(a.started_at, a.created_at) < ("to" + 1)::timestamp AT TIME ZONE 'UTC'
          AND (a.churned_at IS NULL OR a.churned_at >= "from"::timestamp AT TIME ZONE 'UTC')
    )
    SELECT k.n, k.pro, k.pas, k.det,
           round(100.0 * k.pro / nullif(k.n, 0), 1),
           round(100.0 * k.pas / nullif(k.n, 0), 1),
           round(100.0 * k.det / nullif(k.n, 0), 1),
           round(100.0 * (k.pro - k.det) / nullif(k.n, 0), 1),
           p.accounts, k.responding,
           round(100.0 * k.responding / nullif(p.accounts, 0), 1),
           k.pn,
           round(100.0 * (k.ppro - k.pdet) / nullif(k.pn, 0), 1),
           round(100.0 * (k.pro - k.det) / nullif(k.n, 0), 1) - round(100.0 * (k.ppro - k.pdet) / nullif(k.pn, 0), 1),
           round(100.0 * k.responding / nullif(p.accounts, 0), 1)
    FROM counts k CROSS JOIN population p;
END $$;
COMMENT ON FUNCTION @extschema@.nps_summary(date, date, text, text) IS
    'NPS of the answers given from "from" to "to" (UTC days, both included), of one segment''s accounts or all (NULL), of one survey kind or all (NULL): NPS = % promoters - % detractors (-100 to 100), the counts and percentages, the response rate (accounts that answered / accounts that were customers in the period, %: response_pct; response_rate is the same, deprecated, removed in 0.3.0), and the trend: the NPS of the period as long just before and the change. Percentages have one decimal; NULL where nobody answered. The trend by month is csm.nps_monthly. Errors: 22004 NULL from or to, 22023 from after to, an infinite date, an unknown survey kind or segment.';

-- The monthly trend, overall (segment NULL) and per segment, zero-filled
-- from the first month with an answer to the current one.  The counts are
-- materialised first: on Citus that part runs on the workers, and the
-- spine and the rolling window on the coordinator.
CREATE OR REPLACE VIEW @extschema@.nps_monthly WITH (security_invoker = true) AS
WITH counts AS MATERIALIZED (
    SELECT date_trunc('month', r.responded_at AT TIME ZONE 'UTC')::date AS month,
           coalesce(a.segment, '') AS segment,
           count(*) AS responses,
           count(*) FILTER (WHERE r.category = 'promoter') AS promoters,
           count(*) FILTER (WHERE r.category = 'passive') AS passives,
           count(*) FILTER (WHERE r.category = 'detractor') AS detractors
    FROM @extschema@.nps_response r
    JOIN @extschema@.account a ON a.account_id = r.account_id
    GROUP BY 1, 2
),
-- keyed by (all_segments, segment), never NULL, so that the joins hash
by_segment AS (
    SELECT c.month, false AS all_segments, c.segment, c.responses, c.promoters, c.passives, c.detractors FROM counts c
    UNION ALL
    SELECT c.month, true, '', sum(c.responses)::bigint, sum(c.promoters)::bigint, sum(c.passives)::bigint,
           sum(c.detractors)::bigint
    FROM counts c GROUP BY c.month
),
spine AS (
    SELECT m.month::date AS month, s.all_segments, s.segment
    FROM (SELECT DISTINCT b.all_segments, b.segment FROM by_segment b) s
    CROSS JOIN generate_series((SELECT min(c.month) FROM counts c),
                               date_trunc('month', now() AT TIME ZONE 'UTC'), interval '1 month') AS m(month)
),
filled AS (
    SELECT sp.month, sp.all_segments, sp.segment,
           coalesce(b.responses, 0) AS responses, coalesce(b.promoters, 0) AS promoters,
           coalesce(b.passives, 0) AS passives, coalesce(b.detractors, 0) AS detractors
    FROM spine sp
    LEFT JOIN by_segment b ON b.month = sp.month AND b.all_segments = sp.all_segments AND b.segment = sp.segment
),
rolling AS (
    SELECT f.*,
           sum(f.responses) OVER w AS responses_3m,
           sum(f.promoters) OVER w AS promoters_3m,
           sum(f.detractors) OVER w AS detractors_3m
    FROM filled f
    WINDOW w AS (PARTITION BY f.all_segments, f.segment ORDER BY f.month ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
)
SELECT r.month,
       CASE WHEN NOT r.all_segments THEN nullif(r.segment, '') END AS segment,
       r.all_segments,
       r.responses, r.promoters, r.passives, r.detractors,
       round(100.0 * (r.promoters - r.detractors) / nullif(r.responses, 0), 1) AS nps,
       r.responses_3m::bigint AS responses_3m,
       round(100.0 * (r.promoters_3m - r.detractors_3m) / nullif(r.responses_3m, 0), 1) AS nps_3m
FROM rolling r;
COMMENT ON VIEW @extschema@.nps_monthly IS
    'NPS by month (UTC), every answer of every survey kind, with a row for all accounts (all_segments) and one per segment, zero-filled from the first month with an answer to the current month: the counts, NPS = % promoters - % detractors (NULL in a month without answers), and nps_3m over the three months up to it (pooled answers).';
COMMENT ON COLUMN @extschema@.nps_monthly.month IS 'The first day of the month (UTC); the time column for BI tools.';
COMMENT ON COLUMN @extschema@.nps_monthly.segment IS 'The accounts'' segment; NULL on the all-accounts rows and for accounts without a segment (see all_segments).';
COMMENT ON COLUMN @extschema@.nps_monthly.all_segments IS 'true on the row of every account, false on the per-segment rows.';
COMMENT ON COLUMN @extschema@.nps_monthly.nps IS '% promoters - % detractors of the month''s answers, one decimal; NULL without answers.';
COMMENT ON COLUMN @extschema@.nps_monthly.responses_3m IS 'Answers in the month and the two before it.';
COMMENT ON COLUMN @extschema@.nps_monthly.nps_3m IS 'NPS of the answers of the month and the two before it, pooled; NULL without any.';
