#!/usr/bin/env bash
# Alerts benchmark (issue 14, sections 2 and 5): BENCH_ACCOUNTS accounts (1M
# by default) with health scores (60% green, 30% yellow, 10% red), churn
# scores and a primary CSM for 70% of them:
#
#   health   what raising alerts adds to csm.refresh_health(): the refresh
#            once with its health_band alerts to raise, once with nothing
#            new, and the alert step alone (csm_internal._raise_alerts) with nothing
#            new, against the refresh without it (the refresh less the step);
#   run      csm.run_alerts() into an empty csm.alert (every kind; health
#            bands, churn bands and unassigned accounts hold here), again
#            with nothing to do (an hourly pg_cron run on a quiet hour), and
#   floor    a bare INSERT ... SELECT of the same alert rows into a table of
#            the same shape, indexes included.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (make bench starts one
# with pg_virtualenv).  Prints "run" lines and the ratios measured in this
# run; ratios are reported, never asserted.
#
# Knobs (environment): BENCH_ACCOUNTS (1000000), BENCH_ALERT_DB
# (csm_bench_alert), BENCH_KEEP=1 keeps the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
DB=${BENCH_ALERT_DB:-csm_bench_alert}
PARTS=run
WORK=$(mktemp -d -t csm_bench_alert.XXXXXX)
declare -A result

# One backend per query: the ratios compare work, not this machine's cores.
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
trap bench_cleanup EXIT

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f%%", 100 * a / b; else print "n/a" }'; }

echo "== csm alerts benchmark"
bench_setup
echo "settings: ALTER SYSTEM max_wal_size=4GB, autovacuum=off (reset at exit); every session max_parallel_workers_per_gather=0"
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus"

t0=$(date +%s)
sql -c 'CREATE EXTENSION csm' >/dev/null
# Written directly: the bench times alerts, not assignment or scoring.
sql <<SQL >/dev/null
INSERT INTO csm.team_member (member_id, handle, roles) SELECT m, 'bench_csm_' || m, '{csm}' FROM generate_series(1, 1000) AS m;
INSERT INTO csm.account (account_id, external_id, segment, arr, seats, started_at)
SELECT i, 'bench_' || i, (ARRAY['smb', 'mid_market', 'enterprise'])[1 + i % 3], 1000 + (i * 37) % 99000, 10,
       now() - interval '2 years'
FROM generate_series(1, $ROWS) AS i;
INSERT INTO csm.account_assignment (account_id, member_id, is_primary, load)
SELECT i, 1 + i % 1000, true, 1 FROM generate_series(1, $ROWS) AS i WHERE i % 10 < 7;
INSERT INTO csm.churn_score (account_id, probability, band, risk_score, model, computed_at)
SELECT i, p, csm.churn_band(p), p * 100, 'prior', now()
FROM (SELECT i, ((i::bigint * 2654435761) % 1000) / 1000.0::float8 AS p FROM generate_series(1, $ROWS) AS i) s;
CREATE SCHEMA bench;
-- metrics that score green (60%), yellow (30%) and red (10%)
CREATE TABLE bench.metrics AS
SELECT i AS account_id,
       CASE WHEN i % 10 < 6 THEN 1.0 WHEN i % 10 < 9 THEN 0.75 ELSE 0.1 END::float8 AS dau_ratio,
       CASE WHEN i % 10 < 6 THEN 10 WHEN i % 10 < 9 THEN 5 ELSE 1 END::float8 AS features_adopted,
       CASE WHEN i % 10 < 6 THEN 10 WHEN i % 10 < 9 THEN 8 ELSE 2 END::float8 AS nps
FROM generate_series(1, $ROWS) AS i;
CREATE TABLE bench.alert (LIKE csm.alert INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
VACUUM (FREEZE, ANALYZE) csm.account, csm.account_assignment, csm.churn_score, csm.team_member, bench.metrics;
SQL
echo "data: $ROWS accounts, $((ROWS * 7 / 10)) primary assignments, $ROWS churn scores, made in $(( $(date +%s) - t0 )) s"

# ---------------------------------------------------------------- health
settle
s=$(elapsed "SELECT csm.refresh_health('bench.metrics');")
echo "run refresh_health alerts=to_raise seconds=$s"
result[health_first]=$s
echo "check: $(sql -c "SELECT format('%s health scores, %s health_band alerts (%s red)', (SELECT count(*) FROM csm.health_score),
    (SELECT count(*) FROM csm.alert WHERE kind = 'health_band'), (SELECT count(*) FROM csm.alert WHERE subject = 'red'))")"
sql -c 'VACUUM (ANALYZE) csm.health_score, csm.health_history, csm.alert'
settle
s=$(elapsed "SELECT csm.refresh_health('bench.metrics');")
echo "run refresh_health alerts=none_new seconds=$s"
result[health_again]=$s
settle
s=$(elapsed "SELECT csm_internal._raise_alerts(ARRAY['health_band']);")
echo "run raise_alerts kind=health_band alerts=none_new seconds=$s"
result[health_step]=$s

# ---------------------------------------------------------------- run_alerts
sql -c 'TRUNCATE csm.alert' -c 'VACUUM (ANALYZE) csm.alert'
settle
s=$(elapsed 'SELECT csm.run_alerts();')
echo "run run_alerts state=empty seconds=$s"
result[run]=$s
echo "check: $(sql -c "SELECT string_agg(kind || ' ' || n, ', ' ORDER BY kind) FROM (SELECT kind, count(*) AS n FROM csm.alert GROUP BY kind) k")"
sql -c 'VACUUM (ANALYZE) csm.alert'
settle
s=$(elapsed 'INSERT INTO bench.alert SELECT * FROM csm.alert;')
echo "run floor_insert table=alert seconds=$s"
result[floor]=$s
settle
s=$(elapsed 'SELECT csm.run_alerts();')
echo "run run_alerts state=nothing_to_do seconds=$s"
result[again]=$s

echo "== results (lower is better; one run each, on a machine shared with other work)"
echo "refresh_health over $ROWS accounts:"
echo "  with its health_band alerts to raise: $(secs "${result[health_first]}") s"
echo "  with nothing new: $(secs "${result[health_again]}") s, of which the alert step alone: $(secs "${result[health_step]}") s" \
     "($(pct "${result[health_step]}" "$(sub "${result[health_again]}" "${result[health_step]}")") on the refresh without it)"
echo "run_alerts over $ROWS accounts:"
echo "  floor, INSERT ... SELECT of the same alert rows: $(secs "${result[floor]}") s"
echo "  first run (every kind, into an empty csm.alert): $(secs "${result[run]}") s ($(ratio "${result[run]}" "${result[floor]}")x the floor)"
echo "  again, nothing to do: $(secs "${result[again]}") s ($(ratio "${result[again]}" "${result[floor]}")x the floor)"
