/*-------------------------------------------------------------------------
 *
 * ocsp.h
 *	  OCSP revocation checking of a validated chain (revocation modes 'ocsp'
 *	  and 'ocsp,crl'), with nonce, response signature and freshness checks
 *	  and a response cache in mobisign.ocsp_response.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_OCSP_H
#define MOBISIGN_OCSP_H

#include "postgres.h"

#include "utils/jsonb.h"

#include <openssl/x509.h>

#include "lib/stringinfo.h"

#include "pki_store.h"

typedef enum MsOcspOutcome
{
	MS_OCSP_GOOD,				/* every certificate checked is good */
	MS_OCSP_REVOKED,			/* a certificate is revoked */
	MS_OCSP_UNAVAILABLE			/* no usable answer for some certificate */
} MsOcspOutcome;

/*
 * Check every certificate of chain (end entity first; the last element is
 * the trust anchor and is not checked) by OCSP at time at.  Sets *evidence
 * to a jsonb array of the responses relied on (the "ocsp" member of a
 * validation's evidence), and *reason (palloc'd) when not GOOD.
 */
extern MsOcspOutcome ms_ocsp_check_chain(MsPki *pki, STACK_OF(X509) *chain,
										 time_t at, Jsonb **evidence,
										 char **reason);

#endif							/* MOBISIGN_OCSP_H */
