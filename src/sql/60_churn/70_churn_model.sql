-- The churn model in C: a logistic-regression fitting aggregate, prediction
-- with per-feature contributions, and evaluation (ROC AUC, confusion matrix).
-- A model is jsonb; see csm.churn_fit.

-- Fitting: csm.churn_fit(features, churned [, options]).
CREATE OR REPLACE FUNCTION csm_internal._churn_fit_transfn(internal, float8[], boolean)
RETURNS internal LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_fit_transfn';
COMMENT ON FUNCTION csm_internal._churn_fit_transfn(internal, float8[], boolean) IS
    'Transition function of csm.churn_fit: stores the row and updates each feature''s running mean and variance.';

CREATE OR REPLACE FUNCTION csm_internal._churn_fit_transfn(internal, float8[], boolean, jsonb)
RETURNS internal LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_fit_transfn';
COMMENT ON FUNCTION csm_internal._churn_fit_transfn(internal, float8[], boolean, jsonb) IS
    'Transition function of csm.churn_fit with options: stores the row and updates each feature''s running mean and variance.';

CREATE OR REPLACE FUNCTION csm_internal._churn_fit_finalfn(internal)
RETURNS jsonb LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_fit_finalfn';
COMMENT ON FUNCTION csm_internal._churn_fit_finalfn(internal) IS
    'Final function of csm.churn_fit: standardises the features and fits the model by Newton''s method (IRLS).';

CREATE OR REPLACE AGGREGATE @extschema@.churn_fit(features float8[], churned boolean) (
    SFUNC = csm_internal._churn_fit_transfn,
    STYPE = internal,
    FINALFUNC = csm_internal._churn_fit_finalfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.churn_fit(float8[], boolean) IS
    'Fits an L2-regularised logistic regression of churned on features (lambda 1, 50 iterations, tolerance 1e-8) and returns the model as jsonb; see csm.churn_fit(float8[], boolean, jsonb).';

CREATE OR REPLACE AGGREGATE @extschema@.churn_fit(features float8[], churned boolean, options jsonb) (
    SFUNC = csm_internal._churn_fit_transfn,
    STYPE = internal,
    FINALFUNC = csm_internal._churn_fit_finalfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.churn_fit(float8[], boolean, jsonb) IS
$$Fits an L2-regularised logistic regression of churned on features and returns the model as jsonb: {"kind": "logistic_regression", "features": p, "feature_names": [...] (when given), "intercept", "coefficients" (on the standardised scale), "mean", "scale", "lambda", "iterations", "converged", "log_loss" (mean, unpenalised, on the training rows), "rows", "positives"}.
Features are standardised with their mean and population standard deviation; a constant feature gets scale 1 and coefficient 0. It minimises the summed log-loss + lambda/2 * (sum of squared coefficients), the intercept not penalised, by Newton's method (IRLS, a Cholesky solve per iteration), halving any step that does not lower it and damping a singular system (Levenberg), so it never diverges. Converged means the last step moved no coefficient by more than tolerance * (1 + the largest); otherwise it warns and returns "converged": false (perfectly separable classes with lambda 0 do this).
Options (jsonb object, all optional, the same for every row): lambda (>= 0, default 1), max_iterations (1 to 10000, default 50), tolerance (> 0, default 1e-8), feature_names (array of strings, one per feature). Unknown keys are errors.
Rows whose features or churned is NULL are skipped; no rows at all give NULL. Errors: arrays of different lengths or not one-dimensional 2202E; a NULL element 22004; a NaN or infinite feature, or one too large to standardise (|x - mean| beyond about 1e154), 22003; a single class, or no more rows than features, 22000; bad options 22023; more than 1000 features 54000.
Memory: every row is kept, (features + 1) x 8 bytes, in 512 kB chunks: in memory up to work_mem, in a temporary file (counted against temp_file_limit) beyond it. Measured for 1M rows x 30 features: 4 MB of memory and a 233 MB temporary file with work_mem 4MB, or 237 MB of memory with work_mem 1GB; about 2 s on one core either way (7 iterations). Each iteration reads every row once; a window aggregate (OVER) keeps every row in memory.$$;

-- Prediction.
CREATE OR REPLACE FUNCTION @extschema@.churn_predict(model jsonb, features float8[])
RETURNS float8 LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_predict';
COMMENT ON FUNCTION @extschema@.churn_predict(jsonb, float8[]) IS
$$Churn probability of one feature vector under a model from csm.churn_fit: 1 / (1 + exp(-(intercept + sum of coefficient_j * (x_j - mean_j) / scale_j))), stable for any linear predictor. Reads kind, features, intercept, coefficients, mean, scale and (when present) feature_names; other keys are ignored. The model is parsed once per call site and query. Errors: a malformed model 22023; features of the wrong length or not one-dimensional 2202E; a NULL element 22004; a NaN or infinite feature 22003.$$;

CREATE OR REPLACE FUNCTION @extschema@.churn_contributions(model jsonb, features float8[])
RETURNS float8[] LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_contributions';
COMMENT ON FUNCTION @extschema@.churn_contributions(jsonb, float8[]) IS
$$Each feature's contribution to the linear predictor, in the model's feature order: coefficient_j * (x_j - mean_j) / scale_j (0 for a zero coefficient). intercept + their sum is the log-odds csm.churn_predict turns into a probability; positive values push towards churn. A value absurdly far from the mean may give +-Infinity. Errors as csm.churn_predict.$$;

-- Evaluation: ROC AUC.
CREATE OR REPLACE FUNCTION csm_internal._auc_transfn(internal, float8, boolean)
RETURNS internal LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_auc_transfn';
COMMENT ON FUNCTION csm_internal._auc_transfn(internal, float8, boolean) IS 'Transition function of csm.auc: keeps the score in its class''s list.';
CREATE OR REPLACE FUNCTION csm_internal._auc_combinefn(internal, internal)
RETURNS internal LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_auc_combinefn';
COMMENT ON FUNCTION csm_internal._auc_combinefn(internal, internal) IS 'Combine function of csm.auc: appends one partial state''s scores to another''s.';
CREATE OR REPLACE FUNCTION csm_internal._auc_serialfn(internal)
RETURNS bytea LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_auc_serialfn';
COMMENT ON FUNCTION csm_internal._auc_serialfn(internal) IS 'Serialises a partial csm.auc state for a parallel worker.';
CREATE OR REPLACE FUNCTION csm_internal._auc_deserialfn(bytea, internal)
RETURNS internal LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_auc_deserialfn';
COMMENT ON FUNCTION csm_internal._auc_deserialfn(bytea, internal) IS 'Reads back a partial csm.auc state from a parallel worker.';
CREATE OR REPLACE FUNCTION csm_internal._auc_finalfn(internal)
RETURNS float8 LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_auc_finalfn';
COMMENT ON FUNCTION csm_internal._auc_finalfn(internal) IS 'Final function of csm.auc: sorts each class''s scores and counts the ranked pairs.';

CREATE OR REPLACE AGGREGATE @extschema@.auc(score float8, label boolean) (
    SFUNC = csm_internal._auc_transfn,
    STYPE = internal,
    FINALFUNC = csm_internal._auc_finalfn,
    COMBINEFUNC = csm_internal._auc_combinefn,
    SERIALFUNC = csm_internal._auc_serialfn,
    DESERIALFUNC = csm_internal._auc_deserialfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.auc(float8, boolean) IS
$$ROC AUC of score against label (true = the positive class, e.g. churned): the share of (positive, negative) pairs where the positive scores higher, a tie counting half. Rows with a NULL score or label are skipped; NULL when either class is absent (no pair to rank). A NaN score is an error (22003); infinities are fine. Keeps 8 bytes per row in memory and sorts them: O(n log n).$$;

-- Evaluation: confusion matrix and scores at a threshold.
CREATE OR REPLACE FUNCTION csm_internal._churn_evaluate_transfn(internal, float8, boolean)
RETURNS internal LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_evaluate_transfn';
COMMENT ON FUNCTION csm_internal._churn_evaluate_transfn(internal, float8, boolean) IS 'Transition function of csm.churn_evaluate at threshold 0.5.';
CREATE OR REPLACE FUNCTION csm_internal._churn_evaluate_transfn(internal, float8, boolean, float8)
RETURNS internal LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_evaluate_transfn';
COMMENT ON FUNCTION csm_internal._churn_evaluate_transfn(internal, float8, boolean, float8) IS 'Transition function of csm.churn_evaluate: counts the row in the confusion matrix and adds its Brier score and log-loss.';
CREATE OR REPLACE FUNCTION csm_internal._churn_evaluate_combinefn(internal, internal)
RETURNS internal LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_evaluate_combinefn';
COMMENT ON FUNCTION csm_internal._churn_evaluate_combinefn(internal, internal) IS 'Combine function of csm.churn_evaluate: adds two partial states.';
CREATE OR REPLACE FUNCTION csm_internal._churn_evaluate_serialfn(internal)
RETURNS bytea LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_evaluate_serialfn';
COMMENT ON FUNCTION csm_internal._churn_evaluate_serialfn(internal) IS 'Serialises a partial csm.churn_evaluate state for a parallel worker.';
CREATE OR REPLACE FUNCTION csm_internal._churn_evaluate_deserialfn(bytea, internal)
RETURNS internal LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_evaluate_deserialfn';
COMMENT ON FUNCTION csm_internal._churn_evaluate_deserialfn(bytea, internal) IS 'Reads back a partial csm.churn_evaluate state from a parallel worker.';
CREATE OR REPLACE FUNCTION csm_internal._churn_evaluate_finalfn(internal)
RETURNS jsonb LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'csm_churn_evaluate_finalfn';
COMMENT ON FUNCTION csm_internal._churn_evaluate_finalfn(internal) IS 'Final function of csm.churn_evaluate: the jsonb report.';

CREATE OR REPLACE AGGREGATE @extschema@.churn_evaluate(probability float8, churned boolean) (
    SFUNC = csm_internal._churn_evaluate_transfn,
    STYPE = internal,
    FINALFUNC = csm_internal._churn_evaluate_finalfn,
    COMBINEFUNC = csm_internal._churn_evaluate_combinefn,
    SERIALFUNC = csm_internal._churn_evaluate_serialfn,
    DESERIALFUNC = csm_internal._churn_evaluate_deserialfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.churn_evaluate(float8, boolean) IS
    'csm.churn_evaluate(probability, churned, 0.5): see the three-argument form.';

CREATE OR REPLACE AGGREGATE @extschema@.churn_evaluate(probability float8, churned boolean, threshold float8) (
    SFUNC = csm_internal._churn_evaluate_transfn,
    STYPE = internal,
    FINALFUNC = csm_internal._churn_evaluate_finalfn,
    COMBINEFUNC = csm_internal._churn_evaluate_combinefn,
    SERIALFUNC = csm_internal._churn_evaluate_serialfn,
    DESERIALFUNC = csm_internal._churn_evaluate_deserialfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.churn_evaluate(float8, boolean, float8) IS
$$How good churn probabilities are at a threshold (a row is predicted to churn when probability >= threshold): jsonb {"rows", "threshold", "accuracy", "precision", "recall", "f1", "brier" (mean squared error of the probability), "log_loss" (mean; probabilities clipped to [1e-15, 1 - 1e-15]), "true_positive", "false_positive", "true_negative", "false_negative"}. precision is null when nothing is predicted to churn, recall when nothing churned, f1 when either is null. Rows with a NULL probability or churned are skipped; no rows give NULL. Errors: a probability outside [0, 1] or NaN 22003; a threshold outside [0, 1] or NaN 22023, NULL 22004, or not the same on every row 22023.$$;
