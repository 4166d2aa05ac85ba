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


-- The canonical form that a row's hash covers (extension/audit_chain.h) is
-- the text of jsonb_build_array(id, time in microseconds since the Unix
-- epoch, actor, application, operation, transaction_id, outcome, detail,
-- chain_seq) in UTF-8.  Rows with every kind of value: quotes, backslashes,
-- control characters, non-ASCII text, nested and empty details, no
-- application or transaction.
SELECT mobisign.audit_log('test.canonical', 'quote " backslash \ tab	end',
           jsonb_build_object('nested', jsonb_build_array(1, 2.50, 'x', NULL, true),
                              'unicode', 'Grüße, ☃ €', 'control', E'a\u0001b\nc', 'empty', '{}'::jsonb),
           '00000000-0000-4000-8000-000000000001', E'shop\nline two') > 0 AS written;
SELECT mobisign.audit_log('test.canonical', 'ok') > 0 AS written;
SELECT mobisign.audit_log('test.canonical', 'ok', '"a scalar detail"'::jsonb, NULL, 'Ünïcode app') > 0 AS written;
SELECT mobisign.audit_seal() AS sealed;
-- Every sealed row's hash is SHA-256 of the previous hash and that text.
SELECT count(*) > 10 AS many_rows,
       count(*) FILTER (WHERE a.hash IS DISTINCT FROM sha256(a.prev_hash || convert_to(
           jsonb_build_array(a.id, (extract(epoch FROM a.at) * 1000000)::bigint, a.actor,
                             a.application, a.operation, a.transaction_id, a.outcome, a.detail,
                             a.chain_seq)::text, 'UTF8'))) AS hashes_not_of_that_form
  FROM mobisign.audit a WHERE a.chain_seq IS NOT NULL
   AND a.chain_seq <> 8;   -- edited and put back above with its old hash: the same row
-- audit_digest() computes the same hash for any row.
SELECT count(*) FILTER (WHERE mobisign.audit_digest(a.prev_hash, a) IS DISTINCT FROM a.hash) AS digests_differ
  FROM mobisign.audit a WHERE a.chain_seq > 8;

-- mobisign._audit_chain_check(first_seq, anchor) is the check behind
-- mobisign_audit_verify(): from position 6 on (after the gap made above),
-- linked to the hash the row at 6 names, the rest of the chain is intact;
-- with any other anchor the first row's link is wrong; from position 1 the
-- gap is found.
SELECT prev_hash AS anchor6 FROM mobisign.audit WHERE chain_seq = 6 \gset
SELECT intact, rows_checked = (SELECT count(*) FROM mobisign.audit WHERE chain_seq >= 6) AS all_rows,
       first_broken_seq, reason, head_hash = (SELECT hash FROM mobisign.audit ORDER BY chain_seq DESC LIMIT 1) AS head_is_last
  FROM mobisign._audit_chain_check(6, :'anchor6');
SELECT intact, rows_checked, first_broken_seq, reason, head_hash
  FROM mobisign._audit_chain_check(6, '\x00');
SELECT intact, rows_checked, first_broken_seq, reason FROM mobisign._audit_chain_check(1, '\x');
-- The sealer refuses a negative batch and seals nothing when nothing is pending.
SELECT err($$ SELECT mobisign.audit_seal(-1) $$);
SELECT mobisign.audit_seal(0) AS sealed_none, mobisign.audit_seal() AS nothing_pending;
