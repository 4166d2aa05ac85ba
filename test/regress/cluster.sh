#!/usr/bin/env bash
# A private cluster for the inner loop (docs/testing.md), kept running
# between runs:
#
#   eval "$(bash test/regress/cluster.sh start)"   # starts it once, prints
#                                                   # export PGHOST=... PGPORT=... PGUSER=postgres
#   make check-one SUITE=80_sim_flow               # as often as you like
#   bash test/regress/cluster.sh stop
#
# The cluster lives in DIR (default /tmp/mobisign-dev-<uid>, or
# MOBISIGN_DEV_CLUSTER), is made by test/lib.sh's ms_cluster_start (runs as
# the postgres OS user when started by root, mobisign preloaded) on a free
# loopback port, and is stopped only by its own pid file.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
DIR=${MOBISIGN_DEV_CLUSTER:-/tmp/mobisign-dev-$(id -u)}

case ${1:-} in
start)
	if [ -f "$DIR/data/postmaster.pid" ] && [ -f "$DIR/port" ] &&
		"$PGBIN/pg_isready" -q -h "$DIR" -p "$(cat "$DIR/port")"; then
		port=$(cat "$DIR/port")
	else
		rm -rf "$DIR"
		mkdir -p "$DIR"
		port=$(ms_free_port)
		ms_cluster_start "$DIR" "$port" >&2
		echo "$port" >"$DIR/port"
	fi
	echo "export PGHOST=$DIR PGPORT=$port PGUSER=postgres"
	;;
stop)
	ms_cluster_stop "$DIR"
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
