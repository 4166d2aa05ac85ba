-- The SIM channel, answer handling (internal: not granted to anyone): the
-- received segments of one MSISDN are reassembled (mobisign._process_inbound,
-- called by the worker, within mobisign._segment_window), and each complete
-- answer is opened, checked and acted on (mobisign._handle_answer): proof of
-- receipt, replay, the applet's result, the signature.

-- Act on one reassembled answer from a SIM. Errors raised here are caught by
-- mobisign._process_inbound per packet.
CREATE FUNCTION mobisign._handle_answer(p_msisdn text, p_segments bytea[], p_segment_ids bigint[])
RETURNS void
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
BEGIN
    v_base := pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segments', pg_catalog.cardinality(p_segments),
                                            'segment_ids', to_jsonb(p_segment_ids));
    FOR k IN SELECT * FROM mobisign.sim_key s WHERE s.msisdn = p_msisdn ORDER BY s.key_set FOR UPDATE
    LOOP
        r := mobisign._open_response(p_msisdn, k.key_set, k.tar, k.kic_wrapped, k.kid_wrapped, p_segments);
        v_stage := r.stage;
        v_fail := r.failure;
        IF r.stage <> 'tar' THEN
            found_k := true;
            EXIT;
        END IF;
    END LOOP;

    IF NOT found_k OR v_stage IN ('sms', 'tar', 'unsecured', 'security') THEN
        -- nothing in it can be trusted: fail the SIM's open transaction with
        -- 209 (the secured packet was rejected), do not act on its content
        PERFORM mobisign.audit_log('sim.answer', 'rejected',
            v_base || pg_catalog.jsonb_build_object('stage', coalesce(v_stage, 'no key set'),
                'reason', coalesce(v_fail, 'no SIM key set is registered for this MSISDN')));
        FOR t IN SELECT * FROM mobisign.transaction tr
                  WHERE tr.msisdn = p_msisdn AND mobisign._is_open(tr.state)
                  ORDER BY tr.created_at FOR UPDATE
        LOOP
            PERFORM mobisign._finish(t.id, 'failed', 209,
                'the answer from the SIM was rejected: ' || coalesce(v_fail, 'no SIM key set'),
                pg_catalog.jsonb_build_object('stage', v_stage));
        END LOOP;
        RETURN;
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
        RETURN;
    END IF;

    -- the counter must be higher than any accepted before
    IF r.counter <= k.response_counter THEN
        PERFORM mobisign.audit_log('sim.answer', 'replay refused',
            v_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', r.counter,
                'highest_accepted', k.response_counter,
                'reference', pg_catalog.encode(r.reference, 'hex')));
        RETURN;
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
           AND mobisign._is_open(tr.state)
         FOR UPDATE;
        IF FOUND THEN
            PERFORM mobisign._finish(t.id, 'failed', 209, r.failure,
                pg_catalog.jsonb_build_object('stage', r.stage, 'por_status', r.por_status));
        END IF;
        RETURN;
    END IF;

    -- a well-formed applet response: match the open transaction by reference
    -- (the SIM echoes the command's counter: an answer made for another
    -- request, e.g. a fresh answer with an old counter, does not match)
    SELECT * INTO t FROM mobisign.transaction tr WHERE tr.reference = r.reference FOR UPDATE;
    found_t := FOUND;
    IF NOT found_t OR t.msisdn <> p_msisdn OR NOT mobisign._is_open(t.state)
       OR t.sim_key_set IS DISTINCT FROM k.key_set OR t.counter IS DISTINCT FROM r.counter THEN
        PERFORM mobisign.audit_log('sim.answer', 'ignored',
            v_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', r.counter,
                'reference', pg_catalog.encode(r.reference, 'hex'), 'result', r.result_name,
                'reason', CASE WHEN NOT found_t THEN 'unknown transaction reference'
                               WHEN t.msisdn <> p_msisdn THEN 'the reference belongs to another SIM'
                               WHEN NOT mobisign._is_open(t.state)
                                    THEN 'the transaction is already ' || t.state
                               ELSE pg_catalog.format('the answer''s counter %s is not the request''s (key set %s, counter %s)',
                                                      r.counter, t.sim_key_set, t.counter) END),
            CASE WHEN found_t AND t.msisdn = p_msisdn THEN t.id END);
        RETURN;
    END IF;
    PERFORM mobisign.audit_log('sim.answer', 'accepted',
        v_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', r.counter,
            'result', r.result_name, 'cms_bytes', length(r.cms)),
        t.id, t.application);

    IF r.result <> 0 THEN
        -- the applet result's status (extension/domain.h): 401 user cancel,
        -- 402 PIN blocked, 209 request signature refused or expired...
        v_status := mobisign._sim_result_status(r.result);
        PERFORM mobisign._finish(t.id, 'failed', v_status, 'the SIM answered: ' || r.result_name,
            pg_catalog.jsonb_build_object('result', r.result_name));
        RETURN;
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
    v_state  text;
    v_msg    text;
    v_ids    bigint[] := '{}';
    v_sets   integer[] := '{}';
    v_set    integer := 0;
    v_ref    integer;
    v_total  integer;
    v_seqs   integer[];
    v_first  timestamptz;
BEGIN
    -- one handler per MSISDN at a time
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('mobisign.inbound'),
                                            pg_catalog.hashtext(p_msisdn));
    -- number the sets of the concatenated segments (bounded: 16 segments
    -- times the 1000 answers handled per call)
    FOR s IN SELECT i.id, i.concat_ref, i.total, i.seq, i.received_at
               FROM mobisign.inbound_segment i
              WHERE i.msisdn = p_msisdn AND NOT i.processed AND i.concat_ref IS NOT NULL
              ORDER BY i.concat_ref, i.total, i.id
              LIMIT 16000
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
        UPDATE mobisign.inbound_segment i SET processed = true WHERE i.id = ANY (g.ids);
        IF NOT g.complete THEN
            -- an answer that lost a segment: a newer set reuses its reference
            PERFORM mobisign.audit_log('sim.answer', 'incomplete',
                pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segment_ids', to_jsonb(g.ids),
                    'concat_ref', g.concat_ref, 'total', g.total, 'received', g.have,
                    'reason', 'segments missing, and a newer answer reuses the concatenation reference'));
            CONTINUE;
        END IF;
        BEGIN
            PERFORM mobisign._handle_answer(p_msisdn, g.uds, g.ids);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
            PERFORM mobisign.audit_log('sim.answer', 'error',
                pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segment_ids', to_jsonb(g.ids),
                    'sqlstate', v_state, 'message', v_msg));
        END;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- Internals to nobody
REVOKE ALL ON FUNCTION
    mobisign._handle_answer(text, bytea[], bigint[]), mobisign._process_inbound(text),
    mobisign._segment_window()
FROM PUBLIC;
