#!/usr/bin/env bash
# End-to-end: one preload, a worker in every database (docs/worker.md,
# "One launcher, a worker per database").
#
# One cluster with mobisign.database = '' (every database). The launcher's
# and the workers' safety-net polls are set to a minute, so everything that
# must happen "at once" below can only come from the wake-ups (the utility
# hook at commit, the workers' exits), never from a poll.
#
# Scenarios (each a function below, run by ms_scenario, in this order; each
# continues from the state the one before left):
#   two_databases     msa and msb, each with the extension and its own SMSC
#                     link to its own simulator: each has its own worker
#                     (two pids), bound to its own simulator; an
#                     authentication in each completes (502) through its own
#                     simulator only; worker_stats are per database
#   create_extension  CREATE EXTENSION in a new database msc: its worker runs
#                     within 3 s; databases without the extension have none
#   drop_extension    DROP EXTENSION in msc: its worker leaves within 3 s and
#                     is not started again
#   template          a database with the extension made a template has no
#                     worker; CREATE DATABASE ... TEMPLATE of it: the copy has
#                     its own worker within 3 s
#   selection         mobisign.database = 'msa' (reload): only msa keeps a
#                     worker (the same one); '' again: the others are back
#   drop_database     DROP DATABASE msb while its worker is bound: succeeds
#                     in under 4 s (a refused drop waits 5 s), the worker was
#                     stopped for it; msa's worker is untouched
#   restore           pg_dump of msa, DROP DATABASE msa, CREATE DATABASE msa,
#                     pg_restore --single-transaction: a worker again within
#                     3 s of the restore, bound, and an authentication
#                     completes
#   sigterm           SIGTERM of msa's worker: it stops cleanly (exit 0, no
#                     crash) and the launcher starts a new one (a new pid),
#                     bound again
#   kill9             kill -9 of msa's worker: PostgreSQL restarts every
#                     process (a crash of any backend does that), the launcher
#                     comes back and so does one worker per database with the
#                     extension, bound; an authentication completes
#   launcher_restart  the launcher terminated: the workers keep running; the
#                     restarted launcher adopts them (still one per database);
#                     an adopted worker stops when its database is no longer
#                     selected, and one starts when it is again
#
#   bash test/e2e/80_launcher.sh            (after make install)
#   MS_SCENARIO="two_databases create_extension" bash test/e2e/80_launcher.sh
#
# Ports: free ones. KEEP=1 keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

ms_e2e_init
ms_e2e_ports PGPORT_T SMPP_A SMPP_B
PG=$WORK/pg
SIMA=$WORK/sima
SIMB=$WORK/simb
echo "# cluster on $PGPORT_T, simulators on $SMPP_A (msa) and $SMPP_B (msb), work dir $WORK"

e2e_on_failure() {
	echo "# mobisign processes:"
	dbq postgres "SELECT pid, backend_type, datname FROM pg_stat_activity
	               WHERE backend_type LIKE 'mobisign%' ORDER BY 2, 3" | sed 's/^/#   /'
}

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
dbq() { ms_psql -qAt -d "$1" -c "$2" 2>&1; } # dbq DB SQL
# the pids of the workers connected to DB, one a line
workers_of() {
	dbq postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mobisign worker'
	               AND datname = '$1' ORDER BY pid"
}
worker_count() { workers_of "$1" | grep -c .; }
has_worker() { [ "$(worker_count "$1")" = 1 ]; }
no_worker() { [ "$(worker_count "$1")" = 0 ]; }
launcher_pid() { dbq postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mobisign launcher'"; }
# a launcher runs and it is not OLD (or any, without OLD)
launcher_other() {
	local p
	p=$(launcher_pid)
	[ -n "$p" ] && [ "$p" != "${1:-}" ]
}
bound_in() { [ "$(dbq "$1" "SELECT bound FROM mobisign.worker_stats")" = t ]; }
server_ready() { "$PGBIN/pg_isready" -q -h "$PG" -p "$PGPORT_T"; }
now_ms() { date +%s%3N; }
# within SECONDS DESCRIPTION COMMAND...: waits, then a check that COMMAND
# became true in time; prints how long it took
within() {
	local secs=$1 what=$2 t0
	shift 2
	t0=$(now_ms)
	ms_wait_until "$secs" "$@"
	ms_check_cmd "$what (within $secs s; took $(($(now_ms) - t0)) ms)" "$@"
}
# auth DB USER: one authentication (committed: the worker is woken), to its
# final state
auth() {
	local tid
	tid=$(dbq "$1" "SELECT transaction_id FROM mobisign_authenticate('$2', 'launcher', '40 s')")
	dbq "$1" "SELECT state || ' ' || status_code FROM mobisign_wait('$tid', '40 s')"
}
log_mark() { wc -l <"$PG/log"; }
log_since() { tail -n +"$(($1 + 1))" "$PG/log"; }

# ---------------------------------------------------------------------------
# set-up: one cluster, two SIM worlds with the same keys (the key files are
# the server's, one set for all databases), each its own simulator
# ---------------------------------------------------------------------------
# up to five databases served at once, each a worker and its two verifiers
ms_e2e_cluster_start "$PG" "$PGPORT_T" "mobisign.database = ''" \
	"mobisign.launcher_naptime = '60s'" "mobisign.worker_naptime = '60s'" \
	"max_worker_processes = 24"
ms_sim_provision "$SIMA" "$SMPP_A" 4
# B: a copy of A's world (same SIMs and keys) with a state and a port of its own
cp -a "$SIMA" "$SIMB"
sed -e "s|$SIMA/|$SIMB/|g" -e "s|'127.0.0.1', $SMPP_A,|'127.0.0.1', $SMPP_B,|" \
	"$SIMA/register.sql" >"$SIMB/register.sql"
grep -q "'127.0.0.1', $SMPP_B," "$SIMB/register.sql" || ms_e2e_die "register.sql of B does not name port $SMPP_B"
for db in msa msb; do
	dbq postgres "CREATE DATABASE $db" >/dev/null || ms_e2e_die "CREATE DATABASE $db"
	dbq "$db" "CREATE EXTENSION mobisign" >/dev/null || ms_e2e_die "CREATE EXTENSION mobisign in $db"
done
PGDATABASE=msa ms_sim_register "$SIMA"
PGDATABASE=msb ms_sim_register "$SIMB"
ms_sim_behaviour "$SIMA" "* sign"
ms_sim_behaviour "$SIMB" "* sign"
ms_sim_start "$SIMA" "$SMPP_A" "$WORK/sima.log"
ms_sim_start "$SIMB" "$SMPP_B" "$WORK/simb.log"

# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
two_databases() {
	local pa pb
	ms_check_cmd "a launcher runs" launcher_other
	within 10 "msa has one worker" has_worker msa
	within 10 "msb has one worker" has_worker msb
	pa=$(workers_of msa)
	pb=$(workers_of msb)
	ms_check_cmd "two different workers ($pa, $pb)" test "$pa" != "$pb"
	ms_check "worker_stats in msa names msa's worker" "$pa" "$(dbq msa "SELECT pid FROM mobisign.worker_stats")"
	ms_check "worker_stats in msb names msb's worker" "$pb" "$(dbq msb "SELECT pid FROM mobisign.worker_stats")"
	within 30 "msa's worker is bound" bound_in msa
	within 30 "msb's worker is bound" bound_in msb
	ms_check "msa's link is its own simulator's port" "$SMPP_A" "$(dbq msa "SELECT port FROM mobisign.smsc")"
	ms_check "msb's link is its own simulator's port" "$SMPP_B" "$(dbq msb "SELECT port FROM mobisign.smsc")"
	ms_check "msa: user0001 authenticates through msa's worker" "completed 502" "$(auth msa user0001)"
	ms_check "msb: user0002 authenticates through msb's worker" "completed 502" "$(auth msb user0002)"
	ms_check_grep "simulator A saw user0001's request" "\(user0001\): DISPLAY" "$WORK/sima.log"
	ms_check "... and not user0002's" 0 "$(grep -c '(user0002): DISPLAY' "$WORK/sima.log")"
	ms_check_grep "simulator B saw user0002's request" "\(user0002\): DISPLAY" "$WORK/simb.log"
	ms_check "... and not user0001's" 0 "$(grep -c '(user0001): DISPLAY' "$WORK/simb.log")"
	ms_check "worker_stats are per database: msa completed 1 request" 1 \
		"$(dbq msa "SELECT completed FROM mobisign.worker_stats")"
	ms_check "... and msb 1" 1 "$(dbq msb "SELECT completed FROM mobisign.worker_stats")"
	ms_check_cmd "postgres (no extension) has no worker" no_worker postgres
}

create_extension() {
	dbq postgres "CREATE DATABASE msc" >/dev/null
	sleep 0.5
	ms_check_cmd "a new database without the extension has no worker" no_worker msc
	dbq msc "BEGIN; CREATE EXTENSION mobisign; SELECT pg_sleep(1); ROLLBACK" >/dev/null
	ms_check_cmd "a CREATE EXTENSION rolled back starts nothing" no_worker msc
	dbq msc "CREATE EXTENSION mobisign" >/dev/null
	within 3 "CREATE EXTENSION in msc: a worker there, no restart" has_worker msc
	ms_check "its worker_stats: running, no SMSC" "no smsc configured" \
		"$(dbq msc "SELECT state FROM mobisign.worker_stats")"
}

drop_extension() {
	local mark
	mark=$(log_mark)
	dbq msc "DROP EXTENSION mobisign" >/dev/null
	within 3 "DROP EXTENSION in msc: its worker leaves" no_worker msc
	log_since "$mark" >"$WORK/dropext.log"
	ms_check_grep "... saying why" 'extension mobisign was dropped from database "msc"' "$WORK/dropext.log"
	sleep 6
	ms_check_cmd "... and no worker is started there again (after the 5 s restart delay)" no_worker msc
	ms_check_cmd "msa still has its worker" has_worker msa
}

template() {
	dbq postgres "CREATE DATABASE mst" >/dev/null
	dbq mst "CREATE EXTENSION mobisign" >/dev/null
	within 3 "mst has a worker" has_worker mst
	dbq postgres "ALTER DATABASE mst IS_TEMPLATE true" >/dev/null
	within 3 "mst made a template: its worker stops" no_worker mst
	dbq postgres "CREATE DATABASE msu TEMPLATE mst" >/dev/null
	ms_check "CREATE DATABASE ... TEMPLATE mst succeeded (nobody connected to mst)" msu \
		"$(dbq postgres "SELECT datname FROM pg_database WHERE datname = 'msu'")"
	within 3 "the copy msu (extension included) has its own worker" has_worker msu
	ms_check_cmd "the template still has none" no_worker mst
}

selection() {
	local pa
	pa=$(workers_of msa)
	dbq postgres "ALTER SYSTEM SET mobisign.database = 'msa'" >/dev/null
	dbq postgres "SELECT pg_reload_conf()" >/dev/null
	within 3 "mobisign.database = 'msa': msb's worker stops" no_worker msb
	within 3 "... and msu's" no_worker msu
	ms_check "msa keeps the same worker" "$pa" "$(workers_of msa)"
	dbq postgres "ALTER SYSTEM RESET mobisign.database" >/dev/null
	dbq postgres "SELECT pg_reload_conf()" >/dev/null
	within 3 "mobisign.database = '' again: msb has a worker" has_worker msb
	within 3 "... and msu" has_worker msu
	within 30 "msb's worker is bound again" bound_in msb
}

drop_database() {
	local pa mark t0 ms rc
	pa=$(workers_of msa)
	mark=$(log_mark)
	t0=$(now_ms)
	dbq postgres "DROP DATABASE msb" >"$WORK/dropdb.out"
	rc=$?
	ms=$(($(now_ms) - t0))
	echo "# DROP DATABASE msb took $ms ms"
	ms_check "DROP DATABASE msb (its worker bound) succeeds" "0 " "$rc $(cat "$WORK/dropdb.out")"
	ms_check_cmd "... in under 4 s (a refused drop waits 5 s for other sessions): $ms ms" test "$ms" -lt 4000
	log_since "$mark" >"$WORK/dropdb.log"
	ms_check_grep "... the worker was stopped for it" 'its database "msb" is being dropped' "$WORK/dropdb.log"
	ms_check_grep "... cleanly" "mobisign worker stopped" "$WORK/dropdb.log"
	ms_check "... no FATAL from a worker started in the dropped database" 0 \
		"$(grep -c 'FATAL' "$WORK/dropdb.log")"
	ms_check "msa's worker is untouched" "$pa" "$(workers_of msa)"
	dbq postgres "DROP DATABASE msu" >/dev/null
	ms_check "DROP DATABASE msu too" "" "$(dbq postgres "SELECT datname FROM pg_database WHERE datname = 'msu'")"
}

restore() {
	local t0 mark
	"$PGBIN/pg_dump" -h "$PG" -p "$PGPORT_T" -U postgres -Fc -d msa -f "$WORK/msa.dump" 2>"$WORK/dump.err"
	ms_check "pg_dump of msa" "" "$(cat "$WORK/dump.err")"
	mark=$(log_mark)
	dbq postgres "DROP DATABASE msa" >/dev/null
	ms_check_cmd "msa dropped, no worker left there" no_worker msa
	dbq postgres "CREATE DATABASE msa" >/dev/null
	t0=$(now_ms)
	"$PGBIN/pg_restore" -h "$PG" -p "$PGPORT_T" -U postgres -d msa --single-transaction --exit-on-error \
		"$WORK/msa.dump" >"$WORK/restore.log" 2>&1
	ms_check "pg_restore --single-transaction into the re-created msa" 0 $?
	within 3 "the re-created msa has a worker again" has_worker msa
	within 30 "... bound with the restored SMSC link" bound_in msa
	ms_check "... and an authentication completes" "completed 502" "$(auth msa user0003)"
	log_since "$mark" >"$WORK/restore-server.log"
	ms_check "no worker crashed or failed on the way" "" \
		"$(grep -E 'terminated by signal|exited with exit code [1-9]' "$WORK/restore-server.log")"
}

sigterm() {
	local w mark
	w=$(workers_of msa)
	mark=$(log_mark)
	kill -TERM "$w"
	ms_wait_until 10 ms_gone "$w"
	ms_check_cmd "SIGTERM: worker $w exited" ms_gone "$w"
	within 10 "the launcher started a new worker in msa" has_worker msa
	ms_check_cmd "... a new process (not $w)" test "$(workers_of msa)" != "$w"
	log_since "$mark" >"$WORK/sigterm.log"
	ms_check_grep "the old one stopped cleanly" "mobisign worker stopped" "$WORK/sigterm.log"
	ms_check "exit code 0, no crash restart" "" \
		"$(grep -E 'terminated by signal|exited with exit code [1-9]' "$WORK/sigterm.log")"
	within 30 "the new worker is bound" bound_in msa
}

kill9() {
	local w l mark
	w=$(workers_of msa)
	l=$(launcher_pid)
	mark=$(log_mark)
	kill -9 "$w"
	sleep 1
	ms_wait_until 30 server_ready
	log_since "$mark" >"$WORK/kill9.log"
	ms_check_grep "PostgreSQL treats it as a crash and restarts every process" \
		"terminated by signal 9" "$WORK/kill9.log"
	within 30 "a new launcher runs (not $l)" launcher_other "$l"
	within 30 "msa has one worker again" has_worker msa
	ms_check_cmd "... a new process (not $w)" test "$(workers_of msa)" != "$w"
	within 30 "... bound" bound_in msa
	ms_check "an authentication completes" "completed 502" "$(auth msa user0004)"
	ms_check_cmd "msc (extension dropped) still has none" no_worker msc
}

launcher_restart() {
	local w l
	w=$(workers_of msa)
	l=$(launcher_pid)
	dbq postgres "SELECT pg_terminate_backend($l)" >/dev/null
	ms_wait_until 5 ms_gone "$l"
	ms_check_cmd "the launcher $l was terminated" ms_gone "$l"
	within 20 "the postmaster restarted the launcher" launcher_other "$l"
	# wake it: a scan now, with a worker it did not start
	dbq postgres "CREATE DATABASE msv" >/dev/null
	sleep 1
	ms_check "msa keeps its worker, adopted, not doubled" "$w" "$(workers_of msa)"
	dbq postgres "DROP DATABASE msv" >/dev/null
	# an adopted worker has no handle of this launcher: it still stops when
	# its database is no longer selected, and comes back when it is again
	dbq postgres "ALTER SYSTEM SET mobisign.database = 'postgres'" >/dev/null
	dbq postgres "SELECT pg_reload_conf()" >/dev/null
	within 5 "msa deselected: its adopted worker $w stops" no_worker msa
	dbq postgres "ALTER SYSTEM RESET mobisign.database" >/dev/null
	dbq postgres "SELECT pg_reload_conf()" >/dev/null
	within 5 "msa selected again: it has a worker" has_worker msa
}

# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------
for s in two_databases create_extension drop_extension template selection drop_database restore \
	sigterm kill9 launcher_restart; do
	ms_scenario "$s" "$s"
done
ms_summary
