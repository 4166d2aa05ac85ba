#!/usr/bin/env bash
# Interop: the worker completes authentications through an SMSC it did not
# write. node-smpp (npm "smpp" 0.5.1, installed here by npm from
# test/e2e/node/package-lock.json) plays the SMSC the worker binds to; it
# relays every submit_sm to the simulator's SIMs (binding to mobisign-sim as
# an ESME) and relays their deliver_sm answers back, acknowledging upstream
# only with the worker's own deliver_sm_resp status.
#
# Scenarios (each a function below, run by ms_scenario):
#   bind         the worker binds to node-smpp, node-smpp to the simulator
#   relayed      every authentication ends VALID_SIGNATURE (502) with
#                node-smpp's message ids recorded; node-smpp relayed the
#                submits and the answers, nothing refused, enquire_link
#                answered
#   late_resp    node-smpp acknowledges each submit_sm 1.5 s late: every
#                answer completes its transaction first, and the SMSC's
#                message ids are still recorded, with that state
#   two_links    a second link straight to the simulator: both bind and
#                requests spread over both
#
#   bash test/e2e/30_interop_node_smpp.sh           (after make install; node, npm)
#
# Ports: free ones. KEEP=1 keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

NODE_SRC=$MOBISIGN_ROOT/test/e2e/node
DB=msinterop
N=5

command -v node >/dev/null && command -v npm >/dev/null ||
	ms_e2e_die "node and npm are needed (test/deps.sh installs them)"
ms_e2e_init
ms_e2e_ports PGPORT_T SIM_PORT NODE_PORT
SIMDIR=$WORK/sim

e2e_on_failure() {
	echo "# transactions, queue and worker:"
	q "SELECT t.user_id, t.state, t.status_code, q.attempts, q.done, q.last_error
	     FROM mobisign.transaction t LEFT JOIN mobisign.request_queue q ON q.transaction_id = t.id" | sed 's/^/#   /'
	ms_psql -qAt -x -c "SELECT * FROM mobisign.worker_stats" 2>&1 | sed 's/^/#   /'
	echo "# node-smpp log tail:"
	tail -n 20 "$WORK/node.log" 2>/dev/null | sed 's/^/#   /'
	echo "# simulator log tail:"
	tail -n 20 "$WORK/sim.log" 2>/dev/null | sed 's/^/#   /'
}

# nstat KEY: a counter of node-smpp's statistics file
nstat() {
	node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(s[process.argv[2]] || 0)' \
		"$WORK/node.json" "$1" 2>/dev/null || echo 0
}
# authenticate_all TAG: users 1..N, then wait (60 s) until none is open
authenticate_all() {
	ms_authenticate_range 1 "$N" "$1" '2 min' >"$WORK/$1.ids"
	ms_wait_tag_final "$1" 60
}
# (from the audit's transaction.submitted rows: the queue rows of final
# transactions are removed by the worker's housekeeping)
message_ids_via_node() { # TAG: how many requests node-smpp took (its ids start with n)
	q "SELECT count(*) FILTER (WHERE a.detail->'message_ids'->>0 LIKE 'n%') || '/' ||
	          count(*) FILTER (WHERE a.detail->'message_ids'->>0 NOT LIKE 'n%')
	     FROM mobisign.audit a JOIN mobisign.transaction t ON t.id = a.transaction_id
	    WHERE a.operation = 'transaction.submitted' AND t.application = '$1'"
}

# ---------------------------------------------------------------------------
# set-up: node-smpp (installed by this test), the cluster, the simulator,
# node-smpp as the SMSC the worker uses
# ---------------------------------------------------------------------------
mkdir -p "$WORK/node"
cp "$NODE_SRC/package.json" "$NODE_SRC/package-lock.json" "$NODE_SRC/smsc.js" "$WORK/node/"
echo "# npm ci (node-smpp) in $WORK/node"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) || {
	sed 's/^/#   /' "$WORK/npm.log"
	ms_e2e_die "npm ci (node-smpp)"
}
ver=$(node -e 'console.log(require(process.argv[1] + "/node_modules/smpp/package.json").version)' "$WORK/node")
echo "# node-smpp $ver installed"
ms_check "node-smpp is a 0.5.x release" 0.5 "${ver%.*}"

echo "# cluster on $PGPORT_T, simulator on $SIM_PORT, node-smpp SMSC on $NODE_PORT"
ms_sim_provision "$SIMDIR" "$SIM_PORT" "$N"
ms_e2e_cluster "$WORK/pg" "$PGPORT_T" "$DB" "mobisign.worker_naptime = '5s'"
ms_sim_register "$SIMDIR"
SIM_SYSTEM_ID=$(ms_sim_conf "$SIMDIR" system_id)
SIM_PASSWORD=$(ms_sim_conf "$SIMDIR" password)
ms_sim_start "$SIMDIR" "$SIM_PORT" "$WORK/sim.log"
ms_bg node "$WORK/node/smsc.js" --port "$NODE_PORT" --system-id mobisign --password nodepw \
	--relay "127.0.0.1:$SIM_PORT" --relay-system-id "$SIM_SYSTEM_ID" --relay-password "$SIM_PASSWORD" \
	--stats "$WORK/node.json" --control "$WORK/node-control.json" >"$WORK/node.log" 2>&1
q "UPDATE mobisign.smsc SET port = $NODE_PORT, system_id = 'mobisign', password = 'nodepw',
          enquire_link_interval = '1 s', reconnect_delay = '300 ms'" >/dev/null
ms_reload

# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
all_bound() {
	ms_links_bound && [ "$(nstat binds)" -ge 1 ] && [ "$(nstat relay_binds)" -ge 1 ]
}
bind() {
	ms_wait_until 20 all_bound
	ms_check "the worker bound to node-smpp, node-smpp bound to the simulator" yes \
		"$(all_bound && echo yes || echo "no: links $(ms_links), node-smpp binds $(nstat binds), relay binds $(nstat relay_binds)")"
}

relayed() {
	authenticate_all interop
	ms_check "$N authentications queued" "$N" "$(grep -c . "$WORK/interop.ids")"
	ms_check "all authentications final" 0 "$(ms_open_count interop)"
	echo "# final states: $(q "SELECT string_agg(status_code || ' x' || n, ', ') FROM (SELECT status_code,
	      count(*) n FROM mobisign.transaction WHERE application = 'interop' GROUP BY 1 ORDER BY 1) s")"
	ms_check "$N x VALID_SIGNATURE (502) through node-smpp" "$N" "$(ms_status_count interop 502)"
	# node-smpp acknowledges a submit_sm only once the simulator has, and
	# the simulator's SIM answers at once: an answer can reach the worker
	# first, and the ids are recorded all the same (the audit row names the
	# state the transaction was already in)
	ms_check "node-smpp's message ids recorded for every request (node/direct)" "$N/0" "$(message_ids_via_node interop)"
	echo "# answers that came before node-smpp's submit_sm_resp: $(q "SELECT count(*) FROM mobisign.audit a
	      JOIN mobisign.transaction t ON t.id = a.transaction_id
	     WHERE a.operation = 'transaction.submitted' AND t.application = 'interop' AND a.detail ? 'state'")"
	sleep 1.5
	ms_check_ge "node-smpp relayed every submit_sm" "$N" "$(nstat submit_sm_ok)"
	ms_check_ge "node-smpp relayed the answers and the worker acknowledged them" "$N" "$(nstat deliver_sm_acked)"
	ms_check "no deliver_sm refused by the worker" 0 "$(nstat deliver_sm_refused)"
	ms_check_ge "the worker's enquire_link answered by node-smpp" 1 "$(nstat enquire_links)"
}

# node-smpp holds each submit_sm_resp back 1.5 s: every SIM's answer
# reaches the worker, and completes its transaction, before the worker
# learns that the SMSC accepted the request.  The transactions stay
# completed, and the SMSC's message ids are still recorded for each, with
# the state the transaction was already in.
late_resp() {
	echo '{"resp_delay_ms": 1500}' >"$WORK/node-control.json"
	authenticate_all late
	ms_check "$N x 502" "$N" "$(ms_status_count late 502)"
	ms_wait_until 20 late_recorded
	ms_check "node-smpp's late message ids recorded for every request (node/direct)" "$N/0" \
		"$(message_ids_via_node late)"
	ms_check "each audit row names the state its transaction was already in, and none was submitted" \
		"$N completed, 0 submitted" \
		"$(q "SELECT count(*) FILTER (WHERE a.detail->>'state' = 'completed') || ' completed, ' ||
		             count(*) FILTER (WHERE t.submitted_at IS NOT NULL) || ' submitted'
		        FROM mobisign.audit a JOIN mobisign.transaction t ON t.id = a.transaction_id
		       WHERE a.operation = 'transaction.submitted' AND t.application = 'late'")"
	ms_check "the request's answer came before its acceptance in the audit" "$N" \
		"$(q "SELECT count(*) FROM mobisign.transaction t
		       WHERE t.application = 'late'
		         AND (SELECT min(a.id) FROM mobisign.audit a WHERE a.transaction_id = t.id
		                 AND a.operation = 'transaction.completed')
		           < (SELECT min(a.id) FROM mobisign.audit a WHERE a.transaction_id = t.id
		                 AND a.operation = 'transaction.submitted')")"
	rm -f "$WORK/node-control.json"
}
late_recorded() {
	[ "$(q "SELECT count(*) FROM mobisign.audit a JOIN mobisign.transaction t ON t.id = a.transaction_id
	        WHERE a.operation = 'transaction.submitted' AND t.application = 'late'")" -ge "$N" ]
}

two_links() {
	local via
	q "INSERT INTO mobisign.smsc (name, host, port, system_id, password, reconnect_delay)
	   VALUES ('direct', '127.0.0.1', $SIM_PORT, '$SIM_SYSTEM_ID', '$SIM_PASSWORD', '300 ms')" >/dev/null
	ms_reload
	ms_check_bound "two SMSC links bound" 2 20
	authenticate_all interop2
	ms_check "$N x 502" "$N" "$(ms_status_count interop2 502)"
	via=$(message_ids_via_node interop2)
	echo "# two links: requests sent via node-smpp/direct: $via"
	ms_check_ge "requests via node-smpp" 1 "${via%/*}"
	ms_check_ge "requests via the direct link" 1 "${via#*/}"
}

ms_scenario bind bind
ms_scenario relayed relayed
ms_scenario late_resp late_resp
ms_scenario two_links two_links
ms_summary
