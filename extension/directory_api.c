/*-------------------------------------------------------------------------
 *
 * directory_api.c
 *	  SQL-callable helpers for directories and revocation sources (see
 *	  directory_api.h).  None of them is granted to any role: the SQL
 *	  functions of sql/parts/60_directory.sql call them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "der_input.h"
#include "directory_api.h"
#include "fetch.h"
#include "ldap_dir.h"
#include "ossl.h"
#include "sql_fn.h"

PG_FUNCTION_INFO_V1(mobisign_ldap_filter);

/* mobisign._ldap_filter(template text, value bytea) -> text */
Datum
mobisign_ldap_filter(PG_FUNCTION_ARGS)
{
	char	   *template = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bytea	   *value = PG_GETARG_BYTEA_PP(1);

	PG_RETURN_TEXT_P(cstring_to_text(ms_ldap_build_filter(template, VARDATA_ANY(value),
														  VARSIZE_ANY_EXHDR(value))));
}

PG_FUNCTION_INFO_V1(mobisign_filter_template_ok);

/* mobisign._filter_template_problem(template text) -> text (NULL when usable) */
Datum
mobisign_filter_template_ok(PG_FUNCTION_ARGS)
{
	const char *why = NULL;

	if (ms_ldap_filter_template_ok(text_to_cstring(PG_GETARG_TEXT_PP(0)), &why))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(why));
}

PG_FUNCTION_INFO_V1(mobisign_directory_search);

/*
 * mobisign._directory_search(directory_id integer, user_id bytea)
 *	 -> (found boolean, dn text, msisdn text, certificates bytea[])
 */
Datum
mobisign_directory_search(PG_FUNCTION_ARGS)
{
	Datum		values[4];
	bool		nulls[4] = {0};
	bytea	   *uid = PG_GETARG_BYTEA_PP(1);
	MsDirUser	u;

	ms_ldap_find_user(PG_GETARG_INT32(0), VARDATA_ANY(uid), VARSIZE_ANY_EXHDR(uid), &u);
	values[0] = BoolGetDatum(u.found);
	if (u.dn)
		values[1] = CStringGetTextDatum(u.dn);
	else
		nulls[1] = true;
	if (u.msisdn)
		values[2] = CStringGetTextDatum(u.msisdn);
	else
		nulls[2] = true;
	values[3] = ms_bytea_array(u.certificates);
	PG_RETURN_DATUM(ms_result_datum(fcinfo, values, nulls));
}

PG_FUNCTION_INFO_V1(mobisign_fetch_url);

/*
 * mobisign._fetch_url(url text, kind text) -> bytea[]
 *	kind: 'certificate', 'crl' or 'any' (size limit).  ERROR 08006 when the
 *	source cannot be read.
 */
Datum
mobisign_fetch_url(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(1));
	size_t		max = strcmp(kind, "certificate") == 0 ? MS_FETCH_MAX_CERT : MS_FETCH_MAX_CRL;
	char	   *err = NULL;
	List	   *vals = ms_fetch_url(url, max, &err);

	if (vals == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not fetch %s", url),
				 errdetail("%s", err ? err : "no data")));
	PG_RETURN_DATUM(ms_bytea_array(vals));
}

static void
add_uri(const char *uri, size_t len, void *arg)
{
	List	  **l = (List **) arg;

	*l = lappend(*l, pnstrdup(uri, len));
}

/* URIs of the general names of each distribution point (der_input.h) */
static List *
dp_uris(STACK_OF(DIST_POINT) *dps, List *l)
{
	msi_distribution_point_uris(dps, add_uri, &l);
	return l;
}

static void
free_dps(void *p)
{
	sk_DIST_POINT_pop_free((STACK_OF(DIST_POINT) *) p, DIST_POINT_free);
}

PG_FUNCTION_INFO_V1(mobisign_distribution_points);

/*
 * mobisign._distribution_points(object bytea, OUT full text[], OUT delta text[])
 *	A certificate: its CRL distribution points and freshest CRL (delta)
 *	points; a CRL: its freshest CRL points.
 */
Datum
mobisign_distribution_points(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(b);
	MsScope    *scope = ms_scope_create();
	List	   *full = NIL;
	List	   *delta = NIL;
	X509	   *x;
	Datum		values[2];
	bool		nulls[2] = {0};

	x = ms_scope_x509(scope, d2i_X509(NULL, &p, VARSIZE_ANY_EXHDR(b)));
	if (x != NULL)
	{
		full = dp_uris(ms_scope_add(scope, X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL),
									free_dps), full);
		delta = dp_uris(ms_scope_add(scope, X509_get_ext_d2i(x, NID_freshest_crl, NULL, NULL),
									 free_dps), delta);
	}
	else
	{
		X509_CRL   *crl = ms_parse_crl_bytea(scope, "CRL", b);

		delta = dp_uris(ms_scope_add(scope, X509_CRL_get_ext_d2i(crl, NID_freshest_crl, NULL, NULL),
									 free_dps), delta);
	}
	ERR_clear_error();
	ms_scope_release(scope);
	values[0] = ms_text_array(full);
	values[1] = ms_text_array(delta);
	PG_RETURN_DATUM(ms_result_datum(fcinfo, values, nulls));
}

PG_FUNCTION_INFO_V1(mobisign_ldap_ca_crls);

/*
 * mobisign._ldap_ca_crls(pki_id integer, dn text,
 *		OUT crls bytea[], OUT urls text[], OUT errors text[])
 */
Datum
mobisign_ldap_ca_crls(PG_FUNCTION_ARGS)
{
	List	   *crls = NIL;
	List	   *urls = NIL;
	List	   *errs = NIL;
	List	   *urls_nonnull = NIL;
	ListCell   *lc;
	Datum		values[3];
	bool		nulls[3] = {0};

	ms_ldap_ca_crls(PG_GETARG_INT32(0), text_to_cstring(PG_GETARG_TEXT_PP(1)), &crls, &urls, &errs);
	foreach(lc, urls)
		urls_nonnull = lappend(urls_nonnull, lfirst(lc) ? lfirst(lc) : "");
	values[0] = ms_bytea_array(crls);
	values[1] = ms_text_array(urls_nonnull);
	values[2] = ms_text_array(errs);
	PG_RETURN_DATUM(ms_result_datum(fcinfo, values, nulls));
}

/*
 * May ca sign CRLs (RFC 5280, 4.2.1.3 and 6.3.3 (f))?  A certificate with a
 * keyUsage extension must assert cRLSign; one without must be a CA
 * (basicConstraints cA), so that an end-entity certificate that merely
 * carries its CA's name (a CA may issue one by mistake, and a cached user
 * certificate that validated is a candidate signer) cannot sign the CA's
 * CRLs.  OpenSSL's check_crl refuses such a CRL at use, after it has
 * displaced the CA's real one in the cache: refused here before that.
 */
static bool
may_sign_crls(X509 *ca)
{
	uint32_t	ku = X509_get_key_usage(ca);

	if (ku != UINT32_MAX)
		return (ku & KU_CRL_SIGN) != 0;
	return X509_check_ca(ca) != 0;
}

/*
 * The answer of _crl_signed_by and _cert_issued_by: is cert (or else crl)
 * signed by one of the certificates of argument 1 that could have issued
 * it (X509_check_issued for a certificate; for a CRL, the subject that is
 * the CRL's issuer, with the right to sign CRLs)?  Releases scope.
 */
static Datum
signed_by_one_of(FunctionCallInfo fcinfo, MsScope *scope, X509 *cert, X509_CRL *crl)
{
	STACK_OF(X509) *issuers = ms_parse_certificate_array(scope, "issuers",
														 PG_GETARG_ARRAYTYPE_P(1), 256);
	bool		ok = false;

	for (int i = 0; !ok && i < sk_X509_num(issuers); i++)
	{
		X509	   *ca = sk_X509_value(issuers, i);
		EVP_PKEY   *pk;

		if (cert ? X509_check_issued(ca, cert) != X509_V_OK
			: (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) != 0 ||
			   !may_sign_crls(ca)))
			continue;
		pk = X509_get0_pubkey(ca);
		if (pk != NULL && (cert ? X509_verify(cert, pk) : X509_CRL_verify(crl, pk)) == 1)
			ok = true;
	}
	ERR_clear_error();
	ms_scope_release(scope);
	PG_RETURN_BOOL(ok);
}

PG_FUNCTION_INFO_V1(mobisign_crl_signed_by);

/*
 * mobisign._crl_signed_by(crl bytea, issuers bytea[]) -> boolean
 *	Is the CRL signed by one of the certificates whose subject is the CRL's
 *	issuer and that may sign CRLs?  (A fetched CRL never replaces a cached
 *	one unless it is.)
 */
Datum
mobisign_crl_signed_by(PG_FUNCTION_ARGS)
{
	MsScope    *scope = ms_scope_create();

	return signed_by_one_of(fcinfo, scope, NULL,
							ms_parse_crl_bytea(scope, "CRL", PG_GETARG_BYTEA_PP(0)));
}

PG_FUNCTION_INFO_V1(mobisign_cert_issued_by);

/*
 * mobisign._cert_issued_by(certificate bytea, issuers bytea[]) -> boolean
 *	Was the certificate issued (and signed) by one of the given CAs?  Only
 *	such certificates may name CRL distribution points that the refresh
 *	fetches: a certificate merely cached from a directory or a URL could
 *	otherwise point the server at any host.
 */
Datum
mobisign_cert_issued_by(PG_FUNCTION_ARGS)
{
	MsScope    *scope = ms_scope_create();

	return signed_by_one_of(fcinfo, scope,
							ms_parse_certificate_bytea(scope, "certificate", PG_GETARG_BYTEA_PP(0)),
							NULL);
}
