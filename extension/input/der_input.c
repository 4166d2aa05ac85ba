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

typedef void *(*pem_reader) (BIO *bio);
typedef void *(*der_reader) (const unsigned char **p, long len);
typedef void (*obj_free) (void *obj);

static void *
pem_x509(BIO *bio)
{
	return PEM_read_bio_X509(bio, NULL, NULL, NULL);
}
static void *
der_x509(const unsigned char **p, long len)
{
	return d2i_X509(NULL, p, len);
}
static void
free_x509(void *obj)
{
	X509_free(obj);
}
static void *
pem_crl(BIO *bio)
{
	return PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
}
static void *
der_crl(const unsigned char **p, long len)
{
	return d2i_X509_CRL(NULL, p, len);
}
static void
free_crl(void *obj)
{
	X509_CRL_free(obj);
}
static void *
pem_cms(BIO *bio)
{
	return PEM_read_bio_CMS(bio, NULL, NULL, NULL);
}
static void *
der_cms(const unsigned char **p, long len)
{
	return d2i_CMS_ContentInfo(NULL, p, len);
}
static void
free_cms(void *obj)
{
	CMS_ContentInfo_free(obj);
}
static void *
pem_pubkey(BIO *bio)
{
	return PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
}
static void *
der_pubkey(const unsigned char **p, long len)
{
	return d2i_PUBKEY(NULL, p, len);
}
static void
free_pubkey(void *obj)
{
	EVP_PKEY_free(obj);
}

/* decode one object of a framed input */
static msi_rc
decode(const unsigned char *data, size_t len, bool pem, pem_reader pr, der_reader dr,
	   obj_free fr, void **out, msi_der_detail *d)
{
	*out = NULL;
	if (pem)
	{
		BIO		   *bio = BIO_new_mem_buf(data, (int) len);

		if (bio == NULL)
			return MSI_E_NOMEM;
		*out = pr(bio);
		BIO_free(bio);
		return *out ? MSI_OK : MSI_E_PEM_DECODE;
	}
	else
	{
		const unsigned char *p = data;

		*out = dr(&p, (long) len);
		if (*out == NULL)
			return MSI_E_DER_DECODE;
		if (p != data + len)
		{
			d->trailing = (size_t) (data + len - p);
			fr(*out);
			*out = NULL;
			return MSI_E_TRAILING;
		}
		return MSI_OK;
	}
}

msi_rc
msi_parse_certificate(const unsigned char *data, size_t len, X509 **out, msi_der_detail *d)
{
	bool		pem = false;
	msi_rc		rc = frame(data, len, MSI_MAX_CERT_LEN, &pem, d);
	void	   *obj = NULL;

	if (rc == MSI_OK)
		rc = decode(data, len, pem, pem_x509, der_x509, free_x509, &obj, d);
	*out = obj;
	return rc;
}

msi_rc
msi_parse_crl(const unsigned char *data, size_t len, X509_CRL **out, msi_der_detail *d)
{
	bool		pem = false;
	msi_rc		rc = frame(data, len, MSI_MAX_CRL_LEN, &pem, d);
	void	   *obj = NULL;

	if (rc == MSI_OK)
		rc = decode(data, len, pem, pem_crl, der_crl, free_crl, &obj, d);
	*out = obj;
	return rc;
}

msi_rc
msi_parse_cms_signed_data(const unsigned char *data, size_t len, CMS_ContentInfo **out,
						  msi_der_detail *d)
{
	bool		pem = false;
	msi_rc		rc = frame(data, len, MSI_MAX_CMS_LEN, &pem, d);
	void	   *obj = NULL;

	if (rc == MSI_OK)
		rc = decode(data, len, pem, pem_cms, der_cms, free_cms, &obj, d);
	if (rc == MSI_OK && OBJ_obj2nid(CMS_get0_type(obj)) != NID_pkcs7_signed)
	{
		if (OBJ_obj2txt(d->type_oid, sizeof(d->type_oid), CMS_get0_type(obj), 1) <= 0)
			strcpy(d->type_oid, "?");
		free_cms(obj);
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
			rc = decode(data, len, pem, pem_x509, der_x509, free_x509, &obj, d);
			*out = cert_key(obj);
		}
		else
		{
			rc = decode(data, len, pem, pem_pubkey, der_pubkey, free_pubkey, &obj, d);
			*out = obj;
		}
		return *out ? MSI_OK : MSI_E_PEM_DECODE;
	}
	/* DER: a whole certificate, else a SubjectPublicKeyInfo */
	if (decode(data, len, pem, pem_x509, der_x509, free_x509, &obj, d) == MSI_OK)
	{
		*out = cert_key(obj);
		return *out ? MSI_OK : MSI_E_DER_DECODE;
	}
	ERR_clear_error();
	d->trailing = 0;
	rc = decode(data, len, pem, pem_pubkey, der_pubkey, free_pubkey, &obj, d);
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
