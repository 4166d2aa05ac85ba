/*-------------------------------------------------------------------------
 *
 * ldap_dir.c
 *	  LDAP directory access through libldap (see ldap_dir.h).
 *
 * Nothing here ever prints the bind password: it is read from
 * mobisign.directory (a column only the extension's owner can read), handed
 * to libldap and forgotten.
 *
 * Bounded answers: libldap reads every message whole into its own malloc'd
 * memory, outside PostgreSQL's accounting, and a search's size limit is only
 * a request to the server.  So (a) every connection caps each incoming
 * message (LBER_SB_OPT_SET_MAX_INCOMING): MS_LDAP_IDLE_MAX_MESSAGE outside a
 * search, during one the largest message that search accepts (its largest
 * value plus MS_LDAP_ENVELOPE_SLACK); a message announced longer fails before
 * it is read; (b) searches are asynchronous (search_bounded): one message at
 * a time, at most max_entries entries and max_total bytes of them are kept,
 * one entry more is abandoned and the connection dropped, the whole search
 * under the directory's timeout and the watchdog.  A search's memory outside
 * PostgreSQL is at most max_total + max_message.
 *
 * What a server says (its diagnostic message) reaches messages only as
 * printable ASCII, bounded (ms_append_shown).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <ldap.h>
#include <signal.h>
#include <sys/socket.h>

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "fetch.h"
#include "ldap_dir.h"
#include "ldap_input.h"
#include "ossl.h"
#include "spi_row.h"
#include "text_bytes.h"

/* one directory row */
typedef struct DirConf
{
	int			id;
	TransactionId xmin;			/* row version: the cached connection is rebuilt when it changes */
	char	   *name;
	char	   *url;
	char	   *base_dn;
	char	   *bind_dn;
	char	   *bind_password;
	char	   *user_filter;
	char	   *msisdn_attribute;
	char	   *certificate_attribute;
	bool		starttls;
	char	   *ca_file;
	int			timeout_ms;
} DirConf;

/* a cached connection, in TopMemoryContext */
typedef struct DirConn
{
	int			id;
	TransactionId xmin;
	LDAP	   *ld;
} DirConn;

static List *conn_cache = NIL;

/* ---- configuration ---- */

static char *
getstr(HeapTuple tup, TupleDesc td, const char *col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = ms_spi_datum(tup, td, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(cxt, TextDatumGetCString(d));
}

#define DIR_COLUMNS \
	"SELECT id, xmin::text::bigint AS row_xmin, name, url, base_dn, bind_dn, bind_password, user_filter," \
	"       msisdn_attribute, certificate_attribute, starttls, ca_file," \
	"       greatest(1, least(600000, (extract(epoch FROM timeout) * 1000)::bigint))::integer AS timeout_ms" \
	"  FROM mobisign.directory "

static DirConf *
conf_from_tuple(HeapTuple tup, TupleDesc td, MemoryContext cxt)
{
	DirConf    *d = MemoryContextAllocZero(cxt, sizeof(DirConf));

	d->id = ms_spi_int32(tup, td, "id");
	d->xmin = (TransactionId) ms_spi_int64(tup, td, "row_xmin");
	d->name = getstr(tup, td, "name", cxt);
	d->url = getstr(tup, td, "url", cxt);
	d->base_dn = getstr(tup, td, "base_dn", cxt);
	d->bind_dn = getstr(tup, td, "bind_dn", cxt);
	d->bind_password = getstr(tup, td, "bind_password", cxt);
	d->user_filter = getstr(tup, td, "user_filter", cxt);
	d->msisdn_attribute = getstr(tup, td, "msisdn_attribute", cxt);
	d->certificate_attribute = getstr(tup, td, "certificate_attribute", cxt);
	d->starttls = ms_spi_bool(tup, td, "starttls");
	d->ca_file = getstr(tup, td, "ca_file", cxt);
	d->timeout_ms = ms_spi_int32(tup, td, "timeout_ms");
	return d;
}

/* the directories DIR_COLUMNS || tail selects with $1 = arg, in the caller's context */
static List *
conf_query(const char *tail, int32 arg, long limit)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		args[1] = {Int32GetDatum(arg)};
	Oid			argtype[1] = {INT4OID};
	List	   *l = NIL;
	int			rc;

	SPI_connect();
	rc = SPI_execute_with_args(psprintf("%s%s", DIR_COLUMNS, tail), 1, argtype, args, NULL,
							   true, limit);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read mobisign.directory: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		l = lappend(l, conf_from_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, caller));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return l;
}

static DirConf *
conf_load(int id)
{
	List	   *l = conf_query("WHERE id = $1", id, 1);

	if (l == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("directory %d does not exist", id)));
	return (DirConf *) linitial(l);
}

/* enabled directories usable for pki_id (0: any), in position order */
static List *
conf_load_all(int pki_id)
{
	return conf_query("WHERE enabled AND ($1 = 0 OR pki_id IS NULL OR pki_id = $1)"
					  " ORDER BY position, id", pki_id, 0);
}

/* ---- watchdog ----
 *
 * libldap bounds its calls with LDAP_OPT_TIMEOUT and LDAP_OPT_NETWORK_TIMEOUT,
 * but Debian's libldap 2.5 (GnuTLS) spins in the TLS handshake when the
 * server accepts the TCP connection and then says nothing (a frozen server):
 * the non-blocking handshake is retried without waiting, forever.  So every
 * blocking libldap call also runs under a PostgreSQL timeout a little longer
 * than the directory's; when it fires, its handler shuts the connection's
 * socket down (shutdown(2) is async-signal-safe), the pending read returns
 * end-of-file and libldap gives up.  The socket is learnt from a connection
 * callback (LDAP_OPT_CONNECT_CB) or, for an open connection, LDAP_OPT_DESC.
 */
#define MS_LDAP_WATCHDOG_MARGIN_MS 500

static TimeoutId watchdog_id = MAX_TIMEOUTS;
static volatile sig_atomic_t watch_fd = -1;
static volatile sig_atomic_t watch_fired = 0;

static void
watchdog_handler(void)
{
	int			fd = watch_fd;

	watch_fired = 1;
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static void
watchdog_arm(LDAP *ld, int timeout_ms)
{
	int			fd = -1;

	if (watchdog_id == MAX_TIMEOUTS)
		watchdog_id = RegisterTimeout(USER_TIMEOUT, watchdog_handler);
	if (ld != NULL && ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS)
		fd = -1;
	watch_fd = fd;
	watch_fired = 0;
	enable_timeout_after(watchdog_id, timeout_ms + MS_LDAP_WATCHDOG_MARGIN_MS);
}

/* returns true when the watchdog fired */
static bool
watchdog_disarm(void)
{
	disable_timeout(watchdog_id, false);
	watch_fd = -1;
	return watch_fired != 0;
}

static int
conncb_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
		   struct ldap_conncb *ctx)
{
	ber_socket_t fd;

	if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1)
		watch_fd = fd;
	return 0;
}

static void
conncb_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
	watch_fd = -1;
}

static struct ldap_conncb watchdog_conncb = {conncb_add, conncb_del, NULL};

/* ---- connections ---- */

/* at most this many bytes of a server's diagnostic message go into an error */
#define MS_LDAP_DIAG_MAX 100

/*
 * The server's diagnostic message, printable ASCII (ms_append_shown:
 * at most 4 * MS_LDAP_DIAG_MAX + 3 bytes), or "" (palloc'd)
 */
static char *
ld_diagnostic(LDAP *ld)
{
	char	   *msg = NULL;
	StringInfoData buf;

	initStringInfo(&buf);
	if (ld != NULL && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS &&
		msg != NULL)
	{
		ms_append_shown(&buf, msg, strlen(msg), MS_LDAP_DIAG_MAX);
		ldap_memfree(msg);
	}
	return buf.data;
}

/*
 * A local code (never from libldap, never given to ldap_err2string): the
 * answer was over a bound of the search (search_bounded).
 */
#define MS_LDAP_TOO_LARGE (-900)

static char *
ld_error(LDAP *ld, int rc)
{
	char	   *diag;

	if (rc == MS_LDAP_TOO_LARGE)
		return pstrdup("the answer is larger than the search accepts");
	diag = ld_diagnostic(ld);
	if (diag[0] != '\0' && strcmp(diag, "(unknown error code)") != 0)
		return psprintf("%s (%s)", ldap_err2string(rc), diag);
	return pstrdup(ldap_err2string(rc));
}

static bool
is_timeout(int rc)
{
	return rc == LDAP_TIMEOUT || rc == LDAP_TIMELIMIT_EXCEEDED;
}

/* ---- bounded answers ---- */

/* the largest message outside a search (bind, StartTLS, extended results) */
#define MS_LDAP_IDLE_MAX_MESSAGE (64 * 1024)

/* what a message may hold besides its values: DN, attribute names, BER headers */
#define MS_LDAP_ENVELOPE_SLACK (64 * 1024)

/*
 * What one search may bring back.  max_message is the largest message read
 * (the largest value the lookup accepts, times the values it keeps when they
 * share an entry, plus MS_LDAP_ENVELOPE_SLACK); max_total bounds the entries
 * kept, all together.
 */
typedef struct SearchBound
{
	int			max_entries;	/* the size limit asked of the server */
	size_t		max_message;
	size_t		max_total;
} SearchBound;

/* certificates kept of a user's entry; values kept of an ldap:// URL */
#define MS_LDAP_USER_CERTS 16
#define MS_LDAP_URL_VALUES 16

/*
 * A user search: two entries at most (a second one is an error), each with
 * its mobile number and MS_LDAP_USER_CERTS certificates.
 */
static const SearchBound user_bound = {
	2,
	MSI_LDAP_MSISDN_MAX_LEN + MS_LDAP_USER_CERTS * MS_FETCH_MAX_CERT + MS_LDAP_ENVELOPE_SLACK,
	2 * (MSI_LDAP_MSISDN_MAX_LEN + MS_LDAP_USER_CERTS * MS_FETCH_MAX_CERT + MS_LDAP_ENVELOPE_SLACK)
};

/* a CA entry's CRLs: one entry, one CRL's worth of bytes */
static const SearchBound ca_bound = {
	1,
	MS_FETCH_MAX_CRL + MS_LDAP_ENVELOPE_SLACK,
	MS_FETCH_MAX_CRL + MS_LDAP_ENVELOPE_SLACK
};

/*
 * No message longer than max is read on ld's connection: libldap fails it
 * (ber_get_next, errno ERANGE) from its announced length, before it is
 * read or allocated.
 */
static bool
set_max_message(LDAP *ld, ber_len_t max)
{
	Sockbuf    *sb = NULL;

	if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS || sb == NULL)
		return false;
	return ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &max) == 1;
}

/*
 * Open a connection: options, TLS, bind.  Returns NULL and sets *err and
 * *rc on failure; never throws while holding the handle.
 */
static LDAP *
ld_open(const char *url, const char *ca_file, bool starttls, const char *bind_dn,
		const char *bind_password, int timeout_ms, char **err, int *rcp)
{
	LDAP	   *ld = NULL;
	int			rc;
	int			v3 = LDAP_VERSION3;
	int			demand = LDAP_OPT_X_TLS_DEMAND;
	int			zero = 0;
	struct timeval tv;
	struct berval cred;
	bool		tls = starttls || pg_strncasecmp(url, "ldaps://", 8) == 0;

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	*rcp = LDAP_SUCCESS;

	rc = ldap_initialize(&ld, url);
	if (rc != LDAP_SUCCESS || ld == NULL)
	{
		*err = psprintf("invalid LDAP URL: %s", ldap_err2string(rc));
		*rcp = rc;
		return NULL;
	}
	if (!set_max_message(ld, MS_LDAP_IDLE_MAX_MESSAGE) ||
		ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS ||
		ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
		ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) != LDAP_OPT_SUCCESS ||
		ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
		ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
		ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &watchdog_conncb) != LDAP_OPT_SUCCESS)
	{
		ldap_unbind_ext_s(ld, NULL, NULL);
		*err = pstrdup("could not set LDAP options");
		*rcp = LDAP_LOCAL_ERROR;
		return NULL;
	}
	if (tls)
	{
		/* per-connection TLS settings take effect only with a new context */
		if ((ca_file != NULL &&
			 ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, ca_file) != LDAP_OPT_SUCCESS) ||
			ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
			ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS)
		{
			ldap_unbind_ext_s(ld, NULL, NULL);
			*err = pstrdup("could not set up TLS (is ca_file readable by the server?)");
			*rcp = LDAP_LOCAL_ERROR;
			return NULL;
		}
	}
	if (starttls)
	{
		watchdog_arm(NULL, timeout_ms);
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (watchdog_disarm())
			rc = LDAP_TIMEOUT;
		if (rc != LDAP_SUCCESS)
		{
			*err = psprintf("StartTLS failed: %s%s", ld_error(ld, rc),
							(rc == LDAP_CONNECT_ERROR || rc == LDAP_SERVER_DOWN) ?
							"; is the server certificate trusted by ca_file?" : "");
			*rcp = rc;
			ldap_unbind_ext_s(ld, NULL, NULL);
			return NULL;
		}
	}
	/* simple bind (anonymous without a bind DN): opens the connection now */
	cred.bv_val = (char *) (bind_password ? bind_password : "");
	cred.bv_len = bind_password ? strlen(bind_password) : 0;
	watchdog_arm(starttls ? ld : NULL, timeout_ms);
	rc = ldap_sasl_bind_s(ld, bind_dn ? bind_dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	if (watchdog_disarm())
		rc = LDAP_TIMEOUT;
	if (rc != LDAP_SUCCESS)
	{
		*err = psprintf("bind failed: %s%s", ld_error(ld, rc),
						(tls && (rc == LDAP_CONNECT_ERROR || rc == LDAP_SERVER_DOWN)) ?
						"; with TLS: is the server certificate trusted by ca_file?" : "");
		*rcp = rc;
		ldap_unbind_ext_s(ld, NULL, NULL);
		return NULL;
	}
	return ld;
}

static void
conn_drop(DirConn *c)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	conn_cache = list_delete_ptr(conn_cache, c);
	MemoryContextSwitchTo(old);
	if (c->ld)
		ldap_unbind_ext_s(c->ld, NULL, NULL);
	pfree(c);
}

/*
 * The cached connection of d, or a new one.  *reused says whether it came
 * from the cache (then a LDAP_SERVER_DOWN deserves one reconnection).
 */
static DirConn *
conn_get(DirConf *d, bool *reused, char **err, int *rc)
{
	ListCell   *lc;
	DirConn    *c;
	LDAP	   *ld;

	foreach(lc, conn_cache)
	{
		c = (DirConn *) lfirst(lc);
		if (c->id != d->id)
			continue;
		if (c->xmin == d->xmin)
		{
			*reused = true;
			return c;
		}
		conn_drop(c);			/* the directory changed */
		break;
	}
	*reused = false;
	ld = ld_open(d->url, d->ca_file, d->starttls, d->bind_dn, d->bind_password,
				 d->timeout_ms, err, rc);
	if (ld == NULL)
		return NULL;
	c = MemoryContextAllocZero(TopMemoryContext, sizeof(DirConn));
	c->id = d->id;
	c->xmin = d->xmin;
	c->ld = ld;
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		conn_cache = lappend(conn_cache, c);
		MemoryContextSwitchTo(old);
	}
	return c;
}

/* the errdetail of an answer over b (a full sentence) */
static char *
too_large_text(const SearchBound *b)
{
	return psprintf("The directory's answer exceeds what the search accepts (no message over %zu bytes, "
					"at most %zu bytes of entries); the search was abandoned and the connection closed.",
					b->max_message, b->max_total);
}

static void
report_failure(DirConf *d, int rc, const char *err, const SearchBound *b)
{
	if (rc == MS_LDAP_TOO_LARGE)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("directory \"%s\" sent an answer too large to accept", d->name),
				 errdetail("%s", too_large_text(b)),
				 errhint("A directory answers a lookup with at most %d entries of at most %zu bytes.",
						 b->max_entries, b->max_message)));
	ereport(ERROR,
			(errcode(is_timeout(rc) ? ERRCODE_QUERY_CANCELED : ERRCODE_CONNECTION_FAILURE),
			 errmsg("directory \"%s\" is unavailable", d->name),
			 errdetail("%s", err),
			 is_timeout(rc) ? errhint("The directory did not answer within its timeout (%d ms).",
									  d->timeout_ms) : 0));
}

/* the entries of a search: each an LDAPMessage of its own (ldap_msgfree) */
typedef struct DirResult
{
	int			n;
	LDAPMessage **entries;		/* max_entries slots, palloc'd */
} DirResult;

static void
dir_result_free(void *p)
{
	DirResult  *r = (DirResult *) p;

	for (int i = 0; i < r->n; i++)
		ldap_msgfree(r->entries[i]);
	r->n = 0;
}

/* the bytes of an entry as received (its BER element), or dflt */
static size_t
entry_size(LDAP *ld, LDAPMessage *e, size_t dflt)
{
	BerElement *ber = NULL;
	struct berval dn;
	ber_len_t	total = 0;
	size_t		n = dflt;

	if (ldap_get_dn_ber(ld, e, &ber, &dn) == LDAP_SUCCESS && ber != NULL &&
		ber_get_option(ber, LBER_OPT_BER_TOTAL_BYTES, &total) == LBER_OPT_SUCCESS)
		n = total;
	if (ber)
		ber_free(ber, 0);
	return n;
}

/*
 * One search on ld under bound b and timeout_ms (the server's time limit,
 * ldap_result's wait, and the watchdog for the whole search).  Fills *r
 * (allocated here, before anything is received) with the entries received.
 * Returns LDAP_SUCCESS, LDAP_NO_SUCH_OBJECT, LDAP_SIZELIMIT_EXCEEDED (from
 * the server, or an entry more than b->max_entries: the first ones are kept),
 * MS_LDAP_TOO_LARGE (a message over b->max_message, or entries over
 * b->max_total: no entry is kept) or another libldap error (no entry kept).
 * *abandoned says the search was given up with its answer still coming (or
 * the connection failed mid-answer): the connection must not be reused.
 * Never throws once the first message is asked for.
 */
static int
search_bounded(LDAP *ld, const char *base, int scope, const char *filter, char **attrs,
			   const SearchBound *b, int timeout_ms, DirResult *r, bool *abandoned)
{
	struct timeval tv;
	TimestampTz deadline;
	size_t		total = 0;
	bool		done = false;
	int			msgid = -1;
	int			rc;

	r->n = 0;
	r->entries = palloc0(sizeof(LDAPMessage *) * b->max_entries);
	*abandoned = false;
	if (!set_max_message(ld, (ber_len_t) b->max_message))
		return LDAP_LOCAL_ERROR;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	watchdog_arm(ld, timeout_ms);
	rc = ldap_search_ext(ld, base, scope, filter, attrs, 0, NULL, NULL, &tv, b->max_entries, &msgid);
	while (rc == LDAP_SUCCESS && !done)
	{
		LDAPMessage *msg = NULL;
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		struct timeval wait;
		int			type;

		if (left <= 0)
		{
			rc = LDAP_TIMEOUT;
			break;
		}
		wait.tv_sec = left / 1000;
		wait.tv_usec = (left % 1000) * 1000;
		errno = 0;
		type = ldap_result(ld, msgid, LDAP_MSG_ONE, &wait, &msg);
		if (type < 0)
		{
			/* ber_get_next refused a message over max_message with ERANGE */
			bool		too_large = (errno == ERANGE);

			if (ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc) != LDAP_OPT_SUCCESS ||
				rc == LDAP_SUCCESS)
				rc = LDAP_SERVER_DOWN;
			if (too_large)
				rc = MS_LDAP_TOO_LARGE;
			msgid = -1;			/* the connection is gone: nothing to abandon */
			*abandoned = true;
			break;
		}
		if (type == 0)
		{
			rc = LDAP_TIMEOUT;
			break;
		}
		if (type == LDAP_RES_SEARCH_ENTRY)
		{
			size_t		n = entry_size(ld, msg, b->max_message);

			if (r->n >= b->max_entries)
				rc = LDAP_SIZELIMIT_EXCEEDED;	/* the server ignored the size limit */
			else if (n > b->max_total - total)
				rc = MS_LDAP_TOO_LARGE;
			if (rc != LDAP_SUCCESS)
			{
				ldap_msgfree(msg);
				break;
			}
			total += n;
			r->entries[r->n++] = msg;
		}
		else if (type == LDAP_RES_SEARCH_RESULT)
		{
			int			code = LDAP_SUCCESS;

			/* sets the diagnostic message ld_error shows; frees msg */
			rc = ldap_parse_result(ld, msg, &code, NULL, NULL, NULL, NULL, 1);
			/*
			 * the server's code; one outside LDAP's range (a hostile one
			 * could send a local code: -1 server down, MS_LDAP_TOO_LARGE)
			 * is a protocol error
			 */
			if (rc == LDAP_SUCCESS)
				rc = (code >= 0 && code <= 0x7fff) ? code : LDAP_PROTOCOL_ERROR;
			done = true;
		}
		else
			ldap_msgfree(msg);	/* references (referrals are off), intermediates */
	}
	if (!done && msgid >= 0)
	{
		ldap_abandon_ext(ld, msgid, NULL, NULL);
		*abandoned = true;
	}
	if (watchdog_disarm())
	{
		rc = LDAP_TIMEOUT;
		*abandoned = true;
	}
	set_max_message(ld, MS_LDAP_IDLE_MAX_MESSAGE);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED && rc != LDAP_NO_SUCH_OBJECT)
		dir_result_free(r);
	return rc;
}

/*
 * Search with reconnect-once.  Fills *r (the caller frees it with
 * dir_result_free) and returns the handle used, with *rcp one of
 * LDAP_SUCCESS, LDAP_SIZELIMIT_EXCEEDED, LDAP_NO_SUCH_OBJECT; on failure
 * returns NULL with *rcp the error (MS_LDAP_TOO_LARGE for an answer over
 * b), *err a message and no entry in *r.  Never throws while entries are
 * held.
 */
static LDAP *
dir_search(DirConf *d, const char *base, int scope, const char *filter, char **attrs,
		   const SearchBound *b, DirResult *r, int *rcp, char **err)
{
	*err = NULL;
	r->n = 0;
	for (int attempt = 0; attempt < 2; attempt++)
	{
		bool		reused;
		bool		abandoned;
		int			rc;
		DirConn    *c = conn_get(d, &reused, err, &rc);

		if (c == NULL)
		{
			*rcp = rc;
			*err = psprintf("connection failed: %s", *err);
			return NULL;
		}
		rc = search_bounded(c->ld, base, scope, filter, attrs, b, d->timeout_ms, r, &abandoned);
		*rcp = rc;
		if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED || rc == LDAP_NO_SUCH_OBJECT)
		{
			/*
			 * The rest of an abandoned answer may still come: the entries
			 * kept need the handle now, the next search a new connection
			 * (no directory row has xmin InvalidTransactionId).
			 */
			if (abandoned)
				c->xmin = InvalidTransactionId;
			return c->ld;
		}
		*err = psprintf("search failed: %s", ld_error(c->ld, rc));
		if (abandoned || rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || is_timeout(rc) ||
			rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY || rc == MS_LDAP_TOO_LARGE)
		{
			/* the connection is in an unknown state: never reuse it */
			conn_drop(c);
			if ((rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR) && reused && attempt == 0)
			{
				*err = NULL;
				continue;		/* re-established once */
			}
		}
		return NULL;
	}
	return NULL;
}

/* ---- filters ---- */

bool
ms_ldap_filter_template_ok(const char *template, const char **why)
{
	int			n = 0;
	int			depth = 0;
	const char *p;

	if (template == NULL || template[0] != '(')
	{
		*why = "A filter template must be a parenthesised LDAP filter such as (uid=%s).";
		return false;
	}
	for (p = template; (p = strstr(p, "%s")) != NULL; p += 2)
		n++;
	if (n != 1)
	{
		*why = "A filter template must contain exactly one %s, where the escaped user id goes.";
		return false;
	}
	for (p = template; *p; p++)
	{
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			break;
	}
	if (depth != 0)
	{
		*why = "The filter template's parentheses are not balanced.";
		return false;
	}
	return true;
}

char *
ms_ldap_build_filter(const char *template, const char *value, size_t len)
{
	const char *why;
	const char *at;
	struct berval in;
	struct berval out = {0, NULL};
	StringInfoData buf;

	if (!ms_ldap_filter_template_ok(template, &why))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid LDAP filter template"),
				 errdetail("%s", why)));
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an empty user id cannot be searched for")));
	in.bv_val = (char *) value;
	in.bv_len = len;
	if (ldap_bv2escaped_filter_value(&in, &out) != 0 || out.bv_val == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not escape the user id for an LDAP filter")));
	at = strstr(template, "%s");
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, template, at - template);
	appendBinaryStringInfo(&buf, out.bv_val, out.bv_len);
	appendStringInfoString(&buf, at + 2);
	ber_memfree(out.bv_val);
	return buf.data;
}

/* ---- attributes ---- */

/* every value of attribute wanted in entry e, as bytea * (palloc'd) */
static List *
entry_values(LDAP *ld, LDAPMessage *e, const char *wanted, size_t max_len, int max_values)
{
	List	   *l = NIL;
	BerElement *ber = NULL;
	char	   *a;

	for (a = ldap_first_attribute(ld, e, &ber); a != NULL; a = ldap_next_attribute(ld, e, ber))
	{
		if (msi_ldap_attr_matches(a, wanted) && list_length(l) < max_values)
		{
			struct berval **vals = ldap_get_values_len(ld, e, a);
			size_t	   *keep = palloc(sizeof(size_t) * max_values);
			size_t		n = msi_ldap_pick_values(vals, max_len, max_values - list_length(l), keep);

			for (size_t i = 0; i < n; i++)
				l = lappend(l, ms_bytea(vals[keep[i]]->bv_val, vals[keep[i]]->bv_len));
			pfree(keep);
			if (vals)
				ldap_value_free_len(vals);
		}
		ldap_memfree(a);
	}
	if (ber)
		ber_free(ber, 0);
	return l;
}

/* ---- user search ---- */

void
ms_ldap_find_user(int directory_id, const char *user_id, size_t len, MsDirUser *out)
{
	DirConf    *d = conf_load(directory_id);
	char	   *filter = ms_ldap_build_filter(d->user_filter, user_id, len);
	char	   *attrs[3];
	LDAP	   *ld;
	MsScope    *sc;
	DirResult  *res;
	int			rc;
	int			count;
	char	   *dn = NULL;
	List	   *msisdn_vals = NIL;
	List	   *certs = NIL;
	char	   *err = NULL;

	memset(out, 0, sizeof(*out));
	attrs[0] = d->msisdn_attribute;
	attrs[1] = d->certificate_attribute;
	attrs[2] = NULL;

	sc = ms_scope_create();
	res = ms_scope_add(sc, palloc0(sizeof(DirResult)), dir_result_free);
	ld = dir_search(d, d->base_dn, LDAP_SCOPE_SUBTREE, filter, attrs, &user_bound, res, &rc, &err);
	if (err != NULL)
		report_failure(d, rc, err, &user_bound);
	if (rc == LDAP_NO_SUCH_OBJECT)
	{
		ms_scope_release(sc);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("directory \"%s\" has no entry \"%s\"", d->name, d->base_dn),
				 errhint("Check the directory's base_dn.")));
	}
	count = res->n;
	if (rc == LDAP_SIZELIMIT_EXCEEDED || count > 1)
	{
		ms_scope_release(sc);
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("more than one entry of directory \"%s\" matches the user id", d->name),
				 errdetail("Exactly one entry must match; none is chosen."),
				 errhint("Make the directory's user_filter select a unique attribute.")));
	}
	if (count == 1)
	{
		LDAPMessage *e = ldap_first_entry(ld, res->entries[0]);
		char	   *ldn = e ? ldap_get_dn(ld, e) : NULL;

		if (ldn)
		{
			dn = pstrdup(ldn);
			ldap_memfree(ldn);
		}
		if (e)
		{
			msisdn_vals = entry_values(ld, e, d->msisdn_attribute, MSI_LDAP_MSISDN_MAX_LEN, 1);
			certs = entry_values(ld, e, d->certificate_attribute, MS_FETCH_MAX_CERT,
								 MS_LDAP_USER_CERTS);
		}
	}
	ms_scope_release(sc);

	out->found = (count == 1);
	out->dn = dn;
	out->certificates = certs;
	if (msisdn_vals != NIL)
	{
		bytea	   *m = linitial(msisdn_vals);
		char	   *number = palloc(VARSIZE(m) - VARHDRSZ + 1);

		if (msi_msisdn_normalise(VARDATA(m), VARSIZE(m) - VARHDRSZ, number,
								 VARSIZE(m) - VARHDRSZ + 1) == MSI_OK)
			out->msisdn = number;
	}
}

/* ---- URL fetches ---- */

/* an enabled directory at the same scheme://host:port, or NULL */
static DirConf *
directory_for_url(const char *scheme, const char *host, int port)
{
	List	   *all = conf_load_all(0);
	ListCell   *lc;

	foreach(lc, all)
	{
		DirConf    *d = lfirst(lc);
		LDAPURLDesc *lud = NULL;
		bool		same;

		if (ldap_url_parse(d->url, &lud) != LDAP_URL_SUCCESS || lud == NULL)
			continue;
		same = pg_strcasecmp(lud->lud_scheme, scheme) == 0 &&
			pg_strcasecmp(lud->lud_host ? lud->lud_host : "", host) == 0 &&
			lud->lud_port == port;
		ldap_free_urldesc(lud);
		if (same)
			return d;
	}
	return NULL;
}

/* MsScope free function for a connection of its own */
static void
free_ld(void *p)
{
	ldap_unbind_ext_s((LDAP *) p, NULL, NULL);
}

/* values of attr in every entry of res */
static List *
result_values(LDAP *ld, DirResult *res, const char *attr, size_t max_len)
{
	List	   *vals = NIL;

	for (int i = 0; i < res->n; i++)
		for (LDAPMessage *e = ldap_first_entry(ld, res->entries[i]); e; e = ldap_next_entry(ld, e))
			vals = list_concat(vals, entry_values(ld, e, attr, max_len, MS_LDAP_URL_VALUES));
	return vals;
}

List *
ms_ldap_fetch_url(const char *url, int timeout_secs, size_t max_len, char **err)
{
	LDAPURLDesc *lud = NULL;
	char	   *base;
	char	   *attr;
	char	   *filter;
	char	   *scheme;
	char	   *host;
	int			port;
	int			scope;
	DirConf    *d;
	List	   *vals = NIL;
	MsScope    *sc;
	LDAP	   *ld;
	DirResult  *res;
	SearchBound b;
	int			rc;
	char	   *attrs[2];

	*err = NULL;
	if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS || lud == NULL)
	{
		*err = pstrdup("invalid LDAP URL");
		return NIL;
	}
	base = pstrdup(lud->lud_dn ? lud->lud_dn : "");
	attr = (lud->lud_attrs && lud->lud_attrs[0]) ? pstrdup(lud->lud_attrs[0]) : NULL;
	filter = pstrdup(lud->lud_filter ? lud->lud_filter : "(objectClass=*)");
	scope = lud->lud_scope == LDAP_SCOPE_DEFAULT ? LDAP_SCOPE_BASE : lud->lud_scope;
	scheme = pstrdup(lud->lud_scheme ? lud->lud_scheme : "ldap");
	host = pstrdup(lud->lud_host ? lud->lud_host : "");
	port = lud->lud_port;
	ldap_free_urldesc(lud);

	if (attr == NULL)
	{
		*err = pstrdup("the LDAP URL names no attribute");
		return NIL;
	}
	attrs[0] = attr;
	attrs[1] = NULL;

	/* one value of max_len bytes in all, in at most MS_LDAP_URL_VALUES entries */
	b.max_entries = MS_LDAP_URL_VALUES;
	b.max_message = max_len + MS_LDAP_ENVELOPE_SLACK;
	b.max_total = b.max_message;

	sc = ms_scope_create();
	res = ms_scope_add(sc, palloc0(sizeof(DirResult)), dir_result_free);
	d = directory_for_url(scheme, host, port);
	if (d != NULL)
	{
		/* through the directory's own connection, bind and TLS settings */
		ld = dir_search(d, base, scope, filter, attrs, &b, res, &rc, err);
		if (*err == NULL && rc == LDAP_NO_SUCH_OBJECT)
			*err = psprintf("no entry \"%s\" in directory \"%s\"", base, d->name);
		else if (*err == NULL)
			vals = result_values(ld, res, attr, max_len);
		else if (rc == MS_LDAP_TOO_LARGE)
			*err = too_large_text(&b);
	}
	else
	{
		/* an anonymous connection, bounded by timeout_secs */
		char	   *hosturl;
		bool		abandoned;

		if (port > 0)
			hosturl = psprintf("%s://%s:%d/", scheme, host, port);
		else
			hosturl = psprintf("%s://%s/", scheme, host);
		ld = ms_scope_add(sc, ld_open(hosturl, NULL, false, NULL, NULL, timeout_secs * 1000, err, &rc),
						  free_ld);
		if (ld != NULL)
		{
			rc = search_bounded(ld, base, scope, filter, attrs, &b, timeout_secs * 1000, res,
								&abandoned);
			if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED)
				vals = result_values(ld, res, attr, max_len);
			else if (rc == MS_LDAP_TOO_LARGE)
				*err = too_large_text(&b);
			else
				*err = psprintf("LDAP search failed: %s", ld_error(ld, rc));
		}
	}
	ms_scope_release(sc);
	if (vals == NIL && *err == NULL)
		*err = psprintf("no value of %s found", attr);
	return vals;
}

/* ---- CA entries ---- */

/* ldap://host:port/dn?attr for a directory's URL */
static char *
entry_url(const char *dir_url, const char *dn, const char *attr)
{
	LDAPURLDesc *lud = NULL;
	char	   *u = NULL;

	if (ldap_url_parse(dir_url, &lud) == LDAP_URL_SUCCESS && lud != NULL)
	{
		char	   *s;
		char	   *oneattr[2] = {(char *) attr, NULL};
		char	  **saved_attrs = lud->lud_attrs;
		char	   *saved_dn = lud->lud_dn;
		char	   *saved_filter = lud->lud_filter;
		int			saved_scope = lud->lud_scope;

		lud->lud_dn = (char *) dn;
		lud->lud_attrs = oneattr;
		lud->lud_scope = LDAP_SCOPE_BASE;
		lud->lud_filter = NULL;
		s = ldap_url_desc2str(lud);
		lud->lud_dn = saved_dn;
		lud->lud_attrs = saved_attrs;
		lud->lud_scope = saved_scope;
		lud->lud_filter = saved_filter;
		ldap_free_urldesc(lud);
		if (s)
		{
			u = pstrdup(s);
			ldap_memfree(s);
		}
	}
	return u;
}

void
ms_ldap_ca_crls(int pki_id, const char *dn, List **crls, List **urls, List **errs)
{
	static const char *crl_attrs[] = {
		"certificateRevocationList;binary",
		"authorityRevocationList;binary",
		"deltaRevocationList;binary"
	};
	List	   *dirs = conf_load_all(pki_id);
	ListCell   *lc;

	foreach(lc, dirs)
	{
		DirConf    *d = lfirst(lc);
		LDAP	   *ld;
		MsScope    *sc = ms_scope_create();
		DirResult  *res = ms_scope_add(sc, palloc0(sizeof(DirResult)), dir_result_free);
		LDAPMessage *e;
		int			rc;
		char	   *err = NULL;
		char	   *attrs[4];
		List	   *found[3] = {NIL, NIL, NIL};

		for (int i = 0; i < 3; i++)
			attrs[i] = (char *) crl_attrs[i];
		attrs[3] = NULL;
		ld = dir_search(d, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, &ca_bound, res, &rc, &err);
		if (err != NULL)
		{
			if (rc == MS_LDAP_TOO_LARGE)
				err = too_large_text(&ca_bound);
			*errs = lappend(*errs, psprintf("directory \"%s\": %s", d->name, err));
			ms_scope_release(sc);
			continue;
		}
		e = (rc != LDAP_NO_SUCH_OBJECT && res->n > 0) ? ldap_first_entry(ld, res->entries[0]) : NULL;
		for (int i = 0; e != NULL && i < 3; i++)
			found[i] = entry_values(ld, e, crl_attrs[i], MS_FETCH_MAX_CRL, 4);
		ms_scope_release(sc);
		for (int i = 0; i < 3; i++)
		{
			ListCell   *vc;

			foreach(vc, found[i])
			{
				*crls = lappend(*crls, lfirst(vc));
				*urls = lappend(*urls, entry_url(d->url, dn, crl_attrs[i]));
			}
		}
	}
}
