#!/usr/bin/env bash
# csm.schedule_jobs() with a real pg_cron: it registers every job of
# csm.job_schedule in this database, pg_cron runs them (the every-minute
# ones within about a minute), each run lands in csm.refresh_run, and
# unschedule_jobs() removes them. Needs pg_cron preloaded with
# cron.database_name naming the database used here and
# cron.use_background_workers = on (make test starts its cluster so).
#
# It must not drop pg_cron's database: pg_cron's launcher stops for good
# when its database is dropped. So it runs before readme.sh (which starts
# from a fresh database), in the database test/run.sh created, and cleans up
# what an earlier run left.
set -euo pipefail
db=$(psql -qAtX -d postgres -c "SELECT current_setting('cron.database_name', true)")
if [ -z "$db" ]; then
    echo "FAILED: pg_cron is not preloaded (make test starts the cluster with it)"; exit 1
fi
q() { PGOPTIONS='-c client_min_messages=warning' psql -qAtX -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
trap 'q "SELECT csm.unschedule_jobs()" >/dev/null 2>&1 || true' EXIT
q 'SET client_min_messages = warning; DROP EXTENSION IF EXISTS csm CASCADE'
q 'CREATE EXTENSION IF NOT EXISTS pg_cron'
q 'CREATE EXTENSION csm'
q "INSERT INTO csm.account (external_id) VALUES ('acme')"
fail=0
check() {  # name, expected, actual
    if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: expected [$2], got [$3]"; fail=1; fi
}

check "schedule_jobs registers every job" "$(q 'SELECT count(*) FROM csm.job_schedule')" \
      "$(q 'SELECT count(*) FROM csm.schedule_jobs()')"
check "in this database, as csm.job_schedule says" 0 \
      "$(q "SELECT count(*) FROM csm.job_schedule s FULL JOIN cron.job j USING (jobname)
            WHERE j.database IS DISTINCT FROM current_database() OR j.schedule IS DISTINCT FROM s.schedule
               OR j.command IS DISTINCT FROM s.command OR NOT j.active")"
q 'SELECT count(*) FROM csm.schedule_jobs()' >/dev/null
check "scheduling again replaces the jobs" "$(q 'SELECT count(*) FROM csm.job_schedule')" \
      "$(q 'SELECT count(*) FROM cron.job')"

# The every-minute jobs run at the next minute: wait for their runs (at most
# 150 s; the test checks that they ran, never how fast).
for _ in $(seq 150); do
    [ "$(q "SELECT count(DISTINCT kind) FROM csm.refresh_run WHERE kind IN ('usage', 'stale_conversations')")" = 2 ] && break
    sleep 1
done
check "pg_cron ran the every-minute jobs, which recorded their runs" "stale_conversations|ok
usage|ok" "$(q "SELECT kind, state FROM csm.refresh_status WHERE kind IN ('usage', 'stale_conversations') ORDER BY kind")"
check "and pg_cron saw them succeed" 0 \
      "$(q "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid)
            WHERE j.jobname LIKE 'csm-%' AND d.status <> 'succeeded' AND d.status <> 'running'")"

check "unschedule_jobs removes them" "$(q 'SELECT count(*) FROM csm.job_schedule')|0" \
      "$(q 'SELECT csm.unschedule_jobs()')|$(q "SELECT count(*) FROM cron.job WHERE jobname LIKE 'csm-%'")"
trap - EXIT
exit $fail
