/*-------------------------------------------------------------------------
 *
 * worker_wake.h
 *	  Waking the background worker when (and only if) the current
 *	  transaction commits.
 *
 * Called by the SQL that queues a request (mobisign._wake_worker()); the
 * worker's identity is in the shared memory of worker/bgworker.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_WORKER_WAKE_H
#define MOBISIGN_WORKER_WAKE_H

/* Wake the worker when the current transaction commits (queued work). */
extern void ms_worker_wake_at_commit(void);

#endif							/* MOBISIGN_WORKER_WAKE_H */
