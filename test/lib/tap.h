/*
 * tap.h
 *	  The one TAP emitter of the C test programs (test/codec, test/input,
 *	  test/signer): numbered "ok"/"not ok" lines, the plan at the end, and
 *	  the exit status.  Invariants: every ok() prints exactly one line and
 *	  counts once; tap_done() prints the plan "1..N" (after the tests, as
 *	  TAP allows) and returns 1 if any test failed or none ran, else 0, so a
 *	  program that ran nothing cannot pass.  Not thread-safe (the tests are
 *	  single-threaded).  Built from test/lib/tap.c by each run.sh.
 */
#ifndef MS_TEST_TAP_H
#define MS_TEST_TAP_H

/* one test: cond true is a pass; what names it */
extern void ok(int cond, const char *what);

/* a diagnostic line ("# ...") under the last test */
extern void tap_diag(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* print the plan and a summary; the program's exit status */
extern int	tap_done(void);

#endif
