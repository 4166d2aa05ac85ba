/*-------------------------------------------------------------------------
 *
 * spi_row.h
 *	  Reading the columns of an SPI result row by name.
 *
 * Every C file that reads SPI results names the columns it wants (the
 * query's column names or aliases), so a query can gain, lose or reorder
 * columns without silently shifting what is read.  A name the result does
 * not have is a programming error: ERROR, never a default value.
 * Statements run at every call are prepared once per backend
 * (ms_spi_prepare_once): parsing and planning cost more than most of what
 * they do.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_SPI_ROW_H
#define MOBISIGN_SPI_ROW_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/spi.h"

/* the column number of name in td (ERROR if there is none) */
extern int	ms_spi_fnumber(TupleDesc td, const char *name);

/* the binary value of column name; *isnull says whether it is NULL */
extern Datum ms_spi_datum(HeapTuple tup, TupleDesc td, const char *name, bool *isnull);

/* column name as a C string in the output format of its type; NULL if NULL */
extern char *ms_spi_text(HeapTuple tup, TupleDesc td, const char *name);

/* typed reads; NULL reads as false or 0 (the query makes such columns NOT NULL) */
extern bool ms_spi_bool(HeapTuple tup, TupleDesc td, const char *name);
extern int32 ms_spi_int32(HeapTuple tup, TupleDesc td, const char *name);
extern int64 ms_spi_int64(HeapTuple tup, TupleDesc td, const char *name);

/*
 * The plan in *slot, prepared (and kept: SPI_keepplan) at the first call;
 * inside SPI.  The plan is revalidated by PostgreSQL as usual.
 */
extern SPIPlanPtr ms_spi_prepare_once(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes);

/*
 * Run a statement prepared once (see above) with the given arguments
 * (nulls: ' ' or 'n' per argument, as SPI_execute_plan), in its own SPI
 * connection; its results are discarded.
 */
extern void ms_spi_run_once(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes,
							Datum *values, const char *nulls);

#endif							/* MOBISIGN_SPI_ROW_H */
