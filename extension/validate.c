/*-------------------------------------------------------------------------
 *
 * validate.c
 *	  Certificate path validation with a PKI's policy (see validate.h), and
 *	  the SQL function behind mobisign_validate_certificate().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <time.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "ocsp.h"
#include "ossl.h"
#include "path_memo.h"
#include "verify_cache.h"
#include "sql_fn.h"
#include "pki_store.h"
#include "audit_log.h"
#include "jsonb_build.h"
#include "strict_profile.h"
#include "validate.h"

/* at most this many intermediates in one call */
#define MS_MAX_INTERMEDIATES 64

/* a certificate re-encoded with inherited DSA parameters (see below) */
typedef struct Inherited
{
	X509	   *subst;			/* the copy with complete parameters */
	X509	   *issuer;			/* the issuer its original signature verified with */
} Inherited;

#define MS_MAX_INHERITED 8

typedef struct VerifyState
{
	MsPki	   *pki;
	time_t		check_time;
	Inherited	inherited[MS_MAX_INHERITED];
	int			ninherited;
	bool		stale_crl_in_grace;
} VerifyState;

static bool
is_anchor(MsPki *pki, X509 *x)
{
	for (int i = 0; i < sk_X509_num(pki->anchors); i++)
		if (X509_cmp(sk_X509_value(pki->anchors, i), x) == 0)
			return true;
	return false;
}

/*
 * In the nested validation of an indirect CRL issuer's own path, OpenSSL
 * refuses outright to use a CRL whose issuer is that very certificate (it
 * does not recurse).  RFC 5280 and PKITS 4.14.30 accept a CRL issuer whose
 * certificate is covered by the indirect CRL it signs itself: the CRL's
 * signature is still checked with the certificate's key, and the rest of the
 * certificate's path is validated as usual.  Exactly that case is forgiven.
 */
static bool
self_covering_crl_issuer(X509_STORE_CTX *ctx, int err)
{
	STACK_OF(X509) *chain;
	X509	   *subject;
	X509	   *crl_issuer;
	X509_CRL   *crl;

	if (err != X509_V_ERR_CRL_PATH_VALIDATION_ERROR ||
		X509_STORE_CTX_get0_parent_ctx(ctx) == NULL ||
		X509_STORE_CTX_get_error_depth(ctx) != 0)
		return false;
	chain = X509_STORE_CTX_get0_chain(ctx);
	subject = chain ? sk_X509_value(chain, 0) : NULL;
	crl_issuer = X509_STORE_CTX_get0_current_issuer(ctx);
	crl = X509_STORE_CTX_get0_current_crl(ctx);
	return subject != NULL && crl_issuer != NULL && crl != NULL &&
		X509_cmp(subject, crl_issuer) == 0 &&
		X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(subject)) == 0;
}

/*
 * OpenSSL calls this for every problem found.  These are forgiven:
 * - a CRL past its nextUpdate but within the PKI's grace period;
 * - no CRL for the trust anchor itself (RFC 5280 section 6: the anchor is an
 *	 input to path validation, not part of the path);
 * - an indirect CRL issuer covered by its own CRL (see above);
 * - strict profile: a certificate at exactly its notAfter (RFC 5280 4.1.2.5,
 *	 strict_profile.h).
 */
static bool
is_crl_error(int err)
{
	switch (err)
	{
		case X509_V_ERR_UNABLE_TO_GET_CRL:
		case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
		case X509_V_ERR_CRL_SIGNATURE_FAILURE:
		case X509_V_ERR_CRL_NOT_YET_VALID:
		case X509_V_ERR_CRL_HAS_EXPIRED:
		case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
		case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
		case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
		case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
		case X509_V_ERR_DIFFERENT_CRL_SCOPE:
		case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
			return true;
		default:
			return false;
	}
}

static bool
forgiven(VerifyState *st, X509_STORE_CTX *ctx, int err)
{
	if (st == NULL)
		return self_covering_crl_issuer(ctx, err);
	if (st->pki->strict && ms_strict_valid_at_not_after(ctx, err, st->check_time))
		return true;
	if (err == X509_V_ERR_CERT_SIGNATURE_FAILURE && st->ninherited > 0)
	{
		/* a copy with inherited parameters: its original signature was checked */
		STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
		int			depth = X509_STORE_CTX_get_error_depth(ctx);
		X509	   *cur = X509_STORE_CTX_get_current_cert(ctx);
		X509	   *issuer = chain && depth + 1 < sk_X509_num(chain) ? sk_X509_value(chain, depth + 1) : NULL;

		for (int i = 0; issuer != NULL && i < st->ninherited; i++)
			if (st->inherited[i].subst == cur && X509_cmp(st->inherited[i].issuer, issuer) == 0)
				return true;
	}
	if (err == X509_V_ERR_CRL_HAS_EXPIRED && st->pki->crl_grace_secs > 0)
	{
		X509_CRL   *crl = X509_STORE_CTX_get0_current_crl(ctx);
		const ASN1_TIME *next = crl ? X509_CRL_get0_nextUpdate(crl) : NULL;
		time_t		limit = st->check_time - (time_t) st->pki->crl_grace_secs;

		if (next != NULL && X509_cmp_time(next, &limit) > 0)
		{
			st->stale_crl_in_grace = true;
			return true;
		}
	}
	if (is_crl_error(err))
	{
		/*
		 * The anchor is not revocation-checked, whatever its issuer's CRLs
		 * say (an anchor that is itself an intermediate CA has no issuer in
		 * the path to verify them with).
		 */
		STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
		int			depth = X509_STORE_CTX_get_error_depth(ctx);

		if (chain != NULL && depth == sk_X509_num(chain) - 1 &&
			is_anchor(st->pki, sk_X509_value(chain, depth)))
			return true;
	}
	return false;
}

static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	if (ok)
		return ok;
	if (!forgiven(X509_STORE_CTX_get_app_data(ctx), ctx, X509_STORE_CTX_get_error(ctx)))
		return 0;
	/* a forgiven problem must not stay behind as the context's error */
	X509_STORE_CTX_set_error(ctx, X509_V_OK);
	return 1;
}

static int
status_for_error(int err)
{
	switch (err)
	{
		case X509_V_OK:
			return MS_STATUS_VALID_SIGNATURE;
		case X509_V_ERR_CERT_REVOKED:
			return MS_STATUS_REVOKED_CERTIFICATE;
		case X509_V_ERR_CRL_HAS_EXPIRED:
		case X509_V_ERR_CRL_NOT_YET_VALID:
		case X509_V_ERR_UNABLE_TO_GET_CRL:
			return MS_STATUS_CRL_EXPIRED;
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
			return MS_STATUS_NO_CERT_FOUND;
		default:
			return MS_STATUS_ERROR_CERTIFICATE;
	}
}

/* CRLs of the PKI that cover the given certificate (same issuer name) */
static void
add_crls_for(MsJsonb *ev, MsPki *pki, X509 *x)
{
	for (int i = 0; i < sk_X509_CRL_num(pki->crls); i++)
	{
		X509_CRL   *crl = sk_X509_CRL_value(pki->crls, i);
		char	   *issuer;
		char	   *numtext;

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(x)) != 0)
			continue;
		ms_vcache_crl_facts(crl, &issuer, &numtext);
		ms_jb_begin_object(ev, NULL);
		ms_jb_string(ev, "issuer", issuer);
		ms_jb_string(ev, "crl_number", numtext);
		ms_jb_string(ev, "this_update",
					 timestamptz_to_str(ms_asn1_time_to_timestamptz(X509_CRL_get0_lastUpdate(crl))));
		ms_jb_end(ev);
	}
}

/* Is x's key DSA without domain parameters (to be inherited, RFC 5280 6.1.4 (k))? */
static bool
dsa_without_parameters(X509 *x)
{
	ASN1_OBJECT *alg = NULL;
	X509_ALGOR *algor = NULL;
	const ASN1_OBJECT *paramoid;
	int			ptype;
	const void *pval;

	if (!X509_PUBKEY_get0_param(&alg, NULL, NULL, &algor, X509_get_X509_PUBKEY(x)) ||
		OBJ_obj2nid(alg) != NID_dsa)
		return false;
	X509_ALGOR_get0(&paramoid, &ptype, &pval, algor);
	return ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL;
}

static X509 *
issuer_with_key(STACK_OF(X509) *const *sets, int nsets, X509 *x)
{
	for (int s = 0; s < nsets; s++)
		for (int i = 0; sets[s] != NULL && i < sk_X509_num(sets[s]); i++)
		{
			X509	   *c = sk_X509_value(sets[s], i);

			if (c != x && !dsa_without_parameters(c) && X509_get0_pubkey(c) != NULL &&
				X509_check_issued(c, x) == X509_V_OK)
				return c;
		}
	return NULL;
}

/*
 * A copy of x whose DSA key carries the issuer's domain parameters, or NULL.
 * The copy's encoding differs from what the issuer signed, so the original
 * signature is checked here, with the issuer's complete key, and the copy is
 * recorded: the verify callback accepts its signature only with that issuer.
 */
static X509 *
inherit_from(MsScope *scope, X509 *x, X509 *issuer, VerifyState *st)
{
	ASN1_OBJECT *alg = NULL;
	const unsigned char *pk = NULL;
	int			pklen = 0;
	X509_ALGOR *ialgor = NULL;
	const ASN1_OBJECT *ioid;
	int			iptype;
	const void *ipval;
	X509_PUBKEY *xpk;
	unsigned char *der = NULL;
	const unsigned char *p;
	int			derlen;
	EVP_PKEY   *full;
	X509	   *subst;

	if (st->ninherited >= MS_MAX_INHERITED ||
		X509_verify(x, X509_get0_pubkey(issuer)) != 1 ||
		!X509_PUBKEY_get0_param(&alg, &pk, &pklen, NULL, X509_get_X509_PUBKEY(x)) ||
		!X509_PUBKEY_get0_param(NULL, NULL, NULL, &ialgor, X509_get_X509_PUBKEY(issuer)))
		return NULL;
	X509_ALGOR_get0(&ioid, &iptype, &ipval, ialgor);
	if (iptype != V_ASN1_SEQUENCE)
		return NULL;

	/* SubjectPublicKeyInfo = issuer's parameters + x's public key */
	xpk = X509_PUBKEY_new();
	if (xpk == NULL)
		return NULL;
	{
		ASN1_STRING *params = ASN1_STRING_dup(ipval);
		unsigned char *bits = OPENSSL_memdup(pk, pklen);

		if (params == NULL || bits == NULL ||
			!X509_PUBKEY_set0_param(xpk, OBJ_nid2obj(NID_dsa), V_ASN1_SEQUENCE, params, bits, pklen))
		{
			ASN1_STRING_free(params);
			OPENSSL_free(bits);
			X509_PUBKEY_free(xpk);
			return NULL;
		}
	}
	derlen = i2d_X509_PUBKEY(xpk, &der);
	X509_PUBKEY_free(xpk);
	if (derlen <= 0)
		return NULL;
	p = der;
	full = ms_scope_pkey(scope, d2i_PUBKEY(NULL, &p, derlen));
	OPENSSL_free(der);
	subst = ms_scope_x509(scope, X509_dup(x));
	if (full == NULL || subst == NULL || !X509_set_pubkey(subst, full))
		return NULL;
	st->inherited[st->ninherited].subst = subst;
	st->inherited[st->ninherited].issuer = issuer;
	st->ninherited++;
	return subst;
}

/*
 * Replace, in the target and the untrusted set, every certificate whose DSA
 * key lacks parameters by a copy that inherits them from its issuer,
 * walking down from issuers that have them.
 */
static void
inherit_dsa_parameters(MsScope *scope, MsPki *pki, X509 **cert,
					   STACK_OF(X509) **untrusted, VerifyState *st)
{
	STACK_OF(X509) *fixed;
	bool		any = dsa_without_parameters(*cert);

	for (int i = 0; !any && *untrusted != NULL && i < sk_X509_num(*untrusted); i++)
		any = dsa_without_parameters(sk_X509_value(*untrusted, i));
	if (!any)
		return;

	fixed = ms_scope_x509_stack(scope, sk_X509_new_null());
	if (fixed == NULL)
		return;
	for (int i = 0; *untrusted != NULL && i < sk_X509_num(*untrusted); i++)
		if (!X509_add_cert(fixed, sk_X509_value(*untrusted, i), X509_ADD_FLAG_UP_REF))
			return;
	/* each pass completes one more level of the path */
	for (int pass = 0; pass < MS_MAX_INHERITED; pass++)
	{
		bool		changed = false;
		STACK_OF(X509) *const sets[] = {pki->anchors, pki->intermediates, fixed};

		for (int i = 0; i < sk_X509_num(fixed); i++)
		{
			X509	   *x = sk_X509_value(fixed, i);
			X509	   *issuer;
			X509	   *subst;

			if (!dsa_without_parameters(x) || (issuer = issuer_with_key(sets, 3, x)) == NULL)
				continue;
			if ((subst = inherit_from(scope, x, issuer, st)) == NULL)
				continue;
			X509_up_ref(subst);
			X509_free(sk_X509_set(fixed, i, subst));
			changed = true;
		}
		if (!changed)
			break;
	}
	if (dsa_without_parameters(*cert))
	{
		STACK_OF(X509) *const sets[] = {pki->anchors, pki->intermediates, fixed};
		X509	   *issuer = issuer_with_key(sets, 3, *cert);
		X509	   *subst = issuer ? inherit_from(scope, *cert, issuer, st) : NULL;

		if (subst != NULL)
			*cert = subst;
	}
	*untrusted = fixed;
	ERR_clear_error();
}

/*
 * Run OpenSSL's path validation once; with_crls adds CRL checking of the
 * whole chain.  Returns the context (owned by scope) for inspection.
 */
static X509_STORE_CTX *
run_verify(MsScope *scope, MsPki *pki, X509 *cert, STACK_OF(X509) *untrusted,
		   VerifyState *st, bool with_crls, int *rc, int *err)
{
	X509_STORE_CTX *ctx = ms_scope_store_ctx(scope, X509_STORE_CTX_new());
	STACK_OF(X509) *all = untrusted;

	/*
	 * The caller's intermediates, then the PKI's known CAs.  A caller's
	 * certificate identical to a known CA is replaced by the PKI's object,
	 * whose key digest the verification cache keeps (verify_cache.h).
	 */
	if (sk_X509_num(pki->intermediates) > 0)
	{
		all = ms_scope_x509_stack(scope, sk_X509_new_null());
		if (all == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		for (int i = 0; untrusted != NULL && i < sk_X509_num(untrusted); i++)
		{
			X509	   *x = sk_X509_value(untrusted, i);

			for (int k = 0; k < sk_X509_num(pki->intermediates); k++)
				if (X509_cmp(sk_X509_value(pki->intermediates, k), x) == 0)
					x = sk_X509_value(pki->intermediates, k);
			if (!X509_add_cert(all, x, X509_ADD_FLAG_UP_REF))
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		}
		if (!X509_add_certs(all, pki->intermediates, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	if (ctx == NULL || !X509_STORE_CTX_init(ctx, pki->store, cert, all))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not set up certificate verification: %s", ms_ossl_error())));
	X509_STORE_CTX_set_app_data(ctx, st);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	X509_STORE_CTX_set_time(ctx, 0, st->check_time);
	if (with_crls)
	{
		X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), MS_CRL_FLAGS);
		X509_STORE_CTX_set0_crls(ctx, pki->crls);
	}
	ERR_clear_error();
	*rc = X509_verify_cert(ctx);
	*err = X509_STORE_CTX_get_error(ctx);
	if (*rc <= 0 && *err == X509_V_OK)
		*err = X509_V_ERR_UNSPECIFIED;
	return ctx;
}

/*
 * One validation against one PKI.
 *
 * Revocation: 'crl' checks CRLs inside OpenSSL's validation; 'ocsp' asks the
 * responders after a path validates without CRLs; 'ocsp,crl' does the same
 * and falls back to a validation with CRLs when OCSP has no usable answer.
 * Every mode fails closed.
 */
/* One path validation and its revocation checks (validate_with's first step). */
typedef struct PathRun
{
	X509_STORE_CTX *ctx;
	int			rc;				/* X509_verify_cert() */
	int			err;			/* X509_V_* */
	bool		used_crls;		/* the result rests on CRLs */
	Jsonb	   *ocsp_ev;		/* OCSP answers relied on (array), or NULL */
	char	   *ocsp_reason;	/* why OCSP failed closed, or NULL */
} PathRun;

/*
 * Step 1: validate the path, then ask OCSP if the PKI says so, falling
 * back to CRLs ('ocsp,crl') or failing closed ('ocsp').
 */
static void
run_path(MsScope *scope, MsPki *pki, X509 *cert, STACK_OF(X509) *untrusted,
		 VerifyState *st, PathRun *run)
{
	run->used_crls = pki->check_crl && !pki->check_ocsp;
	run->ocsp_reason = NULL;
	run->ocsp_ev = NULL;
	run->ctx = run_verify(scope, pki, cert, untrusted, st, run->used_crls, &run->rc, &run->err);
	if (run->rc > 0 && pki->check_ocsp)
	{
		MsOcspOutcome o = ms_ocsp_check_chain(pki, X509_STORE_CTX_get0_chain(run->ctx),
											  st->check_time, &run->ocsp_ev, &run->ocsp_reason);

		if (o == MS_OCSP_REVOKED)
		{
			run->rc = 0;
			run->err = X509_V_ERR_CERT_REVOKED;
		}
		else if (o == MS_OCSP_UNAVAILABLE && pki->check_crl)
		{
			run->used_crls = true;
			run->ctx = run_verify(scope, pki, cert, untrusted, st, true, &run->rc, &run->err);
		}
		else if (o == MS_OCSP_UNAVAILABLE)
		{
			run->rc = 0;
			run->err = X509_V_ERR_UNABLE_TO_GET_CRL;
		}
	}
}

/*
 * Step 1b (strict profile): OpenSSL builds one path.  When it fails on name
 * constraints and a certificate of it has a cross-certificate, try again
 * without that certificate (strict_profile.h); the first failure stands if
 * no path validates.
 */
static void
run_alternative_paths(MsScope *scope, MsPki *pki, X509 *cert, STACK_OF(X509) *untrusted,
					  VerifyState *st, PathRun *run)
{
	MsPki		alt = *pki;
	STACK_OF(X509) *excluded = ms_scope_x509_stack(scope, sk_X509_new_null());
	STACK_OF(X509) *const pools[] = {untrusted, pki->intermediates};
	PathRun		tried = *run;

	for (int n = 1; n < MS_STRICT_MAX_PATHS && tried.rc <= 0 && ms_strict_path_dependent(tried.err) &&
		 ms_strict_exclude_alternative(X509_STORE_CTX_get0_chain(tried.ctx), pools, 2, excluded); n++)
	{
		alt.intermediates = ms_strict_without(scope, pki->intermediates, excluded);
		run_path(scope, &alt, cert, ms_strict_without(scope, untrusted, excluded), st, &tried);
		if (tried.rc > 0)
			*run = tried;
	}
}

/* Step 2: valid or not, the status code, and the reason in words. */
static void
describe_path(MsPki *pki, PathRun *run, MsValidation *out)
{
	out->pki_name = pstrdup(pki->name);
	out->x509_error = run->err;
	out->status_code = status_for_error(run->err);
	out->valid = (run->rc > 0 && run->err == X509_V_OK);
	out->chain = NIL;
	out->policies = NIL;

	if (!out->valid && run->ocsp_reason != NULL && !run->used_crls)
		out->reason = psprintf("%s (OCSP)", run->ocsp_reason);
	else if (!out->valid)
	{
		int			depth = X509_STORE_CTX_get_error_depth(run->ctx);
		X509	   *at_cert = X509_STORE_CTX_get_current_cert(run->ctx);

		out->reason = psprintf("%s (depth %d%s%s)", X509_verify_cert_error_string(run->err), depth,
							   at_cert ? ": " : "",
							   at_cert ? ms_name_text(X509_get_subject_name(at_cert)) : "");
	}
	else
		out->reason = pstrdup("certificate path is valid");
}

/* Step 3: key usage for the operation, checked only on an otherwise valid path. */
static void
check_key_usage(MsPki *pki, X509 *cert, MsKeyUsage usage, MsValidation *out)
{
	uint32_t	ku;
	uint32_t	need;
	const char *needname;

	if (!out->valid || usage == MS_USAGE_NONE || !pki->enforce_key_usage)
		return;
	ku = X509_get_key_usage(cert);	/* UINT32_MAX: no extension */
	switch (usage)
	{
		case MS_USAGE_AUTHENTICATION:
			need = KU_DIGITAL_SIGNATURE;
			needname = "digitalSignature";
			break;
		case MS_USAGE_SIGNING:
			need = KU_NON_REPUDIATION;
			needname = "nonRepudiation";
			break;
		default:
			need = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION;
			needname = "digitalSignature or nonRepudiation";
			break;
	}
	if (ku == UINT32_MAX)
	{
		/* the PKI enforces key usage: a certificate must state it */
		out->valid = false;
		out->status_code = MS_STATUS_ERROR_CERTIFICATE;
		out->reason = psprintf("the certificate has no keyUsage extension (%s required)", needname);
	}
	else if ((ku & need) == 0)
	{
		out->valid = false;
		out->status_code = MS_STATUS_ERROR_CERTIFICATE;
		out->reason = psprintf("the certificate's key usage does not allow %s", needname);
	}
}

/*
 * Step 4a: the evidence's parts that depend on the path only: the chain
 * (subjects and fingerprints) and the CRLs relied on, as two arrays; the
 * subjects also go to out->chain.
 */
static void
path_evidence(MsPki *pki, STACK_OF(X509) *chain, bool used_crls, Jsonb **chain_ev,
			  Jsonb **crls_ev, MsValidation *out)
{
	MsJsonb		ev = {0};
	MsJsonb		crls = {0};

	ms_jb_begin_array(&ev, NULL);
	for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++)
	{
		X509	   *x = sk_X509_value(chain, i);
		char	   *subj = ms_vcache_subject(x);

		out->chain = lappend(out->chain, subj);
		ms_jb_begin_object(&ev, NULL);
		ms_jb_string(&ev, "subject", subj);
		ms_jb_string(&ev, "sha256", ms_vcache_fingerprint_hex(x));
		ms_jb_end(&ev);
	}
	ms_jb_end(&ev);
	*chain_ev = ms_jb_finish(&ev);
	ms_jb_begin_array(&crls, NULL);
	for (int i = 0; used_crls && chain != NULL && i < sk_X509_num(chain); i++)
		add_crls_for(&crls, pki, sk_X509_value(chain, i));
	ms_jb_end(&crls);
	*crls_ev = ms_jb_finish(&crls);
}

/*
 * Step 4b: the evidence document, from the path validated or remembered
 * (path_memo.h), at the call's time.
 */
static void
record_evidence(MsPki *pki, time_t check_time, Jsonb *chain_ev, Jsonb *crls_ev,
				Jsonb *ocsp_ev, bool stale_crl_in_grace, MsValidation *out)
{
	MsJsonb		ev = {0};

	ms_jb_begin_object(&ev, NULL);
	ms_jb_string(&ev, "pki", pki->name);
	ms_jb_string(&ev, "checked_at", timestamptz_to_str(time_t_to_timestamptz(check_time)));
	ms_jb_document(&ev, "chain", chain_ev);
	ms_jb_document(&ev, "crls", crls_ev);
	if (ocsp_ev != NULL)
		ms_jb_document(&ev, "ocsp", ocsp_ev);
	if (stale_crl_in_grace)
		ms_jb_bool(&ev, "stale_crl_within_grace", true);
	ms_jb_string(&ev, "revocation", pki->revocation);
	ms_jb_end(&ev);
	out->evidence = ms_jb_finish(&ev);
}

/* Step 5: the valid policy set of a valid path. */
static void
record_policies(PathRun *run, MsValidation *out)
{
	X509_POLICY_TREE *tree;
	STACK_OF(X509_POLICY_NODE) *nodes;

	if (!out->valid || (tree = X509_STORE_CTX_get0_policy_tree(run->ctx)) == NULL)
		return;
	nodes = X509_policy_tree_get0_user_policies(tree);
	for (int i = 0; nodes != NULL && i < sk_X509_POLICY_NODE_num(nodes); i++)
	{
		const ASN1_OBJECT *pol = X509_policy_node_get0_policy(sk_X509_POLICY_NODE_value(nodes, i));

		out->policies = lappend(out->policies, ms_obj_text(pol));
	}
}

/* A valid path remembered for this check time (path_memo.h): the same result. */
static bool
validate_from_memo(MsPki *pki, const MsPathMemoKey *key, time_t check_time, MsValidation *out)
{
	MsPathMemoHit hit;
	ListCell   *lc;

	if (!ms_path_memo_lookup(key, check_time, &hit))
		return false;
	out->pki_name = pstrdup(pki->name);
	out->x509_error = X509_V_OK;
	out->status_code = MS_STATUS_VALID_SIGNATURE;
	out->valid = true;
	out->reason = pstrdup("certificate path is valid");
	out->chain = NIL;
	out->policies = NIL;
	record_evidence(pki, check_time, hit.chain_ev, hit.crls_ev, NULL, hit.stale_crl_in_grace, out);
	foreach(lc, hit.chain)
		out->chain = lappend(out->chain, pstrdup(lfirst(lc)));
	foreach(lc, hit.policies)
		out->policies = lappend(out->policies, pstrdup(lfirst(lc)));
	return true;
}

static void
validate_with(MsScope *scope, MsPki *pki, X509 *cert, STACK_OF(X509) *untrusted,
			  TimestampTz at, MsKeyUsage usage, MsValidation *out)
{
	VerifyState st = {0};
	PathRun		run;
	MsPathMemoKey key;
	bool		memo = false;
	Jsonb	   *chain_ev;
	Jsonb	   *crls_ev;
	X509	   *given_cert = cert;
	STACK_OF(X509) *given_untrusted = untrusted;

	st.pki = pki;
	st.check_time = at ? ms_timestamptz_to_time_t(at) : time(NULL);
	memo = ms_path_memo_key(pki, cert, untrusted, usage, &key);
	if (memo && validate_from_memo(pki, &key, st.check_time, out))
		return;
	inherit_dsa_parameters(scope, pki, &cert, &untrusted, &st);

	run_path(scope, pki, cert, untrusted, &st, &run);
	if (pki->strict)
		run_alternative_paths(scope, pki, cert, untrusted, &st, &run);
	describe_path(pki, &run, out);
	/* the strict profile's rules, on the path OpenSSL validated */
	if (out->valid && pki->strict && !ms_strict_check(X509_STORE_CTX_get0_chain(run.ctx), &out->reason))
	{
		out->valid = false;
		out->status_code = MS_STATUS_ERROR_CERTIFICATE;
	}
	check_key_usage(pki, cert, usage, out);
	path_evidence(pki, X509_STORE_CTX_get0_chain(run.ctx), run.used_crls, &chain_ev, &crls_ev, out);
	record_evidence(pki, st.check_time, chain_ev, crls_ev, run.ocsp_ev, st.stale_crl_in_grace, out);
	record_policies(&run, out);
	/* a path with DSA parameters inherited holds this call's copies: not kept */
	if (memo && out->valid && st.ninherited == 0)
	{
		MsPathMemoHit result = {
			.chain = out->chain,
			.policies = out->policies,
			.chain_ev = chain_ev,
			.crls_ev = crls_ev,
			.stale_crl_in_grace = st.stale_crl_in_grace,
		};

		ms_path_memo_store(&key, pki, given_cert, given_untrusted, st.check_time, &result);
	}
	ERR_clear_error();
}

void
ms_validate_certificate(X509 *cert, STACK_OF(X509) *untrusted, const char *pki_name,
						TimestampTz at, MsKeyUsage usage, MsValidation *out)
{
	MsScope    *scope = ms_scope_create();

	memset(out, 0, sizeof(*out));
	if (pki_name != NULL)
		validate_with(scope, ms_pki_get(pki_name), cert, untrusted, at, usage, out);
	else
	{
		List	   *all = ms_pki_all();
		ListCell   *lc;
		MsValidation best = {0};
		bool		have_best = false;

		foreach(lc, all)
		{
			MsValidation v;

			validate_with(scope, (MsPki *) lfirst(lc), cert, untrusted, at, usage, &v);
			if (v.valid)
			{
				*out = v;
				ms_scope_release(scope);
				return;
			}
			/* prefer the answer of a PKI whose anchors reached the certificate */
			if (!have_best || (best.status_code == MS_STATUS_NO_CERT_FOUND &&
							   v.status_code != MS_STATUS_NO_CERT_FOUND))
			{
				best = v;
				have_best = true;
			}
		}
		if (have_best && best.status_code != MS_STATUS_NO_CERT_FOUND)
			*out = best;
		else
		{
			out->valid = false;
			out->status_code = MS_STATUS_NO_CERT_FOUND;
			out->reason = all == NIL ? pstrdup("no PKI is configured")
				: pstrdup("no configured PKI has a trust anchor for this certificate");
			out->pki_name = NULL;
			out->chain = list_make1(ms_name_text(X509_get_subject_name(cert)));
			out->policies = NIL;
			out->evidence = ms_jb_empty_object();
			out->x509_error = have_best ? best.x509_error : X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
		}
	}
	ms_scope_release(scope);
}

/* ---- SQL interface ---- */

TimestampTz
ms_check_time(TimestampTz at)
{
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the validation time must be finite"),
				 errhint("Pass NULL for now, or a date and time.")));
	/* 0 means "now" inside mobisign: the epoch itself is kept a microsecond apart */
	return at == 0 ? 1 : at;
}

void
ms_validation_columns(MsValidation *v, Datum *values, bool *nulls, int *col)
{
	values[(*col)++] = BoolGetDatum(v->valid);
	values[(*col)++] = Int32GetDatum(v->status_code);
	values[(*col)++] = CStringGetTextDatum(ms_status_name(v->status_code));
	values[(*col)++] = CStringGetTextDatum(v->reason ? v->reason : "");
	if (v->pki_name)
		values[(*col)++] = CStringGetTextDatum(v->pki_name);
	else
		nulls[(*col)++] = true;
	values[(*col)++] = ms_text_array(v->chain);
}

/*
 * One validation from the SQL arguments (certificate bytea, intermediates
 * bytea[], pki text, at timestamptz): the record's values in values/nulls.
 */
static void
validation_row(FunctionCallInfo fcinfo, Datum *values, bool *nulls, MsValidation *v)
{
	MsScope    *scope;
	X509	   *cert;
	STACK_OF(X509) *inter;
	int			col = 0;

	ms_require_arg(fcinfo, 0, "certificate");
	scope = ms_scope_create();
	cert = ms_vcache_certificate(scope, "certificate", PG_GETARG_BYTEA_PP(0));
	inter = ms_parse_certificate_array(scope, "intermediates",
									   PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1),
									   MS_MAX_INTERMEDIATES);
	ms_validate_certificate(cert, inter,
							PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
							PG_ARGISNULL(3) ? 0 : ms_check_time(PG_GETARG_TIMESTAMPTZ(3)),
							MS_USAGE_NONE, v);
	ms_scope_release(scope);

	ms_validation_columns(v, values, nulls, &col);
	values[col++] = ms_text_array(v->policies);
	values[col++] = JsonbPGetDatum(v->evidence);
}

/*
 * Both SQL entries: the validation's record, and with audit its audit row
 * in the same statement (detail: subject, pki, status, reason, at).
 */
static Datum
validate_entry(FunctionCallInfo fcinfo, bool audit)
{
	Datum		values[8];
	bool		nulls[8] = {0};
	MsValidation v;
	MsJsonb		detail = {0};

	validation_row(fcinfo, values, nulls, &v);
	if (audit)
	{
		ms_jb_begin_object(&detail, NULL);
		ms_jb_string(&detail, "subject", v.chain != NIL ? (char *) linitial(v.chain) : NULL);
		ms_jb_string(&detail, "pki", v.pki_name);
		ms_jb_int(&detail, "status", v.status_code);
		ms_jb_string(&detail, "reason", v.reason ? v.reason : "");
		ms_jb_json_timestamptz(&detail, "at", PG_ARGISNULL(3) ? GetCurrentTransactionStartTimestamp()
							   : PG_GETARG_TIMESTAMPTZ(3));
		ms_jb_end(&detail);
		ms_audit_write("validate_certificate", ms_status_name(v.status_code), ms_jb_finish(&detail));
	}
	return ms_result_datum(fcinfo, values, nulls);
}

PG_FUNCTION_INFO_V1(mobisign_validate_certificate_internal);

/*
 * mobisign._validate_certificate(certificate bytea, intermediates bytea[],
 *		pki text, at timestamptz)
 *	 -> (valid, status_code, status_name, reason, pki, chain, policies, evidence)
 */
Datum
mobisign_validate_certificate_internal(PG_FUNCTION_ARGS)
{
	return validate_entry(fcinfo, false);
}

PG_FUNCTION_INFO_V1(mobisign_validate_certificate);

/* mobisign_validate_certificate(): the same record, audited. */
Datum
mobisign_validate_certificate(PG_FUNCTION_ARGS)
{
	return validate_entry(fcinfo, true);
}
