/*
 * lifecycle.c: the hot path of csm.refresh_lifecycle().
 *
 * csm_internal._first_match(conditions rule_condition[], facts jsonb) returns the
 * 1-based position of the first condition the facts satisfy, or NULL.  The
 * refresh calls it once per account with the same array of the enabled
 * lifecycle rules' conditions; the array is taken apart once per call site
 * (kept in fn_extra while the array stays the same) instead of once per
 * account, and each condition is evaluated by condition.c.
 *
 * csm_internal._facts_object(VARIADIC "any") builds the facts the refresh
 * gives it: the jsonb of jsonb_build_object over the same arguments, with
 * each argument's type looked at once per call site instead of once per
 * value (jsonb_build_object looks each type up in the catalog and turns
 * every number into text and back, for every account).
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "csm.h"

PG_FUNCTION_INFO_V1(csm_first_match);
PG_FUNCTION_INFO_V1(csm_facts_object);

/* The conditions of one array, taken apart, with the array they came from. */
typedef struct FirstMatchCache
{
	ArrayType  *array;			/* a copy, to tell whether the next call's is the same */
	int			n;
	Datum	   *conditions;
	bool	   *nulls;
} FirstMatchCache;

static FirstMatchCache *
first_match_cache(FmgrInfo *flinfo, ArrayType *array)
{
	FirstMatchCache *cache = (FirstMatchCache *) flinfo->fn_extra;
	MemoryContext old;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (cache != NULL && VARSIZE(cache->array) == VARSIZE(array)
		&& memcmp(cache->array, array, VARSIZE(array)) == 0)
		return cache;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("conditions must be a one-dimensional array")));

	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	if (cache != NULL)
	{
		pfree(cache->array);
		if (cache->conditions != NULL)
			pfree(cache->conditions);
		if (cache->nulls != NULL)
			pfree(cache->nulls);
	}
	else
		cache = palloc0(sizeof(FirstMatchCache));
	cache->array = (ArrayType *) palloc(VARSIZE(array));
	memcpy(cache->array, array, VARSIZE(array));
	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	/* deconstructed from the copy, which lives as long as the cache */
	deconstruct_array(cache->array, ARR_ELEMTYPE(array), typlen, typbyval, typalign,
					  &cache->conditions, &cache->nulls, &cache->n);
	MemoryContextSwitchTo(old);
	flinfo->fn_extra = cache;
	return cache;
}

Datum
csm_first_match(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	Datum		facts = PointerGetDatum(PG_GETARG_JSONB_P(1));
	FirstMatchCache *cache = first_match_cache(fcinfo->flinfo, array);

	for (int i = 0; i < cache->n; i++)
	{
		if (cache->nulls[i])
			continue;
		if (DatumGetBool(DirectFunctionCall2(csm_condition_matches, cache->conditions[i], facts)))
			PG_RETURN_INT32(i + 1);
	}
	PG_RETURN_NULL();
}

/*
 * How one argument of csm_facts_object becomes a jsonb value, as
 * jsonb_build_object makes it: text and enum labels strings, integers and
 * numerics numbers, booleans booleans.  Any other type (dates, floats,
 * jsonb, arrays, domains...) leaves the whole object to jsonb_build_object.
 */
typedef enum FactKind
{
	FACT_STRING,
	FACT_INTEGER,
	FACT_NUMERIC,
	FACT_BOOL,
	FACT_ENUM,
	FACT_OTHER
} FactKind;

/* The kinds of one call site's arguments, for the types they came with. */
typedef struct FactsCache
{
	int			nargs;
	Oid		   *types;
	FactKind   *kinds;
	bool		generic;		/* some argument is of another kind */
} FactsCache;

static FactKind
fact_kind(Oid type)
{
	switch (type)
	{
		case TEXTOID:
		case VARCHAROID:
			return FACT_STRING;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return FACT_INTEGER;
		case NUMERICOID:
			return FACT_NUMERIC;
		case BOOLOID:
			return FACT_BOOL;
		default:
			return type_is_enum(type) ? FACT_ENUM : FACT_OTHER;
	}
}

static FactsCache *
facts_cache(FmgrInfo *flinfo, int nargs, Oid *types)
{
	FactsCache *cache = (FactsCache *) flinfo->fn_extra;

	if (cache != NULL && cache->nargs == nargs && memcmp(cache->types, types, nargs * sizeof(Oid)) == 0)
		return cache;
	if (cache == NULL)
		cache = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(FactsCache));
	else
	{
		pfree(cache->types);
		pfree(cache->kinds);
	}
	cache->nargs = nargs;
	cache->types = MemoryContextAlloc(flinfo->fn_mcxt, Max(nargs, 1) * sizeof(Oid));
	memcpy(cache->types, types, nargs * sizeof(Oid));
	cache->kinds = MemoryContextAlloc(flinfo->fn_mcxt, Max(nargs, 1) * sizeof(FactKind));
	cache->generic = nargs % 2 != 0;
	for (int i = 0; i < nargs; i++)
	{
		cache->kinds[i] = fact_kind(types[i]);
		/* keys are text, as the refresh writes them */
		if (cache->kinds[i] == FACT_OTHER || (i % 2 == 0 && cache->kinds[i] != FACT_STRING))
			cache->generic = true;
	}
	flinfo->fn_extra = cache;
	return cache;
}

static void
string_value(JsonbValue *v, char *s, int len)
{
	v->type = jbvString;
	v->val.string.val = s;
	v->val.string.len = len;
}

Datum
csm_facts_object(PG_FUNCTION_ARGS)
{
	Datum	   *args;
	bool	   *nulls;
	Oid		   *types;
	int			nargs = extract_variadic_args(fcinfo, 0, true, &args, &types, &nulls);
	FactsCache *cache;
	JsonbParseState *state = NULL;
	JsonbValue	v;

	if (nargs < 0)
		PG_RETURN_NULL();
	cache = facts_cache(fcinfo->flinfo, nargs, types);
	if (cache->generic)
		return jsonb_build_object(fcinfo);
	for (int i = 0; i < nargs; i += 2)
		if (nulls[i])
			return jsonb_build_object(fcinfo);	/* its error for a null key */

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < nargs; i += 2)
	{
		text	   *key = DatumGetTextPP(args[i]);
		Datum		value = args[i + 1];

		string_value(&v, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
		pushJsonbValue(&state, WJB_KEY, &v);
		if (nulls[i + 1])
			v.type = jbvNull;
		else
			switch (cache->kinds[i + 1])
			{
				case FACT_STRING:
					{
						text	   *t = DatumGetTextPP(value);

						string_value(&v, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
						break;
					}
				case FACT_INTEGER:
					v.type = jbvNumeric;
					v.val.numeric = int64_to_numeric(types[i + 1] == INT2OID ? DatumGetInt16(value)
													 : types[i + 1] == INT4OID ? DatumGetInt32(value)
													 : DatumGetInt64(value));
					break;
				case FACT_NUMERIC:
					/* NaN and the infinities are strings in jsonb */
					if (numeric_is_nan(DatumGetNumeric(value)) || numeric_is_inf(DatumGetNumeric(value)))
					{
						char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, value));

						string_value(&v, s, strlen(s));
					}
					else
					{
						v.type = jbvNumeric;
						v.val.numeric = DatumGetNumeric(value);
					}
					break;
				case FACT_BOOL:
					v.type = jbvBool;
					v.val.boolean = DatumGetBool(value);
					break;
				case FACT_ENUM:
					{
						char	   *s = DatumGetCString(DirectFunctionCall1(enum_out, value));

						string_value(&v, s, strlen(s));
						break;
					}
				case FACT_OTHER:
					pg_unreachable();
			}
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	PG_RETURN_POINTER(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}
