-- Privileges, last: no function of the extension is executable by PUBLIC;
-- each role gets exactly what its name says: mobisign_app the application API,
-- mobisign_admin administration, mobisign_auditor the audit trail,
-- mobisign_purger mobisign_purge() (README.md, "Install").
DO $grants$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT d.objid::regprocedure
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
         WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
           AND d.classid = 'pg_catalog.pg_proc'::regclass
           AND d.deptype = 'e' AND e.extname = 'mobisign'
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', f);
    END LOOP;
END
$grants$;

-- Administration
GRANT EXECUTE ON FUNCTION
    mobisign_add_pki(text, bytea[], text, text[], boolean, boolean, boolean, integer, boolean, interval, bytea[], text),
    mobisign_set_pki_profile(text, text),
    mobisign_add_crl(text, bytea, text, text)
    TO mobisign_admin;

-- Verification: applications and administrators
GRANT EXECUTE ON FUNCTION
    mobisign_validate_certificate(bytea, bytea[], text, timestamptz),
    mobisign_verify(bytea, bytea, bytea, text, timestamptz),
    mobisign_verify_signature(bytea, bytea, bytea, text),
    mobisign_verify_cache_stats()
    TO mobisign_app, mobisign_admin;

-- The limits of the API's text arguments: everyone who calls the API
GRANT EXECUTE ON FUNCTION mobisign_input_limits()
    TO mobisign_app, mobisign_admin, mobisign_auditor, mobisign_purger;

-- Auditing
GRANT EXECUTE ON FUNCTION mobisign_audit_verify() TO mobisign_auditor, mobisign_admin;
-- the progress of long work, every session's
GRANT EXECUTE ON FUNCTION mobisign._progress() TO mobisign_auditor, mobisign_admin;
GRANT SELECT ON mobisign.progress TO mobisign_auditor, mobisign_admin;
GRANT SELECT ON mobisign.audit, mobisign.status_code TO mobisign_auditor, mobisign_admin;
GRANT SELECT ON mobisign.status_code TO mobisign_app;

-- Read access to configuration and caches (secret columns excluded)
GRANT SELECT ON mobisign.pki, mobisign.crl, mobisign.certificate, mobisign.app_user
    TO mobisign_admin, mobisign_auditor;
GRANT SELECT (id, name, position, url, base_dn, bind_dn, user_filter, msisdn_attribute,
              certificate_attribute, starttls, ca_file, timeout, pki_id, enabled, created_at)
    ON mobisign.directory TO mobisign_admin, mobisign_auditor;
GRANT SELECT (id, name, host, port, tls, tls_ca_file, tls_server_name, tls_cert_file, tls_key_file,
              system_id, system_type, source_addr, binds, window_size,
              max_per_second, enquire_link_interval, reconnect_delay, response_timeout,
              connect_timeout, enabled, created_at)
    ON mobisign.smsc TO mobisign_admin, mobisign_auditor;
GRANT SELECT (id, name, created_at) ON mobisign.relying_party TO mobisign_admin, mobisign_auditor;
GRANT SELECT (msisdn, key_set, kic_algorithm, kid_algorithm, tar, counter, response_counter, created_at)
    ON mobisign.sim_key TO mobisign_admin, mobisign_auditor;

-- Transactions: administrators and auditors see all; an application only its
-- own rows (row-level security).
GRANT SELECT ON mobisign.transaction TO mobisign_admin, mobisign_auditor, mobisign_app;
CREATE POLICY transaction_staff ON mobisign.transaction FOR SELECT
    TO mobisign_admin, mobisign_auditor USING (true);
CREATE POLICY transaction_own ON mobisign.transaction FOR SELECT
    TO mobisign_app USING (app_role = session_user);
