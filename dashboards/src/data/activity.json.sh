#!/bin/sh
# csm.dashboard_activity as a JSON array of rows, from the database that PGHOST,
# PGPORT and PGDATABASE name (make dashboards sets them).
exec psql -X -q -At -v ON_ERROR_STOP=1 -c "SELECT coalesce(json_agg(v ORDER BY v.grain, v.period_start_date, v.metric), '[]') FROM csm.dashboard_activity v"
