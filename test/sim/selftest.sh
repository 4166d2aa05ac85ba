#!/usr/bin/env bash
# Self-test of mobisign-sim without PostgreSQL: provisions EC and RSA SIMs,
# starts the simulator, and drives it with "mobisign-sim client", which builds
# requests with the same codec API as the background worker and verifies the
# answers (CMS over the expected content, reference, counter).  Every
# behaviour and SMSC fault is exercised; each check can fail.
#
#   bash test/sim/selftest.sh            (ports 2780, 2781 unless SIM_PORT / SIM_PORT2 are set)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
port=${SIM_PORT:-2780}
sim=${SIM_BIN:-$here/mobisign-sim}

(cd "$root" && flock /tmp/mobisign-build.lock make -s simulator)

work=$(mktemp -d /tmp/mobisign-simtest.XXXXXX)
sim_pid=
cleanup() {
	if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
		kill -TERM "$sim_pid" 2>/dev/null || true
		wait "$sim_pid" 2>/dev/null || true
	fi
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

pass=0
fail=0
check() {	# check NAME EXPECTED-EXIT command...
	local name=$1 want=$2 got=0
	shift 2
	"$@" >"$work/out" 2>&1 || got=$?
	if [ "$got" = "$want" ]; then
		pass=$((pass + 1))
		echo "ok - $name"
	else
		fail=$((fail + 1))
		echo "not ok - $name (exit $got, wanted $want)"
		sed 's/^/    /' "$work/out"
	fi
}
expect_in_log() {	# expect_in_log NAME PATTERN
	if grep -q -- "$2" "$work/run.log"; then
		pass=$((pass + 1)); echo "ok - $1"
	else
		fail=$((fail + 1)); echo "not ok - $1 (no \"$2\" in the simulator log)"
	fi
}
start_sim() {	# start_sim DIR PORT
	"$sim" run --dir "$1" --port "$2" --ready-file "$work/ready" 2>>"$work/run.log" &
	sim_pid=$!
	for _ in $(seq 1 50); do
		[ -s "$work/ready" ] && return 0
		sleep 0.1
	done
	echo "simulator did not start"; cat "$work/run.log"; exit 1
}
stop_sim() {
	kill -TERM "$sim_pid"
	local rc=0
	wait "$sim_pid" || rc=$?
	sim_pid=
	rm -f "$work/ready"
	return $rc
}
set_file() {	# set_file PATH CONTENT: atomic replace, then let the simulator see it
	printf '%s\n' "$2" >"$1.tmp" && mv "$1.tmp" "$1"
	kill -HUP "$sim_pid"
	sleep 0.3
}
client() { "$sim" client --dir "$dir" --port "$port" --timeout-ms 3000 "$@"; }

# --- provisioning -------------------------------------------------------
dir=$work/ec
check "provision 4 EC users" 0 "$sim" provision --dir "$dir" --users 4 --port "$port"
check "user certificate chains to the root" 0 \
	openssl verify -CAfile "$dir/ca/root.pem" -untrusted "$dir/ca/issuing.pem" "$dir/users/user0004/cert.pem"
check "user certificate has digitalSignature, nonRepudiation" 0 \
	sh -c "openssl x509 -in '$dir/users/user0001/cert.pem' -noout -ext keyUsage | grep -q 'Digital Signature, Non Repudiation'"
check "issuing CRL is signed by the issuing CA" 0 \
	sh -c "openssl crl -inform DER -in '$dir/crl/issuing.der' -CAfile '$dir/ca/issuing.pem' -noout 2>&1 | grep -q 'verify OK'"
check "master key is 64 hex characters and a newline" 0 \
	sh -c "[ \"\$(wc -c <'$dir/master.key')\" = 65 ] && grep -Eq '^[0-9a-f]{64}$' '$dir/master.key'"
check "register.sql registers 4 users, 4 SIM keys, 1 SMSC" 0 \
	sh -c "[ \$(grep -c mobisign_register_user '$dir/register.sql') = 4 ] && [ \$(grep -c mobisign_add_sim_key '$dir/register.sql') = 4 ] && grep -q \"mobisign_add_smsc('sim', '127.0.0.1', $port\" '$dir/register.sql'"
check "revoke writes a CRL listing user0002" 0 "$sim" revoke --dir "$dir" --user user0002
serial=$(openssl x509 -in "$dir/users/user0002/cert.pem" -noout -serial | cut -d= -f2)
check "issuing-revoked.der lists user0002's serial" 0 \
	sh -c "openssl crl -inform DER -in '$dir/crl/issuing-revoked.der' -noout -text | tr -d ' :' | grep -qi 'SerialNumber$serial'"

# --- answers ------------------------------------------------------------
start_sim "$dir" "$port"
check "authenticate: OK, CMS verifies over the challenge" 0 client --user user0001
check "sign: OK, CMS verifies over the UTF-8 text" 0 client --user user0002 --op sign --text 'Pay 100.00 EUR to ACME Oy'
check "sign UCS-2 text (Cyrillic): verifies" 0 client --user user0003 --op sign --text 'Оплата 100 EUR'
check "sign GSM 7-bit with extension characters: verifies" 0 client --user user0003 --op sign --text 'Pay 100 € [x] {y}'
check "long text (several SMS each way): verifies" 0 client --user user0004 --op sign \
	--text "$(printf 'Item %02d ok. ' $(seq 1 12))"
check "command counter not higher than the last one: PoR 02" 0 client --user user0001 --counter 1 --expect por-02
check "bad service-provider signature: result 6" 0 client --user user0001 --bad-sp-signature --expect bad_request_signature

set_file "$dir/behaviour" "user0001 cancel
3585000000002 pin_blocked
user0003 silent
user0004 garbage"
check "cancel" 0 client --user user0001 --expect user_cancel
check "pin_blocked (by MSISDN)" 0 client --user user0002 --expect pin_blocked
check "silent: no answer" 0 client --user user0003 --timeout-ms 1500 --expect none
check "garbage: unreadable answer" 0 client --user user0004 --expect bad-packet

set_file "$dir/behaviour" "user0001 duplicate
user0002 wrong_content
user0003 wrong_ref
user0004 wrong_key"
check "duplicate: the same answer twice" 0 client --user user0001 --linger-ms 800 --expect ok
grep -q 'answers 2' "$work/out" && { pass=$((pass + 1)); echo "ok - duplicate: 2 answers counted"; } ||
	{ fail=$((fail + 1)); echo "not ok - duplicate: 2 answers counted"; cat "$work/out"; }
check "wrong_content: signature does not verify over the request" 0 client --user user0002 --op sign --expect bad-signature
check "wrong_ref: reference does not match" 0 client --user user0003 --expect wrong-ref
check "wrong_key: signed by another user's key" 0 client --user user0004 --expect bad-signature

set_file "$dir/behaviour" "# all sign"
check "user0002 signs once (the answer to replay next)" 0 client --user user0002 --counter 100
set_file "$dir/behaviour" "user0002 replay
user0003 replay_counter
user0004 bad_cc"
check "replay: the previous answer again (old counter)" 0 client --user user0002 --counter 101 --expect old-counter
check "replay_counter: fresh answer with an old counter" 0 client --user user0003 --expect old-counter
check "bad_cc: response packet refused" 0 client --user user0004 --expect bad-packet

set_file "$dir/behaviour" "user0001 por_counter_high
user0002 por_blocked
user0003 por_security_error
user0004 lose_segment"
check "por_counter_high: secured PoR 03" 0 client --user user0001 --expect por-03
check "por_blocked: secured PoR 04" 0 client --user user0002 --expect por-04
check "por_security_error: secured PoR 06" 0 client --user user0003 --expect por-06
check "lose_segment: the answer never completes" 0 client --user user0004 --timeout-ms 1500 --expect none
expect_in_log "lose_segment: its last segment is lost" 'answer to 3585000000004: segment \([0-9]*\) of \1 (ref [0-9]*) lost'
set_file "$dir/behaviour" "# all sign"
check "after lose_segment: the next answer (same reference) completes" 0 client --user user0004

set_file "$dir/behaviour" "user0004 lose_first_segment"
check "lose_first_segment: the answer never completes" 0 client --user user0004 --timeout-ms 1500 --expect none
expect_in_log "lose_first_segment: its first segment is lost" 'answer to 3585000000004: segment 1 of [0-9]* (ref [0-9]*) lost'

set_file "$dir/behaviour" "user0001 forged_por 300"
check "forged_por: an unsecured PoR 01, then the real answer" 0 client --user user0001 --linger-ms 1500 --expect ok
grep -q 'response packet refused: .*unsecured\|por-01' "$work/out" && grep -q 'answers 2' "$work/out" &&
	{ pass=$((pass + 1)); echo "ok - forged_por: the forged PoR came first (2 answers)"; } ||
	{ fail=$((fail + 1)); echo "not ok - forged_por: the forged PoR came first (2 answers)"; cat "$work/out"; }

set_file "$dir/behaviour" "* sign 700"
t0=$(date +%s%N)
check "per-user delay: answer after 700 ms" 0 client --user user0001
t1=$(date +%s%N)
if [ $(((t1 - t0) / 1000000)) -ge 700 ]; then pass=$((pass + 1)); echo "ok - delay honoured"; else
	fail=$((fail + 1)); echo "not ok - delay honoured ($(((t1 - t0) / 1000000)) ms)"; fi
set_file "$dir/behaviour" "# all sign"

# --- the interactive phone (behaviour ask): DIR/phone/ --------------------
phone=$dir/phone/3585000000001
pin=$(cat "$dir/users/user0001/pin")
screen() { grep -o "\"$1\": [^,}]*" "$phone.json" 2>/dev/null | head -n 1 | sed 's/^[^:]*: //; s/"//g'; }
decide() { printf '%s\n' "$1" >"$phone.decision.tmp" && mv "$phone.decision.tmp" "$phone.decision"; sleep 0.4; }
pending_ref() { for _ in $(seq 1 30); do [ "$(screen state)" = pending ] && { screen reference; return; }; sleep 0.1; done; }
check "provisioned PIN: 4 digits" 0 grep -Eqx '[0-9]{4}' "$dir/users/user0001/pin"
set_file "$dir/behaviour" "user0001 ask"
client --user user0001 --op sign --text 'Pay 5.00 EUR <b>&amp;</b> "x"' --timeout-ms 6000 >"$work/ask.out" 2>&1 &
cpid=$!
ref=$(pending_ref)
check "ask: the phone shows the prompt (pending, with a reference)" 0 test -n "$ref"
check "ask: the text is JSON-escaped (no raw < > &)" 0 sh -c "grep -q 'Pay 5.00 EUR \\\\u003cb' '$phone.json' && ! grep -q '<b>' '$phone.json'"
check "ask: the verification code is on the screen" 0 sh -c "grep -Eq '\"verification_code\": \"[0-9]{4}\"' '$phone.json'"
decide "0000000000000000 sign $pin"
check "ask: a decision for another reference is ignored" 0 test "$(screen state)" = pending
wrong=$(printf '%04d' $(( (10#$pin + 1) % 10000 )))
decide "$ref sign $wrong"
check "ask: a wrong PIN leaves 2 tries" 0 test "$(screen tries_left)" = 2
decide "$ref sign $pin"
wait "$cpid"; rc=$?
check "ask: signed with the right PIN, the CMS verifies" 0 sh -c "[ $rc = 0 ] && grep -q 'outcome ok' '$work/ask.out'"
check "ask: the phone shows the outcome signed" 0 test "$(screen outcome)" = signed
check "ask: the decision file is consumed" 1 test -e "$phone.decision"
client --user user0001 --expect user_cancel --timeout-ms 6000 >"$work/ask.out" 2>&1 &
cpid=$!
ref=$(pending_ref)
decide "$ref decline"
check "ask: decline answers user cancel" 0 wait "$cpid"
client --user user0001 --expect pin_blocked --timeout-ms 6000 >"$work/ask.out" 2>&1 &
cpid=$!
ref=$(pending_ref)
decide "$ref sign $wrong"; decide "$ref sign $wrong"; decide "$ref sign $wrong"
check "ask: three wrong PINs answer PIN blocked" 0 wait "$cpid"
client --user user0001 --timeout-ms 2000 --expect none >"$work/ask.out" 2>&1 &
cpid=$!
ref=$(pending_ref)
ln -s "$work/ask.out" "$phone.decision"
sleep 0.4
check "ask: the symlink is removed, the prompt still pending" 0 sh -c "[ ! -e '$phone.decision' ] && [ \"\$(grep -o '\"state\": \"[a-z]*' '$phone.json')\" = '\"state\": \"pending' ]"
check "ask: a symlinked decision file is refused, nobody answers" 0 wait "$cpid"
old=$(screen reference)
client --user user0001 --expect user_cancel --timeout-ms 8000 >"$work/ask.out" 2>&1 &
cpid=$!
# the last prompt may still be pending (nobody answered it): wait for this one
for _ in $(seq 1 30); do ref=$(pending_ref); [ "$ref" != "$old" ] && break; sleep 0.1; done
printf '%s decline\0x\n' "$ref" >"$phone.decision.tmp" && mv "$phone.decision.tmp" "$phone.decision"; sleep 0.4
check "ask: a decision with a NUL inside is refused, the prompt still pending" 0 test "$(screen state)" = pending
mkfifo "$phone.decision"; sleep 0.4
check "ask: a FIFO as decision file is refused (no hang), removed, the prompt still pending" 0 \
	sh -c "[ ! -e '$phone.decision' ] && [ \"\$(grep -o '\"state\": \"[a-z]*' '$phone.json')\" = '\"state\": \"pending' ]"
decide "$ref decline $(head -c 200 /dev/zero | tr '\0' x)"
check "ask: a decision over 127 bytes is refused, the prompt still pending" 0 test "$(screen state)" = pending
decide "$ref decline"
check "ask: after all of it, decline still answers user cancel" 0 wait "$cpid"
check "ask: no PIN in the log" 1 grep -q "sign $pin\|sign $wrong" "$work/run.log"
set_file "$dir/behaviour" "# all sign"

# --- SMSC faults --------------------------------------------------------
set_file "$dir/faults" "throttle 2"
check "throttle 2: both segments refused with 0x58, no answer" 0 client --user user0001 --timeout-ms 1000 --expect none
grep -q 'status 0x58' "$work/out" && { pass=$((pass + 1)); echo "ok - ESME_RTHROTTLED seen"; } ||
	{ fail=$((fail + 1)); echo "not ok - ESME_RTHROTTLED seen"; cat "$work/out"; }
check "after the throttle: OK again" 0 client --user user0001
set_file "$dir/faults" "delay_ms 400"
check "delay_ms 400: still OK" 0 client --user user0002
set_file "$dir/faults" "duplicate_deliver 1"
check "duplicate_deliver 1: the answer's deliver_sm twice" 0 client --user user0001 --linger-ms 800
grep -q 'answers 2' "$work/out" && { pass=$((pass + 1)); echo "ok - duplicate deliver_sm counted"; } ||
	{ fail=$((fail + 1)); echo "not ok - duplicate deliver_sm counted"; cat "$work/out"; }
set_file "$dir/faults" "drop_on_submit 1"
check "drop_on_submit: the connection is closed under the client" 1 client --user user0003
set_file "$dir/faults" ""
kill -USR1 "$sim_pid"; sleep 0.2
check "SIGUSR1 writes counters" 0 grep -q '^drops 1$' "$dir/stats"
# faults for an ESME with several binds: one session lost, a per-session cap
set_file "$dir/faults" "drop_one_on_submit 1"
check "drop_one_on_submit: this session is closed under the client" 1 client --user user0003
expect_in_log "drop_one_on_submit closes that session only" 'drop_one_on_submit: submit_sm seq [0-9]* accepted but not answered; closing session [0-9]* only'
set_file "$dir/faults" "session_rate 1"
check "session_rate 1: the second segment in the same second is refused, no answer" 0 client --user user0001 --timeout-ms 1000 --expect none
grep -q 'status 0x58' "$work/out" && { pass=$((pass + 1)); echo "ok - session_rate answers ESME_RTHROTTLED"; } ||
	{ fail=$((fail + 1)); echo "not ok - session_rate answers ESME_RTHROTTLED"; cat "$work/out"; }
set_file "$dir/faults" ""
"$sim" client --dir "$dir" --port "$port" --user user0002 --linger-ms 3000 >"$work/linger.out" 2>&1 &
linger_pid=$!
sleep 1	# bound, answered, lingering (3 s)
set_file "$dir/faults" "drop_one"
wait "$linger_pid" || true
expect_in_log "drop_one closes one bound session" 'fault: dropping session [0-9]* only'
expect_in_log "a closed session says how many submit_sm it carried" 'closed (drop_one fault) after [0-9]* submit_sm'
set_file "$dir/faults" ""
check "status: SMSC counters and per-SIM counters" 0 sh -c "'$sim' status --dir '$dir' | grep -q '^submit_sm [1-9]' && '$sim' status --dir '$dir' | grep -q '^sim user0002 3585000000002 last_counter 10[1-9]'"
check "simulator exits 0 on SIGTERM" 0 stop_sim
expect_in_log "display line with the verification code" 'DISPLAY sign ref [0-9a-f]* code [0-9]\{4\}'
expect_in_log "no key material in the log" 'SMSC listening'
if grep -Eqi "$(cut -d' ' -f4 "$dir/sims" | grep -v '^#' | head -1)" "$work/run.log"; then
	fail=$((fail + 1)); echo "not ok - a KIc appears in the log"; else pass=$((pass + 1)); echo "ok - no KIc in the log"; fi

# --- RSA users -----------------------------------------------------------
port2=${SIM_PORT2:-$((port + 1))}
dir=$work/rsa
check "provision 2 RSA users" 0 "$sim" provision --dir "$dir" --users 2 --key-type rsa --port "$port2"
port=$port2
start_sim "$dir" "$port"
check "RSA authenticate verifies" 0 client --user user0001
check "RSA sign verifies" 0 client --user user0002 --op sign --text 'Sign with RSA-2048'
check "bind with a wrong password is refused" 0 sh -c "sed -i 's/^password .*/password wrong/' '$dir/sim.conf'; ! '$sim' client --dir '$dir' --port $port --timeout-ms 1000 2>&1 | grep -q outcome"
stop_sim

echo "selftest: $pass passed, $fail failed"
[ "$fail" = 0 ]
