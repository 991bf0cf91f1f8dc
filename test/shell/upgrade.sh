#!/usr/bin/env bash
# Every upgrade path, from every released version (test/upgrade/releases,
# each with its frozen install script src/updates/csm--V.sql) to
# csm.control's default_version:
#   0. the frozen script is what the release's commit builds (when git
#      history is here), and PostgreSQL has an update path from it;
#   1. a database gets the released version from its frozen script;
#   2. the demo portfolio is loaded through that version's API
#      (test/upgrade/demo-V.sql) with that version's own library, built from
#      its commit and put in place of csm.so for the load, as a package of
#      that release would have it (skipped without git history or write
#      access to the library directory: said so, and steps 3-4 then run on
#      the released schema without the demo);
#   3. ALTER EXTENSION csm UPDATE runs while pgbench inserts into the demo's
#      tracked table (csm_demo.events) with the new library, as during a
#      package upgrade; no insert fails;
#   4. every user-data table of the released version (its
#      pg_extension_config_dump list) has the same rows before and after, in
#      the columns it had (new columns are extra), and after a fold the
#      rollups equal counts over the event table (the rows pgbench added too);
#   5. pg_dump --schema-only of csm in the upgraded database equals a fresh
#      install's, and so do the extension's members, its dump list and the
#      event triggers.  Documented differences: none (the steps in
#      src/updates/ add columns in 0.2.0's order, so no normalisation is
#      needed; write any new one here, with its reason, as a sed rule);
#   and the update of an empty database gives the same schema with a
#   hostile schema first on search_path (test/hostile/schema.sql), and the
#   same built-in rows as a fresh install;
#   every C function of the released script finds its symbol in this
#   csm.so (fmgr_c_validator);
#   6. the pg_regress suite passes against an upgraded empty database
#      (make installcheck-upgraded).
set -euo pipefail
cd "$(dirname "$0")/../.."
# (jit off: for a while csm.so is another release's, its bitcode is not)
caller_pgoptions=${PGOPTIONS:-}
export PGOPTIONS="$caller_pgoptions -c client_min_messages=warning -c jit=off"
fail() { echo "upgrade: FAILED: $*" >&2; exit 1; }
pg_config=${PG_CONFIG:-$(ls /usr/lib/postgresql/"${PG_MAJOR:-15}"/bin/pg_config 2>/dev/null || echo pg_config)}
libdir=$("$pg_config" --pkglibdir)
current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" csm.control)
tmp=$(mktemp -d)
saved_lib=""
restore_lib() {
    if [ -n "$saved_lib" ]; then
        install -m 755 "$saved_lib" "$libdir/csm.so"
        saved_lib=""
    fi
}
trap 'restore_lib; rm -rf "$tmp"' EXIT
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# The schema of csm in DB as pg_dump writes it when csm is not an extension
# (pg_dump leaves an extension's members out): dumped from a throwaway copy
# whose membership rows are removed.
schema_of() {
    local db=$1 copy=${1}_unpacked
    dropdb --if-exists "$copy" >/dev/null 2>&1
    createdb -T "$db" "$copy"
    q -d "$copy" -c "DELETE FROM pg_catalog.pg_depend WHERE (refclassid, refobjid) = ('pg_extension'::regclass, (SELECT oid FROM pg_extension WHERE extname = 'csm')) OR (classid, objid) = ('pg_extension'::regclass, (SELECT oid FROM pg_extension WHERE extname = 'csm'))" \
        -c "DELETE FROM pg_catalog.pg_extension WHERE extname = 'csm'"
    # \restrict lines carry a random key
    pg_dump --schema-only --schema=csm "$copy" | grep -v '^\\\(un\)\?restrict '
    dropdb "$copy"
}
# What else CREATE EXTENSION / ALTER EXTENSION leaves: members, the dump list,
# event triggers.
extension_of() {
    q -d "$1" -c "SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'csm') AND deptype = 'e' ORDER BY 1" \
        -c "SELECT c::regclass::text || ' ' || coalesce(w, '') FROM pg_extension, unnest(extconfig, extcondition) AS u(c, w) WHERE extname = 'csm' ORDER BY 1" \
        -c "SELECT evtname || ' ' || evtevent || ' ' || evtenabled::text || ' ' || evtfoid::regproc::text FROM pg_event_trigger ORDER BY 1"
}

# Rows of each user-data table of the released version, in its columns and
# as its dump condition selects them (built-in rows are csm's, compared
# below): table, count, md5 of the rows' text in order.  $2: file of
# "table|col,col|condition".
table_sums() {
    local db=$1 cols=$2 t c w rel
    while IFS='|' read -r t c w; do
        # 0.2.0 keeps csm's internal tables in csm_internal: the same table
        rel=$(q -d "$db" -c "SELECT coalesce(to_regclass('$t'), to_regclass(replace('$t', 'csm.', 'csm_internal.')))::oid::regclass::text")
        q -d "$db" -c "SELECT '$t', count(*), md5(coalesce(string_agg(r, E'\n' ORDER BY r), '')) FROM (SELECT ROW($c)::text AS r FROM $rel $w) s"
    done < "$cols"
}

# Every row of every csm table, but for the columns that say when (a fresh
# install's built-in rows against an upgraded empty database's).
rows_of() {
    local t
    for t in $(q -d "$1" -c "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace IN ('csm'::regnamespace, 'csm_internal'::regnamespace) AND c.relkind IN ('r', 'p') ORDER BY c.oid::regclass::text COLLATE \"C\""); do
        q -d "$1" -c "SELECT '$t', x FROM (SELECT to_jsonb(t) - '{created_at,updated_at,bumped_by,tracked_at,status_changed_at,started_at}'::text[] AS x FROM $t t) s ORDER BY x::text"
    done
}

fresh=csm_upgrade_fresh
dropdb --if-exists "$fresh" >/dev/null 2>&1
createdb "$fresh"
q -d "$fresh" -c 'CREATE EXTENSION csm'
schema_of "$fresh" > "$tmp/fresh.schema"
extension_of "$fresh" > "$tmp/fresh.ext"
rows_of "$fresh" > "$tmp/fresh.rows"
[ "$(wc -l < "$tmp/fresh.rows")" -gt 50 ] || fail "a fresh install has $(wc -l < "$tmp/fresh.rows") built-in rows"
dropdb "$fresh"

walked=0
while read -r from commit; do
    case "$from" in ''|'#'*) continue ;; esac
    script=src/updates/csm--$from.sql
    [ -f "$script" ] || fail "$from is released but $script is missing"
    [ -f "test/upgrade/demo-$from.sql" ] || fail "$from is released but test/upgrade/demo-$from.sql is missing"
    echo "== $from -> $current"

    # 0. the frozen script is the release's, and there is a path
    released_lib=""
    if git cat-file -e "$commit^{commit}" 2>/dev/null; then
        mkdir -p "$tmp/$from"
        git archive "$commit" | tar -x -C "$tmp/$from"
        make -s -C "$tmp/$from" PG_CONFIG="$pg_config" "csm--$from.sql" >/dev/null
        cmp -s "$tmp/$from/csm--$from.sql" "$script" || fail "$script is not what $commit builds"
        echo "$script is what $commit builds"
        if [ -w "$libdir/csm.so" ]; then
            make -s -C "$tmp/$from" PG_CONFIG="$pg_config" csm.so >/dev/null 2>&1 || fail "$commit does not build"
            released_lib=$tmp/$from/csm.so
        fi
    fi
    path=$(q -d postgres -c "SELECT path FROM pg_extension_update_paths('csm') WHERE source = '$from' AND target = '$current'")
    [ -n "$path" ] || fail "no update path from $from to $current"
    echo "update path: $path"

    db=csm_upgrade_${from//./_}
    dropdb --if-exists "$db" >/dev/null 2>&1
    createdb "$db"

    # 1-2. the released version, and the demo through its API with its library
    if [ -n "$released_lib" ]; then
        saved_lib=$tmp/csm.so.current
        cp "$libdir/csm.so" "$saved_lib"
        install -m 755 "$released_lib" "$libdir/csm.so"
        q -d "$db" -c "CREATE EXTENSION csm VERSION '$from'"
        q -d "$db" -f "test/upgrade/demo-$from.sql" >/dev/null
        restore_lib
        demo=yes
    else
        echo "SKIP: the demo load needs $from's library, built from $commit (git history and a writable $libdir)"
        q -d "$db" -c "CREATE EXTENSION csm VERSION '$from'"
        demo=no
    fi
    [ "$(q -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'csm'")" = "$from" ] || fail "not at $from"

    # 4 (before). the released version's user-data tables and their columns
    q -d "$db" -c "SELECT c::regclass::text || '|' || string_agg(pg_catalog.quote_ident(a.attname), ',' ORDER BY a.attnum) || '|' || w
                   FROM pg_extension, unnest(extconfig, extcondition) AS u(c, w)
                   JOIN pg_class r ON r.oid = c AND r.relkind IN ('r', 'p')
                   JOIN pg_attribute a ON a.attrelid = c AND a.attnum > 0 AND NOT a.attisdropped
                   WHERE extname = 'csm' GROUP BY c, w ORDER BY 1" > "$tmp/cols"
    table_sums "$db" "$tmp/cols" > "$tmp/before"
    [ -s "$tmp/before" ] || fail "$from has no user-data tables"
    if [ "$demo" = yes ]; then
        events_before=$(q -d "$db" -c "SELECT count(*) FROM csm_demo.events")
        echo "demo loaded: $events_before events; $(awk -F'|' '$2 > 0' "$tmp/before" | wc -l) of $(wc -l < "$tmp/before") user-data tables hold rows"
    fi

    # 3. the update while pgbench inserts into the tracked table (existing
    # accounts' keys, so no account is created)
    if [ "$demo" = yes ]; then
        q -d "$db" -c "SELECT external_id FROM csm.account ORDER BY account_id LIMIT 50" > "$tmp/keys"
        cat > "$tmp/insert.pgb" <<'PGB'
\set k random(1, 50)
\set u random(1, 20)
INSERT INTO csm_demo.events (org_user_id, user_id, event, occurred_at)
SELECT key, 'upgrade_user_' || :u, 'upgrade_event', now() FROM csm_upgrade_key WHERE n = :k;
PGB
        q -d "$db" -c "CREATE TABLE csm_upgrade_key (n int PRIMARY KEY, key text NOT NULL)" \
            -c "INSERT INTO csm_upgrade_key SELECT row_number() OVER (), k FROM unnest(string_to_array('$(paste -sd, "$tmp/keys")', ',')) AS k"
        pgbench -n -c 2 -T 25 -f "$tmp/insert.pgb" "$db" > "$tmp/pgbench.out" 2>&1 &
        bench=$!
        sleep 5
        started=$(date +%s)
        q -d "$db" -c 'ALTER EXTENSION csm UPDATE'
        took=$(( $(date +%s) - started ))
        wait "$bench" || { cat "$tmp/pgbench.out"; fail "pgbench failed during the update"; }
        grep -q "number of failed transactions: 0\|^number of transactions actually processed" "$tmp/pgbench.out" || { cat "$tmp/pgbench.out"; fail "pgbench"; }
        inserted=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$tmp/pgbench.out")
        echo "ALTER EXTENSION csm UPDATE under pgbench: took $took s; $inserted inserts, none failed"
    else
        q -d "$db" -c 'ALTER EXTENSION csm UPDATE'
        inserted=0
    fi
    [ "$(q -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'csm'")" = "$current" ] || fail "not at $current after the update"

    # 4 (after). the same rows in the same columns
    table_sums "$db" "$tmp/cols" > "$tmp/after"
    if [ "$demo" = yes ]; then
        # the inserts during the update are the only change: usage deltas
        # not yet folded live in csm_internal.usage_delta, which a fold empties
        diff <(grep -v '^csm\.usage_' "$tmp/before") <(grep -v '^csm\.usage_' "$tmp/after") \
            || fail "user-data rows changed in the update"
    else
        diff "$tmp/before" "$tmp/after" || fail "user-data rows changed in the update"
    fi
    echo "user-data tables: $(wc -l < "$tmp/before") with the same rows in their $from columns"
    if [ "$demo" = yes ]; then
        events_after=$(q -d "$db" -c "SELECT count(*) FROM csm_demo.events")
        [ "$events_after" = $((events_before + inserted)) ] || fail "events: $events_before + $inserted inserted, $events_after there"
        q -d "$db" -c "SELECT csm.compact_usage()" >/dev/null
        bad=$(q -d "$db" <<'SQL'
WITH truth AS (
    SELECT e.org_user_id AS key, (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS events, count(DISTINCT e.user_id) AS active_users
    FROM csm_demo.events e GROUP BY 1, 2
), rolled AS (
    SELECT u.external_id AS key, u.day, u.events, u.active_users
    FROM csm.usage_daily u WHERE u.source = 'csm_demo.events' AND u.events <> 0
), ftruth AS (
    SELECT e.org_user_id AS key, (e.occurred_at AT TIME ZONE 'UTC')::date AS day, e.event AS feature, count(*) AS events
    FROM csm_demo.events e WHERE e.event IS NOT NULL GROUP BY 1, 2, 3
), frolled AS (
    SELECT f.external_id AS key, f.day, f.feature, f.events
    FROM csm.usage_feature_daily f WHERE f.source = 'csm_demo.events' AND f.events <> 0
)
SELECT (SELECT count(*) FROM ((TABLE truth EXCEPT TABLE rolled) UNION ALL (TABLE rolled EXCEPT TABLE truth)) d)
     + (SELECT count(*) FROM ((TABLE ftruth EXCEPT TABLE frolled) UNION ALL (TABLE frolled EXCEPT TABLE ftruth)) d)
SQL
)
        [ "$bad" = 0 ] || fail "$bad rollup rows differ from the event table"
        echo "rollups: usage_daily and usage_feature_daily equal counts over csm_demo.events ($events_after events)"
    fi

    # 5. the same schema as a fresh install
    schema_of "$db" > "$tmp/upgraded.schema"
    diff -u "$tmp/fresh.schema" "$tmp/upgraded.schema" > "$tmp/schema.diff" || { head -100 "$tmp/schema.diff"; fail "the upgraded schema differs from a fresh install's"; }
    extension_of "$db" > "$tmp/upgraded.ext"
    diff -u "$tmp/fresh.ext" "$tmp/upgraded.ext" || fail "the upgraded extension's members, dump list or event triggers differ from a fresh install's"
    echo "pg_dump --schema-only: $(wc -l < "$tmp/fresh.schema") lines, as a fresh install's; members, dump list and event triggers too"
    dropdb "$db"

    # the update does not depend on the caller's search_path: a hostile
    # schema first on it (test/hostile/schema.sql) changes nothing
    hostile=csm_upgrade_hostile
    dropdb --if-exists "$hostile" >/dev/null 2>&1
    createdb "$hostile"
    q -d "$hostile" -f test/hostile/schema.sql -c "ALTER DATABASE $hostile SET search_path = public, hostile" >/dev/null
    q -d "$hostile" -c "CREATE EXTENSION csm VERSION '$from'"
    # every C function of the released script finds its symbol in this csm.so
    cfuncs=$(q -d "$hostile" -c "SET search_path = pg_catalog" -c "SELECT count(*) FROM pg_proc p, LATERAL fmgr_c_validator(p.oid) v
        WHERE p.pronamespace = 'csm'::regnamespace AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')") \
        || fail "a C function of $from has no symbol in this csm.so"
    q -d "$hostile" -c 'ALTER EXTENSION csm UPDATE' || fail "the update fails with a hostile schema on search_path"
    schema_of "$hostile" | diff -q "$tmp/fresh.schema" - >/dev/null || fail "updated with a hostile search_path, the schema differs"
    # and the upgraded empty database has a fresh install's built-in rows
    q -d "$hostile" -c "ALTER DATABASE $hostile RESET search_path"
    rows_of "$hostile" | diff -u "$tmp/fresh.rows" - || fail "the built-in rows of an upgraded database differ from a fresh install's"
    dropdb "$hostile"
    echo "$from's $cfuncs C functions load from this csm.so"
    echo "with a hostile schema first on search_path: the same update, the same schema; $(wc -l < "$tmp/fresh.rows") built-in rows as a fresh install's"

    # 6. the suite against an upgraded empty database
    PGOPTIONS=$caller_pgoptions make -s installcheck-upgraded PG_CONFIG="$pg_config" UPGRADE_FROM="$from" > "$tmp/regress.out" 2>&1 \
        || { tail -30 "$tmp/regress.out"; fail "the pg_regress suite fails on a database upgraded from $from (output_upgraded/)"; }
    grep -E "tests passed|All [0-9]+ tests" "$tmp/regress.out" || tail -3 "$tmp/regress.out"
    walked=$((walked + 1))
done < test/upgrade/releases
[ "$walked" -gt 0 ] || fail "no released version in test/upgrade/releases"
echo "upgrade: $walked path(s) to $current walked"
