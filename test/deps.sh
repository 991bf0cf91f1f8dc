#!/usr/bin/env bash
# Install what building and testing csm needs, when it is missing.
set -euo pipefail
PG_MAJOR=${PG_MAJOR:-15}
need=()
# The build needs the server headers and PGXS itself, not just pg_config
# (postgresql-client ships that).
[ -f "/usr/include/postgresql/$PG_MAJOR/server/postgres.h" ] &&
    [ -f "/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/makefiles/pgxs.mk" ] || need+=("postgresql-server-dev-$PG_MAJOR")
[ -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ] || need+=("postgresql-$PG_MAJOR")
[ -d "/usr/share/postgresql/$PG_MAJOR/extension" ] && ls "/usr/share/postgresql/$PG_MAJOR/extension"/pgtap.control >/dev/null 2>&1 || need+=("postgresql-$PG_MAJOR-pgtap")
command -v pg_prove >/dev/null || need+=(libtap-parser-sourcehandler-pgtap-perl)
command -v pg_virtualenv >/dev/null || need+=(postgresql-common)
command -v pgbench >/dev/null || need+=("postgresql-contrib")
command -v make >/dev/null && command -v gcc >/dev/null || need+=(build-essential)
[ ${#need[@]} -eq 0 ] && exit 0
echo "csm: installing ${need[*]}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
