#!/usr/bin/env bash
# Test PKI for test/e2e/40_directory.sh, generated at test time.
#
#   make_pki.sh OUTDIR HTTP_PORT LDAP_PORT OCSP_PORT
#
# OUTDIR/root/  "Root CA" (self-signed P-256) and its openssl ca state
# OUTDIR/int/   "Int CA" signed by the root; CRL distribution point
#               http://127.0.0.1:HTTP_PORT/root.crl, OCSP http://127.0.0.1:OCSP_PORT/root
# Users signed by Int CA (P-256, digitalSignature + nonRepudiation), with CRL
# distribution points http://127.0.0.1:HTTP_PORT/int.crl and
# ldap://127.0.0.1:LDAP_PORT/cn=Int CA,o=mobisign e2e,c=FI?certificateRevocationList;binary
# a freshest CRL (delta) point http://127.0.0.1:HTTP_PORT/int-delta.crl
# and OCSP http://127.0.0.1:OCSP_PORT/int:
#   alice bob carol dave erin gina  (issued with openssl ca: known to the responder)
#   frank                           (issued outside the CA database: OCSP "unknown")
# The root, the intermediate, the responder and the users issued with
# openssl ca are valid from a day ago, so that a validation at a past time
# ("at", e.g. an hour ago) has a valid path and only revocation data decides.
# ocsp-int: Int CA's delegated OCSP responder (EKU OCSPSigning).
# TLS for slapd: tls-ca (self-signed), ldap-server (SAN IP:127.0.0.1) and
# other-ca (an unrelated CA: "untrusted").
# Every certificate as .pem and .der; CRLs as root.crl.der / int.crl.der.
set -euo pipefail
OUT=$1 HTTP_PORT=$2 LDAP_PORT=$3 OCSP_PORT=$4
mkdir -p "$OUT"
cd "$OUT"
export CADIR=root

q() { # run openssl quietly unless it fails
	local log
	log=$(openssl "$@" 2>&1) || { echo "make_pki.sh: openssl $1 failed:" >&2; echo "$log" >&2; return 1; }
}
key() { q genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

cat >ca.cnf <<CNF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = \$ENV::CADIR
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
default_days = 3650
default_crl_days = 30
[ policy_any ]
countryName = optional
organizationName = optional
commonName = supplied
[ req ]
distinguished_name = dn
[ dn ]
[ ext_root ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ ext_int ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:http://127.0.0.1:${HTTP_PORT}/root.crl
authorityInfoAccess = OCSP;URI:http://127.0.0.1:${OCSP_PORT}/root
[ ext_user ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = @user_cdp
freshestCRL = URI:http://127.0.0.1:${HTTP_PORT}/int-delta.crl
authorityInfoAccess = OCSP;URI:http://127.0.0.1:${OCSP_PORT}/int
[ user_cdp ]
URI.0 = http://127.0.0.1:${HTTP_PORT}/int.crl
URI.1 = ldap://127.0.0.1:${LDAP_PORT}/cn=Int%20CA%2Co=mobisign%20e2e%2Cc=FI?certificateRevocationList;binary
[ ext_ocsp ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ext_tls_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ ext_tls_server ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
CNF

# a day ago, in the format of openssl ca -startdate
START=$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)

cadir() { mkdir -p "$1/newcerts"; : >"$1/index.txt"; echo 1000 >"$1/serial"; echo 01 >"$1/crlnumber"; }
der() { q x509 -in "$1.pem" -outform DER -out "$1.der"; }

# root
cadir root
key root/key.pem
q req -new -config ca.cnf -key root/key.pem -subj "/C=FI/O=mobisign e2e/CN=Root CA" -out root.csr
CADIR=root q ca -batch -config ca.cnf -selfsign -keyfile root/key.pem -extensions ext_root -notext \
	-startdate "$START" -days 3650 -in root.csr -out root.pem
der root
# intermediate
cadir int
key int/key.pem
q req -new -config ca.cnf -key int/key.pem -subj "/C=FI/O=mobisign e2e/CN=Int CA" -out int.csr
CADIR=root q ca -batch -config ca.cnf -cert root.pem -keyfile root/key.pem -extensions ext_int \
	-notext -startdate "$START" -in int.csr -out int.pem
der int

issue() { # NAME [outside]
	key "$1.key"
	q req -new -config ca.cnf -key "$1.key" -subj "/C=FI/O=mobisign e2e/CN=$1" -out "$1.csr"
	if [ "${2:-}" = outside ]; then
		q x509 -req -in "$1.csr" -CA int.pem -CAkey int/key.pem -set_serial "0x$(openssl rand -hex 8)" \
			-days 3650 -sha256 -extfile ca.cnf -extensions ext_user -out "$1.pem"
	else
		CADIR=int q ca -batch -config ca.cnf -cert int.pem -keyfile int/key.pem -extensions ext_user \
			-notext -startdate "$START" -in "$1.csr" -out "$1.pem"
	fi
	der "$1"
}
for u in alice bob carol dave erin gina; do issue $u; done
issue frank outside
# Int CA's delegated OCSP responder
key ocsp-int.key
q req -new -config ca.cnf -key ocsp-int.key -subj "/C=FI/O=mobisign e2e/CN=Int CA OCSP" -out ocsp-int.csr
CADIR=int q ca -batch -config ca.cnf -cert int.pem -keyfile int/key.pem -extensions ext_ocsp \
	-notext -startdate "$START" -in ocsp-int.csr -out ocsp-int.pem

# CRLs
CADIR=root q ca -batch -config ca.cnf -cert root.pem -keyfile root/key.pem -gencrl -out root.crl.pem
CADIR=int q ca -batch -config ca.cnf -cert int.pem -keyfile int/key.pem -gencrl -out int.crl.pem
q crl -in root.crl.pem -outform DER -out root.crl.der
q crl -in int.crl.pem -outform DER -out int.crl.der
# stale CRLs (2024-01-01 .. 2024-02-01)
CADIR=root q ca -batch -config ca.cnf -cert root.pem -keyfile root/key.pem -gencrl \
	-crl_lastupdate 20240101000000Z -crl_nextupdate 20240201000000Z -out root-stale.crl.pem
CADIR=int q ca -batch -config ca.cnf -cert int.pem -keyfile int/key.pem -gencrl \
	-crl_lastupdate 20240101000000Z -crl_nextupdate 20240201000000Z -out int-stale.crl.pem

# TLS for slapd
key tls-ca.key
q req -new -x509 -config ca.cnf -extensions ext_tls_ca -key tls-ca.key -subj "/CN=mobisign e2e LDAP TLS CA" \
	-days 3650 -out tls-ca.pem
key ldap-server.key
q req -new -config ca.cnf -key ldap-server.key -subj "/CN=127.0.0.1" -out ldap-server.csr
q x509 -req -in ldap-server.csr -CA tls-ca.pem -CAkey tls-ca.key -set_serial 7 -days 3650 -sha256 \
	-extfile ca.cnf -extensions ext_tls_server -out ldap-server.pem
key other-ca.key
q req -new -x509 -config ca.cnf -extensions ext_tls_ca -key other-ca.key -subj "/CN=unrelated TLS CA" \
	-days 3650 -out other-ca.pem
rm -f ./*.csr
