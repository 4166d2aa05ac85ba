#!/usr/bin/env bash
# make demo: the whole mobisign flow on one machine.
#
# Installs what is missing (test/deps.sh), builds and installs the extension
# and the simulator, starts a private PostgreSQL cluster with the background
# worker (shared_preload_libraries = 'mobisign', mobisign.database set),
# creates the extension, provisions 3 virtual SIMs with mobisign-sim, runs
# their register.sql, starts the SMSC/SIM simulator, then, as an application
# role (a login role granted mobisign_app), runs one authentication and one
# signature, printing the verification code, the final status, the signer
# and the audit rows produced.  Everything it started is stopped on exit.
#
# Environment: DEMO_PG_PORT, DEMO_SMPP_PORT (default: free ports),
# DEMO_KEEP=1 keeps the temporary directory (logs) for a look afterwards;
# MOBISIGN_SKIP_DEPS=1 skips test/deps.sh, MOBISIGN_DESTDIR installs there.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib.sh"

ms_demo_prepare
sim_pid=
cluster_started=0
cleanup() {
	local rc=$?
	set +e
	if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
		kill -TERM "$sim_pid"
		wait "$sim_pid" 2>/dev/null
	fi
	if [ "$cluster_started" = 1 ]; then
		ms_cluster_stop "$work/pg"
	fi
	if [ "${DEMO_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
		echo "demo: logs kept in $work (cluster log: $work/pg/log, simulator: $work/sim.log)"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms_say "private cluster on 127.0.0.1:$pg_port (background worker preloaded)"
mkdir -p "$work/pg"
ms_cluster_start "$work/pg" "$pg_port" "mobisign.database = 'postgres'" "log_min_messages = info"
cluster_started=1
ms_psql -q -d postgres -c "CREATE EXTENSION mobisign"
ms_psql -q -d postgres -c "CREATE ROLE demo_app LOGIN; GRANT mobisign_app TO demo_app"
echo "extension created; login role demo_app granted mobisign_app"

ms_say "3 virtual SIMs (test PKI, OTA keys, user keys) for an SMSC on 127.0.0.1:$smpp_port"
"$sim" provision --dir "$work/sim" --users 3 --port "$smpp_port"
ms_psql -q -d postgres -f "$work/sim/register.sql" >/dev/null
ms_psql -d postgres -c "SELECT user_id, msisdn, (SELECT name FROM mobisign.pki p WHERE p.id = u.pki_id) AS pki FROM mobisign.app_user u ORDER BY 1"

ms_say "SMSC/SIM simulator"
# the simulated users take 0.8 s to read the text and enter their PIN
printf '# USER BEHAVIOUR [DELAY_MS]\n* sign 800\n' >"$work/sim/behaviour"
"$sim" run --dir "$work/sim" --port "$smpp_port" --ready-file "$work/sim.ready" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 50); do
	[ -s "$work/sim.ready" ] && break
	sleep 0.1
done
[ -s "$work/sim.ready" ] || { echo "demo: the simulator did not start:" >&2; cat "$work/sim.log" >&2; exit 1; }
echo "simulator pid $sim_pid listening; waiting for the worker to bind"
for _ in $(seq 1 150); do
	grep -q 'bound as' "$work/sim.log" && break
	sleep 0.1
done
grep 'bound as' "$work/sim.log" | head -n 1 || echo "(no bind yet; the request will wait in the queue)"

app() { ms_psql -d postgres -U demo_app "$@"; }

run_one() {	# run_one LABEL SQL-CALL
	local label=$1 call=$2 line tid code
	ms_say "$label, as demo_app: SELECT * FROM $call"
	line=$(app -At -F ' ' -c "SELECT transaction_id, verification_code FROM $call")
	tid=${line%% *}
	code=${line##* }
	echo "transaction $tid"
	echo "verification code shown to the user: $code"
	app -x -c "SELECT transaction_id, kind, state, status_code, status_name, reason, signer_subject,
	                  completed_at - created_at AS took
	             FROM mobisign_wait('$tid', '30 s')"
	msisdn=$(ms_psql -At -d postgres -c "SELECT msisdn FROM mobisign.transaction WHERE id = '$tid'")
	echo "the phone ($msisdn) showed, and the simulated user did:"
	grep -E "SIM $msisdn .*(DISPLAY|answering)|SIM $msisdn: " "$work/sim.log" | tail -n 2 |
		sed 's/^[0-9:.]* mobisign-sim: /    /' || true
	if ! grep -q "SIM $msisdn .*DISPLAY.* code $code " "$work/sim.log"; then
		echo "demo: the phone did not show the verification code $code" >&2
		DEMO_FAILED=1
	fi
	DEMO_TIDS="${DEMO_TIDS:+$DEMO_TIDS,}'$tid'"
	LAST_TID=$tid
}

DEMO_TIDS=
DEMO_FAILED=0
run_one "authentication of user0001" "mobisign_authenticate('user0001')"
auth_tid=$LAST_TID
run_one "signature by user0002" "mobisign_sign('user0002', 'Pay 100.00 EUR to ACME Oy')"
sign_tid=$LAST_TID

ms_say "audit rows of the two transactions"
ms_psql -d postgres -c "SELECT id, to_char(at, 'HH24:MI:SS.MS') AS at, actor, operation, outcome,
                               left(detail::text, 90) AS detail
                          FROM mobisign.audit WHERE transaction_id IN ($DEMO_TIDS) ORDER BY id"
ms_psql -d postgres -c "SELECT * FROM mobisign_audit_verify()"

ms_say "result"
ok=1
[ "$DEMO_FAILED" = 0 ] || ok=0
for t in "$auth_tid" "$sign_tid"; do
	st=$(ms_psql -At -d postgres -c "SELECT status_code FROM mobisign_status('$t')")
	if [ "$st" != 502 ]; then ok=0; fi
done
if [ "$ok" = 1 ]; then
	echo "demo: both transactions ended VALID_SIGNATURE (502)"
	echo "demo: to log in and sign yourself, in a browser, with a phone page: make demo-web"
else
	echo "demo: a transaction did not end with 502; see $work/sim.log and $work/pg/log" >&2
	DEMO_KEEP=1
	exit 1
fi
