# Shared by the benchmark scripts; source it once DB, WORK and PARTS are set.

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
want() { [[ " $PARTS " == *" $1 "* ]]; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
secs() { awk -v a="$1" 'BEGIN { printf (a < 10 ? "%.3f" : "%.1f"), a }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

# settle: a checkpoint and a sync, so that a timed run starts with no
# writes pending (a script may define its own after sourcing this file).
settle() {
    sql -c 'CHECKPOINT' >/dev/null
    sync
}

# elapsed SQL...: runs SQL in a new session, prints the seconds of each
# statement as psql sees it (through its commit), one per line.
elapsed() {
    printf '%s\n' '\timing on' "$@" | sql | awk '/^Time: / { printf "%.3f\n", $2 / 1000 }'
}

# A fresh database, and settings changed for the benchmark only, through
# ALTER SYSTEM: no checkpoint inside a timed run, no autovacuum between runs.
bench_setup() {
    PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d postgres \
        -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
        -c "ALTER SYSTEM SET max_wal_size = '4GB'" -c "ALTER SYSTEM SET autovacuum = off" \
        -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 1
}

# Resets the settings, drops the database (unless BENCH_KEEP=1) and the work files.
bench_cleanup() {
    psql -X -q -d postgres -c 'ALTER SYSTEM RESET max_wal_size' -c 'ALTER SYSTEM RESET autovacuum' \
        -c 'SELECT pg_reload_conf()' >/dev/null 2>&1 || true
    if [ "${BENCH_KEEP:-0}" != 1 ]; then
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}

# backend_cpu: CPU seconds used so far by the server's backends that have
# exited (the postmaster's reaped children, from /proc); empty when the
# server is not on this machine.  A run's backend CPU per transaction is
# steadier than its throughput on a busy machine, and says what one
# transaction costs, whatever the locks let through.
backend_cpu() {
    local pid
    # a backend that has just exited may not be reaped yet: wait for ours to go
    for _ in $(seq 100); do
        [ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")" = 0 ] && break
        sleep 0.05
    done
    sleep 0.1
    pid=$(head -n 1 "$(sql -c 'SHOW data_directory')/postmaster.pid" 2>/dev/null) || return 0
    [ -r "/proc/$pid/stat" ] || return 0
    # fields 16 and 17 (children's user and system ticks), counted after the ")" of the name
    sed 's/.*) //' "/proc/$pid/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }'
}

# cluster_cpu DIR: CPU seconds used so far by every process of the servers
# whose data directories are under DIR (a test/citus/cluster.sh cluster):
# each postmaster's own and its reaped children's (backends that exited),
# plus its children still running (Citus's cached connections, pgbench's
# sessions).  A load on Citus runs in backends on three servers, so the
# difference of two readings is what the load cost the cluster, whatever
# else the machine was doing.
cluster_cpu() {
    local pid hz total=0 ticks
    hz=$(getconf CLK_TCK)
    for pidfile in "$1"/*/postmaster.pid; do
        pid=$(head -n 1 "$pidfile" 2>/dev/null) || continue
        [ -r "/proc/$pid/stat" ] || continue
        # fields 14-17 (user, system, children's user and system), counted after the ")" of the name
        ticks=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 + $14 + $15 }')
        for child in $(ps -o pid= --ppid "$pid"); do
            [ -r "/proc/$child/stat" ] || continue
            ticks=$((ticks + $(sed 's/.*) //' "/proc/$child/stat" 2>/dev/null | awk '{ print $12 + $13 }')))
        done
        total=$((total + ticks))
    done
    awk -v t="$total" -v hz="$hz" 'BEGIN { printf "%.2f\n", t / hz }'
}

# cpu_timed KEY SQL...: runs SQL in a session of its own; result[KEY] gets
# its seconds as psql sees them (summed over the statements), cpu[KEY] the
# CPU seconds of its backend (from /proc: steadier than the clock on a
# shared, loaded machine; empty when the server is elsewhere).  The caller
# declares the associative arrays result and cpu.
cpu_timed() {
    local key=$1 c0 c1
    shift
    c0=$(backend_cpu)
    result[$key]=$(elapsed "$@" | awk '{ s += $1 } END { printf "%.3f", s }')
    c1=$(backend_cpu)
    if [ -n "$c0" ] && [ -n "$c1" ]; then cpu[$key]=$(sub "$c1" "$c0"); else cpu[$key]=; fi
}
# cpu_ratio A B: "; CPU X s, R.RRx" of cpu[A] against cpu[B], or nothing
cpu_ratio() { [ -n "${cpu[$1]:-}" ] && [ -n "${cpu[$2]:-}" ] && echo "; CPU ${cpu[$1]} s, $(ratio "${cpu[$1]}" "${cpu[$2]}")x"; }
