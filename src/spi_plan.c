/*
 * spi_plan.c: SPI plans prepared once per backend and kept, and the
 * search_path SPI runs under.
 */
#include "postgres.h"

#include "commands/extension.h"
#include "executor/spi.h"
#include "executor/spi_priv.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/inval.h"

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
 * What csm knows of Citus in this database, asked again in every
 * transaction and after any relcache invalidation, so that neither is
 * stale when CREATE EXTENSION citus or csm.distribute() runs later in the
 * session (csm.distribute() changes csm.account's Citus metadata, which
 * invalidates its relcache entry, in this backend and, at commit, in
 * every other), nor after DROP EXTENSION and CREATE EXTENSION csm.
 */
static LocalTransactionId has_citus_lxid = InvalidLocalTransactionId;
static bool has_citus;
static LocalTransactionId on_citus_lxid = InvalidLocalTransactionId;
static bool on_citus;

static void
forget_citus_state(Datum arg, Oid relid)
{
	has_citus_lxid = InvalidLocalTransactionId;
	on_citus_lxid = InvalidLocalTransactionId;
}

static void
watch_citus_state(void)
{
	static bool registered = false;

	if (!registered)
	{
		CacheRegisterRelcacheCallback(forget_citus_state, (Datum) 0);
		registered = true;
	}
}

/* Whether the Citus extension is created in this database. */
static bool
csm_has_citus(void)
{
	watch_citus_state();
	if (has_citus_lxid == InvalidLocalTransactionId || has_citus_lxid != CSM_MY_LXID)
	{
		has_citus = OidIsValid(get_extension_oid("citus", true));
		has_citus_lxid = CSM_MY_LXID;
	}
	return has_citus;
}

/*
 * As csm_prepare_once, but where Citus must see the values: in a database
 * with Citus, every execution is planned with its parameters (a custom
 * plan), so that Citus can route a query on a distributed table by its
 * account_id, and plan the queries it cannot plan generically at all
 * (subqueries joining reference and distributed tables).  Without Citus the
 * plan stays generic, planned once.  A plan kept from before Citus was
 * created (or dropped) in this database is prepared again.
 */
SPIPlanPtr
csm_prepare_routed(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	int			options = csm_has_citus() ? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN;

	if (*plan != NULL && ((*plan)->cursor_options & (CURSOR_OPT_CUSTOM_PLAN | CURSOR_OPT_GENERIC_PLAN)) != options)
	{
		SPI_freeplan(*plan);
		*plan = NULL;
	}
	if (*plan == NULL)
	{
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
 * lock of its own before any other instead (csm_internal._lock_ownership()).  Asked
 * once per transaction (and again after a relcache invalidation), in an SPI
 * connection.
 */
bool
csm_on_citus(void)
{
	watch_citus_state();
	if (on_citus_lxid == InvalidLocalTransactionId || on_citus_lxid != CSM_MY_LXID)
	{
		on_citus = false;
		if (csm_has_citus())
		{
			int			rc = SPI_execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p "
										 "WHERE p.logicalrelid OPERATOR(pg_catalog.=) 'csm.account'::pg_catalog.regclass)",
										 true, 1);
			bool		isnull;

			if (rc != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "csm: could not read pg_dist_partition: %s", SPI_result_code_string(rc));
			on_citus = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
		on_citus_lxid = CSM_MY_LXID;
	}
	return on_citus;
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
