-- PKI administration and verification (docs/verification.md).

-- ---- internal C functions (no grants: called by the functions below) ----

CREATE FUNCTION mobisign._cert_info(certificate bytea,
    OUT der bytea, OUT fingerprint bytea, OUT subject text, OUT issuer text, OUT serial text,
    OUT subject_key_id bytea, OUT not_before timestamptz, OUT not_after timestamptz,
    OUT is_ca boolean, OUT self_signed boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_cert_info'
LANGUAGE C IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

-- The key's type ('EC', 'RSA', ...) and the subject's serialNumber (the
-- ETSI natural-person form "PNOEE-38412319871", Mobile-ID's national
-- identity number with its prefix).
CREATE FUNCTION mobisign._cert_identity(certificate bytea, OUT key_type text, OUT serial_number text)
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_cert_identity'
LANGUAGE C IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._crl_info(crl bytea,
    OUT der bytea, OUT sha256 bytea, OUT issuer text, OUT crl_number numeric, OUT is_delta boolean,
    OUT scope text, OUT this_update timestamptz, OUT next_update timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_crl_info'
LANGUAGE C IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._validate_certificate(certificate bytea, intermediates bytea[], pki text,
    at timestamptz,
    OUT valid boolean, OUT status_code integer, OUT status_name text, OUT reason text,
    OUT pki text, OUT chain text[], OUT policies text[], OUT evidence jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_validate_certificate_internal'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._verify(signature bytea, content bytea, certificate bytea, pki text,
    at timestamptz,
    OUT valid boolean, OUT status_code integer, OUT status_name text, OUT reason text,
    OUT pki text, OUT chain text[], OUT signer_subject text, OUT signer_certificate bytea,
    OUT signing_time timestamptz, OUT evidence jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_verify_cms_internal'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._verify_signature(key bytea, content bytea, signature bytea, algorithm text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mobisign_verify_signature_internal'
LANGUAGE C IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

-- ---- administration (mobisign_admin) ----

CREATE FUNCTION mobisign_add_pki(name text, trust_anchors bytea[], revocation text DEFAULT 'crl',
                                 initial_policies text[] DEFAULT NULL,
                                 explicit_policy boolean DEFAULT false,
                                 inhibit_policy_mapping boolean DEFAULT false,
                                 inhibit_any_policy boolean DEFAULT false,
                                 security_level integer DEFAULT 2,
                                 enforce_key_usage boolean DEFAULT true,
                                 crl_grace interval DEFAULT '0',
                                 intermediates bytea[] DEFAULT NULL,
                                 profile text DEFAULT 'strict')
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    anchors  bytea[] := '{}';
    subjects text[] := '{}';
    cas      bytea[] := '{}';
    ca_subjects text[] := '{}';
    info     record;
    new_id   integer;
    i        integer;
BEGIN
    IF name IS NULL OR trust_anchors IS NULL OR revocation IS NULL THEN
        RAISE EXCEPTION 'name, trust_anchors and revocation must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM mobisign._check_input('name', name);
    PERFORM mobisign._check_input('revocation', revocation);
    IF name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$' THEN
        RAISE EXCEPTION 'invalid PKI name "%"', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A PKI name is letters, digits, "_", "." or "-", starting with a letter or digit.';
    END IF;
    IF revocation NOT IN ('crl', 'none', 'ocsp', 'ocsp,crl') THEN
        RAISE EXCEPTION 'invalid revocation mode "%"', revocation
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''crl'' (fail closed when a needed CRL is missing), ''none'', ''ocsp'' or ''ocsp,crl''.';
    END IF;
    IF cardinality(trust_anchors) = 0 THEN
        RAISE EXCEPTION 'a PKI needs at least one trust anchor' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(trust_anchors) > 64 THEN
        RAISE EXCEPTION 'too many trust anchors'
            USING ERRCODE = 'program_limit_exceeded', DETAIL = 'At most 64 are accepted.';
    END IF;
    IF cardinality(initial_policies) > 64 THEN
        RAISE EXCEPTION 'too many initial policies'
            USING ERRCODE = 'program_limit_exceeded', DETAIL = 'At most 64 are accepted.';
    END IF;
    PERFORM mobisign._check_input('oid', p) FROM pg_catalog.unnest(initial_policies) p;
    IF initial_policies IS NOT NULL AND EXISTS (
        SELECT FROM pg_catalog.unnest(initial_policies) p
         WHERE p IS NULL OR p !~ '^[0-2](\.(0|[1-9][0-9]*))+$') THEN
        RAISE EXCEPTION 'initial_policies must be dotted OIDs'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''2.16.840.1.101.3.2.1.48.1''; NULL means anyPolicy.';
    END IF;
    IF security_level IS NULL OR security_level NOT BETWEEN 0 AND 5 THEN
        RAISE EXCEPTION 'security_level must be between 0 and 5' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF crl_grace IS NULL OR crl_grace < '0' THEN
        RAISE EXCEPTION 'crl_grace must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM mobisign._check_pki_profile(profile);
    FOR i IN 1 .. cardinality(trust_anchors) LOOP
        IF trust_anchors[i] IS NULL THEN
            RAISE EXCEPTION 'trust anchor % is NULL', i USING ERRCODE = 'null_value_not_allowed';
        END IF;
        info := mobisign._cert_info(trust_anchors[i]);
        anchors := anchors || info.der;
        subjects := subjects || info.subject;
    END LOOP;
    IF cardinality(intermediates) > 256 THEN
        RAISE EXCEPTION 'too many intermediates'
            USING ERRCODE = 'program_limit_exceeded', DETAIL = 'At most 256 are accepted.';
    END IF;
    FOR i IN 1 .. coalesce(cardinality(intermediates), 0) LOOP
        IF intermediates[i] IS NULL THEN
            RAISE EXCEPTION 'intermediate % is NULL', i USING ERRCODE = 'null_value_not_allowed';
        END IF;
        info := mobisign._cert_info(intermediates[i]);
        IF NOT info.is_ca THEN
            RAISE EXCEPTION 'intermediate % is not a CA certificate', i
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = pg_catalog.format('%s has no basicConstraints CA flag.', info.subject);
        END IF;
        cas := cas || info.der;
        ca_subjects := ca_subjects || info.subject;
    END LOOP;
    BEGIN
        INSERT INTO mobisign.pki (name, trust_anchors, intermediates, revocation, initial_policies, explicit_policy,
                                  inhibit_policy_mapping, inhibit_any_policy, security_level,
                                  enforce_key_usage, crl_grace, profile)
        VALUES (name, anchors, cas, revocation, initial_policies, coalesce(explicit_policy, false),
                coalesce(inhibit_policy_mapping, false), coalesce(inhibit_any_policy, false),
                security_level, coalesce(enforce_key_usage, true), crl_grace, profile)
        RETURNING id INTO new_id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'PKI "%" already exists', name USING ERRCODE = 'duplicate_object';
    END;
    PERFORM mobisign.audit_log('add_pki', 'ok', pg_catalog.jsonb_build_object(
        'pki', name, 'trust_anchors', subjects, 'intermediates', ca_subjects, 'revocation', revocation,
        'initial_policies', initial_policies, 'explicit_policy', explicit_policy,
        'inhibit_policy_mapping', inhibit_policy_mapping, 'inhibit_any_policy', inhibit_any_policy,
        'security_level', security_level, 'enforce_key_usage', enforce_key_usage,
        'crl_grace', crl_grace, 'profile', profile));
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION mobisign_add_pki(text, bytea[], text, text[], boolean, boolean, boolean, integer, boolean, interval, bytea[], text)
    IS 'registers a PKI: its own trust store (anchors, DER or PEM), revocation mode, policy inputs and profile';

-- Change a PKI's profile; every backend revalidates with it from its next
-- verification on (the generation is bumped).  Returns the previous profile.
CREATE FUNCTION mobisign_set_pki_profile(pki text, profile text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    previous text;
BEGIN
    PERFORM mobisign._check_input('name', pki, required_as => 'pki');
    PERFORM mobisign._check_pki_profile(profile);
    SELECT p.profile INTO previous FROM mobisign.pki p WHERE p.name = mobisign_set_pki_profile.pki FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'PKI "%" does not exist', pki
            USING ERRCODE = 'undefined_object',
                  HINT = 'Configured PKIs are listed in mobisign.pki; add one with mobisign_add_pki().';
    END IF;
    UPDATE mobisign.pki p SET profile = mobisign_set_pki_profile.profile, generation = p.generation + 1,
                              updated_at = pg_catalog.now()
     WHERE p.name = mobisign_set_pki_profile.pki;
    PERFORM mobisign.audit_log('set_pki_profile', 'ok', pg_catalog.jsonb_build_object(
        'pki', pki, 'profile', profile, 'previous', previous));
    RETURN previous;
END
$$;
COMMENT ON FUNCTION mobisign_set_pki_profile(text, text)
    IS 'sets a PKI''s verification profile (strict or compatible); returns the previous one';

-- Add a CRL to a PKI's cache. A CRL of the same scope (issuer, issuing
-- distribution point, full/delta) that is older is replaced; an older one
-- than what is cached is refused.
CREATE FUNCTION mobisign_add_crl(pki text, crl bytea, source text DEFAULT 'admin', source_url text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p       mobisign.pki;
    info    record;
    newer   mobisign.crl;
    new_id  bigint;
BEGIN
    IF pki IS NULL OR crl IS NULL THEN
        RAISE EXCEPTION 'pki and crl must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM mobisign._check_input('name', pki);
    PERFORM mobisign._check_input('url', source_url);
    IF coalesce(source, 'admin') NOT IN ('admin', 'ldap', 'url') THEN
        RAISE EXCEPTION 'source must be ''admin'', ''ldap'' or ''url'''
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO p FROM mobisign.pki WHERE mobisign.pki.name = mobisign_add_crl.pki FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'PKI "%" does not exist', pki
            USING ERRCODE = 'undefined_object',
                  HINT = 'Configured PKIs are listed in mobisign.pki; add one with mobisign_add_pki().';
    END IF;
    info := mobisign._crl_info(crl);
    -- a CRL from the future would shadow every genuine one until then
    IF info.this_update > pg_catalog.now() + interval '5 minutes' THEN
        RAISE EXCEPTION 'the CRL is issued in the future (%)', info.this_update
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Check the issuing CA''s clock; mobisign accepts five minutes of skew.';
    END IF;
    SELECT * INTO newer FROM mobisign.crl c
     WHERE c.pki_id = p.id AND c.scope = info.scope
       AND (c.this_update > info.this_update OR c.sha256 = info.sha256)
     LIMIT 1;
    IF FOUND THEN
        IF newer.sha256 = info.sha256 THEN
            RETURN newer.id;   -- already cached: idempotent
        END IF;
        RAISE EXCEPTION 'a newer CRL from this issuer is already cached'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Cached CRL issued %s; this one was issued %s.', newer.this_update, info.this_update);
    END IF;
    DELETE FROM mobisign.crl c WHERE c.pki_id = p.id AND c.scope = info.scope;
    INSERT INTO mobisign.crl (pki_id, issuer, der, sha256, crl_number, is_delta, scope,
                              this_update, next_update, source, source_url)
    VALUES (p.id, info.issuer, info.der, info.sha256, info.crl_number, info.is_delta, info.scope,
            info.this_update, info.next_update, coalesce(source, 'admin'), source_url)
    RETURNING id INTO new_id;
    PERFORM mobisign.audit_log('add_crl', 'ok', pg_catalog.jsonb_build_object(
        'pki', p.name, 'issuer', info.issuer, 'crl_number', info.crl_number,
        'delta', info.is_delta, 'this_update', info.this_update, 'next_update', info.next_update,
        'source', coalesce(source, 'admin'), 'source_url', source_url));
    RETURN new_id;
END
$$;

-- Every change to a PKI's CRLs bumps the PKI's generation, whoever makes it
-- (mobisign_add_crl, the refresher, an administrator's DELETE): each
-- backend sees the new value at its next verification and reloads the
-- PKI's store and CRLs (extension/pki_store.h).  A change to the pki row
-- itself changes its xmin, which the backends compare too.
CREATE FUNCTION mobisign._crl_changed()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE mobisign.pki SET generation = generation + 1, updated_at = pg_catalog.now()
     WHERE id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.pki_id END,
                  CASE WHEN TG_OP <> 'DELETE' THEN NEW.pki_id END);
    RETURN NULL;
END
$$;
CREATE TRIGGER crl_added_or_removed AFTER INSERT OR DELETE ON mobisign.crl
    FOR EACH ROW EXECUTE FUNCTION mobisign._crl_changed();
-- a refresh that finds the same CRL only touches fetched_at: no reload
CREATE TRIGGER crl_replaced AFTER UPDATE ON mobisign.crl
    FOR EACH ROW WHEN (OLD.der IS DISTINCT FROM NEW.der OR OLD.pki_id IS DISTINCT FROM NEW.pki_id)
    EXECUTE FUNCTION mobisign._crl_changed();

-- Every change to mobisign.pki (and so every CRL change, above) tells every
-- backend's PKI cache to read the table again: a relcache invalidation of
-- the table, sent when the change commits (extension/pki_store.h).  Until
-- then a verification looks no PKI row up.
CREATE FUNCTION mobisign._pki_changed()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mobisign_pki_changed';
CREATE TRIGGER pki_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mobisign.pki
    FOR EACH STATEMENT EXECUTE FUNCTION mobisign._pki_changed();

-- mobisign_verify writes a signer's row in mobisign.certificate once per
-- transaction (extension/cms_verify.c); an UPDATE, DELETE or TRUNCATE of the
-- table in the same session makes it write the row again at its next call.
CREATE FUNCTION mobisign._certificate_changed()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mobisign_certificate_changed';
CREATE TRIGGER certificate_changed AFTER UPDATE OR DELETE OR TRUNCATE ON mobisign.certificate
    FOR EACH STATEMENT EXECUTE FUNCTION mobisign._certificate_changed();

-- ---- verification (mobisign_app, mobisign_admin) ----

-- The public functions are C: each verifies and writes its audit row (and,
-- for a signature, caches the signer) in the same statement, with statements
-- planned once per backend (a LANGUAGE sql wrapper is planned at every call,
-- which cost more than the verification).
CREATE FUNCTION mobisign_validate_certificate(certificate bytea, intermediates bytea[] DEFAULT NULL,
    pki text DEFAULT NULL, at timestamptz DEFAULT NULL,
    OUT valid boolean, OUT status_code integer, OUT status_name text, OUT reason text,
    OUT pki text, OUT chain text[], OUT policies text[], OUT evidence jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_validate_certificate'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign_verify(signature bytea, content bytea, certificate bytea DEFAULT NULL,
    pki text DEFAULT NULL, at timestamptz DEFAULT NULL,
    OUT valid boolean, OUT status_code integer, OUT status_name text, OUT reason text,
    OUT signer_subject text, OUT signer_certificate bytea, OUT signing_time timestamptz,
    OUT pki text, OUT chain text[], OUT evidence jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_verify'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign_verify_signature(key bytea, content bytea, signature bytea, algorithm text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mobisign_verify_signature'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- The calling backend's verification cache (README.md, "Configuration";
-- docs/verification.md): its size and how often it answered.
CREATE FUNCTION mobisign_verify_cache_stats(
    OUT entries bigint, OUT bytes bigint, OUT hits bigint, OUT misses bigint,
    OUT evictions bigint, OUT max_entries bigint, OUT max_bytes bigint,
    OUT path_memo_entries bigint, OUT path_memo_hits bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_verify_cache_stats'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mobisign_verify_cache_stats()
    IS 'this backend''s verification cache: entries, estimated bytes, hits, misses, evictions and its limits; the path memo''s entries and hits';
