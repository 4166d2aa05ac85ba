--
-- Administration of the SIM channel: users, SMSC links and directories.
--
-- Each function is shown as an administrator uses it: what it returns, what
-- it stores, the audit row it writes, and every refusal with its SQLSTATE,
-- message, detail and hint.  (The bounds on text arguments are in
-- 70_applications; SIM keys are in 80_sim_flow, which configures the
-- master key.)  Audit rows are shown with audit_after() of 00_setup: what
-- changes from run to run (fingerprints, ids) is masked as "…".
--
SET TimeZone = 'UTC';
SET IntervalStyle = 'postgres';
CREATE ROLE regress_admin LOGIN IN ROLE mobisign_admin;
CREATE ROLE regress_app LOGIN IN ROLE mobisign_app;
GRANT SELECT ON fx TO regress_admin;

-- Refusals are shown with refusal() of 00_setup.

------------------------------------------------------------------------------
-- 1. mobisign_register_user: who may be asked to authenticate or sign
------------------------------------------------------------------------------

SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_admin;
-- A user is a user id, an MSISDN and a PKI, with a certificate (DER or
-- PEM) that the PKI validates now.  The call returns nothing.
SELECT mobisign_register_user('erik', '+358401000010', 'alpha-full', certificate => fx('bob-ec.der'));
RESET SESSION AUTHORIZATION;
-- The register row points at the certificate cache by fingerprint; the
-- certificate is cached with source 'register' and its last validation.
SELECT u.user_id, u.msisdn, p.name AS pki, u.status, c.subject, c.source, c.last_status,
       u.certificate_url
  FROM mobisign.app_user u JOIN mobisign.pki p ON p.id = u.pki_id
  JOIN mobisign.certificate c ON c.fingerprint = u.certificate_fingerprint
 WHERE u.user_id = 'erik';
-- One audit row, made by the administrator's login (certificate_sha256 masked).
\x on
SELECT * FROM audit_after(:mark);
\x off

-- Registering again replaces the entry (here: a new number, a PEM certificate).
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_admin;
SELECT mobisign_register_user('erik', '358401000011', 'alpha-full', certificate => fx('alice-rsa.pem'));
RESET SESSION AUTHORIZATION;
SELECT u.msisdn, c.subject FROM mobisign.app_user u
  JOIN mobisign.certificate c ON c.fingerprint = u.certificate_fingerprint WHERE u.user_id = 'erik';
SELECT operation, outcome, detail->>'msisdn' AS msisdn, detail->>'subject' AS subject FROM audit_after(:mark);

-- A user whose certificate is fetched when needed: only its URL is
-- registered (no certificate, no subject yet).
SET SESSION AUTHORIZATION regress_admin;
SELECT mobisign_register_user('fiona', '358401000012', 'alpha-full',
                              certificate_url => 'http://ca.example/fiona.der');
RESET SESSION AUTHORIZATION;
SELECT user_id, certificate_fingerprint IS NULL AS no_certificate_yet, certificate_url
  FROM mobisign.app_user WHERE user_id = 'fiona';

-- Refusals: each statement fails, and everything it wrote goes with it.
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_admin;
\x on
-- the three identifying arguments are required
SELECT * FROM refusal($$ SELECT mobisign_register_user(NULL, '358401000013', 'alpha-full', fx('bob-ec.der')) $$);
-- an MSISDN is digits in international format
SELECT * FROM refusal($$ SELECT mobisign_register_user('gus', '040 123 4567', 'alpha-full', fx('bob-ec.der')) $$);
-- neither a certificate nor a URL
SELECT * FROM refusal($$ SELECT mobisign_register_user('gus', '358401000013', 'alpha-full') $$);
-- a URL the server would not fetch
SELECT * FROM refusal($$ SELECT mobisign_register_user('gus', '358401000013', 'alpha-full',
                                                       certificate_url => 'file:///etc/passwd') $$);
-- a PKI that does not exist
SELECT * FROM refusal($$ SELECT mobisign_register_user('gus', '358401000013', 'nope', fx('bob-ec.der')) $$);
-- bytes that are no certificate
SELECT * FROM refusal($$ SELECT mobisign_register_user('gus', '358401000013', 'alpha-full', '\x3082') $$);
-- a certificate the PKI does not validate: revoked (MS501), expired (MS425),
-- issued by another PKI (MS422); the SQLSTATE carries the TS 102 204 status
SELECT * FROM refusal($$ SELECT mobisign_register_user('gus', '358401000013', 'alpha-full', fx('carol-revoked.der')) $$);
SELECT * FROM refusal($$ SELECT mobisign_register_user('gus', '358401000013', 'alpha-full', fx('dave-expired.der')) $$);
SELECT * FROM refusal($$ SELECT mobisign_register_user('gus', '358401000013', 'alpha-full', fx('ivan-beta.der')) $$);
\x off
RESET SESSION AUTHORIZATION;
-- gus was never registered.  mobisign_register_user writes a 'refused'
-- audit row for a certificate that does not validate, but in the
-- transaction its error rolls back: no trace of the attempts is left.
SELECT count(*) AS gus_rows FROM mobisign.app_user WHERE user_id = 'gus';
SELECT * FROM audit_after(:mark);
-- An application may not register anyone.
SET SESSION AUTHORIZATION regress_app;
SELECT state, message FROM refusal($$ SELECT mobisign_register_user('gus', '358401000013', 'alpha-full', fx('bob-ec.der')) $$);
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 2. mobisign_add_smsc: the SMPP links the worker keeps open
------------------------------------------------------------------------------

SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_admin;
-- Returns the link's id; the defaults are SMPP's usual ones.
SELECT mobisign_add_smsc('operator-a', 'smsc.example', 2775, 'mobisign', 'secret') > 0 AS added;
RESET SESSION AUTHORIZATION;
SELECT name, host, port, system_id, system_type, source_addr, binds, window_size, max_per_second,
       enquire_link_interval, reconnect_delay, response_timeout, connect_timeout, tls
  FROM mobisign.smsc WHERE name = 'operator-a';
-- The audit has the settings, never the password.
\x on
SELECT * FROM audit_after(:mark);
\x off
-- Nor can the administrator read it back: the column is the extension owner's.
SET SESSION AUTHORIZATION regress_admin;
SELECT state, message FROM refusal($$ SELECT password FROM mobisign.smsc $$);
-- The same name again updates the link in place (same id).
SELECT mobisign_add_smsc('operator-a', 'smsc.example', 2775, 'mobisign', 'secret') AS id_a \gset
SELECT mobisign_add_smsc('operator-a', 'smsc2.example', 3775, 'mobisign', 'secret2',
                         window_size => 50, max_per_second => 20) = :id_a AS same_id;
RESET SESSION AUTHORIZATION;
SELECT host, port, window_size, max_per_second FROM mobisign.smsc WHERE name = 'operator-a';
-- TLS: the CA file is required, the server name defaults to the host.
SET SESSION AUTHORIZATION regress_admin;
SELECT mobisign_add_smsc('operator-tls', 'smsc.example', 3550, 'mobisign', 'secret', tls => true,
                         tls_ca_file => '/etc/ssl/certs/ca-certificates.crt') > 0 AS added;
RESET SESSION AUTHORIZATION;
SELECT name, tls, tls_ca_file, tls_server_name, tls_cert_file FROM mobisign.smsc WHERE name = 'operator-tls';
-- Several binds: operators give an account 2 to 10 binds, each with its own
-- window and rate. The worker opens binds transceiver sessions on the link;
-- window_size and max_per_second apply to each one (here 3 x 20 in flight,
-- 3 x 50 per second).
SET SESSION AUTHORIZATION regress_admin;
SELECT mobisign_add_smsc('operator-b', 'smsc.example', 2775, 'mobisign', 'secret',
                         window_size => 20, max_per_second => 50, binds => 3) > 0 AS added;
RESET SESSION AUTHORIZATION;
SELECT name, binds, window_size, max_per_second FROM mobisign.smsc WHERE name = 'operator-b';
-- The audit row of the change names the number of binds.
SELECT detail->'binds' AS binds FROM mobisign.audit
 WHERE operation = 'smsc.add' AND detail->>'name' = 'operator-b';
-- The same name again with another number changes it in place.
SET SESSION AUTHORIZATION regress_admin;
SELECT mobisign_add_smsc('operator-b', 'smsc.example', 2775, 'mobisign', 'secret', binds => 10) > 0 AS updated;
RESET SESSION AUTHORIZATION;
SELECT name, binds FROM mobisign.smsc WHERE name = 'operator-b';
-- Outside 1..10 the function refuses, and so does the table itself.
SET SESSION AUTHORIZATION regress_admin;
SELECT state, message, detail FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', binds => 0) $$);
SELECT state, message FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', binds => 11) $$);
SELECT state, message FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', binds => NULL) $$);
RESET SESSION AUTHORIZATION;
SELECT state, message FROM refusal($$ UPDATE mobisign.smsc SET binds = 11 WHERE name = 'operator-b' $$);
SELECT binds FROM mobisign.smsc WHERE name = 'operator-b';
-- What the worker has open, per bind and per link (docs/worker.md). The
-- worker of this cluster serves another database, so nothing is open here;
-- the columns are what an administrator or an auditor reads.
SET SESSION AUTHORIZATION regress_admin;
SELECT * FROM mobisign.worker_binds;
SELECT * FROM mobisign.worker_links;
SELECT binds_configured, binds_bound FROM mobisign.worker_stats;
RESET SESSION AUTHORIZATION;

-- Refusals.  None of them echoes the row (the password is in it).
SET SESSION AUTHORIZATION regress_admin;
\x on
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', NULL, 2775, 'ms', 'pw') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'password9') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'a-system-id-of-16', 'pw') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 70000, 'ms', 'pw') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', enquire_link_interval => '0 s') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', connect_timeout => '0 s') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', tls => true) $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', tls_ca_file => '/ca.pem') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', tls => true, tls_ca_file => '/ca.pem',
                                                 tls_cert_file => '/client.pem') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', tls => true, tls_ca_file => '/ca.pem',
                                                 tls_server_name => 'smsc example') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_smsc('b', 'h', 2775, 'ms', 'pw', tls => true, tls_ca_file => '') $$);
\x off
RESET SESSION AUTHORIZATION;
SELECT count(*) AS smsc_b FROM mobisign.smsc WHERE name = 'b';

------------------------------------------------------------------------------
-- 3. mobisign_add_directory: LDAP directories that know users
------------------------------------------------------------------------------

SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_admin;
-- Returns the directory's id.  Directories are asked in position order
-- (default: after the last one, in steps of 10).  These are disabled at the
-- end of this file: no suite connects to them.
SELECT mobisign_add_directory('corp', 'ldap://127.0.0.1:1', 'ou=people,o=corp,c=FI', pki => 'alpha-full') > 0 AS added;
-- A bind password sent in clear is accepted with a warning and a hint.
SELECT mobisign_add_directory('partner', 'ldap://127.0.0.1:2', 'o=partner,c=FI',
                              bind_dn => 'cn=mobisign,o=partner,c=FI', bind_password => 'pw') > 0 AS added;
-- ldaps:// or StartTLS carry it encrypted: no warning.
SELECT mobisign_add_directory('partner', 'ldaps://127.0.0.1:3', 'o=partner,c=FI',
                              bind_dn => 'cn=mobisign,o=partner,c=FI', bind_password => 'pw',
                              user_filter => '(&(objectClass=person)(mail=%s))') > 0 AS added;
RESET SESSION AUTHORIZATION;
SELECT d.name, d.position, d.url, d.base_dn, d.bind_dn, d.user_filter, d.msisdn_attribute,
       d.certificate_attribute, d.starttls, d.timeout, p.name AS pki, d.enabled
  FROM mobisign.directory d LEFT JOIN mobisign.pki p ON p.id = d.pki_id ORDER BY d.position;
-- The audit says whether a bind password is set, never what it is.
\x on
SELECT * FROM audit_after(:mark);
\x off

-- Refusals.
SET SESSION AUTHORIZATION regress_admin;
\x on
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldap://h', NULL) $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldap://h/o=corp?uid', 'o=corp') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'http://h', 'o=corp') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldaps://h', 'o=corp', starttls => true) $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldap://h', 'o=corp', user_filter => '(uid=*)') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldap://h', 'o=corp', user_filter => '(uid=%s)(cn=%s)') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldap://h', 'o=corp', msisdn_attribute => 'mobile)(uid=*') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldap://h', 'o=corp', bind_password => 'pw') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldap://h', 'o=corp', timeout => '1 h') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldap://h', 'o=corp', ca_file => 'ca.pem') $$);
SELECT * FROM refusal($$ SELECT mobisign_add_directory('x', 'ldap://h', 'o=corp', pki => 'nope') $$);
\x off
-- Disabling keeps the entry (same id, same position) and stops its use.
SELECT id AS corp_id FROM mobisign.directory WHERE name = 'corp' \gset
SELECT mobisign_add_directory('corp', 'ldap://127.0.0.1:1', 'ou=people,o=corp,c=FI', pki => 'alpha-full',
                              "position" => 10, enabled => false) = :corp_id AS same_id;
SELECT mobisign_add_directory('partner', 'ldaps://127.0.0.1:3', 'o=partner,c=FI', enabled => false) > 0 AS disabled;
RESET SESSION AUTHORIZATION;
SELECT name, position, enabled FROM mobisign.directory ORDER BY position;

REVOKE SELECT ON fx FROM regress_admin;
DROP ROLE regress_admin, regress_app;
