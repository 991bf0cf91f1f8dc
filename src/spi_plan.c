/*
 * spi_plan.c: SPI plans prepared once per backend and kept, and the
 * search_path SPI runs under.
 */
#include "postgres.h"

#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/guc.h"

#include "csm.h"

/*
 * Prepares sql into *plan the first time and keeps it for the backend's
 * life; generic, since its parameters change with every call.
 */
SPIPlanPtr
csm_prepare_once(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "csm: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/*
 * As csm_prepare_once, but where Citus must see the values: in a database
 * with Citus, every execution is planned with its parameters (a custom
 * plan), so that Citus can route a query on a distributed table by its
 * account_id, and plan the queries it cannot plan generically at all
 * (subqueries joining reference and distributed tables).  Without Citus the
 * plan stays generic, planned once.
 */
SPIPlanPtr
csm_prepare_routed(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		int			options = OidIsValid(get_extension_oid("citus", true))
			? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN;
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, options);

		if (p == NULL)
			elog(ERROR, "csm: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/*
 * Whether csm's tables are placed on a Citus cluster (csm.distribute() ran:
 * csm.account is a Citus table).  There, Citus locks a reference table's
 * rows by locking the whole table (its shard) until commit, so csm takes one
 * lock of its own before any other instead (csm._lock_ownership()).  Asked
 * once per backend, in an SPI connection.
 */
bool
csm_on_citus(void)
{
	static int	on_citus = -1;

	if (on_citus < 0)
	{
		on_citus = 0;
		if (OidIsValid(get_extension_oid("citus", true)))
		{
			int			rc = SPI_execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p "
										 "WHERE p.logicalrelid OPERATOR(pg_catalog.=) 'csm.account'::pg_catalog.regclass)",
										 true, 1);
			bool		isnull;

			if (rc != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "csm: could not read pg_dist_partition: %s", SPI_result_code_string(rc));
			on_citus = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) ? 1 : 0;
		}
	}
	return on_citus == 1;
}

/*
 * A C function without a SET search_path of its own (a per-row function
 * that reads csm's tables on a cache miss only) runs its SPI between these
 * two, under the install script's path, so that no operator, function or
 * table on the caller's path is looked up.  As with a SET clause, the
 * caller's path comes back at csm_restore_search_path(), or when the
 * (sub)transaction aborts.
 */
int
csm_pin_search_path(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

void
csm_restore_search_path(int nest)
{
	AtEOXact_GUC(true, nest);
}
