#!/usr/bin/env bash
# Directories and revocation end to end (docs/directories.md): a private slapd (LDAP,
# LDAPS, StartTLS), an HTTP server for certificate URLs and CRL distribution
# points, an OCSP responder, all on 127.0.0.1, and a private cluster.
#
# Ports: cluster 55480-55489 (or MOBISIGN_DIR_PG_PORT), slapd (ldap, ldaps),
# HTTP and OCSP in 3890-3899: the first free ones.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/ldap/slapd.sh"

# Ports: the first free ones of this suite's ranges (cluster 55480-55489,
# services 3890-3899), so that two runs at once do not collide; any free
# port when a range is used up.
USED_PORTS=" "
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { # VAR FIRST LAST
	local p
	for p in $(seq "$2" "$3"); do
		if [[ "$USED_PORTS" != *" $p "* ]] && port_free "$p"; then
			USED_PORTS="$USED_PORTS$p "
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	p=$(ms_free_port) || return 1
	USED_PORTS="$USED_PORTS$p "
	printf -v "$1" '%s' "$p"
}
if [ -n "${MOBISIGN_DIR_PG_PORT:-}" ]; then PG_PORT=$MOBISIGN_DIR_PG_PORT; else pick_port PG_PORT 55480 55489; fi
pick_port LDAP_PORT 3890 3899
pick_port LDAPS_PORT 3890 3899
pick_port HTTP_PORT 3890 3899
pick_port OCSP_PORT 3890 3899
BIND_PW="e2e-Bind-secret-$RANDOM$RANDOM"

T=$(ms_readable_dir) || exit 1
PKI=$T/pki
LDAPDIR=$T/slapd
WWW=$T/www
PIDS=()
FAILS=0
CHECKS=0

cleanup() {
	local rc=$? p
	slapd_stop "$LDAPDIR"
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	ms_cluster_stop "$T/cluster" || true
	if [ "${MOBISIGN_KEEP_TMP:-0}" = 1 ]; then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { CHECKS=$((CHECKS + 1)); echo "ok - $1"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL - $1"; }
# expect NAME EXPECTED ACTUAL
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
# expect_match NAME REGEX ACTUAL
expect_match() {
	if [[ "$3" =~ $2 ]]; then ok "$1"; else fail "$1: [$3] does not match /$2/"; fi
}
q() { PGOPTIONS="-c client_min_messages=error" ms_psql -d postgres -At -c "$1" 2>&1; }
# SQLSTATE of a statement that must fail ("none" when it succeeds)
sqlstate() {
	local out
	out=$(ms_psql -d postgres -At -v VERBOSITY=verbose -c "$1" 2>&1)
	if [[ "$out" =~ ERROR:\ +([0-9A-Z]{5}): ]]; then
		echo "${BASH_REMATCH[1]}"
	else
		echo "none"
	fi
}
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }

echo "# directories and revocation (ports: pg $PG_PORT, ldap $LDAP_PORT/$LDAPS_PORT, http $HTTP_PORT, ocsp $OCSP_PORT)"

# ------------------------------------------------------------------ fixtures
bash "$HERE/ldap/make_pki.sh" "$PKI" "$HTTP_PORT" "$LDAP_PORT" "$OCSP_PORT" || exit 1
chmod -R a+rX "$PKI"
chmod 0700 "$PKI/root" "$PKI/int"

slapd_setup "$LDAPDIR" "$PKI" "$BIND_PW" || exit 1
slapd_start "$LDAPDIR" "$LDAP_PORT" "$LDAPS_PORT" || exit 1
echo "# slapd pid $(slapd_pid "$LDAPDIR")"

# HTTP: certificate URLs and CRL distribution points (int.crl is published
# only in the directory at first)
mkdir -p "$WWW"
cp "$PKI/root.crl.der" "$WWW/root.crl"
cp "$PKI/carol.der" "$WWW/carol.der"
python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$WWW" >"$T/http.log" 2>&1 &
PIDS+=($!)
HTTP_PID=$!

start_ocsp() {
	python3 "$HERE/ldap/ocsp_http.py" "$OCSP_PORT" \
		"int=$PKI/int/index.txt,$PKI/int.pem,$PKI/ocsp-int.pem,$PKI/ocsp-int.key" \
		"root=$PKI/root/index.txt,$PKI/root.pem,$PKI/root.pem,$PKI/root/key.pem" \
		>"$T/ocsp.log" 2>&1 &
	OCSP_PID=$!
	PIDS+=($OCSP_PID)
}
start_ocsp

wait_port() {
	local i
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "nothing listens on $1" >&2
	return 1
}
wait_port "$HTTP_PORT" || exit 1
wait_port "$OCSP_PORT" || exit 1

mkdir -p "$T/cluster"
# the refresher worker stays off until its own check below, so that the
# refresh counts asserted on the way are not raced by it
ms_cluster_start "$T/cluster" "$PG_PORT" "mobisign.crl_refresh_interval = 0" || exit 1
q "CREATE EXTENSION mobisign" >/dev/null || { echo "CREATE EXTENSION failed"; exit 1; }

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
" >/dev/null ||
	{ echo "could not add the PKIs"; exit 1; }
# stale CRLs (2024-01-01 .. 2024-02-01) in two PKIs kept out of the refreshes
q "SELECT mobisign_add_crl('e2e-stale', pg_read_binary_file('$PKI/root-stale.crl.pem'));
   SELECT mobisign_add_crl('e2e-stale', pg_read_binary_file('$PKI/int-stale.crl.pem'));
   SELECT mobisign_add_crl('e2e-grace', pg_read_binary_file('$PKI/root-stale.crl.pem'));
   SELECT mobisign_add_crl('e2e-grace', pg_read_binary_file('$PKI/int-stale.crl.pem'));
   UPDATE mobisign.pki SET enabled = false WHERE name IN ('e2e-stale', 'e2e-grace');" >/dev/null ||
	fail "could not add the stale CRLs"

# register a user with only a certificate URL: the certificate is fetched
# when the user is looked up
register_url_user() { # USER MSISDN URL
	local out
	out=$(q "SELECT mobisign_register_user('$1', '$2', 'e2e', certificate_url => '$3')")
	[ -z "$out" ] || fail "mobisign_register_user('$1', certificate_url => '$3'): $out"
}

# validate CERT PKI -> "status_code status_name"
validate() {
	q "SELECT status_code || ' ' || status_name FROM mobisign_validate_certificate($(cert "$1"), pki => '$2')"
}

# ------------------------------------------------------------ add_directory
echo "# mobisign_add_directory"
expect "a filter template without %s is refused" 22023 \
	"$(sqlstate "SELECT mobisign_add_directory('x', 'ldap://127.0.0.1:$LDAP_PORT', 'c=FI', user_filter => '(uid=alice)')")"
expect "a filter template with two %s is refused" 22023 \
	"$(sqlstate "SELECT mobisign_add_directory('x', 'ldap://127.0.0.1:$LDAP_PORT', 'c=FI', user_filter => '(|(uid=%s)(cn=%s))')")"
expect "StartTLS on ldaps:// is refused" 22023 \
	"$(sqlstate "SELECT mobisign_add_directory('x', 'ldaps://127.0.0.1:$LDAPS_PORT', 'c=FI', starttls => true)")"
expect "a URL with a DN is refused" 22023 \
	"$(sqlstate "SELECT mobisign_add_directory('x', 'ldap://127.0.0.1:$LDAP_PORT/c=FI', 'c=FI')")"

PEOPLE='ou=people,o=mobisign e2e,c=FI'
CORP=$(q "SELECT mobisign_add_directory('corp', 'ldap://127.0.0.1:$LDAP_PORT', '$PEOPLE',
          bind_dn => 'cn=admin,c=FI', bind_password => '$BIND_PW', timeout => '2 s', pki => 'e2e')")
expect_match "directory added" '^[0-9]+$' "$CORP"

# ---------------------------------------------------------------- secrets
echo "# the bind password is a secret"
expect "mobisign_app cannot read bind_password" f \
	"$(q "SELECT has_column_privilege('mobisign_app', 'mobisign.directory', 'bind_password', 'SELECT')")"
expect "mobisign_admin cannot read bind_password" f \
	"$(q "SELECT has_column_privilege('mobisign_admin', 'mobisign.directory', 'bind_password', 'SELECT')")"
expect "mobisign_auditor cannot read bind_password" f \
	"$(q "SELECT has_column_privilege('mobisign_auditor', 'mobisign.directory', 'bind_password', 'SELECT')")"
expect "the audit does not hold the password" 0 \
	"$(q "SELECT count(*) FROM mobisign.audit WHERE detail::text LIKE '%$BIND_PW%'")"
expect "the audit says a password is set" true \
	"$(q "SELECT detail->>'bind_password_set' FROM mobisign.audit WHERE operation = 'directory.add' ORDER BY id DESC LIMIT 1")"

# ------------------------------------------------------------- user lookup
echo "# mobisign_lookup_user through LDAP"
OUT=$(q "SELECT user_id, msisdn, cardinality(certificates), source, directory,
                certificates[1] = $(cert alice) FROM mobisign_lookup_user('alice')")
expect "alice is found in the directory, MSISDN normalised, her certificate" \
	"alice|+358401111111|1|ldap|corp|t" "$OUT"
expect "alice's certificate is cached with source ldap and its entry URL" \
	"ldap|ldap://127.0.0.1:$LDAP_PORT/uid=alice,$PEOPLE|t" \
	"$(q "SELECT source, source_url, fetched_at > now() - interval '1 min' FROM mobisign.certificate
          WHERE der = $(cert alice)")"
expect "an unknown user gives no row" 0 "$(q "SELECT count(*) FROM mobisign_lookup_user('nobody')")"
expect "two entries matching is an error, never a pick" 21000 \
	"$(sqlstate "SELECT * FROM mobisign_lookup_user('twin')")"
expect "a non-ASCII user id is matched exactly (escaped UTF-8)" "+358408888888|0" \
	"$(q "SELECT msisdn, cardinality(certificates) FROM mobisign_lookup_user('jösé')")"
# a directory's mobile attribute is free text: nothing is sent to one that is
# not an MSISDN
ldapadd -x -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,c=FI -w "$BIND_PW" >/dev/null 2>&1 <<LDIF || fail "ldapadd badphone"
dn: uid=badphone,$PEOPLE
objectClass: inetOrgPerson
uid: badphone
cn: Bad Phone
sn: Phone
mobile: +12
userCertificate;binary:< file://$PKI/alice.der
LDIF
expect "a user whose directory mobile number is not an MSISDN is refused (MS101)" MS101 \
	"$(sqlstate "SELECT * FROM mobisign_authenticate('badphone')")"

echo "# filter injection matches nothing"
for inj in '*' ')(uid=*' 'alice*' '*)(|(uid=*' 'al*ce' 'alice)(uid=bob' '\2a' 'alicé'; do
	sql_inj=${inj//\'/\'\'}
	expect "user id [$inj] matches nothing" 0 \
		"$(q "SELECT count(*) FROM mobisign_lookup_user('$sql_inj')")"
done
expect "the filter escapes * ( ) \\ (RFC 4515)" '(uid=\2A\29\28uid=\5C2a)' \
	"$(q "SELECT mobisign._ldap_filter('(uid=%s)', convert_to('*)(uid=\\2a', 'UTF8'))")"
expect "the filter escapes NUL and non-ASCII bytes" '(uid=al\00\C3\A9)' \
	"$(q "SELECT mobisign._ldap_filter('(uid=%s)', '\\x616c00c3a9'::bytea)")"
expect "a user id with a NUL byte matches nothing (alice\\0)" f \
	"$(q "SELECT (mobisign._directory_search($CORP, '\\x616c69636500'::bytea)).found")"
expect "a NUL byte cannot reach a lookup as text" 22021 \
	"$(sqlstate "SELECT * FROM mobisign_lookup_user(E'alice\\000')")"

# ------------------------------------------------------------------- TLS
echo "# LDAPS and StartTLS verify the server certificate against ca_file"
cp "$PKI/tls-ca.pem" "$PKI/other-ca.pem" "$T/"
chmod 0644 "$T/tls-ca.pem" "$T/other-ca.pem"
add_dir() { # NAME URL STARTTLS CAFILE
	q "SELECT mobisign_add_directory('$1', '$2', '$PEOPLE', bind_dn => 'cn=admin,c=FI',
	   bind_password => '$BIND_PW', starttls => $3, ca_file => '$4', timeout => '3 s', enabled => false)"
}
TLS_OK=$(add_dir ldaps-trusted "ldaps://127.0.0.1:$LDAPS_PORT" false "$T/tls-ca.pem")
TLS_BAD=$(add_dir ldaps-untrusted "ldaps://127.0.0.1:$LDAPS_PORT" false "$T/other-ca.pem")
STLS_OK=$(add_dir starttls-trusted "ldap://127.0.0.1:$LDAP_PORT" true "$T/tls-ca.pem")
STLS_BAD=$(add_dir starttls-untrusted "ldap://127.0.0.1:$LDAP_PORT" true "$T/other-ca.pem")
# one session, trusted and untrusted interleaved: a TLS context must not leak
OUT=$(ms_psql -d postgres -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1 <<SQL
SELECT 'a:' || (mobisign._directory_search($TLS_OK, convert_to('alice', 'UTF8'))).found;
SELECT 'b:' || (mobisign._directory_search($TLS_BAD, convert_to('alice', 'UTF8'))).found;
SELECT 'c:' || (mobisign._directory_search($STLS_OK, convert_to('alice', 'UTF8'))).found;
SELECT 'd:' || (mobisign._directory_search($STLS_BAD, convert_to('alice', 'UTF8'))).found;
SELECT 'e:' || (mobisign._directory_search($TLS_OK, convert_to('bob', 'UTF8'))).found;
SQL
)
expect_match "ldaps:// with the trusted CA finds alice" 'a:true' "$OUT"
expect_match "ldaps:// with an unrelated CA fails (08006)" 'ERROR: +08006: directory "ldaps-untrusted" is unavailable' "$OUT"
expect_match "StartTLS with the trusted CA finds alice" 'c:true' "$OUT"
expect_match "StartTLS with an unrelated CA fails (08006)" 'ERROR: +08006: directory "starttls-untrusted" is unavailable' "$OUT"
expect_match "ldaps:// still works after the failures" 'e:true' "$OUT"
if [[ "$OUT" == *b:true* || "$OUT" == *d:true* ]]; then fail "an untrusted server was accepted"; else ok "no untrusted server was accepted"; fi

echo "# a wrong bind password fails without showing the password"
q "SELECT mobisign_add_directory('wrongpw', 'ldap://127.0.0.1:$LDAP_PORT', '$PEOPLE', bind_dn => 'cn=admin,c=FI',
   bind_password => 'not-the-password-$RANDOM', enabled => false)" >/dev/null
WRONG=$(q "SELECT id FROM mobisign.directory WHERE name = 'wrongpw'")
OUT=$(ms_psql -d postgres -At -v VERBOSITY=verbose -c "SELECT mobisign._directory_search($WRONG, convert_to('alice', 'UTF8'))" 2>&1)
expect_match "wrong password: bind refused (08006, Invalid credentials)" '08006.*Invalid credentials' "$(echo "$OUT" | tr '\n' ' ')"
if [[ "$OUT" == *not-the-password* || "$OUT" == *"$BIND_PW"* ]]; then fail "the error shows a password"; else ok "the error shows no password"; fi
ANON=$(q "SELECT mobisign_add_directory('anonymous', 'ldap://127.0.0.1:$LDAP_PORT', '$PEOPLE', enabled => false)")
expect "anonymous bind may not read the people subtree (ACL): error" 08006 \
	"$(sqlstate "SELECT (mobisign._directory_search($ANON, convert_to('alice', 'UTF8'))).found")"

# -------------------------------------------------------- frozen directory
echo "# a frozen directory (SIGSTOP) times out within its bound"
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
expect_match "warm connection works" 'warm:true' "$OUT"
expect_match "the frozen search fails with a timeout (57014)" 'ERROR: +57014: directory "corp" is unavailable' "$OUT"
EL=$(echo "$OUT" | sed -n 's/^elapsed:\([0-9.]*\)$/\1/p')
EL2=$(echo "$OUT" | sed -n 's/^elapsed2:\([0-9.]*\)$/\1/p')
echo "# frozen: cached connection ${EL}s, new connection ${EL2}s (bound 2 s + 2 s)"
if [ -n "$EL" ] && awk "BEGIN{exit !($EL >= 1.5 && $EL <= 4.0)}"; then ok "cached connection: timed out after ${EL}s (bound 2 s)"; else fail "cached connection: elapsed [$EL]"; fi
if [ -n "$EL2" ] && awk "BEGIN{exit !($EL2 >= 1.5 && $EL2 <= 4.0)}"; then ok "new connection: timed out after ${EL2}s (bound 2 s)"; else fail "new connection: elapsed [$EL2]"; fi
EL3=$(echo "$OUT" | sed -n 's/^elapsed3:\([0-9.]*\)$/\1/p')
if [ -n "$EL3" ] && awk "BEGIN{exit !($EL3 >= 2.5 && $EL3 <= 5.0)}"; then ok "ldaps:// (TLS handshake): timed out after ${EL3}s (bound 3 s)"; else fail "ldaps:// frozen: elapsed [$EL3]"; fi
expect_match "the backend stays usable" 'alive:2' "$OUT"
expect_match "after SIGCONT the same backend finds alice again" 'after:true' "$OUT"
TOTAL=$(awk "BEGIN{print $T1 - $T0}")
if awk "BEGIN{exit !($TOTAL < 20)}"; then ok "the whole frozen-server session took ${TOTAL}s"; else fail "frozen-server session took ${TOTAL}s"; fi

echo "# a restarted directory: the cached connection is re-established once"
OUT=$(ms_psql -d postgres -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1 <<SQL
SELECT 'before:' || (mobisign._directory_search($CORP, convert_to('alice', 'UTF8'))).found;
\! bash -c '. "$HERE/ldap/slapd.sh"; slapd_stop "$LDAPDIR"; slapd_start "$LDAPDIR" $LDAP_PORT $LDAPS_PORT'
SELECT 'reconnected:' || (mobisign._directory_search($CORP, convert_to('alice', 'UTF8'))).found;
SQL
)
expect_match "before the restart" 'before:true' "$OUT"
expect_match "after the restart, the same session finds alice" 'reconnected:true' "$OUT"
[ -n "$(slapd_pid "$LDAPDIR")" ] || { echo "slapd did not come back"; exit 1; }

# ------------------------------------------------------- certificate URLs
echo "# certificate URLs (http:// and ldap://)"
register_url_user carol +358403333333 "http://127.0.0.1:$HTTP_PORT/carol.der"
expect "carol (register + http certificate URL)" \
	"carol|+358403333333|url|http://127.0.0.1:$HTTP_PORT/carol.der|t" \
	"$(q "SELECT user_id, msisdn, source, directory, certificates = ARRAY[$(cert carol)] FROM mobisign_lookup_user('carol')")"
expect "carol's certificate is cached with source url" "url|t" \
	"$(q "SELECT source, source_url = 'http://127.0.0.1:$HTTP_PORT/carol.der' FROM mobisign.certificate WHERE der = $(cert carol)")"
DAVE_URL="ldap://127.0.0.1:$LDAP_PORT/cn=dave,ou=certs,o=mobisign%20e2e,c=FI?userCertificate;binary"
register_url_user dave +358404444444 "$DAVE_URL"
expect "dave (register + ldap:// certificate URL)" "dave|url|t" \
	"$(q "SELECT user_id, source, certificates = ARRAY[$(cert dave)] FROM mobisign_lookup_user('dave')")"
register_url_user ghost +358409999999 "http://127.0.0.1:$HTTP_PORT/missing.der"
expect "a certificate URL that is not there: error 08006" 08006 "$(sqlstate "SELECT * FROM mobisign_lookup_user('ghost')")"
# a URL that answers with a redirect is not followed: a certificate or CRL
# URL answers itself or not at all (a redirect could send the server anywhere)
REDIR_PORT=$(ms_free_port)
python3 -c '
import sys, http.server
target = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$REDIR_PORT" "http://127.0.0.1:$HTTP_PORT" >"$T/redirect.log" 2>&1 &
PIDS+=($!)
wait_port "$REDIR_PORT" || fail "the redirecting HTTP server did not start"
register_url_user redirected +358405555555 "http://127.0.0.1:$REDIR_PORT/carol.der"
expect "a certificate URL that redirects is not followed: error 08006" 08006 \
	"$(sqlstate "SELECT * FROM mobisign_lookup_user('redirected')")"
if grep -q "GET /carol.der" "$T/redirect.log"; then ok "... the redirecting server was asked (and answered 302)"; else fail "the redirecting server was never asked"; fi

# ------------------------------------------------------------------ CRLs
echo "# CRLs: distribution points (HTTP, LDAP) and CA entries"
expect "before any CRL, alice fails closed (424)" "424 CRL_EXPIRED" "$(validate alice e2e)"
expect_match "... because the CRL is missing" 'unable to get certificate CRL' \
	"$(q "SELECT reason FROM mobisign_validate_certificate($(cert alice), pki => 'e2e')")"
N=$(q "SELECT mobisign_refresh_crls()")
expect "mobisign_refresh_crls() stores the root's and the intermediate's CRLs in each of the 3 PKIs" 6 "$N"
expect "PKI e2e has both" 2 "$(q "SELECT count(*) FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id WHERE p.name = 'e2e'")"
expect "the root CRL came over HTTP (int's distribution point)" "url|http://127.0.0.1:$HTTP_PORT/root.crl" \
	"$(q "SELECT source, source_url FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
          WHERE p.name = 'e2e' AND c.issuer LIKE 'CN=Root CA%'")"
expect "the intermediate's CRL came from LDAP (HTTP copy not published yet)" "ldap" \
	"$(q "SELECT source FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
          WHERE p.name = 'e2e' AND c.issuer LIKE 'CN=Int CA%'")"
expect "sources known: distribution points, delta points and CA entries" "delta distribution_point ldap_ca" \
	"$(q "SELECT string_agg(DISTINCT kind, ' ' ORDER BY kind) FROM mobisign.crl_source s JOIN mobisign.pki p ON p.id = s.pki_id WHERE p.name = 'e2e'")"
expect "the failing HTTP distribution point is recorded" "1" \
	"$(q "SELECT count(*) FROM mobisign.crl_source s JOIN mobisign.pki p ON p.id = s.pki_id
          WHERE p.name = 'e2e' AND s.url = 'http://127.0.0.1:$HTTP_PORT/int.crl' AND s.failures > 0 AND s.last_error IS NOT NULL")"
expect "alice validates now" "502 VALID_SIGNATURE" "$(validate alice e2e)"
expect "the evidence names the CRL numbers relied on (int's for alice, root's for int and root)" \
	"CN=Int CA,O=mobisign e2e,C=FI:1 CN=Root CA,O=mobisign e2e,C=FI:1" \
	"$(q "SELECT string_agg((e->>'issuer') || ':' || (e->>'crl_number'), ' ' ORDER BY e->>'issuer')
	        FROM (SELECT DISTINCT e FROM mobisign_validate_certificate($(cert alice), pki => 'e2e') v,
	              jsonb_array_elements(v.evidence->'crls') e) x")"
# a certificate cached from a directory that claims the intermediate's name
# but was not issued by the PKI's CAs names no distribution point that the
# refresh would fetch (else any cached certificate could point the server
# at any host)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil.key" \
	-subj "/C=FI/O=mobisign e2e/CN=Int CA" -days 30 -out "$T/evil.pem" \
	-addext "crlDistributionPoints=URI:http://127.0.0.1:9/evil.crl" >/dev/null 2>&1 &&
	openssl x509 -in "$T/evil.pem" -outform DER -out "$T/evil.der" || fail "could not make the forged certificate"
q "SELECT mobisign._cache_certificate('\\x$(hex "$T/evil.der")'::bytea, 'ldap', NULL,
          (SELECT id FROM mobisign.pki WHERE name = 'e2e'))" >/dev/null
expect "the forged certificate is in the cache (source ldap)" 1 \
	"$(q "SELECT count(*) FROM mobisign.certificate WHERE source = 'ldap' AND subject = 'CN=Int CA,O=mobisign e2e,C=FI'")"
q "SELECT mobisign_refresh_crls()" >/dev/null
expect "a distribution point in a certificate the PKI did not issue is never fetched" 0 \
	"$(q "SELECT count(*) FROM mobisign.crl_source WHERE url LIKE '%evil.crl'")"
expect "a second refresh changes nothing" 0 "$(q "SELECT mobisign_refresh_crls()")"
expect "nothing is due for the worker" 0 "$(q "SELECT mobisign._refresh_due_crls()")"

echo "# stale and missing CRLs fail closed"
q "UPDATE mobisign.pki SET enabled = true WHERE name IN ('e2e-stale', 'e2e-grace')" >/dev/null
expect "a CRL past next_update fails closed (424)" "424 CRL_EXPIRED" "$(validate alice e2e-stale)"
expect_match "... because the CRL has expired" 'CRL has expired' \
	"$(q "SELECT reason FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-stale')")"
expect "... unless within the PKI's grace (2024-02-01 + 10 years)" "502 VALID_SIGNATURE|true" \
	"$(q "SELECT status_code || ' ' || status_name || '|' || (evidence->>'stale_crl_within_grace')
	      FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-grace')")"
q "UPDATE mobisign.pki SET enabled = false WHERE name IN ('e2e-stale', 'e2e-grace')" >/dev/null

echo "# a user registered, then revoked: refused at the next validation"
q "SELECT mobisign_register_user('erin', '+358405555555', 'e2e', $(cert erin))" >/dev/null
expect "erin resolves from the register first" "erin|register||t" \
	"$(q "SELECT user_id, source, directory, certificates = ARRAY[$(cert erin)] FROM mobisign_lookup_user('erin')")"
expect "bob validates before revocation" "502 VALID_SIGNATURE" "$(validate bob e2e)"
revoke() { # NAME: revoke in the CA database, publish a new CRL (LDAP and HTTP)
	CADIR="$PKI/int" openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/int.pem" -keyfile "$PKI/int/key.pem" \
		-revoke "$PKI/$1.pem" >/dev/null 2>&1 || return 1
	publish_int_crl
}
publish_int_crl() { # [extra openssl ca args]
	CADIR="$PKI/int" openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/int.pem" -keyfile "$PKI/int/key.pem" \
		-gencrl "$@" -out "$T/int-new.crl.pem" >/dev/null 2>&1 || return 1
	openssl crl -in "$T/int-new.crl.pem" -outform DER -out "$T/int-new.crl.der" || return 1
	cp "$T/int-new.crl.der" "$WWW/int.crl"
	chmod 0644 "$T/int-new.crl.der"
	ldapmodify -x -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,c=FI -w "$BIND_PW" >/dev/null <<LDIF
dn: cn=Int CA,o=mobisign e2e,c=FI
changetype: modify
replace: certificateRevocationList;binary
certificateRevocationList;binary:< file://$T/int-new.crl.der
LDIF
}
sleep 1  # the new CRL's thisUpdate must be later than the cached one's
revoke erin || fail "could not revoke erin"
revoke bob || fail "could not revoke bob"
expect "the refresh picks up the new intermediate CRL (3 PKIs)" 3 "$(q "SELECT mobisign_refresh_crls()")"
expect "erin (registered) is refused: revoked" "501 REVOKED_CERTIFICATE" "$(validate erin e2e)"
expect "bob (from LDAP) is refused: revoked" "501 REVOKED_CERTIFICATE" "$(validate bob e2e)"
expect "alice is still valid" "502 VALID_SIGNATURE" "$(validate alice e2e)"

echo "# the worker's refresh: a CRL close to next_update is fetched again"
sleep 1
publish_int_crl -crlsec 1200 || fail "could not publish a short CRL"
expect "a CRL valid for 20 minutes is stored (3 PKIs)" 3 "$(q "SELECT mobisign_refresh_crls()")"
sleep 1
publish_int_crl || fail "could not publish a CRL"
q "UPDATE mobisign.crl_source SET next_attempt_at = now()" >/dev/null
expect "the due refresh replaces it (3 PKIs)" 3 "$(q "SELECT mobisign._refresh_due_crls()")"
expect "and then nothing is due" 0 "$(q "SELECT mobisign._refresh_due_crls()")"

echo "# the worker launches the refresher, which does the same on its own"
int_crls() { q "SELECT string_agg(encode(sha256, 'hex'), ',' ORDER BY id) FROM mobisign.crl WHERE issuer LIKE 'CN=Int CA%'"; }
sleep 1
publish_int_crl || fail "could not publish a CRL"
before=$(int_crls)
q "UPDATE mobisign.crl_source SET next_attempt_at = now()" >/dev/null
q "ALTER SYSTEM SET mobisign.crl_refresh_interval = '1s'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
after=$before
for _ in $(seq 1 40); do
	after=$(int_crls)
	[ "$after" != "$before" ] && break
	sleep 0.5
done
if [ "$after" != "$before" ]; then ok "the refresher stored the new CRL by itself within 20 s"; else fail "the refresher did not store the new CRL within 20 s"; fi
q "ALTER SYSTEM SET mobisign.crl_refresh_interval = 0" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5

# ------------------------------------------------------------------ OCSP
echo "# OCSP (nonce, signature, freshness, cache)"
OUT=$(q "SELECT status_code, evidence->'ocsp'->0->>'status', evidence->'ocsp'->0->>'responder',
                evidence->'ocsp'->1->>'status', evidence->'ocsp'->0->>'cached'
           FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-ocsp')")
expect "alice by OCSP: good (delegated responder), the intermediate good (the root signs)" \
	"502|good|http://127.0.0.1:$OCSP_PORT/int|good|false" "$OUT"
expect "the responses are cached" 2 \
	"$(q "SELECT count(*) FROM mobisign.ocsp_response o JOIN mobisign.pki p ON p.id = o.pki_id
          WHERE p.name = 'e2e-ocsp' AND status = 'good' AND next_update > now()")"
expect "a second validation uses the cache" "502|true" \
	"$(q "SELECT status_code, evidence->'ocsp'->0->>'cached' FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-ocsp')")"
expect "bob by OCSP: revoked (501)" "501|revoked" \
	"$(q "SELECT status_code, evidence->'ocsp'->0->>'status' FROM mobisign_validate_certificate($(cert bob), pki => 'e2e-ocsp')")"
expect "frank by OCSP: unknown to the responder, fails closed (424)" "424|unknown" \
	"$(q "SELECT status_code, evidence->'ocsp'->0->>'status' FROM mobisign_validate_certificate($(cert frank), pki => 'e2e-ocsp')")"
expect "frank with 'ocsp,crl': falls back to the CRL (502)" "502" \
	"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert frank), pki => 'e2e-ocspcrl')")"

echo "# a past time (at): both modes need revocation data valid at that time"
# gina's certificate is valid from a day ago; she is revoked now, after "at"
# (an hour ago). Neither the cached CRL nor a fresh OCSP response existed
# then, so neither can say she was good then: both modes refuse with 424.
# (OCSP mode used to take a revocation after "at" as "good at that time".)
AT="now() - interval '1 hour'"
at_status() { # PKI -> status_code|first OCSP error or ''
	q "SELECT status_code || '|' || coalesce(evidence->'ocsp'->0->>'error', '')
	     FROM mobisign_validate_certificate($(cert gina), pki => '$1', at => $AT)"
}
CADIR="$PKI/int" openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/int.pem" -keyfile "$PKI/int/key.pem" \
	-revoke "$PKI/gina.pem" >/dev/null 2>&1 || fail "could not revoke gina"
expect "gina now, 'ocsp': revoked (501)" "501|revoked" \
	"$(q "SELECT status_code, evidence->'ocsp'->0->>'status' FROM mobisign_validate_certificate($(cert gina), pki => 'e2e-ocsp')")"
expect_match "gina an hour ago (revoked since), 'ocsp': no response valid then (424, as 'crl')" \
	'^424\|.*produced after the time of the check' "$(at_status e2e-ocsp)"
expect "gina an hour ago (revoked since), 'crl': no CRL valid then (424)" "424" \
	"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert gina), pki => 'e2e', at => $AT)")"
expect "gina an hour ago (revoked since), 'ocsp,crl': 424" "424" \
	"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert gina), pki => 'e2e-ocspcrl', at => $AT)")"
expect "alice an hour ago, 'ocsp': 424 as well (nothing valid then says she was good)" "424" \
	"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert alice), pki => 'e2e-ocsp', at => $AT)")"

kill "$OCSP_PID" 2>/dev/null; wait "$OCSP_PID" 2>/dev/null
expect "responder down, 'ocsp': carol fails closed (424)" "424" \
	"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocsp')")"
expect "responder down, 'ocsp,crl': carol by CRL (502)" "502" \
	"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocspcrl')")"
expect "responder down, 'ocsp,crl': erin revoked by CRL (501)" "501" \
	"$(q "SELECT status_code FROM mobisign_validate_certificate($(cert erin), pki => 'e2e-ocspcrl')")"
start_ocsp
wait_port "$OCSP_PORT" || exit 1
expect "the responder is back: dave by OCSP" "502|good|false" \
	"$(q "SELECT status_code, evidence->'ocsp'->0->>'status', evidence->'ocsp'->0->>'cached'
	      FROM mobisign_validate_certificate($(cert dave), pki => 'e2e-ocsp')")"
kill -STOP "$OCSP_PID"
T0=$(date +%s.%N)
OUT=$(q "SELECT status_code FROM mobisign_validate_certificate($(cert carol), pki => 'e2e-ocsp')")
T1=$(date +%s.%N)
kill -CONT "$OCSP_PID"
EL=$(awk "BEGIN{printf \"%.1f\", $T1 - $T0}")
expect "a frozen responder, 'ocsp': carol fails closed (424)" 424 "$OUT"
if awk "BEGIN{exit !($EL <= 7.0)}"; then ok "the frozen responder cost ${EL}s (mobisign.fetch_timeout 5 s)"; else fail "frozen responder: ${EL}s"; fi

# ------------------------------------------------------------ delta CRLs
echo "# delta CRLs (freshest CRL points)"
expect "carol is valid by the full CRL" "502 VALID_SIGNATURE" "$(validate carol e2e)"
python3 "$HERE/ldap/delta_crl.py" "$PKI/int.pem" "$PKI/int/key.pem" "$T/int-new.crl.der" \
	"$WWW/int-delta.crl" "$PKI/carol.pem" || fail "could not issue a delta CRL"
chmod 0644 "$WWW/int-delta.crl"
expect "the refresh stores the delta CRL (3 PKIs)" 3 "$(q "SELECT mobisign_refresh_crls()")"
expect "it is cached as a delta from the freshest CRL point" "t|url|http://127.0.0.1:$HTTP_PORT/int-delta.crl" \
	"$(q "SELECT c.is_delta, c.source, c.source_url FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
	      WHERE p.name = 'e2e' AND c.is_delta")"
expect "carol, revoked in the delta only, is refused" "501 REVOKED_CERTIFICATE" "$(validate carol e2e)"
expect "alice is still valid with the delta" "502 VALID_SIGNATURE" "$(validate alice e2e)"

# ------------------------------------------------- through the simulator
echo "# a user found only in LDAP, through the worker and the SIM simulator"
SIM_BIN=$MOBISIGN_ROOT/test/sim/mobisign-sim
pick_port SMPP_PORT 3890 3899
SIMDIR=$T/sim
wait_final() { # ID -> "state status"
	q "SELECT state || ' ' || status_code FROM mobisign_wait('$1', '40 s')"
}
sim_phase() {
	local msisdn id n i
	[ -x "$SIM_BIN" ] || { fail "$SIM_BIN is not built (make)"; return 1; }
	"$SIM_BIN" provision --dir "$SIMDIR" --users 2 --port "$SMPP_PORT" >"$T/provision.log" 2>&1 ||
		{ cat "$T/provision.log"; fail "mobisign-sim provision"; return 1; }
	ms_psql -d postgres -q -f "$SIMDIR/register.sql" >"$T/register.log" 2>&1 ||
		{ tail -5 "$T/register.log"; fail "the simulator's register.sql"; return 1; }
	# user0002's SIM and certificate belong to "ldapsim", a user known only to
	# the directory (the register forgets user0002)
	msisdn=$(q "SELECT msisdn FROM mobisign.app_user WHERE user_id = 'user0002'")
	q "DELETE FROM mobisign.app_user WHERE user_id = 'user0002'" >/dev/null
	ldapadd -x -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,c=FI -w "$BIND_PW" >"$T/ldapadd.log" 2>&1 <<LDIF || { cat "$T/ldapadd.log"; fail "ldapadd"; return 1; }
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
	expect "ldapsim is found in the directory" "ldapsim|$msisdn|ldap|simdir" \
		"$(q "SELECT user_id, msisdn, source, directory FROM mobisign_lookup_user('ldapsim')")"
	expect "user0002 is no longer known" 0 "$(q "SELECT count(*) FROM mobisign_lookup_user('user0002')")"
	printf '* sign\n' >"$SIMDIR/behaviour"
	"$SIM_BIN" run --dir "$SIMDIR" --port "$SMPP_PORT" --quiet >"$T/sim.log" 2>&1 &
	PIDS+=($!)
	for i in $(seq 1 100); do
		[ "$(q "SELECT bound FROM mobisign.worker_stats")" = t ] && break
		sleep 0.2
	done
	expect "the worker is bound to the simulator" t "$(q "SELECT bound FROM mobisign.worker_stats")"
	# as an application: mobisign_app may authenticate, not look into directories
	q "CREATE ROLE e2e_dir_app LOGIN IN ROLE mobisign_app" >/dev/null
	expect "mobisign_app may not call mobisign_lookup_user" f \
		"$(q "SELECT has_function_privilege('e2e_dir_app', 'mobisign_lookup_user(text)', 'EXECUTE')")"
	expect "mobisign_app may not search a directory directly" 42501 \
		"$(sqlstate "SET ROLE e2e_dir_app; SELECT mobisign._directory_search($CORP, convert_to('alice', 'UTF8'))")"
	id=$(ms_psql -d postgres -U e2e_dir_app -At -c "SELECT transaction_id FROM mobisign_authenticate('ldapsim', 'e2e-directory', '30 s')" 2>&1)
	expect "ldapsim (LDAP only) authenticates through the simulator, asked by an application" "completed 502" \
		"$(ms_psql -d postgres -U e2e_dir_app -At -c "SELECT state || ' ' || status_code FROM mobisign_wait('$id', '40 s')" 2>&1)"
	expect "the answer verified against the directory's certificate, to the directory's MSISDN" 1 \
		"$(q "SELECT count(*) FROM mobisign.transaction t
		      WHERE t.id = '$id' AND t.msisdn = '$msisdn'
		        AND t.certificate_fingerprint = sha256('\\x$(hex "$SIMDIR/users/user0002/cert.der")'::bytea)
		        AND t.signer_fingerprint = t.certificate_fingerprint")"
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('nobody-anywhere', 'e2e-directory')" 2>&1)
	expect_match "a user in no register or directory: 105" 'UNKNOWN_CLIENT|MS105|unknown user' "$id"
	# the CA revokes ldapsim's certificate and publishes the CRL in the
	# directory; the refresh finds it on the CA entry
	"$SIM_BIN" revoke --dir "$SIMDIR" --user user0002 >"$T/revoke.log" 2>&1 || { fail "mobisign-sim revoke"; return 1; }
	ldapmodify -x -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,c=FI -w "$BIND_PW" >/dev/null 2>&1 <<LDIF || fail "ldapmodify (sim CRL)"
dn: cn=mobisign simulator issuing CA,o=mobisign simulator,c=FI
changetype: modify
replace: certificateRevocationList;binary
certificateRevocationList;binary:< file://$SIMDIR/crl/issuing-revoked.der
LDIF
	n=$(q "SELECT mobisign_refresh_crls()")
	expect "the refresh finds the simulator CA's new CRL on its directory entry" 1 "$n"
	expect "... stored with source ldap" "ldap" \
		"$(q "SELECT c.source FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
		      WHERE p.name = 'sim' AND c.issuer LIKE 'CN=mobisign simulator issuing CA%'")"
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('ldapsim', 'e2e-directory', '30 s')")
	expect "ldapsim, revoked, is refused at the next authentication (501)" "failed 501" "$(wait_final "$id")"
	id=$(q "SELECT transaction_id FROM mobisign_authenticate('user0001', 'e2e-directory', '30 s')")
	expect "user0001 (register) still authenticates" "completed 502" "$(wait_final "$id")"
}
sim_phase

# ------------------------------------------------------------------ logs
echo "# no secret in the server log"
if grep -q -- "$BIND_PW" "$T/cluster/log" 2>/dev/null; then fail "the bind password is in the server log"; else ok "the bind password is not in the server log"; fi

echo "# $CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
