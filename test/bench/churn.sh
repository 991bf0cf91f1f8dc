#!/usr/bin/env bash
# Churn-model benchmark, on 1M rows of float8[] features drawn from a known
# logistic model (test/bench/churn.sql):
#
#   fit      csm.churn_fit over 1M x 20 against the floor, a bare
#            SELECT count(features) of the same arrays; with the default
#            work_mem (rows spill to a temporary file) and with 1GB (in
#            memory).
#   predict  csm.churn_predict over 1M rows against a bare scan
#            (sum(cardinality(features))), and against the same prediction
#            as inline SQL (unnest and sum); what the per-call-site model
#            cache saves (the model re-parsed on every row, on a sample);
#            csm.auc against the SQL rank-sum AUC, csm.churn_evaluate.
#   wide     csm.churn_fit over 1M x 30: time, the aggregate's memory and
#            temporary file (its DEBUG1 line), the backend's peak RSS.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (make bench starts one
# with pg_virtualenv).  Prints one "run" line per timed run, "check" lines,
# and a summary of ratios.  Ratios are reported, never asserted: it exits
# non-zero only when the C and SQL predictions or AUCs disagree.
#
# Knobs (environment): BENCH_CHURN_ROWS (1000000), BENCH_CHURN_FEATURES (20),
# BENCH_CHURN_WIDE (30), BENCH_REPEATS (3), BENCH_CHURN_PARSE_ROWS (100000:
# the rows the re-parse run is timed on), BENCH_PARTS ("fit predict wide"),
# BENCH_CHURN_DB (csm_bench_churn), BENCH_KEEP=1 keeps the database.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_CHURN_ROWS:-1000000}
FEATURES=${BENCH_CHURN_FEATURES:-20}
WIDE=${BENCH_CHURN_WIDE:-30}
REPEATS=${BENCH_REPEATS:-3}
PARSE_ROWS=${BENCH_CHURN_PARSE_ROWS:-100000}
PARTS=${BENCH_PARTS:-fit predict wide}
DB=${BENCH_CHURN_DB:-csm_bench_churn}
(( PARSE_ROWS <= ROWS )) || PARSE_ROWS=$ROWS

WORK=$(mktemp -d -t csm_bench_churn.XXXXXX)
failed=0
started=$(date +%s)
declare -A result

# One backend per query, no parallel workers: the ratios compare work.
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh

cleanup() { bench_cleanup; }
trap cleanup EXIT

mb() { awk -v a="$1" 'BEGIN { printf "%.0f", a / 1048576 }'; }

# timed ROUNDS NAME...: every query once untimed, then ROUNDS rounds in turn;
# result[NAME] is the median.  Queries are in query[NAME].
timed() {
    local rounds=$1 q s
    shift
    for q in "$@"; do elapsed "${query[$q]};" >/dev/null; done
    for round in $(seq "$rounds"); do
        for q in "$@"; do
            s=$(elapsed "${query[$q]};" | tail -n 1)
            echo "run $q round=$round seconds=$s"
            echo "$s" >>"$WORK/$q"
        done
    done
    for q in "$@"; do result[$q]=$(median <"$WORK/$q"); done
}

# fit_report TABLE WORK_MEM: one fit with its DEBUG1 line and the backend's
# peak RSS, in one session; prints "seconds agg_bytes file_bytes hwm_kb shmem_kb iterations".
fit_report() {
    sql -v tab="$1" -v wm="$2" <<'EOF' 2>&1 | awk '
        /^Time: / { t = $2 / 1000 }
        /churn_fit .* rows x/ { for (i = 1; i <= NF; i++) { if ($i == "memory") agg = $(i + 1); if ($i == "file") file = $(i + 1);
                                                             if ($i == "iterations,") it = $(i - 1) } }
        /^VmHWM:/ { hwm = $2 } /^RssShmem:/ { shm = $2 }
        END { printf "%.3f %s %s %s %s %s\n", t, agg, file, hwm, shm, it }'
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
SET work_mem = :'wm';
SET client_min_messages = debug1;
\timing on
SELECT csm.churn_fit(features, churned) IS NOT NULL FROM bench.:"tab";
\timing off
RESET client_min_messages;
\! grep -E '^(VmHWM|RssShmem):' /proc/$BACKEND_PID/status
EOF
}

# ---------------------------------------------------------------- setup
echo "== csm churn-model benchmark"
bench_setup
echo "settings: ALTER SYSTEM max_wal_size=4GB, autovacuum=off (tables are vacuumed after loading); reset at exit;" \
     "every session max_parallel_workers_per_gather=0"
echo "settings: $(sql -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
    FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'temp_file_limit', 'jit', 'jit_above_cost')")"
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus"

t0=$(date +%s)
sql -c 'CREATE EXTENSION csm' -f test/bench/churn.sql >/dev/null
if want fit || want predict; then
    echo "data: $(sql -c "SELECT bench.make_churn_rows('churn_rows', $ROWS, $FEATURES)")"
    sql -c 'VACUUM (FREEZE, ANALYZE) bench.churn_rows'
fi
if want wide; then
    echo "data: $(sql -c "SELECT bench.make_churn_rows('churn_wide', $ROWS, $WIDE)")"
    sql -c 'VACUUM (FREEZE, ANALYZE) bench.churn_wide'
fi
echo "data: made in $(( $(date +%s) - t0 )) s; $(sql -c "SELECT string_agg(format('%s %s MB', c.relname, pg_relation_size(c.oid) / 1048576), ', ')
    FROM pg_class c WHERE c.relnamespace = 'bench'::regnamespace AND c.relkind = 'r'")"

declare -A query=(
    [floor]='SELECT count(features) FROM bench.churn_rows'
    [fit]='SELECT csm.churn_fit(features, churned) IS NOT NULL FROM bench.churn_rows'
    [fit_memory]="SET work_mem = '1GB'; SELECT csm.churn_fit(features, churned) IS NOT NULL FROM bench.churn_rows"
    [scan]='SELECT sum(cardinality(features)) FROM bench.churn_rows'
    # the model as an application passes it: a bound parameter (parsed once, never compared)
    [predict]="SELECT model FROM bench.model \\gset
               PREPARE p(jsonb) AS SELECT sum(csm.churn_predict(\$1, features)) FROM bench.churn_rows;
               EXECUTE p(:'model')"
    # from a subquery: parsed once, its bytes compared on every row
    [predict_subquery]='SELECT sum(csm.churn_predict((SELECT model FROM bench.model), features)) FROM bench.churn_rows'
    # the same arithmetic in SQL, its weights bound the same way
    [inline]="SELECT b, w FROM bench.weights \\gset
              PREPARE q(float8, float8[]) AS SELECT sum(1 / (1 + exp(-(\$1 + (SELECT sum(x * c) FROM unnest(features, \$2) AS u(x, c))))))
              FROM bench.churn_rows;
              EXECUTE q(:'b', :'w')"
    [cached_sample]="SELECT sum(csm.churn_predict(CASE WHEN t.id % 2 = 0 THEN m.model ELSE m.model END, t.features))
                     FROM bench.churn_rows t, bench.model m WHERE t.id <= $PARSE_ROWS"
    [reparse_sample]="SELECT sum(csm.churn_predict(CASE WHEN t.id % 2 = 0 THEN m.model ELSE m.copy END, t.features))
                      FROM bench.churn_rows t, bench.model m WHERE t.id <= $PARSE_ROWS"
    [auc]='SELECT csm.auc(csm.churn_predict(m.model, t.features), t.churned) FROM bench.churn_rows t, bench.model m'
    [sql_auc]="SELECT bench.sql_auc('bench.churn_rows', model) FROM bench.model"
    [evaluate]='SELECT csm.churn_evaluate(csm.churn_predict(m.model, t.features), t.churned) FROM bench.churn_rows t, bench.model m'
)

# ---------------------------------------------------------------- fit
if want fit; then
    echo "== fit: $ROWS rows x $FEATURES features, $REPEATS rounds, queries alternating, median per query"
    timed "$REPEATS" floor fit fit_memory
    read -r s agg file hwm shm it <<<"$(fit_report churn_rows 4MB)"
    echo "check fit work_mem=4MB: $it iterations, aggregate context $(mb "$agg") MB, temporary file $(mb "$file") MB"
    read -r s agg file hwm shm it <<<"$(fit_report churn_rows 1GB)"
    echo "check fit work_mem=1GB: $it iterations, aggregate context $(mb "$agg") MB, temporary file $(mb "$file") MB"
    echo "check fit: $(sql -c "SET work_mem = '1GB'" -c "SELECT format('converged %s, log_loss %s; largest |raw coefficient - truth| %s (truth ((j %% 5) - 2) / 2)',
        m->>'converged', round((m->>'log_loss')::numeric, 4),
        round(max(abs((m->'coefficients'->>(j - 1))::float8 / (m->'scale'->>(j - 1))::float8 - ((j % 5) - 2) / 2.0))::numeric, 4))
        FROM (SELECT csm.churn_fit(features, churned) AS m FROM bench.churn_rows) f, generate_series(1, $FEATURES) j GROUP BY m")"
fi

# ---------------------------------------------------------------- predict
if want predict; then
    echo "== predict: $ROWS rows, $REPEATS rounds, queries alternating, median per query; the re-parse run on $PARSE_ROWS rows"
    sql -c "SET work_mem = '1GB'" \
        -c "CREATE TABLE bench.model AS SELECT m AS model, m || '{\"copy\": true}' AS copy FROM (SELECT csm.churn_fit(features, churned) AS m FROM bench.churn_rows) f" \
        -c 'CREATE TABLE bench.weights AS SELECT (bench.inline_weights(model)).* FROM bench.model' >/dev/null
    echo "check model: $(sql -c "SELECT format('%s bytes of jsonb (%s in the table)', octet_length(model::text), pg_column_size(model)) FROM bench.model")"
    IFS='|' read -r n dmax bad <<<"$(sql -c "SELECT count(*), max(abs(c - s)), count(*) FILTER (WHERE abs(c - s) > 1e-12)
        FROM (SELECT csm.churn_predict(m.model, t.features) AS c,
                     1 / (1 + exp(-(w.b + (SELECT sum(x * c) FROM unnest(t.features, w.w) AS u(x, c))))) AS s
              FROM bench.churn_rows t, bench.model m, bench.weights w) p")"
    echo "check C vs inline SQL prediction: $n rows, max |difference| $dmax, $bad rows differ by more than 1e-12"
    [ "$bad" = 0 ] || failed=1
    timed "$REPEATS" scan predict predict_subquery inline
    timed 1 cached_sample reparse_sample auc sql_auc evaluate
    a=$(sql -c 'SELECT csm.auc(csm.churn_predict(m.model, t.features), t.churned) FROM bench.churn_rows t, bench.model m')
    b=$(sql -c "SELECT bench.sql_auc('bench.churn_rows', model) FROM bench.model")
    echo "check auc: C $a, SQL rank-sum $b"
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(d < 1e-9 && d > -1e-9) }' || { echo "check auc: DISAGREE"; failed=1; }
    echo "check evaluate: $(sql -c "SELECT e - 'brier' - 'log_loss' - 'f1' - 'threshold' FROM (SELECT csm.churn_evaluate(csm.churn_predict(m.model, t.features), t.churned) AS e
        FROM bench.churn_rows t, bench.model m) x")"
fi

# ---------------------------------------------------------------- wide
if want wide; then
    echo "== wide: $ROWS rows x $WIDE features, one fit per work_mem, each in a new session"
    result[wide_floor]=$(elapsed 'SELECT count(features) FROM bench.churn_wide;' | tail -n 1)
    result[wide_floor]=$(elapsed 'SELECT count(features) FROM bench.churn_wide;' | tail -n 1)
    read -r s agg file hwm shm it <<<"$(fit_report churn_wide 4MB)"
    echo "run wide work_mem=4MB seconds=$s iterations=$it aggregate_bytes=$agg file_bytes=$file peak_rss_kb=$hwm shared_rss_kb=$shm"
    result[wide_spill]="$s|$agg|$file|$hwm|$shm"
    read -r s agg file hwm shm it <<<"$(fit_report churn_wide 1GB)"
    echo "run wide work_mem=1GB seconds=$s iterations=$it aggregate_bytes=$agg file_bytes=$file peak_rss_kb=$hwm shared_rss_kb=$shm"
    result[wide_memory]="$s|$agg|$file|$hwm|$shm"
fi

# ---------------------------------------------------------------- results
echo "== results (lower is better)"
if [ -n "${result[floor]:-}" ]; then
    echo "fit $ROWS x $FEATURES (median of $REPEATS):"
    echo "  floor, SELECT count(features): $(secs "${result[floor]}") s"
    echo "  csm.churn_fit, work_mem $(sql -c 'SHOW work_mem') (rows in a temporary file): $(secs "${result[fit]}") s ($(ratio "${result[fit]}" "${result[floor]}")x the floor)"
    echo "  csm.churn_fit, work_mem 1GB (rows in memory): $(secs "${result[fit_memory]}") s ($(ratio "${result[fit_memory]}" "${result[floor]}")x the floor)"
fi
if [ -n "${result[scan]:-}" ]; then
    echo "predict $ROWS rows (median of $REPEATS):"
    echo "  bare scan, sum(cardinality(features)): $(secs "${result[scan]}") s"
    echo "  sum(csm.churn_predict(\$1, features)), the model a bound parameter: $(secs "${result[predict]}") s ($(ratio "${result[predict]}" "${result[scan]}")x the scan)"
    echo "  the model from a subquery (its bytes compared per row): $(secs "${result[predict_subquery]}") s ($(ratio "${result[predict_subquery]}" "${result[scan]}")x the scan)"
    echo "  the same as inline SQL (unnest, sum, exp): $(secs "${result[inline]}") s ($(ratio "${result[inline]}" "${result[scan]}")x the scan;" \
         "inline SQL / C: $(ratio "${result[inline]}" "${result[predict]}")x)"
    per_row=$(awk -v r="${result[reparse_sample]}" -v c="${result[cached_sample]}" -v n="$PARSE_ROWS" 'BEGIN { printf "%.1f", (r - c) / n * 1e6 }')
    echo "  model cache: rows 1..$PARSE_ROWS of a joined model, cached $(secs "${result[cached_sample]}") s, re-parsed on every row (two copies alternating) $(secs "${result[reparse_sample]}") s" \
         "($(ratio "${result[reparse_sample]}" "${result[cached_sample]}")x; $per_row us per parse)"
    echo "  csm.auc over the predictions: $(secs "${result[auc]}") s; SQL rank-sum AUC: $(secs "${result[sql_auc]}") s" \
         "(SQL / C: $(ratio "${result[sql_auc]}" "${result[auc]}")x); csm.churn_evaluate: $(secs "${result[evaluate]}") s (1 run each)"
fi
if [ -n "${result[wide_spill]:-}" ]; then
    echo "fit $ROWS x $WIDE (1 run each; floor SELECT count(features) $(secs "${result[wide_floor]}") s):"
    for k in wide_spill wide_memory; do
        IFS='|' read -r s agg file hwm shm <<<"${result[$k]}"
        echo "  work_mem $([ $k = wide_spill ] && echo 4MB || echo 1GB): $(secs "$s") s ($(ratio "$s" "${result[wide_floor]}")x the floor);" \
             "aggregate context $(mb "$agg") MB, temporary file $(mb "$file") MB;" \
             "backend peak RSS $(( hwm / 1024 )) MB, of which shared buffers $(( shm / 1024 )) MB"
    done
fi
echo "elapsed: $(( $(date +%s) - started )) s"

if [ "$failed" != 0 ]; then
    echo "csm churn bench: C and SQL disagree (see above)" >&2
    exit 1
fi
