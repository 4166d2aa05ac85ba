/*
 * Writes valid seed inputs for the fuzz harnesses into DIR/<harness>/,
 * built with the codecs themselves: gen_seeds DIR
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "applet.h"
#include "fuzz_common.h"
#include "sms.h"
#include "smpp_build.h"

static int
put(const char *dir, const char *h, int n, const uint8_t *b, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, h);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/seed%d", dir, h, n);
	f = fopen(path, "wb");
	if (f == NULL)
		return 1;
	fwrite(b, 1, len, f);
	fclose(f);
	return 0;
}

/*
 * fuzz_answer, raw mode: byte 0 = 0, then each SMS user data prefixed with
 * its length.  The packet is split with reference ref, last segment first.
 */
static int
put_answer_raw(const char *dir, int n_seed, const uint8_t *pkt, size_t plen, uint8_t ref)
{
	static uint8_t in[MSC_SMS_MAX_SEGMENTS * (MSC_SMS_UD_MAX + 1) + 1];
	msc_sms_segment segs[MSC_SMS_MAX_SEGMENTS];
	size_t		n,
				i,
				pos = 1;

	if (msc_sms_split(MSC_IEI_RSP_PACKET, ref, pkt, plen, segs, MSC_SMS_MAX_SEGMENTS, &n) != MSC_OK)
		return 1;
	in[0] = 0x00;
	for (i = 0; i < n; i++)
	{
		in[pos++] = (uint8_t) segs[n - 1 - i].len;
		memcpy(in + pos, segs[n - 1 - i].ud, segs[n - 1 - i].len);
		pos += segs[n - 1 - i].len;
	}
	return put(dir, "fuzz_answer", n_seed, in, pos);
}

/* Seeds of the whole answer path, raw and sealed (see fuzz_answer.c). */
static int
answer_seeds(const char *dir, const msc_ota_keys *keys)
{
	static uint8_t app[1024],
				pkt[2048],
				in[1100];
	uint8_t		cms[300];
	msc_applet_response ar;
	msc_ota_response rsp;
	size_t		alen,
				plen;
	int			err = 0;

	memset(cms, 0x30, sizeof(cms));
	memset(&ar, 0, sizeof(ar));
	ar.version = MSC_APPLET_VERSION;
	memcpy(ar.reference, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	ar.result = MSC_RESULT_OK;
	ar.cms = cms;
	ar.cms_len = sizeof(cms);
	err |= msc_applet_response_encode(&ar, app, sizeof(app), &alen) != MSC_OK;

	memset(&rsp, 0, sizeof(rsp));
	memcpy(rsp.tar, fuzz_tar, 3);
	rsp.counter = 12;
	rsp.data = app;
	rsp.data_len = alen;
	/* an authentic OK answer in 3 SMS */
	err |= msc_ota_build_response(MSC_OTA_SPI2_DEFAULT, &rsp, keys, pkt, sizeof(pkt), &plen) != MSC_OK;
	err |= put_answer_raw(dir, 1, pkt, plen, 5);
	/* an authentic PoR "counter high", one SMS */
	rsp.status = MSC_POR_CNTR_HIGH;
	rsp.data_len = 0;
	err |= msc_ota_build_response(MSC_OTA_SPI2_DEFAULT, &rsp, keys, pkt, sizeof(pkt), &plen) != MSC_OK;
	err |= put_answer_raw(dir, 2, pkt, plen, 6);
	/* an unsecured PoR "CC failed" */
	rsp.status = MSC_POR_CC_FAILED;
	err |= msc_ota_build_response(0x21, &rsp, keys, pkt, sizeof(pkt), &plen) != MSC_OK;
	err |= put_answer_raw(dir, 3, pkt, plen, 7);

	/* sealed: OK with a CMS, then a user cancel (no CMS) */
	in[0] = 0x80;
	in[1] = MSC_POR_OK;
	in[2] = 9;
	in[3] = 1;
	memcpy(in + 4, app, alen);
	err |= put(dir, "fuzz_answer", 4, in, 4 + alen);
	ar.result = MSC_RESULT_USER_CANCEL;
	ar.cms = NULL;
	ar.cms_len = 0;
	err |= msc_applet_response_encode(&ar, app, sizeof(app), &alen) != MSC_OK;
	memcpy(in + 4, app, alen);
	err |= put(dir, "fuzz_answer", 5, in, 4 + alen);
	return err;
}

/*
 * fuzz_smpp_receive: a stream the worker could receive (byte 0 = 0, then
 * PDUs), the hostile-SMSC cases, and one body per command in the direct mode.
 */
static int
smpp_seeds(const char *dir)
{
	static smpp_buf sb;
	static uint8_t stream[4 * sizeof(sb.b)];
	static const uint8_t udh[] = {0x05, 0x00, 0x03, 0x42, 0x02, 0x01, 0xde, 0xad};
	static const uint8_t cmds[] = {0x87, 0x88, 0x80};	/* % 9: bind resp, submit resp, deliver_sm */
	size_t		n = 1;
	int			err = 0,
				i;

	stream[0] = 0;
	sb_begin(&sb, MSC_SMPP_BIND_TRANSCEIVER_RESP, 0, 1);
	sb_cstr(&sb, "SMSC");
	sb_tlv(&sb, MSC_SMPP_TLV_SC_INTERFACE_VERSION, "\x34", 1);
	memcpy(stream + n, sb.b, sb_end(&sb));
	n += sb.n;
	sb_begin(&sb, MSC_SMPP_SUBMIT_SM_RESP, 0, 2);
	sb_cstr(&sb, "id-0001");
	memcpy(stream + n, sb.b, sb_end(&sb));
	n += sb.n;
	sb_deliver_sm(&sb, 3, "358401234567", 0x40, udh, sizeof(udh));
	memcpy(stream + n, sb.b, sb_end(&sb));
	n += sb.n;
	sb_deliver_sm(&sb, 4, "358401234567", 0x04, NULL, 0);
	sb_tlv(&sb, MSC_SMPP_TLV_RECEIPTED_MESSAGE_ID, "id-0001", 8);
	sb_tlv(&sb, MSC_SMPP_TLV_MESSAGE_STATE, "\x02", 1);
	sb_tlv(&sb, MSC_SMPP_TLV_MESSAGE_PAYLOAD, "id:1 stat:DELIVRD", 17);
	memcpy(stream + n, sb.b, sb_end(&sb));
	n += sb.n;
	sb_begin(&sb, MSC_SMPP_ENQUIRE_LINK, 0, 5);
	memcpy(stream + n, sb.b, sb_end(&sb));
	n += sb.n;
	err |= put(dir, "fuzz_smpp_receive", 1, stream, n);

	/* 80 TLVs (libsmpp34 crashed) and a last TLV longer than the PDU (it leaked) */
	sb_deliver_sm(&sb, 6, "358401234567", 0x40, udh, sizeof(udh));
	for (i = 0; i < 80; i++)
		sb_tlv(&sb, MSC_SMPP_TLV_USER_MESSAGE_REFERENCE, "\x00\x01", 2);
	stream[0] = 0;
	memcpy(stream + 1, sb.b, sb_end(&sb));
	err |= put(dir, "fuzz_smpp_receive", 2, stream, sb.n + 1);
	sb_deliver_sm(&sb, 7, "\xff" "358401", 0x40, udh, sizeof(udh));
	sb_u16(&sb, MSC_SMPP_TLV_MESSAGE_PAYLOAD);
	sb_u16(&sb, 1000);
	memcpy(stream + 1, sb.b, sb_end(&sb));
	err |= put(dir, "fuzz_smpp_receive", 3, stream, sb.n + 1);

	/* direct mode: command selector, status selector, body */
	for (i = 0; i < 3; i++)
	{
		if (i == 0)
		{
			sb_begin(&sb, 0, 0, 0);
			sb_cstr(&sb, "SMSC");
		}
		else if (i == 1)
		{
			sb_begin(&sb, 0, 0, 0);
			sb_cstr(&sb, "\xff\xfe");
		}
		else
			sb_deliver_sm(&sb, 0, "+358401234567", 0x40, udh, sizeof(udh));
		stream[0] = cmds[i];
		stream[1] = 0;
		memcpy(stream + 2, sb.b + MSC_SMPP_HEADER_LEN, sb.n - MSC_SMPP_HEADER_LEN);
		err |= put(dir, "fuzz_smpp_receive", 4 + i, stream, 2 + sb.n - MSC_SMPP_HEADER_LEN);
	}
	return err;
}

int
main(int argc, char **argv)
{
	static uint8_t app[4096],
				pkt[4096],
				buf[8192];
	msc_ota_keys keys = fuzz_keys();
	msc_applet_request req;
	msc_applet_response rsp;
	msc_display_text dt;
	msc_ota_command cmd;
	msc_ota_response orsp;
	msc_sms_segment segs[16];
	uint8_t		challenge[32] = {1, 2, 3};
	uint8_t		sig[70] = {0x30, 0x44};
	size_t		alen,
				plen,
				n,
				i,
				pos;
	const char *dir;
	int			err = 0;

	if (argc != 2)
	{
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	mkdir(dir, 0755);

	memset(&req, 0, sizeof(req));
	req.version = 1;
	req.operation = MSC_OP_AUTHENTICATE;
	req.data = challenge;
	req.data_len = 32;
	msc_display_encode((const uint8_t *) "Login {ACME} 100\xe2\x82\xac", 19, NULL, &dt);
	msc_applet_request_set_display(&req, &dt);
	memcpy(req.vcode, "1234", 5);
	req.signature = sig;
	req.signature_len = sizeof(sig);
	err |= msc_applet_request_encode(&req, app, sizeof(app), &alen) != MSC_OK;
	err |= put(dir, "fuzz_applet_request", 1, app, alen);
	req.operation = MSC_OP_SIGN;
	req.data = (const uint8_t *) "\xd0\x9f pay 5";
	req.data_len = 8;
	msc_display_encode(req.data, 8, NULL, &dt);
	msc_applet_request_set_display(&req, &dt);
	err |= msc_applet_request_encode(&req, app, sizeof(app), &alen) != MSC_OK;
	err |= put(dir, "fuzz_applet_request", 2, app, alen);
	{
		/* a receipt: the signature's 8-octet reference, the message shown */
		msc_applet_request rreq = req;
		msc_display_text rdt;
		uint8_t		rapp[512];
		size_t		rlen;

		rreq.operation = MSC_OP_RECEIPT;
		rreq.data = (const uint8_t *) "\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8";
		rreq.data_len = 8;
		msc_display_encode((const uint8_t *) "Paid 10 EUR", 11, NULL, &rdt);
		msc_applet_request_set_display(&rreq, &rdt);
		err |= msc_applet_request_encode(&rreq, rapp, sizeof(rapp), &rlen) != MSC_OK;
		err |= put(dir, "fuzz_applet_request", 3, rapp, rlen);
	}
	{
		static const char *const gw[] = {
			"{\"relyingPartyUUID\":\"00000000-0000-4000-8000-000000000001\",\"relyingPartyName\":\"DEMO\","
			"\"phoneNumber\":\"+3585000000001\",\"nationalIdentityNumber\":\"30001010001\","
			"\"hash\":\"0nbgC2fVdLVQFZJdBbmG7oPoElpCYsQMtrY0c0wKYRg=\",\"hashType\":\"SHA256\","
			"\"language\":\"ENG\",\"displayText\":\"Log in\",\"displayTextFormat\":\"GSM-7\"}",
			"{\"MSS_SignatureReq\":{\"AP_Info\":{\"AP_ID\":\"DEMO\",\"AP_PWD\":\"00000000-0000-4000-8000-000000000001\","
			"\"AP_TransID\":\"T1\"},\"MobileUser\":{\"MSISDN\":\"+3585000000001\"},\"MessagingMode\":\"synch\","
			"\"DataToBeSigned\":{\"MimeType\":\"SHA256\",\"Encoding\":\"base64\","
			"\"Data\":\"0nbgC2fVdLVQFZJdBbmG7oPoElpCYsQMtrY0c0wKYRg=\"},"
			"\"MSS_Format\":\"http://uri.etsi.org/TS102204/v1.1.2#PKCS1\",\"TimeOut\":\"80\"}}",
			"{\"MSS_StatusReq\":{\"AP_Info\":{\"AP_ID\":\"DEMO\",\"AP_PWD\":\"x\",\"AP_TransID\":\"T\"},"
			"\"MSSP_TransID\":\"00000000-0000-4000-8000-000000000001\"}}",
			"{\"MSS_ReceiptReq\":{\"AP_Info\":{\"AP_ID\":\"D\",\"AP_PWD\":\"p\",\"AP_TransID\":\"T\"},"
			"\"MobileUser\":{\"MSISDN\":\"+35850\"},\"MSSP_TransID\":\"00000000-0000-4000-8000-000000000001\","
			"\"Message\":{\"MimeType\":\"text/plain\",\"Encoding\":\"UTF-8\",\"Data\":\"Paid\"},\"TimeOut\":\"20\"}}",
			"QUJD",
		};

		for (size_t i = 0; i < sizeof(gw) / sizeof(gw[0]); i++)
			err |= put(dir, "fuzz_gateway_request", (int) i + 1, (const uint8_t *) gw[i], strlen(gw[i]));
	}
	err |= put(dir, "fuzz_display", 1, (const uint8_t *) "Pay 5 \xe2\x82\xac {x}", 12);
	err |= put(dir, "fuzz_display", 2, (const uint8_t *) "\xd0\x9f\xd0\xb0", 4);

	memset(&rsp, 0, sizeof(rsp));
	rsp.version = 1;
	rsp.result = 0;
	rsp.cms = sig;
	rsp.cms_len = sizeof(sig);
	err |= msc_applet_response_encode(&rsp, buf, sizeof(buf), &plen) != MSC_OK;
	err |= put(dir, "fuzz_applet_response", 1, buf, plen);
	rsp.result = 1;
	rsp.cms = NULL;
	rsp.cms_len = 0;
	err |= msc_applet_response_encode(&rsp, buf, sizeof(buf), &plen) != MSC_OK;
	err |= put(dir, "fuzz_applet_response", 2, buf, plen);
	rsp.result = MSC_RESULT_SHOWN;
	err |= msc_applet_response_encode(&rsp, buf, sizeof(buf), &plen) != MSC_OK;
	err |= put(dir, "fuzz_applet_response", 3, buf, plen);

	memset(&cmd, 0, sizeof(cmd));
	cmd.spi[0] = 0x16;
	cmd.spi[1] = 0x39;
	cmd.kic = cmd.kid = MSC_OTA_KEYID(1);
	memcpy(cmd.tar, fuzz_tar, 3);
	cmd.counter = 5;
	cmd.data = app;
	cmd.data_len = alen;
	err |= msc_ota_build_command(&cmd, &keys, pkt, sizeof(pkt), &plen) != MSC_OK;
	err |= put(dir, "fuzz_ota_command", 1, pkt, plen);

	/* UDH harness input: count, then length-prefixed parts */
	err |= msc_sms_split(MSC_IEI_CMD_PACKET, 9, pkt, plen, segs, 16, &n) != MSC_OK;
	buf[0] = (uint8_t) n;
	pos = 1;
	for (i = 0; i < n; i++)
	{
		buf[pos++] = (uint8_t) segs[n - 1 - i].len;
		memcpy(buf + pos, segs[n - 1 - i].ud, segs[n - 1 - i].len);
		pos += segs[n - 1 - i].len;
	}
	err |= put(dir, "fuzz_udh", 1, buf, pos);

	memset(&orsp, 0, sizeof(orsp));
	memcpy(orsp.tar, fuzz_tar, 3);
	orsp.counter = 5;
	orsp.data = buf + 1;
	orsp.data_len = 40;
	buf[0] = 0x39;
	memset(buf + 1, 0x61, 40);
	err |= msc_ota_build_response(0x39, &orsp, &keys, pkt + 1, sizeof(pkt) - 1, &plen) != MSC_OK;
	pkt[0] = 0x39;
	err |= put(dir, "fuzz_ota_response", 1, pkt, plen + 1);

	err |= answer_seeds(dir, &keys);
	err |= smpp_seeds(dir);
	return err ? 1 : 0;
}
