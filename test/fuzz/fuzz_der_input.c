/*
 * libFuzzer harness: certificates, CRLs, CMS SignedData and public keys
 * given to the SQL functions (extension/input/der_input.c), and what the
 * server then reads from an accepted object.
 * Input: byte 0 selects the kind (mod 4: certificate, CRL, CMS, public key),
 * the rest is the DER or PEM given.
 * Checks: an object is returned exactly when MSI_OK; PEM accepted only with
 * one marker; trailing bytes counted right; what the server stores (the
 * re-encoded DER) parses again to an equal object, so a stored row can
 * always be loaded; the distribution point URIs the server may fetch are
 * bounded and hold no NUL; a SignedData taken apart from its certificates
 * (cms_split.c) is the same SignedData without them.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cms_split.h"
#include "der_input.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_frame(msi_rc rc, const uint8_t *d, size_t len, const msi_der_detail *det)
{
	if (rc == MSI_E_EMPTY)
		FUZZ_CHECK(len == 0);
	if (rc == MSI_E_PEM_COUNT)
		FUZZ_CHECK(det->pem_objects > 1 && msi_looks_like_pem(d, len));
	if (rc == MSI_E_NOT_PEM)
		FUZZ_CHECK(det->pem_objects == 0 && msi_looks_like_pem(d, len));
	if (rc == MSI_E_TRAILING)
		FUZZ_CHECK(det->trailing > 0 && det->trailing < len);
	if (rc == MSI_OK && msi_looks_like_pem(d, len))
		FUZZ_CHECK(det->pem_objects == 1);
}

/* a URI the server may fetch */
static void
check_uri(const char *uri, size_t len, void *arg)
{
	(void) arg;
	FUZZ_CHECK(len >= 1 && len <= MSI_MAX_URI_LEN && memchr(uri, '\0', len) == NULL);
}

static void
check_dps(STACK_OF(DIST_POINT) *dps)
{
	msi_distribution_point_uris(dps, check_uri, NULL);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
}

/* what certinfo.c and directory_api.c read from a certificate */
static void
read_certificate(X509 *x)
{
	unsigned char *der = NULL;
	int			n = i2d_X509(x, &der);
	X509	   *again;
	BIO		   *bio = BIO_new(BIO_s_mem());
	BIGNUM	   *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	struct tm	tm;
	msi_der_detail det;

	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(msi_parse_certificate(der, n, &again, &det) == MSI_OK);
	FUZZ_CHECK(X509_cmp(x, again) == 0);
	X509_free(again);
	OPENSSL_free(der);
	if (bio)
	{
		X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
		X509_NAME_print_ex(bio, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
		BIO_free(bio);
	}
	if (bn)
	{
		char	   *hex = BN_bn2hex(bn);

		OPENSSL_free(hex);
		BN_free(bn);
	}
	(void) X509_get0_subject_key_id(x);
	(void) ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm);
	(void) ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
	(void) X509_check_ca(x);
	(void) X509_get_extension_flags(x);
	check_dps(X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL));
	check_dps(X509_get_ext_d2i(x, NID_freshest_crl, NULL, NULL));
	X509_email_free(X509_get1_ocsp(x));
}

/* what certinfo.c reads from a CRL */
static void
read_crl(X509_CRL *crl)
{
	unsigned char *der = NULL;
	int			n = i2d_X509_CRL(crl, &der);
	X509_CRL   *again;
	msi_der_detail det;
	int			crit;
	struct tm	tm;

	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(msi_parse_crl(der, n, &again, &det) == MSI_OK);
	FUZZ_CHECK(X509_CRL_cmp(crl, again) == 0);
	X509_CRL_free(again);
	OPENSSL_free(der);
	ASN1_INTEGER_free(X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL));
	ASN1_INTEGER_free(X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, NULL));
	(void) X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1);
	(void) ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(crl), &tm);
	if (X509_CRL_get0_nextUpdate(crl))
		(void) ASN1_TIME_to_tm(X509_CRL_get0_nextUpdate(crl), &tm);
	check_dps(X509_CRL_get_ext_d2i(crl, NID_freshest_crl, NULL, NULL));
}

/* what cms_verify.c does with a SignedData before path validation */
static void
read_cms(CMS_ContentInfo *cms)
{
	static const unsigned char content[] = "mobisign fuzz content";
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	STACK_OF(X509) *certs;
	CMS_SignerInfo *si;
	X509_ALGOR *digalg = NULL;
	ASN1_OCTET_STRING *keyid = NULL;
	X509_NAME  *issuer = NULL;
	ASN1_INTEGER *sno = NULL;
	X509	   *signer = NULL;
	int			detached = CMS_is_detached(cms) == 1;
	int			idx;

	FUZZ_CHECK(OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed);
	(void) OBJ_obj2nid(CMS_get0_eContentType(cms));
	if (sis == NULL || sk_CMS_SignerInfo_num(sis) != 1)
		return;
	si = sk_CMS_SignerInfo_value(sis, 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &digalg, NULL);
	(void) CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &sno);
	certs = CMS_get1_certs(cms);
	for (int i = 0; signer == NULL && certs && i < sk_X509_num(certs); i++)
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0)
			signer = sk_X509_value(certs, i);
	idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	if (idx >= 0)
	{
		X509_ATTRIBUTE *attr = CMS_signed_get_attr(si, idx);
		ASN1_TYPE  *t = attr ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
		struct tm	tm;

		if (t && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME))
			(void) ASN1_TIME_to_tm((ASN1_TIME *) t->value.ptr, &tm);
	}
	if (signer != NULL)
	{
		STACK_OF(X509) *signers = sk_X509_new_null();
		BIO		   *dcont = detached ? BIO_new_mem_buf(content, sizeof(content) - 1) : NULL;

		if (signers && X509_up_ref(signer))
		{
			if (!sk_X509_push(signers, signer))
				X509_free(signer);
			(void) CMS_verify(cms, signers, NULL, dcont, NULL,
							  CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY | CMS_NOCRL);
		}
		sk_X509_pop_free(signers, X509_free);
		BIO_free(dcont);
		if (!detached)
		{
			ASN1_OCTET_STRING **pos = CMS_get0_content(cms);

			if (pos && *pos)
				(void) ASN1_STRING_length(*pos);
		}
	}
	sk_X509_pop_free(certs, X509_free);
}

/*
 * The split of cms_split.c: spans inside the input, each a SEQUENCE; the
 * stripped structure no longer than the input; and when the input parses,
 * the stripped one parses too, to a SignedData with the same signer
 * count, content type and detached-ness and without certificates; and
 * each certificate span is one of the input's certificates.
 */
static void
check_split(const uint8_t *d, size_t len, CMS_ContentInfo *cms)
{
	unsigned char *out = malloc(len ? len : 1);
	msi_cms_split sp;
	msi_der_detail det;
	CMS_ContentInfo *again = NULL;

	if (out == NULL)
		return;
	if (msi_cms_split_certificates(d, len, out, &sp) != MSI_OK)
	{
		free(out);
		return;
	}
	FUZZ_CHECK(sp.stripped_len < len && sp.ncerts >= 0 && sp.ncerts <= MSI_CMS_SPLIT_MAX_CERTS);
	for (int i = 0; i < sp.ncerts; i++)
		FUZZ_CHECK(sp.certs[i].data >= d && sp.certs[i].len >= 2 &&
				   sp.certs[i].data + sp.certs[i].len <= d + len && sp.certs[i].data[0] == 0x30);
	if (cms != NULL && msi_parse_cms_signed_data(out, sp.stripped_len, &again, &det) == MSI_OK)
	{
		STACK_OF(X509) *certs = CMS_get1_certs(again);
		STACK_OF(X509) *orig = CMS_get1_certs(cms);

		FUZZ_CHECK(certs == NULL);
		FUZZ_CHECK(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(again)) ==
				   sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)));
		FUZZ_CHECK(CMS_is_detached(again) == CMS_is_detached(cms));
		FUZZ_CHECK(OBJ_cmp(CMS_get0_eContentType(again), CMS_get0_eContentType(cms)) == 0);
		FUZZ_CHECK(sk_X509_num(orig) == sp.ncerts);
		for (int i = 0; i < sp.ncerts; i++)
		{
			const unsigned char *p = sp.certs[i].data;
			X509	   *x = d2i_X509(NULL, &p, (long) sp.certs[i].len);

			FUZZ_CHECK(x != NULL && X509_cmp(x, sk_X509_value(orig, i)) == 0);
			X509_free(x);
		}
		sk_X509_pop_free(orig, X509_free);
		CMS_ContentInfo_free(again);
	}
	ERR_clear_error();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msi_der_detail det;
	const uint8_t *d = data + 1;
	size_t		len;
	msi_rc		rc;

	if (size < 1)
		return 0;
	len = size - 1;
	switch (data[0] % 4)
	{
		case 0:
			{
				X509	   *x = (X509 *) 1;

				rc = msi_parse_certificate(d, len, &x, &det);
				FUZZ_CHECK((rc == MSI_OK) == (x != NULL));
				check_frame(rc, d, len, &det);
				if (x)
					read_certificate(x);
				X509_free(x);
				break;
			}
		case 1:
			{
				X509_CRL   *crl = (X509_CRL *) 1;

				rc = msi_parse_crl(d, len, &crl, &det);
				FUZZ_CHECK((rc == MSI_OK) == (crl != NULL));
				check_frame(rc, d, len, &det);
				if (crl)
					read_crl(crl);
				X509_CRL_free(crl);
				break;
			}
		case 2:
			{
				CMS_ContentInfo *cms = (CMS_ContentInfo *) 1;

				rc = msi_parse_cms_signed_data(d, len, &cms, &det);
				FUZZ_CHECK((rc == MSI_OK) == (cms != NULL));
				check_frame(rc, d, len, &det);
				if (rc == MSI_E_TYPE)
					FUZZ_CHECK(det.type_oid[0] != '\0');
				if (cms)
					read_cms(cms);
				check_split(d, len, rc == MSI_OK && !msi_looks_like_pem(d, len) ? cms : NULL);
				CMS_ContentInfo_free(cms);
				break;
			}
		default:
			{
				EVP_PKEY   *pk = (EVP_PKEY *) 1;

				rc = msi_parse_public_key(d, len, &pk, &det);
				FUZZ_CHECK((rc == MSI_OK) == (pk != NULL));
				check_frame(rc, d, len, &det);
				if (pk)
					(void) EVP_PKEY_get_bits(pk);
				EVP_PKEY_free(pk);
				break;
			}
	}
	ERR_clear_error();
	return 0;
}
