--
-- Receipts: mobisign_receipt (what the HTTP gateway's ETSI TS 102 204
-- MSS_ReceiptReq calls).
--
-- After a completed signature, the application has a message shown on the
-- phone that signed ("Payment of 10 EUR accepted").  Nothing is signed: the
-- SIM's applet operation 04 (codec/README.md) shows the message with the
-- signature's verification code and answers "shown".  The answer is secured
-- like every answer (OTA ciphering and cryptographic checksum with the
-- SIM's keys, a counter above every one accepted before), so its
-- authenticity is its CC, and it must name the receipt's own reference and
-- counter.  A receipt is a transaction of its own, kind 'receipt': it
-- completes with status 100 REQUEST_OK (MSS_ReceiptResp's status), or ends
-- as any request does (401, 208, 209...).  As in 80_sim_flow, the test
-- plays the worker and hands the SMS to the simulator's SIM.
--

------------------------------------------------------------------------------
-- 0. The server's key files, a PKI "sim" and its two users (as 82_sign_hash)
------------------------------------------------------------------------------

\getenv regress_include MOBISIGN_REGRESS_INCLUDE
\set sim_world :regress_include '/sim_world.sql'
\i :sim_world

-- Playing the worker and the phone (80_sim_flow explains them; the SIM
-- keys' counters depend on what ran before, so the audit rows are shown
-- without them).
CREATE OR REPLACE FUNCTION request_sms(t uuid) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(encode(s, 'hex'), ',' ORDER BY n)
      FROM mobisign.request_queue q, unnest(q.segments) WITH ORDINALITY u(s, n)
     WHERE q.transaction_id = t
$$;
CREATE OR REPLACE FUNCTION deliver(from_msisdn text, answer jsonb) RETURNS integer
LANGUAGE sql AS $$
    INSERT INTO mobisign.inbound_segment (msisdn, concat_ref, total, seq, user_data, digest)
    SELECT from_msisdn, (e->>'concat_ref')::integer, (e->>'total')::integer, (e->>'seq')::integer,
           decode(e->>'user_data', 'hex'), sha256(decode(e->>'user_data', 'hex'))
      FROM jsonb_array_elements(answer) e
    ON CONFLICT DO NOTHING;
    SELECT mobisign._process_inbound(from_msisdn);
$$;

-- A refusal with the transaction ids masked (they differ on every run).
CREATE FUNCTION err_id(stmt text) RETURNS text
LANGUAGE sql AS $$
    SELECT regexp_replace(err(stmt), '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<id>', 'g')
$$;

------------------------------------------------------------------------------
-- 1. A signature, then its receipt
------------------------------------------------------------------------------

-- user0001 signs a payment; the SIM answers and the signature verifies.
SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS s1, verification_code AS code1
  FROM mobisign_sign('user0001', 'Pay 10 EUR to ACME', 'Shop') \gset
RESET SESSION AUTHORIZATION;
SELECT request_sms(:'s1') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --behaviour sign 2>/dev/null`
SELECT deliver('3585000000001', :'answer') AS handled;
SET SESSION AUTHORIZATION regress_shop;
SELECT kind, state, status_code, status_name FROM mobisign_status(:'s1');

-- The receipt: a transaction of its own, queued for the phone that signed.
RESET SESSION AUTHORIZATION;
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS r1 FROM mobisign_receipt(:'s1', 'Payment of 10 EUR accepted') \gset
SELECT kind, state, status_code, status_name FROM mobisign_status(:'r1');
RESET SESSION AUTHORIZATION;
-- Stored: the signature's reference as the data (what the SIM is told the
-- receipt is about), the message as the display text, the signature's
-- verification code, the same MSISDN and application.
SELECT r.kind, r.data = s.reference AS data_is_the_signatures_reference,
       r.display_text, r.verification_code = :'code1' AS signatures_code,
       r.msisdn = s.msisdn AS same_msisdn, r.application, r.app_role
  FROM mobisign.transaction r, mobisign.transaction s
 WHERE r.id = :'r1' AND s.id = :'s1';
-- The request packet carries applet operation 04 (the SIM decodes it):
-- the simulator's SIM shows it and acknowledges.
SELECT request_sms(:'r1') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --behaviour sign 2>/dev/null`
SELECT deliver('3585000000001', :'answer') AS handled;
SET SESSION AUTHORIZATION regress_shop;
-- Shown: completed with 100 REQUEST_OK, and no signature (nothing was signed).
SELECT kind, state, status_code, status_name, reason FROM mobisign_status(:'r1');
SELECT kind, state, signature IS NULL AS no_signature FROM mobisign_signature(:'r1');
RESET SESSION AUTHORIZATION;
-- The audit: the request queued, the SIM's answer accepted (result shown,
-- no signature bytes), the transaction completed.
\x on
SELECT actor, application, operation, outcome, tx, detail - 'counter' AS detail FROM audit_after(:mark);
\x off

------------------------------------------------------------------------------
-- 2. The user dismisses a receipt
------------------------------------------------------------------------------

SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS r2 FROM mobisign_receipt(:'s1', 'Thank you', timeout => '5 s') \gset
RESET SESSION AUTHORIZATION;
SELECT request_sms(:'r2') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --behaviour cancel 2>/dev/null`
SELECT deliver('3585000000001', :'answer') AS handled;
SET SESSION AUTHORIZATION regress_shop;
SELECT state, status_code, status_name, reason FROM mobisign_status(:'r2');
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 3. An answer that does not fit the receipt
------------------------------------------------------------------------------

-- A SIM answering a receipt with a reference of another request is
-- ignored (the receipt stays open), as for any answer.
SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS r3 FROM mobisign_receipt(:'s1', 'Paid') \gset
RESET SESSION AUTHORIZATION;
SELECT request_sms(:'r3') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --behaviour wrong_ref 2>/dev/null`
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SELECT deliver('3585000000001', :'answer') AS handled;
SELECT operation, outcome, detail->>'reason' AS reason FROM audit_after(:mark);
SELECT state FROM mobisign.transaction WHERE id = :'r3';
-- A forged "shown" without the SIM's keys (a broken CC) acts on nothing.
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --behaviour bad_cc 2>/dev/null`
SELECT deliver('3585000000001', :'answer') AS handled;
SELECT operation, outcome, detail->>'acted' AS acted FROM audit_after(:mark);
SELECT state FROM mobisign.transaction WHERE id = :'r3';
-- What each applet result ends each kind with (extension/domain.h): a
-- receipt completes only with "shown" (8); a signature answering a receipt
-- (0), or "shown" answering a signing request, is a SIM-side failure (406).
SELECT k AS kind, r AS result, (mobisign._answer_outcome(k, r)).*
  FROM unnest(ARRAY['receipt', 'sign', 'sign_hash']) k, unnest(ARRAY[0, 1, 8]) r
 ORDER BY k, r;
SET SESSION AUTHORIZATION regress_shop;
SELECT mobisign_cancel(:'r3') IS NOT NULL AS cancelled;
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 4. Refused receipts: nothing is stored
------------------------------------------------------------------------------

SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS s2 FROM mobisign_sign('user0002', 'Pay 20 EUR', 'Shop') \gset
SELECT count(*) AS transactions_before FROM mobisign.transaction \gset
-- an unknown transaction, a signature not completed yet, a receipt about a
-- receipt, no transaction at all
SELECT err_id($$ SELECT mobisign_receipt('00000000-0000-0000-0000-000000000000', 'Paid') $$);
SELECT err_id(format($$ SELECT mobisign_receipt(%L, 'Paid') $$, :'s2'));
SELECT err_id(format($$ SELECT mobisign_receipt(%L, 'Paid') $$, :'r1'));
SELECT err_id($$ SELECT mobisign_receipt(NULL, 'Paid') $$);
-- the message: missing, empty, too long for the SIM's screen (the same
-- bounds as every display text: 160 GSM 7-bit septets, 70 UCS-2
-- characters), and the timeout's bounds
SELECT err_id(format($$ SELECT mobisign_receipt(%L, NULL) $$, :'s1'));
SELECT err_id(format($$ SELECT mobisign_receipt(%L, '') $$, :'s1'));
SELECT err_id(format($$ SELECT mobisign_receipt(%L, %L) $$, :'s1', repeat('x', 161)));
SELECT err_id(format($$ SELECT mobisign_receipt(%L, %L) $$, :'s1', repeat('ж', 71)));
SELECT err_id(format($$ SELECT mobisign_receipt(%L, 'Paid', '0 s') $$, :'s1'));
SELECT count(*) = :transactions_before AS nothing_stored FROM mobisign.transaction;
SELECT mobisign_cancel(:'s2') IS NOT NULL AS cancelled;
-- Another application does not see the signature: the same refusal as an
-- unknown one.
SET SESSION AUTHORIZATION regress_other_shop;
SELECT err_id(format($$ SELECT mobisign_receipt(%L, 'Paid') $$, :'s1'));
RESET SESSION AUTHORIZATION;
-- The user's number changed since the signature (a new SIM, with keys of
-- its own): nothing is sent.
\o /dev/null
SELECT mobisign_add_sim_key('3585000000009', s.key_set, s.kic, s.kid, s.tar) FROM sim s WHERE s.user_id = 'user0001';
\o
UPDATE mobisign.app_user SET msisdn = '3585000000009' WHERE user_id = 'user0001';
SET SESSION AUTHORIZATION regress_shop;
SELECT err_id(format($$ SELECT mobisign_receipt(%L, 'Paid') $$, :'s1'));
RESET SESSION AUTHORIZATION;
UPDATE mobisign.app_user SET msisdn = '3585000000001' WHERE user_id = 'user0001';
SET SESSION AUTHORIZATION regress_shop;
SELECT count(*) = :transactions_before AS nothing_stored FROM mobisign.transaction;
RESET SESSION AUTHORIZATION;

-- A gateway serving several relying parties with one role names the
-- caller: another application's signature is unknown too (the name in any
-- case is the same application).
SET SESSION AUTHORIZATION regress_shop;
SELECT err_id(format($$ SELECT mobisign_receipt(%L, 'Paid', application => 'Other shop') $$, :'s1'));
SELECT transaction_id IS NOT NULL AS sent FROM mobisign_receipt(:'s1', 'Paid', application => 'SHOP');
SELECT mobisign_cancel(t.id) IS NOT NULL AS cancelled
  FROM mobisign.transaction t WHERE t.kind = 'receipt' AND t.state IN ('queued', 'submitted');
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- Clean up
------------------------------------------------------------------------------

ALTER SYSTEM RESET mobisign.master_key_file;
ALTER SYSTEM RESET mobisign.sp_key_file;
ALTER SYSTEM RESET mobisign.sp_cert_file;
SELECT pg_reload_conf();
DROP TABLE sim;
DROP FUNCTION err_id(text);
DELETE FROM mobisign.transaction WHERE app_role = 'regress_shop';
DELETE FROM mobisign.sim_key WHERE msisdn = '3585000000009';
DROP ROLE regress_shop, regress_other_shop, regress_admin;
