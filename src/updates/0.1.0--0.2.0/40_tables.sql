-- Tables: what 0.2.0 declares inline in CREATE TABLE, which IF NOT EXISTS
-- skips over 0.1.0's tables.  (Columns and constraints that src/sql adds
-- with ALTER TABLE ... IF NOT EXISTS, or with a guarded ADD CONSTRAINT, are
-- added there.)  Every row is kept; new NOT NULL columns have defaults.

-- assignment_log: the account's external_id stamped on every row (so an
-- audit row outlives its account), and no foreign key to csm.account (the
-- audit log keeps the rows of deleted accounts).
ALTER TABLE @extschema@.assignment_log ADD COLUMN external_id text;
ALTER TABLE @extschema@.assignment_log DISABLE TRIGGER assignment_log_append_only;
UPDATE @extschema@.assignment_log l SET external_id = a.external_id
FROM @extschema@.account a WHERE a.account_id OPERATOR(pg_catalog.=) l.account_id;
ALTER TABLE @extschema@.assignment_log ENABLE TRIGGER assignment_log_append_only;
ALTER TABLE @extschema@.assignment_log DROP CONSTRAINT assignment_log_account_fkey;

-- health_model: the share of weight a band needs (0.5, as csm_health_score
-- treated every model before 0.2.0 said so).
ALTER TABLE @extschema@.health_model ADD COLUMN min_coverage float8 NOT NULL DEFAULT 0.5,
    ADD CONSTRAINT health_model_min_coverage_range CHECK (min_coverage >= 0 AND min_coverage <= 1);

-- health_band_info: the unknown band has no score range.
ALTER TABLE @extschema@.health_band_info ALTER COLUMN min_score DROP NOT NULL,
    ALTER COLUMN max_score DROP NOT NULL,
    ADD CONSTRAINT health_band_info_min_score_range CHECK (min_score >= 0 AND min_score <= 100),
    ADD CONSTRAINT health_band_info_max_score_range CHECK (max_score >= 0 AND max_score <= 100);

-- usage_source: 0.1.0's sources created accounts for unknown keys and
-- dropped their rollups with the table, as the defaults say.
ALTER TABLE @extschema@.usage_source ADD COLUMN create_accounts boolean NOT NULL DEFAULT true,
    ADD COLUMN keep_history boolean NOT NULL DEFAULT false,
    ADD COLUMN dropped_at timestamptz;

-- Range and finiteness checks 0.2.0 declares inline (NaN sorts above
-- Infinity, so < 'Infinity' also refuses NaN).  A 0.1.0 row that breaks one
-- stops the upgrade with the constraint's name.
ALTER TABLE @extschema@.account ADD CONSTRAINT account_arr_finite CHECK (arr < 'Infinity');
ALTER TABLE @extschema@.health_group ADD CONSTRAINT health_group_weight_within_limit CHECK (weight <= 1e6);
ALTER TABLE @extschema@.health_component
    ADD CONSTRAINT health_component_weight_within_limit CHECK (weight <= 1e6),
    ADD CONSTRAINT health_component_thresholds_within_limit CHECK (
        green BETWEEN -1e12 AND 1e12 AND red BETWEEN -1e12 AND 1e12
        AND (best IS NULL OR best BETWEEN -1e12 AND 1e12)
        AND (worst IS NULL OR worst BETWEEN -1e12 AND 1e12)),
    ADD CONSTRAINT health_component_domain_within_limit CHECK (
        (min_value IS NULL OR min_value BETWEEN -1e12 AND 1e12)
        AND (max_value IS NULL OR max_value BETWEEN -1e12 AND 1e12));
ALTER TABLE @extschema@.health_score
    ADD CONSTRAINT health_score_score_range CHECK (score >= 0 AND score <= 100),
    ADD CONSTRAINT health_score_coverage_range CHECK (coverage >= 0 AND coverage <= 1);
ALTER TABLE @extschema@.health_history
    ADD CONSTRAINT health_history_score_range CHECK (score >= 0 AND score <= 100),
    ADD CONSTRAINT health_history_coverage_range CHECK (coverage >= 0 AND coverage <= 1);
