#!/usr/bin/env bash
# End-to-end: SMPP over TLS (docs/worker.md, "SMPP over TLS") against a TLS-terminating
# peer we did not write: Debian's stunnel4 in front of the simulator, on
# loopback. A test CA, the SMSC's certificate (DNS name smsc.test only), a
# second unrelated CA, a client CA and the worker's client certificate are
# made here with the openssl CLI.
#
# Scenarios (each a function below, run by ms_scenario):
#   sql_settings        mobisign_add_smsc's TLS arguments and the table's rules
#   tls_end_to_end      an authentication and a signature complete over TLS
#   wrong_ca            the SMSC's certificate is not from tls_ca_file: no
#                       bind, "certificate verification failed", retried
#   hostname_mismatch   tls_server_name (and by default the host, an address)
#                       not in the certificate: refused the same way
#   client_certificate  a peer that requires a client certificate: refused
#                       without one, a key file open to others is refused
#                       before connecting, then the certificate is presented
#                       and an authentication completes
#   bad_files           a CA file that does not exist, an encrypted client
#                       key, a key of another certificate: each refused
#                       before any connection, with the reason
#   plain_peer          tls = true against the clear simulator port fails
#                       cleanly (the simulator sees a bad frame, no bind)
#   old_protocol        a peer that speaks at most TLS 1.1 is refused
#   fifo_files          a FIFO as CA or key file: refused before it is
#                       opened (an open would block the worker)
#   handshake_timeout   a peer that never answers the ClientHello: the
#                       handshake ends at the link's connect_timeout
#   ca_file_changes     our own TLS SMSC (tls/smsc_peer.py) unbinds after each
#                       bind, so sessions end without error: the CA file is
#                       read at every connection all the same (removed: no
#                       connection; another CA: refused; restored: binds)
#   pending_drain       a burst of 20000 enquire_link whose TLS records all
#                       end inside a PDU (tails left in OpenSSL, announced
#                       by no socket readiness), then silence: every one is
#                       answered
#   memory_bounded      failed handshakes (a certificate of an untrusted CA)
#                       alternating with sessions: the worker's RssAnon stays
#                       flat (OpenSSL objects freed on every path)
#   utf8_last_error     a name longer than the worker keeps, and an error
#                       message longer than worker_stats.last_error, are cut
#                       on a character boundary (valid UTF-8)
#   survival            same worker process throughout, no crash, no key or
#                       password in the log, the audit chain intact, and TLS
#                       still works after all of it
#
#   bash test/e2e/35_smpp_tls.sh        (after make install; needs stunnel4)
#   MS_SCENARIO=wrong_ca bash test/e2e/35_smpp_tls.sh
#
# KEEP=1 keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

for cmd in stunnel4 openssl python3; do
	command -v "$cmd" >/dev/null || ms_e2e_die "$cmd is missing (bash test/deps.sh installs it)"
done
ms_e2e_init
TLS=$WORK/tls
PGLOG=$WORK/pg/log
SIMLOG=$WORK/sim.log
STLOG=$WORK/stunnel.log

e2e_on_failure() {
	echo "# stunnel log tail:"
	tail -n 20 "$STLOG" 2>/dev/null | sed 's/^/#   /'
}

# ---------------------------------------------------------------------------
# test PKI (openssl CLI): CA -> smsc.test, another CA, client CA -> worker
# ---------------------------------------------------------------------------
make_ca() { # make_ca NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$2/O=mobisign test" -keyout "$TLS/$1.key" -out "$TLS/$1.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
make_leaf() { # make_leaf NAME CN CA EXTENSIONS
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=$2/O=mobisign test" -keyout "$TLS/$1.key" -out "$TLS/$1.csr" &&
		printf '%b\n' "$4" >"$TLS/$1.ext" &&
		openssl x509 -req -in "$TLS/$1.csr" -CA "$TLS/$3.pem" -CAkey "$TLS/$3.key" \
			-CAcreateserial -days 2 -extfile "$TLS/$1.ext" -out "$TLS/$1.pem"
}
make_pki() {
	mkdir -p "$TLS" && chmod 0755 "$TLS" &&
		make_ca ca "mobisign test SMSC CA" &&
		make_ca other-ca "mobisign test unrelated CA" &&
		make_ca client-ca "mobisign test client CA" &&
		make_leaf server smsc.test ca \
			'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:smsc.test' &&
		make_leaf client mobisign-worker client-ca \
			'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth' &&
		make_leaf rogue smsc.test other-ca \
			'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:smsc.test'
}
make_pki >"$WORK/pki.log" 2>&1 || {
	cat "$WORK/pki.log"
	ms_not_ok "test PKI (openssl CLI)"
	exit 1
}
# the worker's key: the server's OS user owns it, nobody else may read it;
# the same key under a passphrase, and the key of another certificate
openssl pkey -in "$TLS/client.key" -aes256 -passout pass:unknown -out "$TLS/client-encrypted.key" 2>>"$WORK/pki.log"
cp "$TLS/server.key" "$TLS/other.key"
chmod 0600 "$TLS/client.key" "$TLS/client-encrypted.key" "$TLS/other.key"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$TLS/client.key" "$TLS/client-encrypted.key" "$TLS/other.key"

# ---------------------------------------------------------------------------
# cluster, simulator, stunnel, a silent peer
# ---------------------------------------------------------------------------
ms_e2e_ports PGPORT_T SMPP P_TLS P_MTLS P_OLD P_SILENT P_PEER
echo "# PostgreSQL $PGPORT_T, simulator $SMPP, stunnel $P_TLS (TLS) $P_MTLS (client certificate) $P_OLD (TLS 1.1), silent $P_SILENT, own peer $P_PEER"

ms_e2e_cluster "$WORK/pg" "$PGPORT_T" postgres
ms_sim_provision "$WORK/sim" "$SMPP" 4
# register.sql: PKI, users, SIM keys, and the clear link 'sim' (a positional
# 12-argument mobisign_add_smsc call, as before TLS existed)
ms_sim_register "$WORK/sim"
ms_sim_behaviour "$WORK/sim" "* sign"
ms_sim_start "$WORK/sim" "$SMPP" "$SIMLOG"

cat >"$WORK/stunnel.conf" <<EOF
foreground = yes
pid =
output = $STLOG
debug = info

[smsc]
accept = 127.0.0.1:$P_TLS
connect = 127.0.0.1:$SMPP
cert = $TLS/server.pem
key = $TLS/server.key

[smsc-client-cert]
accept = 127.0.0.1:$P_MTLS
connect = 127.0.0.1:$SMPP
cert = $TLS/server.pem
key = $TLS/server.key
CAfile = $TLS/client-ca.pem
verifyChain = yes
requireCert = yes

[smsc-tls11]
accept = 127.0.0.1:$P_OLD
connect = 127.0.0.1:$SMPP
cert = $TLS/server.pem
key = $TLS/server.key
sslVersionMin = TLSv1
sslVersionMax = TLSv1.1
ciphers = DEFAULT:@SECLEVEL=0
EOF
ms_bg stunnel4 "$WORK/stunnel.conf" >"$WORK/stunnel.out" 2>&1

# accepts TCP connections and never says a word (at most 10 minutes)
ms_bg python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
s.settimeout(1)
held, end = [], time.time() + 600
while time.time() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
' "$P_SILENT"

for p in "$SMPP" "$P_TLS" "$P_MTLS" "$P_OLD" "$P_SILENT"; do
	ms_wait_port "$p" 15 || {
		ms_not_ok "nothing listens on $p"
		cat "$WORK/stunnel.out" "$STLOG" 2>/dev/null | tail -n 20
		exit 1
	}
done

WORKER_PID=$(q "SELECT pid FROM mobisign.worker_stats")

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
# a mark in a log: later checks look only at what came after it
mark() { { wc -l <"$1" 2>/dev/null || echo 0; } | tr -d ' '; }
since() { tail -n +"$(($2 + 1))" "$1"; }
count_since() { since "$1" "$2" | grep -Ec -- "$3"; }
at_least_since() { [ "$(count_since "$1" "$2" "$4")" -ge "$3" ]; }

# link NAME ARGS: mobisign_add_smsc with named arguments (fast retries), then
# make NAME the only enabled link and have the worker re-read the table
link() {
	local name=$1
	shift
	q "SELECT mobisign_add_smsc('$name', '127.0.0.1', $*, system_id => 'mobisign', password => 'secret',
	                            reconnect_delay => '300 ms', response_timeout => '5 s')" >/dev/null ||
		ms_not_ok "mobisign_add_smsc('$name', ...)"
	q "UPDATE mobisign.smsc SET enabled = (name = '$name')" >/dev/null
	q "SELECT pg_catalog.pg_reload_conf()" >/dev/null
}
# no_links: every link disabled and closed by the worker, so that no session
# of an earlier scenario (reconnecting after its delay) reaches the peer the
# next check starts or watches
unconfigured() { [ "$(q "SELECT links_configured FROM mobisign.worker_stats")" = 0 ]; }
no_links() {
	q "UPDATE mobisign.smsc SET enabled = false" >/dev/null
	q "SELECT pg_catalog.pg_reload_conf()" >/dev/null
	ms_wait_until 15 unconfigured || ms_not_ok "the worker closed every link"
}
bound() { ms_links_bound 1; }
configured() { [ "$(q "SELECT links_configured FROM mobisign.worker_stats")" = 1 ]; }

# authenticate USER: the final state and status, waited for (bounded)
authenticate() {
	local id
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('$1', 'tls', '30 s')")
	q "SELECT state || ' ' || status_code FROM mobisign_wait('$id', '40 s')"
}
sign() {
	local id
	id=$(q "SELECT transaction_id FROM mobisign_sign('$1', \$t\$$2\$t\$, 'tls', '30 s')")
	q "SELECT state || ' ' || status_code FROM mobisign_wait('$id', '40 s')"
}

# refused NAME LINK_ARGS PATTERN: configure the link; it fails with PATTERN
# at least twice (it is retried with its back-off), never binds, and the
# simulator sees no bind
refused() {
	local name=$1 re=$3 pm sm
	pm=$(mark "$PGLOG") sm=$(mark "$SIMLOG")
	link "$name" "$2"
	ms_wait_until 30 at_least_since "$PGLOG" "$pm" 2 "SMSC \"$name\": $re.*; reconnecting\$"
	ms_check "\"$re\" logged on two attempts (retried with back-off)" yes \
		"$(at_least_since "$PGLOG" "$pm" 2 "SMSC \"$name\": $re.*; reconnecting\$" && echo yes)"
	ms_check "the link never bound" 0 "$(count_since "$PGLOG" "$pm" "bound to SMSC \"$name\"")"
	ms_check "no bind reached the simulator" 0 "$(count_since "$SIMLOG" "$sm" 'bound as')"
	ms_check "worker_stats: not bound" 0 "$(q "SELECT links_bound FROM mobisign.worker_stats")"
	echo "#   $(since "$PGLOG" "$pm" | grep -E -m 1 -- "SMSC \"$name\": $re" | sed 's/.*mobisign worker: //')"
}

# the clear link of register.sql binds first: the scenarios start from a
# settled worker (and a clear link still works beside TLS ones)
ms_wait_until 30 bound || {
	ms_not_ok "the clear link 'sim' did not bind"
	exit 1
}

# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
sql_settings() {
	ms_check "tls => true without tls_ca_file: SQLSTATE 22023" 22023 \
		"$(ms_sqlstate "SELECT mobisign_add_smsc('x', '127.0.0.1', 1, 'a', 'b', tls => true)")"
	ms_check "... and the message says what is missing" 1 \
		"$(ms_psql -qAt -c "SELECT mobisign_add_smsc('x', '127.0.0.1', 1, 'a', 'b', tls => true)" 2>&1 |
			grep -c 'tls_ca_file is required when tls is on')"
	ms_check "tls_ca_file without tls: SQLSTATE 22023" 22023 \
		"$(ms_sqlstate "SELECT mobisign_add_smsc('x', '127.0.0.1', 1, 'a', 'b', tls_ca_file => '/x.pem')")"
	ms_check "tls_cert_file without tls_key_file: SQLSTATE 22023" 22023 \
		"$(ms_sqlstate "SELECT mobisign_add_smsc('x', '127.0.0.1', 1, 'a', 'b', tls => true, tls_ca_file => '/x.pem', tls_cert_file => '/c.pem')")"
	ms_check "a server name that is no host name: SQLSTATE 22023" 22023 \
		"$(ms_sqlstate "SELECT mobisign_add_smsc('x', '127.0.0.1', 1, 'a', 'b', tls => true, tls_ca_file => '/x.pem', tls_server_name => 'a b')")"
	ms_check "connect_timeout of 0: SQLSTATE 22023" 22023 \
		"$(ms_sqlstate "SELECT mobisign_add_smsc('x', '127.0.0.1', 1, 'a', 'b', connect_timeout => '0')")"
	ms_check "a row with tls and no CA file cannot be stored at all: SQLSTATE 23514" 23514 \
		"$(ms_sqlstate "INSERT INTO mobisign.smsc (name, host, port, system_id, tls) VALUES ('x', 'h', 1, 's', true)")"
	ms_check "nothing was stored" 0 "$(q "SELECT count(*) FROM mobisign.smsc WHERE name = 'x'")"
	ms_check "the simulator's positional call (12 arguments) still makes a clear link" "false 10000" \
		"$(q "SELECT tls || ' ' || (extract(epoch FROM connect_timeout) * 1000)::int FROM mobisign.smsc WHERE name = 'sim'")"
	q "CREATE ROLE tls_app LOGIN IN ROLE mobisign_app; CREATE ROLE tls_admin LOGIN IN ROLE mobisign_admin" >/dev/null
	ms_check "an application cannot read the key file's path" 42501 \
		"$(PGUSER=tls_app ms_sqlstate "SELECT tls_key_file FROM mobisign.smsc")"
	ms_check "an administrator reads the TLS settings (paths, never a key)" none \
		"$(PGUSER=tls_admin ms_sqlstate "SELECT tls, tls_ca_file, tls_server_name, tls_cert_file, tls_key_file, connect_timeout FROM mobisign.smsc")"
	ms_check "an administrator still cannot read the password" 42501 \
		"$(PGUSER=tls_admin ms_sqlstate "SELECT password FROM mobisign.smsc")"
}

tls_end_to_end() {
	local pm sm tm
	pm=$(mark "$PGLOG") sm=$(mark "$SIMLOG") tm=$(mark "$STLOG")
	link tls-ok "$P_TLS, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test'"
	ms_wait_until 30 bound
	ms_check "the worker binds through stunnel" yes "$(bound && echo yes)"
	ms_check_grep "the log names the protocol, the verified certificate and the name" \
		'SMSC "tls-ok": TLS established: TLSv1\.[23] .*certificate "O=mobisign test,CN=smsc\.test" verified for "smsc\.test"' \
		<(since "$PGLOG" "$pm")
	ms_check "stunnel accepted the connection" yes \
		"$([ "$(count_since "$STLOG" "$tm" 'Service \[smsc\] accepted connection')" -ge 1 ] && echo yes)"
	ms_check "the simulator saw one bind (through stunnel)" 1 "$(count_since "$SIMLOG" "$sm" 'bound as')"
	ms_check "authentication over TLS" "completed 502" "$(authenticate user0001)"
	ms_check "signature over TLS (longer request, answer in several deliver_sm)" "completed 502" \
		"$(sign user0002 'Pay 12,50 EUR to Shop Oy [ref 42]')"
	ms_check "the audit records the link's TLS settings" "true smsc.test" \
		"$(q "SELECT detail->>'tls' || ' ' || (detail->>'tls_server_name') FROM mobisign.audit
		       WHERE operation = 'smsc.add' AND detail->>'name' = 'tls-ok' ORDER BY id DESC LIMIT 1")"
	ms_check_worker_alive
}

wrong_ca() {
	refused tls-wrong-ca "$P_TLS, tls => true, tls_ca_file => '$TLS/other-ca.pem', tls_server_name => 'smsc.test'" \
		'TLS handshake failed: certificate verification failed: unable to get local issuer certificate'
	ms_check "worker_stats.last_error says which check failed" 1 \
		"$(q "SELECT count(*) FROM mobisign.worker_stats WHERE last_error LIKE '%certificate verification failed%'")"
	ms_check_worker_alive
}

hostname_mismatch() {
	refused tls-wrong-name "$P_TLS, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'other.test'" \
		'TLS handshake failed: certificate verification failed: [Hh]ostname mismatch \(the certificate is not for "other\.test"\)'
	# without tls_server_name the host is checked: 127.0.0.1 is not in the certificate
	refused tls-by-address "$P_TLS, tls => true, tls_ca_file => '$TLS/ca.pem'" \
		'TLS handshake failed: certificate verification failed: IP address mismatch \(the certificate is not for "127\.0\.0\.1"\)'
	ms_check_worker_alive
}

client_certificate() {
	local tm
	# the peer requires a client certificate and the link has none
	tm=$(mark "$STLOG")
	refused tls-no-client-cert "$P_MTLS, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test'" \
		'TLS (handshake failed|read|write): .*certificate required'
	ms_check_grep "stunnel refused the connection for want of a certificate" \
		'peer did not return a certificate' <(since "$STLOG" "$tm")

	# a client key that others can read: refused before any connection
	chmod 0644 "$TLS/client.key"
	no_links
	tm=$(mark "$STLOG")
	refused tls-client-cert "$P_MTLS, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test',
	                         tls_cert_file => '$TLS/client.pem', tls_key_file => '$TLS/client.key'" \
		"TLS setup failed: tls_key_file \"[^\"]*client.key\" is open to others \(A key file must be owned by the server's OS user or by root, with mode 0640 or less\.\)"
	ms_check "no connection reached stunnel" 0 \
		"$(count_since "$STLOG" "$tm" 'Service \[smsc-client-cert\] accepted connection')"

	# the key made private again: the next attempt reads it, without a change to the row
	chmod 0600 "$TLS/client.key"
	ms_wait_until 30 bound
	ms_check "the link binds once the key file is private" yes "$(bound && echo yes)"
	ms_check_grep "stunnel verified the worker's certificate" \
		'(Certificate accepted at depth=0: CN=mobisign-worker|CN=mobisign-worker.*accepted)' <(since "$STLOG" "$tm")
	ms_check "authentication with a client certificate" "completed 502" "$(authenticate user0003)"
	ms_check "the key file's content is not in the server log" 0 \
		"$(grep -cF -- "$(sed -n 2p "$TLS/client.key")" "$PGLOG")"
	ms_check_worker_alive
}

bad_files() {
	local tm
	tm=$(mark "$STLOG")
	refused tls-no-ca-file "$P_MTLS, tls => true, tls_ca_file => '$TLS/missing.pem', tls_server_name => 'smsc.test'" \
		"TLS setup failed: cannot read tls_ca_file \"[^\"]*missing.pem\": No such file or directory"
	refused tls-encrypted-key "$P_MTLS, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test',
	                           tls_cert_file => '$TLS/client.pem', tls_key_file => '$TLS/client-encrypted.key'" \
		"TLS setup failed: tls_key_file \"[^\"]*client-encrypted.key\" holds no PEM private key without passphrase"
	refused tls-other-key "$P_MTLS, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test',
	                       tls_cert_file => '$TLS/client.pem', tls_key_file => '$TLS/other.key'" \
		'TLS setup failed: tls_key_file does not match tls_cert_file'
	ms_check "none of them connected to stunnel" 0 \
		"$(count_since "$STLOG" "$tm" 'Service \[smsc-client-cert\] accepted connection')"
	ms_check_worker_alive
}

plain_peer() {
	local pm sm
	pm=$(mark "$PGLOG") sm=$(mark "$SIMLOG")
	refused tls-to-clear "$SMPP, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test'" \
		'TLS handshake failed: '
	ms_check_grep "the log suggests the peer does not speak TLS" \
		'SMSC "tls-to-clear": TLS handshake failed: .*(is the SMSC speaking TLS on this port\?|closed the connection)' \
		<(since "$PGLOG" "$pm")
	ms_check_grep "the simulator read the ClientHello as a bad SMPP frame" \
		'command_length [0-9]+ out of range; closing' <(since "$SIMLOG" "$sm")
	ms_check_worker_alive
}

old_protocol() {
	refused tls-old "$P_OLD, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test'" \
		'TLS handshake failed: .*(protocol version|unsupported protocol|no protocols available)'
	ms_check_worker_alive
}

fifo_files() {
	# a FIFO (or device) instead of a file: OpenSSL's or our open would
	# block the worker until someone writes to it; refused before it is opened
	mkfifo "$TLS/fifo-ca.pem" "$TLS/fifo.key"
	refused tls-fifo-ca "$P_TLS, tls => true, tls_ca_file => '$TLS/fifo-ca.pem', tls_server_name => 'smsc.test'" \
		'TLS setup failed: tls_ca_file "[^"]*fifo-ca.pem" is not a regular file'
	refused tls-fifo-key "$P_MTLS, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test',
	                      tls_cert_file => '$TLS/client.pem', tls_key_file => '$TLS/fifo.key'" \
		'TLS setup failed: tls_key_file "[^"]*fifo.key" is not a regular file'
	# a worker stuck in open(2) is released by a writer
	local f
	for f in "$TLS/fifo-ca.pem" "$TLS/fifo.key"; do
		timeout 2 bash -c ": >'$f'" 2>/dev/null
		rm -f "$f"
	done
	ms_check_worker_alive
}

handshake_timeout() {
	refused tls-silent "$P_SILENT, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test',
	                    connect_timeout => '1 s'" \
		'TLS handshake timed out after 1000 ms'
	ms_check_worker_alive
}

# peer MODE [ARG]: our own TLS SMSC (tls/smsc_peer.py) on P_PEER, logging
# to $WORK/peer-MODE.log; PEER_PID is its process
PEER_PID=
peer() {
	local mode=$1
	shift
	peer_stop
	ms_bg python3 "$MOBISIGN_ROOT/test/e2e/tls/smsc_peer.py" "$mode" "$P_PEER" \
		"$TLS/server.pem" "$TLS/server.key" "$WORK/peer-$mode.log" "$@"
	PEER_PID=$MS_BG_PID
	: >>"$WORK/peer-$mode.log"
	ms_wait_port "$P_PEER" 15
}
peer_stop() {
	[ -n "$PEER_PID" ] && ms_bg_stop "$PEER_PID"
	PEER_PID=
}
# the worker's private memory (malloc'd: OpenSSL's objects), without the
# shared buffers it touches
rss_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$WORKER_PID/status"; }

ca_file_changes() {
	local plog=$WORK/peer-unbind.log pm
	cp "$TLS/ca.pem" "$TLS/rotating-ca.pem"
	chmod 0644 "$TLS/rotating-ca.pem"
	peer unbind
	pm=$(mark "$PGLOG")
	link tls-rotate "$P_PEER, tls => true, tls_ca_file => '$TLS/rotating-ca.pem', tls_server_name => 'smsc.test'"
	ms_wait_until 30 at_least_since "$plog" 0 2 'unbind answered'
	ms_check "the SMSC's unbind ends sessions without error, and the link binds again" yes \
		"$(at_least_since "$plog" 0 2 'unbind answered' &&
			at_least_since "$PGLOG" "$pm" 2 'SMSC "tls-rotate": the SMSC unbound$' && echo yes)"

	pm=$(mark "$PGLOG")
	rm -f "$TLS/rotating-ca.pem"
	ms_wait_until 15 at_least_since "$PGLOG" "$pm" 1 'SMSC "tls-rotate": TLS setup failed: cannot read tls_ca_file'
	ms_check "CA file removed: the next connection is not made" yes \
		"$(at_least_since "$PGLOG" "$pm" 1 'SMSC "tls-rotate": TLS setup failed: cannot read tls_ca_file' && echo yes)"

	pm=$(mark "$PGLOG")
	cp "$TLS/other-ca.pem" "$TLS/rotating-ca.pem"
	chmod 0644 "$TLS/rotating-ca.pem"
	ms_wait_until 15 at_least_since "$PGLOG" "$pm" 1 'SMSC "tls-rotate": TLS handshake failed: certificate verification failed'
	ms_check "CA file replaced by another CA: the SMSC is refused" yes \
		"$(at_least_since "$PGLOG" "$pm" 1 'SMSC "tls-rotate": TLS handshake failed: certificate verification failed' && echo yes)"

	pm=$(mark "$PGLOG")
	cp "$TLS/ca.pem" "$TLS/rotating-ca.pem"
	ms_wait_until 30 at_least_since "$PGLOG" "$pm" 1 'bound to SMSC "tls-rotate"'
	ms_check "CA file restored: the link binds again, no change to the row" yes \
		"$(at_least_since "$PGLOG" "$pm" 1 'bound to SMSC "tls-rotate"' && echo yes)"
	peer_stop
	ms_check_worker_alive
}

pending_drain() {
	local plog=$WORK/peer-burst.log
	no_links
	peer burst 20000
	link tls-burst "$P_PEER, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test'"
	ms_wait_until 40 grep -q 'burst answered' "$plog"
	ms_check "every enquire_link of the burst answered, none stuck inside OpenSSL" \
		"burst answered 20000/20000" "$(grep -m 1 -o 'burst answered.*' "$plog")"
	ms_check "the link stayed up through the burst" yes "$(bound && echo yes)"
	ms_check_grep "the worker sent the server name as SNI" ': sni smsc\.test$' "$plog"
	peer_stop
	ms_check_worker_alive
}

memory_bounded() {
	local plog=$WORK/peer-flap.log before after
	no_links
	# every bound session starts the back-off over here: by default a session
	# must stay bound 30 s for that, and with every refused handshake
	# doubling the delay (up to 120 s) the 80 cycles would take hours
	q "ALTER SYSTEM SET mobisign.smsc_stable_session = 0" >/dev/null
	peer flap "$TLS/rogue.pem:$TLS/rogue.key"
	q "SELECT mobisign_add_smsc('tls-flap', '127.0.0.1', $P_PEER, system_id => 'mobisign', password => 'secret',
	                            tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test',
	                            reconnect_delay => '100 ms')" >/dev/null
	q "UPDATE mobisign.smsc SET enabled = (name = 'tls-flap')" >/dev/null
	q "SELECT pg_catalog.pg_reload_conf()" >/dev/null
	# warm-up: OpenSSL's and the allocator's one-time growth
	ms_wait_until 60 at_least_since "$plog" 0 20 'handshake failed'
	before=$(rss_kb)
	ms_wait_until 120 at_least_since "$plog" 0 100 'handshake failed'
	after=$(rss_kb)
	ms_check "80 more failed handshakes (and sessions between them) took place" yes \
		"$(at_least_since "$plog" 0 100 'handshake failed' && at_least_since "$plog" 0 99 ': bound$' && echo yes)"
	echo "#   worker RssAnon ${before} kB -> ${after} kB after 80 failed handshakes and 80 sessions"
	ms_check "the worker's private RSS grew by less than 1 MB" yes "$([ $((after - before)) -lt 1024 ] && echo yes)"
	ms_check_grep "the worker refused the untrusted certificate" \
		'SMSC "tls-flap": TLS handshake failed: certificate verification failed' "$PGLOG"
	peer_stop
	q "ALTER SYSTEM RESET mobisign.smsc_stable_session" >/dev/null
	q "SELECT pg_catalog.pg_reload_conf()" >/dev/null
	ms_check_worker_alive
}

utf8_last_error() {
	local name prefix pad="" path utf8ok
	utf8ok="SELECT pg_catalog.convert_from(pg_catalog.textsend(last_error), 'UTF8') FROM mobisign.worker_stats"

	# a name within the 63-character limit of names but longer than the worker
	# keeps of it (63 bytes): "tls-" and
	# 2-byte characters, so byte 63 is the first half of one
	name="tls-$(printf 'ä%.0s' $(seq 1 40))"
	link "$name" "$P_TLS, tls => true, tls_ca_file => '$TLS/missing-name.pem', tls_server_name => 'smsc.test'"
	ms_wait_until 15 at_least_since "$PGLOG" 0 1 'cannot read tls_ca_file "[^"]*/missing-name.pem"'
	ms_check "a long SMSC name, cut by the worker: last_error is valid UTF-8" none "$(ms_sqlstate "$utf8ok")"
	ms_check "... the name cut after its last whole character (62 bytes)" "tls-$(printf 'ä%.0s' $(seq 1 29))" \
		"$(q "SELECT substring(last_error FROM '^SMSC \"([^\"]*)\"') FROM mobisign.worker_stats")"

	# a message longer than last_error (159 bytes) whose byte 159 is the
	# first half of a character: the path of the missing CA file ends in
	# 2-byte characters from an even offset of the message on
	prefix="SMSC \"tls-utf8\": TLS setup failed: cannot read tls_ca_file \"$TLS/"
	[ $((${#prefix} % 2)) -eq 1 ] && pad=x
	path="$TLS/$pad$(printf 'é%.0s' $(seq 1 100)).pem"
	link tls-utf8 "$P_TLS, tls => true, tls_ca_file => '$path', tls_server_name => 'smsc.test'"
	ms_wait_until 15 at_least_since "$PGLOG" 0 1 'SMSC "tls-utf8": TLS setup failed: cannot read'
	ms_check "a long message: last_error is valid UTF-8" none "$(ms_sqlstate "$utf8ok")"
	ms_check "... cut before the character that did not fit (158 bytes)" 158 \
		"$(q "SELECT octet_length(last_error) FROM mobisign.worker_stats")"
	ms_check_worker_alive
}

survival() {
	ms_check "the worker process never changed" "$WORKER_PID" "$(q "SELECT pid FROM mobisign.worker_stats")"
	ms_check "no backend crashed (no restart of the cluster)" 0 \
		"$(grep -Ec 'terminated by signal|was terminated|all server processes terminated' "$PGLOG")"
	ms_check "the SMPP password never reached the log" 0 "$(grep -c "secret" "$PGLOG")"
	ms_check_grep "failed sessions were retried (reconnects counted)" '^[1-9][0-9]*$' \
		<(q "SELECT reconnects FROM mobisign.worker_stats")
	# back to the good link: TLS works after all of that
	link tls-ok "$P_TLS, tls => true, tls_ca_file => '$TLS/ca.pem', tls_server_name => 'smsc.test'"
	ms_wait_until 30 bound
	ms_check "authentication over TLS after every failure" "completed 502" "$(authenticate user0004)"
	ms_check "audit chain intact" t "$(q "SELECT intact FROM mobisign_audit_verify()")"
}

ms_scenario sql_settings sql_settings
ms_scenario tls_end_to_end tls_end_to_end
ms_scenario wrong_ca wrong_ca
ms_scenario hostname_mismatch hostname_mismatch
ms_scenario client_certificate client_certificate
ms_scenario bad_files bad_files
ms_scenario plain_peer plain_peer
ms_scenario old_protocol old_protocol
ms_scenario fifo_files fifo_files
ms_scenario handshake_timeout handshake_timeout
ms_scenario ca_file_changes ca_file_changes
ms_scenario pending_drain pending_drain
ms_scenario memory_bounded memory_bounded
ms_scenario utf8_last_error utf8_last_error
ms_scenario survival survival
ms_summary
