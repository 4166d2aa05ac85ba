/*-------------------------------------------------------------------------
 *
 * audit_insert.h
 *	  One row into mobisign.audit without SQL: the executor's simple-insert
 *	  path (ExecSimpleRelationInsert, as logical replication applies a row),
 *	  for the audit writer (audit_log.h), which every verification calls.
 *
 * Invariants: the row is exactly what the INSERT of audit_log.c would
 * store: the table's own defaults (identity id, at, actor) are evaluated,
 * its NOT NULL and CHECK constraints are checked and every index is
 * maintained; INSERT privilege is checked as the INSERT checks it (the
 * columns given), a read-only or parallel transaction is refused as it is
 * refused.  Kept between calls: the compiled default, CHECK and
 * partial-index predicate expressions (per backend), and within one
 * transaction the executor state of the write (range table, result
 * relation with its indexes' information, a slot on a copy of the row
 * type); both are dropped on any relcache invalidation of the table or its
 * indexes, the executor state also at the transaction's end and when a
 * subtransaction aborts.  Between rows nothing holds a relation reference
 * or a resource-owner resource: every row opens the table and its indexes
 * (checking they are the relcache entries the state was made with) and
 * closes them, keeping their RowExclusiveLock to the transaction's end, so
 * DDL between two rows finds the table not in use and the next row sees
 * its effect.  A table with anything this path does not do (a trigger, row
 * level security, partitioning, a deferrable index, a column it does not
 * know) is left to the SQL INSERT: ms_audit_insert_direct() returns false.
 * Writers only insert and take no lock besides the INSERT's own
 * (RowExclusiveLock): the chain is made later by mobisign.audit_seal() in
 * id order, as for rows the SQL INSERT writes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_AUDIT_INSERT_H
#define MOBISIGN_AUDIT_INSERT_H

#include "postgres.h"

/* the columns a writer gives, in this order (values/nulls below) */
typedef enum MsAuditColumn
{
	MS_AUDIT_OPERATION,
	MS_AUDIT_OUTCOME,
	MS_AUDIT_DETAIL,
	MS_AUDIT_TRANSACTION_ID,
	MS_AUDIT_APPLICATION,
	MS_AUDIT_NCOLUMNS
} MsAuditColumn;

/*
 * Insert one row (values already as stored: text with a UTF-8 form, a
 * detail); *id is its id.  false, with nothing done, when the table needs
 * the SQL INSERT (see above).
 */
extern bool ms_audit_insert_direct(const Datum *values, const bool *nulls, int64 *id);

/* _PG_init: the callbacks that keep the table's shape and target current */
extern void ms_audit_insert_init(void);

#endif							/* MOBISIGN_AUDIT_INSERT_H */
