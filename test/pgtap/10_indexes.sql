-- The indexes of the tables a request writes (docs/operations.md, "Indexes
-- of the request path"): exactly these, each one needed by a query, so that
-- no request pays for an entry nobody reads.  A chain position stays unique
-- (the partial unique index refuses a duplicate as the UNIQUE constraint
-- did; unsealed rows, NULL, have no entry), and on populated, analyzed
-- tables the purge's statements (70_retention.sql), the chain's lookups
-- (20_audit.sql, extension/audit_chain.c), the audit by transaction and the
-- queries by time are index scans, never a sequential scan of the table:
-- the plans are read from EXPLAIN (FORMAT JSON), with the planner's
-- settings as they are.  This whole file is one transaction, rolled back.
BEGIN;
SELECT plan(16);

SELECT set_eq($$
    SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i
     WHERE i.indrelid = ANY (ARRAY['mobisign.transaction', 'mobisign.request_queue', 'mobisign.audit',
                                   'mobisign.sim_key', 'mobisign.inbound_segment',
                                   'mobisign.answer_queue']::regclass[])
$$, ARRAY[
    'CREATE UNIQUE INDEX transaction_pkey ON mobisign.transaction USING btree (id)',
    'CREATE UNIQUE INDEX transaction_reference_key ON mobisign.transaction USING btree (reference)',
    'CREATE UNIQUE INDEX transaction_one_open_per_user ON mobisign.transaction USING btree (user_id) WHERE mobisign._is_open(state)',
    'CREATE INDEX transaction_open_expiry ON mobisign.transaction USING btree (expires_at) WHERE mobisign._is_open(state)',
    'CREATE INDEX transaction_open_msisdn ON mobisign.transaction USING btree (msisdn) WHERE mobisign._is_open(state)',
    'CREATE INDEX transaction_completed ON mobisign.transaction USING btree (completed_at) WHERE (completed_at IS NOT NULL)',
    'CREATE UNIQUE INDEX request_queue_pkey ON mobisign.request_queue USING btree (transaction_id)',
    'CREATE INDEX request_queue_pending ON mobisign.request_queue USING btree (next_attempt_at) WHERE (NOT done)',
    'CREATE INDEX request_queue_finished ON mobisign.request_queue USING btree (transaction_id) WHERE (done AND (attempts <= 1) AND (smsc_message_ids IS NULL))',
    'CREATE UNIQUE INDEX audit_pkey ON mobisign.audit USING btree (id)',
    'CREATE UNIQUE INDEX audit_chain_seq_key ON mobisign.audit USING btree (chain_seq) WHERE (chain_seq IS NOT NULL)',
    'CREATE INDEX audit_unsealed ON mobisign.audit USING btree (id) WHERE (chain_seq IS NULL)',
    'CREATE INDEX audit_transaction ON mobisign.audit USING btree (transaction_id) WHERE (transaction_id IS NOT NULL)',
    'CREATE INDEX audit_at ON mobisign.audit USING brin (at) WITH (autosummarize=''on'')',
    'CREATE UNIQUE INDEX sim_key_pkey ON mobisign.sim_key USING btree (msisdn, key_set)',
    'CREATE UNIQUE INDEX inbound_segment_pkey ON mobisign.inbound_segment USING btree (id)',
    'CREATE UNIQUE INDEX inbound_segment_dedup ON mobisign.inbound_segment USING btree (msisdn, digest) WHERE (NOT processed)',
    'CREATE INDEX inbound_segment_pending ON mobisign.inbound_segment USING btree (msisdn, concat_ref) WHERE (NOT processed)',
    'CREATE INDEX inbound_segment_received ON mobisign.inbound_segment USING brin (received_at) WITH (autosummarize=''on'')',
    'CREATE UNIQUE INDEX answer_queue_pkey ON mobisign.answer_queue USING btree (id)',
    'CREATE INDEX answer_queue_msisdn ON mobisign.answer_queue USING btree (msisdn)'
], 'the tables a request writes have exactly the indexes their queries need');

-- A populated trail: 40,000 rows over 400 days (one every 864 s), the last
-- 100 not sealed yet; 40,000 transactions over the same days, all final
-- but the last 20.  Rows are written as the application writes them:
-- appended in time order.
INSERT INTO mobisign.audit (at, operation, transaction_id, outcome, detail, chain_seq, prev_hash, hash)
SELECT pg_catalog.now() - interval '400 days' + g * interval '864 s', 'transaction.queued',
       pg_catalog.gen_random_uuid(), 'REQUEST_OK', pg_catalog.jsonb_build_object('n', g),
       s.seq, s.h, s.h
  FROM pg_catalog.generate_series(1, 40000) g,
       LATERAL (SELECT CASE WHEN g <= 39900 THEN g END AS seq,
                       CASE WHEN g <= 39900 THEN pg_catalog.sha256(g::text::bytea) END AS h) s;
INSERT INTO mobisign.transaction (kind, user_id, msisdn, reference, data, data_hash, verification_code,
                                  state, status_code, created_at, submitted_at, completed_at, expires_at)
SELECT 'authenticate', 'tapuser' || g, '35840' || pg_catalog.lpad(g::text, 7, '0'), pg_catalog.int8send(g),
       '\x00', pg_catalog.sha256('\x00'), '1234', 'completed', 502,
       c, c + interval '1 s', c + interval '5 s', c + interval '2 min'
  FROM pg_catalog.generate_series(1, 39980) g,
       LATERAL (SELECT pg_catalog.now() - interval '400 days' + g * interval '864 s' AS c) x;
-- 40,000 processed segments over the same days
INSERT INTO mobisign.inbound_segment (msisdn, received_at, user_data, digest, processed)
SELECT '35840' || pg_catalog.lpad((g % 1000)::text, 7, '0'), pg_catalog.now() - interval '400 days' + g * interval '864 s',
       pg_catalog.int8send(g), pg_catalog.sha256(pg_catalog.int8send(g)), true
  FROM pg_catalog.generate_series(1, 40000) g;
ANALYZE mobisign.inbound_segment;
ANALYZE mobisign.audit;
ANALYZE mobisign.transaction;

-- a duplicate chain position is refused, unsealed rows are not in conflict
SELECT throws_ok($$
    INSERT INTO mobisign.audit (operation, outcome, chain_seq, prev_hash, hash)
    VALUES ('tap-duplicate', 'ok', 17, '\x00', '\x00') $$,
    '23505', 'duplicate key value violates unique constraint "audit_chain_seq_key"',
    'a second audit row at a chain position already taken is refused');
SELECT lives_ok($$
    INSERT INTO mobisign.audit (operation, outcome) VALUES ('tap-unsealed', 'ok'), ('tap-unsealed', 'ok') $$,
    'unsealed audit rows (no chain position) are never in conflict');

-- The scans of a plan: every node that reads a relation, with its index.
CREATE FUNCTION pg_temp.scans(q text, OUT node text, OUT relation text, OUT index text)
RETURNS SETOF record
LANGUAGE plpgsql AS $$
DECLARE
    p jsonb;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || q INTO p;
    RETURN QUERY
        SELECT n->>'Node Type', n->>'Relation Name', n->>'Index Name'
          FROM pg_catalog.jsonb_path_query(p, 'strict $.**') n
         WHERE pg_catalog.jsonb_typeof(n) = 'object' AND (n ? 'Relation Name' OR n ? 'Index Name');
END
$$;

-- mobisign_purge(), called regularly: the oldest final transactions (a
-- hundredth of the table is older than the cutoff; the DELETE then joins
-- those ids, max_rows at the most, by the primary key)
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    SELECT t.id FROM mobisign.transaction t
     WHERE t.completed_at < now() - interval '396 days'
     ORDER BY t.completed_at LIMIT 10000 FOR UPDATE SKIP LOCKED $q$) $$,
    $$ VALUES ('Index Scan', 'transaction_completed') $$,
    'the purge takes the oldest final transactions through transaction_completed, in order');
-- the prefix of the sealed chain to purge, its anchor, its removal
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    SELECT max(p.chain_seq)
      FROM (SELECT a.chain_seq, a.at FROM mobisign.audit a
             WHERE a.chain_seq IS NOT NULL ORDER BY a.chain_seq LIMIT 10000) p
     WHERE p.chain_seq < coalesce((SELECT min(a.chain_seq) FROM mobisign.audit a
                                    WHERE a.chain_seq IS NOT NULL AND a.at >= now() - interval '396 days'),
                                  9223372036854775807) $q$) $$,
    $$ VALUES ('Index Only Scan', 'audit_chain_seq_key'), ('Index Scan', 'audit_chain_seq_key') $$,
    'the purge finds the prefix of the chain to remove through audit_chain_seq_key');
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    SELECT a.hash FROM mobisign.audit a WHERE a.chain_seq = 4000 $q$) $$,
    $$ VALUES ('Index Scan', 'audit_chain_seq_key') $$,
    'the purge reads its anchor through audit_chain_seq_key');
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    DELETE FROM mobisign.audit a WHERE a.chain_seq <= 4000 $q$) $$,
    $$ VALUES ('ModifyTable', NULL), ('Index Scan', 'audit_chain_seq_key') $$,
    'the purge removes the prefix through audit_chain_seq_key');

-- mobisign_audit_verify() and the sealer: the chain's ends, a position,
-- the unsealed rows
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    SELECT min(a.chain_seq) FROM mobisign.audit a WHERE a.chain_seq IS NOT NULL $q$) $$,
    $$ VALUES ('Index Only Scan', 'audit_chain_seq_key') $$,
    'the verification finds the chain''s first position through audit_chain_seq_key');
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    SELECT max(a.chain_seq) FROM mobisign.audit a $q$) $$,
    $$ VALUES ('Index Only Scan', 'audit_chain_seq_key') $$,
    'the verification finds the chain''s last position through audit_chain_seq_key (no predicate written)');
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    SELECT a.chain_seq, a.hash FROM mobisign.audit a
     WHERE a.chain_seq IS NOT NULL ORDER BY a.chain_seq DESC LIMIT 1 $q$) $$,
    $$ VALUES ('Index Scan', 'audit_chain_seq_key') $$,
    'the sealer finds the chain''s head through audit_chain_seq_key');
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans(pg_catalog.format($q$
    SELECT * FROM mobisign.audit a WHERE a.chain_seq IS NULL AND a.id > %s ORDER BY a.id LIMIT 5000 $q$,
    (SELECT pg_catalog.max(a.id) - 50 FROM mobisign.audit a))) $$,
    $$ VALUES ('Index Scan', 'audit_unsealed') $$,
    'the sealer reads the unsealed rows through audit_unsealed');
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    SELECT * FROM mobisign.audit a WHERE a.chain_seq >= 39000 ORDER BY a.chain_seq $q$) $$,
    $$ VALUES ('Index Scan', 'audit_chain_seq_key') $$,
    'the chain from a position on is read through audit_chain_seq_key');

-- the audit of one transaction, and the queries by time (one day)
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans(pg_catalog.format($q$
    SELECT * FROM mobisign.audit a WHERE a.transaction_id = %L $q$,
    (SELECT a.transaction_id FROM mobisign.audit a WHERE a.operation = 'transaction.queued'
      ORDER BY a.id LIMIT 1 OFFSET 20000))) $$,
    $$ VALUES ('Index Scan', 'audit_transaction') $$,
    'the audit rows of a transaction are found through audit_transaction');
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    SELECT * FROM mobisign.audit a
     WHERE a.at >= now() - interval '200 days' AND a.at < now() - interval '199 days' $q$) $$,
    $$ VALUES ('Bitmap Heap Scan', NULL), ('Bitmap Index Scan', 'audit_at') $$,
    'audit rows of a day are read through the BRIN index audit_at');
SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    SELECT * FROM mobisign.transaction t
     WHERE t.completed_at >= now() - interval '200 days' AND t.completed_at < now() - interval '199 days' $q$) $$,
    $$ VALUES ('Index Scan', 'transaction_completed') $$,
    'transactions completed on a day are read through transaction_completed');

SELECT set_eq($$ SELECT node, index FROM pg_temp.scans($q$
    DELETE FROM mobisign.inbound_segment s WHERE s.processed AND s.received_at < now() - interval '396 days' $q$) $$,
    $$ VALUES ('ModifyTable', NULL), ('Bitmap Heap Scan', NULL), ('Bitmap Index Scan', 'inbound_segment_received') $$,
    'the purge removes the oldest processed segments through the BRIN index inbound_segment_received');

SELECT * FROM finish();
ROLLBACK;
