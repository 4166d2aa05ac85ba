#!/usr/bin/env python3
"""A hostile LDAP server for test/e2e/40_directory.sh (scenario hostile_directory).

Plain Python, no library: LDAPv3 messages BER-encoded by hand. It listens on
127.0.0.1:PORT, accepts any simple bind, and answers every search according
to the first RDN value of its base DN (ou=MODE,...):

  huge      --entries entries, each with one value of --value-mb MB of the
            requested attribute, streamed in 1 MB pieces (never held whole);
            the client is expected to hang up after the first header
  many      --count entries of --entry-kb KB each, whatever the size limit
  diag      no entry; a result "other" (80) whose diagnosticMessage holds
            bytes no text column may hold: \\xff\\xfe, newlines, ESC
            sequences, a NUL (and a long tail)
  otherwise the result "success" with no entry

Bounded: each connection lives at most --limit seconds, the server exits
after --lifetime seconds; every write is to a client that may have gone away.
Writes to --out one JSON line per search: {"mode", "sent", "error"}.
"""
import argparse
import json
import socket
import threading
import time

# ---- BER ----


def ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + ber_len(len(body)) + body


def ber_int(tag, v):
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True)
    return tlv(tag, b)


def octets(s):
    return tlv(0x04, s if isinstance(s, bytes) else s.encode())


def read_tlv(buf, i):
    """(tag, start of value, end of value) of the element at i, or None if incomplete"""
    if i + 2 > len(buf):
        return None
    tag = buf[i]
    n = buf[i + 1]
    j = i + 2
    if n & 0x80:
        k = n & 0x7F
        if j + k > len(buf):
            return None
        n = int.from_bytes(buf[j:j + k], "big")
        j += k
    if j + n > len(buf):
        return None
    return tag, j, j + n


def message(msgid, op):
    return tlv(0x30, ber_int(0x02, msgid) + op)


def result(tag, code, diag=b""):
    return tlv(tag, ber_int(0x0A, code) + octets(b"") + octets(diag))


# ---- answers ----


def entry_header(msgid, dn, attr, value_len):
    """the bytes of a SearchResultEntry up to its single value's content"""
    val_hdr = bytes([0x04]) + ber_len(value_len)
    vals_len = len(val_hdr) + value_len
    pa_body_len = len(octets(attr)) + 1 + len(ber_len(vals_len)) + vals_len
    attrs_len = 1 + len(ber_len(pa_body_len)) + pa_body_len
    entry_body_len = len(octets(dn)) + 1 + len(ber_len(attrs_len)) + attrs_len
    op_len = 1 + len(ber_len(entry_body_len)) + entry_body_len
    mid = ber_int(0x02, msgid)
    return (bytes([0x30]) + ber_len(len(mid) + op_len) + mid +
            bytes([0x64]) + ber_len(entry_body_len) + octets(dn) +
            bytes([0x30]) + ber_len(attrs_len) +
            bytes([0x30]) + ber_len(pa_body_len) + octets(attr) +
            bytes([0x31]) + ber_len(vals_len) + val_hdr)


def send_entry(conn, msgid, dn, attr, value_len, deadline):
    conn.sendall(entry_header(msgid, dn, attr, value_len))
    chunk = b"\x30" * (1 << 20)
    left = value_len
    while left > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("connection time limit")
        n = min(left, len(chunk))
        conn.sendall(chunk[:n])
        left -= n
    return value_len


DIAG = (b"\xff\xfe\n\x1b[31mFAKE LOG LINE\x1b[0m\r\nERROR: injected\x07tail " +
        "é".encode() + b"\xc3" + b"x" * 400)


def search(conn, msgid, body, args, deadline):
    base_t = read_tlv(body, 0)
    base = body[base_t[1]:base_t[2]].decode("utf-8", "replace")
    mode = base.split(",")[0].split("=")[-1].strip().lower() if base else ""
    # the first requested attribute: scope, deref, sizelimit, timelimit, typesonly, filter, attrs
    i = base_t[2]
    for _ in range(6):
        i = read_tlv(body, i)[2]
    attrs_t = read_tlv(body, i)
    attr = b"certificateRevocationList;binary"
    if attrs_t and attrs_t[2] > attrs_t[1]:
        a = read_tlv(body, attrs_t[1])
        attr = body[a[1]:a[2]]
    sent = 0
    rec = {"mode": mode, "sent": 0, "error": None}
    try:
        if mode in ("huge", "many"):
            count, size = ((args.entries, args.value_mb << 20) if mode == "huge"
                           else (args.count, args.entry_kb << 10))
            for k in range(count):
                sent += send_entry(conn, msgid, "cn=e%d,%s" % (k, base), attr, size, deadline)
                rec["sent"] = sent
            conn.sendall(message(msgid, result(0x65, 0)))
        elif mode == "diag":
            conn.sendall(message(msgid, result(0x65, 80, DIAG)))
        else:
            conn.sendall(message(msgid, result(0x65, 0)))
    except (OSError, TimeoutError) as e:
        rec["error"] = type(e).__name__
    rec["sent"] = sent
    with open(args.out, "a") as f:
        f.write(json.dumps(rec) + "\n")


def serve(conn, args):
    deadline = time.monotonic() + args.limit
    conn.settimeout(args.limit)
    buf = b""
    try:
        while time.monotonic() < deadline:
            t = read_tlv(buf, 0)
            if t is None:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                continue
            msg = buf[t[1]:t[2]]
            buf = buf[t[2]:]
            mid_t = read_tlv(msg, 0)
            msgid = int.from_bytes(msg[mid_t[1]:mid_t[2]], "big")
            op_t = read_tlv(msg, mid_t[2])
            tag = msg[mid_t[2]]
            body = msg[op_t[1]:op_t[2]]
            if tag == 0x60:                      # bindRequest
                conn.sendall(message(msgid, result(0x61, 0)))
            elif tag == 0x63:                    # searchRequest
                search(conn, msgid, body, args, deadline)
            elif tag == 0x42:                    # unbindRequest
                return
            # abandonRequest (0x50) and the rest: nothing to answer
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--out", required=True)
    ap.add_argument("--entries", type=int, default=10)
    ap.add_argument("--value-mb", type=int, default=40)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--entry-kb", type=int, default=200)
    ap.add_argument("--limit", type=float, default=30)
    ap.add_argument("--lifetime", type=float, default=600)
    args = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", args.port))
    s.listen(16)
    s.settimeout(1)
    end = time.monotonic() + args.lifetime
    while time.monotonic() < end:
        try:
            conn, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn, args), daemon=True).start()


if __name__ == "__main__":
    main()
