#!/usr/bin/env bash
# The demo portfolio generator (test/data/portfolio.sql), at a small scale:
# it is deterministic, it goes through a tracked table, and everything csm
# derives from it adds up.
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
echo "ok - the generated portfolio is deterministic, rolled up exactly and scored"
[ -n "${KEEP:-}" ] || dropdb "$db"
