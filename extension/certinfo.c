/*-------------------------------------------------------------------------
 *
 * certinfo.c
 *	  SQL functions that decode a certificate or a CRL (DER or PEM) into the
 *	  normalised DER and the fields the caches store.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/x509v3.h>

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "certinfo.h"
#include "ossl.h"
#include "sql_fn.h"
#include "verify_cache.h"

static bytea *
der_sha256(bytea *der)
{
	unsigned char md[32];

	ms_sha256((unsigned char *) VARDATA(der), VARSIZE(der) - VARHDRSZ, md);
	return ms_bytea(md, 32);
}

void
ms_cert_info_values(X509 *x, Datum *values, bool *nulls)
{
	bytea	   *der = ms_x509_to_bytea(x);
	const ASN1_OCTET_STRING *skid;

	memset(nulls, 0, sizeof(bool) * MS_CERT_INFO_COLUMNS);
	values[0] = PointerGetDatum(der);
	values[1] = PointerGetDatum(der_sha256(der));
	values[2] = CStringGetTextDatum(ms_vcache_subject(x));
	values[3] = CStringGetTextDatum(ms_name_text(X509_get_issuer_name(x)));
	values[4] = CStringGetTextDatum(ms_asn1_integer_hex(X509_get0_serialNumber(x)));
	skid = X509_get0_subject_key_id(x);
	if (skid)
		values[5] = PointerGetDatum(ms_bytea(ASN1_STRING_get0_data(skid), ASN1_STRING_length(skid)));
	else
		nulls[5] = true;
	values[6] = TimestampTzGetDatum(ms_asn1_time_to_timestamptz(X509_get0_notBefore(x)));
	values[7] = TimestampTzGetDatum(ms_asn1_time_to_timestamptz(X509_get0_notAfter(x)));
	values[8] = BoolGetDatum(X509_check_ca(x) > 0);
	values[9] = BoolGetDatum((X509_get_extension_flags(x) & EXFLAG_SS) != 0);
}

PG_FUNCTION_INFO_V1(mobisign_cert_info);

/*
 * mobisign._cert_info(certificate bytea)
 *	 -> (der, fingerprint, subject, issuer, serial, subject_key_id,
 *		 not_before, not_after, is_ca, self_signed)
 */
Datum
mobisign_cert_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[MS_CERT_INFO_COLUMNS];
	bool		nulls[MS_CERT_INFO_COLUMNS];
	MsScope    *scope;

	tupdesc = ms_result_row(fcinfo);
	ms_require_arg(fcinfo, 0, "certificate");
	scope = ms_scope_create();
	ms_cert_info_values(ms_vcache_certificate(scope, "certificate", PG_GETARG_BYTEA_PP(0)),
						values, nulls);
	ms_scope_release(scope);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

PG_FUNCTION_INFO_V1(mobisign_cert_identity);

/*
 * mobisign._cert_identity(certificate bytea) -> (key_type, serial_number)
 * The key's type ('EC', 'RSA', or OpenSSL's name of another) and the
 * subject's serialNumber attribute (NULL when it has none, or more than
 * one, or one that is not text).
 */
Datum
mobisign_cert_identity(PG_FUNCTION_ARGS)
{
	Datum		values[2];
	bool		nulls[2] = {true, true};
	MsScope    *scope;
	X509	   *x;
	EVP_PKEY   *pkey;
	X509_NAME  *subject;
	int			at;

	ms_require_arg(fcinfo, 0, "certificate");
	scope = ms_scope_create();
	x = ms_vcache_certificate(scope, "certificate", PG_GETARG_BYTEA_PP(0));
	pkey = X509_get0_pubkey(x);
	if (pkey != NULL)
	{
		values[0] = CStringGetTextDatum(EVP_PKEY_is_a(pkey, "EC") ? "EC" :
										EVP_PKEY_is_a(pkey, "RSA") ? "RSA" :
										EVP_PKEY_get0_type_name(pkey));
		nulls[0] = false;
	}
	subject = X509_get_subject_name(x);
	at = X509_NAME_get_index_by_NID(subject, NID_serialNumber, -1);
	if (at >= 0 && X509_NAME_get_index_by_NID(subject, NID_serialNumber, at) < 0)
	{
		unsigned char *utf8 = NULL;
		int			n = ASN1_STRING_to_UTF8(&utf8,
											X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));

		if (n > 0 && n <= 64 && memchr(utf8, '\0', n) == NULL)
		{
			values[1] = PointerGetDatum(cstring_to_text_with_len((char *) utf8, n));
			nulls[1] = false;
		}
		OPENSSL_free(utf8);
	}
	ms_scope_release(scope);
	PG_RETURN_DATUM(ms_result_datum(fcinfo, values, nulls));
}

PG_FUNCTION_INFO_V1(mobisign_crl_info);

/*
 * mobisign._crl_info(crl bytea)
 *	 -> (der, sha256, issuer, crl_number, is_delta, scope, this_update, next_update)
 */
Datum
mobisign_crl_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8] = {0};
	MsScope    *scope;
	X509_CRL   *crl;
	bytea	   *der;
	ASN1_INTEGER *num;
	ASN1_INTEGER *delta;
	char	   *issuer;
	char	   *idp_hex = "";
	int			crit;

	tupdesc = ms_result_row(fcinfo);
	ms_require_arg(fcinfo, 0, "crl");
	scope = ms_scope_create();
	crl = ms_parse_crl_bytea(scope, "CRL", PG_GETARG_BYTEA_PP(0));
	der = ms_crl_to_bytea(crl);
	issuer = ms_name_text(X509_CRL_get_issuer(crl));
	values[0] = PointerGetDatum(der);
	values[1] = PointerGetDatum(der_sha256(der));
	values[2] = CStringGetTextDatum(issuer);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	if (num)
	{
		values[3] = DirectFunctionCall3(numeric_in, CStringGetDatum(ms_asn1_integer_text(num)),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		ASN1_INTEGER_free(num);
	}
	else
		nulls[3] = true;
	delta = X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, NULL);
	values[4] = BoolGetDatum(delta != NULL);
	ASN1_INTEGER_free(delta);
	/* the scope: issuer, issuing distribution point, delta or full */
	{
		int			idx = X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1);

		if (idx >= 0)
		{
			ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(X509_CRL_get_ext(crl, idx));

			idp_hex = ms_hex(ASN1_STRING_get0_data(data), ASN1_STRING_length(data));
		}
	}
	values[5] = CStringGetTextDatum(psprintf("%s|%s|%s", issuer, idp_hex, delta ? "delta" : "full"));
	values[6] = TimestampTzGetDatum(ms_asn1_time_to_timestamptz(X509_CRL_get0_lastUpdate(crl)));
	if (X509_CRL_get0_nextUpdate(crl))
		values[7] = TimestampTzGetDatum(ms_asn1_time_to_timestamptz(X509_CRL_get0_nextUpdate(crl)));
	else
		nulls[7] = true;
	ms_scope_release(scope);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
