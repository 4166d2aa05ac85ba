/*
 * libFuzzer harness: the SMPP receive path as the worker runs it
 * (worker/smpp_session.c link_read and handle_frame): frames cut from a
 * byte stream by msc_smpp_frame (4-byte length, 16 <= length <= 16384),
 * each decoded by msc_smpp_decode (header and every body decoder), then
 * what the worker does with the result: the refusal status, the user data
 * and its UDH, the MSISDN check, the message-id text form.
 *
 * Input: byte 0 with bit 7 clear: the rest is a received stream.  Bit 7
 * set: one PDU of the command data[0] % 9 (the commands the worker
 * handles, and one it does not), status 0 if data[1] is even, the body
 * data[2..], so that the fuzzer reaches every body decoder directly.
 * Each frame is decoded from an exact-size heap copy, so a read past its
 * end is an AddressSanitizer report.
 */
#include <string.h>

#include "fuzz_common.h"
#include "sms.h"
#include "smpp.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const msc_smpp_str *s, const uint8_t *frame, size_t len)
{
	FUZZ_CHECK(s->s != NULL && s->s[s->len] == '\0' && strlen(s->s) == s->len);
	if (s->len > 0)
		FUZZ_CHECK((const uint8_t *) s->s >= frame && (const uint8_t *) s->s + s->len < frame + len);
}

static void
check_id_text(const msc_smpp_str *id)
{
	char		text[MSC_SMPP_ID_TEXT_MAX];
	size_t		i;

	if (msc_smpp_id_text(id, text, sizeof(text)) != MSC_OK)
		return;
	for (i = 0; text[i]; i++)
		FUZZ_CHECK((uint8_t) text[i] >= 0x20 && (uint8_t) text[i] <= 0x7E);
}

/* what handle_frame does with one frame */
static void
one_frame(const uint8_t *src, size_t len)
{
	uint8_t    *frame = malloc(len);
	msc_smpp_pdu p;
	msc_rc		rc;

	FUZZ_CHECK(frame != NULL);
	memcpy(frame, src, len);
	rc = msc_smpp_decode(frame, len, &p);
	FUZZ_CHECK(p.n_tlv <= MSC_SMPP_MAX_TLVS);
	(void) msc_smpp_command_name(p.h.command_id);
	if (rc != MSC_OK)
	{
		FUZZ_CHECK(p.fault.field != MSC_SMPP_F_NONE);
		FUZZ_CHECK(msc_smpp_fault_status(&p.fault) != MSC_SMPP_ROK);
		FUZZ_CHECK(msc_smpp_field_name(p.fault.field) != NULL);
	}
	else if (p.h.command_id == MSC_SMPP_DELIVER_SM)
	{
		const msc_smpp_deliver_sm *d = &p.u.deliver_sm;
		const uint8_t *ud;
		size_t		udlen;
		msc_udh		udh;

		check_str(&d->service_type, frame, len);
		check_str(&d->source_addr, frame, len);
		check_str(&d->destination_addr, frame, len);
		check_str(&d->receipted_message_id, frame, len);
		FUZZ_CHECK(d->source_addr.len <= 20 && d->receipted_message_id.len <= 64);
		ud = msc_smpp_user_data(d, &udlen);
		if (udlen > 0)
			FUZZ_CHECK(ud >= frame && ud + udlen <= frame + len);
		if (msc_smpp_msisdn_check(d->source_addr.s, d->source_addr.len) == MSC_OK)
			FUZZ_CHECK(d->source_addr.len >= MSC_MSISDN_MIN_DIGITS);
		if (udlen > 0)
			(void) msc_udh_parse(ud, udlen, &udh);
		check_id_text(&d->receipted_message_id);
	}
	else if (p.h.command_id == MSC_SMPP_SUBMIT_SM_RESP)
	{
		check_str(&p.u.submit_resp.message_id, frame, len);
		check_id_text(&p.u.submit_resp.message_id);
	}
	else if (p.h.command_id == MSC_SMPP_BIND_TRANSCEIVER_RESP)
	{
		check_str(&p.u.bind_resp.system_id, frame, len);
		FUZZ_CHECK(p.u.bind_resp.system_id.len <= 15);
	}
	free(frame);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t commands[9] = {
		MSC_SMPP_BIND_TRANSCEIVER_RESP, MSC_SMPP_SUBMIT_SM_RESP, MSC_SMPP_DELIVER_SM,
		MSC_SMPP_ENQUIRE_LINK, MSC_SMPP_ENQUIRE_LINK_RESP, MSC_SMPP_UNBIND,
		MSC_SMPP_UNBIND_RESP, MSC_SMPP_GENERIC_NACK, 0x00000103	/* data_sm */
	};
	size_t		off = 1,
				guard;

	if (size < 1)
		return 0;
	if (data[0] & 0x80)
	{
		static uint8_t pdu[MSC_SMPP_MAX_PDU];
		size_t		body = size > 2 ? size - 2 : 0;
		uint32_t	id = commands[data[0] % 9];
		uint32_t	status = (size > 1 && (data[1] & 1)) ? 0x58 : 0;
		size_t		n;

		if (body > MSC_SMPP_MAX_PDU - MSC_SMPP_HEADER_LEN)
			body = MSC_SMPP_MAX_PDU - MSC_SMPP_HEADER_LEN;
		n = MSC_SMPP_HEADER_LEN + body;
		pdu[0] = (uint8_t) (n >> 24);
		pdu[1] = (uint8_t) (n >> 16);
		pdu[2] = (uint8_t) (n >> 8);
		pdu[3] = (uint8_t) n;
		pdu[4] = (uint8_t) (id >> 24);
		pdu[5] = (uint8_t) (id >> 16);
		pdu[6] = (uint8_t) (id >> 8);
		pdu[7] = (uint8_t) id;
		memset(pdu + 8, 0, 4);
		pdu[11] = (uint8_t) status;
		memcpy(pdu + 12, "\x00\x00\x00\x07", 4);
		if (body > 0)
			memcpy(pdu + MSC_SMPP_HEADER_LEN, data + 2, body);
		one_frame(pdu, n);
		return 0;
	}
	/* a stream, cut as link_read does; bounded by the input */
	for (guard = 0; guard < size && off < size; guard++)
	{
		size_t		flen = 0;

		if (msc_smpp_frame(data + off, size - off, MSC_SMPP_MAX_PDU, &flen) != MSC_OK)
			break;				/* framing lost: the worker closes the session */
		if (flen == 0)
			break;				/* needs more bytes */
		FUZZ_CHECK(flen >= MSC_SMPP_HEADER_LEN && flen <= size - off);
		one_frame(data + off, flen);
		off += flen;
	}
	return 0;
}
