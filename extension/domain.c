/*-------------------------------------------------------------------------
 *
 * domain.c
 *	  The domain facts of domain.h, and the SQL functions through which the
 *	  install script and the SQL code read the facts C holds:
 *	  mobisign._status_codes(), mobisign._status_name(),
 *	  mobisign._sim_result_status(), mobisign._is_msisdn(),
 *	  mobisign._ota_counter_max(), mobisign._is_kind(),
 *	  mobisign._kind_signs_digest(), mobisign._answer_outcome(), and the digest
 *	  facts of the codec: mobisign._digest_hash_name(),
 *	  mobisign._digest_verification_code(), mobisign._is_open().
 *
 * Invariants: nothing here holds a fact of its own; every value comes
 * from MS_STATUS_LIST, MS_SIM_RESULT_LIST, MS_KIND_LIST, MS_OPEN_STATES or the codec
 * (smpp.h, ota.h, applet.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "access/htup_details.h"
#include "utils/builtins.h"

#include "ota.h"
#include "smpp.h"

#include "domain.h"

const char *
ms_status_name(int code)
{
	switch (code)
	{
#define MS_STATUS_NAME_CASE(c, name, final, description) case c: return #name;
			MS_STATUS_LIST(MS_STATUS_NAME_CASE)
#undef MS_STATUS_NAME_CASE
	}
	return "INTERNAL_ERROR";
}

int
ms_sim_result_status(int result)
{
	if (result == MSC_RESULT_OK)
		return -1;
	switch (result)
	{
#define MS_SIM_RESULT_CASE(r, status) case r: return status;
			MS_SIM_RESULT_LIST(MS_SIM_RESULT_CASE)
#undef MS_SIM_RESULT_CASE
	}
	return MS_SIM_RESULT_UNKNOWN_STATUS;
}

static const struct
{
	const char *name;
	int			operation;
	bool		authentication;
	int			done_result;
	int			done_status;
}			kinds[] = {
#define MS_KIND_ROW(name, op, auth, result, status) {name, op, auth, result, status},
	MS_KIND_LIST(MS_KIND_ROW)
#undef MS_KIND_ROW
};

static int
kind_index(const char *kind)
{
	for (int i = 0; i < lengthof(kinds); i++)
		if (strcmp(kind, kinds[i].name) == 0)
			return i;
	return -1;
}

void
ms_kind_find(const char *kind, int *operation, bool *authentication)
{
	int			i = kind_index(kind);

	if (i < 0)
		elog(ERROR, "unknown transaction kind \"%s\"", kind);
	*operation = kinds[i].operation;
	*authentication = kinds[i].authentication;
}

/* mobisign._is_kind(kind text) RETURNS boolean: a kind of MS_KIND_LIST? */
PG_FUNCTION_INFO_V1(ms_is_kind);
Datum
ms_is_kind(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(kind_index(text_to_cstring(PG_GETARG_TEXT_PP(0))) >= 0);
}

/*
 * mobisign._kind_signs_digest(kind text) RETURNS boolean: does this kind
 * send the applet's digest operation (the application gives the digest)?
 * NULL for an unknown kind.
 */
PG_FUNCTION_INFO_V1(ms_kind_signs_digest);
Datum
ms_kind_signs_digest(PG_FUNCTION_ARGS)
{
	int			i = kind_index(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	if (i < 0)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(kinds[i].operation == MSC_OP_SIGN_DIGEST);
}

/*
 * mobisign._answer_outcome(kind text, result integer, OUT state text,
 *							OUT status integer) RETURNS record
 * What an applet result ends a transaction of this kind with: both NULL
 * when the signature decides (a signing kind's OK); ('completed', 100)
 * for a receipt shown; otherwise ('failed', the result's status), where a
 * result that completes another kind (a signature answering a receipt,
 * "shown" answering a signing request) is a SIM-side failure like an
 * unknown result.  ERROR for an unknown kind.
 */
PG_FUNCTION_INFO_V1(ms_answer_outcome);
Datum
ms_answer_outcome(PG_FUNCTION_ARGS)
{
	const char *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			result = PG_GETARG_INT32(1);
	int			i = kind_index(kind);
	TupleDesc	tupdesc;
	Datum		values[2] = {0, 0};
	bool		nulls[2] = {true, true};

	if (i < 0)
		elog(ERROR, "unknown transaction kind \"%s\"", kind);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (result == kinds[i].done_result && kinds[i].done_status >= 0)
	{
		values[0] = CStringGetTextDatum("completed");
		values[1] = Int32GetDatum(kinds[i].done_status);
		nulls[0] = nulls[1] = false;
	}
	else if (result != kinds[i].done_result)
	{
		int			status = ms_sim_result_status(result);

		values[0] = CStringGetTextDatum("failed");
		values[1] = Int32GetDatum(status < 0 ? MS_SIM_RESULT_UNKNOWN_STATUS : status);
		nulls[0] = nulls[1] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * mobisign._digest_hash_name(length integer) RETURNS text: the hash a
 * digest of this many octets comes from ('SHA256', 'SHA384', 'SHA512'), as
 * the applet's digest operation takes it; NULL for another length.
 */
PG_FUNCTION_INFO_V1(ms_digest_hash_name);
Datum
ms_digest_hash_name(PG_FUNCTION_ARGS)
{
	int32		len = PG_GETARG_INT32(0);
	const char *name = len > 0 ? msc_digest_hash_name((size_t) len) : NULL;

	if (name == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/*
 * mobisign._digest_verification_code(digest bytea) RETURNS text: the
 * Mobile-ID verification code of a digest (codec/applet.h); NULL for a
 * digest the codec refuses.
 */
PG_FUNCTION_INFO_V1(ms_digest_verification_code);
Datum
ms_digest_verification_code(PG_FUNCTION_ARGS)
{
	bytea	   *d = PG_GETARG_BYTEA_PP(0);
	char		code[MSC_APPLET_VCODE_LEN + 1];

	if (msc_digest_verification_code((const uint8_t *) VARDATA_ANY(d), VARSIZE_ANY_EXHDR(d),
									 code) != MSC_OK)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(code));
}

/*
 * mobisign._status_codes(OUT code integer, OUT name text, OUT final boolean,
 *						  OUT description text) RETURNS SETOF record
 * The rows of mobisign.status_code, inserted by the install script.
 */
PG_FUNCTION_INFO_V1(ms_status_codes);
Datum
ms_status_codes(PG_FUNCTION_ARGS)
{
	static const struct
	{
		int			code;
		const char *name;
		bool		final;
		const char *description;
	}			codes[] = {
#define MS_STATUS_ROW(c, name, final, description) {c, #name, final, description},
		MS_STATUS_LIST(MS_STATUS_ROW)
#undef MS_STATUS_ROW
	};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < lengthof(codes); i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int32GetDatum(codes[i].code);
		values[1] = CStringGetTextDatum(codes[i].name);
		values[2] = BoolGetDatum(codes[i].final);
		values[3] = CStringGetTextDatum(codes[i].description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* mobisign._status_name(code integer) RETURNS text: what C calls a code */
PG_FUNCTION_INFO_V1(ms_status_name_sql);
Datum
ms_status_name_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(ms_status_name(PG_GETARG_INT32(0))));
}

/*
 * mobisign._raise_status(code, message, detail DEFAULT NULL, hint DEFAULT NULL)
 * ERROR "status <code> <NAME>: <message>" with SQLSTATE MS<code>; a detail
 * or hint only when given (never an empty DETAIL or HINT line).
 */
PG_FUNCTION_INFO_V1(ms_raise_status_sql);
Datum
ms_raise_status_sql(PG_FUNCTION_ARGS)
{
	int			code = PG_ARGISNULL(0) ? 900 : PG_GETARG_INT32(0);
	const char *message = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	const char *detail = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	const char *hint = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));

	if (code < 100 || code > 999)
		code = 900;
	ereport(ERROR,
			(errcode(MAKE_SQLSTATE('M', 'S', '0' + code / 100, '0' + code / 10 % 10, '0' + code % 10)),
			 errmsg("status %d %s: %s", code, ms_status_name(code), message),
			 detail ? errdetail("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
	PG_RETURN_VOID();
}

/*
 * mobisign._sim_result_status(result integer) RETURNS integer
 * The final status of an applet result; NULL for OK (the signature decides).
 */
PG_FUNCTION_INFO_V1(ms_sim_result_status_sql);
Datum
ms_sim_result_status_sql(PG_FUNCTION_ARGS)
{
	int			status = ms_sim_result_status(PG_GETARG_INT32(0));

	if (status < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(status);
}

/*
 * mobisign._is_msisdn(value text) RETURNS boolean
 * The MSISDN rule (an optional '+' and 5 to 15 digits) of the codec, which
 * the worker applies to every SMS it receives; the domain mobisign.msisdn
 * and the API's checks use it.
 */
PG_FUNCTION_INFO_V1(ms_is_msisdn);
Datum
ms_is_msisdn(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(msc_smpp_msisdn_check(VARDATA_ANY(value),
										 VARSIZE_ANY_EXHDR(value)) == MSC_OK);
}

/* mobisign._ota_counter_max() RETURNS bigint: 2^40-1, a 5-octet counter */
PG_FUNCTION_INFO_V1(ms_ota_counter_max);
Datum
ms_ota_counter_max(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) MSC_OTA_COUNTER_MAX);
}

/* mobisign._is_open(state text) RETURNS boolean: one of MS_OPEN_STATES */
PG_FUNCTION_INFO_V1(ms_is_open);
Datum
ms_is_open(PG_FUNCTION_ARGS)
{
	text	   *state = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(state);
	size_t		n = VARSIZE_ANY_EXHDR(state);

#define MS_OPEN_STATE_MATCH(name) \
	if (n == sizeof(#name) - 1 && memcmp(s, #name, n) == 0) \
		PG_RETURN_BOOL(true);
	MS_OPEN_STATES(MS_OPEN_STATE_MATCH)
#undef MS_OPEN_STATE_MATCH
	PG_RETURN_BOOL(false);
}
