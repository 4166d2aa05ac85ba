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
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "sql_fn.h"

/*
 * Row descriptors by function OID, for the whole backend: building one from
 * pg_proc (get_call_result_type) costs more than a copy, and each statement
 * that calls a function starts with a fresh FmgrInfo.  Any change to
 * pg_proc empties the table (a syscache callback); each call site gets its
 * own copy (fn_extra), so emptying it frees nothing in use.  mobisign's
 * row-returning functions have no polymorphic arguments, so the row type
 * depends on the function alone.
 */
typedef struct RowTypeEntry
{
	Oid			fn_oid;			/* hash key */
	TupleDesc	tupdesc;		/* blessed, in row_cxt */
} RowTypeEntry;

static MemoryContext row_cxt = NULL;
static HTAB *row_types = NULL;

static void
row_types_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	/* the table's own context is a child of row_cxt */
	row_types = NULL;
	MemoryContextReset(row_cxt);
}

/* the blessed row type of fn_oid, from the table or pg_proc */
static TupleDesc
row_type_of(FunctionCallInfo fcinfo, Oid fn_oid)
{
	RowTypeEntry *e;
	bool		found;
	TupleDesc	tupdesc;
	TupleDesc	copy;
	MemoryContext old;

	if (row_types == NULL)
	{
		HASHCTL		ctl = {.keysize = sizeof(Oid),.entrysize = sizeof(RowTypeEntry)};

		if (row_cxt == NULL)
		{
			row_cxt = AllocSetContextCreate(TopMemoryContext, "mobisign row types",
											ALLOCSET_SMALL_SIZES);
			CacheRegisterSyscacheCallback(PROCOID, row_types_reset, (Datum) 0);
		}
		ctl.hcxt = row_cxt;
		row_types = hash_create("mobisign row types", 32, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	e = hash_search(row_types, &fn_oid, HASH_FIND, NULL);
	if (e != NULL)
		return e->tupdesc;
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	/* blessed first: nothing after the copy can reach the callback */
	tupdesc = BlessTupleDesc(tupdesc);
	old = MemoryContextSwitchTo(row_cxt);
	copy = CreateTupleDescCopy(tupdesc);
	MemoryContextSwitchTo(old);
	/* (pg_proc may have changed meanwhile: the table is then empty, and refilled) */
	if (row_types == NULL)
		return copy;
	e = hash_search(row_types, &fn_oid, HASH_ENTER, &found);
	e->tupdesc = copy;
	return copy;
}

TupleDesc
ms_result_row(FunctionCallInfo fcinfo)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	TupleDesc	tupdesc;
	MemoryContext old;

	if (flinfo != NULL && flinfo->fn_extra != NULL)
		return (TupleDesc) flinfo->fn_extra;
	if (flinfo == NULL || !OidIsValid(flinfo->fn_oid))
	{
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		return BlessTupleDesc(tupdesc);
	}
	tupdesc = row_type_of(fcinfo, flinfo->fn_oid);
	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	tupdesc = CreateTupleDescCopy(tupdesc);
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
