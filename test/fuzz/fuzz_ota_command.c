/*
 * libFuzzer harness: OTA command packet peek/parse with fixed keys, and a
 * build -> parse round trip of the input as secured data.
 */
#include <string.h>

#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t work[70000],
				pkt[70000];
	msc_ota_keys keys = fuzz_keys();
	msc_ota_command hdr,
				cmd,
				got;
	size_t		len;
	msc_rc		rc;

	if (msc_ota_peek_command(data, size, &hdr) == MSC_OK)
		FUZZ_CHECK(size >= 24);
	/* work exactly the packet size: parse must stay inside it */
	rc = msc_ota_parse_command(data, size, &keys, fuzz_tar, work, size, &got);
	if (rc == MSC_OK)
	{
		FUZZ_CHECK(got.data >= work && got.data + got.data_len <= work + size);
		FUZZ_CHECK(got.counter <= MSC_OTA_COUNTER_MAX);
	}
	(void) msc_ota_parse_command(data, size, &keys, NULL, work, sizeof(work), &got);

	/* round trip with the input as secured data */
	if (size >= 1 && size - 1 <= MSC_OTA_MAX_CMD_DATA)
	{
		memset(&cmd, 0, sizeof(cmd));
		cmd.spi[0] = (data[0] & 1) ? 0x16 : 0x12;	/* ciphered or not */
		cmd.spi[1] = 0x39;
		cmd.kic = MSC_OTA_KEYID(1);
		cmd.kid = MSC_OTA_KEYID(1);
		memcpy(cmd.tar, fuzz_tar, 3);
		cmd.counter = (uint64_t) data[0] * 0x10203ULL;
		cmd.data = data + 1;
		cmd.data_len = size - 1;
		FUZZ_CHECK(msc_ota_build_command(&cmd, &keys, pkt, sizeof(pkt), &len) == MSC_OK);
		FUZZ_CHECK(len <= MSC_SMS_MAX_PACKET);
		FUZZ_CHECK(msc_ota_parse_command(pkt, len, &keys, fuzz_tar, work, len, &got) == MSC_OK);
		FUZZ_CHECK(got.counter == cmd.counter && got.data_len == size - 1 &&
				   memcmp(got.data, data + 1, size - 1) == 0);
	}
	return 0;
}
