#!/usr/bin/env bash
# Does audit sealing keep up at the peak's audit rate?  (docs/worker.md, the
# loop, step 7: the housekeeping batches adapt to the backlog.)  Runs alone,
# after make and make install, or with MOBISIGN_DESTDIR (as test/bench/e2e.sh).
#
#   load     two clients write audit rows through mobisign.audit_log(), paced
#            at BENCH_SEAL_RATE rows/s in all (default 3000: the issue's
#            peak) for BENCH_SEAL_SECONDS (default 30), in transactions of
#            BENCH_SEAL_TX rows (default 10), while the worker (and its
#            verifiers: BENCH_ANSWER_WORKERS, default the GUC's) keep house
#   sampled  the rows not sealed yet, every second
#
#   RESULT audit_unsealed_max value=<most seen> rows reference=<rows written in 2 s> ratio=<v/r> target=<=1 pass|short
#
# The backlog must stay below two seconds of rows (the housekeeping round
# is a second) and must not grow: the last third's most seen is printed too.
# Every wait is bounded.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$MOBISIGN_ROOT"

rate=${BENCH_SEAL_RATE:-3000}
secs=${BENCH_SEAL_SECONDS:-30}
per_tx=${BENCH_SEAL_TX:-10}
[ "$rate" -ge 10 ] && [ "$rate" -le 20000 ] || { echo "seal: BENCH_SEAL_RATE must be 10..20000" >&2; exit 2; }
[ "$secs" -ge 5 ] && [ "$secs" -le 300 ] || { echo "seal: BENCH_SEAL_SECONDS must be 5..300" >&2; exit 2; }
[ "$per_tx" -ge 1 ] && [ "$per_tx" -le 1000 ] || { echo "seal: BENCH_SEAL_TX must be 1..1000" >&2; exit 2; }
if [ -n "${MOBISIGN_DESTDIR:-}" ]; then
	PGBIN=$MOBISIGN_DESTDIR/usr/lib/postgresql/15/bin
fi
work=$(ms_readable_dir)
c1= c2=
cleanup() {
	for p in $c1 $c2; do kill "$p" 2>/dev/null || true; done
	ms_cluster_stop "$work/pg" || true
	rm -rf "$work"
}
trap cleanup EXIT
q() { ms_psql -qAt -c "$1"; }

mkdir -p "$work/pg"
ms_cluster_start "$work/pg" "$(ms_free_port)" >/dev/null
q "CREATE EXTENSION mobisign" >/dev/null
if [ -n "${BENCH_ANSWER_WORKERS:-}" ]; then
	q "ALTER SYSTEM SET mobisign.answer_workers = ${BENCH_ANSWER_WORKERS}" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
fi
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign worker'")" = 1 ] && break
	sleep 0.1
done
sleep 2 # the verifiers start at the worker's first round
workers=$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign verifier'")
ms_psql -q >/dev/null <<'SQL'
-- rows transactions of per_tx audit rows, the i-th at t0 + i / tx_rate
CREATE PROCEDURE bench_audit(count integer, per_tx integer, tx_rate float8, t0 timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 0 .. count - 1 LOOP
        PERFORM pg_sleep(greatest(0, extract(epoch FROM t0 + make_interval(secs => i / tx_rate) - clock_timestamp())));
        PERFORM mobisign.audit_log('bench.seal', 'success', jsonb_build_object('i', i, 'j', j))
           FROM generate_series(1, per_tx) j;
        COMMIT;
    END LOOP;
END $$;
SQL
ntx=$((rate * secs / per_tx / 2))
echo "== sealing: $rate audit rows/s for $secs s (two clients, $per_tx rows per transaction), $workers answer verifiers"
for c in 1 2; do
	ms_psql -qAt -c "CALL bench_audit($ntx, $per_tx, $rate / $per_tx / 2.0, now() + interval '1 s')" >/dev/null &
	eval "c$c=\$!"
done
: >"$work/unsealed"
for i in $(seq 1 $((secs + 60))); do
	q "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL" >>"$work/unsealed"
	kill -0 "$c1" 2>/dev/null || kill -0 "$c2" 2>/dev/null || break
	if [ $((i % 5)) = 0 ]; then
		echo "  ... ${i} s: $(tail -n 1 "$work/unsealed") rows unsealed"
	fi
	sleep 1
done
wait "$c1" "$c2"
c1= c2=
written=$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'bench.seal'")
n=$(wc -l <"$work/unsealed")
most=$(sort -n "$work/unsealed" | tail -n 1)
late=$(tail -n $((n / 3 + 1)) "$work/unsealed" | sort -n | tail -n 1)
for _ in $(seq 1 60); do
	[ "$(q "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL")" = 0 ] && break
	sleep 0.5
done
left=$(q "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL")
chain=$(q "SELECT CASE WHEN intact THEN 'intact, ' || rows_checked || ' rows' ELSE 'BROKEN: ' || reason END FROM mobisign_audit_verify()")
printf '%-52s %12s\n' "audit rows written" "$written"
printf '%-52s %12s\n' "unsealed, most seen (sampled every second)" "$most"
printf '%-52s %12s\n' "unsealed, most seen in the last third" "$late"
printf '%-52s %12s\n' "unsealed 30 s after the load" "$left"
printf '%-52s %12s\n' "audit chain (mobisign_audit_verify)" "$chain"
echo
awk -v v="$most" -v r="$((2 * rate))" -v ok="$([ "$left" = 0 ] && echo 1 || echo 0)" 'BEGIN {
	printf "RESULT audit_unsealed_max value=%d rows reference=%d ratio=%.3f target=<=1 %s\n",
		v, r, v / r, (v <= r && ok ? "pass" : "short") }'
