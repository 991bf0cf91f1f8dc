#!/usr/bin/env bash
# NPS program benchmark: BENCH_ACCOUNTS accounts (1,000,000) with
# BENCH_ANSWERS answers each (2) over the last 365 days.
#
#   ingest   INSERT ... SELECT of every answer into csm.nps_response (which
#            opens a follow-up per answer, csm.nps_loop) against a bare
#            INSERT ... SELECT of the same rows into a table of the same
#            shape without triggers, and against the bare inserts of both
#            tables' rows (the answer and the follow-up row).
#   summary  csm.nps_summary() of the last 90 days against a hand-written
#            single-pass query over the same rows (the answers are checked
#            equal first); csm.nps_monthly against a bare GROUP BY of
#            month and segment.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER. Prints one "run" line
# per timed run and a summary of ratios (medians of BENCH_REPEATS runs, 3);
# ratios are reported, never asserted: it exits non-zero only when the
# answers differ. BENCH_NPS_DB (csm_bench_nps); BENCH_KEEP=1 keeps it.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=${BENCH_ACCOUNTS:-1000000}
ANSWERS=${BENCH_ANSWERS:-2}
REPEATS=${BENCH_REPEATS:-3}
DB=${BENCH_NPS_DB:-csm_bench_nps}
PARTS=${BENCH_PARTS:-ingest summary}
WORK=$(mktemp -d -t csm_bench_nps.XXXXXX)
failed=0
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'
. test/bench/lib.sh
trap bench_cleanup EXIT

echo "== csm NPS benchmark: $ROWS accounts x $ANSWERS answers"
bench_setup
echo "server: $(sql -c 'SELECT version()'); $(nproc) cpus"
sql -c 'CREATE EXTENSION csm' >/dev/null
sql <<SQL
CREATE SCHEMA bench;
INSERT INTO csm.account (account_id, external_id, segment, started_at)
SELECT i, 'b' || i, (ARRAY['smb', 'mid_market', 'enterprise', 'strategic'])[1 + i % 4], now() - interval '2 years'
FROM generate_series(1, $ROWS) AS i;
-- the answers to load, made once: account, time, score, kind
CREATE TABLE bench.answer AS
SELECT (1 + (j::bigint * 7919 + i) % $ROWS)::bigint AS account_id,
       now() - ((i::bigint * 104729 + j * 13) % (365 * 86400)) * interval '1 second' AS responded_at,
       ((i * 31 + j * 17) % 11)::smallint AS score,
       (ARRAY['relationship', 'transactional', 'milestone'])[1 + (i + j) % 3] AS survey_kind
FROM generate_series(1, $ROWS) AS i, generate_series(1, $ANSWERS) AS j;
-- the same shapes, without triggers or foreign keys
CREATE TABLE bench.nps_plain (LIKE csm.nps_response INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bench.nps_plain DROP COLUMN category, ADD COLUMN category text,
    ADD PRIMARY KEY (account_id, response_id);
CREATE TABLE bench.loop_plain (LIKE csm.nps_loop INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (account_id, response_id));
SQL
sql -c 'VACUUM (FREEZE, ANALYZE) csm.account' -c 'VACUUM (FREEZE, ANALYZE) bench.answer'

declare -A runs
record() { runs[$1]+="$2 "; echo "run $1 $2 s"; }

if want ingest; then
    for r in $(seq "$REPEATS"); do
        sql -c 'TRUNCATE csm.nps_response CASCADE' -c 'TRUNCATE bench.nps_plain, bench.loop_plain' -c 'CHECKPOINT'
        record ingest_csm "$(elapsed 'INSERT INTO csm.nps_response (account_id, responded_at, score, survey_kind)
            SELECT account_id, responded_at, score, survey_kind FROM bench.answer')"
        record ingest_bare "$(elapsed "INSERT INTO bench.nps_plain (account_id, response_id, responded_at, score, survey_kind, category)
            SELECT account_id, row_number() OVER (), responded_at, score, survey_kind,
                   CASE WHEN score >= 9 THEN 'promoter' WHEN score >= 7 THEN 'passive' ELSE 'detractor' END
            FROM bench.answer")"
        record ingest_bare_loop "$(elapsed "INSERT INTO bench.loop_plain (account_id, response_id, opened_at, notify_due_at, followup_due_at)
            SELECT account_id, response_id, responded_at, responded_at + interval '24 hours', responded_at + interval '48 hours'
            FROM bench.nps_plain")"
    done
fi

if want summary; then
    if [ "$(sql -c 'SELECT count(*) FROM csm.nps_response')" = 0 ]; then
        sql -c 'INSERT INTO csm.nps_response (account_id, responded_at, score, survey_kind)
                SELECT account_id, responded_at, score, survey_kind FROM bench.answer'
    fi
    sql -c 'VACUUM ANALYZE csm.nps_response' -c 'VACUUM ANALYZE csm.nps_loop'
    hand="SELECT count(*) AS responses, count(*) FILTER (WHERE r.score >= 9) AS promoters,
                 count(*) FILTER (WHERE r.score BETWEEN 7 AND 8) AS passives, count(*) FILTER (WHERE r.score <= 6) AS detractors,
                 round(100.0 * (count(*) FILTER (WHERE r.score >= 9) - count(*) FILTER (WHERE r.score <= 6)) / nullif(count(*), 0), 1) AS nps
          FROM csm.nps_response r JOIN csm.account a ON a.account_id = r.account_id
          WHERE r.responded_at >= (current_date - 89)::timestamp AT TIME ZONE 'UTC'
            AND r.responded_at < (current_date + 1)::timestamp AT TIME ZONE 'UTC'"
    ours="SELECT responses, promoters, passives, detractors, nps FROM csm.nps_summary(current_date - 89, current_date)"
    if [ "$(sql -c "$hand")" != "$(sql -c "$ours")" ]; then
        echo "check FAILED: nps_summary $(sql -c "$ours") hand-written $(sql -c "$hand")"; failed=1
    else
        echo "check ok: nps_summary = hand-written query ($(sql -c "$ours"))"
    fi
    month_hand="SELECT count(*) FROM (SELECT date_trunc('month', r.responded_at AT TIME ZONE 'UTC'), a.segment, count(*),
                       count(*) FILTER (WHERE r.score >= 9), count(*) FILTER (WHERE r.score <= 6)
                FROM csm.nps_response r JOIN csm.account a ON a.account_id = r.account_id GROUP BY 1, 2) x"
    for r in $(seq "$REPEATS"); do
        record summary_csm "$(elapsed "$ours")"
        record summary_hand "$(elapsed "$hand")"
        record monthly_csm "$(elapsed 'SELECT count(*) FROM csm.nps_monthly')"
        record monthly_hand "$(elapsed "$month_hand")"
    done
fi

med() { tr ' ' '\n' <<<"${runs[$1]:-}" | grep . | median; }
echo "== summary (medians of $REPEATS; the machine may be shared: ratios, measured in this run, are what to read)"
if want ingest; then
    bare2=$(add "$(med ingest_bare)" "$(med ingest_bare_loop)")
    echo "ingest: csm.nps_response $(secs "$(med ingest_csm)") s, bare insert $(secs "$(med ingest_bare)") s" \
         "($(ratio "$(med ingest_csm)" "$(med ingest_bare)")x), bare inserts of answer and follow-up $(secs "$bare2") s ($(ratio "$(med ingest_csm)" "$bare2")x)"
fi
if want summary; then
    echo "nps_summary: $(secs "$(med summary_csm)") s, hand-written single pass $(secs "$(med summary_hand)") s ($(ratio "$(med summary_csm)" "$(med summary_hand)")x)"
    echo "nps_monthly: $(secs "$(med monthly_csm)") s, bare GROUP BY $(secs "$(med monthly_hand)") s ($(ratio "$(med monthly_csm)" "$(med monthly_hand)")x)"
fi
exit $failed
