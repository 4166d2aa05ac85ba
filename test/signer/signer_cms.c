/*
 * signer_cms.c
 *	  SignedData made byte by byte for the differential test of
 *	  extension/signer_verify.c (see signer_cms.h); the oracle is in
 *	  signer_oracle.c.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>

#include "signer_cms.h"

const unsigned char sc_content[] = "REF 1234 sign this: pay 10.00 EUR to ACME";
const size_t sc_content_len = sizeof(sc_content) - 1;

void
sc_put(ScBuf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
sc_free(ScBuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
sc_tlv(ScBuf *out, int tag, const void *content, size_t n, ScLen form)
{
	unsigned char h[12];
	size_t		hl = 0;
	unsigned char lb[8];
	int			k = 0;

	h[hl++] = (unsigned char) tag;
	if (form == SC_LEN_INDEF)
	{
		h[hl++] = 0x80;
		sc_put(out, h, hl);
		sc_put(out, content, n);
		sc_put(out, "\0\0", 2);
		return;
	}
	for (size_t v = n; v > 0; v >>= 8)
		lb[k++] = (unsigned char) (v & 0xff);
	if (form == SC_LEN_DER && n < 0x80)
		h[hl++] = (unsigned char) n;
	else
	{
		int			extra = form == SC_LEN_LONG ? 1 : 0;

		h[hl++] = (unsigned char) (0x80 | (k + extra));
		if (extra)
			h[hl++] = 0;
		while (k > 0)
			h[hl++] = lb[--k];
	}
	sc_put(out, h, hl);
	sc_put(out, content, n);
}

void
sc_oid(ScBuf *out, const char *dotted)
{
	ASN1_OBJECT *o = OBJ_txt2obj(dotted, 1);
	unsigned char *der = NULL;
	int			n;

	if (o == NULL || (n = i2d_ASN1_OBJECT(o, &der)) <= 0)
		abort();
	sc_put(out, der, (size_t) n);
	OPENSSL_free(der);
	ASN1_OBJECT_free(o);
}

void
sc_algid(ScBuf *out, const char *dotted, const void *params, size_t plen)
{
	ScBuf		c = {0};

	sc_oid(&c, dotted);
	if (params != NULL)
		sc_put(&c, params, plen);
	sc_tlv(out, 0x30, c.p, c.len, SC_LEN_DER);
	sc_free(&c);
}

void
sc_attr(ScBuf *out, const char *oid, const void *values, size_t n, ScLen setform)
{
	ScBuf		c = {0};

	sc_oid(&c, oid);
	sc_tlv(&c, 0x31, values, n, setform);
	sc_tlv(out, 0x30, c.p, c.len, SC_LEN_DER);
	sc_free(&c);
}

void
sc_attr_content_type(ScBuf *out, const char *oid)
{
	ScBuf		v = {0};

	sc_oid(&v, oid);
	sc_attr(out, "1.2.840.113549.1.9.3", v.p, v.len, SC_LEN_DER);
	sc_free(&v);
}

void
sc_attr_message_digest(ScBuf *out, const unsigned char *md, size_t n)
{
	ScBuf		v = {0};

	sc_tlv(&v, 0x04, md, n, SC_LEN_DER);
	sc_attr(out, "1.2.840.113549.1.9.4", v.p, v.len, SC_LEN_DER);
	sc_free(&v);
}

void
sc_attr_signing_time(ScBuf *out, bool generalized)
{
	ScBuf		v = {0};

	if (generalized)
		sc_tlv(&v, 0x18, "20261201120000Z", 15, SC_LEN_DER);
	else
		sc_tlv(&v, 0x17, "261201120000Z", 13, SC_LEN_DER);
	sc_attr(out, "1.2.840.113549.1.9.5", v.p, v.len, SC_LEN_DER);
	sc_free(&v);
}

void
sc_content_digest(const EVP_MD *md, unsigned char *out, unsigned int *n)
{
	if (EVP_Digest(sc_content, sc_content_len, out, n, md, NULL) != 1)
		abort();
}

void
sc_key_make(ScKey *k, const char *name, ScKeyType type)
{
	EVP_PKEY   *pkey = NULL;
	X509	   *x = X509_new();
	X509_NAME  *nm = X509_NAME_new();
	static long serial = 1000;

	switch (type)
	{
		case SC_KEY_RSA:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
			break;
		case SC_KEY_RSA_PSS:
			{
				/* EVP_PKEY_Q_keygen() takes a size for "RSA" only */
				EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);

				if (c == NULL || EVP_PKEY_keygen_init(c) <= 0 ||
					EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048) <= 0 || EVP_PKEY_keygen(c, &pkey) <= 0)
					abort();
				EVP_PKEY_CTX_free(c);
				break;
			}
		case SC_KEY_EC_P256:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
			break;
		case SC_KEY_EC_P384:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
			break;
		case SC_KEY_ED25519:
			pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
			break;
	}
	if (pkey == NULL || x == NULL || nm == NULL ||
		!X509_set_version(x, X509_VERSION_3) ||
		!ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) ||
		!X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *) name, -1, -1, 0) ||
		!X509_set_subject_name(x, nm) || !X509_set_issuer_name(x, nm) ||
		!X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
		!X509_gmtime_adj(X509_getm_notAfter(x), 86400L) ||
		!X509_set_pubkey(x, pkey) ||
		!X509_sign(x, pkey, type == SC_KEY_ED25519 ? NULL : EVP_sha256()))
		abort();
	X509_NAME_free(nm);
	k->name = name;
	k->pkey = pkey;
	k->cert = x;
	k->rsa = type == SC_KEY_RSA || type == SC_KEY_RSA_PSS;
}

void
sc_key_free(ScKey *k)
{
	EVP_PKEY_free(k->pkey);
	X509_free(k->cert);
}

/* a SignerInfo's attributes as one of OpenSSL's SET templates encodes them */
static bool
attrs_encoded(const unsigned char *der, size_t len, const ASN1_ITEM *it, ScBuf *out)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long) len);
	STACK_OF(CMS_SignerInfo) *sis = cms ? CMS_get0_SignerInfos(cms) : NULL;
	CMS_SignerInfo *si;
	STACK_OF(X509_ATTRIBUTE) *attrs;
	unsigned char *enc = NULL;
	int			n = -1;

	if (sis == NULL || sk_CMS_SignerInfo_num(sis) != 1)
	{
		CMS_ContentInfo_free(cms);
		return false;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);
	attrs = sk_X509_ATTRIBUTE_new_null();
	for (int i = 0; attrs != NULL && i < CMS_signed_get_attr_count(si); i++)
		sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i));
	if (attrs != NULL && CMS_signed_get_attr_count(si) >= 0)
		n = ASN1_item_i2d((ASN1_VALUE *) attrs, &enc, it);
	sk_X509_ATTRIBUTE_free(attrs);
	CMS_ContentInfo_free(cms);
	if (n <= 0)
		return false;
	sc_put(out, enc, (size_t) n);
	OPENSSL_free(enc);
	return true;
}

static bool
sign_bytes(const ScSpec *spec, const ScKey *signer, const ScBuf *tbs, ScBuf *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t		n = 0;
	bool		ok;

	ok = ctx != NULL &&
		EVP_DigestSignInit_ex(ctx, &pctx, spec->sign_md ? EVP_MD_get0_name(spec->sign_md) : NULL,
							  NULL, NULL, signer->pkey, NULL) > 0 &&
		(!spec->pss ||
		 (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
		  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0)) &&
		EVP_DigestSign(ctx, NULL, &n, tbs->p, tbs->len) > 0;
	if (ok)
	{
		unsigned char *s = malloc(n ? n : 1);

		if (s == NULL)
			abort();
		ok = EVP_DigestSign(ctx, s, &n, tbs->p, tbs->len) > 0;
		if (ok)
			sc_put(sig, s, n);
		free(s);
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* the ContentInfo around spec with signature sig (appended to out) */
static void
assemble(ScBuf *out, const ScSpec *spec, const ScKey *named, const unsigned char *sig, size_t siglen)
{
	ScBuf		si = {0},
				sid = {0},
				sd = {0},
				eci = {0},
				t = {0},
				set = {0},
				ci = {0};
	unsigned char *der = NULL;
	int			n;

	/* issuerAndSerialNumber of named's certificate */
	n = i2d_X509_NAME(X509_get_issuer_name(named->cert), &der);
	sc_put(&t, der, (size_t) n);
	OPENSSL_free(der);
	der = NULL;
	n = i2d_ASN1_INTEGER(X509_get0_serialNumber(named->cert), &der);
	sc_put(&t, der, (size_t) n);
	OPENSSL_free(der);
	sc_tlv(&sid, 0x30, t.p, t.len, SC_LEN_DER);
	t.len = 0;

	sc_put(&si, "\x02\x01\x01", 3);
	sc_put(&si, sid.p, sid.len);
	sc_algid(&si, spec->digest_oid, spec->digest_params, spec->digest_plen);
	sc_tlv(&si, 0xa0, spec->attrs, spec->attrs_len, spec->attrs_form);
	sc_algid(&si, spec->sig_oid, spec->sig_params, spec->sig_plen);
	sc_tlv(&si, 0x04, sig, siglen, SC_LEN_DER);
	if (spec->unsigned_attrs != NULL)
		sc_tlv(&si, 0xa1, spec->unsigned_attrs, spec->unsigned_len, SC_LEN_DER);
	sc_tlv(&t, 0x30, si.p, si.len, SC_LEN_DER);

	sc_put(&sd, "\x02\x01\x01", 3);
	sc_algid(&set, spec->digest_oid, spec->digest_params, spec->digest_plen);
	sc_tlv(&sd, 0x31, set.p, set.len, SC_LEN_DER);
	set.len = 0;
	sc_oid(&eci, "1.2.840.113549.1.7.1");
	sc_tlv(&set, 0x04, sc_content, sc_content_len, SC_LEN_DER);
	sc_tlv(&eci, 0xa0, set.p, set.len, SC_LEN_DER);
	sc_tlv(&sd, 0x30, eci.p, eci.len, SC_LEN_DER);
	sc_tlv(&sd, 0x31, t.p, t.len, SC_LEN_DER);

	sc_oid(&ci, "1.2.840.113549.1.7.2");
	set.len = 0;
	sc_tlv(&set, 0x30, sd.p, sd.len, SC_LEN_DER);
	sc_tlv(&ci, 0xa0, set.p, set.len, SC_LEN_DER);
	sc_tlv(out, 0x30, ci.p, ci.len, SC_LEN_DER);
	sc_free(&si);
	sc_free(&sid);
	sc_free(&sd);
	sc_free(&eci);
	sc_free(&t);
	sc_free(&set);
	sc_free(&ci);
}

bool
sc_build(ScBuf *out, const ScSpec *spec, const ScKey *signer, ScSignWhat what,
		 const unsigned char *sig, size_t siglen, ScBuf *made)
{
	const ScKey *named = spec->named ? spec->named : signer;
	ScBuf		tbs = {0},
				s = {0},
				probe = {0};
	bool		ok = true;

	if (what == SC_SIGN_GIVEN)
	{
		assemble(out, spec, named, sig, siglen);
		return true;
	}
	if (what == SC_SIGN_AS_SENT)
	{
		/* the received [0] with a SET tag, its length as it came */
		sc_tlv(&tbs, 0x31, spec->attrs, spec->attrs_len, spec->attrs_form);
	}
	else
	{
		assemble(&probe, spec, named, (const unsigned char *) "", 0);
		ok = attrs_encoded(probe.p, probe.len,
						   what == SC_SIGN_SORTED ? ASN1_ITEM_rptr(PKCS7_ATTR_SIGN) : ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY),
						   &tbs);
	}
	ok = ok && sign_bytes(spec, signer, &tbs, &s);
	if (ok)
		assemble(out, spec, named, s.p, s.len);
	if (ok && made != NULL)
		sc_put(made, s.p, s.len);
	sc_free(&tbs);
	sc_free(&s);
	sc_free(&probe);
	return ok;
}
