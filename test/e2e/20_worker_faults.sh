#!/usr/bin/env bash
# Fault tests of the background worker (docs/worker.md):
#
#   0. a hostile SMSC (raw frames: unknown commands, sequence 0, vendor
#      status codes, malformed bodies, a duplicate, a broken frame length):
#      the worker answers each as it should and survives (the hostile-SMSC
#      cases have their own suite, 25_hostile_smsc.sh);
#   1. baseline: authentications through the simulator complete (502);
#   2. the SMSC throttles (ESME_RTHROTTLED): every transaction still completes,
#      the worker paused and retried;
#   3. the SMSC drops the connection while submit_sm are in flight, then
#      swallows submit_sm (response timeout): every transaction still
#      completes, the worker reconnected;
#      (2 and 3: each transaction is announced by exactly one NOTIFY);
#   4. kill -9 of the worker with 200 transactions in flight: every one reaches
#      a final state exactly once (one final audit row each), no SIM counter is
#      used twice, and the queue is drained;
#   5. DROP DATABASE of another database is not blocked by the running
#      worker (procsignal barriers); SIGTERM stops the worker cleanly (unbind,
#      exit 0, not restarted) and its own database can then be dropped;
#   6. without shared_preload_libraries, mobisign.worker_stats says so.
#
# Ports: PostgreSQL 55471 and SMPP 2802 unless taken (then any free port).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

SIM=$MOBISIGN_ROOT/test/sim/mobisign-sim
DB=msfaults
USERS=200
FAILED=0

say() { printf '%s\n' "20_worker_faults: $*"; }
fail() {
	say "FAIL: $*"
	FAILED=1
}
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then say "ok: $what"; else fail "$what"; fi
}

pick_port() { # pick_port PREFERRED
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then ms_free_port; else echo "$1"; fi
}

WORK=$(ms_readable_dir)
PGPORT_T=$(pick_port 55471)
SMPP_PORT=$(pick_port 2802)
GARB_PORT=$(pick_port 2805)
SIM_PID=
LISTEN_PID=
GARB_PID=

cleanup() {
	local rc=$?
	touch "$WORK/listen.stop" 2>/dev/null || true
	[ -n "$LISTEN_PID" ] && kill "$LISTEN_PID" 2>/dev/null || true
	[ -n "$GARB_PID" ] && kill "$GARB_PID" 2>/dev/null || true
	[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
	[ -n "$SIM_PID" ] && wait "$SIM_PID" 2>/dev/null || true
	ms_cluster_stop "$WORK/pg" || true
	if [ $rc -ne 0 ] || [ $FAILED -ne 0 ]; then
		say "server log tail ($WORK/pg/log):"
		grep -v 'audit_sealing' "$WORK/pg/log" 2>/dev/null | tail -n 40 || true
		say "simulator log tail:"
		tail -n 20 "$WORK/sim.log" 2>/dev/null || true
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

q() { ms_psql -d "$DB" -qtA "$@"; }

[ -x "$SIM" ] || { say "missing $SIM (run make)"; exit 1; }

mkdir -p "$WORK/pg" "$WORK/sim"
chown postgres:postgres "$WORK/sim" 2>/dev/null || true
say "cluster on port $PGPORT_T, simulator on $SMPP_PORT, work dir $WORK"
ms_cluster_start "$WORK/pg" "$PGPORT_T" \
	"mobisign.database = '$DB'" \
	"mobisign.worker_naptime = '5s'" \
	"mobisign.worker_lease = '10s'" \
	"max_connections = 60"
ms_psql -q -c "CREATE DATABASE $DB" postgres
q -c "CREATE EXTENSION mobisign" >/dev/null

worker_pid() { q -c "SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = 'mobisign worker'"; }
gone_within() { # gone_within PID TENTHS: yes once the process has exited, else no
	local i
	for i in $(seq 1 "$2"); do
		kill -0 "$1" 2>/dev/null || { echo yes; return; }
		sleep 0.1
	done
	echo no
}
stat() { q -c "SELECT $1 FROM mobisign.worker_stats"; }

# ---- 0. a hostile SMSC ------------------------------------------------------------
if command -v node >/dev/null; then
	node "$MOBISIGN_ROOT/test/e2e/node/garbage_smsc.js" --port "$GARB_PORT" --out "$WORK/garbage.json" \
		>"$WORK/garbage.log" 2>&1 &
	GARB_PID=$!
	for _ in $(seq 1 100); do [ -s "$WORK/garbage.json" ] && break; sleep 0.1; done
	for _ in $(seq 1 100); do [ -n "$(worker_pid 2>/dev/null || true)" ] && break; sleep 0.2; done
	gpid0=$(worker_pid)
	q -c "INSERT INTO mobisign.smsc (name, host, port, system_id, password, reconnect_delay, response_timeout)
	      VALUES ('garbage', '127.0.0.1', $GARB_PORT, 'garbage', 'pw', '300 ms', '3 s')" >/dev/null
	q -c "SELECT mobisign._wake_worker()" >/dev/null
	gdone=no
	for _ in $(seq 1 150); do
		if node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
		            process.exit(r.done && r.binds >= 2 && r.answers.bad_length ? 0 : 1)' "$WORK/garbage.json" 2>/dev/null; then
			gdone=yes
			break
		fi
		sleep 0.2
	done
	check "hostile SMSC: the whole script ran and the worker bound again after the broken frame" test "$gdone" = yes
	ans() { # ans NAME -> "command_id status" in hex
		node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1])); const a = r.answers[process.argv[2]];
		         console.log(a ? a[0].toString(16) + " " + a[1].toString(16) : "none")' "$WORK/garbage.json" "$1"
	}
	check "hostile SMSC: unknown command -> generic_nack ESME_RINVCMDID" test "$(ans unknown_command)" = "80000000 3"
	check "hostile SMSC: deliver_sm with a schedule_delivery_time -> deliver_sm_resp ESME_RINVSCHED" test "$(ans deliver_sm_bad_body)" = "80000005 61"
	check "hostile SMSC: truncated deliver_sm -> deliver_sm_resp ESME_RINVCMDLEN" test "$(ans deliver_sm_truncated)" = "80000005 2"
	check "hostile SMSC: delivery receipt acknowledged" test "$(ans deliver_sm_receipt)" = "80000005 0"
	check "hostile SMSC: segment acknowledged" test "$(ans deliver_sm_segment)" = "80000005 0"
	check "hostile SMSC: duplicate acknowledged" test "$(ans deliver_sm_duplicate)" = "80000005 0"
	check "hostile SMSC: enquire_link answered" test "$(ans enquire_link)" = "80000015 0"
	check "hostile SMSC: PDU length < 16 -> generic_nack ESME_RINVCMDLEN" test "$(ans bad_length)" = "80000000 2"
	check "hostile SMSC: the worker survived all of it (same process)" test "$(worker_pid)" = "$gpid0"
	check "hostile SMSC: the segment stored once (duplicate ignored), concatenation parsed" \
		test "$(q -c "SELECT count(*) || ':' || min(concat_ref) || ':' || min(total) || ':' || min(seq)
		              FROM mobisign.inbound_segment WHERE msisdn = '3585000009999'")" = "1:66:2:1"
	check "hostile SMSC: the receipt was not stored" \
		test "$(q -c "SELECT count(*) FROM mobisign.inbound_segment WHERE user_data = pg_catalog.convert_to('id:1 stat:DELIVRD', 'UTF8')")" = 0
	q -c "UPDATE mobisign.smsc SET enabled = false WHERE name = 'garbage'" >/dev/null
	kill "$GARB_PID" 2>/dev/null || true
	GARB_PID=
else
	fail "node is needed for the hostile-SMSC check (test/deps.sh installs it)"
fi

"$SIM" provision --dir "$WORK/sim" --users $USERS --port "$SMPP_PORT" >"$WORK/provision.log" 2>&1 ||
	{ cat "$WORK/provision.log"; exit 1; }
chown -R postgres:postgres "$WORK/sim" 2>/dev/null || true
q -f "$WORK/sim/register.sql" >"$WORK/register.log" 2>&1 || { tail -n 20 "$WORK/register.log"; exit 1; }
# fault tests run in seconds: short reconnect delay and response timeout
q -c "UPDATE mobisign.smsc SET reconnect_delay = '300 ms', response_timeout = '3 s', window_size = 20" >/dev/null
: >"$WORK/sim/faults"
"$SIM" run --dir "$WORK/sim" --port "$SMPP_PORT" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
ms_psql -q -c "SELECT pg_catalog.pg_reload_conf()" postgres >/dev/null

wait_bound() {
	local i
	for i in $(seq 1 150); do
		[ "$(stat "links_bound || '/' || links_configured" 2>/dev/null || true)" = "1/1" ] && return 0
		sleep 0.2
	done
	return 1
}

# start_auth FIRST LAST TAG: one authentication per user, ids into $WORK/TAG.ids
start_auth() {
	local first=$1 last=$2 tag=$3
	q -c "SELECT (mobisign_authenticate(pg_catalog.format('user%s', pg_catalog.lpad(g::text, 4, '0')),
	                                     '$tag', '3 min')).transaction_id
	        FROM pg_catalog.generate_series($first, $last) g" >"$WORK/$tag.ids"
}

# wait_final TAG SECONDS: until every transaction of TAG is final
wait_final() {
	local tag=$1 secs=$2 i open
	for i in $(seq 1 $((secs * 2))); do
		open=$(q -c "SELECT count(*) FROM mobisign.transaction WHERE application = '$tag'
		              AND state IN ('queued', 'submitted', 'delivered')")
		[ "$open" = "0" ] && return 0
		sleep 0.5
	done
	say "$tag: $open transaction(s) still open after ${secs}s"
	return 1
}

count_status() { # count_status TAG CODE
	q -c "SELECT count(*) FROM mobisign.transaction WHERE application = '$1' AND status_code = $2"
}
count_tag() { q -c "SELECT count(*) FROM mobisign.transaction WHERE application = '$1'"; }

final_audit_once() { # every transaction of TAG has exactly one final audit row
	local bad
	bad=$(q -c "SELECT count(*) FROM mobisign.transaction t
	             WHERE t.application = '$1' AND (SELECT count(*) FROM mobisign.audit a
	                    WHERE a.transaction_id = t.id AND a.operation IN
	                    ('transaction.completed', 'transaction.failed', 'transaction.expired',
	                     'transaction.cancelled')) <> 1")
	[ "$bad" = "0" ] || { say "$1: $bad transaction(s) without exactly one final audit row"; return 1; }
}

check "the worker binds to the simulator" wait_bound

# ---- 1. baseline ---------------------------------------------------------------
start_auth 1 5 base
check "baseline: 5 authentications final" wait_final base 60
check "baseline: 5 x VALID_SIGNATURE (502)" test "$(count_status base 502)" = 5

# ---- 1b. messages-per-second cap ------------------------------------------------
q -c "UPDATE mobisign.smsc SET max_per_second = 5 WHERE name = 'sim'" >/dev/null
ms_psql -q -c "SELECT pg_catalog.pg_reload_conf()" postgres >/dev/null
sleep 0.5
check "rate cap: the link is bound again with the new setting" wait_bound
start_auth 56 65 rate
check "rate cap: 10 authentications final" wait_final rate 60
check "rate cap: 10 x 502" test "$(count_status rate 502)" = 10
span=$(q -c "SELECT (pg_catalog.date_part('epoch', max(submitted_at) - min(submitted_at)) * 1000)::int
               FROM mobisign.transaction WHERE application = 'rate'")
say "rate cap: 20 submit_sm at 5/s (burst 5) spread over ${span} ms"
check "rate cap: 20 segments at 5 per second took at least 2.5 s" test "$span" -ge 2500
q -c "UPDATE mobisign.smsc SET max_per_second = 100 WHERE name = 'sim'" >/dev/null
ms_psql -q -c "SELECT pg_catalog.pg_reload_conf()" postgres >/dev/null
sleep 0.5
check "rate cap: back to 100/s" wait_bound

# ---- NOTIFY listener for phases 2 and 3 (bounded: 240 polls) --------------------
(
	echo "LISTEN mobisign;"
	for _ in $(seq 1 240); do
		[ -e "$WORK/listen.stop" ] && break
		echo "SELECT 1;"
		sleep 0.5
	done
) | ms_psql -d "$DB" -qtA >"$WORK/notify.log" 2>&1 &
LISTEN_PID=$!
sleep 0.5

# ---- 2. throttling -------------------------------------------------------------
retried0=$(stat retried)
echo "throttle 25" >"$WORK/sim/faults"
sleep 0.3
start_auth 6 25 throttle
check "throttle: 20 authentications final" wait_final throttle 90
check "throttle: 20 x 502" test "$(count_status throttle 502)" = 20
retried1=$(stat retried)
check "throttle: the worker retried throttled submits ($retried0 -> $retried1)" test "$retried1" -ge $((retried0 + 20))
check "throttle: the simulator refused submits" grep -q "refused with status 0x58" "$WORK/sim.log"

# ---- 3. connection dropped with submit_sm in flight ----------------------------
reconnects0=$(stat reconnects)
echo "delay_ms 1500" >"$WORK/sim/faults"
sleep 0.3
start_auth 26 45 drop
sleep 0.7
inflight=$(stat window_in_use)
printf 'delay_ms 1500\ndrop\n' >"$WORK/sim/faults"
sleep 0.5
: >"$WORK/sim/faults"
say "drop: $inflight submit_sm were in flight when the SMSC dropped the session"
check "drop: submit_sm were in flight at the drop" test "$inflight" -gt 0
check "drop: 20 authentications final" wait_final drop 90
check "drop: 20 x 502" test "$(count_status drop 502)" = 20
reconnects1=$(stat reconnects)
check "drop: the worker reconnected ($reconnects0 -> $reconnects1)" test "$reconnects1" -gt "$reconnects0"

# the SMSC swallows submit_sm: the response timeout (3 s) ends the session
reconnects0=$(stat reconnects)
echo "no_resp 3" >"$WORK/sim/faults"
sleep 0.3
start_auth 46 55 noresp
check "no answer: 10 authentications final" wait_final noresp 90
check "no answer: 10 x 502" test "$(count_status noresp 502)" = 10
check "no answer: the simulator swallowed submits" grep -q "swallowed" "$WORK/sim.log"
check "no answer: the worker gave up on the session and reconnected" test "$(stat reconnects)" -gt "$reconnects0"
: >"$WORK/sim/faults"

# the SMSC delivers a request, then drops the session before answering the
# submit_sm: the worker sends the same secured packet again, the SIM refuses
# the copy ("counter low"), and the first copy's signature still completes
# the transaction
dups() { q -c "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'duplicate delivery'"; }
dup0=$(dups)
# the user takes 4 s to answer, so the copy arrives while the request is open
echo "user0056 sign 4000" >"$WORK/sim/behaviour"
echo "drop_on_submit 2" >"$WORK/sim/faults"
sleep 0.3
start_auth 56 56 resent
check "re-sent request: the authentication is final" wait_final resent 60
check "re-sent request: 502, the SIM's refusal of the copy does not fail it" test "$(count_status resent 502)" = 1
check "re-sent request: the refused copy is audited as a duplicate delivery" test "$(dups)" -gt "$dup0"
check "re-sent request: the SIM refused the copy's counter" grep -q "SIM 358[0-9]*56: counter .* refused" "$WORK/sim.log"
: >"$WORK/sim/faults"
: >"$WORK/sim/behaviour"

sleep 1.5
touch "$WORK/listen.stop"
wait "$LISTEN_PID" 2>/dev/null || true
LISTEN_PID=
notify_once() {
	local tag=$1 id n bad=0
	while read -r id; do
		[ -n "$id" ] || continue
		n=$(grep -c "\"transaction_id\": \"$id\"" "$WORK/notify.log" || true)
		if [ "$n" != 1 ]; then
			say "$tag: transaction $id notified $n time(s)"
			bad=1
		fi
	done <"$WORK/$tag.ids"
	return $bad
}
check "throttle: exactly one NOTIFY per transaction" notify_once throttle
check "drop: exactly one NOTIFY per transaction" notify_once drop
check "no answer: exactly one NOTIFY per transaction" notify_once noresp
check "throttle: exactly one final audit row per transaction" final_audit_once throttle
check "drop: exactly one final audit row per transaction" final_audit_once drop
check "no answer: exactly one final audit row per transaction" final_audit_once noresp
check "re-sent request: exactly one NOTIFY" notify_once resent
check "re-sent request: exactly one final audit row" final_audit_once resent

# ---- 4. kill -9 with 200 transactions in flight ---------------------------------
# the SIMs answer after 1.5 s so that many are submitted and unanswered
echo "* sign 1500" >"$WORK/sim/behaviour"
sleep 0.3
start_auth 1 $USERS crash
for _ in $(seq 1 200); do
	sub=$(q -c "SELECT count(*) FROM mobisign.transaction WHERE application = 'crash' AND state = 'submitted'")
	[ "$sub" -ge 50 ] && break
	sleep 0.05
done
inb=$(q -c "SELECT count(*) FROM mobisign.inbound_segment WHERE NOT processed")
open=$(q -c "SELECT count(*) FROM mobisign.transaction WHERE application = 'crash' AND state IN ('queued','submitted','delivered')")
wpid=$(worker_pid)
say "kill -9 of worker $wpid with $open of $USERS transactions open ($sub submitted, $inb answer segments unprocessed)"
check "crash: transactions were open at the kill" test "$open" -gt 0
kill -9 "$wpid"
sleep 1
for _ in $(seq 1 100); do
	"$PGBIN/pg_isready" -q -h "$WORK/pg" -p "$PGPORT_T" && break
	sleep 0.2
done
for _ in $(seq 1 100); do
	[ -n "$(worker_pid 2>/dev/null || true)" ] && break
	sleep 0.2
done
check "crash: the worker was restarted" test -n "$(worker_pid)"
check "crash: all $USERS transactions final" wait_final crash 150
ok=$(count_status crash 502)
say "crash: final states: $(q -c "SELECT string_agg(status_code || ' x' || n, ', ') FROM
      (SELECT status_code, count(*) n FROM mobisign.transaction WHERE application = 'crash'
        GROUP BY 1 ORDER BY 1) s")"
check "crash: $USERS transactions recorded" test "$(count_tag crash)" = $USERS
check "crash: at least 95% completed with 502 ($ok)" test "$ok" -ge $((USERS * 95 / 100))
check "crash: exactly one final audit row per transaction" final_audit_once crash
dup=$(q -c "SELECT count(*) FROM (SELECT msisdn, sim_key_set, counter FROM mobisign.transaction
             WHERE counter IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1) d")
check "crash: no SIM counter used twice" test "$dup" = 0
behind=$(q -c "SELECT count(*) FROM mobisign.sim_key k WHERE k.counter <
               (SELECT max(t.counter) FROM mobisign.transaction t WHERE t.msisdn = k.msisdn)")
check "crash: every SIM key's stored counter is at least its highest used counter" test "$behind" = 0
check "crash: the queue is drained" test "$(q -c "SELECT count(*) FROM mobisign.request_queue WHERE NOT done")" = 0
: >"$WORK/sim/behaviour"

# ---- 5. DROP DATABASE and SIGTERM ------------------------------------------------
ms_psql -q -c "CREATE DATABASE msscratch" postgres
start=$(date +%s)
check "DROP DATABASE of another database is not blocked by the worker" \
	timeout 20 "$PGBIN/psql" -X -q -h "$WORK/pg" -p "$PGPORT_T" -U postgres -d postgres -c "DROP DATABASE msscratch"
say "DROP DATABASE took $(($(date +%s) - start)) s"

# DROP DATABASE of the worker's own database: only its owner stops the worker
ms_psql -q -d postgres -c "CREATE ROLE msnotowner LOGIN"
wpid=$(worker_pid)
check "DROP DATABASE by a non-owner is refused" \
	bash -c "! timeout 20 '$PGBIN/psql' -X -q -h '$WORK/pg' -p '$PGPORT_T' -U msnotowner -d postgres -c 'DROP DATABASE $DB' 2>/dev/null"
check "... and the worker kept running" test "$(worker_pid)" = "$wpid"
# a drop that fails for another reason (a session still connected) restarts the worker
"$PGBIN/psql" -X -q -h "$WORK/pg" -p "$PGPORT_T" -U postgres -d "$DB" -c "SELECT pg_sleep(15)" >/dev/null 2>&1 &
holder=$!
sleep 1
check "DROP DATABASE with another session connected fails" \
	bash -c "! timeout 30 '$PGBIN/psql' -X -q -h '$WORK/pg' -p '$PGPORT_T' -U postgres -d postgres -c 'DROP DATABASE $DB' 2>/dev/null"
kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true
back=
for _ in $(seq 1 75); do
	back=$(worker_pid)
	[ -n "$back" ] && [ "$back" != "$wpid" ] && break
	sleep 0.2
done
check "... and the worker it stopped is started again" bash -c "[ -n '$back' ] && [ '$back' != '$wpid' ]"

# The same failed drop while the stopped worker is still busy: its
# successor starts before it exits.  The old worker must not clear the
# shared entry the new one owns (worker_stats.pid, the latch writers set).
# A session holding the audit sealer's advisory lock keeps the old worker
# waiting in its housekeeping (it sees the SIGTERM only afterwards) and stays
# connected, so the drop fails; it lets go once the second worker runs.
# With a 60 s poll, a lost wake-up would leave a request unsent for a minute.
wpid=$(worker_pid)
q -c "ALTER SYSTEM SET mobisign.worker_naptime = '60s'" -c "SELECT pg_reload_conf()" >/dev/null
"$PGBIN/psql" -X -q -h "$WORK/pg" -p "$PGPORT_T" -U postgres -d "$DB" \
	-c "SELECT pg_advisory_lock(hashtext('mobisign.audit_seal'))" \
	-c "DO \$\$ BEGIN
	      FOR i IN 1 .. 400 LOOP
	        PERFORM pg_stat_clear_snapshot();
	        EXIT WHEN (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign worker') >= 2;
	        PERFORM pg_sleep(0.1);
	      END LOOP;
	    END \$\$" \
	-c "SELECT pg_sleep(1)" >/dev/null 2>&1 &
holder=$!
blocked=no
for _ in $(seq 1 50); do
	[ "$(q -c "SELECT wait_event FROM pg_stat_activity WHERE pid = $wpid")" = advisory ] && { blocked=yes; break; }
	sleep 0.2
done
check "busy worker: the worker waits on the sealer's lock" test "$blocked" = yes
check "busy worker: DROP DATABASE with another session connected fails" \
	bash -c "! timeout 30 '$PGBIN/psql' -X -q -h '$WORK/pg' -p '$PGPORT_T' -U postgres -d postgres -c 'DROP DATABASE $DB' 2>/dev/null"
for _ in $(seq 1 200); do kill -0 "$holder" 2>/dev/null || break; sleep 0.2; done
kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true
check "busy worker: the stopped worker exited after its successor started" test "$(gone_within "$wpid" 150)" = yes
back=$(worker_pid)
check "busy worker: a new worker runs" bash -c "[ -n '$back' ] && [ '$back' != '$wpid' ]"
check "busy worker: worker_stats.pid is the new worker's ($back)" test "$(stat pid)" = "$back"
check "busy worker: worker_stats.state is not 'stopped'" test "$(stat state)" != stopped
for _ in $(seq 1 75); do [ "$(stat bound)" = t ] && break; sleep 0.2; done
start=$(date +%s)
tid=$(q -c "SELECT transaction_id FROM mobisign_authenticate('user0001', 'after-drop', '30 s')")
check "busy worker: a request is woken and answered within 10 s (poll is 60 s)" \
	test "$(q -c "SELECT state || ' ' || status_code FROM mobisign_wait('$tid', '10 s')")" = "completed 502"
say "busy worker: the request took $(($(date +%s) - start)) s"
q -c "ALTER SYSTEM RESET mobisign.worker_naptime" -c "SELECT pg_reload_conf()" >/dev/null

wpid=$(worker_pid)
loglines=$(wc -l <"$WORK/pg/log")
kill -TERM "$wpid"
check "SIGTERM: the worker exited" test "$(gone_within "$wpid" 100)" = yes
tail -n +"$((loglines + 1))" "$WORK/pg/log" >"$WORK/sigterm.log"
check "SIGTERM: the worker stopped cleanly" grep -q "mobisign worker stopped" "$WORK/sigterm.log"
check "SIGTERM: the worker unbound from the SMSC" grep -q "SMSC \"sim\": unbound" "$WORK/sigterm.log"
check "SIGTERM: exit code 0, no crash restart" \
	bash -c "! grep -q 'terminated by signal\|exited with exit code [1-9]' '$WORK/sigterm.log'"
sleep 6
check "SIGTERM: a clean exit is final (no restart)" test -z "$(worker_pid)"
# a restart brings the worker back; then a plain DROP DATABASE of its
# database stops it cleanly and goes through
ms_as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -w -m fast restart -l "$WORK/pg/log" >/dev/null
wpid=
for _ in $(seq 1 75); do
	wpid=$(worker_pid)
	[ -n "$wpid" ] && break
	sleep 0.2
done
check "after a restart the worker runs again" test -n "$wpid"
loglines=$(wc -l <"$WORK/pg/log")
check "DROP DATABASE of the worker's database goes through while the worker runs" \
	timeout 30 "$PGBIN/psql" -X -q -h "$WORK/pg" -p "$PGPORT_T" -U postgres -d postgres -c "DROP DATABASE $DB"
tail -n +"$((loglines + 1))" "$WORK/pg/log" >"$WORK/dropdb.log"
check "... the worker was stopped for it, cleanly" \
	bash -c "grep -q 'is being dropped' '$WORK/dropdb.log' && grep -q 'mobisign worker stopped' '$WORK/dropdb.log'"

check "no process crashed (but for the deliberate kill -9)" \
	bash -c "! grep 'terminated by signal' '$WORK/pg/log' | grep -v 'signal 9'"
sim_password=$(awk '$1 == "password" {print $2}' "$WORK/sim/sim.conf")
check "the SMSC password never appears in the server log" \
	bash -c "[ -n '$sim_password' ] && ! grep -qF -- '$sim_password' '$WORK/pg/log'"

# ---- 6. without shared_preload_libraries -----------------------------------------
ms_cluster_stop "$WORK/pg"
echo "shared_preload_libraries = ''" | ms_as_pg tee -a "$WORK/pg/data/postgresql.conf" >/dev/null
ms_as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w -t 60 start >/dev/null
ms_psql -q -c "CREATE DATABASE msnopreload" postgres
ms_psql -q -d msnopreload -c "CREATE EXTENSION mobisign"
if ms_psql -q -d msnopreload -c "SELECT * FROM mobisign.worker_stats" >"$WORK/nopreload.out" 2>&1; then
	fail "without preload: worker_stats should raise an error"
else
	check "without preload: the error hints at shared_preload_libraries" \
		grep -q "shared_preload_libraries = 'mobisign'" "$WORK/nopreload.out"
fi
check "without preload: no worker runs" test -z "$(ms_psql -qtA -d msnopreload -c \
	"SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = 'mobisign worker'")"
# an application asking for an authentication is told why nothing would be sent
if ms_psql -q -d msnopreload -v VERBOSITY=verbose -c "SELECT * FROM mobisign_authenticate('user0001')" \
	>"$WORK/nopreload-auth.out" 2>&1; then
	fail "without preload: mobisign_authenticate should raise an error"
else
	check "without preload: mobisign_authenticate fails with 55000 and the hint" \
		grep -q "55000.*background worker is not available" "$WORK/nopreload-auth.out"
fi
check "without preload: no transaction row is left behind" test "$(ms_psql -qtA -d msnopreload -c \
	"SELECT count(*) FROM mobisign.transaction")" = 0

if [ $FAILED -ne 0 ]; then
	say "FAILED"
	exit 1
fi
say "all checks passed"
