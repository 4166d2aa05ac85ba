#!/usr/bin/env bash
# End-to-end: waiting applications do not hold back vacuum.
#
# An application that waits for a transaction's end must not keep the
# database's oldest snapshot for the whole wait: while it does, vacuum can
# remove no dead row of any table, the queue tables included.
#
#   function_holds_the_horizon   (the negative control) SELECT ... FROM
#       mobisign_wait(): the waiting backend shows a backend_xmin, and rows
#       made dead during the wait cannot be removed by VACUUM;
#   procedure_holds_no_snapshot  CALL mobisign_await(): the waiting backend
#       has no backend_xmin at any sample, and VACUUM removes every dead
#       transaction row made during the wait;
#   procedure_still_sees_the_end the same wait ends as soon as another
#       session makes the transaction final (cancel: 410), long before its
#       timeout, and mobisign_status() then reads the outcome.
#
# No SMSC answers (the link points at a closed port): transactions stay open
# until cancelled. Autovacuum is off so that only our VACUUM removes rows.
# Ports: free ones. KEEP=1 keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/../lib.sh"

SIM_BIN=$MOBISIGN_ROOT/test/sim/mobisign-sim
WORK=$(ms_readable_dir) || exit 1
PG=$WORK/pg
DB=msprod
WAITER_PID=
USERS=24

cleanup() {
	[ -n "$WAITER_PID" ] && ms_stop_pids "$WAITER_PID"
	ms_cluster_stop "$PG"
	if [ "${KEEP:-0}" = 1 ] || [ "$MS_FAILS" -ne 0 ]; then
		echo "15_wait_horizon: work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

q() { ms_psql -qAt -d "$DB" "$@"; }
as_shop() { q -U shop -c "$1"; }

# ---- helpers -------------------------------------------------------------------

NEXT_USER=1
# new_transaction VAR: a new open transaction of the next unused user, as
# the application; its id in VAR
new_transaction() {
	local u
	u=$(printf 'user%04d' "$NEXT_USER")
	NEXT_USER=$((NEXT_USER + 1))
	printf -v "$1" '%s' "$(as_shop "SELECT transaction_id FROM mobisign_authenticate('$u', 'shop', '3 min')")"
}

# start_waiter SQL OUTFILE: the application waits in the background; returns
# once its backend is seen waiting (pid in WAITER_BACKEND)
start_waiter() {
	ms_psql -qAt -d "$DB" -U shop -c "$1" >"$2" 2>&1 &
	WAITER_PID=$!
	ms_wait_until 10 waiter_seen
	WAITER_BACKEND=$(q -c "SELECT pid FROM pg_stat_activity
	                        WHERE usename = 'shop' AND state = 'active' AND query ~ 'mobisign_a?wait'")
}
waiter_seen() {
	[ -n "$(q -c "SELECT pid FROM pg_stat_activity
	               WHERE usename = 'shop' AND state = 'active' AND query ~ 'mobisign_a?wait'
	                 AND wait_event = 'Extension'")" ]
}
stop_waiter() {
	[ -n "$WAITER_PID" ] || return 0
	ms_stop_pids "$WAITER_PID"
	WAITER_PID=
}
waiter_done() { ! kill -0 "$WAITER_PID" 2>/dev/null; }

# the waiting backend's backend_xmin ('' when it holds none)
waiter_xmin() { q -c "SELECT backend_xmin FROM pg_stat_activity WHERE pid = $WAITER_BACKEND"; }

# make N transaction rows dead: N new transactions, each cancelled
make_dead_rows() {
	local i id made=0
	for i in $(seq 1 "$1"); do
		new_transaction id
		[ "$(as_shop "SELECT mobisign_cancel('$id')")" = t ] && made=$((made + 1))
	done
	ms_check "$1 transactions made and cancelled during the wait" "$1" "$made"
}

# VACUUM's count of dead transaction rows it could not remove yet
dead_not_removable() {
	q -c "VACUUM (VERBOSE) mobisign.transaction" 2>&1 |
		sed -n 's/.* \([0-9][0-9]*\) are dead but not yet removable.*/\1/p' | head -n 1
}

# ---- set-up --------------------------------------------------------------------

[ -x "$SIM_BIN" ] || { echo "FAIL - $SIM_BIN is not built (run make)"; exit 1; }
mkdir -p "$PG"
"$SIM_BIN" provision --dir "$WORK/sim" --users "$USERS" --port "$(ms_free_port)" \
	>"$WORK/provision.log" 2>&1 || { cat "$WORK/provision.log"; exit 1; }
ms_cluster_start "$PG" "$(ms_free_port)" "mobisign.database = '$DB'" "autovacuum = off" || exit 1
ms_psql -q -c "CREATE DATABASE $DB" || exit 1
q -c "CREATE EXTENSION mobisign" >/dev/null || exit 1
q -f "$WORK/sim/register.sql" >"$WORK/register.log" 2>&1 || { tail -5 "$WORK/register.log"; exit 1; }
q -c "CREATE ROLE shop LOGIN IN ROLE mobisign_app" >/dev/null || exit 1

# ---- scenarios -----------------------------------------------------------------

function_holds_the_horizon() {
	local t1 xmin dead
	new_transaction t1
	start_waiter "SELECT state FROM mobisign_wait('$t1', '30 s')" "$WORK/wait.out"
	ms_check "the application waits in mobisign_wait" yes "$([ -n "$WAITER_BACKEND" ] && echo yes)"
	xmin=$(waiter_xmin)
	ms_check "the waiting backend holds a snapshot (backend_xmin set)" yes "$([ -n "$xmin" ] && echo yes)"
	make_dead_rows 6
	dead=$(dead_not_removable)
	ms_check "VACUUM cannot remove the rows made dead during the wait" yes \
		"$([ "${dead:-0}" -ge 6 ] && echo yes || echo "no ($dead)")"
	as_shop "SELECT mobisign_cancel('$t1')" >/dev/null
	ms_wait_until 10 waiter_done
	ms_check "the wait ended with the cancellation" cancelled "$(cat "$WORK/wait.out")"
	WAITER_PID=
}

procedure_holds_no_snapshot() {
	local xmins dead i
	new_transaction T2
	start_waiter "CALL mobisign_await('$T2', '30 s')" "$WORK/await.out"
	ms_check "the application waits in CALL mobisign_await" yes "$([ -n "$WAITER_BACKEND" ] && echo yes)"
	# ten samples over two seconds: the waiter never holds a snapshot
	xmins=
	for i in $(seq 1 10); do
		xmins="$xmins$(waiter_xmin)"
		sleep 0.2
	done
	ms_check "the waiting backend holds no snapshot at any of 10 samples" "" "$xmins"
	make_dead_rows 6
	# the worker may be in a short transaction of its own: look again
	for i in 1 2 3; do
		dead=$(dead_not_removable)
		[ "$dead" = 0 ] && break
		sleep 0.5
	done
	ms_check "VACUUM removes the rows made dead during the wait" 0 "$dead"
}

procedure_still_sees_the_end() {
	local t0 ms
	t0=$(date +%s%3N)
	as_shop "SELECT mobisign_cancel('$T2')" >/dev/null
	ms_wait_until 10 waiter_done
	ms=$(($(date +%s%3N) - t0))
	WAITER_PID=
	ms_check "the wait returns at the end, without error" "" "$(cat "$WORK/await.out")"
	ms_check "... and the application reads the final state" "cancelled|410|REQUEST_CANCELLED" \
		"$(as_shop "SELECT state, status_code, status_name FROM mobisign_status('$T2')")"
	ms_check "... well before its 30 s timeout" yes "$([ "$ms" -lt 10000 ] && echo yes || echo "no ($ms ms)")"
}

ms_scenario function_holds_the_horizon function_holds_the_horizon
stop_waiter
ms_scenario procedure_holds_no_snapshot procedure_holds_no_snapshot
ms_scenario procedure_still_sees_the_end procedure_still_sees_the_end
stop_waiter
ms_summary
