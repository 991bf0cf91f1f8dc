/*
 * health.h: the health-score kernel (pure C, no Datums) and model loading.
 */
#ifndef CSM_HEALTH_H
#define CSM_HEALTH_H

#include "postgres.h"

#include "compat.h"

#include "catalog/pg_type.h"
#include "fmgr.h"

/*
 * Score bands, as the seed defines them: green 90-100, yellow 70-90, red < 70.
 * A score is unknown when less than its model's min_coverage of the weight
 * was present; components are never unknown.
 */
typedef enum HealthZone
{
	ZONE_GREEN = 0,
	ZONE_YELLOW = 1,
	ZONE_RED = 2,
	ZONE_UNKNOWN = 3
} HealthZone;

#define HEALTH_NBANDS 4

/* Coverage within this of min_coverage counts as reaching it (rounding of the weight sums). */
#define COVERAGE_SLACK 1e-9

#define GREEN_FLOOR 90.0
#define YELLOW_FLOOR 70.0

/*
 * One zone's straight line, from the component's thresholds:
 * score = (base + span * clamp01((value - from) / width)) * factor.
 */
typedef struct ZoneLine
{
	double		from;
	double		width;
	double		base;
	double		span;
	double		factor;
} ZoneLine;

typedef struct HealthComponent
{
	char	   *metric;
	int			group;			/* index into HealthModel.group_weight */
	double		weight;			/* within its group */
	bool		higher_is_better;
	double		green;			/* beyond this the metric is green */
	double		red;			/* beyond this the metric is red */
	double		best;			/* the metric scores 100 from here on */
	double		worst;			/* and 0 from here on */
	double		min_value;		/* domain; -Inf/+Inf when unbounded */
	double		max_value;
	/* derived by health_model_prepare() */
	double		sign;			/* +1 when higher is better, -1 when lower */
	double		signed_green;	/* sign * green */
	double		signed_red;		/* sign * red */
	ZoneLine	line[3];		/* by HealthZone */
} HealthComponent;

/* Limits that let every per-row array live on the stack. */
#define HEALTH_MAX_COMPONENTS 64
#define HEALTH_MAX_GROUPS 64

typedef struct HealthModel
{
	char	   *name;
	int32		version;
	int			ncomponents;
	HealthComponent *components;
	int			ngroups;		/* a model without groups has one, weight 1 */
	double	   *group_weight;
	double	   *full_weight;	/* each component's share when nothing is missing */
	double		min_coverage;	/* below this coverage the band is unknown */
} HealthModel;

/* What one component gave for one account. */
typedef struct ComponentResult
{
	bool		present;
	double		value;
	HealthZone	zone;
	double		score;			/* 0-100 */
	double		weight;			/* effective share of the total, after missing metrics */
} ComponentResult;

extern void health_model_prepare(HealthModel *model);
extern bool health_score(const HealthModel *model, const double *values, const bool *present,
						 ComponentResult *results, double *score, double *coverage);
extern HealthZone health_band_of(double score);
extern HealthZone health_result_band(const HealthModel *model, double score, double coverage);
extern const char *health_zone_name(HealthZone zone);

/*
 * What a call site keeps for the whole query, per model it has used
 * (health_model_for_call keeps them in fn_extra): the model, with
 * where its metrics are in the row type it was last given (or, for
 * csm_internal._health_score_values, among the values it is passed), and for the
 * evaluate functions the result's descriptor, band labels and metric names.
 */
struct RowMap;
struct ValuesMap;
typedef struct HealthModelEntry
{
	HealthModel *model;
	struct RowMap *row_map;
	struct ValuesMap *values_map;	/* for csm_internal._health_score_values */
	TupleDesc	result_desc;	/* csm.health_result, blessed */
	Oid			band_oids[HEALTH_NBANDS];	/* csm.health_band label per HealthZone */
	Datum		metric_names;	/* the model's metrics as a text[] */
	struct HealthModelEntry *next;
} HealthModelEntry;

/* Model loading (health_model.c). */
extern HealthModel *health_model_load(const char *name, MemoryContext cxt);
extern HealthModelEntry *health_model_for_call(FunctionCallInfo fcinfo, int argno);
pg_noreturn extern void metric_value_error(const HealthModel *model, int i, double value);
extern char *metric_value_problem(const HealthModel *model, int i, double value);

/* The column types a metric may have; the others are ERRCODE_DATATYPE_MISMATCH. */
static inline bool
is_metric_type(Oid type)
{
	return type == FLOAT8OID || type == FLOAT4OID || type == INT2OID ||
		type == INT4OID || type == INT8OID || type == NUMERICOID;
}

/* Whether a metric value is finite and inside the metric's domain. */
static inline bool
metric_value_ok(const HealthModel *model, int i, double value)
{
	const HealthComponent *c = &model->components[i];

	/* v - v is 0 for every finite v, NaN for NaN and infinities */
	return !(value - value != 0.0 || value < c->min_value || value > c->max_value);
}

/* Refuses NaN, infinities and values outside the metric's domain. */
static inline void
check_metric_value(const HealthModel *model, int i, double value)
{
	if (!metric_value_ok(model, i, value))
		metric_value_error(model, i, value);
}

#endif							/* CSM_HEALTH_H */
