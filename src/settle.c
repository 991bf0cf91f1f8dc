/*
 * settle.c: on a Citus cluster, the coordinator's half of the conversation
 * triggers.
 *
 * A trigger on a worker's shard of csm.conversation may read the reference
 * tables and write its own account's shards, but it cannot reach another
 * node, so it cannot count an agent's open conversations (csm_internal.agent_load,
 * a reference table) or route a conversation to an agent.  It notes that
 * work in csm_internal.conversation_change, and csm_internal._settle_conversations() does it
 * on the coordinator.  This executor hook calls it when a statement that
 * wrote csm.conversation, csm.team_member or csm.support_team finishes, so
 * that a user's plain INSERT,
 * UPDATE or DELETE routes, counts and serves the queues before it returns,
 * in its own transaction.  csm.distribute() makes every new session of the
 * database load csm (session_preload_libraries), so the hook is there
 * before the first statement.  On a server without Citus the hook returns
 * at once: the triggers do everything there.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "csm.h"

static ExecutorEnd_hook_type prev_executor_end = NULL;

/* csm_internal._settle_conversations() is running: its own statements do not call it again. */
static bool settling = false;

/*
 * Whether the statement's text names a table whose triggers leave work to
 * the coordinator: 1 for csm.conversation, 2 for csm.team_member or
 * csm.support_team (every queue is then served), else 0.  Case-insensitive.
 * A statement that reaches them otherwise (through a function) names them
 * in its own, nested statement, which settles when it finishes.
 */
static int
watched_tables(const char *text)
{
	static const char *const names[] = {"team_member", "support_team", "conversation"};
	int			found = 0;

	for (const char *p = text; *p; p++)
	{
		for (int i = 0; i < 3; i++)
		{
			size_t		len = strlen(names[i]);

			if (pg_strncasecmp(p, names[i], len) == 0)
			{
				if (i < 2)
					return 2;
				found = 1;
			}
		}
	}
	return found;
}

static bool
settle_applies(QueryDesc *queryDesc)
{
	const char *app;

	if (settling || queryDesc->sourceText == NULL)
		return false;
	/*
	 * Citus, preloaded on every node of a cluster, defines its settings when
	 * it loads; without them this is no Citus server, and a statement (say, a
	 * tracked table's event insert) pays for no scan of its text.
	 */
	if (GetConfigOption("citus.enable_unsafe_triggers", true, false) == NULL)
		return false;
	if (queryDesc->operation == CMD_SELECT && !queryDesc->plannedstmt->hasModifyingCTE)
		return false;
	if (queryDesc->operation == CMD_UTILITY || queryDesc->operation == CMD_UNKNOWN)
		return false;
	/* A worker running a shard's task for the coordinator: the coordinator settles. */
	app = GetConfigOption("application_name", true, false);
	if (app != NULL && strncmp(app, "citus_internal", 14) == 0)
		return false;
	return true;
}

static void
settle(int what)
{
	if (!IsTransactionState() || IsAbortedTransactionBlockState() || creating_extension)
		return;
	if (!OidIsValid(get_extension_oid("citus", true)) || !OidIsValid(get_extension_oid("csm", true)))
		return;
	settling = true;
	/* A SELECT's portal has dropped its snapshot by now. */
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(what == 2 ? "SELECT csm_internal._settle_conversations(true)"
						: "SELECT csm_internal._settle_conversations(false)", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "csm_internal._settle_conversations() failed");
		SPI_finish();
		PopActiveSnapshot();
	}
	PG_FINALLY();
	{
		settling = false;
	}
	PG_END_TRY();
}

/*
 * At the end of each statement, nested ones included (as an AFTER trigger
 * would fire), so that an error (an agent at the limit) is raised by the
 * statement that caused it, inside the caller's exception handler.  After
 * ExecutorEnd, not ExecutorFinish: until Citus ends the statement's scan it
 * holds the statement's connections, and a query now would read the
 * workers over other connections, which do not see what the shards' triggers
 * wrote.
 */
static void
csm_executor_end(QueryDesc *queryDesc)
{
	int			what = settle_applies(queryDesc) ? watched_tables(queryDesc->sourceText) : 0;

	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);

	if (what > 0)
		settle(what);
}

/* Called from _PG_init. */
void
csm_install_settle_hook(void)
{
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = csm_executor_end;
}
