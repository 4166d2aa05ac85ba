/*-------------------------------------------------------------------------
 *
 * refresher.c
 *	  The one-shot "mobisign refresher" background worker (see refresher.h).
 *
 * Each statement runs in its own transaction, as in worker_spi; an error is
 * logged and the worker exits; the next launch tries again.  Like the SMPP
 * worker it starts only when recovery has finished: a standby never fetches
 * or writes revocation data.
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
#include "utils/timestamp.h"

#include "bgworker.h"
#include "refresher.h"
#include "xact_unit.h"

static int	crl_refresh_interval_s = 60;

void
ms_refresher_init(void)
{
	DefineCustomIntVariable("mobisign.crl_refresh_interval",
							"How often CRLs and OCSP data that are due are fetched.",
							"0 turns the periodic refresh off; mobisign_refresh_crls() still works on demand.",
							&crl_refresh_interval_s,
							60, 0, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

void
ms_refresher_launch_if_due(void)
{
	static BackgroundWorkerHandle *handle = NULL;
	static TimestampTz last_launch = 0;
	TimestampTz now = GetCurrentTimestamp();
	BackgroundWorker worker;
	pid_t		pid;

	if (crl_refresh_interval_s <= 0 ||
		(last_launch != 0 &&
		 !TimestampDifferenceExceeds(last_launch, now, crl_refresh_interval_s * 1000)))
		return;
	/* one refresh at a time */
	if (handle != NULL && GetBackgroundWorkerPid(handle, &pid) != BGWH_STOPPED)
		return;
	if (handle != NULL)
	{
		pfree(handle);
		handle = NULL;
	}

	ms_bgworker_describe(&worker, "mobisign refresher", "ms_refresher_main", BGW_NEVER_RESTART);
	last_launch = now;
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		{
			handle = NULL;
			ereport(LOG,
					(errmsg("mobisign: could not start the CRL refresher"),
					 errhint("Raise max_worker_processes.")));
		}
		MemoryContextSwitchTo(old);
	}
}

typedef struct OneValue
{
	const char *sql;
	bool		isnull;
	Datum		value;
} OneValue;

static void
one_value_fn(void *arg)
{
	OneValue   *v = (OneValue *) arg;

	if (SPI_execute(v->sql, false, 1) != SPI_OK_SELECT || SPI_processed != 1 ||
		SPI_tuptable->tupdesc->natts != 1)
		elog(ERROR, "unexpected result from \"%s\"", v->sql);
	/* the statement's only column */
	v->value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &v->isnull);
}

/* Run one statement in its own transaction; false if it failed (logged). */
static bool
run_in_transaction(const char *sql, bool *isnull, Datum *result)
{
	OneValue	v = {sql, true, (Datum) 0};
	bool		ok = ms_run_in_transaction(sql, one_value_fn, &v, NULL);

	pgstat_report_stat(true);
	*isnull = v.isnull;
	*result = v.value;
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
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	/* the database of the worker that launched it (ms_bgworker_describe) */
	ms_bgworker_connect(arg);
	pgstat_report_appname("mobisign refresher");
	refresh_once();
	proc_exit(0);
}
