#!/usr/bin/env bash
# End-to-end: the service provider's key and the master key in a PKCS#11
# token (docs/operations.md, "Keys in a token"), with SoftHSM2 from Debian
# in a token directory of our own (SOFTHSM2_CONF, carried by the
# postmaster's environment to every backend and the worker), through the
# worker, the SMPP link and the simulated SIMs (test/sim).
#
# Scenarios (each a function below, run by ms_scenario):
#   file_keys          the simulator's key files: an authentication completes
#                      (502); a scan of the backend's memory after it finds
#                      the wrapped KIc it read (the control: the scan sees the
#                      backend's data), the file's master key exactly once
#                      (the process's cache page, raw, never as hex text) and
#                      not the clear KIc (wiped after use)
#   settings           pkcs11: URIs are checked when set (a PIN in the URI,
#                      an unknown attribute: refused), the PKCS#11 GUCs are
#                      superuser-only, a PIN file open to others is refused
#   migration          master key in the token while the keys are still
#                      wrapped with the file: a clear 55000 naming
#                      mobisign_rewrap_keys; the migration re-wraps every
#                      key set in one transaction, audited; a second run is
#                      refused; a source file of another key changes nothing
#   token_end_to_end   both keys in the token (the SP key EC P-256):
#                      authentication and signature complete (502), new keys
#                      are wrapped by the token (version byte 2); one altered
#                      byte or another SIM's MSISDN does not authenticate
#   wrong_pin          a wrong PIN: 55000 "refused the PIN", the worker runs
#                      on; the right PIN again: 502
#   token_removed      the token's directory moved away while the worker runs
#                      (an answer in flight): clear 55000 for requests, the
#                      worker survives (same pid), the answer's segments
#                      wait; the directory back: that answer completes its
#                      transaction, requests complete again (sessions re-opened)
#   rsa_sp_key         an RSA SP key generated in the token (the SIMs get its
#                      certificate): authentication and signature, 502
#   no_key_material    the PIN, the master keys and the OTA keys are in no log
#                      line; a backend that used the token holds neither the
#                      old file key nor the OTA key in memory (SoftHSM2 runs
#                      inside the backend: its own copy of the token's key
#                      is reported, not judged; p11-kit 0.24's RPC, which
#                      would move it out, does not carry CKM_AES_GCM)
#
#   bash test/e2e/60_hsm.sh        (after make install; needs softhsm2, opensc)
#
# KEEP=1 keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/../lib.sh"

SIM_BIN=$MOBISIGN_ROOT/test/sim/mobisign-sim
MEMSCAN=$MOBISIGN_ROOT/test/e2e/hsm/memscan.py
MODULE=${MOBISIGN_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
WORK=$(ms_readable_dir) || exit 1
HSM=$WORK/hsm
SIM=$WORK/sim
PGLOG=$WORK/pg/log
export PGDATABASE=postgres
PIDS=()
PIN=715249
SO_PIN=83920147
TOKEN_URI='pkcs11:token=mobisign'

cleanup() {
	exec 7>&- 2>/dev/null
	ms_stop_pids "${PIDS[@]}"
	ms_cluster_stop "$WORK/pg"
	if [ "${KEEP:-0}" = 1 ] || [ "$MS_FAILS" -ne 0 ]; then
		echo "# work directory kept: $WORK"
		if [ "$MS_FAILS" -ne 0 ]; then
			echo "# server log (last 30 lines):"
			tail -n 30 "$PGLOG" 2>/dev/null
		fi
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

q() {
	ms_psql -qAt -c "$1" 2>&1
}
# the message of the error a statement fails with ("none" if it succeeds)
errmsg_of() {
	ms_psql -qAt -c "$1" 2>&1 | sed -n 's/^ERROR: *//p' | head -n 1
}
# as the postgres OS user (the token's files are the server's)
p11tool() {
	ms_as_pg pkcs11-tool --module "$MODULE" --token-label mobisign "$@"
}

missing=$(for c in softhsm2-util pkcs11-tool openssl python3; do command -v "$c" >/dev/null || echo "$c"; done)
[ -z "$missing" ] || { ms_not_ok "missing:" $missing "(bash test/deps.sh installs them)"; exit 1; }
[ -r "$MODULE" ] || {
	ms_not_ok "$MODULE is missing (bash test/deps.sh installs softhsm2)"
	exit 1
}
[ -x "$SIM_BIN" ] || {
	ms_not_ok "$SIM_BIN is not built (run make)"
	exit 1
}

# ---------------------------------------------------------------------------
# the token: SoftHSM2 with its token directory in the work directory
# ---------------------------------------------------------------------------
mkdir -p "$HSM/tokens"
cat >"$HSM/softhsm2.conf" <<EOF
directories.tokendir = $HSM/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$HSM/softhsm2.conf
printf '%s\n' "$PIN" >"$HSM/pin"
chmod 0600 "$HSM/pin"
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$HSM"
chmod 0755 "$HSM"
# pg_file FILE: the server's OS user owns it, nobody else reads it
pg_file() {
	chmod 0600 "$1"
	if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$1"; fi
}
make_token() {
	ms_as_pg softhsm2-util --init-token --free --label mobisign --so-pin "$SO_PIN" --pin "$PIN" || return 1
	# the master key: a token AES key that never leaves it.  Here it is
	# imported from a known value so that the memory check can look for it
	# (docs/operations.md generates it in the token with --keygen)
	openssl rand 32 >"$HSM/master.bin" && pg_file "$HSM/master.bin" || return 1
	p11tool --login --pin "$PIN" --write-object "$HSM/master.bin" --type secrkey \
		--key-type AES:32 --label master --id 01 --sensitive --usage-decrypt || return 1
	# the SP key (EC P-256): the simulator's key, imported
	openssl pkey -in "$SIM/sp/key.pem" -outform DER -out "$HSM/sp.der" && pg_file "$HSM/sp.der" || return 1
	p11tool --login --pin "$PIN" --write-object "$HSM/sp.der" --type privkey --label sp-key --id 02 \
		--usage-sign || return 1
	rm -f "$HSM/sp.der"
	# an RSA SP key generated in the token
	p11tool --login --pin "$PIN" --keypairgen --key-type rsa:2048 --label sp-rsa --id 03 --usage-sign
}

# ---------------------------------------------------------------------------
# the simulator, the cluster, the worker
# ---------------------------------------------------------------------------
PGPORT_T=$(ms_free_port)
SMPP=$(ms_free_port)
echo "# PostgreSQL $PGPORT_T, simulator $SMPP, token directory $HSM/tokens"
"$SIM_BIN" provision --dir "$SIM" --users 6 --port "$SMPP" >"$WORK/provision.log" 2>&1 || {
	cat "$WORK/provision.log"
	ms_not_ok "mobisign-sim provision"
	exit 1
}
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$SIM"
make_token >"$WORK/token.log" 2>&1 || {
	cat "$WORK/token.log"
	ms_not_ok "SoftHSM2 token and its keys"
	exit 1
}
FILE_MK=$(tr -d ' \n' <"$SIM/master.key")
TOKEN_MK=$(od -An -v -tx1 "$HSM/master.bin" | tr -d ' \n')
rm -f "$HSM/master.bin"
KIC1=$(awk '$1 == "user0001" {print $4}' "$SIM/sims")

mkdir -p "$WORK/pg"
ms_cluster_start "$WORK/pg" "$PGPORT_T" "mobisign.database = 'postgres'" "log_min_messages = info" || exit 1
q "CREATE EXTENSION mobisign" >/dev/null || {
	ms_not_ok "CREATE EXTENSION mobisign"
	exit 1
}
ms_psql -q -f "$SIM/register.sql" >"$WORK/register.log" 2>&1 || {
	tail -n 5 "$WORK/register.log"
	ms_not_ok "register.sql"
	exit 1
}
printf '* sign\n' >"$SIM/behaviour"
start_sim() {
	"$SIM_BIN" run --dir "$SIM" --port "$SMPP" >>"$WORK/sim.log" 2>&1 &
	SIM_PID=$!
	PIDS+=("$SIM_PID")
}
start_sim
bound() { [ "$(q "SELECT bound FROM mobisign.worker_stats")" = t ]; }
ms_wait_until 30 bound || {
	ms_not_ok "the worker binds to the simulator"
	exit 1
}
WORKER_PID=$(q "SELECT pid FROM mobisign.worker_stats")

set_behaviour() {
	printf '%s\n' "$@" >"$SIM/behaviour.new"
	mv "$SIM/behaviour.new" "$SIM/behaviour"
	sleep 0.3
}
# complete KIND USER: "state status" of a new transaction (queued and
# committed first, then waited for)
complete() {
	local id
	if [ "$1" = authenticate ]; then
		id=$(q "SELECT transaction_id FROM mobisign_authenticate('$2', 'hsm')")
	else
		id=$(q "SELECT transaction_id FROM mobisign_sign('$2', 'Pay 10 EUR to Token Oy', 'hsm')")
	fi
	case $id in
	*-*-*-*-*) q "SELECT state || ' ' || status_code FROM mobisign_wait('$id', '40 s')" ;;
	*) printf '%s\n' "$id" | head -n 1 ;;
	esac
}
reload() {
	q "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
}
use_token_keys() { # use_token_keys SP_OBJECT CERT
	q "ALTER SYSTEM SET mobisign.pkcs11_module = '$MODULE'" >/dev/null
	q "ALTER SYSTEM SET mobisign.pkcs11_pin_file = '$HSM/pin'" >/dev/null
	q "ALTER SYSTEM SET mobisign.sp_key_file = '$TOKEN_URI;object=$1;type=private'" >/dev/null
	q "ALTER SYSTEM SET mobisign.sp_cert_file = '$2'" >/dev/null
	reload
}

# memory of one backend after it queued an authentication: a psql session
# kept open on a FIFO, its backend scanned with memscan.py
scan_backend() { # scan_backend USER NAME=HEX... ; prints memscan's lines
	local fifo=$WORK/session.in out=$WORK/session.out pid i
	rm -f "$fifo" "$out"
	mkfifo "$fifo"
	ms_psql -qAt -v ON_ERROR_STOP=0 <"$fifo" >"$out" 2>&1 &
	local spid=$!
	exec 7>"$fifo"
	echo "SELECT 'pid=' || pg_backend_pid();" >&7
	echo "SELECT transaction_id AS tid FROM mobisign_authenticate('$1', 'hsm') \\gset" >&7
	echo "SELECT 'done=' || state || ' ' || status_code FROM mobisign_wait(:'tid', '40 s');" >&7
	for i in $(seq 1 200); do
		grep -q '^done=' "$out" && break
		sleep 0.2
	done
	pid=$(sed -n 's/^pid=//p' "$out")
	shift
	echo "result $(sed -n 's/^done=//p' "$out")"
	[ -n "$pid" ] && python3 "$MEMSCAN" "$pid" "$@"
	exec 7>&-
	wait "$spid" 2>/dev/null
}
count_of() { # count_of NAME SCAN_OUTPUT
	printf '%s\n' "$2" | awk -v n="$1" '$1 == n {print $2}'
}

# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
# the wrapped KIc of a user's SIM key set, hex: what a backend that built
# a request for the user read from the table (the scan's positive control)
wrapped_kic() {
	q "SELECT encode(k.kic_wrapped, 'hex') FROM mobisign.sim_key k JOIN mobisign.app_user u USING (msisdn) WHERE u.user_id = '$1'"
}

file_keys() {
	local out
	ms_check "an authentication with the key files completes" "completed 502" "$(complete authenticate user0001)"
	out=$(scan_backend user0002 wrapped_kic="$(wrapped_kic user0002)" file_master="$FILE_MK" kic="$KIC1")
	ms_check "the scanned backend's authentication completed" "result completed 502" "$(printf '%s\n' "$out" | head -n 1)"
	if [ "$(count_of wrapped_kic "$out")" -ge 1 ] 2>/dev/null; then
		ms_ok "negative control: the scan finds what the backend handled (the SIM's wrapped KIc, $(count_of wrapped_kic "$out") times)"
	else
		ms_not_ok "negative control: the scan does not find the wrapped KIc the backend read (got: $out)"
	fi
	# the file's master key: one copy, the process's cache (keystore.c); the
	# clear OTA key is wiped after use
	ms_check "key files: one copy of the master key (the cache), none of the clear OTA key" "1 0" \
		"$(count_of file_master "$out") $(count_of kic "$out")"
}

settings() {
	ms_check "a PIN in the URI is refused when set" 22023 \
		"$(ms_sqlstate "ALTER SYSTEM SET mobisign.sp_key_file = 'pkcs11:token=mobisign;object=sp-key?pin-value=1234'")"
	ms_check "an unsupported attribute is refused when set" 22023 \
		"$(ms_sqlstate "ALTER SYSTEM SET mobisign.master_key_file = 'pkcs11:object=master;serial=42'")"
	q "CREATE ROLE hsm_plain LOGIN" >/dev/null
	ms_check "mobisign.pkcs11_pin_file is superuser-only" 42501 \
		"$(PGUSER=hsm_plain ms_sqlstate "SHOW mobisign.pkcs11_pin_file")"
	ms_check "mobisign.pkcs11_module is superuser-only" 42501 \
		"$(PGUSER=hsm_plain ms_sqlstate "SHOW mobisign.pkcs11_module")"
	use_token_keys sp-key "$SIM/sp/cert.pem"
	ms_check "the SP key in the token signs a request (file master key still)" "completed 502" \
		"$(complete authenticate user0001)"
	chmod 0644 "$HSM/pin"
	ms_check "a PIN file open to others is refused" "the file named by mobisign.pkcs11_pin_file is open to others" \
		"$(errmsg_of "SELECT mobisign_authenticate('user0003', 'hsm')")"
	chmod 0600 "$HSM/pin"
	ms_check "the PIN never appears in a setting" 0 \
		"$(q "SELECT count(*) FROM pg_settings WHERE setting LIKE '%$PIN%'")"
}

migration() {
	local n
	q "ALTER SYSTEM SET mobisign.master_key_file = '$TOKEN_URI;object=master;type=secret-key'" >/dev/null
	reload
	ms_check "keys still wrapped with the file: SQLSTATE 55000" 55000 \
		"$(ms_sqlstate "SELECT mobisign_authenticate('user0001', 'hsm')")"
	ms_check_grep "... the hint names mobisign_rewrap_keys" 'mobisign_rewrap_keys' \
		<(ms_psql -qAt -c "SELECT mobisign_authenticate('user0001', 'hsm')" 2>&1)
	printf '%064x\n' 7 >"$HSM/other.key"
	pg_file "$HSM/other.key"
	ms_check "another master key file: refused, SQLSTATE XX001" XX001 \
		"$(ms_sqlstate "SELECT mobisign_rewrap_keys('$HSM/other.key')")"
	ms_check "... and nothing was re-wrapped" 0 \
		"$(q "SELECT count(*) FROM mobisign.sim_key WHERE get_byte(kic_wrapped, 0) <> 1 OR get_byte(kid_wrapped, 0) <> 1")"
	n=$(q "SELECT count(*) FROM mobisign.sim_key")
	# in a transaction that then reads its own row of mobisign.progress
	ms_psql -X -qAt -c "SET mobisign.progress_interval = 1" -c "BEGIN" \
		-c "SELECT sim_keys || '|' || already_in_token FROM mobisign_rewrap_keys('$SIM/master.key')" \
		-c "SELECT command || '|' || phase || '|' || rows_done || '|' || rows_total
		      FROM mobisign.progress WHERE pid = pg_backend_pid()" \
		-c "COMMIT" >"$WORK/rewrap.out" 2>"$WORK/rewrap.err"
	ms_check "the migration re-wraps every key set" "$n|0" "$(sed -n 1p "$WORK/rewrap.out")"
	ms_check "... its progress counted every key set" "rewrap_keys|done|$n|$n" "$(sed -n 2p "$WORK/rewrap.out")"
	ms_check "... and no row is left once its transaction is over" 0 \
		"$(q "SELECT count(*) FROM mobisign.progress WHERE command = 'rewrap_keys'")"
	# every 1 ms: at least one NOTICE (a token operation per key set takes
	# longer), and none counting past the key sets
	ms_check "... its NOTICEs showed the progress, never past the key sets" yes \
		"$(grep -E '^NOTICE:  rewrap_keys: rewrapping, [0-9]+ of [0-9]+ rows' "$WORK/rewrap.err" |
		     awk -v n="$n" '$4 > n || $6 != n { bad = 1 } END { print (bad || NR == 0) ? "no" : "yes" }')"
	ms_check "... every wrapped key has version 2 (the token's)" "$n" \
		"$(q "SELECT count(*) FROM mobisign.sim_key WHERE get_byte(kic_wrapped, 0) = 2 AND get_byte(kid_wrapped, 0) = 2")"
	ms_check "... audited once" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim_key.rewrap' AND outcome = 'success' AND (detail->>'sim_keys')::int = $n")"
	ms_check "a second run is refused: 55000" 55000 "$(ms_sqlstate "SELECT mobisign_rewrap_keys('$SIM/master.key')")"
	ms_check "... saying so" "no stored SIM key is wrapped with a master key file" \
		"$(errmsg_of "SELECT mobisign_rewrap_keys('$SIM/master.key')")"
}

token_end_to_end() {
	ms_check "authentication, both keys in the token" "completed 502" "$(complete authenticate user0001)"
	ms_check "signature, both keys in the token" "completed 502" "$(complete sign user0002)"
	q "SELECT mobisign_add_sim_key('358400009999', 1, '\\x000102030405060708090a0b0c0d0e0f', '\\x0f0e0d0c0b0a09080706050403020100', '\\x4d5347')" >/dev/null
	ms_check "a key set registered now is wrapped by the token" "2 2" \
		"$(q "SELECT get_byte(kic_wrapped, 0) || ' ' || get_byte(kid_wrapped, 0) FROM mobisign.sim_key WHERE msisdn = '358400009999'")"
	ms_check "... and unwraps there" 16 \
		"$(q "SELECT mobisign._key_check(msisdn, key_set, 'kic', kic_wrapped) FROM mobisign.sim_key WHERE msisdn = '358400009999'")"
	# the binding holds inside the token: an altered byte, or the key of
	# another SIM, does not authenticate (and is not taken for a lost token)
	ms_check "a token-wrapped key with one byte altered: SQLSTATE XX001" XX001 \
		"$(ms_sqlstate "SELECT mobisign._key_check(msisdn, key_set, 'kic', overlay(kic_wrapped placing '\xff'::bytea from 20 for 1)) FROM mobisign.sim_key WHERE msisdn = '358400009999'")"
	ms_check "... the message says it does not authenticate" "wrapped kic key of SIM key set 1 does not authenticate" \
		"$(errmsg_of "SELECT mobisign._key_check(msisdn, key_set, 'kic', overlay(kic_wrapped placing '\xff'::bytea from 20 for 1)) FROM mobisign.sim_key WHERE msisdn = '358400009999'")"
	ms_check "a token-wrapped key given for another SIM: SQLSTATE XX001" XX001 \
		"$(ms_sqlstate "SELECT mobisign._key_check('358400009998', key_set, 'kic', kic_wrapped) FROM mobisign.sim_key WHERE msisdn = '358400009999'")"
	ms_check "the worker still runs (same pid)" "$WORKER_PID" "$(q "SELECT pid FROM mobisign.worker_stats")"
}

wrong_pin() {
	printf '000000\n' >"$HSM/pin"
	ms_check "a wrong PIN: SQLSTATE 55000" 55000 "$(ms_sqlstate "SELECT mobisign_authenticate('user0003', 'hsm')")"
	ms_check "... the message says the PIN was refused" \
		"the PKCS#11 token of mobisign.sp_key_file refused the PIN in mobisign.pkcs11_pin_file" \
		"$(errmsg_of "SELECT mobisign_authenticate('user0003', 'hsm')")"
	ms_check "... the worker runs on (same pid)" "$WORKER_PID" "$(q "SELECT pid FROM mobisign.worker_stats")"
	printf '%s\n' "$PIN" >"$HSM/pin"
	ms_check "the right PIN again: authentication completes" "completed 502" "$(complete authenticate user0003)"
}

token_removed() {
	local id
	# an answer in flight when the token goes: the SIM answers after 3 s
	set_behaviour "user0004 sign 3000" "* sign"
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('user0004', 'hsm', '20 s')")
	sleep 0.5
	mv "$HSM/tokens" "$HSM/tokens.away"
	ms_check "token gone: a request fails with SQLSTATE 55000" 55000 \
		"$(ms_sqlstate "SELECT mobisign_authenticate('user0005', 'hsm')")"
	ms_check_grep "... with a hint" 'HINT: .*(token|PKCS#11)' \
		<(ms_psql -qAt -c "SELECT mobisign_authenticate('user0005', 'hsm')" 2>&1)
	sleep 4
	ms_check "... the worker survives the answer it cannot open (same pid)" "$WORKER_PID" \
		"$(q "SELECT pid FROM mobisign.worker_stats")"
	ms_check "... and stays bound" t "$(q "SELECT bound FROM mobisign.worker_stats")"
	ms_check_grep "... the worker's error names the token" 'PKCS#11 token' "$PGLOG"
	ms_check "... the answer is not thrown away: its segments wait" yes \
		"$([ "$(q "SELECT count(*) FROM mobisign.inbound_segment WHERE msisdn = (SELECT msisdn FROM mobisign.transaction WHERE id = '$id') AND NOT processed")" -gt 0 ] && echo yes)"
	ms_check "... nothing audited it as an error" 0 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'error'")"
	mv "$HSM/tokens.away" "$HSM/tokens"
	set_behaviour "* sign"
	# the answer that came while the token was away is handled once it is back
	ms_check "token back: the answer in flight completes its transaction" "completed 502" \
		"$(q "SELECT state || ' ' || status_code FROM mobisign_wait('$id', '15 s')")"
	ms_check "token back: authentication completes" "completed 502" "$(complete authenticate user0005)"
	ms_check "... signature too (the worker's session re-opened)" "completed 502" "$(complete sign user0004)"
}

rsa_sp_key() {
	local rsa=$WORK/rsa
	mkdir -p "$rsa"
	p11tool --read-object --type pubkey --id 03 -o "$HSM/sp-rsa.pub.der" >"$rsa/read.log" 2>&1 &&
		openssl pkey -pubin -inform DER -in "$HSM/sp-rsa.pub.der" -out "$rsa/pub.pem" &&
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$rsa/dummy.key" \
			-subj "/CN=mobisign simulator service provider (RSA, token)" -out "$rsa/sp.csr" 2>>"$rsa/read.log" &&
		openssl x509 -req -in "$rsa/sp.csr" -force_pubkey "$rsa/pub.pem" -CA "$SIM/ca/issuing.pem" \
			-CAkey "$SIM/ca/issuing.key.pem" -CAcreateserial -days 2 -out "$rsa/cert.pem" 2>>"$rsa/read.log" ||
		{ cat "$rsa/read.log"; ms_not_ok "a certificate for the token's RSA key"; return; }
	chmod 0644 "$rsa/cert.pem"
	# the SIMs get the new SP certificate
	ms_stop_pids "$SIM_PID"
	cp "$SIM/sp/cert.pem" "$SIM/sp/cert-ec.pem"
	cp "$rsa/cert.pem" "$SIM/sp/cert.pem"
	use_token_keys sp-rsa "$rsa/cert.pem"
	start_sim
	ms_wait_until 30 bound || ms_not_ok "the worker binds again"
	ms_check "authentication, RSA SP key in the token" "completed 502" "$(complete authenticate user0006)"
	ms_check "signature, RSA SP key in the token" "completed 502" "$(complete sign user0006)"
	ms_check "the EC certificate with the RSA key is refused" \
		"the key in the token named by mobisign.sp_key_file does not match the certificate in mobisign.sp_cert_file" \
		"$(q "ALTER SYSTEM SET mobisign.sp_cert_file = '$SIM/sp/cert-ec.pem'" >/dev/null; reload; errmsg_of "SELECT mobisign_authenticate('user0001', 'hsm')")"
	use_token_keys sp-rsa "$rsa/cert.pem"
}

no_key_material() {
	local out
	ms_check "the PIN is in no log line" 0 "$(grep -c -- "$PIN" "$PGLOG")"
	ms_check "the master keys (file and token) are in no log line" 0 \
		"$(grep -c -i -e "$FILE_MK" -e "$TOKEN_MK" "$PGLOG")"
	ms_check "the OTA keys are in no log line" 0 "$(grep -c -i -e "$KIC1" "$PGLOG")"
	out=$(scan_backend user0001 wrapped_kic="$(wrapped_kic user0001)" token_master="$TOKEN_MK" \
		file_master="$FILE_MK" file_master_tail="${FILE_MK:32}" kic="$KIC1")
	ms_check "the scanned backend's authentication completed" "result completed 502" "$(printf '%s\n' "$out" | head -n 1)"
	ms_check "the scan sees what the backend handled (its wrapped KIc, version 2)" 1 \
		"$([ "$(count_of wrapped_kic "$out")" -ge 1 ] 2>/dev/null && echo 1)"
	ms_check "a backend that used the token holds no copy of the old master key file" "0 0" \
		"$(count_of file_master "$out") $(count_of file_master_tail "$out")"
	ms_check "... nor the clear OTA key of the packet it built" 0 "$(count_of kic "$out")"
	# SoftHSM2 is a library: loaded into the backend, its token's keys are
	# in the backend's memory whatever mobisign does (a real HSM keeps them
	# in another box).  Reported, not judged.
	echo "# in-process SoftHSM2: the token's master key found $(count_of token_master "$out") time(s) in the backend (inside the module)"
}

ms_scenario file_keys file_keys
ms_scenario settings settings
ms_scenario migration migration
ms_scenario token_end_to_end token_end_to_end
ms_scenario wrong_pin wrong_pin
ms_scenario token_removed token_removed
ms_scenario rsa_sp_key rsa_sp_key
ms_scenario no_key_material no_key_material
ms_summary
