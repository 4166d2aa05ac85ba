/*-------------------------------------------------------------------------
 *
 * http_input.h
 *	  One HTTP exchange with a server outside (CRL distribution points,
 *	  certificate URLs, OCSP responders) through OpenSSL's HTTP client, and
 *	  the checks on its response.  Plain C over OpenSSL (see msi.h);
 *	  fetch.c calls it.
 *
 * Only http:// URLs (MSI_E_URL_HTTPS, MSI_E_URL_SCHEME otherwise).  GET
 * when the request has no content type, else POST of the body.  The
 * response is accepted (MSI_OK) only if its status is 200 (a redirect is
 * never followed: it could send the server anywhere), its Content-Type is
 * the expected one when one is expected, its body is ASN.1 DER framed (the
 * objects fetched all are) and holds 1 to max_len bytes (MSI_E_EMPTY,
 * MSI_E_TOO_LARGE); everything else is MSI_E_HTTP, with OpenSSL's reason in
 * its error queue.  No proxy is used (the environment's http_proxy
 * neither).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSI_HTTP_INPUT_H
#define MSI_HTTP_INPUT_H

#include <stddef.h>

#include <openssl/bio.h>

#include "msi.h"

typedef struct msi_http_request
{
	const char *url;			/* http://host[:port]/path[?query] */
	const char *content_type;	/* POST: the body's type; NULL: GET */
	const unsigned char *body;	/* POST: the body */
	size_t		body_len;
	const char *expected_content_type;	/* of the response; NULL: any */
	size_t		max_len;		/* largest response body accepted */
	int			timeout_secs;	/* bound of the whole exchange; 0: none */
	/*
	 * NULL: connect to the URL's host.  Otherwise the request is written to
	 * bio and the response read from rbio (the fuzzers' memory BIOs).
	 */
	BIO		   *bio;
	BIO		   *rbio;
} msi_http_request;

/*
 * On MSI_OK, *body (malloc'd: free() it) holds the *len response bytes.
 */
extern msi_rc msi_http_exchange(const msi_http_request *r, unsigned char **body,
								size_t *len);

#endif							/* MSI_HTTP_INPUT_H */
