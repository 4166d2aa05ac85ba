--
-- Raw signature checks: mobisign_verify_signature(key, content, signature,
-- algorithm) -> boolean.
--
-- The key is a certificate or a SubjectPublicKeyInfo (DER or PEM). No path
-- validation: only the mathematics. A signature that does not verify is
-- false; a malformed key or an unknown algorithm is an error.
--

-- RSA PKCS#1 v1.5 with SHA-256, with alice's public key and her certificate.
SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('content.txt'), fx('alice-raw-sha256.sig'), 'rsa-pkcs1-sha256') AS spki;
SELECT mobisign_verify_signature(fx('alice-rsa.der'), fx('content.txt'), fx('alice-raw-sha256.sig'), 'rsa-pkcs1-sha256') AS cert_der;
SELECT mobisign_verify_signature(fx('alice-rsa.pem'), fx('content.txt'), fx('alice-raw-sha256.sig'), 'rsa-pkcs1-sha256') AS cert_pem;
-- RSA-PSS (MGF1-SHA-256, salt 32).
SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('content.txt'), fx('alice-raw-pss-sha256.sig'), 'rsa-pss-sha256') AS pss;
-- ECDSA P-256 with SHA-256 (DER signature).
SELECT mobisign_verify_signature(fx('bob.spki.der'), fx('content.txt'), fx('bob-raw-sha256.sig'), 'ecdsa-sha256') AS ecdsa;

-- Wrong content, wrong key, wrong padding, wrong hash: false.
SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('other-content.txt'), fx('alice-raw-sha256.sig'), 'rsa-pkcs1-sha256') AS other_content;
SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('content.txt'), fx('alice-raw-pss-sha256.sig'), 'rsa-pkcs1-sha256') AS pss_as_pkcs1;
SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('content.txt'), fx('alice-raw-sha256.sig'), 'rsa-pss-sha256') AS pkcs1_as_pss;
SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('content.txt'), fx('alice-raw-sha256.sig'), 'rsa-pkcs1-sha384') AS wrong_hash;
SELECT mobisign_verify_signature(fx('bob.spki.der'), fx('other-content.txt'), fx('bob-raw-sha256.sig'), 'ecdsa-sha256') AS other_content;
SELECT mobisign_verify_signature(fx('bob.spki.der'), fx('content.txt'), fx('bob-raw-sha256.sig'), 'ecdsa-sha512') AS wrong_hash;
-- Malformed signatures are false, not errors: garbage, empty, truncated.
SELECT mobisign_verify_signature(fx('bob.spki.der'), fx('content.txt'), '\x3006020101020101'::bytea, 'ecdsa-sha256') AS tiny_ecdsa;
SELECT mobisign_verify_signature(fx('bob.spki.der'), fx('content.txt'), '\x'::bytea, 'ecdsa-sha256') AS empty;
SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('content.txt'), substring(fx('alice-raw-sha256.sig') FROM 2), 'rsa-pkcs1-sha256') AS truncated;
SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('content.txt'), fx('alice-raw-sha256.sig') || '\x00'::bytea, 'rsa-pkcs1-sha256') AS extended;

-- Errors: an unknown algorithm, an algorithm that does not fit the key,
-- a malformed key, NULLs.
SELECT err($$ SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('content.txt'), fx('alice-raw-sha256.sig'), 'rsa-md5') $$);
SELECT err($$ SELECT mobisign_verify_signature(fx('alice.spki.der'), fx('content.txt'), fx('alice-raw-sha256.sig'), 'ecdsa-sha256') $$);
SELECT err($$ SELECT mobisign_verify_signature(fx('bob.spki.der'), fx('content.txt'), fx('bob-raw-sha256.sig'), 'rsa-pkcs1-sha256') $$);
SELECT err($$ SELECT mobisign_verify_signature('\x0102'::bytea, fx('content.txt'), fx('bob-raw-sha256.sig'), 'ecdsa-sha256') $$);
SELECT err($$ SELECT mobisign_verify_signature(substring(fx('bob.spki.der') FROM 1 FOR 40), fx('content.txt'), fx('bob-raw-sha256.sig'), 'ecdsa-sha256') $$);
SELECT err($$ SELECT mobisign_verify_signature(fx('alice-and-int.pem'), fx('content.txt'), fx('alice-raw-sha256.sig'), 'rsa-pkcs1-sha256') $$);
SELECT err($$ SELECT mobisign_verify_signature(NULL, fx('content.txt'), fx('bob-raw-sha256.sig'), 'ecdsa-sha256') $$);
SELECT err($$ SELECT mobisign_verify_signature(fx('bob.spki.der'), fx('content.txt'), fx('bob-raw-sha256.sig'), NULL) $$);
