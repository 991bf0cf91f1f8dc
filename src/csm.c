/*
 * csm.c: module entry point and settings (GUCs).
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "nodes/primnodes.h"
#include "utils/guc.h"

#include "csm.h"

PG_MODULE_MAGIC;

int			csm_compact_threshold = 10000;
int			csm_stale_after = 26 * 3600;
static char *csm_arr_change_reason = NULL;
static char *csm_arr_change_source = NULL;
static char *csm_arr_change_date = NULL;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("csm.compact_threshold",
							"Usage deltas a session appends before it folds pending deltas into the counters.",
							"0 leaves folding to csm.compact_usage(), for example from pg_cron. "
							"Readers always see exact totals either way.",
							&csm_compact_threshold,
							10000, 0, INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("csm.stale_after",
							"Age after which a computed health score is flagged stale.",
							"csm.account_health shows stale = true for older scores.",
							&csm_stale_after,
							26 * 3600, 60, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	/*
	 * Why and from where the current transaction changes csm.account.arr or
	 * status: csm.arr_change records them (src/sql/80_revenue/).  Set
	 * with set_config(..., true); empty means manual/account.
	 */
	DefineCustomStringVariable("csm.arr_change_reason",
							   "Reason csm.arr_change records for ARR and status changes of csm.account.",
							   "Set it transaction-locally before the change; empty records 'manual'.",
							   &csm_arr_change_reason,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("csm.arr_change_source",
							   "Source csm.arr_change records for ARR and status changes of csm.account.",
							   "Set it transaction-locally before the change (for example renewal); empty records 'account'.",
							   &csm_arr_change_source,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("csm.arr_change_date",
							   "Effective date csm.arr_change records for ARR and status changes of csm.account.",
							   "Set it transaction-locally before the change; empty records the day of the change (UTC).",
							   &csm_arr_change_date,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("csm");

	csm_install_settle_hook();
	csm_install_ownership_lock_hook();
}

/*
 * Whether argument argno of the call is a Const.  Not get_fn_expr_arg_stable():
 * it also accepts external Params, whose values change between evaluations
 * of one PL/pgSQL expression while fn_extra stays.
 */
bool
csm_arg_is_const(FmgrInfo *flinfo, int argno)
{
	Node	   *expr = flinfo->fn_expr;

	if (expr == NULL || !IsA(expr, FuncExpr) || argno >= list_length(((FuncExpr *) expr)->args))
		return false;
	return IsA(list_nth(((FuncExpr *) expr)->args, argno), Const);
}
