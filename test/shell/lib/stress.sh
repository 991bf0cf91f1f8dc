# Sourced by the pgbench stress tests in test/shell (test/run.sh runs only
# test/shell/*.sh, not this folder): a fresh database, and the server's
# deadlock count, so that every test asserts "no deadlock" the same way.

# fresh_db DB: drops DB if it exists and creates it empty.
fresh_db() {
    dropdb --if-exists "$1" >/dev/null
    createdb "$1"
}

# deadlocks DB: the deadlocks pg_stat_database has counted in DB.
deadlocks() {
    psql -AtX -d "$1" -c "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
}

# no_new_deadlocks DB BEFORE: prints "not ok" and fails when DB's count grew
# past BEFORE, after a moment for the pgbench backends' statistics to arrive.
no_new_deadlocks() {
    local after
    sleep 1
    after=$(deadlocks "$1")
    [ "$after" = "$2" ] || { echo "not ok - $((after - $2)) deadlocks"; return 1; }
}

# q ARGS: psql on the test's database $db, stopping at the first error.
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# expect WHAT WANT SQL: one "ok" or "not ok" line, comparing SQL's one value to
# WANT; a "not ok" sets the test's $failed.
expect() {
    local got
    got=$(q -c "$3")
    if [ "$got" = "$2" ]; then
        echo "ok - $1"
    else
        echo "not ok - $1: got '$got', want '$2'"
        failed=1
    fi
}

# expect_member_load WHAT: one "ok" or "not ok" line, whether csm_internal.member_load
# equals a recount (accounts, primaries, load) from csm.account_assignment.
expect_member_load() {
    expect "$1" 0 "
        SELECT count(*)
        FROM csm_internal.member_load l
        FULL JOIN (SELECT x.member_id, count(*) AS accounts, count(*) FILTER (WHERE x.is_primary) AS primaries,
                          sum(x.load) AS load
                   FROM csm.account_assignment x WHERE x.ended_at IS NULL GROUP BY x.member_id) r
          ON r.member_id = l.member_id
        WHERE l.member_id IS NULL
           OR l.accounts <> coalesce(r.accounts, 0) OR l.primaries <> coalesce(r.primaries, 0)
           OR abs(l.load - coalesce(r.load, 0)) > 1e-6"
}

# show_failures LOG DB: what pgbench (run with --verbose-errors) said of its
# first failed transactions, as comments: for a deadlock, which locks each
# process waited for and, in the CONTEXT lines, the statement that waited;
# then the names of the relations those lines give by number.
show_failures() {
    local shown oids
    shown=$(grep -A 14 -m 3 -E 'failure|ERROR' "$1" || true)
    printf '%s\n' "$shown" | sed 's/^/# /'
    oids=$(printf '%s\n' "$shown" | grep -oE 'relation [0-9]+' | awk '{ print $2 }' | sort -u | paste -sd, -)
    [ -z "$oids" ] || psql -AtX -d "$2" -c "SELECT '# relation ' || c.oid || ' is ' || c.oid::regclass FROM pg_class c WHERE c.oid IN ($oids)"
}
