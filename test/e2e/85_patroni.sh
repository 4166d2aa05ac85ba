#!/usr/bin/env bash
# High availability with Patroni (docs/ha.md):
# a three-node cluster managed by Debian's patroni on a one-node etcd, all on
# loopback and started and stopped here, with synchronous replication
# (synchronous_mode, synchronous_commit = on: a commit the application or the
# worker saw is on a standby too). Every node preloads mobisign with the same
# mobisign.* settings and reads the same key files (the master key, the SP key
# and certificate) at the same paths; the simulator is the SMSC.
#
# With authentications and signatures in flight, the leader is lost and a
# replica takes over: its worker (which does nothing on a standby) starts at
# promotion, binds to the SMSC and finishes every transaction exactly once:
# one final state, one final audit row, one NOTIFY to a LISTEN client that
# reconnects through a multi-host conninfo (target_session_attrs=read-write),
# no SIM counter used twice and the server's counter never behind any SIM's;
# the audit chain verifies; the old leader comes back as a replica (pg_rewind,
# data checksums). Printed timings: leader lost -> new leader elected -> its
# worker bound -> last transaction final.
#
# Scenarios (in this order; each starts from the cluster the previous left):
#   replica_reads   on a hot standby: no worker runs; mobisign_status(),
#                   worker_stats, audit reads, mobisign_audit_verify() (the
#                   chain the primary sealed) and CALL mobisign_await()
#                   answer; a request, mobisign_verify() (it audits) and
#                   LISTEN are refused (25006)
#   failover        kill -9 of the leader's postmaster with 150 transactions
#                   in flight (the SIMs answer after 3 s)
#   switchover      patronictl switchover with 150 transactions in flight
#   async_failover  what synchronous replication prevents: synchronous_mode
#                   off, the replicas down while 20 authentications complete
#                   on the leader alone, the leader crashes, a replica is
#                   promoted without them. Their ids do not exist there, and
#                   the SIMs' counters are ahead of the server's: each SIM's
#                   next request fails at once (209, "counter low"), its
#                   counter jumps by mobisign.counter_low_margin (audited),
#                   and the retry completes; the old leader rejoins (pg_rewind)
#
#   bash test/e2e/85_patroni.sh          (after make install; PGBIN=... for a
#                                         private copy of PostgreSQL)
#   MS_SCENARIO=failover bash test/e2e/85_patroni.sh
#
# Ports: free ones. KEEP=1 keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

DB=msha
AUTH_USERS=100                  # user0001..user0100 authenticate
SIGN_USERS=50                   # user0101..user0150 sign
USERS=$((AUTH_USERS + SIGN_USERS))
NODES=3
SIM_DELAY_MS=3000               # the SIMs answer after this: requests stay in flight

for cmd in patroni patronictl etcd; do
	command -v "$cmd" >/dev/null 2>&1 || { echo "FAIL - $cmd is not installed (bash test/deps.sh)"; exit 1; }
done

ms_e2e_init
ms_e2e_ports ETCD_CLIENT ETCD_PEER SMPP_PORT PG1 PG2 PG3 API1 API2 API3
SIMDIR=$WORK/sim
echo "# etcd on $ETCD_CLIENT, simulator on $SMPP_PORT, nodes on $PG1 $PG2 $PG3 (REST $API1 $API2 $API3), work dir $WORK"

pg_port() { eval "echo \$PG$1"; }
api_port() { eval "echo \$API$1"; }
node_dir() { echo "$WORK/node$1"; }
ALL_HOSTS=127.0.0.1,127.0.0.1,127.0.0.1
ALL_PORTS=$PG1,$PG2,$PG3
# what an application uses: every node, the one that accepts writes
RW_CONNINFO="host=$ALL_HOSTS port=$ALL_PORTS dbname=$DB user=postgres target_session_attrs=read-write connect_timeout=2"

e2e_on_failure() {
	local n
	for n in $(seq 1 $NODES); do
		echo "# patroni log of node$n (last 25 lines):"
		tail -n 25 "$(node_dir "$n")/patroni.log" 2>/dev/null | sed 's/^/#   /'
	done
	echo "# simulator log tail:"
	tail -n 15 "$WORK/sim.log" 2>/dev/null | sed 's/^/#   /'
}

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# http_status PORT PATH: the status of Patroni's REST answer (200 on /primary
# only on the leader, on /replica only on a running replica)
http_status() {
	curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1$2" 2>/dev/null
}
# the node number whose Patroni says it is the primary (nothing if none)
leader_node() {
	local n
	for n in $(seq 1 $NODES); do
		[ "$(http_status "$(api_port "$n")" /primary)" = 200 ] && { echo "$n"; return 0; }
	done
	return 1
}
is_replica() { [ "$(http_status "$(api_port "$1")" /replica)" = 200 ]; }
new_leader_other_than() { # OLD: a leader is elected and it is not OLD
	local l
	l=$(leader_node) && [ "$l" != "$1" ]
}

# use NODE: ms_psql and q talk to that node
use() {
	export PGHOST=$(node_dir "$1") PGPORT=$(pg_port "$1") PGUSER=postgres PGDATABASE=$DB
}
# qn NODE SQL
qn() { (use "$1" && q "$2"); }

patroni_config() {
	local n=$1 d
	d=$(node_dir "$n")
	cat <<EOF
scope: mobisign-e2e
namespace: /mobisign-e2e/
name: node$n
restapi:
  listen: 127.0.0.1:$(api_port "$n")
  connect_address: 127.0.0.1:$(api_port "$n")
etcd3:
  host: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    # a crashed primary is not restarted in place: fail over at once
    primary_start_timeout: 0
    synchronous_mode: true
    synchronous_mode_strict: false
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        # the same on every node (the DCS holds them): mobisign and its keys
        shared_preload_libraries: mobisign
        mobisign.database: $DB
        mobisign.master_key_file: $SIMDIR/master.key
        mobisign.sp_key_file: $SIMDIR/sp/key.pem
        mobisign.sp_cert_file: $SIMDIR/sp/cert.pem
        mobisign.worker_naptime: 5s
        mobisign.worker_lease: 10s
        # a commit waits for the synchronous standby's flush
        synchronous_commit: 'on'
        wal_log_hints: 'on'
        hot_standby: 'on'
        max_connections: 60
        max_wal_senders: 10
        max_replication_slots: 10
        shared_buffers: 16MB
        log_min_messages: warning
        log_line_prefix: '%m [%p] %q%u@%d '
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
postgresql:
  listen: 127.0.0.1:$(pg_port "$n")
  connect_address: 127.0.0.1:$(pg_port "$n")
  data_dir: $d/data
  bin_dir: $PGBIN
  pgpass: $d/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: replicator
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: '$d'
    logging_collector: 'on'
    log_directory: '$d'
    log_filename: 'log'
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
EOF
}

start_patroni() {
	local n=$1 d restarted=
	d=$(node_dir "$n")
	[ -d "$d" ] && [ -f "$d/patroni.yml" ] && restarted=1
	mkdir -p "$d"
	patroni_config "$n" >"$d/patroni.yml"
	chown -R postgres:postgres "$d" 2>/dev/null
	# as the postgres OS user when root (setpriv execs: the PID ms_bg keeps is
	# patroni's own, and SIGTERM at exit stops its PostgreSQL cleanly), from a
	# directory that user reads
	local as_pg=()
	[ "$(id -u)" -eq 0 ] && as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
	cd "$d" || return 1
	ms_bg env HOME="$d" "${as_pg[@]}" patroni "$d/patroni.yml" >>"$d/patroni.log" 2>&1
	cd "$MOBISIGN_ROOT" || return 1
	printf -v "PATRONI_PID$n" '%s' "$MS_BG_PID"
	# the server's directory, for the exit trap's log tail and its pg_ctl stop
	[ -n "${restarted:-}" ] || MS_E2E_CLUSTERS+=("$d")
}
patroni_pid() { eval "echo \$PATRONI_PID$1"; }

patronictl_() { ms_as_pg patronictl -c "$(node_dir 1)/patroni.yml" "$@"; }

# a LISTEN client as an application would run it: connect to the node that
# accepts writes, LISTEN, and when the connection is lost connect again
# (each connection logs "listening EPOCH" first)
listen_loop() {
	local log=$1 until=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$until" ] && [ ! -e "$log.stop" ]; do
		{
			echo "LISTEN mobisign;"
			echo "SELECT 'listening ' || extract(epoch FROM pg_catalog.clock_timestamp());"
			while [ "$(date +%s)" -lt "$until" ] && [ ! -e "$log.stop" ]; do
				echo "SELECT 1;"
				sleep 0.2
			done
		} | "$PGBIN/psql" -X -qAt -d "$RW_CONNINFO" >>"$log" 2>&1
		sleep 0.3
	done
}
listen_start() {
	LISTEN_LOG=$1
	rm -f "$LISTEN_LOG.stop"
	: >"$LISTEN_LOG"
	ms_bg listen_loop "$LISTEN_LOG" 600
	LISTEN_PID=$MS_BG_PID
	ms_wait_until 10 grep -q '^listening' "$LISTEN_LOG" || ms_e2e_die "the LISTEN client did not start"
}
listen_stop() {
	touch "$LISTEN_LOG.stop"
	ms_wait_until 5 ms_gone "$LISTEN_PID"
	ms_bg_stop "$LISTEN_PID"
}

start_batch() { # TAG: 100 authentications and 50 signatures
	{
		ms_authenticate_range 1 "$AUTH_USERS" "$1"
		q "SELECT (mobisign_sign(pg_catalog.format('user%s', pg_catalog.lpad(g::text, 4, '0')),
		                         'Pay ' || g || '.00 EUR to ACME Oy', '$1', '3 min')).transaction_id
		     FROM pg_catalog.generate_series($((AUTH_USERS + 1)), $USERS) g"
	} >"$WORK/$1.ids"
}
submitted_at_least() { # TAG N
	[ "$(q "SELECT count(*) FROM mobisign.transaction WHERE application = '$1' AND state <> 'queued'")" -ge "$2" ] 2>/dev/null
}

# the SIMs' last accepted counters, as SQL VALUES (user, counter)
sim_counters_sql() {
	local f u rows=""
	for f in "$SIMDIR"/state/*; do
		[ -f "$f" ] || continue
		u=${f##*/}
		rows="$rows${rows:+, }('$u', $(awk '{print $2}' "$f"))"
	done
	echo "VALUES $rows"
}

# the checks after a batch TAG ended on the leader (the node ms_psql uses),
# with the LISTEN client's log and the time it connected to that leader
check_batch() {
	local tag=$1 since=$2 id n bad_once=0 bad_twice=0 refused dup
	ms_check "$USERS transactions recorded" "$USERS" "$(ms_tag_count "$tag")"
	ms_check "every transaction final (none open)" 0 "$(ms_open_count "$tag")"
	echo "# $tag: final states: $(q "SELECT string_agg(status_code || ' x' || n, ', ') FROM
	      (SELECT status_code, count(*) n FROM mobisign.transaction WHERE application = '$tag'
	        GROUP BY 1 ORDER BY 1) s")"
	ms_check "every transaction completed with 502" "$USERS" "$(ms_status_count "$tag" 502)"
	ms_check_cmd "exactly one final audit row per transaction" ms_final_audit_once "$tag"
	# one NOTIFY: every transaction that ended on this leader after the client
	# connected to it was notified exactly once; none ever twice
	while read -r id; do
		[ -n "$id" ] || continue
		n=$(grep -c "\"transaction_id\": \"$id\"" "$LISTEN_LOG")
		[ "$n" -gt 1 ] && bad_twice=$((bad_twice + 1))
	done <"$WORK/$tag.ids"
	while read -r id; do
		[ -n "$id" ] || continue
		n=$(grep -c "\"transaction_id\": \"$id\"" "$LISTEN_LOG")
		[ "$n" = 1 ] || bad_once=$((bad_once + 1))
	done < <(q "SELECT id FROM mobisign.transaction WHERE application = '$tag'
	             AND completed_at > pg_catalog.to_timestamp($since)")
	echo "# $tag: $(q "SELECT count(*) FROM mobisign.transaction WHERE application = '$tag'
	             AND completed_at > pg_catalog.to_timestamp($since)") transaction(s) ended after the LISTEN client reconnected"
	ms_check "one NOTIFY for each transaction that ended on the new leader" 0 "$bad_once"
	ms_check "no transaction notified twice" 0 "$bad_twice"
	# counters
	ms_check "no SIM counter used twice" 0 \
		"$(q "SELECT count(*) FROM (SELECT msisdn, sim_key_set, counter FROM mobisign.transaction
		       WHERE counter IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1) d")"
	ms_check "no server counter behind the counter its SIM last accepted" 0 \
		"$(q "SELECT count(*) FROM ($(sim_counters_sql)) s(user_id, last)
		       JOIN mobisign.app_user u USING (user_id) JOIN mobisign.sim_key k USING (msisdn)
		      WHERE k.counter < s.last")"
	refused=$(grep -c 'counter [0-9]* refused' "$WORK/sim.log")
	dup=$(q "SELECT count(*) FROM mobisign.audit WHERE operation = 'sim.answer' AND outcome = 'duplicate delivery'")
	ms_check "every counter the SIMs refused was a re-sent copy (duplicate delivery)" "$refused" "$dup"
	ms_check "the queue is drained" 0 "$(q "SELECT count(*) FROM mobisign.request_queue WHERE NOT done")"
	ms_check "the audit chain verifies on the new leader" t "$(q "SELECT intact FROM mobisign_audit_verify()")"
}

# old NEW: the old leader OLD rejoined NEW as a streaming replica
# (Patroni may report the old leader as a replica before it finds it must
# rewind and restarts it: the wait is for all three at once, then each is checked)
check_rejoined() {
	local old=$1 new=$2
	ms_wait_until 120 rejoined "$old" "$new"
	ms_check_cmd "the old leader node$old runs as a replica" is_replica "$old"
	ms_check "... in recovery" t "$(qn "$old" "SELECT pg_catalog.pg_is_in_recovery()")"
	ms_check_cmd "... streaming from node$new" streaming_from "$new" "$old"
	ms_check "... with no mobisign worker" 0 \
		"$(qn "$old" "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'mobisign worker'")"
}
rejoined() { # OLD NEW
	is_replica "$1" && [ "$(qn "$1" "SELECT pg_catalog.pg_is_in_recovery()")" = t ] && streaming_from "$2" "$1"
}
streaming_from() { # NEW OLD
	[ "$(qn "$1" "SELECT count(*) FROM pg_catalog.pg_stat_replication
	              WHERE application_name = 'node$2' AND state = 'streaming'")" = 1 ]
}

# every transaction the leader has reads the same on replica NODE
replica_caught_up() { # NODE TAG
	[ "$(qn "$1" "SELECT count(*) FROM mobisign.transaction WHERE application = '$2' AND NOT mobisign._is_open(state)")" = "$USERS" ]
}

# ---------------------------------------------------------------------------
# set-up: etcd, three Patroni nodes, the extension, the simulator
# ---------------------------------------------------------------------------
mkdir -p "$SIMDIR" "$WORK/etcd"
ms_bg etcd --name e2e --data-dir "$WORK/etcd" \
	--listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
	--initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new >"$WORK/etcd.log" 2>&1
ms_wait_port "$ETCD_CLIENT" 20 || ms_e2e_die "etcd did not start"

# the SIM world first: every node reads its key files (same paths)
ms_sim_provision "$SIMDIR" "$SMPP_PORT" "$USERS"
chmod 0755 "$SIMDIR"

start_patroni 1
ms_wait_until 90 leader_node >/dev/null
[ "$(leader_node)" = 1 ] || ms_e2e_die "node1 did not bootstrap the cluster"
start_patroni 2
start_patroni 3
all_replicas() { is_replica 2 && is_replica 3; }
ms_wait_until 120 all_replicas
ms_check_cmd "three nodes: node1 leads, node2 and node3 replicate" all_replicas
use 1
ms_psql -q -d postgres -c "CREATE DATABASE $DB" || ms_e2e_die "CREATE DATABASE $DB"
ms_psql -q -c "CREATE EXTENSION mobisign" || ms_e2e_die "CREATE EXTENSION mobisign"
sync_standby() { [ -n "$(q "SELECT application_name FROM pg_catalog.pg_stat_replication WHERE sync_state = 'sync'")" ]; }
ms_wait_until 30 sync_standby
ms_check_match "a synchronous standby" '^node[23]$' \
	"$(q "SELECT application_name FROM pg_catalog.pg_stat_replication WHERE sync_state = 'sync'" | head -n 1)"
ms_check "synchronous_commit on the leader" on "$(q "SHOW synchronous_commit")"
# the key settings come from the DCS on every node: register.sql must not
# set them on one node only (ALTER SYSTEM is not replicated)
grep -v '^ALTER SYSTEM SET mobisign\.' "$SIMDIR/register.sql" >"$SIMDIR/register-ha.sql"
ms_sim_register "$SIMDIR" "$SIMDIR/register-ha.sql"
q "UPDATE mobisign.smsc SET reconnect_delay = '300 ms', response_timeout = '3 s', window_size = 50" >/dev/null
ms_sim_start "$SIMDIR" "$SMPP_PORT" "$WORK/sim.log"
ms_reload
ms_check_bound "the leader's worker binds to the simulator" 1 60
for n in 2 3; do
	ms_check "node$n has the same mobisign.* settings (from the DCS)" \
		"$(q "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_catalog.pg_settings
		       WHERE name IN ('mobisign.database', 'mobisign.master_key_file', 'mobisign.sp_key_file',
		                      'mobisign.sp_cert_file', 'shared_preload_libraries')")" \
		"$(qn "$n" "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_catalog.pg_settings
		       WHERE name IN ('mobisign.database', 'mobisign.master_key_file', 'mobisign.sp_key_file',
		                      'mobisign.sp_cert_file', 'shared_preload_libraries')")"
done

# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
replica_reads() {
	local leader rep id
	leader=$(leader_node)
	use "$leader"
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('user0001', 'reads')")
	ms_check "an authentication on the leader completes" "completed 502" \
		"$(q "SELECT state || ' ' || status_code FROM mobisign_wait('$id', '40 s')")"
	for rep in $(seq 1 $NODES); do
		[ "$rep" = "$leader" ] || break
	done
	in_replica() { [ "$(qn "$rep" "SELECT count(*) FROM mobisign.transaction WHERE id = '$id' AND state = 'completed'")" = 1 ]; }
	ms_wait_until 10 in_replica
	echo "# reads on replica node$rep"
	ms_check "no mobisign worker runs on the replica" 0 \
		"$(qn "$rep" "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'mobisign worker'")"
	ms_check "mobisign.worker_stats on the replica: not started" "not started" \
		"$(qn "$rep" "SELECT state FROM mobisign.worker_stats")"
	ms_check "mobisign_status() on the replica reads the outcome" "completed|502|VALID_SIGNATURE" \
		"$(qn "$rep" "SELECT state || '|' || status_code || '|' || status_name FROM mobisign_status('$id')")"
	ms_check "... the same as on the leader" \
		"$(q "SELECT to_jsonb(s) FROM mobisign_status('$id') s")" \
		"$(qn "$rep" "SELECT to_jsonb(s) FROM mobisign_status('$id') s")"
	ms_check "the audit rows of the transaction are on the replica" \
		"$(q "SELECT string_agg(operation || '/' || outcome, ' ' ORDER BY id) FROM mobisign.audit WHERE transaction_id = '$id'")" \
		"$(qn "$rep" "SELECT string_agg(operation || '/' || outcome, ' ' ORDER BY id) FROM mobisign.audit WHERE transaction_id = '$id'")"
	# the chain as far as the primary sealed it (the worker seals within a second)
	sealed() { [ "$(qn "$rep" "SELECT count(*) FROM mobisign.audit WHERE chain_seq IS NULL")" = 0 ]; }
	ms_wait_until 10 sealed
	ms_check "mobisign_audit_verify() on the replica: intact, every row checked" "true true" \
		"$(qn "$rep" "SELECT intact || ' ' || (rows_checked = (SELECT count(*) FROM mobisign.audit))
		               FROM mobisign_audit_verify()")"
	ms_check "... its head hash is the leader's hash of that row" \
		"$(q "SELECT hash FROM mobisign.audit WHERE chain_seq = $(qn "$rep" "SELECT max(chain_seq) FROM mobisign.audit")")" \
		"$(qn "$rep" "SELECT head_hash FROM mobisign_audit_verify()")"
	ms_check "mobisign_verify() on the replica is refused: re-verification writes an audit row" 25006 \
		"$(use "$rep" && ms_sqlstate "SELECT mobisign_verify('$id'::uuid)")"
	ms_check "LISTEN on the replica is refused (notifications come from the primary)" 25006 \
		"$(use "$rep" && ms_sqlstate "LISTEN mobisign")"
	ms_check "a request on the replica is refused (read-only transaction)" 25006 \
		"$(use "$rep" && ms_sqlstate "SELECT mobisign_authenticate('user0002', 'reads')")"
	# the waits read the row (no LISTEN): on a replica they see the outcome
	# once the primary's commit is replayed. CALL mobisign_await holds no
	# snapshot, so replay never has to cancel it (mobisign_wait's snapshot
	# can conflict with the primary's pruning of the row's old versions)
	ms_sim_behaviour "$SIMDIR" "* sign 1500"
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('user0002', 'reads')")
	ms_check "CALL mobisign_await() on the replica for a transaction open on the leader" "completed 502" \
		"$(qn "$rep" "CALL mobisign_await('$id', '40 s')" >/dev/null;
		   qn "$rep" "SELECT state || ' ' || status_code FROM mobisign_status('$id')")"
	ms_sim_file "$SIMDIR" behaviour
	# and the worker log of the replica has no error of mobisign
	ms_check "no mobisign error in the replica's log" 0 \
		"$(grep -ci 'mobisign.*\(error\|fatal\)' "$(node_dir "$rep")/log")"
}

# run_round TAG ACTION: a batch in flight, ACTION loses the leader, then the
# timings and every check
run_round() {
	local tag=$1 action=$2 old new t0 t1 t2 t3 since
	old=$(leader_node) || { ms_not_ok "no leader"; return; }
	use "$old"
	ms_check_bound "node$old's worker is bound" 1 30
	listen_start "$WORK/$tag.notify.log"
	ms_sim_behaviour "$SIMDIR" "* sign $SIM_DELAY_MS"
	start_batch "$tag"
	ms_wait_until 20 submitted_at_least "$tag" 50
	echo "# $tag: $(ms_open_count "$tag") of $USERS transactions open, $(q "SELECT count(*) FROM mobisign.transaction WHERE application = '$tag' AND state = 'submitted'") submitted"
	ms_check_ge "transactions in flight when the leader goes" 50 "$(ms_open_count "$tag")"
	t0=$(now_s)
	"$action" "$old"
	ms_wait_until 60 new_leader_other_than "$old"
	t1=$(now_s)
	new=$(leader_node)
	ms_check_match "Patroni elected a new leader" '^[123]$' "$new"
	[ -n "$new" ] && [ "$new" != "$old" ] || { ms_not_ok "the leader did not change"; return; }
	use "$new"
	ms_wait_until 60 ms_links_bound 1
	t2=$(now_s)
	ms_check "node$new's worker started at promotion and bound to the SMSC" 1/1 "$(ms_links)"
	ms_wait_tag_final "$tag" 150
	t3=$(now_s)
	echo "# $tag timings: leader node$old lost -> node$new elected $(elapsed "$t0" "$t1") s -> its worker bound $(elapsed "$t0" "$t2") s -> last transaction final $(elapsed "$t0" "$t3") s"
	TIMINGS+=("$tag: elected $(elapsed "$t0" "$t1") s, worker bound $(elapsed "$t0" "$t2") s, last final $(elapsed "$t0" "$t3") s")
	since=$(grep '^listening' "$LISTEN_LOG" | tail -n 1 | awk '{print $2}')
	ms_check "the LISTEN client reconnected (to the new leader)" 2 "$(grep -c '^listening' "$LISTEN_LOG")"
	# the notifications are sent at commit: wait for the client to print them
	sleep 1
	listen_stop
	check_batch "$tag" "$since"
	ms_sim_file "$SIMDIR" behaviour
	check_rejoined "$old" "$new"
	ms_wait_until 20 replica_caught_up "$old" "$tag"
	ms_check "the rejoined node$old reads every outcome (mobisign_status)" "$USERS" \
		"$(qn "$old" "SELECT count(*) FROM mobisign.transaction t, mobisign_status(t.id) s
		               WHERE t.application = '$tag' AND s.status_code = 502")"
}

kill_postmaster() {
	local pid
	pid=$(head -n 1 "$(node_dir "$1")/data/postmaster.pid")
	echo "# kill -9 of node$1's postmaster $pid"
	kill -9 "$pid"
}
switch_over() {
	local cand n
	for n in $(seq 1 $NODES); do
		if [ "$n" != "$1" ] && [ "$(qn "$1" "SELECT sync_state FROM pg_catalog.pg_stat_replication WHERE application_name = 'node$n'")" = sync ]; then
			cand=$n
		fi
	done
	echo "# patronictl switchover node$1 -> node${cand:-?}"
	patronictl_ switchover --leader "node$1" --candidate "node${cand:-2}" --force >"$WORK/switchover.log" 2>&1 ||
		{ sed 's/^/#   /' "$WORK/switchover.log"; ms_not_ok "patronictl switchover"; }
}

failover() { run_round failover kill_postmaster; }

no_sync_standby() { [ -z "$(q "SHOW synchronous_standby_names")" ]; }
async_failover() {
	local old new n lost t0 mark rewinds
	old=$(leader_node) || { ms_not_ok "no leader"; return; }
	use "$old"
	patronictl_ edit-config --force -q -s synchronous_mode=false \
		-s maximum_lag_on_failover=1073741824 >"$WORK/edit-config.log" 2>&1 ||
		{ sed 's/^/#   /' "$WORK/edit-config.log"; ms_not_ok "patronictl edit-config"; return; }
	ms_wait_until 20 no_sync_standby
	ms_check "synchronous replication off (synchronous_standby_names empty)" "" "$(q "SHOW synchronous_standby_names")"
	# the replicas stop: what follows is on the leader only
	for n in $(seq 1 $NODES); do
		[ "$n" = "$old" ] || ms_bg_stop "$(patroni_pid "$n")"
	done
	ms_check "the replicas are down" 0 "$(q "SELECT count(*) FROM pg_catalog.pg_stat_replication")"
	ms_check_bound "node$old's worker is bound" 1 30
	ms_authenticate_range 1 20 lost >"$WORK/lost.ids"
	ms_wait_tag_final lost 60
	ms_check "20 authentications completed on node$old alone" 20 "$(ms_status_count lost 502)"
	lost=$(head -n 1 "$WORK/lost.ids")
	# the leader crashes: its Patroni, then its postmaster
	kill -9 "$(patroni_pid "$old")"
	ms_bg_stop "$(patroni_pid "$old")" 2>/dev/null
	kill_postmaster "$old"
	ms_wait_until 10 ms_gone "$(head -n 1 "$(node_dir "$old")/data/postmaster.pid" 2>/dev/null || echo 0)"
	t0=$(now_s)
	for n in $(seq 1 $NODES); do
		[ "$n" = "$old" ] || start_patroni "$n"
	done
	ms_wait_until 120 new_leader_other_than "$old"
	new=$(leader_node)
	[ -n "$new" ] && [ "$new" != "$old" ] || { ms_not_ok "no replica was promoted"; return; }
	echo "# async_failover: node$new promoted $(elapsed "$t0" "$(now_s)") s after its Patroni started"
	use "$new"
	ms_check "the promoted node$new does not have the lost authentications" 0 "$(ms_tag_count lost)"
	ms_check "... mobisign_status of a lost id: does not exist (P0002)" P0002 \
		"$(ms_sqlstate "SELECT * FROM mobisign_status('$lost')")"
	ms_check "... its counters are behind the SIMs' for those 20 users" 20 \
		"$(q "SELECT count(*) FROM ($(sim_counters_sql)) s(user_id, last)
		       JOIN mobisign.app_user u USING (user_id) JOIN mobisign.sim_key k USING (msisdn)
		      WHERE k.counter < s.last")"
	ms_wait_until 60 ms_links_bound 1
	ms_check "node$new's worker bound to the SMSC" 1/1 "$(ms_links)"
	# the same 20 users and 20 others
	mark=$(q "SELECT coalesce(max(id), 0) FROM mobisign.audit")
	ms_authenticate_range 1 40 after >"$WORK/after.ids"
	ms_wait_tag_final after 60
	ms_check "the users the SIMs were ahead for: refused at once (209)" 20 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE application = 'after' AND status_code = 209
		       AND user_id <= 'user0020'
		       AND reason LIKE '%counter low); the server''s counter was behind the SIM''s and moved to %: a new request will be accepted'")"
	ms_check "the other 20 users: completed (502)" 20 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE application = 'after' AND status_code = 502 AND user_id > 'user0020'")"
	ms_check "one sim_key.advance / counter low audit row per refused request" 20 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE id > $mark AND operation = 'sim_key.advance' AND outcome = 'counter low'
		       AND (detail->>'counter_after')::bigint = (detail->>'refused_counter')::bigint + 1000")"
	ms_check "no server counter is behind its SIM's any more" 0 \
		"$(q "SELECT count(*) FROM ($(sim_counters_sql)) s(user_id, last)
		       JOIN mobisign.app_user u USING (user_id) JOIN mobisign.sim_key k USING (msisdn)
		      WHERE k.counter < s.last")"
	# the application makes a new request: accepted
	ms_authenticate_range 1 20 retry >/dev/null
	ms_wait_tag_final retry 60
	ms_check "the new requests of those 20 users complete (502)" 20 "$(ms_status_count retry 502)"
	ms_check "no SIM counter used twice" 0 \
		"$(q "SELECT count(*) FROM (SELECT msisdn, sim_key_set, counter FROM mobisign.transaction
		       WHERE counter IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1) d")"
	ms_check "the audit chain verifies" t "$(q "SELECT intact FROM mobisign_audit_verify()")"
	rewinds=$(grep -c 'pg_rewind exit code=0' "$(node_dir "$old")/patroni.log")
	start_patroni "$old"
	check_rejoined "$old" "$new"
	ms_check_ge "the old leader was rewound onto the new timeline (pg_rewind exit code 0)" 1 \
		"$(($(grep -c 'pg_rewind exit code=0' "$(node_dir "$old")/patroni.log") - rewinds))"
	ms_check "the rejoined node$old does not have the lost authentications any more" 0 "$(qn "$old" "SELECT count(*) FROM mobisign.transaction WHERE application = 'lost'")"
}
switchover() { run_round switchover switch_over; }

TIMINGS=()
ms_scenario replica_reads replica_reads
ms_scenario failover failover
ms_scenario switchover switchover
ms_scenario async_failover async_failover
for t in "${TIMINGS[@]}"; do
	echo "# timing $t"
done
ms_summary
