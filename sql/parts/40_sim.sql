-- The SIM channel (docs/sim-channel.md): registration of users, SIM keys and SMSC links;
-- the application API (authenticate, sign, status, wait, cancel, verify);
-- the internal functions the background worker calls.
--
-- Status codes travel in errors as SQLSTATE 'MS' || code (MS103, MS105,
-- MS406...), see docs/sim-channel.md. Clear SIM keys are never stored or
-- logged: they are wrapped (AES-256-GCM) with the master key from
-- mobisign.master_key_file by the C helpers in extension/keystore.c.

-- The application may cancel a pending transaction. TS 102 204 has no code
-- for a cancel by the application (401 is the user declining on the phone).
INSERT INTO mobisign.status_code VALUES
    (410, 'REQUEST_CANCELLED', true, 'the application cancelled the transaction before an answer')
ON CONFLICT DO NOTHING;

-- Answers that cannot be matched by reference (a PoR error, garbage) are
-- matched to the SIM's open transaction by MSISDN.
CREATE INDEX transaction_open_msisdn ON mobisign.transaction (msisdn)
    WHERE state IN ('queued', 'submitted', 'delivered');

------------------------------------------------------------------------------
-- C helpers (internal: not granted to anyone)
------------------------------------------------------------------------------

CREATE FUNCTION mobisign._random_bytes(n integer)
RETURNS bytea
AS 'MODULE_PATHNAME', 'ms_random_bytes'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._verification_code()
RETURNS text
AS 'MODULE_PATHNAME', 'ms_verification_code'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._key_wrap(msisdn text, key_set integer, role text, key bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'ms_key_wrap_sql'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._key_check(msisdn text, key_set integer, role text, wrapped bytea)
RETURNS integer
AS 'MODULE_PATHNAME', 'ms_key_check_sql'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._display_check(display_text text, OUT fits boolean, OUT coding text,
                                        OUT units integer, OUT max_units integer, OUT problem text,
                                        OUT hint text)
RETURNS record
AS 'MODULE_PATHNAME', 'ms_display_check'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._build_request(msisdn text, key_set integer, counter bigint, tar bytea,
                                        kic_wrapped bytea, kid_wrapped bytea, reference bytea,
                                        kind text, data bytea, display_text text,
                                        verification_code text, expires_at timestamptz)
RETURNS bytea[]
AS 'MODULE_PATHNAME', 'ms_build_request'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._open_response(msisdn text, key_set integer, tar bytea,
                                        kic_wrapped bytea, kid_wrapped bytea, segments bytea[],
                                        OUT stage text, OUT failure text, OUT counter bigint,
                                        OUT por_status integer, OUT reference bytea,
                                        OUT result integer, OUT result_name text, OUT cms bytea)
RETURNS record
AS 'MODULE_PATHNAME', 'ms_open_response'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._verify_answer(cms bytea, content bytea, certificate bytea, pki text,
                                        kind text, intermediates bytea[],
                                        OUT valid boolean, OUT status_code integer, OUT reason text,
                                        OUT signer_subject text, OUT signer_fingerprint bytea,
                                        OUT signing_time timestamptz, OUT pki_name text,
                                        OUT chain text[], OUT evidence jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'ms_verify_answer'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._wait_final(transaction_id uuid, timeout interval)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ms_wait_final'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._wake_worker()
RETURNS void
AS 'MODULE_PATHNAME', 'ms_wake_worker'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

-- ERROR 55000 with a hint when no background worker can send requests
-- (mobisign not in shared_preload_libraries)
CREATE FUNCTION mobisign._require_worker()
RETURNS void
AS 'MODULE_PATHNAME', 'ms_require_worker'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

------------------------------------------------------------------------------
-- Internal SQL helpers
------------------------------------------------------------------------------

-- Who may have signed a transaction's answer: its registered certificate,
-- or else the candidates recorded at request time (several certificates in
-- a directory entry; the answer's signer identifier picks one).
CREATE FUNCTION mobisign._expected_signers(p_fingerprint bytea, p_evidence jsonb,
                                           OUT certificate bytea, OUT candidates bytea[])
RETURNS record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (SELECT c.der FROM mobisign.certificate c WHERE c.fingerprint = p_fingerprint),
           CASE WHEN p_fingerprint IS NULL THEN
               (SELECT pg_catalog.array_agg(c.der) FROM mobisign.certificate c
                 WHERE c.fingerprint IN (SELECT pg_catalog.decode(x, 'hex')
                                           FROM pg_catalog.jsonb_array_elements_text(
                                                    p_evidence->'candidate_certificates') x))
           END
$$;

-- Raise an error carrying a TS 102 204 status code as SQLSTATE MSnnn.
CREATE FUNCTION mobisign._raise_status(code integer, message text, detail text DEFAULT NULL,
                                       hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sname text;
BEGIN
    SELECT s.name INTO sname FROM mobisign.status_code s WHERE s.code = _raise_status.code;
    RAISE EXCEPTION 'status % %: %', code, coalesce(sname, 'UNKNOWN'), message
        USING ERRCODE = 'MS' || lpad(code::text, 3, '0'),
              DETAIL = coalesce(detail, ''),
              HINT = coalesce(hint, '');
END
$$;

-- May the session user see this transaction? Its own (app_role), or a superuser.
CREATE FUNCTION mobisign._may_see(app_role name)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT app_role = session_user
        OR coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user), false)
$$;

-- Make an open transaction final: state, status, completion time, queue row
-- done, one audit row and the NOTIFY. Returns false (and does nothing) when
-- the transaction is already final: a second answer, a late cancel or a
-- duplicate end here, so there is exactly one final state and one NOTIFY.
CREATE FUNCTION mobisign._finish(p_id uuid, p_state text, p_status integer, p_reason text,
                                 p_detail jsonb DEFAULT '{}',
                                 p_signature bytea DEFAULT NULL,
                                 p_signer_fingerprint bytea DEFAULT NULL,
                                 p_signer_subject text DEFAULT NULL,
                                 p_evidence jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t     mobisign.transaction;
    sname text;
BEGIN
    UPDATE mobisign.transaction tr
       SET state = p_state,
           status_code = p_status,
           reason = p_reason,
           completed_at = pg_catalog.now(),
           signature = coalesce(p_signature, tr.signature),
           signer_fingerprint = coalesce(p_signer_fingerprint, tr.signer_fingerprint),
           signer_subject = coalesce(p_signer_subject, tr.signer_subject),
           evidence = coalesce(p_evidence, tr.evidence)
     WHERE tr.id = p_id
       AND tr.state IN ('queued', 'submitted', 'delivered')
    RETURNING * INTO t;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE mobisign.request_queue q SET done = true, lease_until = NULL
     WHERE q.transaction_id = p_id AND NOT q.done;
    SELECT s.name INTO sname FROM mobisign.status_code s WHERE s.code = p_status;
    PERFORM mobisign.audit_log('transaction.' || p_state, sname,
        coalesce(p_detail, '{}') || pg_catalog.jsonb_build_object(
            'kind', t.kind, 'user_id', t.user_id, 'state', p_state,
            'status', p_status, 'status_name', sname, 'reason', p_reason,
            'signer_subject', t.signer_subject),
        p_id, t.application);
    PERFORM pg_catalog.pg_notify('mobisign', pg_catalog.jsonb_build_object(
        'transaction_id', p_id, 'status', p_status, 'status_name', sname)::text);
    RETURN true;
END
$$;

------------------------------------------------------------------------------
-- Administration (mobisign_admin)
------------------------------------------------------------------------------

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
    IF p_msisdn !~ '^\+?[0-9]{5,15}$' THEN
        RAISE EXCEPTION 'invalid MSISDN'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An MSISDN is 5 to 15 digits in international format, optionally with a leading "+".';
    END IF;
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
    IF p_msisdn !~ '^\+?[0-9]{5,15}$' THEN
        RAISE EXCEPTION 'invalid MSISDN'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An MSISDN is 5 to 15 digits in international format, optionally with a leading "+".';
    END IF;
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
    IF p_counter NOT BETWEEN 0 AND 1099511627775 THEN
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
-- key file under the key file rule) are the optional client certificate.
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
                                  connect_timeout interval DEFAULT '10 s')
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
       OR connect_timeout IS NULL THEN
        RAISE EXCEPTION 'name, host, port, system_id, tls and connect_timeout are required'
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
                                       tls_server_name, tls_cert_file, tls_key_file, connect_timeout)
        VALUES (p_name, host, port, system_id, coalesce(password, ''), coalesce(system_type, ''),
                coalesce(source_addr, ''), window_size, max_per_second, enquire_link_interval,
                reconnect_delay, response_timeout, tls, tls_ca_file, tls_server_name, tls_cert_file,
                tls_key_file, connect_timeout)
        ON CONFLICT ON CONSTRAINT smsc_name_key DO UPDATE
           SET host = excluded.host, port = excluded.port, system_id = excluded.system_id,
               password = excluded.password, system_type = excluded.system_type,
               source_addr = excluded.source_addr, window_size = excluded.window_size,
               max_per_second = excluded.max_per_second,
               enquire_link_interval = excluded.enquire_link_interval,
               reconnect_delay = excluded.reconnect_delay, response_timeout = excluded.response_timeout,
               tls = excluded.tls, tls_ca_file = excluded.tls_ca_file,
               tls_server_name = excluded.tls_server_name, tls_cert_file = excluded.tls_cert_file,
               tls_key_file = excluded.tls_key_file, connect_timeout = excluded.connect_timeout
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
            'tls_key_file', tls_key_file, 'connect_timeout', connect_timeout));
    PERFORM mobisign._wake_worker();
    RETURN v_id;
END
$$;

------------------------------------------------------------------------------
-- Application API (mobisign_app)
------------------------------------------------------------------------------

-- Queue one request: the common part of mobisign_authenticate and mobisign_sign.
CREATE FUNCTION mobisign._request(p_kind text, p_user text, p_data bytea, p_display text,
                                  p_application text, p_timeout interval,
                                  OUT transaction_id uuid, OUT verification_code text)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u       mobisign.app_user;
    k       mobisign.sim_key;
    chk     record;
    v_ref   bytea;
    v_ctr   bigint;
    v_exp   timestamptz;
    v_segs  bytea[];
    v_con   text;
    who     record;
    v_cand  jsonb;
    v_max   interval;
BEGIN
    PERFORM mobisign._require_worker();
    IF p_user IS NULL THEN
        PERFORM mobisign._raise_status(102, 'user_id is missing');
    END IF;
    -- every argument is bounded before it is used, stored or audited
    PERFORM mobisign._check_input('user_id', p_user);
    PERFORM mobisign._check_input('application', p_application);
    PERFORM mobisign._check_input(CASE p_kind WHEN 'sign' THEN 'text_to_sign' ELSE 'message' END,
                                  p_display);
    -- one open request per user: no application may hold a user for long
    v_max := mobisign._max_timeout();
    IF p_timeout IS NULL OR p_timeout < '1 s' OR p_timeout > v_max THEN
        PERFORM mobisign._raise_status(101,
            pg_catalog.format('timeout must be between 1 second and %s', v_max),
            pg_catalog.format('The timeout given is %s; mobisign.max_timeout is %s.',
                              coalesce(p_timeout::text, 'NULL'), v_max),
            'Ask for a shorter timeout. Only a superuser can change mobisign.max_timeout.');
    END IF;
    IF p_kind = 'sign' THEN
        -- what you see is what you sign: the SIM signs the UTF-8 form of the text it shows
        p_data := pg_catalog.convert_to(p_display, 'UTF8');
    ELSIF p_display IS NULL THEN
        p_display := 'Log in to ' || coalesce(p_application, 'the service') || '?';
    END IF;

    -- the register first (a suspended user is refused), then the directories,
    -- then the register's certificate URL (mobisign._resolve_user)
    SELECT * INTO u FROM mobisign.app_user a WHERE a.user_id = p_user;
    IF FOUND AND u.status <> 'active' THEN
        PERFORM mobisign._raise_status(105, pg_catalog.format('user "%s" is suspended', p_user),
            'A suspended user cannot authenticate or sign.');
    END IF;
    SELECT * INTO who FROM mobisign._resolve_user(p_user) LIMIT 1;
    IF NOT FOUND THEN
        PERFORM mobisign.audit_log('transaction.refused', 'UNKNOWN_CLIENT',
            pg_catalog.jsonb_build_object('kind', p_kind, 'user_id', p_user, 'status', 105),
            NULL, p_application);
        PERFORM mobisign._raise_status(105, pg_catalog.format('unknown user "%s"', p_user),
            'The user is neither in the register nor in a directory.',
            'Register the user with mobisign_register_user().');
    END IF;
    IF who.msisdn IS NULL THEN
        PERFORM mobisign._raise_status(102, pg_catalog.format('no MSISDN is known for user "%s"', p_user),
            pg_catalog.format('The user was found in %s without a mobile number.', who.source));
    END IF;
    IF who.msisdn !~ '^\+?[0-9]{5,15}$' THEN
        -- a directory's "mobile" attribute is free text: never send to it unchecked
        PERFORM mobisign._raise_status(101, pg_catalog.format('the mobile number of user "%s" is not an MSISDN', p_user),
            pg_catalog.format('The user was found in %s with mobile number "%s"; 5 to 15 digits in international format are expected.',
                              coalesce(who.directory, who.source), who.msisdn));
    END IF;
    IF coalesce(pg_catalog.cardinality(who.fingerprints), 0) = 0 THEN
        PERFORM mobisign._raise_status(422, pg_catalog.format('no certificate is known for user "%s"', p_user),
            pg_catalog.format('The user was found in %s without a certificate.', who.source));
    END IF;
    IF who.pki_id IS NULL THEN
        -- one PKI's anchors never vouch for another's users: no guessing
        PERFORM mobisign._raise_status(422, pg_catalog.format('no PKI is configured for user "%s"', p_user),
            pg_catalog.format('The user was found in %s, which names no PKI.', coalesce(who.directory, who.source)),
            'Give the directory its PKI: mobisign_add_directory(..., pki => ''name'').');
    END IF;
    u.msisdn := who.msisdn;
    u.pki_id := who.pki_id;
    IF pg_catalog.cardinality(who.fingerprints) = 1 THEN
        u.certificate_fingerprint := who.fingerprints[1];
    ELSE
        -- several certificates (a directory entry): the answer's signer
        -- identifier picks one of them, and only one of them
        u.certificate_fingerprint := NULL;
        v_cand := pg_catalog.jsonb_build_object('candidate_certificates',
            (SELECT pg_catalog.jsonb_agg(pg_catalog.encode(f, 'hex')) FROM pg_catalog.unnest(who.fingerprints) f));
    END IF;

    -- the one check of what the SIM will show (extension/sim_request.c and
    -- the codec's msc_display_encode, which _build_request runs again)
    SELECT * INTO chk FROM mobisign._display_check(p_display);
    IF NOT chk.fits THEN
        PERFORM mobisign._raise_status(103,
            CASE WHEN chk.units > chk.max_units THEN 'the display text does not fit the SIM''s screen'
                 ELSE 'the display text cannot be shown on the SIM' END,
            CASE WHEN chk.units > chk.max_units
                 THEN pg_catalog.format('The text needs %s %s; the screen holds %s.', chk.units,
                          CASE chk.coding WHEN 'gsm7' THEN 'GSM 7-bit septets' ELSE 'UCS-2 characters' END,
                          chk.max_units)
                 ELSE pg_catalog.upper(pg_catalog.left(chk.problem, 1)) || pg_catalog.substr(chk.problem, 2) || '.' END,
            chk.hint);
    END IF;

    -- the SIM's key set: locked, its counter incremented, in this transaction
    SELECT * INTO k FROM mobisign.sim_key s WHERE s.msisdn = u.msisdn
     ORDER BY s.key_set LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no SIM key set is registered for the MSISDN of user "%"', p_user
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register the SIM''s OTA keys with mobisign_add_sim_key().';
    END IF;
    -- the 5-byte OTA counter is exhausted: the SIM needs new keys (checked
    -- here so that no CHECK violation echoes the key row to the caller)
    IF k.counter >= 1099511627775 THEN
        RAISE EXCEPTION 'the OTA counter of the SIM of user "%" is exhausted', p_user
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Give the SIM a new key set and register it with mobisign_add_sim_key().';
    END IF;
    UPDATE mobisign.sim_key s SET counter = s.counter + 1
     WHERE s.msisdn = k.msisdn AND s.key_set = k.key_set
    RETURNING s.counter INTO v_ctr;

    v_ref := mobisign._random_bytes(8);
    verification_code := mobisign._verification_code();
    v_exp := pg_catalog.now() + p_timeout;

    PERFORM mobisign._own_write(true);     -- a new transaction, not a restored one
    BEGIN
        INSERT INTO mobisign.transaction AS t (kind, application, user_id, msisdn, reference, data,
                                              data_hash, display_text, verification_code,
                                              pki_id, certificate_fingerprint, sim_key_set,
                                              counter, expires_at, evidence)
        VALUES (p_kind, p_application, p_user, u.msisdn, v_ref, p_data, pg_catalog.sha256(p_data),
                p_display, verification_code, u.pki_id, u.certificate_fingerprint, k.key_set,
                v_ctr, v_exp, v_cand)
        RETURNING t.id INTO transaction_id;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        IF v_con = 'transaction_one_open_per_user' THEN
            -- the same words whoever made the open request: nothing about
            -- other applications, their labels or their transactions
            PERFORM mobisign._raise_status(406,
                pg_catalog.format('a request for user "%s" is in progress', p_user),
                'Only one authentication or signature per user may be pending at a time.',
                pg_catalog.format('Try again later: a request ends within mobisign.max_timeout (%s).', v_max));
        END IF;
        RAISE;
    END;
    PERFORM mobisign._own_write(false);

    v_segs := mobisign._build_request(msisdn => u.msisdn, key_set => k.key_set,
                                      counter => v_ctr, tar => k.tar,
                                      kic_wrapped => k.kic_wrapped,
                                      kid_wrapped => k.kid_wrapped, reference => v_ref,
                                      kind => p_kind, data => p_data,
                                      display_text => p_display,
                                      verification_code => verification_code,
                                      expires_at => v_exp);
    INSERT INTO mobisign.request_queue (transaction_id, msisdn, segments)
    VALUES (transaction_id, u.msisdn, v_segs);

    PERFORM mobisign.audit_log('sim_key.use', 'success',
        pg_catalog.jsonb_build_object('msisdn', u.msisdn, 'key_set', k.key_set, 'counter', v_ctr),
        transaction_id, p_application);
    PERFORM mobisign.audit_log('transaction.queued', 'REQUEST_OK',
        pg_catalog.jsonb_build_object('kind', p_kind, 'user_id', p_user, 'msisdn', u.msisdn,
            'reference', pg_catalog.encode(v_ref, 'hex'),
            'data_sha256', pg_catalog.encode(pg_catalog.sha256(p_data), 'hex'),
            'user_source', who.source, 'directory', who.directory,
            'display_coding', chk.coding, 'display_units', chk.units,
            'segments', pg_catalog.cardinality(v_segs), 'expires_at', v_exp),
        transaction_id, p_application);
    PERFORM mobisign._wake_worker();
END
$$;

CREATE FUNCTION mobisign_authenticate(user_id text, application text DEFAULT NULL,
                                      timeout interval DEFAULT '2 min', message text DEFAULT NULL,
                                      OUT transaction_id uuid, OUT verification_code text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    -- message NULL: "Log in to <application>?" (mobisign._request)
    SELECT * INTO r FROM mobisign._request('authenticate', mobisign_authenticate.user_id,
        mobisign._random_bytes(32), message, application, timeout);
    transaction_id := r.transaction_id;
    verification_code := r.verification_code;
END
$$;

CREATE FUNCTION mobisign_sign(user_id text, text_to_sign text, application text DEFAULT NULL,
                              timeout interval DEFAULT '3 min',
                              OUT transaction_id uuid, OUT verification_code text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    IF text_to_sign IS NULL THEN
        PERFORM mobisign._raise_status(102, 'text_to_sign is missing');
    END IF;
    IF text_to_sign = '' THEN
        PERFORM mobisign._raise_status(103, 'text_to_sign is empty');
    END IF;
    -- the data signed is the text shown, in UTF-8 (mobisign._request)
    SELECT * INTO r FROM mobisign._request('sign', mobisign_sign.user_id, NULL, text_to_sign,
                                           application, timeout);
    transaction_id := r.transaction_id;
    verification_code := r.verification_code;
END
$$;

-- What mobisign_status() and mobisign_wait() return.
CREATE TYPE mobisign.transaction_status AS (
    transaction_id uuid, kind text, state text, status_code integer, status_name text,
    reason text, signer_subject text, created_at timestamptz, submitted_at timestamptz,
    completed_at timestamptz, expires_at timestamptz);

-- The status of a transaction the session user may see (else: does not exist).
CREATE FUNCTION mobisign._status(p_transaction_id uuid)
RETURNS mobisign.transaction_status
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t mobisign.transaction;
    r mobisign.transaction_status;
BEGIN
    SELECT * INTO t FROM mobisign.transaction tr WHERE tr.id = p_transaction_id;
    IF NOT FOUND OR NOT mobisign._may_see(t.app_role) THEN
        RAISE EXCEPTION 'transaction % does not exist', p_transaction_id
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT t.id, t.kind, t.state, t.status_code, s.name, t.reason, t.signer_subject,
           t.created_at, t.submitted_at, t.completed_at, t.expires_at
      INTO r
      FROM mobisign.status_code s WHERE s.code = t.status_code;
    RETURN r;
END
$$;

-- (transaction_id, kind, state, status_code, status_name, reason,
--  signer_subject, created_at, submitted_at, completed_at, expires_at)
CREATE FUNCTION mobisign_status(transaction_id uuid)
RETURNS mobisign.transaction_status
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM mobisign._status($1)
$$;

-- Block until the transaction is final or the timeout passes (see sim_wait.c).
CREATE FUNCTION mobisign._wait(p_transaction_id uuid, p_timeout interval)
RETURNS mobisign.transaction_status
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_timeout IS NULL OR p_timeout < '0' THEN
        PERFORM mobisign._raise_status(101, 'timeout must be zero or positive');
    END IF;
    PERFORM mobisign._status(p_transaction_id);    -- existence and visibility
    PERFORM mobisign._wait_final(p_transaction_id, p_timeout);
    RETURN mobisign._status(p_transaction_id);     -- a fresh snapshot
END
$$;

-- the same columns as mobisign_status(), once final or at the timeout
CREATE FUNCTION mobisign_wait(transaction_id uuid, timeout interval DEFAULT '2 min')
RETURNS mobisign.transaction_status
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM mobisign._wait($1, $2)
$$;

CREATE FUNCTION mobisign_cancel(transaction_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t mobisign.transaction;
    p_id uuid := $1;
BEGIN
    SELECT * INTO t FROM mobisign.transaction tr WHERE tr.id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT mobisign._may_see(t.app_role) THEN
        RAISE EXCEPTION 'transaction % does not exist', p_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF t.state NOT IN ('queued', 'submitted', 'delivered') THEN
        PERFORM mobisign.audit_log('transaction.cancel', 'ignored',
            pg_catalog.jsonb_build_object('state', t.state, 'reason', 'the transaction is already final'),
            p_id, t.application);
        RETURN false;
    END IF;
    RETURN mobisign._finish(p_id, 'cancelled', 410, 'cancelled by the application',
        pg_catalog.jsonb_build_object('cancelled_by', session_user));
END
$$;

-- Re-verify a transaction's stored signature with the current PKI state.
CREATE FUNCTION mobisign._verify_transaction(p_transaction_id uuid,
                                OUT transaction_id uuid, OUT valid boolean, OUT status_code integer,
                                OUT status_name text, OUT reason text, OUT signer_subject text,
                                OUT signing_time timestamptz, OUT pki text, OUT chain text[],
                                OUT evidence jsonb, OUT checked_at timestamptz)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t      mobisign.transaction;
    p_id   uuid := $1;
    es     record;
    v_pki  text;
    v      record;
BEGIN
    SELECT * INTO t FROM mobisign.transaction tr WHERE tr.id = p_id;
    IF NOT FOUND OR NOT mobisign._may_see(t.app_role) THEN
        RAISE EXCEPTION 'transaction % does not exist', p_id
            USING ERRCODE = 'no_data_found';
    END IF;
    transaction_id := t.id;
    checked_at := pg_catalog.clock_timestamp();
    SELECT k.name INTO v_pki FROM mobisign.pki k WHERE k.id = t.pki_id;
    pki := v_pki;
    IF t.signature IS NULL THEN
        valid := false;
        status_code := t.status_code;
        SELECT s.name INTO status_name FROM mobisign.status_code s WHERE s.code = t.status_code;
        reason := 'no signature was recorded for this transaction (state ' || t.state || ')';
        RETURN;
    END IF;
    -- the same rules as when the answer arrived: the registered certificate
    -- (or the candidates), never the signer the answer named
    SELECT * INTO es FROM mobisign._expected_signers(t.certificate_fingerprint, t.evidence);
    SELECT * INTO v FROM mobisign._verify_answer(t.signature, t.data, es.certificate, v_pki, t.kind,
                                                  es.candidates);
    valid := v.valid;
    status_code := v.status_code;
    SELECT s.name INTO status_name FROM mobisign.status_code s WHERE s.code = v.status_code;
    reason := v.reason;
    signer_subject := v.signer_subject;
    signing_time := v.signing_time;
    pki := coalesce(v.pki_name, v_pki);
    chain := v.chain;
    evidence := v.evidence;
    PERFORM mobisign.audit_log('transaction.reverify', status_name,
        pg_catalog.jsonb_build_object('valid', valid, 'status', status_code, 'reason', reason,
            'signer_subject', signer_subject),
        p_id, t.application);
END
$$;

CREATE FUNCTION mobisign_verify(transaction_id uuid,
                                OUT transaction_id uuid, OUT valid boolean, OUT status_code integer,
                                OUT status_name text, OUT reason text, OUT signer_subject text,
                                OUT signing_time timestamptz, OUT pki text, OUT chain text[],
                                OUT evidence jsonb, OUT checked_at timestamptz)
RETURNS record
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM mobisign._verify_transaction($1)
$$;

------------------------------------------------------------------------------
-- Called by the background worker (internal: not granted to anyone)
------------------------------------------------------------------------------

-- The queue row was sent: the SMSC accepted every segment.
CREATE FUNCTION mobisign._mark_submitted(transaction_id uuid, message_ids text[])
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_id uuid := $1;
    t mobisign.transaction;
BEGIN
    -- lock order everywhere: transaction row, then queue row
    UPDATE mobisign.transaction tr SET state = 'submitted', submitted_at = pg_catalog.now()
     WHERE tr.id = p_id AND tr.state = 'queued'
    RETURNING * INTO t;
    UPDATE mobisign.request_queue q
       SET smsc_message_ids = message_ids, done = true, lease_until = NULL
     WHERE q.transaction_id = p_id;
    IF t.id IS NULL THEN
        RETURN false;   -- already answered, cancelled or expired
    END IF;
    PERFORM mobisign.audit_log('transaction.submitted', 'success',
        pg_catalog.jsonb_build_object('msisdn', t.msisdn, 'message_ids', to_jsonb(message_ids)),
        p_id, t.application);
    RETURN true;
END
$$;

-- Sending failed for good (SMSC refused, delivery failed...): final state.
CREATE FUNCTION mobisign._mark_failed(transaction_id uuid, status integer, reason text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_id uuid := $1;
    p_status integer := coalesce($2, 900);
BEGIN
    IF NOT EXISTS (SELECT FROM mobisign.status_code s WHERE s.code = p_status AND s.final) THEN
        p_status := 900;
    END IF;
    RETURN mobisign._finish(p_id, 'failed', p_status, $3,
        pg_catalog.jsonb_build_object('by', 'worker'));
END
$$;

-- Open transactions past expires_at become expired (208). Batch-limited:
-- call again while it returns the batch size.
CREATE FUNCTION mobisign._expire(batch integer DEFAULT 500)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN SELECT tr.id FROM mobisign.transaction tr
              WHERE tr.state IN ('queued', 'submitted', 'delivered')
                AND tr.expires_at <= pg_catalog.now()
              ORDER BY tr.expires_at
              LIMIT batch
              FOR UPDATE SKIP LOCKED
    LOOP
        IF mobisign._finish(r.id, 'expired', 208, 'no answer before the transaction expired') THEN
            n := n + 1;
        END IF;
    END LOOP;
    -- segments of a concatenated answer that never completed (and no
    -- longer can: see mobisign._process_inbound)
    UPDATE mobisign.inbound_segment s SET processed = true
     WHERE NOT s.processed AND s.received_at < pg_catalog.now() - mobisign._segment_window();
    RETURN n;
END
$$;

-- Whether an answer that reached this stage of mobisign._open_response is
-- authentic (its cryptographic checksum verified with the SIM's keys).
CREATE FUNCTION mobisign._answer_authentic(stage text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce($1 IN ('por', 'applet', 'ok'), false) $$;

-- Open one answer (its SMS user data) with the MSISDN's key sets: the first
-- key set whose TAR it carries, else the last one tried (stage 'tar'); no
-- row when the MSISDN has no key set.
CREATE FUNCTION mobisign._open_answer(p_msisdn text, p_segments bytea[],
                                      OUT key_set integer, OUT stage text, OUT failure text,
                                      OUT counter bigint, OUT por_status integer,
                                      OUT reference bytea, OUT result integer,
                                      OUT result_name text, OUT cms bytea)
RETURNS SETOF record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k mobisign.sim_key;
BEGIN
    FOR k IN SELECT * FROM mobisign.sim_key s WHERE s.msisdn = p_msisdn ORDER BY s.key_set
    LOOP
        SELECT k.key_set, o.* INTO key_set, stage, failure, counter, por_status, reference,
               result, result_name, cms
          FROM mobisign._open_response(p_msisdn, k.key_set, k.tar, k.kic_wrapped, k.kid_wrapped,
                                       p_segments) o;
        EXIT WHEN stage <> 'tar';
    END LOOP;
    IF key_set IS NOT NULL THEN
        RETURN NEXT;
    END IF;
END
$$;

-- Act on one reassembled answer from a SIM; true when it was authentic.
-- Errors raised here are caught by mobisign._handle_answer_guarded.
CREATE FUNCTION mobisign._handle_answer(p_msisdn text, p_segments bytea[], p_segment_ids bigint[])
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k        mobisign.sim_key;
    r        record;
    t        mobisign.transaction;
    v        record;
    es       record;
    v_pki    text;
    v_status integer;
    v_state  text;
    v_base   jsonb;
    found_k  boolean := false;
    found_t  boolean;
    v_stage  text;
    v_fail   text;
    v_por    integer;
BEGIN
    v_base := pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segments', pg_catalog.cardinality(p_segments),
                                            'segment_ids', to_jsonb(p_segment_ids));
    PERFORM FROM mobisign.sim_key s WHERE s.msisdn = p_msisdn FOR UPDATE;
    SELECT * INTO r FROM mobisign._open_answer(p_msisdn, p_segments);
    found_k := FOUND;
    IF found_k THEN
        SELECT * INTO k FROM mobisign.sim_key s WHERE s.msisdn = p_msisdn AND s.key_set = r.key_set;
        v_stage := r.stage;
        v_fail := r.failure;
        v_por := r.por_status;
    END IF;

    IF NOT found_k OR NOT mobisign._answer_authentic(v_stage) THEN
        -- not authentic (no cryptographic checksum that verifies with the
        -- SIM's keys): anyone who can send an SMS with this MSISDN as its
        -- originator can forge it, e.g. an unsecured PoR "CC failed".  It
        -- is audited and acts on nothing: no transaction ends because of it
        -- (that would let a forged SMS cancel any user's transaction); the
        -- open transaction still accepts its authentic answer, or expires.
        PERFORM mobisign.audit_log('sim.answer', 'rejected',
            v_base || pg_catalog.jsonb_build_object('stage', coalesce(v_stage, 'no key set'),
                'reason', coalesce(v_fail, 'no SIM key set is registered for this MSISDN'),
                'por_status', v_por, 'acted', false));
        RETURN false;
    END IF;

    -- authentic.  A proof of receipt "counter low" (status 02) for a request
    -- that was sent more than once means the SIM got the same packet twice:
    -- the worker re-sends a request whose first delivery it could not confirm
    -- (response timeout, dropped link, crash) with the same counter.  The
    -- first copy's answer is the one that counts: note the duplicate, act on
    -- nothing, and leave the counter alone.  For a request sent once, "counter
    -- low" is the SIM's refusal like any other status (below).
    IF r.stage = 'por' AND r.por_status = 2 AND EXISTS (
           SELECT FROM mobisign.transaction tr JOIN mobisign.request_queue q ON q.transaction_id = tr.id
            WHERE tr.msisdn = p_msisdn AND tr.sim_key_set = k.key_set AND tr.counter = r.counter
              AND q.attempts > 1) THEN
        PERFORM mobisign.audit_log('sim.answer', 'duplicate delivery',
            v_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', r.counter,
                'por_status', r.por_status, 'reason', r.failure));
        RETURN true;
    END IF;

    -- the counter must be higher than any accepted before
    IF r.counter <= k.response_counter THEN
        PERFORM mobisign.audit_log('sim.answer', 'replay refused',
            v_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', r.counter,
                'highest_accepted', k.response_counter,
                'reference', pg_catalog.encode(r.reference, 'hex')));
        RETURN true;
    END IF;
    UPDATE mobisign.sim_key s SET response_counter = r.counter
     WHERE s.msisdn = k.msisdn AND s.key_set = k.key_set;

    IF r.stage IN ('por', 'applet') THEN
        -- the SIM refused our packet (an authentic proof of receipt with a
        -- status other than 00: counter low or high, blocked, security
        -- error...), or its answer is undecodable: the request it answers is
        -- the one sent with this counter, and it ends now (209) with the
        -- status in its reason
        PERFORM mobisign.audit_log('sim.answer', 'rejected',
            v_base || pg_catalog.jsonb_build_object('stage', r.stage, 'reason', r.failure,
                'key_set', k.key_set, 'counter', r.counter, 'por_status', r.por_status));
        SELECT * INTO t FROM mobisign.transaction tr
         WHERE tr.msisdn = p_msisdn AND tr.sim_key_set = k.key_set AND tr.counter = r.counter
           AND tr.state IN ('queued', 'submitted', 'delivered')
         FOR UPDATE;
        IF FOUND THEN
            PERFORM mobisign._finish(t.id, 'failed', 209, r.failure,
                pg_catalog.jsonb_build_object('stage', r.stage, 'por_status', r.por_status));
        END IF;
        RETURN true;
    END IF;

    -- a well-formed applet response: match the open transaction by reference
    -- (the SIM echoes the command's counter: an answer made for another
    -- request, e.g. a fresh answer with an old counter, does not match)
    SELECT * INTO t FROM mobisign.transaction tr WHERE tr.reference = r.reference FOR UPDATE;
    found_t := FOUND;
    IF NOT found_t OR t.msisdn <> p_msisdn OR t.state NOT IN ('queued', 'submitted', 'delivered')
       OR t.sim_key_set IS DISTINCT FROM k.key_set OR t.counter IS DISTINCT FROM r.counter THEN
        PERFORM mobisign.audit_log('sim.answer', 'ignored',
            v_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', r.counter,
                'reference', pg_catalog.encode(r.reference, 'hex'), 'result', r.result_name,
                'reason', CASE WHEN NOT found_t THEN 'unknown transaction reference'
                               WHEN t.msisdn <> p_msisdn THEN 'the reference belongs to another SIM'
                               WHEN t.state NOT IN ('queued', 'submitted', 'delivered')
                                    THEN 'the transaction is already ' || t.state
                               ELSE pg_catalog.format('the answer''s counter %s is not the request''s (key set %s, counter %s)',
                                                      r.counter, t.sim_key_set, t.counter) END),
            CASE WHEN found_t AND t.msisdn = p_msisdn THEN t.id END);
        RETURN true;
    END IF;
    PERFORM mobisign.audit_log('sim.answer', 'accepted',
        v_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', r.counter,
            'result', r.result_name, 'cms_bytes', length(r.cms)),
        t.id, t.application);

    IF r.result <> 0 THEN
        v_status := CASE r.result
                        WHEN 1 THEN 401     -- user cancel
                        WHEN 2 THEN 402     -- PIN blocked
                        WHEN 3 THEN 403     -- card blocked
                        WHEN 4 THEN 404     -- no key
                        WHEN 5 THEN 406     -- SIM error
                        WHEN 6 THEN 209     -- the SIM refused the request signature
                        WHEN 7 THEN 209     -- the SIM saw the request expired
                        ELSE 406 END;
        PERFORM mobisign._finish(t.id, 'failed', v_status, 'the SIM answered: ' || r.result_name,
            pg_catalog.jsonb_build_object('result', r.result_name));
        RETURN true;
    END IF;

    -- OK: the CMS must verify against the registered certificate and the
    -- user's PKI, over exactly the stored challenge or text
    SELECT * INTO es FROM mobisign._expected_signers(t.certificate_fingerprint, t.evidence);
    SELECT k2.name INTO v_pki FROM mobisign.pki k2 WHERE k2.id = t.pki_id;
    SELECT * INTO v FROM mobisign._verify_answer(r.cms, t.data, es.certificate, v_pki, t.kind,
                                                  es.candidates);
    v_state := CASE WHEN v.status_code = 502 THEN 'completed' ELSE 'failed' END;
    PERFORM mobisign._finish(t.id, v_state, v.status_code,
        coalesce(v.reason, CASE WHEN v.valid THEN 'the signature is valid' END),
        pg_catalog.jsonb_build_object('valid', v.valid, 'chain', to_jsonb(v.chain),
            'signing_time', v.signing_time, 'pki', v.pki_name),
        r.cms, v.signer_fingerprint, v.signer_subject,
        coalesce(t.evidence, '{}') || coalesce(v.evidence, '{}')
            || pg_catalog.jsonb_build_object('chain', to_jsonb(v.chain),
                                             'checked_at', pg_catalog.clock_timestamp()));
    RETURN true;
END
$$;

-- How far apart the segments of one concatenated answer may arrive: a
-- segment received later than this after the first one of its set starts a
-- new set, and a set still incomplete after it can never complete.
CREATE FUNCTION mobisign._segment_window()
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT interval '2 minutes' $$;

-- How many segments of concatenated answers may wait for their set, per
-- MSISDN.  A user has one open transaction at a time and an answer is at
-- most 16 SMS, so 64 leaves room for a few answers that lost a segment;
-- beyond it the oldest are retired (anyone can send segments with this
-- MSISDN as originator: they must not grow the table or the work without
-- bound).
CREATE FUNCTION mobisign._segment_pending_max()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 64 $$;

-- Reassemble and handle every complete answer received from one MSISDN.
-- Returns the number of answers handled. Never raises for bad input: each
-- answer is handled in its own subtransaction and failures are audited.
--
-- Segments are matched on MSISDN, 8-bit (or 16-bit) reference and total.
-- A SIM's reference is only 8 bits and may come round again, and an SMS may
-- be lost: walking one reference's pending segments in arrival order, a set
-- ends where a sequence number comes again or where a segment arrives more
-- than _segment_window() after the set's first one, and the next segment
-- starts a new set.  So the segments of an answer that lost one never
-- complete (or poison) the next answer that reuses its reference: that
-- answer's set is complete by itself, and is the one handled.  An
-- incomplete set followed by a newer set of the same reference is
-- superseded: marked processed and audited (sim.answer / incomplete).
CREATE FUNCTION mobisign._process_inbound(msisdn text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_msisdn text := $1;
    g        record;
    s        record;
    n        integer := 0;
    v_auth   boolean;
    v_ids    bigint[] := '{}';
    v_sets   integer[] := '{}';
    v_set    integer := 0;
    v_ref    integer;
    v_total  integer;
    v_seqs   integer[];
    v_first  timestamptz;
    v_drop   bigint;
    v_drop_min bigint;
    v_drop_max bigint;
    grp      record;
    x        record;
    v_cids   bigint[];
    v_cuds   bytea[];
    v_have   bigint;
    v_fresh  boolean;
    v_tried  text[] := '{}';
    v_tries  integer := 0;
BEGIN
    -- one handler per MSISDN at a time
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('mobisign.inbound'),
                                            pg_catalog.hashtext(p_msisdn));
    -- a flood of segments (more pending than _segment_pending_max()): the
    -- oldest are retired unread, audited once per call
    WITH excess AS (
        SELECT i.id FROM mobisign.inbound_segment i
         WHERE i.msisdn = p_msisdn AND NOT i.processed AND i.concat_ref IS NOT NULL
         ORDER BY i.id DESC
        OFFSET mobisign._segment_pending_max()
    ), retired AS (
        UPDATE mobisign.inbound_segment i SET processed = true
          FROM excess e WHERE i.id = e.id
        RETURNING i.id
    )
    SELECT count(*), min(r.id), max(r.id) INTO v_drop, v_drop_min, v_drop_max FROM retired r;
    IF v_drop > 0 THEN
        PERFORM mobisign.audit_log('sim.answer', 'dropped',
            pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segments', v_drop,
                'first_segment_id', v_drop_min, 'last_segment_id', v_drop_max,
                'reason', pg_catalog.format('more than %s segments of concatenated answers pending',
                                            mobisign._segment_pending_max())));
    END IF;

    -- number the sets of the concatenated segments (at most
    -- _segment_pending_max() of them)
    FOR s IN SELECT i.id, i.concat_ref, i.total, i.seq, i.received_at
               FROM mobisign.inbound_segment i
              WHERE i.msisdn = p_msisdn AND NOT i.processed AND NOT i.rejected
                AND i.concat_ref IS NOT NULL
              ORDER BY i.concat_ref, i.total, i.id
    LOOP
        IF v_set = 0 OR s.concat_ref <> v_ref OR s.total <> v_total OR s.seq = ANY (v_seqs)
           OR s.received_at > v_first + mobisign._segment_window() THEN
            v_set := v_set + 1;
            v_ref := s.concat_ref;
            v_total := s.total;
            v_seqs := '{}';
            v_first := s.received_at;
        END IF;
        v_seqs := v_seqs || s.seq;
        v_ids := v_ids || s.id;
        v_sets := v_sets || v_set;
    END LOOP;

    FOR g IN
        WITH numbered AS (
            -- multi-argument unnest is FROM-clause syntax: it cannot be schema-qualified
            SELECT u.id, u.set_no FROM unnest(v_ids, v_sets) AS u(id, set_no)
        ), sets AS (
            SELECT u.set_no, i.concat_ref, i.total,
                   array_agg(i.id ORDER BY i.seq) AS ids, array_agg(i.user_data ORDER BY i.seq) AS uds,
                   min(i.id) AS first_id, count(*) AS have
              FROM numbered u JOIN mobisign.inbound_segment i ON i.id = u.id
             GROUP BY u.set_no, i.concat_ref, i.total
        ), ranked AS (
            SELECT st.*, st.set_no < max(st.set_no) OVER (PARTITION BY st.concat_ref, st.total) AS superseded
              FROM sets st
        )
        SELECT true AS complete, ARRAY[i.id] AS ids, ARRAY[i.user_data] AS uds, i.id AS first_id,
               NULL::integer AS concat_ref, 1::bigint AS total, 1::bigint AS have
          FROM mobisign.inbound_segment i
         WHERE i.msisdn = p_msisdn AND NOT i.processed AND i.concat_ref IS NULL
        UNION ALL
        SELECT r.have = r.total, r.ids, r.uds, r.first_id, r.concat_ref, r.total, r.have
          FROM ranked r
         WHERE r.have = r.total OR r.superseded
        ORDER BY first_id
        LIMIT 1000
    LOOP
        IF NOT g.complete THEN
            -- an answer that lost a segment: a newer set reuses its reference
            UPDATE mobisign.inbound_segment i SET processed = true WHERE i.id = ANY (g.ids);
            PERFORM mobisign.audit_log('sim.answer', 'incomplete',
                pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segment_ids', to_jsonb(g.ids),
                    'concat_ref', g.concat_ref, 'total', g.total, 'received', g.have,
                    'reason', 'segments missing, and a newer answer reuses the concatenation reference'));
            CONTINUE;
        END IF;
        v_auth := mobisign._handle_answer_guarded(p_msisdn, g.uds, g.ids);
        IF v_auth OR g.concat_ref IS NULL THEN
            UPDATE mobisign.inbound_segment i SET processed = true WHERE i.id = ANY (g.ids);
        ELSE
            -- complete but not authentic: a lost or spoofed segment may have
            -- taken the place of a genuine one, whose set may still come
            UPDATE mobisign.inbound_segment i SET rejected = true WHERE i.id = ANY (g.ids);
        END IF;
        n := n + 1;
    END LOOP;

    -- Recombination.  For a reference with rejected segments and newer
    -- ones, try the newest set as of each recent arrival (the newest
    -- segment of each sequence number up to it, within the window) that
    -- holds a segment not yet tried, and act on the first authentic one:
    -- so a genuine answer completes even when a segment of another answer
    -- (lost the first SMS) or a spoofed one completed a set first.  Trying
    -- is only checking the CC: nothing is audited until one is authentic.
    -- Bounded: 16 arrivals per reference, 64 tries per call.
    FOR grp IN SELECT i.concat_ref, i.total FROM mobisign.inbound_segment i
                WHERE i.msisdn = p_msisdn AND NOT i.processed AND i.concat_ref IS NOT NULL
                GROUP BY i.concat_ref, i.total
               HAVING bool_or(i.rejected) AND bool_or(NOT i.rejected)
    LOOP
        FOR x IN SELECT i.id, i.received_at FROM mobisign.inbound_segment i
                  WHERE i.msisdn = p_msisdn AND NOT i.processed
                    AND i.concat_ref = grp.concat_ref AND i.total = grp.total
                  ORDER BY i.id DESC LIMIT 16
        LOOP
            EXIT WHEN v_tries >= 64;
            SELECT array_agg(c.id ORDER BY c.seq), array_agg(c.user_data ORDER BY c.seq),
                   count(*), bool_or(NOT c.rejected)
              INTO v_cids, v_cuds, v_have, v_fresh
              FROM (SELECT DISTINCT ON (i.seq) i.id, i.seq, i.user_data, i.rejected
                      FROM mobisign.inbound_segment i
                     WHERE i.msisdn = p_msisdn AND NOT i.processed
                       AND i.concat_ref = grp.concat_ref AND i.total = grp.total
                       AND i.id <= x.id AND i.received_at >= x.received_at - mobisign._segment_window()
                     ORDER BY i.seq, i.id DESC) c;
            CONTINUE WHEN v_have <> grp.total OR NOT v_fresh
                       OR pg_catalog.array_to_string(v_cids, ',') = ANY (v_tried);
            v_tried := v_tried || pg_catalog.array_to_string(v_cids, ',');
            v_tries := v_tries + 1;
            CONTINUE WHEN NOT coalesce((SELECT mobisign._answer_authentic(o.stage)
                                          FROM mobisign._open_answer(p_msisdn, v_cuds) o), false);
            -- authentic: handle it.  The other rejected segments wait for
            -- the window's end: an authentic set may be a replayed old one,
            -- and they may still hold a segment of the genuine answer
            PERFORM mobisign._handle_answer_guarded(p_msisdn, v_cuds, v_cids);
            UPDATE mobisign.inbound_segment i SET processed = true WHERE i.id = ANY (v_cids);
            n := n + 1;
            EXIT;
        END LOOP;
    END LOOP;
    RETURN n;
END
$$;

-- mobisign._handle_answer in its own subtransaction: an unexpected error is
-- audited (sim.answer / error) and counts as handled (true).
CREATE FUNCTION mobisign._handle_answer_guarded(p_msisdn text, p_segments bytea[], p_segment_ids bigint[])
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_state text;
    v_msg   text;
BEGIN
    RETURN mobisign._handle_answer(p_msisdn, p_segments, p_segment_ids);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
    PERFORM mobisign.audit_log('sim.answer', 'error',
        pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segment_ids', to_jsonb(p_segment_ids),
            'sqlstate', v_state, 'message', v_msg));
    RETURN true;
END
$$;

------------------------------------------------------------------------------
-- Privileges: nothing to PUBLIC; the API to its roles; internals to nobody
------------------------------------------------------------------------------
REVOKE ALL ON FUNCTION
    mobisign._random_bytes(integer), mobisign._verification_code(),
    mobisign._key_wrap(text, integer, text, bytea), mobisign._key_check(text, integer, text, bytea),
    mobisign._display_check(text),
    mobisign._build_request(text, integer, bigint, bytea, bytea, bytea, bytea, text, bytea, text, text, timestamptz),
    mobisign._open_response(text, integer, bytea, bytea, bytea, bytea[]),
    mobisign._verify_answer(bytea, bytea, bytea, text, text, bytea[]),
    mobisign._wait_final(uuid, interval), mobisign._wake_worker(), mobisign._require_worker(),
    mobisign._raise_status(integer, text, text, text), mobisign._expected_signers(bytea, jsonb), mobisign._may_see(name), mobisign._status(uuid), mobisign._wait(uuid, interval), mobisign._verify_transaction(uuid),
    mobisign._finish(uuid, text, integer, text, jsonb, bytea, bytea, text, jsonb),
    mobisign._request(text, text, bytea, text, text, interval),
    mobisign._mark_submitted(uuid, text[]), mobisign._mark_failed(uuid, integer, text),
    mobisign._expire(integer), mobisign._handle_answer(text, bytea[], bigint[]),
    mobisign._process_inbound(text), mobisign._segment_window(), mobisign._segment_pending_max(),
    mobisign._handle_answer_guarded(text, bytea[], bigint[]), mobisign._open_answer(text, bytea[]),
    mobisign._answer_authentic(text),
    mobisign_register_user(text, text, text, bytea, text),
    mobisign_add_sim_key(text, integer, bytea, bytea, bytea, text, text, bigint),
    mobisign_add_smsc(text, text, integer, text, text, text, text, integer, integer, interval, interval, interval,
                      boolean, text, text, text, text, interval),
    mobisign_authenticate(text, text, interval, text),
    mobisign_sign(text, text, text, interval),
    mobisign_status(uuid), mobisign_wait(uuid, interval), mobisign_cancel(uuid),
    mobisign_verify(uuid)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    mobisign_register_user(text, text, text, bytea, text),
    mobisign_add_sim_key(text, integer, bytea, bytea, bytea, text, text, bigint),
    mobisign_add_smsc(text, text, integer, text, text, text, text, integer, integer, interval, interval, interval,
                      boolean, text, text, text, text, interval)
TO mobisign_admin;

GRANT EXECUTE ON FUNCTION
    mobisign_authenticate(text, text, interval, text),
    mobisign_sign(text, text, text, interval),
    mobisign_status(uuid), mobisign_wait(uuid, interval), mobisign_cancel(uuid),
    mobisign_verify(uuid)
TO mobisign_app;
