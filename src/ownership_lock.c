/*
 * ownership_lock.c: on a Citus cluster, a statement that changes or deletes
 * team members takes csm's ownership lock before Citus locks
 * csm.team_member.
 *
 * On Citus every change of owners takes one lock first,
 * csm_internal._lock_ownership() (the row ('assign', 'cluster') of csm_internal.lock_row),
 * and then the reference tables it writes, csm.team_member's among them
 * (Citus locks a reference table as a whole on every node).  A user's
 * UPDATE or DELETE of csm.team_member locks that table when Citus starts
 * it, and its trigger hands a leaver's book over only after, under the
 * ownership lock: the opposite order, which deadlocked with the
 * assignments running meanwhile.  This executor hook takes the ownership
 * lock before the statement starts, so that both take the locks in one
 * order.  Like the settle hook (settle.c) it is in every session of a
 * distributed csm (csm.distribute() sets session_preload_libraries), and
 * on a server without Citus it returns at once.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/guc.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "csm.h"

static ExecutorStart_hook_type prev_executor_start = NULL;

/*
 * Whether the statement updates or deletes rows of csm.team_member, as the
 * session ran it (not a shard's task: its target is the shard, and the
 * coordinator's statement took the lock).  Citus keeps the statement's own
 * range table, with the permissions it checks, in the plans it makes.
 */
static Oid
writes_team_member(QueryDesc *queryDesc, int eflags)
{
	const char *app;
	Oid			nsp;
	Oid			member;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return InvalidOid;
	if (queryDesc->operation != CMD_UPDATE && queryDesc->operation != CMD_DELETE &&
		!(queryDesc->operation == CMD_SELECT && queryDesc->plannedstmt->hasModifyingCTE))
		return InvalidOid;
	/* No Citus in this server: nothing to do (Citus defines its settings when it loads). */
	if (GetConfigOption("citus.enable_unsafe_triggers", true, false) == NULL)
		return InvalidOid;
	app = GetConfigOption("application_name", true, false);
	if (app != NULL && strncmp(app, "citus_internal", 14) == 0)
		return InvalidOid;
	if (!IsTransactionState() || creating_extension)
		return InvalidOid;
	nsp = get_namespace_oid("csm", true);
	member = OidIsValid(nsp) ? get_relname_relid("team_member", nsp) : InvalidOid;
	if (!OidIsValid(member))
		return InvalidOid;
	if (csm_plan_requires(queryDesc->plannedstmt, member, ACL_UPDATE | ACL_DELETE))
		return member;
	return InvalidOid;
}

/*
 * csm_internal._lock_ownership(): on a distributed csm, the ownership lock; else
 * nothing.  As csm's owner (the owner of csm.team_member), as csm's
 * SECURITY DEFINER functions take it: a role with csm's admin level may
 * change members but holds no privilege on csm_internal.lock_row.  An error
 * restores the caller's role with the transaction's abort.
 */
static void
lock_ownership(Oid member)
{
	HeapTuple	tup;
	Oid			owner;
	Oid			save_user;
	int			save_sec;
	int			path_nest;
	bool		pushed = false;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(member));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "csm: cache lookup failed for relation %u", member);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed = true;
	}
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	path_nest = csm_pin_search_path();
	if (SPI_execute("SELECT csm_internal._lock_ownership()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: csm_internal._lock_ownership() failed");
	csm_restore_search_path(path_nest);
	SPI_finish();
	SetUserIdAndSecContext(save_user, save_sec);
	if (pushed)
		PopActiveSnapshot();
}

static void
csm_executor_start(QueryDesc *queryDesc, int eflags)
{
	Oid			member = writes_team_member(queryDesc, eflags);

	if (OidIsValid(member))
		lock_ownership(member);
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

void
csm_install_ownership_lock_hook(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = csm_executor_start;
}
