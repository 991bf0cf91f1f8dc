/*
 * churn_model.c: the churn model's arithmetic and its jsonb form.
 *
 *   kernels (plain C, no Datums): sigmoid, log-loss, standardisation, one
 *   IRLS pass over a block of rows, the penalised Newton step, Cholesky
 *
 *   csm.churn_predict(model jsonb, features float8[])       -> float8
 *   csm.churn_contributions(model jsonb, features float8[]) -> float8[]
 *
 * A model is the jsonb csm.churn_fit() returns:
 *   {"kind": "logistic_regression", "features": p, "feature_names": [...],
 *    "intercept": b, "coefficients": [p], "mean": [p], "scale": [p],
 *    "lambda": l, "iterations": k, "converged": bool, "log_loss": x,
 *    "rows": n, "positives": n1}
 * Prediction needs only kind, features, intercept, coefficients, mean and
 * scale (and checks feature_names when present); the other keys describe
 * the fit and are not read, so a model may be written by hand.
 */
#include "postgres.h"

#include "csm.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "churn.h"

PG_FUNCTION_INFO_V1(csm_churn_predict);
PG_FUNCTION_INFO_V1(csm_churn_contributions);

/* ---------------------------------------------------------------- kernels */

double
churn_sigmoid(double z)
{
	if (z >= 0.0)
		return 1.0 / (1.0 + exp(-z));
	else
	{
		double		e = exp(z);

		return e / (1.0 + e);
	}
}

double
churn_log1pexp(double z)
{
	if (z > 0.0)
		return z + log1p(exp(-z));
	return log1p(exp(z));
}

bool
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

void
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

double
churn_linear_predictor(const ChurnModel *model, const double *x)
{
	double		z = model->intercept;

	/* features whose weight is 0 are skipped: 0 * Inf would be NaN */
	for (int a = 0; a < model->nactive; a++)
	{
		int			j = model->active[a];

		z += (x[j] - model->mean[j]) * model->weight[j];
	}
	return z;
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

int
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

double
churn_objective(int nfeatures, double loss, const double *beta, double lambda)
{
	double		penalty = 0.0;

	for (int j = 1; j <= nfeatures; j++)
		penalty += beta[j] * beta[j];
	return loss + 0.5 * lambda * penalty;
}

double
churn_newton_step(int nfeatures, const double *hess, const double *grad, const double *beta,
				  double lambda, const bool *constant, double *step, double *work)
{
	const int	n = nfeatures + 1;
	const int	stride = CHURN_STRIDE(nfeatures);
	double		max_diag = 0.0;
	double		mu = 0.0;

	for (int j = 0; j < n; j++)
		max_diag = fmax(max_diag, hess[(Size) j * stride + j] + (j > 0 ? lambda : 0.0));
	for (int attempt = 0; attempt < 40; attempt++)
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

/* ---------------------------------------------------------------- features */

void
churn_feature_error(const char *what, int position, double value)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s %d is %s", what, position,
					isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity")),
			 errhint("Features must be finite numbers; replace missing values before fitting or predicting.")));
}

const double *
churn_features(ArrayType *array, int *nfeatures, const char *what)
{
	const double *values;
	int			n;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%ss must be a one-dimensional array", what),
				 errdetail("The array has %d dimensions.", ARR_NDIM(array))));
	n = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
	if (n > CHURN_MAX_FEATURES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a churn model may have at most %d features", CHURN_MAX_FEATURES),
				 errdetail("The array has %d.", n)));
	if (ARR_HASNULL(array))
	{
		bits8	   *nulls = ARR_NULLBITMAP(array);

		for (int i = 0; i < n; i++)
			if (!(nulls[i / 8] & (1 << (i % 8))))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("%s %d is NULL", what, i + 1),
						 errhint("Features must be finite numbers; replace missing values before fitting or predicting.")));
	}
	/* ARR_DATA_PTR, without its mix of signed and unsigned */
	values = (const double *) (const void *) ((const char *) array +
											  (ARR_HASNULL(array) ? (Size) array->dataoffset
											   : ARR_OVERHEAD_NONULLS(ARR_NDIM(array))));
	for (int i = 0; i < n; i++)
		if (!isfinite(values[i]))
			churn_feature_error(what, i + 1, values[i]);
	*nfeatures = n;
	return values;
}

/* ---------------------------------------------------------------- model jsonb */

/* A malformed model; the arguments are errdetail's. */
#define model_error(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg("malformed churn model"), \
			 errdetail(__VA_ARGS__), \
			 errhint("A churn model is the jsonb csm.churn_fit() returns; it needs kind, features, intercept, coefficients, mean and scale.")))

static JsonbValue *
model_key(Jsonb *jb, const char *key, JsonbValue *buf)
{
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), buf);
}

/* A JSON number as a double: NaN or Infinity when it is beyond float8. */
static double
jsonb_number(const JsonbValue *v)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v->val.numeric)));
}

static double
model_number(Jsonb *jb, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = model_key(jb, key, &buf);
	double		d;

	if (v == NULL)
		model_error("Key \"%s\" is missing.", key);
	else if (v->type != jbvNumeric)
		model_error("\"%s\" is not a number.", key);
	d = jsonb_number(v);
	if (!isfinite(d))
		model_error("\"%s\" is not a finite double precision number.", key);
	return d;
}

/* Reads an array of n finite numbers into out. */
static void
model_array(Jsonb *jb, const char *key, int n, double *out)
{
	JsonbValue	buf;
	JsonbValue *v = model_key(jb, key, &buf);
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			i = 0;

	if (v == NULL)
		model_error("Key \"%s\" is missing.", key);
	else if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		model_error("\"%s\" is not an array.", key);
	if (JsonContainerSize(v->val.binary.data) != (uint32) n)
		model_error("\"%s\" has %u elements, but \"features\" is %d.",
					key, JsonContainerSize(v->val.binary.data), n);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvNumeric)
			model_error("Element %d of \"%s\" is not a number.", i + 1, key);
		out[i] = jsonb_number(&elem);
		if (!isfinite(out[i]))
			model_error("Element %d of \"%s\" is not a finite double precision number.", i + 1, key);
		i++;
	}
}

ChurnModel *
churn_model_from_jsonb(Jsonb *jb, MemoryContext cxt)
{
	JsonbValue	buf;
	JsonbValue *v;
	ChurnModel *model;
	double		p;
	int			n;

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		model_error("The model is not a JSON object.");
	v = model_key(jb, "kind", &buf);
	if (v == NULL)
		model_error("Key \"kind\" is missing.");
	else if (v->type != jbvString || v->val.string.len != strlen("logistic_regression") ||
		memcmp(v->val.string.val, "logistic_regression", v->val.string.len) != 0)
		model_error("\"kind\" is not \"logistic_regression\".");
	p = model_number(jb, "features");
	if (p != floor(p) || p < 0 || p > CHURN_MAX_FEATURES)
		model_error("\"features\" is not a whole number from 0 to %d.", CHURN_MAX_FEATURES);
	n = (int) p;

	model = MemoryContextAllocZero(cxt, sizeof(ChurnModel));
	model->nfeatures = n;
	model->intercept = model_number(jb, "intercept");
	model->coef = MemoryContextAlloc(cxt, sizeof(double) * (n + 1));
	model->mean = MemoryContextAlloc(cxt, sizeof(double) * (n + 1));
	model->scale = MemoryContextAlloc(cxt, sizeof(double) * (n + 1));
	model->weight = MemoryContextAlloc(cxt, sizeof(double) * (n + 1));
	model->active = MemoryContextAlloc(cxt, sizeof(int) * (n + 1));
	model_array(jb, "coefficients", n, model->coef);
	model_array(jb, "mean", n, model->mean);
	model_array(jb, "scale", n, model->scale);
	for (int j = 0; j < n; j++)
	{
		if (!(model->scale[j] > 0.0))
			model_error("Element %d of \"scale\" is %g; a scale must be positive.", j + 1, model->scale[j]);
		model->weight[j] = model->coef[j] / model->scale[j];
		if (!isfinite(model->weight[j]))
			model_error("Coefficient %d divided by its scale is beyond double precision.", j + 1);
		if (model->weight[j] != 0.0)
			model->active[model->nactive++] = j;
	}

	v = model_key(jb, "feature_names", &buf);
	if (v != NULL && v->type != jbvNull)
	{
		JsonbIterator *it;
		JsonbValue	elem;
		JsonbIteratorToken tok;

		if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
			model_error("\"feature_names\" is not an array.");
		if (JsonContainerSize(v->val.binary.data) != (uint32) n)
			model_error("\"feature_names\" has %u elements, but \"features\" is %d.",
						JsonContainerSize(v->val.binary.data), n);
		it = JsonbIteratorInit(v->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
			if (tok == WJB_ELEM && elem.type != jbvString)
				model_error("An element of \"feature_names\" is not a string.");
	}
	return model;
}

/* A finite double as a numeric that reads back as the same double. */
static Numeric
double_numeric(double value)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (!isfinite(value))
		elog(ERROR, "csm: non-finite number in a churn model");
	double_to_shortest_decimal_buf(value, buf);
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

JsonbValue *
churn_jsonb_number(JsonbParseState **state, double value)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = double_numeric(value);
	return pushJsonbValue(state, WJB_VALUE, &v);
}

void
churn_jsonb_key(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &v);
}

void
churn_jsonb_int(JsonbParseState **state, int64 value)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(value);
	pushJsonbValue(state, WJB_VALUE, &v);
}

static void
push_array(JsonbParseState **state, const char *key, const double *values, int n)
{
	churn_jsonb_key(state, key);
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int j = 0; j < n; j++)
	{
		JsonbValue	v;

		v.type = jbvNumeric;
		v.val.numeric = double_numeric(values[j]);
		pushJsonbValue(state, WJB_ELEM, &v);
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

Jsonb *
churn_model_to_jsonb(const ChurnFitResult *fit)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	churn_jsonb_key(&state, "kind");
	v.type = jbvString;
	v.val.string.val = "logistic_regression";
	v.val.string.len = strlen(v.val.string.val);
	pushJsonbValue(&state, WJB_VALUE, &v);
	churn_jsonb_key(&state, "features");
	churn_jsonb_int(&state, fit->nfeatures);
	if (fit->feature_names != NULL)
	{
		churn_jsonb_key(&state, "feature_names");
		v.type = jbvBinary;
		v.val.binary.data = &fit->feature_names->root;
		v.val.binary.len = VARSIZE(fit->feature_names) - VARHDRSZ;
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	churn_jsonb_key(&state, "intercept");
	churn_jsonb_number(&state, fit->intercept);
	push_array(&state, "coefficients", fit->coef, fit->nfeatures);
	push_array(&state, "mean", fit->mean, fit->nfeatures);
	push_array(&state, "scale", fit->scale, fit->nfeatures);
	churn_jsonb_key(&state, "lambda");
	churn_jsonb_number(&state, fit->lambda);
	churn_jsonb_key(&state, "iterations");
	churn_jsonb_int(&state, fit->iterations);
	churn_jsonb_key(&state, "converged");
	v.type = jbvBool;
	v.val.boolean = fit->converged;
	pushJsonbValue(&state, WJB_VALUE, &v);
	churn_jsonb_key(&state, "log_loss");
	churn_jsonb_number(&state, fit->log_loss);
	churn_jsonb_key(&state, "rows");
	churn_jsonb_int(&state, fit->rows);
	churn_jsonb_key(&state, "positives");
	churn_jsonb_int(&state, fit->positives);
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* ---------------------------------------------------------------- prediction */

/*
 * What a call site keeps in fn_extra: the last model it parsed and the
 * bytes of the datum it came from, as passed (an on-disk TOAST pointer
 * stays a pointer, so a model read from a table is not even detoasted
 * again).  Equal bytes are the same model, so a model from a subquery, or
 * one model joined to every row, is parsed once per query; a constant is
 * not even compared.
 */
typedef struct ModelCache
{
	MemoryContext cxt;
	Size		keylen;
	char	   *key;
	ChurnModel *model;
	bool		constant;		/* the argument is a Const: never compared */
} ModelCache;

static ChurnModel *
model_for_call(FunctionCallInfo fcinfo)
{
	ModelCache *cache = fcinfo->flinfo->fn_extra;
	struct varlena *raw = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(0));
	Jsonb	   *jb = NULL;
	Size		len;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ModelCache));
		cache->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "csm churn model", ALLOCSET_SMALL_SIZES);
		cache->constant = csm_arg_is_const(fcinfo->flinfo, 0);
		fcinfo->flinfo->fn_extra = cache;
	}
	else if (cache->constant && cache->model != NULL)
		return cache->model;
	/* in-memory TOAST pointers (expanded, indirect) point at memory: compare the value */
	if (VARATT_IS_EXTERNAL(raw) && !VARATT_IS_EXTERNAL_ONDISK(raw))
		raw = (struct varlena *) (jb = DatumGetJsonbP(PG_GETARG_DATUM(0)));
	len = VARSIZE_ANY(raw);
	if (cache->model != NULL && cache->keylen == len && memcmp(cache->key, raw, len) == 0)
		return cache->model;

	MemoryContextReset(cache->cxt);
	cache->model = NULL;
	cache->key = MemoryContextAlloc(cache->cxt, len);
	memcpy(cache->key, raw, len);
	cache->keylen = len;
	if (jb == NULL)
		jb = DatumGetJsonbP(PG_GETARG_DATUM(0));
	cache->model = churn_model_from_jsonb(jb, cache->cxt);
	return cache->model;
}

/* The model's features from argument 1, which must match it in length. */
static const double *
features_for_model(FunctionCallInfo fcinfo, const ChurnModel *model)
{
	int			n;
	const double *x = churn_features(PG_GETARG_ARRAYTYPE_P(1), &n, "feature");

	if (n != model->nfeatures)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the churn model has %d features, but the array has %d", model->nfeatures, n),
				 errhint("Pass the features in the order and number the model was fitted with.")));
	return x;
}

Datum
csm_churn_predict(PG_FUNCTION_ARGS)
{
	ChurnModel *model = model_for_call(fcinfo);
	const double *x = features_for_model(fcinfo, model);
	double		z = churn_linear_predictor(model, x);

	if (isnan(z))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("churn model's linear predictor is not a number"),
				 errdetail("Some features are so far from the model's mean that their contributions are +Infinity and -Infinity.")));
	PG_RETURN_FLOAT8(churn_sigmoid(z));
}

Datum
csm_churn_contributions(PG_FUNCTION_ARGS)
{
	ChurnModel *model = model_for_call(fcinfo);
	const double *x = features_for_model(fcinfo, model);
	int			n = model->nfeatures;
	Datum	   *out = palloc(sizeof(Datum) * (n + 1));

	for (int j = 0; j < n; j++)
	{
		/* coefficient x standardised value; 0 for a zero coefficient, whatever the value */
		double		c = model->coef[j] == 0.0 ? 0.0 : model->coef[j] * ((x[j] - model->mean[j]) / model->scale[j]);

		out[j] = Float8GetDatum(c);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(out, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
