/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The "mobisign launcher": one preload, a worker in every database.
 *
 * A static background worker, registered from _PG_init, connected to no
 * database (it reads only the shared catalog pg_database, as PostgreSQL's
 * own logical replication launcher reads pg_subscription).  Every
 * mobisign.launcher_naptime, and whenever it is woken, it lists the
 * databases that accept connections, are not templates and are selected by
 * mobisign.database (empty: all), and keeps one dynamic "mobisign worker"
 * in each of them where the extension is installed.
 *
 * Which databases have the extension only their own catalogs say, so the
 * launcher starts a worker in every selected database it has not seen yet;
 * a worker that finds no extension records it in its entry and exits, and
 * the launcher remembers that database as "absent" (in its own memory, no
 * shared entry is kept) until a CREATE EXTENSION there commits.  The
 * utility hook (extension/dropdb.c) reports, at the end of the transaction:
 *	  CREATE EXTENSION / DROP EXTENSION / DROP SCHEMA / DROP OWNED /
 *	  COMMIT PREPARED: the database's worker looks again (it leaves if the
 *	  extension is gone) and the launcher forgets "absent" for it;
 *	  CREATE DATABASE, ALTER DATABASE (IS_TEMPLATE, ALLOW_CONNECTIONS,
 *	  RENAME): the launcher scans at once;
 *	  DROP DATABASE by the owner: no worker is started there while the drop
 *	  runs; if it fails, a successor is started at once, even while the
 *	  stopped worker is still finishing (its entry then belongs to the
 *	  successor: bgworker.c).
 *
 * Invariants: only the launcher assigns and frees the shared entries of
 * bgworker.h (so two launchers never race: there is one, static); a worker
 * is registered BGW_NEVER_RESTART with the launcher as bgw_notify_pid (a
 * crash of any worker restarts the whole server, and the new launcher
 * starts everything afresh; an exit that is not a crash is seen by the
 * launcher, which starts the worker again at most once every
 * MS_RESTART_DELAY_MS per database); a worker the launcher has no handle for
 * (a launcher restarted on its own) is adopted by its pid, never doubled.
 * Every loop is bounded by the number of entries or of databases.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "bgworker.h"
#include "launcher.h"

/* a worker that stops is started again, at most once per this per database */
#define MS_RESTART_DELAY_MS 5000
/* a launcher that fails is restarted by the postmaster after this */
#define MS_LAUNCHER_RESTART_S 10

char	   *ms_launcher_databases = NULL;
int			ms_launcher_max_databases = 8;
static int	launcher_naptime_ms = 10000;

/* ---- GUCs and registration ---------------------------------------------- */

static bool
check_databases(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names = NIL;
	bool		ok = SplitGUCList(raw, ',', &names);

	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	list_free(names);
	pfree(raw);
	return ok;
}

void
ms_launcher_init(bool preloaded)
{
	DefineCustomStringVariable("mobisign.database",
							   "Databases the mobisign launcher starts a worker in.",
							   "A comma-separated list of database names; empty: every database where the extension is installed.",
							   &ms_launcher_databases,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_databases, NULL, NULL);

	DefineCustomIntVariable("mobisign.launcher_naptime",
							"How often the mobisign launcher looks for databases.",
							"CREATE/DROP EXTENSION and CREATE/ALTER/DROP DATABASE wake it at once; this catches the rest.",
							&launcher_naptime_ms,
							10000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * PGC_POSTMASTER variables may only be created while preloading; when
	 * loaded later the setting is still defined (so postgresql.conf does not
	 * warn) but has no effect.
	 */
	DefineCustomIntVariable("mobisign.max_databases",
							"How many databases can have a mobisign worker at the same time.",
							"Each worker also takes one of max_worker_processes.",
							&ms_launcher_max_databases,
							8, 1, 1024,
							preloaded ? PGC_POSTMASTER : PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}

void
ms_launcher_register(void)
{
	BackgroundWorker worker;

	ms_bgworker_describe(&worker, "mobisign launcher", "ms_launcher_main",
						 MS_LAUNCHER_RESTART_S);
	worker.bgw_main_arg = ObjectIdGetDatum(InvalidOid);
	RegisterBackgroundWorker(&worker);
}

/* ---- waking the launcher ------------------------------------------------ */

static void
wake_launcher(void)
{
	int			procno;

	if (ms_worker_table == NULL)
		return;
	SpinLockAcquire(&ms_worker_table->mutex);
	procno = ms_worker_table->launcher_procno;
	SpinLockRelease(&ms_worker_table->mutex);
	ms_set_proc_latch(procno);
}

/* CREATE EXTENSION committed in dboid: forget "absent" (an overflow: for all) */
static void
queue_recheck(Oid dboid)
{
	MsWorkerTable *t = ms_worker_table;

	SpinLockAcquire(&t->mutex);
	if (t->nrecheck < MS_RECHECK_QUEUE)
		t->recheck_db[t->nrecheck++] = dboid;
	else
		t->recheck_all = true;
	SpinLockRelease(&t->mutex);
}

/* ---- what the hooks report, at the end of the transaction --------------- */

static bool xact_cb_registered = false;
static bool pending_wake = false;
static bool pending_recheck = false;
static Oid	pending_drop_db = InvalidOid;
static bool pending_drop_stopped = false;

/* the end of a DROP DATABASE: workers may start there again (or at once) */
static void
release_drop_hold(bool failed)
{
	MsWorkerShared *e = ms_worker_entry_lock(pending_drop_db);

	if (e != NULL)
	{
		if (e->stop_pid == MyProcPid)
			e->stop_pid = 0;
		if (failed && pending_drop_stopped)
			e->replace = true;
		SpinLockRelease(&e->mutex);
	}
	pending_drop_db = InvalidOid;
	pending_drop_stopped = false;
}

static void
launcher_xact_callback(XactEvent event, void *arg)
{
	bool		committed;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			committed = true;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* a prepared CREATE EXTENSION is reported by its COMMIT PREPARED */
			committed = false;
			break;
		default:
			return;
	}
	if (!pending_wake || ms_worker_table == NULL)
		return;
	if (OidIsValid(pending_drop_db))
		release_drop_hold(!committed);
	if (committed && pending_recheck)
	{
		MsWorkerShared *e = ms_worker_entry_lock(MyDatabaseId);
		int			procno = -1;

		if (e != NULL)
		{
			e->recheck = true;
			procno = e->procno;
			SpinLockRelease(&e->mutex);
		}
		ms_set_proc_latch(procno);
		queue_recheck(MyDatabaseId);
	}
	pending_wake = false;
	pending_recheck = false;
	wake_launcher();
}

static void
at_end_of_xact(void)
{
	if (!xact_cb_registered)
	{
		RegisterXactCallback(launcher_xact_callback, NULL);
		xact_cb_registered = true;
	}
	pending_wake = true;
}

void
ms_launcher_extension_changed(void)
{
	at_end_of_xact();
	pending_recheck = true;
}

void
ms_launcher_databases_changed(void)
{
	at_end_of_xact();
}

int
ms_launcher_hold_for_drop(Oid dboid)
{
	MsWorkerShared *e = ms_worker_entry_lock(dboid);
	int			pid;

	if (e == NULL)
		return 0;
	e->stop_pid = MyProcPid;
	pid = e->pid;
	SpinLockRelease(&e->mutex);
	at_end_of_xact();
	pending_drop_db = dboid;
	pending_drop_stopped = (pid != 0);
	return pid;
}

/* ---- the launcher's view of the databases ------------------------------- */

typedef struct MsDatabase
{
	Oid			oid;
	NameData	name;
} MsDatabase;

/* per entry of the shared table: what only the launcher knows */
typedef struct MsLaunched
{
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
} MsLaunched;

typedef struct MsLauncher
{
	MemoryContext cxt;			/* the launcher's lifetime */
	MemoryContext turn_cxt;		/* reset every turn */
	MsLaunched *launched;		/* [nslots] */
	List	   *absent;			/* OIDs of databases without the extension */
	bool		full_logged;	/* "no free entry" logged since the last free */
	bool		register_logged;	/* "could not start" logged since the last start */
} MsLauncher;

static bool
name_selected(List *names, const char *datname)
{
	ListCell   *lc;

	if (names == NIL)
		return true;
	foreach(lc, names)
		if (strcmp((const char *) lfirst(lc), datname) == 0)
			return true;
	return false;
}

/*
 * The selected databases (MsDatabase *, in the turn's context): those that
 * accept connections, are not templates and are named by mobisign.database
 * (or all when it is empty).  A heap scan of pg_database in its own
 * transaction, as the launcher is connected to no database.
 */
static List *
selected_databases(MsLauncher *l)
{
	List	   *result = NIL;
	List	   *names = NIL;
	char	   *raw;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext old;

	old = MemoryContextSwitchTo(l->turn_cxt);
	raw = pstrdup(ms_launcher_databases);
	if (!SplitGUCList(raw, ',', &names))
		names = NIL;			/* refused by the check hook already */
	MemoryContextSwitchTo(old);

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MsDatabase *d;

		if (!db->datallowconn || db->datistemplate ||
			!name_selected(names, NameStr(db->datname)))
			continue;
		old = MemoryContextSwitchTo(l->turn_cxt);
		d = palloc(sizeof(MsDatabase));
		d->oid = db->oid;
		d->name = db->datname;
		result = lappend(result, d);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

static MsDatabase *
find_database(List *dbs, Oid oid)
{
	ListCell   *lc;

	foreach(lc, dbs)
		if (((MsDatabase *) lfirst(lc))->oid == oid)
			return (MsDatabase *) lfirst(lc);
	return NULL;
}

/* a live session of database dboid with this pid (never trust a stale pid) */
static bool
session_alive(int pid, Oid dboid)
{
	PGPROC	   *proc;

	if (pid == 0)
		return false;
	proc = BackendPidGetProc(pid);
	return proc != NULL && (!OidIsValid(dboid) || proc->databaseId == dboid);
}

/* whether entry i's worker runs (or is starting); pid: the entry's worker */
static bool
worker_running(MsLauncher *l, int i, int pid, Oid dboid)
{
	MsLaunched *x = &l->launched[i];
	pid_t		hpid;

	if (x->handle != NULL)
	{
		switch (GetBackgroundWorkerPid(x->handle, &hpid))
		{
			case BGWH_STARTED:
			case BGWH_NOT_YET_STARTED:
				return true;
			case BGWH_POSTMASTER_DIED:
				proc_exit(1);
				break;
			case BGWH_STOPPED:
				pfree(x->handle);
				x->handle = NULL;
				break;
		}
	}
	/* adopted: started before this launcher did */
	return session_alive(pid, dboid);
}

/* ---- one turn ------------------------------------------------------------ */

static void
take_rechecks(MsLauncher *l)
{
	MsWorkerTable *t = ms_worker_table;
	Oid			oids[MS_RECHECK_QUEUE];
	int			n;
	bool		all;

	SpinLockAcquire(&t->mutex);
	n = t->nrecheck;
	memcpy(oids, t->recheck_db, n * sizeof(Oid));
	all = t->recheck_all;
	t->nrecheck = 0;
	t->recheck_all = false;
	SpinLockRelease(&t->mutex);

	if (all)
	{
		list_free(l->absent);
		l->absent = NIL;
	}
	for (int k = 0; k < n; k++)
		l->absent = list_delete_oid(l->absent, oids[k]);
}

static void
free_entry(MsLauncher *l, MsWorkerShared *e)
{
	SpinLockAcquire(&e->mutex);
	ms_worker_entry_reset(e, InvalidOid);
	SpinLockRelease(&e->mutex);
	l->full_logged = false;
}

static void
start_worker(MsLauncher *l, int i, MsDatabase *db, TimestampTz now)
{
	BackgroundWorker w;
	MemoryContext old;
	bool		ok;

	ms_bgworker_describe(&w, "mobisign worker", "ms_worker_main", BGW_NEVER_RESTART);
	snprintf(w.bgw_name, BGW_MAXLEN, "mobisign worker for database %s", NameStr(db->name));
	w.bgw_main_arg = ObjectIdGetDatum(db->oid);
	/* the name, for the worker's log lines before it can read the catalogs */
	memcpy(w.bgw_extra, NameStr(db->name), Min(NAMEDATALEN, BGW_EXTRALEN));
	w.bgw_notify_pid = MyProcPid;

	old = MemoryContextSwitchTo(l->cxt);
	ok = RegisterDynamicBackgroundWorker(&w, &l->launched[i].handle);
	MemoryContextSwitchTo(old);
	l->launched[i].started_at = now;
	if (!ok)
	{
		l->launched[i].handle = NULL;
		if (!l->register_logged)
			ereport(WARNING,
					(errmsg("mobisign launcher: could not start a worker for database \"%s\"",
							NameStr(db->name)),
					 errdetail("No background worker slot is free."),
					 errhint("Raise max_worker_processes.")));
		l->register_logged = true;
		return;
	}
	l->register_logged = false;
	ereport(DEBUG1,
			(errmsg("mobisign launcher: starting a worker for database \"%s\"", NameStr(db->name))));
}

/*
 * Entry i, of a selected database: start its worker if it should run and
 * does not.  *timeout: shortened to the next restart allowed.
 */
static void
serve_entry(MsLauncher *l, int i, MsDatabase *db, TimestampTz now, long *timeout)
{
	MsWorkerShared *e = &ms_worker_table->slots[i];
	int			pid;
	int			stop_pid;
	bool		replace;
	bool		absent;
	bool		recheck;
	TimestampTz allowed;

	SpinLockAcquire(&e->mutex);
	pid = e->pid;
	stop_pid = e->stop_pid;
	replace = e->replace;
	absent = e->absent;
	recheck = e->recheck;
	SpinLockRelease(&e->mutex);

	/* a DROP DATABASE runs: nothing starts there before it ends */
	if (stop_pid != 0)
	{
		if (session_alive(stop_pid, InvalidOid))
			return;
		SpinLockAcquire(&e->mutex);
		if (e->stop_pid == stop_pid)
			e->stop_pid = 0;
		SpinLockRelease(&e->mutex);
	}

	if (worker_running(l, i, pid, db->oid))
	{
		if (!replace)
			return;
		/* the drop failed: the stopped worker finishes alone, a successor starts */
		if (l->launched[i].handle != NULL)
		{
			pfree(l->launched[i].handle);
			l->launched[i].handle = NULL;
		}
	}
	else if (absent && !recheck && !replace)
	{
		/* no extension there: remembered until a CREATE EXTENSION */
		l->absent = lappend_oid(l->absent, db->oid);
		free_entry(l, e);
		return;
	}
	else if (!replace && !recheck)
	{
		allowed = TimestampTzPlusMilliseconds(l->launched[i].started_at, MS_RESTART_DELAY_MS);
		if (l->launched[i].started_at != 0 && now < allowed)
		{
			*timeout = Min(*timeout, ms_until(now, allowed));
			return;
		}
	}

	SpinLockAcquire(&e->mutex);
	e->replace = false;
	SpinLockRelease(&e->mutex);
	start_worker(l, i, db, now);
	if (l->launched[i].handle == NULL)
		*timeout = Min(*timeout, MS_RESTART_DELAY_MS);
}

/* the entry of dboid, or a free one given to it; -1 when none is free */
static int
entry_for(MsLauncher *l, MsDatabase *db)
{
	int			free_slot = -1;

	for (int i = 0; i < ms_worker_table->nslots; i++)
	{
		MsWorkerShared *e = &ms_worker_table->slots[i];
		Oid			dboid;

		SpinLockAcquire(&e->mutex);
		dboid = e->dboid;
		SpinLockRelease(&e->mutex);
		if (dboid == db->oid)
			return i;
		if (!OidIsValid(dboid) && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0)
	{
		MsWorkerShared *e = &ms_worker_table->slots[free_slot];

		SpinLockAcquire(&e->mutex);
		ms_worker_entry_reset(e, db->oid);
		SpinLockRelease(&e->mutex);
		l->launched[free_slot].started_at = 0;
		return free_slot;
	}
	if (!l->full_logged)
		ereport(WARNING,
				(errmsg("mobisign launcher: no worker for database \"%s\"", NameStr(db->name)),
				 errdetail("All %d entries of mobisign.max_databases are in use.",
						   ms_worker_table->nslots),
				 errhint("Raise mobisign.max_databases, or name the databases to serve in mobisign.database.")));
	l->full_logged = true;
	return -1;
}

static long
launcher_turn(MsLauncher *l)
{
	TimestampTz now = GetCurrentTimestamp();
	long		timeout = launcher_naptime_ms;
	List	   *dbs;
	ListCell   *lc;

	take_rechecks(l);
	dbs = selected_databases(l);
	/* what outlives the turn (the absent list, handles) is the launcher's */
	MemoryContextSwitchTo(l->cxt);

	/* entries of databases no longer selected (dropped, excluded) */
	for (int i = 0; i < ms_worker_table->nslots; i++)
	{
		MsWorkerShared *e = &ms_worker_table->slots[i];
		Oid			dboid;
		int			pid;

		SpinLockAcquire(&e->mutex);
		dboid = e->dboid;
		pid = e->pid;
		SpinLockRelease(&e->mutex);
		if (!OidIsValid(dboid) || find_database(dbs, dboid) != NULL)
			continue;
		if (!worker_running(l, i, pid, dboid))
			free_entry(l, e);
		else
		{
			ereport(LOG,
					(errmsg("mobisign launcher: stopping the worker of database %u: no longer selected",
							dboid)));
			if (l->launched[i].handle != NULL)
				TerminateBackgroundWorker(l->launched[i].handle);
			else if (session_alive(pid, dboid))

				/*
				 * adopted (started before this launcher, so no handle): the
				 * entry's pid, a live session of that database just now
				 */
				(void) kill(pid, SIGTERM);
		}
	}

	/* remembered absences of databases that are gone */
	foreach(lc, l->absent)
		if (find_database(dbs, lfirst_oid(lc)) == NULL)
			l->absent = foreach_delete_current(l->absent, lc);

	foreach(lc, dbs)
	{
		MsDatabase *db = (MsDatabase *) lfirst(lc);
		int			i;

		if (list_member_oid(l->absent, db->oid))
			continue;
		i = entry_for(l, db);
		if (i >= 0)
			serve_entry(l, i, db, now, &timeout);
	}
	return timeout;
}

/* ---- main ---------------------------------------------------------------- */

static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&ms_worker_table->mutex);
	if (ms_worker_table->launcher_procno == MyProc->pgprocno)
		ms_worker_table->launcher_procno = -1;
	SpinLockRelease(&ms_worker_table->mutex);
}

void
ms_launcher_main(Datum main_arg)
{
	MsLauncher *l;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);

	/*
	 * A reload signalled between our fork and the handler above is lost
	 * (StartBackgroundWorker sets SIGHUP to SIG_IGN first, which discards a
	 * pending signal): read the configuration once more at start.
	 */
	ConfigReloadPending = true;
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: pg_database is a shared catalog */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	if (ms_worker_table == NULL)
		proc_exit(0);
	SpinLockAcquire(&ms_worker_table->mutex);
	ms_worker_table->launcher_procno = MyProc->pgprocno;
	SpinLockRelease(&ms_worker_table->mutex);
	before_shmem_exit(launcher_detach, (Datum) 0);

	l = MemoryContextAllocZero(TopMemoryContext, sizeof(MsLauncher));
	l->cxt = AllocSetContextCreate(TopMemoryContext, "mobisign launcher", ALLOCSET_DEFAULT_SIZES);
	l->turn_cxt = AllocSetContextCreate(l->cxt, "mobisign launcher turn", ALLOCSET_DEFAULT_SIZES);
	l->launched = MemoryContextAllocZero(l->cxt, sizeof(MsLaunched) * ms_worker_table->nslots);
	ereport(LOG, (errmsg("mobisign launcher started")));

	for (;;)
	{
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(l->turn_cxt);
		timeout = launcher_turn(l);
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(timeout, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
