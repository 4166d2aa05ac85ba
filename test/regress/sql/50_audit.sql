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

-- The canonical form over many varied rows: audit_digest() (the sealer's and
-- the check's own serializer) against SHA-256 of the jsonb_build_array text,
-- for 6,000 rows made here (not stored). txt(i) puts every character that
-- needs an escape, and non-ASCII ones of 2, 3 and 4 bytes, at every offset
-- of strings of every length from 0 to 40 bytes.
CREATE FUNCTION pg_temp.txt(i int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT substr('abcdefghijklmnopqrstuvwxyz', 1, i % 17)
           || (ARRAY[E'"', E'\\', E'\b', E'\f', E'\n', E'\r', E'\t', chr(1), chr(31), chr(127),
                     'ü', '€', '☃', '😀', '', ' ', '/', E'\\u0041'])[1 + i % 18]
           || repeat('é', i % 5) || substr('0123456789ABCDEF', 1, (i / 17) % 16)
$$;
CREATE TEMP TABLE canon_rows AS
SELECT ROW(i, CASE WHEN i % 10 = 0 THEN timestamptz '1960-02-29 12:00:00.123456+00' - i * interval '1 s'
                   ELSE timestamptz '2026-01-01 00:00:00+00' + i * interval '1.000001 s' END,
           (ARRAY['postgres', E'we"ird\\actor', 'ünï'])[1 + i % 3]::name,
           CASE WHEN i % 4 = 0 THEN NULL ELSE pg_temp.txt(i + 3) END,
           pg_temp.txt(i + 4),
           CASE WHEN i % 3 = 0 THEN NULL ELSE md5(i::text)::uuid END,
           pg_temp.txt(i + 5),
           CASE i % 12
               WHEN 0 THEN jsonb_build_object(pg_temp.txt(i), pg_temp.txt(i + 1), 'n', i * 1.5,
                                              'nested', jsonb_build_array(pg_temp.txt(i + 2), NULL, true, false, '{}'::jsonb))
               WHEN 1 THEN '{}'::jsonb
               WHEN 2 THEN '[]'::jsonb
               WHEN 3 THEN to_jsonb(pg_temp.txt(i))
               WHEN 4 THEN to_jsonb(i - 3000)
               WHEN 5 THEN 'null'::jsonb
               WHEN 6 THEN 'true'::jsonb
               WHEN 7 THEN jsonb_build_array(jsonb_build_array(jsonb_build_array()),
                                             jsonb_build_object('a', jsonb_build_object('b', jsonb_build_array(1, 'x'))))
               WHEN 8 THEN jsonb_build_object('big', 12345678901234567890.000123, 'tiny', 1e-20,
                                              'exp', '1e30'::numeric, 'neg', -0.50, 'false', false)
               WHEN 9 THEN jsonb_build_object(pg_temp.txt(i), NULL, '', '', 'e', '[]'::jsonb)
               WHEN 10 THEN jsonb_build_object('long', repeat(pg_temp.txt(i), 20), 'arr', to_jsonb(ARRAY[i, -i]))
               ELSE jsonb_build_object('kind', 'authenticate', 'user_id', 'user' || i, 'segments', 2)
           END,
           CASE WHEN i % 7 = 0 THEN NULL ELSE i END, NULL, NULL)::mobisign.audit AS r
  FROM generate_series(1, 6000) AS i;
SELECT count(*) AS rows_compared,
       count(DISTINCT jsonb_typeof((r).detail)) AS kinds_of_detail,
       count(*) FILTER (WHERE (r).application IS NULL) > 0 AS some_without_application,
       count(*) FILTER (WHERE mobisign.audit_digest('\x0102', r) IS DISTINCT FROM sha256('\x0102' || convert_to(
           jsonb_build_array((r).id, (extract(epoch FROM (r).at) * 1000000)::bigint, (r).actor,
                             (r).application, (r).operation, (r).transaction_id, (r).outcome, (r).detail,
                             (r).chain_seq)::text, 'UTF8'))) AS digests_differ
  FROM canon_rows;

-- Hostile details the same way: numbers as jsonb keeps them (1e1000, -0,
-- exponent forms, many digits), nesting 1,000 deep, strings of a megabyte
-- with an escape in the last byte or a quote after 300,000 two-byte
-- characters, and strings of 1 to 80 bytes with one escape at each position
-- (the eight-byte words and the overlapping last word of audit_canon.c).
CREATE TEMP TABLE hostile_details AS
SELECT x::jsonb AS d
  FROM unnest(ARRAY['1e1000', '-0', '-0.0', '0E-20', '1E+2', '-1.5e-300', '123456789012345678901234567890e-40',
                    '[1e1000, -0, 0.000000000000000000001, 1E+2, 1e-1000]', '{"a": -0.0e5, "b": 9e131000}']) AS x
UNION ALL SELECT (repeat('[', 1000) || '"deep"' || repeat(']', 1000))::jsonb
UNION ALL SELECT (repeat('{"k": [', 500) || '1' || repeat(']}', 500))::jsonb
UNION ALL SELECT to_jsonb(repeat('x', 1048575) || E'\n')
UNION ALL SELECT to_jsonb(repeat('é', 300000) || '"')
UNION ALL SELECT to_jsonb(overlay(repeat('a', n) PLACING c FROM p FOR 1))
  FROM generate_series(1, 80) AS n, generate_series(1, 80) AS p,
       unnest(ARRAY[E'"', E'\\', chr(1), E'\t', chr(31)]) AS c
 WHERE p <= n;
SELECT count(*) AS hostile_rows,
       count(*) FILTER (WHERE mobisign.audit_digest('\x0102', r) IS DISTINCT FROM sha256('\x0102' || convert_to(
           jsonb_build_array((r).id, (extract(epoch FROM (r).at) * 1000000)::bigint, (r).actor,
                             (r).application, (r).operation, (r).transaction_id, (r).outcome, (r).detail,
                             (r).chain_seq)::text, 'UTF8'))) AS digests_differ
  FROM (SELECT ROW(1, timestamptz '2026-01-01 00:00:00+00', 'postgres'::name, NULL, 'op', NULL, 'ok', d, 1,
                   NULL, NULL)::mobisign.audit AS r
          FROM hostile_details) AS h;

-- The check reads the table in its physical order while that is the chain
-- order and goes on through the chain_seq index from the first row that is
-- not; the sealer stores a long run in order. An edit of a detail with
-- non-ASCII text and escapes inside that run is found, then put back.
SELECT coalesce(max(chain_seq), 0) AS last_seq FROM mobisign.audit \gset
SELECT count(mobisign.audit_log('test.ordered_run', 'ok', jsonb_build_object('i', i, 'text', 'Grüße "' || i || E'"\n☃'))) AS written
  FROM generate_series(1, 300) AS i;
SELECT mobisign.audit_seal() AS sealed;
SELECT coalesce((SELECT hash FROM mobisign.audit WHERE chain_seq = :last_seq), '\x') AS run_anchor \gset
SELECT intact, rows_checked, reason FROM mobisign._audit_chain_check(:last_seq + 1, :'run_anchor');
SELECT id AS tampered_id, detail AS original_detail FROM mobisign.audit WHERE chain_seq = :last_seq + 150 \gset
SET session_replication_role = replica;
UPDATE mobisign.audit SET detail = jsonb_set(detail, '{text}', '"Grüße \"150\"\n☃ "') WHERE chain_seq = :last_seq + 150;
RESET session_replication_role;
SELECT intact, rows_checked, first_broken_id = :tampered_id AS names_the_edited_row,
       first_broken_seq - :last_seq AS broken_in_run, reason
  FROM mobisign._audit_chain_check(:last_seq + 1, :'run_anchor');
SET session_replication_role = replica;
UPDATE mobisign.audit SET detail = :'original_detail' WHERE chain_seq = :last_seq + 150;
RESET session_replication_role;
SELECT intact, rows_checked FROM mobisign._audit_chain_check(:last_seq + 1, :'run_anchor');

-- Without a unique index on chain_seq the check reads the chain through a
-- query instead, with the same results (here inside a transaction that is
-- rolled back).
BEGIN;
DROP INDEX mobisign.audit_chain_seq_key;
SELECT intact, rows_checked, reason FROM mobisign._audit_chain_check(:last_seq + 1, :'run_anchor');
SELECT intact, rows_checked, first_broken_seq, reason FROM mobisign._audit_chain_check(1, '\x');
ROLLBACK;
SELECT intact, rows_checked, first_broken_seq, reason FROM mobisign._audit_chain_check(1, '\x');

-- Long work shows its progress.  The view mobisign.progress has a row for
-- every session running mobisign_audit_verify() (its phases: sealing,
-- checking, done) until the end of that session's transaction; the caller
-- also gets a NOTICE at most every mobisign.progress_interval (10 s by
-- default: none for these few rows).
BEGIN;
SELECT rows_checked AS verified_rows FROM mobisign_audit_verify() \gset
SELECT command, phase, rows_done = :verified_rows AS counts_every_row, rows_total = rows_done AS complete,
       percent, role = current_user AS my_role, database = current_database() AS my_database
  FROM mobisign.progress WHERE pid = pg_backend_pid();
COMMIT;
SELECT count(*) AS rows_after_commit FROM mobisign.progress WHERE pid = pg_backend_pid();
-- A command whose (sub)transaction is rolled back leaves nothing behind.
BEGIN;
SAVEPOINT before_work;
SELECT mobisign._progress_phase('test', 'working', 40, 10);
SELECT command, phase, rows_done, rows_total, percent FROM mobisign.progress WHERE pid = pg_backend_pid();
ROLLBACK TO before_work;
SELECT count(*) AS rows_after_rollback FROM mobisign.progress WHERE pid = pg_backend_pid();
COMMIT;
-- Nobody but the staff reads it.
SELECT has_table_privilege('mobisign_app', 'mobisign.progress', 'SELECT') AS app_reads,
       has_table_privilege('mobisign_auditor', 'mobisign.progress', 'SELECT') AS auditor_reads;
