/*
 * gw_db.h
 *	  mobisign-gateway: the database side.  A small pool of libpq
 *	  connections for the SQL API, and one LISTEN mobisign connection that
 *	  wakes the requests waiting for a transaction (long polling, synch
 *	  ETSI requests).
 *
 * Invariants: every connection logs in with the same conninfo (an
 * application role: row-level security applies); the conninfo is never
 * logged.  A connection is used by one request at a time and returned
 * after it; a broken one is reset before it is lent again.  A waiter is
 * registered before the caller reads the transaction's state, so a
 * NOTIFY that arrives in between is not lost; when the LISTEN connection
 * is lost every waiter is woken (it reads the state again), so a missed
 * NOTIFY costs one extra read, never a request that waits to its timeout.
 * No request polls the database in a loop: it reads, waits for a wake-up
 * or its deadline, and reads once more.  At most max_waiters requests
 * wait at a time; any other answers at once with the state it read.
 */
#ifndef GW_DB_H
#define GW_DB_H

#include <stdint.h>

#include <libpq-fe.h>

typedef struct gw_db_config
{
	const char *conninfo;
	int			pool_size;		/* connections for requests */
	int			acquire_ms;		/* how long a request waits for one */
	int			statement_ms;	/* statement_timeout of each connection */
	int			max_waiters;	/* requests waiting for a transaction at a time */
} gw_db_config;

/* Opens the pool and the LISTEN connection; 0, or -1 with a message on stderr. */
extern int	gw_db_start(const gw_db_config *cfg);

/* Stopping: wakes every waiter and every request waiting for a connection. */
extern void gw_db_begin_stop(void);

/* Stops the listener, closes every connection (after the HTTP server stopped). */
extern void gw_db_stop(void);

/* A connection (NULL when none is free within acquire_ms, or stopping). */
extern PGconn *gw_db_acquire(void);
extern void gw_db_release(PGconn *conn);

/*
 * Runs one statement with text parameters; the result (never NULL: a
 * connection failure gives a PGRES_FATAL_ERROR result of libpq's).
 */
extern PGresult *gw_db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params);

/* A waiter for one transaction. */
typedef struct gw_waiter
{
	char		transaction_id[37];
	int			woken;
	struct gw_waiter *next;
} gw_waiter;

/*
 * 0, or -1 when max_waiters requests wait already: the caller answers
 * with what it read (a flood of long polls cannot hold every connection).
 */
extern int	gw_wait_register(gw_waiter *w, const char *transaction_id);
/* Waits until woken, the deadline (CLOCK_MONOTONIC ms) or the stop; 1 if woken. */
extern int	gw_wait_until(gw_waiter *w, int64_t deadline_ms);
extern void gw_wait_unregister(gw_waiter *w);

/* Monotonic milliseconds. */
extern int64_t gw_now_ms(void);

/* Is the gateway stopping (SIGTERM)? */
extern int	gw_stopping(void);

#endif							/* GW_DB_H */
