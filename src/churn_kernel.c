/*
 * churn_kernel.c: the arithmetic of csm.churn_fit, with no fmgr, SPI or
 * Datum in sight: plain C arrays in, numbers and a status out, so that it
 * can be read, tested and reused apart from the aggregate (churn_fit.c keeps
 * the rows and the glue).
 *
 * The fit standardises the features with the mean and population standard
 * deviation the aggregate kept (Welford's), and minimises
 *
 *   sum_i logloss_i + lambda / 2 * sum_j coef_j^2     (intercept not penalised)
 *
 * by Newton's method (IRLS): each iteration is one pass over the rows,
 * accumulating the loss, gradient and Hessian at the current coefficients,
 * then a Cholesky solve of the (p+1)x(p+1) system.  A step that does not
 * lower the objective is halved; a system that is not positive definite is
 * damped (Levenberg), so the fit never diverges.  The iteration starts from
 * the intercept-only model's log-odds.
 *
 * The kernel never raises an error: it returns a ChurnFitStatus and the
 * caller reports it.  Its working memory is one block the caller allocates
 * (churn_fit_workspace_size).
 */
#include "postgres.h"

#include <math.h>

#include "churn.h"

/* A step is halved at most this often (to 2^-30 of the Newton step). */
#define MAX_HALVINGS 30

/* Damping grows tenfold at most this often before the step gives up. */
#define MAX_DAMPINGS 40

/*
 * Cholesky factorisation of the n x n symmetric matrix a (row-major, the
 * lower triangle is read), in place into its lower triangle.  false when
 * a is not (numerically) positive definite.
 */
static bool
churn_cholesky(double *a, int n)
{
	for (int j = 0; j < n; j++)
	{
		double	   *row_j = a + (Size) j * n;
		double		diag = row_j[j];
		double		d = diag;
		double		l;

		for (int k = 0; k < j; k++)
			d -= row_j[k] * row_j[k];
		/* a pivot lost to rounding means the matrix is singular for us */
		if (!(d > diag * 1e-13) || !isfinite(d))
			return false;
		l = sqrt(d);
		row_j[j] = l;
		for (int i = j + 1; i < n; i++)
		{
			double	   *row_i = a + (Size) i * n;
			double		s = row_i[j];

			for (int k = 0; k < j; k++)
				s -= row_i[k] * row_j[k];
			row_i[j] = s / l;
		}
	}
	return true;
}

/* Solves L L' x = b in place (b becomes x), L from churn_cholesky. */
static void
churn_cholesky_solve(const double *l, int n, double *b)
{
	/* L y = b */
	for (int i = 0; i < n; i++)
	{
		const double *row_i = l + (Size) i * n;
		double		s = b[i];

		for (int k = 0; k < i; k++)
			s -= row_i[k] * b[k];
		b[i] = s / row_i[i];
	}
	/* L' x = y */
	for (int i = n - 1; i >= 0; i--)
	{
		double		s = b[i];

		for (int k = i + 1; k < n; k++)
			s -= l[(Size) k * n + i] * b[k];
		b[i] = s / l[(Size) i * n + i];
	}
}

/* Two doubles in one SSE2 register (GCC and clang vector extensions). */
typedef double v2d __attribute__((vector_size(16)));

static inline v2d
load2(const double *p)
{
	v2d			v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void
store2(double *p, v2d v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * Rows are taken CHURN_BATCH at a time: each standardised row (padded with
 * zeros to the Hessian's even stride) goes into scratch, and the Hessian's
 * lower triangle gets the batch's rank-4 update two columns at a time, so
 * that it is read and written once per batch.  This is most of a fit's
 * time; with -O2 and no vector code it takes about 1.7 times as long.
 */
void
churn_pass_block(ChurnPass *pass, const double *rows, int nrows)
{
	const int	p = pass->nfeatures;
	const int	width = p + 1;
	const int	stride = CHURN_STRIDE(p);
	const double *mean = pass->mean;
	const double *inv_scale = pass->inv_scale;
	const double *beta = pass->beta;
	double	   *grad = pass->grad;
	double	   *hess = pass->hess;
	double		loss = 0.0;
	int64		wrong = 0;

	for (int first = 0; first < nrows; first += CHURN_BATCH)
	{
		double		w[CHURN_BATCH];
		const double *s[CHURN_BATCH];

		for (int b = 0; b < CHURN_BATCH; b++)
		{
			double	   *sb = pass->scratch + (Size) b * stride;
			const double *row;
			bool		churned;
			double		z;
			double		e;
			double		residual;

			s[b] = sb;
			if (first + b >= nrows)
			{
				/* past the last row: a zero row adds nothing */
				memset(sb, 0, sizeof(double) * stride);
				w[b] = 0.0;
				continue;
			}
			row = rows + (Size) (first + b) * width;
			churned = row[0] != 0.0;
			z = beta[0];
			sb[0] = 1.0;
			for (int j = 1; j <= p; j++)
			{
				sb[j] = (row[j] - mean[j - 1]) * inv_scale[j - 1];
				z += beta[j] * sb[j];
			}
			if (stride > width)
				sb[width] = 0.0;
			/* sigmoid, its derivative and the log-loss from one exp(-|z|) */
			e = exp(-fabs(z));
			w[b] = e / ((1.0 + e) * (1.0 + e));
			if (churned)
			{
				/* mu - 1 = -(1 - mu), not rounded to 0 for large z */
				residual = -(z >= 0.0 ? e / (1.0 + e) : 1.0 / (1.0 + e));
				loss += log1p(e) + fmax(-z, 0.0);
				wrong += (z <= 0.0);
			}
			else
			{
				residual = z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
				loss += log1p(e) + fmax(z, 0.0);
				wrong += (z >= 0.0);
			}
			for (int j = 0; j <= p; j++)
				grad[j] += residual * sb[j];
		}
		if (hess == NULL)
			continue;
		for (int j = 0; j <= p; j++)
		{
			double	   *h = hess + (Size) j * stride;
			double		c0 = w[0] * s[0][j];
			double		c1 = w[1] * s[1][j];
			double		c2 = w[2] * s[2][j];
			double		c3 = w[3] * s[3][j];
			v2d			a0 = {c0, c0};
			v2d			a1 = {c1, c1};
			v2d			a2 = {c2, c2};
			v2d			a3 = {c3, c3};

			/* up to column j, rounded up to even: within the stride */
			for (int k = 0; k <= j; k += 2)
				store2(h + k, load2(h + k) + a0 * load2(s[0] + k) + a1 * load2(s[1] + k)
					   + a2 * load2(s[2] + k) + a3 * load2(s[3] + k));
		}
	}
	pass->loss += loss;
	pass->misclassified += wrong;
}

/*
 * Mean and scale (population standard deviation) of each feature, from
 * Welford's running mean and sum of squared deviations over n rows.  A
 * constant feature gets scale 1 and constant[j] = true.  Returns the index
 * of the first feature whose mean or scale is not finite (values too large),
 * or -1.
 */
static int
churn_standardise(int nfeatures, int64 n, const double *welford_mean, const double *welford_m2,
				  double *mean, double *scale, bool *constant)
{
	for (int j = 0; j < nfeatures; j++)
	{
		double		m2 = welford_m2[j];

		mean[j] = welford_mean[j];
		constant[j] = (m2 == 0.0);
		scale[j] = constant[j] ? 1.0 : sqrt(m2 / (double) n);
		if (!isfinite(mean[j]) || !isfinite(scale[j]) || !isfinite(1.0 / scale[j]))
			return j;
	}
	return -1;
}

/* The penalised objective: loss + lambda / 2 * sum of squared coefficients (not the intercept). */
static double
churn_objective(int nfeatures, double loss, const double *beta, double lambda)
{
	double		penalty = 0.0;

	for (int j = 1; j <= nfeatures; j++)
		penalty += beta[j] * beta[j];
	return loss + 0.5 * lambda * penalty;
}

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
static double
churn_newton_step(int nfeatures, const double *hess, const double *grad, const double *beta,
				  double lambda, const bool *constant, double *step, double *work)
{
	const int	n = nfeatures + 1;
	const int	stride = CHURN_STRIDE(nfeatures);
	double		max_diag = 0.0;
	double		mu = 0.0;

	for (int j = 0; j < n; j++)
		max_diag = fmax(max_diag, hess[(Size) j * stride + j] + (j > 0 ? lambda : 0.0));
	for (int attempt = 0; attempt < MAX_DAMPINGS; attempt++)
	{
		for (int i = 0; i < n; i++)
		{
			for (int k = 0; k <= i; k++)
			{
				double		v = hess[(Size) i * stride + k];

				if (i > 0 && (constant[i - 1] || (k > 0 && constant[k - 1])))
					v = (i == k) ? 1.0 : 0.0;
				else if (i == k)
					v += (i > 0 ? lambda : 0.0) + mu;
				work[(Size) i * n + k] = v;
			}
		}
		if (churn_cholesky(work, n))
		{
			for (int j = 0; j < n; j++)
			{
				if (j > 0 && constant[j - 1])
					step[j] = 0.0;
				else
					step[j] = -(grad[j] + (j > 0 ? lambda * beta[j] : 0.0));
			}
			churn_cholesky_solve(work, n, step);
			return mu;
		}
		mu = (mu == 0.0) ? 1e-10 * fmax(max_diag, 1.0) : mu * 10.0;
	}
	return -1.0;
}


/* ---------------------------------------------------------------- IRLS */

/*
 * The iteration's state: the working arrays, carved from the caller's block
 * (n = p + 1 coefficients, the intercept first), and the objective at beta.
 * A trial point that lowers the objective swaps places with the current one.
 */
typedef struct Irls
{
	const ChurnFitInput *in;
	const double *mean;
	double	   *inv_scale;		/* p */
	bool	   *constant;		/* p: constant features keep coefficient 0 */
	double	   *beta;			/* n: the current coefficients */
	double	   *grad;			/* n: the loss's gradient at beta */
	double	   *hess;			/* n x CHURN_STRIDE(p): its Hessian's lower triangle */
	double	   *trial;			/* the same three at a trial point */
	double	   *trial_grad;
	double	   *trial_hess;
	double	   *step;			/* n: the Newton step from beta */
	double	   *work;			/* n x n: the damped system and its factor */
	double	   *scratch;		/* CHURN_BATCH x CHURN_STRIDE(p), for churn_pass_block */
	double		loss;			/* the summed log-loss at beta */
	double		objective;		/* loss plus the penalty */
	int64		misclassified;	/* rows on the wrong side of beta's boundary */
} Irls;

/* The next count doubles of the workspace. */
static double *
take_doubles(char *block, Size *used, Size count)
{
	double	   *taken = (double *) (void *) (block + *used);

	*used += count * sizeof(double);
	return taken;
}

Size
churn_fit_workspace_size(int nfeatures)
{
	const Size	n = (Size) nfeatures + 1;
	const Size	stride = CHURN_STRIDE(nfeatures);

	/* what irls_layout takes: 6 vectors, 2 Hessians, the system, the scratch rows, the flags */
	return sizeof(double) * (6 * n + 2 * n * stride + n * n + CHURN_BATCH * stride) + sizeof(bool) * n;
}

/* Carves the working arrays out of the caller's block. */
static void
irls_layout(Irls *it, int nfeatures, char *block)
{
	const Size	n = (Size) nfeatures + 1;
	const Size	hess_size = n * CHURN_STRIDE(nfeatures);
	Size		used = 0;

	it->inv_scale = take_doubles(block, &used, n);
	it->beta = take_doubles(block, &used, n);
	it->grad = take_doubles(block, &used, n);
	it->hess = take_doubles(block, &used, hess_size);
	it->trial = take_doubles(block, &used, n);
	it->trial_grad = take_doubles(block, &used, n);
	it->trial_hess = take_doubles(block, &used, hess_size);
	it->step = take_doubles(block, &used, n);
	it->work = take_doubles(block, &used, n * n);
	it->scratch = take_doubles(block, &used, (Size) CHURN_BATCH * CHURN_STRIDE(nfeatures));
	/* the flags last: the doubles before them stay aligned */
	it->constant = (bool *) (void *) (block + used);
	used += n * sizeof(bool);
	Assert(used == churn_fit_workspace_size(nfeatures));
}

/*
 * One pass over every row at beta: the summed log-loss, its gradient and
 * Hessian (lower triangle), and the rows on the wrong side of the decision
 * boundary.
 */
static double
irls_pass(const Irls *it, const double *beta, double *grad, double *hess, int64 *misclassified)
{
	const int	p = it->in->nfeatures;
	ChurnPass	pass;

	memset(grad, 0, sizeof(double) * (p + 1));
	memset(hess, 0, sizeof(double) * (p + 1) * CHURN_STRIDE(p));
	pass.nfeatures = p;
	pass.mean = it->mean;
	pass.inv_scale = it->inv_scale;
	pass.beta = beta;
	pass.loss = 0.0;
	pass.misclassified = 0;
	pass.grad = grad;
	pass.hess = hess;
	pass.scratch = it->scratch;
	it->in->scan(it->in->scan_arg, &pass);
	*misclassified = pass.misclassified;
	return pass.loss;
}

/*
 * Converged when the step is tiny; but with lambda 0, a model that puts
 * every row on its side of the boundary shows the classes are separable,
 * and the optimum lies at infinity: steps only look tiny there once the
 * weights underflow.
 */
static bool
irls_step_is_last(const Irls *it)
{
	const int	n = it->in->nfeatures + 1;
	double		max_step = 0.0;
	double		max_beta = 0.0;

	for (int j = 0; j < n; j++)
	{
		max_step = fmax(max_step, fabs(it->step[j]));
		max_beta = fmax(max_beta, fabs(it->beta[j]));
	}
	return max_step <= it->in->tolerance * (1.0 + max_beta) && !(it->in->lambda == 0.0 && it->misclassified == 0);
}

/*
 * Moves beta along the step, halving it until the objective does not rise
 * (beyond rounding).  false when no step lowers it: the fit has stalled.
 */
static bool
irls_line_search(Irls *it)
{
	const int	p = it->in->nfeatures;

	for (int halvings = 0; halvings <= MAX_HALVINGS; halvings++)
	{
		double		t = ldexp(1.0, -halvings);
		double		trial_loss;
		double		trial_objective;
		int64		trial_misclassified;

		for (int j = 0; j <= p; j++)
			it->trial[j] = it->beta[j] + t * it->step[j];
		trial_loss = irls_pass(it, it->trial, it->trial_grad, it->trial_hess, &trial_misclassified);
		trial_objective = churn_objective(p, trial_loss, it->trial, it->in->lambda);
		if (trial_objective <= it->objective + 1e-12 * fabs(it->objective))
		{
			double	   *swap;

			swap = it->beta, it->beta = it->trial, it->trial = swap;
			swap = it->grad, it->grad = it->trial_grad, it->trial_grad = swap;
			swap = it->hess, it->hess = it->trial_hess, it->trial_hess = swap;
			it->loss = trial_loss;
			it->objective = trial_objective;
			it->misclassified = trial_misclassified;
			return true;
		}
	}
	return false;
}

ChurnFitStatus
churn_fit_irls(const ChurnFitInput *in, void *workspace, ChurnFitOutput *out)
{
	const int	p = in->nfeatures;
	const double lambda = in->lambda;
	Irls		it;
	bool		converged = false;

	irls_layout(&it, p, workspace);
	it.in = in;
	it.mean = out->mean;
	out->iterations = 0;
	out->bad_feature = churn_standardise(p, in->rows, in->welford_mean, in->welford_m2,
										 out->mean, out->scale, it.constant);
	if (out->bad_feature >= 0)
		return CHURN_FIT_BAD_FEATURE;
	for (int j = 0; j < p; j++)
		it.inv_scale[j] = 1.0 / out->scale[j];

	/* start from the intercept-only model's log-odds */
	memset(it.beta, 0, sizeof(double) * (p + 1));
	it.beta[0] = log((double) in->positives / (double) (in->rows - in->positives));
	it.loss = irls_pass(&it, it.beta, it.grad, it.hess, &it.misclassified);
	it.objective = churn_objective(p, it.loss, it.beta, lambda);

	while (out->iterations < in->max_iterations)
	{
		double		mu = churn_newton_step(p, it.hess, it.grad, it.beta, lambda, it.constant, it.step, it.work);

		out->iterations++;
		if (mu < 0)
			return CHURN_FIT_NO_SOLUTION;
		if (irls_step_is_last(&it))
		{
			/*
			 * The last, tiny step: take it.  The loss moves by about
			 * step' H step / 2, relatively below 1e-15 here, so the loss
			 * already measured stands without another pass.
			 */
			for (int j = 0; j <= p; j++)
				it.beta[j] += it.step[j];
			converged = true;
			break;
		}
		if (!irls_line_search(&it))
			break;
	}

	memcpy(out->beta, it.beta, sizeof(double) * (p + 1));
	out->loss = it.loss;
	if (converged)
		return CHURN_FIT_CONVERGED;
	return (lambda == 0.0 && it.misclassified == 0) ? CHURN_FIT_SEPARABLE : CHURN_FIT_NOT_CONVERGED;
}
