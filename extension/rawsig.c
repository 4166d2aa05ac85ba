/*-------------------------------------------------------------------------
 *
 * rawsig.c
 *	  Raw signature checks (see rawsig.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "audit_log.h"
#include "input_limits.h"
#include "jsonb_build.h"
#include "ossl.h"
#include "verify_cache.h"
#include "applet.h"
#include "rawsig.h"

typedef enum
{
	SCHEME_ECDSA,
	SCHEME_PKCS1,
	SCHEME_PSS
} Scheme;

typedef struct
{
	const char *name;
	Scheme		scheme;
	const char *digest;
} Algorithm;

static const Algorithm algorithms[] = {
	{"ecdsa-sha256", SCHEME_ECDSA, "SHA256"},
	{"ecdsa-sha384", SCHEME_ECDSA, "SHA384"},
	{"ecdsa-sha512", SCHEME_ECDSA, "SHA512"},
	{"rsa-pkcs1-sha256", SCHEME_PKCS1, "SHA256"},
	{"rsa-pkcs1-sha384", SCHEME_PKCS1, "SHA384"},
	{"rsa-pkcs1-sha512", SCHEME_PKCS1, "SHA512"},
	{"rsa-pss-sha256", SCHEME_PSS, "SHA256"},
	{"rsa-pss-sha384", SCHEME_PSS, "SHA384"},
	{"rsa-pss-sha512", SCHEME_PSS, "SHA512"},
};

bool
ms_raw_verify(EVP_PKEY *pkey, const char *algorithm,
			  const unsigned char *data, size_t datalen,
			  const unsigned char *sig, size_t siglen)
{
	const Algorithm *alg = NULL;
	MsScope    *scope;
	EVP_MD_CTX *mdctx;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md;
	bool		key_ok;
	int			rc;

	ms_input_check("algorithm", algorithm, strlen(algorithm));
	for (int i = 0; i < lengthof(algorithms); i++)
		if (pg_strcasecmp(algorithm, algorithms[i].name) == 0)
			alg = &algorithms[i];
	if (alg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown signature algorithm \"%s\"", algorithm),
				 errhint("Use one of ecdsa-sha256, ecdsa-sha384, ecdsa-sha512, rsa-pkcs1-sha256, "
						 "rsa-pkcs1-sha384, rsa-pkcs1-sha512, rsa-pss-sha256, rsa-pss-sha384, rsa-pss-sha512.")));

	key_ok = alg->scheme == SCHEME_ECDSA ? EVP_PKEY_is_a(pkey, "EC")
		: (EVP_PKEY_is_a(pkey, "RSA") || (alg->scheme == SCHEME_PSS && EVP_PKEY_is_a(pkey, "RSA-PSS")));
	if (!key_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("algorithm \"%s\" does not fit a %s key", alg->name, EVP_PKEY_get0_type_name(pkey)),
				 errdetail("ECDSA algorithms need an EC key; RSA algorithms need an RSA key.")));

	md = EVP_get_digestbyname(alg->digest);
	scope = ms_scope_create();
	mdctx = ms_scope_md_ctx(scope, EVP_MD_CTX_new());
	ERR_clear_error();
	if (mdctx == NULL || md == NULL ||
		EVP_DigestVerifyInit(mdctx, &pctx, md, NULL, pkey) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not set up signature verification: %s", ms_ossl_error())));
	if (alg->scheme == SCHEME_PSS)
	{
		/* MGF1 with the same hash, salt length = hash length */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
			EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
			EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not set up RSA-PSS: %s", ms_ossl_error())));
	}
	else if (alg->scheme == SCHEME_PKCS1)
	{
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not set up RSA PKCS#1: %s", ms_ossl_error())));
	}
	/* 1: valid; 0: does not verify; < 0: malformed signature, also false */
	rc = EVP_DigestVerify(mdctx, sig, siglen, data, datalen);
	ERR_clear_error();
	ms_scope_release(scope);
	return rc == 1;
}

MS_SCOPE_FREE_FN(free_pkey_ctx, EVP_PKEY_CTX, EVP_PKEY_CTX_free);
MS_SCOPE_FREE_FN(free_ecdsa_sig, ECDSA_SIG, ECDSA_SIG_free);

bool
ms_raw_verify_digest(EVP_PKEY *pkey, const unsigned char *digest, size_t digestlen,
					 const unsigned char *sig, size_t siglen)
{
	const char *hash = msc_digest_hash_name(digestlen);
	MsScope    *scope;
	EVP_PKEY_CTX *pctx;
	unsigned char *der = NULL;
	int			derlen = 0;
	int			rc = 0;

	if (hash == NULL)
		return false;
	scope = ms_scope_create();
	ERR_clear_error();
	pctx = ms_scope_add(scope, EVP_PKEY_CTX_new(pkey, NULL), free_pkey_ctx);
	if (pctx == NULL || EVP_PKEY_verify_init(pctx) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not set up signature verification: %s", ms_ossl_error())));
	if (EVP_PKEY_is_a(pkey, "EC"))
	{
		/* r || s, each the order's length, as DER for OpenSSL */
		size_t		half = (size_t) (EVP_PKEY_get_bits(pkey) + 7) / 8;

		if (siglen == 2 * half)
		{
			ECDSA_SIG  *es = ms_scope_add(scope, ECDSA_SIG_new(), free_ecdsa_sig);
			BIGNUM	   *r = BN_bin2bn(sig, (int) half, NULL);
			BIGNUM	   *s = BN_bin2bn(sig + half, (int) half, NULL);

			if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
			{
				BN_free(r);
				BN_free(s);
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("could not decode an ECDSA signature: %s", ms_ossl_error())));
			}
			derlen = i2d_ECDSA_SIG(es, &der);
			if (derlen > 0)
				rc = EVP_PKEY_verify(pctx, der, (size_t) derlen, digest, digestlen);
			OPENSSL_free(der);
		}
	}
	else if (EVP_PKEY_is_a(pkey, "RSA"))
	{
		/* PKCS#1 v1.5: the DigestInfo of the hash the length names */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
			EVP_PKEY_CTX_set_signature_md(pctx, EVP_get_digestbyname(hash)) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not set up RSA PKCS#1: %s", ms_ossl_error())));
		rc = EVP_PKEY_verify(pctx, sig, siglen, digest, digestlen);
	}
	ERR_clear_error();
	ms_scope_release(scope);
	return rc == 1;
}

/* One check from the SQL arguments (key, content, signature, algorithm). */
static bool
verify_args(FunctionCallInfo fcinfo)
{
	static const char *const argnames[] = {"key", "content", "signature", "algorithm"};
	MsScope    *scope;
	EVP_PKEY   *pkey;
	bytea	   *content;
	bytea	   *sig;
	bool		ok;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", argnames[i])));
	content = PG_GETARG_BYTEA_PP(1);
	sig = PG_GETARG_BYTEA_PP(2);
	scope = ms_scope_create();
	pkey = ms_vcache_public_key(scope, "key", PG_GETARG_BYTEA_PP(0));
	ok = ms_raw_verify(pkey, text_to_cstring(PG_GETARG_TEXT_PP(3)),
					   (unsigned char *) VARDATA_ANY(content), VARSIZE_ANY_EXHDR(content),
					   (unsigned char *) VARDATA_ANY(sig), VARSIZE_ANY_EXHDR(sig));
	ms_scope_release(scope);
	return ok;
}

PG_FUNCTION_INFO_V1(mobisign_verify_signature_internal);

/*
 * mobisign._verify_signature(key bytea, content bytea, signature bytea,
 *		algorithm text) -> boolean
 */
Datum
mobisign_verify_signature_internal(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(verify_args(fcinfo));
}

PG_FUNCTION_INFO_V1(mobisign_verify_signature);

/*
 * mobisign_verify_signature(key, content, signature, algorithm): the same,
 * and its audit row (detail: algorithm, content_sha256).
 */
Datum
mobisign_verify_signature(PG_FUNCTION_ARGS)
{
	bool		ok = verify_args(fcinfo);
	bytea	   *content = PG_GETARG_BYTEA_PP(1);
	unsigned char md[32];
	MsJsonb		detail = {0};

	ms_sha256((unsigned char *) VARDATA_ANY(content), VARSIZE_ANY_EXHDR(content), md);
	ms_jb_begin_object(&detail, NULL);
	ms_jb_string(&detail, "algorithm", text_to_cstring(PG_GETARG_TEXT_PP(3)));
	ms_jb_string(&detail, "content_sha256", ms_hex(md, 32));
	ms_jb_end(&detail);
	ms_audit_write("verify_signature", ok ? "valid" : "invalid", ms_jb_finish(&detail));
	PG_RETURN_BOOL(ok);
}
