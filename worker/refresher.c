/*-------------------------------------------------------------------------
 *
 * refresher.c
 *	  The "mobisign refresher" background worker (see refresher.h).
 *
 * Its loop follows src/test/modules/worker_spi: signals, connection, a
 * latch wait with WL_EXIT_ON_PM_DEATH, one transaction per unit of work.
 * An error in one refresh is logged and the loop goes on.  Like the SMPP
 * worker it starts only when recovery has finished: a standby never
 * fetches or writes revocation data.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "bgworker.h"
#include "refresher.h"

static int	crl_refresh_interval_s = 60;

void
ms_refresher_init(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("mobisign.crl_refresh_interval",
							"How often the refresher fetches CRLs and OCSP data that are due.",
							"0 turns the refresher off; mobisign_refresh_crls() still works on demand.",
							&crl_refresh_interval_s,
							60, 0, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	strlcpy(worker.bgw_library_name, "mobisign", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "ms_refresher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "mobisign refresher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "mobisign refresher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* Run one statement in its own transaction; false if it failed (logged). */
static bool
run_in_transaction(const char *sql, bool *isnull, Datum *result)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, sql);
		if (SPI_execute(sql, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "unexpected result from \"%s\"", sql);
		*result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ok = false;
	}
	PG_END_TRY();
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

static void
refresh_once(void)
{
	bool		isnull;
	Datum		d;

	/* the extension may not be installed yet, or may be an older version */
	if (!run_in_transaction("SELECT pg_catalog.to_regprocedure('mobisign._refresh_due_crls()') IS NOT NULL",
							&isnull, &d) || isnull || !DatumGetBool(d))
		return;
	if (run_in_transaction("SELECT mobisign._refresh_due_crls()", &isnull, &d) && !isnull &&
		DatumGetInt32(d) > 0)
		elog(LOG, "mobisign refresher: %d CRLs updated", DatumGetInt32(d));
}

void
ms_refresher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(ms_worker_database, NULL, 0);
	pgstat_report_appname("mobisign refresher");

	for (;;)
	{
		long		timeout_ms = (crl_refresh_interval_s > 0 ? crl_refresh_interval_s : 3600) * 1000L;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (crl_refresh_interval_s > 0)
			refresh_once();
	}
}
