/*-------------------------------------------------------------------------
 *
 * text_bytes.c
 *	  UTF-8 bytes of a text value without raising errors (see text_bytes.h).
 *
 * convert_to(t, 'UTF8') raises "invalid byte sequence" for a text that C
 * code stored without checking (bytes from the wire): a single such row
 * made every later audit seal fail.  Here the check is done with noError
 * and the caller decides what to do with a text that has no UTF-8 form.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "text_bytes.h"

PG_FUNCTION_INFO_V1(mobisign_utf8);
PG_FUNCTION_INFO_V1(mobisign_utf8_or_stored);
PG_FUNCTION_INFO_V1(mobisign_audit_text);

static bytea *
bytes_copy(const char *s, int n)
{
	bytea	   *b = palloc(VARHDRSZ + n);

	SET_VARSIZE(b, VARHDRSZ + n);
	memcpy(VARDATA(b), s, n);
	return b;
}

bool
ms_chars_have_utf8(const char *s, int n)
{
	int			enc = GetDatabaseEncoding();
	text	   *t;
	bytea	   *b;

	if (enc == PG_UTF8 || enc == PG_SQL_ASCII)
		return pg_verify_mbstr(PG_UTF8, s, n, true);
	t = (text *) bytes_copy(s, n);	/* the same layout */
	b = ms_text_utf8(t);
	pfree(t);
	return b != NULL;
}

bytea *
ms_text_utf8(text *t)
{
	const char *s = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);
	int			enc = GetDatabaseEncoding();
	Oid			proc;
	unsigned char *dst;
	int			done;
	bytea	   *b;

	/* UTF-8 and SQL_ASCII databases: valid UTF-8 is its own form */
	if (enc == PG_UTF8 || enc == PG_SQL_ASCII)
		return pg_verify_mbstr(PG_UTF8, s, n, true) ? bytes_copy(s, n) : NULL;
	if (!pg_verify_mbstr(enc, s, n, true))
		return NULL;
	proc = FindDefaultConversionProc(enc, PG_UTF8);
	if (!OidIsValid(proc))
		return NULL;
	dst = palloc((Size) n * MAX_CONVERSION_GROWTH + 1);
	done = pg_do_encoding_conversion_buf(proc, enc, PG_UTF8, (unsigned char *) s, n,
										 dst, n * MAX_CONVERSION_GROWTH + 1, true);
	if (done < n)
	{
		pfree(dst);
		return NULL;			/* a character without a UTF-8 form */
	}
	b = bytes_copy((const char *) dst, (int) strlen((const char *) dst));
	pfree(dst);
	return b;
}

/* mobisign._utf8(text) RETURNS bytea: the UTF-8 form, NULL if none */
Datum
mobisign_utf8(PG_FUNCTION_ARGS)
{
	bytea	   *b = ms_text_utf8(PG_GETARG_TEXT_PP(0));

	if (b == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(b);
}

/* mobisign._utf8_or_stored(text) RETURNS bytea: the UTF-8 form, else the bytes as stored */
Datum
mobisign_utf8_or_stored(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	bytea	   *b = ms_text_utf8(t);

	if (b == NULL)
		b = bytes_copy(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	PG_RETURN_BYTEA_P(b);
}

text *
ms_audit_text(text *t)
{
	size_t		n = VARSIZE_ANY_EXHDR(t);
	text	   *hex;

	if (ms_text_utf8(t) != NULL)
		return t;
	hex = palloc(VARHDRSZ + 4 + 2 * n);
	memcpy(VARDATA(hex), "hex:", 4);
	hex_encode(VARDATA_ANY(t), n, VARDATA(hex) + 4);
	SET_VARSIZE(hex, VARHDRSZ + 4 + 2 * n);
	return hex;
}

Datum
mobisign_audit_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(ms_audit_text(PG_GETARG_TEXT_PP(0)));
}

void
ms_append_shown(StringInfo buf, const char *s, size_t len, size_t max_bytes)
{
	for (size_t i = 0; i < len && i < max_bytes; i++)
	{
		unsigned char ch = (unsigned char) s[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			appendStringInfoChar(buf, (char) ch);
		else
			appendStringInfo(buf, "\\x%02x", ch);
	}
	if (len > max_bytes)
		appendStringInfoString(buf, "...");
}
