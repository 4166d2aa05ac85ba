--
-- Raw signatures through mobisign_verify (docs/verification.md): with a
-- certificate, mobisign_verify(signature, content, certificate, pki, at) also
-- checks a raw PKCS#1 v1.5 (RSA) or ECDSA (DER) signature with SHA-256 -- the
-- result format of a PKCS#1 signature from a SIM -- and validates the
-- certificate's path like any signer's.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';


-- alice's RSA PKCS#1 v1.5 SHA-256 signature over content.txt, in the PKI
-- that knows the intermediate: 502. bob's ECDSA signature likewise.
SELECT valid, status_code, status_name FROM mobisign_verify(fx('alice-raw-sha256.sig'), fx('content.txt'), fx('alice-rsa.der'), 'alpha-full');
SELECT valid, status_code, status_name FROM mobisign_verify(fx('bob-raw-sha256.sig'), fx('content.txt'), fx('bob-ec.der'), 'alpha-full');
-- In 'alpha' the intermediate is unknown (the certificate argument holds
-- exactly one certificate): 422.
SELECT valid, status_code, status_name FROM mobisign_verify(fx('alice-raw-sha256.sig'), fx('content.txt'), fx('alice-rsa.der'), 'alpha');
-- Over other content, or with the wrong certificate: 503.
SELECT valid, status_code, status_name FROM mobisign_verify(fx('alice-raw-sha256.sig'), fx('other-content.txt'), fx('alice-rsa.der'), 'alpha-full');
SELECT valid, status_code, status_name FROM mobisign_verify(fx('bob-raw-sha256.sig'), fx('content.txt'), fx('alice-rsa.der'), 'alpha-full');
-- Garbage where the signature should be: 503, a signature that does not verify.
SELECT valid, status_code, status_name FROM mobisign_verify('\x0102'::bytea, fx('content.txt'), fx('alice-rsa.der'), 'alpha-full');

--
-- Bad input.
--
-- a certificate argument that is garbage, or two certificates in one PEM
SELECT err($$ SELECT * FROM mobisign_verify(fx('alice-raw-sha256.sig'), fx('content.txt'), '\x00'::bytea, 'alpha') $$);
SELECT err($$ SELECT * FROM mobisign_verify(fx('alice-raw-sha256.sig'), fx('content.txt'), fx('alice-and-int.pem'), 'alpha') $$);
