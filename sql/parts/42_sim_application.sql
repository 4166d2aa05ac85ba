-- The SIM channel, application API (mobisign_app): queueing an
-- authentication or a signature (mobisign._request behind
-- mobisign_authenticate and mobisign_sign), and reading, waiting for,
-- cancelling and re-verifying a transaction (mobisign_status, mobisign_wait,
-- mobisign_cancel, mobisign_verify). An application sees its own
-- transactions only (mobisign._may_see).

-- Queue one request: the common part of mobisign_authenticate and mobisign_sign.
-- Each step is a function of its own (below, in the order they run); every
-- step that finds a problem raises, and nothing of the request stays.
CREATE FUNCTION mobisign._request(p_kind text, p_user text, p_data bytea, p_display text,
                                  p_application text, p_timeout interval,
                                  OUT transaction_id uuid, OUT verification_code text)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who   record;
    shown record;
    k     mobisign.sim_key;
    t     mobisign.transaction;
    v_segments integer;
BEGIN
    PERFORM mobisign._request_check_arguments(p_kind, p_user, p_display, p_application, p_timeout);
    IF p_kind = 'sign' THEN
        -- what you see is what you sign: the SIM signs the UTF-8 form of the text it shows
        p_data := pg_catalog.convert_to(p_display, 'UTF8');
    ELSIF p_display IS NULL AND p_kind = 'sign_hash' THEN
        p_display := 'Sign for ' || coalesce(p_application, 'the service') || '?';
    ELSIF p_display IS NULL THEN
        p_display := 'Log in to ' || coalesce(p_application, 'the service') || '?';
    END IF;
    who := mobisign._request_recipient(p_kind, p_user, p_application);
    shown := mobisign._request_check_display(p_display);
    k := mobisign._request_take_counter(who.msisdn, p_user);

    t.kind := p_kind;
    t.application := p_application;
    t.user_id := p_user;
    t.msisdn := who.msisdn;
    t.reference := mobisign._random_bytes(8);
    t.data := p_data;
    t.data_hash := pg_catalog.sha256(p_data);
    t.display_text := p_display;
    -- a digest's code comes from the digest (the application computes it
    -- too, as Mobile-ID does); a receipt shows its signature's code (its
    -- data is that transaction's reference); otherwise it is random.  (IF,
    -- not CASE: the receipt's query would make the assignment a statement
    -- of its own, planned and run on every request.)
    IF mobisign._kind_signs_digest(p_kind) THEN
        t.verification_code := mobisign._digest_verification_code(p_data);
    ELSIF p_kind = 'receipt' THEN
        SELECT s.verification_code INTO t.verification_code FROM mobisign.transaction s
         WHERE s.reference = p_data;
    ELSE
        t.verification_code := mobisign._verification_code();
    END IF;
    t.pki_id := who.pki_id;
    t.certificate_fingerprint := who.certificate_fingerprint;
    t.sim_key_set := k.key_set;
    t.counter := k.counter;
    t.expires_at := pg_catalog.now() + mobisign._duration(p_timeout);  -- as checked
    t.evidence := who.candidates;
    t.id := mobisign._request_insert_transaction(t);

    v_segments := mobisign._request_enqueue(t, k);
    PERFORM mobisign._request_audit(t, who.source, who.directory, shown.coding, shown.units,
                                    v_segments);
    PERFORM mobisign._wake_worker();
    transaction_id := t.id;
    verification_code := t.verification_code;
END
$$;

-- Step 1: a worker can send it, and every argument is bounded before it is
-- used, stored or audited (the text to sign first: mobisign_sign's own
-- arguments).
CREATE FUNCTION mobisign._request_check_arguments(p_kind text, p_user text, p_display text,
                                                  p_application text, p_timeout interval)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_max interval;
BEGIN
    -- the text to sign, and a receipt's message, are the request itself
    IF p_kind IN ('sign', 'receipt') AND p_display IS NULL THEN
        PERFORM mobisign._raise_status(102, CASE p_kind WHEN 'sign' THEN 'text_to_sign' ELSE 'message' END
                                            || ' is missing');
    END IF;
    IF p_kind IN ('sign', 'receipt') AND p_display = '' THEN
        PERFORM mobisign._raise_status(103, CASE p_kind WHEN 'sign' THEN 'text_to_sign' ELSE 'message' END
                                            || ' is empty');
    END IF;
    PERFORM mobisign._require_worker();
    IF p_user IS NULL THEN
        PERFORM mobisign._raise_status(102, 'user_id is missing');
    END IF;
    -- one statement, checked in this order
    PERFORM mobisign._check_input('user_id', p_user),
            mobisign._check_input('application', p_application),
            mobisign._check_input(CASE p_kind WHEN 'sign' THEN 'text_to_sign' ELSE 'message' END,
                                  p_display);
    -- one open request per user: no application may hold a user for long
    -- (its duration: what the expiry adds; not the interval's own comparison)
    v_max := mobisign._max_timeout();
    IF p_timeout IS NULL OR mobisign._duration(p_timeout) < '1 s'
       OR mobisign._duration(p_timeout) > v_max THEN
        PERFORM mobisign._raise_status(101,
            pg_catalog.format('timeout must be between 1 second and %s', v_max),
            pg_catalog.format('The timeout given is %s; mobisign.max_timeout is %s.',
                              coalesce(p_timeout::text, 'NULL'), v_max),
            'Ask for a shorter timeout. Only a superuser can change mobisign.max_timeout.');
    END IF;
END
$$;

-- Step 2: who receives it.  The register first (a suspended user is
-- refused), then the directories, then the register's certificate URL
-- (mobisign._resolve_user); the user needs an MSISDN, a certificate and a
-- PKI.  With one certificate the answer must be signed by it; with several
-- (a directory entry) the answer's signer identifier picks one of them, and
-- only one of them (candidates: the transaction's first evidence).
CREATE FUNCTION mobisign._request_recipient(p_kind text, p_user text, p_application text,
                                            OUT msisdn text, OUT pki_id integer,
                                            OUT certificate_fingerprint bytea, OUT candidates jsonb,
                                            OUT source text, OUT directory text)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_status text;
    who      record;
BEGIN
    SELECT a.status INTO v_status FROM mobisign.app_user a WHERE a.user_id = p_user;
    IF FOUND AND v_status <> 'active' THEN
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
    IF NOT mobisign._is_msisdn(who.msisdn) THEN
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
    msisdn := who.msisdn;
    pki_id := who.pki_id;
    source := who.source;
    directory := who.directory;
    IF pg_catalog.cardinality(who.fingerprints) = 1 THEN
        certificate_fingerprint := who.fingerprints[1];
    ELSE
        candidates := pg_catalog.jsonb_build_object('candidate_certificates',
            (SELECT pg_catalog.jsonb_agg(pg_catalog.encode(f, 'hex')) FROM pg_catalog.unnest(who.fingerprints) f));
    END IF;
END
$$;

-- Step 3: the SIM can show the text.  The one check of what the SIM will
-- show (extension/sim_request.c and the codec's msc_display_encode, which
-- _build_request runs again); returns its coding and length.
CREATE FUNCTION mobisign._request_check_display(p_display text, OUT coding text, OUT units integer)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    chk record;
BEGIN
    chk := mobisign._display_check(p_display);
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
    coding := chk.coding;
    units := chk.units;
END
$$;

-- Step 4: the SIM's key set (its lowest), locked, its counter incremented
-- in this transaction; returns the key set with the counter the request
-- uses.  One statement on the way that succeeds: the UPDATE locks the row
-- as SELECT ... FOR UPDATE did (a concurrent request's increment is waited
-- for and its counter seen).  Only when it changes nothing does a read say
-- why; a key set added between the two is taken by a second attempt.
CREATE FUNCTION mobisign._request_take_counter(p_msisdn text, p_user text)
RETURNS mobisign.sim_key
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k         mobisign.sim_key;
    v_counter bigint;
BEGIN
    LOOP
        -- the 5-byte OTA counter is exhausted at its maximum: the SIM needs
        -- new keys (tested here, so that no CHECK violation echoes the key
        -- row to the caller)
        UPDATE mobisign.sim_key s SET counter = s.counter + 1
         WHERE s.msisdn = p_msisdn
           AND s.key_set = (SELECT f.key_set FROM mobisign.sim_key f WHERE f.msisdn = p_msisdn
                             ORDER BY f.key_set LIMIT 1)
           AND s.counter < mobisign._ota_counter_max()
        RETURNING * INTO k;
        IF FOUND THEN
            RETURN k;
        END IF;
        SELECT s.counter INTO v_counter FROM mobisign.sim_key s WHERE s.msisdn = p_msisdn
         ORDER BY s.key_set LIMIT 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no SIM key set is registered for the MSISDN of user "%"', p_user
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Register the SIM''s OTA keys with mobisign_add_sim_key().';
        END IF;
        IF v_counter >= mobisign._ota_counter_max() THEN
            RAISE EXCEPTION 'the OTA counter of the SIM of user "%" is exhausted', p_user
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Give the SIM a new key set and register it with mobisign_add_sim_key().';
        END IF;
    END LOOP;
END
$$;

-- Step 5: the transaction row (the columns the request sets; the others
-- keep their defaults); returns its id.  A second open request for the
-- user is refused by the index transaction_one_open_per_user: the INSERT
-- yields to the open row (ON CONFLICT, no subtransaction to catch the
-- violation) and the request is refused.
CREATE FUNCTION mobisign._request_insert_transaction(t mobisign.transaction)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id  uuid;
BEGIN
    PERFORM mobisign._own_write(true);     -- a new transaction, not a restored one
    INSERT INTO mobisign.transaction AS tr (kind, application, user_id, msisdn, reference, data,
                                           data_hash, display_text, verification_code,
                                           pki_id, certificate_fingerprint, sim_key_set,
                                           counter, expires_at, evidence)
    VALUES (t.kind, t.application, t.user_id, t.msisdn, t.reference, t.data, t.data_hash,
            t.display_text, t.verification_code, t.pki_id, t.certificate_fingerprint,
            t.sim_key_set, t.counter, t.expires_at, t.evidence)
    ON CONFLICT (user_id) WHERE mobisign._is_open(state) DO NOTHING
    RETURNING tr.id INTO v_id;
    IF v_id IS NULL THEN
        -- the same words whoever made the open request: nothing about
        -- other applications, their labels or their transactions
        PERFORM mobisign._raise_status(406,
            pg_catalog.format('a request for user "%s" is in progress', t.user_id),
            'Only one authentication or signature per user may be pending at a time.',
            pg_catalog.format('Try again later: a request ends within mobisign.max_timeout (%s).',
                              mobisign._max_timeout()));
    END IF;
    PERFORM mobisign._own_write(false);
    RETURN v_id;
END
$$;

-- Step 6: the secured command packet for the SIM (its SMS segments), queued
-- for the worker; returns the number of segments.
CREATE FUNCTION mobisign._request_enqueue(t mobisign.transaction, k mobisign.sim_key)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_segs bytea[];
BEGIN
    v_segs := mobisign._build_request(msisdn => t.msisdn, key_set => k.key_set,
                                      counter => k.counter, tar => k.tar,
                                      kic_wrapped => k.kic_wrapped,
                                      kid_wrapped => k.kid_wrapped, reference => t.reference,
                                      kind => t.kind, data => t.data,
                                      display_text => t.display_text,
                                      verification_code => t.verification_code,
                                      expires_at => t.expires_at);
    INSERT INTO mobisign.request_queue (transaction_id, msisdn, segments)
    VALUES (t.id, t.msisdn, v_segs);
    RETURN pg_catalog.cardinality(v_segs);
END
$$;

-- Step 7: the audit rows of a queued request: the key set's counter used,
-- and the request.
CREATE FUNCTION mobisign._request_audit(t mobisign.transaction, p_source text, p_directory text,
                                        p_coding text, p_units integer, p_segments integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- one statement, the rows written in this order
    PERFORM mobisign.audit_log('sim_key.use', 'success',
                pg_catalog.jsonb_build_object('msisdn', t.msisdn, 'key_set', t.sim_key_set,
                                              'counter', t.counter),
                t.id, t.application),
            mobisign.audit_log('transaction.queued', 'REQUEST_OK',
                pg_catalog.jsonb_build_object('kind', t.kind, 'user_id', t.user_id, 'msisdn', t.msisdn,
                    'reference', pg_catalog.encode(t.reference, 'hex'),
                    'data_sha256', pg_catalog.encode(t.data_hash, 'hex'),
                    'user_source', p_source, 'directory', p_directory,
                    'display_coding', p_coding, 'display_units', p_units,
                    'segments', p_segments, 'expires_at', t.expires_at),
                t.id, t.application);
END
$$;

-- message NULL: "Log in to <application>?" (mobisign._request)
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
    -- plpgsql, not sql: its plan is kept for the session (a sql function
    -- that is not inlined is planned again on every call); an assignment,
    -- not SELECT ... FROM: an expression, no statement with its executor
    r := mobisign._request('authenticate', $1, mobisign._random_bytes(32), $4, $2, $3);
    transaction_id := r.transaction_id;
    verification_code := r.verification_code;
END
$$;

-- the data signed is the text shown, in UTF-8 (mobisign._request)
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
    r := mobisign._request('sign', $1, NULL, $2, $3, $4);
    transaction_id := r.transaction_id;
    verification_code := r.verification_code;
END
$$;

-- The digest and its hash for mobisign_sign_hash and
-- mobisign_authenticate_hash: both given, the hash one the applet knows
-- ('SHA256', 'SHA384', 'SHA512', any case), and the digest exactly its
-- length; then the request.
CREATE FUNCTION mobisign._request_hash(p_kind text, p_user text, p_hash bytea, p_hash_type text,
                                       p_display text, p_application text, p_timeout interval,
                                       OUT transaction_id uuid, OUT verification_code text)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_name text;
BEGIN
    IF p_hash IS NULL THEN
        PERFORM mobisign._raise_status(102, 'hash is missing');
    END IF;
    IF p_hash_type IS NULL THEN
        PERFORM mobisign._raise_status(102, 'hash_type is missing');
    END IF;
    IF pg_catalog.upper(p_hash_type) NOT IN ('SHA256', 'SHA384', 'SHA512') THEN
        PERFORM mobisign._raise_status(101,
            pg_catalog.format('unknown hash_type "%s"', pg_catalog.left(p_hash_type, 16)),
            NULL, 'Use SHA256, SHA384 or SHA512.');
    END IF;
    v_name := mobisign._digest_hash_name(pg_catalog.length(p_hash));
    IF v_name IS DISTINCT FROM pg_catalog.upper(p_hash_type) THEN
        PERFORM mobisign._raise_status(103, 'the length of the hash does not match hash_type',
            pg_catalog.format('A %s digest has %s octets; the hash given has %s.',
                              pg_catalog.upper(p_hash_type),
                              CASE pg_catalog.upper(p_hash_type) WHEN 'SHA256' THEN 32
                                   WHEN 'SHA384' THEN 48 ELSE 64 END,
                              pg_catalog.length(p_hash)));
    END IF;
    SELECT * INTO transaction_id, verification_code
      FROM mobisign._request(p_kind, p_user, p_hash, p_display, p_application, p_timeout);
END
$$;

-- The SIM signs the digest itself (PKCS#1 v1.5 with its DigestInfo for
-- RSA, ECDSA for EC); display NULL: "Sign for <application>?".  The
-- verification code is the digest's (Mobile-ID's rule).
CREATE FUNCTION mobisign_sign_hash(user_id text, hash bytea, hash_type text,
                                   display text DEFAULT NULL, application text DEFAULT NULL,
                                   timeout interval DEFAULT '3 min',
                                   OUT transaction_id uuid, OUT verification_code text)
RETURNS record
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM mobisign._request_hash('sign_hash', $1, $2, $3, $4, $5, $6)
$$;

-- The same with the authentication key usage; display NULL: "Log in to
-- <application>?".
CREATE FUNCTION mobisign_authenticate_hash(user_id text, hash bytea, hash_type text,
                                           display text DEFAULT NULL, application text DEFAULT NULL,
                                           timeout interval DEFAULT '2 min',
                                           OUT transaction_id uuid, OUT verification_code text)
RETURNS record
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM mobisign._request_hash('authenticate_hash', $1, $2, $3, $4, $5, $6)
$$;

-- A receipt (ETSI TS 102 204 MSS_ReceiptReq): after a completed signature
-- the application has a message shown on the phone that signed ("Payment
-- of 10 EUR accepted").  Only for a signature transaction the caller can
-- see (its own application role: the same row-level rule as
-- mobisign_status) that has completed (502), and only to the MSISDN that
-- signed: if the user's number changed since, nothing is sent.  The
-- receipt is a transaction of its own (kind receipt: audited, queued,
-- answered, expired like any other); the SIM's applet operation 04 shows
-- the message with the signature's verification code and answers
-- "shown", secured like every answer (no signature: its CC is its
-- authenticity); it then completes with status 100 REQUEST_OK.
CREATE FUNCTION mobisign._receipt(p_transaction_id uuid, p_message text, p_timeout interval,
                                  p_application text, OUT transaction_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s        mobisign.transaction;
    v_id     uuid;
    v_msisdn text;
BEGIN
    IF p_transaction_id IS NULL THEN
        PERFORM mobisign._raise_status(102, 'transaction_id is missing');
    END IF;
    SELECT * INTO s FROM mobisign.transaction tr WHERE tr.id = p_transaction_id;
    IF NOT FOUND OR NOT mobisign._may_see(s.app_role)
       OR (p_application IS NOT NULL
           AND pg_catalog.lower(p_application) IS DISTINCT FROM pg_catalog.lower(s.application)) THEN
        -- another application's transaction is as unknown as a missing one
        PERFORM mobisign._raise_status(101,
            pg_catalog.format('transaction %s does not exist', p_transaction_id),
            'A receipt is sent about a signature transaction of the same application.');
    END IF;
    IF s.kind = 'receipt' THEN
        PERFORM mobisign._raise_status(101,
            pg_catalog.format('transaction %s is a receipt', p_transaction_id),
            'A receipt is sent about a signature, not about another receipt.');
    END IF;
    IF s.state <> 'completed' THEN
        PERFORM mobisign._raise_status(101,
            pg_catalog.format('transaction %s is %s, not completed', p_transaction_id, s.state),
            'A receipt is sent only after a valid signature (status 502).');
    END IF;
    SELECT r.transaction_id INTO v_id
      FROM mobisign._request('receipt', s.user_id, s.reference, p_message, s.application, p_timeout) r;
    SELECT tr.msisdn INTO v_msisdn FROM mobisign.transaction tr WHERE tr.id = v_id;
    IF v_msisdn IS DISTINCT FROM s.msisdn THEN
        -- raising undoes the request just queued: nothing is sent
        PERFORM mobisign._raise_status(101,
            pg_catalog.format('the mobile number of user "%s" has changed since transaction %s',
                              s.user_id, p_transaction_id),
            'A receipt goes to the phone that signed; the user''s number is no longer that one.');
    END IF;
    transaction_id := v_id;
END
$$;

-- The message (at most what the SIM's screen holds, as for every display
-- text) shown after the completed signature transaction_id; returns the
-- receipt's own transaction, which mobisign_status / mobisign_wait follow:
-- completed with 100 REQUEST_OK once the phone showed it, or 401 (the user
-- dismissed it), 208 (no answer in time), 209...  application, when given,
-- must be the signature's (in any case): a gateway serving several relying
-- parties with one role passes the caller's, so that one relying party
-- cannot send receipts about another's signatures.
CREATE FUNCTION mobisign_receipt(transaction_id uuid, message text, timeout interval DEFAULT '1 min',
                                 application text DEFAULT NULL, OUT transaction_id uuid)
RETURNS uuid
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT mobisign._receipt($1, $2, $3, $4)
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

-- What both waits check first: the timeout's rule, then that the
-- transaction exists and the session user may see it.
CREATE FUNCTION mobisign._wait_check(p_transaction_id uuid, p_timeout interval)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_timeout IS NULL OR mobisign._duration(p_timeout) < '0' THEN
        PERFORM mobisign._raise_status(101, 'timeout must be zero or positive');
    END IF;
    PERFORM mobisign._status(p_transaction_id);
END
$$;

-- Block until the transaction is final or the timeout passes (see sim_wait.c).
CREATE FUNCTION mobisign._wait(p_transaction_id uuid, p_timeout interval)
RETURNS mobisign.transaction_status
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM mobisign._wait_check(p_transaction_id, p_timeout);
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

-- The same wait as a procedure that holds no snapshot while it waits, so
-- that waiting applications never hold back vacuum (see sim_wait.c):
--   CALL mobisign_await(transaction_id, timeout);
--   SELECT * FROM mobisign_status(transaction_id);
CREATE PROCEDURE mobisign_await(transaction_id uuid, timeout interval DEFAULT '2 min')
AS 'MODULE_PATHNAME', 'ms_await'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

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
    IF NOT mobisign._is_open(t.state) THEN
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

-- The signature of a completed transaction as Mobile-ID returns it: the
-- bytes the SIM sent (a CMS SignedData, or a digest's raw signature), the
-- hash of a digest, the signer's key type and certificate.  Columns are
-- NULL until the transaction has completed (state completed, 502).
CREATE FUNCTION mobisign._signature(p_transaction_id uuid,
                                    OUT transaction_id uuid, OUT kind text, OUT state text,
                                    OUT signature bytea, OUT hash_type text, OUT key_type text,
                                    OUT certificate bytea)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t mobisign.transaction;
BEGIN
    SELECT * INTO t FROM mobisign.transaction tr WHERE tr.id = p_transaction_id;
    IF NOT FOUND OR NOT mobisign._may_see(t.app_role) THEN
        RAISE EXCEPTION 'transaction % does not exist', p_transaction_id
            USING ERRCODE = 'no_data_found';
    END IF;
    transaction_id := t.id;
    kind := t.kind;
    state := t.state;
    IF t.state <> 'completed' THEN
        RETURN;
    END IF;
    signature := t.signature;
    IF mobisign._kind_signs_digest(t.kind) THEN
        hash_type := mobisign._digest_hash_name(pg_catalog.length(t.data));
    END IF;
    SELECT c.der INTO certificate FROM mobisign.certificate c WHERE c.fingerprint = t.signer_fingerprint;
    IF certificate IS NOT NULL THEN
        key_type := (mobisign._cert_identity(certificate)).key_type;
    END IF;
END
$$;

CREATE FUNCTION mobisign_signature(transaction_id uuid,
                                   OUT transaction_id uuid, OUT kind text, OUT state text,
                                   OUT signature bytea, OUT hash_type text, OUT key_type text,
                                   OUT certificate bytea)
RETURNS record
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM mobisign._signature($1)
$$;

-- The application API to mobisign_app, its internals to nobody, nothing to PUBLIC
REVOKE ALL ON FUNCTION
    mobisign._request(text, text, bytea, text, text, interval),
    mobisign._request_check_arguments(text, text, text, text, interval),
    mobisign._request_recipient(text, text, text), mobisign._request_check_display(text),
    mobisign._request_take_counter(text, text),
    mobisign._request_insert_transaction(mobisign.transaction),
    mobisign._request_enqueue(mobisign.transaction, mobisign.sim_key),
    mobisign._request_audit(mobisign.transaction, text, text, text, integer, integer),
    mobisign._status(uuid), mobisign._wait_check(uuid, interval), mobisign._wait(uuid, interval),
    mobisign._verify_transaction(uuid),
    mobisign._request_hash(text, text, bytea, text, text, text, interval),
    mobisign._signature(uuid),
    mobisign._receipt(uuid, text, interval, text),
    mobisign_receipt(uuid, text, interval, text),
    mobisign_authenticate(text, text, interval, text),
    mobisign_sign(text, text, text, interval),
    mobisign_sign_hash(text, bytea, text, text, text, interval),
    mobisign_authenticate_hash(text, bytea, text, text, text, interval),
    mobisign_status(uuid), mobisign_wait(uuid, interval), mobisign_cancel(uuid),
    mobisign_verify(uuid), mobisign_signature(uuid)
FROM PUBLIC;
REVOKE ALL ON PROCEDURE mobisign_await(uuid, interval) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE mobisign_await(uuid, interval) TO mobisign_app;

GRANT EXECUTE ON FUNCTION
    mobisign_authenticate(text, text, interval, text),
    mobisign_sign(text, text, text, interval),
    mobisign_sign_hash(text, bytea, text, text, text, interval),
    mobisign_authenticate_hash(text, bytea, text, text, text, interval),
    mobisign_status(uuid), mobisign_wait(uuid, interval), mobisign_cancel(uuid),
    mobisign_verify(uuid), mobisign_signature(uuid),
    mobisign_receipt(uuid, text, interval, text)
TO mobisign_app;
