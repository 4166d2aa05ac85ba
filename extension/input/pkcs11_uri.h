/*-------------------------------------------------------------------------
 *
 * pkcs11_uri.h
 *	  PKCS#11 URIs (RFC 7512) naming a key in a token, as the key GUCs
 *	  (mobisign.sp_key_file, mobisign.master_key_file) accept them, e.g.
 *	  pkcs11:token=mobisign;object=sp-key;type=private.  Plain C (see msi.h);
 *	  keystore.c and pkcs11.c call it, test/fuzz/fuzz_pkcs11_uri.c fuzzes it.
 *
 * Invariants:
 *	- the scheme is "pkcs11:" (any case); the URI holds at most
 *	  MSI_P11_URI_MAX bytes, printable ASCII only (anything else must be
 *	  percent-encoded);
 *	- the path attributes understood are token, object, id and type, each
 *	  at most once; any other attribute, a query ("?pin-value=...": a PIN
 *	  never sits in a setting) or a fragment is refused, not ignored;
 *	- values are percent-decoded (%XX, either case; a lone '%' is refused);
 *	  decoded, token and object hold no NUL and fit their buffers (a token
 *	  label is at most 32 bytes, CK_TOKEN_INFO's size), id at most
 *	  MSI_P11_ID_MAX bytes; empty values are refused;
 *	- object or id must be given; type is one of private, public,
 *	  secret-key, cert, data;
 *	- on failure *out is zeroed and *why (if not NULL) is a static sentence
 *	  without a final period naming what is wrong (never the value).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSI_PKCS11_URI_H
#define MSI_PKCS11_URI_H

#include <stdbool.h>
#include <stddef.h>

#include "msi.h"

#define MSI_P11_URI_MAX 1024		/* bytes of the whole URI */
#define MSI_P11_TOKEN_MAX 32		/* bytes of a decoded token label */
#define MSI_P11_OBJECT_MAX 128		/* bytes of a decoded object label */
#define MSI_P11_ID_MAX 64			/* bytes of a decoded object id */

typedef enum msi_p11_type
{
	MSI_P11_TYPE_ANY = 0,		/* no type= attribute */
	MSI_P11_TYPE_PRIVATE,
	MSI_P11_TYPE_PUBLIC,
	MSI_P11_TYPE_SECRET_KEY,
	MSI_P11_TYPE_CERT,
	MSI_P11_TYPE_DATA
} msi_p11_type;

typedef struct msi_p11_uri
{
	bool		has_token;
	char		token[MSI_P11_TOKEN_MAX + 1];	/* NUL-terminated */
	bool		has_object;
	char		object[MSI_P11_OBJECT_MAX + 1]; /* NUL-terminated */
	size_t		object_len;
	bool		has_id;
	unsigned char id[MSI_P11_ID_MAX];
	size_t		id_len;
	msi_p11_type type;
} msi_p11_uri;

/* Does s start with the scheme "pkcs11:" (any case)?  s may be NULL. */
extern bool msi_p11_uri_is(const char *s);

/*
 * Parse s (len bytes, no NUL needed) into *out: MSI_OK;
 * MSI_E_URL_SCHEME (not pkcs11:), MSI_E_TOO_LARGE (the URI or a value too
 * long), MSI_E_URL (malformed: no '=', bad escape, empty or repeated
 * attribute, a byte that must be encoded), MSI_E_VALUE (an attribute or a
 * type not supported, a query, no object or id).
 */
extern msi_rc msi_p11_uri_parse(const char *s, size_t len, msi_p11_uri *out,
								const char **why);

#endif							/* MSI_PKCS11_URI_H */
