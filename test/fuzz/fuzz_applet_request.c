/*
 * libFuzzer harness: applet request decoder.  A decoded request must
 * re-encode to exactly the input bytes (the encoding is canonical), and
 * its signed part must be a strict prefix.
 */
#include <string.h>

#include "applet.h"
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[70000];
	uint8_t		utf8[1024];
	msc_applet_request req;
	const uint8_t *sp;
	size_t		len,
				splen,
				ulen;

	if (msc_applet_request_decode(data, size, &req) != MSC_OK)
	{
		FUZZ_CHECK(msc_applet_request_signed_part(data, size, &sp, &splen) != MSC_OK);
		return 0;
	}
	FUZZ_CHECK(msc_applet_request_signed_part(data, size, &sp, &splen) == MSC_OK);
	FUZZ_CHECK(sp == data && splen < size);
	FUZZ_CHECK(msc_display_decode(req.display_coding, req.display, req.display_len,
								  req.display_units, utf8, sizeof(utf8), &ulen) == MSC_OK);
	FUZZ_CHECK(msc_applet_request_encode(&req, out, sizeof(out), &len) == MSC_OK);
	FUZZ_CHECK(len == size && memcmp(out, data, size) == 0);
	FUZZ_CHECK(msc_applet_request_encode_unsigned(&req, out, sizeof(out), &len) == MSC_OK);
	FUZZ_CHECK(len == splen && memcmp(out, data, len) == 0);
	return 0;
}
