-- Install-only: CREATE EXTENSION runs this file once.  An upgrade changes
-- these objects with explicit steps in src/updates/A--B/ (README, "Source
-- layout"); the functions and views are in the other files here.

-- Periodic work: a record of every refresh, one entry point for a
-- scheduler, and the pg_cron jobs that call it.
--
-- The refreshes record their own runs (csm_internal._run_finished), so a run shows
-- whoever called it: pg_cron, a user's own scheduler or a person.  A failed
-- refresh rolls back with its caller's transaction, so only csm.run_refresh
-- can record a failure: it runs the refresh in a subtransaction and keeps
-- the error.

CREATE TABLE IF NOT EXISTS @extschema@.refresh_run (
    run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    rows bigint,
    skipped bigint NOT NULL DEFAULT 0,
    error text,
    CONSTRAINT refresh_run_order CHECK (finished_at >= started_at),
    CONSTRAINT refresh_run_counts CHECK (rows >= 0 AND skipped >= 0)
);
CREATE INDEX IF NOT EXISTS refresh_run_kind_idx ON @extschema@.refresh_run (kind, started_at DESC);
COMMENT ON TABLE @extschema@.refresh_run IS
    'One row per refresh that ran to its end (error NULL) or failed under csm.run_refresh (error set, its work rolled back). Kept for 30 days by the csm-purge-runs job (csm.purge_refresh_runs).';
COMMENT ON COLUMN @extschema@.refresh_run.run_id IS 'Identity.';
COMMENT ON COLUMN @extschema@.refresh_run.kind IS 'What ran: a kind of csm.job_schedule (health, churn, segments, lifecycle, renewals, expansion, usage, stale_conversations, ...).';
COMMENT ON COLUMN @extschema@.refresh_run.started_at IS 'When the refresh started (clock time).';
COMMENT ON COLUMN @extschema@.refresh_run.finished_at IS 'When it finished or failed (clock time).';
COMMENT ON COLUMN @extschema@.refresh_run.rows IS 'What the refresh reports (accounts scored or moved, signals raised + ongoing + cleared, CTAs opened, alerts raised, deltas folded, ...); NULL when it failed.';
COMMENT ON COLUMN @extschema@.refresh_run.skipped IS 'Accounts it skipped with a warning (bad metrics).';
COMMENT ON COLUMN @extschema@.refresh_run.error IS 'SQLSTATE and message of a failed run; NULL when it succeeded.';
-- Per-CSM visibility: row-level security on every per-account table, so
-- that a CSM who logs in as their own role reads only their book, through
-- the tables, every security_invoker view and every function that runs as
-- its caller.
--
-- Who sees what (the outer user: the role that logged in or that SET ROLE
-- chose, as csm_internal._caller() names it):
--   * csm's owner, superusers, roles with BYPASSRLS and the admin level
--     (csm.grant_access(role, 'admin')): every account;
--   * a role that is the login_role of an active csm.team_member: the
--     accounts the member is a current primary or secondary CSM of, plus the
--     team's unassigned queue (accounts without a current primary whose open
--     csm.assignment_alert came from a routing rule targeting one of the
--     member's teams);
--   * a team lead (a member whose roles include 'team_lead', as a Gainsight
--     admin marks a manager by role): also every account a member sharing
--     one of the lead's teams holds;
--   * any other role: no account.
--
-- The policies are not part of the extension script: pg_dump writes the
-- policies of an extension's tables, and a restore's CREATE EXTENSION
-- would then meet them again (pg_cron's issue 113).  csm.enable_row_security()
-- creates them, and pg_dump keeps them as the database's own objects.  RLS
-- is enabled, not forced: csm's owner, who runs the triggers, the refreshes
-- and every SECURITY DEFINER writer, is not subject to it.

ALTER TABLE @extschema@.team_member ADD COLUMN IF NOT EXISTS login_role regrole;
CREATE UNIQUE INDEX IF NOT EXISTS team_member_login_role_key ON @extschema@.team_member (login_role) WHERE login_role IS NOT NULL;
COMMENT ON COLUMN @extschema@.team_member.login_role IS
    'The database role this member logs in as; with csm.enable_row_security() in effect the role reads only the member''s book (their primary and secondary accounts and their teams'' unassigned queue; a member whose roles include team_lead: their teams'' accounts). One member per role.';
-- No NaN and no infinities in csm's float and numeric columns (issue 11):
-- a NaN passes CHECK (x >= 0), as NaN sorts above every number, and one
-- such row broke every refresh.  Tables of account and health carry
-- their checks beside their columns (10_core/10_account.sql, 30_health/40_health.sql);
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
