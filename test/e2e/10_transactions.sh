#!/usr/bin/env bash
# End-to-end: authentications and signatures through the background worker,
# the SMPP link and the simulated SIMs (test/sim), for EC and RSA users.
# Every transaction is driven to its end and checked for its final state and
# status code, its audit rows, and the NOTIFY a separate LISTEN client
# receives (expect_final).
#
# Scenarios (each a function below, run by ms_scenario), EC users:
#   ec_success             authenticate, sign GSM 7-bit and UCS-2 texts: 502,
#                          the signer recorded, mobisign_verify agrees
#   ec_parallel_verifiers  mobisign.answer_workers verifiers run; while one
#                          is held mid-answer (its SIM key row locked), the
#                          other verifies the next answers; a burst of 15
#                          completes, each exactly once
#   ec_user_refusals       the user cancels (401), the PIN is blocked (402)
#   ec_silent_sim          no answer: expired at the timeout (208)
#   ec_garbage_answer      an answer that is not authentic is audited, acted
#                          on in no way; the worker serves the next one
#   ec_wrong_content       a valid signature over other content (503)
#   ec_foreign_answers     another user's key (422), a broken checksum and an
#                          answer for an unknown reference (audited, ignored)
#   ec_replays             an old answer again, an old counter: refused
#   ec_duplicate_answer    the same answer twice: one completion, one NOTIFY
#   ec_application_cancel  mobisign_cancel (410); the late answer is ignored
#   ec_refused_requests    unknown user, texts too long, a master key file
#                          open to others: refused, nothing queued
#   ec_open_request        a second open request (406); mobisign_wait returns
#                          at its timeout and yields to a query cancel
#   ec_suspended_user      refused (105)
#   ec_app_holds_locks     an application session holds the keys of the
#                          advisory locks mobisign used (the audit sealer's,
#                          one user's answers): both go on; the row locks
#                          that replaced them are refused to it (42501)
#   ec_app_isolation       an application sees and touches only its own
#                          transactions, never SIM keys or worker functions
#   ec_revoked_signer      501; an earlier signature re-verifies as revoked
#   ec_por_refusals        the SIM refuses the secured packet (PoR 02/03/04/06):
#                          209 at once, the status in reason and audit
#   ec_forged_por          an unsecured PoR is audited, not acted on
#   ec_invariants          fresh OTA counter per request, no clear key in
#                          the audit, the audit chain intact
# RSA users:
#   rsa_success            authenticate and sign: 502
#   rsa_lost_segment       a lost last SMS: the next answer with the same
#                          concatenation reference is accepted
#   rsa_lost_first_segment a lost first SMS: the foreign set is rejected,
#                          the next answer accepted
#   rsa_spoofed_segment    one spoofed SMS that repeats a sequence number of
#                          the answer on its way (before, between or after
#                          its segments): the genuine answer is accepted (502)
#   rsa_extension_recreated DROP EXTENSION while the worker runs: it lets go
#                          (its verifiers stop); CREATE EXTENSION again: the
#                          worker's kept statements follow the new objects,
#                          a new pool verifies the next answer (502)
#
#   bash test/e2e/10_transactions.sh                 (after make install)
#   MS_SCENARIO=ec_replays bash test/e2e/10_transactions.sh
#
# Ports: free ones. KEEP=1 keeps the work directory (clusters stopped).
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

EC_SCENARIOS=(ec_success ec_parallel_verifiers ec_user_refusals ec_silent_sim ec_garbage_answer ec_wrong_content
	ec_foreign_answers ec_replays ec_duplicate_answer ec_application_cancel ec_refused_requests
	ec_open_request ec_suspended_user ec_app_isolation ec_app_holds_locks ec_revoked_signer ec_por_refusals
	ec_forged_por ec_invariants)
RSA_SCENARIOS=(rsa_success rsa_lost_segment rsa_lost_first_segment rsa_spoofed_segment rsa_extension_recreated)

ms_e2e_init

# ---------------------------------------------------------------------------
# one phase: a cluster, a provisioned simulator, the LISTEN client
# ---------------------------------------------------------------------------
PHASE_DIR=
SIMDIR=
NOTIFY_LOG=
WORKER_PID=

start_phase() { # start_phase KEY_TYPE
	local kt=$1 pgport smppport
	ms_e2e_ports pgport smppport
	PHASE_DIR=$WORK/$kt
	SIMDIR=$PHASE_DIR/sim
	mkdir -p "$PHASE_DIR"
	echo "# phase $kt: PostgreSQL on $pgport, SMSC simulator on $smppport"
	ms_sim_provision "$SIMDIR" "$smppport" 16 --key-type "$kt"
	ms_e2e_cluster "$PHASE_DIR/pg" "$pgport" postgres
	ms_sim_register "$SIMDIR"
	ms_sim_behaviour "$SIMDIR" "* sign"
	ms_sim_start "$SIMDIR" "$smppport" "$PHASE_DIR/sim.log"
	NOTIFY_LOG=$PHASE_DIR/notify.log
	ms_listen_start "$NOTIFY_LOG" 300
	ms_check_bound "$kt: the worker is bound to the SMSC"
	WORKER_PID=$(q "SELECT pid FROM mobisign.worker_stats")
}

stop_phase() {
	ms_bg_stop "$MS_LISTEN_PID" "$SIM_PID"
	ms_cluster_stop "$PHASE_DIR/pg"
}

behave() { # behave LINE...: what the SIMs do (the rest sign)
	ms_sim_behaviour "$SIMDIR" "$@" "* sign"
}

msisdn_of() {
	q "SELECT msisdn FROM mobisign.app_user WHERE user_id = '$1'"
}

# notifications received for a transaction id, waiting up to 5 s for the first
notify_count() {
	ms_wait_until 5 grep -q "$1" "$NOTIFY_LOG"
	sleep 0.5
	grep -c "$1" "$NOTIFY_LOG"
}
notify_status() {
	grep "$1" "$NOTIFY_LOG" | head -n 1 | sed -n 's/.*"status": \([0-9]*\).*/\1/p'
}

# request KIND USER [TEXT] [TIMEOUT]: prints the transaction id
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
	ms_check "$label: final state and status" "$state $status" "$got"
	ms_check "$label: one 'transaction.queued' audit row" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'transaction.queued'")"
	ms_check "$label: exactly one final audit row, status $status" "1 $status" \
		"$(q "SELECT count(*) || ' ' || coalesce(max((detail->>'status')::int), 0) FROM mobisign.audit
			   WHERE transaction_id = '$id' AND operation = 'transaction.$state'")"
	ms_check "$label: exactly one NOTIFY" 1 "$(notify_count "$id")"
	ms_check "$label: NOTIFY payload status" "$status" "$(notify_status "$id")"
}

# answers USER OUTCOME [EXTRA SQL CONDITION]: 'sim.answer' audit rows of USER's MSISDN
answers() {
	q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = '$2'
	      AND detail->>'msisdn' = (SELECT msisdn FROM mobisign.app_user WHERE user_id = '$1') ${3:-}"
}

verify_of() {
	q "SELECT valid || ' ' || status_code FROM mobisign_verify('$1'::uuid)"
}

# ---------------------------------------------------------------------------
# EC scenarios
# ---------------------------------------------------------------------------
ec_success() {
	local id
	id=$(request authenticate user0001)
	expect_final "authenticate" "$id" completed 502
	ms_check "authenticate: signer is user0001" 1 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE id = '$id' AND signer_subject LIKE '%CN=user0001%' AND signature IS NOT NULL")"
	ms_check "authenticate: 'sim.answer' accepted in the audit" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'sim.answer' AND outcome = 'accepted'")"
	ms_check "authenticate: mobisign_verify(id) re-verifies" "true 502" "$(verify_of "$id")"
	id=$(request sign user0001 'Pay 12,50 € to Shop Oy [ref 42]')
	expect_final "sign (GSM 7-bit with extension characters)" "$id" completed 502
	id=$(request sign user0001 'Позвонить в банк?')
	expect_final "sign (UCS-2)" "$id" completed 502
}

# Answers are verified by a pool of verifiers, not by the SMPP worker. A
# session locks user0001's SIM key row (FOR UPDATE) after its request is
# queued and before its answer (1.5 s late) arrives: the verifier that
# claims that answer waits for the lock in the middle of its batch. The
# other verifier must meanwhile verify other users' answers; then the lock
# goes and user0001's transaction completes too, each exactly once.
verifiers() { q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign verifier'"; }
verifier_waits() {
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign verifier' AND wait_event_type = 'Lock'")" = 1 ]
}
ec_parallel_verifiers() {
	local held holder ids id n
	ms_check "mobisign.answer_workers verifiers run" "$(q "SHOW mobisign.answer_workers")" "$(verifiers)"
	ms_check_cmd "... and at least two" test "$(verifiers)" -ge 2
	behave "user0001 sign 1500"
	held=$(request authenticate user0001)
	ms_bg ms_psql -q -c "BEGIN" \
		-c "SELECT 1 FROM mobisign.sim_key WHERE msisdn = '$(msisdn_of user0001)' FOR UPDATE" \
		-c "SELECT pg_sleep(6)" -c "COMMIT" >/dev/null 2>&1
	holder=$MS_BG_PID
	ms_wait_until 10 verifier_waits
	ms_check_cmd "a verifier waits for user0001's SIM key, mid-answer" verifier_waits
	behave
	ids=$(q "SELECT (mobisign_authenticate(format('user%s', lpad(g::text, 4, '0')), 'e2e', '30 s')).transaction_id
	           FROM generate_series(2, 16) g")
	n=0
	for id in $ids; do
		[ "$(q "SELECT status_code FROM mobisign_wait('$id', '4 s')")" = 502 ] && n=$((n + 1))
	done
	ms_check "15 more answers verified by the other verifier meanwhile" 15 "$n"
	ms_check "... while user0001's is still open" t \
		"$(q "SELECT mobisign._is_open(state) FROM mobisign.transaction WHERE id = '$held'")"
	ms_check_cmd "... and its verifier still waits" verifier_waits
	ms_wait_until 10 ms_gone "$holder"
	ms_bg_stop "$holder"
	expect_final "the held answer, once the lock is gone" "$held" completed 502
	for id in $ids; do
		expect_final "burst $id" "$id" completed 502
	done
	ms_check "every answer accepted once (rows, transactions)" "16 16" \
		"$(q "SELECT count(*) || ' ' || count(DISTINCT transaction_id) FROM mobisign.audit
		       WHERE operation = 'sim.answer' AND outcome = 'accepted'
		         AND transaction_id IN ('$held', '$(echo $ids | sed "s/ /', '/g")')")"
	ms_check "no answer of these SIMs left queued or pending" "0 0" \
		"$(q "SELECT (SELECT count(*) FROM mobisign.answer_queue a WHERE a.msisdn IN (SELECT msisdn FROM mobisign.app_user))
		          || ' ' || (SELECT count(*) FROM mobisign.inbound_segment s WHERE NOT s.processed
		                      AND s.msisdn IN (SELECT msisdn FROM mobisign.app_user))")"
	ms_check_worker_alive
}

ec_user_refusals() {
	local id
	behave "user0002 cancel" "user0003 pin_blocked"
	id=$(request authenticate user0002)
	expect_final "user cancel" "$id" failed 401
	id=$(request sign user0003 'Transfer 100 EUR')
	expect_final "PIN blocked" "$id" failed 402
}

ec_silent_sim() {
	local id
	behave "user0004 silent"
	id=$(request authenticate user0004 '' '3 s')
	expect_final "silent SIM" "$id" expired 208
}

# garbage: not authentic, so audited 'rejected' and acted on in no way
# (anyone can send it): the transaction runs to its expiry (208); the
# worker lives on and serves the next one
ec_garbage_answer() {
	local id
	behave "user0005 garbage"
	id=$(request authenticate user0005 '' '4 s')
	expect_final "garbage answer" "$id" expired 208
	ms_check "audited as not acted on" t \
		"$(q "SELECT bool_and(NOT (detail->>'acted')::boolean) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'rejected' AND detail->>'msisdn' = (SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0005')")"
	ms_check_ge "'sim.answer' rejected in the audit" 1 "$(answers user0005 rejected)"
	ms_check_worker_alive
	id=$(request authenticate user0001)
	expect_final "next transaction after garbage" "$id" completed 502
}

ec_wrong_content() {
	local id
	behave "user0006 wrong_content"
	id=$(request authenticate user0006)
	expect_final "wrong content (authenticate)" "$id" failed 503
	id=$(request sign user0006 'Sign this contract')
	expect_final "wrong content (sign)" "$id" failed 503
	ms_check_worker_alive
}

# signed with another user's key: the signer it names is not the registered
# certificate (422, also when re-verified); a broken checksum (not
# authentic: audited, the transaction expires); an answer for another
# reference (ignored)
ec_foreign_answers() {
	local id
	behave "user0013 wrong_key" "user0014 bad_cc" "user0015 wrong_ref"
	id=$(request authenticate user0013)
	expect_final "signed by another key" "$id" failed 422
	ms_check "signed by another key: mobisign_verify(id) still invalid" "false 422" "$(verify_of "$id")"
	id=$(request authenticate user0014 '' '4 s')
	expect_final "broken cryptographic checksum" "$id" expired 208
	ms_check_ge "broken cryptographic checksum: 'sim.answer' rejected (stage security)" 1 \
		"$(answers user0014 rejected "AND detail->>'stage' = 'security'")"
	id=$(request authenticate user0015 '' '4 s')
	expect_final "answer for an unknown reference" "$id" expired 208
	ms_check_ge "answer for an unknown reference: 'ignored' audited" 1 "$(answers user0015 ignored)"
}

# the previous answer again, or a fresh answer with an old counter: refused,
# the transaction is not touched (it expires)
ec_replays() {
	local id n0 n1
	behave
	id=$(request authenticate user0007)
	expect_final "user0007 first answer" "$id" completed 502
	id=$(request authenticate user0011)
	expect_final "user0011 first answer" "$id" completed 502
	n0=$(answers user0007 'replay refused')
	behave "user0007 replay" "user0011 replay_counter"
	id=$(request authenticate user0007 '' '4 s')
	expect_final "replayed old answer" "$id" expired 208
	n1=$(answers user0007 'replay refused')
	ms_check "replayed old answer: 'replay refused' audited" 1 "$((n1 - n0))"
	id=$(request authenticate user0011 '' '4 s')
	expect_final "answer with an old counter" "$id" expired 208
	ms_check_ge "answer with an old counter: 'replay refused' audited" 1 "$(answers user0011 'replay refused')"
}

sim_answers_at_least() { # MSISDN N
	[ "$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND detail->>'msisdn' = '$1'")" -ge "$2" ]
}

ec_duplicate_answer() {
	local id msisdn
	behave "user0008 duplicate"
	id=$(request authenticate user0008)
	expect_final "duplicate answer" "$id" completed 502
	msisdn=$(msisdn_of user0008)
	ms_wait_until 5 sim_answers_at_least "$msisdn" 2
	ms_check "the simulator sent it twice" 1 \
		"$(grep -q "$msisdn.*twice" "$PHASE_DIR/sim.log" && echo 1)"
	ms_check "accepted once" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'accepted' AND transaction_id = '$id'")"
	ms_check "still one completion" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$id' AND operation LIKE 'transaction.completed'")"
}

ec_application_cancel() {
	local id
	behave "user0010 sign 4000"
	id=$(request authenticate user0010)
	ms_check "mobisign_cancel" t "$(q "SELECT mobisign_cancel('$id')")"
	expect_final "application cancel" "$id" cancelled 410
	ms_check "a second cancel" f "$(q "SELECT mobisign_cancel('$id')")"
	sleep 5
	ms_check "the late answer is ignored" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'sim.answer' AND outcome = 'ignored'")"
	ms_check "still cancelled, one NOTIFY" "cancelled 410 1" \
		"$(q "SELECT state || ' ' || status_code FROM mobisign_status('$id')") $(grep -c "$id" "$NOTIFY_LOG")"
}

# unknown user (105), text too long (103); a key file that others can read
# is refused (as PostgreSQL does for ssl_key_file), and nothing is queued
ec_refused_requests() {
	local n0 out
	ms_check "unknown user: SQLSTATE MS105" MS105 "$(ms_sqlstate "SELECT mobisign_authenticate('nobody')")"
	ms_check "161 septets: SQLSTATE MS103" MS103 \
		"$(ms_sqlstate "SELECT mobisign_sign('user0001', repeat('a', 161))")"
	ms_check "81 euro signs (162 septets): SQLSTATE MS103" MS103 \
		"$(ms_sqlstate "SELECT mobisign_sign('user0001', repeat('€', 81))")"
	ms_check "71 UCS-2 characters: SQLSTATE MS103" MS103 \
		"$(ms_sqlstate "SELECT mobisign_sign('user0001', repeat('ж', 71))")"
	n0=$(q "SELECT count(*) FROM mobisign.transaction")
	chmod 0644 "$SIMDIR/master.key"
	ms_check "world-readable master key: SQLSTATE F0000" F0000 \
		"$(ms_sqlstate "SELECT mobisign_authenticate('user0016')")"
	chmod 0640 "$SIMDIR/master.key"
	ms_check "world-readable master key: nothing was queued" "$n0" \
		"$(q "SELECT count(*) FROM mobisign.transaction")"
	# the same in one session that used the key a moment before: the key
	# file rule is applied at every use (80_sim_flow, section 8, does it to
	# a settled, cached key)
	out=$(ms_psql -qAt -v ON_ERROR_STOP=0 2>&1 <<SQL
SELECT count(mobisign_cancel(transaction_id)) FROM mobisign_authenticate('user0016');
\\! chmod 0644 $SIMDIR/master.key
SELECT mobisign_authenticate('user0016');
\\! chmod 0640 $SIMDIR/master.key
SQL
	)
	ms_check "... and in a session that used the key a moment before: refused at its next request" "1 refused" \
		"$(printf '%s\n' "$out" | head -n 1) $(grep -q 'ERROR:  the file named by mobisign.master_key_file is open to others' <<<"$out" && echo refused)"
	ms_check "... nothing was queued but the cancelled request" "$((n0 + 1))" \
		"$(q "SELECT count(*) FROM mobisign.transaction")"
}

WAIT_60="FROM pg_stat_activity WHERE query LIKE 'SELECT state FROM mobisign_wait(%60 s%' AND pid <> pg_backend_pid()"
waiting_60() { [ "$(q "SELECT count(*) $WAIT_60")" = 1 ]; }

# a second open request for the same user (406); mobisign_wait returns at
# its timeout while the transaction is open, and a query cancel interrupts it
ec_open_request() {
	local id t0 t1 wpid
	behave "user0012 silent"
	id=$(request authenticate user0012 '' '1 min')
	ms_check "second open request: SQLSTATE MS406" MS406 \
		"$(ms_sqlstate "SELECT mobisign_sign('user0012', 'again')")"
	ms_check "second open request: the first is untouched" 1 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE user_id = 'user0012' AND mobisign._is_open(state)")"
	t0=$(date +%s%N)
	ms_check "mobisign_wait on an open transaction returns it open at the timeout" t \
		"$(q "SELECT state IN ('queued', 'submitted') FROM mobisign_wait('$id', '1 s')")"
	t1=$(date +%s%N)
	ms_check "mobisign_wait waited about 1 s" 1 \
		"$(((t1 - t0) >= 900000000 && (t1 - t0) < 5000000000 ? 1 : 0))"
	ms_bg "$PGBIN/psql" -X -qAt -c "SELECT state FROM mobisign_wait('$id', '60 s')" >"$PHASE_DIR/wait.out" 2>&1
	wpid=$MS_BG_PID
	ms_wait_until 5 waiting_60
	t0=$(date +%s%N)
	q "SELECT pg_cancel_backend(pid) $WAIT_60" >/dev/null
	ms_wait_until 5 ms_gone "$wpid"
	t1=$(date +%s%N)
	ms_bg_stop "$wpid"
	ms_check "mobisign_wait is interrupted by query cancel within 2 s" "canceled 1" \
		"$(grep -q 'canceling statement due to user request' "$PHASE_DIR/wait.out" && echo canceled) $(((t1 - t0) < 2000000000 ? 1 : 0))"
	q "SELECT mobisign_cancel('$id')" >/dev/null
}

ec_suspended_user() {
	q "UPDATE mobisign.app_user SET status = 'suspended' WHERE user_id = 'user0012'" >/dev/null
	ms_check "suspended user: SQLSTATE MS105" MS105 "$(ms_sqlstate "SELECT mobisign_authenticate('user0012')")"
	q "UPDATE mobisign.app_user SET status = 'active' WHERE user_id = 'user0012'" >/dev/null
}

ec_app_isolation() {
	local id
	q "CREATE ROLE e2e_app1 LOGIN IN ROLE mobisign_app; CREATE ROLE e2e_app2 LOGIN IN ROLE mobisign_app" >/dev/null
	id=$(PGUSER=e2e_app1 q "SELECT transaction_id FROM mobisign_authenticate('user0001', 'app1')")
	ms_check "app1 sees its transaction" 1 \
		"$(PGUSER=e2e_app1 q "SELECT count(*) FROM mobisign_wait('$id', '30 s') WHERE status_code = 502")"
	ms_check "app2 does not see app1's transaction" P0002 \
		"$(PGUSER=e2e_app2 ms_sqlstate "SELECT mobisign_status('$id')")"
	ms_check "app2 cannot cancel app1's transaction" P0002 \
		"$(PGUSER=e2e_app2 ms_sqlstate "SELECT mobisign_cancel('$id')")"
	ms_check "app2 cannot re-verify app1's transaction" P0002 \
		"$(PGUSER=e2e_app2 ms_sqlstate "SELECT mobisign_verify('$id'::uuid)")"
	ms_check "app role cannot read SIM keys" 42501 \
		"$(PGUSER=e2e_app1 ms_sqlstate "SELECT kic_wrapped FROM mobisign.sim_key")"
	ms_check "app role cannot call the worker's functions" 42501 \
		"$(PGUSER=e2e_app1 ms_sqlstate "SELECT mobisign._expire()")"
}

# Any role may take an advisory lock (pg_advisory_lock is PUBLIC, pg_locks
# shows every key): one application session holding the audit sealer's key
# stopped the sealing (and the housekeeping and answers of the verifier of
# slot 0), one holding an MSISDN's key kept that user's answers unread until
# the transaction expired. The locks are rows of mobisign.process_lock now.
holder_holds() {
	[ "$(q "SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a USING (pid)
	         WHERE l.locktype = 'advisory' AND l.granted AND a.usename = 'e2e_app3'")" = 2 ]
}
all_sealed() { [ "$(q "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL")" = 0 ]; }
ec_app_holds_locks() {
	local id holder m
	q "DO \$\$ BEGIN
	     IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'e2e_app3') THEN
	       CREATE ROLE e2e_app3 LOGIN IN ROLE mobisign_app;
	     END IF;
	   END \$\$" >/dev/null
	m=$(msisdn_of user0003)
	PGUSER=e2e_app3 ms_bg ms_psql -qAt \
		-c "SELECT pg_advisory_lock(hashtext('mobisign.audit_seal')),
		           pg_advisory_lock(hashtext('mobisign.inbound'), hashtext('$m'));
		    SELECT pg_sleep(90)" >/dev/null 2>&1
	holder=$MS_BG_PID
	ms_check_cmd "an application session holds the sealer's key and user0003's MSISDN's" \
		ms_wait_until 10 holder_holds
	id=$(request authenticate user0003)
	expect_final "user0003's answer, read meanwhile" "$id" completed 502
	q "SELECT mobisign.audit_log('e2e.marker', 'ok')" >/dev/null
	ms_check_cmd "the audit is sealed meanwhile (within 15 s)" ms_wait_until 15 all_sealed
	ms_check "the application cannot lock the sealer's row" 42501 \
		"$(PGUSER=e2e_app3 ms_sqlstate "SELECT FROM mobisign.process_lock WHERE name = 'audit_seal' FOR NO KEY UPDATE")"
	ms_check "... nor the table" 42501 \
		"$(PGUSER=e2e_app3 ms_sqlstate "BEGIN; LOCK TABLE mobisign.process_lock IN ACCESS SHARE MODE; COMMIT")"
	ms_bg_stop "$holder"
}

# a revoked signer (501); a signature made before the revocation re-verifies
# as revoked with the PKI's current state
ec_revoked_signer() {
	local before id crl crlfile
	before=$(request sign user0009 'Pay 1 EUR')
	expect_final "user0009 before revocation" "$before" completed 502
	"$SIM_BIN" revoke --dir "$SIMDIR" --user user0009 >"$PHASE_DIR/revoke.log" 2>&1 ||
		ms_not_ok "mobisign-sim revoke"
	# it prints "PATH: CRL number N revokes ..."
	crlfile=$(sed -n 's/^\([^:]*\.der\): CRL number.*/\1/p' "$PHASE_DIR/revoke.log" | head -n 1)
	[ -f "$crlfile" ] || crlfile=$SIMDIR/crl/issuing.der
	crl=$(od -An -v -tx1 "$crlfile" | tr -d ' \n')
	q "SELECT mobisign_add_crl('sim', '\\x$crl'::bytea)" >/dev/null || ms_not_ok "mobisign_add_crl"
	id=$(request sign user0009 'Pay 5 EUR')
	expect_final "revoked signer" "$id" failed 501
	ms_check "mobisign_verify of the earlier signature" "false 501" "$(verify_of "$before")"
	ms_check "the earlier transaction keeps its recorded result" "completed 502" \
		"$(q "SELECT state || ' ' || status_code FROM mobisign_status('$before')")"
}

# the SIM refuses the secured packet: an authentic proof of receipt
# (ciphered, CC verified) with a status other than 00 ends the transaction
# at once (209), long before its 1-minute expiry, with the status in its
# reason and in the audit. Counter low (02) for a request sent once is such
# a refusal too, and moves the SIM's counter past the refused one (a re-sent
# request's "counter low" is a duplicate delivery: 20_worker_faults.sh).
ec_por_refusals() {
	local beh st name id msisdn more=
	msisdn=$(msisdn_of user0016)
	for beh in "por_counter_high 03 counter high" "por_blocked 04 counter blocked" \
		"por_security_error 06 unidentified security error" "por_counter_low 02 counter low"; do
		read -r beh st name <<<"$beh"
		behave "user0016 $beh"
		id=$(request authenticate user0016 '' '1 min')
		expect_final "PoR status $st ($name)" "$id" failed 209
		# "counter low" also says the SIM has seen this counter: the key
		# set's counter moved past it (docs/ha.md)
		[ "$st" = 02 ] && more="; the server's counter was behind the SIM's and moved to $(($(q "SELECT counter FROM mobisign.transaction WHERE id = '$id'") + 1000)): a new request will be accepted"
		ms_check "PoR status $st: the reason names it" "the SIM refused the secured packet: proof of receipt status $st ($name)$more" \
			"$(q "SELECT reason FROM mobisign.transaction WHERE id = '$id'")"
		ms_check "PoR status $st: ended at once, not at the expiry" t \
			"$(q "SELECT completed_at < created_at + interval '20 s' FROM mobisign.transaction WHERE id = '$id'")"
		ms_check "PoR status $st: in the final audit row" "por $((10#$st))" \
			"$(q "SELECT detail->>'stage' || ' ' || (detail->>'por_status') FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'transaction.failed'")"
		ms_check "PoR status $st: 'sim.answer' rejected with the status" 1 \
			"$(q "SELECT count(*) FROM mobisign.audit a JOIN mobisign.transaction t ON t.id = '$id'
				   WHERE a.operation = 'sim.answer' AND a.outcome = 'rejected' AND a.detail->>'msisdn' = '$msisdn'
				     AND (a.detail->>'por_status')::int = $((10#$st)) AND (a.detail->>'counter')::bigint = t.counter")"
	done
	ms_check "the SIM sent them secured" 4 \
		"$(grep -c "SIM $msisdn: PoR status 0[2346] (.*)\$" "$PHASE_DIR/sim.log")"
	behave
	id=$(request authenticate user0016)
	expect_final "after the refusals, the same SIM answers" "$id" completed 502
}

# anyone who can send an SMS with the user's MSISDN as originator can send
# an unsecured PoR (no CC), e.g. status 01 "CC failed". It is audited (stage
# 'unsecured', its status, not acted on) and leaves the transaction open:
# the SIM's real answer, 1.5 s later, still completes it (502)
ec_forged_por() {
	local id msisdn
	msisdn=$(msisdn_of user0016)
	behave "user0016 forged_por 1500"
	id=$(request authenticate user0016 '' '1 min')
	expect_final "forged unsecured PoR, then the real answer" "$id" completed 502
	ms_check "the simulator sent it first" 1 \
		"$(grep -c "SIM $msisdn: PoR status 01 (.*), unsecured\$" "$PHASE_DIR/sim.log")"
	ms_check "audited 'rejected' once, stage unsecured, status 1, not acted on" "unsecured 1 false" \
		"$(q "SELECT string_agg((detail->>'stage') || ' ' || (detail->>'por_status') || ' ' || (detail->>'acted'), ', ')
			   FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'rejected' AND detail->>'msisdn' = '$msisdn'
			    AND id > (SELECT id FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'transaction.queued')")"
	ms_check "it came while the transaction was open (before the accepted answer)" t \
		"$(q "SELECT max(a.id) < (SELECT id FROM mobisign.audit WHERE transaction_id = '$id' AND operation = 'sim.answer' AND outcome = 'accepted')
			   FROM mobisign.audit a WHERE a.operation = 'sim.answer' AND a.outcome = 'rejected' AND a.detail->>'msisdn' = '$msisdn'")"
	behave
}

ec_invariants() {
	ms_check "OTA counters: one per request, never reused" 0 \
		"$(q "SELECT count(*) FROM (SELECT msisdn, counter FROM mobisign.transaction GROUP BY 1, 2 HAVING count(*) > 1) d")"
	ms_check "no clear key in the audit" 0 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE detail ? 'kic' OR detail ? 'kid'")"
	ms_check "audit chain intact" t "$(q "SELECT intact FROM mobisign_audit_verify()")"
}

# ---------------------------------------------------------------------------
# RSA scenarios
# ---------------------------------------------------------------------------
rsa_success() {
	local id
	id=$(request authenticate user0001)
	expect_final "authenticate" "$id" completed 502
	id=$(request sign user0002 'Pay 99,90 EUR to Example Ltd')
	expect_final "sign" "$id" completed 502
	ms_check "sign: signer is user0002" 1 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE id = '$id' AND signer_subject LIKE '%CN=user0002%'")"
}

# lost_then_next USER BEHAVIOUR: answer A loses an SMS (BEHAVIOUR), so its
# transaction expires with A's other segments pending; the SIM's next answer
# B reuses A's concatenation reference and (RSA: same size) total, and must
# be accepted (502)
lost_then_next() {
	local user=$1 beh=$2 msisdn id lost next
	msisdn=$(msisdn_of "$user")
	behave "$user $beh"
	id=$(request authenticate "$user" '' '3 s')
	expect_final "answer A" "$id" expired 208
	ms_check "A's other segments are stored, pending" t \
		"$(q "SELECT count(*) > 0 FROM mobisign.inbound_segment WHERE msisdn = '$msisdn' AND NOT processed")"
	behave
	id=$(request authenticate "$user")
	expect_final "the next answer B, same reference" "$id" completed 502
	lost=$(sed -n "s/.*answer to $msisdn: segment [0-9]* of \([0-9]*\) (ref \([0-9]*\)) lost.*/\1 \2/p" "$PHASE_DIR/sim.log" | tail -n 1)
	next=$(sed -n "s/.*answer from $msisdn: \([0-9]*\) of \1 segments, ref \([0-9]*\).*/\1 \2/p" "$PHASE_DIR/sim.log" | tail -n 1)
	ms_check "B reused A's reference and total (total ref)" "$lost" "$next"
}

# answer A loses its last SMS; A's segments must not complete or poison B:
# B is accepted (502), A's are superseded and audited as incomplete; they
# wait (rejected, candidates of a recombination) for the window's end
rsa_lost_segment() {
	local msisdn
	lost_then_next user0003 lose_segment
	msisdn=$(msisdn_of user0003)
	ms_check "A's segments superseded, audited 'incomplete'" 1 "$(answers user0003 incomplete)"
	ms_check "only A's segments wait (rejected) for the window's end" "true true" \
		"$(q "SELECT (count(*) > 0 AND bool_and(rejected))::text || ' ' || bool_and(id < (SELECT min((e.sid)::bigint) FROM mobisign.audit a, jsonb_array_elements_text(a.detail->'segment_ids') e(sid) WHERE a.operation = 'sim.answer' AND a.outcome = 'accepted' AND a.detail->>'msisdn' = '$msisdn'))::text
			   FROM mobisign.inbound_segment WHERE msisdn = '$msisdn' AND NOT processed")"
	ms_check "nothing rejected" 0 "$(answers user0003 rejected)"
}

# the *first* SMS is lost: A's other segments wait, and the first segment
# of the SIM's next answer B (same reference, same total) completes them into
# a set that fails its CC (rejected, not acted on). B's own segments then
# make the newest set, which is tried and is authentic: B is accepted (502);
# A's segments wait for the end of the window. The same holds when the
# foreign segments are spoofed.
rsa_lost_first_segment() {
	local msisdn
	lost_then_next user0004 lose_first_segment
	msisdn=$(msisdn_of user0004)
	ms_check "A's segments with B's first were rejected once, not acted on" "1 security false" \
		"$(q "SELECT count(*) || ' ' || min(detail->>'stage') || ' ' || bool_or((detail->>'acted')::boolean) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'rejected' AND detail->>'msisdn' = '$msisdn'")"
	ms_check "only A's segments wait (rejected) for the window's end" "true true" \
		"$(q "SELECT (count(*) > 0 AND bool_and(rejected))::text || ' ' || bool_and(id < (SELECT min((e.sid)::bigint) FROM mobisign.audit a, jsonb_array_elements_text(a.detail->'segment_ids') e(sid) WHERE a.operation = 'sim.answer' AND a.outcome = 'accepted' AND a.detail->>'msisdn' = '$msisdn'))::text
			   FROM mobisign.inbound_segment WHERE msisdn = '$msisdn' AND NOT processed")"
}

# one spoofed SMS among the answer's segments (what anyone who sees or
# guesses the 8-bit reference can send with the user's MSISDN as
# originator), repeating a sequence number (gN genuine, f spoofed):
#   spoof_next   g1 f2 g2 ...   g1 f2 is superseded (incomplete), g2 ... waits
#   spoof_ahead  f2 g1 g2 ...   the same
#   spoof_repeat g1 f1 g2 ...   g1 is superseded, f1 g2 ... is complete and
#                               rejected (its CC fails)
#   spoof_late   g1 g2 f2 g3 .. g1 g2 is superseded, f2 g3 ... waits
# The superseded set waits (rejected) instead of being thrown away, and the
# recombination tries the newest set and its variants with one segment
# replaced by an older one of its sequence number: the genuine answer is
# accepted (502), with the genuine segments; only the spoofed one is left,
# waiting for the window's end (spoof_late's f2 began the newest set: it
# waits as an incomplete set does, not rejected).
rsa_spoofed_segment() {
	local beh user msisdn id n=5 spoofed
	for beh in spoof_next spoof_ahead spoof_repeat spoof_late; do
		user=$(printf 'user%04d' "$n")
		n=$((n + 1))
		msisdn=$(msisdn_of "$user")
		behave "$user $beh"
		id=$(request authenticate "$user")
		expect_final "$beh" "$id" completed 502
		spoofed=$(grep -c "answer to ${msisdn#+}: a spoofed segment\|answer to $msisdn: a spoofed segment" "$PHASE_DIR/sim.log")
		ms_check "$beh: the simulator sent one spoofed segment" 1 "$spoofed"
		ms_check "$beh: the superseded set audited 'incomplete' once" 1 "$(answers "$user" incomplete)"
		ms_check "$beh: accepted once, for this transaction" 1 \
			"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'accepted' AND transaction_id = '$id'")"
		ms_check "$beh: sets rejected (not acted on)" "$([ "$beh" = spoof_repeat ] && echo 1 || echo 0)" \
			"$(answers "$user" rejected "AND NOT (detail->>'acted')::boolean")"
		# the spoofed segment is left: rejected when it was in a superseded
		# or a rejected set; spoof_late's f2 began the newest set, which
		# waits (incomplete) as any newest set does
		ms_check "$beh: one segment left, not in the accepted answer; rejected" \
			"1 true $([ "$beh" = spoof_late ] && echo false || echo true)" \
			"$(q "SELECT count(*) || ' ' || bool_and(id::text NOT IN (SELECT jsonb_array_elements_text(a.detail->'segment_ids') FROM mobisign.audit a WHERE a.operation = 'sim.answer' AND a.outcome = 'accepted' AND a.transaction_id = '$id')) || ' ' || bool_and(rejected)
			   FROM mobisign.inbound_segment WHERE msisdn = '$msisdn' AND NOT processed")"
	done
	behave
}

no_verifiers() { [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign verifier'")" = 0 ]; }
no_worker() { [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign worker'")" = 0 ]; }
some_verifiers() { [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign verifier'")" -ge 1 ]; }
rsa_extension_recreated() {
	local id
	q "DROP EXTENSION mobisign CASCADE" >/dev/null
	ms_wait_until 30 no_verifiers
	ms_check_cmd "after DROP EXTENSION the worker stops its verifiers" no_verifiers
	# the worker leaves with its extension; the launcher starts a new one at
	# the next CREATE EXTENSION (docs/worker.md)
	ms_wait_until 30 no_worker
	ms_check "... and the worker leaves with the extension" 0 \
		"$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign worker'")"
	q "CREATE EXTENSION mobisign" >/dev/null
	ms_sim_register "$SIMDIR"
	ms_check_bound "the worker found the extension again and bound"
	ms_wait_until 20 some_verifiers
	ms_check_cmd "a new pool of verifiers runs" some_verifiers
	id=$(request authenticate user0010)
	expect_final "a new SIM, the extension created again" "$id" completed 502
}

# ---------------------------------------------------------------------------
# run: each phase's set-up only when one of its scenarios is selected
# ---------------------------------------------------------------------------
if ms_wanted "${EC_SCENARIOS[@]}"; then
	start_phase ec
	for s in "${EC_SCENARIOS[@]}"; do
		ms_scenario "$s" "$s"
	done
	stop_phase
fi
if ms_wanted "${RSA_SCENARIOS[@]}"; then
	start_phase rsa
	for s in "${RSA_SCENARIOS[@]}"; do
		ms_scenario "$s" "$s"
	done
	stop_phase
fi
ms_summary
