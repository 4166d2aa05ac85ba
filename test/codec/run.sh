#!/bin/bash
# Builds and runs the wire-codec known-answer tests (TAP output).
# Exit status non-zero on a build failure or a failing test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
CC="${CC:-cc}"
"$CC" -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O1 -g \
	-fsanitize=address,undefined -fno-sanitize-recover=all \
	-I"$root/codec" -I"$root/test/lib" \
	"$here"/test_*.c "$root"/test/lib/tap.c "$root"/codec/*.c \
	-lcrypto -o "$out/test_codec"
"$out/test_codec"
