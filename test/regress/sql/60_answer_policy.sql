--
-- Policies that protect the SIM channel's answers and the revocation cache.
--

-- An answer must be signed by the user's expected certificate.  Here the
-- signature is bob's and carries bob's certificate, but the transaction
-- expected alice: a certificate inside the message is never accepted as the
-- signer in place of the expected one (422).
SELECT valid, status_code, reason
  FROM mobisign._verify_answer(fx('bob-attached-chain.p7s'), fx('content.txt'), NULL,
                               'alpha-full', 'sign', ARRAY[fx('alice-rsa.der')]);

-- With no expected certificate at all, nothing can be the signer (422).
SELECT valid, status_code, reason
  FROM mobisign._verify_answer(fx('bob-attached-chain.p7s'), fx('content.txt'), NULL,
                               'alpha-full', 'sign', NULL);

-- The same answer when bob is the expected signer verifies (502).
SELECT valid, status_code, signer_subject
  FROM mobisign._verify_answer(fx('bob-attached-chain.p7s'), fx('content.txt'), NULL,
                               'alpha-full', 'sign', ARRAY[fx('bob-ec.der')]);

-- A CRL issued in the future would shadow every genuine CRL until then:
-- it is refused, and the cached CRL stays.
\set VERBOSITY terse
SELECT mobisign_add_crl('alpha-full', fx('alpha-int-future.crl.der'));
\set VERBOSITY default
SELECT count(*) AS cached_int_crls FROM mobisign.crl c JOIN mobisign.pki p ON p.id = c.pki_id
 WHERE p.name = 'alpha-full' AND c.issuer LIKE 'CN=alpha-int%';

-- A signature that names its signer only by issuer and serial number, and
-- carries no certificate, is verified with the certificate cache.  Start
-- with bob not in the cache (earlier tests cached him): not found (422).
DELETE FROM mobisign.certificate WHERE subject = 'CN=bob-ec,O=mobisign test,C=FI';
SELECT valid, status_code, reason
  FROM mobisign_verify(fx('bob-detached-nocerts.p7s'), fx('content.txt'), pki => 'alpha-full');
-- A signature by bob that carries his certificate verifies, and caches it
-- (source 'device') ...
SELECT valid, status_code FROM mobisign_verify(fx('bob-attached-chain.p7s'), fx('content.txt'), pki => 'alpha-full');
SELECT source FROM mobisign.certificate WHERE subject = 'CN=bob-ec,O=mobisign test,C=FI';
-- ... so that his signature without any certificate now finds him.
SELECT valid, status_code, signer_subject
  FROM mobisign_verify(fx('bob-detached-nocerts.p7s'), fx('content.txt'), pki => 'alpha-full');

-- Within one transaction the signer's row is written once: a second
-- verification of the same signer would store the same values (its
-- last_validated_at is now(), fixed in a transaction), so it writes
-- nothing.  When the session changes the table itself, or a savepoint
-- undoes the write, the next verification writes the row again.
BEGIN;
SELECT valid FROM mobisign_verify(fx('bob-attached-chain.p7s'), fx('content.txt'), pki => 'alpha-full');
DELETE FROM mobisign.certificate WHERE subject = 'CN=bob-ec,O=mobisign test,C=FI';
SELECT valid FROM mobisign_verify(fx('bob-attached-chain.p7s'), fx('content.txt'), pki => 'alpha-full');
SELECT source, last_validated_at = now() AS validated_now
  FROM mobisign.certificate WHERE subject = 'CN=bob-ec,O=mobisign test,C=FI';
COMMIT;
BEGIN;
SAVEPOINT before_verify;
SELECT valid FROM mobisign_verify(fx('bob-attached-chain.p7s'), fx('content.txt'), pki => 'alpha-full');
ROLLBACK TO SAVEPOINT before_verify;
SELECT valid FROM mobisign_verify(fx('bob-attached-chain.p7s'), fx('content.txt'), pki => 'alpha-full');
SELECT source, last_validated_at = now() AS validated_now
  FROM mobisign.certificate WHERE subject = 'CN=bob-ec,O=mobisign test,C=FI';
COMMIT;
