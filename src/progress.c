/*
 * progress.c: NOTICEs of a long refresh's progress at every 10%.
 *
 * The one mechanism every long refresh shares.  A refresh calls
 * csm_internal._progress_begin(label, total) (src/sql/95_platform/92_settings.sql) once: when
 * its client wants notices (client_min_messages notice or lower), on a
 * single node, with 10,000 active accounts or more, that starts counting
 * towards total units of work here (csm_internal._progress_start); else it counts
 * nothing.  The units are counted where the work is done, by label: one per
 * row by csm_internal._progress(label, id) in the select list of a per-account
 * statement (its accounts), or n at a time by csm_internal._progress_add(label, n)
 * after a step (an alert kind, a playbook, a statement).  A count under
 * another label than the refresh under way is ignored, so a helper shared
 * by several refreshes counts only for the one that counts its steps.  A
 * NOTICE "label: N% (done of total)" goes out each time the count passes
 * another tenth of total.  The count ends with the transaction.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "csm.h"

PG_FUNCTION_INFO_V1(csm_progress_start);
PG_FUNCTION_INFO_V1(csm_progress);
PG_FUNCTION_INFO_V1(csm_progress_add);

/* the refresh under way (total 0: none) */
static struct
{
	char		label[NAMEDATALEN];
	int64		total;
	int64		done;
	int			next;			/* the next tenth to report */
}			progress = {"", 0, 0, 1};

/* A count does not outlive its transaction (a refresh that failed midway). */
static void
progress_xact_end(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		progress.total = 0;
}

/* Whether label names the refresh under way. */
static bool
progress_counts(FunctionCallInfo fcinfo)
{
	text	   *label;

	if (progress.total <= 0 || PG_ARGISNULL(0))
		return false;
	label = PG_GETARG_TEXT_PP(0);
	return VARSIZE_ANY_EXHDR(label) == strlen(progress.label) &&
		memcmp(VARDATA_ANY(label), progress.label, VARSIZE_ANY_EXHDR(label)) == 0;
}

/* Counts n units, with a NOTICE for each tenth of total passed. */
static void
progress_count(int64 n)
{
	int			before = progress.next;

	if (n <= 0 || progress.next > 10)
		return;
	progress.done += n;
	while (progress.next <= 10 && progress.done * 10 >= progress.total * progress.next)
		progress.next++;
	if (progress.next != before)
		ereport(NOTICE,
				(errmsg("%s: %d%% (" INT64_FORMAT " of " INT64_FORMAT ")",
						progress.label, (progress.next - 1) * 10, progress.done, progress.total)));
}

/* csm_internal._progress_start(label, total): counts towards total under label; true when total > 0. */
Datum
csm_progress_start(PG_FUNCTION_ARGS)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(progress_xact_end, NULL);
		registered = true;
	}
	progress.total = 0;
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_GETARG_INT64(1) <= 0)
		PG_RETURN_BOOL(false);
	text_to_cstring_buffer(PG_GETARG_TEXT_PP(0), progress.label, sizeof(progress.label));
	progress.total = PG_GETARG_INT64(1);
	progress.done = 0;
	progress.next = 1;
	PG_RETURN_BOOL(true);
}

/* csm_internal._progress(label, id): counts one row (id: its account); always true. */
Datum
csm_progress(PG_FUNCTION_ARGS)
{
	if (progress_counts(fcinfo))
		progress_count(1);
	PG_RETURN_BOOL(true);
}

/* csm_internal._progress_add(label, n): counts n units at once. */
Datum
csm_progress_add(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(1) && progress_counts(fcinfo))
		progress_count(PG_GETARG_INT64(1));
	PG_RETURN_VOID();
}
