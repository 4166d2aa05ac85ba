/*-------------------------------------------------------------------------
 *
 * applet.c
 *	  BER-TLV request and response messages of the SIM applet.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "applet.h"

#define MAX_ELEMS 8

/* Expected element order; the last one ends the message. */
static const uint8_t request_tags[] = {
	MSC_TAG_VERSION, MSC_TAG_REFERENCE, MSC_TAG_OPERATION, MSC_TAG_DATA,
	MSC_TAG_DISPLAY, MSC_TAG_VCODE, MSC_TAG_EXPIRY, MSC_TAG_SP_SIGNATURE
};
static const uint8_t response_tags[] = {
	MSC_TAG_VERSION, MSC_TAG_REFERENCE, MSC_TAG_RESULT, MSC_TAG_CMS
};

typedef struct tlv_elem
{
	int			present;
	size_t		offset;			/* offset of the tag octet in the message */
	const uint8_t *value;
	size_t		len;
} tlv_elem;

/* ---- encoding helpers ---- */

static size_t
len_size(size_t n)
{
	if (n < 0x80)
		return 1;
	if (n < 0x100)
		return 2;
	return 3;
}

/* Writes tag and length of an element with value length n. */
static msc_rc
put_header(uint8_t *out, size_t cap, size_t *pos, uint8_t tag, size_t n)
{
	size_t		p = *pos;

	if (n > 0xFFFF)
		return MSC_E_LENGTH;
	if (cap < p || cap - p < 1 + len_size(n) || cap - p - 1 - len_size(n) < n)
		return MSC_E_BUFFER;
	out[p++] = tag;
	if (n < 0x80)
		out[p++] = (uint8_t) n;
	else if (n < 0x100)
	{
		out[p++] = 0x81;
		out[p++] = (uint8_t) n;
	}
	else
	{
		out[p++] = 0x82;
		out[p++] = (uint8_t) (n >> 8);
		out[p++] = (uint8_t) (n & 0xFF);
	}
	*pos = p;
	return MSC_OK;
}

static msc_rc
put_tlv(uint8_t *out, size_t cap, size_t *pos, uint8_t tag,
		const uint8_t *v, size_t n)
{
	msc_rc		rc = put_header(out, cap, pos, tag, n);

	if (rc != MSC_OK)
		return rc;
	if (n > 0)
		memmove(out + *pos, v, n);
	*pos += n;
	return MSC_OK;
}

/* ---- decoding helpers ---- */

/* Reads one element at msg[*pos]; strict minimal BER length. */
static msc_rc
get_tlv(const uint8_t *msg, size_t len, size_t *pos, uint8_t *tag,
		const uint8_t **v, size_t *n)
{
	size_t		p = *pos;
	size_t		l;

	if (len - p < 2)
		return MSC_E_TLV;
	*tag = msg[p++];
	l = msg[p++];
	if (l == 0x81)
	{
		if (len - p < 1)
			return MSC_E_TLV;
		l = msg[p++];
		if (l < 0x80)
			return MSC_E_TLV;
	}
	else if (l == 0x82)
	{
		if (len - p < 2)
			return MSC_E_TLV;
		l = ((size_t) msg[p] << 8) | msg[p + 1];
		p += 2;
		if (l < 0x100)
			return MSC_E_TLV;
	}
	else if (l >= 0x80)
		return MSC_E_TLV;
	if (l > len - p)
		return MSC_E_TLV;
	*v = msg + p;
	*n = l;
	*pos = p + l;
	return MSC_OK;
}

/*
 * Splits msg into the elements of tags[] (in that order, each at most
 * once, nothing after the last one).  Missing elements are left
 * !present for the caller to judge.
 */
static msc_rc
split_elements(const uint8_t *msg, size_t len, const uint8_t *tags,
			   size_t ntags, tlv_elem *elems)
{
	size_t		pos = 0;
	int			last = -1;
	size_t		i;

	memset(elems, 0, sizeof(tlv_elem) * ntags);
	while (pos < len)
	{
		uint8_t		tag;
		const uint8_t *v;
		size_t		n;
		size_t		start = pos;
		int			idx = -1;
		msc_rc		rc;

		if (elems[ntags - 1].present)
			return MSC_E_TRAILING;
		rc = get_tlv(msg, len, &pos, &tag, &v, &n);
		if (rc != MSC_OK)
			return rc;
		for (i = 0; i < ntags; i++)
			if (tags[i] == tag)
				idx = (int) i;
		if (idx < 0)
			return MSC_E_TAG_UNKNOWN;
		if (elems[idx].present)
			return MSC_E_TAG_DUP;
		if (idx < last)
			return MSC_E_TAG_ORDER;
		last = idx;
		elems[idx].present = 1;
		elems[idx].offset = start;
		elems[idx].value = v;
		elems[idx].len = n;
	}
	return MSC_OK;
}

/* ---- checks shared by encoder and decoder ---- */

static msc_rc
check_display(uint8_t coding, size_t units, const uint8_t *d, size_t len)
{
	uint8_t		utf8[3 * MSC_DISPLAY_MAX_UNITS];
	size_t		ulen;
	msc_rc		rc;

	if (d == NULL && len > 0)
		return MSC_E_ARG;
	if (coding == MSC_DCS_GSM7)
	{
		if (units > MSC_DISPLAY_MAX_UNITS ||
			len != msc_gsm7_packed_len(units))
			return MSC_E_VALUE;
	}
	else if (coding == MSC_DCS_UCS2)
	{
		if (len % 2 != 0 || len / 2 > MSC_DISPLAY_MAX_UNITS)
			return MSC_E_VALUE;
		units = len / 2;
	}
	else
		return MSC_E_VALUE;
	rc = msc_display_decode(coding, d, len, units, utf8, sizeof(utf8), &ulen);
	if (rc != MSC_OK)
		return MSC_E_VALUE;
	return MSC_OK;
}

static msc_rc
check_request(const msc_applet_request *r, int need_sig)
{
	size_t		i;
	msc_rc		rc;

	if (r->version != MSC_APPLET_VERSION)
		return MSC_E_VERSION;
	if (r->data == NULL && r->data_len > 0)
		return MSC_E_ARG;
	if (r->operation == MSC_OP_AUTHENTICATE)
	{
		if (r->data_len != MSC_APPLET_CHALLENGE_LEN)
			return MSC_E_VALUE;
	}
	else if (r->operation == MSC_OP_SIGN)
	{
		if (r->data_len == 0 || r->data_len > MSC_APPLET_MAX_DATA ||
			msc_utf8_validate(r->data, r->data_len, NULL) != MSC_OK)
			return MSC_E_VALUE;
	}
	else if (r->operation == MSC_OP_SIGN_DIGEST)
	{
		if (msc_digest_hash_name(r->data_len) == NULL)
			return MSC_E_VALUE;
	}
	else if (r->operation == MSC_OP_RECEIPT)
	{
		if (r->data_len != MSC_APPLET_REF_LEN)
			return MSC_E_VALUE;
	}
	else
		return MSC_E_VALUE;
	rc = check_display(r->display_coding, r->display_units, r->display,
					   r->display_len);
	if (rc != MSC_OK)
		return rc;
	for (i = 0; i < MSC_APPLET_VCODE_LEN; i++)
		if (r->vcode[i] < '0' || r->vcode[i] > '9')
			return MSC_E_VALUE;
	if (need_sig)
	{
		if (r->signature == NULL || r->signature_len == 0 ||
			r->signature_len > MSC_APPLET_MAX_SIG)
			return MSC_E_VALUE;
	}
	return MSC_OK;
}

/* ---- request ---- */

void
msc_applet_request_set_display(msc_applet_request *req,
							   const msc_display_text *dt)
{
	if (req == NULL || dt == NULL)
		return;
	req->display_coding = dt->coding;
	req->display_units = dt->units;
	req->display = dt->data;
	req->display_len = dt->len;
}

/* What every request and response starts with: its version and reference. */
static msc_rc
put_head(uint8_t *out, size_t cap, size_t *pos, uint8_t version,
		 const uint8_t reference[MSC_APPLET_REF_LEN])
{
	msc_rc		rc = put_tlv(out, cap, pos, MSC_TAG_VERSION, &version, 1);

	if (rc != MSC_OK)
		return rc;
	return put_tlv(out, cap, pos, MSC_TAG_REFERENCE, reference, MSC_APPLET_REF_LEN);
}

msc_rc
msc_applet_request_encode_unsigned(const msc_applet_request *req,
								   uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t		b[4];
	size_t		pos = 0;
	size_t		dlen;
	msc_rc		rc;

	if (req == NULL || out == NULL || out_len == NULL)
		return MSC_E_ARG;
	rc = check_request(req, 0);
	if (rc != MSC_OK)
		return rc;

	if ((rc = put_head(out, cap, &pos, req->version, req->reference)) != MSC_OK)
		return rc;
	b[0] = req->operation;
	if ((rc = put_tlv(out, cap, &pos, MSC_TAG_OPERATION, b, 1)) != MSC_OK)
		return rc;
	if ((rc = put_tlv(out, cap, &pos, MSC_TAG_DATA, req->data,
					  req->data_len)) != MSC_OK)
		return rc;

	/* display: coding [septet count] bytes */
	dlen = 1 + (req->display_coding == MSC_DCS_GSM7 ? 1 : 0) + req->display_len;
	if ((rc = put_header(out, cap, &pos, MSC_TAG_DISPLAY, dlen)) != MSC_OK)
		return rc;
	out[pos++] = req->display_coding;
	if (req->display_coding == MSC_DCS_GSM7)
		out[pos++] = (uint8_t) req->display_units;
	if (req->display_len > 0)
		memmove(out + pos, req->display, req->display_len);
	pos += req->display_len;

	if ((rc = put_tlv(out, cap, &pos, MSC_TAG_VCODE,
					  (const uint8_t *) req->vcode, MSC_APPLET_VCODE_LEN)) != MSC_OK)
		return rc;
	b[0] = (uint8_t) (req->expiry >> 24);
	b[1] = (uint8_t) (req->expiry >> 16);
	b[2] = (uint8_t) (req->expiry >> 8);
	b[3] = (uint8_t) req->expiry;
	if ((rc = put_tlv(out, cap, &pos, MSC_TAG_EXPIRY, b, 4)) != MSC_OK)
		return rc;
	*out_len = pos;
	return MSC_OK;
}

msc_rc
msc_applet_request_append_signature(uint8_t *buf, size_t cap, size_t len,
									const uint8_t *sig, size_t sig_len,
									size_t *out_len)
{
	size_t		pos = len;
	msc_rc		rc;

	if (buf == NULL || sig == NULL || out_len == NULL || len > cap)
		return MSC_E_ARG;
	if (sig_len == 0 || sig_len > MSC_APPLET_MAX_SIG)
		return MSC_E_VALUE;
	rc = put_tlv(buf, cap, &pos, MSC_TAG_SP_SIGNATURE, sig, sig_len);
	if (rc != MSC_OK)
		return rc;
	*out_len = pos;
	return MSC_OK;
}

msc_rc
msc_applet_request_encode(const msc_applet_request *req,
						  uint8_t *out, size_t cap, size_t *out_len)
{
	size_t		len;
	msc_rc		rc;

	if (req == NULL || out == NULL || out_len == NULL)
		return MSC_E_ARG;
	rc = check_request(req, 1);
	if (rc != MSC_OK)
		return rc;
	rc = msc_applet_request_encode_unsigned(req, out, cap, &len);
	if (rc != MSC_OK)
		return rc;
	return msc_applet_request_append_signature(out, cap, len, req->signature,
											   req->signature_len, out_len);
}

static msc_rc
request_decode(const uint8_t *msg, size_t len, msc_applet_request *out,
			   size_t *sig_offset)
{
	tlv_elem	e[MAX_ELEMS];
	const tlv_elem *d;
	size_t		i;
	msc_rc		rc;

	memset(out, 0, sizeof(*out));
	rc = split_elements(msg, len, request_tags, sizeof(request_tags), e);
	if (rc != MSC_OK)
		return rc;
	for (i = 0; i < sizeof(request_tags); i++)
		if (!e[i].present)
			return MSC_E_TAG_MISSING;

	/* version first: a different version may have a different layout */
	if (e[0].len != 1)
		return MSC_E_VALUE;
	out->version = e[0].value[0];
	if (out->version != MSC_APPLET_VERSION)
		return MSC_E_VERSION;
	if (e[1].len != MSC_APPLET_REF_LEN || e[2].len != 1 ||
		e[5].len != MSC_APPLET_VCODE_LEN || e[6].len != 4)
		return MSC_E_VALUE;
	memcpy(out->reference, e[1].value, MSC_APPLET_REF_LEN);
	out->operation = e[2].value[0];
	out->data = e[3].value;
	out->data_len = e[3].len;

	d = &e[4];
	if (d->len < 1)
		return MSC_E_VALUE;
	out->display_coding = d->value[0];
	if (out->display_coding == MSC_DCS_GSM7)
	{
		if (d->len < 2)
			return MSC_E_VALUE;
		out->display_units = d->value[1];
		out->display = d->value + 2;
		out->display_len = d->len - 2;
	}
	else
	{
		out->display = d->value + 1;
		out->display_len = d->len - 1;
		out->display_units = out->display_len / 2;
	}
	memcpy(out->vcode, e[5].value, MSC_APPLET_VCODE_LEN);
	out->vcode[MSC_APPLET_VCODE_LEN] = '\0';
	out->expiry = ((uint32_t) e[6].value[0] << 24) |
		((uint32_t) e[6].value[1] << 16) |
		((uint32_t) e[6].value[2] << 8) |
		(uint32_t) e[6].value[3];
	out->signature = e[7].value;
	out->signature_len = e[7].len;
	rc = check_request(out, 1);
	if (rc != MSC_OK)
		return rc;
	*sig_offset = e[7].offset;
	return MSC_OK;
}

msc_rc
msc_applet_request_decode(const uint8_t *msg, size_t len,
						  msc_applet_request *out)
{
	size_t		off;
	msc_rc		rc;

	if (msg == NULL || out == NULL)
		return MSC_E_ARG;
	rc = request_decode(msg, len, out, &off);
	if (rc != MSC_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

msc_rc
msc_applet_request_signed_part(const uint8_t *msg, size_t len,
							   const uint8_t **signed_part,
							   size_t *signed_len)
{
	msc_applet_request req;
	size_t		off;
	msc_rc		rc;

	if (msg == NULL || signed_part == NULL || signed_len == NULL)
		return MSC_E_ARG;
	rc = request_decode(msg, len, &req, &off);
	if (rc != MSC_OK)
		return rc;
	*signed_part = msg;
	*signed_len = off;
	return MSC_OK;
}

/* ---- response ---- */

static msc_rc
check_response(const msc_applet_response *r)
{
	if (r->version != MSC_APPLET_VERSION)
		return MSC_E_VERSION;
	if (r->result > MSC_RESULT_MAX)
		return MSC_E_VALUE;
	if (r->result == MSC_RESULT_OK)
	{
		if (r->cms == NULL || r->cms_len == 0 || r->cms_len > MSC_APPLET_MAX_CMS)
			return MSC_E_VALUE;
	}
	else if (r->cms != NULL || r->cms_len != 0)
		return MSC_E_VALUE;
	return MSC_OK;
}

msc_rc
msc_applet_response_encode(const msc_applet_response *rsp,
						   uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t		b[1];
	size_t		pos = 0;
	msc_rc		rc;

	if (rsp == NULL || out == NULL || out_len == NULL)
		return MSC_E_ARG;
	rc = check_response(rsp);
	if (rc != MSC_OK)
		return rc;
	if ((rc = put_head(out, cap, &pos, rsp->version, rsp->reference)) != MSC_OK)
		return rc;
	b[0] = rsp->result;
	if ((rc = put_tlv(out, cap, &pos, MSC_TAG_RESULT, b, 1)) != MSC_OK)
		return rc;
	if (rsp->result == MSC_RESULT_OK &&
		(rc = put_tlv(out, cap, &pos, MSC_TAG_CMS, rsp->cms,
					  rsp->cms_len)) != MSC_OK)
		return rc;
	*out_len = pos;
	return MSC_OK;
}

msc_rc
msc_applet_response_decode(const uint8_t *msg, size_t len,
						   msc_applet_response *out)
{
	tlv_elem	e[MAX_ELEMS];
	msc_rc		rc;

	if (msg == NULL || out == NULL)
		return MSC_E_ARG;
	memset(out, 0, sizeof(*out));
	rc = split_elements(msg, len, response_tags, sizeof(response_tags), e);
	if (rc != MSC_OK)
		return rc;
	if (!e[0].present || !e[1].present || !e[2].present)
		return MSC_E_TAG_MISSING;
	if (e[0].len != 1)
		return MSC_E_VALUE;
	if (e[0].value[0] != MSC_APPLET_VERSION)
		return MSC_E_VERSION;
	if (e[1].len != MSC_APPLET_REF_LEN || e[2].len != 1)
		return MSC_E_VALUE;
	if (e[2].value[0] == MSC_RESULT_OK && !e[3].present)
		return MSC_E_TAG_MISSING;
	out->version = e[0].value[0];
	memcpy(out->reference, e[1].value, MSC_APPLET_REF_LEN);
	out->result = e[2].value[0];
	if (e[3].present)
	{
		out->cms = e[3].value;
		out->cms_len = e[3].len;
	}
	rc = check_response(out);
	if (rc != MSC_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

const char *
msc_applet_result_name(uint8_t result)
{
	static const char *const names[] = {
		"ok", "user cancel", "pin blocked", "card blocked", "no key",
		"sim error", "bad request signature", "expired", "shown"
	};

	if (result <= MSC_RESULT_MAX)
		return names[result];
	return "unknown";
}

const char *
msc_digest_hash_name(size_t digest_len)
{
	switch (digest_len)
	{
		case 32:
			return "SHA256";
		case 48:
			return "SHA384";
		case 64:
			return "SHA512";
		default:
			return NULL;
	}
}

msc_rc
msc_digest_verification_code(const uint8_t *digest, size_t len,
							 char out[MSC_APPLET_VCODE_LEN + 1])
{
	unsigned int code;

	if (digest == NULL || len < MSC_DIGEST_MIN_LEN)
		return MSC_E_ARG;
	/* the first 6 bits of the first octet, the last 7 bits of the last one */
	code = ((unsigned int) (digest[0] & 0xFC) << 5) | (digest[len - 1] & 0x7F);
	out[0] = (char) ('0' + code / 1000);
	out[1] = (char) ('0' + code / 100 % 10);
	out[2] = (char) ('0' + code / 10 % 10);
	out[3] = (char) ('0' + code % 10);
	out[4] = '\0';
	return MSC_OK;
}
