/*
 * libFuzzer harness: display text coding.  Any UTF-8 the encoder accepts
 * must decode back to the same bytes (what you see is what you sign); raw
 * GSM/UCS-2 decoders must be safe on anything.
 */
#include <string.h>

#include "fuzz_common.h"
#include "gsm7.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msc_display_text dt;
	uint8_t		utf8[2048];
	size_t		ulen;

	if (msc_display_encode(data, size, NULL, &dt) == MSC_OK)
	{
		FUZZ_CHECK(msc_display_decode(dt.coding, dt.data, dt.len, dt.units,
									  utf8, sizeof(utf8), &ulen) == MSC_OK);
		FUZZ_CHECK(ulen == size && memcmp(utf8, data, size) == 0);
	}
	if (size >= 1)
	{
		(void) msc_display_decode(MSC_DCS_GSM7, data + 1, size - 1, data[0],
								  utf8, sizeof(utf8), &ulen);
		(void) msc_display_decode(MSC_DCS_UCS2, data + 1, size - 1, 0,
								  utf8, sizeof(utf8), &ulen);
		(void) msc_gsm7_to_utf8(data, size, utf8, sizeof(utf8), &ulen);
	}
	return 0;
}
