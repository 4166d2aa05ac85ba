#!/usr/bin/env bash
# make bench, the enqueue path: mobisign_authenticate() from BENCH_CLIENTS
# (default 8) pgbench clients against the reference measured in the same
# cluster, the same run, with the same clients: a plain INSERT of a row of the
# same width (the transaction row plus its queue row, measured) into a table
# with a primary key and a second index.
#
#   RESULT enqueue_authenticate_8c value=<calls/s> calls/s reference=<inserts/s> ratio=<v/r> target=0.5 pass|short
#
# Each round authenticates every provisioned user once (pgbench -t, a
# sequence picks the next user), then every open transaction is cancelled
# (not timed: one open request per user).  BENCH_ENQ_PER_CLIENT (default 300)
# calls per client per round, best of BENCH_ENQ_ROUNDS (default 3) rounds for
# both.  The SMSC link is disabled: only the enqueueing is measured (the worker
# still runs: it seals the audit rows as in production).
# BENCH_ENQ_PROFILE=1 also prints pg_stat_statements' top statements and the
# functions' self times (track_functions) of one more round.
# MOBISIGN_DESTDIR: as test/bench/run.sh (PGBIN is taken from the caller).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$MOBISIGN_ROOT"
clients=${BENCH_CLIENTS:-8}
per=${BENCH_ENQ_PER_CLIENT:-300}
rounds=${BENCH_ENQ_ROUNDS:-3}
profile=${BENCH_ENQ_PROFILE:-0}
users=$((clients * per))

work=$(ms_readable_dir)
cleanup() {
	ms_cluster_stop "$work/pg" || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== enqueue: mobisign_authenticate() vs INSERT, $clients clients, $users calls a round"
test/sim/mobisign-sim provision --dir "$work/sim" --users "$users" --port "$(ms_free_port)" >/dev/null
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$work/sim"
mkdir -p "$work/pg"
conf=("max_connections = 50")
[ "$profile" = 1 ] && conf+=("shared_preload_libraries = 'mobisign,pg_stat_statements'"
	"track_functions = all" "pg_stat_statements.track = all")
ms_cluster_start "$work/pg" "$(ms_free_port)" "${conf[@]}" >/dev/null
ms_psql -q -c "CREATE EXTENSION mobisign" >/dev/null
ms_psql -q -f "$work/sim/register.sql" >/dev/null 2>&1
ms_psql -q <<'SQL' >/dev/null
UPDATE mobisign.smsc SET enabled = false;
CREATE SEQUENCE bench_user;
-- the reference: a row as wide as a queued request's two rows, two indexes
CREATE TABLE bench_ref (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        user_id text NOT NULL, at timestamptz NOT NULL DEFAULT now(),
                        payload bytea NOT NULL);
CREATE INDEX ON bench_ref (user_id);
SQL
cat >"$work/auth.sql" <<'SQL'
SELECT transaction_id FROM mobisign_authenticate('user' || lpad(nextval('bench_user')::text, 4, '0'), 'bench');
SQL

# one round of pgbench SCRIPT; prints its calls/s (excluding connections)
pgb() {
	ms_as_pg "$PGBIN/pgbench" -h "$PGHOST" -p "$PGPORT" -U postgres -n -M prepared -c "$clients" -j 2 \
		-t "$per" -f "$1" postgres 2>"$work/pgbench.err" |
		awk '/^tps = / { print $3; exit }' | grep . ||
		{ echo "bench enqueue: pgbench failed:" >&2; tail -n 5 "$work/pgbench.err" >&2; exit 1; }
}
reset() {
	ms_psql -qAt <<'SQL' >/dev/null
SET client_min_messages = warning;
SELECT count(mobisign_cancel(id)) FROM mobisign.transaction WHERE state IN ('queued', 'submitted');
SELECT setval('bench_user', 1, false);
SQL
}
cp "$work/auth.sql" "$work/auth.pgb"
chmod a+r "$work/auth.pgb"
best() { printf '%s\n' "$@" | sort -g | tail -n 1; }
auth=() ref=()
for r in $(seq 1 "$rounds"); do
	auth+=("$(pgb "$work/auth.pgb")")
	# the width of what a call stored (the transaction row and its queue row)
	width=$(ms_psql -qAt -c "SELECT round(avg(pg_column_size(t.*) + pg_column_size(q.*)))
	                           FROM mobisign.transaction t JOIN mobisign.request_queue q ON q.transaction_id = t.id")
	reset
	printf 'INSERT INTO bench_ref (user_id, payload) VALUES (%s, %s);\n' \
		"'user' || lpad(nextval('bench_user')::text, 4, '0')" "repeat('x', $width)::bytea" >"$work/ref.pgb"
	chmod a+r "$work/ref.pgb"
	ref+=("$(pgb "$work/ref.pgb")")
	ms_psql -qAt -c "TRUNCATE bench_ref; SELECT setval('bench_user', 1, false)" >/dev/null
	printf '  round %d: authenticate %8.1f/s   INSERT (%d bytes) %8.1f/s\n' "$r" "${auth[-1]}" "$width" "${ref[-1]}"
done

if [ "$profile" = 1 ]; then
	ms_psql -qAt -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset(), pg_stat_reset()" >/dev/null
	pgb "$work/auth.pgb" >/dev/null
	ms_sql_profile 25 "one round of $users calls"
fi

a=$(best "${auth[@]}") b=$(best "${ref[@]}")
awk -v n="enqueue_authenticate_${clients}c" -v v="$a" -v r="$b" -v t=0.5 'BEGIN {
	printf "RESULT %s value=%.1f calls/s reference=%.1f ratio=%.3f target=%s %s\n",
		n, v, r, v / r, t, (v / r >= t ? "pass" : "short") }'
