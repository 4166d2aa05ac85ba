#!/usr/bin/env bash
# make bench, end to end (called by test/bench/run.sh; runs alone too, after
# make and make install, or with MOBISIGN_DESTDIR): authentications per second through the background worker, the
# answer verifiers and the simulator, for a backlog of ECDSA SIMs answering
# at once, against the simulator's own capacity; then the server-side
# latency at half that rate; a gnuplot PNG of both runs.
#
#   backlog    BENCH_E2E_SIMS (default 4000, at most 100000) authentications
#              queued in one transaction; from its commit until the last is
#              final: authentications/s, every one must end 502; the CPU the
#              SMPP worker and the verifiers used, per authentication
#   sustained  authentications queued one per transaction by two clients,
#   peak       offered at the backlog's rate for BENCH_E2E_PEAK_SECONDS
#              (default 10; 0 skips it): the rate the server carries when the
#              requests arrive (their enqueue and their sealing included,
#              which the backlog's drain rate leaves out), from the first
#              queued to the last final
#   half rate  authentications queued one per transaction, paced at half the
#              sustained peak by two clients, for BENCH_E2E_HALF_SECONDS
#              (default 15): latency queued -> completed (created_at ->
#              completed_at) minus that authentication's own simulator time
#              (mobisign-sim run --timing: its command's arrival at the
#              SMSC -> its answer ready to deliver), p50 and p99;
#              BENCH_E2E_HALF_RATE (authentications/s) fixes the pace instead
#              (to compare builds at the same load on a shared machine); the
#              stages of that latency (queued -> submitted -> answer stored ->
#              decided -> committed, and the simulator's part: p50, p99,
#              the slowest 1 % by the server's time)
#   sealing    the audit rows not sealed yet, sampled every second in both
#              runs (the most seen), after them, and mobisign_audit_verify()
#   reference  the same authentications driven by "mobisign-sim client
#              --load" (a bare SMPP client, no database: it builds, submits,
#              reassembles, checks and verifies as the server does), window
#              100 over the same number of binds (and its round trip at
#              window 1, one bind)
#
# The SMSC link's rate cap is raised (max_per_second 10000, window 100) so
# that the link is not what is measured; BENCH_E2E_BINDS (default 2, as an
# operator's account has 2 to 10) opens the link as that many binds, and the
# reference client opens as many sessions (the simulator holds at most 10
# deliver_sm per session unacknowledged: that window is what a backlog's
# answers wait for while the simulator still acts on requests; docs/testing.md).
# mobisign.answer_workers is
# BENCH_ANSWER_WORKERS (default: the GUC's default).  Results (TSV, PNG,
# the server log) go to BENCH_RESULTS (default test/bench/results).
# BENCH_E2E_CONF: more postgresql.conf lines.  Every wait is bounded.
# BENCH_E2E_PROFILE=1 (for profiling, not for figures: it slows the server)
# loads pg_stat_statements and track_functions and prints, after the
# backlog, the CPU per authentication of every server process type and the
# simulator, the top statements and the functions' self times; with
# BENCH_E2E_EXPLAIN_MS=N also the plans of statements that ran N ms or more
# (auto_explain, nested statements too).
# BENCH_E2E_BACKLOG_ONLY=1 stops after the backlog (no half rate, no
# reference, no RESULT lines): for quick before/after comparisons.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$MOBISIGN_ROOT"

n=${BENCH_E2E_SIMS:-4000}
half_secs=${BENCH_E2E_HALF_SECONDS:-15}
results=${BENCH_RESULTS:-$MOBISIGN_ROOT/test/bench/results}
[ "$n" -ge 100 ] && [ "$n" -le 100000 ] || { echo "e2e: BENCH_E2E_SIMS must be 100..100000" >&2; exit 2; }
mkdir -p "$results"
sim=test/sim/mobisign-sim

if [ -n "${MOBISIGN_DESTDIR:-}" ]; then
	PGBIN=$MOBISIGN_DESTDIR/usr/lib/postgresql/15/bin
fi
work=$(ms_readable_dir)
sim_pid=
sampler=
stop_sampler() { [ -n "$sampler" ] && kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; sampler=; }
cleanup() {
	stop_sampler
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "e2e: BENCH_KEEP=1: cluster $work/pg left running (stop it with pg_ctl -D $work/pg/data stop)"
		return
	fi
	ms_cluster_stop "$work/pg" || true
	cp "$work/pg/log" "$results/e2e-server.log" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
q() { ms_psql -qAt -c "$1"; }
now_s() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }
# CPU seconds (user + system) of the processes of a backend_type
cpu_of() {
	local pid total=0 t
	for pid in $(q "SELECT pid FROM pg_stat_activity WHERE backend_type = '$1'"); do
		t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
		total=$((total + t))
	done
	awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

echo "== end to end: $n ECDSA SIMs"
t=$(now_s)
smpp=$(ms_free_port)
"$sim" provision --dir "$work/sim" --users "$n" --key-type ec --port "$smpp" >/dev/null
echo "  provisioned $n SIMs in $(secs_since "$t") s"
mkdir -p "$work/pg"
conf=("max_connections = 60" "track_commit_timestamp = on")
[ "${BENCH_E2E_PROFILE:-0}" = 1 ] && conf+=("shared_preload_libraries = 'mobisign,pg_stat_statements,auto_explain'"
	"track_functions = all" "pg_stat_statements.track = all" "pg_stat_statements.track_planning = on"
	"auto_explain.log_min_duration = '${BENCH_E2E_EXPLAIN_MS:--1}'" "auto_explain.log_nested_statements = on"
	"auto_explain.log_analyze = on" "auto_explain.log_timing = off")
# BENCH_E2E_CONF: more postgresql.conf lines, ';' between them (experiments,
# e.g. "log_min_messages = debug1" for the worker's slow-turn lines)
IFS=';' read -r -a conf_extra <<<"${BENCH_E2E_CONF:-}"
ms_cluster_start "$work/pg" "$(ms_free_port)" "${conf[@]}" ${conf_extra[@]+"${conf_extra[@]}"} >/dev/null
q "CREATE EXTENSION mobisign" >/dev/null
[ "${BENCH_E2E_PROFILE:-0}" = 1 ] && q "CREATE EXTENSION pg_stat_statements" >/dev/null
# a backlog must not expire while it drains
q "ALTER SYSTEM SET mobisign.max_timeout = '20 min'" >/dev/null
if [ -n "${BENCH_ANSWER_WORKERS:-}" ]; then
	q "ALTER SYSTEM SET mobisign.answer_workers = ${BENCH_ANSWER_WORKERS}" >/dev/null
fi
t=$(now_s)
ms_psql -q -f "$work/sim/register.sql" >/dev/null
echo "  registered $n users and SIM keys in $(secs_since "$t") s"
binds=${BENCH_E2E_BINDS:-2}
q "UPDATE mobisign.smsc SET max_per_second = 10000, window_size = 100, binds = $binds" >/dev/null
"$sim" run --dir "$work/sim" --port "$smpp" --quiet --ready-file "$work/sim.ready" \
	--timing "$work/sim-timing.tsv" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do [ -s "$work/sim.ready" ] && break; sleep 0.1; done
q "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 300); do
	[ "$(q "SELECT binds_bound FROM mobisign.worker_stats")" = "$binds" ] && break
	sleep 0.1
done
[ "$(q "SELECT binds_bound FROM mobisign.worker_stats")" = "$binds" ] || { echo "e2e: the worker did not bind" >&2; exit 1; }
# (an older build without answer verifiers: 0)
workers=$(q "SELECT coalesce(current_setting('mobisign.answer_workers', true), '0')")
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign verifier'")" = "$workers" ] && break
	sleep 0.1
done
echo "  worker bound ($binds bind(s)); answer verifiers running: $(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign verifier'") (mobisign.answer_workers = $workers)"
ms_psql -q >/dev/null <<'SQL'
-- authentications one per transaction, paced: the i-th of this client at
-- t0 + i / rate; created_at is the start of the authentication's own
-- transaction (the pause commits first)
CREATE PROCEDURE bench_paced(first integer, count integer, step integer, rate float8, t0 timestamptz,
                             tag text)
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 0 .. count - 1 LOOP
        PERFORM pg_sleep(greatest(0, extract(epoch FROM t0 + make_interval(secs => i / rate) - clock_timestamp())));
        COMMIT;
        PERFORM mobisign_authenticate(format('user%s', lpad((first + i * step)::text, greatest(4, length((first + i * step)::text)), '0')), tag, '2 min');
        COMMIT;
    END LOOP;
END $$;
SQL

# wait_final TAG COUNT LIMIT_S: progress every 2 s until COUNT are final
wait_final() {
	local tag=$1 count=$2 limit=$3 t0 done=0 i
	t0=$(now_s)
	for i in $(seq 1 $((limit * 2))); do
		done=$(q "SELECT count(*) FROM mobisign.transaction WHERE application = '$tag' AND NOT mobisign._is_open(state)")
		[ "$done" -ge "$count" ] && break
		if [ $((i % 4)) = 0 ]; then
			echo "  ... $tag: $done of $count final after $(secs_since "$t0") s"
		fi
		sleep 0.5
	done
	[ "$done" -ge "$count" ] && return
	echo "  $tag: only $done of $count final after $limit s; where the rest are:" >&2
	ms_psql -P pager=off -c "SELECT state, count(*) FROM mobisign.transaction WHERE application = '$tag' GROUP BY 1" \
		-c "SELECT (SELECT count(*) FROM mobisign.answer_queue) AS answer_queue,
		           (SELECT count(*) FROM mobisign.inbound_segment WHERE NOT processed) AS segments_pending,
		           (SELECT count(*) FROM mobisign.request_queue WHERE NOT done) AS requests_open" \
		-c "SELECT pid, backend_type, state, wait_event_type, wait_event, left(query, 60) AS query
		      FROM pg_stat_activity WHERE backend_type LIKE 'mobisign%'" >&2 || true
	echo "  the server log's last lines:" >&2
	tail -n 20 "$work/pg/log" >&2 || true
	echo "  the simulator's log's last lines:" >&2
	tail -n 10 "$work/sim.log" >&2 || true
}

# CPU seconds of every process of the cluster by kind (backend_type, or
# "postmaster/other"), and of the simulator: "kind seconds" lines
cpu_all() {
	local pid kind hz
	hz=$(getconf CLK_TCK)
	{
		for pid in $(pgrep -P "$(head -1 "$work/pg/data/postmaster.pid")") "$(head -1 "$work/pg/data/postmaster.pid")"; do
			kind=$(q "SELECT replace(backend_type, ' ', '_') FROM pg_stat_activity WHERE pid = $pid")
			echo "${kind:-other} $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)"
		done
		echo "simulator $(awk '{ print $14 + $15 }' "/proc/$sim_pid/stat" 2>/dev/null || echo 0)"
	} | awk -v hz="$hz" '{ t[$1] += $2 } END { for (k in t) printf "%s %.3f\n", k, t[k] / hz }' | sort
}

# the audit rows not sealed yet, sampled every second into FILE until the
# sampler is stopped (the worker seals as it goes: this must stay bounded)
sample_unsealed() {
	local i
	for i in $(seq 1 900); do
		q "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL" >>"$1" 2>/dev/null || true
		sleep 1
	done
}
unsealed_max() { sort -n "$1" | tail -n 1; }

# ---- backlog
# the SMPP worker's deliver_sm read -> deliver_sm_resp, summed (us), and the
# deliver_sm it stored: worker_stats.ack_wait_us, received (a build without
# that column: "- received")
ack_wait() { q "SELECT coalesce(to_jsonb(s)->>'ack_wait_us', '-') || ' ' || s.received FROM mobisign.worker_stats s"; }
# mean ms between two ack_wait samples, or "-"
ack_wait_ms() {
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
		if (x[1] == "-" || y[2] == x[2]) print "-"; else printf "%.2f", (y[1] - x[1]) / (y[2] - x[2]) / 1000 }'
}

echo "== backlog: $n authentications queued at once"
ack0=$(ack_wait)
cpu_w0=$(cpu_of 'mobisign worker')
cpu_v0=$(cpu_of 'mobisign verifier')
if [ "${BENCH_E2E_PROFILE:-0}" = 1 ]; then
	q "SELECT pg_stat_statements_reset(), pg_stat_reset()" >/dev/null
	cpu_all >"$work/cpu0"
fi
t=$(now_s)
q "SELECT count(*) FROM generate_series(1, $n) g,
          mobisign_authenticate(format('user%s', lpad(g::text, greatest(4, length(g::text)), '0')), 'backlog', '15 min')" >/dev/null
echo "  queued in $(secs_since "$t") s (one transaction); draining"
t0=$(q "SELECT extract(epoch FROM clock_timestamp())")
sample_unsealed "$work/unsealed.backlog" &
sampler=$!
wait_final backlog "$n" $((120 + n / 20))
stop_sampler
cpu_w1=$(cpu_of 'mobisign worker')
cpu_v1=$(cpu_of 'mobisign verifier')
ack_ms=$(ack_wait_ms "$ack0" "$(ack_wait)")
read -r ok last <<<"$(q "SELECT count(*) FILTER (WHERE status_code = 502) || ' ' ||
                             extract(epoch FROM max(completed_at)) FROM mobisign.transaction WHERE application = 'backlog'")"
rate=$(awk -v n="$n" -v a="$t0" -v b="$last" 'BEGIN { printf "%.1f", n / (b - a) }')
cpu_w=$(awk -v a="$cpu_w0" -v b="$cpu_w1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) * 1000 / n }')
cpu_v=$(awk -v a="$cpu_v0" -v b="$cpu_v1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) * 1000 / n }')
echo "  $ok of $n at 502; $rate authentications/s; CPU per authentication: SMPP worker $cpu_w ms, verifiers $cpu_v ms; deliver_sm read -> acknowledged, mean $ack_ms ms"
if [ "${BENCH_E2E_PROFILE:-0}" = 1 ]; then
	cpu_all >"$work/cpu1"
	echo "== profile: CPU ms per authentication by process kind (the backlog)"
	join "$work/cpu0" "$work/cpu1" | awk -v n="$n" '{ printf "  %-28s %8.2f\n", $1, ($3 - $2) * 1000 / n }'
	ms_sql_profile 30 "the backlog"
	if [ -n "${BENCH_E2E_EXPLAIN_MS:-}" ]; then
		cp "$work/pg/log" "$results/e2e-server.log"
		echo "== profile: plans of ${BENCH_E2E_EXPLAIN_MS} ms or more in $results/e2e-server.log"
	fi
fi
[ "${BENCH_E2E_BACKLOG_ONLY:-0}" = 1 ] && exit 0

# ---- the sustained peak: what the server carries when the requests arrive
# (each mobisign_authenticate() in its own transaction, its audit rows sealed
# as it goes) rather than wait in a queue filled beforehand: offered at the
# backlog's rate by two clients for BENCH_E2E_PEAK_SECONDS, the rate is the
# authentications over the span from the first queued to the last final
# (the offered rate if the server keeps up, its throughput if not)
peak_secs=${BENCH_E2E_PEAK_SECONDS:-10}
# count_for RATE SECONDS: authentications for that long at that rate (even, 20..n)
count_for() {
	awk -v r="$1" -v s="$2" -v n="$n" 'BEGIN { m = int(r * s); if (m > n) m = n; if (m < 20) m = 20; print m - m % 2 }'
}
# paced TAG COUNT RATE: two clients in the background (their pids in
# paced_pids), COUNT authentications in all, one per transaction, RATE/s in all
paced() {
	local k
	paced_pids=()
	for k in 1 2; do
		ms_psql -qAt -c "CALL bench_paced($k, $(($2 / 2)), 2, $3 / 2, now() + interval '1 s', '$1')" >/dev/null &
		paced_pids+=($!)
	done
}
mp=$(count_for "$rate" "$peak_secs")
sustained=$rate
if [ -z "${BENCH_E2E_HALF_RATE:-}" ] && [ "$peak_secs" -gt 0 ]; then
	echo "== sustained peak: $mp authentications offered at the backlog's $rate/s (two clients), about ${peak_secs} s"
	paced peak "$mp" "$rate"
	wait "${paced_pids[@]}"
	wait_final peak "$mp" 120
	sustained=$(q "SELECT round((count(*) / extract(epoch FROM max(completed_at) - min(created_at)))::numeric, 1)
	                 FROM mobisign.transaction WHERE application = 'peak'")
	echo "  sustained: $sustained authentications/s ($(q "SELECT count(*) FROM mobisign.transaction WHERE application = 'peak' AND status_code = 502") of $mp at 502)"
else
	mp=0
fi

# ---- half rate: half the sustained peak
half=${BENCH_E2E_HALF_RATE:-$(awk -v r="$sustained" 'BEGIN { printf "%.1f", r / 2 }')}
m=$(count_for "$half" "$half_secs")
echo "== half rate: $m authentications at $half/s (two clients), about ${half_secs} s"
fallbacks0=$(q "SELECT coalesce(to_jsonb(s)->>'batch_fallbacks', '-') FROM mobisign.worker_stats s")
paced half "$m" "$half"
sample_unsealed "$work/unsealed.half" &
sampler=$!
wait "${paced_pids[@]}"
wait_final half "$m" 120
stop_sampler
# recordings of accepted requests that met a row a verifier held (each
# request of such a batch is then recorded alone: docs/worker.md step 5)
fallbacks=$(q "SELECT coalesce(to_jsonb(s)->>'batch_fallbacks', '-') FROM mobisign.worker_stats s")
[ "$fallbacks0" != - ] && [ "$fallbacks" != - ] && fallbacks=$((fallbacks - fallbacks0))
# the worker seals the audit rows as it goes: what it has not sealed yet
unsealed=$(q "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL")
# the simulator's own time of each answer (run --timing: the command's
# arrival at the SMSC's socket and the answer ready to deliver, us since the
# epoch; flushed by SIGUSR1 with its counters, which go to its log)
sim_lines() { wc -l <"$work/sim-timing.tsv"; }
kill -USR1 "$sim_pid"
for _ in $(seq 1 20); do
	sleep 0.2
	[ "$(sim_lines)" -ge $((n + mp + m)) ] && break
done
sim_stats=$(tr '\n' ' ' <"$work/sim/stats")
ms_psql -q -c "CREATE TABLE bench_sim (msisdn text, command_us bigint, ready_us bigint)" \
	-c "\\copy bench_sim FROM '$work/sim-timing.tsv'" \
	-c "CREATE INDEX ON bench_sim (msisdn, command_us)" >/dev/null

# ---- reference: the simulator's own capacity
echo "== reference: mobisign-sim client --load (no database)"
"$sim" client --dir "$work/sim" --port "$smpp" --load 100 --first 0 --window 1 \
	--counter 1000000 --timeout-ms 60000 | tee "$work/ref-rtt.txt" | sed 's/^/  /'
"$sim" client --dir "$work/sim" --port "$smpp" --load "$n" --first 0 --window 100 --binds "$binds" \
	--counter 2000000 --timeout-ms $((120000 + n * 50)) | tee "$work/ref-load.txt" | sed 's/^/  /'
sim_ms=$(sed -n 's/.*round trip p50 \([0-9]*\) ms.*/\1/p' "$work/ref-rtt.txt")
ref=$(sed -n 's/.*verified in [0-9]* ms: \([0-9.]*\)\/s.*/\1/p' "$work/ref-load.txt")
[ -n "$ref" ] && [ -n "$sim_ms" ] || { echo "e2e: the reference client failed" >&2; exit 1; }


# where the half-rate latency goes: queued -> submitted (the SMPP worker
# claimed, sent, had its submit_sm_resp and recorded it), submitted ->
# completed (the SIM's answer, storing it, a verifier's claim and handling)
read -r sub50 sub99 ans50 ans99 <<<"$(q "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY a))::int || ' ' ||
                                              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY a))::int || ' ' ||
                                              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY b))::int || ' ' ||
                                              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY b))::int
                                         FROM (SELECT extract(epoch FROM submitted_at - created_at) * 1000 AS a,
                                                      extract(epoch FROM completed_at - submitted_at) * 1000 AS b
                                                 FROM mobisign.transaction WHERE application = 'half') x")"

# the stages of each half-rate authentication, from the timestamps the
# server keeps (track_commit_timestamp is on in this cluster): queued
# (created_at) -> submitted (submitted_at: the SMPP worker had the
# submit_sm_resp and recorded it) -> stored (received_at of the answer's last
# segment: the SIM's time is in this stage) -> decided (completed_at: a
# verifier claimed and handled it) -> committed (the commit of that
# verifier's transaction); p50, p99 and the mean over the slowest 1% (what
# makes the p99)
ms_psql -q >/dev/null <<'SQL'
CREATE VIEW bench_stages AS
SELECT t.id, extract(epoch FROM t.completed_at - t.created_at) * 1000 AS total,
       extract(epoch FROM t.completed_at - t.created_at) * 1000 - x.sim AS server,
       extract(epoch FROM t.submitted_at - t.created_at) * 1000 AS queued_submitted,
       extract(epoch FROM s.stored - t.submitted_at) * 1000 AS submitted_stored,
       extract(epoch FROM x.command_at - t.created_at) * 1000 AS queued_at_smsc,
       x.sim,
       extract(epoch FROM s.stored - x.ready_at) * 1000 AS ready_stored,
       extract(epoch FROM t.completed_at - s.stored) * 1000 AS stored_decided,
       extract(epoch FROM pg_xact_commit_timestamp(t.xmin) - t.completed_at) * 1000 AS decided_committed
  FROM mobisign.transaction t,
       LATERAL (SELECT max(i.received_at) AS stored FROM mobisign.inbound_segment i
                 WHERE i.msisdn = t.msisdn AND i.received_at BETWEEN t.created_at AND t.completed_at) s,
       LATERAL (SELECT to_timestamp(b.command_us / 1e6) AS command_at, to_timestamp(b.ready_us / 1e6) AS ready_at,
                       (b.ready_us - b.command_us) / 1e3 AS sim
                  FROM bench_sim b
                 WHERE b.msisdn = t.msisdn
                   AND b.command_us BETWEEN extract(epoch FROM t.created_at) * 1e6 AND extract(epoch FROM t.completed_at) * 1e6
                 ORDER BY b.command_us DESC LIMIT 1) x
 WHERE t.application = 'half' AND t.status_code = 502;
SQL
# each transaction's latency minus its own simulator time (those the
# simulator has no line for are not counted: shown as "matched")
read -r p50 p99 half_ok matched sim50 sim99 <<<"$(q "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY server))::int || ' ' ||
                                      round(percentile_cont(0.99) WITHIN GROUP (ORDER BY server))::int || ' ' ||
                                      (SELECT count(*) FROM mobisign.transaction WHERE application = 'half' AND status_code = 502) || ' ' ||
                                      count(*) || ' ' ||
                                      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY sim))::int || ' ' ||
                                      round(percentile_cont(0.99) WITHIN GROUP (ORDER BY sim))::int
                                 FROM bench_stages")"
stages=$(q "WITH x AS (SELECT *, percent_rank() OVER (ORDER BY server) AS r FROM bench_stages),
                 s(n, stage, v, r) AS (
                   SELECT 1, 'queued -> submitted', queued_submitted, r FROM x UNION ALL
                   SELECT 2, 'submitted -> answer stored (the SIM)', submitted_stored, r FROM x UNION ALL
                   SELECT 3, '  queued -> submit_sm at the SMSC', queued_at_smsc, r FROM x UNION ALL
                   SELECT 4, '  at the SMSC -> answer ready (sim)', sim, r FROM x UNION ALL
                   SELECT 5, '  answer ready -> answer stored', ready_stored, r FROM x UNION ALL
                   SELECT 6, 'answer stored -> decided (verifier)', stored_decided, r FROM x UNION ALL
                   SELECT 7, 'decided -> committed', decided_committed, r FROM x UNION ALL
                   SELECT 8, 'queued -> decided (total)', total, r FROM x UNION ALL
                   SELECT 9, 'total minus the simulator (server)', server, r FROM x)
            SELECT format('%-40s %8s %8s %12s', stage,
                          round(percentile_cont(0.5) WITHIN GROUP (ORDER BY v)),
                          round(percentile_cont(0.99) WITHIN GROUP (ORDER BY v)),
                          round(avg(v) FILTER (WHERE r >= 0.99)))
              FROM s GROUP BY n, stage ORDER BY n" 2>&1 || true)

# ---- the time series and the picture: per second of both runs,
# completed/s and the latency p50/p99 (queued -> completed, the simulator's
# time not taken off) of what completed in that second
tsv=$results/e2e.tsv
q "SELECT extract(epoch FROM date_trunc('second', completed_at) - (SELECT date_trunc('second', min(created_at)) FROM mobisign.transaction))::int,
          count(*),
          round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at) * 1000))::int,
          round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at) * 1000))::int,
          min(application)
     FROM mobisign.transaction WHERE completed_at IS NOT NULL GROUP BY 1 ORDER BY 1" | tr '|' '\t' >"$tsv"
png=$results/e2e.png
if command -v gnuplot >/dev/null; then
	gnuplot <<GP
set terminal png size 1000,560
set output '$png'
set title "mobisign end to end: $n ECDSA SIMs (backlog), sustained peak ($sustained/s), half rate ($half/s); $workers answer verifiers"
set xlabel 'seconds since the first authentication was queued'
set ylabel 'completed per second'
set y2label 'latency queued -> completed (ms, log)'
set logscale y2
set y2tics
set ytics nomirror
set key top right
set datafile separator '\t'
plot '$tsv' using 1:2 with steps lw 2 title 'completed/s' axes x1y1, \
     '$tsv' using 1:(\$3 > 0 ? \$3 : 1) with lines title 'p50' axes x1y2, \
     '$tsv' using 1:(\$4 > 0 ? \$4 : 1) with lines title 'p99' axes x1y2
GP
	echo "  picture: $png (data: $tsv)"
else
	echo "  gnuplot is not installed (test/deps.sh installs gnuplot-nox): no picture; data: $tsv"
fi

echo
echo "== end to end (ratio = mobisign / the simulator driven by a bare SMPP client)"
printf '%-52s %12s %12s %8s\n' "figure" "mobisign" "reference" "ratio"
printf '%-52s %12s %12s %8.2f\n' "authentications/s, backlog of $n ($ok at 502), $binds bind(s)" "$rate" "$ref" \
	"$(awk -v a="$rate" -v b="$ref" 'BEGIN { print a / b }')"
printf '%-52s %12s\n' "SMPP worker CPU per authentication (ms)" "$cpu_w"
printf '%-52s %12s\n' "verifiers' CPU per authentication (ms, $workers)" "$cpu_v"
printf '%-52s %12s\n' "backlog: deliver_sm read -> acknowledged, mean (ms)" "$ack_ms"
printf '%-52s %12s\n' "sustained peak: authentications/s (offered at $rate/s)" "$sustained"
printf '%-52s %12s\n' "half rate: paced at (authentications/s)" "$half"
printf '%-52s %12s\n' "half rate: latency p50 minus its simulator time (ms)" "$p50"
printf '%-52s %12s\n' "half rate: latency p99 minus its simulator time (ms)" "$p99"
printf '%-52s %12s\n' "half rate: simulator time p50 / p99 (ms)" "$sim50 / $sim99"
printf '%-52s %12s\n' "half rate: at 502 / timed by the simulator" "$half_ok / $matched of $m"
printf '%-52s %12s\n' "half rate: queued -> submitted p50 / p99 (ms)" "$sub50 / $sub99"
printf '%-52s %12s\n' "half rate: submitted -> completed p50 / p99 (ms)" "$ans50 / $ans99"
printf '%-52s %12s\n' "half rate: batch recordings that met a held row" "$fallbacks"
printf '%-52s %12s\n' "audit rows not yet sealed, most seen: backlog / half" \
	"$(unsealed_max "$work/unsealed.backlog") / $(unsealed_max "$work/unsealed.half")"
printf '%-52s %12s\n' "audit rows not yet sealed after the half rate" "$unsealed"
printf '%-52s %12s\n' "audit chain (mobisign_audit_verify)" \
	"$(q "SELECT CASE WHEN intact THEN 'intact, ' || rows_checked || ' rows' ELSE 'BROKEN: ' || reason END FROM mobisign_audit_verify()")"
echo
echo "== the simulator's counters: $sim_stats"
echo "== half rate, where the time goes (ms; the slowest 1 % by the server's time)"
printf '%-40s %8s %8s %12s\n' "stage" "p50" "p99" "slowest 1%"
echo "$stages"
echo
awk -v v="$rate" -v r="$ref" -v ok="$ok" -v n="$n" -v b="$binds" 'BEGIN {
	printf "RESULT e2e_authentications_ecdsa value=%.1f auth/s reference=%.1f ratio=%.3f target=0.5 binds=%d %s\n",
		v, r, v / r, b, (v / r >= 0.5 && ok == n ? "pass" : "short") }'
awk -v v="$p99" -v ok="$half_ok" -v t="$matched" -v m="$m" -v h="$half" -v p="$sustained" 'BEGIN {
	printf "RESULT e2e_latency_p99_half_rate value=%d ms reference=50 ratio=%.3f target=<=1 rate=%s peak=%s %s\n",
		v, v / 50, h, p, (v <= 50 && ok == m && t == m ? "pass" : "short") }'
