#!/usr/bin/env bash
# End-to-end: a logical backup of a database with mobisign, restored into a
# fresh cluster (docs/operations.md).
#
#   1. cluster A: PKI, users, SIM keys, an SMSC link, a directory, two
#      applications and an auditor; transactions through the worker and the
#      simulator; one transaction left open; audit rows left unsealed;
#   2. pg_dumpall --roles-only, and pg_dump (custom and plain format) in
#      the snapshot the expected figures were read in;
#   3. more transactions on A after the backup (the SIMs' counters move on
#      past the backup), then A is lost (stopped);
#   4. cluster B, configured with the same key files: the plain dump into
#      database mscheck (no worker there): every dumped table has the same
#      rows (but for the counters, the open transaction's expiry and the
#      PKIs' cache generation), the
#      identity sequences are ahead of their tables, the counters jumped by
#      mobisign.restore_counter_margin, the audit chain verifies and continues
#      exactly as A's did, row-level security still tells the applications
#      apart;
#   5. the custom dump with pg_restore --single-transaction into the
#      worker's database msprod: the worker binds with the restored SMSC
#      password, records the restore in the audit, expires the open
#      transaction without sending its SMS again, and authentications and a
#      signature of SIMs whose counters are past the backup complete (502);
#      the same SIM with its counter put back where the backup had it is
#      refused by the SIM (the negative control: without the jump, restored
#      SIMs stop working).
#
#
# Scenarios (each a function below, run by ms_scenario, in this order; each
# continues from the state the one before left):
#   cluster_a       1. above, on A
#   backup          2. above
#   after_backup    3. above
#   plain_restore   4. above, on B
#   custom_restore  5. above, on B
#
#   bash test/e2e/50_dump_restore.sh               (after make install)
#
# Ports: free ones. KEEP=1 keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

ms_e2e_init
SIMDIR=$WORK/sim
A=$WORK/a
B=$WORK/b
DB=msprod
HOLDER_PID=
SEALER_PID=
export PGDATABASE=$DB

e2e_on_exit() {
	exec 7>&- 8>&- 2>/dev/null
	return 0
}

say() { echo "# $*"; }
# psql against cluster DIR, database DB [as USER]
qon() { # qon DIR DB SQL [USER]
	PGHOST=$1 PGPORT=$(cat "$1/port") ms_psql -qAt -d "$2" -U "${4:-postgres}" -c "$3" 2>&1
}
qa() { qon "$A" "$DB" "$@"; }
settled() { # settled DIR DB SQL WANT [USER]: the SQL's answer once it is WANT (at most 10 s)
	local i got
	for i in $(seq 1 50); do
		got=$(qon "$1" "$2" "$3" "${5:-postgres}")
		[ "$got" = "$4" ] && break
		sleep 0.2
	done
	printf '%s\n' "$got"
}
bound_on() { [ "$(qon "$1" "$2" "SELECT bound FROM mobisign.worker_stats")" = t ]; }
wait_bound() { ms_wait_until 20 bound_on "$1" "$2"; } # wait_bound DIR DB

# Every dumped table (from the extension's catalog row): "name=rows digest",
# the digest over the rows but for the values a restore changes on purpose
# (counters, an open transaction's expiry) or as a side effect: a PKI's
# generation and updated_at, which every CRL loaded into it moves on (the
# verification cache's version; docs/operations.md).
TABLES_SQL="SELECT c.relname || '=' || (xpath('/row/n/text()', query_to_xml(format(
         'SELECT count(*) || '' '' || coalesce(md5(string_agg(y, '','' ORDER BY y)), '''') AS n
            FROM (SELECT (to_jsonb(x) - %L::text[])::text AS y FROM %s x) s',
         CASE c.relname WHEN 'pki' THEN '{counter,response_counter,expires_at,generation,updated_at}'
                        ELSE '{counter,response_counter,expires_at}' END,
         c.oid::regclass), false, true, '')))[1]::text
  FROM pg_class c
 WHERE c.oid = ANY ((SELECT extconfig FROM pg_extension WHERE extname = 'mobisign')::oid[]) AND c.relkind = 'r'
 ORDER BY 1"

# ---- set-up: the simulator, cluster A and its configuration ---------------
ms_e2e_ports smpp port portb
ms_sim_provision "$SIMDIR" "$smpp" 6
mkdir -p "$A" "$B"
echo "$port" >"$A/port"
# no answer verifiers: the SMPP worker keeps house itself, so that the
# sealer's lock held in backup() keeps it from claiming (with verifiers the
# one of slot 0 keeps house, docs/worker.md)
ms_e2e_cluster "$A" "$port" "$DB" "mobisign.answer_workers = 0"
# register.sql: key files (ALTER SYSTEM), the PKI, users, SIM keys, the SMSC
ms_sim_register "$SIMDIR"
qa "CREATE ROLE shop LOGIN IN ROLE mobisign_app;
    CREATE ROLE bank LOGIN IN ROLE mobisign_app;
    CREATE ROLE auditor1 LOGIN IN ROLE mobisign_auditor" >/dev/null
qa "SELECT mobisign_add_directory('corp', 'ldap://127.0.0.1:9', 'ou=people,o=example',
      bind_dn => 'cn=mobisign,o=example', bind_password => 'dir-secret-42', pki => 'sim')" >/dev/null
ms_sim_behaviour "$SIMDIR" "user0004 silent" "user0005 cancel" "user0006 silent" "* sign"
ms_sim_start "$SIMDIR" "$smpp" "$WORK/sim.log"
wait_bound "$A" "$DB" || say "A: the worker did not bind"

# run ROLE KIND USER [TIMEOUT]: a transaction as ROLE, to its final state
final_of() { qa "SELECT state || ' ' || status_code FROM mobisign_wait('$2', '40 s')" "$1"; }
start_tx() { # start_tx ROLE KIND USER [TIMEOUT] -> id
	if [ "$2" = sign ]; then
		qa "SELECT transaction_id FROM mobisign_sign('$3', 'Pay 10.00 EUR to $1', '$1', '${4:-30 s}')" "$1"
	else
		qa "SELECT transaction_id FROM mobisign_authenticate('$3', '$1', '${4:-30 s}')" "$1"
	fi
}

# 1. transactions on A, one left open
cluster_a() {
	ms_check "A: shop authenticates user0001" "completed 502" "$(final_of shop "$(start_tx shop auth user0001)")"
	ms_check "A: shop has user0002 sign" "completed 502" "$(final_of shop "$(start_tx shop sign user0002)")"
	ms_check "A: bank authenticates user0003" "completed 502" "$(final_of bank "$(start_tx bank auth user0003)")"
	ms_check "A: bank, user0005 cancels on the phone" "failed 401" "$(final_of bank "$(start_tx bank auth user0005)")"
	open_id=$(start_tx bank auth user0004 '3 min')
	ms_check "A: user0004's transaction is open (silent SIM)" submitted \
		"$(settled "$A" "$DB" "SELECT state FROM mobisign.transaction WHERE id = '$open_id'" submitted)"
}

# 2. the backup
backup() {
	# A session holds the audit sealer's lock (its row of mobisign.process_lock,
	# in an open transaction: rows written now stay unsealed in the backup);
	# another exports the snapshot in which the expected figures are read and
	# both dumps are taken.
	mkfifo "$WORK/sealer.in" "$WORK/holder.in"
	ms_bg_from "$WORK/sealer.in" "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -qAt -h "$A" -p "$port" -U postgres -d "$DB" >"$WORK/sealer.out" 2>&1
	SEALER_PID=$MS_BG_PID
	exec 8>"$WORK/sealer.in"
	echo "BEGIN; SELECT FROM mobisign.process_lock WHERE name = 'audit_seal' AND slot = 0 FOR NO KEY UPDATE;" >&8
	echo "SELECT 'locked' \\g $WORK/locked" >&8
	ms_bg_from "$WORK/holder.in" "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -qAt -h "$A" -p "$port" -U postgres -d "$DB" >"$WORK/holder.out" 2>&1
	HOLDER_PID=$MS_BG_PID
	exec 7>"$WORK/holder.in"
	for _ in $(seq 1 50); do [ -s "$WORK/locked" ] && break; sleep 0.1; done
	# the worker, blocked in its housekeeping, claims nothing: a request made now
	# is still queued (its SMS unsent) in the backup
	ms_check "A: the worker waits for the sealer's lock (a row lock: on the holder's transaction)" transactionid \
		"$(settled "$A" "$DB" "SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'mobisign worker'" transactionid)"
	queued_id=$(start_tx bank auth user0006 '3 min')
	ms_check "A: user0006's request is queued, unsent" queued "$(qa "SELECT state FROM mobisign.transaction WHERE id = '$queued_id'")"
	qa "SELECT mobisign.audit_log('backup.marker', 'ok', '{\"note\": \"written while the sealer waits\"}')" >/dev/null
	qa "SELECT mobisign.audit_log('backup.marker', 'ok', '{\"note\": \"a second one\"}')" >/dev/null
	cat >&7 <<EOF
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_export_snapshot() \\g $WORK/snapshot
$TABLES_SQL \\g $WORK/expected.tables
SELECT string_agg(msisdn || ':' || key_set || ':' || counter, ' ' ORDER BY msisdn, key_set) FROM mobisign.sim_key \\g $WORK/expected.counters
SELECT count(*) FILTER (WHERE chain_seq IS NULL) || ' ' || max(id) FROM mobisign.audit \\g $WORK/expected.audit
SELECT count(*) FROM mobisign.transaction WHERE app_role = 'shop' \\g $WORK/expected.shop
EOF
	for _ in $(seq 1 100); do [ -s "$WORK/expected.shop" ] && break; sleep 0.1; done
	snap=$(cat "$WORK/snapshot")
	read -r unsealed maxid <"$WORK/expected.audit"
	say "backup in snapshot $snap: $unsealed unsealed audit row(s), audit ids up to $maxid"
	[ "${unsealed:-0}" -ge 2 ] || say "expected unsealed audit rows in the backup"
	"$PGBIN/pg_dumpall" -h "$A" -p "$port" -U postgres --roles-only \
		>"$WORK/roles.sql" 2>"$WORK/dump.err"
	"$PGBIN/pg_dump" -h "$A" -p "$port" -U postgres -d "$DB" --snapshot="$snap" -Fc \
		-f "$WORK/msprod.dump" 2>>"$WORK/dump.err"
	"$PGBIN/pg_dump" -h "$A" -p "$port" -U postgres -d "$DB" --snapshot="$snap" -Fp \
		-f "$WORK/msprod.sql" 2>>"$WORK/dump.err"
	ms_check "pg_dump and pg_dumpall succeeded" "" "$(cat "$WORK/dump.err")"
	echo "COMMIT;" >&7
	exec 7>&-
	echo "COMMIT;" >&8
	exec 8>&-
	ms_wait_until 10 ms_gone "$HOLDER_PID"
	ms_wait_until 10 ms_gone "$SEALER_PID"
	ms_bg_stop "$HOLDER_PID" "$SEALER_PID"
	ms_check "the dump holds the rows of mobisign's tables (COPY mobisign.audit)" 1 \
		"$(grep -c '^COPY mobisign.audit ' "$WORK/msprod.sql")"
	ms_check "the dump sets the audit id sequence" 1 "$(grep -c "setval('mobisign.audit_id_seq'" "$WORK/msprod.sql")"
	ms_check "the dump holds no row of a cache (mobisign.crl_source)" 0 "$(grep -c '^COPY mobisign.crl_source ' "$WORK/msprod.sql")"
}

# 3. life goes on after the backup, then A is lost
after_backup() {
	ms_check "A after the backup: user0001 again" "completed 502" "$(final_of shop "$(start_tx shop auth user0001)")"
	ms_check "A after the backup: user0001 once more" "completed 502" "$(final_of shop "$(start_tx shop sign user0001)")"
	ms_check "A after the backup: user0003 again" "completed 502" "$(final_of bank "$(start_tx bank auth user0003)")"
	# A's chain, sealed now: the restored one must continue exactly like it
	chain_of() { # chain_of DIR DB: (id, chain_seq, hash) of the rows of the backup
		qon "$1" "$2" "SELECT md5(string_agg(id || ':' || chain_seq || ':' || encode(hash, 'hex'), ',' ORDER BY id))
		                 FROM mobisign.audit WHERE id <= $maxid"
	}
	for _ in $(seq 1 50); do
		[ "$(grep -c "(user0006): DISPLAY" "$WORK/sim.log")" -ge 1 ] && break
		sleep 0.2
	done
	ms_check "A after the backup: user0006's request was sent by A" 1 "$(grep -c "(user0006): DISPLAY" "$WORK/sim.log")"
	qa "SELECT intact FROM mobisign_audit_verify()" >/dev/null
	chain_a=$(chain_of "$A" "$DB")
	ms_cluster_stop "$A"
	displays0004=$(grep -c "(user0004): DISPLAY" "$WORK/sim.log")
	displays0006=$(grep -c "(user0006): DISPLAY" "$WORK/sim.log")
}

# 4. cluster B: the plain dump into mscheck (no worker there)
plain_restore() {
	echo "$portb" >"$B/port"
	# what a restore needs from outside the dump: the key files named by the GUCs
	mapfile -t keyconf < <(grep '^mobisign\.' "$A/data/postgresql.auto.conf")
	ms_e2e_cluster_start "$B" "$portb" "mobisign.database = '$DB'" "mobisign.worker_naptime = '2s'" "${keyconf[@]}"
	PGHOST=$B PGPORT=$portb "$PGBIN/psql" -X -q -U postgres -d postgres -f "$WORK/roles.sql" >/dev/null 2>&1
	ms_check "B: the roles and their memberships are back" "true true" \
		"$(qon "$B" postgres "SELECT pg_has_role('shop', 'mobisign_app', 'MEMBER') || ' ' || pg_has_role('auditor1', 'mobisign_auditor', 'MEMBER')" | tr '\n' ' ' | sed 's/ $//')"
	qon "$B" postgres "CREATE DATABASE mscheck" >/dev/null
	PGHOST=$B PGPORT=$portb ms_psql -q -1 -d mscheck -f "$WORK/msprod.sql" >"$WORK/restore-plain.log" 2>&1
	ms_check "B: psql -1 restores the plain dump" 0 $?
	qc() { qon "$B" mscheck "$@"; }
	qc "$TABLES_SQL" >"$WORK/restored.tables"
	while IFS='=' read -r t want; do
		ms_check "B: mobisign.$t has the backup's rows (count and content)" "$want" \
			"$(sed -n "s/^$t=//p" "$WORK/restored.tables")"
	done <"$WORK/expected.tables"
	ms_check "B: every identity sequence is at or past its table's largest id" "" \
		"$(qc "SELECT string_agg(s.seq, ', ') FROM (
		         SELECT pg_get_serial_sequence(a.attrelid::regclass::text, a.attname) AS seq,
		                (xpath('/row/m/text()', query_to_xml(format('SELECT coalesce(max(%I), 0) AS m FROM %s', a.attname, a.attrelid::regclass), false, true, '')))[1]::text::bigint AS maxid
		           FROM pg_attribute a WHERE a.attidentity <> '' AND a.attrelid::regclass::text LIKE 'mobisign.%') s
		        WHERE maxid > 0 AND coalesce(pg_sequence_last_value(s.seq::regclass), 0) < maxid")"
	margin=$(qc "SELECT current_setting('mobisign.restore_counter_margin')")
	ms_check "B: the default counter margin" 1000000000 "$margin"
	expected_counters=$(tr ' ' '\n' <"$WORK/expected.counters" | awk -F: -v m="$margin" '{print $1 ":" $2 ":" $3 + m}' | paste -sd' ')
	ms_check "B: every counter jumped by the margin" "$expected_counters" \
		"$(qc "SELECT string_agg(msisdn || ':' || key_set || ':' || counter, ' ' ORDER BY msisdn, key_set) FROM mobisign.sim_key")"
	ms_check "B: answers at or below the new counters are refused (response_counter = counter)" 0 \
		"$(qc "SELECT count(*) FROM mobisign.sim_key WHERE response_counter <> counter")"
	ms_check "B: both transactions open in the backup have expired" 2 \
		"$(qc "SELECT count(*) FROM mobisign.transaction WHERE id IN ('$open_id', '$queued_id') AND expires_at <= now()")"
	ms_check "B: the restore is noted for the audit (keys, open transactions)" "6 2" \
		"$(qc "SELECT sim_keys || ' ' || open_transactions FROM mobisign.restore_event")"
	ms_check "B: the audit chain verifies (as the restored auditor)" "t" \
		"$(qc "SELECT intact FROM mobisign_audit_verify()" auditor1)"
	ms_check "B: the unsealed rows of the backup were sealed exactly as A sealed them" "$chain_a" "$(chain_of "$B" mscheck)"
	ms_check "B: the application shop sees its own transactions, as before" "$(cat "$WORK/expected.shop")" \
		"$(qc "SELECT count(*) FROM mobisign.transaction" shop)"
	ms_check "B: the application bank cannot see shop's" 0 \
		"$(qc "SELECT count(*) FROM mobisign.transaction WHERE app_role = 'shop'" bank)"
	ms_check "B: the secrets came back (SMSC and directory passwords, readable by the superuser)" "secret dir-secret-42" \
		"$(qc "SELECT (SELECT password FROM mobisign.smsc) || ' ' || (SELECT bind_password FROM mobisign.directory)")"
}

# 5. the custom dump into the worker's database
custom_restore() {
	qon "$B" postgres "CREATE DATABASE $DB" >/dev/null
	"$PGBIN/pg_restore" -h "$B" -p "$portb" -U postgres -d "$DB" --single-transaction --exit-on-error \
		"$WORK/msprod.dump" >"$WORK/restore-custom.log" 2>&1
	ms_check "B: pg_restore --single-transaction restores the custom dump" 0 $?
	qb() { qon "$B" "$DB" "$@"; }
	wait_bound "$B" "$DB"
	ms_check "B: the worker binds to the SMSC with the restored password" t "$(qb "SELECT bound FROM mobisign.worker_stats")"
	ms_check "B: the worker wrote the restore into the audit" "6 $margin 2" \
		"$(settled "$B" "$DB" "SELECT (detail->>'sim_keys') || ' ' || (detail->>'counter_margin') || ' ' || (detail->>'open_transactions_expired')
		                       FROM mobisign.audit WHERE operation = 'restore'" "6 $margin 2")"
	ms_check "B: the open transactions of the backup expired (208)" "expired 208,expired 208" \
		"$(settled "$B" "$DB" "SELECT string_agg(state || ' ' || status_code, ',' ORDER BY id) FROM mobisign.transaction
		                       WHERE id IN ('$open_id', '$queued_id')" "expired 208,expired 208")"
	# closed: done, or already removed by the worker's housekeeping (final)
	ms_check "B: the request queued in the backup is closed, not sent" 0 \
		"$(settled "$B" "$DB" "SELECT count(*) FROM mobisign.request_queue WHERE transaction_id = '$queued_id' AND NOT done" 0)"
	sleep 1
	ms_check "B: neither SMS was sent again" "$displays0004 $displays0006" \
		"$(grep -c "(user0004): DISPLAY" "$WORK/sim.log") $(grep -c "(user0006): DISPLAY" "$WORK/sim.log")"
	fb() { qb "SELECT state || ' ' || status_code FROM mobisign_wait('$2', '40 s')" "$1"; }
	sb() { qb "SELECT transaction_id FROM mobisign_${2}('$3'${4:+, $4}, '$1', '${5:-30 s}')" "$1"; }
	ms_check "B: user0001 (SIM two counters past the backup) authenticates" "completed 502" "$(fb shop "$(sb shop authenticate user0001)")"
	ms_check "B: user0001 signs" "completed 502" "$(fb shop "$(sb shop sign user0001 "'Pay 5 EUR'")")"
	ms_check "B: user0002 authenticates" "completed 502" "$(fb shop "$(sb shop authenticate user0002)")"
	# the negative control: user0003's counter put back where the backup had it
	c3=$(tr ' ' '\n' <"$WORK/expected.counters" | grep "^$(qb "SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0003'"):1:" | cut -d: -f3)
	qb "UPDATE mobisign.sim_key SET counter = $c3, response_counter = -1
	     WHERE msisdn = (SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0003')" >/dev/null
	got=$(fb bank "$(sb bank authenticate user0003 '' '' '6 s')")
	ms_check "B: without the jump, the SIM refuses the reused counter (not completed)" no \
		"$( [ "${got%% *}" = completed ] && echo yes || echo no)"
	ms_check "B: ... the simulator refused that counter" "counter $((c3 + 1)) refused" \
		"$(grep -o "SIM $(qb "SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0003'"): counter [0-9]* refused" "$WORK/sim.log" | tail -n 1 | sed 's/^SIM [0-9]*: //')"
	ms_check "B: the audit chain verifies after all this" t "$(qb "SELECT intact FROM mobisign_audit_verify()" auditor1)"
}

for s in cluster_a backup after_backup plain_restore custom_restore; do
	ms_scenario "$s" "$s"
done
ms_summary
