-- Tables for the ingest benchmark (test/bench/run.sh).  Every event table
-- has the same shape; they differ only in what keeps the daily rollups:
--
--   ev_floor       nothing: PostgreSQL's floor
--   ev_csm         csm.track_usage(), the C statement trigger
--   ev_plstmt      the PL/pgSQL statement trigger with a transition table
--   ev_plrow       the obvious PL/pgSQL row trigger, one upsert per rollup
--   ev_floor_heap  the floor on a bare heap: no primary key, no index
--   ev_csm_heap    csm on a bare heap
--
-- The two PL/pgSQL baselines keep what csm keeps: events per account and
-- UTC day, distinct active users per account and day (through a user-day
-- table, as csm_internal.usage_user_day), and events per feature.  They key on the
-- account text directly, so they skip csm's account lookup.

CREATE SCHEMA bench;

CREATE TABLE bench.ev_floor (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_user_id text NOT NULL,
    user_id     text,
    event       text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX ON bench.ev_floor (org_user_id, occurred_at);

CREATE TABLE bench.ev_csm (LIKE bench.ev_floor INCLUDING ALL);
CREATE TABLE bench.ev_plstmt (LIKE bench.ev_floor INCLUDING ALL);
CREATE TABLE bench.ev_plrow (LIKE bench.ev_floor INCLUDING ALL);

CREATE TABLE bench.ev_floor_heap (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    org_user_id text NOT NULL,
    user_id     text,
    event       text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE TABLE bench.ev_csm_heap (LIKE bench.ev_floor_heap INCLUDING ALL);

SELECT csm.track_usage('bench.ev_csm', 'org_user_id', 'occurred_at', 'event', 'user_id');
SELECT csm.track_usage('bench.ev_csm_heap', 'org_user_id', 'occurred_at', 'event', 'user_id');

-- Rollups of the PL/pgSQL baselines: one set each.
CREATE FUNCTION bench.make_rollups(prefix text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE bench.%I (org_user_id text, day date, events bigint NOT NULL, '
                   'active_users bigint NOT NULL, PRIMARY KEY (org_user_id, day))', prefix || '_daily');
    EXECUTE format('CREATE TABLE bench.%I (org_user_id text, day date, user_id text, events bigint NOT NULL, '
                   'PRIMARY KEY (org_user_id, day, user_id))', prefix || '_user_day');
    EXECUTE format('CREATE TABLE bench.%I (org_user_id text, day date, feature text, events bigint NOT NULL, '
                   'PRIMARY KEY (org_user_id, day, feature))', prefix || '_feature_daily');
END $$;
SELECT bench.make_rollups('plrow'), bench.make_rollups('plstmt');

-- (b) The obvious row trigger: three upserts per inserted row.  A user is
-- newly active on a day when its user-day row is created.
CREATE FUNCTION bench.plrow_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d date := (NEW.occurred_at AT TIME ZONE 'UTC')::date;
    n bigint := 0;
BEGIN
    IF NEW.user_id IS NOT NULL THEN
        INSERT INTO bench.plrow_user_day AS u (org_user_id, day, user_id, events)
        VALUES (NEW.org_user_id, d, NEW.user_id, 1)
        ON CONFLICT (org_user_id, day, user_id) DO UPDATE SET events = u.events + 1
        RETURNING u.events INTO n;
    END IF;
    INSERT INTO bench.plrow_daily AS c (org_user_id, day, events, active_users)
    VALUES (NEW.org_user_id, d, 1, CASE WHEN n = 1 THEN 1 ELSE 0 END)
    ON CONFLICT (org_user_id, day) DO UPDATE
        SET events = c.events + 1, active_users = c.active_users + excluded.active_users;
    INSERT INTO bench.plrow_feature_daily AS f (org_user_id, day, feature, events)
    VALUES (NEW.org_user_id, d, NEW.event, 1)
    ON CONFLICT (org_user_id, day, feature) DO UPDATE SET events = f.events + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER plrow_rollup AFTER INSERT ON bench.ev_plrow
    FOR EACH ROW EXECUTE FUNCTION bench.plrow_rollup();

-- The statement trigger: one grouped upsert per rollup, in key order as csm
-- writes them.  A user is newly active when its count after the upsert
-- equals what this statement added.
CREATE FUNCTION bench.plstmt_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH ev AS (
        SELECT org_user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, user_id, event FROM new_rows
    ), user_in AS (
        SELECT org_user_id, day, user_id, count(*) AS n
        FROM ev WHERE user_id IS NOT NULL GROUP BY 1, 2, 3
    ), user_up AS (
        INSERT INTO bench.plstmt_user_day AS u (org_user_id, day, user_id, events)
        SELECT * FROM user_in ORDER BY 1, 2, 3
        ON CONFLICT (org_user_id, day, user_id) DO UPDATE SET events = u.events + excluded.events
        RETURNING u.org_user_id, u.day, u.user_id, u.events
    ), new_active AS (
        SELECT i.org_user_id, i.day, count(*) AS n
        FROM user_up u JOIN user_in i USING (org_user_id, day, user_id)
        WHERE u.events = i.n GROUP BY 1, 2
    ), feature_up AS (
        INSERT INTO bench.plstmt_feature_daily AS f (org_user_id, day, feature, events)
        SELECT org_user_id, day, event, count(*) FROM ev GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (org_user_id, day, feature) DO UPDATE SET events = f.events + excluded.events
    )
    INSERT INTO bench.plstmt_daily AS c (org_user_id, day, events, active_users)
    SELECT d.org_user_id, d.day, d.n, coalesce(a.n, 0)
    FROM (SELECT org_user_id, day, count(*) AS n FROM ev GROUP BY 1, 2) d
    LEFT JOIN new_active a USING (org_user_id, day)
    ORDER BY 1, 2
    ON CONFLICT (org_user_id, day) DO UPDATE
        SET events = c.events + excluded.events, active_users = c.active_users + excluded.active_users;
    RETURN NULL;
END $$;
CREATE TRIGGER plstmt_rollup AFTER INSERT ON bench.ev_plstmt
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bench.plstmt_rollup();

-- Empties an event table and its rollups, so every timed run starts alike.
-- Autovacuum is off while the benchmark runs, so csm.account gets the
-- statistics autovacuum would give it in production here.
CREATE FUNCTION bench.reset(t text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    ANALYZE csm.account;
    CASE t
    WHEN 'csm', 'csm_heap' THEN
        -- every rollup table csm has (counters, user-days, pending deltas)
        EXECUTE format('TRUNCATE bench.%I', 'ev_' || t)
             || (SELECT string_agg(', ' || c.oid::regclass::text, '')
                 FROM pg_class c
                 WHERE c.relnamespace = 'csm_internal'::regnamespace AND c.relkind = 'r'
                   AND c.relname LIKE 'usage\_%' AND c.relname <> 'usage_source');
    WHEN 'plrow', 'plstmt' THEN
        EXECUTE format('TRUNCATE bench.%I, bench.%I, bench.%I, bench.%I',
                       'ev_' || t, t || '_daily', t || '_user_day', t || '_feature_daily');
    ELSE
        EXECUTE format('TRUNCATE bench.%I', 'ev_' || t);
    END CASE;
END $$;

-- Folds csm's pending deltas into its counters, when this csm defers
-- folding (csm.compact_usage()); NULL when it folds as it writes.
CREATE FUNCTION bench.fold() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF to_regprocedure('csm.compact_usage()') IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN csm.compact_usage();
END $$;

-- What a table's rollups say, per account and day, and what they should say.
CREATE FUNCTION bench.rollup_daily(t text)
RETURNS TABLE (org_user_id text, day date, events bigint, active_users bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF t IN ('csm', 'csm_heap') THEN
        RETURN QUERY SELECT u.external_id, u.day, u.events, u.active_users
                     FROM csm.usage_daily u
                     WHERE u.source = (SELECT coalesce(s.source_name, s.relation::text) FROM csm.usage_source s
                                       WHERE s.relation = format('bench.%I', 'ev_' || t)::regclass);
    ELSIF t IN ('plrow', 'plstmt') THEN
        RETURN QUERY EXECUTE format('SELECT org_user_id, day, events, active_users FROM bench.%I', t || '_daily');
    END IF;
END $$;

CREATE FUNCTION bench.rollup_features(t text)
RETURNS TABLE (org_user_id text, day date, feature text, events bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF t IN ('csm', 'csm_heap') THEN
        RETURN QUERY SELECT u.external_id, u.day, u.feature, u.events
                     FROM csm.usage_feature_daily u
                     WHERE u.source = (SELECT coalesce(s.source_name, s.relation::text) FROM csm.usage_source s
                                       WHERE s.relation = format('bench.%I', 'ev_' || t)::regclass);
    ELSIF t IN ('plrow', 'plstmt') THEN
        RETURN QUERY EXECUTE format('SELECT org_user_id, day, feature, events FROM bench.%I', t || '_feature_daily');
    END IF;
END $$;

-- Rows in the table and events in its daily rollup: the check after every run.
CREATE FUNCTION bench.counts(t text, OUT table_rows bigint, OUT rollup_events bigint)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT count(*) FROM bench.%I', 'ev_' || t) INTO table_rows;
    SELECT coalesce(sum(r.events), 0) INTO rollup_events FROM bench.rollup_daily(t) r;
END $$;

-- Account-days and account-day-features whose rollup differs from the rows.
CREATE FUNCTION bench.mismatches(t text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    bad_days bigint;
    bad_features bigint;
BEGIN
    EXECUTE format($q$
        SELECT count(*)
        FROM (SELECT org_user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day,
                     count(*) AS events, count(DISTINCT user_id) AS active_users
              FROM bench.%I GROUP BY 1, 2) e
        FULL JOIN bench.rollup_daily(%L) r USING (org_user_id, day)
        WHERE e.events IS DISTINCT FROM r.events OR e.active_users IS DISTINCT FROM r.active_users
        $q$, 'ev_' || t, t) INTO bad_days;
    EXECUTE format($q$
        SELECT count(*)
        FROM (SELECT org_user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, event AS feature,
                     count(*) AS events
              FROM bench.%I GROUP BY 1, 2, 3) e
        FULL JOIN bench.rollup_features(%L) r USING (org_user_id, day, feature)
        WHERE e.events IS DISTINCT FROM r.events
        $q$, 'ev_' || t, t) INTO bad_features;
    RETURN bad_days + bad_features;
END $$;

-- The source events, materialised once: from csm_demo.generate_events()
-- (test/data/portfolio.sql) when it is loaded, sized to reach the wanted
-- rows, else a deterministic synthetic day.  Rows come in time order, as an
-- event log arrives.  Returns where they came from.
CREATE FUNCTION bench.make_source(wanted integer, as_of date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    gen regprocedure := to_regprocedure('csm_demo.generate_events(integer, integer, date, integer)');
    probe bigint;
    accounts integer := 2000;
    days integer;
    got bigint;
BEGIN
    CREATE TABLE bench.src (org_user_id text NOT NULL, user_id text, event text NOT NULL,
                            occurred_at timestamptz NOT NULL);
    IF gen IS NOT NULL THEN
        -- events in a week of the portfolio (weekends are quiet), then
        -- whole weeks until there are enough
        SELECT count(*) INTO probe FROM csm_demo.generate_events(accounts, 7, as_of);
        IF probe > 0 THEN
            days := 7 * ceil(1.1 * wanted / probe);
            IF days > 364 THEN
                accounts := ceil(accounts * days / 364.0);
                days := 364;
            END IF;
            INSERT INTO bench.src
            SELECT g.org_user_id, g.user_id, g.event, g.occurred_at
            FROM csm_demo.generate_events(accounts, days, as_of) g
            ORDER BY g.occurred_at, g.org_user_id, g.user_id, g.event
            LIMIT wanted;
            GET DIAGNOSTICS got = ROW_COUNT;
            IF got = wanted THEN
                RETURN format('csm_demo.generate_events(%s, %s, %L), the first %s rows by time',
                              accounts, days, as_of, wanted);
            END IF;
            TRUNCATE bench.src;
        END IF;
        RAISE WARNING 'csm_demo.generate_events() gave too few rows; using the synthetic fallback';
    END IF;
    -- 2000 accounts (skewed: big accounts send more), 20 users each, 12
    -- features (skewed), evenly over one UTC day.
    INSERT INTO bench.src
    SELECT 'org-' || a, 'org-' || a || '-user-' || u,
           (ARRAY['login', 'dashboard_view', 'report_export', 'search', 'invite_user', 'api_call',
                  'settings_change', 'integration_sync', 'comment', 'file_upload', 'billing_view',
                  'alert_ack'])[1 + f],
           (as_of::timestamp AT TIME ZONE 'UTC') + i * (interval '1 day' / wanted)
    FROM (SELECT i,
                 floor(2000 * power(((i * 2654435761) % 4294967296) / 4294967296.0, 2))::int AS a,
                 ((i * 40503) % 65521) % 20 AS u,
                 floor(12 * power(((i * 97) % 1009) / 1009.0, 1.5))::int AS f
          FROM generate_series(0::bigint, wanted - 1) AS i) s;
    RETURN format('synthetic: %s rows, 2000 accounts x 20 users, 12 features, over %s UTC', wanted, as_of);
END $$;

-- Sources of the density sweep: ROWS events spread uniformly (and
-- deterministically) over ACCOUNTS accounts x USERS users each x DAYS UTC
-- days x FEATURES features, in time order, as bench.src_NAME.  Returns the
-- rollup rows (account-days, user-days and account-day-features) per event.
-- The caller vacuums the table (VACUUM cannot run in a function).
CREATE FUNCTION bench.make_density(name text, wanted integer, accounts integer, users integer, days integer,
                                   features integer, as_of date) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    rollup_rows bigint;
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS bench.%I', 'src_' || name);
    EXECUTE format($q$
        CREATE TABLE bench.%I AS
        SELECT 'org-' || a AS org_user_id, 'org-' || a || '-user-' || u AS user_id, 'feature-' || f AS event,
               (%L::timestamp AT TIME ZONE 'UTC') - d * interval '1 day' + s * interval '1 second' AS occurred_at
        FROM (SELECT abs(hashint8extended(i, 1)) %% %s AS a, abs(hashint8extended(i, 2)) %% %s AS u,
                     abs(hashint8extended(i, 3)) %% %s AS d, abs(hashint8extended(i, 4)) %% %s AS f,
                     abs(hashint8extended(i, 5)) %% 86400 AS s
              FROM generate_series(1::bigint, %s) AS i) g
        ORDER BY occurred_at, org_user_id, user_id$q$,
        'src_' || name, as_of, accounts, users, days, features, wanted);
    EXECUTE format($q$
        SELECT (SELECT count(*) FROM (SELECT DISTINCT org_user_id, (occurred_at AT TIME ZONE 'UTC')::date FROM bench.%1$I) x)
             + (SELECT count(*) FROM (SELECT DISTINCT org_user_id, (occurred_at AT TIME ZONE 'UTC')::date, user_id FROM bench.%1$I) x)
             + (SELECT count(*) FROM (SELECT DISTINCT org_user_id, (occurred_at AT TIME ZONE 'UTC')::date, event FROM bench.%1$I) x)$q$,
        'src_' || name) INTO rollup_rows;
    RETURN round(rollup_rows::numeric / wanted, 3);
END $$;
