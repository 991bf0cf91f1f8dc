#!/usr/bin/env bash
# Validates the Grafana dashboard (dashboards/grafana/csm.json) without a
# Grafana: the file is JSON with the fields an import needs (title, uid,
# panels with unique ids, a grid position, a datasource and raw SQL), and
# every panel's SQL, and the CSM variable's, runs against the database
# PGHOST/PGPORT/PGDATABASE name (the demo's) and returns rows.  Grafana's
# macros are expanded as Grafana would for the dashboard's default range
# (the last two years): $__timeFilter(col) becomes col BETWEEN the two
# instants, and $csm the variable's default, team.  A panel whose query
# fails or returns nothing fails the check.  `make test-dashboards` runs it.
set -euo pipefail
cd "$(dirname "$0")"

python3 - csm.json > /tmp/csm-grafana-$$.sql <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
for key in ("title", "uid", "panels", "schemaVersion", "time", "__inputs"):
    assert key in d, f"dashboard has no {key}"
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "panel ids are not unique"
queries = [("variable csm", d["templating"]["list"][0]["query"])]
for p in d["panels"]:
    for key in ("title", "type", "gridPos", "datasource", "targets"):
        assert key in p, f"panel {p.get('id')} has no {key}"
    assert p["datasource"]["uid"] == "${DS_CSM}", f"panel {p['id']}: datasource is not the imported one"
    for t in p["targets"]:
        assert t["format"] in ("table", "time_series"), f"panel {p['id']}: format {t['format']}"
        queries.append((f"panel {p['id']} ({p['title']})", t["rawSql"]))
        if t["format"] == "time_series":
            assert re.search(r"\bAS time\b", t["rawSql"]), f"panel {p['id']}: a time series needs a time column"
for name, sql in queries:
    sql = re.sub(r"\$__timeFilter\(([^)]*)\)", r"\1 BETWEEN now() - interval '2 years' AND now()", sql)
    sql = sql.replace("$csm", "team")
    assert "$" not in sql, f"{name}: an unexpanded macro"
    label = name.replace("'", "''")
    # One line per query: its label, then how many rows it returned.
    print(f"SELECT '{label}' AS query, count(*) AS rows FROM ({sql}) q;")
PY
failed=0
while IFS='|' read -r name rows; do
    if [ "$rows" -gt 0 ]; then echo "ok - $name: $rows rows"; else echo "not ok - $name: no rows"; failed=$((failed + 1)); fi
done < <(psql -X -q -At -v ON_ERROR_STOP=1 -f /tmp/csm-grafana-$$.sql || { echo "error|0"; })
rm -f /tmp/csm-grafana-$$.sql
[ "$failed" -eq 0 ] || { echo "dashboards/grafana/check.sh: $failed query(ies) failed" >&2; exit 1; }
