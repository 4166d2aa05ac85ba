-- Who may call what: administration to mobisign_admin, verification to
-- mobisign_app, the audit to mobisign_auditor; secrets to nobody but the owner.
BEGIN;
SELECT plan(39);

-- (a function that does not exist yet counts as not executable; 02_functions
-- checks that each one exists)

-- administration
SELECT ok(coalesce(has_function_privilege('mobisign_admin', (SELECT p.oid FROM pg_proc p WHERE p.proname = 'mobisign_add_pki' LIMIT 1), 'EXECUTE'), false),
          'mobisign_admin may add a PKI');
SELECT ok(coalesce(has_function_privilege('mobisign_admin', (SELECT p.oid FROM pg_proc p WHERE p.proname = 'mobisign_add_crl' LIMIT 1), 'EXECUTE'), false),
          'mobisign_admin may add a CRL');
SELECT ok(NOT coalesce(has_function_privilege('mobisign_app', (SELECT p.oid FROM pg_proc p WHERE p.proname = 'mobisign_add_pki' LIMIT 1), 'EXECUTE'), false),
          'mobisign_app may not add a PKI');
SELECT ok(NOT coalesce(has_function_privilege('mobisign_app', (SELECT p.oid FROM pg_proc p WHERE p.proname = 'mobisign_add_crl' LIMIT 1), 'EXECUTE'), false),
          'mobisign_app may not add a CRL');
SELECT ok(NOT coalesce(has_function_privilege('mobisign_auditor', (SELECT p.oid FROM pg_proc p WHERE p.proname = 'mobisign_add_pki' LIMIT 1), 'EXECUTE'), false),
          'mobisign_auditor may not add a PKI');

-- verification
SELECT ok(coalesce(has_function_privilege('mobisign_app', to_regprocedure('mobisign_validate_certificate(bytea,bytea[],text,timestamptz)'), 'EXECUTE'), false),
          'mobisign_app may validate a certificate');
SELECT ok(coalesce(has_function_privilege('mobisign_app', to_regprocedure('mobisign_verify(bytea,bytea,bytea,text,timestamptz)'), 'EXECUTE'), false),
          'mobisign_app may verify a signature');
SELECT ok(coalesce(has_function_privilege('mobisign_app', to_regprocedure('mobisign_verify_signature(bytea,bytea,bytea,text)'), 'EXECUTE'), false),
          'mobisign_app may check a raw signature');

-- audit
SELECT ok(coalesce(has_function_privilege('mobisign_auditor', to_regprocedure('mobisign_audit_verify()'), 'EXECUTE'), false),
          'mobisign_auditor may verify the audit chain');
SELECT ok(has_table_privilege('mobisign_auditor', 'mobisign.audit', 'SELECT'),
          'mobisign_auditor may read the audit trail');
SELECT ok(NOT has_table_privilege('mobisign_app', 'mobisign.audit', 'SELECT'),
          'mobisign_app may not read the audit trail (other applications'' events)');
SELECT ok(NOT coalesce(has_function_privilege('mobisign_app', to_regprocedure('mobisign_audit_verify()'), 'EXECUTE'), false),
          'mobisign_app may not run the audit check');
SELECT ok(NOT coalesce(has_function_privilege(r, to_regprocedure('mobisign.audit_log(text,text,jsonb,uuid,text)'), 'EXECUTE'), false),
          format('%s may not write audit rows directly (mobisign.audit_log is internal)', r))
  FROM unnest(ARRAY['mobisign_admin', 'mobisign_app', 'mobisign_auditor']) AS r;
SELECT ok(NOT coalesce(has_function_privilege(r, to_regprocedure('mobisign.audit_seal(integer)'), 'EXECUTE'), false),
          format('%s may not run the sealer directly', r))
  FROM unnest(ARRAY['mobisign_app', 'mobisign_auditor']) AS r;

-- no role but the owner writes the audit table
SELECT ok(NOT has_table_privilege(r, 'mobisign.audit', p),
          format('%s has no %s privilege on mobisign.audit', r, p))
  FROM unnest(ARRAY['mobisign_admin', 'mobisign_app', 'mobisign_auditor']) AS r,
       unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p;

-- secrets: mobisign_app cannot read them (nor can the auditor)
SELECT ok(NOT has_column_privilege(r, t, c, 'SELECT'),
          format('%s cannot read %s.%s', r, t, c))
  FROM unnest(ARRAY['mobisign_app', 'mobisign_auditor']) AS r,
       (VALUES ('mobisign.smsc', 'password'), ('mobisign.directory', 'bind_password'),
               ('mobisign.sim_key', 'kic_wrapped'), ('mobisign.sim_key', 'kid_wrapped')) AS s(t, c)
 WHERE r = 'mobisign_app' OR c IN ('password', 'bind_password');

-- and trying it as a login role of mobisign_app is refused
CREATE ROLE tap_secret_app LOGIN IN ROLE mobisign_app;
SET LOCAL ROLE tap_secret_app;
SELECT throws_ok($$ SELECT password FROM mobisign.smsc $$, '42501', NULL,
                 'an application reading mobisign.smsc.password is refused');
SELECT throws_ok($$ SELECT bind_password FROM mobisign.directory $$, '42501', NULL,
                 'an application reading mobisign.directory.bind_password is refused');
SELECT throws_ok($$ SELECT kic_wrapped FROM mobisign.sim_key $$, '42501', NULL,
                 'an application reading mobisign.sim_key.kic_wrapped is refused');
SELECT throws_ok($$ SELECT * FROM mobisign.sim_key $$, '42501', NULL,
                 'an application reading all of mobisign.sim_key is refused');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
