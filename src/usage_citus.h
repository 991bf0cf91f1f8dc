/*
 * usage_citus.h: the rollup trigger on the shards of a Citus distributed
 * table (usage_citus.c).
 */
#ifndef USAGE_CITUS_H
#define USAGE_CITUS_H

#include "utils/relcache.h"

typedef struct UsageStage UsageStage;

/*
 * The staging shard the deltas of a trigger firing on rel go to, when rel is
 * a shard of a Citus table; NULL otherwise (the single-node path).  Runs SPI
 * the first time per relation and backend.
 */
extern UsageStage *usage_stage_for(Relation rel, int32 source_id);

/*
 * Appends deltas to the staging shard; params are the six arrays of the
 * pending rows (account key text, source, day, user, feature, events).
 */
extern void usage_stage_append(UsageStage *stage, Datum *params);

#endif							/* USAGE_CITUS_H */
