/*
 * account_cache.c: a per-backend map from csm.account.external_id to
 * account_id, so the usage trigger need not look up hot accounts for every
 * statement.
 *
 * An account's id never changes while it exists; the cache only goes stale
 * when an account is deleted or its external_id or account_id is changed.
 * csm_internal._account_changed(), a statement trigger on csm.account, then
 * invalidates the table's relcache entry, which every backend hears about
 * at its next transaction, and the callback below empties the cache.  An
 * aborted (sub)transaction empties it too, since it may have cached an
 * account it created and then rolled back.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "csm.h"

PG_FUNCTION_INFO_V1(csm_account_changed);

/* Beyond this many accounts the cache starts over rather than grow. */
#define ACCOUNT_CACHE_MAX 100000

typedef struct AccountEntry
{
	char	   *key;			/* external_id, NUL-terminated */
	uint32		hash;
	int64		account_id;
	char		status;
} AccountEntry;

#define SH_PREFIX acctab
#define SH_ELEMENT_TYPE AccountEntry
#define SH_KEY_TYPE char *
#define SH_KEY key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) (k), strlen(k))
#define SH_EQUAL(tb, a, b) (strcmp(a, b) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static MemoryContext cache_cxt = NULL;
static acctab_hash *cache = NULL;
static Oid	account_relid = InvalidOid;

static void
account_cache_reset(void)
{
	if (cache_cxt != NULL)
		MemoryContextReset(cache_cxt);
	cache = NULL;
	account_relid = InvalidOid;
}

static void
account_cache_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == account_relid)
		account_cache_reset();
}

static void
account_cache_xact_abort(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		account_cache_reset();
}

static void
account_cache_subxact_abort(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		account_cache_reset();
}

/* Creates the cache on first use; false when csm.account cannot be found. */
static bool
account_cache_ready(void)
{
	if (cache != NULL)
		return true;
	if (cache_cxt == NULL)
	{
		cache_cxt = AllocSetContextCreate(CacheMemoryContext, "csm account cache", ALLOCSET_DEFAULT_SIZES);
		CacheRegisterRelcacheCallback(account_cache_invalidate, (Datum) 0);
		RegisterXactCallback(account_cache_xact_abort, NULL);
		RegisterSubXactCallback(account_cache_subxact_abort, NULL);
	}
	account_relid = get_relname_relid("account", get_namespace_oid("csm", true));
	if (!OidIsValid(account_relid))
		return false;
	cache = acctab_create(cache_cxt, 1024, NULL);
	return true;
}

/* The cached account_id of a key, or 0. */
int64
account_cache_get(const char *key, int len)
{
	char		buf[1025];
	AccountEntry *entry;

	if (!account_cache_ready() || len >= (int) sizeof(buf))
		return 0;
	memcpy(buf, key, len);
	buf[len] = '\0';
	entry = acctab_lookup(cache, buf);
	return entry ? entry->account_id : 0;
}

void
account_cache_put(const char *key, int len, int64 account_id)
{
	bool		found;
	AccountEntry *entry;
	char	   *copy;

	if (!account_cache_ready())
		return;
	if (cache->members >= ACCOUNT_CACHE_MAX)
	{
		account_cache_reset();
		if (!account_cache_ready())
			return;
	}
	copy = MemoryContextAlloc(cache_cxt, len + 1);
	memcpy(copy, key, len);
	copy[len] = '\0';
	entry = acctab_insert(cache, copy, &found);
	entry->account_id = account_id;
}

/*
 * Statement trigger on csm.account for DELETE and for UPDATE of the key
 * columns: every backend drops its cached ids at its next transaction.  On
 * Citus it fires on each node's copy of csm.account (a shard, such as
 * csm.account_102008), and each node's backends must forget: so it
 * invalidates csm.account itself, the relation the caches watch, on the
 * node it fires on.
 */
Datum
csm_account_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("csm_internal._account_changed() must be called as a trigger")));
	relid = get_relname_relid("account", RelationGetNamespace(trigdata->tg_relation));
	CacheInvalidateRelcacheByRelid(OidIsValid(relid) ? relid : RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
