-- (over an install that has rules of its own, as when an upgrade runs this
-- file again, the sequence is left where it is)
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('@extschema@.segment_rule', 'rule_id'), 100, false)
WHERE NOT EXISTS (SELECT FROM @extschema@.segment_rule r WHERE r.rule_id OPERATOR(pg_catalog.>=) 100);

-- A changed built-in row is the user's: builtin becomes false, so that
-- pg_dump keeps it.  On restore its row meets the one CREATE EXTENSION made
-- (same key): the insert updates that one instead.  The table comes as the
-- argument: on Citus, TG_TABLE_NAME is a shard's name.
CREATE OR REPLACE FUNCTION csm_internal._segment_config_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    seeded boolean;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.builtin AND NEW.builtin AND to_jsonb(NEW) IS DISTINCT FROM to_jsonb(OLD) THEN
            NEW.builtin := false;
        END IF;
        RETURN NEW;
    END IF;
    -- INSERT of a user's row over an unchanged built-in one (a restore).
    -- On Citus this fires on every node's copy, fed the same rows in the
    -- same order: each node reads and updates only its own copy
    -- (csm_internal._local_copy(), see 40_health.sql), so all decide alike, and no
    -- distributed query runs from a trigger (a multi-row insert is a COPY
    -- to every node: "another command is already in progress").
    IF TG_ARGV[0] = 'segment' THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s s WHERE s.name = $1 AND s.builtin)',
                       csm_internal._local_copy('@extschema@.segment'))
            INTO seeded USING NEW.name;
    ELSE
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s r WHERE r.rule_id = $1 AND r.builtin)',
                       csm_internal._local_copy('@extschema@.segment_rule'))
            INTO seeded USING NEW.rule_id;
    END IF;
    IF seeded AND NOT NEW.builtin THEN
        IF TG_ARGV[0] = 'segment' THEN
            EXECUTE format('UPDATE %s s SET csm_ratio = $2, touch_model = $3, review_cadence = $4, '
                           'description = $5, builtin = false WHERE s.name = $1 AND s.builtin',
                           csm_internal._local_copy('@extschema@.segment'))
                USING NEW.name, NEW.csm_ratio, NEW.touch_model, NEW.review_cadence, NEW.description;
        ELSE
            EXECUTE format('UPDATE %s r SET priority = $2, segment = $3, condition = $4, enabled = $5, '
                           'description = $6, builtin = false WHERE r.rule_id = $1 AND r.builtin',
                           csm_internal._local_copy('@extschema@.segment_rule'))
                USING NEW.rule_id, NEW.priority, NEW.segment, NEW.condition, NEW.enabled, NEW.description;
        END IF;
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION csm_internal._segment_config_changed() IS
    'Trigger: a changed built-in csm.segment or csm.segment_rule row stops being built-in (so pg_dump keeps it); inserting a row with the key of an unchanged built-in one (a restore) updates that one.';
CREATE OR REPLACE TRIGGER segment_config_changed BEFORE INSERT OR UPDATE ON @extschema@.segment
    FOR EACH ROW EXECUTE FUNCTION csm_internal._segment_config_changed('segment');
CREATE OR REPLACE TRIGGER segment_rule_config_changed BEFORE INSERT OR UPDATE ON @extschema@.segment_rule
    FOR EACH ROW EXECUTE FUNCTION csm_internal._segment_config_changed('segment_rule');

-- What segment rules read about an account.
CREATE OR REPLACE FUNCTION csm_internal._segment_facts(arr numeric, seats integer, plan text, tier text, external_id text,
                                           properties jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN pg_catalog.jsonb_build_object('arr', arr, 'seats', seats, 'plan', plan, 'tier', tier,
                                     'external_id', external_id, 'properties', properties);
COMMENT ON FUNCTION csm_internal._segment_facts(numeric, integer, text, text, text, jsonb) IS
    'Internal: the facts segment rules read about an account, as a JSON object.';

-- The derived segment: the first enabled rule that matches.
CREATE OR REPLACE FUNCTION csm_internal._segment_rule_for(facts jsonb, OUT rule_id bigint, OUT segment text)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    SELECT r.rule_id, r.segment INTO rule_id, segment FROM @extschema@.segment_rule r
    WHERE r.enabled AND @extschema@.condition_matches(r.condition, facts)
    ORDER BY r.priority, r.rule_id LIMIT 1;
END $$;
COMMENT ON FUNCTION csm_internal._segment_rule_for(jsonb) IS
    'Internal: the first enabled csm.segment_rule (by priority, then rule_id) whose condition matches the facts, and its segment; NULLs when none does.';

CREATE OR REPLACE FUNCTION @extschema@.segment_for(facts jsonb) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (csm_internal._segment_rule_for(facts)).segment;
END $$;
COMMENT ON FUNCTION @extschema@.segment_for(jsonb) IS
    'The segment csm.segment_rule gives an account with these facts (a JSON object such as {"arr": 500000, "seats": 10, "plan": "pro", "properties": {}}): the first enabled rule by priority whose condition matches; NULL when none does.';

-- Before a row is written: derive the segment unless it is manual, mark a
-- segment set by hand as manual, and name the known segments in the error
-- when it is unknown (the foreign key would refuse it too, less readably).
-- In C (src/segment.c): it runs once per account written, and reads the
-- rules once per statement, as csm's owner (any role allowed to insert an
-- account has it segmented), under a pinned search_path.  The rules:
--   INSERT without a segment: derived.
--   INSERT with one: manual, unless segment_manual is not true and it is
--     what the rules give (an import that copies it, or a restore of a
--     derived row: pg_dump restores the rules first, account_segment_rule_fkey).
--   UPDATE to another segment: manual; to NULL: derived again.
--   Otherwise (arr, seats, plan, tier, external_id or properties changed,
--     or segment_manual set): derived again unless manual.
-- On Citus this fires on every node's copy of csm.account and gives each
-- the same answer: it reads only the row and this node's copies of
-- csm.segment_rule and csm.segment, reference tables.
CREATE OR REPLACE FUNCTION csm_internal._account_segment() RETURNS trigger
AS 'MODULE_PATHNAME', 'csm_account_segment'
LANGUAGE C;
REVOKE ALL ON FUNCTION csm_internal._account_segment() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._account_segment() IS
    'Trigger: derives csm.account.segment (and segment_rule_id) from csm.segment_rule unless it is manual, marks a segment set by hand as manual, and refuses an unknown segment (23503) with the known names.';
CREATE OR REPLACE TRIGGER account_segment BEFORE INSERT OR UPDATE OF segment, segment_manual, arr, seats, plan, tier, external_id, properties
    ON @extschema@.account FOR EACH ROW EXECUTE FUNCTION csm_internal._account_segment();

-- The rule the trigger would pick for an account with these columns, in C
-- (src/segment.c) with the rules read once per query, for refresh_segments.
-- Reads csm.segment_rule as its owner (like the trigger), pinned in C.
CREATE OR REPLACE FUNCTION csm_internal._segment_rule_of(arr numeric, seats integer, plan text, tier text, external_id text,
                                             properties jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'csm_segment_rule_of'
LANGUAGE C STABLE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION csm_internal._segment_rule_of(numeric, integer, text, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._segment_rule_of(numeric, integer, text, text, text, jsonb) IS
    'Internal: the rule_id of the first enabled csm.segment_rule matching an account with these columns (NULL when none), for csm.refresh_segments; in C, the rules read once per query.';

-- A segment by hand, or back to the rules.
CREATE OR REPLACE FUNCTION @extschema@.set_segment(org_user_id text, segment text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    account bigint;
    result text;
BEGIN
    PERFORM csm_internal._require('operate');
    IF org_user_id IS NULL THEN
        RAISE EXCEPTION 'org_user_id must not be NULL' USING ERRCODE = '22004';
    END IF;
    account := csm_internal._account_id(org_user_id);
    IF segment IS NULL THEN
        UPDATE @extschema@.account a SET segment_manual = false WHERE a.account_id = account
        RETURNING a.segment INTO result;
    ELSE
        UPDATE @extschema@.account a SET segment = set_segment.segment, segment_manual = true WHERE a.account_id = account
        RETURNING a.segment INTO result;
    END IF;
    RETURN result;
END $$;
COMMENT ON FUNCTION @extschema@.set_segment(text, text) IS
    'Sets an account''s (external_id) segment by hand (it sticks: segment_manual), or with NULL gives it back to csm.segment_rule; returns the segment now in effect. A change of segment re-runs the routing rules, as any change of csm.account.segment does. Errors: P0002 unknown account, 23503 unknown segment, 22004 NULL org_user_id, 42501 without the operate level (csm.grant_access).';

-- After rules change: every derived segment again, set-based.  The rows
-- to change are found first (one query over csm.account and the rules);
-- the update then lets the trigger derive each one (segment_manual =
-- false on a derived row), so both paths give the same answer.
CREATE OR REPLACE FUNCTION @extschema@.refresh_segments() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    stale bigint[];
    changed bigint := 0;
    started constant timestamptz := clock_timestamp();
BEGIN
    PERFORM csm_internal._require('operate');
    stale := ARRAY(
        SELECT a.account_id FROM @extschema@.account a
        LEFT JOIN @extschema@.segment_rule d
               ON d.rule_id = csm_internal._segment_rule_of(a.arr, a.seats, a.plan, a.tier, a.external_id, a.properties)
        WHERE NOT a.segment_manual AND (a.segment, a.segment_rule_id) IS DISTINCT FROM (d.segment, d.rule_id)
        ORDER BY a.account_id);
    IF cardinality(stale) > 0 THEN
        UPDATE @extschema@.account a SET segment_manual = false WHERE a.account_id = ANY (stale);
        GET DIAGNOSTICS changed = ROW_COUNT;
    END IF;
    PERFORM csm_internal._run_finished('segments', started, changed);
    RETURN changed;
END $$;
COMMENT ON FUNCTION @extschema@.refresh_segments() IS
    'Derives again the segment of every account whose segment is not manual, after csm.segment_rule changed; returns how many accounts changed segment or deciding rule (segment_rule_id); those that changed segment have their routing rules re-run, as on any change of segment. Idempotent; schedule it with pg_cron if rules read properties that change. Errors: 42501 without the operate level (csm.grant_access).';

-- Coverage per segment: how many CSMs the ratio asks for against the
-- primaries the members carry.
CREATE OR REPLACE VIEW @extschema@.segment_coverage WITH (security_invoker = true) AS
SELECT s.name AS segment, s.csm_ratio, s.touch_model, s.review_cadence,
       count(a.account_id) AS accounts,
       count(a.account_id) FILTER (WHERE a.segment_manual) AS manual,
       count(p.account_id) AS with_primary,
       count(a.account_id) - count(p.account_id) AS without_primary,
       round(count(a.account_id) / coalesce(w.accounts_per_csm, s.csm_ratio), 2) AS csms_needed,
       coalesce(sum(a.arr), 0) AS arr
FROM @extschema@.segment s
LEFT JOIN @extschema@.segment_weight w ON w.segment = s.name
LEFT JOIN @extschema@.account a ON a.segment = s.name AND a.status = 'active'
LEFT JOIN @extschema@.account_assignment p ON p.account_id = a.account_id AND p.is_primary AND p.ended_at IS NULL
GROUP BY s.name, w.accounts_per_csm;
COMMENT ON VIEW @extschema@.segment_coverage IS
    'Per segment: ratio, touch model, review cadence, active accounts (manual: segment set by hand), with and without a primary CSM, the CSMs the ratio asks for (accounts / csm_ratio) and the ARR.';
