--
-- Registering PKIs and their CRLs: mobisign_add_pki, mobisign_add_crl.
--
-- A PKI is a set of trust anchors plus a validation policy. Each PKI has its
-- own trust store: one PKI's anchors never validate another's certificates.
-- Certificates and CRLs may be given as DER or PEM.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';

-- PKI "alpha" trusts its root CA (DER). Revocation defaults to 'crl': a
-- certificate is valid only if a current CRL of every CA on its path says
-- it is not revoked.
SELECT mobisign_add_pki('alpha', ARRAY[fx('alpha-root.der')]) > 0 AS added;

-- The root's CRL (DER) and the intermediate's CRL (PEM), which lists carol.
SELECT mobisign_add_crl('alpha', fx('alpha-root.crl.der')) > 0 AS added;
SELECT mobisign_add_crl('alpha', fx('alpha-int.crl.pem')) > 0 AS added;

-- PKI "beta", independent, from a PEM anchor, with its CRL.
SELECT mobisign_add_pki('beta', ARRAY[fx('beta-root.pem')]) > 0 AS added;
SELECT mobisign_add_crl('beta', fx('beta-root.crl.der')) > 0 AS added;

-- Variants of alpha used by the validation tests:
-- "alpha-stale": the intermediate's only CRL expired in February 2023.
SELECT mobisign_add_pki('alpha-stale', ARRAY[fx('alpha-root.der')]) > 0 AS added;
SELECT mobisign_add_crl('alpha-stale', fx('alpha-root.crl.der')) > 0 AS added;
SELECT mobisign_add_crl('alpha-stale', fx('alpha-int-stale.crl.der')) > 0 AS added;
-- "alpha-stale-grace": the same, but stale CRLs are accepted for 10 years.
SELECT mobisign_add_pki('alpha-stale-grace', ARRAY[fx('alpha-root.der')], crl_grace => '10 years') > 0 AS added;
SELECT mobisign_add_crl('alpha-stale-grace', fx('alpha-root.crl.der')) > 0 AS added;
SELECT mobisign_add_crl('alpha-stale-grace', fx('alpha-int-stale.crl.der')) > 0 AS added;
-- "alpha-nocrl": revocation checking on, but no CRL at all: fails closed.
SELECT mobisign_add_pki('alpha-nocrl', ARRAY[fx('alpha-root.der')]) > 0 AS added;
-- "alpha-norev": no revocation checking.
SELECT mobisign_add_pki('alpha-norev', ARRAY[fx('alpha-root.der')], revocation => 'none') > 0 AS added;
-- "alpha-int-only": the intermediate CA (not self-signed) as the only anchor;
-- a configured anchor is trusted whether or not it is self-signed.
SELECT mobisign_add_pki('alpha-int-only', ARRAY[fx('alpha-int.der')], revocation => 'none') > 0 AS added;
-- "alpha-full": also registers the intermediate CA (untrusted: it must chain
-- to an anchor), so that signatures carrying only the signer's certificate,
-- or none, can be validated. With alpha's CRLs.
SELECT mobisign_add_pki('alpha-full', ARRAY[fx('alpha-root.der')], intermediates => ARRAY[fx('alpha-int.der')]) > 0 AS added;
SELECT mobisign_add_crl('alpha-full', fx('alpha-root.crl.der')) > 0 AS added;
SELECT mobisign_add_crl('alpha-full', fx('alpha-int.crl.der')) > 0 AS added;
-- "alpha-policy": the path must carry the alpha signing policy 2.999.1.1.
SELECT mobisign_add_pki('alpha-policy', ARRAY[fx('alpha-root.der')], revocation => 'none',
                        initial_policies => ARRAY['2.999.1.1'], explicit_policy => true) > 0 AS added;
-- "alpha-otherpolicy": the path must carry a policy alpha never issues under.
SELECT mobisign_add_pki('alpha-otherpolicy', ARRAY[fx('alpha-root.der')], revocation => 'none',
                        initial_policies => ARRAY['2.999.9.9'], explicit_policy => true) > 0 AS added;
-- "alpha-legacy": security level 0 accepts weak keys and SHA-1 signatures
-- (for old PKIs only; the default, 2, refuses them).
SELECT mobisign_add_pki('alpha-legacy', ARRAY[fx('alpha-root.der')], revocation => 'none',
                        security_level => 0) > 0 AS added;

-- What was stored.
SELECT name, revocation, initial_policies, explicit_policy, security_level,
       crl_grace, cardinality(trust_anchors) AS anchors, cardinality(intermediates) AS intermediates
  FROM mobisign.pki ORDER BY name;
SELECT p.name AS pki, c.issuer, c.this_update, c.next_update
  FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
 ORDER BY p.name, c.issuer, c.next_update;

-- Adding the same CRL again (here as DER) stores no second copy.
SELECT count(*) AS crls_before FROM mobisign.crl;
SELECT err($$ SELECT mobisign_add_crl('alpha', fx('alpha-int.crl.der')) $$) AS same_crl_again;
SELECT count(*) AS crls_after FROM mobisign.crl;

--
-- Bad input: each is an ERROR with a specific SQLSTATE and a message that
-- names the problem, and leaves nothing behind.
--
SELECT count(*) AS pkis_before FROM mobisign.pki;

-- a PKI name that is taken
SELECT err($$ SELECT mobisign_add_pki('alpha', ARRAY[fx('alpha-root.der')]) $$);
-- names are identifiers, not free text
SELECT err($$ SELECT mobisign_add_pki('bad name; drop', ARRAY[fx('alpha-root.der')]) $$);
SELECT err($$ SELECT mobisign_add_pki('', ARRAY[fx('alpha-root.der')]) $$);
-- NULLs
SELECT err($$ SELECT mobisign_add_pki(NULL, ARRAY[fx('alpha-root.der')]) $$);
SELECT err($$ SELECT mobisign_add_pki('x1', NULL) $$);
SELECT err($$ SELECT mobisign_add_pki('x1', ARRAY[NULL::bytea]) $$);
-- no anchor at all
SELECT err($$ SELECT mobisign_add_pki('x1', '{}') $$);
-- garbage bytes as an anchor
SELECT err($$ SELECT mobisign_add_pki('x1', ARRAY['\xdeadbeef'::bytea]) $$);
-- a truncated DER certificate
SELECT err($$ SELECT mobisign_add_pki('x1', ARRAY[substring(fx('alpha-root.der') FROM 1 FOR 200)]) $$);
-- a PEM holding two certificates where one is expected
SELECT err($$ SELECT mobisign_add_pki('x1', ARRAY[fx('alpha-chain.pem')]) $$);
-- a CA's CRL is not a certificate
SELECT err($$ SELECT mobisign_add_pki('x1', ARRAY[fx('alpha-root.crl.der')]) $$);
-- a huge array of anchors
SELECT err($$ SELECT mobisign_add_pki('x1', array_fill(fx('alpha-root.der'), ARRAY[10000])) $$);
-- unknown revocation mode
SELECT err($$ SELECT mobisign_add_pki('x1', ARRAY[fx('alpha-root.der')], revocation => 'sometimes') $$);
-- a policy that is not a dotted OID
SELECT err($$ SELECT mobisign_add_pki('x1', ARRAY[fx('alpha-root.der')], initial_policies => ARRAY['not-an-oid']) $$);
-- security levels are 0..5
SELECT err($$ SELECT mobisign_add_pki('x1', ARRAY[fx('alpha-root.der')], security_level => 9) $$);
-- a negative grace period
SELECT err($$ SELECT mobisign_add_pki('x1', ARRAY[fx('alpha-root.der')], crl_grace => '-1 day') $$);

SELECT count(*) AS pkis_after FROM mobisign.pki;
SELECT count(*) AS crls_before FROM mobisign.crl;

-- a CRL for a PKI that does not exist
SELECT err($$ SELECT mobisign_add_crl('no-such-pki', fx('alpha-root.crl.der')) $$);
-- NULLs
SELECT err($$ SELECT mobisign_add_crl(NULL, fx('alpha-root.crl.der')) $$);
SELECT err($$ SELECT mobisign_add_crl('alpha', NULL) $$);
-- garbage, truncated DER, a certificate instead of a CRL
SELECT err($$ SELECT mobisign_add_crl('alpha', '\x00'::bytea) $$);
SELECT err($$ SELECT mobisign_add_crl('alpha', substring(fx('alpha-int.crl.der') FROM 1 FOR 100)) $$);
SELECT err($$ SELECT mobisign_add_crl('alpha', fx('alice-rsa.der')) $$);
-- a PEM holding two CRLs
SELECT err($$ SELECT mobisign_add_crl('alpha', fx('alpha-root.crl.pem') || fx('alpha-int.crl.pem')) $$);

SELECT count(*) AS crls_after FROM mobisign.crl;

-- Who may sign a CRL that the refresh fetches from a distribution point or a
-- directory: a certificate with the CRL issuer's name and the right to sign
-- CRLs (keyUsage cRLSign, or a CA certificate without keyUsage). The
-- intermediate's own CRL is signed by it:
SELECT mobisign._crl_signed_by(fx('alpha-int.crl.der'), ARRAY[fx('alpha-root.der'), fx('alpha-int.der')]) AS int_crl;
-- alpha-int-twin is an end-entity certificate (digitalSignature only) that
-- alpha-int issued with alpha-int's own name; a CRL signed with its key is
-- not a CRL of alpha-int, whether the twin or the real CA is offered:
SELECT mobisign._crl_signed_by(fx('alpha-int-twin.crl.der'), ARRAY[fx('alpha-int-twin.der')]) AS twin_crl_by_twin,
       mobisign._crl_signed_by(fx('alpha-int-twin.crl.der'), ARRAY[fx('alpha-int.der')]) AS twin_crl_by_int;
-- The same through the refresh: the twin registered as a user's certificate
-- (it validates: 502) is a cached certificate of the PKI with the CRL
-- issuer's name, and its newer CRL would have displaced the intermediate's
-- (every later validation then fails on the CRL's signature). Refused, and
-- the cache keeps the CA's CRL. (All rolled back.)
BEGIN;
SELECT mobisign_add_pki('alpha-twin', ARRAY[fx('alpha-root.der')], intermediates => ARRAY[fx('alpha-int.der')]) > 0 AS added;
SELECT mobisign_add_crl('alpha-twin', fx('alpha-root.crl.der')) > 0 AS added;
SELECT mobisign_add_crl('alpha-twin', fx('alpha-int.crl.der')) > 0 AS added;
SELECT mobisign_register_user('twin', '358401000099', 'alpha-twin', certificate => fx('alpha-int-twin.der'));
SELECT subject, last_status FROM mobisign.certificate WHERE source = 'register' AND subject = 'CN=alpha-int,O=mobisign test,C=FI';
SELECT err($$ SELECT mobisign._store_fetched_crl(p, fx('alpha-int-twin.crl.der'), 'http://127.0.0.1:9/int.crl')
                FROM mobisign.pki p WHERE p.name = 'alpha-twin' $$) AS twin_crl_fetched;
SELECT c.issuer, c.this_update FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
 WHERE p.name = 'alpha-twin' ORDER BY c.issuer;
ROLLBACK;
