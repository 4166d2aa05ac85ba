/*
 * queue.h
 *	  The worker's database side: every function here runs its own short
 *	  transaction (never one open across network I/O), reports it in
 *	  pg_stat_activity and calls pgstat_report_stat() after committing.
 *	  Errors are caught, logged and counted: the worker keeps running.
 */
#ifndef MOBISIGN_QUEUE_H
#define MOBISIGN_QUEUE_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/palloc.h"

#include "smpp_session.h"

/* pin search_path for the worker's session */
extern void ms_queue_session_setup(void);

/* is the extension (mobisign.request_queue) installed in this database? */
extern bool ms_queue_extension_present(void);

/*
 * At start: leases still held belong to a worker that died (there is one
 * worker per cluster); make those requests due now.
 */
extern void ms_queue_reclaim_leases(void);

/* enabled rows of mobisign.smsc as MsSmscConfig *, allocated in cxt */
extern bool ms_queue_load_smsc(MemoryContext cxt, List **configs);

/*
 * Claim up to limit due rows of mobisign.request_queue (lease, attempts+1).
 * Rows whose transaction is no longer open are closed without sending.
 * Rows of the jobs in held (MsJob * still in memory) are never claimed again,
 * even if their lease ran out while the SMSC kept throttling.
 * Returns MsJob *, each in its own memory context under parent; *rows is
 * how many rows the claim took (those closed unsent too: fewer than limit
 * means nothing more was due), or -1 when the claim failed (logged; nothing
 * of it stays).
 */
extern List *ms_queue_claim(int limit, MemoryContext parent, List *held, int *rows);

/*
 * The earliest next_attempt_at after "after" (the time of the claim before:
 * what was due by then is the claim's, a full claim claims again) of the
 * rows not done and not in held (MsJob * still in memory), or 0 when there
 * is none or the query failed.  It reads
 * every version of the leased rows still in request_queue_pending, so the
 * worker asks only when it cannot know: at start (rows another worker
 * leased or rescheduled), and once after a claim made at a due time it knew
 * of (the rows due after it), never after every claim (make bench's peak).
 */
extern TimestampTz ms_queue_next_due(List *held, TimestampTz after);

/*
 * Record finished jobs (OK / permanent / temporary failure); frees them.
 * Returns the earliest time one of their rows is due again (a retry's
 * next attempt; a row whose recording failed keeps its lease: now +
 * mobisign.worker_lease, at the latest), 0 if every row was closed.  Only
 * the worker moves next_attempt_at into the future, so that, what
 * ms_queue_next_due tells it after claiming at such a time, and the
 * safety-net poll are all it needs to know of when to claim again.
 */
extern TimestampTz ms_queue_finish(List *jobs);

/*
 * store received deliver_sm (sets MsInbound.stored on success) and, in the
 * same transaction, queue their MSISDNs in mobisign.answer_queue
 */
extern void ms_queue_store_inbound(List *inbound);

/*
 * Claim up to batch MSISDNs with answers waiting in mobisign.answer_queue
 * and handle them (mobisign._process_inbound), all in one transaction: the
 * claim commits with the handling or rolls back with it.  Returns how many
 * were claimed (batch: more may be waiting).  Run by the verifiers, or by
 * the SMPP worker when none runs.
 */
extern int	ms_queue_verify_answers(int batch);

/*
 * The recheck: queue MSISDNs whose stored segments are still pending (an
 * answer whose handling rolled back, e.g. a token away) for the verifiers.
 */
extern int	ms_queue_requeue_pending(void);

/* the housekeeping steps, run in this order every round */
typedef enum MsHousekeepingStep
{
	MS_HK_EXPIRE,				/* mobisign._record_restores(), mobisign._expire() */
	MS_HK_SEAL,					/* mobisign.audit_seal() */
	MS_HK_CLEANUP,				/* mobisign._queue_cleanup() */
	MS_HK_NSTEPS
} MsHousekeepingStep;

/*
 * One batch of a step (at most batch rows), its own transaction: the rows
 * it handled (a full batch: more is waiting), -1 on error (logged);
 * *work_us: how long its statements took, its commit left out (at least 1).
 */
extern int64 ms_queue_housekeeping(MsHousekeepingStep step, int batch, int64 *work_us);
/* the step's name, for log lines ("audit sealing") */
extern const char *ms_queue_housekeeping_name(MsHousekeepingStep step);

#endif
