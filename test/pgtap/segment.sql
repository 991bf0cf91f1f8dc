-- Segmentation with CSM ratios (issue 13, section 4): derivation by the
-- ordered rules over generated accounts, manual segments, refused names
-- and rules (with their SQLSTATEs), built-in rows and restores, and the
-- capacity a member without one gets from the ratios.
-- citus-differs: on Citus a new account is routed when its transaction commits (account_route_new_deferred, README "Growing past one machine"), so this rolled-back file sees no assignment in its check of a NULL capacity filled at the segment's ratio (tests 30-31); test/citus/segment.sql checks that on the cluster, committed.
BEGIN;
SELECT plan(31);

-- The placement the README documents, written out by hand: the seed's
-- ranges, then ARR alone, then seats alone, then SMB.
CREATE FUNCTION pg_temp.expected_segment(arr numeric, seats integer) RETURNS text LANGUAGE sql AS $$
    SELECT CASE
        WHEN arr > 100000 AND seats > 500 THEN 'enterprise'
        WHEN arr BETWEEN 25000 AND 100000 AND seats BETWEEN 50 AND 500 THEN 'mid_market'
        WHEN arr < 25000 AND seats < 50 THEN 'smb'
        WHEN arr > 100000 THEN 'enterprise'
        WHEN arr >= 25000 THEN 'mid_market'
        WHEN arr < 25000 THEN 'smb'
        WHEN seats > 500 THEN 'enterprise'
        WHEN seats >= 50 THEN 'mid_market'
        ELSE 'smb' END $$;

-- 2,000 accounts over the interesting edges (and NULLs) of both ranges.
INSERT INTO csm.account (external_id, arr, seats)
SELECT 'tap_seg_' || i,
       (ARRAY[NULL, 0, 24999.99, 25000, 60000, 100000, 100000.01, 500000])[1 + (i % 8)]::numeric,
       (ARRAY[NULL, 0, 49, 50, 300, 500, 501, 1000, 5])[1 + ((i / 8) % 9)]
FROM generate_series(1, 2000) i;
SELECT is_empty($$
    SELECT external_id, arr, seats, segment FROM csm.account
    WHERE external_id LIKE 'tap_seg_%' AND segment IS DISTINCT FROM pg_temp.expected_segment(arr, seats)
$$, 'every account gets the segment of the documented placement, edges and NULLs included');
SELECT is((SELECT count(*)::integer FROM csm.account WHERE external_id LIKE 'tap_seg_%' AND (segment IS NULL OR segment_manual)), 0,
          'none is left without a segment, none is marked manual');
UPDATE csm.account SET arr = coalesce(arr, 0) + 30000, seats = coalesce(seats, 0) + 60 WHERE external_id LIKE 'tap_seg_%';
SELECT is_empty($$
    SELECT external_id FROM csm.account
    WHERE external_id LIKE 'tap_seg_%' AND segment IS DISTINCT FROM pg_temp.expected_segment(arr, seats)
$$, 'after ARR and seats change, every derived segment follows');
SELECT is(csm.segment_for('{"arr": 500000, "seats": 10}'), 'enterprise', 'segment_for: high ARR and few seats is enterprise (ARR decides)');
SELECT is(csm.refresh_segments(), 0::bigint, 'refresh_segments changes nothing when the rules have not changed');

-- Manual segments stick, and are marked.
INSERT INTO csm.account (external_id, arr, seats, segment) VALUES ('tap_key', 1000, 3, 'strategic');
SELECT ok((SELECT segment_manual FROM csm.account WHERE external_id = 'tap_key'), 'a segment given on insert is manual');
UPDATE csm.account SET arr = 900000, seats = 900 WHERE external_id = 'tap_key';
SELECT is((SELECT segment FROM csm.account WHERE external_id = 'tap_key'), 'strategic', 'a manual segment sticks when ARR and seats change');
UPDATE csm.segment_rule SET priority = 0 WHERE rule_id = 9;  -- everything SMB
SELECT cmp_ok(csm.refresh_segments(), '>', 0::bigint, 'refresh_segments moves derived accounts after a rule change');
SELECT is((SELECT segment FROM csm.account WHERE external_id = 'tap_key'), 'strategic', 'and leaves manual ones alone');
SELECT is((SELECT count(*)::integer FROM csm.account WHERE external_id LIKE 'tap_seg_%' AND segment <> 'smb'), 0,
          'every derived account follows the changed rule');
SELECT ok(NOT (SELECT builtin FROM csm.segment_rule WHERE rule_id = 9), 'a changed built-in rule is no longer built-in (pg_dump keeps it)');
UPDATE csm.segment_rule SET priority = 90 WHERE rule_id = 9;
SELECT is(csm.set_segment('tap_key', NULL), 'enterprise', 'set_segment(NULL) hands the account back to the rules');
SELECT ok(NOT (SELECT segment_manual FROM csm.account WHERE external_id = 'tap_key'), 'and clears the mark');
SELECT is(csm.set_segment('tap_key', 'enterprise'), 'enterprise', 'set_segment to the derived segment pins it');
SELECT ok((SELECT segment_manual FROM csm.account WHERE external_id = 'tap_key'), 'as manual');
UPDATE csm.account SET segment = NULL WHERE external_id = 'tap_key';
SELECT is((SELECT segment || '/' || segment_manual FROM csm.account WHERE external_id = 'tap_key'), 'enterprise/false',
          'setting segment to NULL derives it again');

-- Refused: unknown names, and rules reading what is not the account's.
SELECT throws_ok($$INSERT INTO csm.account (external_id, segment) VALUES ('tap_typo', 'mid-market')$$, '23503',
                 'unknown segment "mid-market"', '''mid-market'' is an unknown segment (23503), not SMB');
SELECT throws_ok($$UPDATE csm.account SET segment = 'Enterprise' WHERE external_id = 'tap_key'$$, '23503',
                 'unknown segment "Enterprise"', '''Enterprise'' is an unknown segment (23503): names are case-sensitive');
SELECT throws_ok($$SELECT csm.set_segment('tap_key', 'gold')$$, '23503', NULL, 'set_segment refuses an unknown segment (23503)');
SELECT throws_ok($$SELECT csm.set_segment('tap_nobody', 'smb')$$, 'P0002', NULL, 'set_segment: unknown account (P0002)');
SELECT throws_ok($$SELECT csm.set_segment(NULL, 'smb')$$, '22004', NULL, 'set_segment: NULL org_user_id (22004)');
SELECT throws_ok($$INSERT INTO csm.segment_rule (priority, segment, condition) VALUES (1, 'smb', 'health_score > 80')$$, '23514', NULL,
                 'a segment rule reading health is refused (23514)');
SELECT throws_ok($$INSERT INTO csm.segment_rule (priority, segment, condition) VALUES (1, 'gold', 'arr > 1')$$, '23503', NULL,
                 'a segment rule naming an unknown segment is refused (23503)');
SELECT lives_ok($$INSERT INTO csm.segment_rule (priority, segment, condition) VALUES (1, 'smb', 'plan = ''free'' AND property.region = ''emea''')$$,
                'a rule on plan and a property is accepted');
SELECT throws_ok($$INSERT INTO csm.segment (name, csm_ratio, touch_model, review_cadence) VALUES ('x', 0, 'low_touch', '1 year')$$,
                 '23514', NULL, 'a CSM ratio of 0 is refused (23514)');
SELECT throws_ok($$INSERT INTO csm.segment (name, csm_ratio, touch_model, review_cadence) VALUES ('x', 10, 'tech', '1 year')$$,
                 '23514', NULL, 'an unknown touch model is refused (23514)');
SELECT throws_ok($$DELETE FROM csm.segment WHERE name = 'smb'$$, '23503', NULL, 'a segment in use cannot be deleted (23503)');

-- Built-in rows: a change makes the row the user's; a restore's insert of
-- it updates the seeded row.
UPDATE csm.segment SET csm_ratio = 80 WHERE name = 'smb';
SELECT ok(NOT (SELECT builtin FROM csm.segment WHERE name = 'smb'), 'a changed built-in segment is no longer built-in');
CREATE TEMP TABLE tap_restore AS SELECT * FROM csm.segment WHERE name = 'smb';
UPDATE csm.segment SET builtin = true, csm_ratio = 100 WHERE name = 'smb';  -- as CREATE EXTENSION made it
INSERT INTO csm.segment SELECT * FROM tap_restore;
SELECT is((SELECT csm_ratio || '/' || builtin FROM csm.segment WHERE name = 'smb'), '80/false',
          'inserting a changed built-in segment over the seeded one (a restore) updates it');

-- Capacity from the ratios: a member without a capacity holds a full book.
INSERT INTO csm.team_member (handle, teams, capacity) VALUES ('tap_cap', ARRAY['tap_pool'], NULL);
INSERT INTO csm.routing_rule (name, priority, target_kind, target) VALUES ('tap_pool', 1, 'team', 'tap_pool');
INSERT INTO csm.account (external_id, segment) SELECT 'tap_ent_' || i, 'enterprise' FROM generate_series(1, 11) i;
SELECT is((SELECT accounts::integer FROM csm.assignment_workload WHERE handle = 'tap_cap'), 10,
          'a member without a capacity takes 10 enterprise accounts (the ratio 1:10), not 11');
SELECT is((SELECT kind FROM csm.unassigned_queue WHERE external_id = 'tap_ent_11'), 'no_capacity',
          'the eleventh waits in the unassigned queue, its reason no_capacity');

SELECT * FROM finish();
ROLLBACK;
