/*
 * expansion.c: distinct keys per time window, in one pass over an account's
 * usage rows, for csm.expansion_signals_at.
 *
 *   csm_internal._expansion_window_counts(key text, day date, events bigint, bounds date[]) -> bigint[]
 *   csm_internal._expansion_window_new(key text, day date, events bigint, bounds date[])    -> text[]
 *
 * bounds holds the windows as pairs of days: window w is (bounds[2w+1],
 * bounds[2w+2]], at most WINDOW_MAX of them.  Over the rows of a group,
 * each key's events are summed per window (as float8, as sum(events::float8)
 * does in SQL).  _expansion_window_counts returns, per window, how many keys have a
 * sum > 0 there; _expansion_window_new the keys with a sum > 0 in the first window and
 * none (a sum <= 0, or no row) in the second, in no particular order.
 *
 * Over rows with events > 0 a key's sum is > 0 exactly when it has a row in
 * the window, so _expansion_window_counts is count(DISTINCT key) FILTER (WHERE day in
 * the window) for every window at once, with keys compared bytewise (as
 * COLLATE "C" does).  The SQL form starts a sort per window per group; this
 * keeps one small hash table per group.  The two aggregates have the same
 * transition: over the same arguments in one query, PostgreSQL computes the
 * state once and finalizes it twice.  A window given more than once (the
 * signals' windows often coincide) is summed once: the cost of a row grows
 * with the windows summed.
 */
#include "postgres.h"

#include "compat.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"

PG_FUNCTION_INFO_V1(csm_expansion_window_trans);
PG_FUNCTION_INFO_V1(csm_expansion_window_counts_final);
PG_FUNCTION_INFO_V1(csm_expansion_window_new_final);

#define WINDOW_MAX 8

/* A slot of the hash table; the key's sums are at sums[slot * nwindows]. */
typedef struct WindowKey
{
	uint32		hash;
	int			len;			/* -1: the slot is empty */
	char	   *key;
} WindowKey;

typedef struct WindowState
{
	int			nasked;			/* the windows of bounds, repeats included */
	int			summed[WINDOW_MAX]; /* the window summed for each one asked */
	int			nwindows;		/* the distinct windows, summed */
	DateADT		after[WINDOW_MAX];	/* a window is (after, through] */
	DateADT		through[WINDOW_MAX];
	int			nkeys;
	int			capacity;		/* a power of 2 */
	WindowKey  *slots;
	float8	   *sums;			/* capacity x nwindows */
} WindowState;

/* The windows, from bounds: 22023 unless pairs of non-NULL days, 1 to WINDOW_MAX of them. */
static void
window_bounds(WindowState *state, ArrayType *bounds)
{
	Datum	   *days;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(bounds) > 1 || ARR_ELEMTYPE(bounds) != DATEOID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window bounds must be a one-dimensional array of dates")));
	deconstruct_array(bounds, DATEOID, sizeof(DateADT), true, TYPALIGN_INT, &days, &nulls, &n);
	if (n == 0 || n % 2 != 0 || n / 2 > WINDOW_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window bounds must be 1 to %d pairs of dates, not %d dates", WINDOW_MAX, n)));
	for (int i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window bounds must not be NULL")));
	state->nasked = n / 2;
	state->nwindows = 0;
	for (int asked = 0; asked < state->nasked; asked++)
	{
		DateADT		after = DatumGetDateADT(days[2 * asked]);
		DateADT		through = DatumGetDateADT(days[2 * asked + 1]);
		int			w = 0;

		while (w < state->nwindows && !(state->after[w] == after && state->through[w] == through))
			w++;
		if (w == state->nwindows)
		{
			state->after[w] = after;
			state->through[w] = through;
			state->nwindows++;
		}
		state->summed[asked] = w;
	}
}

/* An empty table of capacity slots (small: most accounts have few users). */
static void
window_table(WindowState *state, MemoryContext cxt, int capacity)
{
	state->capacity = capacity;
	state->slots = MemoryContextAlloc(cxt, sizeof(WindowKey) * capacity);
	state->sums = MemoryContextAllocZero(cxt, sizeof(float8) * capacity * state->nwindows);
	for (int i = 0; i < capacity; i++)
		state->slots[i].len = -1;
}

/* The slot of a key: its own, or the empty one where it belongs. */
static int
window_lookup(const WindowState *state, uint32 hash, const char *key, int len)
{
	uint32		mask = (uint32) state->capacity - 1;

	for (uint32 i = hash & mask;; i = (i + 1) & mask)
	{
		const WindowKey *slot = &state->slots[i];

		if (slot->len < 0 || (slot->hash == hash && slot->len == len && memcmp(slot->key, key, len) == 0))
			return (int) i;
	}
}

/* Doubles the table (kept at most three quarters full). */
static void
window_grow(WindowState *state, MemoryContext cxt)
{
	WindowState old = *state;

	window_table(state, cxt, old.capacity * 2);
	for (int i = 0; i < old.capacity; i++)
	{
		if (old.slots[i].len >= 0)
		{
			int			to = window_lookup(state, old.slots[i].hash, old.slots[i].key, old.slots[i].len);

			state->slots[to] = old.slots[i];
			memcpy(&state->sums[to * state->nwindows], &old.sums[i * old.nwindows], sizeof(float8) * old.nwindows);
		}
	}
	pfree(old.slots);
	pfree(old.sums);
}

Datum
csm_expansion_window_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	WindowState *state;
	DateADT		day;
	float8		events;
	text	   *key;
	const char *data;
	int			len;
	uint32		hash;
	int			at;
	float8	   *sums;
	bool		inside[WINDOW_MAX] = {false};
	bool		any = false;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "csm_internal._expansion_window_trans called in non-aggregate context");

	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(4))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window bounds must not be NULL")));
		state = (WindowState *) MemoryContextAllocZero(aggcontext, sizeof(WindowState));
		window_bounds(state, PG_GETARG_ARRAYTYPE_P(4));
		window_table(state, aggcontext, 8);
	}
	else
		state = (WindowState *) PG_GETARG_POINTER(0);

	/* A row without a key, day or events counts nowhere. */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_POINTER(state);

	day = PG_GETARG_DATEADT(2);
	for (int w = 0; w < state->nwindows; w++)
	{
		inside[w] = day > state->after[w] && day <= state->through[w];
		any |= inside[w];
	}
	if (!any)
		PG_RETURN_POINTER(state);

	events = (float8) PG_GETARG_INT64(3);
	key = PG_GETARG_TEXT_PP(1);
	data = VARDATA_ANY(key);
	len = VARSIZE_ANY_EXHDR(key);
	hash = hash_bytes((const unsigned char *) data, len);

	at = window_lookup(state, hash, data, len);
	if (state->slots[at].len < 0)
	{
		if ((state->nkeys + 1) * 4 > state->capacity * 3)
		{
			window_grow(state, aggcontext);
			at = window_lookup(state, hash, data, len);
		}
		state->slots[at].hash = hash;
		state->slots[at].len = len;
		state->slots[at].key = MemoryContextAlloc(aggcontext, Max(len, 1));
		memcpy(state->slots[at].key, data, len);
		state->nkeys++;
	}
	sums = &state->sums[at * state->nwindows];
	for (int w = 0; w < state->nwindows; w++)
		if (inside[w])
			sums[w] += events;
	PG_RETURN_POINTER(state);
}

/* Per window, the keys with a sum > 0 there. */
Datum
csm_expansion_window_counts_final(PG_FUNCTION_ARGS)
{
	WindowState *state;
	int64		summed[WINDOW_MAX] = {0};
	Datum		counts[WINDOW_MAX];

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (WindowState *) PG_GETARG_POINTER(0);
	for (int i = 0; i < state->capacity; i++)
		if (state->slots[i].len >= 0)
			for (int w = 0; w < state->nwindows; w++)
				if (state->sums[i * state->nwindows + w] > 0)
					summed[w]++;
	for (int asked = 0; asked < state->nasked; asked++)
		counts[asked] = Int64GetDatum(summed[state->summed[asked]]);
	PG_RETURN_ARRAYTYPE_P(construct_array(counts, state->nasked, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* The keys with a sum > 0 in the first window and none in the second. */
Datum
csm_expansion_window_new_final(PG_FUNCTION_ARGS)
{
	WindowState *state;
	Datum	   *keys;
	int			n = 0;
	int			first;
	int			second;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (WindowState *) PG_GETARG_POINTER(0);
	if (state->nasked < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("csm_internal._expansion_window_new needs two windows")));
	first = state->summed[0];
	second = state->summed[1];
	keys = palloc(sizeof(Datum) * Max(state->nkeys, 1));
	for (int i = 0; i < state->capacity; i++)
	{
		const WindowKey *slot = &state->slots[i];
		const float8 *sums = &state->sums[i * state->nwindows];

		if (slot->len >= 0 && sums[first] > 0 && !(sums[second] > 0))
			keys[n++] = PointerGetDatum(cstring_to_text_with_len(slot->key, slot->len));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(keys, n, TEXTOID, -1, false, TYPALIGN_INT));
}
