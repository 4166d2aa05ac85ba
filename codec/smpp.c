/*-------------------------------------------------------------------------
 *
 * smpp.c
 *	  Bounded SMPP 3.4 receive-side decoder (see smpp.h).
 *
 * Every read goes through a cursor (pos <= len) that is checked before each
 * field; C-octet strings are searched for their NUL only within their SMPP
 * maximum length; the optional-parameter walk stops after
 * MSC_SMPP_MAX_TLVS parameters.  Nothing is allocated and nothing is
 * written outside the caller's msc_smpp_pdu.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "smpp.h"

/* ---- lengths of the mandatory fields (SMPP 3.4 §4, NUL included) ---------- */
#define MAX_SYSTEM_ID		16	/* §4.1.6 */
#define MAX_MESSAGE_ID		65	/* §4.4.2 */
#define MAX_SERVICE_TYPE	6	/* §4.6.1 */
#define MAX_ADDR			21	/* §4.6.1 source_addr, destination_addr */
#define MAX_NULL_TIME		1	/* §4.6.1: unused in deliver_sm, NULL */
#define MAX_SM_LENGTH		254 /* §4.6.1 */

/* ---- optional parameters (SMPP 3.4 §5.3.2): tag, value length, kind ------- */
typedef enum tlv_kind
{
	TLV_OCTETS,					/* integer or octet string */
	TLV_CSTRING					/* C-octet string: the last octet is its only NUL */
} tlv_kind;

typedef struct tlv_spec
{
	uint16_t	tag;
	uint16_t	min;
	uint16_t	max;
	tlv_kind	kind;
} tlv_spec;

static const tlv_spec tlv_specs[] = {
	{0x0005, 1, 1, TLV_OCTETS},	/* dest_addr_subunit */
	{0x0006, 1, 1, TLV_OCTETS},	/* dest_network_type */
	{0x0007, 1, 1, TLV_OCTETS},	/* dest_bearer_type */
	{0x0008, 2, 2, TLV_OCTETS},	/* dest_telematics_id */
	{0x000D, 1, 1, TLV_OCTETS},	/* source_addr_subunit */
	{0x000E, 1, 1, TLV_OCTETS},	/* source_network_type */
	{0x000F, 1, 1, TLV_OCTETS},	/* source_bearer_type */
	{0x0010, 1, 1, TLV_OCTETS},	/* source_telematics_id */
	{0x0017, 4, 4, TLV_OCTETS},	/* qos_time_to_live */
	{0x0019, 1, 1, TLV_OCTETS},	/* payload_type */
	{0x001D, 1, 256, TLV_CSTRING},	/* additional_status_info_text */
	{MSC_SMPP_TLV_RECEIPTED_MESSAGE_ID, 1, MAX_MESSAGE_ID, TLV_CSTRING},
	{0x0030, 1, 1, TLV_OCTETS},	/* ms_msg_wait_facilities */
	{0x0201, 1, 1, TLV_OCTETS},	/* privacy_indicator */
	{0x0202, 2, 23, TLV_OCTETS},	/* source_subaddress */
	{0x0203, 2, 23, TLV_OCTETS},	/* dest_subaddress */
	{MSC_SMPP_TLV_USER_MESSAGE_REFERENCE, 2, 2, TLV_OCTETS},
	{0x0205, 1, 1, TLV_OCTETS},	/* user_response_code */
	{0x020A, 2, 2, TLV_OCTETS},	/* source_port */
	{0x020B, 2, 2, TLV_OCTETS},	/* destination_port */
	{MSC_SMPP_TLV_SAR_MSG_REF_NUM, 2, 2, TLV_OCTETS},
	{0x020D, 1, 1, TLV_OCTETS},	/* language_indicator */
	{MSC_SMPP_TLV_SAR_TOTAL_SEGMENTS, 1, 1, TLV_OCTETS},
	{MSC_SMPP_TLV_SAR_SEGMENT_SEQNUM, 1, 1, TLV_OCTETS},
	{MSC_SMPP_TLV_SC_INTERFACE_VERSION, 1, 1, TLV_OCTETS},
	{0x0302, 1, 1, TLV_OCTETS},	/* callback_num_pres_ind */
	{0x0303, 0, 65, TLV_OCTETS},	/* callback_num_atag */
	{0x0304, 1, 1, TLV_OCTETS},	/* number_of_messages */
	{0x0381, 4, 19, TLV_OCTETS},	/* callback_num */
	{0x0420, 1, 1, TLV_OCTETS},	/* dpf_result */
	{0x0421, 1, 1, TLV_OCTETS},	/* set_dpf */
	{0x0422, 1, 1, TLV_OCTETS},	/* ms_availability_status */
	{MSC_SMPP_TLV_NETWORK_ERROR_CODE, 3, 3, TLV_OCTETS},
	{MSC_SMPP_TLV_MESSAGE_PAYLOAD, 0, 65535, TLV_OCTETS},
	{0x0425, 1, 1, TLV_OCTETS},	/* delivery_failure_reason */
	{0x0426, 1, 1, TLV_OCTETS},	/* more_messages_to_send */
	{MSC_SMPP_TLV_MESSAGE_STATE, 1, 1, TLV_OCTETS},
	{0x0501, 1, 1, TLV_OCTETS},	/* ussd_service_op */
	{0x1201, 1, 1, TLV_OCTETS},	/* display_time */
	{0x1203, 2, 2, TLV_OCTETS},	/* sms_signal */
	{0x1204, 1, 1, TLV_OCTETS},	/* ms_validity */
	{0x130C, 0, 0, TLV_OCTETS},	/* alert_on_message_delivery */
	{0x1380, 1, 1, TLV_OCTETS},	/* its_reply_type */
	{0x1383, 2, 2, TLV_OCTETS},	/* its_session_info */
};

#define N_TLV_SPECS (sizeof(tlv_specs) / sizeof(tlv_specs[0]))

/* message_state values (SMPP 3.4 §5.2.28): ENROUTE 1 .. REJECTED 8 */
#define MESSAGE_STATE_MIN	1
#define MESSAGE_STATE_MAX	8

typedef struct cursor
{
	const uint8_t *b;
	size_t		len;
	size_t		pos;
} cursor;

static const char empty_str[1] = "";

static uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

static msc_rc
fail(msc_smpp_pdu *pdu, msc_rc rc, msc_smpp_field field, uint16_t tag)
{
	pdu->fault.field = field;
	pdu->fault.tag = tag;
	return rc;
}

static msc_rc
get_u8(cursor *c, uint8_t *v, msc_smpp_pdu *pdu)
{
	if (c->pos >= c->len)
		return fail(pdu, MSC_E_LENGTH, MSC_SMPP_F_BODY, 0);
	*v = c->b[c->pos++];
	return MSC_OK;
}

/*
 * A C-octet string of at most max octets, NUL included.  No NUL before the
 * end of the body: truncated (MSC_E_LENGTH, F_BODY); no NUL within max
 * octets of a longer body: too long (MSC_E_VALUE, field).
 */
static msc_rc
get_cstr(cursor *c, size_t max, msc_smpp_str *out, msc_smpp_field field, msc_smpp_pdu *pdu)
{
	size_t		avail = c->len - c->pos;
	size_t		scan = avail < max ? avail : max;
	const uint8_t *nul = scan ? memchr(c->b + c->pos, 0, scan) : NULL;

	if (nul == NULL)
		return avail < max ? fail(pdu, MSC_E_LENGTH, MSC_SMPP_F_BODY, 0) :
			fail(pdu, MSC_E_VALUE, field, 0);
	out->s = (const char *) (c->b + c->pos);
	out->len = (size_t) (nul - (c->b + c->pos));
	c->pos += out->len + 1;
	return MSC_OK;
}

static const tlv_spec *
tlv_find(uint16_t tag, size_t *index)
{
	size_t		i;

	for (i = 0; i < N_TLV_SPECS; i++)
		if (tlv_specs[i].tag == tag)
		{
			*index = i;
			return &tlv_specs[i];
		}
	return NULL;
}

/* one optional parameter the caller keeps; value checked against its spec */
typedef msc_rc (*tlv_take) (msc_smpp_pdu *pdu, uint16_t tag, const uint8_t *v, uint16_t len);

/*
 * Walk the optional parameters from c->pos to the end of the body: each is
 * tag (2), length (2), value (length); at most MSC_SMPP_MAX_TLVS of them; a
 * known tag at most once, with a length within its spec; C-octet strings
 * end with their only NUL.  take() sees each known one.
 */
static msc_rc
walk_tlvs(cursor *c, msc_smpp_pdu *pdu, tlv_take take)
{
	uint64_t	seen = 0;

	while (c->pos < c->len)
	{
		uint16_t	tag,
					len;
		const uint8_t *v;
		const tlv_spec *spec;
		size_t		idx = 0;
		msc_rc		rc;

		if (pdu->n_tlv >= MSC_SMPP_MAX_TLVS)
			return fail(pdu, MSC_E_TLV, MSC_SMPP_F_TLV_STREAM, 0);
		if (c->len - c->pos < 4)
			return fail(pdu, MSC_E_LENGTH, MSC_SMPP_F_TLV_STREAM, 0);
		tag = be16(c->b + c->pos);
		len = be16(c->b + c->pos + 2);
		if (c->len - c->pos - 4 < len)
			return fail(pdu, MSC_E_LENGTH, MSC_SMPP_F_TLV_STREAM, tag);
		v = c->b + c->pos + 4;
		c->pos += 4 + (size_t) len;
		pdu->n_tlv++;

		spec = tlv_find(tag, &idx);
		if (spec == NULL)
			continue;			/* not ours: ignored, but counted */
		if (seen & ((uint64_t) 1 << idx))
			return fail(pdu, MSC_E_TAG_DUP, MSC_SMPP_F_TLV_STREAM, tag);
		seen |= (uint64_t) 1 << idx;
		if (len < spec->min || len > spec->max)
			return fail(pdu, MSC_E_TLV, MSC_SMPP_F_TLV_LENGTH, tag);
		if (spec->kind == TLV_CSTRING && memchr(v, 0, len) != v + len - 1)
			return fail(pdu, MSC_E_VALUE, MSC_SMPP_F_TLV_VALUE, tag);
		if (take != NULL && (rc = take(pdu, tag, v, len)) != MSC_OK)
			return rc;
	}
	return MSC_OK;
}

/* ---- bodies --------------------------------------------------------------- */

static msc_rc
take_bind_resp(msc_smpp_pdu *pdu, uint16_t tag, const uint8_t *v, uint16_t len)
{
	(void) len;					/* 1, by its spec */
	if (tag == MSC_SMPP_TLV_SC_INTERFACE_VERSION)
		pdu->u.bind_resp.sc_interface_version = v[0];
	return MSC_OK;
}

/*
 * bind_transceiver_resp and submit_sm_resp: one C-octet string (system_id,
 * message_id), then optional parameters.  An empty body is tolerated.
 */
static msc_rc
decode_resp(cursor *c, msc_smpp_pdu *pdu, size_t max, msc_smpp_str *out,
			msc_smpp_field field, tlv_take take)
{
	msc_rc		rc;

	if (c->len == 0)
		return MSC_OK;
	if ((rc = get_cstr(c, max, out, field, pdu)) != MSC_OK)
		return rc;
	return walk_tlvs(c, pdu, take);
}

static msc_rc
take_deliver_sm(msc_smpp_pdu *pdu, uint16_t tag, const uint8_t *v, uint16_t len)
{
	msc_smpp_deliver_sm *d = &pdu->u.deliver_sm;

	switch (tag)
	{
		case MSC_SMPP_TLV_MESSAGE_PAYLOAD:
			d->message_payload = v;
			d->message_payload_len = len;
			break;
		case MSC_SMPP_TLV_RECEIPTED_MESSAGE_ID:
			d->receipted_message_id.s = (const char *) v;
			d->receipted_message_id.len = (size_t) len - 1;
			break;
		case MSC_SMPP_TLV_MESSAGE_STATE:
			if (v[0] < MESSAGE_STATE_MIN || v[0] > MESSAGE_STATE_MAX)
				return fail(pdu, MSC_E_VALUE, MSC_SMPP_F_TLV_VALUE, tag);
			d->message_state = v[0];
			break;
		case MSC_SMPP_TLV_NETWORK_ERROR_CODE:
			d->network_error_code = v;
			break;
		case MSC_SMPP_TLV_USER_MESSAGE_REFERENCE:
			d->user_message_reference = be16(v);
			break;
		case MSC_SMPP_TLV_SAR_MSG_REF_NUM:
			d->sar_msg_ref_num = be16(v);
			break;
		case MSC_SMPP_TLV_SAR_TOTAL_SEGMENTS:
			d->sar_total_segments = v[0];
			break;
		case MSC_SMPP_TLV_SAR_SEGMENT_SEQNUM:
			d->sar_segment_seqnum = v[0];
			break;
		default:
			break;
	}
	return MSC_OK;
}

static msc_rc
decode_deliver_sm(cursor *c, msc_smpp_pdu *pdu)
{
	msc_smpp_deliver_sm *d = &pdu->u.deliver_sm;
	msc_smpp_str unused;
	uint8_t		sm_length;
	msc_rc		rc;

	d->service_type.s = d->source_addr.s = d->destination_addr.s = empty_str;
	d->receipted_message_id.s = empty_str;
	d->message_state = d->user_message_reference = -1;
	d->sar_msg_ref_num = d->sar_total_segments = d->sar_segment_seqnum = -1;

	if ((rc = get_cstr(c, MAX_SERVICE_TYPE, &d->service_type, MSC_SMPP_F_SERVICE_TYPE, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->source_addr_ton, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->source_addr_npi, pdu)) != MSC_OK ||
		(rc = get_cstr(c, MAX_ADDR, &d->source_addr, MSC_SMPP_F_SOURCE_ADDR, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->dest_addr_ton, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->dest_addr_npi, pdu)) != MSC_OK ||
		(rc = get_cstr(c, MAX_ADDR, &d->destination_addr, MSC_SMPP_F_DESTINATION_ADDR, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->esm_class, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->protocol_id, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->priority_flag, pdu)) != MSC_OK ||
		(rc = get_cstr(c, MAX_NULL_TIME, &unused, MSC_SMPP_F_SCHEDULE, pdu)) != MSC_OK ||
		(rc = get_cstr(c, MAX_NULL_TIME, &unused, MSC_SMPP_F_VALIDITY, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->registered_delivery, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->replace_if_present_flag, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->data_coding, pdu)) != MSC_OK ||
		(rc = get_u8(c, &d->sm_default_msg_id, pdu)) != MSC_OK ||
		(rc = get_u8(c, &sm_length, pdu)) != MSC_OK)
		return rc;
	if (sm_length > MAX_SM_LENGTH || sm_length > c->len - c->pos)
		return fail(pdu, MSC_E_LENGTH, MSC_SMPP_F_SHORT_MESSAGE, 0);
	d->sm_length = sm_length;
	d->short_message = c->b + c->pos;
	c->pos += sm_length;
	if ((rc = walk_tlvs(c, pdu, take_deliver_sm)) != MSC_OK)
		return rc;
	/* §5.3.2.32: message_payload only with an empty short_message */
	if (d->message_payload != NULL && d->sm_length > 0)
		return fail(pdu, MSC_E_VALUE, MSC_SMPP_F_TLV_NOT_ALLOWED, MSC_SMPP_TLV_MESSAGE_PAYLOAD);
	return MSC_OK;
}

/* ---- public --------------------------------------------------------------- */

msc_rc
msc_smpp_frame(const uint8_t *buf, size_t len, size_t cap, size_t *frame_len)
{
	uint32_t	n;

	if (buf == NULL || frame_len == NULL || cap > MSC_SMPP_MAX_PDU || cap < MSC_SMPP_HEADER_LEN)
		return MSC_E_ARG;
	*frame_len = 0;
	if (len < 4)
		return MSC_OK;
	n = be32(buf);
	if (n < MSC_SMPP_HEADER_LEN || n > cap)
		return MSC_E_LENGTH;
	if (len >= n)
		*frame_len = n;
	return MSC_OK;
}

msc_rc
msc_smpp_decode(const uint8_t *frame, size_t len, msc_smpp_pdu *pdu)
{
	cursor		c;
	msc_rc		rc = MSC_OK;

	if (pdu == NULL)
		return MSC_E_ARG;
	memset(pdu, 0, sizeof(*pdu));
	if (frame == NULL)
		return fail(pdu, MSC_E_ARG, MSC_SMPP_F_BODY, 0);
	if (len < MSC_SMPP_HEADER_LEN || len > MSC_SMPP_MAX_PDU || be32(frame) != len)
		return fail(pdu, MSC_E_LENGTH, MSC_SMPP_F_BODY, 0);
	pdu->h.command_length = (uint32_t) len;
	pdu->h.command_id = be32(frame + 4);
	pdu->h.command_status = be32(frame + 8);
	pdu->h.sequence_number = be32(frame + 12);
	pdu->body = frame + MSC_SMPP_HEADER_LEN;
	pdu->body_len = len - MSC_SMPP_HEADER_LEN;
	c.b = pdu->body;
	c.len = pdu->body_len;
	c.pos = 0;
	pdu->known = 1;

	switch (pdu->h.command_id)
	{
		case MSC_SMPP_GENERIC_NACK:
		case MSC_SMPP_UNBIND:
		case MSC_SMPP_UNBIND_RESP:
		case MSC_SMPP_ENQUIRE_LINK:
		case MSC_SMPP_ENQUIRE_LINK_RESP:
			/* §4.2, §4.3, §4.11: header only */
			if (c.len != 0)
				rc = fail(pdu, MSC_E_TRAILING, MSC_SMPP_F_BODY, 0);
			break;
		case MSC_SMPP_BIND_TRANSCEIVER_RESP:
			pdu->u.bind_resp.system_id.s = empty_str;
			pdu->u.bind_resp.sc_interface_version = -1;
			if (pdu->h.command_status == MSC_SMPP_ROK)
				rc = decode_resp(&c, pdu, MAX_SYSTEM_ID, &pdu->u.bind_resp.system_id,
								 MSC_SMPP_F_SYSTEM_ID, take_bind_resp);
			break;
		case MSC_SMPP_SUBMIT_SM_RESP:
			pdu->u.submit_resp.message_id.s = empty_str;
			if (pdu->h.command_status == MSC_SMPP_ROK)
				rc = decode_resp(&c, pdu, MAX_MESSAGE_ID, &pdu->u.submit_resp.message_id,
								 MSC_SMPP_F_MESSAGE_ID, NULL);
			break;
		case MSC_SMPP_DELIVER_SM:
			rc = decode_deliver_sm(&c, pdu);
			break;
		default:
			pdu->known = 0;
			break;
	}
	if (rc != MSC_OK)
	{
		/* no half-decoded fields: a refused body reads as empty */
		msc_smpp_fault f = pdu->fault;

		memset(&pdu->u, 0, sizeof(pdu->u));
		pdu->u.deliver_sm.service_type.s = empty_str;
		pdu->u.deliver_sm.source_addr.s = empty_str;
		pdu->u.deliver_sm.destination_addr.s = empty_str;
		pdu->u.deliver_sm.receipted_message_id.s = empty_str;
		pdu->u.submit_resp.message_id.s = empty_str;
		pdu->u.bind_resp.system_id.s = empty_str;
		pdu->fault = f;
	}
	return rc;
}

typedef struct field_desc
{
	msc_smpp_field field;
	const char *name;
	uint32_t	status;
} field_desc;

/* one table: field, its name in logs, the command_status that refuses it */
static const field_desc field_descs[] = {
	{MSC_SMPP_F_NONE, "none", MSC_SMPP_RINVCMDLEN},
	{MSC_SMPP_F_BODY, "body length", MSC_SMPP_RINVCMDLEN},
	{MSC_SMPP_F_SERVICE_TYPE, "service_type", MSC_SMPP_RINVSERTYP},
	{MSC_SMPP_F_SOURCE_ADDR, "source_addr", MSC_SMPP_RINVSRCADR},
	{MSC_SMPP_F_DESTINATION_ADDR, "destination_addr", MSC_SMPP_RINVDSTADR},
	{MSC_SMPP_F_SCHEDULE, "schedule_delivery_time", MSC_SMPP_RINVSCHED},
	{MSC_SMPP_F_VALIDITY, "validity_period", MSC_SMPP_RINVEXPIRY},
	{MSC_SMPP_F_SHORT_MESSAGE, "sm_length", MSC_SMPP_RINVMSGLEN},
	{MSC_SMPP_F_SYSTEM_ID, "system_id", MSC_SMPP_RINVCMDLEN},
	{MSC_SMPP_F_MESSAGE_ID, "message_id", MSC_SMPP_RINVCMDLEN},
	{MSC_SMPP_F_TLV_STREAM, "optional parameters", MSC_SMPP_RINVOPTPARSTREAM},
	{MSC_SMPP_F_TLV_LENGTH, "optional parameter length", MSC_SMPP_RINVPARLEN},
	{MSC_SMPP_F_TLV_VALUE, "optional parameter value", MSC_SMPP_RINVOPTPARAMVAL},
	{MSC_SMPP_F_TLV_NOT_ALLOWED, "message_payload with short_message", MSC_SMPP_ROPTPARNOTALLWD},
};

static const field_desc *
field_find(msc_smpp_field field)
{
	size_t		i;

	for (i = 0; i < sizeof(field_descs) / sizeof(field_descs[0]); i++)
		if (field_descs[i].field == field)
			return &field_descs[i];
	return &field_descs[0];
}

uint32_t
msc_smpp_fault_status(const msc_smpp_fault *fault)
{
	return fault ? field_find(fault->field)->status : MSC_SMPP_RINVCMDLEN;
}

const char *
msc_smpp_field_name(msc_smpp_field field)
{
	return field_find(field)->name;
}

const char *
msc_smpp_command_name(uint32_t command_id)
{
	switch (command_id)
	{
		case MSC_SMPP_GENERIC_NACK:
			return "generic_nack";
		case MSC_SMPP_SUBMIT_SM_RESP:
			return "submit_sm_resp";
		case MSC_SMPP_DELIVER_SM:
			return "deliver_sm";
		case MSC_SMPP_DELIVER_SM_RESP:
			return "deliver_sm_resp";
		case MSC_SMPP_UNBIND:
			return "unbind";
		case MSC_SMPP_UNBIND_RESP:
			return "unbind_resp";
		case MSC_SMPP_BIND_TRANSCEIVER_RESP:
			return "bind_transceiver_resp";
		case MSC_SMPP_ENQUIRE_LINK:
			return "enquire_link";
		case MSC_SMPP_ENQUIRE_LINK_RESP:
			return "enquire_link_resp";
		default:
			return "command";
	}
}

const uint8_t *
msc_smpp_user_data(const msc_smpp_deliver_sm *d, size_t *len)
{
	if (d->sm_length > 0 || d->message_payload == NULL)
	{
		*len = d->sm_length;
		return d->short_message;
	}
	*len = d->message_payload_len;
	return d->message_payload;
}

msc_rc
msc_smpp_msisdn_check(const char *s, size_t len)
{
	size_t		i = 0;

	if (s == NULL)
		return MSC_E_ARG;
	if (len > 0 && s[0] == '+')
		i = 1;
	if (len - i < MSC_MSISDN_MIN_DIGITS || len - i > MSC_MSISDN_MAX_DIGITS)
		return MSC_E_VALUE;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return MSC_E_VALUE;
	return MSC_OK;
}

msc_rc
msc_smpp_id_text(const msc_smpp_str *id, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	int			plain = 1;
	size_t		i,
				o;

	if (id == NULL || id->s == NULL || out == NULL || id->len > MAX_MESSAGE_ID - 1)
		return MSC_E_ARG;
	if (cap < MSC_SMPP_ID_TEXT_MAX)
		return MSC_E_BUFFER;
	for (i = 0; i < id->len; i++)
		if ((uint8_t) id->s[i] < 0x20 || (uint8_t) id->s[i] > 0x7E)
			plain = 0;
	if (id->len >= 4 && memcmp(id->s, "hex:", 4) == 0)
		plain = 0;
	if (plain)
	{
		memcpy(out, id->s, id->len);
		out[id->len] = '\0';
		return MSC_OK;
	}
	memcpy(out, "hex:", 4);
	for (i = 0, o = 4; i < id->len; i++)
	{
		out[o++] = hex[(uint8_t) id->s[i] >> 4];
		out[o++] = hex[(uint8_t) id->s[i] & 0x0F];
	}
	out[o] = '\0';
	return MSC_OK;
}
