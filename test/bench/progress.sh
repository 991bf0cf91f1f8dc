#!/usr/bin/env bash
# What progress NOTICEs cost csm.refresh_health() (issue 15, section 3):
# the same refresh, in the same run, with client_min_messages = warning
# (no counter in the statement) and = notice (a C counter per row and ten
# NOTICEs), alternated, REPEATS times each. Prints each run and the ratio of
# the medians; the ratio is reported, never asserted.
#
# Knobs (environment): BENCH_ACCOUNTS (1000000), BENCH_REPEATS (3),
# BENCH_PROGRESS_DB (csm_bench_progress).
set -euo pipefail
ROWS=${BENCH_ACCOUNTS:-1000000}
REPEATS=${BENCH_REPEATS:-3}
DB=${BENCH_PROGRESS_DB:-csm_bench_progress}
export PGOPTIONS='-c max_parallel_workers_per_gather=0'
echo "== csm refresh_health progress NOTICEs: $ROWS accounts, $REPEATS runs each"
dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
CREATE EXTENSION csm;
INSERT INTO csm.account (external_id, name, plan, arr, seats, renewal_date)
SELECT 'b' || g, 'Account ' || g, (ARRAY['starter', 'pro', 'enterprise'])[1 + g % 3], 1000 + g % 50000, 5 + g % 100,
       current_date + (g % 365)
FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE csm.account;
SET client_min_messages = warning;
SELECT csm.refresh_health();
SQL
# run LEVEL: seconds of one refresh at client_min_messages LEVEL
run() {
    psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" 2>/dev/null <<SQL | tail -1
SET client_min_messages = $1;
SELECT clock_timestamp() AS t0 \gset
SELECT csm.refresh_health();
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 3);
SQL
}
off=(); on=()
for i in $(seq "$REPEATS"); do
    t=$(run warning); off+=("$t"); echo "run $i notices off: $t s"
    t=$(run notice); on+=("$t"); echo "run $i notices on:  $t s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
m_off=$(median "${off[@]}"); m_on=$(median "${on[@]}")
echo "median: off $m_off s, on $m_on s, on/off $(awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "%.3f", a / b }')"
[ -n "${BENCH_KEEP:-}" ] || dropdb "$DB"
