/*
 * sim_request.c
 *	  mobisign._display_check(text) and mobisign._build_request(...): the
 *	  PostgreSQL side of the codecs in codec (display text coding,
 *	  applet request TLVs, OTA command packets, SMS segmentation).
 *
 * The SIM keys are unwrapped only here, for the time it takes to build one
 * packet, and wiped right after.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "msc.h"
#include "gsm7.h"
#include "sms.h"
#include "ota.h"
#include "applet.h"

#include "domain.h"
#include "keystore.h"
#include "sim_request.h"

/* UTF-8 bytes of a text datum, whatever the server encoding */
static char *
text_utf8(text *t, size_t *len)
{
	char	   *s = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);
	char	   *u;

	u = pg_server_to_any(s, n, PG_UTF8);
	if (u == s)
	{
		u = palloc(n + 1);
		memcpy(u, s, n);
		u[n] = '\0';
	}
	*len = strlen(u);
	return u;
}

/*
 * Why a display text is refused (msc_display_encode's rc): a full sentence
 * without the final period for errdetail, and what to do about it.
 */
static const char *
display_problem(const char *utf8, size_t len, msc_rc rc, const char **hint)
{
	size_t		index = 0;
	uint32_t	cp = 0;
	const char *category = NULL;

	*hint = "Shorten the text: 160 GSM 7-bit septets (extension characters such as € [ ] { } count two) or 70 characters otherwise.";
	switch (rc)
	{
		case MSC_E_TOO_LONG:
			return "the text does not fit the SIM's screen (160 GSM 7-bit septets, extension characters counting two, or 70 UCS-2 characters)";
		case MSC_E_CONTROL:
			*hint = "What the phone shows is what is signed: use printable characters and newlines only.";
			(void) msc_display_find_refused((const uint8_t *) utf8, len, &index, &cp, &category);
			return psprintf("character %zu of the text is U+%04X, a %s character, which the SIM must not receive",
							index + 1, (unsigned int) cp,
							category != NULL && category[1] == 'c' ? "control" :
							category != NULL && category[1] == 'f' ? "format" : "line or paragraph separator");
		case MSC_E_UNREPRESENTABLE:
			*hint = "Use characters of the Basic Multilingual Plane (no emoji).";
			return "the text contains a character outside the Basic Multilingual Plane, which the SIM cannot show";
		case MSC_E_UTF8:
			*hint = "Pass valid text without U+0000.";
			return "the text is not valid UTF-8 or contains U+0000";
		default:
			return msc_strerror(rc);
	}
}

/*
 * mobisign._display_check(display_text text, OUT fits boolean, OUT coding text,
 *		OUT units integer, OUT max_units integer, OUT problem text, OUT hint text)
 */
PG_FUNCTION_INFO_V1(ms_display_check);
Datum
ms_display_check(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	size_t		len;
	char	   *u = text_utf8(t, &len);
	msc_display_text *dt = palloc0(sizeof(msc_display_text));
	msc_rc		rc;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	const char *hint = NULL;
	size_t		units = 0;
	bool		gsm;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	rc = msc_display_encode((const uint8_t *) u, len, NULL, dt);
	if (rc == MSC_OK)
	{
		gsm = dt->coding == MSC_DCS_GSM7;
		units = dt->units;
	}
	else
	{
		/* report what was measured, for the error message */
		gsm = msc_gsm7_count((const uint8_t *) u, len, &units) == MSC_OK;
		if (!gsm)
		{
			size_t		blen = 0;

			if (msc_utf8_to_ucs2((const uint8_t *) u, len, NULL, 0, &blen) == MSC_OK)
				units = blen / 2;
			else
				units = 0;
		}
	}
	values[0] = BoolGetDatum(rc == MSC_OK);
	values[1] = CStringGetTextDatum(gsm ? "gsm7" : "ucs2");
	values[2] = Int32GetDatum((int32) units);
	values[3] = Int32GetDatum(gsm ? MSC_GSM7_MAX_SEPTETS_DEFAULT : MSC_UCS2_MAX_CHARS_DEFAULT);
	if (rc == MSC_OK)
		nulls[4] = nulls[5] = true;
	else
	{
		values[4] = CStringGetTextDatum(display_problem(u, len, rc, &hint));
		values[5] = CStringGetTextDatum(hint);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

static void
fixed_len(bytea *b, size_t want, const char *what)
{
	if (VARSIZE_ANY_EXHDR(b) != want)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %zu bytes", what, want)));
}

/*
 * mobisign._build_request(msisdn text, key_set integer, counter bigint,
 *		tar bytea, kic_wrapped bytea, kid_wrapped bytea, reference bytea,
 *		kind text, data bytea, display_text text, verification_code text,
 *		expires_at timestamptz) RETURNS bytea[]
 *
 * The SMS user data (UDH included) of the secured command packet, in order.
 */
PG_FUNCTION_INFO_V1(ms_build_request);
Datum
ms_build_request(PG_FUNCTION_ARGS)
{
	char	   *msisdn = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		key_set = PG_GETARG_INT32(1);
	int64		counter = PG_GETARG_INT64(2);
	bytea	   *tar = PG_GETARG_BYTEA_PP(3);
	bytea	   *kic_w = PG_GETARG_BYTEA_PP(4);
	bytea	   *kid_w = PG_GETARG_BYTEA_PP(5);
	bytea	   *reference = PG_GETARG_BYTEA_PP(6);
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(7));
	bytea	   *data = PG_GETARG_BYTEA_PP(8);
	text	   *display = PG_GETARG_TEXT_PP(9);
	char	   *vcode = text_to_cstring(PG_GETARG_TEXT_PP(10));
	TimestampTz expires_at = PG_GETARG_TIMESTAMPTZ(11);
	msc_display_text *dt = palloc0(sizeof(msc_display_text));
	msc_applet_request req;
	uint8_t    *msg;
	size_t		msgcap = MSC_OTA_MAX_CMD_DATA + 64;
	size_t		unsigned_len;
	size_t		msg_len;
	unsigned char *sig;
	size_t		siglen;
	msc_ota_command cmd;
	msc_ota_keys keys;
	uint8_t    *pkt;
	size_t		pktcap = MSC_OTA_MAX_CMD_DATA + 64;
	size_t		pkt_len;
	msc_sms_segment *segs;
	size_t		nsegs;
	uint8_t		concat_ref;
	Datum	   *elems;
	size_t		i;
	msc_rc		rc;
	size_t		dlen;
	char	   *dutf8;
	int64		unix_expiry;

	fixed_len(tar, MSC_OTA_TAR_LEN, "tar");
	fixed_len(reference, MSC_APPLET_REF_LEN, "reference");
	if (strlen(vcode) != MSC_APPLET_VCODE_LEN)
		elog(ERROR, "verification code must have 4 digits");
	if (counter < 0 || (uint64) counter > MSC_OTA_COUNTER_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the OTA counter of SIM key set %d is exhausted", key_set),
				 errhint("Provision new keys for this SIM with mobisign_add_sim_key().")));

	/* display text */
	dutf8 = text_utf8(display, &dlen);
	rc = msc_display_encode((const uint8_t *) dutf8, dlen, NULL, dt);
	if (rc != MSC_OK)
	{
		const char *hint;
		const char *problem = display_problem(dutf8, dlen, rc, &hint);

		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('M', 'S', '1', '0', '3')),
				 errmsg("status 103 WRONG_DATA_LENGTH: display text refused"),
				 errdetail("The display text was refused: %s.", problem),
				 errhint("%s", hint)));
	}

	/* applet request */
	memset(&req, 0, sizeof(req));
	req.version = MSC_APPLET_VERSION;
	memcpy(req.reference, VARDATA_ANY(reference), MSC_APPLET_REF_LEN);
	{
		int			op;
		bool		authentication;

		ms_kind_find(kind, &op, &authentication);
		req.operation = (uint8_t) op;
	}
	req.data = (const uint8_t *) VARDATA_ANY(data);
	req.data_len = VARSIZE_ANY_EXHDR(data);
	msc_applet_request_set_display(&req, dt);
	memcpy(req.vcode, vcode, MSC_APPLET_VCODE_LEN);
	req.vcode[MSC_APPLET_VCODE_LEN] = '\0';
	unix_expiry = (expires_at / USECS_PER_SEC) +
		((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
	if (unix_expiry < 0 || unix_expiry > (int64) UINT32_MAX)
		elog(ERROR, "expiry time out of range");
	req.expiry = (uint32_t) unix_expiry;

	msg = palloc(msgcap);
	rc = msc_applet_request_encode_unsigned(&req, msg, msgcap, &unsigned_len);
	if (rc != MSC_OK)
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('M', 'S', '1', '0', '3')),
				 errmsg("status 103 WRONG_DATA_LENGTH: the request cannot be encoded for the SIM"),
				 errdetail("The applet request encoder said: %s.", msc_strerror(rc))));
	sig = ms_sp_sign(msg, unsigned_len, &siglen);
	rc = msc_applet_request_append_signature(msg, msgcap, unsigned_len, sig, siglen, &msg_len);
	if (rc != MSC_OK)
		elog(ERROR, "could not append the service provider signature: %s", msc_strerror(rc));

	/* OTA command packet */
	memset(&cmd, 0, sizeof(cmd));
	cmd.spi[0] = MS_SIM_SPI1;
	cmd.spi[1] = MS_SIM_SPI2;
	cmd.kic = MSC_OTA_KEYID(key_set);
	cmd.kid = MSC_OTA_KEYID(key_set);
	memcpy(cmd.tar, VARDATA_ANY(tar), MSC_OTA_TAR_LEN);
	cmd.counter = (uint64_t) counter;
	cmd.data = msg;
	cmd.data_len = msg_len;

	ms_ota_keys_unwrap(msisdn, key_set, kic_w, kid_w, &keys);
	pkt = palloc(pktcap);
	rc = msc_ota_build_command(&cmd, &keys, pkt, pktcap, &pkt_len);
	ms_ota_keys_wipe(&keys);
	if (rc != MSC_OK)
		ereport(ERROR,
				(errcode(rc == MSC_E_BUFFER || rc == MSC_E_LENGTH ?
						 MAKE_SQLSTATE('M', 'S', '1', '0', '3') : ERRCODE_INTERNAL_ERROR),
				 errmsg("could not build the secured command packet"),
				 errdetail("The OTA encoder said: %s.", msc_strerror(rc))));

	/* SMS segments */
	if (!pg_strong_random(&concat_ref, 1))
		elog(ERROR, "could not generate random bytes");
	segs = palloc(sizeof(msc_sms_segment) * MSC_SMS_MAX_SEGMENTS);
	rc = msc_sms_split(MSC_IEI_CMD_PACKET, concat_ref, pkt, pkt_len, segs,
					   MSC_SMS_MAX_SEGMENTS, &nsegs);
	if (rc != MSC_OK)
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('M', 'S', '1', '0', '3')),
				 errmsg("status 103 WRONG_DATA_LENGTH: the request does not fit %d SMS",
						MSC_SMS_MAX_SEGMENTS),
				 errdetail("The SMS segmentation said: %s.", msc_strerror(rc))));

	elems = palloc(sizeof(Datum) * nsegs);
	for (i = 0; i < nsegs; i++)
	{
		bytea	   *b = palloc(VARHDRSZ + segs[i].len);

		SET_VARSIZE(b, VARHDRSZ + segs[i].len);
		memcpy(VARDATA(b), segs[i].ud, segs[i].len);
		elems[i] = PointerGetDatum(b);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, (int) nsegs, BYTEAOID, -1, false, TYPALIGN_INT));
}
