/*-------------------------------------------------------------------------
 *
 * bgworker.c
 *	  The background worker's control plane: GUCs, registration from
 *	  _PG_init, shared memory (identity for waking, counters), and
 *	  mobisign._worker_stats() behind the mobisign.worker_stats view.  The
 *	  worker's loop is in worker_main.c; the wake-up at commit, which runs in
 *	  every backend, is extension/worker_wake.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "bgworker.h"
#include "sql_fn.h"

char	   *ms_worker_database = NULL;
int			ms_worker_naptime_ms = 10000;
int			ms_worker_lease_s = 60;
int			ms_worker_housekeeping_ms = 1000;

MsWorkerShared *ms_worker_shared = NULL;

static bool preloaded = false;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;


PG_FUNCTION_INFO_V1(ms_worker_stats);

long
ms_until(TimestampTz now, TimestampTz t)
{
	long		secs;
	int			usecs;

	if (t <= now)
		return 0;
	TimestampDifference(now, t, &secs, &usecs);
	return secs * 1000 + (usecs + 999) / 1000;
}

static void
ms_worker_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(MsWorkerShared)));
}

static void
ms_worker_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ms_worker_shared = ShmemInitStruct("mobisign worker", sizeof(MsWorkerShared), &found);
	if (!found)
	{
		memset(ms_worker_shared, 0, sizeof(MsWorkerShared));
		SpinLockInit(&ms_worker_shared->mutex);
		ms_worker_shared->procno = -1;
		strlcpy(ms_worker_shared->state, "not started", MS_WSTATE_LEN);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
ms_bgworker_describe(BackgroundWorker *w, const char *name, const char *function,
					 int restart_time)
{
	memset(w, 0, sizeof(*w));
	w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* never sends or fetches from a standby: starts once recovery has finished */
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	w->bgw_restart_time = restart_time;
	strlcpy(w->bgw_library_name, "mobisign", BGW_MAXLEN);
	strlcpy(w->bgw_function_name, function, BGW_MAXLEN);
	strlcpy(w->bgw_name, name, BGW_MAXLEN);
	strlcpy(w->bgw_type, name, BGW_MAXLEN);
	w->bgw_notify_pid = 0;
}

void
ms_worker_describe(BackgroundWorker *w)
{
	/* restarted after a crash; a clean exit (SIGTERM) is final */
	ms_bgworker_describe(w, "mobisign worker", "ms_worker_main", 5);
}

static void
ms_worker_register(void)
{
	BackgroundWorker worker;

	ms_worker_describe(&worker);
	RegisterBackgroundWorker(&worker);
}

void
ms_worker_init(void)
{
	preloaded = process_shared_preload_libraries_in_progress;

	/*
	 * PGC_POSTMASTER variables may only be created while preloading; when
	 * loaded later the setting is still defined (so postgresql.conf does not
	 * warn) but has no effect.
	 */
	DefineCustomStringVariable("mobisign.database",
							   "Database the mobisign background worker connects to.",
							   "The database where CREATE EXTENSION mobisign was run.",
							   &ms_worker_database,
							   "postgres",
							   preloaded ? PGC_POSTMASTER : PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("mobisign.worker_naptime",
							"Safety-net poll interval of the mobisign worker.",
							"Writers wake the worker at commit; this poll only catches what a wake-up missed.",
							&ms_worker_naptime_ms,
							10000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mobisign.worker_lease",
							"How long a claimed request stays leased to the worker.",
							"After a crash, a request whose lease has expired is sent again.",
							&ms_worker_lease_s,
							60, 5, 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mobisign.worker_housekeeping_interval",
							"How often the worker expires transactions and seals the audit chain.",
							NULL,
							&ms_worker_housekeeping_ms,
							1000, 100, 600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	if (!preloaded)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ms_worker_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ms_worker_shmem_startup;

	ms_worker_register();
}

bool
ms_worker_preloaded(void)
{
	return preloaded && ms_worker_shared != NULL;
}

void
ms_worker_require_preload(void)
{
	if (!ms_worker_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mobisign's background worker is not available"),
				 errdetail("The mobisign library was not loaded through shared_preload_libraries, so no worker sends requests to the SMSC."),
				 errhint("Set shared_preload_libraries = 'mobisign' in postgresql.conf and restart the server.")));
}

/* ---- the running worker's identity --------------------------------------- */

/*
 * Called by a starting worker once it is connected: from now on writers wake
 * this process, and DROP DATABASE signals it.  A predecessor that is still
 * shutting down keeps running, but the entry is no longer its own.
 */
void
ms_worker_claim_entry(void)
{
	if (ms_worker_shared == NULL)
		return;
	SpinLockAcquire(&ms_worker_shared->mutex);
	ms_worker_shared->procno = MyProc->pgprocno;
	ms_worker_shared->pid = MyProcPid;
	ms_worker_shared->dboid = MyDatabaseId;
	ms_worker_shared->started_at = GetCurrentTimestamp();
	SpinLockRelease(&ms_worker_shared->mutex);
}

/*
 * The shared entry with its spinlock held (the caller releases it) when the
 * entry is this process's; else NULL, the lock not held: no shared memory,
 * or a successor has claimed the entry, and what it shows is its own.
 */
static MsWorkerShared *
own_entry_locked(void)
{
	if (ms_worker_shared == NULL)
		return NULL;
	SpinLockAcquire(&ms_worker_shared->mutex);
	if (ms_worker_shared->pid == MyProcPid)
		return ms_worker_shared;
	SpinLockRelease(&ms_worker_shared->mutex);
	return NULL;
}

/*
 * However a worker ends: clear the identity, and set the final state, only
 * if the entry is still this process's.  A successor that already claimed
 * it keeps its pid (mobisign.worker_stats) and its wake-ups.
 */
void
ms_worker_release_entry(const char *final_state)
{
	MsWorkerShared *w = own_entry_locked();

	if (w == NULL)
		return;
	w->procno = -1;
	w->pid = 0;
	w->dboid = InvalidOid;
	w->links_bound = 0;
	w->window_in_use = 0;
	if (final_state != NULL)
		strlcpy(w->state, final_state, MS_WSTATE_LEN);
	SpinLockRelease(&w->mutex);
}

/* ---- counters ---------------------------------------------------------- */

void
ms_worker_count(MsCounter c, uint64 n)
{
	if (ms_worker_shared == NULL)
		return;
	SpinLockAcquire(&ms_worker_shared->mutex);
	ms_worker_shared->counters[c] += n;
	SpinLockRelease(&ms_worker_shared->mutex);
}

void
ms_worker_set_error(const char *msg)
{
	TimestampTz now = GetCurrentTimestamp();
	int			len;

	if (ms_worker_shared == NULL)
		return;

	/*
	 * Cut a long message on a character boundary (of the worker's database
	 * encoding): half a character would make worker_stats.last_error invalid
	 * text.  Computed before the spinlock is taken.
	 */
	len = pg_mbcliplen(msg, strlen(msg), sizeof(ms_worker_shared->last_error) - 1);
	SpinLockAcquire(&ms_worker_shared->mutex);
	ms_worker_shared->counters[MS_C_ERRORS]++;
	ms_worker_shared->last_error_at = now;
	memcpy(ms_worker_shared->last_error, msg, len);
	ms_worker_shared->last_error[len] = '\0';
	SpinLockRelease(&ms_worker_shared->mutex);
}

void
ms_worker_set_state(const char *state)
{
	MsWorkerShared *w = own_entry_locked();

	if (w == NULL)
		return;
	strlcpy(w->state, state, MS_WSTATE_LEN);
	SpinLockRelease(&w->mutex);
}

void
ms_worker_set_links(int configured, int bound, int window_in_use, int window_size)
{
	MsWorkerShared *w = own_entry_locked();

	if (w == NULL)
		return;
	w->links_configured = configured;
	w->links_bound = bound;
	w->window_in_use = window_in_use;
	w->window_size = window_size;
	SpinLockRelease(&w->mutex);
}

/*
 * SQL: mobisign._worker_stats() -> one row, read by the mobisign.worker_stats
 * view.
 */
#define MS_STATS_COLS 17

Datum
ms_worker_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[MS_STATS_COLS];
	bool		nulls[MS_STATS_COLS];
	MsWorkerShared snap;
	int			i = 0;

	ms_worker_require_preload();

	tupdesc = ms_result_row(fcinfo);
	if (tupdesc->natts != MS_STATS_COLS)
		elog(ERROR, "mobisign._worker_stats: expected %d result columns, got %d",
			 MS_STATS_COLS, tupdesc->natts);

	SpinLockAcquire(&ms_worker_shared->mutex);
	memcpy(&snap, ms_worker_shared, offsetof(MsWorkerShared, binds));
	SpinLockRelease(&ms_worker_shared->mutex);

	memset(nulls, 0, sizeof(nulls));
	values[i] = Int32GetDatum(snap.pid);
	nulls[i++] = (snap.pid == 0);
	values[i++] = CStringGetTextDatum(snap.state);
	values[i++] = BoolGetDatum(snap.links_bound > 0);
	values[i++] = Int32GetDatum(snap.links_configured);
	values[i++] = Int32GetDatum(snap.links_bound);
	values[i++] = Int32GetDatum(snap.window_in_use);
	values[i++] = Int32GetDatum(snap.window_size);
	for (MsCounter c = 0; c < MS_C_COUNT; c++)
		values[i++] = Int64GetDatum((int64) snap.counters[c]);
	values[i] = TimestampTzGetDatum(snap.last_error_at);
	nulls[i++] = (snap.last_error_at == 0);
	values[i] = CStringGetTextDatum(snap.last_error);
	nulls[i++] = (snap.last_error[0] == '\0');
	values[i] = TimestampTzGetDatum(snap.started_at);
	nulls[i++] = (snap.started_at == 0);
	Assert(i == MS_STATS_COLS);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
