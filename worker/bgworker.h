/*
 * bgworker.h
 *	  The background worker that drains mobisign.request_queue to SMPP.
 */
#ifndef MOBISIGN_BGWORKER_H
#define MOBISIGN_BGWORKER_H

/* Called from _PG_init: GUCs, shared memory, worker registration. */
extern void ms_worker_init(void);

/* Wake the worker when the current transaction commits (queued work). */
extern void ms_worker_wake_at_commit(void);

#endif
