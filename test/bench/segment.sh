#!/usr/bin/env bash
# Segmentation benchmark (issue 13, section 4), on 1M accounts:
#
#   insert   INSERT ... SELECT of the accounts into csm.account with the
#            trigger that derives each segment from csm.segment_rule, against
#            the same insert with that trigger disabled (what csm costs
#            without segmentation) and against a bare table of the same
#            columns (PostgreSQL's floor).
#   refresh  csm.refresh_segments() after a rule change that moves every SMB
#            account (about a third), against a bare UPDATE setting the same
#            rows to the same values with the trigger disabled.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (make bench starts one
# with pg_virtualenv).  Prints one "run" line per timed run and a summary of
# ratios measured in this run; ratios are reported, never asserted.  It
# exits non-zero only when the derived segments disagree with a recount.
#
# Knobs (environment): BENCH_ACCOUNTS (1000000), BENCH_REPEATS (3),
# BENCH_PARTS ("insert refresh"), BENCH_SEGMENT_DB (csm_bench_segment),
# BENCH_KEEP=1 keeps the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
REPEATS=${BENCH_REPEATS:-3}
PARTS=${BENCH_PARTS:-insert refresh}
DB=${BENCH_SEGMENT_DB:-csm_bench_segment}
WORK=$(mktemp -d -t csm_bench_segment.XXXXXX)
failed=0
started=$(date +%s)
declare -A result

export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
trap bench_cleanup EXIT


echo "== csm segmentation benchmark"
bench_setup
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus; $ROWS accounts, $REPEATS runs each (median)"
sql -c 'CREATE EXTENSION csm' >/dev/null
sql <<'SQL' >/dev/null
CREATE SCHEMA bench;
-- The accounts: ARR and seats spread over every range of the seed and the
-- cases between them (ARR and seats disagreeing, no seats).
CREATE FUNCTION bench.u(i bigint, stream integer) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (hashint8extended(i, stream) & 4503599627370495)::float8 / 4503599627370496;
CREATE TABLE bench.source (account_id bigint, external_id text, arr numeric, seats integer);
-- The floor: csm.account's columns, no constraints or triggers.
CREATE TABLE bench.account_plain (LIKE csm.account INCLUDING DEFAULTS);
SQL
sql -c "INSERT INTO bench.source SELECT i, 'org_' || lpad(i::text, 7, '0'), round((power(10, 3 + 3 * bench.u(i, 1)))::numeric, -2), CASE WHEN bench.u(i, 3) < 0.02 THEN NULL ELSE floor(power(10, 3.3 * bench.u(i, 2)))::integer END FROM generate_series(1, $ROWS) i" -c "VACUUM ANALYZE bench.source" >/dev/null

declare -A insert_sql=(
    [csm]="INSERT INTO csm.account (account_id, external_id, arr, seats) SELECT account_id, external_id, arr, seats FROM bench.source"
    [no_trigger]="INSERT INTO csm.account (account_id, external_id, arr, seats) SELECT account_id, external_id, arr, seats FROM bench.source"
    [floor]="INSERT INTO bench.account_plain (account_id, external_id, arr, seats) SELECT account_id, external_id, arr, seats FROM bench.source"
)
reset_accounts() {
    sql -c 'TRUNCATE csm.account CASCADE' -c 'TRUNCATE bench.account_plain' -c 'ALTER TABLE csm.account ENABLE TRIGGER account_segment' >/dev/null
}

if want insert; then
    for kind in floor no_trigger csm; do
        times=()
        for ((r = 1; r <= REPEATS; r++)); do
            reset_accounts
            [ "$kind" = no_trigger ] && sql -c 'ALTER TABLE csm.account DISABLE TRIGGER account_segment' >/dev/null
            settle
            t=$(elapsed "${insert_sql[$kind]}")
            echo "run insert $kind $r: $(secs "$t") s"
            times+=("$t")
        done
        result[insert_$kind]=$(printf '%s\n' "${times[@]}" | median)
    done
    # The derived segments against the placement written out by hand.
    wrong=$(sql -c "SELECT count(*) FROM csm.account WHERE segment IS DISTINCT FROM CASE
        WHEN arr > 100000 AND seats > 500 THEN 'enterprise'
        WHEN arr BETWEEN 25000 AND 100000 AND seats BETWEEN 50 AND 500 THEN 'mid_market'
        WHEN arr < 25000 AND seats < 50 THEN 'smb'
        WHEN arr > 100000 THEN 'enterprise' WHEN arr >= 25000 THEN 'mid_market' WHEN arr < 25000 THEN 'smb'
        WHEN seats > 500 THEN 'enterprise' WHEN seats >= 50 THEN 'mid_market' ELSE 'smb' END")
    if [ "$wrong" = 0 ]; then echo "check insert: every derived segment is the documented placement"; else
        echo "check insert: FAILED, $wrong accounts with another segment"; failed=1; fi
fi

if want refresh; then
    times=(); bare=()
    for ((r = 1; r <= REPEATS; r++)); do
        reset_accounts
        sql -c "${insert_sql[csm]}" -c 'VACUUM ANALYZE csm.account' >/dev/null
        sql -c "UPDATE csm.segment_rule SET segment = 'mid_market' WHERE rule_id IN (3, 6)" >/dev/null
        moved=$(sql -c "SELECT count(*) FROM csm.account WHERE segment_rule_id IN (3, 6)")
        settle
        t=$(elapsed 'SELECT csm.refresh_segments()')
        echo "run refresh csm $r: $(secs "$t") s ($moved accounts moved)"
        times+=("$t")
        sql -c "UPDATE csm.segment_rule SET segment = 'smb' WHERE rule_id IN (3, 6)" -c 'SELECT csm.refresh_segments()' \
            -c 'VACUUM ANALYZE csm.account' -c 'ALTER TABLE csm.account DISABLE TRIGGER account_segment' >/dev/null
        settle
        t=$(elapsed "UPDATE csm.account SET segment = 'mid_market' WHERE segment_rule_id IN (3, 6)")
        echo "run refresh bare_update $r: $(secs "$t") s"
        bare+=("$t")
    done
    result[refresh_csm]=$(printf '%s\n' "${times[@]}" | median)
    result[refresh_bare]=$(printf '%s\n' "${bare[@]}" | median)
fi

echo "== summary ($ROWS accounts; medians of $REPEATS; ratios from this run)"
if want insert; then
    echo "insert: floor $(secs "${result[insert_floor]}") s, csm without the segment trigger $(secs "${result[insert_no_trigger]}") s, csm $(secs "${result[insert_csm]}") s"
    echo "ratio insert csm / csm without the segment trigger: $(ratio "${result[insert_csm]}" "${result[insert_no_trigger]}")"
    echo "ratio insert csm / bare table: $(ratio "${result[insert_csm]}" "${result[insert_floor]}")"
fi
if want refresh; then
    echo "refresh_segments $(secs "${result[refresh_csm]}") s, bare UPDATE of the same rows $(secs "${result[refresh_bare]}") s"
    echo "ratio refresh_segments / bare UPDATE: $(ratio "${result[refresh_csm]}" "${result[refresh_bare]}")"
fi
echo "took $(( $(date +%s) - started )) s"
exit $failed
