/*-------------------------------------------------------------------------
 *
 * msi.h
 *	  mobisign outside input: common result codes.
 *
 * The units in extension/input/ hold the decoding and checking of what the
 * server receives from outside the database: certificates, CRLs, CMS
 * signatures and public keys given to the SQL functions or found in
 * directories (der_input.h), OCSP responses (ocsp_input.h), HTTP responses
 * (http_input.h) and LDAP entries (ldap_input.h).  They are plain C over
 * OpenSSL (and libldap's types), with NO PostgreSQL headers, so that the
 * extension and the fuzzers (test/fuzz/) link the very same code.  Nothing
 * here allocates with palloc or throws: every function returns an msi_rc,
 * MSI_OK (0) or a negative code, and its caller in extension/ turns it into
 * its message or SQLSTATE.  Codes are stable.  On failure OpenSSL's
 * error queue is left as OpenSSL set it, so that the caller can name the
 * cause.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSI_H
#define MSI_H

typedef enum msi_rc
{
	MSI_OK = 0,
	MSI_E_ARG = -1,				/* NULL pointer or argument out of range */
	MSI_E_NOMEM = -2,			/* out of memory */
	MSI_E_EMPTY = -3,			/* no data at all */
	MSI_E_TOO_LARGE = -4,		/* more data than accepted */
	MSI_E_NOT_PEM = -5,			/* neither DER nor PEM (no PEM marker) */
	MSI_E_PEM_COUNT = -6,		/* PEM holding more than one object */
	MSI_E_PEM_DECODE = -7,		/* PEM framing right, content not decodable */
	MSI_E_DER_DECODE = -8,		/* DER not decodable */
	MSI_E_TRAILING = -9,		/* bytes after the DER object */
	MSI_E_TYPE = -10,			/* decodable, but not the kind of object expected */
	MSI_E_OCSP_STATUS = -11,	/* OCSP responder status other than successful */
	MSI_E_OCSP_NOT_BASIC = -12, /* OCSP response that is not a basic response */
	MSI_E_OCSP_NOT_COVERED = -13,	/* no answer for the certificate asked about */
	MSI_E_OCSP_NONCE = -14,		/* OCSP nonce differs from the request's */
	MSI_E_OCSP_STALE = -15,		/* no nonce, and thisUpdate not recent */
	MSI_E_OCSP_SIGNATURE = -16, /* OCSP signature or signer not valid */
	MSI_E_OCSP_NOT_FRESH = -17, /* nextUpdate before the time of the check,
								 * or thisUpdate/nextUpdate malformed */
	MSI_E_URL_SCHEME = -18,		/* URL scheme other than http:// */
	MSI_E_URL_HTTPS = -19,		/* https:// (not supported) */
	MSI_E_URL = -20,			/* malformed URL */
	MSI_E_HTTP = -21,			/* HTTP exchange failed (connection, status,
								 * redirect, content type, size) */
	MSI_E_VALUE = -22,			/* a value of invalid form */
	MSI_E_OCSP_LATER = -23		/* thisUpdate after the time of the check: the
								 * response does not say what the status was then */
} msi_rc;

/* largest certificate, CRL and OCSP response accepted from outside, bytes */
#define MSI_MAX_CERT_LEN (256 * 1024)
#define MSI_MAX_CRL_LEN (32 * 1024 * 1024)
#define MSI_MAX_OCSP_LEN (1024 * 1024)
/* largest CMS signature (attached content included) accepted, bytes */
#define MSI_MAX_CMS_LEN (64 * 1024 * 1024)

/* The value of one hexadecimal digit (either case), or -1. */
extern int	msi_hex_digit(unsigned char c);

/* Symbolic name of a result code ("MSI_E_TRAILING"), static. */
extern const char *msi_rc_name(msi_rc rc);

#endif							/* MSI_H */
