/*
 * segment.c: the trigger that keeps csm.account.segment (78_segment.sql).
 *
 * Before a row of csm.account is written it derives the segment from
 * csm.segment_rule (the first enabled rule, by priority then rule_id, whose
 * condition matches the account's own columns), unless the segment is
 * manual, marks a segment set by hand as manual, and refuses a segment that
 * csm.segment does not name (23503, with the names).
 *
 * In C because it runs once per account written: a bulk load of a million
 * accounts must not pay for a PL/pgSQL call and a query per row.  The rules
 * and the segment names are read once per statement (the trigger's
 * FmgrInfo lives as long as the statement's executor), as csm's owner (a
 * role allowed to insert accounts need not read the rules), under a pinned
 * search_path, from this node's copy on Citus (local_copy.c): there the
 * trigger fires on every node's copy of csm.account, and each must decide
 * alike from the same rows.  Each row then only builds its facts as jsonb
 * and runs the parsed conditions (condition.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "csm.h"

PG_FUNCTION_INFO_V1(csm_account_segment);
PG_FUNCTION_INFO_V1(csm_segment_rule_of);

/* The columns of csm.account the trigger reads or sets. */
enum
{
	COL_SEGMENT,
	COL_MANUAL,
	COL_RULE,
	COL_ARR,
	COL_SEATS,
	COL_PLAN,
	COL_TIER,
	COL_EXTERNAL_ID,
	COL_PROPERTIES,
	NCOLS
};
static const char *const column_names[NCOLS] = {
	"segment", "segment_manual", "segment_rule_id", "arr", "seats", "plan", "tier", "external_id", "properties"
};

/* What one statement reads once: the enabled rules in order, and the segment names. */
typedef struct SegmentCache
{
	int			attnums[NCOLS];
	int			nrules;
	int64	   *rule_ids;
	char	  **rule_segments;
	Datum	   *conditions;		/* csm.rule_condition, detoasted */
	int			nnames;
	char	  **names;			/* in csm_ratio order, for the message */
} SegmentCache;

static Oid
function_owner(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "csm: cache lookup failed for function %u", fn);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Reads the rules and names into a cache in cxt, as the owner of function
 * fn, with a pinned search_path; desc (csm.account's, or NULL) gives the
 * columns the trigger reads.
 */
static SegmentCache *
load_cache(MemoryContext cxt, Oid fn, TupleDesc desc)
{
	SegmentCache *cache = MemoryContextAllocZero(cxt, sizeof(SegmentCache));
	Oid			save_user;
	int			save_sec;
	int			path_nest;

	for (int i = 0; desc != NULL && i < NCOLS; i++)
	{
		cache->attnums[i] = SPI_fnumber(desc, column_names[i]);
		if (cache->attnums[i] <= 0)
			elog(ERROR, "csm: csm.account has no column %s", column_names[i]);
	}

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(function_owner(fn), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	path_nest = csm_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "csm: SPI_connect failed");

	if (SPI_execute(psprintf("SELECT r.rule_id, r.segment, r.condition FROM %s r WHERE r.enabled ORDER BY r.priority, r.rule_id",
							 csm_local_copy("csm.segment_rule")), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: reading csm.segment_rule failed");
	cache->nrules = (int) SPI_processed;
	cache->rule_ids = MemoryContextAlloc(cxt, sizeof(int64) * Max(1, cache->nrules));
	cache->rule_segments = MemoryContextAlloc(cxt, sizeof(char *) * Max(1, cache->nrules));
	cache->conditions = MemoryContextAlloc(cxt, sizeof(Datum) * Max(1, cache->nrules));
	for (int i = 0; i < cache->nrules; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		cond;
		MemoryContext old;

		cache->rule_ids[i] = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		cache->rule_segments[i] = MemoryContextStrdup(cxt, TextDatumGetCString(SPI_getbinval(tup, td, 2, &isnull)));
		cond = PointerGetDatum(PG_DETOAST_DATUM(SPI_getbinval(tup, td, 3, &isnull)));
		old = MemoryContextSwitchTo(cxt);
		cache->conditions[i] = datumCopy(cond, false, -1);
		MemoryContextSwitchTo(old);
	}

	if (SPI_execute(psprintf("SELECT s.name FROM %s s ORDER BY s.csm_ratio, s.name", csm_local_copy("csm.segment")),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "csm: reading csm.segment failed");
	cache->nnames = (int) SPI_processed;
	cache->names = MemoryContextAlloc(cxt, sizeof(char *) * Max(1, cache->nnames));
	for (int i = 0; i < cache->nnames; i++)
	{
		bool		isnull;

		cache->names[i] = MemoryContextStrdup(cxt, TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
																					  SPI_tuptable->tupdesc, 1, &isnull)));
	}

	SPI_finish();
	csm_restore_search_path(path_nest);
	SetUserIdAndSecContext(save_user, save_sec);
	return cache;
}

static void
push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
}

static void
push_text(JsonbParseState **state, const char *key, Datum d, bool isnull)
{
	JsonbValue	v;
	text	   *t;

	if (isnull)
		return;
	t = DatumGetTextPP(d);
	push_key(state, key);
	v.type = jbvString;
	v.val.string.val = VARDATA_ANY(t);
	v.val.string.len = VARSIZE_ANY_EXHDR(t);
	pushJsonbValue(state, WJB_VALUE, &v);
}

static void
push_numeric(JsonbParseState **state, const char *key, Datum d, bool isnull)
{
	JsonbValue	v;

	if (isnull)
		return;
	push_key(state, key);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(d);
	pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * The facts segment rules read (csm_internal._segment_facts in SQL), from the
 * account's arr, seats, plan, tier, external_id and properties (in the
 * order of enum's COL_ARR .. COL_PROPERTIES).
 */
static Jsonb *
facts_of(const Datum *v, const bool *isnull)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_numeric(&state, "arr", v[0], isnull[0]);
	push_numeric(&state, "seats", isnull[1] ? (Datum) 0 : DirectFunctionCall1(int4_numeric, v[1]), isnull[1]);
	push_text(&state, "plan", v[2], isnull[2]);
	push_text(&state, "tier", v[3], isnull[3]);
	push_text(&state, "external_id", v[4], isnull[4]);
	if (!isnull[5])
	{
		Jsonb	   *props = DatumGetJsonbP(v[5]);
		JsonbValue	p;

		push_key(&state, "properties");
		p.type = jbvBinary;
		p.val.binary.data = &props->root;
		p.val.binary.len = VARSIZE(props) - VARHDRSZ;
		pushJsonbValue(&state, WJB_VALUE, &p);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

static Jsonb *
row_facts(HeapTuple tup, TupleDesc desc, const SegmentCache *cache)
{
	Datum		v[6];
	bool		isnull[6];

	for (int i = 0; i < 6; i++)
		v[i] = heap_getattr(tup, cache->attnums[COL_ARR + i], desc, &isnull[i]);
	return facts_of(v, isnull);
}

/* The index of the first rule whose condition matches, or -1. */
static int
first_match(const SegmentCache *cache, Jsonb *facts)
{
	for (int i = 0; i < cache->nrules; i++)
		if (DatumGetBool(DirectFunctionCall2(csm_condition_matches, cache->conditions[i], JsonbPGetDatum(facts))))
			return i;
	return -1;
}

static bool
known(const SegmentCache *cache, const char *name)
{
	for (int i = 0; i < cache->nnames; i++)
		if (strcmp(cache->names[i], name) == 0)
			return true;
	return false;
}

static char *
names_list(const SegmentCache *cache)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < cache->nnames; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", cache->names[i]);
	return buf.data;
}

static bool
same_text(Datum a, bool a_null, Datum b, bool b_null)
{
	if (a_null || b_null)
		return a_null && b_null;
	return strcmp(TextDatumGetCString(a), TextDatumGetCString(b)) == 0;
}

/*
 * csm_internal._account_segment(), BEFORE INSERT OR UPDATE OF segment,
 * segment_manual, arr, seats, plan, tier, external_id, properties FOR EACH
 * ROW.  The rules (as the SQL comments of 78_segment.sql state them):
 *   INSERT without a segment: derived.
 *   INSERT with one: manual, unless segment_manual is not true and it is
 *     what the rules give (an import, or a restore of a derived row).
 *   UPDATE to another segment: manual; to NULL: derived again.
 *   otherwise: derived again unless manual.
 */
Datum
csm_account_segment(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	SegmentCache *cache;
	TupleDesc	desc;
	HeapTuple	newtup;
	Datum		segment;
	bool		segment_null;
	bool		manual_null;
	bool		manual;
	bool		derive;
	int			rule = -1;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int			columns[3];

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._account_segment() must be called as a trigger")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._account_segment() must be a BEFORE INSERT OR UPDATE trigger FOR EACH ROW")));

	desc = trigdata->tg_relation->rd_att;
	cache = (SegmentCache *) fcinfo->flinfo->fn_extra;
	if (cache == NULL)
	{
		cache = load_cache(fcinfo->flinfo->fn_mcxt, fcinfo->flinfo->fn_oid, desc);
		fcinfo->flinfo->fn_extra = cache;
	}

	newtup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	segment = heap_getattr(newtup, cache->attnums[COL_SEGMENT], desc, &segment_null);
	manual = DatumGetBool(heap_getattr(newtup, cache->attnums[COL_MANUAL], desc, &manual_null));
	manual = manual && !manual_null;

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		if (segment_null)
		{
			manual = false;
			derive = true;
		}
		else
		{
			if (!manual)
			{
				rule = first_match(cache, row_facts(newtup, desc, cache));
				manual = rule < 0 || strcmp(cache->rule_segments[rule], TextDatumGetCString(segment)) != 0;
			}
			derive = false;
		}
	}
	else
	{
		bool		old_null;
		Datum		old = heap_getattr(trigdata->tg_trigtuple, cache->attnums[COL_SEGMENT], desc, &old_null);

		if (!same_text(segment, segment_null, old, old_null))
		{
			manual = !segment_null;
			derive = segment_null;
		}
		else
			derive = !manual;
	}

	columns[0] = cache->attnums[COL_SEGMENT];
	columns[1] = cache->attnums[COL_MANUAL];
	columns[2] = cache->attnums[COL_RULE];
	values[1] = BoolGetDatum(manual);
	if (derive)
	{
		rule = first_match(cache, row_facts(newtup, desc, cache));
		nulls[0] = nulls[2] = rule < 0;
		values[0] = rule < 0 ? (Datum) 0 : CStringGetTextDatum(cache->rule_segments[rule]);
		values[2] = rule < 0 ? (Datum) 0 : Int64GetDatum(cache->rule_ids[rule]);
	}
	else
	{
		char	   *name = TextDatumGetCString(segment);

		if (!known(cache, name))
		{
			bool		isnull;
			Datum		ext = heap_getattr(newtup, cache->attnums[COL_EXTERNAL_ID], desc, &isnull);

			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("unknown segment \"%s\"", name),
					 errdetail("Account \"%s\": segments are the names in csm.segment: %s.",
							   isnull ? "" : TextDatumGetCString(ext), names_list(cache)),
					 errhint("Use one of those names (they are case-sensitive), add the segment to csm.segment, or set segment to NULL to derive it from csm.segment_rule.")));
		}
		values[0] = segment;
		nulls[2] = manual || rule < 0;
		values[2] = nulls[2] ? (Datum) 0 : Int64GetDatum(cache->rule_ids[rule]);
	}
	return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, 3, columns, values, nulls));
}

/*
 * csm_internal._segment_rule_of(arr numeric, seats integer, plan text, tier text,
 * external_id text, properties jsonb) RETURNS bigint: the rule_id of the
 * first enabled rule that matches an account with these columns (NULL when
 * none does), for csm.refresh_segments(); the rules are read once per call
 * site, as the trigger reads them once per statement.
 */
Datum
csm_segment_rule_of(PG_FUNCTION_ARGS)
{
	SegmentCache *cache = (SegmentCache *) fcinfo->flinfo->fn_extra;
	Datum		v[6];
	bool		isnull[6];
	int			rule;

	if (cache == NULL)
	{
		cache = load_cache(fcinfo->flinfo->fn_mcxt, fcinfo->flinfo->fn_oid, NULL);
		fcinfo->flinfo->fn_extra = cache;
	}
	for (int i = 0; i < 6; i++)
	{
		isnull[i] = PG_ARGISNULL(i);
		v[i] = isnull[i] ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	rule = first_match(cache, facts_of(v, isnull));
	if (rule < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(cache->rule_ids[rule]);
}
