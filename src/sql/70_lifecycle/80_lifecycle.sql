
-- The phase for a number of days since the start: day 0 to 7 kickoff,
-- 8 to 30 activation, 31 and later early value (a start in the future:
-- kickoff, the customer is being set up).  Not STRICT, with the NULL case
-- spelled out, so that the planner inlines it (a STRICT one only if its
-- body is strict, which a CASE is not): a first refresh calls it for every
-- onboarding account, and a SQL function call costs ten times the CASE.
CREATE OR REPLACE FUNCTION @extschema@.onboarding_phase_at(days_since_start integer) RETURNS @extschema@.onboarding_phase
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN days_since_start IS NULL THEN NULL
            WHEN days_since_start <= 7 THEN 'kickoff'::@extschema@.onboarding_phase
            WHEN days_since_start <= 30 THEN 'activation'::@extschema@.onboarding_phase
            ELSE 'early_value'::@extschema@.onboarding_phase END;
COMMENT ON FUNCTION @extschema@.onboarding_phase_at(integer) IS
    'The onboarding phase on a day of onboarding: kickoff up to day 7 (a start still ahead counts as kickoff), activation days 8-30, early_value from day 31.';

INSERT INTO @extschema@.lifecycle_rule (name, priority, stage, condition, description, builtin) VALUES
    ('churned', 10, 'churned', 'status = ''churned''',
     'Churned when csm.account.status is churned (this also overrides a stage set by hand).', true),
    ('onboarding', 20, 'onboarding', 'days_since_start <= 90 AND success_criteria_met < 5',
     'Onboarding from started_at until the seed''s five success criteria are met (csm.onboarding_status), or until 90 days have passed.', true),
    ('renewal', 30, 'renewal', 'days_to_renewal <= 90',
     'Renewal from 90 days before renewal_date (and after it, until renewal_date moves on).', true),
    ('growth', 40, 'growth', 'health_band = ''green''',
     'Growth: past onboarding, not near renewal, and healthy (health band green), where expansion comes from. Replace the condition with your own growth signal.', true),
    ('adoption', 1000, 'adoption', 'TRUE',
     'Adoption: every other account (past onboarding, not near renewal, not yet healthy).', true)
ON CONFLICT DO NOTHING;

INSERT INTO @extschema@.milestone (milestone, label, phase, first_value, business_outcome, detect_users, builtin) VALUES
    ('kickoff_call_held', 'Kickoff call held', 'kickoff', false, false, NULL, true),
    ('success_plan_created', 'Success plan created', 'kickoff', false, false, NULL, true),
    ('first_user_active', 'First user active', 'kickoff', false, false, 1, true),
    ('training_completed', 'Product training completed', 'activation', false, false, NULL, true),
    ('first_integration_deployed', 'First integration deployed', 'activation', false, false, NULL, true),
    ('key_features_activated', 'Key features activated', 'activation', true, false, NULL, true),
    ('first_business_outcome', 'First business outcome achieved', 'early_value', false, true, NULL, true)
ON CONFLICT DO NOTHING;

-- Built-in rows: changed (and marked customized), never deleted; a
-- restored customized row replaces the default CREATE EXTENSION installed.
CREATE OR REPLACE FUNCTION csm_internal._builtin_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key text := TG_ARGV[0];
    replaced integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- (a restore replacing it, below, deletes it from inside a trigger)
        IF OLD.builtin AND pg_trigger_depth() = 1 THEN
            RAISE EXCEPTION 'built-in % "%" cannot be deleted', TG_TABLE_NAME, to_jsonb(OLD) ->> key
                USING ERRCODE = 'insufficient_privilege', HINT = format('Set %s = false to turn it off.', coalesce(TG_ARGV[1], 'enabled'));
        END IF;
        RETURN OLD;
    ELSIF TG_OP = 'UPDATE' THEN
        IF to_jsonb(NEW) ->> key IS DISTINCT FROM to_jsonb(OLD) ->> key AND OLD.builtin THEN
            RAISE EXCEPTION 'built-in % "%" cannot be renamed', TG_TABLE_NAME, to_jsonb(OLD) ->> key
                USING ERRCODE = 'insufficient_privilege', HINT = 'Disable it and add a row of your own.';
        END IF;
        IF NEW.builtin IS DISTINCT FROM OLD.builtin THEN
            RAISE EXCEPTION 'builtin cannot be changed'
                USING ERRCODE = 'insufficient_privilege', HINT = 'Only csm''s own defaults are built in.';
        END IF;
        NEW.customized := OLD.builtin AND (NEW.customized OR to_jsonb(NEW) IS DISTINCT FROM to_jsonb(OLD));
        RETURN NEW;
    END IF;
    IF NEW.builtin THEN
        -- pg_dump's copy of a built-in row that was changed: it replaces the default.
        EXECUTE format('DELETE FROM %I.%I t WHERE t.%I = $1 AND t.builtin AND NOT t.customized',
                       TG_TABLE_SCHEMA, TG_TABLE_NAME, key)
            USING to_jsonb(NEW) ->> key;
        GET DIAGNOSTICS replaced = ROW_COUNT;
        IF replaced = 0 OR NOT NEW.customized THEN
            RAISE EXCEPTION 'only csm installs built-in rows'
                USING ERRCODE = 'insufficient_privilege', HINT = 'Insert your row with builtin = false.';
        END IF;
    ELSIF NEW.customized THEN
        RAISE EXCEPTION 'only a built-in row can be customized'
            USING ERRCODE = 'check_violation', HINT = 'Insert your row with customized = false.';
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._builtin_guard() IS
    'Trigger on csm.lifecycle_rule and csm.milestone: built-in rows may be changed (they are then marked customized, and pg_dump keeps them) but not deleted, renamed or made; an inserted customized built-in row (a restore) replaces the default. 42501 otherwise.';
CREATE OR REPLACE TRIGGER lifecycle_rule_builtin BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.lifecycle_rule
    FOR EACH ROW EXECUTE FUNCTION csm_internal._builtin_guard('name');
CREATE OR REPLACE TRIGGER milestone_builtin BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.milestone
    FOR EACH ROW EXECUTE FUNCTION csm_internal._builtin_guard('milestone');

-- No foreign key to csm.account on csm.account_lifecycle and
-- csm.lifecycle_history: a first refresh writes a row to each for every
-- account, and the checks cost as much as the writes (as for
-- csm.health_score and csm.expansion_signal); csm_internal._forget_accounts()
-- removes a deleted account's rows, and csm writes them only for accounts
-- it read from csm.account.
CREATE OR REPLACE TRIGGER account_forget_lifecycle AFTER DELETE ON @extschema@.account
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION csm_internal._forget_accounts('@extschema@.account_lifecycle', '@extschema@.lifecycle_history');

-- Onboarding progress ----------------------------------------------------------

-- The seed's success criteria per account with a start date, measured now:
--   time to first value: the first first_value milestone minus started_at, < 30 days;
--   user activation: distinct users active in the last 30 days / seats >= 0.8;
--   feature adoption: core features used since the start / core features > 0.6;
--   NPS: 100 x (promoters - detractors) / answers since the start > 40;
--   a measurable win: a business_outcome milestone reached.
CREATE OR REPLACE FUNCTION csm_internal._onboarding_progress(accounts bigint[] DEFAULT NULL)
RETURNS TABLE (account_id bigint, started_at timestamptz, days_since_start integer, first_value_at timestamptz,
               time_to_value interval, ttv_days numeric, active_users bigint, activation_rate numeric,
               core_features bigint, core_features_adopted bigint, feature_adoption numeric, nps numeric,
               nps_answers bigint, wins bigint, ttv_met boolean, activation_met boolean, adoption_met boolean,
               nps_met boolean, win_met boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
-- (custom plans: the arrays below must be planned as constants, see there)
SET plan_cache_mode = force_custom_plan AS $$
#variable_conflict use_column
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    cores bigint := (SELECT count(*) FROM @extschema@.core_feature);
BEGIN
    -- "= ANY (accounts)": planned with the array as a constant (a custom
    -- plan), which a single node looks up in a hash table (a generic plan
    -- would scan the array for every row) and Citus prunes shards by, so
    -- that one new account's progress reads one shard of each table (about
    -- 10 ms on a cluster; 130 ms as IN (SELECT unnest), a subquery that Citus
    -- ran first and then sent to every shard).
    RETURN QUERY
    WITH reached AS (
        SELECT m.account_id,
               min(m.achieved_at) FILTER (WHERE d.first_value) AS first_value_at,
               count(*) FILTER (WHERE d.business_outcome) AS wins
        FROM @extschema@.account_milestone m
        JOIN @extschema@.milestone d ON d.milestone = m.milestone
        WHERE accounts IS NULL OR m.account_id = ANY (accounts)
        GROUP BY m.account_id
    ),
    user_day AS (
        SELECT x.account_id, x.user_key
        FROM (SELECT u.account_id, u.source_id, u.day, u.user_key, u.events FROM csm_internal.usage_user_day u
              WHERE u.day > today - 30 AND u.day <= today
                AND (accounts IS NULL OR u.account_id = ANY (accounts))
              UNION ALL
              SELECT d.account_id, d.source_id, d.day, d.user_key, d.events FROM csm_internal.usage_delta d
              WHERE d.user_key IS NOT NULL AND d.day > today - 30 AND d.day <= today
                AND (accounts IS NULL OR d.account_id = ANY (accounts))) x
        GROUP BY x.account_id, x.source_id, x.day, x.user_key
        HAVING sum(x.events) > 0
    ),
    users AS (
        SELECT u.account_id, count(DISTINCT u.user_key) AS active_users FROM user_day u GROUP BY u.account_id
    ),
    features AS (
        SELECT f.account_id, count(*) AS adopted
        FROM (SELECT fd.account_id, fd.feature
              FROM csm_internal._usage_feature_day fd
              WHERE fd.feature IN (SELECT c.feature FROM @extschema@.core_feature c)
                AND (accounts IS NULL OR fd.account_id = ANY (accounts))
              GROUP BY fd.account_id, fd.feature
              HAVING sum(fd.events) > 0) f
        GROUP BY f.account_id
    ),
    nps AS (
        SELECT n.account_id, count(*) AS answers,
               round(100.0 * (count(*) FILTER (WHERE n.score >= 9) - count(*) FILTER (WHERE n.score <= 6)) / count(*), 1) AS nps
        FROM @extschema@.nps_response n
        JOIN @extschema@.account a ON a.account_id = n.account_id
        WHERE n.responded_at >= a.started_at
          AND (accounts IS NULL OR n.account_id = ANY (accounts))
        GROUP BY n.account_id
    ),
    p AS (
        SELECT a.account_id, a.started_at, csm_internal._days_since(a.started_at) AS days_since_start,
               r.first_value_at,
               CASE WHEN r.first_value_at IS NOT NULL
                    THEN greatest(r.first_value_at - a.started_at, interval '0') END AS time_to_value,
               coalesce(u.active_users, 0) AS active_users,
               round(coalesce(u.active_users, 0)::numeric / NULLIF(a.seats, 0), 3) AS activation_rate,
               coalesce(f.adopted, 0) AS core_features_adopted,
               n.nps, coalesce(n.answers, 0) AS nps_answers,
               coalesce(r.wins, 0) AS wins
        FROM @extschema@.account a
        LEFT JOIN reached r ON r.account_id = a.account_id
        LEFT JOIN users u ON u.account_id = a.account_id
        LEFT JOIN features f ON f.account_id = a.account_id
        LEFT JOIN nps n ON n.account_id = a.account_id
        WHERE a.started_at IS NOT NULL
          AND (accounts IS NULL OR a.account_id = ANY (accounts))
    )
    SELECT p.account_id, p.started_at, p.days_since_start, p.first_value_at, p.time_to_value,
           round(extract(epoch FROM p.time_to_value) / 86400, 1),
           p.active_users, p.activation_rate,
           cores, p.core_features_adopted,
           round(p.core_features_adopted::numeric / NULLIF(cores, 0), 3),
           p.nps, p.nps_answers, p.wins,
           coalesce(p.time_to_value < interval '30 days', false),
           coalesce(p.activation_rate >= 0.8, false),
           coalesce(p.core_features_adopted::numeric / NULLIF(cores, 0) > 0.6, false),
           coalesce(p.nps > 40, false),
           p.wins > 0
    FROM p;
END $$;
COMMENT ON FUNCTION csm_internal._onboarding_progress(bigint[]) IS
    'Internal: the seed''s five onboarding success criteria, measured now, per account with a start date (all, or these): TTFV < 30 days, activation >= 0.8, core feature adoption > 0.6, NPS > 40, a business_outcome milestone. csm.onboarding_status shows them for onboarding accounts.';

-- Evaluation --------------------------------------------------------------------

-- The facts lifecycle rules read, for every account or some, with the
-- stored state and the success criteria (measured for accounts in their
-- first 90 days; kept from before for the others), and the first of the
-- conditions they satisfy.  Set-based: one query, which builds only the
-- facts the enabled rules read and joins only the tables those come from
-- (a fact a rule does not read is absent, which no rule can tell from
-- NULL).  The facts are matched here, not returned: the rows of a
-- function are stored on their way out, and each account's facts object
-- would be (a first refresh: 0.1 to 0.2 s of CPU per 100,000 accounts).
CREATE OR REPLACE FUNCTION csm_internal._lifecycle_facts(accounts bigint[], conditions @extschema@.rule_condition[])
RETURNS TABLE (account_id bigint, status text, days_since_start integer, current_stage @extschema@.lifecycle_stage,
               current_phase @extschema@.onboarding_phase, current_criteria smallint, manual boolean, has_row boolean,
               criteria smallint, hit integer)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    reads text[];
    fact text;
    expr text;
    pairs text[] := '{}';
    health boolean;
BEGIN
    reads := ARRAY(SELECT DISTINCT CASE WHEN x LIKE 'property.%' THEN 'properties' ELSE x END
                   FROM @extschema@.lifecycle_rule r, unnest(@extschema@.condition_attributes(r.condition)) x
                   WHERE r.enabled ORDER BY 1);
    health := reads && ARRAY['health_score', 'health_band'];
    FOREACH fact IN ARRAY reads LOOP
        expr := CASE fact
            WHEN 'external_id' THEN 'a.external_id' WHEN 'segment' THEN 'a.segment' WHEN 'plan' THEN 'a.plan'
            WHEN 'tier' THEN 'a.tier' WHEN 'status' THEN 'a.status' WHEN 'arr' THEN 'a.arr' WHEN 'seats' THEN 'a.seats'
            WHEN 'properties' THEN 'a.properties'
            WHEN 'days_to_renewal' THEN 'a.renewal_date - (now() AT TIME ZONE ''UTC'')::date'
            WHEN 'days_since_start' THEN 'a.days'
            WHEN 'success_criteria_met' THEN 'j.criteria'
            WHEN 'lifecycle_stage' THEN 'l.stage'
            WHEN 'onboarding_phase' THEN 'l.onboarding_phase'
            WHEN 'health_score' THEN 'coalesce(ov.score, h.score)'
            WHEN 'health_band' THEN 'CASE WHEN ov.score IS NOT NULL THEN @extschema@.health_band(ov.score) ELSE h.band END'
            WHEN 'churn_risk_score' THEN 'cs.risk_score'
            WHEN 'churn_band' THEN 'cs.band'
            WHEN 'nps' THEN 'nps.score' END;
        CONTINUE WHEN expr IS NULL;
        pairs := pairs || format('%L, %s', fact, expr);
    END LOOP;
    -- "= ANY ($1)", not "IN (SELECT unnest($1))": the statement is planned
    -- with the array as a constant, which = ANY looks up in a hash table;
    -- the IN form (under an OR, so not a join) is a subplan, and once the
    -- array is too large for a hash table in work_mem (an INSERT of 1M
    -- accounts) every row scanned the whole list: quadratic.
    RETURN QUERY EXECUTE format($q$
    WITH acc AS (
        SELECT a.*, csm_internal._days_since(a.started_at) AS days
        FROM @extschema@.account a
        WHERE $1 IS NULL OR a.account_id = ANY ($1)
    ),
    crit AS (
        SELECT k.account_id,
               (k.ttv_met::integer + k.activation_met::integer + k.adoption_met::integer
                + k.nps_met::integer + k.win_met::integer)::smallint AS met
        FROM csm_internal._onboarding_progress(
                 coalesce($1, ARRAY(SELECT a.account_id FROM @extschema@.account a
                                    WHERE a.started_at > now() - interval '92 days'))) k
        WHERE k.days_since_start BETWEEN 0 AND 90
    )
    SELECT a.account_id, a.status, a.days, l.stage, l.onboarding_phase, l.success_criteria_met,
           coalesce(l.manual, false), l.account_id IS NOT NULL, j.criteria,
           csm_internal._first_match($2, pg_catalog.jsonb_build_object(%1$s))
    FROM acc a
    LEFT JOIN @extschema@.account_lifecycle l ON l.account_id = a.account_id
    LEFT JOIN crit c ON c.account_id = a.account_id
    -- once all five are met the account has graduated
    CROSS JOIN LATERAL (SELECT CASE WHEN l.success_criteria_met = 5 THEN 5::smallint
                                    WHEN a.days IS NULL THEN NULL
                                    ELSE coalesce(c.met, l.success_criteria_met, 0::smallint) END AS criteria) j
    %2$s %3$s %4$s
    $q$,
        array_to_string(pairs, ', '),
        CASE WHEN health THEN $j$
    LEFT JOIN @extschema@.health_score h ON h.account_id = a.account_id
    LEFT JOIN (SELECT DISTINCT ON (o.account_id) o.account_id, o.score
               FROM @extschema@.health_override o
               WHERE o.cleared_at IS NULL AND (o.expires_at IS NULL OR o.expires_at > now())
                 AND ($1 IS NULL OR o.account_id = ANY ($1))
               ORDER BY o.account_id, o.override_id DESC) ov ON ov.account_id = a.account_id$j$ ELSE '' END,
        CASE WHEN reads && ARRAY['churn_risk_score', 'churn_band'] THEN $j$
    LEFT JOIN @extschema@.churn_score cs ON cs.account_id = a.account_id$j$ ELSE '' END,
        CASE WHEN 'nps' = ANY (reads) THEN $j$
    LEFT JOIN (SELECT DISTINCT ON (n.account_id) n.account_id, n.score
               FROM @extschema@.nps_response n
               WHERE $1 IS NULL OR n.account_id = ANY ($1)
               ORDER BY n.account_id, n.responded_at DESC, n.response_id DESC) nps ON nps.account_id = a.account_id$j$
             ELSE '' END)
    USING accounts, conditions;
END $$;
COMMENT ON FUNCTION csm_internal._lifecycle_facts(bigint[], @extschema@.rule_condition[]) IS
    'Internal: per account (all, or these), the stored lifecycle state, the success criteria met, and the position (from 1) of the first of the conditions its facts satisfy (hit, NULL when none does). The facts are those lifecycle rules read: csm.routing_facts'' facts plus days_since_start and success_criteria_met.';

-- The first of the conditions the facts satisfy: its position (1-based),
-- or NULL.  In C (src/lifecycle.c): the refresh calls it once per account.
CREATE OR REPLACE FUNCTION csm_internal._first_match(conditions @extschema@.rule_condition[], facts jsonb) RETURNS integer
AS 'MODULE_PATHNAME', 'csm_first_match'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._first_match(@extschema@.rule_condition[], jsonb) IS
    'Internal: the position (from 1) of the first condition the facts satisfy, NULL when none does; the array is taken apart once per call site.';

-- Evaluates the rules for every account (NULL) or these, and writes what
-- changed, in one statement: the history (the open row closed, a new one
-- opened) and the state; then csm.account.lifecycle_stage, and the routing
-- rules that read the stage or the phase for the accounts that moved.
-- Returns how many accounts changed stage or phase.
CREATE OR REPLACE FUNCTION csm_internal._lifecycle_apply(accounts bigint[] DEFAULT NULL, why text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rule_names text[];
    rule_stages @extschema@.lifecycle_stage[];
    rule_conds @extschema@.rule_condition[];
    rule_reasons text[];
    moved_ids bigint[];
    column_ids bigint[];
    column_stages @extschema@.lifecycle_stage[];
    stamp timestamptz := csm_internal._stamp();
    actor name := csm_internal._caller();
BEGIN
    -- On Citus, the rest of the transaction reaches each worker over one
    -- connection: Citus refuses to change csm.account (a reference table)
    -- after writing the lifecycle shards over several connections at once.
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL
       AND current_setting('citus.multi_shard_modify_mode', true) IS DISTINCT FROM 'sequential' THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p
                   WHERE p.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.account_lifecycle'::regclass) THEN
            PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
        END IF;
    END IF;
    SELECT coalesce(array_agg(r.name ORDER BY r.priority, r.name), '{}'),
           coalesce(array_agg(r.stage ORDER BY r.priority, r.name), '{}'),
           coalesce(array_agg(r.condition ORDER BY r.priority, r.name), '{}'),
           coalesce(array_agg(format('rule %s: %s', r.name, r.condition) ORDER BY r.priority, r.name), '{}')
    INTO rule_names, rule_stages, rule_conds, rule_reasons
    FROM @extschema@.lifecycle_rule r WHERE r.enabled;

    -- pick counts csm.refresh_lifecycle's progress, one per account (OFFSET 0
    -- keeps it a subquery of its own, whose counter runs once per account
    -- whatever reads it), here rather than in the facts' query, where the
    -- counter would cost a projection of every account's row (nothing when
    -- csm_internal._progress_begin did not start it).
    -- change is kept in account order, sorted once: the writes below go in
    -- key order and the arrays come out sorted without sorting each again.
    WITH pick AS (
        SELECT q.* FROM (
            SELECT f.account_id, f.status, f.days_since_start, f.current_stage, f.current_phase, f.current_criteria,
                   f.manual, f.has_row, f.criteria, f.hit,
                   csm_internal._progress('refresh_lifecycle', f.account_id) AS counted
            FROM csm_internal._lifecycle_facts(accounts, rule_conds) f
            OFFSET 0) q
    ),
    target AS (
        SELECT p.account_id, p.current_stage, p.current_phase, p.current_criteria, p.has_row, p.criteria,
               -- churn always wins, and unpins a manual stage
               p.manual AND p.status <> 'churned' AS keep_manual,
               CASE WHEN p.status = 'churned' THEN 'churned'::@extschema@.lifecycle_stage
                    WHEN p.manual THEN p.current_stage
                    WHEN p.hit IS NOT NULL THEN rule_stages[p.hit]
                    ELSE p.current_stage END AS stage,
               CASE WHEN p.manual AND p.status <> 'churned' THEN NULL
                    WHEN p.status = 'churned' AND rule_stages[p.hit] IS DISTINCT FROM 'churned' THEN NULL
                    WHEN p.hit IS NOT NULL THEN rule_names[p.hit] END AS rule,
               concat_ws('; ', why,
                         CASE WHEN p.status = 'churned' AND rule_stages[p.hit] IS DISTINCT FROM 'churned' THEN 'status churned'
                              WHEN p.manual AND p.status = 'churned' THEN 'status churned'
                              WHEN p.hit IS NOT NULL THEN rule_reasons[p.hit]
                              ELSE 'no rule matched' END) AS reason,
               p.days_since_start AS days, p.manual
        FROM pick p
    ),
    change AS MATERIALIZED (
        SELECT x.*,
               x.stage IS DISTINCT FROM x.current_stage OR x.phase IS DISTINCT FROM x.current_phase AS moved
        FROM (SELECT t.*,
                     CASE WHEN t.stage = 'onboarding' THEN @extschema@.onboarding_phase_at(t.days) END AS phase
              FROM target t) x
        WHERE NOT x.has_row
           OR x.stage IS DISTINCT FROM x.current_stage
           OR x.phase IS DISTINCT FROM x.current_phase
           OR x.criteria IS DISTINCT FROM x.current_criteria
           OR (x.manual AND NOT x.keep_manual)
        ORDER BY x.account_id
    ),
    -- the open rows closed first (a scan of "closed" below waits for it):
    -- one open row per account
    closed AS (
        UPDATE @extschema@.lifecycle_history h SET left_at = greatest(stamp, h.entered_at)
        FROM change c
        WHERE h.account_id = c.account_id AND c.moved AND h.left_at IS NULL
        RETURNING h.account_id
    ),
    opened AS (
        INSERT INTO @extschema@.lifecycle_history (account_id, stage, phase, entered_at, reason, actor)
        SELECT c.account_id, c.stage, c.phase, stamp, c.reason, actor
        FROM change c
        WHERE c.moved AND c.stage IS NOT NULL AND (SELECT count(*) FROM closed) >= 0
    ),
    state AS (
        INSERT INTO @extschema@.account_lifecycle AS l
            (account_id, stage, onboarding_phase, stage_entered_at, phase_entered_at, rule, manual, success_criteria_met)
        SELECT c.account_id, c.stage, c.phase, CASE WHEN c.stage IS NOT NULL THEN stamp END,
               CASE WHEN c.phase IS NOT NULL THEN stamp END, c.rule, false, c.criteria
        FROM change c
        ON CONFLICT (account_id) DO UPDATE
        SET stage = excluded.stage,
            onboarding_phase = excluded.onboarding_phase,
            stage_entered_at = CASE WHEN excluded.stage IS DISTINCT FROM l.stage THEN excluded.stage_entered_at
                                    ELSE l.stage_entered_at END,
            phase_entered_at = CASE WHEN excluded.onboarding_phase IS NULL THEN NULL
                                    WHEN excluded.onboarding_phase IS DISTINCT FROM l.onboarding_phase
                                    THEN excluded.phase_entered_at ELSE l.phase_entered_at END,
            rule = CASE WHEN l.manual AND excluded.stage IS DISTINCT FROM 'churned' THEN l.rule ELSE excluded.rule END,
            manual = l.manual AND excluded.stage IS DISTINCT FROM 'churned',
            set_by = CASE WHEN l.manual AND excluded.stage IS DISTINCT FROM 'churned' THEN l.set_by END,
            set_reason = CASE WHEN l.manual AND excluded.stage IS DISTINCT FROM 'churned' THEN l.set_reason END,
            success_criteria_met = excluded.success_criteria_met
    )
    -- (opened and state are not read: PostgreSQL runs them to the end
    -- after this, and keeps none of the rows they write)
    SELECT coalesce(array_agg(c.account_id) FILTER (WHERE c.moved), '{}'),
           coalesce(array_agg(c.account_id) FILTER (WHERE c.stage IS DISTINCT FROM c.current_stage), '{}'),
           coalesce(array_agg(c.stage) FILTER (WHERE c.stage IS DISTINCT FROM c.current_stage), '{}')
    INTO moved_ids, column_ids, column_stages
    FROM change c;

    -- The account's column, as csm's own change (the trigger on csm.account
    -- leaves it alone), for the accounts whose stage changed and any whose
    -- column was emptied by hand.
    IF cardinality(column_ids) > 0 THEN
        PERFORM set_config('csm_lifecycle.writing', 'on', true);
        -- (updated_at as csm.account's touch trigger sets it, which skips this write)
        UPDATE @extschema@.account a SET lifecycle_stage = c.stage, updated_at = stamp
        FROM unnest(column_ids, column_stages) AS c (account_id, stage)
        WHERE a.account_id = c.account_id AND a.lifecycle_stage IS DISTINCT FROM c.stage;
        PERFORM set_config('csm_lifecycle.writing', 'off', true);
    END IF;

    -- Handoffs: routing rules that read the stage or the phase.  Only when
    -- one does: csm_internal._route reads every moved account's routing
    -- facts before it looks at what its rules read (a first refresh moves
    -- every account).
    IF cardinality(moved_ids) > 0
       AND EXISTS (SELECT FROM @extschema@.routing_rule r
                   WHERE r.enabled AND r.condition IS NOT NULL
                     AND @extschema@.condition_attributes(r.condition) && ARRAY['lifecycle_stage', 'onboarding_phase']) THEN
        PERFORM csm_internal._route(moved_ids, ARRAY['lifecycle_stage', 'onboarding_phase']);
    END IF;
    RETURN cardinality(moved_ids);
END $$;
COMMENT ON FUNCTION csm_internal._lifecycle_apply(bigint[], text) IS
    'Internal: evaluates csm.lifecycle_rule for every account (NULL) or these (why, when given, leads the history''s reason), writes what changed (csm.lifecycle_history, csm.account_lifecycle, csm.account.lifecycle_stage) and applies the routing rules reading lifecycle_stage or onboarding_phase to the accounts that moved; returns how many moved.';

-- Usage milestones: the first UTC day each enabled milestone with a
-- detect_ rule was reached, for accounts that have not reached it yet.
CREATE OR REPLACE FUNCTION csm_internal._detect_milestones(accounts bigint[] DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM @extschema@.milestone d
                   WHERE d.enabled AND (d.detect_feature IS NOT NULL OR d.detect_events IS NOT NULL OR d.detect_users IS NOT NULL)) THEN
        RETURN 0;
    END IF;
    WITH def AS (
        SELECT d.milestone, d.detect_feature, d.detect_events, d.detect_users,
               d.detect_feature IS NOT NULL OR d.detect_events IS NOT NULL AS by_events
        FROM @extschema@.milestone d
        WHERE d.enabled AND (d.detect_feature IS NOT NULL OR d.detect_events IS NOT NULL OR d.detect_users IS NOT NULL)
    ),
    feature_day AS (
        SELECT f.account_id, f.feature, f.day, sum(f.events) AS events
        FROM csm_internal._usage_feature_day f
        WHERE f.feature IN (SELECT d.detect_feature FROM def d)
          AND (accounts IS NULL OR f.account_id IN (SELECT unnest(accounts)))
        GROUP BY f.account_id, f.feature, f.day
    ),
    all_day AS (
        SELECT u.account_id, u.day, sum(u.events) AS events
        FROM csm_internal._usage_day u
        WHERE EXISTS (SELECT 1 FROM def d WHERE d.by_events AND d.detect_feature IS NULL)
          AND (accounts IS NULL OR u.account_id IN (SELECT unnest(accounts)))
        GROUP BY u.account_id, u.day
    ),
    running AS (
        SELECT d.milestone, x.account_id, x.day,
               sum(x.events) OVER (PARTITION BY d.milestone, x.account_id ORDER BY x.day) AS total,
               coalesce(d.detect_events, 1) AS need
        FROM def d
        JOIN feature_day x ON x.feature = d.detect_feature
        UNION ALL
        SELECT d.milestone, x.account_id, x.day,
               sum(x.events) OVER (PARTITION BY d.milestone, x.account_id ORDER BY x.day),
               d.detect_events
        FROM def d
        CROSS JOIN all_day x
        WHERE d.by_events AND d.detect_feature IS NULL
    ),
    by_events AS (
        SELECT r.milestone, r.account_id, min(r.day) AS day
        FROM running r WHERE r.total >= r.need
        GROUP BY r.milestone, r.account_id
    ),
    first_seen AS (
        SELECT y.account_id, y.user_key, min(y.day) AS day
        FROM (SELECT x.account_id, x.user_key, x.day
              FROM (SELECT u.account_id, u.source_id, u.day, u.user_key, u.events FROM csm_internal.usage_user_day u
                    WHERE accounts IS NULL OR u.account_id IN (SELECT unnest(accounts))
                    UNION ALL
                    SELECT d.account_id, d.source_id, d.day, d.user_key, d.events FROM csm_internal.usage_delta d
                    WHERE d.user_key IS NOT NULL AND (accounts IS NULL OR d.account_id IN (SELECT unnest(accounts)))) x
              WHERE EXISTS (SELECT 1 FROM def d WHERE d.detect_users IS NOT NULL)
              GROUP BY x.account_id, x.source_id, x.day, x.user_key
              HAVING sum(x.events) > 0) y
        GROUP BY y.account_id, y.user_key
    ),
    nth_user AS (
        SELECT s.account_id, s.day, row_number() OVER (PARTITION BY s.account_id ORDER BY s.day, s.user_key) AS nth
        FROM first_seen s
    ),
    by_users AS (
        SELECT d.milestone, u.account_id, u.day
        FROM def d JOIN nth_user u ON u.nth = d.detect_users
    ),
    reached AS (
        SELECT e.milestone, e.account_id, greatest(e.day, u.day) AS day
        FROM by_events e
        JOIN def d ON d.milestone = e.milestone
        LEFT JOIN by_users u ON u.milestone = e.milestone AND u.account_id = e.account_id
        WHERE d.detect_users IS NULL OR u.day IS NOT NULL
        UNION ALL
        SELECT u.milestone, u.account_id, u.day
        FROM by_users u JOIN def d ON d.milestone = u.milestone
        WHERE NOT d.by_events
    )
    INSERT INTO @extschema@.account_milestone (account_id, milestone, achieved_at, source, recorded_by)
    SELECT r.account_id, r.milestone, r.day::timestamp AT TIME ZONE 'UTC', 'usage', csm_internal._caller()
    FROM reached r
    JOIN @extschema@.account a ON a.account_id = r.account_id
    ORDER BY r.account_id, r.milestone
    ON CONFLICT (account_id, milestone) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION csm_internal._detect_milestones(bigint[]) IS
    'Internal: records the usage milestones (csm.milestone detect_ rules) every account (NULL) or these reached, on the UTC day they were reached; returns how many it recorded.';

-- The API ----------------------------------------------------------------------

-- (work_mem as for refresh_expansion: the rows of every account it writes
-- are sorted and kept once in memory rather than on disk)
CREATE OR REPLACE FUNCTION @extschema@.refresh_lifecycle() RETURNS integer
LANGUAGE plpgsql
SET work_mem = '64MB'
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    changed integer;
    started constant timestamptz := clock_timestamp();
BEGIN
    PERFORM csm_internal._require('operate');
    -- On Citus, as in csm_internal._lifecycle_apply, and before the milestones: once
    -- the transaction has read or written a distributed table with a foreign
    -- key to csm.account (csm.account_milestone) over several connections,
    -- Citus refuses the UPDATE of csm.account that writes the stages.
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL
       AND current_setting('citus.multi_shard_modify_mode', true) IS DISTINCT FROM 'sequential' THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p
                   WHERE p.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.account_lifecycle'::regclass) THEN
            PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
        END IF;
    END IF;
    -- A NOTICE at every 10% of the accounts put through the rules, when the
    -- client wants notices (csm_internal._lifecycle_apply counts them; every
    -- account, churned ones too).
    PERFORM csm_internal._progress_begin('refresh_lifecycle',
        CASE WHEN csm_internal._progress_wanted() THEN (SELECT count(*) FROM @extschema@.account) END);
    PERFORM csm_internal._detect_milestones(NULL);
    -- success_achievement alerts (86_alert.sql)
    PERFORM csm_internal._raise_alerts(ARRAY['success_achievement']);
    changed := csm_internal._lifecycle_apply(NULL);
    -- Playbooks fired by a stage or a missed milestone (85_playbook.sql), in this transaction.
    PERFORM csm_internal._fire_playbooks(ARRAY['lifecycle_stage', 'milestone_missed'], NULL, 'refresh_lifecycle');
    PERFORM csm_internal._run_finished('lifecycle', started, changed);
    RETURN changed;
END $$;
COMMENT ON FUNCTION @extschema@.refresh_lifecycle() IS
    'Detects usage milestones, then evaluates csm.lifecycle_rule for every account and writes what changed (csm.lifecycle_history, csm.account_lifecycle, csm.account.lifecycle_stage); accounts that moved get the routing rules that read lifecycle_stage or onboarding_phase. Run it daily (pg_cron): phases and renewal windows move with the calendar. Idempotent; returns how many accounts changed stage or phase. Errors: 42501 without the operate level (csm.grant_access).';

CREATE OR REPLACE FUNCTION @extschema@.set_lifecycle_stage(org_user_id text, stage @extschema@.lifecycle_stage, reason text DEFAULT NULL)
RETURNS @extschema@.account_lifecycle
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    acc @extschema@.account;
    result @extschema@.account_lifecycle;
BEGIN
    PERFORM csm_internal._require('operate');
    IF org_user_id IS NULL OR stage IS NULL THEN
        RAISE EXCEPTION 'org_user_id and stage must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'To let the rules decide again, call csm.clear_lifecycle_stage.';
    END IF;
    id := csm_internal._account_id(org_user_id);
    SELECT * INTO acc FROM @extschema@.account a WHERE a.account_id = id FOR NO KEY UPDATE;
    PERFORM csm_internal._pin_stage(id, acc.status, stage, coalesce(reason, 'set by hand'));
    SELECT * INTO result FROM @extschema@.account_lifecycle l WHERE l.account_id = id;
    RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@.set_lifecycle_stage(text, @extschema@.lifecycle_stage, text) IS
    'Pins an account''s lifecycle stage: the rules leave it alone until csm.clear_lifecycle_stage (or churn). Written to csm.lifecycle_history as manual, with the reason and the calling role. The same as UPDATE csm.account SET lifecycle_stage. Returns the csm.account_lifecycle row. Errors: P0002 unknown account, 22004 NULL org_user_id or stage, 22023 churned set by hand or on a churned account (churned follows status), 42501 without the operate level.';

CREATE OR REPLACE FUNCTION @extschema@.clear_lifecycle_stage(org_user_id text, reason text DEFAULT NULL)
RETURNS @extschema@.account_lifecycle
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    result @extschema@.account_lifecycle;
BEGIN
    PERFORM csm_internal._require('operate');
    IF org_user_id IS NULL THEN
        RAISE EXCEPTION 'org_user_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    id := csm_internal._account_id(org_user_id);
    PERFORM 1 FROM @extschema@.account a WHERE a.account_id = id FOR NO KEY UPDATE;
    PERFORM csm_internal._unpin_stage(id, coalesce(reason, 'manual stage cleared'));
    SELECT * INTO result FROM @extschema@.account_lifecycle l WHERE l.account_id = id;
    RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@.clear_lifecycle_stage(text, text) IS
    'Unpins an account''s lifecycle stage and lets the rules set it at once (the change, if any, goes to csm.lifecycle_history). The same as UPDATE csm.account SET lifecycle_stage = NULL. Returns the csm.account_lifecycle row. Errors: P0002 unknown account, 22004 NULL org_user_id, 42501 without the operate level.';

CREATE OR REPLACE FUNCTION csm_internal._pin_stage(account bigint, status text, stage @extschema@.lifecycle_stage, reason text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stamp timestamptz := csm_internal._stamp();
    old @extschema@.account_lifecycle;
    phase @extschema@.onboarding_phase;
BEGIN
    IF stage = 'churned' OR status = 'churned' THEN
        RAISE EXCEPTION 'the churned stage follows the account''s status'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Set csm.account.status to churned (or back to active) instead.';
    END IF;
    SELECT * INTO old FROM @extschema@.account_lifecycle l WHERE l.account_id = account FOR UPDATE;
    IF stage = 'onboarding' THEN
        phase := @extschema@.onboarding_phase_at(
            (SELECT csm_internal._days_since(a.started_at) FROM @extschema@.account a WHERE a.account_id = account));
    END IF;
    IF old.stage IS DISTINCT FROM stage OR old.onboarding_phase IS DISTINCT FROM phase OR NOT coalesce(old.manual, false) THEN
        UPDATE @extschema@.lifecycle_history h SET left_at = greatest(stamp, h.entered_at)
        WHERE h.account_id = account AND h.left_at IS NULL;
        INSERT INTO @extschema@.lifecycle_history (account_id, stage, phase, entered_at, reason, actor)
        VALUES (account, stage, phase, stamp, 'manual: ' || reason, csm_internal._caller());
    END IF;
    INSERT INTO @extschema@.account_lifecycle AS l
        (account_id, stage, onboarding_phase, stage_entered_at, phase_entered_at, rule, manual, set_by, set_reason)
    VALUES (account, stage, phase, stamp, CASE WHEN phase IS NOT NULL THEN stamp END, NULL, true,
            csm_internal._caller(), reason)
    ON CONFLICT (account_id) DO UPDATE
    SET stage = excluded.stage, onboarding_phase = excluded.onboarding_phase,
        stage_entered_at = CASE WHEN l.stage IS DISTINCT FROM excluded.stage THEN excluded.stage_entered_at
                                ELSE l.stage_entered_at END,
        phase_entered_at = CASE WHEN excluded.onboarding_phase IS NULL THEN NULL
                                WHEN l.onboarding_phase IS DISTINCT FROM excluded.onboarding_phase THEN excluded.phase_entered_at
                                ELSE l.phase_entered_at END,
        rule = NULL, manual = true, set_by = excluded.set_by, set_reason = excluded.set_reason;
    UPDATE @extschema@.account a SET lifecycle_stage = stage
    WHERE a.account_id = account AND a.lifecycle_stage IS DISTINCT FROM stage;
    IF old.stage IS DISTINCT FROM stage OR old.onboarding_phase IS DISTINCT FROM phase THEN
        PERFORM csm_internal._route(ARRAY[account], ARRAY['lifecycle_stage', 'onboarding_phase']);
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._pin_stage(bigint, text, @extschema@.lifecycle_stage, text) IS
    'Internal: pins an account''s stage by hand (csm.set_lifecycle_stage, or an UPDATE of csm.account.lifecycle_stage).';

CREATE OR REPLACE FUNCTION csm_internal._unpin_stage(account bigint, reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The rules decide from scratch: the history gets a row even when they
    -- give the pinned stage again, since it is theirs now.
    UPDATE @extschema@.account_lifecycle l
    SET manual = false, set_by = NULL, set_reason = NULL, stage = NULL, onboarding_phase = NULL
    WHERE l.account_id = account
      AND (l.manual OR (SELECT a.lifecycle_stage FROM @extschema@.account a WHERE a.account_id = account) IS NULL);
    IF FOUND THEN
        PERFORM csm_internal._lifecycle_apply(ARRAY[account], reason);
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._unpin_stage(bigint, text) IS
    'Internal: unpins an account''s stage and lets the rules set it (csm.clear_lifecycle_stage, or an UPDATE of csm.account.lifecycle_stage to NULL).';

CREATE OR REPLACE FUNCTION @extschema@.record_milestone(org_user_id text, milestone text, achieved_at timestamptz DEFAULT now(),
                                             note text DEFAULT NULL)
RETURNS @extschema@.account_milestone
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    id bigint;
    result @extschema@.account_milestone;
BEGIN
    PERFORM csm_internal._require('operate');
    IF org_user_id IS NULL OR milestone IS NULL OR achieved_at IS NULL THEN
        RAISE EXCEPTION 'org_user_id, milestone and achieved_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    id := csm_internal._account_id(org_user_id);
    IF NOT EXISTS (SELECT 1 FROM @extschema@.milestone d WHERE d.milestone = record_milestone.milestone) THEN
        RAISE EXCEPTION 'milestone "%" does not exist', milestone
            USING ERRCODE = 'invalid_parameter_value', HINT = 'See csm.milestone for the milestones; add your own there.';
    END IF;
    IF achieved_at > now() OR NOT isfinite(achieved_at) THEN
        RAISE EXCEPTION 'achieved_at is in the future'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('achieved_at is %s.', achieved_at),
                  HINT = 'Record a milestone once it is reached.';
    END IF;
    PERFORM 1 FROM @extschema@.account a WHERE a.account_id = id FOR NO KEY UPDATE;
    INSERT INTO @extschema@.account_milestone AS m (account_id, milestone, achieved_at, source, recorded_by, note)
    VALUES (id, milestone, achieved_at, 'manual', csm_internal._caller(), note)
    ON CONFLICT (account_id, milestone) DO UPDATE
    SET achieved_at = excluded.achieved_at, source = 'manual', recorded_by = excluded.recorded_by,
        note = coalesce(excluded.note, m.note)
    RETURNING * INTO result;
    -- Milestones feed the success criteria: the stage may move now.
    PERFORM csm_internal._lifecycle_apply(ARRAY[id]);
    -- success_achievement alerts (86_alert.sql)
    PERFORM csm_internal._raise_alerts(ARRAY['success_achievement'], ARRAY[id]);
    RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@.record_milestone(text, text, timestamptz, text) IS
    'Records by hand that an account reached a milestone (again: the new date and source manual win over a detected one), then re-evaluates its lifecycle stage. Returns the csm.account_milestone row. Errors: P0002 unknown account, 22004 NULL argument, 22023 unknown milestone or achieved_at in the future, 42501 without the operate level.';

CREATE OR REPLACE FUNCTION @extschema@.clear_milestone(org_user_id text, milestone text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    id bigint;
    found_one boolean;
BEGIN
    PERFORM csm_internal._require('operate');
    IF org_user_id IS NULL OR milestone IS NULL THEN
        RAISE EXCEPTION 'org_user_id and milestone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    id := csm_internal._account_id(org_user_id);
    PERFORM 1 FROM @extschema@.account a WHERE a.account_id = id FOR NO KEY UPDATE;
    DELETE FROM @extschema@.account_milestone m WHERE m.account_id = id AND m.milestone = clear_milestone.milestone;
    found_one := FOUND;
    IF found_one THEN
        PERFORM csm_internal._lifecycle_apply(ARRAY[id]);
    END IF;
    RETURN found_one;
END $$;
COMMENT ON FUNCTION @extschema@.clear_milestone(text, text) IS
    'Removes a milestone recorded for an account (one detected from usage comes back at the next csm.refresh_lifecycle() while the usage is there), then re-evaluates its stage. Returns whether there was one. Errors: P0002 unknown account, 22004 NULL argument, 42501 without the operate level.';

CREATE OR REPLACE FUNCTION @extschema@.time_to_value(org_user_id text) RETURNS interval
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    IF org_user_id IS NULL THEN
        RETURN NULL;
    END IF;
    id := csm_internal._account_id(org_user_id);
    RETURN (SELECT greatest(min(m.achieved_at) - a.started_at, interval '0')
            FROM @extschema@.account a
            JOIN @extschema@.account_milestone m ON m.account_id = a.account_id
            JOIN @extschema@.milestone d ON d.milestone = m.milestone AND d.first_value
            WHERE a.account_id = id AND m.account_id = id
            GROUP BY a.started_at);
END $$;
COMMENT ON FUNCTION @extschema@.time_to_value(text) IS
    'Time to value (TTV): the first first_value milestone''s achieved_at minus the account''s started_at (never negative: value reached before the start counts as 0); NULL until one is reached or without a start date. Errors: P0002 unknown account.';

-- The view ------------------------------------------------------------------------

-- The rows of csm.onboarding_status.  PL/pgSQL, reading each table into
-- arrays first and combining them in memory: on Citus, a query that reads
-- csm's tables together with a function's rows (or correlated subqueries
-- over a distributed table) cannot be planned, or is sent to one node.
CREATE OR REPLACE FUNCTION csm_internal._onboarding_status(only_account bigint DEFAULT NULL)
RETURNS TABLE (account_id bigint, external_id text, name text, segment text, started_at timestamptz,
               days_since_start integer, phase @extschema@.onboarding_phase, milestones_due text[],
               milestones_done text[], milestones_overdue text[], time_to_value interval, ttv_days numeric,
               active_users bigint, seats integer, activation_rate numeric, core_features_adopted bigint,
               core_features bigint, feature_adoption numeric, nps numeric, nps_answers bigint, wins bigint,
               ttv_met boolean, activation_met boolean, adoption_met boolean, nps_met boolean, win_met boolean,
               criteria_met integer, stage_manual boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    ids bigint[];
    ext text[];
    names text[];
    segs text[];
    starts timestamptz[];
    seat integer[];
    state jsonb;
    done jsonb;
    defs jsonb;
BEGIN
    SELECT array_agg(a.account_id ORDER BY a.account_id), array_agg(a.external_id ORDER BY a.account_id),
           array_agg(a.name ORDER BY a.account_id), array_agg(a.segment ORDER BY a.account_id),
           array_agg(a.started_at ORDER BY a.account_id), array_agg(a.seats ORDER BY a.account_id)
    INTO ids, ext, names, segs, starts, seat
    FROM @extschema@.account a
    WHERE a.lifecycle_stage = 'onboarding'
      -- one account (csm_internal._playbooks_that_fire): its rows only
      AND (only_account IS NULL OR a.account_id = only_account);
    IF ids IS NULL THEN
        RETURN;
    END IF;
    SELECT coalesce(jsonb_object_agg(l.account_id::text, jsonb_build_array(l.onboarding_phase, l.manual)), '{}')
    INTO state FROM @extschema@.account_lifecycle l WHERE l.account_id = ANY (ids);
    SELECT coalesce(jsonb_object_agg(m.account_id::text, m.reached), '{}') INTO done
    FROM (SELECT x.account_id, jsonb_agg(x.milestone ORDER BY x.achieved_at, x.milestone) AS reached
          FROM @extschema@.account_milestone x WHERE x.account_id = ANY (ids) GROUP BY x.account_id) m;
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'milestone', d.milestone, 'phase', d.phase,
               'due', coalesce(d.due_day, CASE d.phase WHEN 'kickoff' THEN 7 WHEN 'activation' THEN 30 ELSE 90 END))
           ORDER BY d.milestone), '[]')
    INTO defs FROM @extschema@.milestone d WHERE d.enabled AND d.phase IS NOT NULL;
    RETURN QUERY
    WITH acc AS (
        SELECT u.account_id, u.external_id, u.name, u.segment, u.started_at, u.seats,
               (state -> u.account_id::text ->> 0)::@extschema@.onboarding_phase AS phase,
               (state -> u.account_id::text ->> 1)::boolean AS manual,
               ARRAY(SELECT jsonb_array_elements_text(coalesce(done -> u.account_id::text, '[]'))) AS reached
        FROM unnest(ids, ext, names, segs, starts, seat) AS u (account_id, external_id, name, segment, started_at, seats)
    ),
    d AS (
        SELECT e ->> 'milestone' AS milestone, e ->> 'phase' AS phase, (e ->> 'due')::integer AS due
        FROM jsonb_array_elements(defs) e
    )
    SELECT a.account_id, a.external_id, a.name, a.segment, a.started_at,
           p.days_since_start, a.phase,
           ARRAY(SELECT d.milestone FROM d WHERE d.phase = a.phase::text AND NOT d.milestone = ANY (a.reached)
                 ORDER BY d.due, d.milestone),
           a.reached,
           ARRAY(SELECT d.milestone FROM d WHERE d.due < p.days_since_start AND NOT d.milestone = ANY (a.reached)
                 ORDER BY d.milestone),
           p.time_to_value, p.ttv_days, p.active_users, a.seats, p.activation_rate,
           p.core_features_adopted, p.core_features, p.feature_adoption, p.nps, p.nps_answers, p.wins,
           p.ttv_met, p.activation_met, p.adoption_met, p.nps_met, p.win_met,
           p.ttv_met::integer + p.activation_met::integer + p.adoption_met::integer + p.nps_met::integer
           + p.win_met::integer,
           a.manual
    FROM acc a
    JOIN (SELECT * FROM csm_internal._onboarding_progress(ids)) p ON p.account_id = a.account_id
    ORDER BY a.account_id;
END $$;
COMMENT ON FUNCTION csm_internal._onboarding_status(bigint) IS
    'Internal: the rows of csm.onboarding_status, of every onboarding account or (only_account) of one.';

CREATE OR REPLACE VIEW @extschema@.onboarding_status WITH (security_invoker = true) AS
SELECT s.*,
       -- the vocabulary's names; name, activation_rate and feature_adoption are deprecated
       s.name AS account_name, s.activation_rate AS activation_ratio, s.feature_adoption AS feature_adoption_ratio
FROM csm_internal._onboarding_status() s;
COMMENT ON VIEW @extschema@.onboarding_status IS
    'Per onboarding account: days since the start, the phase, the phase''s milestones still due, the milestones done, those overdue (past due_day, not reached), time to value, and the seed''s success criteria measured now: TTFV < 30 days (ttv_met), user activation = distinct users active in the last 30 days / seats >= 0.8 (activation_met), feature adoption = csm.core_feature used since the start / core features > 0.6 (adoption_met), NPS = 100 x (promoters - detractors) / answers since the start > 40 (nps_met), at least one business_outcome milestone (win_met); criteria_met counts them (5: onboarding is done).';
COMMENT ON COLUMN @extschema@.onboarding_status.time_to_value IS
    'TTV: the first first_value milestone''s achieved_at minus started_at (0 when reached before the start); NULL until reached.';
COMMENT ON COLUMN @extschema@.onboarding_status.ttv_days IS 'time_to_value in days, one decimal.';
COMMENT ON COLUMN @extschema@.onboarding_status.activation_ratio IS
    'Distinct users active in the last 30 UTC days (any tracked source) / seats, a ratio (0-1, above 1 with more users than seats); NULL without seats.';
COMMENT ON COLUMN @extschema@.onboarding_status.feature_adoption_ratio IS
    'Share of csm.core_feature used since the account''s first event, a ratio (0-1); NULL while csm.core_feature is empty.';
COMMENT ON COLUMN @extschema@.onboarding_status.activation_rate IS 'Deprecated: use activation_ratio; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.onboarding_status.feature_adoption IS 'Deprecated: use feature_adoption_ratio; removed in 0.3.0.';
COMMENT ON COLUMN @extschema@.onboarding_status.nps IS
    'The account''s NPS over the answers since started_at: 100 x (promoters 9-10 - detractors 0-6) / answers; NULL without answers.';

-- Triggers: the facts of the account itself ---------------------------------------

-- Accounts inserted, or whose facts changed, are evaluated at once; an
-- UPDATE of lifecycle_stage by a person pins it (or, to NULL, unpins it).
-- csm's own update of the column is told apart by csm.account_lifecycle,
-- which csm writes first (and the bulk one of csm_internal._lifecycle_apply by the
-- transaction-local setting csm_lifecycle.writing, which skips this work).  On Citus, once, from the node the statement
-- was run from (csm_internal._origin()).
CREATE OR REPLACE FUNCTION csm_internal._lifecycle_account_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    changed bigint[];
    set_ids bigint[];
    set_statuses text[];
    set_stages @extschema@.lifecycle_stage[];
    held @extschema@.lifecycle_stage;
    one bigint;
BEGIN
    IF NOT csm_internal._origin() OR current_setting('csm_lifecycle.writing', true) = 'on' THEN
        RETURN NULL;
    END IF;
    -- (the transition tables are read into arrays before any query on
    -- csm's other tables: Citus cannot join them with distributed tables)
    IF TG_OP = 'INSERT' THEN
        -- On Citus new accounts are evaluated at commit instead
        -- (csm_internal._new_accounts_at_commit, 95_platform/96_new_accounts.sql).
        IF csm_internal._new_accounts_deferred(TG_RELID) THEN
            RETURN NULL;
        END IF;
        -- Accounts inserted with a created_at from before this transaction
        -- are history (a restore, an import): csm.refresh_lifecycle() takes them.
        changed := ARRAY(SELECT n.account_id FROM new_accounts n WHERE n.created_at >= now() ORDER BY n.account_id);
        SELECT array_agg(n.account_id ORDER BY n.account_id), array_agg(n.status ORDER BY n.account_id),
               array_agg(n.lifecycle_stage ORDER BY n.account_id)
        INTO set_ids, set_statuses, set_stages
        FROM new_accounts n WHERE n.lifecycle_stage IS NOT NULL AND n.created_at >= now();
    ELSE
        SELECT array_agg(n.account_id ORDER BY n.account_id), array_agg(n.status ORDER BY n.account_id),
               array_agg(n.lifecycle_stage ORDER BY n.account_id)
        INTO set_ids, set_statuses, set_stages
        FROM new_accounts n JOIN old_accounts o ON o.account_id = n.account_id
        WHERE n.lifecycle_stage IS DISTINCT FROM o.lifecycle_stage;
        changed := ARRAY(
            SELECT n.account_id FROM new_accounts n JOIN old_accounts o ON o.account_id = n.account_id
            WHERE (n.status, n.started_at, n.renewal_date, n.plan, n.segment, n.tier, n.arr, n.seats, n.properties,
                   n.external_id)
                  IS DISTINCT FROM
                  (o.status, o.started_at, o.renewal_date, o.plan, o.segment, o.tier, o.arr, o.seats, o.properties,
                   o.external_id)
            ORDER BY n.account_id);
    END IF;
    -- A person set (or emptied) the stage: pinned (or unpinned).  csm's
    -- own writes of the column match the state it wrote first.
    FOR i IN 1 .. coalesce(cardinality(set_ids), 0) LOOP
        one := set_ids[i];
        held := NULL;
        SELECT l.stage INTO held FROM @extschema@.account_lifecycle l WHERE l.account_id = one;
        CONTINUE WHEN set_stages[i] IS NOT DISTINCT FROM held AND TG_OP = 'UPDATE';
        IF set_stages[i] IS NULL THEN
            PERFORM csm_internal._unpin_stage(set_ids[i], 'manual stage cleared');
        ELSE
            PERFORM csm_internal._pin_stage(set_ids[i], set_statuses[i], set_stages[i], 'set by hand');
        END IF;
    END LOOP;
    IF cardinality(changed) > 0 THEN
        PERFORM csm_internal._lifecycle_apply(changed);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._lifecycle_account_changed() IS
    'Trigger: evaluates the lifecycle rules for accounts created (except history: a created_at before the transaction) or whose status, dates, plan, segment, tier, ARR, seats, properties or external_id changed; an UPDATE of lifecycle_stage pins the stage (to NULL: unpins it).';
CREATE OR REPLACE TRIGGER account_lifecycle_new AFTER INSERT ON @extschema@.account
    REFERENCING NEW TABLE AS new_accounts FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._lifecycle_account_changed();
CREATE OR REPLACE TRIGGER account_lifecycle_changed AFTER UPDATE ON @extschema@.account
    REFERENCING OLD TABLE AS old_accounts NEW TABLE AS new_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._lifecycle_account_changed();

-- On Citus, new accounts are evaluated when their transaction commits, all
-- of the transaction's at once (csm_internal._new_accounts_at_commit,
-- 95_platform/96_new_accounts.sql): a stage given with an account, and not
-- pinned since, is pinned, then the rules place the others.
CREATE OR REPLACE FUNCTION csm_internal._lifecycle_begin(accounts bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    given record;
BEGIN
    -- (few or none: the stage is read on the reference table first, and
    -- each candidate's state looked up on its shard)
    FOR given IN SELECT a.account_id, a.status, a.lifecycle_stage FROM @extschema@.account a
                 WHERE a.account_id = ANY (accounts) AND a.lifecycle_stage IS NOT NULL
                 ORDER BY a.account_id LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM @extschema@.account_lifecycle l WHERE l.account_id = given.account_id);
        PERFORM csm_internal._pin_stage(given.account_id, given.status, given.lifecycle_stage, 'set by hand');
    END LOOP;
    PERFORM csm_internal._lifecycle_apply(accounts);
END $$;
REVOKE ALL ON FUNCTION csm_internal._lifecycle_begin(bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._lifecycle_begin(bigint[]) IS
    'Internal, on Citus at commit: pins the stages given with these new accounts (unless pinned since) and evaluates the lifecycle rules for them.';
