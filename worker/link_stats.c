/*-------------------------------------------------------------------------
 *
 * link_stats.c
 *	  The per-bind counters of the SMPP links in shared memory, and the SQL
 *	  function behind mobisign.worker_binds (see link_stats.h).
 *
 * The snapshot lives in the shared entry of the worker's database
 * (MsWorkerShared.binds, one entry per database) and is protected by its
 * spinlock.  Only the worker that owns the entry
 * writes it; readers see no row while no worker owns the entry, so a
 * stopped worker's last sessions are never shown as bound.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "bgworker.h"
#include "link_stats.h"

PG_FUNCTION_INFO_V1(ms_worker_binds);

void
ms_link_stats_publish(const MsBindStats *rows, int n)
{
	MsWorkerShared *e = ms_worker_entry_lock(MyDatabaseId);

	if (e == NULL)
		return;
	n = Min(Max(n, 0), MS_BIND_STATS_SLOTS);
	if (e->pid == MyProcPid)
	{
		if (n > 0)
			memcpy(e->binds.rows, rows, sizeof(MsBindStats) * n);
		e->binds.n = n;
	}
	SpinLockRelease(&e->mutex);
}

/* SQL: mobisign._worker_binds() -> one row per bind of every open link */
#define MS_BIND_COLS 15

Datum
ms_worker_binds(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MsBindStatsShared *snap;
	MsWorkerShared *e;
	int			pid;

	ms_worker_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != MS_BIND_COLS)
		elog(ERROR, "mobisign._worker_binds: expected %d result columns, got %d",
			 MS_BIND_COLS, rsinfo->setDesc->natts);

	/* a copy of the rows in use, so that the spinlock is held for a memcpy only */
	snap = palloc(sizeof(MsBindStatsShared));
	e = ms_worker_entry_lock(MyDatabaseId);
	if (e == NULL)
		snap->n = 0;			/* no worker for this database (yet) */
	else
	{
		pid = e->pid;
		snap->n = Min(Max(e->binds.n, 0), MS_BIND_STATS_SLOTS);
		memcpy(snap->rows, e->binds.rows, sizeof(MsBindStats) * snap->n);
		SpinLockRelease(&e->mutex);
		if (pid == 0)
			snap->n = 0;
	}

	for (int r = 0; r < snap->n && r < MS_BIND_STATS_SLOTS; r++)
	{
		const MsBindStats *b = &snap->rows[r];
		Datum		values[MS_BIND_COLS];
		bool		nulls[MS_BIND_COLS];
		int			i = 0;

		memset(nulls, 0, sizeof(nulls));
		values[i++] = Int32GetDatum(b->smsc_id);
		values[i++] = CStringGetTextDatum(b->link);
		values[i++] = Int32GetDatum(b->bind);
		values[i++] = Int32GetDatum(b->binds);
		values[i++] = CStringGetTextDatum(b->state);
		values[i] = TimestampTzGetDatum(b->bound_since);
		nulls[i++] = (b->bound_since == 0);
		values[i++] = Int32GetDatum(b->window_in_use);
		values[i++] = Int32GetDatum(b->window_size);
		values[i++] = Int32GetDatum(b->max_per_second);
		values[i++] = Int64GetDatum((int64) b->c.sent);
		values[i++] = Int64GetDatum((int64) b->c.acknowledged);
		values[i++] = Int64GetDatum((int64) b->c.throttled);
		values[i++] = Int64GetDatum((int64) b->c.errors);
		values[i++] = Int64GetDatum((int64) b->c.received);
		values[i++] = Int64GetDatum((int64) b->c.reconnects);
		Assert(i == MS_BIND_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(snap);
	return (Datum) 0;
}
