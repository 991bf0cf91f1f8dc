/*
 * churn_eval.c: how good a churn model is.
 *
 *   csm.auc(score float8, label boolean)                          -> float8
 *   csm.churn_evaluate(probability float8, churned boolean
 *                      [, threshold float8])                     -> jsonb
 *
 * Both skip rows with a NULL argument, return NULL over no rows, and run
 * in parallel (partial states combined, serialised as bytea).
 *
 * auc keeps every score, 8 bytes a row, in one array per class; the final
 * function sorts both and counts, for every positive, the negatives below
 * it (ties count half) in one merge: O(n log n), never pairwise.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "churn.h"

PG_FUNCTION_INFO_V1(csm_auc_transfn);
PG_FUNCTION_INFO_V1(csm_auc_combinefn);
PG_FUNCTION_INFO_V1(csm_auc_serialfn);
PG_FUNCTION_INFO_V1(csm_auc_deserialfn);
PG_FUNCTION_INFO_V1(csm_auc_finalfn);
PG_FUNCTION_INFO_V1(csm_churn_evaluate_transfn);
PG_FUNCTION_INFO_V1(csm_churn_evaluate_combinefn);
PG_FUNCTION_INFO_V1(csm_churn_evaluate_serialfn);
PG_FUNCTION_INFO_V1(csm_churn_evaluate_deserialfn);
PG_FUNCTION_INFO_V1(csm_churn_evaluate_finalfn);

/* A sort of doubles with the comparison inlined (no NaN reaches it). */
#define ST_SORT sort_scores
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_CHECK_FOR_INTERRUPTS
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/* ---------------------------------------------------------------- AUC kernel */

/*
 * The ROC AUC of positives' and negatives' scores, both sorted ascending:
 * the share of (positive, negative) pairs where the positive scores higher,
 * a tie counting half.  Counted in halves, exactly, as an integer.
 */
static double
auc_sorted(const double *pos, int64 npos, const double *neg, int64 nneg)
{
	uint64		halves = 0;
	int64		below = 0;		/* negatives < the current positive */
	int64		upto = 0;		/* negatives <= it */

	for (int64 i = 0; i < npos; i++)
	{
		while (below < nneg && neg[below] < pos[i])
			below++;
		if (upto < below)
			upto = below;
		while (upto < nneg && neg[upto] <= pos[i])
			upto++;
		halves += 2 * (uint64) below + (uint64) (upto - below);
	}
	return (double) halves / (2.0 * (double) npos * (double) nneg);
}

/* ---------------------------------------------------------------- auc aggregate */

typedef struct ScoreList
{
	int64		n;
	int64		cap;
	double	   *v;
} ScoreList;

typedef struct AucState
{
	ScoreList	pos;
	ScoreList	neg;
} AucState;

static void
scores_reserve(ScoreList *l, int64 more, MemoryContext cxt)
{
	int64		need = l->n + more;

	if (need <= l->cap)
		return;
	if ((Size) need > MaxAllocHugeSize / sizeof(double))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many rows for csm.auc")));
	l->cap = Max(Max(l->cap * 2, need), 1024);
	if (l->v == NULL)
		l->v = MemoryContextAllocHuge(cxt, sizeof(double) * l->cap);
	else
		l->v = repalloc_huge(l->v, sizeof(double) * l->cap);
}

static AucState *
auc_state(MemoryContext aggcxt)
{
	return MemoryContextAllocZero(aggcxt, sizeof(AucState));
}

Datum
csm_auc_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	AucState   *st = PG_ARGISNULL(0) ? NULL : (AucState *) PG_GETARG_POINTER(0);
	double		score;
	ScoreList  *l;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "csm_auc_transfn called in non-aggregate context");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	score = PG_GETARG_FLOAT8(1);
	if (isnan(score))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("csm.auc score is NaN"),
				 errhint("Scores are ordered to compute the AUC; NaN has no order.")));
	if (st == NULL)
		st = auc_state(aggcxt);
	l = PG_GETARG_BOOL(2) ? &st->pos : &st->neg;
	scores_reserve(l, 1, aggcxt);
	l->v[l->n++] = score;
	PG_RETURN_POINTER(st);
}

Datum
csm_auc_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	AucState   *a = PG_ARGISNULL(0) ? NULL : (AucState *) PG_GETARG_POINTER(0);
	AucState   *b = PG_ARGISNULL(1) ? NULL : (AucState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "csm_auc_combinefn called in non-aggregate context");
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = auc_state(aggcxt);
	scores_reserve(&a->pos, b->pos.n, aggcxt);
	if (b->pos.n > 0)
		memcpy(a->pos.v + a->pos.n, b->pos.v, sizeof(double) * b->pos.n);
	a->pos.n += b->pos.n;
	scores_reserve(&a->neg, b->neg.n, aggcxt);
	if (b->neg.n > 0)
		memcpy(a->neg.v + a->neg.n, b->neg.v, sizeof(double) * b->neg.n);
	a->neg.n += b->neg.n;
	PG_RETURN_POINTER(a);
}

/* bytea: npos, nneg (int64), then the positives' and negatives' scores, as stored */
Datum
csm_auc_serialfn(PG_FUNCTION_ARGS)
{
	AucState   *st = (AucState *) PG_GETARG_POINTER(0);
	Size		len = 2 * sizeof(int64) + sizeof(double) * (st->pos.n + st->neg.n);
	bytea	   *out;
	char	   *p;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many rows in one parallel worker for csm.auc"),
				 errhint("SET max_parallel_workers_per_gather = 0 for this query.")));
	out = palloc(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	p = VARDATA(out);
	memcpy(p, &st->pos.n, sizeof(int64));
	memcpy(p + sizeof(int64), &st->neg.n, sizeof(int64));
	p += 2 * sizeof(int64);
	if (st->pos.n > 0)
		memcpy(p, st->pos.v, sizeof(double) * st->pos.n);
	p += sizeof(double) * st->pos.n;
	if (st->neg.n > 0)
		memcpy(p, st->neg.v, sizeof(double) * st->neg.n);
	PG_RETURN_BYTEA_P(out);
}

Datum
csm_auc_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	Size		len = VARSIZE_ANY_EXHDR(in);
	AucState   *st;
	int64		npos,
				nneg;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "csm_auc_deserialfn called in non-aggregate context");
	if (len < 2 * sizeof(int64))
		elog(ERROR, "csm: malformed csm.auc state");
	memcpy(&npos, p, sizeof(int64));
	memcpy(&nneg, p + sizeof(int64), sizeof(int64));
	if (npos < 0 || nneg < 0 || len != 2 * sizeof(int64) + sizeof(double) * (Size) (npos + nneg))
		elog(ERROR, "csm: malformed csm.auc state");
	p += 2 * sizeof(int64);
	st = auc_state(aggcxt);
	scores_reserve(&st->pos, npos, aggcxt);
	scores_reserve(&st->neg, nneg, aggcxt);
	if (npos > 0)
		memcpy(st->pos.v, p, sizeof(double) * npos);
	if (nneg > 0)
		memcpy(st->neg.v, p + sizeof(double) * npos, sizeof(double) * nneg);
	st->pos.n = npos;
	st->neg.n = nneg;
	PG_RETURN_POINTER(st);
}

/*
 * Sorts the state's scores in place: harmless to later transitions or
 * final calls (the AUC does not depend on the order), so the aggregate's
 * final function is read-only in every sense that matters.
 */
Datum
csm_auc_finalfn(PG_FUNCTION_ARGS)
{
	AucState   *st;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "csm_auc_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (AucState *) PG_GETARG_POINTER(0);
	/* one class only: no pair to rank */
	if (st->pos.n == 0 || st->neg.n == 0)
		PG_RETURN_NULL();
	sort_scores(st->pos.v, st->pos.n);
	sort_scores(st->neg.v, st->neg.n);
	PG_RETURN_FLOAT8(auc_sorted(st->pos.v, st->pos.n, st->neg.v, st->neg.n));
}

/* ---------------------------------------------------------------- churn_evaluate */

/* Probabilities are clipped to [EPS, 1 - EPS] for the log-loss, as scikit-learn does. */
#define LOG_LOSS_EPS 1e-15

typedef struct EvalState
{
	int64		true_positive;
	int64		false_positive;
	int64		true_negative;
	int64		false_negative;
	double		brier;			/* sums */
	double		log_loss;
	double		threshold;
} EvalState;

static double
eval_threshold(FunctionCallInfo fcinfo)
{
	double		t;

	if (PG_NARGS() < 4)
		return 0.5;
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("csm.churn_evaluate threshold must not be NULL")));
	t = PG_GETARG_FLOAT8(3);
	if (isnan(t) || t < 0.0 || t > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("csm.churn_evaluate threshold %g is outside [0, 1]", t)));
	return t;
}

Datum
csm_churn_evaluate_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	EvalState  *st = PG_ARGISNULL(0) ? NULL : (EvalState *) PG_GETARG_POINTER(0);
	double		p;
	bool		churned;
	double		threshold;
	double		clipped;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "csm_churn_evaluate_transfn called in non-aggregate context");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	threshold = eval_threshold(fcinfo);
	p = PG_GETARG_FLOAT8(1);
	churned = PG_GETARG_BOOL(2);
	if (isnan(p) || p < 0.0 || p > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("probability %g is outside [0, 1]", p),
				 errhint("csm.churn_evaluate takes probabilities, such as csm.churn_predict() returns.")));
	if (st == NULL)
	{
		st = MemoryContextAllocZero(aggcxt, sizeof(EvalState));
		st->threshold = threshold;
	}
	else if (threshold != st->threshold)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("csm.churn_evaluate threshold must be the same for every row"),
				 errdetail("It was %g, then %g.", st->threshold, threshold)));

	if (p >= threshold)
	{
		if (churned)
			st->true_positive++;
		else
			st->false_positive++;
	}
	else
	{
		if (churned)
			st->false_negative++;
		else
			st->true_negative++;
	}
	st->brier += (p - (churned ? 1.0 : 0.0)) * (p - (churned ? 1.0 : 0.0));
	clipped = fmin(fmax(p, LOG_LOSS_EPS), 1.0 - LOG_LOSS_EPS);
	st->log_loss -= churned ? log(clipped) : log1p(-clipped);
	PG_RETURN_POINTER(st);
}

Datum
csm_churn_evaluate_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	EvalState  *a = PG_ARGISNULL(0) ? NULL : (EvalState *) PG_GETARG_POINTER(0);
	EvalState  *b = PG_ARGISNULL(1) ? NULL : (EvalState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "csm_churn_evaluate_combinefn called in non-aggregate context");
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		a = MemoryContextAlloc(aggcxt, sizeof(EvalState));
		*a = *b;
		PG_RETURN_POINTER(a);
	}
	if (a->threshold != b->threshold)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("csm.churn_evaluate threshold must be the same for every row"),
				 errdetail("It was %g, then %g.", a->threshold, b->threshold)));
	a->true_positive += b->true_positive;
	a->false_positive += b->false_positive;
	a->true_negative += b->true_negative;
	a->false_negative += b->false_negative;
	a->brier += b->brier;
	a->log_loss += b->log_loss;
	PG_RETURN_POINTER(a);
}

Datum
csm_churn_evaluate_serialfn(PG_FUNCTION_ARGS)
{
	EvalState  *st = (EvalState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, st->true_positive);
	pq_sendint64(&buf, st->false_positive);
	pq_sendint64(&buf, st->true_negative);
	pq_sendint64(&buf, st->false_negative);
	pq_sendfloat8(&buf, st->brier);
	pq_sendfloat8(&buf, st->log_loss);
	pq_sendfloat8(&buf, st->threshold);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
csm_churn_evaluate_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	EvalState  *st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "csm_churn_evaluate_deserialfn called in non-aggregate context");
	buf.data = VARDATA_ANY(in);
	buf.len = VARSIZE_ANY_EXHDR(in);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	st = MemoryContextAlloc(aggcxt, sizeof(EvalState));
	st->true_positive = pq_getmsgint64(&buf);
	st->false_positive = pq_getmsgint64(&buf);
	st->true_negative = pq_getmsgint64(&buf);
	st->false_negative = pq_getmsgint64(&buf);
	st->brier = pq_getmsgfloat8(&buf);
	st->log_loss = pq_getmsgfloat8(&buf);
	st->threshold = pq_getmsgfloat8(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(st);
}

/* A ratio, or null when its denominator is 0. */
static void
push_ratio(JsonbParseState **state, const char *key, int64 num, int64 den)
{
	churn_jsonb_key(state, key);
	if (den == 0)
	{
		JsonbValue	v;

		v.type = jbvNull;
		pushJsonbValue(state, WJB_VALUE, &v);
	}
	else
		churn_jsonb_number(state, (double) num / (double) den);
}

static void
push_count(JsonbParseState **state, const char *key, int64 value)
{
	churn_jsonb_key(state, key);
	churn_jsonb_int(state, value);
}

Datum
csm_churn_evaluate_finalfn(PG_FUNCTION_ARGS)
{
	EvalState  *st;
	JsonbParseState *state = NULL;
	JsonbValue *res;
	int64		rows;
	int64		tp,
				fp,
				tn,
				fn;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "csm_churn_evaluate_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (EvalState *) PG_GETARG_POINTER(0);
	tp = st->true_positive;
	fp = st->false_positive;
	tn = st->true_negative;
	fn = st->false_negative;
	rows = tp + fp + tn + fn;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_count(&state, "rows", rows);
	churn_jsonb_key(&state, "threshold");
	churn_jsonb_number(&state, st->threshold);
	push_ratio(&state, "accuracy", tp + tn, rows);
	push_ratio(&state, "precision", tp, tp + fp);
	push_ratio(&state, "recall", tp, tp + fn);
	/* F1 = 2PR / (P + R) = 2tp / (2tp + fp + fn), defined when both P and R are */
	if (tp + fp > 0 && tp + fn > 0)
		push_ratio(&state, "f1", 2 * tp, 2 * tp + fp + fn);
	else
		push_ratio(&state, "f1", 0, 0);
	churn_jsonb_key(&state, "brier");
	churn_jsonb_number(&state, st->brier / (double) rows);
	churn_jsonb_key(&state, "log_loss");
	churn_jsonb_number(&state, st->log_loss / (double) rows);
	push_count(&state, "true_positive", tp);
	push_count(&state, "false_positive", fp);
	push_count(&state, "true_negative", tn);
	push_count(&state, "false_negative", fn);
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
