/*
 * tap.c
 *	  The TAP emitter of the C test programs (see tap.h for its invariants).
 */
#include <stdarg.h>
#include <stdio.h>

#include "tap.h"

static int	n_tests = 0;
static int	n_failed = 0;

void
ok(int cond, const char *what)
{
	n_tests++;
	if (!cond)
		n_failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n_tests, what);
}

void
tap_diag(const char *fmt,...)
{
	va_list		ap;

	fputs("#   ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

int
tap_done(void)
{
	printf("1..%d\n", n_tests);
	if (n_tests == 0)
		printf("# no test ran\n");
	else if (n_failed)
		printf("# %d of %d tests failed\n", n_failed, n_tests);
	return (n_failed || n_tests == 0) ? 1 : 0;
}
