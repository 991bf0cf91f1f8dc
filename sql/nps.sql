-- The NPS program (issue 13, section 5): answers with their kind and derived
-- category, the actions per category, the closed loop with its 24 and 48
-- hour deadlines, the summary against hand-computed fixtures, the monthly
-- trend, and the health models' input (the latest relationship answer).
\set VERBOSITY terse
SET TimeZone = 'UTC';

INSERT INTO csm.team_member (handle, roles) VALUES ('nps_ann', ARRAY['csm']);
INSERT INTO csm.account (external_id, segment, started_at, status, churned_at) VALUES
    ('e1', 'enterprise', '2025-01-01', 'active', NULL),
    ('e2', 'enterprise', '2025-01-01', 'active', NULL),
    ('s1', 'smb', '2025-01-01', 'active', NULL),
    ('s2', 'smb', '2025-01-01', 'active', NULL),
    ('s3', 'smb', '2025-01-01', 'churned', '2025-12-01'),  -- gone before the period
    ('x1', 'smb', '2026-05-01', 'active', NULL);           -- a customer only after it
SELECT assignment_success FROM csm.csm_assign('e1', 'nps_ann');

-- the seed's actions per category
SELECT category, min_score, max_score, action, engagement FROM csm.nps_category ORDER BY min_score DESC;

-- Recording an answer: the category is derived, the action comes with it,
-- and the owner and deadlines of the follow-up it opens.
SELECT category, action, engagement, owner, notify_due_at - now() AS notify_within, followup_due_at - now() AS follow_up_within
FROM csm.record_nps('e1', 3, comment => 'exports are slow', respondent => 'cto@e1.example');
SELECT score, category, survey_kind, respondent, comment FROM csm.nps_response ORDER BY response_id;

-- Past answers, loaded without follow-ups.  Q1 2026 is the period; the 90
-- days before it (2025-10-03 to 2025-12-31) the previous one.
SELECT count(*) AS loaded FROM (VALUES
    ('e2', 0, 'relationship', '2025-10-02 12:00+00'),   -- a day before the previous period
    ('e1', 5, 'relationship', '2025-11-10 12:00+00'),
    ('s1', 4, 'relationship', '2025-12-10 12:00+00'),
    ('e1', 10, 'relationship', '2026-01-15 12:00+00'),
    ('s1', 8, 'relationship', '2026-01-20 12:00+00'),
    ('e1', 9, 'transactional', '2026-02-10 12:00+00'),
    ('e2', 6, 'relationship', '2026-03-05 12:00+00'),
    ('s1', 3, 'milestone', '2026-03-06 12:00+00'),
    ('s2', 9, 'relationship', '2026-03-31 23:59:59+00'), -- the last second of the period
    ('s2', 0, 'relationship', '2026-04-01 00:00:00+00')  -- the first after it
) v(who, score, kind, at), csm.record_nps(v.who, v.score, v.kind, responded_at => v.at::timestamptz, open_followup => false);
SELECT count(*) AS followups FROM csm.nps_followup;

-- Q1: 6 answers (promoters 10, 9, 9; passive 8; detractors 6, 3): NPS =
-- (3 - 2) / 6 = 16.7.  Customers in the period: e1, e2, s1, s2 (s3 left
-- before it, x1 came after); all four answered.  The 90 days before: 5 and
-- 4, NPS -100 (e2's 0 is a day too early), so the change is +116.7.
SELECT * FROM csm.nps_summary('2026-01-01', '2026-03-31');
-- smb: 8, 3, 9: NPS 0; both customers (s1, s2) answered; before: s1's 4.
SELECT responses, promoters, passives, detractors, nps, accounts, accounts_responding, response_rate, previous_nps, nps_change
FROM csm.nps_summary('2026-01-01', '2026-03-31', 'smb');
-- enterprise: 10, 9, 6: NPS 33.3; before: 5.
SELECT responses, nps, accounts, response_rate, previous_responses, previous_nps, nps_change
FROM csm.nps_summary('2026-01-01', '2026-03-31', 'enterprise');
-- relationship surveys only: e1's transactional 9 and s1's milestone 3 are
-- left out: 10, 8, 6, 9: (2 - 1) / 4 = 25.
SELECT responses, promoters, detractors, nps FROM csm.nps_summary('2026-01-01', '2026-03-31', survey_kind => 'relationship');
-- a period without answers: counts 0, NPS NULL, never a division by zero
SELECT responses, nps, accounts, accounts_responding, response_rate, previous_nps
FROM csm.nps_summary('2025-06-01', '2025-06-30');

-- The monthly trend, zero-filled (May 2026 has no answer), with the three
-- months pooled: January 1 promoter 1 passive (50), three months
-- November-January 1 promoter 2 detractors of 4 (-25).
SELECT month, responses, promoters, passives, detractors, nps, responses_3m, nps_3m
FROM csm.nps_monthly WHERE all_segments AND month BETWEEN '2025-10-01' AND '2026-05-01' ORDER BY month;
SELECT month, segment, responses, nps, nps_3m
FROM csm.nps_monthly WHERE NOT all_segments AND month BETWEEN '2026-01-01' AND '2026-03-01' ORDER BY month, segment;
SELECT min(month) AS first_month, max(month) = date_trunc('month', now())::date AS up_to_this_month
FROM csm.nps_monthly;

-- Health models read the latest relationship answer: e1's transactional 9
-- of February 10 does not replace its relationship 10 of January 15, and
-- s1's milestone 3 does not replace its 8.
SELECT external_id, nps FROM csm.account_metrics_at('2026-03-01') WHERE external_id IN ('e1', 's1') ORDER BY 1;
SELECT external_id, nps FROM csm.account_metrics_at('2026-03-31') WHERE external_id IN ('e1', 's1') ORDER BY 1;
SELECT csm.routing_facts(account_id) ->> 'nps' AS routing_nps FROM csm.account WHERE external_id = 's1';

-- The closed loop.  An answer given 30 hours ago: the owner was not
-- notified within 24 hours (breached), the follow-up is still in time.
SELECT response_id AS late FROM csm.record_nps('s2', 6, responded_at => now() - interval '30 hours') \gset
SELECT external_id, category, owner, state, notify_breached, followup_breached, sla_breached, next_due_at = notify_due_at AS next_is_notify
FROM csm.nps_followup ORDER BY response_id;
SELECT state, notify_breached, followup_breached, next_due_at = followup_due_at AS next_is_follow_up
FROM csm.update_nps_followup(:late, 'notified');
-- skipping followed_up stamps it with the resolution
SELECT state, outcome, followed_up_at = resolved_at AS follow_up_stamped, followup_breached
FROM csm.update_nps_followup(:late, 'resolved', 'called; the export fix ships next week');
-- escalated, then resolved
SELECT response_id AS fresh FROM csm.nps_followup WHERE external_id = 'e1' \gset
SELECT state, outcome, sla_breached FROM csm.update_nps_followup(:fresh, 'escalated', 'needs the VP of engineering');
SELECT state, outcome, escalated_at IS NOT NULL AS was_escalated, notified_at IS NOT NULL AS notified, sla_breached
FROM csm.update_nps_followup(:fresh, 'resolved', 'fix scheduled with the sponsor');
-- A plain INSERT opens its follow-up too (owned by e1's primary owner).
INSERT INTO csm.nps_response (account_id, score, survey_kind) SELECT account_id, 10, 'milestone' FROM csm.account WHERE external_id = 'e1';
SELECT external_id, category, owner, state, action FROM csm.nps_followup WHERE state = 'open' ORDER BY response_id;
-- A corrected score changes the category, and the follow-up shows it.
UPDATE csm.nps_response SET score = 7 WHERE score = 10 AND survey_kind = 'milestone';
SELECT category, action FROM csm.nps_followup WHERE state = 'open';
-- Your own action for a category takes the place of the seed's, which stay
-- built in; delete yours and the seed's is back.
INSERT INTO csm.nps_category (category, min_score, max_score, action, engagement)
VALUES ('passive', 7, 8, 'Ask what would make it a 9', 'Feature adoption campaigns');
SELECT category, action FROM csm.nps_followup WHERE state = 'open';
DELETE FROM csm.nps_category WHERE category = 'passive' AND NOT builtin;
SELECT category, action FROM csm.nps_followup WHERE state = 'open';
SELECT category, builtin, action FROM csm.nps_category ORDER BY min_score DESC, builtin;
-- an answer deleted takes its follow-up with it
DELETE FROM csm.nps_response WHERE survey_kind = 'milestone' AND score = 7;
SELECT count(*) AS open_followups FROM csm.nps_followup WHERE state = 'open';

-- refused
SELECT * FROM csm.record_nps('e1', 11);
SELECT * FROM csm.record_nps('e1', 9, 'quarterly');
SELECT * FROM csm.record_nps('nobody', 9);
SELECT * FROM csm.update_nps_followup(:late, 'notified');
SELECT * FROM csm.update_nps_followup(:late, 'closed');
SELECT * FROM csm.nps_summary('2026-03-31', '2026-01-01');
SELECT * FROM csm.nps_summary('2026-01-01', '2026-03-31', 'mid-market');
UPDATE csm.nps_category SET action = 'Call them' WHERE category = 'detractor';
DELETE FROM csm.nps_category WHERE category = 'passive';
INSERT INTO csm.nps_category VALUES ('promoter', 9, 10, 'x', 'y', true);
-- (the constraint's message names the Citus shard there: the SQLSTATE only)
\set VERBOSITY sqlstate
INSERT INTO csm.nps_category VALUES ('fan', 9, 10, 'x', 'y');
INSERT INTO csm.nps_category VALUES ('promoter', 7, 10, 'x', 'y');
\set VERBOSITY terse

-- leave a fresh extension for the next test
DROP EXTENSION csm CASCADE;
CREATE EXTENSION csm;
