--
-- Certificate path validation: mobisign_validate_certificate.
--
-- The answer is a record: valid, status_code and status_name (ETSI TS 102 204:
-- 502 VALID_SIGNATURE for a good path, 425 ERROR_CERTIFICATE for an invalid
-- one, 501 REVOKED_CERTIFICATE, 424 CRL_EXPIRED, 422 NO_CERT_FOUND when no
-- issuer is known), reason (the precise cause), pki, chain (subjects, end
-- entity first) and policies. PKIs come from 10_pki.
--
-- v(cert, intermediates, pki, at) shows the main columns of one validation.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
CREATE FUNCTION v(cert bytea, inter bytea[] DEFAULT NULL, pki text DEFAULT NULL, at timestamptz DEFAULT NULL,
                  OUT valid boolean, OUT status_code integer, OUT status_name text, OUT reason text)
LANGUAGE sql AS $$
    SELECT r.valid, r.status_code, r.status_name, r.reason
      FROM mobisign_validate_certificate(cert, inter, pki, at) r
$$;

-- alice: RSA-2048, issued by the intermediate, on the CRLs as not revoked.
-- The intermediate is given with the request.
SELECT * FROM v(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha');
-- The whole record: the PKI, the chain up to the anchor, the policy.
SELECT valid, pki, chain, policies
  FROM mobisign_validate_certificate(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha');
-- The evidence says which CRLs were relied on.
SELECT jsonb_typeof(evidence) AS evidence
  FROM mobisign_validate_certificate(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha');
-- PEM input works the same; bob has an ECDSA P-256 key.
SELECT * FROM v(fx('alice-rsa.pem'), ARRAY[fx('alpha-int.pem')], 'alpha');
SELECT * FROM v(fx('bob-ec.der'), ARRAY[fx('alpha-int.der')], 'alpha');

-- Without the PKI named, the PKI whose anchors validate the certificate is
-- found (alpha and its variants all trust the same root: the first that
-- validates it answers).
SELECT valid, status_code, pki IS NOT NULL AS pki_found
  FROM mobisign_validate_certificate(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')]);
SELECT valid, status_code, pki
  FROM mobisign_validate_certificate(fx('ivan-beta.der'));

-- Without the intermediate, alice's issuer is unknown: 422.
SELECT * FROM v(fx('alice-rsa.der'), NULL, 'alpha');

-- carol is revoked on the intermediate's CRL: 501.
SELECT * FROM v(fx('carol-revoked.der'), ARRAY[fx('alpha-int.der')], 'alpha');
-- dave expired on 2021-01-01: 425.
SELECT * FROM v(fx('dave-expired.der'), ARRAY[fx('alpha-int.der')], 'alpha');
-- ... but was valid in 2020 (a PKI without revocation checking: alpha's CRLs
-- were issued in 2024 and do not cover 2020).
SELECT * FROM v(fx('dave-expired.der'), ARRAY[fx('alpha-int.der')], 'alpha-norev', '2020-06-01');
-- erin is valid only from 2040: 425.
SELECT * FROM v(fx('erin-future.der'), ARRAY[fx('alpha-int.der')], 'alpha');
-- frank's key is for encipherment only; as a certificate path it is valid
-- (key usage is enforced where a signature is checked, see 30_verify).
SELECT * FROM v(fx('frank-keyenc.der'), ARRAY[fx('alpha-int.der')], 'alpha');
-- grace's certificate is signed with SHA-1, henry's key is RSA-1024: both are
-- refused at the default security level 2.
SELECT * FROM v(fx('grace-sha1.der'), ARRAY[fx('alpha-int.der')], 'alpha');
SELECT * FROM v(fx('henry-rsa1024.der'), ARRAY[fx('alpha-int.der')], 'alpha');
-- At security level 0 (a legacy PKI) both pass.
SELECT * FROM v(fx('grace-sha1.der'), ARRAY[fx('alpha-int.der')], 'alpha-legacy');
SELECT * FROM v(fx('henry-rsa1024.der'), ARRAY[fx('alpha-int.der')], 'alpha-legacy');

-- One PKI's anchors never vouch for another PKI's users: ivan (beta) in alpha
-- has no issuer: 422. In beta he is valid.
SELECT * FROM v(fx('ivan-beta.der'), NULL, 'alpha');
SELECT * FROM v(fx('ivan-beta.der'), NULL, 'beta');
-- alice in beta: 422.
SELECT * FROM v(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'beta');
-- An intermediate handed in by the caller is never an anchor: alpha-root is
-- not beta's anchor even when supplied.
SELECT * FROM v(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der'), fx('alpha-root.der')], 'beta');
-- mallory's self-signed certificate with alice's name: 422 (or 425), never valid.
SELECT * FROM v(fx('mallory-self.der'), NULL, 'alpha');
SELECT valid FROM mobisign_validate_certificate(fx('mallory-self.der'), ARRAY[fx('mallory-self.der')]);

-- Revocation data: the intermediate's CRL expired in 2023: 424, fail closed.
SELECT * FROM v(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha-stale');
-- With a grace period longer than its staleness the stale CRL is used; carol
-- is on it.
SELECT * FROM v(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha-stale-grace');
SELECT * FROM v(fx('carol-revoked.der'), ARRAY[fx('alpha-int.der')], 'alpha-stale-grace');
-- No CRL at all while revocation is 'crl': fails closed (424).
SELECT * FROM v(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha-nocrl');
-- With revocation 'none' nobody asks: carol passes there. That is what
-- 'none' means; use it only for PKIs without revocation.
SELECT * FROM v(fx('carol-revoked.der'), ARRAY[fx('alpha-int.der')], 'alpha-norev');

-- A non-self-signed anchor (the intermediate) is trusted as configured.
SELECT * FROM v(fx('alice-rsa.der'), NULL, 'alpha-int-only');
SELECT chain FROM mobisign_validate_certificate(fx('alice-rsa.der'), NULL, 'alpha-int-only');

-- Policies: alpha-policy requires 2.999.1.1, which alpha's certificates carry.
SELECT valid, status_code, policies
  FROM mobisign_validate_certificate(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha-policy');
-- alpha-otherpolicy requires 2.999.9.9: no acceptable policy, 425.
SELECT * FROM v(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha-otherpolicy');

--
-- Bad input: an ERROR with a specific SQLSTATE.
--
-- garbage, truncated DER, two certificates where one is expected
SELECT err($$ SELECT * FROM mobisign_validate_certificate('\x3082'::bytea) $$);
SELECT err($$ SELECT * FROM mobisign_validate_certificate('\x0123456789abcdef'::bytea) $$);
SELECT err($$ SELECT * FROM mobisign_validate_certificate(substring(fx('alice-rsa.der') FROM 1 FOR 300)) $$);
SELECT err($$ SELECT * FROM mobisign_validate_certificate(fx('alice-and-int.pem')) $$);
-- a garbage intermediate
SELECT err($$ SELECT * FROM mobisign_validate_certificate(fx('alice-rsa.der'), ARRAY['\x00'::bytea]) $$);
-- an unknown PKI
SELECT err($$ SELECT * FROM mobisign_validate_certificate(fx('alice-rsa.der'), NULL, 'no-such-pki') $$);
-- NULL certificate; a NULL inside the intermediates
SELECT err($$ SELECT * FROM mobisign_validate_certificate(NULL) $$);
SELECT err($$ SELECT * FROM mobisign_validate_certificate(fx('alice-rsa.der'), ARRAY[NULL::bytea]) $$);
-- a huge array of intermediates
SELECT err($$ SELECT * FROM mobisign_validate_certificate(fx('alice-rsa.der'), array_fill(fx('alpha-int.der'), ARRAY[10000]), 'alpha') $$);
-- a point in time that is not one (22008: datetime field overflow)
SELECT errcode($$ SELECT * FROM mobisign_validate_certificate(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha', 'infinity') $$) AS at_infinity;
SELECT errcode($$ SELECT * FROM mobisign_validate_certificate(fx('alice-rsa.der'), ARRAY[fx('alpha-int.der')], 'alpha', '-infinity') $$) AS at_minus_infinity;
