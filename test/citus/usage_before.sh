#!/usr/bin/env bash
# Citus: a usage table tracked BEFORE it is distributed. csm and the table
# start on one node (as a csm 0.1.0 database would); then csm.distribute()
# places csm's tables, create_distributed_table() on the tracked table is
# refused by Citus (it has triggers) and csm.distribute_usage() does it,
# keeping the rollups; later writes of every kind roll up exactly.
#
# Needs PGHOST/PGPORT (the coordinator) and CITUS_WORKER_PORTS="p1 p2"; makes
# and drops its own database, csm_usage_before, on every node.
set -euo pipefail
export PGUSER=${PGUSER:-postgres} PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
db=csm_usage_before
workers=${CITUS_WORKER_PORTS:?set CITUS_WORKER_PORTS to the workers\' ports}
out=$(mktemp)
cleanup() {
    rm -f "$out"
    for p in $PGPORT $workers; do psql -qX -p "$p" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
for p in $PGPORT $workers; do
    psql -qX -p "$p" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    psql -qX -p "$p" -d "$db" -c 'CREATE EXTENSION citus' >/dev/null
done
psql -qX -v ON_ERROR_STOP=1 -d "$db" -At -c "SELECT citus_set_coordinator_host('$PGHOST', $PGPORT)" >/dev/null
for p in $workers; do psql -qX -v ON_ERROR_STOP=1 -d "$db" -At -c "SELECT citus_add_node('$PGHOST', $p)" >/dev/null; done

psql -X -v ON_ERROR_STOP=1 -d "$db" > "$out" 2>&1 <<'SQL' || { cat "$out"; echo "not ok - tracked before distribution"; exit 1; }
\set VERBOSITY terse
CREATE EXTENSION csm;
CREATE TABLE public.events (account bigint, at date, member bigint, feature text);
SELECT csm.track_usage('public.events', 'account', 'at', 'feature', 'member');
INSERT INTO public.events SELECT i % 11, date '2026-06-01' + i % 4, i % 6, 'f' || (i % 3) FROM generate_series(1, 500) i;
SELECT count(*) FROM csm.distribute();
-- what a user would try first: Citus refuses, and csm's documented fix works
\set ON_ERROR_STOP 0
SELECT create_distributed_table('public.events', 'account');
\set ON_ERROR_STOP 1
SELECT csm.distribute_usage('public.events');
INSERT INTO public.events VALUES (3, '2026-06-02', 1, 'f1');
INSERT INTO public.events SELECT i % 13, date '2026-06-01' + i % 5, i % 7, NULL FROM generate_series(1, 700) i;
INSERT INTO public.events SELECT account + 100, at, member, feature FROM public.events WHERE feature = 'f2';
COPY public.events FROM PROGRAM 'for i in $(seq 1 200); do printf "%s\t2026-06-03\t%s\tcopy\n" $((i % 17)) $((i % 4)); done';
UPDATE public.events SET at = '2026-06-09', member = 99 WHERE account = 4;
DELETE FROM public.events WHERE account = 5;
DO $$
DECLARE
    bad bigint;
BEGIN
    PERFORM csm.compact_usage();
    EXECUTE 'SELECT count(*) FROM (
        (SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE events <> 0
         EXCEPT ALL SELECT account::text, at, count(*), count(DISTINCT member) FROM public.events GROUP BY 1, 2)
        UNION ALL
        (SELECT account::text, at, count(*), count(DISTINCT member) FROM public.events GROUP BY 1, 2
         EXCEPT ALL SELECT external_id, day, events, active_users FROM csm.usage_daily WHERE events <> 0)) d' INTO bad;
    IF bad <> 0 THEN
        RAISE EXCEPTION 'not ok - % (account, day) rows differ between the rollups and the table', bad;
    END IF;
END $$;
SELECT count(*) AS tracked_rows FROM public.events;
SQL
grep -q 'cannot distribute relation "events" because it has triggers' "$out" || { cat "$out"; echo "not ok - expected Citus' refusal"; exit 1; }
grep -q 'csm.usage_stage_1' "$out" || { cat "$out"; echo "not ok - distribute_usage() made no staging table"; exit 1; }
echo "ok - a table tracked before distribution rolls up exactly after csm.distribute_usage()"
