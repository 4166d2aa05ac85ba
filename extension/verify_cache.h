/*-------------------------------------------------------------------------
 *
 * verify_cache.h
 *	  Per-backend verification cache: what does not change between two
 *	  verifications, so that one costs about one signature check.
 *
 * Invariants:
 * - Every entry is keyed by exact content: the SHA-256 of the bytes it was
 *	 made from (a parsed certificate or key: the input as given), or of both
 *	 the signed object's DER and the signer's public key (SubjectPublicKeyInfo
 *	 DER, with any inherited parameters) for a signature that verified.  Such
 *	 a fact never becomes false, so these entries need no invalidation; they
 *	 are only evicted (least recently used first) to stay within
 *	 mobisign.verify_cache_entries and mobisign.verify_cache_kb.
 * - Only the signature check is memoised, and only its success.  Validity
 *	 periods, CRL thisUpdate/nextUpdate, revocation (a lookup by serial in
 *	 the PKI's current CRLs), name and policy constraints, key usage and
 *	 the security level are checked on every call, at the call's time.
 * - What belongs to a PKI (its X509_STORE, anchors, intermediates, parsed
 *	 CRLs) is held by pki_store.c, keyed by the PKI row's generation and
 *	 xmin: a change to the PKI or its CRLs is seen by the very next call, in
 *	 the same transaction and in every other backend.
 * - OpenSSL objects are reference counted: a caller gets its own reference
 *	 (owned by its MsScope), so an eviction during a call frees nothing the
 *	 call still uses.  The cache's bookkeeping lives in its own long-lived
 *	 memory context; each object is freed when its entry is evicted.
 * - The cache is per backend and filled lazily: a fresh backend (or the
 *	 worker) parses and checks each object once, on first use.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_VERIFY_CACHE_H
#define MOBISIGN_VERIFY_CACHE_H

#include "postgres.h"

#include <openssl/x509.h>

#include "ossl.h"

/*
 * x's DER digest (SHA-256), and its notBefore/notAfter in seconds since
 * 1970, from its facts (made once per certificate); a time counts only in an
 * RFC 5280 form (false otherwise, or when out of memory).
 */
extern bool ms_vcache_sha256(X509 *x, unsigned char out[32]);
extern bool ms_vcache_cert_times(X509 *x, int64 *not_before, int64 *not_after);
extern bool ms_vcache_time_seconds(const ASN1_TIME *t, int64 *secs);

/* GUCs mobisign.verify_cache_entries and mobisign.verify_cache_kb */
extern void ms_vcache_init(void);

/* ms_parse_certificate_bytea() / ms_parse_public_key_bytea(), through the cache */
extern X509 *ms_vcache_certificate(MsScope *scope, const char *what, bytea *b);
extern EVP_PKEY *ms_vcache_public_key(MsScope *scope, const char *what, bytea *b);

/* A certificate of exactly len bytes of DER (from inside a CMS), or NULL. */
extern X509 *ms_vcache_certificate_der(MsScope *scope, const unsigned char *der, size_t len);

/*
 * A certificate's subject (RFC 2253) and SHA-256 fingerprint (hex),
 * palloc'd; both computed once per parsed certificate and kept with it.
 */
extern char *ms_vcache_subject(X509 *x);
extern char *ms_vcache_fingerprint_hex(X509 *x);

/*
 * OpenSSL's chain signature and validity check (X509_STORE_set_verify),
 * with each certificate's signature check memoised and its notBefore and
 * notAfter parsed once (kept with the certificate; compared with the
 * call's time on every call, with X509_cmp_time()'s answers, malformed
 * times included); everything else is as OpenSSL does it, verify callback
 * included.
 */
extern int	ms_vcache_verify_chain(X509_STORE_CTX *ctx);

/*
 * A CRL parsed from DER whose signature check (X509_CRL_verify) is
 * memoised; revocation lookups are OpenSSL's.  NULL if it does not parse.
 * The caller owns the result (X509_CRL_free).
 */
extern X509_CRL *ms_vcache_crl(const unsigned char *der, size_t len);

/*
 * A CRL's issuer (RFC 2253) and crlNumber (decimal, NULL if it has none),
 * palloc'd; computed once for a CRL from ms_vcache_crl().
 */
extern void ms_vcache_crl_facts(X509_CRL *crl, char **issuer, char **number);

typedef struct MsVcacheStats
{
	int64		entries;
	int64		bytes;			/* an estimate of the memory held */
	int64		hits;
	int64		misses;
	int64		evictions;
	int64		max_entries;
	int64		max_bytes;
} MsVcacheStats;

extern void ms_vcache_stats(MsVcacheStats *out);

#endif							/* MOBISIGN_VERIFY_CACHE_H */
