-- Churn answers: unknown metrics stay unknown (and take the training mean),
-- the recommended action reads health and churn together, a refresh refuses
-- a future as_of, and one account that cannot be scored does not stop the
-- others from being scored.
-- citus-differs: it tracks a local (undistributed) event table, which csm.track_usage() refuses on Citus with 0A000 (README "Usage rollups on Citus": distribute it first).
BEGIN;
SELECT plan(57);

CREATE SCHEMA churn_answers;
CREATE TABLE churn_answers.events (org text, at timestamptz);
SELECT csm.track_usage('churn_answers.events', 'org', 'at') IS NOT NULL AS tracked \gset

CREATE FUNCTION pg_temp.id(ext text) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT a.account_id FROM csm.account a WHERE a.external_id = ext $$;
-- churn_metrics_at's element of one account, by metric name
CREATE FUNCTION pg_temp.churn_metric(ext text, metric text, as_of date DEFAULT '2026-03-31') RETURNS float8
LANGUAGE sql STABLE AS $$
    SELECT c.metrics[array_position(csm.churn_metric_names(), metric)]
    FROM csm.churn_metrics_at(as_of, pg_temp.id(ext)) c
$$;

-- Unknown metrics ------------------------------------------------------------

INSERT INTO csm.account (external_id, arr, started_at, renewal_date) VALUES
    ('new_usage', 1000, '2024-01-01', '2026-09-30'),    -- 5 events yesterday, nothing before
    ('growing', 1000, '2024-01-01', '2026-09-30'),      -- 1 event then 10: trend 10, counted as 3
    ('no_renewal', 1000, '2024-01-01', NULL),
    ('no_start', 1000, NULL, '2026-09-30');
INSERT INTO churn_answers.events
SELECT 'new_usage', '2026-03-30 12:00+00'::timestamptz FROM generate_series(1, 5)
UNION ALL SELECT 'growing', '2026-03-10 12:00+00'
UNION ALL SELECT 'growing', '2026-03-30 12:00+00' FROM generate_series(1, 10);

SELECT is((SELECT m.usage_trend FROM csm.account_metrics_at('2026-03-31', pg_temp.id('new_usage')) m), NULL,
          'account_metrics_at: usage_trend of an account with no earlier usage is NULL');
SELECT is(pg_temp.churn_metric('new_usage', 'usage_trend'), NULL,
          'churn_metrics_at: an unknown usage_trend stays NULL (it was 3, the strongest growth)');
SELECT is(pg_temp.churn_metric('growing', 'usage_trend'), 3::float8,
          'churn_metrics_at: a known usage_trend above 3 is still counted as 3');
SELECT is(pg_temp.churn_metric('no_renewal', 'days_to_renewal'), NULL,
          'churn_metrics_at: a missing renewal date is NULL days to renewal (it was 400)');
SELECT is(pg_temp.churn_metric('new_usage', 'days_to_renewal'), 183::float8,
          'churn_metrics_at: a known renewal date counts its days');
SELECT is(pg_temp.churn_metric('no_start', 'tenure_days'), NULL,
          'churn_metrics_at: a missing started_at is NULL tenure (it was 1825 days)');
SELECT is(pg_temp.churn_metric('new_usage', 'tenure_days'), 820::float8,
          'churn_metrics_at: a known started_at counts the days since');

-- What the model in use reads for an unknown metric is its training mean:
-- a hand-made model whose means are 1, 2, ... 9.
-- hand_model(name, mean): an active hand-made logistic model over the nine
-- churn metrics, every coefficient 0.1 and every scale 1.
CREATE FUNCTION pg_temp.hand_model(text, jsonb) RETURNS void LANGUAGE sql AS $$
INSERT INTO csm.churn_model (name, kind, model, active)
SELECT $1, 'trained',
       jsonb_build_object('kind', 'logistic_regression', 'features', 9,
                          'feature_names', to_jsonb(csm.churn_metric_names()), 'intercept', 0,
                          'coefficients', to_jsonb(array_fill(0.1::float8, ARRAY[9])),
                          'mean', $2, 'scale', to_jsonb(array_fill(1::float8, ARRAY[9])),
                          'lambda', 0, 'iterations', 0, 'converged', true, 'rows', 0, 'positives', 0),
       true
$$;
SELECT pg_temp.hand_model('means', '[1, 2, 3, 4, 5, 6, 7, 8, 9]');
SELECT is((SELECT p.features[4] FROM csm_internal._churn_predictions(pg_temp.id('new_usage')) p), 4::float8,
          'scoring: an unknown usage_trend takes the model''s training mean');
SELECT is((SELECT p.features[7] FROM csm_internal._churn_predictions(pg_temp.id('no_renewal')) p), 7::float8,
          'scoring: an unknown days_to_renewal takes the model''s training mean');
SELECT is((SELECT p.features[9] FROM csm_internal._churn_predictions(pg_temp.id('no_start')) p), 9::float8,
          'scoring: an unknown tenure takes the model''s training mean');
DELETE FROM csm.churn_model;

-- The recommended action: health band x churn band -----------------------------

-- Churn bands from the prior model: a signal kind of our own per band, its
-- prior weight taking 10% to 40%, 60% or 80%.
INSERT INTO csm.churn_signal_kind (signal, strength, label, description, prior_weight)
SELECT 'test_' || b, 'moderate', b, 'test', ln(p / (1 - p)) - ln(0.1 / 0.9)
FROM (VALUES ('moderate', 0.4), ('high', 0.6), ('critical', 0.8)) AS v(b, p);
-- An account per health band (none: no health score; unscored: a score row
-- whose band is NULL) and churn band.
INSERT INTO csm.account (external_id, started_at, renewal_date)
SELECT 'act_' || h || '_' || c, '2024-01-01', '2027-06-30'
FROM unnest(ARRAY['green', 'yellow', 'red', 'none', 'unscored']) AS h,
     unnest(ARRAY['low', 'moderate', 'high', 'critical']) AS c;
INSERT INTO csm.churn_signal (account_id, signal, first_seen_at, last_seen_at)
SELECT a.account_id, 'test_' || split_part(a.external_id, '_', 3), now(), now()
FROM csm.account a WHERE a.external_id LIKE 'act\_%' AND split_part(a.external_id, '_', 3) <> 'low';
INSERT INTO csm.health_score (account_id, model, model_version, score, band, coverage,
                              metrics, metric_values, component_scores, component_weights, computed_at)
SELECT a.account_id, 'default', 1, s.score, csm.health_band(s.score), 1, '{}', '{}', '{}', '{}', now()
FROM csm.account a
JOIN (VALUES ('green', 95::float8), ('yellow', 80), ('red', 40), ('unscored', NULL)) AS s(h, score)
  ON split_part(a.external_id, '_', 2) = s.h
WHERE a.external_id LIKE 'act\_%';

SELECT is(csm.analyze_churn_risk(a.external_id)->>'churn_band', split_part(a.external_id, '_', 3),
          a.external_id || ': the test account is in the churn band it is named after')
FROM csm.account a WHERE a.external_id LIKE 'act\_red\_%' ORDER BY a.account_id;

SELECT is(split_part(csm.analyze_churn_risk('act_' || h || '_' || c)->>'recommended_action', ':', 1), action,
          format('recommended action for health %s, churn %s: %s', h, c, action))
FROM (VALUES
    ('green', 'low', 'Nurture for expansion'), ('green', 'moderate', 'Monitor closely'),
    ('green', 'high', 'Engagement plan required'), ('green', 'critical', 'Immediate intervention'),
    ('yellow', 'low', 'Engagement plan required'), ('yellow', 'moderate', 'Engagement plan required'),
    ('yellow', 'high', 'Engagement plan required'), ('yellow', 'critical', 'Immediate intervention'),
    ('red', 'low', 'Immediate intervention'), ('red', 'moderate', 'Immediate intervention'),
    ('red', 'high', 'Immediate intervention'), ('red', 'critical', 'Immediate intervention'),
    ('none', 'low', 'Nurture for expansion'), ('none', 'moderate', 'Monitor closely'),
    ('none', 'high', 'Engagement plan required'), ('none', 'critical', 'Immediate intervention'),
    ('unscored', 'low', 'Nurture for expansion'), ('unscored', 'moderate', 'Monitor closely'),
    ('unscored', 'high', 'Engagement plan required'), ('unscored', 'critical', 'Immediate intervention')
) AS m(h, c, action);

UPDATE csm.account SET status = 'churned' WHERE external_id = 'act_red_low';
SELECT is(csm.analyze_churn_risk('act_red_low')->'recommended_action', 'null'::jsonb,
          'no recommended action for a churned account, whatever its last health');

-- A future as_of ------------------------------------------------------------------

SELECT throws_ok($$SELECT csm.refresh_churn_signals(now() + interval '1 hour', ARRAY[pg_temp.id('growing')])$$, '22023', NULL,
                 'refresh_churn_signals refuses an as_of an hour ahead, for some accounts too');
SELECT throws_ok($$SELECT csm.refresh_churn_signals(now() + interval '1 year')$$, '22023', NULL,
                 'refresh_churn_signals refuses an as_of a year ahead');
SELECT lives_ok($$SELECT csm.refresh_churn_signals(now() - interval '1 day')$$,
                'refresh_churn_signals takes an as_of in the past');
SELECT lives_ok($$SELECT csm.refresh_churn()$$, 'refresh_churn() still works after a future as_of was refused');
SELECT is((SELECT count(*) FROM csm.churn_signal WHERE last_seen_at > clock_timestamp()), 0::bigint,
          'no churn signal was recorded in the future');

-- One bad account does not fail the portfolio ----------------------------------

-- A model that reads ln(1 + arr), and three accounts it cannot score: arr
-- NaN and infinite (refused by CHECKs that are dropped here, so as to have
-- such rows) and negative (ln of a negative number raises 2201E).
SELECT pg_temp.hand_model('reads_arr', to_jsonb(array_fill(1::float8, ARRAY[9])));
DO $$
DECLARE c name;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'csm.account'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) ~ '\marr\M' LOOP
        EXECUTE format('ALTER TABLE csm.account DROP CONSTRAINT %I', c);
    END LOOP;
END $$;
INSERT INTO csm.account (external_id, arr, started_at) VALUES
    ('bad_nan', 'NaN', '2024-01-01'), ('bad_infinite', 'Infinity', '2024-01-01'), ('bad_negative', -5, '2024-01-01');
SELECT count(*) AS good FROM csm.account WHERE status = 'active' AND external_id NOT LIKE 'bad\_%' \gset

SET LOCAL client_min_messages = error;  -- the WARNINGs are checked in sql/churn_unscored.sql
SELECT is(csm.refresh_churn(), :good::bigint, 'refresh_churn() scores every other account and returns their number');
SELECT is((SELECT count(*) FROM csm.churn_score), :good::bigint, 'every other account has a churn score');
SELECT is((SELECT count(*) FROM csm.churn_score c JOIN csm.account a USING (account_id) WHERE a.external_id LIKE 'bad\_%'),
          0::bigint, 'the accounts that cannot be scored have none');
SELECT is(csm.churn_probability('bad_nan'), NULL, 'churn_probability() of an account with arr NaN is NULL');
SELECT is(csm.churn_probability('bad_negative'), NULL, 'churn_probability() of an account whose features raise an error is NULL');
SELECT ok(csm.churn_probability('growing') BETWEEN 0 AND 1, 'churn_probability() of a good account is a probability');
SELECT is((SELECT count(csm.churn_probability(a.external_id)) FROM csm.account a), :good::bigint,
          'churn_probability() over the portfolio answers for every good account');
SELECT is(csm.analyze_churn_risk('bad_infinite')->>'not_scored', 'feature log_arr is Infinity',
          'analyze_churn_risk() says why an account is not scored');
SELECT is(csm.analyze_churn_risk('bad_negative')->>'not_scored', 'cannot take logarithm of a negative number',
          'analyze_churn_risk() gives the error that kept an account from being scored');
SELECT is(csm.analyze_churn_risk('bad_negative')->>'probability', NULL, 'analyze_churn_risk(): no probability then');
SELECT throws_ok($$SELECT csm.churn_probability('nobody')$$, 'P0002', NULL, 'churn_probability() of an unknown account is still P0002');

-- A later refresh keeps the previous score of an account that became bad.
UPDATE csm.account SET arr = 'NaN' WHERE external_id = 'growing';
SELECT is(csm.refresh_churn(), :good::bigint - 1, 'refresh_churn() skips an account that became bad');
SELECT ok((SELECT c.probability BETWEEN 0 AND 1 FROM csm.churn_score c WHERE c.account_id = pg_temp.id('growing')),
          'which keeps its previous score');

-- Signals: an account whose refresh fails (here a trigger raises for it).
CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.account_id = pg_temp.id('act_red_high') THEN
        RAISE EXCEPTION 'bad data' USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON csm.churn_signal FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse();
INSERT INTO churn_answers.events SELECT 'act_green_low', now() - interval '40 days' FROM generate_series(1, 100);
INSERT INTO churn_answers.events SELECT 'act_red_high', now() - interval '40 days' FROM generate_series(1, 100);
DELETE FROM csm.churn_signal;
SELECT lives_ok($$SELECT csm.refresh_churn_signals()$$, 'refresh_churn_signals() lives through one account that fails');
SELECT ok(EXISTS (SELECT FROM csm.churn_signal WHERE account_id = pg_temp.id('act_green_low') AND signal = 'usage_drop'),
          'and records the signals of the others');
SELECT ok(NOT EXISTS (SELECT FROM csm.churn_signal WHERE account_id = pg_temp.id('act_red_high')),
          'but none of the account that failed');
SELECT throws_ok($$SELECT csm.refresh_churn_signals(now(), ARRAY[pg_temp.id('act_red_high')])$$, '22003', 'bad data',
                 'refreshing that account alone raises its error');

SELECT * FROM finish(); ROLLBACK;
