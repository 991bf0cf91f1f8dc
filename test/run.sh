#!/usr/bin/env bash
# Runs every csm test against the throwaway cluster that pg_virtualenv
# started (PGHOST, PGPORT, PGUSER are set): pg_regress and isolation specs
# through PGXS installcheck, the pg_regress suite again with a hostile
# schema on search_path, pgTAP suites through pg_prove, then the pgbench
# shell tests (dump and restore, pgbench stress). Ends with "csm: N passed,
# N failed" and exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_MAJOR=${PG_MAJOR:-15}
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# pg_cron's launcher (make test preloads it for the README's examples)
# connects to cron.database_name and retries every second until it exists.
cron_db=$(psql -qAtX -d postgres -c "SELECT current_setting('cron.database_name', true)")
if [ -n "$cron_db" ] && ! psql -qAtX -d "$cron_db" -c 'SELECT 1' >/dev/null 2>&1; then createdb "$cron_db"; fi

rm -f regression.diffs output_iso/regression.diffs
echo "== pg_regress and isolation"
make -s installcheck PG_MAJOR="$PG_MAJOR" 2>&1 | tee "$log" || true
for f in regression.diffs output_iso/regression.diffs; do [ -f "$f" ] && cat "$f"; done
passed=$((passed + $(grep -cE '^(test|ok) .* ok( |$)' "$log" || true)))
failed=$((failed + $(grep -cE 'FAILED|failed \(ignored\)' "$log" || true)))
grep -q 'tests passed' "$log" || failed=$((failed + 1))

echo "== pg_regress again, a hostile schema on search_path (test/hostile/schema.sql)"
rm -f output_hostile/regression.diffs
make -s installcheck-hostile PG_MAJOR="$PG_MAJOR" 2>&1 | tee "$log" || true
[ -f output_hostile/regression.diffs ] && cat output_hostile/regression.diffs
passed=$((passed + $(grep -cE '^(test|ok) .* ok( |$)' "$log" || true)))
failed=$((failed + $(grep -cE 'FAILED|failed \(ignored\)' "$log" || true)))
grep -q 'tests passed' "$log" || failed=$((failed + 1))

echo "== pgTAP"
dropdb --if-exists csm_tap
createdb csm_tap
psql -qX -d csm_tap -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION csm'
for t in test/pgtap/*.sql; do
    if pg_prove -d csm_tap "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done

echo "== shell tests (dump and restore, pgbench stress)"
for t in test/shell/*.sh; do
    [ -e "$t" ] || continue
    echo "-- $t"
    if bash "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done

echo "csm: $passed passed, $failed failed"
[ "$failed" = 0 ]
