/*-------------------------------------------------------------------------
 *
 * cms_verify.h
 *	  Verification of CMS/PKCS#7 SignedData with the OpenSSL 3 CMS API and
 *	  full path validation of the signer against a PKI (validate.h).
 *
 * Certificates inside the signature may serve as intermediates, never as
 * anchors; CRLs inside it are ignored (attacker input).  The SignerInfo's
 * digest algorithm must be SHA-256, SHA-384 or SHA-512.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_CMS_VERIFY_H
#define MOBISIGN_CMS_VERIFY_H

#include "postgres.h"

#include <openssl/x509.h>

#include "validate.h"

typedef struct MsCmsResult
{
	MsValidation v;				/* valid, status, reason, pki, chain, evidence */
	char	   *signer_subject; /* NULL if no signer certificate was found */
	bytea	   *signer_der;
	char	   *signer_fingerprint;	/* SHA-256 hex */
	bool		has_signing_time;
	TimestampTz signing_time;	/* the signer's claim, not a trusted time */
} MsCmsResult;

/*
 * Verify sig (DER CMS ContentInfo, or PEM) over content.
 *	content: required for a detached signature; for an attached one, if
 *		given, it must equal the encapsulated content.
 *	signer_cert: if given, the only certificate accepted as the signer (the
 *		registered certificate); otherwise the signer is looked up among the
 *		certificates in the signature and extra_certs.
 *	extra_certs: more untrusted certificates (may be NULL).
 *	signer_in_extra_only: the signer must be one of extra_certs (the
 *		expected signers); certificates in the signature then serve only
 *		as intermediates.  With no extra_certs nothing can be the signer.
 *	pki_name: NULL to find the PKI whose anchors validate the signer.
 *	at: 0 for now.
 *	error_on_malformed: ereport(ERROR) when sig is not a CMS SignedData at
 *		all; otherwise answer valid = false, 503.
 */
extern void ms_cms_verify(const unsigned char *sig, size_t siglen,
						  const unsigned char *content, size_t contentlen, bool has_content,
						  X509 *signer_cert, STACK_OF(X509) *extra_certs,
						  bool signer_in_extra_only, const char *pki_name, TimestampTz at, MsKeyUsage usage,
						  bool error_on_malformed, MsCmsResult *out);

/* Is this a CMS ContentInfo of type signedData (DER or PEM)? */
extern bool ms_is_cms_signed_data(const unsigned char *sig, size_t siglen);

/*
 * The PKCS#1 result format: a raw RSA or ECDSA signature over content made
 * with cert's key (hash SHA-256/384/512, found by trying), then the path.
 */
extern void ms_raw_signature_verify(const unsigned char *sig, size_t siglen,
									const unsigned char *content, size_t contentlen,
									X509 *cert, const char *pki_name, TimestampTz at,
									MsKeyUsage usage, MsCmsResult *out);

#endif							/* MOBISIGN_CMS_VERIFY_H */
