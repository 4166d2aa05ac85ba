/*-------------------------------------------------------------------------
 *
 * ota.h
 *	  ETSI TS 102 225 / 3GPP TS 31.115 secured packets with AES: command
 *	  packets (server -> SIM) and response packets (PoR, SIM -> server),
 *	  built and parsed on both sides (the simulator builds responses and
 *	  parses commands with the same code).
 *
 * Command packet (after the UDH 02 70 00, see sms.h):
 *
 *	CPL(2) CHL(1) SPI(2) KIc(1) KID(1) TAR(3) | CNTR(5) PCNTR(1) CC(8) data pad
 *	`------------ clear -------------------'   `---- AES-CBC (zero IV) ------'
 *
 *	CPL  = octets after CPL = 1 + CHL + data + pad
 *	CHL  = 21 (13 + 8-octet CC)
 *	pad  = zeros making CNTR..end a multiple of 16; PCNTR = pad length (0..15)
 *	CC   = first 8 octets of AES-CMAC(KID key, CPL CHL SPI KIc KID TAR CNTR
 *	       PCNTR data pad), computed on the clear text with the CC field
 *	       left out; the UDH is not covered (as pySim).  Then CNTR..end is
 *	       enciphered with AES-CBC (KIc key) when SPI1 b3 is set.
 *
 * Response packet (after the UDH 02 71 00):
 *
 *	RPL(2) RHL(1) TAR(3) | CNTR(5) PCNTR(1) status(1) CC(8) data pad
 *	RHL  = 18 (10 + 8-octet CC); RPL = 1 + RHL + data + pad
 *	pad  makes CNTR..end a multiple of 16 when the PoR is ciphered (SPI2 b5),
 *	     else pad = 0; built as zeros, accepted with any value (onomondo-uicc
 *	     pads with 80 00..00; the CC covers the padding)
 *	CC   = first 8 octets of AES-CMAC(KID key, 02 71 00 RPL RHL TAR CNTR
 *	       PCNTR status data pad), present when SPI2 b4b3 = 10.  Unlike the
 *	       command's, the response CC covers the UDH octets UDHL IEIa IEIDLa
 *	       = 02 71 00 (TS 31.115; pySim's AES known answers agree).  These
 *	       three octets are always 02 71 00, also when the packet travels in
 *	       concatenated SMS whose real UDH is longer: the codec adds them
 *	       itself, callers pass the packet from RPL on.
 *
 * Supported security: integrity CC with AES-CMAC (KID low nibble 2),
 * ciphering AES-CBC (KIc low nibble 2) or none, CC of 8 octets.  RC and DS
 * are refused (MSC_E_SPI).  Default SPI 16 39: counter process-if-higher,
 * ciphered, CC; PoR by SMS-SUBMIT, ciphered, CC, always.
 * KIc = KID = keyset << 4 | 2 (MSC_OTA_KEYID).
 *
 * The counter is 40 bits, carried big-endian; the codec only transports
 * it: checking "higher than stored" is the caller's job (both sides).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSC_OTA_H
#define MSC_OTA_H

#include "msc.h"
#include "sms.h"

#define MSC_OTA_CNTR_LEN		5
#define MSC_OTA_CC_LEN			8
#define MSC_OTA_TAR_LEN			3
#define MSC_OTA_CHL				21	/* 13 + CC */
#define MSC_OTA_RHL				18	/* 10 + CC */
/* the largest 5-octet counter; SQL reads it as mobisign._ota_counter_max() */
#define MSC_OTA_COUNTER_MAX		((((uint64_t) 1) << 40) - 1)
#define MSC_OTA_RSP_CC_UDH_LEN	3	/* 02 71 00 in front of a response's CC input */

#define MSC_OTA_SPI1_DEFAULT	0x16
#define MSC_OTA_SPI2_DEFAULT	0x39
#define MSC_OTA_ALG_AES			0x02
#define MSC_OTA_KEYID(keyset)	((uint8_t) ((((keyset) & 0x0F) << 4) | MSC_OTA_ALG_AES))
#define MSC_OTA_KEYSET(kic)		(((kic) >> 4) & 0x0F)

/* SPI byte 1 */
#define MSC_SPI1_COUNTER_MASK	0x18
#define MSC_SPI1_COUNTER_NONE	0x00
#define MSC_SPI1_COUNTER_NOCHECK 0x08
#define MSC_SPI1_COUNTER_HIGHER	0x10
#define MSC_SPI1_COUNTER_PLUS1	0x18
#define MSC_SPI1_CIPHER			0x04
#define MSC_SPI1_INTEGRITY_MASK	0x03
#define MSC_SPI1_INTEGRITY_CC	0x02
/* SPI byte 2 */
#define MSC_SPI2_POR_SMS_SUBMIT	0x20
#define MSC_SPI2_POR_CIPHER		0x10
#define MSC_SPI2_POR_INTEGRITY_MASK 0x0C
#define MSC_SPI2_POR_INTEGRITY_CC 0x08
#define MSC_SPI2_POR_MASK		0x03
#define MSC_SPI2_POR_ALWAYS		0x01
#define MSC_SPI2_POR_ON_ERROR	0x02

/* Response status codes (TS 102 225 §5.2.2) */
#define MSC_POR_OK					0x00
#define MSC_POR_CC_FAILED			0x01
#define MSC_POR_CNTR_LOW			0x02
#define MSC_POR_CNTR_HIGH			0x03
#define MSC_POR_CNTR_BLOCKED		0x04
#define MSC_POR_CIPHER_ERROR		0x05
#define MSC_POR_SECURITY_ERROR		0x06
#define MSC_POR_MEMORY				0x07
#define MSC_POR_MORE_TIME			0x08
#define MSC_POR_TAR_UNKNOWN			0x09
#define MSC_POR_INSUFFICIENT_SECURITY 0x0A
#define MSC_POR_REPLY_SMS_SUBMIT	0x0B

/* Largest secured data that still fits MSC_SMS_MAX_SEGMENTS SMS. */
#define MSC_OTA_MAX_CMD_DATA	2114
#define MSC_OTA_MAX_RSP_DATA	2113

/* Key material of one SIM key set (not copied; caller owns it). */
typedef struct msc_ota_keys
{
	const uint8_t *kic;			/* AES key for ciphering, 16/24/32 bytes */
	size_t		kic_len;
	const uint8_t *kid;			/* AES key for the CC, 16/24/32 bytes */
	size_t		kid_len;
} msc_ota_keys;

/* A command packet, clear form. */
typedef struct msc_ota_command
{
	uint8_t		spi[2];
	uint8_t		kic;
	uint8_t		kid;
	uint8_t		tar[MSC_OTA_TAR_LEN];
	uint64_t	counter;		/* 0..MSC_OTA_COUNTER_MAX */
	uint8_t		pcntr;			/* set by build/parse */
	const uint8_t *data;		/* secured data (build: input; parse: in work) */
	size_t		data_len;
} msc_ota_command;

/* A response packet (PoR), clear form. */
typedef struct msc_ota_response
{
	uint8_t		tar[MSC_OTA_TAR_LEN];
	uint64_t	counter;		/* the command's counter, echoed */
	uint8_t		pcntr;			/* set by build/parse */
	uint8_t		status;			/* MSC_POR_* */
	const uint8_t *data;		/* additional response data */
	size_t		data_len;
} msc_ota_response;

/*
 * Build a command packet (CPL..end, no UDH) from cmd (spi, kic, kid, tar,
 * counter, data) into out[0..cap).  MSC_E_SPI if the SPI/KIc/KID ask for
 * something unsupported, MSC_E_ARG if the counter exceeds 40 bits,
 * MSC_E_LENGTH if CPL would exceed 65535, MSC_E_BUFFER if cap is short
 * (24 + data_len + 15 always suffices).
 */
extern msc_rc msc_ota_build_command(const msc_ota_command *cmd,
									const msc_ota_keys *keys,
									uint8_t *out, size_t cap, size_t *out_len);

/*
 * Read the clear header of a command packet (spi, kic, kid, tar) without
 * keys, to look the key set up (by TAR and MSC_OTA_KEYSET(kic)).  Checks
 * CPL and CHL (MSC_E_LENGTH, MSC_E_SPI).  Nothing here is authenticated.
 */
extern msc_rc msc_ota_peek_command(const uint8_t *pkt, size_t len,
								   msc_ota_command *hdr);

/*
 * Parse and verify a command packet.  expected_tar may be NULL (any TAR).
 * work must have room for len bytes; it receives the deciphered packet and
 * out->data points into it.  Order of checks and results:
 *	MSC_E_LENGTH  packet too short, CPL != len - 2, ciphered part not a
 *	              multiple of 16;
 *	MSC_E_SPI     CHL != 21, unsupported SPI/KIc/KID;
 *	MSC_E_TAR     TAR differs from expected_tar;
 *	MSC_E_CC      CC does not verify (constant-time comparison);
 *	MSC_E_PADDING PCNTR > 15, > data+pad, or non-zero padding (ciphered)
 *	              or PCNTR != 0 (not ciphered).
 * On MSC_OK, out holds spi, kic, kid, tar, counter, pcntr, data.  The
 * counter check (higher than stored) is left to the caller.
 */
extern msc_rc msc_ota_parse_command(const uint8_t *pkt, size_t len,
									const msc_ota_keys *keys,
									const uint8_t *expected_tar,
									uint8_t *work, size_t work_cap,
									msc_ota_command *out);

/*
 * Build a response packet (RPL..end, no UDH).  spi2 is the command's SPI
 * byte 2: b5 (0x10) ciphers the PoR with the KIc key, b4b3 = 10 (0x08) adds
 * the CC with the KID key, b4b3 = 00 builds an unsecured PoR (use it only
 * for errors such as MSC_POR_CC_FAILED when the keys are not trusted);
 * other integrity values: MSC_E_SPI.
 */
extern msc_rc msc_ota_build_response(uint8_t spi2, const msc_ota_response *rsp,
									 const msc_ota_keys *keys,
									 uint8_t *out, size_t cap, size_t *out_len);

/*
 * Parse and verify a response packet, given the SPI byte 2 of the command
 * it answers.  Same results as msc_ota_parse_command (except that the
 * padding octets may have any value), plus:
 *	MSC_E_UNSECURED  spi2 asks for a CC but the packet has none (RHL 10):
 *	                 out->tar, counter and status are filled from the clear
 *	                 packet but NOTHING is authenticated (log it, do not
 *	                 act on it).
 * work must have room for len bytes.
 */
extern msc_rc msc_ota_parse_response(const uint8_t *pkt, size_t len,
									 uint8_t spi2, const msc_ota_keys *keys,
									 const uint8_t *expected_tar,
									 uint8_t *work, size_t work_cap,
									 msc_ota_response *out);

/* Static description of a PoR status code ("counter low"...). */
extern const char *msc_por_status_name(uint8_t status);

#endif							/* MSC_OTA_H */
