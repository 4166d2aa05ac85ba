/*-------------------------------------------------------------------------
 *
 * sql_fn.h
 *	  Plumbing shared by the SQL-callable C functions: the row they return
 *	  and the arguments that must be given.
 *
 * Invariants: a function declared to return a record gets a blessed
 * descriptor or a programming-error ERROR; a required argument that is
 * NULL is refused with SQLSTATE 22004 and the argument's name, before
 * anything is read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_SQL_FN_H
#define MOBISIGN_SQL_FN_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"

/*
 * The blessed descriptor of the row the function returns, looked up once per
 * call site and kept in fcinfo->flinfo->fn_extra (a function that uses this
 * keeps nothing else there; its row type cannot change for a call site), and
 * built once per backend and function OID until pg_proc changes (such a
 * function takes no polymorphic argument: its row type is its own).
 */
extern TupleDesc ms_result_row(FunctionCallInfo fcinfo);

/* The row the function returns, made of values and nulls, as its result. */
extern Datum ms_result_datum(FunctionCallInfo fcinfo, Datum *values, bool *nulls);

/* ERROR "<name> must not be NULL" (22004) when argument n is NULL. */
extern void ms_require_arg(FunctionCallInfo fcinfo, int n, const char *name);

#endif							/* MOBISIGN_SQL_FN_H */
