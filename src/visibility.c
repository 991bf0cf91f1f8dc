/*
 * visibility.c: per-CSM visibility for csm's writers in C.
 *
 * csm_assign and csm_auto_assign read csm.account as csm's owner (they are
 * SECURITY DEFINER), which row-level security does not restrict.  With
 * csm.enable_row_security() in effect, an account outside the caller's book
 * must be as unknown to them as to a SELECT: csm_internal._require_visible() (see
 * src/sql/95_platform/93_visibility.sql) raises the same P0002 as an account that does
 * not exist.  A statement of its own, run on the node the call came to, so
 * that on Citus it never runs inside a query on a shard.
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"

#include "csm.h"

/* Call inside an SPI connection; clobbers SPI_tuptable. */
void
csm_require_visible(Datum external_id)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = external_id;
	if (SPI_execute_with_args("SELECT csm_internal._require_visible($1)", 1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "csm: csm_internal._require_visible failed");
}
