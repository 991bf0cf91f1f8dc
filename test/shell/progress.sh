#!/usr/bin/env bash
# Issue 15, section 3: a long refresh RAISEs NOTICEs of its progress at
# about every 10% when the client wants notices, and none when it does not
# (nor for a short refresh: fewer than 10,000 accounts).  One mechanism for
# all (src/progress.c, csm_internal._progress_begin): refresh_health,
# refresh_churn, refresh_lifecycle, refresh_renewals and refresh_expansion
# count their accounts, refresh_success_plans its active plans,
# compact_usage its deltas, run_alerts its alert kinds, run_playbooks its
# playbooks (every refresh a pg_cron job of csm.job_schedule runs, but the
# short ones: segments, stale conversations, purging old runs); a refresh
# counts only its own units (the helpers they share count for the refresh
# that asked), and a count does not outlive its transaction.
set -euo pipefail
cd "$(dirname "$0")"
. lib/stress.sh
db=csm_progress
failed=0
fresh_db "$db"
q >/dev/null <<'SQL'
CREATE EXTENSION csm;
INSERT INTO csm.account (external_id, name, plan, arr, seats)
SELECT 'p' || g, 'Account ' || g, 'pro', 1000, 5 FROM generate_series(1, 12000) g;
SQL
notices() { # CLIENT_MIN_MESSAGES SQL: the NOTICE lines of SQL
    psql -qAtX -d "$db" -c "SET client_min_messages = $1" -c "$2" 2>&1 >/dev/null | grep 'NOTICE' || true
}
expect_lines() { # WHAT WANT GOT
    if [ "$3" = "$2" ]; then echo "ok - $1"; else echo "not ok - $1: got '$3', want '$2'"; failed=1; fi
}
# progress_of REFRESH SQL TOTAL TICKS: its NOTICEs with notices wanted, and none without
progress_of() {
    local got
    got=$(notices notice "$2")
    expect_lines "$1: $4 progress NOTICEs with client_min_messages = notice" "$4" \
        "$(printf '%s\n' "$got" | grep -c "$1: [0-9]*% (" || true)"
    expect_lines "$1: the first at 10%" "10%" "$(printf '%s\n' "$got" | grep "$1: " | head -1 | grep -o '[0-9]*%' | head -1)"
    expect_lines "$1: the last at 100%" "NOTICE:  $1: 100% ($3 of $3)" "$(printf '%s\n' "$got" | grep "$1: " | tail -1)"
    expect_lines "$1: no other refresh's progress" "" "$(printf '%s\n' "$got" | grep '% (' | grep -v "$1: " || true)"
    expect_lines "$1: none with client_min_messages = warning" "" "$(notices warning "$2")"
}
progress_of refresh_health 'SELECT csm.refresh_health()' 12000 10
expect_lines "refresh_health: the first at 10% of the accounts" "NOTICE:  refresh_health: 10% (1200 of 12000)" \
    "$(notices notice 'SELECT csm.refresh_health()' | head -1)"
progress_of refresh_churn 'SELECT csm.refresh_churn()' 12000 10
progress_of refresh_lifecycle 'SELECT csm.refresh_lifecycle()' 12000 10
progress_of refresh_renewals 'SELECT csm.refresh_renewals()' 12000 10
progress_of refresh_expansion 'SELECT csm.refresh_expansion()' 12000 10
expect_lines "refresh_expansion: none for some accounts only" "" \
    "$(notices notice 'SELECT csm.refresh_expansion(now(), ARRAY(SELECT account_id FROM csm.account))')"
q >/dev/null <<'SQL'
INSERT INTO csm.success_plan (account_id, objectives, timeline, starts_on, ends_on, created_by, created_at, updated_at)
SELECT a.account_id, '[]', '{}', current_date, current_date + 365, current_user, now(), now()
FROM csm.account a ORDER BY a.account_id LIMIT 20;
SQL
progress_of refresh_success_plans 'SELECT csm.refresh_success_plans()' 20 10
# compact_usage counts the deltas it folds: one per event of a new account-day here
q >/dev/null <<'SQL'
CREATE TABLE events (org text NOT NULL, occurred_at timestamptz NOT NULL);
SELECT csm.track_usage('events', 'org', 'occurred_at');
SQL
add_events() { q -c "SET csm.compact_threshold = 0" -c "INSERT INTO events SELECT 'p' || g, now() FROM generate_series(1, 12000) g" >/dev/null; }
add_events
deltas=$(q -c 'SELECT count(*) FROM csm_internal.usage_delta')
got=$(notices notice 'SELECT csm.compact_usage()')
expect_lines "compact_usage: 10 progress NOTICEs with client_min_messages = notice" 10 \
    "$(printf '%s\n' "$got" | grep -c 'compact_usage: [0-9]*% (' || true)"
expect_lines "compact_usage: the last at 100%" "NOTICE:  compact_usage: 100% ($deltas of $deltas)" "$(printf '%s\n' "$got" | tail -1)"
add_events
expect_lines "compact_usage: none with client_min_messages = warning" "" "$(notices warning 'SELECT csm.compact_usage()')"
expect_lines "... which folded them" "0" "$(q -c 'SELECT count(*) FROM csm_internal.usage_delta')"
kinds=$(q -c 'SELECT cardinality(csm_internal._alert_kinds())')
progress_of run_alerts 'SELECT csm.run_alerts()' "$kinds" 10
q >/dev/null <<'SQL'
INSERT INTO csm.playbook (name, description, trigger_kind, trigger_values, priority)
SELECT 'pb' || g, 'progress test', 'health_band', ARRAY['red'], 'low' FROM generate_series(1, 4) g;
SQL
playbooks=$(q -c "SELECT count(*) FROM csm.playbook WHERE active AND trigger_kind <> 'manual'")
progress_of run_playbooks 'SELECT csm.run_playbooks()' "$playbooks" "$(( playbooks < 10 ? playbooks : 10 ))"
expect_lines "a count ends with its transaction (a refresh that failed leaves none)" "" \
    "$(notices notice "BEGIN; SELECT csm_internal._progress_start('run_alerts', 10); ROLLBACK; SELECT csm_internal._progress_add('run_alerts', 10)")"
expect_lines "... and counts in it" "NOTICE:  run_alerts: 100% (10 of 10)" \
    "$(notices notice "BEGIN; SELECT csm_internal._progress_start('run_alerts', 10); SELECT csm_internal._progress_add('run_alerts', 10); ROLLBACK")"
q -c "DELETE FROM csm.account WHERE account_id % 2 = 0" >/dev/null
expect_lines "none for a short refresh (6,000 accounts)" "" "$(notices notice 'SELECT csm.refresh_health(), csm.refresh_churn(), csm.run_alerts(), csm.refresh_lifecycle(), csm.refresh_renewals(), csm.refresh_expansion(), csm.refresh_success_plans()')"
dropdb "$db"
exit "$failed"
