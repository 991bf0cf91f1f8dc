-- Install-only: CREATE EXTENSION runs this file once.  An upgrade changes
-- these objects with explicit steps in src/updates/A--B/ (README, "Source
-- layout"); the functions and views are in the other files here.

-- Health scores: models as data, a C scoring kernel, current scores,
-- daily history, trend, overrides and explanations.

DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace AND t.typname OPERATOR(pg_catalog.=) 'health_band' AND t.typisdefined) THEN
        CREATE TYPE @extschema@.health_band AS ENUM ('green', 'yellow', 'red', 'unknown');
    END IF;
END $rerunnable$;
COMMENT ON TYPE @extschema@.health_band IS
    'Health score band: green 90-100, yellow 70 up to 90, red below 70; unknown when less of the model''s weight than its min_coverage was present, whatever the score.';

CREATE TABLE IF NOT EXISTS @extschema@.health_band_info (
    band      @extschema@.health_band PRIMARY KEY,
    label     text NOT NULL,
    action    text NOT NULL,
    cadence   text NOT NULL,
    min_score float8,
    max_score float8,
    CONSTRAINT health_band_info_min_score_range CHECK (min_score >= 0 AND min_score <= 100),
    CONSTRAINT health_band_info_max_score_range CHECK (max_score >= 0 AND max_score <= 100)
);
COMMENT ON TABLE @extschema@.health_band_info IS 'What each health band means and how often to engage, from the seed; join it on band. unknown has no score range: coverage, not the score, decides it.';

-- Models are config tables (Citus reference tables); built-in rows are
-- read-only and left out of pg_dump, user models are dumped.
CREATE TABLE IF NOT EXISTS @extschema@.health_model (
    name        text PRIMARY KEY,
    version     integer NOT NULL DEFAULT 1,
    description text,
    builtin     boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- the transaction that last bumped the version: one bump per transaction
    bumped_by   xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    min_coverage float8 NOT NULL DEFAULT 0.5,
    CONSTRAINT health_model_name_valid CHECK (name ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT health_model_min_coverage_range CHECK (min_coverage >= 0 AND min_coverage <= 1)
);
COMMENT ON TABLE @extschema@.health_model IS
    'Health models. Editing a model or its components bumps version once per transaction.';
COMMENT ON COLUMN @extschema@.health_model.min_coverage IS
    'The share of the model''s weight (0-1) that must be present for a band: below it the score is kept but the band is unknown. 0.5 by default.';

CREATE TABLE IF NOT EXISTS @extschema@.health_group (
    model  text NOT NULL REFERENCES @extschema@.health_model (name) ON UPDATE CASCADE ON DELETE CASCADE,
    name   text NOT NULL,
    weight float8 NOT NULL,
    PRIMARY KEY (model, name),
    CONSTRAINT health_group_weight_positive CHECK (weight > 0 AND weight < 'Infinity'),
    CONSTRAINT health_group_weight_within_limit CHECK (weight <= 1e6)
);
COMMENT ON TABLE @extschema@.health_group IS 'Weighted groups (pillars) of a health model''s components.';

CREATE TABLE IF NOT EXISTS @extschema@.health_component (
    model      text NOT NULL REFERENCES @extschema@.health_model (name) ON UPDATE CASCADE ON DELETE CASCADE,
    metric     text NOT NULL,
    group_name text,
    label      text,
    weight     float8 NOT NULL,
    direction  text NOT NULL DEFAULT 'higher_is_better',
    green      float8 NOT NULL,
    red        float8 NOT NULL,
    best       float8,
    worst      float8,
    min_value  float8,
    max_value  float8,
    PRIMARY KEY (model, metric),
    FOREIGN KEY (model, group_name) REFERENCES @extschema@.health_group (model, name) ON UPDATE CASCADE,
    CONSTRAINT health_component_metric_valid CHECK (metric ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT health_component_weight_positive CHECK (weight > 0 AND weight < 'Infinity'),
    CONSTRAINT health_component_weight_within_limit CHECK (weight <= 1e6),
    CONSTRAINT health_component_direction_known CHECK (direction IN ('higher_is_better', 'lower_is_better')),
    CONSTRAINT health_component_thresholds_finite CHECK (
        green > '-Infinity' AND green < 'Infinity' AND red > '-Infinity' AND red < 'Infinity'
        AND (best IS NULL OR (best > '-Infinity' AND best < 'Infinity'))
        AND (worst IS NULL OR (worst > '-Infinity' AND worst < 'Infinity'))),
    -- Bounded so that every width and line of the kernel stays finite and
    -- exact enough (1e308 thresholds overflowed to infinite widths).
    CONSTRAINT health_component_thresholds_within_limit CHECK (
        green BETWEEN -1e12 AND 1e12 AND red BETWEEN -1e12 AND 1e12
        AND (best IS NULL OR best BETWEEN -1e12 AND 1e12)
        AND (worst IS NULL OR worst BETWEEN -1e12 AND 1e12)),
    CONSTRAINT health_component_domain_within_limit CHECK (
        (min_value IS NULL OR min_value BETWEEN -1e12 AND 1e12)
        AND (max_value IS NULL OR max_value BETWEEN -1e12 AND 1e12)),
    CONSTRAINT health_component_thresholds_ordered CHECK (
        CASE direction WHEN 'higher_is_better' THEN red < green WHEN 'lower_is_better' THEN red > green END),
    CONSTRAINT health_component_best_beyond_green CHECK (
        best IS NULL OR CASE direction WHEN 'higher_is_better' THEN best > green WHEN 'lower_is_better' THEN best < green END),
    CONSTRAINT health_component_worst_beyond_red CHECK (
        worst IS NULL OR CASE direction WHEN 'higher_is_better' THEN worst < red WHEN 'lower_is_better' THEN worst > red END),
    CONSTRAINT health_component_domain_ordered CHECK (min_value IS NULL OR max_value IS NULL OR min_value < max_value)
);
COMMENT ON TABLE @extschema@.health_component IS
    'Components of a health model: the metric, its weight (within its group), direction, and the thresholds beyond which it is green or red. best and worst are where it saturates at 100 and 0 (one yellow width beyond the thresholds when NULL); min_value and max_value bound its domain.';

-- Maps a plan or segment to a model, like one scorecard per segment.
CREATE TABLE IF NOT EXISTS @extschema@.health_model_map (
    attribute text NOT NULL,
    value     text NOT NULL,
    model     text NOT NULL REFERENCES @extschema@.health_model (name) ON UPDATE CASCADE,
    PRIMARY KEY (attribute, value),
    CONSTRAINT health_model_map_attribute_known CHECK (attribute IN ('plan', 'segment'))
);
COMMENT ON TABLE @extschema@.health_model_map IS
    'Which health model scores accounts of a plan or segment. A plan mapping wins over a segment mapping; unmapped accounts use "default".';

-- Scoring (C) ----------------------------------------------------------------

DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace AND t.typname OPERATOR(pg_catalog.=) 'health_result' AND t.typisdefined) THEN
        CREATE TYPE @extschema@.health_result AS (
    model         text,
    model_version integer,
    score         float8,
    band          @extschema@.health_band,
    coverage      float8,
    metrics           text[],
    metric_values     float8[],
    component_scores  float8[],
    component_weights float8[]
);
    END IF;
END $rerunnable$;
COMMENT ON TYPE @extschema@.health_result IS
    'A scored account: the model and version used, the score (NULL when every metric is missing), its band (unknown, with the score kept, when coverage is below the model''s min_coverage), the share of the model''s weight that was present, and per-component detail as arrays in the model''s component order (csm.health_components() gives them as rows).';

-- Current scores, history, overrides -------------------------------------------

-- No foreign key: a first refresh of a million accounts would spend more
-- on the checks than on the writes; csm_internal._forget_accounts() removes a deleted
-- account's score.
CREATE TABLE IF NOT EXISTS @extschema@.health_score (
    account_id    bigint NOT NULL,
    model         text NOT NULL,
    model_version integer NOT NULL,
    score         float8,
    band          @extschema@.health_band,
    coverage      float8 NOT NULL,
    metrics           text[] NOT NULL,
    metric_values     float8[] NOT NULL,
    component_scores  float8[] NOT NULL,
    component_weights float8[] NOT NULL,
    computed_at   timestamptz NOT NULL,
    PRIMARY KEY (account_id),
    CONSTRAINT health_score_score_range CHECK (score >= 0 AND score <= 100),
    CONSTRAINT health_score_coverage_range CHECK (coverage >= 0 AND coverage <= 1)
);
COMMENT ON TABLE @extschema@.health_score IS
    'The latest computed health score per account, written by csm.refresh_health(), with its per-component detail as arrays (csm.health_score_component has them as rows). Read csm.account_health for the effective score.';

-- No foreign key, for the same reason as health_score.
CREATE TABLE IF NOT EXISTS @extschema@.health_history (
    account_id    bigint NOT NULL,
    day           date NOT NULL,
    model         text NOT NULL,
    model_version integer NOT NULL,
    score         float8,
    band          @extschema@.health_band,
    coverage      float8 NOT NULL,
    computed_at   timestamptz NOT NULL,
    PRIMARY KEY (account_id, day),
    CONSTRAINT health_history_score_range CHECK (score >= 0 AND score <= 100),
    CONSTRAINT health_history_coverage_range CHECK (coverage >= 0 AND coverage <= 1)
);
COMMENT ON TABLE @extschema@.health_history IS
    'One computed health score per account per UTC day (the day''s last refresh wins).';

CREATE TABLE IF NOT EXISTS @extschema@.health_override (
    account_id  bigint NOT NULL REFERENCES @extschema@.account (account_id) ON DELETE CASCADE,
    override_id bigint GENERATED BY DEFAULT AS IDENTITY,
    score       float8 NOT NULL,
    reason      text NOT NULL,
    expires_at  timestamptz,
    created_by  name NOT NULL DEFAULT csm_internal._caller(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    cleared_at  timestamptz,
    cleared_by  name,
    PRIMARY KEY (account_id, override_id),
    CONSTRAINT health_override_score_range CHECK (score >= 0 AND score <= 100),
    CONSTRAINT health_override_reason_given CHECK (reason ~ '\S')
);
COMMENT ON TABLE @extschema@.health_override IS
    'Manual health overrides with their reason. The latest uncleared, unexpired one per account is in effect; none is ever deleted.';

-- 0.2.0 (upgrade script: these two ALTERs): when a score is stale is a
-- setting of its model, not of the reading session (pgbouncer in
-- transaction mode shares sessions). NULL: the csm.stale_after GUC, read
-- when csm.refresh_health runs and kept with each score.
ALTER TABLE @extschema@.health_model ADD COLUMN IF NOT EXISTS stale_after interval;
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conrelid OPERATOR(pg_catalog.=) '@extschema@.health_model'::pg_catalog.regclass AND c.conname OPERATOR(pg_catalog.=) 'health_model_stale_after_positive') THEN
        ALTER TABLE @extschema@.health_model ADD CONSTRAINT health_model_stale_after_positive CHECK (stale_after > interval '0');
    END IF;
END $rerunnable$;
COMMENT ON COLUMN @extschema@.health_model.stale_after IS
    'Age after which a score of this model is stale in csm.account_health. NULL: the csm.stale_after setting (26h by default) as csm.refresh_health reads it. Takes effect at the next refresh.';
ALTER TABLE @extschema@.health_score ADD COLUMN IF NOT EXISTS stale_after interval NOT NULL DEFAULT interval '26 hours';
COMMENT ON COLUMN @extschema@.health_score.stale_after IS
    'The score''s model''s stale_after (else csm.stale_after) when csm.refresh_health wrote it: csm.account_health.stale is score_age > stale_after.';
-- When the account entered its band: refresh_health passes the accounts
-- whose band it just changed (band_since = its instant) to the routing rules,
-- the alerts and the playbooks that read the band, instead of rescanning.
ALTER TABLE @extschema@.health_score ADD COLUMN IF NOT EXISTS band_since timestamptz;
COMMENT ON COLUMN @extschema@.health_score.band_since IS
    'When csm.refresh_health first computed the current band (an account scored for the first time: its first refresh); NULL for scores written before 0.2.0 until their band changes.';
-- Segment benchmarks, kept by the refreshes (issue 15: a per-account read
-- is O(1) in portfolio size).  csm.assess_health compares an account with
-- the active accounts of a segment (count, average score, share red, share
-- scoring below it) and csm.analyze_churn_risk with the segment's average
-- churn probability and health score.  Aggregating the segment at every
-- call reads a third of the portfolio; csm.refresh_health and
-- csm.refresh_churn keep the aggregates here instead, as of their run.
--
-- The share below a score needs the segment's scores, not an aggregate:
-- they are kept by buckets of a tenth of a point, each bucket's scores
-- sorted in an array with the count of the segment's scores in the lower
-- buckets, so the share below x is one row (the bucket of x, found through
-- the primary key) and a binary search in its array (width_bucket).
--
-- Single node only: on Citus (csm.distribute()) the tables stay empty and
-- the functions below aggregate the segment as before.  Under
-- csm.enable_row_security() a CSM who does not see every account gets the
-- aggregates of their own book, computed at the call, as before: the
-- tables are read only by a caller who sees every account.

CREATE TABLE IF NOT EXISTS @extschema@.health_benchmark (
    segment       text NOT NULL,
    bucket        integer NOT NULL,
    accounts      bigint NOT NULL,
    average_score float8,
    share_red     numeric,
    below         bigint NOT NULL,
    scores        float8[] NOT NULL,
    computed_at   timestamptz NOT NULL,
    PRIMARY KEY (segment, bucket),
    CONSTRAINT health_benchmark_average_score_range CHECK (average_score >= 0 AND average_score <= 100),
    CONSTRAINT health_benchmark_share_red_range CHECK (share_red >= 0 AND share_red <= 1)
);
COMMENT ON TABLE @extschema@.health_benchmark IS
    'Health benchmarks of the segments as of the last csm.refresh_health (single node): per segment, the computed scores of its active accounts by bucket of a tenth of a point, with the segment''s count, average and share red on every row. Read by csm.assess_health (csm_internal._health_benchmark); written only by csm.refresh_health.';
COMMENT ON COLUMN @extschema@.health_benchmark.segment IS 'The segment (csm.account.segment).';
COMMENT ON COLUMN @extschema@.health_benchmark.bucket IS 'floor(score x 10): the scores of this row are in [bucket / 10, (bucket + 1) / 10).';
COMMENT ON COLUMN @extschema@.health_benchmark.accounts IS 'Active accounts of the segment with a computed score (the same on every row of the segment).';
COMMENT ON COLUMN @extschema@.health_benchmark.average_score IS 'Their average computed score, 0-100 (the same on every row of the segment).';
COMMENT ON COLUMN @extschema@.health_benchmark.share_red IS 'The share of them in the red band, 0-1 (the same on every row of the segment).';
COMMENT ON COLUMN @extschema@.health_benchmark.below IS 'Scores of the segment in lower buckets.';
COMMENT ON COLUMN @extschema@.health_benchmark.scores IS 'The bucket''s scores, negated and sorted ascending (for width_bucket: how many are at or above a score).';
COMMENT ON COLUMN @extschema@.health_benchmark.computed_at IS 'When csm.refresh_health wrote it.';

CREATE TABLE IF NOT EXISTS @extschema@.churn_benchmark (
    segment             text PRIMARY KEY,
    accounts            bigint NOT NULL,
    average_probability float8,
    computed_at         timestamptz NOT NULL,
    CONSTRAINT churn_benchmark_average_probability_range CHECK (average_probability >= 0 AND average_probability <= 1)
);
COMMENT ON TABLE @extschema@.churn_benchmark IS
    'Churn benchmarks of the segments as of the last csm.refresh_churn (single node): the active accounts of each segment with a churn score, and their average probability. Read by csm.analyze_churn_risk (csm_internal._churn_benchmark); written only by csm.refresh_churn.';
COMMENT ON COLUMN @extschema@.churn_benchmark.segment IS 'The segment (csm.account.segment).';
COMMENT ON COLUMN @extschema@.churn_benchmark.accounts IS 'Active accounts of the segment with a csm.churn_score row.';
COMMENT ON COLUMN @extschema@.churn_benchmark.average_probability IS 'Their average churn probability, 0-1.';
COMMENT ON COLUMN @extschema@.churn_benchmark.computed_at IS 'When csm.refresh_churn wrote it.';
