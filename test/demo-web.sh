#!/usr/bin/env bash
# make demo-web: the web-user scenario, live in a browser.
#
# Like make demo (test/demo.sh): installs what is missing, builds and
# installs, starts a private cluster with the background worker, provisions
# 3 virtual SIMs and starts the SMSC/SIM simulator, here with behaviour
# "ask": the SIMs wait for a person's decision. Then it starts the demo web
# service (demo/web/server.js, as the login role demo_web granted
# mobisign_app) and prints its URL: the webshop page (log in, sign a payment)
# and the phone page (what the SIM displays; sign with the PIN, decline, or
# let it time out). It runs until Ctrl-C, then stops everything it started.
#
# Environment: DEMO_PG_PORT, DEMO_SMPP_PORT, DEMO_WEB_PORT (default: free
# ports; the web port 8080 when free), DEMO_TIMEOUT (seconds a transaction
# waits for the phone, default 60), DEMO_PIN (the SIMs' PIN, default 1234),
# DEMO_KEEP=1 keeps the logs; MOBISIGN_SKIP_DEPS=1 skips test/deps.sh,
# MOBISIGN_DESTDIR installs there (with PGBIN pointing into it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib.sh"

ms_demo_prepare
if [ -n "${DEMO_WEB_PORT:-}" ]; then
	web_port=$DEMO_WEB_PORT
elif ! (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
	web_port=8080
else
	web_port=$(ms_free_port)
fi
sim_pid= web_pid=
cluster_started=0
cleanup() {
	local rc=$?
	set +e
	for p in $web_pid $sim_pid; do
		if kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p"
			wait "$p" 2>/dev/null
		fi
	done
	[ "$cluster_started" = 1 ] && ms_cluster_stop "$work/pg"
	if [ "${DEMO_KEEP:-0}" = 1 ] || { [ "$rc" != 0 ] && [ "$rc" != 130 ]; }; then
		echo "demo-web: logs kept in $work (cluster: $work/pg/log, simulator: $work/sim.log, web: $work/web.log)"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms_say "private cluster on 127.0.0.1:$pg_port"
mkdir -p "$work/pg"
ms_cluster_start "$work/pg" "$pg_port" "mobisign.database = 'postgres'"
cluster_started=1
ms_psql -q -d postgres -c "CREATE EXTENSION mobisign"
ms_psql -q -d postgres -c "CREATE ROLE demo_web LOGIN; GRANT mobisign_app TO demo_web"

ms_say "3 virtual SIMs that ask a person (simulator on 127.0.0.1:$smpp_port)"
"$sim" provision --dir "$work/sim" --users 3 --port "$smpp_port" --pin "${DEMO_PIN:-1234}" >/dev/null
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$work/sim"
ms_psql -q -d postgres -f "$work/sim/register.sql" >/dev/null
printf '# USER BEHAVIOUR [DELAY_MS]\n* ask\n' >"$work/sim/behaviour"
"$sim" run --dir "$work/sim" --port "$smpp_port" --ready-file "$work/sim.ready" 2>"$work/sim.log" &
sim_pid=$!
ms_wait_until 10 test -s "$work/sim.ready" || { cat "$work/sim.log" >&2; exit 1; }

ms_say "the demo web service (node, as demo_web)"
bash "$root/demo/web/install.sh" "$work/web"
PGHOST=$work/pg PGPORT=$pg_port PGUSER=demo_web PGDATABASE=postgres \
	node "$work/web/server.js" --listen "127.0.0.1:$web_port" --phone-dir "$work/sim/phone" \
	--timeout "${DEMO_TIMEOUT:-60}" 2>"$work/web.log" &
web_pid=$!
ms_wait_until 15 grep -q 'listening on http' "$work/web.log" || { cat "$work/web.log" >&2; exit 1; }

cat <<MSG

  webshop:  http://127.0.0.1:$web_port/        log in as user0001, user0002 or user0003
  phone:    http://127.0.0.1:$web_port/phone   what the SIMs display; their PIN is ${DEMO_PIN:-1234}

  A transaction waits ${DEMO_TIMEOUT:-60} s for the phone (leave it alone to see EXPIRED_TRANSACTION).
  Logs: $work/web.log, $work/sim.log. Ctrl-C stops everything.
MSG
wait "$web_pid"
