/*
 * smpp_transport.h
 *	  The bytes of one SMPP link's connection: clear TCP, or TLS (OpenSSL) in
 *	  front of it.
 *
 * The session (smpp_session.c) owns the socket: it connects it, waits on it
 * and closes it.  A transport only moves bytes over that connected,
 * non-blocking socket and says which readiness it needs next; it never
 * blocks, never raises an error (a failure is a result and a message) and
 * logs nothing.
 *
 * Invariants of the TLS side:
 * - the SMSC's certificate is verified against the link's CA file only (no
 *   system store), for the link's server name (host name, or IP address when
 *   the name is one), TLS 1.2 at least, no renegotiation;
 * - a client key file obeys the project's key file rule (keystore.h) and its
 *   content is never logged, copied or kept outside OpenSSL;
 * - every OpenSSL object belongs to an MsScope, so deleting the memory
 *   context it was created in frees it;
 * - after a read that returned data, ms_transport_pending() says whether
 *   OpenSSL still holds decrypted bytes, which no socket readiness will
 *   announce: the caller reads again before it waits.
 */
#ifndef MOBISIGN_SMPP_TRANSPORT_H
#define MOBISIGN_SMPP_TRANSPORT_H

#include "utils/palloc.h"

/* The TLS settings of one link (columns tls_* of mobisign.smsc). */
typedef struct MsTlsConfig
{
	char		ca_file[MAXPGPATH];
	char		server_name[256];	/* "" = the link's host */
	char		cert_file[MAXPGPATH];	/* "" = no client certificate */
	char		key_file[MAXPGPATH];
} MsTlsConfig;

/* What an operation did, or what it waits for. */
typedef enum MsIoResult
{
	MS_IO_DONE,					/* finished, or moved *n > 0 bytes */
	MS_IO_WANT_READ,			/* call again when the socket is readable */
	MS_IO_WANT_WRITE,			/* call again when the socket is writeable */
	MS_IO_CLOSED,				/* the peer closed the connection */
	MS_IO_FAILED				/* broken; the message says why */
} MsIoResult;

/* room for a file path and OpenSSL's reason */
#define MS_TRANSPORT_ERRLEN (MAXPGPATH + 256)

/* An SSL_CTX built from one link's settings. */
typedef struct MsTlsContext MsTlsContext;

/* One connection's byte stream. */
typedef struct MsTransport MsTransport;

/*
 * Build the TLS context of a link whose host is host.  Files are read now.
 * NULL on failure, with the reason (naming the setting, never a key) in err.
 * The context lives in cxt until ms_tls_context_free() or the deletion of cxt.
 */
extern MsTlsContext *ms_tls_context_create(const MsTlsConfig *cfg, const char *host,
										   MemoryContext cxt,
										   char err[MS_TRANSPORT_ERRLEN]);
extern void ms_tls_context_free(MsTlsContext *ctx);

/*
 * A transport over a connected socket: clear when tls is NULL, else a TLS
 * client whose handshake ms_transport_handshake() drives.  NULL (TLS only)
 * with err on failure.
 */
extern MsTransport *ms_transport_open(int sock, MsTlsContext *tls, MemoryContext cxt,
									  char err[MS_TRANSPORT_ERRLEN]);

/* Best-effort TLS close_notify, then free; the socket is left to the caller. */
extern void ms_transport_close(MsTransport *t);

/*
 * Advance the handshake: MS_IO_DONE once the SMSC is verified (at once for a
 * clear transport), MS_IO_WANT_* while it goes on, MS_IO_FAILED/CLOSED with
 * the check that failed in err.
 */
extern MsIoResult ms_transport_handshake(MsTransport *t, char err[MS_TRANSPORT_ERRLEN]);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384, certificate CN=..." into buf. */
extern void ms_transport_describe(MsTransport *t, char *buf, size_t len);

/* Move up to len bytes; MS_IO_DONE with *n > 0 when some moved. */
extern MsIoResult ms_transport_read(MsTransport *t, void *buf, int len, int *n,
									char err[MS_TRANSPORT_ERRLEN]);
extern MsIoResult ms_transport_write(MsTransport *t, const void *buf, int len, int *n,
									 char err[MS_TRANSPORT_ERRLEN]);

/* decrypted bytes waiting inside OpenSSL (read them before waiting) */
extern bool ms_transport_pending(MsTransport *t);

/*
 * WL_SOCKET_* events the transport needs besides the caller's own: during the
 * handshake the direction OpenSSL asked for; afterwards WRITEABLE while a
 * read waits for the socket to take TLS output (readable is always wanted).
 */
extern int	ms_transport_wait_events(MsTransport *t);
/* the last read stopped because TLS had to write first */
extern bool ms_transport_read_needs_write(MsTransport *t);

#endif
