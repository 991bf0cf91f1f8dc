#!/usr/bin/env bash
# Ingest benchmark: what csm.track_usage() costs a table that receives events,
# against PostgreSQL's floor (the same inserts into an untracked table) and
# two PL/pgSQL baselines (a row trigger doing INSERT ... ON CONFLICT, and a
# statement trigger with a transition table), in one run on one cluster.
# The tables and triggers are in test/bench/ingest.sql.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (make bench starts one
# with pg_virtualenv).  Prints one "run" line per timed run, one "check" line
# per rollup check and one line per result.  Ratios are reported, never
# asserted: it exits non-zero only when a rollup disagrees with its rows.
#
# The density part loads BENCH_ROWS synthetic events of three shapes (from
# sparse, about 1.1 rollup rows per event, to dense, 200 accounts x 50
# users x 7 days with tens of events per user and day) into the floor, csm
# and the PL/pgSQL statement trigger, BENCH_DENSITY_REPEATS rounds each.
#
# Knobs (environment): BENCH_ROWS (1000000), BENCH_PLROW_ROWS (100000),
# BENCH_REPEATS (3), BENCH_DENSITY_REPEATS (3), BENCH_CLIENTS (8),
# BENCH_THREADS (2), BENCH_SECONDS (15), BENCH_BASELINE_SECONDS (10: pgbench
# on the PL/pgSQL triggers), BENCH_PARTS ("bulk concurrent density"),
# BENCH_DB (csm_bench), BENCH_KEEP=1 keeps the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ROWS:-1000000}
PLROW_ROWS=${BENCH_PLROW_ROWS:-100000}
REPEATS=${BENCH_REPEATS:-3}
DENSITY_REPEATS=${BENCH_DENSITY_REPEATS:-3}
CLIENTS=${BENCH_CLIENTS:-8}
THREADS=${BENCH_THREADS:-2}
SECONDS_PER_RUN=${BENCH_SECONDS:-15}
BASELINE_SECONDS=${BENCH_BASELINE_SECONDS:-10}
PARTS=${BENCH_PARTS:-bulk concurrent density}
DB=${BENCH_DB:-csm_bench}
PORTFOLIO=${BENCH_PORTFOLIO:-test/data/portfolio.sql}
AS_OF=2024-06-30
COLS="org_user_id, user_id, event, occurred_at"

WORK=$(mktemp -d -t csm_bench.XXXXXX)
COPY_FILE=
failed=0
started=$(date +%s)
declare -A result

. test/bench/lib.sh

# Settings are changed for the benchmark only, through ALTER SYSTEM, and
# reset at exit.
cleanup() {
    [ -z "$COPY_FILE" ] || rm -f "$COPY_FILE" 2>/dev/null || true
    bench_cleanup
}
trap cleanup EXIT

# prepare TABLE: empties TABLE and its rollups and checkpoints, then flushes
# the OS's dirty pages, so that no run pays for the writeback of the last.
prepare() {
    sql -c "SELECT bench.reset('$1')" -c 'CHECKPOINT' >/dev/null
    sync
}

# check TABLE WHAT: the rows in the table against the events in its rollup.
check() {
    local rows events
    read -r rows events <<<"$(sql -F ' ' -c "SELECT table_rows, rollup_events FROM bench.counts('$1')")"
    # (empty when the query failed: that is no match)
    if [ -n "$rows" ] && [ "$rows" = "$events" ]; then
        echo "check $2 table=$1 rows=$rows rollup_events=$events ok"
    else
        echo "check $2 table=$1 rows=$rows rollup_events=$events MISMATCH"
        failed=1
    fi
}

# check_exact TABLE WHAT: every account-day (events and distinct users) and
# every account-day-feature of the rollup against the rows.
check_exact() {
    local bad
    bad=$(sql -c "SELECT bench.mismatches('$1')") || bad=error
    if [ "$bad" = 0 ]; then
        echo "check $2 table=$1 every account-day, active-user count and feature count ok"
    else
        echo "check $2 table=$1 $bad account-days or features differ from the rows MISMATCH"
        failed=1
    fi
}

# timed KIND TABLE SQL: runs SQL in a new session; sets s to its seconds and
# appends the server's CPU seconds for it to $WORK/cpu_KIND.TABLE.  On a
# busy machine the CPU a load costs is steadier than its wall time.
timed() {
    local c0 c1
    c0=$(backend_cpu)
    s=$(elapsed "$3")
    c1=$(backend_cpu)
    [ -z "$c0" ] || [ -z "$c1" ] || awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f\n", b - a }' >>"$WORK/cpu_$1.$2"
}

# cpu_line KIND LABEL TABLE...: backend CPU medians of KIND against the first TABLE
cpu_line() {
    local kind=$1 label=$2 floor line t v
    [ -e "$WORK/cpu_$kind.$3" ] || return 0
    floor=$(median <"$WORK/cpu_$kind.$3")
    line="$label, backend CPU: $3 $(secs "$floor") s"
    shift 2
    for t in "${@:2}"; do
        [ -e "$WORK/cpu_$kind.$t" ] || continue
        v=$(median <"$WORK/cpu_$kind.$t")
        line+=", $t $(secs "$v") s ($(ratio "$v" "$floor")x)"
    done
    if [ -e "$WORK/cpu_$kind.csm" ] && [ -e "$WORK/cpu_$kind.plstmt" ]; then
        line+="; csm / plstmt $(ratio "$(median <"$WORK/cpu_$kind.csm")" "$(median <"$WORK/cpu_$kind.plstmt")")"
    fi
    echo "$line"
}

# tracked TABLE WHAT LAST: the checks after a run of a tracked table.  When
# csm defers folding, times csm.compact_usage() and checks again.  In the
# last round, also compares every group with the rows.
tracked() {
    local s
    check "$1" "$2"
    if [[ $1 == csm* ]] && [ "$HAS_FOLD" = t ]; then
        s=$(elapsed 'SELECT bench.fold();')
        echo "run ${2}_fold table=$1 seconds=$s"
        echo "$s" >>"$WORK/${2}_fold.$1"
        check "$1" "${2}_fold"
    fi
    [ "$3" != last ] || check_exact "$1" "$2"
}


# ---------------------------------------------------------------- setup
echo "== csm ingest benchmark"
bench_setup
echo "settings: ALTER SYSTEM max_wal_size=4GB (no checkpoint inside a timed run), autovacuum=off" \
     "(no vacuum of one run's rows during the next; csm.account is analyzed before every run instead); reset at exit"
echo "settings: $(sql -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'work_mem', 'jit',
                                    'max_wal_size', 'autovacuum', 'wal_level', 'full_page_writes', 'lc_collate')")"
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus; load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"

PGOPTIONS='-c client_min_messages=warning' sql -c 'CREATE EXTENSION csm' -f test/bench/ingest.sql >/dev/null
HAS_FOLD=$(sql -c "SELECT to_regprocedure('csm.compact_usage()') IS NOT NULL")
if [ "$HAS_FOLD" = t ]; then
    echo "csm: defers folding (csm.compact_usage()); a fold is timed after every csm run and reported apart and added"
fi
if [ -f "$PORTFOLIO" ]; then
    if ! sql -f "$PORTFOLIO" >"$WORK/portfolio.log" 2>&1; then
        echo "source: loading $PORTFOLIO failed, so the synthetic events are used:"
        tail -n 3 "$WORK/portfolio.log" | sed 's/^/  /'
    fi
fi
t0=$(date +%s)
made=$(sql -c "SELECT bench.make_source($ROWS, '$AS_OF')")
sql -c 'VACUUM (FREEZE, ANALYZE) bench.src'
echo "source: $made"
echo "source: $(sql -c "SELECT format('%s rows, %s accounts, %s account-days, %s user-days, %s account-day-features, %s features, %s MB, made in %s s',
    count(*), count(DISTINCT org_user_id), count(DISTINCT (org_user_id, (occurred_at AT TIME ZONE 'UTC')::date)),
    count(DISTINCT (org_user_id, (occurred_at AT TIME ZONE 'UTC')::date, user_id)),
    count(DISTINCT (org_user_id, (occurred_at AT TIME ZONE 'UTC')::date, event)), count(DISTINCT event),
    pg_relation_size('bench.src') / 1048576, $(date +%s) - $t0) FROM bench.src")"

# ---------------------------------------------------------------- bulk
if want bulk; then
    echo "== bulk: INSERT ... SELECT and COPY of $ROWS rows, $REPEATS rounds, tables alternating, median per table;" \
         "the bare heaps once, the row trigger once on $PLROW_ROWS rows"
    # server-side COPY reads this file, written once by the server
    COPY_FILE=$(sql -c 'SHOW data_directory')/csm_bench_events.copy
    sql -c "COPY (SELECT $COLS FROM bench.src) TO '$COPY_FILE'"
    # To stay within a few minutes, the bare heaps run in the first round only.
    for round in $(seq "$REPEATS"); do
        last=; [ "$round" != "$REPEATS" ] || last=last
        tables=(floor csm plstmt)
        [ "$round" != 1 ] || tables=(floor csm plstmt floor_heap csm_heap)
        for t in "${tables[@]}"; do
            prepare "$t"
            timed insert_select "$t" "INSERT INTO bench.ev_$t ($COLS) SELECT $COLS FROM bench.src;"
            echo "run bulk_insert_select table=$t rows=$ROWS round=$round seconds=$s"
            echo "$s" >>"$WORK/insert_select.$t"
            case $t in
                floor*) ;;
                plstmt) tracked "$t" bulk_insert_select "$last" ;;
                csm_heap) tracked "$t" bulk_insert_select last ;;
                *) tracked "$t" bulk_insert_select "$last" ;;
            esac
        done
        for t in floor csm plstmt; do
            prepare "$t"
            timed copy "$t" "COPY bench.ev_$t ($COLS) FROM '$COPY_FILE';"
            echo "run bulk_copy table=$t rows=$ROWS round=$round seconds=$s"
            echo "$s" >>"$WORK/copy.$t"
            [ "$t" = floor ] || tracked "$t" bulk_copy "$last"
        done
    done

    # The row trigger is slow: run it once on the first rows and scale the time.
    prepare plrow
    s=$(elapsed "INSERT INTO bench.ev_plrow ($COLS) SELECT $COLS FROM bench.src LIMIT $PLROW_ROWS;")
    echo "run bulk_insert_select table=plrow rows=$PLROW_ROWS round=1 seconds=$s"
    tracked plrow bulk_insert_select last
    awk -v s="$s" -v r="$ROWS" -v p="$PLROW_ROWS" 'BEGIN { printf "%.3f\n", s * r / p }' >"$WORK/insert_select.plrow"
    echo "run bulk_insert_select table=plrow rows=$ROWS scaled_from=$PLROW_ROWS seconds=$(cat "$WORK/insert_select.plrow")"

    for f in "$WORK"/insert_select.* "$WORK"/copy.* "$WORK"/bulk_*_fold.*; do
        [ ! -e "$f" ] || result[${f##*/}]=$(median <"$f")
    done
    sql -c "SELECT bench.reset(t) FROM unnest(ARRAY['floor', 'csm', 'plstmt', 'plrow', 'floor_heap', 'csm_heap']) t" >/dev/null
    rm -f "$COPY_FILE" 2>/dev/null || true
fi

# ---------------------------------------------------------------- concurrent
if want concurrent; then
    echo "== concurrent: pgbench, one single-row INSERT per transaction, $CLIENTS clients, $THREADS threads," \
         "10 hot accounts, ${SECONDS_PER_RUN} s each (the PL/pgSQL triggers ${BASELINE_SECONDS} s)"
    for t in floor csm plstmt plrow; do
        dur=$SECONDS_PER_RUN
        case $t in pl*) dur=$BASELINE_SECONDS ;; esac
        sed "s/INSERT INTO TABLE/INSERT INTO bench.ev_$t/" test/bench/insert_one.pgbench >"$WORK/insert_$t.pgbench"
        prepare "$t"
        if ! pgbench -n -M prepared -c "$CLIENTS" -j "$THREADS" -T "$dur" -f "$WORK/insert_$t.pgbench" \
            "$DB" >"$WORK/pgbench.$t" 2>&1; then
            cat "$WORK/pgbench.$t"
            failed=1
            continue
        fi
        tps=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$WORK/pgbench.$t")
        lat=$(awk '/^latency average/ { print $4; exit }' "$WORK/pgbench.$t")
        echo "run pgbench_single_row table=$t clients=$CLIENTS seconds=$dur tps=$tps latency_ms=$lat"
        result[pgbench.$t]=$tps
        [ "$t" = floor ] && continue
        tracked "$t" pgbench last
        if [ -e "$WORK/pgbench_fold.$t" ]; then
            # the fold's time, spread over the transactions it folded
            result[pgbench.${t}_folded]=$(awk -v tps="$tps" -v t="$dur" -v f="$(cat "$WORK/pgbench_fold.$t")" \
                'BEGIN { printf "%.0f", tps * t / (t + f) }')
        fi
    done
fi

# ---------------------------------------------------------------- density
# name accounts users-per-account days features: about 1.1, 0.4 and 0.09
# rollup rows (account-days + user-days + account-day-features) per event
DENSITIES=("sparse 5000 25 8 12" "medium 1000 20 12 12" "dense 200 50 7 12")
density_lines=()
if want density; then
    echo "== density: INSERT ... SELECT of $ROWS synthetic rows of three shapes, $DENSITY_REPEATS rounds," \
         "tables alternating, median per table"
    for shape in "${DENSITIES[@]}"; do
        read -r name accounts users days features <<<"$shape"
        t0=$(date +%s)
        per_event=$(sql -c 'SET client_min_messages = warning' -c "SELECT bench.make_density('$name', $ROWS, $accounts, $users, $days, $features, '$AS_OF')")
        sql -c "VACUUM (FREEZE, ANALYZE) bench.src_$name"
        echo "source $name: $accounts accounts x $users users x $days days, $features features;" \
             "$per_event rollup rows per event; made in $(( $(date +%s) - t0 )) s"
        for round in $(seq "$DENSITY_REPEATS"); do
            last=; [ "$round" != "$DENSITY_REPEATS" ] || last=last
            for t in floor csm plstmt; do
                prepare "$t"
                timed "density_$name" "$t" "INSERT INTO bench.ev_$t ($COLS) SELECT $COLS FROM bench.src_$name;"
                echo "run density_$name table=$t rows=$ROWS round=$round seconds=$s"
                echo "$s" >>"$WORK/density_$name.$t"
                [ "$t" = floor ] || tracked "$t" "density_$name" "$last"
            done
        done
        f=$(median <"$WORK/density_$name.floor")
        c=$(median <"$WORK/density_$name.csm")
        p=$(median <"$WORK/density_$name.plstmt")
        cf=0
        [ ! -e "$WORK/density_${name}_fold.csm" ] || cf=$(median <"$WORK/density_${name}_fold.csm")
        c=$(add "$c" "$cf")
        density_lines+=("density $name ($per_event rollup rows per event): floor $(secs "$f") s, csm $(secs "$c") s ($(ratio "$c" "$f")x, fold included), plpgsql stmt $(secs "$p") s ($(ratio "$p" "$f")x); csm / plpgsql stmt $(ratio "$c" "$p")")
        sql -c "SELECT bench.reset(t) FROM unnest(ARRAY['floor', 'csm', 'plstmt']) t" -c "DROP TABLE bench.src_$name" >/dev/null
    done
fi

# ---------------------------------------------------------------- results
# bulk_line KIND LABEL FLOOR TABLE:NAME...: one line of times against the floor
bulk_line() {
    local kind=$1 label=$2 floor=${result[$1.$3]:-} line part v fold
    [ -n "$floor" ] || return 0
    line="$label: floor $(secs "$floor") s"
    shift 3
    for part in "$@"; do
        v=${result[$kind.${part%%:*}]:-}
        [ -n "$v" ] || continue
        line+=", ${part#*:} $(secs "$v") s ($(ratio "$v" "$floor")x)"
        fold=${result[bulk_${kind}_fold.${part%%:*}]:-}
        if [ -n "$fold" ]; then
            line+=" + fold $(secs "$fold") s = $(secs "$(add "$v" "$fold")") s ($(ratio "$(add "$v" "$fold")" "$floor")x)"
        fi
    done
    echo "$line"
}

echo "== results: time against the floor (lower is better; target for csm <= 1.5x)," \
     "throughput against the floor (higher is better; target for csm >= 0.8x)"
bulk_line insert_select "bulk INSERT..SELECT $ROWS rows, PK + index" floor csm:csm plstmt:"plpgsql stmt (1 run)" \
    plrow:"plpgsql row (1 run on $PLROW_ROWS rows, scaled)"
bulk_line insert_select "bulk INSERT..SELECT $ROWS rows, bare heap (1 run)" floor_heap csm_heap:csm
bulk_line copy "bulk COPY $ROWS rows, PK + index" floor csm:csm plstmt:"plpgsql stmt"
# csm against the SQL it replaces, fold included
vs_plstmt() {
    local c=${result[$1.csm]:-} p=${result[$1.plstmt]:-} f=${result[bulk_${1}_fold.csm]:-0}
    [ -n "$c" ] && [ -n "$p" ] && echo "$2: csm $(secs "$(add "$c" "$f")") s, plpgsql stmt $(secs "$p") s: csm / plpgsql stmt $(ratio "$(add "$c" "$f")" "$p") (lower is better; target < 1)"
    return 0
}
vs_plstmt insert_select "bulk INSERT..SELECT $ROWS rows"
vs_plstmt copy "bulk COPY $ROWS rows"
cpu_line insert_select "bulk INSERT..SELECT $ROWS rows" floor csm plstmt
cpu_line copy "bulk COPY $ROWS rows" floor csm plstmt
for line in "${density_lines[@]}"; do echo "$line"; done
for shape in "${DENSITIES[@]}"; do
    cpu_line "density_${shape%% *}" "density ${shape%% *}" floor csm plstmt
done
if [ -n "${result[pgbench.floor]:-}" ]; then
    f=${result[pgbench.floor]}
    line="pgbench $CLIENTS clients single-row INSERT, 10 hot accounts: floor $f tps"
    for part in csm:csm csm_folded:"csm incl. final fold" \
                plstmt:"plpgsql stmt" plrow:"plpgsql row"; do
        v=${result[pgbench.${part%%:*}]:-}
        [ -n "$v" ] && line+=", ${part#*:} $v tps ($(ratio "$v" "$f")x)"
    done
    echo "$line"
    c=${result[pgbench.csm_folded]:-${result[pgbench.csm]:-}}
    p=${result[pgbench.plstmt]:-}
    [ -z "$c" ] || [ -z "$p" ] || echo "pgbench $CLIENTS clients single-row INSERT: csm (final fold included) / plpgsql stmt" \
        "$(ratio "$c" "$p")x the throughput (higher is better; target > 1)"
fi
echo "elapsed: $(( $(date +%s) - started )) s; load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews every figure)"

if [ "$failed" != 0 ]; then
    echo "csm bench: a rollup disagreed with its rows (see MISMATCH above)" >&2
    exit 1
fi
