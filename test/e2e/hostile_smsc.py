#!/usr/bin/env python3
"""A hostile SMSC for test/e2e/25_hostile_smsc.sh (the SMSC is outside the trust boundary).

Plain Python, no library: it writes raw SMPP 3.4 frames. It listens on
127.0.0.1:PORT, answers the worker's bind_transceiver, enquire_link and
unbind, and runs one scenario on the bound session:

  tlv80      deliver_sm of ~530 bytes with 80 TLVs 0x0204 (libsmpp34 crashed),
             one with 40 distinct unknown TLVs, then a receipt that must be
             acknowledged (the session survived)
  truncated  deliver_sm whose last TLV announces more bytes than the PDU
             holds: --warmup PDUs, then "phase" in the result, wait for the
             file --go, then --count PDUs; an enquire_link after every 40 so
             that the link is not closed as garbage (50 refusals in a row)
  bad_source deliver_sm from a source_addr that is not UTF-8, alphanumeric,
             16 digits; then one from a valid MSISDN (stored); then from
             another, segment 1 of 2 with 8-bit reference 0x12 and segment
             1 of 2 with 16-bit reference 0x0012 (two messages, not one)
  bad_msgid  answers every submit_sm with a message_id that is not UTF-8
             (0xff 0xfe '-' 'i' 'd'), for --count submit_sm
  garbage    endless malformed deliver_sm (at most --count): the worker must
             close the session, then bind again after its reconnect delay;
             then a stream of random bytes: framing lost, closed again
  flap       accepts the bind, then ends the session at once, --count times
             (an unbind, then a bare close, in turn); "gaps_ms" is each
             close-to-next-bind time; then stays bound --hold s and unbinds
             once more: "stable_gap_ms" is the time to the next bind

The result goes to --out as JSON after every step:
  {"binds": n, "phase": s, "done": bool, "answers": {status_hex: count},
   "sent": n, "closed_after": n, "rebind_ms": ms, "submits": n, ...}
Bounded: every wait has a time limit and the script exits after --limit s.
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import time

BIND_TRX, BIND_TRX_RESP = 0x00000009, 0x80000009
SUBMIT_SM, SUBMIT_SM_RESP = 0x00000004, 0x80000004
DELIVER_SM, DELIVER_SM_RESP = 0x00000005, 0x80000005
UNBIND, UNBIND_RESP = 0x00000006, 0x80000006
ENQ, ENQ_RESP = 0x00000015, 0x80000015
GENERIC_NACK = 0x80000000
DATA_SM = 0x00000103


def pdu(cmd, status, seq, body=b""):
    return struct.pack(">IIII", 16 + len(body), cmd, status, seq) + body


def cstr(b):
    return (b if isinstance(b, bytes) else b.encode()) + b"\0"


def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + value


def deliver_body(src=b"358401234567", esm=0x40, ud=b"\x05\x00\x03\x42\x02\x01\xde\xad", tlvs=b""):
    return (cstr(b"") + bytes([1, 1]) + cstr(src) + bytes([0, 1]) + cstr(b"12345")
            + bytes([esm, 0x7F, 0]) + cstr(b"") + cstr(b"")
            + bytes([0, 0, 0xF6, 0, len(ud)]) + ud + tlvs)


class Session:
    def __init__(self, sock, res, save):
        self.sock = sock
        self.buf = b""
        self.res = res
        self.save = save
        self.seq = 1000
        self.closed = False

    def next_seq(self):
        self.seq += 1
        return self.seq

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def frames(self, timeout):
        """Read what arrives within timeout; yield (cmd, status, seq, body)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return
        self.buf += data
        while len(self.buf) >= 16:
            n, cmd, status, seq = struct.unpack(">IIII", self.buf[:16])
            if len(self.buf) < n:
                break
            body, self.buf = self.buf[16:n], self.buf[n:]
            yield cmd, status, seq, body

    def serve(self, cmd, status, seq, body):
        """Answer what the worker asks; True if handled."""
        if cmd == BIND_TRX:
            self.res["binds"] += 1
            self.res["bound_at"] = time.time()
            self.send(pdu(BIND_TRX_RESP, 0, seq, cstr(b"hostile")))
            self.save()
            return True
        if cmd == ENQ:
            self.send(pdu(ENQ_RESP, 0, seq))
            return True
        if cmd == UNBIND:
            self.send(pdu(UNBIND_RESP, 0, seq))
            return True
        return False

    def pump(self, want, deadline):
        """Serve the worker until want() says stop or time runs out; count answers."""
        while not self.closed and time.time() < deadline and not want():
            for cmd, status, seq, body in self.frames(0.2):
                if self.serve(cmd, status, seq, body):
                    continue
                if cmd == SUBMIT_SM:
                    self.res["submits"] += 1
                    self.send(pdu(SUBMIT_SM_RESP, 0, seq, cstr(b"\xff\xfe-id")))
                    self.save()
                    continue
                key = "%08x:%x" % (cmd, status)
                self.res["answers"][key] = self.res["answers"].get(key, 0) + 1
                self.res["answered"] += 1


def accept(server, res, save, deadline):
    server.settimeout(max(0.1, deadline - time.time()))
    try:
        conn, _ = server.accept()
    except socket.timeout:
        return None
    s = Session(conn, res, save)
    binds = res["binds"]
    s.pump(lambda: res["binds"] > binds, deadline)
    return s if res["binds"] > binds else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--go", default="")
    ap.add_argument("--hold", type=float, default=0.0)
    ap.add_argument("--limit", type=float, default=120.0)
    a = ap.parse_args()
    res = {"scenario": a.scenario, "binds": 0, "phase": "", "done": False, "answers": {},
           "answered": 0, "sent": 0, "submits": 0}

    def save():
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(res, f)
        os.replace(tmp, a.out)

    end = time.time() + a.limit
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", a.port))
    server.listen(4)
    save()
    s = accept(server, res, save, end)
    if s is None:
        sys.exit("no bind")

    def send_wait(frames, answers_before, deadline):
        for f in frames:
            s.send(f)
            res["sent"] += 1
        s.pump(lambda: res["answered"] >= answers_before + len(frames), deadline)

    if a.scenario == "tlv80":
        many = b"".join(tlv(0x0204, b"\x00\x01") for _ in range(80))
        f80 = pdu(DELIVER_SM, 0, s.next_seq(), deliver_body(tlvs=many))
        res["tlv80_bytes"] = len(f80)
        unknown = b"".join(tlv(0x1400 + i, b"\x00\x01") for i in range(40))
        for f in (f80, pdu(DELIVER_SM, 0, s.next_seq(), deliver_body(tlvs=unknown))):
            send_wait([f], res["answered"], time.time() + 10)
        send_wait([pdu(DELIVER_SM, 0, s.next_seq(), deliver_body(esm=0x04, ud=b"id:1 stat:DELIVRD"))],
                  res["answered"], time.time() + 10)
    elif a.scenario == "truncated":
        bad = deliver_body(tlvs=struct.pack(">HH", 0x0424, 1000) + b"ab")

        def batch(n):
            left = n
            while left > 0 and not s.closed and time.time() < end:
                k = min(40, left)
                frames = [pdu(DELIVER_SM, 0, s.next_seq(), bad) for _ in range(k)]
                frames.append(pdu(ENQ, 0, s.next_seq()))
                send_wait(frames, res["answered"], time.time() + 20)
                left -= k
            res["hostile_sent"] = res.get("hostile_sent", 0) + n - max(left, 0)
        batch(a.warmup)
        res["phase"] = "warm"
        save()
        while a.go and not os.path.exists(a.go) and time.time() < end:
            s.pump(lambda: False, time.time() + 0.2)
        batch(a.count)
    elif a.scenario == "bad_source":
        for src in (b"\xff358401234567", b"Operator", b"1234567890123456", b"+358401234567"):
            send_wait([pdu(DELIVER_SM, 0, s.next_seq(), deliver_body(src=src))], res["answered"],
                      time.time() + 10)
            res["answers_by_source"] = res.get("answers_by_source", []) + [res["answers"].copy()]
        for ud in (b"\x05\x00\x03\x12\x02\x01\xbe\xef", b"\x06\x08\x04\x00\x12\x02\x01\xca\xfe"):
            send_wait([pdu(DELIVER_SM, 0, s.next_seq(), deliver_body(src=b"+358401234568", ud=ud))],
                      res["answered"], time.time() + 10)
    elif a.scenario == "held_dup":
        # one segment of an answer of two, stored and pending; then (once the
        # test holds that row as a verifier marking it processed does) the
        # same deliver_sm again, as an SMSC redelivers one whose resp was late
        dup = deliver_body(src=b"358409999001")
        send_wait([pdu(DELIVER_SM, 0, s.next_seq(), dup)], res["answered"], time.time() + 10)
        res["phase"] = "stored"
        save()
        while a.go and not os.path.exists(a.go) and time.time() < end:
            s.pump(lambda: False, time.time() + 0.2)
        t0 = time.time()
        send_wait([pdu(DELIVER_SM, 0, s.next_seq(), dup)], res["answered"], time.time() + 30)
        res["dup_ms"] = int((time.time() - t0) * 1000)
        # and the link is served meanwhile: an enquire_link answered at once
        t0 = time.time()
        send_wait([pdu(ENQ, 0, s.next_seq())], res["answered"], time.time() + 30)
        res["enq_ms"] = int((time.time() - t0) * 1000)
    elif a.scenario == "nack_flood":
        # well formed and not served: a generic_nack for a sequence never
        # sent (no answer), a command mobisign does not serve (answered
        # generic_nack); then an enquire_link: the session is still served
        frames = []
        for i in range(a.count):
            frames.append(pdu(GENERIC_NACK, 0, 500000 + i))
            frames.append(pdu(DATA_SM, 0, s.next_seq()))
        before = res["answered"]
        for k in range(0, len(frames), 200):
            for f in frames[k:k + 200]:
                s.send(f)
            res["sent"] += len(frames[k:k + 200])
            s.pump(lambda: res["answered"] >= before + (k + 200) // 2, time.time() + 10)
        send_wait([pdu(ENQ, 0, s.next_seq())], res["answered"], time.time() + 10)
        res["closed"] = s.closed
    elif a.scenario == "bad_msgid":
        s.pump(lambda: res["submits"] >= a.count, end)
        s.pump(lambda: False, time.time() + 1)
    elif a.scenario == "garbage":
        junk = deliver_body(src=b"3584" * 10)  # source_addr without its NUL within 21 octets
        for i in range(a.count):
            if s.closed:
                break
            s.send(pdu(DELIVER_SM, 0, s.next_seq(), junk))
            res["sent"] += 1
            s.pump(lambda: res["answered"] >= res["sent"], time.time() + 2)
        sent_at_close = res["sent"]
        res["closed_after"] = sent_at_close if s.closed else -1
        closed_at = time.time()
        save()
        s2 = accept(server, res, save, min(end, time.time() + 30))
        res["rebind_ms"] = int((res.get("bound_at", 0) - closed_at) * 1000) if s2 else -1
        save()
        if s2 is not None:
            s = s2
            rnd = random.Random(7)
            # a length no PDU may have, then noise: framing is lost at once
            s.send(b"\xff\xff\xff\xff" + bytes(rnd.randrange(256) for _ in range(4092)))
            s.pump(lambda: False, time.time() + 3)
            res["random_closed"] = s.closed
    elif a.scenario == "flap":
        def end_session(sess, by_unbind):
            """The SMSC ends a bound session; returns the time it was closed."""
            if by_unbind:
                sess.send(pdu(UNBIND, 0, sess.next_seq()))
                sess.pump(lambda: False, time.time() + 0.3)  # the unbind_resp, then its close
            sess.sock.close()
            return time.time()

        def rebind_gap(closed_at):
            nxt = accept(server, res, save, min(end, time.time() + 60))
            return nxt, (int((res["bound_at"] - closed_at) * 1000) if nxt else -1)

        res["gaps_ms"] = []
        for i in range(a.count):
            s, gap = rebind_gap(end_session(s, i % 2 == 0))
            res["gaps_ms"].append(gap)
            save()
            if s is None:
                sys.exit("no bind after flap %d" % (i + 1))
        res["phase"] = "holding"
        save()
        s.pump(lambda: False, time.time() + a.hold)
        s, res["stable_gap_ms"] = rebind_gap(end_session(s, True))
        if s is None:
            sys.exit("no bind after the stable session")
    res["done"] = True
    save()
    # stay until the test stops us (bounded), serving enquire_link
    while time.time() < end and not s.closed:
        s.pump(lambda: False, time.time() + 1)


if __name__ == "__main__":
    main()
