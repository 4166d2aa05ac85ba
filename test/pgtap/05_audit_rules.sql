-- The audit trail is append-only: no role other than the extension's own
-- code writes it, and nobody rewrites it through normal SQL.
BEGIN;
SELECT plan(14);

CREATE ROLE tap_admin LOGIN IN ROLE mobisign_admin;
CREATE ROLE tap_app LOGIN IN ROLE mobisign_app;
CREATE ROLE tap_auditor LOGIN IN ROLE mobisign_auditor;

-- one row to aim at
SELECT mobisign.audit_log('tap-test', 'ok', '{"note": "pgTAP"}');

SET LOCAL ROLE tap_auditor;
SELECT isnt_empty($$ SELECT 1 FROM mobisign.audit WHERE operation = 'tap-test' $$,
                  'the auditor reads the audit trail');
SELECT throws_ok($$ UPDATE mobisign.audit SET outcome = 'forged' $$, '42501', NULL,
                 'the auditor cannot UPDATE audit rows');
SELECT throws_ok($$ DELETE FROM mobisign.audit $$, '42501', NULL,
                 'the auditor cannot DELETE audit rows');
SELECT throws_ok($$ TRUNCATE mobisign.audit $$, '42501', NULL,
                 'the auditor cannot TRUNCATE the audit trail');
SELECT throws_ok($$ INSERT INTO mobisign.audit (operation, outcome) VALUES ('forged', 'ok') $$, '42501', NULL,
                 'the auditor cannot INSERT audit rows directly');
RESET ROLE;

SET LOCAL ROLE tap_admin;
SELECT throws_ok($$ UPDATE mobisign.audit SET outcome = 'forged' $$, '42501', NULL,
                 'the administrator cannot UPDATE audit rows');
SELECT throws_ok($$ DELETE FROM mobisign.audit $$, '42501', NULL,
                 'the administrator cannot DELETE audit rows');
SELECT throws_ok($$ TRUNCATE mobisign.audit $$, '42501', NULL,
                 'the administrator cannot TRUNCATE the audit trail');
RESET ROLE;

SET LOCAL ROLE tap_app;
SELECT throws_ok($$ INSERT INTO mobisign.audit (operation, outcome) VALUES ('forged', 'ok') $$, '42501', NULL,
                 'an application cannot INSERT audit rows directly');
SELECT throws_ok($$ SELECT mobisign.audit_log('forged', 'ok') $$, '42501', NULL,
                 'an application cannot call the internal audit writer');
RESET ROLE;

-- Even the owner (superuser) is stopped by the triggers; only
-- session_replication_role = replica (which disables triggers) gets past,
-- and mobisign_audit_verify() catches that (see the regression test).
SELECT throws_ok($$ UPDATE mobisign.audit SET outcome = 'forged' WHERE operation = 'tap-test' $$, '42501', NULL,
                 'a superuser''s UPDATE is refused by the append-only trigger');
SELECT throws_ok($$ DELETE FROM mobisign.audit WHERE operation = 'tap-test' $$, '42501', NULL,
                 'a superuser''s DELETE is refused by the append-only trigger');
SELECT throws_ok($$ TRUNCATE mobisign.audit $$, '42501', NULL,
                 'a superuser''s TRUNCATE is refused by the append-only trigger');
SELECT is((SELECT outcome FROM mobisign.audit WHERE operation = 'tap-test'), 'ok',
          'the row is unchanged');

SELECT * FROM finish();
ROLLBACK;
