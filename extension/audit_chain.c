/*-------------------------------------------------------------------------
 *
 * audit_chain.c
 *	  The audit hash chain (see audit_chain.h): mobisign.audit_digest(),
 *	  mobisign.audit_seal() and mobisign._audit_chain_check().
 *
 * The canonical form is written here directly as the text that
 * jsonb_build_array(...)::text gives for the same values (strings escaped
 * as escape_json() does, the detail by JsonbToCString, ", " between elements):
 * building a jsonb value per row and printing it again would cost more
 * than the hash.  test/regress/sql/50_audit.sql compares it with the
 * jsonb_build_array form on rows with every kind of value.
 *
 * The sealer reads the unsealed rows in batches, each after the last row
 * of the one before (the old versions of the rows just sealed stay in the
 * partial index audit_unsealed until vacuum: a scan from the start would
 * step over all of them every batch).  Rows are locked by nothing but the
 * advisory lock: only the sealer may update them (mobisign.audit_guard).
 * The check reads the chain through a cursor;
 * what one row needs lives in a memory context reset for the next row,
 * what one batch needs in one reset for the next batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/htup_details.h"
#include "common/int.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#include "audit_chain.h"
#include "ossl.h"
#include "spi_row.h"
#include "text_bytes.h"

#define HASH_LEN 32
#define SEAL_BATCH 5000
#define CHECK_BATCH 10000

/* the columns of mobisign.audit, as the queries below name them */
#define AUDIT_COLUMNS "a.id, a.at, a.actor, a.application, a.operation, a.transaction_id," \
	" a.outcome, a.detail, a.chain_seq, a.prev_hash, a.hash"

/* one audit row's values; the texts are detoasted */
typedef struct AuditRow
{
	int64		id;
	TimestampTz at;
	const char *actor;
	text	   *application;	/* NULL for SQL NULL */
	text	   *operation;
	pg_uuid_t  *transaction_id; /* NULL for SQL NULL */
	text	   *outcome;
	Jsonb	   *detail;
	bool		has_seq;
	int64		chain_seq;
	bytea	   *prev_hash;		/* NULL for SQL NULL */
	bytea	   *hash;			/* NULL for SQL NULL */
} AuditRow;

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

/* the row of an SPI result, its columns deformed at once (NOT NULL ones read as such) */
static void
audit_row(HeapTuple tup, TupleDesc td, const AuditCols *c, AuditRow *r)
{
	Datum	   *v = palloc(sizeof(Datum) * td->natts);
	bool	   *n = palloc(sizeof(bool) * td->natts);

	heap_deform_tuple(tup, td, v, n);
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

/*
 * A JSON string of len bytes as escape_json() writes it (", \, \b, \f, \n,
 * \r, \t, other bytes below 0x20 as \u00XX, the rest as they are), the
 * runs between escapes appended at once: one character at a time costs more
 * than the hash.
 */
static void
json_string(StringInfo out, const char *p, size_t len)
{
	size_t		run = 0;

	appendStringInfoCharMacro(out, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char ch = (unsigned char) p[i];
		const char *esc = NULL;
		char		u[8];

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		switch (ch)
		{
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			default:
				snprintf(u, sizeof(u), "\\u%04x", ch);
				esc = u;
				break;
		}
		appendBinaryStringInfo(out, p + run, (int) (i - run));
		appendStringInfoString(out, esc);
		run = i + 1;
	}
	appendBinaryStringInfo(out, p + run, (int) (len - run));
	appendStringInfoCharMacro(out, '"');
}

static void
json_text(StringInfo out, text *t)
{
	if (t == NULL)
		appendStringInfoString(out, "null");
	else
		json_string(out, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/*
 * The canonical form of r (audit_chain.h) into out, reset first: the bytes
 * the hash covers after the previous hash.
 */
static void
canonical_row(StringInfo out, const AuditRow *r)
{
	int64		unix_us;
	text	   *t;
	bytea	   *utf8;

	if (TIMESTAMP_NOT_FINITE(r->at) ||
		pg_add_s64_overflow(r->at, (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
							SECS_PER_DAY * USECS_PER_SEC, &unix_us))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the time of audit row %lld is out of range", (long long) r->id)));
	resetStringInfo(out);
	appendStringInfo(out, "[" INT64_FORMAT ", " INT64_FORMAT ", ", r->id, unix_us);
	json_string(out, r->actor, strlen(r->actor));
	appendStringInfoString(out, ", ");
	json_text(out, r->application);
	appendStringInfoString(out, ", ");
	json_text(out, r->operation);
	appendStringInfoString(out, ", ");
	if (r->transaction_id == NULL)
		appendStringInfoString(out, "null");
	else
	{
		char	   *u = DatumGetCString(DirectFunctionCall1(uuid_out,
														  UUIDPGetDatum(r->transaction_id)));

		json_string(out, u, strlen(u));
	}
	appendStringInfoString(out, ", ");
	json_text(out, r->outcome);
	appendStringInfoString(out, ", ");
	(void) JsonbToCString(out, &r->detail->root, VARSIZE(r->detail));
	if (r->has_seq)
		appendStringInfo(out, ", " INT64_FORMAT "]", r->chain_seq);
	else
		appendStringInfoString(out, ", null]");

	/*
	 * In UTF-8; a text without a UTF-8 form as stored (never an error).  In
	 * a UTF-8 database both are the bytes as they are (text_bytes.h).
	 */
	if (GetDatabaseEncoding() == PG_UTF8)
		return;
	t = cstring_to_text_with_len(out->data, out->len);
	utf8 = ms_text_utf8(t);
	if (utf8 != NULL)
	{
		resetStringInfo(out);
		appendBinaryStringInfo(out, VARDATA(utf8), VARSIZE(utf8) - VARHDRSZ);
		pfree(utf8);
	}
	pfree(t);
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
	AuditRow	r;
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
	canonical_row(&canon, &r);
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
											 "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('"
											 MS_AUDIT_SEAL_LOCK "'))", 0, NULL),
						 NULL, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not take the audit seal lock");
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
			AuditRow	r;
			unsigned char h[HASH_LEN];

			MemoryContextReset(row_cxt);
			MemoryContextSwitchTo(row_cxt);
			audit_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &c, &r);
			r.has_seq = true;
			r.chain_seq = ++last_seq;
			canonical_row(&canon, &r);
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
} ChainCheck;

static bool
bytes_equal(bytea *b, const unsigned char *p, size_t len)
{
	return b != NULL && VARSIZE_ANY_EXHDR(b) == len && memcmp(VARDATA_ANY(b), p, len) == 0;
}

/*
 * The rows of SPI_tuptable, in order; false at the first broken row.
 * Per row in row_cxt; the head in head_cxt.
 */
static bool
check_rows(ChainCheck *cc, EVP_MD_CTX *ctx, StringInfo canon, MemoryContext row_cxt,
		   MemoryContext head_cxt)
{
	AuditCols	c;

	audit_cols(SPI_tuptable->tupdesc, &c);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old;
		AuditRow	r;
		unsigned char h[HASH_LEN];

		MemoryContextReset(row_cxt);
		old = MemoryContextSwitchTo(row_cxt);
		audit_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &c, &r);
		cc->rows_checked++;
		if (r.chain_seq != cc->want_seq)
			cc->reason = psprintf("row with chain position " INT64_FORMAT " is missing", cc->want_seq);
		else if (!bytes_equal(r.prev_hash, cc->head.bytes, cc->head.len))
			cc->reason = "the link to the previous row does not match";
		else
		{
			canonical_row(canon, &r);
			chain_hash(ctx, (char *) cc->head.bytes, cc->head.len, canon, h);
			if (!bytes_equal(r.hash, h, HASH_LEN))
				cc->reason = "the row's content does not match its hash";
		}
		MemoryContextSwitchTo(head_cxt);
		if (cc->reason != NULL)
		{
			cc->reason = pstrdup(cc->reason);
			cc->broken_id = r.id;
			cc->broken_seq = r.chain_seq;
			MemoryContextSwitchTo(old);
			return false;
		}
		head_set(&cc->head, h, HASH_LEN);
		cc->want_seq++;
		MemoryContextSwitchTo(old);
	}
	return true;
}

PG_FUNCTION_INFO_V1(ms_audit_chain_check);
Datum
ms_audit_chain_check(PG_FUNCTION_ARGS)
{
	bytea	   *anchor = PG_GETARG_BYTEA_PP(1);
	ChainCheck	cc = {{NULL, 0, 0}, PG_GETARG_INT64(0), 0, 0, 0, NULL};
	Oid			first_types[1] = {INT8OID};
	Datum		first_value[1] = {PG_GETARG_DATUM(0)};
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext row_cxt;
	TupleDesc	rtd;
	Datum		values[6];
	bool		nulls[6] = {false, false, true, true, true, true};
	Portal		portal;
	StringInfoData canon;
	MsScope    *scope;
	EVP_MD_CTX *ctx;

	if (get_call_result_type(fcinfo, NULL, &rtd) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	/* the result's parts live in the caller's context, past SPI_finish */
	head_set(&cc.head, (unsigned char *) VARDATA_ANY(anchor), VARSIZE_ANY_EXHDR(anchor));
	initStringInfo(&canon);
	row_cxt = AllocSetContextCreate(caller, "audit chain check row", ALLOCSET_DEFAULT_SIZES);
	scope = ms_scope_create();
	ctx = ms_scope_md_ctx(scope, EVP_MD_CTX_new());
	if (ctx == NULL)
		elog(ERROR, "out of memory");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT " AUDIT_COLUMNS " FROM mobisign.audit a"
									   " WHERE a.chain_seq >= $1 ORDER BY a.chain_seq",
									   1, first_types, first_value, NULL, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		bool		more;

		SPI_cursor_fetch(portal, true, CHECK_BATCH);
		if (SPI_processed == 0)
			break;
		more = check_rows(&cc, ctx, &canon, row_cxt, caller);
		SPI_freetuptable(SPI_tuptable);
		if (!more)
			break;
	}
	SPI_cursor_close(portal);
	SPI_finish();
	ms_scope_release(scope);
	MemoryContextDelete(row_cxt);

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
