-- The SIM channel, administration (mobisign_admin): the user register
-- (mobisign_register_user), the SIMs' OTA key sets (mobisign_add_sim_key)
-- and the SMSC links (mobisign_add_smsc). Clear keys and passwords are never
-- logged: these functions do not log their statement on an error.

CREATE FUNCTION mobisign_register_user(user_id text, msisdn text, pki text,
                                       certificate bytea DEFAULT NULL,
                                       certificate_url text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_user ALIAS FOR user_id;
    p_msisdn ALIAS FOR msisdn;
    p_pki ALIAS FOR pki;
    v_pki_id integer;
    ci       record;
    v        record;
    fp       bytea;
    v_subject text;     -- NULL when only a certificate URL is registered
BEGIN
    IF p_user IS NULL OR p_msisdn IS NULL OR p_pki IS NULL THEN
        RAISE EXCEPTION 'user_id, msisdn and pki are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM mobisign._check_input('user_id', p_user);
    PERFORM mobisign._check_input('name', p_pki);
    PERFORM mobisign._check_input('url', certificate_url);
    PERFORM mobisign._check_msisdn(p_msisdn);
    IF certificate IS NULL AND certificate_url IS NULL THEN
        RAISE EXCEPTION 'a certificate or a certificate URL is required'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the user''s certificate (DER or PEM) or the URL it can be fetched from.';
    END IF;
    IF certificate_url IS NOT NULL AND certificate_url !~* '^(https?|ldaps?)://' THEN
        RAISE EXCEPTION 'certificate URL must be an http, https, ldap or ldaps URL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k.id INTO v_pki_id FROM mobisign.pki k WHERE k.name = p_pki;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'PKI "%" does not exist', p_pki
            USING ERRCODE = 'undefined_object',
                  HINT = 'Register it first with mobisign_add_pki().';
    END IF;

    IF certificate IS NOT NULL THEN
        SELECT * INTO ci FROM mobisign._cert_info(certificate);
        SELECT * INTO v FROM mobisign._validate_certificate(ci.der, NULL, p_pki, NULL);
        IF NOT v.valid THEN
            PERFORM mobisign.audit_log('user.register', 'refused',
                pg_catalog.jsonb_build_object('user_id', p_user, 'msisdn', p_msisdn, 'pki', p_pki,
                    'subject', ci.subject, 'status', v.status_code, 'reason', v.reason));
            PERFORM mobisign._raise_status(v.status_code,
                pg_catalog.format('the certificate of user "%s" does not validate against PKI "%s"', p_user, p_pki),
                v.reason, 'Register a certificate that the PKI validates, or fix the PKI (trust anchors, CRLs).');
        END IF;
        fp := ci.fingerprint;
        v_subject := ci.subject;
        INSERT INTO mobisign.certificate AS c (fingerprint, der, subject, issuer, serial, subject_key_id,
                                             not_before, not_after, pki_id, source,
                                             last_validated_at, last_status)
        VALUES (ci.fingerprint, ci.der, ci.subject, ci.issuer, ci.serial, ci.subject_key_id,
                ci.not_before, ci.not_after, v_pki_id, 'register', pg_catalog.now(), v.status_code)
        ON CONFLICT (fingerprint) DO UPDATE
           SET pki_id = excluded.pki_id, source = 'register',
               last_validated_at = excluded.last_validated_at, last_status = excluded.last_status;
    END IF;

    INSERT INTO mobisign.app_user AS u (user_id, msisdn, pki_id, certificate_fingerprint, certificate_url)
    VALUES (p_user, p_msisdn, v_pki_id, fp, certificate_url)
    ON CONFLICT ON CONSTRAINT app_user_pkey DO UPDATE
       SET msisdn = excluded.msisdn, pki_id = excluded.pki_id,
           certificate_fingerprint = excluded.certificate_fingerprint,
           certificate_url = excluded.certificate_url, updated_at = pg_catalog.now();

    PERFORM mobisign.audit_log('user.register', 'success',
        pg_catalog.jsonb_build_object('user_id', p_user, 'msisdn', p_msisdn, 'pki', p_pki,
            'certificate_sha256', pg_catalog.encode(fp, 'hex'),
            'subject', v_subject, 'certificate_url', certificate_url));
END
$$;

CREATE FUNCTION mobisign_add_sim_key(msisdn text, key_set integer, kic bytea, kid bytea, tar bytea,
                                     kic_algorithm text DEFAULT 'aes-cbc',
                                     kid_algorithm text DEFAULT 'aes-cmac',
                                     counter bigint DEFAULT 0)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- an error must not log the statement: it holds the clear keys / password
SET log_min_error_statement = panic
AS $$
DECLARE
    p_msisdn ALIAS FOR msisdn;
    p_key_set ALIAS FOR key_set;
    p_counter ALIAS FOR counter;
    kic_w bytea;
    kid_w bytea;
BEGIN
    IF p_msisdn IS NULL OR p_key_set IS NULL OR kic IS NULL OR kid IS NULL OR tar IS NULL
       OR p_counter IS NULL THEN
        RAISE EXCEPTION 'msisdn, key_set, kic, kid, tar and counter are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM mobisign._check_msisdn(p_msisdn);
    IF p_key_set NOT BETWEEN 1 AND 15 THEN
        RAISE EXCEPTION 'key set must be between 1 and 15' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kic_algorithm IS DISTINCT FROM 'aes-cbc' OR kid_algorithm IS DISTINCT FROM 'aes-cmac' THEN
        RAISE EXCEPTION 'unsupported OTA algorithms'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Only KIc aes-cbc and KID aes-cmac are supported.';
    END IF;
    IF length(tar) <> 3 THEN
        RAISE EXCEPTION 'TAR must be 3 bytes' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_counter NOT BETWEEN 0 AND mobisign._ota_counter_max() THEN
        RAISE EXCEPTION 'counter must be between 0 and 2^40-1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    kic_w := mobisign._key_wrap(p_msisdn, p_key_set, 'kic', kic);
    kid_w := mobisign._key_wrap(p_msisdn, p_key_set, 'kid', kid);

    -- registered here, not restored: the counter is used as given (80_backup.sql)
    PERFORM mobisign._own_write(true);
    INSERT INTO mobisign.sim_key AS k (msisdn, key_set, kic_algorithm, kid_algorithm,
                                      kic_wrapped, kid_wrapped, tar, counter, response_counter)
    VALUES (p_msisdn, p_key_set, kic_algorithm, kid_algorithm, kic_w, kid_w, tar, p_counter, -1)
    ON CONFLICT ON CONSTRAINT sim_key_pkey DO UPDATE
       SET kic_algorithm = excluded.kic_algorithm, kid_algorithm = excluded.kid_algorithm,
           kic_wrapped = excluded.kic_wrapped, kid_wrapped = excluded.kid_wrapped,
           tar = excluded.tar,
           -- counters never go back: a reused counter would let old answers
           -- replay and make the SIM ("process if higher") refuse new requests;
           -- a new card with new keys accepts any higher counter just the same
           counter = GREATEST(k.counter, excluded.counter);
    PERFORM mobisign._own_write(false);

    PERFORM mobisign.audit_log('sim_key.add', 'success',
        pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'key_set', p_key_set,
            'kic_algorithm', kic_algorithm, 'kid_algorithm', kid_algorithm,
            'kic_bits', 8 * length(kic), 'kid_bits', 8 * length(kid),
            'tar', pg_catalog.encode(tar, 'hex'), 'counter', p_counter));
END
$$;

-- An SMSC link. With tls => true the worker speaks TLS (1.2 at least) and
-- verifies the SMSC's certificate against tls_ca_file only, for
-- tls_server_name (default: host); tls_cert_file and tls_key_file (PEM, the
-- key file under the key file rule) are the optional client certificate;
-- binds (1 to 10) is the number of transceiver sessions opened on the account.
-- File arguments are paths the server reads when the worker connects. The
-- rules on the TLS settings live in the table's constraints; a violation is
-- turned into its own message here, so that no error echoes the row (and
-- the password).
CREATE FUNCTION mobisign_add_smsc(name text, host text, port integer, system_id text, password text,
                                  system_type text DEFAULT '', source_addr text DEFAULT '',
                                  window_size integer DEFAULT 10, max_per_second integer DEFAULT 100,
                                  enquire_link_interval interval DEFAULT '30 s',
                                  reconnect_delay interval DEFAULT '10 s',
                                  response_timeout interval DEFAULT '10 s',
                                  tls boolean DEFAULT false,
                                  tls_ca_file text DEFAULT NULL,
                                  tls_server_name text DEFAULT NULL,
                                  tls_cert_file text DEFAULT NULL,
                                  tls_key_file text DEFAULT NULL,
                                  connect_timeout interval DEFAULT '10 s',
                                  binds integer DEFAULT 1)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- an error must not log the statement: it holds the clear keys / password
SET log_min_error_statement = panic
AS $$
DECLARE
    p_name ALIAS FOR name;
    v_id integer;
    v_constraint text;
BEGIN
    IF p_name IS NULL OR host IS NULL OR port IS NULL OR system_id IS NULL OR tls IS NULL
       OR connect_timeout IS NULL OR binds IS NULL THEN
        RAISE EXCEPTION 'name, host, port, system_id, tls, connect_timeout and binds are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM mobisign._check_input('name', p_name);
    PERFORM mobisign._check_input('host', host);
    -- checked here so that a CHECK violation never echoes the row (and the
    -- password) in an error detail
    IF length(coalesce(password, '')) > 8 THEN
        RAISE EXCEPTION 'SMPP password must have at most 8 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF length(system_id) > 15 OR length(coalesce(system_type, '')) > 12
       OR length(coalesce(source_addr, '')) > 20 THEN
        RAISE EXCEPTION 'system_id, system_type or source_addr too long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'SMPP 3.4 allows 15, 12 and 20 characters.';
    END IF;
    IF port NOT BETWEEN 1 AND 65535 OR window_size NOT BETWEEN 1 AND 1000
       OR max_per_second NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'port, window_size or max_per_second out of range'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF enquire_link_interval <= '0' OR reconnect_delay < '0' OR response_timeout <= '0' THEN
        RAISE EXCEPTION 'intervals must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        INSERT INTO mobisign.smsc AS s (name, host, port, system_id, password, system_type, source_addr,
                                       window_size, max_per_second, enquire_link_interval,
                                       reconnect_delay, response_timeout, tls, tls_ca_file,
                                       tls_server_name, tls_cert_file, tls_key_file, connect_timeout, binds)
        VALUES (p_name, host, port, system_id, coalesce(password, ''), coalesce(system_type, ''),
                coalesce(source_addr, ''), window_size, max_per_second, enquire_link_interval,
                reconnect_delay, response_timeout, tls, tls_ca_file, tls_server_name, tls_cert_file,
                tls_key_file, connect_timeout, binds)
        ON CONFLICT ON CONSTRAINT smsc_name_key DO UPDATE
           SET host = excluded.host, port = excluded.port, system_id = excluded.system_id,
               password = excluded.password, system_type = excluded.system_type,
               source_addr = excluded.source_addr, window_size = excluded.window_size,
               max_per_second = excluded.max_per_second,
               enquire_link_interval = excluded.enquire_link_interval,
               reconnect_delay = excluded.reconnect_delay, response_timeout = excluded.response_timeout,
               tls = excluded.tls, tls_ca_file = excluded.tls_ca_file,
               tls_server_name = excluded.tls_server_name, tls_cert_file = excluded.tls_cert_file,
               tls_key_file = excluded.tls_key_file, connect_timeout = excluded.connect_timeout,
               binds = excluded.binds
        RETURNING s.id INTO v_id;
    EXCEPTION WHEN check_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        CASE v_constraint
            WHEN 'smsc_tls_needs_ca' THEN
                RAISE EXCEPTION 'tls_ca_file is required when tls is on'
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'The worker verifies the SMSC''s certificate against the CA certificates of that file only.',
                          HINT = 'Give the path of a PEM file, readable by the server, holding the CA that issued the SMSC''s certificate.';
            WHEN 'smsc_tls_settings_need_tls' THEN
                RAISE EXCEPTION 'tls_ca_file, tls_server_name, tls_cert_file and tls_key_file apply only with tls => true'
                    USING ERRCODE = 'invalid_parameter_value';
            WHEN 'smsc_tls_client_pair' THEN
                RAISE EXCEPTION 'tls_cert_file and tls_key_file must be given together'
                    USING ERRCODE = 'invalid_parameter_value';
            WHEN 'smsc_tls_server_name_check' THEN
                RAISE EXCEPTION 'tls_server_name must be a DNS name or an IP address'
                    USING ERRCODE = 'invalid_parameter_value';
            WHEN 'smsc_connect_timeout_check' THEN
                RAISE EXCEPTION 'intervals must be positive' USING ERRCODE = 'invalid_parameter_value';
            WHEN 'smsc_binds_check' THEN
                RAISE EXCEPTION 'binds must be between 1 and 10'
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'The worker opens that many transceiver sessions on the account, each with its own window_size and max_per_second.';
            ELSE
                RAISE EXCEPTION 'invalid SMSC setting (constraint %)', v_constraint
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = 'File paths have 1 to 1023 bytes.';
        END CASE;
    END;

    PERFORM mobisign.audit_log('smsc.add', 'success',
        pg_catalog.jsonb_build_object('smsc_id', v_id, 'name', p_name, 'host', host, 'port', port,
            'system_id', system_id, 'system_type', system_type, 'window_size', window_size,
            'max_per_second', max_per_second, 'tls', tls, 'tls_ca_file', tls_ca_file,
            'tls_server_name', tls_server_name, 'tls_cert_file', tls_cert_file,
            'tls_key_file', tls_key_file, 'connect_timeout', connect_timeout, 'binds', binds));
    PERFORM mobisign._wake_worker();
    RETURN v_id;
END
$$;

-- The administration API to mobisign_admin, nothing to PUBLIC
REVOKE ALL ON FUNCTION
    mobisign_register_user(text, text, text, bytea, text),
    mobisign_add_sim_key(text, integer, bytea, bytea, bytea, text, text, bigint),
    mobisign_add_smsc(text, text, integer, text, text, text, text, integer, integer, interval, interval, interval,
                      boolean, text, text, text, text, interval, integer)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    mobisign_register_user(text, text, text, bytea, text),
    mobisign_add_sim_key(text, integer, bytea, bytea, bytea, text, text, bigint),
    mobisign_add_smsc(text, text, integer, text, text, text, text, integer, integer, interval, interval, interval,
                      boolean, text, text, text, text, interval, integer)
TO mobisign_admin;
