/*
 * smpp_session.h
 *	  One SMPP 3.4 ESME link (transceiver) to an SMSC: non-blocking connect
 *	  (and TLS handshake, smpp_transport.h), framing, bind, send window,
 *	  enquire_link, throttling, rate cap, response timeouts, reconnect with
 *	  back-off, unbind.
 *
 * The link never blocks: the worker's loop waits on the socket returned by
 * ms_smpp_wait_socket() with the events of ms_smpp_wait_events() and calls
 * ms_smpp_on_socket() / ms_smpp_tick().  The link does no database work:
 * finished jobs are reported through MsJob.status and received deliver_sm
 * through a list of MsInbound that the loop stores and then acknowledges
 * with ms_smpp_ack_deliver().
 */
#ifndef MOBISIGN_SMPP_SESSION_H
#define MOBISIGN_SMPP_SESSION_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/palloc.h"

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
	int			window_size;
	int			max_per_second;
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
} MsJob;

/*
 * a received deliver_sm waiting to be stored, then acknowledged; allocated in
 * the caller's CurrentMemoryContext during ms_smpp_on_socket()
 */
typedef struct MsInbound
{
	int			link_index;
	int			smsc_id;
	uint64		generation;		/* session it arrived on */
	uint32		seq;
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

extern MsLink *ms_smpp_link_create(const MsSmscConfig *cfg, int index, MemoryContext parent);
extern void ms_smpp_link_destroy(MsLink *link, const char *reason);
extern const MsSmscConfig *ms_smpp_config(MsLink *link);
/* position of the link in the worker's array (MsInbound.link_index) */
extern void ms_smpp_set_index(MsLink *link, int index);
extern MsLinkState ms_smpp_state(MsLink *link);

/* socket to wait on (PGINVALID_SOCKET if none) and WL_SOCKET_* events */
extern pgsocket ms_smpp_wait_socket(MsLink *link);
extern int	ms_smpp_wait_events(MsLink *link);
/* true once after the link opened or closed its socket */
extern bool ms_smpp_socket_changed(MsLink *link);

extern void ms_smpp_on_socket(MsLink *link, int events, TimestampTz now, List **inbound);
extern void ms_smpp_tick(MsLink *link, TimestampTz now);
extern long ms_smpp_next_timeout_ms(MsLink *link, TimestampTz now);

/* window slots a new job could use now (0 unless bound) */
extern int	ms_smpp_free_capacity(MsLink *link);
extern int	ms_smpp_in_flight(MsLink *link);
extern void ms_smpp_enqueue_job(MsLink *link, MsJob *job);
extern void ms_smpp_ack_deliver(MsLink *link, uint64 generation, uint32 seq, uint32 status);

/* shutdown: send unbind (if bound) and say whether the link is quiet */
extern void ms_smpp_unbind(MsLink *link, TimestampTz now);
extern bool ms_smpp_quiet(MsLink *link);

extern const char *ms_smpp_status_text(uint32 status);

#endif
