/*-------------------------------------------------------------------------
 *
 * ota.c
 *	  TS 102 225 / TS 31.115 command and response packets, AES-CBC + AES-CMAC.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "aes_cmac.h"
#include "ota.h"

/* Offsets in a command packet */
#define CMD_CPL		0
#define CMD_CHL		2
#define CMD_SPI		3
#define CMD_KIC		5
#define CMD_KID		6
#define CMD_TAR		7
#define CMD_CNTR	10
#define CMD_PCNTR	15
#define CMD_CC		16
#define CMD_DATA	24			/* = 3 + MSC_OTA_CHL */

/* Offsets in a response packet */
#define RSP_RPL		0
#define RSP_RHL		2
#define RSP_TAR		3
#define RSP_CNTR	6
#define RSP_PCNTR	11
#define RSP_STATUS	12
#define RSP_CC		13

static void
put40(uint8_t *p, uint64_t v)
{
	int			i;

	for (i = 4; i >= 0; i--)
	{
		p[i] = (uint8_t) (v & 0xFF);
		v >>= 8;
	}
}

static uint64_t
get40(const uint8_t *p)
{
	uint64_t	v = 0;
	int			i;

	for (i = 0; i < 5; i++)
		v = (v << 8) | p[i];
	return v;
}

static int
aes_key_ok(const uint8_t *k, size_t len)
{
	return k != NULL && (len == 16 || len == 24 || len == 32);
}

/* Checks a command's SPI/KIc/KID against what this codec supports. */
static msc_rc
check_command_security(const uint8_t spi[2], uint8_t kic, uint8_t kid)
{
	if ((spi[0] & MSC_SPI1_INTEGRITY_MASK) != MSC_SPI1_INTEGRITY_CC)
		return MSC_E_SPI;
	if ((kid & 0x0F) != MSC_OTA_ALG_AES)
		return MSC_E_SPI;
	if ((spi[0] & MSC_SPI1_CIPHER) && (kic & 0x0F) != MSC_OTA_ALG_AES)
		return MSC_E_SPI;
	/* PoR integrity: none or CC only (RC and DS unsupported) */
	if ((spi[1] & MSC_SPI2_POR_INTEGRITY_MASK) != 0 &&
		(spi[1] & MSC_SPI2_POR_INTEGRITY_MASK) != MSC_SPI2_POR_INTEGRITY_CC)
		return MSC_E_SPI;
	return MSC_OK;
}

/*
 * What the CC covers in front of the packet: nothing for a command (TS
 * 31.115 leaves the command's UDH out), the three octets UDHL IEIa IEIDLa =
 * 02 71 00 for a response (TS 31.115, as pySim's known answers show).
 */
typedef enum cc_kind
{
	CC_COMMAND,
	CC_RESPONSE
} cc_kind;

static const uint8_t rsp_cc_udh[MSC_OTA_RSP_CC_UDH_LEN] = {
	MSC_OTA_RSP_CC_UDH_LEN - 1, MSC_IEI_RSP_PACKET, 0x00
};

/* 8-octet CC: leftmost octets of AES-CMAC over [UDH] head body. */
static msc_rc
compute_cc(const msc_ota_keys *keys, cc_kind kind, const uint8_t *head, size_t head_len,
		   const uint8_t *body, size_t body_len, uint8_t cc[MSC_OTA_CC_LEN])
{
	msc_iov		parts[3];
	size_t		n = 0;
	uint8_t		mac[MSC_CMAC_LEN];
	msc_rc		rc;

	if (kind == CC_RESPONSE)
	{
		parts[n].base = rsp_cc_udh;
		parts[n++].len = sizeof(rsp_cc_udh);
	}
	parts[n].base = head;
	parts[n++].len = head_len;
	parts[n].base = body;
	parts[n++].len = body_len;
	rc = msc_aes_cmac_iov(keys->kid, keys->kid_len, parts, n, mac);
	if (rc == MSC_OK)
		memcpy(cc, mac, MSC_OTA_CC_LEN);
	memset(mac, 0, sizeof(mac));
	return rc;
}

static size_t
pad_for(size_t fixed, size_t data_len)
{
	return (MSC_AES_BLOCK - (fixed + data_len) % MSC_AES_BLOCK) % MSC_AES_BLOCK;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t		acc = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/*
 * Recompute the checksum over [UDH] [0, cc_off) + [data_off, len) of a
 * deciphered packet and compare it, in constant time, with the one at cc_off.
 */
static msc_rc
check_cc(const msc_ota_keys *keys, cc_kind kind, const uint8_t *work, size_t cc_off,
		 size_t data_off, size_t len)
{
	uint8_t		cc[MSC_OTA_CC_LEN];
	msc_rc		rc = compute_cc(keys, kind, work, cc_off, work + data_off, len - data_off, cc);

	if (rc != MSC_OK)
		return rc;
	return msc_ct_equal(cc, work + cc_off, MSC_OTA_CC_LEN) ? MSC_OK : MSC_E_CC;
}

/* What the padding octets of a packet may contain. */
typedef enum pad_rule
{
	PAD_ZEROS,					/* commands: zeros, as we send them */
	PAD_ANY						/* responses: any value (see below) */
} pad_rule;

/*
 * The padding counter of a deciphered packet whose secured data (with its
 * padding) is body bytes long and ends at end: with ciphering it counts the
 * octets that filled the last AES block, without it must be 0.  The value
 * of response padding is not checked: SIMs differ (pySim pads with 00,
 * onomondo-uicc with 80 00 .. 00) and the CC covers it anyway.
 */
static msc_rc
check_padding(const uint8_t *end, size_t body, uint8_t pcntr, int ciph, pad_rule rule)
{
	if (!ciph)
		return pcntr == 0 ? MSC_OK : MSC_E_PADDING;
	if (pcntr >= MSC_AES_BLOCK || pcntr > body)
		return MSC_E_PADDING;
	if (rule == PAD_ZEROS && !all_zero(end - pcntr, pcntr))
		return MSC_E_PADDING;
	return MSC_OK;
}

/*
 * The last step of building a packet of total bytes: when ciphered,
 * everything from the counter (at cntr) on is encrypted with KIc, in place.
 */
static msc_rc
seal(const msc_ota_keys *keys, int ciph, uint8_t *out, size_t cntr, size_t total,
	 size_t *out_len)
{
	if (ciph)
	{
		msc_rc		rc = msc_aes_cbc_encrypt(keys->kic, keys->kic_len, out + cntr,
											 total - cntr, out + cntr);

		if (rc != MSC_OK)
			return rc;
	}
	*out_len = total;
	return MSC_OK;
}

/*
 * The first step of parsing a packet of len bytes (work holds as many): a
 * copy in work, and when ciphered, everything from the counter (at cntr) on
 * decrypted with KIc, in place.
 */
static msc_rc
unseal(const msc_ota_keys *keys, int ciph, const uint8_t *pkt, size_t len, size_t cntr,
	   uint8_t *work)
{
	memcpy(work, pkt, len);
	if (!ciph)
		return MSC_OK;
	return msc_aes_cbc_decrypt(keys->kic, keys->kic_len, work + cntr, len - cntr, work + cntr);
}

msc_rc
msc_ota_build_command(const msc_ota_command *cmd, const msc_ota_keys *keys,
					  uint8_t *out, size_t cap, size_t *out_len)
{
	int			ciph;
	size_t		pad,
				total;
	msc_rc		rc;

	if (cmd == NULL || keys == NULL || out == NULL || out_len == NULL ||
		(cmd->data == NULL && cmd->data_len > 0))
		return MSC_E_ARG;
	rc = check_command_security(cmd->spi, cmd->kic, cmd->kid);
	if (rc != MSC_OK)
		return rc;
	if (cmd->counter > MSC_OTA_COUNTER_MAX)
		return MSC_E_ARG;
	ciph = (cmd->spi[0] & MSC_SPI1_CIPHER) != 0;
	if (!aes_key_ok(keys->kid, keys->kid_len) ||
		(ciph && !aes_key_ok(keys->kic, keys->kic_len)))
		return MSC_E_CRYPTO;
	if (cmd->data_len > 65535)
		return MSC_E_LENGTH;
	pad = ciph ? pad_for(MSC_OTA_CNTR_LEN + 1 + MSC_OTA_CC_LEN, cmd->data_len) : 0;
	total = CMD_DATA + cmd->data_len + pad;
	if (total - 2 > 65535)
		return MSC_E_LENGTH;
	if (total > cap)
		return MSC_E_BUFFER;

	out[CMD_CPL] = (uint8_t) ((total - 2) >> 8);
	out[CMD_CPL + 1] = (uint8_t) ((total - 2) & 0xFF);
	out[CMD_CHL] = MSC_OTA_CHL;
	out[CMD_SPI] = cmd->spi[0];
	out[CMD_SPI + 1] = cmd->spi[1];
	out[CMD_KIC] = cmd->kic;
	out[CMD_KID] = cmd->kid;
	memcpy(out + CMD_TAR, cmd->tar, MSC_OTA_TAR_LEN);
	put40(out + CMD_CNTR, cmd->counter);
	out[CMD_PCNTR] = (uint8_t) pad;
	if (cmd->data_len > 0)
		memmove(out + CMD_DATA, cmd->data, cmd->data_len);
	memset(out + CMD_DATA + cmd->data_len, 0, pad);

	rc = compute_cc(keys, CC_COMMAND, out, CMD_CC, out + CMD_DATA, total - CMD_DATA,
					out + CMD_CC);
	if (rc != MSC_OK)
		return rc;
	return seal(keys, ciph, out, CMD_CNTR, total, out_len);
}

msc_rc
msc_ota_peek_command(const uint8_t *pkt, size_t len, msc_ota_command *hdr)
{
	if (pkt == NULL || hdr == NULL)
		return MSC_E_ARG;
	memset(hdr, 0, sizeof(*hdr));
	if (len < CMD_DATA)
		return MSC_E_LENGTH;
	if ((((size_t) pkt[CMD_CPL] << 8) | pkt[CMD_CPL + 1]) != len - 2)
		return MSC_E_LENGTH;
	if (pkt[CMD_CHL] != MSC_OTA_CHL)
		return MSC_E_SPI;
	hdr->spi[0] = pkt[CMD_SPI];
	hdr->spi[1] = pkt[CMD_SPI + 1];
	hdr->kic = pkt[CMD_KIC];
	hdr->kid = pkt[CMD_KID];
	memcpy(hdr->tar, pkt + CMD_TAR, MSC_OTA_TAR_LEN);
	return MSC_OK;
}

msc_rc
msc_ota_parse_command(const uint8_t *pkt, size_t len,
					  const msc_ota_keys *keys, const uint8_t *expected_tar,
					  uint8_t *work, size_t work_cap, msc_ota_command *out)
{
	msc_ota_command hdr;
	size_t		body;
	int			ciph;
	msc_rc		rc;

	if (keys == NULL || work == NULL || out == NULL)
		return MSC_E_ARG;
	memset(out, 0, sizeof(*out));
	rc = msc_ota_peek_command(pkt, len, &hdr);
	if (rc != MSC_OK)
		return rc;
	rc = check_command_security(hdr.spi, hdr.kic, hdr.kid);
	if (rc != MSC_OK)
		return rc;
	if (expected_tar != NULL && memcmp(hdr.tar, expected_tar, MSC_OTA_TAR_LEN) != 0)
		return MSC_E_TAR;
	ciph = (hdr.spi[0] & MSC_SPI1_CIPHER) != 0;
	if (ciph && (len - CMD_CNTR) % MSC_AES_BLOCK != 0)
		return MSC_E_LENGTH;
	if (!aes_key_ok(keys->kid, keys->kid_len) ||
		(ciph && !aes_key_ok(keys->kic, keys->kic_len)))
		return MSC_E_CRYPTO;
	if (work_cap < len)
		return MSC_E_BUFFER;
	rc = unseal(keys, ciph, pkt, len, CMD_CNTR, work);
	if (rc != MSC_OK)
		return rc;
	rc = check_cc(keys, CC_COMMAND, work, CMD_CC, CMD_DATA, len);
	if (rc != MSC_OK)
		return rc;

	body = len - CMD_DATA;
	out->pcntr = work[CMD_PCNTR];
	rc = check_padding(work + len, body, out->pcntr, ciph, PAD_ZEROS);
	if (rc != MSC_OK)
		return rc;

	out->spi[0] = hdr.spi[0];
	out->spi[1] = hdr.spi[1];
	out->kic = hdr.kic;
	out->kid = hdr.kid;
	memcpy(out->tar, hdr.tar, MSC_OTA_TAR_LEN);
	out->counter = get40(work + CMD_CNTR);
	out->data = work + CMD_DATA;
	out->data_len = body - out->pcntr;
	return MSC_OK;
}

msc_rc
msc_ota_build_response(uint8_t spi2, const msc_ota_response *rsp,
					   const msc_ota_keys *keys,
					   uint8_t *out, size_t cap, size_t *out_len)
{
	int			ciph,
				withcc;
	size_t		rhl,
				head,
				pad,
				total;
	msc_rc		rc;

	if (rsp == NULL || keys == NULL || out == NULL || out_len == NULL ||
		(rsp->data == NULL && rsp->data_len > 0))
		return MSC_E_ARG;
	if ((spi2 & MSC_SPI2_POR_INTEGRITY_MASK) != 0 &&
		(spi2 & MSC_SPI2_POR_INTEGRITY_MASK) != MSC_SPI2_POR_INTEGRITY_CC)
		return MSC_E_SPI;
	if (rsp->counter > MSC_OTA_COUNTER_MAX)
		return MSC_E_ARG;
	withcc = (spi2 & MSC_SPI2_POR_INTEGRITY_MASK) == MSC_SPI2_POR_INTEGRITY_CC;
	ciph = (spi2 & MSC_SPI2_POR_CIPHER) != 0;
	if ((withcc && !aes_key_ok(keys->kid, keys->kid_len)) ||
		(ciph && !aes_key_ok(keys->kic, keys->kic_len)))
		return MSC_E_CRYPTO;
	if (rsp->data_len > 65535)
		return MSC_E_LENGTH;
	rhl = withcc ? MSC_OTA_RHL : MSC_OTA_RHL - MSC_OTA_CC_LEN;
	head = 3 + rhl;
	pad = ciph ? pad_for(head - RSP_CNTR, rsp->data_len) : 0;
	total = head + rsp->data_len + pad;
	if (total - 2 > 65535)
		return MSC_E_LENGTH;
	if (total > cap)
		return MSC_E_BUFFER;

	out[RSP_RPL] = (uint8_t) ((total - 2) >> 8);
	out[RSP_RPL + 1] = (uint8_t) ((total - 2) & 0xFF);
	out[RSP_RHL] = (uint8_t) rhl;
	memcpy(out + RSP_TAR, rsp->tar, MSC_OTA_TAR_LEN);
	put40(out + RSP_CNTR, rsp->counter);
	out[RSP_PCNTR] = (uint8_t) pad;
	out[RSP_STATUS] = rsp->status;
	if (rsp->data_len > 0)
		memmove(out + head, rsp->data, rsp->data_len);
	memset(out + head + rsp->data_len, 0, pad);
	if (withcc)
	{
		rc = compute_cc(keys, CC_RESPONSE, out, RSP_CC, out + head, total - head, out + RSP_CC);
		if (rc != MSC_OK)
			return rc;
	}
	return seal(keys, ciph, out, RSP_CNTR, total, out_len);
}

msc_rc
msc_ota_parse_response(const uint8_t *pkt, size_t len,
					   uint8_t spi2, const msc_ota_keys *keys,
					   const uint8_t *expected_tar,
					   uint8_t *work, size_t work_cap,
					   msc_ota_response *out)
{
	int			ciph,
				withcc;
	size_t		rhl,
				head,
				body;
	msc_rc		rc;

	if (pkt == NULL || keys == NULL || work == NULL || out == NULL)
		return MSC_E_ARG;
	memset(out, 0, sizeof(*out));
	if ((spi2 & MSC_SPI2_POR_INTEGRITY_MASK) != 0 &&
		(spi2 & MSC_SPI2_POR_INTEGRITY_MASK) != MSC_SPI2_POR_INTEGRITY_CC)
		return MSC_E_SPI;
	withcc = (spi2 & MSC_SPI2_POR_INTEGRITY_MASK) == MSC_SPI2_POR_INTEGRITY_CC;
	ciph = (spi2 & MSC_SPI2_POR_CIPHER) != 0;

	if (len < 3 + (MSC_OTA_RHL - MSC_OTA_CC_LEN))
		return MSC_E_LENGTH;
	if ((((size_t) pkt[RSP_RPL] << 8) | pkt[RSP_RPL + 1]) != len - 2)
		return MSC_E_LENGTH;
	rhl = pkt[RSP_RHL];
	if (expected_tar != NULL && memcmp(pkt + RSP_TAR, expected_tar, MSC_OTA_TAR_LEN) != 0)
		return MSC_E_TAR;
	if (work_cap < len)
		return MSC_E_BUFFER;

	if (withcc && rhl == MSC_OTA_RHL - MSC_OTA_CC_LEN)
	{
		/* An unsecured PoR where a secured one was asked: report, untrusted. */
		memcpy(work, pkt, len);
		memcpy(out->tar, work + RSP_TAR, MSC_OTA_TAR_LEN);
		out->counter = get40(work + RSP_CNTR);
		out->pcntr = work[RSP_PCNTR];
		out->status = work[RSP_STATUS];
		out->data = work + 3 + rhl;
		out->data_len = len - 3 - rhl;
		return MSC_E_UNSECURED;
	}
	if (rhl != (withcc ? MSC_OTA_RHL : MSC_OTA_RHL - MSC_OTA_CC_LEN))
		return MSC_E_SPI;
	head = 3 + rhl;
	if (len < head)
		return MSC_E_LENGTH;
	if (ciph && (len - RSP_CNTR) % MSC_AES_BLOCK != 0)
		return MSC_E_LENGTH;
	if ((withcc && !aes_key_ok(keys->kid, keys->kid_len)) ||
		(ciph && !aes_key_ok(keys->kic, keys->kic_len)))
		return MSC_E_CRYPTO;
	rc = unseal(keys, ciph, pkt, len, RSP_CNTR, work);
	if (rc != MSC_OK)
		return rc;
	if (withcc)
	{
		rc = check_cc(keys, CC_RESPONSE, work, RSP_CC, head, len);
		if (rc != MSC_OK)
			return rc;
	}
	body = len - head;
	out->pcntr = work[RSP_PCNTR];
	rc = check_padding(work + len, body, out->pcntr, ciph, PAD_ANY);
	if (rc != MSC_OK)
		return rc;
	memcpy(out->tar, work + RSP_TAR, MSC_OTA_TAR_LEN);
	out->counter = get40(work + RSP_CNTR);
	out->status = work[RSP_STATUS];
	out->data = work + head;
	out->data_len = body - out->pcntr;
	return MSC_OK;
}

const char *
msc_por_status_name(uint8_t status)
{
	static const char *const names[] = {
		"ok",
		"rc/cc/ds failed",
		"counter low",
		"counter high",
		"counter blocked",
		"ciphering error",
		"unidentified security error",
		"insufficient memory",
		"more time needed",
		"tar unknown",
		"insufficient security level",
		"reply by sms-submit",
	};

	if (status < sizeof(names) / sizeof(names[0]))
		return names[status];
	return "unknown status";
}
