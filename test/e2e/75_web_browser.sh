#!/usr/bin/env bash
# The web-user scenario, live in a real browser: Debian's headless Chromium,
# driven by puppeteer-core (npm, test/e2e/browser; the system browser, no
# download), uses the demo web service (demo/web, as the application role
# web_app granted mobisign_app) and the simulator's phone page (SIMs with
# behaviour ask: a person decides). The browser's checks are made in
# test/e2e/browser/browser.js and reported here per scenario, with what the
# database recorded.
#
# Scenarios (each a function below, run by ms_scenario):
#   login      an unknown user refused; the code on the page is the code on
#              the phone; the PIN entered on the phone logs the user in, the
#              page updating itself (event stream fed by LISTEN/NOTIFY, no
#              polling); the database has the authentication, 502, as web_app
#   signature  a payment text (with markup) signed on the phone: signer,
#              status and time on the page, valid again by mobisign_verify;
#              the database has 502 with the
#              signer and the text exactly as typed
#   decline    a wrong PIN, then decline on the phone: USER_CANCEL (401)
#   timeout    nobody answers: EXPIRED_TRANSACTION (208) on the page, "timed
#              out" on the phone (transactions time out after 5 s here)
#   secrets    the PIN is in no log (web service, simulator, server)
#   hostile_web an outsider with curl and sockets: another Host (DNS
#              rebinding) 421, a POST from another site (Origin,
#              Sec-Fetch-Site) 403, a form's text/plain body 415, path
#              traversal in static paths 404, a forged cookie replaced
#              (HttpOnly, SameSite=Strict), another browser's transaction
#              404, security headers on every answer, a flood of event
#              streams bounded (503), the service still serving
#
#   bash test/e2e/75_web_browser.sh       (after make install; node, npm, chromium)
#
# Screenshots: SCREENSHOTS (default test/artifacts/web-browser/ in the
# repository), NN-name.png (those of an earlier run are removed first),
# listed at the end. Ports: free ones. KEEP=1
# keeps the work directory.
set -uo pipefail

. "$(dirname "$0")/lib/e2e.sh"

DB=msweb
TIMEOUT=5
PIN=97531864
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SHOTS=${SCREENSHOTS:-$MOBISIGN_ROOT/test/artifacts/web-browser}

command -v node >/dev/null && command -v npm >/dev/null ||
	ms_e2e_die "node and npm are needed (test/deps.sh installs them)"
[ -x "$CHROMIUM" ] || ms_e2e_die "$CHROMIUM is needed (test/deps.sh installs Debian's chromium)"
ms_e2e_init
ms_e2e_ports PGPORT_T SIM_PORT WEB_PORT
SIMDIR=$WORK/sim

e2e_on_failure() {
	echo "# transactions:"
	q "SELECT kind, user_id, state, status_code, app_role FROM mobisign.transaction ORDER BY created_at" | sed 's/^/#   /'
	echo "# web service log tail:"
	tail -n 20 "$WORK/web.log" 2>/dev/null | sed 's/^/#   /'
	echo "# simulator log tail:"
	grep -v 'enquire_link' "$WORK/sim.log" 2>/dev/null | tail -n 20 | sed 's/^/#   /'
	echo "# browser output:"
	sed 's/^/#   /' "$WORK/browser.out" 2>/dev/null | tail -n 20
}

# ---------------------------------------------------------------------------
# set-up: the web service and the browser driver (npm ci), the cluster, the
# simulator with SIMs that ask, the web service as web_app
# ---------------------------------------------------------------------------
bash "$MOBISIGN_ROOT/demo/web/install.sh" "$WORK/web" || ms_e2e_die "demo/web/install.sh (npm ci of pg)"
mkdir -p "$WORK/browser"
cp "$MOBISIGN_ROOT/test/e2e/browser/"{package.json,package-lock.json,browser.js} "$WORK/browser/"
echo "# npm ci (puppeteer-core) in $WORK/browser"
(cd "$WORK/browser" && PUPPETEER_SKIP_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund --loglevel=error \
	>"$WORK/npm.log" 2>&1) || {
	sed 's/^/#   /' "$WORK/npm.log"
	ms_e2e_die "npm ci (puppeteer-core)"
}
echo "# puppeteer-core $(node -p 'require(process.argv[1] + "/node_modules/puppeteer-core/package.json").version' "$WORK/browser"), $("$CHROMIUM" --version 2>/dev/null)"

ms_sim_provision "$SIMDIR" "$SIM_PORT" 3 --pin "$PIN"
ms_e2e_cluster "$WORK/pg" "$PGPORT_T" "$DB" "mobisign.worker_housekeeping_interval = '500ms'"
ms_sim_register "$SIMDIR"
q "CREATE ROLE web_app LOGIN; GRANT mobisign_app TO web_app" >/dev/null
ms_sim_file "$SIMDIR" behaviour "* ask"
ms_sim_start "$SIMDIR" "$SIM_PORT" "$WORK/sim.log"
ms_check_bound "the worker bound to the simulator"
PGHOST=$WORK/pg PGPORT=$PGPORT_T PGUSER=web_app PGDATABASE=$DB \
	ms_bg node "$WORK/web/server.js" --listen "127.0.0.1:$WEB_PORT" --phone-dir "$SIMDIR/phone" \
	--timeout "$TIMEOUT" --host tunnel.test:9000 >"$WORK/web.log" 2>&1
ms_wait_until 15 grep -q 'listening on http' "$WORK/web.log" || ms_e2e_die "the web service did not start"

# the browser plays every scenario asked for, in one session (the later ones
# need the login); each scenario below reports its lines of the results
wanted=()
for s in login signature decline timeout; do
	ms_wanted "$s" && wanted+=("$s")
done
# the logs that secrets reads need a PIN typed on the phone: the login at least
[ ${#wanted[@]} -eq 0 ] && ms_wanted secrets && wanted=(login)
mkdir -p "$SHOTS" && rm -f "$SHOTS"/[0-9][0-9]-*.png
: >"$WORK/results"
if [ ${#wanted[@]} -gt 0 ]; then
	timeout 240 node "$WORK/browser/browser.js" --url "http://127.0.0.1:$WEB_PORT" --shots "$SHOTS" \
		--results "$WORK/results" --pin "$PIN" --user user0001 --timeout "$TIMEOUT" \
		--chromium "$CHROMIUM" "${wanted[@]}" >"$WORK/browser.out" 2>&1
	echo "# browser exit $?"
	grep '^# ' "$WORK/browser.out" | grep -v screenshot
fi

report() { # the browser's checks of this scenario
	local s ok what n=0
	while IFS=$'\t' read -r s ok what; do
		[ "$s" = "$MS_SCENARIO" ] || continue
		n=$((n + 1))
		if [ "$ok" = ok ]; then ms_ok "$what"; else ms_not_ok "$what"; fi
	done <"$WORK/results"
	[ "$n" -gt 0 ] || ms_not_ok "the browser reported no check"
}
signs() { # STATUS: "N signer app_role" of the signatures that ended with STATUS
	q "SELECT count(*) || ' ' || coalesce(min(signer_subject), '-') || ' ' || coalesce(min(app_role::text), '-')
	     FROM mobisign.transaction WHERE kind = 'sign' AND status_code = $1"
}

# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
login() {
	report
	ms_check_match "the database: one authentication, 502, by user0001, as web_app" '^1 502 .*CN ?= ?user0001.* web_app$' \
		"$(q "SELECT count(*) || ' ' || min(status_code) || ' ' || min(signer_subject) || ' ' || min(app_role::text)
		       FROM mobisign.transaction WHERE kind = 'authenticate'")"
	ms_check "the unknown user left no transaction" 0 \
		"$(q "SELECT count(*) FROM mobisign.transaction WHERE user_id LIKE 'nobody%'")"
}

signature() {
	report
	ms_check_match "the database: one signature ended 502, signed by user0001, as web_app" '^1 .*CN ?= ?user0001.* web_app$' "$(signs 502)"
	ms_check "the database: the data signed is the text as typed" 'Pay 42.50 EUR to ACME Oy <b>now</b> & "thanks"' \
		"$(q "SELECT convert_from(data, 'UTF8') FROM mobisign.transaction WHERE status_code = 502 AND kind = 'sign'
		       ORDER BY created_at DESC LIMIT 1")"
}

decline() {
	report
	ms_check "the database: one signature ended 401 (user cancel), no signer" '1 - web_app' "$(signs 401)"
}

timeout_() {
	report
	ms_check "the database: one signature expired (208), no signer" '1 - web_app' "$(signs 208)"
	ms_check_grep "the simulator: the prompt timed out" 'phone: ref [0-9a-f]+ timed_out' "$WORK/sim.log"
}

secrets() {
	local f
	for f in "$WORK/web.log" "$WORK/sim.log" "$WORK/pg/log"; do
		if grep -qw -e "$PIN" -e "sign 0000" "$f"; then
			ms_not_ok "the PIN appears in ${f##*/}"
		else
			ms_ok "the PIN is not in ${f##*/}"
		fi
	done
	ms_check_cmd "negative control: the same search finds the PIN where it is provisioned" \
		grep -qw -e "$PIN" "$SIMDIR/users/user0001/pin"
	ms_check_grep "the web service logged its requests" 'POST /api/phone/decision 202' "$WORK/web.log"
}

hostile_web() {
	local base="http://127.0.0.1:$WEB_PORT" code h
	hw_curl() { curl -s -m 5 -o "$WORK/hw.body" -D "$WORK/hw.head" -w '%{http_code}' "$@"; }
	ms_check "another Host (a DNS-rebinding page): 421" 421 "$(hw_curl -H 'Host: evil.example' "$base/api/phone/events")"
	ms_check "another Host with our port: 421" 421 "$(hw_curl -H "Host: evil.example:$WEB_PORT" "$base/")"
	ms_check "localhost with our port: 200" 200 "$(hw_curl -H "Host: localhost:$WEB_PORT" "$base/")"
	ms_check "LOCALHOST with our port: 200 (names in any case)" 200 "$(hw_curl -H "Host: LOCALHOST:$WEB_PORT" "$base/")"
	ms_check "the name given by --host (a tunnel): 200" 200 "$(hw_curl -H 'Host: tunnel.test:9000' "$base/")"
	ms_check "a decision POSTed from another site (Origin): 403" 403 \
		"$(hw_curl -H 'Origin: http://evil.example' -H 'Content-Type: application/json' \
			--data-binary '{"msisdn":"1","reference":"0123456789abcdef","decision":"decline"}' "$base/api/phone/decision")"
	ms_check "a login POSTed cross-site (Sec-Fetch-Site): 403" 403 \
		"$(hw_curl -H 'Sec-Fetch-Site: cross-site' -H 'Content-Type: application/json' --data-binary '{"user":"user0001"}' "$base/api/login")"
	ms_check "a form's text/plain body (no preflight): 415" 415 \
		"$(hw_curl -H 'Content-Type: text/plain' --data-binary '{"user":"user0001"}' "$base/api/login")"
	ms_check "Origin our own: the request is served (409: no prompt)" 409 \
		"$(hw_curl -H "Origin: http://127.0.0.1:$WEB_PORT" -H 'Content-Type: application/json' \
			--data-binary '{"msisdn":"1","reference":"0123456789abcdef","decision":"decline"}' "$base/api/phone/decision")"
	for h in '/..%2fserver.js' '/%2e%2e/server.js' '/public/../server.js' '/app.js%00.html' '/phone/../../etc/passwd'; do
		code=$(hw_curl --path-as-is "$base$h")
		ms_check "path traversal $h: 404, nothing of the file" "404 0" "$code $(grep -c require "$WORK/hw.body")"
	done
	hw_curl -H 'Cookie: mobisign_demo=../../etc' "$base/" >/dev/null
	ms_check_grep "a forged cookie: replaced, HttpOnly, SameSite=Strict" \
		'^Set-Cookie: mobisign_demo=[0-9a-f]{32}; Path=/; HttpOnly; SameSite=Strict' "$WORK/hw.head"
	ms_check_grep "security headers: a CSP without inline script" \
		"^Content-Security-Policy: default-src 'none'; script-src 'self';" "$WORK/hw.head"
	ms_check "another browser's transaction events: 404" 404 \
		"$(hw_curl "$base/api/transactions/00000000-0000-4000-8000-000000000001/events")"
	hw_curl -H 'Content-Type: application/json' --data-binary "{\"user\":\"$(head -c 5000 /dev/zero | tr '\0' a)\"}" \
		"$base/api/login" >/dev/null
	ms_check "a body over 4096 bytes: 413" 413 "$(grep -m1 -o '^HTTP/1.1 [0-9]*' "$WORK/hw.head" | cut -d' ' -f2)"
	python3 - "$WEB_PORT" >"$WORK/hw.flood" <<'PY'
import socket, sys, time
port = int(sys.argv[1]); socks = []; codes = {}
for i in range(230):
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    s.sendall(b'GET /api/phone/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n' % port)
    socks.append(s)
for s in socks:
    try:
        line = s.recv(64).split(b'\r\n')[0].decode()
    except OSError:
        line = 'closed'
    codes[line] = codes.get(line, 0) + 1
print(' '.join('%s=%d' % (k.replace(' ', '_'), v) for k, v in sorted(codes.items())))
t0 = time.time()
c = socket.create_connection(('127.0.0.1', port), timeout=5)
c.sendall(b'GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n' % port)
print('page', c.recv(12).decode().split(' ')[1])
for s in socks: s.close()
PY
	echo "# 230 event streams at once: $(head -n1 "$WORK/hw.flood")"
	ms_check_match "a flood of 230 event streams: 200 of them, the rest 503" \
		'HTTP/1.1_200_OK=200 HTTP/1.1_503_Service_Unavailable=30' "$(head -n1 "$WORK/hw.flood")"
	ms_check "... and the page is still served during it" "page 200" "$(tail -n1 "$WORK/hw.flood")"
	sleep 1
	ms_check "... and after it" 200 "$(hw_curl "$base/")"
}

ms_scenario login login
ms_scenario signature signature
ms_scenario decline decline
ms_scenario timeout timeout_
ms_scenario secrets secrets
ms_scenario hostile_web hostile_web
echo "# screenshots: $SHOTS"
ls "$SHOTS" 2>/dev/null | sed 's/^/#   /'
ms_summary
