-- What pg_dump keeps of mobisign, and what a restore does to the rows it
-- brings back (sql/parts/80_backup.sql, docs/operations.md).
BEGIN;
SELECT plan(16);

-- Every table of schema mobisign is in exactly one class; only
-- configuration and state are dumped.
CREATE TEMP TABLE classes (rel text PRIMARY KEY, class text NOT NULL);
INSERT INTO classes VALUES
    ('mobisign.pki', 'configuration'), ('mobisign.crl', 'configuration'),
    ('mobisign.certificate', 'configuration'), ('mobisign.directory', 'configuration'),
    ('mobisign.app_user', 'configuration'), ('mobisign.sim_key', 'configuration'),
    ('mobisign.smsc', 'configuration'), ('mobisign.relying_party', 'configuration'),
    ('mobisign.transaction', 'state'), ('mobisign.request_queue', 'state'),
    ('mobisign.inbound_segment', 'state'), ('mobisign.answer_queue', 'state'),
    ('mobisign.audit', 'state'),
    ('mobisign.status_code', 'install-time'), ('mobisign.process_lock', 'install-time'),
    ('mobisign.ocsp_response', 'cache'), ('mobisign.crl_source', 'cache'),
    ('mobisign.crl_point_examined', 'cache'),
    ('mobisign.restore_event', 'transient');

CREATE TEMP VIEW dumped AS
SELECT c.oid::regclass::text AS rel, c.relkind, f.cond
  FROM pg_catalog.pg_extension e
 CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) AS f(reloid, cond)
  JOIN pg_catalog.pg_class c ON c.oid = f.reloid
 WHERE e.extname = 'mobisign';

SELECT is_empty($$ SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
                    WHERE c.relnamespace = 'mobisign'::regnamespace AND c.relkind IN ('r', 'p')
                   EXCEPT SELECT rel FROM classes $$,
                'every table of schema mobisign is classified (configuration, state, install-time, cache, transient)');
SELECT set_eq($$ SELECT rel FROM dumped WHERE relkind = 'r' $$,
              $$ SELECT rel FROM classes WHERE class IN ('configuration', 'state') $$,
              'pg_dump keeps exactly the configuration and state tables');
SELECT is_empty($$ SELECT rel FROM dumped WHERE cond <> '' $$,
                'each of them whole (no filter: none has install-time rows)');
SELECT is_empty($$
    SELECT pg_catalog.pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)
      FROM pg_catalog.pg_attribute a
     WHERE a.attidentity <> '' AND a.attrelid::regclass::text IN (SELECT rel FROM dumped)
    EXCEPT SELECT rel FROM dumped WHERE relkind = 'S' $$,
    'the identity sequence of every dumped table is dumped too (ids are not handed out twice)');
SELECT is((SELECT string_agg(tgname || '=' || tgenabled::text, ' ' ORDER BY tgname) FROM pg_catalog.pg_trigger
            WHERE tgname IN ('sim_key_restored', 'transaction_restored')),
          'sim_key_restored=A transaction_restored=A',
          'the restore triggers fire always (also with session_replication_role = replica)');

-- A SIM key set that arrives as a restore does (a plain INSERT, not
-- mobisign_add_sim_key) jumps by mobisign.restore_counter_margin, and the
-- answers of the time before it are refused from then on.
SELECT is(current_setting('mobisign.restore_counter_margin'), '1000000000', 'the default margin');
SET LOCAL mobisign.restore_counter_margin = 1000;
DELETE FROM mobisign.restore_event;
INSERT INTO mobisign.sim_key (msisdn, key_set, kic_wrapped, kid_wrapped, tar, counter, response_counter)
VALUES ('358400000001', 1, '\x00', '\x00', '\x4d5347', 41, 40),
       ('358400000002', 1, '\x00', '\x00', '\x4d5347', 1099511627000, 7);
SELECT is((SELECT counter || ' ' || response_counter FROM mobisign.sim_key WHERE msisdn = '358400000001'),
          '1041 1041', 'a restored counter jumps by the margin; answers up to it are refused');
SELECT is((SELECT counter FROM mobisign.sim_key WHERE msisdn = '358400000002'), 1099511627775::bigint,
          'near the end of the 5-byte counter it stops at 2^40-1 (the key set must be replaced)');

-- A transaction open in the backup expires at once; a finished one is kept as it was.
INSERT INTO mobisign.transaction (id, kind, app_role, user_id, msisdn, reference, data, data_hash,
                                  verification_code, expires_at, created_at)
VALUES ('00000000-0000-4000-8000-0000000000a1', 'authenticate', 'x', 'tap-open', '358400000001',
        '\x00000000000000a1', '\x01', sha256('\x01'), '1234', now() + interval '1 hour', now() - interval '1 day');
INSERT INTO mobisign.transaction (id, kind, app_role, user_id, msisdn, reference, data, data_hash,
                                  verification_code, state, status_code, completed_at, expires_at, created_at)
VALUES ('00000000-0000-4000-8000-0000000000a2', 'authenticate', 'x', 'tap-done', '358400000001',
        '\x00000000000000a2', '\x01', sha256('\x01'), '1234', 'completed', 502, now() - interval '1 day',
        now() + interval '1 hour', now() - interval '1 day');
SELECT ok((SELECT expires_at <= now() FROM mobisign.transaction WHERE user_id = 'tap-open'),
          'a restored open transaction has expired (nothing queued for it is sent)');
SELECT ok((SELECT expires_at > now() FROM mobisign.transaction WHERE user_id = 'tap-done'),
          'a restored finished transaction is unchanged');
SELECT is((SELECT sim_keys || ' ' || open_transactions || ' ' || counter_margin FROM mobisign.restore_event),
          '2 1 1000', 'the restore is noted: 2 key sets, 1 open transaction, margin 1000');
SELECT is(mobisign._record_restores(), 1, 'the worker''s housekeeping writes it into the audit');
SELECT is((SELECT detail->>'sim_keys' FROM mobisign.audit WHERE operation = 'restore' ORDER BY id DESC LIMIT 1),
          '2', '... as a ''restore'' row; nothing is left pending');

-- By hand (after point-in-time recovery or a failover that lost commits).
SELECT is((SELECT sim_keys FROM mobisign_advance_counters(500)), 2::bigint,
          'mobisign_advance_counters(500) moves every key set');
SELECT is((SELECT counter || ' ' || response_counter FROM mobisign.sim_key WHERE msisdn = '358400000001'),
          '1541 1541', '... by 500, refusing the answers of the lost time');
SELECT throws_ok($$ SELECT mobisign_advance_counters(0) $$, '22023', NULL,
                 'a margin that is not positive is refused');

SELECT * FROM finish();
ROLLBACK;
