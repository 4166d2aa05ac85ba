#!/usr/bin/env python3
"""Checks a signature the gateway returned, independently of mobisign's C code
(Python cryptography), for test/e2e/70_gateway.sh.

  sigcheck.py raw CERT_B64 HASH_TYPE DIGEST_B64 SIG_B64
      a raw signature of a digest as Mobile-ID returns it: RSA PKCS#1 v1.5
      over the DigestInfo, or ECDSA as r || s (each the order's length)
  sigcheck.py code DIGEST_B64
      the Mobile-ID verification code of a digest (6 bits from the start, 7
      from the end: MID REST API 2.4.1)
  sigcheck.py serial CERT_B64
      the certificate subject's serialNumber

Prints "valid", a code or a serial number; exits 1 on an invalid signature.
"""
import base64
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.x509.oid import NameOID

HASHES = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}


def raw(cert_b64, hash_type, digest_b64, sig_b64):
    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    digest = base64.b64decode(digest_b64)
    sig = base64.b64decode(sig_b64)
    key = cert.public_key()
    algo = utils.Prehashed(HASHES[hash_type]())
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            half = (key.curve.key_size + 7) // 8
            if len(sig) != 2 * half:
                print("invalid: %d octets, not r || s of %d" % (len(sig), half))
                return 1
            r = int.from_bytes(sig[:half], "big")
            s = int.from_bytes(sig[half:], "big")
            key.verify(utils.encode_dss_signature(r, s), digest, ec.ECDSA(algo))
        else:
            key.verify(sig, digest, padding.PKCS1v15(), algo)
    except InvalidSignature:
        print("invalid")
        return 1
    print("valid")
    return 0


def code(digest_b64):
    d = base64.b64decode(digest_b64)
    print("%04d" % (((d[0] & 0xFC) << 5) | (d[-1] & 0x7F)))
    return 0


def serial(cert_b64):
    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    print(cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value)
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    sys.exit({"raw": raw, "code": code, "serial": serial}[cmd](*sys.argv[2:]))
