/*-------------------------------------------------------------------------
 *
 * pki_store.h
 *	  Per-backend cache of one X509_STORE per PKI.
 *
 * Each PKI row (mobisign.pki) becomes an X509_STORE holding only that PKI's
 * trust anchors and CRLs, with verification flags from its policy, so one
 * PKI's anchors never vouch for another PKI's certificates.  A store is
 * rebuilt when the row's generation changes (every change to the PKI or its
 * CRLs bumps it).  Looking a PKI up costs no query while nothing changed:
 * a statement trigger on mobisign.pki (mobisign._pki_changed) sends a
 * relcache invalidation for the table, and only then is the table read
 * again (one small SPI query).  A change committed by another session is
 * seen at the next lookup that follows its commit's invalidation message,
 * sent a moment after the commit; the session's own changes at its next
 * command.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_PKI_STORE_H
#define MOBISIGN_PKI_STORE_H

#include "postgres.h"

#include <openssl/x509.h>

#include "fmgr.h"
#include "nodes/pg_list.h"

typedef struct MsPki
{
	int			id;
	char	   *name;
	int64		generation;
	int64		row_version;	/* xmin of the row the store was built from */
	bool		enabled;
	bool		check_crl;		/* revocation includes 'crl' */
	bool		check_ocsp;		/* revocation includes 'ocsp' */
	char	   *revocation;
	int			security_level;
	bool		enforce_key_usage;
	int64		crl_grace_secs;
	bool		explicit_policy;
	bool		inhibit_policy_mapping;
	bool		inhibit_any_policy;
	bool		strict;			/* profile 'strict': strict_profile.h's rules apply */
	STACK_OF(ASN1_OBJECT) *policies;	/* initial policy set ({anyPolicy} by default) */
	X509_STORE *store;			/* anchors + CRLs, flags set */
	STACK_OF(X509) *anchors;
	STACK_OF(X509) *intermediates;	/* known CAs: untrusted, for path building */
	STACK_OF(X509_CRL) *crls;
} MsPki;

/* CRL checking of the whole chain, with distribution points, indirect and delta CRLs */
#define MS_CRL_FLAGS (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | \
					  X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS)

/* The named PKI, loaded or refreshed; ERROR (42704) if unknown or disabled. */
extern MsPki *ms_pki_get(const char *name);

/* Every enabled PKI, refreshed, in id order. */
extern List *ms_pki_all(void);

/* mobisign._pki_changed(): the statement trigger on mobisign.pki */
extern Datum mobisign_pki_changed(PG_FUNCTION_ARGS);

#endif							/* MOBISIGN_PKI_STORE_H */
