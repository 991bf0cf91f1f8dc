/*
 * local_copy.c: where a C function reads a csm configuration table.
 *
 * On a single node that is the table itself.  On Citus, csm's configuration
 * tables are reference tables with a copy (a shard placement) on every node,
 * and scoring runs on the workers inside the queries Citus pushes down
 * there; a query on the reference table itself would then be a distributed
 * query from a query on a shard, which Citus refuses.  So C code that only
 * reads configuration reads this node's copy, which Citus keeps identical
 * on every node (and in the same transaction, since reference table writes
 * go to every placement).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "csm.h"

static const char *const local_copy_sql =
"SELECT pg_catalog.shard_name(s.logicalrelid, s.shardid) "
"FROM pg_catalog.pg_dist_shard s "
"JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid "
"WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass "
"  AND p.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g) "
"  AND pg_catalog.to_regclass(pg_catalog.shard_name(s.logicalrelid, s.shardid)) IS NOT NULL "
"LIMIT 1";

/*
 * The relation to read for table (a qualified name such as
 * "csm.health_component"): this node's copy of it when it is a Citus
 * reference table placed here, else the table itself.  Call it inside
 * SPI_connect(); the result is palloc'd in the caller's SPI context.
 */
char *
csm_local_copy(const char *table)
{
	Oid			argtype = TEXTOID;
	Datum		arg;
	char	   *name = NULL;
	int			path_nest;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return pstrdup(table);
	arg = CStringGetTextDatum(table);
	path_nest = csm_pin_search_path();
	if (SPI_execute_with_args(local_copy_sql, 1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "csm: reading the placement of %s failed", table);
	if (SPI_processed == 1)
		name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	csm_restore_search_path(path_nest);
	return name != NULL ? name : pstrdup(table);
}
