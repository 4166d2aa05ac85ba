/*
 * keystore.h
 *	  Secrets kept outside the database: the master key that wraps SIM OTA
 *	  keys (AES-256-GCM) and the service provider's signing key.
 *
 * Clear keys live only in palloc'd buffers that the caller wipes with
 * ms_keystore_wipe() as soon as it is done; they never reach a table, a log
 * line or an error message.
 */
#ifndef MOBISIGN_KEYSTORE_H
#define MOBISIGN_KEYSTORE_H

#include "postgres.h"

/* GUC values, defined in sim_api.c */
extern char *ms_master_key_file;
extern char *ms_sp_key_file;
extern char *ms_sp_cert_file;

#define MS_MASTER_KEY_LEN 32
#define MS_WRAP_VERSION 1
#define MS_WRAP_NONCE_LEN 12
#define MS_WRAP_TAG_LEN 16
#define MS_WRAP_OVERHEAD (1 + MS_WRAP_NONCE_LEN + MS_WRAP_TAG_LEN)

/*
 * Wrap a clear SIM key: returns version || nonce || ciphertext || tag, with
 * the AAD binding it to (msisdn, key_set, role).  role is "kic" or "kid".
 */
extern bytea *ms_key_wrap(const char *msisdn, int key_set, const char *role,
						  const unsigned char *key, size_t keylen);

/*
 * Unwrap; returns the clear key in a palloc'd buffer of *keylen bytes.
 * ERROR (no key material in the message) when the blob does not
 * authenticate for this (msisdn, key_set, role).
 */
extern unsigned char *ms_key_unwrap(const char *msisdn, int key_set, const char *role,
									const bytea *wrapped, size_t *keylen);

/*
 * Sign tbs with the service provider's key: ECDSA-SHA256 (DER signature) for
 * an EC key, RSASSA-PKCS1-v1_5 with SHA-256 for an RSA key.  Returns a
 * palloc'd signature of *siglen bytes.
 */
extern unsigned char *ms_sp_sign(const unsigned char *tbs, size_t tbslen, size_t *siglen);

extern void ms_keystore_wipe(void *p, size_t len);

#endif
