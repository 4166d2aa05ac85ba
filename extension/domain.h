/*-------------------------------------------------------------------------
 *
 * domain.h
 *	  The one home of the domain facts that C holds and SQL reads: the
 *	  status codes (ETSI TS 102 204, plus 410), what a SIM's applet
 *	  result ends a transaction with, and the kinds of transaction (with
 *	  the result and status that complete each).
 *
 * Invariants: every status code is in MS_STATUS_LIST and nowhere else in
 * C or SQL; the install script fills mobisign.status_code from it
 * (mobisign._status_codes(), sql/parts/01_domain.sql), so the table and
 * ms_status_name() cannot disagree (test/pgtap/09_domain.sql checks it).
 * Every applet result (MSC_RESULT_*, codec/applet.h) other than OK
 * has its status in MS_SIM_RESULT_LIST; an unknown result is a SIM-side
 * failure (406).  The other facts SQL and C share are read from the codec
 * by domain.c: the MSISDN rule (msc_smpp_msisdn_check) and the largest OTA
 * counter (MSC_OTA_COUNTER_MAX).  The open transaction states are
 * MS_OPEN_STATES; SQL reads them through mobisign._is_open(), a C function
 * because every index predicate and CHECK of mobisign.transaction calls it
 * on every write (a SQL function with SET search_path is planned again on
 * every call).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_DOMAIN_H
#define MOBISIGN_DOMAIN_H

#include "applet.h"

/*
 * X(code, NAME, final, description): the status codes, in code order.
 * The descriptions are what mobisign.status_code.description says.
 */
#define MS_STATUS_LIST(X) \
	X(100, REQUEST_OK, false, "accepted, not final; a receipt's success when completed") \
	X(101, WRONG_PARAM, true, "a parameter is wrong") \
	X(102, MISSING_PARAM, true, "a parameter is missing") \
	X(103, WRONG_DATA_LENGTH, true, "the text does not fit the SIM's screen or the data is too long") \
	X(105, UNKNOWN_CLIENT, true, "the user is not in the register or a directory") \
	X(208, EXPIRED_TRANSACTION, true, "no answer before the transaction expired") \
	X(209, OTA_ERROR, true, "the SMSC refused, delivery failed or the secured packet was rejected") \
	X(401, USER_CANCEL, true, "the user declined on the phone") \
	X(402, PIN_NR_BLOCKED, true, "the signing PIN is blocked") \
	X(403, CARD_BLOCKED, true, "the SIM card is blocked") \
	X(404, NO_KEY_FOUND, true, "the SIM has no key for the request") \
	X(406, PB_SIGNATURE_PROCESS, true, "SIM-side failure, or a second open request for the same user") \
	/* not TS 102 204: 401 is the user declining, this the application */ \
	X(410, REQUEST_CANCELLED, true, "the application cancelled the transaction before an answer") \
	X(422, NO_CERT_FOUND, true, "no certificate or issuer could be found") \
	X(424, CRL_EXPIRED, true, "revocation data is missing or stale beyond the PKI's grace") \
	X(425, ERROR_CERTIFICATE, true, "the certificate path is invalid") \
	X(501, REVOKED_CERTIFICATE, true, "the certificate is revoked") \
	X(502, VALID_SIGNATURE, true, "success") \
	X(503, INVALID_SIGNATURE, true, "the signature does not verify, or signs something else") \
	X(900, INTERNAL_ERROR, true, "anything else; the audit has the detail")

/* MS_STATUS_REQUEST_OK = 100, ... */
#define MS_STATUS_ENUM_ENTRY(code, name, final, description) MS_STATUS_##name = code,
typedef enum MsStatus
{
	MS_STATUS_LIST(MS_STATUS_ENUM_ENTRY)
} MsStatus;
#undef MS_STATUS_ENUM_ENTRY

/*
 * X(result, status): the final status of a transaction whose SIM answered
 * with an applet result other than OK (OK: the signature decides).
 */
#define MS_SIM_RESULT_LIST(X) \
	X(MSC_RESULT_USER_CANCEL, MS_STATUS_USER_CANCEL) \
	X(MSC_RESULT_PIN_BLOCKED, MS_STATUS_PIN_NR_BLOCKED) \
	X(MSC_RESULT_CARD_BLOCKED, MS_STATUS_CARD_BLOCKED) \
	X(MSC_RESULT_NO_KEY, MS_STATUS_NO_KEY_FOUND) \
	X(MSC_RESULT_SIM_ERROR, MS_STATUS_PB_SIGNATURE_PROCESS) \
	/* the SIM refused the request's signature, or saw it expired */ \
	X(MSC_RESULT_BAD_SIGNATURE, MS_STATUS_OTA_ERROR) \
	X(MSC_RESULT_EXPIRED, MS_STATUS_OTA_ERROR)

/*
 * X(kind, operation, authentication, done_result, done_status): the kinds
 * of transaction (mobisign.transaction.kind), the applet operation each
 * sends (codec/applet.h), whether the signer's certificate must allow
 * authentication (digitalSignature) rather than signing (nonRepudiation),
 * the applet result that completes it, and the status it then completes
 * with (-1: the signature decides, 502 or a failure).  "sign" signs the
 * text shown; the *_hash kinds sign a digest the application gives
 * (mobisign_sign_hash, mobisign_authenticate_hash); "receipt" shows a
 * message after a completed signature (mobisign_receipt, ETSI TS 102 204
 * MSS_ReceiptReq) and completes with 100 REQUEST_OK, as MSS_ReceiptResp
 * answers, when the phone showed it (nothing is signed).
 */
#define MS_KIND_LIST(X) \
	X("authenticate", MSC_OP_AUTHENTICATE, true, MSC_RESULT_OK, -1) \
	X("sign", MSC_OP_SIGN, false, MSC_RESULT_OK, -1) \
	X("authenticate_hash", MSC_OP_SIGN_DIGEST, true, MSC_RESULT_OK, -1) \
	X("sign_hash", MSC_OP_SIGN_DIGEST, false, MSC_RESULT_OK, -1) \
	X("receipt", MSC_OP_RECEIPT, false, MSC_RESULT_SHOWN, MS_STATUS_REQUEST_OK)

/* The status of an unknown applet result. */
#define MS_SIM_RESULT_UNKNOWN_STATUS MS_STATUS_PB_SIGNATURE_PROCESS

/* X(state): the states of an open transaction; the others are final. */
#define MS_OPEN_STATES(X) X(queued) X(submitted)

/* "VALID_SIGNATURE" for 502; "INTERNAL_ERROR" for a code not in the list. */
extern const char *ms_status_name(int code);

/* The status a non-OK applet result ends a transaction with; -1 for OK. */
extern int	ms_sim_result_status(int result);

/*
 * A transaction kind's applet operation and key usage; ERROR for a kind
 * not in MS_KIND_LIST.
 */
extern void ms_kind_find(const char *kind, int *operation, bool *authentication);

#endif							/* MOBISIGN_DOMAIN_H */
