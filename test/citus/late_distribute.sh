#!/usr/bin/env bash
# What went wrong when csm was distributed after it was used, written to
# from a worker, or its models edited by multi-row statements. In database
# csm_citus_late on every node:
#
#  1. One session uses csm on the coordinator before csm.distribute() (a
#     csm_assign), then distributes it and assigns again. csm's C code asks
#     once per transaction whether csm is distributed: the second
#     assignment takes the cluster's ownership lock, which sets
#     citus.multi_shard_modify_mode to sequential for the transaction. (It
#     used to ask once per backend, and went on as on a single node.)
#  2. Rows inserted on a worker (Citus lets a client query the distributed
#     tables from any node; a trigger on a shard inserts on the shard's
#     node) get ids no other node hands out: csm.distribute() gives each
#     worker's identity sequences a range of their own (node group g from
#     g * 2^48 + 1). They used to start at 1 on every node: duplicate keys.
#     A second csm.distribute() leaves the ranges as they are.
#  3. Health models edited by multi-row INSERT ... SELECT (see
#     test/pgtap/health_model_edit.sql): the version bumps once per
#     transaction, and every node's copy of the model tables is the same.
#
# Run by test/citus/run.sh with PGHOST, PGPORT (the coordinator), PGUSER and
# CITUS_WORKER_PORTS set; drops the database at the end.
set -euo pipefail
db=csm_citus_late
ports="$PGPORT $CITUS_WORKER_PORTS"
set -- $CITUS_WORKER_PORTS
w1=$1 w2=$2
failed=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   want: $2"; echo "#    got: $3"; fi; }
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$db" "$@"; }
drop_db() {
    for p in $ports; do
        psql -qX -p "$p" -d postgres -c 'SET client_min_messages = warning' \
            -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    done
}
trap drop_db EXIT
drop_db
for p in $ports; do
    PGOPTIONS='-c client_min_messages=warning' createdb -p "$p" "$db"
    psql -qX -p "$p" -d "$db" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION citus'
done
q -c "SELECT citus_set_coordinator_host('127.0.0.1', $PGPORT)" \
  -c "SELECT citus_add_node('127.0.0.1', $w1)" -c "SELECT citus_add_node('127.0.0.1', $w2)" >/dev/null

# 1. One session: assign, distribute, assign.
got=$(q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION csm;
INSERT INTO csm.team_member (handle) VALUES ('ann'), ('bob');
INSERT INTO csm.account (external_id) SELECT 'org_' || i FROM generate_series(1, 4) i;
SELECT (csm.csm_assign('org_1', 'ann')).assignment_success;
SELECT count(*) > 0 FROM csm.distribute();
BEGIN;
SELECT (csm.csm_assign('org_2', 'bob')).assignment_success;
SELECT current_setting('citus.multi_shard_modify_mode');
COMMIT;
SELECT (csm.csm_auto_assign('org_3')).org_user_id;
SQL
)
expect "one session: csm_assign before csm.distribute(), and after it under the cluster's ownership lock" \
    "t t t sequential org_3" "$(echo $got)"
expect "the assignments are there, one primary each" "org_1=ann org_2=bob" \
    "$(q -c "SELECT string_agg(external_id || '=' || handle, ' ' ORDER BY external_id) FROM csm.assignment WHERE is_primary")"

# 2. Identity sequences: inserts on the coordinator, then on each worker.
q -c "INSERT INTO csm.nps_response (account_id, responded_at, score)
      SELECT account_id, now(), 9 FROM csm.account WHERE external_id IN ('org_1', 'org_2')" \
  -c "INSERT INTO csm.account_note (account_id, body) SELECT account_id, 'from the coordinator' FROM csm.account WHERE external_id = 'org_1'"
for p in $w1 $w2; do
    out=$(psql -qAtX -p "$p" -d "$db" -v ON_ERROR_STOP=1 \
        -c "INSERT INTO csm.nps_response (account_id, responded_at, score)
            SELECT account_id, now(), 7 FROM csm.account WHERE external_id IN ('org_1', 'org_2')" \
        -c "INSERT INTO csm.account_note (account_id, body) SELECT account_id, 'from a worker' FROM csm.account WHERE external_id = 'org_1'" \
        -c "INSERT INTO csm.account (external_id) VALUES ('org_w$p')" 2>&1) || true
    expect "inserts on the worker on port $p: NPS answers, notes and an account, no duplicate key" "" "$out"
done
expect "every NPS answer has an id of its own" "6|6" "$(q -c "SELECT count(*) || '|' || count(DISTINCT response_id) FROM csm.nps_response")"
expect "every note has an id of its own" "3|3" "$(q -c "SELECT count(*) || '|' || count(DISTINCT note_id) FROM csm.account_note")"
expect "every account has an id of its own" "6|6" "$(q -c "SELECT count(*) || '|' || count(DISTINCT account_id) FROM csm.account")"
expect "each worker's identity sequences have their own range (node group g: g * 2^48 + 1 ..)" "t" "$(q -c "
    SELECT bool_and(r.success AND r.result = 'ok') FROM run_command_on_workers(\$\$
        SELECT CASE WHEN bool_and(s.min_value = g.groupid * CASE s.data_type WHEN 'bigint'::regtype THEN 2^48 ELSE 2^24 END + 1)
                    THEN 'ok' ELSE string_agg(s.sequencename || ' ' || s.min_value, ', ') END
        FROM pg_sequences s, pg_dist_local_group g
        WHERE s.schemaname IN ('csm', 'csm_internal') AND s.sequencename NOT LIKE '%pick_seq'\$\$) r")"
expect "a second csm.distribute() changes nothing" "0" "$(q -c "SELECT count(*) FILTER (WHERE changed) FROM csm.distribute()")"
expect "and the workers' sequences go on where they were" "t" "$(q -c "
    SELECT bool_and(r.success AND r.result::numeric > 2^48) FROM run_command_on_workers(
        'SELECT last_value FROM csm.nps_response_response_id_seq') r")"

# 3. Health models edited with multi-row INSERT ... SELECT, committed (the
#    pgTAP file test/pgtap/health_model_edit.sql checks the same inside one
#    transaction): every copy of the reference tables the same afterwards.
q >/dev/null <<'SQL'
BEGIN;
INSERT INTO csm.health_model (name) VALUES ('late');
INSERT INTO csm.health_component (model, metric, weight, green, red)
SELECT 'late', 'metric_' || i, i, 10, 5 FROM generate_series(1, 3) i;
COMMIT;
INSERT INTO csm.health_component (model, metric, weight, green, red)
SELECT 'late', 'more_' || i, 1, 10, 5 FROM generate_series(1, 2) i;
BEGIN;
INSERT INTO csm.health_component (model, metric, weight, green, red)
SELECT 'late', 'last_' || i, 1, 10, 5 FROM generate_series(1, 2) i;
UPDATE csm.health_component SET weight = weight + 1 WHERE model = 'late';
COMMIT;
SQL
expect "a model built by INSERT ... SELECT, then edited in two transactions: version 3" "3" \
    "$(q -c "SELECT version FROM csm.health_model WHERE name = 'late'")"
for rel in csm.health_model csm.health_component; do
    expect "every copy of $rel holds the same rows (version, updated_at, bumped_by included)" "3|1" "$(q -c "
        SELECT count(*) || '|' || count(DISTINCT result) FROM run_command_on_placements('$rel',
            'SELECT md5(string_agg(t::text, '','' ORDER BY t::text)) FROM %s t') WHERE success")"
done

if [ "$failed" != 0 ]; then
    echo "not ok - csm distributed late, or written to from a worker: see above"
    exit 1
fi
echo "ok - csm distributed after use in the same session takes the cluster's locks; rows inserted on workers get ids of their own"
