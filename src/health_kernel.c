/*
 * health_kernel.c: the arithmetic of a health score, with no fmgr in sight,
 * so that the jsonb path, the row path and tests all share it.
 *
 * A component maps its metric to 0-100: the green zone onto [90, 100], the
 * yellow zone onto [70, 90) and the red zone onto [0, 70), linearly inside
 * each zone and saturating at `best` and `worst`.  A value exactly at a
 * threshold is yellow, as in the seed's table (green is "> 0.80", yellow
 * "0.50-0.80").  The score is the weighted mean of the present components,
 * through group weights when the model has groups.  The band is the
 * score's, or unknown below the model's minimum coverage.
 */
#include "postgres.h"

#include <math.h>

#include "health.h"

/*
 * Yellow stops short of 90, so that a value exactly at the green threshold
 * (which is yellow) stays in the yellow band.
 */
#define YELLOW_TOP (GREEN_FLOOR - 0.01)

/* Red approaches 70 at the red threshold, which itself is yellow. */
#define RED_FACTOR (1.0 - 1e-12)

/* The line from `from` (fraction 0) to `to` (fraction 1), from base to base + span. */
static ZoneLine
zone_line(double from, double to, double base, double span, double factor)
{
	ZoneLine	line = {from, to - from, base, span, factor};

	/* an empty zone is all at its far end: (value + Inf) / 1 clamps to 1 */
	if (from == to)
	{
		line.from = -INFINITY;
		line.width = 1.0;
	}
	return line;
}

/*
 * Accounts land in zones at random, so the zone is found by arithmetic
 * rather than branches, and the zone's line by an index: green lies beyond
 * red, so at most one of the comparisons holds.
 */
static inline HealthZone
component_zone(const HealthComponent *c, double value)
{
	double		v = c->sign * value;

	return (HealthZone) (ZONE_YELLOW + (v < c->signed_red) - (v > c->signed_green));
}

static inline double
component_score(const HealthComponent *c, double value, HealthZone zone)
{
	const ZoneLine *line = &c->line[zone];
	double		f = (value - line->from) / line->width;

	/* clamped to [0, 1] in the form of the minsd and maxsd instructions: no branch */
	f = f > 0.0 ? f : 0.0;
	f = f < 1.0 ? f : 1.0;
	return (line->base + line->span * f) * line->factor;
}

/*
 * A weighted mean lies between its lowest and highest term; rounding must
 * not push it out (say to 69.99999999999999 when every component is 70),
 * or a score could land in a band none of its components is in.
 */
static inline double
within(double mean, double lowest, double highest)
{
	return mean < lowest ? lowest : mean > highest ? highest : mean;
}

/*
 * Precomputes each component's zone lines, and its share of the score when
 * nothing is missing.
 */
void
health_model_prepare(HealthModel *model)
{
	double		group_total[HEALTH_MAX_GROUPS] = {0};
	double		groups_total = 0.0;

	for (int i = 0; i < model->ncomponents; i++)
	{
		HealthComponent *c = &model->components[i];

		c->sign = c->higher_is_better ? 1.0 : -1.0;
		c->signed_green = c->sign * c->green;
		c->signed_red = c->sign * c->red;
		c->line[ZONE_GREEN] = zone_line(c->green, c->best, GREEN_FLOOR, 100.0 - GREEN_FLOOR, 1.0);
		c->line[ZONE_YELLOW] = zone_line(c->red, c->green, YELLOW_FLOOR, YELLOW_TOP - YELLOW_FLOOR, 1.0);
		c->line[ZONE_RED] = zone_line(c->worst, c->red, 0.0, YELLOW_FLOOR, RED_FACTOR);
	}

	for (int i = 0; i < model->ncomponents; i++)
		group_total[model->components[i].group] += model->components[i].weight;
	for (int g = 0; g < model->ngroups; g++)
		groups_total += model->group_weight[g];
	for (int i = 0; i < model->ncomponents; i++)
	{
		const HealthComponent *c = &model->components[i];

		model->full_weight[i] = (model->group_weight[c->group] / groups_total) * (c->weight / group_total[c->group]);
	}
}

/*
 * Scores one account.  Missing metrics are left out and their weight is
 * shared among the present ones: within a group first, then across groups
 * when a whole group is missing.  Returns false when every metric is
 * missing.  coverage is the share of the model's weight that was present.
 * results may be NULL when only the score is wanted.
 */
bool
health_score(const HealthModel *model, const double *values, const bool *present,
			 ComponentResult *results, double *score, double *coverage)
{
	double		group_present[HEALTH_MAX_GROUPS];
	double		group_total[HEALTH_MAX_GROUPS];
	double		groups_present = 0.0;
	double		groups_total = 0.0;
	double		sum = 0.0;
	double		lowest = 100.0;
	double		highest = 0.0;
	bool		all_present = true;

	for (int i = 0; i < model->ncomponents; i++)
		all_present &= present[i];
	/* the common case: shares are known in advance */
	if (all_present && results == NULL)
	{
		for (int i = 0; i < model->ncomponents; i++)
		{
			const HealthComponent *c = &model->components[i];
			double		s = component_score(c, values[i], component_zone(c, values[i]));

			sum += model->full_weight[i] * s;
			lowest = Min(lowest, s);
			highest = Max(highest, s);
		}
		*coverage = 1.0;
		*score = within(sum, lowest, highest);
		return model->ncomponents > 0;
	}

	for (int g = 0; g < model->ngroups; g++)
		group_present[g] = group_total[g] = 0.0;
	for (int i = 0; i < model->ncomponents; i++)
	{
		const HealthComponent *c = &model->components[i];

		group_total[c->group] += c->weight;
		if (present[i])
			group_present[c->group] += c->weight;
	}
	for (int g = 0; g < model->ngroups; g++)
	{
		groups_total += model->group_weight[g];
		if (group_present[g] > 0.0)
			groups_present += model->group_weight[g];
	}

	*coverage = 0.0;
	for (int i = 0; i < model->ncomponents; i++)
	{
		const HealthComponent *c = &model->components[i];
		ComponentResult r = {present[i], values[i], ZONE_RED, 0.0, 0.0};

		if (present[i])
		{
			r.zone = component_zone(c, values[i]);
			r.score = component_score(c, values[i], r.zone);
			r.weight = (model->group_weight[c->group] / groups_present) * (c->weight / group_present[c->group]);
			sum += r.weight * r.score;
			lowest = Min(lowest, r.score);
			highest = Max(highest, r.score);
			*coverage += model->full_weight[i];
		}
		if (results != NULL)
			results[i] = r;
	}
	/* rounding may carry a sum of shares a hair beyond 1 */
	*coverage = Min(*coverage, 1.0);
	if (groups_present == 0.0)
		return false;
	*score = within(sum, lowest, highest);
	return true;
}

HealthZone
health_band_of(double score)
{
	return score >= GREEN_FLOOR ? ZONE_GREEN : score >= YELLOW_FLOOR ? ZONE_YELLOW : ZONE_RED;
}

/*
 * The band of a scored account: its score's band, or unknown when less than
 * the model's min_coverage of its weight was present (a score from one
 * metric out of five is not a verdict).
 */
HealthZone
health_result_band(const HealthModel *model, double score, double coverage)
{
	if (coverage + COVERAGE_SLACK < model->min_coverage)
		return ZONE_UNKNOWN;
	return health_band_of(score);
}

const char *
health_zone_name(HealthZone zone)
{
	static const char *const names[HEALTH_NBANDS] = {"green", "yellow", "red", "unknown"};

	return names[zone];
}
