#!/usr/bin/env bash
# csm.distribute() on a database whose csm already holds data: accounts,
# members, assignments, usage rollups, health scores, NPS and notes are
# loaded while csm is still local to the coordinator, then distribute() runs.
# Nothing is lost (each table's row count and checksum are equal before and
# after), every foreign key and trigger is kept (on the shards too), inserts
# on the coordinator get fresh ids, a second call changes nothing, a worker
# refuses (55000), a csm admin who is not a superuser is refused (42501), and
# DROP EXTENSION csm leaves no shard behind.
#
# Run by test/citus/run.sh with PGHOST, PGPORT (the coordinator), PGUSER and
# CITUS_WORKER_PORTS set; makes database csm_citus_distribute on every node
# and drops it.
set -euo pipefail
db=csm_citus_distribute
ports="$PGPORT $CITUS_WORKER_PORTS"
failed=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   want: $2"; echo "#    got: $3"; fi; }
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$db" "$@"; }
# sqlstate PORT SQL: the SQLSTATE SQL fails with on that node, or "none"
sqlstate() {
    local out
    if out=$(psql -qAtX -v VERBOSITY=verbose -p "$1" -d "$db" -c "$2" 2>&1); then echo none; return; fi
    sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' <<<"$out" | head -n 1
}
drop_db() {
    for p in $ports; do
        psql -qX -p "$p" -d postgres -c 'SET client_min_messages = warning' \
            -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    done
    psql -qX -d postgres -c 'SET client_min_messages = warning' -c 'DROP ROLE IF EXISTS csm_dist_admin' >/dev/null
}
trap drop_db EXIT
drop_db
for p in $ports; do
    PGOPTIONS='-c client_min_messages=warning' createdb -p "$p" "$db"
    psql -qX -p "$p" -d "$db" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION citus'
done
set -- $CITUS_WORKER_PORTS
q -c "SELECT citus_set_coordinator_host('127.0.0.1', $PGPORT)" \
  -c "SELECT citus_add_node('127.0.0.1', $1)" -c "SELECT citus_add_node('127.0.0.1', $2)" >/dev/null

# csm on the coordinator alone, with data in every kind of table.
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION csm;
INSERT INTO csm.team_member (handle, roles, teams, capacity)
SELECT 'member_' || i, '{csm}', '{enterprise}', 500 FROM generate_series(1, 5) AS i;
INSERT INTO csm.account (external_id, segment, arr, seats, renewal_date, started_at)
SELECT 'org_' || i, (ARRAY['smb', 'mid_market', 'enterprise'])[1 + i % 3], 1000 * i, 5 + i % 40,
       DATE '2027-01-01' + i, TIMESTAMPTZ '2025-01-01' + i * interval '1 day'
FROM generate_series(1, 300) AS i;
SELECT count(csm.csm_assign('org_' || i, 'member_' || (1 + i % 5))) FROM generate_series(1, 200) AS i;
CREATE TABLE public.events (org text NOT NULL, member text, feature text, at timestamptz NOT NULL);
SELECT csm.track_usage('public.events', 'org', 'at', 'feature', 'member');
INSERT INTO public.events
SELECT 'org_' || (1 + i % 250), 'u' || (i % 17), 'f' || (i % 6), TIMESTAMPTZ '2026-11-01' + (i % 30) * interval '1 day'
FROM generate_series(1, 5000) AS i;
SELECT csm.refresh_health();
INSERT INTO csm.nps_response (account_id, score, responded_at)
SELECT account_id, account_id % 11, TIMESTAMPTZ '2026-10-01' FROM csm.account WHERE account_id % 4 = 0;
INSERT INTO csm.account_note (account_id, body)
SELECT account_id, 'note on ' || external_id FROM csm.account WHERE account_id % 5 = 0;
SQL

# every csm table's rows, in one line per table
checksums="SELECT string_agg(format('%s %s', d.relation, x.sum), ' ' ORDER BY d.relation::text)
FROM csm_internal._distribution() d,
LATERAL (SELECT (xpath('/row/c/text()', query_to_xml(format(
    'SELECT count(*) || '':'' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), '''') AS c FROM %s t',
    d.relation), false, false, '')))[1]::text AS sum) x"
fks="SELECT string_agg(format('%s.%s %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)), '; '
         ORDER BY c.conrelid::regclass::text, c.conname)
FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid IN (SELECT relation FROM csm_internal._distribution())"
# the foreign keys the cluster keeps: all but those of conversation and
# agent_load to team_member, which csm_internal._distribute_conversations() drops on
# purpose (README, "Growing past one machine")
fks_kept="$fks AND (c.conrelid, c.conname) NOT IN (('csm_internal.agent_load'::regclass, 'agent_load_member_fkey'),
    ('csm.conversation'::regclass, 'conversation_assignee_fkey'),
    ('csm.conversation'::regclass, 'conversation_previous_assignee_fkey'))"
# csm's triggers before distribute(), which may add triggers of its own
q -c "CREATE TABLE public.triggers_before AS
      SELECT t.tgrelid::regclass::text AS rel, t.tgname, t.tgenabled FROM pg_trigger t
      WHERE NOT t.tgisinternal AND t.tgrelid IN (SELECT relation FROM csm_internal._distribution())"
triggers_lost="SELECT string_agg(format('%s.%s %s', b.rel, b.tgname, b.tgenabled), '; ' ORDER BY b.rel, b.tgname)
FROM public.triggers_before b
WHERE NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = b.rel::regclass AND t.tgname = b.tgname
                                             AND t.tgenabled = b.tgenabled)"
counts="SELECT (SELECT count(*) FROM csm.account) || ' accounts, ' || (SELECT count(*) FROM csm.account_assignment)
  || ' assignments, ' || (SELECT count(*) FROM csm_internal.usage_counter) + (SELECT count(*) FROM csm_internal.usage_delta)
  || ' usage rows, ' || (SELECT count(*) FROM csm.health_score) || ' health scores'"
sums_before=$(q -c "$checksums")
fks_before=$(q -c "$fks_kept")
counts_before=$(q -c "$counts")
max_account=$(q -c 'SELECT max(account_id) FROM csm.account')
echo "# before: $counts_before"

expect "a csm admin who is not a superuser is refused (42501)" 42501 \
    "$(sqlstate "$PGPORT" "CREATE ROLE csm_dist_admin LOGIN; SELECT csm.grant_access('csm_dist_admin', 'admin');
                          SET ROLE csm_dist_admin; SELECT * FROM csm.distribute()")"
expect "and nothing was distributed" 0 "$(q -c "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'csm.%'")"
expect "a worker refuses (55000)" 55000 "$(sqlstate "$1" 'SELECT * FROM csm.distribute()')"

out=$(q -c "SELECT count(*) FILTER (WHERE changed) || ' of ' || count(*) FROM csm.distribute()")
expect "distribute() places every table" "$(q -c "SELECT count(*) || ' of ' || count(*) FROM csm_internal._distribution()")" "$out"
expect "every table is placed as listed" "" "$(q -c "
    SELECT string_agg(d.relation::text, ', ') FROM csm_internal._distribution() d
    LEFT JOIN pg_dist_partition p ON p.logicalrelid = d.relation
    WHERE p.logicalrelid IS NULL
       OR (d.kind = 'reference') <> (p.partmethod = 'n' AND p.repmodel = 't')
       OR (d.kind = 'account' AND column_to_column_name(p.logicalrelid, p.partkey) <> 'account_id')")"
expect "the tables distributed by account are colocated" 1 "$(q -c "
    SELECT count(DISTINCT p.colocationid) FROM csm_internal._distribution() d
    JOIN pg_dist_partition p ON p.logicalrelid = d.relation WHERE d.kind = 'account'")"
expect "no row lost or changed" "$sums_before" "$(q -c "$checksums")"
expect "the same counts" "$counts_before" "$(q -c "$counts")"
expect "every foreign key kept (but the conversation ones to team_member)" "$fks_before" "$(q -c "$fks")"
expect "every trigger kept, enabled as before" "" "$(q -c "$triggers_lost")"
# run_command_on_placements: the number of user triggers of each shard.
expect "every shard has its table's triggers" "" "$(q -c "
    SELECT string_agg(DISTINCT d.relation::text, ', ')
    FROM csm_internal._distribution() d,
    LATERAL run_command_on_placements(d.relation,
        'SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = ''%s''::regclass') r
    WHERE NOT r.success
       OR r.result::bigint <> (SELECT count(*) FROM pg_trigger t WHERE NOT t.tgisinternal AND t.tgrelid = d.relation)")"
expect "the coordinator keeps no stale local rows" 0 "$(q -c "
    SELECT count(*) FROM csm_internal._distribution() d, LATERAL (SELECT (xpath('/row/n/text()', query_to_xml(format(
        'SELECT count(*) AS n FROM ONLY %s', d.relation), false, false, '')))[1]::text::bigint AS n) x
    WHERE x.n > 0" -c "SET citus.enable_local_execution = off" 2>/dev/null | head -n 1)"
expect "a foreign key is enforced on the cluster (23503)" 23503 \
    "$(sqlstate "$PGPORT" "INSERT INTO csm.account_note (account_id, body) VALUES (-1, 'nobody')")"

# Identity columns: the coordinator's sequences continue after the loaded rows.
q -c "INSERT INTO csm.account (external_id) SELECT 'new_' || i FROM generate_series(1, 20) AS i" \
  -c "INSERT INTO csm.account_note (account_id, body) SELECT account_id, 'after' FROM csm.account WHERE external_id LIKE 'new_%'" \
  -c "INSERT INTO csm.nps_response (account_id, score, responded_at) SELECT account_id, 7, now() FROM csm.account WHERE external_id LIKE 'new_%'"
expect "new accounts get ids after the loaded ones" "20 true" \
    "$(q -c "SELECT count(*) || ' ' || (min(account_id) > $max_account) FROM csm.account WHERE external_id LIKE 'new_%'")"
expect "account ids stay unique" 0 "$(q -c 'SELECT count(*) - count(DISTINCT account_id) FROM csm.account')"
expect "note and NPS ids stay unique" "0 0" "$(q -c "SELECT (SELECT count(*) - count(DISTINCT note_id) FROM csm.account_note)
    || ' ' || (SELECT count(*) - count(DISTINCT response_id) FROM csm.nps_response)")"
sums_before=$(q -c "$checksums")

expect "a second call changes nothing" "0 of $(q -c 'SELECT count(*) FROM csm_internal._distribution()')" \
    "$(q -c "SELECT count(*) FILTER (WHERE changed) || ' of ' || count(*) FROM csm.distribute()")"
expect "and loses nothing" "$sums_before" "$(q -c "$checksums")"
expect "and keeps the same foreign keys" "$fks_before" "$(q -c "$fks")"

# Citus would leave the shards of an extension's tables behind
# (src/distribute.c): none may stay, on any node.
expect "DROP EXTENSION csm CASCADE succeeds" none "$(sqlstate "$PGPORT" 'DROP EXTENSION csm CASCADE')"
left=""
for p in $ports; do
    left="$left $(psql -qAtX -p "$p" -d "$db" -c 'SET citus.override_table_visibility = off' \
        -c "SELECT count(*) FROM pg_class WHERE relnamespace = to_regnamespace('csm')")"
done
expect "and leaves no csm table or shard on any node" " 0 0 0" "$left"

echo "1..$n"
exit $failed
