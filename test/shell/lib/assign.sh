# Sourced by the assignment stress tests, on one node (test/shell/assign_stress.sh)
# and on a Citus cluster (test/citus/assign_stress.sh), after lib/stress.sh:
# running pgbench and the invariants every run keeps.  The queries are the
# kind Citus plans (no correlated subquery over a reference table), so both
# ask the same questions.  Uses $db, $work, $failed, and $book_view: a view
# of every member's current primaries (member_id, handle, teams, capacity,
# accounts), book when unset.

# run_pgbench NAME CLIENTS TRANSACTIONS SCRIPT: runs it, prints its summary,
# and checks that every transaction succeeded and no deadlock happened.
run_pgbench() {
    local name=$1 clients=$2 txns=$3 before started failed_txns log=$work/$1.log
    before=$(deadlocks "$db")
    started=$(date +%s.%N)
    if pgbench -n -c "$clients" -j 2 -t "$txns" -f "$4" "$db" >"$log" 2>&1; then
        echo "ok - $name: pgbench ran $clients clients x $txns transactions"
    else
        cat "$log"
        echo "not ok - $name: pgbench failed"
        failed=1
    fi
    echo "# $name: $(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f s", e - s }');" \
         "$(grep -E '^tps' "$log" | head -n 1 | sed 's/ (.*//')"
    failed_txns=$(awk -F': *' '/^number of failed transactions/ { split($2, a, " "); print a[1] }' "$log")
    expect "$name: no failed transactions" 0 "SELECT ${failed_txns:-0}"
    if no_new_deadlocks "$db" "$before"; then echo "ok - $name: no deadlocks"; else failed=1; fi
}

# book_spread TEAM: every member of TEAM with its account count, and the
# spread (max - min).
book_spread() {
    q -c "
        SELECT string_agg(handle || '=' || accounts, ' ' ORDER BY member_id) || ', spread (max - min) '
               || (max(accounts) - min(accounts))
        FROM ${book_view:-book} WHERE '$1' = ANY (teams)"
}

# check_pool NAME PREFIX N: the invariants every run must keep, over the
# accounts named PREFIX1..PREFIXN.
check_pool() {
    local name=$1 prefix=$2 n=$3
    expect "$name: each of the $n accounts has exactly one current primary" "$n|0" "
        SELECT count(*), count(*) FILTER (WHERE c.primaries <> 1) FROM (
            SELECT a.account_id, count(x.account_id) AS primaries
            FROM csm.account a
            LEFT JOIN csm.account_assignment x ON x.account_id = a.account_id AND x.is_primary AND x.ended_at IS NULL
            WHERE a.external_id LIKE '${prefix}%' GROUP BY a.account_id) c"
    expect "$name: no account ever had a second relationship" "$n" "
        SELECT count(*) FROM csm.account_assignment x JOIN csm.account a ON a.account_id = x.account_id
        WHERE a.external_id LIKE '${prefix}%'"
    expect "$name: assignment_log has exactly one 'assign' row per assignment, and nothing else" "$n|$n" "
        SELECT count(*) FILTER (WHERE l.action = 'assign' AND x.account_id IS NOT NULL), count(*)
        FROM csm.assignment_log l JOIN csm.account a ON a.account_id = l.account_id
        LEFT JOIN csm.account_assignment x ON x.account_id = l.account_id AND x.member_id = l.new_member_id
                                          AND x.is_primary AND x.ended_at IS NULL
        WHERE a.external_id LIKE '${prefix}%'"
    expect_member_load "$name: csm_internal.member_load equals a recount from csm.account_assignment"
    expect "$name: nobody is over capacity" 0 "
        SELECT count(*) FROM csm.team_member m
        JOIN (SELECT x.member_id, sum(x.load) AS load FROM csm.account_assignment x
              WHERE x.ended_at IS NULL GROUP BY x.member_id) r ON r.member_id = m.member_id
        WHERE m.capacity < r.load - 1e-9"
}
