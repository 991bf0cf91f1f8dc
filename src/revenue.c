/*
 * revenue.c: the ARR of an account at a day, from its movements, in one pass.
 *
 *   csm_internal._arr_at(effective_date date, change_id bigint, arr_after numeric, cutoff date) -> numeric
 *
 * An aggregate over one account's csm.arr_change rows: the arr_after of the
 * latest row (by effective_date, then change_id) dated on or before cutoff,
 * NULL when there is none.  csm.revenue_retention calls it twice per account
 * (the ARR before the period and at its end), csm.revenue_monthly once per
 * account and month.  The same in SQL is an ordered aggregate,
 * (array_agg(arr_after ORDER BY effective_date DESC, change_id DESC))[1],
 * which sorts each group's rows and builds an array; this keeps only the
 * best row so far, in any input order.
 */
#include "postgres.h"

#include "compat.h"

#include "fmgr.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(csm_arr_at_trans);
PG_FUNCTION_INFO_V1(csm_arr_at_final);

/* The best row so far: its key and its arr_after (in the aggregate's context). */
typedef struct ArrAt
{
	bool		found;
	DateADT		day;
	int64		change_id;
	Numeric		arr;
	Size		capacity;		/* bytes allocated at arr */
} ArrAt;

/*
 * The kernel: whether a row keyed (day, change_id) comes after the best so
 * far.  A later day wins; on the same day, the later change.
 */
static inline bool
arr_key_later(const ArrAt *best, DateADT day, int64 change_id)
{
	if (!best->found)
		return true;
	if (day != best->day)
		return day > best->day;
	return change_id > best->change_id;
}

Datum
csm_arr_at_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	ArrAt	   *state;
	DateADT		day;
	int64		change_id;
	DateADT		cutoff;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "csm_internal._arr_at_trans called in non-aggregate context");

	if (PG_ARGISNULL(0))
		state = (ArrAt *) MemoryContextAllocZero(aggcontext, sizeof(ArrAt));
	else
		state = (ArrAt *) PG_GETARG_POINTER(0);

	/* A row without a day, key, amount or cutoff says nothing about the ARR. */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		PG_RETURN_POINTER(state);

	day = PG_GETARG_DATEADT(1);
	change_id = PG_GETARG_INT64(2);
	cutoff = PG_GETARG_DATEADT(4);

	if (day <= cutoff && arr_key_later(state, day, change_id))
	{
		Numeric		arr = PG_GETARG_NUMERIC(3);
		Size		size = VARSIZE(arr);

		/* Numerics are small: reuse the slot when the new one fits. */
		if (state->capacity < size)
		{
			if (state->arr != NULL)
				pfree(state->arr);
			state->capacity = Max(size, 32);
			state->arr = (Numeric) MemoryContextAlloc(aggcontext, state->capacity);
		}
		memcpy(state->arr, arr, size);
		state->found = true;
		state->day = day;
		state->change_id = change_id;
	}
	PG_RETURN_POINTER(state);
}

Datum
csm_arr_at_final(PG_FUNCTION_ARGS)
{
	ArrAt	   *state;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (ArrAt *) PG_GETARG_POINTER(0);
	if (!state->found)
		PG_RETURN_NULL();
	/* The state may be finalized more than once (window frames): return a copy. */
	PG_RETURN_NUMERIC((Numeric) datumCopy(PointerGetDatum(state->arr), false, -1));
}
