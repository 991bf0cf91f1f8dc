/*
 * churn.h: the churn model.  Plain C kernels (no Datums) for the logistic
 * regression fit, prediction and evaluation, and the shared model type.
 *
 *   churn_fit.c    the fitting aggregate (rows, standardisation, IRLS)
 *   churn_model.c  the kernels below, model jsonb parse and serialise,
 *                  csm.churn_predict and csm.churn_contributions
 *   churn_eval.c   csm.auc and csm.churn_evaluate
 */
#ifndef CSM_CHURN_H
#define CSM_CHURN_H

#include "postgres.h"

#include "compat.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/jsonb.h"

/*
 * Features a model may have.  The fit solves a (p+1)x(p+1) system per
 * iteration and each pass costs rows x (p+1)^2 / 2, so far fewer is the
 * practical range; this bounds memory and the stack.
 */
#define CHURN_MAX_FEATURES 1000

/*
 * A fitted model.  The linear predictor is
 *   z = intercept + sum_j coef[j] * (x[j] - mean[j]) / scale[j]
 * and the probability sigmoid(z).  weight[j] = coef[j] / scale[j] is
 * precomputed for prediction; active[] lists the features whose weight is
 * not zero (constant features have coefficient 0 and are skipped).
 */
typedef struct ChurnModel
{
	int			nfeatures;
	double		intercept;
	double	   *coef;
	double	   *mean;
	double	   *scale;
	double	   *weight;
	int			nactive;
	int		   *active;
} ChurnModel;

/* ---- kernels (churn_model.c) ---- */

/* 1 / (1 + exp(-z)), without overflow for any z. */
extern double churn_sigmoid(double z);

/* log(1 + exp(z)), without overflow for any z. */
extern double churn_log1pexp(double z);

/* The log-loss of one row whose linear predictor is z. */
static inline double
churn_row_loss(double z, bool churned)
{
	return churn_log1pexp(churned ? -z : z);
}

/*
 * Cholesky factorisation of the n x n symmetric matrix a (row-major, the
 * lower triangle is read), in place into its lower triangle.  false when
 * a is not (numerically) positive definite.
 */
extern bool churn_cholesky(double *a, int n);

/* Solves L L' x = b in place (b becomes x), L from churn_cholesky. */
extern void churn_cholesky_solve(const double *l, int n, double *b);

/* The linear predictor of one feature vector under a model (see above). */
extern double churn_linear_predictor(const ChurnModel *model, const double *x);

/*
 * One pass of the fit over a block of stored rows.  A row is p + 1 doubles:
 * the label (0 or 1) and then the p raw features.  Adds to loss, grad
 * (p + 1) and, when hess is not NULL, the lower triangle of hess (p + 1
 * rows of CHURN_STRIDE(p) doubles): the unpenalised log-loss, its gradient
 * and Hessian at beta (intercept first, then the standardised
 * coefficients); and to misclassified the rows on the wrong side of (or
 * on) the decision boundary.  scratch holds CHURN_BATCH * CHURN_STRIDE(p)
 * doubles.
 */
#define CHURN_STRIDE(p) (((p) + 2) & ~1)	/* p + 1, rounded up to even */
#define CHURN_BATCH 4

typedef struct ChurnPass
{
	int			nfeatures;
	const double *mean;
	const double *inv_scale;
	const double *beta;
	double		loss;
	int64		misclassified;
	double	   *grad;
	double	   *hess;
	double	   *scratch;
} ChurnPass;

extern void churn_pass_block(ChurnPass *pass, const double *rows, int nrows);

/*
 * Mean and scale (population standard deviation) of each feature, from
 * Welford's running mean and sum of squared deviations over n rows.  A
 * constant feature gets scale 1 and constant[j] = true.  Returns the index
 * of the first feature whose mean or scale is not finite (values too large),
 * or -1.
 */
extern int	churn_standardise(int nfeatures, int64 n, const double *welford_mean, const double *welford_m2,
							  double *mean, double *scale, bool *constant);

/* The penalised objective: loss + lambda / 2 * sum of squared coefficients (not the intercept). */
extern double churn_objective(int nfeatures, double loss, const double *beta, double lambda);

/*
 * The penalised Newton step at beta (intercept first): solves
 * (H + lambda D) step = -(grad + lambda D beta), D = diag(0, 1, ..., 1),
 * by Cholesky.  A constant feature's row and column are the identity and
 * its gradient 0, so its coefficient stays 0.  When the system is not
 * positive definite (collinear features and lambda = 0, or saturated
 * weights), adds mu I (Levenberg), mu growing tenfold until it is.  hess
 * (lower triangle, p + 1 rows of CHURN_STRIDE(p)) is left as it was; work
 * holds (p + 1)^2 doubles.  Returns the damping mu used, 0 for none, or -1 when
 * no damping helped (non-finite input).
 */
extern double churn_newton_step(int nfeatures, const double *hess, const double *grad, const double *beta,
								double lambda, const bool *constant, double *step, double *work);

/* ---- model jsonb (churn_model.c) ---- */

/* Parses and validates a model (ERRCODE_INVALID_PARAMETER_VALUE when malformed). */
extern ChurnModel *churn_model_from_jsonb(Jsonb *jb, MemoryContext cxt);

/* What the fit found, for churn_model_to_jsonb. */
typedef struct ChurnFitResult
{
	int			nfeatures;
	double		intercept;
	const double *coef;
	const double *mean;
	const double *scale;
	Jsonb	   *feature_names;	/* NULL for none */
	double		lambda;
	int			iterations;
	bool		converged;
	double		log_loss;
	int64		rows;
	int64		positives;
} ChurnFitResult;

extern Jsonb *churn_model_to_jsonb(const ChurnFitResult *fit);

/*
 * Reads a float8[] of features: one-dimensional (or empty), no NULLs, every
 * value finite.  Returns the values (pointing into the array) and their
 * count; what names the argument in messages.
 */
extern const double *churn_features(ArrayType *array, int *nfeatures, const char *what);

/* Numbers in jsonb, exactly (shortest round-trip decimal). */
extern JsonbValue *churn_jsonb_number(JsonbParseState **state, double value);

/* Pushes an object key, and an integer value (churn_model.c). */
extern void churn_jsonb_key(JsonbParseState **state, const char *key);
extern void churn_jsonb_int(JsonbParseState **state, int64 value);

/* The feature value error shared by the fit and prediction. */
pg_noreturn extern void churn_feature_error(const char *what, int position, double value);

#endif							/* CSM_CHURN_H */
