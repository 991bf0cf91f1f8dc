/*
 * churn_fit.c: csm.churn_fit(features float8[], churned boolean [, options jsonb]),
 * an aggregate fitting an L2-regularised logistic regression.
 *
 * The transition function stores every row (label and raw features) and
 * keeps Welford's running mean and sum of squared deviations per feature.
 * The final function hands them, and a way to scan the rows, to the fit's
 * kernel (churn_kernel.c: standardisation and Newton's method, IRLS), and
 * reports what it returns.
 *
 * Rows are kept in chunks of about 512 kB, in memory up to work_mem and in
 * a temporary file beyond it: rows x (p + 1) x 8 bytes in all, never one
 * allocation.  The file is read and written a whole chunk per call (fd.c's
 * temporary files, deleted at transaction end and counted against
 * temp_file_limit); BufFile's 8 kB calls made a fit of 1M rows x 20
 * features spend 0.7 s more in reads.  There is no combine function: every Newton pass
 * needs every row, so a partial state would be the rows themselves.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/fd.h"
#include "utils/wait_event.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "churn.h"

PG_FUNCTION_INFO_V1(csm_churn_fit_transfn);
PG_FUNCTION_INFO_V1(csm_churn_fit_finalfn);

#define CHUNK_BYTES (512 * 1024)

/* ---------------------------------------------------------------- row store */

typedef struct RowStore
{
	MemoryContext cxt;
	int			width;			/* doubles per row: the label, then p features */
	int			chunk_rows;
	Size		chunk_bytes;
	double	   *current;		/* the chunk being filled */
	int			current_rows;
	double	  **chunks;			/* full chunks kept in memory */
	int			nchunks;
	int			maxchunks;
	Size		memory_limit;
	bool		can_spill;		/* false for a window aggregate: no shutdown callback */
	File		file;			/* full chunks beyond memory_limit; -1 for none */
	int64		file_chunks;
	double	   *read_buffer;
} RowStore;

static void
rowstore_init(RowStore *rs, MemoryContext cxt, int width, bool can_spill)
{
	rs->cxt = cxt;
	rs->width = width;
	rs->chunk_rows = Max(1, CHUNK_BYTES / (int) (width * sizeof(double)));
	rs->chunk_bytes = (Size) rs->chunk_rows * width * sizeof(double);
	rs->current = MemoryContextAlloc(cxt, rs->chunk_bytes);
	rs->current_rows = 0;
	rs->maxchunks = 16;
	rs->chunks = MemoryContextAlloc(cxt, sizeof(double *) * rs->maxchunks);
	rs->nchunks = 0;
	rs->memory_limit = (Size) work_mem * 1024;
	rs->can_spill = can_spill;
	rs->file = -1;
	rs->file_chunks = 0;
	rs->read_buffer = NULL;
}

/* Moves the full current chunk to memory (within work_mem) or to the file. */
static void
rowstore_flush(RowStore *rs)
{
	/* in memory: the chunks kept, the one being filled and, once spilled, a read buffer */
	if (rs->file < 0 && (!rs->can_spill || (Size) (rs->nchunks + 3) * rs->chunk_bytes <= rs->memory_limit))
	{
		if (rs->nchunks == rs->maxchunks)
		{
			rs->maxchunks *= 2;
			rs->chunks = repalloc(rs->chunks, sizeof(double *) * rs->maxchunks);
		}
		rs->chunks[rs->nchunks++] = rs->current;
		rs->current = MemoryContextAlloc(rs->cxt, rs->chunk_bytes);
	}
	else
	{
		int			written;

		if (rs->file < 0)
			rs->file = OpenTemporaryFile(false);
		written = FileWrite(rs->file, (char *) rs->current, (int) rs->chunk_bytes,
							(off_t) rs->file_chunks * rs->chunk_bytes, WAIT_EVENT_BUFFILE_WRITE);
		if (written != (int) rs->chunk_bytes)
		{
			if (written >= 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write churn_fit's temporary file: %m")));
		}
		rs->file_chunks++;
	}
	rs->current_rows = 0;
}

static inline double *
rowstore_next(RowStore *rs)
{
	if (rs->current_rows == rs->chunk_rows)
		rowstore_flush(rs);
	return rs->current + (Size) rs->current_rows++ * rs->width;
}

/*
 * Closes the temporary file once the aggregate's result is no longer
 * needed (an ExprContext shutdown callback: on error, the resource owner
 * closes the file instead, and this is not called).
 */
static void
rowstore_shutdown(Datum arg)
{
	RowStore   *rs = (RowStore *) DatumGetPointer(arg);

	if (rs->file >= 0)
		FileClose(rs->file);
	rs->file = -1;
	rs->file_chunks = 0;
}

/* Adds every stored row to the pass, a chunk at a time (a ChurnScanFn). */
static void
rowstore_scan(void *arg, ChurnPass *pass)
{
	RowStore   *rs = (RowStore *) arg;

	for (int c = 0; c < rs->nchunks; c++)
	{
		CHECK_FOR_INTERRUPTS();
		churn_pass_block(pass, rs->chunks[c], rs->chunk_rows);
	}
	if (rs->file >= 0)
	{
		if (rs->read_buffer == NULL)
			rs->read_buffer = MemoryContextAlloc(rs->cxt, rs->chunk_bytes);
		for (int64 c = 0; c < rs->file_chunks; c++)
		{
			int			got;

			CHECK_FOR_INTERRUPTS();
			got = FileRead(rs->file, (char *) rs->read_buffer, (int) rs->chunk_bytes,
						   (off_t) c * rs->chunk_bytes, WAIT_EVENT_BUFFILE_READ);
			if (got != (int) rs->chunk_bytes)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not read churn_fit's temporary file: %m")));
			churn_pass_block(pass, rs->read_buffer, rs->chunk_rows);
		}
	}
	if (rs->current_rows > 0)
		churn_pass_block(pass, rs->current, rs->current_rows);
}

/* ---------------------------------------------------------------- options */

typedef struct FitOptions
{
	double		lambda;
	int			max_iterations;
	double		tolerance;
	Jsonb	   *feature_names;	/* an array of strings, or NULL */
} FitOptions;

pg_noreturn static void
option_error(const char *msg, const char *detail);

static void
option_error(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s", msg),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("churn_fit's options are a JSON object with lambda (>= 0, default 1), max_iterations "
					 "(1 to 10000, default 50), tolerance (> 0, default 1e-8) and feature_names (an array of strings).")));
}

static double
option_number(const JsonbValue *v, const char *key)
{
	double		d;

	if (v->type != jbvNumeric)
		option_error(psprintf("churn_fit option \"%s\" must be a number", key), NULL);
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v->val.numeric)));
	if (!isfinite(d))
		option_error(psprintf("churn_fit option \"%s\" must be a finite number", key), NULL);
	return d;
}

static void
parse_options(Jsonb *jb, FitOptions *opt, MemoryContext cxt)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	opt->lambda = 1.0;
	opt->max_iterations = 50;
	opt->tolerance = 1e-8;
	opt->feature_names = NULL;
	if (jb == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		option_error("churn_fit options must be a JSON object", NULL);

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		if (JsonbIteratorNext(&it, &v, true) != WJB_VALUE)
			elog(ERROR, "csm: unexpected jsonb token in churn_fit options");
		if (strcmp(key, "lambda") == 0)
		{
			opt->lambda = option_number(&v, key);
			if (opt->lambda < 0)
				option_error("churn_fit option \"lambda\" must not be negative", psprintf("It is %g.", opt->lambda));
		}
		else if (strcmp(key, "max_iterations") == 0)
		{
			double		d = option_number(&v, key);

			if (d != floor(d) || d < 1 || d > 10000)
				option_error("churn_fit option \"max_iterations\" must be a whole number from 1 to 10000",
							 psprintf("It is %g.", d));
			opt->max_iterations = (int) d;
		}
		else if (strcmp(key, "tolerance") == 0)
		{
			opt->tolerance = option_number(&v, key);
			if (!(opt->tolerance > 0))
				option_error("churn_fit option \"tolerance\" must be positive", psprintf("It is %g.", opt->tolerance));
		}
		else if (strcmp(key, "feature_names") == 0)
		{
			JsonbIterator *eit;
			JsonbValue	e;
			MemoryContext old;

			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
				option_error("churn_fit option \"feature_names\" must be an array of strings", NULL);
			eit = JsonbIteratorInit(v.val.binary.data);
			while ((tok = JsonbIteratorNext(&eit, &e, true)) != WJB_DONE)
				if (tok == WJB_ELEM && e.type != jbvString)
					option_error("churn_fit option \"feature_names\" must be an array of strings",
								 "An element is not a string.");
			old = MemoryContextSwitchTo(cxt);
			opt->feature_names = JsonbValueToJsonb(&v);
			MemoryContextSwitchTo(old);
		}
		else
			option_error(psprintf("unknown churn_fit option \"%s\"", key), NULL);
	}
}

/* ---------------------------------------------------------------- state */

typedef struct FitState
{
	int			nfeatures;
	int64		rows;
	int64		positives;
	double	   *mean;			/* Welford: running mean */
	double	   *m2;				/* and sum of squared deviations */
	RowStore	store;
	FitOptions	options;
	Size		options_len;	/* the options' bytes, to check every row passes the same */
	char	   *options_bytes;
} FitState;

static FitState *
fit_state_create(FunctionCallInfo fcinfo, MemoryContext aggcxt, int p, Jsonb *options)
{
	/* a plain aggregate closes its file in a callback; a window aggregate cannot, so never spills */
	bool		can_spill = fcinfo->context != NULL && IsA(fcinfo->context, AggState);
	FitState   *st = MemoryContextAllocZero(aggcxt, sizeof(FitState));

	parse_options(options, &st->options, aggcxt);
	if (st->options.feature_names != NULL &&
		JsonContainerSize(&st->options.feature_names->root) != (uint32) p)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("churn_fit option \"feature_names\" has %u elements, but the features array has %d",
						JsonContainerSize(&st->options.feature_names->root), p)));
	if (options != NULL)
	{
		st->options_len = VARSIZE(options);
		st->options_bytes = MemoryContextAlloc(aggcxt, st->options_len);
		memcpy(st->options_bytes, options, st->options_len);
	}
	st->nfeatures = p;
	st->mean = MemoryContextAllocZero(aggcxt, sizeof(double) * (p + 1));
	st->m2 = MemoryContextAllocZero(aggcxt, sizeof(double) * (p + 1));
	rowstore_init(&st->store, aggcxt, p + 1, can_spill);
	if (can_spill)
		AggRegisterCallback(fcinfo, rowstore_shutdown, PointerGetDatum(&st->store));
	return st;
}

Datum
csm_churn_fit_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	FitState   *st = PG_ARGISNULL(0) ? NULL : (FitState *) PG_GETARG_POINTER(0);
	Jsonb	   *options = NULL;
	const double *x;
	int			p;
	double	   *row;
	double		inv_n;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "csm_churn_fit_transfn called in non-aggregate context");
	/* rows without features or label are skipped */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
		options = PG_GETARG_JSONB_P(3);
	x = churn_features(PG_GETARG_ARRAYTYPE_P(1), &p, "feature");
	if (st == NULL)
		st = fit_state_create(fcinfo, aggcxt, p, options);
	else
	{
		if (p != st->nfeatures)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("features arrays differ in length"),
					 errdetail("The first row has %d features, a later row %d.", st->nfeatures, p),
					 errhint("Every row must have the same features, in the same order.")));
		if (options == NULL ? st->options_bytes != NULL
			: (st->options_len != VARSIZE(options) || memcmp(st->options_bytes, options, st->options_len) != 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("churn_fit options must be the same for every row")));
	}

	row = rowstore_next(&st->store);
	row[0] = PG_GETARG_BOOL(2) ? 1.0 : 0.0;
	memcpy(row + 1, x, sizeof(double) * p);
	st->rows++;
	if (PG_GETARG_BOOL(2))
		st->positives++;
	inv_n = 1.0 / (double) st->rows;
	for (int j = 0; j < p; j++)
	{
		double		d = x[j] - st->mean[j];

		st->mean[j] += d * inv_n;
		st->m2[j] += d * (x[j] - st->mean[j]);
	}
	PG_RETURN_POINTER(st);
}

/* ---------------------------------------------------------------- the fit */

/* A fit needs both classes, and more rows than features. */
static void
check_fittable(const FitState *st)
{
	if (st->positives == 0 || st->positives == st->rows)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot fit: %s", st->positives == 0 ? "none of the rows is churned" : "every row is churned"),
				 errdetail("All %lld rows have churned = %s; a churn model needs both classes.",
						   (long long) st->rows, st->positives == 0 ? "false" : "true")));

	if (st->rows <= st->nfeatures)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot fit %d features on %lld rows", st->nfeatures, (long long) st->rows),
				 errdetail("A fit needs more rows than features (one more for the intercept)."),
				 errhint("Use fewer features or more rows.")));
}

/* Raises the kernel's errors, and warns when it returns a model that did not converge. */
static void
report_fit_status(ChurnFitStatus status, const ChurnFitOutput *out)
{
	int			bad = out->bad_feature;

	switch (status)
	{
		case CHURN_FIT_CONVERGED:
			break;
		case CHURN_FIT_BAD_FEATURE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("feature %d cannot be standardised", bad + 1),
					 errdetail("Its mean is %g and its standard deviation %g.", out->mean[bad], out->scale[bad]),
					 errhint("Rescale the feature (for example divide it by a power of ten, or take its logarithm).")));
			break;
		case CHURN_FIT_NO_SOLUTION:
			elog(ERROR, "csm: churn_fit's Newton system has no finite solution");
			break;
		case CHURN_FIT_SEPARABLE:
			ereport(WARNING,
					(errmsg("churn_fit did not converge in %d iterations", out->iterations),
					 errdetail("Every row is on its side of the decision boundary: the classes are separable, "
							   "and without a penalty (lambda 0) the coefficients grow without bound."),
					 errhint("Set a positive lambda in the options.")));
			break;
		case CHURN_FIT_NOT_CONVERGED:
			ereport(WARNING,
					(errmsg("churn_fit did not converge in %d iterations", out->iterations),
					 errdetail("The model is returned with \"converged\": false."),
					 errhint("Raise max_iterations or tolerance in the options.")));
			break;
	}
}

Datum
csm_churn_fit_finalfn(PG_FUNCTION_ARGS)
{
	FitState   *st;
	int			p;
	ChurnFitInput in;
	ChurnFitOutput out;
	ChurnFitStatus status;
	ChurnFitResult fit;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "csm_churn_fit_finalfn called in non-aggregate context");
	/* no rows (or only rows with NULL features or labels) */
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (FitState *) PG_GETARG_POINTER(0);
	p = st->nfeatures;
	check_fittable(st);

	in.nfeatures = p;
	in.rows = st->rows;
	in.positives = st->positives;
	in.welford_mean = st->mean;
	in.welford_m2 = st->m2;
	in.lambda = st->options.lambda;
	in.max_iterations = st->options.max_iterations;
	in.tolerance = st->options.tolerance;
	in.scan = rowstore_scan;
	in.scan_arg = &st->store;
	out.mean = palloc(sizeof(double) * (p + 1));
	out.scale = palloc(sizeof(double) * (p + 1));
	out.beta = palloc(sizeof(double) * (p + 1));
	status = churn_fit_irls(&in, palloc(churn_fit_workspace_size(p)), &out);
	report_fit_status(status, &out);

	fit.nfeatures = p;
	fit.intercept = out.beta[0];
	fit.coef = out.beta + 1;
	fit.mean = out.mean;
	fit.scale = out.scale;
	fit.feature_names = st->options.feature_names;
	fit.lambda = in.lambda;
	fit.iterations = out.iterations;
	fit.converged = (status == CHURN_FIT_CONVERGED);
	fit.log_loss = out.loss / (double) st->rows;
	fit.rows = st->rows;
	fit.positives = st->positives;

	elog(DEBUG1, "csm: churn_fit %lld rows x %d features, %d iterations, converged %d; "
		 "aggregate memory %zu bytes, temporary file %lld bytes (work_mem %d kB)",
		 (long long) st->rows, p, fit.iterations, fit.converged,
		 MemoryContextMemAllocated(GetMemoryChunkContext(st), true),
		 (long long) st->store.file_chunks * (long long) st->store.chunk_bytes, work_mem);

	PG_RETURN_JSONB_P(churn_model_to_jsonb(&fit));
}
