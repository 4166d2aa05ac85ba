/*
 * util.c
 *	  mobisign-sim: logging, hex, files, randomness, option parsing.
 */
#include <openssl/pem.h>

#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

int			sim_verbose = 1;

void
sim_log(const char *fmt,...)
{
	struct timespec ts;
	struct tm	tm;
	char		stamp[32];
	va_list		ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld mobisign-sim: ", stamp, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
sim_die(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "mobisign-sim: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
sim_ssl_die(const char *what)
{
	unsigned long e = ERR_get_error();
	char		buf[256];

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "no OpenSSL error queued");
	sim_die("%s failed: %s", what, buf);
}

int64_t
sim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
sim_epoch_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
sim_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t		i;

	for (i = 0; i < len; i++)
	{
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex string (even length, no separators) to bytes; -1 on bad input. */
int
sim_unhex(const char *in, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t		n = strlen(in);
	size_t		i;

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++)
	{
		int			hi = hexval((unsigned char) in[2 * i]);
		int			lo = hexval((unsigned char) in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t) (hi << 4 | lo);
	}
	if (out_len)
		*out_len = n / 2;
	return 0;
}

char *
sim_path(const char *dir, const char *name)
{
	size_t		n = strlen(dir) + strlen(name) + 2;
	char	   *p = malloc(n);

	if (!p)
		sim_die("out of memory");
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* Read a whole file (at most 16 MB); 0 on success, -1 (errno set) if not. */
int
sim_read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf = NULL;
	size_t		n = 0,
				cap = 0;

	if (!f)
		return -1;
	for (;;)
	{
		size_t		r;

		if (cap - n < 4096)
		{
			cap = cap ? cap * 2 : 8192;
			if (cap > 16 * 1024 * 1024)
			{
				free(buf);
				fclose(f);
				errno = EFBIG;
				return -1;
			}
			buf = realloc(buf, cap + 1);
			if (!buf)
				sim_die("out of memory");
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';				/* convenient for text files */
	*data = buf;
	*len = n;
	return 0;
}

/*
 * Make a file readable by the postgres OS user: secrets get mode 0640 and
 * group postgres when that group exists and we may give files to it (else
 * 0644: this is test material); other files 0644.
 */
void
sim_make_readable(const char *path, int secret)
{
	struct group *g = getgrnam("postgres");

	if (secret && g && chown(path, (uid_t) -1, g->gr_gid) == 0)
	{
		if (chmod(path, 0640) != 0)
			sim_die("chmod %s: %s", path, strerror(errno));
	}
	else if (chmod(path, 0644) != 0)
		sim_die("chmod %s: %s", path, strerror(errno));
}

/* Write a file atomically (temp + rename). */
void
sim_write_file(const char *path, const void *data, size_t len, int secret)
{
	size_t		n = strlen(path) + 16;
	char	   *tmp = malloc(n);
	int			fd;

	if (!tmp)
		sim_die("out of memory");
	snprintf(tmp, n, "%s.tmp%ld", path, (long) getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		sim_die("cannot create %s: %s", tmp, strerror(errno));
	if (len > 0 && write(fd, data, len) != (ssize_t) len)
		sim_die("cannot write %s: %s", tmp, strerror(errno));
	if (close(fd) != 0)
		sim_die("cannot close %s: %s", tmp, strerror(errno));
	sim_make_readable(tmp, secret);
	if (rename(tmp, path) != 0)
		sim_die("cannot rename %s: %s", tmp, strerror(errno));
	free(tmp);
}

/*
 * mkdir -p: every directory we create gets mode 0755 (a+rx) so that the
 * postgres OS user can read the files; existing directories are left alone.
 */
void
sim_mkdir(const char *path)
{
	char	   *p = strdup(path);
	char	   *s;

	if (!p)
		sim_die("out of memory");
	for (s = p + 1;; s++)
	{
		char		c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == 0)
		{
			if (chmod(p, 0755) != 0)
				sim_die("chmod %s: %s", p, strerror(errno));
		}
		else if (errno != EEXIST)
			sim_die("mkdir %s: %s", p, strerror(errno));
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
}

/*
 * Add a+rx to DIR itself (it may come from mktemp -d, mode 0700) and warn
 * when an ancestor is not searchable by others.
 */
void
sim_open_dir_chain(const char *dir)
{
	struct stat st;
	char	   *p;
	char	   *s;

	if (stat(dir, &st) != 0)
		sim_die("stat %s: %s", dir, strerror(errno));
	if ((st.st_mode & 0555) != 0555 && chmod(dir, (st.st_mode & 07777) | 0555) != 0)
		sim_die("chmod %s: %s", dir, strerror(errno));
	p = strdup(dir);
	if (!p)
		sim_die("out of memory");
	while ((s = strrchr(p, '/')) != NULL && s != p)
	{
		*s = '\0';
		if (stat(p, &st) == 0 && (st.st_mode & 0001) == 0)
			fprintf(stderr, "mobisign-sim: warning: %s is not searchable by others; "
					"the postgres OS user may not reach %s\n", p, dir);
	}
	free(p);
}

void
sim_random(uint8_t *buf, size_t len)
{
	if (RAND_bytes(buf, (int) len) != 1)
		sim_ssl_die("RAND_bytes");
}

/* Value of option --name in argv, or dflt. */
const char *
sim_arg(int argc, char **argv, const char *name, const char *dflt)
{
	int			i;

	for (i = 2; i < argc; i++)
	{
		if (strcmp(argv[i], name) == 0)
		{
			if (i + 1 >= argc)
				sim_die("option %s needs a value", name);
			return argv[i + 1];
		}
	}
	return dflt;
}

/* Bounded copy that always terminates (truncates silently). */
void
sim_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t		n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

X509 *
sim_read_cert(const char *path)
{
	FILE	   *f = fopen(path, "r");
	X509	   *c;

	if (!f)
		sim_die("cannot open %s: %s", path, strerror(errno));
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!c)
		sim_ssl_die(path);
	return c;
}

EVP_PKEY *
sim_read_key(const char *path)
{
	FILE	   *f = fopen(path, "r");
	EVP_PKEY   *k;

	if (!f)
		sim_die("cannot open %s: %s", path, strerror(errno));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		sim_ssl_die(path);
	return k;
}
