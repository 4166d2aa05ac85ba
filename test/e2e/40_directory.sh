#!/usr/bin/env bash
# Directories and revocation end to end (docs/directories.md): a private slapd (LDAP,
# LDAPS, StartTLS), an HTTP server for certificate URLs and CRL distribution
# points, an OCSP responder, all on 127.0.0.1, and a private cluster. What it
# proves: users and certificates are found in directories safely (no filter
# injection, TLS verified, bounded when the server freezes), revocation data
# comes from every source and fails closed when stale or missing, and a user
# known only to a directory authenticates through the worker.
#
# Scenarios (each a function below, run by ms_scenario, in this order; the
# CRL and OCSP ones build on the state the earlier ones leave):
#   add_directory_refusals  bad filter templates, StartTLS on ldaps://, a DN in the URL
#   bind_password_secret    no role reads it, the audit only says it is set
#   ldap_lookup             found, normalised, cached; none, two (error), UTF-8;
#                           a mobile number that is no MSISDN is refused
#   filter_injection        user ids with filter syntax match nothing (RFC 4515)
#   ldap_tls                LDAPS and StartTLS against the trusted CA or another
#   bind_failures           a wrong password (not shown), an anonymous bind
#   frozen_directory        SIGSTOP: cached and new connections time out in bound
#   restarted_directory     the cached connection is re-established once
#   certificate_urls        http:// and ldap:// URLs; missing; a redirect
#   crl_sources             distribution points, CA entries, forged certificates
#   stale_crls              past next_update: 424 unless within the grace
#   revocation              revoked in a new CRL: refused at the next validation
#   crl_refresh_due         _refresh_due_crls fetches a CRL close to next_update
#   refresher_worker        the refresher worker does it on its own
#   ocsp                    good, revoked, unknown, cached, falls back to CRL
#   ocsp_past_time          at => a past time needs data valid then (424)
#   ocsp_responder_down     down or frozen: fail closed, or the CRL; a frozen
#                           responder costs a fetch timeout once per process
#                           and back-off, not per verification
#   ocsp_cancel_kept        a statement_timeout that comes due while a responder
#                           answers cancels the statement (57014), not lost
#   ocsp_cache_held         a transaction that cached a response and stays open
#                           does not hold up another validation of the same
#                           certificate (it waited for that transaction's end)
#   delta_crl               a revocation in the delta CRL only
#   sim_directory_user      a user only in LDAP authenticates through the worker
#                           and the simulator; revoked via the directory's CRL
#   hostile_directory       a fake server (ldap/hostile_ldap.py): 40 MB values,
#                           thousands of entries, a diagnostic message of raw
#                           bytes: clear errors, bounded memory, no restart,
#                           printable last_error
#   no_secret_in_log        the bind password is not in the server log
#
#   bash test/e2e/40_directory.sh                    (after make install)
#
# Ports: free ones. KEEP=1 keeps the work directory.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib/e2e.sh"
. "$HERE/ldap/slapd.sh"

ms_e2e_init
ms_e2e_ports PG_PORT LDAP_PORT LDAPS_PORT HTTP_PORT OCSP_PORT SMPP_PORT
BIND_PW="e2e-Bind-secret-$RANDOM$RANDOM"
PKI=$WORK/pki
LDAPDIR=$WORK/slapd
WWW=$WORK/www
SIMDIR=$WORK/sim
PEOPLE='ou=people,o=mobisign e2e,c=FI'
echo "# directories and revocation (ports: pg $PG_PORT, ldap $LDAP_PORT/$LDAPS_PORT, http $HTTP_PORT, ocsp $OCSP_PORT)"

e2e_on_exit() {
	slapd_stop "$LDAPDIR"
}

# results without notices (the checks compare them exactly)
q() { PGOPTIONS="-c client_min_messages=error" ms_psql -qAt -c "$1" 2>&1; }
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }

# ---------------------------------------------------------------------------
# set-up: the test PKI, slapd, HTTP, OCSP, the cluster and its PKIs
# ---------------------------------------------------------------------------
bash "$HERE/ldap/make_pki.sh" "$PKI" "$HTTP_PORT" "$LDAP_PORT" "$OCSP_PORT" || ms_e2e_die "ldap/make_pki.sh"
chmod -R a+rX "$PKI"
chmod 0700 "$PKI/root" "$PKI/int"

slapd_setup "$LDAPDIR" "$PKI" "$BIND_PW" || ms_e2e_die "slapd_setup"
slapd_start "$LDAPDIR" "$LDAP_PORT" "$LDAPS_PORT" || ms_e2e_die "slapd_start"
echo "# slapd pid $(slapd_pid "$LDAPDIR")"

# HTTP: certificate URLs and CRL distribution points (int.crl is published
# only in the directory at first)
mkdir -p "$WWW"
cp "$PKI/root.crl.der" "$WWW/root.crl"
cp "$PKI/carol.der" "$WWW/carol.der"
ms_bg python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$WWW" >"$WORK/http.log" 2>&1

start_ocsp() {
	OCSP_DELAY_FILE=$WORK/ocsp.delay ms_bg python3 "$HERE/ldap/ocsp_http.py" "$OCSP_PORT" \
		"int=$PKI/int/index.txt,$PKI/int.pem,$PKI/ocsp-int.pem,$PKI/ocsp-int.key" \
		"root=$PKI/root/index.txt,$PKI/root.pem,$PKI/root.pem,$PKI/root/key.pem" \
		>"$WORK/ocsp.log" 2>&1
	OCSP_PID=$MS_BG_PID
}
start_ocsp
ms_wait_port "$HTTP_PORT" || ms_e2e_die "the HTTP server did not start"
ms_wait_port "$OCSP_PORT" || ms_e2e_die "the OCSP responder did not start"

# the refresher worker stays off until its own scenario, so that the refresh
# counts asserted on the way are not raced by it
ms_e2e_cluster "$WORK/cluster" "$PG_PORT" postgres "mobisign.crl_refresh_interval = 0"

ROOT=$(hex "$PKI/root.der")
INT=$(hex "$PKI/int.der")
for u in alice bob carol dave erin frank gina; do
	declare "HEX_${u}=$(hex "$PKI/$u.der")"
done
cert() { local v="HEX_$1"; echo "'\\x${!v}'::bytea"; }
# the root is the trust anchor; the intermediate a known CA of the PKI
ANCHORS="ARRAY['\\x$ROOT'::bytea], intermediates => ARRAY['\\x$INT'::bytea]"

q "SELECT mobisign_add_pki('e2e', $ANCHORS, revocation => 'crl');
   SELECT mobisign_add_pki('e2e-ocsp', $ANCHORS, revocation => 'ocsp');
   SELECT mobisign_add_pki('e2e-ocspcrl', $ANCHORS, revocation => 'ocsp,crl');
   SELECT mobisign_add_pki('e2e-stale', $ANCHORS, revocation => 'crl');
   SELECT mobisign_add_pki('e2e-grace', $ANCHORS, revocation => 'crl', crl_grace => '10 years');
" >/dev/null || ms_e2e_die "could not add the PKIs"
# stale CRLs (2024-01-01 .. 2024-02-01) in two PKIs kept out of the refreshes
q "SELECT mobisign_add_crl('e2e-stale', pg_read_binary_file('$PKI/root-stale.crl.pem'));
   SELECT mobisign_add_crl('e2e-stale', pg_read_binary_file('$PKI/int-stale.crl.pem'));
   SELECT mobisign_add_crl('e2e-grace', pg_read_binary_file('$PKI/root-stale.crl.pem'));
   SELECT mobisign_add_crl('e2e-grace', pg_read_binary_file('$PKI/int-stale.crl.pem'));
   UPDATE mobisign.pki SET enabled = false WHERE name IN ('e2e-stale', 'e2e-grace');" >/dev/null ||
	ms_not_ok "could not add the stale CRLs"

# the directory most scenarios use
CORP=$(q "SELECT mobisign_add_directory('corp', 'ldap://127.0.0.1:$LDAP_PORT', '$PEOPLE',
          bind_dn => 'cn=admin,c=FI', bind_password => '$BIND_PW', timeout => '2 s', pki => 'e2e')")
ms_check_match "directory added" '^[0-9]+$' "$CORP"

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
# register a user with only a certificate URL: the certificate is fetched
# when the user is looked up
register_url_user() { # USER MSISDN URL
	local out
	out=$(q "SELECT mobisign_register_user('$1', '$2', 'e2e', certificate_url => '$3')")
	[ -z "$out" ] || ms_not_ok "mobisign_register_user('$1', certificate_url => '$3'): $out"
}

# validate CERT PKI -> "status_code status_name"
validate() {
	q "SELECT status_code || ' ' || status_name FROM mobisign_validate_certificate($(cert "$1"), pki => '$2')"
}

# the four TLS directories (disabled: searched by id), made once
TLS_OK=
tls_directories() {
	[ -n "$TLS_OK" ] && return 0
	cp "$PKI/tls-ca.pem" "$PKI/other-ca.pem" "$WORK/"
	chmod 0644 "$WORK/tls-ca.pem" "$WORK/other-ca.pem"
	TLS_OK=$(add_dir ldaps-trusted "ldaps://127.0.0.1:$LDAPS_PORT" false "$WORK/tls-ca.pem")
	TLS_BAD=$(add_dir ldaps-untrusted "ldaps://127.0.0.1:$LDAPS_PORT" false "$WORK/other-ca.pem")
	STLS_OK=$(add_dir starttls-trusted "ldap://127.0.0.1:$LDAP_PORT" true "$WORK/tls-ca.pem")
	STLS_BAD=$(add_dir starttls-untrusted "ldap://127.0.0.1:$LDAP_PORT" true "$WORK/other-ca.pem")
}
add_dir() { # NAME URL STARTTLS CAFILE
	q "SELECT mobisign_add_directory('$1', '$2', '$PEOPLE', bind_dn => 'cn=admin,c=FI',
	   bind_password => '$BIND_PW', starttls => $3, ca_file => '$4', timeout => '3 s', enabled => false)"
}
# took TIME MIN MAX DESCRIPTION: a check that TIME (seconds) is within [MIN, MAX]
took() {
	if [ -n "$1" ] && awk "BEGIN{exit !($1 >= $2 && $1 <= $3)}"; then
		ms_ok "$4 (${1}s)"
	else
		ms_not_ok "$4 (expected ${2}..${3}s, took '${1}'s)"
	fi
}

revoke() { # NAME: revoke in the CA database, publish a new CRL (LDAP and HTTP)
	CADIR="$PKI/int" openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/int.pem" -keyfile "$PKI/int/key.pem" \
		-revoke "$PKI/$1.pem" >/dev/null 2>&1 || return 1
	publish_int_crl
}
publish_int_crl() { # [extra openssl ca args]
	CADIR="$PKI/int" openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/int.pem" -keyfile "$PKI/int/key.pem" \
		-gencrl "$@" -out "$WORK/int-new.crl.pem" >/dev/null 2>&1 || return 1
	openssl crl -in "$WORK/int-new.crl.pem" -outform DER -out "$WORK/int-new.crl.der" || return 1
	cp "$WORK/int-new.crl.der" "$WWW/int.crl"
	chmod 0644 "$WORK/int-new.crl.der"
	ldapmodify -x -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,c=FI -w "$BIND_PW" >/dev/null <<LDIF
dn: cn=Int CA,o=mobisign e2e,c=FI
changetype: modify
replace: certificateRevocationList;binary
certificateRevocationList;binary:< file://$WORK/int-new.crl.der
LDIF
}
int_crls() { q "SELECT string_agg(encode(sha256, 'hex'), ',' ORDER BY id) FROM mobisign.crl WHERE issuer LIKE 'CN=Int CA%'"; }
int_crls_changed() { [ "$(int_crls)" != "$1" ]; }

final_of() { # ID -> "state status"
	q "SELECT state || ' ' || status_code FROM mobisign_wait('$1', '40 s')"
}

AT="now() - interval '1 hour'"
at_status() { # PKI -> status_code|first OCSP error or ''
	q "SELECT status_code || '|' || coalesce(evidence->'ocsp'->0->>'error', '')
	     FROM mobisign_validate_certificate($(cert gina), pki => '$1', at => $AT)"
}

# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------

add_directory_refusals() {
	ms_check "a filter template without %s is refused" 22023 \
		"$(ms_sqlstate "SELECT mobisign_add_directory('x', 'ldap://127.0.0.1:$LDAP_PORT', 'c=FI', user_filter => '(uid=alice)')")"
	ms_check "a filter template with two %s is refused" 22023 \
		"$(ms_sqlstate "SELECT mobisign_add_directory('x', 'ldap://127.0.0.1:$LDAP_PORT', 'c=FI', user_filter => '(|(uid=%s)(cn=%s))')")"
	ms_check "StartTLS on ldaps:// is refused" 22023 \
		"$(ms_sqlstate "SELECT mobisign_add_directory('x', 'ldaps://127.0.0.1:$LDAPS_PORT', 'c=FI', starttls => true)")"
	ms_check "a URL with a DN is refused" 22023 \
		"$(ms_sqlstate "SELECT mobisign_add_directory('x', 'ldap://127.0.0.1:$LDAP_PORT/c=FI', 'c=FI')")"
}

bind_password_secret() {
	ms_check "mobisign_app cannot read bind_password" f \
		"$(q "SELECT has_column_privilege('mobisign_app', 'mobisign.directory', 'bind_password', 'SELECT')")"
	ms_check "mobisign_admin cannot read bind_password" f \
		"$(q "SELECT has_column_privilege('mobisign_admin', 'mobisign.directory', 'bind_password', 'SELECT')")"
	ms_check "mobisign_auditor cannot read bind_password" f \
		"$(q "SELECT has_column_privilege('mobisign_auditor', 'mobisign.directory', 'bind_password', 'SELECT')")"
	ms_check "the audit does not hold the password" 0 \
		"$(q "SELECT count(*) FROM mobisign.audit WHERE detail::text LIKE '%$BIND_PW%'")"
	ms_check "the audit says a password is set" true \
		"$(q "SELECT detail->>'bind_password_set' FROM mobisign.audit WHERE operation = 'directory.add' ORDER BY id DESC LIMIT 1")"
}

ldap_lookup() {
	local out
	OUT=$(q "SELECT user_id, msisdn, cardinality(certificates), source, directory,
	                certificates[1] = $(cert alice) FROM mobisign_lookup_user('alice')")
	ms_check "alice is found in the directory, MSISDN normalised, her certificate" \
		"alice|+358401111111|1|ldap|corp|t" "$OUT"
	ms_check "alice's certificate is cached with source ldap and its entry URL" \
		"ldap|ldap://127.0.0.1:$LDAP_PORT/uid=alice,$PEOPLE|t" \
		"$(q "SELECT source, source_url, fetched_at > now() - interval '1 min' FROM mobisign.certificate
	          WHERE der = $(cert alice)")"
	ms_check "an unknown user gives no row" 0 "$(q "SELECT count(*) FROM mobisign_lookup_user('nobody')")"
	ms_check "two entries matching is an error, never a pick" 21000 \
		"$(ms_sqlstate "SELECT * FROM mobisign_lookup_user('twin')")"
	ms_check "a non-ASCII user id is matched exactly (escaped UTF-8)" "+358408888888|0" \
		"$(q "SELECT msisdn, cardinality(certificates) FROM mobisign_lookup_user('jösé')")"
	# a directory's mobile attribute is free text: nothing is sent to one that is
	# not an MSISDN
	ldapadd -x -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,c=FI -w "$BIND_PW" >/dev/null 2>&1 <<LDIF || ms_not_ok "ldapadd badphone"
dn: uid=badphone,$PEOPLE
objectClass: inetOrgPerson
uid: badphone
cn: Bad Phone
sn: Phone
mobile: +12
userCertificate;binary:< file://$PKI/alice.der
LDIF
	ms_check "a user whose directory mobile number is not an MSISDN is refused (MS101)" MS101 \
		"$(ms_sqlstate "SELECT * FROM mobisign_authenticate('badphone')")"
}

filter_injection() {
	local inj sql_inj
	for inj in '*' ')(uid=*' 'alice*' '*)(|(uid=*' 'al*ce' 'alice)(uid=bob' '\2a' 'alicé'; do
		sql_inj=${inj//\'/\'\'}
		ms_check "user id [$inj] matches nothing" 0 \
			"$(q "SELECT count(*) FROM mobisign_lookup_user('$sql_inj')")"
	done
	ms_check "the filter escapes * ( ) \\ (RFC 4515)" '(uid=\2A\29\28uid=\5C2a)' \
		"$(q "SELECT mobisign._ldap_filter('(uid=%s)', convert_to('*)(uid=\\2a', 'UTF8'))")"
	ms_check "the filter escapes NUL and non-ASCII bytes" '(uid=al\00\C3\A9)' \
		"$(q "SELECT mobisign._ldap_filter('(uid=%s)', '\\x616c00c3a9'::bytea)")"
	ms_check "a user id with a NUL byte matches nothing (alice\\0)" f \
		"$(q "SELECT (mobisign._directory_search($CORP, '\\x616c69636500'::bytea)).found")"
	ms_check "a NUL byte cannot reach a lookup as text" 22021 \
		"$(ms_sqlstate "SELECT * FROM mobisign_lookup_user(E'alice\\000')")"
}

# LDAPS and StartTLS verify the server certificate against ca_file
ldap_tls() {
	local OUT
	tls_directories
	# one session, trusted and untrusted interleaved: a TLS context must not leak
	OUT=$(ms_psql -d postgres -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1 <<SQL
SELECT 'a:' || (mobisign._directory_search($TLS_OK, convert_to('alice', 'UTF8'))).found;
SELECT 'b:' || (mobisign._directory_search($TLS_BAD, convert_to('alice', 'UTF8'))).found;
SELECT 'c:' || (mobisign._directory_search($STLS_OK, convert_to('alice', 'UTF8'))).found;
SELECT 'd:' || (mobisign._directory_search($STLS_BAD, convert_to('alice', 'UTF8'))).found;
SELECT 'e:' || (mobisign._directory_search($TLS_OK, convert_to('bob', 'UTF8'))).found;
SQL
	)
	ms_check_match "ldaps:// with the trusted CA finds alice" 'a:true' "$OUT"
	ms_check_match "ldaps:// with an unrelated CA fails (08006)" 'ERROR: +08006: directory "ldaps-untrusted" is unavailable' "$OUT"
	ms_check_match "StartTLS with the trusted CA finds alice" 'c:true' "$OUT"
	ms_check_match "StartTLS with an unrelated CA fails (08006)" 'ERROR: +08006: directory "starttls-untrusted" is unavailable' "$OUT"
	ms_check_match "ldaps:// still works after the failures" 'e:true' "$OUT"
	if [[ "$OUT" == *b:true* || "$OUT" == *d:true* ]]; then ms_not_ok "an untrusted server was accepted"; else ms_ok "no untrusted server was accepted"; fi
}

# a wrong bind password fails without showing the password; anonymous binds
# are refused by the ACL
bind_failures() {
	local OUT WRONG ANON
	q "SELECT mobisign_add_directory('wrongpw', 'ldap://127.0.0.1:$LDAP_PORT', '$PEOPLE', bind_dn => 'cn=admin,c=FI',
	   bind_password => 'not-the-password-$RANDOM', enabled => false)" >/dev/null
	WRONG=$(q "SELECT id FROM mobisign.directory WHERE name = 'wrongpw'")
	OUT=$(ms_psql -d postgres -At -v VERBOSITY=verbose -c "SELECT mobisign._directory_search($WRONG, convert_to('alice', 'UTF8'))" 2>&1)
	ms_check_match "wrong password: bind refused (08006, Invalid credentials)" '08006.*Invalid credentials' "$(echo "$OUT" | tr '\n' ' ')"
	if [[ "$OUT" == *not-the-password* || "$OUT" == *"$BIND_PW"* ]]; then ms_not_ok "the error shows a password"; else ms_ok "the error shows no password"; fi
	ANON=$(q "SELECT mobisign_add_directory('anonymous', 'ldap://127.0.0.1:$LDAP_PORT', '$PEOPLE', enabled => false)")
	ms_check "anonymous bind may not read the people subtree (ACL): error" 08006 \
		"$(ms_sqlstate "SELECT (mobisign._directory_search($ANON, convert_to('alice', 'UTF8'))).found")"
}

# a frozen directory (SIGSTOP) times out within its bound
frozen_directory() {
	local SLAPD_PID T0 T1 OUT EL EL2 EL3 TOTAL
	tls_directories
	SLAPD_PID=$(slapd_pid "$LDAPDIR")
	# a session with a cached connection, then the server freezes
	T0=$(date +%s.%N)
	OUT=$(ms_psql -d postgres -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1 <<SQL
SELECT 'warm:' || (mobisign._directory_search($CORP, convert_to('alice', 'UTF8'))).found;
\! kill -STOP $SLAPD_PID
SELECT clock_timestamp() AS t0 \gset
SELECT mobisign._directory_search($CORP, convert_to('alice', 'UTF8'));
SELECT 'elapsed:' || round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 1);
SELECT clock_timestamp() AS t1 \gset
SELECT * FROM mobisign_lookup_user('bob');
SELECT 'elapsed2:' || round(extract(epoch FROM clock_timestamp() - :'t1'::timestamptz)::numeric, 1);
SELECT clock_timestamp() AS t2 \gset
SELECT mobisign._directory_search($TLS_OK, convert_to('alice', 'UTF8'));
SELECT 'elapsed3:' || round(extract(epoch FROM clock_timestamp() - :'t2'::timestamptz)::numeric, 1);
SELECT 'alive:' || 1 + 1;
\! kill -CONT $SLAPD_PID
SELECT 'after:' || (mobisign._directory_search($CORP, convert_to('alice', 'UTF8'))).found;
SQL
	)
	kill -CONT "$SLAPD_PID" 2>/dev/null || true
	T1=$(date +%s.%N)
	ms_check_match "warm connection works" 'warm:true' "$OUT"
	ms_check_match "the frozen search fails with a timeout (57014)" 'ERROR: +57014: directory "corp" is unavailable' "$OUT"
	EL=$(echo "$OUT" | sed -n 's/^elapsed:\([0-9.]*\)$/\1/p')
	EL2=$(echo "$OUT" | sed -n 's/^elapsed2:\([0-9.]*\)$/\1/p')
	echo "# frozen: cached connection ${EL}s, new connection ${EL2}s (bound 2 s + 2 s)"
	EL3=$(echo "$OUT" | sed -n 's/^elapsed3:\([0-9.]*\)$/\1/p')
	took "$EL" 1.5 4.0 "cached connection: timed out (bound 2 s)"
	took "$EL2" 1.5 4.0 "new connection: timed out (bound 2 s)"
	took "$EL3" 2.5 5.0 "ldaps:// (TLS handshake): timed out (bound 3 s)"
	ms_check_match "the backend stays usable" 'alive:2' "$OUT"
	ms_check_match "after SIGCONT the same backend finds alice again" 'after:true' "$OUT"
	TOTAL=$(awk "BEGIN{print $T1 - $T0}")
	took "$TOTAL" 0 20 "the whole frozen-server session"
}

# a restarted directory: the cached connection is re-established once
restarted_directory() {
	local OUT
	OUT=$(ms_psql -d postgres -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1 <<SQL
SELECT 'before:' || (mobisign._directory_search($CORP, convert_to('alice', 'UTF8'))).found;
\! bash -c '. "$HERE/ldap/slapd.sh"; slapd_stop "$LDAPDIR"; slapd_start "$LDAPDIR" $LDAP_PORT $LDAPS_PORT'
SELECT 'reconnected:' || (mobisign._directory_search($CORP, convert_to('alice', 'UTF8'))).found;
SQL
	)
	ms_check_match "before the restart" 'before:true' "$OUT"
	ms_check_match "after the restart, the same session finds alice" 'reconnected:true' "$OUT"
	[ -n "$(slapd_pid "$LDAPDIR")" ] || ms_e2e_die "slapd did not come back"
}

# certificate URLs (http:// and ldap://); a redirect is not followed
certificate_urls() {
	local DAVE_URL REDIR_PORT
	register_url_user carol +358403333333 "http://127.0.0.1:$HTTP_PORT/carol.der"
	ms_check "carol (register + http certificate URL)" \
		"carol|+358403333333|url|http://127.0.0.1:$HTTP_PORT/carol.der|t" \
		"$(q "SELECT user_id, msisdn, source, directory, certificates = ARRAY[$(cert carol)] FROM mobisign_lookup_user('carol')")"
	ms_check "carol's certificate is cached with source url" "url|t" \
		"$(q "SELECT source, source_url = 'http://127.0.0.1:$HTTP_PORT/carol.der' FROM mobisign.certificate WHERE der = $(cert carol)")"
	DAVE_URL="ldap://127.0.0.1:$LDAP_PORT/cn=dave,ou=certs,o=mobisign%20e2e,c=FI?userCertificate;binary"
	register_url_user dave +358404444444 "$DAVE_URL"
	ms_check "dave (register + ldap:// certificate URL)" "dave|url|t" \
		"$(q "SELECT user_id, source, certificates = ARRAY[$(cert dave)] FROM mobisign_lookup_user('dave')")"
	register_url_user ghost +358409999999 "http://127.0.0.1:$HTTP_PORT/missing.der"
	ms_check "a certificate URL that is not there: error 08006" 08006 "$(ms_sqlstate "SELECT * FROM mobisign_lookup_user('ghost')")"
	# a URL that answers with a redirect is not followed: a certificate or CRL
	# URL answers itself or not at all (a redirect could send the server anywhere)
	ms_e2e_ports REDIR_PORT
	ms_bg python3 -c '
import sys, http.server
target = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$REDIR_PORT" "http://127.0.0.1:$HTTP_PORT" >"$WORK/redirect.log" 2>&1
	ms_wait_port "$REDIR_PORT" || ms_not_ok "the redirecting HTTP server did not start"
	register_url_user redirected +358405555555 "http://127.0.0.1:$REDIR_PORT/carol.der"
	ms_check "a certificate URL that redirects is not followed: error 08006" 08006 \
		"$(ms_sqlstate "SELECT * FROM mobisign_lookup_user('redirected')")"
	ms_check_grep "... the redirecting server was asked (and answered 302)" "GET /carol.der" "$WORK/redirect.log"
}

# CRLs: distribution points (HTTP, LDAP) and CA entries
crl_sources() {
	local N
	ms_check "before any CRL, alice fails closed (424)" "424 CRL_EXPIRED" "$(validate alice e2e)"
	ms_check_match "... because the CRL is missing" 'unable to get certificate CRL' \
		"$(q "SELECT reason FROM mobisign_validate_certificate($(cert alice), pki => 'e2e')")"
	N=$(q "SELECT mobisign_refresh_crls()")
	ms_check "mobisign_refresh_crls() stores the root's and the intermediate's CRLs in each of the 3 PKIs" 6 "$N"
	ms_check "PKI e2e has both" 2 "$(q "SELECT count(*) FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id WHERE p.name = 'e2e'")"
	ms_check "the root CRL came over HTTP (int's distribution point)" "url|http://127.0.0.1:$HTTP_PORT/root.crl" \
		"$(q "SELECT source, source_url FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
	          WHERE p.name = 'e2e' AND c.issuer LIKE 'CN=Root CA%'")"
	ms_check "the intermediate's CRL came from LDAP (HTTP copy not published yet)" "ldap" \
		"$(q "SELECT source FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
	          WHERE p.name = 'e2e' AND c.issuer LIKE 'CN=Int CA%'")"
	ms_check "sources known: distribution points, delta points and CA entries" "delta distribution_point ldap_ca" \
		"$(q "SELECT string_agg(DISTINCT kind, ' ' ORDER BY kind) FROM mobisign.crl_source s JOIN mobisign.pki p ON p.id = s.pki_id WHERE p.name = 'e2e'")"
	ms_check "the failing HTTP distribution point is recorded" "1" \
		"$(q "SELECT count(*) FROM mobisign.crl_source s JOIN mobisign.pki p ON p.id = s.pki_id
	          WHERE p.name = 'e2e' AND s.url = 'http://127.0.0.1:$HTTP_PORT/int.crl' AND s.failures > 0 AND s.last_error IS NOT NULL")"
	ms_check "alice validates now" "502 VALID_SIGNATURE" "$(validate alice e2e)"
	ms_check "the evidence names the CRL numbers relied on (int's for alice, root's for int and root)" \
		"CN=Int CA,O=mobisign e2e,C=FI:1 CN=Root CA,O=mobisign e2e,C=FI:1" \
		"$(q "SELECT string_agg((e->>'issuer') || ':' || (e->>'crl_number'), ' ' ORDER BY e->>'issuer')
		        FROM (SELECT DISTINCT e FROM mobisign_validate_certificate($(cert alice), pki => 'e2e') v,
		              jsonb_array_elements(v.evidence->'crls') e) x")"
	# a certificate cached from a directory that claims the intermediate's name
	# but was not issued by the PKI's CAs names no distribution point that the
	# refresh would fetch (else any cached certificate could point the server
	# at any host)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/evil.key" \
		-subj "/C=FI/O=mobisign e2e/CN=Int CA" -days 30 -out "$WORK/evil.pem" \
		-addext "crlDistributionPoints=URI:http://127.0.0.1:9/evil.crl" >/dev/null 2>&1 &&
		openssl x509 -in "$WORK/evil.pem" -outform DER -out "$WORK/evil.der" || ms_not_ok "could not make the forged certificate"
	q "SELECT mobisign._cache_certificate('\\x$(hex "$WORK/evil.der")'::bytea, 'ldap', NULL,
	          (SELECT id FROM mobisign.pki WHERE name = 'e2e'))" >/dev/null
	ms_check "the forged certificate is in the cache (source ldap)" 1 \
		"$(q "SELECT count(*) FROM mobisign.certificate WHERE source = 'ldap' AND subject = 'CN=Int CA,O=mobisign e2e,C=FI'")"
	q "SELECT mobisign_refresh_crls()" >/dev/null
	ms_check "a distribution point in a certificate the PKI did not issue is never fetched" 0 \
		"$(q "SELECT count(*) FROM mobisign.crl_source WHERE url LIKE '%evil.crl'")"
	ms_check "a second refresh changes nothing" 0 "$(q "SELECT mobisign_refresh_crls()")"
	ms_check "nothing is due for the worker" 0 "$(q "SELECT mobisign._refresh_due_crls()")"
}

# stale and missing CRLs fail closed
stale_crls() {
	q "UPDATE mobisign.pki SET enabled = true WHERE name IN ('e2e-stale', 'e2e-grace')" >/dev/null
	ms_check "a CRL past next_update fails closed (424)" "424 CRL_EXPIRED" "$(validate alice e2e-stale)"
	ms_check_match "... because the CRL has expired" 'CRL has expired' \
		"$(q "SELECT reason FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-stale')")"
	ms_check "... unless within the PKI's grace (2024-02-01 + 10 years)" "502 VALID_SIGNATURE|true" \
		"$(q "SELECT status_code || ' ' || status_name || '|' || (evidence->>'stale_crl_within_grace')
		      FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-grace')")"
	q "UPDATE mobisign.pki SET enabled = false WHERE name IN ('e2e-stale', 'e2e-grace')" >/dev/null
}

# a user registered, then revoked: refused at the next validation
revocation() {
	q "SELECT mobisign_register_user('erin', '+358405555555', 'e2e', $(cert erin))" >/dev/null
	ms_check "erin resolves from the register first" "erin|register||t" \
		"$(q "SELECT user_id, source, directory, certificates = ARRAY[$(cert erin)] FROM mobisign_lookup_user('erin')")"
	ms_check "bob validates before revocation" "502 VALID_SIGNATURE" "$(validate bob e2e)"
	sleep 1  # the new CRL's thisUpdate must be later than the cached one's
	revoke erin || ms_not_ok "could not revoke erin"
	revoke bob || ms_not_ok "could not revoke bob"
	ms_check "the refresh picks up the new intermediate CRL (3 PKIs)" 3 "$(q "SELECT mobisign_refresh_crls()")"
	ms_check "erin (registered) is refused: revoked" "501 REVOKED_CERTIFICATE" "$(validate erin e2e)"
	ms_check "bob (from LDAP) is refused: revoked" "501 REVOKED_CERTIFICATE" "$(validate bob e2e)"
	ms_check "alice is still valid" "502 VALID_SIGNATURE" "$(validate alice e2e)"
}

# the worker's refresh: a CRL close to next_update is fetched again
crl_refresh_due() {
	sleep 1
	publish_int_crl -crlsec 1200 || ms_not_ok "could not publish a short CRL"
	ms_check "a CRL valid for 20 minutes is stored (3 PKIs)" 3 "$(q "SELECT mobisign_refresh_crls()")"
	sleep 1
	publish_int_crl || ms_not_ok "could not publish a CRL"
	q "UPDATE mobisign.crl_source SET next_attempt_at = now()" >/dev/null
	ms_check "the due refresh replaces it (3 PKIs)" 3 "$(q "SELECT mobisign._refresh_due_crls()")"
	ms_check "and then nothing is due" 0 "$(q "SELECT mobisign._refresh_due_crls()")"
}

# the worker launches the refresher, which does the same on its own
refresher_worker() {
	local before
	sleep 1
	publish_int_crl || ms_not_ok "could not publish a CRL"
	before=$(int_crls)
	q "UPDATE mobisign.crl_source SET next_attempt_at = now()" >/dev/null
	q "ALTER SYSTEM SET mobisign.crl_refresh_interval = '1s'" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
	ms_wait_until 20 int_crls_changed "$before"
	ms_check_cmd "the refresher stored the new CRL by itself within 20 s" int_crls_changed "$before"
	q "ALTER SYSTEM SET mobisign.crl_refresh_interval = 0" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
}

# OCSP (nonce, signature, freshness, cache)
ocsp() {
	local OUT
	OUT=$(q "SELECT status_code, evidence->'ocsp'->0->>'status', evidence->'ocsp'->0->>'responder',
	                evidence->'ocsp'->1->>'status', evidence->'ocsp'->0->>'cached'
	           FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-ocsp')")
	ms_check "alice by OCSP: good (delegated responder), the intermediate good (the root signs)" \
		"502|good|http://127.0.0.1:$OCSP_PORT/int|good|false" "$OUT"
	ms_check "the responses are cached" 2 \
		"$(q "SELECT count(*) FROM mobisign.ocsp_response o JOIN mobisign.pki p ON p.id = o.pki_id
	          WHERE p.name = 'e2e-ocsp' AND status = 'good' AND next_update > now()")"
	ms_check "a second validation uses the cache" "502|true" \
		"$(q "SELECT status_code, evidence->'ocsp'->0->>'cached' FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-ocsp')")"
	ms_check "bob by OCSP: revoked (501)" "501|revoked" \
		"$(q "SELECT status_code, evidence->'ocsp'->0->>'status' FROM mobisign_validate_certificate($(cert bob), pki => 'e2e-ocsp')")"
	ms_check "frank by OCSP: unknown to the responder, fails closed (424)" "424|unknown" \
		"$(q "SELECT status_code, evidence->'ocsp'->0->>'status' FROM mobisign_validate_certificate($(cert frank), pki => 'e2e-ocsp')")"
	ms_check "frank with 'ocsp,crl': falls back to the CRL (502)" "502" \
		"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert frank), pki => 'e2e-ocspcrl')")"
}

# gina's certificate is valid from a day ago; she is revoked now, after "at"
# (an hour ago). Neither the cached CRL nor a fresh OCSP response existed
# then, so neither can say she was good then: both modes refuse with 424.
# (OCSP mode used to take a revocation after "at" as "good at that time".)
ocsp_past_time() {
	CADIR="$PKI/int" openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/int.pem" -keyfile "$PKI/int/key.pem" \
		-revoke "$PKI/gina.pem" >/dev/null 2>&1 || ms_not_ok "could not revoke gina"
	ms_check "gina now, 'ocsp': revoked (501)" "501|revoked" \
		"$(q "SELECT status_code, evidence->'ocsp'->0->>'status' FROM mobisign_validate_certificate($(cert gina), pki => 'e2e-ocsp')")"
	ms_check_match "gina an hour ago (revoked since), 'ocsp': no response valid then (424, as 'crl')" \
		'^424\|.*produced after the time of the check' "$(at_status e2e-ocsp)"
	ms_check "gina an hour ago (revoked since), 'crl': no CRL valid then (424)" "424" \
		"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert gina), pki => 'e2e', at => $AT)")"
	ms_check "gina an hour ago (revoked since), 'ocsp,crl': 424" "424" \
		"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert gina), pki => 'e2e-ocspcrl', at => $AT)")"
	ms_check "alice an hour ago, 'ocsp': 424 as well (nothing valid then says she was good)" "424" \
		"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-ocsp', at => $AT)")"
}

# the responder down, then frozen: fail closed, or fall back to the CRL
ocsp_responder_down() {
	local T0 T1 OUT EL
	ms_bg_stop "$OCSP_PID"
	ms_check "responder down, 'ocsp': carol fails closed (424)" "424" \
		"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocsp')")"
	ms_check "responder down, 'ocsp,crl': carol by CRL (502)" "502" \
		"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocspcrl')")"
	ms_check "responder down, 'ocsp,crl': erin revoked by CRL (501)" "501" \
		"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert erin), pki => 'e2e-ocspcrl')")"
	start_ocsp
	ms_wait_port "$OCSP_PORT" || ms_e2e_die "the OCSP responder did not start again"
	ms_check "the responder is back: dave by OCSP" "502|good|false" \
		"$(q "SELECT status_code, evidence->'ocsp'->0->>'status', evidence->'ocsp'->0->>'cached'
		      FROM mobisign_validate_certificate($(cert dave), pki => 'e2e-ocsp')")"
	kill -STOP "$OCSP_PID"
	T0=$(date +%s.%N)
	OUT=$(q "SELECT status_code FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocsp')")
	T1=$(date +%s.%N)
	kill -CONT "$OCSP_PID"
	EL=$(awk "BEGIN{printf \"%.1f\", $T1 - $T0}")
	ms_check "a frozen responder, 'ocsp': carol fails closed (424)" 424 "$OUT"
	took "$EL" 0 7.0 "the frozen responder's cost (mobisign.fetch_timeout 5 s)"
	# and once per process and back-off, not per verification: in one
	# session (as a verifier verifies one answer after another) the second
	# is not asked and costs nothing; 'ocsp,crl' goes to the CRL at once
	kill -STOP "$OCSP_PID"
	OUT=$(ms_psql -qAt <<SQL
SELECT status_code FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocsp');
SELECT clock_timestamp();
SELECT status_code || '|' || (evidence->'ocsp'->0->>'error' LIKE '%not asked before%')
  FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocsp');
SELECT status_code FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocspcrl');
SELECT clock_timestamp();
SQL
)
	kill -CONT "$OCSP_PID"
	echo "# one session, the responder frozen: $(echo "$OUT" | tr '\n' ' ')"
	ms_check "... the first: 424 after the fetch timeout" 424 "$(echo "$OUT" | sed -n 1p)"
	ms_check "... the second, 'ocsp': 424 without asking (the responder is in back-off)" "424|true" \
		"$(echo "$OUT" | sed -n 3p)"
	ms_check "... 'ocsp,crl': carol by CRL (502)" 502 "$(echo "$OUT" | sed -n 4p)"
	EL=$(q "SELECT round(extract(epoch FROM '$(echo "$OUT" | sed -n 5p)'::timestamptz
	                                        - '$(echo "$OUT" | sed -n 2p)'::timestamptz), 1)")
	took "$EL" 0 1.0 "the two after the first, together"
}

# a statement_timeout (or a cancel) that comes due while a responder is
# answering: the fetch does not see it, the first interrupt check after it
# does. That check used to be the INSERT caching the response, in a
# subtransaction that turned every error into a WARNING: the cancel was
# lost, the statement went on (502 after 2 s with a 1 s statement_timeout).
ocsp_cancel_kept() {
	local out
	echo 2 >"$WORK/ocsp.delay"
	out=$(ms_psql -qAt -v VERBOSITY=verbose -c "SET statement_timeout = '1s'" \
		-c "SELECT status_code FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocsp')" 2>&1)
	rm -f "$WORK/ocsp.delay"
	echo "# a 1 s statement_timeout, the responder answering after 2 s: $(echo "$out" | head -n 2 | tr '\n' ' ')"
	ms_check_match "the statement is cancelled (57014), not answered" '^ERROR: +57014: canceling statement due to statement timeout' \
		"$(echo "$out" | grep -m1 '^ERROR')"
	ms_check "and no response was cached for it" 0 \
		"$(q "SELECT count(*) FROM mobisign.ocsp_response o JOIN mobisign.pki p ON p.id = o.pki_id
		      WHERE p.name = 'e2e-ocsp' AND o.subject LIKE '%carol%'")"
	ms_check "without the timeout: carol by OCSP (502)" "502|good" \
		"$(q "SELECT status_code, evidence->'ocsp'->0->>'status' FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocsp')")"
}

# One session validates (fetching and caching alice's and the intermediate's
# responses) in a transaction it keeps open 8 s, as a verifier's batch or an
# application's transaction does; another validates the same certificate
# meanwhile. It used to wait on the cache row written by the first until that
# transaction ended; now it does not cache its answer and does not wait.
cache_writer_sleeps() {
	test "$(q "SELECT count(*) FROM pg_catalog.pg_stat_activity
	            WHERE query LIKE '/* cache holder */%' AND wait_event = 'PgSleep'")" = 1
}
ocsp_cache_held() {
	local hold T0 T1 OUT EL
	q "DELETE FROM mobisign.ocsp_response WHERE pki_id = (SELECT id FROM mobisign.pki WHERE name = 'e2e-ocspcrl')" >/dev/null
	# (the marker first: pg_stat_activity keeps 1 kB of a query, the certificate is longer)
	ms_bg ms_psql -qAt -c "/* cache holder */ BEGIN; SELECT status_code FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-ocspcrl');
	                         SELECT pg_catalog.pg_sleep(8); COMMIT" >/dev/null
	hold=$MS_BG_PID
	ms_check_cmd "the first session cached and holds its rows" ms_wait_until 10 cache_writer_sleeps
	T0=$(date +%s.%N)
	OUT=$(q "SELECT status_code, evidence->'ocsp'->0->>'cached' FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-ocspcrl')")
	T1=$(date +%s.%N)
	EL=$(awk "BEGIN{printf \"%.1f\", $T1 - $T0}")
	ms_check "the second: alice good by OCSP, fetched (not cached yet: the first has not committed)" "502|false" "$OUT"
	took "$EL" 0 3.0 "... without waiting for the first session's transaction (8 s)"
	wait "$hold" 2>/dev/null
	ms_check "the first session's responses are cached once it commits" 2 \
		"$(q "SELECT count(*) FROM mobisign.ocsp_response WHERE pki_id = (SELECT id FROM mobisign.pki WHERE name = 'e2e-ocspcrl')")"
}

# delta CRLs (freshest CRL points)
delta_crl() {
	ms_check "carol is valid by the full CRL" "502 VALID_SIGNATURE" "$(validate carol e2e)"
	python3 "$HERE/ldap/delta_crl.py" "$PKI/int.pem" "$PKI/int/key.pem" "$WORK/int-new.crl.der" \
		"$WWW/int-delta.crl" "$PKI/carol.pem" || ms_not_ok "could not issue a delta CRL"
	chmod 0644 "$WWW/int-delta.crl"
	ms_check "the refresh stores the delta CRL (3 PKIs)" 3 "$(q "SELECT mobisign_refresh_crls()")"
	ms_check "it is cached as a delta from the freshest CRL point" "t|url|http://127.0.0.1:$HTTP_PORT/int-delta.crl" \
		"$(q "SELECT c.is_delta, c.source, c.source_url FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
		      WHERE p.name = 'e2e' AND c.is_delta")"
	ms_check "carol, revoked in the delta only, is refused" "501 REVOKED_CERTIFICATE" "$(validate carol e2e)"
	ms_check "alice is still valid with the delta" "502 VALID_SIGNATURE" "$(validate alice e2e)"
}

# a user found only in LDAP, through the worker and the SIM simulator
sim_directory_user() {
	local msisdn id
	ms_sim_provision "$SIMDIR" "$SMPP_PORT" 2
	ms_sim_register "$SIMDIR"
	# user0002's SIM and certificate belong to "ldapsim", a user known only to
	# the directory (the register forgets user0002)
	msisdn=$(q "SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0002'")
	q "DELETE FROM mobisign.app_user WHERE user_id = 'user0002'" >/dev/null
	ldapadd -x -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,c=FI -w "$BIND_PW" >"$WORK/ldapadd.log" 2>&1 <<LDIF || { cat "$WORK/ldapadd.log"; ms_not_ok "ldapadd"; return 1; }
dn: ou=sim,o=mobisign e2e,c=FI
objectClass: organizationalUnit
ou: sim

dn: uid=ldapsim,ou=sim,o=mobisign e2e,c=FI
objectClass: inetOrgPerson
uid: ldapsim
cn: ldapsim
sn: S
mobile: $msisdn
userCertificate;binary:< file://$SIMDIR/users/user0002/cert.der

dn: o=mobisign simulator,c=FI
objectClass: organization
o: mobisign simulator

dn: cn=mobisign simulator issuing CA,o=mobisign simulator,c=FI
objectClass: applicationProcess
objectClass: pkiCA
cn: mobisign simulator issuing CA
certificateRevocationList;binary:< file://$SIMDIR/crl/issuing.der
LDIF
	q "SELECT mobisign_add_directory('simdir', 'ldap://127.0.0.1:$LDAP_PORT', 'ou=sim,o=mobisign e2e,c=FI',
	   bind_dn => 'cn=admin,c=FI', bind_password => '$BIND_PW', pki => 'sim', timeout => '2 s')" >/dev/null
	ms_check "ldapsim is found in the directory" "ldapsim|$msisdn|ldap|simdir" \
		"$(q "SELECT user_id, msisdn, source, directory FROM mobisign_lookup_user('ldapsim')")"
	ms_check "user0002 is no longer known" 0 "$(q "SELECT count(*) FROM mobisign_lookup_user('user0002')")"
	ms_sim_behaviour "$SIMDIR" "* sign"
	ms_sim_start "$SIMDIR" "$SMPP_PORT" "$WORK/sim.log" --quiet
	ms_check_bound "the worker is bound to the simulator" 1 20
	# as an application: mobisign_app may authenticate, not look into directories
	q "CREATE ROLE e2e_dir_app LOGIN IN ROLE mobisign_app" >/dev/null
	ms_check "mobisign_app may not call mobisign_lookup_user" f \
		"$(q "SELECT has_function_privilege('e2e_dir_app', 'mobisign_lookup_user(text)', 'EXECUTE')")"
	ms_check "mobisign_app may not search a directory directly" 42501 \
		"$(ms_sqlstate "SET ROLE e2e_dir_app; SELECT mobisign._directory_search($CORP, convert_to('alice', 'UTF8'))")"
	id=$(PGUSER=e2e_dir_app q "SELECT transaction_id FROM mobisign_authenticate('ldapsim', 'e2e-directory', '30 s')")
	ms_check "ldapsim (LDAP only) authenticates through the simulator, asked by an application" "completed 502" \
		"$(PGUSER=e2e_dir_app final_of "$id")"
	ms_check "the answer verified against the directory's certificate, to the directory's MSISDN" 1 \
		"$(q "SELECT count(*) FROM mobisign.transaction t
		      WHERE t.id = '$id' AND t.msisdn = '$msisdn'
		        AND t.certificate_fingerprint = sha256('\\x$(hex "$SIMDIR/users/user0002/cert.der")'::bytea)
		        AND t.signer_fingerprint = t.certificate_fingerprint")"
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('nobody-anywhere', 'e2e-directory')")
	ms_check_match "a user in no register or directory: 105" 'UNKNOWN_CLIENT|MS105|unknown user' "$id"
	# the CA revokes ldapsim's certificate and publishes the CRL in the
	# directory; the refresh finds it on the CA entry
	"$SIM_BIN" revoke --dir "$SIMDIR" --user user0002 >"$WORK/revoke.log" 2>&1 || { ms_not_ok "mobisign-sim revoke"; return 1; }
	ldapmodify -x -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,c=FI -w "$BIND_PW" >/dev/null 2>&1 <<LDIF || ms_not_ok "ldapmodify (sim CRL)"
dn: cn=mobisign simulator issuing CA,o=mobisign simulator,c=FI
changetype: modify
replace: certificateRevocationList;binary
certificateRevocationList;binary:< file://$SIMDIR/crl/issuing-revoked.der
LDIF
	ms_check "the refresh finds the simulator CA's new CRL on its directory entry" 1 "$(q "SELECT mobisign_refresh_crls()")"
	ms_check "... stored with source ldap" "ldap" \
		"$(q "SELECT c.source FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
		      WHERE p.name = 'sim' AND c.issuer LIKE 'CN=mobisign simulator issuing CA%'")"
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('ldapsim', 'e2e-directory', '30 s')")
	ms_check "ldapsim, revoked, is refused at the next authentication (501)" "failed 501" "$(final_of "$id")"
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('user0001', 'e2e-directory', '30 s')")
	ms_check "user0001 (register) still authenticates" "completed 502" "$(final_of "$id")"
}

# a hostile directory (test/e2e/ldap/hostile_ldap.py, raw BER on loopback):
# values of 40 MB, thousands of entries whatever the size limit, and a
# diagnostic message of bytes no text may hold. libldap would read all of it
# into its own memory (400 MB): each message is capped and the entries
# counted, so the backend gets a clear error, its memory stays bounded, the
# server does not restart, and what is stored or logged is printable text.
hostile_directory() {
	local HPORT H HUGE MANY DIAG START OUT PIDS HWM DETAIL PKI_H
	ms_e2e_ports HPORT
	ms_bg python3 "$HERE/ldap/hostile_ldap.py" "$HPORT" --out "$WORK/hostile_ldap.json" \
		--entries 10 --value-mb 40 --count 2000 --entry-kb 200 >"$WORK/hostile_ldap.log" 2>&1
	ms_wait_port "$HPORT" || { ms_not_ok "the hostile LDAP server did not start"; return 1; }
	H="ldap://127.0.0.1:$HPORT"
	START=$(q "SELECT pg_postmaster_start_time()")
	HUGE=$(q "SELECT mobisign_add_directory('hostile-huge', '$H', 'ou=huge,c=FI', timeout => '20 s', enabled => false)")
	MANY=$(q "SELECT mobisign_add_directory('hostile-many', '$H', 'ou=many,c=FI', timeout => '20 s', enabled => false)")
	DIAG=$(q "SELECT mobisign_add_directory('hostile-diag', '$H', 'ou=diag,c=FI', timeout => '20 s', enabled => false)")
	OUT=$(ms_psql -d postgres -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1 <<SQL
SELECT 'pid:' || pg_backend_pid();
SELECT 'huge:' || (mobisign._directory_search($HUGE, convert_to('alice', 'UTF8'))).found;
SELECT 'many:' || (mobisign._directory_search($MANY, convert_to('alice', 'UTF8'))).found;
SELECT 'crlurl:' || cardinality(mobisign._fetch_url('$H/ou=huge,c=FI?certificateRevocationList;binary', 'crl'));
SELECT 'certurl:' || cardinality(mobisign._fetch_url('$H/ou=many,c=FI?userCertificate;binary', 'certificate'));
SELECT 'diag:' || (mobisign._directory_search($DIAG, convert_to('alice', 'UTF8'))).found;
SELECT 'hwm:' || substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*([0-9]+) kB');
SELECT 'pid:' || pg_backend_pid();
SQL
	)
	echo "$OUT" | cut -c1-300 | sed 's/^/#   /' | tr -d '\033'
	ms_check_match "40 MB values: the user search fails clearly (08006, too large)" \
		'ERROR: +08006: directory "hostile-huge" sent an answer too large to accept' "$OUT"
	ms_check_match "... its detail states the limits" 'DETAIL: +The directory.s answer exceeds what the search accepts' "$OUT"
	ms_check_match "2000 entries whatever the size limit: two kept, then an error, never a pick (21000)" \
		'ERROR: +21000: more than one entry of directory "hostile-many"' "$OUT"
	ms_check_match "a 40 MB CRL at an ldap:// URL: the fetch fails clearly (08006, too large)" \
		'ERROR: +08006: could not fetch ldap://127.0.0.1:[0-9]+/ou=huge.*' "$(echo "$OUT" | tr '\n' ' ')"
	ms_check_match "entries over the byte budget at an ldap:// certificate URL: 08006" \
		'ERROR: +08006: could not fetch ldap://127.0.0.1:[0-9]+/ou=many' "$OUT"
	ms_check_match "a result with a hostile diagnostic message: 08006" \
		'ERROR: +08006: directory "hostile-diag" is unavailable' "$OUT"
	DETAIL=$(echo "$OUT" | grep -a -A1 'directory "hostile-diag" is unavailable' | grep -a 'DETAIL:')
	ms_check_match "... its detail shows the raw bytes escaped" 'DETAIL: +search failed: .*\(\\xff\\xfe\\x0a\\x1b\[31mFAKE LOG LINE' "$DETAIL"
	if LC_ALL=C grep -aq '[^ -~]' <<<"$DETAIL"; then ms_not_ok "... and holds printable ASCII only"; else ms_ok "... and holds printable ASCII only"; fi
	PIDS=$(echo "$OUT" | sed -n 's/^pid:\([0-9]*\)$/\1/p' | sort -u | wc -l)
	ms_check "the same backend answered throughout (no crash)" 1 "$PIDS"
	HWM=$(echo "$OUT" | sed -n 's/^hwm:\([0-9]*\)$/\1/p')
	if [ -n "$HWM" ] && [ "$HWM" -lt 102400 ]; then
		ms_ok "the backend's peak memory stayed bounded: VmHWM ${HWM} kB < 100 MB (the server offered 400 MB)"
	else
		ms_not_ok "the backend's peak memory: VmHWM '${HWM}' kB, expected < 100 MB"
	fi
	ms_check "the client hung up early: the server sent under 100 MB of the 400 MB it offered" True \
		"$(python3 -c 'import json, sys; r = [json.loads(l) for l in open(sys.argv[1])]
print(bool(r) and all(x["sent"] < 100 << 20 for x in r if x["mode"] in ("huge", "many")))' "$WORK/hostile_ldap.json" 2>&1)"
	# the refresh records a source's failure as text: printable, valid, bounded
	q "SELECT mobisign_add_pki('e2e-hostile', $ANCHORS, revocation => 'crl')" >/dev/null
	PKI_H=$(q "SELECT id FROM mobisign.pki WHERE name = 'e2e-hostile'")
	q "INSERT INTO mobisign.crl_source (pki_id, url, kind) VALUES
	     ($PKI_H, '$H/ou=diag,c=FI?certificateRevocationList;binary', 'distribution_point'),
	     ($PKI_H, '$H/ou=huge,c=FI?certificateRevocationList;binary', 'distribution_point')" >/dev/null
	q "SELECT mobisign._refresh_due_crls()" >/dev/null
	ms_check "the refresh recorded both failures and backs off" "2|2" \
		"$(q "SELECT count(*) FILTER (WHERE failures = 1), count(*) FILTER (WHERE next_attempt_at > now())
		        FROM mobisign.crl_source WHERE pki_id = $PKI_H AND url LIKE '$H/%'")"
	ms_check "last_error of the hostile diagnostic is printable ASCII, escaped, bounded" "t|t|t" \
		"$(q "SELECT last_error ~ '^[ -~]+\$', strpos(last_error, '\\xff\\xfe\\x0a\\x1b') > 0, length(last_error) <= 500
		        FROM mobisign.crl_source WHERE pki_id = $PKI_H AND url LIKE '%ou=diag%'")"
	ms_check "last_error of the 40 MB CRL states the limit" "t" \
		"$(q "SELECT last_error LIKE '%exceeds what the search accepts%' AND last_error ~ '^[ -~]+\$'
		        FROM mobisign.crl_source WHERE pki_id = $PKI_H AND url LIKE '%ou=huge%'")"
	ms_check "the server did not restart" "$START" "$(q "SELECT pg_postmaster_start_time()")"
	if grep -q "terminated by signal" "$WORK/cluster/log"; then
		ms_not_ok "a server process was terminated by a signal"
	else
		ms_ok "no server process was terminated by a signal"
	fi
	if LC_ALL=C grep -aq $'\033\\[31mFAKE' "$WORK/cluster/log"; then
		ms_not_ok "the server log holds the directory's raw escape codes"
	else
		ms_ok "the server log holds none of the directory's raw bytes"
	fi
	q "UPDATE mobisign.pki SET enabled = false WHERE id = $PKI_H" >/dev/null
}

no_secret_in_log() {
	ms_check "the bind password is not in the server log" 0 "$(grep -c -- "$BIND_PW" "$WORK/cluster/log")"
}

# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------
for s in add_directory_refusals bind_password_secret ldap_lookup filter_injection ldap_tls bind_failures \
	frozen_directory restarted_directory certificate_urls crl_sources stale_crls revocation \
	crl_refresh_due refresher_worker ocsp ocsp_past_time ocsp_responder_down ocsp_cancel_kept ocsp_cache_held delta_crl \
	sim_directory_user hostile_directory no_secret_in_log; do
	ms_scenario "$s" "$s"
done
ms_summary
