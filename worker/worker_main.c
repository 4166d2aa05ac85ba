/*-------------------------------------------------------------------------
 *
 * worker_main.c
 *	  The mobisign background worker's loop, one per database (started by
 *	  launcher.c with the database's OID as its argument).
 *
 * A worker that finds no extension in its database, or sees it dropped,
 * records that in its entry and exits: the launcher starts one again after
 * a CREATE EXTENSION there.
 *
 * One WaitEventSet holds the latch, postmaster death and the socket of
 * every session (bind) of every SMSC link; the timeout is the nearest timer
 * (reconnect, response deadline, enquire_link, rate cap, due retry,
 * housekeeping, safety-net poll).  Each turn: handle socket events, run timers, store and only then
 * acknowledge received deliver_sm, record finished requests, claim new ones
 * (when woken by a committing writer, when a retry is due, or by the slow
 * poll), and, when due and no answer verifier keeps house, one bounded
 * batch of housekeeping (expiry, audit sealing or queue cleanup, never all
 * of a round at once: they would hold back submissions and
 * acknowledgements; housekeeping.h).  Every database step is its own short
 * transaction (queue.c); nothing is held open across network I/O.
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
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "answer_pool.h"
#include "bgworker.h"
#include "housekeeping.h"
#include "queue.h"
#include "refresher.h"
#include "smpp_session.h"
#include "worker_main.h"

#define MS_MAX_LINKS MS_SMPP_MAX_LINKS
/* every socket: one per session (bind) of every link */
#define MS_MAX_SOCKETS (MS_SMPP_MAX_LINKS * MS_SMPP_MAX_BINDS)
/*
 * Requests claimed per turn: a turn that records and claims many requests
 * delays the acknowledgement of received answers, and the SMSC sends only a
 * window of deliver_sm at a time (make bench: a backlog of 4000 drained at
 * 133/s with 100 per turn, at 181/s with 25).
 */
#define MS_MAX_CLAIM 25
#define MS_CONFIG_RECHECK_MS 30000
#define MS_SHUTDOWN_WAIT_MS 2000
#define MS_PENDING_RECHECK_MS 10000
#define MS_OWN_VERIFY_BATCHES 16	/* per turn, with no verifier running */
/* a turn at least this long is described in a DEBUG1 line (where it went) */
#define MS_SLOW_TURN_MS 10

static volatile sig_atomic_t got_sigterm = false;

/* where one turn's time went (ms), for the slow-turn line */
typedef struct MsTurnTimes
{
	TimestampTz start;
	long		store;			/* deliver_sm stored (and acknowledged) */
	long		record;			/* finished requests recorded */
	long		claim;			/* new requests claimed and sent */
	long		periodic;		/* pending answers, housekeeping */
	int			stored;
	long		ack_wait_max;	/* longest deliver_sm read -> deliver_sm_resp */
	const char *housekeeping;	/* the step that ran, or NULL */
	int64		hk_rows;		/* the rows its batch handled */
} MsTurnTimes;

typedef struct MsWorker
{
	MemoryContext cxt;			/* lives as long as the worker */
	MemoryContext jobs_cxt;		/* parent of one context per job */
	MemoryContext work_cxt;		/* reset every turn of the loop */
	MsLink	   *links[MS_MAX_LINKS];
	int			nlinks;
	List	   *jobs;			/* MsJob * claimed and not yet recorded */
	WaitEventSet *wes;
	int			wes_pos[MS_MAX_LINKS][MS_SMPP_MAX_BINDS];
	bool		wes_dirty;
	bool		claim_wanted;
	TimestampTz next_claim_at;
	TimestampTz due_again;		/* the earliest a row handed back is due, or 0 */
	bool		due_unknown;	/* rows may be due later than due_again says:
								 * ask the queue once after the next claim */
	TimestampTz next_round_at;	/* the verifier pool's size, the CRL refresher */
	MsHousekeeper hk;			/* when no verifier keeps house (housekeeping.h) */
	TimestampTz next_config_at;
	TimestampTz next_presence_at;
	TimestampTz next_pending_at;	/* look for unprocessed inbound segments */
} MsWorker;

static void
ms_worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* ---- links and the wait set --------------------------------------------- */

static void
rebuild_wait_set(MsWorker *w)
{
	int			i;

	if (w->wes)
		FreeWaitEventSet(w->wes);
	w->wes = CreateWaitEventSet(w->cxt, 2 + MS_MAX_SOCKETS);
	AddWaitEventToSet(w->wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(w->wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < w->nlinks; i++)
	{
		for (int k = 0; k < ms_smpp_nsessions(w->links[i]); k++)
		{
			MsSession  *ss = ms_smpp_session(w->links[i], k);
			pgsocket	s = ms_smpp_wait_socket(ss);
			int			ev = ms_smpp_wait_events(ss);

			w->wes_pos[i][k] = -1;
			if (s != PGINVALID_SOCKET && ev != 0)
				w->wes_pos[i][k] = AddWaitEventToSet(w->wes, ev, s, NULL, ss);
		}
	}
	w->wes_dirty = false;
}

static void
update_wait_set(MsWorker *w)
{
	int			i;

	for (i = 0; i < w->nlinks; i++)
		if (ms_smpp_socket_changed(w->links[i]))
			w->wes_dirty = true;
	if (w->wes == NULL || w->wes_dirty)
	{
		rebuild_wait_set(w);
		return;
	}
	for (i = 0; i < w->nlinks; i++)
	{
		for (int k = 0; k < ms_smpp_nsessions(w->links[i]); k++)
		{
			int			ev = ms_smpp_wait_events(ms_smpp_session(w->links[i], k));

			if (w->wes_pos[i][k] >= 0 && ev != 0)
				ModifyWaitEvent(w->wes, w->wes_pos[i][k], ev, NULL);
		}
	}
}

static void
publish_links(MsWorker *w)
{
	int			i;
	int			bound = 0;
	int			inflight = 0;
	int			window = 0;

	for (i = 0; i < w->nlinks; i++)
	{
		if (ms_smpp_state(w->links[i]) == MS_LINK_BOUND)
			bound++;
		inflight += ms_smpp_in_flight(w->links[i]);
		window += ms_smpp_window_size(w->links[i]);
	}
	ms_worker_set_links(w->nlinks, bound, inflight, window);
	ms_smpp_publish_stats(w->links, w->nlinks);
	if (w->nlinks == 0)
		ms_worker_set_state("no smsc configured");
	else if (bound == 0)
		ms_worker_set_state("connecting");
	else
		ms_worker_set_state(inflight > 0 ? "sending" : "bound");
}

/* ---- jobs ---------------------------------------------------------------- */

static void
finish_jobs(MsWorker *w, bool all)
{
	ListCell   *lc;
	List	   *done = NIL;
	MemoryContext old = MemoryContextSwitchTo(w->cxt);

	foreach(lc, w->jobs)
	{
		MsJob	   *job = (MsJob *) lfirst(lc);

		if (all && job->status == MS_JOB_SENDING)
		{
			job->status = MS_JOB_TEMPFAIL;
			strlcpy(job->reason, "worker shutting down", sizeof(job->reason));
		}
		if (job->status != MS_JOB_SENDING && (job->outstanding <= 0 || all))
		{
			done = lappend(done, job);
			w->jobs = foreach_delete_current(w->jobs, lc);
		}
	}
	MemoryContextSwitchTo(old);
	if (done != NIL)
	{
		/* frees the jobs */
		TimestampTz due = ms_queue_finish(done);

		list_free(done);

		/*
		 * a request handed back (a retry, a recording that failed) is due
		 * again at that time: claim then.  Window space freed needs no
		 * claim of its own: a claim that filled the window left
		 * claim_wanted set (claim_jobs), and a writer's commit sets it (an
		 * empty claim per finished request cost a transaction each).
		 */
		if (due != 0 && (w->due_again == 0 || due < w->due_again))
			w->due_again = due;
		if (due != 0 && due < w->next_claim_at)
			w->next_claim_at = due;
	}
}

static int
total_capacity(MsWorker *w)
{
	int			i;
	int			cap = 0;

	for (i = 0; i < w->nlinks; i++)
		cap += ms_smpp_free_capacity(w->links[i]);
	return Min(cap, MS_MAX_CLAIM);
}

static void
claim_jobs(MsWorker *w, TimestampTz now)
{
	int			cap = total_capacity(w);
	List	   *claimed;
	ListCell   *lc;
	int			n;

	if (cap <= 0)
		return;
	claimed = ms_queue_claim(cap, w->jobs_cxt, w->jobs, &n);
	if (n < 0)
	{
		/* the claim failed (logged): what was due still is; again in 1 s */
		w->claim_wanted = false;
		w->next_claim_at = TimestampTzPlusMilliseconds(now, 1000);
		return;
	}

	/*
	 * This claim took what was handed back and due by now.  Rows handed
	 * back at other times may be due after it (retries of several
	 * attempts, units that committed a few milliseconds apart): having
	 * claimed at a due time it knew of, the worker asks the queue once for
	 * the next (and at start, for what an earlier worker left).
	 */
	if (w->due_again != 0 && w->due_again <= now)
	{
		w->due_again = 0;
		w->due_unknown = true;
	}
	foreach(lc, claimed)
	{
		MsJob	   *job = (MsJob *) lfirst(lc);
		MsLink	   *best = NULL;
		int			bestcap = -1;
		int			i;
		MemoryContext old;

		for (i = 0; i < w->nlinks; i++)
		{
			int			c = ms_smpp_free_capacity(w->links[i]);

			if (ms_smpp_state(w->links[i]) == MS_LINK_BOUND && c > bestcap)
			{
				best = w->links[i];
				bestcap = c;
			}
		}
		if (job->status == MS_JOB_SENDING)
		{
			if (best != NULL)
				ms_smpp_enqueue_job(best, job);
			else
			{
				job->status = MS_JOB_TEMPFAIL;
				strlcpy(job->reason, "no SMSC link bound", sizeof(job->reason));
			}
		}
		old = MemoryContextSwitchTo(w->cxt);
		w->jobs = lappend(w->jobs, job);
		MemoryContextSwitchTo(old);
	}
	list_free(claimed);

	if (w->due_unknown)
	{
		TimestampTz later = ms_queue_next_due(w->jobs, now);

		w->due_unknown = false;
		/* rows due a few ms apart: claimed together, at most 10 claims a second */
		if (later != 0)
			later = Max(later, TimestampTzPlusMilliseconds(now, 100));
		if (later != 0 && (w->due_again == 0 || later < w->due_again))
			w->due_again = later;
	}

	if (n < cap)
	{
		/*
		 * nothing more is due now (the rows it took count, those closed
		 * unsent too): the next claim is when a writer's commit wakes the
		 * worker, a row handed back or learned of above is due, or the
		 * safety-net poll comes (a row due that another session held when
		 * claimed; the queue is not asked after every claim: queue.h)
		 */
		TimestampTz due = TimestampTzPlusMilliseconds(now, ms_worker_naptime_ms);

		w->claim_wanted = false;
		if (w->due_again != 0 && w->due_again < due)
			due = w->due_again;
		w->next_claim_at = due;
	}
	else
		w->claim_wanted = true;
}

/* ---- inbound ------------------------------------------------------------- */

/*
 * Answers are queued (mobisign.answer_queue): the verifiers handle them, or,
 * with none running, this worker does, a bounded number of batches per turn
 * (what is left waits for the next turn, in order).
 */
static void
verify_answers(MsWorker *w, int answers)
{
	if (ms_answer_pool_running() > 0)
	{
		ms_answer_pool_wake(answers);
		return;
	}
	for (int i = 0; i < MS_OWN_VERIFY_BATCHES; i++)
		if (ms_queue_verify_answers(MS_ANSWER_BATCH) < MS_ANSWER_BATCH)
			break;
}

static void
handle_inbound(MsWorker *w, List *inbound, MsTurnTimes *tt)
{
	ListCell   *lc;
	bool		any = false;
	int			answers = 0;
	TimestampTz acked_at;
	int64		wait_us = 0;

	if (inbound == NIL)
		return;

	/* durable first (and queued for a verifier in the same commit) ... */
	ms_queue_store_inbound(inbound);

	/*
	 * ... then acknowledged, one send per session for the batch; what could
	 * not be stored is redelivered
	 */
	for (int i = 0; i < w->nlinks; i++)
		ms_smpp_cork(w->links[i]);
	foreach(lc, inbound)
	{
		MsInbound  *in = (MsInbound *) lfirst(lc);

		if (in->link_index >= 0 && in->link_index < w->nlinks)
			ms_smpp_ack_deliver(w->links[in->link_index], in->generation, in->seq,
								in->stored ? MS_SMPP_ROK : MS_SMPP_RX_T_APPN);
		if (!in->stored)
			continue;
		ms_worker_count(MS_C_RECEIVED, 1);
		if (in->inserted && !in->receipt)
		{
			any = true;
			/* an answer's last segment, as a guess at how many answers came */
			if (in->concat_ref < 0 || in->seqno == in->total)
				answers++;
		}
	}
	acked_at = GetCurrentTimestamp();
	for (int i = 0; i < w->nlinks; i++)
		ms_smpp_uncork(w->links[i], acked_at);

	/* each stored deliver_sm's read -> its deliver_sm_resp (worker_stats.ack_wait_us) */
	foreach(lc, inbound)
	{
		MsInbound  *in = (MsInbound *) lfirst(lc);
		int64		us = acked_at - in->read_at;

		if (!in->stored)
			continue;
		wait_us += us;
		tt->ack_wait_max = Max(tt->ack_wait_max, (long) (us / 1000));
	}
	ms_worker_count(MS_C_ACK_WAIT_US, (uint64) Max(wait_us, 0));

	/* one idle verifier at least: its claim takes every MSISDN queued */
	if (any)
		verify_answers(w, Max(answers, 1));
}

/* ---- configuration ------------------------------------------------------- */

static void
reload_links(MsWorker *w, TimestampTz now)
{
	List	   *configs = NIL;
	ListCell   *lc;
	MsLink	   *newlinks[MS_MAX_LINKS];
	int			nnew = 0;
	int			i;
	MemoryContext tmp = AllocSetContextCreate(w->cxt, "mobisign smsc config", ALLOCSET_SMALL_SIZES);

	w->next_config_at = TimestampTzPlusMilliseconds(now, MS_CONFIG_RECHECK_MS);
	if (!ms_queue_load_smsc(tmp, &configs))
	{
		MemoryContextDelete(tmp);
		return;
	}

	foreach(lc, configs)
	{
		MsSmscConfig *c = (MsSmscConfig *) lfirst(lc);
		MsLink	   *keep = NULL;

		if (nnew >= MS_MAX_LINKS)
			break;
		for (i = 0; i < w->nlinks; i++)
		{
			if (w->links[i] != NULL &&
				memcmp(ms_smpp_config(w->links[i]), c, sizeof(MsSmscConfig)) == 0)
			{
				keep = w->links[i];
				w->links[i] = NULL;
				break;
			}
		}
		if (keep == NULL)
			keep = ms_smpp_link_create(c, nnew, w->cxt);
		newlinks[nnew++] = keep;
		explicit_bzero(c->password, sizeof(c->password));
	}

	/* links whose row changed or disappeared hand back their requests */
	for (i = 0; i < w->nlinks; i++)
		if (w->links[i] != NULL)
			ms_smpp_link_destroy(w->links[i], "configuration changed");

	if (nnew != w->nlinks)
		ereport(LOG, (errmsg("mobisign worker: %d SMSC link(s) configured", nnew)));
	for (i = 0; i < nnew; i++)
	{
		w->links[i] = newlinks[i];
		ms_smpp_set_index(newlinks[i], i);
	}
	w->nlinks = nnew;
	w->wes_dirty = true;
	/* nothing configured yet: look again at the safety-net pace */
	if (nnew == 0)
		w->next_config_at = TimestampTzPlusMilliseconds(now, Min(ms_worker_naptime_ms, MS_CONFIG_RECHECK_MS));
	MemoryContextDelete(tmp);
	/* link indexes may have moved: jobs keep their MsLink through the link */
}

/* the extension is gone: close the links and drop what was in memory */
static void
forget_everything(MsWorker *w)
{
	ListCell   *lc;
	int			i;

	ms_answer_pool_stop();
	for (i = 0; i < w->nlinks; i++)
		ms_smpp_link_destroy(w->links[i], "extension dropped");
	w->nlinks = 0;
	w->wes_dirty = true;
	foreach(lc, w->jobs)
		MemoryContextDelete(((MsJob *) lfirst(lc))->cxt);
	list_free(w->jobs);
	w->jobs = NIL;
}

/* ---- timers -------------------------------------------------------------- */

static long
compute_timeout(MsWorker *w, TimestampTz now)
{
	long		t = ms_worker_naptime_ms;
	int			i;

	/* a wake-up whose SetLatch a wait inside the last turn ate (bgworker.h) */
	if (ms_worker_flag_waiting())
		return 0;

	t = Min(t, ms_until(now, w->next_presence_at));
	t = Min(t, ms_until(now, w->next_round_at));
	if (!ms_answer_pool_keeps_house())
		t = Min(t, ms_until(now, ms_hk_next_at(&w->hk)));
	t = Min(t, ms_until(now, w->next_config_at));
	t = Min(t, ms_until(now, w->next_pending_at));
	if (total_capacity(w) > 0)
	{
		if (w->claim_wanted)
			t = 0;
		else
			t = Min(t, ms_until(now, w->next_claim_at));
	}
	for (i = 0; i < w->nlinks; i++)
		t = Min(t, ms_smpp_next_timeout_ms(w->links[i], now));
	return Max(t, 0);
}

/* ---- shutdown ------------------------------------------------------------ */

static void
shutdown_links(MsWorker *w)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz until = TimestampTzPlusMilliseconds(now, MS_SHUTDOWN_WAIT_MS);
	int			i;
	int			guard;
	WaitEvent	events[2 + MS_MAX_SOCKETS];

	ms_worker_set_state("shutting down");
	ms_answer_pool_stop();
	for (i = 0; i < w->nlinks; i++)
		ms_smpp_unbind(w->links[i], now);

	/* wait (bounded) for unbind_resp; received messages are not acknowledged */
	for (guard = 0; guard < 200; guard++)
	{
		bool		quiet = true;
		int			n;
		int			k;
		List	   *ignored = NIL;

		for (i = 0; i < w->nlinks; i++)
			if (!ms_smpp_quiet(w->links[i]))
				quiet = false;
		now = GetCurrentTimestamp();
		if (quiet || now >= until)
			break;
		update_wait_set(w);
		n = WaitEventSetWait(w->wes, Max(1, Min(100, ms_until(now, until))), events,
							 lengthof(events), PG_WAIT_EXTENSION);
		now = GetCurrentTimestamp();
		MemoryContextReset(w->work_cxt);
		MemoryContextSwitchTo(w->work_cxt);
		for (k = 0; k < n; k++)
		{
			if (events[k].events & WL_LATCH_SET)
				ResetLatch(MyLatch);
			if (events[k].user_data != NULL)
				ms_smpp_on_socket((MsSession *) events[k].user_data, events[k].events, now, &ignored);
		}
		for (i = 0; i < w->nlinks; i++)
			ms_smpp_tick(w->links[i], now);
		MemoryContextSwitchTo(w->cxt);
	}

	for (i = 0; i < w->nlinks; i++)
		ms_smpp_link_destroy(w->links[i], "worker shutting down");
	w->nlinks = 0;
	ms_smpp_publish_stats(w->links, 0);
	finish_jobs(w, true);
}

/* ---- main ---------------------------------------------------------------- */

/* however the worker ends, writers must not wake (or DROP DATABASE signal) a stale pid */
static void
ms_worker_detach(int code, Datum arg)
{
	ms_worker_release_entry(NULL, false);
}

/* the database's name, passed by the launcher (for log lines) */
static const char *
database_name(void)
{
	static char name[NAMEDATALEN];

	memcpy(name, MyBgworkerEntry->bgw_extra, NAMEDATALEN - 1);
	name[NAMEDATALEN - 1] = '\0';
	return name;
}

/*
 * Step: connect, claim the shared entry, set up contexts and the first
 * timers.  Exits when the extension is not installed.
 */
static MsWorker *
worker_start(Datum main_arg)
{
	MsWorker   *w;
	TimestampTz now;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);

	/*
	 * A reload signalled between our fork and the handler above is lost
	 * (StartBackgroundWorker sets SIGHUP to SIG_IGN first, which discards a
	 * pending signal): read the configuration once more at start.
	 */
	ConfigReloadPending = true;
	pqsignal(SIGTERM, ms_worker_sigterm);
	BackgroundWorkerUnblockSignals();

	ms_bgworker_connect(main_arg);

	if (!ms_worker_claim_entry())
	{
		/* not started by the launcher (a registration left from before) */
		ereport(LOG, (errmsg("mobisign worker: no entry for database \"%s\"; exiting",
							 database_name())));
		proc_exit(0);
	}
	before_shmem_exit(ms_worker_detach, (Datum) 0);

	w = MemoryContextAllocZero(TopMemoryContext, sizeof(MsWorker));
	w->cxt = AllocSetContextCreate(TopMemoryContext, "mobisign worker", ALLOCSET_DEFAULT_SIZES);
	w->jobs_cxt = AllocSetContextCreate(w->cxt, "mobisign jobs", ALLOCSET_DEFAULT_SIZES);
	w->work_cxt = AllocSetContextCreate(w->cxt, "mobisign work", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(w->cxt);

	if (!ms_queue_extension_present())
	{
		/* the launcher probes every database it has not seen: not worth a LOG */
		ereport(DEBUG1,
				(errmsg("mobisign worker: extension mobisign is not installed in database \"%s\"",
						database_name())));
		ms_worker_release_entry("no extension", true);
		proc_exit(0);
	}
	ereport(LOG, (errmsg("mobisign worker started in database \"%s\"", database_name())));
	ms_queue_session_setup();
	now = GetCurrentTimestamp();
	w->next_presence_at = TimestampTzPlusMilliseconds(now, ms_worker_naptime_ms);
	ms_queue_reclaim_leases();
	reload_links(w, now);
	w->claim_wanted = true;
	w->next_claim_at = now;
	/* rows an earlier worker rescheduled: learned after the first claim */
	w->due_unknown = true;
	w->next_round_at = now;
	ms_hk_init(&w->hk, true, now);
	w->next_pending_at = now;
	return w;
}

/*
 * Step: wait for the latch, a socket or the nearest timer, and let the
 * links read what arrived (into *inbound, in the turn's work context, which
 * stays current).  *woken: a committing writer set the latch.
 */
static TimestampTz
wait_for_events(MsWorker *w, bool *woken, List **inbound)
{
	WaitEvent	events[2 + MS_MAX_SOCKETS];
	TimestampTz now = GetCurrentTimestamp();
	int			n;

	publish_links(w);
	update_wait_set(w);
	pgstat_report_activity(STATE_IDLE, NULL);
	n = WaitEventSetWait(w->wes, compute_timeout(w, now), events, lengthof(events),
						 PG_WAIT_EXTENSION);

	MemoryContextReset(w->work_cxt);
	MemoryContextSwitchTo(w->work_cxt);
	now = GetCurrentTimestamp();
	for (int k = 0; k < n; k++)
	{
		if (events[k].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			*woken = true;
		}
		else if (events[k].user_data != NULL)
			ms_smpp_on_socket((MsSession *) events[k].user_data, events[k].events, now, inbound);
	}
	/* after every wait, before this turn's claim (worker_wake.c) */
	if (ms_worker_take_wake())
		*woken = true;
	return now;
}

/*
 * Step: is the extension still there?  Looked at every worker_naptime, and
 * at once when a DROP EXTENSION (or a CREATE) committed in this database.
 * When it is gone, everything held in memory is dropped (the links closed)
 * and the worker is to exit.
 */
static bool
extension_still_there(MsWorker *w, TimestampTz now)
{
	bool		recheck = ms_worker_take_recheck();

	if (!recheck && now < w->next_presence_at)
		return true;
	w->next_presence_at = TimestampTzPlusMilliseconds(now, ms_worker_naptime_ms);
	if (ms_queue_extension_present())
		return true;
	MemoryContextSwitchTo(w->cxt);
	ereport(LOG, (errmsg("mobisign worker: extension mobisign was dropped from database \"%s\"; exiting",
						 database_name())));
	forget_everything(w);
	return false;
}

/*
 * Run every link's timers at now, which sends what may go: what one tick
 * writes goes out in one send per session (ms_smpp_cork).
 */
static void
tick_links(MsWorker *w, TimestampTz now)
{
	for (int i = 0; i < w->nlinks; i++)
	{
		ms_smpp_cork(w->links[i]);
		ms_smpp_tick(w->links[i], now);
		ms_smpp_uncork(w->links[i], now);
	}
}

/*
 * Step: the SMPP side of one turn: timers, what the sockets brought, what
 * finished; then new configuration and new requests, sent right away.
 * Returns the time after sending.
 */
static TimestampTz
serve_links(MsWorker *w, TimestampTz now, bool woken, List *inbound, MsTurnTimes *tt)
{
	TimestampTz t;

	tick_links(w, now);
	MemoryContextSwitchTo(w->cxt);
	handle_inbound(w, inbound, tt);
	t = GetCurrentTimestamp();
	tt->store = ms_until(now, t);
	tt->stored = list_length(inbound);
	finish_jobs(w, false);

	if (woken)
		w->claim_wanted = true;
	now = GetCurrentTimestamp();
	tt->record = ms_until(t, now);
	if (now >= w->next_config_at || (woken && w->nlinks == 0))
		reload_links(w, now);
	if (w->claim_wanted || now >= w->next_claim_at)
		claim_jobs(w, now);
	/* send what was claimed right away */
	t = GetCurrentTimestamp();
	tick_links(w, t);
	finish_jobs(w, false);
	tt->claim = ms_until(now, t);
	return t;
}

/* a slow turn, at DEBUG1: what held back the SMPP side */
static void
report_slow_turn(MsTurnTimes *tt)
{
	TimestampTz end = GetCurrentTimestamp();
	long		total = ms_until(tt->start, end);

	if (total < MS_SLOW_TURN_MS)
		return;
	ereport(DEBUG1,
			(errmsg_internal("mobisign worker: slow turn %ld ms: store %ld ms (%d deliver_sm, acknowledged within %ld ms of their read), record %ld ms, claim %ld ms, periodic %ld ms (housekeeping: %s, " INT64_FORMAT " rows)",
							 total, tt->store, tt->stored, tt->ack_wait_max, tt->record, tt->claim, tt->periodic,
							 tt->housekeeping ? tt->housekeeping : "none", tt->hk_rows)));
}

/*
 * Step: answers left unprocessed by a crash; every round the verifier pool's
 * size and the CRL refresher; a housekeeping batch when one is due and no
 * verifier keeps house.
 */
static void
run_periodic(MsWorker *w, TimestampTz now, MsTurnTimes *tt)
{
	if (now >= w->next_pending_at)
	{
		/* answers still pending (a handling that rolled back): once more */
		if (ms_queue_requeue_pending() > 0)
			verify_answers(w, 0);
		w->next_pending_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														 MS_PENDING_RECHECK_MS);
	}
	if (now >= w->next_round_at)
	{
		ms_answer_pool_adjust();
		ms_refresher_launch_if_due();
		w->next_round_at = TimestampTzPlusMilliseconds(now, ms_worker_housekeeping_ms);
	}
	if (!ms_answer_pool_keeps_house())
		tt->housekeeping = ms_hk_run(&w->hk, now, &tt->hk_rows);
	tt->periodic = ms_until(now, GetCurrentTimestamp());
}

void
ms_worker_main(Datum main_arg)
{
	MsWorker   *w = worker_start(main_arg);

	while (!got_sigterm)
	{
		bool		woken = false;
		List	   *inbound = NIL;
		TimestampTz now = wait_for_events(w, &woken, &inbound);
		MsTurnTimes tt = {now};

		/* interrupts, procsignal barriers (DROP DATABASE), cancel */
		CHECK_FOR_INTERRUPTS();
		if (got_sigterm)
		{
			/* store what arrived before going; it is acknowledged next time */
			MemoryContextSwitchTo(w->cxt);
			break;
		}
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			w->next_config_at = now;
			w->claim_wanted = true;
		}
		if (!extension_still_there(w, now))
		{
			ms_worker_release_entry("extension dropped", true);
			proc_exit(0);
		}
		MemoryContextSwitchTo(w->cxt);
		now = serve_links(w, now, woken, inbound, &tt);
		run_periodic(w, now, &tt);
		report_slow_turn(&tt);
	}

	ereport(LOG, (errmsg("mobisign worker: shutting down")));
	shutdown_links(w);
	/* a successor started after a failed DROP DATABASE keeps its entry */
	ms_worker_release_entry("stopped", false);
	ereport(LOG, (errmsg("mobisign worker stopped")));
	proc_exit(0);
}
