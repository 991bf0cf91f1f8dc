/*
 * churn.h: the churn model.  Plain C kernels (no Datums) for the logistic
 * regression fit, prediction and evaluation, and the shared model type.
 *
 *   churn_fit.c    the fitting aggregate: its rows, options and glue
 *   churn_kernel.c the fit's arithmetic: standardisation, IRLS, Cholesky
 *   churn_model.c  the prediction kernels, model jsonb parse and serialise,
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

/* ---- prediction kernels (churn_model.c) ---- */

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

/* The linear predictor of one feature vector under a model (see above). */
extern double churn_linear_predictor(const ChurnModel *model, const double *x);

/* ---- the fit's kernel (churn_kernel.c) ---- */

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
 * The fit (churn_kernel.c's header says what it minimises and how).  Its
 * caller keeps the rows: scan(scan_arg, pass) must call churn_pass_block
 * on every row once.  Both classes must be present and rows > nfeatures.
 */
typedef void (*ChurnScanFn) (void *scan_arg, ChurnPass *pass);

typedef struct ChurnFitInput
{
	int			nfeatures;
	int64		rows;
	int64		positives;		/* rows with label 1 */
	const double *welford_mean; /* per feature: the running mean */
	const double *welford_m2;	/* and sum of squared deviations */
	double		lambda;
	int			max_iterations;
	double		tolerance;
	ChurnScanFn scan;
	void	   *scan_arg;
} ChurnFitInput;

typedef enum ChurnFitStatus
{
	CHURN_FIT_CONVERGED,
	CHURN_FIT_NOT_CONVERGED,	/* out of iterations, or no step lowers the objective */
	CHURN_FIT_SEPARABLE,		/* not converged, lambda 0 and every row on its side */
	CHURN_FIT_BAD_FEATURE,		/* feature bad_feature cannot be standardised */
	CHURN_FIT_NO_SOLUTION		/* the Newton system has no finite solution */
} ChurnFitStatus;

/* What the fit found; the caller allocates mean, scale (nfeatures) and beta (nfeatures + 1). */
typedef struct ChurnFitOutput
{
	double	   *mean;
	double	   *scale;			/* a constant feature's is 1 */
	double	   *beta;			/* the intercept, then the standardised coefficients */
	double		loss;			/* the summed log-loss at the last point measured */
	int			iterations;
	int			bad_feature;	/* for CHURN_FIT_BAD_FEATURE, else -1 */
} ChurnFitOutput;

/* The bytes of working memory churn_fit_irls needs for nfeatures. */
extern Size churn_fit_workspace_size(int nfeatures);

/*
 * Fits the model; never raises an error.  mean and scale are set (up to
 * bad_feature for CHURN_FIT_BAD_FEATURE), and beta and loss for the
 * statuses that return a model: converged, not converged and separable.
 */
extern ChurnFitStatus churn_fit_irls(const ChurnFitInput *in, void *workspace, ChurnFitOutput *out);

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
