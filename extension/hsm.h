/*
 * hsm.h
 *	  Keys in a hardware security module, reached over PKCS#11: the service
 *	  provider's private key signs inside the token, the master key (a
 *	  non-extractable AES key) encrypts and decrypts SIM OTA keys with
 *	  AES-GCM inside the token.  The key GUCs (keystore.c) name such keys
 *	  with a pkcs11: URI (RFC 7512, extension/input/pkcs11_uri.h).
 *
 * Invariants:
 *	- the module (mobisign.pkcs11_module) is loaded and C_Initialize'd
 *	  lazily, at the first use in a backend or worker, never in the
 *	  postmaster; a process forked from one that had it initialized starts
 *	  afresh;
 *	- one session per process, logged in with the PIN read from
 *	  mobisign.pkcs11_pin_file (the key file rule) at each login; the PIN
 *	  is wiped at once and never reaches a setting, a log or a message; a
 *	  PIN the token refused is not offered again (by its hash) until the
 *	  file says something else, so a retrying worker cannot lock the token;
 *	- after an error that means the session or the token went away
 *	  (CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
 *	  ...), or a key that is not found (a token whose store went away
 *	  answers so on a live session), the module is finalized and the
 *	  operation tried once more from scratch; if the token is still unreachable (absent, locked, wrong PIN)
 *	  the caller gets ERROR 55000 with a hint, and the next call tries again;
 *	- key material never leaves the token: what comes back is a signature
 *	  or the AES-GCM output the caller asked for.
 */
#ifndef MOBISIGN_HSM_H
#define MOBISIGN_HSM_H

#include "postgres.h"

/* Called from _PG_init: mobisign.pkcs11_module, mobisign.pkcs11_pin_file. */
extern void ms_hsm_init(void);

/* Does a key GUC's value name a key in a token (a pkcs11: URI)? */
extern bool ms_hsm_is_uri(const char *value);

/*
 * Check hook body for a key GUC: a value that starts with pkcs11: must
 * parse (GUC_check_errdetail says why not); paths are not checked here.
 */
extern bool ms_hsm_check_key_guc(char **newval);

/*
 * Sign tbs with the private key the URI names (guc: the setting it comes
 * from, for messages): an EC P-256 key gives a DER ECDSA-SHA256 signature
 * (the digest is computed here, CKM_ECDSA signs it in the token), an RSA
 * key RSASSA-PKCS1-v1_5 with SHA-256 (CKM_SHA256_RSA_PKCS).  palloc'd.
 */
extern unsigned char *ms_hsm_sign(const char *guc, const char *uri,
								  const unsigned char *tbs, size_t tbslen,
								  size_t *siglen);

/* One AES-GCM operation inside the token (CKM_AES_GCM, 128-bit tag). */
typedef struct MsHsmGcm
{
	bool		encrypt;
	const unsigned char *iv;	/* 12 bytes */
	size_t		ivlen;
	const unsigned char *aad;
	size_t		aadlen;
	const unsigned char *in;	/* encrypt: the clear text; decrypt:
								 * ciphertext || tag */
	size_t		inlen;
	unsigned char *out;			/* encrypt: inlen + 16 bytes; decrypt: inlen
								 * - 16 */
	size_t		outcap;
} MsHsmGcm;

/*
 * Run op with the secret key the URI names.  Returns false (and wipes
 * op->out) when decrypting data that does not authenticate; errors about
 * the token are raised.
 */
extern bool ms_hsm_gcm(const char *guc, const char *uri, MsHsmGcm *op);

#endif
