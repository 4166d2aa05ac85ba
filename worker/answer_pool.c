/*-------------------------------------------------------------------------
 *
 * answer_pool.c
 *	  The answer verifiers (see answer_pool.h): the owner's side (launch,
 *	  wake, stop) and the verifier's loop.
 *
 * A verifier is a dynamic background worker ("mobisign verifier") connected
 * to the owner's database.  Its loop: claim a batch of answers and handle
 * them in one transaction (ms_queue_verify_answers), again at once while
 * batches come back full, else sleep until the owner sets its latch (new
 * answers stored) or a second has passed.  The verifier of slot 0 keeps
 * house as well (housekeeping.h): between two claims, one batch of expiry,
 * audit sealing or queue cleanup when one is due, so that the SMPP worker
 * does not.  It exits (code 0) when told to
 * (SIGTERM: after the batch in progress), when the owner that launched it is no
 * longer running, or when the postmaster dies.  Nothing is kept in memory
 * between batches: what a verifier has not committed is still in
 * mobisign.answer_queue.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "answer_pool.h"
#include "bgworker.h"
#include "housekeeping.h"
#include "queue.h"

#define MS_MAX_VERIFIERS 16
#define MS_VERIFIER_NAPTIME_MS 1000
#define MS_HOUSEKEEPER_SLOT 0		/* the verifier that keeps house */

static int	answer_workers = 2;

/* owner only: one slot per verifier it launched */
static BackgroundWorkerHandle *slots[MS_MAX_VERIFIERS];
static TimestampTz launch_failed_at = 0;

void
ms_answer_pool_init(void)
{
	DefineCustomIntVariable("mobisign.answer_workers",
							"Number of background workers that verify the SIMs' answers.",
							"0: the SMPP worker verifies the answers itself, one batch at a time.",
							&answer_workers,
							2, 0, MS_MAX_VERIFIERS,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}

/* ---- the owner's side ---------------------------------------------------- */

/* the slot's verifier pid, or 0 when it has not started or has stopped */
static pid_t
slot_pid(int i, bool *stopped)
{
	pid_t		pid = 0;
	BgwHandleStatus st;

	*stopped = true;
	if (slots[i] == NULL)
		return 0;
	st = GetBackgroundWorkerPid(slots[i], &pid);
	*stopped = (st == BGWH_STOPPED || st == BGWH_POSTMASTER_DIED);
	return st == BGWH_STARTED ? pid : 0;
}

static void
launch(int i)
{
	BackgroundWorker worker;
	pid_t		owner = MyProcPid;
	MemoryContext old;

	ms_bgworker_describe(&worker, "mobisign verifier", "ms_verifier_main", BGW_NEVER_RESTART);
	memcpy(worker.bgw_extra, &owner, sizeof(owner));
	memcpy(worker.bgw_extra + sizeof(owner), &i, sizeof(i));
	worker.bgw_notify_pid = MyProcPid;
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &slots[i]))
	{
		TimestampTz now = GetCurrentTimestamp();

		slots[i] = NULL;
		/* the owner verifies meanwhile; said once a minute */
		if (launch_failed_at == 0 || TimestampDifferenceExceeds(launch_failed_at, now, 60000))
			ereport(LOG,
					(errmsg("mobisign worker: could not start an answer verifier"),
					 errdetail("Answers are verified by the SMPP worker itself until one starts."),
					 errhint("Raise max_worker_processes, or lower mobisign.answer_workers.")));
		launch_failed_at = now;
	}
	MemoryContextSwitchTo(old);
}

void
ms_answer_pool_adjust(void)
{
	for (int i = 0; i < MS_MAX_VERIFIERS; i++)
	{
		bool		stopped;

		(void) slot_pid(i, &stopped);
		if (slots[i] != NULL && stopped)
		{
			/* ended (killed, or stopped below): a new one takes the slot */
			pfree(slots[i]);
			slots[i] = NULL;
		}
		if (i < answer_workers && slots[i] == NULL)
			launch(i);
		else if (i >= answer_workers && slots[i] != NULL)
			TerminateBackgroundWorker(slots[i]);
	}
}

int
ms_answer_pool_running(void)
{
	int			n = 0;

	for (int i = 0; i < MS_MAX_VERIFIERS && i < answer_workers; i++)
	{
		bool		stopped;

		(void) slot_pid(i, &stopped);
		if (!stopped)
			n++;
	}
	return n;
}

bool
ms_answer_pool_keeps_house(void)
{
	bool		stopped;

	if (answer_workers < 1)
		return false;
	(void) slot_pid(MS_HOUSEKEEPER_SLOT, &stopped);
	return !stopped;
}

void
ms_answer_pool_wake(int answers)
{
	static int	first = 0;		/* where the look starts: in turn */
	PGPROC	   *idle[MS_MAX_VERIFIERS];
	PGPROC	   *busy[MS_MAX_VERIFIERS];
	int			nidle = 0;
	int			nbusy = 0;

	for (int k = 0; k < MS_MAX_VERIFIERS; k++)
	{
		int			i = (first + k) % MS_MAX_VERIFIERS;
		bool		stopped;
		pid_t		pid = slot_pid(i, &stopped);
		PGPROC	   *proc;

		if (pid == 0 || (proc = BackendPidGetProc(pid)) == NULL)
			continue;
		/* waiting on its latch (below), not in a batch (read unlocked, as pg_stat_activity does) */
		if (proc->wait_event_info == PG_WAIT_EXTENSION)
			idle[nidle++] = proc;
		else
			busy[nbusy++] = proc;
	}
	first = (first + 1) % Max(answer_workers, 1);
	if (answers > 0 && nidle > 0)
	{
		/* as many idle verifiers as there are answers; the busy ones look again after their batch */
		for (int k = 0; k < Min(answers, nidle); k++)
			SetLatch(&idle[k]->procLatch);
		return;
	}
	for (int k = 0; k < nidle; k++)
		SetLatch(&idle[k]->procLatch);
	for (int k = 0; k < nbusy; k++)
		SetLatch(&busy[k]->procLatch);
}

void
ms_answer_pool_stop(void)
{
	for (int i = 0; i < MS_MAX_VERIFIERS; i++)
	{
		if (slots[i] == NULL)
			continue;
		TerminateBackgroundWorker(slots[i]);
		pfree(slots[i]);
		slots[i] = NULL;
	}
}

/* ---- a verifier ---------------------------------------------------------- */

static volatile sig_atomic_t verifier_sigterm = false;

/* SIGTERM: the batch in progress ends (commits), then the verifier exits 0 */
static void
ms_verifier_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	verifier_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

void
ms_verifier_main(Datum arg)
{
	pid_t		owner;
	int			slot;
	bool		keeps_house;
	MsHousekeeper hk;

	memcpy(&owner, MyBgworkerEntry->bgw_extra, sizeof(owner));
	memcpy(&slot, MyBgworkerEntry->bgw_extra + sizeof(owner), sizeof(slot));
	keeps_house = slot == MS_HOUSEKEEPER_SLOT;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);

	/*
	 * A reload signalled between our fork and the handler above is lost
	 * (StartBackgroundWorker sets SIGHUP to SIG_IGN first, which discards a
	 * pending signal): read the configuration once more at start.
	 */
	ConfigReloadPending = true;
	pqsignal(SIGTERM, ms_verifier_sigterm);
	BackgroundWorkerUnblockSignals();
	ms_bgworker_connect(arg);
	pgstat_report_appname("mobisign verifier");
	ms_queue_session_setup();
	ms_hk_init(&hk, false, GetCurrentTimestamp());

	while (!verifier_sigterm)
	{
		int			claimed;
		long		timeout = MS_VERIFIER_NAPTIME_MS;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* launched by an owner that is gone: its successor has its own pool */
		if (BackendPidGetProc(owner) == NULL)
			break;
		claimed = ms_queue_verify_answers(MS_ANSWER_BATCH);
		if (keeps_house)
		{
			TimestampTz now = GetCurrentTimestamp();
			int64		rows;

			/*
			 * one batch when due (also while answers keep the verifier
			 * busy: its pause is what the batch took, so answers get at
			 * least half of the time), then the answers again
			 */
			if (ms_hk_run(&hk, now, &rows) != NULL)
				continue;
			timeout = Min(timeout, ms_until(now, ms_hk_next_at(&hk)));
		}
		if (claimed >= MS_ANSWER_BATCH)
			continue;			/* more may be waiting */
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(timeout, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
