/*
 * assign.c: csm_auto_assign and applying a routing rule to an account
 * (csm_internal._apply_rule), and the member locks every assignment takes.
 *
 * Choosing a member must be fair (round robin: fewest accounts, then the
 * one picked longest ago; least loaded: the lowest load per capacity) and
 * must never let two sessions overfill a member, yet sessions filling the
 * same pool should not wait for each other.  A member's lock is their
 * csm_internal.member_lock row, locked FOR NO KEY UPDATE by whoever assigns to them
 * until commit; a row of csm's own table, which a role without rights on
 * csm cannot lock (an advisory lock anyone can take), and which works on
 * every node of a cluster.  A picker reads the candidates in order and
 * takes the first member whose row it locks without waiting (SKIP LOCKED),
 * then reads that member again under the lock: if they still rank no worse
 * than the best candidate, the pick stands; otherwise it lets the lock go
 * and tries the next.  A row lock is let go by taking it in a
 * subtransaction and rolling that back.
 *
 * Locks are taken in one order, so that nobody waits in a circle:
 *   1. a member's csm.team_member row (an UPDATE of the member, such as
 *      deactivating them; csm_assign takes it FOR SHARE first),
 *   2. accounts, in account_id order when several,
 *   3. the batch lock (csm_internal.lock_row ('assign', 'batch')), taken by a
 *      transaction that assigns several accounts,
 *   4. members' locks (csm_internal.member_lock rows), then their csm_internal.member_load
 *      rows (only under their lock).
 * A picker that is assigning one account waits for a busy member (step 4)
 * only while it holds no member; it holds the member's csm.team_member row
 * FOR SHARE with the pick, but never waits for it: a member whose row is
 * being changed is busy.  A transaction assigning several accounts (a
 * multi-row insert of accounts, a handoff, the queue) takes the batch lock
 * and then locks every candidate of a pick in member_id order, so that it
 * picks exactly as one session would and two such transactions never wait
 * for each other's members.
 *
 * Conversations pick an agent the same way (csm_internal._pick_agent_locked, called
 * by csm_internal._pick_agent): the lock is then the agent's csm_internal.agent_load row (the
 * counters the assignment updates), the rank their open conversations
 * (balanced, skills) or none (round robin, by pick_seq alone), and the
 * check under the lock their status, team, skills and limits.  Nobody
 * sleeps: a picker waits for a busy member's lock, a lock wait, and only
 * while it may (for an account: holding no member; for a conversation: a
 * patient pick holding no row lock at all, as a new conversation's first
 * try is), else it takes what it can lock now or nobody (the account or the
 * conversation then waits in its queue).  On Citus conversation routing
 * runs under one lock (csm_internal.lock_row ('conversation', 'settle')) and does
 * not come here.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"

#include "csm.h"
#include "assign.h"

PG_FUNCTION_INFO_V1(csm_lock_member);
PG_FUNCTION_INFO_V1(csm_begin_batch);
PG_FUNCTION_INFO_V1(csm_pick_member);
PG_FUNCTION_INFO_V1(csm_pick_agent_locked);
PG_FUNCTION_INFO_V1(csm_apply_rule);
PG_FUNCTION_INFO_V1(csm_start_assignment);
PG_FUNCTION_INFO_V1(csm_auto_assign);

/*
 * The transaction that last took a member's lock for an assignment.  A
 * transaction that already holds one (csm_auto_assign called for several
 * accounts in one transaction) must not wait for another member's: a
 * second such transaction could be waiting for the one it holds.  It takes
 * a member with room it can lock now, or none (see may_wait).
 */
static LocalTransactionId holding_lxid = InvalidLocalTransactionId;

/* The transaction that holds the batch lock (csm_internal._begin_batch). */
static LocalTransactionId batch_lxid = InvalidLocalTransactionId;

static bool
holds_member_lock(void)
{
	return holding_lxid != InvalidLocalTransactionId && holding_lxid == CSM_MY_LXID;
}

static bool
in_batch(void)
{
	return batch_lxid != InvalidLocalTransactionId && batch_lxid == CSM_MY_LXID;
}

/*
 * The account, locked against other changes of its owners, and the load it
 * puts on an owner (csm.segment_load, inlined): by id; or by external_id,
 * with the enabled rules in order (of team $2 only, when given), read in
 * the same statement because every call needs both.
 */
#define ACCOUNT_SQL(rules, where, lock) \
"SELECT a.account_id, a.external_id, " \
"       100.0::float8 / coalesce(w.accounts_per_csm, s.csm_ratio, csm_internal._default_accounts_per_csm(a.segment))::float8" rules " " \
"FROM csm.account a LEFT JOIN csm.segment_weight w ON w.segment = a.segment LEFT JOIN csm.segment s ON s.name = a.segment " \
"WHERE " where lock
#define RULES_SQL \
", ARRAY(SELECT r FROM csm.routing_rule r " \
"WHERE r.enabled AND ($2 IS NULL OR (r.target_kind = 'team' AND r.target = $2)) " \
"ORDER BY r.priority, r.rule_id)"
static const char *const account_sql = ACCOUNT_SQL("", "a.account_id = $1", " FOR NO KEY UPDATE OF a");
static const char *const account_by_external_sql = ACCOUNT_SQL(RULES_SQL, "a.external_id = $1", " FOR NO KEY UPDATE OF a");

/*
 * On Citus, where csm.account is a reference table, locking one of its rows
 * locks the table on every node until commit (and an insert of accounts
 * holds a lock on it that such a lock waits for), so the account is read
 * without a lock, under csm_internal._lock_ownership()'s, which every change of
 * owners takes first there.
 */
static const char *const account_citus_sql = ACCOUNT_SQL("", "a.account_id = $1", "");
static const char *const account_by_external_citus_sql = ACCOUNT_SQL(RULES_SQL, "a.external_id = $1", "");

/*
 * Members' lock rows, made for those who have none (a trigger makes them
 * with the member; this is for members loaded with triggers disabled).
 */
static const char *const make_rows_sql =
"INSERT INTO csm_internal.member_lock (member_id) "
"SELECT m.member_id FROM csm.team_member m WHERE m.member_id = ANY ($1) ORDER BY m.member_id "
"ON CONFLICT (member_id) DO NOTHING";

/*
 * A member's lock ($1), without waiting, with their csm.team_member row
 * FOR SHARE: no row when another session holds the lock or is changing the
 * member (deactivating them, say).  lock_sql waits for the lock, wait_row_sql
 * for the csm.team_member row (each alone: holding one while waiting for
 * the other would close a circle), lock_all_sql for the locks of several,
 * in member_id order.
 */
static const char *const try_lock_sql =
"SELECT 1 FROM csm_internal.member_lock k JOIN csm.team_member m ON m.member_id = k.member_id "
"WHERE k.member_id = $1 FOR NO KEY UPDATE OF k SKIP LOCKED FOR SHARE OF m SKIP LOCKED";
static const char *const wait_row_sql =
"SELECT 1 FROM csm.team_member m WHERE m.member_id = $1 FOR SHARE";
static const char *const lock_sql =
"SELECT 1 FROM csm_internal.member_lock k WHERE k.member_id = $1 FOR NO KEY UPDATE";
static const char *const lock_all_sql =
"SELECT 1 FROM csm_internal.member_lock k WHERE k.member_id = ANY ($1) ORDER BY k.member_id FOR NO KEY UPDATE";

/*
 * The same for conversations, over csm_internal.agent_load.  The candidates of team
 * $1 (online, active, not $2, with skills $3, not among $6 (full in the
 * team), under their limit or the team's $5), in the shape of
 * candidates_sql: key their open conversations when balanced ($4), else
 * none (round robin: pick_seq orders them).  Their rows exist (made by
 * csm_internal._pick_agent).  agent_recheck_sql: under the lock, with a new snapshot,
 * agent $1 still qualifies and ranks no worse than $2 (team $3, skills $4,
 * balanced $5, team limit $6, the team's per-agent limit $7 counting
 * pending ones when $8).
 */
static const char *const agent_candidates_sql =
"SELECT l.member_id, m.handle, true, "
"       CASE WHEN $4 THEN l.open_count ELSE 0 END::float8 AS key, CASE WHEN $4 THEN 1 ELSE 0 END::float8, true "
"FROM csm_internal.agent_load l JOIN csm.team_member m ON m.member_id = l.member_id "
"WHERE $1 = ANY (m.teams) AND m.active AND m.status = 'online' AND l.member_id IS DISTINCT FROM $2 "
"  AND m.skills @> $3 AND NOT l.member_id = ANY ($6) "
"  AND l.open_count < coalesce(m.conversation_limit, $5, 2147483647) "
"ORDER BY key, l.pick_seq, l.member_id";
#define AGENT_RECHECK_SQL \
"SELECT 1 FROM csm_internal.agent_load l JOIN csm.team_member m ON m.member_id = l.member_id " \
"WHERE l.member_id = $1 AND $3 = ANY (m.teams) AND m.active AND m.status = 'online' AND m.skills @> $4 " \
"  AND l.open_count < coalesce(m.conversation_limit, $6, 2147483647) " \
"  AND (CASE WHEN $5 THEN l.open_count ELSE 0 END)::float8 <= $2 + 1e-9 " \
"  AND ($7 IS NULL OR csm_internal._team_count(l.member_id, $3, $8) < $7)"
static const char *const agent_recheck_sql = AGENT_RECHECK_SQL;
/*
 * The check and the lock in one statement, without waiting: a row that
 * fails the check is not locked, so no subtransaction is needed to let it
 * go (only a row changed and committed in between, read again by the lock,
 * may stay locked though it fails: harmless, it is let go at commit).
 */
static const char *const agent_try_lock_sql = AGENT_RECHECK_SQL " FOR UPDATE OF l SKIP LOCKED";
static const char *const agent_lock_sql =
"SELECT 1 FROM csm_internal.agent_load l WHERE l.member_id = $1 FOR UPDATE";

/* The batch lock: one transaction assigning several accounts at a time. */
static const char *const batch_sql = "SELECT csm_internal._lock_row('assign', 'batch', true)";

/* On Citus, the lock every change of owners takes first (csm_internal._lock_ownership()). */
static const char *const ownership_sql = "SELECT csm_internal._lock_ownership()";

/* An account's facts, for the rules' conditions. */
static const char *const facts_sql = "SELECT csm.routing_facts($1)";

/*
 * Its current relationships (none: one row of NULLs), read once the
 * account is locked; young: within the minimum tenure of this rule or of
 * the rule that made the relationship, whichever is longer; waiting: it has
 * an open alert, which a new primary resolves.
 */
static const char *const current_sql =
"SELECT x.assignment_id, x.member_id, x.is_primary, "
"       x.started_at > now() - greatest($2, (SELECT r.min_tenure FROM csm.routing_rule r WHERE r.rule_id = x.rule_id)), "
"       EXISTS (SELECT 1 FROM csm.assignment_alert al WHERE al.account_id = $1 AND al.resolved_at IS NULL) "
"FROM (SELECT 1) one LEFT JOIN csm.account_assignment x ON x.account_id = $1 AND x.ended_at IS NULL";

/*
 * The candidates, best first: active, matching the rule's target ($1 kind,
 * $2 target; none when NULL) or among the members listed in $6, covering
 * the skills $3.  key: the member's rank by strategy $4 (csm_internal._pick_key);
 * step: what an account of weight $5 adds to it; ties go to the member
 * picked longest ago.  member_load is joined, so its page is scanned once:
 * its few rows are updated by every assignment and, under concurrency,
 * trail many dead versions that a scan per member (a LATERAL lookup) would
 * walk again for each.  A member's csm_internal.member_load row is made by their
 * first assignment, so a missing one reads as zeros.  has_row, the last
 * column: whether they have their lock row.
 */
static const char *const candidates_sql =
"WITH l AS MATERIALIZED (SELECT member_id, accounts, load, pick_seq FROM csm_internal.member_load) "
"SELECT m.member_id, m.handle, csm_internal._has_room(coalesce(l.load, 0), $5, m.capacity), "
"       csm_internal._pick_key($4, coalesce(l.accounts, 0), coalesce(l.load, 0), m.capacity) AS key, "
"       csm_internal._pick_key($4, 1, $5, m.capacity), EXISTS (SELECT 1 FROM csm_internal.member_lock k WHERE k.member_id = m.member_id) "
"FROM csm.team_member m LEFT JOIN l ON l.member_id = m.member_id "
"WHERE m.active AND m.skills @> $3 "
"  AND ($1 IS NULL OR CASE $1 WHEN 'member' THEN m.handle = $2 WHEN 'team' THEN $2 = ANY (m.teams) "
"                             WHEN 'role' THEN $2 = ANY (m.roles) END) "
"  AND ($6 IS NULL OR m.member_id = ANY ($6)) "
"ORDER BY key, coalesce(l.pick_seq, 0), m.member_id";

/*
 * A locked candidate ($1), read with a new snapshot: still active, with
 * room for weight $2 and ranked (by strategy $3) no worse than $5.  Their
 * lock keeps others from adding to them, so what is read stays true.
 * claim_sql adds the account (a primary when $4) to their counters in the
 * same step, with $6 the next value of csm_internal.member_pick_seq (drawn before:
 * Citus refuses a volatile function in an UPDATE of a reference table); a
 * member's first assignment makes their row (claim_first_sql, which does
 * nothing if it exists).
 */
static const char *const recheck_sql =
"SELECT 1 FROM csm.team_member m LEFT JOIN csm_internal.member_load l ON l.member_id = m.member_id "
"WHERE m.member_id = $1 AND m.active AND csm_internal._has_room(coalesce(l.load, 0), $2, m.capacity) "
"  AND csm_internal._pick_key($3, coalesce(l.accounts, 0), coalesce(l.load, 0), m.capacity) <= $5 + 1e-9";
static const char *const claim_sql =
"UPDATE csm_internal.member_load l SET accounts = l.accounts + 1, primaries = l.primaries + $4::integer, "
"       load = l.load + $2, pick_seq = $6, last_assigned_at = now() "
"FROM csm.team_member m "
"WHERE l.member_id = $1 AND m.member_id = l.member_id AND m.active AND csm_internal._has_room(l.load, $2, m.capacity) "
"  AND csm_internal._pick_key($3, l.accounts, l.load, m.capacity) <= $5 + 1e-9";
static const char *const claim_first_sql =
"INSERT INTO csm_internal.member_load (member_id, accounts, primaries, load, pick_seq, last_assigned_at) "
"SELECT m.member_id, 1, $4::integer, $2, $6, now() "
"FROM csm.team_member m "
"WHERE m.member_id = $1 AND m.active AND csm_internal._has_room(0, $2, m.capacity)"
"ON CONFLICT (member_id) DO NOTHING";

/* The same without the checks, for an assignment by hand or a handoff. */
static const char *const count_sql =
"INSERT INTO csm_internal.member_load AS l (member_id, accounts, primaries, load, pick_seq, last_assigned_at) "
"VALUES ($1, 1, $3::integer, $2, $4, now()) "
"ON CONFLICT (member_id) DO UPDATE "
"SET accounts = l.accounts + 1, primaries = l.primaries + excluded.primaries, load = l.load + excluded.load, "
"    pick_seq = excluded.pick_seq, last_assigned_at = excluded.last_assigned_at";

/* The relationship with its audit row, and the end of the account's wait for a primary. */
static const char *const insert_sql =
"WITH started AS ( "
"    INSERT INTO csm.account_assignment (account_id, member_id, is_primary, load, reason, rule_id) "
"    VALUES ($1, $2, $3, $4, $5, $6) RETURNING account_id) "
"INSERT INTO csm.assignment_log (account_id, action, is_primary, old_member_id, new_member_id, reason, rule_id) "
"SELECT s.account_id, $7, $3, $8, $2, $5, $6 FROM started s";
static const char *const resolve_sql =
"UPDATE csm.assignment_alert al SET resolved_at = now() WHERE al.account_id = $1 AND al.resolved_at IS NULL";

static const char *const end_sql =
"SELECT csm_internal._end_assignment($1, $2, $3)";

static const char *const queue_sql =
"SELECT csm_internal._queue_account($1, $2, $3, $4)";

static SPIPlanPtr account_plan;
static SPIPlanPtr account_by_external_plan;
static SPIPlanPtr facts_plan;
static SPIPlanPtr current_plan;
static SPIPlanPtr candidates_plan;
static SPIPlanPtr recheck_plan;
static SPIPlanPtr end_plan;
static SPIPlanPtr claim_plan;
static SPIPlanPtr claim_first_plan;
static SPIPlanPtr make_rows_plan;
static SPIPlanPtr try_lock_plan;
static SPIPlanPtr wait_row_plan;
static SPIPlanPtr lock_plan;
static SPIPlanPtr lock_all_plan;
static SPIPlanPtr batch_plan;
static SPIPlanPtr ownership_plan;
static SPIPlanPtr count_plan;
static SPIPlanPtr insert_plan;
static SPIPlanPtr resolve_plan;
static SPIPlanPtr queue_plan;
static SPIPlanPtr agent_candidates_plan;
static SPIPlanPtr agent_try_lock_plan;
static SPIPlanPtr agent_recheck_plan;
static SPIPlanPtr agent_lock_plan;

/* The fields of a csm.routing_rule this needs. */
typedef struct Rule
{
	Datum		rule_id;
	bool		rule_id_null;	/* an ad hoc pool rule has none */
	char	   *name;
	Datum		target_kind;
	Datum		target;
	Datum		required_skills;
	char	   *strategy;
	bool		is_primary;
	Datum		min_tenure;
} Rule;

static Datum
rule_field(HeapTupleHeader row, const char *name, bool *isnull)
{
	Datum		d = GetAttributeByName(row, name, isnull);

	if (*isnull && strcmp(name, "rule_id") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("routing rule field \"%s\" is NULL", name)));
	return d;
}

static void
read_rule(HeapTupleHeader row, Rule *rule)
{
	bool		isnull;

	rule->rule_id = rule_field(row, "rule_id", &rule->rule_id_null);
	rule->name = TextDatumGetCString(rule_field(row, "name", &isnull));
	rule->target_kind = rule_field(row, "target_kind", &isnull);
	rule->target = rule_field(row, "target", &isnull);
	rule->required_skills = rule_field(row, "required_skills", &isnull);
	rule->strategy = TextDatumGetCString(rule_field(row, "strategy", &isnull));
	rule->is_primary = DatumGetBool(rule_field(row, "is_primary", &isnull));
	rule->min_tenure = rule_field(row, "min_tenure", &isnull);
}

/* The csm.assignment_result, built where the caller can keep it. */
Datum
assign_result_row(FunctionCallInfo fcinfo, MemoryContext caller, bool success, const char *handle, bool is_primary,
				  const char *org, const char *message)
{
	MemoryContext old = MemoryContextSwitchTo(caller);
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false, handle == NULL, false, false, message == NULL};
	Datum		row;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "csm: assignment_result type expected");
	desc = BlessTupleDesc(desc);
	values[0] = BoolGetDatum(success);
	values[1] = handle ? CStringGetTextDatum(handle) : (Datum) 0;
	values[2] = BoolGetDatum(is_primary);
	values[3] = CStringGetTextDatum(org);
	values[4] = message ? CStringGetTextDatum(message) : (Datum) 0;
	row = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	MemoryContextSwitchTo(old);
	return row;
}

static void
execute(SPIPlanPtr plan, Datum *args, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(plan, args, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "csm: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
}

/* An account's load on its owner: finite and not negative, or 22003. */
static inline void
check_weight(float8 weight)
{
	if (!(weight >= 0.0 && weight < get_float8_infinity()))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("account load %s is not a finite number of at least 0", float8out_internal(weight)),
				 errhint("Load comes from csm.segment_load(); check csm.segment and csm.segment_weight.")));
}

/* One pick: among which members, by what, and what it adds to the counters. */
typedef struct Pick
{
	Datum		args[6];		/* candidates_sql's parameters */
	char		nulls[6];
	float8		weight;
	int			claim_primary;	/* -1: only lock (the caller counts); else claim, as a primary when 1 */
	const int64 *exclude;		/* members already related to the account */
	int			nexclude;
	bool		agents;			/* a conversation's agent: csm_internal.agent_load, agent_*_sql */
	Datum		recheck[8];		/* agents: agent_recheck_sql's parameters ($1, $2 set per try) */
	char		recheck_nulls[8];
	bool		patient;		/* agents: may wait for a busy agent (see may_wait) */
} Pick;

typedef enum TryResult
{
	TRY_PICKED,					/* locked, and still fits */
	TRY_LOCKED,					/* another session is assigning to them */
	TRY_CHANGED					/* no longer fits: assigned to, out of room or gone */
} TryResult;

/* The next value of csm_internal.member_pick_seq: the order of picks, for round robin. */
static Datum
next_pick_seq(void)
{
	Oid			seq = get_relname_relid("member_pick_seq", get_namespace_oid("csm_internal", false));

	if (!OidIsValid(seq))
		elog(ERROR, "csm: sequence csm_internal.member_pick_seq is missing");
	return DirectFunctionCall1(nextval_oid, ObjectIdGetDatum(seq));
}

/* What runs in a subtransaction: returns whether to keep what it did. */
typedef bool (*SubBody) (void *arg);

/*
 * Runs body in a subtransaction, committed when body says to keep what it
 * did (the row locks it took stay until the transaction ends), rolled back
 * otherwise (its row locks are let go).  An error rolls it back and goes
 * on up.
 */
static bool
in_subtransaction(SubBody body, void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool keep = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		keep = body(arg);
		if (keep)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		ReThrowError(edata);
	}
	PG_END_TRY();
	return keep;
}

/* Makes the lock rows of members who have none (n ids). */
static void
make_rows(const int64 *members, int n)
{
	Datum	   *ids = palloc(sizeof(Datum) * Max(n, 1));
	Datum		arg;

	for (int i = 0; i < n; i++)
		ids[i] = Int64GetDatum(members[i]);
	arg = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	execute(make_rows_plan, &arg, NULL, SPI_OK_INSERT);
}

/* A try: the pick, the member, the threshold, and what came of it. */
typedef struct Try
{
	const Pick *pick;
	int64		member_id;
	float8		threshold;
	TryResult	result;
} Try;

static bool
try_body(void *arg)
{
	Try		   *t = (Try *) arg;
	Datum		args[6] = {Int64GetDatum(t->member_id), Float8GetDatum(t->pick->weight), t->pick->args[3],
	BoolGetDatum(t->pick->claim_primary == 1), Float8GetDatum(t->threshold), (Datum) 0};

	if (t->pick->agents)
	{
		Datum		recheck[8];

		memcpy(recheck, t->pick->recheck, sizeof(recheck));
		recheck[0] = Int64GetDatum(t->member_id);
		recheck[1] = Float8GetDatum(t->threshold);
		execute(agent_try_lock_plan, recheck, t->pick->recheck_nulls, SPI_OK_SELECT);
		if (SPI_processed == 1)
			t->result = TRY_PICKED;
		else
		{
			/* not locked: someone holds them (busy), or they no longer fit */
			execute(agent_recheck_plan, recheck, t->pick->recheck_nulls, SPI_OK_SELECT);
			t->result = SPI_processed == 1 ? TRY_LOCKED : TRY_CHANGED;
		}
		return t->result == TRY_PICKED;
	}
	execute(try_lock_plan, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		t->result = TRY_LOCKED;
		return false;
	}
	if (t->pick->claim_primary < 0)
		execute(recheck_plan, args, NULL, SPI_OK_SELECT);
	else
	{
		args[5] = next_pick_seq();
		execute(claim_plan, args, NULL, SPI_OK_UPDATE);
		if (SPI_processed == 0)
			execute(claim_first_plan, args, NULL, SPI_OK_INSERT);
	}
	t->result = SPI_processed == 1 ? TRY_PICKED : TRY_CHANGED;
	return t->result == TRY_PICKED;
}

/*
 * Locks a member without waiting, then checks with a new snapshot that
 * they still rank no worse than threshold (and claims them, when the pick
 * claims).  The check reads what others committed, so a stale candidate
 * list cannot overfill or favour anyone.  has_row: whether the member has
 * their lock row yet.
 */
static TryResult
try_member(const Pick *pick, int64 member_id, bool has_row, float8 threshold)
{
	Try			t = {pick, member_id, threshold, TRY_CHANGED};

	if (!has_row)
		make_rows(&member_id, 1);
	/* (an agent's try locks only a row it keeps: no subtransaction) */
	if (pick->agents ? try_body(&t) : in_subtransaction(try_body, &t))
		holding_lxid = CSM_MY_LXID;
	return t.result;
}

/* Candidates other sessions hold: whom to wait for. */
typedef struct Busy
{
	int			n;
	int64	   *members;
} Busy;

/*
 * Picks among the candidates (member_id, handle, has_room, key, step,
 * has_row rows, best first) the first that can be locked and still ranks
 * no worse than the best, so that nobody gets ahead.  A member another
 * session is assigning to counts as already carrying that account (key +
 * step): when every best member is busy, the next ones are as fair a
 * choice.  Returns 0 when none: *retry says whether to read the candidates
 * again (after waiting for one of busy, when any).  relaxed: any candidate
 * with room may be taken (for a transaction that must not wait, and for a
 * batch, which holds every candidate and reads them afresh).
 */
static int64
try_candidates(const Pick *pick, SPITupleTable *candidates, uint64 n, bool relaxed, bool *retry, Busy *busy,
			   char **handle)
{
	TupleDesc	desc = candidates->tupdesc;
	bool		have_threshold = false;
	float8		threshold = 0;
	float8		busy_next = get_float8_infinity();
	bool		changed = false;

	*retry = false;
	busy->n = 0;
	busy->members = palloc(sizeof(int64) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = candidates->vals[i];
		bool		isnull;
		int64		member = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		bool		has_room = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		float8		key = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		float8		step = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
		bool		has_row = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		bool		excluded = false;

		for (int r = 0; r < pick->nexclude; r++)
			excluded |= pick->exclude[r] == member;
		if (excluded || !has_room)
			continue;
		if (!have_threshold)
		{
			threshold = key;
			have_threshold = true;
		}
		/* every member up to the threshold was busy: the busy ones' next level is as good */
		if (key > threshold + 1e-9 && !changed)
			threshold = Max(threshold, busy_next);
		if (key > threshold + 1e-9 && !relaxed)
			break;
		switch (try_member(pick, member, has_row, relaxed ? get_float8_infinity() : threshold))
		{
			case TRY_PICKED:
				*handle = SPI_getvalue(tup, desc, 2);
				return member;
			case TRY_LOCKED:
				busy->members[busy->n++] = member;
				busy_next = Min(busy_next, key + step);
				*retry = true;
				break;
			case TRY_CHANGED:
				/* others got ahead of what was read: no next level is known to be fair */
				changed = true;
				*retry = true;
				break;
		}
	}
	return 0;
}

/* A busy member to wait for: whose lock, of which kind. */
typedef struct Wait
{
	int64		member_id;
	bool		agents;
} Wait;

/* Waits for a busy member's lock, then lets it go at once. */
static bool
wait_body(void *arg)
{
	Wait	   *w = (Wait *) arg;
	Datum		member = Int64GetDatum(w->member_id);

	execute(w->agents ? agent_lock_plan : lock_plan, &member, NULL, SPI_OK_SELECT);
	return false;
}

/* Waits for whoever is changing a member's csm.team_member row, the same way. */
static bool
wait_row_body(void *arg)
{
	Datum		member = Int64GetDatum(*(int64 *) arg);

	execute(wait_row_plan, &member, NULL, SPI_OK_SELECT);
	return false;
}

/*
 * Whether a picker may wait for a busy member's lock.  Waiting while holding
 * a lock another picker may be waiting for could close a circle, so: for an
 * account, only while the transaction holds no member (see holding_lxid;
 * accounts are locked before members, and nobody holding a member waits for
 * an account); for a conversation, only a patient pick by a transaction that
 * holds no row lock at all (none has a transaction id yet: a new
 * conversation's first pick), since whoever holds an agent may be waiting
 * for a conversation row (a statement resolving several).
 */
static bool
may_wait(const Pick *pick)
{
	if (holds_member_lock())
		return false;
	if (pick->agents)
		return pick->patient && !TransactionIdIsValid(GetTopTransactionIdIfAny());
	return true;
}

/*
 * Waits until one of the busy members is free (their lock, and for an
 * account their csm.team_member row if someone is changing them), so that
 * the candidates read next see what their last holder committed.  A lock
 * wait, never a sleep: the holder's commit wakes it.  Sessions spread their
 * waits over the busy members, rather than queue on the first, where each
 * would be woken only to find it taken.
 */
static void
wait_for_busy(const Pick *pick, const Busy *busy)
{
	Wait		w = {busy->members[MyProcPid % busy->n], pick->agents};

	CHECK_FOR_INTERRUPTS();
	(void) in_subtransaction(wait_body, &w);
	if (!pick->agents)
		(void) in_subtransaction(wait_row_body, &w.member_id);
}

/*
 * In a batch: locks every candidate (waiting, in member_id order), then
 * reads them again and takes the best.  The batch lock keeps any other
 * transaction from holding some members while waiting for others, so this
 * waits only for single assignments, which end without waiting for it.
 */
static int64
pick_in_batch(const Pick *pick, uint64 *ncandidates, char **handle)
{
	SPITupleTable *candidates;
	uint64		n;
	int64	   *missing;
	int			nmissing = 0;
	Datum	   *ids;
	Datum		arg;
	bool		retry;
	Busy		busy;

	execute(candidates_plan, (Datum *) pick->args, pick->nulls, SPI_OK_SELECT);
	candidates = SPI_tuptable;
	n = SPI_processed;
	ids = palloc(sizeof(Datum) * Max(n, 1));
	missing = palloc(sizeof(int64) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = SPI_getbinval(candidates->vals[i], candidates->tupdesc, 1, &isnull);
		if (!DatumGetBool(SPI_getbinval(candidates->vals[i], candidates->tupdesc, 6, &isnull)))
			missing[nmissing++] = DatumGetInt64(ids[i]);
	}
	if (nmissing > 0)
		make_rows(missing, nmissing);
	arg = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	execute(lock_all_plan, &arg, NULL, SPI_OK_SELECT);
	holding_lxid = CSM_MY_LXID;

	execute(candidates_plan, (Datum *) pick->args, pick->nulls, SPI_OK_SELECT);
	*ncandidates = SPI_processed;
	/* a member someone is changing right now is passed over, never waited for */
	return try_candidates(pick, SPI_tuptable, SPI_processed, true, &retry, &busy, handle);
}

/*
 * Picks and locks the member who gets the next account; 0 when nobody has
 * room.  first: the candidates already read, if any; *ncandidates: how
 * many there were at the last read.
 */
static int64
pick_member(const Pick *pick, SPITupleTable *first, uint64 *ncandidates, char **handle)
{
	SPITupleTable *candidates = first;
	uint64		n = *ncandidates;

	/*
	 * Decided once, before any wait: a wait that ended takes the lock it
	 * waited for in a subtransaction, which gives the transaction an id
	 * though it keeps no lock.
	 */
	bool		waits = may_wait(pick);

	if (!pick->agents && in_batch())
		return pick_in_batch(pick, ncandidates, handle);
	for (int attempt = 0;; attempt++)
	{
		bool		retry;
		Busy		busy;
		int64		picked;

		if (attempt >= 10000)
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("could not pick a member: the candidates kept changing"),
					 errhint("Retry the assignment.")));
		if (candidates == NULL)
		{
			execute(pick->agents ? agent_candidates_plan : candidates_plan, (Datum *) pick->args, pick->nulls,
					SPI_OK_SELECT);
			candidates = SPI_tuptable;
			n = *ncandidates = SPI_processed;
		}
		picked = try_candidates(pick, candidates, n, false, &retry, &busy, handle);
		/* one that may not wait takes anyone with room it can lock now */
		if (picked == 0 && retry && !waits)
			picked = try_candidates(pick, candidates, n, true, &retry, &busy, handle);
		if (picked != 0 || !retry)
			return picked;
		/* others hold every member with room: wait for one, or give up */
		if (busy.n > 0)
		{
			if (!waits)
				return 0;
			wait_for_busy(pick, &busy);
		}
		/* (else others changed the candidates since they were read: read them again) */
		candidates = NULL;
	}
}

/*
 * Takes a member's lock until the transaction ends, waiting if need be
 * (making their lock row if they have none); in an SPI connection.
 */
static void
lock_member_spi(int64 member_id)
{
	Datum		arg = Int64GetDatum(member_id);

	execute(lock_plan, &arg, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		make_rows(&member_id, 1);
		execute(lock_plan, &arg, NULL, SPI_OK_SELECT);
	}
	holding_lxid = CSM_MY_LXID;
}

/* Every plan this file runs, prepared on first use. */
static void
prepare_plans(void)
{
	Oid			account_types[] = {INT8OID};
	Oid			account_by_external_types[] = {TEXTOID, TEXTOID};
	Oid			current_types[] = {INT8OID, INTERVALOID};
	Oid			candidates_types[] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, FLOAT8OID, INT8ARRAYOID};
	Oid			claim_types[] = {INT8OID, FLOAT8OID, TEXTOID, BOOLOID, FLOAT8OID, INT8OID};
	Oid			end_types[] = {INT8OID, INT8OID, TEXTOID};
	Oid			count_types[] = {INT8OID, FLOAT8OID, BOOLOID, INT8OID};
	Oid			record_types[] = {INT8OID, INT8OID, BOOLOID, FLOAT8OID, TEXTOID, INT8OID, TEXTOID, INT8OID};
	Oid			queue_types[] = {INT8OID, TEXTOID, TEXTOID, INT8OID};
	Oid			members_types[] = {INT8ARRAYOID};
	Oid			agent_candidates_types[] = {TEXTOID, INT8OID, TEXTARRAYOID, BOOLOID, INT4OID, INT8ARRAYOID};
	Oid			agent_recheck_types[] = {INT8OID, FLOAT8OID, TEXTOID, TEXTARRAYOID, BOOLOID, INT4OID, INT4OID, BOOLOID};

	static int	plans_on_citus = -1;
	bool		citus = csm_on_citus();

	/* The account plans differ on Citus: prepared again when that changed. */
	if (plans_on_citus != (int) citus)
	{
		if (account_plan != NULL)
			SPI_freeplan(account_plan);
		if (account_by_external_plan != NULL)
			SPI_freeplan(account_by_external_plan);
		account_plan = account_by_external_plan = NULL;
		plans_on_citus = (int) citus;
	}
	csm_prepare_routed(&account_plan, citus ? account_citus_sql : account_sql, 1, account_types);
	csm_prepare_routed(&account_by_external_plan,
					   citus ? account_by_external_citus_sql : account_by_external_sql, 2,
					   account_by_external_types);
	csm_prepare_routed(&facts_plan, facts_sql, 1, account_types);
	csm_prepare_routed(&current_plan, current_sql, 2, current_types);
	csm_prepare_routed(&candidates_plan, candidates_sql, 6, candidates_types);
	csm_prepare_routed(&recheck_plan, recheck_sql, 5, claim_types);
	csm_prepare_routed(&end_plan, end_sql, 3, end_types);
	csm_prepare_routed(&claim_plan, claim_sql, 6, claim_types);
	csm_prepare_routed(&claim_first_plan, claim_first_sql, 6, claim_types);
	csm_prepare_routed(&make_rows_plan, make_rows_sql, 1, members_types);
	csm_prepare_routed(&try_lock_plan, try_lock_sql, 1, account_types);
	csm_prepare_routed(&wait_row_plan, wait_row_sql, 1, account_types);
	csm_prepare_routed(&lock_plan, lock_sql, 1, account_types);
	csm_prepare_routed(&lock_all_plan, lock_all_sql, 1, members_types);
	csm_prepare_routed(&batch_plan, batch_sql, 0, NULL);
	csm_prepare_routed(&ownership_plan, ownership_sql, 0, NULL);
	csm_prepare_routed(&count_plan, count_sql, 4, count_types);
	csm_prepare_routed(&insert_plan, insert_sql, 8, record_types);
	csm_prepare_routed(&resolve_plan, resolve_sql, 1, record_types);
	csm_prepare_routed(&queue_plan, queue_sql, 4, queue_types);
	csm_prepare_routed(&agent_candidates_plan, agent_candidates_sql, 6, agent_candidates_types);
	csm_prepare_routed(&agent_try_lock_plan, agent_try_lock_sql, 8, agent_recheck_types);
	csm_prepare_routed(&agent_recheck_plan, agent_recheck_sql, 8, agent_recheck_types);
	csm_prepare_routed(&agent_lock_plan, agent_lock_sql, 1, account_types);
}

/*
 * Writes a new relationship, its audit row and, for a primary of an
 * account that may be waiting in the queue, the end of its wait.  rule may
 * be NULL; old_member 0 is none.
 */
static void
record_assignment(int64 account, int64 member, bool is_primary, float8 weight, const char *reason,
				  const Datum *rule, const char *action, int64 old_member, bool maybe_waiting)
{
	Datum		args[8] = {Int64GetDatum(account), Int64GetDatum(member), BoolGetDatum(is_primary),
		Float8GetDatum(weight), reason ? CStringGetTextDatum(reason) : (Datum) 0,
		rule ? *rule : (Datum) 0, CStringGetTextDatum(action), Int64GetDatum(old_member)};
	char		nulls[8] = {' ', ' ', ' ', ' ', reason ? ' ' : 'n', rule ? ' ' : 'n', ' ', old_member ? ' ' : 'n'};

	execute(insert_plan, args, nulls, SPI_OK_INSERT);
	if (is_primary && maybe_waiting)
		execute(resolve_plan, args, nulls, SPI_OK_UPDATE);
}

/*
 * Takes a member's lock (their csm_internal.member_load row) until the transaction
 * ends, waiting if need be.  Every assignment to a member by hand holds it
 * (after the account's lock: see the order at the top of this file), so
 * that no two sessions fill a member past capacity.
 */
void
lock_member(int64 member_id)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	prepare_plans();
	lock_member_spi(member_id);
	SPI_finish();
}

/* csm_internal._lock_member(member bigint): lock_member, for SQL. */
Datum
csm_lock_member(PG_FUNCTION_ARGS)
{
	lock_member(PG_GETARG_INT64(0));
	PG_RETURN_VOID();
}

/*
 * csm_internal._begin_batch(): takes the batch lock until the transaction ends; the
 * picks that follow lock all their candidates (pick_in_batch).  For a
 * transaction about to assign several accounts, after it has locked them.
 */
Datum
csm_begin_batch(PG_FUNCTION_ARGS)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	prepare_plans();
	execute(batch_plan, NULL, NULL, SPI_OK_SELECT);
	SPI_finish();
	batch_lxid = CSM_MY_LXID;
	PG_RETURN_VOID();
}

/*
 * Starts a relationship by hand or in a handoff, to a member whose lock
 * the caller holds: adds it to the member's counters and writes it with
 * its audit row.  rule may be NULL; old_member 0 is none.  Runs in the
 * caller's SPI connection.
 */
void
assign_start(int64 account, int64 member, bool is_primary, float8 weight, const char *reason, const Datum *rule,
			 const char *action, int64 old_member)
{
	Datum		count_args[4] = {Int64GetDatum(member), Float8GetDatum(weight), BoolGetDatum(is_primary),
	next_pick_seq()};

	check_weight(weight);
	prepare_plans();
	execute(count_plan, count_args, NULL, SPI_OK_INSERT);
	record_assignment(account, member, is_primary, weight, reason, rule, action, old_member, true);
}

/*
 * Ends a current relationship (csm_internal._end_assignment), in the caller's SPI
 * connection.
 */
void
assign_end(int64 account, int64 assignment, const char *why)
{
	Datum		args[3] = {Int64GetDatum(account), Int64GetDatum(assignment), CStringGetTextDatum(why)};

	prepare_plans();
	execute(end_plan, args, NULL, SPI_OK_SELECT);
}

/*
 * csm_internal._start_assignment(account, member, is_primary, weight, reason, rule,
 * action, old_member): assign_start, from SQL.
 */
Datum
csm_start_assignment(PG_FUNCTION_ARGS)
{
	int64		account;
	int64		member;
	bool		is_primary;
	float8		weight;
	char	   *reason;
	Datum		rule;
	char	   *action;
	int64		old_member;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("account, member, is_primary, weight and action must not be NULL")));
	account = PG_GETARG_INT64(0);
	member = PG_GETARG_INT64(1);
	is_primary = PG_GETARG_BOOL(2);
	weight = PG_GETARG_FLOAT8(3);
	reason = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	rule = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	action = text_to_cstring(PG_GETARG_TEXT_PP(6));
	old_member = PG_ARGISNULL(7) ? 0 : PG_GETARG_INT64(7);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	assign_start(account, member, is_primary, weight, reason, PG_ARGISNULL(5) ? NULL : &rule, action, old_member);
	SPI_finish();
	PG_RETURN_VOID();
}

/* A pick on its own, in an SPI connection of its own: the member locked, or 0. */
static int64
pick_alone(const Pick *pick)
{
	uint64		ncandidates = 0;
	char	   *handle;
	int64		picked;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	prepare_plans();
	picked = pick_member(pick, NULL, &ncandidates, &handle);
	SPI_finish();
	return picked;
}

/*
 * csm_internal._pick_member(candidates bigint[], strategy text, weight float8):
 * picks and locks the member who gets the next account among those listed
 * (round_robin or least_loaded); NULL when none has room.
 */
Datum
csm_pick_member(PG_FUNCTION_ARGS)
{
	/* no target: the listed members, with no skills required */
	Pick		pick = {
		.args = {(Datum) 0, (Datum) 0, PointerGetDatum(construct_empty_array(TEXTOID)),
		PG_GETARG_DATUM(1), PG_GETARG_DATUM(2), PG_GETARG_DATUM(0)},
		.nulls = {'n', 'n', ' ', ' ', ' ', ' '},
		.weight = PG_GETARG_FLOAT8(2),
		.claim_primary = -1,
	};
	int64		picked;

	check_weight(pick.weight);
	picked = pick_alone(&pick);
	if (picked == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(picked);
}

/*
 * csm_internal._pick_agent_locked(team, except_member, skills, balanced,
 * conversation_limit, team_full, per_agent_limit, count_pending, patient):
 * picks and locks the agent of a team who gets the next conversation, as
 * accounts are picked (see the top of this file); NULL when nobody is
 * available now.
 */
Datum
csm_pick_agent_locked(PG_FUNCTION_ARGS)
{
	Pick		pick = {.claim_primary = -1, .agents = true};
	int64		picked;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(5) || PG_ARGISNULL(7)
		|| PG_ARGISNULL(8))
		PG_RETURN_NULL();
	for (int i = 0; i < 6; i++)
	{
		pick.args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		pick.nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	memset(pick.recheck_nulls, ' ', sizeof(pick.recheck_nulls));
	pick.recheck[2] = PG_GETARG_DATUM(0);
	pick.recheck[3] = PG_GETARG_DATUM(2);
	pick.recheck[4] = PG_GETARG_DATUM(3);
	pick.recheck[5] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	pick.recheck_nulls[5] = PG_ARGISNULL(4) ? 'n' : ' ';
	pick.recheck[6] = PG_ARGISNULL(6) ? (Datum) 0 : PG_GETARG_DATUM(6);
	pick.recheck_nulls[6] = PG_ARGISNULL(6) ? 'n' : ' ';
	pick.recheck[7] = PG_GETARG_DATUM(7);
	pick.patient = PG_GETARG_BOOL(8);
	picked = pick_alone(&pick);
	if (picked == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(picked);
}

/* Reads the account the last account query locked; false when there was none. */
static bool
read_account(Account *account)
{
	HeapTuple	tup;
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;

	if (SPI_processed != 1)
		return false;
	tup = SPI_tuptable->vals[0];
	account->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	account->org = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
	account->weight = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
	check_weight(account->weight);
	return true;
}

/*
 * On Citus, takes the lock every change of owners takes there first
 * (csm_internal._lock_ownership()), in the caller's SPI connection; nothing on one
 * node.
 */
void
assign_lock_ownership(void)
{
	prepare_plans();
	if (csm_on_citus())
		execute(ownership_plan, NULL, NULL, SPI_OK_SELECT);
}

/*
 * Locks an account (by account_id) against other changes of its owners
 * and reads it, in the caller's SPI connection; false when there is none.
 */
bool
assign_lock_account(int64 id, Account *account)
{
	Datum		arg = Int64GetDatum(id);

	assign_lock_ownership();
	execute(account_plan, &arg, NULL, SPI_OK_SELECT);
	return read_account(account);
}

/*
 * Applies one rule to a locked account: continuity first, then a member
 * picked by the rule's strategy, or the queue.  Returns the
 * csm.assignment_result, built in the caller's memory context.
 */
static Datum
apply_rule(FunctionCallInfo fcinfo, MemoryContext caller, const Account *account, const Rule *rule)
{
	Datum		args[2] = {Int64GetDatum(account->id), rule->min_tenure};
	bool		isnull;
	int64		primary_id = 0;
	int64		primary_member = 0;
	bool		primary_young = false;
	bool		waiting = false;
	int64	   *related;
	int			nrelated;
	Pick		pick = {
		.args = {rule->target_kind, rule->target, rule->required_skills, CStringGetTextDatum(rule->strategy),
		Float8GetDatum(account->weight), (Datum) 0},
		.nulls = {' ', ' ', ' ', ' ', ' ', 'n'},	/* no member list */
		.weight = account->weight,
		.claim_primary = rule->is_primary,
	};
	SPITupleTable *candidates;
	uint64		ncandidates;
	int64		picked;
	char	   *picked_handle = NULL;
	char	   *reason;

	/* Who is related to the account now; continuity for primaries. */
	execute(current_plan, args, NULL, SPI_OK_SELECT);
	related = palloc(sizeof(int64) * SPI_processed);
	nrelated = 0;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		none;
		int64		member = DatumGetInt64(SPI_getbinval(tup, desc, 2, &none));

		waiting = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		if (none)
			continue;
		related[nrelated++] = member;
		if (DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull)))
		{
			primary_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			primary_member = member;
			primary_young = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		}
	}
	pick.exclude = related;
	pick.nexclude = nrelated;

	execute(candidates_plan, pick.args, pick.nulls, SPI_OK_SELECT);
	candidates = SPI_tuptable;
	ncandidates = SPI_processed;

	/* Continuity: a primary who fits the rule stays; a young one stays regardless. */
	for (uint64 i = 0; i < ncandidates; i++)
	{
		int64		member = DatumGetInt64(SPI_getbinval(candidates->vals[i], candidates->tupdesc, 1, &isnull));

		for (int r = 0; r < nrelated; r++)
			if (related[r] == member && (!rule->is_primary || member == primary_member))
				return assign_result_row(fcinfo, caller, true,
										 SPI_getvalue(candidates->vals[i], candidates->tupdesc, 2),
										 rule->is_primary, account->org,
										 psprintf("already %s under rule %s",
												  rule->is_primary ? "owned" : "assigned", rule->name));
	}
	if (rule->is_primary && primary_id != 0 && primary_young)
		return assign_result_row(fcinfo, caller, false, NULL, true, account->org,
								 psprintf("continuity: the current primary is within its minimum tenure (rule %s)",
										  rule->name));

	/* a new primary ends the current one: their lock first, while this holds no other member's */
	if (rule->is_primary && primary_id != 0)
		lock_member_spi(primary_member);
	picked = pick_member(&pick, candidates, &ncandidates, &picked_handle);
	if (picked == 0)
	{
		char	   *message = ncandidates > 0
			? psprintf("rule %s: every member of %s %s is at capacity", rule->name,
					   TextDatumGetCString(rule->target_kind), TextDatumGetCString(rule->target))
			: psprintf("rule %s: no active member matches %s %s", rule->name,
					   TextDatumGetCString(rule->target_kind), TextDatumGetCString(rule->target));

		if (rule->is_primary && primary_id == 0)
		{
			Datum		qargs[4] = {Int64GetDatum(account->id),
				CStringGetTextDatum(ncandidates > 0 ? "no_capacity" : "no_member"),
			CStringGetTextDatum(message), rule->rule_id};
			char		qnulls[4] = {' ', ' ', ' ', rule->rule_id_null ? 'n' : ' '};

			execute(queue_plan, qargs, qnulls, SPI_OK_SELECT);
		}
		return assign_result_row(fcinfo, caller, false, NULL, rule->is_primary, account->org, message);
	}

	reason = psprintf("rule %s", rule->name);
	if (rule->is_primary && primary_id != 0)
		assign_end(account->id, primary_id, reason);
	record_assignment(account->id, picked, rule->is_primary, account->weight, reason,
					  rule->rule_id_null ? NULL : &rule->rule_id, "assign", rule->is_primary ? primary_member : 0,
					  waiting);
	return assign_result_row(fcinfo, caller, true, picked_handle, rule->is_primary, account->org,
							 psprintf("%s by rule %s (%s)", rule->is_primary ? "primary" : "secondary",
									  rule->name, rule->strategy));
}

/* csm_internal._apply_rule(account bigint, rule csm.routing_rule): the hook csm.apply_routing runs. */
Datum
csm_apply_rule(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	int64		id = PG_GETARG_INT64(0);
	Rule		rule;
	Account		account;
	Datum		result;

	read_rule(PG_GETARG_HEAPTUPLEHEADER(1), &rule);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	if (!assign_lock_account(id, &account))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("account %lld does not exist", (long long) id)));
	result = apply_rule(fcinfo, caller, &account, &rule);
	SPI_finish();
	return result;
}

/*
 * csm.csm_auto_assign(org_user_id text, pool text): the first enabled rule
 * whose condition matches (only rules targeting team pool, when given;
 * a pool without rules gets a least-loaded primary among its members), or
 * the queue.  In C because it is what application code calls per account.
 */
Datum
csm_auto_assign(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		args[2];
	char		nulls[2] = {' ', PG_ARGISNULL(1) ? 'n' : ' '};
	Account		account;
	bool		isnull;
	Datum	   *rules;
	int			nrules;
	Datum		facts = (Datum) 0;
	bool		facts_read = false;
	bool		facts_null = true;
	Datum		result;

	csm_require_level("operate");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("org_user_id must not be NULL")));
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	csm_require_visible(args[0]);
	assign_lock_ownership();
	execute(account_by_external_plan, args, nulls, SPI_OK_SELECT);
	if (!read_account(&account))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("account \"%s\" does not exist", TextDatumGetCString(args[0])),
				 errhint("See csm.account for the accounts.")));
	{
		ArrayType  *array = DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4,
															 &isnull));

		deconstruct_array(array, ARR_ELEMTYPE(array), -1, false, TYPALIGN_DOUBLE, &rules, NULL, &nrules);
	}
	for (int i = 0; i < nrules; i++)
	{
		HeapTupleHeader row = DatumGetHeapTupleHeader(rules[i]);
		Datum		condition = GetAttributeByName(row, "condition", &isnull);
		Rule		rule;

		if (!isnull)
		{
			if (!facts_read)
			{
				Datum		id = Int64GetDatum(account.id);

				execute(facts_plan, &id, NULL, SPI_OK_SELECT);
				facts = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &facts_null);
				facts_read = true;
			}
			if (facts_null || !DatumGetBool(DirectFunctionCall2(csm_condition_matches, condition, facts)))
				continue;
		}
		read_rule(row, &rule);
		result = apply_rule(fcinfo, caller, &account, &rule);
		SPI_finish();
		return result;
	}
	if (nulls[1] == ' ')
	{
		Rule		rule = {
			.rule_id_null = true,
			.name = psprintf("pool %s", TextDatumGetCString(args[1])),
			.target_kind = CStringGetTextDatum("team"),
			.target = args[1],
			.required_skills = PointerGetDatum(construct_empty_array(TEXTOID)),
			.strategy = "least_loaded",
			.is_primary = true,
			.min_tenure = DirectFunctionCall3(interval_in, CStringGetDatum("0"), ObjectIdGetDatum(InvalidOid),
											  Int32GetDatum(-1)),
		};

		result = apply_rule(fcinfo, caller, &account, &rule);
	}
	else
	{
		Datum		qargs[4] = {Int64GetDatum(account.id), CStringGetTextDatum("no_rule"),
		CStringGetTextDatum("no routing rule matches"), (Datum) 0};
		char		qnulls[4] = {' ', ' ', ' ', 'n'};

		execute(queue_plan, qargs, qnulls, SPI_OK_SELECT);
		result = assign_result_row(fcinfo, caller, false, NULL, true, account.org, "no routing rule matches");
	}
	SPI_finish();
	return result;
}
