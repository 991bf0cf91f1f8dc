#!/usr/bin/env bash
# Issue 15, section 3: SHOW csm.stale_after in a new session that has not
# called into csm (so has not loaded csm.so) must not fail with 42704.
set -euo pipefail
cd "$(dirname "$0")"
. lib/stress.sh
db=csm_show_setting
failed=0
fresh_db "$db"
q -c 'CREATE EXTENSION csm' >/dev/null
# each psql is a new session; none calls into csm before the SHOW
expect "SHOW csm.stale_after in a fresh session" 26h "SHOW csm.stale_after"
expect "current_setting without missing_ok in a fresh session" 26h "SELECT current_setting('csm.stale_after')"
expect "csm.so not loaded for it (the placeholder answers)" f \
    "SELECT count(*) > 0 FROM pg_settings WHERE name = 'csm.compact_threshold'"
got=$(q -c "LOAD 'csm'" -c 'SHOW csm.stale_after' -c "SELECT count(*) FROM pg_settings WHERE name = 'csm.compact_threshold'" | tr '\n' ' ')
if [ "$got" = "26h 1 " ]; then echo "ok - the library's setting once csm.so is loaded"; else echo "not ok - once loaded: got '$got'"; failed=1; fi
# an administrator's value is kept, not overwritten by the default
q -c 'DROP EXTENSION csm' -c "ALTER DATABASE $db RESET csm.stale_after" \
  -c "ALTER DATABASE $db SET csm.stale_after = '30h'" -c 'CREATE EXTENSION csm' >/dev/null
expect "an ALTER DATABASE value survives CREATE EXTENSION" 30h "SHOW csm.stale_after"
dropdb "$db"
exit "$failed"
