/*
 * gw_etsi.c
 *	  mobisign-gateway: ETSI TS 102 204 over REST/JSON (the binding of
 *	  Kiuru MSSP and Swisscom Mobile ID; field names as Methics' Laverca
 *	  REST client) at POST /rest/service (docs/gateway.md, "ETSI TS 102
 *	  204").
 *
 * Invariants: AP_Info.AP_ID and AP_PWD are the relying party's name and
 * UUID, checked on every request before anything else reaches the
 * database; MobileUser.MSISDN is the register's user.  A failure is a
 * Fault with the TS 102 204 code as SubCode "_<code>" (HTTP 500, as the
 * binding answers faults); the status codes and their names are
 * mobisign's (extension/domain.h, MS_STATUS_LIST) plus the few TS 102 204
 * codes mobisign itself never ends a transaction with (etsi_extra below).
 * What is signed is what is shown: text to sign must not differ from
 * DataToBeDisplayed.  A receipt (MSS_ReceiptReq) is only about a
 * completed signature of the same relying party (mobisign_receipt checks
 * it with AP_ID as the application) and is answered once the SIM
 * acknowledged it (synchronous).
 */
#include "gw_etsi.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "domain.h"
#include "gw_log.h"
#include "gw_request.h"

#define ETSI_NS		"http://uri.etsi.org/TS102204/v1.1.2#"

/* TS 102 204 codes that are not mobisign transaction statuses */
static const struct
{
	int			code;
	const char *name;
}			etsi_extra[] = {
	{104, "UNAUTHORIZED_ACCESS"},
	{107, "INAPPROPRIATE_DATA"},
	{108, "INCOMPATIBLE_INTERFACE"},
	{109, "UNSUPPORTED_PROFILE"},
	{500, "SIGNATURE"},
	{504, "OUTSTANDING_TRANSACTION"},
};

static const char *
etsi_name(int code)
{
	for (size_t i = 0; i < sizeof(etsi_extra) / sizeof(etsi_extra[0]); i++)
		if (etsi_extra[i].code == code)
			return etsi_extra[i].name;
	switch (code)
	{
#define NAME_CASE(c, name, final, description) case c: return #name;
			MS_STATUS_LIST(NAME_CASE)
#undef NAME_CASE
	}
	return "INTERNAL_ERROR";
}

static void
fault(gw_reply *out, int code, const char *detail)
{
	char		sub[8];

	snprintf(sub, sizeof(sub), "_%d", code);
	out->status = 500;
	out->body = json_pack("{s:{s:{s:s, s:{s:s, s:s}}, s:s, s:s}}", "Fault",
						  "Code", "Value", code < 200 ? "env:Sender" : "env:Receiver",
						  "SubCode", "Value", sub, "ValueNs", ETSI_NS,
						  "Reason", etsi_name(code), "Detail", detail);
}

static json_t *
status_object(int code)
{
	char		value[8];

	snprintf(value, sizeof(value), "%d", code);
	return json_pack("{s:{s:s}, s:s}", "StatusCode", "Value", value, "StatusMessage", etsi_name(code));
}

/* The common part of every response: versions, AP_Info echoed, MSSP_Info. */
static json_t *
response(const gw_etsi_request *req)
{
	char		instant[32];
	time_t		now = time(NULL);
	struct tm	tm;

	gmtime_r(&now, &tm);
	strftime(instant, sizeof(instant), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:{s:s}}}",
					 "MajorVersion", "1", "MinorVersion", "1",
					 "AP_Info", "AP_ID", req->ap_id, "AP_TransID", req->ap_trans_id, "Instant", instant,
					 "MSSP_Info", "Instant", instant, "MSSP_ID", "URI", "urn:mobisign:mssp");
}

static void
reply(gw_reply *out, const char *name, json_t *msg)
{
	out->status = 200;
	out->body = json_pack("{s:o}", name, msg);
}

/* The fault of a refused start (MSxxx: code xxx; others: 900). */
static void
start_fault(gw_reply *out, const gw_sqlerr *e)
{
	int			code = 900;

	if (strncmp(e->sqlstate, "MS", 2) == 0)
		code = atoi(e->sqlstate + 2);
	fault(out, code, code == 900 ? "internal error" : e->msg);
}

/* MSS_Signature of a completed transaction, or NULL. */
static json_t *
signature_of(const char *id)
{
	gw_sig		sig;
	json_t	   *j = NULL;

	if (gw_read_signature(id, &sig) == 0 && sig.signature_b64 != NULL)
		j = json_pack("{s:s}", "Base64Signature", sig.signature_b64);
	gw_sig_free(&sig);
	return j;
}

/* A final or open transaction as the Status (and MSS_Signature) of msg. */
static void
describe(json_t *msg, const char *id, const gw_tx *tx)
{
	if (tx->open)
		json_object_set_new(msg, "Status", status_object(504));
	else if (tx->status_code == 502)
	{
		json_t	   *s = signature_of(id);

		if (s != NULL)
			json_object_set_new(msg, "MSS_Signature", s);
		json_object_set_new(msg, "Status", status_object(s ? 502 : 900));
	}
	else
		json_object_set_new(msg, "Status", status_object(tx->status_code));
}

/* How long a synchronous request waits: TimeOut + 2 s, at most --max-poll-ms. */
static int
synch_wait_ms(const gw_etsi_request *req, const gw_etsi_config *cfg)
{
	int			wait_ms = req->timeout_s > 0 ? req->timeout_s * 1000 + 2000 : cfg->max_wait_ms;

	return wait_ms > cfg->max_wait_ms ? cfg->max_wait_ms : wait_ms;
}

static void
signature_req(const gw_etsi_request *req, const gw_etsi_config *cfg, gw_reply *out)
{
	char		user[GW_USER_ID_BYTES];
	char	   *cert = NULL;
	char		id[37];
	char		code[5];
	gw_sqlerr	err;
	gw_sign_args a;
	int			authenticate;
	int			rc;
	json_t	   *msg;

	if (req->profile[0] == '\0' || strcmp(req->profile, GW_ETSI_PROFILE_SIGN) == 0)
		authenticate = 0;
	else if (strcmp(req->profile, GW_ETSI_PROFILE_AUTH) == 0)
		authenticate = 1;
	else
		return fault(out, 109, "use " GW_ETSI_PROFILE_SIGN " or " GW_ETSI_PROFILE_AUTH);
	/* CMS is made over text, a raw PKCS#1 signature over a digest */
	if (req->digest != (req->format == GW_ETSI_FORMAT_PKCS1))
		return fault(out, 107, req->digest ? "a digest is signed in the PKCS#1 format"
					 : "text is signed in the CMS (PKCS#7) format");
	if (authenticate && !req->digest)
		return fault(out, 107, "authentication signs a digest");
	if (!req->digest && req->display[0] != '\0' && strcmp(req->display, (const char *) req->data) != 0)
		return fault(out, 107, "DataToBeDisplayed differs from the text to be signed");

	rc = gw_find_user_by_msisdn(req->msisdn, user, sizeof(user), &cert);
	free(cert);
	if (rc < 0)
		return fault(out, 900, "internal error");
	if (rc == 0)
		return fault(out, 105, "no registered user has this MSISDN");
	memset(&a, 0, sizeof(a));
	a.user_id = user;
	a.authenticate = authenticate;
	a.application = req->ap_id;
	a.timeout_s = req->timeout_s;
	if (req->digest)
	{
		a.digest = req->data;
		a.digest_len = req->data_len;
		a.hash_type = req->hash_type;
		a.text = req->display[0] ? req->display : NULL;
	}
	else
		a.text = (const char *) req->data;
	if (gw_start(&a, id, code, &err) != 0)
		return start_fault(out, &err);

	msg = response(req);
	json_object_set_new(msg, "MSSP_TransID", json_string(id));
	json_object_set_new(msg, "MobileUser", json_pack("{s:s}", "MSISDN", req->msisdn));
	if (!req->synch)
	{
		json_object_set_new(msg, "Status", status_object(100));
		return reply(out, "MSS_SignatureResp", msg);
	}
	{
		gw_tx		tx;

		if (gw_wait_tx(id, synch_wait_ms(req, cfg), &tx) < 0 || !tx.found)
		{
			json_decref(msg);
			return fault(out, 900, "internal error");
		}
		if (!tx.open && tx.status_code != 502)
		{
			json_decref(msg);
			return fault(out, tx.status_code, tx.reason[0] ? tx.reason : etsi_name(tx.status_code));
		}
		describe(msg, id, &tx);
		reply(out, "MSS_SignatureResp", msg);
	}
}

static void
status_req(const gw_etsi_request *req, gw_reply *out)
{
	gw_tx		tx;
	json_t	   *msg;

	if (gw_read_tx(req->mssp_trans_id, &tx) < 0)
		return fault(out, 900, "internal error");
	/* another relying party's transaction does not exist for this one */
	if (!tx.found || strcmp(tx.kind, "authenticate") == 0 ||
		strcasecmp(tx.application, req->ap_id) != 0)
		return fault(out, 101, "no such MSSP_TransID");
	msg = response(req);
	json_object_set_new(msg, "MSSP_TransID", json_string(req->mssp_trans_id));
	describe(msg, req->mssp_trans_id, &tx);
	reply(out, "MSS_StatusResp", msg);
}

static void
profile_req(const gw_etsi_request *req, gw_reply *out)
{
	char		user[GW_USER_ID_BYTES];
	char	   *cert = NULL;
	int			rc = gw_find_user_by_msisdn(req->msisdn, user, sizeof(user), &cert);
	json_t	   *msg;

	if (rc < 0)
	{
		free(cert);
		return fault(out, 900, "internal error");
	}
	if (rc == 0)
		return fault(out, 105, "no registered user has this MSISDN");
	msg = response(req);
	json_object_set_new(msg, "SignatureProfile",
						json_pack("[s, s]", GW_ETSI_PROFILE_SIGN, GW_ETSI_PROFILE_AUTH));
	json_object_set_new(msg, "Status", status_object(100));
	free(cert);
	reply(out, "MSS_ProfileResp", msg);
}

/*
 * MSS_ReceiptReq, synchronous: the message is shown on the phone that made
 * the completed signature MSSP_TransID of this relying party
 * (mobisign_receipt, with AP_ID as the application), and the answer waits
 * for the SIM: Status 100 REQUEST_OK once it acknowledged, 504 while it
 * has not when the wait ends, or a Fault with the receipt's status (_401
 * the user dismissed it, _208 no answer in time, ...).  An unknown,
 * foreign or unfinished MSSP_TransID is _101, a message the SIM cannot
 * show _103 (mobisign's refusals).
 */
static void
receipt_req(const gw_etsi_request *req, const gw_etsi_config *cfg, gw_reply *out)
{
	char		id[37];
	gw_sqlerr	err;
	gw_tx		tx;
	json_t	   *msg;

	if (gw_receipt(req->mssp_trans_id, req->receipt, req->ap_id, req->timeout_s, id, &err) != 0)
		return start_fault(out, &err);
	if (gw_wait_tx(id, synch_wait_ms(req, cfg), &tx) < 0 || !tx.found)
		return fault(out, 900, "internal error");
	if (!tx.open && tx.status_code != MS_STATUS_REQUEST_OK)
		return fault(out, tx.status_code, tx.reason[0] ? tx.reason : etsi_name(tx.status_code));
	msg = response(req);
	json_object_set_new(msg, "MSSP_TransID", json_string(req->mssp_trans_id));
	json_object_set_new(msg, "Status", status_object(tx.open ? 504 : MS_STATUS_REQUEST_OK));
	reply(out, "MSS_ReceiptResp", msg);
}

void
gw_etsi_handle(const gw_http_request *req, const gw_etsi_config *cfg, gw_reply *out)
{
	gw_etsi_request r;
	char		err[200];
	int			subcode;
	int			rc;

	if (strcmp(req->method, "POST") != 0)
	{
		out->status = 405;
		out->body = json_pack("{s:s}", "error", "Method Not Allowed");
		return;
	}
	if (gw_etsi_parse(req->body, req->body_len, &r, &subcode, err, sizeof(err)) != 0)
		return fault(out, subcode, err);
	/* the relying party on every request: AP_ID its name, AP_PWD its UUID */
	rc = gw_is_uuid(r.ap_pwd) ? gw_relying_party_ok(r.ap_id, r.ap_pwd) : 0;
	if (rc < 0)
		return fault(out, 900, "internal error");
	if (rc == 0)
		return fault(out, 104, "AP_ID and AP_PWD name no registered relying party");
	switch (r.kind)
	{
		case GW_ETSI_SIGNATURE:
			signature_req(&r, cfg, out);
			break;
		case GW_ETSI_STATUS:
			status_req(&r, out);
			break;
		case GW_ETSI_PROFILE_QUERY:
			profile_req(&r, out);
			break;
		case GW_ETSI_RECEIPT:
			receipt_req(&r, cfg, out);
			break;
	}
}
