/*-------------------------------------------------------------------------
 *
 * ldap_dir.h
 *	  LDAP directories (mobisign.directory) through libldap: user search,
 *	  ldap:// URL fetches, CA entries' CRLs.
 *
 * Connections are cached per backend and per directory (and rebuilt when
 * the directory's row changes); ldaps:// and StartTLS verify the server
 * certificate (against ca_file when given); referrals are off; every call is
 * bounded by the directory's timeout (LDAP_OPT_TIMEOUT and
 * LDAP_OPT_NETWORK_TIMEOUT); a connection found down is re-established once.
 * Answers are bounded before libldap reads them into its own memory: each
 * message by the largest value the lookup accepts (plus an envelope), the
 * entries in number and bytes (docs/directories.md, "Answer size"); an answer
 * over a bound is an error (08006) and closes the connection.  A server's
 * diagnostic message reaches errors only as bounded printable ASCII.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_LDAP_DIR_H
#define MOBISIGN_LDAP_DIR_H

#include "postgres.h"

#include "nodes/pg_list.h"

typedef struct MsDirUser
{
	bool		found;
	char	   *dn;
	char	   *msisdn;			/* normalised (spaces, dashes removed), or NULL */
	List	   *certificates;	/* bytea * values of the certificate attribute */
} MsDirUser;

/*
 * The filter for a template holding exactly one "%s" and a raw value
 * (RFC 4515 escaped with ldap_bv2escaped_filter_value).  ERROR (22023) for
 * a template without exactly one %s.
 */
extern char *ms_ldap_build_filter(const char *template, const char *value, size_t len);

/* Is the template usable (exactly one %s, balanced parentheses)? */
extern bool ms_ldap_filter_template_ok(const char *template, const char **why);

/*
 * Search directory directory_id for the user.  0 entries: found = false;
 * more than one: ERROR (21000); directory unreachable or too slow: ERROR
 * (08006, 57014 for a timeout).
 */
extern void ms_ldap_find_user(int directory_id, const char *user_id, size_t len,
							  MsDirUser *out);

/*
 * Values of the attribute named in an ldap:// URL (RFC 4516: base DN,
 * attribute, scope, filter).  Uses the cached connection of a directory
 * with the same scheme, host and port when there is one (its bind and TLS
 * settings), else an anonymous connection bounded by timeout_secs.
 */
extern List *ms_ldap_fetch_url(const char *url, int timeout_secs, size_t max_len, char **err);

/*
 * CRLs (certificateRevocationList, authorityRevocationList,
 * deltaRevocationList) published on the entry named dn in any enabled
 * directory for pki_id (or with no PKI).  Appends bytea * to *crls and the
 * source URL (ldap://host/dn?attr) to *urls.  Errors are collected in *errs.
 */
extern void ms_ldap_ca_crls(int pki_id, const char *dn, List **crls, List **urls, List **errs);

#endif							/* MOBISIGN_LDAP_DIR_H */
