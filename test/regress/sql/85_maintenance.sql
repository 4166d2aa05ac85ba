--
-- Maintenance: mobisign_lookup_user, mobisign_refresh_crls and
-- mobisign_advance_counters.
--
-- Each function is shown as an operator uses it with no network at hand
-- (no LDAP or HTTP server: a directory on a closed port of 127.0.0.1 shows
-- the error a down directory gives): what it returns, the audit row it
-- writes, and its refusals with SQLSTATE, message, detail and hint.  The
-- suite runs alone after 00_setup and 10_pki or after every other suite,
-- so it shows only what is the same in both (counts of SIM keys are
-- compared, not printed).  Audit rows are shown with audit_after() of
-- 00_setup: what changes from run to run is masked as "…".
--
SET TimeZone = 'UTC';
CREATE ROLE regress_maint_admin LOGIN IN ROLE mobisign_admin;
CREATE ROLE regress_maint_app LOGIN IN ROLE mobisign_app;
GRANT SELECT ON fx TO regress_maint_admin;

-- Refusals are shown with refusal() of 00_setup: SQLSTATE, message,
-- detail and hint.

------------------------------------------------------------------------------
-- 1. mobisign_lookup_user: where a user's number and certificates come from
------------------------------------------------------------------------------

-- The order is: the register (with its registered certificate), then the
-- enabled LDAP directories by position, then the register's certificate URL.
-- A user found nowhere gives no row, and one audit row "not_found".
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SET SESSION AUTHORIZATION regress_maint_admin;
SELECT * FROM mobisign_lookup_user('nobody-here');
RESET SESSION AUTHORIZATION;
SELECT * FROM audit_after(:mark);

-- A registered user is found in the register: the MSISDN and the
-- registered certificate (here bob-ec.der), no directory.
SET SESSION AUTHORIZATION regress_maint_admin;
SELECT mobisign_register_user('maint-user', '+358401000085', 'alpha-full', certificate => fx('bob-ec.der'));
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SELECT user_id, msisdn, cardinality(certificates) AS certificates,
       certificates[1] = fx('bob-ec.der') AS is_registered_certificate, source, directory
  FROM mobisign_lookup_user('maint-user');
RESET SESSION AUTHORIZATION;
SELECT * FROM audit_after(:mark);

-- An enabled directory that cannot be reached (nothing listens on port 1):
-- a registered user is still found in the register without asking it, an
-- unknown user is an error naming the directory (no silent "not found").
SET SESSION AUTHORIZATION regress_maint_admin;
SELECT mobisign_add_directory('maint-down', 'ldap://127.0.0.1:1', 'ou=people,o=corp,c=FI',
                              timeout => '2 s') > 0 AS added;
SELECT user_id, source FROM mobisign_lookup_user('maint-user');
\x on
SELECT * FROM refusal($$ SELECT * FROM mobisign_lookup_user('nobody-here') $$);
\x off
-- Disabled, the directory is skipped again.
SELECT mobisign_add_directory('maint-down', 'ldap://127.0.0.1:1', 'ou=people,o=corp,c=FI',
                              enabled => false) > 0 AS disabled;
SELECT count(*) AS rows FROM mobisign_lookup_user('nobody-here');

-- Bad input: a NULL user id, one with a control character, one too long.
\x on
SELECT * FROM refusal($$ SELECT * FROM mobisign_lookup_user(NULL) $$);
SELECT * FROM refusal($$ SELECT * FROM mobisign_lookup_user(E'a\x01b') $$);
SELECT state, message, hint FROM refusal($$ SELECT * FROM mobisign_lookup_user(repeat('u', 100000)) $$);
\x off
RESET SESSION AUTHORIZATION;

-- Only mobisign_admin (and superusers) may look users up: an application
-- may not.
SET SESSION AUTHORIZATION regress_maint_app;
SELECT * FROM refusal($$ SELECT * FROM mobisign_lookup_user('maint-user') $$);
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 2. mobisign_refresh_crls: fetch every PKI's CRLs now
------------------------------------------------------------------------------

-- The sources are the CRL distribution points of each enabled PKI's CAs,
-- of the certificates they issued and of the cached CRLs, and CA entries in
-- the directories.  The test PKIs name no distribution point and no
-- directory is enabled: nothing to fetch, nothing changes, the result is 0.
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
SELECT count(*) AS crls_before FROM mobisign.crl \gset
SET SESSION AUTHORIZATION regress_maint_admin;
SELECT mobisign_refresh_crls() AS changed;
RESET SESSION AUTHORIZATION;
SELECT count(*) = :crls_before AS crls_unchanged FROM mobisign.crl;
SELECT count(*) AS crl_sources FROM mobisign.crl_source;
-- One audit row: how many CRLs changed and how many sources are failing.
SELECT * FROM audit_after(:mark);

-- The periodic refresh (the worker's, every mobisign.crl_refresh_interval)
-- reads the distribution points of a cached certificate once: a second
-- refresh checks no certificate against its CA again (it would, for every
-- user ever cached, every minute), while mobisign_refresh_crls() reads
-- them all.  Counted by track_functions in this transaction.
BEGIN;
SET LOCAL track_functions = 'all';
SELECT mobisign._refresh_crls(true) AS first_refresh_changed;
SELECT count(*) > 0 AS certificates_read FROM mobisign.crl_point_examined;
SELECT coalesce(sum(calls), 0) AS checks_so_far FROM pg_stat_xact_user_functions
 WHERE schemaname = 'mobisign' AND funcname = '_cert_issued_by' \gset
SELECT mobisign._refresh_crls(true) AS second_refresh_changed;
SELECT coalesce(sum(calls), 0) - :checks_so_far AS certificates_checked_again
  FROM pg_stat_xact_user_functions WHERE schemaname = 'mobisign' AND funcname = '_cert_issued_by';
SELECT coalesce(sum(calls), 0) AS checks_so_far FROM pg_stat_xact_user_functions
 WHERE schemaname = 'mobisign' AND funcname = '_cert_issued_by' \gset
-- the full refresh (mobisign_refresh_crls) checks every one again
SELECT mobisign._refresh_crls(false) AS full_refresh_changed;
SELECT coalesce(sum(calls), 0) - :checks_so_far > 0 AS full_refresh_checked_them
  FROM pg_stat_xact_user_functions WHERE schemaname = 'mobisign' AND funcname = '_cert_issued_by';
COMMIT;

-- An application may not trigger fetches.
SET SESSION AUTHORIZATION regress_maint_app;
SELECT * FROM refusal($$ SELECT mobisign_refresh_crls() $$);
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- 3. mobisign_advance_counters: after a point-in-time recovery or failover
------------------------------------------------------------------------------

-- A SIM must never see an OTA counter again.  After a restore that lost
-- commits, a superuser moves every SIM key's counter forward by a margin
-- (default mobisign.restore_counter_margin) and expires every open
-- transaction.  The result is how many SIM keys and open transactions it
-- touched.  Shown in a transaction that is rolled back, so what runs later
-- sees the counters as they were.
SHOW mobisign.restore_counter_margin;
BEGIN;
-- Restore events other suites left (they too write rows by hand) are set
-- aside, so that only this one shows (the transaction is rolled back).
DELETE FROM mobisign.restore_event;
SELECT coalesce(max(id), 0) AS mark FROM mobisign.audit \gset
-- A SIM key row written by anything but mobisign itself (here by hand, as
-- pg_restore would) is taken for a restored one: its counter moves forward
-- by the margin on the way in, its answers before that are refused, and a
-- restore event waits for the audit trail.  (The wrapped keys are never
-- used: the transaction is rolled back.)
INSERT INTO mobisign.sim_key (msisdn, key_set, kic_wrapped, kid_wrapped, tar, counter)
VALUES ('358401000085', 1, '\x00', '\x00', '\xb00010', 5)
RETURNING counter - 5 AS advanced_by, response_counter = counter AS older_answers_refused;
SELECT counter_margin, sim_keys FROM mobisign.restore_event;
CREATE TEMP TABLE counters_before AS SELECT msisdn, key_set, counter FROM mobisign.sim_key;
SELECT sim_keys = (SELECT count(*) FROM mobisign.sim_key) AS every_sim_key,
       open_transactions >= 0 AS open_transactions_counted
  FROM mobisign_advance_counters(1000);
-- The hand-made row moved 1000 further; every other counter moved forward
-- too (up to the maximum, 2^40-1); no open transaction is left unexpired.
SELECT counter - 5 AS advanced_by FROM mobisign.sim_key WHERE msisdn = '358401000085' AND key_set = 1;
SELECT count(*) AS counters_not_advanced
  FROM mobisign.sim_key k JOIN counters_before b USING (msisdn, key_set)
 WHERE k.counter < LEAST(b.counter + 1000, 1099511627775);
SELECT count(*) AS open_and_unexpired FROM mobisign.transaction t
 WHERE mobisign._is_open(t.state) AND t.expires_at > now();
-- Two audit rows: the waiting restore event is written first, then the
-- advance with the margin used (the counts depend on what ran before, so
-- only the keys are shown).  The actor is the superuser running the suite.
SELECT actor = current_user AS by_me, operation, outcome, tx,
       detail - 'sim_keys' - 'open_transactions_expired' - 'restored_at' AS detail,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(detail) k) AS keys
  FROM audit_after(:mark);
SELECT count(*) AS restore_events_left FROM mobisign.restore_event;
ROLLBACK;

-- The margin must be a counter step: 1 .. 2^40-1.
SELECT * FROM refusal($$ SELECT mobisign_advance_counters(0) $$);
SELECT * FROM refusal($$ SELECT mobisign_advance_counters(1099511627776) $$);

-- Superuser only: not even mobisign_admin may call it.
SET SESSION AUTHORIZATION regress_maint_admin;
SELECT * FROM refusal($$ SELECT mobisign_advance_counters() $$);
RESET SESSION AUTHORIZATION;

------------------------------------------------------------------------------
-- Clean up
------------------------------------------------------------------------------

DELETE FROM mobisign.directory WHERE name = 'maint-down';
DELETE FROM mobisign.app_user WHERE user_id = 'maint-user';
REVOKE SELECT ON fx FROM regress_maint_admin;
DROP ROLE regress_maint_admin, regress_maint_app;
