--
-- The strict profile (docs/verification.md, "Profiles").
--
-- OpenSSL's path validation accepts certificates that RFC 5280 forbids.  A
-- PKI's profile decides: 'strict' (the default for a new PKI) checks the
-- RFC 5280 rules below on the path OpenSSL validated and refuses with
-- status 425 and a reason naming the rule, its RFC 5280 section, the depth
-- and the certificate; 'compatible' is OpenSSL's path validation alone.
-- Each case below is one certificate path made by test/fixtures/strict.py,
-- validated in both profiles: it passes 'compatible' and fails 'strict'.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
CREATE ROLE regress_strict_admin LOGIN IN ROLE mobisign_admin;
CREATE ROLE regress_strict_app LOGIN IN ROLE mobisign_app;

------------------------------------------------------------------------------
-- 1. Two PKIs on one anchor: one strict, one compatible
------------------------------------------------------------------------------

-- No profile given: the PKI is strict.  'compatible' must be asked for.
SELECT mobisign_add_pki('strict-s', ARRAY[fx('strict-root.der')], revocation => 'none',
                        intermediates => ARRAY[fx('strict-int.der')]) > 0 AS added;
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SELECT mobisign_add_pki('strict-c', ARRAY[fx('strict-root.der')], revocation => 'none',
                        intermediates => ARRAY[fx('strict-int.der')], profile => 'compatible') > 0 AS added;
SELECT name, profile FROM mobisign.pki WHERE name LIKE 'strict-%' ORDER BY name;
-- The profile is in the add_pki audit row.
SELECT operation, outcome, detail->>'pki' AS pki, detail->>'profile' AS profile FROM audit_after(:mark);

-- A profile is one of the domain mobisign.pki_profile; anything else is refused.
SELECT * FROM refusal($$ SELECT mobisign_add_pki('strict-x', ARRAY[fx('strict-root.der')], profile => 'lenient') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_pki('strict-x', ARRAY[fx('strict-root.der')], profile => NULL) $$);
SELECT count(*) AS no_pki_added FROM mobisign.pki WHERE name = 'strict-x';

-- Every case below: the certificate (and intermediates) at 2025-01-01 under
-- both PKIs, the compatible one first.
CREATE FUNCTION both_profiles(cert text, inters text[] DEFAULT '{}', at timestamptz DEFAULT '2025-01-01')
RETURNS TABLE (profile text, valid boolean, status_code integer, reason text)
LANGUAGE sql AS $$
    SELECT p.profile, v.valid, v.status_code, v.reason
      FROM (VALUES (1, 'compatible', 'strict-c'), (2, 'strict', 'strict-s')) p(n, profile, pki),
           LATERAL mobisign_validate_certificate(fx(cert || '.der'),
               ARRAY(SELECT fx(i || '.der') FROM unnest(inters) WITH ORDINALITY u(i, k) ORDER BY k),
               p.pki, at) v
     ORDER BY p.n
$$;

------------------------------------------------------------------------------
-- 2. Negative controls: well-formed paths pass both profiles
------------------------------------------------------------------------------

-- root -> strict-int -> strict-good: every rule holds.
SELECT * FROM both_profiles('strict-good');
-- A serial number of exactly 20 octets is allowed (4.1.2.2).
SELECT * FROM both_profiles('strict-serial-20');
-- A constrained CA (permitted example.test, excluded secret.example.test)
-- and an end entity inside it.
SELECT * FROM both_profiles('strict-nc-leaf', ARRAY['strict-nc-ca']);
-- A name in the excluded subtree: OpenSSL refuses it already, in both.
SELECT * FROM both_profiles('strict-nc-excluded', ARRAY['strict-nc-ca']);

------------------------------------------------------------------------------
-- 3. The rules, one case each
------------------------------------------------------------------------------

-- RFC 5280 4.1.2.2: the serial number is a positive integer of at most 20
-- octets.  Zero, negative (OpenSSL parses and accepts both) and 21 octets.
SELECT * FROM both_profiles('strict-serial-zero');
SELECT * FROM both_profiles('strict-serial-negative');
SELECT * FROM both_profiles('strict-serial-21');

-- 4.2.1.2: every CA certificate has a subjectKeyIdentifier.
SELECT * FROM both_profiles('strict-noski-ca-leaf', ARRAY['strict-noski-ca']);

-- 4.2.1.1: a certificate that is not self-signed has an
-- authorityKeyIdentifier with its keyIdentifier.
SELECT * FROM both_profiles('strict-noaki');

-- 4.2.1.9: a CA's basicConstraints is present and critical (OpenSSL itself
-- refuses a CA without it; it accepts a non-critical one).
SELECT * FROM both_profiles('strict-bcnc-ca-leaf', ARRAY['strict-bcnc-ca']);

-- 4.2.1.12: extendedKeyUsage is SEQUENCE SIZE (1..MAX): an empty one is
-- malformed (OpenSSL reads it as "no purpose restriction" under purpose any).
SELECT * FROM both_profiles('strict-eku-empty');

-- 4.2.1.3 and 4.2.1.9: keyCertSign only with cA; an end entity asserting it
-- is refused even though it signs no certificate here.
SELECT * FROM both_profiles('strict-kcs-leaf');

-- 4.2.1.11: policyConstraints is critical.  The CA's is not: its end entity
-- is refused, reported at the CA's depth.
SELECT * FROM both_profiles('strict-pcnc-ca-leaf', ARRAY['strict-pcnc-ca']);

-- 4.1.2.6: a CA's subject is not empty (this CA names itself only in a
-- critical subjectAltName).
SELECT * FROM both_profiles('strict-nosubj-ca-leaf', ARRAY['strict-nosubj-ca']);

-- 4.2.1.6: with an empty subject, the subjectAltName must be critical.
SELECT * FROM both_profiles('strict-nosubj-leaf');

-- 4.2.1.10: nameConstraints is critical.
SELECT * FROM both_profiles('strict-ncnc-ca-leaf', ARRAY['strict-ncnc-ca']);

-- 4.2.1.10: a dNSName constraint is a domain name, matched by adding labels
-- on its left.  ".example.test" is the URI form: OpenSSL reads it as "the
-- subdomains only", other verifiers as the domain and its subdomains; the
-- strict profile refuses a constraint whose meaning depends on the reader.
SELECT * FROM both_profiles('strict-ncdot-ca-leaf', ARRAY['strict-ncdot-ca']);

-- 4.2.1.6: a dNSName is in preferred name syntax (letters, digits,
-- hyphens): an underscore is not, so a name constraint cannot be relied on
-- to have been written for it.
SELECT * FROM both_profiles('strict-nc-underscore', ARRAY['strict-nc-ca']);

-- 4.2.1.10 and wildcards: RFC 5280 leaves a wildcard's meaning to the
-- application.  mobisign reads "*.example.test" as any one label left of
-- example.test: it stands for secret.example.test too, which the CA
-- excludes.  OpenSSL compares the text "*.example.test" and lets it through.
SELECT * FROM both_profiles('strict-nc-wildcard', ARRAY['strict-nc-ca']);

------------------------------------------------------------------------------
-- 4. Validity: the period includes notAfter (RFC 5280 4.1.2.5)
------------------------------------------------------------------------------

-- strict-notafter is valid 2024-01-01 00:00:00 through 2030-06-01 00:00:00.
-- At exactly notAfter OpenSSL says expired; the strict profile, like RFC
-- 5280, says valid.  One second later both say expired.  At exactly
-- notBefore both say valid (OpenSSL includes notBefore).
SELECT * FROM both_profiles('strict-notafter', at => '2030-06-01 00:00:00+00');
SELECT * FROM both_profiles('strict-notafter', at => '2030-06-01 00:00:01+00');
SELECT * FROM both_profiles('strict-notafter', at => '2024-01-01 00:00:00+00');

------------------------------------------------------------------------------
-- 5. Alternative paths through cross-certificates
------------------------------------------------------------------------------

-- One CA (CN=strict-cross, one key) certified twice by the root: cross-a
-- permits only other.test, cross-b example.test.  The end entity is
-- www.example.test.  OpenSSL builds one path, through the first candidate
-- (cross-a), and fails on its name constraints; the strict profile tries
-- the path without cross-a (at most 8 paths in all) and finds cross-b's.
SELECT * FROM both_profiles('strict-cross-leaf', ARRAY['strict-cross-a', 'strict-cross-b']);
-- Which path validated: the chain shows the CA, the evidence its certificate.
SELECT v.chain, v.evidence->'chain'->1->>'sha256' = encode(sha256(fx('strict-cross-b.der')), 'hex') AS through_cross_b
  FROM mobisign_validate_certificate(fx('strict-cross-leaf.der'),
                                     ARRAY[fx('strict-cross-a.der'), fx('strict-cross-b.der')],
                                     'strict-s', '2025-01-01') v;
-- With cross-b first, OpenSSL's one path is the good one: both pass.
SELECT * FROM both_profiles('strict-cross-leaf', ARRAY['strict-cross-b', 'strict-cross-a']);
-- With cross-a alone there is no other path: refused in both.
SELECT * FROM both_profiles('strict-cross-leaf', ARRAY['strict-cross-a']);

------------------------------------------------------------------------------
-- 6. Signatures, audit rows
------------------------------------------------------------------------------

-- mobisign_verify validates the signer's path the same way: a raw ECDSA
-- signature by the certificate with serial number 0 verifies (502) under
-- the compatible PKI and is refused (425) under the strict one.
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SELECT pki, valid, status_code, status_name, reason
  FROM mobisign_verify(fx('strict-serial-zero.sig'), fx('strict-content.txt'),
                       certificate => fx('strict-serial-zero.der'), pki => 'strict-c', at => '2025-01-01');
SELECT pki, valid, status_code, status_name, reason
  FROM mobisign_verify(fx('strict-serial-zero.sig'), fx('strict-content.txt'),
                       certificate => fx('strict-serial-zero.der'), pki => 'strict-s', at => '2025-01-01');
-- The audit rows carry the status and the reason, as for any refusal.
SELECT operation, outcome, detail->>'pki' AS pki, detail->>'status' AS status, detail->>'reason' AS reason
  FROM audit_after(:mark);

------------------------------------------------------------------------------
-- 7. mobisign_set_pki_profile: an administrator changes a PKI's profile
------------------------------------------------------------------------------

-- It returns the previous profile; the next validation uses the new one
-- (the PKI's generation is bumped, so every backend rebuilds its store).
SELECT generation AS gen_before FROM mobisign.pki WHERE name = 'strict-c' \gset
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_strict_admin;
SELECT mobisign_set_pki_profile('strict-c', 'strict') AS previous;
RESET SESSION AUTHORIZATION;
SELECT profile, generation > :gen_before AS generation_bumped FROM mobisign.pki WHERE name = 'strict-c';
SELECT * FROM both_profiles('strict-serial-zero');
-- One audit row by the administrator's login.
SELECT actor, operation, outcome, detail FROM audit_after(:mark);
-- And back.
SELECT mobisign_set_pki_profile('strict-c', 'compatible') AS previous;
SELECT * FROM both_profiles('strict-serial-zero');

-- Refusals: an unknown PKI, an unknown profile, NULLs; nothing is changed
-- or audited.
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SELECT * FROM refusal($$ SELECT mobisign_set_pki_profile('no-such-pki', 'strict') $$);
SELECT * FROM refusal($$ SELECT mobisign_set_pki_profile('strict-c', 'STRICT') $$);
SELECT * FROM refusal($$ SELECT mobisign_set_pki_profile('strict-c', NULL) $$);
SELECT * FROM refusal($$ SELECT mobisign_set_pki_profile(NULL, 'strict') $$);
SELECT * FROM refusal($$ SELECT mobisign_set_pki_profile(repeat('x', 300), 'strict') $$);
-- An application may not change a profile.
SET SESSION AUTHORIZATION regress_strict_app;
SELECT * FROM refusal($$ SELECT mobisign_set_pki_profile('strict-c', 'strict') $$);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS audit_rows FROM audit_after(:mark);
SELECT profile FROM mobisign.pki WHERE name = 'strict-c';

DROP FUNCTION both_profiles(text, text[], timestamptz);
DROP ROLE regress_strict_admin, regress_strict_app;
