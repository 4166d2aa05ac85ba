/*
 * sim_wait.h
 *	  Waiting for a transaction to become final (mobisign_wait) and waking
 *	  the worker at commit.
 */
#ifndef MOBISIGN_SIM_WAIT_H
#define MOBISIGN_SIM_WAIT_H

#include "postgres.h"

#include "fmgr.h"

/*
 * The file's interface is SQL:
 *
 * mobisign._wait_final(transaction_id uuid, timeout interval) -> boolean:
 *		true once the transaction is final, false at the timeout.
 * mobisign._wake_worker(): wake the worker when the current transaction
 *		commits (only then).
 * mobisign._require_worker(): ERROR 55000 unless the library was preloaded
 *		and the worker can run.
 */
extern Datum ms_wait_final(PG_FUNCTION_ARGS);
extern Datum ms_wake_worker(PG_FUNCTION_ARGS);
extern Datum ms_require_worker(PG_FUNCTION_ARGS);

#endif
