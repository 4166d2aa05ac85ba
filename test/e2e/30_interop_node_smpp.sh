#!/usr/bin/env bash
# Interop: the worker completes authentications through an SMSC it did not
# write. node-smpp (npm "smpp" 0.5.1, installed here by npm from
# test/e2e/node/package-lock.json) plays the SMSC the worker binds to; it
# relays every submit_sm to the simulator's SIMs (binding to mobisign-sim as
# an ESME) and relays their deliver_sm answers back, acknowledging upstream
# only with the worker's own deliver_sm_resp status.
#
# Checks: the worker binds to node-smpp, enquire_link is answered, every
# authentication ends VALID_SIGNATURE (502) with node-smpp's message ids
# recorded, and node-smpp relayed the submits and the answers. Then a second
# link straight to the simulator is added: requests spread over both links.
#
# Ports: PostgreSQL 55472, simulator 2803, node-smpp 2804 unless taken.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

SIM=$MOBISIGN_ROOT/test/sim/mobisign-sim
NODE_SRC=$MOBISIGN_ROOT/test/e2e/node
DB=msinterop
N=5
FAILED=0

say() { printf '%s\n' "30_interop_node_smpp: $*"; }
fail() {
	say "FAIL: $*"
	FAILED=1
}
check() {
	local what=$1
	shift
	if "$@"; then say "ok: $what"; else fail "$what"; fi
}
pick_port() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then ms_free_port; else echo "$1"; fi
}

command -v node >/dev/null && command -v npm >/dev/null || {
	say "node and npm are needed (test/deps.sh installs them)"
	exit 1
}
[ -x "$SIM" ] || { say "missing $SIM (run make)"; exit 1; }

WORK=$(ms_readable_dir)
PGPORT_T=$(pick_port 55472)
SIM_PORT=$(pick_port 2803)
NODE_PORT=$(pick_port 2804)
SIM_PID=
NODE_PID=

cleanup() {
	local rc=$?
	if [ $rc -ne 0 ] || [ $FAILED -ne 0 ]; then
		say "transactions, queue and worker:"
		q -c "SELECT t.user_id, t.state, t.status_code, q.attempts, q.done, q.last_error
		        FROM mobisign.transaction t LEFT JOIN mobisign.request_queue q ON q.transaction_id = t.id" 2>/dev/null || true
		q -x -c "SELECT * FROM mobisign.worker_stats" 2>/dev/null || true
	fi
	[ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null || true
	[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
	[ -n "$NODE_PID" ] && wait "$NODE_PID" 2>/dev/null || true
	[ -n "$SIM_PID" ] && wait "$SIM_PID" 2>/dev/null || true
	ms_cluster_stop "$WORK/pg" || true
	if [ $rc -ne 0 ] || [ $FAILED -ne 0 ]; then
		say "server log tail:"
		grep -v 'audit_sealing' "$WORK/pg/log" 2>/dev/null | tail -n 30 || true
		say "node-smpp log tail:"
		tail -n 20 "$WORK/node.log" 2>/dev/null || true
		say "simulator log tail:"
		tail -n 20 "$WORK/sim.log" 2>/dev/null || true
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

q() { ms_psql -d "$DB" -qtA "$@"; }

# ---- node-smpp, installed by this test -----------------------------------------
mkdir -p "$WORK/node"
cp "$NODE_SRC/package.json" "$NODE_SRC/package-lock.json" "$NODE_SRC/smsc.js" "$WORK/node/"
say "npm ci (node-smpp) in $WORK/node"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) ||
	{ cat "$WORK/npm.log"; exit 1; }
ver=$(node -e 'console.log(require(process.argv[1] + "/node_modules/smpp/package.json").version)' "$WORK/node")
say "node-smpp $ver installed"
check "node-smpp is a 0.5.x release" test "${ver%.*}" = "0.5"

# ---- cluster, simulator --------------------------------------------------------
mkdir -p "$WORK/pg" "$WORK/sim"
say "cluster on $PGPORT_T, simulator on $SIM_PORT, node-smpp SMSC on $NODE_PORT"
ms_cluster_start "$WORK/pg" "$PGPORT_T" "mobisign.database = '$DB'" "mobisign.worker_naptime = '5s'"
ms_psql -q -c "CREATE DATABASE $DB" postgres
q -c "CREATE EXTENSION mobisign" >/dev/null
"$SIM" provision --dir "$WORK/sim" --users $N --port "$SIM_PORT" >"$WORK/provision.log" 2>&1 ||
	{ cat "$WORK/provision.log"; exit 1; }
chown -R postgres:postgres "$WORK/sim" 2>/dev/null || true
q -f "$WORK/sim/register.sql" >"$WORK/register.log" 2>&1 || { tail -n 20 "$WORK/register.log"; exit 1; }
sim_system_id=$(awk '$1 == "system_id" {print $2}' "$WORK/sim/sim.conf")
sim_password=$(awk '$1 == "password" {print $2}' "$WORK/sim/sim.conf")
"$SIM" run --dir "$WORK/sim" --port "$SIM_PORT" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!

# ---- node-smpp as the SMSC the worker uses -------------------------------------
node "$WORK/node/smsc.js" --port "$NODE_PORT" --system-id mobisign --password nodepw \
	--relay "127.0.0.1:$SIM_PORT" --relay-system-id "$sim_system_id" --relay-password "$sim_password" \
	--stats "$WORK/node.json" >"$WORK/node.log" 2>&1 &
NODE_PID=$!
q -c "UPDATE mobisign.smsc SET port = $NODE_PORT, system_id = 'mobisign', password = 'nodepw',
             enquire_link_interval = '1 s', reconnect_delay = '300 ms'" >/dev/null
ms_psql -q -c "SELECT pg_catalog.pg_reload_conf()" postgres >/dev/null

nstat() { node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(s[process.argv[2]] || 0)' "$WORK/node.json" "$1" 2>/dev/null || echo 0; }

bound=no
for _ in $(seq 1 100); do
	if [ "$(q -c "SELECT bound FROM mobisign.worker_stats" 2>/dev/null)" = t ] &&
		[ "$(nstat binds)" -ge 1 ] && [ "$(nstat relay_binds)" -ge 1 ]; then
		bound=yes
		break
	fi
	sleep 0.2
done
check "the worker bound to node-smpp, node-smpp bound to the simulator" test "$bound" = yes

q -c "SELECT (mobisign_authenticate(pg_catalog.format('user%s', pg_catalog.lpad(g::text, 4, '0')),
                                     'interop', '2 min')).transaction_id
        FROM pg_catalog.generate_series(1, $N) g" >"$WORK/ids"
check "$N authentications queued" test "$(grep -c . "$WORK/ids")" = $N

open=$N
for _ in $(seq 1 120); do
	open=$(q -c "SELECT count(*) FROM mobisign.transaction WHERE application = 'interop'
	              AND state IN ('queued', 'submitted', 'delivered')")
	[ "$open" = 0 ] && break
	sleep 0.5
done
check "all authentications final" test "$open" = 0
say "final states: $(q -c "SELECT string_agg(status_code || ' x' || n, ', ') FROM (SELECT status_code,
      count(*) n FROM mobisign.transaction WHERE application = 'interop' GROUP BY 1 ORDER BY 1) s")"
check "$N x VALID_SIGNATURE (502) through node-smpp" \
	test "$(q -c "SELECT count(*) FROM mobisign.transaction WHERE application = 'interop' AND status_code = 502")" = $N
check "node-smpp's message ids recorded for every request" \
	test "$(q -c "SELECT count(*) FROM mobisign.request_queue q JOIN mobisign.transaction t ON t.id = q.transaction_id
	              WHERE t.application = 'interop' AND q.smsc_message_ids[1] LIKE 'n%'")" = $N
sleep 1.5
check "node-smpp relayed every submit_sm ($(nstat submit_sm_ok))" test "$(nstat submit_sm_ok)" -ge $N
check "node-smpp relayed the answers and the worker acknowledged them ($(nstat deliver_sm_acked))" \
	test "$(nstat deliver_sm_acked)" -ge $N
check "no deliver_sm refused by the worker" test "$(nstat deliver_sm_refused)" = 0
check "the worker's enquire_link answered by node-smpp ($(nstat enquire_links))" test "$(nstat enquire_links)" -ge 1

# ---- two links at once: node-smpp and the simulator directly ---------------------
q -c "INSERT INTO mobisign.smsc (name, host, port, system_id, password, reconnect_delay)
      VALUES ('direct', '127.0.0.1', $SIM_PORT, '$sim_system_id', '$sim_password', '300 ms')" >/dev/null
ms_psql -q -c "SELECT pg_catalog.pg_reload_conf()" postgres >/dev/null
two=no
for _ in $(seq 1 100); do
	[ "$(q -c "SELECT links_bound FROM mobisign.worker_stats")" = 2 ] && { two=yes; break; }
	sleep 0.2
done
check "two SMSC links bound" test "$two" = yes
q -c "SELECT (mobisign_authenticate(pg_catalog.format('user%s', pg_catalog.lpad(g::text, 4, '0')),
                                     'interop2', '2 min')).transaction_id
        FROM pg_catalog.generate_series(1, $N) g" >/dev/null
for _ in $(seq 1 120); do
	[ "$(q -c "SELECT count(*) FROM mobisign.transaction WHERE application = 'interop2'
	            AND state IN ('queued', 'submitted', 'delivered')")" = 0 ] && break
	sleep 0.5
done
check "two links: $N x 502" \
	test "$(q -c "SELECT count(*) FROM mobisign.transaction WHERE application = 'interop2' AND status_code = 502")" = $N
via=$(q -c "SELECT count(*) FILTER (WHERE q.smsc_message_ids[1] LIKE 'n%') || '/' ||
                   count(*) FILTER (WHERE q.smsc_message_ids[1] NOT LIKE 'n%')
              FROM mobisign.request_queue q JOIN mobisign.transaction t ON t.id = q.transaction_id
             WHERE t.application = 'interop2'")
say "two links: requests sent via node-smpp/direct: $via"
check "two links: both links carried requests" test "${via%/*}" -ge 1 -a "${via#*/}" -ge 1

if [ $FAILED -ne 0 ]; then
	say "FAILED"
	exit 1
fi
say "all checks passed"
