--
-- Signing a digest the application gives: mobisign_sign_hash and
-- mobisign_authenticate_hash (what the HTTP gateway's Mobile-ID and ETSI
-- endpoints call), mobisign_signature (the result as Mobile-ID returns it),
-- and the gateway's relying parties and user lookup.
--
-- The application hashes its document itself (SHA-256, -384 or -512) and
-- sends only the digest.  The SIM shows a text and a verification code
-- computed from the digest (Mobile-ID's rule: 6 bits from its start, 7
-- from its end), the user enters the PIN, and the SIM signs the digest
-- itself (applet operation 03, codec/README.md): PKCS#1 v1.5 over the
-- DigestInfo for RSA, ECDSA for EC.  The raw signature comes back and is
-- verified against the registered certificate, its chain and CRLs before
-- the transaction completes, like every answer.  As in 80_sim_flow, the
-- test plays the worker and hands the SMS to the simulator's SIM.
--

------------------------------------------------------------------------------
-- 0. The server's key files, a PKI "sim" and its two users (as 80_sim_flow)
------------------------------------------------------------------------------

\getenv regress_include MOBISIGN_REGRESS_INCLUDE
\set sim_world :regress_include '/sim_world.sql'
\i :sim_world

-- user0001's certificate, to compare with what the API returns
SELECT pg_read_binary_file(:'simdir' || '/users/user0001/cert.der') AS cert1 \gset

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

------------------------------------------------------------------------------
-- 1. The verification code of a digest
------------------------------------------------------------------------------

-- Mobile-ID's known answers (SK-EID/mid-rest-java-client's tests): the
-- digests of "HACKERMAN_SHA256/384/512" give 6008, 7230 and 3843.
SELECT mobisign._digest_verification_code(sha256('HACKERMAN_SHA256')) AS sha256_code,
       mobisign._digest_verification_code(sha384('HACKERMAN_SHA384')) AS sha384_code,
       mobisign._digest_verification_code(sha512('HACKERMAN_SHA512')) AS sha512_code;
-- The lengths the SIM accepts, and the hash each names.
SELECT n, mobisign._digest_hash_name(n) AS hash FROM unnest(ARRAY[20, 32, 48, 64, 65]) n;

------------------------------------------------------------------------------
-- 2. mobisign_sign_hash: the SIM signs a SHA-256 digest
------------------------------------------------------------------------------

SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_shop;
-- The code returned is the digest's: the application can show it before
-- the call returns, and the phone shows the same.
SELECT transaction_id AS t1, verification_code AS code1
  FROM mobisign_sign_hash('user0001', sha256('contract.pdf'), 'SHA256',
                          display => 'Sign contract.pdf', application => 'Shop') \gset
SELECT :'code1' = computed_here AS code_of_the_digest
  FROM (SELECT lpad((((get_byte(d, 0) & 252) << 5) | (get_byte(d, 31) & 127))::text, 4, '0')
               AS computed_here FROM (SELECT sha256('contract.pdf') d) x) y;
SELECT kind, state, status_code FROM mobisign_status(:'t1');
-- Nothing to return yet: the result columns stay NULL until it completes.
SELECT kind, state, signature IS NULL AS no_signature_yet, hash_type, key_type
  FROM mobisign_signature(:'t1');
RESET SESSION AUTHORIZATION;
-- Stored: the digest as the data, the text shown.
SELECT t.kind, t.data = sha256('contract.pdf') AS data_is_the_digest, t.display_text,
       t.verification_code = :'code1' AS same_code
  FROM mobisign.transaction t WHERE t.id = :'t1';
\x on
SELECT actor, application, operation, outcome, tx, detail - 'counter' AS detail FROM audit_after(:mark);
\x off

-- The SIM gets the SMS, shows the text and the code, the user enters the
-- PIN, and the SIM signs the digest.
SELECT request_sms(:'t1') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000001 --request :'req' --behaviour sign 2>/dev/null`
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SELECT deliver('3585000000001', :'answer') AS handled;
SET SESSION AUTHORIZATION regress_shop;
-- Verified against the registered certificate and its chain: completed.
SELECT kind, state, status_code, status_name, reason, signer_subject FROM mobisign_status(:'t1');
-- The result as Mobile-ID returns it: the raw signature (an RSA key's
-- signature is as long as its modulus), the hash, the key type and the
-- signer's certificate.
SELECT kind, state, length(signature) AS signature_bytes, hash_type, key_type,
       certificate = :'cert1' AS registered_certificate
  FROM mobisign_signature(:'t1');
-- Anyone can check it with the certificate alone: it is PKCS#1 v1.5 over
-- SHA-256 of the document (the DigestInfo the SIM built from the digest).
SELECT mobisign_verify_signature(s.certificate, 'contract.pdf', s.signature, 'rsa-pkcs1-sha256')
       AS verifies_over_the_document
  FROM mobisign_signature(:'t1') s;
-- mobisign_verify re-verifies it now.
SELECT valid, status_code, reason FROM mobisign_verify(:'t1'::uuid);
RESET SESSION AUTHORIZATION;
\x on
SELECT actor, application, operation, outcome, tx, detail - 'counter' AS detail FROM audit_after(:mark);
\x off

------------------------------------------------------------------------------
-- 3. SHA-512, authentication, and a SIM that signs another digest
------------------------------------------------------------------------------

SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS t2, verification_code AS code2
  FROM mobisign_authenticate_hash('user0002', sha512('nonce 42'), 'sha512', application => 'Shop') \gset
RESET SESSION AUTHORIZATION;
SELECT :'code2' = mobisign._digest_verification_code(sha512('nonce 42')) AS code_of_the_digest;
SELECT kind, display_text FROM mobisign.transaction WHERE id = :'t2';
SELECT request_sms(:'t2') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000002 --request :'req' --behaviour sign 2>/dev/null`
SELECT deliver('3585000000002', :'answer') AS handled;
SET SESSION AUTHORIZATION regress_shop;
SELECT kind, state, status_name, reason FROM mobisign_status(:'t2');
SELECT length(signature) AS signature_bytes, hash_type, key_type FROM mobisign_signature(:'t2');
-- A SIM that signs a different digest (wrong_content flips a bit of it):
-- the signature does not verify over the digest asked for, 503, and no
-- signature is handed out.
SELECT transaction_id AS t3 FROM mobisign_sign_hash('user0002', sha384('offer'), 'SHA384') \gset
RESET SESSION AUTHORIZATION;
SELECT request_sms(:'t3') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000002 --request :'req' --behaviour wrong_content 2>/dev/null`
SELECT deliver('3585000000002', :'answer') AS handled;
SET SESSION AUTHORIZATION regress_shop;
SELECT state, status_code, status_name, reason FROM mobisign_status(:'t3');
SELECT state, signature IS NULL AS no_signature FROM mobisign_signature(:'t3');
-- The user declines: 401.
SELECT transaction_id AS t4 FROM mobisign_sign_hash('user0002', sha256('another'), 'SHA256') \gset
RESET SESSION AUTHORIZATION;
SELECT request_sms(:'t4') AS req \gset
\set answer `:'sim' answer --dir :'simdir' --msisdn 3585000000002 --request :'req' --behaviour cancel 2>/dev/null`
SELECT deliver('3585000000002', :'answer') AS handled;
SET SESSION AUTHORIZATION regress_shop;
SELECT state, status_code, status_name FROM mobisign_status(:'t4');
-- Another application does not see these transactions.
SET SESSION AUTHORIZATION regress_other_shop;
SELECT errcode($$ SELECT * FROM mobisign_signature('$$ || :'t1' || $$') $$) AS other_application;
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 4. Refused digests: every check before anything is stored
------------------------------------------------------------------------------

SET SESSION AUTHORIZATION regress_shop;
-- a digest that is not as long as its hash (here SHA-256 of 31 octets),
-- an unknown hash, a missing one, and SHA-1 (20 octets: no hash_type names it)
SELECT err($$ SELECT mobisign_sign_hash('user0001', substr(sha256('x'), 1, 31), 'SHA256') $$);
SELECT err($$ SELECT mobisign_sign_hash('user0001', sha256('x'), 'SHA384') $$);
SELECT err($$ SELECT mobisign_sign_hash('user0001', sha256('x'), 'MD5') $$);
SELECT err($$ SELECT mobisign_sign_hash('user0001', NULL, 'SHA256') $$);
SELECT err($$ SELECT mobisign_sign_hash('user0001', sha256('x'), NULL) $$);
SELECT err($$ SELECT mobisign_sign_hash('user0001', '\x2f665f6a6999e0ef0752e00ec9f453adf59d8cb6', 'SHA1') $$);
-- the display and the user are checked as for mobisign_sign
SELECT err($$ SELECT mobisign_sign_hash('user0001', sha256('x'), 'SHA256', display => repeat('x', 161)) $$);
SELECT err($$ SELECT mobisign_sign_hash('nobody', sha256('x'), 'SHA256') $$);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS transactions FROM mobisign.transaction WHERE app_role = 'regress_shop';

------------------------------------------------------------------------------
-- 5. The gateway's relying parties and user lookup
------------------------------------------------------------------------------

-- An administrator registers a relying party: a name and the UUID its
-- clients send (a shared secret: not in the audit).
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_admin;
SELECT mobisign_add_relying_party('DEMO', '00000000-0000-0000-0000-000000000000');
SELECT errcode($$ SELECT mobisign_add_relying_party('demo', '00000000-0000-0000-0000-000000000001') $$)
       AS same_name_again;
SELECT err($$ SELECT mobisign_add_relying_party(NULL, '00000000-0000-0000-0000-000000000001') $$);
RESET SESSION AUTHORIZATION;
SELECT actor, application, operation, outcome, tx, detail - 'counter' AS detail FROM audit_after(:mark);
-- The gateway (an application role) checks every call: the name in any
-- case, the UUID exactly.
SET SESSION AUTHORIZATION regress_shop;
SELECT mobisign_check_relying_party('DEMO', '00000000-0000-0000-0000-000000000000') AS registered,
       mobisign_check_relying_party('demo', '00000000-0000-0000-0000-000000000000') AS any_case,
       mobisign_check_relying_party('DEMO', '00000000-0000-0000-0000-000000000001') AS wrong_uuid,
       mobisign_check_relying_party('OTHER', '00000000-0000-0000-0000-000000000000') AS unknown,
       mobisign_check_relying_party(repeat('x', 100), '00000000-0000-0000-0000-000000000000') AS too_long;
-- A user by phone number and national identity number: the simulator's
-- certificates carry serialNumber PNOEE-<11 digits> (docs/simulator.md).
SELECT user_id, certificate = :'cert1' AS registered_certificate
  FROM mobisign_find_user('+3585000000001', '30001010001');
SELECT user_id FROM mobisign_find_user('3585000000002', '30001010002');
-- by MSISDN alone (ETSI TS 102 204 requests name no identity number)
SELECT user_id FROM mobisign_find_user('+3585000000002', NULL);
-- the wrong identity number, the wrong phone, no MSISDN at all, a pattern
SELECT count(*) AS wrong_id FROM mobisign_find_user('+3585000000001', '30001010002');
SELECT count(*) AS wrong_phone FROM mobisign_find_user('+3585000000009', '30001010001');
SELECT count(*) AS not_a_phone FROM mobisign_find_user('+35850-1', '30001010001');
SELECT count(*) AS a_pattern FROM mobisign_find_user('+3585000000001', '.*');
RESET SESSION AUTHORIZATION;
SELECT key_type, serial_number
  FROM mobisign._cert_identity(pg_read_binary_file(:'simdir' || '/users/user0001/cert.der'));

------------------------------------------------------------------------------
-- Clean up
------------------------------------------------------------------------------

ALTER SYSTEM RESET mobisign.master_key_file;
ALTER SYSTEM RESET mobisign.sp_key_file;
ALTER SYSTEM RESET mobisign.sp_cert_file;
SELECT pg_reload_conf();
DROP TABLE sim;
DELETE FROM mobisign.transaction WHERE app_role = 'regress_shop';
DELETE FROM mobisign.relying_party;
DROP ROLE regress_shop, regress_other_shop, regress_admin;
