#!/usr/bin/env bash
# Health-scoring benchmark, on 1M accounts with precomputed metrics:
#
#   score    C scoring (csm.csm_health_score_row) against a bare scan of the
#            same metric columns (the floor), and against the same formula
#            as inline SQL CASE arithmetic and as a PL/pgSQL function; the
#            jsonb path for information.  Every row is first scored all
#            four ways and compared, so that the race is between equals.
#   refresh  csm.refresh_health() into empty tables and again in place,
#            against bare INSERT ... SELECT (and upserts) of the same rows
#            into tables of the same shape, plus where refresh's time goes.
#
# The tables, the inline SQL and the PL/pgSQL function are in
# test/bench/health.sql.  Runs against the cluster in PGHOST/PGPORT/PGUSER
# (make bench starts one with pg_virtualenv).  Prints one "run" line per
# timed run, "check" lines, and a summary of ratios.  Ratios are reported,
# never asserted: it exits non-zero only when the scorings disagree.
#
# Knobs (environment): BENCH_ACCOUNTS (1000000), BENCH_REPEATS (3),
# BENCH_EVALUATE_ROWS (all: the accounts csm_health_evaluate_row is timed
# on alone, scaled to all when fewer), BENCH_PARTS ("score refresh"), BENCH_HEALTH_DB
# (csm_bench_health), BENCH_KEEP=1 keeps the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
REPEATS=${BENCH_REPEATS:-3}
SAMPLE=${BENCH_EVALUATE_ROWS:-$ROWS}
PARTS=${BENCH_PARTS:-score refresh}
DB=${BENCH_HEALTH_DB:-csm_bench_health}
(( SAMPLE <= ROWS )) || SAMPLE=$ROWS

WORK=$(mktemp -d -t csm_bench_health.XXXXXX)
failed=0
started=$(date +%s)
declare -A result

# Every session runs its query in one backend: no parallel workers, so the
# ratios compare work, not how it was spread over this machine's cores.
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh

cleanup() { bench_cleanup; }
trap cleanup EXIT


# settle: writes out every dirty page, in PostgreSQL and in the OS, so that
# no timed run pays for the writeback of what came before.

scale() { awk -v a="$1" -v n="$2" -v d="$3" 'BEGIN { printf "%.3f", a * n / d }'; }

# ---------------------------------------------------------------- setup
echo "== csm health-scoring benchmark"
bench_setup
echo "settings: ALTER SYSTEM max_wal_size=4GB (no checkpoint inside a timed run), autovacuum=off (tables are" \
     "vacuumed before the runs that read them instead); reset at exit; every session max_parallel_workers_per_gather=0"
echo "settings: $(sql -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'work_mem', 'temp_buffers',
                                    'jit', 'jit_above_cost', 'max_wal_size', 'wal_level', 'full_page_writes')")"
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus"

t0=$(date +%s)
sql -c 'CREATE EXTENSION csm' -f test/bench/health.sql >/dev/null
made=$(sql -c "SELECT bench.make_data($ROWS)")
sql -c 'VACUUM (FREEZE, ANALYZE) csm.account' -c 'VACUUM (FREEZE, ANALYZE) bench.metrics'
echo "data: $made, made in $(( $(date +%s) - t0 )) s; $(sql -c "SELECT format(
    'bench.metrics %s MB; missing: dau_ratio %s, features_adopted %s, tickets_per_month %s, nps %s, days_to_renewal %s',
    pg_relation_size('bench.metrics') / 1048576, count(*) - count(dau_ratio), count(*) - count(features_adopted),
    count(*) - count(tickets_per_month), count(*) - count(nps), count(*) - count(days_to_renewal)) FROM bench.metrics")"

# ---------------------------------------------------------------- score
declare -A query=(
    [floor]='SELECT sum(dau_ratio) + sum(features_adopted) + sum(tickets_per_month) + sum(nps) + sum(days_to_renewal) FROM bench.metrics'
    [c]="SELECT sum(csm.csm_health_score_row(m, 'default')) FROM bench.metrics m"
    [inline]='SELECT sum(score) FROM bench.inline_score'
    [plpgsql]='SELECT sum(bench.plpgsql_score(m.dau_ratio, m.features_adopted, m.tickets_per_month, m.nps, m.days_to_renewal)) FROM bench.metrics m'
    [jsonb]="SELECT sum(csm.csm_health_score(to_jsonb(m) - 'account_id', 'default')) FROM bench.metrics m"
)
# The inline SQL also without JIT, for information: with its many
# expressions it is the query JIT could help (the "JIT compiled" list in
# the results says which plans cost enough for the server's JIT).
query[inline_nojit]="SET jit = off; ${query[inline]}"

if want score; then
    echo "== score: $ROWS accounts, $REPEATS rounds, queries alternating, median per query; the jsonb path once"
    # bench.verify() runs all four scorings over every row, which also
    # warms the PL/pgSQL and jsonb paths; JIT off, as its plan would
    # otherwise spend seconds compiling.
    IFS='|' read -r n nulls green yellow red d_inline d_plpgsql d_jsonb bad_inline bad_plpgsql bad_jsonb \
        <<<"$(sql -c 'SET jit = off' -c 'SELECT * FROM bench.verify()')"
    echo "check scores: $n accounts, $nulls with no metric (NULL score), bands green $green, yellow $yellow, red $red"
    verdict() { if [ "$2" = 0 ]; then echo "agree"; else echo "$2 rows DISAGREE"; fi; }
    echo "check C vs inline SQL: max |difference| $d_inline, $(verdict inline "$bad_inline")"
    echo "check C vs PL/pgSQL: max |difference| $d_plpgsql, $(verdict plpgsql "$bad_plpgsql")"
    echo "check C vs jsonb path: max |difference| $d_jsonb, $(verdict jsonb "$bad_jsonb") (information)"
    [ "$bad_inline" = 0 ] && [ "$bad_plpgsql" = 0 ] || failed=1

    for q in floor c inline; do
        sql -c "${query[$q]}" >/dev/null  # warm-up, untimed
    done
    jit=""
    for q in floor c inline plpgsql jsonb; do
        if sql -c "EXPLAIN ${query[$q]}" | grep -q '^JIT:'; then jit+=" $q"; fi
    done
    for round in $(seq "$REPEATS"); do
        qs=(floor c inline inline_nojit plpgsql)
        [ "$round" != 1 ] || qs+=(jsonb)
        for q in "${qs[@]}"; do
            s=$(elapsed "${query[$q]};" | tail -n 1)
            echo "run score query=$q round=$round seconds=$s"
            echo "$s" >>"$WORK/score.$q"
        done
    done
    for q in floor c inline inline_nojit plpgsql jsonb; do
        result[score.$q]=$(median <"$WORK/score.$q")
    done
fi

# ---------------------------------------------------------------- refresh
if want refresh; then
    echo "== refresh: csm.refresh_health('bench.metrics') for $ROWS accounts, once into empty tables, once in place;" \
         "floors once each; every run after VACUUM, CHECKPOINT and sync"
    sql -c 'TRUNCATE csm.health_score, csm.health_history'
    settle
    s=$(elapsed "SELECT csm.refresh_health('bench.metrics');")
    echo "run refresh_health state=empty seconds=$s"
    result[refresh.empty]=$s
    echo "check refresh: $(sql -c "SELECT format('health_score %s rows (%s MB, component arrays %s bytes on average), health_history %s rows (%s MB)',
        (SELECT count(*) FROM csm.health_score), pg_total_relation_size('csm.health_score') / 1048576,
        (SELECT round(avg(pg_column_size(metrics) + pg_column_size(metric_values) + pg_column_size(component_scores)
                          + pg_column_size(component_weights))) FROM csm.health_score),
        (SELECT count(*) FROM csm.health_history), pg_total_relation_size('csm.health_history') / 1048576)")"

    # The floors write the very rows refresh_health() wrote, read back from
    # its tables (as refresh reads back its temporary table).
    sql -c 'VACUUM (ANALYZE) csm.health_score, csm.health_history' -c 'TRUNCATE bench.floor_score, bench.floor_history'
    settle
    read -r -d '' a b < <(elapsed 'INSERT INTO bench.floor_score SELECT * FROM csm.health_score;' \
                                  'INSERT INTO bench.floor_history SELECT * FROM csm.health_history;') || true
    echo "run floor_insert table=floor_score seconds=$a"
    echo "run floor_insert table=floor_history seconds=$b"
    result[floor.insert_score]=$a
    result[floor.insert_history]=$b
    result[floor.insert]=$(add "$a" "$b")

    sql -c 'VACUUM (ANALYZE) bench.floor_score, bench.floor_history'
    settle
    read -r -d '' a b < <(elapsed \
        'INSERT INTO bench.floor_score AS f SELECT * FROM csm.health_score
         ON CONFLICT (account_id) DO UPDATE
         SET model = excluded.model, model_version = excluded.model_version, score = excluded.score,
             band = excluded.band, coverage = excluded.coverage, metrics = excluded.metrics,
             metric_values = excluded.metric_values, component_scores = excluded.component_scores,
             component_weights = excluded.component_weights, computed_at = excluded.computed_at;' \
        'INSERT INTO bench.floor_history AS f SELECT * FROM csm.health_history
         ON CONFLICT (account_id, day) DO UPDATE
         SET model = excluded.model, model_version = excluded.model_version, score = excluded.score,
             band = excluded.band, coverage = excluded.coverage, computed_at = excluded.computed_at;') || true
    echo "run floor_upsert table=floor_score seconds=$a"
    echo "run floor_upsert table=floor_history seconds=$b"
    result[floor.upsert]=$(add "$a" "$b")

    settle
    s=$(elapsed "SELECT csm.refresh_health('bench.metrics');")
    echo "run refresh_health state=in_place seconds=$s"
    result[refresh.in_place]=$s

    # What refresh computes, without writing anything: every account's
    # csm_health_evaluate_row (score, band, coverage, component arrays).
    s=$(elapsed "SELECT count(r.score) FROM bench.metrics m CROSS JOIN LATERAL csm.csm_health_evaluate_row(m, 'default') r
                 WHERE m.account_id <= $SAMPLE;")
    result[refresh.evaluate]=$(scale "$s" "$ROWS" "$SAMPLE")
    if [ "$SAMPLE" = "$ROWS" ]; then
        echo "run evaluate_row rows=$ROWS seconds=$s"
    else
        echo "run evaluate_row rows=$SAMPLE seconds=$s scaled_to_rows=$ROWS seconds=${result[refresh.evaluate]}"
    fi
fi

# ---------------------------------------------------------------- results
echo "== results (lower is better)"
line() { # line LABEL KEY FLOOR_KEY
    local v=${result[$2]:-} f=${result[$3]:-}
    if [ -n "$v" ]; then echo "$1: $(secs "$v") s ($(ratio "$v" "$f")x the floor)"; fi
}
if [ -n "${result[score.floor]:-}" ]; then
    echo "score $ROWS rows (median of $REPEATS; JIT compiled:${jit:- none}):"
    echo "  floor, sum of the 5 metric columns: $(secs "${result[score.floor]}") s"
    line "  C csm_health_score_row (target <= 1.5x)" score.c score.floor
    line "  inline SQL CASE arithmetic" score.inline score.floor
    line "  inline SQL, jit=off" score.inline_nojit score.floor
    line "  PL/pgSQL function per row" score.plpgsql score.floor
    line "  jsonb path, incl. to_jsonb(row) per row (1 run)" score.jsonb score.floor
    echo "  inline SQL / C: $(ratio "${result[score.inline]}" "${result[score.c]}")x" \
         "(jit=off: $(ratio "${result[score.inline_nojit]}" "${result[score.c]}")x)," \
         "PL/pgSQL / C: $(ratio "${result[score.plpgsql]}" "${result[score.c]}")x (target: inline SQL / C >= 3x)"
fi
if [ -n "${result[refresh.empty]:-}" ]; then
    echo "refresh_health $ROWS accounts (1 run each):"
    echo "  floor, INSERT..SELECT * FROM csm.health_score (and health_history): the rows refresh wrote, into" \
         "tables of the same columns and primary keys:" \
         "$(secs "${result[floor.insert]}") s (health_score $(secs "${result[floor.insert_score]}") s" \
         "+ health_history $(secs "${result[floor.insert_history]}") s)"
    line "  refresh_health into empty tables (target <= 2x)" refresh.empty floor.insert
    echo "  floor in place, the same INSERT..ON CONFLICT DO UPDATE of every row: $(secs "${result[floor.upsert]}") s"
    line "  refresh_health in place" refresh.in_place floor.upsert
    rest=$(sub "$(sub "${result[refresh.empty]}" "${result[refresh.evaluate]}")" "${result[floor.insert]}")
    detail=; [ "$SAMPLE" = "$ROWS" ] || detail="scaled from $SAMPLE rows"
    [ -z "${result[score.c]:-}" ] || detail+="${detail:+; }the score alone: $(secs "${result[score.c]}") s"
    echo "  where the empty-table refresh goes: csm_health_evaluate_row $(secs "${result[refresh.evaluate]}") s${detail:+ ($detail)}," \
         "the floor's writes $(secs "${result[floor.insert]}") s," \
         "the rest $(secs "$rest") s (joins with csm.account and the current scores, reading the scores back for the history)"
fi
echo "elapsed: $(( $(date +%s) - started )) s"

if [ "$failed" != 0 ]; then
    echo "csm health bench: C, inline SQL and PL/pgSQL scores disagree (see DISAGREE above)" >&2
    exit 1
fi
