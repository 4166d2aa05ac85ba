/*
 * smpp.c
 *	  mobisign-sim: SMPP 3.4 framing helpers around libsmpp34.
 */
#include "sim.h"
#include "smpp.h"

void
smpp_read_header(const uint8_t *b, smpp_hdr *h)
{
	h->length = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
	h->id = (uint32_t) b[4] << 24 | (uint32_t) b[5] << 16 | (uint32_t) b[6] << 8 | b[7];
	h->status = (uint32_t) b[8] << 24 | (uint32_t) b[9] << 16 | (uint32_t) b[10] << 8 | b[11];
	h->seq = (uint32_t) b[12] << 24 | (uint32_t) b[13] << 16 | (uint32_t) b[14] << 8 | b[15];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

size_t
smpp_header_only(uint8_t *out, uint32_t id, uint32_t status, uint32_t seq)
{
	put32(out, SMPP_HEADER_LEN);
	put32(out + 4, id);
	put32(out + 8, status);
	put32(out + 12, seq);
	return SMPP_HEADER_LEN;
}

/* The last "[...]" of libsmpp34's trace, copied safely. */
static void
log_smpp_error(const char *what, uint32_t type)
{
	char		tail[160];
	size_t		n = strnlen(smpp34_strerror, sizeof(smpp34_strerror));
	const char *start = smpp34_strerror;

	/* a bind's trace holds the password: never log it */
	if (type == BIND_TRANSCEIVER || type == BIND_TRANSMITTER || type == BIND_RECEIVER ||
		type == BIND_TRANSCEIVER_RESP || type == BIND_TRANSMITTER_RESP || type == BIND_RECEIVER_RESP)
	{
		sim_log("libsmpp34 %s of %s failed", what, smpp_cmd_name(type));
		return;
	}
	if (n > sizeof(tail) - 1)
		start = smpp34_strerror + n - (sizeof(tail) - 1);
	memcpy(tail, start, strnlen(start, sizeof(tail) - 1));
	tail[strnlen(start, sizeof(tail) - 1)] = '\0';
	for (n = 0; tail[n]; n++)
		if ((unsigned char) tail[n] < 0x20 || (unsigned char) tail[n] > 0x7e)
			tail[n] = '?';			/* the trace copies raw field bytes */
	sim_log("libsmpp34 %s of %s failed: %s", what, smpp_cmd_name(type), tail);
}

int
smpp_pack(uint32_t type, void *pdu, uint8_t *out, size_t cap, size_t *len)
{
	int			l = 0;

	if (smpp34_pack(type, out, (int) cap, &l, pdu) != 0 || l < SMPP_HEADER_LEN)
	{
		log_smpp_error("pack", type);
		return -1;
	}
	*len = (size_t) l;
	return 0;
}

int
smpp_unpack(uint32_t type, void *pdu, const uint8_t *buf, size_t len)
{
	if (smpp34_unpack(type, pdu, buf, (int) len) != 0)
	{
		log_smpp_error("unpack", type);
		return -1;
	}
	return 0;
}

const char *
smpp_cmd_name(uint32_t id)
{
	static char buf[16];

	switch (id)
	{
		case GENERIC_NACK:
			return "generic_nack";
		case BIND_RECEIVER:
			return "bind_receiver";
		case BIND_RECEIVER_RESP:
			return "bind_receiver_resp";
		case BIND_TRANSMITTER:
			return "bind_transmitter";
		case BIND_TRANSMITTER_RESP:
			return "bind_transmitter_resp";
		case BIND_TRANSCEIVER:
			return "bind_transceiver";
		case BIND_TRANSCEIVER_RESP:
			return "bind_transceiver_resp";
		case SUBMIT_SM:
			return "submit_sm";
		case SUBMIT_SM_RESP:
			return "submit_sm_resp";
		case DELIVER_SM:
			return "deliver_sm";
		case DELIVER_SM_RESP:
			return "deliver_sm_resp";
		case UNBIND:
			return "unbind";
		case UNBIND_RESP:
			return "unbind_resp";
		case ENQUIRE_LINK:
			return "enquire_link";
		case ENQUIRE_LINK_RESP:
			return "enquire_link_resp";
		case QUERY_SM:
			return "query_sm";
		case CANCEL_SM:
			return "cancel_sm";
		case REPLACE_SM:
			return "replace_sm";
		case SUBMIT_MULTI:
			return "submit_multi";
		case DATA_SM:
			return "data_sm";
		case OUTBIND:
			return "outbind";
	}
	snprintf(buf, sizeof(buf), "0x%08x", id);
	return buf;
}
