-- Churn bands and churn signals: band boundaries to the last bit and the
-- errors of non-probabilities; the shape of the tables (Citus-ready keys,
-- foreign keys, pg_dump); every signal firing on its positive case and not
-- on a near miss just across its threshold; refresh idempotency, clearing,
-- scoping, churned accounts and the errors of refresh and settings.
-- citus-differs: it tracks a local (undistributed) event table, which csm.track_usage() refuses on Citus with 0A000 (README "Usage rollups on Citus": distribute it first).
BEGIN;
SELECT plan(219);

-- Bands ---------------------------------------------------------------------

-- float8 as its 64 bits, to check that the "neighbours" below are adjacent.
CREATE FUNCTION pg_temp.bits(x float8) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS $$ SELECT ('x' || encode(float8send(x), 'hex'))::bit(64)::bigint $$;

SELECT ok(pg_temp.bits(0.29999999999999993) = pg_temp.bits(0.3) - 1
          AND pg_temp.bits(0.30000000000000004) = pg_temp.bits(0.3) + 1
          AND pg_temp.bits(0.49999999999999994) = pg_temp.bits(0.5) - 1
          AND pg_temp.bits(0.5000000000000001) = pg_temp.bits(0.5) + 1
          AND pg_temp.bits(0.6999999999999998) = pg_temp.bits(0.7) - 1
          AND pg_temp.bits(0.7000000000000001) = pg_temp.bits(0.7) + 1
          AND pg_temp.bits(0.9999999999999999) = pg_temp.bits(1) - 1
          AND pg_temp.bits(1.0000000000000002) = pg_temp.bits(1) + 1
          AND pg_temp.bits(5e-324) = 1,
          'the boundary neighbours used below are the adjacent float8 values');

SELECT is(csm.churn_band(p)::text, band, format('churn_band(%s) is %s', p, band))
FROM (VALUES ('0'::float8, 'low'), ('-0', 'low'), ('5e-324', 'low'), ('2.2250738585072014e-308', 'low'),
             ('0.29999999999999993', 'low'), ('0.3', 'moderate'), ('0.30000000000000004', 'moderate'),
             ('0.49999999999999994', 'moderate'), ('0.5', 'high'), ('0.5000000000000001', 'high'),
             ('0.6999999999999998', 'high'), ('0.7', 'high'), ('0.7000000000000001', 'critical'),
             ('0.9999999999999999', 'critical'), ('1', 'critical')) AS v(p, band);

SELECT is(csm.churn_risk_score(p), score, format('churn_risk_score(%s) is %s', p, score))
FROM (VALUES ('0'::float8, '0'::float8), ('0.3', '30'), ('0.5', '50'), ('0.7', '70'), ('1', '100'), ('0.25', '25')) AS v(p, score);
SELECT is(csm.churn_risk_score('-0')::text, '0', 'churn_risk_score(-0) is 0, not -0');
SELECT is(csm.churn_risk_score('5e-324'), '4.94e-322'::float8, 'a subnormal probability scales without error');

SELECT is(csm.churn_band(NULL), NULL, 'churn_band(NULL) is NULL');
SELECT is(csm.churn_risk_score(NULL), NULL, 'churn_risk_score(NULL) is NULL');

SELECT throws_ok(format('SELECT csm.%s(%L::float8)', f, p), '22003', NULL, format('%s(%s) raises 22003', f, p))
FROM unnest(ARRAY['churn_band', 'churn_risk_score']) AS f,
     unnest(ARRAY['NaN', 'Infinity', '-Infinity', '-5e-324', '-1e-300', '-0.3', '1.0000000000000002', '1.5',
                  '1e308']) AS p;
SELECT throws_ok($$SELECT csm.churn_band('NaN'::float8)$$, '22003', 'churn probability is NaN', 'the NaN message');
SELECT throws_ok($$SELECT csm.churn_band(1.5)$$, '22003', 'churn probability 1.5 is outside [0, 1]', 'the range message');

-- Against an independent definition in SQL, over the whole range and
-- densely around each boundary.
SELECT is_empty($$
    SELECT p FROM (SELECT random() AS p FROM generate_series(1, 20000)
                   UNION ALL SELECT b + k * 1e-17 FROM unnest(ARRAY[0.3, 0.5, 0.7]::float8[]) AS b, generate_series(-200, 200) AS k
                   UNION ALL SELECT b + k * 1e-9 FROM unnest(ARRAY[0.3, 0.5, 0.7]::float8[]) AS b, generate_series(-200, 200) AS k) x
    WHERE p BETWEEN 0 AND 1
      AND csm.churn_band(p)::text <> CASE WHEN p > 0.7 THEN 'critical' WHEN p >= 0.5 THEN 'high'
                                          WHEN p >= 0.3 THEN 'moderate' ELSE 'low' END
$$, 'churn_band agrees with the seed''s bands over 21,000 probabilities, densely around the boundaries');
SELECT is_empty($$
    SELECT p FROM (SELECT random() AS p FROM generate_series(1, 5000)) x
    WHERE csm.churn_risk_score(p) <> p * 100
$$, 'churn_risk_score is p x 100');
SELECT is_empty($$
    SELECT p, q FROM (SELECT random() AS p, random() AS q FROM generate_series(1, 5000)) x
    WHERE p <= q AND csm.churn_band(p) > csm.churn_band(q)
$$, 'churn_band is monotone');

SELECT volatility_is('csm', f, ARRAY['double precision'], 'immutable', f || ' is IMMUTABLE')
FROM unnest(ARRAY['churn_band', 'churn_risk_score']) AS f;
SELECT is_strict('csm', f, ARRAY['double precision'], f || ' is STRICT')
FROM unnest(ARRAY['churn_band', 'churn_risk_score']) AS f;
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = ('csm.' || f || '(float8)')::regprocedure), 's',
          f || ' is PARALLEL SAFE')
FROM unnest(ARRAY['churn_band', 'churn_risk_score']) AS f;
SELECT enum_has_labels('csm', 'churn_band', ARRAY['low', 'moderate', 'high', 'critical'], 'the bands, in order');

-- Schema ----------------------------------------------------------------------

SELECT has_table('csm', t, 'table csm.' || t)
FROM unnest(ARRAY['stakeholder', 'payment', 'account_note', 'engagement', 'churn_signal_kind',
                  'churn_signal_setting', 'churn_signal']) AS t;
SELECT has_view('csm', v, 'view csm.' || v) FROM unnest(ARRAY['churn_signal_config', 'churn_signal_current']) AS v;
SELECT col_type_is('csm', t, 'account_id', 'bigint', t || '.account_id is bigint')
FROM unnest(ARRAY['stakeholder', 'payment', 'account_note', 'engagement', 'churn_signal']) AS t;
SELECT col_not_null('csm', t, 'account_id', t || '.account_id is NOT NULL')
FROM unnest(ARRAY['stakeholder', 'payment', 'account_note', 'engagement', 'churn_signal']) AS t;
SELECT col_is_pk('csm', 'churn_signal', ARRAY['account_id', 'signal', 'first_seen_at'], 'churn_signal is keyed by account, signal and first seen');
SELECT col_is_pk('csm', 'churn_signal_kind', ARRAY['signal'], 'churn_signal_kind is keyed by signal');
SELECT is_empty($$
    SELECT i.indexrelid::regclass::text
    FROM pg_index i
    WHERE i.indisunique
      AND i.indrelid::regclass::text IN ('csm.stakeholder', 'csm.payment', 'csm.account_note', 'csm.engagement', 'csm.churn_signal')
      AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = i.indrelid AND attname = 'account_id') = ANY (i.indkey)
$$, 'every primary key and unique index of the per-account tables, partial ones included, has account_id');
SELECT is((SELECT i.indpred IS NOT NULL AND i.indisunique FROM pg_index i WHERE i.indexrelid = 'csm.churn_signal_open'::regclass),
          true, 'churn_signal_open is a partial unique index');
SELECT set_eq($$
    SELECT c.conrelid::regclass::text || ' -> ' || c.confrelid::regclass::text || ' ' || c.confdeltype::text
    FROM pg_constraint c
    WHERE c.contype = 'f' AND c.conrelid::regclass::text IN ('csm.stakeholder', 'csm.payment', 'csm.account_note',
          'csm.engagement', 'csm.churn_signal', 'csm.churn_signal_kind', 'csm.churn_signal_setting')
$$, $$ VALUES ('csm.stakeholder -> csm.account c'), ('csm.payment -> csm.account c'), ('csm.account_note -> csm.account c'),
              ('csm.engagement -> csm.account c'), ('csm.churn_signal -> csm.account c'),
              ('csm.churn_signal -> csm.churn_signal_kind a'), ('csm.churn_signal_setting -> csm.churn_signal_kind c') $$,
   'foreign keys: per-account tables to csm.account ON DELETE CASCADE, signals to their kind; the config tables point at no account');
SELECT set_eq($$
    SELECT c.relname, coalesce(x.cond, '') FROM pg_extension e,
           unnest(e.extconfig, e.extcondition) AS x(rel, cond) JOIN pg_class c ON c.oid = x.rel
    WHERE e.extname = 'csm' AND c.relname ~ '^(stakeholder|payment|account_note|engagement|churn_signal)'
$$, $$ VALUES ('stakeholder', ''), ('stakeholder_stakeholder_id_seq', ''), ('payment', ''), ('payment_payment_id_seq', ''),
              ('account_note', ''), ('account_note_note_id_seq', ''), ('engagement', ''), ('engagement_engagement_id_seq', ''),
              ('churn_signal_kind', 'WHERE NOT builtin'), ('churn_signal_setting', ''), ('churn_signal', '') $$,
   'pg_dump keeps the input tables, settings and signals, and the signal kinds that are not built in');
SELECT is_empty($$
    SELECT c.relname FROM pg_class c
    WHERE c.relnamespace = 'csm'::regnamespace AND c.relkind IN ('r', 'v')
      AND c.relname ~ '^(stakeholder|payment|account_note|engagement|churn_signal)' AND obj_description(c.oid, 'pg_class') IS NULL
    UNION ALL
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'csm'::regnamespace AND p.proname ~ 'churn_(signal|band|risk)'
      AND obj_description(p.oid, 'pg_proc') IS NULL
$$, 'every churn signal table, view and function has a comment');
SELECT is((SELECT count(*)::integer FROM csm.churn_signal_kind WHERE builtin), 19, '19 built-in signals');
SELECT is_empty($$
    SELECT signal FROM csm.churn_signal_kind
    WHERE builtin AND prior_weight <> CASE strength WHEN 'strong' THEN 1.2 WHEN 'moderate' THEN 0.6 ELSE 0.3 END
$$, 'default prior weights: strong 1.2, moderate 0.6, early 0.3');

-- Signals: a positive case and a near miss for each ---------------------------------
-- As of 2026-06-30 12:00 UTC. Each case is its own account; detection is
-- asked for that account alone.

CREATE TABLE tap_events (org text, at timestamptz, feature text);
SELECT ok(csm.track_usage('tap_events', 'org', 'at', 'feature') > 0, 'usage is tracked');

CREATE FUNCTION pg_temp.acct(ext text, started date DEFAULT '2025-01-01', renewal date DEFAULT '2027-03-01')
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO csm.account (external_id, started_at, renewal_date) VALUES (ext, started, renewal) RETURNING account_id
$$;
CREATE FUNCTION pg_temp.id(ext text) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT account_id FROM csm.account WHERE external_id = ext $$;
-- n events on a day, on features f1..f<features> in turn
CREATE FUNCTION pg_temp.use(ext text, d date, n integer, features integer DEFAULT 5) RETURNS void LANGUAGE sql AS $$
    INSERT INTO tap_events SELECT ext, d + time '10:00', 'f' || (1 + (i - 1) % features) FROM generate_series(1, n) AS i
$$;
CREATE FUNCTION pg_temp.fires(ext text, sig text, at timestamptz DEFAULT '2026-06-30 12:00+00') RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT FROM csm.churn_signals_at(at, ARRAY[pg_temp.id(ext)]) s WHERE s.signal = sig)
$$;
CREATE FUNCTION pg_temp.evidence(ext text, sig text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT s.evidence FROM csm.churn_signals_at('2026-06-30 12:00+00', ARRAY[pg_temp.id(ext)]) s WHERE s.signal = sig
$$;

-- usage_drop: 100 events in the 30 days before (06-01..06-30 is recent), 49 vs 50 after
SELECT pg_temp.acct(x) FROM unnest(ARRAY['ud_yes', 'ud_no', 'ud_small']) AS x;
SELECT pg_temp.use('ud_yes', '2026-05-15', 100), pg_temp.use('ud_yes', '2026-06-15', 49);
SELECT pg_temp.use('ud_no', '2026-05-15', 100), pg_temp.use('ud_no', '2026-06-15', 50);
SELECT pg_temp.use('ud_small', '2026-05-15', 99), pg_temp.use('ud_small', '2026-06-15', 0);
SELECT ok(pg_temp.fires('ud_yes', 'usage_drop'), 'usage_drop: 49 events after 100');
SELECT ok(NOT pg_temp.fires('ud_no', 'usage_drop'), 'usage_drop: not at 50 after 100 (exactly half)');
SELECT ok(NOT pg_temp.fires('ud_small', 'usage_drop'), 'usage_drop: not when the window before had 99 events (min_prior_events 100)');
SELECT is(pg_temp.evidence('ud_yes', 'usage_drop'),
          '{"recent_events": 49, "prior_events": 100, "ratio": 0.4900, "window_days": 30}', 'usage_drop evidence');
-- the window edge: 2026-05-31 is in the earlier window, 2026-06-01 in the recent one
SELECT pg_temp.acct('ud_edge');
SELECT pg_temp.use('ud_edge', '2026-05-02', 100), pg_temp.use('ud_edge', '2026-05-31', 100), pg_temp.use('ud_edge', '2026-06-01', 99);
SELECT is((pg_temp.evidence('ud_edge', 'usage_drop') ->> 'prior_events')::integer, 200,
          'usage_drop: 05-02 and 05-31 are the earlier window, 06-01 the recent one');

-- no_login_14d: last active 14 days before vs 13; young and never-active accounts
SELECT pg_temp.acct('nl_yes'), pg_temp.acct('nl_no'), pg_temp.acct('nl_never'), pg_temp.acct('nl_young', '2026-06-17');
SELECT pg_temp.use('nl_yes', '2026-06-16', 5), pg_temp.use('nl_no', '2026-06-17', 5);
SELECT ok(pg_temp.fires('nl_yes', 'no_login_14d'), 'no_login_14d: last active 14 days before');
SELECT ok(NOT pg_temp.fires('nl_no', 'no_login_14d'), 'no_login_14d: not when last active 13 days before');
SELECT ok(pg_temp.fires('nl_never', 'no_login_14d'), 'no_login_14d: an old account never active');
SELECT is(pg_temp.evidence('nl_never', 'no_login_14d'), '{"last_active_day": null, "days_inactive": null}', 'no_login_14d evidence when never active');
SELECT ok(NOT pg_temp.fires('nl_young', 'no_login_14d'), 'no_login_14d: not for an account 13 days old');
SELECT pg_temp.acct('nl_old');
SELECT pg_temp.use('nl_old', '2026-01-10', 5);
SELECT is(pg_temp.evidence('nl_old', 'no_login_14d'), '{"last_active_day": "2026-01-10", "days_inactive": 171}',
          'no_login_14d: the last active day is found beyond the usage window');

-- inconsistent_usage: one day of use a week, a and b events in turn over 8
-- weeks: CV = (a - b) / (a + b); 31/10 is 0.512, 30/10 exactly 0.5
SELECT pg_temp.acct(x) FROM unnest(ARRAY['iu_yes', 'iu_no', 'iu_thin']) AS x;
SELECT pg_temp.use(x, date '2026-06-28' - 7 * w, CASE WHEN w % 2 = 0 THEN a ELSE b END)
FROM (VALUES ('iu_yes', 31, 10), ('iu_no', 30, 10), ('iu_thin', 15, 4)) AS v(x, a, b), generate_series(0, 7) AS w;
SELECT ok(pg_temp.fires('iu_yes', 'inconsistent_usage'), 'inconsistent_usage: CV 0.512');
SELECT ok(NOT pg_temp.fires('iu_no', 'inconsistent_usage'), 'inconsistent_usage: not at CV 0.5 exactly');
SELECT ok(NOT pg_temp.fires('iu_thin', 'inconsistent_usage'), 'inconsistent_usage: not under 10 events a week on average');
SELECT is(pg_temp.evidence('iu_yes', 'inconsistent_usage'), '{"weeks": 8, "mean_weekly_events": 20.50, "cv": 0.5122}',
          'inconsistent_usage evidence');
SELECT ok(NOT pg_temp.fires('ud_yes', 'inconsistent_usage') AND NOT pg_temp.fires('nl_yes', 'inconsistent_usage'),
          'inconsistent_usage: not raised alongside usage_drop or no_login_14d');
-- over 13 weeks, iu_no's 8 weeks of 30/10 and 5 silent ones: mean 160/13, CV 1.0155
UPDATE csm.account SET started_at = '2025-01-01' WHERE external_id = 'iu_no';
INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('inconsistent_usage', '{"weeks": 13, "min_weekly_events": 12}');
SELECT is(pg_temp.evidence('iu_no', 'inconsistent_usage'), '{"weeks": 13, "mean_weekly_events": 12.31, "cv": 1.0155}',
          'inconsistent_usage over 13 weeks counts the silent ones as 0');
DELETE FROM csm.churn_signal_setting;

-- adoption_decline: 5 features before, 3 vs 4 after
SELECT pg_temp.acct('ad_yes'), pg_temp.acct('ad_no');
SELECT pg_temp.use('ad_yes', '2026-05-20', 10, 5), pg_temp.use('ad_yes', '2026-06-20', 10, 3);
SELECT pg_temp.use('ad_no', '2026-05-20', 10, 5), pg_temp.use('ad_no', '2026-06-20', 10, 4);
SELECT ok(pg_temp.fires('ad_yes', 'adoption_decline'), 'adoption_decline: 3 features after 5');
SELECT ok(NOT pg_temp.fires('ad_no', 'adoption_decline'), 'adoption_decline: not at 4 after 5 (min_drop 2)');
SELECT is(pg_temp.evidence('ad_yes', 'adoption_decline') -> 'dropped', '["f4", "f5"]', 'adoption_decline names the features dropped');

-- ticket_increase
SELECT pg_temp.acct(x) FROM unnest(ARRAY['ti_yes', 'ti_no', 'ti_zero_yes', 'ti_zero_no']) AS x;
INSERT INTO csm.conversation (account_id, team, status, created_at, resolved_at)
SELECT pg_temp.id(x), 'support', 'resolved', t, t
FROM (VALUES ('ti_yes', 2, 6), ('ti_no', 2, 5), ('ti_zero_yes', 0, 3), ('ti_zero_no', 0, 2)) AS v(x, prior, recent),
     LATERAL (SELECT timestamptz '2026-05-20 09:00' + i * interval '1 hour' FROM generate_series(1, prior) AS i
              UNION ALL
              SELECT timestamptz '2026-06-20 09:00' + i * interval '1 hour' FROM generate_series(1, recent) AS i) AS c(t);
SELECT ok(pg_temp.fires('ti_yes', 'ticket_increase'), 'ticket_increase: 6 after 2 (3x)');
SELECT ok(NOT pg_temp.fires('ti_no', 'ticket_increase'), 'ticket_increase: not 5 after 2');
SELECT ok(pg_temp.fires('ti_zero_yes', 'ticket_increase'), 'ticket_increase: 3 after none');
SELECT ok(NOT pg_temp.fires('ti_zero_no', 'ticket_increase'), 'ticket_increase: not 2 after none (min_tickets 3)');

-- nps_decline
SELECT pg_temp.acct(x) FROM unnest(ARRAY['np_drop', 'np_small', 'np_six', 'np_seven', 'np_stale', 'np_recent']) AS x;
INSERT INTO csm.nps_response (account_id, responded_at, score)
VALUES (pg_temp.id('np_drop'), '2026-03-01', 9), (pg_temp.id('np_drop'), '2026-06-01', 7),
       (pg_temp.id('np_small'), '2026-03-01', 9), (pg_temp.id('np_small'), '2026-06-01', 8),
       (pg_temp.id('np_six'), '2026-06-01', 6), (pg_temp.id('np_seven'), '2026-06-01', 7),
       (pg_temp.id('np_stale'), '2026-01-01 11:00+00', 3), (pg_temp.id('np_recent'), '2026-01-01 13:00+00', 3);
SELECT ok(pg_temp.fires('np_drop', 'nps_decline'), 'nps_decline: 9 then 7');
SELECT ok(NOT pg_temp.fires('np_small', 'nps_decline'), 'nps_decline: not 9 then 8');
SELECT ok(pg_temp.fires('np_six', 'nps_decline'), 'nps_decline: a detractor (6)');
SELECT ok(NOT pg_temp.fires('np_seven', 'nps_decline'), 'nps_decline: not a passive 7');
SELECT ok(NOT pg_temp.fires('np_stale', 'nps_decline'), 'nps_decline: not an answer 180 days and an hour old');
SELECT ok(pg_temp.fires('np_recent', 'nps_decline'), 'nps_decline: an answer just under 180 days old');

-- payment_issue (grace 7 days, lookback 90)
SELECT pg_temp.acct(x) FROM unnest(ARRAY['pi_overdue', 'pi_grace', 'pi_late', 'pi_ontime', 'pi_failed', 'pi_disputed',
                                         'pi_written', 'pi_written_old', 'pi_late_old']) AS x;
INSERT INTO csm.payment (account_id, amount, due_on, paid_on, status)
VALUES (pg_temp.id('pi_overdue'), 100, '2026-06-22', NULL, 'pending'),
       (pg_temp.id('pi_grace'), 100, '2026-06-23', NULL, 'pending'),
       (pg_temp.id('pi_late'), 100, '2026-06-01', '2026-06-09', 'paid'),
       (pg_temp.id('pi_ontime'), 100, '2026-06-01', '2026-06-08', 'paid'),
       (pg_temp.id('pi_failed'), 100, '2025-12-01', NULL, 'failed'),
       (pg_temp.id('pi_disputed'), 100, '2026-06-01', '2026-06-01', 'disputed'),
       (pg_temp.id('pi_written'), 100, '2026-04-02', NULL, 'written_off'),
       (pg_temp.id('pi_written_old'), 100, '2026-04-01', NULL, 'written_off'),
       (pg_temp.id('pi_late_old'), 100, '2026-03-01', '2026-04-01', 'paid');
SELECT ok(pg_temp.fires('pi_overdue', 'payment_issue'), 'payment_issue: pending 8 days past due');
SELECT ok(NOT pg_temp.fires('pi_grace', 'payment_issue'), 'payment_issue: not pending 7 days past due (grace)');
SELECT ok(pg_temp.fires('pi_late', 'payment_issue'), 'payment_issue: paid 8 days late');
SELECT ok(NOT pg_temp.fires('pi_ontime', 'payment_issue'), 'payment_issue: not paid 7 days late');
SELECT ok(pg_temp.fires('pi_failed', 'payment_issue'), 'payment_issue: a failed charge, however old');
SELECT ok(pg_temp.fires('pi_disputed', 'payment_issue'), 'payment_issue: a dispute');
SELECT ok(pg_temp.fires('pi_written', 'payment_issue'), 'payment_issue: written off, due 89 days before');
SELECT ok(NOT pg_temp.fires('pi_written_old', 'payment_issue'), 'payment_issue: not written off, due 90 days before');
SELECT ok(NOT pg_temp.fires('pi_late_old', 'payment_issue'), 'payment_issue: not paid late 90 days before');
-- As payments stood at as_of: a failure due after it did not exist yet, and
-- an invoice paid after it was still overdue then.
SELECT pg_temp.acct(x) FROM unnest(ARRAY['pi_future_failed', 'pi_paid_after']) AS x;
INSERT INTO csm.payment (account_id, amount, due_on, paid_on, status)
VALUES (pg_temp.id('pi_future_failed'), 100, '2026-07-01', NULL, 'failed'),
       (pg_temp.id('pi_paid_after'), 100, '2026-06-10', '2026-07-05', 'paid');
SELECT ok(NOT pg_temp.fires('pi_future_failed', 'payment_issue'), 'payment_issue: not for a failure due after as_of');
SELECT ok(pg_temp.fires('pi_future_failed', 'payment_issue', '2026-07-02 12:00+00'), 'payment_issue: that failure, once due');
SELECT ok(pg_temp.fires('pi_paid_after', 'payment_issue'), 'payment_issue: overdue at as_of though paid since');
SELECT ok(NOT pg_temp.fires('pi_paid_after', 'payment_issue', '2026-06-16 12:00+00'), 'payment_issue: not within its grace');
SELECT is(pg_temp.evidence('pi_overdue', 'payment_issue'),
          '{"failed": 0, "disputed": 0, "overdue": 1, "paid_late": 0, "written_off": 0, "max_days_overdue": 8, "amount_at_issue": 100}',
          'payment_issue evidence');

-- notes: the windows end at as_of and are open at the far end
SELECT pg_temp.acct(x) FROM unnest(ARRAY['me_yes', 'me_no', 'cm_yes', 'cm_no', 'bc_yes', 'bc_no', 'oc_yes', 'oc_no',
                                         'id_yes', 'id_no', 'le_yes', 'le_no']) AS x;
SELECT pg_temp.acct('le_young', '2026-01-02');
INSERT INTO csm.account_note (account_id, noted_at, kind)
VALUES (pg_temp.id('me_yes'), '2026-04-01 12:00:01+00', 'escalation'), (pg_temp.id('me_yes'), '2026-06-30 12:00+00', 'escalation'),
       (pg_temp.id('me_no'), '2026-04-01 12:00+00', 'escalation'), (pg_temp.id('me_no'), '2026-06-30 12:00+00', 'escalation'),
       (pg_temp.id('me_no'), '2026-06-30 12:00:01+00', 'escalation'),
       (pg_temp.id('cm_yes'), '2026-04-01 12:00:01+00', 'competitor_mention'), (pg_temp.id('cm_no'), '2026-04-01 12:00+00', 'competitor_mention'),
       (pg_temp.id('bc_yes'), '2026-04-01 12:00:01+00', 'budget_concern'), (pg_temp.id('bc_no'), '2026-04-01 12:00+00', 'budget_concern'),
       (pg_temp.id('oc_yes'), '2026-04-01 12:00:01+00', 'org_change'), (pg_temp.id('oc_no'), '2026-04-01 12:00+00', 'org_change'),
       (pg_temp.id('id_yes'), '2026-04-01 12:00:01+00', 'implementation_delay'), (pg_temp.id('id_no'), '2026-04-01 12:00+00', 'implementation_delay'),
       (pg_temp.id('le_yes'), '2026-01-01 12:00:01+00', 'note'),
       (pg_temp.id('le_no'), '2026-05-01', 'note'), (pg_temp.id('le_no'), '2026-01-01 12:00:01+00', 'expansion_discussion'),
       (pg_temp.id('le_young'), '2026-05-01', 'note');
SELECT ok(pg_temp.fires('me_yes', 'multiple_escalations'), 'multiple_escalations: 2 in the last 90 days');
SELECT ok(NOT pg_temp.fires('me_no', 'multiple_escalations'), 'multiple_escalations: not 1 in them (one exactly 90 days before, one after as_of)');
SELECT ok(pg_temp.fires('cm_yes', 'competitor_mentioned'), 'competitor_mentioned: a second inside 90 days');
SELECT ok(NOT pg_temp.fires('cm_no', 'competitor_mentioned'), 'competitor_mentioned: not exactly 90 days before');
SELECT ok(pg_temp.fires('bc_yes', 'budget_concern'), 'budget_concern: a second inside 90 days');
SELECT ok(NOT pg_temp.fires('bc_no', 'budget_concern'), 'budget_concern: not exactly 90 days before');
SELECT ok(pg_temp.fires('oc_yes', 'org_change'), 'org_change: a second inside 90 days');
SELECT ok(NOT pg_temp.fires('oc_no', 'org_change'), 'org_change: not exactly 90 days before');
SELECT ok(pg_temp.fires('id_yes', 'implementation_delay'), 'implementation_delay: a second inside 90 days');
SELECT ok(NOT pg_temp.fires('id_no', 'implementation_delay'), 'implementation_delay: not exactly 90 days before');
SELECT ok(pg_temp.fires('le_yes', 'limited_expansion'), 'limited_expansion: notes, none about expansion, in 180 days');
SELECT ok(NOT pg_temp.fires('le_no', 'limited_expansion'), 'limited_expansion: not with an expansion discussion just inside 180 days');
SELECT ok(NOT pg_temp.fires('le_young', 'limited_expansion'), 'limited_expansion: not for an account under 180 days old');
SELECT ok(NOT pg_temp.fires('ud_yes', 'limited_expansion'), 'limited_expansion: not for an account without notes');

-- engagements
SELECT pg_temp.acct(x) FROM unnest(ARRAY['rd_yes', 'rd_no', 'rd_few', 'ma_yes', 'ma_no', 'ma_few']) AS x;
-- response_decline: 10/10 answered in the 60 days before, then 7/10 (a 0.3 drop) vs 8/11 (0.27)
INSERT INTO csm.engagement (account_id, occurred_at, kind, direction, responded)
SELECT pg_temp.id(x), t + i * interval '1 hour', 'email', 'outbound', i <= answered
FROM (VALUES ('rd_yes', '2026-04-01'::timestamptz, 10, 10), ('rd_yes', '2026-06-01', 10, 7),
             ('rd_no', '2026-04-01', 10, 10), ('rd_no', '2026-06-01', 11, 8),
             ('rd_few', '2026-04-01', 2, 2), ('rd_few', '2026-06-01', 3, 0)) AS v(x, t, sent, answered),
     generate_series(1, sent) AS i;
SELECT ok(pg_temp.fires('rd_yes', 'response_decline'), 'response_decline: 100% then 70% answered');
SELECT ok(NOT pg_temp.fires('rd_no', 'response_decline'), 'response_decline: not 100% then 8 of 11');
SELECT ok(NOT pg_temp.fires('rd_few', 'response_decline'), 'response_decline: not with 2 sent in the window before (min_outbound 3)');
-- meeting_attendance_decline: 4/4 attended in the 90 days before, then 3/4 (0.25 drop) vs 4/5 (0.2)
INSERT INTO csm.engagement (account_id, occurred_at, kind, direction, attended)
SELECT pg_temp.id(x), t + i * interval '1 day', 'meeting', 'outbound', i <= attended
FROM (VALUES ('ma_yes', '2026-02-01'::timestamptz, 4, 4), ('ma_yes', '2026-05-01', 4, 3),
             ('ma_no', '2026-02-01', 4, 4), ('ma_no', '2026-05-01', 5, 4),
             ('ma_few', '2026-02-01', 1, 1), ('ma_few', '2026-05-01', 2, 0)) AS v(x, t, held, attended),
     generate_series(1, held) AS i;
SELECT ok(pg_temp.fires('ma_yes', 'meeting_attendance_decline'), 'meeting_attendance_decline: 4/4 then 3/4');
SELECT ok(NOT pg_temp.fires('ma_no', 'meeting_attendance_decline'), 'meeting_attendance_decline: not 4/4 then 4/5');
SELECT ok(NOT pg_temp.fires('ma_few', 'meeting_attendance_decline'), 'meeting_attendance_decline: not with one meeting before (min_meetings 2)');

-- renewal_ghosting: renewal 59 vs 60 days away (the seed's "<60 days"); engaged 30 days (and a second) before vs just after
SELECT pg_temp.acct('rg_yes', renewal => '2026-08-28'), pg_temp.acct('rg_far', renewal => '2026-08-29'),
       pg_temp.acct('rg_today', renewal => '2026-06-30'), pg_temp.acct('rg_passed', renewal => '2026-06-29'),
       pg_temp.acct('rg_quiet', renewal => '2026-07-15'), pg_temp.acct('rg_engaged', renewal => '2026-07-15'),
       pg_temp.acct('rg_unanswered', renewal => '2026-07-15');
INSERT INTO csm.engagement (account_id, occurred_at, kind, direction, responded, attended)
VALUES (pg_temp.id('rg_quiet'), '2026-05-31 12:00+00', 'email', 'inbound', NULL, NULL),
       (pg_temp.id('rg_engaged'), '2026-05-31 12:00:01+00', 'meeting', 'outbound', NULL, true),
       (pg_temp.id('rg_unanswered'), '2026-06-25 12:00+00', 'email', 'outbound', false, NULL),
       (pg_temp.id('rg_unanswered'), '2026-06-26 12:00+00', 'meeting', 'outbound', NULL, false);
SELECT ok(pg_temp.fires('rg_yes', 'renewal_ghosting'), 'renewal_ghosting: renewal 59 days away, no engagement');
SELECT ok(NOT pg_temp.fires('rg_far', 'renewal_ghosting'), 'renewal_ghosting: not 60 days away (less than 60 fires)');
SELECT ok(pg_temp.fires('rg_today', 'renewal_ghosting'), 'renewal_ghosting: renewal today');
SELECT ok(NOT pg_temp.fires('rg_passed', 'renewal_ghosting'), 'renewal_ghosting: not once the renewal date has passed');
SELECT ok(pg_temp.fires('rg_quiet', 'renewal_ghosting'), 'renewal_ghosting: last engaged exactly 30 days before');
SELECT ok(NOT pg_temp.fires('rg_engaged', 'renewal_ghosting'), 'renewal_ghosting: not when a meeting was attended just inside 30 days');
SELECT ok(pg_temp.fires('rg_unanswered', 'renewal_ghosting'), 'renewal_ghosting: outreach unanswered and a meeting missed are no engagement');
SELECT is(pg_temp.evidence('rg_unanswered', 'renewal_ghosting'),
          '{"renewal_date": "2026-07-15", "days_to_renewal": 15, "last_engaged_at": null, "unanswered_outreach": 2}',
          'renewal_ghosting evidence');

-- stakeholders
SELECT pg_temp.acct(x) FROM unnest(ARRAY['sd_yes', 'sd_old', 'sd_replaced', 'ks_yes', 'ks_not_key', 'ks_old']) AS x;
INSERT INTO csm.stakeholder (account_id, name, role, is_key, started_at, departed_at)
VALUES (pg_temp.id('sd_yes'), 'A', 'executive_sponsor', true, '2024-01-01', '2026-04-01 12:00:01+00'),
       (pg_temp.id('sd_old'), 'B', 'executive_sponsor', false, '2024-01-01', '2026-04-01 12:00+00'),
       (pg_temp.id('sd_replaced'), 'C', 'executive_sponsor', true, '2024-01-01', '2026-06-01'),
       (pg_temp.id('sd_replaced'), 'D', 'executive_sponsor', false, '2026-06-10', NULL),
       (pg_temp.id('ks_yes'), 'E', 'champion', true, '2024-01-01', '2026-06-20'),
       (pg_temp.id('ks_not_key'), 'F', 'champion', false, '2024-01-01', '2026-06-20'),
       (pg_temp.id('ks_old'), 'G', 'decision_maker', true, '2024-01-01', '2026-04-01 12:00+00');
SELECT ok(pg_temp.fires('sd_yes', 'sponsor_departed'), 'sponsor_departed: left a second inside 90 days, not replaced');
SELECT ok(NOT pg_temp.fires('sd_yes', 'key_stakeholder_departed'), 'key_stakeholder_departed: not again for that (key) sponsor');
SELECT ok(NOT pg_temp.fires('sd_old', 'sponsor_departed'), 'sponsor_departed: not exactly 90 days before');
SELECT ok(NOT pg_temp.fires('sd_replaced', 'sponsor_departed'), 'sponsor_departed: not once a new sponsor is in the role');
SELECT ok(pg_temp.fires('sd_replaced', 'key_stakeholder_departed'), 'key_stakeholder_departed: a replaced key sponsor still counts');
SELECT is(jsonb_path_query_array(pg_temp.evidence('sd_replaced', 'key_stakeholder_departed'), '$.departed[*].name'), '["C"]',
          'key_stakeholder_departed names who left');
SELECT ok(pg_temp.fires('ks_yes', 'key_stakeholder_departed'), 'key_stakeholder_departed: a key champion left');
SELECT ok(NOT pg_temp.fires('ks_not_key', 'key_stakeholder_departed'), 'key_stakeholder_departed: not someone not key');
SELECT ok(NOT pg_temp.fires('ks_old', 'key_stakeholder_departed'), 'key_stakeholder_departed: not exactly 90 days before');

-- health_drop: below 60 now, at least 70 in the 30 days before
SELECT pg_temp.acct(x) FROM unnest(ARRAY['hd_yes', 'hd_high_now', 'hd_never_70', 'hd_stale', 'hd_window']) AS x;
INSERT INTO csm.health_history (account_id, day, model, model_version, score, band, coverage, computed_at)
SELECT pg_temp.id(x), d, 'default', 1, s, csm.health_band(s), 1, d
FROM (VALUES ('hd_yes', '2026-06-10'::date, 70::float8), ('hd_yes', '2026-06-29', 59.99),
             ('hd_high_now', '2026-06-10', 80), ('hd_high_now', '2026-06-29', 60),
             ('hd_never_70', '2026-06-10', 69.99), ('hd_never_70', '2026-06-29', 40),
             ('hd_stale', '2026-05-20', 80), ('hd_stale', '2026-05-31', 40),
             ('hd_window', '2026-05-29', 90), ('hd_window', '2026-06-29', 40)) AS v(x, d, s);
SELECT ok(pg_temp.fires('hd_yes', 'health_drop'), 'health_drop: 59.99 after 70');
SELECT ok(NOT pg_temp.fires('hd_high_now', 'health_drop'), 'health_drop: not 60 after 80');
SELECT ok(NOT pg_temp.fires('hd_never_70', 'health_drop'), 'health_drop: not 40 after 69.99');
SELECT ok(NOT pg_temp.fires('hd_stale', 'health_drop'), 'health_drop: not when the latest score is 30 days old');
SELECT ok(NOT pg_temp.fires('hd_window', 'health_drop'), 'health_drop: not when the 70+ day is 31 days before the latest');

-- Refresh ---------------------------------------------------------------------

-- First every account of this file at once, at 12:00.
SELECT pg_temp.acct('re_esc');
INSERT INTO csm.account_note (account_id, noted_at, kind)
VALUES (pg_temp.id('re_esc'), '2026-06-01', 'escalation'), (pg_temp.id('re_esc'), '2026-06-01', 'expansion_discussion');
CREATE TEMP TABLE tap_scope AS SELECT array_agg(account_id) AS ids FROM csm.account WHERE external_id ~ '^[a-z]{2}_';
SELECT results_eq($$ SELECT raised, ongoing, cleared FROM csm.refresh_churn_signals('2026-06-30 12:00+00', (SELECT ids FROM tap_scope)) $$,
                  $$ SELECT count(*)::integer, 0, 0 FROM csm.churn_signals_at('2026-06-30 12:00+00', (SELECT ids FROM tap_scope)) $$,
                  'the first refresh raises every signal that holds');
SELECT set_eq($$ SELECT s.account_id, s.signal, s.evidence FROM csm.churn_signal s
                 WHERE s.cleared_at IS NULL AND s.account_id = ANY ((SELECT ids FROM tap_scope)::bigint[]) $$,
              $$ SELECT * FROM csm.churn_signals_at('2026-06-30 12:00+00', (SELECT ids FROM tap_scope)) $$,
              'the open signals are exactly what holds, with its evidence');
CREATE TEMP TABLE tap_before AS SELECT * FROM csm.churn_signal;
SELECT results_eq($$ SELECT raised, cleared FROM csm.refresh_churn_signals('2026-06-30 12:00+00', (SELECT ids FROM tap_scope)) $$,
                  $$ VALUES (0, 0) $$, 'a second refresh at the same as_of raises and clears nothing');
SELECT is_empty($$ (TABLE csm.churn_signal EXCEPT TABLE tap_before) UNION ALL (TABLE tap_before EXCEPT TABLE csm.churn_signal) $$,
                'and changes no row');

-- Then, hours later, a few accounts whose cases sit away from any window
-- edge (the cases above are a second from theirs).
CREATE TEMP TABLE tap_scope2 AS
SELECT array_agg(account_id) AS ids FROM csm.account
WHERE external_id IN ('pi_overdue', 'pi_failed', 're_esc', 'ud_yes', 'np_drop', 'np_six', 'ti_yes', 'hd_yes', 'ad_yes');
CREATE FUNCTION pg_temp.refresh(at timestamptz) RETURNS TABLE (raised integer, ongoing integer, cleared integer)
LANGUAGE sql AS $$ SELECT * FROM csm.refresh_churn_signals(at, (SELECT ids FROM tap_scope2)) $$;

-- An hour later: the overdue invoice turns out paid in time, a second
-- escalation arrives; the rest is seen again with the same evidence.
UPDATE csm.payment SET status = 'paid', paid_on = '2026-06-25' WHERE account_id = pg_temp.id('pi_overdue');
INSERT INTO csm.account_note (account_id, noted_at, kind) VALUES (pg_temp.id('re_esc'), '2026-06-30 12:30+00', 'escalation');
SELECT results_eq($$ SELECT raised, cleared FROM pg_temp.refresh('2026-06-30 13:00+00') $$, $$ VALUES (1, 1) $$,
                  'an hour later one signal is raised and one cleared');
SELECT is((SELECT cleared_at FROM csm.churn_signal WHERE account_id = pg_temp.id('pi_overdue') AND signal = 'payment_issue'),
          '2026-06-30 13:00+00'::timestamptz, 'the paid invoice''s signal is cleared at the refresh''s as_of');
SELECT is((SELECT first_seen_at FROM csm.churn_signal WHERE account_id = pg_temp.id('re_esc') AND signal = 'multiple_escalations'),
          '2026-06-30 13:00+00'::timestamptz, 'the escalations are first seen then');
SELECT is((SELECT count(*)::integer FROM csm.churn_signal s JOIN tap_before b USING (account_id, signal, first_seen_at)
           WHERE s.cleared_at IS NULL AND s.account_id = ANY ((SELECT ids FROM tap_scope2)::bigint[])
             AND s.last_seen_at = '2026-06-30 13:00+00' AND s.evidence = b.evidence),
          (SELECT count(*)::integer - 1 FROM tap_before b WHERE b.account_id = ANY ((SELECT ids FROM tap_scope2)::bigint[])),
          'every other signal is still open, seen at 13:00, with the same evidence');
-- it comes back: a new row
UPDATE csm.payment SET status = 'failed' WHERE account_id = pg_temp.id('pi_overdue');
SELECT results_eq($$ SELECT raised, cleared FROM pg_temp.refresh('2026-06-30 14:00+00') $$, $$ VALUES (1, 0) $$,
                  'a failed charge raises payment_issue again');
SELECT is((SELECT count(*)::integer FROM csm.churn_signal WHERE account_id = pg_temp.id('pi_overdue') AND signal = 'payment_issue'), 2,
          'as a new row; the cleared one stays as history');

-- A refresh of some accounts touches only those.
UPDATE csm.payment SET status = 'paid', paid_on = due_on WHERE account_id IN (pg_temp.id('pi_overdue'), pg_temp.id('pi_failed'));
SELECT results_eq($$ SELECT * FROM csm.refresh_churn_signals('2026-06-30 15:00+00', ARRAY[pg_temp.id('pi_failed')]) $$,
                  $$ VALUES (0, 1, 1) $$, 'refreshing one account clears its payment_issue (its no_login_14d goes on)');
SELECT is((SELECT cleared_at FROM csm.churn_signal WHERE account_id = pg_temp.id('pi_overdue') AND first_seen_at = '2026-06-30 14:00+00'),
          NULL, 'and leaves another account''s open');
SELECT results_eq($$ SELECT * FROM csm.refresh_churn_signals('2026-06-30 15:00+00', '{}') $$, $$ VALUES (0, 0, 0) $$,
                  'an empty account list refreshes nothing');

-- Churned accounts: detection stops at churned_at; their open signals stay as they were.
UPDATE csm.account SET status = 'churned', churned_at = '2026-06-30 15:30+00' WHERE external_id = 'ud_yes';
SELECT ok(pg_temp.fires('ud_yes', 'usage_drop', '2026-06-30 15:00+00'), 'a churned account is detected as of before it churned');
SELECT ok(NOT pg_temp.fires('ud_yes', 'usage_drop', '2026-06-30 16:00+00'), 'and not after');
SELECT lives_ok($$ SELECT pg_temp.refresh('2026-06-30 16:00+00') $$, 'refresh after the churn');
SELECT is((SELECT cleared_at FROM csm.churn_signal WHERE account_id = pg_temp.id('ud_yes') AND signal = 'usage_drop'), NULL,
          'the churned account''s signal stays open, as it was when it churned');
SELECT is((SELECT count(*)::integer FROM csm.churn_signal_current WHERE external_id = 'ud_yes'), 0,
          'and churn_signal_current does not show it');

-- Settings: a disabled signal clears; a threshold changes what fires.
INSERT INTO csm.churn_signal_setting (signal, enabled) VALUES ('nps_decline', false);
SELECT ok(NOT pg_temp.fires('np_six', 'nps_decline'), 'a disabled signal is not detected');
SELECT results_eq($$ SELECT cleared FROM pg_temp.refresh('2026-06-30 17:00+00') $$,
                  $$ SELECT 2 $$, 'and its open rows are cleared (np_drop, np_six)');
INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('usage_drop', '{"max_ratio": 0.51}');
SELECT ok(pg_temp.fires('ud_no', 'usage_drop'), 'max_ratio 0.51 makes 50 after 100 a usage_drop');
UPDATE csm.churn_signal_setting SET prior_weight = 2.5 WHERE signal = 'usage_drop';
SELECT is((SELECT prior_weight FROM csm.churn_signal_config WHERE signal = 'usage_drop'), 2.5::float8,
          'churn_signal_config shows the prior weight set');
SELECT is((SELECT params FROM csm.churn_signal_config WHERE signal = 'usage_drop'),
          '{"window_days": 30, "max_ratio": 0.51, "min_prior_events": 100}'::jsonb, 'and the thresholds merged');

-- Errors ----------------------------------------------------------------------

SELECT throws_ok($$ SELECT csm.refresh_churn_signals(NULL) $$, '22023', NULL, 'refresh: a NULL as_of');
SELECT throws_ok($$ SELECT csm.refresh_churn_signals('infinity') $$, '22023', NULL, 'refresh: an infinite as_of');
SELECT throws_ok($$ SELECT * FROM csm.churn_signals_at('-infinity') $$, '22023', NULL, 'churn_signals_at: an infinite as_of');
SELECT throws_ok($$ SELECT pg_temp.refresh('2026-06-30 16:30+00') $$, '22023', NULL, 'refresh: an as_of before the last refresh');
SELECT throws_ok($$ INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at)
                    VALUES (pg_temp.id('cm_yes'), 'competitor_mentioned', '2026-07-01', '2026-07-01') $$,
                 '23505', NULL, 'a second open row of one signal for one account');
SELECT throws_ok($$ INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at, cleared_at)
                    VALUES (pg_temp.id('cm_no'), 'competitor_mentioned', '2026-07-02', '2026-07-01', NULL) $$,
                 '23514', NULL, 'last_seen_at before first_seen_at');
SELECT throws_ok($$ INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at) VALUES (pg_temp.id('cm_no'), 'nope', now(), now()) $$,
                 '23503', NULL, 'a signal of no kind');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('health_drop', '{"below": -1}') $$,
                 '22023', NULL, 'a negative threshold');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('health_drop', '{"window_days": 0}') $$,
                 '22023', NULL, 'a window of 0 days');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('inconsistent_usage', '{"weeks": 2.5}') $$,
                 '22023', NULL, 'a fraction of a week');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('inconsistent_usage', '{"weeks": 14}') $$,
                 '22023', NULL, 'more than 13 weeks');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('health_drop', '{"limit": 3}') $$,
                 '22023', NULL, 'a parameter the signal does not have');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('health_drop', '{"below": null}') $$,
                 '22023', NULL, 'a JSON null threshold');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_setting (signal, params) VALUES ('health_drop', '[1]') $$,
                 '23514', NULL, 'params that are not an object');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_setting (signal, prior_weight) VALUES ('health_drop', 'NaN') $$,
                 '23514', NULL, 'a NaN prior weight');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_setting (signal) VALUES ('nope') $$, '23503', NULL, 'a setting of no signal');
SELECT throws_ok($$ UPDATE csm.churn_signal_kind SET params = '{}' WHERE signal = 'health_drop' $$,
                 '42501', NULL, 'a built-in kind is read-only');
SELECT throws_ok($$ DELETE FROM csm.churn_signal_kind WHERE signal = 'health_drop' $$, '42501', NULL, 'and cannot be deleted');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_kind (signal, strength, label, description, prior_weight, builtin)
                    VALUES ('mine', 'early', 'Mine', 'Mine.', 0.1, true) $$, '42501', NULL, 'no kind of yours is built in');
SELECT throws_ok($$ INSERT INTO csm.churn_signal_kind (signal, strength, label, description, prior_weight)
                    VALUES ('mine', 'urgent', 'Mine', 'Mine.', 0.1) $$, '23514', NULL, 'an unknown strength');
SELECT throws_ok($$ INSERT INTO csm.payment (account_id, due_on, status) VALUES (pg_temp.id('cm_no'), '2026-01-01', 'paid') $$,
                 '23514', NULL, 'a paid payment without paid_on');
SELECT throws_ok($$ INSERT INTO csm.engagement (account_id, occurred_at, kind, direction, responded) VALUES (pg_temp.id('cm_no'), now(), 'email', 'inbound', true) $$,
                 '23514', NULL, 'responded on an inbound touchpoint');
SELECT throws_ok($$ INSERT INTO csm.engagement (account_id, occurred_at, kind, attended) VALUES (pg_temp.id('cm_no'), now(), 'email', true) $$,
                 '23514', NULL, 'attended on an email');
SELECT throws_ok($$ INSERT INTO csm.account_note (account_id, kind) VALUES (pg_temp.id('cm_no'), 'gossip') $$,
                 '23514', NULL, 'an unknown note kind');
SELECT throws_ok($$ INSERT INTO csm.stakeholder (account_id, role, started_at, departed_at) VALUES (pg_temp.id('cm_no'), 'user', '2026-02-01', '2026-01-01') $$,
                 '23514', NULL, 'a departure before the start');

SELECT * FROM finish();
ROLLBACK;
