-- Tables and baselines for the health-scoring benchmark (test/bench/health.sh).
--
--   bench.metrics          1M accounts' precomputed metrics, the columns of
--                          csm's 'default' model, hash-based and repeatable
--   bench.inline_score     the 'default' model written as CASE arithmetic in
--                          a view (flattened into the query that reads it)
--   bench.plpgsql_score()  the same formula as a PL/pgSQL function
--   bench.verify()         every row scored by C, inline SQL, PL/pgSQL and
--                          the jsonb path, side by side
--   bench.floor_score      csm.health_score's columns and primary key
--   bench.floor_history    csm.health_history's columns and primary key
--
-- The baselines hard-code the constants of the 'default' model as
-- src/sql/30_health/40_health.sql seeds them (weights 30/25/15/15/15, green/red
-- thresholds, best/worst); bench.verify() catches any drift.

CREATE SCHEMA bench;

-- A number in [0, 1) from an account id and a stream: repeatable anywhere.
CREATE FUNCTION bench.u(i bigint, stream integer) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (hashint8extended(i, stream) & 4503599627370495)::float8 / 4503599627370496;

-- Filled by bench.make_data(); the primary key is added after the load.
CREATE TABLE bench.metrics (
    account_id        bigint NOT NULL,
    dau_ratio         float8,
    features_adopted  integer,
    tickets_per_month float8,
    nps               integer,
    days_to_renewal   integer
);

-- Accounts 1..n in csm.account, and their metrics in bench.metrics.  Each
-- account has a latent health h; each metric is 65% h and 35% its own
-- noise, so that accounts spread over the green, yellow and red bands and
-- single metrics over their zones, thresholds included (integer metrics
-- land on them).  Missing metrics: dau_ratio 2% (no seats), features 1%,
-- tickets 5% (no ticket source), nps 15% (never answered), days to renewal
-- 2%, and 0.1% of accounts with no metric at all (a NULL score).
CREATE FUNCTION bench.make_data(n integer) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO csm.account (account_id, external_id, name, segment, seats, status)
    SELECT i, 'org_' || lpad(i::text, 7, '0'), 'Account ' || i,
           (ARRAY['smb', 'mid_market', 'enterprise'])[1 + floor(bench.u(i, 21) * 3)::integer],
           5 + floor(bench.u(i, 20) * 200)::integer, 'active'
    FROM generate_series(1, n) i;
    PERFORM setval(pg_get_serial_sequence('csm.account', 'account_id'), n);

    INSERT INTO bench.metrics
    SELECT i,
           CASE WHEN bench.u(i, 11) >= 0.02 AND NOT gone
                THEN round((1.1 * (0.65 * h + 0.35 * bench.u(i, 1)))::numeric, 3)::float8 END,
           CASE WHEN bench.u(i, 12) >= 0.01 AND NOT gone
                THEN floor(12 * (0.65 * h + 0.35 * bench.u(i, 2)))::integer END,
           CASE WHEN bench.u(i, 13) >= 0.05 AND NOT gone
                THEN round((8 * (1 - (0.65 * h + 0.35 * bench.u(i, 3))))::numeric, 1)::float8 END,
           CASE WHEN bench.u(i, 14) >= 0.15 AND NOT gone
                THEN least(10, floor(3 + 8 * (0.65 * h + 0.35 * bench.u(i, 4))))::integer END,
           CASE WHEN bench.u(i, 15) >= 0.02 AND NOT gone
                THEN floor(420 * (0.65 * h + 0.35 * bench.u(i, 5)))::integer - 30 END
    FROM generate_series(1, n) i,
         LATERAL (SELECT bench.u(i, 0) AS h, bench.u(i, 16) < 0.001 AS gone) l;
    ALTER TABLE bench.metrics ADD PRIMARY KEY (account_id);
    RETURN format('%s accounts in csm.account and bench.metrics', n);
END $$;

-- The 'default' model as inline SQL: each component's CASE maps its metric
-- onto [90, 100] (green), [70, 89.99] (yellow) or [0, 70) (red), saturating
-- at best and worst; a missing metric is left out and its weight shared
-- among the present ones (the denominator), and the score is NULL when
-- every metric is missing.  The clamps that cannot bite are left out: a
-- green value is past green, so only its best side can saturate, and a
-- weighted mean of scores in [0, 100] needs no clamp to [0, 100] (C clamps
-- anyway; greatest() would also turn a NULL score into 0).
CREATE VIEW bench.inline_score AS
SELECT m.account_id, m.dau_ratio, m.features_adopted, m.tickets_per_month, m.nps, m.days_to_renewal,
       (coalesce(30 * CASE WHEN m.dau_ratio > 0.8 THEN 90 + 10 * least(1, (m.dau_ratio - 0.8) / 0.2)
                               WHEN m.dau_ratio >= 0.5 THEN 70 + 19.99 * ((m.dau_ratio - 0.5) / 0.3)
                               WHEN m.dau_ratio < 0.5 THEN 70 * greatest(0, m.dau_ratio / 0.5) * (1 - 1e-12)
                          END, 0)
          + coalesce(25 * CASE WHEN m.features_adopted > 5 THEN 90 + 10 * least(1, (m.features_adopted - 5)::float8 / 5)
                               WHEN m.features_adopted >= 3 THEN 70 + 19.99 * ((m.features_adopted - 3)::float8 / 2)
                               WHEN m.features_adopted < 3 THEN 70 * greatest(0, m.features_adopted::float8 / 3) * (1 - 1e-12)
                          END, 0)
          + coalesce(15 * CASE WHEN m.tickets_per_month < 2 THEN 90 + 10 * least(1, (2 - m.tickets_per_month) / 2)
                               WHEN m.tickets_per_month <= 5 THEN 70 + 19.99 * ((5 - m.tickets_per_month) / 3)
                               WHEN m.tickets_per_month > 5 THEN 70 * greatest(0, (10 - m.tickets_per_month) / 5) * (1 - 1e-12)
                          END, 0)
          + coalesce(15 * CASE WHEN m.nps > 8 THEN 90 + 10 * least(1, (m.nps - 8)::float8 / 2)
                               WHEN m.nps >= 7 THEN 70 + 19.99 * (m.nps - 7)::float8
                               WHEN m.nps < 7 THEN 70 * greatest(0, m.nps::float8 / 7) * (1 - 1e-12)
                          END, 0)
          + coalesce(15 * CASE WHEN m.days_to_renewal > 90 THEN 90 + 10 * least(1, (m.days_to_renewal - 90)::float8 / 90)
                               WHEN m.days_to_renewal >= 30 THEN 70 + 19.99 * ((m.days_to_renewal - 30)::float8 / 60)
                               WHEN m.days_to_renewal < 30 THEN 70 * greatest(0, m.days_to_renewal::float8 / 30) * (1 - 1e-12)
                          END, 0))
           / nullif(CASE WHEN m.dau_ratio IS NULL THEN 0 ELSE 30 END
                    + CASE WHEN m.features_adopted IS NULL THEN 0 ELSE 25 END
                    + CASE WHEN m.tickets_per_month IS NULL THEN 0 ELSE 15 END
                    + CASE WHEN m.nps IS NULL THEN 0 ELSE 15 END
                    + CASE WHEN m.days_to_renewal IS NULL THEN 0 ELSE 15 END, 0)::float8 AS score
FROM bench.metrics m;

-- The same formula as a PL/pgSQL function, called once per row.
CREATE FUNCTION bench.plpgsql_score(dau_ratio float8, features_adopted integer, tickets_per_month float8,
                                    nps integer, days_to_renewal integer) RETURNS float8
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    total float8 := 0;
    weight float8 := 0;
    s float8;
BEGIN
    IF dau_ratio IS NOT NULL THEN
        IF dau_ratio > 0.8 THEN s := 90 + 10 * least(1, (dau_ratio - 0.8) / 0.2);
        ELSIF dau_ratio >= 0.5 THEN s := 70 + 19.99 * ((dau_ratio - 0.5) / 0.3);
        ELSE s := 70 * greatest(0, dau_ratio / 0.5) * (1 - 1e-12);
        END IF;
        total := total + 30 * s;
        weight := weight + 30;
    END IF;
    IF features_adopted IS NOT NULL THEN
        IF features_adopted > 5 THEN s := 90 + 10 * least(1, (features_adopted - 5)::float8 / 5);
        ELSIF features_adopted >= 3 THEN s := 70 + 19.99 * ((features_adopted - 3)::float8 / 2);
        ELSE s := 70 * greatest(0, features_adopted::float8 / 3) * (1 - 1e-12);
        END IF;
        total := total + 25 * s;
        weight := weight + 25;
    END IF;
    IF tickets_per_month IS NOT NULL THEN
        IF tickets_per_month < 2 THEN s := 90 + 10 * least(1, (2 - tickets_per_month) / 2);
        ELSIF tickets_per_month <= 5 THEN s := 70 + 19.99 * ((5 - tickets_per_month) / 3);
        ELSE s := 70 * greatest(0, (10 - tickets_per_month) / 5) * (1 - 1e-12);
        END IF;
        total := total + 15 * s;
        weight := weight + 15;
    END IF;
    IF nps IS NOT NULL THEN
        IF nps > 8 THEN s := 90 + 10 * least(1, (nps - 8)::float8 / 2);
        ELSIF nps >= 7 THEN s := 70 + 19.99 * (nps - 7)::float8;
        ELSE s := 70 * greatest(0, nps::float8 / 7) * (1 - 1e-12);
        END IF;
        total := total + 15 * s;
        weight := weight + 15;
    END IF;
    IF days_to_renewal IS NOT NULL THEN
        IF days_to_renewal > 90 THEN s := 90 + 10 * least(1, (days_to_renewal - 90)::float8 / 90);
        ELSIF days_to_renewal >= 30 THEN s := 70 + 19.99 * ((days_to_renewal - 30)::float8 / 60);
        ELSE s := 70 * greatest(0, days_to_renewal::float8 / 30) * (1 - 1e-12);
        END IF;
        total := total + 15 * s;
        weight := weight + 15;
    END IF;
    IF weight = 0 THEN
        RETURN NULL;
    END IF;
    RETURN least(100, greatest(0, total / weight));
END $$;

-- Every row through all four paths.  A disagreement is a score more than
-- 1e-6 apart, or NULL on one side only.
CREATE FUNCTION bench.verify(
    OUT accounts bigint, OUT null_scores bigint, OUT green bigint, OUT yellow bigint, OUT red bigint,
    OUT diff_inline float8, OUT diff_plpgsql float8, OUT diff_jsonb float8,
    OUT bad_inline bigint, OUT bad_plpgsql bigint, OUT bad_jsonb bigint)
LANGUAGE sql STABLE AS $$
    SELECT count(*), count(*) FILTER (WHERE c IS NULL),
           count(*) FILTER (WHERE c >= 90), count(*) FILTER (WHERE c >= 70 AND c < 90), count(*) FILTER (WHERE c < 70),
           coalesce(max(abs(c - i)), 0), coalesce(max(abs(c - p)), 0), coalesce(max(abs(c - j)), 0),
           count(*) FILTER (WHERE (c IS NULL) <> (i IS NULL) OR abs(c - i) >= 1e-6),
           count(*) FILTER (WHERE (c IS NULL) <> (p IS NULL) OR abs(c - p) >= 1e-6),
           count(*) FILTER (WHERE (c IS NULL) <> (j IS NULL) OR abs(c - j) >= 1e-6)
    FROM (SELECT csm.csm_health_score_row(r.m, 'default') AS c,
                 v.score AS i,
                 bench.plpgsql_score(v.dau_ratio, v.features_adopted, v.tickets_per_month, v.nps, v.days_to_renewal) AS p,
                 csm.csm_health_score(to_jsonb(r.m) - 'account_id', 'default') AS j
          FROM bench.inline_score v,
               LATERAL (SELECT ROW(v.account_id, v.dau_ratio, v.features_adopted, v.tickets_per_month,
                                   v.nps, v.days_to_renewal)::bench.metrics AS m) r
          OFFSET 0) s  -- each score once, not once per aggregate that reads it
$$;

-- The write floors of refresh_health(): the same columns, types and
-- primary keys as csm.health_score and csm.health_history.  health.sh
-- fills them from the rows refresh_health() wrote, so they write the same
-- bytes.
CREATE TABLE bench.floor_score (LIKE csm.health_score INCLUDING ALL);
CREATE TABLE bench.floor_history (LIKE csm.health_history INCLUDING ALL);
