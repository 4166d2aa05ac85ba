/*-------------------------------------------------------------------------
 *
 * sms.c
 *	  SMS user data headers: segmentation and reassembly of secured packets.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "sms.h"

/* Payload room of the first and of the following segments. */
static void
segment_room(uint8_t packet_iei, size_t len, size_t *first, size_t *next,
			 int *single)
{
	*next = MSC_SMS_NEXT_MAX;
	if (packet_iei != 0)
	{
		*single = (len <= MSC_SMS_SINGLE_MAX);
		*first = *single ? MSC_SMS_SINGLE_MAX : MSC_SMS_FIRST_MAX;
	}
	else
	{
		/* no packet identifier: always a concatenation element */
		*single = 0;
		*first = MSC_SMS_NEXT_MAX;
	}
}

size_t
msc_sms_segment_count(uint8_t packet_iei, size_t len)
{
	size_t		first,
				next,
				n;
	int			single;

	if (len == 0 || len > MSC_SMS_MAX_PACKET)
		return 0;
	segment_room(packet_iei, len, &first, &next, &single);
	if (len <= first)
		n = 1;
	else
		n = 1 + (len - first + next - 1) / next;
	return n <= MSC_SMS_MAX_SEGMENTS ? n : 0;
}

msc_rc
msc_sms_split(uint8_t packet_iei, uint8_t ref,
			  const uint8_t *packet, size_t len,
			  msc_sms_segment *segs, size_t max_segs, size_t *nsegs)
{
	size_t		first,
				next,
				n,
				k,
				pos = 0;
	int			single;

	if (packet == NULL || segs == NULL || nsegs == NULL || len == 0)
		return MSC_E_ARG;
	if (packet_iei != 0 && packet_iei != MSC_IEI_CMD_PACKET &&
		packet_iei != MSC_IEI_RSP_PACKET)
		return MSC_E_ARG;
	n = msc_sms_segment_count(packet_iei, len);
	if (n == 0 || n > max_segs)
		return MSC_E_SEGMENTS;
	segment_room(packet_iei, len, &first, &next, &single);

	if (single)
	{
		segs[0].ud[0] = 0x02;
		segs[0].ud[1] = packet_iei;
		segs[0].ud[2] = 0x00;
		memcpy(segs[0].ud + 3, packet, len);
		segs[0].len = 3 + len;
		*nsegs = 1;
		return MSC_OK;
	}

	for (k = 0; k < n; k++)
	{
		uint8_t    *ud = segs[k].ud;
		size_t		h = 1;
		size_t		room = (k == 0) ? first : next;
		size_t		chunk = len - pos < room ? len - pos : room;

		if (k == 0 && packet_iei != 0)
		{
			/* the packet identifier leads the first segment */
			ud[h++] = packet_iei;
			ud[h++] = 0x00;
		}
		ud[h++] = MSC_IEI_CONCAT8;
		ud[h++] = 0x03;
		ud[h++] = ref;
		ud[h++] = (uint8_t) n;
		ud[h++] = (uint8_t) (k + 1);
		ud[0] = (uint8_t) (h - 1);
		memcpy(ud + h, packet + pos, chunk);
		segs[k].len = h + chunk;
		pos += chunk;
	}
	*nsegs = n;
	return MSC_OK;
}

msc_rc
msc_udh_parse(const uint8_t *ud, size_t len, msc_udh *out)
{
	size_t		udhl,
				i;

	if (ud == NULL || out == NULL)
		return MSC_E_ARG;
	memset(out, 0, sizeof(*out));
	if (len < 1)
		return MSC_E_UDH;
	udhl = ud[0];
	if (udhl + 1 > len)
		return MSC_E_UDH;
	i = 1;
	while (i < udhl + 1)
	{
		uint8_t		iei,
					iel;

		if (udhl + 1 - i < 2)
			return MSC_E_UDH;
		iei = ud[i];
		iel = ud[i + 1];
		if (iel > udhl + 1 - i - 2)
			return MSC_E_UDH;
		if (out->n_ie >= MSC_UDH_MAX_IE)
			return MSC_E_UDH;
		out->iei[out->n_ie++] = iei;
		switch (iei)
		{
			case MSC_IEI_CONCAT8:
			case MSC_IEI_CONCAT16:
				{
					const uint8_t *v = ud + i + 2;
					size_t		want = (iei == MSC_IEI_CONCAT8) ? 3 : 4;

					if (out->has_concat || iel != want)
						return MSC_E_UDH;
					out->has_concat = 1;
					if (iei == MSC_IEI_CONCAT8)
					{
						out->concat_ref_bits = 8;
						out->concat_ref = v[0];
						v += 1;
					}
					else
					{
						out->concat_ref_bits = 16;
						out->concat_ref = (uint16_t) ((v[0] << 8) | v[1]);
						v += 2;
					}
					out->concat_total = v[0];
					out->concat_seq = v[1];
					if (out->concat_total == 0 || out->concat_seq == 0 ||
						out->concat_seq > out->concat_total)
						return MSC_E_UDH;
				}
				break;
			case MSC_IEI_CMD_PACKET:
			case MSC_IEI_RSP_PACKET:
				if (iel != 0 || out->has_cmd_packet || out->has_rsp_packet)
					return MSC_E_UDH;
				if (iei == MSC_IEI_CMD_PACKET)
					out->has_cmd_packet = 1;
				else
					out->has_rsp_packet = 1;
				break;
			default:
				break;
		}
		i += 2 + (size_t) iel;
	}
	out->header_len = udhl + 1;
	return MSC_OK;
}

int32_t
msc_udh_concat_key(const msc_udh *h)
{
	if (!h->has_concat)
		return -1;
	return h->concat_ref_bits == 16 ? MSC_CONCAT_KEY_16 + (int32_t) h->concat_ref
		: (int32_t) h->concat_ref;
}

static uint8_t
udh_packet_iei(const msc_udh *h)
{
	if (h->has_cmd_packet)
		return MSC_IEI_CMD_PACKET;
	if (h->has_rsp_packet)
		return MSC_IEI_RSP_PACKET;
	return 0;
}

msc_rc
msc_sms_reassemble(const msc_sms_part *parts, size_t nparts,
				   uint8_t *out, size_t cap, size_t *out_len,
				   uint8_t *packet_iei)
{
	msc_udh		h[MSC_SMS_MAX_SEGMENTS];
	int			order[MSC_SMS_MAX_SEGMENTS];
	size_t		i,
				total = 0,
				o = 0;
	uint8_t		iei = 0;
	msc_rc		rc;

	if (parts == NULL || out_len == NULL || (out == NULL && cap > 0))
		return MSC_E_ARG;
	if (nparts == 0 || nparts > MSC_SMS_MAX_SEGMENTS)
		return MSC_E_SEGMENTS;
	for (i = 0; i < nparts; i++)
	{
		if (parts[i].ud == NULL)
			return MSC_E_ARG;
		rc = msc_udh_parse(parts[i].ud, parts[i].len, &h[i]);
		if (rc != MSC_OK)
			return rc;
		order[i] = -1;
	}

	if (nparts == 1 && !h[0].has_concat)
	{
		order[0] = 0;
		iei = udh_packet_iei(&h[0]);
	}
	else
	{
		for (i = 0; i < nparts; i++)
		{
			size_t		seq;

			if (!h[i].has_concat ||
				h[i].concat_total != nparts ||
				h[i].concat_ref_bits != h[0].concat_ref_bits ||
				h[i].concat_ref != h[0].concat_ref)
				return MSC_E_SEGMENTS;
			seq = h[i].concat_seq;
			if (order[seq - 1] != -1)
				return MSC_E_SEGMENTS;
			order[seq - 1] = (int) i;
			if (seq == 1)
				iei = udh_packet_iei(&h[i]);
			else if (udh_packet_iei(&h[i]) != 0)
				return MSC_E_SEGMENTS;
		}
	}

	for (i = 0; i < nparts; i++)
		total += parts[order[i]].len - h[order[i]].header_len;
	if (total > cap)
		return MSC_E_BUFFER;
	for (i = 0; i < nparts; i++)
	{
		const msc_sms_part *p = &parts[order[i]];
		size_t		hl = h[order[i]].header_len;

		if (p->len > hl)
			memcpy(out + o, p->ud + hl, p->len - hl);
		o += p->len - hl;
	}
	*out_len = o;
	if (packet_iei != NULL)
		*packet_iei = iei;
	return MSC_OK;
}
