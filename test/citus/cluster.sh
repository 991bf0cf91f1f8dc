#!/usr/bin/env bash
# A throwaway Citus cluster on 127.0.0.1: a coordinator on PORT and two
# workers on PORT+1 and PORT+2, data directories under DIR, the binaries of
# $PG_CONFIG. Trust authentication on loopback only; nothing outside DIR is
# touched.
#
#   test/citus/cluster.sh start DIR PORT [DB]   initdb, start, CREATE EXTENSION citus in DB on
#                                                each node, add the workers to the coordinator
#   test/citus/cluster.sh stop DIR              stop the three servers
#
# As root the servers run as the postgres user (initdb refuses root).
set -euo pipefail
cmd=$1 dir=$2
PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
bin=$("$PG_CONFIG" --bindir)
nodes="coordinator worker1 worker2"

as_owner() {
    if [ "$(id -u)" = 0 ]; then su postgres -c "$(printf '%q ' "$@")"; else "$@"; fi
}

case $cmd in
start)
    port=$3 db=${4:-postgres}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
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
    for i in 0 1 2; do
        p=$((port + i))
        [ "$db" = postgres ] || "$bin/createdb" -h 127.0.0.1 -p "$p" -U postgres "$db" 2>/dev/null || true
        "$bin/psql" -qX -h 127.0.0.1 -p "$p" -U postgres -d "$db" -v ON_ERROR_STOP=1 \
            -c 'CREATE EXTENSION IF NOT EXISTS citus' >/dev/null
    done
    "$bin/psql" -qX -h 127.0.0.1 -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -At \
        -c "SELECT citus_set_coordinator_host('127.0.0.1', $port)" \
        -c "SELECT citus_add_node('127.0.0.1', $((port + 1)))" \
        -c "SELECT citus_add_node('127.0.0.1', $((port + 2)))" >/dev/null
    ;;
stop)
    for node in $nodes; do
        [ -f "$dir/$node/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/$node" -m fast -w stop >/dev/null || true
    done
    ;;
*)
    echo "usage: $0 start DIR PORT [DB] | stop DIR" >&2; exit 2 ;;
esac
