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
	bool		not_cms;		/* MS_CMS_NOT_CMS_ONLY_SAYS_SO: sig is no
								 * SignedData, nothing else is set */
} MsCmsResult;

/* MsCmsRequest.flags */
#define MS_CMS_SIGNER_IN_EXTRA_ONLY 0x01	/* the signer must be one of
											 * extra_certs (the expected
											 * signers); certificates in the
											 * signature then serve only as
											 * intermediates.  With no
											 * extra_certs nothing can be the
											 * signer. */
#define MS_CMS_ERROR_ON_MALFORMED	0x02	/* ereport(ERROR) when sig is not
											 * a CMS SignedData at all;
											 * otherwise answer valid = false,
											 * 503 */
#define MS_CMS_NOT_CMS_ONLY_SAYS_SO 0x04	/* when sig is not a CMS
											 * SignedData at all, only set
											 * not_cms in the result (before
											 * MS_CMS_ERROR_ON_MALFORMED):
											 * the caller tries another
											 * format, without parsing the
											 * signature twice */

/*
 * What to verify.  Fields left zero mean "not given".
 *	sig, siglen: DER CMS ContentInfo, or PEM.
 *	content: required for a detached signature; for an attached one, if
 *		given (content != NULL), it must equal the encapsulated content.
 *	signer_cert: if given, the only certificate accepted as the signer (the
 *		registered certificate); otherwise the signer is looked up among the
 *		certificates in the signature and extra_certs.
 *	extra_certs: more untrusted certificates (may be NULL).
 *	pki_name: NULL to find the PKI whose anchors validate the signer.
 *	at: 0 for now.
 *	usage: the key usage the signer's certificate must allow.
 *	flags: MS_CMS_* above.
 */
typedef struct MsCmsRequest
{
	const unsigned char *sig;
	size_t		siglen;
	const unsigned char *content;
	size_t		contentlen;
	X509	   *signer_cert;
	STACK_OF(X509) *extra_certs;
	const char *pki_name;
	TimestampTz at;
	MsKeyUsage	usage;
	int			flags;
} MsCmsRequest;

extern void ms_cms_verify(const MsCmsRequest *req, MsCmsResult *out);

/*
 * The PKCS#1 result format: a raw RSA or ECDSA signature over content made
 * with cert's key (hash SHA-256/384/512, found by trying), then the path.
 */
extern void ms_raw_signature_verify(const unsigned char *sig, size_t siglen,
									const unsigned char *content, size_t contentlen,
									X509 *cert, const char *pki_name, TimestampTz at,
									MsKeyUsage usage, MsCmsResult *out);

/*
 * The applet's digest operation: a raw signature of digest with cert's key
 * (ms_raw_verify_digest), then the path, now.
 */
extern void ms_raw_digest_verify(const unsigned char *sig, size_t siglen,
								 const unsigned char *digest, size_t digestlen,
								 X509 *cert, const char *pki_name, MsKeyUsage usage,
								 MsCmsResult *out);

#endif							/* MOBISIGN_CMS_VERIFY_H */
