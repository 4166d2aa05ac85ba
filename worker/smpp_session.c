/*-------------------------------------------------------------------------
 *
 * smpp_session.c
 *	  SMPP 3.4 ESME link over libsmpp34 (see smpp_session.h): one row of
 *	  mobisign.smsc, opened as cfg.binds transceiver sessions.
 *
 * A session (MsSession, one bind) owns its socket, transport, sequence
 * numbers, window (slots), token bucket, throttling pause, enquire_link,
 * deadlines and back-off; nothing of one session is touched by another.
 * The link (MsLink) owns the configuration and the queue of segments not
 * yet sent; link_dispatch() hands each to the session that may send now
 * with the most free window.  A session that closes fails (temporarily)
 * the jobs it had in flight; the queued segments stay for the other bound
 * sessions and are failed only when none is bound.  Each connection of a
 * session gets a generation unique within the link, so a deliver_sm is
 * acknowledged only on the connection it arrived on.
 *
 * Everything received is cut and decoded by the codec's bounded decoder
 * (codec/smpp.h): framing (16 <= length <= MSC_SMPP_MAX_PDU), the
 * header and every body; nothing from the wire reaches libsmpp34, which only
 * packs what we send.  Header-only PDUs (enquire_link, unbind, generic_nack
 * and their answers) are written here, so that sequence number 0 or vendor
 * status codes, which libsmpp34 refuses, never stop the session.  A refused
 * request is answered with its response and the status SMPP 3.4 gives the
 * faulty field; a refused response is not answered.  Either is logged at
 * most once per MS_MALFORMED_LOG_MS per session, and MS_MALFORMED_LIMIT
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
#define MS_MALFORMED_LOG_MS 10000	/* at most one log line per session this often */

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

/*
 * How a session ended, for the log, worker_stats and the reconnect back-off.
 * A fault or an end by the SMSC counts towards the back-off (an SMSC that
 * binds and then unbinds or closes at once is reconnected less and less
 * often, not every reconnect_delay); one that stayed bound for
 * mobisign.smsc_stable_session starts the back-off over.  Only a fault is an
 * error.
 */
typedef enum MsSessionEnd
{
	MS_END_LOCAL,				/* ours: an unbind we sent, a reload, the worker's exit */
	MS_END_PEER,				/* the SMSC unbound */
	MS_END_FAULT				/* a failure: logged "; reconnecting", last_error */
} MsSessionEnd;

/*
 * One session (one bind) of a link: its own connection, sequence numbers,
 * window (slots), rate limiter, enquire_link and reconnect back-off.
 */
struct MsSession
{
	MsLink	   *link;
	const MsSmscConfig *cfg;	/* the link's (clamped) settings */
	int			number;			/* 1 .. link's binds */
	char		label[96];		/* "name" or "name" bind N, for messages */
	MemoryContext cxt;			/* the link's */
	MsLinkState state;
	pgsocket	sock;
	MsTransport *io;			/* the bytes of the open socket */
	MsTlsContext *tls;			/* cfg->tls: built at each connect */
	bool		socket_changed;
	uint64		generation;		/* unique within the link, new per connection */
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
	TimestampTz bound_since;

	uint8	   *inbuf;
	int			inlen;
	uint8	   *outbuf;
	int			outlen;
	int			outcap;

	MsSlot	   *slots;
	int			nslots;
	int			inflight;

	MsBindCounters counters;	/* mobisign.worker_binds */
};

/*
 * A link: one row of mobisign.smsc, cfg.binds sessions, and the segments
 * waiting for a free window on any of them (in send order).
 */
struct MsLink
{
	MsSmscConfig orig;			/* the row as read (to notice changes) */
	MsSmscConfig cfg;			/* the same, clamped to workable values */
	int			index;
	MemoryContext cxt;
	List	   *pending;		/* MsPendingSeg *, in send order */
	uint64		last_generation;
	int			nsessions;
	MsSession  *sessions[MS_SMPP_MAX_BINDS];
	bool		corked;			/* PDUs wait in outbuf for ms_smpp_uncork() */
};

static void sess_disconnect(MsSession *s, const char *reason, TimestampTz now, MsSessionEnd end);
static void link_dispatch(MsLink *link, TimestampTz now);
static void sess_connected(MsSession *s, TimestampTz now);

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
sess_next_seq(MsSession *s)
{
	uint32		seq = s->next_seq;

	s->next_seq = (seq >= 0x7FFFFFFF) ? 1 : seq + 1;
	return seq;
}

/* ---- output ------------------------------------------------------------- */

static void
sess_flush(MsSession *s, TimestampTz now)
{
	int			guard;

	/* nothing goes out before the connection (and TLS) is up */
	if (s->io == NULL || s->state == MS_LINK_TLS_HANDSHAKE)
		return;
	for (guard = 0; guard < 64 && s->outlen > 0; guard++)
	{
		int			n;
		char		err[MS_TRANSPORT_ERRLEN];
		MsIoResult	r = ms_transport_write(s->io, s->outbuf, s->outlen, &n, err);

		if (r == MS_IO_DONE)
		{
			if (n < s->outlen)
				memmove(s->outbuf, s->outbuf + n, s->outlen - n);
			s->outlen -= n;
			continue;
		}
		if (r == MS_IO_WANT_READ || r == MS_IO_WANT_WRITE)
			return;
		sess_disconnect(s, r == MS_IO_CLOSED ? "connection closed on send" : err, now, MS_END_FAULT);
		return;
	}
}

/* append one PDU; false if the link is not connected or overflows */
static bool
sess_append(MsSession *s, const uint8 *pdu, int len, TimestampTz now)
{
	if (s->sock == PGINVALID_SOCKET)
		return false;
	if (s->outlen + len > MS_OUTBUF_MAX)
	{
		sess_disconnect(s, "output buffer overflow", now, MS_END_FAULT);
		return false;
	}
	if (s->outlen + len > s->outcap)
	{
		int			newcap = Max(s->outcap * 2, s->outlen + len);

		s->outbuf = repalloc(s->outbuf, newcap);
		s->outcap = newcap;
	}
	memcpy(s->outbuf + s->outlen, pdu, len);
	s->outlen += len;
	if (!s->link->corked)
		sess_flush(s, now);
	return s->sock != PGINVALID_SOCKET;
}

/*
 * Corked, the PDUs the loop writes in one step (the acknowledgements of a
 * turn's deliver_sm, its submit_sm) collect in each session's output buffer
 * and go out with one send per session at ms_smpp_uncork(), not one each:
 * fewer system calls here, and fewer wake-ups and reads at the SMSC.
 */
void
ms_smpp_cork(MsLink *link)
{
	link->corked = true;
}

void
ms_smpp_uncork(MsLink *link, TimestampTz now)
{
	link->corked = false;
	for (int k = 0; k < link->nsessions; k++)
		if (link->sessions[k]->outlen > 0)
			sess_flush(link->sessions[k], now);
}

/* header-only PDU, written by hand (sequence 0 and any status allowed) */
static bool
sess_send_header(MsSession *s, uint32 command_id, uint32 status, uint32 seq, TimestampTz now)
{
	uint8		pdu[MS_SMPP_HEADER_LEN];

	put_be32(pdu, MS_SMPP_HEADER_LEN);
	put_be32(pdu + 4, command_id);
	put_be32(pdu + 8, status);
	put_be32(pdu + 12, seq);
	return sess_append(s, pdu, sizeof(pdu), now);
}

static bool
sess_send_packed(MsSession *s, uint32 command_id, void *pdu_struct, TimestampTz now)
{
	uint8		buf[2048];
	int			len = 0;

	if (smpp34_pack(command_id, buf, sizeof(buf), &len, pdu_struct) != 0 ||
		len < MS_SMPP_HEADER_LEN || len > (int) sizeof(buf))
	{
		ereport(WARNING,
				(errmsg("mobisign worker: could not encode SMPP command 0x%08x for SMSC %s",
						command_id, s->label)));
		ms_worker_set_error("could not encode an SMPP PDU");
		return false;
	}
	return sess_append(s, buf, len, now);
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
slot_find(MsSession *s, uint32 seq)
{
	int			i;

	for (i = 0; i < s->nslots; i++)
		if (s->slots[i].used && s->slots[i].seq == seq)
			return &s->slots[i];
	return NULL;
}

static MsSlot *
slot_free(MsSession *s)
{
	int			i;

	for (i = 0; i < s->nslots; i++)
		if (!s->slots[i].used)
			return &s->slots[i];
	return NULL;
}

static void
slot_release(MsSession *s, MsSlot *slot)
{
	slot->used = false;
	slot->job = NULL;
	s->inflight--;
}

/* ---- connection ---------------------------------------------------------- */

static long
sess_backoff_ms(MsSession *s)
{
	long		d = Max(s->cfg->reconnect_ms, 100);
	int			i;

	for (i = 1; i < s->failures && d < MS_MAX_BACKOFF_MS; i++)
		d *= 2;
	return Min(d, MS_MAX_BACKOFF_MS);
}

/*
 * The back-off's count of failed sessions.  A bind alone does not reset it:
 * a session must stay bound for mobisign.smsc_stable_session (0: a bind is
 * enough), so that an SMSC that accepts the bind and ends the session at once
 * backs off as one that refuses it.
 */
static void
sess_count_end(MsSession *s, MsSessionEnd end, TimestampTz now)
{
	if (s->bound_since != 0 &&
		(ms_smsc_stable_session_ms == 0 ||
		 TimestampDifferenceExceeds(s->bound_since, now, ms_smsc_stable_session_ms)))
		s->failures = 0;
	if (end != MS_END_LOCAL)
		s->failures++;
}

static void
sess_close_socket(MsSession *s)
{
	ms_transport_close(s->io);
	s->io = NULL;
	if (s->sock != PGINVALID_SOCKET)
	{
		close(s->sock);
		s->sock = PGINVALID_SOCKET;
		s->socket_changed = true;
	}
	s->inlen = 0;
	s->outlen = 0;
}

/*
 * Close the session.  Everything queued or in flight on it is handed back as
 * a temporary failure: the loop reschedules those requests in the database.
 */
static void
sess_disconnect(MsSession *s, const char *reason, TimestampTz now, MsSessionEnd end)
{
	ListCell   *lc;
	int			i;
	bool		others_bound;
	char		msg[MS_TRANSPORT_ERRLEN + 100];

	/* already closed: the link's queue is its last session's (or destroy's) */
	if (s->state == MS_LINK_DISCONNECTED && s->sock == PGINVALID_SOCKET && s->inflight == 0)
		return;

	snprintf(msg, sizeof(msg), "SMSC %s: %s", s->label, reason);
	if (end == MS_END_FAULT)
	{
		ereport(LOG, (errmsg("mobisign worker: %s; reconnecting", msg)));
		ms_worker_set_error(msg);
		s->counters.errors++;
	}
	else
		ereport(LOG, (errmsg("mobisign worker: %s", msg)));
	sess_count_end(s, end, now);

	for (i = 0; i < s->nslots; i++)
	{
		MsSlot	   *slot = &s->slots[i];

		if (!slot->used)
			continue;
		slot->job->outstanding--;
		job_fail(slot->job, MS_JOB_TEMPFAIL, msg);
		slot_release(s, slot);
	}
	s->inflight = 0;

	/*
	 * The link's queued segments: those of a job that just failed go with
	 * it; the others wait for another bound session, or fail too when none
	 * of the link's sessions is bound.
	 */
	others_bound = false;
	for (i = 0; i < s->link->nsessions; i++)
		if (s->link->sessions[i] != s && s->link->sessions[i]->state == MS_LINK_BOUND)
			others_bound = true;
	foreach(lc, s->link->pending)
	{
		MsPendingSeg *p = (MsPendingSeg *) lfirst(lc);

		if (others_bound && p->job->status == MS_JOB_SENDING)
			continue;
		p->job->outstanding--;
		job_fail(p->job, MS_JOB_TEMPFAIL, msg);
		s->link->pending = foreach_delete_current(s->link->pending, lc);
		pfree(p);
	}

	sess_close_socket(s);

	/*
	 * Every connection attempt reads the TLS files again, however the last
	 * session ended: a CA removed from tls_ca_file (or the file removed) is
	 * no longer trusted at the next connection.
	 */
	ms_tls_context_free(s->tls);
	s->tls = NULL;
	s->state = MS_LINK_DISCONNECTED;
	s->bound_since = 0;
	s->generation = ++s->link->last_generation;
	s->bind_seq = s->unbind_seq = s->enquire_seq = 0;
	s->next_connect_at = after_ms(now, end == MS_END_LOCAL ? Max(s->cfg->reconnect_ms, 100) :
								  sess_backoff_ms(s));
}

static void
sess_send_bind(MsSession *s, TimestampTz now)
{
	bind_transceiver_t b;

	memset(&b, 0, sizeof(b));
	b.command_id = BIND_TRANSCEIVER;
	b.command_status = ESME_ROK;
	b.sequence_number = s->bind_seq = sess_next_seq(s);
	strlcpy((char *) b.system_id, s->cfg->system_id, sizeof(b.system_id));
	strlcpy((char *) b.password, s->cfg->password, sizeof(b.password));
	strlcpy((char *) b.system_type, s->cfg->system_type, sizeof(b.system_type));
	b.interface_version = SMPP_VERSION;
	b.addr_ton = 0;
	b.addr_npi = 0;
	b.address_range[0] = '\0';
	s->state = MS_LINK_BINDING;
	s->state_deadline = after_ms(now, s->cfg->response_timeout_ms);
	if (!sess_send_packed(s, BIND_TRANSCEIVER, &b, now))
	{
		explicit_bzero(&b, sizeof(b));
		if (s->sock != PGINVALID_SOCKET)
			sess_disconnect(s, "could not send bind_transceiver", now, MS_END_FAULT);
		return;
	}
	explicit_bzero(&b, sizeof(b));
}

static void
sess_start_connect(MsSession *s, TimestampTz now)
{
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	char		port[16];
	int			rc;
	pgsocket	fd;
	int			one = 1;

	if (s->ever_connected)
	{
		ms_worker_count(MS_C_RECONNECTS, 1);
		s->counters.reconnects++;
	}
	s->ever_connected = true;

	if (s->cfg->tls && s->tls == NULL)
	{
		char		err[MS_TRANSPORT_ERRLEN];
		char		msg[MS_TRANSPORT_ERRLEN + 32];

		s->tls = ms_tls_context_create(&s->cfg->tls_files, s->cfg->host, s->cxt, err);
		if (s->tls == NULL)
		{
			snprintf(msg, sizeof(msg), "TLS setup failed: %s", err);
			s->state = MS_LINK_CONNECTING;	/* so that disconnect logs it */
			sess_disconnect(s, msg, now, MS_END_FAULT);
			return;
		}
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	snprintf(port, sizeof(port), "%d", s->cfg->port);
	rc = getaddrinfo(s->cfg->host, port, &hints, &res);
	if (rc != 0)
	{
		/* a host name: one resolver call (the only call that may wait) */
		hints.ai_flags = AI_NUMERICSERV;
		rc = getaddrinfo(s->cfg->host, port, &hints, &res);
	}
	if (rc != 0 || res == NULL)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "cannot resolve host \"%s\": %s", s->cfg->host, gai_strerror(rc));
		s->state = MS_LINK_CONNECTING;	/* so that disconnect logs it */
		sess_disconnect(s, msg, now, MS_END_FAULT);
		return;
	}

	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd == PGINVALID_SOCKET)
	{
		freeaddrinfo(res);
		s->state = MS_LINK_CONNECTING;
		sess_disconnect(s, strerror(errno), now, MS_END_FAULT);
		return;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
	{
		close(fd);
		freeaddrinfo(res);
		s->state = MS_LINK_CONNECTING;
		sess_disconnect(s, "cannot make socket non-blocking", now, MS_END_FAULT);
		return;
	}
	(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
	(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));

	s->sock = fd;
	s->socket_changed = true;
	s->state = MS_LINK_CONNECTING;
	s->state_deadline = after_ms(now, s->cfg->connect_timeout_ms);
	s->inlen = s->outlen = 0;

	rc = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc == 0)
		sess_connected(s, now);
	else if (errno != EINPROGRESS && errno != EINTR)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "cannot connect to %s:%d: %s",
				 s->cfg->host, s->cfg->port, strerror(errno));
		sess_disconnect(s, msg, now, MS_END_FAULT);
	}
}

/* advance the TLS handshake; once the SMSC is verified, bind */
static void
sess_handshake(MsSession *s, TimestampTz now)
{
	char		err[MS_TRANSPORT_ERRLEN];
	char		msg[MS_TRANSPORT_ERRLEN + 32];
	char		desc[400];
	MsIoResult	r = ms_transport_handshake(s->io, err);

	if (r == MS_IO_WANT_READ || r == MS_IO_WANT_WRITE)
		return;
	if (r != MS_IO_DONE)
	{
		snprintf(msg, sizeof(msg), "TLS handshake failed: %s", err);
		sess_disconnect(s, msg, now, MS_END_FAULT);
		return;
	}
	ms_transport_describe(s->io, desc, sizeof(desc));
	ereport(LOG,
			(errmsg("mobisign worker: SMSC %s: TLS established: %s", s->label, desc)));
	sess_send_bind(s, now);
}

/* the TCP connection is up: a clear link binds, a TLS link shakes hands */
static void
sess_connected(MsSession *s, TimestampTz now)
{
	char		err[MS_TRANSPORT_ERRLEN];
	char		msg[MS_TRANSPORT_ERRLEN + 32];

	/* never a clear transport for a TLS link, whatever happened before */
	if (s->cfg->tls && s->tls == NULL)
	{
		sess_disconnect(s, "TLS setup failed: no TLS context for a TLS link", now, MS_END_FAULT);
		return;
	}
	s->io = ms_transport_open(s->sock, s->cfg->tls ? s->tls : NULL, s->cxt, err);
	if (s->io == NULL)
	{
		snprintf(msg, sizeof(msg), "TLS setup failed: %s", err);
		sess_disconnect(s, msg, now, MS_END_FAULT);
		return;
	}
	if (!s->cfg->tls)
	{
		sess_send_bind(s, now);
		return;
	}
	s->state = MS_LINK_TLS_HANDSHAKE;
	s->state_deadline = after_ms(now, s->cfg->connect_timeout_ms);
	sess_handshake(s, now);
}

static void
sess_connect_done(MsSession *s, TimestampTz now)
{
	int			err = 0;
	socklen_t	len = sizeof(err);

	if (getsockopt(s->sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "cannot connect to %s:%d: %s",
				 s->cfg->host, s->cfg->port, strerror(err));
		sess_disconnect(s, msg, now, MS_END_FAULT);
		return;
	}
	sess_connected(s, now);
}

/* ---- inbound PDUs -------------------------------------------------------- */

/*
 * A PDU was refused (malformed, or a value we do not store).  Logged at most
 * once per MS_MALFORMED_LOG_MS per link, with the count of the unlogged
 * ones (sess_log_limited: also what is well formed but not served, a
 * generic_nack for a sequence never sent, a command not served: one line
 * per 16-byte PDU filled the log; those are no fault, fault false: not
 * counted in worker_stats' errors nor its last_error); MS_MALFORMED_LIMIT
 * refused in a row close
 * the session as a failure, so the link reconnects after its reconnect
 * delay (with back-off).  The log names the command, the field and the
 * sequence number, never the bytes.
 */
static void
sess_log_limited(MsSession *s, const msc_smpp_header *h, const char *why, bool answered,
				 uint32 status, TimestampTz now, bool fault)
{
	if (fault)
		s->counters.errors++;
	if (s->malformed_logged_at == 0 ||
		now >= after_ms(s->malformed_logged_at, MS_MALFORMED_LOG_MS))
	{
		char		msg[200];

		snprintf(msg, sizeof(msg), "SMSC %s sent a %s that is refused: %s",
				 s->label, msc_smpp_command_name(h->command_id), why);
		ereport(LOG,
				(errmsg("mobisign worker: %s (sequence %u, %u bytes)", msg,
						h->sequence_number, h->command_length),
				 answered ? errdetail("It was answered with status 0x%08x.", status) :
				 errdetail("A response is not answered."),
				 s->malformed_unlogged > 0 ?
				 errhint("%d more refused PDUs were not logged in the last %d s.",
						 s->malformed_unlogged, MS_MALFORMED_LOG_MS / 1000) : 0));
		/* not served is not a fault: worker_stats' errors and last_error stay */
		if (fault)
			ms_worker_set_error(msg);
		s->malformed_logged_at = now;
		s->malformed_unlogged = 0;
	}
	else
		s->malformed_unlogged++;
}

static void
sess_refused(MsSession *s, const msc_smpp_header *h, const char *why, bool answered,
			 uint32 status, TimestampTz now)
{
	s->malformed_run++;
	sess_log_limited(s, h, why, answered, status, now, true);
	if (s->malformed_run >= MS_MALFORMED_LIMIT)
	{
		char		msg[120];

		snprintf(msg, sizeof(msg), "%d refused PDUs in a row", s->malformed_run);
		s->malformed_run = 0;
		sess_disconnect(s, msg, now, MS_END_FAULT);
	}
}

/* a request was refused: answer it with its response and the status */
static void
sess_refuse_request(MsSession *s, const msc_smpp_header *h, uint32 status, const char *why,
					TimestampTz now)
{
	sess_send_header(s, h->command_id | MSC_SMPP_RESP_BIT, status, h->sequence_number, now);
	sess_refused(s, h, why, true, status, now);
}

static void
handle_submit_resp(MsSession *s, MsSlot *slot, uint32 status, const msc_smpp_str *message_id,
				   TimestampTz now)
{
	MsJob	   *job = slot->job;
	int			idx = slot->idx;
	int			throttled = slot->throttled;
	char		reason[160];

	slot_release(s, slot);

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
		s->counters.acknowledged++;
		ms_worker_count(MS_C_SUBMITTED, 1);
		if (job->acked == job->nsegs)
			job->status = MS_JOB_OK;
		return;
	}

	if (status == ESME_RTHROTTLED || status == ESME_RMSGQFUL)
	{
		s->counters.throttled++;
		ms_worker_count(MS_C_RETRIED, 1);
		if (throttled + 1 < MS_MAX_THROTTLED)
		{
			MemoryContext old = MemoryContextSwitchTo(s->cxt);
			MsPendingSeg *p = palloc0(sizeof(MsPendingSeg));

			p->job = job;
			p->idx = idx;
			p->throttled = throttled + 1;
			s->link->pending = lcons(p, s->link->pending);
			MemoryContextSwitchTo(old);
			/* pause this session's submits (1 s, longer when it goes on) */
			s->pause_until = after_ms(now, Min(1000L * (1 + throttled / 5), 5000L));
			return;
		}
	}

	snprintf(reason, sizeof(reason), "SMSC %s answered submit_sm with %s (0x%08x)",
			 s->label, ms_smpp_status_text(status), status);
	job->outstanding--;
	job_fail(job, status_is_temporary(status) ? MS_JOB_TEMPFAIL : MS_JOB_PERMFAIL, reason);
	link_drop_pending_of(s->link, job);
	if (!status_is_temporary(status))
	{
		s->counters.errors++;
		ms_worker_set_error(reason);
	}
}

/*
 * A deliver_sm, decoded: a receipt is acknowledged only; anything else is
 * kept for the loop to store, but only from a source_addr that is an
 * MSISDN (else refused with ESME_RINVSRCADR: nothing unchecked is stored).
 */
static void
handle_deliver_sm(MsSession *s, const msc_smpp_pdu *pdu, TimestampTz now, List **inbound)
{
	const msc_smpp_deliver_sm *d = &pdu->u.deliver_sm;
	uint32		seq = pdu->h.sequence_number;
	uint8		cls = d->esm_class & 0x3C;
	bool		receipt = (cls == 0x04 || cls == 0x08 || cls == 0x20);
	MsInbound  *in;
	const uint8 *ud;
	size_t		udlen = 0;

	if (s->state == MS_LINK_UNBINDING)
	{
		/*
		 * an answer already on its way as the worker unbinds (it is
		 * shutting down): temporary, so the SMSC delivers it again on the
		 * next bind rather than discarding it (ESME_RINVBNDSTS is not
		 * temporary)
		 */
		sess_send_header(s, DELIVER_SM_RESP, ESME_RX_T_APPN, seq, now);
		return;
	}
	if (s->state != MS_LINK_BOUND)
	{
		sess_send_header(s, DELIVER_SM_RESP, ESME_RINVBNDSTS, seq, now);
		return;
	}
	if (!receipt && msc_smpp_msisdn_check(d->source_addr.s, d->source_addr.len) != MSC_OK)
	{
		sess_refuse_request(s, &pdu->h, MSC_SMPP_RINVSRCADR,
							"source_addr is not an MSISDN ('+' and 5 to 15 digits)", now);
		return;
	}
	s->malformed_run = 0;
	ud = msc_smpp_user_data(d, &udlen);

	in = palloc0(sizeof(MsInbound));
	in->link_index = s->link->index;
	in->smsc_id = s->cfg->id;
	in->generation = s->generation;
	in->seq = seq;
	in->read_at = now;
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
	 * (IEI 0x00 or 0x08; the group key keeps their reference spaces apart).  A header it refuses is stored as a single SMS: the
	 * SIM channel rejects it when it reassembles, and the SMSC is answered.
	 */
	if ((d->esm_class & MSC_SMPP_ESM_CLASS_UDHI) && udlen >= 1)
	{
		msc_udh		udh;

		if (msc_udh_parse(ud, udlen, &udh) == MSC_OK &&
			udh.has_concat && udh.concat_total > 1)
		{
			in->concat_ref = msc_udh_concat_key(&udh);
			in->total = udh.concat_total;
			in->seqno = udh.concat_seq;
		}
	}

	s->counters.received++;
	*inbound = lappend(*inbound, in);
}

/*
 * One whole frame, as cut by msc_smpp_frame: decoded by the codec, then
 * dispatched.  A refused request is answered; a refused response is
 * logged and acted on by its header alone (a submit_sm_resp then has no
 * message id, a bind_transceiver_resp fails the bind).
 */
static void
handle_frame(MsSession *s, const uint8 *frame, int len, TimestampTz now, List **inbound)
{
	msc_smpp_pdu pdu;
	msc_rc		rc = msc_smpp_decode(frame, (size_t) len, &pdu);
	uint32		command_id = pdu.h.command_id;
	uint32		status = pdu.h.command_status;
	uint32		seq = pdu.h.sequence_number;
	MsSlot	   *slot;

	s->last_activity = now;

	if (rc != MSC_OK)
	{
		char		why[120];

		snprintf(why, sizeof(why), "%s (%s)", msc_smpp_field_name(pdu.fault.field), msc_rc_name(rc));
		if ((command_id & MSC_SMPP_RESP_BIT) == 0)
		{
			sess_refuse_request(s, &pdu.h, msc_smpp_fault_status(&pdu.fault), why, now);
			return;
		}
		sess_refused(s, &pdu.h, why, false, 0, now);
		if (s->sock == PGINVALID_SOCKET)
			return;
		if (command_id == MSC_SMPP_BIND_TRANSCEIVER_RESP && s->state == MS_LINK_BINDING &&
			seq == s->bind_seq)
		{
			sess_disconnect(s, "malformed bind_transceiver_resp", now, MS_END_FAULT);
			return;
		}
	}
	else if (command_id != MSC_SMPP_DELIVER_SM)
		s->malformed_run = 0;	/* deliver_sm: once its address is checked */

	switch (command_id)
	{
		case MSC_SMPP_BIND_TRANSCEIVER_RESP:
			if (s->state != MS_LINK_BINDING || seq != s->bind_seq)
				break;
			if (status == ESME_ROK)
			{
				s->state = MS_LINK_BOUND;
				s->bind_seq = 0;
				s->tokens = 1;
				s->tokens_at = now;
				s->pause_until = 0;
				s->malformed_run = 0;
				s->bound_since = now;
				ereport(LOG,
						(errmsg("mobisign worker: bound to SMSC %s at %s:%d as \"%s\"",
								s->label, s->cfg->host, s->cfg->port, s->cfg->system_id)));
			}
			else
			{
				char		msg[160];

				snprintf(msg, sizeof(msg), "bind_transceiver refused with %s (0x%08x)",
						 ms_smpp_status_text(status), status);
				sess_disconnect(s, msg, now, MS_END_FAULT);
			}
			break;

		case MSC_SMPP_SUBMIT_SM_RESP:
			slot = slot_find(s, seq);
			if (slot == NULL)
			{
				ereport(DEBUG1, (errmsg("mobisign worker: unexpected submit_sm_resp sequence %u", seq)));
				break;
			}
			handle_submit_resp(s, slot, status, &pdu.u.submit_resp.message_id, now);
			break;

		case MSC_SMPP_GENERIC_NACK:
			if (s->state == MS_LINK_BINDING && seq == s->bind_seq)
			{
				sess_disconnect(s, "bind_transceiver answered with generic_nack", now, MS_END_FAULT);
				break;
			}
			slot = slot_find(s, seq);
			if (slot != NULL)
			{
				/* throttling answers keep their meaning; others retry later */
				if (status != ESME_RTHROTTLED && status != ESME_RMSGQFUL)
					status = ESME_RSYSERR;
				handle_submit_resp(s, slot, status, NULL, now);
			}
			else
			{
				char		why[120];

				snprintf(why, sizeof(why), "its status %s (0x%08x) is for no PDU in flight",
						 ms_smpp_status_text(status), status);
				sess_log_limited(s, &pdu.h, why, false, 0, now, false);
			}
			break;

		case MSC_SMPP_DELIVER_SM:
			handle_deliver_sm(s, &pdu, now, inbound);
			break;

		case MSC_SMPP_ENQUIRE_LINK:
			sess_send_header(s, ENQUIRE_LINK_RESP, ESME_ROK, seq, now);
			break;

		case MSC_SMPP_ENQUIRE_LINK_RESP:
			if (seq == s->enquire_seq)
				s->enquire_seq = 0;
			break;

		case MSC_SMPP_UNBIND:
			sess_send_header(s, UNBIND_RESP, ESME_ROK, seq, now);
			sess_flush(s, now);
			sess_disconnect(s, "the SMSC unbound", now, MS_END_PEER);
			break;

		case MSC_SMPP_UNBIND_RESP:
			if (s->state == MS_LINK_UNBINDING)
				sess_disconnect(s, "unbound", now, MS_END_LOCAL);
			break;

		default:
			if ((command_id & MSC_SMPP_RESP_BIT) == 0)
			{
				/*
				 * a request we do not serve (data_sm, alert_notification...):
				 * not a fault of the session, so it does not count towards
				 * closing it
				 */
				char		why[80];

				snprintf(why, sizeof(why), "mobisign does not serve command 0x%08x", command_id);
				sess_send_header(s, GENERIC_NACK, ESME_RINVCMDID, seq, now);
				sess_log_limited(s, &pdu.h, why, true, ESME_RINVCMDID, now, false);
			}
			else
				ereport(DEBUG1,
						(errmsg("mobisign worker: ignoring response 0x%08x sequence %u", command_id, seq)));
			break;
	}
}

static void
sess_read(MsSession *s, TimestampTz now, List **inbound)
{
	int			guard;

	/*
	 * At most MS_READ_TURNS reads per event, then only while TLS holds
	 * decrypted bytes (no readiness would announce them).  Those are the rest
	 * of one TLS record (16 kB at most) and each read takes at least one
	 * byte, so the second bound is never what ends the loop.
	 */
	for (guard = 0; s->sock != PGINVALID_SOCKET &&
		 (guard < MS_READ_TURNS || ms_transport_pending(s->io)) &&
		 guard < MS_READ_TURNS + MS_SMPP_MAX_PDU; guard++)
	{
		int			n;
		int			off;
		char		err[MS_TRANSPORT_ERRLEN];
		MsIoResult	r;

		r = ms_transport_read(s->io, s->inbuf + s->inlen,
							  MS_SMPP_MAX_PDU + 1 - s->inlen, &n, err);
		if (r == MS_IO_CLOSED)
		{
			sess_disconnect(s, "connection closed by the SMSC", now,
							s->state == MS_LINK_UNBINDING ? MS_END_LOCAL : MS_END_FAULT);
			return;
		}
		if (r == MS_IO_WANT_READ || r == MS_IO_WANT_WRITE)
			return;
		if (r == MS_IO_FAILED)
		{
			sess_disconnect(s, err, now, MS_END_FAULT);
			return;
		}
		s->inlen += n;

		/* cut complete frames */
		off = 0;
		while (s->sock != PGINVALID_SOCKET && s->inlen - off >= 4)
		{
			size_t		flen = 0;

			if (msc_smpp_frame(s->inbuf + off, s->inlen - off, MS_SMPP_MAX_PDU, &flen) != MSC_OK)
			{
				char		msg[120];

				snprintf(msg, sizeof(msg), "invalid PDU length %u from the SMSC", get_be32(s->inbuf + off));
				/* framing is lost: tell the peer, then start over */
				sess_send_header(s, GENERIC_NACK, ESME_RINVCMDLEN, 0, now);
				sess_disconnect(s, msg, now, MS_END_FAULT);
				return;
			}
			if (flen == 0)
				break;
			{
				/* a copy: handling the frame may reset the input buffer */
				uint8		frame[MS_SMPP_MAX_PDU + 1];

				memcpy(frame, s->inbuf + off, flen);
				frame[flen] = '\0';
				off += flen;
				handle_frame(s, frame, (int) flen, now, inbound);
			}
		}
		if (s->sock == PGINVALID_SOCKET)
			return;
		if (off > 0)
		{
			memmove(s->inbuf, s->inbuf + off, s->inlen - off);
			s->inlen -= off;
		}
	}
}

/* ---- sending submit_sm --------------------------------------------------- */

static bool
sess_send_submit(MsSession *s, MsJob *job, int idx, int throttled, TimestampTz now)
{
	submit_sm_t sm;
	MsSlot	   *slot = slot_free(s);
	const char *dest = job->msisdn;
	bool		ok;

	if (slot == NULL)
		return false;

	memset(&sm, 0, sizeof(sm));
	sm.command_id = SUBMIT_SM;
	sm.command_status = ESME_ROK;
	sm.sequence_number = sess_next_seq(s);
	if (s->cfg->source_addr[0] != '\0')
	{
		const char *src = s->cfg->source_addr;
		bool		digits = true;
		const char *c;

		if (*src == '+')
			src++;
		for (c = src; *c; c++)
			if (*c < '0' || *c > '9')
				digits = false;
		sm.source_addr_ton = digits ? TON_International : TON_Alphanumeric;
		sm.source_addr_npi = digits ? NPI_ISDN_E163_E164 : NPI_Unknown;
		strlcpy((char *) sm.source_addr, digits ? src : s->cfg->source_addr, sizeof(sm.source_addr));
	}
	if (*dest == '+')
	{
		dest++;
		sm.dest_addr_ton = TON_International;
	}
	else
		sm.dest_addr_ton = TON_Unknown;
	sm.dest_addr_npi = NPI_ISDN_E163_E164;
	strlcpy((char *) sm.destination_addr, dest, sizeof(sm.destination_addr));
	sm.esm_class = MSC_SMPP_ESM_CLASS_UDHI;	/* 0x40: user data carries a header */
	sm.protocol_id = MSC_SMPP_PROTOCOL_ID;	/* 0x7F: SIM data download */
	sm.priority_flag = 0;
	sm.registered_delivery = 0;
	sm.data_coding = MSC_SMPP_DATA_CODING;	/* 0xF6: 8-bit, class 2 */

	if (job->seglen[idx] <= 253)
	{
		sm.sm_length = (uint8) job->seglen[idx];
		memcpy(sm.short_message, job->seg[idx], job->seglen[idx]);
	}
	else if (job->seglen[idx] <= MAX_TLV_SIZE)
	{
		tlv_t		t;

		memset(&t, 0, sizeof(t));
		t.tag = TLVID_message_payload;
		t.length = (uint16) job->seglen[idx];
		memcpy(t.value.octet, job->seg[idx], job->seglen[idx]);
		build_tlv(&sm.tlv, &t);
	}
	else
	{
		job->outstanding--;
		job_fail(job, MS_JOB_PERMFAIL, "segment longer than 1024 bytes");
		link_drop_pending_of(s->link, job);
		return true;
	}

	ok = sess_send_packed(s, SUBMIT_SM, &sm, now);
	destroy_tlv(sm.tlv);
	if (!ok)
	{
		if (s->sock != PGINVALID_SOCKET)
		{
			job->outstanding--;
			job_fail(job, MS_JOB_PERMFAIL, "submit_sm could not be encoded");
			link_drop_pending_of(s->link, job);
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
	slot->seq = sm.sequence_number;
	slot->job = job;
	slot->idx = idx;
	slot->throttled = throttled;
	slot->deadline = after_ms(now, s->cfg->response_timeout_ms);
	s->inflight++;
	s->counters.sent++;
	return true;
}

static void
sess_refill_tokens(MsSession *s, TimestampTz now)
{
	double		burst = Max(1, Min(s->cfg->max_per_second, s->cfg->window_size));
	long		secs;
	int			usecs;

	if (now > s->tokens_at)
	{
		TimestampDifference(s->tokens_at, now, &secs, &usecs);
		s->tokens += (secs + usecs / 1e6) * s->cfg->max_per_second;
		if (s->tokens > burst)
			s->tokens = burst;
	}
	s->tokens_at = now;
}

/* may this session send a segment now?  (refills its tokens) */
static bool
sess_can_send(MsSession *s, TimestampTz now)
{
	if (s->state != MS_LINK_BOUND || s->inflight >= s->nslots || now < s->pause_until)
		return false;
	sess_refill_tokens(s, now);
	return s->tokens >= 1.0;
}

/*
 * Send the link's queued segments, each on the session that may send now
 * (bound, window not full, not paused, a token left) with the most free
 * window, the first one on a tie: every window is kept full and the load
 * spreads over the binds, each within its own rate.
 */
static void
link_dispatch(MsLink *link, TimestampTz now)
{
	int			guard;

	for (guard = 0; guard < 10000 && link->pending != NIL; guard++)
	{
		MsSession  *best = NULL;
		MsPendingSeg *p;
		int			k;

		for (k = 0; k < link->nsessions; k++)
		{
			MsSession  *s = link->sessions[k];

			if (!sess_can_send(s, now))
				continue;
			if (best == NULL || s->nslots - s->inflight > best->nslots - best->inflight)
				best = s;
		}
		if (best == NULL)
			return;
		p = (MsPendingSeg *) linitial(link->pending);
		link->pending = list_delete_first(link->pending);
		if (p->job->status != MS_JOB_SENDING)
		{
			p->job->outstanding--;
			pfree(p);
			continue;
		}
		best->tokens -= 1.0;
		sess_send_submit(best, p->job, p->idx, p->throttled, now);
		pfree(p);
	}
}

/* fail what is still queued on the link (no session is left to send it) */
static void
link_fail_pending(MsLink *link, const char *reason)
{
	ListCell   *lc;

	foreach(lc, link->pending)
	{
		MsPendingSeg *p = (MsPendingSeg *) lfirst(lc);

		p->job->outstanding--;
		job_fail(p->job, MS_JOB_TEMPFAIL, reason);
		pfree(p);
	}
	list_free(link->pending);
	link->pending = NIL;
}

/* ---- public -------------------------------------------------------------- */

static MsSession *
sess_create(MsLink *link, int number)
{
	MsSession  *s = MemoryContextAllocZero(link->cxt, sizeof(MsSession));

	s->link = link;
	s->cfg = &link->cfg;
	s->number = number;
	if (link->cfg.binds > 1)
		snprintf(s->label, sizeof(s->label), "\"%s\" bind %d", link->cfg.name, number);
	else
		snprintf(s->label, sizeof(s->label), "\"%s\"", link->cfg.name);
	s->cxt = link->cxt;
	s->state = MS_LINK_DISCONNECTED;
	s->sock = PGINVALID_SOCKET;
	s->generation = ++link->last_generation;
	s->next_seq = 1;
	s->next_connect_at = 0;
	s->inbuf = MemoryContextAlloc(link->cxt, MS_SMPP_MAX_PDU + 1);
	s->outcap = 4096;
	s->outbuf = MemoryContextAlloc(link->cxt, s->outcap);
	s->nslots = link->cfg.window_size;
	s->slots = MemoryContextAllocZero(link->cxt, sizeof(MsSlot) * s->nslots);
	return s;
}

MsLink *
ms_smpp_link_create(const MsSmscConfig *cfg, int index, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "mobisign SMPP link", ALLOCSET_DEFAULT_SIZES);
	MsLink	   *link = MemoryContextAllocZero(cxt, sizeof(MsLink));
	int			k;

	link->cxt = cxt;
	link->orig = *cfg;
	link->cfg = *cfg;
	link->cfg.binds = Min(Max(1, cfg->binds), MS_SMPP_MAX_BINDS);
	link->cfg.window_size = Max(1, cfg->window_size);
	link->cfg.max_per_second = Max(1, cfg->max_per_second);
	link->cfg.response_timeout_ms = Max(100, cfg->response_timeout_ms);
	link->cfg.enquire_link_ms = Max(100, cfg->enquire_link_ms);
	link->cfg.reconnect_ms = Max(100, cfg->reconnect_ms);
	link->cfg.connect_timeout_ms = Max(100, cfg->connect_timeout_ms);
	link->index = index;
	link->nsessions = link->cfg.binds;
	for (k = 0; k < link->nsessions; k++)
		link->sessions[k] = sess_create(link, k + 1);
	return link;
}

void
ms_smpp_link_destroy(MsLink *link, const char *reason)
{
	TimestampTz now = GetCurrentTimestamp();
	int			k;

	for (k = 0; k < link->nsessions; k++)
	{
		sess_disconnect(link->sessions[k], reason, now, MS_END_LOCAL);
		sess_close_socket(link->sessions[k]);
	}
	link_fail_pending(link, reason);
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
	int			k;

	for (k = 0; k < link->nsessions; k++)
		if (link->sessions[k]->state == MS_LINK_BOUND)
			return MS_LINK_BOUND;
	return link->sessions[0]->state;
}

int
ms_smpp_sessions_bound(MsLink *link)
{
	int			k;
	int			n = 0;

	for (k = 0; k < link->nsessions; k++)
		if (link->sessions[k]->state == MS_LINK_BOUND)
			n++;
	return n;
}

int
ms_smpp_nsessions(MsLink *link)
{
	return link->nsessions;
}

MsSession *
ms_smpp_session(MsLink *link, int k)
{
	Assert(k >= 0 && k < link->nsessions);
	return link->sessions[k];
}

pgsocket
ms_smpp_wait_socket(MsSession *s)
{
	return s->sock;
}

int
ms_smpp_wait_events(MsSession *s)
{
	if (s->sock == PGINVALID_SOCKET)
		return 0;
	if (s->state == MS_LINK_CONNECTING)
		return WL_SOCKET_WRITEABLE;
	if (s->state == MS_LINK_TLS_HANDSHAKE)
		return ms_transport_wait_events(s->io);
	return WL_SOCKET_READABLE | (s->outlen > 0 ? WL_SOCKET_WRITEABLE : 0) |
		ms_transport_wait_events(s->io);
}

bool
ms_smpp_socket_changed(MsLink *link)
{
	bool		c = false;
	int			k;

	for (k = 0; k < link->nsessions; k++)
	{
		c |= link->sessions[k]->socket_changed;
		link->sessions[k]->socket_changed = false;
	}
	return c;
}

void
ms_smpp_on_socket(MsSession *s, int events, TimestampTz now, List **inbound)
{
	if (s->sock == PGINVALID_SOCKET)
		return;
	if (s->state == MS_LINK_CONNECTING)
	{
		if (events & (WL_SOCKET_WRITEABLE | WL_SOCKET_READABLE))
			sess_connect_done(s, now);
		return;
	}
	if (s->state == MS_LINK_TLS_HANDSHAKE)
	{
		sess_handshake(s, now);
		return;
	}
	if ((events & WL_SOCKET_READABLE) || ms_transport_read_needs_write(s->io))
		sess_read(s, now, inbound);
	if (s->sock != PGINVALID_SOCKET && s->outlen > 0)
		sess_flush(s, now);
	/* answers free window: refill every session of the link */
	link_dispatch(s->link, now);
}

/*
 * What a state that waits for the peer (connecting, TLS handshake, binding,
 * unbinding) says when its deadline passes; buf holds a message made here.
 */
static const char *
wait_timed_out(const MsSession *s, char *buf, size_t len)
{
	switch (s->state)
	{
		case MS_LINK_CONNECTING:
			return "connect timed out";
		case MS_LINK_TLS_HANDSHAKE:
			snprintf(buf, len, "TLS handshake timed out after %d ms",
					 s->cfg->connect_timeout_ms);
			return buf;
		case MS_LINK_BINDING:
			return "no bind_transceiver_resp in time";
		default:
			return "no unbind_resp in time";
	}
}

static void
sess_tick(MsSession *s, TimestampTz now)
{
	int			i;

	switch (s->state)
	{
		case MS_LINK_DISCONNECTED:
			if (now >= s->next_connect_at)
				sess_start_connect(s, now);
			break;
		case MS_LINK_CONNECTING:
		case MS_LINK_TLS_HANDSHAKE:
		case MS_LINK_BINDING:
		case MS_LINK_UNBINDING:
			if (now >= s->state_deadline)
			{
				char		msg[80];

				/* an unbind that gets no answer is still the end we asked for */
				sess_disconnect(s, wait_timed_out(s, msg, sizeof(msg)), now,
								s->state == MS_LINK_UNBINDING ? MS_END_LOCAL : MS_END_FAULT);
			}
			break;
		case MS_LINK_BOUND:
			for (i = 0; i < s->nslots; i++)
			{
				if (s->slots[i].used && now >= s->slots[i].deadline)
				{
					char		msg[120];

					snprintf(msg, sizeof(msg), "no submit_sm_resp within %d ms (sequence %u)",
							 s->cfg->response_timeout_ms, s->slots[i].seq);
					sess_disconnect(s, msg, now, MS_END_FAULT);
					return;
				}
			}
			if (s->enquire_seq != 0)
			{
				if (now >= s->enquire_deadline)
					sess_disconnect(s, "enquire_link unanswered", now, MS_END_FAULT);
			}
			else if (now >= after_ms(s->last_activity, s->cfg->enquire_link_ms))
			{
				s->enquire_seq = sess_next_seq(s);
				s->enquire_deadline = after_ms(now, s->cfg->response_timeout_ms);
				s->last_activity = now;
				sess_send_header(s, ENQUIRE_LINK, ESME_ROK, s->enquire_seq, now);
			}
			break;
	}
}

void
ms_smpp_tick(MsLink *link, TimestampTz now)
{
	int			k;

	for (k = 0; k < link->nsessions; k++)
		sess_tick(link->sessions[k], now);
	link_dispatch(link, now);
}

static long
sess_next_timeout_ms(MsSession *s, bool queued, TimestampTz now)
{
	long		t = 60000;
	int			i;

	switch (s->state)
	{
		case MS_LINK_DISCONNECTED:
			t = ms_until(now, s->next_connect_at);
			break;
		case MS_LINK_CONNECTING:
		case MS_LINK_TLS_HANDSHAKE:
		case MS_LINK_BINDING:
		case MS_LINK_UNBINDING:
			t = ms_until(now, s->state_deadline);
			break;
		case MS_LINK_BOUND:
			for (i = 0; i < s->nslots; i++)
				if (s->slots[i].used)
					t = Min(t, ms_until(now, s->slots[i].deadline));
			if (s->enquire_seq != 0)
				t = Min(t, ms_until(now, s->enquire_deadline));
			else
				t = Min(t, ms_until(now, after_ms(s->last_activity, s->cfg->enquire_link_ms)));
			/* segments queued on the link and room in this window */
			if (queued && s->inflight < s->nslots)
			{
				if (now < s->pause_until)
					t = Min(t, ms_until(now, s->pause_until));
				else if (s->tokens < 1.0)
					t = Min(t, (long) ((1.0 - s->tokens) * 1000.0 / s->cfg->max_per_second) + 1);
				else
					t = 0;
			}
			break;
	}
	return Max(t, 0);
}

long
ms_smpp_next_timeout_ms(MsLink *link, TimestampTz now)
{
	long		t = 60000;
	int			k;

	for (k = 0; k < link->nsessions; k++)
		t = Min(t, sess_next_timeout_ms(link->sessions[k], link->pending != NIL, now));
	return t;
}

int
ms_smpp_free_capacity(MsLink *link)
{
	int			k;
	int			free_slots = 0;

	for (k = 0; k < link->nsessions; k++)
	{
		MsSession  *s = link->sessions[k];

		if (s->state == MS_LINK_BOUND)
			free_slots += s->nslots - s->inflight;
	}
	return Max(0, free_slots - list_length(link->pending));
}

int
ms_smpp_in_flight(MsLink *link)
{
	int			k;
	int			n = 0;

	for (k = 0; k < link->nsessions; k++)
		n += link->sessions[k]->inflight;
	return n;
}

int
ms_smpp_window_size(MsLink *link)
{
	return link->nsessions * link->cfg.window_size;
}

void
ms_smpp_ack_deliver(MsLink *link, uint64 generation, uint32 seq, uint32 status)
{
	deliver_sm_resp_t r;
	TimestampTz now = GetCurrentTimestamp();
	MsSession  *s = NULL;
	int			k;

	/*
	 * Only on the connection it came on: acknowledging on another session
	 * (another bind, or a later connection of the same one) would confirm
	 * the wrong PDU.
	 */
	for (k = 0; k < link->nsessions; k++)
		if (link->sessions[k]->generation == generation)
			s = link->sessions[k];
	if (s == NULL || s->sock == PGINVALID_SOCKET)
		return;
	if (status != ESME_ROK || seq == 0)
	{
		sess_send_header(s, DELIVER_SM_RESP, status, seq, now);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.command_id = DELIVER_SM_RESP;
	r.command_status = ESME_ROK;
	r.sequence_number = seq;
	r.message_id[0] = '\0';
	sess_send_packed(s, DELIVER_SM_RESP, &r, now);
}

void
ms_smpp_unbind(MsLink *link, TimestampTz now)
{
	int			k;

	for (k = 0; k < link->nsessions; k++)
	{
		MsSession  *s = link->sessions[k];

		if (s->state == MS_LINK_BOUND)
		{
			s->unbind_seq = sess_next_seq(s);
			s->state = MS_LINK_UNBINDING;
			s->state_deadline = after_ms(now, MS_UNBIND_TIMEOUT_MS);
			sess_send_header(s, UNBIND, ESME_ROK, s->unbind_seq, now);
		}
		else if (s->state != MS_LINK_UNBINDING)
			sess_disconnect(s, "closed", now, MS_END_LOCAL);
	}
	/* nothing queued may be sent any more */
	link_fail_pending(link, "worker shutting down");
}

bool
ms_smpp_quiet(MsLink *link)
{
	int			k;

	for (k = 0; k < link->nsessions; k++)
		if (link->sessions[k]->sock != PGINVALID_SOCKET)
			return false;
	return true;
}

static const char *
state_name(MsLinkState st)
{
	switch (st)
	{
		case MS_LINK_DISCONNECTED:
			return "disconnected";
		case MS_LINK_CONNECTING:
			return "connecting";
		case MS_LINK_TLS_HANDSHAKE:
			return "tls handshake";
		case MS_LINK_BINDING:
			return "binding";
		case MS_LINK_BOUND:
			return "bound";
		case MS_LINK_UNBINDING:
			return "unbinding";
	}
	return "unknown";
}

void
ms_smpp_publish_stats(MsLink **links, int n)
{
	static MsBindStats rows[MS_BIND_STATS_SLOTS];
	int			nrows = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		MsLink	   *link = links[i];
		int			k;

		for (k = 0; k < link->nsessions && nrows < MS_BIND_STATS_SLOTS; k++)
		{
			MsSession  *s = link->sessions[k];
			MsBindStats *b = &rows[nrows++];

			b->smsc_id = link->cfg.id;
			strlcpy(b->link, link->cfg.name, sizeof(b->link));
			b->bind = s->number;
			b->binds = link->nsessions;
			strlcpy(b->state, state_name(s->state), sizeof(b->state));
			b->window_in_use = s->inflight;
			b->window_size = s->nslots;
			b->max_per_second = link->cfg.max_per_second;
			b->bound_since = s->bound_since;
			b->c = s->counters;
		}
	}
	ms_link_stats_publish(rows, nrows);
}
