/*-------------------------------------------------------------------------
 *
 * dropdb.c
 *	  Let DROP DATABASE of the worker's database go through.
 *
 * DROP DATABASE refuses to drop a database that other sessions use, and the
 * mobisign worker is always connected to mobisign.database.  A
 * ProcessUtility hook sees the DropdbStmt first: when it names the worker's
 * database and the caller owns it (so that nobody can stop the worker with a
 * drop that would be refused anyway), the worker gets SIGTERM and shuts down
 * cleanly (unbind, its claimed requests back to the queue) within the few
 * seconds DROP DATABASE waits for other sessions to leave.  If the drop then
 * fails, the worker is started again.  The stopped worker may still be
 * finishing (it sees the SIGTERM only after its current unit of work) when
 * its successor starts: the shared entry belongs to whoever claimed it last,
 * and the old worker leaves it alone on its way out (bgworker.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "postmaster/bgworker.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/acl.h"

#include "bgworker.h"
#include "dropdb.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/* SIGTERM the worker if it serves the database being dropped by its owner */
static bool
stop_worker_for(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	pid_t		pid;
	Oid			worker_db;

	if (ms_worker_shared == NULL || !OidIsValid(dboid))
		return false;
	SpinLockAcquire(&ms_worker_shared->mutex);
	pid = ms_worker_shared->pid;
	worker_db = ms_worker_shared->dboid;
	SpinLockRelease(&ms_worker_shared->mutex);
	if (pid == 0 || worker_db != dboid || !pg_database_ownercheck(dboid, GetUserId()))
		return false;
	/* the pid must still be a session of that database (never signal a stranger) */
	{
		PGPROC	   *proc = BackendPidGetProc(pid);

		if (proc == NULL || proc->databaseId != dboid)
			return false;
	}
	ereport(LOG,
			(errmsg("stopping the mobisign worker: its database \"%s\" is being dropped", dbname)));
	return kill(pid, SIGTERM) == 0;
}

static void
restart_worker(void)
{
	BackgroundWorker worker;

	ms_worker_describe(&worker);
	if (!RegisterDynamicBackgroundWorker(&worker, NULL))
		ereport(WARNING,
				(errmsg("could not restart the mobisign worker after a failed DROP DATABASE"),
				 errhint("Restart the server to start it again.")));
}

static void
ms_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	volatile bool stopped = false;

	if (IsA(parsetree, DropdbStmt))
		stopped = stop_worker_for(((DropdbStmt *) parsetree)->dbname);

	PG_TRY();
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
								 queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		if (stopped)
			restart_worker();
		PG_RE_THROW();
	}
	PG_END_TRY();
}

void
ms_dropdb_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = ms_process_utility;
}
