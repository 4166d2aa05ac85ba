/*
 * bgworker.h
 *	  The background worker that drains mobisign.request_queue to SMPP.
 *
 * Public entry points for the rest of the extension:
 *
 *	ms_worker_init()			  from _PG_init: GUCs, shared memory, registration
 *	ms_worker_require_preload()   ERROR with a hint unless the library was
 *								  loaded through shared_preload_libraries
 */
#ifndef MOBISIGN_BGWORKER_H
#define MOBISIGN_BGWORKER_H

#include "datatype/timestamp.h"
#include "storage/spin.h"

#include "link_stats.h"

/* Called from _PG_init: GUCs, shared memory, worker registration. */
extern void ms_worker_init(void);

/* The worker's registration (static at preload, or dynamic after a failed drop). */
struct BackgroundWorker;
extern void ms_worker_describe(struct BackgroundWorker *w);

/*
 * Any mobisign background worker: connected to a database, started once
 * recovery has finished, running function of this library under name.
 */
extern void ms_bgworker_describe(struct BackgroundWorker *w, const char *name,
								 const char *function, int restart_time);

/*
 * Raise an ERROR (SQLSTATE 55000) with a hint to set
 * shared_preload_libraries = 'mobisign' when the worker cannot exist in this
 * server because the library was not preloaded.
 */
extern void ms_worker_require_preload(void);

/* true when this process loaded the library through shared_preload_libraries */
extern bool ms_worker_preloaded(void);

/* ---- internal to worker/ ------------------------------------------------ */

/* Milliseconds from now until t, rounded up; 0 when t is not in the future. */
extern long ms_until(TimestampTz now, TimestampTz t);

/* GUCs */
extern char *ms_worker_database;
extern int	ms_worker_naptime_ms;
extern int	ms_worker_lease_s;
extern int	ms_worker_housekeeping_ms;

/* Worker states reported in mobisign.worker_stats and pg_stat_activity. */
#define MS_WSTATE_LEN 32

/*
 * The worker's cumulative counters, in the order of their columns in
 * mobisign.worker_stats.
 */
typedef enum MsCounter
{
	MS_C_SUBMITTED,				/* submit_sm answered OK */
	MS_C_RECEIVED,				/* deliver_sm stored (receipts included) */
	MS_C_RETRIED,				/* segments or requests sent again */
	MS_C_ERRORS,
	MS_C_RECONNECTS,
	MS_C_COMPLETED,				/* queue rows finished (submitted or failed) */
	MS_C_WAKEUPS,				/* latch wake-ups requested by committing writers */
	MS_C_COUNT
} MsCounter;

/*
 * Shared state: the worker's identity for waking it, and its counters.
 * Everything is protected by the spinlock (a handful of stores per event).
 *
 * The identity (procno, pid, dboid) and the per-worker state (state,
 * links, window) belong to the worker that claimed the entry last: a worker
 * that is still shutting down while its successor has already started (a
 * DROP DATABASE that failed after the hook stopped it) must not clear or
 * overwrite what the successor wrote.  Only the owner (pid == MyProcPid)
 * changes them; the counters are cumulative and shared by every worker.
 */
typedef struct MsWorkerShared
{
	slock_t		mutex;
	int			procno;			/* PGPROC number of the running worker, or -1 */
	int			pid;
	Oid			dboid;			/* database the worker is connected to */
	TimestampTz started_at;
	char		state[MS_WSTATE_LEN];
	int			links_configured;
	int			links_bound;
	int			window_in_use;
	int			window_size;
	uint64		counters[MS_C_COUNT];
	TimestampTz last_error_at;
	char		last_error[160];
	/* last: ms_worker_stats() copies the entry up to here only */
	MsBindStatsShared binds;	/* mobisign.worker_binds (link_stats.h) */
} MsWorkerShared;

extern MsWorkerShared *ms_worker_shared;


/* Take the entry for this process / let go of it if it is still ours. */
extern void ms_worker_claim_entry(void);
extern void ms_worker_release_entry(const char *final_state);

/* Counter helpers (no-ops when shared memory is absent). */
extern void ms_worker_count(MsCounter c, uint64 n);
extern void ms_worker_set_error(const char *msg);
/* owner only: no-ops in a worker whose entry a successor has taken */
extern void ms_worker_set_state(const char *state);
extern void ms_worker_set_links(int configured, int bound, int window_in_use, int window_size);

#endif
