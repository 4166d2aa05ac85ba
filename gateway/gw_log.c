/*
 * gw_log.c
 *	  mobisign-gateway: its log (see gw_log.h).
 */
#include "gw_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
gw_log(const char *fmt,...)
{
	char		line[1024];
	char		stamp[32];
	time_t		now = time(NULL);
	struct tm	tm;
	va_list		ap;
	size_t		n;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* libpq messages end with a newline: one line per event */
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s mobisign-gateway: %s\n", stamp, line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void
gw_log_path(const char *path, char *out, size_t cap)
{
	static const char session[] = "/session/";
	size_t		n = 0;
	const char *id = path ? strstr(path, session) : NULL;
	const char *end = id ? id + sizeof(session) - 1 : NULL;

	for (; path && *path && n + 1 < cap && n < 120; path++)
	{
		/* a session id is its reader's credential: the log shows {id} */
		if (path == end)
		{
			snprintf(out + n, cap - n, "{id}");
			n += strlen(out + n);
			break;
		}
		out[n++] = (*path >= 0x20 && *path < 0x7f) ? *path : '?';
	}
	out[n] = '\0';
}
