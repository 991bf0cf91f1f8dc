/*
 * progress.c: NOTICEs of a long refresh's progress at every 10%.
 *
 * A refresh of 10,000 rows or more whose client wants them (its
 * client_min_messages is notice or lower) calls csm._progress_start(total)
 * and puts csm._progress(label, id) in its statement's select list: a
 * counter per row, and a NOTICE when it passes the next tenth of total. A refresh whose client does not want
 * them leaves both out of its statement, so they cost nothing there.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "csm.h"

/* refreshes of fewer rows report no progress */
#define CSM_PROGRESS_MIN_ROWS 10000

PG_FUNCTION_INFO_V1(csm_progress_start);
PG_FUNCTION_INFO_V1(csm_progress);

/* the refresh under way */
static struct
{
	int64		total;
	int64		done;
	int			next;			/* the next tenth to report */
}			progress = {0, 0, 1};

Datum
csm_progress_start(PG_FUNCTION_ARGS)
{
	progress.total = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	progress.done = 0;
	progress.next = 1;
	if (progress.total < CSM_PROGRESS_MIN_ROWS)
		progress.total = 0;		/* a short refresh: no NOTICEs */
	PG_RETURN_BOOL(progress.total > 0);
}

Datum
csm_progress(PG_FUNCTION_ARGS)
{
	progress.done++;
	if (progress.total > 0 && progress.next <= 10 &&
		progress.done * 10 >= progress.total * progress.next)
	{
		int			pct;

		while (progress.next <= 10 && progress.done * 10 >= progress.total * progress.next)
			progress.next++;
		pct = (progress.next - 1) * 10;
		ereport(NOTICE,
				(errmsg("%s: %d%% (" INT64_FORMAT " of " INT64_FORMAT ")",
						PG_ARGISNULL(0) ? "csm" : text_to_cstring(PG_GETARG_TEXT_PP(0)),
						pct, progress.done, progress.total)));
	}
	PG_RETURN_BOOL(true);
}
