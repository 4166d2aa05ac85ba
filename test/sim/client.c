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
 *
 *	Exit 0 when the outcome is the expected one (default: ok with a CMS that
 *	verifies over the challenge or the text), 1 otherwise.
 */
#include "sim.h"
#include "smpp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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
	int			timeout_ms = atoi(sim_arg(argc, argv, "--timeout-ms", "10000"));
	int			linger_ms = atoi(sim_arg(argc, argv, "--linger-ms", "0"));
	int			bad_sp = 0;
	sim_world	w;
	sim_card   *card;
	EVP_PKEY   *sp_key;
	msc_applet_request req;
	msc_display_text dt;
	uint8_t		challenge[32];
	uint8_t		req_buf[4096],
				sig[1024];
	size_t		req_len,
				sig_len = sizeof(sig);
	msc_ota_command cmd;
	msc_ota_keys keys;
	uint8_t		pkt[MSC_SMS_MAX_PACKET + 64];
	size_t		pkt_len;
	msc_sms_segment segs[MSC_SMS_MAX_SEGMENTS];
	size_t		nsegs,
				i;
	uint8_t		ref8;
	conn	   *c;
	struct sockaddr_in addr;
	bind_transceiver_t bt;
	uint8_t		out[SMPP_MAX_PDU + 1];
	size_t		out_len;
	smpp_hdr	h;
	int64_t		deadline;
	msc_sms_part parts[MSC_SMS_MAX_SEGMENTS];
	uint8_t    *part_data[MSC_SMS_MAX_SEGMENTS];
	size_t		nparts = 0;
	int			answers = 0;
	char		outcome[32] = "none";
	int			verified = -1;
	const uint8_t *content;
	size_t		content_len;
	char		refhex[17];
	char	   *p;
	FILE	   *f;
	msc_rc		rc;

	for (i = 2; i < (size_t) argc; i++)
		if (strcmp(argv[i], "--bad-sp-signature") == 0)
			bad_sp = 1;
	if (!dir)
		sim_die("client needs --dir DIR");
	sim_world_load(&w, dir);
	if (port_arg)
		w.port = atoi(port_arg);
	card = sim_world_find_user(&w, user);
	if (!card)
		sim_die("no SIM for %s", user);
	p = sim_path(w.dir, "sp/key.pem");
	f = fopen(p, "r");
	if (!f)
		sim_die("cannot open %s: %s", p, strerror(errno));
	sp_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	free(p);
	if (!sp_key)
		sim_ssl_die("service provider key");

	/* the applet request, as the worker builds it */
	memset(&req, 0, sizeof(req));
	req.version = MSC_APPLET_VERSION;
	sim_random(req.reference, sizeof(req.reference));
	sim_hex(req.reference, 8, refhex);
	if (strcmp(op, "sign") == 0)
	{
		if (!text)
			text = "Pay 100.00 EUR to ACME Oy";
		req.operation = MSC_OP_SIGN;
		content = (const uint8_t *) text;
		content_len = strlen(text);
	}
	else
	{
		if (!text)
			text = "Log in to the mobisign self-test?";
		req.operation = MSC_OP_AUTHENTICATE;
		sim_random(challenge, sizeof(challenge));
		content = challenge;
		content_len = sizeof(challenge);
	}
	req.data = content;
	req.data_len = content_len;
	rc = msc_display_encode((const uint8_t *) text, strlen(text), NULL, &dt);
	if (rc != MSC_OK)
		sim_die("display text refused: %s", msc_strerror(rc));
	msc_applet_request_set_display(&req, &dt);
	{
		uint8_t		r[2];

		sim_random(r, 2);
		snprintf(req.vcode, sizeof(req.vcode), "%04u", (unsigned) ((r[0] << 8 | r[1]) % 10000));
	}
	req.expiry = (uint32_t) time(NULL) + 120;
	rc = msc_applet_request_encode_unsigned(&req, req_buf, sizeof(req_buf), &req_len);
	if (rc != MSC_OK)
		sim_die("applet request: %s", msc_strerror(rc));
	sp_sign(sp_key, req_buf, req_len, sig, &sig_len);
	if (bad_sp)
		sig[sig_len / 2] ^= 0x01;
	rc = msc_applet_request_append_signature(req_buf, sizeof(req_buf), req_len, sig, sig_len, &req_len);
	if (rc != MSC_OK)
		sim_die("applet request signature: %s", msc_strerror(rc));

	/* the secured command packet */
	memset(&cmd, 0, sizeof(cmd));
	cmd.spi[0] = MSC_OTA_SPI1_DEFAULT;
	cmd.spi[1] = MSC_OTA_SPI2_DEFAULT;
	cmd.kic = MSC_OTA_KEYID(card->key_set);
	cmd.kid = MSC_OTA_KEYID(card->key_set);
	memcpy(cmd.tar, card->tar, 3);
	cmd.counter = counter_arg ? strtoull(counter_arg, NULL, 10) : card->last_counter + 1;
	cmd.data = req_buf;
	cmd.data_len = req_len;
	keys.kic = card->kic;
	keys.kic_len = 16;
	keys.kid = card->kid;
	keys.kid_len = 16;
	rc = msc_ota_build_command(&cmd, &keys, pkt, sizeof(pkt), &pkt_len);
	if (rc != MSC_OK)
		sim_die("command packet: %s", msc_strerror(rc));
	sim_random(&ref8, 1);
	rc = msc_sms_split(MSC_IEI_CMD_PACKET, ref8, pkt, pkt_len, segs, MSC_SMS_MAX_SEGMENTS, &nsegs);
	if (rc != MSC_OK)
		sim_die("segmentation: %s", msc_strerror(rc));
	printf("client: %s %s (%s) ref %s code %s counter %llu: %zu-octet request, %zu-octet packet, %zu SMS\n",
		   op, card->user, card->msisdn, refhex, req.vcode, (unsigned long long) cmd.counter,
		   req_len, pkt_len, nsegs);

	/* bind */
	c = calloc(1, sizeof(*c));
	if (!c)
		sim_die("out of memory");
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) w.port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *) &addr, sizeof(addr)) != 0)
		sim_die("cannot connect to 127.0.0.1:%d: %s", w.port, strerror(errno));
	memset(&bt, 0, sizeof(bt));
	bt.command_id = BIND_TRANSCEIVER;
	bt.sequence_number = next_seq(c);
	sim_strlcpy((char *) bt.system_id, w.system_id, sizeof(bt.system_id));
	sim_strlcpy((char *) bt.password, w.password, sizeof(bt.password));
	bt.interface_version = SMPP_VERSION;
	if (smpp_pack(BIND_TRANSCEIVER, &bt, out, sizeof(out), &out_len) != 0)
		sim_die("bind pack");
	send_all(c, out, out_len);
	deadline = sim_now_ms() + timeout_ms;
	if (read_pdu(c, out, &h, deadline) != 0 || h.id != BIND_TRANSCEIVER_RESP || h.status != 0)
		sim_die("bind_transceiver refused or unanswered");

	/* submit every segment */
	for (i = 0; i < nsegs; i++)
	{
		submit_sm_t sm;

		memset(&sm, 0, sizeof(sm));
		sm.command_id = SUBMIT_SM;
		sm.sequence_number = next_seq(c);
		sm.source_addr_ton = TON_Alphanumeric;
		sim_strlcpy((char *) sm.source_addr, "mobisign", sizeof(sm.source_addr));
		sm.dest_addr_ton = TON_International;
		sm.dest_addr_npi = NPI_ISDN_E163_E164;
		sim_strlcpy((char *) sm.destination_addr, card->msisdn, sizeof(sm.destination_addr));
		sm.esm_class = MSC_SMPP_ESM_CLASS_UDHI;
		sm.protocol_id = MSC_SMPP_PROTOCOL_ID;
		sm.data_coding = MSC_SMPP_DATA_CODING;
		sm.sm_length = (uint8_t) segs[i].len;
		memcpy(sm.short_message, segs[i].ud, segs[i].len);
		if (smpp_pack(SUBMIT_SM, &sm, out, sizeof(out), &out_len) != 0)
			sim_die("submit_sm pack");
		send_all(c, out, out_len);
	}

	/* responses and answers */
	deadline = sim_now_ms() + timeout_ms;
	for (;;)
	{
		uint8_t		resp[16];

		if (read_pdu(c, out, &h, deadline) != 0)
			break;
		if (h.id == SUBMIT_SM_RESP)
		{
			if (h.status != 0)
				printf("client: submit_sm_resp seq %u status 0x%02x\n", h.seq, h.status);
			continue;
		}
		if (h.id == ENQUIRE_LINK)
		{
			send_all(c, resp, smpp_header_only(resp, ENQUIRE_LINK_RESP, 0, h.seq));
			continue;
		}
		if (h.id != DELIVER_SM)
			continue;
		{
			deliver_sm_t d;
			msc_udh		udh;

			memset(&d, 0, sizeof(d));
			if (smpp_unpack(DELIVER_SM, &d, out, h.length) != 0)
				sim_die("deliver_sm does not unpack");
			destroy_tlv(d.tlv);
			send_all(c, resp, smpp_header_only(resp, DELIVER_SM_RESP, 0, h.seq));
			if (strcmp((char *) d.source_addr, card->msisdn) != 0 || d.esm_class != 0x40 ||
				d.protocol_id != 0x7F || d.data_coding != 0xF6)
			{
				printf("client: unexpected deliver_sm (from %s, esm_class %02x pid %02x dcs %02x)\n",
					   (char *) d.source_addr, d.esm_class, d.protocol_id, d.data_coding);
				continue;
			}
			if (msc_udh_parse(d.short_message, d.sm_length, &udh) != MSC_OK)
			{
				printf("client: deliver_sm with an unreadable UDH (garbage?)\n");
				snprintf(outcome, sizeof(outcome), "garbage");
				answers++;
				if (linger_ms <= 0)
					break;
				deadline = sim_now_ms() + linger_ms;
				continue;
			}
			part_data[nparts] = malloc(d.sm_length);
			if (!part_data[nparts])
				sim_die("out of memory");
			memcpy(part_data[nparts], d.short_message, d.sm_length);
			parts[nparts].ud = part_data[nparts];
			parts[nparts].len = d.sm_length;
			nparts++;
			if (!udh.has_concat || nparts == udh.concat_total)
			{
				uint8_t		rpkt[MSC_SMS_MAX_PACKET];
				uint8_t		work[MSC_SMS_MAX_PACKET + 16];
				size_t		rlen;
				uint8_t		iei;
				msc_ota_response rsp;
				msc_applet_response ar;

				rc = msc_sms_reassemble(parts, nparts, rpkt, sizeof(rpkt), &rlen, &iei);
				for (i = 0; i < nparts; i++)
					free(part_data[i]);
				nparts = 0;
				answers++;
				if (rc != MSC_OK || iei != MSC_IEI_RSP_PACKET)
				{
					printf("client: answer does not reassemble: %s\n", msc_strerror(rc));
					snprintf(outcome, sizeof(outcome), "garbage");
				}
				else if ((rc = msc_ota_parse_response(rpkt, rlen, cmd.spi[1], &keys, card->tar, work,
													  sizeof(work), &rsp)) != MSC_OK)
				{
					printf("client: response packet refused: %s\n", msc_strerror(rc));
					snprintf(outcome, sizeof(outcome), rc == MSC_E_UNSECURED ? "por-%02x" : "bad-packet",
							 rsp.status);
				}
				else if (rsp.status != MSC_POR_OK)
				{
					printf("client: PoR status %02x (%s)\n", rsp.status, msc_por_status_name(rsp.status));
					snprintf(outcome, sizeof(outcome), "por-%02x", rsp.status);
				}
				else if (rsp.counter != cmd.counter)
				{
					printf("client: response counter %llu is not the command's %llu\n",
						   (unsigned long long) rsp.counter, (unsigned long long) cmd.counter);
					snprintf(outcome, sizeof(outcome), "old-counter");
				}
				else if ((rc = msc_applet_response_decode(rsp.data, rsp.data_len, &ar)) != MSC_OK)
				{
					printf("client: applet response refused: %s\n", msc_strerror(rc));
					snprintf(outcome, sizeof(outcome), "bad-applet");
				}
				else if (memcmp(ar.reference, req.reference, 8) != 0)
				{
					printf("client: the transaction reference does not match\n");
					snprintf(outcome, sizeof(outcome), "wrong-ref");
				}
				else
				{
					const char *name = msc_applet_result_name(ar.result);
					char	   *q;

					sim_strlcpy(outcome, name, sizeof(outcome));
					for (q = outcome; *q; q++)
						if (*q == ' ')
							*q = '_';
					if (ar.result == MSC_RESULT_OK)
					{
						snprintf(outcome, sizeof(outcome), "ok");
						verified = verify_cms(&w, card, ar.cms, ar.cms_len, content, content_len);
						printf("client: result OK, %zu-octet CMS, %s\n", ar.cms_len,
							   verified == 0 ? "signature verifies over the expected content"
							   : "signature does NOT verify");
						if (verified != 0)
							snprintf(outcome, sizeof(outcome), "bad-signature");
					}
					else
						printf("client: result %u (%s)\n", ar.result, name);
				}
				if (linger_ms <= 0)
					break;
				deadline = sim_now_ms() + linger_ms;
			}
		}
	}
	printf("client: outcome %s, answers %d\n", outcome, answers);
	{
		uint8_t		u[16];

		send_all(c, u, smpp_header_only(u, UNBIND, 0, next_seq(c)));
	}
	close(c->fd);
	free(c);
	EVP_PKEY_free(sp_key);
	return strcmp(outcome, expect) == 0 ? 0 : 1;
}
