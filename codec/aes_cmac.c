/*-------------------------------------------------------------------------
 *
 * aes_cmac.c
 *	  AES-CMAC (RFC 4493) and AES-CBC with a zero IV over OpenSSL 3 EVP.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "aes_cmac.h"

static const char *
cbc_name(size_t key_len)
{
	switch (key_len)
	{
		case 16:
			return "AES-128-CBC";
		case 24:
			return "AES-192-CBC";
		case 32:
			return "AES-256-CBC";
		default:
			return NULL;
	}
}

static const EVP_CIPHER *
cbc_cipher(size_t key_len)
{
	switch (key_len)
	{
		case 16:
			return EVP_aes_128_cbc();
		case 24:
			return EVP_aes_192_cbc();
		case 32:
			return EVP_aes_256_cbc();
		default:
			return NULL;
	}
}

msc_rc
msc_aes_cmac_iov(const uint8_t *key, size_t key_len,
				 const msc_iov *parts, size_t nparts,
				 uint8_t mac[MSC_CMAC_LEN])
{
	EVP_MAC    *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM	params[2];
	const char *cname = cbc_name(key_len);
	size_t		outl = 0;
	size_t		i;
	msc_rc		rc = MSC_E_CRYPTO;

	if (key == NULL || mac == NULL || (parts == NULL && nparts > 0))
		return MSC_E_ARG;
	if (cname == NULL)
		return MSC_E_CRYPTO;
	for (i = 0; i < nparts; i++)
		if (parts[i].base == NULL && parts[i].len > 0)
			return MSC_E_ARG;

	m = EVP_MAC_fetch(NULL, "CMAC", NULL);
	if (m == NULL)
		goto done;
	ctx = EVP_MAC_CTX_new(m);
	if (ctx == NULL)
		goto done;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
												 (char *) cname, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(ctx, key, key_len, params))
		goto done;
	for (i = 0; i < nparts; i++)
		if (parts[i].len > 0 && !EVP_MAC_update(ctx, parts[i].base, parts[i].len))
			goto done;
	if (!EVP_MAC_final(ctx, mac, &outl, MSC_CMAC_LEN) || outl != MSC_CMAC_LEN)
		goto done;
	rc = MSC_OK;
done:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return rc;
}

msc_rc
msc_aes_cmac(const uint8_t *key, size_t key_len,
			 const uint8_t *msg, size_t msg_len,
			 uint8_t mac[MSC_CMAC_LEN])
{
	msc_iov		part;

	part.base = msg;
	part.len = msg_len;
	return msc_aes_cmac_iov(key, key_len, &part, 1, mac);
}

static msc_rc
aes_cbc(int enc, const uint8_t *key, size_t key_len,
		const uint8_t *in, size_t len, uint8_t *out)
{
	static const uint8_t zero_iv[MSC_AES_BLOCK];
	const EVP_CIPHER *cipher = cbc_cipher(key_len);
	EVP_CIPHER_CTX *ctx;
	int			outl = 0;
	int			finl = 0;
	msc_rc		rc = MSC_E_CRYPTO;

	if (key == NULL || (len > 0 && (in == NULL || out == NULL)))
		return MSC_E_ARG;
	if (cipher == NULL)
		return MSC_E_CRYPTO;
	if (len % MSC_AES_BLOCK != 0 || len > (size_t) 0x7FFFFFF0)
		return MSC_E_LENGTH;
	if (len == 0)
		return MSC_OK;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return MSC_E_CRYPTO;
	if (!EVP_CipherInit_ex(ctx, cipher, NULL, key, zero_iv, enc))
		goto done;
	if (!EVP_CIPHER_CTX_set_padding(ctx, 0))
		goto done;
	if (!EVP_CipherUpdate(ctx, out, &outl, in, (int) len))
		goto done;
	if (!EVP_CipherFinal_ex(ctx, out + outl, &finl))
		goto done;
	if ((size_t) (outl + finl) != len)
		goto done;
	rc = MSC_OK;
done:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

msc_rc
msc_aes_cbc_encrypt(const uint8_t *key, size_t key_len,
					const uint8_t *in, size_t len, uint8_t *out)
{
	return aes_cbc(1, key, key_len, in, len, out);
}

msc_rc
msc_aes_cbc_decrypt(const uint8_t *key, size_t key_len,
					const uint8_t *in, size_t len, uint8_t *out)
{
	return aes_cbc(0, key, key_len, in, len, out);
}
