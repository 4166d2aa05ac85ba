#!/bin/bash
# Seeds and fixtures for the harnesses of outside input (fuzz_der_input,
# fuzz_ocsp_response, fuzz_http_response, fuzz_ldap_entry), made at run time
# with the openssl CLI from the test PKIs of test/fixtures/generate.sh:
#
#   test/fuzz/pki_seeds.sh OUT
#
# OUT/seeds/<harness>/   seed inputs (the harness's input format, see each .c)
# OUT/ocsp/              the PKI and requests fuzz_ocsp_response loads
#                        (MOBISIGN_FUZZ_OCSP), and the responses by name
#                        (NAME.resp.der, for test/input)
# OUT/fx/                test/fixtures/generate.sh's PKIs and signatures
# Nothing is committed; exit status non-zero if anything cannot be made.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
OUT=$1
FX="$OUT/fx"
S="$OUT/seeds"
O="$OUT/ocsp"
mkdir -p "$S/fuzz_der_input" "$S/fuzz_ocsp_response" "$S/fuzz_http_response" \
	"$S/fuzz_ldap_entry" "$O"
bash "$root/test/fixtures/generate.sh" "$FX" >/dev/null

# fuzz_der_input: selector byte (0 certificate, 1 CRL, 2 CMS, 3 public key)
# followed by the object, DER and PEM
n=0
seed() { # SELECTOR FILE
	n=$((n + 1))
	{ printf "\\x$1"; cat "$2"; } >"$S/fuzz_der_input/seed$n"
}
for f in alice-rsa bob-ec alpha-int alpha-root grace-sha1 mallory-self; do
	seed 00 "$FX/$f.der"
	seed 00 "$FX/$f.pem"
	seed 03 "$FX/$f.der"
done
seed 00 "$FX/alice-and-int.pem"
for f in alpha-int alpha-root alpha-int-stale; do
	seed 01 "$FX/$f.crl.der"
	seed 01 "$FX/$f.crl.pem"
done
for f in alice-detached alice-attached-chain bob-attached-chain alice-sha1 mallory-attached; do
	seed 02 "$FX/$f.p7s"
done
openssl cms -cmsout -in "$FX/alice-attached.p7s" -inform DER -outform PEM \
	-out "$OUT/alice-attached.p7s.pem"
seed 02 "$OUT/alice-attached.p7s.pem"
openssl cms -data_create -in "$FX/content.txt" -outform DER -out "$OUT/data.p7m"
seed 02 "$OUT/data.p7m"
seed 03 "$FX/alice.spki.der"
seed 03 "$FX/bob.spki.der"
openssl pkey -pubin -inform DER -in "$FX/bob.spki.der" -out "$OUT/bob.spki.pem"
seed 03 "$OUT/bob.spki.pem"

# fuzz_ocsp_response: the PKI alpha, alice (good) and carol (revoked), and
# one request with a nonce for each; the seeds are the responder's answers
cp "$FX/alpha-root.der" "$O/root.der"
cp "$FX/alpha-int.der" "$O/issuer.der"
cp "$FX/alice-rsa.der" "$O/good.der"
cp "$FX/carol-revoked.der" "$O/revoked.der"
CAD="$FX/ca/alpha-int"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=alpha OCSP responder" \
	-keyout "$O/responder.key" -out "$O/responder.csr" 2>/dev/null
printf 'extendedKeyUsage = OCSPSigning\nkeyUsage = digitalSignature\n' >"$O/responder.ext"
openssl x509 -req -in "$O/responder.csr" -CA "$CAD/ca.pem" -CAkey "$CAD/ca.key" -days 2 \
	-set_serial 4242 -extfile "$O/responder.ext" -out "$O/responder.pem" 2>/dev/null
# respond NAME REQUEST SIGNER KEY [openssl ocsp options...]: O/NAME.resp.der
respond() {
	local name=$1 req=$2 signer=$3 key=$4
	shift 4
	openssl ocsp -index "$CAD/index.txt" -CA "$CAD/ca.pem" -rsigner "$signer" -rkey "$key" \
		-reqin "$req" -respout "$O/$name.resp.der" "$@" >/dev/null 2>&1
	[ -s "$O/$name.resp.der" ] || { echo "pki_seeds.sh: no OCSP response $name" >&2; exit 1; }
	cp "$O/$name.resp.der" "$S/fuzz_ocsp_response/$name"
}
for c in good revoked; do
	cert=alice-rsa
	[ $c = revoked ] && cert=carol-revoked
	openssl ocsp -issuer "$CAD/ca.pem" -cert "$FX/$cert.pem" -reqout "$O/$c.req.der" >/dev/null
	openssl ocsp -issuer "$CAD/ca.pem" -cert "$FX/$cert.pem" -no_nonce -reqout "$O/$c.nononce.req.der" >/dev/null
	respond "$c-by-ca" "$O/$c.req.der" "$CAD/ca.pem" "$CAD/ca.key" -ndays 1
	respond "$c-by-delegate" "$O/$c.req.der" "$O/responder.pem" "$O/responder.key" -ndays 1
	respond "$c-by-keyid-nocerts" "$O/$c.req.der" "$O/responder.pem" "$O/responder.key" -ndays 1 \
		-resp_key_id -resp_no_certs
	respond "$c-nononce" "$O/$c.nononce.req.der" "$CAD/ca.pem" "$CAD/ca.key"
done
# the answer to another request: a nonce that is not ours
openssl ocsp -issuer "$CAD/ca.pem" -cert "$FX/alice-rsa.pem" -reqout "$O/other.req.der" >/dev/null
respond good-other-nonce "$O/other.req.der" "$CAD/ca.pem" "$CAD/ca.key" -ndays 1
# a responder that is no CA nor delegate (bob's key)
respond good-by-bob "$O/good.req.der" "$FX/bob-ec.pem" "$FX/private/bob-ec.key.pem" -ndays 1

# fuzz_http_response: flags byte (bit 0 POST an OCSP request, bits 1-2 the
# size limit) followed by the server's whole answer
h=0
http() { # FLAGS HEAD-LINES BODY-FILE
	h=$((h + 1))
	{ printf "\\x$1"; printf '%b\r\n' "$2"; cat "$3"; } >"$S/fuzz_http_response/seed$h"
}
len() { wc -c <"$1" | tr -d ' '; }
crl="$FX/alpha-int.crl.der"
cer="$FX/alice-rsa.der"
ocsp="$O/good-by-ca.resp.der"
http 06 "HTTP/1.0 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: $(len "$crl")\r\n" "$crl"
http 06 "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-cert\r\nConnection: close\r\n" "$cer"
http 07 "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: $(len "$ocsp")\r\n" "$ocsp"
http 01 "HTTP/1.1 200 OK\r\ncontent-type: Application/OCSP-Response; charset=binary\r\n" "$ocsp"
http 06 "HTTP/1.1 302 Found\r\nLocation: http://elsewhere.invalid/x.crl\r\nContent-Length: 0\r\n" /dev/null
http 07 "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n" "$ocsp"
http 02 "HTTP/1.0 200 OK\r\nContent-Length: $(len "$crl")\r\n" "$crl"
http 06 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" "$cer"

# fuzz_ldap_entry: byte 0 the room for values, then attributes: a length
# byte and the description, a count byte, and per value two length bytes
# (big endian) and the value
e=0
ldap_seed() { # printf-format of the whole entry
	e=$((e + 1))
	printf "$1" >"$S/fuzz_ldap_entry/seed$e"
}
mob='+358 40 123-4567'
ldap_seed "\\x10\\x06mobile\\x01\\x00\\x$(printf %02x ${#mob})$mob"
ldap_seed "\\x02\\x06MOBILE\\x02\\x00\\x03(+)\\x00\\x0c+35840111222\\x16userCertificate;binary\\x01\\x00\\x04\\x30\\x02\\x05\\x00"
ldap_seed "\\x04\\x20certificateRevocationList;binary\\x02\\x00\\x00\\x00\\x03\\x30\\x01\\x00\\x0fuserCertificate\\x01\\x00\\x02\\x30\\x00"
{ printf '\x10\x16userCertificate;binary\x01'; printf "\\x$(printf %02x $(($(len "$cer") / 256)))\\x$(printf %02x $(($(len "$cer") % 256)))"; cat "$cer"; } \
	>"$S/fuzz_ldap_entry/seed$((e + 1))"

# fuzz_pkcs11_uri: the URI as given to mobisign.sp_key_file / master_key_file
mkdir -p "$S/fuzz_pkcs11_uri"
u=0
for uri in 'pkcs11:token=mobisign;object=sp-key;type=private' \
	'pkcs11:token=mobisign;object=master;type=secret-key' \
	'PKCS11:object=My%20Key%3b1;id=%01%ff%Aa' 'pkcs11:id=%02' \
	'pkcs11:object=k?pin-value=1234' 'pkcs11:object=a;;type=cert' 'pkcs11:object=a%2'; do
	u=$((u + 1))
	printf '%s' "$uri" >"$S/fuzz_pkcs11_uri/seed$u"
done
