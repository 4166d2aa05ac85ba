-- The shape of the extension: schema, tables (all logged), roles, control flags.
BEGIN;
SELECT plan(22);

SELECT has_schema('mobisign', 'schema mobisign exists');

SELECT has_table('mobisign', t, format('table mobisign.%s exists', t))
  FROM unnest(ARRAY['status_code', 'pki', 'crl', 'certificate', 'directory', 'app_user',
                    'sim_key', 'smsc', 'transaction', 'request_queue', 'inbound_segment',
                    'answer_queue', 'audit']) AS t;

SELECT is_empty($$
    SELECT c.relname FROM pg_catalog.pg_class c
     WHERE c.relnamespace = 'mobisign'::regnamespace AND c.relpersistence <> 'p'
$$, 'no UNLOGGED or temporary relation in schema mobisign (a crash must lose nothing)');

SELECT has_role('mobisign_admin', 'role mobisign_admin exists');
SELECT has_role('mobisign_app', 'role mobisign_app exists');
SELECT has_role('mobisign_auditor', 'role mobisign_auditor exists');

SELECT is((SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = 'mobisign_app'), false,
          'mobisign_app is a group role (NOLOGIN): logins are granted it');

SELECT is((SELECT extrelocatable FROM pg_catalog.pg_extension WHERE extname = 'mobisign'), false,
          'the extension is not relocatable');

SELECT is((SELECT trusted FROM pg_catalog.pg_available_extension_versions
            WHERE name = 'mobisign' AND installed), false,
          'the extension is not trusted (only a superuser may install it)');

SELECT ok((SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'mobisign.transaction'::regclass),
          'row-level security is enabled on mobisign.transaction');

SELECT * FROM finish();
ROLLBACK;
