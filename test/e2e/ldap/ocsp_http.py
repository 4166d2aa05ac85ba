#!/usr/bin/env python3
"""A loopback-only OCSP responder for the e2e tests.

`openssl ocsp -port` listens on every interface, so this small HTTP server
binds 127.0.0.1 and answers each POST by running the openssl OCSP responder
on the one request (openssl ocsp -index ... -reqin ... -respout ...), which
also re-reads the CA's index, so revocations show at once.

    ocsp_http.py PORT NAME=INDEX,CA,RSIGNER,RKEY [NAME=...]

A request to /NAME is answered with that CA's index and signer. With
OCSP_DELAY_FILE set, a number of seconds in that file delays every answer.
"""
import http.server
import os
import subprocess
import sys
import tempfile
import time

PORT = int(sys.argv[1])
ROUTES = {}
for arg in sys.argv[2:]:
    name, files = arg.split("=", 1)
    ROUTES[name] = files.split(",")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        name = self.path.strip("/")
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if 0 < length < 65536 else b""
        if name not in ROUTES or not body:
            self.send_error(404)
            return
        index, ca, rsigner, rkey = ROUTES[name]
        delay = os.environ.get("OCSP_DELAY_FILE", "")
        if delay and os.path.exists(delay):
            with open(delay) as f:
                time.sleep(min(float(f.read().strip() or 0), 30))
        with tempfile.TemporaryDirectory() as tmp:
            req = os.path.join(tmp, "req.der")
            resp = os.path.join(tmp, "resp.der")
            with open(req, "wb") as f:
                f.write(body)
            r = subprocess.run(["openssl", "ocsp", "-index", index, "-CA", ca, "-rsigner", rsigner,
                                "-rkey", rkey, "-reqin", req, "-respout", resp, "-nmin", "10"],
                               capture_output=True, timeout=20)
            if r.returncode != 0 or not os.path.exists(resp):
                self.send_error(500)
                return
            with open(resp, "rb") as f:
                data = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


http.server.HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
