#!/usr/bin/env bash
# Revenue-retention benchmark: csm.revenue_retention() over BENCH_ACCOUNTS
# accounts (1M) with BENCH_MONTHS (24) months of ARR movements each, against
#
#   hand     the same answer from one hand-written single-pass SQL query
#            (one GROUP BY account over csm.arr_change, then the sums): the
#            issue's yardstick, target <= 2x;
#   floor    a bare scan of the same rows grouped by account (sum and count
#            per account, then summed): what reading and grouping cost at all.
#
# The data goes straight into csm.account and csm.arr_change (accounts with a
# past created_at, which the triggers treat as history).  Every answer is
# compared with the hand-written query's first: the race is between equals.
# Runs against the cluster in PGHOST/PGPORT/PGUSER (make bench starts one with
# pg_virtualenv).  Prints one "run" line per timed run and a summary of
# ratios; ratios are reported, never asserted: it exits non-zero only when the
# answers disagree.
#
# Knobs (environment): BENCH_ACCOUNTS (1000000), BENCH_MONTHS (24),
# BENCH_REPEATS (3), BENCH_REVENUE_DB (csm_bench_revenue), BENCH_KEEP=1 keeps
# the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
MONTHS=${BENCH_MONTHS:-24}
REPEATS=${BENCH_REPEATS:-3}
DB=${BENCH_REVENUE_DB:-csm_bench_revenue}
PARTS=retention

WORK=$(mktemp -d -t csm_bench_revenue.XXXXXX)
failed=0
started=$(date +%s)

# One backend per query: no parallel workers, so the ratios compare work.
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
cleanup() { bench_cleanup; }
trap cleanup EXIT

echo "== csm revenue-retention benchmark: $ROWS accounts x $MONTHS months"
bench_setup
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus; work_mem=$(sql -c 'SHOW work_mem')"

t0=$(date +%s)
sql -c 'CREATE EXTENSION csm' >/dev/null
# Month 0 opens every account; then one movement a month: mostly up or down,
# about one in 29 to 0 (a churn) and back later (a reactivation).
sql <<SQL >/dev/null
INSERT INTO csm.account (account_id, external_id, segment, arr, started_at, created_at)
SELECT i, 'b' || i, (ARRAY['smb', 'mid_market', 'enterprise'])[1 + i % 3], 1000,
       date '2024-01-01', timestamptz '2024-01-01'
FROM generate_series(1, $ROWS) AS i;
-- the foreign key is checked once, after the load, rather than per row
ALTER TABLE csm.arr_change DROP CONSTRAINT arr_change_account_fkey;
INSERT INTO csm.arr_change (account_id, change_id, effective_date, arr_before, arr_after, kind, reason, source, recorded_at)
SELECT v.i, v.i * $MONTHS + v.m, (date '2024-01-01' + v.m * interval '1 month')::date, v.b, v.a,
       csm.arr_change_kind(v.b, v.a, v.m > 0), 'bench', 'bench', timestamptz '2024-01-01'
FROM (SELECT s.i, s.m, s.a, coalesce(lag(s.a) OVER (PARTITION BY s.i ORDER BY s.m), 0) AS b
      FROM (SELECT i, m,
                   CASE WHEN m > 0 AND (i * 7 + m * 3) % 29 = 0 THEN 0
                        ELSE 1000 + ((i * 31 + m * 17) % 97) * 100 END::numeric AS a
            FROM generate_series(1, $ROWS) AS i, generate_series(0, $MONTHS - 1) AS m) s) v
WHERE v.a <> v.b;
ALTER TABLE csm.arr_change ADD CONSTRAINT arr_change_account_fkey FOREIGN KEY (account_id)
    REFERENCES csm.account (account_id) ON DELETE CASCADE;
SQL
sql -c 'VACUUM (FREEZE, ANALYZE) csm.account' -c 'VACUUM (FREEZE, ANALYZE) csm.arr_change'
echo "data: $(sql -c "SELECT format('%s movements (%s MB with its key), made in %s s', count(*),
    pg_total_relation_size('csm.arr_change') / 1048576, $(( $(date +%s) - t0 ))) FROM csm.arr_change")"

# The last twelve full months of the history.
PS=$(sql -c "SELECT (date '2024-01-01' + ($MONTHS - 12) * interval '1 month')::date")
PE=$(sql -c "SELECT (date '2024-01-01' + $MONTHS * interval '1 month' - interval '1 day')::date")

declare -A query
query[csm]="SELECT starting_arr, expansion_arr, contraction_arr, churned_arr, reactivation_arr, new_arr, round(grr, 12), round(nrr, 12), round(logo_churn_rate, 12)
       FROM csm.revenue_retention('$PS', '$PE')"
query[hand]="SELECT sum(s) FILTER (WHERE s > 0),
              coalesce(sum(e - s) FILTER (WHERE s > 0 AND e > s), 0),
              coalesce(sum(s - e) FILTER (WHERE e > 0 AND e < s), 0),
              coalesce(sum(s) FILTER (WHERE s > 0 AND e = 0), 0),
              coalesce(sum(e) FILTER (WHERE s = 0 AND e > 0 AND paid), 0),
              coalesce(sum(e) FILTER (WHERE s = 0 AND e > 0 AND NOT paid), 0),
              round(sum(least(s, e)) FILTER (WHERE s > 0) / sum(s) FILTER (WHERE s > 0), 12),
              round(sum(e) FILTER (WHERE s > 0) / sum(s) FILTER (WHERE s > 0), 12),
              round(count(*) FILTER (WHERE s > 0 AND e = 0)::numeric / count(*) FILTER (WHERE s > 0), 12)
       FROM (SELECT account_id,
                    coalesce((array_agg(arr_after ORDER BY effective_date DESC, change_id DESC)
                              FILTER (WHERE effective_date < '$PS'))[1], 0) AS s,
                    (array_agg(arr_after ORDER BY effective_date DESC, change_id DESC))[1] AS e,
                    coalesce(bool_or(arr_after > 0) FILTER (WHERE effective_date < '$PS'), false) AS paid
             FROM csm.arr_change WHERE effective_date <= '$PE' GROUP BY account_id) p"
query[floor]="SELECT sum(n), sum(t) FROM (SELECT account_id, count(*) AS n, sum(arr_after) AS t
                                  FROM csm.arr_change WHERE effective_date <= '$PE' GROUP BY account_id) p"

a=$(sql -c "${query[csm]}")
b=$(sql -c "${query[hand]}")
echo "check revenue_retention($PS, $PE): $a"
if [ "$a" = "$b" ]; then
    echo "check hand-written single pass: the same answer"
else
    echo "check hand-written single pass: DISAGREES: $b"
    failed=1
fi

echo "== runs: $REPEATS rounds, queries alternating, median per query"
for q in floor hand csm; do sql -c "${query[$q]}" >/dev/null; done  # warm-up, untimed
for round in $(seq "$REPEATS"); do
    for q in floor hand csm; do
        s=$(elapsed "${query[$q]};" | tail -n 1)
        echo "run query=$q round=$round seconds=$s"
        echo "$s" >>"$WORK/$q"
    done
done
floor=$(median <"$WORK/floor")
hand=$(median <"$WORK/hand")
csm=$(median <"$WORK/csm")

echo "== results (lower is better; $ROWS accounts x $MONTHS months, median of $REPEATS)"
echo "  floor, GROUP BY account of the same rows (count, sum): $(secs "$floor") s"
echo "  hand-written single-pass SQL, the same answer: $(secs "$hand") s ($(ratio "$hand" "$floor")x the floor)"
echo "  csm.revenue_retention(): $(secs "$csm") s ($(ratio "$csm" "$hand")x the hand-written query, target <= 2x;" \
     "$(ratio "$csm" "$floor")x the floor)"
echo "elapsed: $(( $(date +%s) - started )) s"
if [ "$failed" != 0 ]; then
    echo "csm revenue bench: csm.revenue_retention and the hand-written query disagree" >&2
    exit 1
fi
