# mobisign: PGXS build of the extension, the simulator and the test suites.
#
#   make            build mobisign.so and test/sim/mobisign-sim
#   make install    install the extension into the PostgreSQL found by PG_CONFIG
#   make test       everything (installs missing packages, private cluster, all suites)
#   make demo       a private cluster + simulator, one authentication and one signature
#   make demo-web   the same with the demo web service: log in and sign in a browser,
#                   answer on the phone page (runs until Ctrl-C)
#   make bench      speed figures as ratios to references measured in the same run
#   make fuzz       every fuzz harness for FUZZ_SECONDS each (default 300); only
#                   some: make fuzz FUZZ_HARNESSES="fuzz_der_input fuzz_ocsp_response"
#   make installcheck   the pg_regress suites (test/regress) against a running
#                   cluster (PGHOST, PGPORT, PGUSER as usual; a superuser; the
#                   extension installed and in shared_preload_libraries)
#   make check-one SUITE=70_applications   00_setup, 10_pki and that suite only
#                   (the inner loop; see docs/testing.md)

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
	$(shell pkg-config --cflags openssl libsmpp34 2>/dev/null) \
	$(shell pkg-config --cflags p11-kit-1 2>/dev/null || echo -I/usr/include/p11-kit-1)
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare -Werror
SHLIB_LINK = $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto) \
	-lldap -llber -ldl $(shell pkg-config --libs libsmpp34 2>/dev/null || echo -lsmpp34)

# pg_regress: test/regress/sql/NN_name.sql against expected/NN_name.out, in
# name order, in database mobisign_regress.  The suites read fixtures the
# server itself must read (pg_read_binary_file, key files named in GUCs):
# they are made by test/regress/fixtures.sh in MOBISIGN_FIXTURES, a directory
# under /tmp (the clone may be unreadable to the postgres OS user), once per
# change of their generators.  REGRESS_OUT is where results/ and the diffs go.
REGRESS = $(basename $(notdir $(sort $(wildcard test/regress/sql/*.sql))))
REGRESS_OUT ?= test/regress
REGRESS_OPTS = --inputdir=test/regress --outputdir=$(REGRESS_OUT)
MOBISIGN_FIXTURES ?= /tmp/mobisign-fixtures-$(shell id -u)-$(shell printf '%s' '$(CURDIR)' | cksum | cut -d' ' -f1)
MOBISIGN_SIM = $(CURDIR)/test/sim/mobisign-sim
MOBISIGN_LISTEN = $(CURDIR)/test/regress/listen.sh
MOBISIGN_REGRESS_INCLUDE = $(CURDIR)/test/regress/include
REGRESS_PREP = regress-fixtures
export MOBISIGN_FIXTURES MOBISIGN_SIM MOBISIGN_LISTEN MOBISIGN_REGRESS_INCLUDE

EXTRA_CLEAN = sql/mobisign--1.0.sql test/sim/mobisign-sim gateway/mobisign-gateway test/results test/regress/results \
	test/regress/regression.diffs test/regress/regression.out

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# after pgxs.mk: its REGRESS_OPTS name this database last
CONTRIB_TESTDB = mobisign_regress

# PGXS does not track header dependencies: any header change rebuilds all.
HEADERS = $(wildcard extension/*.h extension/input/*.h worker/*.h codec/*.h)
$(OBJS): $(HEADERS)

sql/mobisign--1.0.sql: $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

all: sql/mobisign--1.0.sql simulator gateway

-include test/sim/sim.mk
-include gateway/gateway.mk

.PHONY: test demo demo-web bench deps simulator gateway fuzz regress-fixtures check-one

regress-fixtures: $(MOBISIGN_FIXTURES)/.complete

$(MOBISIGN_FIXTURES)/.complete: test/fixtures/generate.sh test/fixtures/strict.py test/regress/fixtures.sh test/sim/mobisign-sim
	bash test/regress/fixtures.sh $(MOBISIGN_FIXTURES)

# The inner loop: install, then the shared setup (00_setup, 10_pki: the
# PKIs the other suites use) and one suite, against the running cluster.
SUITE ?=
check-one:
	@test -n "$(SUITE)" || { echo "usage: make check-one SUITE=70_applications" >&2; exit 2; }
	@test -f test/regress/sql/$(SUITE).sql || { echo "no test/regress/sql/$(SUITE).sql" >&2; exit 2; }
	$(MAKE) -s install
	$(MAKE) installcheck REGRESS="$(sort 00_setup 10_pki $(SUITE))"

deps:
	bash test/deps.sh

test:
	bash test/run.sh

demo:
	bash test/demo.sh

demo-web:
	bash test/demo-web.sh

bench:
	bash test/bench/run.sh

FUZZ_SECONDS ?= 300
FUZZ_HARNESSES ?=
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash test/fuzz/run.sh $(FUZZ_HARNESSES)
