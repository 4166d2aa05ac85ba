/*-------------------------------------------------------------------------
 *
 * answer.c
 *	  Opening a SIM's answer: reassembly, response packet, applet response.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "answer.h"

msc_rc
msc_answer_open(const msc_sms_part *parts, size_t nparts,
				uint8_t spi2, const msc_ota_keys *keys,
				const uint8_t tar[MSC_OTA_TAR_LEN],
				uint8_t *buf, size_t cap, msc_answer *out)
{
	uint8_t    *pkt = buf;
	uint8_t    *work = buf + MSC_SMS_MAX_PACKET;
	size_t		pkt_len = 0;
	msc_rc		rc;

	if (parts == NULL || keys == NULL || tar == NULL || buf == NULL || out == NULL)
		return MSC_E_ARG;
	if (cap < MSC_ANSWER_BUF_SIZE)
		return MSC_E_BUFFER;
	/* the stages from MSC_ANSWER_POR on mean authentic: a CC is required */
	if ((spi2 & MSC_SPI2_POR_INTEGRITY_MASK) != MSC_SPI2_POR_INTEGRITY_CC)
		return MSC_E_SPI;
	memset(out, 0, sizeof(*out));

	out->stage = MSC_ANSWER_SMS;
	out->rc = msc_sms_reassemble(parts, nparts, pkt, MSC_SMS_MAX_PACKET, &pkt_len,
								 &out->packet_iei);
	if (out->rc != MSC_OK || out->packet_iei != MSC_IEI_RSP_PACKET)
		return MSC_OK;

	rc = msc_ota_parse_response(pkt, pkt_len, spi2, keys, tar, work,
								MSC_SMS_MAX_PACKET, &out->por);
	out->rc = rc;
	if (rc == MSC_E_TAR)
	{
		out->stage = MSC_ANSWER_TAR;
		return MSC_OK;
	}
	if (rc == MSC_E_UNSECURED)
	{
		out->stage = MSC_ANSWER_UNSECURED;
		return MSC_OK;
	}
	if (rc != MSC_OK)
	{
		out->stage = MSC_ANSWER_SECURITY;
		memset(&out->por, 0, sizeof(out->por));
		return MSC_OK;
	}
	/* authentic from here on */
	if (out->por.status != MSC_POR_OK)
	{
		out->stage = MSC_ANSWER_POR;
		return MSC_OK;
	}
	out->rc = msc_applet_response_decode(out->por.data, out->por.data_len, &out->applet);
	out->stage = out->rc == MSC_OK ? MSC_ANSWER_OK : MSC_ANSWER_APPLET;
	return MSC_OK;
}
