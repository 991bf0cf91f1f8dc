#!/usr/bin/env bash
# `make dashboards` (build) and `make test-dashboards` (test): the reference
# dashboard under dashboards/, built with Observable Framework against the
# demo database.
#
#   build  npm ci (once), then `observable build` with its data loaders
#          reading csm.dashboard_* from database $DASHBOARD_DB (default
#          csm_demo, on the server PGHOST/PGPORT name), and
#          prints how to open dashboards/dist;
#   test   build, then dashboards/test.sh (every page in headless Chromium,
#          screenshots, fails on a panel with an error or no data) and
#          dashboards/grafana/check.sh (the Grafana JSON and its SQL).
#
# When PGHOST/PGPORT (or the defaults) reach a database $DASHBOARD_DB where
# csm.dashboard_portfolio has rows, it is used as it is (a `make demo`
# cluster kept running, or any portfolio).  Otherwise the demo is loaded into
# a throwaway cluster (pg_virtualenv, as `make demo` does) and the build and
# test run there; dist/ is static and outlives that cluster.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-build}
export PGDATABASE=${DASHBOARD_DB:-csm_demo}

need() {
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "dashboards: installing Debian's nodejs and npm" >&2
        $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
    fi
    if [ "$mode" = test ] && ! command -v "${CHROMIUM:-chromium}" >/dev/null; then
        echo "dashboards: installing Debian's chromium for the browser test" >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    fi
    [ -d node_modules/@observablehq/framework ] || npm ci --no-audit --no-fund
}

build() {
    rm -rf dist src/.observablehq/cache
    npx --no-install observable build
    cat <<TXT

The reference dashboard is built in $(pwd)/dist from database $PGDATABASE.
Open it with any static file server, for example:
    python3 -m http.server 3000 --bind 127.0.0.1 --directory $(pwd)/dist
then browse to http://127.0.0.1:3000/ (or run \`npx observable preview\` in
dashboards/ for a live preview that re-reads the database).
TXT
}

run() {
    build
    if [ "$mode" = test ]; then
        ./test.sh
        grafana/check.sh
    fi
}

need
if psql -X -q -At -c 'SELECT 1 FROM csm.dashboard_portfolio LIMIT 1' 2>/dev/null | grep -q 1; then
    run
elif [ "${CSM_DASHBOARDS_INNER:-}" = 1 ]; then
    echo "dashboards: the demo did not load into $PGDATABASE" >&2; exit 1
else
    echo "dashboards: no csm demo in database $PGDATABASE here; loading it into a throwaway cluster" >&2
    PG_MAJOR=${PG_MAJOR:-15}
    exec env CSM_DASHBOARDS_INNER=1 pg_virtualenv -t -v "$PG_MAJOR" sh -c \
        'unset PGDATABASE; ../test/demo.sh </dev/null >/dev/null && DASHBOARD_DB=csm_demo ./make.sh "$0"' "$mode"
fi
