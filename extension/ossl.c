/*-------------------------------------------------------------------------
 *
 * ossl.c
 *	  OpenSSL object scopes, input parsing and conversions (see ossl.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "der_input.h"
#include "ossl.h"

typedef struct MsScopeItem
{
	void	   *obj;
	MsFreeFn	freefn;
} MsScopeItem;

struct MsScope
{
	MemoryContext cxt;
	MemoryContextCallback cb;
	MsScopeItem *items;
	int			nitems;
	int			maxitems;
};

static void
ms_scope_cleanup(void *arg)
{
	MsScope    *scope = (MsScope *) arg;

	/* free in reverse order of registration */
	while (scope->nitems > 0)
	{
		MsScopeItem *it = &scope->items[--scope->nitems];

		if (it->obj)
			it->freefn(it->obj);
	}
}

MsScope *
ms_scope_create(void)
{
	MemoryContext cxt;
	MsScope    *scope;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "mobisign OpenSSL scope",
								ALLOCSET_SMALL_SIZES);
	scope = MemoryContextAllocZero(cxt, sizeof(MsScope));
	scope->cxt = cxt;
	scope->maxitems = 16;
	scope->items = MemoryContextAlloc(cxt, sizeof(MsScopeItem) * scope->maxitems);
	scope->cb.func = ms_scope_cleanup;
	scope->cb.arg = scope;
	MemoryContextRegisterResetCallback(cxt, &scope->cb);
	return scope;
}

void
ms_scope_release(MsScope *scope)
{
	if (scope)
		MemoryContextDelete(scope->cxt);
}

void *
ms_scope_add(MsScope *scope, void *obj, MsFreeFn freefn)
{
	if (obj == NULL)
		return NULL;
	if (scope->nitems >= scope->maxitems)
	{
		/* on allocation failure the object must still be freed */
		PG_TRY();
		{
			scope->items = repalloc(scope->items,
									sizeof(MsScopeItem) * scope->maxitems * 2);
		}
		PG_CATCH();
		{
			freefn(obj);
			PG_RE_THROW();
		}
		PG_END_TRY();
		scope->maxitems *= 2;
	}
	scope->items[scope->nitems].obj = obj;
	scope->items[scope->nitems].freefn = freefn;
	scope->nitems++;
	return obj;
}

void
ms_scope_forget(MsScope *scope, void *obj)
{
	for (int i = scope->nitems - 1; i >= 0; i--)
	{
		if (scope->items[i].obj == obj)
		{
			scope->items[i].obj = NULL;
			return;
		}
	}
}

/*
 * The typed shorthands: ms_scope_<name>(scope, obj) registers obj with a free
 * function of its own type (MS_SCOPE_FREE_FN).
 */
#define MS_SCOPE_SHORTHAND(name, Type, free_call) \
	MS_SCOPE_FREE_FN(free_##name, Type, free_call); \
	Type * \
	ms_scope_##name(MsScope *scope, Type *obj) \
	{ \
		return ms_scope_add(scope, obj, free_##name); \
	} \
	extern int no_such_variable

/* a stack of certificates owns them */
static void
x509_stack_pop_free(STACK_OF(X509) *sk)
{
	sk_X509_pop_free(sk, X509_free);
}

MS_SCOPE_SHORTHAND(x509, X509, X509_free);
MS_SCOPE_SHORTHAND(crl, X509_CRL, X509_CRL_free);
MS_SCOPE_SHORTHAND(pkey, EVP_PKEY, EVP_PKEY_free);
MS_SCOPE_SHORTHAND(x509_stack, STACK_OF(X509), x509_stack_pop_free);
MS_SCOPE_SHORTHAND(cms, CMS_ContentInfo, CMS_ContentInfo_free);
MS_SCOPE_SHORTHAND(bio, BIO, BIO_free_all);
MS_SCOPE_SHORTHAND(store_ctx, X509_STORE_CTX, X509_STORE_CTX_free);
MS_SCOPE_SHORTHAND(md_ctx, EVP_MD_CTX, EVP_MD_CTX_free);

char *
ms_ossl_error(void)
{
	unsigned long e;
	unsigned long last = 0;
	char		buf[256];

	/* the last error queued is usually the most specific one */
	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		return pstrdup("unknown OpenSSL error");
	ERR_error_string_n(last, buf, sizeof(buf));
	/* "error:0680007B:asn1 encoding routines::header too long" -> the tail */
	{
		const char *reason = ERR_reason_error_string(last);

		if (reason)
			return pstrdup(reason);
	}
	return pstrdup(buf);
}

/*
 * The end of every ms_parse_*: ereport(ERROR) for a failed msi_parse_*
 * ("what" names the argument, "kind" the object expected, as in "one
 * certificate is expected"); OpenSSL's error queue is empty afterwards.
 */
static void
check_parsed(const char *what, const char *kind, msi_rc rc, const msi_der_detail *d)
{
	bool		key = strcmp(kind, "key or certificate") == 0;
	const char *detail;

	if (rc == MSI_OK)
	{
		ERR_clear_error();
		return;
	}
	switch (rc)
	{
		case MSI_E_EMPTY:
			detail = "The data is empty.";
			break;
		case MSI_E_TOO_LARGE:
			detail = psprintf("At most %zu bytes are accepted for a %s.", d->max_len,
							  key ? "public key" : kind);
			break;
		case MSI_E_NOT_PEM:
			detail = "The data is neither DER nor PEM.";
			break;
		case MSI_E_PEM_COUNT:
			detail = psprintf("The PEM data holds %d objects where one %s is expected.",
							  d->pem_objects, kind);
			break;
		case MSI_E_TRAILING:
			detail = psprintf("%zu bytes follow the %s.", d->trailing,
							  key ? "public key" : kind);
			break;
		case MSI_E_PEM_DECODE:
		case MSI_E_DER_DECODE:
			if (key)
				detail = psprintf("Neither a certificate nor a SubjectPublicKeyInfo: %s.",
								  ms_ossl_error());
			else
				detail = psprintf("%s decoding failed: %s.",
								  rc == MSI_E_PEM_DECODE ? "PEM" : "DER", ms_ossl_error());
			break;
		default:
			detail = psprintf("%s.", msi_rc_name(rc));
			break;
	}
	ERR_clear_error();
	ereport(ERROR,
			(errcode(rc == MSI_E_NOMEM ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("malformed %s", what),
			 errdetail("%s", detail),
			 errhint("Certificates and CRLs are accepted as DER or as PEM holding exactly one object.")));
}

X509 *
ms_parse_certificate(MsScope *scope, const char *what, const unsigned char *data, size_t len)
{
	msi_der_detail d;
	X509	   *x = NULL;

	check_parsed(what, "certificate", msi_parse_certificate(data, len, &x, &d), &d);
	return ms_scope_x509(scope, x);
}

X509 *
ms_parse_certificate_bytea(MsScope *scope, const char *what, bytea *b)
{
	return ms_parse_certificate(scope, what, (unsigned char *) VARDATA_ANY(b),
								VARSIZE_ANY_EXHDR(b));
}

X509_CRL *
ms_parse_crl_bytea(MsScope *scope, const char *what, bytea *b)
{
	msi_der_detail d;
	X509_CRL   *crl = NULL;

	check_parsed(what, "CRL",
				 msi_parse_crl((unsigned char *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &crl, &d),
				 &d);
	return ms_scope_crl(scope, crl);
}

EVP_PKEY *
ms_parse_public_key_bytea(MsScope *scope, const char *what, bytea *b)
{
	msi_der_detail d;
	EVP_PKEY   *pkey = NULL;

	check_parsed(what, "key or certificate",
				 msi_parse_public_key((unsigned char *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b),
									  &pkey, &d),
				 &d);
	return ms_scope_pkey(scope, pkey);
}

STACK_OF(X509) *
ms_parse_certificate_array(MsScope *scope, const char *what, ArrayType *arr, int max_items)
{
	STACK_OF(X509) *sk = ms_scope_x509_stack(scope, sk_X509_new_null());
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (sk == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (arr == NULL)
		return sk;
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	if (ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) > max_items)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many %s", what),
				 errdetail("At most %d are accepted; %d were given.", max_items,
						   ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)))));
	deconstruct_array(arr, BYTEAOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		X509	   *x;
		char	   *itemname = psprintf("%s element %d", what, i + 1);

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", what),
					 errdetail("Element %d is NULL.", i + 1)));
		x = ms_parse_certificate_bytea(scope, itemname, DatumGetByteaPP(elems[i]));
		/* the stack takes its own reference */
		if (!X509_up_ref(x) || !sk_X509_push(sk, x))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	return sk;
}

char *
ms_name_text(const X509_NAME *name)
{
	BIO		   *bio;
	char	   *data;
	long		len;
	char	   *result;

	if (name == NULL)
		return pstrdup("");
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	len = BIO_get_mem_data(bio, &data);
	result = pnstrdup(data, len);
	BIO_free(bio);
	return result;
}

TimestampTz
ms_asn1_time_to_timestamptz(const ASN1_TIME *t)
{
	struct tm	tm;
	pg_time_t	secs;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return DT_NOBEGIN;
	/* OpenSSL's tm is UTC; compute seconds since the Unix epoch by hand */
	{
		int			y = tm.tm_year + 1900;
		int			m = tm.tm_mon + 1;
		int64		days;

		/* days from civil, proleptic Gregorian */
		y -= m <= 2;
		{
			int64		era = (y >= 0 ? y : y - 399) / 400;
			int64		yoe = y - era * 400;
			int64		doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + tm.tm_mday - 1;
			int64		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

			days = era * 146097 + doe - 719468;
		}
		secs = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	}
	return time_t_to_timestamptz(secs);
}

time_t
ms_timestamptz_to_time_t(TimestampTz t)
{
	return (time_t) timestamptz_to_time_t(t);
}

static bytea *
der_to_bytea(int (*i2d) (const void *, unsigned char **), const void *obj)
{
	int			len = i2d(obj, NULL);
	bytea	   *b;
	unsigned char *p;

	if (len <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encode DER: %s", ms_ossl_error())));
	b = palloc(VARHDRSZ + len);
	SET_VARSIZE(b, VARHDRSZ + len);
	p = (unsigned char *) VARDATA(b);
	i2d(obj, &p);
	return b;
}

static int
i2d_x509_const(const void *x, unsigned char **out)
{
	return i2d_X509((X509 *) x, out);
}
static int
i2d_crl_const(const void *x, unsigned char **out)
{
	return i2d_X509_CRL((X509_CRL *) x, out);
}

bytea *
ms_x509_to_bytea(X509 *x)
{
	return der_to_bytea(i2d_x509_const, x);
}

bytea *
ms_crl_to_bytea(X509_CRL *crl)
{
	return der_to_bytea(i2d_crl_const, crl);
}

char *
ms_hex(const unsigned char *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char	   *out = palloc(len * 2 + 1);

	for (size_t i = 0; i < len; i++)
	{
		out[i * 2] = digits[data[i] >> 4];
		out[i * 2 + 1] = digits[data[i] & 15];
	}
	out[len * 2] = '\0';
	return out;
}

bytea *
ms_bytea(const void *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	if (len > 0)
		memcpy(VARDATA(b), data, len);
	return b;
}

/* a text[] (from char *) or bytea[] (from bytea *) of the list's elements */
static Datum
list_to_array(List *l, Oid elemtype)
{
	int			n = list_length(l);
	Datum	   *d = palloc(sizeof(Datum) * (n > 0 ? n : 1));
	int			i = 0;
	ListCell   *lc;

	foreach(lc, l)
		d[i++] = elemtype == TEXTOID ? CStringGetTextDatum((char *) lfirst(lc))
			: PointerGetDatum(lfirst(lc));
	return PointerGetDatum(construct_array(d, n, elemtype, -1, false, TYPALIGN_INT));
}

Datum
ms_text_array(List *strings)
{
	return list_to_array(strings, TEXTOID);
}

Datum
ms_bytea_array(List *byteas)
{
	return list_to_array(byteas, BYTEAOID);
}

void
ms_sha256(const unsigned char *data, size_t len, unsigned char out[32])
{
	/* fetched once per backend and kept (EVP_sha256() would fetch per call) */
	static EVP_MD *sha256 = NULL;
	unsigned int outlen = 32;

	if (sha256 == NULL)
		sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (sha256 == NULL || !EVP_Digest(data, len, out, &outlen, sha256, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("SHA-256 failed: %s", ms_ossl_error())));
}

char *
ms_x509_fingerprint_hex(X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!X509_digest(x, EVP_sha256(), md, &mdlen))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a certificate fingerprint: %s", ms_ossl_error())));
	return ms_hex(md, mdlen);
}

/* i in decimal or hex (palloc'd), NULL if it cannot be converted */
static char *
asn1_integer_string(const ASN1_INTEGER *i, bool hex)
{
	BIGNUM	   *bn;
	char	   *str;
	char	   *result;

	if (i == NULL)
		return NULL;
	bn = ASN1_INTEGER_to_BN(i, NULL);
	if (bn == NULL)
		return NULL;
	str = hex ? BN_bn2hex(bn) : BN_bn2dec(bn);
	BN_free(bn);
	if (str == NULL)
		return NULL;
	result = pstrdup(str);
	OPENSSL_free(str);
	return result;
}

char *
ms_asn1_integer_text(const ASN1_INTEGER *i)
{
	return asn1_integer_string(i, false);
}

char *
ms_asn1_integer_hex(const ASN1_INTEGER *i)
{
	char	   *hex = asn1_integer_string(i, true);

	return hex ? hex : pstrdup("");
}

char *
ms_obj_text(const ASN1_OBJECT *obj)
{
	char		buf[128];

	if (OBJ_obj2txt(buf, sizeof(buf), obj, 1) <= 0)
		return pstrdup("?");
	return pstrdup(buf);
}
