-- The NPS program: every documented error by SQLSTATE, the summary's
-- formula checked over many generated answers against a count written out
-- here, and the closed loop's rules (one follow-up per answer, forward only).
BEGIN;
SELECT plan(33);
SET LOCAL timezone = 'UTC';

INSERT INTO csm.account (account_id, external_id, segment, started_at)
SELECT 9500 + i, 'tap_nps_' || i, CASE WHEN i % 3 = 0 THEN 'enterprise' ELSE 'smb' END, now() - interval '400 days'
FROM generate_series(1, 30) AS i;

-- record_nps: errors
SELECT throws_ok($$SELECT * FROM csm.record_nps('tap_nps_1', 11)$$, '22023', NULL, 'a score above 10');
SELECT throws_ok($$SELECT * FROM csm.record_nps('tap_nps_1', -1)$$, '22023', NULL, 'a negative score');
SELECT throws_ok($$SELECT * FROM csm.record_nps('tap_nps_1', 9, 'quarterly')$$, '22023', NULL, 'an unknown survey kind');
SELECT throws_ok($$SELECT * FROM csm.record_nps('tap_nps_1', 9, respondent => '  ')$$, '22023', NULL, 'a blank respondent');
SELECT throws_ok($$SELECT * FROM csm.record_nps('tap_nps_1', 9, responded_at => now() + interval '1 day')$$, '22023', NULL,
                 'an answer from the future');
SELECT throws_ok($$SELECT * FROM csm.record_nps('tap_nps_1', 9, responded_at => 'infinity')$$, '22023', NULL, 'an infinite time');
SELECT throws_ok($$SELECT * FROM csm.record_nps('tap_nps_1', NULL)$$, '22004', NULL, 'a NULL score');
SELECT throws_ok($$SELECT * FROM csm.record_nps(NULL, 9)$$, '22004', NULL, 'a NULL account');
SELECT throws_ok($$SELECT * FROM csm.record_nps('tap_nps_1', 9, NULL)$$, '22004', NULL, 'a NULL survey kind');
SELECT throws_ok($$SELECT * FROM csm.record_nps('tap_nobody', 9)$$, 'P0002', NULL, 'an unknown account');
-- the table refuses what the function refuses
SELECT throws_ok($$INSERT INTO csm.nps_response (account_id, score, survey_kind) VALUES (9501, 9, 'nps')$$, '23514', NULL,
                 'the table refuses an unknown survey kind');
SELECT throws_ok($$INSERT INTO csm.nps_response (account_id, score, responded_at) VALUES (9501, 9, '-infinity')$$, '23514', NULL,
                 'the table refuses an infinite time');
SELECT throws_ok($$INSERT INTO csm.nps_response (account_id, score, category) VALUES (9501, 2, 'promoter')$$, '428C9', NULL,
                 'the category is derived, never written');

-- The category, over every score.
SELECT is((SELECT string_agg(r.category, ',' ORDER BY s)
           FROM generate_series(0, 10) AS s, csm.record_nps('tap_nps_2', s, open_followup => false) r),
          'detractor,detractor,detractor,detractor,detractor,detractor,detractor,passive,passive,promoter,promoter',
          'categories: 0-6 detractor, 7-8 passive, 9-10 promoter');

-- One follow-up per answer, whichever way it was written; none with open_followup false.
-- (read first: on Citus one account's rows are a router query, which would
-- take pgTAP's call with it to the worker)
SELECT count(*) AS loops FROM csm.nps_loop WHERE account_id = 9502 \gset
SELECT is(:loops, 0, 'open_followup => false opens none');
INSERT INTO csm.nps_response (account_id, score) SELECT 9500 + i, 5 FROM generate_series(3, 5) AS i;
SELECT is((SELECT count(*) FROM csm.nps_loop WHERE account_id BETWEEN 9503 AND 9505 AND state = 'open'), 3::bigint,
          'a multi-row INSERT opens one follow-up per answer');

-- update_nps_followup: errors and the order of states
SELECT response_id AS tap_r FROM csm.record_nps('tap_nps_6', 2) \gset
SELECT throws_ok(format($$SELECT * FROM csm.update_nps_followup(%s, 'open')$$, :tap_r), '22023', NULL, 'open is where it starts, not a move');
SELECT throws_ok(format($$SELECT * FROM csm.update_nps_followup(%s, 'done')$$, :tap_r), '22023', NULL, 'an unknown state');
SELECT throws_ok(format($$SELECT * FROM csm.update_nps_followup(%s, 'resolved')$$, :tap_r), '22023', NULL, 'resolved needs an outcome');
SELECT throws_ok(format($$SELECT * FROM csm.update_nps_followup(%s, 'escalated', '  ')$$, :tap_r), '22023', NULL,
                 'escalated needs an outcome, not a blank');
SELECT throws_ok($$SELECT * FROM csm.update_nps_followup(NULL, 'notified')$$, '22004', NULL, 'a NULL response');
SELECT throws_ok($$SELECT * FROM csm.update_nps_followup(-1, 'notified')$$, 'P0002', NULL, 'an answer without a follow-up');
-- two accounts' answers with one id (on Citus, answers inserted on two workers)
INSERT INTO csm.nps_response (account_id, response_id, score) VALUES (9507, -7, 5), (9508, -7, 6);
SELECT throws_ok($$SELECT * FROM csm.update_nps_followup(-7, 'notified')$$, '21000', NULL, 'an ambiguous response id');
SELECT is((SELECT state FROM csm.update_nps_followup(:tap_r, 'followed_up')), 'followed_up', 'notified may be skipped');
SELECT is((SELECT notified_at = followed_up_at FROM csm.nps_loop WHERE response_id = :tap_r), true,
          'and is stamped with the follow-up');
SELECT throws_ok(format($$SELECT * FROM csm.update_nps_followup(%s, 'notified')$$, :tap_r), '55000', NULL, 'never backwards');
SELECT throws_ok(format($$SELECT * FROM csm.update_nps_followup(%s, 'followed_up')$$, :tap_r), '55000', NULL, 'never the same step twice');
SELECT throws_ok($$UPDATE csm.nps_loop SET state = 'resolved' WHERE account_id = 9503$$, '23514', NULL,
                 'the table refuses a resolution without an outcome');

-- nps_summary: errors
SELECT throws_ok($$SELECT * FROM csm.nps_summary(current_date, current_date - 1)$$, '22023', NULL, 'from after to');
SELECT throws_ok($$SELECT * FROM csm.nps_summary(NULL, current_date)$$, '22004', NULL, 'a NULL from');
SELECT throws_ok($$SELECT * FROM csm.nps_summary('-infinity', current_date)$$, '22023', NULL, 'an unbounded period');
SELECT throws_ok($$SELECT * FROM csm.nps_summary(current_date - 7, current_date, 'Enterprise')$$, '22023', NULL,
                 'an unknown segment, never a silent empty answer');

-- The formula over 600 generated answers in 30 accounts and 60 days: NPS,
-- per segment and kind, is 100 * (promoters - detractors) / answers, counted
-- here from the scores themselves.
DELETE FROM csm.nps_response WHERE account_id BETWEEN 9501 AND 9530;
SELECT setseed(0.13);
INSERT INTO csm.nps_response (account_id, score, survey_kind, responded_at)
SELECT 9501 + (random() * 29)::integer, (random() * 10)::integer,
       (ARRAY['transactional', 'relationship', 'milestone'])[1 + (random() * 2)::integer],
       date_trunc('day', now()) - (random() * 60 * 86400)::integer * interval '1 second'
FROM generate_series(1, 600);
SELECT is(
    (SELECT array_agg(s.nps ORDER BY g.seg, g.kind COLLATE "C")
     FROM (VALUES ('smb'), ('enterprise')) g0(seg)
     CROSS JOIN LATERAL (SELECT g0.seg AS seg, k AS kind FROM unnest(ARRAY['transactional', 'relationship', 'milestone']) k) g
     CROSS JOIN LATERAL csm.nps_summary(current_date - 30, current_date, g.seg, g.kind) s),
    (SELECT array_agg(x.nps ORDER BY x.segment, x.survey_kind)
     FROM (SELECT a.segment, r.survey_kind,
                  round(100.0 * (count(*) FILTER (WHERE r.score >= 9) - count(*) FILTER (WHERE r.score <= 6)) / count(*), 1) AS nps
           FROM csm.nps_response r JOIN csm.account a USING (account_id)
           WHERE r.account_id BETWEEN 9501 AND 9530
             AND r.responded_at >= (current_date - 30)::timestamp AT TIME ZONE 'UTC'
           GROUP BY a.segment, r.survey_kind) x),
    'nps_summary is % promoters - % detractors for every segment and kind');

SELECT * FROM finish();
ROLLBACK;
