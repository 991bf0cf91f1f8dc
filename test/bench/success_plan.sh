#!/usr/bin/env bash
# Success plans benchmark (issue 14, section 3): BENCH_ACCOUNTS accounts
# (1M by default), each with a success plan of 3 objectives, 2 milestones
# and 2 stakeholders; a quarter of them with a renewal closed renewed after
# the plan was made, a quarter with a business review held.
#
#   refresh   csm.refresh_success_plans(): keeps the renewed quarter's plans
#             and writes the new term's plans with their open objectives,
#             milestones and stakeholders;
#   again     the same refresh once more, with nothing to do (a daily
#             pg_cron run on a quiet day);
#   floor     a bare INSERT ... SELECT of the same plan, objective, milestone
#             and stakeholder rows into tables of the same shape, indexes
#             included, plus the UPDATE of the renewed plans;
#   due       SELECT count(*) FROM csm.business_review_due (the dashboards'
#             read), against the floor of a bare scan joining the same
#             tables (account, segment, health_score, the reviews).
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER.  Prints "run" lines and
# the ratios measured in this run; ratios are reported, never asserted.
# Knobs: BENCH_ACCOUNTS (1000000), BENCH_PLAN_DB (csm_bench_plan),
# BENCH_KEEP=1 keeps the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
DB=${BENCH_PLAN_DB:-csm_bench_plan}
PARTS=refresh
WORK=$(mktemp -d -t csm_bench_plan.XXXXXX)
declare -A result

export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
trap bench_cleanup EXIT


echo "== csm success plans benchmark"
bench_setup
echo "settings: ALTER SYSTEM max_wal_size=4GB, autovacuum=off (reset at exit); every session max_parallel_workers_per_gather=0"
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus"

t0=$(date +%s)
sql -c 'CREATE EXTENSION csm' >/dev/null
# Written directly: the bench times the refresh and the cadence view, not
# create_success_plan's validation.
sql <<SQL >/dev/null
INSERT INTO csm.account (account_id, external_id, segment, arr, renewal_date, started_at)
SELECT i, 'bench_' || i, (ARRAY['smb', 'mid_market', 'enterprise', 'strategic'])[1 + i % 4], 1000 + (i * 37) % 99000,
       (now() AT TIME ZONE 'UTC')::date + 365 - (i % 4 = 0)::integer * 360, now() - interval '2 years'
FROM generate_series(1, $ROWS) AS i;
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage, metrics, metric_values,
                              component_scores, component_weights, computed_at)
SELECT i, 'default', 1, s, csm.health_band(s), 1, '{}', '{}', '{}', '{}', now()
FROM (SELECT i, ((i::bigint * 2654435761) % 1000) / 10.0::float8 AS s FROM generate_series(1, $ROWS) AS i) x;
INSERT INTO csm.success_plan (account_id, plan_id, objectives, timeline, metrics, starts_on, ends_on, created_by, created_at, updated_at)
SELECT i, i, '[]', '{}', '[]', current_date - 200, current_date + 160, 'bench', now() - interval '200 days', now() - interval '200 days'
FROM generate_series(1, $ROWS) AS i;
INSERT INTO csm.success_plan_objective (account_id, plan_id, position, objective, metric, baseline, target, status, achieved_at)
SELECT i, i, k, 'objective ' || k, (ARRAY['health_score', 'nps', 'backlog'])[k], 10, 90,
       CASE WHEN k = 1 THEN 'achieved' ELSE 'open' END, CASE WHEN k = 1 THEN now() END
FROM generate_series(1, $ROWS) AS i, generate_series(1, 3) AS k;
INSERT INTO csm.success_plan_milestone (account_id, plan_id, position, name, due_date)
SELECT i, i, k, 'milestone ' || k, current_date - 100 + 100 * k FROM generate_series(1, $ROWS) AS i, generate_series(1, 2) AS k;
INSERT INTO csm.success_plan_stakeholder (account_id, plan_id, position, name, side)
SELECT i, i, k, 'person ' || k, (ARRAY['customer', 'vendor'])[k] FROM generate_series(1, $ROWS) AS i, generate_series(1, 2) AS k;
-- a quarter renewed 5 days ago (their renewal_date moved a year on)
INSERT INTO csm.renewal (account_id, renewal_id, renewal_date, target_arr, final_arr, outcome, stage, opened_at, closed_at, closed_via, closed_by)
SELECT i, i, current_date - 5, 1000, 1000, 'renewed', 'closed', now() - interval '90 days', now() - interval '5 days', 'close_renewal', 'bench'
FROM generate_series(4, $ROWS, 4) AS i;
-- a quarter had a review 30 days ago
INSERT INTO csm.business_review_held (account_id, review_id, kind, held_at, period_start, period_end, deck, recorded_by, recorded_at)
SELECT i, i, 'ebr', now() - interval '30 days', current_date - 120, current_date - 31, '{}', 'bench', now()
FROM generate_series(2, $ROWS, 4) AS i;
SELECT setval(pg_get_serial_sequence('csm.success_plan', 'plan_id'), $ROWS + 1);
CREATE SCHEMA bench;
CREATE TABLE bench.success_plan (LIKE csm.success_plan INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.success_plan_objective (LIKE csm.success_plan_objective INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.success_plan_milestone (LIKE csm.success_plan_milestone INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench.success_plan_stakeholder (LIKE csm.success_plan_stakeholder INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
INSERT INTO bench.success_plan SELECT * FROM csm.success_plan;
VACUUM (FREEZE, ANALYZE);
SQL
echo "data: $ROWS accounts with a plan (3 objectives, 2 milestones, 2 stakeholders), $((ROWS / 4)) renewals closed, $((ROWS / 4)) reviews held; made in $(( $(date +%s) - t0 )) s"

settle
s=$(elapsed 'SELECT * FROM csm.refresh_success_plans();')
echo "run refresh_success_plans state=renewed_quarter seconds=$s"
result[refresh]=$s
echo "check: $(sql -c "SELECT format('%s plans renewed, %s active with %s objectives, %s milestones, %s stakeholders written',
    (SELECT count(*) FROM csm.success_plan WHERE status = 'renewed'), (SELECT count(*) FROM csm.success_plan WHERE status = 'active'),
    (SELECT count(*) FROM csm.success_plan_objective o JOIN csm.success_plan p USING (account_id, plan_id) WHERE p.renewed_from IS NOT NULL),
    (SELECT count(*) FROM csm.success_plan_milestone o JOIN csm.success_plan p USING (account_id, plan_id) WHERE p.renewed_from IS NOT NULL),
    (SELECT count(*) FROM csm.success_plan_stakeholder o JOIN csm.success_plan p USING (account_id, plan_id) WHERE p.renewed_from IS NOT NULL))")"

# The floor: the UPDATE of the renewed plans and the very rows the refresh
# wrote, read back from its tables.
sql -c 'VACUUM (ANALYZE)'
settle
read -r -d '' a b c d e < <(elapsed \
    "UPDATE bench.success_plan b SET status = 'renewed', closed_at = now(), updated_at = now() FROM csm.success_plan s WHERE s.account_id = b.account_id AND s.plan_id = b.plan_id AND s.status = 'renewed';" \
    'INSERT INTO bench.success_plan SELECT * FROM csm.success_plan WHERE renewed_from IS NOT NULL;' \
    'INSERT INTO bench.success_plan_objective SELECT o.* FROM csm.success_plan_objective o JOIN csm.success_plan p USING (account_id, plan_id) WHERE p.renewed_from IS NOT NULL;' \
    'INSERT INTO bench.success_plan_milestone SELECT o.* FROM csm.success_plan_milestone o JOIN csm.success_plan p USING (account_id, plan_id) WHERE p.renewed_from IS NOT NULL;' \
    'INSERT INTO bench.success_plan_stakeholder SELECT o.* FROM csm.success_plan_stakeholder o JOIN csm.success_plan p USING (account_id, plan_id) WHERE p.renewed_from IS NOT NULL;') || true
echo "run floor update=$a plans=$b objectives=$c milestones=$d stakeholders=$e"
result[floor]=$(add "$(add "$(add "$a" "$b")" "$(add "$c" "$d")")" "$e")

settle
s=$(elapsed 'SELECT * FROM csm.refresh_success_plans();')
echo "run refresh_success_plans state=nothing_to_do seconds=$s"
result[again]=$s

sql -c 'VACUUM (ANALYZE)'
# best of three each: a read
for k in 1 2 3; do elapsed 'SELECT count(*) FROM csm.business_review_due;'; done > "$WORK/due"
for k in 1 2 3; do elapsed "SELECT count(*) FROM csm.account a LEFT JOIN csm.segment s ON s.name = a.segment
    LEFT JOIN csm.health_score h ON h.account_id = a.account_id
    LEFT JOIN (SELECT b.account_id, max(b.held_at) AS last FROM csm.business_review_held b GROUP BY 1) r ON r.account_id = a.account_id
    WHERE a.status = 'active' AND (coalesce(r.last, a.started_at) + coalesce(s.review_cadence, '3 months'))::date <= current_date + 14;"; done > "$WORK/floor_due"
result[due]=$(sort -n "$WORK/due" | head -1)
result[floor_due]=$(sort -n "$WORK/floor_due" | head -1)
echo "run business_review_due seconds=${result[due]} floor=${result[floor_due]}"
echo "check: $(sql -c "SELECT format('%s rows due (%s ebr)', count(*), count(*) FILTER (WHERE kind = 'ebr')) FROM csm.business_review_due")"

echo "== results (lower is better; one run each, best of three for the reads, on a machine shared with other work)"
echo "refresh_success_plans over $ROWS accounts ($((ROWS / 4)) renewed):"
echo "  floor, UPDATE + INSERT ... SELECT of the same rows: $(secs "${result[floor]}") s"
echo "  refresh: $(secs "${result[refresh]}") s ($(ratio "${result[refresh]}" "${result[floor]}")x the floor)"
echo "  refresh with nothing to do: $(secs "${result[again]}") s ($(ratio "${result[again]}" "${result[floor]}")x the floor)"
echo "business_review_due over $ROWS accounts: $(secs "${result[due]}") s, a bare scan of the same joins (one kind): $(secs "${result[floor_due]}") s ($(ratio "${result[due]}" "${result[floor_due]}")x)"
