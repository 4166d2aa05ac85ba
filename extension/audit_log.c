/*-------------------------------------------------------------------------
 *
 * audit_log.c
 *	  mobisign.audit_log() (see audit_log.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "audit_insert.h"
#include "audit_log.h"
#include "spi_row.h"
#include "text_bytes.h"

/*
 * Has every string (key or value) of jb a UTF-8 form?  Then so has its text
 * (jsonb_out adds only ASCII around and inside strings), and the other way
 * round: the check of that text without making it.
 */
static bool
strings_have_utf8(Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken r;

	while ((r = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
		if ((r == WJB_KEY || r == WJB_VALUE || r == WJB_ELEM) && v.type == jbvString &&
			!ms_chars_have_utf8(v.val.string.val, v.val.string.len))
			return false;
	return true;
}

/* The detail as stored: itself, or {"unreadable_detail": "hex:..."}. */
static Datum
storable_detail(Datum detail)
{
	text	   *t;
	text	   *hex;

	if (strings_have_utf8(DatumGetJsonbP(detail)))
		return detail;
	t = cstring_to_text(DatumGetCString(DirectFunctionCall1(jsonb_out, detail)));
	hex = ms_audit_text(t);
	return DirectFunctionCall1(jsonb_in,
							   CStringGetDatum(psprintf("{\"unreadable_detail\": \"%s\"}",
														text_to_cstring(hex))));
}

/*
 * Insert one row: args/nulls are operation, outcome, detail, transaction_id,
 * application (MsAuditColumn order).  Through the executor's simple-insert
 * path (audit_insert.h), or when the table needs it the SQL INSERT; with
 * want_id, the row's id (else 0): each SQL form has its plan, prepared once
 * per backend.
 */
static int64
audit_insert(Datum *args, char *nulls, bool want_id)
{
	static SPIPlanPtr plan_id = NULL;
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {TEXTOID, TEXTOID, JSONBOID, UUIDOID, TEXTOID};
	bool		isnull;
	int64		id = 0;
	int			rc;

	for (int i = 0; i < 5; i++)
	{
		if (nulls[i] == 'n')
			continue;
		if (i == 2)
			args[i] = storable_detail(args[i]);
		else if (i != 3)
			args[i] = PointerGetDatum(ms_audit_text(DatumGetTextPP(args[i])));
	}
	if (nulls[2] == 'n')
	{
		nulls[2] = ' ';
		args[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	}
	{
		bool		isnulls[MS_AUDIT_NCOLUMNS];

		StaticAssertStmt(MS_AUDIT_NCOLUMNS == 5, "audit_insert's columns are audit_log's arguments");
		for (int i = 0; i < MS_AUDIT_NCOLUMNS; i++)
			isnulls[i] = nulls[i] == 'n';
		if (ms_audit_insert_direct(args, isnulls, &id))
			return want_id ? id : 0;
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
#define AUDIT_INSERT "INSERT INTO mobisign.audit (operation, outcome, detail, transaction_id, application)" \
	" VALUES ($1, $2, $3, $4, $5)"
	if (want_id)
		rc = SPI_execute_plan(ms_spi_prepare_once(&plan_id, AUDIT_INSERT " RETURNING id", 5, types),
							  args, nulls, false, 0);
	else
		rc = SPI_execute_plan(ms_spi_prepare_once(&plan, AUDIT_INSERT, 5, types),
							  args, nulls, false, 0);
	if (rc != (want_id ? SPI_OK_INSERT_RETURNING : SPI_OK_INSERT) || SPI_processed != 1)
		elog(ERROR, "could not write the audit row: %s", SPI_result_code_string(rc));
	if (want_id)
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return id;
}

void
ms_audit_write(const char *operation, const char *outcome, Jsonb *detail)
{
	Datum		args[5] = {CStringGetTextDatum(operation), CStringGetTextDatum(outcome),
	JsonbPGetDatum(detail), 0, 0};
	char		nulls[5] = {' ', ' ', detail ? ' ' : 'n', 'n', 'n'};

	audit_insert(args, nulls, false);
}

PG_FUNCTION_INFO_V1(mobisign_audit_log);

Datum
mobisign_audit_log(PG_FUNCTION_ARGS)
{
	Datum		args[5] = {0};
	char		nulls[5];

	for (int i = 0; i < 5; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		if (!PG_ARGISNULL(i))
			args[i] = PG_GETARG_DATUM(i);
	}
	PG_RETURN_INT64(audit_insert(args, nulls, true));
}
