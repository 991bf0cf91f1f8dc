-- test/data/portfolio.sql: a deterministic demo portfolio for csm.
--
--   psql -v ON_ERROR_STOP=1 -f test/data/portfolio.sql    (in a database with CREATE EXTENSION csm)
--   SELECT csm_demo.load();                                (2000 accounts, 180 days ending today)
--
-- This script only creates schema csm_demo, its event table and functions;
-- it loads nothing. Running it again replaces the functions and keeps data.
--
-- Every random number is a hash of (seed, account, day, user, event), mapped
-- to [0,1), never random(): the output is the same whatever the plan, the
-- parallelism or the order rows are read in, and generating a window of days
-- gives exactly the events of those days in a longer run (the CRM and billing
-- records below are spread over the days loaded).
--
-- Account shapes (properties->>'shape'):
--   healthy    steady use, most features, NPS mostly 8-10
--   hot        heavy use, many events per user (API traffic), NPS 9-10
--   declining  use falls over the last 3-6 weeks to 20-45% of normal
--   churning   use falls over 3-8 weeks to near zero; about half have churned
--              already (status 'churned', no usage for the last 3-11 weeks)
--   new        started 1-11 weeks ago, use ramps up over 2-4 weeks
--
-- What the CRM and billing know, over the same days (csm's churn signal
-- inputs; csm_demo._relations has the rates):
--   stakeholders  an executive sponsor and a champion (both key), an admin
--                 and two to four users per account, from its start; some
--                 leave, and a departed sponsor or champion may be replaced
--   payments      a monthly invoice of ARR / 12, paid a few days after it
--                 falls due; some paid late, failed or disputed
--   notes         routine CSM notes; competitor mentions, budget concerns,
--                 escalations, org changes, implementation delays, and
--                 expansion discussions (healthy and hot accounts mostly)
--   engagement    a monthly meeting (and a quarterly business review for
--                 enterprise and strategic accounts), attended or not; an
--                 outbound email every two weeks, answered or not; some
--                 inbound emails and calls
-- Trouble follows the shape in time: churning accounts have most of it, in
-- the weeks their use falls (and up to a month before), though a quarter of
-- them churn with no warning at all; declining accounts have less; the
-- others a little, as false alarms.  Nothing falls before an account's
-- start, on or after its churn day, or after as_of.
--
-- Volume: every active user has at least one event on each day it is
-- active, so csm.account_metrics.dau_ratio is counted from real user-days.
-- The load time is bound by csm's rollup, which writes a row per account-day,
-- user-day and feature-day; a user per seat would be about 30 times the
-- rows. So events are generated for a panel of at most csm_demo.max_users
-- users per account (default 6): accounts with up to 6 seats (about a third
-- of them, all SMB) show their true dau_ratio by shape, larger accounts a
-- dau_ratio scaled down by 6 / seats (their panel users make up to twice as
-- many events instead). SET csm_demo.max_users = 1000000 before generating
-- for a full-fidelity portfolio (at a few hundred accounts, say). The volume
-- per account does not depend on the number of accounts, so
-- load(accounts => 100000, days => 7) keeps the shape of the portfolio.
--
-- load() returns one line; it raises NOTICEs with its progress.

CREATE SCHEMA IF NOT EXISTS csm_demo;
COMMENT ON SCHEMA csm_demo IS 'Demo portfolio for csm: a product event table and a deterministic generator (test/data/portfolio.sql).';

CREATE TABLE IF NOT EXISTS csm_demo.events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_user_id text NOT NULL,
    user_id     text,
    event       text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS events_org_user_id_occurred_at_idx
    ON csm_demo.events (org_user_id, occurred_at);
COMMENT ON TABLE csm_demo.events IS
    'The product''s own event table, as an application would have it; csm.track_usage() rolls it up.';

-- Random numbers ---------------------------------------------------------

-- A hash mapped to [0,1) through its low 32 bits. The high half of
-- hashint8extended() is visibly correlated between neighbouring keys (about
-- 0.06); the low half is not. Every draw below takes its own hash.
CREATE OR REPLACE FUNCTION csm_demo._unit(h bigint) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT (h & 4294967295)::float8 / 4294967296.0 $$;
COMMENT ON FUNCTION csm_demo._unit(bigint) IS 'Maps a 64-bit hash to [0,1).';

-- The salt-th random number of account n.
CREATE OR REPLACE FUNCTION csm_demo._rand(n bigint, salt integer, seed integer) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT csm_demo._unit(hashint8extended(n * 256 + salt, seed)) $$;
COMMENT ON FUNCTION csm_demo._rand(bigint, integer, integer) IS 'Deterministic uniform [0,1) for (account, salt, seed).';

-- How many users of an account events are generated for: at most
-- csm_demo.max_users (default 6), so the volume per account stays bounded.
-- Set it high (SET csm_demo.max_users = 100000) for a full-fidelity, much
-- slower portfolio where every seat is a user.
CREATE OR REPLACE FUNCTION csm_demo._panel_size(seats integer) RETURNS integer
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS
$$ SELECT least(seats, coalesce(nullif(current_setting('csm_demo.max_users', true), '')::integer, 6)) $$;
COMMENT ON FUNCTION csm_demo._panel_size(integer) IS
    'Users of an account that events are generated for: seats, capped by csm_demo.max_users (default 6).';

-- The feature catalog, most used first, with how often a feature is
-- available to an account on a given day: daily features always, weekly
-- ones (reports, alerts, workflows) on about a third of days, monthly ones
-- (admin pages) on about one day in ten.
CREATE OR REPLACE FUNCTION csm_demo.features()
RETURNS TABLE (rank integer, feature text, cadence text, availability float8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES (1, 'login', 'daily', 1.0::float8), (2, 'dashboard.view', 'daily', 1.0), (3, 'report.view', 'daily', 1.0),
           (4, 'search', 'daily', 1.0), (5, 'report.export', 'weekly', 0.35), (6, 'comment.add', 'daily', 1.0),
           (7, 'alert.create', 'weekly', 0.35), (8, 'api.call', 'daily', 1.0), (9, 'integration.sync', 'daily', 1.0),
           (10, 'workflow.run', 'weekly', 0.35), (11, 'user.invite', 'monthly', 0.1), (12, 'settings.update', 'monthly', 0.1),
           (13, 'audit_log.view', 'monthly', 0.1), (14, 'billing.view', 'monthly', 0.1)
$$;
COMMENT ON FUNCTION csm_demo.features() IS 'The product features (event names), most used first, with their cadence.';

-- Accounts ---------------------------------------------------------------

-- Everything about account 1..accounts: its csm.account row and the
-- parameters its usage is generated from.
CREATE OR REPLACE FUNCTION csm_demo._model(accounts integer, as_of date, seed integer)
RETURNS TABLE (
    n            integer,
    external_id  text,
    name         text,
    plan         text,
    segment      text,
    arr          numeric,
    seats        integer,
    started_on   date,
    started_at   timestamptz,
    renewal_date date,
    status       text,
    shape        text,
    industry     text,
    region       text,
    churned_on   date,
    pool         integer,   -- users events are generated for
    base_ratio   float8,    -- share of the pool active on a normal weekday
    intensity    float8,    -- mean extra events per active user and day
    scale        float8,    -- events per user grow with seats beyond the panel
    weekend      float8,    -- weekend activity relative to weekdays
    drift        float8,    -- healthy accounts: growth over 180 days
    fade_days    integer,   -- declining/churning: days the fall takes
    fade_to      float8,    -- declining/churning: activity at the end of the fall
    stop_t       integer,   -- churned: days from the last day of use to as_of; else 0
    ramp_days    integer,   -- new accounts: days to full use
    tz_hours     float8,    -- local time offset, for time of day
    features     text[],    -- features the account uses, most used first
    availability float8[],  -- per feature: chance it is used on a given day
    properties   jsonb)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT i.n, i.external_id,
       nm.name, p.plan, s.segment, s.arr, s.seats,
       st.started_on,
       to_timestamp(((st.started_on - date '1970-01-01') * 86400
                     + floor(csm_demo._rand(i.n, 10, seed) * 36000) + 28800)::float8),
       CASE WHEN sh.churned THEN st.churned_on
            ELSE (st.started_on + make_interval(years => extract(year FROM age(as_of, st.started_on))::integer + 1))::date
       END,
       CASE WHEN sh.churned THEN 'churned' ELSE 'active' END,
       sh.shape, ind.industry, rg.region, st.churned_on,
       csm_demo._panel_size(s.seats),
       u.base_ratio, u.intensity, least(2.0, sqrt(s.seats::float8 / csm_demo._panel_size(s.seats))), u.weekend, u.drift, u.fade_days, u.fade_to,
       CASE WHEN sh.churned THEN as_of - st.churned_on + 1 ELSE 0 END,
       u.ramp_days, rg.tz_hours,
       f.features, f.availability,
       jsonb_strip_nulls(jsonb_build_object(
           'shape', sh.shape,
           'industry', ind.industry,
           'region', rg.region,
           'churned_on', st.churned_on,
           'churn_reason', CASE WHEN sh.churned THEN (ARRAY['budget', 'competitor', 'low_adoption',
                               'champion_left', 'acquired'])[1 + floor(csm_demo._rand(i.n, 30, seed) * 5)::integer] END))
FROM (SELECT g AS n, 'org_' || lpad(g::text, greatest(5, length(g::text)), '0') AS external_id
      FROM generate_series(1, accounts) AS g) AS i
-- Segment and size: seats and ARR inside the seed's ranges, most accounts small.
CROSS JOIN LATERAL (
    SELECT csm_demo._rand(i.n, 1, seed) AS u_seg,
           csm_demo._rand(i.n, 2, seed) AS q,
           least(1.0, greatest(0.0, csm_demo._rand(i.n, 2, seed) + (csm_demo._rand(i.n, 3, seed) - 0.5) * 0.3)) AS qa
) AS r
CROSS JOIN LATERAL (
    SELECT CASE WHEN r.u_seg < 0.02 THEN 'strategic' WHEN r.u_seg < 0.07 THEN 'enterprise'
                WHEN r.u_seg < 0.27 THEN 'mid_market' ELSE 'smb' END AS segment
) AS sg
CROSS JOIN LATERAL (
    SELECT sg.segment,
           CASE sg.segment
               WHEN 'smb'        THEN round(3 * power(49 / 3.0, power(r.q, 2)))
               WHEN 'mid_market' THEN round(50 * power(10.0, power(r.q, 1.6)))
               WHEN 'enterprise' THEN round(501 * power(5000 / 501.0, power(r.q, 2)))
               ELSE                   round(400 * power(15.0, power(r.q, 1.5)))
           END::integer AS seats,
           CASE sg.segment
               WHEN 'smb'        THEN round(1500 * power(24900 / 1500.0, r.qa) / 100) * 100
               WHEN 'mid_market' THEN round(25000 * power(4.0, r.qa) / 500) * 500
               WHEN 'enterprise' THEN round(101000 * power(900000 / 101000.0, r.qa) / 1000) * 1000
               ELSE                   round(250000 * power(10.0, r.qa) / 5000) * 5000
           END::numeric AS arr
) AS s
CROSS JOIN LATERAL (
    SELECT CASE s.segment
               WHEN 'smb'        THEN CASE WHEN csm_demo._rand(i.n, 4, seed) < 0.55 THEN 'starter' ELSE 'growth' END
               WHEN 'mid_market' THEN CASE WHEN csm_demo._rand(i.n, 4, seed) < 0.35 THEN 'growth' ELSE 'business' END
               WHEN 'enterprise' THEN CASE WHEN csm_demo._rand(i.n, 4, seed) < 0.30 THEN 'business' ELSE 'enterprise' END
               ELSE 'enterprise'
           END AS plan
) AS p
CROSS JOIN LATERAL (
    SELECT CASE WHEN x.u < 0.02 THEN 'hot' WHEN x.u < 0.10 THEN 'new' WHEN x.u < 0.21 THEN 'churning'
                WHEN x.u < 0.37 THEN 'declining' ELSE 'healthy' END AS shape,
           x.u >= 0.10 AND x.u < 0.21 AND csm_demo._rand(i.n, 6, seed) < 0.5 AS churned
    FROM (SELECT csm_demo._rand(i.n, 5, seed) AS u) AS x
) AS sh
CROSS JOIN LATERAL (
    SELECT floor(csm_demo._rand(i.n, 7, seed) * 10)::integer + 1 AS k,
           (ARRAY['software', 'fintech', 'healthcare', 'retail', 'manufacturing', 'education',
                  'media', 'logistics', 'real_estate', 'professional_services'])
               [floor(csm_demo._rand(i.n, 7, seed) * 10)::integer + 1] AS industry
) AS ind
CROSS JOIN LATERAL (
    SELECT CASE WHEN x.u < 0.50 THEN 'na' WHEN x.u < 0.80 THEN 'emea' WHEN x.u < 0.95 THEN 'apac' ELSE 'latam' END AS region,
           CASE WHEN x.u < 0.50 THEN -8 + floor(x.v * 4) WHEN x.u < 0.80 THEN floor(x.v * 3)
                WHEN x.u < 0.95 THEN 5.5 + floor(x.v * 5) ELSE -5 + floor(x.v * 3) END AS tz_hours
    FROM (SELECT csm_demo._rand(i.n, 8, seed) AS u, csm_demo._rand(i.n, 9, seed) AS v) AS x
) AS rg
CROSS JOIN LATERAL (
    SELECT (ARRAY['Blue', 'Bright', 'Cedar', 'Copper', 'Crimson', 'Delta', 'Evergreen', 'Falcon',
                  'Golden', 'Granite', 'Harbor', 'Iron', 'Juniper', 'Lunar', 'Maple', 'Meridian',
                  'Nimbus', 'Northwind', 'Oak', 'Orbit', 'Pine', 'Quartz', 'Redwood', 'Silver',
                  'Summit', 'Swift', 'Tidal', 'Vertex', 'Willow', 'Zenith'])
               [1 + floor(csm_demo._rand(i.n, 11, seed) * 30)::integer]
           || ' ' ||
           (ARRAY[['Labs', 'Systems', 'Software', 'Cloud'],
                  ['Pay', 'Capital', 'Finance', 'Ledger'],
                  ['Health', 'Clinics', 'Bio', 'Care'],
                  ['Retail', 'Goods', 'Outfitters', 'Market'],
                  ['Industries', 'Manufacturing', 'Works', 'Tools'],
                  ['Learning', 'Academy', 'Education', 'Schools'],
                  ['Media', 'Studios', 'Publishing', 'Broadcasting'],
                  ['Logistics', 'Freight', 'Shipping', 'Transport'],
                  ['Properties', 'Realty', 'Homes', 'Estates'],
                  ['Consulting', 'Partners', 'Advisors', 'Group']])
               [ind.k][1 + floor(csm_demo._rand(i.n, 12, seed) * 4)::integer]
           || CASE WHEN s.segment IN ('enterprise', 'strategic')
                   THEN (ARRAY[' Inc.', ' Corporation', ' Holdings', ' plc'])[1 + floor(csm_demo._rand(i.n, 13, seed) * 4)::integer]
                   ELSE '' END AS name
) AS nm
-- When it started, and when churned accounts stopped.
CROSS JOIN LATERAL (
    SELECT CASE WHEN sh.shape = 'new' THEN as_of - (7 + floor(csm_demo._rand(i.n, 14, seed) * 70)::integer)
                ELSE as_of - (200 + floor(csm_demo._rand(i.n, 14, seed) * 1500)::integer) END AS started_on,
           CASE WHEN sh.churned THEN as_of - (21 + floor(csm_demo._rand(i.n, 15, seed) * 56)::integer) END AS churned_on
) AS st
-- How it uses the product.
CROSS JOIN LATERAL (
    SELECT CASE sh.shape
               WHEN 'healthy'   THEN 0.72 + 0.28 * x.a
               WHEN 'hot'       THEN 0.95 + 0.05 * x.a
               WHEN 'declining' THEN 0.65 + 0.25 * x.a
               WHEN 'churning'  THEN 0.50 + 0.30 * x.a
               ELSE                  0.60 + 0.35 * x.a
           END AS base_ratio,
           CASE sh.shape
               WHEN 'hot'       THEN 3.5 + 2.5 * x.b
               WHEN 'healthy'   THEN 0.8 + 0.8 * x.b
               WHEN 'new'       THEN 0.8 + 0.6 * x.b
               WHEN 'declining' THEN 0.7 + 0.6 * x.b
               ELSE                  0.3 + 0.4 * x.b
           END AS intensity,
           CASE sh.shape WHEN 'hot' THEN 0.60 + 0.30 * x.c ELSE 0.15 + 0.35 * x.c END AS weekend,
           -0.10 + 0.35 * x.d AS drift,
           CASE sh.shape
               WHEN 'declining' THEN 21 + floor(x.e * 22)::integer
               WHEN 'churning'  THEN 21 + floor(x.e * 36)::integer
           END AS fade_days,
           CASE sh.shape
               WHEN 'declining' THEN 0.20 + 0.25 * x.f
               WHEN 'churning'  THEN 0.03 + 0.07 * x.f
           END AS fade_to,
           CASE WHEN sh.shape = 'new' THEN 14 + floor(x.e * 15)::integer END AS ramp_days
    FROM (SELECT csm_demo._rand(i.n, 16, seed) AS a, csm_demo._rand(i.n, 17, seed) AS b,
                 csm_demo._rand(i.n, 18, seed) AS c, csm_demo._rand(i.n, 19, seed) AS d,
                 csm_demo._rand(i.n, 20, seed) AS e, csm_demo._rand(i.n, 21, seed) AS f) AS x
) AS u
-- Adoption: login and dashboards always, each further feature less likely
-- the less popular it is, and less likely for weak shapes.
CROSS JOIN LATERAL (
    SELECT array_agg(c.feature ORDER BY c.rank) AS features,
           array_agg(c.availability ORDER BY c.rank) AS availability
    FROM csm_demo.features() AS c
    WHERE c.rank <= 2
       OR csm_demo._rand(i.n, 40 + c.rank, seed)
          < CASE sh.shape WHEN 'hot' THEN 1.0 WHEN 'healthy' THEN 0.95 WHEN 'declining' THEN 0.70
                          WHEN 'new' THEN 0.55 ELSE 0.45 END
            * (1 - (c.rank - 3) / 14.0)
) AS f
$$;
COMMENT ON FUNCTION csm_demo._model(integer, date, integer) IS
    'Accounts 1..accounts with their csm.account columns and usage parameters; deterministic in (accounts, as_of, seed).';

CREATE OR REPLACE FUNCTION csm_demo.generate_accounts(accounts integer, as_of date, seed integer DEFAULT 42)
RETURNS TABLE (
    external_id  text,
    name         text,
    plan         text,
    segment      text,
    arr          numeric,
    seats        integer,
    started_at   timestamptz,
    renewal_date date,
    status       text,
    properties   jsonb)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT m.external_id, m.name, m.plan, m.segment, m.arr, m.seats, m.started_at,
           m.renewal_date, m.status, m.properties
    FROM csm_demo._model(accounts, as_of, seed) AS m
$$;
COMMENT ON FUNCTION csm_demo.generate_accounts(integer, date, integer) IS
    'The demo accounts (external_id org_00001 ...) as csm.account rows; deterministic in (accounts, as_of, seed).';

-- Events -----------------------------------------------------------------

-- The events of the UTC days first_day..last_day (within the account's life
-- and never after as_of). The usage shape is anchored on as_of, so any window
-- gives the same rows for the days it covers.
CREATE OR REPLACE FUNCTION csm_demo._events(accounts integer, first_day date, last_day date, as_of date, seed integer)
RETURNS TABLE (org_user_id text, user_id text, event text, occurred_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT a.external_id,
       ud.user_id,
       -- a session starts with a login; hot accounts add API traffic; a
       -- feature not available that day falls back to the dashboards
       CASE WHEN ev.e = 0 THEN 'login'
            WHEN a.shape = 'hot' AND csm_demo._unit(hashint8extended(1, ev.h)) < 0.4 THEN 'api.call'
            WHEN csm_demo._unit(hashint8extended(ev.f, ad.h # 4101842887655102017)) < a.availability[ev.f]
            THEN a.features[ev.f]
            ELSE 'dashboard.view'
       END,
       to_timestamp(((ad.day - date '1970-01-01') * 86400::bigint
                     + (ud.start_s + ev.e * (60 + ((ev.h >> 32) & 511))) % 86400)::float8)
-- OFFSET 0 keeps the account model from being recomputed for every event.
FROM (SELECT * FROM csm_demo._model(accounts, as_of, seed) OFFSET 0) AS a
-- t counts days back from as_of: 0 is as_of itself.
CROSS JOIN LATERAL generate_series(greatest(as_of - last_day, a.stop_t, 0),
                                   least(as_of - first_day, as_of - a.started_on - 1)) AS t
CROSS JOIN LATERAL (
    SELECT x.day, x.h,
           floor(csm_demo._unit(hashint8extended(2, x.h)) * a.pool)::integer AS rot,
           least(a.pool, floor(
               a.pool * a.base_ratio
               -- the account's shape over time
               * CASE a.shape
                     WHEN 'healthy'   THEN 1 + a.drift * greatest(0, 180 - t) / 180.0
                     WHEN 'declining' THEN CASE WHEN t >= a.fade_days THEN 1
                                                ELSE a.fade_to + (1 - a.fade_to) * t / a.fade_days END
                     WHEN 'churning'  THEN CASE WHEN t - a.stop_t >= a.fade_days THEN 1
                                                ELSE power(a.fade_to, 1 - (t - a.stop_t)::float8 / a.fade_days) END
                     WHEN 'new'       THEN least(1.0, ((as_of - a.started_on) - t + 1)::float8 / a.ramp_days)
                     ELSE 1
                 END
               -- the week: Monday 0 ... Sunday 6
               * (ARRAY[1.0, 1.05, 1.05, 1.0, 0.85, a.weekend, a.weekend * 0.8])[1 + ((x.day - date '2000-01-03') % 7 + 7) % 7]
               -- the day's noise, then random rounding
               * (0.8 + 0.4 * csm_demo._unit(x.h))
               + csm_demo._unit(hashint8extended(1, x.h)))::integer) AS dau
    FROM (SELECT as_of - t AS day,
                 hashint8extended(((a.n::bigint << 20) | (as_of - t - date '2000-01-01')), seed + 7919) AS h) AS x
    OFFSET 0
) AS ad
-- The day's active users, each with one session of 1 + ~2*intensity*scale
-- events, the first a login.
CROSS JOIN LATERAL (
    SELECT y.h,
           'u' || a.n || '_' || (1 + (y.k + ad.rot) % a.pool) AS user_id,
           -- session start: local business hours, shifted to UTC
           (floor((8 + 10 * (csm_demo._unit(y.h) + csm_demo._unit(hashint8extended(4, y.h))) / 2 - a.tz_hours) * 3600)::integer
               + 172800) % 86400 AS start_s,
           1 + floor(2 * a.intensity * a.scale * csm_demo._unit(hashint8extended(3, y.h)))::integer AS events
    FROM (SELECT k, hashint8extended(k, ad.h) AS h FROM generate_series(0, ad.dau - 1) AS k) AS y
    OFFSET 0
) AS ud
CROSS JOIN LATERAL (
    SELECT z.e, z.h, 2 + floor((array_length(a.features, 1) - 1) * power(csm_demo._unit(z.h), 1.7))::integer AS f
    FROM (SELECT e, hashint8extended(e, ud.h # 6364136223846793005) AS h
          FROM generate_series(0, ud.events - 1) AS e) AS z
) AS ev
$$;
COMMENT ON FUNCTION csm_demo._events(integer, date, date, date, integer) IS
    'The generated events of the UTC days first_day..last_day; load() inserts them window by window.';

CREATE OR REPLACE FUNCTION csm_demo.generate_events(accounts integer, days integer, as_of date, seed integer DEFAULT 42)
RETURNS TABLE (org_user_id text, user_id text, event text, occurred_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT * FROM csm_demo._events(accounts, as_of - days + 1, as_of, as_of, seed)
$$;
COMMENT ON FUNCTION csm_demo.generate_events(integer, integer, date, integer) IS
    'Product events of the demo accounts over the days UTC days ending at as_of; deterministic, writes nothing.';

-- Team and NPS -------------------------------------------------------------

-- The customer success team: CSMs per segment, retention and product
-- specialists, and support agents.  capacity is in csm's load units (a
-- strategic account weighs 20, enterprise 10, mid-market 3.33, SMB 1; the
-- seed's 1:5, 1:10, 1:30, 1:100 ratios make a book of 100): this small team
-- carries books of about four seed-sized ones each, and the SMB CSMs have
-- no capacity set, so one book each by the ratios (100 SMB accounts): the
-- rest of SMB waits in the unassigned queue, which says why.
CREATE OR REPLACE FUNCTION csm_demo.team()
RETURNS TABLE (handle text, name text, roles text[], skills text[], teams text[], capacity integer, status text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES
    ('alex.kim',      'Alex Kim',      '{csm}'::text[],                  '{executive_reviews,renewals,expansion}'::text[], '{strategic}'::text[], 400, 'online'),
    ('maria.garcia',  'Maria Garcia',  '{csm,retention_specialist}',     '{executive_reviews,escalations,spanish}', '{strategic,latam}',  400,   'online'),
    ('james.chen',    'James Chen',    '{csm}',                          '{enterprise,integrations,analytics}',    '{enterprise}',        400,  'online'),
    ('priya.patel',   'Priya Patel',   '{csm}',                          '{enterprise,onboarding,healthcare}',     '{enterprise}',        400,  'away'),
    ('tom.mueller',   'Tom Müller',    '{csm}',                          '{enterprise,manufacturing,german}',      '{enterprise,emea}',   400,  'offline'),
    ('sofia.rossi',   'Sofia Rossi',   '{csm}',                          '{onboarding,adoption,italian}',          '{mid_market,emea}',   450,  'online'),
    ('daniel.okafor', 'Daniel Okafor', '{csm}',                          '{adoption,renewals,fintech}',            '{mid_market}',        450,  'online'),
    ('emma.johnson',  'Emma Johnson',  '{csm,product_specialist}',       '{onboarding,analytics,training}',        '{mid_market}',        450,  'away'),
    ('lucas.martin',  'Lucas Martin',  '{csm}',                          '{adoption,expansion,french}',            '{mid_market,emea}',   450,  'online'),
    ('hannah.lee',    'Hannah Lee',    '{csm}',                          '{digital_touch,onboarding}',             '{smb}',               NULL, 'online'),
    ('omar.haddad',   'Omar Haddad',   '{csm}',                          '{digital_touch,renewals,arabic}',        '{smb,emea}',          NULL, 'offline'),
    ('chloe.dubois',  'Chloé Dubois',  '{csm}',                          '{digital_touch,training,french}',        '{smb}',               NULL, 'online'),
    ('kenji.tanaka',  'Kenji Tanaka',  '{csm}',                          '{digital_touch,onboarding,japanese}',    '{smb,apac}',          NULL, 'online'),
    ('rachel.green',  'Rachel Green',  '{retention_specialist}',         '{churn_save,negotiation,renewals}',      '{retention}',         300,  'online'),
    ('victor.silva',  'Victor Silva',  '{retention_specialist,csm}',     '{churn_save,executive_reviews,portuguese}', '{retention,latam}', 300, 'away'),
    ('nina.petrova',  'Nina Petrova',  '{retention_specialist}',         '{churn_save,analytics}',                 '{retention}',         300,  'offline'),
    ('sam.taylor',    'Sam Taylor',    '{product_specialist}',           '{api,integrations,sso}',                 '{solutions}',         25,  'online'),
    ('aisha.bello',   'Aisha Bello',   '{product_specialist}',           '{analytics,reporting,training}',         '{solutions}',         25,  'online'),
    ('david.cohen',   'David Cohen',   '{product_specialist,support_agent}', '{workflows,api}',                    '{solutions,support}', 25,  'away'),
    ('mei.wong',      'Mei Wong',      '{product_specialist}',           '{integrations,mandarin}',                '{solutions,apac}',    25,  'offline'),
    ('liam.obrien',   'Liam O''Brien', '{support_agent}',                '{billing,sso}',                          '{support}',           30,  'online'),
    ('zoe.martinez',  'Zoe Martinez',  '{support_agent}',                '{integrations,spanish}',                 '{support,latam}',     30,  'online'),
    ('noah.schmidt',  'Noah Schmidt',  '{support_agent}',                '{api,german}',                           '{support,emea}',      30,  'away'),
    ('grace.nguyen',  'Grace Nguyen',  '{support_agent}',                '{billing,onboarding}',                   '{support}',           30,  'offline'),
    ('ethan.brown',   'Ethan Brown',   '{support_agent}',                '{escalations,api}',                      '{support}',           30,  'online')
$$;
COMMENT ON FUNCTION csm_demo.team() IS 'The 25 demo team members, as csm.team_member rows.';

-- A few NPS answers per account over the period, their score following the
-- account's shape at the time of the answer.
CREATE OR REPLACE FUNCTION csm_demo.generate_nps(accounts integer, days integer, as_of date, seed integer DEFAULT 42)
RETURNS TABLE (external_id text, responded_at timestamptz, score smallint, comment text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT a.external_id,
       to_timestamp(((as_of - r.t - date '1970-01-01') * 86400 + 28800
                     + floor(csm_demo._unit(hashint8extended(1, r.h)) * 43200))::float8),
       s.score::smallint,
       CASE WHEN csm_demo._unit(hashint8extended(2, r.h)) < 0.4 THEN
           CASE WHEN s.score >= 9 THEN (ARRAY['Dashboards save us hours every week', 'Great support team',
                                             'The API is excellent', 'Onboarding was smooth'])
                                       [1 + floor(csm_demo._unit(hashint8extended(3, r.h)) * 4)::integer]
                WHEN s.score >= 7 THEN (ARRAY['Good, but exports are limited', 'Solid product, pricing is a concern',
                                             'Would like more integrations'])
                                       [1 + floor(csm_demo._unit(hashint8extended(3, r.h)) * 3)::integer]
                ELSE (ARRAY['Too expensive for what we use', 'Reports are slow', 'Our admin left and nobody knows the tool',
                            'Missing integration with our CRM', 'Support took days to answer'])
                     [1 + floor(csm_demo._unit(hashint8extended(3, r.h)) * 5)::integer]
           END
       END
FROM (SELECT * FROM csm_demo._model(accounts, as_of, seed) OFFSET 0) AS a
-- Answers fall between two weeks after the start and the last day of use.
CROSS JOIN LATERAL (
    SELECT greatest(a.stop_t, 0) AS lo, least(days - 1, as_of - a.started_on - 14) AS hi,
           floor(csm_demo._rand(a.n, 60, seed) * 4)::integer
               + CASE WHEN a.segment IN ('enterprise', 'strategic') THEN 1 ELSE 0 END AS answers
) AS w
CROSS JOIN LATERAL (
    SELECT x.t, x.h
    FROM (SELECT w.lo + floor(csm_demo._unit(hashint8extended(j, hashint8extended(a.n, seed + 104729)))
                              * (w.hi - w.lo + 1))::integer AS t,
                 hashint8extended(j + 100, hashint8extended(a.n, seed + 104729)) AS h
          FROM generate_series(1, w.answers) AS j) AS x
    WHERE w.hi >= w.lo
) AS r
CROSS JOIN LATERAL (
    SELECT least(10, greatest(0, round(
               CASE a.shape WHEN 'hot' THEN 9.3 WHEN 'healthy' THEN 8.5 WHEN 'new' THEN 8.2
                            WHEN 'declining' THEN 7.8 ELSE 7.0 END
               -- the fall: 0 before it starts, 1 at its end
               - CASE a.shape WHEN 'declining' THEN 3 WHEN 'churning' THEN 5 ELSE 0 END
                 * greatest(0, 1 - (r.t - a.stop_t)::float8 / coalesce(a.fade_days, 1))
               + 3 * (csm_demo._unit(hashint8extended(4, r.h)) + csm_demo._unit(hashint8extended(5, r.h)) - 1))))::integer
           AS score
) AS s
$$;
COMMENT ON FUNCTION csm_demo.generate_nps(integer, integer, date, integer) IS
    'NPS answers of the demo accounts over the days UTC days ending at as_of; deterministic, writes nothing.';

-- Relationships: stakeholders, payments, notes, engagement -----------------
--
-- What a CRM and a billing system know about each account over the loaded
-- days: the churn signals' input tables.  Days are counted back from as_of
-- (t = 0 is as_of), as for events; an account has records on the days after
-- its start day and before its churn day (t from life_lo to life_hi), none
-- after as_of.
--
-- Troubles follow the account's shape, in time:
--   churning   in the trouble window: from up to 30 days before its usage
--              starts to fall (fade_days before its last day of use: the
--              day before churned_on, or as_of for those not churned yet)
--              to that last day; a quarter of them churn without warning
--              and have no trouble at all
--   declining  fewer, in the window of their decline (up to as_of)
--   others     a little noise anywhere in the period: false alarms
-- Per account, roughly (churning / declining / others): sponsor leaves 35 /
-- 12 / 3 %, champion leaves 25 / 10 / 4 %, a late, failed or disputed
-- payment 30 / 10 / 3 %, a competitor mentioned 30 / 10 / 2 %, budget
-- concerns 35 / 15 / 4 %, two or three escalations 20 / 8 / 1 % (one: 20 /
-- 15 / 8 %), engagement going quiet (meetings attended 30 % instead of about
-- 85 %, emails answered 25 % instead of about 75 %) 64 / 35 / 6 %;
-- expansion discussions 5 / 20 / 75 % (hot 90 %, new 25 %).

-- The k-th uniform [0,1) of stream salt of account n.
CREATE OR REPLACE FUNCTION csm_demo._draw(n bigint, salt integer, k bigint, seed integer) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT csm_demo._unit(hashint8extended(k, hashint8extended(n * 256 + salt, seed + 15485863))) $$;
COMMENT ON FUNCTION csm_demo._draw(bigint, integer, bigint, integer) IS
    'Deterministic uniform [0,1): the k-th draw of stream salt of account n.';

-- A time of day during the account's local business hours (9:00 to 17:00,
-- u picks it), on the given UTC day.
CREATE OR REPLACE FUNCTION csm_demo._at(day date, u float8, tz_hours float8) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT to_timestamp(((day - date '1970-01-01') * 86400::bigint
                        + (floor((9 + 8 * u - tz_hours) * 3600)::integer + 172800) % 86400)::float8) $$;
COMMENT ON FUNCTION csm_demo._at(date, float8, float8) IS
    'A time on a UTC day during local business hours (u in [0,1) picks it, tz_hours is the local offset).';

-- The day (days back from as_of) of something that happens at point u of
-- the window lo..hi, if that is a day the account has records on; else NULL.
CREATE OR REPLACE FUNCTION csm_demo._pick(happens boolean, u float8, lo integer, hi integer, life_lo integer, life_hi integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN happens AND hi >= lo AND lo + floor(u * (hi - lo + 1)) BETWEEN life_lo AND life_hi
               THEN lo + floor(u * (hi - lo + 1))::integer END $$;
COMMENT ON FUNCTION csm_demo._pick(boolean, float8, integer, integer, integer, integer) IS
    'The day (back from as_of) at point u of window lo..hi, if it happens and falls within life_lo..life_hi; else NULL.';

-- A person's name: first and last name drawn for (account, person).
CREATE OR REPLACE FUNCTION csm_demo._person(n bigint, person integer, seed integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT (ARRAY['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth',
              'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Carlos', 'Ana',
              'Wei', 'Yuki', 'Ahmed', 'Fatima', 'Lars', 'Ingrid', 'Pierre', 'Camille', 'Raj', 'Anita',
              'Diego', 'Lucia', 'Oliver', 'Amelia', 'Jonas', 'Leonie', 'Kwame', 'Ama', 'Ivan', 'Olga'])
           [1 + floor(csm_demo._draw(n, 200, person, seed) * 40)::integer]
       || ' ' ||
       (ARRAY['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Miller', 'Davis', 'Wilson', 'Anderson', 'Taylor',
              'Thomas', 'Moore', 'Martin', 'Jackson', 'Thompson', 'White', 'Lopez', 'Gonzalez', 'Clark', 'Lewis',
              'Walker', 'Hall', 'Young', 'King', 'Wright', 'Scott', 'Hill', 'Green', 'Adams', 'Baker',
              'Nelson', 'Carter', 'Mitchell', 'Roberts', 'Turner', 'Phillips', 'Campbell', 'Parker', 'Evans', 'Edwards'])
           [1 + floor(csm_demo._draw(n, 201, person, seed) * 40)::integer]
$$;
COMMENT ON FUNCTION csm_demo._person(bigint, integer, integer) IS 'The name of person number person of account n.';

-- Per account: when its troubles happen, and how it engages.  Columns
-- ending in _t are days back from as_of, NULL when it does not happen (or
-- falls outside the account's records).
CREATE OR REPLACE FUNCTION csm_demo._relations(accounts integer, days integer, as_of date, seed integer)
RETURNS TABLE (
    n             integer,
    external_id   text,
    name          text,
    shape         text,
    segment       text,
    arr           numeric,
    started_on    date,
    started_at    timestamptz,
    churned_on    date,
    tz_hours      float8,
    life_lo       integer,  -- records fall on days life_lo..life_hi back from as_of
    life_hi       integer,
    tw_lo         integer,  -- the trouble window
    tw_hi         integer,
    warned        boolean,  -- false: a churning account that shows no trouble
    sponsor_t     integer,  -- the executive sponsor leaves
    sponsor_gap   integer,  -- days until a new sponsor starts; NULL: nobody
    champion_t    integer,  -- the champion leaves
    champion_gap  integer,
    payment_t     integer,  -- the invoice due last on or before this day has a problem
    payment_kind  text,     -- late, failed or disputed
    competitor_t  integer,
    budget_t      integer,
    org_t         integer,
    delay_t       integer,  -- implementation delay
    escalation_t  integer,  -- escalations cluster around this day
    escalations   integer,
    expansions    integer,  -- expansion discussions, on days ex_lo..ex_hi
    ex_lo         integer,
    ex_hi         integer,
    quiet_lo      integer,  -- engagement falls on days quiet_lo..quiet_hi
    quiet_hi      integer,
    attend        float8,   -- share of meetings attended, normally and when quiet
    attend_quiet  float8,
    respond       float8,   -- share of outbound emails answered
    respond_quiet float8,
    inbound       float8,   -- chance of an inbound email or call in a week
    inbound_quiet float8,
    csm           text)     -- who writes the notes
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT a.n, a.external_id, a.name, a.shape, a.segment, a.arr, a.started_on, a.started_at, a.churned_on, a.tz_hours,
       w.life_lo, w.life_hi, w.tw_lo, w.tw_hi, x.warned,
       csm_demo._pick(x.warned AND u.sponsor < p.sponsor * x.boost, u.sponsor_at, w.tw_lo, w.tw_hi, w.life_lo, w.life_hi),
       CASE WHEN u.sponsor_back < p.replaced THEN 14 + floor(u.sponsor_gap * 62)::integer END,
       csm_demo._pick(x.warned AND u.champion < p.champion * x.boost, u.champion_at, w.tw_lo, w.tw_hi, w.life_lo, w.life_hi),
       CASE WHEN u.champion_back < p.replaced THEN 14 + floor(u.champion_gap * 62)::integer END,
       csm_demo._pick(x.warned AND u.payment < p.payment * x.boost, u.payment_at, w.tw_lo, w.tw_hi, w.life_lo, w.life_hi),
       CASE WHEN u.payment_kind < 0.55 THEN 'late' WHEN u.payment_kind < 0.80 THEN 'failed' ELSE 'disputed' END,
       csm_demo._pick(x.warned AND u.competitor < p.competitor * x.boost, u.competitor_at, w.tw_lo, w.tw_hi, w.life_lo, w.life_hi),
       csm_demo._pick(x.warned AND u.budget < p.budget * x.boost, u.budget_at, w.tw_lo, w.tw_hi, w.life_lo, w.life_hi),
       csm_demo._pick(x.warned AND u.org < p.org * x.boost, u.org_at, w.tw_lo, w.tw_hi, w.life_lo, w.life_hi),
       csm_demo._pick(x.warned AND u.delay < p.delay * x.boost, u.delay_at, w.tw_lo, w.tw_hi, w.life_lo, w.life_hi),
       csm_demo._pick(x.warned AND u.escalation < (p.escalations + p.escalation) * x.boost, u.escalation_at,
                      w.tw_lo, w.tw_hi, w.life_lo, w.life_hi),
       CASE WHEN u.escalation < p.escalations * x.boost THEN 2 + floor(u.escalation_count * 2)::integer ELSE 1 END,
       CASE WHEN u.expansion < p.expansion THEN 1 + floor(u.expansion_count * 2)::integer ELSE 0 END,
       -- churning and declining accounts talked expansion before their trouble, if ever
       CASE WHEN a.shape IN ('churning', 'declining') THEN greatest(w.tw_hi + 1, w.life_lo) ELSE w.life_lo END,
       w.life_hi,
       q.lo, q.hi,
       0.75 + 0.20 * u.attend, p.attend_quiet,
       0.65 + 0.20 * u.respond, p.respond_quiet,
       CASE a.shape WHEN 'hot' THEN 0.45 ELSE 0.30 END * (0.7 + 0.6 * u.inbound), p.inbound_quiet,
       CASE a.segment
           WHEN 'strategic'  THEN (ARRAY['alex.kim', 'maria.garcia'])[1 + floor(u.csm * 2)::integer]
           WHEN 'enterprise' THEN (ARRAY['james.chen', 'priya.patel', 'tom.mueller'])[1 + floor(u.csm * 3)::integer]
           WHEN 'mid_market' THEN (ARRAY['sofia.rossi', 'daniel.okafor', 'emma.johnson', 'lucas.martin'])[1 + floor(u.csm * 4)::integer]
           ELSE (ARRAY['hannah.lee', 'omar.haddad', 'chloe.dubois', 'kenji.tanaka'])[1 + floor(u.csm * 4)::integer]
       END
FROM (SELECT * FROM csm_demo._model(accounts, as_of, seed) OFFSET 0) AS a
-- How likely each trouble is, by shape (for churning accounts: of all of
-- them, warned or not), how likely a departed key person is replaced, and
-- how the account engages when it goes quiet.
JOIN (VALUES ('churning',  0.35, 0.25, 0.30, 0.30, 0.35, 0.20, 0.20, 0.20, 0.10, 0.05, 0.85, 0.10, 0.30, 0.25, 0.08),
             ('declining', 0.12, 0.10, 0.10, 0.10, 0.15, 0.08, 0.15, 0.10, 0.06, 0.20, 0.35, 0.35, 0.50, 0.45, 0.15),
             ('healthy',   0.03, 0.04, 0.03, 0.02, 0.04, 0.01, 0.08, 0.04, 0.03, 0.75, 0.06, 0.60, 0.35, 0.30, 0.10),
             ('hot',       0.03, 0.04, 0.03, 0.02, 0.04, 0.01, 0.08, 0.04, 0.03, 0.90, 0.06, 0.60, 0.35, 0.30, 0.10),
             ('new',       0.03, 0.04, 0.03, 0.02, 0.04, 0.01, 0.08, 0.04, 0.15, 0.25, 0.06, 0.60, 0.35, 0.30, 0.10))
     AS p(shape, sponsor, champion, payment, competitor, budget, escalations, escalation, org, delay, expansion,
          quiet, replaced, attend_quiet, respond_quiet, inbound_quiet)
  ON p.shape = a.shape
CROSS JOIN LATERAL (
    SELECT csm_demo._rand(a.n, 100, seed) AS lead, csm_demo._rand(a.n, 101, seed) AS silent,
           csm_demo._rand(a.n, 102, seed) AS sponsor, csm_demo._rand(a.n, 103, seed) AS sponsor_at,
           csm_demo._rand(a.n, 104, seed) AS sponsor_back, csm_demo._rand(a.n, 105, seed) AS sponsor_gap,
           csm_demo._rand(a.n, 106, seed) AS champion, csm_demo._rand(a.n, 107, seed) AS champion_at,
           csm_demo._rand(a.n, 108, seed) AS champion_back, csm_demo._rand(a.n, 109, seed) AS champion_gap,
           csm_demo._rand(a.n, 110, seed) AS payment, csm_demo._rand(a.n, 111, seed) AS payment_at,
           csm_demo._rand(a.n, 112, seed) AS payment_kind,
           csm_demo._rand(a.n, 113, seed) AS competitor, csm_demo._rand(a.n, 114, seed) AS competitor_at,
           csm_demo._rand(a.n, 115, seed) AS budget, csm_demo._rand(a.n, 116, seed) AS budget_at,
           csm_demo._rand(a.n, 117, seed) AS org, csm_demo._rand(a.n, 118, seed) AS org_at,
           csm_demo._rand(a.n, 119, seed) AS delay, csm_demo._rand(a.n, 120, seed) AS delay_at,
           csm_demo._rand(a.n, 121, seed) AS escalation, csm_demo._rand(a.n, 122, seed) AS escalation_at,
           csm_demo._rand(a.n, 123, seed) AS escalation_count,
           csm_demo._rand(a.n, 124, seed) AS expansion, csm_demo._rand(a.n, 125, seed) AS expansion_count,
           csm_demo._rand(a.n, 126, seed) AS quiet, csm_demo._rand(a.n, 127, seed) AS quiet_at,
           csm_demo._rand(a.n, 128, seed) AS quiet_days,
           csm_demo._rand(a.n, 129, seed) AS attend, csm_demo._rand(a.n, 130, seed) AS respond,
           csm_demo._rand(a.n, 131, seed) AS inbound, csm_demo._rand(a.n, 132, seed) AS csm
) AS u
CROSS JOIN LATERAL (
    SELECT a.shape <> 'churning' OR u.silent >= 0.25 AS warned,
           CASE WHEN a.shape = 'churning' THEN 1 / 0.75 ELSE 1 END AS boost
) AS x
CROSS JOIN LATERAL (
    -- the trouble window ends on the last day of use (as_of for accounts
    -- not churned); for accounts that are not failing it is all of the period
    SELECT a.stop_t AS life_lo, least(days - 1, as_of - a.started_on - 1) AS life_hi,
           a.stop_t AS tw_lo,
           CASE WHEN a.shape IN ('churning', 'declining') THEN a.stop_t + a.fade_days + floor(u.lead * 31)::integer
                ELSE least(days - 1, as_of - a.started_on - 1) END AS tw_hi
) AS w
CROSS JOIN LATERAL (
    SELECT CASE WHEN NOT (x.warned AND u.quiet < p.quiet) THEN NULL
                WHEN a.shape IN ('churning', 'declining') THEN w.tw_lo
                ELSE w.life_lo + floor(u.quiet_at * (w.life_hi - w.life_lo + 1))::integer END AS lo
) AS q0
CROSS JOIN LATERAL (
    SELECT q0.lo,
           CASE WHEN q0.lo IS NULL THEN NULL
                WHEN a.shape IN ('churning', 'declining') THEN w.tw_hi
                ELSE q0.lo + 30 + floor(u.quiet_days * 31)::integer END AS hi
) AS q
$$;
COMMENT ON FUNCTION csm_demo._relations(integer, integer, date, integer) IS
    'Per demo account: its record window, trouble window, the days its troubles happen and how it engages; deterministic in (accounts, days, as_of, seed).';

-- People at the customer: an executive sponsor and a champion (both key),
-- an admin and two to four users, all from the account's start; sponsors
-- and champions who leave are replaced after 2 to 11 weeks, or not (most
-- churning accounts are left without one); a few others leave too.
CREATE OR REPLACE FUNCTION csm_demo.generate_stakeholders(accounts integer, days integer, as_of date, seed integer DEFAULT 42)
RETURNS TABLE (external_id text, name text, email text, title text, role text, is_key boolean,
               started_at timestamptz, departed_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT r.external_id, csm_demo._person(r.n, s.person, seed),
       lower(replace(csm_demo._person(r.n, s.person, seed), ' ', '.')) || '@'
           || lower(regexp_replace(split_part(r.name, ' ', 1) || split_part(r.name, ' ', 2), '[^A-Za-z]', '', 'g'))
           || '.example',
       CASE s.role
           WHEN 'executive_sponsor' THEN (ARRAY['Chief Operating Officer', 'Chief Financial Officer', 'Chief Technology Officer',
                                               'VP Operations', 'VP Engineering', 'VP Customer Experience'])
                                         [1 + floor(csm_demo._draw(r.n, 202, s.person, seed) * 6)::integer]
           WHEN 'champion' THEN (ARRAY['Operations Manager', 'Product Manager', 'Head of Analytics', 'Director of Operations',
                                      'Team Lead'])[1 + floor(csm_demo._draw(r.n, 202, s.person, seed) * 5)::integer]
           WHEN 'admin' THEN (ARRAY['IT Administrator', 'Systems Administrator', 'Business Systems Manager'])
                             [1 + floor(csm_demo._draw(r.n, 202, s.person, seed) * 3)::integer]
           ELSE (ARRAY['Analyst', 'Account Manager', 'Engineer', 'Specialist', 'Coordinator', 'Consultant'])
                [1 + floor(csm_demo._draw(r.n, 202, s.person, seed) * 6)::integer]
       END,
       s.role, s.role IN ('executive_sponsor', 'champion'),
       CASE WHEN s.from_t IS NULL THEN r.started_at
            ELSE csm_demo._at(as_of - s.from_t, csm_demo._draw(r.n, 203, s.person, seed), r.tz_hours) END,
       csm_demo._at(as_of - s.until_t, csm_demo._draw(r.n, 204, s.person, seed), r.tz_hours)
FROM (SELECT * FROM csm_demo._relations(accounts, days, as_of, seed) OFFSET 0) AS r
CROSS JOIN LATERAL (
    -- person, role, started (NULL: at the account's start), left (NULL: still there)
    SELECT v.person, v.role, v.from_t, v.until_t
    FROM (VALUES (1, 'executive_sponsor', NULL::integer, r.sponsor_t),
                 (2, 'champion', NULL, r.champion_t),
                 (101, 'executive_sponsor', r.sponsor_t - r.sponsor_gap, NULL),
                 (102, 'champion', r.champion_t - r.champion_gap, NULL)) AS v(person, role, from_t, until_t)
    -- a successor appears only if they start by as_of (and before a churn)
    WHERE v.person < 100 OR v.from_t >= r.life_lo
    UNION ALL
    SELECT g, CASE WHEN g = 3 THEN 'admin' ELSE 'user' END, NULL,
           csm_demo._pick(csm_demo._draw(r.n, 205, g, seed) < 0.07, csm_demo._draw(r.n, 206, g, seed),
                          r.life_lo, r.life_hi, r.life_lo, r.life_hi)
    FROM generate_series(3, CASE r.segment WHEN 'smb' THEN 5 WHEN 'mid_market' THEN 6 ELSE 7 END) AS g
) AS s
$$;
COMMENT ON FUNCTION csm_demo.generate_stakeholders(integer, integer, date, integer) IS
    'Stakeholders of the demo accounts (csm.stakeholder rows) with departures over the days ending at as_of; deterministic, writes nothing.';

-- Monthly invoices of ARR / 12, due on the account's start day of the month
-- and paid 0 to 5 days later; pending while not paid yet.  A late one is
-- paid 10 to 39 days after it was due, a failed charge goes through on a
-- retry 3 to 25 days later, a dispute is settled and paid 15 to 45 days
-- later; churning accounts do not settle failed or disputed invoices, and
-- about half their invoices after the first trouble are in trouble too.  A
-- churned account's invoice unpaid at churn is written off.
CREATE OR REPLACE FUNCTION csm_demo.generate_payments(accounts integer, days integer, as_of date, seed integer DEFAULT 42)
RETURNS TABLE (external_id text, invoice_ref text, amount numeric, due_on date, paid_on date, status text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT r.external_id, 'INV-' || substr(r.external_id, 5) || '-' || to_char(i.due_on, 'YYYYMM'),
       round(r.arr / 12, 2), i.due_on,
       CASE WHEN o.paid THEN o.paid_day END,
       CASE WHEN o.paid THEN 'paid'
            WHEN r.churned_on IS NOT NULL
                 AND (i.kind IS NULL OR i.kind = 'late' OR csm_demo._draw(r.n, 212, i.k, seed) < 0.5) THEN 'written_off'
            WHEN i.kind IN ('failed', 'disputed') THEN i.kind
            ELSE 'pending' END
FROM (SELECT * FROM csm_demo._relations(accounts, days, as_of, seed) OFFSET 0) AS r
-- k counts months from the account's start: the first due in the window
CROSS JOIN LATERAL (
    SELECT CASE WHEN as_of - days + 1 <= r.started_on THEN 0
                ELSE (extract(year FROM age(as_of - days + 1, r.started_on)) * 12
                      + extract(month FROM age(as_of - days + 1, r.started_on)))::integer END AS k0
) AS m
CROSS JOIN LATERAL (
    SELECT d.k, d.due_on,
           CASE WHEN r.payment_t IS NULL THEN NULL
                WHEN d.due_on > as_of - r.payment_t - 31 AND d.due_on <= as_of - r.payment_t THEN r.payment_kind
                WHEN d.due_on > as_of - r.payment_t AND r.shape = 'churning'
                     AND csm_demo._draw(r.n, 210, d.k, seed) < 0.5 THEN r.payment_kind
           END AS kind
    FROM (SELECT m.k0 + j AS k, (r.started_on + make_interval(months => m.k0 + j))::date AS due_on
          FROM generate_series(0, days / 28 + 1) AS j) AS d
    WHERE d.due_on >= r.started_on AND d.due_on > as_of - days AND d.due_on <= as_of
      AND (r.churned_on IS NULL OR d.due_on < r.churned_on)
) AS i
CROSS JOIN LATERAL (
    SELECT x.paid_day, x.paid_day IS NOT NULL AND x.paid_day <= as_of
                       AND (r.churned_on IS NULL OR x.paid_day < r.churned_on) AS paid
    FROM (SELECT i.due_on + CASE
                     WHEN i.kind = 'late' THEN 10 + floor(u.v * 30)::integer
                     WHEN i.kind IS NOT NULL AND r.shape = 'churning' THEN NULL
                     WHEN i.kind = 'failed' THEN 3 + floor(u.v * 23)::integer
                     WHEN i.kind = 'disputed' THEN 15 + floor(u.v * 31)::integer
                     -- on time; a churned account pays its last one before it leaves
                     WHEN r.churned_on IS NOT NULL THEN least(floor(u.v * u.v * 6)::integer, r.churned_on - 1 - i.due_on)
                     ELSE floor(u.v * u.v * 6)::integer
                 END AS paid_day
          FROM (SELECT csm_demo._draw(r.n, 211, i.k, seed) AS v) AS u) AS x
) AS o
$$;
COMMENT ON FUNCTION csm_demo.generate_payments(integer, integer, date, integer) IS
    'Monthly invoices of the demo accounts (csm.payment rows) due over the days ending at as_of, with their status then; deterministic, writes nothing.';

-- CRM notes: routine notes by the account's CSM (weekly for strategic
-- accounts to every six weeks for SMB), the troubles of csm_demo._relations
-- (competitor and budget notes sometimes followed up, escalations in a
-- cluster of a few weeks), expansion discussions, a note when a sponsor or
-- champion leaves, and a last one when a churned customer confirmed leaving.
CREATE OR REPLACE FUNCTION csm_demo.generate_notes(accounts integer, days integer, as_of date, seed integer DEFAULT 42)
RETURNS TABLE (external_id text, noted_at timestamptz, author text, kind text, body text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT r.external_id, csm_demo._at(as_of - x.t, csm_demo._draw(r.n, 220, x.k, seed), r.tz_hours),
       CASE WHEN x.kind = 'escalation' AND csm_demo._draw(r.n, 221, x.k, seed) < 0.5
            THEN (ARRAY['ethan.brown', 'liam.obrien', 'zoe.martinez', 'noah.schmidt', 'grace.nguyen'])
                 [1 + floor(csm_demo._draw(r.n, 222, x.k, seed) * 5)::integer]
            ELSE r.csm END,
       x.kind, x.body
FROM (SELECT * FROM csm_demo._relations(accounts, days, as_of, seed) OFFSET 0) AS r
CROSS JOIN LATERAL (
    -- k numbers the notes of an account, for their own draws
    SELECT y.k, y.t, y.kind, y.body
    FROM (
        -- routine notes, in slots of cadence days (about four in five written)
        SELECT c.k, c.t, 'note' AS kind,
               (ARRAY['Check-in call, no open issues', 'Sent the monthly usage summary',
                      'Walked the admin through the new reports', 'Training session for new users',
                      'Shared dashboard best practices', 'Followed up on a support ticket, resolved',
                      'Renewal timeline reviewed', 'Reviewed adoption goals for the quarter'])
                   [1 + floor(csm_demo._draw(r.n, 223, c.k, seed) * 8)::integer] AS body
        FROM (SELECT j AS k, j * cd.every + floor(csm_demo._rand(r.n, 133, seed) * cd.every)::integer
                             + floor(csm_demo._draw(r.n, 224, j, seed) * 3)::integer AS t
              FROM (SELECT CASE r.segment WHEN 'strategic' THEN 7 WHEN 'enterprise' THEN 10
                                          WHEN 'mid_market' THEN 21 ELSE 45 END AS every) AS cd
              CROSS JOIN generate_series(0, days / cd.every + 1) AS j
              WHERE csm_demo._draw(r.n, 225, j, seed) < 0.8) AS c
        UNION ALL
        -- one note per trouble, a competitor or budget one sometimes followed up 1-4 weeks later
        SELECT 1000 + 10 * v.i + f.again, v.t - f.again * (7 + floor(csm_demo._draw(r.n, 226, v.i, seed) * 22)::integer),
               v.kind, v.bodies[1 + floor(csm_demo._draw(r.n, 227, 10 * v.i + f.again, seed) * array_length(v.bodies, 1))::integer]
        FROM (VALUES (1, r.competitor_t, 'competitor_mention',
                      ARRAY['Asked how we compare with Northwind Success', 'Evaluating Retainly for next year',
                            'Procurement requested a quote from ClearPath', 'Their new VP used Pulseboard before']),
                     (2, r.budget_t, 'budget_concern',
                      ARRAY['Budget cut for next fiscal year', 'Asked for a discount at renewal',
                            'CFO is reviewing all software spend', 'Wants to reduce seats at renewal']),
                     (3, r.org_t, 'org_change',
                      ARRAY['Reorganisation: the team moves under IT', 'Acquired; new leadership reviews vendors',
                            'Department restructured with new priorities', 'Layoffs announced']),
                     (4, r.delay_t, 'implementation_delay',
                      ARRAY['Integration rollout postponed a quarter', 'Data migration stalled on their side',
                            'Rollout paused: no project owner'])) AS v(i, t, kind, bodies)
        CROSS JOIN LATERAL (SELECT 0 AS again
                            UNION ALL
                            SELECT 1 WHERE v.i <= 2 AND csm_demo._draw(r.n, 228, v.i, seed) < 0.35) AS f
        WHERE v.t IS NOT NULL
        UNION ALL
        -- escalations: one, or a cluster of two or three within about six weeks
        SELECT 2000 + e, r.escalation_t + CASE WHEN r.escalations = 1 THEN 0
                                               ELSE round((csm_demo._draw(r.n, 229, e, seed) - 0.5) * 40)::integer END,
               'escalation',
               (ARRAY['Escalation: reports failing to load', 'Escalation: data sync broken for a week',
                      'Escalation: SSO outage blocked the team', 'Escalation: billing error on the invoice',
                      'Escalation: support too slow on a P1', 'Escalation: export lost data'])
                   [1 + floor(csm_demo._draw(r.n, 230, e, seed) * 6)::integer]
        FROM generate_series(1, r.escalations) AS e
        WHERE r.escalation_t IS NOT NULL
        UNION ALL
        SELECT 3000 + e, csm_demo._pick(true, csm_demo._draw(r.n, 231, e, seed), r.ex_lo, r.ex_hi, r.life_lo, r.life_hi),
               'expansion_discussion',
               (ARRAY['Interested in the analytics add-on', 'Discussed adding seats for a new team',
                      'Another department wants a pilot', 'Asked about the enterprise plan'])
                   [1 + floor(csm_demo._draw(r.n, 232, e, seed) * 4)::integer]
        FROM generate_series(1, r.expansions) AS e
        UNION ALL
        SELECT 4000, r.sponsor_t, 'note',
               'Executive sponsor ' || csm_demo._person(r.n, 1, seed) || ' has left the company'
        WHERE r.sponsor_t IS NOT NULL
        UNION ALL
        SELECT 4001, r.champion_t, 'note',
               'Our champion ' || csm_demo._person(r.n, 2, seed) || ' has moved on'
        WHERE r.champion_t IS NOT NULL
        UNION ALL
        SELECT 4002, r.life_lo + floor(csm_demo._rand(r.n, 134, seed) * 7)::integer, 'note',
               'Customer confirmed they will not renew'
        WHERE r.churned_on IS NOT NULL
    ) AS y
    WHERE y.t BETWEEN r.life_lo AND r.life_hi
) AS x
$$;
COMMENT ON FUNCTION csm_demo.generate_notes(integer, integer, date, integer) IS
    'CRM notes of the demo accounts (csm.account_note rows) over the days ending at as_of; deterministic, writes nothing.';

-- Touchpoints: a monthly meeting (and a quarterly business review for
-- enterprise and strategic accounts), attended or not; an outbound email
-- every two weeks, answered or not (unknown for the last three days, as is
-- whether a meeting on as_of was attended); and now and then an inbound
-- email or call.  Attendance, answers and inbound
-- contact fall while the account is quiet.
CREATE OR REPLACE FUNCTION csm_demo.generate_engagements(accounts integer, days integer, as_of date, seed integer DEFAULT 42)
RETURNS TABLE (external_id text, occurred_at timestamptz, kind text, direction text, responded boolean, attended boolean)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT r.external_id, csm_demo._at(as_of - x.t, csm_demo._draw(r.n, 240, x.k, seed), r.tz_hours),
       x.kind, x.direction,
       CASE WHEN x.direction = 'outbound' AND x.kind = 'email' AND x.t >= 3
            THEN x.u < CASE WHEN x.t BETWEEN r.quiet_lo AND r.quiet_hi THEN r.respond_quiet ELSE r.respond END END,
       CASE WHEN x.kind IN ('meeting', 'qbr') AND x.t >= 1
            THEN x.u < CASE WHEN x.t BETWEEN r.quiet_lo AND r.quiet_hi THEN r.attend_quiet ELSE r.attend END END
FROM (SELECT * FROM csm_demo._relations(accounts, days, as_of, seed) OFFSET 0) AS r
CROSS JOIN LATERAL (
    -- k numbers the touchpoints of an account, for their own draws
    SELECT y.k, y.t, y.kind, y.direction, csm_demo._draw(r.n, 241, y.k, seed) AS u
    FROM (
        SELECT j AS k, 30 * j + floor(csm_demo._rand(r.n, 135, seed) * 30)::integer
                       + floor(csm_demo._draw(r.n, 242, j, seed) * 5)::integer AS t,
               'meeting' AS kind, 'outbound' AS direction
        FROM generate_series(0, days / 30 + 1) AS j
        UNION ALL
        SELECT 1000 + j, 91 * j + floor(csm_demo._rand(r.n, 136, seed) * 91)::integer, 'qbr', 'outbound'
        FROM generate_series(0, days / 91 + 1) AS j
        WHERE r.segment IN ('enterprise', 'strategic')
        UNION ALL
        SELECT 2000 + j, 14 * j + floor(csm_demo._rand(r.n, 137, seed) * 14)::integer
                         + floor(csm_demo._draw(r.n, 243, j, seed) * 4)::integer, 'email', 'outbound'
        FROM generate_series(0, days / 14 + 1) AS j
        UNION ALL
        SELECT 3000 + z.j, z.t, CASE WHEN csm_demo._draw(r.n, 244, z.j, seed) < 0.3 THEN 'call' ELSE 'email' END, 'inbound'
        FROM (SELECT j, 7 * j + floor(csm_demo._draw(r.n, 245, j, seed) * 7)::integer AS t
              FROM generate_series(0, days / 7 + 1) AS j) AS z
        WHERE csm_demo._draw(r.n, 246, z.j, seed)
              < CASE WHEN z.t BETWEEN r.quiet_lo AND r.quiet_hi THEN r.inbound_quiet ELSE r.inbound END
    ) AS y
    WHERE y.t BETWEEN r.life_lo AND r.life_hi
) AS x
$$;
COMMENT ON FUNCTION csm_demo.generate_engagements(integer, integer, date, integer) IS
    'Meetings, business reviews, emails and calls of the demo accounts (csm.engagement rows) over the days ending at as_of; deterministic, writes nothing.';

-- Loading ----------------------------------------------------------------

CREATE OR REPLACE FUNCTION csm_demo.load(
    accounts integer DEFAULT 2000,
    days integer DEFAULT 180,
    as_of date DEFAULT (now() AT TIME ZONE 'UTC')::date,
    seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql VOLATILE
-- JIT compiling the generator's expressions costs more than it saves; the
-- rollup trigger's transition tables stay in memory with some work_mem.
SET jit = off
SET work_mem = '64MB'
AS $$
DECLARE
    started     timestamptz := clock_timestamp();
    first_day   date := as_of - days + 1;
    chunk_days  integer;
    chunk_first date;
    n_accounts  bigint;
    n_members   bigint;
    n_nps       bigint;
    n_people    bigint;
    n_payments  bigint;
    n_notes     bigint;
    n_touches   bigint;
    n_rows      bigint;
    n_events    bigint := 0;
    rel         regclass;
BEGIN
    IF accounts IS NULL OR accounts < 1 OR days IS NULL OR days < 1 OR as_of IS NULL OR seed IS NULL THEN
        RAISE EXCEPTION 'csm_demo.load() needs accounts >= 1, days >= 1, an as_of date and a seed'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM csm_demo.events)
       OR EXISTS (SELECT 1 FROM csm.account a WHERE a.external_id = 'org_00001')
       OR EXISTS (SELECT 1 FROM csm.team_member m WHERE m.handle IN (SELECT t.handle FROM csm_demo.team() t)) THEN
        RAISE EXCEPTION 'the csm demo portfolio is already loaded in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'csm_demo.events has rows, or csm.account has org_00001, or csm.team_member has a demo handle.',
                  HINT = 'Load into a new database: createdb, CREATE EXTENSION csm, psql -f test/data/portfolio.sql.';
    END IF;

    INSERT INTO csm.account (external_id, name, plan, segment, arr, seats, started_at, renewal_date, status, properties,
                             churned_at)
    SELECT g.*, (g.properties->>'churned_on')::date::timestamp AT TIME ZONE 'UTC'
    FROM csm_demo.generate_accounts(accounts, as_of, seed) AS g ORDER BY g.external_id;
    GET DIAGNOSTICS n_accounts = ROW_COUNT;

    INSERT INTO csm.team_member (handle, name, roles, skills, teams, capacity, status, last_seen_at)
    SELECT t.handle, t.name, t.roles, t.skills, t.teams, t.capacity, t.status,
           now() - CASE t.status WHEN 'online' THEN interval '2 minutes'
                                 WHEN 'away' THEN interval '40 minutes' ELSE interval '14 hours' END
    FROM csm_demo.team() AS t;
    GET DIAGNOSTICS n_members = ROW_COUNT;

    INSERT INTO csm.nps_response (account_id, responded_at, score, comment)
    SELECT a.account_id, r.responded_at, r.score, r.comment
    FROM csm_demo.generate_nps(accounts, days, as_of, seed) AS r
    JOIN csm.account a ON a.external_id = r.external_id
    ORDER BY r.responded_at, r.external_id;
    GET DIAGNOSTICS n_nps = ROW_COUNT;

    -- What the CRM and billing know: the churn signals' input tables.
    INSERT INTO csm.stakeholder (account_id, name, email, title, role, is_key, started_at, departed_at)
    SELECT a.account_id, s.name, s.email, s.title, s.role, s.is_key, s.started_at, s.departed_at
    FROM csm_demo.generate_stakeholders(accounts, days, as_of, seed) AS s
    JOIN csm.account a ON a.external_id = s.external_id
    ORDER BY s.external_id, s.started_at, s.role, s.name, s.departed_at;
    GET DIAGNOSTICS n_people = ROW_COUNT;

    INSERT INTO csm.payment (account_id, invoice_ref, amount, due_on, paid_on, status)
    SELECT a.account_id, p.invoice_ref, p.amount, p.due_on, p.paid_on, p.status
    FROM csm_demo.generate_payments(accounts, days, as_of, seed) AS p
    JOIN csm.account a ON a.external_id = p.external_id
    ORDER BY p.external_id, p.due_on;
    GET DIAGNOSTICS n_payments = ROW_COUNT;

    INSERT INTO csm.account_note (account_id, noted_at, author, kind, body)
    SELECT a.account_id, o.noted_at, o.author, o.kind, o.body
    FROM csm_demo.generate_notes(accounts, days, as_of, seed) AS o
    JOIN csm.account a ON a.external_id = o.external_id
    ORDER BY o.noted_at, o.external_id, o.kind, o.body, o.author;
    GET DIAGNOSTICS n_notes = ROW_COUNT;

    INSERT INTO csm.engagement (account_id, occurred_at, kind, direction, responded, attended)
    SELECT a.account_id, e.occurred_at, e.kind, e.direction, e.responded, e.attended
    FROM csm_demo.generate_engagements(accounts, days, as_of, seed) AS e
    JOIN csm.account a ON a.external_id = e.external_id
    ORDER BY e.occurred_at, e.external_id, e.kind, e.direction, e.responded, e.attended;
    GET DIAGNOSTICS n_touches = ROW_COUNT;
    RAISE NOTICE 'csm_demo: % stakeholders, % invoices, % notes, % engagements (% s)', n_people, n_payments, n_notes,
        n_touches, round(extract(epoch FROM clock_timestamp() - started)::numeric, 1);

    IF NOT EXISTS (SELECT 1 FROM csm.usage_source s WHERE s.relation = 'csm_demo.events'::regclass) THEN
        PERFORM csm.track_usage('csm_demo.events', 'org_user_id', 'occurred_at', 'event', 'user_id');
    END IF;

    -- The table is empty: building its index once at the end is cheaper
    -- than keeping it up to date row by row.
    DROP INDEX IF EXISTS csm_demo.events_org_user_id_occurred_at_idx;

    -- A few large statements, so the rollup trigger sees big batches; the
    -- window shrinks as accounts grow so that each stays about the same size.
    chunk_days := greatest(1, least(30, 60000 / accounts));
    chunk_first := first_day;
    WHILE chunk_first <= as_of LOOP
        INSERT INTO csm_demo.events (org_user_id, user_id, event, occurred_at)
        SELECT e.org_user_id, e.user_id, e.event, e.occurred_at
        FROM csm_demo._events(accounts, chunk_first, least(as_of, chunk_first + chunk_days - 1), as_of, seed) AS e;
        GET DIAGNOSTICS n_rows = ROW_COUNT;
        n_events := n_events + n_rows;
        RAISE NOTICE 'csm_demo: % events from % on (% s)', n_rows, chunk_first,
            round(extract(epoch FROM clock_timestamp() - started)::numeric, 1);
        chunk_first := chunk_first + chunk_days;
    END LOOP;
    CREATE INDEX IF NOT EXISTS events_org_user_id_occurred_at_idx ON csm_demo.events (org_user_id, occurred_at);

    -- Fresh statistics, so the first queries on the portfolio plan well.
    FOR rel IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
        WHERE c.relnamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace, 'csm_demo'::regnamespace) AND c.relkind IN ('r', 'p')
        ORDER BY 1
    LOOP
        EXECUTE format('ANALYZE %s', rel);
    END LOOP;

    RETURN format('csm_demo: %s accounts, %s team members, %s NPS answers, %s stakeholders, %s invoices, %s notes, '
                  '%s engagements, %s events over %s days to %s (seed %s) in %s s',
                  n_accounts, n_members, n_nps, n_people, n_payments, n_notes, n_touches, n_events, days, as_of, seed,
                  round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
END $$;
COMMENT ON FUNCTION csm_demo.load(integer, integer, date, integer) IS
    'Loads the demo portfolio into csm: accounts, team, NPS, stakeholders, payments, notes, engagements, and events through the usage rollup. Once per database.';

-- Health metrics for the demo --------------------------------------------
-- Events are generated for a panel of at most csm_demo.max_users users per
-- account, so the observed DAU / seats understates a larger account by
-- panel / seats. Scaling it back gives the DAU ratio its shape intends,
-- which is what the demo scores health with (csm.refresh_health() takes any
-- metrics table or view).
CREATE OR REPLACE FUNCTION csm_demo.account_metrics_at(as_of date)
RETURNS TABLE (account_id bigint, external_id text, status text, dau_ratio float8, features_adopted integer,
               days_since_last_activity integer, usage_trend float8, tickets_per_month float8, nps integer,
               days_to_renewal integer)
LANGUAGE sql STABLE AS $$
    SELECT m.account_id, m.external_id, m.status,
           m.dau_ratio * a.seats / nullif(csm_demo._panel_size(a.seats), 0),
           m.features_adopted, m.days_since_last_activity, m.usage_trend, m.tickets_per_month, m.nps,
           m.days_to_renewal
    FROM csm.account_metrics_at(as_of) m
    JOIN csm.account a ON a.account_id = m.account_id
$$;
COMMENT ON FUNCTION csm_demo.account_metrics_at(date) IS
    'csm.account_metrics_at() with dau_ratio scaled from the generated user panel to all seats.';

CREATE OR REPLACE VIEW csm_demo.account_metrics AS
SELECT * FROM csm_demo.account_metrics_at((now() AT TIME ZONE 'UTC')::date);
COMMENT ON VIEW csm_demo.account_metrics IS 'Today''s demo metrics, dau_ratio scaled to all seats.';

-- Lifecycle (issue 13 section 1): the onboarding cohort's milestones.  The
-- usage ones are detected from the demo's events (first value: 10 report
-- views; the first integration sync); the others are recorded as a CSM
-- would, on deterministic days after started_at for a deterministic share
-- of accounts.  Then csm.refresh_lifecycle() sets every stage.
CREATE OR REPLACE FUNCTION csm_demo.load_lifecycle(seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n_manual bigint;
    moved    integer;
BEGIN
    INSERT INTO csm.core_feature (feature, description)
    SELECT f.feature, 'demo: a core feature' FROM csm_demo.features() f WHERE f.rank <= 5
    ON CONFLICT (feature) DO NOTHING;
    UPDATE csm.milestone SET detect_feature = 'report.view', detect_events = 10 WHERE milestone = 'key_features_activated';
    UPDATE csm.milestone SET detect_feature = 'integration.sync', detect_events = 1 WHERE milestone = 'first_integration_deployed';
    -- (milestone, salt, share of accounts, first day, last day after the start)
    INSERT INTO csm.account_milestone (account_id, milestone, achieved_at, source, recorded_by, note)
    SELECT x.account_id, x.milestone, x.achieved_at, 'manual', current_user, 'demo'
    FROM (SELECT a.account_id, m.milestone, m.salt, m.share,
                 a.started_at + make_interval(days => m.first_day + floor(csm_demo._rand(a.account_id, m.salt + 1, seed)
                                                                          * (m.last_day - m.first_day + 1))::integer)
                     AS achieved_at
          FROM csm.account a
          CROSS JOIN (VALUES ('kickoff_call_held', 71, 0.92, 1, 6), ('success_plan_created', 73, 0.80, 3, 9),
                             ('training_completed', 75, 0.70, 10, 28), ('first_business_outcome', 77, 0.45, 30, 80))
                     AS m (milestone, salt, share, first_day, last_day)
          WHERE a.started_at > now() - interval '180 days') x
    WHERE csm_demo._rand(x.account_id, x.salt, seed) < x.share AND x.achieved_at < now()
    ON CONFLICT (account_id, milestone) DO NOTHING;
    GET DIAGNOSTICS n_manual = ROW_COUNT;
    moved := csm.refresh_lifecycle();
    RETURN format('csm_demo: %s milestones recorded by hand, %s detected from usage; %s accounts changed stage or phase',
                  n_manual, (SELECT count(*) FROM csm.account_milestone WHERE source = 'usage'), moved);
END $$;
COMMENT ON FUNCTION csm_demo.load_lifecycle(integer) IS
    'Demo lifecycle: core features, usage-detected milestones, milestones recorded by hand for accounts started in the last 180 days, then csm.refresh_lifecycle().';

-- Revenue history (csm.arr_change) -------------------------------------------
-- Each account's ARR from the day it started, ending at its ARR today (0 if
-- it churned): a step at each yearly renewal (hot accounts expand, healthy
-- ones mostly hold or expand, declining ones often contract), a mid-term
-- upsell for hot accounts, a churn and return some months apart for a few
-- healthy ones, and the churn of churned accounts.  Worked backwards from
-- today's ARR, rounded to $100; deterministic in (seed).
CREATE OR REPLACE FUNCTION csm_demo.generate_arr_history(as_of date, seed integer DEFAULT 42)
RETURNS TABLE (external_id text, effective_date date, arr numeric)
LANGUAGE sql STABLE AS $$
WITH acct AS (
    SELECT a.external_id, substr(a.external_id, 5)::bigint AS n, a.properties->>'shape' AS shape,
           (a.started_at AT TIME ZONE 'UTC')::date AS started_on,
           (a.churned_at AT TIME ZONE 'UTC')::date AS churned_on,
           least(as_of, coalesce((a.churned_at AT TIME ZONE 'UTC')::date - 1, as_of)) AS live_to,
           coalesce(a.arr, 0) AS arr
    FROM csm.account a
    WHERE a.external_id ~ '^org_[0-9]+$' AND coalesce(a.arr, 0) > 0
), steps AS (
    -- yearly renewals
    SELECT c.external_id, (c.started_on + make_interval(years => k))::date AS d,
           CASE c.shape
               WHEN 'hot' THEN CASE WHEN u < 0.70 THEN 1.2 + 0.3 * v ELSE 1 END
               WHEN 'healthy' THEN CASE WHEN u < 0.35 THEN 1.1 + 0.2 * v WHEN u < 0.45 THEN 0.85 + 0.1 * v ELSE 1 END
               WHEN 'declining' THEN CASE WHEN u < 0.30 THEN 0.7 + 0.2 * v WHEN u < 0.40 THEN 1.1 ELSE 1 END
               WHEN 'churning' THEN CASE WHEN u < 0.15 THEN 0.8 ELSE 1 END
               ELSE 1 END AS m
    FROM acct c
    CROSS JOIN LATERAL generate_series(1, 5) AS k
    CROSS JOIN LATERAL (SELECT csm_demo._rand(c.n, 60 + k, seed) AS u, csm_demo._rand(c.n, 70 + k, seed) AS v) AS r
    WHERE (c.started_on + make_interval(years => k))::date <= c.live_to
    UNION ALL
    -- a mid-term upsell seven months in
    SELECT c.external_id, (c.started_on + interval '7 months')::date, 1.15
    FROM acct c
    WHERE c.shape = 'hot' AND (c.started_on + interval '7 months')::date <= c.live_to
), levels AS (
    -- the ARR from each step on: today's divided by the later steps' factors
    SELECT s.external_id, s.d,
           CASE WHEN count(*) OVER later = 0 THEN c.arr
                ELSE round(c.arr / exp(coalesce(sum(ln(s.m)) OVER later, 0)) / 100) * 100 END AS arr
    FROM steps s JOIN acct c USING (external_id)
    WINDOW later AS (PARTITION BY s.external_id ORDER BY s.d ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
), opening AS (
    SELECT c.external_id, c.started_on AS d,
           round(c.arr / exp(coalesce((SELECT sum(ln(s.m)) FROM steps s WHERE s.external_id = c.external_id), 0)) / 100) * 100
               AS arr
    FROM acct c
), away AS (
    -- a few healthy accounts left for two to five months in the past year and a half
    SELECT c.external_id, (as_of - 250 - floor(csm_demo._rand(c.n, 81, seed) * 240)::integer) AS left_on,
           60 + floor(csm_demo._rand(c.n, 82, seed) * 90)::integer AS days_away
    FROM acct c
    WHERE c.shape = 'healthy' AND csm_demo._rand(c.n, 80, seed) < 0.05 AND c.started_on < as_of - 600
), snapshots AS (
    SELECT o.external_id, o.d, o.arr FROM opening o
    UNION ALL
    SELECT l.external_id, l.d, l.arr FROM levels l
)
SELECT s.external_id, s.d, s.arr
FROM snapshots s
WHERE NOT EXISTS (SELECT 1 FROM away w WHERE w.external_id = s.external_id AND s.d > w.left_on AND s.d <= w.left_on + w.days_away)
UNION ALL
SELECT w.external_id, w.left_on, 0 FROM away w
UNION ALL
-- back at the ARR in effect by then
SELECT w.external_id, w.left_on + w.days_away,
       (SELECT s.arr FROM snapshots s WHERE s.external_id = w.external_id AND s.d <= w.left_on + w.days_away
        ORDER BY s.d DESC LIMIT 1)
FROM away w
UNION ALL
SELECT c.external_id, c.churned_on, 0 FROM acct c WHERE c.churned_on IS NOT NULL
$$;
COMMENT ON FUNCTION csm_demo.generate_arr_history(date, integer) IS
    'ARR snapshots (csm.arr_snapshot) of every demo account from its start to today, ending at its current ARR (0 if churned).';

CREATE OR REPLACE FUNCTION csm_demo.load_revenue(as_of date DEFAULT (now() AT TIME ZONE 'UTC')::date, seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    started timestamptz := clock_timestamp();
    n bigint;
BEGIN
    SELECT csm.load_arr_history(array_agg((h.external_id, h.effective_date, h.arr)::csm.arr_snapshot
                                          ORDER BY h.external_id, h.effective_date), 'demo billing history')
    INTO n
    FROM csm_demo.generate_arr_history(as_of, seed) AS h;
    RETURN format('csm_demo: %s ARR movements (csm.arr_change) in %s s', n,
                  round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
END $$;
COMMENT ON FUNCTION csm_demo.load_revenue(date, integer) IS
    'Loads the demo accounts'' ARR history through csm.load_arr_history: new, expansion, contraction, churn and reactivation.';

-- Renewals for the demo ----------------------------------------------------
-- The renewals of the last 12 months, closed, and today's open ones.  An
-- active account renewed on each anniversary of its start; a churned one
-- was lost on its last renewal date (its churn day).  A renewal's target is
-- the ARR in effect the day before, its final ARR the ARR from that day on,
-- both read from csm.arr_change when the billing history is loaded (else
-- today's ARR, the target set by the account's shape: hot and healthy
-- accounts upsell more often, declining and churning ones downsell).  Each was opened 90 days before its date and
-- closed 15 to 70 days later (never after today).  Then
-- csm.refresh_renewals() opens the renewals due within 90 days.
CREATE OR REPLACE FUNCTION csm_demo.load_renewals(as_of date DEFAULT (now() AT TIME ZONE 'UTC')::date, seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    started timestamptz := clock_timestamp();
    n_closed bigint;
    r record;
BEGIN
    WITH due AS (
        SELECT a.account_id, a.status, a.arr, a.properties->>'shape' AS shape,
               -- its billing history was loaded (csm_demo.load_revenue)
               EXISTS (SELECT 1 FROM csm.arr_change c WHERE c.account_id = a.account_id AND c.source = 'billing') AS billed,
               CASE WHEN a.status = 'churned' THEN a.renewal_date
                    ELSE (a.renewal_date - interval '1 year')::date END AS d
        FROM csm.account a
        WHERE a.external_id ~ '^org_[0-9]+$' AND a.renewal_date IS NOT NULL
    ), history AS (
        SELECT u.account_id, u.status, u.d,
               coalesce((SELECT c.arr_after FROM csm.arr_change c WHERE c.account_id = u.account_id AND c.effective_date < u.d
                           AND u.billed
                         ORDER BY c.effective_date DESC, c.change_id DESC LIMIT 1),
                        -- no revenue history: the shape's odds of an upsell or a downsell
                        round(u.arr / CASE WHEN u.status = 'churned' THEN 1
                                           WHEN x.p < CASE u.shape WHEN 'hot' THEN 0.6 WHEN 'healthy' THEN 0.3 ELSE 0.05 END
                                               THEN 1.1 + 0.3 * x.q
                                           WHEN x.p > CASE u.shape WHEN 'declining' THEN 0.6 WHEN 'churning' THEN 0.7 ELSE 0.9 END
                                               THEN 0.75 + 0.2 * x.q
                                           ELSE 1 END::numeric / 100) * 100) AS target,
               CASE WHEN u.status = 'churned' THEN 0
                    ELSE coalesce((SELECT c.arr_after FROM csm.arr_change c WHERE c.account_id = u.account_id AND c.effective_date <= u.d
                                     AND u.billed
                                   ORDER BY c.effective_date DESC, c.change_id DESC LIMIT 1), u.arr) END AS final,
               (u.d - 90)::timestamp AT TIME ZONE 'UTC' + interval '9 hours' AS opened_at,
               15 + floor(csm_demo._rand(u.account_id, 90, seed) * 56)::integer AS cycle_days
        FROM due u
        JOIN csm.account a ON a.account_id = u.account_id
        CROSS JOIN LATERAL (SELECT csm_demo._rand(u.account_id, 91, seed) AS p, csm_demo._rand(u.account_id, 92, seed) AS q) x
        WHERE u.d > as_of - 365 AND u.d <= as_of
          AND u.d >= (a.started_at AT TIME ZONE 'UTC')::date + 365
    )
    INSERT INTO csm.renewal (account_id, renewal_date, target_arr, final_arr, outcome, stage, opened_at, closed_at,
                             closed_via, closed_by)
    SELECT h.account_id, h.d, coalesce(h.target, 0), coalesce(h.final, 0),
           csm.renewal_outcome(coalesce(h.target, 0), coalesce(h.final, 0)), 'closed', h.opened_at,
           least(h.opened_at + make_interval(days => h.cycle_days), now()), 'close_renewal', current_user
    FROM history h
    ORDER BY h.account_id;
    GET DIAGNOSTICS n_closed = ROW_COUNT;
    r := csm.refresh_renewals();
    RETURN format('csm_demo: %s renewals due in the last 12 months, closed; today %s opened, %s reminders, in %s s',
                  n_closed, r.opened, r.reminded, round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
END $$;
COMMENT ON FUNCTION csm_demo.load_renewals(date, integer) IS
    'Loads the demo accounts'' renewals of the last 12 months (closed: renewed, upsell, downsell, churned) and opens today''s (csm.refresh_renewals).';

-- Segments (issue 13, section 4) ------------------------------------------
-- The generated accounts carry the segment of their shape: inside the
-- seed's ranges it is what csm.segment_rule derives anyway (kept as
-- derived), and strategic, which no rule gives, is kept as set by hand.
-- This adds a key account pinned by hand (the largest enterprise account,
-- by csm.set_segment), and returns how the portfolio is placed.
CREATE OR REPLACE FUNCTION csm_demo.load_segments()
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    pinned text;
BEGIN
    SELECT a.external_id || ' ' || csm.set_segment(a.external_id, 'strategic') INTO pinned
    FROM csm.account a WHERE a.segment = 'enterprise' AND a.status = 'active'
    ORDER BY a.arr DESC, a.external_id LIMIT 1;
    RETURN format('csm_demo: segments: %s set by hand, %s derived by csm.segment_rule; %s pinned; refresh_segments moved %s',
                  (SELECT count(*) FROM csm.account WHERE segment_manual), (SELECT count(*) FROM csm.account WHERE NOT segment_manual),
                  pinned, csm.refresh_segments());
END $$;
COMMENT ON FUNCTION csm_demo.load_segments() IS
    'Pins the largest enterprise account as strategic by hand; returns how the portfolio is placed.';

-- The NPS program (issue 13, section 5) ----------------------------------
--
-- csm_demo.load() recorded the relationship surveys (csm_demo.generate_nps);
-- each opened its follow-up (csm.nps_followup).  This adds the transactional
-- answers given after a support case or an onboarding call (about a third of
-- the active accounts, one to three each, near their last relationship
-- score) and the milestone answers of accounts that started in the period,
-- then works every follow-up the way a team does: older ones closed (most
-- owners told within a day and the customer called within two, some late;
-- a sixth of the detractors escalated), the last few days' still open,
-- notified or followed up.  Deterministic for a seed; run once, after load().
CREATE OR REPLACE FUNCTION csm_demo.load_nps(days integer DEFAULT 180, seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    n_extra bigint;
    n_loops bigint;
BEGIN
    INSERT INTO csm.nps_response (account_id, responded_at, score, survey_kind, comment)
    SELECT a.account_id, x.at,
           least(10, greatest(0, coalesce(l.score, 8) + round(4 * (csm_demo._unit(hashint8extended(3, x.h)) - 0.5))))::smallint,
           x.kind,
           CASE WHEN x.kind = 'transactional' THEN 'After support case' ELSE 'After onboarding milestone' END
    FROM csm.account a
    LEFT JOIN LATERAL (SELECT r.score FROM csm.nps_response r WHERE r.account_id = a.account_id
                       ORDER BY r.responded_at DESC LIMIT 1) l ON true
    CROSS JOIN LATERAL (
        SELECT k.kind, hashint8extended(k.j, hashint8extended(a.account_id, seed + 7919)) AS h,
               greatest(coalesce(a.started_at, a.created_at), now() - days * interval '1 day')
               + csm_demo._unit(hashint8extended(k.j + 50, hashint8extended(a.account_id, seed + 7919)))
                 * (least(coalesce(a.churned_at, now()), now() - interval '1 hour')
                    - greatest(coalesce(a.started_at, a.created_at), now() - days * interval '1 day')) AS at
        FROM (SELECT 'transactional'::text AS kind, j FROM generate_series(1, 3) AS j
              WHERE csm_demo._unit(hashint8extended(a.account_id, seed + 31)) < 0.35
                AND j <= 1 + floor(csm_demo._unit(hashint8extended(a.account_id, seed + 37)) * 3)
              UNION ALL
              SELECT 'milestone', 10
              WHERE a.started_at > now() - days * interval '1 day'
                AND csm_demo._unit(hashint8extended(a.account_id, seed + 41)) < 0.6) k
    ) x
    WHERE x.at > coalesce(a.started_at, a.created_at)
    ORDER BY x.at, a.account_id;
    GET DIAGNOSTICS n_extra = ROW_COUNT;

    -- Work the loops: u1 when the owner was told, u2 when the customer was
    -- called, u3 the outcome, u4 the state of the recent ones.
    WITH w AS (
        SELECT l.account_id, l.response_id, l.opened_at, r.category,
               now() - l.opened_at AS age,
               csm_demo._unit(hashint8extended(1, hashint8extended(l.response_id, seed))) AS u1,
               csm_demo._unit(hashint8extended(2, hashint8extended(l.response_id, seed))) AS u2,
               csm_demo._unit(hashint8extended(3, hashint8extended(l.response_id, seed))) AS u3,
               csm_demo._unit(hashint8extended(4, hashint8extended(l.response_id, seed))) AS u4
        FROM csm.nps_loop l JOIN csm.nps_response r USING (account_id, response_id)
    ),
    t AS (
        SELECT w.*,
               w.opened_at + CASE WHEN w.u1 < 0.85 THEN 1 + w.u1 / 0.85 * 22 ELSE 24 + (w.u1 - 0.85) / 0.15 * 30 END
                             * interval '1 hour' AS told,
               w.opened_at + CASE WHEN w.u2 < 0.8 THEN 26 + w.u2 / 0.8 * 21 ELSE 48 + (w.u2 - 0.8) / 0.2 * 48 END
                             * interval '1 hour' AS called,
               CASE WHEN w.age > interval '4 days' THEN
                        CASE WHEN w.category = 'detractor' AND w.u3 < 0.17 THEN 'escalated' ELSE 'resolved' END
                    WHEN w.age > interval '48 hours' THEN
                        CASE WHEN w.u4 < 0.6 THEN 'followed_up' WHEN w.u4 < 0.85 THEN 'notified' ELSE 'open' END
                    WHEN w.age > interval '24 hours' THEN CASE WHEN w.u4 < 0.6 THEN 'notified' ELSE 'open' END
                    ELSE CASE WHEN w.u4 < 0.5 THEN 'notified' ELSE 'open' END
               END AS state
        FROM w
    )
    UPDATE csm.nps_loop l
    SET state = t.state,
        notified_at = CASE WHEN t.state <> 'open' THEN least(t.told, now()) END,
        followed_up_at = CASE WHEN t.state IN ('followed_up', 'resolved', 'escalated') THEN least(greatest(t.called, t.told), now()) END,
        escalated_at = CASE WHEN t.state = 'escalated' THEN least(greatest(t.called, t.told) + interval '1 day', now()) END,
        resolved_at = CASE WHEN t.state = 'resolved' THEN least(greatest(t.called, t.told) + (1 + 4 * t.u3) * interval '1 day', now()) END,
        outcome = CASE WHEN t.state = 'escalated' THEN 'Escalated to the VP of Customer Success'
                       WHEN t.state <> 'resolved' THEN NULL
                       WHEN t.category = 'promoter' THEN (ARRAY['Referral agreed', 'Case study scheduled',
                                                                'Thanked; not ready to be a reference'])[1 + floor(t.u3 * 3)::integer]
                       WHEN t.category = 'passive' THEN (ARRAY['Feature adoption session booked',
                                                               'Improvement request logged with product'])[1 + floor(t.u3 * 2)::integer]
                       ELSE (ARRAY['Recovery plan agreed with the sponsor', 'Fix shipped; customer confirmed',
                                   'Pricing reviewed with finance'])[1 + floor(t.u3 * 3)::integer]
                  END,
        updated_by = current_user
    FROM t
    WHERE l.account_id = t.account_id AND l.response_id = t.response_id;
    GET DIAGNOSTICS n_loops = ROW_COUNT;
    ANALYZE csm.nps_response;
    ANALYZE csm.nps_loop;
    RETURN format('csm_demo: %s transactional and milestone NPS answers added, %s follow-ups worked', n_extra, n_loops);
END $$;
COMMENT ON FUNCTION csm_demo.load_nps(integer, integer) IS
    'Adds transactional and milestone NPS answers to the demo portfolio and works every follow-up (csm.nps_loop) as a team would; once, after csm_demo.load().';

-- Expansion (issue 13 section 6) -------------------------------------------
-- What billing would sync for expansion: the seats assigned (seats_used)
-- and, for the API-heavy hot accounts, a monthly cap on events
-- (usage_cap), set from each account's shape: hot accounts use 90-100% of
-- their seats and sit at 75-110% of a cap on their last 30 days of events;
-- healthy ones 60-95% of their seats; declining and churning ones 30-70%;
-- new ones 20-80%.  Deterministic in the seed.  Then the expansion signals
-- are refreshed.
CREATE OR REPLACE FUNCTION csm_demo.load_expansion(seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n_seats bigint;
    n_caps  bigint;
    r       record;
BEGIN
    UPDATE csm.account a
    SET properties = a.properties || jsonb_build_object('seats_used', least(a.seats, round(a.seats * (
            CASE a.properties->>'shape' WHEN 'hot' THEN 0.9 + 0.1 * u WHEN 'healthy' THEN 0.6 + 0.35 * u
                                        WHEN 'new' THEN 0.2 + 0.6 * u ELSE 0.3 + 0.4 * u END))))
    FROM (SELECT x.account_id, csm_demo._rand(substr(x.external_id, 5)::bigint, 61, seed) AS u
          FROM csm.account x WHERE x.external_id LIKE 'org\_%') v
    WHERE v.account_id = a.account_id AND a.status = 'active' AND a.seats > 0;
    GET DIAGNOSTICS n_seats = ROW_COUNT;

    UPDATE csm.account a
    SET properties = a.properties || jsonb_build_object('usage_cap',
            (ceil(e.events / (0.75 + 0.35 * csm_demo._rand(substr(a.external_id, 5)::bigint, 62, seed)) / 1000) * 1000)::bigint)
    FROM (SELECT d.account_id, sum(d.events) AS events FROM csm.usage_daily d
          WHERE d.day > (now() AT TIME ZONE 'UTC')::date - 30 GROUP BY d.account_id) e
    WHERE e.account_id = a.account_id AND a.status = 'active' AND a.properties->>'shape' = 'hot' AND e.events > 0;
    GET DIAGNOSTICS n_caps = ROW_COUNT;

    SELECT * INTO r FROM csm.refresh_expansion();
    RETURN format('csm_demo: seats in use for %s accounts, usage caps for %s; expansion signals: %s raised',
                  n_seats, n_caps, r.raised);
END $$;
COMMENT ON FUNCTION csm_demo.load_expansion(integer) IS
    'Sets properties.seats_used (all active accounts) and properties.usage_cap (hot accounts) as a billing sync would, then runs csm.refresh_expansion().';

-- Success plans and business reviews (issue 14, section 3) ----------------

-- The account the demo shows a plan and a review for: the largest active
-- strategic or enterprise account.
CREATE OR REPLACE FUNCTION csm_demo.plan_account() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT a.external_id FROM csm.account a
    WHERE a.status = 'active' AND a.segment IN ('strategic', 'enterprise')
    ORDER BY a.arr DESC NULLS LAST, a.external_id LIMIT 1
$$;
COMMENT ON FUNCTION csm_demo.plan_account() IS 'The demo''s success plan account: the largest active strategic or enterprise account.';

CREATE OR REPLACE FUNCTION csm_demo.load_success_plan(seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    acct text := csm_demo.plan_account();
    today date := (now() AT TIME ZONE 'UTC')::date;
    owner text;
    held bigint := 0;
    r record;
BEGIN
    -- The customer's value metrics, for the review's ROI.
    INSERT INTO csm.value_metric (name, feature, unit_value, description) VALUES
        ('reports exported', 'report.export', 400, 'a day of an analyst (8 h at $50/h) per report'),
        ('workflow runs', 'workflow.run', 150, 'three hours of manual work at $50/h per run')
    ON CONFLICT (name) DO NOTHING;

    -- Reviews held in the past for about half of the strategic and
    -- enterprise accounts, 20 to 110 days ago.
    FOR r IN SELECT a.external_id, a.account_id FROM csm.account a
             WHERE a.status = 'active' AND a.segment IN ('strategic', 'enterprise') AND a.external_id <> acct
               AND csm_demo._rand(a.account_id, 71, seed) < 0.5
             ORDER BY a.account_id LOOP
        PERFORM csm.record_business_review(r.external_id, 'ebr',
                                           now() - (20 + floor(csm_demo._rand(r.account_id, 72, seed) * 90)) * interval '1 day');
        held := held + 1;
    END LOOP;

    SELECT m.handle INTO owner FROM csm.account_assignment x JOIN csm.team_member m USING (member_id)
    JOIN csm.account a ON a.account_id = x.account_id
    WHERE a.external_id = acct AND x.is_primary AND x.ended_at IS NULL;
    PERFORM csm.create_success_plan(acct,
        objectives => jsonb_build_array(
            jsonb_build_object('objective', 'Use 12 of the 14 features', 'metric', 'features_adopted', 'target', 12,
                               'owner', 'Dana Whitfield (VP Operations)'),
            jsonb_build_object('objective', 'Health above 95 by the renewal', 'metric', 'health_score', 'target', 95),
            jsonb_build_object('objective', 'Automate weekly reporting', 'metric', 'reports_automated', 'baseline', 0,
                               'target', 50, 'due_date', today + 60),
            'Train every team lead'),
        timeline => jsonb_build_object('start', today - 30, 'duration', '6 months'),
        stakeholders => jsonb_build_array(
            jsonb_build_object('name', 'Dana Whitfield', 'role', 'VP Operations', 'executive_sponsor', true),
            jsonb_build_object('name', 'Luis Ortega', 'role', 'Admin, champion'),
            jsonb_build_object('name', coalesce(owner, 'unassigned'), 'role', 'CSM', 'side', 'vendor')),
        milestones => jsonb_build_array(
            jsonb_build_object('name', 'Kickoff call', 'due_date', today - 23, 'milestone', 'kickoff_call_held'),
            jsonb_build_object('name', 'Team leads trained', 'due_date', today + 15, 'milestone', 'training_completed'),
            jsonb_build_object('name', 'Executive review', 'due_date', today + 60)),
        metrics => '["nps", "tickets_per_month"]');
    PERFORM csm.record_milestone(acct, 'kickoff_call_held', now() - interval '24 days');
    PERFORM csm.set_success_plan_status(acct, 'objective', 4, 'on_track');
    RETURN format('csm_demo: a success plan for %s; %s past business reviews recorded', acct, held);
END $$;
COMMENT ON FUNCTION csm_demo.load_success_plan(integer) IS
    'Configures two value metrics, records past executive business reviews for about half of the strategic and enterprise accounts, and creates a success plan for csm_demo.plan_account().';

-- Alerts (issue 14, sections 2 and 5) ---------------------------------------

-- What a CS team records by hand that raises outreach alerts: a feature
-- launch (audit log export, for the accounts that read their audit log) and the
-- documented business outcomes of a few healthy accounts; then the hourly
-- csm.run_alerts(), which raises what the refreshes of the load did not
-- (unassigned accounts, usage declines, launches, outcomes).
CREATE OR REPLACE FUNCTION csm_demo.load_alerts(seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n_outcomes integer := 0;
    a record;
    raised integer;
BEGIN
    INSERT INTO csm.feature_launch (name, features, description, launched_at)
    VALUES ('Audit log export', '{audit_log.view}',
            'Audit logs exported to your SIEM: a demo and training offer for the accounts that read their audit log.',
            now() - interval '2 days');
    FOR a IN SELECT x.external_id FROM csm.account_health h JOIN csm.account x USING (account_id)
             WHERE x.status = 'active' AND h.band = 'green'
             ORDER BY csm_demo._rand(x.account_id, 71, seed) LIMIT 5 LOOP
        PERFORM csm.record_milestone(a.external_id, 'first_business_outcome',
                                     now() - interval '3 days', 'ROI review: 30% less time on reporting');
        n_outcomes := n_outcomes + 1;
    END LOOP;
    raised := csm.run_alerts();
    RETURN format('csm_demo: a feature launch, %s business outcomes; run_alerts raised %s', n_outcomes, raised);
END $$;
COMMENT ON FUNCTION csm_demo.load_alerts(integer) IS
    'Records a feature launch and five accounts'' business outcomes, then runs csm.run_alerts().';
-- Playbooks (issue 14, section 1): the refreshes above have already fired
-- the built-in playbooks in their transactions; run_playbooks() (pg_cron's
-- job) catches the rest, then the CSMs work part of their queue: the first
-- task of a third of the CTAs done, by the handle it is assigned to.
CREATE OR REPLACE FUNCTION csm_demo.load_playbooks(seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    opened integer;
    done integer := 0;
    t record;
BEGIN
    opened := csm.run_playbooks();
    FOR t IN SELECT k.task_id FROM csm.task k JOIN csm.cta c USING (account_id, cta_id)
             WHERE k.position = 1 AND k.status = 'open' AND k.assignee IS NOT NULL
               AND csm_demo._rand(c.cta_id, 71, seed) < 0.33
             ORDER BY k.task_id LOOP
        PERFORM csm.complete_task(t.task_id, 'done in the demo');
        done := done + 1;
    END LOOP;
    RETURN format('csm_demo: run_playbooks opened %s CTAs (%s open in all); %s first tasks done',
                  opened, (SELECT count(*) FROM csm.cta WHERE status IN ('open', 'in_progress')), done);
END $$;
COMMENT ON FUNCTION csm_demo.load_playbooks(integer) IS
    'Runs csm.run_playbooks() after the refreshes of the demo load, then completes the first task of about a third of the CTAs.';
-- Support conversations (issue 14, section 6): the support desk routes by
-- skills, solutions is manual only; 36 conversations of the last hours with
-- the skills they need, internal notes, a silent agent whose conversations
-- are handed over with their context, a few moved to solutions, first
-- responses and resolutions.  Each agent is credited with their own part.
CREATE OR REPLACE FUNCTION csm_demo.load_support(seed integer DEFAULT 42)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n_conv  bigint;
    n_notes bigint;
    n_stale bigint;
BEGIN
    INSERT INTO csm.support_team (team, strategy, conversation_limit, reassign_action, reassign_after, auto_assign) VALUES
        ('support', 'skills', 5, 'reassign', '15 minutes', true),
        ('solutions', 'balanced', 4, 'queue', '30 minutes', false)
    ON CONFLICT (team) DO UPDATE SET strategy = EXCLUDED.strategy, conversation_limit = EXCLUDED.conversation_limit,
        reassign_action = EXCLUDED.reassign_action, reassign_after = EXCLUDED.reassign_after, auto_assign = EXCLUDED.auto_assign;

    INSERT INTO csm.conversation (account_id, team, channel, subject, required_skills, created_at)
    SELECT a.account_id, CASE WHEN k.i > 30 THEN 'solutions' ELSE 'support' END,
           (ARRAY['email', 'chat', 'phone'])[1 + (k.i % 3)],
           (ARRAY['Invoice shows the wrong seats', 'SSO login loop', 'API rate limit errors', 'Salesforce sync stopped',
                  'Factura duplicada', 'Export auf Deutsch', 'How do I add a user?'])[1 + (k.i % 7)],
           CASE WHEN k.i > 30 THEN '{}'::text[]
                ELSE (ARRAY['{billing}', '{sso}', '{api}', '{integrations}', '{spanish}', '{german}', '{}'])[1 + (k.i % 7)]::text[] END,
           now() - make_interval(mins => 5 * (36 - k.i))
    FROM generate_series(1, 36) AS k(i)
    CROSS JOIN LATERAL (SELECT x.account_id FROM csm.account x WHERE x.status = 'active'
                        ORDER BY csm_demo._rand(x.account_id + k.i, 71, seed) LIMIT 1) a
    ORDER BY k.i;
    GET DIAGNOSTICS n_conv = ROW_COUNT;

    -- Internal notes on every third conversation.
    INSERT INTO csm.conversation_note (account_id, conversation_id, member_id, body)
    SELECT c.account_id, c.conversation_id, c.assignee,
           (ARRAY['Customer on the 2024 contract, 40 seats', 'Reproduced; logs attached to the ticket',
                  'Asked for a call tomorrow morning', 'Waiting on engineering (ENG-412)'])[1 + (c.conversation_id % 4)::int]
    FROM csm.conversation c WHERE c.conversation_id % 3 = 0;
    GET DIAGNOSTICS n_notes = ROW_COUNT;

    -- Everybody answers, except Ethan, who got his an hour ago and stays silent.
    UPDATE csm.conversation c SET first_response_at = now()
    FROM csm.team_member m WHERE m.member_id = c.assignee AND m.handle <> 'ethan.brown';
    UPDATE csm.conversation c SET assigned_at = now() - interval '1 hour'
    FROM csm.team_member m WHERE m.member_id = c.assignee AND m.handle = 'ethan.brown';
    SELECT count(*) INTO n_stale FROM csm.reassign_stale();

    -- Two API questions turn out to be for solutions (manual only: they wait there).
    UPDATE csm.conversation SET team = 'solutions'
    WHERE conversation_id IN (SELECT c.conversation_id FROM csm.conversation c
                              WHERE c.team = 'support' AND c.required_skills = '{api}' ORDER BY c.conversation_id LIMIT 2);
    -- Sam takes the oldest waiting solutions conversation by hand.
    UPDATE csm.conversation SET assignee = (SELECT member_id FROM csm.team_member WHERE handle = 'sam.taylor')
    WHERE conversation_id = (SELECT c.conversation_id FROM csm.conversation c
                             WHERE c.team = 'solutions' AND c.waiting_since IS NOT NULL ORDER BY c.waiting_since, c.conversation_id LIMIT 1);

    -- Half of what was answered is resolved, rated.
    UPDATE csm.conversation SET status = 'resolved', csat = 3 + (conversation_id % 3)::int
    WHERE first_response_at IS NOT NULL AND conversation_id % 2 = 0;

    RETURN format('csm_demo: %s conversations, %s internal notes, %s moves by reassign_stale', n_conv, n_notes, n_stale);
END $$;
COMMENT ON FUNCTION csm_demo.load_support(integer) IS
    'Support desk of the demo: teams support (skills routing) and solutions (manual only), 36 conversations with required skills, notes, a silent agent handed over by csm.reassign_stale, two moved to solutions, answers and resolutions.';
