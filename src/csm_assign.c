/*
 * csm_assign.c: csm.csm_assign, the seed's Assign CSM tool: makes a member
 * (by handle) the primary or a secondary CSM of an account (by
 * external_id).  In C beside csm_auto_assign (assign.c), whose account
 * lock, member lock and writes it shares (assign.h), so that an assignment
 * by hand and one by a rule lock, count and log alike.
 *
 * Locks are taken in the one order every change of owners keeps, so that
 * nobody waits in a circle: the member's csm.team_member row (FOR SHARE:
 * a deactivation of them waits, or this waits for it), the account's row,
 * then members' locks (theirs and, for a new primary, the current
 * primary's, in member_id order), each through lock_member (assign.c).  Then a
 * fresh read of the member and of the account's relationships, which the
 * locks keep true until commit.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "csm.h"
#include "assign.h"

PG_FUNCTION_INFO_V1(csm_assign);

/*
 * The capacity of a member whose capacity is NULL: one full book in load
 * units, what the CSM ratios of csm.segment are counted against (100 SMB,
 * 30 mid-market, 10 enterprise or 5 strategic accounts), as csm_internal._has_room
 * counts it for the pickers.
 */
#define FULL_BOOK 100

/*
 * The account ($1, external_id) and the member ($2, handle), unlocked: one
 * row, NULL where either is unknown.
 *
 * Its plans are prepared with csm_prepare_routed: on Citus, where
 * csm.account is a reference table and csm.account_assignment is
 * distributed by account_id, state_sql and primary_member_sql are planned
 * with the account's id, so Citus routes them to its shard (a generic plan
 * of state_sql's join of reference and distributed tables it cannot plan).
 */
static const char *const lookup_sql =
"SELECT (SELECT a.account_id FROM csm.account a WHERE a.external_id = $1), m.member_id, m.active "
"FROM (SELECT 1) one LEFT JOIN csm.team_member m ON m.handle = $2";

/*
 * Under both locks, for account $1 and member $2: the member (active,
 * capacity, load carried), the account's current primary (its handle, and
 * whether it is within the minimum tenure of the rule that made it: NULL
 * when none did or the rule is gone), and the member's current
 * relationship with the account, if any.
 */
static const char *const state_sql =
"SELECT m.active, m.capacity, coalesce(l.load, 0), "
"       p.assignment_id, p.member_id, ph.handle, p.started_at > now() - r.min_tenure, r.name, r.min_tenure, "
"       e.assignment_id, e.is_primary, e.load "
"FROM csm.team_member m "
"LEFT JOIN csm_internal.member_load l ON l.member_id = m.member_id "
"LEFT JOIN csm.account_assignment p ON p.account_id = $1 AND p.is_primary AND p.ended_at IS NULL "
"LEFT JOIN csm.team_member ph ON ph.member_id = p.member_id "
"LEFT JOIN csm.routing_rule r ON r.rule_id = p.rule_id "
"LEFT JOIN csm.account_assignment e ON e.account_id = $1 AND e.member_id = m.member_id AND e.ended_at IS NULL "
"WHERE m.member_id = $2";

/* The member's row, locked first ($1, member_id). */
static const char *const member_row_sql =
"SELECT 1 FROM csm.team_member t WHERE t.member_id = $1 FOR SHARE";

/* The member of the account's ($1) current primary, once it is locked. */
static const char *const primary_member_sql =
"SELECT a.member_id FROM csm.account_assignment a WHERE a.account_id = $1 AND a.is_primary AND a.ended_at IS NULL";

static SPIPlanPtr lookup_plan;
static SPIPlanPtr member_row_plan;
static SPIPlanPtr primary_member_plan;
static SPIPlanPtr state_plan;

/* The member and the account's relationships, read under both locks. */
typedef struct State
{
	bool		active;
	int32		capacity;		/* NULL: a full book, FULL_BOOK load units */
	bool		full_book;		/* capacity was NULL */
	float8		load;			/* what the member carries now */
	int64		primary_id;		/* the current primary's assignment; 0: none */
	int64		primary_member;
	char	   *primary_handle;
	bool		primary_young;	/* within its rule's minimum tenure */
	char	   *rule_name;
	char	   *tenure;
	int64		existing_id;	/* the member's current relationship; 0: none */
	bool		existing_primary;
	float8		existing_load;
} State;

/* Runs a plan that reads at most one row; the row, or NULL. */
static HeapTuple
select_one(SPIPlanPtr plan, Datum *args)
{
	int			rc = SPI_execute_plan(plan, args, NULL, false, 1);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "csm: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return SPI_processed == 1 ? SPI_tuptable->vals[0] : NULL;
}

static Datum
column(HeapTuple tup, int n, bool *isnull)
{
	return SPI_getbinval(tup, SPI_tuptable->tupdesc, n, isnull);
}

static char *
column_text(HeapTuple tup, int n)
{
	bool		isnull;
	Datum		d = column(tup, n, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static void
read_state(HeapTuple tup, State *state)
{
	bool		isnull;
	Datum		d;

	state->active = DatumGetBool(column(tup, 1, &isnull));
	d = column(tup, 2, &isnull);
	state->full_book = isnull;
	state->capacity = isnull ? FULL_BOOK : DatumGetInt32(d);
	state->load = DatumGetFloat8(column(tup, 3, &isnull));
	d = column(tup, 4, &isnull);
	state->primary_id = isnull ? 0 : DatumGetInt64(d);
	d = column(tup, 5, &isnull);
	state->primary_member = isnull ? 0 : DatumGetInt64(d);
	state->primary_handle = column_text(tup, 6);
	d = column(tup, 7, &isnull);
	state->primary_young = !isnull && DatumGetBool(d);
	state->rule_name = column_text(tup, 8);
	/* printed here, in the session's IntervalStyle (on Citus the query runs on a worker) */
	d = column(tup, 9, &isnull);
	state->tenure = isnull ? NULL : DatumGetCString(DirectFunctionCall1(interval_out, d));
	d = column(tup, 10, &isnull);
	state->existing_id = isnull ? 0 : DatumGetInt64(d);
	d = column(tup, 11, &isnull);
	state->existing_primary = !isnull && DatumGetBool(d);
	d = column(tup, 12, &isnull);
	state->existing_load = isnull ? 0 : DatumGetFloat8(d);
}

/*
 * Takes the locks of an assignment of account to member, in order: the
 * member's row, the account, the members' locks (a new primary's and the
 * current primary's, lowest member_id first).  False when the account is
 * gone.
 */
static bool
lock_for_assignment(Account *account, int64 member, bool is_primary)
{
	Datum		arg = Int64GetDatum(member);
	HeapTuple	tup;
	int64		other = 0;

	/*
	 * On Citus the lock of csm_internal._lock_ownership() comes first, and stands for
	 * the member's row: there a row lock of a reference table locks the table.
	 */
	assign_lock_ownership();
	if (!csm_on_citus())
		(void) select_one(member_row_plan, &arg);
	if (!assign_lock_account(account->id, account))
		return false;
	if (is_primary)
	{
		bool		isnull;

		arg = Int64GetDatum(account->id);
		tup = select_one(primary_member_plan, &arg);
		if (tup != NULL)
			other = DatumGetInt64(column(tup, 1, &isnull));
	}
	if (other != 0 && other < member)
		lock_member(other);
	lock_member(member);
	if (other != 0 && other > member)
		lock_member(other);
	return true;
}

/* The load in use, as "12.34": what capacity leaves no room for, rounded to cents. */
static char *
load_in_use(const State *state)
{
	float8		room = (float8) state->capacity - state->load;
	Datum		used = DirectFunctionCall1(float8_numeric, Float8GetDatum((float8) state->capacity - room));

	return DatumGetCString(DirectFunctionCall1(numeric_out,
											   DirectFunctionCall2(numeric_round, used, Int32GetDatum(2))));
}

/* NULL when the member may take the account (of weight) as asked; otherwise why not. */
static char *
refusal(const State *state, const char *handle, bool is_primary, float8 weight)
{
	if (!state->active)
		return psprintf("%s is inactive", handle);
	if (is_primary && state->primary_id != 0 && state->primary_young)
		return psprintf("continuity: rule %s keeps the primary it assigned for %s", state->rule_name, state->tenure);
	/* a secondary promoted to primary already carries the account's load */
	if (state->existing_id == 0 && (float8) state->capacity - state->load + 1e-9 < weight)
		return psprintf("%s is at capacity (%s of %d load units in use%s)", handle, load_in_use(state),
						state->capacity, state->full_book ? ", a full book by the CSM ratios" : "");
	return NULL;
}

/*
 * csm.csm_assign(org_user_id text, assign_to text, is_primary boolean,
 * reason text): a new primary ends the current one; the member's current
 * relationship again is a no-op success; a secondary asked for as primary
 * is promoted.  Refusals (inactive, continuity, capacity) return
 * assignment_success false with a message; unknown ids are P0002.
 */
Datum
csm_assign(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *org;
	char	   *handle;
	bool		is_primary;
	char	   *reason;
	Datum		args[2];
	HeapTuple	tup;
	bool		isnull;
	int64		member;
	Account		account;
	State		state;
	char	   *message;
	Datum		result;

	csm_require_level("operate");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("org_user_id, assign_to and is_primary must not be NULL")));
	org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	handle = text_to_cstring(PG_GETARG_TEXT_PP(1));
	is_primary = PG_GETARG_BOOL(2);
	reason = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	{
		Oid			lookup_types[] = {TEXTOID, TEXTOID};
		Oid			state_types[] = {INT8OID, INT8OID};

		csm_prepare_routed(&lookup_plan, lookup_sql, 2, lookup_types);
		csm_prepare_routed(&member_row_plan, member_row_sql, 1, state_types);
		csm_prepare_routed(&primary_member_plan, primary_member_sql, 1, state_types);
		csm_prepare_routed(&state_plan, state_sql, 2, state_types);
	}

	csm_require_visible(PG_GETARG_DATUM(0));
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	tup = select_one(lookup_plan, args);
	account.id = DatumGetInt64(column(tup, 1, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("account \"%s\" does not exist", org),
				 errhint("See csm.account for the accounts.")));
	member = DatumGetInt64(column(tup, 2, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("team member \"%s\" does not exist", handle),
				 errhint("See csm.team_member for the handles.")));
	if (!DatumGetBool(column(tup, 3, &isnull)))
	{
		result = assign_result_row(fcinfo, caller, false, handle, is_primary, org,
								   psprintf("%s is inactive", handle));
		SPI_finish();
		return result;
	}

	/* Wait out a change of the member, other changes of the account's owners, other assignments to the member. */
	if (!lock_for_assignment(&account, member, is_primary))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("account \"%s\" does not exist", org),
				 errhint("See csm.account for the accounts.")));
	args[0] = Int64GetDatum(account.id);
	args[1] = Int64GetDatum(member);
	tup = select_one(state_plan, args);
	if (tup == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("team member \"%s\" does not exist", handle),
				 errhint("See csm.team_member for the handles.")));
	read_state(tup, &state);

	if (state.active && state.existing_id != 0 && (state.existing_primary || !is_primary))
	{
		result = assign_result_row(fcinfo, caller, true, handle, state.existing_primary, org,
								   state.existing_primary ? "already the primary CSM" : "already a secondary CSM");
		SPI_finish();
		return result;
	}
	message = refusal(&state, handle, is_primary, account.weight);
	if (message != NULL)
	{
		result = assign_result_row(fcinfo, caller, false, handle, is_primary, org, message);
		SPI_finish();
		return result;
	}

	if (state.existing_id != 0)
		assign_end(account.id, state.existing_id, "promoted to primary");
	if (is_primary && state.primary_id != 0)
		assign_end(account.id, state.primary_id, reason ? reason : psprintf("replaced by %s", handle));
	assign_start(account.id, member, is_primary, state.existing_id != 0 ? state.existing_load : account.weight,
				 reason, NULL, state.existing_id != 0 ? "promote" : "assign", is_primary ? state.primary_member : 0);
	if (!is_primary)
		message = "assigned as a secondary CSM";
	else if (state.primary_id == 0)
		message = "assigned as the primary CSM";
	else
		message = psprintf("assigned as the primary CSM, replacing %s", state.primary_handle);
	result = assign_result_row(fcinfo, caller, true, handle, is_primary, org, message);
	SPI_finish();
	return result;
}
