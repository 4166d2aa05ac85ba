/*-------------------------------------------------------------------------
 *
 * xact_unit.h
 *	  Running one unit of work in a subtransaction or a transaction of its
 *	  own, so that its failure undoes only itself.
 *
 * Invariants: on return the caller's memory context and resource owner are
 * current again, whatever happened; an error never escapes (it is handed
 * back or reported as the caller says); the error state is flushed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_XACT_UNIT_H
#define MOBISIGN_XACT_UNIT_H

#include "postgres.h"

typedef void (*MsUnitFn) (void *arg);

/*
 * Run fn(arg) in an internal subtransaction of the current transaction.
 * NULL when it succeeded (its effects stay); otherwise the subtransaction
 * is rolled back and the error is returned, copied into the caller's
 * memory context (FreeErrorData() it when done).
 */
extern ErrorData *ms_run_in_subtransaction(MsUnitFn fn, void *arg);

/*
 * Background processes only (no transaction open): run fn(arg) in a
 * transaction of its own with SPI connected and a snapshot, activity shown
 * in pg_stat_activity.  true when it committed.  On error the transaction
 * is aborted and report(activity, error) is called (the error copied into
 * the caller's context); with report NULL the error is logged as raised.
 */
typedef void (*MsUnitErrorFn) (const char *activity, ErrorData *edata);
extern bool ms_run_in_transaction(const char *activity, MsUnitFn fn, void *arg,
								  MsUnitErrorFn report);

#endif							/* MOBISIGN_XACT_UNIT_H */
