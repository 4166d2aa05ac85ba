/*
 * libFuzzer harness: PKCS#11 URIs (RFC 7512) as the key GUCs accept them
 * (extension/input/pkcs11_uri.c).  Input: the URI bytes.
 * Checks: a result code of the documented set, with a reason unless OK; on
 * failure the output is all zero; on success the labels are
 * NUL-terminated, within their bounds and free of NUL, an object or an id
 * is named, the type is one of the enum, the scheme is there, and the
 * input holds no query, fragment, or byte outside printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pkcs11_uri.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const msi_p11_uri zero;
	msi_p11_uri u;
	const char *why = NULL;
	msi_rc		rc;
	size_t		i;

	memset(&u, 0xa5, sizeof(u));
	rc = msi_p11_uri_parse((const char *) data, size, &u, &why);
	FUZZ_CHECK(rc == MSI_OK || rc == MSI_E_URL_SCHEME || rc == MSI_E_TOO_LARGE ||
			   rc == MSI_E_URL || rc == MSI_E_VALUE);
	if (rc != MSI_OK)
	{
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		FUZZ_CHECK(memcmp(&u, &zero, sizeof(u)) == 0);
		return 0;
	}
	FUZZ_CHECK(why == NULL);
	FUZZ_CHECK(size >= 7 && size <= MSI_P11_URI_MAX);
	FUZZ_CHECK(msi_p11_uri_is("pkcs11:") && strncasecmp((const char *) data, "pkcs11:", 7) == 0);
	for (i = 0; i < size; i++)
		FUZZ_CHECK(data[i] > 0x20 && data[i] < 0x7f && data[i] != '?' && data[i] != '#');
	FUZZ_CHECK(u.has_object || u.has_id);
	FUZZ_CHECK(memchr(u.token, '\0', sizeof(u.token)) != NULL);
	FUZZ_CHECK(!u.has_token || (u.token[0] != '\0' && strlen(u.token) <= MSI_P11_TOKEN_MAX));
	FUZZ_CHECK(u.object_len <= MSI_P11_OBJECT_MAX && u.object[u.object_len] == '\0' &&
			   strlen(u.object) == u.object_len);
	FUZZ_CHECK(!u.has_object || u.object_len > 0);
	FUZZ_CHECK(u.id_len <= MSI_P11_ID_MAX && (!u.has_id || u.id_len > 0));
	FUZZ_CHECK(u.type >= MSI_P11_TYPE_ANY && u.type <= MSI_P11_TYPE_DATA);
	return 0;
}
