-- NPS responses gain who answered, the kind of survey and the category
-- (issue 13, the NPS program; the rest of it is in 83_nps.sql).  These
-- columns come right after the table (10_account.sql), before the metrics
-- that health models read (30_metrics.sql), which read survey_kind: an
-- upgrade adds them with exactly these statements.

ALTER TABLE @extschema@.nps_response
    ADD COLUMN IF NOT EXISTS respondent text,
    ADD COLUMN IF NOT EXISTS survey_kind text NOT NULL DEFAULT 'relationship',
    ADD COLUMN IF NOT EXISTS category text NOT NULL GENERATED ALWAYS AS (
        CASE WHEN score >= 9 THEN 'promoter' WHEN score >= 7 THEN 'passive' ELSE 'detractor' END) STORED;
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conrelid OPERATOR(pg_catalog.=) '@extschema@.nps_response'::pg_catalog.regclass AND c.conname OPERATOR(pg_catalog.=) 'nps_response_survey_kind_known') THEN
        ALTER TABLE @extschema@.nps_response ADD CONSTRAINT nps_response_survey_kind_known CHECK (survey_kind IN ('transactional', 'relationship', 'milestone'));
    END IF;
END $rerunnable$;
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conrelid OPERATOR(pg_catalog.=) '@extschema@.nps_response'::pg_catalog.regclass AND c.conname OPERATOR(pg_catalog.=) 'nps_response_respondent_not_blank') THEN
        ALTER TABLE @extschema@.nps_response ADD CONSTRAINT nps_response_respondent_not_blank CHECK (respondent ~ '\S');
    END IF;
END $rerunnable$;
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c WHERE c.conrelid OPERATOR(pg_catalog.=) '@extschema@.nps_response'::pg_catalog.regclass AND c.conname OPERATOR(pg_catalog.=) 'nps_response_responded_at_finite') THEN
        ALTER TABLE @extschema@.nps_response ADD CONSTRAINT nps_response_responded_at_finite CHECK (responded_at > '-infinity' AND responded_at < 'infinity');
    END IF;
END $rerunnable$;
COMMENT ON COLUMN @extschema@.nps_response.account_id IS 'The account that answered.';
COMMENT ON COLUMN @extschema@.nps_response.response_id IS 'The answer''s id; csm.nps_followup refers to it.';
COMMENT ON COLUMN @extschema@.nps_response.responded_at IS 'When the answer was given; the follow-up''s 24 and 48 hour deadlines run from it.';
COMMENT ON COLUMN @extschema@.nps_response.score IS 'How likely the respondent is to recommend you, 0 to 10.';
COMMENT ON COLUMN @extschema@.nps_response.comment IS 'The respondent''s comment, if any.';
COMMENT ON COLUMN @extschema@.nps_response.respondent IS 'Who answered (an e-mail address or your contact id); NULL when unknown, never blank.';
COMMENT ON COLUMN @extschema@.nps_response.survey_kind IS
    'transactional (after a support case or onboarding), relationship (the quarterly or half-yearly survey; the default, and the only kind health models read) or milestone (after a milestone event).';
COMMENT ON COLUMN @extschema@.nps_response.category IS
    'Derived from score: promoter (9-10), passive (7-8) or detractor (0-6); csm.nps_category holds the actions for each.';
COMMENT ON TABLE @extschema@.nps_response IS
    'NPS survey answers (0-10) per account, with the respondent, the kind of survey and the derived category; the latest relationship answer feeds account_metrics.nps. Record them with csm.record_nps; each opens a follow-up (csm.nps_followup).';
