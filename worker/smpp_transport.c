/*-------------------------------------------------------------------------
 *
 * smpp_transport.c
 *	  Clear or TLS byte stream of one SMPP link (see smpp_transport.h).
 *
 * TLS is OpenSSL's client over the session's non-blocking socket.  Before
 * every SSL_* call the thread's error queue is cleared: the worker also runs
 * the SIM channel's SQL functions, which use OpenSSL in the same process,
 * and SSL_get_error() is only right with an empty queue.  The worker ignores
 * SIGPIPE (as every PostgreSQL background process), so a write to a closed
 * peer is an EPIPE result, never a signal.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "storage/latch.h"

#include "keystore.h"
#include "ossl.h"
#include "smpp_transport.h"

/* a PEM private key is a few kB; anything larger is not one */
#define MS_TLS_KEY_FILE_MAX (64 * 1024)

struct MsTlsContext
{
	MsScope    *scope;			/* owns ctx */
	SSL_CTX    *ctx;
	char		peer_name[256]; /* checked in the certificate; SNI if a DNS name */
	bool		peer_is_ip;
};

struct MsTransport
{
	int			sock;
	MsScope    *scope;			/* owns ssl; NULL for a clear transport */
	SSL		   *ssl;
	const char *peer_name;		/* the context's, for messages */
	bool		handshake_done;
	bool		broken;			/* a fatal TLS error: no close_notify */
	int			handshake_wants;	/* WL_SOCKET_* while handshaking */
	bool		read_needs_write;
};

MS_SCOPE_FREE_FN(free_ssl_ctx, SSL_CTX, SSL_CTX_free);
MS_SCOPE_FREE_FN(free_ssl, SSL, SSL_free);

/* an encrypted key would need a passphrase that nobody can type in the worker */
static int
refuse_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* err = "<what>: <most specific OpenSSL reason>"; the queue is emptied */
static void
ossl_failure(char err[MS_TRANSPORT_ERRLEN], const char *what)
{
	char	   *reason = ms_ossl_error();

	snprintf(err, MS_TRANSPORT_ERRLEN, "%s: %s", what, reason);
	pfree(reason);
}

/*
 * A file OpenSSL will open: say why it cannot be read, with errno's words
 * rather than OpenSSL's "system lib".  Only a regular file: OpenSSL's open
 * of a FIFO would block the worker until someone writes to it.
 */
static bool
file_readable(const char *setting, const char *path, char err[MS_TRANSPORT_ERRLEN])
{
	struct stat st;

	if (stat(path, &st) != 0 || access(path, R_OK) != 0)
	{
		snprintf(err, MS_TRANSPORT_ERRLEN, "cannot read %s \"%s\": %s", setting, path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode))
	{
		snprintf(err, MS_TRANSPORT_ERRLEN, "%s \"%s\" is not a regular file", setting, path);
		return false;
	}
	return true;
}

static bool
is_ip_literal(const char *name)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* the client key: the key file rule, then PEM, never an encrypted key */
static bool
load_client_key(SSL_CTX *ctx, const char *path, char err[MS_TRANSPORT_ERRLEN])
{
	char	   *buf = palloc(MS_TLS_KEY_FILE_MAX);
	size_t		len;
	MsKeyFileStatus st;
	MsScope    *scope;
	BIO		   *bio;
	EVP_PKEY   *pkey = NULL;
	bool		ok = false;

	st = ms_read_key_file(path, true, buf, MS_TLS_KEY_FILE_MAX, &len);
	switch (st)
	{
		case MS_KEY_FILE_OK:
			break;
		case MS_KEY_FILE_CANNOT_OPEN:
		case MS_KEY_FILE_CANNOT_STAT:
		case MS_KEY_FILE_CANNOT_READ:
			snprintf(err, MS_TRANSPORT_ERRLEN, "cannot read tls_key_file \"%s\": %s",
					 path, strerror(errno));
			break;
		case MS_KEY_FILE_OPEN_TO_OTHERS:
			snprintf(err, MS_TRANSPORT_ERRLEN, "tls_key_file \"%s\" is open to others (%s)",
					 path, MS_KEY_FILE_RULE);
			break;
		case MS_KEY_FILE_TOO_LARGE:
			snprintf(err, MS_TRANSPORT_ERRLEN, "tls_key_file \"%s\" is larger than %d kB",
					 path, MS_TLS_KEY_FILE_MAX / 1024);
			break;
		case MS_KEY_FILE_NOT_REGULAR:
			snprintf(err, MS_TRANSPORT_ERRLEN, "tls_key_file \"%s\" is not a regular file", path);
			break;
	}
	if (st != MS_KEY_FILE_OK)
	{
		pfree(buf);
		return false;
	}

	scope = ms_scope_create();
	ERR_clear_error();
	bio = ms_scope_bio(scope, BIO_new_mem_buf(buf, (int) len));
	if (bio != NULL)
		pkey = ms_scope_pkey(scope, PEM_read_bio_PrivateKey(bio, NULL, refuse_passphrase, NULL));
	if (pkey == NULL)
	{
		ERR_clear_error();
		snprintf(err, MS_TRANSPORT_ERRLEN,
				 "tls_key_file \"%s\" holds no PEM private key without passphrase", path);
	}
	else if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		ossl_failure(err, "tls_key_file does not match tls_cert_file");
	else
		ok = true;
	ms_scope_release(scope);	/* the context keeps its own reference */
	ms_keystore_wipe(buf, MS_TLS_KEY_FILE_MAX);
	pfree(buf);
	return ok;
}

MsTlsContext *
ms_tls_context_create(const MsTlsConfig *cfg, const char *host, MemoryContext cxt,
					  char err[MS_TRANSPORT_ERRLEN])
{
	MemoryContext old;
	MsTlsContext *tc;
	SSL_CTX    *ctx;
	const char *name = cfg->server_name[0] != '\0' ? cfg->server_name : host;

	if (cfg->ca_file[0] == '\0')
	{
		snprintf(err, MS_TRANSPORT_ERRLEN,
				 "tls_ca_file is not set; a TLS link verifies the SMSC with the CA certificates of that file only");
		return NULL;
	}
	if ((cfg->cert_file[0] == '\0') != (cfg->key_file[0] == '\0'))
	{
		snprintf(err, MS_TRANSPORT_ERRLEN, "tls_cert_file and tls_key_file must be set together");
		return NULL;
	}
	if (strlen(name) >= sizeof(tc->peer_name))
	{
		snprintf(err, MS_TRANSPORT_ERRLEN, "the server name to check is too long");
		return NULL;
	}

	old = MemoryContextSwitchTo(cxt);
	tc = palloc0(sizeof(MsTlsContext));
	tc->scope = ms_scope_create();
	MemoryContextSwitchTo(old);
	strlcpy(tc->peer_name, name, sizeof(tc->peer_name));
	tc->peer_is_ip = is_ip_literal(name);

	ERR_clear_error();
	ctx = ms_scope_add(tc->scope, SSL_CTX_new(TLS_client_method()), free_ssl_ctx);
	if (ctx == NULL)
	{
		ossl_failure(err, "cannot create a TLS context");
		goto fail;
	}
	tc->ctx = ctx;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
	{
		ossl_failure(err, "cannot require TLS 1.2");
		goto fail;
	}
	/*
	 * SMPP frames itself, so a peer that closes without close_notify cut no
	 * message short: it is a closed connection, as with clear TCP.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
						SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* the output buffer moves and grows between retries of a write */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!file_readable("tls_ca_file", cfg->ca_file, err))
		goto fail;
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1)
	{
		char		what[MAXPGPATH + 40];

		snprintf(what, sizeof(what), "cannot load tls_ca_file \"%s\"", cfg->ca_file);
		ossl_failure(err, what);
		goto fail;
	}
	if (cfg->cert_file[0] != '\0')
	{
		if (!file_readable("tls_cert_file", cfg->cert_file, err))
			goto fail;
		if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
		{
			char		what[MAXPGPATH + 40];

			snprintf(what, sizeof(what), "cannot load tls_cert_file \"%s\"", cfg->cert_file);
			ossl_failure(err, what);
			goto fail;
		}
		if (!load_client_key(ctx, cfg->key_file, err))
			goto fail;
	}
	return tc;

fail:
	ms_tls_context_free(tc);
	return NULL;
}

void
ms_tls_context_free(MsTlsContext *tc)
{
	if (tc == NULL)
		return;
	ms_scope_release(tc->scope);
	pfree(tc);
}

MsTransport *
ms_transport_open(int sock, MsTlsContext *tls, MemoryContext cxt, char err[MS_TRANSPORT_ERRLEN])
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	MsTransport *t = palloc0(sizeof(MsTransport));
	SSL		   *ssl;

	t->sock = sock;
	if (tls == NULL)
	{
		t->handshake_done = true;
		MemoryContextSwitchTo(old);
		return t;
	}
	t->scope = ms_scope_create();
	MemoryContextSwitchTo(old);
	t->peer_name = tls->peer_name;
	t->handshake_wants = WL_SOCKET_WRITEABLE;

	ERR_clear_error();
	ssl = ms_scope_add(t->scope, SSL_new(tls->ctx), free_ssl);
	if (ssl == NULL || SSL_set_fd(ssl, sock) != 1)
	{
		ossl_failure(err, "cannot start TLS");
		goto fail;
	}
	SSL_set_connect_state(ssl);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (tls->peer_is_ip)
	{
		/* an address is checked against the certificate's IP SANs; no SNI */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), tls->peer_name) != 1)
		{
			ossl_failure(err, "cannot set the address to check");
			goto fail;
		}
	}
	else if (SSL_set1_host(ssl, tls->peer_name) != 1 ||
			 SSL_set_tlsext_host_name(ssl, tls->peer_name) != 1)
	{
		ossl_failure(err, "cannot set the host name to check");
		goto fail;
	}
	t->ssl = ssl;
	return t;

fail:
	ms_scope_release(t->scope);
	pfree(t);
	return NULL;
}

void
ms_transport_close(MsTransport *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL)
	{
		/* one non-blocking try at close_notify; the socket closes anyway */
		if (t->handshake_done && !t->broken)
		{
			ERR_clear_error();
			(void) SSL_shutdown(t->ssl);
			ERR_clear_error();
		}
		ms_scope_release(t->scope);
	}
	pfree(t);
}

/*
 * The result of a failed SSL_* call r; for MS_IO_FAILED err is the reason,
 * after "what: " unless what is NULL.
 */
static MsIoResult
tls_result(MsTransport *t, int r, const char *what, char err[MS_TRANSPORT_ERRLEN])
{
	int			save_errno = errno;
	int			e = SSL_get_error(t->ssl, r);
	unsigned long code;

	switch (e)
	{
		case SSL_ERROR_WANT_READ:
			return MS_IO_WANT_READ;
		case SSL_ERROR_WANT_WRITE:
			return MS_IO_WANT_WRITE;
		case SSL_ERROR_ZERO_RETURN:
			return MS_IO_CLOSED;	/* close_notify */
		case SSL_ERROR_SYSCALL:
			t->broken = true;
			if (ERR_peek_error() == 0)
			{
				if (save_errno == 0 || save_errno == ECONNRESET || save_errno == EPIPE)
					return MS_IO_CLOSED;	/* EOF without close_notify */
				snprintf(err, MS_TRANSPORT_ERRLEN, "%s%s%s", what ? what : "",
						 what ? ": " : "", strerror(save_errno));
				return MS_IO_FAILED;
			}
			break;
		default:
			t->broken = true;
			break;
	}
	code = ERR_peek_last_error();
	if (what != NULL)
		ossl_failure(err, what);
	else
	{
		char	   *reason = ms_ossl_error();

		strlcpy(err, reason, MS_TRANSPORT_ERRLEN);
		pfree(reason);
	}
	/* a peer that answers in clear: say so */
	if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
		(ERR_GET_REASON(code) == SSL_R_WRONG_VERSION_NUMBER ||
		 ERR_GET_REASON(code) == SSL_R_PACKET_LENGTH_TOO_LONG ||
		 ERR_GET_REASON(code) == SSL_R_UNKNOWN_PROTOCOL))
		strlcat(err, " (is the SMSC speaking TLS on this port?)", MS_TRANSPORT_ERRLEN);
	return MS_IO_FAILED;
}

MsIoResult
ms_transport_handshake(MsTransport *t, char err[MS_TRANSPORT_ERRLEN])
{
	int			r;
	long		vr;
	MsIoResult	res;

	if (t->handshake_done)
		return MS_IO_DONE;
	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(t->ssl);
	if (r == 1)
	{
		/*
		 * SSL_VERIFY_PEER without a callback already ended any handshake
		 * whose certificate failed; this is the second lock on that door
		 * (a peer certificate, verified), should a later change loosen the
		 * first.
		 */
		if (SSL_get0_peer_certificate(t->ssl) == NULL ||
			SSL_get_verify_result(t->ssl) != X509_V_OK)
		{
			t->broken = true;
			snprintf(err, MS_TRANSPORT_ERRLEN,
					 "the SMSC presented no verified certificate");
			return MS_IO_FAILED;
		}
		t->handshake_done = true;
		t->handshake_wants = 0;
		return MS_IO_DONE;
	}
	res = tls_result(t, r, NULL, err);
	if (res == MS_IO_WANT_READ || res == MS_IO_WANT_WRITE)
	{
		t->handshake_wants = res == MS_IO_WANT_READ ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
		return res;
	}
	t->broken = true;

	/* the certificate check that failed says more than the alert it caused */
	vr = SSL_get_verify_result(t->ssl);
	if (vr != X509_V_OK)
	{
		const char *why = X509_verify_cert_error_string(vr);

		ERR_clear_error();
		if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
			snprintf(err, MS_TRANSPORT_ERRLEN,
					 "certificate verification failed: %s (the certificate is not for \"%s\")",
					 why, t->peer_name);
		else
			snprintf(err, MS_TRANSPORT_ERRLEN,
					 "certificate verification failed: %s (is tls_ca_file the CA of the SMSC's certificate?)",
					 why);
		return MS_IO_FAILED;
	}
	if (res == MS_IO_CLOSED)
		snprintf(err, MS_TRANSPORT_ERRLEN, "the SMSC closed the connection during the handshake");
	return MS_IO_FAILED;
}

void
ms_transport_describe(MsTransport *t, char *buf, size_t len)
{
	MsScope    *scope;
	X509	   *peer;
	char	   *subject;

	if (t->ssl == NULL)
	{
		strlcpy(buf, "clear TCP", len);
		return;
	}
	scope = ms_scope_create();
	peer = ms_scope_x509(scope, SSL_get1_peer_certificate(t->ssl));
	subject = peer ? ms_name_text(X509_get_subject_name(peer)) : pstrdup("none");
	snprintf(buf, len, "%s %s, certificate \"%s\" verified for \"%s\"",
			 SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl), subject, t->peer_name);
	pfree(subject);
	ms_scope_release(scope);
}

/*
 * The result of recv() or send() on a clear transport: *n bytes done, the
 * peer closed, "want" (try again once the socket is ready; errno EAGAIN or
 * EINTR), or failed with errno's words in err.
 */
static MsIoResult
clear_result(ssize_t done, MsIoResult want, int *n, char err[MS_TRANSPORT_ERRLEN])
{
	if (done > 0)
	{
		*n = (int) done;
		return MS_IO_DONE;
	}
	if (done == 0)
		return MS_IO_CLOSED;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return want;
	strlcpy(err, strerror(errno), MS_TRANSPORT_ERRLEN);
	return MS_IO_FAILED;
}

MsIoResult
ms_transport_read(MsTransport *t, void *buf, int len, int *n, char err[MS_TRANSPORT_ERRLEN])
{
	int			r;
	MsIoResult	res;

	*n = 0;
	if (t->ssl == NULL)
		return clear_result(recv(t->sock, buf, len, 0), MS_IO_WANT_READ, n, err);
	ERR_clear_error();
	errno = 0;
	r = SSL_read(t->ssl, buf, len);
	t->read_needs_write = false;
	if (r > 0)
	{
		*n = r;
		return MS_IO_DONE;
	}
	res = tls_result(t, r, "TLS read", err);
	t->read_needs_write = (res == MS_IO_WANT_WRITE);
	return res;
}

/*
 * A write failed because the peer went away.  The peer often said why just
 * before (a TLS alert: under TLS 1.3 the client's side of the handshake ends
 * before the server checks the client's certificate, so "certificate
 * required" comes after the first write).  Read once: if an alert is there,
 * it is the reason.  Whatever else is read is dropped; the link closes.
 */
static MsIoResult
alert_after_failed_write(MsTransport *t, MsIoResult res, char err[MS_TRANSPORT_ERRLEN])
{
	char		scratch[512];
	int			r;

	ERR_clear_error();
	r = SSL_read(t->ssl, scratch, sizeof(scratch));
	if (r <= 0 && SSL_get_error(t->ssl, r) == SSL_ERROR_SSL && ERR_peek_error() != 0)
	{
		ossl_failure(err, "TLS write");
		return MS_IO_FAILED;
	}
	ERR_clear_error();
	return res;
}

MsIoResult
ms_transport_write(MsTransport *t, const void *buf, int len, int *n, char err[MS_TRANSPORT_ERRLEN])
{
	int			r;
	MsIoResult	res;

	*n = 0;
	if (t->ssl == NULL)
		return clear_result(send(t->sock, buf, len, MSG_NOSIGNAL), MS_IO_WANT_WRITE, n, err);
	ERR_clear_error();
	errno = 0;
	r = SSL_write(t->ssl, buf, len);
	if (r > 0)
	{
		*n = r;
		return MS_IO_DONE;
	}
	res = tls_result(t, r, "TLS write", err);
	if (res == MS_IO_CLOSED || res == MS_IO_FAILED)
		res = alert_after_failed_write(t, res, err);
	return res;
}

bool
ms_transport_pending(MsTransport *t)
{
	return t != NULL && t->ssl != NULL && SSL_pending(t->ssl) > 0;
}

int
ms_transport_wait_events(MsTransport *t)
{
	if (t == NULL || t->ssl == NULL)
		return 0;
	if (!t->handshake_done)
		return t->handshake_wants;
	return t->read_needs_write ? WL_SOCKET_WRITEABLE : 0;
}

bool
ms_transport_read_needs_write(MsTransport *t)
{
	return t != NULL && t->read_needs_write;
}
