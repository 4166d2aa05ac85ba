#!/usr/bin/env bash
# Several SMSC binds per link (docs/worker.md, "Several binds per link"):
# one row of mobisign.smsc with binds = 3 opens three transceiver sessions
# on the simulator's one account, spreads the submit_sm over them, receives
# the answers on each, and keeps going when one of them is lost; every
# transaction still ends exactly once with 502.
#
# Scenarios (each a function below, run by ms_scenario, in this order; the
# later ones use the state the earlier ones leave):
#   all_bound          3 sessions bound with one system_id: worker_binds,
#                      worker_links, worker_stats and the simulator's log
#   spread             60 authentications: every bind carries submit_sm and
#                      answers (each acknowledged on its own session), all 502
#   drop_one           the simulator closes one session while submit_sm are
#                      in flight on all three: only that bind reconnects, the
#                      other two stay bound throughout, its requests are sent
#                      again, every transaction ends once at 502
#   drop_one_in_flight the session that carried a submit_sm is closed before
#                      its submit_sm_resp (drop_one_on_submit): the request is
#                      sent again, the SIM refuses the copy, the first answer
#                      ends the transaction, once
#   rate_per_bind      the simulator caps each session at 20 submit_sm/s
#                      (session_rate), the link's max_per_second is 15 per
#                      bind: answers/s with 1 bind and with 3 binds (figures
#                      only; no timing assertion), all 502
#   stopped            the worker stopped for good (its database deselected):
#                      worker_binds shows no row
#
#   bash test/e2e/22_smpp_binds.sh                 (after make install)
#   MS_SCENARIO="all_bound spread" bash test/e2e/22_smpp_binds.sh
#
# Ports: free ones. KEEP=1 keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

DB=msbinds
USERS=400

ms_e2e_init
ms_e2e_ports PGPORT_T SMPP_PORT
SIMDIR=$WORK/sim
PG=$WORK/pg
echo "# cluster on port $PGPORT_T, simulator on $SMPP_PORT, work dir $WORK"

e2e_on_failure() {
	echo "# worker_binds:"
	q "SELECT * FROM mobisign.worker_binds" | sed 's/^/#   /'
	echo "# simulator log tail:"
	tail -n 20 "$WORK/sim.log" 2>/dev/null | sed 's/^/#   /'
}

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
faults() { ms_sim_file "$SIMDIR" faults "$@"; }
# bind N COLUMN: one column of worker_binds for bind N of the link 'sim'
bindcol() { q "SELECT $2 FROM mobisign.worker_binds WHERE link = 'sim' AND bind = $1"; }
binds_bound() { q "SELECT binds_bound || '/' || binds FROM mobisign.worker_links WHERE link = 'sim'"; }
all_binds_bound() { [ "$(binds_bound)" = "$1/$1" ]; }
# start_auth FIRST LAST TAG
start_auth() {
	ms_authenticate_range "$1" "$2" "$3" '3 min' >"$WORK/$3.ids"
}
# ends TAG N SECONDS: every one of the N transactions of TAG ended with 502, once
ends_502_once() {
	local tag=$1 n=$2
	ms_wait_tag_final "$tag" "$3"
	ms_check "$tag: every authentication final (none open)" 0 "$(ms_open_count "$tag")"
	ms_check "$tag: $n x 502" "$n" "$(ms_status_count "$tag" 502)"
	ms_check_cmd "$tag: one final audit row per transaction" ms_final_audit_once "$tag"
}
# set_binds N: the link opens N sessions (the worker re-reads the row)
set_binds() {
	q "UPDATE mobisign.smsc SET binds = $1 WHERE name = 'sim'" >/dev/null
	ms_reload
	ms_wait_until 30 all_binds_bound "$1"
	ms_check "the link has $1 of $1 binds bound" "$1/$1" "$(binds_bound)"
}
# answers/s of TAG: transactions / (last completed - first created)
answers_per_s() {
	q "SELECT round(count(*) / pg_catalog.date_part('epoch', max(completed_at) - min(created_at))::numeric, 1)
	     FROM mobisign.transaction WHERE application = '$1'"
}

# ---------------------------------------------------------------------------
# set-up
# ---------------------------------------------------------------------------
mkdir -p "$SIMDIR"
ms_e2e_cluster "$PG" "$PGPORT_T" "$DB" \
	"mobisign.worker_naptime = '5s'" \
	"mobisign.worker_lease = '10s'"
ms_sim_provision "$SIMDIR" "$SMPP_PORT" "$USERS"
ms_sim_register "$SIMDIR"
# three binds of 10 each; fast reconnects, so that the scenarios run in seconds
q "UPDATE mobisign.smsc SET binds = 3, window_size = 10, reconnect_delay = '300 ms',
                            response_timeout = '3 s' WHERE name = 'sim'" >/dev/null
faults
ms_sim_start "$SIMDIR" "$SMPP_PORT" "$WORK/sim.log"
ms_reload

# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
all_bound() {
	ms_wait_until 30 all_binds_bound 3
	ms_check "worker_links: 3 of 3 binds bound" "3/3" "$(binds_bound)"
	ms_check "worker_stats: one link, 3 binds configured and bound" "1/1 3 3" \
		"$(q "SELECT links_bound || '/' || links_configured, binds_configured, binds_bound FROM mobisign.worker_stats" | tr '|' ' ')"
	ms_check "worker_stats: the window is 3 x 10" 30 "$(q "SELECT window_size FROM mobisign.worker_stats")"
	ms_check "worker_binds: binds 1, 2, 3 of 3, each bound with a window of 10" \
		"1 3 bound 10,2 3 bound 10,3 3 bound 10" \
		"$(q "SELECT string_agg(bind || ' ' || binds || ' ' || state || ' ' || window_size, ',' ORDER BY bind)
		        FROM mobisign.worker_binds WHERE link = 'sim'")"
	ms_check "the simulator bound 3 transceiver sessions with system_id mobisign" 3 \
		"$(grep -c 'bound as transceiver (system_id "mobisign"' "$WORK/sim.log")"
	ms_check_grep "the simulator had 3 sessions bound at once" "3 session\(s\) bound" "$WORK/sim.log"
	ms_check_grep "the worker logs each bind" 'bound to SMSC "sim" bind 3 at 127.0.0.1' "$PG/log"
}

# simstat KEY: a counter of the simulator's DIR/stats (rewritten within 1 s)
simstat() { awk -v k="$1" '$1 == k {print $2}' "$SIMDIR/stats" 2>/dev/null; }
all_delivered_acked() { [ -n "$(simstat deliver_sm)" ] && [ "$(simstat deliver_sm)" = "$(simstat deliver_acked)" ]; }

# reconnects of every bind of the link, "r1 r2 r3" (connection attempts after
# the first: a connect refused before the simulator listened counts too)
reconnects() { q "SELECT string_agg(reconnects::text, ' ' ORDER BY bind) FROM mobisign.worker_binds WHERE link = 'sim'"; }

spread() {
	local min total sessions r0
	r0=$(reconnects)
	start_auth 1 60 spread
	ends_502_once spread 60 120
	total=$(q "SELECT sum(acknowledged) FROM mobisign.worker_binds WHERE link = 'sim'")
	min=$(q "SELECT min(acknowledged) FROM mobisign.worker_binds WHERE link = 'sim'")
	echo "# spread: $total submit_sm acknowledged, per bind: $(q "SELECT string_agg(acknowledged::text, ' / ' ORDER BY bind) FROM mobisign.worker_binds WHERE link = 'sim'")"
	ms_check_ge "at least 60 submit_sm acknowledged" 60 "$total"
	ms_check_ge "every bind carried at least a sixth of them" $((total / 6)) "$min"
	ms_check_ge "every bind received answers (deliver_sm)" 1 \
		"$(q "SELECT min(received) FROM mobisign.worker_binds WHERE link = 'sim'")"
	ms_check "the per-link sums are the per-bind ones" "$total" \
		"$(q "SELECT acknowledged FROM mobisign.worker_links WHERE link = 'sim'")"
	sessions=$(grep -oE 'session [0-9]+ < submit_sm' "$WORK/sim.log" | sort -u | wc -l)
	ms_check "the simulator got submit_sm on 3 sessions" 3 "$sessions"
	ms_check "no bind reconnected meanwhile" "$r0" "$(reconnects)"
	# the simulator matches a deliver_sm_resp to its session and sequence:
	# an answer acknowledged on another bind would stay unacknowledged there
	ms_wait_until 5 all_delivered_acked
	ms_check "every deliver_sm was acknowledged on the session it came on" \
		"$(simstat deliver_sm) 0" "$(simstat deliver_acked) $(simstat deliver_retried)"
}

drop_one() {
	local since2 since3 inflight dropped retried0 r1 r2 r3
	retried0=$(q "SELECT retried FROM mobisign.worker_stats")
	read -r r1 r2 r3 <<<"$(reconnects)"
	since2=$(bindcol 2 bound_since)
	since3=$(bindcol 3 bound_since)
	# responses 1.5 s late: submit_sm stay in flight on every bind
	faults "delay_ms 1500"
	sleep 0.3
	start_auth 61 120 drop
	sleep 0.7
	inflight=$(q "SELECT string_agg(window_in_use::text, ' / ' ORDER BY bind) FROM mobisign.worker_binds WHERE link = 'sim'")
	echo "# drop_one: submit_sm in flight per bind when one session is closed: $inflight"
	ms_check_ge "submit_sm were in flight on the first bind" 1 "$(bindcol 1 window_in_use)"
	faults "delay_ms 1500" drop_one
	sleep 0.5
	faults
	dropped=$(grep -oE 'fault: dropping session [0-9]+ only' "$WORK/sim.log" | tail -n 1)
	ms_check_match "the simulator closed one session" "dropping session [0-9]+ only" "$dropped"
	ends_502_once drop 60 120
	ms_check_grep "the worker saw bind 1 lost" 'SMSC "sim" bind 1: connection closed by the SMSC; reconnecting' "$PG/log"
	ms_check_ge "bind 1 reconnected" $((r1 + 1)) "$(bindcol 1 reconnects)"
	ms_check "binds 2 and 3 did not reconnect" "$r2 $r3" "$(bindcol 2 reconnects) $(bindcol 3 reconnects)"
	ms_check "bind 2 stayed bound throughout (same bound_since)" "$since2" "$(bindcol 2 bound_since)"
	ms_check "bind 3 stayed bound throughout (same bound_since)" "$since3" "$(bindcol 3 bound_since)"
	# as for any lost connection, what was in flight on it is handed back and
	# rescheduled (the SIM's answer, already on its way, usually ends the
	# transaction before the retry is due, and the row is closed unsent)
	ms_check_ge "the requests in flight on the lost session were rescheduled (worker_stats.retried from $retried0)" $((retried0 + 1)) \
		"$(q "SELECT retried FROM mobisign.worker_stats")"
	ms_wait_until 10 all_binds_bound 3
	ms_check "3 of 3 binds bound again" "3/3" "$(binds_bound)"
	ms_check_ge "worker_binds counted the lost session as an error" 1 "$(bindcol 1 errors)"
}

dups() { q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'duplicate delivery'"; }
drop_one_in_flight() {
	local r0
	r0=$(q "SELECT sum(reconnects) FROM mobisign.worker_binds WHERE link = 'sim'")
	faults "drop_one_on_submit 5"
	sleep 0.3
	start_auth 121 150 inflight
	ends_502_once inflight 30 120
	ms_check_grep "the simulator closed only the session of the 5th submit_sm" \
		"drop_one_on_submit: .*closing session [0-9]+ only" "$WORK/sim.log"
	# the lost bind reconnects after its back-off: 600 ms here, since drop_one
	# ended the same bind's session less than 30 s ago (docs/worker.md,
	# "Reconnect back-off"), often after the 30 answers came on the other two
	ms_wait_until 10 all_binds_bound 3
	ms_check "3 of 3 binds bound again" "3/3" "$(binds_bound)"
	ms_check "exactly one bind reconnected" $((r0 + 1)) \
		"$(q "SELECT sum(reconnects) FROM mobisign.worker_binds WHERE link = 'sim'")"
	# a copy sent again after the drop is refused by the SIM ("counter low")
	# and recorded as a duplicate delivery; none when the first answer, on
	# another bind, ended the transaction before the retry was due
	echo "# drop_one_in_flight: $(dups) duplicate delivery answer(s) recorded"
	faults
}

rate_per_bind() {
	local one three
	# the operator's cap: 20 submit_sm/s on each session; the link is set
	# below it, 15/s per bind (its burst, min(rate, window), comes on top in
	# the first second)
	q "UPDATE mobisign.smsc SET max_per_second = 15 WHERE name = 'sim'" >/dev/null
	faults "session_rate 20"
	set_binds 1
	start_auth 151 270 rate1
	ends_502_once rate1 120 120
	one=$(answers_per_s rate1)
	set_binds 3
	start_auth 271 390 rate3
	ends_502_once rate3 120 120
	three=$(answers_per_s rate3)
	echo "# figure: 120 authentications, simulator capped at 20 submit_sm/s per session:"
	echo "#   1 bind : $one answers/s"
	echo "#   3 binds: $three answers/s"
	echo "#   throttled per bind (3 binds): $(q "SELECT string_agg(throttled::text, ' / ' ORDER BY bind) FROM mobisign.worker_binds WHERE link = 'sim'")"
	faults
}

stopped() {
	local pid
	pid=$(ms_worker_pid)
	# the launcher restarts a worker that exits (docs/worker.md): to stop it
	# for good, take this database out of mobisign.database; the launcher
	# sends the worker SIGTERM and starts no successor
	q "ALTER SYSTEM SET mobisign.database = 'no_such_database'" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
	ms_wait_until 10 ms_gone "$pid"
	ms_check "stopped for good: worker_binds shows no row" 0 "$(q "SELECT count(*) FROM mobisign.worker_binds")"
	ms_check "and worker_stats no bind" "0 0" "$(q "SELECT binds_configured, binds_bound FROM mobisign.worker_stats" | tr '|' ' ')"
	ms_check_grep "the simulator saw the sessions unbind" "session [0-9]+ < unbind" "$WORK/sim.log"
	q "ALTER SYSTEM RESET mobisign.database" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
}

# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------
for s in all_bound spread drop_one drop_one_in_flight rate_per_bind stopped; do
	ms_scenario "$s" "$s"
done
ms_summary
