/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  Progress of long work: NOTICEs to the caller, rows of the view
 *	  mobisign.progress for everyone else (see progress.h).
 *
 * The backend's command lives in a static struct; its shared slot (one of
 * MS_PROGRESS_SLOTS, each under its own spinlock) is written only by the
 * backend whose pid it holds, and read by copying it under the spinlock.
 * A slot is taken when a command begins and given back when the
 * (sub)transaction that began it ends, and at backend exit: a command that
 * fails leaves nothing behind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "progress.h"

typedef struct MsProgressSlot
{
	slock_t		mutex;
	int			pid;			/* 0: free */
	Oid			dboid;
	Oid			roleid;
	char		command[MS_PROGRESS_NAME_LEN];
	char		phase[MS_PROGRESS_NAME_LEN];
	TimestampTz started_at;
	TimestampTz updated_at;
	int64		done;
	int64		total;			/* negative: not known */
} MsProgressSlot;

/* the backend's command */
static struct
{
	bool		active;
	int			nest_level;		/* of the (sub)transaction that began it */
	char		command[MS_PROGRESS_NAME_LEN];
	char		phase[MS_PROGRESS_NAME_LEN];
	TimestampTz started_at;
	int64		done;
	int64		total;
	int64		until_clock;	/* units until the clock is read again */
	TimestampTz published_at;
	TimestampTz noticed_at;
	MsProgressSlot *slot;		/* NULL: not shown in the view */
} cur;

static MsProgressSlot *slots = NULL;
static int	progress_interval_ms = 10000;
static bool exit_hook_set = false;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
slots_size(void)
{
	return mul_size(MS_PROGRESS_SLOTS, sizeof(MsProgressSlot));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(slots_size()));
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	slots = ShmemInitStruct("mobisign progress", slots_size(), &found);
	if (!found)
	{
		memset(slots, 0, slots_size());
		for (int i = 0; i < MS_PROGRESS_SLOTS; i++)
			SpinLockInit(&slots[i].mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* the backend's state into its slot */
static void
publish(TimestampTz now)
{
	MsProgressSlot *s = cur.slot;

	cur.published_at = now;
	if (s == NULL)
		return;
	SpinLockAcquire(&s->mutex);
	if (s->pid == MyProcPid)
	{
		strlcpy(s->command, cur.command, MS_PROGRESS_NAME_LEN);
		strlcpy(s->phase, cur.phase, MS_PROGRESS_NAME_LEN);
		s->started_at = cur.started_at;
		s->updated_at = now;
		s->done = cur.done;
		s->total = cur.total;
	}
	SpinLockRelease(&s->mutex);
}

/* give the slot back and forget the command */
static void
progress_end(void)
{
	MsProgressSlot *s = cur.slot;

	if (s != NULL)
	{
		SpinLockAcquire(&s->mutex);
		if (s->pid == MyProcPid)
			s->pid = 0;
		SpinLockRelease(&s->mutex);
	}
	memset(&cur, 0, sizeof(cur));
}

static void
progress_exit(int code, Datum arg)
{
	progress_end();
}

/* a free slot for this backend, or NULL (all taken, or no shared memory) */
static MsProgressSlot *
slot_take(void)
{
	if (slots == NULL)
		return NULL;
	if (!exit_hook_set)
	{
		before_shmem_exit(progress_exit, (Datum) 0);
		exit_hook_set = true;
	}
	for (int i = 0; i < MS_PROGRESS_SLOTS; i++)
	{
		MsProgressSlot *s = &slots[i];
		bool		mine = false;

		SpinLockAcquire(&s->mutex);
		if (s->pid == 0)
		{
			s->pid = MyProcPid;
			s->dboid = MyDatabaseId;
			s->roleid = GetSessionUserId();
			s->started_at = 0;	/* not shown before its first publish() */
			mine = true;
		}
		SpinLockRelease(&s->mutex);
		if (mine)
			return s;
	}
	return NULL;
}

static void
progress_xact(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			if (cur.active)
				progress_end();
			break;
		default:
			break;
	}
}

static void
progress_subxact(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	if (!cur.active || cur.nest_level < GetCurrentTransactionNestLevel())
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		progress_end();
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		cur.nest_level = GetCurrentTransactionNestLevel() - 1;
}

void
ms_progress_init(void)
{
	DefineCustomIntVariable("mobisign.progress_interval",
							"How often long work (mobisign_audit_verify(), ...) reports its progress to the caller.",
							"A NOTICE at most this often; 0 sends none. The view mobisign.progress shows the progress of every session.",
							&progress_interval_ms,
							10000, 0, 3600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	RegisterXactCallback(progress_xact, NULL);
	RegisterSubXactCallback(progress_subxact, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

void
ms_progress_phase(const char *command, const char *phase, int64 total, int64 done)
{
	TimestampTz now = GetCurrentTimestamp();

	if (!cur.active || strcmp(cur.command, command) != 0)
	{
		if (cur.active)
			progress_end();
		cur.active = true;
		cur.nest_level = GetCurrentTransactionNestLevel();
		strlcpy(cur.command, command, MS_PROGRESS_NAME_LEN);
		cur.started_at = now;
		cur.noticed_at = now;
		cur.slot = slot_take();
	}
	strlcpy(cur.phase, phase, MS_PROGRESS_NAME_LEN);
	cur.total = total < 0 ? -1 : total;
	cur.done = Max(done, 0);
	cur.until_clock = MS_PROGRESS_CLOCK_EVERY;
	publish(now);
}

bool
ms_progress_active(void)
{
	return cur.active;
}

void
ms_progress_advance(int64 n)
{
	TimestampTz now;

	if (!cur.active)
		return;
	cur.done += n;
	cur.until_clock -= n;
	if (cur.until_clock > 0)
		return;
	cur.until_clock = MS_PROGRESS_CLOCK_EVERY;
	now = GetCurrentTimestamp();
	if (TimestampDifferenceExceeds(cur.published_at, now, MS_PROGRESS_PUBLISH_MS))
		publish(now);
	if (progress_interval_ms > 0 &&
		TimestampDifferenceExceeds(cur.noticed_at, now, progress_interval_ms))
	{
		cur.noticed_at = now;
		if (cur.total > 0)
			ereport(NOTICE,
					(errmsg("%s: %s, " INT64_FORMAT " of " INT64_FORMAT " rows (%d%%)",
							cur.command, cur.phase, cur.done, cur.total,
							(int) Min(100, cur.done * 100 / cur.total))));
		else
			ereport(NOTICE,
					(errmsg("%s: %s, " INT64_FORMAT " rows",
							cur.command, cur.phase, cur.done)));
	}
}

/* SQL: mobisign._progress_phase(command, phase, total, done) */
PG_FUNCTION_INFO_V1(ms_progress_phase_sql);
Datum
ms_progress_phase_sql(PG_FUNCTION_ARGS)
{
	char	   *command;
	char	   *phase;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		elog(ERROR, "mobisign._progress_phase: command and phase are required");
	command = text_to_cstring(PG_GETARG_TEXT_PP(0));
	phase = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ms_progress_phase(command, phase,
					  PG_ARGISNULL(2) ? -1 : PG_GETARG_INT64(2),
					  PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3));
	PG_RETURN_VOID();
}

/*
 * SQL: mobisign._progress_advance(n): for loops in PL/pgSQL, whose units
 * each cost far more than a clock read, so the clock is read every call
 */
PG_FUNCTION_INFO_V1(ms_progress_advance_sql);
Datum
ms_progress_advance_sql(PG_FUNCTION_ARGS)
{
	cur.until_clock = 0;
	ms_progress_advance(PG_GETARG_INT64(0));
	PG_RETURN_VOID();
}

/* SQL: mobisign._progress() -> one row per command in progress */
#define MS_PROGRESS_COLS 9

PG_FUNCTION_INFO_V1(ms_progress_sql);
Datum
ms_progress_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != MS_PROGRESS_COLS)
		elog(ERROR, "mobisign._progress: expected %d result columns, got %d",
			 MS_PROGRESS_COLS, rsinfo->setDesc->natts);
	for (int i = 0; slots != NULL && i < MS_PROGRESS_SLOTS; i++)
	{
		MsProgressSlot s;
		Datum		values[MS_PROGRESS_COLS];
		bool		nulls[MS_PROGRESS_COLS];

		SpinLockAcquire(&slots[i].mutex);
		memcpy(&s, &slots[i], sizeof(s));
		SpinLockRelease(&slots[i].mutex);
		if (s.pid == 0 || s.started_at == 0)
			continue;
		s.command[MS_PROGRESS_NAME_LEN - 1] = '\0';
		s.phase[MS_PROGRESS_NAME_LEN - 1] = '\0';
		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(s.pid);
		values[1] = ObjectIdGetDatum(s.dboid);
		values[2] = ObjectIdGetDatum(s.roleid);
		values[3] = CStringGetTextDatum(s.command);
		values[4] = CStringGetTextDatum(s.phase);
		values[5] = TimestampTzGetDatum(s.started_at);
		values[6] = TimestampTzGetDatum(s.updated_at);
		values[7] = Int64GetDatum(s.done);
		values[8] = Int64GetDatum(s.total);
		nulls[8] = s.total < 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
