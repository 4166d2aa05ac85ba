/*-------------------------------------------------------------------------
 *
 * sms.h
 *	  SMS-PP user data (TP-UD) with a user data header (TS 23.040 §9.2.3.24):
 *	  splitting a secured packet into (concatenated) SMS and back.
 *
 * Layout of the user data of each SMS (esm_class 0x40, UDHI set):
 *
 *	single SMS:      02 70 00 | packet (<= 137 octets)
 *	segment 1 of n:  07 70 00 00 03 ref n 01 | packet bytes (<= 132)
 *	segment k > 1:   05 00 03 ref n k | packet bytes (<= 134)
 *
 * Order rule (our choice, see codec/README.md; the TS 31.115 clause was not
 * checked, see codec/README.md): the secured-packet identifier (IEI 0x70
 * command, 0x71 response, length 0) is the first information element of the
 * first segment, followed by the concatenation element; later segments carry
 * only the concatenation element.  Other SIMs put the concatenation element
 * first, so the parser accepts the IEs in any order and also accepts IEI
 * 0x08 (16-bit reference).
 *
 * Bounds: each user data <= 140 octets; at most MSC_SMS_MAX_SEGMENTS (16)
 * segments, so a packet is at most 132 + 15 * 134 = 2142 octets
 * (MSC_SMS_MAX_PACKET).  Longer packets are refused with MSC_E_SEGMENTS.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSC_SMS_H
#define MSC_SMS_H

#include "msc.h"

#define MSC_SMS_UD_MAX			140
#define MSC_SMS_MAX_SEGMENTS	16
#define MSC_SMS_SINGLE_MAX		137 /* 140 - 3 (02 70 00) */
#define MSC_SMS_FIRST_MAX		132 /* 140 - 8 */
#define MSC_SMS_NEXT_MAX		134 /* 140 - 6 */
#define MSC_SMS_MAX_PACKET		(MSC_SMS_FIRST_MAX + (MSC_SMS_MAX_SEGMENTS - 1) * MSC_SMS_NEXT_MAX)

#define MSC_IEI_CONCAT8		0x00	/* concatenation, 8-bit reference */
#define MSC_IEI_CONCAT16	0x08	/* concatenation, 16-bit reference */
#define MSC_IEI_CMD_PACKET	0x70	/* command packet identifier (CPI) */
#define MSC_IEI_RSP_PACKET	0x71	/* response packet identifier (RPI) */

#define MSC_UDH_MAX_IE		32		/* more IEs than this: MSC_E_UDH */

/* SMPP submit_sm / deliver_sm parameters for SMS-PP data download. */
#define MSC_SMPP_PROTOCOL_ID	0x7F
#define MSC_SMPP_DATA_CODING	0xF6
#define MSC_SMPP_ESM_CLASS_UDHI	0x40

/* One SMS worth of user data (UDH included), as given to submit_sm. */
typedef struct msc_sms_segment
{
	size_t		len;
	uint8_t		ud[MSC_SMS_UD_MAX];
} msc_sms_segment;

/* A parsed user data header. */
typedef struct msc_udh
{
	size_t		header_len;		/* UDHL + 1: offset of the payload in ud */
	size_t		n_ie;			/* IEs found, in order */
	uint8_t		iei[MSC_UDH_MAX_IE];
	int			has_cmd_packet; /* IEI 0x70 present */
	int			has_rsp_packet; /* IEI 0x71 present */
	int			has_concat;		/* IEI 0x00 or 0x08 present */
	int			concat_ref_bits;	/* 8 or 16 (0 without concatenation) */
	uint16_t	concat_ref;
	uint8_t		concat_total;	/* 1..255 (>= 1) */
	uint8_t		concat_seq;		/* 1..concat_total */
} msc_udh;

/* One received user data (UDH included), for reassembly. */
typedef struct msc_sms_part
{
	const uint8_t *ud;
	size_t		len;
} msc_sms_part;

/*
 * Split packet[0..len) into SMS user data.  packet_iei is MSC_IEI_CMD_PACKET,
 * MSC_IEI_RSP_PACKET, or 0 for none (plain concatenated data).  ref is the
 * 8-bit concatenation reference (choose a fresh one per message and
 * destination).  segs must have room for max_segs entries; *nsegs receives
 * the count (1 without concatenation when the packet fits one SMS).
 * MSC_E_SEGMENTS if more than MSC_SMS_MAX_SEGMENTS (or max_segs) would be
 * needed; MSC_E_ARG for len 0.
 */
extern msc_rc msc_sms_split(uint8_t packet_iei, uint8_t ref,
							const uint8_t *packet, size_t len,
							msc_sms_segment *segs, size_t max_segs,
							size_t *nsegs);

/* Number of SMS msc_sms_split would produce for len bytes (0 if > 16). */
extern size_t msc_sms_segment_count(uint8_t packet_iei, size_t len);

/*
 * Parse the UDH at the start of ud[0..len) (UDHI assumed set).  Rejects
 * (MSC_E_UDH): len 0, UDHL beyond the data, an IE running past UDHL, more
 * than MSC_UDH_MAX_IE IEs, concatenation IE of the wrong length, total 0,
 * seq 0 or seq > total, two concatenation IEs, 0x70/0x71 with a non-zero
 * length or both present, a repeated 0x70/0x71.
 */
extern msc_rc msc_udh_parse(const uint8_t *ud, size_t len, msc_udh *out);

/*
 * The key that groups received segments into one concatenated message: an
 * 8-bit reference (IEI 0x00) and a 16-bit one (IEI 0x08) are two reference
 * spaces (TS 23.040 9.2.3.24.1 and 9.2.3.24.8), so segments with
 * reference 0x12 and 0x0012 are never parts of one message.  The key is the
 * 8-bit reference (0..255), or the 16-bit one plus MSC_CONCAT_KEY_16
 * (65536..131071); -1 for a header without concatenation.  The worker
 * stores it as mobisign.inbound_segment.concat_ref.
 */
#define MSC_CONCAT_KEY_16	0x10000
extern int32_t msc_udh_concat_key(const msc_udh *h);

/*
 * Reassemble a packet from nparts user data given in any order.  A single
 * part without a concatenation IE is a whole packet.  Otherwise every part
 * must carry a concatenation IE with the same reference and total, total ==
 * nparts <= MSC_SMS_MAX_SEGMENTS, each seq exactly once (MSC_E_SEGMENTS),
 * and the packet identifier (0x70/0x71) only in segment 1.
 * *packet_iei receives 0x70, 0x71 or 0 (may be NULL).  out receives the
 * payloads in sequence order (cap >= MSC_SMS_MAX_PACKET always suffices).
 */
extern msc_rc msc_sms_reassemble(const msc_sms_part *parts, size_t nparts,
								 uint8_t *out, size_t cap, size_t *out_len,
								 uint8_t *packet_iei);

#endif							/* MSC_SMS_H */
