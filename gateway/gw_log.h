/*
 * gw_log.h
 *	  mobisign-gateway: its log, one line per event on stderr.
 *
 * Invariants: a log line never holds a request body, a relying party's
 * UUID, a hash, a signature or the conninfo; request paths are logged
 * with every octet outside printable ASCII replaced by '?' and at most
 * 120 of them, and whatever follows "/session/" (a session id, which
 * reads the session's signature) as "{id}" (gw_log_path).
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stddef.h>

extern void gw_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* A request path fit for the log, into out[0..cap). */
extern void gw_log_path(const char *path, char *out, size_t cap);

#endif							/* GW_LOG_H */
