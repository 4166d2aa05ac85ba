/*-------------------------------------------------------------------------
 *
 * worker_wake.c
 *	  The wake-up at commit (see worker_wake.h): runs in every backend that
 *	  queues a request, never in the worker.
 *
 * Invariants: the worker's latch is set only when the queuing transaction
 * commits (an abort or PREPARE wakes nobody: the worker's safety-net poll
 * finds a prepared transaction once it commits); at most one callback is
 * registered per backend; the worker woken is the one of the backend's own
 * database, its shared entry read under its spinlock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/spin.h"

#include "bgworker.h"
#include "worker_wake.h"

/* wake-at-commit state of this backend */
static bool xact_callback_registered = false;
static bool wake_pending = false;

static void
ms_worker_set_latch(void)
{
	MsWorkerShared *e = ms_worker_entry_lock(MyDatabaseId);
	int			procno;

	if (e == NULL)
		return;
	procno = e->procno;
	e->counters[MS_C_WAKEUPS]++;
	SpinLockRelease(&e->mutex);
	ms_set_proc_latch(procno);
}

static void
ms_worker_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_pending)
			{
				wake_pending = false;
				ms_worker_set_latch();
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* a prepared transaction is found by the safety-net poll */
			wake_pending = false;
			break;
		default:
			break;
	}
}

void
ms_worker_wake_at_commit(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(ms_worker_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_pending = true;
}
