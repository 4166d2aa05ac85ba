/*-------------------------------------------------------------------------
 *
 * bgworker.c
 *	  The background workers' control plane: GUCs, registration of the
 *	  launcher from _PG_init, shared memory (one entry per database: identity
 *	  for waking, counters), and mobisign._worker_stats() behind the
 *	  mobisign.worker_stats view.  The launcher, which starts one worker per
 *	  database, is launcher.c; the worker's loop is in worker_main.c; the
 *	  wake-up at commit, which runs in every backend, is
 *	  extension/worker_wake.c.
 *
 * Invariants: a worker process writes only the entry of its own database,
 * and its identity fields only while it owns them (pid); a backend finds
 * the entry of a database by its OID, under the entry's spinlock.
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
#include "launcher.h"
#include "sql_fn.h"

int			ms_worker_naptime_ms = 10000;
int			ms_worker_lease_s = 60;
int			ms_worker_housekeeping_ms = 1000;
int			ms_smsc_stable_session_ms = 30000;

MsWorkerTable *ms_worker_table = NULL;

/* in a worker: the entry of its database, once claimed */
static MsWorkerShared *my_entry = NULL;

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

static Size
ms_worker_table_size(void)
{
	return add_size(offsetof(MsWorkerTable, slots),
					mul_size(ms_launcher_max_databases, sizeof(MsWorkerShared)));
}

void
ms_worker_entry_reset(MsWorkerShared *e, Oid dboid)
{
	slock_t		mutex = e->mutex;

	memset(e, 0, sizeof(*e));
	e->mutex = mutex;
	e->dboid = dboid;
	e->procno = -1;
	strlcpy(e->state, "not started", MS_WSTATE_LEN);
}

static void
ms_worker_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(ms_worker_table_size()));
}

static void
ms_worker_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ms_worker_table = ShmemInitStruct("mobisign workers", ms_worker_table_size(), &found);
	if (!found)
	{
		memset(ms_worker_table, 0, ms_worker_table_size());
		SpinLockInit(&ms_worker_table->mutex);
		ms_worker_table->launcher_procno = -1;
		ms_worker_table->nslots = ms_launcher_max_databases;
		for (int i = 0; i < ms_worker_table->nslots; i++)
		{
			SpinLockInit(&ms_worker_table->slots[i].mutex);
			ms_worker_entry_reset(&ms_worker_table->slots[i], InvalidOid);
		}
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
	w->bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	w->bgw_notify_pid = 0;
}

void
ms_bgworker_connect(Datum main_arg)
{
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
}

void
ms_worker_init(void)
{
	preloaded = process_shared_preload_libraries_in_progress;

	ms_launcher_init(preloaded);

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

	DefineCustomIntVariable("mobisign.smsc_stable_session",
							"How long an SMPP session must stay bound before the reconnect back-off starts over.",
							"A session that ends sooner, by a fault or by the SMSC, doubles the next reconnect delay; 0: every successful bind starts it over.",
							&ms_smsc_stable_session_ms,
							30000, 0, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	if (!preloaded)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ms_worker_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ms_worker_shmem_startup;

	ms_launcher_register();
}

bool
ms_worker_preloaded(void)
{
	return preloaded && ms_worker_table != NULL;
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

/* ---- the entries ------------------------------------------------------- */

MsWorkerShared *
ms_worker_entry_lock(Oid dboid)
{
	if (ms_worker_table == NULL || !OidIsValid(dboid))
		return NULL;
	for (int i = 0; i < ms_worker_table->nslots; i++)
	{
		MsWorkerShared *e = &ms_worker_table->slots[i];

		SpinLockAcquire(&e->mutex);
		if (e->dboid == dboid)
			return e;
		SpinLockRelease(&e->mutex);
	}
	return NULL;
}

void
ms_set_proc_latch(int procno)
{
	if (procno >= 0 && procno < (int) ProcGlobal->allProcCount)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/* ---- the running worker's identity --------------------------------------- */

/*
 * Called by a starting worker once it is connected: from now on writers wake
 * this process, and DROP DATABASE signals it.  A predecessor that is still
 * shutting down keeps running, but the entry is no longer its own.
 */
bool
ms_worker_claim_entry(void)
{
	MsWorkerShared *e = ms_worker_entry_lock(MyDatabaseId);

	if (e == NULL)
		return false;
	e->procno = MyProc->pgprocno;
	e->pid = MyProcPid;
	e->started_at = GetCurrentTimestamp();
	e->recheck = false;
	e->absent = false;
	/* a flag left by writers while no worker ran: the first claim sees their rows */
	e->wake_pending = false;
	SpinLockRelease(&e->mutex);
	my_entry = e;
	return true;
}

/*
 * The entry with its spinlock held (the caller releases it) when it is this
 * process's; else NULL, the lock not held: no entry claimed, or a successor
 * has claimed it, and what it shows is its own.
 */
static MsWorkerShared *
own_entry_locked(void)
{
	if (my_entry == NULL)
		return NULL;
	SpinLockAcquire(&my_entry->mutex);
	if (my_entry->pid == MyProcPid)
		return my_entry;
	SpinLockRelease(&my_entry->mutex);
	return NULL;
}

/*
 * However a worker ends: clear the identity, and set the final state and
 * what it found of the extension, only if the entry is still this
 * process's.  A successor that already claimed it keeps its pid
 * (mobisign.worker_stats) and its wake-ups.
 */
void
ms_worker_release_entry(const char *final_state, bool absent)
{
	MsWorkerShared *w = own_entry_locked();

	if (w == NULL)
		return;
	w->procno = -1;
	w->pid = 0;
	w->links_bound = 0;
	w->window_in_use = 0;
	if (final_state != NULL)
		strlcpy(w->state, final_state, MS_WSTATE_LEN);
	w->absent = absent;
	SpinLockRelease(&w->mutex);
}

bool
ms_worker_take_recheck(void)
{
	MsWorkerShared *w = own_entry_locked();
	bool		recheck;

	if (w == NULL)
		return false;
	recheck = w->recheck;
	w->recheck = false;
	SpinLockRelease(&w->mutex);
	return recheck;
}

bool
ms_worker_take_wake(void)
{
	MsWorkerShared *w = own_entry_locked();
	bool		wake;

	if (w == NULL)
		return false;
	wake = w->wake_pending;
	w->wake_pending = false;
	SpinLockRelease(&w->mutex);
	return wake;
}

bool
ms_worker_flag_waiting(void)
{
	MsWorkerShared *w = own_entry_locked();
	bool		waiting;

	if (w == NULL)
		return false;
	waiting = w->wake_pending || w->recheck;
	SpinLockRelease(&w->mutex);
	return waiting;
}

/* ---- counters ---------------------------------------------------------- */

void
ms_worker_count(MsCounter c, uint64 n)
{
	if (my_entry == NULL)
		return;
	SpinLockAcquire(&my_entry->mutex);
	my_entry->counters[c] += n;
	SpinLockRelease(&my_entry->mutex);
}

void
ms_worker_set_error(const char *msg)
{
	TimestampTz now = GetCurrentTimestamp();
	int			len;

	if (my_entry == NULL)
		return;

	/*
	 * Cut a long message on a character boundary (of the worker's database
	 * encoding): half a character would make worker_stats.last_error invalid
	 * text.  Computed before the spinlock is taken.
	 */
	len = pg_mbcliplen(msg, strlen(msg), sizeof(my_entry->last_error) - 1);
	SpinLockAcquire(&my_entry->mutex);
	my_entry->counters[MS_C_ERRORS]++;
	my_entry->last_error_at = now;
	memcpy(my_entry->last_error, msg, len);
	my_entry->last_error[len] = '\0';
	SpinLockRelease(&my_entry->mutex);
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
 * view: the worker of the current database.
 */
#define MS_STATS_COLS 19

Datum
ms_worker_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[MS_STATS_COLS];
	bool		nulls[MS_STATS_COLS];
	MsWorkerShared snap;
	MsWorkerShared *e;
	int			i = 0;

	ms_worker_require_preload();

	tupdesc = ms_result_row(fcinfo);
	if (tupdesc->natts != MS_STATS_COLS)
		elog(ERROR, "mobisign._worker_stats: expected %d result columns, got %d",
			 MS_STATS_COLS, tupdesc->natts);

	e = ms_worker_entry_lock(MyDatabaseId);
	if (e != NULL)
	{
		memcpy(&snap, e, offsetof(MsWorkerShared, binds));
		SpinLockRelease(&e->mutex);
	}
	else
		ms_worker_entry_reset(&snap, MyDatabaseId);	/* no worker (yet) */

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
