/*
 * health_model.c: reads a health model from csm.health_model and its
 * components through SPI, once per query and call site (fn_extra).
 */
#include "postgres.h"

#include "csm.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "health.h"


/* Formatted with the relations of health_model, health_component, health_group. */
static const char *const model_sql =
"SELECT m.version, c.metric, c.group_name, c.weight, c.direction OPERATOR(pg_catalog.=) 'higher_is_better',"
"       c.green, c.red, c.best, c.worst, c.min_value, c.max_value, g.weight, m.min_coverage "
"FROM %s m "
"JOIN %s c ON c.model OPERATOR(pg_catalog.=) m.name "
"LEFT JOIN %s g ON g.model OPERATOR(pg_catalog.=) c.model AND g.name OPERATOR(pg_catalog.=) c.group_name "
"WHERE m.name OPERATOR(pg_catalog.=) $1 "
"ORDER BY c.metric";

static double
get_double(HeapTuple tup, TupleDesc desc, int col, double if_null)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? if_null : DatumGetFloat8(d);
}

/* Index of a group name, added on first sight. */
static int
group_index(char **names, int *ngroups, char *name)
{
	for (int g = 0; g < *ngroups; g++)
		if ((names[g] == NULL) == (name == NULL) && (name == NULL || strcmp(names[g], name) == 0))
			return g;
	if (*ngroups == HEALTH_MAX_GROUPS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a health model may have at most %d groups", HEALTH_MAX_GROUPS)));
	names[*ngroups] = name;
	return (*ngroups)++;
}

/*
 * Loads a model into cxt.  best and worst default to one yellow-zone width
 * beyond the green and red thresholds.
 */
HealthModel *
health_model_load(const char *name, MemoryContext cxt)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	HealthModel *model;
	char	   *group_names[HEALTH_MAX_GROUPS] = {0};
	MemoryContext old;
	int			path_nest = csm_pin_search_path();
	char	   *model_rel;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	/* on Citus, this node's copies: scoring may run on a worker (local_copy.c) */
	model_rel = csm_local_copy("csm.health_model");
	if (SPI_execute_with_args(psprintf(model_sql, model_rel, csm_local_copy("csm.health_component"),
									   csm_local_copy("csm.health_group")),
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: reading health model failed");
	if (SPI_processed > HEALTH_MAX_COMPONENTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("health model \"%s\" has %d components, more than the %d csm scores",
						name, (int) SPI_processed, HEALTH_MAX_COMPONENTS)));
	if (SPI_processed == 0)
	{
		bool		exists;

		if (SPI_execute_with_args(psprintf("SELECT FROM %s WHERE name OPERATOR(pg_catalog.=) $1", model_rel),
								  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "csm: reading health model failed");
		exists = SPI_processed > 0;
		ereport(ERROR,
				(errcode(exists ? ERRCODE_CHECK_VIOLATION : ERRCODE_UNDEFINED_OBJECT),
				 exists ? errmsg("health model \"%s\" has no components", name)
				 : errmsg("health model \"%s\" does not exist", name),
				 exists ? errhint("Insert its components into csm.health_component.")
				 : errhint("See csm.health_model for the models; \"default\" is built in.")));
	}

	old = MemoryContextSwitchTo(cxt);
	model = palloc0(sizeof(HealthModel));
	model->name = pstrdup(name);
	model->ncomponents = (int) SPI_processed;
	model->components = palloc0(model->ncomponents * sizeof(HealthComponent));
	model->group_weight = palloc0(HEALTH_MAX_GROUPS * sizeof(double));
	model->full_weight = palloc0(model->ncomponents * sizeof(double));
	for (int i = 0; i < model->ncomponents; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HealthComponent *c = &model->components[i];
		bool		isnull;
		char	   *group = SPI_getvalue(tup, desc, 3);
		double		width;

		model->version = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		model->min_coverage = get_double(tup, desc, 13, 0.0);
		c->metric = SPI_getvalue(tup, desc, 2);
		c->group = group_index(group_names, &model->ngroups, group ? pstrdup(group) : NULL);
		c->weight = get_double(tup, desc, 4, 1.0);
		c->higher_is_better = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		c->green = get_double(tup, desc, 6, 0.0);
		c->red = get_double(tup, desc, 7, 0.0);
		width = c->green - c->red;
		c->best = get_double(tup, desc, 8, c->green + width);
		c->worst = get_double(tup, desc, 9, c->red - width);
		c->min_value = get_double(tup, desc, 10, -INFINITY);
		c->max_value = get_double(tup, desc, 11, INFINITY);
		model->group_weight[c->group] = group ? get_double(tup, desc, 12, 1.0) : 1.0;
	}
	health_model_prepare(model);
	MemoryContextSwitchTo(old);
	SPI_finish();
	csm_restore_search_path(path_nest);
	return model;
}

/*
 * What a call site keeps in fn_extra: every model it has used (a refresh
 * mixes the models of several segments), and the one it always uses when
 * it names its model with a constant, so that a call per row then does not
 * even compare names.
 */
typedef struct CallSite
{
	HealthModelEntry *entries;
	HealthModelEntry *constant;
	bool		checked;		/* whether constant was looked for */
} CallSite;

/*
 * The model named by argument argno, loaded on its first use in the query.
 * Compared as text, so a call per row allocates nothing.
 */
HealthModelEntry *
health_model_for_call(FunctionCallInfo fcinfo, int argno)
{
	CallSite   *site = fcinfo->flinfo->fn_extra;
	text	   *model_name;
	const char *name;
	int			len;
	HealthModelEntry *entry;

	if (site == NULL)
		site = fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CallSite));
	if (site->constant != NULL)
		return site->constant;

	model_name = PG_GETARG_TEXT_PP(argno);
	name = VARDATA_ANY(model_name);
	len = VARSIZE_ANY_EXHDR(model_name);
	for (entry = site->entries; entry != NULL; entry = entry->next)
		if (strncmp(entry->model->name, name, len) == 0 && entry->model->name[len] == '\0')
			break;
	if (entry == NULL)
	{
		entry = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(HealthModelEntry));
		entry->model = health_model_load(text_to_cstring(model_name), fcinfo->flinfo->fn_mcxt);
		entry->next = site->entries;
		site->entries = entry;
	}
	if (!site->checked)
	{
		site->checked = true;
		if (csm_arg_is_const(fcinfo->flinfo, argno))
			site->constant = entry;
	}
	return entry;
}

/* What is wrong with a metric value check_metric_value() refuses. */
char *
metric_value_problem(const HealthModel *model, int i, double value)
{
	const HealthComponent *c = &model->components[i];

	if (isnan(value) || isinf(value))
		return psprintf("metric \"%s\" is %s", c->metric, isnan(value) ? "NaN" : "infinite");
	return psprintf("metric \"%s\" is %g, outside its domain [%g, %g]", c->metric, value, c->min_value, c->max_value);
}

/* The error for a metric value check_metric_value() refused. */
void
metric_value_error(const HealthModel *model, int i, double value)
{
	bool		not_finite = isnan(value) || isinf(value);

	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg_internal("%s", metric_value_problem(model, i, value)),
			 not_finite ? errhint("Pass a finite number, or leave the metric out (or null) to score without it.")
			 : errhint("Check the metric's source; model \"%s\" documents each metric's domain.", model->name)));
}
