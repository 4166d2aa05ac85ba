#!/usr/bin/env bash
# make bench: mobisign's verification speed and memory, each shown as a ratio
# to a reference measured in the same run on the same machine (these machines
# are noisy: absolute figures mean little, ratios travel).
#
#   reference  test/bench/reference.c: the same OpenSSL calls from C, no database
#   mobisign   the SQL API in a private cluster (one backend, no concurrency)
#
# BENCH_SECONDS (default 3) bounds each measurement.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$MOBISIGN_ROOT"
secs=${BENCH_SECONDS:-3}

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
make -s install >/dev/null
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
ms_psql -q -v fx="$work/fx" <<'SQL' >/dev/null
CREATE TABLE fx AS SELECT f AS name, pg_read_binary_file(:'fx' || '/' || f) AS data
  FROM pg_ls_dir(:'fx') f WHERE f ~ '\.(der|p7s|txt|sig)$';
SELECT mobisign_add_pki('alpha', ARRAY[(SELECT data FROM fx WHERE name = 'alpha-root.der')],
                        intermediates => ARRAY[(SELECT data FROM fx WHERE name = 'alpha-int.der')]);
SELECT mobisign_add_crl('alpha', (SELECT data FROM fx WHERE name = 'alpha-root.crl.der'));
SELECT mobisign_add_crl('alpha', (SELECT data FROM fx WHERE name = 'alpha-int.crl.der'));
-- a timed loop: how many calls of one operation fit in the given time; the
-- arguments are fetched once, so only the call itself is measured
CREATE FUNCTION bench(op text, secs float8) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp(); n bigint := 0; ok boolean;
    alice bytea := (SELECT data FROM fx WHERE name = 'alice-rsa.der');
    bob bytea := (SELECT data FROM fx WHERE name = 'bob-ec.der');
    p7s bytea := (SELECT data FROM fx WHERE name = 'alice-detached-chain.p7s');
    content bytea := (SELECT data FROM fx WHERE name = 'content.txt');
    raw bytea := (SELECT data FROM fx WHERE name = 'bob-raw-sha256.sig');
BEGIN
    LOOP
        CASE op
            WHEN 'validate' THEN
                SELECT valid INTO ok FROM mobisign_validate_certificate(alice, pki => 'alpha');
            WHEN 'validate_noaudit' THEN
                SELECT valid INTO ok FROM mobisign._validate_certificate(alice, NULL, 'alpha', NULL);
            WHEN 'cms_verify' THEN
                SELECT valid INTO ok FROM mobisign_verify(p7s, content, pki => 'alpha');
            WHEN 'raw_ecdsa' THEN
                ok := mobisign_verify_signature(bob, content, raw, 'ecdsa-sha256');
            WHEN 'raw_ecdsa_noaudit' THEN
                ok := mobisign._verify_signature(bob, content || ''::bytea, raw, 'ecdsa-sha256');
        END CASE;
        IF NOT ok THEN RAISE EXCEPTION 'bench operation % failed', op; END IF;
        n := n + 1;
        EXIT WHEN clock_timestamp() - t0 > make_interval(secs => secs);
    END LOOP;
    RETURN n / extract(epoch FROM clock_timestamp() - t0)::float8;
END $$;
SQL

echo "== mobisign (SQL API, ${secs}s each)"
q() { ms_psql -qAt -c "$1"; }
alice="(SELECT data FROM fx WHERE name = 'alice-rsa.der')"
declare -A ms
for op in validate validate_noaudit cms_verify raw_ecdsa raw_ecdsa_noaudit; do
	ms[$op]=$(q "SELECT bench('$op', $secs)")
done

# memory: the backend's resident size after 500 and after 5000 more
# validations; a ratio near 1.00 means nothing grows per call
mem=$(ms_psql -qAt <<SQL
SELECT count(*) FROM generate_series(1, 500), mobisign_validate_certificate($alice, pki => 'alpha');
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmRSS:\s+(\d+)'))[1];
SELECT count(*) FROM generate_series(1, 5000), mobisign_validate_certificate($alice, pki => 'alpha');
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmRSS:\s+(\d+)'))[1];
SQL
)
rss1=$(echo "$mem" | sed -n 2p)
rss2=$(echo "$mem" | sed -n 4p)

# the reference runs again after mobisign; its mean over both runs is used
echo "== reference again"
"$work/reference" "$work/fx" "$secs" | tee "$work/ref2.txt"
# ---- the SIM channel, end to end through the worker and the simulator
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

ref() { awk -v k="$1" '$1 == k { s += $2; n++ } END { print s / n }' "$work/ref1.txt" "$work/ref2.txt"; }
echo
echo "== results (ratio = mobisign / reference; 1.00 = as fast as bare OpenSSL)"
printf '%-34s %12s %12s %8s\n' "operation" "mobisign/s" "reference/s" "ratio"
row() { printf '%-34s %12.1f %12.1f %8.2f\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { print a / b }')"; }
row "path validation (API, audited)" "${ms[validate]}" "$(ref validate)"
row "path validation (no audit row)" "${ms[validate_noaudit]}" "$(ref validate)"
row "CMS verify + signer path" "${ms[cms_verify]}" "$(ref cms_verify)"
row "raw ECDSA P-256 verify (API)" "${ms[raw_ecdsa]}" "$(ref raw_ecdsa)"
row "raw ECDSA P-256 (no audit row)" "${ms[raw_ecdsa_noaudit]}" "$(ref raw_ecdsa)"
printf '%-34s %12s %12s %8.2f\n' "backend RSS after 5500 / after 500" "${rss2} kB" "${rss1} kB" \
	"$(awk -v a="$rss2" -v b="$rss1" 'BEGIN { print a / b }')"
echo
echo "== SIM channel (ratio = mobisign / the simulator's own client, authentications per second)"
printf '%-34s %12s %12s %8s\n' "operation" "mobisign/s" "reference/s" "ratio"
refrate=$(awk -v n="$n" -v ms="$ref_ms" 'BEGIN { print n * 1000 / ms }')
row "one at a time (authenticate+wait)" "$(awk -v n="$n" -v ms="$seq_ms" 'BEGIN { print n * 1000 / ms }')" "$refrate"
row "burst of $n queued at once" "$(awk -v n="$n" -v ms="$burst_ms" 'BEGIN { print n * 1000 / ms }')" "$refrate"

# keys in a token vs key files (its own cluster; RESULT enqueue_token_vs_file)
bash "$MOBISIGN_ROOT/test/bench/hsm.sh"
