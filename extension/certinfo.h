/*-------------------------------------------------------------------------
 *
 * certinfo.h
 *	  Decoding certificates and CRLs into the columns of the caches
 *	  (mobisign._cert_info, mobisign._crl_info).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_CERTINFO_H
#define MOBISIGN_CERTINFO_H

#include "postgres.h"

#include "fmgr.h"

#include <openssl/x509.h>

/*
 * The file's interface is SQL: two functions that decode what callers
 * store, ERROR for input that is not one certificate or CRL.
 *
 * mobisign._cert_info(certificate bytea) -> (der, fingerprint, subject,
 *		issuer, serial (hex), subject_key_id, not_before, not_after, is_ca,
 *		self_signed)
 * mobisign._crl_info(crl bytea) -> (der, sha256, issuer, crl_number,
 *		is_delta, scope, this_update, next_update)
 */
extern Datum mobisign_cert_info(PG_FUNCTION_ARGS);

/* The columns of mobisign._cert_info for x, in that order. */
#define MS_CERT_INFO_COLUMNS 10
extern void ms_cert_info_values(X509 *x, Datum *values, bool *nulls);
extern Datum mobisign_crl_info(PG_FUNCTION_ARGS);

#endif							/* MOBISIGN_CERTINFO_H */
