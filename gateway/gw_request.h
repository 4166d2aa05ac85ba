/*
 * gw_request.h
 *	  mobisign-gateway: the JSON requests of the two APIs, parsed and
 *	  checked before anything reaches the database (docs/gateway.md).
 *
 * Plain C over jansson, no libpq or libmicrohttpd: test/fuzz/fuzz_gateway_request.c
 * feeds it arbitrary bytes.  Every parser takes the whole body (at most
 * GW_MAX_BODY octets, the caller's bound), fills a fixed-size struct
 * (nothing allocated survives the call) and returns 0, or an HTTP status
 * (400) with a message in err naming the field, in the words of the API
 * ("phoneNumber cannot be null", "hash must be Base64 encoded").  Strings
 * copied into the struct are bounded, NUL-free UTF-8 (jansson guarantees
 * valid UTF-8; a NUL is refused).  Duplicate keys are refused.
 */
#ifndef GW_REQUEST_H
#define GW_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define GW_MAX_BODY			16384	/* default bound of a request body */
#define GW_MAX_DIGEST		64
#define GW_MAX_NAME			64		/* relying party name: mobisign's application label */
#define GW_MAX_DISPLAY		200		/* octets of UTF-8; mobisign checks the SIM's screen */
#define GW_MAX_DATA			1024	/* ETSI DataToBeSigned text, octets */
#define GW_UUID_LEN			36

/* One Mobile-ID request: certificate (no hash), authentication, signature. */
typedef struct gw_mid_request
{
	char		rp_name[GW_MAX_NAME + 1];
	char		rp_uuid[GW_UUID_LEN + 1];
	char		phone[17];		/* "+" and 5 to 15 digits */
	char		national_id[21];	/* 1 to 20 letters or digits */
	uint8_t		hash[GW_MAX_DIGEST];
	size_t		hash_len;
	char		hash_type[7];	/* SHA256, SHA384, SHA512 */
	char		language[4];	/* EST, ENG, RUS, LIT */
	char		display[GW_MAX_DISPLAY + 1];	/* "" when not given */
} gw_mid_request;

/* Parse POST certificate (need_hash 0) or authentication/signature (1). */
extern int	gw_mid_parse(const char *body, size_t len, int need_hash,
						 gw_mid_request *out, char *err, size_t errlen);

/*
 * Decodes the %HH escapes of a URL path or query value in place (the
 * HTTP server's unescape callback) and returns the new length.  "%00" is
 * left undecoded, so the result never holds a NUL before its end and a
 * path cannot be cut short ("/session/<id>%00anything" is not <id>).
 */
extern size_t gw_url_unescape(char *s);

/* The digest length of a MID hashType (32, 48, 64), or 0 when unknown. */
extern size_t gw_hash_type_len(const char *hash_type);

/* ETSI TS 102 204 MSS requests (the REST/JSON binding). */
typedef enum gw_etsi_kind
{
	GW_ETSI_SIGNATURE,
	GW_ETSI_STATUS,
	GW_ETSI_PROFILE_QUERY,
	GW_ETSI_RECEIPT
} gw_etsi_kind;

#define GW_ETSI_FORMAT_CMS		0
#define GW_ETSI_FORMAT_PKCS1	1

typedef struct gw_etsi_request
{
	gw_etsi_kind kind;
	char		ap_id[GW_MAX_NAME + 1];	/* AP_Info.AP_ID: the relying party name */
	char		ap_pwd[GW_UUID_LEN + 1];	/* AP_Info.AP_PWD: its UUID */
	char		ap_trans_id[65];	/* AP_Info.AP_TransID, echoed */
	char		msisdn[17];		/* MobileUser.MSISDN */
	char		mssp_trans_id[GW_UUID_LEN + 1];	/* status: the transaction; receipt: the signature's */
	/* signature request */
	int			synch;			/* MessagingMode synch (1) or asynchClientServer (0) */
	int			digest;			/* DataToBeSigned is a base64 digest (1) or text (0) */
	uint8_t		data[GW_MAX_DATA];	/* the text (UTF-8) or the digest */
	size_t		data_len;
	char		hash_type[7];	/* for a digest: SHA256, SHA384, SHA512 */
	char		display[GW_MAX_DISPLAY + 1];	/* DataToBeDisplayed, "" when not given */
	char		profile[129];	/* SignatureProfile mssURI, "" when not given */
	int			format;			/* GW_ETSI_FORMAT_* */
	int			timeout_s;		/* TimeOut, seconds; 0 when not given */
	char		receipt[GW_MAX_DISPLAY + 1];	/* MSS_ReceiptReq Message.Data */
} gw_etsi_request;

/*
 * Parse a POST /rest/service body: one top-level object holding exactly one
 * of MSS_SignatureReq, MSS_StatusReq, MSS_ProfileQueryReq, MSS_ReceiptReq.
 * On failure *subcode is the TS 102 204 fault subcode (101 WRONG_PARAM,
 * 102 MISSING_PARAM, 103 WRONG_DATA_LENGTH) and the return value 400.
 */
extern int	gw_etsi_parse(const char *body, size_t len, gw_etsi_request *out,
						  int *subcode, char *err, size_t errlen);

/* The ETSI MSS_Format URIs and what DataToBeSigned's MimeType / Encoding mean. */
#define GW_ETSI_URI_PKCS7	"http://uri.etsi.org/TS102204/v1.1.2#PKCS7"
#define GW_ETSI_URI_PKCS1	"http://uri.etsi.org/TS102204/v1.1.2#PKCS1"

/*
 * Strict base64 (RFC 4648, padding required, no whitespace) into out[0..cap);
 * returns the decoded length, or -1.
 */
extern long gw_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* Is s (NUL-terminated) a UUID in the lower-case canonical 8-4-4-4-12 form? */
extern int	gw_is_uuid(const char *s);

#endif							/* GW_REQUEST_H */
