/*
 * card.c
 *	  mobisign-sim: the virtual SIM and its PKI applet.
 *
 * A command packet for a SIM is checked and deciphered with the SIM's OTA
 * keys (codec/ota.h), its counter must be higher than the last one
 * the SIM accepted, the applet request is decoded (codec/applet.h),
 * the service provider's signature is verified with the SP certificate, and
 * the text is "displayed" (a log line).  After the user's delay the SIM acts
 * as DIR/behaviour says and answers with an applet response inside a
 * response packet (PoR) that echoes the command's counter, secured as the
 * command's SPI byte 2 asks.
 *
 * Errors before the applet (TS 102 225 status in an unsecured or secured
 * PoR, sent only when SPI2 asks for a PoR "always" or "on error"):
 *	01 CC failed, 02 counter low (replayed or old command), 05 ciphering
 *	error (bad padding), 06 security error (unsupported SPI, unknown key
 *	set, bad length), 09 TAR unknown.
 * The behaviours por_counter_low/high, por_blocked and por_security_error
 * answer an authentic command at once with a secured PoR of that status
 * (02, 03, 04, 06), echoing its counter, and do not take the counter.
 * The behaviour forged_por plays an attacker first: an unsecured PoR 01
 * (no CC, so anyone can forge it) at once, then the SIM's real answer.
 * An applet request that cannot be decoded gets no answer (logged); one
 * whose SP signature does not verify gets result 6 (bad request signature).
 */
#include "sim.h"

#include <time.h>

#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "aes_cmac.h"
#include "applet.h"
#include "gsm7.h"
#include "ota.h"
#include "sms.h"

#define SIM_PACKET_MAX	(MSC_SMS_MAX_PACKET + 64)

static const char *const behaviour_names[B_COUNT] = {
	[B_SIGN] = "sign",
	[B_CANCEL] = "cancel",
	[B_PIN_BLOCKED] = "pin_blocked",
	[B_CARD_BLOCKED] = "card_blocked",
	[B_NO_KEY] = "no_key",
	[B_SIM_ERROR] = "sim_error",
	[B_EXPIRED] = "expired",
	[B_SILENT] = "silent",
	[B_GARBAGE] = "garbage",
	[B_DUPLICATE] = "duplicate",
	[B_WRONG_CONTENT] = "wrong_content",
	[B_WRONG_KEY] = "wrong_key",
	[B_WRONG_REF] = "wrong_ref",
	[B_REPLAY] = "replay",
	[B_REPLAY_COUNTER] = "replay_counter",
	[B_BAD_CC] = "bad_cc",
	[B_POR_COUNTER_LOW] = "por_counter_low",
	[B_POR_COUNTER_HIGH] = "por_counter_high",
	[B_POR_BLOCKED] = "por_blocked",
	[B_POR_SECURITY_ERROR] = "por_security_error",
	[B_LOSE_SEGMENT] = "lose_segment",
	[B_LOSE_FIRST_SEGMENT] = "lose_first_segment",
	[B_FORGED_POR] = "forged_por",
	[B_SPOOF_NEXT] = "spoof_next",
	[B_SPOOF_AHEAD] = "spoof_ahead",
	[B_SPOOF_REPEAT] = "spoof_repeat",
	[B_SPOOF_LATE] = "spoof_late",
	[B_ASK] = "ask",
};

/* The PoR status a behaviour answers with instead of an applet response (0: none). */
static uint8_t
por_behaviour_status(sim_behaviour b)
{
	switch (b)
	{
		case B_POR_COUNTER_LOW:
			return MSC_POR_CNTR_LOW;
		case B_POR_COUNTER_HIGH:
			return MSC_POR_CNTR_HIGH;
		case B_POR_BLOCKED:
			return MSC_POR_CNTR_BLOCKED;
		case B_POR_SECURITY_ERROR:
			return MSC_POR_SECURITY_ERROR;
		default:
			return MSC_POR_OK;
	}
}

const char *
sim_behaviour_name(sim_behaviour b)
{
	return (b >= 0 && b < B_COUNT) ? behaviour_names[b] : "?";
}

int
sim_behaviour_parse(const char *name)
{
	int			i;

	for (i = 0; i < B_COUNT; i++)
		if (strcmp(name, behaviour_names[i]) == 0)
			return i;
	return -1;
}

void
sim_action_free(sim_action *a)
{
	if (!a)
		return;
	free(a->content);
	free(a->display);
	free(a);
}

/* Printable copy of text for the log: control characters and quotes escaped. */
static void
log_text(char *out, size_t cap, const uint8_t *text, size_t len)
{
	size_t		o = 0,
				i;

	for (i = 0; i < len && o + 5 < cap; i++)
	{
		uint8_t		ch = text[i];

		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			o += (size_t) snprintf(out + o, cap - o, "\\x%02x", ch);
		else
			out[o++] = (char) ch;
	}
	if (i < len && o + 4 < cap)
	{
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void
card_keys(const sim_card *c, msc_ota_keys *k)
{
	k->kic = c->kic;
	k->kic_len = sizeof(c->kic);
	k->kid = c->kid;
	k->kid_len = sizeof(c->kid);
}

/*
 * A PoR with no applet data (security errors).  secured: keep spi2 as
 * given; else an unsecured PoR (the command's keys were not trusted).
 */
static void
send_por_status(sim_card *c, uint8_t spi2, int secured, uint64_t counter,
				uint8_t status, const char *reply_to, int session)
{
	msc_ota_response rsp;
	msc_ota_keys k;
	uint8_t		pkt[256];
	size_t		len;
	msc_rc		rc;
	uint8_t		por = spi2 & MSC_SPI2_POR_MASK;

	if (por != MSC_SPI2_POR_ALWAYS && por != MSC_SPI2_POR_ON_ERROR)
	{
		sim_log("SIM %s: no PoR requested (SPI2 %02x): status %02x (%s) not sent",
				c->msisdn, spi2, status, msc_por_status_name(status));
		return;
	}
	if (!secured)
		spi2 &= (uint8_t) ~(MSC_SPI2_POR_CIPHER | MSC_SPI2_POR_INTEGRITY_MASK);
	memset(&rsp, 0, sizeof(rsp));
	memcpy(rsp.tar, c->tar, 3);
	rsp.counter = counter;
	rsp.status = status;
	rsp.data = NULL;
	rsp.data_len = 0;
	card_keys(c, &k);
	rc = msc_ota_build_response(spi2, &rsp, &k, pkt, sizeof(pkt), &len);
	if (rc != MSC_OK)
	{
		sim_log("SIM %s: cannot build PoR: %s", c->msisdn, msc_strerror(rc));
		return;
	}
	sim_log("SIM %s: PoR status %02x (%s)%s", c->msisdn, status, msc_por_status_name(status),
			secured ? "" : ", unsecured");
	sim_send_packet(c->msisdn, reply_to, pkt, len, session, 0);
}

static int
verify_sp_signature(sim_world *w, const uint8_t *tbs, size_t tbs_len,
					const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int			ok = 0;

	if (ctx &&
		EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, w->sp_pub) == 1 &&
		EVP_DigestVerify(ctx, sig, sig_len, tbs, tbs_len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

sim_action *
sim_card_receive(sim_world *w, sim_card *c, const uint8_t *pkt, size_t len,
				 const char *reply_to, int session, int *delay_ms)
{
	msc_ota_command hdr,
				cmd;
	msc_ota_keys k;
	msc_applet_request req;
	uint8_t    *work;
	const uint8_t *tbs;
	size_t		tbs_len;
	msc_rc		rc;
	uint8_t		spi2;
	uint8_t		utf8[2048];
	size_t		utf8_len = 0;
	char		shown[700];
	char		refhex[17];
	sim_action *a;
	sim_behaviour b;
	int			sp_ok;
	uint64_t	prev;

	rc = msc_ota_peek_command(pkt, len, &hdr);
	if (rc != MSC_OK)
	{
		sim_log("SIM %s: unreadable command packet (%s); ignored", c->msisdn, msc_strerror(rc));
		return NULL;
	}
	spi2 = hdr.spi[1];
	if (memcmp(hdr.tar, c->tar, 3) != 0)
	{
		sim_log("SIM %s: TAR %02x%02x%02x unknown", c->msisdn, hdr.tar[0], hdr.tar[1], hdr.tar[2]);
		send_por_status(c, spi2, 0, 0, MSC_POR_TAR_UNKNOWN, reply_to, session);
		return NULL;
	}
	if (MSC_OTA_KEYSET(hdr.kic) != c->key_set || MSC_OTA_KEYSET(hdr.kid) != c->key_set)
	{
		sim_log("SIM %s: key set KIc %02x KID %02x unknown", c->msisdn, hdr.kic, hdr.kid);
		send_por_status(c, spi2, 0, 0, MSC_POR_SECURITY_ERROR, reply_to, session);
		return NULL;
	}
	card_keys(c, &k);
	work = malloc(len + 16);
	if (!work)
		sim_die("out of memory");
	rc = msc_ota_parse_command(pkt, len, &k, c->tar, work, len + 16, &cmd);
	if (rc != MSC_OK)
	{
		uint8_t		st = MSC_POR_SECURITY_ERROR;

		if (rc == MSC_E_CC)
			st = MSC_POR_CC_FAILED;
		else if (rc == MSC_E_PADDING)
			st = MSC_POR_CIPHER_ERROR;
		else if (rc == MSC_E_TAR)
			st = MSC_POR_TAR_UNKNOWN;
		sim_log("SIM %s: command packet refused: %s", c->msisdn, msc_strerror(rc));
		send_por_status(c, spi2, 0, 0, st, reply_to, session);
		free(work);
		return NULL;
	}

	/* replay protection: process only if the counter is higher */
	prev = c->last_counter;
	if ((cmd.spi[0] & MSC_SPI1_COUNTER_MASK) == MSC_SPI1_COUNTER_HIGHER ||
		(cmd.spi[0] & MSC_SPI1_COUNTER_MASK) == MSC_SPI1_COUNTER_PLUS1)
	{
		int			low = c->has_counter && cmd.counter <= c->last_counter;
		int			high = (cmd.spi[0] & MSC_SPI1_COUNTER_MASK) == MSC_SPI1_COUNTER_PLUS1 &&
			c->has_counter && cmd.counter != c->last_counter + 1;

		if (low || high)
		{
			sim_log("SIM %s: counter %llu refused (last accepted %llu)", c->msisdn,
					(unsigned long long) cmd.counter, (unsigned long long) c->last_counter);
			send_por_status(c, spi2, 1, cmd.counter, low ? MSC_POR_CNTR_LOW : MSC_POR_CNTR_HIGH,
							reply_to, session);
			free(work);
			return NULL;
		}
	}
	else
		sim_log("SIM %s: warning: command without counter check (SPI1 %02x)", c->msisdn, cmd.spi[0]);

	/* the behaviour is chosen when the command arrives */
	sim_lookup_behaviour(c, &b, delay_ms);
	if (por_behaviour_status(b) != MSC_POR_OK)
	{
		/* an authentic command the SIM refuses: a secured PoR, at once */
		sim_log("SIM %s: behaviour %s: refusing counter %llu", c->msisdn, sim_behaviour_name(b),
				(unsigned long long) cmd.counter);
		send_por_status(c, spi2, 1, cmd.counter, por_behaviour_status(b), reply_to, session);
		free(work);
		return NULL;
	}
	if (b == B_FORGED_POR)
	{
		/*
		 * What an attacker can send with this MSISDN as originator: a PoR
		 * without a CC (status 01 "CC failed", the command's counter echoed
		 * in clear).  The real answer follows after the user's delay.
		 */
		sim_log("SIM %s: behaviour %s: a forged unsecured PoR first", c->msisdn,
				sim_behaviour_name(b));
		send_por_status(c, spi2, 0, cmd.counter, MSC_POR_CC_FAILED, reply_to, session);
	}
	c->last_counter = cmd.counter;
	c->has_counter = 1;
	sim_card_save_state(w, c);

	rc = msc_applet_request_decode(cmd.data, cmd.data_len, &req);
	if (rc != MSC_OK)
	{
		sim_log("SIM %s: applet request refused (%s); no answer", c->msisdn, msc_strerror(rc));
		free(work);
		return NULL;
	}
	sim_hex(req.reference, 8, refhex);
	rc = msc_applet_request_signed_part(cmd.data, cmd.data_len, &tbs, &tbs_len);
	sp_ok = (rc == MSC_OK) && verify_sp_signature(w, tbs, tbs_len, req.signature, req.signature_len);

	rc = msc_display_decode(req.display_coding, req.display, req.display_len, req.display_units,
							utf8, sizeof(utf8), &utf8_len);
	if (rc != MSC_OK)
	{
		sim_log("SIM %s: display text cannot be decoded (%s); answering SIM error",
				c->msisdn, msc_strerror(rc));
		utf8_len = 0;
	}
	log_text(shown, sizeof(shown), utf8, utf8_len);

	a = calloc(1, sizeof(*a));
	if (!a)
		sim_die("out of memory");
	a->card = c;
	a->spi2 = spi2;
	a->counter = cmd.counter;
	a->prev_counter = prev;
	memcpy(a->reference, req.reference, 8);
	a->operation = req.operation;
	sim_strlcpy(a->reply_to, reply_to, sizeof(a->reply_to));
	a->session = session;
	sim_strlcpy(a->vcode, req.vcode, sizeof(a->vcode));
	a->expiry = req.expiry;
	a->display = malloc(utf8_len + 1);
	if (!a->display)
		sim_die("out of memory");
	memcpy(a->display, utf8, utf8_len);
	a->display[utf8_len] = '\0';

	if (!sp_ok)
	{
		sim_log("SIM %s (%s): ref %s: service provider signature does NOT verify; refusing",
				c->msisdn, c->user, refhex);
		a->behaviour = B_COUNT;	/* answer "bad request signature" now */
		*delay_ms = 0;
		free(work);
		return a;
	}
	if (rc != MSC_OK)
	{
		a->behaviour = B_SIM_ERROR;
		*delay_ms = 0;
		free(work);
		return a;
	}

	/*
	 * what is signed: the challenge or the digest, or what is displayed (as
	 * UTF-8); a receipt signs nothing (its data is the signature's
	 * reference, kept for the log)
	 */
	if (req.operation == MSC_OP_AUTHENTICATE || req.operation == MSC_OP_SIGN_DIGEST ||
		req.operation == MSC_OP_RECEIPT)
	{
		a->content_len = req.data_len;
		a->content = malloc(req.data_len ? req.data_len : 1);
		if (!a->content)
			sim_die("out of memory");
		memcpy(a->content, req.data, req.data_len);
	}
	else
	{
		if (utf8_len != req.data_len || memcmp(utf8, req.data, utf8_len) != 0)
			sim_log("SIM %s: warning: the data to sign differs from the displayed text; "
					"signing what is displayed", c->msisdn);
		a->content_len = utf8_len;
		a->content = malloc(utf8_len ? utf8_len : 1);
		if (!a->content)
			sim_die("out of memory");
		memcpy(a->content, utf8, utf8_len);
	}
	a->behaviour = b;
	if (req.operation == MSC_OP_RECEIPT)
	{
		char		ofhex[17];

		sim_hex(req.data, MSC_APPLET_REF_LEN, ofhex);
		sim_log("SIM %s (%s): receipt ref %s is about the signature ref %s", c->msisdn, c->user,
				refhex, ofhex);
	}
	sim_log("SIM %s (%s): DISPLAY %s ref %s code %s expires in %llds: \"%s\" -> %s after %d ms",
			c->msisdn, c->user, sim_operation_name(req.operation),
			refhex, req.vcode, (long long) req.expiry - (long long) time(NULL), shown,
			sim_behaviour_name(b), *delay_ms);
	free(work);
	return a;
}

/* CMS SignedData per the contract: detached, SHA-256, signed attributes,
 * issuer and serial, no certificates. */
static int
cms_sign(EVP_PKEY *key, X509 *cert, const uint8_t *data, size_t len,
		 uint8_t **der, size_t *der_len)
{
	int			flags = CMS_DETACHED | CMS_BINARY | CMS_NOCERTS | CMS_PARTIAL | CMS_NOSMIMECAP;
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, (unsigned int) flags);
	BIO		   *in = NULL;
	unsigned char *out = NULL;
	int			n;

	if (!cms ||
		!CMS_add1_signer(cms, cert, key, EVP_sha256(), (unsigned int) flags))
		goto fail;
	in = BIO_new_mem_buf(data, (int) len);
	if (!in || CMS_final(cms, in, NULL, (unsigned int) flags) != 1)
		goto fail;
	n = i2d_CMS_ContentInfo(cms, &out);
	if (n <= 0)
		goto fail;
	*der = malloc((size_t) n);
	if (!*der)
		sim_die("out of memory");
	memcpy(*der, out, (size_t) n);
	*der_len = (size_t) n;
	OPENSSL_free(out);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return 0;
fail:
	{
		unsigned long e = ERR_get_error();
		char		buf[200];

		ERR_error_string_n(e, buf, sizeof(buf));
		sim_log("CMS signing failed: %s", buf);
	}
	ERR_clear_error();
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return -1;
}

/*
 * The raw signature of a digest (applet operation 3): RSA PKCS#1 v1.5 over
 * the DigestInfo of the hash the digest's length names, or ECDSA over the
 * digest as r || s, each the length of the curve's order (what Mobile-ID
 * returns).
 */
static int
digest_sign(EVP_PKEY *key, const uint8_t *digest, size_t len, uint8_t **sig, size_t *sig_len)
{
	const char *hash = msc_digest_hash_name(len);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	unsigned char *der = NULL;
	size_t		der_len = 0;
	int			is_ec = EVP_PKEY_is_a(key, "EC");
	int			rc = -1;

	*sig = NULL;
	if (!hash || !ctx || EVP_PKEY_sign_init(ctx) != 1)
		goto done;
	if (!is_ec &&
		(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
		 EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(hash)) != 1))
		goto done;
	if (EVP_PKEY_sign(ctx, NULL, &der_len, digest, len) != 1 ||
		!(der = malloc(der_len)) ||
		EVP_PKEY_sign(ctx, der, &der_len, digest, len) != 1)
		goto done;
	if (!is_ec)
	{
		*sig = der;
		*sig_len = der_len;
		der = NULL;
		rc = 0;
	}
	else
	{
		const unsigned char *p = der;
		ECDSA_SIG  *es = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
		int			half = (EVP_PKEY_get_bits(key) + 7) / 8;

		if (es && (*sig = malloc((size_t) half * 2)) &&
			BN_bn2binpad(ECDSA_SIG_get0_r(es), *sig, half) == half &&
			BN_bn2binpad(ECDSA_SIG_get0_s(es), *sig + half, half) == half)
		{
			*sig_len = (size_t) half * 2;
			rc = 0;
		}
		ECDSA_SIG_free(es);
	}
done:
	if (rc != 0)
	{
		char		buf[200];

		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		sim_log("digest signing failed: %s", buf);
		ERR_clear_error();
		free(*sig);
		*sig = NULL;
	}
	free(der);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

const char *
sim_operation_name(int operation)
{
	switch (operation)
	{
		case MSC_OP_AUTHENTICATE:
			return "authenticate";
		case MSC_OP_SIGN_DIGEST:
			return "sign-digest";
		case MSC_OP_RECEIPT:
			return "receipt";
		default:
			return "sign";
	}
}

static uint8_t
result_for(sim_behaviour b)
{
	switch (b)
	{
		case B_CANCEL:
			return MSC_RESULT_USER_CANCEL;
		case B_PIN_BLOCKED:
			return MSC_RESULT_PIN_BLOCKED;
		case B_CARD_BLOCKED:
			return MSC_RESULT_CARD_BLOCKED;
		case B_NO_KEY:
			return MSC_RESULT_NO_KEY;
		case B_SIM_ERROR:
			return MSC_RESULT_SIM_ERROR;
		case B_EXPIRED:
			return MSC_RESULT_EXPIRED;
		case B_COUNT:
			return MSC_RESULT_BAD_SIGNATURE;
		default:
			return MSC_RESULT_OK;
	}
}

/* Remember the answer for "replay". */
static void
remember(sim_card *c, const uint8_t *pkt, size_t len)
{
	free(c->last_answer);
	c->last_answer = malloc(len);
	if (!c->last_answer)
		sim_die("out of memory");
	memcpy(c->last_answer, pkt, len);
	c->last_answer_len = len;
}

void
sim_card_act(sim_world *w, sim_action *a)
{
	sim_card   *c = a->card;
	sim_behaviour b = a->behaviour;
	msc_applet_response ar;
	msc_ota_response rsp;
	msc_ota_keys k;
	uint8_t    *cms = NULL;
	size_t		cms_len = 0;
	uint8_t    *app;
	size_t		app_cap,
				app_len;
	uint8_t		pkt[SIM_PACKET_MAX];
	size_t		pkt_len;
	msc_rc		rc;
	uint64_t	counter = a->counter;
	uint8_t		result = result_for(b);
	char		refhex[17];

	sim_hex(a->reference, 8, refhex);
	switch (b)
	{
		case B_SILENT:
			sim_log("SIM %s: ref %s: silent (no answer)", c->msisdn, refhex);
			return;
		case B_ASK:
			/* only "run" has a phone (phone.c); offline nobody decides */
			sim_log("SIM %s: ref %s: ask: no phone here, nobody answers", c->msisdn, refhex);
			return;
		case B_GARBAGE:
			{
				uint8_t		ud[140];
				uint8_t		n;

				sim_random(&n, 1);
				n = (uint8_t) (24 + n % 110);
				sim_random(ud, n);
				ud[0] = 0x02;	/* looks like a response packet header */
				ud[1] = 0x71;
				ud[2] = 0x00;
				sim_log("SIM %s: ref %s: answering %u random bytes", c->msisdn, refhex, n);
				sim_send_ud(c->msisdn, a->reply_to, ud, n, a->session);
				return;
			}
		case B_REPLAY:
			if (c->last_answer)
			{
				sim_log("SIM %s: ref %s: re-sending the previous answer (%zu bytes)",
						c->msisdn, refhex, c->last_answer_len);
				sim_send_packet(c->msisdn, a->reply_to, c->last_answer, c->last_answer_len,
								a->session, 0);
				return;
			}
			sim_log("SIM %s: ref %s: no previous answer to replay; answering with an old counter",
					c->msisdn, refhex);
			/* FALLTHROUGH */
		case B_REPLAY_COUNTER:
			counter = a->prev_counter;
			break;
		default:
			break;
	}

	/*
	 * a receipt shown: acknowledged without a signature (the behaviours
	 * that alter a signature change nothing here); cancel, errors, silence
	 * and the packet-level behaviours apply as to any request
	 */
	if (result == MSC_RESULT_OK && a->operation == MSC_OP_RECEIPT)
		result = MSC_RESULT_SHOWN;
	if (result == MSC_RESULT_OK)
	{
		const uint8_t *content = a->content;
		size_t		content_len = a->content_len;
		uint8_t    *altered = NULL;
		EVP_PKEY   *ephemeral = NULL;
		X509	   *fake = NULL;
		EVP_PKEY   *key = c->key;
		X509	   *cert = c->cert;

		if (b == B_WRONG_CONTENT)
		{
			altered = malloc(content_len + 32);
			if (!altered)
				sim_die("out of memory");
			if (a->operation == MSC_OP_AUTHENTICATE)
			{
				sim_random(altered, content_len);
			}
			else if (a->operation == MSC_OP_SIGN_DIGEST)
			{
				/* another digest of the same length */
				memcpy(altered, content, content_len);
				altered[0] ^= 0x80;
			}
			else
			{
				memcpy(altered, content, content_len);
				memcpy(altered + content_len, " (altered)", 10);
				content_len += 10;
			}
			content = altered;
		}
		else if (b == B_WRONG_KEY)
		{
			int			idx = (int) (c - w->cards);

			if (w->ncards > 1)
			{
				sim_card   *other = &w->cards[(idx + 1) % w->ncards];

				key = other->key;
				cert = other->cert;
			}
			else
			{
				/*
				 * Only one SIM: a fresh key in a throwaway certificate with
				 * this user's issuer and serial (CMS_add1_signer wants a
				 * certificate that matches the key), so the SignerInfo
				 * names the user's certificate but another key signed.
				 */
				ephemeral = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
				fake = X509_new();
				if (!ephemeral || !fake ||
					!X509_set_issuer_name(fake, X509_get_issuer_name(c->cert)) ||
					!X509_set_subject_name(fake, X509_get_subject_name(c->cert)) ||
					!X509_set_serialNumber(fake, X509_get_serialNumber(c->cert)) ||
					!X509_gmtime_adj(X509_getm_notBefore(fake), -3600) ||
					!X509_gmtime_adj(X509_getm_notAfter(fake), 3600) ||
					!X509_set_pubkey(fake, ephemeral) ||
					!X509_sign(fake, ephemeral, EVP_sha256()))
					sim_ssl_die("wrong_key certificate");
				key = ephemeral;
				cert = fake;
			}
		}
		if (a->operation == MSC_OP_SIGN_DIGEST
			? digest_sign(key, content, content_len, &cms, &cms_len) != 0
			: cms_sign(key, cert, content, content_len, &cms, &cms_len) != 0)
			result = MSC_RESULT_SIM_ERROR;
		free(altered);
		EVP_PKEY_free(ephemeral);
		X509_free(fake);
	}

	memset(&ar, 0, sizeof(ar));
	ar.version = MSC_APPLET_VERSION;
	memcpy(ar.reference, a->reference, 8);
	if (b == B_WRONG_REF)
		ar.reference[7] ^= 0x5a;
	ar.result = result;
	ar.cms = result == MSC_RESULT_OK ? cms : NULL;
	ar.cms_len = result == MSC_RESULT_OK ? cms_len : 0;
	app_cap = cms_len + 64;
	app = malloc(app_cap);
	if (!app)
		sim_die("out of memory");
	rc = msc_applet_response_encode(&ar, app, app_cap, &app_len);
	if (rc != MSC_OK)
	{
		sim_log("SIM %s: cannot encode the applet response: %s", c->msisdn, msc_strerror(rc));
		goto done;
	}

	memset(&rsp, 0, sizeof(rsp));
	memcpy(rsp.tar, c->tar, 3);
	rsp.counter = counter;
	rsp.status = MSC_POR_OK;
	rsp.data = app;
	rsp.data_len = app_len;
	card_keys(c, &k);
	rc = msc_ota_build_response(a->spi2, &rsp, &k, pkt, sizeof(pkt), &pkt_len);
	if (rc != MSC_OK)
	{
		sim_log("SIM %s: cannot build the response packet: %s", c->msisdn, msc_strerror(rc));
		goto done;
	}
	if (b == B_BAD_CC)
		pkt[pkt_len - 1] ^= 0x01;	/* breaks the CC (or the deciphering) */

	sim_log("SIM %s: ref %s: answering %s (%s, %zu-byte %s), counter %llu%s", c->msisdn, refhex,
			msc_applet_result_name(result), sim_behaviour_name(b), result == MSC_RESULT_OK ? cms_len : 0,
			a->operation == MSC_OP_SIGN_DIGEST ? "signature" : "CMS", (unsigned long long) counter, b == B_DUPLICATE ? ", twice" : "");
	sim_send_packet(c->msisdn, a->reply_to, pkt, pkt_len, a->session,
					b == B_DUPLICATE ? SIM_SEND_TWICE : b == B_LOSE_SEGMENT ? SIM_SEND_LOSE_LAST
					: b == B_LOSE_FIRST_SEGMENT ? SIM_SEND_LOSE_FIRST
					: b == B_SPOOF_NEXT ? SIM_SEND_SPOOFED(2, 1)
					: b == B_SPOOF_AHEAD ? SIM_SEND_SPOOFED(2, 0)
					: b == B_SPOOF_REPEAT ? SIM_SEND_SPOOFED(1, 1)
					: b == B_SPOOF_LATE ? SIM_SEND_SPOOFED(2, 2) : 0);
	if (b != B_REPLAY && b != B_REPLAY_COUNTER)
	{
		remember(c, pkt, pkt_len);
		c->resp_counter = counter;
		sim_card_save_state(w, c);
	}
done:
	free(app);
	free(cms);
}
