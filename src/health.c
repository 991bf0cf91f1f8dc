/*
 * health.c: the SQL-callable health functions.  They only unpack arguments
 * and pack results; the arithmetic is in health_kernel.c and models are
 * read once per query by health_model.c.
 *
 *   csm.csm_health_score(metrics jsonb, model text, lenient boolean)    -> float8
 *   csm.csm_health_evaluate(metrics jsonb, model text, lenient boolean) -> csm.health_result
 *   csm.csm_health_score_row(metrics record, model text)   -> float8
 *   csm.csm_health_evaluate_row(metrics record, model text) -> csm.health_result
 *   csm.health_band(score float8) -> csm.health_band
 *   csm_internal._health_metrics_problem(metrics record, model text) -> text
 *       why csm_health_evaluate_row would refuse the row, or NULL
 *   csm_internal._health_score_values(model text, metrics text[], VARIADIC "any") -> float8
 *       what csm_health_score_row(t, model) becomes when the planner knows
 *       t's columns (health_support.c), so that no row value is built
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "health.h"

PG_FUNCTION_INFO_V1(csm_health_score_jsonb);
PG_FUNCTION_INFO_V1(csm_health_evaluate_jsonb);
PG_FUNCTION_INFO_V1(csm_health_score_row);
PG_FUNCTION_INFO_V1(csm_health_evaluate_row);
PG_FUNCTION_INFO_V1(csm_health_band);
PG_FUNCTION_INFO_V1(csm_health_score_values);
PG_FUNCTION_INFO_V1(csm_health_metrics_problem);

/* The metric values of one account, in the model's component order. */
typedef struct MetricValues
{
	double		values[HEALTH_MAX_COMPONENTS];
	bool		present[HEALTH_MAX_COMPONENTS];
} MetricValues;

/* The model's metric names, comma separated, for hints. */
static char *
metric_names(const HealthModel *model)
{
	StringInfoData names;

	initStringInfo(&names);
	for (int i = 0; i < model->ncomponents; i++)
		appendStringInfo(&names, "%s%s", i > 0 ? ", " : "", model->components[i].metric);
	return names.data;
}

pg_noreturn static void unknown_metric_error(const HealthModel *model, Jsonb *metrics);

/*
 * The error for a key of the metrics object that the model has no metric
 * of, usually a typo ("dau" for "dau_ratio"): scoring without it would give
 * a confident score from the other metrics alone.
 */
static void
unknown_metric_error(const HealthModel *model, Jsonb *metrics)
{
	JsonbIterator *it = JsonbIteratorInit(&metrics->root);
	JsonbValue	v;
	JsonbIteratorToken token;

	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		known = false;

		if (token != WJB_KEY)
			continue;
		for (int i = 0; i < model->ncomponents && !known; i++)
			known = strlen(model->components[i].metric) == (size_t) v.val.string.len &&
				memcmp(model->components[i].metric, v.val.string.val, v.val.string.len) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("health model \"%s\" has no metric \"%.*s\"", model->name,
							v.val.string.len, v.val.string.val),
					 errhint("The metrics of model \"%s\" are %s. Pass lenient => true to ignore other keys.",
							 model->name, metric_names(model))));
	}
	elog(ERROR, "csm: unknown metric expected among the keys");
}

/*
 * Reads the model's metrics from a jsonb object; absent keys and nulls are
 * missing.  A key the model does not know is an error unless lenient.
 */
static void
metrics_from_jsonb(const HealthModel *model, Jsonb *metrics, bool lenient, MetricValues *mv)
{
	uint32		found = 0;

	if (!JB_ROOT_IS_OBJECT(metrics) || JB_ROOT_IS_SCALAR(metrics))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("health metrics must be a JSON object"),
				 errhint("Pass an object such as {\"dau_ratio\": 0.85, \"nps\": 9}.")));
	for (int i = 0; i < model->ncomponents; i++)
	{
		const char *metric = model->components[i].metric;
		JsonbValue	key;
		JsonbValue *v;

		key.type = jbvString;
		key.val.string.val = (char *) metric;
		key.val.string.len = strlen(metric);
		v = findJsonbValueFromContainer(&metrics->root, JB_FOBJECT, &key);
		mv->present[i] = false;
		if (v == NULL)
			continue;
		found++;
		if (v->type == jbvNull)
			continue;
		if (v->type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metric \"%s\" is not a number", metric),
					 errhint("Pass metric values as JSON numbers, or null to leave one out.")));
		mv->values[i] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
		mv->present[i] = true;
		check_metric_value(model, i, mv->values[i]);
	}
	/* keys are unique in jsonb: any key beyond those found is unknown */
	if (!lenient && found < JB_ROOT_COUNT(metrics))
		unknown_metric_error(model, metrics);
}

/* Where each of the model's metrics is in a row type, found once per query. */
typedef struct RowMap
{
	Oid			rowtype;
	int32		typmod;
	TupleDesc	desc;
	AttrNumber *attnums;		/* 0 when the row has no such column */
	Oid		   *types;
} RowMap;

/* inlined: it runs once per metric per row */
static pg_attribute_always_inline double
datum_to_double(Datum d, Oid type)
{
	switch (type)
	{
		case FLOAT8OID:
			return DatumGetFloat8(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	}
	elog(ERROR, "csm: unexpected metric column type %u", type);
	return 0.0;					/* keep compilers quiet */
}

pg_noreturn static void non_numeric_metric_error(const char *column, Oid type);

static void
non_numeric_metric_error(const char *column, Oid type)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("metric column \"%s\" has non-numeric type %s", column, format_type_be(type))));
}

static RowMap *
row_map(FunctionCallInfo fcinfo, HeapTupleHeader row, HealthModelEntry *entry)
{
	const HealthModel *model = entry->model;
	Oid			rowtype = HeapTupleHeaderGetTypeId(row);
	int32		typmod = HeapTupleHeaderGetTypMod(row);
	RowMap	   *map = entry->row_map;

	if (map != NULL && map->rowtype == rowtype && map->typmod == typmod)
		return map;
	map = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RowMap));
	map->rowtype = rowtype;
	map->typmod = typmod;
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		map->desc = lookup_rowtype_tupdesc_copy(rowtype, typmod);
		MemoryContextSwitchTo(old);
	}
	map->attnums = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, model->ncomponents * sizeof(AttrNumber));
	map->types = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, model->ncomponents * sizeof(Oid));
	for (int i = 0; i < model->ncomponents; i++)
		for (int a = 0; a < map->desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(map->desc, a);

			if (att->attisdropped || strcmp(NameStr(att->attname), model->components[i].metric) != 0)
				continue;
			if (!is_metric_type(att->atttypid))
				non_numeric_metric_error(NameStr(att->attname), att->atttypid);
			map->attnums[i] = att->attnum;
			map->types[i] = att->atttypid;
		}
	entry->row_map = map;
	return map;
}

/*
 * Reads the model's metrics from a row by column name; NULL or absent
 * columns are missing.  Bad values are an error, or with problem given,
 * are reported there (NULL when there is none) and not checked further: a
 * numeric beyond float8 is then infinite rather than an error.
 */
static void
metrics_from_row(FunctionCallInfo fcinfo, HealthModelEntry *entry, HeapTupleHeader row, MetricValues *mv,
				 char **problem)
{
	const HealthModel *model = entry->model;
	RowMap	   *map = row_map(fcinfo, row, entry);
	int			natts = map->desc->natts;
	Datum		stack_values[32];
	bool		stack_nulls[32];
	Datum	   *values = natts <= 32 ? stack_values : palloc(natts * sizeof(Datum));
	bool	   *nulls = natts <= 32 ? stack_nulls : palloc(natts * sizeof(bool));
	HeapTupleData tuple;

	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	heap_deform_tuple(&tuple, map->desc, values, nulls);
	if (problem != NULL)
		*problem = NULL;
	for (int i = 0; i < model->ncomponents; i++)
	{
		AttrNumber	a = map->attnums[i];

		mv->present[i] = a != 0 && !nulls[a - 1];
		if (!mv->present[i])
			continue;
		if (problem == NULL)
		{
			mv->values[i] = datum_to_double(values[a - 1], map->types[i]);
			check_metric_value(model, i, mv->values[i]);
			continue;
		}
		mv->values[i] = map->types[i] == NUMERICOID
			? DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, values[a - 1]))
			: datum_to_double(values[a - 1], map->types[i]);
		if (!metric_value_ok(model, i, mv->values[i]))
		{
			*problem = metric_value_problem(model, i, mv->values[i]);
			return;
		}
	}
}

/*
 * Where each of the model's metrics is among the values passed to
 * csm_internal._health_score_values, by name: found once per call site when the names
 * are a constant.  The model may have changed since the names were planned:
 * its metrics that were not passed are missing, and names it lacks are
 * ignored.
 */
typedef struct ValuesMap
{
	int			argno[HEALTH_MAX_COMPONENTS];	/* -1 when not passed */
	Oid			types[HEALTH_MAX_COMPONENTS];
} ValuesMap;

static ValuesMap *
values_map(FunctionCallInfo fcinfo, HealthModelEntry *entry)
{
	const HealthModel *model = entry->model;
	ValuesMap  *map = entry->values_map;	/* kept only when the names are constant */
	bool		constant;
	ArrayType  *names;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (map != NULL)
		return map;
	constant = get_fn_expr_arg_stable(fcinfo->flinfo, 1);
	names = PG_GETARG_ARRAYTYPE_P(1);
	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (ARR_NDIM(names) > 1 || n != PG_NARGS() - 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%d metric names for %d values", n, PG_NARGS() - 2),
				 errhint("Pass a one-dimensional array with one metric name per value.")));
	map = constant ? MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(ValuesMap)) : palloc(sizeof(ValuesMap));
	for (int i = 0; i < model->ncomponents; i++)
		map->argno[i] = -1;
	for (int j = 0; j < n; j++)
	{
		char	   *name;

		if (nulls[j])
			continue;
		name = TextDatumGetCString(elems[j]);
		for (int i = 0; i < model->ncomponents; i++)
		{
			Oid			type;

			if (map->argno[i] >= 0 || strcmp(name, model->components[i].metric) != 0)
				continue;
			type = get_fn_expr_argtype(fcinfo->flinfo, j + 2);
			if (!is_metric_type(type))
				non_numeric_metric_error(name, type);
			map->argno[i] = j + 2;
			map->types[i] = type;
		}
	}
	if (constant)
		entry->values_map = map;
	return map;
}

/* Reads the model's metrics from the values passed; NULL or absent ones are missing. */
static void
metrics_from_values(FunctionCallInfo fcinfo, HealthModelEntry *entry, MetricValues *mv)
{
	const HealthModel *model = entry->model;
	const ValuesMap *map = values_map(fcinfo, entry);

	for (int i = 0; i < model->ncomponents; i++)
	{
		int			a = map->argno[i];

		mv->present[i] = a >= 0 && !PG_ARGISNULL(a);
		if (!mv->present[i])
			continue;
		mv->values[i] = datum_to_double(PG_GETARG_DATUM(a), map->types[i]);
		check_metric_value(model, i, mv->values[i]);
	}
}

static HealthModelEntry *
model_for_call(FunctionCallInfo fcinfo, int argno)
{
	return health_model_for_call(fcinfo, argno);
}

static Oid
band_enum_oid(Oid enumtype, HealthZone zone)
{
	Oid			oid = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
									  ObjectIdGetDatum(enumtype),
									  CStringGetDatum(health_zone_name(zone)));

	if (!OidIsValid(oid))
		elog(ERROR, "csm: health_band label \"%s\" is missing", health_zone_name(zone));
	return oid;
}

/* A float8[] of n elements; NULL ones where present[i] is false (present may be NULL). */
static Datum
float8_array(int n, const double *elems, const bool *present)
{
	Datum		datums[HEALTH_MAX_COMPONENTS];
	bool		nulls[HEALTH_MAX_COMPONENTS];
	int			lbound = 1;

	for (int i = 0; i < n; i++)
	{
		/* a missing metric's value was never read: do not touch it */
		nulls[i] = present != NULL && !present[i];
		datums[i] = nulls[i] ? (Datum) 0 : Float8GetDatum(elems[i]);
	}
	return PointerGetDatum(construct_md_array(datums, nulls, 1, &n, &lbound,
											  FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * What a call site of an evaluate function keeps for a model: the result's
 * descriptor, the band labels, and the model's metric names as a text[].
 */
static void
prepare_results(FunctionCallInfo fcinfo, HealthModelEntry *entry)
{
	MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	const HealthModel *model = entry->model;
	Datum		names[HEALTH_MAX_COMPONENTS];
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "csm: health_result type expected");
	entry->result_desc = BlessTupleDesc(CreateTupleDescCopy(desc));
	for (int z = ZONE_GREEN; z <= ZONE_UNKNOWN; z++)
		entry->band_oids[z] = band_enum_oid(TupleDescAttr(entry->result_desc, 3)->atttypid, (HealthZone) z);
	for (int i = 0; i < model->ncomponents; i++)
		names[i] = CStringGetTextDatum(model->components[i].metric);
	entry->metric_names = PointerGetDatum(construct_array(names, model->ncomponents, TEXTOID, -1, false, TYPALIGN_INT));
	MemoryContextSwitchTo(old);
}

/*
 * csm.health_result: (model, model_version, score, band, coverage, metrics,
 * metric_values, component_scores, component_weights).  The detail is in
 * arrays, in the model's component order, as building JSON per account
 * would cost a refresh more than scoring and writing it;
 * csm.health_components() turns them into rows.  A component's zone is the
 * band of its score, so it is not stored.
 */
static Datum
evaluate(FunctionCallInfo fcinfo, HealthModelEntry *entry, const MetricValues *mv)
{
	const HealthModel *model = entry->model;
	int			n = model->ncomponents;
	ComponentResult results[HEALTH_MAX_COMPONENTS];
	double		scores[HEALTH_MAX_COMPONENTS];
	double		weights[HEALTH_MAX_COMPONENTS];
	Datum		values[9];
	bool		nulls[9] = {false};
	double		score;
	double		coverage;
	bool		scored = health_score(model, mv->values, mv->present, results, &score, &coverage);

	if (entry->result_desc == NULL)
		prepare_results(fcinfo, entry);
	for (int i = 0; i < n; i++)
	{
		scores[i] = results[i].score;
		weights[i] = results[i].weight;
	}
	values[0] = CStringGetTextDatum(model->name);
	values[1] = Int32GetDatum(model->version);
	values[2] = Float8GetDatum(score);
	values[3] = scored ? ObjectIdGetDatum(entry->band_oids[health_result_band(model, score, coverage)]) : (Datum) 0;
	values[4] = Float8GetDatum(coverage);
	values[5] = entry->metric_names;
	values[6] = float8_array(n, mv->values, mv->present);
	values[7] = float8_array(n, scores, mv->present);
	values[8] = float8_array(n, weights, NULL);
	nulls[2] = nulls[3] = !scored;
	return HeapTupleGetDatum(heap_form_tuple(entry->result_desc, values, nulls));
}

static Datum
score_only(FunctionCallInfo fcinfo, const HealthModel *model, const MetricValues *mv)
{
	double		score;
	double		coverage;

	if (!health_score(model, mv->values, mv->present, NULL, &score, &coverage))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(score);
}

/* The lenient argument of the jsonb forms; absent (an older SQL definition) is false. */
static inline bool
lenient_arg(FunctionCallInfo fcinfo)
{
	return PG_NARGS() > 2 && PG_GETARG_BOOL(2);
}

Datum
csm_health_score_jsonb(PG_FUNCTION_ARGS)
{
	HealthModel *model = model_for_call(fcinfo, 1)->model;
	MetricValues mv;

	metrics_from_jsonb(model, PG_GETARG_JSONB_P(0), lenient_arg(fcinfo), &mv);
	return score_only(fcinfo, model, &mv);
}

Datum
csm_health_evaluate_jsonb(PG_FUNCTION_ARGS)
{
	HealthModelEntry *entry = model_for_call(fcinfo, 1);
	MetricValues mv;

	metrics_from_jsonb(entry->model, PG_GETARG_JSONB_P(0), lenient_arg(fcinfo), &mv);
	return evaluate(fcinfo, entry, &mv);
}

Datum
csm_health_score_row(PG_FUNCTION_ARGS)
{
	HealthModelEntry *entry = model_for_call(fcinfo, 1);
	MetricValues mv;

	metrics_from_row(fcinfo, entry, PG_GETARG_HEAPTUPLEHEADER(0), &mv, NULL);
	return score_only(fcinfo, entry->model, &mv);
}

/*
 * Not strict, as a metric may be NULL; a NULL model or NULL names are NULL,
 * as they are for the strict csm_health_score_row.
 */
Datum
csm_health_score_values(PG_FUNCTION_ARGS)
{
	HealthModelEntry *entry;
	MetricValues mv;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	entry = model_for_call(fcinfo, 0);
	metrics_from_values(fcinfo, entry, &mv);
	return score_only(fcinfo, entry->model, &mv);
}

Datum
csm_health_evaluate_row(PG_FUNCTION_ARGS)
{
	HealthModelEntry *entry = model_for_call(fcinfo, 1);
	MetricValues mv;

	metrics_from_row(fcinfo, entry, PG_GETARG_HEAPTUPLEHEADER(0), &mv, NULL);
	return evaluate(fcinfo, entry, &mv);
}

/*
 * What csm_health_evaluate_row would refuse in this row's metric values
 * (NaN, infinite, beyond float8, outside a metric's domain), or NULL when
 * it would score it: refresh_health skips such accounts with one pass
 * over the metrics instead of a subtransaction per account.
 */
Datum
csm_health_metrics_problem(PG_FUNCTION_ARGS)
{
	HealthModelEntry *entry = model_for_call(fcinfo, 1);
	MetricValues mv;
	char	   *problem;

	metrics_from_row(fcinfo, entry, PG_GETARG_HEAPTUPLEHEADER(0), &mv, &problem);
	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}

Datum
csm_health_band(PG_FUNCTION_ARGS)
{
	double		score = PG_GETARG_FLOAT8(0);

	if (isnan(score) || score < 0.0 || score > 100.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("health score %s is outside [0, 100]", float8out_internal(score)),
				 errhint("Health scores run from 0 to 100.")));
	PG_RETURN_OID(band_enum_oid(get_fn_expr_rettype(fcinfo->flinfo), health_band_of(score)));
}
