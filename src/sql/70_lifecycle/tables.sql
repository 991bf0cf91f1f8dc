-- Install-only: CREATE EXTENSION runs this file once.  An upgrade changes
-- these objects with explicit steps in src/updates/A--B/ (README, "Source
-- layout"); the functions and views are in the other files here.

-- Lifecycle: the stage of each account (onboarding, adoption, growth,
-- renewal, churned) and the onboarding phase (kickoff, activation, early
-- value), moved by rules kept as data (csm.lifecycle_rule, written with
-- csm.rule_condition), with every change written to csm.lifecycle_history;
-- onboarding milestones, recorded by hand or detected from usage; and the
-- onboarding cohort against the seed's success criteria
-- (csm.onboarding_status).
--
-- Where things live: the stage is csm.account.lifecycle_stage (so routing,
-- BI and WHERE clauses read it off the account); the phase, the manual flag
-- and the success criteria met are in csm.account_lifecycle, one row per
-- account (distributed by account_id on Citus, as are the history and the
-- milestones reached).  Definitions (rules, milestones, core features) are
-- reference tables.

DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace AND t.typname OPERATOR(pg_catalog.=) 'lifecycle_stage' AND t.typisdefined) THEN
        CREATE TYPE @extschema@.lifecycle_stage AS ENUM ('onboarding', 'adoption', 'growth', 'renewal', 'churned');
    END IF;
END $rerunnable$;
COMMENT ON TYPE @extschema@.lifecycle_stage IS
    'The stages of the customer''s journey, in order: onboarding, adoption, growth, renewal, churned.';
DO $rerunnable$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace AND t.typname OPERATOR(pg_catalog.=) 'onboarding_phase' AND t.typisdefined) THEN
        CREATE TYPE @extschema@.onboarding_phase AS ENUM ('kickoff', 'activation', 'early_value');
    END IF;
END $rerunnable$;
COMMENT ON TYPE @extschema@.onboarding_phase IS
    'The seed''s onboarding phases: kickoff (days 0-7 after started_at), activation (8-30), early_value (31-90).';

ALTER TABLE @extschema@.account ADD COLUMN IF NOT EXISTS lifecycle_stage @extschema@.lifecycle_stage;
COMMENT ON COLUMN @extschema@.account.lifecycle_stage IS
    'The lifecycle stage, set by csm.lifecycle_rule (csm.refresh_lifecycle() and triggers) or by hand. Setting it by hand (UPDATE, or csm.set_lifecycle_stage) pins it until cleared (set it to NULL, or csm.clear_lifecycle_stage); status churned always makes it churned.';

-- Definitions -----------------------------------------------------------------

-- Built-in rows (the seed's defaults) may be changed and disabled, not
-- deleted.  pg_dump keeps your own rows and the built-in ones you changed;
-- a restore puts a changed built-in row in place of the one CREATE
-- EXTENSION installed (csm_internal._builtin_guard).
CREATE TABLE IF NOT EXISTS @extschema@.lifecycle_rule (
    name        text NOT NULL,
    priority    integer NOT NULL DEFAULT 100,
    stage       @extschema@.lifecycle_stage NOT NULL,
    condition   @extschema@.rule_condition NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    description text,
    builtin     boolean NOT NULL DEFAULT false,
    customized  boolean NOT NULL DEFAULT false,
    CONSTRAINT lifecycle_rule_pkey PRIMARY KEY (name),
    CONSTRAINT lifecycle_rule_name_not_blank CHECK (name ~ '\S'),
    CONSTRAINT lifecycle_rule_customized_builtin CHECK (builtin OR NOT customized)
);
COMMENT ON TABLE @extschema@.lifecycle_rule IS
    'The rules that set csm.account.lifecycle_stage: the first enabled rule (lowest priority, then name) whose condition matches the account''s lifecycle facts gives the stage; no match leaves the stage as it is. The seed''s defaults are built in; add your own, change or disable the built-in ones. A config table (a reference table on Citus).';
COMMENT ON COLUMN @extschema@.lifecycle_rule.condition IS
    'A csm.rule_condition over the lifecycle facts: those of csm.routing_facts plus days_since_start and success_criteria_met, for example days_to_renewal <= 90.';
COMMENT ON COLUMN @extschema@.lifecycle_rule.builtin IS
    'Installed by csm (the seed''s defaults); may be changed or disabled but not deleted.';
COMMENT ON COLUMN @extschema@.lifecycle_rule.customized IS
    'A built-in rule you changed: pg_dump keeps it, and a restore puts it in place of the default.';

-- Milestones: what an account reaches on its way to value.
CREATE TABLE IF NOT EXISTS @extschema@.milestone (
    milestone        text NOT NULL,
    label            text NOT NULL,
    phase            @extschema@.onboarding_phase,
    due_day          integer,
    first_value      boolean NOT NULL DEFAULT false,
    business_outcome boolean NOT NULL DEFAULT false,
    detect_feature   text,
    detect_events    bigint,
    detect_users     integer,
    enabled          boolean NOT NULL DEFAULT true,
    builtin          boolean NOT NULL DEFAULT false,
    customized       boolean NOT NULL DEFAULT false,
    CONSTRAINT milestone_pkey PRIMARY KEY (milestone),
    CONSTRAINT milestone_milestone_valid CHECK (milestone ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT milestone_label_not_blank CHECK (label ~ '\S'),
    CONSTRAINT milestone_due_day_not_negative CHECK (due_day >= 0),
    CONSTRAINT milestone_detect_events_positive CHECK (detect_events >= 1),
    CONSTRAINT milestone_detect_users_positive CHECK (detect_users >= 1),
    CONSTRAINT milestone_detect_feature_not_blank CHECK (detect_feature ~ '\S'),
    CONSTRAINT milestone_customized_builtin CHECK (builtin OR NOT customized)
);
COMMENT ON TABLE @extschema@.milestone IS
    'Milestone definitions: the seed''s onboarding milestones are built in; add your own. A milestone is recorded by hand (csm.record_milestone) or, when it has a detect_ rule, detected from the usage rollups by csm.refresh_lifecycle(). A config table (a reference table on Citus).';
COMMENT ON COLUMN @extschema@.milestone.milestone IS 'Its key: lower case letters, digits and _, starting with a letter.';
COMMENT ON COLUMN @extschema@.milestone.phase IS
    'The onboarding phase it belongs to (kickoff, activation, early_value), NULL for one outside onboarding; csm.onboarding_status lists the phase''s milestones as due.';
COMMENT ON COLUMN @extschema@.milestone.due_day IS
    'Days after started_at by which it is due; NULL: the end of its phase (7, 30 or 90). Past it and not reached, it is overdue.';
COMMENT ON COLUMN @extschema@.milestone.first_value IS
    'Reaching it is first value: time to value (TTV) is the first such milestone''s achieved_at minus started_at.';
COMMENT ON COLUMN @extschema@.milestone.business_outcome IS
    'Reaching it is a measurable win, the seed''s fifth success criterion.';
COMMENT ON COLUMN @extschema@.milestone.detect_feature IS
    'Usage detection: the feature (the event column of a tracked source) whose events count; NULL counts every event.';
COMMENT ON COLUMN @extschema@.milestone.detect_events IS
    'Usage detection: reached on the first UTC day on which the account''s events (of detect_feature, when given; at least 1 when only detect_feature is given) add up to this many, all time.';
COMMENT ON COLUMN @extschema@.milestone.detect_users IS
    'Usage detection: reached on the first UTC day by which this many distinct users have been active, all time (users of any feature: the rollups count users and features apart). With detect_events too, both must hold; the later day counts.';

-- The features that count for the seed's "adoption > 60% of core features".
CREATE TABLE IF NOT EXISTS @extschema@.core_feature (
    feature     text NOT NULL,
    description text,
    CONSTRAINT core_feature_pkey PRIMARY KEY (feature),
    CONSTRAINT core_feature_feature_not_blank CHECK (feature ~ '\S')
);
COMMENT ON TABLE @extschema@.core_feature IS
    'Your core features, as named in the event column of a tracked source: feature adoption in csm.onboarding_status is the share of them used since the start. Empty: adoption is unknown and that success criterion is not met. A config table (a reference table on Citus).';

-- Per-account state -----------------------------------------------------------

CREATE TABLE IF NOT EXISTS @extschema@.account_lifecycle (
    account_id           bigint NOT NULL,
    stage                @extschema@.lifecycle_stage,
    onboarding_phase     @extschema@.onboarding_phase,
    stage_entered_at     timestamptz,
    phase_entered_at     timestamptz,
    rule                 text,
    manual               boolean NOT NULL DEFAULT false,
    set_by               name,
    set_reason           text,
    success_criteria_met smallint,
    CONSTRAINT account_lifecycle_pkey PRIMARY KEY (account_id),
    CONSTRAINT account_lifecycle_phase_when_onboarding CHECK (onboarding_phase IS NULL OR stage = 'onboarding'),
    CONSTRAINT account_lifecycle_manual_has_stage CHECK (NOT manual OR stage IS NOT NULL),
    CONSTRAINT account_lifecycle_criteria_range CHECK (success_criteria_met BETWEEN 0 AND 5)
);
COMMENT ON TABLE @extschema@.account_lifecycle IS
    'Each account''s lifecycle state: the stage (as csm.account.lifecycle_stage), the onboarding phase, since when, the rule that set them or the person who pinned the stage, and the success criteria met. Written by csm; read it, or csm.onboarding_status.';
COMMENT ON COLUMN @extschema@.account_lifecycle.onboarding_phase IS
    'kickoff (days 0-7 after started_at), activation (8-30) or early_value (31-90) while the stage is onboarding; NULL otherwise, or without a start date.';
COMMENT ON COLUMN @extschema@.account_lifecycle.rule IS 'The csm.lifecycle_rule that set the stage; NULL when set by hand.';
COMMENT ON COLUMN @extschema@.account_lifecycle.manual IS
    'The stage was set by a person and sticks (rules leave it alone) until cleared; churning clears it.';
COMMENT ON COLUMN @extschema@.account_lifecycle.set_by IS 'Who pinned the stage (the calling role).';
COMMENT ON COLUMN @extschema@.account_lifecycle.success_criteria_met IS
    'How many of the seed''s five onboarding success criteria the account meets (csm.onboarding_status), measured while days_since_start is 0-90 and kept after; once all five are met it stays 5 (the account has graduated). NULL without a start date.';

CREATE TABLE IF NOT EXISTS @extschema@.lifecycle_history (
    account_id bigint NOT NULL,
    history_id bigint GENERATED BY DEFAULT AS IDENTITY,
    stage      @extschema@.lifecycle_stage NOT NULL,
    phase      @extschema@.onboarding_phase,
    entered_at timestamptz NOT NULL,
    left_at    timestamptz,
    reason     text NOT NULL,
    actor      name NOT NULL,
    CONSTRAINT lifecycle_history_pkey PRIMARY KEY (account_id, history_id),
    CONSTRAINT lifecycle_history_left_after_entered CHECK (left_at >= entered_at)
);
CREATE UNIQUE INDEX IF NOT EXISTS lifecycle_history_open_idx ON @extschema@.lifecycle_history (account_id) WHERE left_at IS NULL;
COMMENT ON TABLE @extschema@.lifecycle_history IS
    'Every lifecycle change: one row per stage (and onboarding phase) an account was in, from entered_at until left_at (NULL: the current one), why (the rule, or the person''s reason) and who (the role that caused it).';
COMMENT ON COLUMN @extschema@.lifecycle_history.reason IS
    'rule <name>: <condition>, manual: <reason>, manual stage cleared, or status churned.';
COMMENT ON COLUMN @extschema@.lifecycle_history.actor IS
    'The role that caused the change: the one that set the stage, changed the account, or ran csm.refresh_lifecycle().';

CREATE TABLE IF NOT EXISTS @extschema@.account_milestone (
    account_id  bigint NOT NULL,
    milestone   text NOT NULL,
    achieved_at timestamptz NOT NULL,
    source      text NOT NULL,
    recorded_by name NOT NULL,
    note        text,
    CONSTRAINT account_milestone_pkey PRIMARY KEY (account_id, milestone),
    CONSTRAINT account_milestone_account_fkey FOREIGN KEY (account_id)
        REFERENCES @extschema@.account (account_id) ON DELETE CASCADE,
    CONSTRAINT account_milestone_milestone_fkey FOREIGN KEY (milestone)
        REFERENCES @extschema@.milestone (milestone),
    CONSTRAINT account_milestone_source_known CHECK (source IN ('manual', 'usage'))
);
COMMENT ON TABLE @extschema@.account_milestone IS
    'The milestones each account reached, when, and how we know: manual (csm.record_milestone) or usage (detected by csm.refresh_lifecycle() from the rollups).';
COMMENT ON COLUMN @extschema@.account_milestone.achieved_at IS
    'When it was reached; for a usage milestone, the start (UTC) of the day its threshold was crossed.';
