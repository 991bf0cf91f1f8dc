-- citus-differs: errors raised on a worker carry a "while executing command on" context, and constraint errors name the shard (segment_rule_NNNNNN, account_NNNNNN); test/citus/segment.sql checks the same answers on a cluster.
-- Segmentation with CSM ratios (issue 13, section 4).
SET client_min_messages = warning;

-- The seed's segments and rules.
SELECT name, csm_ratio, touch_model, review_cadence FROM csm.segment ORDER BY csm_ratio;
SELECT priority, segment, condition, description FROM csm.segment_rule ORDER BY priority;

-- Derived on insert: the seed's ranges, and accounts matching none of them
-- (ARR decides when ARR and seats disagree; seats without ARR; SMB when
-- nothing is known).
INSERT INTO csm.account (external_id, arr, seats) VALUES
    ('ent', 500000, 1000),      -- the issue's account: enterprise, not NULL
    ('mid', 50000, 120),
    ('small', 9000, 12),
    ('rich_few_seats', 500000, 10),
    ('poor_many_seats', 10000, 300),
    ('edge_25k_50', 25000, 50),
    ('edge_100k_500', 100000, 500),
    ('seats_only', NULL, 800),
    ('nothing', NULL, NULL);
SELECT external_id, arr, seats, segment, segment_manual FROM csm.account ORDER BY account_id;

-- A segment given on insert is set by hand: it sticks.
INSERT INTO csm.account (external_id, arr, seats, segment) VALUES ('key', 20000, 10, 'strategic');
-- Facts change: derived segments follow, the manual one stays.
UPDATE csm.account SET arr = 150000, seats = 600 WHERE external_id IN ('small', 'key');
SELECT external_id, segment, segment_manual FROM csm.account WHERE external_id IN ('small', 'key') ORDER BY 1;

-- Set by hand with UPDATE, then cleared with NULL: derived again.
UPDATE csm.account SET segment = 'strategic' WHERE external_id = 'mid';
SELECT external_id, segment, segment_manual FROM csm.account WHERE external_id = 'mid';
UPDATE csm.account SET arr = 1000, seats = 3 WHERE external_id = 'mid';
SELECT external_id, segment, segment_manual FROM csm.account WHERE external_id = 'mid';
UPDATE csm.account SET segment = NULL WHERE external_id = 'mid';
SELECT external_id, segment, segment_manual FROM csm.account WHERE external_id = 'mid';

-- The same through csm.set_segment.
SELECT csm.set_segment('ent', 'strategic'), csm.set_segment('ent', NULL);

-- Unknown names are errors, never silently SMB.
INSERT INTO csm.account (external_id, segment) VALUES ('typo', 'mid-market');
UPDATE csm.account SET segment = 'Enterprise' WHERE external_id = 'ent';
SELECT csm.set_segment('ent', 'gold');

-- Rules read only the account's own columns and properties.
INSERT INTO csm.segment_rule (priority, segment, condition) VALUES (1, 'enterprise', 'health_score > 80');
-- A rule on a property, then a refresh moves the derived accounts only.
INSERT INTO csm.segment_rule (priority, segment, condition) VALUES (5, 'strategic', 'property.key_account = ''true''');
UPDATE csm.account SET properties = '{"key_account": true}' WHERE external_id IN ('poor_many_seats', 'key');
SELECT external_id, segment, segment_manual FROM csm.account WHERE external_id IN ('poor_many_seats', 'key') ORDER BY 1;
UPDATE csm.segment_rule SET enabled = false WHERE priority = 5;
SELECT csm.refresh_segments() AS changed, csm.refresh_segments() AS again;
SELECT external_id, segment FROM csm.account WHERE external_id = 'poor_many_seats';

-- Capacity from the ratio: a member without a capacity takes a full book,
-- 100 load units: 5 strategic accounts (20 each), not a sixth.
INSERT INTO csm.team_member (handle, capacity) VALUES ('kam', NULL);
INSERT INTO csm.account (external_id, segment) VALUES
    ('key_1', 'strategic'), ('key_2', 'strategic'), ('key_3', 'strategic'), ('key_4', 'strategic'), ('key_5', 'strategic'), ('key_6', 'strategic');
SELECT a.external_id, r.assignment_success, r.message
FROM csm.account a, LATERAL csm.csm_assign(a.external_id, 'kam') r
WHERE a.external_id LIKE 'key\_%' ORDER BY a.account_id;
SELECT handle, accounts, load, capacity, effective_capacity, capacity_from_ratio, room, utilisation
FROM csm.assignment_workload WHERE handle = 'kam';
SELECT segment, csm_ratio, accounts, manual, with_primary, without_primary, csms_needed
FROM csm.segment_coverage ORDER BY csm_ratio;

-- A segment in use cannot be deleted.
DELETE FROM csm.segment WHERE name = 'strategic';

DELETE FROM csm.account;
DELETE FROM csm.team_member;
DELETE FROM csm.segment_rule WHERE NOT builtin;
