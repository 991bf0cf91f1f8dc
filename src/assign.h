/*
 * assign.h: what assign.c shares with csm_assign.c, so that assigning by
 * hand locks, counts and logs exactly as routing does.  Every function but
 * csm_lock_member runs in its caller's SPI connection.
 */
#ifndef CSM_ASSIGN_H
#define CSM_ASSIGN_H

#include "fmgr.h"

/* An account locked against other changes of its owners. */
typedef struct Account
{
	int64		id;
	char	   *org;			/* external_id */
	float8		weight;			/* its load on an owner */
} Account;

/* csm_internal._lock_member(member bigint): takes the member's assignment lock until commit, waiting for it. */
extern Datum csm_lock_member(PG_FUNCTION_ARGS);

extern void assign_lock_ownership(void);
extern bool assign_lock_account(int64 id, Account *account);
extern void assign_start(int64 account, int64 member, bool is_primary, float8 weight, const char *reason,
						 const Datum *rule, const char *action, int64 old_member);
extern void assign_end(int64 account, int64 assignment, const char *why);
extern Datum assign_result_row(FunctionCallInfo fcinfo, MemoryContext caller, bool success, const char *handle,
							   bool is_primary, const char *org, const char *message);

#endif							/* CSM_ASSIGN_H */
