-- mobisign 1.0 install script, assembled from sql/parts/*.sql in file-name order.
-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION mobisign" to load this file. \quit

-- Tables and internals live in schema mobisign; the API functions live in the
-- extension's schema (@extschema@, usually public) so that applications call
-- them by their plain names.
CREATE SCHEMA mobisign;
COMMENT ON SCHEMA mobisign IS 'mobisign state: PKIs, users, SIM keys, transactions, queue, caches and the audit trail';

-- The roles are cluster-wide; they outlive the extension on purpose
-- (grants made to login roles must not vanish with a DROP EXTENSION).
-- mobisign_purger removes old transactions and audit rows (mobisign_purge),
-- nothing else: administrators cannot erase the audit of their own changes.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['mobisign_admin', 'mobisign_app', 'mobisign_auditor', 'mobisign_purger']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;

REVOKE ALL ON SCHEMA mobisign FROM PUBLIC;
GRANT USAGE ON SCHEMA mobisign TO mobisign_admin, mobisign_app, mobisign_auditor;
