#!/usr/bin/env python3
# A TLS SMSC of our own for test/e2e/35_smpp_tls.sh: what stunnel in front of
# the simulator cannot do on demand. Python's ssl module (OpenSSL) on
# loopback; every connection is served in turn, the process ends after
# 10 minutes at most.
#
#   smsc_peer.py MODE PORT CERT KEY LOG [ARG]
#
# MODE unbind   bind_transceiver_resp, then after 0.3 s the SMSC unbinds
#               (the worker's session ends without error) and closes.
# MODE burst N  bind_transceiver_resp, then N enquire_link in one burst,
#               the first 8 bytes alone in a TLS record so that every later
#               16 kB record ends inside a PDU (a read of the worker then
#               leaves the record's tail in OpenSSL: SSL_pending); after the
#               burst the peer is silent, it only counts the answers.
# MODE flap     odd connections present the certificate ARG (CERT:KEY of a
#               CA the worker does not trust: its handshake fails), even ones
#               CERT and bind, then close after 0.2 s.
#
# LOG gets one line per event ("connection 3: sni smsc.test", "connection
# 3: bound", "burst answered 5000/5000", ...).
import socket
import ssl
import struct
import sys
import time

mode, port, cert, key, logpath = sys.argv[1:6]
arg = sys.argv[6] if len(sys.argv) > 6 else ""
END = time.time() + 600
log = open(logpath, "a", buffering=1)


sni = {}


def remember_sni(sock, name, ctx):
    sni["last"] = name


def context(c, k):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(c, k)
    ctx.sni_callback = remember_sni
    return ctx


good = context(cert, key)
bad = context(*arg.split(":")) if mode == "flap" else None


def pdu(cmd, status, seq, body=b""):
    return struct.pack(">IIII", 16 + len(body), cmd, status, seq) + body


def read_pdu(s):
    buf = b""
    while len(buf) < 4:
        got = s.recv(4 - len(buf))
        if not got:
            return None
        buf += got
    (n,) = struct.unpack(">I", buf)
    if n < 16 or n > 65536:
        return None
    while len(buf) < n:
        got = s.recv(n - len(buf))
        if not got:
            return None
        buf += got
    return struct.unpack(">III", buf[4:16])


def bind(s, i):
    h = read_pdu(s)
    if h is None or h[0] != 0x00000009:
        log.write("connection %d: no bind_transceiver\n" % i)
        return False
    s.sendall(pdu(0x80000009, 0, h[2], b"peer\0"))
    log.write("connection %d: bound\n" % i)
    return True


def serve_unbind(s, i):
    time.sleep(0.3)
    s.sendall(pdu(0x00000006, 0, 1))
    end = time.time() + 5
    while time.time() < end:
        h = read_pdu(s)
        if h is None:
            break
        if h[0] == 0x80000006:
            log.write("connection %d: unbind answered\n" % i)
            break


def serve_burst(s, i):
    n = int(arg)
    data = b"".join(pdu(0x00000015, 0, 1000 + k) for k in range(n))

    # All in this thread: an SSL socket must not be read and written from two
    # threads at once (OpenSSL's SSL object is not thread-safe; a sender
    # thread made this peer fail now and then).  The worker reads while we
    # send and keeps its answers in its output buffer (1 MB, the answers are
    # 16 bytes each), so sending everything before reading cannot deadlock.
    got = 0
    s.settimeout(20)
    try:
        s.sendall(data[:8])
        time.sleep(0.3)
        s.sendall(data[8:])
        while got < n:
            h = read_pdu(s)
            if h is None:
                break
            if h[0] == 0x80000015 and 1000 <= h[2] < 1000 + n:
                got += 1
            elif h[0] == 0x00000015:
                s.sendall(pdu(0x80000015, 0, h[2]))
    except (socket.timeout, OSError):
        pass
    log.write("connection %d: burst answered %d/%d\n" % (i, got, n))
    # stay silent until the worker goes (or the test ends)
    s.settimeout(1)
    while time.time() < END:
        try:
            if not s.recv(4096):
                break
        except socket.timeout:
            continue
        except OSError:
            break


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(port)))
srv.listen(16)
srv.settimeout(1)
i = 0
while time.time() < END:
    try:
        raw, _ = srv.accept()
    except socket.timeout:
        continue
    i += 1
    raw.settimeout(10)
    ctx = bad if mode == "flap" and i % 2 == 1 else good
    sni["last"] = None
    try:
        s = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        log.write("connection %d: handshake failed: %s\n" % (i, e.__class__.__name__))
        raw.close()
        continue
    log.write("connection %d: sni %s\n" % (i, sni["last"]))
    try:
        if bind(s, i):
            if mode == "unbind":
                serve_unbind(s, i)
            elif mode == "burst":
                serve_burst(s, i)
            else:
                time.sleep(0.2)
    except (ssl.SSLError, OSError) as e:
        log.write("connection %d: %s\n" % (i, e.__class__.__name__))
    try:
        s.close()
    except OSError:
        pass
