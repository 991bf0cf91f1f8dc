
-- Whether the benchmark tables answer for the caller: on a single node, to
-- a caller who sees every account (no row security, or the admin level).
CREATE OR REPLACE FUNCTION csm_internal._benchmarks_kept() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN NOT csm_internal._is_distributed('@extschema@.account')
           AND (NOT (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = '@extschema@.account'::regclass)
                OR csm_internal._visible_accounts() IS NULL);
END $$;
COMMENT ON FUNCTION csm_internal._benchmarks_kept() IS
    'Internal: whether csm.health_benchmark and csm.churn_benchmark are kept (single node) and answer for the caller (who sees every account).';

-- Rewrites csm.health_benchmark from csm.health_score (csm.refresh_health, at its end).
CREATE OR REPLACE FUNCTION csm_internal._keep_health_benchmark() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF csm_internal._is_distributed('@extschema@.account') THEN
        RETURN;
    END IF;
    DELETE FROM @extschema@.health_benchmark;
    -- the scores are read once, then grouped by bucket and by segment
    WITH scored AS MATERIALIZED (
        SELECT a.segment, h.score, h.band
        FROM @extschema@.health_score h JOIN @extschema@.account a ON a.account_id = h.account_id
        WHERE a.status = 'active' AND a.segment IS NOT NULL AND h.score IS NOT NULL)
    INSERT INTO @extschema@.health_benchmark (segment, bucket, accounts, average_score, share_red, below, scores, computed_at)
    SELECT b.segment, b.bucket, s.accounts, s.average_score, s.share_red,
           coalesce(sum(b.n) OVER (PARTITION BY b.segment ORDER BY b.bucket
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0),
           b.scores, now()
    FROM (SELECT c.segment, floor(c.score * 10)::integer AS bucket, count(*) AS n,
                 array_agg(-c.score ORDER BY -c.score) AS scores
          FROM scored c
          GROUP BY c.segment, floor(c.score * 10)::integer) b
    JOIN (SELECT c.segment, count(c.score) AS accounts, avg(c.score) AS average_score,
                 avg((c.band = 'red')::integer) AS share_red
          FROM scored c
          GROUP BY c.segment) s ON s.segment = b.segment;
END $$;
REVOKE ALL ON FUNCTION csm_internal._keep_health_benchmark() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._keep_health_benchmark() IS
    'Internal: rewrites csm.health_benchmark from the computed scores of the active accounts (csm.refresh_health calls it; nothing on Citus).';

-- Rewrites csm.churn_benchmark from csm.churn_score (csm.refresh_churn, at its end).
CREATE OR REPLACE FUNCTION csm_internal._keep_churn_benchmark() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF csm_internal._is_distributed('@extschema@.account') THEN
        RETURN;
    END IF;
    DELETE FROM @extschema@.churn_benchmark;
    INSERT INTO @extschema@.churn_benchmark (segment, accounts, average_probability, computed_at)
    SELECT a.segment, count(*), avg(c.probability), now()
    FROM @extschema@.churn_score c JOIN @extschema@.account a ON a.account_id = c.account_id
    WHERE a.segment IS NOT NULL AND a.status = 'active'
    GROUP BY a.segment;
END $$;
REVOKE ALL ON FUNCTION csm_internal._keep_churn_benchmark() FROM PUBLIC;
COMMENT ON FUNCTION csm_internal._keep_churn_benchmark() IS
    'Internal: rewrites csm.churn_benchmark from the churn scores of the active accounts (csm.refresh_churn calls it; nothing on Citus).';

-- The health benchmark of a segment for an account scoring score: the
-- active accounts with a computed score, their average, the share red and
-- the share scoring below score (NULL when score is).  From
-- csm.health_benchmark when it answers (csm_internal._benchmarks_kept()), else
-- aggregated now over the accounts the caller sees.
CREATE OR REPLACE FUNCTION csm_internal._health_benchmark(segment text, score float8,
    OUT accounts bigint, OUT average_score float8, OUT share_red numeric, OUT share_below numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    b record;
    -- an integer, so that the primary key finds the bucket (scores are 0-100)
    own_bucket constant integer := floor(least(greatest(score, -1), 101) * 10)::integer;
BEGIN
    IF csm_internal._benchmarks_kept() THEN
        -- the bucket of score, else the nearest below it, else any
        SELECT hb.* INTO b FROM @extschema@.health_benchmark hb
        WHERE hb.segment = _health_benchmark.segment AND hb.bucket <= own_bucket
        ORDER BY hb.bucket DESC LIMIT 1;
        IF NOT FOUND THEN
            SELECT hb.* INTO b FROM @extschema@.health_benchmark hb
            WHERE hb.segment = _health_benchmark.segment ORDER BY hb.bucket LIMIT 1;
        END IF;
        IF b.segment IS NOT NULL THEN
            accounts := b.accounts;
            average_score := b.average_score;
            share_red := b.share_red;
            IF score IS NOT NULL THEN
                -- the bucket's scores below score: all of them in a lower
                -- bucket, else those not at or above it
                share_below := (CASE WHEN b.bucket > own_bucket THEN 0
                                     WHEN b.bucket < own_bucket THEN b.below + cardinality(b.scores)
                                     ELSE b.below + cardinality(b.scores) - width_bucket(-score, b.scores) END)::numeric
                               / accounts;
            END IF;
            RETURN;
        END IF;
    END IF;
    SELECT count(h.score), avg(h.score), avg((h.band = 'red')::integer),
           CASE WHEN _health_benchmark.score IS NOT NULL AND count(h.score) > 0
                THEN avg((h.score < _health_benchmark.score)::integer) END
    INTO accounts, average_score, share_red, share_below
    FROM @extschema@.health_score h
    JOIN @extschema@.account a ON a.account_id = h.account_id
    WHERE a.segment = _health_benchmark.segment AND a.status = 'active' AND h.score IS NOT NULL;
END $$;
COMMENT ON FUNCTION csm_internal._health_benchmark(text, float8) IS
    'Internal: the health benchmark of a segment for an account scoring score (active accounts with a computed score, their average score, share red, share below score): from csm.health_benchmark (as of the last csm.refresh_health) when csm_internal._benchmarks_kept(), else aggregated now over the accounts the caller sees.';

-- The churn benchmark of a segment: the active accounts with a churn score
-- and their average probability, and the average health score of its
-- active accounts.  As csm_internal._health_benchmark, from the kept tables when
-- they answer, else aggregated now.
CREATE OR REPLACE FUNCTION csm_internal._churn_benchmark(segment text,
    OUT accounts bigint, OUT average_probability float8, OUT average_score float8)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kept boolean := csm_internal._benchmarks_kept();
BEGIN
    IF kept THEN
        SELECT cb.accounts, cb.average_probability INTO accounts, average_probability
        FROM @extschema@.churn_benchmark cb WHERE cb.segment = _churn_benchmark.segment;
    END IF;
    IF NOT kept OR NOT FOUND THEN
        SELECT count(*), avg(c.probability) INTO accounts, average_probability
        FROM @extschema@.churn_score c JOIN @extschema@.account a ON a.account_id = c.account_id
        WHERE a.segment = _churn_benchmark.segment AND a.status = 'active';
    END IF;
    IF kept THEN
        SELECT hb.average_score INTO average_score
        FROM @extschema@.health_benchmark hb WHERE hb.segment = _churn_benchmark.segment
        ORDER BY hb.bucket LIMIT 1;  -- (by the primary key)
    END IF;
    IF NOT kept OR NOT FOUND THEN
        SELECT avg(h.score) INTO average_score
        FROM @extschema@.health_score h JOIN @extschema@.account a ON a.account_id = h.account_id
        WHERE a.segment = _churn_benchmark.segment AND a.status = 'active';
    END IF;
END $$;
COMMENT ON FUNCTION csm_internal._churn_benchmark(text) IS
    'Internal: the churn benchmark of a segment (active accounts with a churn score, their average probability, and the average health score of its active accounts): from csm.churn_benchmark and csm.health_benchmark (as of the last refreshes) when csm_internal._benchmarks_kept(), else aggregated now over the accounts the caller sees.';
