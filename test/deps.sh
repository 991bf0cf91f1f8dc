#!/usr/bin/env bash
# Install what `make test`, `make demo` and `make bench` need, when it is
# missing: each check looks for the file a step really uses.
#   build (make install):   the server headers and PGXS, gcc and make, and
#                           clang/llvm for the JIT bitcode (server-dev pulls those in)
#   clusters:               pg_virtualenv, the server (postgres, pgbench)
#   clients:                psql, createdb, dropdb, pg_dump, pg_restore
#   tests:                  pgTAP and pg_prove; pg_cron, which make test
#                           preloads for the README's cron examples
#                           (test/shell/readme.sh); pgbouncer
#                           (test/shell/pgbouncer.sh)
# perl, awk, sed, diff and coreutils (sha256sum, mktemp) are part of every
# Debian system.
set -euo pipefail
PG_MAJOR=${PG_MAJOR:-15}
bin=/usr/lib/postgresql/$PG_MAJOR/bin
ext=/usr/share/postgresql/$PG_MAJOR/extension
need=()
add() { case " ${need[*]} " in *" $1 "*) ;; *) need+=("$1") ;; esac; }
# The build needs the server headers and PGXS itself, not just pg_config
# (postgresql-client ships that).
[ -f "/usr/include/postgresql/$PG_MAJOR/server/postgres.h" ] &&
    [ -f "/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/makefiles/pgxs.mk" ] || add "postgresql-server-dev-$PG_MAJOR"
command -v make >/dev/null && command -v gcc >/dev/null || add build-essential
for b in postgres pgbench; do [ -x "$bin/$b" ] || add "postgresql-$PG_MAJOR"; done
for b in psql createdb dropdb pg_dump pg_restore; do [ -x "$bin/$b" ] || add "postgresql-client-$PG_MAJOR"; done
for b in psql createdb dropdb pg_dump pg_restore pgbench; do command -v "$b" >/dev/null || add postgresql-client-common; done
command -v pg_virtualenv >/dev/null || add postgresql-common
[ -f "$ext/pgtap.control" ] || add "postgresql-$PG_MAJOR-pgtap"
command -v pg_prove >/dev/null || add libtap-parser-sourcehandler-pgtap-perl
[ -f "$ext/pg_cron.control" ] && [ -f "/usr/lib/postgresql/$PG_MAJOR/lib/pg_cron.so" ] || add "postgresql-$PG_MAJOR-cron"
# test/shell/pgbouncer.sh: csm behind pgbouncer in transaction mode
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null || add pgbouncer
[ ${#need[@]} -eq 0 ] && exit 0
echo "csm: installing ${need[*]}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
