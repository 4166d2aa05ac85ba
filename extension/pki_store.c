/*-------------------------------------------------------------------------
 *
 * pki_store.c
 *	  Per-backend cache of one X509_STORE per PKI (see pki_store.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "storage/sinval.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "input_limits.h"
#include "ossl.h"
#include "pki_store.h"
#include "spi_row.h"
#include "verify_cache.h"

/* all cached PKIs, allocated in CacheContext */
static List *pki_cache = NIL;
static MemoryContext pki_cxt = NULL;
static SPIPlanPtr refresh_plan = NULL;

/*
 * Whether the cache still matches mobisign.pki without asking: every change
 * to the table (its statement trigger, mobisign._pki_changed) sends a
 * relcache invalidation for it, which each backend receives -- its own at
 * the next command, the others' when the change commits -- and which clears
 * pki_current.  pki_all: every enabled PKI is loaded too (ms_pki_all).
 * inval_count tells a refresh whether an invalidation came in meanwhile.
 */
static bool pki_current = false;
static bool pki_all = false;
static uint64 inval_count = 0;
static Oid	pki_relid = InvalidOid;

static void
pki_relcache_changed(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == pki_relid)
	{
		pki_current = pki_all = false;
		inval_count++;
	}
}

static void
pki_free(MsPki *pki)
{
	if (pki->store)
		X509_STORE_free(pki->store);
	if (pki->anchors)
		sk_X509_pop_free(pki->anchors, X509_free);
	if (pki->intermediates)
		sk_X509_pop_free(pki->intermediates, X509_free);
	if (pki->crls)
		sk_X509_CRL_pop_free(pki->crls, X509_CRL_free);
	if (pki->policies)
		sk_ASN1_OBJECT_pop_free(pki->policies, ASN1_OBJECT_free);
	pfree(pki->name);
	if (pki->revocation)
		pfree(pki->revocation);
	pfree(pki);
}

static MsPki *
cache_find(int id)
{
	ListCell   *lc;

	foreach(lc, pki_cache)
	{
		MsPki	   *p = (MsPki *) lfirst(lc);

		if (p->id == id)
			return p;
	}
	return NULL;
}

static MsPki *
cache_find_name(const char *name)
{
	ListCell   *lc;

	foreach(lc, pki_cache)
	{
		MsPki	   *p = (MsPki *) lfirst(lc);

		if (strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

static void
cache_remove(MsPki *pki)
{
	pki_cache = list_delete_ptr(pki_cache, pki);
	pki_free(pki);
}

static void
oom(void)
{
	ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
}

#define PKI_COLUMNS \
	"SELECT name, generation, enabled, revocation, security_level, enforce_key_usage," \
	"       extract(epoch FROM crl_grace)::bigint AS crl_grace_secs, explicit_policy," \
	"       inhibit_policy_mapping, inhibit_any_policy, initial_policies, trust_anchors," \
	"       intermediates, profile" \
	"  FROM mobisign.pki "

/* The PKI's settings from its row, in pki_cxt; no OpenSSL object yet. */
static MsPki *
pki_from_row(int id, HeapTuple tup, TupleDesc td)
{
	MsPki	   *pki = MemoryContextAllocZero(pki_cxt, sizeof(MsPki));

	pki->id = id;
	pki->name = MemoryContextStrdup(pki_cxt, ms_spi_text(tup, td, "name"));
	pki->generation = ms_spi_int64(tup, td, "generation");
	pki->enabled = ms_spi_bool(tup, td, "enabled");
	pki->revocation = MemoryContextStrdup(pki_cxt, ms_spi_text(tup, td, "revocation"));
	pki->check_crl = strstr(pki->revocation, "crl") != NULL;
	pki->check_ocsp = strstr(pki->revocation, "ocsp") != NULL;
	pki->security_level = ms_spi_int32(tup, td, "security_level");
	pki->enforce_key_usage = ms_spi_bool(tup, td, "enforce_key_usage");
	pki->crl_grace_secs = ms_spi_int64(tup, td, "crl_grace_secs");
	pki->explicit_policy = ms_spi_bool(tup, td, "explicit_policy");
	pki->inhibit_policy_mapping = ms_spi_bool(tup, td, "inhibit_policy_mapping");
	pki->inhibit_any_policy = ms_spi_bool(tup, td, "inhibit_any_policy");
	/* the domain mobisign.pki_profile holds the list: strict adds strict_profile.h's rules */
	pki->strict = strcmp(ms_spi_text(tup, td, "profile"), "strict") == 0;
	return pki;
}

/* The elements of the array column name; -1 when it is NULL. */
static int
array_column(HeapTuple tup, TupleDesc td, const char *name, Oid elemtype, Datum **elems)
{
	bool		isnull;
	Datum		d = ms_spi_datum(tup, td, name, &isnull);
	bool	   *nulls;
	int			n;

	*elems = NULL;
	if (isnull)
		return -1;
	deconstruct_array(DatumGetArrayTypeP(d), elemtype, -1, false, TYPALIGN_INT,
					  elems, &nulls, &n);
	return n;
}

/* The initial policy set (pki->policies); a NULL column means {anyPolicy}. */
static void
load_policies(MsPki *pki, HeapTuple tup, TupleDesc td)
{
	Datum	   *elems;
	int			n = array_column(tup, td, "initial_policies", TEXTOID, &elems);

	if (n < 0)
		return;
	pki->policies = sk_ASN1_OBJECT_new_null();
	if (pki->policies == NULL)
		oom();
	for (int i = 0; i < n; i++)
	{
		char	   *oid = TextDatumGetCString(elems[i]);
		ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);

		if (obj == NULL || !sk_ASN1_OBJECT_push(pki->policies, obj))
		{
			ASN1_OBJECT_free(obj);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("PKI \"%s\" has an invalid policy OID \"%s\"", pki->name, oid)));
		}
	}
}

/* The trust anchors, into a new pki->store; returns them, owned by scope. */
static STACK_OF(X509) *
load_anchors(MsScope *scope, MsPki *pki, HeapTuple tup, TupleDesc td)
{
	STACK_OF(X509) *anchors = ms_scope_x509_stack(scope, sk_X509_new_null());
	Datum	   *elems;
	int			n;

	if (anchors == NULL)
		oom();
	n = array_column(tup, td, "trust_anchors", BYTEAOID, &elems);
	pki->store = X509_STORE_new();	/* freed by pki_free on error */
	if (pki->store == NULL)
		oom();
	for (int i = 0; i < n; i++)
	{
		X509	   *x = ms_parse_certificate_bytea(scope, "trust anchor",
												   DatumGetByteaPP(elems[i]));

		if (!X509_STORE_add_cert(pki->store, x) || !X509_up_ref(x) || !sk_X509_push(anchors, x))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not add a trust anchor of PKI \"%s\": %s", pki->name, ms_ossl_error())));
	}
	return anchors;
}

/* The known intermediate CAs (pki->intermediates). */
static void
load_intermediates(MsScope *scope, MsPki *pki, HeapTuple tup, TupleDesc td)
{
	Datum	   *elems;
	int			n = array_column(tup, td, "intermediates", BYTEAOID, &elems);

	pki->intermediates = sk_X509_new_null();
	if (pki->intermediates == NULL)
		oom();
	for (int i = 0; i < n; i++)
	{
		X509	   *x = ms_parse_certificate_bytea(scope, "intermediate",
												   DatumGetByteaPP(elems[i]));

		if (!X509_up_ref(x) || !sk_X509_push(pki->intermediates, x))
			oom();
	}
}

/*
 * The cached CRLs (pki->crls).  They are handed to each verification
 * (X509_STORE_CTX_set0_crls) rather than put in the store: OpenSSL's store
 * lookup finds CRLs only by the certificate issuer's name, which misses
 * indirect CRLs (cRLIssuer) that extended CRL support can use.  Each
 * checks its signature once per issuer key (verify_cache.h).
 */
static void
load_crls(MsPki *pki)
{
	Datum		arg[1] = {Int32GetDatum(pki->id)};
	Oid			argtype[1] = {INT4OID};
	int			rc;

	pki->crls = sk_X509_CRL_new_null();
	if (pki->crls == NULL)
		oom();
	rc = SPI_execute_with_args("SELECT der FROM mobisign.crl WHERE pki_id = $1 ORDER BY id",
							   1, argtype, arg, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read mobisign.crl: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = ms_spi_datum(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "der", &isnull);
		bytea	   *der = DatumGetByteaPP(d);
		X509_CRL   *crl = ms_vcache_crl((unsigned char *) VARDATA_ANY(der), VARSIZE_ANY_EXHDR(der));

		/* mobisign.crl holds DER that parsed when it was added */
		if (crl == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("a cached CRL of PKI \"%s\" does not parse: %s", pki->name, ms_ossl_error())));
		if (!sk_X509_CRL_push(pki->crls, crl))
		{
			X509_CRL_free(crl);
			oom();
		}
	}
}

/* The store's verification parameters from the PKI's policy. */
static void
set_verify_params(MsPki *pki)
{
	X509_VERIFY_PARAM *param = X509_STORE_get0_param(pki->store);
	unsigned long flags;

	flags = X509_V_FLAG_POLICY_CHECK | X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_TRUSTED_FIRST;
	/* CRL flags are set per verification (validate.c): see MS_CRL_FLAGS */
	if (pki->explicit_policy)
		flags |= X509_V_FLAG_EXPLICIT_POLICY;
	if (pki->inhibit_policy_mapping)
		flags |= X509_V_FLAG_INHIBIT_MAP;
	if (pki->inhibit_any_policy)
		flags |= X509_V_FLAG_INHIBIT_ANY;
	X509_VERIFY_PARAM_set_flags(param, flags);
	/* certificate signatures are checked once (verify_cache.h), the rest each time */
	X509_STORE_set_verify(pki->store, ms_vcache_verify_chain);
	X509_VERIFY_PARAM_set_auth_level(param, pki->security_level);
	X509_VERIFY_PARAM_set_depth(param, 16);
	/* purposes are checked by mobisign itself (key usage per operation) */
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY);

	/*
	 * The initial policy set is always explicit: with no set at all, OpenSSL
	 * leaves the user-constrained set empty and an explicit policy
	 * requirement then fails even for anyPolicy.
	 */
	if (pki->policies == NULL)
	{
		ASN1_OBJECT *any = OBJ_nid2obj(NID_any_policy);

		pki->policies = sk_ASN1_OBJECT_new_null();
		if (pki->policies == NULL || !sk_ASN1_OBJECT_push(pki->policies, OBJ_dup(any)))
			oom();
	}
	if (!X509_VERIFY_PARAM_set1_policies(param, pki->policies))
		oom();
}

/*
 * Build the PKI with the given id from its row and CRLs.  Runs inside SPI.
 * Every OpenSSL object is first owned by a scope or by the MsPki, so an
 * error leaks nothing; on success ownership moves to the returned MsPki.
 */
static MsPki *
pki_load(int id)
{
	Datum		arg[1] = {Int32GetDatum(id)};
	Oid			argtype[1] = {INT4OID};
	MsScope    *scope = ms_scope_create();
	MsPki	   *volatile pki;
	STACK_OF(X509) *volatile anchors = NULL;
	int			rc;

	rc = SPI_execute_with_args(PKI_COLUMNS "WHERE id = $1", 1, argtype, arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read mobisign.pki: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
	{
		ms_scope_release(scope);
		return NULL;
	}
	pki = pki_from_row(id, SPI_tuptable->vals[0], SPI_tuptable->tupdesc);

	PG_TRY();
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	td = SPI_tuptable->tupdesc;

		load_policies(pki, tup, td);
		anchors = load_anchors(scope, pki, tup, td);
		load_intermediates(scope, pki, tup, td);
		load_crls(pki);	/* replaces SPI_tuptable */
		set_verify_params(pki);
	}
	PG_CATCH();
	{
		pki_free(pki);
		PG_RE_THROW();
	}
	PG_END_TRY();

	ms_scope_forget(scope, anchors);
	pki->anchors = anchors;
	ms_scope_release(scope);
	ERR_clear_error();
	return pki;
}

/*
 * Refresh the cache against mobisign.pki: drop removed or changed PKIs and
 * load changed ones.  If only_name is not NULL, only that PKI is (re)loaded.
 */
static void
pki_refresh(const char *only_name)
{
	int			rc;
	List	   *seen = NIL;
	uint64		invals;

	if (pki_cxt == NULL)
	{
		pki_cxt = AllocSetContextCreate(TopMemoryContext, "mobisign PKI cache",
										ALLOCSET_SMALL_SIZES);
		CacheRegisterRelcacheCallback(pki_relcache_changed, (Datum) 0);
	}

	/* changes committed by others since the last look */
	AcceptInvalidationMessages();
	if (pki_current && (only_name != NULL ? cache_find_name(only_name) != NULL : pki_all))
		return;
	pki_current = false;
	invals = inval_count;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pki_relid = get_relname_relid("pki", get_namespace_oid("mobisign", false));
	/* run at every verification: planned once per backend */
	rc = SPI_execute_plan(ms_spi_prepare_once(&refresh_plan,
											  "SELECT id, name, generation, xmin::text::bigint AS row_version"
											  "  FROM mobisign.pki WHERE enabled ORDER BY id", 0, NULL),
						  NULL, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read mobisign.pki: %s", SPI_result_code_string(rc));

	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		n = SPI_processed;

		for (uint64 i = 0; i < n; i++)
		{
			int			id = ms_spi_int32(tt->vals[i], tt->tupdesc, "id");
			char	   *name = ms_spi_text(tt->vals[i], tt->tupdesc, "name");
			int64		gen = ms_spi_int64(tt->vals[i], tt->tupdesc, "generation");
			int64		rowver = ms_spi_int64(tt->vals[i], tt->tupdesc, "row_version");
			MsPki	   *p = cache_find(id);

			seen = lappend_int(seen, id);
			/* xmin also catches a PKI dropped and re-created with the same id */
			if (p != NULL && p->generation == gen && p->row_version == rowver &&
				strcmp(p->name, name) == 0)
				continue;
			if (p != NULL)
				cache_remove(p);
			if (only_name != NULL && strcmp(only_name, name) != 0)
				continue;
			p = pki_load(id);
			if (p != NULL)
			{
				MemoryContext old = MemoryContextSwitchTo(pki_cxt);

				p->row_version = rowver;
				pki_cache = lappend(pki_cache, p);
				MemoryContextSwitchTo(old);
			}
		}
	}

	/* drop PKIs that were removed or disabled */
	{
		ListCell   *lc;
		List	   *gone = NIL;

		foreach(lc, pki_cache)
		{
			MsPki	   *p = (MsPki *) lfirst(lc);

			if (!list_member_int(seen, p->id))
				gone = lappend(gone, p);
		}
		foreach(lc, gone)
			cache_remove((MsPki *) lfirst(lc));
	}
	SPI_finish();
	/* current unless an invalidation came in while the rows were read */
	if (inval_count == invals && OidIsValid(pki_relid))
	{
		pki_current = true;
		if (only_name == NULL)
			pki_all = true;
	}
}

PG_FUNCTION_INFO_V1(mobisign_pki_changed);

/*
 * mobisign._pki_changed(): the statement trigger on mobisign.pki (and so on
 * every CRL change, which bumps the PKI's generation): every backend's PKI
 * cache looks at the table again at its next verification.
 */
Datum
mobisign_pki_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mobisign._pki_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	return PointerGetDatum(NULL);
}

MsPki *
ms_pki_get(const char *name)
{
	MsPki	   *p;

	/* the name comes from SQL: bounded before it is looked up or echoed */
	ms_input_check("name", name, strlen(name));
	pki_refresh(name);
	if ((p = cache_find_name(name)) != NULL)
		return p;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("PKI \"%s\" does not exist", name),
			 errhint("Configured PKIs are listed in mobisign.pki; add one with mobisign_add_pki().")));
	return NULL;				/* keep compiler quiet */
}

List *
ms_pki_all(void)
{
	List	   *result = NIL;
	ListCell   *lc;

	pki_refresh(NULL);
	foreach(lc, pki_cache)
		result = lappend(result, lfirst(lc));
	return result;
}
