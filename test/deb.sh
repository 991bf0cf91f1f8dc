#!/usr/bin/env bash
# The Debian package, built and tested the way a user gets it.
#
#   test/deb.sh build VERSION   (make deb)      builds the committed tree
#       (git archive HEAD) with dpkg-buildpackage and pg_buildext (debian/),
#       and leaves dist/postgresql-15-csm_VERSION-1_<arch>.deb.
#   test/deb.sh test VERSION    (make test-deb) installs that .deb in place
#       of make install and runs the whole suite (test/run.sh) against it.
#
# The test never touches the PostgreSQL of the machine, nor its clusters: it
# copies the PostgreSQL 15 installation (/usr/lib/postgresql/15,
# /usr/share/postgresql/15 and the headers, which find each other relative
# to the binaries)
# into a throwaway directory, removes any csm from the copy, unpacks the .deb
# into it with dpkg -x (the package's files land where dpkg would put them
# under /), checks that every file of the package is there and that csm.so is
# the package's, then runs a cluster of that copy on a port of its own
# (CSM_DEB_PORT, default 54715), with pg_cron preloaded as make test does (its jobs in background workers).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: test/deb.sh build|test VERSION}
version=${2:?usage: test/deb.sh build|test VERSION}
PG_MAJOR=${PG_MAJOR:-15}
arch=$(dpkg --print-architecture)
deb=dist/postgresql-$PG_MAJOR-csm_${version}-1_${arch}.deb
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

build() {
    # What dpkg-buildpackage needs besides what make install needs.
    local need=()
    command -v dh >/dev/null || need+=(debhelper)
    # Build-Depends names the package itself (pg_buildext alone comes with
    # postgresql-common, so its presence does not tell).
    dpkg -s postgresql-server-dev-all >/dev/null 2>&1 || need+=(postgresql-server-dev-all)
    command -v dpkg-buildpackage >/dev/null || need+=(dpkg-dev)
    [ -f "/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/makefiles/pgxs.mk" ] || need+=("postgresql-server-dev-$PG_MAJOR")
    if [ ${#need[@]} -gt 0 ]; then
        echo "csm: installing ${need[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    # The changelog's upstream version is the release's (Makefile DISTVERSION).
    local changelog
    changelog=$(dpkg-parsechangelog -l debian/changelog -S Version)
    if [ "${changelog%-*}" != "$version" ]; then
        echo "csm: debian/changelog is at ${changelog%-*}, the Makefile's DISTVERSION at $version" >&2
        exit 1
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    git archive --prefix="csm-$version/" HEAD | tar -x -C "$tmp"
    (cd "$tmp/csm-$version" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) > "$tmp/build.log" 2>&1 || {
        tail -40 "$tmp/build.log"; echo "csm: dpkg-buildpackage failed" >&2; exit 1; }
    mkdir -p dist
    cp "$tmp/$(basename "$deb")" "$deb"
    echo "csm: $deb"
    dpkg-deb -I "$deb" | sed -n '/Package:/,$p'
}

test_deb() {
    [ -f "$deb" ] || { echo "csm: $deb is missing (make deb)" >&2; exit 1; }
    # Not local: the EXIT trap reads them after this function returns.
    root=$(mktemp -d /tmp/csm-deb.XXXXXX)
    port=${CSM_DEB_PORT:-54715}
    bin=$root/usr/lib/postgresql/$PG_MAJOR/bin
    data=$root/data sock=$root/sock log=$root/server.log
    stop() {
        if [ -f "$data/postmaster.pid" ]; then as_pg "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true; fi
        rm -rf "$root"
    }
    trap stop EXIT
    # The server runs as postgres when this runs as root (initdb refuses root).
    as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

    # The headers too (postgresql-server-dev-15, which the suite's own builds use: test/shell/dist.sh).
    mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql" "$root/usr/include"
    cp -a "/usr/lib/postgresql/$PG_MAJOR" "$root/usr/lib/postgresql/"
    cp -a "/usr/share/postgresql/$PG_MAJOR" "$root/usr/share/postgresql/"
    cp -a /usr/include/postgresql "$root/usr/include/"
    # Whatever csm an earlier make install left in the copy goes: only the package's may be found.
    rm -rf "$root/usr/lib/postgresql/$PG_MAJOR/lib/csm.so" "$root/usr/lib/postgresql/$PG_MAJOR/lib/bitcode/csm" \
        "$root/usr/lib/postgresql/$PG_MAJOR/lib/bitcode/csm.index.bc"
    rm -f "$root/usr/share/postgresql/$PG_MAJOR/extension/"csm.control "$root/usr/share/postgresql/$PG_MAJOR/extension/"csm--*.sql
    dpkg -x "$deb" "$root"

    # Every file of the package is in place, and the server will load the package's csm.so.
    local missing=0 f
    while read -r f; do
        [ -e "$root/$f" ] || { echo "csm: $f of the package is missing" >&2; missing=1; }
    done < <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||')
    [ "$missing" = 0 ] || exit 1
    local ext=$root/usr/share/postgresql/$PG_MAJOR/extension
    [ "$("$bin/pg_config" --pkglibdir)" = "$root/usr/lib/postgresql/$PG_MAJOR/lib" ] || {
        echo "csm: the copy's pg_config does not point into the copy" >&2; exit 1; }
    [ -f "$ext/csm.control" ] && ls "$ext"/csm--*.sql >/dev/null && [ -f "$root/usr/lib/postgresql/$PG_MAJOR/lib/csm.so" ] || {
        echo "csm: the package did not install csm.control, its script and csm.so" >&2; exit 1; }
    # and every released version's install script with its upgrade script to this one
    local current released v
    current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" csm.control)
    for released in src/updates/csm--*.sql; do
        v=${released#src/updates/csm--}; v=${v%.sql}
        [ -f "$ext/csm--$v.sql" ] && [ -f "$ext/csm--$v--$current.sql" ] && [ -f "$ext/csm--$current.sql" ] || {
            echo "csm: the package lacks csm--$v.sql, csm--$v--$current.sql or csm--$current.sql" >&2; exit 1; }
    done
    echo "csm: installed $(basename "$deb") into $root (dpkg -x): $(dpkg-deb -c "$deb" | grep -cv '/$') files"

    mkdir -p "$sock"
    [ "$(id -u)" = 0 ] && chown -R postgres "$root"
    as_pg "$bin/initdb" -A trust -U postgres -D "$data" >/dev/null
    as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w \
        -o "-p $port -k $sock -c listen_addresses='' -c shared_preload_libraries=pg_cron -c cron.database_name=csm_readme -c cron.use_background_workers=on" start >/dev/null
    export PATH=$bin:$PATH PG_CONFIG=$bin/pg_config PGHOST=$sock PGPORT=$port PGUSER=postgres PGDATABASE=postgres
    # The extension the server offers is the package's.
    psql -qAtX -c "SELECT name || ' ' || default_version FROM pg_available_extensions WHERE name = 'csm'"
    PG_MAJOR=$PG_MAJOR test/run.sh
}

case $mode in
    build) build ;;
    test) test_deb ;;
    *) echo "usage: test/deb.sh build|test VERSION" >&2; exit 2 ;;
esac
