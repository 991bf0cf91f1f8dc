-- No NaN and no infinities in csm's float and numeric columns (issue 11):
-- a NaN passes CHECK (x >= 0), as NaN sorts above every number, and one
-- such row broke every refresh.  Tables of account and health carry
-- their checks beside their columns (10_account.sql, 40_health.sql);
-- these are the rest.
-- test/pgtap/finite_columns.sql lists every such column from the catalog.

DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conrelid OPERATOR(pg_catalog.=) 'csm_internal.member_load'::pg_catalog.regclass AND c.conname OPERATOR(pg_catalog.=) 'member_load_load_finite') THEN
        ALTER TABLE csm_internal.member_load ADD CONSTRAINT member_load_load_finite CHECK (load > '-Infinity' AND load < 'Infinity');
    END IF;
END $rerunnable$;
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conrelid OPERATOR(pg_catalog.=) '@extschema@.payment'::pg_catalog.regclass AND c.conname OPERATOR(pg_catalog.=) 'payment_amount_finite') THEN
        ALTER TABLE @extschema@.payment ADD CONSTRAINT payment_amount_finite CHECK (amount < 'Infinity');
    END IF;
END $rerunnable$;
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conrelid OPERATOR(pg_catalog.=) '@extschema@.churn_score'::pg_catalog.regclass AND c.conname OPERATOR(pg_catalog.=) 'churn_score_risk_score_range') THEN
        ALTER TABLE @extschema@.churn_score ADD CONSTRAINT churn_score_risk_score_range CHECK (risk_score >= 0 AND risk_score <= 100);
    END IF;
END $rerunnable$;
