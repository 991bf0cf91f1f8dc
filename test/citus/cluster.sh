#!/usr/bin/env bash
# A throwaway Citus cluster on 127.0.0.1: a coordinator on PORT and two
# workers on PORT+1 and PORT+2, data directories under DIR, the binaries of
# $PG_CONFIG. Trust authentication on loopback only; nothing outside DIR is
# touched.
#
#   test/citus/cluster.sh start DIR PORT [DB]   initdb, start, then createdb DB
#   test/citus/cluster.sh createdb DIR PORT DB  DB on each node with CREATE EXTENSION citus,
#                                                the workers added to the coordinator's DB
#   test/citus/cluster.sh stop DIR              stop the three servers
#   test/citus/cluster.sh logs DIR              the end of each server's log
#   test/citus/cluster.sh freeport [FROM]       the first PORT >= FROM (default 55432) with
#                                                PORT, PORT+1 and PORT+2 free on 127.0.0.1
#
# start refuses a port that is in use, and stops what it started (printing
# the logs) when a step fails. As root the servers run as the postgres user
# (initdb refuses root).
set -Eeuo pipefail
cmd=${1:-} dir=${2:-}
PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
bin=$("$PG_CONFIG" --bindir)
nodes="coordinator worker1 worker2"

as_owner() {
    if [ "$(id -u)" = 0 ]; then su postgres -c "$(printf '%q ' "$@")"; else "$@"; fi
}
# Something accepts connections on 127.0.0.1:$1.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
q() { "$bin/psql" -qX -h 127.0.0.1 -p "$1" -U postgres -d "$2" -v ON_ERROR_STOP=1 -At "${@:3}"; }

stop() {
    for node in $nodes; do
        if [ -f "$dir/$node/postmaster.pid" ]; then
            as_owner "$bin/pg_ctl" -D "$dir/$node" -m fast -w stop >/dev/null || true
        fi
    done
}
logs() {
    for node in $nodes; do
        [ -f "$dir/$node.log" ] || continue
        echo "--- $dir/$node.log (last 40 lines)"
        tail -n 40 "$dir/$node.log"
    done
}

createdb() {
    local port=$1 db=$2 i
    for i in 0 1 2; do
        if [ "$db" != postgres ] &&
            [ -z "$(q $((port + i)) postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
            PGOPTIONS='-c client_min_messages=warning' "$bin/createdb" -h 127.0.0.1 -p $((port + i)) -U postgres "$db"
        fi
        q $((port + i)) "$db" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS citus' >/dev/null
    done
    # Node metadata is per database.
    q "$port" "$db" -c "SELECT citus_set_coordinator_host('127.0.0.1', $port)" \
        -c "SELECT citus_add_node('127.0.0.1', $((port + 1)))" \
        -c "SELECT citus_add_node('127.0.0.1', $((port + 2)))" >/dev/null
}

case $cmd in
start)
    port=$3 db=${4:-postgres}
    for i in 0 1 2; do
        if in_use $((port + i)); then
            echo "cluster.sh: port $((port + i)) on 127.0.0.1 is in use; choose another (cluster.sh freeport)" >&2
            exit 1
        fi
    done
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    trap 'echo "cluster.sh: start failed" >&2; logs >&2; stop' ERR
    i=0
    for node in $nodes; do
        p=$((port + i)); i=$((i + 1))
        if [ ! -d "$dir/$node" ]; then
            as_owner "$bin/initdb" -A trust -U postgres -D "$dir/$node" >/dev/null
            cat >>"$dir/$node/postgresql.conf" <<CONF
port = $p
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 200
max_prepared_transactions = 200
fsync = off
synchronous_commit = off
full_page_writes = off
lc_messages = 'C'
CONF
        fi
        as_owner "$bin/pg_ctl" -D "$dir/$node" -l "$dir/$node.log" -w start >/dev/null
    done
    createdb "$port" "$db"
    trap - ERR
    ;;
createdb)
    createdb "$3" "$4"
    ;;
stop)
    stop
    ;;
logs)
    logs
    ;;
freeport)
    port=${2:-55432}
    while in_use "$port" || in_use $((port + 1)) || in_use $((port + 2)); do
        port=$((port + 3))
        [ "$port" -lt 65000 ] || { echo "cluster.sh: no free ports" >&2; exit 1; }
    done
    echo "$port"
    ;;
*)
    echo "usage: $0 start DIR PORT [DB] | createdb DIR PORT DB | stop DIR | logs DIR | freeport [FROM]" >&2; exit 2 ;;
esac
