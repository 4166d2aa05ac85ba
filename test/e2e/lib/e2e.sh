# shellcheck shell=bash
# Shared set-up of the end-to-end suites (test/e2e/NN_*.sh): a work
# directory and its clean-up, private clusters, the SIM simulator, the
# worker's state, batches of transactions and a LISTEN client. It sources
# test/lib.sh (checks, scenarios, clusters); a suite sources only this:
#
#   . "$(dirname "$0")/lib/e2e.sh"
#
# It lives in a folder of its own: test/run.sh runs every test/e2e/*.sh.
#
# Invariants: everything a suite starts in the background goes through
# ms_bg (its PID is remembered and only that PID is ever signalled); every
# cluster goes through ms_e2e_cluster (owned by postgres, in WORK, stopped
# at exit, pass or fail); every wait is bounded in time (ms_wait_until).
#
# Work directory and exit
#   ms_e2e_init
#       WORK = a new temp dir the postgres user can read, SIM_BIN = the
#       simulator (must be built), and an EXIT trap: calls the suite's
#       e2e_on_exit if it defines one, on failure its e2e_on_failure (the
#       clusters are still up) and the tail of every server log; stops every
#       ms_bg process and every cluster; removes WORK unless KEEP=1 or a
#       check failed (then it says where WORK is).
#       A command that does not exist (a misspelt helper: its checks would
#       silently not run) is reported and fails the suite.
#   ms_e2e_die MESSAGE
#       a failed check, then exit (for set-up that later checks depend on).
#   ms_bg COMMAND [ARGS...]        (redirect as usual: ms_bg cmd >log 2>&1)
#       starts COMMAND in the background; its PID in MS_BG_PID. The
#       redirections are opened by the caller's shell: for a FIFO as
#       standard input use ms_bg_from.
#   ms_bg_from FILE COMMAND [ARGS...]
#       the same with standard input from FILE, opened by COMMAND's process
#       (a FIFO blocks until it has a writer).
#   ms_bg_stop PID...
#       SIGTERM to these ms_bg processes, waits for them, forgets them.
#   ms_e2e_ports VAR...
#       sets each VAR to a free loopback port, all different.
#   ms_listening PORT / ms_wait_port PORT [SECONDS]
#       something accepts connections on 127.0.0.1:PORT / waits for it (10 s).
#
# Clusters
#   ms_e2e_cluster_start DIR PORT [postgresql.conf lines...]
#       ms_cluster_start in DIR (created), stopped at exit.
#   ms_e2e_cluster DIR PORT DB [postgresql.conf lines...]
#       a private cluster in DIR (created) whose worker serves database DB
#       (created unless postgres), CREATE EXTENSION mobisign there;
#       exports PGDATABASE=DB for ms_psql and q.
#   q SQL
#       the SQL's result (psql -qAt, stderr included) in PGDATABASE.
#   ms_reload
#       pg_reload_conf() (the worker re-reads mobisign.smsc as well).
#
# The simulator (test/sim)
#   ms_sim_provision DIR PORT USERS [provision args...]
#   ms_sim_register DIR [FILE]     DIR/register.sql (or FILE, an edited
#                                  copy): PKI, users, SIM keys, the SMSC
#                                  link 'sim' (a check)
#   ms_sim_start DIR PORT LOG [run args...]   (ms_bg; SIM_PID)
#   ms_sim_file DIR NAME [LINE...]  writes DIR/NAME (behaviour, faults) at
#                                  once, the simulator re-reads it
#   ms_sim_behaviour DIR LINE...    ms_sim_file behaviour, then 0.3 s
#   ms_sim_conf DIR KEY             a value of DIR/sim.conf
#
# The worker and transactions
#   ms_worker_pid                   the running worker's PID, or nothing
#   ms_check_worker_alive           a check: worker_stats.pid is WORKER_PID
#   ms_gone PID                     true once that process has exited
#   ms_fails COMMAND [ARGS...]      true when COMMAND fails (output dropped)
#   ms_links                        "links_bound/links_configured"
#   ms_links_bound [N]              true when N (1) of N links are bound
#   ms_check_bound DESCRIPTION [N] [SECONDS]  waits (30 s), then a check
#   ms_authenticate_range FIRST LAST TAG [TIMEOUT]
#       one mobisign_authenticate per user FIRST..LAST (user0001...) with
#       application TAG; prints the transaction ids, one a line
#   ms_open_count TAG / ms_status_count TAG CODE / ms_tag_count TAG
#   ms_tag_final TAG                true when no transaction of TAG is open
#   ms_wait_tag_final TAG SECONDS   waits for it, says what is left open
#   ms_final_audit_once TAG         every transaction of TAG has exactly
#                                   one final audit row
#   ms_listen_start LOG [SECONDS]   a client that LISTENs on mobisign and
#                                   logs what it receives (for SECONDS, 300)
#   ms_listen_stop                  ends it (what came is in LOG)

# shellcheck source=../../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/lib.sh"

SIM_BIN=$MOBISIGN_ROOT/test/sim/mobisign-sim
MS_BG_PIDS=()
MS_E2E_CLUSTERS=()

ms_e2e_die() {
	ms_not_ok "$*"
	exit 1
}

# bash runs this, in a subshell, for a command it cannot find
command_not_found_handle() {
	echo "FAIL - command not found: $*" >&2
	[ -n "${WORK:-}" ] && touch "$WORK/.command-not-found"
	return 127
}

ms_e2e_init() {
	WORK=$(ms_readable_dir) || exit 1
	trap ms_e2e_exit EXIT
	trap 'exit 130' INT TERM
	[ -x "$SIM_BIN" ] || ms_e2e_die "$SIM_BIN is not built (run make)"
}

ms_e2e_exit() {
	local rc=$? c
	[ "$MS_FAILS" -ne 0 ] && [ "$rc" -eq 0 ] && rc=1
	if [ -e "$WORK/.command-not-found" ]; then
		echo "FAIL - a command was not found (see above): the checks it would have made did not run"
		rc=1
	fi
	[ -n "${MS_LISTEN_LOG:-}" ] && touch "$MS_LISTEN_LOG.stop"
	declare -F e2e_on_exit >/dev/null && e2e_on_exit
	if [ "$rc" -ne 0 ]; then
		declare -F e2e_on_failure >/dev/null && e2e_on_failure
		for c in "${MS_E2E_CLUSTERS[@]}"; do
			echo "# server log $c/log (last 40 lines but for audit sealing):"
			grep -v 'audit_seal' "$c/log" 2>/dev/null | tail -n 40 | sed 's/^/#   /'
		done
	fi
	ms_bg_stop "${MS_BG_PIDS[@]}"
	for c in "${MS_E2E_CLUSTERS[@]}"; do
		ms_cluster_stop "$c"
	done
	if [ "${KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
		echo "# work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}

ms_bg() {
	"$@" &
	MS_BG_PID=$!
	MS_BG_PIDS+=("$MS_BG_PID")
}

ms_bg_from() {
	local in=$1
	shift
	"$@" <"$in" &
	MS_BG_PID=$!
	MS_BG_PIDS+=("$MS_BG_PID")
}

ms_bg_stop() {
	local p keep=() k
	[ $# -gt 0 ] || return 0
	ms_stop_pids "$@"
	for k in "${MS_BG_PIDS[@]}"; do
		for p in "$@"; do
			[ "$k" = "$p" ] && continue 2
		done
		keep+=("$k")
	done
	MS_BG_PIDS=("${keep[@]}")
}

ms_e2e_ports() {
	local v p taken=" " i
	for v in "$@"; do
		for i in 1 2 3 4 5 6 7 8 9 10; do
			p=$(ms_free_port) || return 1
			[[ "$taken" == *" $p "* ]] || break
		done
		taken="$taken$p "
		printf -v "$v" '%s' "$p"
	done
}

ms_listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

ms_wait_port() {
	ms_wait_until "${2:-10}" ms_listening "$1" && return 0
	echo "# nothing listens on $1"
	return 1
}

ms_e2e_cluster_start() {
	local dir=$1 port=$2
	shift 2
	mkdir -p "$dir"
	ms_cluster_start "$dir" "$port" "$@" || ms_e2e_die "the cluster in $dir did not start"
	MS_E2E_CLUSTERS+=("$dir")
}

ms_e2e_cluster() {
	local dir=$1 port=$2 db=$3
	shift 3
	ms_e2e_cluster_start "$dir" "$port" "mobisign.database = '$db'" "$@"
	if [ "$db" != postgres ]; then
		ms_psql -q -d postgres -c "CREATE DATABASE $db" || ms_e2e_die "CREATE DATABASE $db"
	fi
	export PGDATABASE=$db
	ms_psql -q -c "CREATE EXTENSION mobisign" || ms_e2e_die "CREATE EXTENSION mobisign"
}

q() {
	ms_psql -qAt -c "$1" 2>&1
}

ms_reload() {
	q "SELECT pg_catalog.pg_reload_conf()" >/dev/null
}

# ---- the simulator ----------------------------------------------------------

ms_sim_provision() {
	local dir=$1 port=$2 users=$3
	shift 3
	"$SIM_BIN" provision --dir "$dir" --users "$users" --port "$port" "$@" >"$dir.provision.log" 2>&1 || {
		sed 's/^/#   /' "$dir.provision.log"
		ms_e2e_die "mobisign-sim provision --users $users $*"
	}
	[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$dir"
	return 0
}

ms_sim_register() {
	if ms_psql -q -f "${2:-$1/register.sql}" >"$1.register.log" 2>&1; then
		ms_ok "register.sql configured the PKI, users, SIM keys and the SMSC link"
	else
		tail -n 5 "$1.register.log" | sed 's/^/#   /'
		ms_e2e_die "register.sql"
	fi
}

ms_sim_start() {
	local dir=$1 port=$2 log=$3
	shift 3
	ms_bg "$SIM_BIN" run --dir "$dir" --port "$port" "$@" >"$log" 2>&1
	SIM_PID=$MS_BG_PID
}

ms_sim_file() {
	local f=$1/$2
	shift 2
	if [ $# -eq 0 ]; then
		: >"$f.new"
	else
		printf '%s\n' "$@" >"$f.new"
	fi
	mv "$f.new" "$f"
}

ms_sim_behaviour() {
	local dir=$1
	shift
	ms_sim_file "$dir" behaviour "$@"
	sleep 0.3
}

ms_sim_conf() {
	awk -v k="$2" '$1 == k {print $2}' "$1/sim.conf"
}

# ---- the worker and transactions ----------------------------------------------

ms_worker_pid() {
	ms_psql -qAt -c "SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = 'mobisign worker'" 2>/dev/null
}

ms_check_worker_alive() {
	ms_check "the worker survived (same pid)" "$WORKER_PID" "$(q "SELECT pid FROM mobisign.worker_stats")"
}

ms_gone() {
	! kill -0 "$1" 2>/dev/null
}

ms_fails() {
	! "$@" >/dev/null 2>&1
}

ms_links() {
	ms_psql -qAt -c "SELECT links_bound || '/' || links_configured FROM mobisign.worker_stats" 2>/dev/null
}

ms_links_bound() {
	[ "$(ms_links)" = "${1:-1}/${1:-1}" ]
}

ms_check_bound() {
	local n=${2:-1}
	ms_wait_until "${3:-30}" ms_links_bound "$n"
	ms_check "$1" "$n/$n" "$(ms_links)"
}

ms_authenticate_range() {
	q "SELECT (mobisign_authenticate(pg_catalog.format('user%s', pg_catalog.lpad(g::text, 4, '0')),
	                                  '$3', '${4:-3 min}')).transaction_id
	     FROM pg_catalog.generate_series($1, $2) g"
}

ms_open_count() {
	q "SELECT count(*) FROM mobisign.transaction WHERE application = '$1' AND mobisign._is_open(state)"
}

ms_status_count() {
	q "SELECT count(*) FROM mobisign.transaction WHERE application = '$1' AND status_code = $2"
}

ms_tag_count() {
	q "SELECT count(*) FROM mobisign.transaction WHERE application = '$1'"
}

ms_tag_final() {
	[ "$(ms_open_count "$1")" = 0 ]
}

ms_wait_tag_final() {
	ms_wait_until "$2" ms_tag_final "$1" && return 0
	echo "# $1: $(ms_open_count "$1") transaction(s) still open after $2 s"
	return 1
}

ms_final_audit_once() {
	local bad
	bad=$(q "SELECT count(*) FROM mobisign.transaction t
	          WHERE t.application = '$1' AND (SELECT count(*) FROM mobisign.audit a
	                 WHERE a.transaction_id = t.id AND a.operation IN
	                 ('transaction.completed', 'transaction.failed', 'transaction.expired',
	                  'transaction.cancelled')) <> 1")
	[ "$bad" = 0 ] || { echo "# $1: $bad transaction(s) without exactly one final audit row"; return 1; }
}

# ---- a LISTEN client ----------------------------------------------------------

ms_listen_start() {
	local log=$1 secs=${2:-300}
	MS_LISTEN_LOG=$log
	rm -f "$log.stop"
	# psql prints a notification after the statement during which it came:
	# one short statement every 0.2 s, until the stop file or SECONDS
	{
		echo "LISTEN mobisign;"
		echo "SELECT 'listening';"
		for _ in $(seq 1 $((secs * 5))); do
			[ -e "$log.stop" ] && break
			echo "SELECT 1;"
			sleep 0.2
		done
	} | "$PGBIN/psql" -X -qAt >"$log" 2>&1 &
	MS_LISTEN_PID=$!
	MS_BG_PIDS+=("$MS_LISTEN_PID")
	ms_wait_until 10 grep -q listening "$log" || ms_e2e_die "the LISTEN client did not start"
}

ms_listen_stop() {
	touch "$MS_LISTEN_LOG.stop"
	ms_wait_until 5 ms_gone "$MS_LISTEN_PID"
	ms_bg_stop "$MS_LISTEN_PID"
}
