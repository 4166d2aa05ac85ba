-- Directories and revocation (docs/directories.md): LDAP
-- directories, user resolution (register, directories, certificate URLs),
-- CRL sources and their refresh, the OCSP response cache.

------------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------------

-- OCSP responses relied on, one per (PKI, certificate): reused until their
-- nextUpdate, so that a verification does not always ask the responder.
CREATE TABLE mobisign.ocsp_response (
    pki_id            integer NOT NULL REFERENCES mobisign.pki ON DELETE CASCADE,
    cert_sha256       bytea NOT NULL CHECK (length(cert_sha256) = 32),
    subject           text NOT NULL,
    issuer            text NOT NULL,
    serial            text NOT NULL,   -- hex
    status            text NOT NULL CHECK (status IN ('good', 'revoked', 'unknown')),
    revocation_time   timestamptz,
    revocation_reason integer,
    this_update       timestamptz NOT NULL,
    next_update       timestamptz,
    produced_at       timestamptz NOT NULL,
    responder_url     text NOT NULL,
    der               bytea NOT NULL,  -- the OCSPResponse as received
    sha256            bytea NOT NULL,
    fetched_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pki_id, cert_sha256)
);
CREATE INDEX ocsp_response_next_update ON mobisign.ocsp_response (next_update);

-- Every place a PKI's CRLs are fetched from (distribution points of its CA
-- and user certificates, delta CRL points, CA entries in directories), with
-- the outcome of the last attempt: DBAs see here why a CRL is stale.
CREATE TABLE mobisign.crl_source (
    pki_id          integer NOT NULL REFERENCES mobisign.pki ON DELETE CASCADE,
    url             text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('distribution_point', 'delta', 'ldap_ca')),
    discovered_at   timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    last_success_at timestamptz,
    last_error      text,
    failures        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pki_id, url)
);

-- The cached certificates whose distribution points a PKI's refresh has
-- read (mobisign._refresh_crls): the periodic refresh reads only the
-- others, so its work grows with the certificates added since the last
-- refresh, not with every user ever cached (20,000 users' certificates took
-- 20-26 s of a core a minute, each verified against its CA again).  A cache:
-- emptied (a restore, a TRUNCATE), the next refresh reads them all again.
CREATE TABLE mobisign.crl_point_examined (
    pki_id          integer NOT NULL REFERENCES mobisign.pki ON DELETE CASCADE,
    fingerprint     bytea NOT NULL REFERENCES mobisign.certificate ON DELETE CASCADE,
    PRIMARY KEY (pki_id, fingerprint)
);
CREATE INDEX crl_point_examined_fingerprint ON mobisign.crl_point_examined (fingerprint);

COMMENT ON COLUMN mobisign.directory.bind_password IS
    'secret: readable only by the extension''s owner; never logged or audited';

------------------------------------------------------------------------------
-- C helpers (internal: not granted to anyone)
------------------------------------------------------------------------------

CREATE FUNCTION mobisign._ldap_filter(template text, value bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'mobisign_ldap_filter'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._filter_template_problem(template text)
RETURNS text
AS 'MODULE_PATHNAME', 'mobisign_filter_template_ok'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._directory_search(directory_id integer, user_id bytea,
    OUT found boolean, OUT dn text, OUT msisdn text, OUT certificates bytea[])
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_directory_search'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._fetch_url(url text, kind text)
RETURNS bytea[]
AS 'MODULE_PATHNAME', 'mobisign_fetch_url'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._distribution_points(object bytea, OUT full_crl text[], OUT delta_crl text[])
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_distribution_points'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._ldap_ca_crls(pki_id integer, dn text,
    OUT crls bytea[], OUT urls text[], OUT errors text[])
RETURNS record
AS 'MODULE_PATHNAME', 'mobisign_ldap_ca_crls'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._crl_signed_by(crl bytea, issuers bytea[])
RETURNS boolean
AS 'MODULE_PATHNAME', 'mobisign_crl_signed_by'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._cert_issued_by(certificate bytea, issuers bytea[])
RETURNS boolean
AS 'MODULE_PATHNAME', 'mobisign_cert_issued_by'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

------------------------------------------------------------------------------
-- Directories (mobisign_admin)
------------------------------------------------------------------------------

-- Add or replace (by name) an LDAP directory. The bind password goes into a
-- column only the extension's owner can read; it is never audited.
CREATE FUNCTION mobisign_add_directory(name text, url text, base_dn text,
                                       bind_dn text DEFAULT NULL,
                                       bind_password text DEFAULT NULL,
                                       user_filter text DEFAULT '(uid=%s)',
                                       msisdn_attribute text DEFAULT 'mobile',
                                       certificate_attribute text DEFAULT 'userCertificate;binary',
                                       starttls boolean DEFAULT false,
                                       ca_file text DEFAULT NULL,
                                       timeout interval DEFAULT '5 s',
                                       pki text DEFAULT NULL,
                                       "position" integer DEFAULT NULL,
                                       enabled boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- a failing call never logs its statement (it holds the bind password)
SET log_min_error_statement = panic
AS $$
DECLARE
    p_name ALIAS FOR name;
    p_url ALIAS FOR url;
    p_pki ALIAS FOR pki;
    p_position ALIAS FOR "position";
    v_pki_id  integer;
    v_pos     integer;
    v_id      integer;
    problem   text;
BEGIN
    IF p_name IS NULL OR p_url IS NULL OR base_dn IS NULL OR user_filter IS NULL
       OR msisdn_attribute IS NULL OR certificate_attribute IS NULL OR starttls IS NULL
       OR timeout IS NULL THEN
        RAISE EXCEPTION 'name, url, base_dn, user_filter, attributes, starttls and timeout must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- bounded before anything is checked, stored, audited or echoed
    PERFORM mobisign._check_input('name', p_name);
    PERFORM mobisign._check_input('url', p_url);
    PERFORM mobisign._check_input('dn', base_dn);
    PERFORM mobisign._check_input('dn', bind_dn);
    PERFORM mobisign._check_input('password', bind_password);
    PERFORM mobisign._check_input('user_filter', user_filter);
    PERFORM mobisign._check_input('attribute', msisdn_attribute);
    PERFORM mobisign._check_input('attribute', certificate_attribute);
    PERFORM mobisign._check_input('path', ca_file);
    PERFORM mobisign._check_input('name', p_pki);
    IF p_url !~* '^ldaps?://[^/?#]+/?$' THEN
        RAISE EXCEPTION 'invalid directory URL "%"', p_url
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A directory URL is ldap://host[:port] or ldaps://host[:port], without a DN or query.';
    END IF;
    IF starttls AND p_url ~* '^ldaps://' THEN
        RAISE EXCEPTION 'StartTLS cannot be used with an ldaps:// URL'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ldap:// with starttls => true, or ldaps:// alone.';
    END IF;
    problem := mobisign._filter_template_problem(user_filter);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'invalid user filter template "%"', user_filter
            USING ERRCODE = 'invalid_parameter_value', DETAIL = problem;
    END IF;
    IF msisdn_attribute !~ '^[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*$'
       OR certificate_attribute !~ '^[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*$' THEN
        RAISE EXCEPTION 'invalid attribute name'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Attribute descriptions are letters, digits and "-", with optional ;options.';
    END IF;
    IF bind_password IS NOT NULL AND bind_dn IS NULL THEN
        RAISE EXCEPTION 'a bind password needs a bind DN' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF bind_password IS NOT NULL AND NOT starttls AND p_url !~* '^ldaps://' THEN
        RAISE WARNING 'directory "%": the bind password will travel unencrypted', p_name
            USING HINT = 'Use an ldaps:// URL or starttls => true.';
    END IF;
    IF timeout < '100 ms' OR timeout > '10 min' THEN
        RAISE EXCEPTION 'timeout must be between 100 ms and 10 min' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF ca_file IS NOT NULL AND ca_file !~ '^/' THEN
        RAISE EXCEPTION 'ca_file must be an absolute path' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_pki IS NOT NULL THEN
        SELECT k.id INTO v_pki_id FROM mobisign.pki k WHERE k.name = p_pki;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'PKI "%" does not exist', p_pki USING ERRCODE = 'undefined_object';
        END IF;
    END IF;
    v_pos := coalesce(p_position,
                      (SELECT coalesce(max(d.position), 0) + 10 FROM mobisign.directory d
                        WHERE d.name <> p_name));

    INSERT INTO mobisign.directory AS d (name, position, url, base_dn, bind_dn, bind_password,
                                        user_filter, msisdn_attribute, certificate_attribute,
                                        starttls, ca_file, timeout, pki_id, enabled)
    VALUES (p_name, v_pos, p_url, base_dn, bind_dn, bind_password, user_filter, msisdn_attribute,
            certificate_attribute, starttls, ca_file, timeout, v_pki_id, coalesce(enabled, true))
    ON CONFLICT ON CONSTRAINT directory_name_key DO UPDATE
       SET position = excluded.position, url = excluded.url, base_dn = excluded.base_dn,
           bind_dn = excluded.bind_dn, bind_password = excluded.bind_password,
           user_filter = excluded.user_filter, msisdn_attribute = excluded.msisdn_attribute,
           certificate_attribute = excluded.certificate_attribute, starttls = excluded.starttls,
           ca_file = excluded.ca_file, timeout = excluded.timeout, pki_id = excluded.pki_id,
           enabled = excluded.enabled
    RETURNING d.id INTO v_id;

    PERFORM mobisign.audit_log('directory.add', 'success', pg_catalog.jsonb_build_object(
        'directory_id', v_id, 'name', p_name, 'url', p_url, 'base_dn', base_dn,
        'bind_dn', bind_dn, 'bind_password_set', bind_password IS NOT NULL,
        'user_filter', user_filter, 'starttls', starttls, 'ca_file', ca_file,
        'timeout', timeout, 'pki', p_pki, 'position', v_pos, 'enabled', coalesce(enabled, true)));
    RETURN v_id;
END
$$;

------------------------------------------------------------------------------
-- User resolution
------------------------------------------------------------------------------

-- Put a certificate fetched from a directory or URL into the cache; returns
-- its fingerprint, or NULL (with a warning) when it does not parse. A
-- registered certificate keeps its source.
CREATE FUNCTION mobisign._cache_certificate(p_der bytea, p_source text, p_source_url text,
                                            p_pki_id integer)
RETURNS bytea
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ci record;
BEGIN
    BEGIN
        SELECT * INTO ci FROM mobisign._cert_info(p_der);
    EXCEPTION WHEN invalid_binary_representation OR data_exception THEN
        RAISE WARNING 'ignoring a value that is not a certificate from %', p_source_url;
        RETURN NULL;
    END;
    INSERT INTO mobisign.certificate AS c (fingerprint, der, subject, issuer, serial, subject_key_id,
                                         not_before, not_after, pki_id, source, source_url, fetched_at)
    VALUES (ci.fingerprint, ci.der, ci.subject, ci.issuer, ci.serial, ci.subject_key_id,
            ci.not_before, ci.not_after, p_pki_id, p_source, p_source_url, pg_catalog.now())
    ON CONFLICT (fingerprint) DO UPDATE
       SET fetched_at = excluded.fetched_at,
           source_url = CASE WHEN c.source IN ('ldap', 'url') THEN excluded.source_url ELSE c.source_url END,
           source = CASE WHEN c.source IN ('ldap', 'url') THEN excluded.source ELSE c.source END,
           pki_id = coalesce(c.pki_id, excluded.pki_id);
    RETURN ci.fingerprint;
END
$$;

-- Where is this user? The register (with a registered certificate) first,
-- then the enabled directories in position order (exactly one entry must
-- match; an unreachable or ambiguous directory is an error, never skipped:
-- a lower directory must not answer for a higher one), then the register's
-- certificate URL. No row when the user is nowhere.
CREATE FUNCTION mobisign._resolve_user(p_user text,
    OUT user_id text, OUT msisdn text, OUT certificates bytea[], OUT source text,
    OUT directory text, OUT pki_id integer, OUT fingerprints bytea[])
RETURNS SETOF record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u      mobisign.app_user;
    in_reg boolean;
    d      record;
    r      record;
    c      record;
    der    bytea;
    fp     bytea;
    ders   bytea[];
    url    text;
BEGIN
    PERFORM mobisign._check_input('user_id', p_user, required_as => 'user_id');
    SELECT * INTO u FROM mobisign.app_user a WHERE a.user_id = p_user;
    in_reg := FOUND;

    -- 1. the register, with its registered certificate
    IF in_reg AND u.certificate_fingerprint IS NOT NULL THEN
        SELECT * INTO c FROM mobisign.certificate k WHERE k.fingerprint = u.certificate_fingerprint;
        IF FOUND THEN
            user_id := u.user_id; msisdn := u.msisdn; certificates := ARRAY[c.der];
            source := 'register'; directory := NULL; pki_id := u.pki_id;
            fingerprints := ARRAY[c.fingerprint];
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    -- 2. the directories
    FOR d IN SELECT k.id, k.name, k.url, k.pki_id FROM mobisign.directory k
              WHERE k.enabled ORDER BY k.position, k.id LOOP
        r := mobisign._directory_search(d.id, pg_catalog.convert_to(p_user, 'UTF8'));
        IF r.found THEN
            user_id := p_user;
            msisdn := coalesce(r.msisdn, CASE WHEN in_reg THEN u.msisdn END);
            certificates := '{}'; fingerprints := '{}';
            url := pg_catalog.rtrim(d.url, '/') || '/' || r.dn;
            FOREACH der IN ARRAY r.certificates LOOP
                fp := mobisign._cache_certificate(der, 'ldap', url, d.pki_id);
                IF fp IS NOT NULL THEN
                    certificates := certificates || (SELECT k.der FROM mobisign.certificate k WHERE k.fingerprint = fp);
                    fingerprints := fingerprints || fp;
                END IF;
            END LOOP;
            source := 'ldap'; directory := d.name;
            pki_id := coalesce(d.pki_id, CASE WHEN in_reg THEN u.pki_id END);
            RETURN NEXT;
            RETURN;
        END IF;
    END LOOP;

    -- 3. the register's certificate URL (a fresh cached copy, else fetched;
    --    when the URL is down, the last copy fetched)
    IF in_reg AND u.certificate_url IS NOT NULL THEN
        certificates := '{}'; fingerprints := '{}';
        FOR c IN SELECT k.der, k.fingerprint FROM mobisign.certificate k
                  WHERE k.source_url = u.certificate_url AND k.source = 'url'
                    AND k.fetched_at > pg_catalog.now() - interval '1 hour'
                  ORDER BY k.fetched_at DESC LOOP
            certificates := certificates || c.der;
            fingerprints := fingerprints || c.fingerprint;
        END LOOP;
        IF cardinality(certificates) = 0 THEN
            BEGIN
                ders := mobisign._fetch_url(u.certificate_url, 'certificate');
                FOREACH der IN ARRAY ders LOOP
                    fp := mobisign._cache_certificate(der, 'url', u.certificate_url, u.pki_id);
                    IF fp IS NOT NULL THEN
                        certificates := certificates || (SELECT k.der FROM mobisign.certificate k WHERE k.fingerprint = fp);
                        fingerprints := fingerprints || fp;
                    END IF;
                END LOOP;
            EXCEPTION WHEN connection_failure THEN
                FOR c IN SELECT k.der, k.fingerprint FROM mobisign.certificate k
                          WHERE k.source_url = u.certificate_url AND k.source = 'url'
                          ORDER BY k.fetched_at DESC LIMIT 1 LOOP
                    certificates := certificates || c.der;
                    fingerprints := fingerprints || c.fingerprint;
                END LOOP;
                IF cardinality(certificates) = 0 THEN
                    RAISE;
                END IF;
                RAISE WARNING 'certificate URL of user "%" is unavailable; using the copy fetched earlier', p_user;
            END;
        END IF;
        user_id := u.user_id; msisdn := u.msisdn; source := 'url'; directory := u.certificate_url;
        pki_id := u.pki_id;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN;
END
$$;

-- The result of mobisign_lookup_user (a type: the parameter is named
-- user_id too).
CREATE TYPE mobisign.user_lookup AS (
    user_id      text,
    msisdn       text,
    certificates bytea[],
    source       text,    -- 'register', 'ldap' or 'url'
    directory    text     -- the directory's name (ldap) or the certificate URL (url)
);

CREATE FUNCTION mobisign_lookup_user(user_id text)
RETURNS SETOF mobisign.user_lookup
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_user ALIAS FOR $1;
    r   record;
    res mobisign.user_lookup;
    n   integer := 0;
BEGIN
    FOR r IN SELECT * FROM mobisign._resolve_user(p_user) LOOP
        res := ROW(r.user_id, r.msisdn, r.certificates, r.source, r.directory)::mobisign.user_lookup;
        n := n + 1;
        RETURN NEXT res;
    END LOOP;
    PERFORM mobisign.audit_log('user.lookup', CASE WHEN n > 0 THEN 'found' ELSE 'not_found' END,
        pg_catalog.jsonb_build_object('user_id', p_user, 'source', res.source,
                                      'directory', res.directory,
                                      'certificates', coalesce(cardinality(res.certificates), 0)));
END
$$;
COMMENT ON FUNCTION mobisign_lookup_user(text)
    IS 'finds a user in the register, then the LDAP directories in order, then the register''s certificate URL';

------------------------------------------------------------------------------
-- CRL sources and refresh
------------------------------------------------------------------------------

-- Store one fetched CRL if it is signed by a known certificate with the CRL
-- issuer's name and is newer than the cached one of its scope. Returns true
-- when the cache changed.
CREATE FUNCTION mobisign._store_fetched_crl(p_pki mobisign.pki, p_crl bytea, p_url text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    info      record;
    issuers   bytea[];
    extschema name;
BEGIN
    info := mobisign._crl_info(p_crl);
    IF EXISTS (SELECT FROM mobisign.crl k WHERE k.pki_id = p_pki.id AND k.sha256 = info.sha256) THEN
        UPDATE mobisign.crl k SET fetched_at = pg_catalog.now()
         WHERE k.pki_id = p_pki.id AND k.sha256 = info.sha256;
        RETURN false;
    END IF;
    IF EXISTS (SELECT FROM mobisign.crl k WHERE k.pki_id = p_pki.id AND k.scope = info.scope
                                          AND k.this_update >= info.this_update) THEN
        RETURN false;           -- not newer than what is cached
    END IF;
    -- who may sign it: the PKI's own CAs, or a cached certificate that has
    -- validated in this PKI (never one merely fetched from a directory or URL)
    issuers := p_pki.trust_anchors || p_pki.intermediates
        || ARRAY(SELECT k.der FROM mobisign.certificate k
                  WHERE k.subject = info.issuer AND k.pki_id = p_pki.id AND k.last_status = 502
                  LIMIT 32);
    IF NOT mobisign._crl_signed_by(info.der, issuers) THEN
        RAISE EXCEPTION 'the CRL from % is not signed by a known CA of PKI "%"', p_url, p_pki.name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('CRL issuer: %s.', info.issuer);
    END IF;
    -- mobisign_add_crl lives in the extension's schema (not on this
    -- function's search_path): found through the catalog, never by path
    SELECT n.nspname INTO extschema
      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'mobisign';
    EXECUTE pg_catalog.format('SELECT %I.mobisign_add_crl($1, $2, $3, $4)', extschema)
      USING p_pki.name, info.der, CASE WHEN p_url ~* '^ldaps?://' THEN 'ldap' ELSE 'url' END, p_url;
    RETURN true;
END
$$;

-- Refresh the CRLs of every enabled PKI from every source known: the CRL
-- distribution points (and freshest CRL points) of its trust anchors and
-- intermediates, of the cached certificates of the PKI or issued by one of
-- its CAs, and of its cached CRLs; CA entries (by the CA's subject DN) in the
-- directories. only_due: only sources whose CRL is near or past next_update
-- (and not in back-off after a failure), and no new fetch after 10 seconds
-- (the rest waits for the next call); only the cached certificates not read
-- before (mobisign.crl_point_examined), for at most 2 seconds a call (the
-- rest at the next). Returns how many CRLs changed.
CREATE FUNCTION mobisign._refresh_crls(only_due boolean)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p        mobisign.pki;
    obj      bytea;
    fp       bytea;
    dps      record;
    s        record;
    u        text;
    i        integer;
    ders     bytea[];
    der      bytea;
    ca       record;
    changed  integer := 0;
    ok       boolean;
    err      text;
    started  timestamptz := pg_catalog.clock_timestamp();
BEGIN
    FOR p IN SELECT * FROM mobisign.pki k WHERE k.enabled ORDER BY k.id LOOP
        -- discover distribution points: of the CAs and the cached CRLs, then
        -- (last, a UNION ALL runs its parts in order) of the certificates
        FOR obj, fp IN
            SELECT a, NULL::bytea FROM pg_catalog.unnest(p.trust_anchors || p.intermediates) a
            UNION ALL
            SELECT k.der, NULL FROM mobisign.crl k WHERE k.pki_id = p.id AND NOT k.is_delta
            UNION ALL
            -- cached certificates count only if one of the PKI's CAs issued
            -- them: what a directory or URL merely claims names no URL here;
            -- periodically only those not read before
            SELECT k.der, k.fingerprint FROM mobisign.certificate k
             WHERE k.not_after > pg_catalog.now()
               AND k.issuer IN (SELECT (mobisign._cert_info(a)).subject
                                  FROM pg_catalog.unnest(p.trust_anchors || p.intermediates) a)
               AND (NOT only_due OR NOT EXISTS (SELECT FROM mobisign.crl_point_examined e
                                                 WHERE e.pki_id = p.id AND e.fingerprint = k.fingerprint))
        LOOP
            IF fp IS NOT NULL THEN
                -- periodically at most 2 s of certificates a call: the rest
                -- at the next (each is read once, so every call progresses;
                -- one that names a CA without its signature is not read
                -- again either: mobisign_refresh_crls() reads every one)
                EXIT WHEN only_due AND pg_catalog.clock_timestamp() > started + interval '2 s';
                INSERT INTO mobisign.crl_point_examined (pki_id, fingerprint)
                VALUES (p.id, fp) ON CONFLICT DO NOTHING;
                CONTINUE WHEN NOT coalesce(mobisign._cert_issued_by(obj, p.trust_anchors || p.intermediates), false);
            END IF;
            BEGIN
                dps := mobisign._distribution_points(obj);
            EXCEPTION WHEN OTHERS THEN
                CONTINUE;
            END;
            INSERT INTO mobisign.crl_source (pki_id, url, kind)
            SELECT p.id, x, 'distribution_point' FROM pg_catalog.unnest(dps.full_crl) x
            UNION
            SELECT p.id, x, 'delta' FROM pg_catalog.unnest(dps.delta_crl) x
            ON CONFLICT DO NOTHING;
        END LOOP;

        -- CA entries in the directories (certificateRevocationList;binary on
        -- the entry named by the CA's subject): on demand, or once
        IF NOT only_due OR NOT EXISTS (SELECT FROM mobisign.crl_source k WHERE k.pki_id = p.id) THEN
            FOR ca IN SELECT DISTINCT (mobisign._cert_info(a)).subject AS subject
                        FROM pg_catalog.unnest(p.trust_anchors || p.intermediates) a LOOP
                BEGIN
                    s := mobisign._ldap_ca_crls(p.id, ca.subject);
                EXCEPTION WHEN OTHERS THEN
                    CONTINUE;
                END;
                FOR i IN 1 .. coalesce(cardinality(s.crls), 0) LOOP
                    IF s.urls[i] <> '' THEN
                        INSERT INTO mobisign.crl_source (pki_id, url, kind)
                        VALUES (p.id, s.urls[i], 'ldap_ca') ON CONFLICT DO NOTHING;
                    END IF;
                END LOOP;
            END LOOP;
        END IF;

        -- fetch
        FOR s IN
            SELECT k.url, k.failures FROM mobisign.crl_source k
             WHERE k.pki_id = p.id
               AND (NOT only_due OR (
                    k.next_attempt_at <= pg_catalog.now()
                    AND NOT EXISTS (
                        SELECT FROM mobisign.crl c
                         WHERE c.pki_id = p.id AND c.source_url = k.url
                           AND c.next_update IS NOT NULL
                           AND pg_catalog.now() < c.next_update
                               - LEAST(interval '1 hour', (c.next_update - c.this_update) / 4))))
             ORDER BY k.next_attempt_at, k.kind, k.url
        LOOP
            -- the worker's call stays short: what is left waits for the next one
            IF only_due AND pg_catalog.clock_timestamp() - started > interval '10 s' THEN
                EXIT;
            END IF;
            u := s.url;
            ok := true;
            err := NULL;
            BEGIN
                ders := mobisign._fetch_url(u, 'crl');
            EXCEPTION WHEN OTHERS THEN
                ok := false;
                err := SQLERRM;
                GET STACKED DIAGNOSTICS err = PG_EXCEPTION_DETAIL;
                err := pg_catalog.left(coalesce(nullif(err, ''), SQLERRM), 500);
            END;
            IF ok THEN
                FOREACH der IN ARRAY ders LOOP
                    BEGIN
                        IF mobisign._store_fetched_crl(p, der, u) THEN
                            changed := changed + 1;
                        END IF;
                    EXCEPTION WHEN OTHERS THEN
                        ok := false;
                        err := pg_catalog.left(SQLERRM, 500);
                    END;
                END LOOP;
            END IF;
            UPDATE mobisign.crl_source k
               SET last_attempt_at = pg_catalog.now(),
                   last_success_at = CASE WHEN ok THEN pg_catalog.now() ELSE k.last_success_at END,
                   last_error = err,
                   failures = CASE WHEN ok THEN 0 ELSE k.failures + 1 END,
                   next_attempt_at = pg_catalog.now() + CASE WHEN ok THEN interval '1 min'
                       ELSE LEAST(interval '1 hour', interval '30 s' * (2 ^ LEAST(k.failures, 7))) END
             WHERE k.pki_id = p.id AND k.url = u;
        END LOOP;
    END LOOP;
    RETURN changed;
END
$$;

-- A refresh and its audit row: on demand (mobisign_admin) every source,
-- audited always, with the sources that fail; for the background worker,
-- periodically, only sources whose CRL is due, audited when a CRL changed.
CREATE FUNCTION mobisign._refresh_crls_audited(due_only boolean)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    n := mobisign._refresh_crls(due_only);
    IF NOT due_only OR n > 0 THEN
        PERFORM mobisign.audit_log('crl.refresh', 'success', pg_catalog.jsonb_build_object('changed', n)
            || CASE WHEN due_only THEN pg_catalog.jsonb_build_object('by', 'worker')
                    ELSE pg_catalog.jsonb_build_object('failing_sources',
                             (SELECT pg_catalog.count(*) FROM mobisign.crl_source k WHERE k.failures > 0)) END);
    END IF;
    RETURN n;
END
$$;

CREATE FUNCTION mobisign_refresh_crls()
RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT mobisign._refresh_crls_audited(false) $$;
COMMENT ON FUNCTION mobisign_refresh_crls()
    IS 'fetches the CRLs of every PKI from every known source now; returns how many changed';

CREATE FUNCTION mobisign._refresh_due_crls()
RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT mobisign._refresh_crls_audited(true) $$;

------------------------------------------------------------------------------
-- Grants (the final part revokes everything from PUBLIC)
------------------------------------------------------------------------------

GRANT EXECUTE ON FUNCTION
    mobisign_add_directory(text, text, text, text, text, text, text, text, boolean, text,
                           interval, text, integer, boolean),
    mobisign_refresh_crls(),
    mobisign_lookup_user(text)
    TO mobisign_admin;
GRANT SELECT ON mobisign.ocsp_response, mobisign.crl_source, mobisign.crl_point_examined
    TO mobisign_admin, mobisign_auditor;
GRANT USAGE ON TYPE mobisign.user_lookup TO mobisign_admin;
