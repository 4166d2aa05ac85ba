/*
 * keystore.h
 *	  Secrets kept outside the database: the master key that wraps SIM OTA
 *	  keys (AES-256-GCM) and the service provider's signing key.
 *
 * Clear keys handed out live only in palloc'd buffers that the caller wipes
 * with ms_keystore_wipe() as soon as it is done; they never reach a table, a
 * log line or an error message.  Each process keeps the master key file's
 * key and the parsed service provider key of the files the GUCs name, while
 * those files keep the identity (stat) they were read with: keystore.c's
 * header says how a changed file, a chmod or a reload takes effect at once.
 */
#ifndef MOBISIGN_KEYSTORE_H
#define MOBISIGN_KEYSTORE_H

#include "postgres.h"

/*
 * Called from _PG_init: the GUCs naming the key files
 * (mobisign.master_key_file, mobisign.sp_key_file, mobisign.sp_cert_file).
 */
extern void ms_keystore_init(void);

#define MS_MASTER_KEY_LEN 32
#define MS_WRAP_VERSION_FILE 1	/* wrapped here with the master key file's key */
#define MS_WRAP_VERSION_TOKEN 2 /* wrapped inside the token (CKM_AES_GCM) */
#define MS_WRAP_NONCE_LEN 12
#define MS_WRAP_TAG_LEN 16
#define MS_WRAP_OVERHEAD (1 + MS_WRAP_NONCE_LEN + MS_WRAP_TAG_LEN)

/*
 * Wrap a clear SIM key: returns version || nonce || ciphertext || tag, with
 * the AAD binding it to (msisdn, key_set, role).  role is "kic" or "kid".
 * Version 2 (in the token) when mobisign.master_key_file is a pkcs11: URI,
 * else version 1 (the file's key).
 */
extern bytea *ms_key_wrap(const char *msisdn, int key_set, const char *role,
						  const unsigned char *key, size_t keylen);

/*
 * Unwrap (version 1 with the master key file, version 2 in the token, as
 * mobisign.master_key_file says; a key of the other kind is ERROR 55000);
 * returns the clear key in a palloc'd buffer of *keylen bytes.
 * ERROR (no key material in the message) when the blob does not
 * authenticate for this (msisdn, key_set, role).
 */
extern unsigned char *ms_key_unwrap(const char *msisdn, int key_set, const char *role,
									const bytea *wrapped, size_t *keylen);

/*
 * Migration (mobisign_rewrap_keys): a version 1 key, unwrapped with the
 * master key file from_file, wrapped again inside the token that
 * mobisign.master_key_file names (version 2), and checked by unwrapping it
 * there.  ERROR when the key does not authenticate with from_file, is not
 * version 1, or the master key is no token key; nothing clear survives.
 */
extern bytea *ms_key_rewrap(const char *msisdn, int key_set, const char *role,
							const bytea *wrapped, const char *from_file);

/*
 * Sign tbs with the service provider's key: ECDSA-SHA256 (DER signature) for
 * an EC key, RSASSA-PKCS1-v1_5 with SHA-256 for an RSA key.  Returns a
 * palloc'd signature of *siglen bytes.
 */
extern unsigned char *ms_sp_sign(const unsigned char *tbs, size_t tbslen, size_t *siglen);

extern void ms_keystore_wipe(void *p, size_t len);

/*
 * Unwrap both OTA keys of one SIM key set into keys (KIc, then KID).  If
 * either does not unwrap, nothing clear is left behind: the KIc already
 * unwrapped is wiped before the error propagates.  The caller wipes keys
 * with ms_ota_keys_wipe() as soon as the packet is built or opened.
 */
struct msc_ota_keys;
extern void ms_ota_keys_unwrap(const char *msisdn, int key_set,
							   const bytea *kic_wrapped, const bytea *kid_wrapped,
							   struct msc_ota_keys *keys);
extern void ms_ota_keys_wipe(struct msc_ota_keys *keys);

/*
 * Key files (master key, service provider key, an SMPP link's TLS client
 * key) obey one rule, whose home is ms_key_file_mode_ok(): owned by the
 * server's OS user or by root, mode 0640 or less.  MS_KEY_FILE_RULE and
 * MS_KEY_FILE_HINT are the words every refusal uses.
 */
#define MS_KEY_FILE_RULE "A key file must be owned by the server's OS user or by root, with mode 0640 or less."
#define MS_KEY_FILE_HINT "chmod 0600 the file (0640 to let a group read it)."

struct stat;
extern bool ms_key_file_mode_ok(const struct stat *st);

typedef enum MsKeyFileStatus
{
	MS_KEY_FILE_OK,
	MS_KEY_FILE_CANNOT_OPEN,	/* errno says why */
	MS_KEY_FILE_CANNOT_STAT,	/* errno says why */
	MS_KEY_FILE_OPEN_TO_OTHERS, /* breaks the key file rule */
	MS_KEY_FILE_CANNOT_READ,	/* errno says why */
	MS_KEY_FILE_TOO_LARGE,		/* more than bufsize - 1 bytes */
	MS_KEY_FILE_NOT_REGULAR		/* a FIFO, device or directory: never opened
								 * for reading if seen before the open */
} MsKeyFileStatus;

/*
 * Read a small regular file into buf (NUL-terminated, *len bytes); a FIFO
 * or device is refused before it is opened (it could block the caller
 * forever), and checked again on the open file.  With secret, the
 * file must obey the key file rule; it is checked on the open file (fstat),
 * so a file swapped after the check is never read.  Raises no error (the
 * worker calls it); on failure nothing is left in buf.
 */
extern MsKeyFileStatus ms_read_key_file(const char *path, bool secret,
										char *buf, size_t bufsize, size_t *len);

#endif
