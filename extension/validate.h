/*-------------------------------------------------------------------------
 *
 * validate.h
 *	  RFC 5280 path validation of a certificate against a PKI's store, with
 *	  the PKI's policy (auth level, policy inputs, CRLs, grace), key-usage
 *	  enforcement per operation; results carry a status code (domain.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_VALIDATE_H
#define MOBISIGN_VALIDATE_H

#include "postgres.h"

#include "utils/jsonb.h"

#include <openssl/x509.h>

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* the status codes: MS_STATUS_* and ms_status_name() */
#include "domain.h"

/* What the certificate is used for: decides the key usage required. */
typedef enum MsKeyUsage
{
	MS_USAGE_NONE,				/* no key-usage check (certificate validation) */
	MS_USAGE_ANY_SIGNATURE,		/* digitalSignature or nonRepudiation */
	MS_USAGE_AUTHENTICATION,	/* digitalSignature */
	MS_USAGE_SIGNING			/* nonRepudiation */
} MsKeyUsage;

typedef struct MsValidation
{
	bool		valid;
	int			status_code;
	char	   *reason;			/* precise cause, e.g. OpenSSL's verify error */
	char	   *pki_name;		/* the PKI that validated it (or was tried) */
	List	   *chain;			/* char * subjects, end entity first */
	List	   *policies;		/* char * valid policy OIDs of the path */
	Jsonb	   *evidence;		/* chain fingerprints, CRLs and OCSP answers relied on */
	int			x509_error;		/* OpenSSL X509_V_ERR_*, or 0 */
} MsValidation;

/*
 * Validate cert (with untrusted intermediates, may be NULL) against the
 * named PKI, or when pki_name is NULL against every enabled PKI until one
 * validates it.  at = 0 means now.  Never throws for a bad certificate: the
 * result says why; throws only for bad arguments (unknown PKI...).
 */
extern void ms_validate_certificate(X509 *cert, STACK_OF(X509) *untrusted,
									const char *pki_name, TimestampTz at,
									MsKeyUsage usage, MsValidation *out);

/*
 * The columns every verification result starts with: valid, status_code,
 * status_name, reason, pki, chain (values/nulls from *col on; *col advances).
 */
extern void ms_validation_columns(MsValidation *v, Datum *values, bool *nulls, int *col);

/* ERROR (22008) unless at is a finite time; returns it */
extern TimestampTz ms_check_time(TimestampTz at);

#endif							/* MOBISIGN_VALIDATE_H */
