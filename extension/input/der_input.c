/*-------------------------------------------------------------------------
 *
 * der_input.c
 *	  DER or PEM certificates, CRLs, CMS and public keys (see der_input.h).
 *
 *-------------------------------------------------------------------------
 */
#include "der_input.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

bool
msi_looks_like_pem(const unsigned char *data, size_t len)
{
	size_t		i = 0;

	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	/* DER always starts with a SEQUENCE tag; anything textual is PEM-ish */
	return i < len && data[i] != 0x30;
}

/* count "-----BEGIN " markers */
static int
pem_object_count(const unsigned char *data, size_t len)
{
	static const char marker[] = "-----BEGIN ";
	size_t		mlen = sizeof(marker) - 1;
	int			n = 0;

	for (size_t i = 0; i + mlen <= len; i++)
	{
		if (data[i] == '-' && memcmp(data + i, marker, mlen) == 0)
		{
			n++;
			i += mlen - 1;
		}
	}
	return n;
}

/*
 * The checks before decoding.  Returns MSI_OK with *pem set, or the error.
 */
static msi_rc
frame(const unsigned char *data, size_t len, size_t max_len, bool *pem, msi_der_detail *d)
{
	memset(d, 0, sizeof(*d));
	ERR_clear_error();
	if (data == NULL || len == 0)
		return MSI_E_EMPTY;
	if (len > max_len)
	{
		d->max_len = max_len;
		return MSI_E_TOO_LARGE;
	}
	*pem = msi_looks_like_pem(data, len);
	if (*pem)
	{
		d->pem_objects = pem_object_count(data, len);
		if (d->pem_objects == 0)
			return MSI_E_NOT_PEM;
		if (d->pem_objects > 1)
			return MSI_E_PEM_COUNT;
	}
	return MSI_OK;
}

/*
 * One kind of object: the most bytes it may have, how to read it from PEM
 * and from DER, and how to free it.
 */
typedef struct obj_kind
{
	size_t		max_len;
	void	   *(*pem) (BIO *bio);
	void	   *(*der) (const unsigned char **p, long len);
	void		(*free) (void *obj);
} obj_kind;

/*
 * OBJ_KIND(name, max_len, pem_read, d2i, free_fn): the obj_kind "name" built
 * from OpenSSL's PEM_read_bio_*, d2i_* and *_free of one type (typed
 * wrappers, no function-pointer casts).
 */
#define OBJ_KIND(name, max_len, pem_read, d2i, free_fn) \
	static void *name##_pem(BIO *bio) { return pem_read(bio, NULL, NULL, NULL); } \
	static void *name##_der(const unsigned char **p, long len) { return d2i(NULL, p, len); } \
	static void name##_free(void *obj) { free_fn(obj); } \
	static const obj_kind name = {max_len, name##_pem, name##_der, name##_free}

OBJ_KIND(kind_x509, MSI_MAX_CERT_LEN, PEM_read_bio_X509, d2i_X509, X509_free);
OBJ_KIND(kind_crl, MSI_MAX_CRL_LEN, PEM_read_bio_X509_CRL, d2i_X509_CRL, X509_CRL_free);
OBJ_KIND(kind_cms, MSI_MAX_CMS_LEN, PEM_read_bio_CMS, d2i_CMS_ContentInfo, CMS_ContentInfo_free);
OBJ_KIND(kind_pubkey, MSI_MAX_CERT_LEN, PEM_read_bio_PUBKEY, d2i_PUBKEY, EVP_PKEY_free);

/* decode one object of a framed input */
static msi_rc
decode(const unsigned char *data, size_t len, bool pem, const obj_kind *kind,
	   void **out, msi_der_detail *d)
{
	*out = NULL;
	if (pem)
	{
		BIO		   *bio = BIO_new_mem_buf(data, (int) len);

		if (bio == NULL)
			return MSI_E_NOMEM;
		*out = kind->pem(bio);
		BIO_free(bio);
		return *out ? MSI_OK : MSI_E_PEM_DECODE;
	}
	else
	{
		const unsigned char *p = data;

		*out = kind->der(&p, (long) len);
		if (*out == NULL)
			return MSI_E_DER_DECODE;
		if (p != data + len)
		{
			d->trailing = (size_t) (data + len - p);
			kind->free(*out);
			*out = NULL;
			return MSI_E_TRAILING;
		}
		return MSI_OK;
	}
}

/* frame and decode one object of a kind: *out is the object, or NULL */
static msi_rc
parse(const unsigned char *data, size_t len, const obj_kind *kind, void **out,
	  msi_der_detail *d)
{
	bool		pem = false;
	msi_rc		rc = frame(data, len, kind->max_len, &pem, d);

	*out = NULL;
	return rc == MSI_OK ? decode(data, len, pem, kind, out, d) : rc;
}

msi_rc
msi_parse_certificate(const unsigned char *data, size_t len, X509 **out, msi_der_detail *d)
{
	void	   *obj;
	msi_rc		rc = parse(data, len, &kind_x509, &obj, d);

	*out = obj;
	return rc;
}

msi_rc
msi_parse_crl(const unsigned char *data, size_t len, X509_CRL **out, msi_der_detail *d)
{
	void	   *obj;
	msi_rc		rc = parse(data, len, &kind_crl, &obj, d);

	*out = obj;
	return rc;
}

msi_rc
msi_parse_cms_signed_data(const unsigned char *data, size_t len, CMS_ContentInfo **out,
						  msi_der_detail *d)
{
	void	   *obj;
	msi_rc		rc = parse(data, len, &kind_cms, &obj, d);

	if (rc == MSI_OK && OBJ_obj2nid(CMS_get0_type(obj)) != NID_pkcs7_signed)
	{
		if (OBJ_obj2txt(d->type_oid, sizeof(d->type_oid), CMS_get0_type(obj), 1) <= 0)
			strcpy(d->type_oid, "?");
		CMS_ContentInfo_free(obj);
		obj = NULL;
		rc = MSI_E_TYPE;
	}
	*out = obj;
	return rc;
}

/* the public key of a certificate, with its own reference */
static EVP_PKEY *
cert_key(X509 *x)
{
	EVP_PKEY   *pkey = x ? X509_get0_pubkey(x) : NULL;

	if (pkey != NULL && !EVP_PKEY_up_ref(pkey))
		pkey = NULL;
	X509_free(x);
	return pkey;
}

msi_rc
msi_parse_public_key(const unsigned char *data, size_t len, EVP_PKEY **out, msi_der_detail *d)
{
	bool		pem = false;
	msi_rc		rc = frame(data, len, MSI_MAX_CERT_LEN, &pem, d);
	void	   *obj = NULL;

	*out = NULL;
	if (rc != MSI_OK)
		return rc;
	if (pem)
	{
		static const char cert_marker[] = "-----BEGIN CERTIFICATE-----";
		bool		is_cert = false;

		for (size_t i = 0; !is_cert && i + sizeof(cert_marker) - 1 <= len; i++)
			is_cert = memcmp(data + i, cert_marker, sizeof(cert_marker) - 1) == 0;
		if (is_cert)
		{
			rc = decode(data, len, pem, &kind_x509, &obj, d);
			*out = cert_key(obj);
		}
		else
		{
			rc = decode(data, len, pem, &kind_pubkey, &obj, d);
			*out = obj;
		}
		return *out ? MSI_OK : MSI_E_PEM_DECODE;
	}
	/* DER: a whole certificate, else a SubjectPublicKeyInfo */
	if (decode(data, len, pem, &kind_x509, &obj, d) == MSI_OK)
	{
		*out = cert_key(obj);
		return *out ? MSI_OK : MSI_E_DER_DECODE;
	}
	ERR_clear_error();
	d->trailing = 0;
	rc = decode(data, len, pem, &kind_pubkey, &obj, d);
	*out = obj;
	return rc;
}

void
msi_distribution_point_uris(const STACK_OF(DIST_POINT) *dps, msi_uri_fn fn, void *arg)
{
	for (int i = 0; dps != NULL && i < sk_DIST_POINT_num(dps); i++)
	{
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		GENERAL_NAMES *names;

		if (dp == NULL || dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		names = dp->distpoint->name.fullname;
		for (int j = 0; j < sk_GENERAL_NAME_num(names); j++)
		{
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, j);
			const ASN1_IA5STRING *uri;

			if (gn == NULL || gn->type != GEN_URI)
				continue;
			uri = gn->d.uniformResourceIdentifier;
			if (uri == NULL || uri->length <= 0 || uri->length > MSI_MAX_URI_LEN ||
				memchr(uri->data, '\0', uri->length) != NULL)
				continue;
			fn((const char *) uri->data, (size_t) uri->length, arg);
		}
	}
}
