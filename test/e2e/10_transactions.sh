#!/usr/bin/env bash
# End-to-end: authentications and signatures through the background worker,
# the SMPP link and the simulated SIMs (test/sim), for EC and RSA users.
#
# Each scenario asserts the final state and status code, the audit rows and
# the NOTIFY received by a separate client that runs LISTEN mobisign.
#
#   bash test/e2e/10_transactions.sh          (after make install)
#
# Ports: MS_E2E_PGPORT (default 55450) and MS_E2E_SMPPPORT (default 2790) for
# the EC phase, +1 for the RSA phase; a free port is used when one is busy.
# KEEP=1 keeps the work directory (clusters stopped) for inspection.
set -uo pipefail

. "$(dirname "$0")/../lib.sh"

SIM_BIN=$MOBISIGN_ROOT/test/sim/mobisign-sim
WORK=$(ms_readable_dir) || exit 1
export PGDATABASE=postgres
PIDS=()
CLUSTERS=()
FAILS=0
CHECKS=0

cleanup() {
	local p c
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	for c in "${CLUSTERS[@]}"; do
		ms_cluster_stop "$c"
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

ok() {
	CHECKS=$((CHECKS + 1))
	echo "ok   - $*"
}
not_ok() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	echo "FAIL - $*"
}
# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1 (expected '$2', got '$3')"
	fi
}
# check_ge DESCRIPTION MIN ACTUAL
check_ge() {
	if [ -n "$3" ] && [ "$3" -ge "$2" ] 2>/dev/null; then
		ok "$1"
	else
		not_ok "$1 (expected at least $2, got '$3')"
	fi
}

q() {
	ms_psql -qAt -c "$1" 2>&1
}

port_or_free() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		ms_free_port
	else
		echo "$1"
	fi
}

[ -x "$SIM_BIN" ] || {
	echo "FAIL - $SIM_BIN is not built (run make)"
	exit 1
}

# ---------------------------------------------------------------------------
# one phase: a cluster, a provisioned simulator, the LISTEN client
# ---------------------------------------------------------------------------
PHASE_DIR=
SIMDIR=
NOTIFY_LOG=
WORKER_PID=

# set_behaviour "USER BEHAVIOUR [DELAY]"...: the simulator re-reads the file
set_behaviour() {
	printf '%s\n' "$@" >"$SIMDIR/behaviour.new"
	mv "$SIMDIR/behaviour.new" "$SIMDIR/behaviour"
	sleep 0.3
}

start_phase() {
	local kt=$1 pgport=$2 smppport=$3
	PHASE_DIR=$WORK/$kt
	SIMDIR=$PHASE_DIR/sim
	mkdir -p "$PHASE_DIR/pg"
	chmod 0755 "$PHASE_DIR"
	echo "# phase $kt: PostgreSQL on $pgport, SMSC simulator on $smppport"
	"$SIM_BIN" provision --dir "$SIMDIR" --users 16 --key-type "$kt" --port "$smppport" \
		>"$PHASE_DIR/provision.log" 2>&1 || {
		cat "$PHASE_DIR/provision.log"
		not_ok "mobisign-sim provision --key-type $kt"
		return 1
	}
	ms_cluster_start "$PHASE_DIR/pg" "$pgport" || return 1
	CLUSTERS+=("$PHASE_DIR/pg")
	q "CREATE EXTENSION mobisign" >/dev/null || {
		not_ok "CREATE EXTENSION mobisign"
		return 1
	}
	# The users' certificates are issued by an intermediate CA that the
	# SIMs' answers do not carry: it must be known to the PKI
	# (mobisign_add_pki(..., intermediates => ...)); add it unless
	# register.sql does so itself.
	local reg=$PHASE_DIR/register.sql
	if grep -q intermediates "$SIMDIR/register.sql"; then
		cp "$SIMDIR/register.sql" "$reg"
	else
		local iss
		iss=$(od -An -v -tx1 "$SIMDIR/ca/issuing.der" | tr -d ' \n')
		sed "/^SELECT mobisign_add_pki('sim'/s/], 'crl');\$/], 'crl', intermediates => ARRAY['\\\\x$iss'::bytea]);/" \
			"$SIMDIR/register.sql" >"$reg"
	fi
	if ms_psql -q -f "$reg" >"$PHASE_DIR/register.log" 2>&1; then
		ok "$kt: register.sql configured PKI, users, SIM keys and the SMSC link"
	else
		tail -5 "$PHASE_DIR/register.log"
		not_ok "$kt: register.sql"
		return 1
	fi
	set_behaviour "* sign"
	"$SIM_BIN" run --dir "$SIMDIR" --port "$smppport" >"$PHASE_DIR/sim.log" 2>&1 &
	PIDS+=($!)

	# the LISTEN client: a psql session that polls (every 0.2 s, 300 s at
	# most) and prints the notifications it receives
	NOTIFY_LOG=$PHASE_DIR/notify.log
	{
		echo "LISTEN mobisign;"
		echo "SELECT 'listening';"
		for _ in $(seq 1 1500); do echo "SELECT pg_catalog.pg_sleep(0.2);"; done
	} | ms_psql -qAt >"$NOTIFY_LOG" 2>&1 &
	PIDS+=($!)
	local i
	for i in $(seq 1 50); do
		grep -q listening "$NOTIFY_LOG" && break
		sleep 0.1
	done

	# the worker binds to the simulator
	for i in $(seq 1 100); do
		[ "$(q "SELECT bound FROM mobisign.worker_stats")" = t ] && break
		sleep 0.2
	done
	check "$kt: the worker is bound to the SMSC" t "$(q "SELECT bound FROM mobisign.worker_stats")"
	WORKER_PID=$(q "SELECT pid FROM mobisign.worker_stats")
}

stop_phase() {
	ms_cluster_stop "$PHASE_DIR/pg"
}

# notifications received for a transaction id, waiting up to 5 s for the first
notify_count() {
	local id=$1 i
	for i in $(seq 1 25); do
		grep -q "$id" "$NOTIFY_LOG" && break
		sleep 0.2
	done
	sleep 0.5
	grep -c "$id" "$NOTIFY_LOG"
}
notify_status() {
	grep "$1" "$NOTIFY_LOG" | head -n 1 | sed -n 's/.*"status": \([0-9]*\).*/\1/p'
}

# request KIND USER [ARGS]: prints the transaction id
request() {
	local kind=$1 user=$2 text=${3:-} timeout=${4:-30 s}
	if [ "$kind" = authenticate ]; then
		q "SELECT transaction_id FROM mobisign_authenticate('$user', 'e2e', '$timeout')"
	else
		q "SELECT transaction_id FROM mobisign_sign('$user', \$t\$$text\$t\$, 'e2e', '$timeout')"
	fi
}

# expect_final LABEL ID STATE STATUS: wait (bounded), then assert the state,
# the status, the audit rows and the NOTIFY
expect_final() {
	local label=$1 id=$2 state=$3 status=$4 got
	got=$(q "SELECT state || ' ' || status_code FROM mobisign_wait('$id', '40 s')")
	check "$label: final state and status" "$state $status" "$got"
	check "$label: one 'transaction.queued' audit row" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'transaction.queued'")"
	check "$label: exactly one final audit row, status $status" "1 $status" \
		"$(q "SELECT count(*) || ' ' || coalesce(max((detail->>'status')::int), 0) FROM mobisign.audit
			   WHERE transaction_id = '$id' AND operation = 'transaction.$state'")"
	check "$label: exactly one NOTIFY" 1 "$(notify_count "$id")"
	check "$label: NOTIFY payload status" "$status" "$(notify_status "$id")"
}

worker_alive() {
	check "$1: the worker survived (same pid)" "$WORKER_PID" "$(q "SELECT pid FROM mobisign.worker_stats")"
}

# the SQLSTATE a statement fails with ("none" if it succeeds)
sqlstate_of() {
	ms_sqlstate "$1"
}

# ---------------------------------------------------------------------------
# EC phase: every scenario
# ---------------------------------------------------------------------------
ec_phase() {
	local id msisdn n0 n1 crl crlfile

	# 1. authentication and signature succeed (502)
	id=$(request authenticate user0001)
	expect_final "ec authenticate" "$id" completed 502
	check "ec authenticate: signer is user0001" 1 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE id = '$id' AND signer_subject LIKE '%CN=user0001%' AND signature IS NOT NULL")"
	check "ec authenticate: 'sim.answer' accepted in the audit" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'sim.answer' AND outcome = 'accepted'")"
	check "ec authenticate: mobisign_verify(id) re-verifies" "true 502" \
		"$(q "SELECT valid || ' ' || status_code FROM mobisign_verify('$id'::uuid)")"
	id=$(request sign user0001 'Pay 12,50 € to Shop Oy [ref 42]')
	expect_final "ec sign (GSM 7-bit with extension characters)" "$id" completed 502
	id=$(request sign user0001 'Позвонить в банк?')
	expect_final "ec sign (UCS-2)" "$id" completed 502

	# 2. the user cancels on the phone (401), PIN blocked (402)
	set_behaviour "user0002 cancel" "user0003 pin_blocked" "user0004 silent" "user0005 garbage" \
		"user0006 wrong_content" "user0008 duplicate" "user0010 sign 4000" "user0012 silent" "user0013 wrong_key" "user0014 bad_cc" "user0015 wrong_ref" "* sign"
	id=$(request authenticate user0002)
	expect_final "ec user cancel" "$id" failed 401
	id=$(request sign user0003 'Transfer 100 EUR')
	expect_final "ec PIN blocked" "$id" failed 402

	# 3. silence: expired at the timeout (208)
	id=$(request authenticate user0004 '' '3 s')
	expect_final "ec silent SIM" "$id" expired 208

	# 4. garbage: not authentic, so audited 'rejected' and acted on in no
	#    way (anyone can send it): the transaction runs to its expiry (208);
	#    the worker lives on and serves the next one
	id=$(request authenticate user0005 '' '4 s')
	expect_final "ec garbage answer" "$id" expired 208
	check "ec garbage answer: audited as not acted on" t \
		"$(q "SELECT bool_and(NOT (detail->>'acted')::boolean) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'rejected' AND detail->>'msisdn' = (SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0005')")"
	check_ge "ec garbage answer: 'sim.answer' rejected in the audit" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'rejected' AND detail->>'msisdn' = (SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0005')")"
	worker_alive "ec garbage answer"
	id=$(request authenticate user0001)
	expect_final "ec next transaction after garbage" "$id" completed 502

	# 5. a valid signature over other content (503)
	id=$(request authenticate user0006)
	expect_final "ec wrong content (authenticate)" "$id" failed 503
	id=$(request sign user0006 'Sign this contract')
	expect_final "ec wrong content (sign)" "$id" failed 503
	worker_alive "ec wrong content"

	# 5b. signed with another user's key: the signer it names is not the
	#     registered certificate (422, also when re-verified); a
	#     broken checksum (not authentic: audited, the transaction expires);
	#     an answer for another reference (ignored)
	id=$(request authenticate user0013)
	expect_final "ec signed by another key" "$id" failed 422
	check "ec signed by another key: mobisign_verify(id) still invalid" "false 422" \
		"$(q "SELECT valid || ' ' || status_code FROM mobisign_verify('$id'::uuid)")"
	id=$(request authenticate user0014 '' '4 s')
	expect_final "ec broken cryptographic checksum" "$id" expired 208
	check_ge "ec broken cryptographic checksum: 'sim.answer' rejected (stage security)" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'rejected' AND detail->>'stage' = 'security' AND detail->>'msisdn' = (SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0014')")"
	id=$(request authenticate user0015 '' '4 s')
	expect_final "ec answer for an unknown reference" "$id" expired 208
	check_ge "ec answer for an unknown reference: 'ignored' audited" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'ignored' AND detail->>'msisdn' = (SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0015')")"

	# 6. replays: the previous answer again, or a fresh answer with an old
	#    counter; refused, the transaction is not touched (it expires)
	id=$(request authenticate user0007)
	expect_final "ec user0007 first answer" "$id" completed 502
	id=$(request authenticate user0011)
	expect_final "ec user0011 first answer" "$id" completed 502
	msisdn=$(q "SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0007'")
	n0=$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'replay refused' AND detail->>'msisdn' = '$msisdn'")
	set_behaviour "user0002 cancel" "user0003 pin_blocked" "user0004 silent" "user0005 garbage" \
		"user0006 wrong_content" "user0007 replay" "user0008 duplicate" "user0010 sign 4000" \
		"user0011 replay_counter" "user0012 silent" "user0013 wrong_key" "user0014 bad_cc" "user0015 wrong_ref" "* sign"
	id=$(request authenticate user0007 '' '4 s')
	expect_final "ec replayed old answer" "$id" expired 208
	n1=$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'replay refused' AND detail->>'msisdn' = '$msisdn'")
	check "ec replayed old answer: 'replay refused' audited" 1 "$((n1 - n0))"
	id=$(request authenticate user0011 '' '4 s')
	expect_final "ec answer with an old counter" "$id" expired 208
	check_ge "ec answer with an old counter: 'replay refused' audited" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'replay refused' AND detail->>'msisdn' = (SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0011')")"

	# 7. the same answer delivered twice: one final state, one NOTIFY
	id=$(request authenticate user0008)
	expect_final "ec duplicate answer" "$id" completed 502
	msisdn=$(q "SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0008'")
	for _ in $(seq 1 25); do
		[ "$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND detail->>'msisdn' = '$msisdn'")" -ge 2 ] && break
		sleep 0.2
	done
	check "ec duplicate answer: the simulator sent it twice" 1 \
		"$(grep -q "$msisdn.*twice" "$PHASE_DIR/sim.log" && echo 1)"
	check "ec duplicate answer: accepted once" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'accepted' AND transaction_id = '$id'")"
	check "ec duplicate answer: still one completion" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$id' AND operation LIKE 'transaction.completed'")"

	# 8. the application cancels (410); the late answer is ignored
	id=$(request authenticate user0010)
	check "ec application cancel: mobisign_cancel" t "$(q "SELECT mobisign_cancel('$id')")"
	expect_final "ec application cancel" "$id" cancelled 410
	check "ec application cancel: a second cancel" f "$(q "SELECT mobisign_cancel('$id')")"
	sleep 5
	check "ec application cancel: the late answer is ignored" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'sim.answer' AND outcome = 'ignored'")"
	check "ec application cancel: still cancelled, one NOTIFY" "cancelled 410 1" \
		"$(q "SELECT state || ' ' || status_code FROM mobisign_status('$id')") $(grep -c "$id" "$NOTIFY_LOG")"

	# 9. refused requests: unknown user (105), text too long (103), a second
	#    open request for the same user (406)
	check "ec unknown user: SQLSTATE MS105" MS105 "$(sqlstate_of "SELECT mobisign_authenticate('nobody')")"
	check "ec 161 septets: SQLSTATE MS103" MS103 \
		"$(sqlstate_of "SELECT mobisign_sign('user0001', repeat('a', 161))")"
	check "ec 81 euro signs (162 septets): SQLSTATE MS103" MS103 \
		"$(sqlstate_of "SELECT mobisign_sign('user0001', repeat('€', 81))")"
	check "ec 71 UCS-2 characters: SQLSTATE MS103" MS103 \
		"$(sqlstate_of "SELECT mobisign_sign('user0001', repeat('ж', 71))")"
	# a key file that others can read is refused (as PostgreSQL does for
	# ssl_key_file), and nothing is queued
	n0=$(q "SELECT count(*) FROM mobisign.transaction")
	chmod 0644 "$SIMDIR/master.key"
	check "ec world-readable master key: SQLSTATE F0000" F0000 \
		"$(sqlstate_of "SELECT mobisign_authenticate('user0016')")"
	chmod 0640 "$SIMDIR/master.key"
	check "ec world-readable master key: nothing was queued" "$n0" \
		"$(q "SELECT count(*) FROM mobisign.transaction")"
	id=$(request authenticate user0012 '' '1 min')
	check "ec second open request: SQLSTATE MS406" MS406 \
		"$(sqlstate_of "SELECT mobisign_sign('user0012', 'again')")"
	check "ec second open request: the first is untouched" 1 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE user_id = 'user0012' AND state IN ('queued', 'submitted', 'delivered')")"
	# mobisign_wait: returns at its timeout while open; query cancel interrupts it
	local t0 t1 wpid
	t0=$(date +%s%N)
	check "ec mobisign_wait on an open transaction returns it open at the timeout" t \
		"$(q "SELECT state IN ('queued', 'submitted') FROM mobisign_wait('$id', '1 s')")"
	t1=$(date +%s%N)
	check "ec mobisign_wait waited about 1 s" 1 \
		"$(( (t1 - t0) >= 900000000 && (t1 - t0) < 5000000000 ? 1 : 0 ))"
	ms_psql -qAt -c "SELECT state FROM mobisign_wait('$id', '60 s')" >"$PHASE_DIR/wait.out" 2>&1 &
	wpid=$!
	for _ in $(seq 1 50); do
		[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT state FROM mobisign_wait(%60 s%' AND pid <> pg_backend_pid()")" = 1 ] && break
		sleep 0.1
	done
	t0=$(date +%s%N)
	q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT state FROM mobisign_wait(%60 s%' AND pid <> pg_backend_pid()" >/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.1
	done
	t1=$(date +%s%N)
	kill "$wpid" 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
	check "ec mobisign_wait is interrupted by query cancel within 2 s" "canceled 1" \
		"$(grep -q 'canceling statement due to user request' "$PHASE_DIR/wait.out" && echo canceled) $(( (t1 - t0) < 2000000000 ? 1 : 0 ))"
	q "SELECT mobisign_cancel('$id')" >/dev/null

	# a suspended user is refused
	q "UPDATE mobisign.app_user SET status = 'suspended' WHERE user_id = 'user0012'" >/dev/null
	check "ec suspended user: SQLSTATE MS105" MS105 "$(sqlstate_of "SELECT mobisign_authenticate('user0012')")"
	q "UPDATE mobisign.app_user SET status = 'active' WHERE user_id = 'user0012'" >/dev/null

	# 10. an application sees only its own transactions
	q "CREATE ROLE e2e_app1 LOGIN IN ROLE mobisign_app; CREATE ROLE e2e_app2 LOGIN IN ROLE mobisign_app" >/dev/null
	id=$(PGUSER=e2e_app1 ms_psql -qAt -c "SELECT transaction_id FROM mobisign_authenticate('user0001', 'app1')")
	check "ec app1 sees its transaction" 1 \
		"$(PGUSER=e2e_app1 ms_psql -qAt -c "SELECT count(*) FROM mobisign_wait('$id', '30 s') WHERE status_code = 502")"
	check "ec app2 does not see app1's transaction" P0002 \
		"$(PGUSER=e2e_app2 sqlstate_of "SELECT mobisign_status('$id')")"
	check "ec app2 cannot cancel app1's transaction" P0002 \
		"$(PGUSER=e2e_app2 sqlstate_of "SELECT mobisign_cancel('$id')")"
	check "ec app2 cannot re-verify app1's transaction" P0002 \
		"$(PGUSER=e2e_app2 sqlstate_of "SELECT mobisign_verify('$id'::uuid)")"
	check "ec app role cannot read SIM keys" 42501 \
		"$(PGUSER=e2e_app1 sqlstate_of "SELECT kic_wrapped FROM mobisign.sim_key")"
	check "ec app role cannot call the worker's functions" 42501 \
		"$(PGUSER=e2e_app1 sqlstate_of "SELECT mobisign._expire()")"

	# 11. a revoked signer (501); a signature made before the revocation
	#     re-verifies as revoked with the PKI's current state
	local before
	before=$(request sign user0009 'Pay 1 EUR')
	expect_final "ec user0009 before revocation" "$before" completed 502
	"$SIM_BIN" revoke --dir "$SIMDIR" --user user0009 >"$PHASE_DIR/revoke.log" 2>&1 ||
		not_ok "mobisign-sim revoke"
	# it prints "PATH: CRL number N revokes ..."
	crlfile=$(sed -n 's/^\([^:]*\.der\): CRL number.*/\1/p' "$PHASE_DIR/revoke.log" | head -n 1)
	[ -f "$crlfile" ] || crlfile=$SIMDIR/crl/issuing.der
	crl=$(od -An -v -tx1 "$crlfile" | tr -d ' \n')
	q "SELECT mobisign_add_crl('sim', '\\x$crl'::bytea)" >/dev/null || not_ok "mobisign_add_crl"
	id=$(request sign user0009 'Pay 5 EUR')
	expect_final "ec revoked signer" "$id" failed 501
	check "ec revoked signer: mobisign_verify of the earlier signature" "false 501" \
		"$(q "SELECT valid || ' ' || status_code FROM mobisign_verify('$before'::uuid)")"
	check "ec revoked signer: the earlier transaction keeps its recorded result" "completed 502" \
		"$(q "SELECT state || ' ' || status_code FROM mobisign_status('$before')")"

	# 12. the SIM refuses the secured packet: an authentic proof of receipt
	#     (ciphered, CC verified) with a status other than 00 ends the
	#     transaction at once (209), long before its 1-minute expiry, with the
	#     status in its reason and in the audit.  Counter low (02) for a
	#     request sent once is such a refusal too (a re-sent request's
	#     "counter low" is a duplicate delivery: 20_worker_faults.sh).
	local beh st name
	msisdn=$(q "SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0016'")
	for beh in "por_counter_high 03 counter high" "por_blocked 04 counter blocked" \
		"por_security_error 06 unidentified security error" "por_counter_low 02 counter low"; do
		read -r beh st name <<<"$beh"
		set_behaviour "user0016 $beh" "* sign"
		id=$(request authenticate user0016 '' '1 min')
		expect_final "ec PoR status $st ($name)" "$id" failed 209
		check "ec PoR status $st: the reason names it" "the SIM refused the secured packet: proof of receipt status $st ($name)" \
			"$(q "SELECT reason FROM mobisign.transaction WHERE id = '$id'")"
		check "ec PoR status $st: ended at once, not at the expiry" t \
			"$(q "SELECT completed_at < created_at + interval '20 s' FROM mobisign.transaction WHERE id = '$id'")"
		check "ec PoR status $st: in the final audit row" "por $((10#$st))" \
			"$(q "SELECT detail->>'stage' || ' ' || (detail->>'por_status') FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'transaction.failed'")"
		check "ec PoR status $st: 'sim.answer' rejected with the status" 1 \
			"$(q "SELECT count(*) FROM mobisign.audit a JOIN mobisign.transaction t ON t.id = '$id'
				   WHERE a.operation = 'sim.answer' AND a.outcome = 'rejected' AND a.detail->>'msisdn' = '$msisdn'
				     AND (a.detail->>'por_status')::int = $((10#$st)) AND (a.detail->>'counter')::bigint = t.counter")"
	done
	check "ec PoR status: the SIM sent them secured" 4 \
		"$(grep -c "SIM $msisdn: PoR status 0[2346] (.*)\$" "$PHASE_DIR/sim.log")"
	set_behaviour "* sign"
	id=$(request authenticate user0016)
	expect_final "ec after the refusals, the same SIM answers" "$id" completed 502

	# 13. a forged proof of receipt: anyone who can send an SMS with the
	#     user's MSISDN as originator can send an unsecured PoR (no CC),
	#     e.g. status 01 "CC failed".  It is audited (stage 'unsecured', its
	#     status, not acted on) and leaves the transaction open: the SIM's
	#     real answer, 1.5 s later, still completes it (502)
	set_behaviour "user0016 forged_por 1500" "* sign"
	id=$(request authenticate user0016 '' '1 min')
	expect_final "ec forged unsecured PoR, then the real answer" "$id" completed 502
	check "ec forged PoR: the simulator sent it first" 1 \
		"$(grep -c "SIM $msisdn: PoR status 01 (.*), unsecured\$" "$PHASE_DIR/sim.log")"
	check "ec forged PoR: audited 'rejected' once, stage unsecured, status 1, not acted on" "unsecured 1 false" \
		"$(q "SELECT string_agg((detail->>'stage') || ' ' || (detail->>'por_status') || ' ' || (detail->>'acted'), ', ')
			   FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'rejected' AND detail->>'msisdn' = '$msisdn'
			    AND id > (SELECT id FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'transaction.queued')")"
	check "ec forged PoR: it came while the transaction was open (before the accepted answer)" t \
		"$(q "SELECT max(a.id) < (SELECT id FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'sim.answer' AND outcome = 'accepted')
			   FROM mobisign.audit a WHERE a.operation = 'sim.answer' AND a.outcome = 'rejected' AND a.detail->>'msisdn' = '$msisdn'")"
	set_behaviour "* sign"

	# counters: every request used a fresh OTA counter
	check "ec OTA counters: one per request, never reused" 0 \
		"$(q "SELECT count(*) FROM (SELECT msisdn, counter FROM mobisign.transaction GROUP BY 1, 2 HAVING count(*) > 1) d")"
	check "ec no clear key in the audit" 0 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE detail ? 'kic' OR detail ? 'kid'")"
	check "ec audit chain intact" t "$(q "SELECT intact FROM mobisign_audit_verify()")"
}

# ---------------------------------------------------------------------------
# RSA phase: success with RSA users
# ---------------------------------------------------------------------------
# lost_then_next USER BEHAVIOUR LABEL: answer A loses an SMS (BEHAVIOUR),
# so its transaction expires with A's other segments pending; the SIM's next
# answer B reuses A's concatenation reference and (RSA: same size) total,
# and must be accepted (502)
lost_then_next() {
	local user=$1 beh=$2 label=$3 msisdn id lost next
	msisdn=$(q "SELECT msisdn FROM mobisign.app_user WHERE user_id = '$user'")
	set_behaviour "$user $beh" "* sign"
	id=$(request authenticate "$user" '' '3 s')
	expect_final "$label: answer A" "$id" expired 208
	check "$label: A's other segments are stored, pending" t \
		"$(q "SELECT count(*) > 0 FROM mobisign.inbound_segment WHERE msisdn = '$msisdn' AND NOT processed")"
	set_behaviour "* sign"
	id=$(request authenticate "$user")
	expect_final "$label: the next answer B, same reference" "$id" completed 502
	lost=$(sed -n "s/.*answer to $msisdn: segment [0-9]* of \([0-9]*\) (ref \([0-9]*\)) lost.*/\1 \2/p" "$PHASE_DIR/sim.log" | tail -n 1)
	next=$(sed -n "s/.*answer from $msisdn: \([0-9]*\) of \1 segments, ref \([0-9]*\).*/\1 \2/p" "$PHASE_DIR/sim.log" | tail -n 1)
	check "$label: B reused A's reference and total (total ref)" "$lost" "$next"
}

rsa_phase() {
	local id
	id=$(request authenticate user0001)
	expect_final "rsa authenticate" "$id" completed 502
	id=$(request sign user0002 'Pay 99,90 EUR to Example Ltd')
	expect_final "rsa sign" "$id" completed 502
	check "rsa sign: signer is user0002" 1 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE id = '$id' AND signer_subject LIKE '%CN=user0002%'")"

	# reassembly: answer A loses its last SMS; the SIM's next answer B uses
	# the same 8-bit concatenation reference and (RSA: same size) the same
	# number of segments.  A's segments must not complete or poison B: B is
	# accepted (502), A's are superseded and audited as incomplete.
	local msisdn
	lost_then_next user0003 lose_segment "rsa lost segment"
	msisdn=$(q "SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0003'")
	check "rsa lost segment: A's segments superseded, audited 'incomplete'" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'incomplete' AND detail->>'msisdn' = '$msisdn'")"
	check "rsa lost segment: no segment left pending" 0 \
		"$(q "SELECT count(*) FROM mobisign.inbound_segment WHERE msisdn = '$msisdn' AND NOT processed")"
	check "rsa lost segment: nothing rejected" 0 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'rejected' AND detail->>'msisdn' = '$msisdn'")"

	# reassembly when the *first* SMS is lost: A's other segments wait, and
	# the first segment of the SIM's next answer B (same reference, same
	# total) completes them into a set that fails its CC (rejected, not acted
	# on).  B's own segments then make the newest set, which is tried and
	# is authentic: B is accepted (502); A's segments wait for the end of
	# the window.  The same holds when the foreign segments are spoofed.
	lost_then_next user0004 lose_first_segment "rsa lost first segment"
	msisdn=$(q "SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0004'")
	check "rsa lost first segment: A's segments with B's first were rejected once, not acted on" "1 security false" \
		"$(q "SELECT count(*) || ' ' || min(detail->>'stage') || ' ' || bool_or((detail->>'acted')::boolean) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'rejected' AND detail->>'msisdn' = '$msisdn'")"
	check "rsa lost first segment: only A's segments wait (rejected) for the window's end" "true true" \
		"$(q "SELECT (count(*) > 0 AND bool_and(rejected))::text || ' ' || bool_and(id < (SELECT min((e.sid)::bigint) FROM mobisign.audit a, jsonb_array_elements_text(a.detail->'segment_ids') e(sid) WHERE a.operation = 'sim.answer' AND a.outcome = 'accepted' AND a.detail->>'msisdn' = '$msisdn'))::text
			   FROM mobisign.inbound_segment WHERE msisdn = '$msisdn' AND NOT processed")"
}

PG1=$(port_or_free "${MS_E2E_PGPORT:-55450}")
SMPP1=$(port_or_free "${MS_E2E_SMPPPORT:-2790}")
if start_phase ec "$PG1" "$SMPP1"; then
	ec_phase
fi
stop_phase

PG2=$(port_or_free $((${MS_E2E_PGPORT:-55450} + 1)))
SMPP2=$(port_or_free $((${MS_E2E_SMPPPORT:-2790} + 1)))
if start_phase rsa "$PG2" "$SMPP2"; then
	rsa_phase
fi
stop_phase

echo "# $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
