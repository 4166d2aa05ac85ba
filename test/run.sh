#!/usr/bin/env bash
# mobisign's whole test run (`make test`):
#
#   deps -> build (-Werror) -> install -> codec, input and signer unit tests ->
#   fuzz -> simulator self-test -> fixtures (test/regress/fixtures.sh) ->
#   private cluster -> pg_regress (make installcheck) -> pgTAP -> PKITS -> Wycheproof -> e2e/*.sh
#
# Every phase runs even if an earlier one failed (once the build succeeded);
# a summary follows and the exit status is non-zero if any phase failed.
# Everything started here is stopped on exit; temp dirs are removed
# (set MOBISIGN_KEEP_TMP=1 to keep them for a post-mortem).
#
# Environment:
#   MOBISIGN_TEST_PORT   port of the private cluster (default: a free one)
#   MOBISIGN_SKIP_DEPS=1 do not run test/deps.sh
#   MOBISIGN_E2E_TIMEOUT seconds allowed per e2e script (default 900)
#   MOBISIGN_SKIP_E2E=1  do not run test/e2e/*.sh (quick runs while developing)
#   MOBISIGN_FUZZ_SECONDS seconds per fuzz harness (default 10; 0 skips fuzzing)
set -uo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$MOBISIGN_ROOT" || exit 1

TMP=$(ms_readable_dir) || exit 1
CLUSTER="$TMP/cluster"
FIXTURES="$TMP/fixtures"
mkdir -p "$CLUSTER"
export MOBISIGN_FIXTURES=$FIXTURES

cleanup() {
	local rc=$?
	ms_cluster_stop "$CLUSTER" || true
	if [ "${MOBISIGN_KEEP_TMP:-0}" = 1 ]; then
		echo "run.sh: kept $TMP"
	else
		rm -rf "$TMP"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -a PHASE_NAMES=() PHASE_RESULTS=() PHASE_TIMES=() SUITE_LINES=()
FAILED=0

# phase NAME COMMAND...: run one phase, record PASS/FAIL and its duration.
phase() {
	local name=$1 t0 rc
	shift
	printf '\n=== %s ===\n' "$name"
	t0=$(date +%s)
	"$@"
	rc=$?
	PHASE_NAMES+=("$name")
	PHASE_TIMES+=("$(($(date +%s) - t0))s")
	if [ $rc -eq 0 ]; then
		PHASE_RESULTS+=(PASS)
	else
		PHASE_RESULTS+=("FAIL (exit $rc)")
		FAILED=1
	fi
	return $rc
}

skip() { # NAME REASON
	printf '\n=== %s ===\nskipped: %s\n' "$1" "$2"
	PHASE_NAMES+=("$1")
	PHASE_TIMES+=("-")
	PHASE_RESULTS+=("SKIP ($2)")
}

summary() {
	printf '\n=== summary ===\n'
	local i
	for i in "${!PHASE_NAMES[@]}"; do
		printf '%-28s %-6s %s\n' "${PHASE_NAMES[$i]}" "${PHASE_TIMES[$i]}" "${PHASE_RESULTS[$i]}"
	done
	for i in "${SUITE_LINES[@]}"; do
		printf '%s\n' "$i"
	done
	if [ $FAILED -eq 0 ]; then
		echo "ALL PASSED"
	else
		echo "FAILED"
	fi
}

# ------------------------------------------------------------------ phases
do_deps() {
	if [ "${MOBISIGN_SKIP_DEPS:-0}" = 1 ]; then
		echo "MOBISIGN_SKIP_DEPS=1: not checking packages"
		return 0
	fi
	bash test/deps.sh
}

do_build() {
	# Warnings are errors (the Makefile says so too; COPT makes sure).
	# One build at a time on this machine.
	flock /tmp/mobisign-build.lock make -s install COPT=-Werror
}

do_codec() {
	bash test/codec/run.sh
}

do_input() {
	bash test/input/run.sh
}

do_signer() {
	bash test/signer/run.sh
}

do_sim_selftest() {
	# free loopback ports: a fixed one may be taken by another engineer's run
	SIM_PORT=$(ms_free_port) SIM_PORT2=$(ms_free_port) bash test/sim/selftest.sh
}

do_fuzz() {
	FUZZ_SECONDS=${MOBISIGN_FUZZ_SECONDS:-10} FUZZ_OUT="$TMP/fuzz" bash test/fuzz/run.sh
}

do_fixtures() {
	# the same set `make installcheck` makes (PKIs, signatures, a SIM world)
	bash test/regress/fixtures.sh "$FIXTURES"
}

do_cluster() {
	local port=${MOBISIGN_TEST_PORT:-}
	[ -n "$port" ] || port=$(ms_free_port) || return 1
	ms_cluster_start "$CLUSTER" "$port" && echo "cluster: port $port, socket dir $CLUSTER"
}

do_regress() {
	# the Makefile's pg_regress invocation (make installcheck), against the
	# private cluster and the fixtures made above
	local out="$TMP/regress" rc=0
	mkdir -p "$out"
	make -s installcheck MOBISIGN_FIXTURES="$FIXTURES" REGRESS_OUT="$out" \
		PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres || rc=$?
	if [ $rc -ne 0 ] && [ -f "$out/regression.diffs" ]; then
		echo "--- regression.diffs (first 300 lines) ---"
		head -n 300 "$out/regression.diffs"
	fi
	return $rc
}

do_pgtap() {
	local files=(test/pgtap/*.sql)
	[ -e "${files[0]}" ] || { echo "no pgTAP tests in test/pgtap" >&2; return 1; }
	ms_psql -q -d postgres -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS mobisign_tap' -c 'CREATE DATABASE mobisign_tap' &&
		ms_psql -q -d mobisign_tap -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION mobisign' &&
		pg_prove --ext .sql -h "$PGHOST" -p "$PGPORT" -U postgres -d mobisign_tap "${files[@]}"
}

# external SUITE: run test/external/SUITE/run.py, keep its summary line
do_external() {
	local suite=$1 log="$TMP/$1.log" rc=0
	python3 "test/external/$suite/run.py" 2>&1 | tee "$log" || rc=$?
	local line
	line=$(grep -E '^(PKITS|Wycheproof):' "$log" | tail -n 1)
	SUITE_LINES+=("${line:-$suite: no summary line (exit $rc)}")
	return $rc
}

do_e2e() {
	local f=$1
	timeout --kill-after=30 "${MOBISIGN_E2E_TIMEOUT:-900}" bash "$f" </dev/null
}

# ------------------------------------------------------------------ run
echo "mobisign test run: $MOBISIGN_ROOT (shared: $MOBISIGN_SHARED, temp: $TMP)"

phase "deps" do_deps || { summary; exit 1; }
phase "build + install" do_build || { summary; exit 1; }

if [ -f test/codec/run.sh ]; then
	phase "codec unit tests" do_codec
else
	skip "codec unit tests" "no test/codec/run.sh"
fi

phase "input unit tests" do_input
phase "signer unit tests" do_signer

if [ -f test/fuzz/run.sh ] && [ "${MOBISIGN_FUZZ_SECONDS:-10}" != 0 ]; then
	phase "fuzz (codecs, outside input)" do_fuzz
fi
if [ -f test/sim/selftest.sh ]; then
	phase "simulator self-test" do_sim_selftest
fi

phase "fixtures" do_fixtures
fixtures_ok=$?

phase "cluster" do_cluster
cluster_ok=$?

if [ $cluster_ok -eq 0 ] && [ $fixtures_ok -eq 0 ]; then
	phase "pg_regress" do_regress
else
	skip "pg_regress" "no cluster or fixtures"
fi
if [ $cluster_ok -eq 0 ]; then
	phase "pgTAP" do_pgtap
	for suite in pkits wycheproof; do
		if [ ! -d "$MOBISIGN_SHARED/testdata/$suite" ]; then
			# the suites are part of the contract: missing data is a failure
			echo "missing $MOBISIGN_SHARED/testdata/$suite" >&2
			phase "external: $suite" false
		else
			phase "external: $suite" do_external "$suite"
		fi
	done
else
	skip "pgTAP" "no cluster"
	skip "external suites" "no cluster"
fi
ms_cluster_stop "$CLUSTER"

shopt -s nullglob
e2e=(test/e2e/*.sh)
shopt -u nullglob
if [ "${MOBISIGN_SKIP_E2E:-0}" = 1 ]; then
	skip "e2e" "MOBISIGN_SKIP_E2E=1"
	e2e=()
elif [ ${#e2e[@]} -eq 0 ]; then
	skip "e2e" "no test/e2e/*.sh"
fi
for f in "${e2e[@]}"; do
	phase "e2e: ${f##*/}" do_e2e "$f"
done

summary
exit $FAILED
