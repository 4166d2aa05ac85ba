/*
 * libFuzzer harness: HTTP responses as fetch.c receives them from CRL
 * distribution points, certificate URLs and OCSP responders
 * (extension/input/http_input.c, OpenSSL's HTTP client over memory BIOs).
 * Input: byte 0 = flags (bit 0: POST an OCSP request expecting
 * application/ocsp-response, else GET; bits 1-2: size limit 16, 512,
 * 256 KiB or 32 MiB), the rest is the server's whole answer.
 * Checks: the request written is a GET or POST of the URL's path; a body
 * is returned only for a 200 answer, holds 1 to max_len bytes, is ASN.1
 * (starts with a SEQUENCE tag) and is bytes the server sent; a POST's
 * answer has the expected content type.
 */
#define _GNU_SOURCE				/* memmem */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include "http_input.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t limits[4] = {16, 512, MSI_MAX_CERT_LEN, MSI_MAX_CRL_LEN};

/* does the header block (before the first empty line) contain s, any case? */
static int
header_has(const uint8_t *d, size_t n, const char *s)
{
	size_t		sl = strlen(s);

	for (size_t i = 0; i + sl <= n; i++)
	{
		if (i + 4 <= n && memcmp(d + i, "\r\n\r\n", 4) == 0)
			return 0;
		if (strncasecmp((const char *) d + i, s, sl) == 0)
			return 1;
	}
	return 0;
}

/*
 * The status code of the status line "HTTP/x.y code ...", read as a number
 * the way strtoul does after the first white space.
 */
static unsigned long
status_code(const uint8_t *d, size_t n)
{
	const uint8_t *nl = memchr(d, '\n', n);
	size_t		l = nl ? (size_t) (nl - d) : n;
	char	   *line = malloc(l + 1);
	char	   *p;
	unsigned long code;

	FUZZ_CHECK(line != NULL);
	memcpy(line, d, l);
	line[l] = '\0';
	for (p = line; *p && !isspace((unsigned char) *p); p++)
		;
	code = strtoul(p, NULL, 10);
	free(line);
	return code;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char ocsp_req[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	msi_http_request r;
	BIO		   *w;
	BIO		   *rd;
	unsigned char *body = NULL;
	size_t		len = 0;
	msi_rc		rc;
	char	   *sent;
	long		sentlen;

	if (size < 1 || size - 1 > 0x7fffffff)
		return 0;
	memset(&r, 0, sizeof(r));
	r.url = "http://ca.example/path/ca.crl?x=1";
	if (data[0] & 1)
	{
		r.content_type = "application/ocsp-request";
		r.body = ocsp_req;
		r.body_len = sizeof(ocsp_req);
		r.expected_content_type = "application/ocsp-response";
	}
	r.max_len = limits[(data[0] >> 1) & 3];
	w = BIO_new(BIO_s_mem());
	rd = BIO_new_mem_buf(data + 1, (int) (size - 1));
	FUZZ_CHECK(w && rd);
	BIO_set_mem_eof_return(rd, 0);
	r.bio = w;
	r.rbio = rd;
	rc = msi_http_exchange(&r, &body, &len);

	sentlen = BIO_get_mem_data(w, &sent);
	if (rc != MSI_E_ARG && rc != MSI_E_URL)
	{
		const char *start = (data[0] & 1) ? "POST /path/ca.crl?x=1 HTTP/1." : "GET /path/ca.crl?x=1 HTTP/1.";

		FUZZ_CHECK(sentlen >= (long) strlen(start) && memcmp(sent, start, strlen(start)) == 0);
	}
	if (rc == MSI_OK)
	{
		const uint8_t *resp = data + 1;
		size_t		rlen = size - 1;

		FUZZ_CHECK(body != NULL && len >= 1 && len <= r.max_len);
		FUZZ_CHECK(body[0] == 0x30);
		FUZZ_CHECK(memmem(resp, rlen, body, len) != NULL);
		FUZZ_CHECK(rlen >= 12 && memcmp(resp, "HTTP/", 5) == 0);
		FUZZ_CHECK(status_code(resp, rlen) == 200);
		if (r.expected_content_type)
			FUZZ_CHECK(header_has(resp, rlen, r.expected_content_type));
	}
	else
		FUZZ_CHECK(body == NULL && len == 0);
	free(body);
	BIO_free(w);
	BIO_free(rd);
	ERR_clear_error();
	return 0;
}
