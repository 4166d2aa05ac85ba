/*
 * phone.c
 *	  mobisign-sim: the interactive phone (behaviour "ask").
 *
 * A SIM whose behaviour is "ask" does not answer by itself: it shows the
 * prompt to a person and waits for a decision.  The channel is two files per
 * phone in DIR/phone/ (see docs/simulator.md, "The interactive phone"):
 *
 *	MSISDN.json       written by the simulator (atomically): what the phone
 *	                  shows now (text, verification code, expiry, tries left)
 *	                  or the outcome of the last prompt
 *	MSISDN.decision   written by whoever plays the person (the demo web
 *	                  service's phone page), one line:
 *	                      REFERENCE sign PIN      or      REFERENCE decline
 *	                  (a receipt: REFERENCE ok  or  REFERENCE decline)
 *	                  read once and removed by the simulator
 *
 * Invariants:
 *	- at most one prompt per phone and PHONE_MAX_PENDING prompts in all: a new
 *	  command for a phone replaces its prompt (outcome "replaced", no answer),
 *	  and when the list is full one prompt is dropped (outcome "dropped");
 *	- every prompt ends: by a decision, or at the command's expiry (outcome
 *	  "timed_out", the SIM stays silent), or when the simulator stops;
 *	- a decision file is hostile input: a regular file (no symlink followed),
 *	  at most PHONE_DECISION_MAX bytes without a NUL, strictly parsed; one whose reference is
 *	  not the prompt's is ignored (a stale or forged decision cannot answer
 *	  another transaction); it is removed once read;
 *	- the PIN is compared with the SIM's provisioned PIN (DIR/users/USER/pin)
 *	  in constant time, wiped from memory afterwards and never logged nor
 *	  written anywhere; PHONE_PIN_TRIES wrong PINs answer "PIN blocked";
 *	- what the JSON holds is escaped (quotes, backslash, control characters
 *	  and < > & as \uXXXX), so a reader can embed it anywhere.
 */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "applet.h"

#define PHONE_MAX_PENDING	256
#define PHONE_DECISION_MAX	128
#define PHONE_PIN_TRIES		3
/* the display text is at most 2048 UTF-8 bytes (card.c), 6 bytes each escaped */
#define PHONE_TEXT_MAX		(6 * 2048 + 8)
#define PHONE_JSON_MAX		(PHONE_TEXT_MAX + 1024)

typedef struct prompt
{
	sim_action *act;
	int			tries_left;
	const char *message;		/* shown under the prompt (static text) */
} prompt;

static prompt pending[PHONE_MAX_PENDING];
static int	npending;

/* JSON string of text (UTF-8 passed through, everything risky \u-escaped). */
static size_t
json_str(char *out, size_t cap, const char *text)
{
	size_t		o = 0;
	const unsigned char *s;

	if (o + 1 < cap)
		out[o++] = '"';
	for (s = (const unsigned char *) text; *s && o + 8 < cap; s++)
	{
		if (*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\' ||
			*s == '<' || *s == '>' || *s == '&' || *s == '\'')
			o += (size_t) snprintf(out + o, cap - o, "\\u%04x", *s);
		else
			out[o++] = (char) *s;
	}
	if (o + 1 < cap)
		out[o++] = '"';
	out[o] = '\0';
	return o;
}

/* DIR/phone/MSISDN.EXT, or NULL when the MSISDN is not a plain number. */
static char *
phone_path(sim_world *w, const sim_card *c, const char *ext)
{
	char		rel[64];
	const char *m = c->msisdn[0] == '+' ? c->msisdn + 1 : c->msisdn;

	if (m[0] == '\0' || strspn(m, "0123456789") != strlen(m))
		return NULL;
	snprintf(rel, sizeof(rel), "phone/%s.%s", m, ext);
	return sim_path(w->dir, rel);
}

/* Write what the phone shows: the prompt p, or (p NULL) an outcome. */
static void
write_screen(sim_world *w, const sim_action *a, const prompt *p, const char *outcome)
{
	char	   *json = malloc(PHONE_JSON_MAX);
	char		user[80],
				text[PHONE_TEXT_MAX],
				message[160];
	char		refhex[17];
	char	   *path = phone_path(w, a->card, "json");
	int			n;

	if (!json)
		sim_die("out of memory");
	if (!path)
	{
		free(json);
		return;
	}
	sim_hex(a->reference, 8, refhex);
	json_str(user, sizeof(user), a->card->user);
	json_str(text, sizeof(text), a->display ? a->display : "");
	json_str(message, sizeof(message), p && p->message ? p->message : "");
	n = snprintf(json, PHONE_JSON_MAX,
				 "{\"msisdn\": \"%s\", \"user\": %s, \"state\": \"%s\", \"outcome\": %s%s%s,\n"
				 " \"operation\": \"%s\", \"reference\": \"%s\", \"verification_code\": \"%s\",\n"
				 " \"text\": %s,\n \"expires_at\": %lld, \"tries_left\": %d, \"message\": %s}\n",
				 a->card->msisdn[0] == '+' ? a->card->msisdn + 1 : a->card->msisdn, user,
				 p ? "pending" : "done", outcome ? "\"" : "", outcome ? outcome : "null",
				 outcome ? "\"" : "",
				 sim_operation_name(a->operation), refhex, a->vcode, text,
				 (long long) a->expiry, p ? p->tries_left : 0, message);
	if (n > 0 && n < PHONE_JSON_MAX)
		sim_write_file(path, json, (size_t) n, 0);
	free(path);
	free(json);
}

/* End prompt i: the SIM answers as b (or nothing when b is B_SILENT). */
static void
finish(sim_world *w, int i, sim_behaviour b, const char *outcome)
{
	sim_action *a = pending[i].act;
	char		refhex[17];

	sim_hex(a->reference, 8, refhex);
	sim_log("SIM %s (%s): phone: ref %s %s", a->card->msisdn, a->card->user, refhex, outcome);
	write_screen(w, a, NULL, outcome);
	pending[i] = pending[--npending];
	if (b != B_SILENT)
	{
		a->behaviour = b;
		sim_timing_command_us = a->command_at_us;
		sim_card_act(w, a);
		sim_timing_command_us = 0;
	}
	sim_action_free(a);
}

void
sim_phone_ask(sim_world *w, sim_action *a)
{
	char	   *dir = sim_path(w->dir, "phone");
	int			i;

	sim_mkdir(dir);
	free(dir);
	if (!phone_path(w, a->card, "json"))
	{
		sim_log("SIM %s: phone: the MSISDN is not a plain number; nothing shown, no answer",
				a->card->msisdn);
		sim_action_free(a);
		return;
	}
	for (i = 0; i < npending; i++)
		if (pending[i].act->card == a->card)
		{
			finish(w, i, B_SILENT, "replaced");
			break;
		}
	if (npending == PHONE_MAX_PENDING)
		finish(w, 0, B_SILENT, "dropped");
	/* a decision left from before cannot answer this prompt: remove it */
	{
		char	   *d = phone_path(w, a->card, "decision");

		unlink(d);
		free(d);
	}
	pending[npending].act = a;
	pending[npending].tries_left = PHONE_PIN_TRIES;
	pending[npending].message = a->operation == MSC_OP_RECEIPT
		? "Press OK when you have read it, or dismiss it."
		: "Enter your PIN to sign, or decline.";
	write_screen(w, a, &pending[npending], NULL);
	npending++;
	sim_log("SIM %s (%s): phone: waiting for the person's decision (%s)", a->card->msisdn,
			a->card->user, "phone/<msisdn>.decision");
}

/*
 * Read DIR/phone/MSISDN.decision once (then it is gone): 1 with the line in
 * buf, 0 when there is none, -1 when it is unusable (logged).
 */
static int
read_decision(const char *path, const sim_card *c, char *buf, size_t cap)
{
	int			fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	ssize_t		n;

	if (fd < 0)
	{
		if (errno != ENOENT)
		{
			sim_log("SIM %s: phone: decision file unreadable (%s); removed", c->msisdn,
					strerror(errno));
			unlink(path);
			return -1;
		}
		return 0;
	}
	unlink(path);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t) cap - 1)
	{
		close(fd);
		sim_log("SIM %s: phone: decision refused (not a regular file of at most %zu bytes)",
				c->msisdn, cap - 1);
		return -1;
	}
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	/* a NUL would hide what follows it from the parser: "REF decline\0anything" */
	if (memchr(buf, '\0', (size_t) n) != NULL)
	{
		OPENSSL_cleanse(buf, cap);
		sim_log("SIM %s: phone: decision refused (a NUL inside)", c->msisdn);
		return -1;
	}
	return 1;
}

/*
 * "REFERENCE sign PIN", "REFERENCE ok" (a receipt read) or "REFERENCE
 * decline" (one optional newline); *sign is 1, 2 or 0.
 */
static int
parse_decision(char *line, char *ref, int *sign, char *pin, size_t pin_cap)
{
	size_t		len = strlen(line);
	char	   *verb,
			   *rest;

	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (len < 17 || strspn(line, "0123456789abcdef") != 16 || line[16] != ' ')
		return -1;
	memcpy(ref, line, 16);
	ref[16] = '\0';
	verb = line + 17;
	if (strcmp(verb, "decline") == 0)
	{
		*sign = 0;
		return 0;
	}
	if (strcmp(verb, "ok") == 0)
	{
		*sign = 2;
		return 0;
	}
	if (strncmp(verb, "sign ", 5) != 0)
		return -1;
	rest = verb + 5;
	if (strlen(rest) < 4 || strlen(rest) >= pin_cap || strspn(rest, "0123456789") != strlen(rest))
		return -1;
	*sign = 1;
	memcpy(pin, rest, strlen(rest) + 1);
	return 0;
}

static int
pin_matches(const sim_card *c, const char *pin)
{
	char		a[SIM_PIN_MAX + 1] = {0},
				b[SIM_PIN_MAX + 1] = {0};
	int			ok;

	if (c->pin[0] == '\0')
		return 0;				/* no PIN provisioned: no PIN is right */
	sim_strlcpy(a, c->pin, sizeof(a));
	sim_strlcpy(b, pin, sizeof(b));
	ok = CRYPTO_memcmp(a, b, sizeof(a)) == 0;
	OPENSSL_cleanse(b, sizeof(b));
	OPENSSL_cleanse(a, sizeof(a));
	return ok;
}

void
sim_phone_poll(sim_world *w)
{
	time_t		now = time(NULL);
	int			i;

	for (i = npending - 1; i >= 0; i--)
	{
		prompt	   *p = &pending[i];
		sim_action *a = p->act;
		char		line[PHONE_DECISION_MAX],
					ref[17],
					refhex[17],
					pin[SIM_PIN_MAX + 1];
		char	   *path;
		int			sign = 0,
					rc;

		if ((long long) now > (long long) a->expiry)
		{
			finish(w, i, B_SILENT, "timed_out");
			continue;
		}
		path = phone_path(w, a->card, "decision");
		rc = read_decision(path, a->card, line, sizeof(line));
		free(path);
		if (rc <= 0)
			continue;
		sim_hex(a->reference, 8, refhex);
		rc = parse_decision(line, ref, &sign, pin, sizeof(pin));
		OPENSSL_cleanse(line, sizeof(line));
		if (rc != 0)
		{
			sim_log("SIM %s: phone: decision not understood (REFERENCE sign PIN | REFERENCE ok | REFERENCE decline); ignored",
					a->card->msisdn);
			continue;
		}
		if (strcmp(ref, refhex) != 0)
		{
			OPENSSL_cleanse(pin, sizeof(pin));
			sim_log("SIM %s: phone: decision for ref %s, the prompt is ref %s; ignored",
					a->card->msisdn, ref, refhex);
			continue;
		}
		if (!sign)
		{
			finish(w, i, B_CANCEL, "declined");
			continue;
		}
		if ((sign == 2) != (a->operation == MSC_OP_RECEIPT))
		{
			OPENSSL_cleanse(pin, sizeof(pin));
			sim_log("SIM %s: phone: a receipt takes ok or decline, a signature its PIN or decline; ignored",
					a->card->msisdn);
			continue;
		}
		if (sign == 2)
		{
			finish(w, i, B_SIGN, "acknowledged");
			continue;
		}
		rc = pin_matches(a->card, pin);
		OPENSSL_cleanse(pin, sizeof(pin));
		if (rc)
		{
			finish(w, i, B_SIGN, "signed");
			continue;
		}
		p->tries_left--;
		sim_log("SIM %s: phone: wrong PIN, %d tries left", a->card->msisdn, p->tries_left);
		if (p->tries_left <= 0)
		{
			finish(w, i, B_PIN_BLOCKED, "pin_blocked");
			continue;
		}
		p->message = "Wrong PIN. Try again.";
		write_screen(w, a, p, NULL);
	}
}

void
sim_phone_stop(sim_world *w)
{
	while (npending > 0)
		finish(w, npending - 1, B_SILENT, "phone_off");
}
