/*-------------------------------------------------------------------------
 *
 * fetch.h
 *	  Fetching certificates, CRLs and OCSP responses over the network:
 *	  http:// through OpenSSL's HTTP client (OSSL_HTTP_get/transfer),
 *	  ldap:// and ldaps:// URLs through libldap (ldap_dir.h).
 *
 * Every call is bounded by mobisign.fetch_timeout (HTTP) or the timeout of
 * the matching directory (LDAP); no proxy is used.  Failures never throw:
 * they return NULL and a palloc'd message without secrets.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_FETCH_H
#define MOBISIGN_FETCH_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "msi.h"

/* largest certificate / CRL / OCSP response accepted (input/msi.h) */
#define MS_FETCH_MAX_CERT	MSI_MAX_CERT_LEN
#define MS_FETCH_MAX_CRL	MSI_MAX_CRL_LEN
#define MS_FETCH_MAX_OCSP	MSI_MAX_OCSP_LEN

/* Define the GUC mobisign.fetch_timeout (idempotent; call from _PG_init). */
extern void ms_fetch_init(void);

/* mobisign.fetch_timeout in seconds */
extern int	ms_fetch_timeout_secs(void);

/*
 * GET the object(s) at url: one value for http://, every value of the
 * URL's attribute for ldap:// (a List of bytea *).  NIL and *err on failure.
 */
extern List *ms_fetch_url(const char *url, size_t max_len, char **err);

/* POST body to an http:// URL; returns the response body or NULL and *err. */
extern bytea *ms_http_post(const char *url, const char *content_type,
						   const char *expected_content_type,
						   const unsigned char *body, size_t len,
						   size_t max_len, char **err);

#endif							/* MOBISIGN_FETCH_H */
