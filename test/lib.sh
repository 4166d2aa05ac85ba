# shellcheck shell=bash
# Shared helpers for mobisign's test scripts. Source it:
#
#   . "$(dirname "$0")/../lib.sh"      (or wherever it is relative to you)
#
# Exports PGBIN, MOBISIGN_ROOT (the repository), MOBISIGN_SHARED (../shared
# beside the repository: read-only docs and external test data).
#
# Functions:
#   ms_cluster_start DIR PORT [extra postgresql.conf lines...]
#       initdb a private cluster in DIR/data as the postgres OS user (trust
#       auth), unix socket in DIR, listen on 127.0.0.1:PORT,
#       shared_preload_libraries = 'mobisign', mobisign.database = 'postgres'
#       (unless a later line says otherwise), log in DIR/log; waits until it
#       accepts connections. DIR must exist (mktemp -d); it is handed to postgres.
#       The server inherits no descriptor above 2 (ms_close_fds): not a lock
#       held by `flock LOCK ...` around the caller.
#   ms_cluster_stop DIR
#       pg_ctl stop -m fast for that cluster only (its own postmaster.pid).
#   ms_psql [psql args...]
#       psql -X -v ON_ERROR_STOP=1 against the cluster last started (or
#       PGHOST/PGPORT set by the caller), as user postgres.
#   ms_free_port
#       prints a free loopback TCP port.
#   ms_readable_dir
#       prints a new temp dir (under MOBISIGN_TMPDIR, default /tmp) that the
#       postgres OS user can read (for files the server must read, e.g.
#       pg_read_binary_file or COPY FROM a file).
#
# Suites written as named scenarios (e.g. test/e2e/35_smpp_tls.sh):
#   ms_scenario NAME FUNCTION [ARGS...]
#       runs one scenario: prints "# scenario NAME", then FUNCTION ARGS; the
#       checks it makes are counted under that name; returns FUNCTION's
#       status. With MS_SCENARIO="NAME..." in the environment only the
#       scenarios named there run (the others print "skipped"); a name that
#       no scenario has is a failure in ms_summary.
#   ms_wanted NAME...
#       true when one of these scenarios runs (for set-up only they need).
#   ms_ok DESCRIPTION / ms_not_ok DESCRIPTION
#       one passed / failed check ("ok   - NAME: ..." / "FAIL - NAME: ...").
#   ms_check DESCRIPTION EXPECTED ACTUAL
#       passes when ACTUAL is exactly EXPECTED.
#   ms_check_ge DESCRIPTION MINIMUM ACTUAL
#       passes when ACTUAL is an integer of at least MINIMUM.
#   ms_check_match DESCRIPTION EXTENDED_REGEX ACTUAL
#       passes when ACTUAL (any number of lines) matches the regex.
#   ms_check_grep DESCRIPTION EXTENDED_REGEX FILE...
#       passes when a line of the files matches.
#   ms_check_cmd DESCRIPTION COMMAND [ARGS...]
#       passes when COMMAND succeeds (for conditions no value shows; the
#       failure names the command).
#   ms_wait_until SECONDS COMMAND [ARGS...]
#       runs COMMAND every 0.2 s until it succeeds (true) or SECONDS pass
#       (false); the only way these suites wait for something.
#   ms_summary
#       prints "# N checks, M failed" and returns 1 if any failed.
#   ms_sqlstate SQL
#       the SQLSTATE the statement fails with, "none" if it succeeds.
#   ms_stop_pids PID...
#       SIGTERM to each of these processes (started by the caller), then
#       waits for each.
#
# The demos (test/demo.sh, test/demo-web.sh):
#   ms_say TEXT
#       a bold "== TEXT" heading.
#   ms_demo_prepare
#       test/deps.sh (unless MOBISIGN_SKIP_DEPS=1), then build and install
#       (into MOBISIGN_DESTDIR when set), one build on the machine at a time;
#       sets sim (the simulator), work (a new readable temp dir), pg_port and
#       smpp_port (DEMO_PG_PORT, DEMO_SMPP_PORT, else free ports).

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
MOBISIGN_ROOT=${MOBISIGN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MOBISIGN_SHARED=${MOBISIGN_SHARED:-$(cd "$MOBISIGN_ROOT/.." && pwd)/shared}
export PGBIN MOBISIGN_ROOT MOBISIGN_SHARED

# Run a command as the postgres OS user when we are root (PostgreSQL refuses
# root); as anyone else run it as ourselves.
ms_as_pg() {
	# from / : the caller's directory may be unreadable to postgres
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

ms_readable_dir() {
	local d
	d=$(mktemp -d "${MOBISIGN_TMPDIR:-/tmp}/mobisign-test.XXXXXX") || return 1
	chmod 0755 "$d"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$d"
	fi
	printf '%s\n' "$d"
}

ms_free_port() {
	# Ask the kernel for an ephemeral port, then check nothing listens there.
	local port i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()') || return 1
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	echo "ms_free_port: no free port found" >&2
	return 1
}

# Close every descriptor above 2 (in a subshell, before starting a server):
# under `flock LOCK command` one of them is the lock, and a server that
# inherits it holds the lock for as long as it runs (a cluster kept between
# runs, test/regress/cluster.sh, would block every other user of the lock).
ms_close_fds() {
	local fd
	for fd in $(ls "/proc/$BASHPID/fd" 2>/dev/null); do
		if [ "$fd" -gt 2 ] && [ "$fd" -lt 255 ]; then
			eval "exec $fd>&-" 2>/dev/null
		fi
	done
	return 0
}

ms_cluster_start() {
	local dir=$1 port=$2
	shift 2 || { echo "usage: ms_cluster_start DIR PORT [conf lines...]" >&2; return 2; }
	[ -d "$dir" ] || { echo "ms_cluster_start: $dir is not a directory" >&2; return 2; }
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$dir"
		chmod 0755 "$dir"
	fi
	ms_as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
		--no-sync >"$dir/initdb.log" 2>&1 || {
		echo "ms_cluster_start: initdb failed:" >&2
		cat "$dir/initdb.log" >&2
		return 1
	}
	{
		echo "# mobisign test cluster"
		echo "port = $port"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = 'mobisign'"
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
		echo "max_connections = 50"
		echo "log_min_messages = warning"
		echo "log_line_prefix = '%m [%p] %q%u@%d '"
		# the suites that play the worker themselves (pg_regress, pgTAP) run
		# in databases of their own: workers only where a suite asks (a
		# later mobisign.database line wins; '' = every database)
		echo "mobisign.database = 'postgres'"
		local line
		for line in "$@"; do
			echo "$line"
		done
	} | ms_as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
	if ! (ms_close_fds && ms_as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null); then
		echo "ms_cluster_start: the server did not start; $dir/log:" >&2
		tail -n 30 "$dir/log" >&2 || true
		return 1
	fi
	local i
	for i in $(seq 1 100); do
		if "$PGBIN/pg_isready" -q -h "$dir" -p "$port" -U postgres; then
			break
		fi
		sleep 0.1
	done
	export PGHOST=$dir PGPORT=$port PGUSER=postgres
	MS_CLUSTER_DIR=$dir
	MS_CLUSTER_PORT=$port
}

ms_cluster_stop() {
	local dir=${1:-${MS_CLUSTER_DIR:-}}
	[ -n "$dir" ] && [ -f "$dir/data/postmaster.pid" ] || return 0
	ms_as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || {
		# still up after a minute: stop it by its own pid only
		local pid
		pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -QUIT "$pid" 2>/dev/null || true
		fi
	}
}

ms_psql() {
	PGHOST=${PGHOST:-${MS_CLUSTER_DIR:-}} PGPORT=${PGPORT:-${MS_CLUSTER_PORT:-5432}} PGUSER=${PGUSER:-postgres} \
		"$PGBIN/psql" -X -v ON_ERROR_STOP=1 "$@"
}

# The SQL profile of a bench cluster loaded with pg_stat_statements and
# track_functions: its top LIMIT statements by total time and functions by
# self time (test/bench/enqueue.sh, e2e.sh)
ms_sql_profile() {
	local limit=$1 what=$2
	echo "== profile: statements by total time ($what)"
	# plans: how often it was planned (with pg_stat_statements.track_planning;
	# a statement planned at every call in a PL/pgSQL function is on custom
	# plans), plan_ms their time, not in ms
	ms_psql -P pager=off -c "SELECT round(total_exec_time::numeric, 1) AS ms, calls,
	        round((total_exec_time / calls)::numeric, 4) AS ms_per_call, plans, round(total_plan_time::numeric, 1) AS plan_ms,
	        left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS query
	   FROM pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time + total_plan_time DESC LIMIT $limit"
	echo "== profile: functions by self time"
	ms_psql -P pager=off -c "SELECT funcname, calls, round(self_time::numeric, 1) AS self_ms, round(total_time::numeric, 1) AS total_ms
	   FROM pg_stat_user_functions ORDER BY self_time DESC LIMIT $limit"
}

# ---- named scenarios, checks and bounded waits ----------------------------

# MS_SCENARIO from the environment selects scenarios; from here on the
# variable names the scenario that runs (it prefixes every check line)
MS_ONLY=${MS_SCENARIO:-}
MS_SCENARIO=
MS_RAN=" "
MS_CHECKS=0
MS_FAILS=0

ms_wanted() {
	local n
	[ -z "$MS_ONLY" ] && return 0
	for n in "$@"; do
		[[ " $MS_ONLY " == *" $n "* ]] && return 0
	done
	return 1
}

ms_scenario() {
	local rc
	if ! ms_wanted "$1"; then
		echo "# scenario $1 skipped (MS_SCENARIO=$MS_ONLY)"
		return 0
	fi
	MS_SCENARIO=$1
	MS_RAN="$MS_RAN$1 "
	shift
	echo "# scenario $MS_SCENARIO"
	"$@"
	rc=$?
	MS_SCENARIO=
	return $rc
}

ms_ok() {
	MS_CHECKS=$((MS_CHECKS + 1))
	echo "ok   - ${MS_SCENARIO:+$MS_SCENARIO: }$*"
}

ms_not_ok() {
	MS_CHECKS=$((MS_CHECKS + 1))
	MS_FAILS=$((MS_FAILS + 1))
	echo "FAIL - ${MS_SCENARIO:+$MS_SCENARIO: }$*"
}

ms_check() {
	if [ "$2" = "$3" ]; then
		ms_ok "$1"
	else
		ms_not_ok "$1 (expected '$2', got '$3')"
	fi
}

ms_check_ge() {
	if [[ "$3" =~ ^-?[0-9]+$ ]] && [ "$3" -ge "$2" ]; then
		ms_ok "$1"
	else
		ms_not_ok "$1 (expected at least $2, got '$3')"
	fi
}

ms_check_match() {
	if [[ "$3" =~ $2 ]]; then
		ms_ok "$1"
	else
		ms_not_ok "$1 (expected a match of /$2/, got '$3')"
	fi
}

ms_check_cmd() {
	local what=$1
	shift
	if "$@"; then
		ms_ok "$what"
	else
		ms_not_ok "$what (failed: $*)"
	fi
}

ms_check_grep() {
	local what=$1 re=$2
	shift 2
	if grep -Eq -- "$re" "$@" 2>/dev/null; then
		ms_ok "$what"
	else
		ms_not_ok "$what (no line matches /$re/)"
	fi
}

ms_wait_until() {
	local secs=$1 i
	shift
	for i in $(seq 1 $((secs * 5))); do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}

ms_summary() {
	local n
	for n in $MS_ONLY; do
		[[ "$MS_RAN" == *" $n "* ]] || ms_not_ok "MS_SCENARIO names '$n', which no scenario here is"
	done
	echo "# $MS_CHECKS checks, $MS_FAILS failed${MS_ONLY:+ (only: $MS_ONLY)}"
	[ "$MS_FAILS" -eq 0 ]
}

ms_sqlstate() {
	local out
	if out=$(ms_psql -qAt -v VERBOSITY=verbose -c "$1" 2>&1); then
		echo none
	else
		printf '%s\n' "$out" | sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' | head -n 1
	fi
}

ms_stop_pids() {
	local p
	for p in "$@"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		wait "$p" 2>/dev/null || true
	done
}

ms_say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

ms_demo_prepare() {
	ms_say "dependencies"
	if [ "${MOBISIGN_SKIP_DEPS:-0}" != 1 ]; then
		bash "$MOBISIGN_ROOT/test/deps.sh" || return 1
	fi
	ms_say "build and install"
	(cd "$MOBISIGN_ROOT" && flock /tmp/mobisign-build.lock make -s &&
		flock /tmp/mobisign-build.lock make -s install ${MOBISIGN_DESTDIR:+DESTDIR=$MOBISIGN_DESTDIR}) || return 1
	sim=$MOBISIGN_ROOT/test/sim/mobisign-sim
	[ -x "$sim" ] || { echo "$sim was not built" >&2; return 1; }
	work=$(ms_readable_dir) || return 1
	pg_port=${DEMO_PG_PORT:-$(ms_free_port)}
	smpp_port=${DEMO_SMPP_PORT:-$(ms_free_port)}
}
