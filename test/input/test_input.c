/*
 * test_input.c
 *	  Known-answer and regression tests of the decoders of outside input
 *	  (extension/input): DER/PEM framing, OCSP responses against the
 *	  request, HTTP answers, LDAP values, mobile numbers and PKCS#11 URIs.  Every case a
 *	  fuzzer found stays here.  TAP output; exit status 1 if any test fails.
 *	  Built and run by test/input/run.sh: test_input DATA, DATA being the
 *	  output of test/fuzz/pki_seeds.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "cms_split.h"
#include "der_input.h"
#include "http_input.h"
#include "ldap_input.h"
#include "ocsp_input.h"
#include "pkcs11_uri.h"
#include "tap.h"

static const char *data_dir;

static void
is_rc(msi_rc got, msi_rc want, const char *what)
{
	ok(got == want, what);
	if (got != want)
		tap_diag("got %s, want %s", msi_rc_name(got), msi_rc_name(want));
	ERR_clear_error();
}

/* the file DATA/name, malloc'd, with room for extra bytes after it */
static unsigned char *
slurp(const char *name, size_t *len, size_t extra)
{
	char		path[4096];
	FILE	   *f;
	unsigned char *buf;
	long		n;

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	f = fopen(path, "rb");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
	{
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	rewind(f);
	buf = malloc(n + extra + 1);
	if (buf == NULL || fread(buf, 1, n, f) != (size_t) n)
		exit(2);
	fclose(f);
	*len = n;
	return buf;
}

/* a+b, malloc'd */
static unsigned char *
concat(const unsigned char *a, size_t al, const unsigned char *b, size_t bl, size_t *len)
{
	unsigned char *r = malloc(al + bl + 1);

	memcpy(r, a, al);
	memcpy(r + al, b, bl);
	*len = al + bl;
	return r;
}

static void
test_der(void)
{
	msi_der_detail d;
	X509	   *x;
	X509_CRL   *crl;
	CMS_ContentInfo *cms;
	EVP_PKEY   *pk;
	size_t		len,
				plen,
				l2;
	unsigned char *der = slurp("fx/alice-rsa.der", &len, 1);
	unsigned char *pem = slurp("fx/alice-rsa.pem", &plen, 0);
	unsigned char *two;
	X509_CRL   *crl_too_big = NULL;
	CMS_ContentInfo *cms_too_big = NULL;

	is_rc(msi_parse_certificate(der, len, &x, &d), MSI_OK, "certificate: DER accepted");
	X509_free(x);
	is_rc(msi_parse_certificate(pem, plen, &x, &d), MSI_OK, "certificate: PEM accepted");
	ok(d.pem_objects == 1, "certificate: PEM holds one marker");
	X509_free(x);
	der[len] = 0;
	is_rc(msi_parse_certificate(der, len + 1, &x, &d), MSI_E_TRAILING,
		  "certificate: one byte after the DER is refused");
	ok(d.trailing == 1 && x == NULL, "certificate: the trailing byte is counted, nothing returned");
	two = concat(pem, plen, pem, plen, &l2);
	is_rc(msi_parse_certificate(two, l2, &x, &d), MSI_E_PEM_COUNT,
		  "certificate: PEM with two objects is refused");
	ok(d.pem_objects == 2, "certificate: two markers counted");
	free(two);
	is_rc(msi_parse_certificate(der, 0, &x, &d), MSI_E_EMPTY, "certificate: empty input");
	/* the size is checked before anything is read: the buffer is not that long */
	is_rc(msi_parse_certificate(der, MSI_MAX_CERT_LEN + 1, &x, &d), MSI_E_TOO_LARGE,
		  "certificate: more than MSI_MAX_CERT_LEN bytes refused before decoding");
	ok(d.max_len == MSI_MAX_CERT_LEN && x == NULL, "certificate: ... the limit is reported");
	is_rc(msi_parse_crl(der, MSI_MAX_CRL_LEN + 1, &crl_too_big, &d), MSI_E_TOO_LARGE,
		  "CRL: more than MSI_MAX_CRL_LEN bytes refused before decoding");
	is_rc(msi_parse_cms_signed_data(der, MSI_MAX_CMS_LEN + 1, &cms_too_big, &d), MSI_E_TOO_LARGE,
		  "CMS: more than MSI_MAX_CMS_LEN bytes refused before decoding");
	is_rc(msi_parse_certificate((const unsigned char *) "\xde\xad\xbe\xef", 4, &x, &d),
		  MSI_E_NOT_PEM, "certificate: neither DER nor PEM");
	is_rc(msi_parse_certificate(der, 100, &x, &d), MSI_E_DER_DECODE,
		  "certificate: truncated DER");
	is_rc(msi_parse_crl(der, len, &crl, &d), MSI_E_DER_DECODE, "CRL: a certificate is no CRL");
	free(pem);
	pem = slurp("fx/alpha-int.crl.pem", &plen, 0);
	is_rc(msi_parse_crl(pem, plen, &crl, &d), MSI_OK, "CRL: PEM accepted");
	X509_CRL_free(crl);
	is_rc(msi_parse_public_key(der, len, &pk, &d), MSI_OK, "public key: from a DER certificate");
	EVP_PKEY_free(pk);
	is_rc(msi_parse_public_key(der, len + 1, &pk, &d), MSI_E_DER_DECODE,
		  "public key: a certificate with a trailing byte is neither certificate nor key");
	free(der);
	free(pem);

	/* CMS: the same framing as certificates */
	der = slurp("fx/alice-attached-chain.p7s", &len, 1);
	is_rc(msi_parse_cms_signed_data(der, len, &cms, &d), MSI_OK, "CMS: DER SignedData accepted");
	CMS_ContentInfo_free(cms);
	der[len] = 0;
	is_rc(msi_parse_cms_signed_data(der, len + 1, &cms, &d), MSI_E_TRAILING,
		  "CMS: one byte after the DER is refused");
	free(der);
	pem = slurp("alice-attached.p7s.pem", &plen, 0);
	is_rc(msi_parse_cms_signed_data(pem, plen, &cms, &d), MSI_OK, "CMS: PEM accepted");
	CMS_ContentInfo_free(cms);
	two = concat(pem, plen, pem, plen, &l2);
	is_rc(msi_parse_cms_signed_data(two, l2, &cms, &d), MSI_E_PEM_COUNT,
		  "CMS: PEM holding two signatures is refused (it was read as the first)");
	free(two);
	free(pem);
	der = slurp("data.p7m", &len, 0);
	is_rc(msi_parse_cms_signed_data(der, len, &cms, &d), MSI_E_TYPE,
		  "CMS: a ContentInfo of type data is no SignedData");
	ok(cms == NULL && strcmp(d.type_oid, "1.2.840.113549.1.7.1") == 0, "CMS: ... the type found is named");
	free(der);
}

/*
 * cms_split: a SignedData with the signer and the intermediate splits into
 * two certificates and a structure that parses to the same SignedData
 * without them; one without certificates, a truncated one, one whose
 * certificates field holds a non-certificate, and BER are not split.
 */
static void
test_cms_split(void)
{
	size_t		len;
	unsigned char *der = slurp("fx/alice-attached-chain.p7s", &len, 0);
	unsigned char *out = malloc(len);
	msi_cms_split sp;
	msi_der_detail d;
	CMS_ContentInfo *cms = NULL;
	CMS_ContentInfo *orig = NULL;
	STACK_OF(X509) *certs;

	is_rc(msi_cms_split_certificates(der, len, out, &sp), MSI_OK, "cms_split: signer + intermediate split");
	ok(sp.ncerts == 2 && sp.stripped_len < len, "cms_split: ... two certificates, a shorter structure");
	is_rc(msi_parse_cms_signed_data(out, sp.stripped_len, &cms, &d), MSI_OK,
		  "cms_split: ... the structure parses");
	is_rc(msi_parse_cms_signed_data(der, len, &orig, &d), MSI_OK, "cms_split: ... as does the original");
	certs = cms ? CMS_get1_certs(cms) : NULL;
	ok(cms != NULL && certs == NULL, "cms_split: ... and carries no certificate");
	sk_X509_pop_free(certs, X509_free);
	certs = orig ? CMS_get1_certs(orig) : NULL;
	for (int i = 0; i < 2 && certs && sk_X509_num(certs) == 2; i++)
	{
		const unsigned char *p = sp.certs[i].data;
		X509	   *x = d2i_X509(NULL, &p, (long) sp.certs[i].len);

		ok(x != NULL && X509_cmp(x, sk_X509_value(certs, i)) == 0 && p == sp.certs[i].data + sp.certs[i].len,
		   i == 0 ? "cms_split: certificate 1 is the original's" : "cms_split: certificate 2 is the original's");
		X509_free(x);
	}
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	CMS_ContentInfo_free(orig);
	is_rc(msi_cms_split_certificates(der, len - 1, out, &sp), MSI_E_VALUE, "cms_split: a truncated input is not split");
	/* the first certificate's SEQUENCE tag made a SET: not an X.509 certificate */
	if (msi_cms_split_certificates(der, len, out, &sp) == MSI_OK)
	{
		size_t		at = (size_t) (sp.certs[0].data - der);

		der[at] = 0x31;
		is_rc(msi_cms_split_certificates(der, len, out, &sp), MSI_E_VALUE,
			  "cms_split: a certificates field holding a non-certificate is not split");
		der[at] = 0x30;
	}
	der[1] = 0x80;				/* indefinite length (BER) */
	is_rc(msi_cms_split_certificates(der, len, out, &sp), MSI_E_VALUE, "cms_split: BER is not split");
	free(der);
	free(out);
	der = slurp("fx/alice-detached-nocerts.p7s", &len, 0);
	out = malloc(len);
	is_rc(msi_cms_split_certificates(der, len, out, &sp), MSI_E_VALUE, "cms_split: nothing to split without certificates");
	free(der);
	free(out);
}

/* a distribution point with one fullName URI of len bytes */
static DIST_POINT *
dp_with_uri(const char *uri, int len)
{
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	ASN1_STRING_set(s, uri, len);
	GENERAL_NAME_set0_value(gn, GEN_URI, s);
	dp->distpoint = DIST_POINT_NAME_new();
	dp->distpoint->type = 0;
	dp->distpoint->name.fullname = GENERAL_NAMES_new();
	sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn);
	return dp;
}

static void
collect_uri(const char *uri, size_t len, void *arg)
{
	char	   *out = arg;

	if (strlen(out) + len + 2 < 256)
	{
		strncat(out, uri, len);
		strcat(out, " ");
	}
}

static void
test_dp_uris(void)
{
	STACK_OF(DIST_POINT) *dps = sk_DIST_POINT_new_null();
	char	   *longuri = malloc(MSI_MAX_URI_LEN + 1);
	char		got[256] = "";

	memset(longuri, 'a', MSI_MAX_URI_LEN + 1);
	sk_DIST_POINT_push(dps, dp_with_uri("http://ca.example/a.crl", 23));
	sk_DIST_POINT_push(dps, dp_with_uri("http://ca.example/\0evil", 23));
	sk_DIST_POINT_push(dps, dp_with_uri("", 0));
	sk_DIST_POINT_push(dps, dp_with_uri(longuri, MSI_MAX_URI_LEN + 1));
	sk_DIST_POINT_push(dps, DIST_POINT_new());	/* no distributionPoint */
	sk_DIST_POINT_push(dps, dp_with_uri("ldap://ca.example/cn=CA", 23));
	msi_distribution_point_uris(dps, collect_uri, got);
	ok(strcmp(got, "http://ca.example/a.crl ldap://ca.example/cn=CA ") == 0,
	   "distribution points: URIs with a NUL, empty or over 2048 bytes are not fetched");
	got[0] = '\0';
	msi_distribution_point_uris(NULL, collect_uri, got);
	ok(got[0] == '\0', "distribution points: none, no URI");
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	free(longuri);
}

static OCSP_REQUEST *
load_req(const char *name)
{
	size_t		len;
	unsigned char *b = slurp(name, &len, 0);
	const unsigned char *p = b;
	OCSP_REQUEST *r = d2i_OCSP_REQUEST(NULL, &p, (long) len);

	free(b);
	return r;
}

static X509 *
load_cert(const char *name)
{
	size_t		len;
	unsigned char *b = slurp(name, &len, 0);
	const unsigned char *p = b;
	X509	   *x = d2i_X509(NULL, &p, (long) len);

	free(b);
	return x;
}

/* the time of the check ocsp() asks about: 0 for now */
static time_t ocsp_at;

static msi_rc
ocsp(const char *resp, OCSP_REQUEST *req, OCSP_CERTID *id, STACK_OF(X509) *certs,
	 X509_STORE *store, int *status, size_t extra)
{
	char		name[256];
	size_t		len;
	unsigned char *b;
	msi_ocsp_query q = {req, id, certs, store, ocsp_at ? ocsp_at : time(NULL)};
	msi_ocsp_answer a;
	msi_rc		rc;

	snprintf(name, sizeof(name), "ocsp/%s.resp.der", resp);
	b = slurp(name, &len, extra);
	memset(b + len, 0, extra);
	rc = msi_ocsp_evaluate(b, len + extra, &q, &a);
	*status = a.cert_status;
	if (rc == MSI_OK && a.cert_status == V_OCSP_CERTSTATUS_REVOKED && a.revoked_at == NULL)
		rc = MSI_E_VALUE;
	OCSP_BASICRESP_free(a.basic);
	OCSP_RESPONSE_free(a.response);
	free(b);
	return rc;
}

static void
test_ocsp(void)
{
	X509	   *root = load_cert("ocsp/root.der");
	X509	   *issuer = load_cert("ocsp/issuer.der");
	X509	   *good = load_cert("ocsp/good.der");
	X509	   *revoked = load_cert("ocsp/revoked.der");
	X509	   *beta = load_cert("fx/beta-root.der");
	OCSP_REQUEST *good_req = load_req("ocsp/good.req.der");
	OCSP_REQUEST *rev_req = load_req("ocsp/revoked.req.der");
	OCSP_CERTID *good_id = OCSP_cert_to_id(NULL, good, issuer);
	OCSP_CERTID *rev_id = OCSP_cert_to_id(NULL, revoked, issuer);
	X509_STORE *store = X509_STORE_new();
	X509_STORE *other = X509_STORE_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	int			st = -1;

	X509_STORE_add_cert(store, root);
	X509_STORE_add_cert(other, beta);	/* another PKI's anchor */
	sk_X509_push(chain, issuer);

	is_rc(ocsp("good-by-ca", good_req, good_id, chain, store, &st, 0), MSI_OK,
		  "OCSP: the CA's answer to our request");
	ok(st == V_OCSP_CERTSTATUS_GOOD, "OCSP: ... good");
	is_rc(ocsp("good-by-ca", NULL, good_id, chain, store, &st, 0), MSI_OK,
		  "OCSP: the same response from the cache (no request)");
	is_rc(ocsp("good-by-delegate", good_req, good_id, chain, store, &st, 0), MSI_OK,
		  "OCSP: a delegated responder (OCSPSigning) with its certificate");
	is_rc(ocsp("good-by-keyid-nocerts", good_req, good_id, chain, store, &st, 0),
		  MSI_E_OCSP_SIGNATURE, "OCSP: a delegate whose certificate is not sent cannot be checked");
	is_rc(ocsp("revoked-by-ca", rev_req, rev_id, chain, store, &st, 0), MSI_OK,
		  "OCSP: carol's answer");
	ok(st == V_OCSP_CERTSTATUS_REVOKED, "OCSP: ... revoked, with its revocation time");
	is_rc(ocsp("revoked-by-ca", good_req, good_id, chain, store, &st, 0),
		  MSI_E_OCSP_NOT_COVERED, "OCSP: carol's answer does not cover alice");
	is_rc(ocsp("good-other-nonce", good_req, good_id, chain, store, &st, 0), MSI_E_OCSP_NONCE,
		  "OCSP: the answer to another request (its nonce) is refused");
	is_rc(ocsp("good-other-nonce", NULL, good_id, chain, store, &st, 0), MSI_OK,
		  "OCSP: ... but is usable as a cached response (no request to match)");
	is_rc(ocsp("good-nononce", good_req, good_id, chain, store, &st, 0), MSI_OK,
		  "OCSP: a fresh answer without nonce is accepted (thisUpdate now)");
	is_rc(ocsp("good-by-bob", good_req, good_id, chain, store, &st, 0), MSI_E_OCSP_SIGNATURE,
		  "OCSP: signed by a key that is neither the CA nor a delegate");
	is_rc(ocsp("good-by-ca", good_req, good_id, chain, other, &st, 0), MSI_E_OCSP_SIGNATURE,
		  "OCSP: a CA that does not lead to the PKI's anchors is not trusted");
	is_rc(ocsp("good-by-ca", good_req, good_id, chain, store, &st, 1), MSI_E_TRAILING,
		  "OCSP: one byte after the response is refused");
	/* a check at a past time: a response made now says nothing about then */
	ocsp_at = time(NULL) - 86400;
	is_rc(ocsp("revoked-by-ca", NULL, rev_id, chain, store, &st, 0), MSI_E_OCSP_LATER,
		  "OCSP: at a time before its thisUpdate a response is not usable (as a later CRL)");
	ocsp_at = 0;
	{
		static const unsigned char try_later[] = {0x30, 0x03, 0x0a, 0x01, 0x03};
		msi_ocsp_query q = {good_req, good_id, chain, store, time(NULL)};
		msi_ocsp_answer a;

		is_rc(msi_ocsp_evaluate(try_later, sizeof(try_later), &q, &a), MSI_E_OCSP_STATUS,
			  "OCSP: responder status tryLater");
		ok(a.response_status == OCSP_RESPONSE_STATUS_TRYLATER && a.basic == NULL,
		   "OCSP: ... the status is given back");
		OCSP_RESPONSE_free(a.response);
	}
	OCSP_CERTID_free(good_id);
	OCSP_CERTID_free(rev_id);
	OCSP_REQUEST_free(good_req);
	OCSP_REQUEST_free(rev_req);
	X509_STORE_free(store);
	X509_STORE_free(other);
	sk_X509_free(chain);
	X509_free(root);
	X509_free(issuer);
	X509_free(good);
	X509_free(revoked);
	X509_free(beta);
}

/* the request line of the last exchange */
static char sent_line[256];

/* one exchange over memory BIOs; returns the rc, the body in *body */
static msi_rc
http(const char *url, int post, const char *answer, size_t alen, size_t max_len,
	 unsigned char **body, size_t *len)
{
	char	   *sent;
	long		sentlen;
	static const unsigned char req[] = {0x30, 0x00};
	msi_http_request r;
	BIO		   *w = BIO_new(BIO_s_mem());
	BIO		   *rd = BIO_new_mem_buf(answer, (int) alen);
	msi_rc		rc;

	BIO_set_mem_eof_return(rd, 0);
	memset(&r, 0, sizeof(r));
	r.url = url;
	if (post)
	{
		r.content_type = "application/ocsp-request";
		r.body = req;
		r.body_len = sizeof(req);
		r.expected_content_type = "application/ocsp-response";
	}
	r.max_len = max_len;
	r.bio = w;
	r.rbio = rd;
	rc = msi_http_exchange(&r, body, len);
	sentlen = BIO_get_mem_data(w, &sent);
	sent_line[0] = '\0';
	if (sentlen > 0)
	{
		size_t		l = strcspn(sent, "\r");

		if (l >= sizeof(sent_line) || l > (size_t) sentlen)
			l = (size_t) sentlen < sizeof(sent_line) - 1 ? (size_t) sentlen : sizeof(sent_line) - 1;
		memcpy(sent_line, sent, l);
		sent_line[l] = '\0';
	}
	BIO_free(w);
	BIO_free(rd);
	return rc;
}

static void
test_http(void)
{
	static const char ok200[] = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n\x30\x03\x02\x01\x05";
	static const char ocsp200[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n\r\n\x30\x03\x02\x01\x05";
	static const char html[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n\x30\x03\x02\x01\x05";
	static const char redirect[] = "HTTP/1.1 302 Found\r\nLocation: http://evil.invalid/\r\n\r\n";
	static const char notfound[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	static const char text[] = "HTTP/1.0 200 OK\r\n\r\nhello";
	unsigned char *body = NULL;
	size_t		len = 0;

	is_rc(http("http://ca.example/a.crl", 0, ok200, sizeof(ok200) - 1, 1024, &body, &len), MSI_OK,
		  "HTTP: GET, 200 with a DER body");
	ok(len == 5 && body && body[0] == 0x30, "HTTP: ... the body is returned");
	ok(strcmp(sent_line, "GET /a.crl HTTP/1.0") == 0, "HTTP: ... the request is GET /a.crl");
	if (strcmp(sent_line, "GET /a.crl HTTP/1.0") != 0)
		printf("#   sent [%s]\n", sent_line);
	free(body);
	body = NULL;
	is_rc(http("http://ca.example/a.crl", 0, ok200, sizeof(ok200) - 1, 4, &body, &len), MSI_E_HTTP,
		  "HTTP: a body larger than the limit is refused");
	ok(body == NULL && len == 0, "HTTP: ... nothing returned");
	is_rc(http("http://ca.example/a.crl", 0, redirect, sizeof(redirect) - 1, 1024, &body, &len),
		  MSI_E_HTTP, "HTTP: a redirect is not followed");
	is_rc(http("http://ca.example/a.crl", 0, notfound, sizeof(notfound) - 1, 1024, &body, &len),
		  MSI_E_HTTP, "HTTP: 404");
	is_rc(http("http://ca.example/a.crl", 0, text, sizeof(text) - 1, 1024, &body, &len),
		  MSI_E_HTTP, "HTTP: a body that is not ASN.1");
	is_rc(http("http://ocsp.example/int", 1, ocsp200, sizeof(ocsp200) - 1, 1024, &body, &len), MSI_OK,
		  "HTTP: POST, the expected content type");
	/* found by test/e2e/40_directory.sh: "/int?" reached no OCSP responder */
	ok(strcmp(sent_line, "POST /int HTTP/1.0") == 0, "HTTP: ... the request is POST /int (no empty query)");
	free(body);
	body = NULL;
	is_rc(http("http://ca.example/get?id=7&x=%41", 0, ok200, sizeof(ok200) - 1, 1024, &body, &len),
		  MSI_OK, "HTTP: a URL with a query");
	ok(strcmp(sent_line, "GET /get?id=7&x=%41 HTTP/1.0") == 0, "HTTP: ... the query is sent");
	free(body);
	body = NULL;
	is_rc(http("http://ocsp.example/", 1, html, sizeof(html) - 1, 1024, &body, &len), MSI_E_HTTP,
		  "HTTP: POST, another content type is refused");
	is_rc(http("https://ca.example/a.crl", 0, ok200, sizeof(ok200) - 1, 1024, &body, &len),
		  MSI_E_URL_HTTPS, "HTTP: https URLs are refused");
	is_rc(http("ftp://ca.example/a.crl", 0, ok200, sizeof(ok200) - 1, 1024, &body, &len),
		  MSI_E_URL_SCHEME, "HTTP: other schemes are refused");
	is_rc(http("http://[::1/a", 0, ok200, sizeof(ok200) - 1, 1024, &body, &len), MSI_E_URL,
		  "HTTP: a malformed URL");
}

static void
test_ldap(void)
{
	struct berval v[4] = {
		{0, ""}, {3, "abc"}, {70, "0123456789012345678901234567890123456789012345678901234567890123456789"},
		{2, "xy"}
	};
	struct berval *vals[5] = {&v[0], &v[1], &v[2], &v[3], NULL};
	size_t		keep[4];
	char		out[80];

	ok(msi_ldap_attr_matches("userCertificate;binary", "usercertificate"),
	   "LDAP: options and case are ignored");
	ok(!msi_ldap_attr_matches("userCertificateX", "userCertificate"), "LDAP: a longer name is another");
	ok(!msi_ldap_attr_matches("", "") && !msi_ldap_attr_matches(";binary", ";binary"),
	   "LDAP: an empty name matches nothing");
	ok(msi_ldap_pick_values(vals, 64, 4, keep) == 2 && keep[0] == 1 && keep[1] == 3,
	   "LDAP: empty and oversized values are skipped");
	ok(msi_ldap_pick_values(vals, 64, 1, keep) == 1 && keep[0] == 1, "LDAP: at most room values");
	ok(msi_ldap_pick_values(NULL, 64, 4, keep) == 0, "LDAP: no values");

	is_rc(msi_msisdn_normalise("+358 40 123-4567", 16, out, sizeof(out)), MSI_OK,
		  "MSISDN: separators removed");
	ok(strcmp(out, "+358401234567") == 0, "MSISDN: ... +358401234567");
	is_rc(msi_msisdn_normalise("(040) 123.45/67", 15, out, sizeof(out)), MSI_OK, "MSISDN: national form");
	ok(strcmp(out, "0401234567") == 0, "MSISDN: ... 0401234567");
	/* found by fuzz_ldap_entry's invariant: these were kept as the number "+" */
	is_rc(msi_msisdn_normalise("+", 1, out, sizeof(out)), MSI_E_VALUE, "MSISDN: \"+\" alone is no number");
	ok(out[0] == '\0', "MSISDN: ... nothing kept");
	is_rc(msi_msisdn_normalise("(+)", 3, out, sizeof(out)), MSI_E_VALUE, "MSISDN: \"(+)\" is no number");
	is_rc(msi_msisdn_normalise(" - ", 3, out, sizeof(out)), MSI_E_VALUE, "MSISDN: separators only");
	is_rc(msi_msisdn_normalise("++358", 5, out, sizeof(out)), MSI_E_VALUE, "MSISDN: a second +");
	is_rc(msi_msisdn_normalise("358+1", 5, out, sizeof(out)), MSI_E_VALUE, "MSISDN: + inside");
	is_rc(msi_msisdn_normalise("35840\n", 6, out, sizeof(out)), MSI_E_VALUE, "MSISDN: a control byte");
	is_rc(msi_msisdn_normalise("3584\0" "0", 6, out, sizeof(out)), MSI_E_VALUE, "MSISDN: a NUL byte");
	is_rc(msi_msisdn_normalise("12345", 5, out, 5), MSI_E_TOO_LARGE, "MSISDN: output bounded");
	ok(out[0] == '\0', "MSISDN: ... and empty");
	/* found by fuzz_ldap_entry: a refused value left its first digits, unterminated */
	memset(out, 'x', sizeof(out));
	is_rc(msi_msisdn_normalise("+358\x10" "40", 7, out, sizeof(out)), MSI_E_VALUE,
		  "MSISDN: a control byte after digits");
	ok(out[0] == '\0', "MSISDN: ... nothing kept, the output terminated");
}

/* PKCS#11 URIs (RFC 7512) as the key GUCs accept them */
static msi_rc
p11(const char *s, msi_p11_uri *u)
{
	const char *why = NULL;
	msi_rc		rc = msi_p11_uri_parse(s, strlen(s), u, &why);

	if (rc != MSI_OK && why == NULL)
		printf("#   no reason given for %s\n", s);
	return rc;
}

static void
test_pkcs11_uri(void)
{
	msi_p11_uri u;
	char		big[MSI_P11_URI_MAX + 2];
	char		lbl[200];
	const char *why = NULL;

	is_rc(p11("pkcs11:token=mobisign;object=sp-key;type=private", &u), MSI_OK, "PKCS#11 URI: token, object, type");
	ok(u.has_token && strcmp(u.token, "mobisign") == 0 && u.has_object &&
	   strcmp(u.object, "sp-key") == 0 && u.object_len == 6 && !u.has_id &&
	   u.type == MSI_P11_TYPE_PRIVATE, "PKCS#11 URI: ... the values");
	is_rc(p11("PKCS11:object=My%20Key%3b1;id=%01%ff%Aa", &u), MSI_OK, "PKCS#11 URI: scheme in any case, escapes");
	ok(strcmp(u.object, "My Key;1") == 0 && u.has_id && u.id_len == 3 && u.id[0] == 1 &&
	   u.id[1] == 0xff && u.id[2] == 0xaa && !u.has_token && u.type == MSI_P11_TYPE_ANY,
	   "PKCS#11 URI: ... decoded");
	is_rc(p11("pkcs11:id=%02;type=secret-key", &u), MSI_OK, "PKCS#11 URI: id alone");
	ok(u.type == MSI_P11_TYPE_SECRET_KEY && u.id_len == 1, "PKCS#11 URI: ... secret-key");
	ok(msi_p11_uri_is("pkcs11:x") && msi_p11_uri_is("Pkcs11:") && !msi_p11_uri_is("/etc/pkcs11:x") &&
	   !msi_p11_uri_is(NULL) && !msi_p11_uri_is("pkcs11"), "PKCS#11 URI: the scheme test");

	is_rc(p11("/etc/mobisign/sp.key", &u), MSI_E_URL_SCHEME, "PKCS#11 URI: a path is not one");
	is_rc(p11("pkcs11:", &u), MSI_E_VALUE, "PKCS#11 URI: empty");
	is_rc(p11("pkcs11:token=mobisign", &u), MSI_E_VALUE, "PKCS#11 URI: no object or id");
	ok(!u.has_token && u.token[0] == '\0', "PKCS#11 URI: ... nothing left in the output");
	is_rc(p11("pkcs11:object=k?pin-value=1234", &u), MSI_E_VALUE, "PKCS#11 URI: a PIN in the query is refused");
	is_rc(p11("pkcs11:object=k?module-path=/tmp/x.so", &u), MSI_E_VALUE, "PKCS#11 URI: a module in the query is refused");
	is_rc(p11("pkcs11:object=k#frag", &u), MSI_E_VALUE, "PKCS#11 URI: a fragment");
	is_rc(p11("pkcs11:object=k;serial=1234", &u), MSI_E_VALUE, "PKCS#11 URI: an attribute not supported");
	is_rc(p11("pkcs11:object=k;type=secret", &u), MSI_E_VALUE, "PKCS#11 URI: an unknown type");
	is_rc(p11("pkcs11:object=a;object=b", &u), MSI_E_URL, "PKCS#11 URI: an attribute twice");
	is_rc(p11("pkcs11:type=cert;type=cert;object=a", &u), MSI_E_URL, "PKCS#11 URI: type twice");
	is_rc(p11("pkcs11:object=a;;id=%01", &u), MSI_E_URL, "PKCS#11 URI: an empty attribute");
	is_rc(p11("pkcs11:object=a;", &u), MSI_E_URL, "PKCS#11 URI: a trailing ';'");
	is_rc(p11("pkcs11:object", &u), MSI_E_URL, "PKCS#11 URI: no '='");
	is_rc(p11("pkcs11:object=", &u), MSI_E_URL, "PKCS#11 URI: an empty value");
	is_rc(p11("pkcs11:object=a%2", &u), MSI_E_URL, "PKCS#11 URI: a truncated escape");
	is_rc(p11("pkcs11:object=a%", &u), MSI_E_URL, "PKCS#11 URI: a lone '%'");
	is_rc(p11("pkcs11:object=a%g0", &u), MSI_E_URL, "PKCS#11 URI: a bad escape");
	is_rc(p11("pkcs11:object=a%00b", &u), MSI_E_URL, "PKCS#11 URI: a NUL in a label");
	is_rc(p11("pkcs11:id=%00%01", &u), MSI_OK, "PKCS#11 URI: a NUL in an id is a byte like any");
	is_rc(p11("pkcs11:object=a b", &u), MSI_E_URL, "PKCS#11 URI: a space must be encoded");
	is_rc(p11("pkcs11:object=a\nb", &u), MSI_E_URL, "PKCS#11 URI: a control byte");
	is_rc(p11("pkcs11:object=\xc3\xa4", &u), MSI_E_URL, "PKCS#11 URI: a non-ASCII byte must be encoded");
	is_rc(p11("pkcs11:object=a=b", &u), MSI_E_URL, "PKCS#11 URI: a second '=' must be encoded");
	is_rc(p11("pkcs11:object=%c3%a4", &u), MSI_OK, "PKCS#11 URI: ... encoded, it is a label byte");

	/* bounds: the token label, the object label, the id, the whole URI */
	is_rc(p11("pkcs11:object=k;token=0123456789abcdef0123456789abcdef", &u), MSI_OK,
		  "PKCS#11 URI: a 32-byte token label");
	is_rc(p11("pkcs11:object=k;token=0123456789abcdef0123456789abcdefX", &u), MSI_E_TOO_LARGE,
		  "PKCS#11 URI: a 33-byte token label");
	memset(lbl, 0, sizeof(lbl));
	memcpy(lbl, "pkcs11:object=", 14);
	memset(lbl + 14, 'o', MSI_P11_OBJECT_MAX);
	is_rc(p11(lbl, &u), MSI_OK, "PKCS#11 URI: an object label of the longest size");
	ok(u.object_len == MSI_P11_OBJECT_MAX && u.object[MSI_P11_OBJECT_MAX] == '\0',
	   "PKCS#11 URI: ... terminated");
	lbl[14 + MSI_P11_OBJECT_MAX] = 'o';
	is_rc(p11(lbl, &u), MSI_E_TOO_LARGE, "PKCS#11 URI: one byte more");
	memset(big, 0, sizeof(big));
	memcpy(big, "pkcs11:id=", 10);
	memset(big + 10, 'i', MSI_P11_ID_MAX + 1);
	is_rc(p11(big, &u), MSI_E_TOO_LARGE, "PKCS#11 URI: an id too long");
	memset(big + 10, 'x', MSI_P11_URI_MAX + 1 - 10);
	is_rc(p11(big, &u), MSI_E_TOO_LARGE, "PKCS#11 URI: longer than the URI bound");
	is_rc(msi_p11_uri_parse("pkcs11:object=abc", 14, &u, &why), MSI_E_URL,
		  "PKCS#11 URI: only len bytes are read");
	ok(why != NULL && strchr(why, '\n') == NULL, "PKCS#11 URI: a reason, one line");
	is_rc(msi_p11_uri_parse(NULL, 0, &u, NULL), MSI_E_URL_SCHEME, "PKCS#11 URI: no bytes");
}

int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: test_input DATA (the output of test/fuzz/pki_seeds.sh)\n");
		return 2;
	}
	data_dir = argv[1];
	test_der();
	test_cms_split();
	test_dp_uris();
	test_ocsp();
	test_http();
	test_ldap();
	test_pkcs11_uri();
	return tap_done();
}
