/*-------------------------------------------------------------------------
 *
 * spi_row.c
 *	  Column reads of SPI result rows by name (see spi_row.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"

#include "spi_row.h"

int
ms_spi_fnumber(TupleDesc td, const char *name)
{
	int			col = SPI_fnumber(td, name);

	if (col <= 0)
		elog(ERROR, "query result has no column \"%s\"", name);
	return col;
}

Datum
ms_spi_datum(HeapTuple tup, TupleDesc td, const char *name, bool *isnull)
{
	return SPI_getbinval(tup, td, ms_spi_fnumber(td, name), isnull);
}

char *
ms_spi_text(HeapTuple tup, TupleDesc td, const char *name)
{
	return SPI_getvalue(tup, td, ms_spi_fnumber(td, name));
}

/* SPI_getbinval gives (Datum) 0 for NULL: false, 0 */
static Datum
value(HeapTuple tup, TupleDesc td, const char *name)
{
	bool		isnull;

	return ms_spi_datum(tup, td, name, &isnull);
}

bool
ms_spi_bool(HeapTuple tup, TupleDesc td, const char *name)
{
	return DatumGetBool(value(tup, td, name));
}

int32
ms_spi_int32(HeapTuple tup, TupleDesc td, const char *name)
{
	return DatumGetInt32(value(tup, td, name));
}

int64
ms_spi_int64(HeapTuple tup, TupleDesc td, const char *name)
{
	return DatumGetInt64(value(tup, td, name));
}

SPIPlanPtr
ms_spi_prepare_once(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
		*slot = plan;
	}
	return *slot;
}

void
ms_spi_run_once(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes,
				Datum *values, const char *nulls)
{
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_plan(ms_spi_prepare_once(slot, sql, nargs, argtypes), values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
	SPI_finish();
}
