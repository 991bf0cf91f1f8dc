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
