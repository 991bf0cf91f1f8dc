-- Revenue (issue 13 section 2): the history of every account's ARR as
-- movements (csm.arr_change), and the retention a CS leader reports from it
-- (csm.revenue_retention, csm.revenue_monthly).
--
-- An account's revenue ARR is csm.account.arr while it is active and 0 once
-- it has churned (csm_internal._revenue_arr).  Every change of it is a row of
-- csm.arr_change, written by triggers on csm.account (any code that changes
-- arr or status) or loaded from billing data (csm.load_arr_history).  The
-- ARR of an account on a day is the arr_after of its latest change dated
-- on or before that day (ties broken by change_id), 0 before its first.

-- The kind of a movement, from the ARR before and after it.  A rise from 0
-- is new for an account that never paid, reactivation for one that did.
CREATE OR REPLACE FUNCTION @extschema@.arr_change_kind(arr_before numeric, arr_after numeric, was_customer boolean DEFAULT false)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN arr_after > arr_before AND arr_before = 0
                 THEN CASE WHEN coalesce(was_customer, false) THEN 'reactivation' ELSE 'new' END
            WHEN arr_after > arr_before THEN 'expansion'
            WHEN arr_after < arr_before AND arr_after = 0 THEN 'churn'
            WHEN arr_after < arr_before THEN 'contraction' END;
COMMENT ON FUNCTION @extschema@.arr_change_kind(numeric, numeric, boolean) IS
    'The kind of an ARR movement: new (from 0, never a customer before), reactivation (from 0, a customer before: was_customer), expansion (up), contraction (down, not to 0), churn (to 0); NULL when nothing changed.';

-- The ARR that counts as revenue: none once churned.
CREATE OR REPLACE FUNCTION csm_internal._revenue_arr(arr numeric, status text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN status = 'churned' THEN 0 ELSE coalesce(arr, 0) END;
COMMENT ON FUNCTION csm_internal._revenue_arr(numeric, text) IS
    'Internal: an account''s revenue ARR: 0 when churned, else arr (0 when NULL).';

-- The ARR of an account on a day, from its movements: an aggregate over
-- the account's rows, in C (src/revenue.c), one pass without sorting.
CREATE OR REPLACE FUNCTION csm_internal._arr_at_trans(internal, date, bigint, numeric, date) RETURNS internal
AS 'MODULE_PATHNAME', 'csm_arr_at_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._arr_at_trans(internal, date, bigint, numeric, date) IS
    'Internal: transition function of csm_internal._arr_at.';
CREATE OR REPLACE FUNCTION csm_internal._arr_at_final(internal) RETURNS numeric
AS 'MODULE_PATHNAME', 'csm_arr_at_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION csm_internal._arr_at_final(internal) IS
    'Internal: final function of csm_internal._arr_at.';
CREATE OR REPLACE AGGREGATE csm_internal._arr_at(effective_date date, change_id bigint, arr_after numeric, cutoff date) (
    SFUNC = csm_internal._arr_at_trans,
    STYPE = internal,
    FINALFUNC = csm_internal._arr_at_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE csm_internal._arr_at(date, bigint, numeric, date) IS
    'Internal: the arr_after of the latest movement (by effective_date, then change_id) dated on or before cutoff; NULL when none.';

CREATE OR REPLACE FUNCTION csm_internal._arr_change_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'csm.arr_change is append-only'
        USING ERRCODE = 'feature_not_supported',
              HINT = 'Record a correcting change instead: update csm.account.arr, or reload the account''s history with csm.load_arr_history.';
END $$;
COMMENT ON FUNCTION csm_internal._arr_change_guard() IS 'Trigger: refuses any UPDATE of csm.arr_change (0A000).';
CREATE OR REPLACE TRIGGER arr_change_append_only BEFORE UPDATE ON @extschema@.arr_change
    FOR EACH ROW EXECUTE FUNCTION csm_internal._arr_change_guard();

-- A transaction-local setting, NULL when unset or empty.
CREATE OR REPLACE FUNCTION csm_internal._arr_change_setting(name text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN NULLIF(pg_catalog.current_setting(name, true), '');
COMMENT ON FUNCTION csm_internal._arr_change_setting(text) IS
    'Internal: the value of a csm.arr_change_* setting, NULL when unset or empty.';

-- Records movements of revenue ARR, one per element of the arrays: the
-- triggers on csm.account gather them from their transition tables first
-- (Citus cannot join those with its tables), then this writes them.
-- dates are the days each change would take by itself; the setting
-- csm.arr_change_date, when set, dates them all, and may not be before an
-- account started.  A derived date before the start is moved to the start.
CREATE OR REPLACE FUNCTION csm_internal._record_arr_changes(ids bigint[], befores numeric[], afters numeric[], dates date[],
                                                 starts date[], returning_ids bigint[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    given date := csm_internal._arr_change_setting('csm.arr_change_date')::date;
    bad record;
    paid bigint[];
    paid_from date[];
BEGIN
    IF given IS NOT NULL THEN
        SELECT u.id, u.start INTO bad FROM unnest(ids, starts) AS u(id, start) WHERE given < u.start LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ARR change of account % dated %, before the account started on %', bad.id, given, bad.start
                USING ERRCODE = 'check_violation',
                      HINT = 'Set csm.arr_change_date to a day on or after the account''s started_at, or correct started_at.';
        END IF;
    END IF;
    -- Whether a rise from 0 is a return: the account paid before it, on
    -- or before its date.  (Not a later movement: on Citus a new account's
    -- first movement is recorded at commit, after those of UPDATEs in its
    -- transaction.)  Read first, then matched here: Citus cannot join the
    -- arrays with its tables.
    SELECT coalesce(array_agg(c.account_id), '{}'), coalesce(array_agg(c.first_paid), '{}')
    INTO paid, paid_from
    FROM (SELECT c.account_id, min(c.effective_date) AS first_paid FROM @extschema@.arr_change c
          WHERE c.account_id = ANY (ARRAY(SELECT u.id FROM unnest(ids, befores) AS u(id, b) WHERE u.b = 0))
            AND c.arr_after > 0
          GROUP BY c.account_id) c;
    INSERT INTO @extschema@.arr_change (account_id, effective_date, arr_before, arr_after, kind, reason, source)
    SELECT u.id, coalesce(given, greatest(u.d, u.start)), u.b, u.a,
           @extschema@.arr_change_kind(u.b, u.a,
               u.id = ANY (returning_ids) OR coalesce(p.since <= coalesce(given, greatest(u.d, u.start)), false)),
           coalesce(csm_internal._arr_change_setting('csm.arr_change_reason'), 'manual'),
           coalesce(csm_internal._arr_change_setting('csm.arr_change_source'), 'account')
    FROM unnest(ids, befores, afters, dates, starts) AS u(id, b, a, d, start)
    LEFT JOIN unnest(paid, paid_from) AS p(id, since) ON p.id = u.id
    -- an arr that account's CHECKs refuse (only there if they were dropped) is no revenue
    WHERE u.b >= 0 AND u.b < 'Infinity' AND u.a >= 0 AND u.a < 'Infinity'
    ORDER BY u.id;
END $$;
COMMENT ON FUNCTION csm_internal._record_arr_changes(bigint[], numeric[], numeric[], date[], date[], bigint[]) IS
    'Internal: writes one csm.arr_change row per element, with the kind, the reason, source and date of the transaction''s csm.arr_change_* settings; 23514 for a csm.arr_change_date before an account started.';

-- On Citus csm.account is a reference table, and these fire on each node's
-- copy: they record once, from the copy of the node the statement ran on
-- (csm_internal._origin()), where Citus has changed the workers' copies first.
CREATE OR REPLACE FUNCTION csm_internal._account_arr_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    today date := (csm_internal._stamp() AT TIME ZONE 'UTC')::date;
    r record;
BEGIN
    -- (csm_lifecycle.writing: csm's own write of lifecycle_stage alone, no ARR moves)
    IF current_setting('csm_lifecycle.writing', true) = 'on' OR NOT csm_internal._origin() THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(n.account_id ORDER BY n.account_id) AS ids,
           array_agg(csm_internal._revenue_arr(o.arr, o.status) ORDER BY n.account_id) AS befores,
           array_agg(csm_internal._revenue_arr(n.arr, n.status) ORDER BY n.account_id) AS afters,
           -- a churn takes its churned_at's day; anything else today's
           array_agg(CASE WHEN n.status = 'churned' AND o.status IS DISTINCT FROM 'churned'
                          THEN coalesce((n.churned_at AT TIME ZONE 'UTC')::date, today) ELSE today END
                     ORDER BY n.account_id) AS dates,
           array_agg((coalesce(n.started_at, n.created_at) AT TIME ZONE 'UTC')::date ORDER BY n.account_id) AS starts,
           array_agg(n.account_id ORDER BY n.account_id) FILTER (WHERE o.status = 'churned') AS returning_ids
    INTO r
    FROM new_accounts n JOIN old_accounts o ON o.account_id = n.account_id
    WHERE csm_internal._revenue_arr(n.arr, n.status) <> csm_internal._revenue_arr(o.arr, o.status);
    IF r.ids IS NOT NULL THEN
        PERFORM csm_internal._record_arr_changes(r.ids, r.befores, r.afters, r.dates, r.starts,
                                                coalesce(r.returning_ids, '{}'));
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._account_arr_changed() IS
    'Trigger: records in csm.arr_change every change of an account''s revenue ARR (arr, or status churned/active), with the reason, source and date of the transaction''s csm.arr_change_* settings.';
CREATE OR REPLACE TRIGGER account_arr_changed AFTER UPDATE ON @extschema@.account
    REFERENCING OLD TABLE AS old_accounts NEW TABLE AS new_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._account_arr_changed();

-- A new account with ARR is a new customer from the day it started.  An
-- account inserted with a created_at from before the transaction is a
-- restore (pg_restore brings its arr_change rows too) and is left alone.
CREATE OR REPLACE FUNCTION csm_internal._account_arr_new() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    IF NOT csm_internal._origin() THEN
        RETURN NULL;
    END IF;
    -- On Citus new accounts' ARR is recorded at commit instead
    -- (csm_internal._new_accounts_at_commit, 95_platform/96_new_accounts.sql).
    IF csm_internal._new_accounts_deferred(TG_RELID) THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(n.account_id ORDER BY n.account_id) AS ids,
           array_agg(csm_internal._revenue_arr(n.arr, n.status) ORDER BY n.account_id) AS afters,
           array_agg((coalesce(n.started_at, n.created_at) AT TIME ZONE 'UTC')::date ORDER BY n.account_id) AS starts
    INTO r
    FROM new_accounts n
    WHERE n.created_at >= pg_catalog.now() AND csm_internal._revenue_arr(n.arr, n.status) > 0;
    IF r.ids IS NOT NULL THEN
        PERFORM csm_internal._record_arr_changes(r.ids, array_fill(0::numeric, ARRAY[cardinality(r.ids)]), r.afters,
                                                r.starts, r.starts, '{}');
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION csm_internal._account_arr_new() IS
    'Trigger: records a new account''s ARR in csm.arr_change as kind new, dated the day it started (coalesce(started_at, created_at)); accounts inserted with a created_at before the transaction (a restore) are left alone.';
CREATE OR REPLACE TRIGGER account_arr_new AFTER INSERT ON @extschema@.account
    REFERENCING NEW TABLE AS new_accounts FOR EACH STATEMENT EXECUTE FUNCTION csm_internal._account_arr_new();

REVOKE ALL ON FUNCTION csm_internal._account_arr_changed(), csm_internal._account_arr_new(),
    csm_internal._record_arr_changes(bigint[], numeric[], numeric[], date[], date[], bigint[]) FROM PUBLIC;

-- Billing history replaces an account's recorded history from its first
-- snapshot on: the movements dated before it are kept (they give the ARR
-- the first snapshot moves from), those dated on or after it go, and each
-- snapshot whose ARR differs from the one before it becomes a movement.
-- Loading the same history twice records the same rows.
CREATE OR REPLACE FUNCTION @extschema@.load_arr_history(history @extschema@.arr_snapshot[], reason text DEFAULT 'billing import')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad record;
    ids bigint[];
    dates date[];
    arrs numeric[];
    accounts bigint[];
    firsts jsonb;
    base_ids bigint[];
    base_arrs numeric[];
    base_paid boolean[];
    loaded bigint;
BEGIN
    PERFORM csm_internal._require('admin');
    IF reason IS NULL OR reason !~ '\S' THEN
        RAISE EXCEPTION 'reason must not be blank' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Say where the history comes from, for example ''Stripe export 2026-12''.';
    END IF;
    IF history IS NULL THEN
        RAISE EXCEPTION 'history must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT h.* INTO bad FROM unnest(history) h
    WHERE h.external_id IS NULL OR h.effective_date IS NULL OR h.arr IS NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ARR snapshot (%, %, %) has a NULL field', bad.external_id, bad.effective_date, bad.arr
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Every snapshot needs external_id, effective_date and arr (0 for a churn).';
    END IF;
    SELECT h.* INTO bad FROM unnest(history) h WHERE NOT (h.arr >= 0 AND h.arr < 'Infinity') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ARR of account "%" on % is %, not an amount', bad.external_id, bad.effective_date, bad.arr
            USING ERRCODE = 'invalid_parameter_value', HINT = 'ARR is a finite amount, 0 or more.';
    END IF;
    SELECT h.external_id INTO bad FROM unnest(history) h
    WHERE NOT EXISTS (SELECT 1 FROM @extschema@.account a WHERE a.external_id = h.external_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', bad.external_id
            USING ERRCODE = 'no_data_found', HINT = 'Create the account in csm.account first.';
    END IF;
    SELECT array_agg(a.account_id ORDER BY a.account_id, h.effective_date),
           array_agg(h.effective_date ORDER BY a.account_id, h.effective_date),
           array_agg(h.arr ORDER BY a.account_id, h.effective_date)
    INTO ids, dates, arrs
    FROM unnest(history) h JOIN @extschema@.account a ON a.external_id = h.external_id;
    IF ids IS NULL THEN
        RETURN 0;
    END IF;
    SELECT a.external_id, h.effective_date, (coalesce(a.started_at, a.created_at) AT TIME ZONE 'UTC')::date AS start
    INTO bad FROM unnest(history) h JOIN @extschema@.account a ON a.external_id = h.external_id
    WHERE h.effective_date < (coalesce(a.started_at, a.created_at) AT TIME ZONE 'UTC')::date LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ARR snapshot of account "%" dated %, before the account started on %', bad.external_id, bad.effective_date, bad.start
            USING ERRCODE = 'check_violation', HINT = 'Correct the account''s started_at, or leave out the snapshots before it.';
    END IF;
    SELECT u.id, u.d INTO bad FROM unnest(ids, dates) AS u(id, d) GROUP BY u.id, u.d HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'two ARR snapshots of account % on %', bad.id, bad.d
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give one ARR per account and day.';
    END IF;
    -- each account's first day as days since 2000-01-01: date + integer is
    -- immutable, which Citus needs in a DELETE on the shards
    SELECT array_agg(f.id ORDER BY f.id), jsonb_object_agg(f.id::text, f.first - '2000-01-01'::date)
    INTO accounts, firsts
    FROM (SELECT u.id, min(u.d) AS first FROM unnest(ids, dates) AS u(id, d) GROUP BY u.id) f;
    -- What each account's history was before its first snapshot.
    SELECT array_agg(b.account_id), array_agg(b.arr_after), array_agg(b.paid)
    INTO base_ids, base_arrs, base_paid
    FROM (SELECT c.account_id,
                 csm_internal._arr_at(c.effective_date, c.change_id, c.arr_after, 'infinity') AS arr_after,
                 bool_or(c.arr_after > 0) AS paid
          FROM @extschema@.arr_change c
          WHERE c.account_id = ANY (accounts) AND c.effective_date < '2000-01-01'::date + (firsts ->> c.account_id::text)::integer
          GROUP BY c.account_id) b;
    DELETE FROM @extschema@.arr_change c
    WHERE c.account_id = ANY (accounts) AND c.effective_date >= '2000-01-01'::date + (firsts ->> c.account_id::text)::integer;
    INSERT INTO @extschema@.arr_change (account_id, effective_date, arr_before, arr_after, kind, reason, source)
    SELECT s.id, s.d, s.prev, s.a, @extschema@.arr_change_kind(s.prev, s.a, s.paid), load_arr_history.reason, 'billing'
    FROM (SELECT u.id, u.d, u.a,
                 coalesce(lag(u.a) OVER w, b.arr, 0) AS prev,
                 coalesce(b.paid, false) OR coalesce(bool_or(u.a > 0) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS paid
          FROM unnest(ids, dates, arrs) AS u(id, d, a)
          LEFT JOIN unnest(base_ids, base_arrs, base_paid) AS b(id, arr, paid) ON b.id = u.id
          WINDOW w AS (PARTITION BY u.id ORDER BY u.d)) s
    WHERE s.a <> s.prev
    ORDER BY s.id, s.d;
    GET DIAGNOSTICS loaded = ROW_COUNT;
    RETURN loaded;
END $$;
COMMENT ON FUNCTION @extschema@.load_arr_history(@extschema@.arr_snapshot[], text) IS
    'Loads ARR history from your billing data: one csm.arr_snapshot (external_id, effective_date, arr) per account and day the ARR changed. Replaces each named account''s csm.arr_change rows dated on or after its first snapshot (earlier ones stay and give the ARR it moves from); each snapshot whose ARR differs from the previous one becomes a movement of source billing with this reason. Does not change csm.account. Returns the rows written. Errors: 42501 without the admin level, 22004 a NULL, 22023 a negative or non-finite ARR, two snapshots of one account on one day or a blank reason, P0002 an unknown account, 23514 a snapshot before the account started.';

-- Retention ---------------------------------------------------------------------

-- One pass over the movements, grouped by account: its ARR at the start
-- of the period (latest change dated before period_start), at its end
-- (latest dated on or before period_end), and whether it ever paid before
-- the period.  Then the sums (README "Revenue" has the formulas).
CREATE OR REPLACE FUNCTION @extschema@.revenue_retention(period_start date, period_end date, segment text DEFAULT NULL)
RETURNS TABLE (starting_arr numeric, expansion_arr numeric, contraction_arr numeric, churned_arr numeric,
               reactivation_arr numeric, ending_arr_of_starting_customers numeric,
               grr numeric, nrr numeric, logo_churn_rate numeric, expansion_rate numeric, new_arr numeric,
               starting_customers bigint, churned_customers bigint, new_customers bigint, reactivated_customers bigint,
               -- the vocabulary's names (0-1); grr, nrr, logo_churn_rate and expansion_rate are deprecated
               grr_ratio numeric, nrr_ratio numeric, logo_churn_ratio numeric, expansion_ratio numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF period_start IS NULL OR period_end IS NULL THEN
        RAISE EXCEPTION 'period_start and period_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF period_end < period_start THEN
        RAISE EXCEPTION 'period_end % is before period_start %', period_end, period_start
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The period runs from period_start to period_end, both included.';
    END IF;
    RETURN QUERY
    -- grr_ratio, nrr_ratio, logo_churn_ratio and expansion_ratio repeat
    -- grr, nrr, logo_churn_rate and expansion_rate (deprecated)
    SELECT q.*, q.grr, q.nrr, q.logo_churn_rate, q.expansion_rate
    FROM (
    SELECT t.s_arr, t.exp_arr, t.con_arr, t.churn_arr, t.react_arr,
           t.s_arr + t.exp_arr - t.con_arr - t.churn_arr,
           CASE WHEN t.s_arr > 0 THEN t.kept / t.s_arr END AS grr,
           CASE WHEN t.s_arr > 0 THEN (t.s_arr + t.exp_arr - t.con_arr - t.churn_arr) / t.s_arr END AS nrr,
           CASE WHEN t.s_n > 0 THEN t.churn_n::numeric / t.s_n END AS logo_churn_rate,
           CASE WHEN t.s_arr > 0 THEN t.exp_arr / t.s_arr END AS expansion_rate,
           t.new_arr_, t.s_n, t.churn_n, t.new_n, t.react_n
    FROM (SELECT coalesce(sum(p.s) FILTER (WHERE p.s > 0), 0) AS s_arr,
                 coalesce(sum(p.e - p.s) FILTER (WHERE p.s > 0 AND p.e > p.s), 0) AS exp_arr,
                 coalesce(sum(p.s - p.e) FILTER (WHERE p.e > 0 AND p.e < p.s), 0) AS con_arr,
                 coalesce(sum(p.s) FILTER (WHERE p.s > 0 AND p.e = 0), 0) AS churn_arr,
                 coalesce(sum(p.e) FILTER (WHERE p.s = 0 AND p.e > 0 AND p.paid), 0) AS react_arr,
                 coalesce(sum(p.e) FILTER (WHERE p.s = 0 AND p.e > 0 AND NOT p.paid), 0) AS new_arr_,
                 coalesce(sum(least(p.s, p.e)) FILTER (WHERE p.s > 0), 0) AS kept,
                 count(*) FILTER (WHERE p.s > 0) AS s_n,
                 count(*) FILTER (WHERE p.s > 0 AND p.e = 0) AS churn_n,
                 count(*) FILTER (WHERE p.s = 0 AND p.e > 0 AND NOT p.paid) AS new_n,
                 count(*) FILTER (WHERE p.s = 0 AND p.e > 0 AND p.paid) AS react_n
          FROM (SELECT c.account_id,
                       coalesce(csm_internal._arr_at(c.effective_date, c.change_id, c.arr_after,
                                                    revenue_retention.period_start - 1), 0) AS s,
                       coalesce(csm_internal._arr_at(c.effective_date, c.change_id, c.arr_after,
                                                    revenue_retention.period_end), 0) AS e,
                       coalesce(bool_or(c.arr_after > 0) FILTER (WHERE c.effective_date < revenue_retention.period_start), false) AS paid
                FROM @extschema@.arr_change c
                WHERE c.effective_date <= revenue_retention.period_end
                  AND (revenue_retention.segment IS NULL
                       OR c.account_id IN (SELECT a.account_id FROM @extschema@.account a
                                           WHERE a.segment = revenue_retention.segment))
                GROUP BY c.account_id) p) t) q;
END $$;
COMMENT ON FUNCTION @extschema@.revenue_retention(date, date, text) IS
    'Revenue retention over a period (both days included), for all accounts or one segment (the account''s current segment): starting_arr (customers paying at the start), their expansion, contraction and churn, reactivation_arr (returning customers), ending_arr_of_starting_customers, grr = sum(least(start, end)) / starting_arr (capped per customer), nrr = ending_arr_of_starting_customers / starting_arr, logo_churn_rate = starting customers at 0 at the end / starting customers, expansion_rate = expansion_arr / starting_arr, and new_arr (new logos, in neither GRR nor NRR), with the customer counts. Rates are fractions, NULL without starting customers; grr_ratio, nrr_ratio, logo_churn_ratio and expansion_ratio repeat them under the vocabulary''s names (the four without _ratio are deprecated, removed in 0.3.0). Errors: 22004 a NULL date, 22023 period_end before period_start.';

-- Month by month --------------------------------------------------------------------

-- Every account with history gets a row per month from the first month of
-- any movement to the current one (or the last movement, if later): its ARR
-- at the month's end, carried forward.  Each month's movements compare it
-- with the month before; the trailing twelve months with the month twelve
-- before, which is csm.revenue_retention over those twelve months.
CREATE OR REPLACE VIEW @extschema@.revenue_monthly WITH (security_invoker = true) AS
WITH bounds AS (
    SELECT date_trunc('month', min(c.effective_date))::date AS first_month,
           date_trunc('month', greatest(max(c.effective_date), (now() AT TIME ZONE 'UTC')::date))::date AS last_month
    FROM @extschema@.arr_change c
), spine AS (
    SELECT g.month::date AS month
    FROM bounds b, generate_series(b.first_month, b.last_month, interval '1 month') AS g(month)
), moves AS (
    SELECT c.account_id, date_trunc('month', c.effective_date)::date AS month,
           csm_internal._arr_at(c.effective_date, c.change_id, c.arr_after, 'infinity') AS arr,
           bool_or(c.arr_after > 0) AS paid
    FROM @extschema@.arr_change c
    GROUP BY c.account_id, date_trunc('month', c.effective_date)
), grid AS (
    SELECT a.account_id, s.month, m.arr, m.paid,
           count(m.arr) OVER (PARTITION BY a.account_id ORDER BY s.month) AS run
    FROM (SELECT DISTINCT m.account_id FROM moves m) a
    CROSS JOIN spine s
    LEFT JOIN moves m ON m.account_id = a.account_id AND m.month = s.month
), filled AS (
    -- a run of months starts at a month with movements, the only one of the run with an arr
    SELECT g.account_id, g.month,
           coalesce(max(g.arr) OVER (PARTITION BY g.account_id, g.run), 0) AS arr,
           coalesce(bool_or(g.paid) OVER (PARTITION BY g.account_id ORDER BY g.month), false) AS paid_through
    FROM grid g
), per AS (
    SELECT f.account_id, f.month, f.arr AS e,
           coalesce(lag(f.arr) OVER w, 0) AS s1, coalesce(lag(f.paid_through) OVER w, false) AS paid1,
           coalesce(lag(f.arr, 12) OVER w, 0) AS s12, coalesce(lag(f.paid_through, 12) OVER w, false) AS paid12
    FROM filled f
    WINDOW w AS (PARTITION BY f.account_id ORDER BY f.month)
), sums AS (
    SELECT p.month, a.segment, grouping(a.segment) AS total,
           coalesce(sum(p.s1) FILTER (WHERE p.s1 > 0), 0) AS starting_arr,
           coalesce(sum(p.e) FILTER (WHERE p.s1 = 0 AND p.e > 0 AND NOT p.paid1), 0) AS new_arr,
           coalesce(sum(p.e - p.s1) FILTER (WHERE p.s1 > 0 AND p.e > p.s1), 0) AS expansion_arr,
           coalesce(sum(p.s1 - p.e) FILTER (WHERE p.e > 0 AND p.e < p.s1), 0) AS contraction_arr,
           coalesce(sum(p.s1) FILTER (WHERE p.s1 > 0 AND p.e = 0), 0) AS churned_arr,
           coalesce(sum(p.e) FILTER (WHERE p.s1 = 0 AND p.e > 0 AND p.paid1), 0) AS reactivation_arr,
           coalesce(sum(p.e), 0) AS ending_arr,
           count(*) FILTER (WHERE p.e > 0) AS customers,
           count(*) FILTER (WHERE p.s1 = 0 AND p.e > 0 AND NOT p.paid1) AS new_customers,
           count(*) FILTER (WHERE p.s1 > 0 AND p.e = 0) AS churned_customers,
           sum(least(p.s1, p.e)) FILTER (WHERE p.s1 > 0) AS kept1,
           sum(p.e) FILTER (WHERE p.s1 > 0) AS end1,
           sum(p.s12) FILTER (WHERE p.s12 > 0) AS start12,
           sum(least(p.s12, p.e)) FILTER (WHERE p.s12 > 0) AS kept12,
           sum(p.e) FILTER (WHERE p.s12 > 0) AS end12,
           count(*) FILTER (WHERE p.s12 > 0) AS customers12,
           count(*) FILTER (WHERE p.s12 > 0 AND p.e = 0) AS churned12
    FROM per p
    JOIN @extschema@.account a ON a.account_id = p.account_id
    GROUP BY GROUPING SETS ((p.month), (p.month, a.segment))
    -- accounts without a segment are in the total row only
    HAVING grouping(a.segment) = 1 OR a.segment IS NOT NULL
)
SELECT r.*,
       -- the vocabulary's names (_ratio 0-1, _arr money); grr ... ltv are deprecated
       r.grr AS grr_ratio, r.nrr AS nrr_ratio, r.grr_12m AS grr_12m_ratio, r.nrr_12m AS nrr_12m_ratio,
       r.logo_churn_rate_12m AS logo_churn_12m_ratio, r.arpa AS arpa_arr, r.ltv AS ltv_arr
FROM (
SELECT s.month, CASE WHEN s.total = 0 THEN s.segment END AS segment,
       s.starting_arr, s.new_arr, s.expansion_arr, s.contraction_arr, s.churned_arr, s.reactivation_arr, s.ending_arr,
       s.customers, s.new_customers, s.churned_customers,
       s.kept1 / NULLIF(s.starting_arr, 0) AS grr,
       s.end1 / NULLIF(s.starting_arr, 0) AS nrr,
       s.kept12 / NULLIF(s.start12, 0) AS grr_12m,
       s.end12 / NULLIF(s.start12, 0) AS nrr_12m,
       s.churned12::numeric / NULLIF(s.customers12, 0) AS logo_churn_rate_12m,
       s.ending_arr / NULLIF(s.customers, 0) AS arpa,
       (s.ending_arr / NULLIF(s.customers, 0)) / NULLIF(s.churned12::numeric / NULLIF(s.customers12, 0), 0) AS ltv
FROM sums s) r;
COMMENT ON VIEW @extschema@.revenue_monthly IS
    'ARR movements month by month (month is the first day), per segment (the account''s current segment) and in total (segment NULL), zero-filled from the first month of any movement to the current one: starting, new, expansion, contraction, churned, reactivation and ending ARR, customers, that month''s grr_ratio and nrr_ratio, grr_12m_ratio, nrr_12m_ratio and logo_churn_12m_ratio over the trailing twelve months (csm.revenue_retention''s formulas, fractions), arpa_arr = ending_arr / customers and ltv_arr = arpa_arr / logo_churn_12m_ratio (NULL, never infinite, without churn). grr, nrr, grr_12m, nrr_12m, logo_churn_rate_12m, arpa and ltv are the same, deprecated (removed in 0.3.0).';
