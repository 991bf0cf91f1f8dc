/*
 * compat.h: what differs between the PostgreSQL major versions csm builds
 * against, in one place (as timescaledb's compat.h).  The code is written
 * for PostgreSQL 15, csm's oldest supported version, through these names;
 * each guard says which release changed what.
 *
 *   csm builds and passes its suite on 15.  Against the 17 and 18 server
 *   headers of Debian's packages it compiles warning-free (README,
 *   "PostgreSQL versions").  16 is covered by the same guards (each is
 *   keyed on the release that made the change), but no 16 headers were at
 *   hand to build against.
 *
 * Include it after postgres.h.
 */
#ifndef CSM_COMPAT_H
#define CSM_COMPAT_H

#include "postgres.h"

#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "storage/proc.h"
#include "utils/acl.h"

/*
 * 16: the varlena macros (VARSIZE, VARDATA, SET_VARSIZE, ...) moved out of
 * postgres.h into varatt.h.
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * 16: pg_proc_aclcheck() and the other per-catalog checks became
 * object_aclcheck(classid, ...).
 */
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_proc.h"
#define csm_proc_aclcheck(fn, role, mode) object_aclcheck(ProcedureRelationId, (fn), (role), (mode))
#else
#define csm_proc_aclcheck(fn, role, mode) pg_proc_aclcheck((fn), (role), (mode))
#endif

/*
 * 17: the backend's local transaction id moved from PGPROC.lxid into
 * PGPROC.vxid.lxid.  CSM_MY_LXID is this backend's current one.
 */
#if PG_VERSION_NUM >= 170000
#define CSM_MY_LXID (MyProc->vxid.lxid)
#else
#define CSM_MY_LXID (MyProc->lxid)
#endif

/*
 * 18: pg_attribute_noreturn(), written after a declarator, was removed for
 * pg_noreturn, a function specifier written before the declaration (C11's
 * _Noreturn).  csm writes pg_noreturn first; before 18 it is GCC's
 * attribute, which may stand at the start of a declaration too.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * 16: the permissions a statement checks moved from its range table entries
 * (RangeTblEntry.requiredPerms) into a list of its own
 * (PlannedStmt.permInfos, RTEPermissionInfo.requiredPerms).  True when the
 * plan's statement requires any of perms on relation relid.
 */
static inline bool
csm_plan_requires(const PlannedStmt *stmt, Oid relid, AclMode perms)
{
	ListCell   *lc;

#if PG_VERSION_NUM >= 160000
	foreach(lc, stmt->permInfos)
	{
		RTEPermissionInfo *perm = lfirst_node(RTEPermissionInfo, lc);

		if (perm->relid == relid && (perm->requiredPerms & perms) != 0)
			return true;
	}
#else
	foreach(lc, stmt->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_RELATION && rte->relid == relid &&
			(rte->requiredPerms & perms) != 0)
			return true;
	}
#endif
	return false;
}

#endif							/* CSM_COMPAT_H */
