/*
 * world.c
 *	  mobisign-sim: loading a provisioned directory (SIMs, keys, the service
 *	  provider's certificate, the SMSC credentials) and the SIM counters kept
 *	  in DIR/state/USER across restarts (rewritten in place, one fixed-width
 *	  record: sim_card_save_state).
 */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

static void build_indexes(sim_world *w);

static void
load_conf(sim_world *w)
{
	char	   *p = sim_path(w->dir, "sim.conf");
	uint8_t    *data;
	size_t		len;
	char	   *line,
			   *save = NULL;

	snprintf(w->system_id, sizeof(w->system_id), "%s", SIM_SYSTEM_ID);
	snprintf(w->password, sizeof(w->password), "%s", SIM_PASSWORD);
	w->port = SIM_DEFAULT_PORT;
	if (sim_read_file(p, &data, &len) != 0)
		sim_die("cannot read %s: %s (run \"mobisign-sim provision\" first)", p, strerror(errno));
	for (line = strtok_r((char *) data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		char		k[32],
					v[64];

		if (line[0] == '#' || sscanf(line, "%31s %63s", k, v) != 2)
			continue;
		if (strcmp(k, "port") == 0)
			w->port = atoi(v);
		else if (strcmp(k, "system_id") == 0)
			sim_strlcpy(w->system_id, v, sizeof(w->system_id));
		else if (strcmp(k, "password") == 0)
			sim_strlcpy(w->password, v, sizeof(w->password));
	}
	free(data);
	free(p);
}

static void
load_state(sim_world *w, sim_card *c)
{
	char		rel[64];
	char	   *p;
	uint8_t    *data;
	size_t		len;
	unsigned long long last,
				resp;
	int			has;

	snprintf(rel, sizeof(rel), "state/%s", c->user);
	p = sim_path(w->dir, rel);
	if (sim_read_file(p, &data, &len) == 0)
	{
		if (sscanf((char *) data, "%d %llu %llu", &has, &last, &resp) == 3)
		{
			c->has_counter = has;
			c->last_counter = last;
			c->resp_counter = resp;
		}
		free(data);
	}
	free(p);
}

/* DIR/users/USER/pin: SIM_PIN_MIN..SIM_PIN_MAX digits (else: no PIN is right) */
static void
load_pin(sim_world *w, sim_card *c)
{
	char		rel[80];
	char	   *p;
	uint8_t    *data;
	size_t		len,
				n;

	c->pin[0] = '\0';
	snprintf(rel, sizeof(rel), "users/%s/pin", c->user);
	p = sim_path(w->dir, rel);
	if (sim_read_file(p, &data, &len) == 0)
	{
		n = strspn((char *) data, "0123456789");
		if (n >= SIM_PIN_MIN && n <= SIM_PIN_MAX && (data[n] == '\n' || data[n] == '\0'))
		{
			memcpy(c->pin, data, n);
			c->pin[n] = '\0';
		}
		OPENSSL_cleanse(data, len);
		free(data);
	}
	free(p);
}

/*
 * DIR/state/USER is rewritten in place, one write() of a fixed-width record
 * at offset 0 (the widest the old format could be, so an older file's tail
 * is always covered): a killed simulator leaves a whole record, and the
 * record survives its restart (a reader racing the write may see a mixed
 * one: read the state of a stopped simulator).  No temp
 * file renamed over the old one: ext4 starts writing a file's data back
 * when it replaces another by rename (auto_da_alloc), and the simulator's
 * one thread waited for that twice per authentication (docs/simulator.md).
 * Nothing is fsynced, as before: a crash of the machine may lose the last
 * records.
 */
#define SIM_STATE_RECORD_LEN 44

void
sim_card_save_state(sim_world *w, sim_card *c)
{
	char		rel[64];
	char		text[SIM_STATE_RECORD_LEN + 1];
	char	   *p;
	int			fd;
	struct stat st;

	if (sim_stateless)
		return;					/* mobisign-sim answer writes nothing */
	snprintf(rel, sizeof(rel), "state/%s", c->user);
	p = sim_path(w->dir, rel);
	if (snprintf(text, sizeof(text), "%d %20llu %20llu\n", c->has_counter ? 1 : 0,
				 (unsigned long long) c->last_counter,
				 (unsigned long long) c->resp_counter) != SIM_STATE_RECORD_LEN)
		sim_die("state record of %s: bad length", c->user);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		sim_die("cannot open %s: %s", p, strerror(errno));
	/* readable by the postgres OS user, as sim_write_file makes files */
	if (fstat(fd, &st) != 0 || ((st.st_mode & 0777) != 0644 && fchmod(fd, 0644) != 0))
		sim_die("cannot make %s readable: %s", p, strerror(errno));
	if (pwrite(fd, text, SIM_STATE_RECORD_LEN, 0) != SIM_STATE_RECORD_LEN)
		sim_die("cannot write %s: %s", p, strerror(errno));
	if (close(fd) != 0)
		sim_die("cannot close %s: %s", p, strerror(errno));
	free(p);
}

void
sim_world_load(sim_world *w, const char *dir)
{
	char		real[PATH_MAX];
	char	   *p;
	uint8_t    *data;
	size_t		len;
	char	   *line,
			   *save = NULL;
	int			cap = 0;

	memset(w, 0, sizeof(*w));
	if (!realpath(dir, real))
		sim_die("realpath %s: %s", dir, strerror(errno));
	w->dir = strdup(real);
	load_conf(w);

	p = sim_path(w->dir, "sp/cert.pem");
	w->sp_cert = sim_read_cert(p);
	free(p);
	w->sp_pub = X509_get0_pubkey(w->sp_cert);
	if (!w->sp_pub)
		sim_ssl_die("service provider public key");

	p = sim_path(w->dir, "sims");
	if (sim_read_file(p, &data, &len) != 0)
		sim_die("cannot read %s: %s", p, strerror(errno));
	free(p);
	for (line = strtok_r((char *) data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		char		user[32],
					msisdn[24],
					kic[80],
					kid[80],
					tar[16];
		int			ks;
		sim_card   *c;
		char		rel[96];
		size_t		n;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%31s %23s %d %79s %79s %15s", user, msisdn, &ks, kic, kid, tar) != 6)
			sim_die("bad line in DIR/sims");
		if (w->ncards == cap)
		{
			cap = cap ? cap * 2 : 16;
			w->cards = realloc(w->cards, sizeof(sim_card) * (size_t) cap);
			if (!w->cards)
				sim_die("out of memory");
		}
		c = &w->cards[w->ncards++];
		memset(c, 0, sizeof(*c));
		sim_strlcpy(c->user, user, sizeof(c->user));
		sim_strlcpy(c->msisdn, msisdn, sizeof(c->msisdn));
		c->key_set = ks;
		if (sim_unhex(kic, c->kic, 16, &n) != 0 || n != 16 ||
			sim_unhex(kid, c->kid, 16, &n) != 0 || n != 16 ||
			sim_unhex(tar, c->tar, 3, &n) != 0 || n != 3)
			sim_die("bad key material for %s in DIR/sims", user);
		snprintf(rel, sizeof(rel), "users/%s/key.pem", user);
		p = sim_path(w->dir, rel);
		c->key = sim_read_key(p);
		free(p);
		snprintf(rel, sizeof(rel), "users/%s/cert.pem", user);
		p = sim_path(w->dir, rel);
		c->cert = sim_read_cert(p);
		free(p);
		load_pin(w, c);
		load_state(w, c);
	}
	OPENSSL_cleanse(data, len);
	free(data);
	if (w->ncards == 0)
		sim_die("no SIMs in %s/sims", w->dir);
	build_indexes(w);
}

static const char *
plain_msisdn(const char *m)
{
	return m[0] == '+' ? m + 1 : m;
}

/* the world being indexed (qsort's comparator takes no argument) */
static const sim_world *sorting;

/* by the key, then by load order: the first card loaded comes first */
static int
cmp_msisdn(const void *a, const void *b)
{
	int			i = *(const int *) a,
				j = *(const int *) b;
	int			c = strcmp(plain_msisdn(sorting->cards[i].msisdn),
						   plain_msisdn(sorting->cards[j].msisdn));

	return c != 0 ? c : (i > j) - (i < j);
}

static int
cmp_user(const void *a, const void *b)
{
	int			i = *(const int *) a,
				j = *(const int *) b;
	int			c = strcmp(sorting->cards[i].user, sorting->cards[j].user);

	return c != 0 ? c : (i > j) - (i < j);
}

static void
build_indexes(sim_world *w)
{
	w->by_msisdn = malloc(sizeof(int) * (size_t) w->ncards);
	w->by_user = malloc(sizeof(int) * (size_t) w->ncards);
	if (!w->by_msisdn || !w->by_user)
		sim_die("out of memory");
	for (int i = 0; i < w->ncards; i++)
		w->by_msisdn[i] = w->by_user[i] = i;
	sorting = w;
	qsort(w->by_msisdn, (size_t) w->ncards, sizeof(int), cmp_msisdn);
	qsort(w->by_user, (size_t) w->ncards, sizeof(int), cmp_user);
	sorting = NULL;
}

/*
 * The first card (in load order) whose key is key: the lowest position of
 * an index, sorted by (key, load order), whose card's key is key.
 */
static sim_card *
find_first(sim_world *w, const int *index, const char *key, int by_user)
{
	int			lo = 0,
				hi = w->ncards;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		const sim_card *c = &w->cards[index[mid]];

		if (strcmp(by_user ? c->user : plain_msisdn(c->msisdn), key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < w->ncards)
	{
		sim_card   *c = &w->cards[index[lo]];

		if (strcmp(by_user ? c->user : plain_msisdn(c->msisdn), key) == 0)
			return c;
	}
	return NULL;
}

/* MSISDN match, ignoring a leading '+' on either side. */
sim_card *
sim_world_find_msisdn(sim_world *w, const char *msisdn)
{
	return find_first(w, w->by_msisdn, plain_msisdn(msisdn), 0);
}

sim_card *
sim_world_find_user(sim_world *w, const char *user)
{
	sim_card   *c = find_first(w, w->by_user, user, 1);

	return c ? c : sim_world_find_msisdn(w, user);
}

/*
 * mobisign-sim status --dir DIR: the SMSC counters of the running (or last)
 * simulator (DIR/stats, rewritten each second) and each SIM's counters.
 */
int
sim_cmd_status(int argc, char **argv)
{
	const char *dir = sim_arg(argc, argv, "--dir", NULL);
	sim_world	w;
	char	   *p;
	uint8_t    *data;
	size_t		len;
	int			i;

	if (!dir)
		sim_die("status needs --dir DIR");
	sim_world_load(&w, dir);
	p = sim_path(w.dir, "stats");
	if (sim_read_file(p, &data, &len) == 0)
	{
		fwrite(data, 1, len, stdout);
		free(data);
	}
	else
		printf("(no %s: the simulator has not run yet)\n", p);
	free(p);
	for (i = 0; i < w.ncards; i++)
	{
		sim_card   *c = &w.cards[i];

		printf("sim %s %s last_counter %llu response_counter %llu\n", c->user, c->msisdn,
			   (unsigned long long) c->last_counter, (unsigned long long) c->resp_counter);
	}
	return 0;
}
