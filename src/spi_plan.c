/*
 * spi_plan.c: SPI plans prepared once per backend and kept.
 */
#include "postgres.h"

#include "executor/spi.h"

#include "csm.h"

/*
 * Prepares sql into *plan the first time and keeps it for the backend's
 * life; generic, since its parameters change with every call.
 */
SPIPlanPtr
csm_prepare_once(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "csm: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}
