/*
 * access.c: who is calling, and whether they hold a csm access level.
 *
 * csm's API functions that write are SECURITY DEFINER: inside them
 * current_user is csm's owner.  The role that caused a call is the outer
 * user: the session's role, or the one SET ROLE chose.  SECURITY DEFINER
 * functions (csm's or anyone's) and csm's own switch to its owner for usage
 * rollups change the current user only, never the outer one.
 *
 * A level ('read', 'operate', 'admin') is held as EXECUTE on a marker
 * function, csm_internal._access_<level>(), granted by csm.grant_access().  Keeping
 * the level in the ACL, and not in a table, means pg_dump, DROP OWNED and
 * REVOKE all see it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "nodes/pg_list.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "csm.h"

PG_FUNCTION_INFO_V1(csm_caller);
PG_FUNCTION_INFO_V1(csm_require);

/* Whether level is one of the three, so that a typo is never a marker lookup. */
static void
check_level(const char *level)
{
	if (strcmp(level, "read") != 0 && strcmp(level, "operate") != 0 && strcmp(level, "admin") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown access level \"%s\"", level),
				 errhint("The levels are read, operate and admin.")));
}

/*
 * Raises 42501, with a hint naming the level and the grant that gives it,
 * unless the outer user holds the level (superusers and csm's owner do).
 */
void
csm_require_level(const char *level)
{
	Oid			role = GetOuterUserId();
	char		marker[NAMEDATALEN];
	List	   *name;
	Oid			fn;

	check_level(level);
	snprintf(marker, sizeof(marker), "_access_%s", level);
	name = list_make1(makeString("csm_internal"));
	name = lappend(name, makeString(marker));
	fn = LookupFuncName(name, 0, NULL, true);
	if (!OidIsValid(fn))
		elog(ERROR, "csm: marker function csm_internal.%s() is missing", marker);
	if (csm_proc_aclcheck(fn, role, ACL_EXECUTE) != ACLCHECK_OK)
	{
		const char *name = GetUserNameFromId(role, false);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: role \"%s\" lacks csm's %s level", name, level),
				 errhint("Grant it with SELECT csm.grant_access('%s', '%s').", name, level)));
	}
}

/* csm_internal._caller(): the name of the role that caused the current statement. */
Datum
csm_caller(PG_FUNCTION_ARGS)
{
	Name		result = (Name) palloc0(NAMEDATALEN);

	namestrcpy(result, GetUserNameFromId(GetOuterUserId(), false));
	PG_RETURN_NAME(result);
}

/* csm_internal._require(level): csm_require_level for SQL and PL/pgSQL callers. */
Datum
csm_require(PG_FUNCTION_ARGS)
{
	csm_require_level(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
