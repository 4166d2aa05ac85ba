/*-------------------------------------------------------------------------
 *
 * cms_verify.c
 *	  CMS SignedData verification (see cms_verify.h) and the SQL function
 *	  behind mobisign_verify(signature, content, ...).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/err.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "audit_log.h"
#include "certinfo.h"
#include "cms_verify.h"
#include "cms_split.h"
#include "der_input.h"
#include "jsonb_build.h"
#include "ossl.h"
#include "verify_cache.h"
#include "sql_fn.h"
#include "rawsig.h"
#include "signer_verify.h"
#include "spi_row.h"

static void
set_invalid(MsCmsResult *out, int status, char *reason)
{
	out->v.valid = false;
	out->v.status_code = status;
	out->v.reason = reason;
	if (out->v.evidence == NULL)
		out->v.evidence = ms_jb_empty_object();
}

static bool
digest_allowed(int nid)
{
	return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512;
}

/*
 * The signer named by issuer and serial number, or by subject key
 * identifier, looked up in the certificate cache (mobisign.certificate:
 * registered, directory, URL and earlier signatures' certificates).  The
 * match is confirmed against the SignerInfo; the certificate is still
 * path-validated like any other.
 */
static X509 *
cached_signer(MsScope *scope, CMS_SignerInfo *si)
{
	ASN1_OCTET_STRING *keyid = NULL;
	X509_NAME  *issuer = NULL;
	ASN1_INTEGER *sno = NULL;
	X509	   *found = NULL;
	int			rc;

	if (!CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &sno))
		return NULL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (keyid != NULL)
	{
		Datum		arg[1] = {PointerGetDatum(ms_bytea(ASN1_STRING_get0_data(keyid),
													  ASN1_STRING_length(keyid)))};
		Oid			type[1] = {BYTEAOID};

		rc = SPI_execute_with_args("SELECT der FROM mobisign.certificate WHERE subject_key_id = $1 LIMIT 8",
								   1, type, arg, NULL, true, 0);
	}
	else
	{
		Datum		arg[2];
		Oid			type[2] = {TEXTOID, TEXTOID};

		arg[0] = CStringGetTextDatum(ms_name_text(issuer));
		arg[1] = CStringGetTextDatum(ms_asn1_integer_hex(sno));
		rc = SPI_execute_with_args("SELECT der FROM mobisign.certificate WHERE issuer = $1 AND serial = $2 LIMIT 8",
								   2, type, arg, NULL, true, 0);
	}
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read mobisign.certificate: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; found == NULL && i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = ms_spi_datum(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "der", &isnull);
		bytea	   *der = DatumGetByteaPP(d);
		const unsigned char *p = (unsigned char *) VARDATA_ANY(der);
		X509	   *x = d2i_X509(NULL, &p, VARSIZE_ANY_EXHDR(der));

		if (x != NULL && CMS_SignerInfo_cert_cmp(si, x) == 0)
			found = ms_scope_x509(scope, x);
		else
			X509_free(x);
	}
	SPI_finish();
	ERR_clear_error();
	return found;
}

/*
 * A DER SignedData parsed without its certificates, which come from the
 * verification cache (input/cms_split.h); NULL when it is not of the plain
 * form that is split, or does not parse so (the caller then parses it as
 * it is, for the same answer and error as always).
 */
static CMS_ContentInfo *
parse_cms_split(MsScope *scope, const unsigned char *sig, size_t siglen, STACK_OF(X509) **certs)
{
	unsigned char *stripped;
	msi_cms_split sp;
	msi_der_detail d;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *sk;

	if (siglen == 0 || siglen > MSI_MAX_CMS_LEN || msi_looks_like_pem(sig, siglen))
		return NULL;
	stripped = palloc(siglen);
	if (msi_cms_split_certificates(sig, siglen, stripped, &sp) != MSI_OK ||
		(sk = ms_scope_x509_stack(scope, sk_X509_new_null())) == NULL)
	{
		pfree(stripped);
		return NULL;
	}
	for (int i = 0; i < sp.ncerts; i++)
	{
		X509	   *x = ms_vcache_certificate_der(scope, sp.certs[i].data, sp.certs[i].len);

		if (x == NULL || !X509_add_cert(sk, x, X509_ADD_FLAG_UP_REF))
		{
			pfree(stripped);
			return NULL;
		}
	}
	if (msi_parse_cms_signed_data(stripped, sp.stripped_len, &cms, &d) != MSI_OK)
		cms = NULL;
	pfree(stripped);
	ERR_clear_error();
	if (cms != NULL)
		*certs = sk;
	return ms_scope_cms(scope, cms);
}

/*
 * The SignedData in sig, or NULL (*why says why).  With certs, also the
 * certificates it carries (owned by scope).
 */
static CMS_ContentInfo *
parse_cms(MsScope *scope, const unsigned char *sig, size_t siglen, char **why,
		  STACK_OF(X509) **certs)
{
	msi_der_detail d;
	CMS_ContentInfo *cms = certs ? parse_cms_split(scope, sig, siglen, certs) : NULL;
	msi_rc		rc;

	if (cms != NULL)
		return cms;
	rc = msi_parse_cms_signed_data(sig, siglen, &cms, &d);

	switch (rc)
	{
		case MSI_OK:
			break;
		case MSI_E_EMPTY:
			*why = pstrdup("the signature is empty");
			break;
		case MSI_E_NOT_PEM:
			*why = pstrdup("not a CMS structure: the data is neither DER nor PEM");
			break;
		case MSI_E_PEM_COUNT:
			*why = psprintf("the PEM data holds %d objects where one is expected", d.pem_objects);
			break;
		case MSI_E_TRAILING:
			*why = psprintf("%zu bytes follow the CMS structure", d.trailing);
			break;
		case MSI_E_TOO_LARGE:
			*why = psprintf("the signature is %zu bytes; at most %zu are accepted", siglen, d.max_len);
			break;
		case MSI_E_TYPE:
			*why = psprintf("the CMS content type is %s, not signedData", d.type_oid);
			break;
		case MSI_E_PEM_DECODE:
		case MSI_E_DER_DECODE:
			*why = psprintf("not a CMS structure: %s", ms_ossl_error());
			break;
		default:
			*why = psprintf("not a CMS structure: %s", msi_rc_name(rc));
			break;
	}
	ERR_clear_error();
	if (cms != NULL && certs != NULL)
		*certs = ms_scope_x509_stack(scope, CMS_get1_certs(cms));
	return ms_scope_cms(scope, cms);
}

/*
 * Step 1: the signature parses as a CMS SignedData.  NULL (out filled in,
 * or an error with MS_CMS_ERROR_ON_MALFORMED) when it does not.
 */
static CMS_ContentInfo *
parse_request(MsScope *scope, const MsCmsRequest *req, MsCmsResult *out, STACK_OF(X509) **certs)
{
	char	   *why = NULL;
	CMS_ContentInfo *cms = parse_cms(scope, req->sig, req->siglen, &why, certs);

	if (cms != NULL)
		return cms;
	if (req->flags & MS_CMS_NOT_CMS_ONLY_SAYS_SO)
	{
		out->not_cms = true;
		return NULL;
	}
	if (req->flags & MS_CMS_ERROR_ON_MALFORMED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("malformed signature"),
				 errdetail("The signature is not a CMS/PKCS#7 SignedData: %s.", why),
				 errhint("Pass the DER (or PEM) of a CMS ContentInfo of type signedData.")));
	set_invalid(out, MS_STATUS_INVALID_SIGNATURE, psprintf("not a CMS SignedData: %s", why));
	return NULL;
}

/*
 * Step 2: the SignedData is of a shape we accept: content available, one
 * signer, plain data signed, an allowed digest.  Returns the one
 * SignerInfo, or NULL (out filled in).
 */
static CMS_SignerInfo *
check_structure(CMS_ContentInfo *cms, const MsCmsRequest *req, bool detached,
				MsCmsResult *out)
{
	STACK_OF(CMS_SignerInfo) *sis;
	CMS_SignerInfo *si;
	X509_ALGOR *digalg = NULL;

	if (detached && req->content == NULL)
	{
		if (req->flags & MS_CMS_ERROR_ON_MALFORMED)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("content must be given for a detached signature"),
					 errdetail("The SignedData does not carry the signed content.")));
		set_invalid(out, MS_STATUS_INVALID_SIGNATURE, pstrdup("detached signature without content"));
		return NULL;
	}

	sis = CMS_get0_SignerInfos(cms);
	if (sis == NULL || sk_CMS_SignerInfo_num(sis) != 1)
	{
		set_invalid(out, MS_STATUS_INVALID_SIGNATURE,
					psprintf("the SignedData has %d signers; exactly one is supported",
							 sis ? sk_CMS_SignerInfo_num(sis) : 0));
		return NULL;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);

	/* what is signed must be plain data, not another structure */
	if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
	{
		set_invalid(out, MS_STATUS_INVALID_SIGNATURE,
					psprintf("the signed content type is %s, not data",
							 ms_obj_text(CMS_get0_eContentType(cms))));
		return NULL;
	}

	/* the digest algorithm is the signer's choice: hold it to policy */
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &digalg, NULL);
	if (digalg == NULL || !digest_allowed(OBJ_obj2nid(digalg->algorithm)))
	{
		set_invalid(out, MS_STATUS_INVALID_SIGNATURE,
					psprintf("digest algorithm %s is not allowed (SHA-256, SHA-384 or SHA-512 required)",
							 digalg ? OBJ_nid2sn(OBJ_obj2nid(digalg->algorithm)) : "?"));
		return NULL;
	}
	return si;
}

/* The first certificate of certs (may be NULL) that si names, or NULL. */
static X509 *
signer_among(CMS_SignerInfo *si, STACK_OF(X509) *certs)
{
	for (int i = 0; certs && i < sk_X509_num(certs); i++)
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0)
			return sk_X509_value(certs, i);
	return NULL;
}

/*
 * Step 3: the signer's certificate: the given one only, or one from the
 * signature (unless MS_CMS_SIGNER_IN_EXTRA_ONLY), extra_certs, or the
 * certificate cache.  NULL (out filled in) when none matches.
 */
static X509 *
find_signer(MsScope *scope, CMS_SignerInfo *si, STACK_OF(X509) *msgcerts,
			const MsCmsRequest *req, MsCmsResult *out)
{
	bool		extra_only = (req->flags & MS_CMS_SIGNER_IN_EXTRA_ONLY) != 0;
	X509	   *signer = NULL;

	if (req->signer_cert != NULL)
	{
		if (CMS_SignerInfo_cert_cmp(si, req->signer_cert) == 0)
			signer = req->signer_cert;
	}
	else
	{
		if (!extra_only)
			signer = signer_among(si, msgcerts);
		if (signer == NULL)
			signer = signer_among(si, req->extra_certs);
		if (signer == NULL && !extra_only)
			signer = cached_signer(scope, si);
	}
	if (signer == NULL)
		set_invalid(out, MS_STATUS_NO_CERT_FOUND,
					req->signer_cert ? pstrdup("the signature was not made with the given certificate")
					: pstrdup("no certificate matches the signer identifier"));
	return signer;
}

/* Step 4: who signed, and when the signer says it signed. */
static void
describe_signer(X509 *signer, CMS_SignerInfo *si, MsCmsResult *out)
{
	int			idx;

	out->signer_subject = ms_vcache_subject(signer);
	out->signer_der = ms_x509_to_bytea(signer);
	out->signer_fingerprint = ms_vcache_fingerprint_hex(signer);

	idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	if (idx >= 0)
	{
		X509_ATTRIBUTE *attr = CMS_signed_get_attr(si, idx);
		ASN1_TYPE  *t = attr ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;

		if (t && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME))
		{
			out->signing_time = ms_asn1_time_to_timestamptz((ASN1_TIME *) t->value.ptr);
			out->has_signing_time = out->signing_time != DT_NOBEGIN;
		}
	}
}

/*
 * The SignedData's content through the digest BIOs CMS_dataInit() set up
 * (detached: from req's content), ending with the one SignerInfo's
 * verification against it: its messageDigest attribute (or, without signed
 * attributes, its signature) over the digest.  CMS_verify() does the same
 * after its own signer lookup and chain handling, which the caller does.
 */
static bool
verify_content_digest(CMS_ContentInfo *cms, CMS_SignerInfo *si, BIO *dcont)
{
	BIO		   *cmsbio = CMS_dataInit(cms, dcont);
	char		buf[4096];
	bool		ok = cmsbio != NULL;

	while (ok)
	{
		int			n = BIO_read(cmsbio, buf, sizeof(buf));

		if (n <= 0)
		{
			ok = n == 0;		/* as CMS_verify(): < 0 is an error */
			break;
		}
	}
	if (ok && CMS_SignerInfo_verify_content(si, cmsbio) <= 0)
	{
		ERR_raise(ERR_LIB_CMS, CMS_R_CONTENT_VERIFY_ERROR);
		ok = false;
	}
	/* pop the digest BIOs off dcont, which the caller owns */
	while (cmsbio != NULL && cmsbio != dcont)
	{
		BIO		   *next = BIO_pop(cmsbio);

		BIO_free(cmsbio);
		cmsbio = next;
	}
	return ok;
}

/*
 * Step 5: the signature itself, with the signer's key only (no chain
 * building here: the path is validated in step 6), over the right content.
 * The SignerInfo is verified as CMS_verify() does with
 * CMS_NO_SIGNER_CERT_VERIFY: its signed attributes (their checks and the
 * signature over them: with a prepared context where signer_verify.c
 * handles the form, else, and for the error of one that fails,
 * CMS_SignerInfo_verify()), then the content's digest.  false (out filled in)
 * when it does not verify.
 */
static bool
verify_signature(MsScope *scope, CMS_ContentInfo *cms, CMS_SignerInfo *si, X509 *signer,
				 bool detached, const MsCmsRequest *req, MsCmsResult *out)
{
	BIO		   *dcont = NULL;

	if (detached)
		dcont = ms_scope_bio(scope, BIO_new_mem_buf(req->content, (int) req->contentlen));
	ERR_clear_error();
	CMS_SignerInfo_set1_signer_cert(si, signer);
	if ((CMS_signed_get_attr_count(si) >= 0 &&
		 !ms_signer_attrs_verified(scope, si, X509_get0_pubkey(signer)) &&
		 CMS_SignerInfo_verify(si) <= 0) ||
		!verify_content_digest(cms, si, dcont))
	{
		set_invalid(out, MS_STATUS_INVALID_SIGNATURE,
					psprintf("the signature does not verify: %s", ms_ossl_error()));
		return false;
	}
	if (!detached && req->content != NULL)
	{
		ASN1_OCTET_STRING **pos = CMS_get0_content(cms);

		if (pos == NULL || *pos == NULL ||
			(size_t) ASN1_STRING_length(*pos) != req->contentlen ||
			memcmp(ASN1_STRING_get0_data(*pos), req->content, req->contentlen) != 0)
		{
			set_invalid(out, MS_STATUS_INVALID_SIGNATURE,
						pstrdup("the signed content differs from the given content"));
			return false;
		}
	}
	return true;
}

/* Push every certificate of from (may be NULL) but skip onto to. */
static void
push_untrusted(STACK_OF(X509) *to, STACK_OF(X509) *from, X509 *skip)
{
	for (int i = 0; from && i < sk_X509_num(from); i++)
	{
		X509	   *x = sk_X509_value(from, i);

		if (x != skip && (!X509_up_ref(x) || !sk_X509_push(to, x)))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
}

/*
 * Step 6: the signer's path, with the certificates from the message and
 * extra_certs only as intermediates.
 */
static void
validate_signer_path(MsScope *scope, X509 *signer, STACK_OF(X509) *msgcerts,
					 const MsCmsRequest *req, MsCmsResult *out)
{
	STACK_OF(X509) *untrusted = ms_scope_x509_stack(scope, sk_X509_new_null());

	if (untrusted == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	push_untrusted(untrusted, msgcerts, signer);
	push_untrusted(untrusted, req->extra_certs, signer);
	ms_validate_certificate(signer, untrusted, req->pki_name, req->at, req->usage, &out->v);
	if (out->v.valid)
		out->v.reason = pstrdup("signature and certificate path are valid");
	else
		out->v.reason = psprintf("signer certificate: %s", out->v.reason);
}

void
ms_cms_verify(const MsCmsRequest *req, MsCmsResult *out)
{
	MsScope    *scope = ms_scope_create();
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si = NULL;
	X509	   *signer = NULL;
	STACK_OF(X509) *msgcerts = NULL;
	bool		detached = false;

	memset(out, 0, sizeof(*out));
	out->v.chain = NIL;
	out->v.policies = NIL;

	cms = parse_request(scope, req, out, &msgcerts);
	if (cms != NULL)
	{
		detached = CMS_is_detached(cms) == 1;
		si = check_structure(cms, req, detached, out);
	}
	if (si != NULL)
	{
		signer = find_signer(scope, si, msgcerts, req, out);
		if (signer != NULL)
		{
			describe_signer(signer, si, out);
			if (verify_signature(scope, cms, si, signer, detached, req, out))
				validate_signer_path(scope, signer, msgcerts, req, out);
		}
	}
	ERR_clear_error();
	ms_scope_release(scope);
}

/* The signer of a raw signature is the given certificate. */
static void
describe_raw_signer(X509 *cert, MsCmsResult *out)
{
	memset(out, 0, sizeof(*out));
	out->signer_subject = ms_vcache_subject(cert);
	out->signer_der = ms_x509_to_bytea(cert);
	out->signer_fingerprint = ms_vcache_fingerprint_hex(cert);
}

/* A raw signature that verified (what): now the certificate's path. */
static void
validate_raw_signer(X509 *cert, const char *what, const char *pki_name, TimestampTz at,
					MsKeyUsage usage, MsCmsResult *out)
{
	ms_validate_certificate(cert, NULL, pki_name, at, usage, &out->v);
	if (out->v.valid)
		out->v.reason = psprintf("raw %s signature and certificate path are valid", what);
	else
		out->v.reason = psprintf("signer certificate: %s", out->v.reason);
}

/*
 * The PKCS#1 result format: a raw RSA (PKCS#1 v1.5 or PSS) or ECDSA
 * signature made with the given certificate's key.  The hash is not carried
 * by the signature, so each allowed hash is tried; the certificate's path is
 * then validated as for a CMS signer.
 */
void
ms_raw_signature_verify(const unsigned char *sig, size_t siglen,
						const unsigned char *content, size_t contentlen,
						X509 *cert, const char *pki_name, TimestampTz at,
						MsKeyUsage usage, MsCmsResult *out)
{
	static const char *const rsa_algs[] = {
		"rsa-pkcs1-sha256", "rsa-pkcs1-sha384", "rsa-pkcs1-sha512",
		"rsa-pss-sha256", "rsa-pss-sha384", "rsa-pss-sha512"
	};
	static const char *const ec_algs[] = {"ecdsa-sha256", "ecdsa-sha384", "ecdsa-sha512"};
	EVP_PKEY   *pkey = X509_get0_pubkey(cert);
	const char *const *algs;
	int			nalgs;
	const char *matched = NULL;

	describe_raw_signer(cert, out);
	if (pkey != NULL && EVP_PKEY_is_a(pkey, "EC"))
	{
		algs = ec_algs;
		nalgs = lengthof(ec_algs);
	}
	else if (pkey != NULL && EVP_PKEY_is_a(pkey, "RSA"))
	{
		algs = rsa_algs;
		nalgs = lengthof(rsa_algs);
	}
	else
	{
		set_invalid(out, MS_STATUS_INVALID_SIGNATURE,
					pstrdup("the certificate's key is neither RSA nor EC"));
		return;
	}
	for (int i = 0; i < nalgs && matched == NULL; i++)
		if (ms_raw_verify(pkey, algs[i], content, contentlen, sig, siglen))
			matched = algs[i];
	if (matched == NULL)
	{
		set_invalid(out, MS_STATUS_INVALID_SIGNATURE,
					pstrdup("the raw signature does not verify with the certificate's key"));
		return;
	}
	validate_raw_signer(cert, matched, pki_name, at, usage, out);
}

void
ms_raw_digest_verify(const unsigned char *sig, size_t siglen,
					 const unsigned char *digest, size_t digestlen,
					 X509 *cert, const char *pki_name, MsKeyUsage usage,
					 MsCmsResult *out)
{
	EVP_PKEY   *pkey = X509_get0_pubkey(cert);

	describe_raw_signer(cert, out);
	if (pkey == NULL || !ms_raw_verify_digest(pkey, digest, digestlen, sig, siglen))
	{
		set_invalid(out, MS_STATUS_INVALID_SIGNATURE,
					psprintf("the raw signature of the %zu-octet digest does not verify with the certificate's key",
							 digestlen));
		return;
	}
	validate_raw_signer(cert, EVP_PKEY_is_a(pkey, "EC") ? "ECDSA digest" : "RSA PKCS#1 v1.5 digest",
						pki_name, 0, usage, out);
}

/*
 * One verification from the SQL arguments (signature bytea, content bytea,
 * certificate bytea, pki text, at timestamptz).
 */
static void
verify_args(FunctionCallInfo fcinfo, MsCmsResult *r)
{
	MsScope    *scope;
	X509	   *cert = NULL;
	bytea	   *sig;
	bytea	   *content = NULL;

	ms_require_arg(fcinfo, 0, "signature");
	sig = PG_GETARG_BYTEA_PP(0);
	if (!PG_ARGISNULL(1))
		content = PG_GETARG_BYTEA_PP(1);

	scope = ms_scope_create();
	if (!PG_ARGISNULL(2))
		cert = ms_vcache_certificate(scope, "certificate", PG_GETARG_BYTEA_PP(2));
	{
		MsCmsRequest req = {
			.sig = (unsigned char *) VARDATA_ANY(sig),
			.siglen = VARSIZE_ANY_EXHDR(sig),
			.content = content ? (unsigned char *) VARDATA_ANY(content) : NULL,
			.contentlen = content ? VARSIZE_ANY_EXHDR(content) : 0,
			.signer_cert = cert,
			.pki_name = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
			.at = PG_ARGISNULL(4) ? 0 : ms_check_time(PG_GETARG_TIMESTAMPTZ(4)),
			.usage = MS_USAGE_ANY_SIGNATURE,
			/* with a certificate, what is not CMS may be a raw signature */
			.flags = MS_CMS_ERROR_ON_MALFORMED | (cert != NULL ? MS_CMS_NOT_CMS_ONLY_SAYS_SO : 0),
		};

		ms_cms_verify(&req, r);
		if (r->not_cms)
		{
			/* not CMS, but a certificate is given: the PKCS#1 result format */
			if (content == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("content must be given to verify a raw signature")));
			ms_raw_signature_verify(req.sig, req.siglen, req.content, req.contentlen, cert,
									req.pki_name, req.at, MS_USAGE_ANY_SIGNATURE, r);
		}
	}
	ms_scope_release(scope);
	if (r->v.evidence == NULL)
		r->v.evidence = ms_jb_empty_object();
}

/* signer_subject, signer_certificate, signing_time at values[*col] on */
static void
signer_columns(MsCmsResult *r, Datum *values, bool *nulls, int *col)
{
	if (r->signer_subject)
	{
		values[(*col)++] = CStringGetTextDatum(r->signer_subject);
		values[(*col)++] = PointerGetDatum(r->signer_der);
	}
	else
	{
		nulls[(*col)++] = true;
		nulls[(*col)++] = true;
	}
	if (r->has_signing_time)
		values[(*col)++] = TimestampTzGetDatum(r->signing_time);
	else
		nulls[(*col)++] = true;
}

PG_FUNCTION_INFO_V1(mobisign_verify_cms_internal);

/*
 * mobisign._verify(signature bytea, content bytea, certificate bytea,
 *		pki text, at timestamptz)
 *	 -> (valid, status_code, status_name, reason, pki, chain, signer_subject,
 *		 signer_certificate, signing_time, evidence)
 */
Datum
mobisign_verify_cms_internal(PG_FUNCTION_ARGS)
{
	Datum		values[10];
	bool		nulls[10] = {0};
	MsCmsResult r;
	int			col = 0;

	verify_args(fcinfo, &r);
	ms_validation_columns(&r.v, values, nulls, &col);
	signer_columns(&r, values, nulls, &col);
	values[col++] = JsonbPGetDatum(r.v.evidence);
	PG_RETURN_DATUM(ms_result_datum(fcinfo, values, nulls));
}

/*
 * The signer-cache row that mobisign_verify() last wrote or confirmed in
 * this backend: (fingerprint, PKI, status) within one transaction, whose
 * now() -- the row's last_validated_at -- does not change.  A second
 * verification of the same signer in the same transaction would write the
 * same values, so it writes nothing.  This is safe against other sessions:
 * the first write locked the row until this transaction ends (an INSERT
 * ... ON CONFLICT locks the existing row even when its WHERE skips the
 * update), so none can delete or change it meanwhile.  What this session
 * does to the table itself (an UPDATE, DELETE or TRUNCATE: the statement
 * trigger mobisign._certificate_changed) and an aborted subtransaction,
 * which may have undone the write, make the memo forgotten.
 */
typedef struct SignerRowMemo
{
	LocalTransactionId lxid;	/* InvalidLocalTransactionId: empty */
	int32		status;
	char		fingerprint[65];	/* SHA-256 hex */
	char		pki[NAMEDATALEN * 2];
} SignerRowMemo;

static SignerRowMemo signer_memo;

static void
signer_memo_subxact(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		signer_memo.lxid = InvalidLocalTransactionId;
}

PG_FUNCTION_INFO_V1(mobisign_certificate_changed);

/* mobisign._certificate_changed(): the statement trigger on mobisign.certificate */
Datum
mobisign_certificate_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mobisign._certificate_changed() must be called as a trigger")));
	signer_memo.lxid = InvalidLocalTransactionId;
	return PointerGetDatum(NULL);
}

/* true if the memo says this row is written; else fills *key for later */
static bool
signer_memo_hit(const MsCmsResult *r, SignerRowMemo *key)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterSubXactCallback(signer_memo_subxact, NULL);
		registered = true;
	}
	memset(key, 0, sizeof(*key));
	if (r->signer_fingerprint == NULL || strlen(r->signer_fingerprint) >= sizeof(key->fingerprint) ||
		(r->v.pki_name != NULL && strlen(r->v.pki_name) >= sizeof(key->pki)))
		return false;			/* not memoised: always written */
	key->lxid = MyProc->lxid;
	key->status = r->v.status_code;
	strcpy(key->fingerprint, r->signer_fingerprint);
	if (r->v.pki_name != NULL)
		strcpy(key->pki, r->v.pki_name);
	return memcmp(key, &signer_memo, sizeof(*key)) == 0;
}

/*
 * Cache a signer that verified (source 'device': later signatures that
 * name it only by issuer and serial or key identifier find it), with the
 * PKI and status of this verification.
 */
static void
cache_signer(const MsCmsResult *r, Datum pki, bool pki_null, Datum status)
{
	static SPIPlanPtr cache_plan = NULL;
	SignerRowMemo key;

	/* the signer's _cert_info columns, then pki and status */
	Oid			types[MS_CERT_INFO_COLUMNS + 2] = {BYTEAOID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, BOOLOID, BOOLOID, TEXTOID, INT4OID};
	Datum		args[MS_CERT_INFO_COLUMNS + 2];
	bool		argisnull[MS_CERT_INFO_COLUMNS];
	char		argnulls[MS_CERT_INFO_COLUMNS + 2];
	MsScope    *scope;

	if (signer_memo_hit(r, &key))
		return;
	scope = ms_scope_create();
	ms_cert_info_values(ms_vcache_certificate(scope, "signer certificate", r->signer_der),
						args, argisnull);
	ms_scope_release(scope);
	for (int i = 0; i < MS_CERT_INFO_COLUMNS; i++)
		argnulls[i] = argisnull[i] ? 'n' : ' ';
	args[MS_CERT_INFO_COLUMNS] = pki;
	argnulls[MS_CERT_INFO_COLUMNS] = pki_null ? 'n' : ' ';
	args[MS_CERT_INFO_COLUMNS + 1] = status;
	argnulls[MS_CERT_INFO_COLUMNS + 1] = ' ';
	ms_spi_run_once(&cache_plan,
					"INSERT INTO mobisign.certificate (fingerprint, der, subject, issuer, serial,"
					"   subject_key_id, not_before, not_after, pki_id, source, last_validated_at, last_status)"
					" VALUES ($2, $1, $3, $4, $5, $6, $7, $8,"
					"   (SELECT p.id FROM mobisign.pki p WHERE p.name = $11), 'device', pg_catalog.now(), $12)"
					" ON CONFLICT (fingerprint) DO UPDATE"
					"   SET last_validated_at = excluded.last_validated_at, last_status = excluded.last_status"
	/* an update to the same values (the memo was forgotten) is skipped */
					" WHERE (mobisign.certificate.last_validated_at, mobisign.certificate.last_status)"
					"   IS DISTINCT FROM (excluded.last_validated_at, excluded.last_status)",
					MS_CERT_INFO_COLUMNS + 2, types, args, argnulls);
	if (key.lxid != InvalidLocalTransactionId)
		signer_memo = key;
}

PG_FUNCTION_INFO_V1(mobisign_verify);

/*
 * mobisign_verify(signature, content, certificate, pki, at)
 *	 -> (valid, status_code, status_name, reason, signer_subject,
 *		 signer_certificate, signing_time, pki, chain, evidence)
 *
 * The same verification; a signer that verified is cached (source
 * 'device': later signatures that name it only by issuer and serial or key
 * identifier find it), and the audit row is written, in the same statement.
 */
Datum
mobisign_verify(PG_FUNCTION_ARGS)
{
	Datum		values[10];
	bool		nulls[10] = {0};
	Datum		v[6];			/* valid, status_code, status_name, reason, pki, chain */
	bool		vn[6] = {0};
	MsCmsResult r;
	int			col = 0;

	verify_args(fcinfo, &r);
	ms_validation_columns(&r.v, v, vn, &col);
	col = 0;
	for (int i = 0; i < 4; i++)
	{
		values[col] = v[i];
		nulls[col++] = vn[i];
	}
	signer_columns(&r, values, nulls, &col);
	values[col] = v[4];
	nulls[col++] = vn[4];
	values[col] = v[5];
	nulls[col++] = vn[5];
	values[col++] = JsonbPGetDatum(r.v.evidence);

	if (r.v.valid && r.signer_der != NULL)
		cache_signer(&r, v[4], vn[4], v[1]);
	{
		MsJsonb		detail = {0};
		bytea	   *content = PG_ARGISNULL(1) ? NULL : PG_GETARG_BYTEA_PP(1);
		unsigned char md[32];

		ms_sha256(content ? (unsigned char *) VARDATA_ANY(content) : (unsigned char *) "",
				  content ? VARSIZE_ANY_EXHDR(content) : 0, md);
		ms_jb_begin_object(&detail, NULL);
		ms_jb_string(&detail, "signer", r.signer_subject);
		ms_jb_string(&detail, "pki", r.v.pki_name);
		ms_jb_int(&detail, "status", r.v.status_code);
		ms_jb_string(&detail, "reason", r.v.reason ? r.v.reason : "");
		ms_jb_string(&detail, "content_sha256", ms_hex(md, 32));
		ms_jb_json_timestamptz(&detail, "at", PG_ARGISNULL(4) ? GetCurrentTransactionStartTimestamp()
							   : PG_GETARG_TIMESTAMPTZ(4));
		ms_jb_end(&detail);
		ms_audit_write("verify", ms_status_name(r.v.status_code), ms_jb_finish(&detail));
	}
	PG_RETURN_DATUM(ms_result_datum(fcinfo, values, nulls));
}
