/*
 * sim_response.c
 *	  mobisign._open_response(...): reassemble the SMS user data of one
 *	  answer, check and decipher the OTA response packet with one SIM key
 *	  set, decode the applet response (msc_answer_open, codec/answer.h,
 *	  the same steps the answer-path fuzzer runs).  Never throws for bad
 *	  input: the result's "stage" says how far the answer got:
 *		sms        not a (complete) response packet in SMS user data
 *		tar        the packet's TAR is not this key set's
 *		unsecured  a PoR without the cryptographic checksum (nothing trusted)
 *		security   CC, padding or length checks failed (nothing trusted)
 *		por        authentic PoR whose status is not OK (the SIM refused the
 *		           command: counter, CC, security level...)
 *		applet     authentic packet whose applet response does not decode
 *		ok         authentic packet and a well-formed applet response
 *	From "por" on, counter holds the authenticated counter.
 *
 *	  mobisign._verify_answer(...): the CMS SignedData of an OK answer
 *	  against the registered certificate and the user's PKI, with the key
 *	  usage of the operation (digitalSignature for authenticate,
 *	  nonRepudiation for sign).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "answer.h"

#include "cms_verify.h"
#include "domain.h"
#include "keystore.h"
#include "ossl.h"
#include "rawsig.h"
#include "verify_cache.h"
#include "sim_request.h"
#include "sim_response.h"
#include "sql_fn.h"

#define OPEN_NATTS 8

/* The row _open_response returns, filled in step by step. */
typedef struct OpenRow
{
	Datum		values[OPEN_NATTS];
	bool		nulls[OPEN_NATTS];
	const char *stage;
	char	   *failure;
} OpenRow;

/* Column col of a result row (values, nulls: every column NULL until set) is d. */
static void
set_column(Datum *values, bool *nulls, int col, Datum d)
{
	values[col] = d;
	nulls[col] = false;
}

static void
row_set(OpenRow *row, int col, Datum d)
{
	set_column(row->values, row->nulls, col, d);
}

/*
 * Step 1: the SMS user data of the answer, bounded in number; false (stage
 * "sms") when there are none, too many, or one is NULL.
 */
static bool
read_segments(ArrayType *segarr, msc_sms_part **parts, int *nparts, OpenRow *row)
{
	Datum	   *elems;
	bool	   *enulls;
	int			nelems;

	deconstruct_array(segarr, BYTEAOID, -1, false, TYPALIGN_INT, &elems, &enulls, &nelems);
	if (nelems < 1 || nelems > MSC_SMS_MAX_SEGMENTS)
	{
		row->stage = "sms";
		row->failure = psprintf("%d SMS in one answer", nelems);
		return false;
	}
	*parts = palloc(sizeof(msc_sms_part) * nelems);
	for (int i = 0; i < nelems; i++)
	{
		bytea	   *b;

		if (enulls[i])
		{
			row->stage = "sms";
			row->failure = pstrdup("missing SMS user data");
			return false;
		}
		b = DatumGetByteaPP(elems[i]);
		(*parts)[i].ud = (const uint8_t *) VARDATA_ANY(b);
		(*parts)[i].len = VARSIZE_ANY_EXHDR(b);
	}
	*nparts = nelems;
	return true;
}

/*
 * Step 2: reassemble, check and decipher with the key set's clear keys,
 * which live only for this call (the same steps as the answer-path fuzzer:
 * codec/answer.h).
 */
static void
open_with_keys(const char *msisdn, int32 key_set, bytea *tar, bytea *kic_w, bytea *kid_w,
			   msc_sms_part *parts, int nparts, msc_answer *ans)
{
	msc_ota_keys keys;
	uint8_t    *buf = palloc(MSC_ANSWER_BUF_SIZE);
	msc_rc		rc;

	ms_ota_keys_unwrap(msisdn, key_set, kic_w, kid_w, &keys);
	rc = msc_answer_open(parts, nparts, MS_SIM_SPI2, &keys, (const uint8_t *) VARDATA_ANY(tar),
						 buf, MSC_ANSWER_BUF_SIZE, ans);
	ms_ota_keys_wipe(&keys);
	if (rc != MSC_OK)
		elog(ERROR, "opening an answer: %s", msc_strerror(rc));
}

/* Step 3: how far the answer got, and what it says from "por" on. */
static void
describe_answer(const msc_answer *ans, OpenRow *row)
{
	switch (ans->stage)
	{
		case MSC_ANSWER_SMS:
			row->stage = "sms";
			row->failure = ans->rc != MSC_OK
				? psprintf("SMS user data: %s", msc_strerror(ans->rc))
				: pstrdup("the SMS user data carry no response packet identifier (IEI 0x71)");
			return;
		case MSC_ANSWER_TAR:
			row->stage = "tar";
			row->failure = pstrdup("the response packet's TAR is not this key set's");
			return;
		case MSC_ANSWER_UNSECURED:
			row->stage = "unsecured";
			row->failure = psprintf("unsecured proof of receipt (status %u: %s)",
									ans->por.status, msc_por_status_name(ans->por.status));
			row_set(row, 3, Int32GetDatum(ans->por.status));
			return;
		case MSC_ANSWER_SECURITY:
			row->stage = "security";
			row->failure = psprintf("secured response packet: %s", msc_strerror(ans->rc));
			return;
		default:
			break;
	}
	/* authentic from here on */
	row_set(row, 2, Int64GetDatum((int64) ans->por.counter));
	row_set(row, 3, Int32GetDatum(ans->por.status));
	if (ans->stage == MSC_ANSWER_POR)
	{
		row->stage = "por";
		row->failure = psprintf("the SIM refused the secured packet: proof of receipt status %02X (%s)",
								ans->por.status, msc_por_status_name(ans->por.status));
		return;
	}
	if (ans->stage == MSC_ANSWER_APPLET)
	{
		row->stage = "applet";
		row->failure = psprintf("applet response: %s", msc_strerror(ans->rc));
		return;
	}
	row->stage = "ok";
	row_set(row, 4, PointerGetDatum(ms_bytea(ans->applet.reference, MSC_APPLET_REF_LEN)));
	row_set(row, 5, Int32GetDatum(ans->applet.result));
	row_set(row, 6, CStringGetTextDatum(msc_applet_result_name(ans->applet.result)));
	if (ans->applet.cms != NULL && ans->applet.cms_len > 0)
		row_set(row, 7, PointerGetDatum(ms_bytea(ans->applet.cms, ans->applet.cms_len)));
}

/*
 * mobisign._open_response(msisdn text, key_set integer, tar bytea,
 *		kic_wrapped bytea, kid_wrapped bytea, segments bytea[],
 *		OUT stage text, OUT failure text, OUT counter bigint,
 *		OUT por_status integer, OUT reference bytea, OUT result integer,
 *		OUT result_name text, OUT cms bytea)
 */
PG_FUNCTION_INFO_V1(ms_open_response);
Datum
ms_open_response(PG_FUNCTION_ARGS)
{
	char	   *msisdn = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		key_set = PG_GETARG_INT32(1);
	bytea	   *tar = PG_GETARG_BYTEA_PP(2);
	OpenRow		row;
	msc_sms_part *parts = NULL;
	int			nparts = 0;

	memset(&row, 0, sizeof(row));
	for (int i = 0; i < OPEN_NATTS; i++)
		row.nulls[i] = true;
	if (VARSIZE_ANY_EXHDR(tar) != MSC_OTA_TAR_LEN)
		elog(ERROR, "tar must be 3 bytes");

	if (read_segments(PG_GETARG_ARRAYTYPE_P(5), &parts, &nparts, &row))
	{
		msc_answer	ans;

		open_with_keys(msisdn, key_set, tar, PG_GETARG_BYTEA_PP(3), PG_GETARG_BYTEA_PP(4),
					   parts, nparts, &ans);
		describe_answer(&ans, &row);
	}

	row_set(&row, 0, CStringGetTextDatum(row.stage));
	if (row.failure != NULL)
		row_set(&row, 1, CStringGetTextDatum(row.failure));
	PG_RETURN_DATUM(ms_result_datum(fcinfo, row.values, row.nulls));
}

static bytea *
hex_to_bytea(const char *hex)
{
	size_t		n = strlen(hex) / 2;
	bytea	   *b = palloc(VARHDRSZ + n);
	size_t		i;

	SET_VARSIZE(b, VARHDRSZ + n);
	for (i = 0; i < n; i++)
	{
		unsigned int v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			elog(ERROR, "invalid hex fingerprint");
		((unsigned char *) VARDATA(b))[i] = (unsigned char) v;
	}
	return b;
}

#define VERIFY_NATTS 9

/*
 * mobisign._verify_answer(cms bytea, content bytea, certificate bytea,
 *		pki text, kind text, intermediates bytea[], OUT valid boolean, OUT status_code integer,
 *		OUT reason text, OUT signer_subject text, OUT signer_fingerprint bytea,
 *		OUT signing_time timestamptz, OUT pki_name text, OUT chain text[],
 *		OUT evidence jsonb)
 *
 * certificate may be NULL (the signer is then looked up among the
 * certificates in the signature; none are sent by default: 422).
 * intermediates (may be NULL): untrusted CA certificates for path building.
 */
/*
 * The answer to the digest operation: a raw signature of the digest by the
 * registered certificate's key or, with several candidate certificates
 * (a directory entry) and none registered, by the first candidate's key
 * that verifies it; then that certificate's path.
 */
static void
verify_digest_answer(bytea *sig, bytea *digest, X509 *cert, STACK_OF(X509) *candidates,
					 const char *pki, MsKeyUsage usage, MsCmsResult *res)
{
	const unsigned char *s = (const unsigned char *) VARDATA_ANY(sig);
	size_t		slen = VARSIZE_ANY_EXHDR(sig);
	const unsigned char *d = (const unsigned char *) VARDATA_ANY(digest);
	size_t		dlen = VARSIZE_ANY_EXHDR(digest);

	for (int i = 0; cert == NULL && candidates != NULL && i < sk_X509_num(candidates); i++)
	{
		X509	   *c = sk_X509_value(candidates, i);
		EVP_PKEY   *k = X509_get0_pubkey(c);

		if (k != NULL && ms_raw_verify_digest(k, d, dlen, s, slen))
			cert = c;
	}
	if (cert == NULL)
	{
		memset(res, 0, sizeof(*res));
		res->v.valid = false;
		res->v.status_code = MS_STATUS_INVALID_SIGNATURE;
		res->v.reason = pstrdup("the raw signature of the digest verifies with none of the user's certificates");
		return;
	}
	ms_raw_digest_verify(s, slen, d, dlen, cert, pki, usage, res);
}

PG_FUNCTION_INFO_V1(ms_verify_answer);
Datum
ms_verify_answer(PG_FUNCTION_ARGS)
{
	bytea	   *cms;
	bytea	   *content;
	char	   *pki = NULL;
	char	   *kind;
	MsScope    *scope;
	X509	   *cert = NULL;
	STACK_OF(X509) *inter = NULL;
	MsCmsResult res;
	Datum		values[VERIFY_NATTS];
	bool		nulls[VERIFY_NATTS];
	MsKeyUsage	usage;
	int			op;
	bool		authentication;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(4))
		elog(ERROR, "signature, content and kind are required");
	cms = PG_GETARG_BYTEA_PP(0);
	content = PG_GETARG_BYTEA_PP(1);
	if (!PG_ARGISNULL(3))
		pki = text_to_cstring(PG_GETARG_TEXT_PP(3));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(4));
	ms_kind_find(kind, &op, &authentication);
	usage = authentication ? MS_USAGE_AUTHENTICATION : MS_USAGE_SIGNING;

	scope = ms_scope_create();
	if (!PG_ARGISNULL(2))
		cert = ms_vcache_certificate(scope, "registered certificate", PG_GETARG_BYTEA_PP(2));
	if (!PG_ARGISNULL(5))
		inter = ms_parse_certificate_array(scope, "intermediates", PG_GETARG_ARRAYTYPE_P(5), 64);

	if (op == MSC_OP_SIGN_DIGEST)
		verify_digest_answer(cms, content, cert, inter, pki, usage, &res);
	else
	{
		MsCmsRequest req = {
			.sig = (const unsigned char *) VARDATA_ANY(cms),
			.siglen = VARSIZE_ANY_EXHDR(cms),
			.content = (const unsigned char *) VARDATA_ANY(content),
			.contentlen = VARSIZE_ANY_EXHDR(content),
			.signer_cert = cert,
			.extra_certs = inter,
			.pki_name = pki,
			.usage = usage,
			/* with no registered certificate the signer must be one of the intermediates */
			.flags = cert == NULL ? MS_CMS_SIGNER_IN_EXTRA_ONLY : 0,
		};

		ms_cms_verify(&req, &res);
	}

	for (i = 0; i < VERIFY_NATTS; i++)
		nulls[i] = true;
	set_column(values, nulls, 0, BoolGetDatum(res.v.valid));
	set_column(values, nulls, 1, Int32GetDatum(res.v.status_code));
	if (res.v.reason)
		set_column(values, nulls, 2, CStringGetTextDatum(res.v.reason));
	if (res.signer_subject)
		set_column(values, nulls, 3, CStringGetTextDatum(res.signer_subject));
	if (res.signer_fingerprint)
		set_column(values, nulls, 4, PointerGetDatum(hex_to_bytea(res.signer_fingerprint)));
	if (res.has_signing_time)
		set_column(values, nulls, 5, TimestampTzGetDatum(res.signing_time));
	if (res.v.pki_name)
		set_column(values, nulls, 6, CStringGetTextDatum(res.v.pki_name));
	set_column(values, nulls, 7, ms_text_array(res.v.chain));
	if (res.v.evidence)
		set_column(values, nulls, 8, JsonbPGetDatum(res.v.evidence));
	{
		Datum		result = ms_result_datum(fcinfo, values, nulls);

		ms_scope_release(scope);
		PG_RETURN_DATUM(result);
	}
}
