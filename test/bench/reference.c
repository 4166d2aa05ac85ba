/*
 * reference.c
 *	  The reference side of `make bench`: the same verifications mobisign
 *	  does, called straight from C with OpenSSL and no database, so that the
 *	  figures printed by test/bench/run.sh are ratios measured in one run.
 *
 *	  usage: reference FIXTURE_DIR SECONDS
 *	  prints lines "name ops_per_second"
 */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
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
	if (fread(buf, 1, *len, f) != (size_t) *len)
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
	return x;
}

static X509_CRL *
crl(const char *name)
{
	long		len;
	unsigned char *b = slurp(name, &len);
	const unsigned char *p = b;
	X509_CRL   *c = d2i_X509_CRL(NULL, &p, len);

	free(b);
	return c;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the same store settings as extension/pki_store.c and validate.c */
static X509_STORE *store;
static STACK_OF(X509_CRL) *crls;
static STACK_OF(X509) *inter;

static int
validate(X509 *leaf, STACK_OF(X509) *extra)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *all = sk_X509_dup(inter);
	int			ok;

	for (int i = 0; extra && i < sk_X509_num(extra); i++)
		sk_X509_push(all, sk_X509_value(extra, i));
	X509_STORE_CTX_init(ctx, store, leaf, all);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
								X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
								X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS);
	X509_STORE_CTX_set0_crls(ctx, crls);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(all);
	return ok;
}

int
main(int argc, char **argv)
{
	double		seconds;
	X509	   *alice;
	X509	   *bob;
	long		siglen,
				contentlen,
				rawlen;
	unsigned char *sig,
			   *content,
			   *raw;
	STACK_OF(ASN1_OBJECT) *pol;

	if (argc != 3)
	{
		fprintf(stderr, "usage: reference FIXTURE_DIR SECONDS\n");
		return 2;
	}
	dir = argv[1];
	seconds = atof(argv[2]);

	store = X509_STORE_new();
	X509_STORE_add_cert(store, cert("alpha-root.der"));
	X509_VERIFY_PARAM_set_flags(X509_STORE_get0_param(store),
								X509_V_FLAG_POLICY_CHECK | X509_V_FLAG_PARTIAL_CHAIN |
								X509_V_FLAG_TRUSTED_FIRST);
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_get0_param(store), 2);
	X509_VERIFY_PARAM_set_purpose(X509_STORE_get0_param(store), X509_PURPOSE_ANY);
	pol = sk_ASN1_OBJECT_new_null();
	sk_ASN1_OBJECT_push(pol, OBJ_dup(OBJ_nid2obj(NID_any_policy)));
	X509_VERIFY_PARAM_set1_policies(X509_STORE_get0_param(store), pol);
	crls = sk_X509_CRL_new_null();
	sk_X509_CRL_push(crls, crl("alpha-root.crl.der"));
	sk_X509_CRL_push(crls, crl("alpha-int.crl.der"));
	inter = sk_X509_new_null();
	sk_X509_push(inter, cert("alpha-int.der"));
	alice = cert("alice-rsa.der");
	bob = cert("bob-ec.der");
	sig = slurp("alice-detached-chain.p7s", &siglen);
	content = slurp("content.txt", &contentlen);
	raw = slurp("bob-raw-sha256.sig", &rawlen);

	/* path validation */
	{
		double		t0 = now();
		long		n = 0;

		while (now() - t0 < seconds)
		{
			if (validate(alice, NULL) != 1)
			{
				fprintf(stderr, "reference validation failed\n");
				return 1;
			}
			n++;
		}
		printf("validate %.1f\n", n / (now() - t0));
	}

	/* CMS verification: signature, then the signer's path */
	{
		double		t0 = now();
		long		n = 0;

		while (now() - t0 < seconds)
		{
			const unsigned char *p = sig;
			CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, siglen);
			BIO		   *bio = BIO_new_mem_buf(content, contentlen);
			STACK_OF(X509) *certs = CMS_get1_certs(cms);
			STACK_OF(X509) *signers = sk_X509_new_null();
			CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
			X509	   *signer = NULL;

			for (int i = 0; i < sk_X509_num(certs); i++)
				if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0)
					signer = sk_X509_value(certs, i);
			sk_X509_push(signers, signer);
			if (CMS_verify(cms, signers, NULL, bio, NULL,
						   CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY | CMS_NOCRL) != 1 ||
				validate(signer, certs) != 1)
			{
				fprintf(stderr, "reference CMS verification failed\n");
				return 1;
			}
			sk_X509_free(signers);
			sk_X509_pop_free(certs, X509_free);
			BIO_free(bio);
			CMS_ContentInfo_free(cms);
			n++;
		}
		printf("cms_verify %.1f\n", n / (now() - t0));
	}

	/* raw ECDSA P-256 signature */
	{
		double		t0 = now();
		long		n = 0;

		while (now() - t0 < seconds)
		{
			EVP_MD_CTX *md = EVP_MD_CTX_new();

			if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(bob)) != 1 ||
				EVP_DigestVerify(md, raw, rawlen, content, contentlen) != 1)
			{
				fprintf(stderr, "reference raw verification failed\n");
				return 1;
			}
			EVP_MD_CTX_free(md);
			n++;
		}
		printf("raw_ecdsa %.1f\n", n / (now() - t0));
	}
	return 0;
}
