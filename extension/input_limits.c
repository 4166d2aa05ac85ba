/*-------------------------------------------------------------------------
 *
 * input_limits.c
 *	  Bounds of the API's text arguments (see input_limits.h) and their SQL
 *	  interface: mobisign._check_input(), mobisign._input_fits(),
 *	  mobisign_input_limits().
 *
 * Invariants: a value is measured by its size before its characters are
 * read (200 MB of chr(1) is refused from its byte count, and a toasted
 * argument is not decompressed for that); no message contains the value;
 * every limit is in limits[] and nowhere else.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "charclass.h"
#include "gsm7.h"

#include "input_limits.h"
#include "sql_fn.h"
#include "validate.h"

static const MsInputLimit limits[] = {
	/* the application API: refused with the TS 102 204 status */
	{"user_id", "user id", 256, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, MS_STATUS_WRONG_PARAM},
	{"application", "application label", 64, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, MS_STATUS_WRONG_PARAM},
	/* display texts: then checked against the SIM's screen (gsm7.h) */
	{"message", "message", MSC_GSM7_MAX_SEPTETS_DEFAULT, 0, MS_STATUS_WRONG_DATA_LENGTH},
	{"text_to_sign", "text to sign", MSC_GSM7_MAX_SEPTETS_DEFAULT, 0, MS_STATUS_WRONG_DATA_LENGTH},
	/* administration and verification: refused with 22023 */
	{"name", "name", 63, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, 0},
	{"host", "host", 253, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, 0},
	{"url", "URL", 2048, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, 0},
	{"dn", "distinguished name", 1024, MS_INPUT_PRINTABLE, 0},
	{"password", "password", 256, 0, 0},
	{"user_filter", "user filter template", 1024, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, 0},
	{"attribute", "attribute description", 128, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, 0},
	{"path", "file path", 1024, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, 0},
	{"oid", "object identifier", 128, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, 0},
	{"algorithm", "algorithm name", 32, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, 0},
	{"revocation", "revocation mode", 16, MS_INPUT_PRINTABLE | MS_INPUT_NONEMPTY, 0},
};

const MsInputLimit *
ms_input_limit(const char *name)
{
	for (int i = 0; i < lengthof(limits); i++)
		if (strcmp(limits[i].name, name) == 0)
			return &limits[i];
	elog(ERROR, "no input limit is named \"%s\"", name);
	return NULL;
}

static int
limit_sqlstate(const MsInputLimit *lim)
{
	if (lim->status == 0)
		return ERRCODE_INVALID_PARAMETER_VALUE;
	return MAKE_SQLSTATE('M', 'S', '0' + lim->status / 100, '0' + lim->status / 10 % 10,
						 '0' + lim->status % 10);
}

/* "status 101 WRONG_PARAM: " for application arguments, "" otherwise */
static const char *
status_prefix(const MsInputLimit *lim)
{
	if (lim->status == 0)
		return "";
	return psprintf("status %d %s: ", lim->status, ms_status_name(lim->status));
}

static void
refuse_length(const MsInputLimit *lim, const char *measured)
{
	ereport(ERROR,
			(errcode(limit_sqlstate(lim)),
			 errmsg("%sthe %s is too long", status_prefix(lim), lim->what),
			 errdetail("The %s has %s; at most %d characters are accepted (limit \"%s\").",
					   lim->what, measured, lim->max_chars, lim->name),
			 errhint("mobisign_input_limits() lists the limit of every argument.")));
}

/*
 * The first refused character of a printable value: its position and code
 * point, or 0.  The value is valid in the server encoding.
 */
static int
first_refused(const char *value, size_t len, uint32_t *cp, const char **category)
{
	const unsigned char *u;
	size_t		ulen;
	int			pos = 0;

	u = (const unsigned char *) pg_server_to_any(value, (int) len, PG_UTF8);
	ulen = (const char *) u == value ? len : strlen((const char *) u);
	for (size_t i = 0; i < ulen; pos++)
	{
		int			n = pg_utf_mblen(u + i);

		if (n < 1 || i + n > ulen)
			break;
		*cp = utf8_to_unicode(u + i);
		*category = msc_char_refused_category(*cp);
		if (*category != NULL)
			return pos + 1;
		i += n;
	}
	return 0;
}

void
ms_input_check(const char *name, const char *value, size_t len)
{
	const MsInputLimit *lim = ms_input_limit(name);
	int			nchars;
	uint32_t	cp = 0;
	const char *category = NULL;
	int			pos;

	if (len > (size_t) lim->max_chars * pg_database_encoding_max_length())
		refuse_length(lim, psprintf("%zu bytes", len));
	nchars = pg_mbstrlen_with_len(value, (int) len);
	if (nchars > lim->max_chars)
		refuse_length(lim, psprintf("%d characters", nchars));
	if ((lim->flags & MS_INPUT_NONEMPTY) && nchars == 0)
		ereport(ERROR,
				(errcode(limit_sqlstate(lim)),
				 errmsg("%sthe %s is empty", status_prefix(lim), lim->what),
				 errdetail("The %s needs at least one character (limit \"%s\").", lim->what, lim->name)));
	if ((lim->flags & MS_INPUT_PRINTABLE) &&
		(pos = first_refused(value, len, &cp, &category)) > 0)
		ereport(ERROR,
				(errcode(limit_sqlstate(lim)),
				 errmsg("%sthe %s contains a control or format character", status_prefix(lim), lim->what),
				 errdetail("Character %d of the %s is U+%04X (general category %s; limit \"%s\").",
						   pos, lim->what, (unsigned int) cp, category, lim->name),
				 errhint("A %s holds printable characters only: no control, format or line separator characters (not even a newline).",
						 lim->what)));
}

/*
 * Check a text datum, refusing an oversized one from its stored size
 * before it is detoasted.
 */
static void
check_datum(const char *name, Datum d)
{
	const MsInputLimit *lim = ms_input_limit(name);
	Size		raw = toast_raw_datum_size(d) - VARHDRSZ;
	text	   *t;

	if (raw > (Size) lim->max_chars * pg_database_encoding_max_length())
		refuse_length(lim, psprintf("%zu bytes", (size_t) raw));
	t = DatumGetTextPP(d);
	ms_input_check(name, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/*
 * mobisign._check_input(name text, value text, required_as text DEFAULT NULL)
 * RETURNS void
 * Raises when value breaks the limit called name.  A NULL value passes,
 * unless required_as names the argument: then it is refused as every
 * required argument is (ms_require_arg: "<argument> must not be NULL").
 */
PG_FUNCTION_INFO_V1(ms_check_input);
Datum
ms_check_input(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		elog(ERROR, "input limit name must not be NULL");
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
		ms_require_arg(fcinfo, 1, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (!PG_ARGISNULL(1))
		check_datum(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_DATUM(1));
	PG_RETURN_VOID();
}

/*
 * mobisign._input_fits(name text, value text) RETURNS boolean (STRICT,
 * IMMUTABLE: the limits are compiled in), for CHECK constraints.
 */
PG_FUNCTION_INFO_V1(ms_input_fits);
Datum
ms_input_fits(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const MsInputLimit *lim = ms_input_limit(name);
	Size		raw = toast_raw_datum_size(PG_GETARG_DATUM(1)) - VARHDRSZ;
	text	   *t;
	int			nchars;
	uint32_t	cp;
	const char *category;

	if (raw > (Size) lim->max_chars * pg_database_encoding_max_length())
		PG_RETURN_BOOL(false);
	t = PG_GETARG_TEXT_PP(1);
	nchars = pg_mbstrlen_with_len(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	if (nchars > lim->max_chars || ((lim->flags & MS_INPUT_NONEMPTY) && nchars == 0))
		PG_RETURN_BOOL(false);
	if ((lim->flags & MS_INPUT_PRINTABLE) &&
		first_refused(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &cp, &category) > 0)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

/*
 * mobisign_input_limits() RETURNS TABLE (argument text, meaning text,
 *		max_characters integer, printable_only boolean, sqlstate text)
 */
PG_FUNCTION_INFO_V1(ms_input_limits);
Datum
ms_input_limits(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < lengthof(limits); i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = CStringGetTextDatum(limits[i].name);
		values[1] = CStringGetTextDatum(limits[i].what);
		values[2] = Int32GetDatum(limits[i].max_chars);
		values[3] = BoolGetDatum((limits[i].flags & MS_INPUT_PRINTABLE) != 0);
		values[4] = CStringGetTextDatum(unpack_sql_state(limit_sqlstate(&limits[i])));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
