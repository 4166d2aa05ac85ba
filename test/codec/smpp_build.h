/*
 * smpp_build.h
 *	  Writes SMPP 3.4 PDUs byte by byte for the tests and the fuzz seeds
 *	  (test/codec/test_smpp.c, test/fuzz/gen_seeds.c): the receive side is
 *	  tested with frames built here, independently of libsmpp34 and of the
 *	  decoder under test.  Writes beyond the buffer abort.
 */
#ifndef SMPP_BUILD_H
#define SMPP_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smpp.h"

typedef struct smpp_buf
{
	uint8_t		b[MSC_SMPP_MAX_PDU + 256];
	size_t		n;
} smpp_buf;

static inline void
sb_bytes(smpp_buf *p, const void *v, size_t len)
{
	if (len == 0)
		return;
	if (len > sizeof(p->b) - p->n)
		abort();
	memcpy(p->b + p->n, v, len);
	p->n += len;
}

static inline void
sb_u8(smpp_buf *p, uint8_t v)
{
	sb_bytes(p, &v, 1);
}

static inline void
sb_u16(smpp_buf *p, uint16_t v)
{
	uint8_t		b[2] = {(uint8_t) (v >> 8), (uint8_t) v};

	sb_bytes(p, b, 2);
}

static inline void
sb_u32(smpp_buf *p, uint32_t v)
{
	uint8_t		b[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v};

	sb_bytes(p, b, 4);
}

/* a C-octet string: the characters and a NUL */
static inline void
sb_cstr(smpp_buf *p, const char *s)
{
	sb_bytes(p, s, strlen(s) + 1);
}

static inline void
sb_tlv(smpp_buf *p, uint16_t tag, const void *v, uint16_t len)
{
	sb_u16(p, tag);
	sb_u16(p, len);
	sb_bytes(p, v, len);
}

/* header with command_length 0, patched by sb_end */
static inline void
sb_begin(smpp_buf *p, uint32_t command_id, uint32_t status, uint32_t seq)
{
	p->n = 0;
	sb_u32(p, 0);
	sb_u32(p, command_id);
	sb_u32(p, status);
	sb_u32(p, seq);
}

static inline size_t
sb_end(smpp_buf *p)
{
	p->b[0] = (uint8_t) (p->n >> 24);
	p->b[1] = (uint8_t) (p->n >> 16);
	p->b[2] = (uint8_t) (p->n >> 8);
	p->b[3] = (uint8_t) p->n;
	return p->n;
}

/*
 * deliver_sm mandatory part from a source address, esm_class and user
 * data in short_message (SMPP 3.4 §4.6.1); the caller may append TLVs and
 * then calls sb_end.
 */
static inline void
sb_deliver_sm(smpp_buf *p, uint32_t seq, const char *src, uint8_t esm,
			  const uint8_t *ud, size_t udlen)
{
	sb_begin(p, MSC_SMPP_DELIVER_SM, 0, seq);
	sb_cstr(p, "");				/* service_type */
	sb_u8(p, 1);				/* source_addr_ton: international */
	sb_u8(p, 1);				/* source_addr_npi: E.164 */
	sb_cstr(p, src);
	sb_u8(p, 0);
	sb_u8(p, 1);
	sb_cstr(p, "12345");		/* destination_addr */
	sb_u8(p, esm);
	sb_u8(p, 0x7F);				/* protocol_id: SIM data download */
	sb_u8(p, 0);				/* priority_flag */
	sb_cstr(p, "");				/* schedule_delivery_time */
	sb_cstr(p, "");				/* validity_period */
	sb_u8(p, 0);				/* registered_delivery */
	sb_u8(p, 0);				/* replace_if_present_flag */
	sb_u8(p, 0xF6);				/* data_coding */
	sb_u8(p, 0);				/* sm_default_msg_id */
	sb_u8(p, (uint8_t) udlen);
	sb_bytes(p, ud, udlen);
}

#endif							/* SMPP_BUILD_H */
