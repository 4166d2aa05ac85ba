/*
 * gw_mid.c
 *	  mobisign-gateway: SK ID Solutions' Mobile-ID REST API v1 (SK-EID/MID)
 *	  under /mid-api/ (docs/gateway.md, "Mobile-ID").
 *
 * Invariants: the relying party (name and UUID) is checked on every POST
 * before anything else reaches the database; the user is the register's
 * user of phoneNumber whose certificate's serialNumber is PNOxx- and
 * nationalIdentityNumber, or nobody (NOT_FOUND / NOT_MID_CLIENT, nothing
 * started).  A session is a mobisign transaction of kind
 * authenticate_hash or sign_hash and is read only through the endpoint of
 * its kind; a session started for an unknown user lives in a bounded
 * in-memory table only.  Every mobisign status maps to exactly one MID
 * result (mid_result, the one home of that mapping).
 */
#include "gw_mid.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "gw_api.h"
#include "gw_log.h"
#include "gw_request.h"

/* ---- sessions of users that are no Mobile-ID client ---- */

#define NOT_MID_MAX		256
#define NOT_MID_TTL_MS	(5 * 60 * 1000)	/* MID: "Sessions expire within 5 minutes" */

static struct
{
	char		id[37];
	int			authenticate;
	int64_t		created_ms;
}			not_mid[NOT_MID_MAX];
static int	not_mid_next;
static pthread_mutex_t not_mid_lock = PTHREAD_MUTEX_INITIALIZER;

static void
random_uuid(char *out)
{
	uint8_t		b[16];

	RAND_bytes(b, sizeof(b));
	b[6] = (uint8_t) ((b[6] & 0x0F) | 0x40);
	b[8] = (uint8_t) ((b[8] & 0x3F) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
			 b[13], b[14], b[15]);
}

static void
not_mid_add(const char *id, int authenticate)
{
	pthread_mutex_lock(&not_mid_lock);
	snprintf(not_mid[not_mid_next].id, 37, "%s", id);
	not_mid[not_mid_next].authenticate = authenticate;
	not_mid[not_mid_next].created_ms = gw_now_ms();
	not_mid_next = (not_mid_next + 1) % NOT_MID_MAX;
	pthread_mutex_unlock(&not_mid_lock);
}

static int
not_mid_find(const char *id, int authenticate)
{
	int			found = 0;

	pthread_mutex_lock(&not_mid_lock);
	for (int i = 0; i < NOT_MID_MAX && !found; i++)
		found = not_mid[i].id[0] != '\0' && strcmp(not_mid[i].id, id) == 0 &&
			not_mid[i].authenticate == authenticate &&
			gw_now_ms() - not_mid[i].created_ms < NOT_MID_TTL_MS;
	pthread_mutex_unlock(&not_mid_lock);
	return found;
}

/* ---- replies ---- */

/* time and traceId, as every MID response carries them */
static json_t *
mid_object(void)
{
	json_t	   *o = json_object();
	char		stamp[24];
	char		trace[17];
	uint8_t		b[8];
	time_t		now = time(NULL);
	struct tm	tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	RAND_bytes(b, sizeof(b));
	for (int i = 0; i < 8; i++)
		snprintf(trace + 2 * i, 3, "%02x", b[i]);
	json_object_set_new(o, "time", json_string(stamp));
	json_object_set_new(o, "traceId", json_string(trace));
	return o;
}

static void
mid_error(gw_reply *out, int status, const char *message)
{
	out->status = status;
	out->body = mid_object();
	json_object_set_new(out->body, "error", json_string(message));
}

/*
 * The MID result of a final mobisign transaction (MID REST API 3.3.8):
 * the one home of this mapping (docs/gateway.md lists it).
 */
static const char *
mid_result(const gw_tx *tx)
{
	switch (tx->status_code)
	{
		case 502:
			return "OK";
		case 208:
			/* never accepted by the SMSC: the SMS was not sent */
			return tx->submitted ? "TIMEOUT" : "DELIVERY_ERROR";
		case 401:
		case 410:				/* cancelled by the relying party */
			return "USER_CANCELLED";
		case 503:
			/* the SIM's key is not the certificate's, or it signed something else */
			return "SIGNATURE_HASH_MISMATCH";
		case 209:
			/* the SMSC refused the SMS (no such subscriber: the phone is absent) */
			if (strncmp(tx->reason, "SMSC", 4) == 0)
				return strstr(tx->reason, "ESME_RINVDSTADR") ? "PHONE_ABSENT" : "DELIVERY_ERROR";
			return "SIM_ERROR";	/* the SIM refused the secured packet */
		case 402:
		case 403:
		case 404:
		case 406:
			return "SIM_ERROR";
		case 105:
		case 422:
		case 424:
		case 425:
		case 501:
			/* no valid, unrevoked certificate: not an active Mobile-ID client */
			return "NOT_MID_CLIENT";
		default:
			return "SIM_ERROR";
	}
}

/*
 * What every POST does first: parse and check the body, check the relying
 * party, find the user.  1 found (user, cert filled), 0 no such user, -1
 * with the error reply in out.
 */
static int
identify(const char *body, size_t len, int need_hash, gw_mid_request *req, char *user,
		 size_t cap, char **cert, gw_reply *out)
{
	char		err[160];
	int			rc;

	*cert = NULL;
	if (gw_mid_parse(body, len, need_hash, req, err, sizeof(err)) != 0)
	{
		mid_error(out, 400, err);
		return -1;
	}
	/* a UUID in any case; anything else names no relying party (not a SQL error) */
	for (char *c = req->rp_uuid; *c; c++)
		*c = (char) tolower((unsigned char) *c);
	rc = gw_is_uuid(req->rp_uuid) ? gw_relying_party_ok(req->rp_name, req->rp_uuid) : 0;
	if (rc == 1)
		rc = gw_find_user(req->phone, req->national_id, user, cap, cert);
	else if (rc == 0)
	{
		mid_error(out, 401, "Failed to authorize user");
		return -1;
	}
	if (rc < 0)
		mid_error(out, 500, "Internal error");
	return rc;
}

/* ---- POST certificate ---- */

static void
post_certificate(const char *body, size_t len, gw_reply *out)
{
	gw_mid_request req;
	char		user[GW_USER_ID_BYTES];
	char	   *cert;
	int			rc = identify(body, len, 0, &req, user, sizeof(user), &cert, out);

	if (rc < 0)
		return;
	out->status = 200;
	out->body = mid_object();
	if (rc == 1 && cert != NULL)
	{
		json_object_set_new(out->body, "result", json_string("OK"));
		json_object_set_new(out->body, "cert", json_string(cert));
	}
	else
		json_object_set_new(out->body, "result", json_string("NOT_FOUND"));
	free(cert);
}

/* ---- POST authentication, POST signature ---- */

static void
post_start(const char *body, size_t len, int authenticate, const gw_mid_config *cfg,
		   gw_reply *out)
{
	gw_mid_request req;
	char		user[GW_USER_ID_BYTES];
	char	   *cert;
	char		id[37];
	char		code[5];
	gw_sqlerr	sqlerr;
	gw_sign_args a;
	int			rc = identify(body, len, 1, &req, user, sizeof(user), &cert, out);

	free(cert);
	if (rc < 0)
		return;
	if (rc == 0)
	{
		/* MID starts a session that ends NOT_MID_CLIENT: nothing is sent */
		random_uuid(id);
		not_mid_add(id, authenticate);
	}
	else
	{
		memset(&a, 0, sizeof(a));
		a.user_id = user;
		a.authenticate = authenticate;
		a.digest = req.hash;
		a.digest_len = req.hash_len;
		a.hash_type = req.hash_type;
		a.text = req.display[0] ? req.display : NULL;
		a.application = req.rp_name;
		a.timeout_s = cfg->session_timeout_s;
		if (gw_start(&a, id, code, &sqlerr) != 0)
		{
			/* MS1xx: the request itself (display text, timeout...); MS406 the user is busy */
			if (strncmp(sqlerr.sqlstate, "MS1", 3) == 0 || strcmp(sqlerr.sqlstate, "MS406") == 0)
				return mid_error(out, 400, sqlerr.msg);
			return mid_error(out, strcmp(sqlerr.sqlstate, "53300") == 0 ? 503 : 500,
							 "Internal error");
		}
	}
	out->status = 200;
	out->body = json_object();
	json_object_set_new(out->body, "sessionID", json_string(id));
}

/* ---- GET .../session/{id}?timeoutMs= ---- */

static void
get_session(const char *id, const char *timeout_ms, int authenticate, const gw_mid_config *cfg,
			gw_reply *out)
{
	gw_tx		tx;
	long		wait_ms = 10000;	/* MID's default */
	const char *want = authenticate ? "authenticate_hash" : "sign_hash";

	if (id[0] == '\0')
		return mid_error(out, 400, "Required sessionId is missing");
	if (!gw_is_uuid(id))
		return mid_error(out, 404, "SessionID not found");
	if (timeout_ms != NULL)
	{
		char	   *end;

		wait_ms = strtol(timeout_ms, &end, 10);
		if (*timeout_ms == '\0' || *end != '\0' || wait_ms < 0)
			return mid_error(out, 400, "timeoutMs is invalid");
		/* "silently reverts" to the bounds (MID 3.3.4) */
		if (wait_ms < cfg->min_poll_ms)
			wait_ms = cfg->min_poll_ms;
		if (wait_ms > cfg->max_poll_ms)
			wait_ms = cfg->max_poll_ms;
	}
	if (not_mid_find(id, authenticate))
	{
		out->status = 200;
		out->body = mid_object();
		json_object_set_new(out->body, "state", json_string("COMPLETE"));
		json_object_set_new(out->body, "result", json_string("NOT_MID_CLIENT"));
		return;
	}
	/* a session of another kind or application is not found at once, without waiting */
	if (gw_read_tx(id, &tx) < 0)
		return mid_error(out, 500, "Internal error");
	if (!tx.found || strcmp(tx.kind, want) != 0)
		return mid_error(out, 404, "SessionID not found");
	if (tx.open && gw_wait_tx(id, (int) wait_ms, &tx) < 0)
		return mid_error(out, 500, "Internal error");
	out->status = 200;
	out->body = mid_object();
	if (tx.open)
	{
		json_object_set_new(out->body, "state", json_string("RUNNING"));
		return;
	}
	json_object_set_new(out->body, "state", json_string("COMPLETE"));
	json_object_set_new(out->body, "result", json_string(mid_result(&tx)));
	if (tx.status_code == 502)
	{
		gw_sig		sig;
		char		algorithm[32];

		if (gw_read_signature(id, &sig) != 0 || sig.signature_b64 == NULL)
		{
			json_decref(out->body);
			gw_sig_free(&sig);
			return mid_error(out, 500, "Internal error");
		}
		/* SHA256WithECEncryption, SHA384WithRSAEncryption, ... */
		snprintf(algorithm, sizeof(algorithm), "%sWith%sEncryption", sig.hash_type,
				 strcmp(sig.key_type, "EC") == 0 ? "EC" : "RSA");
		json_object_set_new(out->body, "signature",
							json_pack("{s:s, s:s}", "value", sig.signature_b64,
									  "algorithm", algorithm));
		/* the authentication response carries the certificate; signing does not */
		if (authenticate && sig.certificate_b64 != NULL)
			json_object_set_new(out->body, "cert", json_string(sig.certificate_b64));
		gw_sig_free(&sig);
	}
}

void
gw_mid_handle(const gw_http_request *req, const gw_mid_config *cfg, gw_reply *out)
{
	const char *p = req->path;
	static const char auth_prefix[] = "authentication/session/";
	static const char sign_prefix[] = "signature/session/";
	int			is_post = strcmp(req->method, "POST") == 0;
	int			is_get = strcmp(req->method, "GET") == 0;

	if (strcmp(p, "certificate") == 0 || strcmp(p, "authentication") == 0 ||
		strcmp(p, "signature") == 0)
	{
		if (!is_post)
			return mid_error(out, 405, "Method Not Allowed");
		if (strcmp(p, "certificate") == 0)
			post_certificate(req->body, req->body_len, out);
		else
			post_start(req->body, req->body_len, strcmp(p, "authentication") == 0, cfg, out);
		return;
	}
	if (strncmp(p, auth_prefix, sizeof(auth_prefix) - 1) == 0 ||
		strncmp(p, sign_prefix, sizeof(sign_prefix) - 1) == 0 ||
		strcmp(p, "authentication/session") == 0 || strcmp(p, "signature/session") == 0)
	{
		int			authenticate = p[0] == 'a';
		size_t		skip = authenticate ? sizeof(auth_prefix) - 1 : sizeof(sign_prefix) - 1;

		if (!is_get)
			return mid_error(out, 405, "Method Not Allowed");
		get_session(strlen(p) > skip ? p + skip : "", req->timeout_ms, authenticate, cfg, out);
		return;
	}
	mid_error(out, 404, "Not found");
}
