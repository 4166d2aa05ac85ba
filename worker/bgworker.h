/*
 * bgworker.h
 *	  The background workers that drain mobisign.request_queue to SMPP: one
 *	  per database where the extension is installed, started by the launcher
 *	  (launcher.h).
 *
 * Public entry points for the rest of the extension:
 *
 *	ms_worker_init()			  from _PG_init: GUCs, shared memory, registration
 *	ms_worker_require_preload()   ERROR with a hint unless the library was
 *								  loaded through shared_preload_libraries
 *	ms_worker_entry_lock(dboid)   the shared entry of a database's worker
 */
#ifndef MOBISIGN_BGWORKER_H
#define MOBISIGN_BGWORKER_H

#include "datatype/timestamp.h"
#include "storage/spin.h"

#include "link_stats.h"

/* Called from _PG_init: GUCs, shared memory, worker registration. */
extern void ms_worker_init(void);

/*
 * Any mobisign background worker: connected to a database (by default the
 * one of the process that starts it, in bgw_main_arg), started once
 * recovery has finished, running function of this library under name.
 */
struct BackgroundWorker;
extern void ms_bgworker_describe(struct BackgroundWorker *w, const char *name,
								 const char *function, int restart_time);

/*
 * In a worker described by ms_bgworker_describe: connect to the database
 * whose OID is main_arg.
 */
extern void ms_bgworker_connect(Datum main_arg);

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
extern int	ms_worker_naptime_ms;
extern int	ms_worker_lease_s;
extern int	ms_worker_housekeeping_ms;
extern int	ms_smsc_stable_session_ms;

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
	MS_C_ACK_WAIT_US,			/* per deliver_sm stored, microseconds from its
								 * read to its deliver_sm_resp, summed */
	MS_C_BATCH_FALLBACKS,		/* batches of submitted requests that met a
								 * row another session held and were recorded
								 * one request at a time */
	MS_C_COUNT
} MsCounter;

/*
 * Shared state of one database's worker: its identity for waking it, and
 * its counters.  One entry per database (mobisign.max_databases of them);
 * everything is protected by the entry's spinlock (a handful of stores per
 * event).
 *
 * The launcher alone assigns an entry to a database (dboid) and frees it
 * once the database is gone; the counters are cumulative over that
 * database's workers since the server started.  The identity (procno, pid)
 * and the per-worker state (state, links, window) belong to the worker that
 * claimed the entry last: a worker that is still shutting down while its
 * successor has already started (a DROP DATABASE that failed after the hook
 * stopped it) must not clear or overwrite what the successor wrote.  Only
 * the owner (pid == MyProcPid) changes them.  absent, recheck, stop_pid
 * and replace are the launcher's conversation with the worker and the hooks
 * (launcher.c).
 */
typedef struct MsWorkerShared
{
	slock_t		mutex;
	Oid			dboid;			/* database of this entry, InvalidOid: free */
	bool		absent;			/* its last worker found no extension */
	bool		recheck;		/* CREATE/DROP EXTENSION committed: look again */
	bool		replace;		/* a failed drop: start a successor at once */
	int			stop_pid;		/* backend dropping the database, or 0 */
	int			procno;			/* PGPROC number of the running worker, or -1 */
	bool		wake_pending;	/* a writer set the latch; the worker has not
								 * yet begun the turn that claims its request
								 * (worker_wake.c, ms_worker_take_wake()) */
	int			pid;
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

/* CREATE EXTENSION commits not yet seen by the launcher (more: recheck_all) */
#define MS_RECHECK_QUEUE 16

/*
 * Every entry, the launcher's identity (for waking it), and the databases
 * where a CREATE EXTENSION committed since the launcher last looked.
 */
typedef struct MsWorkerTable
{
	slock_t		mutex;			/* protects the fields up to nslots */
	int			launcher_procno;	/* or -1 */
	int			nrecheck;
	Oid			recheck_db[MS_RECHECK_QUEUE];
	bool		recheck_all;
	int			nslots;
	MsWorkerShared slots[FLEXIBLE_ARRAY_MEMBER];
} MsWorkerTable;

extern MsWorkerTable *ms_worker_table;

/*
 * The entry of database dboid with its spinlock held (the caller releases
 * it), or NULL (no shared memory, or no entry for that database).
 */
extern MsWorkerShared *ms_worker_entry_lock(Oid dboid);

/* Reset an entry for database dboid (the launcher, entry lock held). */
extern void ms_worker_entry_reset(MsWorkerShared *e, Oid dboid);

/* Set a PGPROC's latch by number (no-op for -1). */
extern void ms_set_proc_latch(int procno);



/*
 * Take the entry of this process's database (false: the launcher assigned
 * none) / let go of it if it is still ours; absent: the worker found no
 * extension (the launcher starts none there until a CREATE EXTENSION).
 */
extern bool ms_worker_claim_entry(void);

/*
 * The worker, at the start of every turn, before the turn's claim: was a
 * wake-up requested since the last turn (wake_pending, cleared)?  Writers
 * that commit while it is set do not set the latch again: the claim that
 * follows this call sees their rows (worker_wake.c).
 */
extern bool ms_worker_take_wake(void);

/*
 * Is a wake-up or a recheck waiting for the worker (neither cleared)?  Its
 * latch is no proof: any wait inside a turn after the claim (a lock wait, a
 * synchronous-replication commit wait) resets MyLatch and eats a writer's
 * SetLatch, while later writers, finding wake_pending set, signal no more;
 * the worker looks at the flags before it sleeps (worker_main.c).
 */
extern bool ms_worker_flag_waiting(void);
extern void ms_worker_release_entry(const char *final_state, bool absent);

/* A CREATE/DROP EXTENSION asked this worker to look again (clears the flag). */
extern bool ms_worker_take_recheck(void);

/* Counter helpers (no-ops when shared memory is absent). */
extern void ms_worker_count(MsCounter c, uint64 n);
extern void ms_worker_set_error(const char *msg);
/* owner only: no-ops in a worker whose entry a successor has taken */
extern void ms_worker_set_state(const char *state);
extern void ms_worker_set_links(int configured, int bound, int window_in_use, int window_size);

#endif
