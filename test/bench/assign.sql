-- Tables and functions for test/bench/assign.sh: the plain PL/pgSQL
-- assignment most teams write (the baseline), the bare UPDATE that is
-- PostgreSQL's floor, and csm's pool, each over the same 8 members and the
-- same accounts ('acct_1' .. 'acct_N').
CREATE SCHEMA bench;

-- The baseline: members with a load column, accounts with an owner.
CREATE TABLE bench.member (
    member_id integer PRIMARY KEY,
    handle    text NOT NULL UNIQUE,
    load      integer NOT NULL DEFAULT 0
);
CREATE TABLE bench.account (
    account_id  bigint PRIMARY KEY,
    external_id text NOT NULL UNIQUE,
    owner       integer REFERENCES bench.member (member_id)
);

-- One lock for the whole pool, the least loaded member, two UPDATEs.
CREATE FUNCTION bench.baseline_assign(org text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    picked integer;
BEGIN
    PERFORM pg_advisory_xact_lock(20240630);
    SELECT m.member_id INTO picked FROM bench.member m ORDER BY m.load, m.member_id LIMIT 1;
    UPDATE bench.member SET load = load + 1 WHERE member_id = picked;
    UPDATE bench.account SET owner = picked WHERE external_id = org;
    RETURN picked;
END $$;

-- The baseline for csm_assign: csm 0.1.0's PL/pgSQL csm.csm_assign, kept
-- verbatim (but for its name and schema) so that the C one is measured
-- against it.  It calls the same internal functions (csm_internal._lock_member and
-- the rest), so it takes the same locks.
CREATE FUNCTION bench.csm_assign_plpgsql(org_user_id text, assign_to text, is_primary boolean DEFAULT true,
                                         reason text DEFAULT NULL)
RETURNS csm.assignment_result
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    account bigint;
    member csm.team_member;
    current_primary csm.account_assignment;
    existing csm.account_assignment;
    room float8;
    weight float8;
    tenure interval;
    rule_name text;
    result csm.assignment_result := (false, assign_to, is_primary, org_user_id, NULL);
BEGIN
    IF org_user_id IS NULL OR assign_to IS NULL OR is_primary IS NULL THEN
        RAISE EXCEPTION 'org_user_id, assign_to and is_primary must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    account := csm_internal._account_id(org_user_id);
    member := csm_internal._member(assign_to);
    IF NOT member.active THEN
        result.message := format('%s is inactive', assign_to);
        RETURN result;
    END IF;

    PERFORM csm_internal._lock_account(account);
    -- Wait out other assignments to (or a release of) this member, then look again.
    PERFORM csm_internal._lock_member(member.member_id);
    IF NOT (SELECT t.active FROM csm.team_member t WHERE t.member_id = member.member_id) THEN
        result.message := format('%s is inactive', assign_to);
        RETURN result;
    END IF;
    SELECT * INTO current_primary FROM csm.account_assignment a
    WHERE a.account_id = account AND a.is_primary AND a.ended_at IS NULL;
    SELECT * INTO existing FROM csm.account_assignment a
    WHERE a.account_id = account AND a.member_id = member.member_id AND a.ended_at IS NULL;

    IF existing.assignment_id IS NOT NULL AND (existing.is_primary OR NOT csm_assign_plpgsql.is_primary) THEN
        result := (true, assign_to, existing.is_primary, org_user_id,
                   CASE WHEN existing.is_primary THEN 'already the primary CSM' ELSE 'already a secondary CSM' END);
        RETURN result;
    END IF;

    IF is_primary AND current_primary.assignment_id IS NOT NULL AND current_primary.rule_id IS NOT NULL THEN
        SELECT r.min_tenure, r.name INTO tenure, rule_name FROM csm.routing_rule r
        WHERE r.rule_id = current_primary.rule_id;
        IF current_primary.started_at > now() - tenure THEN
            result.message := format('continuity: rule %s keeps the primary it assigned for %s', rule_name, tenure);
            RETURN result;
        END IF;
    END IF;

    -- A secondary promoted to primary already carries the account's load.
    weight := csm.segment_load((SELECT a.segment FROM csm.account a WHERE a.account_id = account));
    IF existing.assignment_id IS NULL AND member.capacity IS NOT NULL THEN
        room := member.capacity - coalesce((SELECT l.load FROM csm_internal.member_load l
                                            WHERE l.member_id = member.member_id), 0);
        IF room + 1e-9 < weight THEN
            result.message := format('%s is at capacity (%s of %s load units in use)', assign_to,
                                     round((member.capacity - room)::numeric, 2), member.capacity);
            RETURN result;
        END IF;
    END IF;

    IF existing.assignment_id IS NOT NULL THEN
        PERFORM csm_internal._end_assignment(account, existing.assignment_id, 'promoted to primary');
    END IF;
    IF is_primary AND current_primary.assignment_id IS NOT NULL THEN
        PERFORM csm_internal._end_assignment(account, current_primary.assignment_id,
                                            coalesce(reason, format('replaced by %s', assign_to)));
    END IF;
    PERFORM csm_internal._start_assignment(account, member.member_id, is_primary,
                                          CASE WHEN existing.assignment_id IS NOT NULL THEN existing.load ELSE weight END,
                                          reason, NULL,
                                          CASE WHEN existing.assignment_id IS NOT NULL THEN 'promote' ELSE 'assign' END,
                                          CASE WHEN is_primary THEN current_primary.member_id END);
    result := (true, assign_to, is_primary, org_user_id,
               CASE WHEN NOT is_primary THEN 'assigned as a secondary CSM'
                    WHEN current_primary.assignment_id IS NULL THEN 'assigned as the primary CSM'
                    ELSE format('assigned as the primary CSM, replacing %s',
                                (SELECT t.handle FROM csm.team_member t WHERE t.member_id = current_primary.member_id))
               END);
    RETURN result;
END $$;

-- The floor: the same accounts, no foreign key, no choosing (the owner is
-- the account number modulo 8, a perfect split).
CREATE TABLE bench.floor_account (
    account_id  bigint PRIMARY KEY,
    external_id text NOT NULL UNIQUE,
    owner       integer
);

-- Each path hands every account out once, in order.
CREATE SEQUENCE bench.floor_next;
CREATE SEQUENCE bench.baseline_next;
CREATE SEQUENCE bench.csm_next;

-- make_data(n, strategy): 8 members on each side, n accounts in each
-- table, and csm's rule for team pool (made after the accounts, so that
-- the insert trigger routes none of them).  Each side also has a book of n
-- accounts the members already own ('book_1' .. 'book_N', evenly), as a
-- team in steady state does: its tables are not empty when plans are made,
-- and statistics describe them.
CREATE FUNCTION bench.make_data(n integer, strategy text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench.member (member_id, handle) SELECT i, 'm' || i FROM generate_series(1, 8) i;
    -- (room for every account: a NULL capacity would be a full book of 100 SMB accounts)
    INSERT INTO csm.team_member (handle, teams, capacity) SELECT 'm' || i, ARRAY['pool'], 1000000 FROM generate_series(1, 8) i;
    INSERT INTO csm.account (external_id, segment) SELECT 'acct_' || i, 'smb' FROM generate_series(1, n) i;
    INSERT INTO csm.account (external_id, segment) SELECT 'book_' || i, 'smb' FROM generate_series(1, n) i;
    INSERT INTO csm.routing_rule (name, target_kind, target, strategy) VALUES ('pool', 'team', 'pool', strategy);
    PERFORM bench.reset(p, n) FROM unnest(ARRAY['floor', 'baseline', 'csm']) p;
    RETURN format('8 members, %s accounts, csm rule %s', n, strategy);
END $$;

-- reset(path, n): no account of this path has an owner, no member any load.
CREATE FUNCTION bench.reset(path text, n integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CASE path
    WHEN 'floor' THEN
        TRUNCATE bench.floor_account;
        INSERT INTO bench.floor_account SELECT i, 'acct_' || i FROM generate_series(1, n) i;
        PERFORM setval('bench.floor_next', 1, false);
    WHEN 'baseline' THEN
        TRUNCATE bench.account;
        INSERT INTO bench.account SELECT i, 'acct_' || i FROM generate_series(1, n) i;
        INSERT INTO bench.account SELECT n + i, 'book_' || i, 1 + i % 8 FROM generate_series(1, n) i;
        UPDATE bench.member m SET load = (SELECT count(*) FROM bench.account a WHERE a.owner = m.member_id);
        PERFORM setval('bench.baseline_next', 1, false);
    WHEN 'csm' THEN
        -- As the tables' owner, who may empty the append-only log.
        TRUNCATE csm.account_assignment, csm.assignment_log, csm.assignment_alert;
        DELETE FROM csm_internal.member_load;
        INSERT INTO csm.account_assignment (account_id, member_id, is_primary, load, reason, rule_id)
        SELECT a.account_id, m.member_id, true, 1, 'book', r.rule_id
        FROM csm.account a
        JOIN csm.team_member m ON m.handle = 'm' || (1 + substr(a.external_id, 6)::integer % 8)
        CROSS JOIN (SELECT rule_id FROM csm.routing_rule WHERE name = 'pool') r
        WHERE a.external_id LIKE 'book\_%';
        INSERT INTO csm.assignment_log (account_id, action, is_primary, new_member_id, reason, rule_id)
        SELECT account_id, 'assign', true, member_id, reason, rule_id FROM csm.account_assignment;
        INSERT INTO csm_internal.member_load (member_id, accounts, primaries, load, pick_seq, last_assigned_at)
        SELECT member_id, count(*), count(*), count(*), row_number() OVER (ORDER BY member_id), now()
        FROM csm.account_assignment GROUP BY member_id;
        PERFORM setval('bench.csm_next', 1, false);
    END CASE;
END $$;

-- outcome(path): accounts with an owner, and the spread of accounts per
-- member (max - min, over all 8, recounted from the accounts).
CREATE FUNCTION bench.outcome(path text, OUT assigned bigint, OUT spread bigint, OUT per_member text)
LANGUAGE plpgsql AS $$
BEGIN
    CASE path
    WHEN 'floor' THEN
        SELECT sum(c), max(c) - min(c), string_agg(c::text, ' ' ORDER BY m) INTO assigned, spread, per_member
        FROM (SELECT m, count(a.owner) AS c FROM generate_series(1, 8) m
              LEFT JOIN bench.floor_account a ON a.owner = m GROUP BY m) s;
    WHEN 'baseline' THEN
        SELECT sum(c), max(c) - min(c), string_agg(c::text, ' ' ORDER BY member_id) INTO assigned, spread, per_member
        FROM (SELECT m.member_id, count(a.owner) AS c FROM bench.member m
              LEFT JOIN bench.account a ON a.owner = m.member_id AND a.external_id LIKE 'acct\_%'
              GROUP BY m.member_id) s;
    WHEN 'csm' THEN
        SELECT sum(c), max(c) - min(c), string_agg(c::text, ' ' ORDER BY member_id) INTO assigned, spread, per_member
        FROM (SELECT m.member_id, count(x.account_id) AS c FROM csm.team_member m
              LEFT JOIN (csm.account_assignment x JOIN csm.account a ON a.account_id = x.account_id
                                                                  AND a.external_id LIKE 'acct\_%')
                     ON x.member_id = m.member_id AND x.is_primary AND x.ended_at IS NULL
              GROUP BY m.member_id) s;
    END CASE;
END $$;
