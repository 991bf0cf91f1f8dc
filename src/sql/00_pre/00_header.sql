-- csm install script, built from src/sql/ by the Makefile (README, "Source layout").
\echo Use "CREATE EXTENSION csm" to load this file. \quit

-- Every name below is schema-qualified; nothing depends on the caller's path.
SET LOCAL search_path = pg_catalog, pg_temp;
