-- The NPS program on Citus: every NPS call on a cluster where
-- csm.distribute() has run gives the single-node answers (the same file
-- passes with pg_prove on a single node, which is how the values below
-- were checked; they are also counted out by hand in sql/nps.sql).  On the
-- cluster it also checks where the rows live: each follow-up on its
-- answer's shard.  Everything is rolled back.
BEGIN;
SELECT plan(16);
SET LOCAL timezone = 'UTC';
SET LOCAL client_min_messages = warning;

CREATE FUNCTION pg_temp.citus() RETURNS boolean LANGUAGE sql
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') $$;

INSERT INTO csm.team_member (handle, roles) VALUES ('cz_nps_ann', ARRAY['csm']);
INSERT INTO csm.account (account_id, external_id, segment, started_at, status, churned_at) VALUES
    (9701, 'cz_e1', 'enterprise', '2025-01-01', 'active', NULL),
    (9702, 'cz_e2', 'enterprise', '2025-01-01', 'active', NULL),
    (9703, 'cz_s1', 'smb', '2025-01-01', 'active', NULL),
    (9704, 'cz_s2', 'smb', '2025-01-01', 'active', NULL),
    (9705, 'cz_s3', 'smb', '2025-01-01', 'churned', '2025-12-01'),
    (9706, 'cz_x1', 'smb', '2026-05-01', 'active', NULL);
SELECT ok((SELECT assignment_success FROM csm.csm_assign('cz_e1', 'cz_nps_ann')), 'cz_e1 has an owner');

SELECT count(*) FROM (VALUES
    ('cz_e2', 0, 'relationship', '2025-10-02 12:00+00'),
    ('cz_e1', 5, 'relationship', '2025-11-10 12:00+00'),
    ('cz_s1', 4, 'relationship', '2025-12-10 12:00+00'),
    ('cz_e1', 10, 'relationship', '2026-01-15 12:00+00'),
    ('cz_s1', 8, 'relationship', '2026-01-20 12:00+00'),
    ('cz_e1', 9, 'transactional', '2026-02-10 12:00+00'),
    ('cz_e2', 6, 'relationship', '2026-03-05 12:00+00'),
    ('cz_s1', 3, 'milestone', '2026-03-06 12:00+00'),
    ('cz_s2', 9, 'relationship', '2026-03-31 23:59:59+00'),
    ('cz_s2', 0, 'relationship', '2026-04-01 00:00:00+00')
) v(who, score, kind, at), csm.record_nps(v.who, v.score, v.kind, responded_at => v.at::timestamptz, open_followup => false);

-- the summary, all accounts, one segment, one kind (hand counts: sql/nps.sql)
SELECT is((SELECT ROW(s.responses, s.promoters, s.passives, s.detractors, s.nps, s.accounts, s.accounts_responding,
                      s.response_rate, s.previous_responses, s.previous_nps, s.nps_change)::text
           FROM csm.nps_summary('2026-01-01', '2026-03-31') s),
          '(6,3,1,2,16.7,4,4,100.0,2,-100.0,116.7)', 'nps_summary, every account');
SELECT is((SELECT ROW(s.responses, s.nps, s.accounts, s.response_rate, s.previous_nps, s.nps_change)::text
           FROM csm.nps_summary('2026-01-01', '2026-03-31', 'smb') s),
          '(3,0.0,2,100.0,-100.0,100.0)', 'nps_summary, one segment');
SELECT is((SELECT ROW(s.responses, s.promoters, s.detractors, s.nps)::text
           FROM csm.nps_summary('2026-01-01', '2026-03-31', survey_kind => 'relationship') s),
          '(4,2,1,25.0)', 'nps_summary, relationship surveys');
-- the monthly trend, zero-filled, with the pooled three months
SELECT is((SELECT string_agg(format('%s:%s:%s:%s', m.month, m.responses, m.nps, m.nps_3m), ' ' ORDER BY m.month)
           FROM csm.nps_monthly m WHERE m.all_segments AND m.month BETWEEN '2025-10-01' AND '2026-05-01'),
          '2025-10-01:1:-100.0:-100.0 2025-11-01:1:-100.0:-100.0 2025-12-01:1:-100.0:-100.0 2026-01-01:2:50.0:-25.0 '
          '2026-02-01:1:100.0:25.0 2026-03-01:3:-33.3:16.7 2026-04-01:1:-100.0:-20.0 2026-05-01:0::-50.0',
          'nps_monthly, every account');
SELECT is((SELECT string_agg(format('%s:%s:%s:%s', m.month, m.segment, m.nps, m.nps_3m), ' ' ORDER BY m.month, m.segment)
           FROM csm.nps_monthly m WHERE NOT m.all_segments AND m.month BETWEEN '2026-01-01' AND '2026-02-01'),
          '2026-01-01:enterprise:100.0:0.0 2026-01-01:smb:0.0:-50.0 2026-02-01:enterprise:100.0:100.0 2026-02-01:smb::-50.0',
          'nps_monthly, per segment');
-- health models read the latest relationship answer
SELECT is((SELECT string_agg(m.external_id || '=' || m.nps, ' ' ORDER BY m.external_id)
           FROM csm.account_metrics_at('2026-03-31') m WHERE m.external_id IN ('cz_e1', 'cz_s1')),
          'cz_e1=10 cz_s1=8', 'account_metrics reads the latest relationship answer');
SELECT is(csm.routing_facts(9703) ->> 'nps', '8', 'so do the routing facts');

-- the closed loop: record, owner, breach, move forward
SELECT is((SELECT r.category || '/' || r.owner FROM csm.record_nps('cz_e1', 3, comment => 'slow') r),
          'detractor/cz_nps_ann', 'record_nps opens a follow-up for the owner');
SELECT is((SELECT string_agg(format('%s:%s:%s', f.external_id, f.state, f.notify_breached), ' ' ORDER BY f.response_id)
           FROM csm.nps_followup f),
          'cz_e1:open:f', 'one open follow-up, in time');
INSERT INTO csm.nps_response (account_id, score, responded_at) VALUES (9704, 6, now() - interval '30 hours');
-- (one account's rows are a router query on Citus, which would send the
-- whole statement, pgTAP's call included, to the worker: read them first)
SELECT format('%s:%s:%s', f.state, f.notify_breached, f.followup_breached) AS got, f.response_id AS late
FROM csm.nps_followup f WHERE f.account_id = 9704 \gset
SELECT is(:'got'::text, 'open:t:f'::text, 'a plain INSERT opens one too, 24 hours breached');
SELECT u.state || ':' || u.outcome AS got FROM csm.update_nps_followup(:late, 'escalated', 'to the VP') u \gset
SELECT is(:'got'::text, 'escalated:to the VP'::text, 'escalated');
SELECT state || ':' || outcome AS got FROM csm.nps_loop WHERE account_id = 9704 \gset
SELECT is(:'got'::text, 'escalated:to the VP'::text, 'the move is stored');
SELECT throws_ok(format($$SELECT * FROM csm.update_nps_followup(%s, 'notified')$$, :late),
                 '55000', NULL, 'and never goes back');

-- On the cluster: the loop is distributed with the answers, each row on its
-- answer's shard; the categories are a reference table.
CREATE FUNCTION pg_temp.placement() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    got text;
BEGIN
    EXECUTE $q$
        SELECT string_agg(format('%s:%s', c.relname, p.partmethod), ' ' ORDER BY c.relname)
        FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
        WHERE c.relname IN ('nps_category', 'nps_loop', 'nps_response')
          AND (p.partmethod = 'n' OR p.colocationid = (SELECT q.colocationid FROM pg_dist_partition q
                                                      WHERE q.logicalrelid = 'csm.nps_response'::regclass))$q$ INTO got;
    RETURN got;
END $$;
SELECT CASE WHEN pg_temp.citus() THEN
    is(pg_temp.placement(), 'nps_category:n nps_loop:h nps_response:h',
       'nps_loop is colocated with nps_response; nps_category is a reference table')
    ELSE pass('single node: no placement to check') END;

-- Multi-row inserts into csm.nps_category: Citus COPYs them to every node at once, and
-- the trigger of each copy must not run a distributed query meanwhile.
SELECT lives_ok($$INSERT INTO csm.nps_category (category, min_score, max_score, action, engagement)
                  VALUES ('promoter', 9, 10, 'Ask for a review', 'Community'), ('passive', 7, 8, 'Ask what is missing', 'Webinar')$$,
                'a multi-row INSERT ... VALUES into csm.nps_category');

SELECT * FROM finish();
ROLLBACK;
