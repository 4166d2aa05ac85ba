#!/usr/bin/env python3
"""Independent recomputation of the frozen secured-packet vectors in
test_codec.c, with the Python 'cryptography' package (not our C code).
Used to hand-check the vectors against the layout in codec/README.md;
run it again to re-check: it prints the packets as hex.  The response CC
covers 02 71 00 (UDHL IEIa IEIDLa) in front of RPL; the command CC covers no
UDH.
Not part of the test run (the C test carries the frozen bytes)."""
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KIC = bytes(range(0x00, 0x10))
KID = bytes(range(0x10, 0x20))
TAR = bytes.fromhex("b00010")


def cmac(key, data):
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def cbc(key, data):
    e = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return e.update(data) + e.finalize()


def command(spi, kic, kid, counter, data):
    pad = (16 - (5 + 1 + 8 + len(data)) % 16) % 16
    chl = 21
    cpl = 1 + chl + len(data) + pad
    head = cpl.to_bytes(2, "big") + bytes([chl]) + spi + bytes([kic, kid]) + TAR
    cntr = counter.to_bytes(5, "big") + bytes([pad])
    body = data + bytes(pad)
    cc = cmac(KID, head + cntr + body)[:8]
    print("command clear:  ", (head + cntr + cc + body).hex())
    return head + cbc(KIC, cntr + cc + body)


def response(counter, status, data):
    pad = (16 - (5 + 1 + 1 + 8 + len(data)) % 16) % 16
    rhl = 18
    rpl = 1 + rhl + len(data) + pad
    head = rpl.to_bytes(2, "big") + bytes([rhl]) + TAR
    mid = counter.to_bytes(5, "big") + bytes([pad, status])
    body = data + bytes(pad)
    # the response CC covers the UDH octets 02 71 00 (UDHL IEIa IEIDLa)
    cc = cmac(KID, bytes.fromhex("027100") + head + mid + body)[:8]
    print("response clear: ", (head + mid + cc + body).hex())
    return head + cbc(KIC, mid + cc + body)


print("command:        ", command(bytes([0x16, 0x39]), 0x12, 0x12, 1, b"mobisign").hex())
print("response:       ", response(1, 0, b"ok").hex())


def pysim_response_cc():
    """pySim's AES-128 PoR (tests/unittests/test_ota.py): its CC verifies
    only with 02 71 00 in front, the rule the codec follows."""
    kic = bytes.fromhex("200102030405060708090a0b0c0d0e0f")
    kid = bytes.fromhex("201102030405060708090a0b0c0d0e0f")
    ud = bytes.fromhex("027100002412b00011ebc6b497e2cad7aedf36ace0e3a29b38853f0fe9ccde81913be5702b73abce1f")
    d = Cipher(algorithms.AES(kic), modes.CBC(bytes(16))).decryptor()
    clear = ud[3:9] + d.update(ud[9:]) + d.finalize()
    cc = clear[13:21]
    rest = clear[:13] + clear[21:]
    print("pySim PoR clear:", clear.hex())
    print("CC with 027100: ", cmac(kid, ud[:3] + rest)[:8] == cc,
          "without:", cmac(kid, rest)[:8] == cc)


pysim_response_cc()
