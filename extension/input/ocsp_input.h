/*-------------------------------------------------------------------------
 *
 * ocsp_input.h
 *	  Decoding an OCSP response and matching it to the request it answers
 *	  (RFC 6960).  Plain C over OpenSSL (see msi.h); ocsp.c calls it for
 *	  every response fetched or found in its cache.
 *
 * A response is usable (MSI_OK) only if, in this order:
 *	- it is one DER OCSPResponse with no byte after it;
 *	- its responder status is successful and it is a basic response;
 *	- it holds a SingleResponse for the CertID asked about, with thisUpdate;
 *	- with a request given: it echoes the request's nonce, or carries none
 *	  and its thisUpdate is at most MSI_OCSP_NONCELESS_MAX_AGE seconds old
 *	  (a wrong nonce is never accepted);
 *	- its signature verifies and its signer is the issuing CA or a responder
 *	  it delegated, with a path to the store's trust anchors
 *	  (OCSP_basic_verify);
 *	- it is valid at the time of the check q->at (now, or the past time a
 *	  signature is checked at), with MSI_OCSP_SKEW seconds of clock skew:
 *	  thisUpdate not after it (MSI_E_OCSP_LATER: a later response does not
 *	  say what the status was then), nextUpdate, if any, not before it and
 *	  not before thisUpdate (MSI_E_OCSP_NOT_FRESH).  The same window as
 *	  OpenSSL's OCSP_check_validity(), around q->at instead of now, as a CRL
 *	  must be valid at the time of the check.
 * Whether a "good" or "revoked" status applies at the time of the check is
 * the caller's decision.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSI_OCSP_INPUT_H
#define MSI_OCSP_INPUT_H

#include <stddef.h>

#include <openssl/ocsp.h>

#include "msi.h"

/* clock skew accepted on thisUpdate/nextUpdate, seconds */
#define MSI_OCSP_SKEW 300
/* a response without the request's nonce must be at most this old, seconds */
#define MSI_OCSP_NONCELESS_MAX_AGE 300

typedef struct msi_ocsp_query
{
	OCSP_REQUEST *request;		/* the request sent (its nonce), or NULL for
								 * a cached response */
	OCSP_CERTID *id;			/* the certificate asked about */
	STACK_OF(X509) *certs;		/* untrusted certificates for the signer's path */
	X509_STORE *store;			/* the PKI's trust anchors */
	time_t		at;				/* the time of the check (now, or a past time) */
} msi_ocsp_query;

typedef struct msi_ocsp_answer
{
	/* owned by the caller, set even on failure (free them) */
	OCSP_RESPONSE *response;
	OCSP_BASICRESP *basic;
	/* MSI_E_OCSP_STATUS: the responder status */
	int			response_status;
	/* MSI_OK: the answer for the certificate (pointers into basic) */
	int			cert_status;	/* V_OCSP_CERTSTATUS_* */
	int			reason;			/* CRL reason code, -1 if none */
	ASN1_GENERALIZEDTIME *revoked_at;	/* NULL unless revoked */
	ASN1_GENERALIZEDTIME *this_update;
	ASN1_GENERALIZEDTIME *next_update;	/* may be NULL */
	const ASN1_GENERALIZEDTIME *produced_at;
} msi_ocsp_answer;

extern msi_rc msi_ocsp_evaluate(const unsigned char *der, size_t len,
								const msi_ocsp_query *q, msi_ocsp_answer *a);

#endif							/* MSI_OCSP_INPUT_H */
