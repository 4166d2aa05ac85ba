/*-------------------------------------------------------------------------
 *
 * fetch.c
 *	  HTTP and LDAP URL fetches of certificates, CRLs and OCSP responses
 *	  (see fetch.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>

#include "utils/guc.h"

#include "fetch.h"
#include "http_input.h"
#include "ldap_dir.h"
#include "ossl.h"

static int	fetch_timeout = 5;
static bool fetch_guc_defined = false;

void
ms_fetch_init(void)
{
	if (fetch_guc_defined)
		return;
	fetch_guc_defined = true;
	DefineCustomIntVariable("mobisign.fetch_timeout",
							"Bound of each HTTP fetch (CRL distribution points, certificate URLs) and OCSP request.",
							"LDAP calls are bounded by their directory's timeout instead.",
							&fetch_timeout,
							5, 1, 300,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

int
ms_fetch_timeout_secs(void)
{
	ms_fetch_init();
	return fetch_timeout;
}

/*
 * One HTTP exchange (http_input.h) as a bytea; NULL and *err (without
 * secrets) on failure.
 */
static bytea *
http_exchange(const char *method, const char *url, const char *content_type,
			  const unsigned char *body, size_t len, const char *expected_content_type,
			  size_t max_len, char **err)
{
	msi_http_request r;
	unsigned char *data = NULL;
	size_t		dlen = 0;
	msi_rc		rc;
	bytea	   *result;

	memset(&r, 0, sizeof(r));
	r.url = url;
	r.content_type = content_type;
	r.body = body;
	r.body_len = len;
	r.expected_content_type = expected_content_type;
	r.max_len = max_len;
	r.timeout_secs = ms_fetch_timeout_secs();
	rc = msi_http_exchange(&r, &data, &dlen);
	switch (rc)
	{
		case MSI_OK:
			break;
		case MSI_E_URL_HTTPS:
			*err = pstrdup("https URLs are not supported (RFC 5280 distribution points and OCSP use http)");
			break;
		case MSI_E_URL_SCHEME:
			*err = pstrdup("unsupported URL scheme");
			break;
		case MSI_E_URL:
			*err = psprintf("malformed URL: %s", ms_ossl_error());
			break;
		case MSI_E_TOO_LARGE:
			*err = psprintf("response larger than %zu bytes", max_len);
			break;
		case MSI_E_EMPTY:
			*err = pstrdup("empty HTTP response");
			break;
		case MSI_E_NOMEM:
			*err = pstrdup("out of memory");
			break;
		default:
			*err = psprintf("HTTP %s failed: %s", method, ms_ossl_error());
			break;
	}
	ERR_clear_error();
	if (rc != MSI_OK)
		return NULL;
	result = palloc_extended(VARHDRSZ + dlen, MCXT_ALLOC_NO_OOM);
	if (result != NULL)
	{
		SET_VARSIZE(result, VARHDRSZ + dlen);
		memcpy(VARDATA(result), data, dlen);
	}
	else
		*err = pstrdup("out of memory");
	free(data);
	return result;
}

static List *
http_get(const char *url, size_t max_len, char **err)
{
	bytea	   *body = http_exchange("GET", url, NULL, NULL, 0, NULL, max_len, err);

	return body ? list_make1(body) : NIL;
}

List *
ms_fetch_url(const char *url, size_t max_len, char **err)
{
	*err = NULL;
	if (url == NULL || *url == '\0')
	{
		*err = pstrdup("empty URL");
		return NIL;
	}
	if (pg_strncasecmp(url, "ldap://", 7) == 0 || pg_strncasecmp(url, "ldaps://", 8) == 0)
		return ms_ldap_fetch_url(url, ms_fetch_timeout_secs(), max_len, err);
	return http_get(url, max_len, err);
}

bytea *
ms_http_post(const char *url, const char *content_type, const char *expected_content_type,
			 const unsigned char *body, size_t len, size_t max_len, char **err)
{
	*err = NULL;
	return http_exchange("POST", url, content_type, body, len, expected_content_type,
						 max_len, err);
}
