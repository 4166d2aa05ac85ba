/*-------------------------------------------------------------------------
 *
 * applet.h
 *	  The SIM applet messages carried as the secured data of the OTA
 *	  packets (see ota.h): a BER-TLV request from the server and a BER-TLV
 *	  response from the SIM.
 *
 * Every element is tag (1 octet) | length | value.  Length in the minimal
 * BER form: 1 octet for 0..127, 81 xx for 128..255, 82 xx xx for
 * 256..65535; anything else (indefinite, 83+, non-minimal) is MSC_E_TLV.
 *
 * Request, elements in exactly this order:
 *	80 version      1 octet, MSC_APPLET_VERSION (1)
 *	81 reference    8 octets, the transaction reference
 *	82 operation    1 octet: 1 authenticate, 2 sign, 3 sign a digest,
 *	                4 display a receipt
 *	83 data         authenticate: the 32-byte challenge;
 *	                sign: the UTF-8 text to sign (1..MSC_APPLET_MAX_DATA);
 *	                sign a digest: a SHA-256, SHA-384 or SHA-512 digest
 *	                (32, 48 or 64 octets: the length names the hash);
 *	                display a receipt: the 8-octet reference of the
 *	                signature the receipt is about (nothing is signed:
 *	                the receipt text is the display element)
 *	84 display      coding (1) then
 *	                  coding 00 (GSM 7-bit): septet count (1), packed septets
 *	                                         (exactly ceil(7 * count / 8))
 *	                  coding 08 (UCS-2):     UCS-2 big-endian (even length)
 *	85 vcode        4 ASCII digits, the verification code
 *	86 expiry       4 octets, big-endian unix time (seconds)
 *	8F signature    the service provider's signature over every octet of
 *	                elements 80..86 as sent (msc_applet_request_signed_part):
 *	                a DER ECDSA-SHA256 or RSA-PKCS1-SHA256 signature,
 *	                1..MSC_APPLET_MAX_SIG octets; the codec only frames it.
 *
 * Response, elements in exactly this order:
 *	80 version      1 octet (1)
 *	81 reference    8 octets, echoed from the request
 *	88 result       1 octet, MSC_RESULT_*
 *	89 signature    present if and only if result is OK: operations 1
 *	                and 2, a DER CMS SignedData; operation 3, the raw
 *	                signature of the digest (RSA: PKCS#1 v1.5 over the
 *	                DigestInfo, the modulus' length; EC: r || s, each the
 *	                order's length).  The codec only frames it.
 *	                Operation 4 signs nothing: its success is the result
 *	                SHOWN, without element 89 (its authenticity is the
 *	                secured packet's cryptographic checksum, ota.h).
 *
 * Decoders are strict and safe on arbitrary input: duplicate tags
 * (MSC_E_TAG_DUP), unknown tags (MSC_E_TAG_UNKNOWN, there is no optional
 * element in version 1), missing elements (MSC_E_TAG_MISSING), wrong order
 * (MSC_E_TAG_ORDER), bytes after the last element (MSC_E_TRAILING), bad
 * values (MSC_E_VALUE), version != 1 (MSC_E_VERSION).  Decoded pointers
 * point into the input buffer (no copy, no allocation).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSC_APPLET_H
#define MSC_APPLET_H

#include "msc.h"
#include "gsm7.h"

#define MSC_APPLET_VERSION		1
#define MSC_APPLET_REF_LEN		8
#define MSC_APPLET_CHALLENGE_LEN 32
#define MSC_APPLET_VCODE_LEN	4
#define MSC_APPLET_MAX_DATA		1024	/* text to sign, UTF-8 octets */
#define MSC_APPLET_MAX_SIG		1024
#define MSC_APPLET_MAX_CMS		65535

#define MSC_OP_AUTHENTICATE		1
#define MSC_OP_SIGN				2
#define MSC_OP_SIGN_DIGEST		3
#define MSC_OP_RECEIPT			4

/* Request tags */
#define MSC_TAG_VERSION			0x80
#define MSC_TAG_REFERENCE		0x81
#define MSC_TAG_OPERATION		0x82
#define MSC_TAG_DATA			0x83
#define MSC_TAG_DISPLAY			0x84
#define MSC_TAG_VCODE			0x85
#define MSC_TAG_EXPIRY			0x86
#define MSC_TAG_SP_SIGNATURE	0x8F
/* Response tags (80, 81 shared) */
#define MSC_TAG_RESULT			0x88
#define MSC_TAG_CMS				0x89

/* Response results (the status each ends a transaction with: extension/domain.h) */
#define MSC_RESULT_OK			0
#define MSC_RESULT_USER_CANCEL	1
#define MSC_RESULT_PIN_BLOCKED	2
#define MSC_RESULT_CARD_BLOCKED	3
#define MSC_RESULT_NO_KEY		4
#define MSC_RESULT_SIM_ERROR	5
#define MSC_RESULT_BAD_SIGNATURE 6
#define MSC_RESULT_EXPIRED		7
#define MSC_RESULT_SHOWN		8	/* operation 4: the user saw the receipt */
#define MSC_RESULT_MAX			8

typedef struct msc_applet_request
{
	uint8_t		version;		/* MSC_APPLET_VERSION */
	uint8_t		reference[MSC_APPLET_REF_LEN];
	uint8_t		operation;		/* MSC_OP_* */
	const uint8_t *data;		/* challenge or UTF-8 text */
	size_t		data_len;
	uint8_t		display_coding; /* MSC_DCS_GSM7 or MSC_DCS_UCS2 */
	size_t		display_units;	/* septet count (GSM 7-bit); UCS-2: len / 2 */
	const uint8_t *display;		/* packed septets or UCS-2 BE */
	size_t		display_len;
	char		vcode[MSC_APPLET_VCODE_LEN + 1];	/* 4 digits, NUL-terminated */
	uint32_t	expiry;			/* unix time */
	const uint8_t *signature;	/* SP signature (NULL/0 when not yet signed) */
	size_t		signature_len;
} msc_applet_request;

typedef struct msc_applet_response
{
	uint8_t		version;
	uint8_t		reference[MSC_APPLET_REF_LEN];
	uint8_t		result;			/* MSC_RESULT_* */
	const uint8_t *cms;			/* DER SignedData when result is OK */
	size_t		cms_len;
} msc_applet_response;

/* Points req->display_* at an encoded display text (see msc_display_encode). */
extern void msc_applet_request_set_display(msc_applet_request *req,
										   const msc_display_text *dt);

/*
 * Encode the signed part of a request (elements 80..86, no signature) into
 * out[0..cap).  Sign exactly out[0..*out_len), then append the signature
 * with msc_applet_request_append_signature.  Values are checked as the
 * decoder checks them (MSC_E_VALUE, MSC_E_ARG).
 */
extern msc_rc msc_applet_request_encode_unsigned(const msc_applet_request *req,
												 uint8_t *out, size_t cap,
												 size_t *out_len);

/*
 * Append the 8F signature element to a buffer holding the unsigned part
 * (len octets); *out_len receives the total length.
 */
extern msc_rc msc_applet_request_append_signature(uint8_t *buf, size_t cap,
												  size_t len,
												  const uint8_t *sig,
												  size_t sig_len,
												  size_t *out_len);

/* Both steps at once, with req->signature (must be set). */
extern msc_rc msc_applet_request_encode(const msc_applet_request *req,
										uint8_t *out, size_t cap,
										size_t *out_len);

/*
 * Decode and check a whole request (signature included; the signature is
 * NOT verified here: verify it over msc_applet_request_signed_part).
 */
extern msc_rc msc_applet_request_decode(const uint8_t *msg, size_t len,
										msc_applet_request *out);

/*
 * The exact bytes covered by the service provider's signature: the prefix
 * msg[0..*signed_len) before the 8F element.  The whole request is decoded
 * and checked first (same results as msc_applet_request_decode).
 */
extern msc_rc msc_applet_request_signed_part(const uint8_t *msg, size_t len,
											 const uint8_t **signed_part,
											 size_t *signed_len);

/*
 * Encode a response.  rsp->cms must be set (non-empty) if and only if
 * rsp->result is MSC_RESULT_OK (MSC_E_VALUE).
 */
extern msc_rc msc_applet_response_encode(const msc_applet_response *rsp,
										 uint8_t *out, size_t cap,
										 size_t *out_len);

/* Decode and check a response (the CMS is not parsed here). */
extern msc_rc msc_applet_response_decode(const uint8_t *msg, size_t len,
										 msc_applet_response *out);

/*
 * The hash a digest of this length comes from, as the Mobile-ID API names
 * it ("SHA256", "SHA384", "SHA512"); NULL for any other length.  The one
 * home of the digest lengths operation 3 accepts.
 */
extern const char *msc_digest_hash_name(size_t digest_len);

/*
 * The 4-digit verification code of a digest, as SK's Mobile-ID
 * specification computes it (MID REST API, 2.4.1): the first 6 bits of the
 * digest and its last 7 bits as one 13-bit number, in decimal with leading
 * zeros ("0000".."8191").  MSC_E_ARG below MSC_DIGEST_MIN_LEN octets
 * (the specification's own example is a 20-octet SHA-1 digest; operation 3
 * takes only the lengths msc_digest_hash_name names).
 */
#define MSC_DIGEST_MIN_LEN		20
extern msc_rc msc_digest_verification_code(const uint8_t *digest, size_t len,
										   char out[MSC_APPLET_VCODE_LEN + 1]);

/* Static name of a result ("user cancel"...), "unknown" when out of range. */
extern const char *msc_applet_result_name(uint8_t result);

#endif							/* MSC_APPLET_H */
