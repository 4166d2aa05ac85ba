/*
 * sim_wait.c
 *	  mobisign._wait_final(): sleep on the backend's latch in short steps,
 *	  re-reading the transaction's state in a fresh snapshot each time, until
 *	  it is final or the timeout passes.  Query cancel and termination are
 *	  honoured at every step (CHECK_FOR_INTERRUPTS).
 *
 *	  mobisign._wake_worker(): asks the background worker to wake when the
 *	  calling transaction commits.
 *
 * Invariant: the outcome comes from the transaction's row only.  The wait
 * does not LISTEN and reads no notification: any role that can connect may
 * send NOTIFY mobisign with any payload (a forged "status": 502 included),
 * so a payload is at most a hint to look, never a result.  The latch is
 * only a wake-up; after every wake-up the row is read again.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "bgworker.h"
#include "sim_wait.h"
#include "worker_wake.h"
#include "spi_row.h"

/* Poll interval: starts short (answers often arrive within a second) */
#define MS_WAIT_MIN_MS 20
#define MS_WAIT_MAX_MS 250

/* Returns true if final, false if still open; ERROR if the row is gone. */
static bool
transaction_is_final(Datum id)
{
	Oid			argtypes[1] = {UUIDOID};
	Datum		values[1];
	int			ret;
	bool		isnull;
	bool		final;

	values[0] = id;
	/* read_only = false: a new snapshot for every execution */
	ret = SPI_execute_with_args("SELECT NOT mobisign._is_open(t.state) AS final FROM mobisign.transaction t WHERE t.id = $1",
								1, argtypes, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("transaction does not exist")));
	/* the open states have their home in SQL: mobisign._is_open() */
	final = DatumGetBool(ms_spi_datum(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, "final", &isnull));
	SPI_freetuptable(SPI_tuptable);
	return final;
}

/*
 * mobisign._wait_final(transaction_id uuid, timeout interval) RETURNS boolean
 * true when the transaction is final, false at the timeout.
 */
PG_FUNCTION_INFO_V1(ms_wait_final);
Datum
ms_wait_final(PG_FUNCTION_ARGS)
{
	Datum		id = PG_GETARG_DATUM(0);
	Interval   *timeout = PG_GETARG_INTERVAL_P(1);
	TimestampTz deadline;
	TimestampTz start;
	long		step = MS_WAIT_MIN_MS;
	bool		final = false;
	int64		tmo_us;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mobisign_wait() requires the READ COMMITTED isolation level"),
				 errdetail("In REPEATABLE READ or SERIALIZABLE transactions the worker's commit would never become visible."),
				 errhint("Call mobisign_wait() outside an explicit transaction, or use LISTEN mobisign.")));

	tmo_us = timeout->time + (int64) timeout->day * USECS_PER_DAY +
		(int64) timeout->month * DAYS_PER_MONTH * USECS_PER_DAY;
	if (tmo_us < 0)
		tmo_us = 0;
	if (tmo_us > (int64) 3600 * USECS_PER_SEC)
		tmo_us = (int64) 3600 * USECS_PER_SEC;
	start = GetCurrentTimestamp();
	deadline = start + tmo_us;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	for (;;)
	{
		TimestampTz now;
		long		remain_ms;

		CHECK_FOR_INTERRUPTS();
		if (transaction_is_final(id))
		{
			final = true;
			break;
		}
		now = GetCurrentTimestamp();
		if (now >= deadline)
			break;
		remain_ms = (long) ((deadline - now + 999) / 1000);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(step, remain_ms),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (step < MS_WAIT_MAX_MS)
			step = Min(step * 2, MS_WAIT_MAX_MS);
	}

	SPI_finish();
	PG_RETURN_BOOL(final);
}

/* mobisign._require_worker() RETURNS void */
PG_FUNCTION_INFO_V1(ms_require_worker);
Datum
ms_require_worker(PG_FUNCTION_ARGS)
{
	ms_worker_require_preload();
	PG_RETURN_VOID();
}

/* mobisign._wake_worker() RETURNS void */
PG_FUNCTION_INFO_V1(ms_wake_worker);
Datum
ms_wake_worker(PG_FUNCTION_ARGS)
{
	ms_worker_wake_at_commit();
	PG_RETURN_VOID();
}
