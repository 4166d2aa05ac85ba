#!/usr/bin/env bash
# End-to-end: the HTTP gateway (gateway/mobisign-gateway, docs/gateway.md)
# in front of a cluster whose worker talks to the SMSC/SIM simulator, driven
# with curl (never the gateway's own code); signatures are checked with
# Python cryptography and the OpenSSL command line.  EC users.
#
# Scenarios (each a function below, run by ms_scenario):
#   mid_certificate      POST certificate: OK with the registered certificate
#                        (serialNumber PNOEE-...), NOT_FOUND, 400, 401, 405
#   mid_authentication   POST authentication + GET session: OK, the raw
#                        ECDSA signature of the hash verifies with the
#                        returned certificate; the phone showed the hash's
#                        verification code
#   mid_signature        SHA-384 and SHA-512 signatures (no certificate in
#                        the answer), valid
#   mid_long_poll        timeoutMs: RUNNING when the wait ends first; the
#                        answer the moment the SIM answers (LISTEN, no poll)
#   mid_results          USER_CANCELLED, SIGNATURE_HASH_MISMATCH, SIM_ERROR,
#                        PHONE_ABSENT, DELIVERY_ERROR, NOT_MID_CLIENT
#   mid_timeout          TIMEOUT (a gateway with --session-timeout 2)
#   mid_hostile          oversized bodies (413, also chunked), bad JSON, an
#                        unknown relying party, a wrong nationalIdentityNumber
#                        (nothing sent), bad hashes, wrong methods and paths,
#                        sessions of another kind or another application
#   etsi_sync_cms        MSS_SignatureReq synch, text, CMS: 502 and a CMS
#                        that openssl cms -verify accepts
#   etsi_async_pkcs1     asynchClientServer, a digest, PKCS#1: 100, then
#                        MSS_StatusReq 504 and 502 with a valid signature
#   etsi_profile_faults  MSS_ProfileQueryReq; Faults _101 _102 _104 _105
#                        _107 _109 and _401 (the user declines)
#   etsi_receipt         MSS_ReceiptReq after a synch signature: 100
#                        REQUEST_OK once the phone showed it (DISPLAY
#                        receipt in the simulator's log), _401 when the user
#                        dismisses it; Faults for an unknown MSSP_TransID,
#                        another relying party's or another role's
#                        signature, an unfinished one, a message too long
#                        for the SIM, a missing message (nothing sent)
#   etsi_receipt_phone   the interactive phone (ask) shows the receipt; the
#                        synch answer waits until the person presses ok (a
#                        PIN is ignored), then 100
#   hostile_http         an outsider's requests: "%00" in a path, huge
#                        headers, deep and odd JSON (NUL, invalid UTF-8,
#                        numbers out of range), timeoutMs out of range, a
#                        relyingPartyUUID that is no UUID (401, not a SQL
#                        error), quotes in values, memory bounded under a
#                        flood; a flood of long polls on a small gateway
#                        (--max-clients 8) leaves connections for other
#                        requests, the waiting ones are still woken by
#                        LISTEN, and SIGTERM under it exits 0 at once
#   log_hygiene          one line per request; no UUID (a session id in a
#                        path is {id}), hash, body or conninfo password in
#                        the log
#   options              --help; bad options exit 2; an unreachable
#                        database exits 1 without echoing the conninfo
#   clean_stop           SIGTERM with a long poll waiting: it is answered,
#                        the gateway exits 0
#   load                 a short load run: the same authentication flow
#                        through the gateway and in SQL (RESULT lines)
#
#   bash test/e2e/70_gateway.sh                    (after make install)
#   MS_SCENARIO=mid_long_poll bash test/e2e/70_gateway.sh
#
# Ports: free ones. KEEP=1 keeps the work directory (clusters stopped).
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

GW_BIN=$MOBISIGN_ROOT/gateway/mobisign-gateway
SIGCHECK=$MOBISIGN_ROOT/test/e2e/gateway/sigcheck.py
RP_NAME=DEMO
RP_UUID=00000000-0000-4000-8000-000000000001
LOAD_FLOWS=${MOBISIGN_GATEWAY_LOAD_FLOWS:-40}
LOAD_PAR=8

ms_e2e_init
[ -x "$GW_BIN" ] || ms_e2e_die "$GW_BIN is not built (run make)"

ms_e2e_ports PGPORT SMPPPORT GWPORT GW2PORT
SIMDIR=$WORK/sim
mkdir -p "$WORK/gw"
ms_sim_provision "$SIMDIR" "$SMPPPORT" 24 --key-type ec
ms_e2e_cluster "$WORK/pg" "$PGPORT" postgres
ms_sim_register "$SIMDIR"
ms_sim_behaviour "$SIMDIR" "* sign"
ms_sim_start "$SIMDIR" "$SMPPPORT" "$WORK/sim.log"
ms_check_bound "the worker is bound to the SMSC"

# The gateway's login: an application role.  The conninfo carries its
# password (the cluster trusts local logins anyway): the log must never
# show it.
q "CREATE ROLE gw_shop LOGIN PASSWORD 'gw-secret-pw' IN ROLE mobisign_app" >/dev/null
q "CREATE ROLE other_shop LOGIN IN ROLE mobisign_app" >/dev/null
q "SELECT mobisign_add_relying_party('$RP_NAME', '$RP_UUID')" >/dev/null
# a second relying party (etsi_async_pkcs1, etsi_receipt: it must not read DEMO's transactions)
OTHER_RP_UUID=00000000-0000-4000-8000-0000000000a2
q "SELECT mobisign_add_relying_party('OTHER', '$OTHER_RP_UUID')" >/dev/null
CONNINFO="host=$WORK/pg port=$PGPORT dbname=postgres user=gw_shop password=gw-secret-pw"

start_gateway() { # start_gateway PORT LOG [ARGS...]
	local port=$1 log=$2
	shift 2
	ms_bg "$GW_BIN" --listen "127.0.0.1:$port" --conninfo "$CONNINFO" --max-body 16384 "$@" >"$log" 2>&1
	ms_wait_port "$port" 10 || ms_e2e_die "the gateway does not listen on $port"
}
start_gateway "$GWPORT" "$WORK/gw.log"
GW_PID=$MS_BG_PID

# ---------------------------------------------------------------------------
# helpers: every HTTP call is curl; the body goes to $WORK/resp
# ---------------------------------------------------------------------------
RESP=$WORK/resp

post() { # post PATH JSON [PORT]: prints the HTTP status
	curl -s -m 70 -o "$RESP" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "$2" "http://127.0.0.1:${3:-$GWPORT}$1"
}
get() { # get PATH [PORT]
	curl -s -m 70 -o "$RESP" -w '%{http_code}' "http://127.0.0.1:${2:-$GWPORT}$1"
}
jf() { jq -r "$1" "$RESP"; }

phone_of() { echo "+$(q "SELECT msisdn FROM mobisign.app_user WHERE user_id = '$1'")"; }
nid_of() { printf '%011d' $((30001010000 + 10#${1#user})); }
b64hash() { printf '%s' "$2" | openssl dgst "-$1" -binary | base64 -w0; } # b64hash sha256 TEXT

mid_body() { # mid_body USER HASH_B64 HASH_TYPE [DISPLAY] [RP_UUID]
	jq -nc --arg p "$(phone_of "$1")" --arg n "$(nid_of "$1")" --arg h "$2" --arg t "$3" \
		--arg d "${4:-}" --arg u "${5:-$RP_UUID}" --arg r "$RP_NAME" \
		'{relyingPartyUUID: $u, relyingPartyName: $r, phoneNumber: $p, nationalIdentityNumber: $n,
		  hash: $h, hashType: $t, language: "ENG"} + (if $d == "" then {} else {displayText: $d} end)'
}

# mid_session KIND USER HASH_B64 HASH_TYPE: starts a session, prints its id
mid_session() {
	local code
	code=$(post "/mid-api/$1" "$(mid_body "$2" "$3" "$4")")
	[ "$code" = 200 ] || { echo "HTTP $code $(cat "$RESP")" >&2; return 1; }
	jf .sessionID
}
# mid_final KIND ID: long-polls until COMPLETE (bounded), the last answer in $RESP
mid_final() {
	local i
	for i in 1 2 3 4 5 6; do
		get "/mid-api/$1/session/$2?timeoutMs=10000" >/dev/null
		[ "$(jf .state)" = COMPLETE ] && return 0
	done
	return 1
}

# ---------------------------------------------------------------------------
# Mobile-ID
# ---------------------------------------------------------------------------
mid_certificate() {
	local code body reg
	body=$(jq -nc --arg p "$(phone_of user0001)" --arg n "$(nid_of user0001)" --arg u "$RP_UUID" \
		'{relyingPartyUUID: $u, relyingPartyName: "demo", phoneNumber: $p, nationalIdentityNumber: $n}')
	code=$(post /mid-api/certificate "$body")
	ms_check "certificate: HTTP 200, result OK (the name in any case)" "200 OK" "$code $(jf .result)"
	reg=$(q "SELECT encode(c.der, 'base64') FROM mobisign.app_user a JOIN mobisign.certificate c ON c.fingerprint = a.certificate_fingerprint WHERE a.user_id = 'user0001'" | tr -d '\n')
	ms_check "certificate: the registered certificate" "$reg" "$(jf .cert)"
	ms_check "certificate: its serialNumber is PNOEE- and the identity number" "PNOEE-$(nid_of user0001)" \
		"$(python3 "$SIGCHECK" serial "$(jf .cert)")"
	ms_check_match "certificate: time and traceId" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8} [0-9a-f]{16}$' \
		"$(jf '.time + " " + .traceId')"
	code=$(post /mid-api/certificate "$(echo "$body" | jq -c '.nationalIdentityNumber = "30001010002"')")
	ms_check "certificate: another person's identity number: NOT_FOUND" "200 NOT_FOUND null" \
		"$code $(jf .result) $(jf .cert)"
	code=$(post /mid-api/certificate "$(echo "$body" | jq -c 'del(.phoneNumber)')")
	ms_check "certificate: no phoneNumber: 400 and MID's message" "400 phoneNumber cannot be null" \
		"$code $(jf .error)"
	code=$(post /mid-api/certificate "$(echo "$body" | jq -c '.relyingPartyUUID = "00000000-0000-4000-8000-000000000002"')")
	ms_check "certificate: a wrong relying party UUID: 401" "401 Failed to authorize user" "$code $(jf .error)"
	code=$(get /mid-api/certificate)
	ms_check "certificate: GET is 405" 405 "$code"
}

mid_authentication() {
	local h id cert shown
	h=$(b64hash sha256 "login nonce 1")
	id=$(mid_session authentication user0001 "$h" SHA256)
	ms_check_match "authentication: a session id" '^[0-9a-f-]{36}$' "$id"
	mid_final authentication "$id"
	ms_check "authentication: COMPLETE, OK" "COMPLETE OK" "$(jf '.state + " " + .result')"
	ms_check "authentication: the algorithm (EC key, SHA-256)" SHA256WithECEncryption "$(jf .signature.algorithm)"
	cert=$(jf .cert)
	ms_check "authentication: the raw signature of the hash verifies with the certificate returned" valid \
		"$(python3 "$SIGCHECK" raw "$cert" SHA256 "$h" "$(jf .signature.value)")"
	ms_check "authentication: the certificate is user0001's" "PNOEE-$(nid_of user0001)" \
		"$(python3 "$SIGCHECK" serial "$cert")"
	shown=$(grep "DISPLAY sign-digest" "$WORK/sim.log" | grep "$(phone_of user0001 | tr -d +)" | tail -n 1 |
		sed -n 's/.* code \([0-9]*\) .*/\1/p')
	ms_check "authentication: the phone showed the hash's verification code" \
		"$(python3 "$SIGCHECK" code "$h")" "$shown"
	ms_check "authentication: the transaction is the gateway role's, labelled with the relying party" \
		"authenticate_hash gw_shop DEMO 502" \
		"$(q "SELECT kind || ' ' || app_role || ' ' || application || ' ' || status_code FROM mobisign.transaction WHERE id = '$id'")"
}

mid_signature() {
	local h id t
	for t in SHA384 SHA512; do
		h=$(b64hash "${t,,}" "contract.pdf $t")
		id=$(mid_session signature user0002 "$h" "$t")
		mid_final signature "$id"
		ms_check "signature $t: COMPLETE OK, ${t}WithECEncryption, no certificate" \
			"COMPLETE OK ${t}WithECEncryption null" \
			"$(jf '.state + " " + .result + " " + .signature.algorithm') $(jf .cert)"
		ms_check "signature $t: valid over the hash" valid \
			"$(python3 "$SIGCHECK" raw "$(q "SELECT encode(certificate, 'base64') FROM mobisign_find_user('$(phone_of user0002)', NULL)" | tr -d '\n')" \
				"$t" "$h" "$(jf .signature.value)")"
	done
}

mid_long_poll() {
	local id t0 t1 ms
	ms_sim_behaviour "$SIMDIR" "user0003 sign 3000" "* sign"
	id=$(mid_session authentication user0003 "$(b64hash sha256 slow)" SHA256)
	t0=$(date +%s%N)
	get "/mid-api/authentication/session/$id?timeoutMs=1000" >/dev/null
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	ms_check "long poll: RUNNING once timeoutMs (1 s) passed" RUNNING "$(jf .state)"
	ms_check_cmd "long poll: it waited about 1 s ($ms ms)" test "$ms" -ge 900 -a "$ms" -lt 2500
	t0=$(date +%s%N)
	get "/mid-api/authentication/session/$id?timeoutMs=30000" >/dev/null
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	ms_check "long poll: COMPLETE OK" "COMPLETE OK" "$(jf '.state + " " + .result')"
	ms_check_cmd "long poll: answered when the SIM answered, not at timeoutMs ($ms ms < 6000)" test "$ms" -lt 6000
	get "/mid-api/authentication/session/$id?timeoutMs=abc" >/dev/null
	ms_check "long poll: timeoutMs not a number: 400" "timeoutMs is invalid" "$(jf .error)"
	ms_sim_behaviour "$SIMDIR" "* sign"
}

mid_result_of() { # mid_result_of USER BEHAVIOUR: the result of one signature session
	local id
	ms_sim_behaviour "$SIMDIR" "$1 $2" "* sign"
	id=$(mid_session signature "$1" "$(b64hash sha256 "$1 $2 $RANDOM")" SHA256) || return 1
	mid_final signature "$id"
	jf .result
}

mid_results() {
	local id
	ms_check "the user declines: USER_CANCELLED" USER_CANCELLED "$(mid_result_of user0004 cancel)"
	ms_check "the SIM signs another hash: SIGNATURE_HASH_MISMATCH" SIGNATURE_HASH_MISMATCH \
		"$(mid_result_of user0005 wrong_content)"
	ms_check "PIN blocked: SIM_ERROR" SIM_ERROR "$(mid_result_of user0006 pin_blocked)"
	ms_check "the SIM refuses the secured packet: SIM_ERROR" SIM_ERROR "$(mid_result_of user0006 por_security_error)"
	ms_sim_file "$SIMDIR" faults "reject 1 0x0B"
	sleep 0.3
	ms_check "the SMSC knows no such subscriber (ESME_RINVDSTADR): PHONE_ABSENT" PHONE_ABSENT \
		"$(mid_result_of user0007 sign)"
	ms_sim_file "$SIMDIR" faults "reject 1 0x45"
	sleep 0.3
	ms_check "the SMSC fails the SMS (ESME_RSUBMITFAIL): DELIVERY_ERROR" DELIVERY_ERROR "$(mid_result_of user0007 sign)"
	ms_sim_file "$SIMDIR" faults
	id=$(post /mid-api/signature "$(mid_body user0001 "$(b64hash sha256 x)" SHA256 | jq -c '.phoneNumber = "+3720000000"')" >/dev/null; jf .sessionID)
	get "/mid-api/signature/session/$id?timeoutMs=1000" >/dev/null
	ms_check "an unknown phone number: COMPLETE NOT_MID_CLIENT" "COMPLETE NOT_MID_CLIENT" "$(jf '.state + " " + .result')"
	ms_sim_behaviour "$SIMDIR" "* sign"
}

mid_timeout() {
	local id gw2
	start_gateway "$GW2PORT" "$WORK/gw2.log" --session-timeout 2
	gw2=$MS_BG_PID
	ms_sim_behaviour "$SIMDIR" "user0008 silent" "* sign"
	post /mid-api/authentication "$(mid_body user0008 "$(b64hash sha256 silent)" SHA256)" "$GW2PORT" >/dev/null
	id=$(jf .sessionID)
	get "/mid-api/authentication/session/$id?timeoutMs=8000" "$GW2PORT" >/dev/null
	ms_check "no answer from the phone within the session's timeout: TIMEOUT" "COMPLETE TIMEOUT" \
		"$(jf '.state + " " + .result')"
	ms_bg_stop "$gw2"
	ms_sim_behaviour "$SIMDIR" "* sign"
}

mid_hostile() {
	local code big n0 n1 id other
	big=$(head -c 20000 /dev/zero | tr '\0' 'a')
	code=$(post /mid-api/certificate "{\"x\":\"$big\"}")
	ms_check "a body over --max-body: 413" "413 Request body too large" "$code $(jf .error)"
	code=$(printf '{"x":"%s"}' "$big" | curl -s -m 20 -o "$RESP" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
		-H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$GWPORT/mid-api/certificate")
	ms_check "the same, chunked (no Content-Length): 413" 413 "$code"
	code=$(post /mid-api/authentication '{"relyingPartyUUID": ')
	ms_check_match "bad JSON: 400, the parser's position, nothing echoed" '^400 the request body is not valid JSON' "$code $(jf .error)"
	code=$(post /mid-api/authentication '[1,2,3]')
	ms_check "a JSON array: 400" "400 the request body must be a JSON object" "$code $(jf .error)"
	code=$(post /mid-api/authentication '{"relyingPartyUUID":"a","relyingPartyUUID":"b"}')
	ms_check_match "duplicate keys: 400" '^400 .*duplicate' "$code $(jf .error)"
	code=$(post /mid-api/authentication "$(mid_body user0001 "$(b64hash sha256 x)" SHA256 "" 00000000-0000-4000-8000-00000000dead)")
	ms_check "an unknown relying party: 401" "401 Failed to authorize user" "$code $(jf .error)"
	n0=$(q "SELECT count(*) FROM mobisign.transaction")
	code=$(post /mid-api/authentication "$(mid_body user0001 "$(b64hash sha256 x)" SHA256 | jq -c '.nationalIdentityNumber = "30001010002"')")
	id=$(jf .sessionID)
	get "/mid-api/authentication/session/$id" >/dev/null
	n1=$(q "SELECT count(*) FROM mobisign.transaction")
	ms_check "a wrong nationalIdentityNumber: NOT_MID_CLIENT, nothing sent to the phone" \
		"200 COMPLETE NOT_MID_CLIENT $n0" "$code $(jf '.state + " " + .result') $n1"
	code=$(post /mid-api/signature "$(mid_body user0001 'not base64!' SHA256)")
	ms_check "a hash that is not base64: 400" "400 Hash must be Base64 encoded" "$code $(jf .error)"
	code=$(post /mid-api/signature "$(mid_body user0001 "$(b64hash sha256 x)" SHA512)")
	ms_check "a hash of the wrong length: 400" "400 The length of the hash must match the type of hash" \
		"$code $(jf .error)"
	code=$(post /mid-api/signature "$(mid_body user0001 "$(b64hash sha256 x)" MD5)")
	ms_check "an unknown hashType: 400" "400 hashType is invalid" "$code $(jf .error)"
	code=$(post /mid-api/signature "$(mid_body user0001 "$(b64hash sha256 x)" SHA256 | jq -c '.language = "XYZ"')")
	ms_check "an unknown language: 400" "400 language is invalid" "$code $(jf .error)"
	code=$(post /mid-api/signature "$(mid_body user0001 "$(b64hash sha256 x)" SHA256 "Sign $(printf '\360\237\230\200')")")
	ms_check_match "a displayText the SIM cannot show (an emoji): 400 with mobisign's reason" '^400 status 103' "$code $(jf .error)"
	code=$(post /mid-api/signature "$(mid_body user0001 "$(b64hash sha256 x)" SHA256 "$(printf 'x%.0s' $(seq 1 201))")")
	ms_check "a displayText over 200 octets: 400" "400 displayText is invalid" "$code $(jf .error)"
	code=$(post /mid-api/signature "$(mid_body user0001 "$(b64hash sha256 x)" SHA256 | jq -c '.phoneNumber = "3725"')")
	ms_check "a phoneNumber without +: 400" 400 "$code"
	code=$(post /mid-api/authentication/session/x '{}')
	ms_check "POST on a session: 405" 405 "$code"
	ms_check "an unknown session: 404" "404 SessionID not found" \
		"$(get /mid-api/signature/session/00000000-0000-4000-8000-000000000009) $(jf .error)"
	ms_check "a malformed session id: 404" 404 "$(get '/mid-api/signature/session/..%2f..%2fetc')"
	ms_check "no session id: 400" "400 Required sessionId is missing" "$(get /mid-api/signature/session/) $(jf .error)"
	id=$(mid_session authentication user0001 "$(b64hash sha256 kind)" SHA256)
	mid_final authentication "$id"
	ms_check "an authentication read as a signature session: 404" 404 "$(get "/mid-api/signature/session/$id")"
	other=$(PGUSER=other_shop q "SELECT transaction_id FROM mobisign_authenticate_hash('user0002', sha256('o'), 'SHA256', application => 'other')")
	ms_check "another application's transaction: 404 (row-level security)" 404 \
		"$(get "/mid-api/authentication/session/$other?timeoutMs=1000")"
	PGUSER=other_shop q "SELECT mobisign_wait('$other', '20 s')" >/dev/null
	ms_check "an unknown path: 404" 404 "$(get /mid-api/../../etc/passwd)"
	ms_check "a path outside both APIs: 404" 404 "$(get /)"
	ms_sim_behaviour "$SIMDIR" "user0001 sign 2000" "* sign"
	id=$(mid_session signature user0001 "$(b64hash sha256 busy)" SHA256)
	code=$(post /mid-api/signature "$(mid_body user0001 "$(b64hash sha256 busy2)" SHA256)")
	ms_check_match "a second session for the same user while one is open: 400" '^400 .*in progress' "$code $(jf .error)"
	ms_check "... without the register's user id (the client named a phone)" 0 "$(jf .error | grep -c user0001)"
	mid_final signature "$id"
	ms_sim_behaviour "$SIMDIR" "* sign"
	ms_check_cmd "the gateway survived all of it" kill -0 "$GW_PID"
}

# ---------------------------------------------------------------------------
# ETSI TS 102 204, REST/JSON
# ---------------------------------------------------------------------------
etsi_req() { # etsi_req NAME JSON-OF-THE-MESSAGE-BODY (AP_Info added): prints the HTTP status
	post /rest/service "$(jq -nc --arg n "$1" --argjson m "$2" --arg u "$RP_UUID" --arg r "$RP_NAME" \
		'{($n): ({MajorVersion: "1", MinorVersion: "1",
		         AP_Info: {AP_ID: $r, AP_PWD: $u, AP_TransID: "T1", Instant: "2026-01-01T00:00:00Z"}} + $m)}')"
}
etsi_sig() { # etsi_sig USER MODE DATA_JSON FORMAT [extra JSON]
	etsi_req MSS_SignatureReq "$(jq -nc --arg p "$(phone_of "$1")" --arg mode "$2" --argjson d "$3" --arg f "$4" \
		--argjson x "${5:-{\}}" \
		'{MobileUser: {MSISDN: $p}, MessagingMode: $mode, DataToBeSigned: $d, MSS_Format: $f} + $x')"
}
PKCS7=http://uri.etsi.org/TS102204/v1.1.2#PKCS7
PKCS1=http://uri.etsi.org/TS102204/v1.1.2#PKCS1

etsi_sync_cms() {
	local code text='Pay 12.50 EUR to ACME Oy'
	code=$(etsi_sig user0009 synch "$(jq -nc --arg t "$text" '{MimeType: "text/plain", Encoding: "UTF-8", Data: $t}')" "$PKCS7" \
		"$(jq -nc --arg t "$text" '{DataToBeDisplayed: {MimeType: "text/plain", Encoding: "UTF-8", Data: $t}}')")
	ms_check "synch text: HTTP 200, Status 502 VALID_SIGNATURE" "200 502 VALID_SIGNATURE" \
		"$code $(jf '.MSS_SignatureResp.Status.StatusCode.Value + " " + .MSS_SignatureResp.Status.StatusMessage')"
	ms_check "synch text: AP_TransID echoed, an MSSP_TransID" "T1 36" \
		"$(jf .MSS_SignatureResp.AP_Info.AP_TransID) $(jf .MSS_SignatureResp.MSSP_TransID | tr -d '\n' | wc -c)"
	jf .MSS_SignatureResp.MSS_Signature.Base64Signature | base64 -d >"$WORK/etsi.p7s"
	printf '%s' "$text" >"$WORK/etsi.txt"
	ms_check_cmd "synch text: openssl cms -verify accepts the CMS over the text with user0009's certificate" \
		openssl cms -verify -binary -inform DER -in "$WORK/etsi.p7s" -content "$WORK/etsi.txt" \
		-certfile "$SIMDIR/users/user0009/cert.pem" -noverify -out /dev/null
}

etsi_async_pkcs1() {
	local code id h
	ms_sim_behaviour "$SIMDIR" "user0010 sign 1500" "* sign"
	h=$(b64hash sha256 "document 10")
	code=$(etsi_sig user0010 asynchClientServer "$(jq -nc --arg h "$h" '{MimeType: "SHA256", Encoding: "base64", Data: $h}')" "$PKCS1" \
		'{"DataToBeDisplayed": {"Data": "Sign document 10"}, "SignatureProfile": "urn:mobisign:profile:sign"}')
	id=$(jf .MSS_SignatureResp.MSSP_TransID)
	ms_check "asynch digest: HTTP 200, Status 100 REQUEST_OK at once" "200 100" \
		"$code $(jf .MSS_SignatureResp.Status.StatusCode.Value)"
	code=$(etsi_req MSS_StatusReq "$(jq -nc --arg i "$id" '{MSSP_TransID: $i}')")
	ms_check "MSS_StatusReq while the user decides: 504 OUTSTANDING_TRANSACTION" "200 504 OUTSTANDING_TRANSACTION" \
		"$code $(jf '.MSS_StatusResp.Status.StatusCode.Value + " " + .MSS_StatusResp.Status.StatusMessage')"
	ms_wait_until 20 test "$(q "SELECT state FROM mobisign.transaction WHERE id = '$id'")" = completed
	code=$(etsi_req MSS_StatusReq "$(jq -nc --arg i "$id" '{MSSP_TransID: $i}')")
	ms_check "MSS_StatusReq after the answer: 502 with the signature" "200 502" \
		"$code $(jf .MSS_StatusResp.Status.StatusCode.Value)"
	code=$(RP_NAME=OTHER RP_UUID=$OTHER_RP_UUID etsi_req MSS_StatusReq "$(jq -nc --arg i "$id" '{MSSP_TransID: $i}')")
	ms_check "MSS_StatusReq of another relying party (same gateway role): Fault _101, no signature" \
		"500 _101 null" "$code $(jf .Fault.Code.SubCode.Value) $(jf .MSS_StatusResp)"
	code=$(etsi_req MSS_StatusReq "$(jq -nc --arg i "$id" '{MSSP_TransID: $i}')")
	ms_check "the PKCS#1 (raw) signature of the digest verifies" valid \
		"$(python3 "$SIGCHECK" raw "$(base64 -w0 "$SIMDIR/users/user0010/cert.der")" SHA256 "$h" \
			"$(jf .MSS_StatusResp.MSS_Signature.Base64Signature)")"
	ms_check "what the phone showed: DataToBeDisplayed" 1 \
		"$(grep -c 'DISPLAY sign-digest.*"Sign document 10"' "$WORK/sim.log")"
	ms_sim_behaviour "$SIMDIR" "* sign"
}

fault_of() { jf '.Fault.Code.SubCode.Value + " " + .Fault.Reason'; }

etsi_profile_faults() {
	local code text='{"MimeType": "text/plain", "Data": "hello"}'
	code=$(etsi_req MSS_ProfileQueryReq "$(jq -nc --arg p "$(phone_of user0011)" '{MobileUser: {MSISDN: $p}}')")
	ms_check "MSS_ProfileQueryReq: the two profiles" "200 urn:mobisign:profile:sign,urn:mobisign:profile:authenticate" \
		"$code $(jf '.MSS_ProfileResp.SignatureProfile | join(",")')"
	code=$(etsi_req MSS_ProfileQueryReq '{"MobileUser": {"MSISDN": "+3580000000"}}')
	ms_check "an unknown MSISDN: Fault _105 UNKNOWN_CLIENT (HTTP 500)" "500 _105 UNKNOWN_CLIENT env:Sender" \
		"$code $(fault_of) $(jf .Fault.Code.Value)"
	code=$(post /rest/service "$(jq -nc --arg p "$(phone_of user0011)" '{MSS_ProfileQueryReq: {AP_Info: {AP_ID: "DEMO", AP_PWD: "00000000-0000-4000-8000-00000000beef", AP_TransID: "T"}, MobileUser: {MSISDN: $p}}}')")
	ms_check "a wrong AP_PWD: Fault _104 UNAUTHORIZED_ACCESS" "500 _104 UNAUTHORIZED_ACCESS" "$code $(fault_of)"
	code=$(etsi_req MSS_SignatureReq "$(jq -nc --argjson d "$text" '{MessagingMode: "synch", DataToBeSigned: $d}')")
	ms_check "no MobileUser: Fault _102 MISSING_PARAM" "500 _102 MISSING_PARAM" "$code $(fault_of)"
	code=$(etsi_sig user0011 synch "$text" "urn:x")
	ms_check "an unknown MSS_Format: Fault _101 WRONG_PARAM" "500 _101 WRONG_PARAM" "$code $(fault_of)"
	code=$(etsi_sig user0011 synch "$text" "$PKCS1")
	ms_check "text in the PKCS#1 format: Fault _107 INAPPROPRIATE_DATA" "500 _107 INAPPROPRIATE_DATA" "$code $(fault_of)"
	code=$(etsi_sig user0011 synch "$text" "$PKCS7" '{"DataToBeDisplayed": {"Data": "something else"}}')
	ms_check "displayed text that is not the signed text: Fault _107" "500 _107" "$code $(jf .Fault.Code.SubCode.Value)"
	code=$(etsi_sig user0011 synch "$text" "$PKCS7" '{"SignatureProfile": "urn:other"}')
	ms_check "an unknown SignatureProfile: Fault _109 UNSUPPORTED_PROFILE" "500 _109 UNSUPPORTED_PROFILE" "$code $(fault_of)"
	code=$(post /rest/service '{"MSS_SignatureReq": {')
	ms_check "bad JSON: Fault _101" "500 _101" "$code $(jf .Fault.Code.SubCode.Value)"
	ms_sim_behaviour "$SIMDIR" "user0011 cancel" "* sign"
	code=$(etsi_sig user0011 synch "$text" "$PKCS7")
	ms_check "synch, the user declines: Fault _401 USER_CANCEL, env:Receiver" "500 _401 USER_CANCEL env:Receiver" \
		"$code $(fault_of) $(jf .Fault.Code.Value)"
	# a reason longer than the gateway keeps (255 bytes), cut inside a
	# two-byte character: a half character made the reply invalid JSON (a
	# bare 500); now the Detail ends on a whole one (127 of 200 'ä')
	ms_psql -q -c "CREATE FUNCTION public.long_reason() RETURNS trigger LANGUAGE plpgsql AS
	               \$\$ BEGIN NEW.reason := repeat('ä', 200); RETURN NEW; END \$\$;
	               CREATE TRIGGER long_reason BEFORE UPDATE ON mobisign.transaction FOR EACH ROW
	               WHEN (NEW.status_code = 401) EXECUTE FUNCTION public.long_reason()" >/dev/null
	code=$(etsi_sig user0011 synch "$text" "$PKCS7")
	ms_check "a reason cut inside a character: still Fault _401, its Detail whole characters" \
		"500 _401 USER_CANCEL 127" "$code $(fault_of) $(jf '.Fault.Detail | length')"
	ms_psql -q -c "DROP TRIGGER long_reason ON mobisign.transaction; DROP FUNCTION public.long_reason()" >/dev/null
	ms_sim_behaviour "$SIMDIR" "* sign"
	ms_check "GET /rest/service: 405" 405 "$(get /rest/service)"
}

receipt_body() { # receipt_body USER MSSP_TRANSID MESSAGE: an MSS_ReceiptReq's body
	jq -nc --arg p "$(phone_of "$1")" --arg i "$2" --arg m "$3" \
		'{MobileUser: {MSISDN: $p}, MSSP_TransID: $i, TimeOut: "20",
		  Message: {MimeType: "text/plain", Encoding: "UTF-8", Data: $m}}'
}
receipts_of() { q "SELECT count(*) FROM mobisign.transaction WHERE kind = 'receipt'"; }

etsi_receipt() {
	local code sig other open n msg='Payment of 30 EUR accepted'
	code=$(etsi_sig user0013 synch '{"Data": "Pay 30 EUR to ACME Oy"}' "$PKCS7")
	sig=$(jf .MSS_SignatureResp.MSSP_TransID)
	ms_check "receipt: the signature first (502)" "200 502" "$code $(jf .MSS_SignatureResp.Status.StatusCode.Value)"
	code=$(etsi_req MSS_ReceiptReq "$(receipt_body user0013 "$sig" "$msg")")
	ms_check "MSS_ReceiptReq: HTTP 200, Status 100 REQUEST_OK once the phone acknowledged" \
		"200 100 REQUEST_OK T1 $sig" \
		"$code $(jf '.MSS_ReceiptResp.Status.StatusCode.Value + " " + .MSS_ReceiptResp.Status.StatusMessage + " " + .MSS_ReceiptResp.AP_Info.AP_TransID + " " + .MSS_ReceiptResp.MSSP_TransID')"
	ms_check "the phone showed the receipt with the signature's code (DISPLAY receipt)" 1 \
		"$(grep -c "DISPLAY receipt ref .* code $(q "SELECT verification_code FROM mobisign.transaction WHERE id = '$sig'") .*\"$msg\" -> sign" "$WORK/sim.log")"
	ms_check "the receipt: completed 100, to the signature's MSISDN, as the relying party, no signature" \
		"receipt|completed|100|t|$RP_NAME|t" \
		"$(q "SELECT r.kind, r.state, r.status_code, r.msisdn = s.msisdn, r.application, r.signature IS NULL
		        FROM mobisign.transaction r JOIN mobisign.transaction s ON s.reference = r.data
		       WHERE s.id = '$sig' AND r.kind = 'receipt'")"
	ms_check_match "audited: queued, the SIM's answer accepted (shown), completed" \
		'transaction.queued .*sim.answer:shown transaction.completed' \
		"$(q "SELECT string_agg(a.operation || coalesce(':' || (a.detail->>'result'), ''), ' ' ORDER BY a.id)
		        FROM mobisign.audit a JOIN mobisign.transaction r ON r.id = a.transaction_id
		       WHERE r.kind = 'receipt'")"
	ms_sim_behaviour "$SIMDIR" "user0013 cancel" "* sign"
	code=$(etsi_req MSS_ReceiptReq "$(receipt_body user0013 "$sig" "Thanks")")
	ms_check "the user dismisses the receipt: Fault _401 USER_CANCEL" "500 _401 USER_CANCEL" "$code $(fault_of)"
	ms_sim_behaviour "$SIMDIR" "* sign"
	n=$(receipts_of)

	code=$(etsi_req MSS_ReceiptReq "$(receipt_body user0013 00000000-0000-4000-8000-000000000001 "$msg")")
	ms_check_match "an unknown MSSP_TransID: Fault _101 WRONG_PARAM" '^500 _101 WRONG_PARAM .*does not exist' \
		"$code $(fault_of) $(jf .Fault.Detail)"
	code=$(post /rest/service "$(jq -nc --argjson m "$(receipt_body user0013 "$sig" "$msg")" --arg u "$OTHER_RP_UUID" \
		'{MSS_ReceiptReq: ({AP_Info: {AP_ID: "OTHER", AP_PWD: $u, AP_TransID: "T2"}} + $m)}')")
	ms_check_match "another relying party's signature (same gateway): Fault _101, as if unknown" \
		'^500 _101 WRONG_PARAM .*does not exist' "$code $(fault_of) $(jf .Fault.Detail)"
	other=$(PGUSER=other_shop q "SELECT transaction_id FROM mobisign_sign('user0014', 'Other shop', '$RP_NAME')")
	PGUSER=other_shop q "SELECT mobisign_wait('$other', '20 s')" >/dev/null
	code=$(etsi_req MSS_ReceiptReq "$(receipt_body user0014 "$other" "$msg")")
	ms_check_match "another role's completed signature: Fault _101 (row-level security)" \
		'^500 _101 WRONG_PARAM .*does not exist' "$code $(fault_of) $(jf .Fault.Detail)"
	ms_sim_behaviour "$SIMDIR" "user0014 silent" "* sign"
	code=$(etsi_sig user0014 asynchClientServer '{"Data": "Pay later"}' "$PKCS7")
	open=$(jf .MSS_SignatureResp.MSSP_TransID)
	code=$(etsi_req MSS_ReceiptReq "$(receipt_body user0014 "$open" "$msg")")
	ms_check_match "a signature not completed yet: Fault _101" '^500 _101 .*not completed' \
		"$code $(fault_of) $(jf .Fault.Detail)"
	q "SELECT mobisign_cancel('$open')" >/dev/null
	ms_sim_behaviour "$SIMDIR" "* sign"
	code=$(etsi_req MSS_ReceiptReq "$(receipt_body user0013 "$sig" "$(printf 'x%.0s' $(seq 161))")")
	ms_check_match "a message too long for the SIM's screen (161 septets): Fault _103 WRONG_DATA_LENGTH" \
		'^500 _103 WRONG_DATA_LENGTH' "$code $(fault_of)"
	code=$(etsi_req MSS_ReceiptReq "$(receipt_body user0013 "$sig" "$(printf 'x%.0s' $(seq 201))")")
	ms_check "a message longer than the gateway reads: Fault _103" "500 _103 WRONG_DATA_LENGTH" "$code $(fault_of)"
	code=$(etsi_req MSS_ReceiptReq "$(jq -nc --arg p "$(phone_of user0013)" --arg i "$sig" '{MobileUser: {MSISDN: $p}, MSSP_TransID: $i}')")
	ms_check "no Message: Fault _102 MISSING_PARAM" "500 _102 MISSING_PARAM" "$code $(fault_of)"
	code=$(etsi_req MSS_ReceiptReq "$(receipt_body user0013 not-a-uuid "$msg")")
	ms_check "an MSSP_TransID that is no UUID: Fault _101" "500 _101 WRONG_PARAM" "$code $(fault_of)"
	ms_check "no refused receipt was stored or sent" "$n" "$(receipts_of)"
}

# the interactive phone (behaviour ask, docs/simulator.md) shows a receipt
# and a person acknowledges it with "ok": the synch MSS_ReceiptReq is
# answered then, not before
etsi_receipt_phone() {
	local code sig ref m phone
	phone=$SIMDIR/phone/$(phone_of user0015 | tr -d +)
	code=$(etsi_sig user0015 synch '{"Data": "Pay 40 EUR to ACME Oy"}' "$PKCS7")
	sig=$(jf .MSS_SignatureResp.MSSP_TransID)
	ms_check "receipt on the phone: the signature first (502)" "200 502" "$code $(jf .MSS_SignatureResp.Status.StatusCode.Value)"
	ms_sim_behaviour "$SIMDIR" "user0015 ask" "* sign"
	m='Payment of 40 EUR accepted'
	post /rest/service "$(jq -nc --argjson b "$(receipt_body user0015 "$sig" "$m")" --arg u "$RP_UUID" --arg r "$RP_NAME" \
		'{MSS_ReceiptReq: ({AP_Info: {AP_ID: $r, AP_PWD: $u, AP_TransID: "T3"}} + $b)}')" >"$WORK/receipt_phone.code" &
	local curl_pid=$!
	ms_wait_until 15 test "$(jq -r '.state + " " + .operation' "$phone.json" 2>/dev/null)" = "pending receipt"
	ms_check "the phone shows the receipt: operation receipt, the message, pending" "pending receipt $m" \
		"$(jq -r '.state + " " + .operation + " " + .text' "$phone.json")"
	ms_check_cmd "the synch request is still waiting for the person" kill -0 "$curl_pid"
	ref=$(jq -r .reference "$phone.json")
	printf '%s sign 1234\n' "$ref" >"$SIMDIR/phone/.d" && mv "$SIMDIR/phone/.d" "$phone.decision"
	sleep 0.5
	ms_check "a PIN for a receipt is ignored: still pending" pending "$(jq -r .state "$phone.json")"
	printf '%s ok\n' "$ref" >"$SIMDIR/phone/.d" && mv "$SIMDIR/phone/.d" "$phone.decision"
	wait "$curl_pid"
	ms_check "the person pressed ok: MSS_ReceiptResp 100 REQUEST_OK" "200 100" \
		"$(cat "$WORK/receipt_phone.code") $(jf .MSS_ReceiptResp.Status.StatusCode.Value)"
	ms_check "the phone's outcome: acknowledged" "done acknowledged" "$(jq -r '.state + " " + .outcome' "$phone.json")"
	ms_sim_behaviour "$SIMDIR" "* sign"
}

# ---------------------------------------------------------------------------
# the process
# ---------------------------------------------------------------------------
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# N requests on one curl (keep-alive), each a bad body: prints nothing
flood_bad() { # flood_bad N PORT
	local i
	for i in $(seq 1 "$1"); do
		printf 'url = "http://127.0.0.1:%s/mid-api/authentication"\n-o /dev/null\n' "$2"
	done | curl -s -m 60 -H 'Content-Type: application/json' --data-binary '{"relyingPartyUUID": [[[1]]]}' -K - 
}

hostile_http() {
	local code id big deep r0 r1 r2 pids i t0 ms quick rc gw2 h
	h=$(b64hash sha256 "hostile 16")
	id=$(mid_session authentication user0016 "$h" SHA256)
	mid_final authentication "$id"
	ms_check "a completed session" "COMPLETE OK" "$(jf '.state + " " + .result')"
	ms_check "its id with %00 and more after it: 404, not the session" 404 \
		"$(get "/mid-api/authentication/session/$id%00x")"
	ms_check "its id with %2500: 404" 404 "$(get "/mid-api/authentication/session/$id%2500")"
	ms_check "/rest/service%00x: 404" 404 "$(curl -s -m 10 -o "$RESP" -w '%{http_code}' --data-binary '{}' \
		"http://127.0.0.1:$GWPORT/rest/service%00x")"
	ms_check "the path, percent-encoded: still the session" 200 \
		"$(get "/mid-api/%61uthentication/session/$id")"
	ms_check "a 300-character session id: 404" 404 "$(get "/mid-api/authentication/session/$(printf 'a%.0s' $(seq 1 300))")"
	ms_check "the id in upper case: 404 (ours are lower case)" 404 "$(get "/mid-api/authentication/session/${id^^}")"
	ms_check "timeoutMs far out of range: raised or lowered, answered" "200 COMPLETE" \
		"$(get "/mid-api/authentication/session/$id?timeoutMs=99999999999999999999999") $(jf .state)"
	ms_check "timeoutMs negative: 400" 400 "$(get "/mid-api/authentication/session/$id?timeoutMs=-1")"
	ms_check "timeoutMs 1e3: 400" 400 "$(get "/mid-api/authentication/session/$id?timeoutMs=1e3")"
	big=$(head -c 100000 /dev/zero | tr '\0' 'h')
	code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://127.0.0.1:$GWPORT/mid-api/certificate")
	ms_check_match "a 100 kB header: refused (4xx, or the connection closed)" '^(4[0-9][0-9]|000)$' "$code"
	deep="{\"a\":$(printf '[%.0s' $(seq 1 5000))$(printf ']%.0s' $(seq 1 5000))}"
	ms_check_match "JSON nested 5000 deep: 400" '^400 the request body is not valid JSON' \
		"$(post /mid-api/certificate "$deep") $(jf .error)"
	code=$(post /mid-api/certificate "$(mid_body user0016 "$h" SHA256 | jq -c '.relyingPartyName = "DE\u0000MO"')")
	ms_check_match "a NUL inside a string: 400" '^400 the request body is not valid JSON' "$code $(jf .error)"
	ms_check "... and the error does not echo the body" 0 "$(jf .error | grep -c 'DE')"
	code=$(post /mid-api/certificate "$(printf '{"relyingPartyName": "D\377\376MO"}')")
	ms_check_match "invalid UTF-8: 400" '^400 the request body is not valid JSON' "$code $(jf .error)"
	code=$(post /rest/service "$(printf '{"MSS_StatusReq": "\377\376"}')")
	ms_check "invalid UTF-8 to ETSI: a Fault _101 (the error text is valid JSON)" "500 _101" \
		"$code $(jf .Fault.Code.SubCode.Value)"
	code=$(post /mid-api/certificate '{"relyingPartyUUID": 1e99999, "x": 123456789012345678901234567890}')
	ms_check "numbers out of range: 400" 400 "$code"
	code=$(post /mid-api/certificate "$(mid_body user0016 "$h" SHA256 | jq -c '.relyingPartyUUID = "not-a-uuid"')")
	ms_check "a relyingPartyUUID that is no UUID: 401 (no SQL error)" "401 Failed to authorize user" "$code $(jf .error)"
	code=$(post /mid-api/certificate "$(mid_body user0016 "$h" SHA256 | jq -c '.relyingPartyUUID |= ascii_upcase')")
	ms_check "the relying party's UUID in upper case: 200 OK" "200 OK" "$code $(jf .result)"
	code=$(post /mid-api/certificate "$(mid_body user0016 "$h" SHA256 | jq -c ".relyingPartyName = \"x'); DROP TABLE mobisign.transaction; --\"")")
	ms_check "quotes in a value reach SQL as a parameter: 401, the table is there" "401 t" \
		"$code $(q "SELECT to_regclass('mobisign.transaction') IS NOT NULL")"
	ms_check "no SQL error logged for any of it" 0 "$(grep -c 'SQLSTATE 22' "$WORK/gw.log")"
	flood_bad 300 "$GWPORT"
	r0=$(rss_kb "$GW_PID")
	flood_bad 1000 "$GWPORT"
	r1=$(rss_kb "$GW_PID")
	flood_bad 1000 "$GWPORT"
	r2=$(rss_kb "$GW_PID")
	echo "# RSS after 300, 1300, 2300 bad requests: $r0 $r1 $r2 kB"
	ms_check_cmd "memory bounded: the second 1000 requests grow RSS by under 512 kB" test $((r2 - r1)) -lt 512
	ms_check_cmd "the gateway survived it" kill -0 "$GW_PID"

	# a flood of long polls on a gateway of 8 connections (4 may wait)
	start_gateway "$GW2PORT" "$WORK/gw2.log" --max-clients 8 --max-poll-ms 20000 --session-timeout 60
	gw2=$MS_BG_PID
	ms_sim_behaviour "$SIMDIR" "user0016 silent" "* sign"
	id=$(curl -s -m 10 -H 'Content-Type: application/json' --data-binary "$(mid_body user0016 "$(b64hash sha256 flood)" SHA256)" \
		"http://127.0.0.1:$GW2PORT/mid-api/authentication" | jq -r .sessionID)
	ms_check_match "an open session on the small gateway" '^[0-9a-f-]{36}$' "$id"
	pids=()
	for i in $(seq 1 8); do
		curl -s -m 30 -o "$WORK/flood.$i" -w '%{http_code} %{time_total}\n' \
			"http://127.0.0.1:$GW2PORT/mid-api/authentication/session/$id?timeoutMs=20000" >"$WORK/flood.$i.code" &
		pids+=($!)
	done
	sleep 2
	t0=$(date +%s%N)
	code=$(post /mid-api/certificate "$(mid_body user0001 "$h" SHA256)" "$GW2PORT")
	ms=$((($(date +%s%N) - t0) / 1000000))
	ms_check "8 long polls on 8 connections: POST certificate on the same gateway still answers" "200 OK" \
		"$code $(jf .result)"
	ms_check_cmd "... at once ($ms ms; the listener takes no connection while 8 are open)" test "$ms" -lt 3000
	quick=$(cat "$WORK"/flood.*.code 2>/dev/null | awk '$1 == 200 && $2 < 2 {n++} END {print n + 0}')
	ms_check "the long polls over --max-waiters (4) answered at once, RUNNING" "4 4" \
		"$quick $(grep -l '"RUNNING"' "$WORK"/flood.? | wc -l)"
	ms_check "... and the others are still waiting" 4 \
		"$(for i in $(seq 1 8); do [ -s "$WORK/flood.$i.code" ] || echo w; done | grep -c w)"
	t0=$(date +%s%N)
	PGUSER=gw_shop q "SELECT mobisign_cancel('$id')" >/dev/null
	for i in "${pids[@]}"; do wait "$i"; done
	ms=$((($(date +%s%N) - t0) / 1000000))
	ms_check_cmd "the waiting ones are woken by LISTEN when it ends ($ms ms)" test "$ms" -lt 3000
	ms_check "... COMPLETE" 4 "$(grep -l '"COMPLETE"' "$WORK"/flood.? | wc -l)"
	# SIGTERM with the gateway full of waiting long polls and idle connections
	id=$(curl -s -m 10 -H 'Content-Type: application/json' --data-binary "$(mid_body user0016 "$(b64hash sha256 flood2)" SHA256)" \
		"http://127.0.0.1:$GW2PORT/mid-api/authentication" | jq -r .sessionID)
	pids=()
	for i in $(seq 1 8); do
		curl -s -m 30 -o /dev/null "http://127.0.0.1:$GW2PORT/mid-api/authentication/session/$id?timeoutMs=20000" &
		pids+=($!)
	done
	sleep 1
	t0=$(date +%s%N)
	kill -TERM "$gw2"
	ms_wait_until 10 ms_gone "$gw2"
	wait "$gw2" 2>/dev/null
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	for i in "${pids[@]}"; do wait "$i"; done
	ms_check "SIGTERM under the flood: exit 0" 0 "$rc"
	ms_check_cmd "... within 6 s ($ms ms)" test "$ms" -lt 6000
	PGUSER=gw_shop q "SELECT mobisign_cancel('$id')" >/dev/null
	ms_sim_behaviour "$SIMDIR" "* sign"
}

log_hygiene() {
	local lines
	lines=$(grep -c ' /mid-api/\| /rest/service' "$WORK/gw.log")
	ms_check_ge "one log line per request" 30 "$lines"
	ms_check "no relying party UUID in the log" 0 "$(grep -c "$RP_UUID" "$WORK/gw.log")"
	ms_check "no UUID at all in the log (session ids in paths are {id})" 0 \
		"$(grep -cE '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}' "$WORK/gw.log")"
	ms_check_grep "a session read: its path with {id}" 'GET /mid-api/authentication/session/\{id\} 200' "$WORK/gw.log"
	ms_check "no password in the log" 0 "$(grep -c 'gw-secret-pw' "$WORK/gw.log")"
	ms_check "no hash in the log" 0 "$(grep -c "$(b64hash sha256 "login nonce 1")" "$WORK/gw.log")"
	ms_check_grep "a request line: method, path, status, milliseconds" \
		'POST /mid-api/authentication 200 [0-9]+ ms$' "$WORK/gw.log"
}

options() {
	local out rc
	out=$("$GW_BIN" --help)
	rc=$?
	ms_check "--help exits 0" 0 "$rc"
	ms_check_match "--help names every option" '--listen.*--conninfo.*--pool.*--max-clients.*--max-body.*--request-timeout.*--min-poll-ms.*--max-poll-ms.*--session-timeout' \
		"$(echo "$out" | tr '\n' ' ')"
	"$GW_BIN" --listen 127.0.0.1:1 --conninfo x --pool 0 >/dev/null 2>&1
	ms_check "--pool 0: exit 2" 2 "$?"
	"$GW_BIN" --listen localhost:80 --conninfo x >/dev/null 2>&1
	ms_check "--listen without an IPv4 address: exit 2" 2 "$?"
	"$GW_BIN" --conninfo x >/dev/null 2>&1
	ms_check "no --listen: exit 2" 2 "$?"
	out=$("$GW_BIN" --listen "127.0.0.1:$GW2PORT" --conninfo "host=127.0.0.1 port=1 user=u password=do-not-log-me connect_timeout=2" 2>&1)
	rc=$?
	ms_check "an unreachable database: exit 1" 1 "$rc"
	ms_check "... and its password is not in the message" 0 "$(echo "$out" | grep -c do-not-log-me)"
}

clean_stop() {
	local id t0 ms rc
	ms_sim_behaviour "$SIMDIR" "user0012 silent" "* sign"
	id=$(mid_session authentication user0012 "$(b64hash sha256 stop)" SHA256)
	curl -s -m 40 -o "$WORK/stop.resp" "http://127.0.0.1:$GWPORT/mid-api/authentication/session/$id?timeoutMs=30000" &
	local curl_pid=$!
	sleep 1
	t0=$(date +%s%N)
	kill -TERM "$GW_PID"
	wait "$curl_pid"
	ms=$((($(date +%s%N) - t0) / 1000000))
	ms_check "SIGTERM: the waiting long poll is answered at once, RUNNING" RUNNING "$(jq -r .state "$WORK/stop.resp")"
	ms_check_cmd "SIGTERM: within 3 s ($ms ms)" test "$ms" -lt 3000
	ms_wait_until 10 ms_gone "$GW_PID"
	wait "$GW_PID" 2>/dev/null
	rc=$?
	ms_check "SIGTERM: the gateway exits 0" 0 "$rc"
	ms_check_grep "SIGTERM: it logged its stop" 'mobisign-gateway: stopped$' "$WORK/gw.log"
	MS_BG_PIDS=("${MS_BG_PIDS[@]/$GW_PID/}")
	ms_sim_behaviour "$SIMDIR" "* sign"
	start_gateway "$GWPORT" "$WORK/gw-after.log"
	GW_PID=$MS_BG_PID
}

# ---------------------------------------------------------------------------
# a short load run: one flow = start an authentication of a digest, wait
# for its end; through the gateway (curl, long poll) and in SQL (psql,
# mobisign_wait); LOAD_PAR users (user0017...) at a time, LOAD_FLOWS flows in all
# ---------------------------------------------------------------------------
flow_gateway() { # flow_gateway USER ROUND: prints the milliseconds (one curl per HTTP call, nothing else)
	local t0 id r
	t0=$(date +%s%N)
	r=$(curl -s -m 30 -H 'Content-Type: application/json' --data-binary "@$WORK/load/$1.json" \
		"http://127.0.0.1:$GWPORT/mid-api/authentication")
	id=${r#*\"sessionID\":\"}
	id=${id%%\"*}
	for _ in 1 2 3; do
		r=$(curl -s -m 30 "http://127.0.0.1:$GWPORT/mid-api/authentication/session/$id?timeoutMs=20000")
		[[ $r == *'"result":"OK"'* ]] && break
	done
	echo $((($(date +%s%N) - t0) / 1000000))
}
flow_sql() { # the same in SQL: one psql per statement
	local t0 id
	t0=$(date +%s%N)
	id=$(PGUSER=gw_shop q "SELECT transaction_id FROM mobisign_authenticate_hash('$1', sha256('load $2'), 'SHA256', application => 'DEMO')")
	PGUSER=gw_shop q "SELECT status_code FROM mobisign_wait('$id', '20 s')" >/dev/null
	echo $((($(date +%s%N) - t0) / 1000000))
}
run_flows() { # run_flows FUNCTION OUT: prints "flows/s p99_ms"
	local fn=$1 out=$2 t0 t1 per=$((LOAD_FLOWS / LOAD_PAR))
	t0=$(date +%s%N)
	for u in $(seq 17 $((16 + LOAD_PAR))); do
		(for r in $(seq 1 "$per"); do "$fn" "$(printf 'user%04d' "$u")" "$r"; done) &
	done >"$out"
	wait
	t1=$(date +%s%N)
	sort -n "$out" | awk -v ms=$(((t1 - t0) / 1000000)) '{a[NR] = $1} END {i = int(NR * 0.99 + 0.999); if (i > NR) i = NR;
		printf "%.2f %d\n", NR * 1000 / ms, a[i]}'
}
load() {
	local g s u
	mkdir -p "$WORK/load"
	for u in $(seq 17 $((16 + LOAD_PAR))); do
		u=$(printf 'user%04d' "$u")
		mid_body "$u" "$(b64hash sha256 "load $u")" SHA256 >"$WORK/load/$u.json"
	done
	s=$(run_flows flow_sql "$WORK/load/sql.ms")
	g=$(run_flows flow_gateway "$WORK/load/gw.ms")
	ms_check "load: every flow through the gateway completed" "$LOAD_FLOWS" "$(grep -c . "$WORK/load/gw.ms")"
	echo "# load: $LOAD_FLOWS authentication flows, $LOAD_PAR at a time: gateway ${g% *} flows/s p99 ${g#* } ms; SQL ${s% *} flows/s p99 ${s#* } ms"
	awk -v g="${g% *}" -v s="${s% *}" 'BEGIN {r = g / s; printf "RESULT gateway_flows_per_s value=%s flows/s reference=%s ratio=%.2f target=0.5 %s\n", g, s, r, (r >= 0.5 ? "pass" : "short")}'
	awk -v g="${g#* }" -v s="${s#* }" 'BEGIN {r = g / s; printf "RESULT gateway_flow_p99_ms value=%s ms reference=%s ratio=%.2f target=2.0 %s\n", g, s, r, r <= 2.0 ? "pass" : "short"}'
}

for s in mid_certificate mid_authentication mid_signature mid_long_poll mid_results mid_timeout mid_hostile \
	etsi_sync_cms etsi_async_pkcs1 etsi_profile_faults etsi_receipt etsi_receipt_phone hostile_http log_hygiene options clean_stop load; do
	ms_scenario "$s" "$s"
done
ms_summary
