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
	return err ? 1 : 0;
}
