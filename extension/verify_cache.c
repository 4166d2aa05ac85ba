/*-------------------------------------------------------------------------
 *
 * verify_cache.c
 *	  Per-backend verification cache (see verify_cache.h for its
 *	  invariants), and the SQL function behind mobisign_verify_cache_stats().
 *
 * One table holds three kinds of entries, evicted least recently used
 * first: parsed certificates and parsed public keys (keyed by the SHA-256
 * of the input bytes), and signatures that verified (keyed by the SHA-256
 * of the signed object's DER and of the signer's SubjectPublicKeyInfo).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/ilist.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "path_memo.h"
#include "sql_fn.h"
#include "verify_cache.h"

typedef enum VcKind
{
	VC_CERTIFICATE,				/* a = input bytes; obj = X509 */
	VC_PUBLIC_KEY,				/* a = input bytes; obj = EVP_PKEY */
	VC_CERT_SIGNATURE,			/* a = certificate DER, b = signer's key; no obj */
	VC_CRL_SIGNATURE			/* a = CRL DER, b = signer's key; no obj */
} VcKind;

typedef struct VcKey
{
	uint32		kind;
	unsigned char a[32];
	unsigned char b[32];
} VcKey;

typedef struct VcEntry
{
	VcKey		key;			/* hash key: first */
	dlist_node	lru;			/* head = most recently used */
	void	   *obj;
	int64		bytes;
} VcEntry;

/* an estimate of what an entry holds besides its DER (OpenSSL's structures) */
#define VC_OBJECT_OVERHEAD 2048
#define VC_FACT_BYTES ((int64) sizeof(VcEntry) + 64)

static int	vc_max_entries = 10000;
static int	vc_max_kb = 32768;

static MemoryContext vc_cxt = NULL;
static HTAB *vc_table = NULL;
static dlist_head vc_lru = DLIST_STATIC_INIT(vc_lru);
static int64 vc_entries = 0;
static int64 vc_bytes = 0;
static int64 vc_hits = 0;
static int64 vc_misses = 0;
static int64 vc_evictions = 0;

void
ms_vcache_init(void)
{
	DefineCustomIntVariable("mobisign.verify_cache_entries",
							"Entries of each backend's verification cache (0 disables it).",
							"Parsed certificates and keys, and signatures that verified.",
							&vc_max_entries, 10000, 0, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mobisign.verify_cache_kb",
							"Memory of each backend's verification cache.",
							"An estimate; the least recently used entries go first.",
							&vc_max_kb, 32768, 0, 4 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
}

static bool
vc_enabled(void)
{
	return vc_max_entries > 0 && vc_max_kb > 0;
}

static void
vc_ready(void)
{
	HASHCTL		ctl;

	if (vc_table != NULL)
		return;
	vc_cxt = AllocSetContextCreate(TopMemoryContext, "mobisign verification cache",
								   ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(VcKey);
	ctl.entrysize = sizeof(VcEntry);
	ctl.hcxt = vc_cxt;
	vc_table = hash_create("mobisign verification cache", 1024, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static void
vc_free_object(VcEntry *e)
{
	switch ((VcKind) e->key.kind)
	{
		case VC_CERTIFICATE:
			X509_free(e->obj);
			break;
		case VC_PUBLIC_KEY:
			EVP_PKEY_free(e->obj);
			break;
		default:
			break;
	}
	e->obj = NULL;
}

/*
 * The certificate argument of the last call that found its entry, by its
 * bytes (a copy in vc_cxt): the same bytes again find the same entry
 * without hashing them.  Exact equality of the whole input, so the same
 * key as its SHA-256; forgotten when that entry is evicted.
 */
static struct
{
	VcEntry    *e;				/* NULL: none */
	size_t		len;
	unsigned char *bytes;
}			last_cert;

static void
last_cert_forget(void)
{
	if (last_cert.bytes != NULL)
		pfree(last_cert.bytes);
	memset(&last_cert, 0, sizeof(last_cert));
}

static void
vc_evict(VcEntry *e)
{
	if (e == last_cert.e)
		last_cert_forget();
	dlist_delete(&e->lru);
	vc_free_object(e);
	vc_entries--;
	vc_bytes -= e->bytes;
	vc_evictions++;
	hash_search(vc_table, &e->key, HASH_REMOVE, NULL);
}

/*
 * Evict until 'more' more entries of 'bytes' in all fit (0, 0: until the
 * cache is within its limits, which a SET may just have lowered).
 */
static void
vc_make_room(int more, int64 bytes)
{
	int64		max_bytes = (int64) vc_max_kb * 1024;

	while (!dlist_is_empty(&vc_lru) &&
		   (vc_entries + more > vc_max_entries || vc_bytes + bytes > max_bytes))
		vc_evict(dlist_container(VcEntry, lru, dlist_tail_node(&vc_lru)));
}

static VcEntry *
vc_lookup(const VcKey *key)
{
	VcEntry    *e;

	if (!vc_enabled())
		return NULL;
	vc_ready();
	vc_make_room(0, 0);
	e = hash_search(vc_table, key, HASH_FIND, NULL);
	if (e == NULL)
	{
		vc_misses++;
		return NULL;
	}
	vc_hits++;
	dlist_move_head(&vc_lru, &e->lru);
	return e;
}

/*
 * Store obj (the cache takes over one reference) under key.  When the cache
 * is disabled or the entry is too large for it, obj is freed at once.
 */
static void
vc_store(const VcKey *key, VcKind kind, void *obj, int64 bytes)
{
	VcEntry    *e;
	bool		found;

	if (!vc_enabled() || bytes > (int64) vc_max_kb * 1024)
	{
		VcEntry		tmp = {.key = *key, .obj = obj};

		vc_free_object(&tmp);
		return;
	}
	vc_ready();
	vc_make_room(1, bytes);
	e = hash_search(vc_table, key, HASH_ENTER, &found);
	if (found)
	{
		/* stored meanwhile: keep the older object */
		VcEntry		tmp = {.key = *key, .obj = obj};

		vc_free_object(&tmp);
		return;
	}
	e->obj = obj;
	e->bytes = bytes;
	dlist_push_head(&vc_lru, &e->lru);
	vc_entries++;
	vc_bytes += bytes;
}

static void
key_of_bytes(VcKey *key, VcKind kind, const unsigned char *data, size_t len)
{
	memset(key, 0, sizeof(*key));
	key->kind = kind;
	ms_sha256(data, len, key->a);
}

X509 *
ms_vcache_certificate(MsScope *scope, const char *what, bytea *b)
{
	VcKey		key;
	VcEntry    *e;
	X509	   *x;

	const unsigned char *data = (unsigned char *) VARDATA_ANY(b);
	size_t		len = VARSIZE_ANY_EXHDR(b);

	if (vc_enabled() && last_cert.e != NULL)
	{
		vc_make_room(0, 0);		/* may evict it: a SET may have lowered the limits */
		if (last_cert.e != NULL && last_cert.len == len && memcmp(last_cert.bytes, data, len) == 0)
		{
			e = last_cert.e;
			vc_hits++;
			dlist_move_head(&vc_lru, &e->lru);
			if (X509_up_ref(e->obj))
				return ms_scope_x509(scope, e->obj);
		}
	}
	key_of_bytes(&key, VC_CERTIFICATE, data, len);
	e = vc_lookup(&key);
	if (e != NULL && X509_up_ref(e->obj))
	{
		if (last_cert.e != e)
		{
			last_cert_forget();
			last_cert.bytes = MemoryContextAlloc(vc_cxt, len + 1);
			memcpy(last_cert.bytes, data, len);
			last_cert.len = len;
			last_cert.e = e;
		}
		return ms_scope_x509(scope, e->obj);
	}
	x = ms_parse_certificate_bytea(scope, what, b);
	if (X509_up_ref(x))
		vc_store(&key, VC_CERTIFICATE, x, 4 * (int64) VARSIZE_ANY_EXHDR(b) + VC_OBJECT_OVERHEAD);
	return x;
}

X509 *
ms_vcache_certificate_der(MsScope *scope, const unsigned char *der, size_t len)
{
	VcKey		key;
	VcEntry    *e;
	const unsigned char *p = der;
	X509	   *x;

	key_of_bytes(&key, VC_CERTIFICATE, der, len);
	e = vc_lookup(&key);
	if (e != NULL && X509_up_ref(e->obj))
		return ms_scope_x509(scope, e->obj);
	if (len > LONG_MAX)
		return NULL;
	x = ms_scope_x509(scope, d2i_X509(NULL, &p, (long) len));
	if (x == NULL || p != der + len)
	{
		ERR_clear_error();
		return NULL;
	}
	if (X509_up_ref(x))
		vc_store(&key, VC_CERTIFICATE, x, 4 * (int64) len + VC_OBJECT_OVERHEAD);
	return x;
}

EVP_PKEY *
ms_vcache_public_key(MsScope *scope, const char *what, bytea *b)
{
	VcKey		key;
	VcEntry    *e;
	EVP_PKEY   *pkey;

	key_of_bytes(&key, VC_PUBLIC_KEY, (unsigned char *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	e = vc_lookup(&key);
	if (e != NULL && EVP_PKEY_up_ref(e->obj))
		return ms_scope_pkey(scope, e->obj);
	pkey = ms_parse_public_key_bytea(scope, what, b);
	if (EVP_PKEY_up_ref(pkey))
		vc_store(&key, VC_PUBLIC_KEY, pkey, 2 * (int64) VARSIZE_ANY_EXHDR(b) + VC_OBJECT_OVERHEAD);
	return pkey;
}

/* ---- memoised signature checks ---- */

static void
free_digest(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	OPENSSL_free(ptr);
}

/*
 * SHA-256 of the key's SubjectPublicKeyInfo, parameters included.  OpenSSL
 * 3 encodes a key through its provider framework, which costs more than a
 * P-256 signature check: the digest is kept with the key (ex_data), except
 * for DSA keys, whose parameters OpenSSL may still fill in from a chain.
 */
static int	pkey_digest_index = -1;

static bool
pubkey_sha256(EVP_PKEY *pkey, unsigned char out[32])
{
	bool		keep = EVP_PKEY_get_base_id(pkey) != EVP_PKEY_DSA;
	unsigned char *der = NULL;
	unsigned char *d;
	int			len;

	if (pkey_digest_index < 0)
		pkey_digest_index = EVP_PKEY_get_ex_new_index(0, NULL, NULL, NULL, free_digest);
	d = keep && pkey_digest_index >= 0 ? EVP_PKEY_get_ex_data(pkey, pkey_digest_index) : NULL;
	if (d != NULL)
	{
		memcpy(out, d, 32);
		return true;
	}
	len = i2d_PUBKEY(pkey, &der);
	if (len <= 0)
		return false;
	ms_sha256(der, len, out);
	OPENSSL_free(der);
	if (keep && pkey_digest_index >= 0 && (d = OPENSSL_memdup(out, 32)) != NULL &&
		!EVP_PKEY_set_ex_data(pkey, pkey_digest_index, d))
		OPENSSL_free(d);
	return true;
}

/*
 * What never changes in a parsed certificate, kept with it (ex_data): the
 * SHA-256 of its DER and its subject as text.  A parsed certificate's
 * encoding never changes (mobisign never modifies one it did not just copy).
 */
typedef struct VcCertFacts
{
	unsigned char sha256[32];
	char	   *subject;		/* RFC 2253, OPENSSL_malloc'd; NULL until asked */
	bool		times_known;	/* the four below are set */
	bool		not_before_ok;	/* notBefore is in RFC 5280 form (see below) */
	bool		not_after_ok;
	int64		not_before;		/* seconds since 1970 */
	int64		not_after;
} VcCertFacts;

static int	x509_facts_index = -1;

static void
free_facts(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	VcCertFacts *f = ptr;

	if (f != NULL)
		OPENSSL_free(f->subject);
	OPENSSL_free(f);
}

/* x's facts, made at the first call; NULL only when out of memory */
static VcCertFacts *
cert_facts(X509 *x)
{
	VcCertFacts *f;
	unsigned int len = 0;

	if (x509_facts_index < 0)
		x509_facts_index = X509_get_ex_new_index(0, NULL, NULL, NULL, free_facts);
	if (x509_facts_index < 0)
		return NULL;
	f = X509_get_ex_data(x, x509_facts_index);
	if (f != NULL)
		return f;
	f = OPENSSL_zalloc(sizeof(VcCertFacts));
	if (f == NULL || !X509_digest(x, EVP_sha256(), f->sha256, &len) || len != 32 ||
		!X509_set_ex_data(x, x509_facts_index, f))
	{
		OPENSSL_free(f);
		ERR_clear_error();
		return NULL;
	}
	return f;
}

static bool
x509_sha256(X509 *x, unsigned char out[32])
{
	VcCertFacts *f = cert_facts(x);

	if (f == NULL)
		return false;
	memcpy(out, f->sha256, 32);
	return true;
}

char *
ms_vcache_subject(X509 *x)
{
	VcCertFacts *f = cert_facts(x);
	char	   *text;

	if (f != NULL && f->subject != NULL)
		return pstrdup(f->subject);
	text = ms_name_text(X509_get_subject_name(x));
	if (f != NULL)
		f->subject = OPENSSL_strdup(text);
	return text;
}

char *
ms_vcache_fingerprint_hex(X509 *x)
{
	VcCertFacts *f = cert_facts(x);

	return f != NULL ? ms_hex(f->sha256, 32) : ms_x509_fingerprint_hex(x);
}

/* true if a signature by pkey over the object with digest 'object' verified before */
static bool
signature_known(VcKind kind, const unsigned char object[32], EVP_PKEY *pkey, VcKey *key)
{
	memset(key, 0, sizeof(*key));
	key->kind = kind;
	memcpy(key->a, object, 32);
	if (!pubkey_sha256(pkey, key->b))
	{
		ERR_clear_error();
		key->kind = UINT32_MAX;	/* unusable: never stored */
		return false;
	}
	return vc_lookup(key) != NULL;
}

static void
signature_verified(const VcKey *key)
{
	if (key->kind != UINT32_MAX)
		vc_store(key, (VcKind) key->kind, NULL, VC_FACT_BYTES);
}

/* X509_verify(x, pkey) > 0, memoised */
static bool
cert_signature_ok(X509 *x, EVP_PKEY *pkey)
{
	unsigned char digest[32];
	VcKey		key;

	if (!x509_sha256(x, digest))
		return X509_verify(x, pkey) > 0;
	if (signature_known(VC_CERT_SIGNATURE, digest, pkey, &key))
		return true;
	if (X509_verify(x, pkey) <= 0)
		return false;
	signature_verified(&key);
	return true;
}

/* OpenSSL's verify_cb_cert(): report err at depth to the verify callback */
static int
report(X509_STORE_CTX *ctx, X509 *x, int depth, int err)
{
	X509_STORE_CTX_set_error_depth(ctx, depth);
	X509_STORE_CTX_set_current_cert(ctx, x != NULL ? x : sk_X509_value(X509_STORE_CTX_get0_chain(ctx), depth));
	if (err != X509_V_OK)
		X509_STORE_CTX_set_error(ctx, err);
	return X509_STORE_CTX_get_verify_cb(ctx) (0, ctx);
}

/*
 * A certificate time as X509_cmp_time() reads it: only the RFC 5280 forms
 * YYMMDDHHMMSSZ (UTCTime) and YYYYMMDDHHMMSSZ (GeneralizedTime), then
 * OpenSSL's own calendar parse; false where X509_cmp_time() reports an error.
 */
static bool
rfc5280_seconds(const ASN1_TIME *t, int64 *secs)
{
	int			len = ASN1_STRING_length(t);
	const unsigned char *d = ASN1_STRING_get0_data(t);
	struct tm	tm;
	int64		y,
				m,
				era,
				doe;

	if (!((ASN1_STRING_type(t) == V_ASN1_UTCTIME && len == 13) ||
		  (ASN1_STRING_type(t) == V_ASN1_GENERALIZEDTIME && len == 15)))
		return false;
	for (int i = 0; i < len - 1; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	if (d[len - 1] != 'Z' || !ASN1_TIME_to_tm(t, &tm))
	{
		ERR_clear_error();
		return false;
	}
	/* days since 1970-01-01 of a proleptic Gregorian date (civil calendar) */
	y = (int64) tm.tm_year + 1900 - (tm.tm_mon < 2);
	m = tm.tm_mon + 1;
	era = (y >= 0 ? y : y - 399) / 400;
	doe = (y - era * 400) * 365 + (y - era * 400) / 4 - (y - era * 400) / 100 +
		(153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + tm.tm_mday - 1;
	*secs = (era * 146097 + doe - 719468) * 86400 +
		tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	return true;
}

/*
 * X509_cmp_time(x's notBefore or notAfter, t): -1 when it is at or before
 * t, 1 when after, 0 when it is malformed; the time is parsed once per
 * certificate (kept with its facts), the comparison made on every call.
 * OpenSSL cannot represent a time outside the years 0000-9999 to compare,
 * so there, and without facts, X509_cmp_time() itself answers.
 */
static int
cert_cmp_time(X509 *x, bool not_after, time_t *ptime)
{
	VcCertFacts *f = cert_facts(x);
	time_t		now = ptime ? *ptime : time(NULL);
	const ASN1_TIME *ctm = not_after ? X509_get0_notAfter(x) : X509_get0_notBefore(x);

	if (f == NULL || now < (time_t) INT64CONST(-62167219200) || now >= (time_t) INT64CONST(253402300800))
		return X509_cmp_time(ctm, ptime);
	if (!f->times_known)
	{
		int64		nb,
					na;

		(void) ms_vcache_cert_times(x, &nb, &na);
	}
	if (!(not_after ? f->not_after_ok : f->not_before_ok))
		return 0;
	return (not_after ? f->not_after : f->not_before) <= (int64) now ? -1 : 1;
}

bool
ms_vcache_time_seconds(const ASN1_TIME *t, int64 *secs)
{
	return t != NULL && rfc5280_seconds(t, secs);
}

bool
ms_vcache_cert_times(X509 *x, int64 *not_before, int64 *not_after)
{
	VcCertFacts *f = cert_facts(x);

	if (f == NULL)
		return false;
	if (!f->times_known)
	{
		f->not_before_ok = rfc5280_seconds(X509_get0_notBefore(x), &f->not_before);
		f->not_after_ok = rfc5280_seconds(X509_get0_notAfter(x), &f->not_after);
		f->times_known = true;
	}
	*not_before = f->not_before;
	*not_after = f->not_after;
	return f->not_before_ok && f->not_after_ok;
}

bool
ms_vcache_sha256(X509 *x, unsigned char out[32])
{
	return x509_sha256(x, out);
}

/* OpenSSL's validity check of one certificate at the verification time */
static bool
check_cert_time(X509_STORE_CTX *ctx, X509 *x, int depth)
{
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	unsigned long flags = X509_VERIFY_PARAM_get_flags(param);
	time_t		t = X509_VERIFY_PARAM_get_time(param);
	time_t	   *ptime = (flags & X509_V_FLAG_USE_CHECK_TIME) ? &t : NULL;
	int			i;

	if ((flags & X509_V_FLAG_USE_CHECK_TIME) == 0 && (flags & X509_V_FLAG_NO_CHECK_TIME) != 0)
		return true;
	i = cert_cmp_time(x, false, ptime);
	if (i == 0 && !report(ctx, x, depth, X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD))
		return false;
	if (i > 0 && !report(ctx, x, depth, X509_V_ERR_CERT_NOT_YET_VALID))
		return false;
	i = cert_cmp_time(x, true, ptime);
	if (i == 0 && !report(ctx, x, depth, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD))
		return false;
	if (i < 0 && !report(ctx, x, depth, X509_V_ERR_CERT_HAS_EXPIRED))
		return false;
	return true;
}

/* OpenSSL's check that issuer's key usage (if stated) allows signing subject */
static int
signing_allowed(X509 *issuer, X509 *subject)
{
	uint32_t	ku = (X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) ? X509_get_key_usage(issuer) : UINT32_MAX;

	if (X509_get_extension_flags(subject) & EXFLAG_PROXY)
		return (ku & KU_DIGITAL_SIGNATURE) ? X509_V_OK : X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE;
	return (ku & KU_KEY_CERT_SIGN) ? X509_V_OK : X509_V_ERR_KEYUSAGE_NO_CERTSIGN;
}

/*
 * The same walk as OpenSSL 3's internal_verify(): from the top of the
 * chain down, each certificate's signature by its issuer (the top one's
 * only if self-signed and X509_V_FLAG_CHECK_SS_SIGNATURE is set) after the
 * issuer's key usage, then its validity; every problem goes to the verify
 * callback, which decides.  OpenSSL's walk also records the current issuer
 * for the callback; mobisign's callback does not read it here.
 */
int
ms_vcache_verify_chain(X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	unsigned long flags = X509_VERIFY_PARAM_get_flags(X509_STORE_CTX_get0_param(ctx));
	int			n = sk_X509_num(chain) - 1;
	X509	   *xi = sk_X509_value(chain, n);
	X509	   *xs = xi;

	X509_STORE_CTX_set_error_depth(ctx, n);
	if ((flags & X509_V_FLAG_PARTIAL_CHAIN) == 0 && X509_check_issued(xi, xi) != X509_V_OK)
	{
		/* the top certificate is not self-issued: start below it */
		if (n > 0)
		{
			n--;
			X509_STORE_CTX_set_error_depth(ctx, n);
			xs = sk_X509_value(chain, n);
		}
		else if (!report(ctx, xi, 0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE))
			return 0;
	}
	while (n >= 0)
	{
		if (xs != xi ||
			((flags & X509_V_FLAG_CHECK_SS_SIGNATURE) && (X509_get_extension_flags(xi) & EXFLAG_SS)))
		{
			int			issuer_depth = xs == xi ? n : n + 1;
			EVP_PKEY   *pkey;

			/*
			 * RFC 5280 6.1.4 (n): the issuer's key usage must allow signing
			 * certificates (not checked for a self-issued end entity at the
			 * top, RFC 6818 section 2)
			 */
			if (!(xs == xi && (X509_get_extension_flags(xi) & EXFLAG_CA) == 0))
			{
				int			err = signing_allowed(xi, xs);

				if (err != X509_V_OK && !report(ctx, xi, issuer_depth, err))
					return 0;
			}
			pkey = X509_get0_pubkey(xi);
			if (pkey == NULL)
			{
				if (!report(ctx, xi, issuer_depth, X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY))
					return 0;
			}
			else if (!cert_signature_ok(xs, pkey))
			{
				if (!report(ctx, xs, n, X509_V_ERR_CERT_SIGNATURE_FAILURE))
					return 0;
			}
		}
		if (!check_cert_time(ctx, xs, n))
			return 0;
		/* success at this depth (an earlier error, if forgiven, stays) */
		X509_STORE_CTX_set_current_cert(ctx, xs);
		X509_STORE_CTX_set_error_depth(ctx, n);
		if (!X509_STORE_CTX_get_verify_cb(ctx) (1, ctx))
			return 0;
		if (--n >= 0)
		{
			xi = xs;
			xs = sk_X509_value(chain, n);
		}
	}
	return 1;
}

/* ---- CRLs with a memoised signature check ---- */

/*
 * A CRL handed to OpenSSL carries this as its method data: the same DER
 * parsed with OpenSSL's own method (which does the real signature check
 * and the revocation lookup) and the SHA-256 of the DER.
 */
typedef struct VcCrl
{
	X509_CRL   *plain;
	unsigned char digest[32];
	X509	   *probe;			/* serial + issuer for a lookup by name */
	char	   *issuer_text;	/* RFC 2253, OPENSSL_malloc'd; NULL until asked */
	char	   *number_text;	/* crlNumber in decimal; NULL if none or not asked */
	bool		facts_known;
} VcCrl;

static X509_CRL_METHOD *vc_crl_method = NULL;

static int
vc_crl_free(X509_CRL *crl)
{
	VcCrl	   *d = X509_CRL_get_meth_data(crl);

	if (d != NULL)
	{
		X509_CRL_free(d->plain);
		X509_free(d->probe);
		OPENSSL_free(d->issuer_text);
		OPENSSL_free(d->number_text);
		OPENSSL_free(d);
		X509_CRL_set_meth_data(crl, NULL);
	}
	return 1;
}

/* Fail closed: the first entry with this serial, whatever its issuer. */
static int
lookup_by_serial_only(X509_CRL *plain, X509_REVOKED **ret, const ASN1_INTEGER *serial)
{
	STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(plain);

	for (int i = 0; i < sk_X509_REVOKED_num(revoked); i++)
	{
		X509_REVOKED *r = sk_X509_REVOKED_value(revoked, i);

		if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(r), serial) == 0)
		{
			if (ret)
				*ret = r;
			return 1;
		}
	}
	return 0;
}

static int
vc_crl_lookup(X509_CRL *crl, X509_REVOKED **ret, const ASN1_INTEGER *serial,
			  const X509_NAME *issuer)
{
	VcCrl	   *d = X509_CRL_get_meth_data(crl);

	if (d == NULL)
		return 0;				/* never: ms_vcache_crl() sets it */
	if (issuer == NULL)
		return X509_CRL_get0_by_serial(d->plain, ret, serial);
	if (d->probe == NULL)
		d->probe = X509_new();
	/* (setting a name copies it: only when it is another issuer) */
	if (d->probe == NULL ||
		!X509_set_serialNumber(d->probe, unconstify(ASN1_INTEGER *, serial)) ||
		(X509_NAME_cmp(X509_get_issuer_name(d->probe), issuer) != 0 &&
		 !X509_set_issuer_name(d->probe, issuer)))
	{
		ERR_clear_error();
		return lookup_by_serial_only(d->plain, ret, serial);
	}
	return X509_CRL_get0_by_cert(d->plain, ret, d->probe);
}

static int
vc_crl_verify(X509_CRL *crl, EVP_PKEY *pkey)
{
	VcCrl	   *d = X509_CRL_get_meth_data(crl);
	VcKey		key;
	int			rc;

	if (d == NULL)
		return 0;
	if (signature_known(VC_CRL_SIGNATURE, d->digest, pkey, &key))
		return 1;
	rc = X509_CRL_verify(d->plain, pkey);
	if (rc > 0)
		signature_verified(&key);
	return rc;
}

void
ms_vcache_crl_facts(X509_CRL *crl, char **issuer, char **number)
{
	VcCrl	   *d = X509_CRL_get_meth_data(crl);
	ASN1_INTEGER *num;

	if (d != NULL && d->facts_known)
	{
		*issuer = pstrdup(d->issuer_text);
		*number = d->number_text ? pstrdup(d->number_text) : NULL;
		return;
	}
	*issuer = ms_name_text(X509_CRL_get_issuer(crl));
	*number = NULL;
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	if (num)
	{
		*number = ms_asn1_integer_text(num);
		ASN1_INTEGER_free(num);
	}
	ERR_clear_error();
	if (d != NULL &&
		(d->issuer_text = OPENSSL_strdup(*issuer)) != NULL &&
		(*number == NULL || (d->number_text = OPENSSL_strdup(*number)) != NULL))
		d->facts_known = true;
}

X509_CRL *
ms_vcache_crl(const unsigned char *der, size_t len)
{
	const unsigned char *p;
	X509_CRL   *crl;
	VcCrl	   *d;

	if (vc_crl_method == NULL)
		vc_crl_method = X509_CRL_METHOD_new(NULL, vc_crl_free, vc_crl_lookup, vc_crl_verify);
	d = OPENSSL_zalloc(sizeof(VcCrl));
	if (vc_crl_method == NULL || d == NULL || len > LONG_MAX)
	{
		OPENSSL_free(d);
		return NULL;
	}
	p = der;
	d->plain = d2i_X509_CRL(NULL, &p, (long) len);
	ms_sha256(der, len, d->digest);
	/* the method is taken at creation: set for this one object only */
	X509_CRL_set_default_method(vc_crl_method);
	p = der;
	crl = d->plain != NULL ? d2i_X509_CRL(NULL, &p, (long) len) : NULL;
	X509_CRL_set_default_method(NULL);
	if (crl == NULL)
	{
		X509_CRL_free(d->plain);
		OPENSSL_free(d);
		return NULL;
	}
	X509_CRL_set_meth_data(crl, d);
	return crl;
}

void
ms_vcache_stats(MsVcacheStats *out)
{
	out->entries = vc_entries;
	out->bytes = vc_bytes;
	out->hits = vc_hits;
	out->misses = vc_misses;
	out->evictions = vc_evictions;
	out->max_entries = vc_max_entries;
	out->max_bytes = (int64) vc_max_kb * 1024;
}

PG_FUNCTION_INFO_V1(mobisign_verify_cache_stats);

/*
 * mobisign_verify_cache_stats()
 *	 -> (entries, bytes, hits, misses, evictions, max_entries, max_bytes,
 *		 path_memo_entries, path_memo_hits)
 */
Datum
mobisign_verify_cache_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc = ms_result_row(fcinfo);
	MsVcacheStats s;
	Datum		values[9];
	bool		nulls[9] = {0};
	int64		memo_entries,
				memo_hits;

	ms_vcache_stats(&s);
	values[0] = Int64GetDatum(s.entries);
	values[1] = Int64GetDatum(s.bytes);
	values[2] = Int64GetDatum(s.hits);
	values[3] = Int64GetDatum(s.misses);
	values[4] = Int64GetDatum(s.evictions);
	values[5] = Int64GetDatum(s.max_entries);
	values[6] = Int64GetDatum(s.max_bytes);
	ms_path_memo_counts(&memo_entries, &memo_hits);
	values[7] = Int64GetDatum(memo_entries);
	values[8] = Int64GetDatum(memo_hits);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
