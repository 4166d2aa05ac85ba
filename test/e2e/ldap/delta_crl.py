#!/usr/bin/env python3
"""Issue a delta CRL (RFC 5280 5.2.4) for the e2e tests: openssl ca cannot.

    delta_crl.py ISSUER_CERT.pem ISSUER_KEY.pem BASE_CRL.der OUT.der CERT.pem...

The delta names the base CRL's number in its deltaCRLIndicator, takes the
next CRL number and lists the given certificates as revoked (keyCompromise).
"""
import datetime
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

issuer = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), password=None)
base = x509.load_der_x509_crl(open(sys.argv[3], "rb").read())
base_number = base.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

b = (x509.CertificateRevocationListBuilder()
     .issuer_name(issuer.subject)
     .last_update(now)
     .next_update(now + datetime.timedelta(days=1))
     .add_extension(x509.CRLNumber(base_number + 1), critical=False)
     .add_extension(x509.DeltaCRLIndicator(base_number), critical=True))
# no authorityKeyIdentifier: openssl ca's base CRLs have none, and a delta
# applies only when such extensions match its base's (RFC 5280 5.2.4)
for path in sys.argv[5:]:
    cert = x509.load_pem_x509_certificate(open(path, "rb").read())
    b = b.add_revoked_certificate(
        x509.RevokedCertificateBuilder()
        .serial_number(cert.serial_number)
        .revocation_date(now)
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build())
crl = b.sign(key, hashes.SHA256())
open(sys.argv[4], "wb").write(crl.public_bytes(serialization.Encoding.DER))
