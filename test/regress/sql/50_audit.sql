--
-- The audit trail: mobisign.audit and mobisign_audit_verify().
--
-- Every administrative change and every verification made through the API
-- writes a row. Rows are hash-chained; mobisign_audit_verify() seals pending
-- rows into the chain, recomputes it and names the first broken row.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';

-- The earlier tests' calls left rows for every kind of operation.
SELECT DISTINCT operation FROM mobisign.audit ORDER BY operation;
-- Failed calls (an ERROR) leave no row: their transaction is rolled back,
-- audit row included. Every row names its actor.
SELECT count(*) AS rows_without_actor FROM mobisign.audit WHERE actor IS NULL;

-- Each call writes its row: one validation, one signature verification and
-- one raw check, each followed by the newest row.
SELECT valid FROM mobisign_validate_certificate(fx('carol-revoked.der'), ARRAY[fx('alpha-int.der')], 'alpha');
SELECT operation, outcome, actor = current_user AS by_me FROM mobisign.audit ORDER BY id DESC LIMIT 1;
SELECT valid FROM mobisign_verify(fx('bob-attached-chain.p7s'), NULL, pki => 'alpha');
SELECT operation, outcome, actor = current_user AS by_me FROM mobisign.audit ORDER BY id DESC LIMIT 1;
SELECT mobisign_verify_signature(fx('bob.spki.der'), fx('content.txt'), fx('bob-raw-sha256.sig'), 'ecdsa-sha256');
SELECT operation, outcome, actor = current_user AS by_me FROM mobisign.audit ORDER BY id DESC LIMIT 1;
-- An administrative change too.
SELECT mobisign_add_pki('audit-test', ARRAY[fx('beta-root.der')]) > 0 AS added;
SELECT operation, outcome, actor = current_user AS by_me FROM mobisign.audit ORDER BY id DESC LIMIT 1;

-- The chain is intact.
SELECT intact, rows_checked > 10 AS many_rows, first_broken_id, first_broken_seq, reason,
       length(head_hash) AS head_hash_bytes
  FROM mobisign_audit_verify();
-- Every row is now sealed into the chain.
SELECT count(*) AS unsealed FROM mobisign.audit WHERE chain_seq IS NULL;

-- Nobody rewrites history through SQL, not even a superuser:
SELECT err($$ UPDATE mobisign.audit SET outcome = 'forged' WHERE chain_seq = 3 $$);
SELECT err($$ DELETE FROM mobisign.audit WHERE chain_seq = 3 $$);
SELECT err($$ TRUNCATE mobisign.audit $$);

-- ... except by switching the triggers off (session_replication_role =
-- replica), which only a superuser can do. Then the chain shows it: the
-- edited row (chain position 3) is named.
SELECT id AS victim_id, outcome AS original_outcome FROM mobisign.audit WHERE chain_seq = 3 \gset
SET session_replication_role = replica;
UPDATE mobisign.audit SET outcome = 'forged' WHERE chain_seq = 3;
RESET session_replication_role;
SELECT intact, first_broken_id = :victim_id AS names_the_edited_row, first_broken_seq, reason
  FROM mobisign_audit_verify();

-- Put the original back: intact again.
SET session_replication_role = replica;
UPDATE mobisign.audit SET outcome = :'original_outcome' WHERE chain_seq = 3;
RESET session_replication_role;
SELECT intact, first_broken_id FROM mobisign_audit_verify();

-- An edit of the detail (jsonb) of a later row is caught as well.
SET session_replication_role = replica;
UPDATE mobisign.audit SET detail = detail || '{"forged": true}' WHERE chain_seq = 7;
RESET session_replication_role;
SELECT intact, first_broken_seq, reason FROM mobisign_audit_verify();
SET session_replication_role = replica;
UPDATE mobisign.audit SET detail = detail - 'forged' WHERE chain_seq = 7;
RESET session_replication_role;
SELECT intact FROM mobisign_audit_verify();

-- Recomputing a row's hash after editing it does not help: the next row's
-- link (prev_hash) no longer matches. (Rewriting the whole rest of the chain
-- would; that is why head_hash should be recorded outside the database.)
SELECT outcome AS outcome8, hash AS hash8 FROM mobisign.audit WHERE chain_seq = 8 \gset
SET session_replication_role = replica;
UPDATE mobisign.audit a SET outcome = 'forged' WHERE chain_seq = 8;
UPDATE mobisign.audit a SET hash = mobisign.audit_digest(a.prev_hash, a) WHERE chain_seq = 8;
RESET session_replication_role;
SELECT intact, first_broken_seq, reason FROM mobisign_audit_verify();
SET session_replication_role = replica;
UPDATE mobisign.audit SET outcome = :'outcome8', hash = :'hash8' WHERE chain_seq = 8;
RESET session_replication_role;
SELECT intact FROM mobisign_audit_verify();

-- A row deleted from the middle: the gap is found at the next row.
SELECT id AS after_gap_id FROM mobisign.audit WHERE chain_seq = 6 \gset
SET session_replication_role = replica;
DELETE FROM mobisign.audit WHERE chain_seq = 5;
RESET session_replication_role;
SELECT intact, first_broken_id = :after_gap_id AS names_the_row_after_the_gap, first_broken_seq, reason
  FROM mobisign_audit_verify();

