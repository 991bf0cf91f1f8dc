-- One vocabulary over csm's public surface (README "Dashboards and BI"):
-- every column of every public view of csm and every output column of its
-- public set-returning functions, read from the catalog, so a column added
-- later that breaks it fails here.
--
--   timestamptz        ends in _at                   (exception: time)
--   date               ends in _date                 (exceptions: day, week, month)
--   0-1 fraction       ends in _ratio; 0-100 in _pct (a probability or
--                      likelihood is 0-1 by its name)
--   money              is arr or ends in _arr
--   bands              health_band / churn_band, never a bare band
--   names              account_name (member_name, csm_name...), never a bare name
--   per-account views  external_id beside account_id
--   usage source       source is the text name of the tracked table
--
-- Columns that break a rule are failures unless listed below: the
-- deprecated names (kept for 0.2.0, removed in 0.3.0, each commented
-- "Deprecated: use X; removed in 0.3.0" with X in the same view) and a
-- few exceptions, each with its reason.
BEGIN;

CREATE TEMP TABLE tap_col AS
SELECT 'view'::text AS kind, c.relname::text AS obj, a.attnum::integer AS pos, a.attname::text AS col,
       a.atttypid AS typ, col_description(c.oid, a.attnum) AS cmt
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'csm' AND c.relkind IN ('v', 'm') AND c.relname !~ '^_'
UNION ALL
SELECT 'function', p.proname::text, x.ord::integer, x.n, x.t, NULL
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
CROSS JOIN LATERAL unnest(p.proargnames, p.proallargtypes, p.proargmodes) WITH ORDINALITY x(n, t, m, ord)
WHERE n.nspname = 'csm' AND p.proname !~ '^_' AND x.m IN ('o', 't', 'b');

-- Kept for one release; each names its replacement in the same view or
-- function result.
CREATE TEMP TABLE tap_deprecated (kind text, obj text, col text, replacement text);
INSERT INTO tap_deprecated VALUES
    -- views of 0.1.0
    ('view', 'account_health', 'name', 'account_name'),
    ('view', 'account_health', 'band', 'health_band'),
    ('view', 'account_health', 'computed_band', 'computed_health_band'),
    ('view', 'account_health', 'coverage', 'coverage_ratio'),
    ('view', 'churn_risk', 'name', 'account_name'),
    ('view', 'churn_risk', 'band', 'churn_band'),
    ('view', 'agent_performance', 'name', 'member_name'),
    ('view', 'agent_performance', 'resolution_rate', 'resolution_ratio'),
    ('view', 'assignment', 'since', 'started_at'),
    ('view', 'assignment_workload', 'name', 'member_name'),
    ('view', 'assignment_workload', 'utilisation', 'utilisation_ratio'),
    ('view', 'health_trend', 'since', 'since_date'),
    ('view', 'unassigned_queue', 'waiting_since', 'queued_at'),
    ('view', 'usage_daily', 'source_relation', 'source'),
    ('view', 'usage_feature_daily', 'source_relation', 'source'),
    -- views and functions new in 0.2.0, under their first names
    ('view', 'alert_open', 'name', 'account_name'),
    ('view', 'assignment_workload', 'capacity_from_ratio', 'capacity_defaulted'),
    ('view', 'business_review_due', 'name', 'account_name'),
    ('view', 'business_review_due', 'band', 'health_band'),
    ('view', 'business_review_due', 'due_on', 'due_date'),
    ('view', 'dashboard_activity', 'period_start', 'period_start_date'),
    ('view', 'dashboard_activity', 'period_end', 'period_end_date'),
    ('view', 'expansion_candidate', 'name', 'account_name'),
    ('view', 'health_daily', 'coverage', 'coverage_ratio'),
    ('view', 'onboarding_status', 'name', 'account_name'),
    ('view', 'onboarding_status', 'activation_rate', 'activation_ratio'),
    ('view', 'onboarding_status', 'feature_adoption', 'feature_adoption_ratio'),
    ('view', 'renewal_pipeline', 'name', 'account_name'),
    ('view', 'renewal_pipeline', 'churn_model_version', 'churn_model_trained_at'),
    ('view', 'revenue_monthly', 'grr', 'grr_ratio'),
    ('view', 'revenue_monthly', 'nrr', 'nrr_ratio'),
    ('view', 'revenue_monthly', 'grr_12m', 'grr_12m_ratio'),
    ('view', 'revenue_monthly', 'nrr_12m', 'nrr_12m_ratio'),
    ('view', 'revenue_monthly', 'logo_churn_rate_12m', 'logo_churn_12m_ratio'),
    ('view', 'revenue_monthly', 'arpa', 'arpa_arr'),
    ('view', 'revenue_monthly', 'ltv', 'ltv_arr'),
    ('view', 'success_plan_progress', 'progress', 'progress_ratio'),
    ('view', 'usage_unknown_key', 'first_seen', 'first_seen_date'),
    ('view', 'usage_unknown_key', 'last_seen', 'last_seen_date'),
    ('function', 'nps_summary', 'response_rate', 'response_pct'),
    ('function', 'renewal_metrics', 'expansion_share', 'expansion_share_ratio'),
    ('function', 'renewal_metrics', 'expansion_share_arr', 'expansion_arr_share_ratio'),
    ('function', 'revenue_retention', 'grr', 'grr_ratio'),
    ('function', 'revenue_retention', 'nrr', 'nrr_ratio'),
    ('function', 'revenue_retention', 'logo_churn_rate', 'logo_churn_ratio'),
    ('function', 'revenue_retention', 'expansion_rate', 'expansion_ratio');

-- Allowed as they are.
CREATE TEMP TABLE tap_exception (obj text, col text, reason text);
INSERT INTO tap_exception VALUES
    (NULL, 'time', 'Grafana''s time column (timestamptz, UTC midnight of day)'),
    (NULL, 'day', 'time-series key of a daily view (date, UTC)'),
    (NULL, 'week', 'time-series key of a weekly view (date, the Monday)'),
    (NULL, 'month', 'time-series key of a monthly view (date, the first day)'),
    (NULL, 'zone', 'the green/yellow/red zone of one health metric, not an account''s band');

CREATE TEMP TABLE tap_violation AS
SELECT t.kind, t.obj, t.col, r.rule
FROM tap_col t
CROSS JOIN LATERAL (VALUES
    (t.typ = 'timestamptz'::regtype AND t.col !~ '_at$', 'timestamptz ends in _at'),
    (t.typ = 'date'::regtype AND t.col !~ '_date$', 'date ends in _date'),
    (t.typ IN ('numeric'::regtype, 'float8'::regtype, 'float4'::regtype)
       AND t.col ~ '(^|_)(rate|share|adoption|coverage|progress|utilisation|grr|nrr|percent|fraction)(_|$)'
       AND t.col !~ '_(ratio|pct)$',
     'a 0-1 fraction ends in _ratio, a 0-100 one in _pct'),
    (t.col ~ '(_ratio|_pct)$' AND t.typ NOT IN ('numeric'::regtype, 'float8'::regtype, 'float4'::regtype),
     '_ratio and _pct are numbers'),
    (t.col ~ '(^|_)(arpa|ltv|mrr|revenue|amount|price)$', 'money ends in _arr'),
    (t.col ~ '(^|_)arr$' AND t.typ <> 'numeric'::regtype, 'arr is numeric'),
    (t.col ~ '(^|_)band$' AND t.col !~ '(health|churn)_band$', 'health_band or churn_band, never a bare band'),
    (t.typ = 'csm.health_band'::regtype AND t.col !~ 'health_band$', 'a health band is named health_band'),
    (t.typ = 'csm.churn_band'::regtype AND t.col !~ 'churn_band$', 'a churn band is named churn_band'),
    (t.col = 'name', 'account_name (or member_name...), never a bare name'),
    (t.col = 'source' AND t.typ <> 'text'::regtype, 'source is the text name of the tracked table'),
    (t.kind = 'view' AND t.col = 'account_id'
       AND NOT EXISTS (SELECT FROM tap_col e WHERE e.kind = 'view' AND e.obj = t.obj AND e.col = 'external_id'),
     'a per-account view has external_id beside account_id')
) r(broken, rule)
WHERE r.broken
  AND NOT EXISTS (SELECT FROM tap_deprecated d WHERE d.kind = t.kind AND d.obj = t.obj AND d.col = t.col)
  AND NOT EXISTS (SELECT FROM tap_exception e WHERE (e.obj IS NULL OR e.obj = t.obj) AND e.col = t.col);

SELECT plan(11);

SELECT cmp_ok((SELECT count(DISTINCT obj)::integer FROM tap_col WHERE kind = 'view'), '>=', 30,
              'the catalog lists csm''s public views');
SELECT cmp_ok((SELECT count(DISTINCT obj)::integer FROM tap_col WHERE kind = 'function'), '>=', 15,
              'the catalog lists csm''s public set-returning functions');

SELECT is((SELECT count(*)::integer FROM tap_col t JOIN tap_deprecated d USING (kind, obj, col)
            WHERE d.obj = 'account_health' AND d.col IN ('name', 'band', 'computed_band', 'coverage')),
          4, 'account_health still has its deprecated name, band, computed_band and coverage');

SELECT is_empty($$SELECT kind || ' ' || obj || '.' || col || ': ' || rule FROM tap_violation ORDER BY 1$$,
                'every public view column and function output column follows the vocabulary');

-- The rules catch what they are about: without the lists, the deprecated
-- names break them.
SELECT is_empty($$SELECT d.obj || '.' || d.col FROM tap_deprecated d
                  WHERE d.col NOT IN ('source_relation', 'capacity_from_ratio', 'expansion_share_arr')
                    AND NOT EXISTS (SELECT FROM tap_col t
                                    CROSS JOIN LATERAL (VALUES
                                        (t.typ IN ('timestamptz'::regtype, 'date'::regtype)),
                                        (t.col ~ '(^|_)(rate|share|adoption|coverage|progress|utilisation|grr|nrr)(_|$)'),
                                        (t.col IN ('arpa', 'ltv', 'band', 'name', 'computed_band'))) r(broken)
                                    WHERE t.kind = d.kind AND t.obj = d.obj AND t.col = d.col AND r.broken)$$,
                'every deprecated name breaks a rule (the list holds no name that follows them)');

SELECT is_empty($$SELECT d.kind || ' ' || d.obj || '.' || d.col FROM tap_deprecated d
                  WHERE NOT EXISTS (SELECT FROM tap_col t WHERE t.kind = d.kind AND t.obj = d.obj AND t.col = d.col)
                     OR NOT EXISTS (SELECT FROM tap_col t WHERE t.kind = d.kind AND t.obj = d.obj AND t.col = d.replacement)$$,
                'each deprecated column and its replacement are there');

SELECT is_empty($$SELECT d.obj || '.' || d.col FROM tap_deprecated d JOIN tap_col t USING (kind, obj, col)
                  WHERE NOT EXISTS (SELECT FROM tap_col r WHERE r.kind = d.kind AND r.obj = d.obj
                                    AND r.col = d.replacement AND r.typ = t.typ)
                    AND d.col <> 'source_relation'$$,
                'each replacement has its deprecated column''s type (source excepted: regclass to text)');

SELECT is_empty($$SELECT d.obj || '.' || d.col FROM tap_deprecated d JOIN tap_col t USING (kind, obj, col)
                  WHERE d.kind = 'view' AND t.cmt IS DISTINCT FROM format('Deprecated: use %s; removed in 0.3.0.', d.replacement)$$,
                'each deprecated column''s comment is "Deprecated: use X; removed in 0.3.0."');

SELECT is_empty($$SELECT r.obj || '.' || r.col FROM tap_deprecated d
                  JOIN tap_col r ON r.kind = d.kind AND r.obj = d.obj AND r.col = d.replacement
                  WHERE d.kind = 'view' AND r.cmt IS NULL$$,
                'each replacement column has a comment');

-- The deprecated columns keep their place and their replacements are
-- appended, so CREATE OR REPLACE VIEW works over a 0.1.0 install.
SELECT is_empty($$SELECT d.obj || '.' || d.replacement FROM tap_deprecated d
                  JOIN tap_col o ON o.kind = d.kind AND o.obj = d.obj AND o.col = d.col
                  JOIN tap_col r ON r.kind = d.kind AND r.obj = d.obj AND r.col = d.replacement
                  WHERE d.col <> 'source_relation' AND r.pos < o.pos$$,
                'replacements are appended after the deprecated columns');

SELECT is_empty($$SELECT obj FROM tap_col WHERE kind = 'view' AND col = 'account_id'
                  EXCEPT SELECT obj FROM tap_col WHERE kind = 'view' AND col = 'external_id'$$,
                'every per-account view has external_id');

SELECT * FROM finish();
ROLLBACK;
