/*
 * test_smpp.c
 *	  Tests of the SMPP 3.4 receive-side decoder (codec/smpp.c):
 *	  framing, header-only PDUs, bind_transceiver_resp, submit_sm_resp,
 *	  deliver_sm and its optional parameters, the status each refusal is
 *	  answered with, the MSISDN check and the message-id text form.  The
 *	  hostile-SMSC cases (80 TLVs, a last TLV longer than the PDU,
 *	  bytes that are not UTF-8) are here as regression cases.  Frames are
 *	  built by smpp_build.h and decoded from an exact-size heap copy, so
 *	  AddressSanitizer sees any read past the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smpp.h"
#include "smpp_build.h"
#include "codec_tests.h"

static smpp_buf sb;

/* decode sb as received: from a heap copy of exactly its length */
static msc_rc
decode(msc_smpp_pdu *p)
{
	static uint8_t *copy;
	msc_rc		rc;

	free(copy);
	copy = malloc(sb.n ? sb.n : 1);
	memcpy(copy, sb.b, sb.n);
	rc = msc_smpp_decode(copy, sb.n, p);
	return rc;
}

static void
is_status(const msc_smpp_pdu *p, uint32_t want, const char *what)
{
	uint32_t	got = msc_smpp_fault_status(&p->fault);

	ok(got == want, what);
	if (got != want)
		printf("#   got status 0x%08x (field %s), want 0x%08x\n", got,
			   msc_smpp_field_name(p->fault.field), want);
}

static const uint8_t udh[] = {0x05, 0x00, 0x03, 0x42, 0x02, 0x01, 0xde, 0xad};

static void
test_framing(void)
{
	uint8_t		b[32] = {0};
	size_t		n = 99;

	is_rc(msc_smpp_frame(b, 3, MSC_SMPP_MAX_PDU, &n), MSC_OK, "frame: 3 bytes need more");
	ok(n == 0, "frame: ... frame_len 0");
	b[3] = 15;
	is_rc(msc_smpp_frame(b, 16, MSC_SMPP_MAX_PDU, &n), MSC_E_LENGTH, "frame: command_length 15 breaks the framing");
	b[3] = 20;
	is_rc(msc_smpp_frame(b, 16, MSC_SMPP_MAX_PDU, &n), MSC_OK, "frame: 16 of 20 bytes");
	ok(n == 0, "frame: ... needs more");
	is_rc(msc_smpp_frame(b, 32, MSC_SMPP_MAX_PDU, &n), MSC_OK, "frame: 32 bytes hold a 20-byte PDU");
	ok(n == 20, "frame: ... frame_len 20");
	b[2] = 0x40;
	b[3] = 0x01;				/* 16385 */
	is_rc(msc_smpp_frame(b, 32, MSC_SMPP_MAX_PDU, &n), MSC_E_LENGTH, "frame: 16385 > the 16384 cap");
	b[0] = 0xff;
	is_rc(msc_smpp_frame(b, 32, MSC_SMPP_MAX_PDU, &n), MSC_E_LENGTH, "frame: 0xff... length refused");
	is_rc(msc_smpp_frame(b, 32, MSC_SMPP_MAX_PDU + 1, &n), MSC_E_ARG, "frame: a cap above MSC_SMPP_MAX_PDU is refused");
}

static void
test_header_only(void)
{
	msc_smpp_pdu p;

	sb_begin(&sb, MSC_SMPP_ENQUIRE_LINK, 0, 7);
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "enquire_link decodes");
	ok(p.known && p.h.sequence_number == 7 && p.body_len == 0, "enquire_link: header fields");
	sb_begin(&sb, MSC_SMPP_ENQUIRE_LINK, 0, 7);
	sb_u8(&sb, 0);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_TRAILING, "enquire_link with a body is refused");
	is_status(&p, MSC_SMPP_RINVCMDLEN, "... answered ESME_RINVCMDLEN");
	sb_begin(&sb, MSC_SMPP_GENERIC_NACK, 0x400, 0);
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "generic_nack with sequence 0 and a vendor status decodes");
	ok(p.h.command_status == 0x400, "generic_nack: status kept");
	sb_begin(&sb, 0x00000103, 0, 9);	/* data_sm */
	sb_u8(&sb, 1);
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "a command not decoded here is reported, not refused");
	ok(!p.known, "... known = 0");
	sb.n = 15;
	is_rc(decode(&p), MSC_E_LENGTH, "a 15-byte frame is refused");
}

static void
test_bind_resp(void)
{
	msc_smpp_pdu p;
	uint8_t		v = 0x34;

	sb_begin(&sb, MSC_SMPP_BIND_TRANSCEIVER_RESP, 0, 1);
	sb_cstr(&sb, "SMSC");
	sb_tlv(&sb, MSC_SMPP_TLV_SC_INTERFACE_VERSION, &v, 1);
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "bind_transceiver_resp decodes");
	ok(strcmp(p.u.bind_resp.system_id.s, "SMSC") == 0 && p.u.bind_resp.sc_interface_version == 0x34,
	   "bind_transceiver_resp: system_id and sc_interface_version");
	sb_begin(&sb, MSC_SMPP_BIND_TRANSCEIVER_RESP, 0, 1);
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "bind_transceiver_resp without a body is tolerated");
	ok(p.u.bind_resp.system_id.s[0] == '\0', "... system_id empty");
	sb_begin(&sb, MSC_SMPP_BIND_TRANSCEIVER_RESP, 0, 1);
	sb_bytes(&sb, "0123456789abcdef", 16);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_VALUE, "bind_transceiver_resp: system_id of 16 characters (max 15) is refused");
	ok(p.fault.field == MSC_SMPP_F_SYSTEM_ID, "... the fault names system_id");
	sb_begin(&sb, MSC_SMPP_BIND_TRANSCEIVER_RESP, 0x0E, 1);
	sb_bytes(&sb, "\xff\xff\xff", 3);
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "bind_transceiver_resp with an error status: the body is not read");
}

static void
test_submit_resp(void)
{
	msc_smpp_pdu p;
	char		id[70],
				text[MSC_SMPP_ID_TEXT_MAX];
	msc_smpp_str s;

	sb_begin(&sb, MSC_SMPP_SUBMIT_SM_RESP, 0, 2);
	sb_cstr(&sb, "msg-1");
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "submit_sm_resp decodes");
	ok(p.u.submit_resp.message_id.len == 5 && strcmp(p.u.submit_resp.message_id.s, "msg-1") == 0,
	   "submit_sm_resp: message_id");
	memset(id, 'a', 64);
	id[64] = '\0';
	sb_begin(&sb, MSC_SMPP_SUBMIT_SM_RESP, 0, 2);
	sb_cstr(&sb, id);
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "submit_sm_resp: a 64-character message_id (the maximum) decodes");
	id[64] = 'a';
	id[65] = '\0';
	sb_begin(&sb, MSC_SMPP_SUBMIT_SM_RESP, 0, 2);
	sb_cstr(&sb, id);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_VALUE, "submit_sm_resp: a 65-character message_id is refused");
	ok(p.u.submit_resp.message_id.s[0] == '\0', "... and reads as empty");
	sb_begin(&sb, MSC_SMPP_SUBMIT_SM_RESP, 0, 2);
	sb_bytes(&sb, "abc", 3);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_LENGTH, "submit_sm_resp: message_id without its NUL is truncated");

	/* hostile SMSC: a message id that is not UTF-8 is stored hex-encoded */
	sb_begin(&sb, MSC_SMPP_SUBMIT_SM_RESP, 0, 2);
	sb_cstr(&sb, "\xff\xfe" "1");
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "submit_sm_resp: message_id 0xff 0xfe '1' decodes (octets)");
	is_rc(msc_smpp_id_text(&p.u.submit_resp.message_id, text, sizeof(text)), MSC_OK, "... has a text form");
	ok(strcmp(text, "hex:fffe31") == 0, "... hex:fffe31");
	s.s = "ABC-123 x";
	s.len = 9;
	msc_smpp_id_text(&s, text, sizeof(text));
	ok(strcmp(text, "ABC-123 x") == 0, "id text: printable ASCII is kept");
	s.s = "hex:41";
	s.len = 6;
	msc_smpp_id_text(&s, text, sizeof(text));
	ok(strcmp(text, "hex:6865783a3431") == 0, "id text: an id that starts with hex: is encoded (injective)");
	s.s = "a\tb";
	s.len = 3;
	msc_smpp_id_text(&s, text, sizeof(text));
	ok(strcmp(text, "hex:610962") == 0, "id text: a control character is encoded");
	memset(id, 0xff, 64);
	s.s = id;
	s.len = 64;
	is_rc(msc_smpp_id_text(&s, text, sizeof(text)), MSC_OK, "id text: 64 octets 0xff fit");
	ok(strlen(text) == MSC_SMPP_ID_TEXT_MAX - 1, "... in MSC_SMPP_ID_TEXT_MAX - 1 characters");
	s.len = 65;
	is_rc(msc_smpp_id_text(&s, text, sizeof(text)), MSC_E_ARG, "id text: 65 octets are refused");
}

static void
test_deliver_sm(void)
{
	msc_smpp_pdu p;
	const uint8_t *ud;
	size_t		udlen,
				full,
				cut;
	uint8_t		two[2] = {0, 1},
				big[300];
	int			i,
				bad = 0;

	sb_deliver_sm(&sb, 5, "358401234567", 0x40, udh, sizeof(udh));
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "deliver_sm decodes");
	ud = msc_smpp_user_data(&p.u.deliver_sm, &udlen);
	ok(strcmp(p.u.deliver_sm.source_addr.s, "358401234567") == 0 && p.u.deliver_sm.esm_class == 0x40 &&
	   udlen == sizeof(udh) && memcmp(ud, udh, udlen) == 0, "deliver_sm: source_addr, esm_class, user data");
	ok(p.u.deliver_sm.message_state == -1 && p.u.deliver_sm.message_payload == NULL,
	   "deliver_sm: absent optional parameters read as absent");

	/* hostile SMSC: 80 TLVs of tag 0x0204, length 2 (libsmpp34 crashed) */
	sb_deliver_sm(&sb, 5, "358401234567", 0x40, udh, sizeof(udh));
	for (i = 0; i < 80; i++)
		sb_tlv(&sb, MSC_SMPP_TLV_USER_MESSAGE_REFERENCE, two, 2);
	sb_end(&sb);
	ok(sb.n > 500, "regression: the 80-TLV deliver_sm is over 500 bytes");
	is_rc(decode(&p), MSC_E_TAG_DUP, "regression: 80 x user_message_reference is refused (tag twice)");
	is_status(&p, MSC_SMPP_RINVOPTPARSTREAM, "... answered ESME_RINVOPTPARSTREAM");
	sb_deliver_sm(&sb, 5, "358401234567", 0x40, udh, sizeof(udh));
	for (i = 0; i < 80; i++)
		sb_tlv(&sb, (uint16_t) (0x1400 + i), two, 2);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_TLV, "80 distinct unknown TLVs: over MSC_SMPP_MAX_TLVS");
	ok(p.n_tlv == MSC_SMPP_MAX_TLVS, "... the walk stopped at 32");
	sb_deliver_sm(&sb, 5, "358401234567", 0x40, udh, sizeof(udh));
	for (i = 0; i < MSC_SMPP_MAX_TLVS; i++)
		sb_tlv(&sb, (uint16_t) (0x1400 + i), two, 2);
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "32 unknown TLVs are skipped");

	/* hostile SMSC: the last TLV announces more than the PDU holds (libsmpp34 leaked) */
	sb_deliver_sm(&sb, 5, "358401234567", 0x40, udh, sizeof(udh));
	sb_u16(&sb, MSC_SMPP_TLV_MESSAGE_PAYLOAD);
	sb_u16(&sb, 1000);
	sb_bytes(&sb, "ab", 2);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_LENGTH, "regression: a last TLV longer than the PDU is refused");
	is_status(&p, MSC_SMPP_RINVOPTPARSTREAM, "... answered ESME_RINVOPTPARSTREAM");
	ok(p.u.deliver_sm.source_addr.s[0] == '\0', "... and the refused body reads as empty");
	sb_deliver_sm(&sb, 5, "358401234567", 0x40, udh, sizeof(udh));
	sb_bytes(&sb, "\x04\x24\x00", 3);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_LENGTH, "a TLV header cut after 3 bytes is refused");

	/* message_payload */
	memset(big, 0x5a, sizeof(big));
	sb_deliver_sm(&sb, 5, "358401234567", 0x40, NULL, 0);
	sb_tlv(&sb, MSC_SMPP_TLV_MESSAGE_PAYLOAD, big, sizeof(big));
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "deliver_sm: 300 octets in message_payload");
	ud = msc_smpp_user_data(&p.u.deliver_sm, &udlen);
	ok(udlen == sizeof(big) && ud[0] == 0x5a, "... are the user data");
	sb_deliver_sm(&sb, 5, "358401234567", 0x40, udh, sizeof(udh));
	sb_tlv(&sb, MSC_SMPP_TLV_MESSAGE_PAYLOAD, big, 4);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_VALUE, "deliver_sm: message_payload beside a short_message is refused");
	is_status(&p, MSC_SMPP_ROPTPARNOTALLWD, "... ESME_ROPTPARNOTALLWD");

	/* receipts */
	sb_deliver_sm(&sb, 6, "358401234567", 0x04, (const uint8_t *) "id:1", 4);
	sb_tlv(&sb, MSC_SMPP_TLV_RECEIPTED_MESSAGE_ID, "m-77", 5);
	sb_tlv(&sb, MSC_SMPP_TLV_MESSAGE_STATE, "\x02", 1);
	sb_tlv(&sb, MSC_SMPP_TLV_NETWORK_ERROR_CODE, "\x03\x00\x01", 3);
	sb_end(&sb);
	is_rc(decode(&p), MSC_OK, "receipt: receipted_message_id, message_state, network_error_code");
	ok(strcmp(p.u.deliver_sm.receipted_message_id.s, "m-77") == 0 && p.u.deliver_sm.message_state == 2 &&
	   p.u.deliver_sm.network_error_code != NULL, "... read");
	sb_deliver_sm(&sb, 6, "358401234567", 0x04, NULL, 0);
	sb_tlv(&sb, MSC_SMPP_TLV_RECEIPTED_MESSAGE_ID, "m-77", 4);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_VALUE, "receipted_message_id without its NUL is refused");
	is_status(&p, MSC_SMPP_RINVOPTPARAMVAL, "... ESME_RINVOPTPARAMVAL");
	sb_deliver_sm(&sb, 6, "358401234567", 0x04, NULL, 0);
	sb_tlv(&sb, MSC_SMPP_TLV_MESSAGE_STATE, "\x09", 1);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_VALUE, "message_state 9 is refused");
	sb_deliver_sm(&sb, 6, "358401234567", 0x04, NULL, 0);
	sb_tlv(&sb, MSC_SMPP_TLV_MESSAGE_STATE, "\x02\x00", 2);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_TLV, "message_state of 2 octets is refused");
	is_status(&p, MSC_SMPP_RINVPARLEN, "... ESME_RINVPARLEN");

	/* mandatory fields */
	sb_deliver_sm(&sb, 5, "358401234567890123456", 0x40, udh, sizeof(udh));
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_VALUE, "source_addr of 21 characters (max 20) is refused");
	is_status(&p, MSC_SMPP_RINVSRCADR, "... ESME_RINVSRCADR");
	sb_begin(&sb, MSC_SMPP_DELIVER_SM, 0, 104);
	sb_bytes(&sb, "\x00\x01\x01", 3);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_LENGTH, "a deliver_sm cut after source_addr_npi is refused");
	is_status(&p, MSC_SMPP_RINVCMDLEN, "... ESME_RINVCMDLEN");
	sb_deliver_sm(&sb, 5, "358401234567", 0x40, udh, sizeof(udh));
	sb.b[sb.n - sizeof(udh) - 1] = 200;	/* sm_length beyond the body */
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_LENGTH, "sm_length beyond the body is refused");
	is_status(&p, MSC_SMPP_RINVMSGLEN, "... ESME_RINVMSGLEN");
	/* schedule_delivery_time must be NULL in a deliver_sm (§4.6.1) */
	sb_begin(&sb, MSC_SMPP_DELIVER_SM, 0, 103);
	sb_cstr(&sb, "");
	sb_u8(&sb, 1);
	sb_u8(&sb, 1);
	sb_cstr(&sb, "3585000009999");
	sb_u8(&sb, 0);
	sb_u8(&sb, 0);
	sb_cstr(&sb, "");
	sb_bytes(&sb, "\x40\x7f\x00", 3);
	sb_cstr(&sb, "260101000000000+");
	sb_cstr(&sb, "");
	sb_bytes(&sb, "\x00\x00\xf6\x00\x00", 5);
	sb_end(&sb);
	is_rc(decode(&p), MSC_E_VALUE, "a deliver_sm with a schedule_delivery_time is refused");
	is_status(&p, MSC_SMPP_RINVSCHED, "... ESME_RINVSCHED");

	/* every truncation of a deliver_sm with TLVs: refused or OK, never a read past the end */
	sb_deliver_sm(&sb, 5, "358401234567", 0x04, udh, sizeof(udh));
	sb_tlv(&sb, MSC_SMPP_TLV_RECEIPTED_MESSAGE_ID, "m-77", 5);
	sb_tlv(&sb, MSC_SMPP_TLV_MESSAGE_STATE, "\x02", 1);
	full = sb_end(&sb);
	for (cut = MSC_SMPP_HEADER_LEN; cut < full; cut++)
	{
		msc_rc		rc;

		sb.n = cut;
		sb_end(&sb);
		rc = decode(&p);
		if (rc == MSC_OK && cut != full - 5 && cut != full - 14)
			bad++;
	}
	ok(bad == 0, "every truncation of a deliver_sm is refused but at TLV boundaries");
}

static void
test_msisdn(void)
{
	char		d16[] = "1234567890123456";

	is_rc(msc_smpp_msisdn_check("+358401234567", 13), MSC_OK, "msisdn: +358401234567");
	is_rc(msc_smpp_msisdn_check("12345", 5), MSC_OK, "msisdn: 5 digits");
	is_rc(msc_smpp_msisdn_check(d16, 15), MSC_OK, "msisdn: 15 digits");
	is_rc(msc_smpp_msisdn_check(d16, 16), MSC_E_VALUE, "msisdn: 16 digits refused");
	is_rc(msc_smpp_msisdn_check("1234", 4), MSC_E_VALUE, "msisdn: 4 digits refused");
	is_rc(msc_smpp_msisdn_check("+", 1), MSC_E_VALUE, "msisdn: + alone refused");
	is_rc(msc_smpp_msisdn_check("", 0), MSC_E_VALUE, "msisdn: empty refused");
	is_rc(msc_smpp_msisdn_check("\xff" "3584012", 8), MSC_E_VALUE, "msisdn: 0xff refused (hostile SMSC)");
	is_rc(msc_smpp_msisdn_check("Operator", 8), MSC_E_VALUE, "msisdn: alphanumeric sender refused");
	is_rc(msc_smpp_msisdn_check("++3584012", 9), MSC_E_VALUE, "msisdn: two + refused");
}

void
test_smpp(void)
{
	test_framing();
	test_header_only();
	test_bind_resp();
	test_submit_resp();
	test_deliver_sm();
	test_msisdn();
}
