#!/usr/bin/env bash
# The SMSC is outside the trust boundary (docs/worker.md): a hostile SMSC
# of our own (test/e2e/hostile_smsc.py, raw frames on loopback) sends what
# took the cluster down or poisoned the audit before, one named scenario at a
# time:
#
#   tlv80       a ~530-byte deliver_sm with 80 TLVs (libsmpp34 crashed the
#               worker: SIGSEGV, every backend restarted) and one with 40
#               unknown TLVs: refused with ESME_RINVOPTPARSTREAM, the session
#               goes on (a receipt after them is acknowledged);
#   truncated   21,000 deliver_sm whose last TLV announces more bytes than
#               the PDU holds (libsmpp34 leaked ~1 KB each): all refused, the
#               worker's RSS grows by less than 2 MB over the last 20,000,
#               and the refusals are logged a few times, not 21,000;
#   bad_source  deliver_sm from a source_addr that is not UTF-8 (0xff...),
#               alphanumeric, or 16 digits: refused with ESME_RINVSRCADR and
#               never stored; a valid MSISDN is stored; segments with 8-bit
#               reference 0x12 and 16-bit 0x0012 are stored as two groups;
#   held_dup    a deliver_sm stored, then the same again (an SMSC redelivers
#               one whose resp was late) while another session holds the
#               first copy's row for 8 s, as a verifier marking it processed
#               does: acknowledged at once as the duplicate it is, the link
#               served meanwhile (the worker waited on the unique index);
#   nack_flood  2,000 generic_nack for no PDU sent and 2,000 data_sm (not
#               served; answered generic_nack): logged a few times with a
#               count, not 4,000 lines, and the session goes on;
#   bad_msgid   submit_sm answered with a message_id that is not UTF-8: the
#               id is stored hex-encoded (hex:fffe2d6964) in the queue and
#               in the audit;
#   garbage     endless malformed PDUs: the worker answers 50, closes the
#               session, binds again after its reconnect delay; random bytes
#               (a broken length) close it at once;
#   flap        an SMSC that accepts every bind and ends the session at once
#               (unbind, close, in turn; 300 ms reconnect_delay): the worker
#               reconnects after 0.3, 0.6, 1.2, 2.4, 4.8 s, not every 300 ms
#               (a bind reset the back-off); a session bound for 30 s starts
#               the back-off over;
#   audit_bad_row  a SQL_ASCII database, where plain SQL can store bytes that
#               are not UTF-8: audit_log stores them hex-encoded, and a bad
#               row inserted behind its back is still sealed and verified.
#
# Then: the cluster was never restarted (pg_postmaster_start_time, no
# "terminated by signal", a session opened at the start is still connected:
# a crash restart ends every session), the worker is the same process, the worker sealed
# the whole audit and mobisign_audit_verify() says intact, and a normal
# authentication through the simulator still completes (502).
#
# Every loop is bounded in count and time. Ports: any free loopback ports.
#
#   bash test/e2e/25_hostile_smsc.sh                 (after make install)
#   MS_SCENARIO=tlv80 bash test/e2e/25_hostile_smsc.sh
#
# KEEP=1 keeps the work directory.
set -uo pipefail
. "$(dirname "$0")/lib/e2e.sh"

SMSC=$MOBISIGN_ROOT/test/e2e/hostile_smsc.py
DB=mshostile
RSS_MAX_GROWTH_KB=2048

say() { echo "# $*"; }
fail() { ms_not_ok "$*"; }

command -v python3 >/dev/null || ms_e2e_die "python3 is needed (test/deps.sh installs it)"
ms_e2e_init
ms_e2e_ports PGPORT_T SIM_PORT SMSC_PORT
SMSC_PID=

e2e_on_failure() {
	say "hostile SMSC log tail:"
	tail -n 20 "$WORK"/smsc-*.log 2>/dev/null | sed 's/^/#   /'
}

worker_pid() { ms_worker_pid; }
worker_rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$(worker_pid)/status"; }
wake() {
	q "SELECT mobisign._wake_worker()" >/dev/null
	ms_reload
}
# jget FILE KEY [DEFAULT]: a value of the hostile SMSC's JSON result
jget() {
	python3 -c 'import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    r = {}
v = r
for k in sys.argv[2].split("/"):
    v = v.get(k) if isinstance(v, dict) else None
print(sys.argv[3] if v is None else (str(v).lower() if isinstance(v, bool) else v))' "$1" "$2" "${3:-}"
}
wait_for() { ms_wait_until "$@"; }
jis() { [ "$(jget "$1" "$2")" = "$3" ]; }
# predicates for wait_for
worker_up() { [ -n "$(worker_pid)" ]; }
smsc_bound() { [ "$(jget "$OUT" binds 0)" -ge 1 ]; }
queue_done() { [ "$(q "SELECT count(*) FROM mobisign.request_queue WHERE transaction_id = '$1' AND done")" = 1 ]; }
audit_sealed() { [ "$(q "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL")" = 0 ]; }
tx_final() {
	[ "$(q "SELECT state NOT IN ('queued', 'submitted', 'delivered') FROM mobisign.transaction WHERE id = '$1'")" = t ]
}

# smsc_start SCENARIO [ARGS...]: the hostile SMSC runs SCENARIO, the link to it is enabled
smsc_start() {
	local name=$1
	shift
	OUT=$WORK/$name.json
	rm -f "$OUT"
	ms_bg python3 "$SMSC" --port "$SMSC_PORT" --out "$OUT" --scenario "$name" --limit 300 "$@" \
		>"$WORK/smsc-$name.log" 2>&1
	SMSC_PID=$MS_BG_PID
	wait_for 10 test -s "$OUT" || { fail "$name: the hostile SMSC did not start"; return 1; }
	q "UPDATE mobisign.smsc SET enabled = true WHERE name = 'hostile'" >/dev/null
	wake
	wait_for 30 smsc_bound || { fail "$name: the worker did not bind"; return 1; }
}
smsc_stop() {
	q "UPDATE mobisign.smsc SET enabled = false WHERE name = 'hostile'" >/dev/null
	wake
	sleep 0.5
	ms_bg_stop "$SMSC_PID"
	SMSC_PID=
}
answers() { jget "$OUT" "answers/$1" 0; } # answers CMD:STATUS (hex) -> count
log_since() { tail -n +"$(($1 + 1))" "$WORK/pg/log"; }

# ---- set-up ------------------------------------------------------------------
say "cluster on $PGPORT_T, simulator on $SIM_PORT, hostile SMSC on $SMSC_PORT, work dir $WORK"
ms_sim_provision "$WORK/sim" "$SIM_PORT" 2
ms_e2e_cluster "$WORK/pg" "$PGPORT_T" "$DB" "mobisign.worker_naptime = '2s'" "log_min_messages = log"
ms_sim_register "$WORK/sim"
q "UPDATE mobisign.smsc SET enabled = false WHERE name = 'sim'" >/dev/null
q "INSERT INTO mobisign.smsc (name, host, port, system_id, password, reconnect_delay,
             response_timeout, enabled)
      VALUES ('hostile', '127.0.0.1', $SMSC_PORT, 'hostile', 'pw', '300 ms', '5 s', false)" >/dev/null
wait_for 30 worker_up || ms_e2e_die "the worker did not start"
PM_START=$(q "SELECT pg_catalog.pg_postmaster_start_time()")
WORKER0=$(worker_pid)
say "postmaster started $PM_START, worker $WORKER0"
# a session that lives through the suite: a crashed backend (a worker's
# SIGSEGV) makes the postmaster end every session, while its start time stays
ms_bg "$PGBIN/psql" -X -q -h "$WORK/pg" -p "$PGPORT_T" -U postgres -d "$DB" \
	-c "SELECT pg_catalog.pg_sleep(900) /* sentinel */" >/dev/null 2>&1
sentinel_alive() {
	[ "$(q "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE query LIKE '%/* sentinel */'
	           AND pid <> pg_catalog.pg_backend_pid()")" = 1 ]
}
wait_for 10 sentinel_alive || ms_e2e_die "the sentinel session did not start"

# ---- scenarios -----------------------------------------------------------------
scenario_tlv80() {
	smsc_start tlv80 || return 0
	wait_for 30 jis "$OUT" done true || fail "the script did not finish"
	say "the 80-TLV deliver_sm is $(jget "$OUT" tlv80_bytes) bytes"
	ms_check_cmd "the 80-TLV deliver_sm is over 500 bytes" test "$(jget "$OUT" tlv80_bytes 0)" -gt 500
	ms_check_cmd "80 TLVs and 40 unknown TLVs: both refused with ESME_RINVOPTPARSTREAM (0xc0)" \
		test "$(answers 80000005:c0)" = 2
	ms_check_cmd "the receipt after them is acknowledged (the session survived)" test "$(answers 80000005:0)" = 1
	ms_check_cmd "the worker is the same process" test "$(worker_pid)" = "$WORKER0"
	smsc_stop
}

scenario_truncated() {
	local rss0 rss1 lines0 logged
	lines0=$(wc -l <"$WORK/pg/log")
	smsc_start truncated --warmup 1000 --count 20000 --go "$WORK/truncated.go" || return 0
	wait_for 120 jis "$OUT" phase warm || { fail "the warm-up did not finish"; return 0; }
	rss0=$(worker_rss_kb)
	touch "$WORK/truncated.go"
	wait_for 240 jis "$OUT" done true || fail "the 20,000 PDUs were not all sent in time"
	rss1=$(worker_rss_kb)
	say "worker RSS ${rss0} kB after the warm-up, ${rss1} kB after 20,000 more"
	ms_check_cmd "21,000 sent" test "$(jget "$OUT" hostile_sent 0)" = 21000
	ms_check_cmd "all 21,000 refused with ESME_RINVOPTPARSTREAM (0xc0)" test "$(answers 80000005:c0)" = 21000
	ms_check_cmd "the worker's RSS grew by less than $RSS_MAX_GROWTH_KB kB" \
		test $((rss1 - rss0)) -lt $RSS_MAX_GROWTH_KB
	logged=$(log_since "$lines0" | grep -c "that is refused" || true)
	say "$logged log lines for 21,000 refusals"
	ms_check_cmd "refusals are logged rate-limited (1..30 lines)" \
		bash -c "[ $logged -ge 1 ] && [ $logged -le 30 ]"
	ms_check_cmd "the worker is the same process" test "$(worker_pid)" = "$WORKER0"
	smsc_stop
}

scenario_bad_source() {
	smsc_start bad_source || return 0
	wait_for 30 jis "$OUT" done true || fail "the script did not finish"
	ms_check_cmd "0xff..., 'Operator' and 16 digits refused with ESME_RINVSRCADR (0x0a)" \
		test "$(answers 80000005:a)" = 3
	ms_check_cmd "the deliver_sm from +358401234567 is acknowledged (and the two from +358401234568)" \
		test "$(answers 80000005:0)" = 3
	ms_check_cmd "it is stored" \
		test "$(q "SELECT count(*) FROM mobisign.inbound_segment WHERE msisdn = '+358401234567'")" = 1
	ms_check "an 8-bit reference 0x12 and a 16-bit 0x0012 are two groups (the 16-bit one + 65536)" "18 65554" \
		"$(q "SELECT string_agg(concat_ref::text, ' ' ORDER BY id) FROM mobisign.inbound_segment WHERE msisdn = '+358401234568'")"
	ms_check_cmd "every stored source is an MSISDN" \
		test "$(q "SELECT count(*) FROM mobisign.inbound_segment WHERE msisdn !~ '^\+?[0-9]{5,15}$'")" = 0
	smsc_stop
}

scenario_bad_msgid() {
	local tx ids
	smsc_start bad_msgid --count 1 || return 0
	tx=$(q "SELECT (mobisign_authenticate('user0001', 'hostile', '1 min')).transaction_id")
	wait_for 30 queue_done "$tx" ||
		fail "the request was not recorded as sent"
	ids=$(q "SELECT smsc_message_ids FROM mobisign.request_queue WHERE transaction_id = '$tx'")
	say "$(jget "$OUT" submits) submit_sm answered with message_id ff fe '-id'; stored $ids"
	ms_check_cmd "the queue stores the id hex-encoded" \
		test "$(q "SELECT bool_and(i = 'hex:fffe2d6964') AND count(*) >= 1 FROM mobisign.request_queue q,
		              pg_catalog.unnest(q.smsc_message_ids) i WHERE q.transaction_id = '$tx'")" = t
	ms_check_cmd "the audit records the hex form" \
		test "$(q "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$tx'
		              AND operation = 'transaction.submitted' AND detail->'message_ids'->>0 = 'hex:fffe2d6964'")" = 1
	q "SELECT mobisign_cancel('$tx')" >/dev/null 2>&1 || true
	smsc_stop
}

scenario_held_dup() {
	local hold n
	smsc_start held_dup --go "$WORK/go-held_dup" || return 0
	wait_for 30 jis "$OUT" phase stored || { fail "the first copy was not answered"; return 0; }
	ms_check_cmd "the first copy is stored, pending (one segment of two)" \
		test "$(q "SELECT count(*) FROM mobisign.inbound_segment WHERE msisdn LIKE '%358409999001' AND NOT processed")" = 1
	# a session holds that row as a verifier marking it processed does (for
	# its whole batch, which may wait on an OCSP responder), for 8 s
	ms_bg ms_psql -qAt -c "BEGIN; UPDATE mobisign.inbound_segment SET processed = true
	                         WHERE msisdn LIKE '%358409999001'; SELECT pg_catalog.pg_sleep(8); COMMIT" >/dev/null
	hold=$MS_BG_PID
	wait_for 10 held_dup_locked || fail "the holding session did not take the row"
	touch "$WORK/go-held_dup"
	wait_for 40 jis "$OUT" done true || fail "the script did not finish"
	say "the same deliver_sm again: answered in $(jget "$OUT" dup_ms) ms, then an enquire_link in $(jget "$OUT" enq_ms) ms, while the first copy's row was held for 8 s"
	ms_check_cmd "both copies acknowledged" test "$(answers 80000005:0)" = 2
	ms_check_cmd "the copy was acknowledged without waiting for the held row (under 4 s)" \
		test "$(jget "$OUT" dup_ms 99999)" -lt 4000
	ms_check_cmd "the link was served meanwhile (enquire_link answered under 4 s)" \
		test "$(jget "$OUT" enq_ms 99999)" -lt 4000
	wait "$hold" 2>/dev/null || true
	n=$(q "SELECT count(*) FROM mobisign.inbound_segment WHERE msisdn LIKE '%358409999001'")
	ms_check "the copy was taken for the duplicate it is (one row stored)" 1 "$n"
	smsc_stop
}
# the holding session's UPDATE has run (it sleeps holding the row lock)
held_dup_locked() {
	test "$(q "SELECT count(*) FROM pg_catalog.pg_stat_activity
	            WHERE query LIKE '%pg_sleep(8)%' AND wait_event = 'PgSleep'")" = 1
}

scenario_nack_flood() {
	local lines0 logged errors0
	lines0=$(wc -l <"$WORK/pg/log")
	errors0=$(q "SELECT coalesce(sum(errors), 0) FROM mobisign.worker_stats")
	smsc_start nack_flood --count 2000 || return 0
	wait_for 60 jis "$OUT" done true || fail "the script did not finish"
	logged=$(log_since "$lines0" | grep -c 'for no PDU in flight\|does not serve command')
	say "2,000 generic_nack for no PDU sent and 2,000 data_sm: $logged log lines"
	ms_check "every data_sm answered generic_nack ESME_RINVCMDID (0x03)" 2000 "$(answers 80000000:3)"
	ms_check "the session is still served (the enquire_link after them answered)" 1 "$(answers 80000015:0)"
	ms_check "... and was not closed" false "$(jget "$OUT" closed)"
	ms_check_cmd "they were logged, a few times, not 4,000 (one line per 10 s, with a count)" \
		test "$logged" -ge 1 -a "$logged" -le 4
	ms_check "not served is no fault: worker_stats' errors did not count them" "$errors0" \
		"$(q "SELECT coalesce(sum(errors), 0) FROM mobisign.worker_stats")"
	smsc_stop
}

scenario_garbage() {
	local lines0
	lines0=$(wc -l <"$WORK/pg/log")
	smsc_start garbage --count 500 || return 0
	wait_for 60 jis "$OUT" done true || fail "the script did not finish"
	say "closed after $(jget "$OUT" closed_after) PDUs, bound again after $(jget "$OUT" rebind_ms) ms"
	ms_check_cmd "50 malformed deliver_sm answered (ESME_RINVSRCADR), then no more" \
		test "$(answers 80000005:a)" = 50
	ms_check_cmd "the worker closed the session after them" \
		bash -c "c=$(jget "$OUT" closed_after -1); [ \$c -ge 50 ] && [ \$c -le 52 ]"
	ms_check_cmd "it bound again after its reconnect delay (300 ms .. 10 s)" \
		bash -c "r=$(jget "$OUT" rebind_ms -1); [ \$r -ge 250 ] && [ \$r -le 10000 ]"
	ms_check_cmd "random bytes (a broken length) close the session at once" jis "$OUT" random_closed true
	ms_check_cmd "the log says why" \
		bash -c "grep -q '50 refused PDUs in a row' <(tail -n +$((lines0 + 1)) '$WORK/pg/log') &&
		         grep -q 'invalid PDU length' <(tail -n +$((lines0 + 1)) '$WORK/pg/log')"
	ms_check_cmd "the worker is the same process" test "$(worker_pid)" = "$WORKER0"
	smsc_stop
}

scenario_flap() {
	local gaps i g want ok=true
	smsc_start flap --count 5 --hold 31 || return 0
	wait_for 120 jis "$OUT" done true || fail "the script did not finish"
	gaps=$(jget "$OUT" gaps_ms "" | tr -d '[],')
	say "five sessions ended by the SMSC at once: bound again after $gaps ms; after one bound 31 s: $(jget "$OUT" stable_gap_ms) ms"
	i=0
	for g in $gaps; do
		want=$((300 << i))
		[ "$g" -ge $((want * 6 / 10)) ] || ok=false
		i=$((i + 1))
	done
	ms_check "five flaps, five binds again" 5 "$i"
	ms_check "each reconnect waits the doubled delay (300 ms << n, at least 60 % of it, measured from the SMSC's close)" true "$ok"
	ms_check_cmd "a session that stayed bound 31 s starts the back-off over (bound again in under 3 s, not 9.6 s)" \
		bash -c "g=$(jget "$OUT" stable_gap_ms -1); [ \$g -ge 0 ] && [ \$g -lt 3000 ]"
	ms_check_cmd "the worker is the same process" test "$(worker_pid)" = "$WORKER0"
	smsc_stop
}

scenario_audit_bad_row() {
	local a="ms_psql -d msascii -qtA"
	ms_psql -q -c "CREATE DATABASE msascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" postgres
	$a -c "CREATE EXTENSION mobisign" >/dev/null
	# bytes that are not UTF-8, written through audit_log: stored hex-encoded
	$a -c "SELECT mobisign.audit_log('test.bad_bytes', pg_catalog.convert_from('\xff6f6b', 'SQL_ASCII'),
	          pg_catalog.jsonb_build_object('msisdn', pg_catalog.convert_from('\xff3335', 'SQL_ASCII')))" >/dev/null
	ms_check_cmd "audit_log stores an outcome that is not UTF-8 as hex" \
		test "$($a -c "SELECT outcome FROM mobisign.audit WHERE operation = 'test.bad_bytes'")" = "hex:ff6f6b"
	ms_check_cmd "... and such a detail as {unreadable_detail: hex:...}" \
		test "$($a -c "SELECT detail->>'unreadable_detail' LIKE 'hex:7b%' FROM mobisign.audit WHERE operation = 'test.bad_bytes'")" = t
	# a bad row written behind audit_log's back (as before the fix)
	$a -c "INSERT INTO mobisign.audit (operation, outcome, detail)
	       VALUES ('test.raw', 'x', pg_catalog.jsonb_build_object('id', pg_catalog.convert_from('\xfffe', 'SQL_ASCII')))"
	ms_check_cmd "control: the raw row really has no UTF-8 form (convert_to fails)" \
		ms_fails $a -c "SELECT pg_catalog.convert_to(detail::text, 'UTF8') FROM mobisign.audit WHERE operation = 'test.raw'"
	ms_check_cmd "the seal goes through it" test "$($a -c "SELECT mobisign.audit_seal() >= 2")" = t
	$a -c "SELECT mobisign.audit_log('test.after', 'success')" >/dev/null
	ms_check_cmd "and seals what comes after it" test "$($a -c "SELECT mobisign.audit_seal()")" = 1
	ms_check_cmd "mobisign_audit_verify() is intact" \
		test "$($a -c "SELECT intact FROM mobisign_audit_verify()")" = t
	$a -c "SET session_replication_role = replica; UPDATE mobisign.audit SET outcome = 'y' WHERE operation = 'test.raw'" >/dev/null
	ms_check_cmd "control: changing the bad row breaks the chain there" \
		test "$($a -c "SELECT intact || ':' || (first_broken_id = (SELECT id FROM mobisign.audit WHERE operation = 'test.raw'))
		               FROM mobisign_audit_verify()")" = "false:true"
}

afterwards() {
	local tx
	ms_check_cmd "the cluster was never restarted (postmaster start time unchanged)" \
		test "$(q "SELECT pg_catalog.pg_postmaster_start_time()")" = "$PM_START"
	ms_check "no process was terminated by a signal" 0 "$(grep -c 'terminated by signal' "$WORK/pg/log")"
	ms_check_cmd "no backend was reset: the session opened at the start is still connected" sentinel_alive
	ms_check_cmd "the worker is the process it was at the start" test "$(worker_pid)" = "$WORKER0"
	ms_check_cmd "the worker sealed the whole audit (within 30 s)" \
		wait_for 30 audit_sealed
	ms_check_cmd "no audit row lacks a UTF-8 form" \
		test "$(q "SELECT count(*) FROM mobisign.audit WHERE mobisign._utf8(detail::text) IS NULL")" = 0
	ms_check_cmd "mobisign_audit_verify() is intact" test "$(q "SELECT intact FROM mobisign_audit_verify()")" = t

	# a normal authentication through the simulator
	q "UPDATE mobisign.smsc SET enabled = true, reconnect_delay = '300 ms' WHERE name = 'sim'" >/dev/null
	ms_sim_start "$WORK/sim" "$SIM_PORT" "$WORK/sim.log"
	wake
	tx=$(q "SELECT (mobisign_authenticate('user0002', 'after', '2 min')).transaction_id")
	wait_for 60 tx_final "$tx" ||
		fail "the authentication after the hostile SMSC did not end"
	ms_check_cmd "a normal authentication still completes (502)" \
		test "$(q "SELECT status_code FROM mobisign.transaction WHERE id = '$tx'")" = 502
}

for s in tlv80 truncated bad_source held_dup nack_flood bad_msgid garbage flap audit_bad_row; do
	ms_scenario "$s" "scenario_$s"
done
# the cluster, the worker and the audit after all of it; then a normal
# authentication through the simulator
ms_scenario afterwards afterwards
ms_summary
