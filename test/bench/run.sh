#!/usr/bin/env bash
# make bench: mobisign's verification speed and memory, each shown as a ratio
# to a reference measured in the same run on the same machine (these machines
# are noisy: absolute figures mean little, ratios travel).
#
#   reference  test/bench/reference.c: the irreducible work of a verification,
#              one EVP_DigestVerify with a key parsed once (openssl speed style),
#              for ECDSA P-256 and RSA-2048
#   mobisign   the SQL API in a private cluster (one backend, no concurrency),
#              on the PKIs gamma (all P-256) and delta (all RSA-2048): a root,
#              an intermediate, a user, a CRL from each CA
#
# Both sides are counted per second of elapsed time and per second of their
# own CPU time (the reference process's, the backend's: /proc/self/schedstat).
# then test/bench/e2e.sh: authentications per second end to end (worker,
# answer verifiers, simulator) against the simulator driven by a bare SMPP
# client, latency at half that rate, a gnuplot picture (see that script).
#
# The figures with a target (issues 9 and 10) end the output, one line each, per CPU
# second (on a shared machine an elapsed second also holds other processes'
# work, differently for each window, so elapsed-time ratios wander; both are
# in the table above them):
#   RESULT <name> value=<v> ops/cpu-s reference=<r> ratio=<v/r> target=<t> pass|short
# BENCH_SECONDS (default 3) bounds each measurement.  BENCH_ONLY=verify runs
# only the verification part (the reference, the SQL API, memory and their
# RESULT lines): no SIM channel, no token, enqueue, churn, audit or e2e bench.  MOBISIGN_DESTDIR=DIR
# installs into and runs the server of a private copy of PostgreSQL (DIR/usr/
# lib/postgresql/15 and DIR/usr/share/postgresql/15, copied with cp -a)
# instead of the system's: no shared install, so no install lock needed.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$MOBISIGN_ROOT"
secs=${BENCH_SECONDS:-3}
only=${BENCH_ONLY:-}
case "$only" in
'' | verify) ;;
*) echo "bench: BENCH_ONLY is empty or verify, not '$only'" >&2; exit 2 ;;
esac

work=$(ms_readable_dir)
sim_pid=
cleanup() {
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	ms_cluster_stop "$work/pg" || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== build"
make -s all >/dev/null
if [ -n "${MOBISIGN_DESTDIR:-}" ]; then
	# a private copy of the PostgreSQL installation: nothing shared is touched
	make -s install DESTDIR="$MOBISIGN_DESTDIR" >/dev/null
	PGBIN=$MOBISIGN_DESTDIR/usr/lib/postgresql/15/bin
else
	make -s install >/dev/null
fi
cc -O2 -Wall -Wextra -Werror -o "$work/reference" test/bench/reference.c -lcrypto

echo "== fixtures"
mkdir -p "$work/fx"
bash test/fixtures/generate.sh "$work/fx" >/dev/null
chmod -R a+rX "$work/fx"

echo "== reference (C + OpenSSL, ${secs}s each)"
"$work/reference" "$work/fx" "$secs" | tee "$work/ref1.txt"

mkdir -p "$work/pg"
ms_cluster_start "$work/pg" "$(ms_free_port)" >/dev/null
ms_psql -q -c "CREATE EXTENSION mobisign" >/dev/null
ms_psql -q -v fx="$work/fx" -f test/bench/setup.sql >/dev/null

echo "== mobisign (SQL API, ${secs}s each)"
q() { ms_psql -qAt -c "$1"; }
declare -A ms msc
ops="cms_verify cms_verify_noaudit validate validate_noaudit raw_verify raw_verify_noaudit"
for who in gina-ec dora-rsa; do
	for op in $ops; do
		read -r "ms[$op.$who]" "msc[$op.$who]" < <(q "SELECT per_second, coalesce(per_cpu_second, per_second) FROM bench('$op', '$who', $secs)" | tr '|' ' ')
		printf '  %-20s %-9s %10.1f/s %10.1f/cpu-s\n' "$op" "$who" "${ms[$op.$who]}" "${msc[$op.$who]}"
	done
done

# memory: the backend's resident size after 500 and after 5000 more
# validations; a ratio near 1.00 means nothing grows per call
mem=$(ms_psql -qAt <<SQL
SELECT count(*) FROM generate_series(1, 500), mobisign_validate_certificate(fx('gina-ec.der'), pki => 'gamma');
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmRSS:\s+(\d+)'))[1];
SELECT count(*) FROM generate_series(1, 5000), mobisign_validate_certificate(fx('gina-ec.der'), pki => 'gamma');
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmRSS:\s+(\d+)'))[1];
SQL
)
rss1=$(echo "$mem" | sed -n 2p)
rss2=$(echo "$mem" | sed -n 4p)

# the reference runs again after mobisign; its mean over both runs is used
echo "== reference again"
"$work/reference" "$work/fx" "$secs" | tee "$work/ref2.txt"
# ---- the SIM channel, end to end through the worker and the simulator
if [ "$only" != verify ]; then
echo "== SIM channel (mobisign-sim; the simulated users answer at once)"
sim=test/sim/mobisign-sim
smpp=$(ms_free_port)
n=${BENCH_SIM_N:-20}
"$sim" provision --dir "$work/sim" --users $((3 * n)) --port "$smpp" >/dev/null
ms_psql -q -f "$work/sim/register.sql" >/dev/null
"$sim" run --dir "$work/sim" --port "$smpp" --quiet --ready-file "$work/sim.ready" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do [ -s "$work/sim.ready" ] && break; sleep 0.1; done
for _ in $(seq 1 150); do grep -q 'bound as' "$work/sim.log" && break; sleep 0.1; done
user() { printf 'user%04d' "$1"; }
now_ms() { date +%s%3N; }
# reference: the simulator's own ESME (no database), one authentication at a
# time: build, submit, the SIM answers, reassemble, verify (users 1..n)
t0=$(now_ms)
for i in $(seq 1 "$n"); do
	"$sim" client --dir "$work/sim" --port "$smpp" --user "$(user "$i")" >/dev/null 2>&1 ||
		{ echo "bench: the reference client failed for $(user "$i")" >&2; exit 1; }
done
ref_ms=$(( $(now_ms) - t0 ))
# mobisign, one at a time: authenticate, then wait for the final state (users n+1..2n)
t0=$(now_ms)
for i in $(seq $((n + 1)) $((2 * n))); do
	tid=$(q "SELECT transaction_id FROM mobisign_authenticate('$(user "$i")')")
	st=$(q "SELECT status_code FROM mobisign_wait('$tid', '30 s')")
	[ "$st" = 502 ] || { echo "bench: $(user "$i") ended $st" >&2; exit 1; }
done
seq_ms=$(( $(now_ms) - t0 ))
# mobisign, a burst: n authentications queued at once (users 2n+1..3n)
t0=$(now_ms)
q "SELECT count(*) FROM generate_series($((2 * n + 1)), $((3 * n))) g,
          mobisign_authenticate(format('user%s', lpad(g::text, 4, '0')))" >/dev/null
for _ in $(seq 1 600); do
	[ "$(q "SELECT count(*) FROM mobisign.transaction WHERE status_code = 502")" = $((2 * n)) ] && break
	sleep 0.05
done
burst_ms=$(( $(now_ms) - t0 ))
[ "$(q "SELECT count(*) FROM mobisign.transaction WHERE status_code = 502")" = $((2 * n)) ] ||
	{ echo "bench: the burst did not complete" >&2; exit 1; }
fi

# ref KEY [COLUMN]: the reference's mean over both runs (column 2: per
# second, 3: per CPU second)
ref() { awk -v k="$1" -v c="${2:-2}" '$1 == k { s += $c; n++ } END { print s / n }' "$work/ref1.txt" "$work/ref2.txt"; }
echo
echo "== results (ratio = mobisign / reference: one EVP_DigestVerify of the same key type)"
printf '%-46s %12s %12s %8s %12s %12s %8s\n' "operation" "mobisign/s" "reference/s" "ratio" \
	"mobisign/cpu" "ref/cpu" "ratio"
row() { printf '%-46s %12.1f %12.1f %8.2f' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { print a / b }')"
	[ $# -gt 3 ] && printf ' %12.1f %12.1f %8.2f' "$4" "$5" "$(awk -v a="$4" -v b="$5" 'BEGIN { print a / b }')"
	echo; }
declare -A label=(
	[cms_verify]="CMS verify, chain + CRLs (API)"
	[cms_verify_noaudit]="CMS verify (no audit or signer row)"
	[validate]="path validation + CRLs (API)"
	[validate_noaudit]="path validation (no audit row)"
	[raw_verify]="raw verify_signature (API)"
	[raw_verify_noaudit]="raw verify_signature (no audit row)")
for who in gina-ec dora-rsa; do
	key=$([ "$who" = gina-ec ] && echo p256 || echo rsa2048)
	for op in $ops; do
		row "${label[$op]} $key" "${ms[$op.$who]}" "$(ref "$key")" "${msc[$op.$who]}" "$(ref "$key" 3)"
	done
done
printf '%-46s %12s %12s %8.2f\n' "backend RSS after 5500 / after 500" "${rss2} kB" "${rss1} kB" \
	"$(awk -v a="$rss2" -v b="$rss1" 'BEGIN { print a / b }')"
if [ "$only" != verify ]; then
	echo
	echo "== SIM channel (ratio = mobisign / the simulator's own client, authentications per second)"
	printf '%-34s %12s %12s %8s\n' "operation" "mobisign/s" "reference/s" "ratio"
	refrate=$(awk -v n="$n" -v ms="$ref_ms" 'BEGIN { print n * 1000 / ms }')
	row "one at a time (authenticate+wait)" "$(awk -v n="$n" -v ms="$seq_ms" 'BEGIN { print n * 1000 / ms }')" "$refrate"
	row "burst of $n queued at once" "$(awk -v n="$n" -v ms="$burst_ms" 'BEGIN { print n * 1000 / ms }')" "$refrate"
fi

echo
# the figures with a target, one machine-readable line each (API calls,
# audited), per CPU second of each side
result() { # name value reference target
	awk -v n="$1" -v v="$2" -v r="$3" -v t="$4" 'BEGIN {
		printf "RESULT %s value=%.1f ops/cpu-s reference=%.1f ratio=%.3f target=%s %s\n",
			n, v, r, v / r, t, (v / r >= t ? "pass" : "short") }'
}
for who in gina-ec dora-rsa; do
	key=$([ "$who" = gina-ec ] && echo p256 || echo rsa2048)
	result "cms_verify_$key" "${msc[cms_verify.$who]}" "$(ref "$key" 3)" 0.3
	result "path_validation_$key" "${msc[validate.$who]}" "$(ref "$key" 3)" 0.3
	result "raw_verify_$key" "${msc[raw_verify.$who]}" "$(ref "$key" 3)" 0.5
done
# memory: nothing may grow per call (at most 5 % over 5000 calls)
awk -v a="$rss2" -v b="$rss1" 'BEGIN {
	printf "RESULT memory_rss_5500_over_500 value=%d kB reference=%d ratio=%.3f target=<=1.05 %s\n",
		a, b, a / b, (a / b <= 1.05 ? "pass" : "short") }'
[ "$only" != verify ] || exit 0
# keys in a token vs key files (its own cluster; RESULT enqueue_token_vs_file)
bash "$MOBISIGN_ROOT/test/bench/hsm.sh"
# issue 10, each in its own cluster, each ending with its RESULT lines (times
# measured on the 2 shared cores at a load average of 6-7):
# mobisign_authenticate() vs INSERT, 8 clients (1 min); queue health and
# memory over 20,000 API and 100,000 table-driven transactions (3 min);
# mobisign_audit_verify() over 1,000,000 rows vs sha256() (2 min)
bash "$MOBISIGN_ROOT/test/bench/enqueue.sh"
bash "$MOBISIGN_ROOT/test/bench/churn.sh"
bash "$MOBISIGN_ROOT/test/bench/audit.sh"

# end to end through the worker, the answer verifiers and the simulator, for
# a backlog of the issue's 20,000 ECDSA SIMs (BENCH_E2E_SIMS), against the
# simulator driven by a bare SMPP client (its own cluster; RESULT
# e2e_authentications_ecdsa, e2e_latency_p99_half_rate, and
# test/bench/results/e2e.png); about 4 of the whole run's 6.5 minutes
PGBIN=$PGBIN BENCH_E2E_SIMS=${BENCH_E2E_SIMS:-20000} bash "$MOBISIGN_ROOT/test/bench/e2e.sh"
