/*
 * smpp_session.h
 *	  One SMPP 3.4 ESME link to an SMSC: a row of mobisign.smsc, opened as
 *	  cfg.binds transceiver sessions (binds).  Each session has its own
 *	  non-blocking connect (and TLS handshake, smpp_transport.h), framing,
 *	  bind, sequence numbers, send window, rate cap (token bucket),
 *	  enquire_link, throttling pause, response timeouts, reconnect with
 *	  back-off and unbind.
 *
 * Jobs are queued on the link; each segment goes to the bound session with
 * the most free window that may send now (not paused, a token left), so
 * every session's window is kept full.  A session that is lost hands back
 * as temporary failures the jobs it had in flight; the others go on, and
 * the link's queued segments wait for them (or fail too when no session of
 * the link is bound any more).  deliver_sm are received on every session
 * and acknowledged on the session (MsInbound.generation) they came on.
 *
 * The link never blocks: the worker's loop waits on the socket of each
 * session (ms_smpp_session(), ms_smpp_wait_socket(), ms_smpp_wait_events())
 * and calls ms_smpp_on_socket() / ms_smpp_tick().  The link does no
 * database work: finished jobs are reported through MsJob.status and
 * received deliver_sm through a list of MsInbound that the loop stores and
 * then acknowledges with ms_smpp_ack_deliver().
 */
#ifndef MOBISIGN_SMPP_SESSION_H
#define MOBISIGN_SMPP_SESSION_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/palloc.h"

#include "link_stats.h"
#include "smpp_transport.h"
#include "smpp.h"

/*
 * Largest PDU accepted from an SMSC; anything longer breaks the session.
 * The limits live in the codec (codec/smpp.h).
 */
#define MS_SMPP_MAX_PDU MSC_SMPP_MAX_PDU
#define MS_SMPP_HEADER_LEN MSC_SMPP_HEADER_LEN

/* command_status values the loop needs (same as libsmpp34's) */
#define MS_SMPP_ROK 0x00000000
#define MS_SMPP_RX_T_APPN 0x00000064	/* temporary: the SMSC redelivers */

/* one row of mobisign.smsc (the password is kept only in the worker) */
typedef struct MsSmscConfig
{
	int			id;
	char		name[64];
	char		host[256];
	int			port;
	bool		tls;
	char		system_id[16];
	char		password[9];
	char		system_type[13];
	char		source_addr[21];
	int			binds;			/* sessions opened (1 .. MS_SMPP_MAX_BINDS) */
	int			window_size;	/* per session */
	int			max_per_second; /* per session */
	int			enquire_link_ms;
	int			reconnect_ms;
	int			response_timeout_ms;
	int			connect_timeout_ms; /* TCP connect, and TLS handshake */
	MsTlsConfig tls_files;		/* used when tls */
} MsSmscConfig;

typedef enum MsJobStatus
{
	MS_JOB_SENDING,
	MS_JOB_OK,					/* every segment answered ESME_ROK */
	MS_JOB_TEMPFAIL,			/* retry later (connection lost, timeout...) */
	MS_JOB_PERMFAIL				/* the SMSC refused it for good */
} MsJobStatus;

/* one claimed request_queue row */
typedef struct MsJob
{
	MemoryContext cxt;			/* owns the job and everything in it */
	char		txid[40];
	char		msisdn[24];
	int			attempts;
	int			nsegs;
	uint8	  **seg;
	int		   *seglen;
	char	  **message_ids;
	int			acked;			/* segments answered OK */
	int			outstanding;	/* segments queued or in flight on a link */
	MsJobStatus status;
	char		reason[160];
	int			link_index;
	TimestampTz due_again;		/* when its row is due again, 0: closed (ms_queue_finish) */
} MsJob;

/*
 * a received deliver_sm waiting to be stored, then acknowledged; allocated in
 * the caller's CurrentMemoryContext during ms_smpp_on_socket()
 */
typedef struct MsInbound
{
	int			link_index;
	int			smsc_id;
	uint64		generation;		/* session it arrived on (unique within the link) */
	uint32		seq;
	TimestampTz read_at;		/* when the loop read it from the socket */
	bool		receipt;		/* delivery receipt: acknowledge only */
	bool		stored;			/* set by the loop once committed */
	bool		inserted;		/* new (not a duplicate of a stored one) */
	char		msisdn[24];
	int			concat_ref;		/* -1: not concatenated */
	int			total;
	int			seqno;
	int			len;
	uint8	   *data;
} MsInbound;

typedef enum MsLinkState
{
	MS_LINK_DISCONNECTED,
	MS_LINK_CONNECTING,
	MS_LINK_TLS_HANDSHAKE,
	MS_LINK_BINDING,
	MS_LINK_BOUND,
	MS_LINK_UNBINDING
} MsLinkState;

typedef struct MsLink MsLink;
typedef struct MsSession MsSession;

extern MsLink *ms_smpp_link_create(const MsSmscConfig *cfg, int index, MemoryContext parent);
extern void ms_smpp_link_destroy(MsLink *link, const char *reason);
extern const MsSmscConfig *ms_smpp_config(MsLink *link);
/* position of the link in the worker's array (MsInbound.link_index) */
extern void ms_smpp_set_index(MsLink *link, int index);
/* MS_LINK_BOUND when one session is bound, else the first session's state */
extern MsLinkState ms_smpp_state(MsLink *link);
extern int	ms_smpp_sessions_bound(MsLink *link);

/* the link's sessions, 0 .. ms_smpp_nsessions() - 1 */
extern int	ms_smpp_nsessions(MsLink *link);
extern MsSession *ms_smpp_session(MsLink *link, int k);

/* socket to wait on (PGINVALID_SOCKET if none) and WL_SOCKET_* events */
extern pgsocket ms_smpp_wait_socket(MsSession *s);
extern int	ms_smpp_wait_events(MsSession *s);
/* true once after a session of the link opened or closed its socket */
extern bool ms_smpp_socket_changed(MsLink *link);

extern void ms_smpp_on_socket(MsSession *s, int events, TimestampTz now, List **inbound);
extern void ms_smpp_tick(MsLink *link, TimestampTz now);
extern long ms_smpp_next_timeout_ms(MsLink *link, TimestampTz now);

/* window slots a new job could use now, over the bound sessions */
extern int	ms_smpp_free_capacity(MsLink *link);
extern int	ms_smpp_in_flight(MsLink *link);
/* the window of every session together */
extern int	ms_smpp_window_size(MsLink *link);
extern void ms_smpp_enqueue_job(MsLink *link, MsJob *job);
extern void ms_smpp_ack_deliver(MsLink *link, uint64 generation, uint32 seq, uint32 status);
/* between the two, what the link writes waits, then goes out in one send per session */
extern void ms_smpp_cork(MsLink *link);
extern void ms_smpp_uncork(MsLink *link, TimestampTz now);

/* shutdown: send unbind on every bound session; are they all closed? */
extern void ms_smpp_unbind(MsLink *link, TimestampTz now);
extern bool ms_smpp_quiet(MsLink *link);

/* publish every session of links[0..n-1] to mobisign.worker_binds */
extern void ms_smpp_publish_stats(MsLink **links, int n);

extern const char *ms_smpp_status_text(uint32 status);

#endif
