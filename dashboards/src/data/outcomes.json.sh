#!/bin/sh
# csm.dashboard_outcomes as a JSON array of rows, from the database that PGHOST,
# PGPORT and PGDATABASE name (make dashboards sets them).
exec psql -X -q -At -v ON_ERROR_STOP=1 -c "SELECT coalesce(json_agg(v ORDER BY v.month, v.metric), '[]') FROM csm.dashboard_outcomes v"
