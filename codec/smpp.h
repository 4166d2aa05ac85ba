/*-------------------------------------------------------------------------
 *
 * smpp.h
 *	  Bounded decoder of the SMPP 3.4 PDUs an ESME receives from an SMSC:
 *	  framing, the 16-byte header and every body the worker handles
 *	  (bind_transceiver_resp, submit_sm_resp, deliver_sm with its optional
 *	  parameters, and the header-only enquire_link(_resp), unbind(_resp),
 *	  generic_nack).  Plus the two checks the worker applies to what it
 *	  stores: the MSISDN of a source address and the text form of an SMSC
 *	  message id.
 *
 * Invariants:
 *	- everything from the wire is hostile: every length is checked against
 *	  what is left of the PDU before it is used; nothing is read past len;
 *	- decoders never allocate and keep no state; decoded pointers point into
 *	  the caller's buffer, which must outlive the msc_smpp_pdu;
 *	- a C-octet string field is accepted only if its NUL lies within the
 *	  SMPP 3.4 maximum length of that field (NUL included), so every
 *	  msc_smpp_str is a NUL-terminated C string of known length (the empty
 *	  string when absent);
 *	- at most MSC_SMPP_MAX_TLVS optional parameters per PDU; a known tag
 *	  appears at most once and with the length SMPP 3.4 §5.3.2 gives it;
 *	  unknown tags are skipped (an ESME ignores optional parameters it does
 *	  not support) but counted;
 *	- on failure the PDU's body fields are cleared and pdu->fault names the
 *	  field, so msc_smpp_fault_status() gives the command_status to answer.
 *
 * libsmpp34 is used by the worker only to pack what it sends (its own,
 * bounded input); nothing received is ever handed to smpp34_unpack
 * (Debian's libsmpp34 1.14.1: its unpack trace overruns a 2048-byte global
 * buffer, and a truncated last TLV leaks; codec/README.md §5).
 *
 * Byte layouts, limits and their SMPP 3.4 sections: codec/README.md §5.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSC_SMPP_H
#define MSC_SMPP_H

#include "msc.h"

#define MSC_SMPP_HEADER_LEN		16
#define MSC_SMPP_MAX_PDU		16384	/* largest PDU accepted from an SMSC */
#define MSC_SMPP_MAX_TLVS		32	/* optional parameters per PDU */

/* command_id values (SMPP 3.4 §5.1.2.1) */
#define MSC_SMPP_RESP_BIT				0x80000000u
#define MSC_SMPP_GENERIC_NACK			0x80000000u
#define MSC_SMPP_SUBMIT_SM_RESP			0x80000004u
#define MSC_SMPP_DELIVER_SM				0x00000005u
#define MSC_SMPP_DELIVER_SM_RESP		0x80000005u
#define MSC_SMPP_UNBIND					0x00000006u
#define MSC_SMPP_UNBIND_RESP			0x80000006u
#define MSC_SMPP_BIND_TRANSCEIVER_RESP	0x80000009u
#define MSC_SMPP_ENQUIRE_LINK			0x00000015u
#define MSC_SMPP_ENQUIRE_LINK_RESP		0x80000015u

/* command_status values the decoder answers with (SMPP 3.4 §5.1.3) */
#define MSC_SMPP_ROK				0x00000000u
#define MSC_SMPP_RINVMSGLEN			0x00000001u
#define MSC_SMPP_RINVCMDLEN			0x00000002u
#define MSC_SMPP_RINVCMDID			0x00000003u
#define MSC_SMPP_RINVSRCADR			0x0000000Au
#define MSC_SMPP_RINVDSTADR			0x0000000Bu
#define MSC_SMPP_RINVSERTYP			0x00000015u
#define MSC_SMPP_RINVSCHED			0x00000061u
#define MSC_SMPP_RINVEXPIRY			0x00000062u
#define MSC_SMPP_RINVOPTPARSTREAM	0x000000C0u
#define MSC_SMPP_ROPTPARNOTALLWD	0x000000C1u
#define MSC_SMPP_RINVPARLEN			0x000000C2u
#define MSC_SMPP_RINVOPTPARAMVAL	0x000000C4u

/* optional parameter tags the worker reads (SMPP 3.4 §5.3.2) */
#define MSC_SMPP_TLV_RECEIPTED_MESSAGE_ID	0x001E
#define MSC_SMPP_TLV_USER_MESSAGE_REFERENCE	0x0204
#define MSC_SMPP_TLV_SAR_MSG_REF_NUM		0x020C
#define MSC_SMPP_TLV_SAR_TOTAL_SEGMENTS		0x020E
#define MSC_SMPP_TLV_SAR_SEGMENT_SEQNUM		0x020F
#define MSC_SMPP_TLV_SC_INTERFACE_VERSION	0x0210
#define MSC_SMPP_TLV_NETWORK_ERROR_CODE		0x0423
#define MSC_SMPP_TLV_MESSAGE_PAYLOAD		0x0424
#define MSC_SMPP_TLV_MESSAGE_STATE			0x0427

/*
 * MSISDN of a source address: an optional '+' and 5 to 15 digits (E.164
 * allows 15).  The project's one home of that rule: SQL's domain
 * mobisign.msisdn calls msc_smpp_msisdn_check through mobisign._is_msisdn()
 * (extension/domain.c).
 */
#define MSC_MSISDN_MIN_DIGITS	5
#define MSC_MSISDN_MAX_DIGITS	15

/* message id as text: "hex:" + 2 digits per octet of a 64-octet id + NUL */
#define MSC_SMPP_ID_TEXT_MAX	(4 + 2 * 64 + 1)

/* the field a decoder refused (names: msc_smpp_field_name) */
typedef enum msc_smpp_field
{
	MSC_SMPP_F_NONE = 0,
	MSC_SMPP_F_BODY,			/* body shorter or longer than its fields */
	MSC_SMPP_F_SERVICE_TYPE,
	MSC_SMPP_F_SOURCE_ADDR,
	MSC_SMPP_F_DESTINATION_ADDR,
	MSC_SMPP_F_SCHEDULE,
	MSC_SMPP_F_VALIDITY,
	MSC_SMPP_F_SHORT_MESSAGE,
	MSC_SMPP_F_SYSTEM_ID,
	MSC_SMPP_F_MESSAGE_ID,
	MSC_SMPP_F_TLV_STREAM,		/* truncated TLV, too many, duplicate */
	MSC_SMPP_F_TLV_LENGTH,		/* a known tag with a length SMPP forbids */
	MSC_SMPP_F_TLV_VALUE,		/* a known tag with a value SMPP forbids */
	MSC_SMPP_F_TLV_NOT_ALLOWED	/* message_payload beside short_message */
} msc_smpp_field;

typedef struct msc_smpp_fault
{
	msc_smpp_field field;
	uint16_t	tag;			/* the optional parameter, for F_TLV_* */
} msc_smpp_fault;

/* a C-octet string inside the caller's buffer: s[len] == '\0' */
typedef struct msc_smpp_str
{
	const char *s;
	size_t		len;
} msc_smpp_str;

typedef struct msc_smpp_header
{
	uint32_t	command_length;
	uint32_t	command_id;
	uint32_t	command_status;
	uint32_t	sequence_number;
} msc_smpp_header;

/* bind_transceiver_resp (SMPP 3.4 §4.1.6) */
typedef struct msc_smpp_bind_resp
{
	msc_smpp_str system_id;
	int			sc_interface_version;	/* -1 if absent */
} msc_smpp_bind_resp;

/* submit_sm_resp (SMPP 3.4 §4.4.2) */
typedef struct msc_smpp_submit_resp
{
	msc_smpp_str message_id;
} msc_smpp_submit_resp;

/* deliver_sm (SMPP 3.4 §4.6.1) */
typedef struct msc_smpp_deliver_sm
{
	msc_smpp_str service_type;
	uint8_t		source_addr_ton;
	uint8_t		source_addr_npi;
	msc_smpp_str source_addr;
	uint8_t		dest_addr_ton;
	uint8_t		dest_addr_npi;
	msc_smpp_str destination_addr;
	uint8_t		esm_class;
	uint8_t		protocol_id;
	uint8_t		priority_flag;
	uint8_t		registered_delivery;
	uint8_t		replace_if_present_flag;
	uint8_t		data_coding;
	uint8_t		sm_default_msg_id;
	size_t		sm_length;
	const uint8_t *short_message;
	/* optional parameters; -1 or NULL if absent */
	const uint8_t *message_payload;
	size_t		message_payload_len;
	msc_smpp_str receipted_message_id;
	int			message_state;	/* 1..8 */
	const uint8_t *network_error_code;	/* 3 octets */
	int			user_message_reference;
	int			sar_msg_ref_num;
	int			sar_total_segments;
	int			sar_segment_seqnum;
} msc_smpp_deliver_sm;

/* one received PDU */
typedef struct msc_smpp_pdu
{
	msc_smpp_header h;
	const uint8_t *body;		/* the frame after the header */
	size_t		body_len;
	int			known;			/* 1 if command_id is one decoded here */
	size_t		n_tlv;			/* optional parameters seen */
	msc_smpp_fault fault;		/* set when the decode fails */
	union
	{
		msc_smpp_bind_resp bind_resp;
		msc_smpp_submit_resp submit_resp;
		msc_smpp_deliver_sm deliver_sm;
	}			u;
} msc_smpp_pdu;

/*
 * Framing (SMPP 3.4 §3.2): buf holds len received bytes starting at a PDU.
 * MSC_OK with *frame_len = the PDU's command_length when all of it is in
 * buf, MSC_OK with *frame_len = 0 when more bytes are needed, MSC_E_LENGTH
 * when command_length < 16 or > cap (framing is lost: answer generic_nack
 * ESME_RINVCMDLEN and close).  cap is at most MSC_SMPP_MAX_PDU.
 */
extern msc_rc msc_smpp_frame(const uint8_t *buf, size_t len, size_t cap, size_t *frame_len);

/*
 * Decode one whole frame (len == its command_length, as msc_smpp_frame
 * cut it): the header, then the body of the commands listed above.  A
 * command not decoded here returns MSC_OK with known = 0 (a request is
 * answered generic_nack ESME_RINVCMDID by the caller).  Response bodies are
 * decoded only with command_status 0 (SMPP 3.4 returns none otherwise) and
 * may be empty (no message id / system id).  Errors: MSC_E_LENGTH
 * (truncated), MSC_E_VALUE (a string longer than its maximum, a non-NULL
 * unused field, a bad optional parameter value), MSC_E_TLV (length of a
 * known tag), MSC_E_TAG_DUP, MSC_E_TRAILING (a body on a header-only PDU),
 * MSC_E_ARG; pdu->fault says which field.
 */
extern msc_rc msc_smpp_decode(const uint8_t *frame, size_t len, msc_smpp_pdu *pdu);

/* command_status answering a refused request (SMPP 3.4 §5.1.3) */
extern uint32_t msc_smpp_fault_status(const msc_smpp_fault *fault);

/* static lower-case names, for logs */
extern const char *msc_smpp_field_name(msc_smpp_field field);
extern const char *msc_smpp_command_name(uint32_t command_id);

/* deliver_sm user data: short_message, or message_payload when sm_length is 0 */
extern const uint8_t *msc_smpp_user_data(const msc_smpp_deliver_sm *d, size_t *len);

/* MSC_OK if s (len octets) is '+'? and 5..15 ASCII digits, else MSC_E_VALUE */
extern msc_rc msc_smpp_msisdn_check(const char *s, size_t len);

/*
 * Text form of a message id to store: the id itself if every octet is
 * printable ASCII (0x20..0x7E) and it does not start with "hex:", else
 * "hex:" and the octets in lower-case hex.  Injective, always valid UTF-8.
 * out must hold MSC_SMPP_ID_TEXT_MAX bytes; ids over 64 octets: MSC_E_ARG.
 */
extern msc_rc msc_smpp_id_text(const msc_smpp_str *id, char *out, size_t cap);

#endif							/* MSC_SMPP_H */
