-- The verification API exists with its documented signatures; every function of the
-- extension pins search_path and none is executable by PUBLIC.
BEGIN;
SELECT plan(13);

-- callable(name, 'type,type,...'): a function of that name whose leading
-- arguments have these types and whose further arguments (if any) have
-- defaults, so the agreed call works; extra optional arguments are welcome.
CREATE FUNCTION pg_temp.callable(fname text, args text) RETURNS boolean
LANGUAGE sql AS $$
    SELECT EXISTS (
        SELECT FROM pg_catalog.pg_proc p
         WHERE p.proname = fname
           AND p.pronamespace = 'public'::regnamespace
           AND p.pronargs - p.pronargdefaults <= cardinality(string_to_array(args, ','))
           AND (SELECT coalesce(string_agg(format_type(u.t, NULL), ',' ORDER BY u.i), '')
                  FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS u(t, i)
                 WHERE u.i <= cardinality(string_to_array(args, ','))) = args)
$$;

SELECT ok(pg_temp.callable('mobisign_add_pki',
          'text,bytea[],text,text[],boolean,boolean,boolean,integer,boolean,interval'),
          'mobisign_add_pki(name, trust_anchors, revocation, initial_policies, explicit_policy, inhibit_policy_mapping, inhibit_any_policy, security_level, enforce_key_usage, crl_grace)');
SELECT ok(pg_temp.callable('mobisign_add_crl', 'text,bytea'), 'mobisign_add_crl(pki, crl)');
SELECT ok(pg_temp.callable('mobisign_validate_certificate', 'bytea,bytea[],text,timestamp with time zone'),
          'mobisign_validate_certificate(certificate, intermediates, pki, at)');
SELECT ok(pg_temp.callable('mobisign_verify', 'bytea,bytea,bytea,text,timestamp with time zone'),
          'mobisign_verify(signature, content, certificate, pki, at)');
SELECT ok(pg_temp.callable('mobisign_verify_signature', 'bytea,bytea,bytea,text'),
          'mobisign_verify_signature(key, content, signature, algorithm)');
SELECT has_function('mobisign_audit_verify', 'mobisign_audit_verify()');

-- The result columns named in the contract.
SELECT ok((SELECT proargnames @> ARRAY['valid', 'status_code', 'status_name', 'reason', 'pki', 'chain',
                                       'policies', 'evidence']
             FROM pg_catalog.pg_proc WHERE proname = 'mobisign_validate_certificate' LIMIT 1),
          'mobisign_validate_certificate returns valid, status_code, status_name, reason, pki, chain, policies, evidence');
SELECT ok((SELECT proargnames @> ARRAY['valid', 'status_code', 'status_name', 'reason', 'signer_subject',
                                       'signer_certificate', 'signing_time', 'pki', 'chain', 'evidence']
             FROM pg_catalog.pg_proc WHERE proname = 'mobisign_verify'
              AND pg_catalog.format_type(proargtypes[0], NULL) = 'bytea' LIMIT 1),
          'mobisign_verify returns valid, status_code, status_name, reason, signer_subject, signer_certificate, signing_time, pki, chain, evidence');
SELECT ok((SELECT proargnames @> ARRAY['intact', 'rows_checked', 'first_broken_id', 'first_broken_seq',
                                       'reason', 'head_hash']
             FROM pg_catalog.pg_proc WHERE proname = 'mobisign_audit_verify' LIMIT 1),
          'mobisign_audit_verify returns intact, rows_checked, first_broken_id, first_broken_seq, reason, head_hash');

-- All functions that belong to the extension.
CREATE TEMP VIEW ext_functions AS
SELECT p.oid::regprocedure AS fn, p.proconfig, p.prokind
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_proc p ON p.oid = d.objid
 WHERE d.classid = 'pg_catalog.pg_proc'::regclass
   AND d.refclassid = 'pg_catalog.pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'mobisign')
   AND d.deptype = 'e';

SELECT cmp_ok((SELECT count(*) FROM ext_functions), '>=', 6::bigint,
              'the extension owns its functions (pg_depend)');

SELECT is_empty($$
    SELECT fn::text FROM ext_functions
     WHERE pg_catalog.has_function_privilege('public', fn, 'EXECUTE')
$$, 'no function of the extension is executable by PUBLIC');

SELECT is_empty($$
    SELECT fn::text FROM ext_functions
     WHERE NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false)
$$, 'every function of the extension has SET search_path = pg_catalog, pg_temp');

-- API functions live in the extension's schema so that they are called by plain names.
SELECT is_empty($$
    SELECT p.proname FROM pg_catalog.pg_proc p
     WHERE p.proname LIKE 'mobisign\_%'
       AND p.pronamespace = 'mobisign'::regnamespace
$$, 'no mobisign_* API function is hidden in schema mobisign');

SELECT * FROM finish();
ROLLBACK;
