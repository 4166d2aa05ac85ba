/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  The worker's database side (see queue.h): claim, complete, store
 *	  inbound segments, hand them to the SIM channel, housekeeping.
 *
 * Each unit of work is one short transaction.  A batch (the requests
 * recorded in a turn, the segments stored, a verifier's claimed answers) is
 * one statement in one subtransaction; when it fails, each item runs again
 * alone in its own subtransaction, so one bad row cannot undo the others.
 * The SIM channel's functions (mobisign._mark_submitted_batch,
 * _mark_submitted, _mark_failed, _process_inbound, _expire) are called by
 * name; if one is missing the worker logs that once and goes on (a missing
 * _mark_submitted_batch: each request is recorded alone).  The batch's
 * transaction holds only the batch; a request recorded alone
 * (mobisign._mark_submitted, which waits for its row) and a request not
 * sent (_mark_failed, a reschedule) each get a transaction of their own,
 * holding no other row while they wait, and wait at most MS_ROW_WAIT.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgworker.h"
#include "queue.h"
#include "spi_row.h"
#include "xact_unit.h"

/* names of SIM-channel functions found missing (logged once each) */
static List *missing_logged = NIL;

/* the same failure is logged (and counted) at most once a minute */
#define MS_LOG_MEMORY 8
static char logged_msg[MS_LOG_MEMORY][160];
static TimestampTz logged_at[MS_LOG_MEMORY];

static bool
should_log(const char *msg)
{
	TimestampTz now = GetCurrentTimestamp();
	int			oldest = 0;
	int			i;

	for (i = 0; i < MS_LOG_MEMORY; i++)
	{
		if (strncmp(msg, logged_msg[i], sizeof(logged_msg[i]) - 1) == 0)
		{
			if (!TimestampDifferenceExceeds(logged_at[i], now, 60000))
				return false;
			logged_at[i] = now;
			return true;
		}
		if (logged_at[i] < logged_at[oldest])
			oldest = i;
	}
	strlcpy(logged_msg[oldest], msg, sizeof(logged_msg[oldest]));
	logged_at[oldest] = now;
	return true;
}

/* ---- transactions -------------------------------------------------------- */

/* A failed unit of work: logged (at most once a minute) and counted. */
static void
report_unit_error(const char *activity, ErrorData *edata)
{
	char		msg[160];

	snprintf(msg, sizeof(msg), "%s: %s", activity, edata->message);
	if (should_log(msg))
	{
		ereport(WARNING, (errmsg("%s failed: %s", activity, edata->message)));
		ms_worker_set_error(msg);
	}
}

/*
 * Run fn in one transaction with SPI and a snapshot.  On error: log, count,
 * abort, return false.  Allocations of fn that must outlive the transaction
 * go to contexts the caller owns.
 */
/* the unit running bounds its row waits to MS_ROW_WAIT (waits_bounded) */
static bool unit_waits_bounded = false;

static bool
run_unit(const char *activity, MsUnitFn fn, void *arg)
{
	bool		ok = ms_run_in_transaction(activity, fn, arg, report_unit_error);

	unit_waits_bounded = false;

	pgstat_report_stat(false);
	return ok;
}

static bool
missing_already_logged(const char *fname)
{
	ListCell   *lc;

	foreach(lc, missing_logged)
		if (strcmp((char *) lfirst(lc), fname) == 0)
			return true;
	return false;
}

typedef struct ExecArg
{
	const char *sql;
	int			nargs;
	Oid		   *types;
	Datum	   *values;
	const char *nulls;
	int			rc;
} ExecArg;

/*
 * The worker's statements, prepared once per process and kept (SPI_keepplan):
 * the worker runs the same few statements for every request and segment, and
 * parsing and planning them each time cost more than running them.  Keyed by
 * the statement's text (always a literal of this file).  A kept plan follows
 * schema changes by itself (the plan cache re-plans after an invalidation);
 * a statement whose function is gone fails when it runs, as before.
 */
#define MS_PLAN_SLOTS 32
static struct
{
	const char *sql;
	SPIPlanPtr	plan;
}			plans[MS_PLAN_SLOTS];

static SPIPlanPtr
kept_plan(const char *sql, int nargs, Oid *types)
{
	int			i;
	SPIPlanPtr	plan;

	for (i = 0; i < MS_PLAN_SLOTS && plans[i].sql != NULL; i++)
		if (plans[i].sql == sql || strcmp(plans[i].sql, sql) == 0)
			return plans[i].plan;
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (i == MS_PLAN_SLOTS)
		return plan;			/* no slot left: used once, freed with SPI */
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	plans[i].sql = sql;
	plans[i].plan = plan;
	return plan;
}

static void
exec_fn(void *arg)
{
	ExecArg    *e = (ExecArg *) arg;

	e->rc = SPI_execute_plan(kept_plan(e->sql, e->nargs, e->types), e->values, e->nulls, false, 0);
	if (e->rc < 0)
		elog(ERROR, "SPI_execute_plan returned %d", e->rc);
}

/*
 * A unit that waits for one request's rows waits at most this long (SET
 * LOCAL lock_timeout): their holder may be an application's open
 * transaction (a cancel not committed yet), and while the worker waits its
 * links are not served (no deliver_sm_resp, no enquire_link answer).  A
 * verifier holds them for one batch, milliseconds.  When the wait runs out
 * (logged) the request stays leased: if its transaction became final by
 * then, the row is gone or closed; if not, it is due again when its lease
 * runs out (mobisign.worker_lease) and is sent again, with the same counter.
 */
#define MS_ROW_WAIT "1s"

/*
 * Execute one statement in a subtransaction.  Returns the SPI result code,
 * or -1 on error (logged; an undefined SIM-channel function is logged once).
 * SPI_tuptable stays readable after success.
 */
static int
guarded_exec(const char *what, const char *sql, int nargs, Oid *types, Datum *values,
			 const char *nulls)
{
	ExecArg		e = {sql, nargs, types, values, nulls, -1};
	ErrorData  *edata = ms_run_in_subtransaction(exec_fn, &e);

	if (edata == NULL)
		return e.rc;
	if (edata->sqlerrcode == ERRCODE_UNDEFINED_FUNCTION)
	{
		if (!missing_already_logged(what))
		{
			MemoryContext tmp = MemoryContextSwitchTo(TopMemoryContext);

			missing_logged = lappend(missing_logged, pstrdup(what));
			MemoryContextSwitchTo(tmp);
			ereport(WARNING,
					(errmsg("mobisign worker: %s is not available: %s", what, edata->message),
					 errhint("The SIM channel's SQL functions are installed by CREATE EXTENSION mobisign; the worker carries on without them.")));
		}
	}
	else
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "%s: %s", what, edata->message);
		if (should_log(msg))
		{
			/*
			 * a unit of one request that waited its bound out (a lock_timeout
			 * of the server's own, elsewhere, says nothing of a lease)
			 */
			ereport(WARNING,
					(errmsg("mobisign worker: %s failed: %s", what, edata->message),
					 edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE && unit_waits_bounded ?
					 errhint("Another session held the request's rows for longer than " MS_ROW_WAIT
							 "; the request keeps its lease, and unless its transaction becomes final first it is sent again, with the same counter, when mobisign.worker_lease runs out.") : 0));
			ms_worker_set_error(msg);
		}
	}
	FreeErrorData(edata);
	return -1;
}

/* ---- session ------------------------------------------------------------- */

static void
setup_fn(void *arg)
{
	SPI_execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false)", false, 0);
	/* the worker's own statements must not be cut short by a user default */
	SPI_execute("SELECT pg_catalog.set_config('statement_timeout', '0', false)", false, 0);

	/*
	 * Received messages are acknowledged right after their commit, and the
	 * SMSC then forgets them: that commit must be durable even when the
	 * server runs with synchronous_commit = off (a crash of any backend
	 * would otherwise lose it).
	 */
	SPI_execute("SELECT pg_catalog.set_config('synchronous_commit', 'on', false)", false, 0);
}

void
ms_queue_session_setup(void)
{
	run_unit("mobisign worker: session setup", setup_fn, NULL);
}

static void
present_fn(void *arg)
{
	bool	   *present = (bool *) arg;
	int			rc;

	/*
	 * pg_extension is read with the query's snapshot: woken by the commit of
	 * a DROP EXTENSION, this worker's catalog caches may not have heard of
	 * it yet (the invalidations are sent after the commit callbacks), but
	 * the snapshot sees it.
	 */
	rc = SPI_execute("SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'mobisign')"
					 "   AND pg_catalog.to_regclass('mobisign.request_queue') IS NOT NULL"
					 "   AND pg_catalog.to_regclass('mobisign.smsc') IS NOT NULL AS present",
					 true, 0);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = ms_spi_datum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "present", &isnull);

		*present = !isnull && DatumGetBool(d);
	}
}

bool
ms_queue_extension_present(void)
{
	bool		present = false;

	run_unit("mobisign worker: looking for the extension", present_fn, &present);
	return present;
}

static void
reclaim_fn(void *arg)
{
	int			rc;

	rc = SPI_execute("UPDATE mobisign.request_queue q"
					 "   SET next_attempt_at = pg_catalog.now(), lease_until = NULL,"
					 "       last_error = 'lease reclaimed after a worker restart'"
					 " WHERE NOT q.done AND q.lease_until IS NOT NULL",
					 false, 0);
	if (rc == SPI_OK_UPDATE && SPI_processed > 0)
		ereport(LOG,
				(errmsg("mobisign worker: reclaimed %llu request(s) leased by a previous worker",
						(unsigned long long) SPI_processed)));
}

void
ms_queue_reclaim_leases(void)
{
	run_unit("mobisign worker: reclaiming leases", reclaim_fn, NULL);
}

/* ---- SMSC configuration -------------------------------------------------- */

typedef struct SmscArg
{
	MemoryContext cxt;
	List	   *configs;
} SmscArg;

static int
interval_ms(HeapTuple tup, TupleDesc desc, const char *col, int dflt)
{
	bool		isnull;
	Datum		d = ms_spi_datum(tup, desc, col, &isnull);
	double		v;

	if (isnull)
		return dflt;
	v = DatumGetFloat8(d);
	if (v < 1)
		v = 1;
	if (v > 3600 * 1000.0)
		v = 3600 * 1000.0;
	return (int) v;
}

static void
text_col(HeapTuple tup, TupleDesc desc, const char *col, char *dst, size_t dstlen)
{
	char	   *v = ms_spi_text(tup, desc, col);
	int			len = 0;

	/* a value longer than dst is cut on a character boundary */
	if (v)
		len = pg_mbcliplen(v, strlen(v), (int) dstlen - 1);
	memcpy(dst, v ? v : "", len);
	dst[len] = '\0';
	if (v)
		pfree(v);
}

static int
int_col(HeapTuple tup, TupleDesc desc, const char *col, int dflt)
{
	bool		isnull;
	Datum		d = ms_spi_datum(tup, desc, col, &isnull);

	return isnull ? dflt : DatumGetInt32(d);
}

static void
load_smsc_fn(void *arg)
{
	SmscArg    *a = (SmscArg *) arg;
	uint64		i;
	int			rc;

	rc = SPI_execute("SELECT s.id, s.name, s.host, s.port, s.tls, s.system_id, s.password, "
					 "       s.system_type, s.source_addr, s.binds, s.window_size, s.max_per_second, "
					 "       (pg_catalog.date_part('epoch', s.enquire_link_interval) * 1000)::float8 AS enquire_link_interval_ms, "
					 "       (pg_catalog.date_part('epoch', s.reconnect_delay) * 1000)::float8 AS reconnect_delay_ms, "
					 "       (pg_catalog.date_part('epoch', s.response_timeout) * 1000)::float8 AS response_timeout_ms, "
					 "       (pg_catalog.date_part('epoch', s.connect_timeout) * 1000)::float8 AS connect_timeout_ms, "
					 "       s.tls_ca_file, s.tls_server_name, s.tls_cert_file, s.tls_key_file "
					 "  FROM mobisign.smsc s WHERE s.enabled ORDER BY s.id LIMIT " CppAsString2(MS_SMPP_MAX_LINKS),
					 true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading mobisign.smsc failed");

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MsSmscConfig *c = MemoryContextAllocZero(a->cxt, sizeof(MsSmscConfig));

		c->id = int_col(tup, desc, "id", 0);
		text_col(tup, desc, "name", c->name, sizeof(c->name));
		text_col(tup, desc, "host", c->host, sizeof(c->host));
		c->port = int_col(tup, desc, "port", 2775);
		c->tls = ms_spi_bool(tup, desc, "tls");
		text_col(tup, desc, "system_id", c->system_id, sizeof(c->system_id));
		text_col(tup, desc, "password", c->password, sizeof(c->password));
		text_col(tup, desc, "system_type", c->system_type, sizeof(c->system_type));
		text_col(tup, desc, "source_addr", c->source_addr, sizeof(c->source_addr));
		c->binds = int_col(tup, desc, "binds", 1);
		c->window_size = int_col(tup, desc, "window_size", 10);
		c->max_per_second = int_col(tup, desc, "max_per_second", 100);
		c->enquire_link_ms = interval_ms(tup, desc, "enquire_link_interval_ms", 30000);
		c->reconnect_ms = interval_ms(tup, desc, "reconnect_delay_ms", 10000);
		c->response_timeout_ms = interval_ms(tup, desc, "response_timeout_ms", 10000);
		c->connect_timeout_ms = interval_ms(tup, desc, "connect_timeout_ms", 10000);
		/* paths fit: the table checks their length */
		text_col(tup, desc, "tls_ca_file", c->tls_files.ca_file, sizeof(c->tls_files.ca_file));
		text_col(tup, desc, "tls_server_name", c->tls_files.server_name, sizeof(c->tls_files.server_name));
		text_col(tup, desc, "tls_cert_file", c->tls_files.cert_file, sizeof(c->tls_files.cert_file));
		text_col(tup, desc, "tls_key_file", c->tls_files.key_file, sizeof(c->tls_files.key_file));
		/* the list must outlive SPI_finish: build it in the caller's context */
		{
			MemoryContext old = MemoryContextSwitchTo(a->cxt);

			a->configs = lappend(a->configs, c);
			MemoryContextSwitchTo(old);
		}
	}
}

bool
ms_queue_load_smsc(MemoryContext cxt, List **configs)
{
	SmscArg		a;
	bool		ok;

	a.cxt = cxt;
	a.configs = NIL;
	ok = run_unit("mobisign worker: reading mobisign.smsc", load_smsc_fn, &a);
	*configs = a.configs;
	return ok;
}

/* ---- claim --------------------------------------------------------------- */

typedef struct ClaimArg
{
	int			limit;
	MemoryContext parent;
	List	   *held;
	List	   *jobs;
	int			rows;			/* rows the claim took, closed ones too */
} ClaimArg;

/*
 * The lease is the next attempt time: a row whose lease ran out (the
 * worker crashed) is simply due again, and the claim keeps a single,
 * index-friendly predicate.
 */
static const char claim_sql[] =
	"WITH c AS ("
	"  SELECT q.transaction_id FROM mobisign.request_queue q"
	"   WHERE NOT q.done AND q.next_attempt_at <= pg_catalog.now()"
	"     AND q.transaction_id <> ALL ($3::uuid[])"
	"   ORDER BY q.next_attempt_at LIMIT $1"
	"   FOR UPDATE OF q SKIP LOCKED)"
	" UPDATE mobisign.request_queue q"
	"    SET attempts = q.attempts + 1,"
	"        lease_until = pg_catalog.now() + pg_catalog.make_interval(secs => $2),"
	"        next_attempt_at = pg_catalog.now() + pg_catalog.make_interval(secs => $2)"
	"   FROM c, mobisign.transaction t"
	"  WHERE q.transaction_id = c.transaction_id AND t.id = q.transaction_id"
	" RETURNING q.transaction_id::text AS txid, q.msisdn, q.segments, q.attempts,"
	"           t.state = 'queued' AND t.expires_at > pg_catalog.now() AS sendable,"
	"           t.state";

/* the transaction ids of the jobs in held (MsJob *), as a text[] Datum */
static Datum
held_ids(List *held)
{
	Datum	   *ids = palloc(sizeof(Datum) * (list_length(held) + 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, held)
		ids[n++] = CStringGetTextDatum(((MsJob *) lfirst(lc))->txid);
	return PointerGetDatum(construct_array(ids, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
claim_fn(void *arg)
{
	ClaimArg   *a = (ClaimArg *) arg;
	Oid			types[3] = {INT4OID, FLOAT8OID, TEXTARRAYOID};
	Datum		values[3];
	uint64		i;
	int			rc;
	SPITupleTable *tt;
	uint64		n;

	values[0] = Int32GetDatum(a->limit);
	values[1] = Float8GetDatum((double) ms_worker_lease_s);
	values[2] = held_ids(a->held);

	rc = SPI_execute_plan(kept_plan(claim_sql, 3, types), values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "claiming from mobisign.request_queue failed (%d)", rc);

	tt = SPI_tuptable;
	n = SPI_processed;
	a->rows = (int) n;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[i];
		TupleDesc	desc = tt->tupdesc;
		bool		isnull;
		bool		open;
		char	   *txid = ms_spi_text(tup, desc, "txid");
		MemoryContext jcxt;
		MsJob	   *job;
		ArrayType  *arr;
		Datum	   *elems;
		bool	   *enulls;
		int			nelems;
		int			k;
		Datum		segd;

		open = DatumGetBool(ms_spi_datum(tup, desc, "sendable", &isnull));
		if (isnull || !open)
		{
			Oid			t1[2] = {TEXTOID, TEXTOID};
			Datum		v1[2];
			char	   *st = ms_spi_text(tup, desc, "state");
			char		why[120];

			snprintf(why, sizeof(why), "not sent: transaction is %s",
					 (st && strcmp(st, "queued") != 0) ? st : "past its expiry");
			v1[0] = CStringGetTextDatum(txid);
			v1[1] = CStringGetTextDatum(why);
			guarded_exec("closing a request_queue row",
						 "UPDATE mobisign.request_queue SET done = true, lease_until = NULL, last_error = $2"
						 " WHERE transaction_id = $1::uuid",
						 2, t1, v1, NULL);
			ms_worker_count(MS_C_COMPLETED, 1);
			continue;
		}

		segd = ms_spi_datum(tup, desc, "segments", &isnull);
		if (isnull)
			continue;
		arr = DatumGetArrayTypeP(segd);
		deconstruct_array(arr, BYTEAOID, -1, false, TYPALIGN_INT, &elems, &enulls, &nelems);

		jcxt = AllocSetContextCreate(a->parent, "mobisign job", ALLOCSET_SMALL_SIZES);
		job = MemoryContextAllocZero(jcxt, sizeof(MsJob));
		job->cxt = jcxt;
		strlcpy(job->txid, txid, sizeof(job->txid));
		text_col(tup, desc, "msisdn", job->msisdn, sizeof(job->msisdn));
		job->attempts = int_col(tup, desc, "attempts", 1);
		job->status = MS_JOB_SENDING;
		job->nsegs = nelems;
		job->seg = MemoryContextAllocZero(jcxt, sizeof(uint8 *) * Max(nelems, 1));
		job->seglen = MemoryContextAllocZero(jcxt, sizeof(int) * Max(nelems, 1));
		job->message_ids = MemoryContextAllocZero(jcxt, sizeof(char *) * Max(nelems, 1));
		for (k = 0; k < nelems; k++)
		{
			bytea	   *b;

			if (enulls[k])
				continue;
			b = DatumGetByteaPP(elems[k]);
			job->seglen[k] = VARSIZE_ANY_EXHDR(b);
			job->seg[k] = MemoryContextAlloc(jcxt, Max(job->seglen[k], 1));
			memcpy(job->seg[k], VARDATA_ANY(b), job->seglen[k]);
		}
		if (nelems == 0)
		{
			job->status = MS_JOB_PERMFAIL;
			strlcpy(job->reason, "request has no segments", sizeof(job->reason));
		}
		else if (job->attempts > 1)
			ms_worker_count(MS_C_RETRIED, 1);
		{
			/* outlives SPI_finish; the caller frees the list */
			MemoryContext old = MemoryContextSwitchTo(a->parent);

			a->jobs = lappend(a->jobs, job);
			MemoryContextSwitchTo(old);
		}
	}
}

List *
ms_queue_claim(int limit, MemoryContext parent, List *held, int *rows)
{
	ClaimArg	a;

	a.limit = limit;
	a.parent = parent;
	a.held = held;
	a.jobs = NIL;
	a.rows = 0;
	if (!run_unit("mobisign worker: claiming requests", claim_fn, &a))
	{
		ListCell   *lc;

		/* the claim rolled back: forget what was read */
		foreach(lc, a.jobs)
			MemoryContextDelete(((MsJob *) lfirst(lc))->cxt);
		list_free(a.jobs);
		*rows = -1;
		return NIL;
	}
	*rows = a.rows;
	return a.jobs;
}

typedef struct NextDueArg
{
	List	   *held;			/* MsJob * the worker still holds */
	TimestampTz after;
	TimestampTz due;
} NextDueArg;

static void
next_due_fn(void *arg)
{
	NextDueArg *a = (NextDueArg *) arg;
	Oid			types[2] = {TEXTARRAYOID, TIMESTAMPTZOID};
	Datum		values[2];
	bool		isnull;

	values[0] = held_ids(a->held);
	values[1] = TimestampTzGetDatum(a->after);
	if (SPI_execute_plan(kept_plan("SELECT pg_catalog.min(q.next_attempt_at) AS due"
								   "  FROM mobisign.request_queue q"
								   " WHERE NOT q.done AND q.next_attempt_at > $2"
								   "   AND q.transaction_id <> ALL ($1::uuid[])",
								   2, types),
						 values, NULL, true, 0) == SPI_OK_SELECT && SPI_processed == 1)
	{
		Datum		d = ms_spi_datum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "due", &isnull);

		if (!isnull)
			a->due = DatumGetTimestampTz(d);
	}
}

TimestampTz
ms_queue_next_due(List *held, TimestampTz after)
{
	NextDueArg	a = {held, after, 0};

	if (!run_unit("mobisign worker: looking for requests due later", next_due_fn, &a))
		return 0;
	return a.due;
}

/* ---- finish -------------------------------------------------------------- */

/*
 * A finished request: the SIM channel records it (fn_sql, two arguments
 * t/v), and only once it has does the queue row close (close_sql, unless
 * the SIM channel's function closes it itself: NULL) and count as
 * completed.  Returns whether the row is closed.
 */
static bool
record_and_close(const char *fn, const char *fn_sql, const char *what, const char *close_sql,
				 Oid *t, Datum *v)
{
	bool		closed = true;

	if (guarded_exec(fn, fn_sql, 2, t, v, NULL) < 0)
		return false;
	if (close_sql != NULL)
		closed = guarded_exec(what, close_sql, 2, t, v, NULL) >= 0;
	ms_worker_count(MS_C_COMPLETED, 1);
	return closed;
}

/* a job's message ids as text (an empty id for a segment that had none) */
static Datum
message_id_datum(MsJob *job, int k)
{
	return CStringGetTextDatum(job->message_ids[k] ? job->message_ids[k] : "");
}

/*
 * Every request the SMSC accepted in this turn, recorded with one statement
 * (mobisign._mark_submitted_batch: each still gets its state change, queue
 * row and audit row, in the list's order).  Returns how many it recorded
 * (every accepted one), or 0: on an error (logged) or a held row nothing of
 * it stays, and the caller records each request alone, so that one bad row
 * does not lose the others.
 */
static int
record_submitted_batch(List *jobs)
{
	int			njobs = 0;
	int			nids = 0;
	Datum	   *txids;
	Datum	   *ids;
	Datum	   *counts;
	Oid			t[3] = {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID};
	Datum		v[3];
	ListCell   *lc;
	bool		isnull;
	int32		n;

	foreach(lc, jobs)
	{
		MsJob	   *job = (MsJob *) lfirst(lc);

		if (job->status == MS_JOB_OK)
		{
			njobs++;
			nids += job->nsegs;
		}
	}
	Assert(njobs >= 2);			/* the caller's test: one is recorded alone */
	txids = palloc(sizeof(Datum) * njobs);
	counts = palloc(sizeof(Datum) * njobs);
	ids = palloc(sizeof(Datum) * Max(nids, 1));
	njobs = nids = 0;
	foreach(lc, jobs)
	{
		MsJob	   *job = (MsJob *) lfirst(lc);

		if (job->status != MS_JOB_OK)
			continue;
		txids[njobs] = CStringGetTextDatum(job->txid);
		counts[njobs++] = Int32GetDatum(job->nsegs);
		for (int k = 0; k < job->nsegs; k++)
			ids[nids++] = message_id_datum(job, k);
	}
	v[0] = PointerGetDatum(construct_array(txids, njobs, TEXTOID, -1, false, TYPALIGN_INT));
	v[1] = PointerGetDatum(construct_array(ids, nids, TEXTOID, -1, false, TYPALIGN_INT));
	v[2] = PointerGetDatum(construct_array(counts, njobs, INT4OID, 4, true, TYPALIGN_INT));
	/*
	 * _mark_submitted_batch closes the queue rows in the same call; -1: a
	 * row is held by another session (a verifier finishing it), nothing
	 * was done, and each request is recorded alone
	 */
	if (guarded_exec("mobisign._mark_submitted_batch",
					 "SELECT mobisign._mark_submitted_batch($1::uuid[], $2, $3) AS n",
					 3, t, v, NULL) < 0 || SPI_processed != 1)
		return 0;
	n = DatumGetInt32(ms_spi_datum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "n", &isnull));
	if (isnull || n < 0)
	{
		if (!isnull)
			ms_worker_count(MS_C_BATCH_FALLBACKS, 1);
		return 0;
	}
	return njobs;				/* counted once its unit has committed */
}

static void
waits_bounded(void)
{
	unit_waits_bounded = true;
	SPI_execute("SELECT pg_catalog.set_config('lock_timeout', '" MS_ROW_WAIT "', true)", false, 0);
}

/*
 * One request the SMSC accepted, recorded alone (a batch of one, or what a
 * batch could not record), in a transaction of its own: mobisign.
 * _mark_submitted waits for its transaction row, which a verifier may hold
 * while it waits for rows of its next answers; holding no other row (the
 * turn's other requests are in other transactions), the worker cannot close
 * a deadlock cycle with it.  (All of them in one transaction did: the link
 * stood still for deadlock_timeout, make bench's half rate.)
 */
static void
submitted_alone_fn(void *arg)
{
	MsJob	   *job = (MsJob *) arg;
	Datum		v[2];
	Oid			t[2] = {TEXTOID, TEXTARRAYOID};
	Datum	   *ids = palloc(sizeof(Datum) * Max(job->nsegs, 1));

	for (int k = 0; k < job->nsegs; k++)
		ids[k] = message_id_datum(job, k);
	v[0] = CStringGetTextDatum(job->txid);
	v[1] = PointerGetDatum(construct_array(ids, job->nsegs, TEXTOID, -1, false, TYPALIGN_INT));
	waits_bounded();
	/* _mark_submitted closes the queue row in the same statement */
	if (record_and_close("mobisign._mark_submitted",
						 "SELECT mobisign._mark_submitted($1::uuid, $2)",
						 "completing a request_queue row", NULL, t, v))
		job->due_again = 0;
}

/*
 * A request that was not accepted, in a transaction of its own (as one
 * recorded alone: _mark_failed's _finish and the reschedule wait for the
 * request's rows, which a verifier may hold while it waits for rows of its
 * next answers; holding none of the batch's rows, the worker cannot close a
 * cycle with it): permanent, its final state; temporary, a new attempt
 * after 1, 2, 4 ... 30 s (expiry ends it).
 */
static void
not_accepted_fn(void *arg)
{
	MsJob	   *job = (MsJob *) arg;
	Datum		v[3];
	Oid			t[3];

	v[0] = CStringGetTextDatum(job->txid);
	t[0] = TEXTOID;
	waits_bounded();
	if (job->status == MS_JOB_PERMFAIL)
	{
		v[1] = CStringGetTextDatum(job->reason);
		t[1] = TEXTOID;
		if (record_and_close("mobisign._mark_failed",
							 "SELECT mobisign._mark_failed($1::uuid, 209, $2)",
							 "failing a request_queue row",
							 "UPDATE mobisign.request_queue SET done = true, lease_until = NULL,"
							 " last_error = $2 WHERE transaction_id = $1::uuid",
							 t, v))
			job->due_again = 0;
	}
	else
	{
		double		backoff = 1.0;
		int			k;

		for (k = 1; k < job->attempts && backoff < 30.0; k++)
			backoff *= 2.0;
		backoff = Min(backoff, 30.0);
		v[1] = CStringGetTextDatum(job->reason[0] ? job->reason : "temporary failure");
		t[1] = TEXTOID;
		v[2] = Float8GetDatum(backoff);
		t[2] = FLOAT8OID;
		if (guarded_exec("rescheduling a request_queue row",
						 "UPDATE mobisign.request_queue SET lease_until = NULL, last_error = $2,"
						 " next_attempt_at = pg_catalog.now() + pg_catalog.make_interval(secs => $3)"
						 " WHERE transaction_id = $1::uuid AND NOT done",
						 3, t, v, NULL) >= 0)
			job->due_again = TimestampTzPlusMilliseconds(GetCurrentTransactionStartTimestamp(),
														 (int64) (backoff * 1000));
		ms_worker_count(MS_C_RETRIED, 1);
	}
}

typedef struct BatchArg
{
	List	   *jobs;
	int			recorded;		/* accepted requests the batch recorded */
} BatchArg;

/* the batch of the accepted requests, and nothing else */
static void
batch_fn(void *arg)
{
	BatchArg   *b = (BatchArg *) arg;

	b->recorded = record_submitted_batch(b->jobs);
}

/*
 * An accepted request whose recording failed (logged already: a lock wait
 * that ran out, an error): the audit has no transaction.submitted row for
 * this send, so the SMSC's message ids, which an SMSC's records are matched
 * by, go to the server log (one line per request: every one is a fact the
 * operator may need; ids are printable or hex, bounded by the codec).
 */
static void
warn_unrecorded(MsJob *job)
{
	StringInfoData ids;

	initStringInfo(&ids);
	for (int k = 0; k < job->nsegs; k++)
		appendStringInfo(&ids, "%s\"%s\"", k > 0 ? ", " : "",
						 job->message_ids[k] ? job->message_ids[k] : "");
	ereport(WARNING,
			(errmsg("mobisign worker: the SMSC's acceptance of transaction %s was not recorded",
					job->txid),
			 errdetail("The SMSC accepted its %d segment(s) as message id(s) %s.",
					   job->nsegs, ids.data),
			 errhint("The request keeps its lease: if its transaction is still open when the lease "
					 "ends (mobisign.worker_lease), it is sent again with the same counter.")));
	pfree(ids.data);
}

/*
 * Record what a turn finished: the accepted requests with one batch (a unit
 * holding only the batch's rows), or each alone when the batch met a held
 * row or failed; every request not accepted alone.  A unit that fails rolls
 * back only itself, and is logged.
 */
TimestampTz
ms_queue_finish(List *jobs)
{
	ListCell   *lc;
	BatchArg	b = {jobs, 0};
	int			accepted = 0;
	TimestampTz leased = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													 (int64) ms_worker_lease_s * 1000);
	TimestampTz due = 0;

	if (jobs == NIL)
		return 0;
	foreach(lc, jobs)
	{
		MsJob	   *job = (MsJob *) lfirst(lc);

		/* until its unit commits, a row keeps the lease of its claim */
		job->due_again = leased;
		if (job->status == MS_JOB_OK)
			accepted++;
	}
	if (accepted >= 2 &&
		run_unit("mobisign worker: recording sent requests", batch_fn, &b) && b.recorded > 0)
		ms_worker_count(MS_C_COMPLETED, b.recorded);
	else
		b.recorded = 0;			/* the batch, if it went through, rolled back */
	foreach(lc, jobs)
	{
		MsJob	   *job = (MsJob *) lfirst(lc);
		bool		committed = true;

		if (job->status != MS_JOB_OK)
			committed = run_unit("mobisign worker: recording a request not sent", not_accepted_fn, job);
		else if (b.recorded == 0)
			committed = run_unit("mobisign worker: recording a sent request", submitted_alone_fn, job);
		else
			job->due_again = 0; /* closed by the batch */
		if (!committed)
			job->due_again = leased;	/* what its unit set rolled back */
		if (job->status == MS_JOB_OK && job->due_again != 0)
			warn_unrecorded(job);
		if (job->due_again != 0 && (due == 0 || job->due_again < due))
			due = job->due_again;
	}
	foreach(lc, jobs)
		MemoryContextDelete(((MsJob *) lfirst(lc))->cxt);
	return due;
}

/* ---- inbound ------------------------------------------------------------- */

/*
 * The statements that store received segments.  The SMSC may write the
 * number without the '+' the register uses: the register's spelling is
 * stored so the SIM channel finds the user.  The MSISDN is queued for a
 * verifier once a segment may complete a set: a single SMS, or as many
 * pending segments of its reference and total as the total (a statement
 * does not see the rows it inserts itself, hence those are counted apart);
 * an answer of 4 SMS is then looked at once, not 4 times.  A duplicate
 * (same MSISDN and digest pending) inserts nothing and queues nothing.
 *
 * A duplicate is recognised by the statement's snapshot (an index probe per
 * segment, as a scalar subquery: written NOT EXISTS, which the planner may
 * turn into a join, it took make bench's SMPP worker from 0.36 to 1.91 ms
 * of CPU per authentication, and deliver_sm read -> acknowledged from 0.9
 * to 8.5 ms), not
 * by the unique index alone: ON CONFLICT's check waits for a transaction
 * that is updating the pending copy, a verifier marking it processed (for
 * its whole batch, which may fetch OCSP responses), and while it waited
 * every link stood still.  A copy being processed is a duplicate as seen;
 * ON CONFLICT stays for copies within one batch.  The worker is the only
 * writer of new segments, so no pending copy is in flight elsewhere.
 *
 * store_batch_sql: the segments of the turn in one statement ($1..$6:
 * arrays in arrival order, one element per segment); the MSISDN stored and
 * whether the segment was new, per segment (ord from 1).  A failed batch
 * falls back to batches of one, each in its own subtransaction.
 */
static const char store_batch_sql[] =
	"WITH m AS ("
	"  SELECT w.ord, w.smsc_id, w.concat_ref, w.total, w.seq, w.ud, pg_catalog.sha256(w.ud) AS digest,"
	"         coalesce((SELECT u.msisdn FROM mobisign.app_user u"
	"            WHERE u.msisdn IN (w.msisdn, '+' || pg_catalog.ltrim(w.msisdn, '+'), pg_catalog.ltrim(w.msisdn, '+'))"
	"            ORDER BY u.msisdn = w.msisdn DESC LIMIT 1), w.msisdn) AS msisdn"
	"    FROM unnest($1::text[], $2::int4[], $3::int4[], $4::int4[], $5::int4[], $6::bytea[])"
	"         WITH ORDINALITY AS w(msisdn, smsc_id, concat_ref, total, seq, ud, ord))"
	" , i AS (INSERT INTO mobisign.inbound_segment"
	"        (msisdn, smsc_id, concat_ref, total, seq, user_data, digest)"
	" SELECT m.msisdn, m.smsc_id, m.concat_ref, m.total, m.seq, m.ud, m.digest FROM m"
	"  WHERE (SELECT true FROM mobisign.inbound_segment d"
	"          WHERE d.msisdn = m.msisdn AND d.digest = m.digest AND NOT d.processed"
	"          LIMIT 1) IS NULL"
	"  ORDER BY m.ord"
	" ON CONFLICT (msisdn, digest) WHERE NOT processed DO NOTHING"
	" RETURNING id, msisdn, concat_ref, total, digest)"
	" , g AS (SELECT i.msisdn, i.concat_ref, i.total, pg_catalog.count(*) AS fresh, pg_catalog.min(i.id) AS first"
	"    FROM i GROUP BY i.msisdn, i.concat_ref, i.total)"
	" , q AS (INSERT INTO mobisign.answer_queue (msisdn) SELECT g.msisdn FROM g"
	"  WHERE g.concat_ref IS NULL OR g.total <= g.fresh + (SELECT pg_catalog.count(*)"
	"        FROM mobisign.inbound_segment p WHERE p.msisdn = g.msisdn AND NOT p.processed"
	"         AND p.concat_ref = g.concat_ref AND p.total = g.total)"
	"  GROUP BY g.msisdn ORDER BY pg_catalog.min(g.first))"
	" SELECT m.ord::int4 AS ord, m.msisdn,"
	"        EXISTS (SELECT FROM i WHERE i.msisdn = m.msisdn AND i.digest = m.digest) AS inserted"
	"   FROM m ORDER BY m.ord";

static bytea *
inbound_bytea(MsInbound *in)
{
	bytea	   *ud = palloc(VARHDRSZ + in->len);

	SET_VARSIZE(ud, VARHDRSZ + in->len);
	memcpy(VARDATA(ud), in->data, in->len);
	return ud;
}

/* the MSISDN as stored (the register's spelling), when the row says one */
static void
take_stored_msisdn(MsInbound *in, HeapTuple tup, TupleDesc desc)
{
	char	   *m = ms_spi_text(tup, desc, "msisdn");

	if (m)
		strlcpy(in->msisdn, m, sizeof(in->msisdn));
}

/*
 * The segments of list (none a receipt) with one statement, in one
 * subtransaction: true when it went through (each then stored, and whether
 * it was new); false when it failed (logged): nothing of it stays.
 */
static bool
store_batch(List *list)
{
	int			n = list_length(list);
	Datum	   *cols[6];
	bool	   *refnull = palloc0(sizeof(bool) * n);
	MsInbound **by_ord = palloc(sizeof(MsInbound *) * n);
	Oid			t[6] = {TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, BYTEAARRAYOID};
	Datum		v[6];
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			k = 0;
	ListCell   *lc;

	for (int c = 0; c < 6; c++)
		cols[c] = palloc(sizeof(Datum) * n);
	foreach(lc, list)
	{
		MsInbound  *in = (MsInbound *) lfirst(lc);

		by_ord[k] = in;
		cols[0][k] = CStringGetTextDatum(in->msisdn);
		cols[1][k] = Int32GetDatum(in->smsc_id);
		cols[2][k] = Int32GetDatum(in->concat_ref);
		refnull[k] = in->concat_ref < 0;
		cols[3][k] = Int32GetDatum(in->total);
		cols[4][k] = Int32GetDatum(in->seqno);
		cols[5][k] = PointerGetDatum(inbound_bytea(in));
		k++;
	}
	v[0] = PointerGetDatum(construct_array(cols[0], n, TEXTOID, -1, false, TYPALIGN_INT));
	v[1] = PointerGetDatum(construct_array(cols[1], n, INT4OID, 4, true, TYPALIGN_INT));
	v[2] = PointerGetDatum(construct_md_array(cols[2], refnull, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));
	v[3] = PointerGetDatum(construct_array(cols[3], n, INT4OID, 4, true, TYPALIGN_INT));
	v[4] = PointerGetDatum(construct_array(cols[4], n, INT4OID, 4, true, TYPALIGN_INT));
	v[5] = PointerGetDatum(construct_array(cols[5], n, BYTEAOID, -1, false, TYPALIGN_INT));

	if (guarded_exec("storing inbound segments", store_batch_sql, 6, t, v, NULL) < 0)
		return false;
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int32		ord = ms_spi_int32(tup, desc, "ord");
		MsInbound  *in;

		if (ord < 1 || ord > n)
			continue;
		in = by_ord[ord - 1];
		in->stored = true;
		take_stored_msisdn(in, tup, desc);
		in->inserted = ms_spi_bool(tup, desc, "inserted");
	}
	return true;
}

/*
 * What the SMSC delivered in one turn, in one transaction: receipts need
 * nothing stored; the segments go in with one statement, or, when that
 * fails (one bad segment must not keep the others from being stored and
 * acknowledged), each in its own subtransaction.
 */
static void
store_inbound_fn(void *arg)
{
	List	   *inbound = (List *) arg;
	List	   *segments = NIL;
	ListCell   *lc;

	foreach(lc, inbound)
	{
		MsInbound  *in = (MsInbound *) lfirst(lc);

		if (in->receipt)
			in->stored = true;	/* nothing to keep: acknowledged */
		else
			segments = lappend(segments, in);
	}
	if (segments == NIL || store_batch(segments) || list_length(segments) == 1)
		return;
	/* each alone: the batch of one, in its own subtransaction */
	foreach(lc, segments)
		store_batch(list_make1(lfirst(lc)));
}

void
ms_queue_store_inbound(List *inbound)
{
	ListCell   *lc;

	if (inbound == NIL)
		return;
	if (!run_unit("mobisign worker: storing received messages", store_inbound_fn, inbound))
	{
		/* nothing was committed: do not acknowledge anything */
		foreach(lc, inbound)
			((MsInbound *) lfirst(lc))->stored = false;
	}
}

/*
 * One batch of answers, in one transaction: claim up to batch MSISDNs whose
 * answers wait (mobisign._claim_answers: their mobisign.answer_queue rows
 * are deleted and their handler locks held until the commit), then
 * mobisign._process_inbound for all of them in one statement, in the
 * claim's order, in one subtransaction.  _process_inbound raises for no
 * answer (each answer is handled in a subtransaction of its own inside
 * it), only for the server's own state (55000) or a fault of its own: then
 * the statement's work is undone and each MSISDN is handled again alone,
 * each in its own subtransaction, so that one bad answer undoes only
 * itself.
 */
typedef struct VerifyArg
{
	int			batch;
	int			claimed;
} VerifyArg;

static void
verify_fn(void *arg)
{
	VerifyArg  *a = (VerifyArg *) arg;
	Oid			t[1] = {INT4OID};
	Datum		v[1];
	Datum	   *msisdns;
	int			n = 0;

	v[0] = Int32GetDatum(a->batch);
	if (guarded_exec("mobisign._claim_answers",
					 "SELECT m FROM mobisign._claim_answers($1) m", 1, t, v, NULL) < 0)
		return;
	msisdns = palloc(sizeof(Datum) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *m = ms_spi_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "m");

		if (m)
			msisdns[n++] = CStringGetTextDatum(m);
	}
	a->claimed = n;
	if (n == 0)
		return;
	if (n > 1)
	{
		t[0] = TEXTARRAYOID;
		v[0] = PointerGetDatum(construct_array(msisdns, n, TEXTOID, -1, false, TYPALIGN_INT));
		if (guarded_exec("mobisign._process_inbound",
						 "SELECT mobisign._process_inbound(m) FROM pg_catalog.unnest($1::text[]) m",
						 1, t, v, NULL) >= 0)
			return;
	}
	t[0] = TEXTOID;
	for (int i = 0; i < n; i++)
	{
		v[0] = msisdns[i];
		guarded_exec("mobisign._process_inbound",
					 "SELECT mobisign._process_inbound($1)", 1, t, v, NULL);
	}
}

int
ms_queue_verify_answers(int batch)
{
	VerifyArg	a = {batch, 0};

	if (!run_unit("mobisign worker: verifying answers", verify_fn, &a))
		return 0;
	return a.claimed;
}

static void
requeue_fn(void *arg)
{
	int		   *n = (int *) arg;
	bool		isnull;

	if (guarded_exec("mobisign._requeue_pending_answers",
					 "SELECT mobisign._requeue_pending_answers() AS n", 0, NULL, NULL, NULL) < 0 ||
		SPI_processed != 1)
		return;
	*n = DatumGetInt32(ms_spi_datum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "n", &isnull));
	if (isnull)
		*n = 0;
}

int
ms_queue_requeue_pending(void)
{
	int			n = 0;

	run_unit("mobisign worker: looking for pending answers", requeue_fn, &n);
	return n;
}

/* ---- housekeeping -------------------------------------------------------- */

/*
 * One step, one batch per call (the caller, worker_main.c, chooses the batch
 * and when to come back): the worker owns the SMPP links, and while it seals
 * or deletes it neither submits nor acknowledges.
 */
typedef struct HousekeepingArg
{
	MsHousekeepingStep step;
	int			batch;
	int64		handled;
	int64		work_us;		/* its statements' time, the commit left out */
} HousekeepingArg;

static void housekeeping_step(HousekeepingArg *a);

/* run sql (parameter $1: the batch; one column n: the rows it handled) */
static int64
one_batch(const char *what, const char *sql, int batch)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(batch)};
	bool		isnull;
	int64		n;

	if (guarded_exec(what, sql, 1, types, values, NULL) < 0 || SPI_processed != 1)
		return -1;
	n = DatumGetInt64(ms_spi_datum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "n", &isnull));
	return isnull ? 0 : n;
}

static void
housekeeping_fn(void *arg)
{
	HousekeepingArg *a = (HousekeepingArg *) arg;
	TimestampTz start = GetCurrentTimestamp();

	housekeeping_step(a);
	/* the statements' time, without the commit's flush */
	a->work_us = Max(GetCurrentTimestamp() - start, 1);
}

static void
housekeeping_step(HousekeepingArg *a)
{
	switch (a->step)
	{
		case MS_HK_EXPIRE:

			/*
			 * a restore advanced the SIM counters and expired what was
			 * open: say so in the audit before those transactions are
			 * expired (80_backup.sql)
			 */
			guarded_exec("mobisign._record_restores", "SELECT mobisign._record_restores()",
						 0, NULL, NULL, NULL);
			a->handled = one_batch("mobisign._expire",
								   "SELECT mobisign._expire($1)::bigint AS n", a->batch);
			break;
		case MS_HK_SEAL:
			a->handled = one_batch("mobisign.audit_seal",
								   "SELECT mobisign.audit_seal($1) AS n", a->batch);
			break;
		case MS_HK_CLEANUP:
			/* the queue rows of final transactions (43_sim_worker.sql) */
			a->handled = one_batch("mobisign._queue_cleanup",
								   "SELECT mobisign._queue_cleanup($1)::bigint AS n", a->batch);
			break;
		case MS_HK_NSTEPS:
			break;
	}
}

static const char *const hk_activity[] = {
	[MS_HK_EXPIRE] = "mobisign worker: expiry",
	[MS_HK_SEAL] = "mobisign worker: audit sealing",
	[MS_HK_CLEANUP] = "mobisign worker: queue cleanup",
};

int64
ms_queue_housekeeping(MsHousekeepingStep step, int batch, int64 *work_us)
{
	HousekeepingArg a = {step, batch, -1, 1};

	*work_us = 1;
	if (!run_unit(hk_activity[step], housekeeping_fn, &a))
		return -1;
	*work_us = a.work_us;
	return a.handled;
}

const char *
ms_queue_housekeeping_name(MsHousekeepingStep step)
{
	return hk_activity[step] + strlen("mobisign worker: ");
}
