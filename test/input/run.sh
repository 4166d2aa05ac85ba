#!/bin/bash
# Builds and runs the known-answer tests of the decoders of outside input
# (extension/input), TAP output, under ASan/UBSan, against the PKIs, OCSP
# responses and signatures test/fuzz/pki_seeds.sh makes at run time.
# Exit status non-zero on a build failure or a failing test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
CC="${CC:-cc}"
"$CC" -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O1 -g \
	-fsanitize=address,undefined -fno-sanitize-recover=all \
	-I"$root/extension/input" -I"$root/test/lib" \
	"$here/test_input.c" "$root"/test/lib/tap.c "$root"/extension/input/*.c \
	-lcrypto -o "$out/test_input"
bash "$root/test/fuzz/pki_seeds.sh" "$out/data"
"$out/test_input" "$out/data"
