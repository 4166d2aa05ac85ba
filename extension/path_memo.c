/*-------------------------------------------------------------------------
 *
 * path_memo.c
 *	  Per-backend memo of valid path validations over an interval of check
 *	  times (see path_memo.h for its invariants and why it equals a full
 *	  validation).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "ossl.h"
#include "path_memo.h"
#include "verify_cache.h"

typedef struct PathMemoEntry
{
	MsPathMemoKey key;			/* hash key: first */
	int64		lo;				/* valid for lo < t < hi */
	int64		hi;
	List	   *chain;			/* in memo_cxt, as all below */
	List	   *policies;
	Jsonb	   *chain_ev;
	Jsonb	   *crls_ev;
	bool		stale_crl_in_grace;
} PathMemoEntry;

static int	memo_max_entries = 1000;
static MemoryContext memo_cxt = NULL;
static HTAB *memo_table = NULL;
static int64 memo_hits = 0;

void
ms_path_memo_init(void)
{
	DefineCustomIntVariable("mobisign.path_memo_entries",
							"Valid path validations each backend remembers (0 disables the memo).",
							"An entry answers only for a check time between the same validity and CRL times.",
							&memo_max_entries, 1000, 0, 100000,
							PGC_SUSET, 0, NULL, NULL, NULL);
}

static void
memo_drop_all(void)
{
	/* the table's own context and every copy are in memo_cxt */
	memo_table = NULL;
	if (memo_cxt != NULL)
		MemoryContextReset(memo_cxt);
}

static void
memo_ready(void)
{
	HASHCTL		ctl;

	if (memo_table != NULL)
		return;
	if (memo_cxt == NULL)
		memo_cxt = AllocSetContextCreate(TopMemoryContext, "mobisign path memo",
										 ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(MsPathMemoKey);
	ctl.entrysize = sizeof(PathMemoEntry);
	ctl.hcxt = memo_cxt;
	memo_table = hash_create("mobisign path memo", 256, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

bool
ms_path_memo_key(MsPki *pki, X509 *cert, STACK_OF(X509) *untrusted,
				 MsKeyUsage usage, MsPathMemoKey *key)
{
	int			n = untrusted ? sk_X509_num(untrusted) : 0;
	int64		head[5] = {pki->id, pki->generation, pki->row_version, pki->strict, usage};
	size_t		len = sizeof(head) + 32 * (size_t) (n + 1);
	unsigned char *buf;
	bool		ok;

	if (memo_max_entries <= 0 || pki->check_ocsp || n > 64)
		return false;
	buf = palloc(len);
	memcpy(buf, head, sizeof(head));
	ok = ms_vcache_sha256(cert, buf + sizeof(head));
	for (int i = 0; ok && i < n; i++)
		ok = ms_vcache_sha256(sk_X509_value(untrusted, i), buf + sizeof(head) + 32 * (i + 1));
	if (ok)
		ms_sha256(buf, len, key->digest);
	pfree(buf);
	return ok;
}

bool
ms_path_memo_lookup(const MsPathMemoKey *key, time_t t, MsPathMemoHit *hit)
{
	PathMemoEntry *e;

	if (memo_max_entries <= 0 || memo_table == NULL)
		return false;
	e = hash_search(memo_table, key, HASH_FIND, NULL);
	if (e == NULL || !(e->lo < (int64) t && (int64) t < e->hi))
		return false;
	hit->chain = e->chain;
	hit->policies = e->policies;
	hit->chain_ev = e->chain_ev;
	hit->crls_ev = e->crls_ev;
	hit->stale_crl_in_grace = e->stale_crl_in_grace;
	memo_hits++;
	return true;
}

/* The interval (*lo, *hi) around t bounded by the nearest points; false if t is one. */
typedef struct TimeSpan
{
	int64		t;
	int64		lo;
	int64		hi;
	bool		ok;
} TimeSpan;

static void
narrow(TimeSpan *iv, int64 point)
{
	if (point == iv->t)
		iv->ok = false;
	else if (point < iv->t && point > iv->lo)
		iv->lo = point;
	else if (point > iv->t && point < iv->hi)
		iv->hi = point;
}

static void
narrow_certs(TimeSpan *iv, STACK_OF(X509) *certs)
{
	for (int i = 0; iv->ok && certs != NULL && i < sk_X509_num(certs); i++)
	{
		int64		nb,
					na;

		if (!ms_vcache_cert_times(sk_X509_value(certs, i), &nb, &na))
			iv->ok = false;
		else
		{
			narrow(iv, nb);
			narrow(iv, na);
		}
	}
}

static void
narrow_crls(TimeSpan *iv, MsPki *pki)
{
	for (int i = 0; iv->ok && i < sk_X509_CRL_num(pki->crls); i++)
	{
		X509_CRL   *crl = sk_X509_CRL_value(pki->crls, i);
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
		int64		s;

		if (!ms_vcache_time_seconds(X509_CRL_get0_lastUpdate(crl), &s))
			iv->ok = false;
		else
			narrow(iv, s);
		if (next == NULL)
			continue;
		if (!ms_vcache_time_seconds(next, &s))
			iv->ok = false;
		else
		{
			narrow(iv, s);
			narrow(iv, s + pki->crl_grace_secs);
		}
	}
}

static List *
copy_strings(List *from)
{
	List	   *to = NIL;
	ListCell   *lc;

	foreach(lc, from)
		to = lappend(to, pstrdup(lfirst(lc)));
	return to;
}

static Jsonb *
copy_jsonb(Jsonb *j)
{
	Jsonb	   *c = palloc(VARSIZE(j));

	memcpy(c, j, VARSIZE(j));
	return c;
}

void
ms_path_memo_store(const MsPathMemoKey *key, MsPki *pki, X509 *cert,
				   STACK_OF(X509) *untrusted, time_t t, const MsPathMemoHit *result)
{
	TimeSpan	iv = {.t = (int64) t, .lo = PG_INT64_MIN, .hi = PG_INT64_MAX, .ok = true};
	STACK_OF(X509) *one;
	PathMemoEntry *e;
	PathMemoEntry made;
	bool		found;
	MemoryContext old;

	/* outside the years 0000-9999 X509_cmp_time() answers (verify_cache.c) */
	if (memo_max_entries <= 0 || t < (time_t) INT64CONST(-62167219200) ||
		t >= (time_t) INT64CONST(253402300800))
		return;
	one = sk_X509_new_null();
	if (one == NULL || !sk_X509_push(one, cert))
	{
		sk_X509_free(one);
		return;
	}
	narrow_certs(&iv, one);
	sk_X509_free(one);
	narrow_certs(&iv, untrusted);
	narrow_certs(&iv, pki->anchors);
	narrow_certs(&iv, pki->intermediates);
	narrow_crls(&iv, pki);
	if (!iv.ok)
		return;
	memo_ready();
	if (hash_get_num_entries(memo_table) >= memo_max_entries)
	{
		memo_drop_all();
		memo_ready();
	}
	/* the copies first: an error while copying leaves no half-made entry */
	old = MemoryContextSwitchTo(memo_cxt);
	made.chain = copy_strings(result->chain);
	made.policies = copy_strings(result->policies);
	made.chain_ev = copy_jsonb(result->chain_ev);
	made.crls_ev = copy_jsonb(result->crls_ev);
	MemoryContextSwitchTo(old);
	e = hash_search(memo_table, key, HASH_ENTER, &found);
	if (found)
	{
		/* made at another time: replaced */
		list_free_deep(e->chain);
		list_free_deep(e->policies);
		pfree(e->chain_ev);
		pfree(e->crls_ev);
	}
	e->lo = iv.lo;
	e->hi = iv.hi;
	e->chain = made.chain;
	e->policies = made.policies;
	e->chain_ev = made.chain_ev;
	e->crls_ev = made.crls_ev;
	e->stale_crl_in_grace = result->stale_crl_in_grace;
}

void
ms_path_memo_counts(int64 *entries, int64 *hits)
{
	*entries = memo_table ? hash_get_num_entries(memo_table) : 0;
	*hits = memo_hits;
}
