/*
 * reference.c
 *	  The reference side of `make bench`: the irreducible work of a
 *	  verification, one EVP_DigestVerify of a signature over the content
 *	  with a key parsed once (as `openssl speed` measures it), for ECDSA
 *	  P-256 and RSA-2048 (PKCS#1 v1.5, SHA-256).  Everything else mobisign
 *	  does (parsing, the chain, CRLs, the audit row) is overhead against it.
 *
 *	  usage: reference FIXTURE_DIR SECONDS
 *	  prints lines "name ops_per_second ops_per_cpu_second": per second of
 *	  elapsed time, and per second of this process's CPU time (what the
 *	  work costs, whatever else the machine runs meanwhile)
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *dir;

static unsigned char *
slurp(const char *name, long *len)
{
	char		path[1024];
	FILE	   *f;
	unsigned char *buf;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
	{
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len);
	if (buf == NULL || fread(buf, 1, *len, f) != (size_t) *len)
		exit(2);
	fclose(f);
	return buf;
}

static X509 *
cert(const char *name)
{
	long		len;
	unsigned char *b = slurp(name, &len);
	const unsigned char *p = b;
	X509	   *x = d2i_X509(NULL, &p, len);

	free(b);
	if (x == NULL)
	{
		fprintf(stderr, "reference: %s is not a certificate\n", name);
		exit(2);
	}
	return x;
}

static double
clock_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
now(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

/* EVP_DigestVerify of sigfile over content.txt with certfile's key, timed */
static void
digest_verify(const char *label, const char *certfile, const char *sigfile, double seconds)
{
	X509	   *x = cert(certfile);
	EVP_PKEY   *key = X509_get0_pubkey(x);
	long		siglen,
				contentlen;
	unsigned char *sig = slurp(sigfile, &siglen);
	unsigned char *content = slurp("content.txt", &contentlen);
	double		t0 = now();
	double		cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
	long		n = 0;

	while (now() - t0 < seconds)
	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		if (md == NULL || key == NULL ||
			EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
			EVP_DigestVerify(md, sig, siglen, content, contentlen) != 1)
		{
			fprintf(stderr, "reference: %s does not verify\n", sigfile);
			exit(1);
		}
		EVP_MD_CTX_free(md);
		n++;
	}
	printf("%s %.1f %.1f\n", label, n / (now() - t0),
		   n / (clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0));
	fflush(stdout);
	X509_free(x);
	free(sig);
	free(content);
}

int
main(int argc, char **argv)
{
	double		seconds;

	if (argc != 3)
	{
		fprintf(stderr, "usage: reference FIXTURE_DIR SECONDS\n");
		return 2;
	}
	dir = argv[1];
	seconds = atof(argv[2]);
	digest_verify("p256", "gina-ec.der", "gina-raw-sha256.sig", seconds);
	digest_verify("rsa2048", "dora-rsa.der", "dora-raw-sha256.sig", seconds);
	return 0;
}
