/*-------------------------------------------------------------------------
 *
 * dropdb.c
 *	  The utility hook: let DROP DATABASE of a worker's database go through,
 *	  and tell the launcher what changes the databases it serves.
 *
 * DROP DATABASE refuses to drop a database that other sessions use, and a
 * mobisign worker is connected to every database where the extension is
 * installed.  A ProcessUtility hook sees the DropdbStmt first: when the
 * database has a worker and the caller owns it (so that nobody can stop the
 * worker with a drop that would be refused anyway), the launcher is told to
 * start no worker there until the transaction ends, and the worker gets
 * SIGTERM and shuts down cleanly (unbind, its claimed requests back to the
 * queue) within the few seconds DROP DATABASE waits for other sessions to
 * leave.  If the drop then fails, the launcher starts a worker again at
 * once.  The stopped worker may still be finishing (it sees the SIGTERM
 * only after its current unit of work) when its successor starts: the
 * shared entry belongs to whoever claimed it last, and the old worker
 * leaves it alone on its way out (worker/bgworker.c).
 *
 * CREATE/DROP EXTENSION (and DROP SCHEMA, DROP OWNED, COMMIT PREPARED,
 * which can create or drop it too) and CREATE/ALTER DATABASE are reported to the
 * launcher (worker/launcher.h), which acts when the transaction commits.
 * The hook itself never fails a statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/utility.h"
#include "utils/acl.h"

#include "dropdb.h"
#include "launcher.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/* SIGTERM the worker if it serves the database being dropped by its owner */
static void
stop_worker_for(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	pid_t		pid;
	PGPROC	   *proc;

	if (!OidIsValid(dboid) || !pg_database_ownercheck(dboid, GetUserId()))
		return;
	pid = ms_launcher_hold_for_drop(dboid);
	if (pid == 0)
		return;
	/* the pid must still be a session of that database (never signal a stranger) */
	proc = BackendPidGetProc(pid);
	if (proc == NULL || proc->databaseId != dboid)
		return;
	ereport(LOG,
			(errmsg("stopping the mobisign worker: its database \"%s\" is being dropped", dbname)));
	(void) kill(pid, SIGTERM);
}

/* statements after which the extension may have appeared or gone */
static bool
may_change_extension(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_CreateExtensionStmt:
		case T_DropOwnedStmt:
			return true;
		case T_DropStmt:
			return ((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION ||
				((DropStmt *) parsetree)->removeType == OBJECT_SCHEMA;
		case T_TransactionStmt:
			return ((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED;
		default:
			return false;
	}
}

static void
ms_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropdbStmt))
		stop_worker_for(((DropdbStmt *) parsetree)->dbname);
	else if (IsA(parsetree, CreatedbStmt) || IsA(parsetree, AlterDatabaseStmt) ||
			 (IsA(parsetree, RenameStmt) &&
			  ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE))
		ms_launcher_databases_changed();
	else if (may_change_extension(parsetree))
		ms_launcher_extension_changed();

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
ms_dropdb_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = ms_process_utility;
}
