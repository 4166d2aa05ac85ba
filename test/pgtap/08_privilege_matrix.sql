-- The privilege matrix: every login kind (an administrator, two
-- applications, an auditor, a plain login, and the purger when the role
-- mobisign_purger exists) against every function, table, column and
-- sequence of the extension, read from the catalog.  The expected grants
-- are written below once; a function or table of the extension that has no
-- entry fails the test, and so does an entry for something that is gone.
-- Each grant is checked twice: with has_*_privilege(), and by trying it as
-- that login.  Then: secrets are readable by no role but superusers, and a
-- login that shadows pg_catalog's functions and operators and mobisign's
-- tables through its search_path changes nothing the API does.
BEGIN;
SET LOCAL statement_timeout = '60s';

------------------------------------------------------------------------------
-- The logins, one per kind
------------------------------------------------------------------------------
CREATE ROLE tap_m_admin LOGIN IN ROLE mobisign_admin;
CREATE ROLE tap_m_shop LOGIN IN ROLE mobisign_app;
CREATE ROLE tap_m_bank LOGIN IN ROLE mobisign_app;
CREATE ROLE tap_m_auditor LOGIN IN ROLE mobisign_auditor;
CREATE ROLE tap_m_plain LOGIN;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'mobisign_purger') THEN
        CREATE ROLE tap_m_purger LOGIN IN ROLE mobisign_purger;
    END IF;
END
$$;
CREATE TEMP TABLE logins (login name PRIMARY KEY, kind text NOT NULL);
INSERT INTO logins
SELECT r, k FROM (VALUES ('tap_m_admin', 'admin'), ('tap_m_shop', 'app'), ('tap_m_bank', 'app'),
                         ('tap_m_auditor', 'auditor'), ('tap_m_plain', 'plain'),
                         ('tap_m_purger', 'purger')) v(r, k)
 WHERE EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = v.r);
GRANT SELECT ON logins TO PUBLIC;
-- 20 checks, and 4 per login
SELECT plan(20 + 4 * (SELECT count(*)::integer FROM logins));

SELECT is((SELECT count(*) FROM logins),
          CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = 'mobisign_purger') THEN 6::bigint ELSE 5::bigint END,
          'one login per kind (the purger only if mobisign_purger exists)');

------------------------------------------------------------------------------
-- Functions: who may EXECUTE what.  Kinds not listed may not.
------------------------------------------------------------------------------
CREATE TEMP TABLE expect_fn (fn text PRIMARY KEY, kinds text[] NOT NULL);
INSERT INTO expect_fn VALUES
    -- administration
    ('mobisign_add_pki(text,bytea[],text,text[],boolean,boolean,boolean,integer,boolean,interval,bytea[],text)', '{admin}'),
    ('mobisign_set_pki_profile(text,text)', '{admin}'),
    ('mobisign_add_crl(text,bytea,text,text)', '{admin}'),
    ('mobisign_register_user(text,text,text,bytea,text)', '{admin}'),
    ('mobisign_add_sim_key(text,integer,bytea,bytea,bytea,text,text,bigint)', '{admin}'),
    ('mobisign_add_smsc(text,text,integer,text,text,text,text,integer,integer,interval,interval,interval,boolean,text,text,text,text,interval,integer)', '{admin}'),
    ('mobisign_add_directory(text,text,text,text,text,text,text,text,boolean,text,interval,text,integer,boolean)', '{admin}'),
    ('mobisign_refresh_crls()', '{admin}'),
    ('mobisign_lookup_user(text)', '{admin}'),
    -- retention: its own role once mobisign_purger exists, else the administrator
    ('mobisign_purge(interval,integer)',
     CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = 'mobisign_purger') THEN '{purger}' ELSE '{admin}' END::text[]),
    -- restores: superuser only
    ('mobisign_advance_counters(bigint)', '{}'),
    -- moving the SIM keys into a token: superuser only
    ('mobisign_rewrap_keys(text)', '{}'),
    -- verification
    ('mobisign_validate_certificate(bytea,bytea[],text,timestamp with time zone)', '{admin,app}'),
    ('mobisign_verify(bytea,bytea,bytea,text,timestamp with time zone)', '{admin,app}'),
    ('mobisign_verify_signature(bytea,bytea,bytea,text)', '{admin,app}'),
    ('mobisign_verify_cache_stats()', '{admin,app}'),
    -- the SIM channel, for applications
    ('mobisign_authenticate(text,text,interval,text)', '{app}'),
    ('mobisign_sign(text,text,text,interval)', '{app}'),
    ('mobisign_sign_hash(text,bytea,text,text,text,interval)', '{app}'),
    ('mobisign_authenticate_hash(text,bytea,text,text,text,interval)', '{app}'),
    ('mobisign_signature(uuid)', '{app}'),
    ('mobisign_receipt(uuid,text,interval,text)', '{app}'),
    -- the HTTP gateway: relying parties registered by administrators,
    -- checked and users found by the gateway's application role
    ('mobisign_add_relying_party(text,uuid)', '{admin}'),
    ('mobisign_check_relying_party(text,uuid)', '{app}'),
    ('mobisign_find_user(text,text)', '{app}'),
    ('mobisign_status(uuid)', '{app}'),
    ('mobisign_wait(uuid,interval)', '{app}'),
    ('mobisign_await(uuid,interval)', '{app}'),
    ('mobisign_cancel(uuid)', '{app}'),
    ('mobisign_verify(uuid)', '{app}'),
    -- the documented input limits, for every mobisign role
    ('mobisign_input_limits()', '{admin,app,auditor,purger}'),
    -- auditing and monitoring
    ('mobisign_audit_verify()', '{admin,auditor}'),
    ('mobisign._worker_stats()', '{admin,auditor}'),
    ('mobisign._worker_binds()', '{admin,auditor}'),
    ('mobisign._progress()', '{admin,auditor}'),
    -- internals: the extension's own code and the worker only
    ('mobisign._answer_authentic(text)', '{}'),
    ('mobisign._audit_text(text)', '{}'),
    ('mobisign._handle_answer_guarded(text,bytea[],bigint[])', '{}'),
    ('mobisign._open_answer(text,bytea[],mobisign.sim_key[])', '{}'),
    ('mobisign._segment_pending_max()', '{}'),
    ('mobisign._check_input(text,text,text)', '{}'),
    ('mobisign._check_msisdn(text)', '{}'),
    ('mobisign._check_pki_profile(text)', '{}'),
    ('mobisign._is_msisdn(text)', '{}'),
    ('mobisign._is_kind(text)', '{}'),
    ('mobisign._kind_signs_digest(text)', '{}'),
    ('mobisign._digest_hash_name(integer)', '{}'),
    ('mobisign._digest_verification_code(bytea)', '{}'),
    ('mobisign._request_hash(text,text,bytea,text,text,text,interval)', '{}'),
    ('mobisign._signature(uuid)', '{}'),
    ('mobisign._receipt(uuid,text,interval,text)', '{}'),
    ('mobisign._answer_outcome(text,integer)', '{}'),
    ('mobisign._cert_identity(bytea)', '{}'),
    ('mobisign._is_open(text)', '{}'),
    ('mobisign._ota_counter_max()', '{}'),
    ('mobisign._sim_result_status(integer)', '{}'),
    ('mobisign._status_codes()', '{}'),
    ('mobisign._status_name(integer)', '{}'),
    ('mobisign._input_fits(text,text)', '{}'),
    ('mobisign._max_timeout()', '{}'),
    ('mobisign._min_retention()', '{}'),
    ('mobisign._duration(interval)', '{}'),
    ('mobisign._segment_window()', '{}'),
    ('mobisign._utf8(text)', '{}'),
    ('mobisign._utf8_or_stored(text)', '{}'),
    ('mobisign._build_request(text,integer,bigint,bytea,bytea,bytea,bytea,text,bytea,text,text,timestamp with time zone)', '{}'),
    ('mobisign._cache_certificate(bytea,text,text,integer)', '{}'),
    ('mobisign._cert_info(bytea)', '{}'),
    ('mobisign._cert_issued_by(bytea,bytea[])', '{}'),
    ('mobisign._counter_after_restore(bigint,bigint)', '{}'),
    ('mobisign._crl_info(bytea)', '{}'),
    ('mobisign._crl_signed_by(bytea,bytea[])', '{}'),
    ('mobisign._directory_search(integer,bytea)', '{}'),
    ('mobisign._display_check(text)', '{}'),
    ('mobisign._distribution_points(bytea)', '{}'),
    ('mobisign._expected_signers(bytea,jsonb)', '{}'),
    ('mobisign._expire(integer)', '{}'),
    ('mobisign._queue_cleanup(integer)', '{}'),
    ('mobisign._audit_chain_check(bigint,bytea)', '{}'),
    ('mobisign._progress_phase(text,text,bigint,bigint)', '{}'),
    ('mobisign._progress_advance(bigint)', '{}'),
    ('mobisign._fetch_url(text,text)', '{}'),
    ('mobisign._filter_template_problem(text)', '{}'),
    ('mobisign._finish(uuid,text,integer,text,jsonb,bytea,bytea,text,jsonb)', '{}'),
    ('mobisign._handle_answer(text,bytea[],bigint[])', '{}'),
    ('mobisign._answer_audit_unauthentic(jsonb,text,text,integer)', '{}'),
    ('mobisign._answer_is_duplicate_delivery(mobisign.sim_key,text,integer,bigint,text,jsonb)', '{}'),
    ('mobisign._answer_take_counter(mobisign.sim_key,bigint,bytea,jsonb)', '{}'),
    ('mobisign._answer_sim_refusal(mobisign.sim_key,text,text,bigint,integer,jsonb)', '{}'),
    ('mobisign._counter_low_advance(mobisign.sim_key,bigint,uuid)', '{}'),
    ('mobisign._answer_transaction(mobisign.sim_key,bigint,bytea,text,integer,jsonb)', '{}'),
    ('mobisign._answer_verify_signature(mobisign.transaction,bytea)', '{}'),
    ('mobisign._is_own_write()', '{}'),
    ('mobisign._key_check(text,integer,text,bytea)', '{}'),
    ('mobisign._key_wrap(text,integer,text,bytea)', '{}'),
    ('mobisign._key_rewrap(text,integer,text,bytea,text)', '{}'),
    ('mobisign._master_key_in_token()', '{}'),
    ('mobisign._ldap_ca_crls(integer,text)', '{}'),
    ('mobisign._ldap_filter(text,bytea)', '{}'),
    ('mobisign._mark_failed(uuid,integer,text)', '{}'),
    ('mobisign._mark_submitted(uuid,text[])', '{}'),
    ('mobisign._mark_submitted_batch(uuid[],text[],integer[])', '{}'),
    ('mobisign._may_see(name)', '{}'),
    ('mobisign._open_response(text,integer,bytea,bytea,bytea,bytea[])', '{}'),
    ('mobisign._own_write(boolean)', '{}'),
    ('mobisign._process_inbound(text)', '{}'),
    ('mobisign._lock_answers(text,boolean)', '{}'),
    ('mobisign._claim_answers(integer)', '{}'),
    ('mobisign._requeue_pending_answers()', '{}'),
    ('mobisign._raise_status(integer,text,text,text)', '{}'),
    ('mobisign._random_bytes(integer)', '{}'),
    ('mobisign._record_restores()', '{}'),
    ('mobisign._refresh_crls(boolean)', '{}'),
    ('mobisign._refresh_due_crls()', '{}'),
    ('mobisign._refresh_crls_audited(boolean)', '{}'),
    ('mobisign._request(text,text,bytea,text,text,interval)', '{}'),
    ('mobisign._request_check_arguments(text,text,text,text,interval)', '{}'),
    ('mobisign._request_recipient(text,text,text)', '{}'),
    ('mobisign._request_check_display(text)', '{}'),
    ('mobisign._request_take_counter(text,text)', '{}'),
    ('mobisign._request_insert_transaction(mobisign.transaction)', '{}'),
    ('mobisign._request_enqueue(mobisign.transaction,mobisign.sim_key)', '{}'),
    ('mobisign._request_audit(mobisign.transaction,text,text,text,integer,integer)', '{}'),
    ('mobisign._require_worker()', '{}'),
    ('mobisign._resolve_user(text)', '{}'),
    ('mobisign._restore_counter_margin()', '{}'),
    ('mobisign._counter_low_margin()', '{}'),
    ('mobisign._restoring_sim_key()', '{}'),
    ('mobisign._restoring_transaction()', '{}'),
    ('mobisign._status(uuid)', '{}'),
    ('mobisign._store_fetched_crl(mobisign.pki,bytea,text)', '{}'),
    ('mobisign._validate_certificate(bytea,bytea[],text,timestamp with time zone)', '{}'),
    ('mobisign._verification_code()', '{}'),
    ('mobisign._verify(bytea,bytea,bytea,text,timestamp with time zone)', '{}'),
    ('mobisign._verify_answer(bytea,bytea,bytea,text,text,bytea[])', '{}'),
    ('mobisign._verify_signature(bytea,bytea,bytea,text)', '{}'),
    ('mobisign._verify_transaction(uuid)', '{}'),
    ('mobisign._wait(uuid,interval)', '{}'),
    ('mobisign._wait_check(uuid,interval)', '{}'),
    ('mobisign._wait_final(uuid,interval)', '{}'),
    ('mobisign._wake_worker()', '{}'),
    ('mobisign.audit_digest(bytea,mobisign.audit)', '{}'),
    ('mobisign.audit_guard()', '{}'),
    ('mobisign._crl_changed()', '{}'),
    ('mobisign._pki_changed()', '{}'),
    ('mobisign._certificate_changed()', '{}'),
    ('mobisign.audit_log(text,text,jsonb,uuid,text)', '{}'),
    ('mobisign.audit_seal(integer)', '{}');

-- Every function and procedure of the extension, from pg_depend, with a
-- call that passes NULL for every argument: to a function as a sub-select
-- (the planner folds a STRICT function of NULL constants to NULL without
-- ever checking EXECUTE), to a procedure by CALL, where sub-selects are
-- not allowed and nothing is folded.
CREATE TEMP TABLE ext_fn AS
SELECT p.oid AS oid,
       pg_catalog.regexp_replace(p.oid::regprocedure::text, '^public\.', '') AS fn,
       pg_catalog.format(CASE p.prokind WHEN 'p' THEN 'CALL %s(%s)' ELSE 'SELECT %s(%s)' END, p.oid::regproc,
           (SELECT coalesce(pg_catalog.string_agg(pg_catalog.format(
                       CASE p.prokind WHEN 'p' THEN 'NULL::%s' ELSE '(SELECT NULL::%s)' END,
                       pg_catalog.format_type(t, NULL)), ', ' ORDER BY i), '')
              FROM pg_catalog.unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i))) AS call
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_proc p ON p.oid = d.objid
 WHERE d.classid = 'pg_catalog.pg_proc'::regclass
   AND d.refclassid = 'pg_catalog.pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'mobisign')
   AND d.deptype = 'e';
GRANT SELECT ON ext_fn, expect_fn TO PUBLIC;

SELECT is_empty($$ SELECT fn FROM ext_fn EXCEPT SELECT fn FROM expect_fn $$,
                'every function of the extension has an entry in the matrix');
SELECT is_empty($$ SELECT fn FROM expect_fn EXCEPT SELECT fn FROM ext_fn $$,
                'every entry of the matrix is a function of the extension');

-- try(login, sql): runs sql as that login; '' when it worked, else the
-- SQLSTATE (42501 only for a refused privilege: the message must say so)
CREATE FUNCTION pg_temp.try(login name, stmt text) RETURNS text
LANGUAGE plpgsql AS $f$
DECLARE
    msg text;
BEGIN
    EXECUTE pg_catalog.format('SET LOCAL ROLE %I', login);
    EXECUTE stmt;
    RESET ROLE;
    RETURN '';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RETURN CASE WHEN SQLSTATE = '42501' AND msg LIKE 'permission denied for %' THEN '42501'
                WHEN SQLSTATE = '42501' THEN '42501 (other: ' || msg || ')'
                ELSE SQLSTATE END;
END
$f$;

-- The matrix, per kind: the privilege, then the call.
CREATE TEMP VIEW fn_matrix AS
SELECT l.login, l.kind, f.fn, f.call, l.kind = ANY (e.kinds) AS allowed,
       pg_catalog.has_function_privilege(l.login, f.oid, 'EXECUTE') AS granted
  FROM logins l CROSS JOIN ext_fn f JOIN expect_fn e USING (fn);

SELECT is_empty(pg_catalog.format($$
    SELECT fn || CASE WHEN allowed THEN ' should be executable' ELSE ' should not be executable' END
      FROM fn_matrix WHERE login = %L AND allowed <> granted $$, l.login),
    pg_catalog.format('%s (%s): EXECUTE on every function as the matrix says', l.login, l.kind))
  FROM logins l ORDER BY l.login;

SELECT is_empty(pg_catalog.format($$
    SELECT fn || ': ' || coalesce(nullif(r, ''), 'succeeded')
      FROM (SELECT fn, allowed, pg_temp.try(login, call) AS r FROM fn_matrix WHERE login = %L) x
     WHERE (allowed AND r LIKE '42501%%') OR (NOT allowed AND r <> '42501') $$, l.login),
    pg_catalog.format('%s (%s): every call the matrix refuses is refused, every other gets past the privilege check', l.login, l.kind))
  FROM logins l ORDER BY l.login;

------------------------------------------------------------------------------
-- Relations: who may read which column; nobody writes anything directly.
-- col '*' stands for every column without an entry of its own.
------------------------------------------------------------------------------
CREATE TEMP TABLE expect_col (rel text, col text, kinds text[] NOT NULL, PRIMARY KEY (rel, col));
INSERT INTO expect_col VALUES
    ('mobisign.status_code', '*', '{admin,app,auditor}'),
    ('mobisign.pki', '*', '{admin,auditor}'),
    ('mobisign.crl', '*', '{admin,auditor}'),
    ('mobisign.certificate', '*', '{admin,auditor}'),
    ('mobisign.app_user', '*', '{admin,auditor}'),
    ('mobisign.directory', '*', '{admin,auditor}'),
    ('mobisign.directory', 'bind_password', '{}'),         -- secret
    ('mobisign.smsc', '*', '{admin,auditor}'),
    ('mobisign.smsc', 'password', '{}'),                   -- secret
    ('mobisign.relying_party', '*', '{admin,auditor}'),
    ('mobisign.relying_party', 'uuid', '{}'),              -- secret
    ('mobisign.sim_key', '*', '{admin,auditor}'),
    ('mobisign.sim_key', 'kic_wrapped', '{}'),             -- secret
    ('mobisign.sim_key', 'kid_wrapped', '{}'),             -- secret
    ('mobisign.transaction', '*', '{admin,app,auditor}'),  -- app: its own rows (RLS)
    ('mobisign.request_queue', '*', '{}'),
    ('mobisign.inbound_segment', '*', '{}'),
    ('mobisign.answer_queue', '*', '{}'),
    ('mobisign.process_lock', '*', '{}'),                  -- locks no other role may take
    ('mobisign.audit', '*', '{admin,auditor}'),
    ('mobisign.ocsp_response', '*', '{admin,auditor}'),
    ('mobisign.crl_source', '*', '{admin,auditor}'),
    ('mobisign.crl_point_examined', '*', '{admin,auditor}'),
    ('mobisign.restore_event', '*', '{admin,auditor}'),
    ('mobisign.worker_stats', '*', '{admin,auditor}'),
    ('mobisign.worker_binds', '*', '{admin,auditor}'),
    ('mobisign.worker_links', '*', '{admin,auditor}'),
    ('mobisign.progress', '*', '{admin,auditor}');

-- Every relation of schema mobisign but sequences (next section) and
-- indexes, column by column.
CREATE TEMP TABLE ext_col AS
SELECT c.oid AS reloid, c.oid::regclass::text AS rel, c.relkind, a.attname::text AS col,
       a.attidentity = 'a' AS always_identity
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'mobisign'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f');
GRANT SELECT ON ext_col, expect_col TO PUBLIC;

SELECT is_empty($$ SELECT DISTINCT rel FROM ext_col EXCEPT SELECT rel FROM expect_col $$,
                'every table and view of schema mobisign has an entry in the matrix');
SELECT is_empty($$ SELECT rel || '.' || col FROM expect_col
                    EXCEPT SELECT rel || '.' || col FROM ext_col
                    EXCEPT SELECT rel || '.*' FROM ext_col $$,
                'every entry of the matrix names a relation and column that exist');

CREATE TEMP VIEW col_matrix AS
SELECT l.login, l.kind, x.reloid, x.rel, x.relkind, x.col,
       l.kind = ANY (coalesce((SELECT e.kinds FROM expect_col e WHERE e.rel = x.rel AND e.col = x.col),
                              (SELECT e.kinds FROM expect_col e WHERE e.rel = x.rel AND e.col = '*'))) AS allowed
  FROM logins l CROSS JOIN ext_col x;

SELECT is_empty(pg_catalog.format($$
    SELECT rel || '.' || col || CASE WHEN allowed THEN ' should be readable' ELSE ' should not be readable' END
      FROM col_matrix WHERE login = %L
       AND allowed <> pg_catalog.has_column_privilege(login, reloid, col, 'SELECT') $$, l.login),
    pg_catalog.format('%s (%s): SELECT on every column as the matrix says', l.login, l.kind))
  FROM logins l ORDER BY l.login;

SELECT is_empty(pg_catalog.format($$
    SELECT rel || '.' || col || ': ' || coalesce(nullif(r, ''), 'read')
      FROM (SELECT rel, col, allowed,
                   pg_temp.try(login, pg_catalog.format('SELECT %%I FROM %%s LIMIT 0', col, rel)) AS r
              FROM col_matrix WHERE login = %L) x
     WHERE (allowed AND r <> '') OR (NOT allowed AND r <> '42501') $$, l.login),
    pg_catalog.format('%s (%s): reading each column works exactly where the matrix allows it', l.login, l.kind))
  FROM logins l ORDER BY l.login;

SELECT is_empty($$
    SELECT l.login || ' may ' || p || ' ' || x.rel
      FROM logins l CROSS JOIN (SELECT DISTINCT reloid, rel FROM ext_col) x
     CROSS JOIN pg_catalog.unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
     WHERE pg_catalog.has_table_privilege(l.login, x.reloid, p)
    UNION ALL
    SELECT l.login || ' may ' || p || ' ' || x.rel || '.' || x.col
      FROM logins l CROSS JOIN ext_col x
     CROSS JOIN pg_catalog.unnest(ARRAY['INSERT', 'UPDATE', 'REFERENCES']) p
     WHERE pg_catalog.has_column_privilege(l.login, x.reloid, x.col, p) $$,
    'no login writes any table or column directly (all writes go through the functions)');

SELECT is_empty($$
    SELECT l.login || ': ' || s || ' on ' || x.rel || ': ' || coalesce(nullif(pg_temp.try(l.login, stmt), ''), 'succeeded')
      FROM logins l
     CROSS JOIN (SELECT DISTINCT rel FROM ext_col WHERE relkind = 'r') x
     CROSS JOIN LATERAL (VALUES
         ('DELETE', pg_catalog.format('DELETE FROM %s WHERE false', x.rel)),
         ('UPDATE', pg_catalog.format('UPDATE %s SET %I = %I WHERE false', x.rel,
                        -- not a GENERATED ALWAYS column: its UPDATE fails (428C9) before the privilege check
                        (SELECT min(col) FROM ext_col c WHERE c.rel = x.rel AND NOT c.always_identity),
                        (SELECT min(col) FROM ext_col c WHERE c.rel = x.rel AND NOT c.always_identity))),
         ('INSERT', pg_catalog.format('INSERT INTO %s DEFAULT VALUES', x.rel)),
         ('TRUNCATE', pg_catalog.format('TRUNCATE %s', x.rel))) AS t(s, stmt)
     WHERE pg_temp.try(l.login, stmt) <> '42501' $$,
    'as each login, DELETE, UPDATE, INSERT and TRUNCATE of every table are refused');

------------------------------------------------------------------------------
-- Sequences: nobody uses or reads them directly
------------------------------------------------------------------------------
SELECT is_empty($$
    SELECT l.login || ' has ' || p || ' on ' || c.oid::regclass::text
      FROM logins l
     CROSS JOIN pg_catalog.pg_class c
     CROSS JOIN pg_catalog.unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p
     WHERE c.relnamespace = 'mobisign'::regnamespace AND c.relkind = 'S'
       AND pg_catalog.has_sequence_privilege(l.login, c.oid, p) $$,
    'no login has any privilege on a sequence of schema mobisign');

SELECT is((SELECT pg_catalog.array_agg(l.login ORDER BY l.login) FROM logins l
            WHERE pg_catalog.has_schema_privilege(l.login, 'mobisign', 'USAGE')),
          (SELECT pg_catalog.array_agg(l.login ORDER BY l.login) FROM logins l
            WHERE l.kind IN ('admin', 'app', 'auditor')),
          'schema mobisign is usable by the administrator, applications and the auditor only');

------------------------------------------------------------------------------
-- Secrets: no role at all but superusers.  PostgreSQL's predefined
-- pg_read_all_data reads every table by design (only a superuser can grant
-- it): it and its members count as superusers here, see docs/operations.md.
------------------------------------------------------------------------------
SELECT is_empty($$
    SELECT r.rolname || ' can read ' || s.rel || '.' || s.col
      FROM pg_catalog.pg_roles r
     CROSS JOIN (VALUES ('mobisign.sim_key', 'kic_wrapped'), ('mobisign.sim_key', 'kid_wrapped'),
                        ('mobisign.smsc', 'password'), ('mobisign.directory', 'bind_password'),
                        ('mobisign.relying_party', 'uuid')) s(rel, col)
     WHERE NOT r.rolsuper
       AND NOT pg_catalog.pg_has_role(r.oid, 'pg_read_all_data', 'USAGE')
       AND pg_catalog.has_column_privilege(r.oid, s.rel::regclass, s.col, 'SELECT') $$,
    'SIM keys, SMSC and directory passwords: readable by no role in the cluster but superusers');
SELECT is_empty($$ SELECT m.member::regrole::text FROM pg_catalog.pg_auth_members m
                    WHERE m.roleid = 'pg_read_all_data'::regrole $$,
                'nobody in this cluster was given pg_read_all_data');

------------------------------------------------------------------------------
-- search_path attacks.  An application login owns a schema holding a copy
-- of every pg_catalog function that mobisign's code names (same arguments)
-- and of the common operators (those returning boolean always say true:
-- "=" matches every row), each recording that it ran; it also creates temp
-- tables named like mobisign's tables and like the catalogs mobisign reads.
-- With its schema first in search_path (and pg_temp first), every API call
-- must give the same answer as with a clean path, and none of those
-- functions may ever run.
------------------------------------------------------------------------------
CREATE SCHEMA tap_evil AUTHORIZATION tap_m_bank;
SET LOCAL ROLE tap_m_bank;
CREATE TABLE tap_evil.calls (fn text);
GRANT INSERT, SELECT, DELETE ON tap_evil.calls TO PUBLIC;
GRANT USAGE ON SCHEMA tap_evil TO PUBLIC;
DO $evil$
DECLARE
    r   record;
    n   integer := 0;
    src text;
BEGIN
    SELECT pg_catalog.string_agg(p.prosrc, ' ') INTO src FROM ext_fn e JOIN pg_catalog.pg_proc p ON p.oid = e.oid;
    FOR r IN
        SELECT DISTINCT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
               pg_catalog.format_type(p.prorettype, NULL) AS rettype, p.proretset
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'f' AND p.provariadic = 0
           AND src ~ ('\m' || p.proname || '\M')
           AND p.prorettype NOT IN ('internal'::regtype, 'cstring'::regtype, 'trigger'::regtype,
                                    'event_trigger'::regtype, 'record'::regtype)
           AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proargtypes::oid[]) t
                            WHERE t IN ('internal'::regtype, 'cstring'::regtype, '"any"'::regtype))
    LOOP
        BEGIN
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION tap_evil.%I(%s) RETURNS %s%s LANGUAGE plpgsql AS %L',
                r.proname, r.args, CASE WHEN r.proretset THEN 'SETOF ' ELSE '' END, r.rettype,
                pg_catalog.format('BEGIN INSERT INTO tap_evil.calls VALUES (%L); RETURN%s; END',
                                  r.proname, CASE WHEN r.proretset OR r.rettype = 'void' THEN '' ELSE ' NULL' END));
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            NULL;   -- a signature plpgsql cannot take (e.g. polymorphic result only)
        END;
    END LOOP;
    FOR r IN
        SELECT o.oid, o.oprname, pg_catalog.format_type(o.oprleft, NULL) AS l,
               pg_catalog.format_type(o.oprright, NULL) AS rt, pg_catalog.format_type(o.oprresult, NULL) AS res
          FROM pg_catalog.pg_operator o
         WHERE o.oprnamespace = 'pg_catalog'::regnamespace AND o.oprkind = 'b'
           AND o.oprname IN ('=', '<>', '<', '<=', '>', '>=', '||', '~', '~*', '!~', '->', '->>', '@>', '+', '-')
           AND o.oprleft IN ('text'::regtype, 'bytea'::regtype, 'uuid'::regtype, 'integer'::regtype,
                             'bigint'::regtype, 'name'::regtype, 'boolean'::regtype, 'jsonb'::regtype,
                             'timestamptz'::regtype, 'interval'::regtype, 'anyarray'::regtype)
           AND o.oprright IN ('text'::regtype, 'bytea'::regtype, 'uuid'::regtype, 'integer'::regtype,
                              'bigint'::regtype, 'name'::regtype, 'boolean'::regtype, 'jsonb'::regtype,
                              'timestamptz'::regtype, 'interval'::regtype, 'anyarray'::regtype)
    LOOP
        BEGIN
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION tap_evil.op_%s(%s, %s) RETURNS %s LANGUAGE plpgsql AS %L',
                r.oid, r.l, r.rt, r.res,
                pg_catalog.format('BEGIN INSERT INTO tap_evil.calls VALUES (%L); RETURN %s; END',
                                  'operator ' || r.oprname, CASE WHEN r.res = 'boolean' THEN 'true' ELSE 'NULL' END));
            EXECUTE pg_catalog.format('CREATE OPERATOR tap_evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = tap_evil.op_%s)',
                                      r.oprname, r.l, r.rt, r.oid);
            n := n + 1;
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
    END LOOP;
    -- temp tables with the names of mobisign's relations and of catalogs it reads
    FOR r IN SELECT DISTINCT rel FROM ext_col UNION VALUES ('pg_extension'), ('pg_namespace'), ('pg_roles') LOOP
        EXECUTE pg_catalog.format('CREATE TEMP TABLE %I (evil text DEFAULT %L)',
                                  pg_catalog.regexp_replace(r.rel, '^mobisign\.', ''), 'evil');
        EXECUTE pg_catalog.format('INSERT INTO pg_temp.%I DEFAULT VALUES',
                                  pg_catalog.regexp_replace(r.rel, '^mobisign\.', ''));
    END LOOP;
    RAISE NOTICE 'tap_evil: % shadows', n;
    PERFORM pg_catalog.set_config('tap.evil_shadows', n::text, true);
END
$evil$;
RESET ROLE;
SELECT cmp_ok(current_setting('tap.evil_shadows')::integer, '>=', 100,
              'the attacker shadows at least 100 pg_catalog functions and operators');

-- probe(login, call, path): the call's result as text (or its SQLSTATE),
-- run as that login (session user: row-level security) with that search_path
CREATE FUNCTION pg_temp.probe(login name, stmt text, path text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$
DECLARE
    r text;
BEGIN
    EXECUTE pg_catalog.format('SET SESSION AUTHORIZATION %I', login);
    PERFORM pg_catalog.set_config('search_path', path, true);
    EXECUTE stmt INTO r;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    RESET SESSION AUTHORIZATION;
    RETURN 'ok ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN 'error ' || SQLSTATE;
END
$f$;

-- the trap is armed: an unqualified call with that path runs the attacker's code
SELECT is(pg_temp.probe('tap_m_bank', $$SELECT length('abc'::text)::text$$, 'tap_evil, pg_catalog'), 'ok NULL',
          'with the attacker''s search_path, plain SQL runs the attacker''s length()');
SELECT isnt_empty($$ SELECT 1 FROM tap_evil.calls WHERE fn = 'length' $$, '... and it recorded that it ran');
DELETE FROM tap_evil.calls;

-- Transactions of both applications (written as the superuser).
INSERT INTO mobisign.transaction (id, kind, app_role, application, user_id, msisdn, reference, data,
                                  data_hash, verification_code, expires_at, created_at)
VALUES ('00000000-0000-4000-8000-000000000001', 'authenticate', 'tap_m_shop', 'shop', 'u1', '+358401111111',
        '\x0102030405060701', '\x01', sha256('\x01'), '1111', now() + interval '5 min', now()),
       ('00000000-0000-4000-8000-000000000002', 'authenticate', 'tap_m_shop', 'shop', 'u2', '+358401111112',
        '\x0102030405060702', '\x02', sha256('\x02'), '2222', now() + interval '5 min', now()),
       ('00000000-0000-4000-8000-000000000003', 'sign', 'tap_m_bank', 'bank', 'u3', '+358401111113',
        '\x0102030405060703', '\x03', sha256('\x03'), '3333', now() + interval '5 min', now()),
       ('00000000-0000-4000-8000-000000000004', 'authenticate', 'tap_m_shop', 'shop', 'u4', '+358401111114',
        '\x0102030405060704', '\x04', sha256('\x04'), '4444', now() + interval '5 min', now());

CREATE TEMP TABLE probes (n integer, login name, stmt text, stmt_attack text);
INSERT INTO probes VALUES
    (1, 'tap_m_shop', $$SELECT public.mobisign_status('00000000-0000-4000-8000-000000000004'::uuid)::text$$, NULL),
    (2, 'tap_m_shop', $$SELECT public.mobisign_status('00000000-0000-4000-8000-000000000003'::uuid)::text$$, NULL),
    (3, 'tap_m_bank', $$SELECT public.mobisign_cancel('00000000-0000-4000-8000-000000000001'::uuid)::text$$, NULL),
    (4, 'tap_m_bank', $$SELECT public.mobisign_verify('00000000-0000-4000-8000-000000000001'::uuid)::text$$, NULL),
    (5, 'tap_m_shop', $$SELECT public.mobisign_cancel('00000000-0000-4000-8000-000000000001'::uuid)::text$$,
                      $$SELECT public.mobisign_cancel('00000000-0000-4000-8000-000000000002'::uuid)::text$$),
    (6, 'tap_m_bank', $$SELECT public.mobisign_authenticate('tap-nobody', 'bank', '1 min'::interval)::text$$, NULL),
    (7, 'tap_m_bank', $$SELECT public.mobisign_sign('tap-nobody', 'Pay 1 EUR', 'bank', '1 min'::interval)::text$$, NULL),
    (8, 'tap_m_bank', $$SELECT public.mobisign_verify_signature('\x00'::bytea, '\x00'::bytea, '\x00'::bytea, 'ecdsa-sha256')::text$$, NULL),
    (9, 'tap_m_bank', $$SELECT public.mobisign_validate_certificate('\x00'::bytea)::text$$, NULL),
    (10, 'tap_m_bank', $$SELECT public.mobisign_verify('\x00'::bytea, '\x00'::bytea)::text$$, NULL),
    (11, 'tap_m_bank', $$SELECT (public.mobisign_wait('00000000-0000-4000-8000-000000000003'::uuid, '0 s'::interval)).state$$, NULL),
    (12, 'tap_m_auditor', $$SELECT (public.mobisign_audit_verify()).intact::text$$, NULL),
    (13, 'tap_m_auditor', $$SELECT pid IS NOT NULL OR pid IS NULL FROM mobisign.worker_stats$$, NULL),
    (14, 'tap_m_admin', $$SELECT public.mobisign_add_pki('tap-evil', ARRAY['\x00'::bytea])::text$$, NULL),
    (15, 'tap_m_admin', $$SELECT public.mobisign_register_user('tap-u', '358401234567', 'tap-no-such-pki', '\x00'::bytea)::text$$, NULL),
    (16, 'tap_m_admin', $$SELECT public.mobisign_add_smsc('tap-smsc', '127.0.0.1', 1, 'tap', 'pw')::text$$,
                        $$SELECT public.mobisign_add_smsc('tap-smsc2', '127.0.0.1', 1, 'tap', 'pw')::text$$),
    (17, 'tap_m_admin', $$SELECT count(*)::text FROM public.mobisign_lookup_user('tap-nobody')$$, NULL);

-- with a clean path first, then with the attacker's schema first and with pg_temp first
CREATE TEMP TABLE probe_results AS
SELECT n, pg_temp.probe(login, stmt, 'public, pg_catalog') AS clean FROM probes ORDER BY n;
-- the ids returned by mobisign_add_smsc differ by one: compare what matters
UPDATE probe_results SET clean = regexp_replace(clean, '^ok [0-9]+$', 'ok <id>') WHERE n = 16;
ALTER TABLE probe_results ADD COLUMN evil text, ADD COLUMN temp_first text;
UPDATE probe_results r SET evil = pg_temp.probe(p.login, coalesce(p.stmt_attack, p.stmt), 'tap_evil, pg_catalog')
  FROM probes p WHERE p.n = r.n AND r.n <> 5;
UPDATE probe_results r SET evil = pg_temp.probe(p.login, p.stmt_attack, 'tap_evil, pg_catalog')
  FROM probes p WHERE p.n = r.n AND r.n = 5;
UPDATE probe_results SET evil = regexp_replace(evil, '^ok [0-9]+$', 'ok <id>') WHERE n = 16;
UPDATE probe_results r SET temp_first = pg_temp.probe(p.login, p.stmt, 'pg_temp, tap_evil, pg_catalog')
  FROM probes p WHERE p.n = r.n AND r.n NOT IN (5, 16);
UPDATE probe_results SET temp_first = clean WHERE n IN (5, 16);

-- the temp tables named like catalogs go before anything else reads them
DROP TABLE pg_temp.pg_extension, pg_temp.pg_namespace, pg_temp.pg_roles;

SELECT is((SELECT count(*) FROM probe_results WHERE clean LIKE 'ok%' OR clean LIKE 'error %'), 17::bigint,
          'the 17 probes ran with a clean path');
SELECT is((SELECT clean FROM probe_results WHERE n = 2), 'error P0002',
          'clean path: an application cannot see another application''s transaction');
SELECT is_empty($$ SELECT n || ': ' || clean || ' / ' || evil FROM probe_results WHERE evil IS DISTINCT FROM clean $$,
                'with the attacker''s schema first, every API call answers as with a clean path');
SELECT is_empty($$ SELECT n || ': ' || clean || ' / ' || temp_first FROM probe_results WHERE temp_first IS DISTINCT FROM clean $$,
                'with pg_temp (tables named like mobisign''s) first, every API call answers as with a clean path');
SELECT is_empty($$ SELECT DISTINCT fn FROM tap_evil.calls $$,
                'none of the attacker''s functions or operators ever ran inside the API');
SELECT is((SELECT state FROM mobisign.transaction WHERE id = '00000000-0000-4000-8000-000000000003'), 'queued',
          'the other application''s transaction is untouched');

SELECT * FROM finish();
ROLLBACK;
