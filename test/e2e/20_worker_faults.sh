#!/usr/bin/env bash
# Fault tests of the background worker (docs/worker.md): what the SMSC, the
# operating system and the administrator do to it, and that every
# transaction still ends exactly once (one final state, one final audit row,
# one NOTIFY) with no SIM counter used twice.
#
# Scenarios (each a function below, run by ms_scenario, in this order; the
# later ones use the state the earlier ones leave):
#   hostile_smsc      raw frames (test/e2e/node/garbage_smsc.js): unknown
#                     commands, malformed bodies, a duplicate, a broken
#                     frame length: each answered as it should, the worker
#                     survives (more of this in 25_hostile_smsc.sh)
#   baseline          authentications through the simulator complete (502)
#   rate_cap          max_per_second spreads the submit_sm over time
#   throttle          ESME_RTHROTTLED: the worker pauses, retries, completes
#   connection_drop   the session drops with submit_sm in flight: reconnect,
#                     every transaction completes
#   no_response       submit_sm swallowed: the response timeout ends the
#                     session, the worker reconnects, all complete
#   resent_request    dropped before the submit_sm_resp: the packet is sent
#                     again, the SIM refuses the copy, the first completes
#   retries_apart     a row due 4 s after it was queued, and a request
#                     refused once (temporarily, due again 1 s later): the
#                     worker claims each at its time, the first not at the
#                     safety-net poll
#   expired_head      a window's worth of requests past their expiry at the
#                     head of the queue, a live one behind them: the claim
#                     that closes them unsent is a full one, the live one is
#                     sent at once
#   poison_rows       one row that fails, inside each batch the worker and the
#                     verifiers write (requests recorded as submitted,
#                     received segments stored, answers handled): the batch
#                     falls back to one row at a time, the others go
#                     through; once the fault is gone the bad one does too
#   answer_locks      handling an answer meets a lock it may not have (a
#                     lock_timeout set for the server, a deadlock): the
#                     server's state, not the answer's fault; its segments
#                     stay pending and the recheck completes it once the
#                     lock is free (never audited as the answer's error)
#   mark_held         the worker's batch of submitted requests meets a row
#                     another session holds (a verifier finishing that
#                     transaction): it waits for nothing (a wait there, with
#                     the batch's other rows held, was a deadlock with the
#                     verifier) and returns -1; the batch of one, what the
#                     worker then records each request with, waits for its row
#   batch_fallback    the same through the worker: the simulator is stopped
#                     while two submit_sm wait for their response, a session
#                     locks one of the two transactions, the simulator goes on:
#                     the batch of both returns -1, each is recorded alone
#                     (the held one waits 1 s at most, the holder sleeps 2 s:
#                     a lock_timeout, logged; the worker goes on serving its
#                     link), both end 502, and worker_stats.batch_fallbacks
#                     counts the batch once
#   wake_in_wait      a request committed while the worker waits for a lock
#                     in a turn after its claim (the lock wait resets its
#                     latch and eats the wake-up; later writers find the
#                     wake-up flag set and signal no more): sent without
#                     waiting for the worker's next timer
#   exactly_once      throttle, drop, no answer, re-sent, poison rows, answer
#                     locks: one NOTIFY and one final audit row per transaction
#   crash             kill -9 of the worker with 200 transactions in flight:
#                     each ends exactly once, counters never reused, the
#                     queue drained
#   ack_after_commit  stored before acknowledged: the worker's storing
#                     statement is held (a session locks inbound_segment)
#                     while the SIMs answer: the simulator sends deliver_sm,
#                     none is acknowledged; kill -9 of the held worker: the
#                     simulator sends them again, each transaction ends once
#   verifier_crash    kill -9 of an answer verifier (pg_stat_activity
#                     backend_type 'mobisign verifier') in the middle of a
#                     batch, 100 transactions in flight: its claim rolls
#                     back, each transaction ends exactly once, nothing is
#                     left queued; a new pool runs after the restart
#   drop_database     DROP DATABASE of another database is not blocked; of
#                     the worker's own by a non-owner is refused; with a
#                     session connected it fails and the worker comes back
#   busy_worker       the same failed drop while the stopped worker is busy:
#                     its successor owns the shared state, wake-ups work
#   sigterm           SIGTERM: unbind, exit 0 (no crash restart); the
#                     launcher starts a new worker (80_launcher.sh has more)
#   drop_own_database after a restart, DROP DATABASE of the worker's own
#                     database stops it cleanly and goes through
#   log_hygiene       no crash but the deliberate one, no password in the log
#   without_preload   without shared_preload_libraries: worker_stats and
#                     mobisign_authenticate say why, nothing is queued
#
#   bash test/e2e/20_worker_faults.sh                (after make install)
#   MS_SCENARIO="baseline crash" bash test/e2e/20_worker_faults.sh
#
# Ports: free ones. KEEP=1 keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

DB=msfaults
USERS=200

ms_e2e_init
ms_e2e_ports PGPORT_T SMPP_PORT GARB_PORT
SIMDIR=$WORK/sim
PG=$WORK/pg
echo "# cluster on port $PGPORT_T, simulator on $SMPP_PORT, work dir $WORK"

e2e_on_failure() {
	echo "# simulator log tail:"
	tail -n 20 "$WORK/sim.log" 2>/dev/null | sed 's/^/#   /'
}

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
wstat() { q "SELECT $1 FROM mobisign.worker_stats"; }
# try SECONDS USER DB SQL: one statement in its own session, bounded
try_sql() {
	timeout "$1" "$PGBIN/psql" -X -q -h "$PG" -p "$PGPORT_T" -U "$2" -d "$3" -c "$4"
}
worker_up() { [ -n "$(ms_worker_pid)" ]; }
worker_replaced() { # OLD: a worker runs and it is not OLD
	local p
	p=$(ms_worker_pid)
	[ -n "$p" ] && [ "$p" != "$1" ]
}
server_ready() { "$PGBIN/pg_isready" -q -h "$PG" -p "$PGPORT_T"; }
gone_yes() { ms_wait_until "$2" ms_gone "$1" && echo yes || echo no; }

# start_auth FIRST LAST TAG: one authentication per user, ids into $WORK/TAG.ids
start_auth() {
	ms_authenticate_range "$1" "$2" "$3" '3 min' >"$WORK/$3.ids"
}
# final TAG SECONDS: a check that every transaction of TAG ended
final() {
	ms_wait_tag_final "$1" "$2"
	ms_check "$1: every authentication final (none open)" 0 "$(ms_open_count "$1")"
}
notify_once() { # every transaction of TAG notified exactly once
	local tag=$1 id n bad=0
	while read -r id; do
		[ -n "$id" ] || continue
		n=$(grep -c "\"transaction_id\": \"$id\"" "$WORK/notify.log")
		if [ "$n" != 1 ]; then
			echo "# $tag: transaction $id notified $n time(s)"
			bad=1
		fi
	done <"$WORK/$tag.ids"
	return $bad
}
faults() { ms_sim_file "$SIMDIR" faults "$@"; }

# ---------------------------------------------------------------------------
# set-up: the cluster (the simulator comes after the hostile SMSC)
# ---------------------------------------------------------------------------
mkdir -p "$SIMDIR"
ms_e2e_cluster "$PG" "$PGPORT_T" "$DB" \
	"mobisign.worker_naptime = '5s'" \
	"mobisign.worker_lease = '10s'" \
	"max_connections = 60"

setup_simulator() {
	ms_sim_provision "$SIMDIR" "$SMPP_PORT" "$USERS"
	ms_sim_register "$SIMDIR"
	# fault tests run in seconds: short reconnect delay and response timeout
	q "UPDATE mobisign.smsc SET reconnect_delay = '300 ms', response_timeout = '3 s', window_size = 20" >/dev/null
	faults
	ms_sim_start "$SIMDIR" "$SMPP_PORT" "$WORK/sim.log"
	ms_reload
	ms_check_bound "the worker binds to the simulator"
	# a LISTEN client for the NOTIFY counts (exactly_once)
	ms_listen_start "$WORK/notify.log" 300
}

# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
garbage_done() {
	node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
	         process.exit(r.done && r.binds >= 2 && r.answers.bad_length ? 0 : 1)' "$WORK/garbage.json" 2>/dev/null
}
ans() { # ans NAME -> "command_id status" in hex
	node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1])); const a = r.answers[process.argv[2]];
	         console.log(a ? a[0].toString(16) + " " + a[1].toString(16) : "none")' "$WORK/garbage.json" "$1"
}

hostile_smsc() {
	local gpid0 gpid
	command -v node >/dev/null || {
		ms_not_ok "node is needed for the hostile-SMSC check (test/deps.sh installs it)"
		return 1
	}
	ms_bg node "$MOBISIGN_ROOT/test/e2e/node/garbage_smsc.js" --port "$GARB_PORT" --out "$WORK/garbage.json" \
		>"$WORK/garbage.log" 2>&1
	gpid=$MS_BG_PID
	ms_wait_until 10 test -s "$WORK/garbage.json"
	ms_wait_until 20 worker_up
	gpid0=$(ms_worker_pid)
	q "INSERT INTO mobisign.smsc (name, host, port, system_id, password, reconnect_delay, response_timeout)
	   VALUES ('garbage', '127.0.0.1', $GARB_PORT, 'garbage', 'pw', '300 ms', '3 s')" >/dev/null
	q "SELECT mobisign._wake_worker()" >/dev/null
	ms_check "the whole script ran and the worker bound again after the broken frame" yes \
		"$(ms_wait_until 30 garbage_done && echo yes)"
	ms_check "unknown command -> generic_nack ESME_RINVCMDID" "80000000 3" "$(ans unknown_command)"
	ms_check "deliver_sm with a schedule_delivery_time -> deliver_sm_resp ESME_RINVSCHED" "80000005 61" "$(ans deliver_sm_bad_body)"
	ms_check "truncated deliver_sm -> deliver_sm_resp ESME_RINVCMDLEN" "80000005 2" "$(ans deliver_sm_truncated)"
	ms_check "delivery receipt acknowledged" "80000005 0" "$(ans deliver_sm_receipt)"
	ms_check "segment acknowledged" "80000005 0" "$(ans deliver_sm_segment)"
	ms_check "duplicate acknowledged" "80000005 0" "$(ans deliver_sm_duplicate)"
	ms_check "enquire_link answered" "80000015 0" "$(ans enquire_link)"
	ms_check "PDU length < 16 -> generic_nack ESME_RINVCMDLEN" "80000000 2" "$(ans bad_length)"
	ms_check "the worker survived all of it (same process)" "$gpid0" "$(ms_worker_pid)"
	ms_check "the segment stored once (duplicate ignored), concatenation parsed" "1:66:2:1" \
		"$(q "SELECT count(*) || ':' || min(concat_ref) || ':' || min(total) || ':' || min(seq)
		        FROM mobisign.inbound_segment WHERE msisdn = '3585000009999'")"
	ms_check "the receipt was not stored" 0 \
		"$(q "SELECT count(*) FROM mobisign.inbound_segment WHERE user_data = pg_catalog.convert_to('id:1 stat:DELIVRD', 'UTF8')")"
	q "UPDATE mobisign.smsc SET enabled = false WHERE name = 'garbage'" >/dev/null
	ms_bg_stop "$gpid"
}

baseline() {
	start_auth 1 5 base
	final base 60
	ms_check "5 x VALID_SIGNATURE (502)" 5 "$(ms_status_count base 502)"
}

rate_cap() {
	local span
	q "UPDATE mobisign.smsc SET max_per_second = 5 WHERE name = 'sim'" >/dev/null
	ms_reload
	sleep 0.5
	ms_check_bound "the link is bound again with the new setting"
	start_auth 56 65 rate
	final rate 60
	ms_check "10 x 502" 10 "$(ms_status_count rate 502)"
	span=$(q "SELECT (pg_catalog.date_part('epoch', max(submitted_at) - min(submitted_at)) * 1000)::int
	            FROM mobisign.transaction WHERE application = 'rate'")
	echo "# rate cap: 20 submit_sm at 5/s (burst 5) spread over ${span} ms"
	ms_check_ge "20 segments at 5 per second took at least 2.5 s (ms)" 2500 "$span"
	q "UPDATE mobisign.smsc SET max_per_second = 100 WHERE name = 'sim'" >/dev/null
	ms_reload
	sleep 0.5
	ms_check_bound "back to 100/s"
}

throttle() {
	local retried0
	retried0=$(wstat retried)
	faults "throttle 25"
	sleep 0.3
	start_auth 6 25 throttle
	final throttle 90
	ms_check "20 x 502" 20 "$(ms_status_count throttle 502)"
	ms_check_ge "the worker retried throttled submits (from $retried0)" $((retried0 + 20)) "$(wstat retried)"
	ms_check_grep "the simulator refused submits" "refused with status 0x58" "$WORK/sim.log"
}

connection_drop() {
	local reconnects0 inflight
	reconnects0=$(wstat reconnects)
	faults "delay_ms 1500"
	sleep 0.3
	start_auth 26 45 drop
	sleep 0.7
	inflight=$(wstat window_in_use)
	faults "delay_ms 1500" drop
	sleep 0.5
	faults
	echo "# drop: $inflight submit_sm were in flight when the SMSC dropped the session"
	ms_check_ge "submit_sm were in flight at the drop" 1 "$inflight"
	final drop 90
	ms_check "20 x 502" 20 "$(ms_status_count drop 502)"
	ms_check_ge "the worker reconnected (from $reconnects0)" $((reconnects0 + 1)) "$(wstat reconnects)"
}

# the SMSC swallows submit_sm: the response timeout (3 s) ends the session
no_response() {
	local reconnects0
	reconnects0=$(wstat reconnects)
	faults "no_resp 3"
	sleep 0.3
	start_auth 46 55 noresp
	final noresp 90
	ms_check "10 x 502" 10 "$(ms_status_count noresp 502)"
	ms_check_grep "the simulator swallowed submits" "swallowed" "$WORK/sim.log"
	ms_check_ge "the worker gave up on the session and reconnected (from $reconnects0)" \
		$((reconnects0 + 1)) "$(wstat reconnects)"
	faults
}

# the SMSC delivers a request, then drops the session before answering the
# submit_sm: the worker sends the same secured packet again, the SIM refuses
# the copy ("counter low"), and the first copy's signature still completes
# the transaction (the copy goes at its retry, about 1 s later, which the
# worker knows without asking the queue: sent at the 5 s poll instead, it
# came after the answer and was not a duplicate delivery; checked by making
# ms_queue_finish return 0)
dups() { q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'duplicate delivery'"; }
resent_request() {
	local dup0
	dup0=$(dups)
	# the user takes 4 s to answer, so the copy arrives while the request is open
	ms_sim_file "$SIMDIR" behaviour "user0056 sign 4000"
	faults "drop_on_submit 2"
	sleep 0.3
	start_auth 56 56 resent
	final resent 60
	ms_check "502, the SIM's refusal of the copy does not fail it" 1 "$(ms_status_count resent 502)"
	ms_check_ge "the refused copy is audited as a duplicate delivery (from $dup0)" $((dup0 + 1)) "$(dups)"
	ms_check_grep "the SIM refused the copy's counter" "SIM 358[0-9]*56: counter .* refused" "$WORK/sim.log"
	faults
	ms_sim_file "$SIMDIR" behaviour
}

# retries_apart: rows due at different times.  One request's row is due
# 4 s after it was queued (as a retry of another attempt, or what an earlier
# worker rescheduled: its time set in the request's own transaction), a
# second request is refused once (ESME_RSYSERR, temporary: rescheduled in the queue; a queue full or throttled answer is retried by the session itself) and due again
# 1 s later.  The worker claims the second at its time; the first must not
# wait for the safety-net poll (60 s here): having claimed at a due time it
# knew of, the worker learns the next from the queue.
# (the audit's transaction.submitted row: an answer may complete its
# transaction first, which then has no submitted_at)
accepted_after() { # TAG USER: seconds from the request to the SMSC's acceptance recorded
	q "SELECT round(extract(epoch FROM a.at - t.created_at)::numeric, 1) FROM mobisign.transaction t
	     JOIN mobisign.audit a ON a.transaction_id = t.id AND a.operation = 'transaction.submitted'
	    WHERE t.application = '$1' AND t.user_id = '$2'"
}
retries_apart() {
	local r0 a b
	q "ALTER SYSTEM SET mobisign.worker_naptime = '60s'" >/dev/null
	ms_reload
	sleep 1
	r0=$(grep -c "refused with status 0x08" "$WORK/sim.log")
	faults "reject 1 0x08"
	sleep 0.3
	q "SELECT set_config('apart.t', (SELECT transaction_id::text FROM mobisign_authenticate('user0116', 'apart', '3 min')), false);
	   UPDATE mobisign.request_queue SET next_attempt_at = now() + interval '4 s'
	    WHERE transaction_id = current_setting('apart.t')::uuid" >/dev/null
	start_auth 117 117 apart
	final apart 30
	faults
	q "ALTER SYSTEM RESET mobisign.worker_naptime" >/dev/null
	ms_reload
	a=$(accepted_after apart user0116)
	b=$(accepted_after apart user0117)
	echo "# retries_apart: the refused request accepted after ${b:-?} s, the one due 4 s later after ${a:-?} s"
	ms_check "both 502, the second refused once" "2 1" \
		"$(ms_status_count apart 502) $(($(grep -c "refused with status 0x08" "$WORK/sim.log") - r0))"
	ms_check "the row due later was claimed at its time, not before it nor at the poll (4 to 10 s)" yes \
		"$(awk -v a="${a:-0}" 'BEGIN { print (a >= 4 && a < 10) ? "yes" : "no: " a " s" }')"
}

# expired_head: the head of the queue is a window's worth of requests past
# their expiry (not expired yet: housekeeping every 60 s here), and behind
# them, committed with them, one live request.  The claim takes the 20 and
# closes them unsent; that took a whole window's rows, so the worker claims
# again at once and sends the live one (it took the claim for an empty
# queue, and the live request waited for the safety-net poll, 60 s).
expired_head() {
	local t0 after
	q "ALTER SYSTEM SET mobisign.worker_naptime = '60s'" >/dev/null
	q "ALTER SYSTEM SET mobisign.worker_housekeeping_interval = '60s'" >/dev/null
	ms_reload
	sleep 1
	t0=$(date +%s%N)
	q "SELECT count(mobisign_authenticate(pg_catalog.format('user%s', pg_catalog.lpad(g::text, 4, '0')), 'expired_head', '3 min'))
	     FROM pg_catalog.generate_series(120, 139) g;
	   UPDATE mobisign.transaction SET expires_at = now() - interval '1 s' WHERE application = 'expired_head';
	   SELECT mobisign_authenticate('user0140', 'expired_live', '3 min')" >/dev/null
	ms_check "the live request behind them is answered within 5 s (not at the 60 s poll)" "completed 502" \
		"$(q "SELECT state || ' ' || status_code FROM mobisign_wait((SELECT id FROM mobisign.transaction
		                                                            WHERE application = 'expired_live'), '5 s')")"
	after=$((($(date +%s%N) - t0) / 1000000))
	echo "# expired_head: the live request final after $after ms"
	ms_check "the 20 were closed unsent, past their expiry" 20 \
		"$(q "SELECT count(*) FROM mobisign.request_queue q JOIN mobisign.transaction t ON t.id = q.transaction_id
		       WHERE t.application = 'expired_head' AND q.done AND q.last_error LIKE '%past its expiry%'")"
	q "ALTER SYSTEM RESET mobisign.worker_naptime" >/dev/null
	q "ALTER SYSTEM RESET mobisign.worker_housekeeping_interval" >/dev/null
	ms_reload
	# housekeeping's next round is up to 60 s away: expire them now
	q "SELECT mobisign._expire()" >/dev/null
	final expired_head 30
	ms_check "then expiry ended them (208)" 20 "$(ms_status_count expired_head 208)"
}

# poison_rows: a trigger makes one row of a batch fail; the other rows of
# the batch must not be lost with it (worker/queue.c falls back to one row
# per statement).  15 authentications queued at once are claimed, sent,
# stored and verified together.
msisdn_of() { q "SELECT msisdn FROM mobisign.app_user WHERE user_id = '$1'"; }
# (the message names the SQLSTATE: the worker logs one message at most once a
# minute per process, so a scenario looking for its own must not meet another's)
poison_trigger() { # TABLE WHEN-CONDITION [SQLSTATE]: the trigger mobisign_poison
	q "CREATE OR REPLACE FUNCTION public.mobisign_poison() RETURNS trigger LANGUAGE plpgsql AS
	   \$\$ BEGIN RAISE EXCEPTION 'poison row (${3:-P0001})' USING ERRCODE = '${3:-P0001}'; END \$\$;
	   CREATE TRIGGER mobisign_poison BEFORE INSERT OR UPDATE ON $1 FOR EACH ROW
	   WHEN ($2) EXECUTE FUNCTION public.mobisign_poison()" >/dev/null
}
poison_drop() { q "DROP TRIGGER mobisign_poison ON $1" >/dev/null; }
tag_state() { # TAG USER: state/status of that user's transaction of TAG
	q "SELECT state || '/' || coalesce(status_code::text, '') FROM mobisign.transaction
	    WHERE application = '$1' AND user_id = '$2'"
}
others_done() { # TAG USER: every other transaction of TAG is final
	[ "$(q "SELECT count(*) FROM mobisign.transaction WHERE application = '$1' AND user_id <> '$2'
	          AND mobisign._is_open(state)")" = 0 ]
}
user_final() { [ "$(q "SELECT count(*) FROM mobisign.transaction WHERE application = '$1' AND user_id = '$2'
	                      AND NOT mobisign._is_open(state)")" = 1 ]; }
poison_rows() {
	local m
	# 1. recording: the poison's transaction cannot become submitted.  The
	# SIMs answer after 1 s: the batch fails and each request is recorded
	# alone, each in a transaction of its own, and an answer that came first
	# would finish its transaction before it is recorded (it keeps its final
	# state: no submitted_at), which is not what this checks.  The poison's
	# own recording fails while its transaction is queued, and succeeds if
	# its answer came first (its audit row names the state): the checks of
	# the audit rows count the 14 others
	m=$(msisdn_of user0070)
	poison_trigger mobisign.transaction "NEW.state = 'submitted' AND NEW.msisdn = '$m'"
	ms_sim_behaviour "$SIMDIR" "* sign 1000"
	start_auth 66 80 poison_rec
	final poison_rec 60
	ms_sim_file "$SIMDIR" behaviour
	poison_drop mobisign.transaction
	ms_check "recording: 15 x 502" 15 "$(ms_status_count poison_rec 502)"
	ms_check "recording: the 14 others were recorded as submitted" 14 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE application = 'poison_rec'
		        AND user_id <> 'user0070' AND submitted_at IS NOT NULL")"
	# one audit row each, in the batch's form: the MSISDN and the message
	# ids of its own segments (no two requests share an id)
	ms_check "recording: one transaction.submitted audit row each, with its own message ids" "14 14 true" \
		"$(q "SELECT count(*) || ' ' || count(DISTINCT a.transaction_id) || ' ' ||
		             (SELECT count(*) = count(DISTINCT i) FROM mobisign.audit b
		                JOIN mobisign.transaction u ON u.id = b.transaction_id AND u.application = 'poison_rec',
		                     jsonb_array_elements_text(b.detail->'message_ids') i
		               WHERE b.operation = 'transaction.submitted')
		        FROM mobisign.audit a JOIN mobisign.transaction t ON t.id = a.transaction_id
		       WHERE t.application = 'poison_rec' AND t.user_id <> 'user0070' AND a.operation = 'transaction.submitted'
		         AND a.detail->>'msisdn' = t.msisdn AND jsonb_array_length(a.detail->'message_ids') >= 1")"
	ms_check "recording: the poison row was not (its answer completed it)" "" \
		"$(q "SELECT submitted_at FROM mobisign.transaction WHERE application = 'poison_rec' AND user_id = 'user0070'")"
	# 2. storing: the poison's segments cannot be stored (refused with
	# ESME_RX_T_APPN, the simulator sends them again every second)
	m=$(msisdn_of user0085)
	poison_trigger mobisign.inbound_segment "NEW.msisdn = '$m'"
	start_auth 81 95 poison_store
	ms_wait_until 60 others_done poison_store user0085
	ms_check "storing: the 14 others 502" 14 "$(ms_status_count poison_store 502)"
	ms_check "storing: the poison's answer is not stored, its transaction open" "submitted/100" \
		"$(tag_state poison_store user0085)"
	poison_drop mobisign.inbound_segment
	ms_wait_until 30 user_final poison_store user0085
	ms_check "storing: once the fault is gone, the re-sent answer completes it" "completed/502" \
		"$(tag_state poison_store user0085)"
	# 3. verifying: handling the poison's answer fails with a state error
	# (55000: raised past the answer's own guard, as a token away is); its
	# segments stay pending and the recheck queues them again
	m=$(msisdn_of user0100)
	poison_trigger mobisign.transaction "NEW.state = 'completed' AND NEW.msisdn = '$m'" 55000
	start_auth 96 110 poison_verify
	ms_wait_until 60 others_done poison_verify user0100
	ms_check "verifying: the 14 others 502" 14 "$(ms_status_count poison_verify 502)"
	ms_check "verifying: the poison's transaction is still open" "submitted/100" \
		"$(tag_state poison_verify user0100)"
	poison_drop mobisign.transaction
	ms_wait_until 40 user_final poison_verify user0100
	ms_check "verifying: once the fault is gone, the recheck completes it" "completed/502" \
		"$(tag_state poison_verify user0100)"
	q "DROP FUNCTION public.mobisign_poison()" >/dev/null
}

# answer_locks: a lock the answer's handling waits for is not the answer's
# fault.  Taken for one (audited as its error, its segments processed) the
# transaction would never complete, though its SIM answered.
tx_state() { q "SELECT state || '/' || coalesce(status_code::text, '') FROM mobisign.transaction WHERE id = '$1'"; }
tx_submitted() { [ "$(tx_state "$1")" = "submitted/100" ]; }
answer_stored() { [ "$(q "SELECT count(*) FROM mobisign.inbound_segment WHERE msisdn = '$1'")" -ge 1 ]; }
lock_hit() { # MSISDN SQLSTATE LOG-PATTERN: the handling failed on it (an audit row, or a log line)
	[ "$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'error'
	          AND detail->>'msisdn' = '$1' AND detail->>'sqlstate' = '$2'")" -ge 1 ] ||
		tail -n +"$LOCK_LOG0" "$PG/log" | grep -Eq -- "$3"
}
answer_error_audits() {
	q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'error'
	    AND detail->>'msisdn' = '$1'"
}
# mark_held: _mark_submitted_batch never waits for a held row
holder_sleeping() {
	[ "$(q "SELECT count(*) FROM pg_catalog.pg_stat_activity
	         WHERE application_name = 'mark_holder' AND wait_event = 'PgSleep'")" = 1 ]
}
mark_held() {
	local a b holder out
	a=$(q "SELECT id FROM mobisign.transaction ORDER BY created_at, id LIMIT 1")
	b=$(q "SELECT id FROM mobisign.transaction ORDER BY created_at, id OFFSET 1 LIMIT 1")
	ms_check_cmd "two transactions to record" test -n "$b"
	PGAPPNAME=mark_holder ms_psql -qAt -c "BEGIN; SELECT FROM mobisign.transaction WHERE id = '$a' FOR UPDATE;
		SELECT pg_catalog.pg_sleep(6); COMMIT" >/dev/null 2>&1 &
	holder=$!
	ms_wait_until 10 holder_sleeping
	out=$(ms_psql -qAt -c "SET lock_timeout = '4s'" \
		-c "SELECT mobisign._mark_submitted_batch(ARRAY['$b', '$a']::uuid[], ARRAY['held-b', 'held-a'], ARRAY[1, 1])" 2>&1)
	ms_check "a batch meeting a held row returns -1, waiting for nothing (old: went on and recorded both)" "-1" "$out"
	# the batch of one, what the worker falls back to, waits for its row
	out=$(ms_psql -qAt -c "SET lock_timeout = '500ms'" \
		-c "SELECT mobisign._mark_submitted('$a', ARRAY['held-a'])" 2>&1)
	ms_check_grep "the batch of one waits for the held row (here until lock_timeout)" \
		"lock timeout" <(echo "$out")
	wait "$holder" 2>/dev/null || true
}

# batch_fallback: the worker's batch meets a held row and counts it
in_flight() { [ "$(wstat window_in_use)" = "$1" ]; }
batch_fallback() {
	local a before retried errors holder segs log0
	log0=$(($(wc -l <"$PG/log") + 1))
	before=$(wstat batch_fallbacks)
	retried=$(wstat retried)
	errors=$(wstat errors)
	ms_check_cmd "worker_stats has batch_fallbacks" test -n "$before"
	ms_check_bound "bound"
	# the responses come in one write once the simulator goes on; it stays
	# stopped well within the link's response timeout (3 s)
	kill -STOP "$SIM_PID"
	start_auth 114 115 fallback
	segs=$(q "SELECT sum(pg_catalog.cardinality(q.segments)) FROM mobisign.request_queue q
	            JOIN mobisign.transaction t ON t.id = q.transaction_id WHERE t.application = 'fallback'")
	ms_wait_until 2 in_flight "$segs" || true
	ms_check "every segment of both requests waits for its response" "$segs" "$(wstat window_in_use)"
	a=$(head -n 1 "$WORK/fallback.ids")
	PGAPPNAME=mark_holder ms_psql -qAt -c "BEGIN; SELECT FROM mobisign.transaction WHERE id = '$a' FOR UPDATE;
		SELECT pg_catalog.pg_sleep(2); COMMIT" >/dev/null 2>&1 &
	holder=$!
	ms_wait_until 1 holder_sleeping || true
	kill -CONT "$SIM_PID"
	wait "$holder" 2>/dev/null || true
	final fallback 30
	ms_check "both completed with 502 (the held one by its answer, once the lock was gone)" 2 \
		"$(ms_status_count fallback 502)"
	ms_check "worker_stats.batch_fallbacks counted the batch once (old: no such column)" \
		"$((before + 1))" "$(wstat batch_fallbacks)"
	ms_check "each sent once (no response timeout while stopped)" "$retried" "$(wstat retried)"
	ms_check "the lone recording of the held one waited at most 1 s (a lock_timeout, logged)" \
		"$((errors + 1)) true" "$(q "SELECT errors || ' ' || (last_error LIKE '%lock timeout%') FROM mobisign.worker_stats")"
	ms_check_grep "its warning says what becomes of the request" \
		"HINT:  Another session held the request's rows for longer than 1s; the request keeps its lease" \
		<(tail -n +"$log0" "$PG/log")
	# its answer completed it meanwhile: the audit has no transaction.submitted
	# row for it, and the server log has the SMSC's message ids
	ms_check_grep "the held one's acceptance, not recorded, is in the server log" \
		"WARNING:  mobisign worker: the SMSC's acceptance of transaction $a was not recorded" \
		<(tail -n +"$log0" "$PG/log")
	ms_check_grep "... with the SMSC's message ids" \
		"DETAIL:  The SMSC accepted its [0-9]+ segment\\(s\\) as message id\\(s\\) \"sim[0-9a-f]+\"" \
		<(tail -n +"$log0" "$PG/log")
}

answer_locks() {
	local m id holder
	# 1. lock_timeout for the whole server; a session holds the transaction's
	# row while its answer arrives (the SIM answers after 3 s): a real lock
	# wait, which the handling gave up with 55P03 before the guard too
	m=$(msisdn_of user0111)
	q "ALTER SYSTEM SET lock_timeout = '300ms'" >/dev/null
	ms_reload
	ms_sim_behaviour "$SIMDIR" "user0111 sign 3000"
	LOCK_LOG0=$(($(wc -l <"$PG/log") + 1))
	start_auth 111 111 lock_timeout
	id=$(head -n 1 "$WORK/lock_timeout.ids")
	ms_wait_until 20 tx_submitted "$id"
	ms_psql -qAt -c "BEGIN; SET LOCAL lock_timeout = 0;
	    SELECT 1 FROM mobisign.transaction WHERE id = '$id' FOR UPDATE; SELECT pg_catalog.pg_sleep(8); COMMIT" \
		>/dev/null 2>&1 &
	holder=$!
	ms_wait_until 20 answer_stored "$m"
	ms_wait_until 20 lock_hit "$m" 55P03 "lock timeout"
	ms_check_cmd "lock_timeout: handling the answer waited for the held row and gave up" lock_hit "$m" 55P03 "lock timeout"
	wait "$holder"
	q "ALTER SYSTEM RESET lock_timeout" >/dev/null
	ms_reload
	ms_sim_file "$SIMDIR" behaviour
	ms_wait_until 40 user_final lock_timeout user0111
	ms_check "lock_timeout: once the row is free, the recheck completes it" "completed/502" "$(tx_state "$id")"
	ms_check "lock_timeout: the lock is not audited as the answer's error" 0 "$(answer_error_audits "$m")"
	# 2. a deadlock (40P01) met where the handling locks the transaction (its
	# UPDATE in _finish), as poison_rows 3 raises 55000: taken for the
	# answer's error before, the SIM's answer was lost (submitted until expiry)
	m=$(msisdn_of user0112)
	LOCK_LOG0=$(($(wc -l <"$PG/log") + 1))
	poison_trigger mobisign.transaction "NEW.state = 'completed' AND NEW.msisdn = '$m'" 40P01
	start_auth 112 112 deadlock
	ms_wait_until 30 lock_hit "$m" 40P01 "poison row \(40P01\)"
	ms_check_cmd "deadlock: handling the answer failed on it" lock_hit "$m" 40P01 "poison row \(40P01\)"
	poison_drop mobisign.transaction
	ms_wait_until 40 user_final deadlock user0112
	ms_check "deadlock: once it is gone, the recheck completes it" "completed/502" "$(tag_state deadlock user0112)"
	ms_check "deadlock: not audited as the answer's error" 0 "$(answer_error_audits "$m")"
	q "DROP FUNCTION public.mobisign_poison()" >/dev/null
}

# wake_in_wait: the worker's recheck of pending answers (every 10 s, after
# the turn's claim) waits for a lock on mobisign.answer_queue that a session
# holds; a request committed then sets the wake-up flag and the latch, and
# the lock wait resets the latch.  The request must go out when the lock is
# free, not at the worker's next timer: its timers are pushed out of the way
# (the recheck, 10 s after the wait, is the nearest), so a request answered
# within 5 s was woken.  The lock is held past deadlock_timeout (1 s): the
# deadlock check's SIGALRM then comes inside the wait (a shorter wait leaves
# that alarm to set the latch after it, by chance, as a wait for a
# synchronous standby never does).
worker_waits_on_relation() { [ "$(q "SELECT wait_event FROM pg_stat_activity WHERE pid = $1")" = relation ]; }
wake_in_wait() {
	local wpid holder tid el start
	el=$(q "SELECT enquire_link_interval FROM mobisign.smsc WHERE name = 'sim'")
	q "ALTER SYSTEM SET mobisign.worker_naptime = '60s'" >/dev/null
	q "ALTER SYSTEM SET mobisign.worker_housekeeping_interval = '60s'" >/dev/null
	q "UPDATE mobisign.smsc SET enquire_link_interval = '10 min' WHERE name = 'sim'" >/dev/null
	ms_reload
	sleep 1
	ms_check_bound "wake_in_wait: bound again with enquire_link every 10 min"
	wpid=$(ms_worker_pid)
	ms_bg "$PGBIN/psql" -X -q -h "$PG" -p "$PGPORT_T" -U postgres -d "$DB" -c "BEGIN" \
		-c "LOCK TABLE mobisign.answer_queue IN EXCLUSIVE MODE" \
		-c "DO \$\$ BEGIN
		      FOR i IN 1 .. 300 LOOP
		        EXIT WHEN EXISTS (SELECT FROM mobisign.transaction WHERE application = 'wake_in_wait');
		        PERFORM pg_sleep(0.1);
		      END LOOP;
		      PERFORM pg_sleep(2);
		    END \$\$" \
		-c "COMMIT" >/dev/null 2>&1
	holder=$MS_BG_PID
	ms_wait_until 15 worker_waits_on_relation "$wpid"
	ms_check_cmd "the worker waits for the lock on answer_queue" worker_waits_on_relation "$wpid"
	echo "# wake_in_wait: the worker: $(q "SELECT query FROM pg_stat_activity WHERE pid = $wpid")"
	tid=$(q "SELECT transaction_id FROM mobisign_authenticate('user0113', 'wake_in_wait', '1 min')")
	echo "$tid" >"$WORK/wake_in_wait.ids"
	ms_wait_until 20 ms_gone "$holder"
	ms_bg_stop "$holder"
	start=$(date +%s%N)
	ms_check "a request committed during the wait is sent when the lock is free (answered within 5 s)" "completed 502" \
		"$(q "SELECT state || ' ' || status_code FROM mobisign_wait('$tid', '5 s')")"
	echo "# wake_in_wait: answered $((($(date +%s%N) - start) / 1000000)) ms after the lock was free;" \
		"the worker waited: $(q "SELECT string_agg(wait_event_type || '/' || wait_event, ',') FROM pg_stat_activity WHERE pid = $wpid")"
	final wake_in_wait 30
	q "ALTER SYSTEM RESET mobisign.worker_naptime" >/dev/null
	q "ALTER SYSTEM RESET mobisign.worker_housekeeping_interval" >/dev/null
	q "UPDATE mobisign.smsc SET enquire_link_interval = '$el' WHERE name = 'sim'" >/dev/null
	ms_reload
	sleep 1
	ms_check_bound "wake_in_wait: bound again"
}

exactly_once() {
	local tag
	sleep 1.5
	ms_listen_stop
	for tag in throttle drop noresp resent poison_rec poison_store poison_verify lock_timeout deadlock wake_in_wait; do
		[ -f "$WORK/$tag.ids" ] || continue
		ms_check_cmd "$tag: exactly one NOTIFY per transaction" notify_once "$tag"
		ms_check_cmd "$tag: exactly one final audit row per transaction" ms_final_audit_once "$tag"
	done
}

submitted_at_least() { [ "$(q "SELECT count(*) FROM mobisign.transaction WHERE application = 'crash' AND state = 'submitted'")" -ge "$1" ]; }
# the SIMs answer after 1.5 s so that many are submitted and unanswered
crash() {
	local inb open wpid ok
	ms_sim_behaviour "$SIMDIR" "* sign 1500"
	start_auth 1 $USERS crash
	ms_wait_until 10 submitted_at_least 50
	inb=$(q "SELECT count(*) FROM mobisign.inbound_segment WHERE NOT processed")
	open=$(ms_open_count crash)
	wpid=$(ms_worker_pid)
	echo "# kill -9 of worker $wpid with $open of $USERS transactions open ($inb answer segments unprocessed)"
	ms_check_ge "transactions were open at the kill" 1 "$open"
	kill -9 "$wpid"
	sleep 1
	ms_wait_until 20 server_ready
	ms_wait_until 20 worker_up
	ms_check_cmd "the worker was restarted" worker_up
	final crash 150
	ok=$(ms_status_count crash 502)
	echo "# crash: final states: $(q "SELECT string_agg(status_code || ' x' || n, ', ') FROM
	      (SELECT status_code, count(*) n FROM mobisign.transaction WHERE application = 'crash'
	        GROUP BY 1 ORDER BY 1) s")"
	ms_check "$USERS transactions recorded" $USERS "$(ms_tag_count crash)"
	ms_check_ge "at least 95% completed with 502" $((USERS * 95 / 100)) "$ok"
	ms_check_cmd "exactly one final audit row per transaction" ms_final_audit_once crash
	ms_check "no SIM counter used twice" 0 \
		"$(q "SELECT count(*) FROM (SELECT msisdn, sim_key_set, counter FROM mobisign.transaction
		       WHERE counter IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1) d")"
	ms_check "every SIM key's stored counter is at least its highest used counter" 0 \
		"$(q "SELECT count(*) FROM mobisign.sim_key k WHERE k.counter <
		       (SELECT max(t.counter) FROM mobisign.transaction t WHERE t.msisdn = k.msisdn)")"
	ms_check "the queue is drained" 0 "$(q "SELECT count(*) FROM mobisign.request_queue WHERE NOT done")"
	ms_sim_file "$SIMDIR" behaviour
}

# Stored before acknowledged (docs/worker.md, Inbound): a session holds SHARE
# on mobisign.inbound_segment, which the worker's storing INSERT waits for,
# while the SIMs answer. The simulator counts what it sent and what was
# acknowledged (DIR/stats, written every second): deliver_sm go out while the
# store waits and not one is acknowledged (a worker that acknowledged before
# its commit, at the start of its turn or between the steps of one, would be
# seen here). kill -9 of the waiting worker restarts the server with the
# segments never committed; the simulator sends them again on the new session
# and every transaction ends exactly once.
sim_stat() { awk -v k="$1" '$1 == k { print $2 }' "$SIMDIR/stats" 2>/dev/null; }
store_waiting() {
	q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mobisign worker' AND wait_event_type = 'Lock'"
}
store_held() { [ -n "$(store_waiting)" ]; }
share_granted() {
	[ "$(q "SELECT count(*) FROM pg_locks WHERE relation = 'mobisign.inbound_segment'::regclass
	         AND mode = 'ShareLock' AND granted")" -ge 1 ]
}
sim_sent_more() { [ "$(sim_stat deliver_sm)" -ge "$1" ]; }
# the segments stored since TAG's transactions were created (each
# acknowledged at least once)
stored_of() {
	q "SELECT count(*) FROM mobisign.inbound_segment
	    WHERE received_at >= (SELECT min(created_at) FROM mobisign.transaction WHERE application = '$1')"
}
ack_after_commit() {
	local holder wpid sent0 acked0 sent acked
	ms_sim_behaviour "$SIMDIR" "* sign 300"
	ms_bg ms_psql -q -d "$DB" -c "BEGIN" -c "LOCK TABLE mobisign.inbound_segment IN SHARE MODE" \
		-c "SELECT pg_sleep(60)" -c "COMMIT" >/dev/null 2>&1
	holder=$MS_BG_PID
	ms_wait_until 10 share_granted
	ms_check_cmd "a session holds SHARE on mobisign.inbound_segment" share_granted
	# the stats file is written once a second: what was acknowledged before
	sleep 1.5
	sent0=$(sim_stat deliver_sm)
	acked0=$(sim_stat deliver_acked)
	start_auth 1 20 ackcommit
	ms_wait_until 20 store_held
	wpid=$(store_waiting)
	ms_check_cmd "the worker's store waits for the lock" test -n "$wpid"
	# the simulator's window of unacknowledged deliver_sm (10) fills
	ms_wait_until 10 sim_sent_more $((sent0 + 10))
	sleep 2
	sent=$(sim_stat deliver_sm)
	acked=$(sim_stat deliver_acked)
	echo "# store held: the simulator sent $((sent - sent0)) deliver_sm, $((acked - acked0)) acknowledged"
	ms_check_ge "the simulator sent answers while the store waited" $((sent0 + 10)) "$sent"
	ms_check "none acknowledged before its segment's commit" "$acked0" "$acked"
	ms_check "nothing of them stored" 0 "$(stored_of ackcommit)"
	kill -9 "$wpid"
	sleep 1
	ms_wait_until 20 server_ready
	ms_wait_until 20 worker_up
	ms_bg_stop "$holder"
	final ackcommit 120
	ms_check "20 transactions recorded" 20 "$(ms_tag_count ackcommit)"
	ms_check "all completed with 502" 20 "$(ms_status_count ackcommit 502)"
	ms_check_cmd "exactly one final audit row per transaction" ms_final_audit_once ackcommit
	sleep 1.5
	ms_check_ge "after the restart each stored segment was acknowledged" \
		$((acked0 + $(stored_of ackcommit))) "$(sim_stat deliver_acked)"
	ms_sim_file "$SIMDIR" behaviour
}

# A verifier is stopped in the middle of a batch: a session locks
# user0001's SIM key row while its answer is on the way (the SIMs answer
# after 1.5 s), so the verifier that claims it waits there, having handled
# (not committed) the answers before it in its batch. kill -9 of that
# verifier restarts the server (as for any backend); its claim rolled back,
# so the answers it held are claimed again after the restart.
verifiers() { q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign verifier'"; }
waiting_verifier() {
	q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mobisign verifier' AND wait_event_type = 'Lock'"
}
verifier_held() { [ -n "$(waiting_verifier)" ]; }
verifiers_up() { [ "$(verifiers)" -ge 2 ]; }
verifier_crash() {
	local vpid holder queued
	ms_wait_until 20 verifiers_up
	ms_check_cmd "several verifiers run" verifiers_up
	ms_sim_behaviour "$SIMDIR" "* sign 1500"
	start_auth 1 100 vcrash
	ms_bg ms_psql -q -d "$DB" -c "BEGIN" \
		-c "SELECT 1 FROM mobisign.sim_key WHERE msisdn = (SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0001') FOR UPDATE" \
		-c "SELECT pg_sleep(30)" -c "COMMIT" >/dev/null 2>&1
	holder=$MS_BG_PID
	ms_wait_until 20 verifier_held
	vpid=$(waiting_verifier)
	ms_check_cmd "a verifier waits mid-batch for user0001's SIM key" test -n "$vpid"
	queued=$(q "SELECT count(*) FROM mobisign.answer_queue")
	echo "# kill -9 of verifier $vpid ($(ms_open_count vcrash) transactions open, $queued answers queued, $(verifiers) verifiers)"
	kill -9 "$vpid"
	sleep 1
	ms_wait_until 20 server_ready
	ms_wait_until 20 worker_up
	ms_bg_stop "$holder"
	ms_wait_until 20 verifiers_up
	ms_check_cmd "after the restart a new pool of verifiers runs" verifiers_up
	ms_check_cmd "... not the killed one" ms_gone "$vpid"
	final vcrash 120
	ms_check "100 transactions recorded" 100 "$(ms_tag_count vcrash)"
	ms_check_ge "at least 95% completed with 502" 95 "$(ms_status_count vcrash 502)"
	ms_check_cmd "exactly one final audit row per transaction" ms_final_audit_once vcrash
	ms_check "no answer accepted twice" 0 \
		"$(q "SELECT count(*) FROM (SELECT a.transaction_id FROM mobisign.audit a JOIN mobisign.transaction t ON t.id = a.transaction_id
		       WHERE t.application = 'vcrash' AND a.operation = 'sim.answer' AND a.outcome = 'accepted'
		       GROUP BY 1 HAVING count(*) > 1) d")"
	ms_check "nothing of these SIMs left queued or pending" "0 0" \
		"$(q "SELECT (SELECT count(*) FROM mobisign.answer_queue a WHERE a.msisdn IN (SELECT msisdn FROM mobisign.transaction WHERE application = 'vcrash'))
		          || ' ' || (SELECT count(*) FROM mobisign.inbound_segment s WHERE NOT s.processed
		                      AND s.msisdn IN (SELECT msisdn FROM mobisign.transaction WHERE application = 'vcrash'))")"
	ms_sim_file "$SIMDIR" behaviour
}

drop_database() {
	local start wpid holder
	q "CREATE DATABASE msscratch" >/dev/null
	start=$(date +%s)
	ms_check_cmd "DROP DATABASE of another database is not blocked by the worker" \
		try_sql 20 postgres postgres "DROP DATABASE msscratch"
	echo "# DROP DATABASE took $(($(date +%s) - start)) s"
	# DROP DATABASE of the worker's own database: only its owner stops the worker
	q "CREATE ROLE msnotowner LOGIN" >/dev/null
	wpid=$(ms_worker_pid)
	ms_check_cmd "DROP DATABASE by a non-owner is refused" \
		ms_fails try_sql 20 msnotowner postgres "DROP DATABASE $DB"
	ms_check "... and the worker kept running" "$wpid" "$(ms_worker_pid)"
	# a drop that fails for another reason (a session still connected) restarts the worker
	ms_bg "$PGBIN/psql" -X -q -h "$PG" -p "$PGPORT_T" -U postgres -d "$DB" -c "SELECT pg_sleep(15)" >/dev/null 2>&1
	holder=$MS_BG_PID
	sleep 1
	ms_check_cmd "DROP DATABASE with another session connected fails" \
		ms_fails try_sql 30 postgres postgres "DROP DATABASE $DB"
	ms_bg_stop "$holder"
	ms_wait_until 15 worker_replaced "$wpid"
	ms_check_cmd "... and the worker it stopped is started again (not $wpid)" worker_replaced "$wpid"
}

# The same failed drop while the stopped worker is still busy: its successor
# starts before it exits. The old worker must not clear the shared entry the
# new one owns (worker_stats.pid, the latch writers set). A session holding
# the audit sealer's advisory lock keeps the old worker waiting in its
# housekeeping (it sees the SIGTERM only afterwards) and stays connected, so
# the drop fails; it lets go once the second worker runs. (The sealer's lock
# is a row of mobisign.process_lock: the worker waits on the holder's
# transaction.) With a 60 s poll,
# a lost wake-up would leave a request unsent for a minute. Without answer
# verifiers (mobisign.answer_workers = 0) the worker keeps house itself (with
# them, the verifier of slot 0 does).
worker_waits_on_lock() { [ "$(q "SELECT wait_event FROM pg_stat_activity WHERE pid = $1")" = transactionid ]; }
no_verifiers() { [ "$(verifiers)" = 0 ]; }
busy_worker() {
	local wpid holder back start tid
	wpid=$(ms_worker_pid)
	q "ALTER SYSTEM SET mobisign.worker_naptime = '60s'" >/dev/null
	q "ALTER SYSTEM SET mobisign.answer_workers = 0" >/dev/null
	ms_reload
	ms_wait_until 15 no_verifiers
	ms_bg "$PGBIN/psql" -X -q -h "$PG" -p "$PGPORT_T" -U postgres -d "$DB" \
		-c "BEGIN; SELECT FROM mobisign.process_lock WHERE name = 'audit_seal' AND slot = 0 FOR NO KEY UPDATE;
		    DO \$\$ BEGIN
		      FOR i IN 1 .. 400 LOOP
		        PERFORM pg_stat_clear_snapshot();
		        EXIT WHEN (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mobisign worker') >= 2;
		        PERFORM pg_sleep(0.1);
		      END LOOP;
		    END \$\$; SELECT pg_sleep(1); COMMIT" >/dev/null 2>&1
	holder=$MS_BG_PID
	ms_wait_until 10 worker_waits_on_lock "$wpid"
	ms_check "the worker waits on the sealer's lock" transactionid \
		"$(q "SELECT wait_event FROM pg_stat_activity WHERE pid = $wpid")"
	ms_check_cmd "DROP DATABASE with another session connected fails" \
		ms_fails try_sql 30 postgres postgres "DROP DATABASE $DB"
	ms_wait_until 40 ms_gone "$holder"
	ms_bg_stop "$holder"
	ms_check "the stopped worker exited after its successor started" yes "$(gone_yes "$wpid" 15)"
	back=$(ms_worker_pid)
	ms_check_cmd "a new worker runs (not $wpid)" worker_replaced "$wpid"
	ms_check "worker_stats.pid is the new worker's" "$back" "$(wstat pid)"
	ms_check_cmd "worker_stats.state is not 'stopped'" test "$(wstat state)" != stopped
	ms_wait_until 15 ms_links_bound
	start=$(date +%s)
	tid=$(q "SELECT transaction_id FROM mobisign_authenticate('user0001', 'after-drop', '30 s')")
	ms_check "a request is woken and answered within 10 s (poll is 60 s)" "completed 502" \
		"$(q "SELECT state || ' ' || status_code FROM mobisign_wait('$tid', '10 s')")"
	echo "# busy worker: the request took $(($(date +%s) - start)) s"
	q "ALTER SYSTEM RESET mobisign.worker_naptime" >/dev/null
	q "ALTER SYSTEM RESET mobisign.answer_workers" >/dev/null
	ms_reload
}

sigterm() {
	local wpid loglines
	wpid=$(ms_worker_pid)
	loglines=$(wc -l <"$PG/log")
	kill -TERM "$wpid"
	ms_check "the worker exited" yes "$(gone_yes "$wpid" 10)"
	tail -n +"$((loglines + 1))" "$PG/log" >"$WORK/sigterm.log"
	ms_check_grep "the worker stopped cleanly" "mobisign worker stopped" "$WORK/sigterm.log"
	ms_check_grep "the worker unbound from the SMSC" "SMSC \"sim\": unbound" "$WORK/sigterm.log"
	ms_check "exit code 0, no crash restart" "" \
		"$(grep -E 'terminated by signal|exited with exit code [1-9]' "$WORK/sigterm.log")"
	ms_wait_until 15 worker_replaced "$wpid"
	ms_check_cmd "the launcher starts a new worker (not $wpid)" worker_replaced "$wpid"
}

# a restart brings the worker back; then a plain DROP DATABASE of its
# database stops it cleanly and goes through
drop_own_database() {
	local loglines
	ms_as_pg "$PGBIN/pg_ctl" -D "$PG/data" -w -m fast restart -l "$PG/log" >/dev/null
	ms_wait_until 15 worker_up
	ms_check_cmd "after a restart the worker runs again" worker_up
	loglines=$(wc -l <"$PG/log")
	ms_check_cmd "DROP DATABASE of the worker's database goes through while the worker runs" \
		try_sql 30 postgres postgres "DROP DATABASE $DB"
	tail -n +"$((loglines + 1))" "$PG/log" >"$WORK/dropdb.log"
	ms_check_grep "... the worker was stopped for it: 'is being dropped'" "is being dropped" "$WORK/dropdb.log"
	ms_check_grep "... cleanly: 'mobisign worker stopped'" "mobisign worker stopped" "$WORK/dropdb.log"
}

log_hygiene() {
	local pw
	ms_check "no process crashed (but for the deliberate kill -9)" "" \
		"$(grep 'terminated by signal' "$PG/log" | grep -v 'signal 9')"
	pw=$(ms_sim_conf "$SIMDIR" password)
	ms_check_cmd "the SMSC password is known" test -n "$pw"
	ms_check "the SMSC password never appears in the server log" 0 "$(grep -cF -- "$pw" "$PG/log")"
}

without_preload() {
	local np="ms_psql -qtA -d msnopreload"
	ms_cluster_stop "$PG"
	echo "shared_preload_libraries = ''" | ms_as_pg tee -a "$PG/data/postgresql.conf" >/dev/null
	ms_as_pg "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w -t 60 start >/dev/null
	ms_psql -q -d postgres -c "CREATE DATABASE msnopreload"
	$np -c "CREATE EXTENSION mobisign"
	if $np -c "SELECT * FROM mobisign.worker_stats" >"$WORK/nopreload.out" 2>&1; then
		ms_not_ok "worker_stats should raise an error"
	else
		ms_check_grep "the error hints at shared_preload_libraries" \
			"shared_preload_libraries = 'mobisign'" "$WORK/nopreload.out"
	fi
	ms_check "no worker runs" "" \
		"$($np -c "SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = 'mobisign worker'")"
	# an application asking for an authentication is told why nothing would be sent
	if $np -v VERBOSITY=verbose -c "SELECT * FROM mobisign_authenticate('user0001')" \
		>"$WORK/nopreload-auth.out" 2>&1; then
		ms_not_ok "mobisign_authenticate should raise an error"
	else
		ms_check_grep "mobisign_authenticate fails with 55000 and the hint" \
			"55000.*background worker is not available" "$WORK/nopreload-auth.out"
	fi
	ms_check "no transaction row is left behind" 0 "$($np -c "SELECT count(*) FROM mobisign.transaction")"
}

# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------
ms_scenario hostile_smsc hostile_smsc
setup_simulator
for s in baseline rate_cap throttle connection_drop no_response resent_request retries_apart expired_head poison_rows answer_locks mark_held batch_fallback wake_in_wait exactly_once crash \
	ack_after_commit verifier_crash drop_database busy_worker sigterm drop_own_database log_hygiene without_preload; do
	ms_scenario "$s" "$s"
done
ms_summary
