/*
 * gw_db.c
 *	  mobisign-gateway: connection pool and the LISTEN mobisign listener
 *	  (see gw_db.h for the invariants).
 */
#define _GNU_SOURCE
#include "gw_db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gw_log.h"

static gw_db_config config;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static PGconn **pool;
static int *pool_busy;

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond;
static gw_waiter *waiters;
static int	n_waiters;			/* in the list; at most config.max_waiters */

static pthread_t listener;
static volatile int stopping;
static int listener_started;

int64_t
gw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
gw_stopping(void)
{
	return stopping;
}

/* A new connection with the session settings every request relies on. */
static PGconn *
connect_one(void)
{
	PGconn	   *c = PQconnectdb(config.conninfo);
	char		sql[96];

	if (PQstatus(c) != CONNECTION_OK)
	{
		/* libpq's message names host and role, never the password */
		gw_log("database connection failed: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	snprintf(sql, sizeof(sql), "SET statement_timeout = %d; SET application_name = 'mobisign-gateway'",
			 config.statement_ms);
	PQclear(PQexec(c, sql));
	return c;
}

PGresult *
gw_db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

PGconn *
gw_db_acquire(void)
{
	struct timespec until;
	PGconn	   *c = NULL;
	int			slot = -1;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += config.acquire_ms / 1000;
	until.tv_nsec += (long) (config.acquire_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
	{
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pool_lock);
	for (;;)
	{
		for (int i = 0; i < config.pool_size && slot < 0; i++)
			if (!pool_busy[i])
				slot = i;
		/* while stopping a free connection still serves a request's last read */
		if (slot >= 0 || stopping)
			break;
		if (pthread_cond_timedwait(&pool_cond, &pool_lock, &until) == ETIMEDOUT)
			break;
	}
	if (slot >= 0)
	{
		pool_busy[slot] = 1;
		c = pool[slot];
	}
	pthread_mutex_unlock(&pool_lock);
	if (slot < 0)
		return NULL;
	if (c == NULL || PQstatus(c) != CONNECTION_OK)
	{
		/* lost since its last use (or never made): a fresh one */
		if (c != NULL)
			PQfinish(c);
		c = connect_one();
		pthread_mutex_lock(&pool_lock);
		pool[slot] = c;
		if (c == NULL)
		{
			pool_busy[slot] = 0;
			pthread_cond_signal(&pool_cond);
		}
		pthread_mutex_unlock(&pool_lock);
	}
	return c;
}

void
gw_db_release(PGconn *conn)
{
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < config.pool_size; i++)
		if (pool[i] == conn && pool_busy[i])
		{
			/* a connection left inside a transaction block is of no use */
			if (PQtransactionStatus(conn) != PQTRANS_IDLE)
			{
				PQfinish(conn);
				pool[i] = NULL;
			}
			pool_busy[i] = 0;
			pthread_cond_signal(&pool_cond);
			break;
		}
	pthread_mutex_unlock(&pool_lock);
}

/* ---- waiters ---- */

int
gw_wait_register(gw_waiter *w, const char *transaction_id)
{
	snprintf(w->transaction_id, sizeof(w->transaction_id), "%s", transaction_id);
	w->woken = 0;
	pthread_mutex_lock(&wait_lock);
	if (n_waiters >= config.max_waiters)
	{
		pthread_mutex_unlock(&wait_lock);
		return -1;
	}
	n_waiters++;
	w->next = waiters;
	waiters = w;
	pthread_mutex_unlock(&wait_lock);
	return 0;
}

int
gw_wait_until(gw_waiter *w, int64_t deadline_ms)
{
	int			woken;

	pthread_mutex_lock(&wait_lock);
	while (!w->woken && !stopping)
	{
		int64_t		left = deadline_ms - gw_now_ms();
		struct timespec until;

		if (left <= 0)
			break;
		/* wait_cond runs on CLOCK_MONOTONIC (gw_db_start) */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += left / 1000;
		until.tv_nsec += (long) (left % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wait_cond, &wait_lock, &until);
	}
	woken = w->woken;
	w->woken = 0;
	pthread_mutex_unlock(&wait_lock);
	return woken;
}

void
gw_wait_unregister(gw_waiter *w)
{
	pthread_mutex_lock(&wait_lock);
	for (gw_waiter **p = &waiters; *p; p = &(*p)->next)
		if (*p == w)
		{
			*p = w->next;
			n_waiters--;
			break;
		}
	pthread_mutex_unlock(&wait_lock);
}

/* Wake the waiters of one transaction, or all of them (id NULL). */
static void
wake(const char *transaction_id)
{
	pthread_mutex_lock(&wait_lock);
	for (gw_waiter *w = waiters; w; w = w->next)
		if (transaction_id == NULL || strcmp(w->transaction_id, transaction_id) == 0)
			w->woken = 1;
	pthread_cond_broadcast(&wait_cond);
	pthread_mutex_unlock(&wait_lock);
}

/* The transaction a NOTIFY mobisign payload names (NULL if none). */
static void
handle_notify(const char *payload)
{
	json_t	   *j = json_loads(payload, 0, NULL);
	json_t	   *id = j ? json_object_get(j, "transaction_id") : NULL;

	if (json_is_string(id) && json_string_length(id) == 36)
		wake(json_string_value(id));
	json_decref(j);
}

static void *
listen_main(void *arg)
{
	PGconn	   *c = NULL;
	int			backoff_ms = 200;

	(void) arg;
	while (!stopping)
	{
		struct pollfd pfd;
		PGnotify   *n;

		if (c == NULL || PQstatus(c) != CONNECTION_OK)
		{
			if (c != NULL)
			{
				gw_log("LISTEN connection lost; reconnecting");
				PQfinish(c);
				wake(NULL);		/* a NOTIFY may have been missed */
			}
			c = connect_one();
			if (c != NULL)
			{
				PGresult   *r = PQexec(c, "LISTEN mobisign");

				if (PQresultStatus(r) != PGRES_COMMAND_OK)
				{
					gw_log("LISTEN mobisign failed: %s", PQerrorMessage(c));
					PQfinish(c);
					c = NULL;
				}
				PQclear(r);
			}
			if (c == NULL)
			{
				struct timespec ts = {backoff_ms / 1000, (backoff_ms % 1000) * 1000000L};

				nanosleep(&ts, NULL);
				backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
				continue;
			}
			backoff_ms = 200;
			wake(NULL);			/* anything that finished while we were away */
		}
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN;
		pfd.revents = 0;
		/* bounded, to see a stop within half a second */
		if (poll(&pfd, 1, 500) < 0 && errno != EINTR)
			continue;
		if (!PQconsumeInput(c))
			continue;			/* next round reconnects */
		while ((n = PQnotifies(c)) != NULL)
		{
			handle_notify(n->extra);
			PQfreemem(n);
		}
	}
	if (c != NULL)
		PQfinish(c);
	return NULL;
}

int
gw_db_start(const gw_db_config *cfg)
{
	pthread_condattr_t attr;
	PGconn	   *probe;

	config = *cfg;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&wait_cond, &attr);
	pthread_condattr_destroy(&attr);
	pool = calloc((size_t) config.pool_size, sizeof(*pool));
	pool_busy = calloc((size_t) config.pool_size, sizeof(*pool_busy));
	if (pool == NULL || pool_busy == NULL)
		return -1;
	/* one connection now: a wrong conninfo fails at start, not at the first request */
	probe = connect_one();
	if (probe == NULL)
		return -1;
	pool[0] = probe;
	if (pthread_create(&listener, NULL, listen_main, NULL) != 0)
		return -1;
	listener_started = 1;
	return 0;
}

void
gw_db_begin_stop(void)
{
	stopping = 1;
	wake(NULL);
	pthread_mutex_lock(&pool_lock);
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
}

void
gw_db_stop(void)
{
	gw_db_begin_stop();
	if (listener_started)
		pthread_join(listener, NULL);
	for (int i = 0; pool && i < config.pool_size; i++)
		if (pool[i] != NULL)
			PQfinish(pool[i]);
	free(pool);
	free(pool_busy);
	pool = NULL;
	pool_busy = NULL;
}
