/*-------------------------------------------------------------------------
 *
 * signer_verify.c
 *	  The signature of a CMS SignerInfo over its signed attributes, with a
 *	  verification context prepared once per key and digest (see
 *	  signer_verify.h for its invariants).
 *
 * CMS_SignerInfo_verify() fetches the digest and the signature algorithm
 * and sets up a new verification context at every call, which costs a
 * third of an RSA-2048 check; copying a prepared context costs a few
 * percent of one.  The check itself is the same EVP_DigestVerify over the
 * same bytes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "signer_verify.h"

typedef struct PreparedCtx
{
	EVP_PKEY   *key;			/* a reference held; NULL: slot free */
	bool		rsa;			/* an RSA key (not RSA-PSS); else EC */
	int			md_nid;
	EVP_MD_CTX *ctx;			/* EVP_DigestVerifyInit done, nothing fed */
} PreparedCtx;

static PreparedCtx slots[MS_SIGNER_CTX_SLOTS];

MS_SCOPE_FREE_FN(free_der, unsigned char, OPENSSL_free);
static int	next_slot = 0;

/*
 * Only the attribute sets OpenSSL's rules (ossl_cms_si_check_attributes:
 * contentType and messageDigest required once with one value, signingTime
 * at most once with one value, countersignature and the ESS attributes
 * with their own rules) accept in every case: the three above, each once
 * with one value, the first two present, no unsigned attributes.
 */
static bool
attributes_in_subset(CMS_SignerInfo *si)
{
	int			n = CMS_signed_get_attr_count(si);
	int			seen_ct = 0,
				seen_md = 0,
				seen_st = 0;

	if (n <= 0 || CMS_unsigned_get_attr_count(si) > 0)
		return false;
	for (int i = 0; i < n; i++)
	{
		X509_ATTRIBUTE *a = CMS_signed_get_attr(si, i);

		if (a == NULL || X509_ATTRIBUTE_count(a) != 1)
			return false;
		switch (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)))
		{
			case NID_pkcs9_contentType:
				seen_ct++;
				break;
			case NID_pkcs9_messageDigest:
				seen_md++;
				break;
			case NID_pkcs9_signingTime:
				seen_st++;
				break;
			default:
				return false;
		}
	}
	return seen_ct == 1 && seen_md == 1 && seen_st <= 1;
}

/* Is key of a type handled here: EC, or RSA but not RSA-PSS (rsa says which)? */
static bool
key_in_subset(EVP_PKEY *key, bool *rsa)
{
	*rsa = EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "RSA-PSS");
	return *rsa || EVP_PKEY_is_a(key, "EC");
}

/*
 * The signature algorithms whose CMS check OpenSSL makes with nothing but
 * the key's default parameters: for an EC key any (OpenSSL does not look at
 * it), for an RSA key rsaEncryption or a signature OID of rsaEncryption.
 */
static bool
algorithm_in_subset(CMS_SignerInfo *si, bool rsa)
{
	X509_ALGOR *sigalg = NULL;
	int			nid,
				pknid;

	if (!rsa)
		return true;
	CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &sigalg);
	if (sigalg == NULL)
		return false;
	nid = OBJ_obj2nid(sigalg->algorithm);
	return nid == NID_rsaEncryption ||
		(OBJ_find_sigid_algs(nid, NULL, &pknid) && pknid == NID_rsaEncryption);
}

/*
 * The prepared slot for key and digest, made on first use (the key's type
 * found out then); NULL when the key's type is not handled or on failure.
 */
static PreparedCtx *
prepared(EVP_PKEY *key, int md_nid)
{
	PreparedCtx *s;
	EVP_MD	   *md;
	EVP_MD_CTX *ctx;
	bool		rsa;

	for (int i = 0; i < MS_SIGNER_CTX_SLOTS; i++)
		if (slots[i].key == key && slots[i].md_nid == md_nid)
			return &slots[i];
	if (!key_in_subset(key, &rsa))
		return NULL;

	/* as CMS_SignerInfo_verify(): the digest by its short name */
	md = EVP_MD_fetch(NULL, OBJ_nid2sn(md_nid), NULL);
	ctx = md ? EVP_MD_CTX_new() : NULL;
	if (ctx == NULL ||
		EVP_DigestVerifyInit_ex(ctx, NULL, EVP_MD_get0_name(md), NULL, NULL, key, NULL) <= 0 ||
		!EVP_PKEY_up_ref(key))
	{
		EVP_MD_CTX_free(ctx);
		EVP_MD_free(md);
		return NULL;
	}
	EVP_MD_free(md);
	s = &slots[next_slot];
	next_slot = (next_slot + 1) % MS_SIGNER_CTX_SLOTS;
	if (s->key != NULL)
	{
		EVP_MD_CTX_free(s->ctx);
		EVP_PKEY_free(s->key);
	}
	s->key = key;
	s->rsa = rsa;
	s->md_nid = md_nid;
	s->ctx = ctx;
	return s;
}

bool
ms_signer_attrs_verified(MsScope *scope, CMS_SignerInfo *si, EVP_PKEY *key)
{
	X509_ALGOR *digalg = NULL;
	ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
	STACK_OF(X509_ATTRIBUTE) *attrs = NULL;
	unsigned char *abuf = NULL;
	int			alen = -1;
	PreparedCtx *p;
	EVP_MD_CTX *work = NULL;
	bool		ok = false;

	if (key == NULL || sig == NULL || !attributes_in_subset(si))
		return false;
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &digalg, NULL);
	if (digalg == NULL || (p = prepared(key, OBJ_obj2nid(digalg->algorithm))) == NULL)
	{
		ERR_clear_error();
		return false;
	}
	if (!algorithm_in_subset(si, p->rsa))
		return false;
	/* the received attributes in their order, as OpenSSL encodes them */
	attrs = sk_X509_ATTRIBUTE_new_null();
	for (int i = 0; attrs != NULL && i < CMS_signed_get_attr_count(si); i++)
		if (!sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)))
			break;
	if (attrs != NULL && sk_X509_ATTRIBUTE_num(attrs) == CMS_signed_get_attr_count(si))
		alen = ASN1_item_i2d((ASN1_VALUE *) attrs, &abuf, ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY));
	sk_X509_ATTRIBUTE_free(attrs);	/* the attributes are si's */
	if (alen > 0)
		ms_scope_add(scope, abuf, free_der);
	if (alen > 0 && (work = ms_scope_md_ctx(scope, EVP_MD_CTX_new())) != NULL &&
		EVP_MD_CTX_copy_ex(work, p->ctx))
	{
		/* work is used once: Final need not keep it reusable */
		EVP_MD_CTX_set_flags(work, EVP_MD_CTX_FLAG_FINALISE);
		ok = EVP_DigestVerifyUpdate(work, abuf, alen) > 0 &&
			EVP_DigestVerifyFinal(work, ASN1_STRING_get0_data(sig), ASN1_STRING_length(sig)) > 0;
	}
	ERR_clear_error();
	return ok;
}
