#!/usr/bin/env bash
# End-to-end: concurrent audit writers and the hash chain.
#
# Every verification writes its audit row through the writer's direct insert
# (extension/audit_insert.c: no SQL, the executor's simple-insert path).
# Writers take no lock besides the INSERT's own; the chain is made later, in
# id order, by one sealer at a time (the worker's, and here a second client's
# at the same time).
#
#   writers_in_parallel   WRITERS sessions, each ROUNDS transactions of one
#       raw signature check (mobisign_verify_signature, its audit row) and
#       one mobisign.audit_log() row, while a client seals in a loop; one
#       more session writes rows in transactions it rolls back
#   chain_after_writers   every committed row is there exactly once, none
#       of a rolled-back transaction; each session's rows have increasing
#       ids; mobisign_audit_verify() seals the rest and finds the chain
#       intact, contiguous and covering every row
#   progress_is_shown     mobisign_audit_verify() over BULK more rows, with
#       mobisign.progress_interval = 1 ms: its caller gets NOTICEs with a
#       growing count out of the chain's length, another session sees its
#       row in mobisign.progress (phase done, every row counted) while its
#       transaction is open, and no row once that transaction is cancelled
#   tampering_is_found    (the negative control) one writer's row edited
#       with the triggers off: the chain names exactly that row
#
# Keys and signatures are made at run time with openssl. KEEP=1 keeps the
# work directory.
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

WRITERS=${AUDIT_WRITERS:-4}
ROUNDS=${AUDIT_ROUNDS:-300}
BULK=${AUDIT_BULK:-30000}
DB=msaudit

ms_e2e_init
ms_e2e_ports PORT
ms_e2e_cluster "$WORK/pg" "$PORT" "$DB"

# a P-256 key, its SubjectPublicKeyInfo and a signature over a content
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/key.pem" 2>/dev/null ||
	ms_e2e_die "openssl genpkey"
printf 'audit writers\n' >"$WORK/content.txt"
openssl pkey -in "$WORK/key.pem" -pubout -outform DER -out "$WORK/spki.der" &&
	openssl dgst -sha256 -sign "$WORK/key.pem" -out "$WORK/sig.der" "$WORK/content.txt" ||
	ms_e2e_die "openssl signature"
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
SPKI=$(hex "$WORK/spki.der") CONTENT=$(hex "$WORK/content.txt") SIG=$(hex "$WORK/sig.der")

# writer_script W: ROUNDS transactions of writer W (autocommit: one each)
writer_script() {
	local w=$1 i
	for i in $(seq 1 "$ROUNDS"); do
		echo "BEGIN;"
		echo "SELECT mobisign_verify_signature('\\x$SPKI', '\\x$CONTENT', '\\x$SIG', 'ecdsa-sha256');"
		echo "SELECT mobisign.audit_log('e2e-writer', 'ok', jsonb_build_object('writer', $w, 'n', $i));"
		echo "COMMIT;"
	done
}

# rollback_script: ROUNDS transactions that write a row and roll back
rollback_script() {
	local i
	for i in $(seq 1 "$ROUNDS"); do
		echo "BEGIN; SELECT mobisign.audit_log('e2e-rolled-back', 'ok', jsonb_build_object('n', $i)); ROLLBACK;"
	done
}

writers_in_parallel() {
	local pids=() w all_ok=yes sealer
	for w in $(seq 1 "$WRITERS"); do
		writer_script "$w" >"$WORK/writer$w.sql"
	done
	rollback_script >"$WORK/rollback.sql"
	touch "$WORK/sealing"
	# a second sealer besides the worker's, until the writers are done (at
	# most 10 minutes); a failure leaves WORK/sealer.failed
	ms_bg bash -c 'end=$((SECONDS + 600))
		while [ -e "$1/sealing" ] && [ "$SECONDS" -lt "$end" ]; do
			"$2/psql" -X -qAt -h "$3" -p "$4" -U postgres -d "$5" -c "SELECT mobisign.audit_seal(40)" \
				>/dev/null 2>"$1/sealer.failed" || exit 1
		done
		rm -f "$1/sealer.failed"' sealer "$WORK" "$PGBIN" "$WORK/pg" "$PORT" "$DB"
	sealer=$MS_BG_PID
	for w in $(seq 1 "$WRITERS"); do
		ms_psql -qAt -v ON_ERROR_STOP=1 -f "$WORK/writer$w.sql" >"$WORK/writer$w.out" 2>&1 &
		pids+=($!)
	done
	ms_psql -qAt -v ON_ERROR_STOP=1 -f "$WORK/rollback.sql" >"$WORK/rollback.out" 2>&1 &
	pids+=($!)
	for w in "${pids[@]}"; do
		wait "$w" || all_ok="no (see $WORK/*.out)"
	done
	rm -f "$WORK/sealing"
	ms_wait_until 30 ms_gone "$sealer"
	ms_bg_stop "$sealer"
	ms_check "every writer session ran to its end without an error" yes "$all_ok"
	ms_check "the concurrent sealer ran without an error" none \
		"$([ -e "$WORK/sealer.failed" ] && cat "$WORK/sealer.failed" || echo none)"
	ms_check "every raw check was valid" "$((WRITERS * ROUNDS))" "$(cat "$WORK"/writer*.out | grep -c '^t$')"
}

chain_after_writers() {
	ms_check_ge "the sealers chained rows while the writers wrote" 1 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NOT NULL AND operation = 'e2e-writer'")"
	ms_check "one audit_log row per committed transaction" "$((WRITERS * ROUNDS))" \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'e2e-writer'")"
	ms_check "... each (writer, n) exactly once" "$((WRITERS * ROUNDS))" \
		"$(q "SELECT count(DISTINCT (detail->>'writer', detail->>'n')) FROM mobisign.audit WHERE operation = 'e2e-writer'")"
	ms_check "one verify_signature row per committed transaction" "$((WRITERS * ROUNDS))" \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'verify_signature' AND outcome = 'valid'")"
	ms_check "no row of a rolled-back transaction" 0 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'e2e-rolled-back'")"
	ms_check "each writer's rows have increasing ids" t \
		"$(q "SELECT coalesce(bool_and(n > prev_n), true) FROM (SELECT (detail->>'n')::int AS n,
		        lag((detail->>'n')::int) OVER (PARTITION BY detail->>'writer' ORDER BY id) AS prev_n
		        FROM mobisign.audit WHERE operation = 'e2e-writer') s WHERE prev_n IS NOT NULL")"
	ms_check "every row names its actor and time" 0 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE actor IS NULL OR at IS NULL")"
	ms_check "the chain is intact and covers every row" "t|t" \
		"$(q "SELECT v.intact, v.rows_checked = (SELECT count(*) FROM mobisign.audit) FROM mobisign_audit_verify() v")"
	ms_check "no row is left unsealed" 0 "$(q "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL")"
	ms_check "chain positions are contiguous: 1..rows" t \
		"$(q "SELECT min(chain_seq) = 1 AND max(chain_seq) = count(*) AND count(DISTINCT chain_seq) = count(*) FROM mobisign.audit")"
}

# the verifying session's row of mobisign.progress: phase|rows_done|rows_total|percent
progress_row() {
	q "SELECT phase || '|' || rows_done || '|' || rows_total || '|' || percent
	     FROM mobisign.progress WHERE pid = $1 AND command = 'audit_verify'"
}
progress_done() { [ "$(progress_row "$1" | cut -d'|' -f1)" = done ]; }
progress_gone() { [ -z "$(progress_row "$1")" ]; }

progress_is_shown() {
	local rows pid verifier
	q "SELECT count(mobisign.audit_log('e2e-bulk', 'ok', jsonb_build_object('i', i)))
	     FROM generate_series(1, $BULK) AS i" >/dev/null
	rows=$(q "SELECT count(*) FROM mobisign.audit")
	# the check in a transaction left open (at most 60 s) for the other session to see
	ms_bg ms_psql -X -qAt -v ON_ERROR_STOP=1 \
		-c "SET mobisign.progress_interval = 1" -c "SET client_min_messages = notice" \
		-c "BEGIN" -c "SELECT pg_backend_pid()" \
		-c "SELECT intact, rows_checked FROM mobisign_audit_verify()" \
		-c "SELECT pg_sleep(60)" -c "COMMIT" >"$WORK/verify.out" 2>"$WORK/verify.err"
	verifier=$MS_BG_PID
	ms_wait_until 30 grep -q '|' "$WORK/verify.out"
	pid=$(head -n 1 "$WORK/verify.out")
	ms_check "the check found the chain intact, every row counted" "t|$rows" "$(sed -n 2p "$WORK/verify.out")"
	ms_wait_until 10 progress_done "$pid"
	ms_check "another session sees the finished check until its transaction ends" "done|$rows|$rows|100.0" \
		"$(progress_row "$pid")"
	grep -E '^NOTICE:  audit_verify: checking, [0-9]+ of [0-9]+ rows \([0-9]+%\)$' "$WORK/verify.err" \
		>"$WORK/notices" || true
	ms_check_ge "the caller was told of its progress while checking" 3 "$(wc -l <"$WORK/notices")"
	ms_check "... each NOTICE out of the chain's length, counts growing, never past it" yes \
		"$(awk -v n="$rows" '{ done = $4; total = $6 }
		     done <= prev || total != n || done > total { bad = 1 } { prev = done }
		     END { print (NR > 0 && !bad) ? "yes" : "no" }' "$WORK/notices")"
	q "SELECT pg_cancel_backend($pid)" >/dev/null
	ms_wait_until 10 progress_gone "$pid"
	ms_check "a cancelled transaction leaves no row" "" "$(progress_row "$pid")"
	ms_wait_until 10 ms_gone "$verifier"
	ms_bg_stop "$verifier"
}

tampering_is_found() {
	local victim
	victim=$(q "SELECT id FROM mobisign.audit WHERE operation = 'e2e-writer' ORDER BY random() LIMIT 1")
	ms_psql -q -c "SET session_replication_role = replica;
		UPDATE mobisign.audit SET outcome = 'forged' WHERE id = $victim" >/dev/null 2>&1 ||
		ms_e2e_die "could not edit row $victim"
	ms_check "the edited row is named" "f|$victim" \
		"$(q "SELECT intact, first_broken_id FROM mobisign_audit_verify()")"
}

ms_scenario writers_in_parallel writers_in_parallel
ms_scenario chain_after_writers chain_after_writers
ms_scenario progress_is_shown progress_is_shown
ms_scenario tampering_is_found tampering_is_found
ms_summary
