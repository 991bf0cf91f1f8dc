/*
 * csm.h: declarations shared by csm's C files.
 */
#ifndef CSM_H
#define CSM_H

#include "compat.h"

/* csm.compact_threshold: usage deltas a backend appends before it folds them. */
extern int	csm_compact_threshold;

/* csm.stale_after: seconds after which a health score is flagged stale. */
extern int	csm_stale_after;

/* account_cache.c: external_id -> account_id, per backend. */
extern int64 account_cache_get(const char *key, int len);
extern void account_cache_put(const char *key, int len, int64 account_id);

/* spi_plan.c: an SPI plan prepared on first use and kept. */
#include "executor/spi.h"
extern SPIPlanPtr csm_prepare_once(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes);
/* ... planned with its values in a database with Citus, so that Citus can route it. */
extern SPIPlanPtr csm_prepare_routed(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes);
/* ... whether csm's tables are on a Citus cluster (in an SPI connection). */
extern bool csm_on_citus(void);
/* ... and SPI of a C function with no SET search_path runs under pg_catalog, pg_temp. */
extern int	csm_pin_search_path(void);
extern void csm_restore_search_path(int nest);

/* local_copy.c: the relation a C function reads a configuration table through (Citus: this node's copy). */
extern char *csm_local_copy(const char *table);

/* csm.c: whether a call's argument is a constant, so a per-call-site cache may keep it. */
#include "fmgr.h"
extern bool csm_arg_is_const(FmgrInfo *flinfo, int argno);

/* condition.c: csm.condition_matches(rule_condition, jsonb), for rules applied from C. */
extern Datum csm_condition_matches(PG_FUNCTION_ARGS);

/* settle.c: the executor hook that finishes conversation routing on a Citus coordinator. */
extern void csm_install_settle_hook(void);

/* ownership_lock.c: on Citus, the ownership lock before a statement writes csm.team_member. */
extern void csm_install_ownership_lock_hook(void);

/* access.c: raises 42501 with a hint unless the calling role holds the csm level. */
extern void csm_require_level(const char *level);

/* visibility.c: raises P0002, as for an unknown account, unless the caller may see the account (external_id, text). */
extern void csm_require_visible(Datum external_id);

/*
 * assign.c: a member's assignment lock (their csm_internal.member_lock row, FOR NO
 * KEY UPDATE), held until the transaction ends; waits for it.  Take it
 * after the account's lock (csm_internal._lock_account), and the locks of several
 * members in member_id order.  csm_lock_member is csm_internal._lock_member(bigint).
 */
extern void lock_member(int64 member_id);
extern Datum csm_lock_member(PG_FUNCTION_ARGS);

#endif							/* CSM_H */
