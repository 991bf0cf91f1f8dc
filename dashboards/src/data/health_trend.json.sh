#!/bin/sh
# Health band counts per week (the last day of each week with a score) over
# the last 26 weeks, from csm.health_daily, as a JSON array of rows.
exec psql -X -q -At -v ON_ERROR_STOP=1 -c "
    WITH last_day AS (
        SELECT date_trunc('week', h.day)::date AS week, max(h.day) AS day
        FROM csm.health_daily h
        WHERE h.day >= (now() AT TIME ZONE 'UTC')::date - 182
        GROUP BY 1)
    SELECT coalesce(json_agg(t ORDER BY t.week, t.health_band), '[]')
    FROM (SELECT l.week, coalesce(h.health_band::text, 'unknown') AS health_band, count(*) AS value, 'accounts' AS unit
          FROM last_day l JOIN csm.health_daily h ON h.day = l.day
          GROUP BY 1, 2) t"
