#!/bin/bash
# Builds and runs the differential test of extension/signer_verify.c (the
# prepared-context check of a SignerInfo's signed attributes) against
# OpenSSL's CMS_SignerInfo_verify() and CMS_verify(), TAP output, under
# ASan/UBSan, on SignedData made at run time (test_signer_verify.c).
# signer_verify.c is built unchanged against the server's headers, with
# the malloc-backed MsScope of scope_stub.c; nothing else of the server.
# Exit status non-zero on a build failure or a failing test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
CC="${CC:-cc}"
server_inc="$("${PG_CONFIG:-pg_config}" --includedir-server)"
flags=(-Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all)
# the extension's unit with the server's headers (as PGXS builds it)
"$CC" -std=gnu99 "${flags[@]}" -I"$server_inc" -I"$root/extension" \
	-c "$root/extension/signer_verify.c" -o "$out/signer_verify.o"
"$CC" -std=c99 -D_POSIX_C_SOURCE=200809L "${flags[@]}" -I"$here" -I"$root/test/lib" \
	"$here/test_signer_verify.c" "$here/signer_cms.c" "$here/signer_menu.c" "$here/signer_oracle.c" "$here/scope_stub.c" "$root/test/lib/tap.c" "$out/signer_verify.o" \
	-lcrypto -o "$out/test_signer_verify"
"$out/test_signer_verify"
