/*
 * gw_api.h
 *	  mobisign-gateway: the calls of mobisign's SQL API that both HTTP APIs
 *	  make, and the reply they hand to the HTTP layer.
 *
 * Invariants: only functions of the SQL API are called (mobisign_*, with
 * $n parameters), as the pool's application role; a transaction's id comes
 * from the client only after gw_is_uuid accepted it; bytea values cross
 * libpq in hex.  A reply owns its JSON body.
 */
#ifndef GW_API_H
#define GW_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gw_db.h"

/* One HTTP request as the API handlers see it (bounded by main.c). */
typedef struct gw_http_request
{
	const char *method;
	const char *path;			/* after the API's prefix, no query */
	const char *body;
	size_t		body_len;
	const char *timeout_ms;		/* the query's timeoutMs, or NULL */
} gw_http_request;

typedef struct gw_reply
{
	int			status;			/* HTTP status */
	json_t	   *body;			/* JSON object, owned */
} gw_reply;

/* What the gateway reads of a transaction (mobisign_status). */
#define GW_TX_APPLICATION	257
typedef struct gw_tx
{
	int			found;			/* 0: no such transaction for this role */
	char		kind[24];
	char		state[16];
	int			status_code;
	int			open;			/* queued or submitted */
	int			submitted;		/* the SMSC accepted it */
	char		reason[256];
	char		application[GW_TX_APPLICATION];	/* its label: the relying party name */
} gw_tx;

/* And of its signature (mobisign_signature). */
typedef struct gw_sig
{
	char	   *signature_b64;	/* malloc'd, NULL when none */
	char	   *certificate_b64;	/* malloc'd, NULL when none */
	char		hash_type[8];	/* SHA256... or "" */
	char		key_type[8];	/* EC, RSA or "" */
} gw_sig;

/*
 * Outcome of a call: 0 ok, else the SQLSTATE in sqlstate[6] and the message
 * in msg, fit for the client: its "quoted" parts (the register's user id)
 * are "(withheld)".
 */
typedef struct gw_sqlerr
{
	char		sqlstate[6];
	char		msg[256];
} gw_sqlerr;

/* mobisign_check_relying_party: 1 registered, 0 not, -1 database error. */
extern int	gw_relying_party_ok(const char *name, const char *uuid);

/* mobisign_find_user: 1 found (user_id, certificate base64 malloc'd), 0 not, -1 error. */
/*
 * A register user id as the gateway holds it: mobisign's limit is 256
 * characters (extension/input_limits.c), up to 1,024 bytes of UTF-8, and
 * the NUL.  An identifier is never cut: one that does not fit is an error.
 */
#define GW_USER_ID_BYTES (4 * 256 + 1)

extern int	gw_find_user(const char *msisdn, const char *national_id,
						 char *user_id, size_t cap, char **certificate_b64);

/* The register's user of an MSISDN, for ETSI (no identity number): as gw_find_user. */
extern int	gw_find_user_by_msisdn(const char *msisdn, char *user_id, size_t cap,
								   char **certificate_b64);

/* A request to sign a digest (authenticate 1: mobisign_authenticate_hash) or text. */
typedef struct gw_sign_args
{
	const char *user_id;
	int			authenticate;
	const uint8_t *digest;		/* NULL: sign the text */
	size_t		digest_len;
	const char *hash_type;
	const char *text;			/* what is shown (NULL: mobisign's default); signed when digest is NULL */
	const char *application;	/* the relying party name */
	int			timeout_s;		/* 0: the default */
} gw_sign_args;

/* 0 with transaction_id[37] and code[5], or -1 with err filled. */
extern int	gw_start(const gw_sign_args *a, char *transaction_id, char *code, gw_sqlerr *err);

/*
 * mobisign_receipt: the message shown after the completed signature
 * transaction_id (a valid UUID) of this application; 0 with receipt_id[37]
 * (the receipt's own transaction), or -1 with err filled.
 */
extern int	gw_receipt(const char *transaction_id, const char *message, const char *application,
					   int timeout_s, char *receipt_id, gw_sqlerr *err);

/* mobisign_status of a (valid UUID) transaction; 0, or -1 on a database error. */
extern int	gw_read_tx(const char *transaction_id, gw_tx *tx);

/*
 * Wait until the transaction is final or timeout_ms passed (woken by the
 * listener, never polling), then read it: as gw_read_tx.
 */
extern int	gw_wait_tx(const char *transaction_id, int timeout_ms, gw_tx *tx);

/* mobisign_signature: 0 (fields filled, free with gw_sig_free), -1 on error. */
extern int	gw_read_signature(const char *transaction_id, gw_sig *sig);
extern void gw_sig_free(gw_sig *sig);

/* Base64 of bytes, malloc'd. */
extern char *gw_base64(const uint8_t *data, size_t len);

#endif							/* GW_API_H */
