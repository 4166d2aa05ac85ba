#!/usr/bin/env bash
# Where the time of one verification goes: perf samples of a backend running
# one bench() loop (test/bench/setup.sql) per operation, reported by shared
# object and by exported symbol (libcrypto and postgres are stripped of their
# internal symbols, so inclusive times of exported functions are shown).
#
#   test/bench/profile.sh [OP...]
# OP is op:who as in setup.sql, e.g. cms_verify:gina-ec (default: the six
# API operations).  PROFILE_SECONDS (default 3) per operation.
# MOBISIGN_DESTDIR as for run.sh (a private PostgreSQL copy, no lock needed);
# otherwise the installed extension is used (make install first, under the lock).
# PROFILE_KEEP=DIR keeps each operation's perf data as DIR/<op>:<who>.data
# (for perf report -i ... --children --stdio -G: call graphs of the callees).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$MOBISIGN_ROOT"
secs=${PROFILE_SECONDS:-3}
command -v perf >/dev/null || { echo "profile: perf is missing (apt-get install linux-perf)" >&2; exit 2; }
ops=("$@")
[ ${#ops[@]} -gt 0 ] || ops=(cms_verify:gina-ec validate:gina-ec raw_verify:gina-ec
	cms_verify:dora-rsa validate:dora-rsa raw_verify:dora-rsa)

if [ -n "${MOBISIGN_DESTDIR:-}" ]; then
	make -s all >/dev/null && make -s install DESTDIR="$MOBISIGN_DESTDIR" >/dev/null
	PGBIN=$MOBISIGN_DESTDIR/usr/lib/postgresql/15/bin
fi
work=$(ms_readable_dir)
psql_pid=
cleanup() {
	[ -n "$psql_pid" ] && kill "$psql_pid" 2>/dev/null && wait "$psql_pid" 2>/dev/null
	ms_cluster_stop "$work/pg" || true
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/fx" "$work/pg"
bash test/fixtures/generate.sh "$work/fx" >/dev/null
chmod -R a+rX "$work/fx"
ms_cluster_start "$work/pg" "$(ms_free_port)" >/dev/null
ms_psql -q -c "CREATE EXTENSION mobisign" >/dev/null
ms_psql -q -v fx="$work/fx" -f test/bench/setup.sql >/dev/null

for spec in "${ops[@]}"; do
	op=${spec%%:*} who=${spec#*:}
	echo "== $op $who"
	# warm up, then sample the middle of a longer loop
	ms_psql -qAt -c "SELECT 'backend ' || pg_backend_pid(), (bench('$op', '$who', $secs + 2)).per_second" >"$work/out" &
	psql_pid=$!
	pid=
	for _ in $(seq 1 50); do
		pid=$(sed -n 's/^backend \([0-9]*\).*/\1/p' "$work/out" 2>/dev/null || true)
		[ -n "$pid" ] && break
		pid=$(ms_psql -qAt -c "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT ''backend %' AND pid <> pg_backend_pid()")
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] || { echo "profile: no backend found" >&2; exit 1; }
	sleep 1
	perf record -F 1000 --call-graph dwarf,8192 -o "$work/perf.data" -p "$pid" -- sleep "$secs" >"$work/perf.log" 2>&1 </dev/null ||
		{ echo "profile: perf record failed ($?, backend $pid):" >&2; cat "$work/perf.log" >&2; exit 1; }
	wait "$psql_pid"
	psql_pid=
	[ -z "${PROFILE_KEEP:-}" ] || cp "$work/perf.data" "$PROFILE_KEEP/$spec.data"
	echo "   $(cut -d'|' -f2 "$work/out") calls/s (while sampled)"
	echo "   -- by shared object (self)"
	perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -8 || true	# (head ends the pipe early)
	echo "   -- exported functions (inclusive)"
	perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9.]+%' | grep -v '0x0000' | head -45 || true
done
