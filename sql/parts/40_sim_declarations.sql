-- The SIM channel, declarations: what the SIM parts (41_sim_admin,
-- 42_sim_application, 43_sim_worker, 44_sim_answers) share: the index of
-- open transactions by MSISDN, the C helpers (random bytes, verification
-- codes, key wrapping, request building, answer opening and verification,
-- waiting and waking the worker) and the SQL helpers (raising a status,
-- visibility, the one way a transaction becomes final: mobisign._finish).
--
-- Status codes travel in errors as SQLSTATE 'MS' || code (MS103, MS105,
-- MS406...), see docs/sim-channel.md. Clear SIM keys are never stored or
-- logged: they are wrapped (AES-256-GCM) with the master key from
-- mobisign.master_key_file by the C helpers in extension/keystore.c.

-- Answers that cannot be matched by reference (a PoR error, garbage) are
-- matched to the SIM's open transaction by MSISDN.
CREATE INDEX transaction_open_msisdn ON mobisign.transaction (msisdn)
    WHERE mobisign._is_open(state);

------------------------------------------------------------------------------
-- C helpers (internal: not granted to anyone)
------------------------------------------------------------------------------

CREATE FUNCTION mobisign._random_bytes(n integer)
RETURNS bytea
AS 'MODULE_PATHNAME', 'ms_random_bytes'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION mobisign._verification_code()
RETURNS text
AS 'MODULE_PATHNAME', 'ms_verification_code'
LANGUAGE C STRICT VOLATILE;

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

-- the key migration's steps (46_key_migration.sql): one key wrapped again
-- with the token's master key, and whether the master key is in a token
CREATE FUNCTION mobisign._key_rewrap(msisdn text, key_set integer, role text, wrapped bytea,
                                     from_master_key_file text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'ms_key_rewrap_sql'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._master_key_in_token()
RETURNS boolean
AS 'MODULE_PATHNAME', 'ms_master_key_in_token'
LANGUAGE C STRICT STABLE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._display_check(display_text text, OUT fits boolean, OUT coding text,
                                        OUT units integer, OUT max_units integer, OUT problem text,
                                        OUT hint text)
RETURNS record
AS 'MODULE_PATHNAME', 'ms_display_check'
LANGUAGE C STRICT IMMUTABLE;

CREATE FUNCTION mobisign._build_request(msisdn text, key_set integer, counter bigint, tar bytea,
                                        kic_wrapped bytea, kid_wrapped bytea, reference bytea,
                                        kind text, data bytea, display_text text,
                                        verification_code text, expires_at timestamptz)
RETURNS bytea[]
AS 'MODULE_PATHNAME', 'ms_build_request'
LANGUAGE C STRICT VOLATILE;

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
LANGUAGE C STRICT VOLATILE;

-- ERROR 55000 with a hint when no background worker can send requests
-- (mobisign not in shared_preload_libraries)
CREATE FUNCTION mobisign._require_worker()
RETURNS void
AS 'MODULE_PATHNAME', 'ms_require_worker'
LANGUAGE C STRICT VOLATILE;

------------------------------------------------------------------------------
-- Internal SQL helpers
------------------------------------------------------------------------------

-- Who may have signed a transaction's answer: its registered certificate,
-- or else the candidates recorded at request time (several certificates in
-- a directory entry; the answer's signer identifier picks one).
CREATE FUNCTION mobisign._expected_signers(p_fingerprint bytea, p_evidence jsonb,
                                           OUT certificate bytea, OUT candidates bytea[])
RETURNS record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL: its plans are kept (see mobisign._answer_authentic)
    SELECT c.der INTO certificate FROM mobisign.certificate c WHERE c.fingerprint = p_fingerprint;
    IF p_fingerprint IS NULL THEN
        SELECT pg_catalog.array_agg(c.der) INTO candidates FROM mobisign.certificate c
         WHERE c.fingerprint IN (SELECT pg_catalog.decode(x, 'hex')
                                   FROM pg_catalog.jsonb_array_elements_text(
                                            p_evidence->'candidate_certificates') x);
    END IF;
END
$$;

-- Raise an error carrying a TS 102 204 status code as SQLSTATE MSnnn.
CREATE FUNCTION mobisign._raise_status(code integer, message text, detail text DEFAULT NULL,
                                       hint text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'ms_raise_status_sql'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

-- May the session user see this transaction? Its own (app_role), or a superuser.
CREATE FUNCTION mobisign._may_see(app_role name)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT app_role = session_user
        OR coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user), false)
$$;

-- Make an open transaction final: state, status, completion time (the
-- moment of the decision: a verifier handles several answers per
-- transaction), queue row done, one audit row and the NOTIFY. Returns false (and does nothing) when
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
    v_kind    text;
    v_user    text;
    v_app     text;
    v_subject text;
    sname     text;
BEGIN
    -- what the audit row needs of the row, and the status's name, in the
    -- UPDATE's RETURNING (not the whole row with its data and signature, and
    -- no statement of its own for the name)
    UPDATE mobisign.transaction tr
       SET state = p_state,
           status_code = p_status,
           reason = p_reason,
           completed_at = pg_catalog.clock_timestamp(),
           signature = coalesce(p_signature, tr.signature),
           signer_fingerprint = coalesce(p_signer_fingerprint, tr.signer_fingerprint),
           signer_subject = coalesce(p_signer_subject, tr.signer_subject),
           evidence = coalesce(p_evidence, tr.evidence)
     WHERE tr.id = p_id
       AND mobisign._is_open(tr.state)
    RETURNING tr.kind, tr.user_id, tr.application, tr.signer_subject,
              (SELECT s.name FROM mobisign.status_code s WHERE s.code = p_status)
         INTO v_kind, v_user, v_app, v_subject, sname;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- the queue row of a final transaction is removed here, where the
    -- transaction becomes final (every final state is set by this
    -- function), not found later by mobisign._queue_cleanup among the
    -- rows still waiting for their answer (a scan as long as the backlog);
    -- a row sent more than once stays for
    -- mobisign._answer_is_duplicate_delivery, closed
    DELETE FROM mobisign.request_queue q
     WHERE q.transaction_id = p_id AND q.attempts <= 1;
    IF NOT FOUND THEN
        UPDATE mobisign.request_queue q SET done = true, lease_until = NULL
         WHERE q.transaction_id = p_id AND NOT q.done;
    END IF;
    PERFORM mobisign.audit_log('transaction.' || p_state, sname,
        coalesce(p_detail, '{}') || pg_catalog.jsonb_build_object(
            'kind', v_kind, 'user_id', v_user, 'state', p_state,
            'status', p_status, 'status_name', sname, 'reason', p_reason,
            'signer_subject', v_subject),
        p_id, v_app);
    PERFORM pg_catalog.pg_notify('mobisign', pg_catalog.jsonb_build_object(
        'transaction_id', p_id, 'status', p_status, 'status_name', sname)::text);
    RETURN true;
END
$$;

-- Internals to nobody
REVOKE ALL ON FUNCTION
    mobisign._random_bytes(integer), mobisign._verification_code(),
    mobisign._key_wrap(text, integer, text, bytea), mobisign._key_check(text, integer, text, bytea),
    mobisign._key_rewrap(text, integer, text, bytea, text), mobisign._master_key_in_token(),
    mobisign._display_check(text),
    mobisign._build_request(text, integer, bigint, bytea, bytea, bytea, bytea, text, bytea, text, text, timestamptz),
    mobisign._open_response(text, integer, bytea, bytea, bytea, bytea[]),
    mobisign._verify_answer(bytea, bytea, bytea, text, text, bytea[]),
    mobisign._wait_final(uuid, interval), mobisign._wake_worker(), mobisign._require_worker(),
    mobisign._raise_status(integer, text, text, text), mobisign._expected_signers(bytea, jsonb), mobisign._may_see(name),
    mobisign._finish(uuid, text, integer, text, jsonb, bytea, bytea, text, jsonb)
FROM PUBLIC;
