#!/usr/bin/env bash
# Citus pgbench stress: 8 clients write a distributed, tracked event table
# (TEXT key, the table's own distribution column) at once: single-row and
# multi-row inserts on the same hot accounts, deletes, and folds racing them.
# Afterwards every event is counted, and once folded the rollups equal a
# GROUP BY over the table exactly. No user setting is changed.
#
# Runs against the coordinator in PGHOST/PGPORT/PGDATABASE (csm created and
# distributed there); makes and drops its own table.
set -euo pipefail
export PGUSER=${PGUSER:-postgres} PGDATABASE=${PGDATABASE:-csm_citus}
log=$(mktemp) script=$(mktemp)
trap 'rm -f "$log" "$script"; psql -qX -c "DROP TABLE IF EXISTS public.usage_stress_events" >/dev/null 2>&1 || true' EXIT

psql -qX -v ON_ERROR_STOP=1 <<'SQL'
DROP TABLE IF EXISTS public.usage_stress_events;
CREATE TABLE public.usage_stress_events (id bigserial, org text NOT NULL, member text, feature text, at timestamptz NOT NULL);
SELECT create_distributed_table('public.usage_stress_events', 'org');
SELECT csm.track_usage('public.usage_stress_events', 'org', 'at', 'feature', 'member');
-- half the keys have their accounts already, half are created by the folds
INSERT INTO csm.account (external_id) SELECT 'hot_' || i FROM generate_series(1, 10) i ON CONFLICT DO NOTHING;
SQL

cat > "$script" <<'PGB'
\set a random(1, 20)
\set u random(1, 40)
\set op random(1, 40)
\if :op <= 28
INSERT INTO public.usage_stress_events (org, member, feature, at)
VALUES ('hot_' || :a, 'u' || :u, 'f' || (:u % 5), timestamptz '2026-05-01 12:00+00' - (:u % 3) * interval '1 day');
\elif :op <= 37
INSERT INTO public.usage_stress_events (org, member, feature, at)
VALUES ('hot_' || :a, 'u' || :u, 'f1', '2026-05-01 00:00+00'), ('hot_' || (:a % 20 + 1), 'u' || (:u + 1), 'f2', '2026-05-01 00:00+00'),
       ('hot_' || ((:a + 7) % 20 + 1), NULL, NULL, '2026-04-30 23:59+00'), ('hot_' || :a, 'u' || :u, NULL, '2026-05-02 00:00+00');
\elif :op <= 39
DELETE FROM public.usage_stress_events
WHERE org = 'hot_' || :a AND id IN (SELECT id FROM public.usage_stress_events WHERE org = 'hot_' || :a ORDER BY id DESC LIMIT 2);
\else
SELECT csm.compact_usage();
\endif
PGB

pgbench -n -c 8 -j 2 -t 250 -f "$script" > "$log" 2>&1 || { cat "$log"; echo "not ok - pgbench reported errors"; exit 1; }
grep -E "number of (transactions actually processed|failed)|tps" "$log" || true

psql -qX -v ON_ERROR_STOP=1 <<'SQL'
SELECT (SELECT count(*) FROM public.usage_stress_events) AS source_rows,
       (SELECT sum(events) FROM csm.usage_daily WHERE source = 'usage_stress_events') AS rolled_up,
       (SELECT coalesce(sum(events), 0) FROM csm.usage_unknown_key WHERE source = 'usage_stress_events') AS unknown_keys;
DO $$
DECLARE
    counted bigint;
    bad bigint;
BEGIN
    -- before any final fold: every event is under its account or an unknown key
    EXECUTE 'SELECT coalesce((SELECT sum(events) FROM csm.usage_daily WHERE source = ''usage_stress_events''), 0)
                  + coalesce((SELECT sum(events) FROM csm.usage_unknown_key WHERE source = ''usage_stress_events''), 0)'
    INTO counted;
    IF counted <> (SELECT count(*) FROM public.usage_stress_events) THEN
        RAISE EXCEPTION 'not ok - % events counted, % rows', counted, (SELECT count(*) FROM public.usage_stress_events);
    END IF;
END $$;
-- in a transaction of its own, as pg_cron runs it (Citus refuses to write
-- csm.account, a reference table, after a parallel read in a transaction)
SELECT csm.compact_usage() > 0 AS folded;
DO $$
DECLARE
    bad bigint;
BEGIN
    EXECUTE 'SELECT count(*) FROM (
        (SELECT external_id, day, events, active_users FROM csm.usage_daily
         WHERE source = ''usage_stress_events'' AND events <> 0
         EXCEPT ALL
         SELECT org, (at AT TIME ZONE ''UTC'')::date, count(*), count(DISTINCT member) FROM public.usage_stress_events GROUP BY 1, 2)
        UNION ALL
        (SELECT org, (at AT TIME ZONE ''UTC'')::date, count(*), count(DISTINCT member) FROM public.usage_stress_events GROUP BY 1, 2
         EXCEPT ALL
         SELECT external_id, day, events, active_users FROM csm.usage_daily
         WHERE source = ''usage_stress_events'' AND events <> 0)) d'
    INTO bad;
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % (account, day) rows differ between the rollups and the table', bad;
    END IF;
    EXECUTE 'SELECT count(*) FROM (
        SELECT external_id, day, feature, events FROM csm.usage_feature_daily
        WHERE source = ''usage_stress_events'' AND events <> 0
        EXCEPT ALL
        SELECT org, (at AT TIME ZONE ''UTC'')::date, feature, count(*) FROM public.usage_stress_events WHERE feature IS NOT NULL GROUP BY 1, 2, 3) d'
    INTO bad;
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % feature rows differ', bad;
    END IF;
END $$;
DROP TABLE public.usage_stress_events;
SQL
echo "ok - 8 clients on a distributed tracked table: rollups equal a count over the table"
