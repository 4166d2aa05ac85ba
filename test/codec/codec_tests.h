/*
 * codec_tests.h
 *	  What the codec tests share: the TAP emitter (test/lib/tap.h), is_rc()
 *	  (defined in test_codec.c: a codec result code against the wanted one,
 *	  both named on failure) and the test groups in other files, all linked
 *	  into one program by test/codec/run.sh.
 */
#ifndef CODEC_TESTS_H
#define CODEC_TESTS_H

#include "msc.h"
#include "tap.h"

extern void is_rc(msc_rc got, msc_rc want, const char *what);

/* test groups in other files */
extern void test_smpp(void);

#endif
