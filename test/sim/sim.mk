# test/sim/sim.mk: the SMSC + SIM simulator, included by the top Makefile.
#
#   make simulator      builds test/sim/mobisign-sim
#
# Plain C (no PostgreSQL headers): the simulator's own sources plus the wire
# codecs in codec/ that the background worker links too, so both ends
# speak exactly the same bytes. The -Wno-* flags match the extension's
# PG_CFLAGS because the codec files are compiled under both.

SIM_CC      ?= cc
SIM_SRCS     = $(sort $(wildcard test/sim/*.c)) $(sort $(wildcard codec/*.c))
SIM_HDRS     = $(wildcard test/sim/*.h) $(wildcard codec/*.h)
SIM_CFLAGS   = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare \
	-Itest/sim -Icodec -Iworker \
	$(shell pkg-config --cflags libsmpp34 openssl 2>/dev/null || echo -I/usr/include/libsmpp34)
SIM_LIBS     = $(shell pkg-config --libs libsmpp34 2>/dev/null || echo -lsmpp34) -lssl -lcrypto

simulator: test/sim/mobisign-sim

test/sim/mobisign-sim: $(SIM_SRCS) $(SIM_HDRS) test/sim/sim.mk
	$(SIM_CC) $(SIM_CFLAGS) -o $@ $(SIM_SRCS) $(SIM_LIBS)
