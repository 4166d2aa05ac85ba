/*-------------------------------------------------------------------------
 *
 * audit_chain.c
 *	  The audit hash chain (see audit_chain.h): mobisign.audit_digest(),
 *	  mobisign.audit_seal() and mobisign._audit_chain_check().
 *
 * Every row's hash covers its canonical form (audit_canon.h).
 *
 * The sealer reads the unsealed rows in batches, each after the last row
 * of the one before (the old versions of the rows just sealed stay in the
 * partial index audit_unsealed until vacuum: a scan from the start would
 * step over all of them every batch).  Rows are locked by nothing but the
 * sealer's lock (a row of mobisign.process_lock, which no other role can
 * lock): only the sealer may update them (mobisign.audit_guard).
 * The check reads the chain in chain_seq order straight from the table,
 * each row deformed from its heap tuple in place, with the calling
 * statement's snapshot and the SELECT privilege checked as a query would:
 * in physical order while that is the chain order, then through the
 * chain_seq index (check_direct; audit_chain_seq_key, unique, partial: the
 * unsealed rows have no entry).  A cursor's executor and the copy of
 * every row cost more than the hash.  When row-level security applies to
 * the table (or no unique index gives the chain order), the same check
 * reads the rows through a cursor instead, as the policies show them.
 * Either way the results are the same.  What one row needs
 * lives in a memory context reset for the next row, what one batch of the
 * sealer needs in one reset for the next batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#include "audit_canon.h"
#include "audit_chain.h"
#include "ossl.h"
#include "progress.h"
#include "spi_row.h"

#define HASH_LEN 32
#define SEAL_BATCH 5000
#define CHECK_BATCH 10000

/* the columns of mobisign.audit, as the queries below name them */
#define AUDIT_COLUMNS "a.id, a.at, a.actor, a.application, a.operation, a.transaction_id," \
	" a.outcome, a.detail, a.chain_seq, a.prev_hash, a.hash"

/* column numbers of AUDIT_COLUMNS in a result */
typedef struct AuditCols
{
	int			id, at, actor, application, operation, transaction_id, outcome, detail,
				chain_seq, prev_hash, hash;
} AuditCols;

static void
audit_cols(TupleDesc td, AuditCols *c)
{
	c->id = ms_spi_fnumber(td, "id");
	c->at = ms_spi_fnumber(td, "at");
	c->actor = ms_spi_fnumber(td, "actor");
	c->application = ms_spi_fnumber(td, "application");
	c->operation = ms_spi_fnumber(td, "operation");
	c->transaction_id = ms_spi_fnumber(td, "transaction_id");
	c->outcome = ms_spi_fnumber(td, "outcome");
	c->detail = ms_spi_fnumber(td, "detail");
	c->chain_seq = ms_spi_fnumber(td, "chain_seq");
	c->prev_hash = ms_spi_fnumber(td, "prev_hash");
	c->hash = ms_spi_fnumber(td, "hash");
}

/* the row from its columns' values (NOT NULL ones read as such) */
static void
audit_row_values(const Datum *v, const bool *n, const AuditCols *c, MsAuditRow *r)
{
	/* column numbers are 1-based */
	r->id = DatumGetInt64(v[c->id - 1]);
	r->at = DatumGetTimestampTz(v[c->at - 1]);
	r->actor = NameStr(*DatumGetName(v[c->actor - 1]));
	r->application = n[c->application - 1] ? NULL : DatumGetTextPP(v[c->application - 1]);
	r->operation = DatumGetTextPP(v[c->operation - 1]);
	r->transaction_id = n[c->transaction_id - 1] ? NULL : DatumGetUUIDP(v[c->transaction_id - 1]);
	r->outcome = DatumGetTextPP(v[c->outcome - 1]);
	r->detail = DatumGetJsonbP(v[c->detail - 1]);
	r->has_seq = !n[c->chain_seq - 1];
	r->chain_seq = r->has_seq ? DatumGetInt64(v[c->chain_seq - 1]) : 0;
	r->prev_hash = n[c->prev_hash - 1] ? NULL : DatumGetByteaPP(v[c->prev_hash - 1]);
	r->hash = n[c->hash - 1] ? NULL : DatumGetByteaPP(v[c->hash - 1]);
}

/* the row of a tuple (an SPI result's or a composite value's) */
static void
audit_row(HeapTuple tup, TupleDesc td, const AuditCols *c, MsAuditRow *r)
{
	Datum	   *v = palloc(sizeof(Datum) * td->natts);
	bool	   *n = palloc(sizeof(bool) * td->natts);

	heap_deform_tuple(tup, td, v, n);
	audit_row_values(v, n, c, r);
}

/* SHA-256, fetched once per backend (an implicit fetch per row costs) */
static const EVP_MD *
sha256_md(void)
{
	static EVP_MD *md = NULL;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (md == NULL)
		elog(ERROR, "could not fetch SHA-256: %s", ms_ossl_error());
	return md;
}

/* out = SHA-256(prev || canon) */
static void
chain_hash(EVP_MD_CTX *ctx, const char *prev, size_t prevlen, StringInfo canon,
		   unsigned char out[HASH_LEN])
{
	unsigned int n = 0;

	if (EVP_DigestInit_ex(ctx, sha256_md(), NULL) != 1 ||
		EVP_DigestUpdate(ctx, prev, prevlen) != 1 ||
		EVP_DigestUpdate(ctx, canon->data, canon->len) != 1 ||
		EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != HASH_LEN)
		elog(ERROR, "could not compute SHA-256: %s", ms_ossl_error());
}

static bytea *
bytes_bytea(const unsigned char *p, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), p, len);
	return b;
}

/*
 * The head of the chain as the next row links to it: the previous row's
 * hash, or the anchor (any length: it is compared, never trusted).
 */
typedef struct ChainHead
{
	unsigned char *bytes;
	size_t		len;
	size_t		cap;
} ChainHead;

/* head := p (len bytes), in the current memory context if it grows */
static void
head_set(ChainHead *head, const unsigned char *p, size_t len)
{
	if (head->bytes == NULL || len > head->cap)
	{
		head->cap = Max(len, HASH_LEN);
		head->bytes = palloc(head->cap);
	}
	memcpy(head->bytes, p, len);
	head->len = len;
}

PG_FUNCTION_INFO_V1(ms_audit_digest);
Datum
ms_audit_digest(PG_FUNCTION_ARGS)
{
	bytea	   *prev = PG_GETARG_BYTEA_PP(0);
	HeapTupleHeader rec = PG_GETARG_HEAPTUPLEHEADER(1);
	HeapTupleData tup;
	TupleDesc	td;
	AuditCols	c;
	MsAuditRow	r;
	StringInfoData canon;
	unsigned char h[HASH_LEN];
	MsScope    *scope;
	EVP_MD_CTX *ctx;

	td = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec), HeapTupleHeaderGetTypMod(rec));
	tup.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = rec;
	audit_cols(td, &c);
	audit_row(&tup, td, &c, &r);
	ReleaseTupleDesc(td);

	initStringInfo(&canon);
	ms_audit_canonical(&canon, &r);
	scope = ms_scope_create();
	ctx = ms_scope_md_ctx(scope, EVP_MD_CTX_new());
	if (ctx == NULL)
		elog(ERROR, "out of memory");
	chain_hash(ctx, VARDATA_ANY(prev), VARSIZE_ANY_EXHDR(prev), &canon, h);
	ms_scope_release(scope);
	PG_RETURN_BYTEA_P(bytes_bytea(h, HASH_LEN));
}

static Datum
array_of(Datum *elems, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_array(elems, n, type, typlen, typbyval, typalign));
}

PG_FUNCTION_INFO_V1(ms_audit_seal);
Datum
ms_audit_seal(PG_FUNCTION_ARGS)
{
	int32		max_rows = PG_GETARG_INT32(0);
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr head_plan = NULL;
	static SPIPlanPtr batch_plan = NULL;
	static SPIPlanPtr update_plan = NULL;
	Oid			batch_types[2] = {INT4OID, INT8OID};
	Oid			update_types[4] = {INT8ARRAYOID, INT8ARRAYOID, BYTEAARRAYOID, BYTEAARRAYOID};
	MemoryContext outer;
	MemoryContext batch_cxt;
	MemoryContext row_cxt;
	ChainHead	head = {NULL, 0, 0};
	int64		last_seq = 0;
	int64		last_id = 0;	/* the batches go on after the last row sealed */
	int64		sealed = 0;
	StringInfoData canon;
	MsScope    *scope;
	EVP_MD_CTX *ctx;

	if (max_rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must not be negative")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	outer = CurrentMemoryContext;

	/* one sealer at a time; writers are never blocked by this lock */
	if (SPI_execute_plan(ms_spi_prepare_once(&lock_plan,
											 "SELECT FROM mobisign.process_lock l"
											 " WHERE l.name = '" MS_AUDIT_SEAL_LOCK "' AND l.slot = 0"
											 " FOR NO KEY UPDATE", 0, NULL),
						 NULL, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not take the audit seal lock (its row of mobisign.process_lock)");
	if (SPI_execute_plan(ms_spi_prepare_once(&head_plan,
											 "SELECT a.chain_seq, a.hash FROM mobisign.audit a"
											 " WHERE a.chain_seq IS NOT NULL ORDER BY a.chain_seq DESC LIMIT 1",
											 0, NULL),
						 NULL, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the head of the audit chain");
	head_set(&head, (const unsigned char *) "", 0);
	if (SPI_processed == 1)
	{
		bool		isnull;
		bytea	   *h;

		last_seq = ms_spi_int64(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "chain_seq");
		h = DatumGetByteaPP(ms_spi_datum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "hash", &isnull));
		head_set(&head, (unsigned char *) VARDATA_ANY(h), VARSIZE_ANY_EXHDR(h));
	}
	(void) set_config_option("mobisign_audit.sealing", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);

	batch_cxt = AllocSetContextCreate(outer, "audit seal batch", ALLOCSET_DEFAULT_SIZES);
	row_cxt = AllocSetContextCreate(outer, "audit seal row", ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&canon);
	scope = ms_scope_create();
	ctx = ms_scope_md_ctx(scope, EVP_MD_CTX_new());
	if (ctx == NULL)
		elog(ERROR, "out of memory");
	while (sealed < max_rows)
	{
		int			want = (int) Min((int64) SEAL_BATCH, max_rows - sealed);
		Datum		arg[2] = {Int32GetDatum(want), Int64GetDatum(last_id)};
		Datum	   *ids,
				   *seqs,
				   *prevs,
				   *hashes;
		Datum		args[4];
		AuditCols	c;
		uint64		n;

		MemoryContextReset(batch_cxt);
		if (SPI_execute_plan(ms_spi_prepare_once(&batch_plan,
												 "SELECT " AUDIT_COLUMNS " FROM mobisign.audit a"
												 " WHERE a.chain_seq IS NULL AND a.id > $2"
												 " ORDER BY a.id LIMIT $1", 2, batch_types),
							 arg, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the unsealed audit rows");
		n = SPI_processed;
		if (n == 0)
			break;
		MemoryContextSwitchTo(batch_cxt);
		ids = palloc(sizeof(Datum) * n);
		seqs = palloc(sizeof(Datum) * n);
		prevs = palloc(sizeof(Datum) * n);
		hashes = palloc(sizeof(Datum) * n);
		audit_cols(SPI_tuptable->tupdesc, &c);
		for (uint64 i = 0; i < n; i++)
		{
			MsAuditRow	r;
			unsigned char h[HASH_LEN];

			MemoryContextReset(row_cxt);
			MemoryContextSwitchTo(row_cxt);
			audit_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &c, &r);
			r.has_seq = true;
			r.chain_seq = ++last_seq;
			ms_audit_canonical(&canon, &r);
			chain_hash(ctx, (char *) head.bytes, head.len, &canon, h);
			MemoryContextSwitchTo(batch_cxt);
			ids[i] = Int64GetDatum(r.id);
			last_id = r.id;
			seqs[i] = Int64GetDatum(r.chain_seq);
			prevs[i] = PointerGetDatum(bytes_bytea(head.bytes, head.len));
			hashes[i] = PointerGetDatum(bytes_bytea(h, HASH_LEN));
			MemoryContextSwitchTo(outer);
			head_set(&head, h, HASH_LEN);
			MemoryContextSwitchTo(batch_cxt);
		}
		args[0] = array_of(ids, (int) n, INT8OID);
		args[1] = array_of(seqs, (int) n, INT8OID);
		args[2] = array_of(prevs, (int) n, BYTEAOID);
		args[3] = array_of(hashes, (int) n, BYTEAOID);
		MemoryContextSwitchTo(outer);
		if (SPI_execute_plan(ms_spi_prepare_once(&update_plan,
												 "UPDATE mobisign.audit a SET chain_seq = u.seq, prev_hash = u.prev, hash = u.hash"
												 " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
												 " pg_catalog.unnest($4)) AS u(id, seq, prev, hash)"
												 " WHERE a.id = u.id", 4, update_types),
							 args, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != n)
			elog(ERROR, "could not seal the audit rows");
		sealed += (int64) n;
		ms_progress_advance((int64) n);	/* mobisign_audit_verify()'s first phase */
		if (n < (uint64) want)
			break;
	}
	ms_scope_release(scope);
	(void) set_config_option("mobisign_audit.sealing", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	SPI_finish();
	PG_RETURN_INT64(sealed);
}

/* where the check stands */
typedef struct ChainCheck
{
	ChainHead	head;			/* what the next row must link to */
	int64		want_seq;		/* the chain position the next row must have */
	int64		rows_checked;
	int64		broken_id;		/* when reason is set: the first broken row */
	int64		broken_seq;
	const char *reason;			/* NULL while intact */
	/* per row */
	EVP_MD_CTX *ctx;
	StringInfoData canon;
	MemoryContext row_cxt;		/* reset for every row */
	MemoryContext head_cxt;		/* the head and the result's parts */
} ChainCheck;

static bool
bytes_equal(bytea *b, const unsigned char *p, size_t len)
{
	return b != NULL && VARSIZE_ANY_EXHDR(b) == len && memcmp(VARDATA_ANY(b), p, len) == 0;
}

/*
 * The next row in chain order, read in cc->row_cxt (current); false at the
 * first broken row.
 */
static bool
check_row(ChainCheck *cc, const MsAuditRow *r)
{
	unsigned char h[HASH_LEN];
	const char *reason = NULL;
	MemoryContext old;

	CHECK_FOR_INTERRUPTS();
	cc->rows_checked++;
	ms_progress_advance(1);
	if (r->chain_seq != cc->want_seq)
		reason = psprintf("row with chain position " INT64_FORMAT " is missing", cc->want_seq);
	else if (!bytes_equal(r->prev_hash, cc->head.bytes, cc->head.len))
		reason = "the link to the previous row does not match";
	else
	{
		ms_audit_canonical(&cc->canon, r);
		chain_hash(cc->ctx, (char *) cc->head.bytes, cc->head.len, &cc->canon, h);
		if (!bytes_equal(r->hash, h, HASH_LEN))
			reason = "the row's content does not match its hash";
	}
	old = MemoryContextSwitchTo(cc->head_cxt);
	if (reason != NULL)
	{
		cc->reason = pstrdup(reason);
		cc->broken_id = r->id;
		cc->broken_seq = r->chain_seq;
	}
	else
	{
		head_set(&cc->head, h, HASH_LEN);
		cc->want_seq++;
	}
	MemoryContextSwitchTo(old);
	return reason == NULL;
}

/*
 * The index that gives mobisign.audit in chain order, or InvalidOid: a
 * valid, unique (not deferred) btree index on chain_seq alone, ascending,
 * of the integer operator family, with no predicate or with the predicate
 * chain_seq IS NOT NULL alone (mobisign's own: NULL positions are not in
 * the chain, and a scan key >= first_seq leaves them out either way).
 * Being unique, no snapshot sees two rows at one chain position.
 */
static bool
chain_order_predicate(Relation index, AttrNumber seq_attnum)
{
	List	   *pred;
	NullTest   *nt;

	if (heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL))
		return true;
	pred = RelationGetIndexPredicate(index);
	if (list_length(pred) != 1 || !IsA(linitial(pred), NullTest))
		return false;
	nt = linitial_node(NullTest, pred);
	return nt->nulltesttype == IS_NOT_NULL && !nt->argisrow && IsA(nt->arg, Var) &&
		((Var *) nt->arg)->varattno == seq_attnum;
}

static Oid
chain_order_index(Relation heap, AttrNumber seq_attnum)
{
	List	   *indexes = RelationGetIndexList(heap);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;

		if (form->indisvalid && form->indisunique && form->indimmediate &&
			form->indnkeyatts == 1 && form->indkey.values[0] == seq_attnum &&
			index->rd_rel->relam == BTREE_AM_OID &&
			index->rd_opfamily[0] == INTEGER_BTREE_FAM_OID &&
			(index->rd_indoption[0] & INDOPTION_DESC) == 0 &&
			chain_order_predicate(index, seq_attnum))
			found = RelationGetRelid(index);
		index_close(index, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	list_free(indexes);
	return found;
}

/* the row in slot, the next in chain order: check_row() in cc->row_cxt */
static bool
check_slot(ChainCheck *cc, TupleTableSlot *slot, const AuditCols *c)
{
	MemoryContext old;
	MsAuditRow	r;
	bool		ok;

	MemoryContextReset(cc->row_cxt);
	old = MemoryContextSwitchTo(cc->row_cxt);
	slot_getallattrs(slot);
	audit_row_values(slot->tts_values, slot->tts_isnull, c, &r);
	ok = check_row(cc, &r);
	MemoryContextSwitchTo(old);
	return ok;
}

/*
 * The direct way, with the snapshot of the calling statement and the
 * SELECT privilege checked as a query would; each row is read from its
 * heap tuple in place (no executor, no copy of the row).  First the table
 * in its physical order, as long as that is the chain order (rows are
 * stored in the order they are sealed, until vacuumed space is reused):
 * the first row at another position from first_seq on ends that, and the
 * chain goes on from the position expected through the chain_seq index,
 * which decides whether a row is missing.  A row below first_seq or not
 * sealed is not part of the stretch checked.  False if this way cannot be
 * used (row-level security applies, or no index gives the chain order):
 * then the cursor must.
 */
static bool
check_direct(ChainCheck *cc, Oid relid)
{
	Snapshot	snap = GetActiveSnapshot();
	int64		first_seq = cc->want_seq;
	Relation	heap;
	Oid			index_oid;
	TupleTableSlot *slot;
	TableScanDesc seq;
	AuditCols	c;
	AclResult	acl;
	bool		in_order = true;
	bool		more = true;

	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		return false;
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK &&
		pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT, ACLMASK_ALL) != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));
	heap = table_open(relid, AccessShareLock);
	audit_cols(RelationGetDescr(heap), &c);
	index_oid = chain_order_index(heap, (AttrNumber) c.chain_seq);
	if (!OidIsValid(index_oid))
	{
		table_close(heap, AccessShareLock);
		return false;
	}
	slot = table_slot_create(heap, NULL);

	/* from the table's first block (no synchronized scan), read-ahead ring */
	seq = table_beginscan_strat(heap, snap, 0, NULL, true, false);
	while (more && table_scan_getnextslot(seq, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		pos = slot_getattr(slot, c.chain_seq, &isnull);

		if (isnull || DatumGetInt64(pos) < first_seq)
			continue;
		if (DatumGetInt64(pos) != cc->want_seq)
		{
			in_order = false;
			break;
		}
		more = check_slot(cc, slot, &c);
	}
	table_endscan(seq);

	if (more && !in_order)
	{
		Relation	index = index_open(index_oid, AccessShareLock);
		IndexScanDesc scan = index_beginscan(heap, index, snap, 1, 0);
		ScanKeyData key;

		ScanKeyInit(&key, 1, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(cc->want_seq));
		index_rescan(scan, &key, 1, NULL, 0);
		while (more && index_getnext_slot(scan, ForwardScanDirection, slot))
			more = check_slot(cc, slot, &c);
		index_endscan(scan);
		index_close(index, AccessShareLock);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, AccessShareLock);
	return true;
}

/* the same through a query (its rows as row-level security shows them) */
static void
check_by_cursor(ChainCheck *cc)
{
	Oid			first_types[1] = {INT8OID};
	Datum		first_value[1] = {Int64GetDatum(cc->want_seq)};
	Portal		portal;
	bool		more = true;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT " AUDIT_COLUMNS " FROM mobisign.audit a"
									   " WHERE a.chain_seq >= $1 ORDER BY a.chain_seq",
									   1, first_types, first_value, NULL, true, CURSOR_OPT_NO_SCROLL);
	while (more)
	{
		AuditCols	c;

		SPI_cursor_fetch(portal, true, CHECK_BATCH);
		if (SPI_processed == 0)
			break;
		audit_cols(SPI_tuptable->tupdesc, &c);
		for (uint64 i = 0; i < SPI_processed && more; i++)
		{
			MemoryContext old;
			MsAuditRow	r;

			MemoryContextReset(cc->row_cxt);
			old = MemoryContextSwitchTo(cc->row_cxt);
			audit_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &c, &r);
			more = check_row(cc, &r);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(ms_audit_chain_check);
Datum
ms_audit_chain_check(PG_FUNCTION_ARGS)
{
	bytea	   *anchor = PG_GETARG_BYTEA_PP(1);
	ChainCheck	cc = {{NULL, 0, 0}, PG_GETARG_INT64(0), 0, 0, 0, NULL};
	Oid			nsp = get_namespace_oid("mobisign", false);
	Oid			relid = get_relname_relid("audit", nsp);
	TupleDesc	rtd;
	Datum		values[6];
	bool		nulls[6] = {false, false, true, true, true, true};
	MsScope    *scope;

	if (get_call_result_type(fcinfo, NULL, &rtd) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!OidIsValid(relid))
		elog(ERROR, "mobisign.audit does not exist");
	/* the result's parts live in the caller's context, past SPI_finish */
	cc.head_cxt = CurrentMemoryContext;
	head_set(&cc.head, (unsigned char *) VARDATA_ANY(anchor), VARSIZE_ANY_EXHDR(anchor));
	initStringInfo(&cc.canon);
	cc.row_cxt = AllocSetContextCreate(cc.head_cxt, "audit chain check row", ALLOCSET_DEFAULT_SIZES);
	scope = ms_scope_create();
	cc.ctx = ms_scope_md_ctx(scope, EVP_MD_CTX_new());
	if (cc.ctx == NULL)
		elog(ERROR, "out of memory");

	if (!check_direct(&cc, relid))
		check_by_cursor(&cc);
	ms_scope_release(scope);
	MemoryContextDelete(cc.row_cxt);

	values[0] = BoolGetDatum(cc.reason == NULL);
	values[1] = Int64GetDatum(cc.rows_checked);
	if (cc.reason != NULL)
	{
		values[2] = Int64GetDatum(cc.broken_id);
		values[3] = Int64GetDatum(cc.broken_seq);
		values[4] = CStringGetTextDatum(cc.reason);
		nulls[2] = nulls[3] = nulls[4] = false;
	}
	else
	{
		values[5] = PointerGetDatum(bytes_bytea(cc.head.bytes, cc.head.len));
		nulls[5] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(rtd), values, nulls)));
}
