/*-------------------------------------------------------------------------
 *
 * cms_split.h
 *	  A CMS SignedData (DER) taken apart into the structure without its
 *	  certificates field and the certificates' DER, so that certificates
 *	  seen before are not parsed again (extension/verify_cache.h): in
 *	  OpenSSL 3, parsing a certificate's public key costs more than a P-256
 *	  signature check.  Plain C, no allocation, no OpenSSL (see msi.h).
 *
 * Invariants:
 * - Only the plainest form is split: a DER ContentInfo of definite
 *	 lengths { contentType, [0] { SignedData } } with nothing after it, a
 *	 SignedData whose elements are TLVs in the order of RFC 5652 section
 *	 5.1, and a certificates field [0] holding nothing but SEQUENCEs
 *	 (X.509 certificates; never an attribute or other certificate).
 *	 Anything else is MSI_E_VALUE: the caller parses the input as it is.
 * - The stripped structure is the input's bytes minus the certificates
 *	 field, with the three enclosing lengths re-encoded (minimal DER); the
 *	 signed content and the SignerInfos are the input's bytes, so the
 *	 signature verifies exactly as over the input.
 * - Every span points into the input; out needs at most len bytes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSI_CMS_SPLIT_H
#define MSI_CMS_SPLIT_H

#include <stddef.h>

#include "msi.h"

/* at most this many certificates are split out (more: MSI_E_VALUE) */
#define MSI_CMS_SPLIT_MAX_CERTS 32

typedef struct msi_span
{
	const unsigned char *data;
	size_t		len;
} msi_span;

typedef struct msi_cms_split
{
	size_t		stripped_len;	/* bytes written to out */
	int			ncerts;
	msi_span	certs[MSI_CMS_SPLIT_MAX_CERTS];	/* each a complete DER TLV */
} msi_cms_split;

/*
 * Split der (len bytes) into out (room for at least len bytes) and
 * s->certs.  MSI_OK, MSI_E_ARG, or MSI_E_VALUE when the input is not of
 * the form above (nothing is then to be relied on in out or *s).
 */
extern msi_rc msi_cms_split_certificates(const unsigned char *der, size_t len,
										 unsigned char *out, msi_cms_split *s);

#endif							/* MSI_CMS_SPLIT_H */
