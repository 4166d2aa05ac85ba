/* Shared fixed keys for the OTA fuzz harnesses and the seed generator. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>

#include "ota.h"

static const uint8_t fuzz_kic[32] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
};
static const uint8_t fuzz_kid[16] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f
};
static const uint8_t fuzz_tar[3] = {0xb0, 0x00, 0x10};

static inline msc_ota_keys
fuzz_keys(void)
{
	msc_ota_keys k;

	k.kic = fuzz_kic;
	k.kic_len = 16;
	k.kid = fuzz_kid;
	k.kid_len = 16;
	return k;
}

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

#endif
