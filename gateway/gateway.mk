# gateway/gateway.mk: the HTTP gateway, included by the top Makefile.
#
#   make gateway        builds gateway/mobisign-gateway
#
# A C program of its own (not part of the extension): libmicrohttpd, libpq
# and jansson from Debian (test/deps.sh), OpenSSL for base64 and random
# numbers.  It reads extension/domain.h for mobisign's status codes and
# names (their one home) and codec/applet.h through it.

GW_CC      ?= cc
GW_SRCS     = $(sort $(wildcard gateway/*.c))
GW_HDRS     = $(wildcard gateway/*.h) extension/domain.h codec/applet.h
GW_CFLAGS   = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-missing-field-initializers \
	-Igateway -Iextension -Icodec -I$(shell $(PG_CONFIG) --includedir 2>/dev/null || echo /usr/include/postgresql) \
	$(shell pkg-config --cflags libmicrohttpd jansson 2>/dev/null)
GW_LIBS     = $(shell pkg-config --libs libmicrohttpd jansson 2>/dev/null || echo -lmicrohttpd -ljansson) \
	-L$(shell $(PG_CONFIG) --libdir 2>/dev/null || echo /usr/lib) -lpq -lcrypto -lpthread

gateway: gateway/mobisign-gateway

gateway/mobisign-gateway: $(GW_SRCS) $(GW_HDRS) gateway/gateway.mk
	$(GW_CC) $(GW_CFLAGS) -o $@ $(GW_SRCS) $(GW_LIBS)
