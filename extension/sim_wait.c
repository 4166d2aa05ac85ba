/*
 * sim_wait.c
 *	  Waiting for a transaction to become final, and waking the worker.
 *
 *	  mobisign._wait_final() (behind the function mobisign_wait()): sleep on
 *	  the backend's latch in short steps, re-reading the transaction's state
 *	  in a fresh snapshot each time, until it is final or the timeout passes.
 *	  A function runs inside its caller's statement, whose snapshot stays
 *	  registered for the whole wait: the backend's xmin holds back vacuum's
 *	  horizon for every table of the database while it waits.
 *
 *	  mobisign_await() (a procedure, CALL only): the same wait holding no
 *	  snapshot at all between re-reads.  It forgets the CALL's portal
 *	  snapshots (the one it was called with, and the one SPI back-fills for
 *	  each read) as a COMMIT inside a procedure does, drops the catalog
 *	  snapshot after every read, and refuses
 *	  to start if any other snapshot is active or registered (a cursor, a
 *	  REPEATABLE READ transaction, a call from inside a function or query):
 *	  the caller's view of the data would otherwise go stale under vacuum.
 *	  It has no output parameters: for a CALL that returns a row the portal
 *	  registers its snapshot for the whole call, which is what it must avoid.
 *
 *	  Query cancel and termination are honoured at every step
 *	  (CHECK_FOR_INTERRUPTS).
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
#include "tcop/pquery.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "bgworker.h"
#include "policy.h"
#include "sim_wait.h"
#include "worker_wake.h"
#include "spi_row.h"

static void drop_portal_snapshots(void);

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
	/* the open states: MS_OPEN_STATES, read through mobisign._is_open() */
	final = DatumGetBool(ms_spi_datum(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, "final", &isnull));
	SPI_freetuptable(SPI_tuptable);
	return final;
}

/* One wait: which transaction, until when, and whether to hold snapshots. */
typedef struct MsWait
{
	Datum		id;				/* uuid */
	TimestampTz deadline;
	bool		hold_no_snapshot;	/* mobisign_await(): drop each one */
} MsWait;

/* Both waits run only where the worker's commit can become visible. */
static void
require_read_committed(const char *what)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s requires the READ COMMITTED isolation level", what),
				 errdetail("In REPEATABLE READ or SERIALIZABLE transactions the worker's commit would never become visible."),
				 errhint("Call %s outside an explicit transaction, or use LISTEN mobisign.", what)));
}

/* The wait's end: now + timeout (its duration: policy.h), clamped to [0, 1 hour]. */
static TimestampTz
wait_deadline(const Interval *timeout)
{
	double		secs = ms_duration_seconds(timeout);

	if (secs < 0)
		secs = 0;
	if (secs > 3600)
		secs = 3600;
	return GetCurrentTimestamp() + (int64) (secs * USECS_PER_SEC);
}

/*
 * Sleep and re-read until the transaction is final (true) or the deadline
 * passes (false).  SPI must be connected.
 */
static bool
wait_until_final(const MsWait *w)
{
	long		step = MS_WAIT_MIN_MS;

	for (;;)
	{
		TimestampTz now;
		long		remain_ms;

		CHECK_FOR_INTERRUPTS();
		if (transaction_is_final(w->id))
			return true;
		if (w->hold_no_snapshot)
			drop_portal_snapshots();
		now = GetCurrentTimestamp();
		if (now >= w->deadline)
			return false;
		remain_ms = (long) ((w->deadline - now + 999) / 1000);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(step, remain_ms),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (step < MS_WAIT_MAX_MS)
			step = Min(step * 2, MS_WAIT_MAX_MS);
	}
}

/*
 * mobisign._wait_final(transaction_id uuid, timeout interval) RETURNS boolean
 * true when the transaction is final, false at the timeout.
 */
PG_FUNCTION_INFO_V1(ms_wait_final);
Datum
ms_wait_final(PG_FUNCTION_ARGS)
{
	MsWait		w;
	bool		final;

	require_read_committed("mobisign_wait()");
	w.id = PG_GETARG_DATUM(0);
	w.deadline = wait_deadline(PG_GETARG_INTERVAL_P(1));
	w.hold_no_snapshot = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	final = wait_until_final(&w);
	SPI_finish();
	PG_RETURN_BOOL(final);
}

/*
 * Give up the snapshots of the CALL's portal: the one PortalRunUtility
 * pushed, and the one SPI back-fills for every statement it runs
 * (EnsurePortalSnapshotExists).  ForgetPortalSnapshots() is what a COMMIT
 * inside a procedure does; PortalRunUtility tolerates the empty stack.
 * Then the catalog snapshot goes, and nothing else may remain.
 */
static void
drop_portal_snapshots(void)
{
	ForgetPortalSnapshots();
	InvalidateCatalogSnapshot();
	if (HaveRegisteredOrActiveSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mobisign_await() must be called without an active or registered snapshot"),
				 errdetail("A cursor is open or a snapshot is registered; waiting would hold it for the whole wait."),
				 errhint("Close cursors before the CALL, or use SELECT * FROM mobisign_wait(...) where holding the snapshot is acceptable.")));
}

/*
 * Only a CALL whose active snapshot is its own portal's may wait without
 * one: not from inside a query or a function (their snapshots belong to
 * the executor, not to a portal), nor with a cursor open.
 */
static void
release_call_snapshot(void)
{
	if (ActiveSnapshotSet() &&
		(ActivePortal == NULL || ActivePortal->portalSnapshot != GetActiveSnapshot()))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mobisign_await() must be called without an active or registered snapshot"),
				 errdetail("It was called from inside a query or a function; waiting there would hold the caller's snapshot for the whole wait."),
				 errhint("Use CALL mobisign_await(...) as a statement of its own, or SELECT * FROM mobisign_wait(...) where holding the snapshot is acceptable.")));
	drop_portal_snapshots();
}

/*
 * PROCEDURE mobisign_await(transaction_id uuid, timeout interval)
 * Waits like mobisign_wait() without holding a snapshot.  It returns
 * nothing: a procedure with output parameters makes its portal hold a
 * registered snapshot while it runs, for the result row; the caller reads
 * the outcome with mobisign_status() afterwards.
 */
PG_FUNCTION_INFO_V1(ms_await);
Datum
ms_await(PG_FUNCTION_ARGS)
{
	MsWait		w;
	Oid			argtypes[2] = {UUIDOID, INTERVALOID};
	Datum		values[2];
	int			ret;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("transaction_id must not be null")));
	require_read_committed("mobisign_await()");
	release_call_snapshot();

	w.id = PG_GETARG_DATUM(0);
	w.hold_no_snapshot = true;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the timeout's rule and visibility: the same step as mobisign_wait() */
	values[0] = w.id;
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	ret = SPI_execute_with_args("SELECT mobisign._wait_check($1, $2)", 2, argtypes, values,
								PG_ARGISNULL(1) ? " n" : NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	drop_portal_snapshots();
	w.deadline = wait_deadline(PG_GETARG_INTERVAL_P(1));

	(void) wait_until_final(&w);
	SPI_finish();
	PG_RETURN_VOID();
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
