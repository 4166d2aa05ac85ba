/*
 * gw_request.c
 *	  mobisign-gateway: parsing and checking the JSON requests (see
 *	  gw_request.h for the contract).
 *
 * Invariants: nothing from the body is used before its type, length and
 * character set are checked here; every string copied out fits its field
 * with its NUL; no allocation outlives a call (the jansson tree is freed on
 * every path).
 */
#include "gw_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

/* ---- small helpers ---- */

static int
fail(char *err, size_t errlen, const char *fmt, const char *field)
{
	snprintf(err, errlen, fmt, field);
	return 400;
}

static json_t *
load(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t	   *root;

	if (len == 0)
	{
		snprintf(err, errlen, "the request body is empty");
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
	{
		/*
		 * jansson's text, without the " near '...'" that quotes the input
		 * (which may be any octets, not even UTF-8): a position only
		 */
		char	   *near = strstr(jerr.text, " near '");

		if (near != NULL)
			*near = '\0';
		snprintf(err, errlen, "the request body is not valid JSON: %s (line %d, column %d)",
				 jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(root))
	{
		json_decref(root);
		snprintf(err, errlen, "the request body must be a JSON object");
		return NULL;
	}
	return root;
}

/*
 * The string member name of obj into out[0..cap): 0 when present and
 * fitting; 1 when absent or null; -1 when not a string, too long (cap - 1
 * octets at most) or holding a NUL.
 */
static int
get_string(json_t *obj, const char *name, char *out, size_t cap)
{
	json_t	   *v = obj ? json_object_get(obj, name) : NULL;
	size_t		n;

	out[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 1;
	if (!json_is_string(v))
		return -1;
	n = json_string_length(v);
	if (n >= cap || memchr(json_string_value(v), '\0', n) != NULL)
		return -1;
	memcpy(out, json_string_value(v), n);
	out[n] = '\0';
	return 0;
}

/* A required string member: MID's words for a missing or bad one. */
static int
required(json_t *obj, const char *name, char *out, size_t cap, char *err, size_t errlen)
{
	int			rc = get_string(obj, name, out, cap);

	if (rc == 1 || (rc == 0 && out[0] == '\0'))
		return fail(err, errlen, "%s cannot be null", name);
	if (rc < 0)
		return fail(err, errlen, "%s is invalid", name);
	return 0;
}

static int
all_chars(const char *s, const char *allowed_class)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;
		int			ok = 0;

		if (strcmp(allowed_class, "digits") == 0)
			ok = c >= '0' && c <= '9';
		else if (strcmp(allowed_class, "alnum") == 0)
			ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
		else if (strcmp(allowed_class, "printable") == 0)
			ok = c >= 0x20 && c != 0x7f;	/* UTF-8 multi-octet sequences pass */
		if (!ok)
			return 0;
	}
	return 1;
}

int
gw_is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != GW_UUID_LEN)
		return 0;
	for (int i = 0; i < GW_UUID_LEN; i++)
	{
		char		c = s[i];

		if (shape[i] == '-' ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return 1;
}

size_t
gw_url_unescape(char *s)
{
	char	   *out = s;
	const char *in = s;

	while (*in)
	{
		int			hi = in[0] == '%' ? OPENSSL_hexchar2int((unsigned char) in[1]) : -1;
		int			lo = hi >= 0 ? OPENSSL_hexchar2int((unsigned char) in[2]) : -1;

		/* %00 stays as it is: a decoded NUL would cut the path short */
		if (lo >= 0 && (hi | lo) != 0)
		{
			*out++ = (char) (hi * 16 + lo);
			in += 3;
		}
		else
			*out++ = *in++;
	}
	*out = '\0';
	return (size_t) (out - s);
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
gw_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	size_t		n = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4)
	{
		int			v[4];
		int			pad = 0;

		for (int k = 0; k < 4; k++)
		{
			if (in[i + k] == '=' && i + 4 == len && k >= 2)
			{
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad > 0 || (v[k] = b64_value(in[i + k])) < 0)
				return -1;
		}
		if (n + 3 - pad > cap)
			return -1;
		out[n++] = (uint8_t) ((v[0] << 2) | (v[1] >> 4));
		if (pad < 2)
			out[n++] = (uint8_t) (((v[1] & 0xF) << 4) | (v[2] >> 2));
		if (pad < 1)
			out[n++] = (uint8_t) (((v[2] & 0x3) << 6) | v[3]);
		/* the unused bits of the last group must be zero (canonical form) */
		if ((pad == 2 && (v[1] & 0xF) != 0) || (pad == 1 && (v[2] & 0x3) != 0))
			return -1;
	}
	return (long) n;
}

size_t
gw_hash_type_len(const char *hash_type)
{
	if (strcmp(hash_type, "SHA256") == 0)
		return 32;
	if (strcmp(hash_type, "SHA384") == 0)
		return 48;
	if (strcmp(hash_type, "SHA512") == 0)
		return 64;
	return 0;
}

/* "+" and 5 to 15 digits (Mobile-ID: "+xxxxxxxxx"; mobisign's MSISDN rule). */
static int
is_phone(const char *s)
{
	size_t		n = strlen(s);

	return s[0] == '+' && n >= 6 && n <= 16 && all_chars(s + 1, "digits");
}

/* ---- Mobile-ID ---- */

int
gw_mid_parse(const char *body, size_t len, int need_hash, gw_mid_request *out,
			 char *err, size_t errlen)
{
	json_t	   *root;
	int			rc;
	char		hash_b64[129];
	char		format[8];
	size_t		want;
	long		got;

	memset(out, 0, sizeof(*out));
	if ((root = load(body, len, err, errlen)) == NULL)
		return 400;
	if ((rc = required(root, "relyingPartyUUID", out->rp_uuid, sizeof(out->rp_uuid), err, errlen)) ||
		(rc = required(root, "relyingPartyName", out->rp_name, sizeof(out->rp_name), err, errlen)) ||
		(rc = required(root, "phoneNumber", out->phone, sizeof(out->phone), err, errlen)) ||
		(rc = required(root, "nationalIdentityNumber", out->national_id, sizeof(out->national_id),
					   err, errlen)))
		goto done;
	if (!all_chars(out->rp_name, "printable"))
		rc = fail(err, errlen, "%s is invalid", "relyingPartyName");
	else if (!is_phone(out->phone))
		rc = fail(err, errlen, "%s must be + and 5 to 15 digits", "phoneNumber");
	else if (!all_chars(out->national_id, "alnum"))
		rc = fail(err, errlen, "%s is invalid", "nationalIdentityNumber");
	if (rc || !need_hash)
		goto done;

	if ((rc = required(root, "hashType", out->hash_type, sizeof(out->hash_type), err, errlen)))
		goto done;
	want = gw_hash_type_len(out->hash_type);
	if (want == 0)
	{
		rc = fail(err, errlen, "%s is invalid", "hashType");
		goto done;
	}
	if ((rc = required(root, "hash", hash_b64, sizeof(hash_b64), err, errlen)))
	{
		/* a string longer than any digest's base64: the length is what is wrong */
		json_t	   *h = json_object_get(root, "hash");

		if (json_is_string(h) && json_string_length(h) >= sizeof(hash_b64))
			rc = fail(err, errlen, "%s", "The length of the hash must match the type of hash");
		goto done;
	}
	got = gw_base64_decode(hash_b64, strlen(hash_b64), out->hash, sizeof(out->hash));
	if (got < 0)
	{
		rc = fail(err, errlen, "%s", "Hash must be Base64 encoded");
		goto done;
	}
	if ((size_t) got != want)
	{
		rc = fail(err, errlen, "%s", "The length of the hash must match the type of hash");
		goto done;
	}
	out->hash_len = (size_t) got;
	if ((rc = required(root, "language", out->language, sizeof(out->language), err, errlen)))
		goto done;
	if (strcmp(out->language, "EST") != 0 && strcmp(out->language, "ENG") != 0 &&
		strcmp(out->language, "RUS") != 0 && strcmp(out->language, "LIT") != 0)
	{
		rc = fail(err, errlen, "%s is invalid", "language");
		goto done;
	}
	if (get_string(root, "displayText", out->display, sizeof(out->display)) < 0 ||
		!all_chars(out->display, "printable"))
	{
		rc = fail(err, errlen, "%s is invalid", "displayText");
		goto done;
	}
	rc = get_string(root, "displayTextFormat", format, sizeof(format));
	if (rc < 0 || (rc == 0 && strcmp(format, "GSM-7") != 0 && strcmp(format, "UCS-2") != 0))
	{
		rc = fail(err, errlen, "%s is invalid", "displayTextFormat");
		goto done;
	}
	rc = 0;
done:
	json_decref(root);
	return rc;
}

/* ---- ETSI TS 102 204, REST/JSON binding ---- */

static int
etsi_fail(int *subcode, int code, char *err, size_t errlen, const char *fmt, const char *field)
{
	*subcode = code;
	return fail(err, errlen, fmt, field);
}

/* A required string of an ETSI message: 102 when missing, 101 when bad. */
static int
etsi_required(json_t *obj, const char *name, char *out, size_t cap, int *subcode,
			  char *err, size_t errlen)
{
	int			rc = get_string(obj, name, out, cap);

	if (rc == 1 || (rc == 0 && out[0] == '\0'))
		return etsi_fail(subcode, 102, err, errlen, "%s is missing", name);
	if (rc < 0)
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", name);
	return 0;
}

static json_t *
member_object(json_t *obj, const char *name)
{
	json_t	   *v = json_object_get(obj, name);

	return json_is_object(v) ? v : NULL;
}

/* AP_Info (AP_ID, AP_PWD, AP_TransID) and, for requests that name a user, MobileUser.MSISDN. */
static int
etsi_common(json_t *msg, int need_user, gw_etsi_request *out, int *subcode, char *err, size_t errlen)
{
	json_t	   *ap = member_object(msg, "AP_Info");
	int			rc;

	if (ap == NULL)
		return etsi_fail(subcode, 102, err, errlen, "%s is missing", "AP_Info");
	if ((rc = etsi_required(ap, "AP_ID", out->ap_id, sizeof(out->ap_id), subcode, err, errlen)) ||
		(rc = etsi_required(ap, "AP_PWD", out->ap_pwd, sizeof(out->ap_pwd), subcode, err, errlen)) ||
		(rc = etsi_required(ap, "AP_TransID", out->ap_trans_id, sizeof(out->ap_trans_id), subcode,
							err, errlen)))
		return rc;
	if (!all_chars(out->ap_id, "printable") || !all_chars(out->ap_trans_id, "printable"))
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "AP_Info");
	if (need_user)
	{
		json_t	   *mu = member_object(msg, "MobileUser");

		if (mu == NULL)
			return etsi_fail(subcode, 102, err, errlen, "%s is missing", "MobileUser");
		if ((rc = etsi_required(mu, "MSISDN", out->msisdn, sizeof(out->msisdn), subcode, err, errlen)))
			return rc;
		if (!is_phone(out->msisdn))
			return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "MSISDN");
	}
	return 0;
}

/* DataToBeSigned: text (MimeType text/plain) or a digest (Encoding base64, MimeType = hash). */
static int
etsi_dtbs(json_t *msg, gw_etsi_request *out, int *subcode, char *err, size_t errlen)
{
	json_t	   *d = member_object(msg, "DataToBeSigned");
	char		mime[32];
	char		enc[16];
	int			rc;

	if (d == NULL)
		return etsi_fail(subcode, 102, err, errlen, "%s is missing", "DataToBeSigned");
	if (get_string(d, "MimeType", mime, sizeof(mime)) < 0 ||
		get_string(d, "Encoding", enc, sizeof(enc)) < 0)
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "DataToBeSigned");
	rc = get_string(d, "Data", (char *) out->data, sizeof(out->data));
	if (rc == 1 || (rc == 0 && out->data[0] == '\0'))
		return etsi_fail(subcode, 102, err, errlen, "%s is missing", "DataToBeSigned.Data");
	if (rc < 0)
		return etsi_fail(subcode, 103, err, errlen, "%s is too long", "DataToBeSigned.Data");
	if (strcmp(enc, "base64") == 0)
	{
		/* a digest: the MimeType names its hash (SHA256, SHA384, SHA512) */
		uint8_t		digest[GW_MAX_DIGEST];
		long		n;
		size_t		want = gw_hash_type_len(mime);

		if (want == 0)
			return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "DataToBeSigned.MimeType");
		n = gw_base64_decode((char *) out->data, strlen((char *) out->data), digest, sizeof(digest));
		if (n < 0)
			return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "DataToBeSigned.Data");
		if ((size_t) n != want)
			return etsi_fail(subcode, 103, err, errlen, "%s does not match its hash",
							 "DataToBeSigned.Data");
		memcpy(out->data, digest, (size_t) n);
		out->data_len = (size_t) n;
		memcpy(out->hash_type, mime, strlen(mime) + 1);
		out->digest = 1;
		return 0;
	}
	if (enc[0] != '\0' && strcmp(enc, "UTF-8") != 0)
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "DataToBeSigned.Encoding");
	if (mime[0] != '\0' && strcmp(mime, "text/plain") != 0)
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "DataToBeSigned.MimeType");
	out->data_len = strlen((char *) out->data);
	out->digest = 0;
	return 0;
}

/* TimeOut: absent (0), or 1..999999 seconds as a string of digits. */
static int
etsi_timeout(json_t *msg, gw_etsi_request *out, int *subcode, char *err, size_t errlen)
{
	char		timeout[12];
	int			rc = get_string(msg, "TimeOut", timeout, sizeof(timeout));

	if (rc < 0 || (rc == 0 && (timeout[0] == '\0' || strlen(timeout) > 6 ||
							   !all_chars(timeout, "digits"))))
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "TimeOut");
	out->timeout_s = rc == 0 ? atoi(timeout) : 0;
	if (rc == 0 && out->timeout_s < 1)
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "TimeOut");
	return 0;
}

static int
etsi_signature(json_t *msg, gw_etsi_request *out, int *subcode, char *err, size_t errlen)
{
	char		mode[24];
	char		format[64];
	json_t	   *dtbd;
	int			rc;

	out->kind = GW_ETSI_SIGNATURE;
	if ((rc = etsi_common(msg, 1, out, subcode, err, errlen)))
		return rc;
	rc = get_string(msg, "MessagingMode", mode, sizeof(mode));
	if (rc == 1)
		return etsi_fail(subcode, 102, err, errlen, "%s is missing", "MessagingMode");
	if (rc < 0 || (strcmp(mode, "synch") != 0 && strcmp(mode, "asynchClientServer") != 0))
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "MessagingMode");
	out->synch = strcmp(mode, "synch") == 0;
	if ((rc = etsi_dtbs(msg, out, subcode, err, errlen)))
		return rc;
	dtbd = member_object(msg, "DataToBeDisplayed");
	if (dtbd != NULL &&
		(get_string(dtbd, "Data", out->display, sizeof(out->display)) < 0 ||
		 !all_chars(out->display, "printable")))
		return etsi_fail(subcode, 103, err, errlen, "%s is invalid", "DataToBeDisplayed");
	if (dtbd == NULL && json_object_get(msg, "DataToBeDisplayed") != NULL)
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "DataToBeDisplayed");
	if (get_string(msg, "SignatureProfile", out->profile, sizeof(out->profile)) < 0 ||
		!all_chars(out->profile, "printable"))
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "SignatureProfile");
	rc = get_string(msg, "MSS_Format", format, sizeof(format));
	if (rc < 0)
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "MSS_Format");
	if (rc == 1 || strcmp(format, GW_ETSI_URI_PKCS7) == 0)
		out->format = GW_ETSI_FORMAT_CMS;
	else if (strcmp(format, GW_ETSI_URI_PKCS1) == 0)
		out->format = GW_ETSI_FORMAT_PKCS1;
	else
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "MSS_Format");
	return etsi_timeout(msg, out, subcode, err, errlen);
}

/*
 * MSS_ReceiptReq: MSSP_TransID (a UUID) and Message (MimeType text/plain
 * and Encoding UTF-8, or absent; Data the printable text); TimeOut as for
 * a signature.
 */
static int
etsi_receipt(json_t *msg, gw_etsi_request *out, int *subcode, char *err, size_t errlen)
{
	json_t	   *m;
	char		mime[32];
	char		enc[16];
	int			rc;

	out->kind = GW_ETSI_RECEIPT;
	if ((rc = etsi_common(msg, 1, out, subcode, err, errlen)) ||
		(rc = etsi_required(msg, "MSSP_TransID", out->mssp_trans_id,
							sizeof(out->mssp_trans_id), subcode, err, errlen)))
		return rc;
	if (!gw_is_uuid(out->mssp_trans_id))
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "MSSP_TransID");
	m = member_object(msg, "Message");
	if (m == NULL)
		return etsi_fail(subcode, json_object_get(msg, "Message") ? 101 : 102, err, errlen,
						 json_object_get(msg, "Message") ? "%s is invalid" : "%s is missing", "Message");
	if (get_string(m, "MimeType", mime, sizeof(mime)) < 0 ||
		get_string(m, "Encoding", enc, sizeof(enc)) < 0 ||
		(mime[0] != '\0' && strcmp(mime, "text/plain") != 0) ||
		(enc[0] != '\0' && strcmp(enc, "UTF-8") != 0))
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "Message");
	rc = get_string(m, "Data", out->receipt, sizeof(out->receipt));
	if (rc == 1 || (rc == 0 && out->receipt[0] == '\0'))
		return etsi_fail(subcode, 102, err, errlen, "%s is missing", "Message.Data");
	if (rc < 0)
		return etsi_fail(subcode, 103, err, errlen, "%s is too long", "Message.Data");
	if (!all_chars(out->receipt, "printable"))
		return etsi_fail(subcode, 101, err, errlen, "%s is invalid", "Message.Data");
	return etsi_timeout(msg, out, subcode, err, errlen);
}

int
gw_etsi_parse(const char *body, size_t len, gw_etsi_request *out, int *subcode,
			  char *err, size_t errlen)
{
	static const char *const names[] = {
		"MSS_SignatureReq", "MSS_StatusReq", "MSS_ProfileQueryReq", "MSS_ReceiptReq"
	};
	json_t	   *root;
	json_t	   *msg = NULL;
	int			which = -1;
	int			rc;

	memset(out, 0, sizeof(*out));
	*subcode = 101;
	if ((root = load(body, len, err, errlen)) == NULL)
		return 400;
	if (json_object_size(root) != 1)
	{
		rc = etsi_fail(subcode, 101, err, errlen, "%s", "the request must hold exactly one MSS message");
		goto done;
	}
	for (int i = 0; i < 4; i++)
		if ((msg = member_object(root, names[i])) != NULL)
		{
			which = i;
			break;
		}
	if (which < 0)
	{
		rc = etsi_fail(subcode, 101, err, errlen, "%s",
					   "the request holds no MSS_SignatureReq, MSS_StatusReq, MSS_ProfileQueryReq or MSS_ReceiptReq");
		goto done;
	}
	switch (which)
	{
		case 0:
			rc = etsi_signature(msg, out, subcode, err, errlen);
			break;
		case 1:
			out->kind = GW_ETSI_STATUS;
			if (!(rc = etsi_common(msg, 0, out, subcode, err, errlen)) &&
				!(rc = etsi_required(msg, "MSSP_TransID", out->mssp_trans_id,
									 sizeof(out->mssp_trans_id), subcode, err, errlen)) &&
				!gw_is_uuid(out->mssp_trans_id))
				rc = etsi_fail(subcode, 101, err, errlen, "%s is invalid", "MSSP_TransID");
			break;
		case 2:
			out->kind = GW_ETSI_PROFILE_QUERY;
			rc = etsi_common(msg, 1, out, subcode, err, errlen);
			break;
		default:
			rc = etsi_receipt(msg, out, subcode, err, errlen);
			break;
	}
done:
	json_decref(root);
	return rc;
}
