#!/usr/bin/env bash
# Issue 15, section 3: a long refresh RAISEs NOTICEs of its progress at
# about every 10% when the client wants notices, and none when it does not
# (nor for a short refresh: fewer than 10,000 accounts).
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
notices() { # CLIENT_MIN_MESSAGES: the refresh's NOTICE lines
    psql -qAtX -d "$db" -c "SET client_min_messages = $1" -c 'SELECT csm.refresh_health()' 2>&1 >/dev/null | grep 'NOTICE' || true
}
got=$(notices notice)
expect_lines() { # WHAT WANT GOT
    if [ "$3" = "$2" ]; then echo "ok - $1"; else echo "not ok - $1: got '$3', want '$2'"; failed=1; fi
}
expect_lines "ten progress NOTICEs with client_min_messages = notice" 10 "$(printf '%s\n' "$got" | grep -c 'refresh_health: [0-9]*% (' || true)"
expect_lines "the first at 10%" "NOTICE:  refresh_health: 10% (1200 of 12000)" "$(printf '%s\n' "$got" | head -1)"
expect_lines "the last at 100%" "NOTICE:  refresh_health: 100% (12000 of 12000)" "$(printf '%s\n' "$got" | tail -1)"
expect_lines "none with client_min_messages = warning" "" "$(notices warning)"
q -c "DELETE FROM csm.account WHERE account_id % 2 = 0" >/dev/null
expect_lines "none for a short refresh (6,000 accounts)" "" "$(notices notice)"
dropdb "$db"
exit "$failed"
