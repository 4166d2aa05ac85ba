/*
 * client.c
 *	  mobisign-sim client: an ESME that plays the server side once, for the
 *	  simulator's self-test.  It builds an applet request with the codec API
 *	  exactly as the background worker does (SP signature, display text,
 *	  TS 102 225 command packet, concatenated SMS), binds as a transceiver,
 *	  submits it, waits for the SIM's answer, reassembles and checks the
 *	  response packet, decodes the applet response and, on OK, verifies the
 *	  CMS SignedData against the test PKI and the expected content.
 *
 *	  mobisign-sim client --dir DIR --port P --user USER
 *	      [--op authenticate|sign] [--text TEXT] [--counter N]
 *	      [--expect ok|cancel|pin_blocked|...|none|por-XX]
 *	      [--bad-sp-signature] [--timeout-ms MS] [--linger-ms MS]
 *	  mobisign-sim client --dir DIR --port P --load N [--first K] [--window W]
 *	      [--binds B] [--counter C] [--timeout-ms MS]
 *	      the same for N SIMs at once (bench reference: the server's job
 *	      without a database); prints the rate and round-trip p50/p99
 *
 *	Exit 0 when the outcome is the expected one (default: ok with a CMS that
 *	verifies over the challenge or the text), 1 otherwise.
 */
#include "sim.h"
#include "smpp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "applet.h"
#include "gsm7.h"
#include "ota.h"
#include "sms.h"

/* --binds: sessions a load opens on the account (as mobisign.smsc.binds) */
#define MAX_LOAD_BINDS 10

typedef struct conn
{
	int			fd;
	uint8_t		buf[SMPP_MAX_PDU * 2];
	size_t		len;
	uint32_t	seq;
} conn;

static void
send_all(conn *c, const uint8_t *data, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			sim_die("send: %s", strerror(errno));
		}
		data += n;
		len -= (size_t) n;
	}
}

/* Next PDU into out (cap SMPP_MAX_PDU + 1); 0, or -1 on timeout. */
static int
read_pdu(conn *c, uint8_t *out, smpp_hdr *h, int64_t deadline)
{
	for (;;)
	{
		struct pollfd p;
		int64_t		wait;
		ssize_t		n;

		if (c->len >= SMPP_HEADER_LEN)
		{
			smpp_read_header(c->buf, h);
			if (h->length < SMPP_HEADER_LEN || h->length > SMPP_MAX_PDU)
				sim_die("server sent command_length %u", h->length);
			if (c->len >= h->length)
			{
				memcpy(out, c->buf, h->length);
				out[h->length] = '\0';
				memmove(c->buf, c->buf + h->length, c->len - h->length);
				c->len -= h->length;
				return 0;
			}
		}
		wait = deadline - sim_now_ms();
		if (wait <= 0)
			return -1;
		p.fd = c->fd;
		p.events = POLLIN;
		if (poll(&p, 1, (int) wait) <= 0)
			continue;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			sim_die("server closed the connection");
		c->len += (size_t) n;
	}
}

/* does c hold a whole PDU already? */
static int
has_pdu(conn *c)
{
	smpp_hdr	h;

	if (c->len < SMPP_HEADER_LEN)
		return 0;
	smpp_read_header(c->buf, &h);
	return h.length < SMPP_HEADER_LEN || h.length > SMPP_MAX_PDU || c->len >= h.length;
}

/*
 * The first of cs[0 .. n-1], from cs[from % n] on, that holds a whole PDU
 * (reading what has come on every readable one); NULL on timeout.
 */
static conn *
any_pdu(conn **cs, int n, int from, int64_t deadline)
{
	for (;;)
	{
		struct pollfd p[MAX_LOAD_BINDS];
		int64_t		wait;

		for (int i = 0; i < n; i++)
			if (has_pdu(cs[(from + i) % n]))
				return cs[(from + i) % n];
		wait = deadline - sim_now_ms();
		if (wait <= 0)
			return NULL;
		for (int i = 0; i < n; i++)
		{
			p[i].fd = cs[i]->fd;
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		if (poll(p, (nfds_t) n, (int) wait) <= 0)
			continue;
		for (int i = 0; i < n; i++)
		{
			ssize_t		r;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(cs[i]->fd, cs[i]->buf + cs[i]->len, sizeof(cs[i]->buf) - cs[i]->len);
			if (r <= 0)
				sim_die("server closed the connection");
			cs[i]->len += (size_t) r;
		}
	}
}

static uint32_t
next_seq(conn *c)
{
	return ++c->seq;
}

static void
sp_sign(EVP_PKEY *key, const uint8_t *tbs, size_t len, uint8_t *sig, size_t *sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t		n = *sig_len;

	if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
		EVP_DigestSign(ctx, sig, &n, tbs, len) != 1)
		sim_ssl_die("service provider signature");
	EVP_MD_CTX_free(ctx);
	*sig_len = n;
}

static X509 *
pem_cert(const char *dir, const char *rel)
{
	char	   *p = sim_path(dir, rel);
	FILE	   *f = fopen(p, "r");
	X509	   *c;

	if (!f)
		sim_die("cannot open %s: %s", p, strerror(errno));
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!c)
		sim_ssl_die(p);
	free(p);
	return c;
}

/*
 * Verify the answer's CMS as the server must: detached over content, signer
 * by issuer and serial, no certificates inside, SHA-256, signed attributes,
 * chain to the test root.  Returns 0 when all holds.
 */
static int
verify_cms(sim_world *w, sim_card *card, const uint8_t *der, size_t der_len,
		   const uint8_t *content, size_t content_len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long) der_len);
	STACK_OF(CMS_SignerInfo) *sis;
	CMS_SignerInfo *si;
	STACK_OF(X509) *embedded,
			   *certs = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	X509	   *root = pem_cert(w->dir, "ca/root.pem");
	X509	   *iss = pem_cert(w->dir, "ca/issuing.pem");
	BIO		   *data = BIO_new_mem_buf(content, (int) content_len);
	ASN1_OCTET_STRING *keyid = NULL;
	X509_NAME  *issuer = NULL;
	ASN1_INTEGER *serial = NULL;
	X509_ALGOR *dig = NULL;
	int			ok = -1;

	if (!cms || p != der + der_len)
	{
		printf("client: the CMS does not parse (or has trailing bytes)\n");
		goto out;
	}
	embedded = CMS_get1_certs(cms);
	if (embedded && sk_X509_num(embedded) > 0)
	{
		printf("client: the CMS carries %d certificate(s); the contract says none\n", sk_X509_num(embedded));
		sk_X509_pop_free(embedded, X509_free);
		goto out;
	}
	sk_X509_pop_free(embedded, X509_free);
	if (CMS_get0_content(cms) && *CMS_get0_content(cms))
	{
		printf("client: the CMS is not detached\n");
		goto out;
	}
	sis = CMS_get0_SignerInfos(cms);
	if (!sis || sk_CMS_SignerInfo_num(sis) != 1)
	{
		printf("client: expected exactly one SignerInfo\n");
		goto out;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);
	if (CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &serial) != 1 || keyid || !issuer || !serial)
	{
		printf("client: the signer is not identified by issuer and serial number\n");
		goto out;
	}
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	if (!dig || OBJ_obj2nid(dig->algorithm) != NID_sha256)
	{
		printf("client: the digest algorithm is not SHA-256\n");
		goto out;
	}
	if (CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1) < 0 ||
		CMS_signed_get_attr_by_NID(si, NID_pkcs9_messageDigest, -1) < 0 ||
		CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) < 0)
	{
		printf("client: contentType, messageDigest or signingTime attribute missing\n");
		goto out;
	}
	if (X509_NAME_cmp(issuer, X509_get_issuer_name(card->cert)) != 0 ||
		ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(card->cert)) != 0)
	{
		printf("client: the signer is not %s's certificate\n", card->user);
		goto out;
	}
	if (!certs || !store || !data || !sk_X509_push(certs, card->cert) || !sk_X509_push(certs, iss) ||
		!X509_STORE_add_cert(store, root) || !X509_STORE_add_cert(store, iss))
		sim_ssl_die("verification setup");
	/*
	 * CMS_verify builds the chain from the store and the certificates inside
	 * the CMS only (not from "certs"), so the issuing CA goes into the store;
	 * without X509_V_FLAG_PARTIAL_CHAIN the chain must still reach the root.
	 */
	if (CMS_verify(cms, certs, store, data, NULL, CMS_BINARY) != 1)
	{
		unsigned long e;
		char		buf[256];
		const char *file,
				   *fdata;
		int			line,
					eflags;

		while ((e = ERR_get_error_all(&file, &line, NULL, &fdata, &eflags)) != 0)
		{
			ERR_error_string_n(e, buf, sizeof(buf));
			printf("client: CMS_verify failed: %s%s%s\n", buf,
				   (eflags & ERR_TXT_STRING) ? ": " : "", (eflags & ERR_TXT_STRING) ? fdata : "");
		}
		goto out;
	}
	ok = 0;
out:
	ERR_clear_error();
	sk_X509_free(certs);
	X509_STORE_free(store);
	X509_free(root);
	X509_free(iss);
	BIO_free(data);
	CMS_ContentInfo_free(cms);
	return ok;
}

/* load mode: no line per answer */
static int	quiet = 0;

/* One request as the server builds it, and the answer it is waiting for. */
typedef struct creq
{
	sim_card   *card;
	msc_applet_request req;
	msc_display_text dt;
	uint8_t		challenge[32];
	const uint8_t *content;
	size_t		content_len;
	uint8_t		req_buf[4096];
	size_t		req_len;
	msc_ota_command cmd;
	msc_ota_keys keys;
	uint8_t		pkt[MSC_SMS_MAX_PACKET + 64];
	size_t		pkt_len;
	msc_sms_segment segs[MSC_SMS_MAX_SEGMENTS];
	size_t		nsegs;
	msc_sms_part parts[MSC_SMS_MAX_SEGMENTS];
	uint8_t    *part_data[MSC_SMS_MAX_SEGMENTS];
	size_t		nparts;
	char		refhex[17];
	int64_t		sent_ms;		/* when its first submit_sm went out */
} creq;

/*
 * Build the applet request, its SP signature, the secured command packet
 * and its SMS segments for card, exactly as the server does.
 */
static void
build_request(creq *r, sim_card *card, EVP_PKEY *sp_key, const char *op, const char *text,
			  uint64_t counter, int bad_sp)
{
	uint8_t		sig[1024];
	size_t		sig_len = sizeof(sig);
	uint8_t		ref8;
	msc_rc		rc;

	memset(r, 0, sizeof(*r));
	r->card = card;
	r->req.version = MSC_APPLET_VERSION;
	sim_random(r->req.reference, sizeof(r->req.reference));
	sim_hex(r->req.reference, 8, r->refhex);
	if (strcmp(op, "sign") == 0)
	{
		if (!text)
			text = "Pay 100.00 EUR to ACME Oy";
		r->req.operation = MSC_OP_SIGN;
		r->content = (const uint8_t *) text;
		r->content_len = strlen(text);
	}
	else
	{
		if (!text)
			text = "Log in to the mobisign self-test?";
		r->req.operation = MSC_OP_AUTHENTICATE;
		sim_random(r->challenge, sizeof(r->challenge));
		r->content = r->challenge;
		r->content_len = sizeof(r->challenge);
	}
	r->req.data = r->content;
	r->req.data_len = r->content_len;
	rc = msc_display_encode((const uint8_t *) text, strlen(text), NULL, &r->dt);
	if (rc != MSC_OK)
		sim_die("display text refused: %s", msc_strerror(rc));
	msc_applet_request_set_display(&r->req, &r->dt);
	{
		uint8_t		rnd[2];

		sim_random(rnd, 2);
		snprintf(r->req.vcode, sizeof(r->req.vcode), "%04u", (unsigned) ((rnd[0] << 8 | rnd[1]) % 10000));
	}
	r->req.expiry = (uint32_t) time(NULL) + 120;
	rc = msc_applet_request_encode_unsigned(&r->req, r->req_buf, sizeof(r->req_buf), &r->req_len);
	if (rc != MSC_OK)
		sim_die("applet request: %s", msc_strerror(rc));
	sp_sign(sp_key, r->req_buf, r->req_len, sig, &sig_len);
	if (bad_sp)
		sig[sig_len / 2] ^= 0x01;
	rc = msc_applet_request_append_signature(r->req_buf, sizeof(r->req_buf), r->req_len, sig, sig_len,
											 &r->req_len);
	if (rc != MSC_OK)
		sim_die("applet request signature: %s", msc_strerror(rc));

	/* the secured command packet */
	r->cmd.spi[0] = MSC_OTA_SPI1_DEFAULT;
	r->cmd.spi[1] = MSC_OTA_SPI2_DEFAULT;
	r->cmd.kic = MSC_OTA_KEYID(card->key_set);
	r->cmd.kid = MSC_OTA_KEYID(card->key_set);
	memcpy(r->cmd.tar, card->tar, 3);
	r->cmd.counter = counter;
	r->cmd.data = r->req_buf;
	r->cmd.data_len = r->req_len;
	r->keys.kic = card->kic;
	r->keys.kic_len = 16;
	r->keys.kid = card->kid;
	r->keys.kid_len = 16;
	rc = msc_ota_build_command(&r->cmd, &r->keys, r->pkt, sizeof(r->pkt), &r->pkt_len);
	if (rc != MSC_OK)
		sim_die("command packet: %s", msc_strerror(rc));
	sim_random(&ref8, 1);
	rc = msc_sms_split(MSC_IEI_CMD_PACKET, ref8, r->pkt, r->pkt_len, r->segs, MSC_SMS_MAX_SEGMENTS,
					   &r->nsegs);
	if (rc != MSC_OK)
		sim_die("segmentation: %s", msc_strerror(rc));
}

static conn *
bind_transceiver(sim_world *w, int timeout_ms)
{
	conn	   *c = calloc(1, sizeof(*c));
	struct sockaddr_in addr;
	bind_transceiver_t bt;
	uint8_t		out[SMPP_MAX_PDU + 1];
	size_t		out_len;
	smpp_hdr	h;

	if (!c)
		sim_die("out of memory");
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) w->port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *) &addr, sizeof(addr)) != 0)
		sim_die("cannot connect to 127.0.0.1:%d: %s", w->port, strerror(errno));
	/* as the worker: each submit_sm goes out at once (no Nagle delay) */
	{
		int			one = 1;

		(void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	memset(&bt, 0, sizeof(bt));
	bt.command_id = BIND_TRANSCEIVER;
	bt.sequence_number = next_seq(c);
	sim_strlcpy((char *) bt.system_id, w->system_id, sizeof(bt.system_id));
	sim_strlcpy((char *) bt.password, w->password, sizeof(bt.password));
	bt.interface_version = SMPP_VERSION;
	if (smpp_pack(BIND_TRANSCEIVER, &bt, out, sizeof(out), &out_len) != 0)
		sim_die("bind pack");
	send_all(c, out, out_len);
	if (read_pdu(c, out, &h, sim_now_ms() + timeout_ms) != 0 || h.id != BIND_TRANSCEIVER_RESP ||
		h.status != 0)
		sim_die("bind_transceiver refused or unanswered");
	return c;
}

/* every segment of r as one submit_sm */
static void
submit_request(conn *c, creq *r)
{
	uint8_t		out[SMPP_MAX_PDU + 1];
	size_t		out_len;

	r->sent_ms = sim_now_ms();
	for (size_t i = 0; i < r->nsegs; i++)
	{
		submit_sm_t sm;

		memset(&sm, 0, sizeof(sm));
		sm.command_id = SUBMIT_SM;
		sm.sequence_number = next_seq(c);
		sm.source_addr_ton = TON_Alphanumeric;
		sim_strlcpy((char *) sm.source_addr, "mobisign", sizeof(sm.source_addr));
		sm.dest_addr_ton = TON_International;
		sm.dest_addr_npi = NPI_ISDN_E163_E164;
		sim_strlcpy((char *) sm.destination_addr, r->card->msisdn, sizeof(sm.destination_addr));
		sm.esm_class = MSC_SMPP_ESM_CLASS_UDHI;
		sm.protocol_id = MSC_SMPP_PROTOCOL_ID;
		sm.data_coding = MSC_SMPP_DATA_CODING;
		sm.sm_length = (uint8_t) r->segs[i].len;
		memcpy(sm.short_message, r->segs[i].ud, r->segs[i].len);
		if (smpp_pack(SUBMIT_SM, &sm, out, sizeof(out), &out_len) != 0)
			sim_die("submit_sm pack");
		send_all(c, out, out_len);
	}
}

/*
 * One deliver_sm (user data ud) of r's answer.  Returns 0 while the answer
 * is incomplete; 1 once it is complete (or unreadable), its outcome in
 * outcome: "ok" when it verifies over the expected content.
 */
static int
take_segment(sim_world *w, creq *r, const uint8_t *ud, size_t ud_len, char *outcome, size_t outcome_len)
{
	msc_udh		udh;
	uint8_t		rpkt[MSC_SMS_MAX_PACKET];
	uint8_t		work[MSC_SMS_MAX_PACKET + 16];
	size_t		rlen;
	uint8_t		iei;
	msc_ota_response rsp;
	msc_applet_response ar;
	msc_rc		rc;

	if (msc_udh_parse(ud, ud_len, &udh) != MSC_OK)
	{
		printf("client: deliver_sm with an unreadable UDH (garbage?)\n");
		snprintf(outcome, outcome_len, "garbage");
		return 1;
	}
	if (r->nparts >= MSC_SMS_MAX_SEGMENTS)
		sim_die("more segments than an answer has");
	r->part_data[r->nparts] = malloc(ud_len);
	if (!r->part_data[r->nparts])
		sim_die("out of memory");
	memcpy(r->part_data[r->nparts], ud, ud_len);
	r->parts[r->nparts].ud = r->part_data[r->nparts];
	r->parts[r->nparts].len = ud_len;
	r->nparts++;
	if (udh.has_concat && r->nparts != udh.concat_total)
		return 0;

	rc = msc_sms_reassemble(r->parts, r->nparts, rpkt, sizeof(rpkt), &rlen, &iei);
	for (size_t i = 0; i < r->nparts; i++)
		free(r->part_data[i]);
	r->nparts = 0;
	if (rc != MSC_OK || iei != MSC_IEI_RSP_PACKET)
	{
		printf("client: answer does not reassemble: %s\n", msc_strerror(rc));
		snprintf(outcome, outcome_len, "garbage");
	}
	else if ((rc = msc_ota_parse_response(rpkt, rlen, r->cmd.spi[1], &r->keys, r->card->tar, work,
										  sizeof(work), &rsp)) != MSC_OK)
	{
		printf("client: response packet refused: %s\n", msc_strerror(rc));
		snprintf(outcome, outcome_len, rc == MSC_E_UNSECURED ? "por-%02x" : "bad-packet", rsp.status);
	}
	else if (rsp.status != MSC_POR_OK)
	{
		printf("client: PoR status %02x (%s)\n", rsp.status, msc_por_status_name(rsp.status));
		snprintf(outcome, outcome_len, "por-%02x", rsp.status);
	}
	else if (rsp.counter != r->cmd.counter)
	{
		printf("client: response counter %llu is not the command's %llu\n",
			   (unsigned long long) rsp.counter, (unsigned long long) r->cmd.counter);
		snprintf(outcome, outcome_len, "old-counter");
	}
	else if ((rc = msc_applet_response_decode(rsp.data, rsp.data_len, &ar)) != MSC_OK)
	{
		printf("client: applet response refused: %s\n", msc_strerror(rc));
		snprintf(outcome, outcome_len, "bad-applet");
	}
	else if (memcmp(ar.reference, r->req.reference, 8) != 0)
	{
		printf("client: the transaction reference does not match\n");
		snprintf(outcome, outcome_len, "wrong-ref");
	}
	else if (ar.result == MSC_RESULT_OK)
	{
		int			verified = verify_cms(w, r->card, ar.cms, ar.cms_len, r->content, r->content_len);

		if (!quiet)
			printf("client: result OK, %zu-octet CMS, %s\n", ar.cms_len,
				   verified == 0 ? "signature verifies over the expected content"
				   : "signature does NOT verify");
		snprintf(outcome, outcome_len, verified == 0 ? "ok" : "bad-signature");
	}
	else
	{
		const char *name = msc_applet_result_name(ar.result);

		sim_strlcpy(outcome, name, outcome_len);
		for (char *q = outcome; *q; q++)
			if (*q == ' ')
				*q = '_';
		printf("client: result %u (%s)\n", ar.result, name);
	}
	return 1;
}

/*
 * Read one PDU and act on it: answer enquire_link and deliver_sm; a
 * deliver_sm's source and user data go to *msisdn / ud (returns 1), other
 * PDUs return 0, a timeout -1.
 */
static int
next_deliver(conn *c, int64_t deadline, char *msisdn, size_t msisdn_len, uint8_t *ud, size_t *ud_len)
{
	uint8_t		out[SMPP_MAX_PDU + 1];
	uint8_t		resp[16];
	smpp_hdr	h;
	deliver_sm_t d;

	if (read_pdu(c, out, &h, deadline) != 0)
		return -1;
	if (h.id == SUBMIT_SM_RESP)
	{
		if (h.status != 0)
			printf("client: submit_sm_resp seq %u status 0x%02x\n", h.seq, h.status);
		return 0;
	}
	if (h.id == ENQUIRE_LINK)
	{
		send_all(c, resp, smpp_header_only(resp, ENQUIRE_LINK_RESP, 0, h.seq));
		return 0;
	}
	if (h.id != DELIVER_SM)
		return 0;
	memset(&d, 0, sizeof(d));
	if (smpp_unpack(DELIVER_SM, &d, out, h.length) != 0)
		sim_die("deliver_sm does not unpack");
	destroy_tlv(d.tlv);
	send_all(c, resp, smpp_header_only(resp, DELIVER_SM_RESP, 0, h.seq));
	if (d.esm_class != 0x40 || d.protocol_id != 0x7F || d.data_coding != 0xF6)
	{
		printf("client: unexpected deliver_sm (from %s, esm_class %02x pid %02x dcs %02x)\n",
			   (char *) d.source_addr, d.esm_class, d.protocol_id, d.data_coding);
		return 0;
	}
	sim_strlcpy(msisdn, (char *) d.source_addr, msisdn_len);
	memcpy(ud, d.short_message, d.sm_length);
	*ud_len = d.sm_length;
	return 1;
}

static void
unbind_close(conn *c)
{
	uint8_t		u[16];

	send_all(c, u, smpp_header_only(u, UNBIND, 0, next_seq(c)));
	close(c->fd);
	free(c);
}

static EVP_PKEY *
load_sp_key(sim_world *w)
{
	char	   *p = sim_path(w->dir, "sp/key.pem");
	FILE	   *f = fopen(p, "r");
	EVP_PKEY   *k;

	if (!f)
		sim_die("cannot open %s: %s", p, strerror(errno));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	free(p);
	if (!k)
		sim_ssl_die("service provider key");
	return k;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a,
				y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/*
 * --load N: the server's whole job without a database, for N SIMs (cards
 * --first .. --first + N - 1 of the world) at once over --binds B sessions
 * (default 1; request i goes on session i mod B, and the simulator answers
 * on the session that submitted), at most --window requests in flight in
 * all: build, submit, reassemble, check, verify.  Prints the rate and the
 * round trip (first submit_sm -> last answer segment) p50/p99; exits 0 when
 * every one verified.
 */
static int
run_load(sim_world *w, EVP_PKEY *sp_key, int n, int first, int window, int binds,
		 uint64_t counter, int timeout_ms)
{
	creq	  **fly = calloc((size_t) (window < 1 ? 1 : window), sizeof(creq *));
	int64_t    *rtt = calloc((size_t) n, sizeof(int64_t));
	conn	   *cs[MAX_LOAD_BINDS];
	conn	   *c;
	int			turn = 0;
	int			next = 0,
				done = 0,
				ok = 0,
				inflight = 0;
	int64_t		t0,
				t1,
				deadline;

	if (!fly || !rtt)
		sim_die("out of memory");
	if (window < 1)
		window = 1;
	if (first < 0 || n < 1 || first + n > w->ncards)
		sim_die("--load %d --first %d: the world has %d SIMs", n, first, w->ncards);
	if (binds < 1 || binds > MAX_LOAD_BINDS)
		sim_die("--binds %d: 1 to %d", binds, MAX_LOAD_BINDS);
	quiet = 1;
	for (int b = 0; b < binds; b++)
		cs[b] = bind_transceiver(w, timeout_ms);
	t0 = sim_now_ms();
	deadline = t0 + timeout_ms;
	while (done < n)
	{
		char		msisdn[32];
		uint8_t		ud[256];
		size_t		ud_len;
		int			got;

		/* keep the window full */
		for (int k = 0; k < window && next < n; k++)
		{
			if (fly[k] != NULL)
				continue;
			fly[k] = malloc(sizeof(creq));
			if (!fly[k])
				sim_die("out of memory");
			build_request(fly[k], &w->cards[first + next], sp_key, "authenticate", NULL, counter, 0);
			submit_request(cs[next % binds], fly[k]);
			next++;
			inflight++;
		}
		c = any_pdu(cs, binds, turn++, deadline);
		got = c ? next_deliver(c, deadline, msisdn, sizeof(msisdn), ud, &ud_len) : -1;
		if (got < 0)
		{
			printf("load: timed out with %d of %d answered\n", done, n);
			break;
		}
		if (got == 0)
			continue;
		for (int k = 0; k < window; k++)
		{
			char		outcome[32];

			if (fly[k] == NULL || strcmp(fly[k]->card->msisdn, msisdn) != 0)
				continue;
			if (take_segment(w, fly[k], ud, ud_len, outcome, sizeof(outcome)))
			{
				rtt[done++] = sim_now_ms() - fly[k]->sent_ms;
				if (strcmp(outcome, "ok") == 0)
					ok++;
				else
					printf("load: %s answered %s\n", fly[k]->card->user, outcome);
				free(fly[k]);
				fly[k] = NULL;
				inflight--;
			}
			break;
		}
	}
	t1 = sim_now_ms();
	for (int b = 0; b < binds; b++)
		unbind_close(cs[b]);
	qsort(rtt, (size_t) done, sizeof(int64_t), cmp_int64);
	printf("load: %d of %d verified in %lld ms: %.1f/s, window %d, %d bind(s), round trip p50 %lld ms p99 %lld ms\n",
		   ok, n, (long long) (t1 - t0), done > 0 ? ok * 1000.0 / (double) (t1 > t0 ? t1 - t0 : 1) : 0.0,
		   window, binds, done > 0 ? (long long) rtt[done / 2] : -1LL,
		   done > 0 ? (long long) rtt[(done * 99) / 100 < done ? (done * 99) / 100 : done - 1] : -1LL);
	for (int k = 0; k < window; k++)
		free(fly[k]);
	free(fly);
	free(rtt);
	return ok == n ? 0 : 1;
}

int
sim_cmd_client(int argc, char **argv)
{
	const char *dir = sim_arg(argc, argv, "--dir", NULL);
	const char *port_arg = sim_arg(argc, argv, "--port", NULL);
	const char *user = sim_arg(argc, argv, "--user", "user0001");
	const char *op = sim_arg(argc, argv, "--op", "authenticate");
	const char *text = sim_arg(argc, argv, "--text", NULL);
	const char *expect = sim_arg(argc, argv, "--expect", "ok");
	const char *counter_arg = sim_arg(argc, argv, "--counter", NULL);
	const char *load_arg = sim_arg(argc, argv, "--load", NULL);
	int			timeout_ms = atoi(sim_arg(argc, argv, "--timeout-ms", "10000"));
	int			linger_ms = atoi(sim_arg(argc, argv, "--linger-ms", "0"));
	int			bad_sp = 0;
	sim_world	w;
	sim_card   *card;
	EVP_PKEY   *sp_key;
	creq	   *r;
	conn	   *c;
	int64_t		deadline;
	int			answers = 0;
	char		outcome[32] = "none";
	int			rc;

	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--bad-sp-signature") == 0)
			bad_sp = 1;
	if (!dir)
		sim_die("client needs --dir DIR");
	sim_world_load(&w, dir);
	if (port_arg)
		w.port = atoi(port_arg);
	sp_key = load_sp_key(&w);
	if (load_arg)
	{
		rc = run_load(&w, sp_key, atoi(load_arg), atoi(sim_arg(argc, argv, "--first", "0")),
					  atoi(sim_arg(argc, argv, "--window", "50")),
					  atoi(sim_arg(argc, argv, "--binds", "1")),
					  counter_arg ? strtoull(counter_arg, NULL, 10) : 1000000, timeout_ms);
		EVP_PKEY_free(sp_key);
		return rc;
	}
	card = sim_world_find_user(&w, user);
	if (!card)
		sim_die("no SIM for %s", user);

	r = malloc(sizeof(creq));
	if (!r)
		sim_die("out of memory");
	build_request(r, card, sp_key, op, text,
				  counter_arg ? strtoull(counter_arg, NULL, 10) : card->last_counter + 1, bad_sp);
	printf("client: %s %s (%s) ref %s code %s counter %llu: %zu-octet request, %zu-octet packet, %zu SMS\n",
		   op, card->user, card->msisdn, r->refhex, r->req.vcode, (unsigned long long) r->cmd.counter,
		   r->req_len, r->pkt_len, r->nsegs);

	c = bind_transceiver(&w, timeout_ms);
	submit_request(c, r);

	/* responses and answers */
	deadline = sim_now_ms() + timeout_ms;
	for (;;)
	{
		char		msisdn[32];
		uint8_t		ud[256];
		size_t		ud_len;
		int			got = next_deliver(c, deadline, msisdn, sizeof(msisdn), ud, &ud_len);

		if (got < 0)
			break;
		if (got == 0)
			continue;
		if (strcmp(msisdn, card->msisdn) != 0)
		{
			printf("client: unexpected deliver_sm (from %s)\n", msisdn);
			continue;
		}
		if (!take_segment(&w, r, ud, ud_len, outcome, sizeof(outcome)))
			continue;
		answers++;
		if (linger_ms <= 0)
			break;
		deadline = sim_now_ms() + linger_ms;
	}
	printf("client: outcome %s, answers %d\n", outcome, answers);
	unbind_close(c);
	free(r);
	EVP_PKEY_free(sp_key);
	return strcmp(outcome, expect) == 0 ? 0 : 1;
}
