#!/usr/bin/env bash
# make test-citus: csm on a real Citus cluster. Starts a coordinator and two
# workers on 127.0.0.1 in a throwaway directory (test/citus/cluster.sh), then
#   1. the pg_regress suite (sql/*.sql): each file in database csm_regress
#      after a fresh CREATE EXTENSION csm and csm.distribute(), compared with
#      the same expected files as on a single node (expected/NAME_1.out where
#      a file explains why Citus prints something else);
#   2. the single-node pgTAP suites (test/pgtap/*.sql) in database csm_tap,
#      distributed the same way, except the files named in skip_tap below;
#   3. the Citus pgTAP suites (test/citus/*.sql) with pg_prove, and the Citus
#      shell tests (test/citus/*.sh: pgbench stress), in database csm_citus,
#      where pgtap and csm are created and csm.distribute() has run.
# The isolation specs (test/isolation) stay on one node: each permutation
# pins the order of one server's lock waits, which a coordinator and its
# workers report differently; on the cluster, the pgbench tests race
# sessions instead and check the invariants.
# Shell tests get PGHOST, PGPORT (the coordinator), PGUSER, PGDATABASE and
# CITUS_WORKER_PORTS="p1 p2". Ends with "csm citus: N passed, N failed",
# stops the cluster and exits non-zero when anything failed.
#
# Needs Citus installed for $PG_CONFIG, csm installed (make install), pgTAP
# and pg_prove. CITUS_PORT picks the coordinator's port (default: the first
# free three from 55432); CSM_CITUS_KEEP=1 keeps the data directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PG_MAJOR=${PG_MAJOR:-15}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
bin=$("$PG_CONFIG" --bindir)
pkglib=$("$PG_CONFIG" --pkglibdir)
share=$("$PG_CONFIG" --sharedir)
export PATH="$bin:$PATH"

if [ ! -f "$pkglib/citus.so" ]; then
    echo "csm citus: Citus is not installed for $PG_CONFIG ($pkglib/citus.so is missing)." >&2
    echo "  ../shared/citus/install.sh builds and installs Citus 13.2.2 (about 4 minutes; see ../shared/citus/README.md)," >&2
    echo "  then run make test-citus again." >&2
    exit 1
fi
if [ ! -f "$share/extension/csm.control" ]; then
    echo "csm citus: csm is not installed for $PG_CONFIG; make test-citus runs make install first" >&2
    exit 1
fi
if [ ! -f "$share/extension/pgtap.control" ] || ! command -v pg_prove >/dev/null; then
    echo "csm citus: pgTAP and pg_prove are needed; make deps installs them" >&2
    exit 1
fi

cluster=test/citus/cluster.sh
port=${CITUS_PORT:-$($cluster freeport 55432)}
dir=$(mktemp -d "${TMPDIR:-/tmp}/csm_citus.XXXXXX")
passed=0
failed=0
finish() {
    local rc=$?
    if [ "$rc" != 0 ] || [ "$failed" != 0 ]; then $cluster logs "$dir" || true; fi
    $cluster stop "$dir" || true
    if [ "${CSM_CITUS_KEEP:-0}" = 1 ]; then echo "csm citus: kept $dir"; else rm -rf "$dir"; fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
export CITUS_WORKER_PORTS="$((port + 1)) $((port + 2))"
psql_c() { psql -qX -v ON_ERROR_STOP=1 "$@"; }
# a database on every node with citus, pgtap and a distributed csm
distributed_db() {
    $cluster createdb "$dir" "$port" "$1"
    psql_c -d "$1" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION pgtap' \
        -c 'CREATE EXTENSION csm' -c 'SELECT count(*) AS distributed FROM csm.distribute()'
}
differ=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAILED: $1"; }
# A single-node test whose result on Citus is known to differ says so in a
# line of its own: "-- citus-differs: why". Its failure here is listed, not
# counted; a marked file that passes fails, so no marker outlives its reason.
explained() { grep -m1 '^-- citus-differs: ' "$1" | sed 's/^-- citus-differs: //' || true; }
judge() {  # judge FILE LABEL OK(0/1)
    local why
    why=$(explained "$1")
    if [ "$3" = 0 ] && [ -z "$why" ]; then pass
    elif [ "$3" = 0 ]; then fail "$2 passes on Citus but is marked citus-differs: remove the marker"
    elif [ -n "$why" ]; then differ=$((differ + 1)); echo "DIFFERS (explained in $1): $why"
    else fail "$2"
    fi
}

echo "== a Citus cluster: coordinator 127.0.0.1:$port, workers $CITUS_WORKER_PORTS ($dir)"
$cluster start "$dir" "$port"
psql -X -At -d postgres -c "SELECT 'citus ' || extversion FROM pg_extension WHERE extname = 'citus'"

echo "== pg_regress (each file after CREATE EXTENSION csm and csm.distribute())"
# The settings pg_regress gives a database it makes itself; workers read
# them too, for the statements Citus sends them. Citus' setting for running
# PostgreSQL's own tests on a cluster silences its WARNINGs about objects it
# keeps on the coordinator alone (a function in pg_temp_N, whose N differs
# from run to run); the single-node expected files do not have them.
db=csm_regress
regress_db() {
    $cluster createdb "$dir" "$port" "$db"
    psql_c -d "$db" -c "ALTER DATABASE $db SET citus.enable_unsupported_feature_messages = off"
    for p in $port $CITUS_WORKER_PORTS; do
        psql_c -p "$p" -d "$db" -c 'SET citus.enable_ddl_propagation = off' -c "ALTER DATABASE $db SET lc_messages TO 'C'" \
            -c "ALTER DATABASE $db SET lc_monetary TO 'C'" -c "ALTER DATABASE $db SET lc_numeric TO 'C'" \
            -c "ALTER DATABASE $db SET lc_time TO 'C'" -c "ALTER DATABASE $db SET bytea_output TO 'hex'" \
            -c "ALTER DATABASE $db SET timezone_abbreviations TO 'Default'"
    done
}
fresh_csm() {
    psql_c -d "$db" -c 'SET client_min_messages = warning' -c 'DROP EXTENSION IF EXISTS csm CASCADE' \
        -c 'CREATE EXTENSION csm' -c 'SELECT FROM csm.distribute()'
}
regress_db
out=output_citus
rm -rf "$out"; mkdir -p "$out"
for f in sql/*.sql; do
    t=$(basename "$f" .sql)
    # Every file ends with DROP EXTENSION csm CASCADE; CREATE EXTENSION csm
    # (a fresh extension for the next file); on Citus that one is distributed
    # again here.
    if ! fresh_csm; then
        # a file that left csm broken does not take the next ones with it
        echo "-- $db: DROP EXTENSION csm failed; the database is made again"
        for p in $port $CITUS_WORKER_PORTS; do
            psql_c -p "$p" -d postgres -c 'SET client_min_messages = warning' \
                -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
        done
        regress_db
        if ! fresh_csm; then
            fail "pg_regress $t: no fresh distributed csm to run it on"
            continue
        fi
    fi
    if "$pkglib/pgxs/src/test/regress/pg_regress" --inputdir=. --bindir="$bin" --use-existing \
        --dbname="$db" --outputdir="$out/$t" "$t" >"$out/$t.log" 2>&1; then
        grep -E '^(test|ok|not ok) ' "$out/$t.log" || true
        judge "$f" "pg_regress $t" 0
    else
        cat "$out/$t.log"
        [ -n "$(explained "$f")" ] || tee -a "$out/regression.diffs" <"$out/$t/regression.diffs"
        judge "$f" "pg_regress $t" 1
    fi
done

echo "== single-node pgTAP suites (test/pgtap) on a distributed csm"
# Files that cannot run on a cluster, and why.
declare -A skip_tap=(
    [distribute]='checks the refusal without Citus; test/citus/distribute.sql and distribute.sh check distribute() on the cluster'
    # A role made inside the test's transaction cannot act on the workers:
    # Citus creates what it makes there over new connections as that role,
    # which cannot see the uncommitted role.
    [schema_owner]='creates a role in its transaction and makes schema csm as that role; the schema check of CREATE EXTENSION is the same on every node'
    [usage_security]='creates a role in its transaction and makes objects as that role (see schema_owner)'
    # How the bulk lifecycle refresh works on one node: function calls
    # counted in pg_stat_xact_user_functions (on Citus they run where the
    # shards are), updated_at against now() (on Citus csm_internal._stamp() is the
    # distributed transaction's timestamp) and a join of local tables.
    [lifecycle_bulk]='checks how the bulk refresh works on one node; test/citus/lifecycle.sql checks its answers and stamps on the cluster'
)
db=csm_tap
distributed_db "$db" >/dev/null
for t in test/pgtap/*.sql; do
    name=$(basename "$t" .sql)
    if [ -n "${skip_tap[$name]:-}" ]; then
        echo "$t .. skipped: ${skip_tap[$name]}"
        continue
    fi
    if pg_prove -d "$db" "$t"; then judge "$t" "$t" 0; else judge "$t" "$t" 1; fi
done

echo "== Citus suites (test/citus/*.sql, *.sh) in csm_citus"
export PGDATABASE=csm_citus
distributed_db "$PGDATABASE"
for t in test/citus/*.sql; do
    [ -e "$t" ] || continue
    if pg_prove "$t"; then pass; else fail "$t"; fi
done
for t in test/citus/*.sh; do
    case $(basename "$t") in cluster.sh | run.sh) continue ;; esac
    echo "-- $t"
    if bash "$t"; then pass; else fail "$t"; fi
done

echo "csm citus: $passed passed, $failed failed, $differ differ on Citus as their files explain (DIFFERS above)"
[ "$failed" = 0 ]
