#!/usr/bin/env bash
# make bench, the enqueue path: mobisign_authenticate() from BENCH_CLIENTS
# (default 8) pgbench clients against the reference measured in the same
# cluster, the same run, with the same clients: a plain INSERT of a row of the
# same width (the transaction row plus its queue row, measured) into a table
# with a primary key and a second index.
#
#   RESULT enqueue_authenticate_8c value=<calls/s> calls/s reference=<inserts/s> ratio=<v/r> target=0.5 pass|short
#
# The table also shows a second reference, the floor of this data model:
# "the request's own writes", the rows one call writes done by one plain SQL
# statement (data-modifying WITH: one round trip, as a call), with the same
# clients, into bench copies of the tables (LIKE ... INCLUDING ALL: the same
# columns, defaults, CHECK constraints and indexes, partial ones included;
# the same foreign keys and the same BEFORE INSERT trigger call): the key
# set's counter UPDATE, the transaction row (INSERT ... ON CONFLICT on the
# one-open-per-user index), its queue row (the segments of a real request)
# and the two audit rows with the same detail.  Only the user's row is
# looked up (one index probe); nothing is checked, resolved or built.  The
# worker's sealing of the two audit rows (two UPDATEs a call in production)
# is not in it: the floor is an upper bound.  Printed: what fraction of the
# INSERT reference the bare writes reach, and what fraction of the bare
# writes authenticate reaches.
#
# Each figure also shows the cluster's CPU time per call (every server
# process: backends, worker, checkpointer..., from /proc; pgbench's own time
# is not in it), which other work on a shared machine disturbs less than
# calls/s.  Authenticate's includes the sealing of its audit rows: after its
# round every pending row is sealed (untimed for calls/s), so that no round
# pays for another's.
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
-- the floor: the tables a request writes, copied with their constraints,
-- indexes, foreign keys and the transaction's BEFORE INSERT trigger call
CREATE TABLE bench_sim_key (LIKE mobisign.sim_key INCLUDING ALL);
INSERT INTO bench_sim_key SELECT * FROM mobisign.sim_key;
CREATE TABLE bench_transaction (LIKE mobisign.transaction INCLUDING ALL,
    FOREIGN KEY (status_code) REFERENCES mobisign.status_code,
    FOREIGN KEY (pki_id) REFERENCES mobisign.pki);
CREATE FUNCTION bench_restoring() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF mobisign._is_own_write() THEN
        RETURN NEW;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bench_restored BEFORE INSERT ON bench_transaction
    FOR EACH ROW WHEN (mobisign._is_open(NEW.state)) EXECUTE FUNCTION bench_restoring();
CREATE TABLE bench_queue (LIKE mobisign.request_queue INCLUDING ALL,
    FOREIGN KEY (transaction_id) REFERENCES bench_transaction ON DELETE CASCADE);
CREATE TABLE bench_audit (LIKE mobisign.audit INCLUDING ALL);
-- the users in the order the rounds take them, with what a call resolves
CREATE TABLE bench_user_map (n bigint PRIMARY KEY, user_id text, msisdn text, pki_id integer,
                             fingerprint bytea, key_set integer);
INSERT INTO bench_user_map
SELECT substr(u.user_id, 5)::bigint, u.user_id, u.msisdn, u.pki_id,
       u.certificate_fingerprint, (SELECT min(k.key_set) FROM mobisign.sim_key k WHERE k.msisdn = u.msisdn)
  FROM mobisign.app_user u WHERE u.user_id ~ '^user[0-9]+$';
CREATE TABLE bench_sample (segments bytea[] NOT NULL);
SQL
cat >"$work/auth.sql" <<'SQL'
SELECT transaction_id FROM mobisign_authenticate('user' || lpad(nextval('bench_user')::text, 4, '0'), 'bench');
SQL

# the CPU time (clock ticks) the cluster has used so far: the postmaster,
# its exited children (cutime, cstime) and its live ones
cpu_ticks() {
	local pm
	pm=$(head -n 1 "$work/pg/data/postmaster.pid")
	{ cat "/proc/$pm/stat"; for c in $(ps -o pid= --ppid "$pm"); do cat "/proc/$c/stat" 2>/dev/null || true; done; } |
		awk -v pm="$pm" '{ sub(/^[^)]*\) /, ""); t += $12 + $13; if (NR == 1) t += $14 + $15 } END { print t }'
}
hz=$(getconf CLK_TCK)
# microseconds of CPU per call between two cpu_ticks readings
per_call() { awk -v a="$1" -v b="$2" -v n="$users" -v hz="$hz" 'BEGIN { printf "%.0f", (b - a) * 1e6 / hz / n }'; }
seal_all() { ms_psql -qAt -c "SELECT mobisign.audit_seal(2147483647)" >/dev/null; }

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
# the request's own writes, one statement (see the header)
cat >"$work/writes.pgb" <<'SQL'
WITH u AS (SELECT * FROM bench_user_map WHERE n = (SELECT nextval('bench_user'))),
k AS (UPDATE bench_sim_key s SET counter = s.counter + 1 FROM u
       WHERE s.msisdn = u.msisdn AND s.key_set = u.key_set
      RETURNING s.msisdn, s.key_set, s.counter),
d AS (SELECT sha256(random()::text::bytea) AS data, substr(sha256(random()::text::bytea), 1, 8) AS reference),
t AS (INSERT INTO bench_transaction AS tr (kind, application, user_id, msisdn, reference, data,
                                            data_hash, display_text, verification_code, pki_id,
                                            certificate_fingerprint, sim_key_set, counter, expires_at)
      SELECT 'authenticate', 'bench', u.user_id, k.msisdn, d.reference, d.data, sha256(d.data),
             'Log in to bench?', lpad((random() * 9999)::int::text, 4, '0'), u.pki_id, u.fingerprint,
             k.key_set, k.counter, now() + interval '2 min'
        FROM u, k, d
      ON CONFLICT (user_id) WHERE mobisign._is_open(state) DO NOTHING
      RETURNING tr.*),
q AS (INSERT INTO bench_queue (transaction_id, msisdn, segments)
      SELECT t.id, t.msisdn, s.segments FROM t, (SELECT segments FROM bench_sample LIMIT 1) s),
a AS (INSERT INTO bench_audit (operation, outcome, detail, transaction_id, application)
      SELECT 'sim_key.use', 'success',
             jsonb_build_object('msisdn', t.msisdn, 'key_set', t.sim_key_set, 'counter', t.counter),
             t.id, t.application FROM t
      UNION ALL
      SELECT 'transaction.queued', 'REQUEST_OK',
             jsonb_build_object('kind', t.kind, 'user_id', t.user_id, 'msisdn', t.msisdn,
                 'reference', encode(t.reference, 'hex'), 'data_sha256', encode(t.data_hash, 'hex'),
                 'user_source', 'register', 'directory', NULL, 'display_coding', 'gsm7',
                 'display_units', 16, 'segments', 1, 'expires_at', t.expires_at),
             t.id, t.application FROM t)
SELECT id FROM t;
SQL
cp "$work/auth.sql" "$work/auth.pgb"
chmod a+r "$work/auth.pgb" "$work/writes.pgb"
best() { printf '%s\n' "$@" | sort -g | tail -n 1; }
auth=() ref=() bare=() auth_cpu=() ref_cpu=() bare_cpu=()
for r in $(seq 1 "$rounds"); do
	c0=$(cpu_ticks)
	auth+=("$(pgb "$work/auth.pgb")")
	seal_all
	c1=$(cpu_ticks)
	auth_cpu+=("$(per_call "$c0" "$c1")")
	# a real request's segments for the floor's queue rows
	ms_psql -qAt -c "TRUNCATE bench_sample; INSERT INTO bench_sample SELECT segments FROM mobisign.request_queue LIMIT 1" >/dev/null
	# the width of what a call stored (the transaction row and its queue row)
	width=$(ms_psql -qAt -c "SELECT round(avg(pg_column_size(t.*) + pg_column_size(q.*)))
	                           FROM mobisign.transaction t JOIN mobisign.request_queue q ON q.transaction_id = t.id")
	reset
	seal_all
	c0=$(cpu_ticks)
	bare+=("$(pgb "$work/writes.pgb")")
	c1=$(cpu_ticks)
	bare_cpu+=("$(per_call "$c0" "$c1")")
	[ "$(ms_psql -qAt -c "SELECT count(*) FROM bench_transaction t JOIN bench_queue q ON q.transaction_id = t.id")" = "$users" ] ||
		{ echo "bench enqueue: the bare writes did not write a row per call" >&2; exit 1; }
	ms_psql -qAt -c "TRUNCATE bench_transaction, bench_queue, bench_audit; SELECT setval('bench_user', 1, false)" >/dev/null
	printf 'INSERT INTO bench_ref (user_id, payload) VALUES (%s, %s);\n' \
		"'user' || lpad(nextval('bench_user')::text, 4, '0')" "repeat('x', $width)::bytea" >"$work/ref.pgb"
	chmod a+r "$work/ref.pgb"
	c0=$(cpu_ticks)
	ref+=("$(pgb "$work/ref.pgb")")
	c1=$(cpu_ticks)
	ref_cpu+=("$(per_call "$c0" "$c1")")
	ms_psql -qAt -c "TRUNCATE bench_ref; SELECT setval('bench_user', 1, false)" >/dev/null
	printf '  round %d: authenticate %7.1f/s %5d us/call   its bare writes %7.1f/s %4d us/call   INSERT (%d bytes) %7.1f/s %3d us/call\n' \
		"$r" "${auth[-1]}" "${auth_cpu[-1]}" "${bare[-1]}" "${bare_cpu[-1]}" "$width" "${ref[-1]}" "${ref_cpu[-1]}"
done
least() { printf '%s\n' "$@" | sort -g | head -n 1; }

if [ "$profile" = 1 ]; then
	ms_psql -qAt -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset(), pg_stat_reset()" >/dev/null
	pgb "$work/auth.pgb" >/dev/null
	ms_sql_profile 25 "one round of $users calls"
fi

a=$(best "${auth[@]}") b=$(best "${ref[@]}") w=$(best "${bare[@]}")
awk -v a="$a" -v r="$b" -v w="$w" -v ac="$(least "${auth_cpu[@]}")" -v rc="$(least "${ref_cpu[@]}")" \
	-v wc="$(least "${bare_cpu[@]}")" 'BEGIN {
	printf "  floor, calls/s:  the bare writes reach %.3f of the INSERT; authenticate reaches %.3f of its bare writes (best rounds)\n",
		w / r, a / w
	printf "  floor, CPU/call: the bare writes reach %.3f of the INSERT; authenticate reaches %.3f of its bare writes (%d, %d, %d us: least of the rounds)\n",
		rc / wc, wc / ac, ac, wc, rc }'
awk -v n="enqueue_authenticate_${clients}c" -v v="$a" -v r="$b" -v t=0.5 'BEGIN {
	printf "RESULT %s value=%.1f calls/s reference=%.1f ratio=%.3f target=%s %s\n",
		n, v, r, v / r, t, (v / r >= t ? "pass" : "short") }'
