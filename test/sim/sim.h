/*
 * sim.h
 *	  mobisign-sim: shared declarations of the SMSC and SIM simulator.
 *
 * The simulator is plain C (no PostgreSQL headers).  It links the wire codecs
 * of codec/ so that the SIMs speak exactly the bytes the background
 * worker speaks.  See docs/simulator.md for the interface and the files of a
 * provisioned directory.
 */
#ifndef MOBISIGN_SIM_H
#define MOBISIGN_SIM_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Defaults of a provisioned directory. */
#define SIM_DEFAULT_PORT		2775
#define SIM_SYSTEM_ID			"mobisign"
#define SIM_PASSWORD			"secret"
#define SIM_MSISDN_BASE			"358500"	/* + 7 digits: 3585000000001 */
#define SIM_KEY_SET				1
#define SIM_TAR_HEX				"4d5347"	/* 'MSG' */
#define SIM_MAX_USERS			100000
#define SIM_PIN_MIN				4	/* digits of a SIM's PIN */
#define SIM_PIN_MAX				8

/* util.c */
extern int	sim_verbose;
extern void sim_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void sim_die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));
extern void sim_ssl_die(const char *what) __attribute__((noreturn));
extern int64_t sim_now_ms(void);
/* microseconds since the epoch (CLOCK_REALTIME, the server's clock too) */
extern int64_t sim_epoch_us(void);
extern void sim_hex(const uint8_t *in, size_t len, char *out);
extern int	sim_unhex(const char *in, uint8_t *out, size_t cap, size_t *out_len);
extern char *sim_path(const char *dir, const char *name);
extern int	sim_read_file(const char *path, uint8_t **data, size_t *len);
extern void sim_write_file(const char *path, const void *data, size_t len, int secret);
extern void sim_mkdir(const char *path);
extern void sim_open_dir_chain(const char *dir);
extern void sim_random(uint8_t *buf, size_t len);
extern const char *sim_arg(int argc, char **argv, const char *name, const char *dflt);
extern void sim_make_readable(const char *path, int secret);

/* PEM files written by provision; any failure ends the program */
extern X509 *sim_read_cert(const char *path);
extern EVP_PKEY *sim_read_key(const char *path);
extern void sim_strlcpy(char *dst, const char *src, size_t cap);

/* One virtual SIM with its user. */
typedef struct sim_card
{
	char		user[32];
	char		msisdn[24];
	int			key_set;
	uint8_t		kic[16];
	uint8_t		kid[16];
	uint8_t		tar[3];
	EVP_PKEY   *key;			/* the user's signing key (on the card) */
	X509	   *cert;			/* the user's certificate */
	char		pin[SIM_PIN_MAX + 1];	/* DIR/users/USER/pin ("" if absent) */
	uint64_t	last_counter;	/* highest command counter accepted */
	uint64_t	resp_counter;	/* last response counter used */
	int			has_counter;
	/* the last answer sent (for the replay behaviour) */
	uint8_t    *last_answer;
	size_t		last_answer_len;
} sim_card;

typedef struct sim_world
{
	char	   *dir;
	char		system_id[16];
	char		password[9];
	int			port;
	int			ncards;
	sim_card   *cards;
	/* card indexes sorted by MSISDN (no leading '+') and by user, so that
	 * a lookup is a binary search: one is made for every SMS, and a world
	 * holds up to SIM_MAX_USERS cards */
	int		   *by_msisdn;
	int		   *by_user;
	X509	   *sp_cert;
	EVP_PKEY   *sp_pub;
} sim_world;

/* provision.c */
extern int	sim_cmd_provision(int argc, char **argv);
extern int	sim_cmd_revoke(int argc, char **argv);

/* world.c: loading a provisioned directory, counters */
extern void sim_world_load(sim_world *w, const char *dir);
extern sim_card *sim_world_find_msisdn(sim_world *w, const char *msisdn);
extern sim_card *sim_world_find_user(sim_world *w, const char *user);
extern void sim_card_save_state(sim_world *w, sim_card *c);
extern int	sim_cmd_status(int argc, char **argv);


/* Behaviours of a SIM and its user (DIR/behaviour). */
typedef enum sim_behaviour
{
	B_SIGN,
	B_CANCEL,
	B_PIN_BLOCKED,
	B_CARD_BLOCKED,
	B_NO_KEY,
	B_SIM_ERROR,
	B_EXPIRED,
	B_SILENT,
	B_GARBAGE,
	B_DUPLICATE,
	B_WRONG_CONTENT,
	B_WRONG_KEY,
	B_WRONG_REF,
	B_REPLAY,
	B_REPLAY_COUNTER,
	B_BAD_CC,
	B_POR_COUNTER_LOW,			/* secured PoR status 02 instead of an answer */
	B_POR_COUNTER_HIGH,			/* 03 */
	B_POR_BLOCKED,				/* 04 */
	B_POR_SECURITY_ERROR,		/* 06 */
	B_LOSE_SEGMENT,				/* the answer's last SMS is lost; the next
								 * answer reuses its concatenation reference */
	B_LOSE_FIRST_SEGMENT,		/* the same with the answer's first SMS */
	B_FORGED_POR,				/* an unsecured PoR 01 (what anyone can forge)
								 * at once, then the real answer */
	B_SPOOF_NEXT,				/* a spoofed copy of segment 2 (same UDH, other
								 * octets) right after segment 1 */
	B_SPOOF_AHEAD,				/* the same, before segment 1 */
	B_SPOOF_REPEAT,				/* a spoofed segment 1 right after segment 1 */
	B_SPOOF_LATE,				/* a spoofed segment 2 right after segment 2 */
	B_ASK,						/* a person decides on the phone (phone.c) */
	B_COUNT
} sim_behaviour;

/* What a SIM will do once its user has acted (after the delay). */
typedef struct sim_action
{
	sim_card   *card;
	sim_behaviour behaviour;
	uint8_t		spi2;			/* of the command: how to secure the answer */
	uint64_t	counter;		/* of the command (echoed in the answer) */
	uint64_t	prev_counter;	/* the counter accepted before this one */
	uint8_t		reference[8];
	uint8_t		operation;
	uint8_t    *content;		/* what is signed: challenge or displayed UTF-8 */
	size_t		content_len;
	char		reply_to[24];	/* the submit_sm's source_addr */
	char		vcode[8];		/* the verification code shown */
	uint32_t	expiry;			/* the command's expiry (unix time) */
	char	   *display;		/* the text shown, UTF-8, NUL-terminated */
	int			session;		/* the session that submitted (or -1) */
	int64_t		command_at_us;	/* the command's last SMS reached the SMSC
								 * (sim_timing_command_us) */
} sim_action;

/* card.c: the SIM and its applet */
extern const char *sim_behaviour_name(sim_behaviour b);
/* "authenticate", "sign", "sign-digest", "receipt": an applet operation in logs and the phone. */
extern const char *sim_operation_name(int operation);
extern int	sim_behaviour_parse(const char *name);
extern sim_action *sim_card_receive(sim_world *w, sim_card *c, const uint8_t *pkt, size_t len,
									const char *reply_to, int session, int *delay_ms);
extern void sim_card_act(sim_world *w, sim_action *a);
extern void sim_action_free(sim_action *a);

/* server.c: services used by the SIMs */
extern void sim_lookup_behaviour(const sim_card *c, sim_behaviour *b, int *delay_ms);
/* sim_send_packet flags */
#define SIM_SEND_TWICE		0x01	/* every segment twice */
#define SIM_SEND_LOSE_LAST	0x02	/* the last segment is not sent, and the
									 * next packet reuses the reference */
#define SIM_SEND_LOSE_FIRST	0x04	/* the same with the first segment */
#define SIM_SEND_SPOOF		0x08	/* one spoofed segment among the genuine
									 * ones: SIM_SEND_SPOOFED(seq, after) */
#define SIM_SEND_SPOOFED(seq, after) (SIM_SEND_SPOOF | ((seq) & 0xff) << 8 | ((after) & 0xff) << 16)
#define SIM_SEND_SPOOF_SEQ(f)	(((f) >> 8) & 0xff)
#define SIM_SEND_SPOOF_AFTER(f)	(((f) >> 16) & 0xff)
extern void sim_send_packet(const char *src, const char *dst, const uint8_t *pkt, size_t len,
							int session, int flags);
extern void sim_send_ud(const char *src, const char *dst, const uint8_t *ud, size_t len,
						int session);

/*
 * run --timing FILE: when the command being answered reached the SMSC (us
 * since the epoch, CLOCK_REALTIME; 0: not known, nothing recorded).  Set
 * around sim_card_receive and sim_card_act; sim_send_packet records one
 * line per answer with it (docs/simulator.md).
 */
extern int64_t sim_timing_command_us;

/* server.c */
extern int	sim_cmd_run(int argc, char **argv);

/* phone.c: the interactive phone (behaviour ask), DIR/phone/ */
extern void sim_phone_ask(sim_world *w, sim_action *a);
extern void sim_phone_poll(sim_world *w);
extern void sim_phone_stop(sim_world *w);

/* client.c */
extern int	sim_cmd_client(int argc, char **argv);

/* answer.c: one SIM answers one request offline (mobisign-sim answer) */
extern FILE *sim_answer_out;	/* non-NULL: print answers, deliver nothing */
extern int	sim_behaviour_override; /* >= 0: the behaviour of every SIM */
extern int	sim_stateless;		/* non-zero: counters are not saved */
extern void sim_answer_print_ud(const uint8_t *ud, size_t len);
extern int	sim_cmd_answer(int argc, char **argv);

#endif
