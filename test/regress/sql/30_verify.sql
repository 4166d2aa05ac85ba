--
-- Signature verification: mobisign_verify(signature, content, certificate,
-- pki, at).
--
-- A CMS/PKCS#7 SignedData (content attached or detached) is verified and its
-- signer's certificate path validated with the PKI's policy. Certificates
-- inside the signature may serve as intermediates, never as anchors. With a
-- certificate argument, a raw PKCS#1/ECDSA signature is checked instead (the
-- result format of a PKCS#1 signature from a SIM).
--
-- s(...) shows the main columns of one verification.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
CREATE FUNCTION s(sig bytea, content bytea, cert bytea DEFAULT NULL, pki text DEFAULT NULL,
                  at timestamptz DEFAULT NULL,
                  OUT valid boolean, OUT status_code integer, OUT status_name text, OUT reason text)
LANGUAGE sql AS $$
    SELECT r.valid, r.status_code, r.status_name, r.reason
      FROM mobisign_verify(sig, content, cert, pki, at) r
$$;

-- alice signed content.txt (detached, SHA-256) and included the intermediate:
-- 502, with the signer and the chain.
SELECT * FROM s(fx('alice-detached-chain.p7s'), fx('content.txt'), pki => 'alpha');
SELECT signer_subject, signer_certificate = fx('alice-rsa.der') AS signer_is_alice,
       signing_time IS NOT NULL AS has_signing_time, pki, chain
  FROM mobisign_verify(fx('alice-detached-chain.p7s'), fx('content.txt'), pki => 'alpha');
-- The same signature over different content: 503.
SELECT * FROM s(fx('alice-detached-chain.p7s'), fx('other-content.txt'), pki => 'alpha');
-- Attached content: the content argument may be omitted (NULL) ...
SELECT * FROM s(fx('alice-attached-chain.p7s'), NULL, pki => 'alpha');
-- ... or given; then it must be the encapsulated content.
SELECT * FROM s(fx('alice-attached-chain.p7s'), fx('content.txt'), pki => 'alpha');
SELECT * FROM s(fx('alice-attached-chain.p7s'), fx('other-content.txt'), pki => 'alpha');
-- A detached signature without its content cannot be verified.
SELECT err($$ SELECT * FROM mobisign_verify(fx('alice-detached-chain.p7s'), NULL, pki => 'alpha') $$);
-- bob (ECDSA P-256), attached, intermediate included.
SELECT * FROM s(fx('bob-attached-chain.p7s'), NULL, pki => 'alpha');
-- Without the PKI named, the PKI that validates the signer is found.
SELECT valid, status_code, pki IS NOT NULL AS pki_found
  FROM mobisign_verify(fx('alice-detached-chain.p7s'), fx('content.txt'));

-- Only alice's certificate inside, not the intermediate: her issuer is unknown (422).
SELECT * FROM s(fx('alice-detached.p7s'), fx('content.txt'), pki => 'alpha');
SELECT * FROM s(fx('alice-attached.p7s'), NULL, pki => 'alpha');
-- No certificate inside at all (as a SIM signs) and none given: the signer
-- is looked up in the certificate cache (an earlier signature above cached
-- alice's certificate), but PKI alpha does not know alice's intermediate CA,
-- so her path cannot be built: 422.
SELECT * FROM s(fx('alice-detached-nocerts.p7s'), fx('content.txt'), pki => 'alpha');
-- The signer certificate can be named explicitly (a SIM's signature carries
-- no certificate: the registered one is given). With the PKI that also knows
-- the intermediate, alice's and bob's signatures verify: 502.
SELECT * FROM s(fx('alice-detached-nocerts.p7s'), fx('content.txt'), fx('alice-rsa.der'), 'alpha-full');
SELECT * FROM s(fx('bob-detached-nocerts.p7s'), fx('content.txt'), fx('bob-ec.pem'), 'alpha-full');
-- The named certificate is then the only one accepted as the signer: bob's
-- certificate for alice's signature is refused, and so is a certificate
-- embedded in the signature that differs from the named one.
SELECT valid, status_code, status_name FROM mobisign_verify(fx('alice-detached-nocerts.p7s'), fx('content.txt'), fx('bob-ec.der'), 'alpha-full');
SELECT valid, status_code, status_name FROM mobisign_verify(fx('alice-detached-chain.p7s'), fx('content.txt'), fx('bob-ec.der'), 'alpha-full');
-- The PKI's registered intermediates also serve signatures that carry only
-- the signer's certificate.
SELECT * FROM s(fx('alice-detached.p7s'), fx('content.txt'), pki => 'alpha-full');

-- carol is revoked: 501.
SELECT * FROM s(fx('carol-detached-chain.p7s'), fx('content.txt'), pki => 'alpha');
-- dave's certificate has expired: 425.
SELECT * FROM s(fx('dave-detached-chain.p7s'), fx('content.txt'), pki => 'alpha');
-- frank's certificate allows keyEncipherment only: not a signing key, invalid.
SELECT * FROM s(fx('frank-detached-chain.p7s'), fx('content.txt'), pki => 'alpha');
-- ivan belongs to beta: against alpha his issuer is unknown (422); in beta 502.
SELECT * FROM s(fx('ivan-detached.p7s'), fx('content.txt'), pki => 'alpha');
SELECT * FROM s(fx('ivan-detached.p7s'), fx('content.txt'), pki => 'beta');
-- mallory embeds his own self-signed "alice-rsa" certificate: a certificate in
-- the signature is never an anchor.
SELECT * FROM s(fx('mallory-attached.p7s'), NULL, pki => 'alpha');
SELECT valid FROM mobisign_verify(fx('mallory-attached.p7s'), NULL);
-- alice with a SHA-1 digest in the SignerInfo: refused (503), even though
-- the signature itself is mathematically correct.
SELECT * FROM s(fx('alice-sha1.p7s'), fx('content.txt'), pki => 'alpha');
-- A flipped bit in alice's signature value: 503.
SELECT * FROM s(fx('alice-tampered.p7s'), fx('content.txt'), pki => 'alpha');
-- The stale-CRL PKI: 424.
SELECT * FROM s(fx('alice-detached-chain.p7s'), fx('content.txt'), pki => 'alpha-stale');

--
-- Bad input.
--
-- garbage and truncated signatures
SELECT err($$ SELECT * FROM mobisign_verify('\xdeadbeef'::bytea, fx('content.txt'), pki => 'alpha') $$);
SELECT err($$ SELECT * FROM mobisign_verify(substring(fx('alice-detached-chain.p7s') FROM 1 FOR 500), fx('content.txt'), pki => 'alpha') $$);
-- A signature is one object, as certificates and CRLs are: DER with nothing
-- after it, or PEM holding exactly one signature.  One PEM signature is
-- accepted; two in one PEM are refused (the server used to check the first
-- and ignore the rest); so is a byte after the DER.
SELECT valid, status_code, reason
  FROM s(convert_to(E'-----BEGIN CMS-----\n' || encode(fx('alice-attached-chain.p7s'), 'base64')
                    || E'\n-----END CMS-----\n', 'UTF8'), fx('content.txt'), pki => 'alpha');
SELECT err($$ SELECT * FROM mobisign_verify(convert_to(repeat(E'-----BEGIN CMS-----\n' || encode(fx('alice-attached-chain.p7s'), 'base64') || E'\n-----END CMS-----\n', 2), 'UTF8'), fx('content.txt'), pki => 'alpha') $$);
SELECT err($$ SELECT * FROM mobisign_verify(fx('alice-detached-chain.p7s') || '\x00'::bytea, fx('content.txt'), pki => 'alpha') $$);
-- an unknown PKI
SELECT err($$ SELECT * FROM mobisign_verify(fx('alice-detached-chain.p7s'), fx('content.txt'), pki => 'no-such-pki') $$);
-- NULL signature
SELECT err($$ SELECT * FROM mobisign_verify(NULL::bytea, fx('content.txt')) $$);
-- a point in time that is not one (22008: datetime field overflow)
SELECT errcode($$ SELECT * FROM mobisign_verify(fx('alice-detached-chain.p7s'), fx('content.txt'), pki => 'alpha', at => 'infinity') $$) AS at_infinity;
