/*
 * csm.c: module entry point and settings (GUCs).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "csm.h"

PG_MODULE_MAGIC;

int			csm_rollup_stripes = 16;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("csm.rollup_stripes",
							"Number of counter rows per account and day that concurrent writers spread over.",
							"More stripes mean less waiting between sessions that write the same account; "
							"readers sum them, so any value gives the same totals.",
							&csm_rollup_stripes,
							16, 1, 1024,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("csm");
}
