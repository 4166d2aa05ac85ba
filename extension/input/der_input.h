/*-------------------------------------------------------------------------
 *
 * der_input.h
 *	  Certificates, CRLs, CMS SignedData and public keys from outside: the
 *	  arguments of the SQL functions (mobisign_add_pki, mobisign_add_crl,
 *	  mobisign_verify, mobisign_validate_certificate...), directory values
 *	  and fetched URLs.  Plain C over OpenSSL (see msi.h).
 *
 * The accepted forms, for every kind of object:
 *	- DER: exactly one object and not a byte after it (MSI_E_TRAILING);
 *	- PEM: holding exactly one "-----BEGIN " marker (MSI_E_NOT_PEM for
 *	  none, MSI_E_PEM_COUNT for more).
 * Input whose first byte after ASCII white space is not a SEQUENCE tag
 * (0x30) is taken for PEM (msi_looks_like_pem).  Inputs are bounded by
 * kind, whether they come from an application role, an administrator or a
 * fetch (MSI_E_TOO_LARGE, with the limit in d->max_len): certificates and
 * public keys MSI_MAX_CERT_LEN, CRLs MSI_MAX_CRL_LEN, CMS signatures
 * MSI_MAX_CMS_LEN (msi.h).  On success *out is a new object the caller frees;
 * on failure it is NULL and *d says why (marker count, trailing bytes,
 * content type) next to OpenSSL's error queue.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSI_DER_INPUT_H
#define MSI_DER_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/pem.h>		/* before cms.h: declares PEM_read_bio_CMS */
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "msi.h"


typedef struct msi_der_detail
{
	int			pem_objects;	/* "-----BEGIN " markers found (PEM input) */
	size_t		trailing;		/* bytes after the DER object */
	char		type_oid[128];	/* MSI_E_TYPE: the content type found */
	size_t		max_len;		/* MSI_E_TOO_LARGE: the limit for this kind */
} msi_der_detail;

/* Is this buffer PEM text rather than DER (see above)? */
extern bool msi_looks_like_pem(const unsigned char *data, size_t len);

extern msi_rc msi_parse_certificate(const unsigned char *data, size_t len,
									X509 **out, msi_der_detail *d);
extern msi_rc msi_parse_crl(const unsigned char *data, size_t len,
							X509_CRL **out, msi_der_detail *d);

/* A CMS ContentInfo of type signedData (MSI_E_TYPE for another type). */
extern msi_rc msi_parse_cms_signed_data(const unsigned char *data, size_t len,
										CMS_ContentInfo **out, msi_der_detail *d);

/* The public key of a certificate, or a SubjectPublicKeyInfo. */
extern msi_rc msi_parse_public_key(const unsigned char *data, size_t len,
								   EVP_PKEY **out, msi_der_detail *d);

/*
 * The URIs of distribution points (a certificate's CRL distribution points
 * or freshest CRL, a CRL's freshest CRL) that the server may fetch: the
 * fullName URIs of 1 to MSI_MAX_URI_LEN bytes holding no NUL.  fn is called
 * for each, in order (dps may be NULL).
 */
#define MSI_MAX_URI_LEN 2048
typedef void (*msi_uri_fn) (const char *uri, size_t len, void *arg);
extern void msi_distribution_point_uris(const STACK_OF(DIST_POINT) *dps,
										msi_uri_fn fn, void *arg);

#endif							/* MSI_DER_INPUT_H */
