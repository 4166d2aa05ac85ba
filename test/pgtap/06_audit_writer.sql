-- The audit writer's direct insert (extension/audit_insert.c) stores what the
-- SQL INSERT would: the table's defaults, constraints, privileges and
-- read-only rules hold for it, a change to the table is seen at the next row,
-- and a table with an INSERT trigger gets the SQL INSERT (its trigger fires).
-- Its executor state is kept from row to row within a transaction, holding
-- nothing between rows: DDL on the table between two rows (in one
-- statement, too) works and is seen by the next row, a rolled-back
-- savepoint and a failed row leave nothing behind.  This whole file is one
-- transaction, so every case below runs with that state kept.
BEGIN;
SELECT plan(26);

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

-- the executor state kept from row to row: many rows in one statement
SELECT is((SELECT count(DISTINCT mobisign.audit_log('tap-keep', 'many', pg_catalog.jsonb_build_object('n', g)))
             FROM generate_series(1, 50) g), 50::bigint,
          'fifty rows in one statement, each with its own id');
-- DDL between rows of one function (one statement): CREATE INDEX and ALTER
-- TABLE find the table not in use ("being used by active queries" would be
-- an error), and the next row is written with the new definition: into the
-- new index, with the new default, with the new column
CREATE FUNCTION public.tap_keep_ddl() RETURNS text LANGUAGE plpgsql AS $$
DECLARE a bigint; b bigint; c bigint; d bigint;
BEGIN
    a := mobisign.audit_log('tap-keep', 'before');
    EXECUTE 'CREATE INDEX tap_keep_idx ON mobisign.audit (outcome) WHERE operation = ''tap-keep-indexed''';
    b := mobisign.audit_log('tap-keep-indexed', 'indexed');
    EXECUTE 'ALTER TABLE mobisign.audit ALTER COLUMN actor SET DEFAULT ''tap-keep-actor''';
    c := mobisign.audit_log('tap-keep-indexed', 'altered');
    EXECUTE 'ALTER TABLE mobisign.audit ALTER COLUMN actor SET DEFAULT session_user';
    EXECUTE 'ALTER TABLE mobisign.audit ADD COLUMN tap_extra text DEFAULT ''tap-extra''';
    d := mobisign.audit_log('tap-keep-indexed', 'widened');
    RETURN (SELECT string_agg(format('%s/%s', actor, to_jsonb(a0)->>'tap_extra'), ',' ORDER BY id)
              FROM mobisign.audit a0 WHERE id IN (a, b, c, d));
END $$;
SELECT is(public.tap_keep_ddl(),
          format('%s/tap-extra,%s/tap-extra,tap-keep-actor/tap-extra,%s/tap-extra', session_user, session_user, session_user),
          'rows around CREATE INDEX, ALTER TABLE ... SET DEFAULT and ADD COLUMN in one function: each row has the definition of its time');
SELECT is((SELECT count(*) FROM mobisign.audit WHERE tap_extra = 'tap-extra' AND operation = 'tap-keep-indexed'
             AND outcome = 'widened'), 1::bigint, 'the column added between two rows is filled by its default');
ALTER TABLE mobisign.audit DROP COLUMN tap_extra;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT is((SELECT array_agg(outcome::text ORDER BY outcome) FROM mobisign.audit WHERE operation = 'tap-keep-indexed'),
          ARRAY['altered', 'indexed', 'widened'], 'the rows written after CREATE INDEX are in the new index');
RESET enable_seqscan;
RESET enable_bitmapscan;
-- DROP INDEX between two rows of one function: the next row is stored
-- (with the index's relation gone, nothing refers to it any more)
CREATE FUNCTION public.tap_keep_drop() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mobisign.audit_log('tap-keep', 'before-drop');
    EXECUTE 'DROP INDEX mobisign.tap_keep_idx';
    RETURN mobisign.audit_log('tap-keep', 'after-drop');
END $$;
SELECT public.tap_keep_drop() AS id6 \gset
SELECT is((SELECT outcome FROM mobisign.audit WHERE id = :id6), 'after-drop', 'a row after DROP INDEX is stored');

-- a savepoint rolled back takes its rows with it, and its DDL: the next row
-- has the definition from before the savepoint
SAVEPOINT keep_sp;
ALTER TABLE mobisign.audit ALTER COLUMN actor SET DEFAULT 'tap-undone-actor';
SELECT mobisign.audit_log('tap-keep', 'undone') AS id7 \gset
ROLLBACK TO SAVEPOINT keep_sp;
SELECT mobisign.audit_log('tap-keep', 'after-rollback') AS id8 \gset
SELECT is((SELECT array_agg(format('%s/%s', outcome, actor)) FROM mobisign.audit WHERE id IN (:id7, :id8)),
          ARRAY[format('after-rollback/%s', session_user)],
          'after ROLLBACK TO SAVEPOINT its row is gone and the next row has the default from before');

-- an error in the middle of a batch: none of the batch's rows stays, the
-- next batch is stored whole
SAVEPOINT keep_batch;
SELECT throws_ok($$ SELECT count(mobisign.audit_log(CASE WHEN g = 25 THEN NULL ELSE 'tap-batch' END, 'first'))
                      FROM generate_series(1, 50) g $$, '23502', NULL,
                 'a batch whose 25th row violates NOT NULL fails');
ROLLBACK TO SAVEPOINT keep_batch;
SELECT is((SELECT count(mobisign.audit_log('tap-batch', 'second')) FROM generate_series(1, 50) g), 50::bigint,
          'the next batch writes its fifty rows');
SELECT is((SELECT array_agg(DISTINCT outcome) FROM mobisign.audit WHERE operation = 'tap-batch'), ARRAY['second'],
          'only the second batch is stored');
-- rows that fail inside exception blocks (a subtransaction each), between
-- rows that do not: every other row is stored
CREATE FUNCTION public.tap_keep_fail() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..10 LOOP
        BEGIN
            PERFORM mobisign.audit_log(CASE WHEN i % 2 = 0 THEN NULL ELSE 'tap-keep-fail' END, i::text);
        EXCEPTION WHEN not_null_violation THEN NULL;
        END;
    END LOOP;
    RETURN (SELECT count(*) FROM mobisign.audit WHERE operation = 'tap-keep-fail');
END $$;
SELECT is(public.tap_keep_fail(), 5::bigint, 'five failed rows in exception blocks, the five others stored');

-- the rows join the chain like any other
SELECT is((SELECT intact FROM mobisign_audit_verify()), true, 'the chain is intact with the writer''s rows');

SELECT * FROM finish();
ROLLBACK;
