/*
 * libFuzzer harness: applet response decoder; a decoded response must
 * re-encode to exactly the input bytes.
 */
#include <string.h>

#include "applet.h"
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[70000];
	msc_applet_response rsp;
	size_t		len;

	if (msc_applet_response_decode(data, size, &rsp) != MSC_OK)
		return 0;
	FUZZ_CHECK(rsp.result <= MSC_RESULT_MAX);
	FUZZ_CHECK((rsp.result == MSC_RESULT_OK) == (rsp.cms != NULL));
	FUZZ_CHECK(msc_applet_response_encode(&rsp, out, sizeof(out), &len) == MSC_OK);
	FUZZ_CHECK(len == size && memcmp(out, data, size) == 0);
	return 0;
}
