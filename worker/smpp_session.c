/*-------------------------------------------------------------------------
 *
 * smpp_session.c
 *	  SMPP 3.4 ESME transceiver link over libsmpp34 (see smpp_session.h).
 *
 * Everything received is cut and decoded by the codec's bounded decoder
 * (codec/smpp.h): framing (16 <= length <= MSC_SMPP_MAX_PDU), the
 * header and every body; nothing from the wire reaches libsmpp34, which only
 * packs what we send.  Header-only PDUs (enquire_link, unbind, generic_nack
 * and their answers) are written here, so that sequence number 0 or vendor
 * status codes, which libsmpp34 refuses, never stop the session.  A refused
 * request is answered with its response and the status SMPP 3.4 gives the
 * faulty field; a refused response is not answered.  Either is logged at
 * most once per MS_MALFORMED_LOG_MS per link, and MS_MALFORMED_LIMIT
 * refusals in a row close the session (reconnect after the link's delay).
 * What is stored is checked first: a deliver_sm's source_addr must be an
 * MSISDN, a message id is kept in its text form (msc_smpp_id_text).
 *
 * Bytes go through the link's transport (smpp_transport.h): clear TCP, or
 * TLS once the handshake (state tls handshake, bounded by the link's connect
 * timeout) has verified the SMSC; the bind and its password are sent only
 * after that.  A TLS link's context is built at each connection attempt
 * and freed when the session ends, so the CA, certificate and key files in
 * force are those on disk at that attempt (a corrected file is read, a CA
 * removed from the file is no longer trusted).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bgworker.h"
#include "smpp_session.h"
#include "smpp.h"
#include "sms.h"

#define MS_OUTBUF_MAX (1024 * 1024)
#define MS_MAX_THROTTLED 50		/* throttle answers per segment before giving up */
#define MS_UNBIND_TIMEOUT_MS 2000
#define MS_MAX_BACKOFF_MS 120000
#define MS_READ_TURNS 64		/* socket reads per readiness event */
#define MS_MALFORMED_LIMIT 50		/* refused PDUs in a row that close the session */
#define MS_MALFORMED_LOG_MS 10000	/* at most one log line per link this often */

typedef struct MsSlot
{
	bool		used;
	uint32		seq;
	MsJob	   *job;
	int			idx;
	int			throttled;
	TimestampTz deadline;
} MsSlot;

typedef struct MsPendingSeg
{
	MsJob	   *job;
	int			idx;
	int			throttled;
} MsPendingSeg;

struct MsLink
{
	MsSmscConfig orig;			/* the row as read (to notice changes) */
	MsSmscConfig cfg;			/* the same, clamped to workable values */
	int			index;
	MemoryContext cxt;
	MsLinkState state;
	pgsocket	sock;
	MsTransport *io;			/* the bytes of the open socket */
	MsTlsContext *tls;			/* cfg.tls: built at each connect */
	bool		socket_changed;
	uint64		generation;
	int			failures;		/* consecutive failed sessions, for back-off */
	bool		ever_connected;
	TimestampTz next_connect_at;
	TimestampTz state_deadline;
	uint32		next_seq;
	uint32		bind_seq;
	uint32		unbind_seq;
	uint32		enquire_seq;
	TimestampTz enquire_deadline;
	TimestampTz last_activity;
	TimestampTz pause_until;
	double		tokens;
	TimestampTz tokens_at;
	int			malformed_run;	/* refused PDUs since the last good one */
	int			malformed_unlogged; /* refused since the last log line */
	TimestampTz malformed_logged_at;

	uint8	   *inbuf;
	int			inlen;
	uint8	   *outbuf;
	int			outlen;
	int			outcap;

	List	   *pending;		/* MsPendingSeg *, in send order */
	MsSlot	   *slots;
	int			nslots;
	int			inflight;
};

static void link_disconnect(MsLink *link, const char *reason, TimestampTz now, bool error);
static void link_connected(MsLink *link, TimestampTz now);

/* ---- small helpers ------------------------------------------------------ */

static inline uint32
get_be32(const uint8 *p)
{
	return ((uint32) p[0] << 24) | ((uint32) p[1] << 16) | ((uint32) p[2] << 8) | (uint32) p[3];
}

static inline void
put_be32(uint8 *p, uint32 v)
{
	p[0] = (uint8) (v >> 24);
	p[1] = (uint8) (v >> 16);
	p[2] = (uint8) (v >> 8);
	p[3] = (uint8) v;
}

static TimestampTz
after_ms(TimestampTz t, long ms)
{
	return TimestampTzPlusMilliseconds(t, ms);
}

const char *
ms_smpp_status_text(uint32 status)
{
	switch (status)
	{
		case ESME_ROK:
			return "ESME_ROK";
		case ESME_RINVMSGLEN:
			return "ESME_RINVMSGLEN";
		case ESME_RINVCMDLEN:
			return "ESME_RINVCMDLEN";
		case ESME_RINVCMDID:
			return "ESME_RINVCMDID";
		case ESME_RINVBNDSTS:
			return "ESME_RINVBNDSTS";
		case ESME_RALYBND:
			return "ESME_RALYBND";
		case ESME_RSYSERR:
			return "ESME_RSYSERR";
		case ESME_RINVSRCADR:
			return "ESME_RINVSRCADR";
		case ESME_RINVDSTADR:
			return "ESME_RINVDSTADR";
		case ESME_RBINDFAIL:
			return "ESME_RBINDFAIL";
		case ESME_RINVPASWD:
			return "ESME_RINVPASWD";
		case ESME_RINVSYSID:
			return "ESME_RINVSYSID";
		case ESME_RMSGQFUL:
			return "ESME_RMSGQFUL";
		case ESME_RINVESMCLASS:
			return "ESME_RINVESMCLASS";
		case ESME_RSUBMITFAIL:
			return "ESME_RSUBMITFAIL";
		case ESME_RTHROTTLED:
			return "ESME_RTHROTTLED";
		case ESME_RX_T_APPN:
			return "ESME_RX_T_APPN";
		case ESME_RX_P_APPN:
			return "ESME_RX_P_APPN";
		case ESME_RX_R_APPN:
			return "ESME_RX_R_APPN";
		case ESME_RUNKNOWNERR:
			return "ESME_RUNKNOWNERR";
		default:
			return "status";
	}
}

/* temporary failures: the same request may succeed later (as Kannel) */
static bool
status_is_temporary(uint32 status)
{
	return status == ESME_RSYSERR || status == ESME_RMSGQFUL ||
		status == ESME_RTHROTTLED || status == ESME_RX_T_APPN;
}

static uint32
link_next_seq(MsLink *link)
{
	uint32		s = link->next_seq;

	link->next_seq = (s >= 0x7FFFFFFF) ? 1 : s + 1;
	return s;
}

/* ---- output ------------------------------------------------------------- */

static void
link_flush(MsLink *link, TimestampTz now)
{
	int			guard;

	/* nothing goes out before the connection (and TLS) is up */
	if (link->io == NULL || link->state == MS_LINK_TLS_HANDSHAKE)
		return;
	for (guard = 0; guard < 64 && link->outlen > 0; guard++)
	{
		int			n;
		char		err[MS_TRANSPORT_ERRLEN];
		MsIoResult	r = ms_transport_write(link->io, link->outbuf, link->outlen, &n, err);

		if (r == MS_IO_DONE)
		{
			if (n < link->outlen)
				memmove(link->outbuf, link->outbuf + n, link->outlen - n);
			link->outlen -= n;
			continue;
		}
		if (r == MS_IO_WANT_READ || r == MS_IO_WANT_WRITE)
			return;
		link_disconnect(link, r == MS_IO_CLOSED ? "connection closed on send" : err, now, true);
		return;
	}
}

/* append one PDU; false if the link is not connected or overflows */
static bool
link_append(MsLink *link, const uint8 *pdu, int len, TimestampTz now)
{
	if (link->sock == PGINVALID_SOCKET)
		return false;
	if (link->outlen + len > MS_OUTBUF_MAX)
	{
		link_disconnect(link, "output buffer overflow", now, true);
		return false;
	}
	if (link->outlen + len > link->outcap)
	{
		int			newcap = Max(link->outcap * 2, link->outlen + len);

		link->outbuf = repalloc(link->outbuf, newcap);
		link->outcap = newcap;
	}
	memcpy(link->outbuf + link->outlen, pdu, len);
	link->outlen += len;
	link_flush(link, now);
	return link->sock != PGINVALID_SOCKET;
}

/* header-only PDU, written by hand (sequence 0 and any status allowed) */
static bool
link_send_header(MsLink *link, uint32 command_id, uint32 status, uint32 seq, TimestampTz now)
{
	uint8		pdu[MS_SMPP_HEADER_LEN];

	put_be32(pdu, MS_SMPP_HEADER_LEN);
	put_be32(pdu + 4, command_id);
	put_be32(pdu + 8, status);
	put_be32(pdu + 12, seq);
	return link_append(link, pdu, sizeof(pdu), now);
}

static bool
link_send_packed(MsLink *link, uint32 command_id, void *pdu_struct, TimestampTz now)
{
	uint8		buf[2048];
	int			len = 0;

	if (smpp34_pack(command_id, buf, sizeof(buf), &len, pdu_struct) != 0 ||
		len < MS_SMPP_HEADER_LEN || len > (int) sizeof(buf))
	{
		ereport(WARNING,
				(errmsg("mobisign worker: could not encode SMPP command 0x%08x for SMSC \"%s\"",
						command_id, link->cfg.name)));
		ms_worker_set_error("could not encode an SMPP PDU");
		return false;
	}
	return link_append(link, buf, len, now);
}

/* ---- jobs ---------------------------------------------------------------- */

static void
job_fail(MsJob *job, MsJobStatus status, const char *reason)
{
	if (job->status != MS_JOB_SENDING)
		return;
	job->status = status;
	strlcpy(job->reason, reason, sizeof(job->reason));
}

/* drop the queued (not yet sent) segments of a job that stopped sending */
static void
link_drop_pending_of(MsLink *link, MsJob *job)
{
	ListCell   *lc;

	foreach(lc, link->pending)
	{
		MsPendingSeg *p = (MsPendingSeg *) lfirst(lc);

		if (p->job == job)
		{
			job->outstanding--;
			link->pending = foreach_delete_current(link->pending, lc);
			pfree(p);
		}
	}
}

void
ms_smpp_enqueue_job(MsLink *link, MsJob *job)
{
	MemoryContext old = MemoryContextSwitchTo(link->cxt);
	int			i;

	job->link_index = link->index;
	for (i = 0; i < job->nsegs; i++)
	{
		MsPendingSeg *p = palloc0(sizeof(MsPendingSeg));

		p->job = job;
		p->idx = i;
		link->pending = lappend(link->pending, p);
		job->outstanding++;
	}
	MemoryContextSwitchTo(old);
}

static MsSlot *
slot_find(MsLink *link, uint32 seq)
{
	int			i;

	for (i = 0; i < link->nslots; i++)
		if (link->slots[i].used && link->slots[i].seq == seq)
			return &link->slots[i];
	return NULL;
}

static MsSlot *
slot_free(MsLink *link)
{
	int			i;

	for (i = 0; i < link->nslots; i++)
		if (!link->slots[i].used)
			return &link->slots[i];
	return NULL;
}

static void
slot_release(MsLink *link, MsSlot *slot)
{
	slot->used = false;
	slot->job = NULL;
	link->inflight--;
}

/* ---- connection ---------------------------------------------------------- */

static long
link_backoff_ms(MsLink *link)
{
	long		d = Max(link->cfg.reconnect_ms, 100);
	int			i;

	for (i = 1; i < link->failures && d < MS_MAX_BACKOFF_MS; i++)
		d *= 2;
	return Min(d, MS_MAX_BACKOFF_MS);
}

static void
link_close_socket(MsLink *link)
{
	ms_transport_close(link->io);
	link->io = NULL;
	if (link->sock != PGINVALID_SOCKET)
	{
		close(link->sock);
		link->sock = PGINVALID_SOCKET;
		link->socket_changed = true;
	}
	link->inlen = 0;
	link->outlen = 0;
}

/*
 * Close the session.  Everything queued or in flight on it is handed back as
 * a temporary failure: the loop reschedules those requests in the database.
 */
static void
link_disconnect(MsLink *link, const char *reason, TimestampTz now, bool error)
{
	ListCell   *lc;
	int			i;
	char		msg[MS_TRANSPORT_ERRLEN + 100];

	if (link->state == MS_LINK_DISCONNECTED && link->sock == PGINVALID_SOCKET &&
		link->inflight == 0 && link->pending == NIL)
		return;

	snprintf(msg, sizeof(msg), "SMSC \"%s\": %s", link->cfg.name, reason);
	if (error)
	{
		ereport(LOG, (errmsg("mobisign worker: %s; reconnecting", msg)));
		ms_worker_set_error(msg);
		link->failures++;
	}
	else
		ereport(LOG, (errmsg("mobisign worker: %s", msg)));

	for (i = 0; i < link->nslots; i++)
	{
		MsSlot	   *s = &link->slots[i];

		if (!s->used)
			continue;
		s->job->outstanding--;
		job_fail(s->job, MS_JOB_TEMPFAIL, msg);
		slot_release(link, s);
	}
	foreach(lc, link->pending)
	{
		MsPendingSeg *p = (MsPendingSeg *) lfirst(lc);

		p->job->outstanding--;
		job_fail(p->job, MS_JOB_TEMPFAIL, msg);
		pfree(p);
	}
	list_free(link->pending);
	link->pending = NIL;
	link->inflight = 0;

	link_close_socket(link);

	/*
	 * Every connection attempt reads the TLS files again, however the last
	 * session ended: a CA removed from tls_ca_file (or the file removed) is
	 * no longer trusted at the next connection.
	 */
	ms_tls_context_free(link->tls);
	link->tls = NULL;
	link->state = MS_LINK_DISCONNECTED;
	link->generation++;
	link->bind_seq = link->unbind_seq = link->enquire_seq = 0;
	link->next_connect_at = after_ms(now, error ? link_backoff_ms(link) : Max(link->cfg.reconnect_ms, 100));
}

static void
link_send_bind(MsLink *link, TimestampTz now)
{
	bind_transceiver_t b;

	memset(&b, 0, sizeof(b));
	b.command_id = BIND_TRANSCEIVER;
	b.command_status = ESME_ROK;
	b.sequence_number = link->bind_seq = link_next_seq(link);
	strlcpy((char *) b.system_id, link->cfg.system_id, sizeof(b.system_id));
	strlcpy((char *) b.password, link->cfg.password, sizeof(b.password));
	strlcpy((char *) b.system_type, link->cfg.system_type, sizeof(b.system_type));
	b.interface_version = SMPP_VERSION;
	b.addr_ton = 0;
	b.addr_npi = 0;
	b.address_range[0] = '\0';
	link->state = MS_LINK_BINDING;
	link->state_deadline = after_ms(now, link->cfg.response_timeout_ms);
	if (!link_send_packed(link, BIND_TRANSCEIVER, &b, now))
	{
		explicit_bzero(&b, sizeof(b));
		if (link->sock != PGINVALID_SOCKET)
			link_disconnect(link, "could not send bind_transceiver", now, true);
		return;
	}
	explicit_bzero(&b, sizeof(b));
}

static void
link_start_connect(MsLink *link, TimestampTz now)
{
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	char		port[16];
	int			rc;
	pgsocket	s;
	int			one = 1;

	if (link->ever_connected)
		ms_worker_count(MS_C_RECONNECTS, 1);
	link->ever_connected = true;

	if (link->cfg.tls && link->tls == NULL)
	{
		char		err[MS_TRANSPORT_ERRLEN];
		char		msg[MS_TRANSPORT_ERRLEN + 32];

		link->tls = ms_tls_context_create(&link->cfg.tls_files, link->cfg.host, link->cxt, err);
		if (link->tls == NULL)
		{
			snprintf(msg, sizeof(msg), "TLS setup failed: %s", err);
			link->state = MS_LINK_CONNECTING;	/* so that disconnect logs it */
			link_disconnect(link, msg, now, true);
			return;
		}
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	snprintf(port, sizeof(port), "%d", link->cfg.port);
	rc = getaddrinfo(link->cfg.host, port, &hints, &res);
	if (rc != 0)
	{
		/* a host name: one resolver call (the only call that may wait) */
		hints.ai_flags = AI_NUMERICSERV;
		rc = getaddrinfo(link->cfg.host, port, &hints, &res);
	}
	if (rc != 0 || res == NULL)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "cannot resolve host \"%s\": %s", link->cfg.host, gai_strerror(rc));
		link->state = MS_LINK_CONNECTING;	/* so that disconnect logs it */
		link_disconnect(link, msg, now, true);
		return;
	}

	s = socket(res->ai_family, SOCK_STREAM, 0);
	if (s == PGINVALID_SOCKET)
	{
		freeaddrinfo(res);
		link->state = MS_LINK_CONNECTING;
		link_disconnect(link, strerror(errno), now, true);
		return;
	}
	if (fcntl(s, F_SETFL, O_NONBLOCK) < 0)
	{
		close(s);
		freeaddrinfo(res);
		link->state = MS_LINK_CONNECTING;
		link_disconnect(link, "cannot make socket non-blocking", now, true);
		return;
	}
	(void) fcntl(s, F_SETFD, FD_CLOEXEC);
	(void) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void) setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));

	link->sock = s;
	link->socket_changed = true;
	link->state = MS_LINK_CONNECTING;
	link->state_deadline = after_ms(now, link->cfg.connect_timeout_ms);
	link->inlen = link->outlen = 0;

	rc = connect(s, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc == 0)
		link_connected(link, now);
	else if (errno != EINPROGRESS && errno != EINTR)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "cannot connect to %s:%d: %s",
				 link->cfg.host, link->cfg.port, strerror(errno));
		link_disconnect(link, msg, now, true);
	}
}

/* advance the TLS handshake; once the SMSC is verified, bind */
static void
link_handshake(MsLink *link, TimestampTz now)
{
	char		err[MS_TRANSPORT_ERRLEN];
	char		msg[MS_TRANSPORT_ERRLEN + 32];
	char		desc[400];
	MsIoResult	r = ms_transport_handshake(link->io, err);

	if (r == MS_IO_WANT_READ || r == MS_IO_WANT_WRITE)
		return;
	if (r != MS_IO_DONE)
	{
		snprintf(msg, sizeof(msg), "TLS handshake failed: %s", err);
		link_disconnect(link, msg, now, true);
		return;
	}
	ms_transport_describe(link->io, desc, sizeof(desc));
	ereport(LOG,
			(errmsg("mobisign worker: SMSC \"%s\": TLS established: %s", link->cfg.name, desc)));
	link_send_bind(link, now);
}

/* the TCP connection is up: a clear link binds, a TLS link shakes hands */
static void
link_connected(MsLink *link, TimestampTz now)
{
	char		err[MS_TRANSPORT_ERRLEN];
	char		msg[MS_TRANSPORT_ERRLEN + 32];

	/* never a clear transport for a TLS link, whatever happened before */
	if (link->cfg.tls && link->tls == NULL)
	{
		link_disconnect(link, "TLS setup failed: no TLS context for a TLS link", now, true);
		return;
	}
	link->io = ms_transport_open(link->sock, link->cfg.tls ? link->tls : NULL, link->cxt, err);
	if (link->io == NULL)
	{
		snprintf(msg, sizeof(msg), "TLS setup failed: %s", err);
		link_disconnect(link, msg, now, true);
		return;
	}
	if (!link->cfg.tls)
	{
		link_send_bind(link, now);
		return;
	}
	link->state = MS_LINK_TLS_HANDSHAKE;
	link->state_deadline = after_ms(now, link->cfg.connect_timeout_ms);
	link_handshake(link, now);
}

static void
link_connect_done(MsLink *link, TimestampTz now)
{
	int			err = 0;
	socklen_t	len = sizeof(err);

	if (getsockopt(link->sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "cannot connect to %s:%d: %s",
				 link->cfg.host, link->cfg.port, strerror(err));
		link_disconnect(link, msg, now, true);
		return;
	}
	link_connected(link, now);
}

/* ---- inbound PDUs -------------------------------------------------------- */

/*
 * A PDU was refused (malformed, or a value we do not store).  Logged at most
 * once per MS_MALFORMED_LOG_MS per link, with the count of the unlogged
 * ones; MS_MALFORMED_LIMIT in a row close the session as a failure, so the
 * link reconnects after its reconnect delay (with back-off).  The log names
 * the command, the field and the sequence number, never the bytes.
 */
static void
link_refused(MsLink *link, const msc_smpp_header *h, const char *why, bool answered,
			 uint32 status, TimestampTz now)
{
	link->malformed_run++;
	if (link->malformed_logged_at == 0 ||
		now >= after_ms(link->malformed_logged_at, MS_MALFORMED_LOG_MS))
	{
		char		msg[200];

		snprintf(msg, sizeof(msg), "SMSC \"%s\" sent a %s that is refused: %s",
				 link->cfg.name, msc_smpp_command_name(h->command_id), why);
		ereport(LOG,
				(errmsg("mobisign worker: %s (sequence %u, %u bytes)", msg,
						h->sequence_number, h->command_length),
				 answered ? errdetail("It was answered with status 0x%08x.", status) :
				 errdetail("A response is not answered."),
				 link->malformed_unlogged > 0 ?
				 errhint("%d more refused PDUs were not logged in the last %d s.",
						 link->malformed_unlogged, MS_MALFORMED_LOG_MS / 1000) : 0));
		ms_worker_set_error(msg);
		link->malformed_logged_at = now;
		link->malformed_unlogged = 0;
	}
	else
		link->malformed_unlogged++;
	if (link->malformed_run >= MS_MALFORMED_LIMIT)
	{
		char		msg[120];

		snprintf(msg, sizeof(msg), "%d refused PDUs in a row", link->malformed_run);
		link->malformed_run = 0;
		link_disconnect(link, msg, now, true);
	}
}

/* a request was refused: answer it with its response and the status */
static void
link_refuse_request(MsLink *link, const msc_smpp_header *h, uint32 status, const char *why,
					TimestampTz now)
{
	link_send_header(link, h->command_id | MSC_SMPP_RESP_BIT, status, h->sequence_number, now);
	link_refused(link, h, why, true, status, now);
}

static void
handle_submit_resp(MsLink *link, MsSlot *slot, uint32 status, const msc_smpp_str *message_id,
				   TimestampTz now)
{
	MsJob	   *job = slot->job;
	int			idx = slot->idx;
	int			throttled = slot->throttled;
	char		reason[160];

	slot_release(link, slot);

	if (job->status != MS_JOB_SENDING)
	{
		job->outstanding--;
		return;
	}

	if (status == ESME_ROK)
	{
		char		msgid[MSC_SMPP_ID_TEXT_MAX];

		/* stored in its text form: printable ASCII, or hex-encoded */
		msgid[0] = '\0';
		if (message_id != NULL &&
			msc_smpp_id_text(message_id, msgid, sizeof(msgid)) != MSC_OK)
			msgid[0] = '\0';
		job->message_ids[idx] = MemoryContextStrdup(job->cxt, msgid);
		job->acked++;
		job->outstanding--;
		ms_worker_count(MS_C_SUBMITTED, 1);
		if (job->acked == job->nsegs)
			job->status = MS_JOB_OK;
		return;
	}

	if (status == ESME_RTHROTTLED || status == ESME_RMSGQFUL)
	{
		ms_worker_count(MS_C_RETRIED, 1);
		if (throttled + 1 < MS_MAX_THROTTLED)
		{
			MemoryContext old = MemoryContextSwitchTo(link->cxt);
			MsPendingSeg *p = palloc0(sizeof(MsPendingSeg));

			p->job = job;
			p->idx = idx;
			p->throttled = throttled + 1;
			link->pending = lcons(p, link->pending);
			MemoryContextSwitchTo(old);
			/* pause submits (1 s, longer when it goes on) */
			link->pause_until = after_ms(now, Min(1000L * (1 + throttled / 5), 5000L));
			return;
		}
	}

	snprintf(reason, sizeof(reason), "SMSC \"%s\" answered submit_sm with %s (0x%08x)",
			 link->cfg.name, ms_smpp_status_text(status), status);
	job->outstanding--;
	job_fail(job, status_is_temporary(status) ? MS_JOB_TEMPFAIL : MS_JOB_PERMFAIL, reason);
	link_drop_pending_of(link, job);
	if (!status_is_temporary(status))
		ms_worker_set_error(reason);
}

/*
 * A deliver_sm, decoded: a receipt is acknowledged only; anything else is
 * kept for the loop to store, but only from a source_addr that is an
 * MSISDN (else refused with ESME_RINVSRCADR: nothing unchecked is stored).
 */
static void
handle_deliver_sm(MsLink *link, const msc_smpp_pdu *pdu, TimestampTz now, List **inbound)
{
	const msc_smpp_deliver_sm *d = &pdu->u.deliver_sm;
	uint32		seq = pdu->h.sequence_number;
	uint8		cls = d->esm_class & 0x3C;
	bool		receipt = (cls == 0x04 || cls == 0x08 || cls == 0x20);
	MsInbound  *in;
	const uint8 *ud;
	size_t		udlen = 0;

	if (link->state != MS_LINK_BOUND)
	{
		link_send_header(link, DELIVER_SM_RESP, ESME_RINVBNDSTS, seq, now);
		return;
	}
	if (!receipt && msc_smpp_msisdn_check(d->source_addr.s, d->source_addr.len) != MSC_OK)
	{
		link_refuse_request(link, &pdu->h, MSC_SMPP_RINVSRCADR,
							"source_addr is not an MSISDN ('+' and 5 to 15 digits)", now);
		return;
	}
	link->malformed_run = 0;
	ud = msc_smpp_user_data(d, &udlen);

	in = palloc0(sizeof(MsInbound));
	in->link_index = link->index;
	in->smsc_id = link->cfg.id;
	in->generation = link->generation;
	in->seq = seq;
	in->receipt = receipt;
	if (!receipt)
		strlcpy(in->msisdn, d->source_addr.s, sizeof(in->msisdn));
	in->concat_ref = -1;
	in->total = 1;
	in->seqno = 1;
	in->len = (int) udlen;
	in->data = palloc(Max(udlen, 1));
	if (udlen > 0)
		memcpy(in->data, ud, udlen);

	/*
	 * Concatenation info from the user data header, with the codec's parser
	 * (IEI 0x00 or 0x08).  A header it refuses is stored as a single SMS: the
	 * SIM channel rejects it when it reassembles, and the SMSC is answered.
	 */
	if ((d->esm_class & MSC_SMPP_ESM_CLASS_UDHI) && udlen >= 1)
	{
		msc_udh		udh;

		if (msc_udh_parse(ud, udlen, &udh) == MSC_OK &&
			udh.has_concat && udh.concat_total > 1)
		{
			in->concat_ref = udh.concat_ref;
			in->total = udh.concat_total;
			in->seqno = udh.concat_seq;
		}
	}

	*inbound = lappend(*inbound, in);
}

/*
 * One whole frame, as cut by msc_smpp_frame: decoded by the codec, then
 * dispatched.  A refused request is answered; a refused response is
 * logged and acted on by its header alone (a submit_sm_resp then has no
 * message id, a bind_transceiver_resp fails the bind).
 */
static void
handle_frame(MsLink *link, const uint8 *frame, int len, TimestampTz now, List **inbound)
{
	msc_smpp_pdu pdu;
	msc_rc		rc = msc_smpp_decode(frame, (size_t) len, &pdu);
	uint32		command_id = pdu.h.command_id;
	uint32		status = pdu.h.command_status;
	uint32		seq = pdu.h.sequence_number;
	MsSlot	   *slot;

	link->last_activity = now;

	if (rc != MSC_OK)
	{
		char		why[120];

		snprintf(why, sizeof(why), "%s (%s)", msc_smpp_field_name(pdu.fault.field), msc_rc_name(rc));
		if ((command_id & MSC_SMPP_RESP_BIT) == 0)
		{
			link_refuse_request(link, &pdu.h, msc_smpp_fault_status(&pdu.fault), why, now);
			return;
		}
		link_refused(link, &pdu.h, why, false, 0, now);
		if (link->sock == PGINVALID_SOCKET)
			return;
		if (command_id == MSC_SMPP_BIND_TRANSCEIVER_RESP && link->state == MS_LINK_BINDING &&
			seq == link->bind_seq)
		{
			link_disconnect(link, "malformed bind_transceiver_resp", now, true);
			return;
		}
	}
	else if (command_id != MSC_SMPP_DELIVER_SM)
		link->malformed_run = 0;	/* deliver_sm: once its address is checked */

	switch (command_id)
	{
		case MSC_SMPP_BIND_TRANSCEIVER_RESP:
			if (link->state != MS_LINK_BINDING || seq != link->bind_seq)
				break;
			if (status == ESME_ROK)
			{
				link->state = MS_LINK_BOUND;
				link->failures = 0;
				link->bind_seq = 0;
				link->tokens = 1;
				link->tokens_at = now;
				link->pause_until = 0;
				link->malformed_run = 0;
				ereport(LOG,
						(errmsg("mobisign worker: bound to SMSC \"%s\" at %s:%d as \"%s\"",
								link->cfg.name, link->cfg.host, link->cfg.port, link->cfg.system_id)));
			}
			else
			{
				char		msg[160];

				snprintf(msg, sizeof(msg), "bind_transceiver refused with %s (0x%08x)",
						 ms_smpp_status_text(status), status);
				link_disconnect(link, msg, now, true);
			}
			break;

		case MSC_SMPP_SUBMIT_SM_RESP:
			slot = slot_find(link, seq);
			if (slot == NULL)
			{
				ereport(DEBUG1, (errmsg("mobisign worker: unexpected submit_sm_resp sequence %u", seq)));
				break;
			}
			handle_submit_resp(link, slot, status, &pdu.u.submit_resp.message_id, now);
			break;

		case MSC_SMPP_GENERIC_NACK:
			if (link->state == MS_LINK_BINDING && seq == link->bind_seq)
			{
				link_disconnect(link, "bind_transceiver answered with generic_nack", now, true);
				break;
			}
			slot = slot_find(link, seq);
			if (slot != NULL)
			{
				/* throttling answers keep their meaning; others retry later */
				if (status != ESME_RTHROTTLED && status != ESME_RMSGQFUL)
					status = ESME_RSYSERR;
				handle_submit_resp(link, slot, status, NULL, now);
			}
			else
				ereport(LOG,
						(errmsg("mobisign worker: SMSC \"%s\" sent generic_nack %s (0x%08x) for sequence %u",
								link->cfg.name, ms_smpp_status_text(status), status, seq)));
			break;

		case MSC_SMPP_DELIVER_SM:
			handle_deliver_sm(link, &pdu, now, inbound);
			break;

		case MSC_SMPP_ENQUIRE_LINK:
			link_send_header(link, ENQUIRE_LINK_RESP, ESME_ROK, seq, now);
			break;

		case MSC_SMPP_ENQUIRE_LINK_RESP:
			if (seq == link->enquire_seq)
				link->enquire_seq = 0;
			break;

		case MSC_SMPP_UNBIND:
			link_send_header(link, UNBIND_RESP, ESME_ROK, seq, now);
			link_flush(link, now);
			link_disconnect(link, "the SMSC unbound", now, false);
			break;

		case MSC_SMPP_UNBIND_RESP:
			if (link->state == MS_LINK_UNBINDING)
				link_disconnect(link, "unbound", now, false);
			break;

		default:
			if ((command_id & MSC_SMPP_RESP_BIT) == 0)
			{
				/* a request we do not serve (data_sm, alert_notification...) */
				ereport(LOG,
						(errmsg("mobisign worker: SMSC \"%s\" sent unsupported command 0x%08x; answered generic_nack",
								link->cfg.name, command_id)));
				link_send_header(link, GENERIC_NACK, ESME_RINVCMDID, seq, now);
			}
			else
				ereport(DEBUG1,
						(errmsg("mobisign worker: ignoring response 0x%08x sequence %u", command_id, seq)));
			break;
	}
}

static void
link_read(MsLink *link, TimestampTz now, List **inbound)
{
	int			guard;

	/*
	 * At most MS_READ_TURNS reads per event, then only while TLS holds
	 * decrypted bytes (no readiness would announce them).  Those are the rest
	 * of one TLS record (16 kB at most) and each read takes at least one
	 * byte, so the second bound is never what ends the loop.
	 */
	for (guard = 0; link->sock != PGINVALID_SOCKET &&
		 (guard < MS_READ_TURNS || ms_transport_pending(link->io)) &&
		 guard < MS_READ_TURNS + MS_SMPP_MAX_PDU; guard++)
	{
		int			n;
		int			off;
		char		err[MS_TRANSPORT_ERRLEN];
		MsIoResult	r;

		r = ms_transport_read(link->io, link->inbuf + link->inlen,
							  MS_SMPP_MAX_PDU + 1 - link->inlen, &n, err);
		if (r == MS_IO_CLOSED)
		{
			link_disconnect(link, "connection closed by the SMSC",
							now, link->state != MS_LINK_UNBINDING);
			return;
		}
		if (r == MS_IO_WANT_READ || r == MS_IO_WANT_WRITE)
			return;
		if (r == MS_IO_FAILED)
		{
			link_disconnect(link, err, now, true);
			return;
		}
		link->inlen += n;

		/* cut complete frames */
		off = 0;
		while (link->sock != PGINVALID_SOCKET && link->inlen - off >= 4)
		{
			size_t		flen = 0;

			if (msc_smpp_frame(link->inbuf + off, link->inlen - off, MS_SMPP_MAX_PDU, &flen) != MSC_OK)
			{
				char		msg[120];

				snprintf(msg, sizeof(msg), "invalid PDU length %u from the SMSC", get_be32(link->inbuf + off));
				/* framing is lost: tell the peer, then start over */
				link_send_header(link, GENERIC_NACK, ESME_RINVCMDLEN, 0, now);
				link_disconnect(link, msg, now, true);
				return;
			}
			if (flen == 0)
				break;
			{
				/* a copy: handling the frame may reset the input buffer */
				uint8		frame[MS_SMPP_MAX_PDU + 1];

				memcpy(frame, link->inbuf + off, flen);
				frame[flen] = '\0';
				off += flen;
				handle_frame(link, frame, (int) flen, now, inbound);
			}
		}
		if (link->sock == PGINVALID_SOCKET)
			return;
		if (off > 0)
		{
			memmove(link->inbuf, link->inbuf + off, link->inlen - off);
			link->inlen -= off;
		}
	}
}

/* ---- sending submit_sm --------------------------------------------------- */

static bool
link_send_submit(MsLink *link, MsJob *job, int idx, int throttled, TimestampTz now)
{
	submit_sm_t s;
	MsSlot	   *slot = slot_free(link);
	const char *dest = job->msisdn;
	bool		ok;

	if (slot == NULL)
		return false;

	memset(&s, 0, sizeof(s));
	s.command_id = SUBMIT_SM;
	s.command_status = ESME_ROK;
	s.sequence_number = link_next_seq(link);
	if (link->cfg.source_addr[0] != '\0')
	{
		const char *src = link->cfg.source_addr;
		bool		digits = true;
		const char *c;

		if (*src == '+')
			src++;
		for (c = src; *c; c++)
			if (*c < '0' || *c > '9')
				digits = false;
		s.source_addr_ton = digits ? TON_International : TON_Alphanumeric;
		s.source_addr_npi = digits ? NPI_ISDN_E163_E164 : NPI_Unknown;
		strlcpy((char *) s.source_addr, digits ? src : link->cfg.source_addr, sizeof(s.source_addr));
	}
	if (*dest == '+')
	{
		dest++;
		s.dest_addr_ton = TON_International;
	}
	else
		s.dest_addr_ton = TON_Unknown;
	s.dest_addr_npi = NPI_ISDN_E163_E164;
	strlcpy((char *) s.destination_addr, dest, sizeof(s.destination_addr));
	s.esm_class = MSC_SMPP_ESM_CLASS_UDHI;	/* 0x40: user data carries a header */
	s.protocol_id = MSC_SMPP_PROTOCOL_ID;	/* 0x7F: SIM data download */
	s.priority_flag = 0;
	s.registered_delivery = 0;
	s.data_coding = MSC_SMPP_DATA_CODING;	/* 0xF6: 8-bit, class 2 */

	if (job->seglen[idx] <= 253)
	{
		s.sm_length = (uint8) job->seglen[idx];
		memcpy(s.short_message, job->seg[idx], job->seglen[idx]);
	}
	else if (job->seglen[idx] <= MAX_TLV_SIZE)
	{
		tlv_t		t;

		memset(&t, 0, sizeof(t));
		t.tag = TLVID_message_payload;
		t.length = (uint16) job->seglen[idx];
		memcpy(t.value.octet, job->seg[idx], job->seglen[idx]);
		build_tlv(&s.tlv, &t);
	}
	else
	{
		job->outstanding--;
		job_fail(job, MS_JOB_PERMFAIL, "segment longer than 1024 bytes");
		link_drop_pending_of(link, job);
		return true;
	}

	ok = link_send_packed(link, SUBMIT_SM, &s, now);
	destroy_tlv(s.tlv);
	if (!ok)
	{
		if (link->sock != PGINVALID_SOCKET)
		{
			job->outstanding--;
			job_fail(job, MS_JOB_PERMFAIL, "submit_sm could not be encoded");
			link_drop_pending_of(link, job);
		}
		else
		{
			/* the link dropped while sending: the segment is no longer ours */
			job->outstanding--;
			job_fail(job, MS_JOB_TEMPFAIL, "connection lost while sending");
		}
		return true;
	}

	slot->used = true;
	slot->seq = s.sequence_number;
	slot->job = job;
	slot->idx = idx;
	slot->throttled = throttled;
	slot->deadline = after_ms(now, link->cfg.response_timeout_ms);
	link->inflight++;
	return true;
}

static void
link_refill_tokens(MsLink *link, TimestampTz now)
{
	double		burst = Max(1, Min(link->cfg.max_per_second, link->cfg.window_size));
	long		secs;
	int			usecs;

	if (now > link->tokens_at)
	{
		TimestampDifference(link->tokens_at, now, &secs, &usecs);
		link->tokens += (secs + usecs / 1e6) * link->cfg.max_per_second;
		if (link->tokens > burst)
			link->tokens = burst;
	}
	link->tokens_at = now;
}

static void
link_send_pending(MsLink *link, TimestampTz now)
{
	int			guard;

	link_refill_tokens(link, now);
	for (guard = 0; guard < 10000 && link->pending != NIL; guard++)
	{
		MsPendingSeg *p;

		if (link->state != MS_LINK_BOUND || link->inflight >= link->nslots ||
			now < link->pause_until || link->tokens < 1.0)
			return;
		p = (MsPendingSeg *) linitial(link->pending);
		link->pending = list_delete_first(link->pending);
		link->tokens -= 1.0;
		if (p->job->status != MS_JOB_SENDING)
		{
			p->job->outstanding--;
			pfree(p);
			continue;
		}
		link_send_submit(link, p->job, p->idx, p->throttled, now);
		pfree(p);
	}
}

/* ---- public -------------------------------------------------------------- */

MsLink *
ms_smpp_link_create(const MsSmscConfig *cfg, int index, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "mobisign SMPP link", ALLOCSET_DEFAULT_SIZES);
	MsLink	   *link = MemoryContextAllocZero(cxt, sizeof(MsLink));

	link->cxt = cxt;
	link->orig = *cfg;
	link->cfg = *cfg;
	link->cfg.window_size = Max(1, cfg->window_size);
	link->cfg.max_per_second = Max(1, cfg->max_per_second);
	link->cfg.response_timeout_ms = Max(100, cfg->response_timeout_ms);
	link->cfg.enquire_link_ms = Max(100, cfg->enquire_link_ms);
	link->cfg.reconnect_ms = Max(100, cfg->reconnect_ms);
	link->cfg.connect_timeout_ms = Max(100, cfg->connect_timeout_ms);
	link->index = index;
	link->state = MS_LINK_DISCONNECTED;
	link->sock = PGINVALID_SOCKET;
	link->next_seq = 1;
	link->next_connect_at = 0;
	link->inbuf = MemoryContextAlloc(cxt, MS_SMPP_MAX_PDU + 1);
	link->outcap = 4096;
	link->outbuf = MemoryContextAlloc(cxt, link->outcap);
	link->nslots = link->cfg.window_size;
	link->slots = MemoryContextAllocZero(cxt, sizeof(MsSlot) * link->nslots);
	return link;
}

void
ms_smpp_link_destroy(MsLink *link, const char *reason)
{
	TimestampTz now = GetCurrentTimestamp();

	link_disconnect(link, reason, now, false);
	link_close_socket(link);
	explicit_bzero(link->cfg.password, sizeof(link->cfg.password));
	explicit_bzero(link->orig.password, sizeof(link->orig.password));
	MemoryContextDelete(link->cxt);
}

const MsSmscConfig *
ms_smpp_config(MsLink *link)
{
	return &link->orig;
}

void
ms_smpp_set_index(MsLink *link, int index)
{
	link->index = index;
}

MsLinkState
ms_smpp_state(MsLink *link)
{
	return link->state;
}

pgsocket
ms_smpp_wait_socket(MsLink *link)
{
	return link->sock;
}

int
ms_smpp_wait_events(MsLink *link)
{
	if (link->sock == PGINVALID_SOCKET)
		return 0;
	if (link->state == MS_LINK_CONNECTING)
		return WL_SOCKET_WRITEABLE;
	if (link->state == MS_LINK_TLS_HANDSHAKE)
		return ms_transport_wait_events(link->io);
	return WL_SOCKET_READABLE | (link->outlen > 0 ? WL_SOCKET_WRITEABLE : 0) |
		ms_transport_wait_events(link->io);
}

bool
ms_smpp_socket_changed(MsLink *link)
{
	bool		c = link->socket_changed;

	link->socket_changed = false;
	return c;
}

void
ms_smpp_on_socket(MsLink *link, int events, TimestampTz now, List **inbound)
{
	if (link->sock == PGINVALID_SOCKET)
		return;
	if (link->state == MS_LINK_CONNECTING)
	{
		if (events & (WL_SOCKET_WRITEABLE | WL_SOCKET_READABLE))
			link_connect_done(link, now);
		return;
	}
	if (link->state == MS_LINK_TLS_HANDSHAKE)
	{
		link_handshake(link, now);
		return;
	}
	if ((events & WL_SOCKET_READABLE) || ms_transport_read_needs_write(link->io))
		link_read(link, now, inbound);
	if (link->sock != PGINVALID_SOCKET && link->outlen > 0)
		link_flush(link, now);
	if (link->state == MS_LINK_BOUND)
		link_send_pending(link, now);
}

/*
 * What a state that waits for the peer (connecting, TLS handshake, binding,
 * unbinding) says when its deadline passes; buf holds a message made here.
 */
static const char *
wait_timed_out(const MsLink *link, char *buf, size_t len)
{
	switch (link->state)
	{
		case MS_LINK_CONNECTING:
			return "connect timed out";
		case MS_LINK_TLS_HANDSHAKE:
			snprintf(buf, len, "TLS handshake timed out after %d ms",
					 link->cfg.connect_timeout_ms);
			return buf;
		case MS_LINK_BINDING:
			return "no bind_transceiver_resp in time";
		default:
			return "no unbind_resp in time";
	}
}

void
ms_smpp_tick(MsLink *link, TimestampTz now)
{
	int			i;

	switch (link->state)
	{
		case MS_LINK_DISCONNECTED:
			if (now >= link->next_connect_at)
				link_start_connect(link, now);
			break;
		case MS_LINK_CONNECTING:
		case MS_LINK_TLS_HANDSHAKE:
		case MS_LINK_BINDING:
		case MS_LINK_UNBINDING:
			if (now >= link->state_deadline)
			{
				char		msg[80];

				/* an unbind that gets no answer is still the end we asked for */
				link_disconnect(link, wait_timed_out(link, msg, sizeof(msg)), now,
								link->state != MS_LINK_UNBINDING);
			}
			break;
		case MS_LINK_BOUND:
			for (i = 0; i < link->nslots; i++)
			{
				if (link->slots[i].used && now >= link->slots[i].deadline)
				{
					char		msg[120];

					snprintf(msg, sizeof(msg), "no submit_sm_resp within %d ms (sequence %u)",
							 link->cfg.response_timeout_ms, link->slots[i].seq);
					link_disconnect(link, msg, now, true);
					return;
				}
			}
			if (link->enquire_seq != 0)
			{
				if (now >= link->enquire_deadline)
				{
					link_disconnect(link, "enquire_link unanswered", now, true);
					return;
				}
			}
			else if (now >= after_ms(link->last_activity, link->cfg.enquire_link_ms))
			{
				link->enquire_seq = link_next_seq(link);
				link->enquire_deadline = after_ms(now, link->cfg.response_timeout_ms);
				link->last_activity = now;
				if (!link_send_header(link, ENQUIRE_LINK, ESME_ROK, link->enquire_seq, now))
					return;
			}
			link_send_pending(link, now);
			break;
	}
}

long
ms_smpp_next_timeout_ms(MsLink *link, TimestampTz now)
{
	long		t = 60000;
	int			i;

	switch (link->state)
	{
		case MS_LINK_DISCONNECTED:
			t = ms_until(now, link->next_connect_at);
			break;
		case MS_LINK_CONNECTING:
		case MS_LINK_TLS_HANDSHAKE:
		case MS_LINK_BINDING:
		case MS_LINK_UNBINDING:
			t = ms_until(now, link->state_deadline);
			break;
		case MS_LINK_BOUND:
			for (i = 0; i < link->nslots; i++)
				if (link->slots[i].used)
					t = Min(t, ms_until(now, link->slots[i].deadline));
			if (link->enquire_seq != 0)
				t = Min(t, ms_until(now, link->enquire_deadline));
			else
				t = Min(t, ms_until(now, after_ms(link->last_activity, link->cfg.enquire_link_ms)));
			if (link->pending != NIL && link->inflight < link->nslots)
			{
				if (now < link->pause_until)
					t = Min(t, ms_until(now, link->pause_until));
				else if (link->tokens < 1.0)
					t = Min(t, (long) ((1.0 - link->tokens) * 1000.0 / link->cfg.max_per_second) + 1);
				else
					t = 0;
			}
			break;
	}
	return Max(t, 0);
}

int
ms_smpp_free_capacity(MsLink *link)
{
	if (link->state != MS_LINK_BOUND)
		return 0;
	return Max(0, link->nslots - link->inflight - list_length(link->pending));
}

int
ms_smpp_in_flight(MsLink *link)
{
	return link->inflight;
}

void
ms_smpp_ack_deliver(MsLink *link, uint64 generation, uint32 seq, uint32 status)
{
	deliver_sm_resp_t r;
	TimestampTz now = GetCurrentTimestamp();

	/* acknowledging on another session would confirm the wrong PDU */
	if (generation != link->generation || link->sock == PGINVALID_SOCKET)
		return;
	if (status != ESME_ROK || seq == 0)
	{
		link_send_header(link, DELIVER_SM_RESP, status, seq, now);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.command_id = DELIVER_SM_RESP;
	r.command_status = ESME_ROK;
	r.sequence_number = seq;
	r.message_id[0] = '\0';
	link_send_packed(link, DELIVER_SM_RESP, &r, now);
}

void
ms_smpp_unbind(MsLink *link, TimestampTz now)
{
	if (link->state == MS_LINK_BOUND)
	{
		link->unbind_seq = link_next_seq(link);
		link->state = MS_LINK_UNBINDING;
		link->state_deadline = after_ms(now, MS_UNBIND_TIMEOUT_MS);
		link_send_header(link, UNBIND, ESME_ROK, link->unbind_seq, now);
	}
	else if (link->state != MS_LINK_UNBINDING)
		link_disconnect(link, "closed", now, false);
}

bool
ms_smpp_quiet(MsLink *link)
{
	return link->sock == PGINVALID_SOCKET;
}
