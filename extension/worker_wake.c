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
 * Wake-ups are coalesced: the first committing writer after the worker's
 * last turn began sets the entry's wake_pending and the latch; writers that
 * find wake_pending already set do not signal again (at 2,000 requests a
 * second, one SetLatch and one worker turn each cost more than the request's
 * claim).  No request is left unseen: a writer tests the flag after its
 * commit is visible (XACT_EVENT_COMMIT), under the entry's spinlock; the
 * worker clears the flag under the same spinlock (ms_worker_take_wake(), in
 * worker_main.c's wait step) after every wait and only then claims, in a
 * new transaction.  A writer that found the flag set therefore committed
 * before that clear, so the claim after it sees its row; and the flag was
 * set by a writer that set the latch after setting it, so that turn comes
 * even when a wait inside a turn (a lock wait, a synchronous-replication
 * commit wait: both reset MyLatch) ate that SetLatch: the worker looks at
 * the flag before it sleeps (ms_worker_flag_waiting()), never at the latch
 * alone.
 * A claim that fills the window leaves claim_wanted set (worker_main.c),
 * so a burst larger than one claim is claimed over the next turns.  A new
 * worker clears a flag left while none ran and claims at once
 * (ms_worker_claim_entry()).  worker_stats.wakeups still counts every
 * committing writer's request.
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
	bool		signal;

	if (e == NULL)
		return;
	procno = e->procno;
	e->counters[MS_C_WAKEUPS]++;
	signal = !e->wake_pending;
	e->wake_pending = true;
	SpinLockRelease(&e->mutex);
	if (signal)
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
