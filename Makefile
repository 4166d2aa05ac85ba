# mobisign: PGXS build of the extension, the simulator and the test suites.
#
#   make            build mobisign.so and test/sim/mobisign-sim
#   make install    install the extension into the PostgreSQL found by PG_CONFIG
#   make test       everything (installs missing packages, private cluster, all suites)
#   make demo       a private cluster + simulator, one authentication and one signature
#   make bench      speed figures as ratios to references measured in the same run
#   make fuzz       every fuzz harness for FUZZ_SECONDS each (default 300); only
#                   some: make fuzz FUZZ_HARNESSES="fuzz_der_input fuzz_ocsp_response"

PG_CONFIG ?= $(shell command -v pg_config 2>/dev/null || echo /usr/lib/postgresql/15/bin/pg_config)

MODULE_big = mobisign
EXTENSION  = mobisign

# One concern per file (layout: README.md); the wire codecs in codec/ are plain
# C shared with the simulator and the fuzzers (see codec/README.md), and so are the decoders of
# outside input in extension/input/ (certificates, CRLs, CMS, OCSP, HTTP, LDAP).
EXT_SRCS   = $(sort $(wildcard extension/*.c))
INPUT_SRCS = $(sort $(wildcard extension/input/*.c))
CODEC_SRCS = $(sort $(wildcard codec/*.c))
WORKER_SRCS = $(sort $(wildcard worker/*.c))
OBJS = $(EXT_SRCS:.c=.o) $(INPUT_SRCS:.c=.o) $(WORKER_SRCS:.c=.o) $(CODEC_SRCS:.c=.o)

# The install script is assembled from ordered parts so that each concern
# (schema, audit, PKI, transactions...) stays in its own file.
SQL_PARTS = $(sort $(wildcard sql/parts/*.sql))
DATA_built = sql/mobisign--1.0.sql

PG_CPPFLAGS = -I$(CURDIR)/extension -I$(CURDIR)/extension/input -I$(CURDIR)/worker -I$(CURDIR)/codec \
	$(shell pkg-config --cflags openssl libsmpp34 2>/dev/null)
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare -Werror
SHLIB_LINK = $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto) \
	-lldap -llber $(shell pkg-config --libs libsmpp34 2>/dev/null || echo -lsmpp34)

EXTRA_CLEAN = sql/mobisign--1.0.sql test/sim/mobisign-sim test/results test/regress/results \
	test/regress/regression.diffs test/regress/regression.out

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track header dependencies: any header change rebuilds all.
HEADERS = $(wildcard extension/*.h extension/input/*.h worker/*.h codec/*.h)
$(OBJS): $(HEADERS)

sql/mobisign--1.0.sql: $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

all: sql/mobisign--1.0.sql simulator

-include test/sim/sim.mk

.PHONY: test demo bench deps simulator fuzz

deps:
	bash test/deps.sh

test:
	bash test/run.sh

demo:
	bash test/demo.sh

bench:
	bash test/bench/run.sh

FUZZ_SECONDS ?= 300
FUZZ_HARNESSES ?=
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash test/fuzz/run.sh $(FUZZ_HARNESSES)
