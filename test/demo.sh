#!/usr/bin/env bash
# `make demo`: loads the demo portfolio (test/data/portfolio.sql) into the
# throwaway cluster that pg_virtualenv started (PGHOST, PGPORT, PGUSER and
# PGPASSWORD are set), prints what a CS leader would look at first, then
# keeps the cluster running until Enter is pressed. Without a terminal on
# stdin (CI, pipes) it exits at once and pg_virtualenv drops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

DB=csm_demo
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

# One psql call per section: a heading, then the query from stdin.
section() {
    printf '\n== %s\n' "$1"
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -P footer=off
}

started=$(date +%s)
createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c 'CREATE EXTENSION csm'
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f test/data/portfolio.sql
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c 'SELECT csm_demo.load()'

section "Portfolio by segment" <<'SQL'
SELECT coalesce(a.segment, 'total') AS segment,
       count(*) AS accounts,
       count(*) FILTER (WHERE a.status = 'churned') AS churned,
       to_char(sum(a.arr) FILTER (WHERE a.status = 'active'), 'FM$999,999,999') AS active_arr,
       to_char(sum(a.seats) FILTER (WHERE a.status = 'active'), 'FM999,999') AS seats,
       count(*) FILTER (WHERE a.status = 'active'
                          AND a.renewal_date < (now() AT TIME ZONE 'UTC')::date + 90) AS renew_90d
FROM csm.account a
GROUP BY ROLLUP (a.segment)
ORDER BY a.segment IS NULL, array_position(ARRAY['strategic', 'enterprise', 'mid_market', 'smb'], a.segment);
SQL

section "Usage, last 30 days: top 10 accounts by events" <<'SQL'
SELECT u.external_id, a.name, a.segment,
       sum(u.events) AS events,
       round(sum(u.active_users) / 30.0, 1) AS avg_dau,
       a.seats
FROM csm.usage_daily u
JOIN csm.account a ON a.account_id = u.account_id
WHERE u.day > (now() AT TIME ZONE 'UTC')::date - 30
GROUP BY u.external_id, a.name, a.segment, a.seats
ORDER BY events DESC, u.external_id
LIMIT 10;
SQL

section "Gone quiet: no activity in 14+ days (csm.account_metrics)" <<'SQL'
SELECT count(*) FILTER (WHERE m.status = 'active') AS active_accounts,
       count(*) FILTER (WHERE m.status = 'churned') AS churned_accounts,
       to_char(sum(a.arr) FILTER (WHERE m.status = 'active'), 'FM$999,999,999') AS active_arr_at_risk
FROM csm.account_metrics m
JOIN csm.account a ON a.account_id = m.account_id
WHERE coalesce(m.days_since_last_activity, 9999) >= 14;

SELECT m.external_id, a.name, a.segment, a.status, to_char(a.arr, 'FM$999,999,999') AS arr,
       coalesce(m.days_since_last_activity::text, 'never') AS idle_days
FROM csm.account_metrics m
JOIN csm.account a ON a.account_id = m.account_id
WHERE coalesce(m.days_since_last_activity, 9999) >= 14
ORDER BY a.status, a.arr DESC, m.external_id
LIMIT 6;
SQL

section "Declining: active accounts with usage_trend < 0.7 (csm.account_metrics), next renewals first" <<'SQL'
SELECT count(*) AS accounts,
       to_char(sum(a.arr), 'FM$999,999,999') AS arr,
       count(*) FILTER (WHERE m.days_to_renewal < 90) AS renewing_in_90d
FROM csm.account_metrics m
JOIN csm.account a ON a.account_id = m.account_id
WHERE m.status = 'active' AND m.usage_trend < 0.7;

SELECT m.external_id, a.name, a.segment,
       to_char(a.arr, 'FM$999,999,999') AS arr,
       round(m.dau_ratio::numeric, 3) AS dau_ratio,
       m.features_adopted AS features,
       round(m.usage_trend::numeric, 2) AS usage_trend,
       m.nps,
       m.days_to_renewal AS renewal_in
FROM csm.account_metrics m
JOIN csm.account a ON a.account_id = m.account_id
WHERE m.status = 'active' AND m.usage_trend < 0.7
ORDER BY m.days_to_renewal, m.external_id
LIMIT 8;
SQL

section "Team" <<'SQL'
SELECT t.team,
       count(*) AS members,
       count(*) FILTER (WHERE m.status = 'online') AS online,
       sum(m.capacity) AS capacity,
       string_agg(m.handle, ', ' ORDER BY m.handle) AS handles
FROM csm.team_member m, unnest(m.teams) AS t(team)
WHERE m.active
GROUP BY t.team
ORDER BY array_position(ARRAY['strategic', 'enterprise', 'mid_market', 'smb', 'retention', 'solutions', 'support'], t.team), t.team;
SQL

cat <<EOF

Loaded and summarised in $(( $(date +%s) - started )) s. The cluster runs while this script waits; connect with:
  ${PGPASSWORD:+PGPASSWORD=$PGPASSWORD }psql -h ${PGHOST:-localhost} -p ${PGPORT:-5432} -U ${PGUSER:-postgres} -d $DB
EOF
if [ -t 0 ]; then
    read -r -p "Press Enter to stop and clean up. " _
else
    echo "stdin is not a terminal: stopping now."
fi
