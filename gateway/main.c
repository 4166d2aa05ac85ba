/*
 * main.c
 *	  mobisign-gateway: an HTTP front for applications that do not speak
 *	  SQL.  Mobile-ID REST (SK-EID/MID v1) under /mid-api/ and ETSI TS 102
 *	  204 REST/JSON under /rest/service, served by libmicrohttpd, calling
 *	  only mobisign's SQL API through libpq (docs/gateway.md).
 *
 * Invariants: every request is bounded before a handler sees it (body at
 * most --max-body octets: longer ones get 413 without being kept; at most
 * --max-clients connections at a time, one thread each; an idle or slow
 * connection is closed after --request-timeout; a long poll waits at most
 * --max-poll-ms, and at most --max-waiters requests wait at a time, so
 * waiting ones never hold every connection; "%00" in a URL is never
 * decoded); every answer is JSON; SIGTERM or SIGINT stops accepting,
 * wakes every waiting request (which answers at once), waits for the
 * connections to finish, closes the database connections and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "gw_api.h"
#include "gw_db.h"
#include "gw_etsi.h"
#include "gw_log.h"
#include "gw_mid.h"
#include "gw_request.h"

typedef struct options
{
	struct sockaddr_in listen;
	const char *conninfo;
	int			pool;
	int			max_clients;
	long		max_body;
	int			request_timeout_s;
	int			max_waiters;
	gw_mid_config mid;
	gw_etsi_config etsi;
} options;

static options opt;

/* The body of one request, collected up to --max-body. */
typedef struct request_ctx
{
	char	   *body;
	size_t		len;
	int			too_big;
	int64_t		started_ms;
} request_ctx;

static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: mobisign-gateway --listen HOST:PORT --conninfo CONNINFO [options]\n"
			"\n"
			"An HTTP gateway to a mobisign database: Mobile-ID REST (SK-EID/MID v1) under\n"
			"/mid-api/ and ETSI TS 102 204 REST/JSON under /rest/service.  It calls only\n"
			"mobisign's SQL API, as the role CONNINFO logs in with (an application role,\n"
			"granted mobisign_app).  Details: docs/gateway.md.\n"
			"\n"
			"  --listen HOST:PORT       IPv4 address and port to serve (e.g. 127.0.0.1:8080)\n"
			"  --conninfo CONNINFO      libpq connection string; keep the password out of it\n"
			"                           (use ~/.pgpass or PGPASSFILE): it is never logged\n"
			"  --pool N                 database connections for requests (default 4, 1..64)\n"
			"  --max-clients N          HTTP connections at a time (default 64, 1..1024)\n"
			"  --max-body BYTES         largest request body (default 16384, 256..1048576)\n"
			"  --request-timeout SEC    close a connection idle this long (default 30)\n"
			"  --max-waiters N          requests that wait for a transaction at a time\n"
			"                           (default half of --max-clients); others answer at\n"
			"                           once (RUNNING, 504), leaving connections for the rest\n"
			"  --min-poll-ms MS         Mobile-ID timeoutMs is raised to this (default 1000)\n"
			"  --max-poll-ms MS         and lowered to this (default 60000); also the\n"
			"                           longest wait of an ETSI synch request's answer\n"
			"  --session-timeout SEC    timeout of the Mobile-ID sessions it starts (default 0:\n"
			"                           mobisign's, 2 min for authentication, 3 for signing;\n"
			"                           at most mobisign.max_timeout)\n"
			"  --help                   this text\n"
			"\n"
			"Stops cleanly on SIGTERM or SIGINT.  Logs one line per request on stderr\n"
			"(method, path, status, milliseconds), never a body, a UUID or the conninfo.\n");
}

static int
parse_int(const char *s, long lo, long hi, long *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_listen(const char *s, struct sockaddr_in *sa)
{
	char		host[64];
	const char *colon = strrchr(s, ':');
	long		port;

	if (colon == NULL || (size_t) (colon - s) >= sizeof(host) ||
		parse_int(colon + 1, 1, 65535, &port) != 0)
		return -1;
	memcpy(host, s, (size_t) (colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t) port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"conninfo", required_argument, NULL, 'c'},
		{"pool", required_argument, NULL, 'p'},
		{"max-clients", required_argument, NULL, 'm'},
		{"max-body", required_argument, NULL, 'b'},
		{"request-timeout", required_argument, NULL, 't'},
		{"min-poll-ms", required_argument, NULL, 'n'},
		{"max-poll-ms", required_argument, NULL, 'x'},
		{"session-timeout", required_argument, NULL, 's'},
		{"max-waiters", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			have_listen = 0;
	long		v;
	int			c;

	opt.pool = 4;
	opt.max_clients = 64;
	opt.max_body = GW_MAX_BODY;
	opt.request_timeout_s = 30;
	opt.mid.min_poll_ms = 1000;
	opt.mid.max_poll_ms = 60000;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'l':
				if (parse_listen(optarg, &opt.listen) != 0)
				{
					fprintf(stderr, "mobisign-gateway: --listen wants IPv4-ADDRESS:PORT\n");
					return -1;
				}
				have_listen = 1;
				break;
			case 'c':
				opt.conninfo = optarg;
				break;
			case 'p':
			case 'm':
			case 'b':
			case 't':
			case 'n':
			case 'x':
			case 's':
			case 'w':
				{
					static const struct
					{
						int			c;
						const char *name;
						long		lo,
									hi;
					}			bounds[] = {
						{'p', "--pool", 1, 64}, {'m', "--max-clients", 1, 1024},
						{'b', "--max-body", 256, 1048576}, {'t', "--request-timeout", 1, 3600},
						{'n', "--min-poll-ms", 0, 600000}, {'x', "--max-poll-ms", 0, 600000},
						{'s', "--session-timeout", 0, 3600}, {'w', "--max-waiters", 1, 1024},
					};

					for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
						if (bounds[i].c == c && parse_int(optarg, bounds[i].lo, bounds[i].hi, &v) != 0)
						{
							fprintf(stderr, "mobisign-gateway: %s wants a number from %ld to %ld\n",
									bounds[i].name, bounds[i].lo, bounds[i].hi);
							return -1;
						}
					if (c == 'p')
						opt.pool = (int) v;
					else if (c == 'm')
						opt.max_clients = (int) v;
					else if (c == 'b')
						opt.max_body = v;
					else if (c == 't')
						opt.request_timeout_s = (int) v;
					else if (c == 'n')
						opt.mid.min_poll_ms = (int) v;
					else if (c == 's')
						opt.mid.session_timeout_s = (int) v;
					else if (c == 'w')
						opt.max_waiters = (int) v;
					else
						opt.mid.max_poll_ms = (int) v;
					break;
				}
			case 'h':
				usage(stdout);
				exit(0);
			default:
				usage(stderr);
				return -1;
		}
	}
	if (optind < argc || !have_listen || opt.conninfo == NULL)
	{
		usage(stderr);
		return -1;
	}
	if (opt.mid.min_poll_ms > opt.mid.max_poll_ms)
	{
		fprintf(stderr, "mobisign-gateway: --min-poll-ms is above --max-poll-ms\n");
		return -1;
	}
	if (opt.max_waiters == 0)
		opt.max_waiters = opt.max_clients > 1 ? opt.max_clients / 2 : 1;
	if (opt.max_waiters > opt.max_clients)
	{
		fprintf(stderr, "mobisign-gateway: --max-waiters is above --max-clients\n");
		return -1;
	}
	opt.etsi.max_wait_ms = opt.mid.max_poll_ms;
	return 0;
}

/* ---- HTTP ---- */

static enum MHD_Result
send_json(struct MHD_Connection *conn, int status, json_t *body)
{
	char	   *text = json_dumps(body, JSON_COMPACT);
	struct MHD_Response *r;
	enum MHD_Result rc;

	json_decref(body);
	if (text == NULL)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
	{
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json;charset=UTF-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	rc = MHD_queue_response(conn, (unsigned int) status, r);
	MHD_destroy_response(r);
	return rc;
}

static json_t *
plain_error(const char *message)
{
	return json_pack("{s:s}", "error", message);
}

static void
log_request(const char *method, const char *url, int status, const request_ctx *ctx)
{
	char		path[128];

	gw_log_path(url, path, sizeof(path));
	gw_log("%.8s %s %d %lld ms", method, path, status,
		   (long long) (gw_now_ms() - ctx->started_ms));
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	request_ctx *ctx = *con_cls;
	gw_http_request req;
	gw_reply	reply = {0, NULL};
	static const char mid_prefix[] = "/mid-api/";

	(void) cls;
	(void) version;
	if (ctx == NULL)
	{
		const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

		ctx = calloc(1, sizeof(*ctx));
		if (ctx == NULL)
			return MHD_NO;
		ctx->started_ms = gw_now_ms();
		*con_cls = ctx;
		/* refused before a byte of it is read */
		if (length != NULL && (strlen(length) > 9 || atol(length) > opt.max_body))
		{
			ctx->too_big = 1;
			log_request(method, url, 413, ctx);
			return send_json(conn, 413, plain_error("Request body too large"));
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		if (!ctx->too_big && ctx->len + *upload_data_size <= (size_t) opt.max_body)
		{
			char	   *b = realloc(ctx->body, ctx->len + *upload_data_size + 1);

			if (b == NULL)
				return MHD_NO;
			ctx->body = b;
			memcpy(ctx->body + ctx->len, upload_data, *upload_data_size);
			ctx->len += *upload_data_size;
			ctx->body[ctx->len] = '\0';
		}
		else
		{
			/* chunked and too long: dropped as it comes, answered at the end */
			ctx->too_big = 1;
			free(ctx->body);
			ctx->body = NULL;
			ctx->len = 0;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ctx->too_big)
	{
		log_request(method, url, 413, ctx);
		return send_json(conn, 413, plain_error("Request body too large"));
	}

	req.method = method;
	req.body = ctx->body ? ctx->body : "";
	req.body_len = ctx->len;
	req.timeout_ms = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "timeoutMs");
	if (strncmp(url, mid_prefix, sizeof(mid_prefix) - 1) == 0)
	{
		req.path = url + sizeof(mid_prefix) - 1;
		gw_mid_handle(&req, &opt.mid, &reply);
	}
	else if (strcmp(url, "/rest/service") == 0 || strcmp(url, "/rest/service/") == 0)
	{
		req.path = "";
		gw_etsi_handle(&req, &opt.etsi, &reply);
	}
	else
	{
		reply.status = 404;
		reply.body = plain_error("Not found");
	}
	if (reply.body == NULL)
	{
		reply.status = 500;
		reply.body = plain_error("Internal error");
	}
	log_request(method, url, reply.status, ctx);
	return send_json(conn, reply.status, reply.body);
}

static size_t
unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void) cls;
	(void) conn;
	return gw_url_unescape(s);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	request_ctx *ctx = *con_cls;

	(void) cls;
	(void) conn;
	(void) toe;
	if (ctx != NULL)
	{
		free(ctx->body);
		free(ctx);
		*con_cls = NULL;
	}
}

int
main(int argc, char **argv)
{
	sigset_t	sigs;
	int			sig;
	struct MHD_Daemon *d;
	gw_db_config db;
	char		where[INET_ADDRSTRLEN];

	if (parse_options(argc, argv) != 0)
		return 2;
	/* every thread inherits this mask: only main takes the signals */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	db.conninfo = opt.conninfo;
	db.pool_size = opt.pool;
	db.acquire_ms = 5000;
	db.statement_ms = 10000;
	db.max_waiters = opt.max_waiters;
	if (gw_db_start(&db) != 0)
	{
		gw_log("cannot start: the database is not reachable with the conninfo given");
		return 1;
	}
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
						 MHD_USE_ERROR_LOG,
						 0, NULL, NULL, handle, NULL,
						 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &opt.listen,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) opt.max_clients,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) opt.request_timeout_s,
						 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 65536,
						 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
						 MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
						 MHD_OPTION_END);
	if (d == NULL)
	{
		gw_log("cannot listen on the address given (in use, or not local)");
		gw_db_stop();
		return 1;
	}
	inet_ntop(AF_INET, &opt.listen.sin_addr, where, sizeof(where));
	gw_log("listening on %s:%d (pool %d, max clients %d, max body %ld)", where,
		   ntohs(opt.listen.sin_port), opt.pool, opt.max_clients, opt.max_body);
	while (sigwait(&sigs, &sig) != 0)
		;
	gw_log("signal %d: stopping", sig);
	MHD_quiesce_daemon(d);		/* no new connection */
	gw_db_begin_stop();			/* waiting requests answer now */
	/* their answers are sent before the sockets close (at most 5 s) */
	for (int i = 0; i < 100; i++)
	{
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		struct timespec ts = {0, 50 * 1000000L};

		if (info == NULL || info->num_connections == 0)
			break;
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(d);
	gw_db_stop();
	gw_log("stopped");
	return 0;
}
