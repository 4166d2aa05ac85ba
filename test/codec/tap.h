/*
 * tap.h
 *	  TAP helpers of the codec tests, defined in test_codec.c and shared by
 *	  every test_*.c linked with it (test/codec/run.sh).
 */
#ifndef CODEC_TAP_H
#define CODEC_TAP_H

#include "msc.h"

extern void ok(int cond, const char *what);
extern void is_rc(msc_rc got, msc_rc want, const char *what);

/* test groups in other files */
extern void test_smpp(void);

#endif
