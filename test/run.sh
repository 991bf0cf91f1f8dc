#!/usr/bin/env bash
# Runs every csm test against the throwaway cluster that pg_virtualenv
# started (PGHOST, PGPORT, PGUSER are set): pg_regress and isolation specs
# through PGXS installcheck, pgTAP suites through pg_prove, then the pgbench
# stress tests. Exits non-zero on the first failing group.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_MAJOR=${PG_MAJOR:-15}
failed=0

echo "== pg_regress and isolation"
if ! make -s installcheck PG_MAJOR="$PG_MAJOR"; then
    for f in regression.diffs output_iso/regression.diffs; do [ -f "$f" ] && cat "$f"; done
    failed=1
fi

echo "== pgTAP"
createdb csm_tap
psql -qX -d csm_tap -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION csm'
pg_prove -d csm_tap --ext .sql -r test/pgtap || failed=1

echo "== shell tests (dump and restore, pgbench stress)"
for t in test/shell/*.sh; do
    [ -e "$t" ] || continue
    echo "-- $t"
    bash "$t" || failed=1
done

if [ "$failed" != 0 ]; then
    echo "csm: some tests failed" >&2
    exit 1
fi
echo "csm: all tests passed"
