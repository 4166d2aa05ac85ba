/*-------------------------------------------------------------------------
 *
 * msc.h
 *	  mobisign wire codecs: common result codes.
 *
 * The wire codecs (codec/) are plain C with no PostgreSQL headers;
 * the extension, the background worker, the simulator and the fuzzers link
 * the same objects.  Every function returns an msc_rc: MSC_OK (0) on
 * success, a negative code otherwise.  Codes are stable; map them to status
 * codes (for example MSC_E_TOO_LONG, MSC_E_UNREPRESENTABLE, MSC_E_CONTROL
 * and MSC_E_UTF8 on display text are the server's 103) in the caller.
 *
 * Byte layouts: codec/README.md.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSC_H
#define MSC_H

#include <stddef.h>
#include <stdint.h>

typedef enum msc_rc
{
	MSC_OK = 0,
	MSC_E_ARG = -1,				/* NULL pointer or argument out of range */
	MSC_E_BUFFER = -2,			/* output buffer too small */
	MSC_E_LENGTH = -3,			/* input truncated or length field inconsistent */
	MSC_E_CRYPTO = -4,			/* OpenSSL failure (or key of unsupported size) */
	MSC_E_UTF8 = -5,			/* invalid UTF-8 (also surrogates, overlong forms, NUL) */
	MSC_E_UNREPRESENTABLE = -6, /* character outside the GSM alphabet / outside the BMP */
	MSC_E_TOO_LONG = -7,		/* display text over the screen limit (server: 103) */
	MSC_E_UDH = -8,				/* malformed user data header */
	MSC_E_SEGMENTS = -9,		/* too many / missing / duplicate / inconsistent segments */
	MSC_E_SPI = -10,			/* unsupported SPI, KIc or KID, or CHL/RHL mismatch */
	MSC_E_TAR = -11,			/* TAR is not the one expected */
	MSC_E_CC = -12,				/* cryptographic checksum does not verify */
	MSC_E_PADDING = -13,		/* PCNTR out of range or padding bytes not zero */
	MSC_E_UNSECURED = -14,		/* response without the expected CC (status filled in) */
	MSC_E_TLV = -15,			/* malformed TLV (tag, length, non-minimal length) */
	MSC_E_TAG_UNKNOWN = -16,	/* unknown tag */
	MSC_E_TAG_DUP = -17,		/* tag present twice */
	MSC_E_TAG_MISSING = -18,	/* mandatory tag missing */
	MSC_E_TAG_ORDER = -19,		/* tags not in the documented order */
	MSC_E_TRAILING = -20,		/* bytes after the last element */
	MSC_E_VERSION = -21,		/* unsupported message version */
	MSC_E_VALUE = -22,			/* a field has an invalid value */
	MSC_E_CONTROL = -23			/* control or format character in display text (server: 103) */
} msc_rc;

/* Short, static, lower-case English description of a result code. */
extern const char *msc_strerror(msc_rc rc);

/* Symbolic name of a result code ("MSC_E_CC"), static. */
extern const char *msc_rc_name(msc_rc rc);

/*
 * Constant-time comparison of two buffers of n bytes: 1 if equal, 0 if not.
 * Run time depends only on n.
 */
extern int	msc_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

#endif							/* MSC_H */
