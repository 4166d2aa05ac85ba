/*-------------------------------------------------------------------------
 *
 * ocsp.c
 *	  OCSP revocation checking of a validated chain (see ocsp.h).
 *
 * For each certificate of the chain but the trust anchor: a cached response
 * (mobisign.ocsp_response) that is still fresh, else a request with a nonce
 * to each http:// OCSP URL of the certificate's AIA extension in turn.  A
 * response counts only if
 *	- its status is successful and it is a basic response;
 *	- it echoes the nonce (a response without the nonce is accepted only
 *	  when its thisUpdate is within the last five minutes; a wrong nonce
 *	  never);
 *	- its signature verifies and the signer is the issuing CA itself or a
 *	  responder the issuing CA delegated (OCSP signing EKU), with a path to
 *	  the PKI's own trust anchors (OCSP_basic_verify with the PKI's store);
 *	- it covers the certificate (same CertID) and is valid at the time of
 *	  the check: thisUpdate not after it, nextUpdate not before it (5
 *	  minutes of clock skew).
 * Anything else is "unavailable", which the caller turns into a CRL
 * fallback ('ocsp,crl') or a failure ('ocsp').
 *
 * A responder that did not answer and cost at least half of
 * mobisign.fetch_timeout doing so (a timeout, a connection that never came:
 * not a refusal or an HTTP error, which cost nothing and may be one lost
 * packet) is not asked again by this process for a while: 30 s after its
 * first such failure in a row, doubling up to 10 min (responder_backoff),
 * so that a
 * dead or frozen responder costs one fetch timeout per process and back-off,
 * not one per verification of every user (the verifiers, long-lived, verify
 * one answer after another).  Skipped, it counts as unavailable, as a
 * timeout would: fail closed, or the CRL at once.  An answer of any kind
 * ends its back-off.  At most MS_OCSP_BACKOFF_SLOTS responders are
 * remembered (the one that may be asked soonest gives way).
 *
 * The time of the check ("at", now by default) is treated exactly as CRL
 * mode treats it, so that both modes give the same answer: revocation
 * status at a time is established only by revocation data valid at that
 * time (a CRL with thisUpdate <= at <= nextUpdate, an OCSP response with
 * thisUpdate <= at <= nextUpdate); a certificate that such data lists as
 * revoked is revoked, whatever its revocation date.  A response produced
 * after "at" says nothing about "at": a caller's claim that a signature is
 * older than a revocation (for instance after a key compromise) is no
 * evidence.  So a past "at" without data from that time fails closed (424)
 * in both modes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "fetch.h"
#include "ocsp.h"
#include "ocsp_input.h"
#include "jsonb_build.h"
#include "ossl.h"
#include "spi_row.h"
#include "xact_unit.h"

typedef struct OcspAnswer
{
	MsOcspOutcome outcome;
	char	   *reason;			/* when not GOOD */
	const char *status;			/* "good", "revoked", "unknown" or NULL */
	char	   *url;
	bool		cached;
	TimestampTz this_update;
	TimestampTz next_update;	/* 0 if absent */
	TimestampTz produced_at;
	TimestampTz revocation_time;	/* 0 if not revoked */
	int			revocation_reason;
	char	   *response_sha256;
	bytea	   *der;			/* the response to cache (fresh answers only) */
} OcspAnswer;

MS_SCOPE_FREE_FN(free_ocsp_response, OCSP_RESPONSE, OCSP_RESPONSE_free);
MS_SCOPE_FREE_FN(free_ocsp_basic, OCSP_BASICRESP, OCSP_BASICRESP_free);
MS_SCOPE_FREE_FN(free_ocsp_request, OCSP_REQUEST, OCSP_REQUEST_free);
MS_SCOPE_FREE_FN(free_ocsp_certid, OCSP_CERTID, OCSP_CERTID_free);
MS_SCOPE_FREE_FN(free_string_stack, STACK_OF(OPENSSL_STRING), X509_email_free);
MS_SCOPE_FREE_FN(free_openssl_mem, void, OPENSSL_free);

/* why a response is not usable (palloc'd) */
static char *
ocsp_problem(msi_rc rc, const msi_ocsp_answer *ans, time_t at)
{
	char	   *why;
	const char *when = timestamptz_to_str(time_t_to_timestamptz(at));

	switch (rc)
	{
		case MSI_E_OCSP_STATUS:
			why = psprintf("the OCSP responder answered \"%s\"",
						   OCSP_response_status_str(ans->response_status));
			break;
		case MSI_E_OCSP_NOT_BASIC:
			why = pstrdup("the OCSP response is not a basic response");
			break;
		case MSI_E_OCSP_NOT_COVERED:
			why = pstrdup("the OCSP response does not cover the certificate");
			break;
		case MSI_E_OCSP_NONCE:
			why = pstrdup("the OCSP response carries a wrong nonce (replayed?)");
			break;
		case MSI_E_OCSP_STALE:
			why = pstrdup("the OCSP response has no nonce and is not recent");
			break;
		case MSI_E_OCSP_SIGNATURE:
			why = psprintf("the OCSP response signature or signer is not valid: %s",
						   ms_ossl_error());
			break;
		case MSI_E_OCSP_LATER:
			why = psprintf("the OCSP response was produced after the time of the check (%s): it does not say what the status was then", when);
			break;
		case MSI_E_OCSP_NOT_FRESH:
			why = psprintf("the OCSP response had expired at the time of the check (%s), or its thisUpdate/nextUpdate are malformed", when);
			break;
		default:
			why = pstrdup("the OCSP response is malformed");
			break;
	}
	ERR_clear_error();
	return why;
}

/*
 * Check a DER OCSPResponse for cert (issued by issuer).  req is the request
 * sent (for the nonce) or NULL for a cached response.  Fills a; returns
 * true when the response is usable (a->outcome and a->status set).
 */
static bool
evaluate_response(MsScope *scope, MsPki *pki, STACK_OF(X509) *chain, X509 *cert, X509 *issuer,
				  OCSP_REQUEST *req, OCSP_CERTID *id, const unsigned char *der, size_t len,
				  time_t at, OcspAnswer *a)
{
	msi_ocsp_query q = {req, id, chain, pki->store, at};
	msi_ocsp_answer ans;
	msi_rc		rc;
	int			status;
	int			reason;
	ASN1_GENERALIZEDTIME *rev;
	ASN1_GENERALIZEDTIME *thisupd;
	ASN1_GENERALIZEDTIME *nextupd;
	const ASN1_GENERALIZEDTIME *produced;
	unsigned char digest[32];

	rc = msi_ocsp_evaluate(der, len, &q, &ans);
	ms_scope_add(scope, ans.response, free_ocsp_response);
	ms_scope_add(scope, ans.basic, free_ocsp_basic);
	if (rc != MSI_OK)
	{
		a->reason = ocsp_problem(rc, &ans, at);
		return false;
	}
	status = ans.cert_status;
	reason = ans.reason;
	rev = ans.revoked_at;
	thisupd = ans.this_update;
	nextupd = ans.next_update;
	produced = ans.produced_at;
	a->this_update = ms_asn1_time_to_timestamptz(thisupd);
	a->next_update = nextupd ? ms_asn1_time_to_timestamptz(nextupd) : 0;
	a->produced_at = produced ? ms_asn1_time_to_timestamptz(produced) : a->this_update;
	ms_sha256(der, len, digest);
	a->response_sha256 = ms_hex(digest, 32);
	switch (status)
	{
		case V_OCSP_CERTSTATUS_GOOD:
			a->status = "good";
			a->outcome = MS_OCSP_GOOD;
			break;
		case V_OCSP_CERTSTATUS_REVOKED:
			a->status = "revoked";
			a->revocation_time = rev ? ms_asn1_time_to_timestamptz(rev) : 0;
			a->revocation_reason = reason;
			/* revoked, as a CRL valid at "at" that lists it (see above) */
			a->outcome = MS_OCSP_REVOKED;
			a->reason = psprintf("certificate revoked (OCSP, reason %s)",
								 reason >= 0 ? OCSP_crl_reason_str(reason) : "unspecified");
			break;
		default:
			a->status = "unknown";
			a->outcome = MS_OCSP_UNAVAILABLE;
			a->reason = pstrdup("the OCSP responder does not know the certificate");
			break;
	}
	ERR_clear_error();
	return true;
}

/* a fresh cached response for (pki, fingerprint), or NULL */
static bytea *
cache_lookup(MsPki *pki, const unsigned char fp[32], char **url)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		args[2];
	Oid			types[2] = {INT4OID, BYTEAOID};
	bytea	   *fpb = palloc(VARHDRSZ + 32);
	bytea	   *result = NULL;
	int			rc;

	SET_VARSIZE(fpb, VARHDRSZ + 32);
	memcpy(VARDATA(fpb), fp, 32);
	args[0] = Int32GetDatum(pki->id);
	args[1] = PointerGetDatum(fpb);
	SPI_connect();
	rc = SPI_execute_with_args("SELECT der, responder_url FROM mobisign.ocsp_response"
							   " WHERE pki_id = $1 AND cert_sha256 = $2 AND status <> 'unknown'"
							   "   AND next_update IS NOT NULL AND next_update > now()",
							   2, types, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read mobisign.ocsp_response: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = ms_spi_datum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "der", &isnull);
		MemoryContext old = MemoryContextSwitchTo(caller);

		result = DatumGetByteaPCopy(d);
		*url = ms_spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "responder_url");
		*url = pstrdup(*url);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

/* the rows 'ocsp' of mobisign.process_lock (sql/parts/10_tables.sql) */
#define MS_OCSP_LOCK_SLOTS 1024

typedef struct CacheRow
{
	Oid		   *types;
	Datum	   *args;
	char	   *nulls;
} CacheRow;

static void
cache_insert_fn(void *arg)
{
	CacheRow   *row = (CacheRow *) arg;
	int			rc;

	SPI_connect();
	/*
	 * Only with the writer's lock of the certificate's slot, taken without
	 * waiting: whoever holds it may have written the row and hold it (and
	 * the slot) until its transaction ends, a verifier's batch or an
	 * application's open transaction; then this answer is not cached.
	 */
	rc = SPI_execute_with_args(
							   "WITH slot AS (SELECT FROM mobisign.process_lock l"
							   "               WHERE l.name = 'ocsp' AND l.slot = $15"
							   "                 FOR NO KEY UPDATE SKIP LOCKED)"
							   " INSERT INTO mobisign.ocsp_response AS o (pki_id, cert_sha256, subject, issuer,"
							   "   serial, status, revocation_time, revocation_reason, this_update, next_update,"
							   "   produced_at, responder_url, der, sha256, fetched_at)"
							   " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now() FROM slot"
							   " ON CONFLICT (pki_id, cert_sha256) DO UPDATE"
							   "   SET status = excluded.status, revocation_time = excluded.revocation_time,"
							   "       revocation_reason = excluded.revocation_reason,"
							   "       this_update = excluded.this_update, next_update = excluded.next_update,"
							   "       produced_at = excluded.produced_at, responder_url = excluded.responder_url,"
							   "       der = excluded.der, sha256 = excluded.sha256, fetched_at = now()",
							   15, row->types, row->args, row->nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not cache the OCSP response: %s", SPI_result_code_string(rc));
	SPI_finish();
}

/*
 * Store a fresh answer.  A failure to cache (read-only transaction, standby,
 * privileges) must not fail the verification: it runs in a subtransaction
 * and is reported as a warning.  A cancel or statement_timeout that fires
 * in it (the first interrupt check after a fetch may be the INSERT's) is
 * not a failure to cache: it is raised again, as it would have been.
 */
static void
cache_store(MsPki *pki, const unsigned char fp[32], X509 *cert, OcspAnswer *a)
{
	CacheRow	row;
	ErrorData  *edata;
	Datum		args[15];
	char		nulls[15];
	Oid			types[15] = {INT4OID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	TEXTOID, BYTEAOID, BYTEAOID, INT4OID};
	bytea	   *fpb;
	bytea	   *sha;
	unsigned char digest[32];

	if (a->der == NULL || a->next_update == 0 || RecoveryInProgress() || XactReadOnly)
		return;
	memset(nulls, ' ', sizeof(nulls));
	fpb = palloc(VARHDRSZ + 32);
	SET_VARSIZE(fpb, VARHDRSZ + 32);
	memcpy(VARDATA(fpb), fp, 32);
	ms_sha256((unsigned char *) VARDATA(a->der), VARSIZE(a->der) - VARHDRSZ, digest);
	sha = palloc(VARHDRSZ + 32);
	SET_VARSIZE(sha, VARHDRSZ + 32);
	memcpy(VARDATA(sha), digest, 32);

	args[0] = Int32GetDatum(pki->id);
	args[1] = PointerGetDatum(fpb);
	args[2] = CStringGetTextDatum(ms_name_text(X509_get_subject_name(cert)));
	args[3] = CStringGetTextDatum(ms_name_text(X509_get_issuer_name(cert)));
	args[4] = CStringGetTextDatum(ms_asn1_integer_hex(X509_get_serialNumber(cert)));
	args[5] = CStringGetTextDatum(a->status);
	args[6] = TimestampTzGetDatum(a->revocation_time);
	if (a->revocation_time == 0)
		nulls[6] = 'n';
	args[7] = Int32GetDatum(a->revocation_reason);
	if (a->revocation_time == 0 || a->revocation_reason < 0)
		nulls[7] = 'n';
	args[8] = TimestampTzGetDatum(a->this_update);
	args[9] = TimestampTzGetDatum(a->next_update);
	args[10] = TimestampTzGetDatum(a->produced_at);
	args[11] = CStringGetTextDatum(a->url);
	args[12] = PointerGetDatum(a->der);
	args[13] = PointerGetDatum(sha);
	args[14] = Int32GetDatum(((fp[0] << 8) | fp[1]) & (MS_OCSP_LOCK_SLOTS - 1));

	row.types = types;
	row.args = args;
	row.nulls = nulls;
	edata = ms_run_in_subtransaction(cache_insert_fn, &row);
	if (edata != NULL && edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(edata);
	if (edata != NULL)
	{
		ereport(WARNING,
				(errmsg("could not cache an OCSP response: %s", edata->message)));
		FreeErrorData(edata);
	}
}

/* ---- responders that did not answer (see the header) ---- */

#define MS_OCSP_BACKOFF_SLOTS	32
#define MS_OCSP_BACKOFF_FIRST_S 30
#define MS_OCSP_BACKOFF_MAX_S	600
#define MS_OCSP_URL_KEPT		256

typedef struct ResponderBackoff
{
	char		url[MS_OCSP_URL_KEPT];	/* "" for a free slot */
	int			failures;		/* in a row */
	TimestampTz retry_at;		/* not asked before */
} ResponderBackoff;

static ResponderBackoff responder_backoff[MS_OCSP_BACKOFF_SLOTS];

/* url's slot, or NULL (a URL too long to keep is never skipped) */
static ResponderBackoff *
backoff_find(const char *url)
{
	if (strlen(url) >= MS_OCSP_URL_KEPT)
		return NULL;
	for (int i = 0; i < MS_OCSP_BACKOFF_SLOTS; i++)
		if (strcmp(responder_backoff[i].url, url) == 0)
			return &responder_backoff[i];
	return NULL;
}

/* url did not answer: its next try waits 30 s, 60 s ... 10 min */
static void
backoff_failed(const char *url, TimestampTz now)
{
	ResponderBackoff *b = backoff_find(url);
	int			secs;

	if (b == NULL)
	{
		if (strlen(url) >= MS_OCSP_URL_KEPT)
			return;
		b = &responder_backoff[0];
		for (int i = 0; i < MS_OCSP_BACKOFF_SLOTS; i++)
		{
			if (responder_backoff[i].url[0] == '\0')
			{
				b = &responder_backoff[i];
				break;
			}
			if (responder_backoff[i].retry_at < b->retry_at)
				b = &responder_backoff[i];
		}
		strlcpy(b->url, url, sizeof(b->url));
		b->failures = 0;
	}
	b->failures++;
	secs = MS_OCSP_BACKOFF_FIRST_S << Min(b->failures - 1, 5);
	b->retry_at = TimestampTzPlusMilliseconds(now, (int64) Min(secs, MS_OCSP_BACKOFF_MAX_S) * 1000);
}

/* url answered: asked again freely */
static void
backoff_answered(const char *url)
{
	ResponderBackoff *b = backoff_find(url);

	if (b != NULL)
		memset(b, 0, sizeof(*b));
}

/* Ask the responders of cert; fills a. */
static void
query_responders(MsScope *scope, MsPki *pki, STACK_OF(X509) *chain, X509 *cert, X509 *issuer,
				 time_t at, OcspAnswer *a)
{
	STACK_OF(OPENSSL_STRING) *urls;
	char	   *last_error = NULL;
	int			tried = 0;

	urls = ms_scope_add(scope, X509_get1_ocsp(cert), free_string_stack);
	for (int i = 0; urls != NULL && i < sk_OPENSSL_STRING_num(urls) && tried < 3; i++)
	{
		const char *url = sk_OPENSSL_STRING_value(urls, i);
		OCSP_REQUEST *req;
		OCSP_CERTID *id;
		OCSP_CERTID *id2;
		unsigned char *reqder = NULL;
		int			reqlen;
		bytea	   *resp;
		char	   *err = NULL;
		ResponderBackoff *b;
		TimestampTz asked_at;

		/* a fetch does not see interrupts: a cancel is served between them */
		CHECK_FOR_INTERRUPTS();
		if (pg_strncasecmp(url, "http://", 7) != 0)
			continue;
		b = backoff_find(url);
		if (b != NULL && GetCurrentTimestamp() < b->retry_at)
		{
			last_error = psprintf("OCSP responder %s: not asked before %s: it did not answer %d time(s) in a row",
								  url, timestamptz_to_str(b->retry_at), b->failures);
			continue;
		}
		tried++;
		ERR_clear_error();
		req = ms_scope_add(scope, OCSP_REQUEST_new(), free_ocsp_request);
		id = OCSP_cert_to_id(NULL, cert, issuer);
		id2 = ms_scope_add(scope, id ? OCSP_CERTID_dup(id) : NULL, free_ocsp_certid);
		if (req == NULL || id == NULL || id2 == NULL || !OCSP_request_add0_id(req, id))
		{
			if (id != NULL)
				OCSP_CERTID_free(id);	/* not taken by the request */
			last_error = psprintf("could not build an OCSP request: %s", ms_ossl_error());
			continue;
		}
		if (!OCSP_request_add1_nonce(req, NULL, -1) ||
			(reqlen = i2d_OCSP_REQUEST(req, &reqder)) <= 0)
		{
			last_error = psprintf("could not build an OCSP request: %s", ms_ossl_error());
			continue;
		}
		ms_scope_add(scope, reqder, free_openssl_mem);
		asked_at = GetCurrentTimestamp();
		resp = ms_http_post(url, "application/ocsp-request", "application/ocsp-response",
							reqder, reqlen, MS_FETCH_MAX_OCSP, &err);
		CHECK_FOR_INTERRUPTS();
		if (resp == NULL)
		{
			TimestampTz now = GetCurrentTimestamp();

			/* only what cost time: a refusal or an HTTP error is asked again */
			if (TimestampDifferenceExceeds(asked_at, now, ms_fetch_timeout_secs() * 500))
				backoff_failed(url, now);
			last_error = psprintf("OCSP responder %s: %s", url, err ? err : "no answer");
			continue;
		}
		backoff_answered(url);
		a->url = pstrdup(url);
		if (evaluate_response(scope, pki, chain, cert, issuer, req, id2,
							  (unsigned char *) VARDATA(resp), VARSIZE(resp) - VARHDRSZ, at, a))
		{
			a->der = resp;
			return;
		}
		last_error = psprintf("OCSP responder %s: %s", url, a->reason);
	}
	a->outcome = MS_OCSP_UNAVAILABLE;
	a->status = NULL;
	if (last_error != NULL)
		a->reason = last_error;
	else
		a->reason = psprintf("no OCSP responder for %s",
							 ms_name_text(X509_get_subject_name(cert)));
}

static void
check_one(MsPki *pki, STACK_OF(X509) *chain, X509 *cert, X509 *issuer, time_t at, OcspAnswer *a)
{
	MsScope    *scope = ms_scope_create();
	unsigned char fp[32];
	unsigned char *der = NULL;
	int			derlen;
	bytea	   *cached;
	char	   *cached_url = NULL;

	memset(a, 0, sizeof(*a));
	a->revocation_reason = -1;
	derlen = i2d_X509(cert, &der);
	if (derlen <= 0)
	{
		a->outcome = MS_OCSP_UNAVAILABLE;
		a->reason = pstrdup("could not encode the certificate");
		ms_scope_release(scope);
		return;
	}
	ms_sha256(der, derlen, fp);
	OPENSSL_free(der);

	cached = cache_lookup(pki, fp, &cached_url);
	if (cached != NULL)
	{
		OCSP_CERTID *id = ms_scope_add(scope, OCSP_cert_to_id(NULL, cert, issuer), free_ocsp_certid);

		a->url = cached_url;
		if (id != NULL &&
			evaluate_response(scope, pki, chain, cert, issuer, NULL, id,
							  (unsigned char *) VARDATA(cached), VARSIZE(cached) - VARHDRSZ, at, a) &&
			a->outcome != MS_OCSP_UNAVAILABLE)
		{
			a->cached = true;
			ms_scope_release(scope);
			return;
		}
		/* no longer usable: ask again */
		memset(a, 0, sizeof(*a));
		a->revocation_reason = -1;
	}
	query_responders(scope, pki, chain, cert, issuer, at, a);
	ms_scope_release(scope);
	if (a->status != NULL && strcmp(a->status, "unknown") != 0)
		cache_store(pki, fp, cert, a);
}

MsOcspOutcome
ms_ocsp_check_chain(MsPki *pki, STACK_OF(X509) *chain, time_t at,
					Jsonb **evidence, char **reason)
{
	int			n = chain ? sk_X509_num(chain) : 0;
	MsOcspOutcome result = MS_OCSP_GOOD;
	MsJsonb		ev = {0};

	*reason = NULL;
	ms_jb_begin_array(&ev, NULL);
	for (int i = 0; i + 1 < n; i++)
	{
		X509	   *cert = sk_X509_value(chain, i);
		X509	   *issuer = sk_X509_value(chain, i + 1);
		OcspAnswer	a;

		check_one(pki, chain, cert, issuer, at, &a);

		ms_jb_begin_object(&ev, NULL);
		ms_jb_string(&ev, "subject", ms_name_text(X509_get_subject_name(cert)));
		ms_jb_string(&ev, "serial", ms_asn1_integer_text(X509_get_serialNumber(cert)));
		ms_jb_string(&ev, "status", a.status);
		ms_jb_string(&ev, "responder", a.url);
		if (a.status)
		{
			ms_jb_timestamptz(&ev, "this_update", a.this_update);
			ms_jb_timestamptz(&ev, "next_update", a.next_update);
			ms_jb_timestamptz(&ev, "produced_at", a.produced_at);
			if (a.revocation_time != 0)
				ms_jb_timestamptz(&ev, "revocation_time", a.revocation_time);
			ms_jb_string(&ev, "response_sha256", a.response_sha256);
			ms_jb_bool(&ev, "cached", a.cached);
		}
		if (a.outcome != MS_OCSP_GOOD)
			ms_jb_string(&ev, "error", a.reason ? a.reason : "unavailable");
		ms_jb_end(&ev);

		if (a.outcome != MS_OCSP_GOOD)
		{
			result = a.outcome;
			*reason = a.reason ? a.reason : pstrdup("OCSP unavailable");
			break;
		}
	}
	ms_jb_end(&ev);
	*evidence = ms_jb_finish(&ev);
	return result;
}
