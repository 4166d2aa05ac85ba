/*-------------------------------------------------------------------------
 *
 * fetch.c
 *	  HTTP and LDAP URL fetches of certificates, CRLs and OCSP responses
 *	  (see fetch.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/http.h>

#include "lib/stringinfo.h"
#include "utils/guc.h"

#include "fetch.h"
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
 * Read a whole BIO into a bytea, at most max_len bytes.  Never throws except
 * for out-of-memory; the caller owns (and frees) the BIO.
 */
static bytea *
bio_to_bytea(BIO *bio, size_t max_len, char **err)
{
	StringInfoData buf;
	char		chunk[8192];
	int			n;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	while ((n = BIO_read(bio, chunk, sizeof(chunk))) > 0)
	{
		if ((size_t) buf.len - VARHDRSZ + n > max_len)
		{
			*err = psprintf("response larger than %zu bytes", max_len);
			return NULL;
		}
		appendBinaryStringInfo(&buf, chunk, n);
	}
	SET_VARSIZE(buf.data, buf.len);
	return (bytea *) buf.data;
}

static bool
is_http_url(const char *url, char **err)
{
	if (pg_strncasecmp(url, "http://", 7) == 0)
		return true;
	if (pg_strncasecmp(url, "https://", 8) == 0)
		*err = pstrdup("https URLs are not supported (RFC 5280 distribution points and OCSP use http)");
	else
		*err = pstrdup("unsupported URL scheme");
	return false;
}

static List *
http_get(const char *url, size_t max_len, char **err)
{
	MsScope    *scope;
	BIO		   *mem;
	bytea	   *body;

	if (!is_http_url(url, err))
		return NIL;
	scope = ms_scope_create();
	ERR_clear_error();
	{
		char	   *host = NULL;
		char	   *port = NULL;
		char	   *path = NULL;
		char	   *query = NULL;
		char	   *target;

		if (!OSSL_HTTP_parse_url(url, NULL, NULL, &host, &port, NULL, &path, &query, NULL))
		{
			*err = psprintf("malformed URL: %s", ms_ossl_error());
			ms_scope_release(scope);
			return NIL;
		}
		target = query ? psprintf("%s?%s", path, query) : pstrdup(path);

		/*
		 * One exchange, no redirection: a distribution point or a
		 * certificate URL answers itself or not at all (a redirect could
		 * send the server anywhere).  Proxy "" means no proxy: the
		 * environment's http_proxy is not used.
		 */
		mem = ms_scope_bio(scope,
						   OSSL_HTTP_transfer(NULL, host, port, target, 0, "", NULL,
											  NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL,
											  NULL, 1, max_len, ms_fetch_timeout_secs(), 0));
		OPENSSL_free(host);
		OPENSSL_free(port);
		OPENSSL_free(path);
		OPENSSL_free(query);
	}
	if (mem == NULL)
	{
		*err = psprintf("HTTP GET failed: %s", ms_ossl_error());
		ms_scope_release(scope);
		return NIL;
	}
	body = bio_to_bytea(mem, max_len, err);
	ms_scope_release(scope);
	if (body == NULL)
		return NIL;
	if (VARSIZE_ANY_EXHDR(body) == 0)
	{
		*err = pstrdup("empty HTTP response");
		return NIL;
	}
	return list_make1(body);
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

static void
openssl_free_fn(void *p)
{
	OPENSSL_free(p);
}

bytea *
ms_http_post(const char *url, const char *content_type, const char *expected_content_type,
			 const unsigned char *body, size_t len, size_t max_len, char **err)
{
	MsScope    *scope;
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *path = NULL;
	int			use_ssl = 0;
	BIO		   *req;
	BIO		   *resp;
	bytea	   *result = NULL;

	*err = NULL;
	if (!is_http_url(url, err))
		return NULL;
	ERR_clear_error();
	if (!OSSL_HTTP_parse_url(url, &use_ssl, NULL, &host, &port, NULL, &path, NULL, NULL))
	{
		*err = psprintf("invalid URL: %s", ms_ossl_error());
		return NULL;
	}
	scope = ms_scope_create();
	ms_scope_add(scope, host, openssl_free_fn);
	ms_scope_add(scope, port, openssl_free_fn);
	ms_scope_add(scope, path, openssl_free_fn);
	req = ms_scope_bio(scope, BIO_new_mem_buf(body, (int) len));
	if (req == NULL)
		*err = pstrdup("out of memory");
	else
	{
		resp = ms_scope_bio(scope,
							OSSL_HTTP_transfer(NULL, host, port, path, use_ssl, "", NULL,
											   NULL, NULL, NULL, NULL, 0, NULL,
											   content_type, req, expected_content_type, 1,
											   max_len, ms_fetch_timeout_secs(), 0));
		if (resp == NULL)
			*err = psprintf("HTTP POST failed: %s", ms_ossl_error());
		else
			result = bio_to_bytea(resp, max_len, err);
	}
	ms_scope_release(scope);
	return result;
}
