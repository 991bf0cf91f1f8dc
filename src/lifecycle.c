/*
 * lifecycle.c: the hot path of csm.refresh_lifecycle().
 *
 * csm_internal._first_match(conditions rule_condition[], facts jsonb) returns the
 * 1-based position of the first condition the facts satisfy, or NULL.  The
 * refresh calls it once per account with the same array of the enabled
 * lifecycle rules' conditions; the array is taken apart once per call site
 * (kept in fn_extra while the array stays the same) instead of once per
 * account, and each condition is evaluated by condition.c.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "csm.h"

PG_FUNCTION_INFO_V1(csm_first_match);

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
