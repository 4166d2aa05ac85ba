--
-- The verification cache (docs/verification.md, "The verification cache").
--
-- Each backend keeps parsed certificates and keys, and the signatures that
-- verified, keyed by the SHA-256 of their exact bytes; what belongs to a PKI
-- (anchors, intermediates, CRLs) is reloaded as soon as the PKI's row
-- changes.  Validity, CRL times and revocation are checked on every call.
-- This suite shows that a cache hit never hides a change: a new CRL, a
-- replaced trust anchor, a certificate that differs by one byte.
--
-- PKI cache-gamma: gamma-root, gamma-int and users gina-ec and gus-revoked-ec
-- (all P-256).  gamma-int-before.crl was issued before gus was revoked;
-- gamma-int.crl lists gus.
SET TimeZone = 'UTC';
SELECT mobisign_add_pki('cache-gamma', ARRAY[fx('gamma-root.der')],
                        intermediates => ARRAY[fx('gamma-int.der')]) > 0 AS added;
SELECT mobisign_add_crl('cache-gamma', fx('gamma-root.crl.der')) > 0 AS root_crl,
       mobisign_add_crl('cache-gamma', fx('gamma-int-before.crl.der')) > 0 AS int_crl;

-- c(cert) is one validation against cache-gamma; s() the cache's counters.
CREATE FUNCTION c(cert bytea, OUT valid boolean, OUT status_code integer, OUT reason text)
LANGUAGE sql AS $$
    SELECT r.valid, r.status_code, r.reason FROM mobisign_validate_certificate(cert, pki => 'cache-gamma') r
$$;
CREATE TEMP TABLE mark AS SELECT * FROM mobisign_verify_cache_stats();
CREATE FUNCTION since_mark(OUT hits bigint, OUT misses bigint, OUT more_entries bigint)
LANGUAGE sql AS $$
    SELECT s.hits - m.hits, s.misses - m.misses, s.entries - m.entries
      FROM mobisign_verify_cache_stats() s, mark m
$$;
CREATE FUNCTION set_mark() RETURNS void LANGUAGE sql AS $$
    DELETE FROM mark; INSERT INTO mark SELECT * FROM mobisign_verify_cache_stats()
$$;

-- The limits (mobisign.verify_cache_entries, mobisign.verify_cache_kb).
SELECT max_entries, pg_size_pretty(max_bytes) AS max_bytes FROM mobisign_verify_cache_stats();

-- The first validation of gina parses her certificate and checks every
-- signature: the certificate's, the intermediate's, both CRLs'.  Each is
-- a miss and becomes an entry.
SELECT * FROM c(fx('gina-ec.der'));
SELECT misses > 0 AS missed, more_entries > 0 AS stored FROM since_mark();
-- The second is answered from the cache: hits only, nothing new stored.
SELECT set_mark();
SELECT * FROM c(fx('gina-ec.der'));
SELECT hits > 0 AS hit, misses AS misses, more_entries AS more_entries FROM since_mark();

-- A certificate that differs from gina's by its last byte (inside the
-- signature) is other content: it misses, and its signature fails.
SELECT set_mark();
SELECT * FROM c(overlay(fx('gina-ec.der') PLACING
                        set_byte('\x00'::bytea, 0, get_byte(fx('gina-ec.der'), length(fx('gina-ec.der')) - 1) # 1)
                        FROM length(fx('gina-ec.der'))));
SELECT misses > 0 AS missed FROM since_mark();
-- And gina herself is still valid.
SELECT * FROM c(fx('gina-ec.der'));

-- gus is not on the CRL cached so far: valid.
SELECT * FROM c(fx('gus-revoked-ec.der'));
-- A new CRL lists him.  The very next validation, in the same session and
-- without waiting, says revoked (501): the PKI's CRLs were reloaded.
SELECT mobisign_add_crl('cache-gamma', fx('gamma-int.crl.der')) > 0 AS newer_crl;
SELECT * FROM c(fx('gus-revoked-ec.der'));
-- gina, on the same CRL but not revoked, stays valid.
SELECT * FROM c(fx('gina-ec.der'));

-- Inside one transaction: the CRL that revokes gus is deleted, and the
-- next validation in that transaction fails closed (424: no CRL for his
-- issuer); after the rollback the CRL is back and so is the revocation.
BEGIN;
DELETE FROM mobisign.crl WHERE pki_id = (SELECT id FROM mobisign.pki WHERE name = 'cache-gamma')
                           AND issuer LIKE 'CN=gamma-int%';
SELECT valid, status_code FROM c(fx('gus-revoked-ec.der'));
ROLLBACK;
SELECT valid, status_code FROM c(fx('gus-revoked-ec.der'));

-- A replaced trust anchor takes effect at once, even when only the row
-- changes (no generation bump): gamma-rekeyed has gamma-root's name but
-- another key, so the intermediate (whose signature by the old root is in
-- the cache) no longer chains to a trusted key.
UPDATE mobisign.pki SET trust_anchors = ARRAY[fx('gamma-rekeyed.der')] WHERE name = 'cache-gamma';
SELECT valid, status_code FROM c(fx('gina-ec.der'));
-- The genuine root again: valid again.
UPDATE mobisign.pki SET trust_anchors = ARRAY[fx('gamma-root.der')] WHERE name = 'cache-gamma';
SELECT valid, status_code FROM c(fx('gina-ec.der'));

-- Time-dependent checks are made on every call, cache or not: in 2023 the
-- CRLs (issued 2024) are not yet valid (424); in 2041 gina has expired.
SELECT valid, status_code, reason
  FROM mobisign_validate_certificate(fx('gina-ec.der'), pki => 'cache-gamma', at => '2023-06-01');
SELECT valid, status_code, reason
  FROM mobisign_validate_certificate(fx('gina-ec.der'), pki => 'cache-gamma', at => '2041-06-01');

-- CMS signatures and raw signatures go through the same cache.
SELECT set_mark();
SELECT valid, status_code, signer_subject
  FROM mobisign_verify(fx('gina-detached-chain.p7s'), fx('content.txt'), pki => 'cache-gamma');
SELECT valid, status_code, signer_subject
  FROM mobisign_verify(fx('gina-detached-chain.p7s'), fx('content.txt'), pki => 'cache-gamma');
SELECT hits > 0 AS hit FROM since_mark();
SELECT mobisign_verify_signature(fx('gina-ec.der'), fx('content.txt'), fx('gina-raw-sha256.sig'), 'ecdsa-sha256') AS raw_ok,
       mobisign_verify_signature(fx('gina-ec.der'), fx('other-content.txt'), fx('gina-raw-sha256.sig'), 'ecdsa-sha256') AS raw_other_content;

-- The path memo (extension/path_memo.h): a valid validation is remembered
-- with the chain it built, keyed by the certificate, the caller's
-- intermediates, the PKI's generation and row version, and the key usage;
-- it answers only for a check time between the same validity and CRL times.
-- memo_hits() counts the memo's answers since the mark.
CREATE TEMP TABLE memo_mark AS SELECT path_memo_hits FROM mobisign_verify_cache_stats();
CREATE FUNCTION memo_hits() RETURNS bigint LANGUAGE sql AS $$
    SELECT s.path_memo_hits - m.path_memo_hits FROM mobisign_verify_cache_stats() s, memo_mark m
$$;
CREATE FUNCTION memo_mark() RETURNS void LANGUAGE sql AS $$
    UPDATE memo_mark SET path_memo_hits = (SELECT path_memo_hits FROM mobisign_verify_cache_stats())
$$;
-- gina's validations above (at the current time) made an entry; no
-- certificate or CRL time lies between now and mid-2030 (her certificate and
-- the CRLs run from 2024 to 2040 and 2045, the CAs' for ten years from
-- today), so validations at two times in 2030 are both answered by it, with
-- the same result and evidence (checked_at is each call's own time).
SELECT memo_mark();
SELECT valid, status_code, reason, chain, evidence->>'checked_at' AS checked_at, evidence->'crls' AS crls
  FROM mobisign_validate_certificate(fx('gina-ec.der'), pki => 'cache-gamma', at => '2030-06-01 12:00');
SELECT valid, status_code, reason, chain, evidence->>'checked_at' AS checked_at, evidence->'crls' AS crls
  FROM mobisign_validate_certificate(fx('gina-ec.der'), pki => 'cache-gamma', at => '2030-06-01 12:01');
SELECT memo_hits() AS memo_hits;
-- Another time across a boundary (gina has expired in 2041) is validated in
-- full, and fails: the memo never answers outside its interval.
SELECT valid, status_code FROM mobisign_validate_certificate(fx('gina-ec.der'), pki => 'cache-gamma', at => '2041-06-01');
SELECT memo_hits() AS memo_hits;
-- A change of the PKI (a CRL added: its generation is bumped) makes every
-- entry of the old generation unreachable: gus, memoised as valid under the
-- CRL before his revocation, is revoked at once.
DELETE FROM mobisign.crl WHERE pki_id = (SELECT id FROM mobisign.pki WHERE name = 'cache-gamma')
                           AND issuer LIKE 'CN=gamma-int%';
SELECT mobisign_add_crl('cache-gamma', fx('gamma-int-before.crl.der')) > 0 AS older_crl;
SELECT valid, status_code FROM mobisign_validate_certificate(fx('gus-revoked-ec.der'), pki => 'cache-gamma', at => '2030-06-01 12:00');
SELECT valid, status_code FROM mobisign_validate_certificate(fx('gus-revoked-ec.der'), pki => 'cache-gamma', at => '2030-06-01 12:00');
SELECT memo_mark();
SELECT mobisign_add_crl('cache-gamma', fx('gamma-int.crl.der')) > 0 AS newer_crl;
SELECT valid, status_code FROM mobisign_validate_certificate(fx('gus-revoked-ec.der'), pki => 'cache-gamma', at => '2030-06-01 12:00');
SELECT memo_hits() AS memo_hits;
-- Switched off (mobisign.path_memo_entries = 0, a superuser setting), the
-- answers are the same and the memo is not asked.
SET mobisign.path_memo_entries = 0;
SELECT memo_mark();
SELECT valid, status_code FROM mobisign_validate_certificate(fx('gina-ec.der'), pki => 'cache-gamma', at => '2030-06-01 12:00');
SELECT valid, status_code FROM mobisign_validate_certificate(fx('gina-ec.der'), pki => 'cache-gamma', at => '2030-06-01 12:00');
SELECT memo_hits() AS memo_hits;
RESET mobisign.path_memo_entries;

-- The cache can be switched off (a superuser setting): the answers are the
-- same, and nothing is looked up.
SET mobisign.verify_cache_entries = 0;
SELECT set_mark();
SELECT * FROM c(fx('gina-ec.der'));
SELECT * FROM c(fx('gus-revoked-ec.der'));
SELECT hits, misses FROM since_mark();
RESET mobisign.verify_cache_entries;

-- A small cache evicts the least recently used entries to stay in bounds.
SET mobisign.verify_cache_entries = 3;
SELECT * FROM c(fx('gina-ec.der'));
SELECT entries <= 3 AS within_bound, evictions > 0 AS evicted FROM mobisign_verify_cache_stats();
RESET mobisign.verify_cache_entries;

-- An application may read the counters; the limits are the superuser's.
CREATE ROLE cache_app IN ROLE mobisign_app;
SET ROLE cache_app;
SELECT entries >= 0 AS readable FROM mobisign_verify_cache_stats();
SELECT errcode('SET mobisign.verify_cache_entries = 5') AS set_limit;
RESET ROLE;
DROP ROLE cache_app;

-- Clean up: later suites see the PKIs of 10_pki only.
DELETE FROM mobisign.pki WHERE name = 'cache-gamma';
