/*
 * libFuzzer harness: the whole answer path as the server runs it.  For each
 * received SMS the worker parses the UDH (msc_udh_parse) to store reference,
 * total and sequence; mobisign._open_response then hands the set to
 * msc_answer_open: reassembly (msc_sms_reassemble), the response packet
 * (msc_ota_parse_response, SPI2 39, CC over 02 71 00 ...) and the applet
 * response (msc_applet_response_decode), together.
 *
 * Byte 0 selects the mode:
 *	bit 7 clear (raw): the rest is up to 17 SMS user data, each prefixed
 *	  with its length (1 octet): what a hostile SMSC or SIM could send.
 *	bit 7 set (sealed): byte 1 is the PoR status, byte 2 the concatenation
 *	  reference, byte 3 shuffles the segments, the rest is the applet data;
 *	  the harness builds the authentic packet with the test keys and splits
 *	  it, so the fuzzer reaches the applet decoder through the whole path.
 *	  Then the outcome must be exactly what the applet decoder says of the
 *	  data alone (and for a status other than 00, stage "por").
 */
#include <string.h>

#include "answer.h"
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[MSC_ANSWER_BUF_SIZE];

/* The invariants of any result. */
static void
check_result(const msc_answer *a)
{
	const uint8_t *end = buf + sizeof(buf);

	FUZZ_CHECK(a->stage >= MSC_ANSWER_SMS && a->stage <= MSC_ANSWER_OK);
	if (a->stage >= MSC_ANSWER_UNSECURED && a->stage != MSC_ANSWER_SECURITY)
	{
		FUZZ_CHECK(a->por.data_len == 0 ||
				   (a->por.data >= buf && a->por.data + a->por.data_len <= end));
		FUZZ_CHECK(a->por.counter <= MSC_OTA_COUNTER_MAX);
	}
	if (a->stage == MSC_ANSWER_POR)
		FUZZ_CHECK(a->por.status != MSC_POR_OK);
	if (a->stage == MSC_ANSWER_OK)
	{
		FUZZ_CHECK(a->por.status == MSC_POR_OK);
		FUZZ_CHECK((a->applet.cms == NULL) == (a->applet.cms_len == 0));
		FUZZ_CHECK(a->applet.cms == NULL ||
				   (a->applet.cms >= a->por.data &&
					a->applet.cms + a->applet.cms_len <= a->por.data + a->por.data_len));
	}
	if (a->stage == MSC_ANSWER_SMS && a->rc == MSC_OK)
		FUZZ_CHECK(a->packet_iei != MSC_IEI_RSP_PACKET);
}

/* Every SMS goes through the worker's UDH parse first; must not crash. */
static void
worker_parse(const msc_sms_part *parts, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		msc_udh		h;

		if (msc_udh_parse(parts[i].ud, parts[i].len, &h) == MSC_OK)
		{
			FUZZ_CHECK(h.header_len <= parts[i].len);
			FUZZ_CHECK(!h.has_concat || (h.concat_seq >= 1 && h.concat_seq <= h.concat_total));
		}
	}
}

static void
raw(const uint8_t *data, size_t size)
{
	msc_sms_part parts[MSC_SMS_MAX_SEGMENTS + 1];
	msc_ota_keys keys = fuzz_keys();
	msc_answer	a;
	size_t		n = 0,
				pos = 0;

	while (pos < size && n < MSC_SMS_MAX_SEGMENTS + 1)
	{
		size_t		len = data[pos++];

		if (len > size - pos)
			len = size - pos;
		parts[n].ud = data + pos;
		parts[n].len = len;
		n++;
		pos += len;
	}
	worker_parse(parts, n);
	FUZZ_CHECK(msc_answer_open(parts, n, MSC_OTA_SPI2_DEFAULT, &keys, fuzz_tar,
							   buf, sizeof(buf), &a) == MSC_OK);
	check_result(&a);
}

static void
sealed(const uint8_t *data, size_t size)
{
	static uint8_t pkt[MSC_SMS_MAX_PACKET + 64];
	msc_sms_segment segs[MSC_SMS_MAX_SEGMENTS];
	msc_sms_part parts[MSC_SMS_MAX_SEGMENTS];
	msc_ota_keys keys = fuzz_keys();
	msc_ota_response rsp;
	msc_applet_response alone;
	msc_answer	a;
	size_t		plen,
				n,
				i;
	uint8_t		status,
				ref,
				shuffle;

	if (size < 3)
		return;
	status = data[0];
	ref = data[1];
	shuffle = data[2];
	data += 3;
	size -= 3;
	if (size > MSC_OTA_MAX_RSP_DATA)
		size = MSC_OTA_MAX_RSP_DATA;
	memset(&rsp, 0, sizeof(rsp));
	memcpy(rsp.tar, fuzz_tar, 3);
	rsp.counter = (uint64_t) ref * 1000003u;
	rsp.status = status;
	rsp.data = data;
	rsp.data_len = size;
	FUZZ_CHECK(msc_ota_build_response(MSC_OTA_SPI2_DEFAULT, &rsp, &keys, pkt, sizeof(pkt),
									  &plen) == MSC_OK);
	FUZZ_CHECK(msc_sms_split(MSC_IEI_RSP_PACKET, ref, pkt, plen, segs, MSC_SMS_MAX_SEGMENTS,
							 &n) == MSC_OK);
	/* any arrival order: rotate and maybe reverse */
	for (i = 0; i < n; i++)
	{
		size_t		k = (i + shuffle) % n;

		if (shuffle & 0x80)
			k = n - 1 - k;
		parts[i].ud = segs[k].ud;
		parts[i].len = segs[k].len;
	}
	worker_parse(parts, n);
	FUZZ_CHECK(msc_answer_open(parts, n, MSC_OTA_SPI2_DEFAULT, &keys, fuzz_tar,
							   buf, sizeof(buf), &a) == MSC_OK);
	check_result(&a);
	/* authentic: the path adds nothing and loses nothing */
	FUZZ_CHECK(a.stage >= MSC_ANSWER_POR);
	FUZZ_CHECK(a.por.counter == rsp.counter && a.por.status == status);
	if (status != MSC_POR_OK)
	{
		FUZZ_CHECK(a.stage == MSC_ANSWER_POR);
		return;
	}
	FUZZ_CHECK(a.por.data_len == size && memcmp(a.por.data, data, size) == 0);
	if (msc_applet_response_decode(data, size, &alone) == MSC_OK)
	{
		FUZZ_CHECK(a.stage == MSC_ANSWER_OK);
		FUZZ_CHECK(a.applet.result == alone.result && a.applet.cms_len == alone.cms_len &&
				   memcmp(a.applet.reference, alone.reference, MSC_APPLET_REF_LEN) == 0);
	}
	else
		FUZZ_CHECK(a.stage == MSC_ANSWER_APPLET && a.rc != MSC_OK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80)
		sealed(data + 1, size - 1);
	else
		raw(data + 1, size - 1);
	return 0;
}
