/*-------------------------------------------------------------------------
 *
 * aes_cmac.h
 *	  AES-CMAC (RFC 4493 / NIST SP 800-38B) and AES-CBC with a zero IV,
 *	  the two primitives of TS 102 225 secured packets (KIc/KID algorithm 2).
 *
 * Keys are 16, 24 or 32 bytes (AES-128/192/256); any other length gives
 * MSC_E_CRYPTO.  Implemented with OpenSSL 3 libcrypto (EVP); no state is
 * kept between calls, every OpenSSL object is freed before returning.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSC_AES_CMAC_H
#define MSC_AES_CMAC_H

#include "msc.h"

#define MSC_AES_BLOCK	16		/* AES block size */
#define MSC_CMAC_LEN	16		/* full AES-CMAC output */

/* One contiguous piece of a message made of several parts. */
typedef struct msc_iov
{
	const uint8_t *base;
	size_t		len;
} msc_iov;

/*
 * AES-CMAC of msg[0..msg_len) (msg may be NULL when msg_len is 0) with
 * key[0..key_len); writes 16 bytes to mac.
 */
extern msc_rc msc_aes_cmac(const uint8_t *key, size_t key_len,
						   const uint8_t *msg, size_t msg_len,
						   uint8_t mac[MSC_CMAC_LEN]);

/* Same, over the concatenation of nparts pieces (no copy made). */
extern msc_rc msc_aes_cmac_iov(const uint8_t *key, size_t key_len,
							   const msc_iov *parts, size_t nparts,
							   uint8_t mac[MSC_CMAC_LEN]);

/*
 * AES-CBC with an all-zero IV and no padding: len must be a multiple of 16
 * (else MSC_E_LENGTH).  in and out may be the same buffer (in place).
 */
extern msc_rc msc_aes_cbc_encrypt(const uint8_t *key, size_t key_len,
								  const uint8_t *in, size_t len, uint8_t *out);
extern msc_rc msc_aes_cbc_decrypt(const uint8_t *key, size_t key_len,
								  const uint8_t *in, size_t len, uint8_t *out);

#endif							/* MSC_AES_CMAC_H */
