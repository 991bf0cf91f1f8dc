#!/usr/bin/env bash
# Runs the pg_regress and isolation suites against a server under valgrind
# memcheck and fails if any error report has csm's code in its stack.
# Slow (a few minutes), so it is `make valgrind`, not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_MAJOR=${PG_MAJOR:-15}
bin=/usr/lib/postgresql/$PG_MAJOR/bin
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
work=$(mktemp -d -t csm_valgrind.XXXXXX)
chown postgres "$work"
port=54${RANDOM:0:2}
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sh -c "$*"; fi; }
cleanup() { as_pg "$bin/pg_ctl -D $work/data stop -m fast" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

as_pg "$bin/initdb -D $work/data -A trust" >/dev/null
# --fullpath-after= prints each frame's whole source path, so that csm's own
# frames are told by their directory (the default prints only "usage.c:12").
as_pg "valgrind --quiet --trace-children=yes --leak-check=no --fullpath-after= --log-file=$work/vg.%p.log \
    $bin/postgres -D $work/data -p $port -k $work -c listen_addresses=''" >"$work/server.log" 2>&1 &
for _ in $(seq 60); do as_pg "$bin/pg_isready -h $work -p $port" >/dev/null 2>&1 && break; sleep 2; done

PGHOST=$work PGPORT=$port PGUSER=postgres make -s installcheck PG_MAJOR="$PG_MAJOR"

# Error reports whose stack passes through csm: a frame in one of its source
# files, or in csm.so where there is no line information.
bad=$(awk -v src="$PWD/src/" '/^==[0-9]+== [A-Z]/ { report = $0; next }
           (index($0, src) || /csm\.so/) && report != "" { print report; report = "" }' "$work"/vg.*.log | sort | uniq -c)
if [ -n "$bad" ]; then
    echo "$bad"; echo "not ok - valgrind found errors in csm"; exit 1
fi
echo "ok - valgrind memcheck: no errors in csm code over the regression and isolation suites"
