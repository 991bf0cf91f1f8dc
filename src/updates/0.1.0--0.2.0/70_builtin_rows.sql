-- Built-in rows whose text 0.2.0 changed (built-in rows are read-only to
-- users, so they are still csm's as 0.1.0 wrote them; the guard is off
-- since 60_builtin.sql).  test/shell/upgrade.sh compares every built-in row
-- of an upgraded database with a fresh install's.
UPDATE @extschema@.churn_signal_kind
SET description = 'Renewal is fewer than renewal_days days away (today counts; the renewal_days-th day does not), and in the last quiet_days the customer neither reached out, attended a meeting nor answered outreach (only while csm.engagement is in use). Seed: "Contract renewal ghosting", and the CSM trigger "Renewal in <60 days with no engagement".'
WHERE signal OPERATOR(pg_catalog.=) 'renewal_ghosting' AND builtin;
