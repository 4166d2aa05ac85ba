-- The audit writer's direct insert (extension/audit_insert.c) stores what the
-- SQL INSERT would: the table's defaults, constraints, privileges and
-- read-only rules hold for it, a change to the table is seen at the next row,
-- and a table with an INSERT trigger gets the SQL INSERT (its trigger fires).
BEGIN;
SELECT plan(16);

-- a row as the writer stores it
SELECT clock_timestamp() AS t0 \gset
SELECT mobisign.audit_log('tap-writer', 'ok', '{"n": 1}') AS id1 \gset
SELECT mobisign.audit_log('tap-writer', 'ok', '{"n": 2}', '6f2c1a48-96f7-4c5e-9b0e-3c8d4f6b2a10', 'tap-app') AS id2 \gset
SELECT is((SELECT count(*) FROM mobisign.audit WHERE id IN (:id1, :id2) AND operation = 'tap-writer'), 2::bigint,
          'the writer returns the ids of the rows it stored');
SELECT cmp_ok(:id2::bigint, '>', :id1::bigint, 'ids come from the identity sequence, in order');
SELECT is((SELECT (actor, detail, transaction_id, application, chain_seq, prev_hash, hash)::text
             FROM mobisign.audit WHERE id = :id1),
          (session_user::name, '{"n": 1}'::jsonb, NULL::uuid, NULL::text, NULL::bigint, NULL::bytea, NULL::bytea)::text,
          'defaults (actor) and the given columns are stored, the row is unsealed');
SELECT ok((SELECT at >= :'t0'::timestamptz AND at <= clock_timestamp() FROM mobisign.audit WHERE id = :id1),
          'its time is the clock_timestamp() default');
SELECT is((SELECT (transaction_id, application)::text FROM mobisign.audit WHERE id = :id2),
          ('6f2c1a48-96f7-4c5e-9b0e-3c8d4f6b2a10'::uuid, 'tap-app')::text,
          'transaction id and application are stored');

-- the partial indexes hold the rows they should (found through each index)
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT is((SELECT count(*) FROM mobisign.audit WHERE transaction_id = '6f2c1a48-96f7-4c5e-9b0e-3c8d4f6b2a10'),
          1::bigint, 'a row with a transaction id is in the index of transaction ids');
SELECT ok((SELECT array_agg(id) @> ARRAY[:id1::bigint, :id2::bigint] FROM mobisign.audit WHERE chain_seq IS NULL),
          'unsealed rows are in the index of unsealed rows');
RESET enable_seqscan;
RESET enable_bitmapscan;

-- constraints: NOT NULL, and a CHECK added now (the compiled ones are renewed)
SELECT throws_ok($$ SELECT mobisign.audit_log(NULL, 'ok') $$, '23502', NULL,
                 'a NULL operation violates NOT NULL');
ALTER TABLE mobisign.audit ADD CONSTRAINT tap_no_forged CHECK (outcome <> 'forged') NOT VALID;
SELECT throws_ok($$ SELECT mobisign.audit_log('tap-writer', 'forged') $$, '23514', NULL,
                 'a CHECK constraint added to the table holds for the next row');
ALTER TABLE mobisign.audit DROP CONSTRAINT tap_no_forged;
SELECT lives_ok($$ SELECT mobisign.audit_log('tap-writer', 'forged') $$,
                'and is gone once dropped');

-- a changed default is the next row's default
ALTER TABLE mobisign.audit ALTER COLUMN actor SET DEFAULT 'tap-default-actor';
SELECT mobisign.audit_log('tap-writer', 'ok') AS id3 \gset
SELECT is((SELECT actor FROM mobisign.audit WHERE id = :id3), 'tap-default-actor'::name,
          'a changed column default is used at once');
ALTER TABLE mobisign.audit ALTER COLUMN actor SET DEFAULT session_user;

-- an INSERT trigger: the SQL INSERT is used, and the trigger sees the row
CREATE FUNCTION public.tap_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.detail := NEW.detail || '{"seen_by_trigger": true}'; RETURN NEW; END $$;
CREATE TRIGGER tap_mark BEFORE INSERT ON mobisign.audit FOR EACH ROW EXECUTE FUNCTION public.tap_mark();
SELECT mobisign.audit_log('tap-writer', 'ok') AS id4 \gset
SELECT is((SELECT detail->>'seen_by_trigger' FROM mobisign.audit WHERE id = :id4), 'true',
          'with an INSERT trigger on the table, the trigger fires for the writer''s row');
DROP TRIGGER tap_mark ON mobisign.audit;
SELECT mobisign.audit_log('tap-writer', 'ok') AS id5 \gset
SELECT is((SELECT detail ? 'seen_by_trigger' FROM mobisign.audit WHERE id = :id5), false,
          'without it, the row is stored as given');

-- privileges: a role that may call the writer but not INSERT into the table
CREATE ROLE tap_writer_noinsert;
GRANT USAGE ON SCHEMA mobisign TO tap_writer_noinsert;
GRANT EXECUTE ON FUNCTION mobisign.audit_log(text, text, jsonb, uuid, text) TO tap_writer_noinsert;
SET LOCAL ROLE tap_writer_noinsert;
SELECT throws_ok($$ SELECT mobisign.audit_log('tap-writer', 'ok') $$, '42501', NULL,
                 'the INSERT privilege on mobisign.audit is checked');
RESET ROLE;

-- a read-only transaction writes no row
SAVEPOINT read_only;
SET LOCAL transaction_read_only = on;
SELECT throws_ok($$ SELECT mobisign.audit_log('tap-writer', 'ok') $$, '25006', NULL,
                 'a read-only transaction cannot write an audit row');
ROLLBACK TO SAVEPOINT read_only;

-- the rows join the chain like any other
SELECT is((SELECT intact FROM mobisign_audit_verify()), true, 'the chain is intact with the writer''s rows');

SELECT * FROM finish();
ROLLBACK;
