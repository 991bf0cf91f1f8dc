-- Usage tracking never runs a table owner's code with the caller's rights
-- (issue 11, section 2.1): column types are checked when a table is tracked
-- and again at every use, and the table is read as its owner.
BEGIN;
SELECT plan(17);

CREATE ROLE csm_tap_owner;
GRANT CREATE ON SCHEMA public TO csm_tap_owner;
SET ROLE csm_tap_owner;
CREATE TABLE public.tap_sec_events (org text, at timestamptz);
INSERT INTO public.tap_sec_events VALUES ('org_1', '2026-03-01 10:00+00');
-- A composite type with a cast to text that makes its owner superuser
-- whenever a superuser evaluates it.
CREATE TYPE public.tap_evil AS (k text);
CREATE FUNCTION public.tap_escalate() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        EXECUTE 'ALTER ROLE csm_tap_owner SUPERUSER';
        RETURN true;
    END IF;
    RETURN false;
END $$;
CREATE FUNCTION public.tap_evil_text(public.tap_evil) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.tap_escalate();
    RETURN ($1).k;
END $$;
CREATE CAST (public.tap_evil AS text) WITH FUNCTION public.tap_evil_text(public.tap_evil);
RESET ROLE;

SELECT lives_ok($$SELECT csm.track_usage('public.tap_sec_events', 'org', 'at')$$, 'a text account column is tracked');

-- The owner retypes the tracked column behind csm's back.
SET ROLE csm_tap_owner;
ALTER TABLE public.tap_sec_events ALTER COLUMN org TYPE public.tap_evil USING row(org)::public.tap_evil;
RESET ROLE;
SELECT throws_ok($$SELECT csm.backfill_usage('public.tap_sec_events')$$, '42804', NULL,
                 'backfill_usage() rechecks the column type and refuses a composite');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'csm_tap_owner'), false,
          'the owner did not become superuser through backfill_usage()');
SELECT throws_ok($$INSERT INTO public.tap_sec_events VALUES (row('org_2'), now())$$, '42804', NULL,
                 'the trigger rechecks the column type after ALTER TABLE ... TYPE');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'csm_tap_owner'), false,
          'the owner did not become superuser through the trigger');
SELECT lives_ok($$SELECT csm.untrack_usage('public.tap_sec_events')$$, 'untracking still works');
SELECT throws_ok($$SELECT csm.track_usage('public.tap_sec_events', 'org', 'at')$$, '42804', NULL,
                 'track_usage() refuses a composite account column');

-- Domains: a domain over a supported type is read as its base type (a
-- domain has its base type's output function, and casts to or from a
-- domain are never used), so it is accepted.
SET ROLE csm_tap_owner;
CREATE DOMAIN public.tap_key AS text CHECK (VALUE <> 'forbidden');
CREATE DOMAIN public.tap_day AS date;
CREATE TABLE public.tap_dom (org public.tap_key, n int, at public.tap_day, who public.tap_key);
INSERT INTO public.tap_dom VALUES ('org_d1', 1, '2026-03-01', 'u1'), ('org_d1', 2, '2026-03-01', 'u2');
RESET ROLE;
SELECT lives_ok($$SELECT csm.track_usage('public.tap_dom', 'org', 'at', 'org', 'who')$$,
                'domains over text and date are accepted');
SELECT is(csm.backfill_usage('public.tap_dom'), 2::bigint, 'backfill counts the rows already there');
INSERT INTO public.tap_dom VALUES ('org_d1', 3, '2026-03-01', 'u3');
SELECT is((SELECT events FROM csm.usage_daily WHERE external_id = 'org_d1'), 3::bigint, 'and the trigger the new row');
-- The tracked column moves to a domain over a composite: refused at use.
SET ROLE csm_tap_owner;
CREATE DOMAIN public.tap_evil_dom AS public.tap_evil;
ALTER TABLE public.tap_dom ALTER COLUMN who TYPE public.tap_evil_dom USING row(who)::public.tap_evil;
RESET ROLE;
SELECT throws_ok($$INSERT INTO public.tap_dom VALUES ('org_d1', 4, '2026-03-01', row('u4'))$$, '42804', NULL,
                 'a domain over a composite is refused by the trigger');
SELECT throws_ok($$SELECT csm.backfill_usage('public.tap_dom')$$, '42804', NULL,
                 'and by backfill_usage()');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'csm_tap_owner'), false,
          'the owner is still not superuser');

-- char(n) keys: the trigger and backfill agree on the key (trailing blanks
-- dropped, as char(n)'s cast to text does).
CREATE TABLE public.tap_char (org char(8), at date);
SELECT lives_ok($$SELECT csm.track_usage('public.tap_char', 'org', 'at')$$, 'a char(n) account column is accepted');
INSERT INTO public.tap_char VALUES ('org_c1', '2026-03-01');
SELECT is((SELECT events FROM csm.usage_daily WHERE external_id = 'org_c1'), 1::bigint, 'the trigger counts it under the trimmed key');
SELECT is(csm.backfill_usage('public.tap_char'), 1::bigint, 'backfill counts one row');
SELECT is((SELECT events FROM csm.usage_daily WHERE external_id = 'org_c1'), 1::bigint, 'under the same key');

SELECT * FROM finish();
ROLLBACK;
