#!/usr/bin/env bash
# make bench, queue health and memory under churn.  Through the whole flow
# (the simulator answering) transactions run at the end-to-end rate, far too
# slow for 100,000 in a bounded bench, so two drives share one cluster:
#
#  1. the API, for the memory of a backend: BENCH_CHURN_API (default 20,000)
#     transactions from two sessions, each through mobisign_authenticate(),
#     mobisign._mark_submitted() (what the worker calls once the SMSC took
#     it) and mobisign_cancel() (final, 410), the sessions' private memory
#     (RssAnon) after 20 % and after all of them;
#  2. the queue tables directly, for queue health and the worker's memory:
#     BENCH_CHURN_TX (default 100,000) transactions in batches of 1,000, one
#     CALL each, that do to the rows what the API and the worker do
#     (transaction and queue rows inserted, claimed, submitted, two answer
#     segments stored and processed, the transaction final), one commit per
#     step (the final one deletes the queue rows, as mobisign._finish does),
#     while the worker does its housekeeping (expiry, sealing, the queue
#     cleanup: the verifier of slot 0 does it);
#     pg_stat_user_tables and the RssAnon of the worker and its verifiers
#     (summed) after 20,000 and after all of them.
#
# The queue's size is sampled every 0.25 s (one session, psql's \watch):
# request_queue (heap, indexes, TOAST, maps), answer_queue and the partial
# indexes of inbound_segment (its heap is the record and grows by design),
# with the rows, the dead rows and autovacuum's visits.  Under churn that size
# is a sawtooth, not a level: it holds the tuple versions made since
# autovacuum's last visit (three per transaction: inserted, claimed, done,
# then deleted), so at one instant it says when autovacuum last came, not
# whether the queue grows (15-27 MB at 20,000 across runs of one build when
# this measured one instant).  The figure therefore compares peaks: the most
# the queue took in the window of the 10,000 transactions before 20,000
# (and until the housekeeping emptied it) against the same window before
# 100,000.  The drive runs at several thousand transactions a second, 20-50
# times the end-to-end rate, so the cluster runs with autovacuum_naptime =
# 1s (BENCH_CHURN_NAPTIME): a visit every few thousand transactions, so each
# window holds several visits and its peak is the steady state's.  The heap
# keeps its high-water mark (vacuum_truncate = false), so a queue that is
# bounded comes out at 1 to about 1.3; one that leaks holds at 100,000 three
# to five times what it held at 20,000.  BENCH_CHURN_LEAK=vacuum (autovacuum off on
# request_queue) or =finish (the final step keeps the queue rows, as a
# mobisign._finish without its DELETE would) makes such a leak: the figure
# must then be short.
# BENCH_CHURN_SAMPLES=FILE keeps the samples (columns: sample.sql below).
#
#   RESULT backend_rss_growth value=<kB> kB reference=<RssAnon after 20 %> ratio=<v/r> target=<=5120kB pass|short
#   RESULT worker_rss_growth  value=<kB> kB reference=<RssAnon after 20,000> ratio=<v/r> target=<=5120kB pass|short
#   RESULT queue_size_growth  value=<queue's peak bytes, 90,000..100,000> bytes reference=<its peak, 10,000..20,000> ratio=<v/r> target=<=2 pass|short
# (the backend's growth is the larger of the two sessions').  MOBISIGN_DESTDIR:
# as test/bench/run.sh (PGBIN from the caller).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$MOBISIGN_ROOT"
api=${BENCH_CHURN_API:-20000}
total=${BENCH_CHURN_TX:-100000}
users=2000
half=$((users / 2))
phase1=$((api / 5 / 2))            # API transactions per session in the first 20 %
phase2=$((api / 2 - phase1))       # and in the rest
first=$((total / 5 / 1000 * 1000)) # direct transactions before the first look

work=$(ms_readable_dir)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	ms_cluster_stop "$work/pg" || true
	[ -n "${BENCH_CHURN_SAMPLES:-}" ] && cp "$work/samples" "$BENCH_CHURN_SAMPLES" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

echo "== churn: $api transactions through the API (2 sessions), then $total through the queue tables"
test/sim/mobisign-sim provision --dir "$work/sim" --users "$users" --port "$(ms_free_port)" >/dev/null
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$work/sim"
mkdir -p "$work/pg"
ms_cluster_start "$work/pg" "$(ms_free_port)" "autovacuum_naptime = ${BENCH_CHURN_NAPTIME:-1s}" >/dev/null
ms_psql -q -c "CREATE EXTENSION mobisign" >/dev/null
ms_psql -q -f "$work/sim/register.sql" >/dev/null 2>&1
ms_psql -q <<'SQL' >/dev/null
UPDATE mobisign.smsc SET enabled = false;
-- n transactions over users first .. first + count - 1, round robin, each
-- call committed on its own as an application's would be
CREATE PROCEDURE churn(first integer, count integer, n integer)
LANGUAGE plpgsql AS $$
DECLARE
    t uuid;
    u integer;
BEGIN
    FOR i IN 0 .. n - 1 LOOP
        u := first + i % count;
        SELECT transaction_id INTO t FROM mobisign_authenticate('user' || lpad(u::text, 4, '0'), 'churn');
        COMMIT;
        PERFORM mobisign._mark_submitted(t, ARRAY['churn-' || i]);
        COMMIT;
        IF NOT mobisign_cancel(t) THEN
            RAISE EXCEPTION 'transaction % was not open', t;
        END IF;
        COMMIT;
    END LOOP;
END
$$;
CREATE FUNCTION rss_kb(pid integer) RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/' || pid || '/status'), 'RssAnon:\s+(\d+)'))[1]::bigint
$$;
-- 1,000 transactions straight through the tables, each step committed as
-- the API and the worker commit it; one CALL per batch, so that the session
-- reports its table counters between batches (a backend does so only when
-- idle, at most once a second) and autovacuum sees the dead rows as it
-- would in service
CREATE SEQUENCE driven;
CREATE PROCEDURE drive()
LANGUAGE plpgsql AS $$
DECLARE
    seg1 bytea := decode(repeat('a5', 140), 'hex');
    seg2 bytea := decode(repeat('5a', 120), 'hex');
BEGIN
    PERFORM mobisign._own_write(true);
    WITH t AS (
        INSERT INTO mobisign.transaction (kind, application, user_id, msisdn, reference, data,
                                          data_hash, display_text, verification_code, expires_at)
        SELECT 'authenticate', 'drive', u.user_id, u.msisdn, mobisign._random_bytes(8), '\x00',
               sha256('\x00'), 'Log in?', '1234', now() + interval '2 min'
          FROM (SELECT * FROM mobisign.app_user ORDER BY user_id LIMIT 1000) u
        RETURNING id, msisdn)
    INSERT INTO mobisign.request_queue (transaction_id, msisdn, segments)
    SELECT t.id, t.msisdn, ARRAY[seg1, seg2] FROM t;
    COMMIT;
    UPDATE mobisign.request_queue q SET attempts = 1, lease_until = now() + interval '30 s',
                                        next_attempt_at = now() + interval '30 s'
     WHERE NOT q.done;
    COMMIT;
    UPDATE mobisign.transaction tr SET state = 'submitted', submitted_at = now()
     WHERE mobisign._is_open(tr.state) AND tr.application = 'drive';
    UPDATE mobisign.request_queue q SET done = true, lease_until = NULL, smsc_message_ids = '{m}'
     WHERE NOT q.done;
    COMMIT;
    INSERT INTO mobisign.inbound_segment (msisdn, concat_ref, total, seq, user_data, digest)
    SELECT x.msisdn, 7, 2, x.s, x.d, sha256(x.d)
      FROM (SELECT u.msisdn, s, mobisign._random_bytes(140) AS d
              FROM (SELECT * FROM mobisign.app_user ORDER BY user_id LIMIT 1000) u,
                   generate_series(1, 2) s OFFSET 0) x;
    COMMIT;
    UPDATE mobisign.inbound_segment g SET processed = true WHERE NOT g.processed;
    -- final, as mobisign._finish makes a transaction final: its queue row
    -- (sent once) goes in the same commit
    WITH final AS (
        UPDATE mobisign.transaction tr SET state = 'cancelled', status_code = 410,
               reason = 'driven', completed_at = now()
         WHERE mobisign._is_open(tr.state) AND tr.application = 'drive'
        RETURNING tr.id)
    DELETE FROM mobisign.request_queue q USING final
     WHERE q.transaction_id = final.id AND q.attempts <= 1
       AND current_setting('bench.keep_queue_rows', true) IS DISTINCT FROM 'on';
    COMMIT;
    PERFORM setval('driven', nextval('driven') + 999);   -- for the sampler
    PERFORM pg_stat_force_next_flush();  -- the counters within a second, as from many sessions
END
$$;
SQL
worker=$(ms_psql -qAt -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mobisign worker'")
[ -n "$worker" ] || { echo "bench churn: no mobisign worker" >&2; exit 1; }

# two sessions reading their commands from FIFOs, each answering into a file
for s in 1 2; do
	mkfifo "$work/in$s"
	ms_psql -qAt <"$work/in$s" >"$work/out$s" 2>"$work/err$s" &
	pids+=($!)
	exec {fd}>"$work/in$s"
	eval "fd$s=$fd"
done
say() { # SESSION SQL
	local fd
	eval "fd=\$fd$1"
	printf '%s\n' "$2" >&"$fd"
}
# wait for a marker line from both sessions (bounded)
await() { # MARKER SECONDS
	local i
	for i in $(seq 1 $(($2 * 10))); do
		if grep -qx "$1" "$work/out1" 2>/dev/null && grep -qx "$1" "$work/out2" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "${pids[0]}" 2>/dev/null || ! kill -0 "${pids[1]}" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "bench churn: the sessions did not reach $1:" >&2
	cat "$work/err1" "$work/err2" >&2
	exit 1
}
for s in 1 2; do
	say "$s" "SET client_min_messages = warning;"
	say "$s" "SELECT 'pid ' || pg_backend_pid();"
done
# the queue once the worker's housekeeping has caught up (at most 30 s)
settle() {
	local i
	for i in $(seq 1 60); do
		[ "$(ms_psql -qAt -c "SELECT count(*) FROM mobisign.request_queue")" -le 10 ] &&
			[ "$(ms_psql -qAt -c "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL")" -le 10 ] && return 0
		sleep 0.5
	done
}

snapshot() { # LABEL: RssAnon of the sessions, the worker's (with its verifiers'), and the queue's tables
	local p1 p2
	sleep 1.5 # the table counters reach pg_stat_user_tables within a second
	p1=$(sed -n 's/^pid //p' "$work/out1") p2=$(sed -n 's/^pid //p' "$work/out2")
	# the worker and its verifiers (the verifier of slot 0 keeps house)
	ms_psql -qAt -F ' ' -c "SELECT rss_kb($p1), rss_kb($p2),
	    (SELECT sum(rss_kb(pid))::bigint FROM pg_stat_activity
	      WHERE backend_type IN ('mobisign worker', 'mobisign verifier'))" >"$work/$1.rss"
	echo "  $1    request_queue rows now: $(ms_psql -qAt -c "SELECT count(*) FROM mobisign.request_queue")"
	ms_psql -qAt -F ' ' -c "SELECT relname, n_live_tup, n_dead_tup, n_tup_ins, n_tup_del, autovacuum_count,
	        pg_total_relation_size(relid) / 1024
	   FROM pg_stat_user_tables WHERE schemaname = 'mobisign'
	    AND relname IN ('request_queue', 'transaction', 'inbound_segment') ORDER BY relname" |
		awk -v l="$1" '{ printf "  %-6s %-16s live %7s dead %6s inserted %7s deleted %7s autovacuums %3s %7s kB\n", l, $1, $2, $3, $4, $5, $6, $7 }'
}
calls() { printf 'CALL drive(); %.0s' $(seq 1 "$1"); } # N batches, each its own statement
elapsed() { awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f s", ms / 1000 }'; }

# the queue's size and counters, sampled every 0.25 s by one session (psql's
# \watch: each sample its own statement, so no snapshot is held between them)
cat >"$work/sample.sql" <<'SQL'
SELECT (extract(epoch FROM now()) * 1000)::bigint, (SELECT last_value FROM driven),
       (SELECT count(*) FROM mobisign.request_queue),
       pg_total_relation_size('mobisign.request_queue'), pg_relation_size('mobisign.request_queue'),
       pg_relation_size('mobisign.request_queue_pkey'), pg_relation_size('mobisign.request_queue_pending'),
       pg_relation_size('mobisign.request_queue_finished'),
       pg_relation_size('mobisign.inbound_segment_dedup'), pg_relation_size('mobisign.inbound_segment_pending'),
       pg_relation_size('mobisign.inbound_segment'), pg_total_relation_size('mobisign.answer_queue'),
       (SELECT string_agg(n_dead_tup || ' ' || autovacuum_count, ' ' ORDER BY relname) FROM pg_stat_user_tables
         WHERE relid IN ('mobisign.request_queue'::regclass, 'mobisign.inbound_segment'::regclass,
                         'mobisign.transaction'::regclass)),
       (SELECT coalesce(max(age(backend_xmin)), 0) FROM pg_stat_activity WHERE pid <> pg_backend_pid())
\watch 0.25
SQL
ms_psql -qAt -F ' ' -f "$work/sample.sql" >"$work/samples" 2>"$work/sample.err" &
sampler=$!
pids+=("$sampler")

t0=$(now_ms)
say 1 "CALL churn(1, $half, $phase1); SELECT 'phase1';"
say 2 "CALL churn($((half + 1)), $half, $phase1); SELECT 'phase1';"
await phase1 600
settle
echo "  API: $((2 * phase1)) transactions, $(elapsed)"
snapshot api1
say 1 "CALL churn(1, $half, $phase2); SELECT 'phase2';"
say 2 "CALL churn($((half + 1)), $half, $phase2); SELECT 'phase2';"
await phase2 900
settle
echo "  API: $api transactions, $(elapsed)"
snapshot api2
[ "$(ms_psql -qAt -c "SELECT count(*) FROM mobisign.transaction WHERE state = 'cancelled'")" = "$api" ] ||
	{ echo "bench churn: not every API transaction was cancelled" >&2; exit 1; }

case "${BENCH_CHURN_LEAK:-}" in # a queue that is not kept: the figure must come out short
'') ;;
vacuum) ms_psql -q -c "ALTER TABLE mobisign.request_queue SET (autovacuum_enabled = false)" ;;
finish) say 1 "SET bench.keep_queue_rows = on;"; say 2 "SET bench.keep_queue_rows = on;" ;;
*) echo "bench churn: BENCH_CHURN_LEAK is empty, vacuum or finish, not '$BENCH_CHURN_LEAK'" >&2; exit 2 ;;
esac
t0=$(now_ms)
say 1 "$(calls $((first / 1000)))SELECT 'drive1';"
say 2 "SELECT 'drive1';"
await drive1 600
settle
echo "  tables: $first transactions, $(elapsed)"
snapshot tx1
say 1 "$(calls $(((total - first) / 1000)))SELECT 'drive2';"
say 2 "SELECT 'drive2';"
await drive2 900
settle
echo "  tables: $total transactions, $(elapsed)"
snapshot tx2
[ "$(ms_psql -qAt -c "SELECT count(*) FROM mobisign.transaction WHERE application = 'drive' AND state = 'cancelled'")" = "$total" ] ||
	{ echo "bench churn: not every driven transaction is final" >&2; exit 1; }

read -r a1 a2 _ _ <"$work/api1.rss"
read -r b1 b2 _ _ <"$work/api2.rss"
read -r _ _ aw <"$work/tx1.rss"
read -r _ _ bw <"$work/tx2.rss"
kill "$sampler" 2>/dev/null || true
# the queue's steady state: its peaks in the two windows, and every 10,000
# transactions for people (columns: sample.sql)
awk -v first="$first" -v total="$total" -v win="$((first / 2))" -v out="$work/queue.peaks" '
	function w(d) { return d >= first - win && d <= first ? 1 : d >= total - win && d <= total ? 2 : 0 }
	$2 == 1 { $2 = 0 }  # the sequence before the first batch
	NF >= 19 {
		q = $4 + $9 + $10 + $12; ix = $6 + $7 + $8 + $9 + $10
		b = int($2 / 10000); if (q > bq[b]) bq[b] = q; if ($15 > bd[b]) bd[b] = $15; if ($3 > br[b]) br[b] = $3
		if (!w($2)) next
		i = w($2); n[i]++
		if (q > peak[i]) { peak[i] = q; heap[i] = $5; idx[i] = ix }
		if ($3 > rows[i]) rows[i] = $3
		if ($15 > rqd[i]) rqd[i] = $15; if ($13 > isd[i]) isd[i] = $13; if ($17 > trd[i]) trd[i] = $17
		if ($19 > xa[i]) xa[i] = $19
	}
	END {
		printf "  queue every 10,000 transactions (peak bytes, most rows, most dead rows of request_queue):\n   "
		for (b = 0; b <= total / 10000; b++) if (b in bq) printf " %dk:%.1fMB/%d/%d", b * 10, bq[b] / 1048576, br[b], bd[b]
		printf "\n"
		for (i = 1; i <= 2; i++)
			printf "  window %d (%d..%d transactions, %d samples): queue peak %d kB (request_queue heap %d kB, queue indexes %d kB), rows <= %d, dead rows <= request_queue %d inbound_segment %d transaction %d, xmin age <= %d\n",
				i, (i == 1 ? first : total) - win, (i == 1 ? first : total), n[i], peak[i] / 1024, heap[i] / 1024, idx[i] / 1024,
				rows[i], rqd[i], isd[i], trd[i], xa[i]
		if (!n[1] || !n[2]) { print "bench churn: a window has no samples" > "/dev/stderr"; exit 1 }
		print peak[1], peak[2] > out
	}' "$work/samples"
read -r aq bq <"$work/queue.peaks"
awk -v a1="$a1" -v a2="$a2" -v aw="$aw" -v aq="$aq" -v b1="$b1" -v b2="$b2" -v bw="$bw" -v bq="$bq" 'BEGIN {
	g1 = b1 - a1; g2 = b2 - a2
	if (g2 > g1) { g = g2; r = a2 } else { g = g1; r = a1 }
	printf "RESULT backend_rss_growth value=%d kB reference=%d ratio=%.3f target=<=5120kB %s\n",
		g, r, g / r, (g <= 5120 ? "pass" : "short")
	printf "RESULT worker_rss_growth value=%d kB reference=%d ratio=%.3f target=<=5120kB %s\n",
		bw - aw, aw, (bw - aw) / aw, (bw - aw <= 5120 ? "pass" : "short")
	printf "RESULT queue_size_growth value=%d bytes reference=%d ratio=%.3f target=<=2 %s\n",
		bq, aq, bq / aq, (bq / aq <= 2 ? "pass" : "short") }'
