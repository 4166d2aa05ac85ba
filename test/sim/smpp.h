/*
 * smpp.h
 *	  mobisign-sim: SMPP 3.4 framing around libsmpp34 (its unpack is unsafe
 *	  on hostile input, codec/README.md §5):
 *	  we frame PDUs and decode the 16-byte header ourselves, hand only the
 *	  bodies we expect to smpp34_unpack, and build header-only PDUs by hand.
 */
#ifndef MOBISIGN_SIM_SMPP_H
#define MOBISIGN_SIM_SMPP_H

#include <stdint.h>
#include <stddef.h>

#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

#define SMPP_HEADER_LEN		16
#define SMPP_MAX_PDU		16384	/* larger command_length: framing error */

#define SMPP_TLV_MESSAGE_PAYLOAD 0x0424

typedef struct smpp_hdr
{
	uint32_t	length;
	uint32_t	id;
	uint32_t	status;
	uint32_t	seq;
} smpp_hdr;

/* Decode a header from 16 bytes. */
extern void smpp_read_header(const uint8_t *buf, smpp_hdr *h);

/* A header-only PDU (enquire_link[_resp], unbind[_resp], generic_nack...). */
extern size_t smpp_header_only(uint8_t *out, uint32_t id, uint32_t status, uint32_t seq);

/*
 * smpp34_pack wrapper: 0 on success, -1 on failure (the reason is logged
 * from the tail of smpp34_strerror, bounded).
 */
extern int	smpp_pack(uint32_t type, void *pdu, uint8_t *out, size_t cap, size_t *len);

/* smpp34_unpack wrapper on a complete PDU: 0 or -1. */
extern int	smpp_unpack(uint32_t type, void *pdu, const uint8_t *buf, size_t len);

/* "submit_sm", "deliver_sm_resp"... or "0x%08x" in a static buffer. */
extern const char *smpp_cmd_name(uint32_t id);

#endif
