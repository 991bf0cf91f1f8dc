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

static int64 progress_total = 0;
static int64 progress_done = 0;
static int	progress_next = 1;		/* the next tenth to report */

PG_FUNCTION_INFO_V1(csm_progress_start);
Datum
csm_progress_start(PG_FUNCTION_ARGS)
{
	progress_total = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	progress_done = 0;
	progress_next = 1;
	if (progress_total < CSM_PROGRESS_MIN_ROWS)
		progress_total = 0;		/* a short refresh: no NOTICEs */
	PG_RETURN_BOOL(progress_total > 0);
}

PG_FUNCTION_INFO_V1(csm_progress);
Datum
csm_progress(PG_FUNCTION_ARGS)
{
	progress_done++;
	if (progress_total > 0 && progress_next <= 10 &&
		progress_done * 10 >= progress_total * progress_next)
	{
		int			pct;

		while (progress_next <= 10 && progress_done * 10 >= progress_total * progress_next)
			progress_next++;
		pct = (progress_next - 1) * 10;
		ereport(NOTICE,
				(errmsg("%s: %d%% (" INT64_FORMAT " of " INT64_FORMAT ")",
						PG_ARGISNULL(0) ? "csm" : text_to_cstring(PG_GETARG_TEXT_PP(0)),
						pct, progress_done, progress_total)));
	}
	PG_RETURN_BOOL(true);
}
