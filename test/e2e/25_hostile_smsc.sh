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
#               never stored; a valid MSISDN is stored;
#   bad_msgid   submit_sm answered with a message_id that is not UTF-8: the
#               id is stored hex-encoded (hex:fffe2d6964) in the queue and
#               in the audit;
#   garbage     endless malformed PDUs: the worker answers 50, closes the
#               session, binds again after its reconnect delay; random bytes
#               (a broken length) close it at once;
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
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

SIM=$MOBISIGN_ROOT/test/sim/mobisign-sim
SMSC=$MOBISIGN_ROOT/test/e2e/hostile_smsc.py
DB=mshostile
RSS_MAX_GROWTH_KB=2048

# report lines on top of test/lib.sh's counted checks
say() { echo "# $*"; }
fail() { ms_not_ok "$*"; }
check() {
	local what=$1
	shift
	if "$@"; then ms_ok "$what"; else ms_not_ok "$what"; fi
}

[ -x "$SIM" ] || { say "missing $SIM (run make)"; exit 1; }
command -v python3 >/dev/null || { say "python3 is needed (test/deps.sh installs it)"; exit 1; }

WORK=$(ms_readable_dir)
PGPORT_T=$(ms_free_port)
SIM_PORT=$(ms_free_port)
SMSC_PORT=$(ms_free_port)
SIM_PID=
SMSC_PID=
SENTINEL_PID=

cleanup() {
	local rc=$?
	[ -n "$SMSC_PID" ] && kill "$SMSC_PID" 2>/dev/null || true
	[ -n "$SENTINEL_PID" ] && kill "$SENTINEL_PID" 2>/dev/null || true
	[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
	[ -n "$SIM_PID" ] && wait "$SIM_PID" 2>/dev/null || true
	ms_cluster_stop "$WORK/pg" || true
	if [ $rc -ne 0 ] || [ "$MS_FAILS" -ne 0 ]; then
		say "server log tail ($WORK/pg/log):"
		tail -n 40 "$WORK/pg/log" 2>/dev/null || true
		say "hostile SMSC log tail:"
		tail -n 20 "$WORK"/smsc-*.log 2>/dev/null || true
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

q() { ms_psql -d "$DB" -qtA "$@"; }
worker_pid() { q -c "SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = 'mobisign worker'"; }
worker_rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$(worker_pid)/status"; }
wake() {
	q -c "SELECT mobisign._wake_worker()" >/dev/null
	ms_psql -q -c "SELECT pg_catalog.pg_reload_conf()" postgres >/dev/null
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
fails() { ! "$@" >/dev/null 2>&1; }
# predicates for wait_for
worker_up() { [ -n "$(worker_pid)" ]; }
smsc_bound() { [ "$(jget "$OUT" binds 0)" -ge 1 ]; }
queue_done() { [ "$(q -c "SELECT count(*) FROM mobisign.request_queue WHERE transaction_id = '$1' AND done")" = 1 ]; }
audit_sealed() { [ "$(q -c "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL")" = 0 ]; }
tx_final() {
	[ "$(q -c "SELECT state NOT IN ('queued', 'submitted', 'delivered') FROM mobisign.transaction WHERE id = '$1'")" = t ]
}

# smsc_start SCENARIO [ARGS...]: the hostile SMSC runs SCENARIO, the link to it is enabled
smsc_start() {
	local name=$1
	shift
	OUT=$WORK/$name.json
	rm -f "$OUT"
	python3 "$SMSC" --port "$SMSC_PORT" --out "$OUT" --scenario "$name" --limit 300 "$@" \
		>"$WORK/smsc-$name.log" 2>&1 &
	SMSC_PID=$!
	wait_for 10 test -s "$OUT" || { fail "$name: the hostile SMSC did not start"; return 1; }
	q -c "UPDATE mobisign.smsc SET enabled = true WHERE name = 'hostile'" >/dev/null
	wake
	wait_for 30 smsc_bound || { fail "$name: the worker did not bind"; return 1; }
}
smsc_stop() {
	q -c "UPDATE mobisign.smsc SET enabled = false WHERE name = 'hostile'" >/dev/null
	wake
	sleep 0.5
	[ -n "$SMSC_PID" ] && kill "$SMSC_PID" 2>/dev/null || true
	[ -n "$SMSC_PID" ] && wait "$SMSC_PID" 2>/dev/null || true
	SMSC_PID=
}
answers() { jget "$OUT" "answers/$1" 0; } # answers CMD:STATUS (hex) -> count
log_since() { tail -n +"$(($1 + 1))" "$WORK/pg/log"; }

# ---- set-up ------------------------------------------------------------------
mkdir -p "$WORK/pg" "$WORK/sim"
chown postgres:postgres "$WORK/sim" 2>/dev/null || true
say "cluster on $PGPORT_T, simulator on $SIM_PORT, hostile SMSC on $SMSC_PORT, work dir $WORK"
ms_cluster_start "$WORK/pg" "$PGPORT_T" "mobisign.database = '$DB'" "mobisign.worker_naptime = '2s'" \
	"log_min_messages = log"
ms_psql -q -c "CREATE DATABASE $DB" postgres
q -c "CREATE EXTENSION mobisign" >/dev/null
"$SIM" provision --dir "$WORK/sim" --users 2 --port "$SIM_PORT" >"$WORK/provision.log" 2>&1 ||
	{ cat "$WORK/provision.log"; exit 1; }
chown -R postgres:postgres "$WORK/sim" 2>/dev/null || true
q -f "$WORK/sim/register.sql" >"$WORK/register.log" 2>&1 || { tail -n 20 "$WORK/register.log"; exit 1; }
q -c "UPDATE mobisign.smsc SET enabled = false WHERE name = 'sim'" >/dev/null
q -c "INSERT INTO mobisign.smsc (name, host, port, system_id, password, reconnect_delay,
             response_timeout, enabled)
      VALUES ('hostile', '127.0.0.1', $SMSC_PORT, 'hostile', 'pw', '300 ms', '5 s', false)" >/dev/null
wait_for 30 worker_up || { say "the worker did not start"; exit 1; }
PM_START=$(q -c "SELECT pg_catalog.pg_postmaster_start_time()")
WORKER0=$(worker_pid)
say "postmaster started $PM_START, worker $WORKER0"
# a session that lives through the suite: a crashed backend (a worker's
# SIGSEGV) makes the postmaster end every session, while its start time stays
"$PGBIN/psql" -X -q -h "$WORK/pg" -p "$PGPORT_T" -U postgres -d "$DB" \
	-c "SELECT pg_catalog.pg_sleep(900) /* sentinel */" >/dev/null 2>&1 &
SENTINEL_PID=$!
sentinel_alive() {
	[ "$(q -c "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE query LIKE '%/* sentinel */'
	           AND pid <> pg_catalog.pg_backend_pid()")" = 1 ]
}
wait_for 10 sentinel_alive || { say "the sentinel session did not start"; exit 1; }

# ---- scenarios -----------------------------------------------------------------
scenario_tlv80() {
	smsc_start tlv80 || return 0
	wait_for 30 jis "$OUT" done true || fail "tlv80: the script did not finish"
	say "tlv80: the 80-TLV deliver_sm is $(jget "$OUT" tlv80_bytes) bytes"
	check "tlv80: the 80-TLV deliver_sm is over 500 bytes" test "$(jget "$OUT" tlv80_bytes 0)" -gt 500
	check "tlv80: 80 TLVs and 40 unknown TLVs: both refused with ESME_RINVOPTPARSTREAM (0xc0)" \
		test "$(answers 80000005:c0)" = 2
	check "tlv80: the receipt after them is acknowledged (the session survived)" test "$(answers 80000005:0)" = 1
	check "tlv80: the worker is the same process" test "$(worker_pid)" = "$WORKER0"
	smsc_stop
}

scenario_truncated() {
	local rss0 rss1 lines0 logged
	lines0=$(wc -l <"$WORK/pg/log")
	smsc_start truncated --warmup 1000 --count 20000 --go "$WORK/truncated.go" || return 0
	wait_for 120 jis "$OUT" phase warm || { fail "truncated: the warm-up did not finish"; return 0; }
	rss0=$(worker_rss_kb)
	touch "$WORK/truncated.go"
	wait_for 240 jis "$OUT" done true || fail "truncated: the 20,000 PDUs were not all sent in time"
	rss1=$(worker_rss_kb)
	say "truncated: worker RSS ${rss0} kB after the warm-up, ${rss1} kB after 20,000 more"
	check "truncated: 21,000 sent" test "$(jget "$OUT" hostile_sent 0)" = 21000
	check "truncated: all 21,000 refused with ESME_RINVOPTPARSTREAM (0xc0)" test "$(answers 80000005:c0)" = 21000
	check "truncated: the worker's RSS grew by less than $RSS_MAX_GROWTH_KB kB" \
		test $((rss1 - rss0)) -lt $RSS_MAX_GROWTH_KB
	logged=$(log_since "$lines0" | grep -c "that is refused" || true)
	say "truncated: $logged log lines for 21,000 refusals"
	check "truncated: refusals are logged rate-limited (1..30 lines)" \
		bash -c "[ $logged -ge 1 ] && [ $logged -le 30 ]"
	check "truncated: the worker is the same process" test "$(worker_pid)" = "$WORKER0"
	smsc_stop
}

scenario_bad_source() {
	smsc_start bad_source || return 0
	wait_for 30 jis "$OUT" done true || fail "bad_source: the script did not finish"
	check "bad_source: 0xff..., 'Operator' and 16 digits refused with ESME_RINVSRCADR (0x0a)" \
		test "$(answers 80000005:a)" = 3
	check "bad_source: the deliver_sm from +358401234567 is acknowledged" test "$(answers 80000005:0)" = 1
	check "bad_source: it is stored" \
		test "$(q -c "SELECT count(*) FROM mobisign.inbound_segment WHERE msisdn = '+358401234567'")" = 1
	check "bad_source: every stored source is an MSISDN" \
		test "$(q -c "SELECT count(*) FROM mobisign.inbound_segment WHERE msisdn !~ '^\+?[0-9]{5,15}$'")" = 0
	smsc_stop
}

scenario_bad_msgid() {
	local tx ids
	smsc_start bad_msgid --count 1 || return 0
	tx=$(q -c "SELECT (mobisign_authenticate('user0001', 'hostile', '1 min')).transaction_id")
	wait_for 30 queue_done "$tx" ||
		fail "bad_msgid: the request was not recorded as sent"
	ids=$(q -c "SELECT smsc_message_ids FROM mobisign.request_queue WHERE transaction_id = '$tx'")
	say "bad_msgid: $(jget "$OUT" submits) submit_sm answered with message_id ff fe '-id'; stored $ids"
	check "bad_msgid: the queue stores the id hex-encoded" \
		test "$(q -c "SELECT bool_and(i = 'hex:fffe2d6964') AND count(*) >= 1 FROM mobisign.request_queue q,
		              pg_catalog.unnest(q.smsc_message_ids) i WHERE q.transaction_id = '$tx'")" = t
	check "bad_msgid: the audit records the hex form" \
		test "$(q -c "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$tx'
		              AND operation = 'transaction.submitted' AND detail->'message_ids'->>0 = 'hex:fffe2d6964'")" = 1
	q -c "SELECT mobisign_cancel('$tx')" >/dev/null 2>&1 || true
	smsc_stop
}

scenario_garbage() {
	local lines0
	lines0=$(wc -l <"$WORK/pg/log")
	smsc_start garbage --count 500 || return 0
	wait_for 60 jis "$OUT" done true || fail "garbage: the script did not finish"
	say "garbage: closed after $(jget "$OUT" closed_after) PDUs, bound again after $(jget "$OUT" rebind_ms) ms"
	check "garbage: 50 malformed deliver_sm answered (ESME_RINVSRCADR), then no more" \
		test "$(answers 80000005:a)" = 50
	check "garbage: the worker closed the session after them" \
		bash -c "c=$(jget "$OUT" closed_after -1); [ \$c -ge 50 ] && [ \$c -le 52 ]"
	check "garbage: it bound again after its reconnect delay (300 ms .. 10 s)" \
		bash -c "r=$(jget "$OUT" rebind_ms -1); [ \$r -ge 250 ] && [ \$r -le 10000 ]"
	check "garbage: random bytes (a broken length) close the session at once" jis "$OUT" random_closed true
	check "garbage: the log says why" \
		bash -c "grep -q '50 refused PDUs in a row' <(tail -n +$((lines0 + 1)) '$WORK/pg/log') &&
		         grep -q 'invalid PDU length' <(tail -n +$((lines0 + 1)) '$WORK/pg/log')"
	check "garbage: the worker is the same process" test "$(worker_pid)" = "$WORKER0"
	smsc_stop
}

scenario_audit_bad_row() {
	local a="ms_psql -d msascii -qtA"
	ms_psql -q -c "CREATE DATABASE msascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" postgres
	$a -c "CREATE EXTENSION mobisign" >/dev/null
	# bytes that are not UTF-8, written through audit_log: stored hex-encoded
	$a -c "SELECT mobisign.audit_log('test.bad_bytes', pg_catalog.convert_from('\xff6f6b', 'SQL_ASCII'),
	          pg_catalog.jsonb_build_object('msisdn', pg_catalog.convert_from('\xff3335', 'SQL_ASCII')))" >/dev/null
	check "audit_bad_row: audit_log stores an outcome that is not UTF-8 as hex" \
		test "$($a -c "SELECT outcome FROM mobisign.audit WHERE operation = 'test.bad_bytes'")" = "hex:ff6f6b"
	check "audit_bad_row: ... and such a detail as {unreadable_detail: hex:...}" \
		test "$($a -c "SELECT detail->>'unreadable_detail' LIKE 'hex:7b%' FROM mobisign.audit WHERE operation = 'test.bad_bytes'")" = t
	# a bad row written behind audit_log's back (as before the fix)
	$a -c "INSERT INTO mobisign.audit (operation, outcome, detail)
	       VALUES ('test.raw', 'x', pg_catalog.jsonb_build_object('id', pg_catalog.convert_from('\xfffe', 'SQL_ASCII')))"
	check "audit_bad_row: control: the raw row really has no UTF-8 form (convert_to fails)" \
		fails $a -c "SELECT pg_catalog.convert_to(detail::text, 'UTF8') FROM mobisign.audit WHERE operation = 'test.raw'"
	check "audit_bad_row: the seal goes through it" test "$($a -c "SELECT mobisign.audit_seal() >= 2")" = t
	$a -c "SELECT mobisign.audit_log('test.after', 'success')" >/dev/null
	check "audit_bad_row: and seals what comes after it" test "$($a -c "SELECT mobisign.audit_seal()")" = 1
	check "audit_bad_row: mobisign_audit_verify() is intact" \
		test "$($a -c "SELECT intact FROM mobisign_audit_verify()")" = t
	$a -c "SET session_replication_role = replica; UPDATE mobisign.audit SET outcome = 'y' WHERE operation = 'test.raw'" >/dev/null
	check "audit_bad_row: control: changing the bad row breaks the chain there" \
		test "$($a -c "SELECT intact || ':' || (first_broken_id = (SELECT id FROM mobisign.audit WHERE operation = 'test.raw'))
		               FROM mobisign_audit_verify()")" = "false:true"
}

for s in tlv80 truncated bad_source bad_msgid garbage audit_bad_row; do
	say "== $s"
	"scenario_$s"
done

# ---- afterwards ------------------------------------------------------------------
say "== afterwards"
check "the cluster was never restarted (postmaster start time unchanged)" \
	test "$(q -c "SELECT pg_catalog.pg_postmaster_start_time()")" = "$PM_START"
check "no process was terminated by a signal" bash -c "! grep -q 'terminated by signal' '$WORK/pg/log'"
check "no backend was reset: the session opened at the start is still connected" sentinel_alive
check "the worker is the process it was at the start" test "$(worker_pid)" = "$WORKER0"
check "the worker sealed the whole audit (within 30 s)" \
	wait_for 30 audit_sealed
check "no audit row lacks a UTF-8 form" \
	test "$(q -c "SELECT count(*) FROM mobisign.audit WHERE mobisign._utf8(detail::text) IS NULL")" = 0
check "mobisign_audit_verify() is intact" test "$(q -c "SELECT intact FROM mobisign_audit_verify()")" = t

# a normal authentication through the simulator
q -c "UPDATE mobisign.smsc SET enabled = true, reconnect_delay = '300 ms' WHERE name = 'sim'" >/dev/null
"$SIM" run --dir "$WORK/sim" --port "$SIM_PORT" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
wake
tx=$(q -c "SELECT (mobisign_authenticate('user0002', 'after', '2 min')).transaction_id")
wait_for 60 tx_final "$tx" ||
	fail "the authentication after the hostile SMSC did not end"
check "a normal authentication still completes (502)" \
	test "$(q -c "SELECT status_code FROM mobisign.transaction WHERE id = '$tx'")" = 502

if [ "$MS_FAILS" -ne 0 ]; then
	say "FAILED"
	exit 1
fi
say "all checks passed"
