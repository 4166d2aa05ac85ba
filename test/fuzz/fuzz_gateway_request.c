/*
 * libFuzzer harness: the HTTP gateway's request parsing
 * (gateway/gw_request.c): Mobile-ID and ETSI TS 102 204 bodies, and the
 * strict base64 decoder and the URL unescaper.  Any input must be refused
 * or accepted without a
 * crash, a leak or an out-of-bounds access; what is accepted must keep the
 * parser's promises (NUL-terminated fields that fit, a digest as long as
 * its hash, base64 that re-encodes to itself).
 */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "fuzz_common.h"
#include "gw_request.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An error message goes into a JSON reply: terminated, valid UTF-8. */
static void
err_is_text(const char *err, size_t cap)
{
	json_t	   *j;

	FUZZ_CHECK(memchr(err, '\0', cap) != NULL);
	j = json_string(err);
	FUZZ_CHECK(j != NULL);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gw_mid_request m;
	gw_etsi_request e;
	char		err[200];
	int			sub;
	uint8_t		raw[256];
	long		n;

	if (size > GW_MAX_BODY)
		return 0;
	for (int need_hash = 0; need_hash < 2; need_hash++)
		if (gw_mid_parse((const char *) data, size, need_hash, &m, err, sizeof(err)) == 0)
		{
			FUZZ_CHECK(memchr(m.rp_name, '\0', sizeof(m.rp_name)) != NULL);
			FUZZ_CHECK(memchr(m.display, '\0', sizeof(m.display)) != NULL);
			FUZZ_CHECK(m.phone[0] == '+');
			FUZZ_CHECK(!need_hash || m.hash_len == gw_hash_type_len(m.hash_type));
		}
		else
			err_is_text(err, sizeof(err));
	if (gw_etsi_parse((const char *) data, size, &e, &sub, err, sizeof(err)) == 0)
	{
		FUZZ_CHECK(memchr(e.ap_id, '\0', sizeof(e.ap_id)) != NULL);
		FUZZ_CHECK(e.data_len <= sizeof(e.data));
		FUZZ_CHECK(!e.digest || e.data_len == gw_hash_type_len(e.hash_type));
	}
	else
	{
		FUZZ_CHECK(sub == 101 || sub == 102 || sub == 103);
		err_is_text(err, sizeof(err));
	}
	/* the URL unescaper: never longer, never a NUL inside */
	if (size < 4096 && memchr(data, '\0', size) == NULL)
	{
		char		url[4096];
		size_t		len;

		memcpy(url, data, size);
		url[size] = '\0';
		len = gw_url_unescape(url);
		FUZZ_CHECK(len <= size && url[len] == '\0' && strlen(url) == len);
	}
	n = gw_base64_decode((const char *) data, size, raw, sizeof(raw));
	if (n >= 0)
	{
		unsigned char again[400];

		FUZZ_CHECK(size <= 4 * ((sizeof(raw) + 2) / 3));
		FUZZ_CHECK((size_t) EVP_EncodeBlock(again, raw, (int) n) == size &&
				   memcmp(again, data, size) == 0);
	}
	return 0;
}
