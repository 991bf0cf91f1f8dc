#!/usr/bin/env bash
# Support-conversation benchmark (issue 14, section 6):
#
#   route    N conversations inserted in one statement into a round-robin
#            team and into a skills team (each routed on insert, per row,
#            to one of 40 agents), against a bare INSERT of the same rows
#            into a table of the same shape without csm's triggers (the
#            floor), and the skills team against round robin.
#   perf     csm.agent_performance (each agent credited with their own part,
#            from the log) against the 0.1.0 formula (final assignee only,
#            inline SQL) over the same conversations, after a third of them
#            were handed over once.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER.  Prints one "run" line
# per timed run and a summary of ratios (best of BENCH_REPEATS).  Ratios are
# reported, never asserted.
#
# Knobs (environment): BENCH_CONVERSATIONS (20000: routing is per row), BENCH_ACCOUNTS
# (1000000: the accounts the conversations are spread over), BENCH_REPEATS
# (3), BENCH_SUPPORT_DB (csm_bench_support), BENCH_KEEP=1 keeps the database.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${BENCH_CONVERSATIONS:-20000}
ACCOUNTS=${BENCH_ACCOUNTS:-1000000}
REPEATS=${BENCH_REPEATS:-3}
DB=${BENCH_SUPPORT_DB:-csm_bench_support}
export PGOPTIONS='-c client_min_messages=warning -c max_parallel_workers_per_gather=0'

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
# best of REPEATS: run SETUP (untimed), then time BODY; prints seconds
best() {
    local label=$1 setup=$2 body=$3 b= t
    for _ in $(seq "$REPEATS"); do
        q -c "$setup" >/dev/null
        t=$(q -c '\timing on' -c "$body" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
        echo "run $label ${t} ms" >&2
        if [ -z "$b" ] || awk -v a="$t" -v b="$b" 'BEGIN { exit !(a < b) }'; then b=$t; fi
    done
    echo "$b"
}

dropdb --if-exists "$DB"
createdb "$DB"
q -c 'CREATE EXTENSION csm'
q <<SQL
INSERT INTO csm.account (account_id, external_id) SELECT i, 'b' || i FROM generate_series(1, $ACCOUNTS) AS i;
INSERT INTO csm.team_member (handle, teams, status, skills)
SELECT 'agent' || i, ARRAY['rr', 'sk'], 'online',
       (ARRAY['{billing,sso}', '{api,german}', '{integrations,spanish}', '{billing,api}'])[1 + i % 4]::text[]
FROM generate_series(1, 40) AS i;
INSERT INTO csm.support_team (team, strategy) VALUES ('rr', 'round_robin'), ('sk', 'skills');
CREATE TABLE bench_rows AS
SELECT 1 + (i * 7919) % $ACCOUNTS AS account_id, i AS conversation_id,
       (ARRAY['{billing}', '{api}', '{spanish}', '{sso}', '{}'])[1 + i % 5]::text[] AS skills
FROM generate_series(1, $N) AS i;
CREATE TABLE bare (LIKE csm.conversation INCLUDING DEFAULTS);
SQL

clear="TRUNCATE bare; DELETE FROM csm.conversation; UPDATE csm_internal.agent_load SET open_count = 0; ANALYZE csm.conversation"
floor=$(best bare "$clear" "INSERT INTO bare (account_id, conversation_id, team, required_skills) SELECT account_id, conversation_id, 'rr', skills FROM bench_rows")
rr=$(best round_robin "$clear" "INSERT INTO csm.conversation (account_id, conversation_id, team, required_skills) SELECT account_id, conversation_id, 'rr', skills FROM bench_rows")
sk=$(best skills "$clear" "INSERT INTO csm.conversation (account_id, conversation_id, team, required_skills) SELECT account_id, conversation_id, 'sk', skills FROM bench_rows")

# A third handed over once (logged), half answered, a quarter resolved.
q <<SQL
UPDATE csm.conversation c SET assignee = (SELECT m.member_id FROM csm.team_member m WHERE m.handle = 'agent' || (1 + c.conversation_id % 40))
WHERE c.conversation_id % 3 = 0 AND c.assignee <> (SELECT m.member_id FROM csm.team_member m WHERE m.handle = 'agent' || (1 + c.conversation_id % 40));
UPDATE csm.conversation SET first_response_at = now() WHERE conversation_id % 2 = 0;
UPDATE csm.conversation SET status = 'resolved', csat = 1 + conversation_id % 5 WHERE conversation_id % 4 = 0;
ANALYZE csm.conversation;
ANALYZE csm.assignment_log;
SQL
old_view="SELECT count(*) FROM (SELECT m.member_id, count(c.conversation_id), count(c.conversation_id) FILTER (WHERE c.status <> 'resolved'),
    count(c.conversation_id) FILTER (WHERE c.status = 'resolved'),
    percentile_cont(0.5) WITHIN GROUP (ORDER BY c.first_response_at - c.assigned_at) FILTER (WHERE c.first_response_at >= c.assigned_at),
    round(avg(c.csat), 2), count(c.csat)
    FROM csm.team_member m LEFT JOIN csm.conversation c ON c.assignee = m.member_id GROUP BY m.member_id) x"
old=$(best perf_0.1.0 "SELECT 1" "$old_view")
new=$(best agent_performance "SELECT 1" "SELECT count(*) FROM (SELECT * FROM csm.agent_performance) x")

echo
echo "support: $N conversations over $ACCOUNTS accounts, 40 agents (best of $REPEATS; the machine may be shared)"
awk -v f="$floor" -v r="$rr" -v s="$sk" -v o="$old" -v n="$new" 'BEGIN {
    printf "  route: bare insert %.0f ms, round_robin %.0f ms (%.1fx the floor), skills %.0f ms (%.1fx the floor, %.2fx round_robin)\n", f, r, r / f, s, s / f, s / r;
    printf "  agent_performance: %.0f ms against the 0.1.0 final-assignee view %.0f ms (%.1fx)\n", n, o, n / o }'
[ "${BENCH_KEEP:-0}" = 1 ] || dropdb "$DB"
