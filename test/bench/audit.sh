#!/usr/bin/env bash
# make bench, the audit chain: mobisign_audit_verify() over BENCH_AUDIT_ROWS
# (default 1,000,000) sealed audit rows, against the reference measured in the
# same cluster and run: SHA-256 of the same bytes (each row's prev_hash and
# canonical form, stored in a table beforehand) by the database's sha256().
#
#   RESULT audit_verify value=<rows/s> rows/s reference=<rows/s> ratio=<v/r> target=0.3 pass|short
#
# The rows are made in one statement: a recursive query chains them with
# mobisign.audit_digest (the sealer's own digest) and one INSERT stores them
# sealed, so no sealer pass is needed.  Each figure is the best of 2 runs.
# The cluster's worker has no SMSC link; it seals nothing here (every row is
# sealed already).  MOBISIGN_DESTDIR: as test/bench/run.sh (PGBIN from the caller).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$MOBISIGN_ROOT"
rows=${BENCH_AUDIT_ROWS:-1000000}

work=$(ms_readable_dir)
cleanup() {
	ms_cluster_stop "$work/pg" || true
	rm -rf "$work"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

echo "== audit chain: mobisign_audit_verify() over $rows rows vs sha256() of the same bytes"
mkdir -p "$work/pg"
ms_cluster_start "$work/pg" "$(ms_free_port)" "work_mem = '64MB'" "max_wal_size = '4GB'" >/dev/null
ms_psql -q -c "CREATE EXTENSION mobisign" >/dev/null
t0=$(now_ms)
ms_psql -q -v rows="$rows" <<'SQL' >/dev/null
SET client_min_messages = warning;
-- the rows as audit_log writes them (a queued request's detail), chained
CREATE TEMP TABLE gen AS
WITH RECURSIVE chain (seq, at, txid, hash) AS (
    SELECT 0::bigint, now(), NULL::uuid, '\x'::bytea
    UNION ALL
    SELECT c.seq + 1, c.at + interval '1 ms', n.txid,
           mobisign.audit_digest(c.hash, ROW(c.seq + 1, c.at + interval '1 ms', 'bench_app', 'bench',
               'transaction.queued', n.txid, 'REQUEST_OK', n.detail, c.seq + 1, NULL, NULL)::mobisign.audit)
      FROM chain c,
           LATERAL (SELECT gen_random_uuid() AS txid,
                           jsonb_build_object('kind', 'authenticate', 'user_id', 'user' || (c.seq + 1),
                                              'msisdn', '358401234567', 'segments', 2,
                                              'reference', md5((c.seq + 1)::text)) AS detail) n
     WHERE c.seq < :rows
)
SELECT * FROM chain WHERE seq > 0;
INSERT INTO mobisign.audit (id, at, actor, application, operation, transaction_id, outcome,
                            detail, chain_seq, prev_hash, hash)
OVERRIDING SYSTEM VALUE
SELECT g.seq, g.at, 'bench_app', 'bench', 'transaction.queued', g.txid, 'REQUEST_OK',
       jsonb_build_object('kind', 'authenticate', 'user_id', 'user' || g.seq, 'msisdn', '358401234567',
                          'segments', 2, 'reference', md5(g.seq::text)),
       g.seq, lag(g.hash, 1, '\x'::bytea) OVER (ORDER BY g.seq), g.hash
  FROM gen g ORDER BY g.seq;
SELECT setval(pg_get_serial_sequence('mobisign.audit', 'id'), :rows);
DROP TABLE gen;
VACUUM ANALYZE mobisign.audit;
-- the reference's input: the very bytes the check hashes, row by row
CREATE TABLE bench_bytes AS
SELECT a.prev_hash || convert_to(jsonb_build_array(a.id, (extract(epoch FROM a.at) * 1000000)::bigint,
           a.actor, a.application, a.operation, a.transaction_id, a.outcome, a.detail,
           a.chain_seq)::text, 'UTF8') AS b
  FROM mobisign.audit a;
VACUUM ANALYZE bench_bytes;
SQL
printf '  %d rows made in %.1f s\n' "$rows" "$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { print ms / 1000 }')"

# one timed statement: prints rows/s (the check's rows_checked must be all)
timed() { # SQL
	local t1 out
	t1=$(now_ms)
	out=$(ms_psql -qAt -c "$1")
	awk -v n="$out" -v ms=$(($(now_ms) - t1)) -v want="$rows" 'BEGIN {
		if (n != want) { print "bench audit: " n " rows, not " want > "/dev/stderr"; exit 1 }
		print n * 1000 / ms }'
}
best() { printf '%s\n' "$@" | sort -g | tail -n 1; }
v=() r=()
for i in 1 2; do
	v+=("$(timed "SELECT CASE WHEN intact THEN rows_checked END FROM mobisign_audit_verify()")")
	r+=("$(timed "SELECT count(sha256(b)) FROM bench_bytes")")
	printf '  run %d: mobisign_audit_verify %10.0f rows/s   sha256() %10.0f rows/s\n' "$i" "${v[-1]}" "${r[-1]}"
done
a=$(best "${v[@]}") b=$(best "${r[@]}")
awk -v v="$a" -v r="$b" -v t=0.3 'BEGIN {
	printf "RESULT audit_verify value=%.0f rows/s reference=%.0f ratio=%.3f target=%s %s\n",
		v, r, v / r, t, (v / r >= t ? "pass" : "short") }'
