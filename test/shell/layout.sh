#!/usr/bin/env bash
# The source layout (README, "Source layout") the Makefile builds on stays
# as it is, so that an upgrade, which runs 00_pre/ and the re-runnable files
# but not the tables*.sql files, gets every function and none of the tables:
#   - every pg_extension_config_dump is in src/sql/95_platform/tables_dump.sql,
#     the one list (test/pgtap/schema.sql checks that it covers every table);
#   - an install-only tables*.sql file creates no function, aggregate, view or
#     trigger (an upgrade would not make them again);
#   - a re-runnable file of a feature creates no table, type, index or
#     sequence and adds no column or constraint (that is an upgrade step's job).
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "layout: FAILED: $*" >&2; exit 1; }
tables=$(ls src/sql/*/tables*.sql)
rerunnable=$(ls src/sql/[1-9]*/*.sql | grep -v '/tables[^/]*\.sql$')

bad=$(grep -l 'pg_extension_config_dump' src/sql/*/*.sql | grep -vx 'src/sql/95_platform/tables_dump.sql' || true)
[ -z "$bad" ] || fail "pg_extension_config_dump outside src/sql/95_platform/tables_dump.sql: $bad"
# (statements start in column 0; a DO block's, indented, are read too)
bad=$(grep -nE '^CREATE (OR REPLACE )?(FUNCTION|AGGREGATE|VIEW|TRIGGER)\b|^\s*CREATE (CONSTRAINT |EVENT )?TRIGGER\b' $tables || true)
[ -z "$bad" ] || fail "an install-only file creates what an upgrade must make again: $bad"
bad=$(grep -nE '^(CREATE (TABLE|(UNIQUE )?INDEX|SEQUENCE)\b|ALTER TABLE \S+ (ADD|ALTER|DROP) )|^\s*CREATE TYPE\b|^\s+ALTER TABLE \S+ ADD CONSTRAINT\b' $rerunnable || true)
[ -z "$bad" ] || fail "a re-runnable file changes a table or type (an upgrade step's job): $bad"
echo "layout: $(echo "$tables" | wc -l) install-only files, $(echo "$rerunnable" | wc -l) re-runnable ones and 00_pre/ as the Makefile expects"
