#!/usr/bin/env bash
# The demo portfolio generator (test/data/portfolio.sql), at a small scale:
# it is deterministic, it goes through a tracked table, everything csm
# derives from it adds up, and its CRM and billing records (stakeholders,
# payments, notes, engagement) fall within each account's life and carry
# trouble where the account's shape says so.
set -euo pipefail
cd "$(dirname "$0")/../.."
db=csm_portfolio
dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION csm' -f test/data/portfolio.sql
psql -qAtX -v ON_ERROR_STOP=1 -d "$db" -c "SET client_min_messages = warning; SELECT csm_demo.load(120, 60)"

psql -qX -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
SET client_min_messages = warning;
DO $$
DECLARE
    n bigint;
BEGIN
    -- the same arguments give the same rows
    IF (SELECT md5(string_agg(e::text, ',' ORDER BY e::text)) FROM csm_demo.generate_events(30, 10, '2026-06-30') e)
       <> (SELECT md5(string_agg(e::text, ',' ORDER BY e::text)) FROM csm_demo.generate_events(30, 10, '2026-06-30') e) THEN
        RAISE EXCEPTION 'not ok - generate_events is not deterministic';
    END IF;
    -- every event went through the tracked table into the rollup
    IF (SELECT count(*) FROM csm_demo.events) <> (SELECT sum(events) FROM csm.usage_daily) THEN
        RAISE EXCEPTION 'not ok - rollup % differs from % events',
            (SELECT sum(events) FROM csm.usage_daily), (SELECT count(*) FROM csm_demo.events);
    END IF;
    -- a backfill rebuilds the same numbers
    PERFORM csm.backfill_usage('csm_demo.events');
    IF (SELECT count(*) FROM csm_demo.events) <> (SELECT sum(events) FROM csm.usage_daily) THEN
        RAISE EXCEPTION 'not ok - backfill changed the totals';
    END IF;
    -- so do the CRM and billing records
    IF (SELECT md5(string_agg(g::text, ',' ORDER BY g::text))
        FROM (SELECT s::text FROM csm_demo.generate_stakeholders(30, 60, '2026-06-30') s
              UNION ALL SELECT p::text FROM csm_demo.generate_payments(30, 60, '2026-06-30') p
              UNION ALL SELECT o::text FROM csm_demo.generate_notes(30, 60, '2026-06-30') o
              UNION ALL SELECT e::text FROM csm_demo.generate_engagements(30, 60, '2026-06-30') e) g(g))
       <> (SELECT md5(string_agg(g::text, ',' ORDER BY g::text))
           FROM (SELECT s::text FROM csm_demo.generate_stakeholders(30, 60, '2026-06-30') s
                 UNION ALL SELECT p::text FROM csm_demo.generate_payments(30, 60, '2026-06-30') p
                 UNION ALL SELECT o::text FROM csm_demo.generate_notes(30, 60, '2026-06-30') o
                 UNION ALL SELECT e::text FROM csm_demo.generate_engagements(30, 60, '2026-06-30') e) g(g)) THEN
        RAISE EXCEPTION 'not ok - the CRM and billing generators are not deterministic';
    END IF;
    -- every account has a key sponsor and champion from its start, and
    -- invoices, notes and touchpoints while it is a customer
    IF EXISTS (SELECT FROM csm.account a
               WHERE (SELECT count(*) FROM csm.stakeholder s
                      WHERE s.account_id = a.account_id AND s.is_key AND s.started_at = a.started_at
                        AND s.role IN ('executive_sponsor', 'champion')) <> 2)
       OR EXISTS (SELECT FROM csm.account a WHERE a.status = 'active'
                  AND NOT (EXISTS (SELECT FROM csm.payment p WHERE p.account_id = a.account_id)
                           AND EXISTS (SELECT FROM csm.engagement e WHERE e.account_id = a.account_id))) THEN
        RAISE EXCEPTION 'not ok - an account lacks its sponsor, champion, invoices or touchpoints';
    END IF;
    -- nothing before an account's start, on or after its churn, or after today
    SELECT count(*) INTO n
    FROM csm.account a
    CROSS JOIN LATERAL (
        SELECT s.started_at AS t FROM csm.stakeholder s WHERE s.account_id = a.account_id
        UNION ALL SELECT s.departed_at FROM csm.stakeholder s WHERE s.account_id = a.account_id AND s.departed_at IS NOT NULL
        UNION ALL SELECT p.due_on::timestamp AT TIME ZONE 'UTC' FROM csm.payment p WHERE p.account_id = a.account_id
        UNION ALL SELECT p.paid_on::timestamp AT TIME ZONE 'UTC' FROM csm.payment p
                  WHERE p.account_id = a.account_id AND p.paid_on IS NOT NULL
        UNION ALL SELECT o.noted_at FROM csm.account_note o WHERE o.account_id = a.account_id
        UNION ALL SELECT e.occurred_at FROM csm.engagement e WHERE e.account_id = a.account_id) r
    WHERE r.t < date_trunc('day', a.started_at, 'UTC')
       OR r.t >= least(a.churned_at, ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC');
    IF n > 0 THEN
        RAISE EXCEPTION 'not ok - % CRM or billing records fall outside their account''s life', n;
    END IF;
    -- trouble goes with churn: on a fixed portfolio, churning accounts have
    -- a departed sponsor, a problem payment or a trouble note far more often
    -- than healthy ones, yet healthy ones have some and some churning
    -- accounts have none
    PERFORM 1
    FROM (SELECT a.properties->>'shape' AS shape,
                 a.external_id IN (SELECT s.external_id FROM csm_demo.generate_stakeholders(1000, 180, '2026-06-30') s
                                   WHERE s.role = 'executive_sponsor' AND s.departed_at IS NOT NULL)
                 OR a.external_id IN (SELECT p.external_id FROM csm_demo.generate_payments(1000, 180, '2026-06-30') p
                                      WHERE (p.status <> 'paid' AND p.due_on < '2026-06-23') OR p.paid_on > p.due_on + 7)
                 OR a.external_id IN (SELECT o.external_id FROM csm_demo.generate_notes(1000, 180, '2026-06-30') o
                                      WHERE o.kind IN ('competitor_mention', 'budget_concern', 'escalation')) AS trouble
          FROM csm_demo.generate_accounts(1000, '2026-06-30') a) t
    GROUP BY ()
    HAVING avg(t.trouble::integer) FILTER (WHERE t.shape = 'churning')
               > 3 * avg(t.trouble::integer) FILTER (WHERE t.shape = 'healthy')
       AND avg(t.trouble::integer) FILTER (WHERE t.shape = 'healthy') > 0
       AND avg(t.trouble::integer) FILTER (WHERE t.shape = 'churning') < 0.95;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'not ok - trouble in the CRM and billing records does not follow the account shapes';
    END IF;
    -- the portfolio has every segment, churned accounts and 25 members
    IF (SELECT count(DISTINCT segment) FROM csm.account) <> 4
       OR NOT EXISTS (SELECT 1 FROM csm.account WHERE status = 'churned')
       OR (SELECT count(*) FROM csm.team_member) <> 25 THEN
        RAISE EXCEPTION 'not ok - the portfolio lacks a segment, a churned account or members';
    END IF;
    -- health scores for every active account, in more than one band
    SELECT csm.refresh_health() INTO n;
    IF n <> (SELECT count(*) FROM csm.account WHERE status = 'active')
       OR (SELECT count(DISTINCT band) FROM csm.health_score) < 2 THEN
        RAISE EXCEPTION 'not ok - refresh scored % accounts in % bands', n,
            (SELECT count(DISTINCT band) FROM csm.health_score);
    END IF;
END $$;
SQL
echo "ok - the generated portfolio is deterministic, rolled up exactly and scored; its CRM and billing records fit"
[ -n "${KEEP:-}" ] || dropdb "$db"
