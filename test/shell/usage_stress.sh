#!/usr/bin/env bash
# pgbench stress: 16 clients write the same 10 hot accounts at once, with
# single-row inserts, small batches and deletes, while they fold each
# other's deltas. Afterwards the rollup must
# equal a GROUP BY over the source exactly, with no deadlock and no error.
# The deletes lock their rows in id order (FOR UPDATE in the subquery):
# without it, two deletes of the same rows could take them in the orders of
# two different plans and deadlock on the events table itself, not on csm.
set -euo pipefail
. "$(dirname "$0")/lib/stress.sh"
db=csm_stress_usage
fresh_db "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION csm;
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     org text NOT NULL, member text, feature text, at timestamptz NOT NULL);
SELECT csm.track_usage('events', 'org', 'at', 'feature', 'member');
SQL

script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat > "$script" <<'PGB'
\set a random(1, 10)
\set u random(1, 40)
\set op random(1, 20)
\if :op <= 15
INSERT INTO events (org, member, feature, at)
VALUES ('hot_' || :a, 'u' || :u, 'f' || (:u % 5), now() - (:u % 3) * interval '1 day');
\elif :op <= 19
INSERT INTO events (org, member, feature, at)
SELECT 'hot_' || ((:a + i) % 10 + 1), 'u' || ((:u + i) % 40), 'f' || (i % 5), now()
FROM generate_series(1, 10) AS i;
\else
DELETE FROM events WHERE id IN (SELECT id FROM events WHERE org = 'hot_' || :a ORDER BY id DESC LIMIT 3 FOR UPDATE);
\endif
PGB

before=$(deadlocks "$db")
# Each client folds after 25 deltas, and a 10-row batch (up to 30 groups)
# may go straight to the counters, so folds and direct writes race appends.
PGOPTIONS="-c csm.compact_threshold=25" pgbench -n -c 16 -j 2 -t 300 -f "$script" "$db" > /tmp/csm_stress_usage.log 2>&1 || {
    cat /tmp/csm_stress_usage.log; echo "not ok - pgbench reported errors"; exit 1; }
grep -E "number of (transactions actually processed|failed)|tps" /tmp/csm_stress_usage.log || true

psql -qX -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
SELECT count(*) AS source_rows, (SELECT sum(events) FROM csm.usage_daily) AS rolled_up FROM events;
DO $$
DECLARE
    bad bigint;
BEGIN
    IF (SELECT count(*) FROM events) <> (SELECT coalesce(sum(events), 0) FROM csm.usage_daily) THEN
        RAISE EXCEPTION 'not ok - sum(events) differs from count(*)';
    END IF;
    SELECT count(*) INTO bad FROM (
        (SELECT org, (at AT TIME ZONE 'UTC')::date, count(*), count(DISTINCT member) FROM events GROUP BY 1, 2
         EXCEPT SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE events <> 0)
        UNION ALL
        (SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE events <> 0
         EXCEPT SELECT org, (at AT TIME ZONE 'UTC')::date, count(*), count(DISTINCT member) FROM events GROUP BY 1, 2)) d;
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % account-days differ in events or active users', bad;
    END IF;
    SELECT count(*) INTO bad FROM (
        (SELECT org, (at AT TIME ZONE 'UTC')::date, feature, count(*) FROM events GROUP BY 1, 2, 3
         EXCEPT SELECT external_id, day, feature, events FROM csm.usage_feature_daily WHERE events <> 0)
        UNION ALL
        (SELECT external_id, day, feature, events FROM csm.usage_feature_daily WHERE events <> 0
         EXCEPT SELECT org, (at AT TIME ZONE 'UTC')::date, feature, count(*) FROM events GROUP BY 1, 2, 3)) d;
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % feature-days differ', bad;
    END IF;
END $$;
SQL
no_new_deadlocks "$db" "$before" || exit 1
echo "ok - usage rollup exact under 16 concurrent clients, no deadlocks"
dropdb "$db"
