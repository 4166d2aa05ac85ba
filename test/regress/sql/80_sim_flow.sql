--
-- The SIM channel from the application's side, without a network.
--
-- mobisign_authenticate and mobisign_sign queue a request: a transaction
-- row, the SMS of the secured command packet in mobisign.request_queue and
-- audit rows.  Here nothing sends them (the worker serves another
-- database): the test plays the worker.  It hands the queued SMS to the
-- simulator's SIM (`mobisign-sim answer`, the SIM code of test/sim with the
-- keys of the SIM world test/regress/fixtures.sh provisioned), which
-- answers offline as its user would, and stores the answer's SMS in
-- mobisign.inbound_segment as the worker does, then calls
-- mobisign._process_inbound() as the worker does.  Cancel and expiry are
-- plain SQL.  NOTIFY payloads are shown by a second session that LISTENs
-- (test/regress/listen.sh: its PID and transaction ids masked).
--

------------------------------------------------------------------------------
-- 0. The server's key files, a PKI "sim" and its two users
------------------------------------------------------------------------------

\getenv listen MOBISIGN_LISTEN
\getenv regress_include MOBISIGN_REGRESS_INCLUDE
\set server_keys :regress_include '/server_keys.sql'
\i :server_keys
SELECT current_setting('mobisign.master_key_file') = :'master_key' AS master_key_set,
       current_setting('mobisign.sp_key_file') = :'sp_key' AS sp_key_set;
SET TimeZone = 'UTC';
SET IntervalStyle = 'postgres';

CREATE ROLE regress_shop LOGIN IN ROLE mobisign_app;
CREATE ROLE regress_other_shop LOGIN IN ROLE mobisign_app;
CREATE ROLE regress_admin LOGIN IN ROLE mobisign_admin;
CREATE ROLE regress_purger LOGIN IN ROLE mobisign_purger;

-- The simulator's PKI: a root, an issuing CA and their CRLs.
SELECT mobisign_add_pki('sim', ARRAY[pg_read_binary_file(:'simdir' || '/ca/root.der')],
                        intermediates => ARRAY[pg_read_binary_file(:'simdir' || '/ca/issuing.der')]) > 0 AS added;
SELECT mobisign_add_crl('sim', pg_read_binary_file(:'simdir' || '/crl/root.der')) IS NOT NULL AS root_crl,
       mobisign_add_crl('sim', pg_read_binary_file(:'simdir' || '/crl/issuing.der')) IS NOT NULL AS issuing_crl;
-- Its SIMs: user, MSISDN and OTA keys (DIR/sims, one line per SIM).
CREATE TABLE sim AS
SELECT m[1] AS user_id, m[2] AS msisdn, m[3]::integer AS key_set,
       decode(m[4], 'hex') AS kic, decode(m[5], 'hex') AS kid, decode(m[6], 'hex') AS tar
  FROM regexp_matches(pg_read_file(:'simdir' || '/sims'),
                      '^(user\d+) (\d+) (\d+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)$', 'gn') m;
SELECT user_id, msisdn, key_set, length(kic) AS kic_bytes, length(kid) AS kid_bytes, encode(tar, 'hex') AS tar
  FROM sim ORDER BY user_id;
GRANT SELECT ON sim TO regress_admin;
SELECT mobisign_register_user(user_id, msisdn, 'sim',
                              pg_read_binary_file(:'simdir' || '/users/' || user_id || '/cert.der'))
  FROM sim ORDER BY user_id;

------------------------------------------------------------------------------
-- 1. mobisign_add_sim_key: the SIM's OTA keys, stored wrapped
------------------------------------------------------------------------------

SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_admin;
-- KIc (AES-CBC) and KID (AES-CMAC) of key set 1, the applet's TAR and the
-- counter the SIM last accepted (0: a new card).  Returns nothing.
SELECT mobisign_add_sim_key(s.msisdn, s.key_set, s.kic, s.kid, s.tar) FROM sim s ORDER BY s.user_id;
RESET SESSION AUTHORIZATION;
-- Only wrapped keys are stored (AES-256-GCM under the master key, bound to
-- MSISDN, key set and role); the clear key is nowhere in the row.
SELECT k.msisdn, k.key_set, k.kic_algorithm, k.kid_algorithm, encode(k.tar, 'hex') AS tar, k.counter,
       k.response_counter, length(k.kic_wrapped) AS kic_wrapped_bytes,
       position(s.kic IN k.kic_wrapped) = 0 AND position(s.kid IN k.kid_wrapped) = 0 AS no_clear_key,
       mobisign._key_check(k.msisdn, k.key_set, 'kic', k.kic_wrapped) AS kic_unwraps_to_bytes
  FROM mobisign.sim_key k JOIN sim s USING (msisdn) ORDER BY k.msisdn;
-- The audit names the keys' sizes, never the keys.
SELECT * FROM audit_after(:mark);

-- Registering keys again never moves the counter back (a reused counter
-- would let old answers replay): GREATEST of the two.
SET SESSION AUTHORIZATION regress_admin;
SELECT mobisign_add_sim_key('358409999999', 2, '\x000102030405060708090a0b0c0d0e0f', '\x0f0e0d0c0b0a09080706050403020100', '\x4d5347', counter => 7);
SELECT mobisign_add_sim_key('358409999999', 2, '\x000102030405060708090a0b0c0d0e0f', '\x0f0e0d0c0b0a09080706050403020100', '\x4d5347', counter => 3);
RESET SESSION AUTHORIZATION;
SELECT msisdn, key_set, counter FROM mobisign.sim_key WHERE msisdn = '358409999999';
DELETE FROM mobisign.sim_key WHERE msisdn = '358409999999';

-- Refusals (the statement with the clear keys is never logged on error).
SET SESSION AUTHORIZATION regress_admin;
SELECT err($$ SELECT mobisign_add_sim_key('358409999999', 1, NULL, '\x00', '\x4d5347') $$);
SELECT err($$ SELECT mobisign_add_sim_key('0-800-SIM', 1, '\x00', '\x00', '\x4d5347') $$);
SELECT err($$ SELECT mobisign_add_sim_key('358409999999', 16, '\x00', '\x00', '\x4d5347') $$);
SELECT err($$ SELECT mobisign_add_sim_key('358409999999', 1, '\x00', '\x00', '\x4d5347', kic_algorithm => 'des-cbc') $$);
SELECT err($$ SELECT mobisign_add_sim_key('358409999999', 1, '\x00', '\x00', '\x4d53') $$);
SELECT err($$ SELECT mobisign_add_sim_key('358409999999', 1, '\x00', '\x00', '\x4d5347', counter => 1099511627776) $$);
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- Playing the worker and the phone
------------------------------------------------------------------------------

-- The SMS queued for a transaction, as hex, comma-separated (what the
-- simulator's SIM reads).
CREATE FUNCTION request_sms(t uuid) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(encode(s, 'hex'), ',' ORDER BY n)
      FROM mobisign.request_queue q, unnest(q.segments) WITH ORDINALITY u(s, n)
     WHERE q.transaction_id = t
$$;
-- Store a SIM's answer (the JSON array mobisign-sim answer prints) as the
-- worker stores received SMS, then process them as the worker does.
-- Returns the number of answers handled.
CREATE FUNCTION deliver(from_msisdn text, answer jsonb) RETURNS integer
LANGUAGE sql AS $$
    INSERT INTO mobisign.inbound_segment (msisdn, concat_ref, total, seq, user_data, digest)
    SELECT from_msisdn, (e->>'concat_ref')::integer, (e->>'total')::integer, (e->>'seq')::integer,
           decode(e->>'user_data', 'hex'), sha256(decode(e->>'user_data', 'hex'))
      FROM jsonb_array_elements(answer) e
    ON CONFLICT DO NOTHING;
    SELECT mobisign._process_inbound(from_msisdn);
$$;
-- A transaction as the application sees it through mobisign_status (times
-- as facts, and the timeout it was given, not as values).
CREATE FUNCTION seen(t uuid) RETURNS TABLE (kind text, state text, status_code integer, status_name text,
                                            reason text, signer_subject text, submitted boolean,
                                            completed boolean, expires_in interval)
LANGUAGE sql AS $$
    SELECT s.kind, s.state, s.status_code, s.status_name, s.reason, s.signer_subject,
           s.submitted_at IS NOT NULL, s.completed_at IS NOT NULL,
           s.expires_at - s.created_at
      FROM mobisign_status(t) s
$$;
GRANT EXECUTE ON FUNCTION seen(uuid) TO PUBLIC;

------------------------------------------------------------------------------
-- 2. mobisign_authenticate: a challenge signed by the user's SIM
------------------------------------------------------------------------------

SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_shop;
-- Returns the transaction's id and the 4-digit code the phone shows, which
-- the application shows too (so the user knows the request is its own).
SELECT transaction_id AS t1, verification_code AS code1
  FROM mobisign_authenticate('user0001', application => 'Shop') \gset
SELECT :'code1' ~ '^[0-9]{4}$' AS four_digit_code;
-- Queued, not final (status 100), expiring after the default 2 minutes.
SELECT * FROM seen(:'t1');
RESET SESSION AUTHORIZATION;
-- What was stored: a 32-byte random challenge, the text shown ("Log in to
-- <application>?"), the SIM's key set and the next counter (the key row's
-- counter moved with it), and the SMS to send.
SELECT t.kind, t.app_role, t.application, t.user_id, t.msisdn, length(t.data) AS challenge_bytes,
       t.display_text, t.verification_code = :'code1' AS same_code, t.sim_key_set, t.counter,
       (SELECT k.counter FROM mobisign.sim_key k WHERE k.msisdn = t.msisdn) AS key_counter
  FROM mobisign.transaction t WHERE t.id = :'t1';
SELECT q.msisdn, cardinality(q.segments) BETWEEN 1 AND 16 AS sms_count_ok, q.attempts, q.done,
       (SELECT bool_and(get_byte(s, 0) + 1 <= length(s)) FROM unnest(q.segments) s) AS each_sms_has_a_header
  FROM mobisign.request_queue q WHERE q.transaction_id = :'t1';
-- Audit: the counter used, then the queued request (reference, digest of
-- the challenge, number of SMS and expiry masked).
\x on
SELECT * FROM audit_after(:mark);
\x off

-- mobisign_wait blocks until the transaction is final or its timeout ends;
-- nothing answers yet, so it returns the open transaction.
SET SESSION AUTHORIZATION regress_shop;
SELECT state, status_code, status_name FROM mobisign_wait(:'t1', '100 ms');
-- mobisign_await is the same wait as a procedure. CALLed as a statement of
-- its own it holds no snapshot while it waits, so waiting applications never
-- hold back vacuum (test/e2e/15_wait_horizon.sh shows it). It returns
-- nothing: the outcome is read with mobisign_status() after it.
CALL mobisign_await(:'t1', '100 ms');
SELECT state, status_code, status_name FROM mobisign_status(:'t1');
-- A second request for the same user waits its turn (MS406, 70_applications).
SELECT errcode($$ SELECT mobisign_authenticate('user0001') $$) AS second_request;
RESET SESSION AUTHORIZATION;

-- The SIM gets the SMS, checks and deciphers them, shows the text, and the
-- user enters the PIN: the answer is a CMS signature over the challenge.
SELECT request_sms(:'t1') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --behaviour sign 2>/dev/null`
SELECT jsonb_array_length(:'answer'::jsonb) >= 1 AS answer_has_sms,
       (SELECT bool_and(e->>'user_data' ~ '^[0-9a-f]+$') FROM jsonb_array_elements(:'answer'::jsonb) e) AS hex;
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
-- The answer arrives: one answer handled, and one NOTIFY mobisign with the
-- final status (a hint to look: mobisign_status is the result).
\set sql 'SELECT deliver(''3585000000001'', ' :'answer' ')'
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
SET SESSION AUTHORIZATION regress_shop;
SELECT * FROM seen(:'t1');
-- mobisign_wait returns at once for a final transaction.
SELECT state, status_code FROM mobisign_wait(:'t1', '1 min');
CALL mobisign_await(:'t1', '1 min');
RESET SESSION AUTHORIZATION;
-- The signature and who made it are kept with the transaction.
SELECT state, signature IS NOT NULL AS signature_kept, signer_subject,
       evidence->'chain' AS chain, completed_at >= created_at AS completed_after_creation
  FROM mobisign.transaction WHERE id = :'t1';
-- The queue row goes with the transaction's last step (sent once).
SELECT count(*) AS t1_queue_row FROM mobisign.request_queue WHERE transaction_id = :'t1';
\x on
SELECT * FROM audit_after(:mark);
\x off
-- The SMSC's submit_sm_resp can reach the worker after the answer: the SIM
-- answered at once, and the SMSC acknowledged the request only once its
-- own next hop had.  The worker records the SMSC's message ids all the same
-- (the audit is where they are kept); the transaction keeps its final state,
-- and the audit row names it.
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SELECT mobisign._mark_submitted(:'t1', ARRAY['smsc-0001']) AS became_submitted;
SELECT state, submitted_at IS NULL AS never_submitted FROM mobisign.transaction WHERE id = :'t1';
SELECT operation, outcome, detail->>'state' AS state, detail->'message_ids' AS message_ids
  FROM mobisign.audit WHERE id > :mark ORDER BY id;
-- mobisign_verify re-verifies the stored signature now (and audits that).
SET SESSION AUTHORIZATION regress_shop;
SELECT valid, status_code, status_name, reason, signer_subject, pki, chain
  FROM mobisign_verify(:'t1'::uuid);
RESET SESSION AUTHORIZATION;

-- The same answer again (a duplicate from the SMSC, or a replay): its
-- counter is not above the last one accepted from this SIM.  Nothing
-- changes and nothing is notified.
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
SELECT state, status_code FROM mobisign.transaction WHERE id = :'t1';
SELECT operation, outcome, detail->>'counter' AS counter, detail->>'highest_accepted' AS highest_accepted
  FROM audit_after(:mark);

------------------------------------------------------------------------------
-- 3. mobisign_sign: the user signs exactly the text shown
------------------------------------------------------------------------------

SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS t2 FROM mobisign_sign('user0001', 'Pay 10.00 EUR to ACME Oy', 'Shop') \gset
RESET SESSION AUTHORIZATION;
-- The data to sign is the UTF-8 form of the text, the text is what the SIM
-- shows; the counter is the next one; default timeout 3 minutes.
SELECT kind, convert_from(data, 'UTF8') AS data, display_text, counter, data_hash = sha256(data) AS hash_ok
  FROM mobisign.transaction WHERE id = :'t2';
SELECT expires_in FROM seen(:'t2');
-- Refusals of the text itself: missing (MS102), empty (MS103).
SET SESSION AUTHORIZATION regress_shop;
SELECT err($$ SELECT mobisign_sign('user0002', NULL) $$);
SELECT err($$ SELECT mobisign_sign('user0002', '') $$);
-- and of the user: unknown (MS105).
SELECT err($$ SELECT mobisign_sign('nobody', 'Pay 1 EUR') $$);
RESET SESSION AUTHORIZATION;

-- This time the user declines on the phone: status 401, and a NOTIFY.
SELECT request_sms(:'t2') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --behaviour cancel 2>/dev/null`
\set sql 'SELECT deliver(''3585000000001'', ' :'answer' ')'
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
SELECT * FROM seen(:'t2');

-- A signature over other content than the text shown (the phone signed
-- something else): status 503, the transaction fails.
SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS t3 FROM mobisign_sign('user0002', 'Transfer 5 EUR', 'Shop') \gset
RESET SESSION AUTHORIZATION;
SELECT request_sms(:'t3') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000002 --request :'req' --behaviour wrong_content 2>/dev/null`
\set sql 'SELECT deliver(''3585000000002'', ' :'answer' ')'
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
SELECT * FROM seen(:'t3');
-- The SIM refuses the packet itself (an authentic proof of receipt "counter
-- low" for a request sent once): status 209, and since the SIM says it has
-- seen this counter, the key set's counter moves past it (below).
SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS t4 FROM mobisign_authenticate('user0002', 'Shop') \gset
RESET SESSION AUTHORIZATION;
SELECT request_sms(:'t4') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000002 --request :'req' --behaviour por_counter_low 2>/dev/null`
\set sql 'SELECT deliver(''3585000000002'', ' :'answer' ')'
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
SELECT * FROM seen(:'t4');

-- A server counter behind the SIM's. After a failover to an asynchronous
-- standby that had not received the last commits, the new primary's counter
-- for a SIM can be lower than the last one that SIM accepted: the SIM
-- refuses the next request with an authentic proof of receipt "counter low"
-- (here: the SIM last accepted three counters more than the server knows).
-- The transaction fails at once (209, the reason says why and that a new
-- request will be accepted) and the key set's counter jumps past the refused
-- one by mobisign.counter_low_margin, audited as sim_key.advance.
SHOW mobisign.counter_low_margin;
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS t4b FROM mobisign_authenticate('user0001', 'Shop') \gset
RESET SESSION AUTHORIZATION;
SELECT counter AS c4b FROM mobisign.transaction WHERE id = :'t4b' \gset
SELECT :c4b + 3 AS sim_last \gset
-- First a forged "proof of receipt" (unsecured: no CC; anyone who can send
-- an SMS with the user's number can make one): it moves nothing.
SELECT request_sms(:'t4b') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --behaviour forged_por 2>/dev/null`
SELECT deliver('3585000000001', jsonb_build_array(:'answer'::jsonb -> 0));
SELECT k.counter - :c4b AS counter_moved_by_forged_por, t.state
  FROM mobisign.sim_key k, mobisign.transaction t
 WHERE k.msisdn = '3585000000001' AND t.id = :'t4b';
-- Then the SIM's own answer: counter low, secured with the SIM's keys.
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --last-counter :sim_last 2>/dev/null`
\set sql 'SELECT deliver(''3585000000001'', ' :'answer' ')'
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
SELECT * FROM seen(:'t4b');
SELECT counter - :c4b AS counter_moved_by FROM mobisign.sim_key WHERE msisdn = '3585000000001';
\x on
SELECT * FROM audit_after(:mark) WHERE operation IN ('sim_key.advance', 'transaction.failed');
\x off
-- The application's next request carries a counter above the SIM's and
-- completes (the same SIM, still three counters ahead of the old value).
SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS t4c FROM mobisign_authenticate('user0001', 'Shop') \gset
RESET SESSION AUTHORIZATION;
SELECT counter - :c4b AS next_counter_after_old FROM mobisign.transaction WHERE id = :'t4c';
SELECT request_sms(:'t4c') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --last-counter :sim_last 2>/dev/null`
SELECT deliver('3585000000001', :'answer');
SELECT state, status_code, status_name FROM seen(:'t4c');
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset

------------------------------------------------------------------------------
-- 4. mobisign_cancel: the application withdraws its request
------------------------------------------------------------------------------

SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS t5 FROM mobisign_authenticate('user0002', 'Shop') \gset
RESET SESSION AUTHORIZATION;
-- t5's row is as if sent twice (re-sent after a lost response): it stays
-- after the cancel for the duplicate-delivery check (section 5).
UPDATE mobisign.request_queue SET attempts = 2 WHERE transaction_id = :'t5';
SELECT request_sms(:'t5') AS req \gset
-- Another application cannot see, wait for or cancel it: to them it does
-- not exist.
SET SESSION AUTHORIZATION regress_other_shop;
SELECT err(format('SELECT mobisign_cancel(%L)', :'t5')) ~ '^P0002: transaction .* does not exist$' AS cancel_refused;
SELECT err(format('SELECT mobisign_wait(%L, %L)', :'t5', '1 s')) ~ '^P0002: ' AS wait_refused;
RESET SESSION AUTHORIZATION;
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
-- Cancelled: true, status 410, one NOTIFY (here the cancel runs in the
-- listening session, as the application it belongs to).
\set sql 'SET SESSION AUTHORIZATION regress_shop; SELECT mobisign_cancel(' :'t5' ')'
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
SELECT * FROM seen(:'t5');
-- A second cancel changes nothing: false, audited as ignored, no NOTIFY.
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
-- The SIM's answer that comes after the cancel is ignored.
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000002 --request :'req' --behaviour sign 2>/dev/null`
\set sql 'SELECT deliver(''3585000000002'', ' :'answer' ')'
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
SELECT state, status_code FROM mobisign.transaction WHERE id = :'t5';
\x on
SELECT * FROM audit_after(:mark);
\x off
SET SESSION AUTHORIZATION regress_shop;
SELECT err($$ SELECT mobisign_cancel('00000000-0000-4000-8000-00000000dead') $$);
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 5. Expiry: no answer before expires_at
------------------------------------------------------------------------------

SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS t6 FROM mobisign_authenticate('user0002', 'Shop', timeout => '5 s') \gset
RESET SESSION AUTHORIZATION;
SELECT expires_in FROM seen(:'t6');
-- The worker's housekeeping calls mobisign._expire(); time is moved here
-- instead of waited for.  One transaction expires (208), with a NOTIFY.
UPDATE mobisign.transaction SET expires_at = now() - interval '1 s' WHERE id = :'t6';
\set sql 'SELECT mobisign._expire()'
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out
SELECT kind, state, status_code, status_name, reason, completed FROM seen(:'t6');
-- Nothing else was open.
\set out `PGDATABASE=:'DBNAME' bash :'listen' :'sql'`
\echo :out

-- The housekeeping also calls mobisign._queue_cleanup(): the queue rows of
-- final transactions go, in batches (the worker calls again while a batch
-- comes back full).  The row of an open transaction stays, and so does a
-- row sent more than once (here t5's, as if re-sent after a lost response):
-- a late second copy of the SIM's answer is recognised by it.
SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS t7 FROM mobisign_authenticate('user0002', 'Shop') \gset
RESET SESSION AUTHORIZATION;
-- mobisign._finish removed the rows sent at most once when their
-- transactions became final: what is left is t5's and the open t7's.
SELECT tr.state, q.done, q.attempts FROM mobisign.request_queue q
  JOIN mobisign.transaction tr ON tr.id = q.transaction_id ORDER BY tr.created_at;
-- Rows of final transactions closed unsent (as an older _finish left
-- them, e.g. in a restored dump) are the cleanup's, in batches; a sent one
-- (message ids) is not, the purge takes it with its transaction.
INSERT INTO mobisign.request_queue (transaction_id, msisdn, segments, done, last_error, smsc_message_ids)
SELECT tr.id, tr.msisdn, '{}', true, 'left over', CASE WHEN tr.id = :'t1' THEN '{m1}'::text[] END
  FROM mobisign.transaction tr
 WHERE NOT mobisign._is_open(tr.state)
   AND NOT EXISTS (SELECT FROM mobisign.request_queue q WHERE q.transaction_id = tr.id);
SELECT count(*) AS left_over FROM mobisign.request_queue WHERE last_error = 'left over';
SELECT mobisign._queue_cleanup(1) AS first_batch;
SELECT mobisign._queue_cleanup() AS the_rest;
SELECT mobisign._queue_cleanup() AS nothing_left;
SELECT tr.state, q.done, q.attempts, q.smsc_message_ids FROM mobisign.request_queue q
  JOIN mobisign.transaction tr ON tr.id = q.transaction_id ORDER BY tr.created_at;
DELETE FROM mobisign.request_queue WHERE transaction_id = :'t1';
-- Once cancelled, t7's row goes at once; a batch is 1 to 100000 rows.
SET SESSION AUTHORIZATION regress_shop;
SELECT mobisign_cancel(:'t7') AS cancelled;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS t7_row FROM mobisign.request_queue WHERE transaction_id = :'t7';
SELECT mobisign._queue_cleanup() AS nothing_to_clean;
SELECT err($$ SELECT mobisign._queue_cleanup(0) $$);
SELECT err($$ SELECT mobisign._queue_cleanup(100001) $$);

------------------------------------------------------------------------------
-- 6. mobisign_status and mobisign_wait refuse what they cannot answer
------------------------------------------------------------------------------

SET SESSION AUTHORIZATION regress_shop;
SELECT err($$ SELECT * FROM mobisign_status('00000000-0000-4000-8000-00000000dead') $$);
SELECT err(format('SELECT * FROM mobisign_wait(%L, %L)', :'t1', '-1 s'));
SELECT err($$ SELECT * FROM mobisign_wait('00000000-0000-4000-8000-00000000dead', '1 s') $$);
-- mobisign_await refuses the same, and also to wait where it would hold a
-- snapshot: inside a function or query (here the EXECUTE of err()), or in
-- a REPEATABLE READ transaction.
\set SHOW_CONTEXT never
CALL mobisign_await(:'t1', '-1 s');
CALL mobisign_await('00000000-0000-4000-8000-00000000dead', '1 s');
\set SHOW_CONTEXT errors
SELECT err(format('CALL mobisign_await(%L, %L)', :'t1', '1 s'));
BEGIN ISOLATION LEVEL REPEATABLE READ;
CALL mobisign_await(:'t1', '1 s');
ROLLBACK;
-- An application sees its own transactions' states (row-level security).
SELECT kind, state, status_code FROM mobisign.transaction ORDER BY created_at;
SET SESSION AUTHORIZATION regress_other_shop;
SELECT count(*) AS visible_to_other_shop FROM mobisign.transaction;
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 7. mobisign_purge: finished transactions after the retention
------------------------------------------------------------------------------

-- The first transaction finished "400 days ago"; every audit row is recent.
UPDATE mobisign.transaction SET completed_at = now() - interval '400 days' WHERE id = :'t1';
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_purger;
SELECT * FROM mobisign_purge('30 days');
-- Nothing else is that old: a second call removes nothing, and writes nothing.
SELECT * FROM mobisign_purge('30 days');
SELECT err($$ SELECT mobisign_purge('30 days', max_rows => 0) $$);
SELECT err($$ SELECT mobisign_purge('-1 day') $$);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS t1_left FROM mobisign.transaction WHERE id = :'t1';
SELECT count(*) AS t1_queue_left FROM mobisign.request_queue WHERE transaction_id = :'t1';
\x on
SELECT * FROM audit_after(:mark);
\x off

------------------------------------------------------------------------------
-- 8. Key files changed while a session uses them
------------------------------------------------------------------------------

-- A backend keeps the master key and the parsed service provider key while
-- their files keep the identity stat() gives (path, device, inode, size,
-- mtime, ctime, mode, owner) that they were read with, and applies the key
-- file rule to what stat() says on every use.  So each change below is seen
-- by the very next request of this same session.  A file changed less than
-- 2 s before it was read is read again at every use: the pg_sleep calls let
-- the files settle, so that every change meets a cached key (a cache that
-- ignored the change would sign or unwrap with the old key).
-- One request for user0001 (in this session, as regress_shop), then cancelled:
-- 'ok' or the error.
CREATE FUNCTION request_once() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t uuid;
BEGIN
    SET LOCAL SESSION AUTHORIZATION regress_shop;
    SELECT transaction_id INTO t FROM mobisign_authenticate('user0001', application => 'Keys');
    PERFORM mobisign_cancel(t);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
\set saved `cp -p :'master_key' :'master_key'.orig && cp -p :'sp_key' :'sp_key'.orig && cp -p :'sp_cert' :'sp_cert'.orig && echo saved`
\echo :saved
SELECT request_once() AS cached_keys;

-- (c) chmod 0644 on the cached master key file: refused at once; its mode
-- back: served again.
\set x `chmod 0644 :'master_key' && echo chmod`
SELECT request_once() AS master_key_0644;
\set x `chmod --reference=:'master_key'.orig :'master_key' && echo chmod`
SELECT request_once() AS master_key_mode_back;
SELECT pg_sleep(2.1);
SELECT request_once() AS settled;

-- (a) the master key file rewritten in place with another key (same path,
-- inode and size): the very next request unwraps with it, and the SIM's
-- keys, wrapped with the old one, do not authenticate; the old content
-- back in place: served again.
\set x `printf '%064x\n' 7 > :'master_key' && wc -c < :'master_key'`
SELECT :'x' = '65' AS same_size;
SELECT request_once() AS master_key_rotated;
\set x `cat :'master_key'.orig > :'master_key' && echo back`
SELECT request_once() AS master_key_back;
SELECT pg_sleep(2.1);
SELECT request_once() AS settled;

-- (d) another master key file renamed into place (a new inode), then the
-- old key renamed back.
\set x `cp -p :'master_key'.orig :'master_key'.new && printf '%064x\n' 9 > :'master_key'.new && mv :'master_key'.new :'master_key' && echo renamed`
SELECT request_once() AS master_key_renamed;
\set x `cp -p :'master_key'.orig :'master_key'.new && mv :'master_key'.new :'master_key' && echo renamed`
SELECT request_once() AS master_key_renamed_back;

-- (b) the service provider's key and certificate replaced by another pair:
-- the next request is signed with the new key.  A copy of the SIM world
-- whose SIMs hold the new certificate judges it: it refuses a request
-- signed by the old key (the control), and signs once the pair changed.
\set x `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=Rotated SP' -days 2 -keyout :'fxdir'/new-sp.key -out :'fxdir'/new-sp.crt 2>/dev/null && rm -rf :'fxdir'/sim-new-sp && cp -a :'simdir' :'fxdir'/sim-new-sp && cp :'fxdir'/new-sp.crt :'fxdir'/sim-new-sp/sp/cert.pem && echo made`
\echo :x
SELECT pg_sleep(2.1);
SELECT request_once() AS settled;
\set answered_by :regress_include '/answered_by.sql'
\set judge_dir :fxdir '/sim-new-sp'
\i :answered_by
\set x `cat :'fxdir'/new-sp.key > :'sp_key' && cat :'fxdir'/new-sp.crt > :'sp_cert' && echo replaced`
\i :answered_by
-- The old pair renamed back (new inodes): the SIMs of the fixtures' world,
-- which hold the old certificate, sign again.
\set x `for f in :'sp_key' :'sp_cert'; do cp -p "$f.orig" "$f.new" && mv "$f.new" "$f" || exit 1; done && echo back`
\set judge_dir :simdir
\i :answered_by
\set x `cmp -s :'master_key' :'master_key'.orig && cmp -s :'sp_key' :'sp_key'.orig && cmp -s :'sp_cert' :'sp_cert'.orig && rm -rf :'master_key'.orig :'sp_key'.orig :'sp_cert'.orig :'fxdir'/new-sp.key :'fxdir'/new-sp.crt :'fxdir'/sim-new-sp && echo restored`
\echo :x
DROP FUNCTION request_once();

------------------------------------------------------------------------------
-- Clean up: the server settings back as they were
------------------------------------------------------------------------------

ALTER SYSTEM RESET mobisign.master_key_file;
ALTER SYSTEM RESET mobisign.sp_key_file;
ALTER SYSTEM RESET mobisign.sp_cert_file;
SELECT pg_reload_conf();
DROP FUNCTION seen(uuid);
REVOKE SELECT ON sim FROM regress_admin;
DROP TABLE sim;
DELETE FROM mobisign.transaction WHERE app_role = 'regress_shop';
DROP ROLE regress_shop, regress_other_shop, regress_admin, regress_purger;
