/*
 * libFuzzer harness: UDH parser and SMS reassembly.
 * Input: byte 0 = number of parts (mod 18), then for each part one length
 * byte and that many bytes of user data (clipped to what remains).
 * Whole input is also parsed as one UDH.
 */
#include <string.h>

#include "fuzz_common.h"
#include "sms.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msc_udh		h;
	msc_sms_part parts[MSC_SMS_MAX_SEGMENTS + 2];
	static uint8_t out[MSC_SMS_MAX_PACKET + 256 * 18];
	size_t		nparts,
				pos = 1,
				i,
				olen = 0,
				total = 0;
	uint8_t		iei = 0xEE;

	if (msc_udh_parse(data, size, &h) == MSC_OK)
	{
		FUZZ_CHECK(h.header_len >= 1 && h.header_len <= size);
		FUZZ_CHECK(h.n_ie <= MSC_UDH_MAX_IE);
		if (h.has_concat)
			FUZZ_CHECK(h.concat_seq >= 1 && h.concat_seq <= h.concat_total);
	}
	if (size < 1)
		return 0;
	nparts = data[0] % (MSC_SMS_MAX_SEGMENTS + 2);
	for (i = 0; i < nparts; i++)
	{
		size_t		l = pos < size ? data[pos++] : 0;

		if (l > size - pos)
			l = size - pos;
		parts[i].ud = data + pos;
		parts[i].len = l;
		total += l;
		pos += l;
	}
	if (msc_sms_reassemble(parts, nparts, out, sizeof(out), &olen, &iei) == MSC_OK)
	{
		FUZZ_CHECK(nparts >= 1 && nparts <= MSC_SMS_MAX_SEGMENTS);
		FUZZ_CHECK(olen <= total);
		FUZZ_CHECK(iei == 0 || iei == 0x70 || iei == 0x71);
	}
	/* split whatever came in, and reassemble: identity */
	if (size > 1 && size - 1 <= MSC_SMS_MAX_PACKET)
	{
		msc_sms_segment segs[MSC_SMS_MAX_SEGMENTS];
		size_t		n;
		uint8_t		pi = (data[0] & 1) ? MSC_IEI_CMD_PACKET :
			((data[0] & 2) ? MSC_IEI_RSP_PACKET : 0);

		if (msc_sms_split(pi, data[0], data + 1, size - 1, segs,
						  MSC_SMS_MAX_SEGMENTS, &n) == MSC_OK)
		{
			for (i = 0; i < n; i++)
			{
				FUZZ_CHECK(segs[i].len <= MSC_SMS_UD_MAX);
				/* reverse order */
				parts[i].ud = segs[n - 1 - i].ud;
				parts[i].len = segs[n - 1 - i].len;
			}
			FUZZ_CHECK(msc_sms_reassemble(parts, n, out, sizeof(out), &olen, &iei) == MSC_OK);
			FUZZ_CHECK(olen == size - 1 && memcmp(out, data + 1, olen) == 0);
			FUZZ_CHECK(iei == pi);
		}
		else
			FUZZ_CHECK(msc_sms_segment_count(pi, size - 1) == 0);
	}
	return 0;
}
