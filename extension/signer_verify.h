/*-------------------------------------------------------------------------
 *
 * signer_verify.h
 *	  The signature of a CMS SignerInfo over its signed attributes, checked
 *	  with a verification context prepared once per key and digest.
 *
 * Invariants:
 * - Same answers as CMS_SignerInfo_verify(): the forms handled here are a
 *	 subset that OpenSSL's attribute rules always accept (contentType and
 *	 messageDigest, optionally signingTime, each once with one value; no
 *	 unsigned attributes), an RSA key (not RSA-PSS) with a PKCS#1 v1.5
 *	 signature algorithm as OpenSSL's CMS accepts it, or an EC key; the
 *	 signed bytes are OpenSSL's own encoding of the received attributes
 *	 (PKCS7_ATTR_VERIFY, the template CMS_SignerInfo_verify() uses), the
 *	 digest is the SignerInfo's, the check is EVP_DigestVerify.  Anything
 *	 else, and any failure, is answered "not handled": the caller then runs
 *	 CMS_SignerInfo_verify() itself (which also words the error).
 * - What is kept is only a prepared context (EVP_DigestVerifyInit done, no
 *	 data fed), keyed by the key object, of which it holds a reference (so
 *	 the pointer stays that key's), and the digest: never anything about a
 *	 signature or the data signed.  At most MS_SIGNER_CTX_SLOTS contexts per
 *	 backend, replaced in turn; each holds one key reference.
 * - What one call makes (the encoded attributes, the context's copy) belongs
 *	 to the caller's MsScope.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_SIGNER_VERIFY_H
#define MOBISIGN_SIGNER_VERIFY_H

#include "postgres.h"

#include <openssl/cms.h>

#include "ossl.h"

#define MS_SIGNER_CTX_SLOTS 8

/*
 * true: si's signature over its signed attributes verifies with key.
 * false: not handled here or not verified (run CMS_SignerInfo_verify()).
 */
extern bool ms_signer_attrs_verified(MsScope *scope, CMS_SignerInfo *si, EVP_PKEY *key);

#endif							/* MOBISIGN_SIGNER_VERIFY_H */
