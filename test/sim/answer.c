/*
 * answer.c
 *	  mobisign-sim answer: one SIM answers one request, offline.
 *
 *	  mobisign-sim answer --dir DIR --msisdn MSISDN --request HEX[,HEX...]
 *	      [--behaviour B] [--last-counter N]
 *
 *	The request is the SMS user data (UDH included) of a command, one hex
 *	string per segment, comma-separated: what mobisign queues in
 *	mobisign.request_queue.segments.  The SIM of MSISDN (from the provisioned
 *	DIR) handles it exactly as when it arrives through the SMSC (card.c:
 *	TAR, keys, CC, counter, applet request, service provider's signature,
 *	display text) and answers per the behaviour (default sign); the answer's
 *	SMS are printed on stdout instead of being delivered, as one JSON array
 *	of {"concat_ref", "total", "seq", "user_data"} (concat_ref null for a
 *	single SMS; user_data in hex, UDH included): the rows the worker would
 *	store in mobisign.inbound_segment.  "[]" when the SIM stays silent.
 *
 *	Invariants: nothing is written to DIR (the SIM's counter state is
 *	neither read nor saved: the SIM has accepted no counter before, or
 *	N with --last-counter); no network; exit 0 whenever the SIM handled the
 *	request (even to refuse it), 2 on bad arguments or input.
 */
#include "sim.h"

#include "sms.h"

/* set while answering offline: server.c prints instead of delivering */
FILE	   *sim_answer_out = NULL;
int			sim_behaviour_override = -1;
int			sim_stateless = 0;

static int	printed = 0;

/* Print one SMS of the answer as a JSON object (called by server.c). */
void
sim_answer_print_ud(const uint8_t *ud, size_t len)
{
	msc_udh		udh;
	char	   *hex = malloc(2 * len + 1);

	if (!hex)
		sim_die("out of memory");
	sim_hex(ud, len, hex);
	if (msc_udh_parse(ud, len, &udh) != MSC_OK)
		memset(&udh, 0, sizeof(udh));
	fprintf(sim_answer_out, "%s", printed++ ? ", " : "");
	if (udh.has_concat)
		fprintf(sim_answer_out, "{\"concat_ref\": %d, \"total\": %u, \"seq\": %u, \"user_data\": \"%s\"}",
				(int) msc_udh_concat_key(&udh), udh.concat_total, udh.concat_seq, hex);
	else
		fprintf(sim_answer_out, "{\"concat_ref\": null, \"total\": 1, \"seq\": 1, \"user_data\": \"%s\"}",
				hex);
	free(hex);
}

int
sim_cmd_answer(int argc, char **argv)
{
	const char *dir = sim_arg(argc, argv, "--dir", NULL);
	const char *msisdn = sim_arg(argc, argv, "--msisdn", NULL);
	const char *request = sim_arg(argc, argv, "--request", NULL);
	const char *behaviour = sim_arg(argc, argv, "--behaviour", "sign");
	const char *last = sim_arg(argc, argv, "--last-counter", NULL);
	msc_sms_part parts[MSC_SMS_MAX_SEGMENTS];
	uint8_t    *bufs[MSC_SMS_MAX_SEGMENTS];
	size_t		nparts = 0,
				plen,
				i;
	uint8_t		pkt[MSC_SMS_MAX_PACKET + 64];
	uint8_t		iei;
	sim_world	w;
	sim_card   *c;
	sim_action *a;
	int			delay = 0;
	int			b;
	char	   *copy,
			   *tok,
			   *save = NULL;

	if (!dir || !msisdn || !request)
	{
		fprintf(stderr, "usage: mobisign-sim answer --dir DIR --msisdn MSISDN --request HEX[,HEX...]"
				" [--behaviour B] [--last-counter N]\n");
		return 2;
	}
	b = sim_behaviour_parse(behaviour);
	if (b < 0)
	{
		fprintf(stderr, "mobisign-sim answer: unknown behaviour \"%s\"\n", behaviour);
		return 2;
	}
	copy = strdup(request);
	if (!copy)
		sim_die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		size_t		len;

		if (nparts == MSC_SMS_MAX_SEGMENTS)
		{
			fprintf(stderr, "mobisign-sim answer: more than %d segments\n", MSC_SMS_MAX_SEGMENTS);
			return 2;
		}
		bufs[nparts] = malloc(strlen(tok) / 2 + 1);
		if (!bufs[nparts])
			sim_die("out of memory");
		if (sim_unhex(tok, bufs[nparts], strlen(tok) / 2 + 1, &len) != 0)
		{
			fprintf(stderr, "mobisign-sim answer: segment %zu is not hex\n", nparts + 1);
			return 2;
		}
		parts[nparts].ud = bufs[nparts];
		parts[nparts].len = len;
		nparts++;
	}
	free(copy);
	if (nparts == 0 || msc_sms_reassemble(parts, nparts, pkt, sizeof(pkt), &plen, &iei) != MSC_OK ||
		iei != MSC_IEI_CMD_PACKET)
	{
		fprintf(stderr, "mobisign-sim answer: the segments are not one command packet\n");
		return 2;
	}
	for (i = 0; i < nparts; i++)
		free(bufs[i]);

	sim_verbose = 0;
	sim_stateless = 1;
	sim_world_load(&w, dir);
	c = sim_world_find_msisdn(&w, msisdn);
	if (!c)
	{
		fprintf(stderr, "mobisign-sim answer: no SIM with MSISDN %s in %s\n", msisdn, dir);
		return 2;
	}
	c->has_counter = last != NULL;
	c->last_counter = last ? strtoull(last, NULL, 10) : 0;
	sim_behaviour_override = b;
	sim_answer_out = stdout;
	fprintf(stdout, "[");
	a = sim_card_receive(&w, c, pkt, plen, "0", -1, &delay);
	if (a)
	{
		sim_card_act(&w, a);
		sim_action_free(a);
	}
	fprintf(stdout, "]\n");
	return 0;
}
