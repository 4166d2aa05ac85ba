/*-------------------------------------------------------------------------
 *
 * audit_canon.c
 *	  The canonical form of an audit row (see audit_canon.h).
 *
 * The form is written here directly as the text that
 * jsonb_build_array(...)::text gives for the same values, with no jsonb
 * value built and no output function called per column: strings escaped as
 * escape_json() does, ", " between elements, the uuid in uuid_out()'s
 * lower-case form, and the detail written from its jsonb tokens the way
 * JsonbToCString() writes them (", " and ": " as separators, a raw scalar
 * without brackets, numbers by numeric_out()).  Building a jsonb array per
 * row and printing it, or escaping one character at a time, costs more
 * than the hash.  test/regress/sql/50_audit.sql compares the result with
 * the jsonb_build_array form over thousands of varied rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"

#include "audit_canon.h"
#include "text_bytes.h"

/* n bytes at the end of out, with no call when they fit (most appends are a few bytes) */
static inline void
put(StringInfo out, const char *p, int n)
{
	if (out->len + n >= out->maxlen)
		enlargeStringInfo(out, n);
	memcpy(out->data + out->len, p, n);
	out->len += n;
	out->data[out->len] = '\0';
}

#define PUT_LITERAL(out, lit) put((out), (lit), (int) sizeof(lit) - 1)

/* does any of the 8 bytes in w need an escape (below 0x20, '"' or '\')? */
static inline bool
word_needs_escape(uint64 w)
{
	const uint64 ones = UINT64CONST(0x0101010101010101);
	const uint64 highs = UINT64CONST(0x8080808080808080);
	uint64		q = w ^ (ones * '"');
	uint64		b = w ^ (ones * '\\');

	/* a zero byte in q or b, or a byte below 0x20 in w (high bits clear) */
	return (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs;
}

static inline bool
byte_needs_escape(unsigned char ch)
{
	return ch < 0x20 || ch == '"' || ch == '\\';
}

/*
 * The position of the first byte from i on that needs an escape, or len:
 * eight bytes looked at a time (the last eight of a longer string read
 * again rather than byte by byte), the bytes of a flagged word one by one.
 */
static inline size_t
next_escape(const char *p, size_t len, size_t i)
{
	uint64		w;

	for (; i + 8 <= len; i += 8)
	{
		memcpy(&w, p + i, 8);
		if (word_needs_escape(w))
			break;
	}
	if (i + 8 > len && i < len && len >= 8)
	{
		memcpy(&w, p + len - 8, 8);
		if (!word_needs_escape(w))
			return len;
	}
	for (; i < len; i++)
		if (byte_needs_escape((unsigned char) p[i]))
			return i;
	return len;
}

/*
 * A JSON string of len bytes as escape_json() writes it (", \, \b, \f, \n,
 * \r, \t, other bytes below 0x20 as \u00XX, the rest as they are), the
 * runs between escapes copied at once.
 */
static void
json_string(StringInfo out, const char *p, size_t len)
{
	size_t		run = 0;
	size_t		i = next_escape(p, len, 0);

	if (i == len)
	{
		/* the common case: no escape, one copy */
		char	   *d;

		if (out->len + (int) len + 2 >= out->maxlen)
			enlargeStringInfo(out, (int) len + 2);
		d = out->data + out->len;
		d[0] = '"';
		memcpy(d + 1, p, len);
		d[len + 1] = '"';
		out->len += (int) len + 2;
		out->data[out->len] = '\0';
		return;
	}
	put(out, "\"", 1);
	while (i < len)
	{
		unsigned char ch = (unsigned char) p[i];
		const char *esc;
		char		u[8];

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
		put(out, p + run, (int) (i - run));
		put(out, esc, (int) strlen(esc));
		run = i + 1;
		i = next_escape(p, len, run);
	}
	put(out, p + run, (int) (len - run));
	put(out, "\"", 1);
}

static void
json_text(StringInfo out, text *t)
{
	if (t == NULL)
		PUT_LITERAL(out, "null");
	else
		json_string(out, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

static void
json_int64(StringInfo out, int64 v)
{
	char		buf[MAXINT8LEN + 1];

	put(out, buf, pg_lltoa(v, buf));
}

/* uuid_out()'s form: lower-case hex, hyphens after bytes 4, 6, 8 and 10 */
static void
json_uuid(StringInfo out, const pg_uuid_t *u)
{
	static const char hex[] = "0123456789abcdef";
	char		buf[2 + 2 * UUID_LEN + 4];
	int			j = 0;

	buf[j++] = '"';
	for (int i = 0; i < UUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[j++] = '-';
		buf[j++] = hex[u->data[i] >> 4];
		buf[j++] = hex[u->data[i] & 0x0f];
	}
	buf[j++] = '"';
	put(out, buf, j);
}

/* a jsonb scalar as JsonbToCString() writes it */
static void
json_scalar(StringInfo out, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			PUT_LITERAL(out, "null");
			break;
		case jbvString:
			json_string(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																   NumericGetDatum(v->val.numeric)));

				put(out, s, (int) strlen(s));
				pfree(s);
				break;
			}
		case jbvBool:
			if (v->val.boolean)
				PUT_LITERAL(out, "true");
			else
				PUT_LITERAL(out, "false");
			break;
		default:
			elog(ERROR, "unexpected jsonb scalar type %d", (int) v->type);
	}
}

/*
 * The text of a jsonb value, from its tokens in stored order: a ", " goes
 * before any element or key that is not the first of its container, ": "
 * after a key; a root scalar (a one-element raw array) has no brackets.
 */
static void
json_jsonb(StringInfo out, Jsonb *jb)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		more = false;	/* the next element or key is not the first */
	bool		raw = false;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				if (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar)
				{
					raw = true;
					break;
				}
				if (more)
					PUT_LITERAL(out, ", ");
				put(out, tok == WJB_BEGIN_ARRAY ? "[" : "{", 1);
				more = false;
				break;
			case WJB_KEY:
				if (more)
					PUT_LITERAL(out, ", ");
				json_scalar(out, &v);
				PUT_LITERAL(out, ": ");
				more = false;	/* its value follows, with no separator */
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (more)
					PUT_LITERAL(out, ", ");
				json_scalar(out, &v);
				more = true;
				break;
			case WJB_END_ARRAY:
				if (!raw)
					PUT_LITERAL(out, "]");
				more = true;
				break;
			case WJB_END_OBJECT:
				PUT_LITERAL(out, "}");
				more = true;
				break;
			default:
				elog(ERROR, "unexpected jsonb iterator token %d", (int) tok);
		}
	}
}

void
ms_audit_canonical(StringInfo out, const MsAuditRow *r)
{
	int64		unix_us;
	text	   *t;
	bytea	   *utf8;

	if (TIMESTAMP_NOT_FINITE(r->at) ||
		pg_add_s64_overflow(r->at, (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
							SECS_PER_DAY * USECS_PER_SEC, &unix_us))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the time of audit row %lld is out of range", (long long) r->id),
				 errdetail("Its \"at\" is infinite or beyond the range the canonical form can write; mobisign.audit_log only writes the clock's time, so the row was written or changed around it."),
				 errhint("Look at the row with SELECT * FROM mobisign.audit WHERE id = %lld and restore it from a backup.",
						 (long long) r->id)));
	resetStringInfo(out);
	PUT_LITERAL(out, "[");
	json_int64(out, r->id);
	PUT_LITERAL(out, ", ");
	json_int64(out, unix_us);
	PUT_LITERAL(out, ", ");
	json_string(out, r->actor, strlen(r->actor));
	PUT_LITERAL(out, ", ");
	json_text(out, r->application);
	PUT_LITERAL(out, ", ");
	json_text(out, r->operation);
	PUT_LITERAL(out, ", ");
	if (r->transaction_id == NULL)
		PUT_LITERAL(out, "null");
	else
		json_uuid(out, r->transaction_id);
	PUT_LITERAL(out, ", ");
	json_text(out, r->outcome);
	PUT_LITERAL(out, ", ");
	json_jsonb(out, r->detail);
	PUT_LITERAL(out, ", ");
	if (r->has_seq)
		json_int64(out, r->chain_seq);
	else
		PUT_LITERAL(out, "null");
	PUT_LITERAL(out, "]");

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
