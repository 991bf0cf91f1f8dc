/*
 * usage_citus.c: the rollup trigger on the shards of a distributed table.
 *
 * On Citus a tracked table distributed by its account column has the
 * rollup triggers on every shard, and they fire on the worker that holds
 * the shard.  A query from there may not reach another node ("cannot
 * execute a distributed query from a query on a shard"), so the trigger
 * neither looks accounts up nor creates them, and never folds: it appends
 * its aggregated deltas, keyed by the account key itself, to the source's
 * staging table csm.usage_stage_<source_id>.  That table is distributed by
 * the key too and colocated with the tracked table, so the shard of it that
 * holds the same hash range lives on the same node; the trigger writes that
 * shard directly, a plain local INSERT (Citus lets its own backends and its
 * local executor write shards).  csm.compact_usage(), on the coordinator,
 * creates the missing accounts and folds the staged deltas into the
 * counters; the usage views add the staged deltas meanwhile.
 *
 * Which shard to write is read from Citus' metadata on the worker
 * (pg_dist_shard, plain catalog tables), once per relation and backend.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "csm.h"
#include "usage_citus.h"

typedef struct StageKey
{
	Oid			relid;			/* the relation the trigger fired on */
	int32		source_id;
} StageKey;

struct UsageStage
{
	StageKey	key;
	bool		is_shard;		/* false: no Citus shard, the single-node path */
	bool		stale;			/* the relation changed: find it again */
	SPIPlanPtr	plan;			/* the INSERT into the colocated staging shard */
};

static HTAB *stages = NULL;

/*
 * Any change to a relation marks what was found for it stale; it is found
 * again at the next firing (not here: a plan may be running right now).
 */
static void
stage_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	UsageStage *entry;

	if (stages == NULL)
		return;
	hash_seq_init(&status, stages);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (!OidIsValid(relid) || entry->key.relid == relid)
			entry->stale = true;
}

/* The shard id at the end of a shard's name ("events_102008"), or 0. */
static int64
shard_id_of(const char *relname)
{
	const char *sep = strrchr(relname, '_');
	int64		id = 0;

	if (sep == NULL || sep[1] == '\0')
		return 0;
	for (const char *p = sep + 1; *p; p++)
	{
		if (*p < '0' || *p > '9' || id > PG_INT64_MAX / 10 - 9)
			return 0;
		id = id * 10 + (*p - '0');
	}
	return id;
}

/*
 * Whether rel is a shard of a Citus table and, if it is, the staging shard
 * its deltas go to.  A shard of a tracked table whose staging table is
 * missing is an error: its deltas would have nowhere to go.
 */
static void
stage_find(UsageStage *stage, Relation rel)
{
	static const char *const sql =
		"SELECT pg_catalog.shard_name(st.logicalrelid, st.shardid), "
		"       pg_catalog.format_type(a.atttypid, a.atttypmod) "
		"FROM pg_catalog.pg_dist_shard s "
		"JOIN pg_catalog.pg_class lc ON lc.oid OPERATOR(pg_catalog.=) s.logicalrelid "
		"JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) $3 "
		"LEFT JOIN pg_catalog.pg_dist_shard st "
		"       ON st.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('csm.usage_stage_' OPERATOR(pg_catalog.||) $2) "
		"      AND st.shardminvalue OPERATOR(pg_catalog.=) s.shardminvalue "
		"LEFT JOIN pg_catalog.pg_attribute a "
		"       ON a.attrelid OPERATOR(pg_catalog.=) st.logicalrelid AND a.attname OPERATOR(pg_catalog.=) 'account_key' "
		"WHERE s.shardid OPERATOR(pg_catalog.=) $1 "
		/* shard_name() leaves out the schema public; the shard is in its table's schema */
		"  AND lc.relnamespace OPERATOR(pg_catalog.=) c.relnamespace "
		"  AND (SELECT n[pg_catalog.array_upper(n, 1)] FROM pg_catalog.parse_ident(pg_catalog.shard_name(s.logicalrelid, s.shardid)) AS n) "
		"      OPERATOR(pg_catalog.=) c.relname::pg_catalog.text";
	Oid			argtypes[3] = {INT8OID, TEXTOID, REGCLASSOID};
	Datum		args[3];
	int64		shard_id = shard_id_of(RelationGetRelationName(rel));
	bool		isnull;
	char	   *stage_shard;
	char	   *key_type;
	StringInfoData insert;

	stage->is_shard = false;
	stage->stale = false;
	stage->plan = NULL;
	/* most tables are no shard, and a node without Citus has none */
	if (shard_id == 0 || !OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE)))
		return;

	args[0] = Int64GetDatum(shard_id);
	args[1] = CStringGetTextDatum(psprintf("%d", stage->key.source_id));
	args[2] = ObjectIdGetDatum(RelationGetRelid(rel));
	if (SPI_execute_with_args(sql, 3, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "csm: reading the Citus shard metadata failed");
	if (SPI_processed == 0)
		return;
	stage->is_shard = true;
	SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shard \"%s\" of a tracked table has no usage staging table",
						RelationGetRelationName(rel)),
				 errdetail("On Citus the rollup of a distributed table goes through csm.usage_stage_%d.",
						   stage->key.source_id),
				 errhint("Run SELECT csm.distribute() on the coordinator; it creates the staging tables of tracked tables distributed since.")));
	stage_shard = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	key_type = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	/* the parameters of the pending rows: key text, source, day, user, feature, events */
	initStringInfo(&insert);
	appendStringInfo(&insert,
					 "INSERT INTO %s (account_key, day, user_key, feature, events) "
					 "SELECT t.k::%s, t.d, t.u, t.f, t.e "
					 /* in the select list, the arrays stream (see UNNEST_SIX in usage.c) */
					 "FROM (SELECT pg_catalog.unnest($1) AS k, pg_catalog.unnest($3) AS d, pg_catalog.unnest($4) AS u, "
					 "      pg_catalog.unnest($5) AS f, pg_catalog.unnest($6) AS e) AS t",
					 stage_shard, key_type);
	{
		Oid			types[6] = {TEXTARRAYOID, INT4ARRAYOID, DATEARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
		SPIPlanPtr	p = SPI_prepare(insert.data, 6, types);

		if (p == NULL)
			elog(ERROR, "csm: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		stage->plan = p;
	}
	pfree(insert.data);
}

UsageStage *
usage_stage_for(Relation rel, int32 source_id)
{
	StageKey	key;
	UsageStage *stage;
	bool		found;

	if (stages == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(StageKey);
		ctl.entrysize = sizeof(UsageStage);
		ctl.hcxt = TopMemoryContext;
		stages = hash_create("csm usage stages", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(stage_invalidate, (Datum) 0);
	}
	memset(&key, 0, sizeof(key));
	key.relid = RelationGetRelid(rel);
	key.source_id = source_id;
	stage = hash_search(stages, &key, HASH_FIND, NULL);
	if (stage != NULL && stage->stale)
	{
		if (stage->plan != NULL)
			SPI_freeplan(stage->plan);
		hash_search(stages, &key, HASH_REMOVE, NULL);
		stage = NULL;
	}
	if (stage == NULL)
	{
		UsageStage	found_stage;

		/* looked up before the entry exists, so an error leaves no half entry */
		found_stage.key = key;
		stage_find(&found_stage, rel);
		stage = hash_search(stages, &key, HASH_ENTER, &found);
		*stage = found_stage;
	}
	return stage->is_shard ? stage : NULL;
}

void
usage_stage_append(UsageStage *stage, Datum *params)
{
	if (SPI_execute_plan(stage->plan, params, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "csm: appending staged usage deltas failed");
}
