/*
 * usage.c: rolls tracked usage tables up into csm's usage counters.
 *
 * csm.track_usage() attaches csm_internal._usage_rollup() to a user's table as AFTER
 * ... FOR EACH STATEMENT triggers with transition tables.  Each firing reads
 * its transition tuplestore directly, aggregates it in memory by account,
 * UTC day, user and feature, and appends one delta row per group to
 * csm_internal.usage_delta with a single INSERT (a bulk statement's groups go
 * straight to the counters instead).  The SQL work per statement grows
 * with the number of groups, not the number of rows.
 *
 * Appending never touches a shared row, so sessions writing the same hot
 * account never wait for each other.  csm.compact_usage() folds the deltas
 * into the counters, one session at a time; this backend calls it itself
 * once it has appended csm.compact_threshold deltas.  Readers add pending
 * deltas to the counters, so totals are exact at every moment.  Nothing
 * assumes a trigger fires once per statement: each firing adds exactly the
 * rows it was handed.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "csm.h"
#include "usage_citus.h"

PG_FUNCTION_INFO_V1(csm_usage_rollup);
PG_FUNCTION_INFO_V1(csm_usage_rows);
PG_FUNCTION_INFO_V1(csm_usage_ddl);

/* A string seen in a batch: an account key, a user or a feature. */
typedef struct StrKey
{
	const char *data;
	int			len;
} StrKey;

typedef struct StrEntry
{
	StrKey		key;
	uint32		hash;
	int32		id;
	char		status;
} StrEntry;

#define SH_PREFIX strtab
#define SH_ELEMENT_TYPE StrEntry
#define SH_KEY_TYPE StrKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) (k).data, (k).len)
#define SH_EQUAL(tb, a, b) ((a).len == (b).len && memcmp((a).data, (b).data, (a).len) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* Interned strings with dense ids, so groups can be keyed by integers. */
typedef struct StrSet
{
	MemoryContext cxt;			/* holds the copies; rows are read in a shorter one */
	strtab_hash *hash;
	StrKey	   *keys;			/* id -> string */
	int			count;
	int			allocated;
} StrSet;

/* Rows are grouped by account, day, user and feature; the fold derives the rest. */
typedef struct GroupKey
{
	int32		account;		/* id in UsageBatch.accounts */
	int32		day;			/* DateADT */
	int32		user;			/* id in UsageBatch.items, or -1 */
	int32		feature;		/* id in UsageBatch.items, or -1 */
} GroupKey;

/* four integers mixed inline: a row costs up to four of these */
static inline uint32
group_hash(GroupKey k)
{
	uint32		h = murmurhash32((uint32) k.account);

	h = hash_combine(h, murmurhash32((uint32) k.day));
	h = hash_combine(h, murmurhash32((uint32) k.user));
	return hash_combine(h, murmurhash32((uint32) k.feature));
}

typedef struct GroupEntry
{
	GroupKey	key;
	int64		events;
	int64		active;			/* account-day rollups only: users newly active minus newly inactive */
	bool		counted;		/* account-day rollups only: its counter row exists */
	char		status;
} GroupEntry;

#define SH_PREFIX grouptab
#define SH_ELEMENT_TYPE GroupEntry
#define SH_KEY_TYPE GroupKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) group_hash(k)
#define SH_EQUAL(tb, a, b) ((a).account == (b).account && (a).day == (b).day && (a).user == (b).user && (a).feature == (b).feature)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* One tracked column, found in the transition tuple descriptor. */
typedef struct TrackedColumn
{
	AttrNumber	attnum;			/* 0 when the source has no such column */
	Oid			type;
	bool		is_text;		/* text or varchar: used without conversion */
	bool		is_bpchar;		/* char(n): trailing blanks dropped, as its cast to text does */
	FmgrInfo	output;
} TrackedColumn;

typedef struct TrackedSource
{
	int32		source_id;
	bool		create_accounts;	/* false: unknown keys wait in csm_internal.usage_pending */
	bool		schema_0_1_0;	/* csm 0.1.0's tables: append deltas only */
	TrackedColumn account;
	TrackedColumn time;
	TrackedColumn event;
	TrackedColumn user;
} TrackedSource;

typedef struct UsageBatch
{
	StrSet		accounts;
	StrSet		items;
	grouptab_hash *groups;
	int64	   *account_ids;	/* accounts id -> csm.account.account_id */
	/* a bulk insert whose rows go straight to the counters (see add_to_group) */
	bool		may_roll_up;
	/* its rollups, once it has as many groups as a fold: per account-day, user-day and feature */
	grouptab_hash *days;
	grouptab_hash *users;
	grouptab_hash *features;
} UsageBatch;

/* Plans are prepared once per backend and kept. */
static SPIPlanPtr lookup_plan = NULL;
static SPIPlanPtr create_plan = NULL;
static SPIPlanPtr append_plans[2] = {NULL, NULL};	/* as append_sql */
static SPIPlanPtr append_one_plans[2] = {NULL, NULL};
static SPIPlanPtr compact_plan = NULL;
static SPIPlanPtr fold_lock_plan = NULL;
static SPIPlanPtr counted_plan = NULL;
static SPIPlanPtr user_day_plans[2] = {NULL, NULL};	/* insert, upsert */
static SPIPlanPtr counter_plans[2] = {NULL, NULL};
static SPIPlanPtr feature_plans[2] = {NULL, NULL};
static SPIPlanPtr truncate_plan = NULL;
static SPIPlanPtr pending_plan = NULL;
static SPIPlanPtr source_plan = NULL;

/* Deltas this backend appended since it last folded. */
static int64 appended_since_fold = 0;

/*
 * The statements run as the function's owner under the caller's search_path,
 * so every name and operator in them is schema-qualified.
 */
static const char *const lookup_sql =
"SELECT external_id, account_id FROM csm.account WHERE external_id OPERATOR(pg_catalog.=) ANY ($1)";

static const char *const create_sql =
"INSERT INTO csm.account (external_id) SELECT k FROM pg_catalog.unnest($1) AS k "
"ON CONFLICT (external_id) DO NOTHING";

/*
 * The rows of parallel arrays.  Set-returning functions in the select list
 * run in step and stream their rows; in FROM (ROWS FROM) each would first be
 * materialized into a tuplestore of its own, which made these inserts two to
 * three times slower.
 */
#define UNNEST_SIX \
"SELECT pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), " \
"pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6)"

/* [1]: csm 0.1.0's tables, where usage_delta was still in schema csm */
#define APPEND_INTO(schema) \
"INSERT INTO " schema ".usage_delta (account_id, source_id, day, user_key, feature, events) "
static const char *const append_sql[2] = {
	APPEND_INTO("csm_internal")
	UNNEST_SIX,
	APPEND_INTO("csm")
	UNNEST_SIX,
};

static const char *const append_one_sql[2] = {
	APPEND_INTO("csm_internal") "VALUES ($1, $2, $3, $4, $5, $6)",
	APPEND_INTO("csm") "VALUES ($1, $2, $3, $4, $5, $6)",
};

static const char *const pending_sql =
"INSERT INTO csm_internal.usage_pending (account_key, source_id, day, user_key, feature, events) "
UNNEST_SIX;

static const char *const compact_sql = "SELECT csm.compact_usage()";

/*
 * A statement with as many groups as a fold adds them to the counters
 * itself, under the fold lock like a fold, with one upsert per rollup whose
 * rows the trigger has already summed and sorted.  The user-days come back
 * with their new counts, which tell which users became active or inactive.
 */
static const char *const fold_lock_sql =
"SELECT only_row FROM csm_internal.usage_fold_lock FOR UPDATE";

/* the batch's account-days that have a counter row */
static const char *const counted_sql =
"SELECT c.account_id, c.day FROM (SELECT pg_catalog.unnest($1) AS a, pg_catalog.unnest($3) AS d) AS t "
"JOIN csm_internal.usage_counter c ON c.account_id OPERATOR(pg_catalog.=) t.a "
"AND c.source_id OPERATOR(pg_catalog.=) $2 AND c.day OPERATOR(pg_catalog.=) t.d";

#define ROLLUP_ROWS(a, b, c, d) \
"SELECT t.a, $2, t.d, t." a ", t." b " FROM (SELECT pg_catalog.unnest($1) AS a, pg_catalog.unnest($3) AS d, " \
"pg_catalog.unnest($4) AS " c ", pg_catalog.unnest($5) AS " d ") AS t"

static const char *const user_day_insert_sql =
"INSERT INTO csm_internal.usage_user_day (account_id, source_id, day, user_key, events) "
ROLLUP_ROWS("k", "n", "k", "n");

static const char *const user_day_upsert_sql =
"INSERT INTO csm_internal.usage_user_day AS u (account_id, source_id, day, user_key, events) "
ROLLUP_ROWS("k", "n", "k", "n") " "
"ON CONFLICT (account_id, source_id, day, user_key) "
"DO UPDATE SET events = u.events OPERATOR(pg_catalog.+) excluded.events "
"RETURNING u.account_id, u.day, u.user_key, u.events";

static const char *const counter_insert_sql =
"INSERT INTO csm_internal.usage_counter (account_id, source_id, day, events, active_users) "
ROLLUP_ROWS("n", "u", "n", "u");

static const char *const counter_upsert_sql =
"INSERT INTO csm_internal.usage_counter AS c (account_id, source_id, day, events, active_users) "
ROLLUP_ROWS("n", "u", "n", "u") " "
"ON CONFLICT (account_id, source_id, day) "
"DO UPDATE SET events = c.events OPERATOR(pg_catalog.+) excluded.events, "
"              active_users = c.active_users OPERATOR(pg_catalog.+) excluded.active_users";

static const char *const feature_insert_sql =
"INSERT INTO csm_internal.usage_feature_counter (account_id, source_id, day, feature, events) "
ROLLUP_ROWS("k", "n", "k", "n");

static const char *const feature_upsert_sql =
"INSERT INTO csm_internal.usage_feature_counter AS f (account_id, source_id, day, feature, events) "
ROLLUP_ROWS("k", "n", "k", "n") " "
"ON CONFLICT (account_id, source_id, day, feature) "
"DO UPDATE SET events = f.events OPERATOR(pg_catalog.+) excluded.events";

static const char *const truncate_sql = "SELECT csm_internal._clear_usage($1)";

static const char *const source_sql =
"SELECT relation::pg_catalog.oid FROM csm.usage_source WHERE source_id OPERATOR(pg_catalog.=) $1 AND dropped_at IS NULL";

static int32
strset_intern(StrSet *set, const char *data, int len)
{
	StrKey		key = {data, len};
	bool		found;
	StrEntry   *entry = strtab_insert(set->hash, key, &found);

	if (!found)
	{
		char	   *copy = MemoryContextAlloc(set->cxt, len + 1);

		memcpy(copy, data, len);
		copy[len] = '\0';
		entry->key.data = copy;
		if (set->count == set->allocated)
		{
			set->allocated *= 2;
			set->keys = repalloc(set->keys, set->allocated * sizeof(StrKey));
		}
		entry->id = set->count;
		set->keys[set->count++] = entry->key;
	}
	return entry->id;
}

static void
strset_init(StrSet *set, MemoryContext cxt)
{
	set->cxt = cxt;
	set->hash = strtab_create(cxt, 16, NULL);
	set->allocated = 16;
	set->count = 0;
	set->keys = MemoryContextAlloc(cxt, set->allocated * sizeof(StrKey));
}

static GroupEntry *
add_rollup(grouptab_hash *tab, int32 account, int32 day, int32 user, int32 feature, int64 events)
{
	GroupKey	key = {account, day, user, feature};
	bool		found;
	GroupEntry *entry = grouptab_insert(tab, key, &found);

	if (!found)
	{
		entry->events = entry->active = 0;
		entry->counted = false;
	}
	entry->events += events;
	return entry;
}

/* Adds a row's events to the rollups of its account-day, user-day and feature. */
static void
add_to_rollups(UsageBatch *batch, int32 account, int32 day, int32 user, int32 feature, int64 events)
{
	add_rollup(batch->days, account, day, -1, -1, events);
	if (user >= 0)
		add_rollup(batch->users, account, day, user, -1, events);
	if (feature >= 0)
		add_rollup(batch->features, account, day, -1, feature, events);
}

/* Sums the batch's groups so far into its rollups, which take every row from here on. */
static void
roll_up_groups(UsageBatch *batch, MemoryContext cxt)
{
	grouptab_iterator it;
	GroupEntry *entry;

	batch->days = grouptab_create(cxt, batch->groups->members, NULL);
	batch->users = grouptab_create(cxt, batch->groups->members, NULL);
	batch->features = grouptab_create(cxt, batch->groups->members, NULL);
	grouptab_start_iterate(batch->groups, &it);
	while ((entry = grouptab_iterate(batch->groups, &it)) != NULL)
	{
		/* groups of accounts that do not exist wait apart; groups that cancel out add nothing */
		if (entry->events == 0 || (batch->account_ids != NULL && batch->account_ids[entry->key.account] == 0))
			continue;
		add_to_rollups(batch, entry->key.account, entry->key.day, entry->key.user, entry->key.feature,
					   entry->events);
	}
}

/*
 * Adds a row's events to its group (account, day, user, feature), which is
 * what a delta keeps.  A bulk insert that reaches as many groups as a fold
 * (may_roll_up: every account is created, no row cancels another, under
 * READ COMMITTED) will be added to the counters at once (write_deltas), so
 * from then on its rows go straight to the three rollups, which are far
 * fewer than the groups when users make many events a day.
 */
static void
add_to_group(UsageBatch *batch, int32 account, int32 day, int32 user, int32 feature, int64 delta)
{
	GroupKey	key = {account, day, user, feature};
	bool		found;
	GroupEntry *entry;

	if (batch->days != NULL)
	{
		add_to_rollups(batch, account, day, user, feature, delta);
		return;
	}
	entry = grouptab_insert(batch->groups, key, &found);
	entry->events = found ? entry->events + delta : delta;
	if (batch->may_roll_up && batch->groups->members >= (uint32) csm_compact_threshold)
		roll_up_groups(batch, batch->accounts.cxt);
}

/*
 * Finds a tracked column by name and checks that its type is supported.
 * Only built-in types are: their output functions are PostgreSQL's own, so
 * reading a value runs no user code whoever reads it.  A domain is read as
 * its base type (a domain has its base type's output function, and casts to
 * or from a domain are never applied), so a domain over a supported type is
 * supported.  Called at every use, since ALTER TABLE can change a type.
 */
static void
find_column(TrackedColumn *col, TupleDesc desc, const char *name, const char *role, const Oid *allowed)
{
	Oid			base;

	memset(col, 0, sizeof(*col));
	if (name[0] == '\0')
		return;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
		{
			col->attnum = att->attnum;
			col->type = att->atttypid;
			break;
		}
	}
	if (col->attnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("tracked %s column \"%s\" no longer exists", role, name),
				 errhint("Call csm.untrack_usage() and csm.track_usage() again with the new columns.")));
	base = getBaseType(col->type);
	for (const Oid *t = allowed; *t != InvalidOid; t++)
		if (*t == base)
		{
			Oid			out;
			bool		varlena;

			/* text is used as it is; only other types need their output function */
			col->type = base;
			col->is_text = (base == TEXTOID || base == VARCHAROID || base == BPCHAROID);
			col->is_bpchar = (base == BPCHAROID);
			if (!col->is_text)
			{
				getTypeOutputInfo(base, &out, &varlena);
				fmgr_info(out, &col->output);
			}
			return;
		}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("tracked %s column \"%s\" has unsupported type %s", role, name, format_type_be(col->type)),
			 errhint("Call csm.untrack_usage() and csm.track_usage() again after changing the column type.")));
}

static const Oid key_types[] = {TEXTOID, VARCHAROID, BPCHAROID, INT2OID, INT4OID, INT8OID, UUIDOID, InvalidOid};
static const Oid time_types[] = {TIMESTAMPTZOID, TIMESTAMPOID, DATEOID, InvalidOid};
static const Oid text_types[] = {TEXTOID, VARCHAROID, InvalidOid};

/*
 * Keys end up in btree indexes, which cannot hold arbitrarily long values;
 * refusing them here keeps a too-long key from poisoning a later fold.
 */
#define MAX_KEY_BYTES 1024

/* The column's value as bytes: text as stored, anything else through its output function. */
static StrKey
column_text(const TrackedColumn *col, Datum value, const char *role)
{
	StrKey		key;

	if (col->is_text)
	{
		text	   *t = DatumGetTextPP(value);

		key.data = VARDATA_ANY(t);
		key.len = VARSIZE_ANY_EXHDR(t);
		while (col->is_bpchar && key.len > 0 && key.data[key.len - 1] == ' ')
			key.len--;
	}
	else
	{
		key.data = OutputFunctionCall((FmgrInfo *) &col->output, value);
		key.len = strlen(key.data);
	}
	if (key.len > MAX_KEY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("tracked %s value is %d bytes long, more than the %d csm accepts", role, key.len, MAX_KEY_BYTES),
				 errhint("Track a shorter identifier, such as an id or a hash of this value.")));
	return key;
}

/* The UTC day of a time value; false for infinite values, which have none. */
static bool
column_day(const TrackedColumn *col, Datum value, int32 *day)
{
	int64		usecs;

	if (col->type == DATEOID)
	{
		DateADT		d = DatumGetDateADT(value);

		if (DATE_NOT_FINITE(d))
			return false;
		*day = d;
		return true;
	}
	/* timestamptz counts from UTC midnight; timestamp from local midnight */
	usecs = DatumGetInt64(value);
	if (TIMESTAMP_NOT_FINITE(usecs))
		return false;
	*day = (int32) (usecs >= 0 ? usecs / USECS_PER_DAY : -((-usecs + USECS_PER_DAY - 1) / USECS_PER_DAY));
	return true;
}

/*
 * Adds every row of a transition table to the batch with the given sign.
 * Rows with no account or time, or an infinite time, are not usage and are
 * skipped; backfill_usage() skips the same rows.
 */
static void
accumulate(UsageBatch *batch, const TrackedSource *src, Tuplestorestate *rows, TupleDesc desc,
		   int64 sign, MemoryContext row_cxt)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);

	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		MemoryContext old;
		bool		isnull;
		Datum		value;
		int32		account;
		int32		day;
		int32		user = -1;
		int32		feature = -1;
		StrKey		key;

		value = slot_getattr(slot, src->time.attnum, &isnull);
		if (isnull || !column_day(&src->time, value, &day))
			continue;
		value = slot_getattr(slot, src->account.attnum, &isnull);
		if (isnull)
			continue;

		old = MemoryContextSwitchTo(row_cxt);
		key = column_text(&src->account, value, "account");
		account = strset_intern(&batch->accounts, key.data, key.len);
		if (src->user.attnum != 0)
		{
			value = slot_getattr(slot, src->user.attnum, &isnull);
			if (!isnull)
			{
				key = column_text(&src->user, value, "user");
				user = strset_intern(&batch->items, key.data, key.len);
			}
		}
		if (src->event.attnum != 0)
		{
			value = slot_getattr(slot, src->event.attnum, &isnull);
			if (!isnull)
			{
				key = column_text(&src->event, value, "event");
				feature = strset_intern(&batch->items, key.data, key.len);
			}
		}
		MemoryContextSwitchTo(old);
		add_to_group(batch, account, day, user, feature, sign);
		MemoryContextReset(row_cxt);
	}
	ExecDropSingleTupleTableSlot(slot);
}

static Datum
strings_to_array(const StrKey *const *keys, int n)
{
	Datum	   *elems = palloc(Max(n, 1) * sizeof(Datum));

	for (int i = 0; i < n; i++)
		elems[i] = PointerGetDatum(cstring_to_text_with_len(keys[i]->data, keys[i]->len));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static int
compare_strkey(const StrKey *a, const StrKey *b)
{
	int			c = memcmp(a->data, b->data, Min(a->len, b->len));

	return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

static int
compare_strkey_ptr(const void *a, const void *b)
{
	return compare_strkey(*(const StrKey *const *) a, *(const StrKey *const *) b);
}

/* Reads account_id for the given keys into batch->account_ids; returns how many were found. */
static int
lookup_accounts(UsageBatch *batch, const StrKey *const *keys, int n)
{
	Oid			argtype = TEXTARRAYOID;
	Datum		arg = strings_to_array(keys, n);
	int			found = 0;

	csm_prepare_once(&lookup_plan, lookup_sql, 1, &argtype);
	if (SPI_execute_plan(lookup_plan, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: account lookup failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		text	   *ext = DatumGetTextPP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		StrKey		key = {VARDATA_ANY(ext), VARSIZE_ANY_EXHDR(ext)};
		StrEntry   *entry = strtab_lookup(batch->accounts.hash, key);

		if (entry == NULL)
			continue;
		batch->account_ids[entry->id] = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		account_cache_put(key.data, key.len, batch->account_ids[entry->id]);
		found++;
	}
	return found;
}

/*
 * Resolves every account key: from this backend's cache, else by lookup,
 * creating the accounts seen for the first time when create is true (else
 * their account_ids stay 0).
 */
static void
resolve_accounts(UsageBatch *batch, bool create)
{
	int			n = batch->accounts.count;
	const StrKey **keys = palloc(Max(n, 1) * sizeof(StrKey *));
	int			missing = 0;

	int			uncached = 0;

	batch->account_ids = palloc(Max(n, 1) * sizeof(int64));
	for (int i = 0; i < n; i++)
	{
		const StrKey *key = &batch->accounts.keys[i];

		batch->account_ids[i] = account_cache_get(key->data, key->len);
		if (batch->account_ids[i] == 0)
			keys[uncached++] = key;
	}
	if (uncached == 0 || lookup_accounts(batch, keys, uncached) == uncached || !create)
		return;

	for (int i = 0; i < n; i++)
		if (batch->account_ids[i] == 0)
			keys[missing++] = &batch->accounts.keys[i];
	/* one order for every session, so concurrent creators cannot deadlock */
	qsort(keys, missing, sizeof(StrKey *), compare_strkey_ptr);
	{
		Oid			argtype = TEXTARRAYOID;
		Datum		arg = strings_to_array(keys, missing);

		csm_prepare_once(&create_plan, create_sql, 1, &argtype);
		if (SPI_execute_plan(create_plan, &arg, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "csm: account creation failed");
	}
	if (lookup_accounts(batch, keys, missing) != missing)
		elog(ERROR, "csm: an account disappeared while its usage was rolled up");
}

/* An item (user or feature) as text, or a NULL for -1. */
static Datum
item_datum(const UsageBatch *batch, int32 item, bool *isnull)
{
	*isnull = item < 0;
	if (*isnull)
		return (Datum) 0;
	return PointerGetDatum(cstring_to_text_with_len(batch->items.keys[item].data, batch->items.keys[item].len));
}

static Datum
nullable_text_array(Datum *values, bool *nulls, int n)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The groups of a batch that are to be written, column by column in the
 * order of the statements' parameters: account, source, day, user, feature,
 * events.
 */
typedef struct GroupColumns
{
	int			n;
	Datum	   *accounts;		/* account_id, or for pending the key's text */
	Datum	   *sources;
	Datum	   *days;
	Datum	   *users;
	bool	   *user_nulls;
	Datum	   *features;
	bool	   *feature_nulls;
	Datum	   *events;
} GroupColumns;

/*
 * Collects the groups whose account exists (by account_id) or, with
 * pending, those whose account does not (by the account key's text).  Rows
 * that cancel out (an UPDATE that moved nothing) change nothing and are
 * left out.
 */
static void
collect_groups(UsageBatch *batch, const TrackedSource *src, bool pending, GroupColumns *cols)
{
	int			max = Max(batch->groups->members, 1);
	int			n = 0;
	grouptab_iterator it;
	GroupEntry *entry;

	cols->accounts = palloc(max * sizeof(Datum));
	cols->sources = palloc(max * sizeof(Datum));
	cols->days = palloc(max * sizeof(Datum));
	cols->users = palloc(max * sizeof(Datum));
	cols->user_nulls = palloc(max * sizeof(bool));
	cols->features = palloc(max * sizeof(Datum));
	cols->feature_nulls = palloc(max * sizeof(bool));
	cols->events = palloc(max * sizeof(Datum));

	grouptab_start_iterate(batch->groups, &it);
	while ((entry = grouptab_iterate(batch->groups, &it)) != NULL)
	{
		int64		account_id = batch->account_ids[entry->key.account];

		if (entry->events == 0 || (account_id == 0) != pending)
			continue;
		if (pending)
		{
			const StrKey *key = &batch->accounts.keys[entry->key.account];

			cols->accounts[n] = PointerGetDatum(cstring_to_text_with_len(key->data, key->len));
		}
		else
			cols->accounts[n] = Int64GetDatum(account_id);
		cols->sources[n] = Int32GetDatum(src->source_id);
		cols->days[n] = DateADTGetDatum(entry->key.day);
		cols->users[n] = item_datum(batch, entry->key.user, &cols->user_nulls[n]);
		cols->features[n] = item_datum(batch, entry->key.feature, &cols->feature_nulls[n]);
		cols->events[n] = Int64GetDatum(entry->events);
		n++;
	}
	cols->n = n;
}

/* The collected columns as six arrays, the statements' parameters. */
static void
group_arrays(const GroupColumns *cols, bool pending, Datum *params)
{
	int			n = cols->n;

	if (pending)
		params[0] = PointerGetDatum(construct_array(cols->accounts, n, TEXTOID, -1, false, TYPALIGN_INT));
	else
		params[0] = PointerGetDatum(construct_array(cols->accounts, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	params[1] = PointerGetDatum(construct_array(cols->sources, n, INT4OID, 4, true, TYPALIGN_INT));
	params[2] = PointerGetDatum(construct_array(cols->days, n, DATEOID, 4, true, TYPALIGN_INT));
	params[3] = nullable_text_array(cols->users, cols->user_nulls, n);
	params[4] = nullable_text_array(cols->features, cols->feature_nulls, n);
	params[5] = PointerGetDatum(construct_array(cols->events, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Appends the groups whose account does not exist to csm_internal.usage_pending,
 * keyed by the account key's text, for a source tracked with
 * create_accounts => false.
 */
static void
write_pending(UsageBatch *batch, const TrackedSource *src)
{
	Oid			argtypes[6] = {TEXTARRAYOID, INT4ARRAYOID, DATEARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
	Datum		params[6];
	GroupColumns cols;

	collect_groups(batch, src, true, &cols);
	if (cols.n == 0)
		return;
	group_arrays(&cols, true, params);
	csm_prepare_once(&pending_plan, pending_sql, 6, argtypes);
	if (SPI_execute_plan(pending_plan, params, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "csm: appending pending usage failed");
}

/* The groups to be written: those of existing accounts (pending ones wait apart) that do not cancel out. */
static int
count_groups(const UsageBatch *batch)
{
	int			n = 0;
	grouptab_iterator it;
	GroupEntry *entry;

	grouptab_start_iterate(batch->groups, &it);
	while ((entry = grouptab_iterate(batch->groups, &it)) != NULL)
		if (entry->events != 0 && batch->account_ids[entry->key.account] != 0)
			n++;
	return n;
}

/*
 * A rollup row's sort key: account_id and day, as the rollup's index
 * orders them (so the upserts walk the index from left to right), then the
 * user or feature by its id in the batch, which keeps the sort to integer
 * comparisons (one account-day's rows share an index page or a few anyway).
 */
typedef struct RollupSortKey
{
	int64		account_id;
	int32		day;
	int32		item;
	GroupEntry *entry;
} RollupSortKey;

static int
compare_rollup(const void *a, const void *b)
{
	const RollupSortKey *x = (const RollupSortKey *) a;
	const RollupSortKey *y = (const RollupSortKey *) b;

	if (x->account_id != y->account_id)
		return x->account_id < y->account_id ? -1 : 1;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return (x->item > y->item) - (x->item < y->item);
}

/* The rows of a rollup, sorted; with skip_zero, those that add nothing are left out. */
static GroupEntry **
sorted_rollup(grouptab_hash *tab, UsageBatch *batch, bool skip_zero, int *count)
{
	RollupSortKey *keys = palloc(Max(tab->members, 1) * sizeof(RollupSortKey));
	GroupEntry **rows;
	grouptab_iterator it;
	GroupEntry *entry;
	int			n = 0;

	grouptab_start_iterate(tab, &it);
	while ((entry = grouptab_iterate(tab, &it)) != NULL)
		if (!skip_zero || entry->events != 0)
		{
			keys[n].account_id = batch->account_ids[entry->key.account];
			keys[n].day = entry->key.day;
			keys[n].item = Max(entry->key.user, entry->key.feature);
			keys[n].entry = entry;
			n++;
		}
	qsort(keys, n, sizeof(RollupSortKey), compare_rollup);
	rows = palloc(Max(n, 1) * sizeof(GroupEntry *));
	for (int i = 0; i < n; i++)
		rows[i] = keys[i].entry;
	pfree(keys);
	*count = n;
	return rows;
}

/*
 * The parameters of a rollup upsert: account_id[], source_id, day[], the
 * user's or feature's text[] (with_item) and events[].
 */
static void
rollup_params(UsageBatch *batch, const TrackedSource *src, GroupEntry **rows, int n, bool with_item, Datum *params)
{
	Datum	   *accounts = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *days = palloc(Max(n, 1) * sizeof(Datum));
	Datum	   *items = with_item ? palloc(Max(n, 1) * sizeof(Datum)) : NULL;
	Datum	   *events = palloc(Max(n, 1) * sizeof(Datum));
	int			p = 0;

	for (int i = 0; i < n; i++)
	{
		const GroupKey *key = &rows[i]->key;

		accounts[i] = Int64GetDatum(batch->account_ids[key->account]);
		days[i] = DateADTGetDatum(key->day);
		if (with_item)
		{
			const StrKey *item = &batch->items.keys[Max(key->user, key->feature)];

			items[i] = PointerGetDatum(cstring_to_text_with_len(item->data, item->len));
		}
		events[i] = Int64GetDatum(rows[i]->events);
	}
	params[p++] = PointerGetDatum(construct_array(accounts, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	params[p++] = Int32GetDatum(src->source_id);
	params[p++] = PointerGetDatum(construct_array(days, n, DATEOID, 4, true, TYPALIGN_INT));
	if (with_item)
		params[p++] = PointerGetDatum(construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT));
	params[p++] = PointerGetDatum(construct_array(events, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* account_id -> the batch's account, for reading rows back. */
typedef struct AccountRef
{
	int64		account_id;
	int32		account;
} AccountRef;

static int
compare_account_ref(const void *a, const void *b)
{
	int64		x = ((const AccountRef *) a)->account_id;
	int64		y = ((const AccountRef *) b)->account_id;

	return (x > y) - (x < y);
}

/* The batch's account for an account_id read back. */
static int32
account_of(const AccountRef *refs, int n, int64 account_id)
{
	AccountRef	ref = {account_id, 0};
	AccountRef *found = bsearch(&ref, refs, n, sizeof(AccountRef), compare_account_ref);

	if (found == NULL)
		elog(ERROR, "csm: a usage row came back for an account that was not added");
	return found->account;
}

/*
 * Splits sorted user-day or feature rows by whether their account-day has a
 * counter row (both are sorted by account_id and day, like the account-days).
 */
static void
split_by_day(UsageBatch *batch, GroupEntry **rows, int n, GroupEntry **days, int ndays,
			 GroupEntry **fresh, int *nfresh, GroupEntry **counted, int *ncounted)
{
	int			d = 0;

	*nfresh = *ncounted = 0;
	for (int i = 0; i < n; i++)
	{
		const GroupKey *k = &rows[i]->key;

		while (d < ndays && (batch->account_ids[days[d]->key.account] != batch->account_ids[k->account]
							 || days[d]->key.day != k->day))
			d++;
		if (d == ndays)
			elog(ERROR, "csm: a usage row has no account-day");
		if (days[d]->counted)
			counted[(*ncounted)++] = rows[i];
		else
		{
			fresh[(*nfresh)++] = rows[i];
			/* a new user-day: its user is active when it adds events */
			if (k->user >= 0 && rows[i]->events > 0)
				days[d]->active++;
		}
	}
}

static void
run_rollup(SPIPlanPtr *plan, const char *sql, Oid *argtypes, Datum *params, int expected)
{
	csm_prepare_once(plan, sql, 5, argtypes);
	if (SPI_execute_plan(*plan, params, NULL, false, 0) != expected)
		elog(ERROR, "csm: adding usage rollups failed");
}

/*
 * Adds a large batch to the counters at once (see write_deltas), as
 * _apply_usage() adds a fold's deltas, but with the three rollups summed
 * and sorted here.  Under the fold lock nobody else writes the counters, so
 * the account-days that have no counter row yet (no user-day or feature row
 * either: the three are written and cleared together, under this lock) get
 * plain INSERTs, which cost about half an upsert; only the others are
 * upserted.  A user becomes active on a day when its count rises from zero
 * to what this batch added, and inactive when it returns to zero: new
 * user-days show it here, upserted ones return their new counts.
 */
static void
apply_rollups(UsageBatch *batch, const TrackedSource *src)
{
	Oid			item_argtypes[5] = {INT8ARRAYOID, INT4OID, DATEARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
	Oid			counter_argtypes[5] = {INT8ARRAYOID, INT4OID, DATEARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
	grouptab_hash *days;
	grouptab_hash *users;
	grouptab_hash *features;
	AccountRef *refs = palloc(Max(batch->accounts.count, 1) * sizeof(AccountRef));
	GroupEntry **day_rows;
	GroupEntry **rows;
	GroupEntry **part[2];
	int			nparts[2];
	Datum		params[5];
	int			ndays;
	int			n;

	if (batch->days == NULL)
		roll_up_groups(batch, CurrentMemoryContext);
	days = batch->days;
	users = batch->users;
	features = batch->features;
	for (int i = 0; i < batch->accounts.count; i++)
	{
		refs[i].account_id = batch->account_ids[i];
		refs[i].account = i;
	}
	qsort(refs, batch->accounts.count, sizeof(AccountRef), compare_account_ref);

	csm_prepare_once(&fold_lock_plan, fold_lock_sql, 0, NULL);
	if (SPI_execute_plan(fold_lock_plan, NULL, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: locking the usage fold failed");

	day_rows = sorted_rollup(days, batch, false, &ndays);
	if (ndays == 0)
		return;
	rollup_params(batch, src, day_rows, ndays, false, params);
	csm_prepare_once(&counted_plan, counted_sql, 3, counter_argtypes);
	if (SPI_execute_plan(counted_plan, params, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: reading usage counters failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		GroupKey	key = {account_of(refs, batch->accounts.count,
									  DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull))),
						   DatumGetDateADT(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull)), -1, -1};
		GroupEntry *day = grouptab_lookup(days, key);

		if (day == NULL)
			elog(ERROR, "csm: a usage counter came back that was not asked for");
		day->counted = true;
	}
	SPI_freetuptable(SPI_tuptable);

	/* user-days: new ones inserted, the others upserted and read back */
	rows = sorted_rollup(users, batch, true, &n);
	part[0] = palloc(Max(n, 1) * sizeof(GroupEntry *));
	part[1] = palloc(Max(n, 1) * sizeof(GroupEntry *));
	split_by_day(batch, rows, n, day_rows, ndays, part[0], &nparts[0], part[1], &nparts[1]);
	if (nparts[0] > 0)
	{
		rollup_params(batch, src, part[0], nparts[0], true, params);
		run_rollup(&user_day_plans[0], user_day_insert_sql, item_argtypes, params, SPI_OK_INSERT);
	}
	if (nparts[1] > 0)
	{
		rollup_params(batch, src, part[1], nparts[1], true, params);
		run_rollup(&user_day_plans[1], user_day_upsert_sql, item_argtypes, params, SPI_OK_INSERT_RETURNING);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			int32		account = account_of(refs, batch->accounts.count,
											 DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)));
			int32		day = DatumGetDateADT(SPI_getbinval(tup, desc, 2, &isnull));
			text	   *user = DatumGetTextPP(SPI_getbinval(tup, desc, 3, &isnull));
			StrKey		user_key = {VARDATA_ANY(user), VARSIZE_ANY_EXHDR(user)};
			StrEntry   *item = strtab_lookup(batch->items.hash, user_key);
			int64		now = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
			GroupKey	user_group = {account, day, item ? item->id : -1, -1};
			GroupKey	day_group = {account, day, -1, -1};
			GroupEntry *added = grouptab_lookup(users, user_group);
			GroupEntry *day_entry = grouptab_lookup(days, day_group);

			if (added == NULL || day_entry == NULL)
				elog(ERROR, "csm: a user-day came back that was not added");
			if (added->events > 0 && now == added->events)
				day_entry->active++;
			else if (added->events < 0 && now == 0)
				day_entry->active--;
		}
		SPI_freetuptable(SPI_tuptable);
	}

	/* account-days, with the users that became active */
	part[0] = repalloc(part[0], ndays * sizeof(GroupEntry *));
	part[1] = repalloc(part[1], ndays * sizeof(GroupEntry *));
	nparts[0] = nparts[1] = 0;
	for (int i = 0; i < ndays; i++)
		part[day_rows[i]->counted][nparts[day_rows[i]->counted]++] = day_rows[i];
	for (int p = 0; p < 2; p++)
	{
		Datum	   *active;
		bool	   *active_null;
		int			dims[1] = {nparts[p]};
		int			lbs[1] = {1};

		if (nparts[p] == 0)
			continue;
		active = palloc(nparts[p] * sizeof(Datum));
		active_null = palloc(nparts[p] * sizeof(bool));
		for (int i = 0; i < nparts[p]; i++)
		{
			active[i] = Int64GetDatum(part[p][i]->active);
			/* a source without a user column counts no active users */
			active_null[i] = src->user.attnum == 0;
		}
		rollup_params(batch, src, part[p], nparts[p], false, params);
		params[4] = PointerGetDatum(construct_md_array(active, active_null, 1, dims, lbs, INT8OID, 8,
													   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		run_rollup(&counter_plans[p], p ? counter_upsert_sql : counter_insert_sql, counter_argtypes, params,
				   SPI_OK_INSERT);
	}

	/* features */
	rows = sorted_rollup(features, batch, false, &n);
	part[0] = repalloc(part[0], Max(n, 1) * sizeof(GroupEntry *));
	part[1] = repalloc(part[1], Max(n, 1) * sizeof(GroupEntry *));
	split_by_day(batch, rows, n, day_rows, ndays, part[0], &nparts[0], part[1], &nparts[1]);
	for (int p = 0; p < 2; p++)
	{
		if (nparts[p] == 0)
			continue;
		rollup_params(batch, src, part[p], nparts[p], true, params);
		run_rollup(&feature_plans[p], p ? feature_upsert_sql : feature_insert_sql, item_argtypes, params,
				   SPI_OK_INSERT);
	}
}

/*
 * Writes one delta per group.  Small batches are appended to
 * csm_internal.usage_delta, where concurrent writers never wait (one group, the
 * usual single-row insert, with a plain VALUES insert); a batch as large as
 * a fold is added to the counters at once, which saves writing and deleting
 * every delta (only under READ COMMITTED, like a fold).
 */
static void
write_deltas(UsageBatch *batch, const TrackedSource *src)
{
	Oid			one_argtypes[6] = {INT8OID, INT4OID, DATEOID, TEXTOID, TEXTOID, INT8OID};
	Oid			argtypes[6] = {INT8ARRAYOID, INT4ARRAYOID, DATEARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
	Datum		params[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	GroupColumns cols;
	int			n;
	bool		apply_now;

	if (batch->accounts.count == 0)
		return;
	resolve_accounts(batch, src->create_accounts);
	if (!src->create_accounts)
		write_pending(batch, src);

	n = count_groups(batch);
	if (n == 0)
		return;
	apply_now = n >= csm_compact_threshold && csm_compact_threshold > 0 && XactIsoLevel == XACT_READ_COMMITTED
		&& !src->schema_0_1_0;
	if (apply_now)
	{
		apply_rollups(batch, src);
		return;
	}
	collect_groups(batch, src, false, &cols);
	if (n == 1)
	{
		Datum		one[6] = {cols.accounts[0], cols.sources[0], cols.days[0], cols.users[0], cols.features[0], cols.events[0]};

		nulls[3] = cols.user_nulls[0] ? 'n' : ' ';
		nulls[4] = cols.feature_nulls[0] ? 'n' : ' ';
		csm_prepare_once(&append_one_plans[src->schema_0_1_0], append_one_sql[src->schema_0_1_0], 6, one_argtypes);
		if (SPI_execute_plan(append_one_plans[src->schema_0_1_0], one, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "csm: appending a usage delta failed");
		appended_since_fold += 1;
		return;
	}

	group_arrays(&cols, false, params);
	csm_prepare_once(&append_plans[src->schema_0_1_0], append_sql[src->schema_0_1_0], 6, argtypes);
	if (SPI_execute_plan(append_plans[src->schema_0_1_0], params, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "csm: appending usage deltas failed");
	appended_since_fold += n;
}

/*
 * On a shard of a Citus table: appends every group, keyed by the account
 * key's text as pending rows are, to the colocated staging shard (see
 * usage_citus.c).  No account is looked up or created here, and nothing
 * folds: csm.compact_usage() does both on the coordinator.
 */
static void
write_staged(UsageBatch *batch, const TrackedSource *src, UsageStage *stage)
{
	Datum		params[6];
	GroupColumns cols;

	if (batch->accounts.count == 0)
		return;
	/* every group counts as pending: no account_id is known here */
	batch->account_ids = palloc0(Max(batch->accounts.count, 1) * sizeof(int64));
	collect_groups(batch, src, true, &cols);
	if (cols.n == 0)
		return;
	group_arrays(&cols, true, params);
	usage_stage_append(stage, params);
}

/*
 * Folds pending deltas once this backend has appended enough of them.  Only
 * under READ COMMITTED: a fold from an older snapshot would trip over deltas
 * that a concurrent fold already took.
 */
static void
maybe_fold(void)
{
	if (csm_compact_threshold <= 0 || appended_since_fold < csm_compact_threshold
		|| XactIsoLevel != XACT_READ_COMMITTED)
		return;
	csm_prepare_once(&compact_plan, compact_sql, 0, NULL);
	if (SPI_execute_plan(compact_plan, NULL, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: folding usage deltas failed");
	appended_since_fold = 0;
}

/*
 * TRUNCATE of a tracked table clears its source's rollups.  A partition's
 * own trigger fires both for TRUNCATE of the whole table and for TRUNCATE
 * of that partition alone; rollups cannot say which rows came from one
 * partition, so the latter is refused while the rest of the table still
 * holds rows.  The check reads the table as its owner.
 */
static void
truncate_source(int32 source_id, Relation rel, Oid csm_owner, int sec_context)
{
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(source_id);
	Oid			source = InvalidOid;
	bool		isnull;

	csm_prepare_once(&source_plan, source_sql, 1, &argtype);
	if (SPI_execute_plan(source_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "csm: usage source lookup failed");
	if (SPI_processed == 1)
		source = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (OidIsValid(source) && source != RelationGetRelid(rel) && get_rel_name(source) != NULL)
	{
		char	   *sql = psprintf("SELECT FROM %s LIMIT 1",
								   quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)),
															  get_rel_name(source)));
		bool		rows_left;

		SetUserIdAndSecContext(rel->rd_rel->relowner,
							   sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		if (SPI_execute(sql, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "csm: reading the tracked table failed");
		rows_left = SPI_processed > 0;
		SetUserIdAndSecContext(csm_owner, sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
		if (rows_left)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot truncate partition \"%s\" of tracked table \"%s\" alone",
							RelationGetRelationName(rel), get_rel_name(source)),
					 errdetail("The usage rollups cannot tell which rows came from one partition."),
					 errhint("DELETE FROM the partition, DETACH it first, or TRUNCATE the whole table.")));
	}
	csm_prepare_once(&truncate_plan, truncate_sql, 1, &argtype);
	if (SPI_execute_plan(truncate_plan, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: usage truncate failed");
}

static int32
parse_source_id(const char *arg)
{
	char	   *end;
	long		id = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || id <= 0 || id > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._usage_rollup() got an invalid source id \"%s\"", arg),
				 errhint("Attach it with csm.track_usage(), not CREATE TRIGGER.")));
	return (int32) id;
}

/*
 * The owner of csm_internal._usage_rollup(), whose rights the rollup writes with, as
 * SECURITY DEFINER would give but without its per-call cost of switching
 * search_path (the statements above are fully qualified instead).
 */
static Oid
rollup_owner(Oid fn_oid)
{
	static Oid	cached_fn = InvalidOid;
	static Oid	cached_owner = InvalidOid;

	if (fn_oid != cached_fn)
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for function %u", fn_oid);
		cached_owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
		ReleaseSysCache(tup);
		cached_fn = fn_oid;
	}
	return cached_owner;
}

Datum
csm_usage_rollup(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	TupleDesc	desc;
	TrackedSource src;
	MemoryContext batch_cxt;
	MemoryContext row_cxt;
	MemoryContext old;
	UsageBatch	batch;
	UsageStage *stage;
	Oid			save_userid;
	int			save_sec_context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._usage_rollup() must be called as a trigger")));
	trigger = trigdata->tg_trigger;
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event)
		|| trigger->tgnargs < 5 || trigger->tgnargs > 6)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._usage_rollup() must fire AFTER ... FOR EACH STATEMENT with five or six arguments"),
				 errhint("Attach it with csm.track_usage(), not CREATE TRIGGER.")));

	src.source_id = parse_source_id(trigger->tgargs[0]);
	/* the sixth argument, added in 0.2.0; triggers from 0.1.0 create accounts */
	src.create_accounts = trigger->tgnargs < 6 || strcmp(trigger->tgargs[5], "no_accounts") != 0;

	/*
	 * Between installing this library and ALTER EXTENSION csm UPDATE, the
	 * trigger runs over csm 0.1.0's tables (no schema csm_internal, no fold lock row):
	 * it then only appends deltas, as 0.1.0's trigger did for most
	 * statements, and 0.1.0's csm.compact_usage() folds them.
	 */
	src.schema_0_1_0 = !OidIsValid(get_namespace_oid("csm_internal", true));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");

	/* An error aborts the (sub)transaction, which restores the user. */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);

	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		Oid			owner = rollup_owner(fcinfo->flinfo->fn_oid);

		SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
		/* a distributed table's TRUNCATE clears the rollups from the coordinator's trigger */
		if (usage_stage_for(trigdata->tg_relation, src.source_id) == NULL)
			truncate_source(src.source_id, trigdata->tg_relation, owner, save_sec_context);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		SPI_finish();
		return PointerGetDatum(NULL);
	}
	if ((TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		&& trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._usage_rollup() needs a NEW TABLE transition table"),
				 errhint("Attach it with csm.track_usage(), not CREATE TRIGGER.")));
	if ((TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) || TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		&& trigdata->tg_oldtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._usage_rollup() needs an OLD TABLE transition table"),
				 errhint("Attach it with csm.track_usage(), not CREATE TRIGGER.")));

	desc = RelationGetDescr(trigdata->tg_relation);
	find_column(&src.account, desc, trigger->tgargs[1], "account", key_types);
	find_column(&src.time, desc, trigger->tgargs[2], "time", time_types);
	find_column(&src.event, desc, trigger->tgargs[3], "event", text_types);
	find_column(&src.user, desc, trigger->tgargs[4], "user", key_types);
	if (src.account.attnum == 0 || src.time.attnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._usage_rollup() needs an account and a time column"),
				 errhint("Attach it with csm.track_usage(), not CREATE TRIGGER.")));

	/* small to start with: most statements insert a row or a few */
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "csm usage batch", ALLOCSET_SMALL_SIZES);
	row_cxt = AllocSetContextCreate(batch_cxt, "csm usage row", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(batch_cxt);

	strset_init(&batch.accounts, batch_cxt);
	strset_init(&batch.items, batch_cxt);
	/* sized for the common cases: one row, or many rows in fewer groups */
	batch.groups = grouptab_create(batch_cxt,
								   Min(3 * ((trigdata->tg_newtable ? tuplestore_tuple_count(trigdata->tg_newtable) : 0) +
											(trigdata->tg_oldtable ? tuplestore_tuple_count(trigdata->tg_oldtable) : 0)) + 8,
									   65536), NULL);
	batch.account_ids = NULL;
	/*
	 * On a Citus shard every group is staged, whatever its size: rolling up
	 * mid-statement would write the account_id tables, which a shard cannot.
	 */
	SetUserIdAndSecContext(rollup_owner(fcinfo->flinfo->fn_oid),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	stage = usage_stage_for(trigdata->tg_relation, src.source_id);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	batch.may_roll_up = stage == NULL && src.create_accounts && !src.schema_0_1_0 && trigdata->tg_oldtable == NULL
		&& csm_compact_threshold > 0 && XactIsoLevel == XACT_READ_COMMITTED;
	batch.days = batch.users = batch.features = NULL;

	/*
	 * The rows are read as the table's owner in a security-restricted
	 * operation, as VACUUM and ANALYZE read a table: the column types above
	 * leave no user code to run, and if one ever did it would get only the
	 * owner's rights.  The rollup is then written with csm's.
	 */
	SetUserIdAndSecContext(trigdata->tg_relation->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (trigdata->tg_oldtable != NULL)
		accumulate(&batch, &src, trigdata->tg_oldtable, desc, -1, row_cxt);
	if (trigdata->tg_newtable != NULL)
		accumulate(&batch, &src, trigdata->tg_newtable, desc, +1, row_cxt);
	SetUserIdAndSecContext(rollup_owner(fcinfo->flinfo->fn_oid),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	if (stage != NULL)
		write_staged(&batch, &src, stage);
	else
	{
		write_deltas(&batch, &src);
		maybe_fold();
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(batch_cxt);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * csm_internal._usage_rows(source, account_column, time_column, event_column,
 * user_column, from_day): the rows of a tracked table as backfill_usage()
 * counts them, with the same key text and UTC day the trigger computes.
 *
 * The relation kind and the column types are checked again here, at use,
 * and the table is read as its owner in a security-restricted operation
 * (what VACUUM, ANALYZE and REFRESH MATERIALIZED VIEW do), so the caller's
 * rights, usually a superuser's, never reach code the owner wrote.  The
 * query names only columns: no cast, function or operator of the table's
 * types is evaluated.
 */
Datum
csm_usage_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	const char *names[4];
	DateADT		from_day = PG_ARGISNULL(5) ? DATEVAL_NOBEGIN : PG_GETARG_DATEADT(5);
	TrackedSource src;
	TrackedColumn *cols[4] = {&src.account, &src.time, &src.event, &src.user};
	static const char *const roles[4] = {"account", "time", "event", "user"};
	const Oid  *allowed[4] = {key_types, time_types, text_types, key_types};
	Relation	rel;
	Oid			owner;
	char		relkind;
	StringInfoData sql;
	int			ncols = 0;
	Oid			save_userid;
	int			save_sec_context;
	Portal		portal;
	MemoryContext row_cxt;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a table, an account column and a time column are needed")));
	relid = PG_GETARG_OID(0);
	for (int i = 0; i < 4; i++)
		names[i] = PG_ARGISNULL(i + 1) ? "" : NameStr(*PG_GETARG_NAME(i + 1));
	InitMaterializedSRF(fcinfo, 0);

	rel = relation_open(relid, AccessShareLock);
	relkind = rel->rd_rel->relkind;
	owner = rel->rd_rel->relowner;
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("tracked relation \"%s\" is not a table", RelationGetRelationName(rel)),
				 errhint("Call csm.untrack_usage() for it.")));
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < 4; i++)
	{
		find_column(cols[i], RelationGetDescr(rel), names[i], roles[i], allowed[i]);
		if (cols[i]->attnum == 0)
			continue;
		/* from here on attnum is the column's place in the query's result */
		cols[i]->attnum = ++ncols;
		appendStringInfo(&sql, "%s%s", ncols > 1 ? ", " : "", quote_identifier(names[i]));
	}
	if (src.account.attnum == 0 || src.time.attnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an account and a time column are needed")));
	appendStringInfo(&sql, " FROM %s",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	relation_close(rel, NoLock);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	/* An error aborts the (sub)transaction, which restores the user. */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS);
	portal = SPI_cursor_open_with_args(NULL, sql.data, 0, NULL, NULL, NULL, true, 0);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "csm usage rows", ALLOCSET_SMALL_SIZES);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			MemoryContext old = MemoryContextSwitchTo(row_cxt);
			Datum		out[4];
			bool		nulls[4] = {false, false, true, true};
			bool		isnull;
			Datum		value;
			int32		day;
			StrKey		key;

			value = SPI_getbinval(tup, desc, src.time.attnum, &isnull);
			if (isnull || !column_day(&src.time, value, &day) || day < from_day)
				goto next;
			value = SPI_getbinval(tup, desc, src.account.attnum, &isnull);
			if (isnull)
				goto next;
			key = column_text(&src.account, value, "account");
			out[0] = PointerGetDatum(cstring_to_text_with_len(key.data, key.len));
			out[1] = DateADTGetDatum(day);
			if (src.event.attnum != 0)
			{
				value = SPI_getbinval(tup, desc, src.event.attnum, &isnull);
				if (!isnull)
				{
					key = column_text(&src.event, value, "event");
					out[2] = PointerGetDatum(cstring_to_text_with_len(key.data, key.len));
					nulls[2] = false;
				}
			}
			if (src.user.attnum != 0)
			{
				value = SPI_getbinval(tup, desc, src.user.attnum, &isnull);
				if (!isnull)
				{
					key = column_text(&src.user, value, "user");
					out[3] = PointerGetDatum(cstring_to_text_with_len(key.data, key.len));
					nulls[3] = false;
				}
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
	next:
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_cxt);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	MemoryContextDelete(row_cxt);
	SPI_finish();
	return (Datum) 0;
}

/*
 * csm_internal._usage_ddl(): the ddl_command_end event trigger that keeps every
 * partition of a tracked table counted.  It finds the tables that CREATE
 * TABLE made and the partitions that ALTER TABLE attached or detached (only
 * C can read a collected command's subcommands, and a partition named
 * without a schema resolves only under the caller's own search_path, which
 * a function with SET search_path would have replaced), then hands each to
 * csm_internal._usage_partition_changed() with csm's rights, so the role running the
 * DDL needs none.
 */
typedef struct PartitionChange
{
	Oid			rel;
	const char *change;			/* "created", "attached" or "detached" */
} PartitionChange;

static List *
add_change(List *changes, Oid rel, const char *change)
{
	PartitionChange *c = palloc(sizeof(PartitionChange));

	c->rel = rel;
	c->change = change;
	return lappend(changes, c);
}

/*
 * Citus distributes a new partition of a distributed table after this
 * event trigger, in the same command, and refuses one with triggers unless
 * citus.enable_unsafe_triggers is on: when a partition got the rollup
 * triggers here, it is turned on until the transaction ends (as SET LOCAL),
 * so that the partition and its shards keep them.
 */
static void
allow_partition_triggers(List *changes)
{
	ListCell   *lc;

	if (GetConfigOption("citus.enable_unsafe_triggers", true, false) == NULL)
		return;
	foreach(lc, changes)
	{
		PartitionChange *c = (PartitionChange *) lfirst(lc);

		Relation	rel;
		bool		tracked = false;

		if (strcmp(c->change, "detached") == 0)
			continue;
		/* only a partition that got csm's rollup triggers */
		rel = relation_open(c->rel, AccessShareLock);
		for (int i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
			if (strcmp(rel->trigdesc->triggers[i].tgname, "csm_usage_insert") == 0)
				tracked = true;
		relation_close(rel, AccessShareLock);
		if (tracked)
		{
			(void) set_config_option("citus.enable_unsafe_triggers", "on", PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_LOCAL, true, 0, false);
			return;
		}
	}
}

Datum
csm_usage_ddl(PG_FUNCTION_ARGS)
{
	List	   *changes = NIL;
	ListCell   *lc;
	Oid			save_userid;
	int			save_sec_context;
	int			path_nest;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._usage_ddl() must be called as an event trigger")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");
	if (SPI_execute("SELECT command_tag, objid, command FROM pg_catalog.pg_event_trigger_ddl_commands() "
					"WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
					"AND objsubid OPERATOR(pg_catalog.=) 0", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: reading the DDL commands failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *tag = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		Oid			objid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		CollectedCommand *cmd = (CollectedCommand *) DatumGetPointer(SPI_getbinval(tup, desc, 3, &isnull));

		if (tag != NULL && strcmp(tag, "CREATE TABLE") == 0)
		{
			/* most new tables are no partition, and need nothing */
			if (!get_rel_relispartition(objid))
				continue;
			changes = add_change(changes, objid, "created");
			continue;
		}
		if (tag == NULL || strcmp(tag, "ALTER TABLE") != 0 || isnull || cmd->type != SCT_AlterTable)
			continue;
		foreach(lc, cmd->d.alterTable.subcmds)
		{
			CollectedATSubcmd *sub = (CollectedATSubcmd *) lfirst(lc);
			AlterTableCmd *at = (AlterTableCmd *) sub->parsetree;
			Oid			relid;

			if (at == NULL || !IsA(at, AlterTableCmd)
				|| (at->subtype != AT_AttachPartition && at->subtype != AT_DetachPartition))
				continue;
			/* the name as the command itself resolved it, on the caller's path */
			relid = RangeVarGetRelid(((PartitionCmd *) at->def)->name, NoLock, true);
			if (!OidIsValid(relid))
				continue;
			changes = add_change(changes, relid, at->subtype == AT_AttachPartition ? "attached" : "detached");
		}
	}

	/* what csm runs from here on resolves no name on the caller's path */
	path_nest = csm_pin_search_path();
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rollup_owner(fcinfo->flinfo->fn_oid),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	foreach(lc, changes)
	{
		PartitionChange *c = (PartitionChange *) lfirst(lc);
		Oid			argtypes[2] = {OIDOID, TEXTOID};
		Datum		args[2] = {ObjectIdGetDatum(c->rel), CStringGetTextDatum(c->change)};

		if (SPI_execute_with_args("SELECT csm_internal._usage_partition_changed($1, $2)", 2, argtypes, args,
								  NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "csm: following a partition change failed");
	}
	SetUserIdAndSecContext(save_userid, save_sec_context);
	csm_restore_search_path(path_nest);
	SPI_finish();
	allow_partition_triggers(changes);
	return (Datum) 0;
}
