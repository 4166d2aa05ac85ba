--
-- Hostile or careless applications: every argument bounded, nothing on the
-- SIM's screen that is not what is signed, no user held for long, NOTIFY
-- only a hint, no quick erasure of the audit.
--
-- Applications are told apart by their login role (session_user), so each
-- step runs under SET SESSION AUTHORIZATION as the role it is about.
--
SET TimeZone = 'UTC';
SET IntervalStyle = 'postgres';

CREATE ROLE regress_shop1 LOGIN IN ROLE mobisign_app;
CREATE ROLE regress_shop2 LOGIN IN ROLE mobisign_app;
CREATE ROLE regress_admin LOGIN IN ROLE mobisign_admin;
CREATE ROLE regress_purger LOGIN IN ROLE mobisign_purger;
CREATE ROLE regress_nobody LOGIN;   -- may connect, nothing else

-- Refusals are shown with refusal() of 00_setup (SQLSTATE, message,
-- detail and hint).
-- the fixtures are test data: every role of this file may read them
GRANT SELECT ON fx TO PUBLIC;

-- Two users of PKI alpha-full (10_pki). Their SIMs' key sets are inserted
-- directly: no request in this file gets as far as building a packet.
SELECT mobisign_register_user('alice', '358401000001', 'alpha-full', certificate => fx('alice-rsa.der'));
SELECT mobisign_register_user('bob', '358401000002', 'alpha-full', certificate => fx('bob-ec.der'));
INSERT INTO mobisign.sim_key (msisdn, key_set, kic_wrapped, kid_wrapped, tar)
VALUES ('358401000001', 1, '\x00', '\x00', '\x4d5347'), ('358401000002', 1, '\x00', '\x00', '\x4d5347');

------------------------------------------------------------------------------
-- 1. Every text argument has a documented limit
------------------------------------------------------------------------------

-- The limits, readable by every role of the API. Application arguments are
-- refused with their TS 102 204 status (MS101 WRONG_PARAM, MS103
-- WRONG_DATA_LENGTH), administrative ones with 22023.
SET SESSION AUTHORIZATION regress_shop1;
SELECT * FROM mobisign_input_limits() ORDER BY sqlstate DESC, argument;
RESET SESSION AUTHORIZATION;

-- 200 MB of chr(1) in the application label used to reach the audit (6
-- bytes per character once JSON-escaped) and stop its sealing for good.
-- Now a label is measured before it is read: refused from its size alone.
SELECT count(*) AS audit_rows_before FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_shop1;
SELECT err($$ SELECT mobisign_authenticate('alice', application => repeat(chr(1), 200000)) $$);
-- one character too many (at most 64)
SELECT err($$ SELECT mobisign_authenticate('alice', application => repeat('a', 65)) $$);
-- control, format and separator characters are refused in labels: BEL,
-- a newline, U+202E (right-to-left override), U+200B (zero width space)
SELECT err(format($$ SELECT mobisign_authenticate('alice', application => %L) $$, 'shop' || chr(7)));
SELECT err(format($$ SELECT mobisign_authenticate('alice', application => %L) $$, E'shop\nTransfer'));
SELECT err($$ SELECT mobisign_authenticate('alice', application => U&'shop\202E') $$);
SELECT err($$ SELECT mobisign_authenticate('alice', application => U&'sh\200Bop') $$);
-- an empty label says nothing: refused (NULL means "no label")
SELECT err($$ SELECT mobisign_authenticate('alice', application => '') $$);
-- user ids: at most 256 printable characters
SELECT err($$ SELECT mobisign_authenticate(repeat('u', 257)) $$);
SELECT err($$ SELECT mobisign_authenticate(E'alice\t') $$);
-- display texts: at most 160 characters before the screen check
SELECT err($$ SELECT mobisign_sign('alice', repeat('x', 100000)) $$);
SELECT err($$ SELECT mobisign_authenticate('alice', message => repeat('x', 161)) $$);
RESET SESSION AUTHORIZATION;
-- Refused requests leave nothing behind, in the audit or elsewhere.
SELECT count(*) - :audit_rows_before AS new_audit_rows FROM mobisign.audit;
SELECT count(*) AS transactions FROM mobisign.transaction;

-- Administrative arguments too: a name, a URL, a DN...
SET SESSION AUTHORIZATION regress_admin;
SELECT err($$ SELECT mobisign_register_user('carol', '358401000003', repeat('p', 64), certificate => '\x00') $$);
SELECT err($$ SELECT mobisign_register_user('carol', '358401000003', 'alpha-full',
                                            certificate_url => 'http://ca.example/' || repeat('c', 3000)) $$);
SELECT err($$ SELECT mobisign_add_directory(repeat('d', 64), 'ldap://127.0.0.1', 'c=FI') $$);
SELECT err($$ SELECT mobisign_add_directory('corp', 'ldap://127.0.0.1', E'o=x\r\nc=FI') $$);
SELECT err($$ SELECT mobisign_add_smsc('op', repeat('h', 254), 2775, 'ms', 'pw') $$);
-- a PKI name that is no name at all is not echoed back
SELECT err($$ SELECT mobisign_add_crl(repeat('x', 100000), fx('alpha-int.crl.der')) $$);
RESET SESSION AUTHORIZATION;
-- The verification functions bound their names as well (PKI, algorithm).
SET SESSION AUTHORIZATION regress_shop1;
SELECT err($$ SELECT valid FROM mobisign_validate_certificate(fx('bob-ec.der'), pki => repeat('x', 100)) $$);
SELECT err($$ SELECT mobisign_verify_signature(fx('bob.spki.der'), fx('content.txt'), fx('bob-raw-sha256.sig'),
                                               repeat('ecdsa', 10)) $$);
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 2. What you see is what you sign
------------------------------------------------------------------------------

-- The display text is checked where it is encoded for the SIM (the codec's
-- msc_display_encode, run by mobisign._display_check and again when the
-- request is built): printable characters and the newline only.
SELECT name, d.fits, d.problem
  FROM (VALUES ('plain text', 'Pay 100.00 EUR to ACME Oy'),
               ('newline', E'Pay 100.00 EUR\nto ACME Oy'),
               ('U+202E right-to-left override', U&'Pay 100.00 EUR to \202EyO EMCA'),
               ('U+200B zero width space', U&'Pay 1\200B00.00 EUR'),
               ('U+FEFF byte order mark', U&'\FEFFPay 100.00 EUR'),
               ('U+0007 bell', 'Pay' || chr(7)),
               ('U+0085 next line', U&'Pay\0085100.00 EUR'),
               ('U+000D carriage return', E'Pay 100.00 EUR\r'),
               ('U+2028 line separator', U&'Pay\2028100.00 EUR'),
               ('U+00AD soft hyphen', U&'Pay\00AD100.00 EUR'),
               ('U+E0041 tag letter A', U&'Pay\+0E0041')) AS t(name, txt),
       mobisign._display_check(t.txt) d;

-- Through the API: SQLSTATE MS103 with the character, its position and a hint.
SET SESSION AUTHORIZATION regress_shop1;
\x on
SELECT * FROM refusal($$ SELECT mobisign_sign('bob', U&'Pay 100.00 EUR to \202EyO EMCA') $$);
SELECT * FROM refusal($$ SELECT mobisign_authenticate('bob', message => U&'Log in\000Dto ACME?') $$);
\x off
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 3. No application holds a user for long
------------------------------------------------------------------------------

-- A request's timeout is capped by mobisign.max_timeout (default 180 s, as
-- MSSPs keep requests open for 80 to 180 s).
SHOW mobisign.max_timeout;
SET SESSION AUTHORIZATION regress_shop1;
SELECT err($$ SELECT mobisign_authenticate('alice', 'shop', timeout => '1 day') $$);
SELECT err($$ SELECT mobisign_sign('alice', 'Pay 1 EUR', timeout => '181 s') $$);
-- The cap is on the time the request stays open: an interval is taken as
-- its duration (mobisign._duration: a month is 30 days, a year 365.25), the
-- same value checked and added to now().  Compared as intervals (a year is
-- 12 months of 30 days) the next one is 10 seconds; added to a date it is
-- more than 14 years, and alice would be held from every application.
SELECT err($$ SELECT mobisign_authenticate('alice', 'shop', timeout => '1000 years -360000 days 10 s') $$);
-- Only a superuser can move the cap.
SELECT err($$ SET mobisign.max_timeout = '1d' $$);
RESET SESSION AUTHORIZATION;
-- (what those durations are; mobisign._duration is internal)
SELECT mobisign._duration('1000 years -360000 days 10 s') AS held_for,
       mobisign._duration('1 mon -30 days 1 min') AS one_minute,
       mobisign._duration('178000000 years') AS clamped;
SET mobisign.max_timeout = '80s';
SELECT err($$ SELECT mobisign_authenticate('alice', 'shop', timeout => '2 min') $$);
RESET mobisign.max_timeout;

-- shop1 has an open request for alice (inserted here as the worker leaves
-- it once the SMSC accepted it).
INSERT INTO mobisign.transaction (id, kind, app_role, application, user_id, msisdn, reference, data,
                                  data_hash, display_text, verification_code, state, expires_at)
VALUES ('00000000-0000-4000-8000-000000000001', 'authenticate', 'regress_shop1', 'Secret Shop One',
        'alice', '358401000001', '\x0102030405060708', '\x00', sha256('\x00'), 'Log in?', '1234',
        'submitted', now() + interval '3 min');
-- A second request for alice is refused (MS406), and what shop2 learns is
-- only that a request for this user is in progress: not which application,
-- nor its label, nor that it is another application at all ...
\x on
SET SESSION AUTHORIZATION regress_shop2;
SELECT * FROM refusal($$ SELECT mobisign_authenticate('alice', 'shop2', timeout => '3 min') $$);
-- ... since shop1 itself is told exactly the same.
SET SESSION AUTHORIZATION regress_shop1;
SELECT * FROM refusal($$ SELECT mobisign_authenticate('alice', 'shop1', timeout => '3 min') $$);
\x off
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 4. NOTIFY mobisign is a hint to look, never a result
------------------------------------------------------------------------------

-- Any role that can connect may send NOTIFY mobisign, with any payload: here
-- a role with no privilege at all announces a valid signature for alice's
-- open transaction.
SET SESSION AUTHORIZATION regress_nobody;
NOTIFY mobisign, '{"transaction_id": "00000000-0000-4000-8000-000000000001", "status": 502, "status_name": "VALID_SIGNATURE"}';
RESET SESSION AUTHORIZATION;
-- mobisign_wait() reads the transaction's row, never a notification: it
-- returns at its timeout with the transaction still open, and
-- mobisign_status() (the way to read an outcome) agrees.
SET SESSION AUTHORIZATION regress_shop1;
SELECT state, status_code, status_name, completed_at IS NULL AS open
  FROM mobisign_wait('00000000-0000-4000-8000-000000000001', '300 ms');
SELECT state, status_code, status_name FROM mobisign_status('00000000-0000-4000-8000-000000000001');
-- and an application cannot read another's transaction, forged hint or not
SET SESSION AUTHORIZATION regress_shop2;
SELECT err($$ SELECT * FROM mobisign_status('00000000-0000-4000-8000-000000000001') $$);
RESET SESSION AUTHORIZATION;
SELECT mobisign_cancel('00000000-0000-4000-8000-000000000001');

------------------------------------------------------------------------------
-- 5. Purging the audit needs its own role and respects a minimum retention
------------------------------------------------------------------------------

SHOW mobisign.min_retention;
SELECT count(*) AS audit_rows_before FROM mobisign.audit \gset
-- mobisign_admin may not purge (it could erase the audit of its own changes)
SET SESSION AUTHORIZATION regress_admin;
SELECT errcode($$ SELECT mobisign_purge('400 days') $$) AS admin_purge;
-- mobisign_purger may, but nothing younger than mobisign.min_retention
SET SESSION AUTHORIZATION regress_purger;
SELECT err($$ SELECT mobisign_purge('1 millisecond') $$);
SELECT err($$ SELECT mobisign_purge('29 days') $$);
-- compared as intervals this is 5,241 days; as a duration it is minus 9
-- days, a cutoff tomorrow that would purge everything
SELECT err($$ SELECT mobisign_purge('-12000 mon 365241 days') $$);
SELECT * FROM mobisign_purge('30 days');
-- and it cannot lower the minimum (superuser only)
SELECT err($$ SET mobisign.min_retention = 0 $$);
RESET SESSION AUTHORIZATION;
-- not even a superuser purges below the minimum without changing it first
SELECT err($$ SELECT mobisign_purge('1 millisecond') $$);
-- nothing was removed (and the refusals wrote nothing)
SELECT count(*) - :audit_rows_before AS audit_rows_changed FROM mobisign.audit;

REVOKE SELECT ON fx FROM PUBLIC;
DROP ROLE regress_shop1, regress_shop2, regress_admin, regress_purger, regress_nobody;
