/*
 * libFuzzer harness: OCSP responses as ocsp.c evaluates them
 * (extension/input/ocsp_input.c): decoding, responder status, the answer
 * for the certificate asked about, nonce, signer, freshness.
 * Input: one OCSPResponse (DER).  Fixtures (a PKI, the requests sent) are
 * read at start from the directory in MOBISIGN_FUZZ_OCSP (test/fuzz/run.sh
 * makes them): root.der, issuer.der and, for each certificate asked about
 * (good, revoked), <name>.der and <name>.req.der.  Each input is evaluated
 * for each certificate, once as a fresh answer to the request (nonce) and
 * once as a cached response (no request).
 * Checks: the objects are returned whenever decoded; MSI_OK only with a
 * successful basic response that covers the certificate, is fresh, and
 * echoes the nonce or is recent; a revoked answer has its time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "ocsp_input.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCERTS 2
static const char *const names[NCERTS] = {"good", "revoked"};
static X509_STORE *store;
static STACK_OF(X509) *untrusted;
static OCSP_CERTID *ids[NCERTS];
static OCSP_REQUEST *reqs[NCERTS];

static void *
load(const char *dir, const char *file, void *(*d2i) (void **, const unsigned char **, long))
{
	char		path[4096];
	unsigned char buf[65536];
	const unsigned char *p = buf;
	size_t		n;
	FILE	   *f;
	void	   *obj;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "rb");
	if (f == NULL)
	{
		fprintf(stderr, "fuzz_ocsp_response: cannot read %s (set MOBISIGN_FUZZ_OCSP)\n", path);
		exit(2);
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	obj = d2i(NULL, &p, (long) n);
	if (obj == NULL)
	{
		fprintf(stderr, "fuzz_ocsp_response: %s is not DER\n", path);
		exit(2);
	}
	return obj;
}

static void *
d2i_cert(void **a, const unsigned char **p, long n)
{
	return d2i_X509((X509 **) a, p, n);
}

static void *
d2i_req(void **a, const unsigned char **p, long n)
{
	return d2i_OCSP_REQUEST((OCSP_REQUEST **) a, p, n);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("MOBISIGN_FUZZ_OCSP");
	X509	   *root;
	X509	   *issuer;

	(void) argc;
	(void) argv;
	if (dir == NULL)
	{
		fprintf(stderr, "fuzz_ocsp_response: MOBISIGN_FUZZ_OCSP is not set\n");
		exit(2);
	}
	root = load(dir, "root.der", d2i_cert);
	issuer = load(dir, "issuer.der", d2i_cert);
	store = X509_STORE_new();
	untrusted = sk_X509_new_null();
	FUZZ_CHECK(store && untrusted && X509_STORE_add_cert(store, root));
	FUZZ_CHECK(sk_X509_push(untrusted, issuer));
	X509_VERIFY_PARAM_set_flags(X509_STORE_get0_param(store),
								X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_TRUSTED_FIRST);
	for (int i = 0; i < NCERTS; i++)
	{
		char		file[64];
		X509	   *cert;

		snprintf(file, sizeof(file), "%s.der", names[i]);
		cert = load(dir, file, d2i_cert);
		ids[i] = OCSP_cert_to_id(NULL, cert, issuer);
		FUZZ_CHECK(ids[i] != NULL);
		X509_free(cert);
		snprintf(file, sizeof(file), "%s.req.der", names[i]);
		reqs[i] = load(dir, file, d2i_req);
	}
	X509_free(root);
	return 0;
}

static void
evaluate(const uint8_t *data, size_t size, OCSP_REQUEST *req, OCSP_CERTID *id)
{
	msi_ocsp_query q = {req, id, untrusted, store, time(NULL)};
	msi_ocsp_answer a;
	msi_rc		rc = msi_ocsp_evaluate(data, size, &q, &a);

	if (rc == MSI_E_EMPTY || rc == MSI_E_DER_DECODE)
		FUZZ_CHECK(a.response == NULL);
	else
		FUZZ_CHECK(a.response != NULL);
	if (rc == MSI_E_OCSP_STATUS)
		FUZZ_CHECK(a.response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL);
	if (rc == MSI_OK)
	{
		int			n = req ? OCSP_check_nonce(req, a.basic) : 1;
		time_t		limit = time(NULL) - MSI_OCSP_NONCELESS_MAX_AGE - 60;

		FUZZ_CHECK(a.basic != NULL && a.this_update != NULL);
		FUZZ_CHECK(OCSP_response_status(a.response) == OCSP_RESPONSE_STATUS_SUCCESSFUL);
		FUZZ_CHECK(a.cert_status == V_OCSP_CERTSTATUS_GOOD ||
				   a.cert_status == V_OCSP_CERTSTATUS_REVOKED ||
				   a.cert_status == V_OCSP_CERTSTATUS_UNKNOWN);
		FUZZ_CHECK((a.revoked_at != NULL) == (a.cert_status == V_OCSP_CERTSTATUS_REVOKED));
		FUZZ_CHECK(OCSP_check_validity(a.this_update, a.next_update, MSI_OCSP_SKEW, -1));
		FUZZ_CHECK(n != 0);
		if (n != 1)
			FUZZ_CHECK(X509_cmp_time(a.this_update, &limit) >= 0);
		FUZZ_CHECK(OCSP_resp_find(a.basic, id, -1) >= 0);
	}
	OCSP_BASICRESP_free(a.basic);
	OCSP_RESPONSE_free(a.response);
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int i = 0; i < NCERTS; i++)
	{
		evaluate(data, size, reqs[i], ids[i]);
		evaluate(data, size, NULL, ids[i]);
	}
	return 0;
}
