/*
 * server.c
 *	  mobisign-sim run: the SMSC.  An SMPP 3.4 server on 127.0.0.1:P, one
 *	  thread, one poll() loop, several sessions.  submit_sm segments are
 *	  reassembled per destination and handed to the virtual SIM of that
 *	  MSISDN (card.c); the SIMs' answers go back as deliver_sm segments
 *	  (esm_class 0x40, protocol_id 0x7F, data_coding 0xF6, source = the
 *	  MSISDN) to the session that submitted, or to any bound receiver when
 *	  that one is gone; unacknowledged deliver_sm are re-sent after a drop.
 *
 * With --timing FILE each answer gets a line: when its command reached the
 * socket and when the loop dispatched the turn that made it (the
 * simulator's own time lies between; docs/simulator.md).  The loop never
 * waits for the disk on a SIM's behalf: counters are rewritten in place
 * (world.c), the timing lines buffered.
 *
 * Per-user behaviour comes from DIR/behaviour and SMSC faults from
 * DIR/faults; both are re-read when they change (see docs/simulator.md).
 * Signals: TERM/INT stop (exit 0), USR1 prints counters (also written to
 * DIR/stats), USR2 drops every session once, HUP re-reads both files.
 */
#include "sim.h"
#include "smpp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sms.h"

#define MAX_SESSIONS		64
#define RBUF_CAP			(SMPP_MAX_PDU + 64)
#define DELIVER_WINDOW		10
#define SIM_ACTS_PER_TURN	8
#define DELIVER_TIMEOUT_MS	30000
#define DELIVER_RETRY_MS	1000
#define DELIVER_MAX_TRIES	10
#define PARTIAL_TIMEOUT_MS	120000
#define FILE_CHECK_MS		100
#define MAX_BEHAVIOURS		20000
#define SLOW_TURN_MS		10

#define BOUND_RX	1
#define BOUND_TX	2

/* a FIFO of answer segments (struct mo, linked by next) */
typedef struct mo_queue
{
	struct mo  *head;
	struct mo  *tail;
} mo_queue;

typedef struct session
{
	int			used;
	int			id;
	int			fd;
	int			bound;			/* BOUND_RX | BOUND_TX bits */
	uint8_t    *rbuf;
	size_t		rlen;
	uint8_t    *wbuf;
	size_t		wlen;
	size_t		wcap;
	uint32_t	next_seq;
	int			close_after_flush;
	const char *close_reason;
	int			inflight;		/* deliver_sm without resp: in_flight's length */
	mo_queue	waiting;		/* answers that prefer this session, not sent */
	mo_queue	in_flight;		/* sent on this session, not acknowledged */
	long		submits;		/* submit_sm received while bound */
	int64_t		rate_window_at; /* session_rate: start of the current second */
	int			rate_count;		/* submit_sm accepted in that second */
} session;

typedef struct event
{
	uint64_t	order;			/* made: ties of due are taken in this order */
	int64_t		due;
	int			session;		/* EV_SEND */
	uint8_t    *data;
	size_t		len;
	sim_action *act;			/* EV_ACT */
} event;

/*
 * A binary min-heap of events by (due, order): with thousands of SIM
 * actions waiting (20,000 SIMs asked at once), taking the due ones and
 * adding one cost log n, not a walk of all of them.
 */
typedef struct ev_heap
{
	event	  **a;
	size_t		n;
	size_t		cap;
} ev_heap;

typedef struct mo
{
	struct mo  *next;
	char		src[24];
	char		dst[24];
	uint8_t		ud[MSC_SMS_UD_MAX + 4];
	size_t		len;
	int			pref;			/* preferred session id */
	int			session;
	uint32_t	seq;
	int64_t		due;
	int64_t		sent_at;
	int			tries;
} mo;

typedef struct partial
{
	struct partial *next;
	char		msisdn[24];
	char		src[24];
	int			session;
	uint16_t	ref;
	uint8_t		total;
	uint8_t		have;
	int64_t		created;
	uint8_t    *ud[MSC_SMS_MAX_SEGMENTS + 1];
	size_t		len[MSC_SMS_MAX_SEGMENTS + 1];
} partial;

typedef struct behaviour_rule
{
	char		key[32];
	sim_behaviour b;
	int			delay_ms;
} behaviour_rule;

typedef struct file_watch
{
	int			exists;
	struct stat st;
} file_watch;

static struct stats
{
	long		sessions;
	long		binds;
	long		bind_failures;
	long		submit_sm;
	long		submit_rejected;
	long		submit_unanswered;
	long		enquire_link;
	long		generic_nack;
	long		commands;
	long		answers;
	long		deliver_sm;
	long		deliver_acked;
	long		deliver_retried;
	long		deliver_abandoned;
	long		drops;
	long		turn_max_ms;	/* the loop's longest turn (poll excluded) */
	long		turns_slow;		/* turns of SLOW_TURN_MS or more */
} stats, stats_written;

/*
 * --timing FILE: one line per answer (sim_send_packet), buffered, flushed
 * with the counters (every second) and at exit.  rx_us: when the PDU being
 * handled reached this process's socket (the kernel's receive time of the
 * read that completed it, else the time of that read).
 */
static FILE *timing_out;
static int64_t rx_us;
int64_t		sim_timing_command_us;

/*
 * The answers made since the last dispatch: their line is written when the
 * loop dispatches (mo_dispatch), the first moment a deliver_sm could carry
 * them, so the rest of the turn that made them is the simulator's time.
 */
typedef struct timing_pending
{
	char		msisdn[24];
	int64_t		command_us;
} timing_pending;
static timing_pending *timing_made;
static size_t timing_nmade,
			timing_capmade;

static void
timing_made_add(const char *msisdn, int64_t command_us)
{
	if (timing_nmade == timing_capmade)
	{
		size_t		cap = timing_capmade ? timing_capmade * 2 : 64;
		timing_pending *a = realloc(timing_made, cap * sizeof(*a));

		if (!a)
			sim_die("out of memory");
		timing_made = a;
		timing_capmade = cap;
	}
	sim_strlcpy(timing_made[timing_nmade].msisdn, msisdn, sizeof(timing_made[0].msisdn));
	timing_made[timing_nmade++].command_us = command_us;
}

/* the answers made are ready to go: one line each */
static void
timing_ready(void)
{
	int64_t		ready_us;

	if (timing_nmade == 0)
		return;
	ready_us = sim_epoch_us();
	for (size_t i = 0; i < timing_nmade; i++)
		fprintf(timing_out, "%s\t%lld\t%lld\n", timing_made[i].msisdn,
				(long long) timing_made[i].command_us, (long long) ready_us);
	timing_nmade = 0;
}

static sim_world world;
static session sessions[MAX_SESSIONS];
static int	next_session_id = 1;
static ev_heap acts;			/* SIM actions, by (due, made) */
static ev_heap replies;			/* responses delayed by the delay_ms fault */
static mo_queue mo_orphans;		/* answers whose preferred session does not receive */
static mo  *mo_later;			/* refused answers, retried when due */
static partial *partials;
static int	listen_fd = -1;
static int	quiet;
static uint64_t message_id;
static uint8_t concat_ref;

static behaviour_rule *rules;
static int	nrules;

/* SMSC faults */
static struct
{
	int			reject_left;
	uint32_t	reject_status;
	int			no_resp_left;
	int			drop_on_submit; /* 0 off, else countdown */
	int			drop_one_on_submit; /* the same, closing only that session */
	int			session_rate;	/* submit_sm per second per session, 0: no cap */
	int			delay_ms;
	int			dup_deliver_left;
} faults;

static volatile sig_atomic_t got_stop,
			got_usr1,
			got_usr2,
			got_hup;

static void
on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		got_stop = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else if (sig == SIGUSR2)
		got_usr2 = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
}

#define PDU_LOG(...) do { if (!quiet) sim_log(__VA_ARGS__); } while (0)

/* --- events ------------------------------------------------------------- */

static uint64_t event_order;

static int
ev_before(const event *x, const event *y)
{
	return x->due < y->due || (x->due == y->due && x->order < y->order);
}

static void
ev_push(ev_heap *h, event *e)
{
	size_t		i;

	if (h->n == h->cap)
	{
		h->cap = h->cap ? h->cap * 2 : 64;
		h->a = realloc(h->a, sizeof(event *) * h->cap);
		if (!h->a)
			sim_die("out of memory");
	}
	e->order = event_order++;
	for (i = h->n++; i > 0 && ev_before(e, h->a[(i - 1) / 2]); i = (i - 1) / 2)
		h->a[i] = h->a[(i - 1) / 2];
	h->a[i] = e;
}

/* the earliest event when it is due at now, removed; else NULL */
static event *
ev_pop_due(ev_heap *h, int64_t now)
{
	event	   *top,
			   *last;
	size_t		i = 0;

	if (h->n == 0 || h->a[0]->due > now)
		return NULL;
	top = h->a[0];
	last = h->a[--h->n];
	for (;;)
	{
		size_t		c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && ev_before(h->a[c + 1], h->a[c]))
			c++;
		if (!ev_before(h->a[c], last))
			break;
		h->a[i] = h->a[c];
		i = c;
	}
	if (h->n > 0)
		h->a[i] = last;
	return top;
}

/* the earliest due time in h, or dflt */
static int64_t
ev_next_due(const ev_heap *h, int64_t dflt)
{
	return h->n > 0 && h->a[0]->due < dflt ? h->a[0]->due : dflt;
}

/* --- sessions ------------------------------------------------------------ */

static void mo_release(session *s);
static void mo_release_waiting(session *s);

static session *
session_by_id(int id)
{
	int			i;

	for (i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used && sessions[i].id == id)
			return &sessions[i];
	return NULL;
}

static uint32_t
session_seq(session *s)
{
	uint32_t	seq = s->next_seq++;

	if (s->next_seq > 0x7FFFFFFF)
		s->next_seq = 1;
	return seq;
}

static void
session_write(session *s, const uint8_t *data, size_t len)
{
	if (s->wlen + len > s->wcap)
	{
		while (s->wlen + len > s->wcap)
			s->wcap = s->wcap ? s->wcap * 2 : 8192;
		s->wbuf = realloc(s->wbuf, s->wcap);
		if (!s->wbuf)
			sim_die("out of memory");
	}
	memcpy(s->wbuf + s->wlen, data, len);
	s->wlen += len;
}

/* A response, delayed by the delay_ms fault. */
static void
session_respond(session *s, const uint8_t *data, size_t len)
{
	event	   *e;

	if (faults.delay_ms <= 0)
	{
		session_write(s, data, len);
		return;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->data = malloc(len)))
		sim_die("out of memory");
	memcpy(e->data, data, len);
	e->len = len;
	e->session = s->id;
	e->due = sim_now_ms() + faults.delay_ms;
	ev_push(&replies, e);
}

static void
session_close(session *s, const char *why)
{
	if (!s->used)
		return;
	sim_log("session %d closed (%s) after %ld submit_sm", s->id, why, s->submits);
	close(s->fd);
	mo_release(s);
	free(s->rbuf);
	free(s->wbuf);
	memset(s, 0, sizeof(*s));
}

static void
drop_all_sessions(const char *why)
{
	int			i,
				n = 0;

	for (i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used)
		{
			session_close(&sessions[i], why);
			n++;
		}
	stats.drops++;
	sim_log("fault: dropped %d session(s)", n);
}

/* Close the bound session with the lowest id (the others stay up). */
static void
drop_one_session(const char *why)
{
	session    *victim = NULL;
	int			i;

	for (i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used && sessions[i].bound && (!victim || sessions[i].id < victim->id))
			victim = &sessions[i];
	stats.drops++;
	if (!victim)
	{
		sim_log("fault: %s: no bound session to drop", why);
		return;
	}
	sim_log("fault: dropping session %d only", victim->id);
	session_close(victim, why);
}

/* How many sessions are bound (for the bind log line). */
static int
bound_sessions(void)
{
	int			i,
				n = 0;

	for (i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used && sessions[i].bound)
			n++;
	return n;
}

/* --- MO (deliver_sm) queue ----------------------------------------------- */

/*
 * Every answer segment not yet acknowledged is in exactly one place: the
 * waiting queue of the session it prefers (the one that submitted the
 * request, while that one is bound as a receiver and not closing), the
 * orphans' queue (its preferred session is gone, closing or only a
 * transmitter: any receiver takes it), the later list (refused, to be
 * retried when due), or the in-flight list of the session it was sent on
 * (at most DELIVER_WINDOW).  So dispatching, acknowledging and timing out
 * cost what is sent or in flight, never what is queued: 20,000 SIMs
 * answering at once make 20,000 queued segments.
 */

static void
mq_push(mo_queue *q, mo *m)
{
	m->next = NULL;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
}

static mo *
mq_pop(mo_queue *q)
{
	mo		   *m = q->head;

	if (m)
	{
		q->head = m->next;
		if (!q->head)
			q->tail = NULL;
		m->next = NULL;
	}
	return m;
}

/* the rest of from, in order, at the end of to */
static void
mq_append(mo_queue *to, mo_queue *from)
{
	if (!from->head)
		return;
	if (to->tail)
		to->tail->next = from->head;
	else
		to->head = from->head;
	to->tail = from->tail;
	from->head = from->tail = NULL;
}

static int
session_receives(const session *s)
{
	return s && s->used && (s->bound & BOUND_RX) && !s->close_after_flush;
}

/* an unsent segment, due now: to its preferred session's queue, or the orphans' */
static void
mo_route(mo *m)
{
	session    *s = session_by_id(m->pref);

	if (m->tries >= DELIVER_MAX_TRIES)
	{
		sim_log("deliver_sm from %s abandoned after %d tries", m->src, m->tries);
		stats.deliver_abandoned++;
		free(m);
		return;
	}
	mq_push(session_receives(s) ? &s->waiting : &mo_orphans, m);
}

/*
 * A session that no longer receives (closing, closed): what waited for it
 * and what it had in flight (first: the older) go to any receiver.
 */
static void
mo_release(session *s)
{
	mo		   *m;

	while ((m = mq_pop(&s->in_flight)) != NULL)
		mq_push(&mo_orphans, m);
	s->inflight = 0;
	mo_release_waiting(s);
}

/* a session that is closing: what waited for it goes to any receiver */
static void
mo_release_waiting(session *s)
{
	mq_append(&mo_orphans, &s->waiting);
}

static void
mo_enqueue(const char *src, const char *dst, const uint8_t *ud, size_t len, int pref)
{
	mo		   *m = calloc(1, sizeof(*m));

	if (!m)
		sim_die("out of memory");
	sim_strlcpy(m->src, src, sizeof(m->src));
	sim_strlcpy(m->dst, dst, sizeof(m->dst));
	if (len > sizeof(m->ud))
		len = sizeof(m->ud);
	memcpy(m->ud, ud, len);
	m->len = len;
	m->pref = pref;
	mo_route(m);
}

void
sim_send_packet(const char *src, const char *dst, const uint8_t *pkt, size_t len,
				int session_id, int flags)
{
	msc_sms_segment segs[MSC_SMS_MAX_SEGMENTS];
	size_t		nsegs,
				sent,
				first,
				i;
	msc_sms_segment forged;
	msc_rc		rc;
	int			c,
				copies = (flags & SIM_SEND_TWICE) ? 2 : 1;
	uint8_t		ref = concat_ref;
	size_t		spoof_seq = (flags & SIM_SEND_SPOOF) ? SIM_SEND_SPOOF_SEQ(flags) : 0,
				spoof_after = SIM_SEND_SPOOF_AFTER(flags);

	rc = msc_sms_split(MSC_IEI_RSP_PACKET, ref, pkt, len, segs, MSC_SMS_MAX_SEGMENTS, &nsegs);
	if (rc != MSC_OK)
	{
		sim_log("cannot split a %zu-byte response packet: %s", len, msc_strerror(rc));
		return;
	}
	if (sim_answer_out)
	{
		/* mobisign-sim answer: print the SMS instead of delivering them */
		sent = (flags & SIM_SEND_LOSE_LAST) && nsegs > 1 ? nsegs - 1 : nsegs;
		for (c = 0; c < ((flags & SIM_SEND_TWICE) ? 2 : 1); c++)
			for (i = 0; i < sent; i++)
				sim_answer_print_ud(segs[i].ud, segs[i].len);
		return;
	}
	sent = nsegs;
	first = 0;
	if ((flags & (SIM_SEND_LOSE_LAST | SIM_SEND_LOSE_FIRST)) && nsegs > 1)
	{
		/* the reference is not consumed: the next answer uses it again */
		sent = nsegs - 1;
		if (flags & SIM_SEND_LOSE_FIRST)
			first = 1;
		sim_log("answer to %s: segment %zu of %zu (ref %u) lost", src,
				first ? (size_t) 1 : nsegs, nsegs, ref);
	}
	else
		concat_ref++;
	if (faults.dup_deliver_left > 0)
	{
		faults.dup_deliver_left--;
		copies++;
		sim_log("fault: this answer's deliver_sm will be sent twice");
	}
	if (spoof_seq > 0 && (nsegs < 2 || spoof_seq > nsegs))
	{
		sim_log("answer to %s: %zu segment(s): no segment %zu to spoof", src, nsegs, spoof_seq);
		spoof_seq = 0;
	}
	if (spoof_seq > 0)
	{
		/*
		 * What anyone who sees or guesses the reference can send with this
		 * MSISDN as originator: a segment with the genuine one's header
		 * (reference, total, sequence number) and other octets after it.
		 */
		forged = segs[spoof_seq - 1];
		for (i = (size_t) forged.ud[0] + 1; i < forged.len; i++)
			forged.ud[i] ^= 0xa5;
		if (spoof_after > sent)
			spoof_after = sent;
		sim_log("answer to %s: a spoofed segment %zu of %zu (ref %u) after %zu genuine one(s)", src,
				spoof_seq, nsegs, ref, spoof_after);
	}
	for (c = 0; c < copies; c++)
		for (i = first; i <= first + sent; i++)
		{
			if (spoof_seq > 0 && c == 0 && i - first == spoof_after)
				mo_enqueue(src, dst, forged.ud, forged.len, session_id);
			if (i < first + sent)
				mo_enqueue(src, dst, segs[i].ud, segs[i].len, session_id);
		}
	sim_log("answer from %s: %zu of %zu segments, ref %u", src, sent, nsegs, ref);
	if (timing_out && sim_timing_command_us > 0)
		timing_made_add(src, sim_timing_command_us);
	stats.answers++;
}

void
sim_send_ud(const char *src, const char *dst, const uint8_t *ud, size_t len, int session_id)
{
	if (sim_answer_out)
	{
		sim_answer_print_ud(ud, len);
		return;
	}
	mo_enqueue(src, dst, ud, len, session_id);
	stats.answers++;
}

/* deliver m on s (m is no longer queued); false when it cannot be encoded (m is freed) */
static int
mo_send(session *s, mo *m, int64_t now)
{
	deliver_sm_t d;
	uint8_t		buf[512];
	size_t		len;

	memset(&d, 0, sizeof(d));
	d.command_id = DELIVER_SM;
	d.sequence_number = session_seq(s);
	d.source_addr_ton = TON_International;
	d.source_addr_npi = NPI_ISDN_E163_E164;
	sim_strlcpy((char *) d.source_addr, m->src, sizeof(d.source_addr));
	d.dest_addr_ton = TON_Unknown;
	d.dest_addr_npi = NPI_Unknown;
	sim_strlcpy((char *) d.destination_addr, m->dst, sizeof(d.destination_addr));
	d.esm_class = MSC_SMPP_ESM_CLASS_UDHI;
	d.protocol_id = MSC_SMPP_PROTOCOL_ID;
	d.data_coding = MSC_SMPP_DATA_CODING;
	d.sm_length = (uint8_t) m->len;
	memcpy(d.short_message, m->ud, m->len);
	if (smpp_pack(DELIVER_SM, &d, buf, sizeof(buf), &len) != 0)
	{
		free(m);
		return 0;
	}
	session_write(s, buf, len);
	m->session = s->id;
	m->seq = d.sequence_number;
	m->sent_at = now;
	mq_push(&s->in_flight, m);
	s->inflight++;
	stats.deliver_sm++;
	PDU_LOG("session %d > deliver_sm seq %u from %s (%zu octets)%s", s->id,
			m->seq, m->src, m->len, m->tries ? " (retry)" : "");
	return 1;
}

/* in flight for DELIVER_TIMEOUT_MS without a response: sent again */
static void
mo_time_out(session *s, int64_t now)
{
	mo_queue	keep = {NULL, NULL};
	mo		   *m;

	while ((m = mq_pop(&s->in_flight)) != NULL)
	{
		if (now - m->sent_at <= DELIVER_TIMEOUT_MS)
		{
			mq_push(&keep, m);
			continue;
		}
		sim_log("deliver_sm seq %u to session %d: no deliver_sm_resp after %d ms; will retry",
				m->seq, m->session, DELIVER_TIMEOUT_MS);
		s->inflight--;
		m->tries++;
		stats.deliver_retried++;
		mo_route(m);
	}
	s->in_flight = keep;
}

/*
 * Time-outs, refused segments now due again, then each receiver fills its
 * window: first with the segments that prefer it (in the order they were
 * made), then with the orphans.
 */
static void
mo_dispatch(int64_t now)
{
	mo		   *m,
			  **pp;
	int			i;

	for (i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used)
			mo_time_out(&sessions[i], now);
	for (pp = &mo_later; (m = *pp) != NULL;)
	{
		if (m->due > now)
		{
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		mo_route(m);
	}
	for (i = 0; i < MAX_SESSIONS; i++)
	{
		session    *s = &sessions[i];

		if (!session_receives(s))
			continue;
		while (s->inflight < DELIVER_WINDOW &&
			   ((m = mq_pop(&s->waiting)) != NULL || (m = mq_pop(&mo_orphans)) != NULL))
			(void) mo_send(s, m, now);
	}
}

/* the earliest due time of a refused segment, or dflt */
static int64_t
mo_next_due(int64_t dflt)
{
	for (mo *m = mo_later; m; m = m->next)
		if (m->due < dflt)
			dflt = m->due;
	return dflt;
}

static void
mo_ack(session *s, uint32_t seq, uint32_t status, int nack)
{
	mo		   *m,
			   *prev = NULL;

	for (m = s->in_flight.head; m; prev = m, m = m->next)
		if (m->seq == seq)
			break;
	if (!m)
	{
		PDU_LOG("session %d: deliver_sm_resp seq %u matches nothing in flight", s->id, seq);
		return;
	}
	if (prev)
		prev->next = m->next;
	else
		s->in_flight.head = m->next;
	if (s->in_flight.tail == m)
		s->in_flight.tail = prev;
	m->next = NULL;
	if (s->inflight > 0)
		s->inflight--;
	if (status == 0 && !nack)
	{
		free(m);
		stats.deliver_acked++;
		return;
	}
	sim_log("deliver_sm seq %u refused by session %d (%s 0x%02x); retry in %d ms",
			seq, s->id, nack ? "generic_nack" : "status", status, DELIVER_RETRY_MS);
	m->tries++;
	m->due = sim_now_ms() + DELIVER_RETRY_MS;
	stats.deliver_retried++;
	m->next = mo_later;
	mo_later = m;
}

/* --- the phones: SMS-PP data download to the SIM ------------------------- */

static void
to_card(sim_card *c, const uint8_t *pkt, size_t len, const char *reply_to, int session_id)
{
	int			delay = 0;
	sim_action *a;

	stats.commands++;
	sim_timing_command_us = rx_us;
	a = sim_card_receive(&world, c, pkt, len, reply_to, session_id, &delay);
	sim_timing_command_us = 0;
	if (a)
		a->command_at_us = rx_us;
	if (a && a->behaviour == B_ASK)
		sim_phone_ask(&world, a);	/* a person decides (phone.c) */
	else if (a)
	{
		event	   *e = calloc(1, sizeof(*e));

		if (!e)
			sim_die("out of memory");
		e->act = a;
		e->due = sim_now_ms() + (delay > 0 ? delay : 0);
		ev_push(&acts, e);
	}
}

static void
partial_free(partial *p)
{
	int			i;

	for (i = 0; i <= MSC_SMS_MAX_SEGMENTS; i++)
		free(p->ud[i]);
	free(p);
}

static void
phone_receive(const submit_sm_t *sm, const uint8_t *ud, size_t len, int session_id)
{
	const char *dst = (const char *) sm->destination_addr;
	const char *src = (const char *) sm->source_addr;
	sim_card   *c = sim_world_find_msisdn(&world, dst);
	msc_udh		udh;
	msc_rc		rc;
	uint8_t		pkt[MSC_SMS_MAX_PACKET];
	size_t		plen;
	uint8_t		iei;
	partial    *p,
			  **pp;

	if (!c)
	{
		sim_log("SMS to %s: no such SIM; discarded", dst);
		return;
	}
	if (!(sm->esm_class & MSC_SMPP_ESM_CLASS_UDHI) || sm->protocol_id != MSC_SMPP_PROTOCOL_ID ||
		(sm->data_coding != 0xF6 && sm->data_coding != 0x16))
	{
		sim_log("SMS to %s is not an SMS-PP data download (esm_class %02x, protocol_id %02x, "
				"data_coding %02x): the phone shows it, the SIM never sees it",
				dst, sm->esm_class, sm->protocol_id, sm->data_coding);
		return;
	}
	rc = msc_udh_parse(ud, len, &udh);
	if (rc != MSC_OK)
	{
		sim_log("SMS to %s: bad user data header (%s); discarded", dst, msc_strerror(rc));
		return;
	}
	if (!udh.has_concat)
	{
		msc_sms_part part = {ud, len};

		rc = msc_sms_reassemble(&part, 1, pkt, sizeof(pkt), &plen, &iei);
		if (rc != MSC_OK || iei != MSC_IEI_CMD_PACKET)
		{
			sim_log("SMS to %s: not a command packet (%s); discarded", dst,
					rc != MSC_OK ? msc_strerror(rc) : "no IEI 0x70");
			return;
		}
		to_card(c, pkt, plen, src, session_id);
		return;
	}

	for (pp = &partials; (p = *pp) != NULL; pp = &p->next)
		if (strcmp(p->msisdn, c->msisdn) == 0 && p->ref == udh.concat_ref && p->total == udh.concat_total)
			break;
	if (!p)
	{
		if (udh.concat_total > MSC_SMS_MAX_SEGMENTS)
		{
			sim_log("SMS to %s: %u segments announced; discarded", dst, udh.concat_total);
			return;
		}
		p = calloc(1, sizeof(*p));
		if (!p)
			sim_die("out of memory");
		sim_strlcpy(p->msisdn, c->msisdn, sizeof(p->msisdn));
		p->ref = udh.concat_ref;
		p->total = udh.concat_total;
		p->created = sim_now_ms();
		p->next = partials;
		partials = p;
		pp = &partials;
	}
	sim_strlcpy(p->src, src, sizeof(p->src));
	p->session = session_id;
	if (!p->ud[udh.concat_seq])
		p->have++;
	free(p->ud[udh.concat_seq]);
	p->ud[udh.concat_seq] = malloc(len);
	if (!p->ud[udh.concat_seq])
		sim_die("out of memory");
	memcpy(p->ud[udh.concat_seq], ud, len);
	p->len[udh.concat_seq] = len;
	PDU_LOG("SMS to %s: segment %u/%u (ref %u)", dst, udh.concat_seq, udh.concat_total, udh.concat_ref);
	if (p->have == p->total)
	{
		msc_sms_part parts[MSC_SMS_MAX_SEGMENTS];
		int			i;
		char		from[24];

		for (i = 0; i < p->total; i++)
		{
			parts[i].ud = p->ud[i + 1];
			parts[i].len = p->len[i + 1];
		}
		rc = msc_sms_reassemble(parts, p->total, pkt, sizeof(pkt), &plen, &iei);
		sim_strlcpy(from, p->src, sizeof(from));
		*pp = p->next;
		partial_free(p);
		if (rc != MSC_OK || iei != MSC_IEI_CMD_PACKET)
		{
			sim_log("SMS to %s: concatenated message refused (%s); discarded", dst,
					rc != MSC_OK ? msc_strerror(rc) : "no IEI 0x70");
			return;
		}
		to_card(c, pkt, plen, from, session_id);
	}
}

static void
partials_expire(int64_t now)
{
	partial    *p,
			  **pp;

	for (pp = &partials; (p = *pp) != NULL;)
	{
		if (now - p->created > PARTIAL_TIMEOUT_MS)
		{
			sim_log("SMS to %s: incomplete concatenated message (ref %u, %u of %u) dropped",
					p->msisdn, p->ref, p->have, p->total);
			*pp = p->next;
			partial_free(p);
			continue;
		}
		pp = &p->next;
	}
}

/* --- PDUs ---------------------------------------------------------------- */

static void
send_header_only(session *s, uint32_t id, uint32_t status, uint32_t seq, int delayed)
{
	uint8_t		buf[SMPP_HEADER_LEN];

	smpp_header_only(buf, id, status, seq);
	if (delayed)
		session_respond(s, buf, sizeof(buf));
	else
		session_write(s, buf, sizeof(buf));
	PDU_LOG("session %d > %s seq %u status 0x%02x", s->id, smpp_cmd_name(id), seq, status);
	if (id == GENERIC_NACK)
		stats.generic_nack++;
}

static void
handle_bind(session *s, const uint8_t *pdu, size_t len, const smpp_hdr *h)
{
	bind_transceiver_t b;		/* the three bind bodies have the same layout */
	bind_transceiver_resp_t r;
	uint8_t		buf[256];
	size_t		blen;
	uint32_t	status = 0;
	uint32_t	resp_id = h->id | 0x80000000;
	int			mode = h->id == BIND_RECEIVER ? BOUND_RX :
		h->id == BIND_TRANSMITTER ? BOUND_TX : (BOUND_RX | BOUND_TX);

	memset(&b, 0, sizeof(b));
	if (smpp_unpack(h->id, &b, pdu, len) != 0)
	{
		send_header_only(s, GENERIC_NACK, ESME_RINVCMDLEN, h->seq, 0);
		return;
	}
	if (s->bound)
		status = ESME_RALYBND;
	else if (strcmp((char *) b.system_id, world.system_id) != 0)
		status = ESME_RINVSYSID;
	else if (strcmp((char *) b.password, world.password) != 0)
		status = ESME_RINVPASWD;
	PDU_LOG("session %d < %s seq %u system_id \"%s\" system_type \"%s\"", s->id,
			smpp_cmd_name(h->id), h->seq, (char *) b.system_id, (char *) b.system_type);
	if (status != 0)
	{
		stats.bind_failures++;
		send_header_only(s, resp_id, status, h->seq, 1);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.command_id = resp_id;
	r.command_status = 0;
	r.sequence_number = h->seq;
	sim_strlcpy((char *) r.system_id, "mobisign-sim", sizeof(r.system_id));
	if (smpp_pack(resp_id, &r, buf, sizeof(buf), &blen) != 0)
	{
		send_header_only(s, resp_id, ESME_RSYSERR, h->seq, 0);
		return;
	}
	s->bound = mode;
	stats.binds++;
	session_respond(s, buf, blen);
	sim_log("session %d bound as %s (system_id \"%s\", %d session(s) bound)", s->id,
			mode == BOUND_RX ? "receiver" : mode == BOUND_TX ? "transmitter" : "transceiver",
			(char *) b.system_id, bound_sessions());
}

static void
handle_submit(session *s, const uint8_t *pdu, size_t len, const smpp_hdr *h)
{
	submit_sm_t sm;
	submit_sm_resp_t r;
	uint8_t		buf[256];
	size_t		blen;
	const uint8_t *ud;
	size_t		ud_len;
	tlv_t	   *t;
	int			drop_now = 0;
	int			drop_this = 0;

	stats.submit_sm++;
	if (!(s->bound & BOUND_TX))
	{
		PDU_LOG("session %d < submit_sm seq %u before a bind", s->id, h->seq);
		send_header_only(s, SUBMIT_SM_RESP, ESME_RINVBNDSTS, h->seq, 1);
		return;
	}
	s->submits++;
	if (faults.session_rate > 0)
	{
		/* an operator's per-bind cap: at most R per second on each session */
		int64_t		now = sim_now_ms();

		if (now - s->rate_window_at >= 1000)
		{
			s->rate_window_at = now;
			s->rate_count = 0;
		}
		if (++s->rate_count > faults.session_rate)
		{
			stats.submit_rejected++;
			PDU_LOG("fault: session_rate %d: submit_sm seq %u on session %d throttled",
					faults.session_rate, h->seq, s->id);
			send_header_only(s, SUBMIT_SM_RESP, ESME_RTHROTTLED, h->seq, 1);
			return;
		}
	}
	if (faults.reject_left > 0)
	{
		faults.reject_left--;
		stats.submit_rejected++;
		sim_log("fault: submit_sm seq %u refused with status 0x%02x (%d more)",
				h->seq, faults.reject_status, faults.reject_left);
		send_header_only(s, SUBMIT_SM_RESP, faults.reject_status, h->seq, 1);
		return;
	}
	if (faults.no_resp_left > 0)
	{
		faults.no_resp_left--;
		stats.submit_unanswered++;
		sim_log("fault: submit_sm seq %u swallowed: no response, not delivered (%d more)",
				h->seq, faults.no_resp_left);
		return;
	}
	memset(&sm, 0, sizeof(sm));
	if (smpp_unpack(SUBMIT_SM, &sm, pdu, len) != 0)
	{
		destroy_tlv(sm.tlv);
		send_header_only(s, SUBMIT_SM_RESP, ESME_RSYSERR, h->seq, 1);
		return;
	}
	ud = sm.short_message;
	ud_len = sm.sm_length;
	for (t = sm.tlv; t; t = t->next)
	{
		if (t->tag == SMPP_TLV_MESSAGE_PAYLOAD && ud_len == 0)
		{
			ud = t->value.octet;
			ud_len = t->length;
		}
	}
	PDU_LOG("session %d < submit_sm seq %u to %s from \"%s\" esm_class %02x protocol_id %02x "
			"data_coding %02x (%zu octets)", s->id, h->seq, (char *) sm.destination_addr,
			(char *) sm.source_addr, sm.esm_class, sm.protocol_id, sm.data_coding, ud_len);

	if (faults.drop_on_submit > 0 && --faults.drop_on_submit == 0)
		drop_now = 1;
	if (faults.drop_one_on_submit > 0 && --faults.drop_one_on_submit == 0)
		drop_this = 1;
	if (!drop_now && !drop_this)
	{
		memset(&r, 0, sizeof(r));
		r.command_id = SUBMIT_SM_RESP;
		r.sequence_number = h->seq;
		snprintf((char *) r.message_id, sizeof(r.message_id), "sim%llx",
				 (unsigned long long) ++message_id);
		if (smpp_pack(SUBMIT_SM_RESP, &r, buf, sizeof(buf), &blen) == 0)
		{
			session_respond(s, buf, blen);
			PDU_LOG("session %d > submit_sm_resp seq %u id %s", s->id, h->seq, (char *) r.message_id);
		}
	}
	phone_receive(&sm, ud, ud_len, s->id);
	destroy_tlv(sm.tlv);
	if (drop_now)
	{
		sim_log("fault: drop_on_submit: submit_sm seq %u accepted but not answered", h->seq);
		drop_all_sessions("drop_on_submit fault");
	}
	else if (drop_this)
	{
		sim_log("fault: drop_one_on_submit: submit_sm seq %u accepted but not answered; closing session %d only",
				h->seq, s->id);
		stats.drops++;
		session_close(s, "drop_one_on_submit fault");
	}
}

/* Returns 0 to keep the session, -1 when it was closed. */
static int
handle_pdu(session *s, const uint8_t *pdu, size_t len)
{
	smpp_hdr	h;
	int			id = s->id;

	smpp_read_header(pdu, &h);
	switch (h.id)
	{
		case BIND_TRANSCEIVER:
		case BIND_TRANSMITTER:
		case BIND_RECEIVER:
			if (h.seq == 0)
				send_header_only(s, GENERIC_NACK, ESME_RINVCMDLEN, 0, 0);
			else
				handle_bind(s, pdu, len, &h);
			break;
		case ENQUIRE_LINK:
			stats.enquire_link++;
			PDU_LOG("session %d < enquire_link seq %u", s->id, h.seq);
			send_header_only(s, ENQUIRE_LINK_RESP, 0, h.seq, 1);
			break;
		case UNBIND:
			PDU_LOG("session %d < unbind seq %u", s->id, h.seq);
			send_header_only(s, UNBIND_RESP, 0, h.seq, 0);
			s->bound = 0;
			s->close_after_flush = 1;
			mo_release_waiting(s);
			break;
		case SUBMIT_SM:
			if (h.seq == 0)
				send_header_only(s, GENERIC_NACK, ESME_RINVCMDLEN, 0, 0);
			else
				handle_submit(s, pdu, len, &h);
			if (!session_by_id(id))
				return -1;
			break;
		case DELIVER_SM_RESP:
			PDU_LOG("session %d < deliver_sm_resp seq %u status 0x%02x", s->id, h.seq, h.status);
			mo_ack(s, h.seq, h.status, 0);
			break;
		case GENERIC_NACK:
			sim_log("session %d < generic_nack seq %u status 0x%02x", s->id, h.seq, h.status);
			mo_ack(s, h.seq, h.status, 1);
			break;
		case ENQUIRE_LINK_RESP:
		case UNBIND_RESP:
			PDU_LOG("session %d < %s seq %u", s->id, smpp_cmd_name(h.id), h.seq);
			break;
		default:
			sim_log("session %d < %s seq %u: not supported, generic_nack", s->id,
					smpp_cmd_name(h.id), h.seq);
			if (!(h.id & 0x80000000))
				send_header_only(s, GENERIC_NACK, ESME_RINVCMDID, h.seq, 0);
			break;
	}
	return 0;
}

static void
session_read(session *s)
{
	struct iovec iov = {s->rbuf + s->rlen, RBUF_CAP - s->rlen};
	union
	{
		struct cmsghdr h;
		char		buf[CMSG_SPACE(sizeof(struct timespec))];
	}			cbuf;
	struct msghdr msg;
	ssize_t		n;
	size_t		off = 0;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	n = recvmsg(s->fd, &msg, 0);
	rx_us = sim_epoch_us();
	if (n > 0 && timing_out)
	{
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS)
			{
				struct timespec ts;
				int64_t		k;

				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				k = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
				/* the kernel's time, if it is one of this clock's */
				if (k <= rx_us && k > rx_us - 60 * 1000000LL)
					rx_us = k;
			}
	}

	if (n == 0)
	{
		session_close(s, "peer closed");
		return;
	}
	if (n < 0)
	{
		if (errno != EAGAIN && errno != EINTR)
			session_close(s, strerror(errno));
		return;
	}
	s->rlen += (size_t) n;
	while (s->rlen - off >= SMPP_HEADER_LEN)
	{
		smpp_hdr	h;
		uint8_t    *copy;

		smpp_read_header(s->rbuf + off, &h);
		if (h.length < SMPP_HEADER_LEN || h.length > SMPP_MAX_PDU)
		{
			sim_log("session %d: command_length %u out of range; closing", s->id, h.length);
			send_header_only(s, GENERIC_NACK, ESME_RINVCMDLEN, h.seq, 0);
			s->close_after_flush = 1;
			mo_release_waiting(s);
			s->close_reason = "framing error";
			s->rlen = 0;
			return;
		}
		if (s->rlen - off < h.length)
			break;
		/* a NUL-terminated private copy: libsmpp34 may read C-strings */
		copy = malloc(h.length + 1);
		if (!copy)
			sim_die("out of memory");
		memcpy(copy, s->rbuf + off, h.length);
		copy[h.length] = '\0';
		off += h.length;
		if (handle_pdu(s, copy, h.length) != 0)
		{
			free(copy);
			return;				/* session gone */
		}
		free(copy);
		if (!s->used)
			return;
	}
	memmove(s->rbuf, s->rbuf + off, s->rlen - off);
	s->rlen -= off;
}

static void
session_flush(session *s)
{
	ssize_t		n;

	if (s->wlen == 0)
		return;
	n = send(s->fd, s->wbuf, s->wlen, MSG_NOSIGNAL);
	if (n < 0)
	{
		if (errno != EAGAIN && errno != EINTR)
			session_close(s, strerror(errno));
		return;
	}
	memmove(s->wbuf, s->wbuf + n, s->wlen - (size_t) n);
	s->wlen -= (size_t) n;
}

static void
accept_session(void)
{
	int			fd = accept(listen_fd, NULL, NULL);
	int			i,
				one = 1;

	if (fd < 0)
		return;
	for (i = 0; i < MAX_SESSIONS; i++)
		if (!sessions[i].used)
			break;
	if (i == MAX_SESSIONS)
	{
		sim_log("too many sessions; refusing a connection");
		close(fd);
		return;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (timing_out)
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	memset(&sessions[i], 0, sizeof(sessions[i]));
	sessions[i].used = 1;
	sessions[i].fd = fd;
	sessions[i].id = next_session_id++;
	sessions[i].next_seq = 1;
	sessions[i].rbuf = malloc(RBUF_CAP);
	if (!sessions[i].rbuf)
		sim_die("out of memory");
	stats.sessions++;
	sim_log("session %d connected", sessions[i].id);
}

/* --- DIR/behaviour and DIR/faults ---------------------------------------- */

static int
file_changed(const char *path, file_watch *w)
{
	struct stat st;
	int			exists = stat(path, &st) == 0;

	if (exists == w->exists &&
		(!exists || (st.st_mtim.tv_sec == w->st.st_mtim.tv_sec &&
					 st.st_mtim.tv_nsec == w->st.st_mtim.tv_nsec &&
					 st.st_size == w->st.st_size && st.st_ino == w->st.st_ino &&
					 st.st_ctim.tv_nsec == w->st.st_ctim.tv_nsec)))
		return 0;
	w->exists = exists;
	if (exists)
		w->st = st;
	return 1;
}

static void
load_behaviour(const char *path)
{
	uint8_t    *data;
	size_t		len;
	char	   *line,
			   *save = NULL;
	int			lineno = 0;

	nrules = 0;
	if (sim_read_file(path, &data, &len) != 0)
	{
		sim_log("behaviour: %s absent; every SIM signs at once", path);
		return;
	}
	for (line = strtok_r((char *) data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		char		user[64],
					name[64];
		char	   *hash = strchr(line, '#');
		int			delay = 0;
		int			n,
					b;

		lineno++;
		if (hash)
			*hash = '\0';
		n = sscanf(line, "%63s %63s %d", user, name, &delay);
		if (n <= 0)
			continue;
		if (n < 2 || (b = sim_behaviour_parse(name)) < 0 || delay < 0)
		{
			sim_log("behaviour: line \"%s\" ignored (USER BEHAVIOUR [DELAY_MS])", line);
			continue;
		}
		if (nrules >= MAX_BEHAVIOURS)
			break;
		sim_strlcpy(rules[nrules].key, user, sizeof(rules[nrules].key));
		rules[nrules].b = (sim_behaviour) b;
		rules[nrules].delay_ms = n >= 3 ? delay : 0;
		nrules++;
	}
	free(data);
	sim_log("behaviour: %d rule(s) loaded", nrules);
}

void
sim_lookup_behaviour(const sim_card *c, sim_behaviour *b, int *delay_ms)
{
	int			i;
	const behaviour_rule *any = NULL;

	if (sim_behaviour_override >= 0)
	{
		/* mobisign-sim answer --behaviour */
		*b = (sim_behaviour) sim_behaviour_override;
		*delay_ms = 0;
		return;
	}
	/* the last matching line wins */
	for (i = nrules - 1; i >= 0; i--)
	{
		const char *k = rules[i].key;

		if (strcmp(k, c->user) == 0 || strcmp(k, c->msisdn) == 0 ||
			(k[0] == '+' && strcmp(k + 1, c->msisdn) == 0))
		{
			*b = rules[i].b;
			*delay_ms = rules[i].delay_ms;
			return;
		}
		if (!any && strcmp(k, "*") == 0)
			any = &rules[i];
	}
	*b = any ? any->b : B_SIGN;
	*delay_ms = any ? any->delay_ms : 0;
}

/*
 * Faults are re-applied every time DIR/faults changes: counters and the
 * delay take the values in the file (0 when absent); "drop" acts once.
 */
static void
load_faults(const char *path)
{
	uint8_t    *data;
	size_t		len;
	char	   *line,
			   *save = NULL;
	int			drop = 0;
	int			drop_one = 0;

	memset(&faults, 0, sizeof(faults));
	if (sim_read_file(path, &data, &len) != 0)
		return;
	for (line = strtok_r((char *) data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		char		cmd[32];
		char	   *hash = strchr(line, '#');
		long		a = -1;
		long		st = 0;
		int			n;

		if (hash)
			*hash = '\0';
		n = sscanf(line, "%31s %ld %li", cmd, &a, &st);
		if (n <= 0)
			continue;
		if (strcmp(cmd, "throttle") == 0 && n >= 2 && a >= 0)
		{
			faults.reject_left = (int) a;
			faults.reject_status = ESME_RTHROTTLED;
		}
		else if (strcmp(cmd, "reject") == 0 && n == 3 && a >= 0)
		{
			faults.reject_left = (int) a;
			faults.reject_status = (uint32_t) st;
		}
		else if (strcmp(cmd, "no_resp") == 0 && n >= 2 && a >= 0)
			faults.no_resp_left = (int) a;
		else if (strcmp(cmd, "drop") == 0)
			drop = 1;
		else if (strcmp(cmd, "drop_on_submit") == 0)
			faults.drop_on_submit = n >= 2 && a > 0 ? (int) a : 1;
		else if (strcmp(cmd, "drop_one") == 0)
			drop_one = 1;
		else if (strcmp(cmd, "drop_one_on_submit") == 0)
			faults.drop_one_on_submit = n >= 2 && a > 0 ? (int) a : 1;
		else if (strcmp(cmd, "session_rate") == 0 && n >= 2 && a >= 0)
			faults.session_rate = (int) a;
		else if (strcmp(cmd, "delay_ms") == 0 && n >= 2 && a >= 0)
			faults.delay_ms = (int) a;
		else if (strcmp(cmd, "duplicate_deliver") == 0 && n >= 2 && a >= 0)
			faults.dup_deliver_left = (int) a;
		else
			sim_log("faults: line \"%s\" not understood; ignored", line);
	}
	free(data);
	sim_log("faults: reject %d (status 0x%02x), no_resp %d, drop_on_submit %d, drop_one_on_submit %d, "
			"session_rate %d, delay_ms %d, duplicate_deliver %d%s%s", faults.reject_left,
			faults.reject_status, faults.no_resp_left, faults.drop_on_submit,
			faults.drop_one_on_submit, faults.session_rate, faults.delay_ms,
			faults.dup_deliver_left, drop ? ", drop now" : "", drop_one ? ", drop one now" : "");
	if (drop)
		drop_all_sessions("drop fault");
	else if (drop_one)
		drop_one_session("drop_one fault");
}

/* DIR/stats, rewritten at most once a second when a counter changed */
static void
write_stats(int to_stderr)
{
	char		text[1024];
	char	   *p;
	int			n;

	n = snprintf(text, sizeof(text),
				 "sessions %ld\nbinds %ld\nbind_failures %ld\nsubmit_sm %ld\nsubmit_rejected %ld\n"
				 "submit_unanswered %ld\nenquire_link %ld\ngeneric_nack %ld\ncommands %ld\n"
				 "answers %ld\ndeliver_sm %ld\ndeliver_acked %ld\ndeliver_retried %ld\n"
				 "deliver_abandoned %ld\ndrops %ld\nturn_max_ms %ld\nturns_slow %ld\n",
				 stats.sessions, stats.binds, stats.bind_failures, stats.submit_sm,
				 stats.submit_rejected, stats.submit_unanswered, stats.enquire_link,
				 stats.generic_nack, stats.commands, stats.answers, stats.deliver_sm,
				 stats.deliver_acked, stats.deliver_retried, stats.deliver_abandoned, stats.drops,
				 stats.turn_max_ms, stats.turns_slow);
	if (timing_out)
		fflush(timing_out);
	if (to_stderr)
		fprintf(stderr, "mobisign-sim counters:\n%s", text);
	p = sim_path(world.dir, "stats");
	sim_write_file(p, text, (size_t) n, 0);
	free(p);
}

/* --- main loop ----------------------------------------------------------- */

int
sim_cmd_run(int argc, char **argv)
{
	const char *dir = sim_arg(argc, argv, "--dir", NULL);
	const char *port_arg = sim_arg(argc, argv, "--port", NULL);
	const char *ready = sim_arg(argc, argv, "--ready-file", NULL);
	const char *timing = sim_arg(argc, argv, "--timing", NULL);
	struct sockaddr_in addr;
	struct sigaction sa;
	char	   *beh_path,
			   *faults_path;
	file_watch	beh_watch = {0},
				faults_watch = {0};
	int64_t		last_check = 0;
	int64_t		last_stats = 0;
	int64_t		polled_at = 0;	/* when the last poll() returned */
	int			one = 1,
				i;

	for (i = 2; i < argc; i++)
		if (strcmp(argv[i], "--quiet") == 0)
			quiet = 1;
	if (!dir)
		sim_die("run needs --dir DIR");
	sim_world_load(&world, dir);
	if (port_arg)
		world.port = atoi(port_arg);
	if (world.port < 1 || world.port > 65535)
		sim_die("bad port");
	rules = calloc(MAX_BEHAVIOURS, sizeof(behaviour_rule));
	if (!rules)
		sim_die("out of memory");
	if (timing && (timing_out = fopen(timing, "w")) == NULL)
		sim_die("cannot create %s: %s", timing, strerror(errno));
	beh_path = sim_path(world.dir, "behaviour");
	faults_path = sim_path(world.dir, "faults");
	sim_random(&concat_ref, 1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (listen_fd < 0)
		sim_die("socket: %s", strerror(errno));
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t) world.port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listen_fd, (struct sockaddr *) &addr, sizeof(addr)) != 0)
		sim_die("cannot listen on 127.0.0.1:%d: %s", world.port, strerror(errno));
	if (listen(listen_fd, 16) != 0)
		sim_die("listen: %s", strerror(errno));
	fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	sim_log("SMSC listening on 127.0.0.1:%d with %d SIM(s) from %s", world.port, world.ncards, world.dir);
	if (ready)
	{
		char		text[32];

		snprintf(text, sizeof(text), "%d\n", (int) getpid());
		sim_write_file(ready, text, strlen(text), 0);
	}

	while (!got_stop)
	{
		struct pollfd pfd[MAX_SESSIONS + 1];
		int			idx[MAX_SESSIONS + 1];
		int			nfds = 0;
		int64_t		now = sim_now_ms();
		int64_t		next_due = now + FILE_CHECK_MS;
		event	   *e;
		int			n_acts;

		if (got_usr1)
		{
			got_usr1 = 0;
			write_stats(1);
		}
		if (got_usr2)
		{
			got_usr2 = 0;
			drop_all_sessions("SIGUSR2");
		}
		if (got_hup)
		{
			got_hup = 0;
			memset(&beh_watch, 0, sizeof(beh_watch));
			memset(&faults_watch, 0, sizeof(faults_watch));
			last_check = 0;
		}
		if (now - last_stats >= 1000)
		{
			last_stats = now;
			if (memcmp(&stats, &stats_written, sizeof(stats)) != 0)
			{
				write_stats(0);
				memcpy(&stats_written, &stats, sizeof(stats));
			}
		}
		if (now - last_check >= FILE_CHECK_MS)
		{
			last_check = now;
			if (file_changed(beh_path, &beh_watch))
				load_behaviour(beh_path);
			if (file_changed(faults_path, &faults_watch))
				load_faults(faults_path);
			partials_expire(now);
			sim_phone_poll(&world);
		}

		/*
		 * due events: delayed responses and SIM actions.  At most
		 * SIM_ACTS_PER_TURN SIM actions (a signature each) per turn, so that
		 * with thousands of requests queued the answers already made keep
		 * going out (deliver_sm, window DELIVER_WINDOW) between them, as
		 * with a real network; the rest wait for the next turn.
		 */
		while ((e = ev_pop_due(&replies, now)) != NULL)
		{
			session    *s = session_by_id(e->session);

			if (s)
				session_write(s, e->data, e->len);
			free(e->data);
			free(e);
		}
		for (n_acts = 0; n_acts < SIM_ACTS_PER_TURN && (e = ev_pop_due(&acts, now)) != NULL; n_acts++)
		{
			sim_timing_command_us = e->act->command_at_us;
			sim_card_act(&world, e->act);
			sim_timing_command_us = 0;
			sim_action_free(e->act);
			free(e);
		}
		next_due = ev_next_due(&replies, ev_next_due(&acts, next_due));
		if (timing_out)
			timing_ready();
		mo_dispatch(now);
		next_due = mo_next_due(next_due);

		for (i = 0; i < MAX_SESSIONS; i++)
		{
			session    *s = &sessions[i];

			if (!s->used)
				continue;
			if (s->close_after_flush && s->wlen == 0)
			{
				session_close(s, s->close_reason ? s->close_reason : "unbound");
				continue;
			}
			pfd[nfds].fd = s->fd;
			pfd[nfds].events = (short) (POLLIN | (s->wlen ? POLLOUT : 0));
			pfd[nfds].revents = 0;
			idx[nfds++] = i;
		}
		pfd[nfds].fd = listen_fd;
		pfd[nfds].events = POLLIN;
		pfd[nfds].revents = 0;
		idx[nfds++] = -1;

		{
			int64_t		wait = next_due - now;
			int			rc;

			if (wait < 0)
				wait = 0;
			if (wait > FILE_CHECK_MS)
				wait = FILE_CHECK_MS;
			if (polled_at > 0)
			{
				long		turn = (long) (sim_now_ms() - polled_at);

				if (turn > stats.turn_max_ms)
					stats.turn_max_ms = turn;
				if (turn >= SLOW_TURN_MS)
					stats.turns_slow++;
			}
			rc = poll(pfd, (nfds_t) nfds, (int) wait);
			polled_at = sim_now_ms();
			if (rc < 0)
			{
				if (errno == EINTR)
					continue;
				sim_die("poll: %s", strerror(errno));
			}
		}
		for (i = 0; i < nfds; i++)
		{
			session    *s;

			if (idx[i] < 0)
			{
				if (pfd[i].revents & POLLIN)
					accept_session();
				continue;
			}
			s = &sessions[idx[i]];
			if (!s->used || s->fd != pfd[i].fd)
				continue;
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				session_read(s);
			if (s->used && s->wlen)
				session_flush(s);
		}
	}

	sim_log("stopping (SIGTERM)");
	sim_phone_stop(&world);
	for (i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used)
		{
			session_flush(&sessions[i]);
			session_close(&sessions[i], "simulator stopping");
		}
	close(listen_fd);
	write_stats(1);
	if (timing_out && fclose(timing_out) != 0)
		sim_die("cannot write %s: %s", timing, strerror(errno));
	free(beh_path);
	free(faults_path);
	return 0;
}
