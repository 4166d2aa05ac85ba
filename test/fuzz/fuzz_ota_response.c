/*
 * libFuzzer harness: OTA response packet parse.  Byte 0 selects SPI2
 * (with/without CC, ciphered or not); the rest is the packet.  Also a
 * build -> parse round trip.
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
	msc_ota_response got,
				rsp;
	uint8_t		spi2;
	size_t		len;
	msc_rc		rc;

	if (size < 1)
		return 0;
	spi2 = data[0];
	rc = msc_ota_parse_response(data + 1, size - 1, spi2, &keys, fuzz_tar,
								work, size - 1, &got);
	if (rc == MSC_OK || rc == MSC_E_UNSECURED)
	{
		FUZZ_CHECK(got.data >= work && got.data + got.data_len <= work + size - 1);
		FUZZ_CHECK(got.counter <= MSC_OTA_COUNTER_MAX);
	}
	if (size - 1 <= MSC_OTA_MAX_RSP_DATA)
	{
		memset(&rsp, 0, sizeof(rsp));
		memcpy(rsp.tar, fuzz_tar, 3);
		rsp.counter = spi2 * 77u;
		rsp.status = spi2 & 0x0F;
		rsp.data = data + 1;
		rsp.data_len = size - 1;
		spi2 &= ~0x04;			/* integrity: none or CC */
		FUZZ_CHECK(msc_ota_build_response(spi2, &rsp, &keys, pkt, sizeof(pkt), &len) == MSC_OK);
		FUZZ_CHECK(msc_ota_parse_response(pkt, len, spi2, &keys, fuzz_tar, work, len, &got) == MSC_OK);
		FUZZ_CHECK(got.status == rsp.status && got.counter == rsp.counter &&
				   got.data_len == size - 1 && memcmp(got.data, data + 1, size - 1) == 0);
	}
	return 0;
}
