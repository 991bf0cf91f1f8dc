#!/usr/bin/env bash
# Renewals benchmark (issue 13, "Performance"): csm.refresh_renewals() over
# BENCH_ACCOUNTS accounts (1M by default) whose renewal dates are spread
# over the coming year, every one with a primary CSM and a churn score:
#
#   open    the first refresh: opens a renewal for every account 90 days
#           out or less (about a quarter), fills in its owner and forecast,
#           raises its reminder and the reminder's renewal_reminder alert,
#           and fires the built-in renewal playbook for the 90-day
#           reminders (a CTA and its 20 tasks each);
#   again   the same refresh once more, with nothing to do (what a daily
#           pg_cron run costs on a quiet day, less the day's new renewals);
#   floor   a bare INSERT ... SELECT of every row the first refresh wrote
#           (renewals, reminders, alerts, CTAs and tasks), read back from
#           csm's tables into tables of the same shape, indexes included
#           (CREATE TABLE ... LIKE: no foreign keys, no triggers, no ON
#           CONFLICT), in two parts: the renewal rows (renewals, reminders,
#           alerts) and the playbook's (CTAs, tasks).  The target: the
#           refresh at most 2x the whole floor;
#   bare    the first refresh again from empty renewal tables with the
#           playbooks of trigger kinds renewal_reminder and alert
#           deactivated: the renewal code alone, against the floor of the
#           renewal rows.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (make bench starts one
# with pg_virtualenv).  Prints "run" lines and the ratios measured in this
# run; ratios are reported, never asserted.
#
# Knobs (environment): BENCH_ACCOUNTS (1000000), BENCH_RENEWAL_DB
# (csm_bench_renewal), BENCH_KEEP=1 keeps the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
DB=${BENCH_RENEWAL_DB:-csm_bench_renewal}
PARTS=open
WORK=$(mktemp -d -t csm_bench_renewal.XXXXXX)
declare -A result cpu

# One backend per query: the ratios compare work, not this machine's cores.
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
trap bench_cleanup EXIT


echo "== csm renewals benchmark"
bench_setup
echo "settings: ALTER SYSTEM max_wal_size=4GB, autovacuum=off (reset at exit); every session max_parallel_workers_per_gather=0"
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus"

t0=$(date +%s)
sql -c 'CREATE EXTENSION csm' >/dev/null
# Accounts renewing from 10 days ago to 355 days out, 1000 CSMs, one
# primary each, churn scores: written directly (the bench times renewals,
# not assignment or scoring).
sql <<SQL >/dev/null
INSERT INTO csm.team_member (member_id, handle, roles) SELECT m, 'bench_csm_' || m, '{csm}' FROM generate_series(1, 1000) AS m;
INSERT INTO csm.account (account_id, external_id, segment, arr, renewal_date, started_at)
SELECT i, 'bench_' || i, (ARRAY['smb', 'mid_market', 'enterprise'])[1 + i % 3], 1000 + (i * 37) % 99000,
       (now() AT TIME ZONE 'UTC')::date - 10 + ((i::bigint * 7919) % 365)::integer, now() - interval '2 years'
FROM generate_series(1, $ROWS) AS i;
INSERT INTO csm.account_assignment (account_id, member_id, is_primary, load)
SELECT i, 1 + i % 1000, true, 1 FROM generate_series(1, $ROWS) AS i;
INSERT INTO csm.churn_score (account_id, probability, band, risk_score, model, computed_at)
SELECT i, p, csm.churn_band(p), p * 100, 'prior', now()
FROM (SELECT i, ((i::bigint * 2654435761) % 1000) / 1000.0::float8 AS p FROM generate_series(1, $ROWS) AS i) s;
CREATE SCHEMA bench;
CREATE TABLE bench.renewal (LIKE csm.renewal INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.renewal_reminder (LIKE csm.renewal_reminder INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.alert (LIKE csm.alert INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.cta (LIKE csm.cta INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.task (LIKE csm.task INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
VACUUM (FREEZE, ANALYZE) csm.account, csm.account_assignment, csm.churn_score, csm.team_member;
SQL
echo "data: $ROWS accounts, $ROWS primary assignments and churn scores, made in $(( $(date +%s) - t0 )) s"

# count: what the refresh wrote, one line
count() {
    sql -c "SELECT format('%s renewals (%s with an owner, %s with a forecast), %s reminders, %s alerts, %s CTAs, %s tasks',
        (SELECT count(*) FROM csm.renewal), (SELECT count(owner) FROM csm.renewal),
        (SELECT count(forecast_arr) FROM csm.renewal), (SELECT count(*) FROM csm.renewal_reminder),
        (SELECT count(*) FROM csm.alert), (SELECT count(*) FROM csm.cta), (SELECT count(*) FROM csm.task))"
}

settle
cpu_timed open 'SELECT * FROM csm.refresh_renewals();'
echo "run refresh_renewals state=empty seconds=${result[open]} backend_cpu=${cpu[open]:-n/a}"
echo "check: $(count)"

# The floor writes the very rows the refresh wrote, read back from its tables.
sql -c 'VACUUM (ANALYZE) csm.renewal, csm.renewal_reminder, csm.alert, csm.cta, csm.task'
settle
cpu_timed floor_renewal 'INSERT INTO bench.renewal SELECT * FROM csm.renewal;' \
                        'INSERT INTO bench.renewal_reminder SELECT * FROM csm.renewal_reminder;' \
                        'INSERT INTO bench.alert SELECT * FROM csm.alert;'
echo "run floor_insert tables=renewal,renewal_reminder,alert seconds=${result[floor_renewal]} backend_cpu=${cpu[floor_renewal]:-n/a}"
settle
cpu_timed floor_playbook 'INSERT INTO bench.cta SELECT * FROM csm.cta;' 'INSERT INTO bench.task SELECT * FROM csm.task;'
echo "run floor_insert tables=cta,task seconds=${result[floor_playbook]} backend_cpu=${cpu[floor_playbook]:-n/a}"
result[floor]=$(add "${result[floor_renewal]}" "${result[floor_playbook]}")
[ -n "${cpu[floor_renewal]}" ] && [ -n "${cpu[floor_playbook]}" ] && cpu[floor]=$(add "${cpu[floor_renewal]}" "${cpu[floor_playbook]}")

settle
cpu_timed again 'SELECT * FROM csm.refresh_renewals();'
echo "run refresh_renewals state=nothing_to_do seconds=${result[again]} backend_cpu=${cpu[again]:-n/a}"

# The renewal code alone: the first refresh once more, from empty tables,
# with no playbook to fire.
sql <<SQL >/dev/null
TRUNCATE csm.task, csm.cta, csm.alert, csm.renewal_reminder, csm.renewal;
UPDATE csm.playbook SET active = false WHERE trigger_kind IN ('renewal_reminder', 'alert');
VACUUM (ANALYZE) csm.renewal, csm.renewal_reminder, csm.alert, csm.cta, csm.task, csm.playbook;
SQL
settle
cpu_timed bare 'SELECT * FROM csm.refresh_renewals();'
echo "run refresh_renewals state=empty playbooks=off seconds=${result[bare]} backend_cpu=${cpu[bare]:-n/a}"
echo "check: $(count)"

echo "== results (lower is better; one run each, on a machine shared with other work; wall seconds, then the backends' CPU seconds measured in the same run)"
echo "refresh_renewals over $ROWS accounts:"
echo "  floor, INSERT ... SELECT of the same rows: $(secs "${result[floor]}") s${cpu[floor]:+ (CPU ${cpu[floor]} s)}: renewals, reminders and alerts $(secs "${result[floor_renewal]}") s${cpu[floor_renewal]:+ (CPU ${cpu[floor_renewal]} s)}, CTAs and tasks $(secs "${result[floor_playbook]}") s${cpu[floor_playbook]:+ (CPU ${cpu[floor_playbook]} s)}"
echo "  first refresh (open, owner and forecast, remind, alert, renewal playbook): $(secs "${result[open]}") s ($(ratio "${result[open]}" "${result[floor]}")x the floor$(cpu_ratio open floor); target <= 2x)"
echo "  first refresh without playbooks, against the floor of renewals, reminders and alerts: $(secs "${result[bare]}") s ($(ratio "${result[bare]}" "${result[floor_renewal]}")x$(cpu_ratio bare floor_renewal))"
echo "  refresh with nothing to do: $(secs "${result[again]}") s ($(ratio "${result[again]}" "${result[floor]}")x the floor$(cpu_ratio again floor))"
