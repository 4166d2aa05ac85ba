/*-------------------------------------------------------------------------
 *
 * http_input.c
 *	  One HTTP exchange and the checks on its response (see http_input.h).
 *
 *-------------------------------------------------------------------------
 */
#include "http_input.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/http.h>

/* Read the whole of bio, at most max_len bytes, into a malloc'd buffer. */
static msi_rc
read_all(BIO *bio, size_t max_len, unsigned char **body, size_t *len)
{
	unsigned char chunk[8192];
	unsigned char *buf = NULL;
	size_t		used = 0;
	size_t		room = 0;
	int			n;

	while ((n = BIO_read(bio, chunk, sizeof(chunk))) > 0)
	{
		if ((size_t) n > max_len - used)
		{
			free(buf);
			return MSI_E_TOO_LARGE;
		}
		if (used + n > room)
		{
			size_t		want = room ? room * 2 : sizeof(chunk);
			unsigned char *nbuf;

			while (want < used + n)
				want *= 2;
			if (want > max_len)
				want = max_len;
			nbuf = realloc(buf, want);
			if (nbuf == NULL)
			{
				free(buf);
				return MSI_E_NOMEM;
			}
			buf = nbuf;
			room = want;
		}
		memcpy(buf + used, chunk, n);
		used += n;
	}
	if (used == 0)
	{
		free(buf);
		return MSI_E_EMPTY;
	}
	*body = buf;
	*len = used;
	return MSI_OK;
}

msi_rc
msi_http_exchange(const msi_http_request *r, unsigned char **body, size_t *len)
{
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *path = NULL;
	char	   *query = NULL;
	char	   *target = NULL;
	BIO		   *req = NULL;
	BIO		   *resp = NULL;
	msi_rc		rc;

	*body = NULL;
	*len = 0;
	ERR_clear_error();
	if (r == NULL || r->url == NULL || r->max_len == 0 ||
		(r->content_type != NULL && (r->body == NULL || r->body_len > INT_MAX)))
		return MSI_E_ARG;
	if (strncasecmp(r->url, "https://", 8) == 0)
		return MSI_E_URL_HTTPS;
	if (strncasecmp(r->url, "http://", 7) != 0)
		return MSI_E_URL_SCHEME;
	if (!OSSL_HTTP_parse_url(r->url, NULL, NULL, &host, &port, NULL, &path, &query, NULL))
		return MSI_E_URL;
	target = malloc(strlen(path) + (query ? strlen(query) + 1 : 0) + 1);
	if (target == NULL)
	{
		rc = MSI_E_NOMEM;
		goto done;
	}
	strcpy(target, path);
	/* OpenSSL gives "" for no query: "/int?" would be another resource */
	if (query != NULL && query[0] != '\0')
	{
		strcat(target, "?");
		strcat(target, query);
	}
	if (r->content_type != NULL)
	{
		req = BIO_new_mem_buf(r->body, (int) r->body_len);
		if (req == NULL)
		{
			rc = MSI_E_NOMEM;
			goto done;
		}
	}

	/*
	 * One exchange, no redirection (redirection_url NULL), expect_asn1 1;
	 * proxy "" means no proxy (but a proxy argument and given BIOs do not
	 * go together).
	 */
	resp = OSSL_HTTP_transfer(NULL, host, port, target, 0,
							  r->bio ? NULL : "", NULL, r->bio, r->rbio,
							  NULL, NULL, 0, NULL, r->content_type, req,
							  r->expected_content_type, 1, r->max_len,
							  r->timeout_secs, 0);
	if (resp == NULL)
		rc = MSI_E_HTTP;
	else
		rc = read_all(resp, r->max_len, body, len);

done:
	BIO_free_all(resp);
	BIO_free(req);
	free(target);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	OPENSSL_free(query);
	return rc;
}
