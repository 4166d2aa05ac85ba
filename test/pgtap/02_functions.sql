-- The verification API exists with its documented signatures; every function of the
-- extension pins search_path (but the C functions that run no SQL, listed below)
-- and none is executable by PUBLIC.
BEGIN;
SELECT plan(15);

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

-- The one list of the functions that may run without SET search_path: C
-- functions that run no SQL (no SPI, no name looked up: a search_path has
-- nothing to choose) on the request path, in CHECK constraints, domains and
-- index predicates, where a SET clause costs a GUC save, set and restore, and
-- a new search path, on every call (docs/sim-channel.md, "What a request
-- costs").  A function joins it only when its C code, and all it calls,
-- runs no SQL; anything else keeps the SET.
CREATE TEMP TABLE no_sql_c_functions (fn regprocedure PRIMARY KEY);
INSERT INTO no_sql_c_functions VALUES
    ('mobisign._is_open(text)'), ('mobisign._is_kind(text)'),                  -- domain.c
    ('mobisign._kind_signs_digest(text)'), ('mobisign._digest_verification_code(bytea)'),
    ('mobisign._is_msisdn(text)'), ('mobisign._ota_counter_max()'),
    ('mobisign._input_fits(text,text)'), ('mobisign._check_input(text,text,text)'), -- input_limits.c
    ('mobisign._max_timeout()'), ('mobisign._duration(interval)'),             -- policy.c
    ('mobisign._random_bytes(integer)'), ('mobisign._verification_code()'),    -- sim_api.c
    ('mobisign._display_check(text)'),                                          -- sim_request.c
    ('mobisign._build_request(text,integer,bigint,bytea,bytea,bytea,bytea,text,bytea,text,text,timestamptz)'),
    ('mobisign._wake_worker()'), ('mobisign._require_worker()'),               -- sim_wait.c
    ('mobisign._own_write(boolean)'), ('mobisign._is_own_write()');             -- restore.c

SELECT is_empty($$
    SELECT fn::text FROM ext_functions
     WHERE NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false)
       AND fn NOT IN (SELECT fn FROM no_sql_c_functions)
$$, 'every function of the extension but the listed C functions has SET search_path = pg_catalog, pg_temp');

SELECT is_empty($$
    SELECT l.fn::text FROM no_sql_c_functions l
      LEFT JOIN ext_functions e ON e.fn = l.fn
      LEFT JOIN pg_catalog.pg_proc p ON p.oid = l.fn
     WHERE e.fn IS NULL OR p.prolang <> (SELECT oid FROM pg_catalog.pg_language WHERE lanname = 'c')
$$, 'every function listed as running no SQL is a C function of the extension');

SELECT is_empty($$
    SELECT l.fn::text FROM no_sql_c_functions l JOIN ext_functions e ON e.fn = l.fn
     WHERE e.proconfig IS NOT NULL
$$, 'every function listed as running no SQL is declared without a SET clause (the list is exact)');

-- API functions live in the extension's schema so that they are called by plain names.
SELECT is_empty($$
    SELECT p.proname FROM pg_catalog.pg_proc p
     WHERE p.proname LIKE 'mobisign\_%'
       AND p.pronamespace = 'mobisign'::regnamespace
$$, 'no mobisign_* API function is hidden in schema mobisign');

SELECT * FROM finish();
ROLLBACK;
