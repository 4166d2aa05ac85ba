/*-------------------------------------------------------------------------
 *
 * sql_fn.c
 *	  Result rows and required arguments of SQL-callable functions (see
 *	  sql_fn.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"

#include "sql_fn.h"

TupleDesc
ms_result_row(FunctionCallInfo fcinfo)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	TupleDesc	tupdesc;
	MemoryContext old;

	if (flinfo != NULL && flinfo->fn_extra != NULL)
		return (TupleDesc) flinfo->fn_extra;
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (flinfo == NULL)
		return BlessTupleDesc(tupdesc);
	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
	MemoryContextSwitchTo(old);
	flinfo->fn_extra = tupdesc;
	return tupdesc;
}

Datum
ms_result_datum(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	return HeapTupleGetDatum(heap_form_tuple(ms_result_row(fcinfo), values, nulls));
}

void
ms_require_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}
