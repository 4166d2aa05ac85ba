/*-------------------------------------------------------------------------
 *
 * rawsig.h
 *	  Raw signature checks (PKCS#1 v1.5, RSA-PSS, ECDSA) with a certificate
 *	  or SubjectPublicKeyInfo: mobisign_verify_signature().
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_RAWSIG_H
#define MOBISIGN_RAWSIG_H

#include "postgres.h"

#include <openssl/evp.h>

/*
 * Verify sig over data with pkey under the named algorithm (ecdsa-sha256,
 * rsa-pkcs1-sha384, rsa-pss-sha512...).  Returns true or false; an unknown
 * algorithm or a key of the wrong type is an ERROR.
 */
extern bool ms_raw_verify(EVP_PKEY *pkey, const char *algorithm,
						  const unsigned char *data, size_t datalen,
						  const unsigned char *sig, size_t siglen);

/*
 * Verify a raw signature of a digest (the applet's digest operation): RSA
 * PKCS#1 v1.5 over the DigestInfo of the hash the digest's length names
 * (32, 48, 64 octets: SHA-256, -384, -512), or ECDSA as r || s, each the
 * length of the curve's order (what Mobile-ID returns).  False for any
 * other key, length or a signature that does not verify.
 */
extern bool ms_raw_verify_digest(EVP_PKEY *pkey, const unsigned char *digest,
								 size_t digestlen, const unsigned char *sig,
								 size_t siglen);

#endif							/* MOBISIGN_RAWSIG_H */
