/*
 * health_support.c: the planner support function of
 * csm.csm_health_score_row(record, text).
 *
 * Scoring a table's rows as csm_health_score_row(t, 'model') makes the
 * executor build a whole-row value of t for every row, which the function
 * then takes apart again.  When t is a table of the query and the model is a
 * constant, this rewrites the call at plan time into
 *
 *   csm_internal._health_score_values('model', '{metric, ...}', t.metric, ...)
 *
 * passing the model's metrics (as the model was when planned) as columns,
 * or as NULL where the table has no such column.  _health_score_values
 * (health.c) matches them to the model again by name when it runs, so a
 * model edited since stays correct for the metrics it was passed.
 *
 * Any other shape, and anything the row path would refuse (an unknown or
 * empty model, a non-numeric metric column), is left alone, so that the
 * row path raises its usual error when the query runs.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "csm.h"
#include "health.h"

PG_FUNCTION_INFO_V1(csm_health_score_row_support);

/* How many components the model has, or 0 when there is no such model. */
static int64
model_components(const char *name)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	bool		isnull;
	int64		n;
	int			path_nest = csm_pin_search_path();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	/* on Citus, this node's copy: a worker plans the queries pushed to it (local_copy.c) */
	if (SPI_execute_with_args(psprintf("SELECT pg_catalog.count(*) FROM %s WHERE model OPERATOR(pg_catalog.=) $1",
									   csm_local_copy("csm.health_component")),
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "csm: reading health model failed");
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	csm_restore_search_path(path_nest);
	return n;
}

/* csm_internal._health_score_values(text, text[], VARIADIC "any"). */
static Oid
score_values_oid(void)
{
	Oid			argtypes[3] = {TEXTOID, TEXTARRAYOID, ANYOID};
	List	   *name;

	name = list_make1(makeString("csm_internal"));
	name = lappend(name, makeString("_health_score_values"));
	return LookupFuncName(name, 3, argtypes, true);
}

/*
 * The arguments of _health_score_values for the model's metrics as columns
 * of relation relid (range table index varno), or NIL when a metric column
 * is not numeric.
 */
static List *
metric_args(const HealthModel *model, Oid relid, int varno, int location)
{
	List	   *args = NIL;
	Datum	   *names = palloc(model->ncomponents * sizeof(Datum));
	ArrayType  *array;

	for (int i = 0; i < model->ncomponents; i++)
	{
		const char *metric = model->components[i].metric;
		AttrNumber	attnum = get_attnum(relid, metric);
		Oid			type;
		int32		typmod;
		Oid			collation;
		Var		   *var;

		names[i] = CStringGetTextDatum(metric);
		/* a system column is not part of a whole-row value */
		if (attnum <= 0)
		{
			args = lappend(args, makeNullConst(FLOAT8OID, -1, InvalidOid));
			continue;
		}
		get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collation);
		if (!is_metric_type(type))
			return NIL;
		var = makeVar(varno, attnum, type, typmod, collation, 0);
		var->location = location;
		args = lappend(args, var);
	}
	array = construct_array(names, model->ncomponents, TEXTOID, -1, false, TYPALIGN_INT);
	return lcons(makeConst(TEXTARRAYOID, -1, DEFAULT_COLLATION_OID, -1, PointerGetDatum(array), false, false), args);
}

Datum
csm_health_score_row_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestSimplify *req;
	FuncExpr   *call;
	Var		   *row;
	Const	   *model_name;
	RangeTblEntry *rte;
	Oid			target;
	char	   *name;
	int64		ncomponents;
	MemoryContext model_cxt;
	HealthModel *model;
	List	   *args;
	FuncExpr   *result;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	call = req->fcall;
	if (req->root == NULL || list_length(call->args) != 2)
		PG_RETURN_POINTER(NULL);

	/* t: a whole-row Var of a table of this query level */
	row = (Var *) linitial(call->args);
	if (!IsA(row, Var) || row->varattno != 0 || row->varlevelsup != 0 ||
		row->varno < 1 || row->varno > list_length(req->root->parse->rtable))
		PG_RETURN_POINTER(NULL);
	rte = planner_rt_fetch(row->varno, req->root);
	if (rte->rtekind != RTE_RELATION)
		PG_RETURN_POINTER(NULL);

	/* the model: a non-null constant */
	model_name = (Const *) lsecond(call->args);
	if (!IsA(model_name, Const) || model_name->constisnull || model_name->consttype != TEXTOID)
		PG_RETURN_POINTER(NULL);

	target = score_values_oid();
	if (!OidIsValid(target) || !ActiveSnapshotSet())
		PG_RETURN_POINTER(NULL);
	name = TextDatumGetCString(model_name->constvalue);
	ncomponents = model_components(name);
	if (ncomponents == 0 || ncomponents > HEALTH_MAX_COMPONENTS)
		PG_RETURN_POINTER(NULL);

	model_cxt = AllocSetContextCreate(CurrentMemoryContext, "csm health model (planning)", ALLOCSET_SMALL_SIZES);
	model = health_model_load(name, model_cxt);
	args = metric_args(model, rte->relid, row->varno, row->location);
	MemoryContextDelete(model_cxt);
	if (args == NIL)
		PG_RETURN_POINTER(NULL);

	result = makeFuncExpr(target, FLOAT8OID, lcons(copyObject(model_name), args),
						  InvalidOid, call->inputcollid, COERCE_EXPLICIT_CALL);
	result->location = call->location;
	PG_RETURN_POINTER(result);
}
