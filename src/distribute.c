/*
 * distribute.c: DROP EXTENSION csm on a Citus cluster.
 *
 * Citus drops a distributed table's shards from its sql_drop event trigger,
 * but it takes a table that is dropped as an extension's member (neither
 * "original" nor "normal" in pg_event_trigger_dropped_objects()) for a
 * partition dropped with its parent, and removes only the metadata: the
 * shards of csm's tables would stay on every node, their triggers and the
 * columns of csm's types cascaded away.  So csm's own ddl_command_start
 * trigger sees the DROP EXTENSION first and, when csm is among the
 * extensions dropped, has csm_internal._drop_shards() drop the shards while csm's
 * tables still exist.  Only the parse tree says which extensions a DROP
 * EXTENSION names; the rest is SQL.
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"

#include "csm.h"

PG_FUNCTION_INFO_V1(csm_drop_extension_start);

Datum
csm_drop_extension_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	DropStmt   *stmt;
	ListCell   *lc;
	bool		dropping_csm = false;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._drop_extension_start() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (trigdata->parsetree == NULL || !IsA(trigdata->parsetree, DropStmt))
		PG_RETURN_VOID();
	stmt = (DropStmt *) trigdata->parsetree;
	if (stmt->removeType != OBJECT_EXTENSION)
		PG_RETURN_VOID();
	foreach(lc, stmt->objects)
	{
		if (strcmp(strVal(lfirst(lc)), "csm") == 0)
			dropping_csm = true;
	}
	if (!dropping_csm)
		PG_RETURN_VOID();

	/* the function's SET search_path pins the path for this SQL */
	SPI_connect();
	if (SPI_execute("SELECT csm_internal._drop_shards()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm_internal._drop_shards() failed");
	SPI_finish();
	PG_RETURN_VOID();
}
