/*
 * signer_oracle.c
 *	  sc_check() (signer_cms.h): one SignedData through
 *	  extension/signer_verify.c's fast path, through cms_verify.c's
 *	  composition of it, and through OpenSSL's CMS_SignerInfo_verify() and
 *	  CMS_verify().
 */
#include <stdlib.h>

#include <openssl/err.h>

#include "signer_cms.h"

/*
 * The seam: signer_verify.h is a PostgreSQL extension header (postgres.h,
 * ossl.h's MsScope); only its one function and the scope are named here,
 * so this file builds without the server's headers.  scope_stub.c gives a
 * malloc-backed MsScope to the unchanged signer_verify.c.
 */
typedef struct MsScope MsScope;
extern MsScope *ms_scope_create(void);
extern void ms_scope_release(MsScope *scope);
extern bool ms_signer_attrs_verified(MsScope *scope, CMS_SignerInfo *si, EVP_PKEY *key);

static CMS_ContentInfo *
parse_one(const unsigned char *der, size_t len, CMS_SignerInfo **si)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long) len);
	STACK_OF(CMS_SignerInfo) *sis = cms ? CMS_get0_SignerInfos(cms) : NULL;

	if (sis == NULL || sk_CMS_SignerInfo_num(sis) != 1)
	{
		CMS_ContentInfo_free(cms);
		return NULL;
	}
	*si = sk_CMS_SignerInfo_value(sis, 0);
	return cms;
}

/*
 * cms_verify.c's verify_content_digest(): the content through the digest
 * BIOs CMS_dataInit() sets up, then CMS_SignerInfo_verify_content().
 */
static bool
content_verified(CMS_ContentInfo *cms, CMS_SignerInfo *si)
{
	BIO		   *b = CMS_dataInit(cms, NULL);
	char		buf[4096];
	bool		ok = b != NULL;

	while (ok)
	{
		int			n = BIO_read(b, buf, sizeof(buf));

		if (n <= 0)
		{
			ok = n == 0;
			break;
		}
	}
	ok = ok && CMS_SignerInfo_verify_content(si, b) > 0;
	BIO_free_all(b);
	return ok;
}

ScResult
sc_check(const unsigned char *der, size_t len, const ScKey *key)
{
	ScResult	r = {false, false, false, false, false, true};
	CMS_SignerInfo *si;
	CMS_ContentInfo *cms = parse_one(der, len, &si);
	STACK_OF(X509) *certs;
	bool		has_attrs;
	bool		verifier;

	if (cms == NULL)
	{
		ERR_clear_error();
		return r;
	}
	r.parsed = true;

	/* as cms_verify.c: the signer's certificate set, its key given */
	CMS_SignerInfo_set1_signer_cert(si, key->cert);
	has_attrs = CMS_signed_get_attr_count(si) >= 0;
	{
		MsScope    *scope = ms_scope_create();

		r.fast = ms_signer_attrs_verified(scope, si, X509_get0_pubkey(key->cert));
		ms_scope_release(scope);
	}
	/* the same SignerInfo afterwards through OpenSSL (the fast path leaves it as it was) */
	r.reference = CMS_SignerInfo_verify(si) > 0;
	ERR_clear_error();
	/* cms_verify.c's verify_signature(): attributes (fast, else OpenSSL), then the content */
	verifier = (!has_attrs || r.fast || r.reference) && content_verified(cms, si);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();

	/*
	 * A fresh parse through OpenSSL's whole SignedData check, with the
	 * signer's certificate set beforehand (CMS_verify() then looks for no
	 * other: the verifier chooses its signer itself, not by the sid).
	 */
	cms = parse_one(der, len, &si);
	certs = sk_X509_new_null();
	if (cms == NULL || certs == NULL || !sk_X509_push(certs, key->cert))
		abort();
	CMS_SignerInfo_set1_signer_cert(si, key->cert);
	r.full = CMS_verify(cms, certs, NULL, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) > 0;
	sk_X509_free(certs);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();

	r.verifier = verifier;
	r.agree = (!r.fast || r.reference) && verifier == r.full;
	return r;
}
