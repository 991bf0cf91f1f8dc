#!/usr/bin/env bash
# Auto-assign benchmark: throughput of csm.csm_auto_assign() with many
# sessions filling one pool of 8 members, against
#
#   baseline  the plain PL/pgSQL most teams write: pg_advisory_xact_lock on
#             one key, SELECT ... ORDER BY load LIMIT 1 on a members table
#             with a load column, UPDATE of that member's load and of the
#             account's owner (bench.baseline_assign);
#   floor     PostgreSQL's floor: the same pgbench with a bare single-row
#             UPDATE of the account's owner, no choosing (the owner is the
#             account number modulo 8).
#
# Every transaction assigns one new account ('acct_' || nextval(...)), so
# each path does the same work: clients x transactions accounts.  After each
# run, the spread of accounts per member (max - min) is printed for every
# path: the three must be equally fair.  The tables and functions are in
# test/bench/assign.sql.
#
# Then assignment by hand, csm.csm_assign() (in C), with 1 client and with
# BENCH_CLIENTS, against
#
#   plpgsql   csm 0.1.0's PL/pgSQL csm_assign, kept in test/bench/assign.sql
#             as bench.csm_assign_plpgsql (the same internal functions and
#             locks);
#   floor     the same bare UPDATE as above.
#
# Each transaction makes member 'm' || (n % 8 + 1) the primary of new
# account acct_n, so both paths write the same rows.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (make bench starts one
# with pg_virtualenv).  Prints one "run" line per timed run and a summary of
# tps and ratios.  Ratios are reported, never asserted: it exits non-zero
# only when a run leaves an account unassigned.
#
# Knobs (environment): BENCH_CLIENTS (16), BENCH_THREADS (2),
# BENCH_ASSIGN_TRANSACTIONS (1000 per client), BENCH_REPEATS (3 rounds, paths
# alternating, median per path), BENCH_ASSIGN_STRATEGY (round_robin, or
# least_loaded), BENCH_ASSIGN_DB (csm_bench_assign), BENCH_KEEP=1 keeps the
# database afterwards, BENCH_ASSIGN_SECTIONS ("auto manual": csm_auto_assign,
# csm_assign; either alone), BENCH_ASSIGN_SINGLE_TRANSACTIONS (4000, for
# csm_assign's single client), BENCH_DURABLE=1 turns fsync on for the runs (as in
# production; pg_virtualenv turns it off), BENCH_SERVER_CPUS (a taskset list
# such as 0) pins the server to those CPUs, to see how each path scales with
# cores on a machine that has few.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLIENTS=${BENCH_CLIENTS:-16}
THREADS=${BENCH_THREADS:-2}
TXNS=${BENCH_ASSIGN_TRANSACTIONS:-1000}
REPEATS=${BENCH_REPEATS:-3}
STRATEGY=${BENCH_ASSIGN_STRATEGY:-round_robin}
DB=${BENCH_ASSIGN_DB:-csm_bench_assign}
PARTS="floor baseline csm assign_plpgsql assign_c"
SECTIONS=${BENCH_ASSIGN_SECTIONS:-auto manual}
ACCOUNTS=$((CLIENTS * TXNS))
SINGLE_TXNS=${BENCH_ASSIGN_SINGLE_TRANSACTIONS:-4000}
[ "$SINGLE_TXNS" -le "$ACCOUNTS" ] || SINGLE_TXNS=$ACCOUNTS

WORK=$(mktemp -d -t csm_bench_assign.XXXXXX)
failed=0
started=$(date +%s)
declare -A result

export PGOPTIONS='-c client_min_messages=warning'
. test/bench/lib.sh

postmaster_pid() { head -n 1 "$(sql -c 'SHOW data_directory')/postmaster.pid"; }
# pin CPUS: the postmaster and its processes (backends started later inherit it)
pin() { local pid; pid=$(postmaster_pid); for p in $pid $(pgrep -P "$pid"); do taskset -pc "$1" "$p" >/dev/null; done; }
cleanup() {
    if [ -n "${BENCH_SERVER_CPUS:-}" ]; then pin "0-$(( $(nproc) - 1 ))" || true; fi
    if [ "${BENCH_DURABLE:-0}" = 1 ]; then
        psql -X -q -d postgres -c 'ALTER SYSTEM RESET fsync' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1 || true
    fi
    bench_cleanup
}
trap cleanup EXIT


# ---------------------------------------------------------------- setup
echo "== csm auto-assign benchmark"
bench_setup
if [ "${BENCH_DURABLE:-0}" = 1 ]; then
    sql -c 'ALTER SYSTEM SET fsync = on' -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 1
fi
if [ -n "${BENCH_SERVER_CPUS:-}" ]; then
    pin "$BENCH_SERVER_CPUS"
    echo "settings: server pinned to CPUs $BENCH_SERVER_CPUS (taskset); pgbench is not"
fi
echo "settings: ALTER SYSTEM max_wal_size=4GB (no checkpoint inside a timed run), autovacuum=off (tables are" \
     "emptied, vacuumed and checkpointed before every run instead); reset at exit"
echo "settings: $(sql -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
    FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size',
                                    'wal_level', 'full_page_writes', 'max_connections')")"
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus; load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"

t0=$(date +%s)
sql -c 'CREATE EXTENSION csm' -f test/bench/assign.sql >/dev/null
echo "data: $(sql -c "SELECT bench.make_data($ACCOUNTS, '$STRATEGY')"), made in $(( $(date +%s) - t0 )) s"

cat >"$WORK/floor.pgbench" <<'PGB'
UPDATE bench.floor_account a SET owner = s.n % 8 + 1
FROM (SELECT nextval('bench.floor_next') AS n) s WHERE a.external_id = 'acct_' || s.n;
PGB
echo "SELECT bench.baseline_assign('acct_' || nextval('bench.baseline_next'));" >"$WORK/baseline.pgbench"
echo "SELECT csm.csm_auto_assign('acct_' || nextval('bench.csm_next'));" >"$WORK/csm.pgbench"
for f in plpgsql:bench.csm_assign_plpgsql c:csm.csm_assign; do
    echo "SELECT ${f#*:}('acct_' || n, 'm' || (n % 8 + 1)) FROM (SELECT nextval('bench.csm_next') AS n) s;" \
        >"$WORK/assign_${f%%:*}.pgbench"
done

# prepare PATH: the book only (no new account has an owner), fresh statistics,
# every dirty page written out.
prepare() {
    sql -c "SELECT bench.reset('${1/assign_*/csm}', $ACCOUNTS)" >/dev/null
    case $1 in
        floor) sql -c 'VACUUM ANALYZE bench.floor_account' ;;
        baseline) sql -c 'VACUUM ANALYZE bench.member, bench.account' ;;
        csm|assign_*) sql -c 'VACUUM ANALYZE csm.account, csm.account_assignment, csm.assignment_log, csm.assignment_alert,
                                    csm_internal.member_load, csm.team_member, csm.routing_rule' ;;
    esac
    sql -c 'CHECKPOINT' >/dev/null
    sync
}

# ---------------------------------------------------------------- runs
# run PATH CLIENTS TXNS KEY: one timed run; its tps, backend CPU per
# transaction and spread go to the files of KEY.
run() {
    local p=$1 clients=$2 txns=$3 key=$4 cpu0 cpu1 cpu_us tps lat assigned spread per_member
    prepare "$p"
    cpu0=$(backend_cpu)
    if ! pgbench -n -M prepared -c "$clients" -j "$(( clients < THREADS ? clients : THREADS ))" -t "$txns" \
        -f "$WORK/$p.pgbench" "$DB" >"$WORK/pgbench.$p" 2>&1; then
        cat "$WORK/pgbench.$p"
        failed=1
        return
    fi
    cpu1=$(backend_cpu)
    cpu_us=$( [ -n "$cpu0" ] && awk -v a="$cpu0" -v b="$cpu1" -v n="$((clients * txns))" 'BEGIN { printf "%.0f", (b - a) * 1e6 / n }')
    tps=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$WORK/pgbench.$p")
    lat=$(awk '/^latency average/ { print $4; exit }' "$WORK/pgbench.$p")
    IFS='|' read -r assigned spread per_member <<<"$(sql -c "SELECT * FROM bench.outcome('${p/assign_*/csm}')")"
    echo "run assign path=$key round=$round clients=$clients tps=$tps latency_ms=$lat backend_cpu_us=${cpu_us:-n/a}" \
         "assigned=$assigned accounts_per_member=[$per_member] spread=$spread"
    echo "$tps" >>"$WORK/tps.$key"
    [ -z "$cpu_us" ] || echo "$cpu_us" >>"$WORK/cpu.$key"
    echo "$spread" >>"$WORK/spread.$key"
    if [ "$assigned" != "$((clients * txns))" ]; then
        echo "check $key: $assigned of $((clients * txns)) accounts have an owner MISMATCH"
        failed=1
    fi
}

if [[ " $SECTIONS " == *" auto "* ]]; then
    echo "== pgbench -M prepared, $CLIENTS clients, $THREADS threads, $TXNS transactions each" \
         "(one assignment of a new account per transaction, $ACCOUNTS accounts per run), 8 members," \
         "$REPEATS rounds, paths alternating, median per path; csm strategy $STRATEGY"
    for round in $(seq "$REPEATS"); do
        for p in floor baseline csm; do
            run "$p" "$CLIENTS" "$TXNS" "$p"
        done
    done
fi
if [[ " $SECTIONS " == *" manual "* ]]; then
    echo "== csm_assign: pgbench -M prepared, 1 client x $SINGLE_TXNS transactions and $CLIENTS clients x $TXNS," \
         "one new account's primary per transaction (member n % 8 + 1), $REPEATS rounds, paths alternating," \
         "median per path"
    for round in $(seq "$REPEATS"); do
        for c in 1 "$CLIENTS"; do
            t=$([ "$c" = 1 ] && echo "$SINGLE_TXNS" || echo "$TXNS")
            for p in floor assign_plpgsql assign_c; do
                run "$p" "$c" "$t" "manual.$p.$c"
            done
        done
    done
fi

# ---------------------------------------------------------------- results
for f in "$WORK"/tps.*; do
    [ -e "$f" ] || continue
    p=${f#"$WORK"/tps.}
    result[$p]=$(median <"$WORK/tps.$p")
    result[spread.$p]=$(sort -n "$WORK/spread.$p" | tail -n 1)
    [ -e "$WORK/cpu.$p" ] && result[cpu.$p]=$(median <"$WORK/cpu.$p")
done
echo "== results (throughput, higher is better; spread = max - min accounts per member, worst of the runs)"
if [[ " $SECTIONS " == *" auto "* ]]; then
echo "auto-assign, $CLIENTS clients, 8 members, $ACCOUNTS accounts per run (median of $REPEATS):" \
     "floor ${result[floor]:-n/a} tps (spread ${result[spread.floor]:-n/a})," \
     "plpgsql baseline ${result[baseline]:-n/a} tps (spread ${result[spread.baseline]:-n/a})," \
     "csm ${result[csm]:-n/a} tps (spread ${result[spread.csm]:-n/a})"
echo "ratios: csm/baseline $(ratio "${result[csm]:-0}" "${result[baseline]:-0}")x," \
     "csm/floor $(ratio "${result[csm]:-0}" "${result[floor]:-0}")x," \
     "baseline/floor $(ratio "${result[baseline]:-0}" "${result[floor]:-0}")x"
echo "backend CPU per assignment (median; what one costs the server, however the locks queue):" \
     "floor ${result[cpu.floor]:-n/a} us, plpgsql baseline ${result[cpu.baseline]:-n/a} us, csm ${result[cpu.csm]:-n/a} us;" \
     "csm/baseline $(ratio "${result[cpu.csm]:-0}" "${result[cpu.baseline]:-0}")x"
fi
if [[ " $SECTIONS " == *" manual "* ]]; then
    for c in 1 "$CLIENTS"; do
        f=${result[manual.floor.$c]:-0} pl=${result[manual.assign_plpgsql.$c]:-0} cc=${result[manual.assign_c.$c]:-0}
        echo "csm_assign, $c client(s) (median of $REPEATS): floor ${result[manual.floor.$c]:-n/a} tps," \
             "plpgsql ${result[manual.assign_plpgsql.$c]:-n/a} tps, C ${result[manual.assign_c.$c]:-n/a} tps;" \
             "ratios: C/plpgsql $(ratio "$cc" "$pl")x, C/floor $(ratio "$cc" "$f")x, plpgsql/floor $(ratio "$pl" "$f")x;" \
             "backend CPU per assignment: floor ${result[cpu.manual.floor.$c]:-n/a} us," \
             "plpgsql ${result[cpu.manual.assign_plpgsql.$c]:-n/a} us, C ${result[cpu.manual.assign_c.$c]:-n/a} us," \
             "C/plpgsql $(ratio "${result[cpu.manual.assign_c.$c]:-0}" "${result[cpu.manual.assign_plpgsql.$c]:-0}")x"
    done
fi
echo "elapsed: $(( $(date +%s) - started )) s; load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews every figure)"

if [ "$failed" != 0 ]; then
    echo "csm assign bench: a run failed or left accounts without an owner (see above)" >&2
    exit 1
fi
