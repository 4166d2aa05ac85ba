/*-------------------------------------------------------------------------
 *
 * directory_api.h
 *	  SQL-callable helpers behind the directory and revocation functions
 *	  (sql/parts/60_directory.sql): LDAP user search, URL fetches, CRL
 *	  distribution points, CRL issuer checks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_DIRECTORY_API_H
#define MOBISIGN_DIRECTORY_API_H

#include "postgres.h"

#include "fmgr.h"

extern Datum mobisign_ldap_filter(PG_FUNCTION_ARGS);
extern Datum mobisign_directory_search(PG_FUNCTION_ARGS);
extern Datum mobisign_fetch_url(PG_FUNCTION_ARGS);
extern Datum mobisign_distribution_points(PG_FUNCTION_ARGS);
extern Datum mobisign_ldap_ca_crls(PG_FUNCTION_ARGS);
extern Datum mobisign_crl_signed_by(PG_FUNCTION_ARGS);
extern Datum mobisign_filter_template_ok(PG_FUNCTION_ARGS);

#endif							/* MOBISIGN_DIRECTORY_API_H */
