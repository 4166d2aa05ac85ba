/*
 * gw_api.c
 *	  mobisign-gateway: the SQL API calls (see gw_api.h).
 */
#include "gw_api.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gw_log.h"

char *
gw_base64(const uint8_t *data, size_t len)
{
	char	   *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *) out, data, (int) len);
	return out;
}

/* "\x<hex>" of bytes, for a bytea parameter; malloc'd. */
static char *
bytea_param(const uint8_t *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char	   *out = malloc(2 * len + 3);

	if (out == NULL)
		return NULL;
	out[0] = '\\';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++)
	{
		out[2 + 2 * i] = hex[data[i] >> 4];
		out[3 + 2 * i] = hex[data[i] & 0xF];
	}
	out[2 + 2 * len] = '\0';
	return out;
}

/* Base64 of a bytea column (libpq's hex text form); malloc'd, NULL when NULL. */
static char *
bytea_b64(PGresult *r, int row, int col)
{
	size_t		n;
	unsigned char *raw;
	char	   *b64;

	if (PQgetisnull(r, row, col))
		return NULL;
	raw = PQunescapeBytea((const unsigned char *) PQgetvalue(r, row, col), &n);
	if (raw == NULL)
		return NULL;
	b64 = gw_base64(raw, n);
	PQfreemem(raw);
	return b64;
}

/*
 * Where text of n bytes cut before the byte next ends on a whole UTF-8
 * character: a cut inside one (next a continuation byte) loses that
 * character's first bytes too.  A half character made the JSON reply fail
 * (jansson refuses invalid UTF-8): the client got a bare 500.
 */
static size_t
utf8_cut(const char *text, size_t n, unsigned char next)
{
	if ((next & 0xC0) != 0x80)
		return n;
	while (n > 0 && ((unsigned char) text[n - 1] & 0xC0) == 0x80)
		n--;
	return n > 0 ? n - 1 : 0;
}

/*
 * A column's text (NULL: empty) into out, cut on a character to fit cap.
 * Returns whether it fitted whole: text may be cut, an identifier may not
 * (a prefix of a user id may be another user's).
 */
static bool
copy_value(PGresult *r, int row, int col, char *out, size_t cap)
{
	const char *v = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
	size_t		n = strlen(v);
	bool		whole = n < cap;

	if (!whole)
		n = utf8_cut(v, cap - 1, (unsigned char) v[cap - 1]);
	memcpy(out, v, n);
	out[n] = '\0';
	return whole;
}

/* One statement on a pooled connection; NULL when no connection is free. */
static PGresult *
run(const char *sql, int nparams, const char *const *params)
{
	PGconn	   *c = gw_db_acquire();
	PGresult   *r;

	if (c == NULL)
		return NULL;
	r = gw_db_exec(c, sql, nparams, params);
	gw_db_release(c);
	return r;
}

static int
failed(PGresult *r, const char *what)
{
	if (r == NULL)
	{
		gw_log("%s: no database connection free", what);
		return 1;
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		gw_log("%s: SQLSTATE %s", what, state ? state : "(none)");
		PQclear(r);
		return 1;
	}
	return 0;
}

int
gw_relying_party_ok(const char *name, const char *uuid)
{
	const char *p[2] = {name, uuid};
	PGresult   *r = run("SELECT mobisign_check_relying_party($1, $2::uuid)", 2, p);
	int			ok;

	if (failed(r, "relying party check"))
		return -1;
	ok = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return ok;
}

static int
find(const char *msisdn, const char *national_id, char *user_id, size_t cap, char **cert)
{
	const char *p[2] = {msisdn, national_id};
	PGresult   *r = run("SELECT user_id, certificate FROM mobisign_find_user($1, $2)", 2, p);
	int			found;

	*cert = NULL;
	if (failed(r, "user lookup"))
		return -1;
	found = PQntuples(r) == 1;
	if (found && !copy_value(r, 0, 0, user_id, cap))
	{
		gw_log("user lookup: the user id is longer than the gateway holds (%zu bytes)", cap - 1);
		PQclear(r);
		return -1;
	}
	if (found)
		*cert = bytea_b64(r, 0, 1);
	PQclear(r);
	return found;
}

int
gw_find_user(const char *msisdn, const char *national_id, char *user_id, size_t cap,
			 char **certificate_b64)
{
	return find(msisdn, national_id, user_id, cap, certificate_b64);
}

int
gw_find_user_by_msisdn(const char *msisdn, char *user_id, size_t cap, char **certificate_b64)
{
	return find(msisdn, NULL, user_id, cap, certificate_b64);
}

/*
 * mobisign's refusal as a client may read it: what is quoted (the
 * register's user id, which the client never gave: it named a phone
 * number) becomes (withheld), from the first '"' to the last, so that a
 * quote inside a user id cannot end the withheld part early; cut on a
 * whole character to fit cap.
 */
static void
public_message(const char *msg, char *out, size_t cap)
{
	static const char withheld[] = "(withheld)";
	const char *first = strchr(msg, '"');
	const char *last = strrchr(msg, '"');
	const char *p;
	size_t		n = 0;

	for (p = msg; *p && n + 1 < cap; p++)
	{
		if (p == first && last != first)
		{
			if (n + sizeof(withheld) > cap)
				break;
			memcpy(out + n, withheld, sizeof(withheld) - 1);
			n += sizeof(withheld) - 1;
			p = last;
		}
		else
			out[n++] = *p;
	}
	if (*p)
		n = utf8_cut(out, n, (unsigned char) *p);
	out[n] = '\0';
}

/*
 * Did the statement that starts a transaction return its row?  Else err
 * holds the refusal's SQLSTATE and message (53300 when no connection was
 * free: r NULL).
 */
static int
started(PGresult *r, gw_sqlerr *err)
{
	const char *state;
	const char *msg;

	if (r == NULL)
	{
		snprintf(err->sqlstate, sizeof(err->sqlstate), "53300");
		snprintf(err->msg, sizeof(err->msg), "no database connection is free");
		return 0;
	}
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		return 1;
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state ? state : "XX000");
	public_message(msg ? msg : "internal error", err->msg, sizeof(err->msg));
	gw_log("request refused by the database: SQLSTATE %s", err->sqlstate);
	return 0;
}

int
gw_start(const gw_sign_args *a, char *transaction_id, char *code, gw_sqlerr *err)
{
	char		timeout[32];
	char	   *digest = NULL;
	const char *p[6];
	PGresult   *r;
	int			rc = -1;

	memset(err, 0, sizeof(*err));
	snprintf(timeout, sizeof(timeout), "%d seconds", a->timeout_s);
	p[0] = a->user_id;
	if (a->digest != NULL)
	{
		digest = bytea_param(a->digest, a->digest_len);
		p[1] = digest;
		p[2] = a->hash_type;
		p[3] = a->text;
		p[4] = a->application;
		p[5] = timeout;
		r = run(a->authenticate
				? (a->timeout_s > 0
				   ? "SELECT * FROM mobisign_authenticate_hash($1, $2::bytea, $3, $4, $5, $6::interval)"
				   : "SELECT * FROM mobisign_authenticate_hash($1, $2::bytea, $3, $4, $5)")
				: (a->timeout_s > 0
				   ? "SELECT * FROM mobisign_sign_hash($1, $2::bytea, $3, $4, $5, $6::interval)"
				   : "SELECT * FROM mobisign_sign_hash($1, $2::bytea, $3, $4, $5)"),
				a->timeout_s > 0 ? 6 : 5, p);
		free(digest);
	}
	else
	{
		p[1] = a->text;
		p[2] = a->application;
		p[3] = timeout;
		r = run(a->timeout_s > 0
				? "SELECT * FROM mobisign_sign($1, $2, $3, $4::interval)"
				: "SELECT * FROM mobisign_sign($1, $2, $3)",
				a->timeout_s > 0 ? 4 : 3, p);
	}
	if (started(r, err))
	{
		copy_value(r, 0, 0, transaction_id, 37);
		copy_value(r, 0, 1, code, 5);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

int
gw_receipt(const char *transaction_id, const char *message, const char *application,
		   int timeout_s, char *receipt_id, gw_sqlerr *err)
{
	char		timeout[32];
	const char *p[4] = {transaction_id, message, application, timeout};
	PGresult   *r;
	int			rc = -1;

	memset(err, 0, sizeof(*err));
	snprintf(timeout, sizeof(timeout), "%d seconds", timeout_s);
	r = run(timeout_s > 0
			? "SELECT transaction_id FROM mobisign_receipt($1::uuid, $2, $4::interval, $3)"
			: "SELECT transaction_id FROM mobisign_receipt($1::uuid, $2, application => $3)",
			timeout_s > 0 ? 4 : 3, p);
	if (started(r, err))
	{
		copy_value(r, 0, 0, receipt_id, 37);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

int
gw_read_tx(const char *transaction_id, gw_tx *tx)
{
	const char *p[1] = {transaction_id};
	PGresult   *r;

	memset(tx, 0, sizeof(*tx));
	/*
	 * The application label comes from the row the role may see (its
	 * SELECT policy): mobisign_status has already refused any other.
	 */
	r = run("SELECT kind, state, status_code, reason, submitted_at IS NOT NULL,"
			" state IN ('queued', 'submitted'),"
			" (SELECT t.application FROM mobisign.transaction t WHERE t.id = $1::uuid)"
			" FROM mobisign_status($1::uuid)", 1, p);
	if (r == NULL)
		return -1;
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		/* P0002 no_data_found: not this role's transaction, or none */
		int			notfound = state && strcmp(state, "P0002") == 0;

		if (!notfound)
			gw_log("status read: SQLSTATE %s", state ? state : "(none)");
		PQclear(r);
		return notfound ? 0 : -1;
	}
	if (PQntuples(r) == 1)
	{
		tx->found = 1;
		copy_value(r, 0, 0, tx->kind, sizeof(tx->kind));
		copy_value(r, 0, 1, tx->state, sizeof(tx->state));
		tx->status_code = atoi(PQgetvalue(r, 0, 2));
		copy_value(r, 0, 3, tx->reason, sizeof(tx->reason));
		tx->submitted = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
		tx->open = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
		copy_value(r, 0, 6, tx->application, sizeof(tx->application));
	}
	PQclear(r);
	return 0;
}

int
gw_wait_tx(const char *transaction_id, int timeout_ms, gw_tx *tx)
{
	gw_waiter	w;
	int64_t		deadline = gw_now_ms() + timeout_ms;
	int			rc;

	/* registered before the first read: a NOTIFY in between is not lost */
	if (gw_wait_register(&w, transaction_id) != 0)
		return gw_read_tx(transaction_id, tx);	/* full: the state now */
	for (;;)
	{
		rc = gw_read_tx(transaction_id, tx);
		if (rc < 0 || !tx->found || !tx->open || gw_stopping() || gw_now_ms() >= deadline)
			break;
		/* one read per wake-up; a wake-up for this transaction means it ended */
		if (!gw_wait_until(&w, deadline))
		{
			rc = gw_read_tx(transaction_id, tx);
			break;
		}
	}
	gw_wait_unregister(&w);
	return rc;
}

int
gw_read_signature(const char *transaction_id, gw_sig *sig)
{
	const char *p[1] = {transaction_id};
	PGresult   *r = run("SELECT signature, hash_type, key_type, certificate"
						" FROM mobisign_signature($1::uuid)", 1, p);

	memset(sig, 0, sizeof(*sig));
	if (failed(r, "signature read"))
		return -1;
	if (PQntuples(r) == 1)
	{
		sig->signature_b64 = bytea_b64(r, 0, 0);
		copy_value(r, 0, 1, sig->hash_type, sizeof(sig->hash_type));
		copy_value(r, 0, 2, sig->key_type, sizeof(sig->key_type));
		sig->certificate_b64 = bytea_b64(r, 0, 3);
	}
	PQclear(r);
	return 0;
}

void
gw_sig_free(gw_sig *sig)
{
	free(sig->signature_b64);
	free(sig->certificate_b64);
	sig->signature_b64 = sig->certificate_b64 = NULL;
}
