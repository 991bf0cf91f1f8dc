#!/usr/bin/env bash
# Issue 15, section 3: no session state decides what a view shows, and csm
# works behind pgbouncer in transaction mode. Debian's pgbouncer runs as a
# user process on a private port with its own ini (never the system
# service) in front of the test server, with ONE server connection for the
# pool: two clients then share one backend, and a session SET by one is
# seen by the other (pgbouncer's documented caveat). The test shows that
# leak happens, that csm.account_health and csm.churn_risk do not change
# with it, and that csm's functions work there (simple protocol: psql
# prepares no statements, as transaction mode needs).
set -euo pipefail
cd "$(dirname "$0")"
. lib/stress.sh
bouncer=$(command -v pgbouncer || ls /usr/sbin/pgbouncer 2>/dev/null || true)
if [ -z "$bouncer" ]; then
    echo "not ok - pgbouncer is not installed (apt-get install -y pgbouncer)"
    exit 1
fi
db=csm_pgbouncer
failed=0
fresh_db "$db"
q >/dev/null <<'SQL'
CREATE EXTENSION csm;
INSERT INTO csm.account (external_id, name, plan, arr, seats, renewal_date)
VALUES ('pgb_old', 'Old score', 'pro', 12000, 10, current_date + 200),
       ('pgb_new', 'New score', 'pro', 24000, 20, current_date + 300);
SELECT csm.refresh_health();
SELECT csm.refresh_churn();
UPDATE csm.health_score SET computed_at = now() - interval '27 hours'
WHERE account_id = (SELECT account_id FROM csm.account WHERE external_id = 'pgb_old');
UPDATE csm.churn_score SET computed_at = now() - interval '27 hours'
WHERE account_id = (SELECT account_id FROM csm.account WHERE external_id = 'pgb_old');
SQL

dir=$(mktemp -d)
chmod 755 "$dir"
# the server's address: a socket directory or a host
server_host=${PGHOST:-/var/run/postgresql}
server_port=${PGPORT:-5432}
# a private port: the server's plus 1100, unless something listens there
port=$((server_port + 1100))
user=${PGUSER:-$(id -un)}
cat >"$dir/pgbouncer.ini" <<INI
[databases]
$db = host=$server_host port=$server_port dbname=$db user=$user${PGPASSWORD:+ password=$PGPASSWORD}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 10
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
echo "\"$user\" \"\"" >"$dir/userlist.txt"
# pgbouncer refuses to run as root: then as the server's owner
as_user=()
if [ "$(id -u)" = 0 ]; then
    as_user=(-u "$(stat -c %U "${PGDATA:-$server_host}" 2>/dev/null || echo postgres)")
    chown -R "${as_user[1]}" "$dir"
fi
"$bouncer" -d "${as_user[@]}" "$dir/pgbouncer.ini"
for _ in $(seq 100); do
    [ -s "$dir/pgbouncer.pid" ] && break
    sleep 0.1
done
cleanup() {
    exec 3>&- 4>&- 2>/dev/null || true
    [ -s "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# Two clients through pgbouncer, each a psql reading its fifo; a statement's
# answer is awaited before the next one is sent, so their order is known.
mkfifo "$dir/a.in" "$dir/b.in"
psql -qAtX -h 127.0.0.1 -p "$port" -U "$user" -d "$db" <"$dir/a.in" >"$dir/a.out" 2>&1 &
psql -qAtX -h 127.0.0.1 -p "$port" -U "$user" -d "$db" <"$dir/b.in" >"$dir/b.out" 2>&1 &
exec 3>"$dir/a.in" 4>"$dir/b.in"
echo 0 >"$dir/step"
# ask CLIENT SQL: runs SQL on client a or b and prints its answer's last line
# (SQL ends with a query whose first column is the answer).
ask() {
    local fd out step
    # (a file: ask runs in a command substitution's subshell)
    step=$(($(cat "$dir/step") + 1))
    echo "$step" >"$dir/step"
    if [ "$1" = a ]; then fd=3; else fd=4; fi
    out="$dir/$1.out"
    echo "$2" >&"$fd"
    echo "SELECT 'done $step';" >&"$fd"
    for _ in $(seq 600); do
        grep -q "^done $step\$" "$out" && break
        sleep 0.1
    done
    grep -B1 "^done $step\$" "$out" | head -1
}
check() { # WHAT WANT GOT
    if [ "$3" = "$2" ]; then echo "ok - $1"; else echo "not ok - $1: got '$3', want '$2'"; failed=1; fi
}

check "client a reads through pgbouncer" "true|false" \
    "$(ask a "SELECT string_agg(stale::text, '|' ORDER BY external_id DESC) FROM csm.account_health;")"
ask a "SET csm.stale_after = '30h';" >/dev/null
# one server connection: client b gets the backend client a changed
check "a session SET leaks to the other client (the caveat this guards against)" "30h" \
    "$(ask b "SELECT current_setting('csm.stale_after', true);")"
check "account_health: client a's SET does not change what client b sees" "true|false" \
    "$(ask b "SELECT string_agg(stale::text, '|' ORDER BY external_id DESC) FROM csm.account_health;")"
check "account_health: nor what client a sees" "true|false" \
    "$(ask a "SELECT string_agg(stale::text, '|' ORDER BY external_id DESC) FROM csm.account_health;")"
check "churn_risk: client a's SET does not change what client b sees" "true|false" \
    "$(ask b "SELECT string_agg(stale::text, '|' ORDER BY external_id DESC) FROM csm.churn_risk;")"
ask b "RESET csm.stale_after;" >/dev/null
check "the model's stale_after decides, for every client" "false|false" \
    "$(ask a "UPDATE csm.health_model SET stale_after = '2 days' WHERE name = 'default';
              SELECT csm.refresh_health();
              UPDATE csm.health_score SET computed_at = now() - interval '27 hours';
              SELECT string_agg(stale::text, '|' ORDER BY external_id DESC) FROM csm.account_health;")"
check "client b sees the same" "false|false" \
    "$(ask b "SELECT string_agg(stale::text, '|' ORDER BY external_id DESC) FROM csm.account_health;")"

# csm's functions, interleaved between the two clients
check "refresh_churn through pgbouncer" 2 "$(ask a "SELECT csm.refresh_churn();")"
check "analyze_churn_risk through pgbouncer" pgb_old \
    "$(ask b "SELECT csm.analyze_churn_risk('pgb_old') ->> 'customer_id';")"
check "assess_health through pgbouncer" t \
    "$(ask a "SELECT (csm.assess_health('pgb_new', daterange(current_date - 30, current_date)) ->> 'customer_id') = 'pgb_new';")"
check "one transaction per client, interleaved" 2 \
    "$(ask b "BEGIN; SELECT csm.refresh_health(); COMMIT; SELECT count(*) FROM csm.health_score;")"
check "account_metrics for one account" 1 \
    "$(ask a "SELECT count(*) FROM csm.account_metrics WHERE external_id = 'pgb_new';")"
check "no client saw an error" 0 "$(cat "$dir/a.out" "$dir/b.out" | grep -c 'ERROR' || true)"
if [ "$failed" != 0 ]; then
    echo "client a:"; cat "$dir/a.out"; echo "client b:"; cat "$dir/b.out"; tail -20 "$dir/pgbouncer.log" || true
fi
exit "$failed"
